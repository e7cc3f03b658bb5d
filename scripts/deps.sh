#!/usr/bin/env bash
# Installs what obsdemo's tests need, skipping what is already there: Jaeger, the
# Collector and Prometheus 3 built from source with Go into obsdemo's managed dir
# (the versions `obsdemo install` pins; cached by version: never rebuilt), and the
# Django example's virtualenv (PyPI). The Windows side is scripts/windows.sh.
# Sourced by scripts/test.sh; expects $OBSDEMO to be the binary.
set -euo pipefail

if ! command -v go >/dev/null 2>&1; then
  echo "Go (1.24 or newer) is needed to build Jaeger, the Collector and Prometheus for the tests: https://go.dev/dl" >&2
  exit 3
fi

# The tests run the very versions `obsdemo install` pins, built from the same source
# as the official releases (the official downloads cannot be reached from CI).
echo "==> building Jaeger, the Collector and Prometheus from source (cached after the first time)"
"$OBSDEMO" install --from-source jaeger collector prometheus

# The Django example's virtualenv, for the tests that run the original plan's services
# and the stand-in for a third-party app (tests/apps): remade only when either
# requirements file changes.
export OBSDEMO_DJANGO_VENV="${OBSDEMO_DJANGO_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/obsdemo/django-venv}"
requirements=(examples/django/requirements.txt tests/apps/requirements.txt)
want=$(cat "${requirements[@]}" | sha256sum | cut -d' ' -f1)
if [ "$(cat "$OBSDEMO_DJANGO_VENV/.requirements.sha256" 2>/dev/null)" != "$want" ]; then
  echo "==> making the Python virtualenv of the example and the test apps (PyPI: $(cat "${requirements[@]}" | grep -c '==') pinned packages)"
  rm -rf "$OBSDEMO_DJANGO_VENV"
  python3 -m venv "$OBSDEMO_DJANGO_VENV"
  "$OBSDEMO_DJANGO_VENV/bin/pip" install --quiet --disable-pip-version-check -r "${requirements[0]}" -r "${requirements[1]}"
  echo "$want" > "$OBSDEMO_DJANGO_VENV/.requirements.sha256"
fi
