-- Customer satisfaction, loyalty and value in one row.
CREATE OR REPLACE VIEW metrics.customer_kpis AS
WITH retention AS (
    -- Customers with a booking in the year before last, and those of them who booked again.
    SELECT count(*) AS base,
           count(*) FILTER (WHERE EXISTS (SELECT 1 FROM bookings l WHERE l.customer_id = c.customer_id AND l.status IN ('confirmed', 'completed')
                  AND l.created_at >= spirit.as_of() - INTERVAL 365 DAY AND l.created_at < spirit.as_of())) AS retained
    FROM customers c
    WHERE EXISTS (SELECT 1 FROM bookings b WHERE b.customer_id = c.customer_id AND b.status IN ('confirmed', 'completed')
                  AND b.created_at >= spirit.as_of() - INTERVAL 730 DAY AND b.created_at < spirit.as_of() - INTERVAL 365 DAY)
), lifetime AS (
    SELECT (SELECT sum(price_paid) FROM bookings WHERE status IN ('confirmed', 'completed')) AS revenue,
           (SELECT count(*) FROM customers c
            WHERE EXISTS (SELECT 1 FROM bookings b WHERE b.customer_id = c.customer_id AND b.status IN ('confirmed', 'completed')))
               AS paying_customers
), survey AS (
    SELECT count(nps) AS answered,
           count(*) FILTER (WHERE nps >= 9) AS promoters,
           count(*) FILTER (WHERE nps <= 6) AS detractors,
           count(*) AS customers
    FROM customers
), support AS (
    SELECT avg(csat) AS csat,
           avg(epoch(resolved_at - opened_at) / 3600.0) AS resolution_hours
    FROM tickets
)
SELECT
    s.customers,
    CAST(p.csat AS DOUBLE) AS csat,
    CAST(100 * (s.promoters - s.detractors) AS DOUBLE) / nullif(s.answered, 0) AS nps,
    CAST(v.revenue / nullif(v.paying_customers, 0) AS DECIMAL(18, 2)) AS clv,
    CAST(r.retained AS DOUBLE) / nullif(r.base, 0) AS retention_rate,
    1 - CAST(r.retained AS DOUBLE) / nullif(r.base, 0) AS churn_rate,
    CAST(p.resolution_hours AS DOUBLE) AS support_resolution_hours
FROM survey s, retention r, lifetime v, support p;

COMMENT ON VIEW metrics.customer_kpis IS 'Customer KPIs in one row. Revenue and retention use bookings with status confirmed or completed by created_at; the retention year ends at spirit.as_of() (normally now).';
COMMENT ON COLUMN metrics.customer_kpis.customers IS 'All customer records (customers table).';
COMMENT ON COLUMN metrics.customer_kpis.csat IS 'Mean support ticket rating 1-5 over all rated tickets; NULL when none was rated.';
COMMENT ON COLUMN metrics.customer_kpis.nps IS 'Net Promoter Score -100..100: % of survey answers 9-10 minus % of answers 0-6 (customers.nps); NULL when nobody answered.';
COMMENT ON COLUMN metrics.customer_kpis.clv IS 'Customer lifetime value in EUR: all revenue / customers with at least one confirmed or completed booking; NULL when there are none.';
COMMENT ON COLUMN metrics.customer_kpis.retention_rate IS 'Of customers with a booking between 730 and 365 days ago, the fraction 0-1 who booked again in the last 365 days; NULL when there were none.';
COMMENT ON COLUMN metrics.customer_kpis.churn_rate IS '1 - retention_rate; NULL when retention_rate is NULL.';
COMMENT ON COLUMN metrics.customer_kpis.support_resolution_hours IS 'Mean hours from opening to resolution of the resolved support tickets; NULL when none was resolved.';
