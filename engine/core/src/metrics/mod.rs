//! The metric layer: every business metric and KPI as a documented view in the `metrics` schema.
//!
//! - [`loader`]: `metrics_dir/*.sql` → the store's `metrics` schema, one transaction per load.
//! - [`functions`]: the schema's table macros as SQL table functions (`revenue_summary(…)`) and
//!   `reload_metrics()`.
//!
//! [`Metrics`] ties them to the session: after each load it forgets cached view providers and
//! re-registers the table functions; a watcher reloads when a file changes.

pub mod functions;
pub mod loader;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use datafusion::prelude::SessionContext;

use crate::cache::ResultCache;
use crate::catalog::StoreReadOnlySchema;
use crate::config::Config;
use crate::error::Result;
use crate::store::Store;
pub use loader::LoadReport;
use loader::MetricLoader;

/// The schema metric views live in, in the store and in SQL.
pub const SCHEMA: &str = "metrics";

/// The metric views of one engine.
pub struct Metrics {
    loader: MetricLoader,
    store: Store,
    schema: Arc<StoreReadOnlySchema>,
    ctx: SessionContext,
    cache: Arc<ResultCache>,
    reload_seconds: u64,
    /// Table functions registered from the schema's table macros.
    functions: Mutex<BTreeSet<String>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("loader", &self.loader)
            .finish_non_exhaustive()
    }
}

impl Metrics {
    /// The metric layer over `store`, shown through `schema` in `ctx`.
    pub fn new(
        store: Store,
        config: &Config,
        schema: Arc<StoreReadOnlySchema>,
        ctx: SessionContext,
        cache: Arc<ResultCache>,
    ) -> Arc<Self> {
        let metrics = Arc::new(Self {
            loader: MetricLoader::new(store.clone(), config.clone()),
            store,
            schema,
            ctx,
            cache,
            reload_seconds: config.metrics_reload_seconds,
            functions: Mutex::default(),
        });
        metrics
            .ctx
            .register_udf(functions::reload_metrics_udf(Arc::downgrade(&metrics)));
        metrics
    }

    /// (Re)loads every metric file and makes the result visible to new queries.
    pub fn reload(&self) -> Result<LoadReport> {
        let report = self.loader.load()?;
        self.schema.invalidate();
        self.cache.metrics_reloaded();
        self.sync_functions()?;
        if report.failed.is_empty() {
            tracing::info!(dir = %self.loader.dir().display(), "{report}");
        } else {
            tracing::warn!(dir = %self.loader.dir().display(), "{report}");
        }
        Ok(report)
    }

    /// Registers a table function for each table macro of the schema, and unregisters those
    /// whose macro went away.
    fn sync_functions(&self) -> Result<()> {
        let macros = self.store.with_conn(loader::table_functions)?;
        let mut registered = self.functions.lock().expect("functions lock");
        let names: BTreeSet<String> = macros.iter().map(|(name, _)| name.clone()).collect();
        for gone in registered.difference(&names) {
            self.ctx.deregister_udtf(gone);
        }
        for (name, params) in macros {
            self.ctx.register_udtf(
                &name,
                Arc::new(functions::StoreMacroFunction::new(
                    self.store.clone(),
                    &name,
                    params,
                )),
            );
        }
        *registered = names;
        Ok(())
    }

    /// Reloads whenever a file in the directory changes (after the first load); stops when the
    /// engine is dropped. Only a serving engine watches; `spirit demo` and `spirit sql` do not.
    pub fn spawn_watcher(self: &Arc<Self>) {
        if self.reload_seconds == 0 {
            return;
        }
        let weak = Arc::downgrade(self);
        let period = Duration::from_secs(self.reload_seconds);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(metrics) = weak.upgrade() else {
                    return;
                };
                if !metrics.loader.loaded_once() || !metrics.loader.changed() {
                    continue;
                }
                let outcome = tokio::task::spawn_blocking(move || metrics.reload()).await;
                if let Ok(Err(e)) = outcome {
                    tracing::error!("reloading the metric views failed: {e}");
                }
            }
        });
    }
}
