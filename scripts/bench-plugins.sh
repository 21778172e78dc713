#!/usr/bin/env bash
# Measures the plugin system's speed targets on this machine:
#   - plugin load: compile on first start, and from the compiled-code cache on a restart
#   - a full scan of ROWS call-detail records through the pbx_cdr plugin against DataFusion's
#     native CSV reader over the same files (target: the plugin at >= 50 % of native)
# Usage: scripts/bench-plugins.sh [ROWS] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-240000}
runs=${2:-5}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/spirit/target}"
export PGPASSWORD="${PGPASSWORD:-spirit}"
cargo build --quiet --locked --workspace --all-targets
scripts/build-plugins.sh >/dev/null
spirit="$CARGO_TARGET_DIR/debug/spirit"
dir=$(mktemp -d)
pid=
trap 'kill $pid 2>/dev/null || true; rm -rf "$dir"' EXIT
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GB; commit $(git rev-parse --short HEAD 2>/dev/null || echo none); $(date -u +%F); debug build"

# ROWS records in files of 50,000, made from the well-formed rows of the pbx_cdr fixtures.
mkdir -p "$dir/cdr"
python3 - "$rows" "$dir/cdr" <<'PY'
import collections, csv, datetime, glob, sys
rows, out = int(sys.argv[1]), sys.argv[2]
sample = [r for f in sorted(glob.glob("plugins/pbx_cdr/fixtures/*.csv")) for r in csv.reader(open(f))]
width = collections.Counter(len(r) for r in sample).most_common(1)[0][0]
def ok(r):
    try:
        if r[2] and not r[2].replace(":", "").isdigit():
            return False
        for i in (3, 4, 5):
            if r[i] or i != 4:
                datetime.datetime.strptime(r[i], "%Y/%m/%d %H:%M:%S")
        return r[0].startswith("Call ")
    except (ValueError, IndexError):
        return False
good = [r for r in sample if len(r) == width and ok(r)]
for part in range(0, rows, 50000):
    with open(f"{out}/cdr_{part // 50000:03}.csv", "w", newline="") as f:
        w = csv.writer(f)
        for i in range(part, min(rows, part + 50000)):
            r = list(good[i % len(good)])
            r[0] = f"Call {i}"
            w.writerow(r)
PY
echo "data: $rows records, $(du -sh "$dir/cdr" | cut -f1) of CSV"

mkdir -p "$dir/data/plugins"
cp -r "$HOME/.cache/spirit/plugins/pbx_cdr" "$dir/data/plugins/"
start() {
  : >"$dir/out"
  "$spirit" serve --listen 127.0.0.1:0 --http-listen 127.0.0.1:0 --data-dir "$dir/data" >"$dir/out" 2>"$dir/log" &
  pid=$!
  until grep -q "pg=" "$dir/out" 2>/dev/null; do sleep 0.05; done
  port=$(sed -n 's/.*pg=.*:\([0-9]*\)$/\1/p' "$dir/out")
}
load_ms() {
  sed 's/\x1b\[[0-9;]*m//g' "$dir/log" | sed -n 's/.*plugin loaded.*ms=\([0-9]*\).*/\1/p' | tail -1
}
start
echo "plugin load, first start (compile): $(load_ms) ms"
kill "$pid"; wait "$pid" 2>/dev/null || true
start
echo "plugin load, restart (compiled-code cache): $(load_ms) ms"

sql() { psql -X -q -h 127.0.0.1 -p "$port" -U spirit -d spirit "$@"; }
sql -c "CREATE EXTERNAL TABLE cdr_plugin STORED AS pbx_cdr LOCATION '$dir/cdr'" \
  -c "CREATE EXTERNAL TABLE cdr_native STORED AS CSV LOCATION '$dir/cdr/' OPTIONS ('format.has_header' 'false')"
median_ms() {
  (echo '\timing on'; for _ in $(seq "$runs"); do echo "$1;"; done) | sql 2>&1 \
    | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}
check() { sql -At -c "$1"; }
compare() {
  local label="$1" plugin_q="$2" native_q="$3"
  echo "$label plugin answer: $(check "$plugin_q" | tr '\n' ' ')"
  echo "$label native answer: $(check "$native_q" | tr '\n' ' ')"
  local p n
  p=$(median_ms "$plugin_q")
  n=$(median_ms "$native_q")
  printf '%s, median of %s: plugin %.0f ms (%.0f rows/s), native CSV %.0f ms (%.0f rows/s); plugin at %.0f %% of native\n' \
    "$label" "$runs" "$p" "$(echo "$rows / ($p / 1000)" | bc -l)" "$n" "$(echo "$rows / ($n / 1000)" | bc -l)" \
    "$(echo "100 * $n / $p" | bc -l)"
}
# Two columns: the native reader parses only those.
compare "2 columns" \
  "SELECT count(*), count(DISTINCT call_id), max(time_start) FROM cdr_plugin" \
  "SELECT count(*), count(DISTINCT column_2), max(column_4) FROM cdr_native"
# Every column: both readers must produce all 27 (the plugin also parses times and durations).
plugin_cols=$(sql -At -c "SELECT string_agg('CAST(' || column_name || ' AS VARCHAR)', ', ' ORDER BY ordinal_position) FROM information_schema.columns WHERE table_name = 'cdr_plugin' AND column_name <> 'source_file'")
native_cols=$(sql -At -c "SELECT string_agg('CAST(' || column_name || ' AS VARCHAR)', ', ' ORDER BY ordinal_position) FROM information_schema.columns WHERE table_name = 'cdr_native'")
compare "all columns" \
  "SELECT count(*), sum(length(concat_ws(',', $plugin_cols))) FROM cdr_plugin" \
  "SELECT count(*), sum(length(concat_ws(',', $native_cols))) FROM cdr_native"
p_limit=$(median_ms "SELECT * FROM cdr_plugin LIMIT 10")
echo "SELECT * … LIMIT 10 through the plugin: $p_limit ms (one page)"
