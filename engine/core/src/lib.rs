//! Spirit Analytics core: everything below the front ends.
//!
//! - [`config`]: `spirit.toml` and `SPIRIT_*` overrides.
//! - [`store`]: the embedded DuckDB file and its tables.
//! - [`store_table`]: the DataFusion table over one store table.
//! - [`pushdown`]: whole queries over store tables run inside DuckDB (federation).
//! - [`prepared`]: statements known to run whole in the store, kept with their DuckDB SQL.
//! - [`shapes`]: statements with their filters' literals taken out, which share one such query.
//! - [`catalog`]: the schemas DataFusion sees over the store (`public`, `metrics`, `spirit`).
//! - [`descriptions`]: the store's COMMENTs as `pg_description` and `col_description()`.
//! - [`information_schema`]: `columns`, `table_constraints`, `key_column_usage` as PostgreSQL has them.
//! - [`catalog_stats`]: `pg_settings` and `pg_stat_user_tables` with the engine's values.
//! - [`keys`]: the store's primary, unique and foreign keys in `pg_constraint`, `pg_index`, `pg_class`.
//! - [`pg_functions`]: PostgreSQL functions BI tools call (`version()`, `current_setting()`, …).
//! - [`metrics`]: the metric views loaded from `metrics_dir`, and their SQL functions.
//! - [`system`]: the `spirit` schema of system tables and metric parameters.
//! - [`login_roles`]: the users who may log in, as `pg_roles` shows them.
//! - [`telemetry`]: the query log and heartbeats behind `metrics.operational_health`.
//! - [`engine`]: the DataFusion session shared by every front end.
//! - [`cache`]: the query-result cache (moka in-process, or Redis) and the tables' data versions.
//! - [`ingest`]: real-time ingest of JSON lines into store tables, all or nothing per request.
//! - [`observability`]: the Prometheus metrics every part reports to.
//! - [`demo`]: the Spirit Tours demo data set and its planted truths.
//!
//! Nothing here knows about the wire protocol; the server crate maps [`SpiritError`] to SQLSTATEs.

pub mod cache;
pub mod catalog;
pub mod catalog_stats;
pub mod config;
pub mod demo;
pub mod descriptions;
pub mod engine;
pub mod error;
pub mod information_schema;
pub mod ingest;
pub mod keys;
pub mod login_roles;
pub mod metrics;
pub mod observability;
pub mod pg_functions;
pub mod prepared;
pub mod pushdown;
pub mod shapes;
pub mod store;
pub mod store_table;
pub mod system;
pub mod telemetry;

pub use config::Config;
pub use engine::Engine;
pub use error::{Result, SpiritError, SqlStateError};
