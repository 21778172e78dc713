#!/usr/bin/env bash
# Times the HTTP front end and the result cache (issue 8) on the demo data: cache hit and miss
# latency (in-process, and Redis on 127.0.0.1:6379 database 12), over HTTP and pg-wire; ingest
# throughput (JSON lines, by batch size); and the live feed's push latency after an ingest.
# Writes markdown tables to stdout. Usage: scripts/bench-http.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/spirit/target}"
scripts/setup.sh --test >/dev/null
python3 -c "import websockets" 2>/dev/null || python3 -m pip install --quiet "websockets>=12"
cargo build --quiet --locked --workspace --all-targets
spirit="$CARGO_TARGET_DIR/debug/spirit"
dir=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$dir"' EXIT
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GB; commit $(git rev-parse --short HEAD 2>/dev/null || echo none); $(date -u +%F); debug build; demo data scale 1"
"$spirit" demo --data-dir "$dir/template" --end-date 2026-06-30 >/dev/null 2>&1
start() { # name, extra env...
  local name=$1; shift
  cp -r "$dir/template" "$dir/$name"
  env SPIRIT_METRICS_AS_OF="2026-07-01 00:00:00" SPIRIT_METRICS_DIR="$PWD/queries/metrics" "$@" \
    "$spirit" serve --listen 127.0.0.1:0 --http-listen 127.0.0.1:0 --data-dir "$dir/$name" \
    >"$dir/$name.out" 2>"$dir/$name.log" &
  pids+=($!)
  until grep -q "pg=" "$dir/$name.out" 2>/dev/null; do sleep 0.1; done
}
start memory
start redis REDIS_HOST=127.0.0.1 REDIS_DB=12 DASHBOARD_UPDATE_INTERVAL=3600
redis-cli -n 12 FLUSHDB >/dev/null
python3 scripts/bench_http.py "$dir/memory.out" "$dir/redis.out"
