//! The PostgreSQL wire-protocol front end, built on pgwire and datafusion-postgres.
//!
//! datafusion-postgres supplies the protocol handling, pg_catalog emulation (through
//! datafusion-pg-catalog), Arrow→PostgreSQL encoding (arrow-pg), SET/SHOW, transactions and
//! cursors. This module adds what is ours: the database-name check at start-up, SQLSTATEs for
//! engine errors, the statements the engine runs itself, and command tags for DDL.

mod cancel;
mod compat;
mod errors;
mod query;
mod query_log;

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use futures::Sink;
use pgwire::api::auth::StartupHandler;
use pgwire::api::auth::noop::NoopStartupHandler;
use pgwire::api::cancel::{CancelHandler, DefaultCancelHandler};

use cancel::{CancelQueries, RunningQueries};
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::{
    ClientInfo, ConnectionManager, ErrorHandler, METADATA_DATABASE, PgWireServerHandlers,
};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use spirit_core::Engine;
use spirit_core::telemetry::Telemetry;

use errors::SqlStateErrorHandler;
pub use errors::{classify, sqlstate};
use query::QueryService;

/// The handlers pgwire calls for every connection.
pub struct PgHandlers {
    query: Arc<QueryService>,
    startup: Arc<Startup>,
    cancel: Arc<CancelQueries>,
    errors: Arc<SqlStateErrorHandler>,
}

impl PgHandlers {
    /// Handlers serving `engine`, reporting statements to `telemetry`.
    pub fn new(engine: Arc<Engine>, telemetry: Telemetry) -> Self {
        let connections = Arc::new(ConnectionManager::new());
        let running = Arc::new(RunningQueries::default());
        Self {
            startup: Arc::new(Startup {
                connections: Arc::clone(&connections),
                database: engine.config().database.clone(),
            }),
            cancel: Arc::new(CancelQueries {
                pgwire: DefaultCancelHandler::new(connections),
                running: Arc::clone(&running),
            }),
            query: Arc::new(QueryService::new(engine, running, telemetry)),
            errors: Arc::new(SqlStateErrorHandler),
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
}

/// Start-up without a password (until the auth issue lands): any user name is accepted, the
/// database must be the engine's, and the connection is registered for cancel requests.
struct Startup {
    connections: Arc<ConnectionManager>,
    database: String,
}

#[async_trait]
impl NoopStartupHandler for Startup {
    fn connection_manager(&self) -> Option<Arc<ConnectionManager>> {
        Some(Arc::clone(&self.connections))
    }

    async fn post_startup<C>(
        &self,
        client: &mut C,
        _message: PgWireFrontendMessage,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let requested = client
            .metadata()
            .get(METADATA_DATABASE)
            .cloned()
            .unwrap_or_default();
        if requested == self.database {
            return Ok(());
        }
        Err(PgWireError::UserError(Box::new(ErrorInfo::new(
            "FATAL".to_string(),
            sqlstate::INVALID_CATALOG_NAME.to_string(),
            format!(
                "database \"{requested}\" does not exist; connect to database \"{}\"",
                self.database
            ),
        ))))
    }
}
