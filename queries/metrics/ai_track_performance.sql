-- The three AI agent tracks over the last 30 days.
CREATE OR REPLACE VIEW metrics.ai_track_performance AS
WITH tracks AS (
    SELECT track, count(*) AS agents FROM ai_agents GROUP BY track
), activity AS (
    SELECT
        a.track,
        count(*) AS queries,
        count(*) FILTER (WHERE i.success) AS successes,
        avg(i.response_ms) AS avg_response_ms,
        quantile_cont(i.response_ms, 0.95) AS p95_response_ms,
        avg(i.csat) AS csat,
        sum(i.revenue_attributed) AS revenue
    FROM ai_interactions i
    JOIN ai_agents a ON a.agent_id = i.agent_id
    WHERE i.started_at >= spirit.as_of() - INTERVAL 30 DAY AND i.started_at < spirit.as_of()
    GROUP BY a.track
)
SELECT
    t.track,
    t.agents,
    coalesce(x.queries, 0) AS queries,
    CAST(coalesce(x.queries, 0) AS DOUBLE) / 30 AS queries_per_day,
    CAST(x.successes AS DOUBLE) / x.queries AS success_rate,
    CAST(x.avg_response_ms AS DOUBLE) AS avg_response_ms,
    CAST(x.p95_response_ms AS DOUBLE) AS p95_response_ms,
    CAST(x.csat AS DOUBLE) AS csat,
    CAST(coalesce(x.revenue, 0) AS DECIMAL(18, 2)) AS revenue_generated,
    CAST(coalesce(x.successes * spirit.human_cost_per_query_eur() - x.queries * spirit.ai_cost_per_query_eur(), 0) AS DECIMAL(18, 2)) AS cost_savings_vs_human
FROM tracks t
LEFT JOIN activity x ON x.track = t.track;

COMMENT ON VIEW metrics.ai_track_performance IS 'The AI agent tracks (1 customer-facing sales and service, 2 operations, 3 analytics and back office) over the interactions started in the last 30 days (ending at spirit.as_of(), normally now); same definitions as metrics.ai_agent_performance, over all agents of the track.';
COMMENT ON COLUMN metrics.ai_track_performance.track IS 'Track 1, 2 or 3.';
COMMENT ON COLUMN metrics.ai_track_performance.agents IS 'Number of agents in the track.';
COMMENT ON COLUMN metrics.ai_track_performance.queries IS 'Requests handled by the track''s agents in the last 30 days.';
COMMENT ON COLUMN metrics.ai_track_performance.queries_per_day IS 'queries / 30.';
COMMENT ON COLUMN metrics.ai_track_performance.success_rate IS 'Fraction 0-1 of requests completed without human hand-off; NULL without requests.';
COMMENT ON COLUMN metrics.ai_track_performance.avg_response_ms IS 'Mean time to answer in milliseconds; NULL without requests.';
COMMENT ON COLUMN metrics.ai_track_performance.p95_response_ms IS '95th percentile of the time to answer in milliseconds (interpolated); NULL without requests.';
COMMENT ON COLUMN metrics.ai_track_performance.csat IS 'Mean customer rating 1-5 of the rated requests; NULL when none was rated.';
COMMENT ON COLUMN metrics.ai_track_performance.revenue_generated IS 'Booking revenue in EUR attributed to the track''s requests.';
COMMENT ON COLUMN metrics.ai_track_performance.cost_savings_vs_human IS 'EUR saved against people: successful requests x human_cost_per_query_eur - requests x ai_cost_per_query_eur.';
