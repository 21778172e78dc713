-- CRM lead conversion per channel.
CREATE OR REPLACE VIEW metrics.conversion_by_channel AS
SELECT
    channel,
    count(*) AS leads,
    count(*) FILTER (WHERE stage = 'won') AS converted,
    CAST(count(*) FILTER (WHERE stage = 'won') AS DOUBLE) / count(*) AS conversion_rate
FROM leads
GROUP BY channel;

COMMENT ON VIEW metrics.conversion_by_channel IS 'Conversion of CRM leads into customers per sales channel, over all leads ever created (open leads count as not converted yet).';
COMMENT ON COLUMN metrics.conversion_by_channel.channel IS 'Channel the lead would buy through: B2C, B2B or B2B2C.';
COMMENT ON COLUMN metrics.conversion_by_channel.leads IS 'Number of leads.';
COMMENT ON COLUMN metrics.conversion_by_channel.converted IS 'Leads won (stage = won).';
COMMENT ON COLUMN metrics.conversion_by_channel.conversion_rate IS 'Fraction 0-1 of leads won (converted / leads).';
