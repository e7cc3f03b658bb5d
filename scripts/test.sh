#!/usr/bin/env bash
# Runs every test against the real Collector, Jaeger and Prometheus, the Windows
# build under Wine, and the console in a real headless Chromium. On a fresh Debian
# machine it first installs what the tests need (scripts/deps.sh, windows.sh,
# kubernetes.sh, browser.sh).
# Extra arguments go to `cargo test` (e.g. a test name filter).
set -euo pipefail
cd "$(dirname "$0")/.."
# Keep build output outside the clone, so a fresh clone reuses earlier builds.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/obsdemo/target}"

echo "==> checking format and lints"
cargo fmt --all -- --check
cargo clippy --all-targets --quiet -- -D warnings

echo "==> building obsdemo"
cargo build --quiet
OBSDEMO="$CARGO_TARGET_DIR/debug/obsdemo"
source scripts/deps.sh
source scripts/windows.sh
source scripts/kubernetes.sh
source scripts/browser.sh

echo "==> checking the Windows build's lints"
cargo clippy --target x86_64-pc-windows-gnu --lib --bins --quiet -- -D warnings

echo "==> running the tests"
# Integration tests never skip: a missing binary fails them, naming its installer.
cargo test "$@"
