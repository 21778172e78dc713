#!/usr/bin/env bash
# Measures the foundation's speed targets on this machine:
#   - demo data generation at a scale (default 1: "loads in seconds")
#   - server start-up on that data, and the README query over pg-wire (psql), median of N runs
# Usage: scripts/bench-foundation.sh [SCALE] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
scale=${1:-1}
runs=${2:-20}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/spirit/target}"
# The demo user (no users configured, loopback address).
export PGPASSWORD="${PGPASSWORD:-spirit}"
cargo build --quiet --locked --workspace
spirit="$CARGO_TARGET_DIR/debug/spirit"
dir=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; rm -rf "$dir"' EXIT

now() { date +%s.%N; }
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GB; commit $(git rev-parse --short HEAD 2>/dev/null || echo none); $(date -u +%F)"

t0=$(now)
"$spirit" demo --scale "$scale" --data-dir "$dir" --end-date 2026-06-30 >/dev/null 2>&1
t1=$(now)
printf 'demo scale %s: %.1f s, %s bookings, store %s\n' "$scale" "$(echo "$t1 - $t0" | bc)" \
  "$("$spirit" sql --format csv --data-dir "$dir" 'SELECT count(*) FROM bookings' | tail -1)" \
  "$(du -h "$dir/store.duckdb" | cut -f1)"

port_file="$dir/port"
t0=$(now)
"$spirit" serve --listen 127.0.0.1:0 --http-listen 127.0.0.1:0 --data-dir "$dir" 2>/dev/null >"$port_file" &
pid=$!
until grep -q "pg=" "$port_file" 2>/dev/null; do sleep 0.05; done
t1=$(now)
port=$(sed -n 's/.*pg=.*:\([0-9]*\)$/\1/p' "$port_file")
printf 'server start to listening: %.2f s\n' "$(echo "$t1 - $t0" | bc)"

query="SELECT channel, count(*), sum(price_paid) FROM bookings GROUP BY 1"
times=()
for _ in $(seq "$runs"); do
  t0=$(now)
  psql -X -q -h 127.0.0.1 -p "$port" -U spirit -d spirit -c "$query" >/dev/null
  t1=$(now)
  times+=("$(echo "($t1 - $t0) * 1000" | bc)")
done
median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
printf 'README query via psql (connect + query), median of %s: %.1f ms\n' "$runs" "$median"

# The same query 20 times in one session: server-side latency without psql start-up and connect.
in_session=$( (echo '\timing on'; for _ in $(seq "$runs"); do echo "$query;"; done) \
  | psql -X -q -h 127.0.0.1 -p "$port" -U spirit -d spirit 2>&1 | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' \
  | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
printf 'README query in one session, median of %s: %.1f ms\n' "$runs" "$in_session"
