-- The engine's own health over the last 24 hours, from its telemetry.
CREATE OR REPLACE VIEW metrics.operational_health AS
WITH clock AS (
    SELECT make_timestamp(epoch_us(get_current_timestamp())) AS now
), window_bounds AS (
    SELECT now - INTERVAL 24 HOUR AS period_start, now AS period_end FROM clock
), beats AS (
    SELECT
        count(DISTINCT CAST(floor(epoch(beat_at) / 10) AS BIGINT)) AS buckets,
        min(beat_at) AS first_beat
    FROM spirit.engine_heartbeats, window_bounds
    WHERE beat_at >= period_start AND beat_at <= period_end
), first_ever AS (
    SELECT min(beat_at) AS first_beat FROM spirit.engine_heartbeats
), queries AS (
    SELECT
        count(*) AS queries,
        quantile_cont(duration_ms, 0.50) AS p50_ms,
        quantile_cont(duration_ms, 0.95) AS p95_ms,
        quantile_cont(duration_ms, 0.99) AS p99_ms,
        CAST(count(*) FILTER (WHERE error_code IS NOT NULL) AS DOUBLE) / nullif(count(*), 0) AS error_rate,
        CAST(count(*) FILTER (WHERE cache_hit) AS DOUBLE) / nullif(count(*), 0) AS cache_hit_rate
    FROM spirit.query_log, window_bounds
    WHERE finished_at >= period_start AND finished_at <= period_end
), latest AS (
    SELECT arg_max(active_connections, beat_at) AS active_connections
    FROM spirit.engine_heartbeats, clock
    WHERE beat_at >= now - INTERVAL 60 SECOND
)
SELECT
    w.period_start,
    w.period_end,
    CAST(least(1.0, b.buckets * 10.0 / nullif(
        epoch(w.period_end) - epoch(greatest(w.period_start, f.first_beat)), 0)) AS DOUBLE) AS uptime,
    q.queries,
    CAST(q.p50_ms AS DOUBLE) AS p50_ms,
    CAST(q.p95_ms AS DOUBLE) AS p95_ms,
    CAST(q.p99_ms AS DOUBLE) AS p99_ms,
    q.error_rate,
    CAST(coalesce(l.active_connections, 0) AS BIGINT) AS active_connections,
    q.cache_hit_rate
FROM window_bounds w, beats b, first_ever f, queries q, latest l;

COMMENT ON VIEW metrics.operational_health IS 'The engine''s health over the last 24 hours (by the current time, not spirit.as_of()), from its own telemetry: spirit.engine_heartbeats (one every 10 s while it runs) and spirit.query_log (every statement served over pg-wire).';
COMMENT ON COLUMN metrics.operational_health.period_start IS 'Start of the window: 24 hours ago (UTC).';
COMMENT ON COLUMN metrics.operational_health.period_end IS 'End of the window: now (UTC).';
COMMENT ON COLUMN metrics.operational_health.uptime IS 'Fraction 0-1 of the window the engine was up: 10-second heartbeat buckets seen / 10-second buckets in the window (counted from the first heartbeat ever when that is later); NULL before the first heartbeat. Target: above 0.999.';
COMMENT ON COLUMN metrics.operational_health.queries IS 'Statements served in the window.';
COMMENT ON COLUMN metrics.operational_health.p50_ms IS 'Median statement duration in milliseconds (receipt to last row sent); NULL without statements.';
COMMENT ON COLUMN metrics.operational_health.p95_ms IS '95th percentile of statement duration in milliseconds; NULL without statements. Target: under 200.';
COMMENT ON COLUMN metrics.operational_health.p99_ms IS '99th percentile of statement duration in milliseconds; NULL without statements.';
COMMENT ON COLUMN metrics.operational_health.error_rate IS 'Fraction 0-1 of statements that failed; NULL without statements. Target: under 0.005.';
COMMENT ON COLUMN metrics.operational_health.active_connections IS 'Client connections open at the latest heartbeat (at most 10 s old); 0 when the engine wrote none in the last minute.';
COMMENT ON COLUMN metrics.operational_health.cache_hit_rate IS 'Fraction 0-1 of statements answered from the result cache; NULL without statements.';
