-- Performance of each AI agent over the last 30 days.
CREATE OR REPLACE VIEW metrics.ai_agent_performance AS
WITH activity AS (
    SELECT
        agent_id,
        count(*) AS queries,
        count(*) FILTER (WHERE success) AS successes,
        avg(response_ms) AS avg_response_ms,
        quantile_cont(response_ms, 0.95) AS p95_response_ms,
        avg(csat) AS csat,
        sum(revenue_attributed) AS revenue
    FROM ai_interactions
    WHERE started_at >= spirit.as_of() - INTERVAL 30 DAY AND started_at < spirit.as_of()
    GROUP BY agent_id
)
SELECT
    a.agent_id,
    a.name AS agent,
    a.track,
    coalesce(x.queries, 0) AS queries,
    CAST(coalesce(x.queries, 0) AS DOUBLE) / 30 AS queries_per_day,
    CAST(x.successes AS DOUBLE) / x.queries AS success_rate,
    CAST(x.avg_response_ms AS DOUBLE) AS avg_response_ms,
    CAST(x.p95_response_ms AS DOUBLE) AS p95_response_ms,
    CAST(x.csat AS DOUBLE) AS csat,
    CAST(coalesce(x.revenue, 0) AS DECIMAL(18, 2)) AS revenue_generated,
    CAST(coalesce(x.successes * spirit.human_cost_per_query_eur() - x.queries * spirit.ai_cost_per_query_eur(), 0) AS DECIMAL(18, 2)) AS cost_savings_vs_human
FROM ai_agents a
LEFT JOIN activity x ON x.agent_id = a.agent_id;

COMMENT ON VIEW metrics.ai_agent_performance IS 'Each of the AI agents over the interactions started in the last 30 days (ending at spirit.as_of(), normally now). Every agent appears; an agent without interactions shows 0 queries, NULL rates and averages, and 0 EUR.';
COMMENT ON COLUMN metrics.ai_agent_performance.agent_id IS 'Agent identifier (ai_agents.agent_id).';
COMMENT ON COLUMN metrics.ai_agent_performance.agent IS 'Agent name.';
COMMENT ON COLUMN metrics.ai_agent_performance.track IS 'Track 1 (customer-facing), 2 (operations) or 3 (analytics and back office).';
COMMENT ON COLUMN metrics.ai_agent_performance.queries IS 'Requests handled in the last 30 days.';
COMMENT ON COLUMN metrics.ai_agent_performance.queries_per_day IS 'queries / 30.';
COMMENT ON COLUMN metrics.ai_agent_performance.success_rate IS 'Fraction 0-1 of requests completed without human hand-off; NULL without requests. Target: above 0.94.';
COMMENT ON COLUMN metrics.ai_agent_performance.avg_response_ms IS 'Mean time to answer in milliseconds; NULL without requests. Target: under 1000.';
COMMENT ON COLUMN metrics.ai_agent_performance.p95_response_ms IS '95th percentile of the time to answer in milliseconds (interpolated); NULL without requests.';
COMMENT ON COLUMN metrics.ai_agent_performance.csat IS 'Mean customer rating 1-5 of the rated requests; NULL when none was rated.';
COMMENT ON COLUMN metrics.ai_agent_performance.revenue_generated IS 'Booking revenue in EUR attributed to the agent''s requests (ai_interactions.revenue_attributed).';
COMMENT ON COLUMN metrics.ai_agent_performance.cost_savings_vs_human IS 'EUR saved against people doing the work: successful requests x human_cost_per_query_eur - requests x ai_cost_per_query_eur (set in spirit.toml, shown in spirit.metric_settings).';
