-- Revenue per day and sales channel.
CREATE OR REPLACE VIEW metrics.revenue_daily AS
SELECT
    CAST(created_at AS DATE) AS day,
    channel,
    count(*) AS bookings,
    CAST(sum(price_paid) AS DECIMAL(18, 2)) AS revenue,
    CAST(sum(commission) AS DECIMAL(18, 2)) AS commission,
    CAST(sum(price_paid) - sum(commission) AS DECIMAL(18, 2)) AS net_revenue,
    CAST(sum(price_paid) / count(*) AS DOUBLE) AS avg_booking_value
FROM bookings
WHERE status IN ('confirmed', 'completed')
GROUP BY ALL;

COMMENT ON VIEW metrics.revenue_daily IS 'Revenue per day and sales channel. Revenue is price_paid of bookings with status confirmed or completed (pending, cancelled and refunded are excluded), attributed to the day of the booking''s created_at (UTC). Only days and channels with at least one such booking appear. Filter on day: the filter reaches the bookings scan.';
COMMENT ON COLUMN metrics.revenue_daily.day IS 'UTC calendar day the bookings were made (bookings.created_at).';
COMMENT ON COLUMN metrics.revenue_daily.channel IS 'Sales channel: B2C, B2B or B2B2C.';
COMMENT ON COLUMN metrics.revenue_daily.bookings IS 'Number of confirmed or completed bookings made that day in the channel.';
COMMENT ON COLUMN metrics.revenue_daily.revenue IS 'Revenue in EUR: sum of price_paid of those bookings.';
COMMENT ON COLUMN metrics.revenue_daily.commission IS 'Commission owed to partners in EUR on those bookings (0 for B2C).';
COMMENT ON COLUMN metrics.revenue_daily.net_revenue IS 'Revenue minus commission, in EUR.';
COMMENT ON COLUMN metrics.revenue_daily.avg_booking_value IS 'Average revenue per booking in EUR (revenue / bookings; never NULL, as every row has at least one booking).';
