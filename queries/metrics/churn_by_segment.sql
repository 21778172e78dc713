-- Customer retention and churn per pricing segment.
CREATE OR REPLACE VIEW metrics.churn_by_segment AS
WITH segments(segment) AS (
    VALUES ('budget'), ('standard'), ('premium'), ('business')
), by_segment AS (
    -- Customers with a booking in the year before last, and those of them who booked again.
    SELECT c.segment,
           count(*) AS customers,
           count(*) FILTER (WHERE EXISTS (SELECT 1 FROM bookings l WHERE l.customer_id = c.customer_id AND l.status IN ('confirmed', 'completed')
                  AND l.created_at >= spirit.as_of() - INTERVAL 365 DAY AND l.created_at < spirit.as_of())) AS retained,
           avg(c.nps) AS avg_nps
    FROM customers c
    WHERE EXISTS (SELECT 1 FROM bookings b WHERE b.customer_id = c.customer_id AND b.status IN ('confirmed', 'completed')
                  AND b.created_at >= spirit.as_of() - INTERVAL 730 DAY AND b.created_at < spirit.as_of() - INTERVAL 365 DAY)
    GROUP BY c.segment
)
SELECT
    s.segment,
    coalesce(b.customers, 0) AS customers,
    coalesce(b.retained, 0) AS retained,
    coalesce(b.customers - b.retained, 0) AS churned,
    CAST(b.customers - b.retained AS DOUBLE) / nullif(b.customers, 0) AS churn_rate,
    CAST(b.avg_nps AS DOUBLE) AS avg_nps
FROM segments s
LEFT JOIN by_segment b ON b.segment = s.segment;

COMMENT ON VIEW metrics.churn_by_segment IS 'Churn per pricing segment, as in metrics.customer_kpis: the customers with a confirmed or completed booking between 730 and 365 days before spirit.as_of() (normally now), and how many of them booked again in the last 365 days. All four segments appear.';
COMMENT ON COLUMN metrics.churn_by_segment.segment IS 'Pricing segment: budget, standard, premium or business.';
COMMENT ON COLUMN metrics.churn_by_segment.customers IS 'Customers of the segment who booked between 730 and 365 days ago; 0 when none.';
COMMENT ON COLUMN metrics.churn_by_segment.retained IS 'Of those, customers who booked again in the last 365 days.';
COMMENT ON COLUMN metrics.churn_by_segment.churned IS 'customers - retained.';
COMMENT ON COLUMN metrics.churn_by_segment.churn_rate IS 'churned / customers, fraction 0-1; NULL when customers is 0.';
COMMENT ON COLUMN metrics.churn_by_segment.avg_nps IS 'Mean survey answer 0-10 (customers.nps) of those customers who answered; NULL when none did.';
