-- Revenue of the last 30 days per channel, its share, and growth over rolling windows.
CREATE OR REPLACE VIEW metrics.revenue_by_channel AS
WITH channels AS (
    SELECT DISTINCT channel FROM bookings
), windows AS (
    SELECT
        channel,
        sum(price_paid) FILTER (WHERE created_at >= spirit.as_of() - INTERVAL 1 DAY) AS day_cur,
        sum(price_paid) FILTER (WHERE created_at >= spirit.as_of() - INTERVAL 2 DAY
                                  AND created_at < spirit.as_of() - INTERVAL 1 DAY) AS day_prev,
        sum(price_paid) FILTER (WHERE created_at >= spirit.as_of() - INTERVAL 7 DAY) AS week_cur,
        sum(price_paid) FILTER (WHERE created_at >= spirit.as_of() - INTERVAL 14 DAY
                                  AND created_at < spirit.as_of() - INTERVAL 7 DAY) AS week_prev,
        sum(price_paid) FILTER (WHERE created_at >= spirit.as_of() - INTERVAL 30 DAY) AS month_cur,
        sum(price_paid) FILTER (WHERE created_at < spirit.as_of() - INTERVAL 30 DAY) AS month_prev
    FROM bookings
    WHERE status IN ('confirmed', 'completed')
      AND created_at >= spirit.as_of() - INTERVAL 60 DAY
      AND created_at < spirit.as_of()
    GROUP BY channel
), filled AS (
    SELECT
        c.channel,
        coalesce(w.day_cur, 0) AS day_cur, coalesce(w.day_prev, 0) AS day_prev,
        coalesce(w.week_cur, 0) AS week_cur, coalesce(w.week_prev, 0) AS week_prev,
        coalesce(w.month_cur, 0) AS month_cur, coalesce(w.month_prev, 0) AS month_prev
    FROM channels c LEFT JOIN windows w USING (channel)
)
SELECT
    channel,
    CAST(month_cur AS DECIMAL(18, 2)) AS revenue,
    CAST(month_cur / nullif(sum(month_cur) OVER (), 0) AS DOUBLE) AS share,
    CAST((day_cur - day_prev) / nullif(day_prev, 0) AS DOUBLE) AS growth_dod,
    CAST((week_cur - week_prev) / nullif(week_prev, 0) AS DOUBLE) AS growth_wow,
    CAST((month_cur - month_prev) / nullif(month_prev, 0) AS DOUBLE) AS growth_mom
FROM filled;

COMMENT ON VIEW metrics.revenue_by_channel IS 'Revenue of the last 30 days per sales channel, its share of all channels, and growth over rolling windows ending at spirit.as_of() (normally now). Revenue is price_paid of bookings with status confirmed or completed, attributed to created_at. Every channel that ever had a booking appears, with 0 when it had no revenue.';
COMMENT ON COLUMN metrics.revenue_by_channel.channel IS 'Sales channel: B2C, B2B or B2B2C.';
COMMENT ON COLUMN metrics.revenue_by_channel.revenue IS 'Revenue in EUR of the last 30 days.';
COMMENT ON COLUMN metrics.revenue_by_channel.share IS 'Fraction (0-1) of all channels'' revenue of the last 30 days; NULL when no channel had revenue.';
COMMENT ON COLUMN metrics.revenue_by_channel.growth_dod IS 'Day over day: (revenue of the last 24 hours - the 24 hours before) / the 24 hours before; NULL when the earlier period had no revenue.';
COMMENT ON COLUMN metrics.revenue_by_channel.growth_wow IS 'Week over week: (revenue of the last 7 days - the 7 days before) / the 7 days before; NULL when the earlier period had no revenue.';
COMMENT ON COLUMN metrics.revenue_by_channel.growth_mom IS 'Month over month: (revenue of the last 30 days - the 30 days before) / the 30 days before; NULL when the earlier period had no revenue.';
