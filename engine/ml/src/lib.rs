//! Spirit Analytics predictions as SQL. The models themselves are WebAssembly model plugins
//! (`plugins/forecasting`, `plugins/gbt`, `plugins/linear`, or a third party's); this crate
//! turns them into table functions and keeps what they learn.
//!
//! - [`functions`]: the table-function plumbing: argument parsing and a table computed when
//!   it is scanned.
//! - [`data`]: running a source (a table name or a SELECT) and turning its columns into the
//!   Float64 features and labels models take.
//! - [`series`]: time series: frequency detection, the regular grid, gap filling, seasonal
//!   periods.
//! - [`forecast`]: `forecast`, `explain_forecast` and `detect_anomalies`.
//! - [`models`]: the model registry (`spirit.models`, artifacts in the store): versions and
//!   deployment.
//! - [`training`]: `train_model`, `predict`, `evaluate_model`, `deploy_model`.
//! - [`scores`]: held-out metrics (AUC, log-loss, F1, accuracy; RMSE, MAE, R²).
//! - [`domain`]: the tour operator's predictions over the demo schema (`forecast_revenue`,
//!   `demand_forecast`, `churn_risk`, `price_recommendations`, `booking_probability`).

pub mod data;
pub mod domain;
pub mod forecast;
pub mod functions;
pub mod models;
pub mod scores;
pub mod series;
pub mod training;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use datafusion::error::DataFusionError;
use datafusion::prelude::SessionContext;
use spirit_core::SqlStateError;
use spirit_core::engine::Extension;
use spirit_core::store::Store;
use spirit_plugins::{Plugin, Registry};

/// SQLSTATE 22023: an argument has a value the function cannot use.
pub const INVALID_PARAMETER: &str = "22023";
/// SQLSTATE 42703: a named column does not exist.
pub const UNDEFINED_COLUMN: &str = "42703";
/// SQLSTATE 42883: no such model or algorithm (they are called like functions).
pub const UNDEFINED_FUNCTION: &str = "42883";
/// SQLSTATE 55000: a model plugin the call needs is not loaded.
pub const NOT_LOADED: &str = "55000";

/// A result of DataFusion's; the ML functions' own errors are [`SqlStateError`]s inside it, so
/// the client gets their SQLSTATE, and errors of the SQL they run keep DataFusion's.
pub type Result<T> = datafusion::error::Result<T>;

/// An error with SQLSTATE `code` and `message`.
pub fn error(code: &'static str, message: impl Into<String>) -> DataFusionError {
    SqlStateError::new(code, message).into()
}

/// 22023 with `message`.
pub fn invalid(message: impl Into<String>) -> DataFusionError {
    error(INVALID_PARAMETER, message)
}

/// What every ML function shares: the session to run sources in, the store that keeps
/// models, and the plugins that run them.
pub struct Ml {
    me: std::sync::Weak<Ml>,
    plugins: Arc<Registry>,
    retrain_every: Duration,
    session: OnceLock<(SessionContext, Store)>,
    cache: domain::Cache,
    /// Where artifacts are written as files (`ML_MODELS_PATH`); in the store when `None`.
    artifacts_dir: Option<std::path::PathBuf>,
    /// Held while a domain model trains, so concurrent first uses train it once.
    training: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Ml {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ml")
            .field("retrain_every", &self.retrain_every)
            .finish_non_exhaustive()
    }
}

impl Ml {
    /// The ML functions over the model plugins of `plugins`; domain models are retrained when
    /// older than `retrain_every`; artifacts go to files in `artifacts_dir` when given, else
    /// into the store.
    pub fn new(
        plugins: Arc<Registry>,
        retrain_every: Duration,
        artifacts_dir: Option<std::path::PathBuf>,
    ) -> Arc<Self> {
        Arc::new_cyclic(|me| Self {
            me: me.clone(),
            plugins,
            retrain_every,
            session: OnceLock::new(),
            cache: domain::Cache::default(),
            artifacts_dir,
            training: tokio::sync::Mutex::new(()),
        })
    }

    /// The session and store, once installed.
    pub(crate) fn session(&self) -> Result<&(SessionContext, Store)> {
        self.session
            .get()
            .ok_or_else(|| error(NOT_LOADED, "the ML functions are not installed"))
    }

    /// The loaded plugin called `name`.
    pub(crate) fn plugin(&self, name: &str) -> Result<Arc<Plugin>> {
        self.plugins.plugin(name).map_err(plugin_error)
    }

    /// Forgets cached domain predictions (a model changed).
    pub(crate) fn forget_predictions(&self) {
        self.cache.clear();
    }

    /// Checks for stale domain models every hour (or every retrain interval, if shorter) on
    /// the runtime, for as long as the engine lives; a failed retrain is logged and the
    /// deployed version keeps answering.
    fn schedule_retraining(&self) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let me = self.me.clone();
        let every = self.retrain_every.min(Duration::from_secs(3600));
        runtime.spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(ml) = me.upgrade() else {
                    return;
                };
                if let Err(e) = domain::retrain_due(&ml).await {
                    tracing::error!(
                        "scheduled retraining failed; the deployed models keep answering: {e}"
                    );
                }
            }
        });
    }

    /// Where artifacts are written as files, if not into the store.
    pub(crate) fn artifacts_dir(&self) -> Option<&std::path::Path> {
        self.artifacts_dir.as_deref()
    }

    /// How often domain models are retrained.
    pub fn retrain_every(&self) -> Duration {
        self.retrain_every
    }

    /// The loaded model plugin offering `algorithm` for `task`: `algorithm` may name an
    /// algorithm or a plugin (then its first algorithm for the task).
    pub(crate) fn algorithm(
        &self,
        algorithm: &str,
        task: spirit_plugins::host::Task,
    ) -> Result<(Arc<Plugin>, String)> {
        let mut offered = Vec::new();
        for plugin in self.plugins.models() {
            let algorithms = plugin.algorithms().map_err(plugin_error)?;
            for info in &algorithms {
                if !info.tasks.contains(&task) {
                    continue;
                }
                if info.name == algorithm || plugin.manifest.name == algorithm {
                    return Ok((Arc::clone(&plugin), info.name.clone()));
                }
                offered.push(info.name.clone());
            }
        }
        offered.sort();
        Err(error(
            UNDEFINED_FUNCTION,
            if offered.is_empty() {
                format!(
                    "no model plugin is loaded for {task:?}: install the bundled plugins \
                     (scripts/build-plugins.sh) into the plugins directory; spirit.plugins \
                     lists what loaded"
                )
            } else {
                format!(
                    "no algorithm or model plugin '{algorithm}' for {task:?}; the loaded ones \
                     are {}",
                    offered.join(", ")
                )
            },
        ))
    }
}

/// A plugin failure, keeping the plugin error's SQLSTATE.
pub(crate) fn plugin_error(e: spirit_plugins::PluginError) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}

impl Extension for Ml {
    /// Creates the registry's tables and registers the table functions.
    fn install(&self, ctx: &SessionContext, store: &Store) -> spirit_core::Result<()> {
        models::create_tables(store)?;
        if self.session.set((ctx.clone(), store.clone())).is_err() {
            return Err(spirit_core::SpiritError::Config(
                "the ML functions are installed in one engine only".into(),
            ));
        }
        if let Some(me) = self.me.upgrade() {
            forecast::register(&me, ctx);
            training::register(&me, ctx);
            domain::register(&me, ctx);
            me.schedule_retraining();
        }
        Ok(())
    }
}
