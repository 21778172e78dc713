//! The `spirit` schema of the store: the engine's system tables, shown to users as `spirit.*`.
//!
//! - `spirit.metric_settings`, `spirit.crm_stage_weights`, `spirit.kpi_targets`: the metric
//!   views' parameters, rewritten from the configuration at every start and metric reload.
//! - `spirit.metric_views`: what the metric loader found in `metrics_dir` and whether each
//!   file loaded.
//! - `spirit.query_log` and `spirit.engine_heartbeats`: telemetry behind
//!   `metrics.operational_health`.
//! - `spirit.plugins` and `spirit.sources`: the WebAssembly plugins found in `plugins_dir` and
//!   the external tables they serve, written by the plugin host (engine/plugins).
//! - `spirit.as_of()`, `spirit.human_cost_per_query_eur()`, `spirit.ai_cost_per_query_eur()`:
//!   the metric parameters the views use, redefined from the configuration as constant
//!   expressions (not lookups in `metric_settings`, which only shows them): DuckDB then folds
//!   them into the views' scan filters, which made the retention views 3x faster.
//!
//! Everything lives in DuckDB, so the metric views (which DuckDB runs) can read it, and so does
//! anyone opening the store file with DuckDB directly.

use duckdb::Connection;

use crate::config::Config;

/// The schema's name, in the store and in SQL.
pub const SCHEMA: &str = "spirit";

/// Creates the schema's tables and `spirit.as_of()` if missing.
pub fn ensure_schema(conn: &Connection) -> duckdb::Result<()> {
    conn.execute_batch(
        "CREATE SCHEMA IF NOT EXISTS spirit;
         CREATE TABLE IF NOT EXISTS spirit.metric_settings (
             name VARCHAR PRIMARY KEY,
             value VARCHAR,
             description VARCHAR
         );
         CREATE TABLE IF NOT EXISTS spirit.crm_stage_weights (
             stage VARCHAR PRIMARY KEY,
             weight DOUBLE NOT NULL
         );
         CREATE TABLE IF NOT EXISTS spirit.kpi_targets (
             kpi VARCHAR PRIMARY KEY,
             comparison VARCHAR NOT NULL,
             target DOUBLE NOT NULL,
             warning DOUBLE NOT NULL,
             description VARCHAR
         );
         CREATE TABLE IF NOT EXISTS spirit.metric_views (
             name VARCHAR PRIMARY KEY,
             kind VARCHAR NOT NULL,
             file VARCHAR NOT NULL,
             status VARCHAR NOT NULL,
             error VARCHAR,
             description VARCHAR,
             loaded_at TIMESTAMP NOT NULL
         );
         CREATE TABLE IF NOT EXISTS spirit.query_log (
             finished_at TIMESTAMP NOT NULL,
             user_name VARCHAR,
             statement_kind VARCHAR NOT NULL,
             duration_ms DOUBLE NOT NULL,
             rows BIGINT NOT NULL,
             error_code VARCHAR,
             cache_hit BOOLEAN NOT NULL
         );
         CREATE TABLE IF NOT EXISTS spirit.engine_heartbeats (
             beat_at TIMESTAMP NOT NULL,
             active_connections INTEGER NOT NULL
         );
         CREATE TABLE IF NOT EXISTS spirit.plugins (
             name VARCHAR PRIMARY KEY,
             version VARCHAR,
             kind VARCHAR,
             api VARCHAR,
             status VARCHAR NOT NULL,
             last_error VARCHAR,
             loaded_at TIMESTAMP,
             path VARCHAR NOT NULL,
             description VARCHAR
         );
         CREATE TABLE IF NOT EXISTS spirit.sources (
             name VARCHAR PRIMARY KEY,
             plugin VARCHAR NOT NULL,
             plugin_table VARCHAR NOT NULL,
             location VARCHAR,
             refresh_interval VARCHAR,
             last_refresh_at TIMESTAMP,
             last_refresh_rows BIGINT,
             last_refresh_error VARCHAR,
             last_scan_at TIMESTAMP,
             rows_read BIGINT NOT NULL DEFAULT 0,
             skipped_rows BIGINT NOT NULL DEFAULT 0,
             last_error VARCHAR
         );
         CREATE MACRO IF NOT EXISTS spirit.as_of() AS make_timestamp(epoch_us(get_current_timestamp()));",
    )?;
    comment_tables(conn)
}

/// A system table's name, description and `(column, description)` pairs.
type TableComments = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

/// Descriptions of the system tables and their columns, shown by BI tools.
const COMMENTS: &[TableComments] = &[
    (
        "metric_settings",
        "Parameters of the metric views, from spirit.toml (rewritten at start-up and by reload_metrics()).",
        &[
            (
                "name",
                "as_of, human_cost_per_query_eur or ai_cost_per_query_eur.",
            ),
            ("value", "The setting's value as text; NULL when unset."),
            ("description", "What the setting changes."),
        ],
    ),
    (
        "crm_stage_weights",
        "Win probability per open CRM pipeline stage, used by metrics.crm_pipeline.weighted_value (spirit.toml [crm_stage_weights]).",
        &[
            (
                "stage",
                "Pipeline stage: new, contacted, qualified, proposal or negotiation.",
            ),
            (
                "weight",
                "Probability 0-1 that a lead in this stage is won.",
            ),
        ],
    ),
    (
        "kpi_targets",
        "Targets of the KPIs in metrics.kpi_overview (spirit.toml [kpi_targets.<kpi>]).",
        &[
            ("kpi", "KPI name as in metrics.kpi_overview.kpi."),
            (
                "comparison",
                "> when higher is better, < when lower is better.",
            ),
            ("target", "The value the KPI must beat (strictly) to be ok."),
            (
                "warning",
                "Missing the target but reaching this value (inclusive) is a warning; beyond it a breach.",
            ),
            ("description", "What the KPI measures."),
        ],
    ),
    (
        "metric_views",
        "The metric views and table functions loaded from metrics_dir, one row per .sql file.",
        &[
            (
                "name",
                "View or table macro name in the metrics schema (the file name without .sql).",
            ),
            ("kind", "view or table_function."),
            ("file", "Path of the .sql file."),
            (
                "status",
                "loaded, or error when the file did not load (the previous definition, if any, was dropped).",
            ),
            ("error", "Why the file did not load; NULL when loaded."),
            ("description", "The COMMENT on the view."),
            ("loaded_at", "When the file was last (re)loaded, UTC."),
        ],
    ),
    (
        "query_log",
        "Every statement served over pg-wire: the telemetry behind metrics.operational_health. Rows older than query_log_retention_days are deleted.",
        &[
            ("finished_at", "When the statement finished (UTC)."),
            ("user_name", "The connection's user."),
            (
                "statement_kind",
                "SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, SET, SHOW, OTHER …: the statement's first keyword.",
            ),
            (
                "duration_ms",
                "Milliseconds from receiving the statement to sending its last row.",
            ),
            ("rows", "Rows returned or changed."),
            (
                "error_code",
                "SQLSTATE of the error; NULL when it succeeded.",
            ),
            (
                "cache_hit",
                "Whether the result came from the result cache.",
            ),
        ],
    ),
    (
        "plugins",
        "The WebAssembly plugins found in plugins_dir, one row per plugin directory; rewritten whenever one is loaded, reloaded or removed.",
        &[
            ("name", "Plugin name: the STORED AS name of its tables."),
            ("version", "Version from its plugin.toml."),
            (
                "kind",
                "connector (model plugins come with the ML functions).",
            ),
            ("api", "The spirit:plugin WIT version it implements."),
            (
                "status",
                "loaded, or failed when it could not be loaded (see last_error).",
            ),
            (
                "last_error",
                "Why it failed to load or reload, or the last warning or error it logged; NULL when none.",
            ),
            (
                "loaded_at",
                "When the version now serving was loaded (UTC).",
            ),
            ("path", "Its directory."),
            ("description", "What it reads, from its plugin.toml."),
        ],
    ),
    (
        "sources",
        "External tables served by plugins (CREATE EXTERNAL TABLE … STORED AS <plugin>), with their scan and refresh counters.",
        &[
            ("name", "The table's name in the public schema."),
            ("plugin", "The plugin serving it."),
            ("plugin_table", "Which of the plugin's tables it is."),
            ("location", "Its LOCATION (a URL or a directory)."),
            (
                "refresh_interval",
                "How often its copy in the store is refreshed; NULL when queries read the plugin directly.",
            ),
            ("last_refresh_at", "When the copy was last refreshed (UTC)."),
            ("last_refresh_rows", "Rows in the copy after that refresh."),
            (
                "last_refresh_error",
                "Why the last refresh failed (the previous copy keeps serving); NULL when it succeeded.",
            ),
            ("last_scan_at", "When the plugin was last read (UTC)."),
            (
                "rows_read",
                "Rows read from the plugin since the table was created, by queries and refreshes.",
            ),
            (
                "skipped_rows",
                "Source rows the plugin could not read and skipped (malformed lines or records), in total; the plugin logs which.",
            ),
            (
                "last_error",
                "The last error a scan of it raised; NULL when none.",
            ),
        ],
    ),
    (
        "engine_heartbeats",
        "One row every 10 seconds while the engine runs; metrics.operational_health derives uptime from the gaps.",
        &[
            ("beat_at", "When the heartbeat was written (UTC)."),
            (
                "active_connections",
                "Client connections open at that moment.",
            ),
        ],
    ),
];

fn comment_tables(conn: &Connection) -> duckdb::Result<()> {
    let mut sql = String::new();
    for (table, description, columns) in COMMENTS {
        sql.push_str(&format!(
            "COMMENT ON TABLE spirit.{table} IS {};\n",
            crate::store::quote_literal(description)
        ));
        for (column, description) in *columns {
            sql.push_str(&format!(
                "COMMENT ON COLUMN spirit.{table}.{column} IS {};\n",
                crate::store::quote_literal(description)
            ));
        }
    }
    conn.execute_batch(&sql)
}

/// One KPI's built-in target.
struct KpiDefault {
    kpi: &'static str,
    comparison: &'static str,
    target: f64,
    warning: f64,
    description: &'static str,
}

/// The platform's targets; spirit.toml `[kpi_targets.<kpi>]` overrides them.
const KPI_DEFAULTS: &[KpiDefault] = &[
    KpiDefault {
        kpi: "ai_success_rate",
        comparison: ">",
        target: 0.94,
        warning: 0.92,
        description: "Share of AI agent requests completed without human hand-off, last 30 days.",
    },
    KpiDefault {
        kpi: "ai_response_time_ms",
        comparison: "<",
        target: 1000.0,
        warning: 1500.0,
        description: "Average AI agent response time in milliseconds, last 30 days.",
    },
    KpiDefault {
        kpi: "uptime",
        comparison: ">",
        target: 0.999,
        warning: 0.99,
        description: "Share of the last 24 hours the engine was up.",
    },
    KpiDefault {
        kpi: "query_response_ms",
        comparison: "<",
        target: 200.0,
        warning: 500.0,
        description: "95th percentile of query duration in milliseconds, last 24 hours.",
    },
    KpiDefault {
        kpi: "error_rate",
        comparison: "<",
        target: 0.005,
        warning: 0.02,
        description: "Share of statements that failed, last 24 hours.",
    },
    KpiDefault {
        kpi: "revenue_30d",
        comparison: ">",
        target: 0.0,
        warning: 0.0,
        description: "Revenue in EUR of the last 30 days.",
    },
    KpiDefault {
        kpi: "revenue_growth_mom",
        comparison: ">",
        target: 0.0,
        warning: -0.05,
        description: "Revenue of the last 30 days against the 30 days before.",
    },
    KpiDefault {
        kpi: "lead_conversion_rate",
        comparison: ">",
        target: 0.2,
        warning: 0.15,
        description: "Share of all CRM leads that were won.",
    },
    KpiDefault {
        kpi: "ticket_sla_met_rate",
        comparison: ">",
        target: 0.9,
        warning: 0.8,
        description: "Share of support tickets resolved in the last 30 days within their SLA.",
    },
    KpiDefault {
        kpi: "call_answer_rate",
        comparison: ">",
        target: 0.9,
        warning: 0.85,
        description: "Share of calls in the last 30 days that were answered.",
    },
    KpiDefault {
        kpi: "csat",
        comparison: ">",
        target: 4.0,
        warning: 3.5,
        description: "Average support ticket rating 1-5, tickets opened in the last 30 days.",
    },
    KpiDefault {
        kpi: "nps",
        comparison: ">",
        target: 30.0,
        warning: 10.0,
        description: "Net Promoter Score of all survey answers (-100 to 100).",
    },
    KpiDefault {
        kpi: "churn_rate",
        comparison: "<",
        target: 0.35,
        warning: 0.45,
        description: "Share of last year's customers who did not book again in the 12 months since.",
    },
];

/// Built-in win probabilities of the open pipeline stages.
const STAGE_WEIGHT_DEFAULTS: &[(&str, f64)] = &[
    ("new", 0.1),
    ("contacted", 0.2),
    ("qualified", 0.4),
    ("proposal", 0.6),
    ("negotiation", 0.8),
];

/// The metric parameters of a configuration, checked: the stage weights and KPI targets with
/// the defaults filled in.
struct MetricParameters {
    as_of: Option<chrono::NaiveDateTime>,
    weights: Vec<(String, f64)>,
    targets: Vec<(String, String, f64, f64, String)>,
}

/// Checks the metric parameters of `config` (for start-up, before anything is served).
pub fn check_metric_settings(config: &Config) -> crate::Result<()> {
    metric_parameters(config).map(|_| ())
}

fn metric_parameters(config: &Config) -> crate::Result<MetricParameters> {
    let as_of = config.metrics_as_of()?;
    let mut weights: Vec<(String, f64)> = STAGE_WEIGHT_DEFAULTS
        .iter()
        .map(|(s, w)| ((*s).to_string(), *w))
        .collect();
    for (stage, weight) in &config.crm_stage_weights {
        if !(0.0..=1.0).contains(weight) {
            return Err(crate::SpiritError::Config(format!(
                "crm_stage_weights.{stage} = {weight}: a weight is a probability between 0 and 1"
            )));
        }
        match weights.iter_mut().find(|(s, _)| s == stage) {
            Some(entry) => entry.1 = *weight,
            None => {
                return Err(crate::SpiritError::Config(format!(
                    "crm_stage_weights.{stage}: unknown stage; the open stages are new, contacted, \
                     qualified, proposal and negotiation"
                )));
            }
        }
    }
    let mut targets: Vec<(String, String, f64, f64, String)> = KPI_DEFAULTS
        .iter()
        .map(|d| {
            (
                d.kpi.to_string(),
                d.comparison.to_string(),
                d.target,
                d.warning,
                d.description.to_string(),
            )
        })
        .collect();
    for (kpi, given) in &config.kpi_targets {
        let existing = targets.iter().position(|t| &t.0 == kpi);
        let comparison = match (&given.comparison, existing) {
            (Some(c), _) if c == ">" || c == "<" => c.clone(),
            (Some(c), _) => {
                return Err(crate::SpiritError::Config(format!(
                    "kpi_targets.{kpi}.comparison = {c:?}: use \">\" (higher is better) or \"<\""
                )));
            }
            (None, Some(i)) => targets[i].1.clone(),
            (None, None) => {
                return Err(crate::SpiritError::Config(format!(
                    "kpi_targets.{kpi}: not a built-in KPI, so give its comparison (\">\" or \"<\")"
                )));
            }
        };
        let row = (
            kpi.clone(),
            comparison,
            given.target,
            given.warning.unwrap_or(given.target),
            existing.map(|i| targets[i].4.clone()).unwrap_or_default(),
        );
        match existing {
            Some(i) => targets[i] = row,
            None => targets.push(row),
        }
    }
    Ok(MetricParameters {
        as_of,
        weights,
        targets,
    })
}

/// Rewrites the metric views' parameters from `config`, in one transaction.
pub fn write_metric_settings(conn: &Connection, config: &Config) -> crate::Result<()> {
    let MetricParameters {
        as_of,
        weights,
        targets,
    } = metric_parameters(config)?;
    let settings: [(&str, Option<String>, &str); 3] = [
        (
            "as_of",
            as_of.map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string()),
            "UTC instant the relative windows (last 30 days, last 48 hours …) end at; NULL means now.",
        ),
        (
            "human_cost_per_query_eur",
            Some(config.human_cost_per_query_eur.to_string()),
            "Cost in EUR of one request handled by a person.",
        ),
        (
            "ai_cost_per_query_eur",
            Some(config.ai_cost_per_query_eur.to_string()),
            "Cost in EUR of one request handled by an AI agent.",
        ),
    ];
    let write = || -> duckdb::Result<()> {
        conn.execute_batch(
            "DELETE FROM spirit.metric_settings; DELETE FROM spirit.crm_stage_weights; \
             DELETE FROM spirit.kpi_targets;",
        )?;
        for (name, value, description) in &settings {
            conn.execute(
                "INSERT INTO spirit.metric_settings VALUES (?, ?, ?)",
                duckdb::params![name, value, description],
            )?;
        }
        for (stage, weight) in &weights {
            conn.execute(
                "INSERT INTO spirit.crm_stage_weights VALUES (?, ?)",
                duckdb::params![stage, weight],
            )?;
        }
        for (kpi, comparison, target, warning, description) in &targets {
            conn.execute(
                "INSERT INTO spirit.kpi_targets VALUES (?, ?, ?, ?, ?)",
                duckdb::params![kpi, comparison, target, warning, description],
            )?;
        }
        Ok(())
    };
    let as_of_sql = match as_of {
        Some(t) => format!("TIMESTAMP '{}'", t.format("%Y-%m-%d %H:%M:%S%.f")),
        None => "make_timestamp(epoch_us(get_current_timestamp()))".to_string(),
    };
    crate::store::in_transaction(conn, |conn| {
        write()?;
        conn.execute_batch(&format!(
            "CREATE OR REPLACE MACRO spirit.as_of() AS {as_of_sql};
             CREATE OR REPLACE MACRO spirit.human_cost_per_query_eur() AS CAST({} AS DOUBLE);
             CREATE OR REPLACE MACRO spirit.ai_cost_per_query_eur() AS CAST({} AS DOUBLE);",
            config.human_cost_per_query_eur, config.ai_cost_per_query_eur
        ))
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::KpiTarget;

    fn written(config: &Config) -> crate::Result<Connection> {
        let conn = Connection::open_in_memory()?;
        ensure_schema(&conn)?;
        write_metric_settings(&conn, config)?;
        Ok(conn)
    }

    #[test]
    fn configured_targets_weights_and_as_of_reach_the_store() {
        let mut config = Config {
            metrics_as_of: Some("2026-07-01".into()),
            ..Config::default()
        };
        config.crm_stage_weights.insert("proposal".into(), 0.5);
        config.kpi_targets.insert(
            "ai_success_rate".into(),
            KpiTarget {
                target: 0.95,
                warning: Some(0.93),
                comparison: None,
            },
        );
        let conn = written(&config).unwrap();
        let (comparison, target, warning): (String, f64, f64) = conn
            .query_row(
                "SELECT comparison, target, warning FROM spirit.kpi_targets WHERE kpi = 'ai_success_rate'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!((comparison.as_str(), target, warning), (">", 0.95, 0.93));
        let weight: f64 = conn
            .query_row(
                "SELECT weight FROM spirit.crm_stage_weights WHERE stage = 'proposal'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(weight, 0.5);
        let as_of: String = conn
            .query_row("SELECT CAST(spirit.as_of() AS VARCHAR)", [], |r| r.get(0))
            .unwrap();
        assert_eq!(as_of, "2026-07-01 00:00:00");
    }

    #[test]
    fn bad_parameters_are_refused_with_what_to_change() {
        let mut config = Config::default();
        config.crm_stage_weights.insert("won".into(), 1.0);
        let err = written(&config).unwrap_err().to_string();
        assert!(
            err.contains("crm_stage_weights.won") && err.contains("negotiation"),
            "{err}"
        );

        let mut config = Config::default();
        config.kpi_targets.insert(
            "bookings_per_agent".into(),
            KpiTarget {
                target: 10.0,
                warning: None,
                comparison: None,
            },
        );
        let err = written(&config).unwrap_err().to_string();
        assert!(err.contains("give its comparison"), "{err}");

        let config = Config {
            metrics_as_of: Some("yesterday".into()),
            ..Config::default()
        };
        let err = written(&config).unwrap_err().to_string();
        assert!(err.contains("YYYY-MM-DD"), "{err}");
    }
}
