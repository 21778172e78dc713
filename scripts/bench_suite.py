#!/usr/bin/env python3
"""The benchmark suite of scripts/bench.sh (`make bench`): the engine against DuckDB directly and
against PostgreSQL 15 on the same data, written as markdown to docs/benchmarks.md.

1. Dashboard queries over the last 30 days, the last year and the full history, at each scale:
   the same SQL through the engine over pg-wire (result cache off: every run computes), through
   DuckDB on a copy of the store file, and through PostgreSQL loaded with the same rows (COPY,
   indexes on the time columns, ANALYZE). The metric views and the KPI overview run on all three:
   PostgreSQL runs their translation to its own SQL (VIEWS_PG). Medians and ratios.
2. Protocol throughput with pgbench (-n -f, 1, 8 and 32 clients): a cached KPI query against the
   engine vs PostgreSQL reading the same rows from a precomputed table, and an uncached point
   query; then streaming a million rows, rows/s.
3. Memory: the engine's RSS idle, with 200 idle connections, and its peak during the heaviest
   dashboard query at the largest scale.
4. Growth: how each latency grows from scale to scale.

Usage: bench_suite.py --spirit BIN --scales 1 10 100 --out docs/benchmarks.md
"""

import argparse
import contextlib
import os
import platform
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import duckdb
import psycopg

END = "2026-07-01 00:00:00"  # the data ends 2026-06-30; metric views are evaluated as of this
WINDOWS = {
    "30 days": ("2026-06-01 00:00:00", END),
    "1 year": ("2025-07-01 00:00:00", END),
    "full history": ("1900-01-01 00:00:00", END),
}
PAID = "status IN ('confirmed', 'completed')"

# Dashboard queries in SQL that DataFusion, DuckDB and PostgreSQL all read the same way.
DASHBOARD = {
    "revenue by channel": """SELECT channel, count(*) AS bookings, sum(price_paid) AS revenue,
        sum(commission) AS commission FROM bookings
        WHERE {paid} AND created_at >= TIMESTAMP '{start}' AND created_at < TIMESTAMP '{end}'
        GROUP BY channel ORDER BY channel""",
    "daily revenue": """SELECT CAST(created_at AS DATE) AS day, channel, sum(price_paid) AS revenue
        FROM bookings
        WHERE {paid} AND created_at >= TIMESTAMP '{start}' AND created_at < TIMESTAMP '{end}'
        GROUP BY CAST(created_at AS DATE), channel ORDER BY 1, 2""",
    "top tours": """SELECT t.tour_id, t.name, t.category, count(*) AS bookings,
        sum(b.price_paid) AS revenue FROM bookings b JOIN tours t ON t.tour_id = b.tour_id
        WHERE b.{paid} AND b.created_at >= TIMESTAMP '{start}' AND b.created_at < TIMESTAMP '{end}'
        GROUP BY t.tour_id, t.name, t.category ORDER BY revenue DESC LIMIT 10""",
    "AI agents": """SELECT agent_id, count(*) AS queries,
        avg(CASE WHEN success THEN 1.0 ELSE 0.0 END) AS success_rate,
        avg(response_ms) AS avg_response_ms, avg(csat) AS csat FROM ai_interactions
        WHERE started_at >= TIMESTAMP '{start}' AND started_at < TIMESTAMP '{end}'
        GROUP BY agent_id ORDER BY agent_id""",
    "ticket SLA": """SELECT priority, count(*) AS tickets,
        avg(CASE WHEN resolved_at IS NOT NULL
            AND date_part('epoch', resolved_at) - date_part('epoch', opened_at) <= sla_hours * 3600
            THEN 1.0 ELSE 0.0 END) AS sla_met_rate, avg(csat) AS csat FROM tickets
        WHERE opened_at >= TIMESTAMP '{start}' AND opened_at < TIMESTAMP '{end}'
        GROUP BY priority ORDER BY priority""",
}
# Metric views (DuckDB SQL, evaluated as of END): engine vs DuckDB.
VIEWS = {
    "metrics.kpi_overview": "SELECT * FROM metrics.kpi_overview",
    "metrics.revenue_by_channel": "SELECT * FROM metrics.revenue_by_channel",
    "metrics.ai_agent_performance": "SELECT * FROM metrics.ai_agent_performance",
    "metrics.revenue_daily (30 days)": "SELECT * FROM metrics.revenue_daily WHERE day >= DATE '2026-06-01'",
    "metrics.customer_kpis": "SELECT * FROM metrics.customer_kpis",
}
# The same metric views in PostgreSQL's SQL, as of END: what "views in PostgreSQL" would be.
# DuckDB's INTERVAL n DAY, to_hours, quantile_cont, epoch and GROUP BY ALL become their PostgreSQL
# spellings; spirit.as_of() becomes END and the metric settings their defaults. kpi_targets is
# copied from the store; the three operations KPIs (the engine's own telemetry) are NULL there.
AS_OF = f"TIMESTAMP '{END}'"
VIEWS_PG = {
    "metrics.kpi_overview": f"""WITH ai AS (
    SELECT CAST(count(*) FILTER (WHERE success) AS double precision) / nullif(count(*), 0) AS success_rate,
           CAST(avg(response_ms) AS double precision) AS response_ms
    FROM ai_interactions WHERE started_at >= {AS_OF} - INTERVAL '30 days' AND started_at < {AS_OF}
), revenue AS (
    SELECT CAST(sum(price_paid) FILTER (WHERE created_at >= {AS_OF} - INTERVAL '30 days') AS double precision) AS cur,
           CAST(sum(price_paid) FILTER (WHERE created_at < {AS_OF} - INTERVAL '30 days') AS double precision) AS prev
    FROM bookings WHERE status IN ('confirmed', 'completed')
      AND created_at >= {AS_OF} - INTERVAL '60 days' AND created_at < {AS_OF}
), crm AS (
    SELECT CAST(count(*) FILTER (WHERE stage = 'won') AS double precision) / nullif(count(*), 0) AS conversion_rate,
           min(created_at) AS first_lead FROM leads
), sla AS (
    SELECT CAST(count(*) FILTER (WHERE resolved_at <= opened_at + make_interval(hours => sla_hours)) AS double precision)
               / nullif(count(*), 0) AS met_rate
    FROM tickets WHERE resolved_at >= {AS_OF} - INTERVAL '30 days' AND resolved_at < {AS_OF}
), satisfaction AS (
    SELECT CAST(avg(csat) AS double precision) AS csat FROM tickets
    WHERE opened_at >= {AS_OF} - INTERVAL '30 days' AND opened_at < {AS_OF}
), answered AS (
    SELECT CAST(count(*) FILTER (WHERE answered) AS double precision) / nullif(count(*), 0) AS answer_rate
    FROM calls WHERE started_at >= {AS_OF} - INTERVAL '30 days' AND started_at < {AS_OF}
), survey AS (
    SELECT CAST(100 * (count(*) FILTER (WHERE nps >= 9) - count(*) FILTER (WHERE nps <= 6)) AS double precision)
               / nullif(count(nps), 0) AS nps FROM customers
), churn AS (
    SELECT 1 - CAST(count(*) FILTER (WHERE EXISTS (SELECT 1 FROM bookings l WHERE l.customer_id = c.customer_id
                  AND l.status IN ('confirmed', 'completed')
                  AND l.created_at >= {AS_OF} - INTERVAL '365 days' AND l.created_at < {AS_OF})) AS double precision)
               / nullif(count(*), 0) AS churn_rate
    FROM customers c
    WHERE EXISTS (SELECT 1 FROM bookings b WHERE b.customer_id = c.customer_id AND b.status IN ('confirmed', 'completed')
                  AND b.created_at >= {AS_OF} - INTERVAL '730 days' AND b.created_at < {AS_OF} - INTERVAL '365 days')
), values_ AS (
    SELECT 'ai_success_rate' AS kpi, 'ai' AS family, ai.success_rate AS value, 'ratio' AS unit,
           {AS_OF} - INTERVAL '30 days' AS period_start, {AS_OF} AS period_end FROM ai
    UNION ALL SELECT 'ai_response_time_ms', 'ai', ai.response_ms, 'ms', {AS_OF} - INTERVAL '30 days', {AS_OF} FROM ai
    UNION ALL SELECT 'uptime', 'operations', NULL, 'ratio', NULL, NULL
    UNION ALL SELECT 'query_response_ms', 'operations', NULL, 'ms', NULL, NULL
    UNION ALL SELECT 'error_rate', 'operations', NULL, 'ratio', NULL, NULL
    UNION ALL SELECT 'revenue_30d', 'revenue', coalesce(r.cur, 0), 'EUR', {AS_OF} - INTERVAL '30 days', {AS_OF} FROM revenue r
    UNION ALL SELECT 'revenue_growth_mom', 'revenue', (r.cur - r.prev) / nullif(r.prev, 0), 'ratio',
           {AS_OF} - INTERVAL '60 days', {AS_OF} FROM revenue r
    UNION ALL SELECT 'lead_conversion_rate', 'crm', c.conversion_rate, 'ratio', c.first_lead, {AS_OF} FROM crm c
    UNION ALL SELECT 'ticket_sla_met_rate', 'crm', s.met_rate, 'ratio', {AS_OF} - INTERVAL '30 days', {AS_OF} FROM sla s
    UNION ALL SELECT 'call_answer_rate', 'call_center', a.answer_rate, 'ratio', {AS_OF} - INTERVAL '30 days', {AS_OF}
           FROM answered a
    UNION ALL SELECT 'csat', 'customers', s.csat, 'score 1-5', {AS_OF} - INTERVAL '30 days', {AS_OF} FROM satisfaction s
    UNION ALL SELECT 'nps', 'customers', s.nps, 'score -100..100', NULL, {AS_OF} FROM survey s
    UNION ALL SELECT 'churn_rate', 'customers', c.churn_rate, 'ratio', {AS_OF} - INTERVAL '730 days', {AS_OF} FROM churn c
)
SELECT v.kpi, v.family, CAST(v.value AS double precision) AS value, v.unit, t.target, t.comparison,
    CASE
        WHEN v.value IS NULL OR t.target IS NULL THEN NULL
        WHEN (t.comparison = '>' AND v.value > t.target) OR (t.comparison = '<' AND v.value < t.target) THEN 'ok'
        WHEN (t.comparison = '>' AND v.value >= t.warning) OR (t.comparison = '<' AND v.value <= t.warning) THEN 'warning'
        ELSE 'breach'
    END AS status,
    CAST(v.period_start AS timestamp) AS period_start, CAST(v.period_end AS timestamp) AS period_end
FROM values_ v LEFT JOIN kpi_targets t ON t.kpi = v.kpi""",
    "metrics.revenue_by_channel": f"""WITH channels AS (SELECT DISTINCT channel FROM bookings), windows AS (
    SELECT channel,
        sum(price_paid) FILTER (WHERE created_at >= {AS_OF} - INTERVAL '1 day') AS day_cur,
        sum(price_paid) FILTER (WHERE created_at >= {AS_OF} - INTERVAL '2 days'
                                  AND created_at < {AS_OF} - INTERVAL '1 day') AS day_prev,
        sum(price_paid) FILTER (WHERE created_at >= {AS_OF} - INTERVAL '7 days') AS week_cur,
        sum(price_paid) FILTER (WHERE created_at >= {AS_OF} - INTERVAL '14 days'
                                  AND created_at < {AS_OF} - INTERVAL '7 days') AS week_prev,
        sum(price_paid) FILTER (WHERE created_at >= {AS_OF} - INTERVAL '30 days') AS month_cur,
        sum(price_paid) FILTER (WHERE created_at < {AS_OF} - INTERVAL '30 days') AS month_prev
    FROM bookings
    WHERE status IN ('confirmed', 'completed')
      AND created_at >= {AS_OF} - INTERVAL '60 days' AND created_at < {AS_OF}
    GROUP BY channel
), filled AS (
    SELECT c.channel,
        coalesce(w.day_cur, 0) AS day_cur, coalesce(w.day_prev, 0) AS day_prev,
        coalesce(w.week_cur, 0) AS week_cur, coalesce(w.week_prev, 0) AS week_prev,
        coalesce(w.month_cur, 0) AS month_cur, coalesce(w.month_prev, 0) AS month_prev
    FROM channels c LEFT JOIN windows w USING (channel)
)
SELECT channel, CAST(month_cur AS numeric(18, 2)) AS revenue,
    CAST(month_cur / nullif(sum(month_cur) OVER (), 0) AS double precision) AS share,
    CAST((day_cur - day_prev) / nullif(day_prev, 0) AS double precision) AS growth_dod,
    CAST((week_cur - week_prev) / nullif(week_prev, 0) AS double precision) AS growth_wow,
    CAST((month_cur - month_prev) / nullif(month_prev, 0) AS double precision) AS growth_mom
FROM filled""",
    "metrics.ai_agent_performance": f"""WITH activity AS (
    SELECT agent_id, count(*) AS queries, count(*) FILTER (WHERE success) AS successes,
        avg(response_ms) AS avg_response_ms,
        percentile_cont(0.95) WITHIN GROUP (ORDER BY response_ms) AS p95_response_ms,
        avg(csat) AS csat, sum(revenue_attributed) AS revenue
    FROM ai_interactions
    WHERE started_at >= {AS_OF} - INTERVAL '30 days' AND started_at < {AS_OF}
    GROUP BY agent_id
)
SELECT a.agent_id, a.name AS agent, a.track, coalesce(x.queries, 0) AS queries,
    CAST(coalesce(x.queries, 0) AS double precision) / 30 AS queries_per_day,
    CAST(x.successes AS double precision) / x.queries AS success_rate,
    CAST(x.avg_response_ms AS double precision) AS avg_response_ms,
    CAST(x.p95_response_ms AS double precision) AS p95_response_ms,
    CAST(x.csat AS double precision) AS csat,
    CAST(coalesce(x.revenue, 0) AS numeric(18, 2)) AS revenue_generated,
    CAST(coalesce(x.successes * 4.5 - x.queries * 0.05, 0) AS numeric(18, 2)) AS cost_savings_vs_human
FROM ai_agents a LEFT JOIN activity x ON x.agent_id = a.agent_id""",
    "metrics.revenue_daily (30 days)": """SELECT * FROM (
    SELECT CAST(created_at AS date) AS day, channel, count(*) AS bookings,
        CAST(sum(price_paid) AS numeric(18, 2)) AS revenue,
        CAST(sum(commission) AS numeric(18, 2)) AS commission,
        CAST(sum(price_paid) - sum(commission) AS numeric(18, 2)) AS net_revenue,
        CAST(sum(price_paid) / count(*) AS double precision) AS avg_booking_value
    FROM bookings WHERE status IN ('confirmed', 'completed')
    GROUP BY 1, 2
) v WHERE day >= DATE '2026-06-01'""",
    "metrics.customer_kpis": f"""WITH retention AS (
    SELECT count(*) AS base,
           count(*) FILTER (WHERE EXISTS (SELECT 1 FROM bookings l WHERE l.customer_id = c.customer_id
                  AND l.status IN ('confirmed', 'completed')
                  AND l.created_at >= {AS_OF} - INTERVAL '365 days' AND l.created_at < {AS_OF})) AS retained
    FROM customers c
    WHERE EXISTS (SELECT 1 FROM bookings b WHERE b.customer_id = c.customer_id AND b.status IN ('confirmed', 'completed')
                  AND b.created_at >= {AS_OF} - INTERVAL '730 days' AND b.created_at < {AS_OF} - INTERVAL '365 days')
), lifetime AS (
    SELECT (SELECT sum(price_paid) FROM bookings WHERE status IN ('confirmed', 'completed')) AS revenue,
           (SELECT count(*) FROM customers c
            WHERE EXISTS (SELECT 1 FROM bookings b WHERE b.customer_id = c.customer_id
                          AND b.status IN ('confirmed', 'completed'))) AS paying_customers
), survey AS (
    SELECT count(nps) AS answered, count(*) FILTER (WHERE nps >= 9) AS promoters,
           count(*) FILTER (WHERE nps <= 6) AS detractors, count(*) AS customers
    FROM customers
), support AS (
    SELECT avg(csat) AS csat, avg(extract(epoch FROM resolved_at - opened_at) / 3600.0) AS resolution_hours
    FROM tickets
)
SELECT s.customers, CAST(p.csat AS double precision) AS csat,
    CAST(100 * (s.promoters - s.detractors) AS double precision) / nullif(s.answered, 0) AS nps,
    CAST(v.revenue / nullif(v.paying_customers, 0) AS numeric(18, 2)) AS clv,
    CAST(r.retained AS double precision) / nullif(r.base, 0) AS retention_rate,
    1 - CAST(r.retained AS double precision) / nullif(r.base, 0) AS churn_rate,
    CAST(p.resolution_hours AS double precision) AS support_resolution_hours
FROM survey s, retention r, lifetime v, support p""",
}
PG_TYPES = [
    (r"^VARCHAR", "text"), (r"^BIGINT", "bigint"), (r"^INTEGER", "integer"),
    (r"^SMALLINT", "smallint"), (r"^DOUBLE", "double precision"), (r"^FLOAT", "real"),
    (r"^DECIMAL\((\d+),(\d+)\)", r"numeric(\1,\2)"), (r"^TIMESTAMP", "timestamp"),
    (r"^DATE", "date"), (r"^BOOLEAN", "boolean"),
]
INDEXES = {
    "bookings": ["created_at", "tour_id", "customer_id"], "ai_interactions": ["started_at"],
    "tickets": ["opened_at", "resolved_at"], "payments": ["created_at"], "leads": ["created_at"],
    "calls": ["started_at"],
}
RUNS = 5
MAX_RUNS = 25
STREAM_RUNS = 3
PG = "host=127.0.0.1 port=5432 user=postgres dbname=test"


def median_ms(run, runs=RUNS):
    """The median of at least `runs` warm runs; queries of a few milliseconds run more often (until
    a second has gone, at most MAX_RUNS), so that their medians are not one scheduler hiccup."""
    run()  # warm-up
    times = []
    while len(times) < runs or (sum(times) < 1000 and len(times) < MAX_RUNS):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


class Engine:
    """A `spirit serve` on a data dir."""

    def __init__(self, spirit, data_dir, cache):
        env = dict(os.environ, SPIRIT_METRICS_RELOAD_SECONDS="0",
                   SPIRIT_METRICS_AS_OF=END, SPIRIT_MAX_CONNECTIONS="600")
        if not cache:
            env["SPIRIT_CACHE_TTL_SECONDS"] = "0"
        self.proc = subprocess.Popen(
            [spirit, "serve", "--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
             "--data-dir", str(data_dir)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
        for line in self.proc.stdout:
            if line.startswith("spirit listening pg="):
                self.port = int(line.strip().rsplit(":", 1)[1])
                break
        self.dsn = f"host=127.0.0.1 port={self.port} user=spirit password=spirit dbname=spirit"

    def status(self, field):
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024  # MB
        return float("nan")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=60)


def sql(template, window):
    start, end = WINDOWS[window]
    return template.format(start=start, end=end, paid=PAID)


def load_postgres(store, schema):
    """Copies every table of the store into PostgreSQL schema `schema` (once per scale)."""
    with psycopg.connect(PG, autocommit=True) as pg:
        exists = pg.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = %s",
                            (schema,)).fetchone()[0]
        db = duckdb.connect(str(store), read_only=True)
        tables = [r[0] for r in db.execute(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' ORDER BY 1").fetchall()]
        if exists == len(tables) + 1:  # the store's tables and kpi_targets
            db.close()
            return 0.0
        started = time.perf_counter()
        pg.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        pg.execute(f"CREATE SCHEMA {schema}")
        with tempfile.TemporaryDirectory() as tmp:
            for table in tables:
                columns = []
                for name, dtype, *_ in db.execute(f"DESCRIBE {table}").fetchall():
                    pg_type = next(re.sub(p, t, dtype) for p, t in PG_TYPES if re.match(p, dtype))
                    columns.append(f'"{name}" {pg_type}')
                pg.execute(f"CREATE TABLE {schema}.{table} ({', '.join(columns)})")
                path = Path(tmp) / f"{table}.csv"
                db.execute(f"COPY {table} TO '{path}' (HEADER, DELIMITER ',')")
                with pg.cursor() as cur, cur.copy(
                        f"COPY {schema}.{table} FROM STDIN WITH (FORMAT csv, HEADER)") as copy, \
                        open(path, "rb") as f:
                    while chunk := f.read(1 << 20):
                        copy.write(chunk)
                path.unlink()
        targets = db.execute("SELECT kpi, target, warning, comparison FROM spirit.kpi_targets").fetchall()
        db.close()
        pg.execute(f"CREATE TABLE {schema}.kpi_targets "
                   "(kpi text PRIMARY KEY, target double precision, warning double precision, comparison text)")
        with pg.cursor() as cur:
            cur.executemany(f"INSERT INTO {schema}.kpi_targets VALUES (%s, %s, %s, %s)", targets)
        for table, columns in INDEXES.items():
            if table in tables:
                for column in columns:
                    pg.execute(f"CREATE INDEX ON {schema}.{table} ({column})")
        for table in tables:
            key = {"bookings": "booking_id", "tours": "tour_id", "customers": "customer_id"}.get(table)
            if key:
                pg.execute(f"ALTER TABLE {schema}.{table} ADD PRIMARY KEY ({key})")
        pg.execute(f"ANALYZE")
        return time.perf_counter() - started


def timings(run_sql, views):
    """{(query, window): ms} for every dashboard query (and {view: ms} when `views`)."""
    results = {(name, window): median_ms(lambda q=sql(t, window): run_sql(q))
               for name, t in DASHBOARD.items() for window in WINDOWS}
    if views:
        results.update({name: median_ms(lambda q=q: run_sql(q)) for name, q in VIEWS.items()})
    return results


def dashboard(spirit, data, store, schema):
    """{(query, window): {system: ms}} and {view: {system: ms}}."""
    engine = Engine(spirit, data, cache=False)
    try:
        with psycopg.connect(engine.dsn, autocommit=True) as eng:
            on_engine = timings(lambda q: eng.execute(q, prepare=False).fetchall(), True)
    finally:
        engine.stop()
    # A copy made after the engine stopped (it wrote the metrics' reference instant), so
    # nothing it left behind (WAL, lock) interferes.
    tmp = tempfile.mkdtemp()
    copy = Path(tmp) / "store.duckdb"
    shutil.copy(store, copy)
    db = duckdb.connect(str(copy), read_only=True)
    on_duckdb = timings(lambda q: db.execute(q).fetchall(), True)
    db.close()
    shutil.rmtree(tmp)
    with psycopg.connect(PG, autocommit=True) as pg:
        pg.execute(f"SET search_path = {schema}")
        on_postgres = timings(lambda q: pg.execute(q).fetchall(), False)
        on_postgres.update({name: median_ms(lambda q=q: pg.execute(q).fetchall())
                            for name, q in VIEWS_PG.items()})
    results = {k: {"engine": on_engine[k], "duckdb": on_duckdb[k], "postgres": on_postgres[k]}
               for k in on_postgres if k not in VIEWS}
    views = {k: {"engine": on_engine[k], "duckdb": on_duckdb[k], "postgres": on_postgres[k]} for k in VIEWS}
    return results, views


def pgbench(dsn_args, script, clients, env=None, mode="simple"):
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
        f.write(script)
    cmd = ["pgbench", "-n", "-f", f.name, "-M", mode, "-c", str(clients), "-j", str(min(clients, 2)),
           "-T", "10", *dsn_args]
    out = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, **(env or {})))
    os.unlink(f.name)
    m = re.search(r"tps = ([\d.]+) \(without initial connection time\)", out.stdout)
    if not m:
        return f"failed: {(out.stderr or out.stdout).strip().splitlines()[-1][:120]}"
    return float(m.group(1))


def throughput(spirit, data_dir, schema, max_booking):
    engine = Engine(spirit, data_dir, cache=True)
    rows = {}
    try:
        with psycopg.connect(engine.dsn, autocommit=True) as eng, psycopg.connect(PG, autocommit=True) as pg:
            kpis = eng.execute("SELECT kpi, value, unit, target, status FROM metrics.kpi_overview").fetchall()
            pg.execute(f"DROP TABLE IF EXISTS {schema}.kpi_overview_precomputed")
            pg.execute(f"CREATE TABLE {schema}.kpi_overview_precomputed "
                       "(kpi text, value double precision, unit text, target double precision, status text)")
            with pg.cursor() as cur:
                cur.executemany(f"INSERT INTO {schema}.kpi_overview_precomputed VALUES (%s, %s, %s, %s, %s)", kpis)
        engine_args = ["-h", "127.0.0.1", "-p", str(engine.port), "-U", "spirit", "spirit"]
        pg_args = ["-h", "127.0.0.1", "-p", "5432", "-U", "postgres", "test"]
        pw = {"PGPASSWORD": "spirit"}
        kpi_engine = "SELECT * FROM metrics.kpi_overview;\n"
        kpi_pg = f"SELECT * FROM {schema}.kpi_overview_precomputed;\n"
        point = "\\set id random(1, {max})\nSELECT * FROM {table} WHERE booking_id = :id;\n"
        for clients in (1, 8, 32):
            rows[("cached KPI overview", clients)] = {
                "engine": pgbench(engine_args, kpi_engine, clients, pw),
                "postgres": pgbench(pg_args, kpi_pg, clients),
            }
            for mode, name in (("simple", "point query on bookings"),
                               ("extended", "point query, extended protocol")):
                rows[(name, clients)] = {
                    "engine": pgbench(engine_args, point.format(max=max_booking, table="bookings"),
                                      clients, pw, mode),
                    "postgres": pgbench(pg_args, point.format(max=max_booking, table=f"{schema}.bookings"),
                                        clients, mode=mode),
                }
        stream = {}
        for system, dsn, table in (("engine", engine.dsn, "bookings"), ("postgres", PG, f"{schema}.bookings")):
            with psycopg.connect(dsn, autocommit=True) as conn:
                q = f"SELECT * FROM {table} LIMIT 1000000"
                seconds = []
                for _ in range(1 + STREAM_RUNS):  # a warm-up, then the measured runs
                    started = time.perf_counter()
                    n = 0
                    with conn.cursor() as cur:
                        cur.execute(q, prepare=False)
                        while batch := cur.fetchmany(50_000):
                            n += len(batch)
                    seconds.append(time.perf_counter() - started)
                stream[system] = (n, n / statistics.median(seconds[1:]))
    finally:
        engine.stop()
    return rows, stream


def memory(spirit, data_dir, heaviest):
    engine = Engine(spirit, data_dir, cache=False)
    try:
        time.sleep(2)
        idle = engine.status("VmRSS")
        conns = [psycopg.connect(engine.dsn, autocommit=True) for _ in range(200)]
        time.sleep(1)
        with_conns = engine.status("VmRSS")
        for c in conns:
            c.close()
        Path(f"/proc/{engine.proc.pid}/clear_refs").write_text("5")  # resets the peak (VmHWM)
        with psycopg.connect(engine.dsn, autocommit=True) as eng:
            eng.execute(heaviest, prepare=False).fetchall()
        peak = engine.status("VmHWM")
    finally:
        engine.stop()
    return idle, with_conns, peak


def fmt(x):
    if isinstance(x, str):
        return x
    return f"{x:,.1f}" if x >= 10 else f"{x:.2f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--spirit", required=True)
    ap.add_argument("--scales", nargs="+", type=int, default=[1, 10, 100])
    ap.add_argument("--out", default="docs/benchmarks.md")
    args = ap.parse_args()
    cache = Path.home() / ".cache/spirit/bench"
    per_scale, notes = {}, []
    for scale in args.scales:
        data = cache / f"scale-{scale}"
        store = data / "store.duckdb"
        if not store.exists():
            data.mkdir(parents=True, exist_ok=True)
            started = time.perf_counter()
            subprocess.run([args.spirit, "demo", "--scale", str(scale), "--end-date", "2026-06-30",
                            "--data-dir", str(data)], check=True, capture_output=True)
            notes.append(f"scale {scale}: demo data generated in {time.perf_counter() - started:.0f} s")
        db = duckdb.connect(str(store), read_only=True)
        bookings = db.execute("SELECT count(*), max(booking_id) FROM bookings").fetchone()
        db.close()
        schema = f"spirit_bench_{scale}"
        loaded = load_postgres(store, schema)
        if loaded:
            notes.append(f"scale {scale}: loaded into PostgreSQL (COPY, indexes, ANALYZE) in {loaded:.0f} s")
        results, views = dashboard(args.spirit, data, store, schema)
        per_scale[scale] = {"bookings": bookings, "results": results, "views": views, "data": data,
                            "schema": schema}
    largest = max(args.scales)
    top = per_scale[largest]
    throughput_rows, stream = throughput(args.spirit, top["data"], top["schema"], top["bookings"][1])
    heaviest = max(top["results"], key=lambda k: top["results"][k]["engine"])
    idle, with_conns, peak = memory(args.spirit, top["data"], sql(DASHBOARD[heaviest[0]], heaviest[1]))

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    mem = subprocess.run(["free", "-g"], capture_output=True, text=True).stdout.split("\n")[1].split()[1]
    out = [
        "# Benchmarks",
        "",
        f"Produced by `make bench` (scripts/bench.sh) on {time.strftime('%Y-%m-%d', time.gmtime())}, "
        f"commit {commit}, on {os.cpu_count()} cores and {mem} GB ({platform.processor() or platform.machine()}); "
        f"the engine is the debug build `make run` serves. Scales: {', '.join(map(str, args.scales))} "
        f"(bookings: {', '.join(format(per_scale[s]['bookings'][0], ',') for s in args.scales)}). "
        f"Times are medians of {RUNS} to {MAX_RUNS} warm runs (as many as fit in a second, for queries under 200 ms), as the client sees them (psycopg over loopback); "
        "the engine's result cache is off for the dashboard queries, so every run computes.",
        "",
    ]
    out += [f"- {n}" for n in notes] + ([""] if notes else [])
    out += ["## 1. Dashboard queries", "",
            "The same SQL on the engine (pg-wire, DataFusion over the DuckDB store), on DuckDB directly "
            "(the pip package, on a copy of the store file) and on PostgreSQL 15 (the same rows, COPY, "
            "indexes on the time columns and keys, ANALYZE). Ratios: engine ÷ DuckDB (target ≤ 1.2) and "
            "PostgreSQL ÷ engine (target ≥ 10). The metric views are DuckDB SQL; PostgreSQL runs their "
            "translation (`VIEWS_PG` in scripts/bench_suite.py: the same windows as of the same instant, "
            "the three operations KPIs, which read the engine's own telemetry, left NULL).", ""]
    for scale in args.scales:
        out += [f"### Scale {scale}", "",
                "| query | window | engine ms | DuckDB ms | PostgreSQL ms | engine/DuckDB | PostgreSQL/engine |",
                "| --- | --- | --- | --- | --- | --- | --- |"]
        for (name, window), r in per_scale[scale]["results"].items():
            out.append(f"| {name} | {window} | {fmt(r['engine'])} | {fmt(r['duckdb'])} | {fmt(r['postgres'])} "
                       f"| {r['engine'] / r['duckdb']:.2f} | {r['postgres'] / r['engine']:.2f} |")
        out += ["", "| metric view | engine ms | DuckDB ms | PostgreSQL ms | engine/DuckDB | PostgreSQL/engine |",
                "| --- | --- | --- | --- | --- | --- |"]
        for name, r in per_scale[scale]["views"].items():
            out.append(f"| {name} | {fmt(r['engine'])} | {fmt(r['duckdb'])} | {fmt(r['postgres'])} "
                       f"| {r['engine'] / r['duckdb']:.2f} | {r['postgres'] / r['engine']:.2f} |")
        out.append("")
    out += ["## 2. Protocol throughput", "",
            f"pgbench `-n -f <script> -c N -j 2 -T 10` at scale {largest}, transactions per second. "
            "The KPI query is `SELECT * FROM metrics.kpi_overview` on the engine (answered by the result "
            "cache) and the same rows from a precomputed table on PostgreSQL; the point query is "
            "`SELECT * FROM bookings WHERE booking_id = :id` with a random id on both, over the simple "
            "protocol (`-M simple`, the id written into the text) and over the extended one "
            "(`-M extended`, the id bound as a parameter, as pgjdbc and so Metabase send it).", "",
            "| query | clients | engine tps | PostgreSQL tps | engine/PostgreSQL |", "| --- | --- | --- | --- | --- |"]
    for (name, clients), r in throughput_rows.items():
        ratio = (f"{r['engine'] / r['postgres']:.2f}" if isinstance(r["engine"], float)
                 and isinstance(r["postgres"], float) else "–")
        out.append(f"| {name} | {clients} | {fmt(r['engine'])} | {fmt(r['postgres'])} | {ratio} |")
    out += ["", f"Streaming `SELECT * FROM bookings LIMIT 1000000` (psycopg, fetchmany of 50,000; after a warm-up, the median of {STREAM_RUNS} runs):", "",
            "| system | rows | rows/s |", "| --- | --- | --- |"]
    for system, (n, rate) in stream.items():
        out.append(f"| {system} | {n:,} | {rate:,.0f} |")
    out += ["", "## 3. Memory", "",
            f"The engine at scale {largest} (RSS from /proc; the peak is VmHWM, reset before the query).", "",
            "| state | MB |", "| --- | --- |",
            f"| idle, after start | {idle:,.0f} |",
            f"| with 200 idle connections | {with_conns:,.0f} |",
            f"| peak during the heaviest dashboard query ({heaviest[0]}, {heaviest[1]}) | {peak:,.0f} |", ""]
    if len(args.scales) > 1:
        out += ["## 4. Growth", "",
                "Engine latency at each scale ÷ at the previous one (full history; data grows 10× per step).", "",
                "| query | " + " | ".join(f"{a}→{b}" for a, b in zip(args.scales, args.scales[1:])) + " |",
                "| --- |" + " --- |" * (len(args.scales) - 1)]
        for name in DASHBOARD:
            cells = []
            for a, b in zip(args.scales, args.scales[1:]):
                ra = per_scale[a]["results"][(name, "full history")]["engine"]
                rb = per_scale[b]["results"][(name, "full history")]["engine"]
                cells.append(f"{rb / ra:.1f}×")
            out.append(f"| {name} | " + " | ".join(cells) + " |")
        out.append("")
    Path(args.out).write_text("\n".join(out))
    print("\n".join(out))


if __name__ == "__main__":
    main()
