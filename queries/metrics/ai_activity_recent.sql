-- What each AI agent did in the last 5 minutes and the last hour.
CREATE OR REPLACE VIEW metrics.ai_activity_recent AS
WITH recent AS (
    SELECT
        agent_id,
        count(*) FILTER (WHERE started_at >= spirit.as_of() - INTERVAL 5 MINUTE) AS queries_5m,
        count(*) FILTER (WHERE started_at >= spirit.as_of() - INTERVAL 5 MINUTE AND success) AS successes_5m,
        avg(response_ms) FILTER (WHERE started_at >= spirit.as_of() - INTERVAL 5 MINUTE) AS avg_response_ms_5m,
        count(*) AS queries_1h,
        count(*) FILTER (WHERE success) AS successes_1h,
        avg(response_ms) AS avg_response_ms_1h
    FROM ai_interactions
    WHERE started_at >= spirit.as_of() - INTERVAL 1 HOUR AND started_at < spirit.as_of()
    GROUP BY agent_id
), seen AS (
    SELECT agent_id, max(started_at) AS last_seen
    FROM ai_interactions
    WHERE started_at <= spirit.as_of()
    GROUP BY agent_id
)
SELECT
    a.agent_id,
    a.name AS agent,
    a.track,
    coalesce(r.queries_5m, 0) AS queries_5m,
    CAST(r.successes_5m AS DOUBLE) / nullif(r.queries_5m, 0) AS success_rate_5m,
    CAST(r.avg_response_ms_5m AS DOUBLE) AS avg_response_ms_5m,
    coalesce(r.queries_1h, 0) AS queries_1h,
    CAST(r.successes_1h AS DOUBLE) / nullif(r.queries_1h, 0) AS success_rate_1h,
    CAST(r.avg_response_ms_1h AS DOUBLE) AS avg_response_ms_1h,
    s.last_seen
FROM ai_agents a
LEFT JOIN recent r ON r.agent_id = a.agent_id
LEFT JOIN seen s ON s.agent_id = a.agent_id;

COMMENT ON VIEW metrics.ai_activity_recent IS 'Live activity of every AI agent: requests in the last 5 minutes and the last hour before spirit.as_of() (normally now). Every agent appears; without requests the counts are 0 and the rates and averages NULL.';
COMMENT ON COLUMN metrics.ai_activity_recent.agent_id IS 'Agent identifier (ai_agents.agent_id).';
COMMENT ON COLUMN metrics.ai_activity_recent.agent IS 'Agent name.';
COMMENT ON COLUMN metrics.ai_activity_recent.track IS 'Track 1, 2 or 3.';
COMMENT ON COLUMN metrics.ai_activity_recent.queries_5m IS 'Requests started in the last 5 minutes.';
COMMENT ON COLUMN metrics.ai_activity_recent.success_rate_5m IS 'Fraction 0-1 of those completed without human hand-off; NULL without requests.';
COMMENT ON COLUMN metrics.ai_activity_recent.avg_response_ms_5m IS 'Mean time to answer of those requests in milliseconds; NULL without requests.';
COMMENT ON COLUMN metrics.ai_activity_recent.queries_1h IS 'Requests started in the last hour.';
COMMENT ON COLUMN metrics.ai_activity_recent.success_rate_1h IS 'Fraction 0-1 of those completed without human hand-off; NULL without requests.';
COMMENT ON COLUMN metrics.ai_activity_recent.avg_response_ms_1h IS 'Mean time to answer of those requests in milliseconds; NULL without requests.';
COMMENT ON COLUMN metrics.ai_activity_recent.last_seen IS 'When the agent last started a request (UTC); NULL if it never did.';
