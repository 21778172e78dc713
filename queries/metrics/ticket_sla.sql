-- Support tickets against their resolution SLA, by priority.
CREATE OR REPLACE VIEW metrics.ticket_sla AS
SELECT
    priority,
    count(*) AS opened,
    count(resolved_at) AS resolved,
    count(*) FILTER (WHERE resolved_at IS NULL) AS open_now,
    CAST(count(*) FILTER (WHERE resolved_at <= opened_at + to_hours(sla_hours)) AS DOUBLE)
        / nullif(count(resolved_at), 0) AS sla_met_rate,
    CAST(median(epoch(resolved_at - opened_at) / 3600.0) AS DOUBLE) AS median_resolution_hours
FROM tickets
GROUP BY priority;

COMMENT ON VIEW metrics.ticket_sla IS 'All support tickets ever opened, by priority, against their resolution SLA (tickets.sla_hours: low 72 h, medium 24 h, high 8 h, urgent 2 h).';
COMMENT ON COLUMN metrics.ticket_sla.priority IS 'low, medium, high or urgent.';
COMMENT ON COLUMN metrics.ticket_sla.opened IS 'Tickets opened.';
COMMENT ON COLUMN metrics.ticket_sla.resolved IS 'Of those, tickets resolved.';
COMMENT ON COLUMN metrics.ticket_sla.open_now IS 'Of those, tickets not resolved yet.';
COMMENT ON COLUMN metrics.ticket_sla.sla_met_rate IS 'Fraction 0-1 of resolved tickets resolved within sla_hours of opening; NULL when none was resolved.';
COMMENT ON COLUMN metrics.ticket_sla.median_resolution_hours IS 'Median hours from opened_at to resolved_at of the resolved tickets; NULL when none was resolved.';
