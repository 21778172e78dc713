//! Spirit Analytics front ends and the `spirit` binary.
//!
//! - [`pg`]: the PostgreSQL wire protocol (pgwire + datafusion-postgres).
//! - [`http`]: the REST API, ingest, the live feed, OpenAPI and Prometheus metrics (axum).
//! - [`server`]: accept loops, connection limit, graceful shutdown.
//! - [`tls`]: rustls configuration for pg-wire clients.
//! - [`cli`]: `spirit serve | demo | sql | user add | plugin test`.
//! - [`plugin_cli`]: `spirit plugin test`, which loads a plugin as the engine does.
//! - [`output`]: result printing for `spirit sql`.
//! - [`users`]: `spirit user add`, which writes users into the config file.

pub mod cli;
pub mod http;
pub mod output;
pub mod pg;
pub mod plugin_cli;
pub mod server;
pub mod tls;
pub mod users;
