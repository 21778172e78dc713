-- The open sales pipeline by stage, weighted by win probability.
CREATE OR REPLACE VIEW metrics.crm_pipeline AS
WITH stages(stage, stage_order) AS (
    VALUES ('new', 1), ('contacted', 2), ('qualified', 3), ('proposal', 4), ('negotiation', 5)
), open_leads AS (
    SELECT stage, count(*) AS leads, sum(estimated_value) AS value
    FROM leads
    WHERE closed_at IS NULL
    GROUP BY stage
)
SELECT
    s.stage,
    s.stage_order,
    coalesce(o.leads, 0) AS leads,
    CAST(coalesce(o.value, 0) AS DECIMAL(18, 2)) AS value,
    w.weight,
    CAST(coalesce(o.value, 0) * w.weight AS DECIMAL(18, 2)) AS weighted_value
FROM stages s
LEFT JOIN open_leads o ON o.stage = s.stage
LEFT JOIN spirit.crm_stage_weights w ON w.stage = s.stage;

COMMENT ON VIEW metrics.crm_pipeline IS 'The open CRM pipeline now: leads not yet won or lost (closed_at IS NULL) by stage, their estimated value and the value weighted by each stage''s win probability (spirit.crm_stage_weights, set in spirit.toml [crm_stage_weights]). All five open stages appear, with 0 when empty.';
COMMENT ON COLUMN metrics.crm_pipeline.stage IS 'Pipeline stage: new, contacted, qualified, proposal or negotiation.';
COMMENT ON COLUMN metrics.crm_pipeline.stage_order IS 'Position of the stage in the pipeline, 1 (new) to 5 (negotiation).';
COMMENT ON COLUMN metrics.crm_pipeline.leads IS 'Open leads in the stage.';
COMMENT ON COLUMN metrics.crm_pipeline.value IS 'Sum of their estimated deal value in EUR; 0 when none.';
COMMENT ON COLUMN metrics.crm_pipeline.weight IS 'Probability 0-1 that a lead in this stage is won.';
COMMENT ON COLUMN metrics.crm_pipeline.weighted_value IS 'value x weight in EUR: the expected revenue of the stage.';
