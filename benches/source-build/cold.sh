#!/usr/bin/env bash
# Times `obsdemo install --from-source` (Jaeger, the Collector, Prometheus) on cold Go
# caches: a new OBSDEMO_HOME, GOCACHE and GOMODCACHE under one temporary dir, so the
# machine's own caches are neither used nor disturbed. Each line of obsdemo's plain
# output is prefixed with the seconds since the start, which is where the time of each
# stage (resolving modules, compiling, linking) is read.
#
#   benches/source-build/cold.sh [path/to/obsdemo] [scratch dir]
set -euo pipefail
obsdemo=${1:-target/release/obsdemo}
scratch=${2:-$(mktemp -d)}
mkdir -p "$scratch"
export OBSDEMO_HOME="$scratch/home" GOCACHE="$scratch/gocache" GOMODCACHE="$scratch/gomod"
start=$(date +%s.%N)
stamp() {
    while IFS= read -r line; do
        printf '%7.1f  %s\n' "$(echo "$(date +%s.%N) - $start" | bc)" "$line"
    done
}
status=0
"$obsdemo" install --from-source "${@:3}" 2>&1 | stamp || status=$?
printf '%7.1f  total, exit %s\n' "$(echo "$(date +%s.%N) - $start" | bc)" "$status"
du -sh "$GOCACHE" "$GOMODCACHE" | sed 's/^/         /'
# The module cache is read-only to its owner; make it removable.
chmod -R u+w "$GOMODCACHE" 2>/dev/null || true
echo "         scratch: $scratch (remove it when done)"
