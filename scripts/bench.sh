#!/usr/bin/env bash
# The benchmark suite (`make bench`): the engine against DuckDB directly and against the
# machine's PostgreSQL 15 on the same data — dashboard queries at each scale, pgbench
# throughput, streaming, memory and growth — written to docs/benchmarks.md.
# Usage: scripts/bench.sh [SCALE …]   (default: 1 10 100; scale 100 needs ~6 GB of disk and
# about 15 minutes more). Demo data is kept in ~/.cache/spirit/bench/scale-N, and the
# PostgreSQL copy in database `test`, schema spirit_bench_N.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/spirit/target}"
scripts/setup.sh --test >/dev/null
cargo build --quiet --locked --workspace
scales=("${@:-1 10 100}")
SPIRIT_METRICS_DIR="$PWD/queries/metrics" python3 scripts/bench_suite.py \
  --spirit "$CARGO_TARGET_DIR/debug/spirit" --scales ${scales[*]} --out docs/benchmarks.md
