-- Every platform KPI with its target and status, one row each.
CREATE OR REPLACE VIEW metrics.kpi_overview AS
WITH bounds AS (
    SELECT spirit.as_of() AS as_of, spirit.as_of() - INTERVAL 30 DAY AS month_start
), ai AS (
    SELECT CAST(count(*) FILTER (WHERE success) AS DOUBLE) / nullif(count(*), 0) AS success_rate,
           CAST(avg(response_ms) AS DOUBLE) AS response_ms
    FROM ai_interactions
    WHERE started_at >= spirit.as_of() - INTERVAL 30 DAY AND started_at < spirit.as_of()
), revenue AS (
    SELECT CAST(sum(price_paid) FILTER (WHERE created_at >= spirit.as_of() - INTERVAL 30 DAY) AS DOUBLE) AS cur,
           CAST(sum(price_paid) FILTER (WHERE created_at < spirit.as_of() - INTERVAL 30 DAY) AS DOUBLE) AS prev
    FROM bookings
    WHERE status IN ('confirmed', 'completed')
      AND created_at >= spirit.as_of() - INTERVAL 60 DAY AND created_at < spirit.as_of()
), crm AS (
    SELECT CAST(count(*) FILTER (WHERE stage = 'won') AS DOUBLE) / nullif(count(*), 0) AS conversion_rate,
           min(created_at) AS first_lead
    FROM leads
), sla AS (
    SELECT CAST(count(*) FILTER (WHERE resolved_at <= opened_at + to_hours(sla_hours)) AS DOUBLE)
               / nullif(count(*), 0) AS met_rate
    FROM tickets
    WHERE resolved_at >= spirit.as_of() - INTERVAL 30 DAY AND resolved_at < spirit.as_of()
), satisfaction AS (
    SELECT CAST(avg(csat) AS DOUBLE) AS csat
    FROM tickets
    WHERE opened_at >= spirit.as_of() - INTERVAL 30 DAY AND opened_at < spirit.as_of()
), answered AS (
    SELECT CAST(count(*) FILTER (WHERE answered) AS DOUBLE) / nullif(count(*), 0) AS answer_rate
    FROM calls
    WHERE started_at >= spirit.as_of() - INTERVAL 30 DAY AND started_at < spirit.as_of()
), survey AS (
    SELECT CAST(100 * (count(*) FILTER (WHERE nps >= 9) - count(*) FILTER (WHERE nps <= 6)) AS DOUBLE)
               / nullif(count(nps), 0) AS nps
    FROM customers
), churn AS (
    SELECT 1 - CAST(count(*) FILTER (WHERE EXISTS (SELECT 1 FROM bookings l WHERE l.customer_id = c.customer_id AND l.status IN ('confirmed', 'completed')
                  AND l.created_at >= spirit.as_of() - INTERVAL 365 DAY AND l.created_at < spirit.as_of())) AS DOUBLE)
               / nullif(count(*), 0) AS churn_rate
    FROM customers c
    WHERE EXISTS (SELECT 1 FROM bookings b WHERE b.customer_id = c.customer_id AND b.status IN ('confirmed', 'completed')
                  AND b.created_at >= spirit.as_of() - INTERVAL 730 DAY AND b.created_at < spirit.as_of() - INTERVAL 365 DAY)
), values_ AS (
    SELECT 'ai_success_rate' AS kpi, 'ai' AS family, ai.success_rate AS value, 'ratio' AS unit,
           b.month_start AS period_start, b.as_of AS period_end FROM ai, bounds b
    UNION ALL SELECT 'ai_response_time_ms', 'ai', ai.response_ms, 'ms', b.month_start, b.as_of FROM ai, bounds b
    UNION ALL SELECT 'uptime', 'operations', h.uptime, 'ratio', h.period_start, h.period_end FROM metrics.operational_health h
    UNION ALL SELECT 'query_response_ms', 'operations', h.p95_ms, 'ms', h.period_start, h.period_end FROM metrics.operational_health h
    UNION ALL SELECT 'error_rate', 'operations', h.error_rate, 'ratio', h.period_start, h.period_end FROM metrics.operational_health h
    UNION ALL SELECT 'revenue_30d', 'revenue', coalesce(r.cur, 0), 'EUR', b.month_start, b.as_of FROM revenue r, bounds b
    UNION ALL SELECT 'revenue_growth_mom', 'revenue', (r.cur - r.prev) / nullif(r.prev, 0), 'ratio',
           b.as_of - INTERVAL 60 DAY, b.as_of FROM revenue r, bounds b
    UNION ALL SELECT 'lead_conversion_rate', 'crm', c.conversion_rate, 'ratio', c.first_lead, b.as_of FROM crm c, bounds b
    UNION ALL SELECT 'ticket_sla_met_rate', 'crm', s.met_rate, 'ratio', b.month_start, b.as_of FROM sla s, bounds b
    UNION ALL SELECT 'call_answer_rate', 'call_center', a.answer_rate, 'ratio', b.month_start, b.as_of FROM answered a, bounds b
    UNION ALL SELECT 'csat', 'customers', s.csat, 'score 1-5', b.month_start, b.as_of FROM satisfaction s, bounds b
    UNION ALL SELECT 'nps', 'customers', s.nps, 'score -100..100', NULL, b.as_of FROM survey s, bounds b
    UNION ALL SELECT 'churn_rate', 'customers', c.churn_rate, 'ratio', b.as_of - INTERVAL 730 DAY, b.as_of
           FROM churn c, bounds b
)
SELECT
    v.kpi,
    v.family,
    CAST(v.value AS DOUBLE) AS value,
    v.unit,
    t.target,
    t.comparison,
    CASE
        WHEN v.value IS NULL OR t.target IS NULL THEN NULL
        WHEN (t.comparison = '>' AND v.value > t.target) OR (t.comparison = '<' AND v.value < t.target) THEN 'ok'
        WHEN (t.comparison = '>' AND v.value >= t.warning) OR (t.comparison = '<' AND v.value <= t.warning) THEN 'warning'
        ELSE 'breach'
    END AS status,
    CAST(v.period_start AS TIMESTAMP) AS period_start,
    CAST(v.period_end AS TIMESTAMP) AS period_end
FROM values_ v
LEFT JOIN spirit.kpi_targets t ON t.kpi = v.kpi;

COMMENT ON VIEW metrics.kpi_overview IS 'Every platform KPI with its value, target and status, one row per KPI. Targets come from spirit.kpi_targets (spirit.toml [kpi_targets.<kpi>]); windows end at spirit.as_of() (normally now), except the operations KPIs, which use the engine''s own telemetry of the last 24 hours. Revenue is price_paid of bookings with status confirmed or completed, by created_at.';
COMMENT ON COLUMN metrics.kpi_overview.kpi IS 'KPI name: ai_success_rate, ai_response_time_ms, uptime, query_response_ms, error_rate, revenue_30d, revenue_growth_mom, lead_conversion_rate, ticket_sla_met_rate, call_answer_rate, csat, nps or churn_rate (spirit.kpi_targets describes each).';
COMMENT ON COLUMN metrics.kpi_overview.family IS 'Area: ai, operations, revenue, crm, call_center or customers.';
COMMENT ON COLUMN metrics.kpi_overview.value IS 'The KPI''s value over its period, in unit; NULL when there is no data to compute it (for example no requests, or no revenue in the previous period for growth).';
COMMENT ON COLUMN metrics.kpi_overview.unit IS 'Unit of value and target: ratio (fraction 0-1), ms, EUR or a score.';
COMMENT ON COLUMN metrics.kpi_overview.target IS 'The value to beat, from spirit.kpi_targets.';
COMMENT ON COLUMN metrics.kpi_overview.comparison IS '> when the value must be above the target, < when below.';
COMMENT ON COLUMN metrics.kpi_overview.status IS 'ok when value beats the target; warning when it misses the target but reaches the warning level (spirit.kpi_targets.warning, inclusive); breach otherwise; NULL when value is NULL.';
COMMENT ON COLUMN metrics.kpi_overview.period_start IS 'Start of the period the value covers (UTC); NULL for all-time figures.';
COMMENT ON COLUMN metrics.kpi_overview.period_end IS 'End of the period the value covers (UTC).';
