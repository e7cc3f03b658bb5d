#!/usr/bin/env bash
# Runs the stack: builds obsdemo, installs what is missing, and runs `obsdemo up`.
# Extra arguments go to `obsdemo up` (e.g. --port-offset 1000).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/obsdemo/target}"
echo "==> building obsdemo"
cargo build --release --quiet
OBSDEMO="$CARGO_TARGET_DIR/release/obsdemo"
source scripts/deps.sh
args=()
if "$OBSDEMO" install --list | grep -q '^grafana .*not found'; then
  echo "==> no Grafana binary here: starting without it (obsdemo install grafana adds it)"
  args+=(--without grafana)
fi
exec "$OBSDEMO" up "${args[@]}" "$@"
