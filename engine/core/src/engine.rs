//! The engine: one DataFusion `SessionContext` over the embedded store and the catalogs BI tools
//! expect, plus the statements that need more than DataFusion gives (persisted external tables).

use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::config::Dialect;
use datafusion::dataframe::DataFrame;
use datafusion::execution::context::SQLOptions;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::logical_expr::{DdlStatement, LogicalPlan};
use datafusion::optimizer::{Optimizer, OptimizerRule};
use datafusion::physical_optimizer::optimizer::PhysicalOptimizer;
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion::sql::parser::{DFParserBuilder, Statement};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion_federation::FederatedQueryPlanner;
use datafusion_pg_catalog::pg_catalog::setup_pg_catalog;

use crate::cache::{CacheSettings, ResultCache};
use crate::catalog::{StoreReadOnlySchema, StoreSchemaProvider};
use crate::config::Config;
use crate::demo::{self, DemoOptions};
use crate::error::{Result, SpiritError};
use crate::login_roles::LoginRoles;
use crate::metrics::{self, Metrics};
use crate::pushdown::StorePushdown;
use crate::store::{Store, quote_literal};
use crate::{descriptions, system};

/// The analytics engine shared by every front end.
pub struct Engine {
    config: Config,
    store: Store,
    public: Arc<StoreSchemaProvider>,
    metrics: Arc<Metrics>,
    cache: Arc<ResultCache>,
    ctx: SessionContext,
    /// Kept alive as long as the engine: they may run background work (watchers).
    _extensions: Vec<Arc<dyn Extension>>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("config", &self.config)
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

/// DataFusion's optimizer rules with the store push-down ([`StorePushdown`]) after scalar
/// subqueries became joins, so that it sees them, and before filters and projections are pushed
/// into scans, which the pushed-down SQL does not need.
fn optimizer_rules() -> Vec<Arc<dyn OptimizerRule + Send + Sync>> {
    let mut rules = Optimizer::new().rules;
    let at = rules
        .iter()
        .position(|rule| rule.name() == "scalar_subquery_to_join")
        .map_or(0, |i| i + 1);
    rules.insert(at, Arc::new(StorePushdown::default()));
    rules
}

/// Something added to the engine's session before the saved external tables are re-created:
/// the plugin host registers its `STORED AS <plugin>` table factories this way, so tables
/// defined over plugins come back after a restart.
pub trait Extension: Send + Sync {
    /// Adds to `ctx`, whose tables live in `store`.
    fn install(&self, ctx: &SessionContext, store: &Store) -> Result<()>;
}

impl Engine {
    /// Opens the store in `config.data_dir` and builds the session context, re-creating the
    /// external tables defined earlier.
    pub async fn open(config: Config) -> Result<Self> {
        Self::open_with(config, &[]).await
    }

    /// [`Engine::open`], with `extensions` installed before the external tables are re-created.
    pub async fn open_with(config: Config, extensions: &[Arc<dyn Extension>]) -> Result<Self> {
        system::check_metric_settings(&config)?;
        let store = Store::open(&config.store_path(), config.max_connections)?;
        let mut session = SessionConfig::new()
            .with_default_catalog_and_schema(&config.database, "public")
            .with_information_schema(true);
        let options = session.options_mut();
        options.sql_parser.dialect = Dialect::PostgreSQL;
        // The store keeps plain strings; view types would only be converted back and forth.
        options.sql_parser.map_string_types_to_utf8view = false;
        // Physical filter pushdown would hand FilterExec predicates to the DuckDB scan as SQL
        // text, bypassing the check in `StoreTable::supports_filters_pushdown` that keeps
        // predicates DataFusion's unparser writes ambiguously out of DuckDB. Logical pushdown
        // already gives the store every filter it can take.
        let physical_rules = PhysicalOptimizer::new()
            .rules
            .into_iter()
            .filter(|rule| !rule.name().starts_with("FilterPushdown"))
            .collect();
        let state = SessionStateBuilder::new()
            .with_config(session)
            .with_default_features()
            .with_optimizer_rules(optimizer_rules())
            .with_query_planner(Arc::new(FederatedQueryPlanner::new()))
            .with_physical_optimizer_rules(physical_rules)
            .build();
        let ctx = SessionContext::new_with_state(state);

        let public = Arc::new(StoreSchemaProvider::new(store.clone()));
        let metric_views = Arc::new(StoreReadOnlySchema::new(
            store.clone(),
            metrics::SCHEMA,
            "metric views are defined by the .sql files in metrics_dir",
        ));
        let system_tables = Arc::new(StoreReadOnlySchema::new(
            store.clone(),
            system::SCHEMA,
            "system tables are written by the engine",
        ));
        let catalog = ctx
            .catalog(&config.database)
            .ok_or_else(|| SpiritError::Config("default catalog missing".into()))?;
        catalog.register_schema("public", Arc::clone(&public) as _)?;
        catalog.register_schema(metrics::SCHEMA, Arc::clone(&metric_views) as _)?;
        catalog.register_schema(system::SCHEMA, system_tables)?;
        setup_pg_catalog(&ctx, &config.database, LoginRoles::new(&config))
            .map_err(|e| SpiritError::DataFusion(*e))?;
        descriptions::install(&ctx, &store, &config.database).await?;
        crate::pg_functions::install(&ctx);
        let cache = Arc::new(ResultCache::new(
            store.clone(),
            CacheSettings::from_config(&config),
        ));
        let metrics = Metrics::new(
            store.clone(),
            &config,
            metric_views,
            ctx.clone(),
            Arc::clone(&cache),
        );
        for extension in extensions {
            extension.install(&ctx, &store)?;
        }

        let engine = Self {
            config,
            store,
            public,
            metrics,
            cache,
            ctx,
            _extensions: extensions.to_vec(),
        };
        engine.restore_external_tables().await;
        if engine.is_empty()? {
            tracing::info!("the store has no tables yet: metric views load once data arrives");
        } else if let Err(e) = engine.metrics.reload() {
            tracing::error!("metric views not loaded: {e}");
        }
        Ok(engine)
    }

    /// The engine's configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The embedded store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The metric views.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The query-result cache.
    pub fn cache(&self) -> &Arc<ResultCache> {
        &self.cache
    }

    /// The DataFusion session every query runs in.
    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }

    /// Whether the store holds no tables yet (a fresh data dir).
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.store.table_names()?.is_empty())
    }

    /// (Re)generates the demo data set into the store.
    pub fn generate_demo(&self, options: &DemoOptions) -> Result<demo::DemoSummary> {
        let summary = demo::generate(&self.store, options)?;
        self.public.invalidate();
        self.cache.schema_changed();
        if let Err(e) = self.metrics.reload() {
            tracing::error!("metric views not loaded: {e}");
        }
        Ok(summary)
    }

    /// Runs one statement and returns its result. Handles the statements only DataFusion's
    /// dialect has (see [`is_native_statement`]), persisting external-table definitions.
    pub async fn sql(&self, sql: &str) -> Result<DataFrame> {
        let dialect = PostgreSqlDialect {};
        let mut statements = DFParserBuilder::new(sql)
            .with_dialect(&dialect)
            .build()?
            .parse_statements()?;
        let statement = match (statements.pop_front(), statements.is_empty()) {
            (Some(statement), true) => statement,
            (None, _) => return Ok(self.ctx.read_empty()?),
            (Some(_), false) => {
                return Err(SpiritError::InvalidInput(
                    "send one statement at a time here (found several separated by ';')".into(),
                ));
            }
        };
        let state = self.ctx.state();
        let plan = state.statement_to_plan(statement.clone()).await?;
        let saved = match (&statement, &plan) {
            (
                Statement::CreateExternalTable(cmd),
                LogicalPlan::Ddl(DdlStatement::CreateExternalTable(create)),
            ) => {
                let exists = self.ctx.table_exist(create.name.clone())?;
                (!exists || create.or_replace).then(|| {
                    (
                        create.name.table().to_string(),
                        absolute_locations(sql, &cmd.locations),
                    )
                })
            }
            _ => None,
        };
        let df = self.ctx.execute_logical_plan(plan).await?;
        if let Some((name, definition)) = saved {
            self.store.save_external_table(&name, &definition)?;
        }
        Ok(df)
    }

    async fn restore_external_tables(&self) {
        let definitions = match self.store.external_tables() {
            Ok(definitions) => definitions,
            Err(e) => {
                tracing::error!("cannot read external table definitions: {e}");
                return;
            }
        };
        for (name, definition) in definitions {
            let restored = async { self.ctx.sql(&definition).await?.collect().await };
            match restored.await {
                Ok(_) => tracing::info!(table = %name, "restored external table"),
                Err(e) => {
                    tracing::warn!(
                        table = %name,
                        "external table not restored (DROP TABLE {name} to forget it): {e}"
                    );
                    self.public.register_unavailable(&name, e.to_string());
                }
            }
        }
    }

    /// Writes all committed data into the store file; called on shutdown.
    pub fn checkpoint(&self) -> Result<()> {
        self.store.checkpoint()
    }
}

/// Runs `sql` on `ctx` as a query that only reads (DDL, DML and SET are refused) and returns
/// its rows as one batch: what the engine's own features (predictions, reports) run on behalf
/// of a user.
pub async fn read_only_query(
    ctx: &SessionContext,
    sql: &str,
) -> datafusion::error::Result<RecordBatch> {
    let options = SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false);
    let df = ctx.sql_with_options(sql, options).await?;
    let planned = Arc::new(df.schema().as_arrow().clone());
    let batches = df.collect().await?;
    let schema = batches.first().map_or(planned, RecordBatch::schema);
    Ok(concat_batches(&schema, &batches)?)
}

/// Whether `sql` starts with a statement that only DataFusion's dialect has (so a PostgreSQL
/// parser would reject it): `CREATE [OR REPLACE] [UNBOUNDED] EXTERNAL TABLE` and `COPY … TO`.
pub fn is_native_statement(sql: &str) -> bool {
    let words: Vec<String> = strip_leading_comments(sql)
        .split_whitespace()
        .take(5)
        .map(str::to_ascii_uppercase)
        .collect();
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    matches!(
        words.as_slice(),
        ["CREATE", "EXTERNAL", ..]
            | ["CREATE", "UNBOUNDED", "EXTERNAL", ..]
            | ["CREATE", "OR", "REPLACE", "EXTERNAL", ..]
            | ["CREATE", "OR", "REPLACE", "UNBOUNDED", "EXTERNAL"]
    )
}

/// `sql` without the comments before its first keyword.
pub fn strip_leading_comments(mut sql: &str) -> &str {
    loop {
        sql = sql.trim_start();
        if let Some(rest) = sql.strip_prefix("--") {
            sql = rest.split_once('\n').map_or("", |(_, rest)| rest);
        } else if let Some(rest) = sql.strip_prefix("/*") {
            sql = rest.split_once("*/").map_or("", |(_, rest)| rest);
        } else {
            return sql;
        }
    }
}

/// `sql` with each relative local LOCATION made absolute, so the definition still works when the
/// engine is later started from another directory.
fn absolute_locations(sql: &str, locations: &[String]) -> String {
    let mut sql = sql.trim().trim_end_matches(';').to_string();
    for location in locations {
        let path = Path::new(location);
        if location.contains("://") || path.is_absolute() {
            continue;
        }
        if let Ok(absolute) = std::path::absolute(path) {
            let mut absolute = absolute.to_string_lossy().into_owned();
            if location.ends_with('/') && !absolute.ends_with('/') {
                absolute.push('/');
            }
            sql = sql.replace(&quote_literal(location), &quote_literal(&absolute));
        }
    }
    sql
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn native_statements_are_recognised() {
        assert!(is_native_statement(
            "create external table t stored as csv location 'x'"
        ));
        assert!(is_native_statement(
            "-- comment\n  CREATE OR REPLACE EXTERNAL TABLE t STORED AS PARQUET LOCATION 'x'"
        ));
        assert!(!is_native_statement("CREATE TABLE t (a int)"));
        assert!(!is_native_statement("SELECT 'CREATE EXTERNAL'"));
    }

    #[test]
    fn relative_locations_become_absolute() {
        let sql = "CREATE EXTERNAL TABLE t STORED AS CSV LOCATION 'data/x.csv';";
        let out = absolute_locations(sql, &["data/x.csv".to_string()]);
        assert!(!out.contains("'data/x.csv'"), "{out}");
        assert!(out.contains("/data/x.csv'"), "{out}");
        assert!(!out.ends_with(';'));
    }
}
