#!/usr/bin/env bash
# Installs what obsdemo's stack and tests need on a Debian machine, skipping what is
# already there: Prometheus (Debian package), then Jaeger and the Collector built from
# source with Go into obsdemo's managed dir (cached by version: never rebuilt).
# Sourced by scripts/up.sh and scripts/test.sh; expects $OBSDEMO to be the binary.
set -euo pipefail

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v prometheus >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    echo "==> installing Prometheus from the Debian package"
    as_root apt-get update -qq
    # The package's service is not wanted: obsdemo runs its own Prometheus.
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  else
    echo "Prometheus is missing and this is not a Debian-like system: install it, or run 'obsdemo install prometheus'." >&2
    exit 3
  fi
fi

# The Windows build is compile-checked (its process management cannot run here):
# the Rust target, and MinGW's C compiler for ring.
if [ "${OBSDEMO_SKIP_WINDOWS_CHECK:-}" != 1 ] && ! rustup target list --installed | grep -q '^x86_64-pc-windows-gnu$'; then
  if ! rustup target add x86_64-pc-windows-gnu; then
    echo "WARNING: the Rust target x86_64-pc-windows-gnu cannot be installed here: the Windows compile check is NOT run" >&2
    export OBSDEMO_SKIP_WINDOWS_CHECK=1
  fi
fi
if [ "${OBSDEMO_SKIP_WINDOWS_CHECK:-}" != 1 ]; then
  if ! command -v x86_64-w64-mingw32-gcc >/dev/null 2>&1; then
    echo "==> installing MinGW (to compile-check the Windows build)"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends gcc-mingw-w64-x86-64 >/dev/null
  fi
fi

if ! command -v go >/dev/null 2>&1; then
  echo "Go (1.24 or newer) is needed to build Jaeger and the Collector from source: https://go.dev/dl" >&2
  exit 3
fi

echo "==> building Jaeger and the Collector from source (cached after the first time)"
"$OBSDEMO" install --from-source jaeger collector
