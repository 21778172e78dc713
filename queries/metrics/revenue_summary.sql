-- revenue_summary(from_ts, to_ts [, granularity]): revenue per period and channel.
CREATE OR REPLACE MACRO metrics.revenue_summary(from_ts, to_ts, granularity := 'day') AS TABLE
SELECT
    date_trunc(
        CASE WHEN lower(granularity) IN ('hour', 'day', 'week', 'month', 'quarter') THEN lower(granularity)
             ELSE error('granularity ''' || granularity || ''' is not supported; use hour, day, week, month or quarter')
        END,
        created_at) AS period_start,
    channel,
    count(*) AS bookings,
    CAST(sum(price_paid) AS DECIMAL(18, 2)) AS revenue,
    CAST(sum(commission) AS DECIMAL(18, 2)) AS commission,
    CAST(sum(price_paid) - sum(commission) AS DECIMAL(18, 2)) AS net_revenue,
    CAST(sum(price_paid) / count(*) AS DOUBLE) AS avg_booking_value
FROM bookings
WHERE status IN ('confirmed', 'completed')
  AND created_at >= CAST(from_ts AS TIMESTAMP) AND created_at < CAST(to_ts AS TIMESTAMP)
  -- Checked once, not per row: an unknown granularity fails even when no booking is in range.
  AND (SELECT CASE WHEN lower(granularity) IN ('hour', 'day', 'week', 'month', 'quarter') THEN true
                   ELSE error('granularity ''' || coalesce(granularity, 'NULL') || ''' is not supported; use hour, day, week, month or quarter')
              END)
GROUP BY ALL;

COMMENT ON MACRO TABLE metrics.revenue_summary IS 'revenue_summary(from_ts, to_ts [, granularity]): revenue per period and sales channel for bookings created in [from_ts, to_ts), granularity hour, day (default), week (starting Monday), month or quarter. Columns period_start, channel, bookings, revenue, commission, net_revenue, avg_booking_value as in metrics.revenue_daily; revenue is price_paid of confirmed and completed bookings by created_at. Periods without such bookings do not appear.';
