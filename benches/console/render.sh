#!/usr/bin/env bash
# How long the console's trace page takes to draw a trace of 1,000 spans in headless
# Chromium: starts a stack, sends the trace (big_trace.py, the OpenTelemetry Python
# SDK from the tests' venv), opens it in the page five times and prints each render
# time (the page measures it around its own drawing: #waterfall's data-render-ms).
# Needs: ./scripts/test.sh run once (binaries, venv, chromium, chromedriver).
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${OBSDEMO_BIN:-target/release/obsdemo}
VENV=${OBSDEMO_DJANGO_VENV:-$HOME/.cache/obsdemo/django-venv}
DIR=$(mktemp -d); trap '$BIN down --state-dir "$DIR/.obsdemo" >/dev/null 2>&1; kill $DRIVER 2>/dev/null; rm -rf "$DIR"' EXIT
(cd "$DIR" && "$OLDPWD/$BIN" up --json --port-offset 640 --without grafana --without services --state-dir "$DIR/.obsdemo" > up.json)
URL=$(python3 -c "import json; print(json.load(open('$DIR/up.json'))['console'])")
BASE=${URL%%/\?token=*}
ID=$("$VENV/bin/python" benches/console/big_trace.py "http://127.0.0.1:$((4317 + 640))" "${SPANS:-1000}")
chromedriver --port=9517 >/dev/null 2>&1 & DRIVER=$!
sleep 1
python3 - "$URL" "$BASE" "$ID" <<'PY'
import json, sys, time, urllib.request
url, base, trace_id = sys.argv[1:]
def wd(method, path, body=None):
    r = urllib.request.Request("http://127.0.0.1:9517" + path, method=method,
        data=json.dumps(body).encode() if body is not None else None, headers={"Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(r))["value"]
caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {"args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,860"]}}}}
s = wd("POST", "/session", caps)["sessionId"]
wd("POST", f"/session/{s}/url", {"url": url})
spans = 0
for _ in range(60):
    time.sleep(1)
    got = wd("POST", f"/session/{s}/execute/sync", {"script": f"return fetch('/api/traces/{trace_id}').then(r => r.json()).then(b => (b.data && b.data[0]) ? b.data[0].spans.length : 0)", "args": []})
    if got >= int(__import__('os').environ.get('SPANS', '1000')): spans = got; break
times = []
for i in range(5):
    wd("POST", f"/session/{s}/url", {"url": base + "/#stack"})
    time.sleep(1)
    wd("POST", f"/session/{s}/execute/sync", {"script": f"location.hash = 'traces/{trace_id}'", "args": []})
    for _ in range(100):
        time.sleep(0.1)
        ms = wd("POST", f"/session/{s}/execute/sync", {"script": "return document.getElementById('waterfall').dataset.renderMs || null", "args": []})
        if ms: break
    times.append(float(ms))
times.sort()
print(json.dumps({"spans": spans, "render_ms": times, "median_ms": times[len(times)//2]}))
wd("DELETE", f"/session/{s}")
PY
