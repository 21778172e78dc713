#!/usr/bin/env bash
# Times every metric view, filtered to the last 30 days, through the engine over pg-wire and
# through DuckDB directly on the same store file (the issue's target: under 1 s at scale 100).
# The engine runs with its result cache off, so every run computes the view.
# Usage: scripts/bench-metrics.sh [SCALE] [RUNS]     (scale 100 needs ~4 GB RAM and ~1.5 GB disk)
# The demo data of a scale is kept in $BENCH_DATA (default ~/.cache/spirit/bench-scale-SCALE).
set -euo pipefail
cd "$(dirname "$0")/.."
scale=${1:-1}
runs=${2:-5}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/spirit/target}"
scripts/setup.sh --test >/dev/null
cargo build --quiet --locked --workspace
spirit="$CARGO_TARGET_DIR/debug/spirit"
dir="${BENCH_DATA:-$HOME/.cache/spirit/bench-scale-$scale}"
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GB; commit $(git rev-parse --short HEAD 2>/dev/null || echo none); $(date -u +%F); demo scale $scale; median of $runs runs"
if [[ ! -f "$dir/store.duckdb" ]]; then
  mkdir -p "$dir"
  start=$(date +%s)
  SPIRIT_METRICS_DIR="$PWD/queries/metrics" "$spirit" demo --scale "$scale" --data-dir "$dir" >/dev/null 2>&1
  echo "generated the demo data in $(( $(date +%s) - start )) s"
fi
echo "bookings: $("$spirit" sql --format csv --data-dir "$dir" 'SELECT count(*) FROM bookings' 2>/dev/null | tail -1)"
SPIRIT_METRICS_DIR="$PWD/queries/metrics" python3 scripts/bench_metrics.py --spirit "$spirit" --data-dir "$dir" --runs "$runs"
