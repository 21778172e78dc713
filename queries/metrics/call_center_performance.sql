-- The call center: people against the voice AI.
CREATE OR REPLACE VIEW metrics.call_center_performance AS
SELECT
    handled_by,
    count(*) AS calls,
    count(*) FILTER (WHERE answered) AS answered,
    CAST(count(*) FILTER (WHERE answered) AS DOUBLE) / count(*) AS answer_rate,
    CAST(avg(wait_seconds) AS DOUBLE) AS avg_wait_s,
    CAST(avg(handle_seconds) FILTER (WHERE answered) AS DOUBLE) AS avg_handle_s,
    CAST(avg(voice_quality) FILTER (WHERE answered) AS DOUBLE) AS voice_quality,
    CAST(count(*) FILTER (WHERE answered AND outcome IN ('resolved', 'booking_made')) AS DOUBLE)
        / nullif(count(*) FILTER (WHERE answered), 0) AS resolution_rate
FROM calls
GROUP BY handled_by;

COMMENT ON VIEW metrics.call_center_performance IS 'All inbound calls ever, by who handled them: call-center staff (human) or the voice AI (voice_ai).';
COMMENT ON COLUMN metrics.call_center_performance.handled_by IS 'human or voice_ai.';
COMMENT ON COLUMN metrics.call_center_performance.calls IS 'Calls that reached the queue.';
COMMENT ON COLUMN metrics.call_center_performance.answered IS 'Calls answered (the caller did not hang up while waiting).';
COMMENT ON COLUMN metrics.call_center_performance.answer_rate IS 'Fraction 0-1 of calls answered.';
COMMENT ON COLUMN metrics.call_center_performance.avg_wait_s IS 'Mean seconds in the queue, over all calls (answered or abandoned).';
COMMENT ON COLUMN metrics.call_center_performance.avg_handle_s IS 'Mean talk time in seconds of the answered calls; NULL when none was answered.';
COMMENT ON COLUMN metrics.call_center_performance.voice_quality IS 'Mean audio quality score (MOS 1-5) of the answered calls; NULL when none was answered.';
COMMENT ON COLUMN metrics.call_center_performance.resolution_rate IS 'Fraction 0-1 of answered calls that ended resolved or with a booking; NULL when none was answered.';
