-- The call center per day: a time series for dashboards.
CREATE OR REPLACE VIEW metrics.calls_daily AS
SELECT
    CAST(started_at AS DATE) AS day,
    handled_by,
    count(*) AS calls,
    count(*) FILTER (WHERE answered) AS answered,
    CAST(count(*) FILTER (WHERE answered) AS DOUBLE) / count(*) AS answer_rate,
    CAST(avg(wait_seconds) AS DOUBLE) AS avg_wait_s,
    CAST(avg(handle_seconds) FILTER (WHERE answered) AS DOUBLE) AS avg_handle_s,
    CAST(count(*) FILTER (WHERE answered AND outcome IN ('resolved', 'booking_made')) AS DOUBLE)
        / nullif(count(*) FILTER (WHERE answered), 0) AS resolution_rate
FROM calls
GROUP BY CAST(started_at AS DATE), handled_by;

COMMENT ON VIEW metrics.calls_daily IS 'Inbound calls per UTC day of calls.started_at and per handler (human staff or voice AI): a time series for dashboards, same definitions as metrics.call_center_performance. Filter on day: the filter reaches the calls scan. Days without calls do not appear.';
COMMENT ON COLUMN metrics.calls_daily.day IS 'UTC calendar day the calls reached the queue.';
COMMENT ON COLUMN metrics.calls_daily.handled_by IS 'human or voice_ai.';
COMMENT ON COLUMN metrics.calls_daily.calls IS 'Calls that reached the queue that day.';
COMMENT ON COLUMN metrics.calls_daily.answered IS 'Of those, calls answered.';
COMMENT ON COLUMN metrics.calls_daily.answer_rate IS 'answered / calls, fraction 0-1.';
COMMENT ON COLUMN metrics.calls_daily.avg_wait_s IS 'Mean seconds in the queue over all calls.';
COMMENT ON COLUMN metrics.calls_daily.avg_handle_s IS 'Mean talk time in seconds of the answered calls; NULL when none was answered.';
COMMENT ON COLUMN metrics.calls_daily.resolution_rate IS 'Fraction 0-1 of answered calls that ended resolved or with a booking; NULL when none was answered.';
