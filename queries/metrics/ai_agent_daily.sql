-- Each AI agent per day: a time series for dashboards.
CREATE OR REPLACE VIEW metrics.ai_agent_daily AS
SELECT
    CAST(i.started_at AS DATE) AS day,
    i.agent_id,
    any_value(a.name) AS agent,
    any_value(a.track) AS track,
    count(*) AS queries,
    count(*) FILTER (WHERE i.success) AS successes,
    CAST(count(*) FILTER (WHERE i.success) AS DOUBLE) / count(*) AS success_rate,
    CAST(avg(i.response_ms) AS DOUBLE) AS avg_response_ms,
    CAST(avg(i.csat) AS DOUBLE) AS csat,
    CAST(sum(i.revenue_attributed) AS DECIMAL(18, 2)) AS revenue_generated
FROM ai_interactions i
LEFT JOIN ai_agents a ON a.agent_id = i.agent_id
GROUP BY CAST(i.started_at AS DATE), i.agent_id;

COMMENT ON VIEW metrics.ai_agent_daily IS 'Each AI agent per UTC day of ai_interactions.started_at: a time series for dashboards. Filter on day: the filter reaches the interactions scan. Days without requests do not appear.';
COMMENT ON COLUMN metrics.ai_agent_daily.day IS 'UTC calendar day the requests arrived.';
COMMENT ON COLUMN metrics.ai_agent_daily.agent_id IS 'Agent identifier (ai_agents.agent_id).';
COMMENT ON COLUMN metrics.ai_agent_daily.agent IS 'Agent name.';
COMMENT ON COLUMN metrics.ai_agent_daily.track IS 'Track 1, 2 or 3.';
COMMENT ON COLUMN metrics.ai_agent_daily.queries IS 'Requests handled that day.';
COMMENT ON COLUMN metrics.ai_agent_daily.successes IS 'Of those, requests completed without human hand-off.';
COMMENT ON COLUMN metrics.ai_agent_daily.success_rate IS 'successes / queries, fraction 0-1.';
COMMENT ON COLUMN metrics.ai_agent_daily.avg_response_ms IS 'Mean time to answer in milliseconds.';
COMMENT ON COLUMN metrics.ai_agent_daily.csat IS 'Mean customer rating 1-5 of the rated requests; NULL when none was rated.';
COMMENT ON COLUMN metrics.ai_agent_daily.revenue_generated IS 'Booking revenue in EUR attributed to that day''s requests.';
