-- Lead conversion by acquisition source and channel.
CREATE OR REPLACE VIEW metrics.lead_conversion AS
SELECT
    source,
    channel,
    count(*) AS leads,
    count(*) FILTER (WHERE stage = 'won') AS converted,
    CAST(count(*) FILTER (WHERE stage = 'won') AS DOUBLE) / count(*) AS conversion_rate,
    CAST(median(epoch(converted_at - created_at) / 86400.0) FILTER (WHERE stage = 'won') AS DOUBLE)
        AS median_days_to_convert
FROM leads
GROUP BY source, channel;

COMMENT ON VIEW metrics.lead_conversion IS 'Conversion of all CRM leads ever created, by acquisition source and channel (open leads count as not converted yet).';
COMMENT ON COLUMN metrics.lead_conversion.source IS 'Acquisition source: website, google_ads, facebook, instagram, referral, partner, trade_show or email_campaign.';
COMMENT ON COLUMN metrics.lead_conversion.channel IS 'Channel the lead would buy through: B2C, B2B or B2B2C.';
COMMENT ON COLUMN metrics.lead_conversion.leads IS 'Number of leads.';
COMMENT ON COLUMN metrics.lead_conversion.converted IS 'Leads won (stage = won).';
COMMENT ON COLUMN metrics.lead_conversion.conversion_rate IS 'Fraction 0-1 of leads won.';
COMMENT ON COLUMN metrics.lead_conversion.median_days_to_convert IS 'Median days from created_at to converted_at of the won leads (fractional days); NULL when none was won.';
