-- The partners (and direct sales) that brought the most revenue in the last 30 days.
CREATE OR REPLACE VIEW metrics.top_revenue_sources AS
WITH revenue AS (
    SELECT
        b.channel,
        coalesce(p.name, 'direct') AS source,
        sum(b.price_paid) AS revenue
    FROM bookings b
    LEFT JOIN partners p ON p.partner_id = b.partner_id
    WHERE b.status IN ('confirmed', 'completed')
      AND b.created_at >= spirit.as_of() - INTERVAL 30 DAY
      AND b.created_at < spirit.as_of()
    GROUP BY ALL
)
SELECT
    channel,
    source,
    CAST(revenue AS DECIMAL(18, 2)) AS revenue,
    CAST(rank() OVER (PARTITION BY channel ORDER BY revenue DESC) AS BIGINT) AS rank
FROM revenue
WHERE revenue > 0;

COMMENT ON VIEW metrics.top_revenue_sources IS 'Revenue of the last 30 days (ending at spirit.as_of(), normally now) per source: the selling partner for B2B and B2B2C, direct for B2C, ranked within each channel. Revenue is price_paid of bookings with status confirmed or completed, attributed to created_at. Sources without revenue in the window do not appear.';
COMMENT ON COLUMN metrics.top_revenue_sources.channel IS 'Sales channel: B2C, B2B or B2B2C.';
COMMENT ON COLUMN metrics.top_revenue_sources.source IS 'Partner name (partners.name) for B2B and B2B2C bookings; direct for B2C.';
COMMENT ON COLUMN metrics.top_revenue_sources.revenue IS 'Revenue in EUR of the last 30 days.';
COMMENT ON COLUMN metrics.top_revenue_sources.rank IS 'Rank within the channel by revenue, 1 = highest; ties share a rank.';
