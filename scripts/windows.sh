#!/usr/bin/env bash
# Prepares the Windows end-to-end test, run under Wine: Debian's wine64 and MinGW, the
# Windows build of obsdemo, Jaeger, the Collector and Prometheus cross-built for windows/amd64 by
# obsdemo itself (cached by version, like the Linux builds), and a test-only shim DLL
# that Wine 8 lacks (tests/windows/bcryptprimitives.c; never shipped).
# Sourced by scripts/test.sh after scripts/deps.sh; exports what tests/e2e/windows.rs reads.
set -euo pipefail

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

if ! rustup target list --installed | grep -q '^x86_64-pc-windows-gnu$'; then
  echo "==> adding the Rust target x86_64-pc-windows-gnu"
  rustup target add x86_64-pc-windows-gnu
fi

missing=()
[ -x /usr/lib/wine/wine64 ] || command -v wine64 >/dev/null 2>&1 || missing+=(wine64)
command -v x86_64-w64-mingw32-gcc >/dev/null 2>&1 || missing+=(gcc-mingw-w64-x86-64)
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> installing ${missing[*]} (to run the Windows build under Wine)"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
export OBSDEMO_WINE="$( [ -x /usr/lib/wine/wine64 ] && echo /usr/lib/wine/wine64 || command -v wine64 )"

echo "==> building obsdemo for Windows (x86_64-pc-windows-gnu)"
cargo build --quiet --target x86_64-pc-windows-gnu
export OBSDEMO_WINDOWS_EXE="$CARGO_TARGET_DIR/x86_64-pc-windows-gnu/debug/obsdemo.exe"

cache="${XDG_CACHE_HOME:-$HOME/.cache}/obsdemo"
export OBSDEMO_WINDOWS_HOME="$cache/windows-home"
echo "==> cross-building Jaeger, the Collector and Prometheus for windows/amd64 (cached after the first time)"
OBSDEMO_HOME="$OBSDEMO_WINDOWS_HOME" "$OBSDEMO" install --from-source --target windows/amd64 jaeger collector prometheus

export OBSDEMO_WINE_SHIM="$cache/windows-shim/bcryptprimitives.dll"
mkdir -p "$(dirname "$OBSDEMO_WINE_SHIM")"
if [ ! -f "$OBSDEMO_WINE_SHIM" ] || [ tests/windows/bcryptprimitives.c -nt "$OBSDEMO_WINE_SHIM" ]; then
  x86_64-w64-mingw32-gcc -shared -O2 -o "$OBSDEMO_WINE_SHIM" tests/windows/bcryptprimitives.c -ladvapi32
fi
