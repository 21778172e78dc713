-- Revenue, cost and margin per tour.
CREATE OR REPLACE VIEW metrics.profit_by_product AS
WITH sold AS (
    SELECT
        b.tour_id,
        sum(b.price_paid) AS revenue,
        sum(b.commission) AS commission,
        sum(t.unit_cost * b.travelers) AS cost
    FROM bookings b
    JOIN tours t ON t.tour_id = b.tour_id
    WHERE b.status IN ('confirmed', 'completed')
    GROUP BY b.tour_id
)
SELECT
    t.tour_id,
    t.name AS tour,
    CAST(coalesce(s.revenue, 0) AS DECIMAL(18, 2)) AS revenue,
    CAST(coalesce(s.commission, 0) AS DECIMAL(18, 2)) AS commission,
    CAST(coalesce(s.cost, 0) AS DECIMAL(18, 2)) AS cost,
    CAST(coalesce(s.revenue, 0) - coalesce(s.commission, 0) - coalesce(s.cost, 0) AS DECIMAL(18, 2)) AS margin,
    CAST((s.revenue - s.commission - s.cost) / nullif(s.revenue, 0) AS DOUBLE) AS margin_pct
FROM tours t
LEFT JOIN sold s ON s.tour_id = t.tour_id;

COMMENT ON VIEW metrics.profit_by_product IS 'Profit per tour over all time: revenue (price_paid of bookings with status confirmed or completed, by created_at), partner commission, the operator''s cost (tours.unit_cost per traveler) and the margin left. Every tour appears; tours without such bookings show 0.';
COMMENT ON COLUMN metrics.profit_by_product.tour_id IS 'Tour identifier (tours.tour_id).';
COMMENT ON COLUMN metrics.profit_by_product.tour IS 'Tour name as sold.';
COMMENT ON COLUMN metrics.profit_by_product.revenue IS 'Revenue in EUR: sum of price_paid of the tour''s confirmed and completed bookings; 0 when none.';
COMMENT ON COLUMN metrics.profit_by_product.commission IS 'Commission owed to partners in EUR on those bookings; 0 when none.';
COMMENT ON COLUMN metrics.profit_by_product.cost IS 'Operator''s cost in EUR: tours.unit_cost times the travelers of those bookings; 0 when none.';
COMMENT ON COLUMN metrics.profit_by_product.margin IS 'revenue - commission - cost, in EUR.';
COMMENT ON COLUMN metrics.profit_by_product.margin_pct IS 'margin / revenue as a fraction (0.25 = 25 %); NULL when the tour has no revenue.';
