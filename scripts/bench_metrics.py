#!/usr/bin/env python3
"""Times every metric view filtered to the last 30 days: through the engine over pg-wire, and
through DuckDB directly on the same store file. Prints a markdown table.

Usage: scripts/bench_metrics.py --spirit BIN --data-dir DIR [--runs 5]
The data dir must hold a store made by `spirit demo` (scripts/bench-metrics.sh makes one).
"""

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time

import duckdb
import psycopg

# View -> the WHERE clause that limits it to the last 30 days (None: the view is already a
# window of at most 30 days, or a snapshot; it is timed as is).
VIEWS = {
    "revenue_daily": "day >= current_date - INTERVAL '30 days'",
    "revenue_hourly": None,
    "revenue_by_channel": None,
    "conversion_by_channel": None,
    "top_revenue_sources": None,
    "profit_by_product": None,
    "commissions": None,
    "ai_agent_performance": None,
    "ai_track_performance": None,
    "ai_activity_recent": None,
    "crm_pipeline": None,
    "lead_conversion": None,
    "crm_interactions_by_channel": None,
    "ticket_sla": None,
    "call_center_performance": None,
    "call_agent_performance": None,
    "customer_kpis": None,
    "churn_by_segment": None,
    "operational_health": None,
    "kpi_overview": None,
    "ai_agent_daily": "day >= current_date - INTERVAL '30 days'",
    "calls_daily": "day >= current_date - INTERVAL '30 days'",
    "payments_daily": "day >= current_date - INTERVAL '30 days'",
    "notification_delivery": None,
}
EXTRA = {
    "revenue_summary (30 days, day)": "SELECT * FROM revenue_summary(current_date - INTERVAL '30 days', current_date + INTERVAL '1 day', 'day')",
}


def timed(run, runs):
    run()  # warm-up: caches, first-open of the view
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        rows = run()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), rows


def engine_times(spirit, data_dir, runs):
    # The result cache would answer every run after the first: this times the computation.
    env = dict(os.environ, SPIRIT_METRICS_RELOAD_SECONDS="0", SPIRIT_CACHE_TTL_SECONDS="0")
    proc = subprocess.Popen(
        [spirit, "serve", "--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--data-dir", data_dir],
        stdout=subprocess.PIPE, text=True, env=env)
    port = None
    for line in proc.stdout:
        if line.startswith("spirit listening pg="):
            port = int(line.strip().rsplit(":", 1)[1])
            break
    results = {}
    try:
        with psycopg.connect(f"host=127.0.0.1 port={port} user=spirit password=spirit dbname=spirit",
                             autocommit=True) as conn:
            for name, sql in queries().items():
                def run(sql=sql):
                    with conn.cursor() as cur:
                        cur.execute(sql, prepare=False)
                        return len(cur.fetchall())
                results[name] = timed(run, runs)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    return results


def duckdb_times(data_dir, runs):
    # A copy, so nothing the engine left behind (WAL, lock) interferes.
    tmp = tempfile.mkdtemp()
    path = os.path.join(tmp, "store.duckdb")
    shutil.copy(os.path.join(data_dir, "store.duckdb"), path)
    conn = duckdb.connect(path, read_only=True)
    results = {}
    for name, sql in queries(duck=True).items():
        def run(sql=sql):
            return len(conn.execute(sql).fetchall())
        results[name] = timed(run, runs)
    conn.close()
    shutil.rmtree(tmp)
    return results


def queries(duck=False):
    out = {}
    for view, where in VIEWS.items():
        sql = f"SELECT * FROM metrics.{view}"
        if where:
            sql += f" WHERE {where}"
        out[f"metrics.{view}"] = sql
    for name, sql in EXTRA.items():
        out[name] = sql.replace("FROM revenue_summary", "FROM metrics.revenue_summary") if duck else sql
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--spirit", required=True)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    engine = engine_times(args.spirit, args.data_dir, args.runs)
    direct = duckdb_times(args.data_dir, args.runs)
    print("| query | rows | engine over pg-wire (ms) | DuckDB direct (ms) | ratio |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name in engine:
        (e_ms, e_rows), (d_ms, d_rows) = engine[name], direct[name]
        rows = e_rows if e_rows == d_rows else f"{e_rows} vs {d_rows}"
        print(f"| {name} | {rows} | {e_ms:.1f} | {d_ms:.1f} | {e_ms / d_ms:.2f} |")


if __name__ == "__main__":
    main()
