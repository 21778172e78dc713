-- Bookings, revenue and commission per partner.
CREATE OR REPLACE VIEW metrics.commissions AS
WITH sold AS (
    SELECT
        partner_id,
        count(*) AS bookings,
        sum(price_paid) AS revenue,
        sum(commission) AS commission
    FROM bookings
    WHERE status IN ('confirmed', 'completed') AND partner_id IS NOT NULL
    GROUP BY partner_id
)
SELECT
    p.partner_id,
    p.name AS partner,
    CASE p.kind WHEN 'agency' THEN 'B2B' ELSE 'B2B2C' END AS channel,
    coalesce(s.bookings, 0) AS bookings,
    CAST(coalesce(s.revenue, 0) AS DECIMAL(18, 2)) AS revenue,
    CAST(coalesce(s.commission, 0) AS DECIMAL(18, 2)) AS commission
FROM partners p
LEFT JOIN sold s ON s.partner_id = p.partner_id;

COMMENT ON VIEW metrics.commissions IS 'Commission owed to each partner over all time, on bookings with status confirmed or completed (by created_at). Every partner appears; partners without such bookings show 0.';
COMMENT ON COLUMN metrics.commissions.partner_id IS 'Partner identifier (partners.partner_id).';
COMMENT ON COLUMN metrics.commissions.partner IS 'Partner company name.';
COMMENT ON COLUMN metrics.commissions.channel IS 'B2B for agencies, B2B2C for resellers.';
COMMENT ON COLUMN metrics.commissions.bookings IS 'Number of the partner''s confirmed or completed bookings; 0 when none.';
COMMENT ON COLUMN metrics.commissions.revenue IS 'Revenue in EUR of those bookings (sum of price_paid); 0 when none.';
COMMENT ON COLUMN metrics.commissions.commission IS 'Commission owed in EUR on those bookings; 0 when none.';
