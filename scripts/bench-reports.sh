#!/usr/bin/env bash
# Times the reports (issue 7) on the demo data through pg-wire: each type rendered (the SQL of
# its sections, charts as PNG and SVG, templates), warm, median of 5; then the financial
# summary emailed to a real SMTP server (aiosmtpd) and written to files, median of 5.
# Writes a markdown table to stdout. Usage: scripts/bench-reports.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/spirit/target}"
scripts/setup.sh --test >/dev/null
cargo build --quiet --locked --workspace --all-targets
scripts/build-plugins.sh >/dev/null
spirit="$CARGO_TARGET_DIR/debug/spirit"
dir=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$dir"' EXIT
python3 tests/tools/smtp_sink.py "$dir/mail" >"$dir/smtp" &
pids+=($!)
until grep -q "port=" "$dir/smtp" 2>/dev/null; do sleep 0.1; done
smtp_port=$(sed -n 's/port=//p' "$dir/smtp")
mkdir -p "$dir/data/plugins"
for model in forecasting gbt linear; do
  cp -r "$HOME/.cache/spirit/plugins/$model" "$dir/data/plugins/"
done
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GB; commit $(git rev-parse --short HEAD 2>/dev/null || echo none); $(date -u +%F); debug build (plugins in release); demo data scale 1"
"$spirit" demo --data-dir "$dir/data" --end-date 2026-06-30 >/dev/null 2>&1
SPIRIT_METRICS_AS_OF="2026-07-01 00:00:00" SPIRIT_SMTP_HOST=127.0.0.1 SPIRIT_SMTP_PORT="$smtp_port" \
  SPIRIT_SMTP_TLS=none "$spirit" serve --listen 127.0.0.1:0 --http-listen 127.0.0.1:0 --data-dir "$dir/data" >"$dir/out" 2>"$dir/log" &
pids+=($!)
until grep -q "pg=" "$dir/out" 2>/dev/null; do sleep 0.1; done
port=$(sed -n 's/.*pg=.*:\([0-9]*\)$/\1/p' "$dir/out")
python3 - "$port" "$dir" <<'PY'
import statistics, sys, time
import psycopg

port, tmp = sys.argv[1], sys.argv[2]
conn = psycopg.connect(f"host=127.0.0.1 port={port} user=spirit password=spirit dbname=spirit", autocommit=True)

def timed(sql, n=5):
    conn.execute(sql).fetchall()  # warm: models trained, plans cached
    runs = []
    for _ in range(n):
        t = time.perf_counter()
        size = len(conn.execute(sql).fetchone()[0])
        runs.append((time.perf_counter() - t) * 1000)
    return statistics.median(runs), size

print("\n| what | median ms (5 runs, warm) | HTML bytes |\n| --- | --- | --- |")
for name in ["financial_summary", "ai_performance", "customer_analytics", "operational_health",
             "sales_pipeline", "revenue_breakdown"]:
    ms, size = timed(f"SELECT generate_report('{name}')")
    print(f"| render `{name}` | {ms:.0f} | {size:,} |")
ms, size = timed("""SELECT generate_report('financial_summary', '{"to": "cfo@example.com"}')""")
print(f"| render and email `financial_summary` (aiosmtpd on loopback) | {ms:.0f} | {size:,} |")
ms, size = timed(f"""SELECT generate_report('financial_summary', '{{"dir": "{tmp}/files"}}')""")
print(f"| render and write `financial_summary` to files | {ms:.0f} | {size:,} |")
PY
