-- Payment providers per day: attempts, failures, money in and out, fees.
CREATE OR REPLACE VIEW metrics.payments_daily AS
SELECT
    CAST(created_at AS DATE) AS day,
    provider,
    count(*) FILTER (WHERE amount >= 0) AS attempts,
    count(*) FILTER (WHERE amount >= 0 AND status = 'succeeded') AS succeeded,
    count(*) FILTER (WHERE amount >= 0 AND status = 'failed') AS failed,
    CAST(count(*) FILTER (WHERE amount >= 0 AND status = 'succeeded') AS DOUBLE)
        / nullif(count(*) FILTER (WHERE amount >= 0), 0) AS success_rate,
    CAST(coalesce(sum(amount) FILTER (WHERE amount >= 0 AND status = 'succeeded'), 0) AS DECIMAL(18, 2)) AS collected,
    CAST(coalesce(-sum(amount) FILTER (WHERE amount < 0), 0) AS DECIMAL(18, 2)) AS refunded,
    CAST(sum(fee) AS DECIMAL(18, 2)) AS fees
FROM payments
GROUP BY CAST(created_at AS DATE), provider;

COMMENT ON VIEW metrics.payments_daily IS 'Payments per UTC day of payments.created_at and per provider (stripe, paypal, square). Payment attempts are rows with amount >= 0; refunds are rows with a negative amount. Filter on day: the filter reaches the payments scan. Days without payments do not appear.';
COMMENT ON COLUMN metrics.payments_daily.day IS 'UTC calendar day the provider processed the payments.';
COMMENT ON COLUMN metrics.payments_daily.provider IS 'Payment provider: stripe, paypal or square.';
COMMENT ON COLUMN metrics.payments_daily.attempts IS 'Payment attempts (amount >= 0), successful or not.';
COMMENT ON COLUMN metrics.payments_daily.succeeded IS 'Attempts with status succeeded.';
COMMENT ON COLUMN metrics.payments_daily.failed IS 'Attempts with status failed.';
COMMENT ON COLUMN metrics.payments_daily.success_rate IS 'succeeded / attempts, fraction 0-1; NULL on a day with only refunds.';
COMMENT ON COLUMN metrics.payments_daily.collected IS 'EUR collected: sum of the successful attempts'' amounts; 0 when none.';
COMMENT ON COLUMN metrics.payments_daily.refunded IS 'EUR paid back: sum of the refunds'' amounts as a positive number; 0 when none.';
COMMENT ON COLUMN metrics.payments_daily.fees IS 'Provider fees in EUR on all of that day''s rows.';
