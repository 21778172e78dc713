#!/usr/bin/env python3
"""Checks every metric view the engine serves against figures computed independently.

The reference figures come from the raw tables of the same store file, opened directly with
DuckDB (read-only), by SQL written apart from queries/metrics: other formulations (joins instead
of FILTER, window sums in Python, explicit period lists) so that a slip in a view shows up as a
difference. Rows are compared as multisets: text, dates, times and integers exactly; decimals
exactly; floats to a relative 1e-9.

Usage: metrics_reference.py --dsn DSN --store STORE.duckdb --as-of 'YYYY-MM-DD HH:MM:SS'
       [--human-cost 4.5] [--ai-cost 0.05]
"""

import argparse
import datetime as dt
import decimal
import math
import sys

import duckdb
import psycopg

REVENUE = "status IN ('confirmed', 'completed')"


def reference_queries(a, human, ai):
    """View name -> (columns, SQL over the raw tables). `a` is the as-of timestamp literal."""
    t = f"TIMESTAMP '{a}'"
    d30 = f"{t} - INTERVAL 30 DAY"
    return {
        "revenue_daily": (
            ["day", "channel", "bookings", "revenue", "commission", "net_revenue", "avg_booking_value"],
            f"""SELECT created_at::DATE, channel, count(*), sum(price_paid), sum(commission),
                       sum(price_paid - commission), avg(price_paid)
                FROM bookings WHERE {REVENUE} GROUP BY 1, 2""",
        ),
        "revenue_hourly": (
            ["hour", "channel", "bookings", "revenue"],
            f"""SELECT time_bucket(INTERVAL 1 HOUR, created_at), channel, count(*), sum(price_paid)
                FROM bookings WHERE {REVENUE} AND created_at BETWEEN {t} - INTERVAL 48 HOUR AND {t}
                  AND created_at <> {t}
                GROUP BY 1, 2""",
        ),
        "conversion_by_channel": (
            ["channel", "leads", "converted", "conversion_rate"],
            """SELECT channel, count(*), sum(CASE WHEN stage = 'won' THEN 1 ELSE 0 END),
                      avg(CASE WHEN stage = 'won' THEN 1.0 ELSE 0.0 END)
               FROM leads GROUP BY 1""",
        ),
        "top_revenue_sources": (
            ["channel", "source", "revenue", "rank"],
            f"""WITH r AS (
                  SELECT b.channel, CASE WHEN b.partner_id IS NULL THEN 'direct' ELSE p.name END AS source,
                         sum(b.price_paid) AS revenue
                  FROM bookings b LEFT JOIN partners p USING (partner_id)
                  WHERE {REVENUE} AND b.created_at >= {d30} AND b.created_at < {t} GROUP BY 1, 2)
                SELECT channel, source, revenue,
                       (SELECT 1 + count(*) FROM r r2 WHERE r2.channel = r.channel AND r2.revenue > r.revenue)
                FROM r WHERE revenue > 0""",
        ),
        "profit_by_product": (
            ["tour_id", "tour", "revenue", "commission", "cost", "margin", "margin_pct"],
            f"""SELECT t.tour_id, t.name,
                       coalesce(sum(b.price_paid), 0), coalesce(sum(b.commission), 0),
                       coalesce(sum(b.travelers * t.unit_cost), 0),
                       coalesce(sum(b.price_paid - b.commission - b.travelers * t.unit_cost), 0),
                       sum(b.price_paid - b.commission - b.travelers * t.unit_cost) / sum(b.price_paid)
                FROM tours t LEFT JOIN bookings b ON b.tour_id = t.tour_id AND b.{REVENUE}
                GROUP BY 1, 2""",
        ),
        "commissions": (
            ["partner_id", "partner", "channel", "bookings", "revenue", "commission"],
            f"""SELECT p.partner_id, p.name, CASE WHEN p.kind = 'agency' THEN 'B2B' ELSE 'B2B2C' END,
                       count(b.booking_id), coalesce(sum(b.price_paid), 0), coalesce(sum(b.commission), 0)
                FROM partners p LEFT JOIN bookings b ON b.partner_id = p.partner_id AND b.{REVENUE}
                GROUP BY 1, 2, 3""",
        ),
        "ai_agent_performance": (
            ["agent_id", "agent", "track", "queries", "queries_per_day", "success_rate", "avg_response_ms",
             "p95_response_ms", "csat", "revenue_generated", "cost_savings_vs_human"],
            f"""SELECT a.agent_id, a.name, a.track, count(i.interaction_id), count(i.interaction_id) / 30.0,
                       avg(CASE WHEN i.success THEN 1.0 WHEN NOT i.success THEN 0.0 END),
                       avg(i.response_ms), quantile_cont(i.response_ms, 0.95), avg(i.csat),
                       coalesce(sum(i.revenue_attributed), 0),
                       round(coalesce(sum(CASE WHEN i.success THEN {human} ELSE 0 END) - count(i.interaction_id) * {ai}, 0), 2)
                FROM ai_agents a LEFT JOIN ai_interactions i
                  ON i.agent_id = a.agent_id AND i.started_at >= {d30} AND i.started_at < {t}
                GROUP BY 1, 2, 3""",
        ),
        "ai_track_performance": (
            ["track", "agents", "queries", "queries_per_day", "success_rate", "avg_response_ms",
             "p95_response_ms", "csat", "revenue_generated", "cost_savings_vs_human"],
            f"""SELECT a.track, count(DISTINCT a.agent_id), count(i.interaction_id), count(i.interaction_id) / 30.0,
                       avg(CASE WHEN i.success THEN 1.0 WHEN NOT i.success THEN 0.0 END),
                       avg(i.response_ms), quantile_cont(i.response_ms, 0.95), avg(i.csat),
                       coalesce(sum(i.revenue_attributed), 0),
                       round(coalesce(sum(CASE WHEN i.success THEN {human} ELSE 0 END) - count(i.interaction_id) * {ai}, 0), 2)
                FROM ai_agents a LEFT JOIN ai_interactions i
                  ON i.agent_id = a.agent_id AND i.started_at >= {d30} AND i.started_at < {t}
                GROUP BY 1""",
        ),
        "ai_activity_recent": (
            ["agent_id", "agent", "track", "queries_5m", "success_rate_5m", "avg_response_ms_5m",
             "queries_1h", "success_rate_1h", "avg_response_ms_1h", "last_seen"],
            f"""SELECT a.agent_id, a.name, a.track,
                  (SELECT count(*) FROM ai_interactions i WHERE i.agent_id = a.agent_id AND i.started_at >= {t} - INTERVAL 5 MINUTE AND i.started_at < {t}),
                  (SELECT avg(success::INT) FROM ai_interactions i WHERE i.agent_id = a.agent_id AND i.started_at >= {t} - INTERVAL 5 MINUTE AND i.started_at < {t}),
                  (SELECT avg(response_ms) FROM ai_interactions i WHERE i.agent_id = a.agent_id AND i.started_at >= {t} - INTERVAL 5 MINUTE AND i.started_at < {t}),
                  (SELECT count(*) FROM ai_interactions i WHERE i.agent_id = a.agent_id AND i.started_at >= {t} - INTERVAL 1 HOUR AND i.started_at < {t}),
                  (SELECT avg(success::INT) FROM ai_interactions i WHERE i.agent_id = a.agent_id AND i.started_at >= {t} - INTERVAL 1 HOUR AND i.started_at < {t}),
                  (SELECT avg(response_ms) FROM ai_interactions i WHERE i.agent_id = a.agent_id AND i.started_at >= {t} - INTERVAL 1 HOUR AND i.started_at < {t}),
                  (SELECT max(started_at) FROM ai_interactions i WHERE i.agent_id = a.agent_id AND i.started_at <= {t})
                FROM ai_agents a""",
        ),
        "crm_pipeline": (
            ["stage", "stage_order", "leads", "value", "weight", "weighted_value"],
            """SELECT s.stage, s.o, count(l.lead_id), coalesce(sum(l.estimated_value), 0), s.w,
                      round(coalesce(sum(l.estimated_value), 0) * s.w, 2)
               FROM (VALUES ('new', 1, 0.1), ('contacted', 2, 0.2), ('qualified', 3, 0.4),
                            ('proposal', 4, 0.6), ('negotiation', 5, 0.8)) s(stage, o, w)
               LEFT JOIN leads l ON l.stage = s.stage AND l.closed_at IS NULL
               GROUP BY 1, 2, 5""",
        ),
        "lead_conversion": (
            ["source", "channel", "leads", "converted", "conversion_rate", "median_days_to_convert"],
            """SELECT source, channel, count(*), count(converted_at) FILTER (WHERE stage = 'won'),
                      avg((stage = 'won')::INT),
                      quantile_cont(date_diff('second', created_at, converted_at) / 86400.0, 0.5)
                        FILTER (WHERE stage = 'won')
               FROM leads GROUP BY 1, 2""",
        ),
        "crm_interactions_by_channel": (
            ["channel", "interactions", "leads", "positive", "neutral", "negative", "positive_rate"],
            f"""SELECT channel, count(*), count(DISTINCT lead_id), sum((outcome = 'positive')::INT),
                      sum((outcome = 'neutral')::INT), sum((outcome = 'negative')::INT),
                      avg((outcome = 'positive')::INT)
               FROM crm_interactions WHERE created_at >= {d30} AND created_at < {t} GROUP BY 1""",
        ),
        "ticket_sla": (
            ["priority", "opened", "resolved", "open_now", "sla_met_rate", "median_resolution_hours"],
            """SELECT priority, count(*), count(resolved_at), count(*) - count(resolved_at),
                      avg(CASE WHEN date_diff('second', opened_at, resolved_at) <= sla_hours * 3600 THEN 1.0 ELSE 0.0 END)
                        FILTER (WHERE resolved_at IS NOT NULL),
                      quantile_cont(date_diff('second', opened_at, resolved_at) / 3600.0, 0.5)
               FROM tickets GROUP BY 1""",
        ),
        "call_center_performance": (
            ["handled_by", "calls", "answered", "answer_rate", "avg_wait_s", "avg_handle_s",
             "voice_quality", "resolution_rate"],
            """SELECT handled_by, count(*), sum(answered::INT), avg(answered::INT), avg(wait_seconds),
                      avg(CASE WHEN answered THEN handle_seconds END),
                      avg(CASE WHEN answered THEN voice_quality END),
                      avg(CASE WHEN answered THEN (outcome IN ('resolved', 'booking_made'))::INT END)
               FROM calls GROUP BY 1""",
        ),
        "call_agent_performance": (
            ["handled_by", "agent_id", "agent", "calls", "answered", "answer_rate", "avg_handle_s",
             "voice_quality", "resolution_rate"],
            """SELECT c.handled_by, c.agent_id,
                      CASE WHEN c.handled_by = 'voice_ai' AND max(a.name) IS NOT NULL THEN max(a.name)
                           ELSE 'agent ' || c.agent_id END,
                      count(*), sum(c.answered::INT), avg(c.answered::INT),
                      avg(CASE WHEN c.answered THEN c.handle_seconds END),
                      avg(CASE WHEN c.answered THEN c.voice_quality END),
                      avg(CASE WHEN c.answered THEN (c.outcome IN ('resolved', 'booking_made'))::INT END)
               FROM calls c LEFT JOIN ai_agents a ON a.agent_id = c.agent_id AND c.handled_by = 'voice_ai'
               GROUP BY 1, 2""",
        ),
        "ai_agent_daily": (
            ["day", "agent_id", "agent", "track", "queries", "successes", "success_rate", "avg_response_ms",
             "csat", "revenue_generated"],
            """SELECT date_trunc('day', i.started_at)::DATE, i.agent_id, a.name, a.track, count(*),
                      sum(i.success::INT), avg(i.success::INT), avg(i.response_ms), avg(i.csat),
                      sum(i.revenue_attributed)
               FROM ai_interactions i JOIN ai_agents a USING (agent_id) GROUP BY 1, 2, 3, 4""",
        ),
        "calls_daily": (
            ["day", "handled_by", "calls", "answered", "answer_rate", "avg_wait_s", "avg_handle_s",
             "resolution_rate"],
            """SELECT date_trunc('day', started_at)::DATE, handled_by, count(*), sum(answered::INT),
                      avg(answered::INT), avg(wait_seconds), avg(CASE WHEN answered THEN handle_seconds END),
                      avg(CASE WHEN answered THEN (outcome IN ('resolved', 'booking_made'))::INT END)
               FROM calls GROUP BY 1, 2""",
        ),
        "payments_daily": (
            ["day", "provider", "attempts", "succeeded", "failed", "success_rate", "collected", "refunded", "fees"],
            """SELECT created_at::DATE, provider,
                      sum(CASE WHEN amount >= 0 THEN 1 ELSE 0 END),
                      sum(CASE WHEN amount >= 0 AND status = 'succeeded' THEN 1 ELSE 0 END),
                      sum(CASE WHEN amount >= 0 AND status = 'failed' THEN 1 ELSE 0 END),
                      sum(CASE WHEN amount >= 0 AND status = 'succeeded' THEN 1 ELSE 0 END)
                        / nullif(sum(CASE WHEN amount >= 0 THEN 1 ELSE 0 END), 0),
                      sum(CASE WHEN amount >= 0 AND status = 'succeeded' THEN amount ELSE 0 END),
                      sum(CASE WHEN amount < 0 THEN -amount ELSE 0 END),
                      sum(fee)
               FROM payments GROUP BY 1, 2""",
        ),
        "notification_delivery": (
            ["channel", "kind", "sent", "delivered", "opened", "delivery_rate", "open_rate"],
            f"""SELECT channel, kind, count(*), sum(delivered::INT), sum(opened::INT), avg(delivered::INT),
                       sum(opened::INT) / nullif(sum(delivered::INT), 0)
                FROM notifications WHERE sent_at >= {d30} AND sent_at < {t} GROUP BY 1, 2""",
        ),
        "churn_by_segment": (
            ["segment", "customers", "retained", "churned", "churn_rate", "avg_nps"],
            f"""WITH base AS (
                  SELECT DISTINCT customer_id FROM bookings
                  WHERE {REVENUE} AND created_at >= {t} - INTERVAL 730 DAY AND created_at < {t} - INTERVAL 365 DAY),
                again AS (
                  SELECT DISTINCT customer_id FROM bookings
                  WHERE {REVENUE} AND created_at >= {t} - INTERVAL 365 DAY AND created_at < {t})
                SELECT s.segment, count(c.customer_id), count(g.customer_id),
                       count(c.customer_id) - count(g.customer_id),
                       1 - count(g.customer_id) / nullif(count(c.customer_id), 0), avg(c.nps)
                FROM (VALUES ('budget'), ('standard'), ('premium'), ('business')) s(segment)
                LEFT JOIN (customers c JOIN base USING (customer_id)) ON c.segment = s.segment
                LEFT JOIN again g ON g.customer_id = c.customer_id
                GROUP BY 1""",
        ),
    }


def revenue_by_channel(con, a):
    """Growth figures from daily sums added up in Python."""
    t = dt.datetime.fromisoformat(a)
    rows = con.execute(
        f"SELECT channel, created_at, price_paid FROM bookings WHERE {REVENUE} "
        "AND created_at >= ? AND created_at < ?", [t - dt.timedelta(days=60), t]).fetchall()
    channels = [r[0] for r in con.execute("SELECT DISTINCT channel FROM bookings").fetchall()]

    def total(channel, days_from, days_to):
        lo, hi = t - dt.timedelta(days=days_from), t - dt.timedelta(days=days_to)
        return sum((p for c, ts, p in rows if c == channel and lo <= ts < hi), decimal.Decimal(0))

    def growth(cur, prev):
        return None if prev == 0 else float((cur - prev) / prev)

    all30 = sum(total(c, 30, 0) for c in channels)
    out = []
    for c in channels:
        cur = total(c, 30, 0)
        out.append((c, cur, None if all30 == 0 else float(cur / all30),
                    growth(total(c, 1, 0), total(c, 2, 1)),
                    growth(total(c, 7, 0), total(c, 14, 7)),
                    growth(cur, total(c, 60, 30))))
    return ["channel", "revenue", "share", "growth_dod", "growth_wow", "growth_mom"], out


def customer_kpis(con, a):
    t = f"TIMESTAMP '{a}'"
    customers = con.execute("SELECT count(*) FROM customers").fetchone()[0]
    csat = con.execute("SELECT avg(csat) FROM tickets").fetchone()[0]
    answers = [r[0] for r in con.execute("SELECT nps FROM customers WHERE nps IS NOT NULL").fetchall()]
    nps = None if not answers else 100.0 * (sum(x >= 9 for x in answers) - sum(x <= 6 for x in answers)) / len(answers)
    revenue, payers = con.execute(
        f"SELECT sum(price_paid), count(DISTINCT customer_id) FROM bookings WHERE {REVENUE}").fetchone()
    clv = None if not payers else (revenue / payers).quantize(decimal.Decimal("0.01"), decimal.ROUND_HALF_UP)
    base = {r[0] for r in con.execute(
        f"SELECT customer_id FROM bookings WHERE {REVENUE} AND created_at >= {t} - INTERVAL 730 DAY "
        f"AND created_at < {t} - INTERVAL 365 DAY").fetchall()}
    again = {r[0] for r in con.execute(
        f"SELECT customer_id FROM bookings WHERE {REVENUE} AND created_at >= {t} - INTERVAL 365 DAY "
        f"AND created_at < {t}").fetchall()}
    retention = None if not base else len(base & again) / len(base)
    hours = con.execute(
        "SELECT avg(date_diff('microsecond', opened_at, resolved_at) / 3600e6) FROM tickets").fetchone()[0]
    return (["customers", "csat", "nps", "clv", "retention_rate", "churn_rate", "support_resolution_hours"],
            [(customers, csat, nps, clv, retention, None if retention is None else 1 - retention, hours)])


def kpi_rows(con, a):
    """The KPIs that do not depend on the engine's telemetry: (kpi, value, comparison, target, status)."""
    t = f"TIMESTAMP '{a}'"
    d30 = f"{t} - INTERVAL 30 DAY"
    one = lambda sql: con.execute(sql).fetchone()[0]
    cur = one(f"SELECT sum(price_paid) FROM bookings WHERE {REVENUE} AND created_at >= {d30} AND created_at < {t}")
    prev = one(f"SELECT sum(price_paid) FROM bookings WHERE {REVENUE} AND created_at >= {t} - INTERVAL 60 DAY "
               f"AND created_at < {d30}")
    _, ((_, _, nps, _, _, churn, _),) = customer_kpis(con, a)
    values = {
        "ai_success_rate": one(f"SELECT avg(success::INT) FROM ai_interactions WHERE started_at >= {d30} AND started_at < {t}"),
        "ai_response_time_ms": one(f"SELECT avg(response_ms) FROM ai_interactions WHERE started_at >= {d30} AND started_at < {t}"),
        "revenue_30d": float(cur or 0),
        "revenue_growth_mom": None if not prev else float((cur or 0) - prev) / float(prev),
        "lead_conversion_rate": one("SELECT avg((stage = 'won')::INT) FROM leads"),
        "ticket_sla_met_rate": one(
            f"SELECT avg((date_diff('second', opened_at, resolved_at) <= sla_hours * 3600)::INT) FROM tickets "
            f"WHERE resolved_at >= {d30} AND resolved_at < {t}"),
        "call_answer_rate": one(f"SELECT avg(answered::INT) FROM calls WHERE started_at >= {d30} AND started_at < {t}"),
        "csat": one(f"SELECT avg(csat) FROM tickets WHERE opened_at >= {d30} AND opened_at < {t}"),
        "nps": nps,
        "churn_rate": churn,
    }
    targets = {  # kpi: (comparison, target, warning), the defaults of spirit.kpi_targets
        "ai_success_rate": (">", 0.94, 0.92), "ai_response_time_ms": ("<", 1000, 1500),
        "revenue_30d": (">", 0, 0), "revenue_growth_mom": (">", 0, -0.05),
        "lead_conversion_rate": (">", 0.2, 0.15), "ticket_sla_met_rate": (">", 0.9, 0.8),
        "call_answer_rate": (">", 0.9, 0.85), "csat": (">", 4.0, 3.5), "nps": (">", 30, 10),
        "churn_rate": ("<", 0.35, 0.45),
    }
    out = []
    for kpi, value in values.items():
        comparison, target, warning = targets[kpi]
        value = None if value is None else float(value)
        if value is None:
            status = None
        elif (value > target) if comparison == ">" else (value < target):
            status = "ok"
        elif (value >= warning) if comparison == ">" else (value <= warning):
            status = "warning"
        else:
            status = "breach"
        out.append((kpi, value, comparison, float(target), status))
    return ["kpi", "value", "comparison", "target", "status"], out


def revenue_summary(con, lo, hi, granularity):
    return ["period_start", "channel", "bookings", "revenue"], con.execute(
        f"SELECT date_trunc('{granularity}', created_at), channel, count(*), sum(price_paid) FROM bookings "
        f"WHERE {REVENUE} AND created_at >= TIMESTAMP '{lo}' AND created_at < TIMESTAMP '{hi}' GROUP BY 1, 2"
    ).fetchall()


def same(x, y):
    if x is None or y is None:
        return x is None and y is None
    if isinstance(x, bool) or isinstance(y, bool):
        return x == y
    if isinstance(x, float) or isinstance(y, float):
        x, y = float(x), float(y)
        return math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(x, (int, decimal.Decimal)) and isinstance(y, (int, decimal.Decimal)):
        return decimal.Decimal(x) == decimal.Decimal(y)
    return x == y


def sort_key(row):
    return tuple((v is None, "" if v is None else (round(float(v), 6) if isinstance(v, (int, float, decimal.Decimal)) and not isinstance(v, bool) else str(v))) for v in row)


def compare(name, columns, expected, got_columns, got):
    problems = []
    if got_columns != columns:
        problems.append(f"columns {got_columns}, expected {columns}")
    expected = sorted((tuple(r) for r in expected), key=sort_key)
    got = sorted((tuple(r) for r in got), key=sort_key)
    if len(expected) != len(got):
        problems.append(f"{len(got)} rows, expected {len(expected)}")
    for e, g in zip(expected, got):
        if len(e) != len(g) or not all(same(x, y) for x, y in zip(e, g)):
            problems.append(f"row differs:\n    expected {e}\n    got      {g}")
            break
    if problems:
        print(f"MISMATCH {name}: " + "; ".join(problems))
        return False
    print(f"ok {name}: {len(got)} rows")
    return True


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--store", required=True)
    parser.add_argument("--as-of", required=True)
    parser.add_argument("--human-cost", type=float, default=4.5)
    parser.add_argument("--ai-cost", type=float, default=0.05)
    args = parser.parse_args()
    con = duckdb.connect(args.store, read_only=True)
    ok = True
    with psycopg.connect(args.dsn, autocommit=True) as pg:
        def engine(sql, columns=None):
            with pg.cursor() as cur:
                cur.execute(sql)
                names = [d.name for d in cur.description]
                rows = cur.fetchall()
            if columns is not None:
                index = [names.index(c) for c in columns]
                rows = [tuple(r[i] for i in index) for r in rows]
                names = columns
            return names, rows

        for view, (columns, sql) in reference_queries(args.as_of, args.human_cost, args.ai_cost).items():
            expected = con.execute(sql).fetchall()
            names, rows = engine(f"SELECT * FROM metrics.{view}")
            ok &= compare(view, columns, expected, names, rows)
        for view, compute in [("revenue_by_channel", revenue_by_channel), ("customer_kpis", customer_kpis)]:
            columns, expected = compute(con, args.as_of)
            names, rows = engine(f"SELECT * FROM metrics.{view}")
            ok &= compare(view, columns, expected, names, rows)
        columns, expected = kpi_rows(con, args.as_of)
        _, rows = engine("SELECT * FROM metrics.kpi_overview WHERE kpi NOT IN "
                         "('uptime', 'query_response_ms', 'error_rate')", columns)
        ok &= compare("kpi_overview", columns, expected, columns, rows)
        _, telemetry = engine("SELECT kpi FROM metrics.kpi_overview WHERE kpi IN "
                              "('uptime', 'query_response_ms', 'error_rate')")
        if len(telemetry) != 3:
            print(f"MISMATCH kpi_overview: telemetry KPIs {telemetry}")
            ok = False

        # Filters on the time column.
        cols, sql = reference_queries(args.as_of, 0, 0)["revenue_daily"]
        expected = [r for r in con.execute(sql).fetchall() if r[0] >= dt.date(2026, 6, 1)]
        names, rows = engine("SELECT * FROM metrics.revenue_daily WHERE day >= DATE '2026-06-01'")
        ok &= compare("revenue_daily WHERE day >= 2026-06-01", cols, expected, names, rows)

        # The table function, at three granularities.
        for lo, hi, granularity, call in [
            ("2026-06-01", "2026-07-01", "week", "revenue_summary('2026-06-01', '2026-07-01', 'week')"),
            ("2026-06-30", "2026-07-01", "hour", "revenue_summary('2026-06-30', '2026-07-01', 'hour')"),
            ("2026-04-01", "2026-07-01", "day", "revenue_summary('2026-04-01', '2026-07-01')"),
        ]:
            columns, expected = revenue_summary(con, lo, hi, granularity)
            _, rows = engine(f"SELECT period_start, channel, bookings, revenue FROM {call}", None)
            ok &= compare(call, columns, expected, columns, rows)
        try:
            engine("SELECT * FROM revenue_summary('2026-06-01', '2026-07-01', 'fortnight')")
            print("MISMATCH revenue_summary: an unknown granularity was accepted")
            ok = False
        except psycopg.Error as e:
            if e.sqlstate != "22023" or "hour, day, week, month" not in str(e):
                print(f"MISMATCH revenue_summary: unknown granularity gave {e.sqlstate}: {e}")
                ok = False
            else:
                print("ok revenue_summary rejects an unknown granularity (22023)")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
