-- Customer notifications over the last 30 days: delivered and opened, by channel and kind.
CREATE OR REPLACE VIEW metrics.notification_delivery AS
SELECT
    channel,
    kind,
    count(*) AS sent,
    count(*) FILTER (WHERE delivered) AS delivered,
    count(*) FILTER (WHERE opened) AS opened,
    CAST(count(*) FILTER (WHERE delivered) AS DOUBLE) / count(*) AS delivery_rate,
    CAST(count(*) FILTER (WHERE opened) AS DOUBLE) / nullif(count(*) FILTER (WHERE delivered), 0) AS open_rate
FROM notifications
WHERE sent_at >= spirit.as_of() - INTERVAL 30 DAY AND sent_at < spirit.as_of()
GROUP BY channel, kind;

COMMENT ON VIEW metrics.notification_delivery IS 'Messages sent to customers in the last 30 days (ending at spirit.as_of(), normally now), by channel and kind. Combinations without messages in the window do not appear.';
COMMENT ON COLUMN metrics.notification_delivery.channel IS 'email, sms, push or whatsapp.';
COMMENT ON COLUMN metrics.notification_delivery.kind IS 'confirmation, reminder or review_request.';
COMMENT ON COLUMN metrics.notification_delivery.sent IS 'Messages sent.';
COMMENT ON COLUMN metrics.notification_delivery.delivered IS 'Messages the provider confirmed as delivered.';
COMMENT ON COLUMN metrics.notification_delivery.opened IS 'Messages the recipient opened.';
COMMENT ON COLUMN metrics.notification_delivery.delivery_rate IS 'delivered / sent, fraction 0-1.';
COMMENT ON COLUMN metrics.notification_delivery.open_rate IS 'opened / delivered, fraction 0-1; NULL when nothing was delivered.';
