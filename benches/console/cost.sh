#!/usr/bin/env bash
# Measures the console process (`obsdemo console`, which the supervisor runs): its
# RSS and the supervisor's, CPU over 60 s with no page open, and with the stack page's
# event stream open (curl -N on /api/stack/events: what an open stack page holds).
# Usage: benches/console/cost.sh target/release/obsdemo "$(mktemp -d)" 660
set -euo pipefail
BIN=$(realpath "$1"); DIR=$2; OFF=$3
cd "$DIR"
$BIN up --json --port-offset $OFF --without grafana --state-dir "$DIR/.obsdemo" > up.json
pid_of() { $BIN status --json --state-dir "$DIR/.obsdemo" | python3 -c "import json,sys; print([c['pid'] for c in json.load(sys.stdin)['components'] if c['name']=='$1'][0])"; }
C=$(pid_of console); S=$(python3 -c "import json; print(json.load(open('$DIR/.obsdemo/state.json'))['supervisor']['pid'])")
ticks() { awk '{print $14+$15}' /proc/$1/stat; }
rss() { awk '/VmRSS/{print $2}' /proc/$1/status; }
sleep 5
echo "console rss_kib=$(rss $C) supervisor rss_kib=$(rss $S)"
t0=$(ticks $C); sleep 60; t1=$(ticks $C)
echo "idle: console cpu ticks in 60s = $((t1-t0)) (100/s = one core)"
T=$(cat .obsdemo/secrets/console-token); URL=$(python3 -c "import json; print(json.load(open('up.json'))['console'].split('/?')[0])")
P=$(echo $URL | sed 's/.*://')
curl -sN -H "Cookie: obsdemo_console_$P=$T" "$URL/api/stack/events" > /dev/null & CURL=$!
sleep 3; t0=$(ticks $C); sleep 60; t1=$(ticks $C)
echo "stack page open: console cpu ticks in 60s = $((t1-t0)); rss_kib=$(rss $C)"
kill $CURL
$BIN down --state-dir "$DIR/.obsdemo" > /dev/null
