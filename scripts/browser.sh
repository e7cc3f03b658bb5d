#!/usr/bin/env bash
# Prepares the console's browser tests: Debian's headless Chromium and its
# chromedriver, which tests/e2e/console.rs drives over WebDriver.
# Sourced by scripts/test.sh; exports what the tests read.
set -euo pipefail

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> installing ${missing[*]} (the console's browser tests)"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
export OBSDEMO_CHROMIUM="$(command -v chromium)"
export OBSDEMO_CHROMEDRIVER="$(command -v chromedriver)"
