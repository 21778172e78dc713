-- Revenue per hour and channel over the last 48 hours.
CREATE OR REPLACE VIEW metrics.revenue_hourly AS
SELECT
    date_trunc('hour', created_at) AS hour,
    channel,
    count(*) AS bookings,
    CAST(sum(price_paid) AS DECIMAL(18, 2)) AS revenue
FROM bookings
WHERE status IN ('confirmed', 'completed')
  AND created_at >= spirit.as_of() - INTERVAL 48 HOUR
  AND created_at < spirit.as_of()
GROUP BY ALL;

COMMENT ON VIEW metrics.revenue_hourly IS 'Revenue per hour and sales channel over the last 48 hours (ending at spirit.as_of(), normally now). Revenue is price_paid of bookings with status confirmed or completed, attributed to the hour of created_at (UTC). Hours without such bookings do not appear.';
COMMENT ON COLUMN metrics.revenue_hourly.hour IS 'Start of the UTC hour the bookings were made.';
COMMENT ON COLUMN metrics.revenue_hourly.channel IS 'Sales channel: B2C, B2B or B2B2C.';
COMMENT ON COLUMN metrics.revenue_hourly.bookings IS 'Number of confirmed or completed bookings made in that hour and channel.';
COMMENT ON COLUMN metrics.revenue_hourly.revenue IS 'Revenue in EUR: sum of price_paid of those bookings.';
