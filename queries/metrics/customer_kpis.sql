-- Customer satisfaction, loyalty and value in one row.
CREATE OR REPLACE VIEW metrics.customer_kpis AS
WITH base AS (
    SELECT DISTINCT customer_id FROM bookings
    WHERE status IN ('confirmed', 'completed')
      AND created_at >= spirit.as_of() - INTERVAL 730 DAY AND created_at < spirit.as_of() - INTERVAL 365 DAY
), again AS (
    SELECT DISTINCT customer_id FROM bookings
    WHERE status IN ('confirmed', 'completed')
      AND created_at >= spirit.as_of() - INTERVAL 365 DAY AND created_at < spirit.as_of()
), retention AS (
    SELECT (SELECT count(*) FROM base) AS base,
           (SELECT count(*) FROM base SEMI JOIN again USING (customer_id)) AS retained
), lifetime AS (
    SELECT sum(price_paid) AS revenue, count(DISTINCT customer_id) AS paying_customers
    FROM bookings
    WHERE status IN ('confirmed', 'completed')
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
