//! The PostgreSQL wire-protocol front end, built on pgwire and datafusion-postgres.
//!
//! datafusion-postgres supplies the protocol handling, pg_catalog emulation (through
//! datafusion-pg-catalog), Arrow→PostgreSQL encoding (arrow-pg), SET/SHOW, transactions and
//! cursors. This module adds what is ours: SCRAM password authentication and roles, the
//! database-name check at start-up, SQLSTATEs for engine errors, the statements the engine runs
//! itself, command tags for DDL, `COPY … FROM STDIN`, and the result cache.

pub mod auth;
mod cached;
mod cancel;
mod compat;
mod copy;
mod errors;
mod insert;
mod parameters;
mod query;
pub(crate) mod query_log;
mod rows;
pub mod scram;

use std::sync::Arc;

use pgwire::api::auth::{DefaultServerParameterProvider, StartupHandler};
use pgwire::api::cancel::{CancelHandler, DefaultCancelHandler};
use pgwire::api::copy::CopyHandler;
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::{ConnectionManager, ErrorHandler, PgWireServerHandlers};
use spirit_core::Engine;
use spirit_core::pg_functions::SERVER_VERSION;
use spirit_core::telemetry::Telemetry;

use auth::{Authenticator, Users};
use cancel::{CancelQueries, RunningQueries};

use errors::SqlStateErrorHandler;
pub use errors::{classify, sqlstate};
use query::QueryService;

/// The handlers pgwire calls for every connection.
pub struct PgHandlers {
    query: Arc<QueryService>,
    startup: Arc<Authenticator>,
    cancel: Arc<CancelQueries>,
    errors: Arc<SqlStateErrorHandler>,
    copy: Arc<copy::CopyIn>,
}

impl PgHandlers {
    /// Handlers serving `engine` to `users`, reporting statements to `telemetry`.
    pub fn new(engine: Arc<Engine>, users: Arc<Users>, telemetry: Telemetry) -> Self {
        let connections = Arc::new(ConnectionManager::new());
        let running = Arc::new(RunningQueries::default());
        let copies = Arc::new(copy::Copies::default());
        let mut parameters = DefaultServerParameterProvider::default();
        // What PostgreSQL 16 reports; tools parse the leading number (Metabase, Grafana).
        parameters.server_version = format!(
            "{SERVER_VERSION} (Spirit Analytics {})",
            env!("CARGO_PKG_VERSION")
        );
        Self {
            startup: Arc::new(Authenticator {
                users,
                connections: Arc::clone(&connections),
                database: engine.config().database.clone(),
                parameters,
            }),
            cancel: Arc::new(CancelQueries {
                pgwire: DefaultCancelHandler::new(connections),
                running: Arc::clone(&running),
            }),
            query: Arc::new(QueryService::new(
                Arc::clone(&engine),
                running,
                telemetry,
                Arc::clone(&copies),
            )),
            errors: Arc::new(SqlStateErrorHandler),
            copy: Arc::new(copy::CopyIn { engine, copies }),
        }
    }
}

impl PgWireServerHandlers for PgHandlers {
    fn simple_query_handler(&self) -> Arc<impl SimpleQueryHandler> {
        Arc::clone(&self.query)
    }

    fn extended_query_handler(&self) -> Arc<impl ExtendedQueryHandler> {
        Arc::clone(&self.query)
    }

    fn startup_handler(&self) -> Arc<impl StartupHandler> {
        Arc::clone(&self.startup)
    }

    fn error_handler(&self) -> Arc<impl ErrorHandler> {
        Arc::clone(&self.errors)
    }

    fn cancel_handler(&self) -> Arc<impl CancelHandler> {
        Arc::clone(&self.cancel)
    }

    fn copy_handler(&self) -> Arc<impl CopyHandler> {
        Arc::clone(&self.copy)
    }
}
