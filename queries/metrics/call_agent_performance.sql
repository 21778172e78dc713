-- Each call-center employee and voice AI agent.
CREATE OR REPLACE VIEW metrics.call_agent_performance AS
SELECT
    c.handled_by,
    c.agent_id,
    CASE WHEN c.handled_by = 'voice_ai' THEN coalesce(any_value(a.name), 'agent ' || c.agent_id)
         ELSE 'agent ' || c.agent_id END AS agent,
    count(*) AS calls,
    count(*) FILTER (WHERE c.answered) AS answered,
    CAST(count(*) FILTER (WHERE c.answered) AS DOUBLE) / count(*) AS answer_rate,
    CAST(avg(c.handle_seconds) FILTER (WHERE c.answered) AS DOUBLE) AS avg_handle_s,
    CAST(avg(c.voice_quality) FILTER (WHERE c.answered) AS DOUBLE) AS voice_quality,
    CAST(count(*) FILTER (WHERE c.answered AND c.outcome IN ('resolved', 'booking_made')) AS DOUBLE)
        / nullif(count(*) FILTER (WHERE c.answered), 0) AS resolution_rate
FROM calls c
LEFT JOIN ai_agents a ON c.handled_by = 'voice_ai' AND a.agent_id = c.agent_id
GROUP BY c.handled_by, c.agent_id;

COMMENT ON VIEW metrics.call_agent_performance IS 'All inbound calls ever, per call-center employee (human) or voice AI agent (voice_ai); same definitions as metrics.call_center_performance.';
COMMENT ON COLUMN metrics.call_agent_performance.handled_by IS 'human or voice_ai.';
COMMENT ON COLUMN metrics.call_agent_performance.agent_id IS 'Employee number (1001-1024) for human, ai_agents.agent_id for voice_ai.';
COMMENT ON COLUMN metrics.call_agent_performance.agent IS 'The AI agent''s name for voice_ai; agent <number> for employees.';
COMMENT ON COLUMN metrics.call_agent_performance.calls IS 'Calls routed to this agent.';
COMMENT ON COLUMN metrics.call_agent_performance.answered IS 'Calls answered.';
COMMENT ON COLUMN metrics.call_agent_performance.answer_rate IS 'Fraction 0-1 of calls answered.';
COMMENT ON COLUMN metrics.call_agent_performance.avg_handle_s IS 'Mean talk time in seconds of the answered calls; NULL when none was answered.';
COMMENT ON COLUMN metrics.call_agent_performance.voice_quality IS 'Mean audio quality score (MOS 1-5) of the answered calls; NULL when none was answered.';
COMMENT ON COLUMN metrics.call_agent_performance.resolution_rate IS 'Fraction 0-1 of answered calls that ended resolved or with a booking; NULL when none was answered.';
