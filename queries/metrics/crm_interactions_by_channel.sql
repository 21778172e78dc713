-- Sales touch points by contact channel and their outcomes.
CREATE OR REPLACE VIEW metrics.crm_interactions_by_channel AS
SELECT
    channel,
    count(*) AS interactions,
    count(DISTINCT lead_id) AS leads,
    count(*) FILTER (WHERE outcome = 'positive') AS positive,
    count(*) FILTER (WHERE outcome = 'neutral') AS neutral,
    count(*) FILTER (WHERE outcome = 'negative') AS negative,
    CAST(count(*) FILTER (WHERE outcome = 'positive') AS DOUBLE) / count(*) AS positive_rate
FROM crm_interactions
WHERE created_at >= spirit.as_of() - INTERVAL 30 DAY AND created_at < spirit.as_of()
GROUP BY channel;

COMMENT ON VIEW metrics.crm_interactions_by_channel IS 'CRM interactions (crm_interactions) of the last 30 days (ending at spirit.as_of(), normally now), by contact channel, with their outcomes. Channels without interactions in the window do not appear.';
COMMENT ON COLUMN metrics.crm_interactions_by_channel.channel IS 'Contact channel: email, phone, meeting, chat or whatsapp.';
COMMENT ON COLUMN metrics.crm_interactions_by_channel.interactions IS 'Number of interactions in the last 30 days.';
COMMENT ON COLUMN metrics.crm_interactions_by_channel.leads IS 'Distinct leads touched in the last 30 days.';
COMMENT ON COLUMN metrics.crm_interactions_by_channel.positive IS 'Interactions with a positive outcome.';
COMMENT ON COLUMN metrics.crm_interactions_by_channel.neutral IS 'Interactions with a neutral outcome.';
COMMENT ON COLUMN metrics.crm_interactions_by_channel.negative IS 'Interactions with a negative outcome.';
COMMENT ON COLUMN metrics.crm_interactions_by_channel.positive_rate IS 'Fraction 0-1 of interactions with a positive outcome.';
