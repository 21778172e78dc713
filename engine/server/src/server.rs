//! Server lifecycle: accept pg-wire connections (TLS when configured) and serve the HTTP API
//! until shutdown, bound the number of concurrent pg-wire connections, then drain and
//! checkpoint the store.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use pgwire::error::ErrorInfo;
use pgwire::messages::Message;
use pgwire::messages::response::ErrorResponse;
use pgwire::tokio::{TlsAcceptor, process_socket};
use spirit_core::telemetry::Telemetry;
use spirit_core::{Config, Engine};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tracing::{Instrument, info, info_span, warn};

use crate::pg::auth::{DEMO_USER, Users};
use crate::pg::{PgHandlers, sqlstate};
use crate::tls;

/// Who may connect, and how: the users and the TLS acceptor.
pub struct Access {
    users: Arc<Users>,
    tls: Option<TlsAcceptor>,
}

impl Access {
    /// The access `config` sets up for a server listening on `listen`. Listening beyond
    /// loopback with only the demo user is refused.
    pub fn from_config(config: &Config, listen: SocketAddr) -> anyhow::Result<Self> {
        let users = Arc::new(Users::from_config(config)?);
        for listen in [listen, config.http_listen] {
            if users.is_demo() && !listen.ip().is_loopback() {
                anyhow::bail!(
                    "refusing to listen on {listen} with only the demo user `{DEMO_USER}` \
                     (password `{DEMO_USER}`): add users first (`spirit user add <name> --role \
                     admin`), or listen on 127.0.0.1"
                );
            }
        }
        let tls = tls::acceptor(config)?;
        info!(
            tls = tls.is_some(),
            users = if users.is_demo() {
                "demo user spirit/spirit"
            } else {
                "from the config file"
            },
            "pg-wire authentication: SCRAM-SHA-256"
        );
        Ok(Self { users, tls })
    }
}

/// Serves pg-wire clients on `listener` and the HTTP API on `http` until `shutdown`
/// completes, then waits up to the configured grace period for open connections and
/// checkpoints the store.
pub async fn run(
    listener: TcpListener,
    http: Option<TcpListener>,
    engine: Arc<Engine>,
    access: Access,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let Access { users, tls } = access;
    let max_connections = engine.config().max_connections;
    let grace = Duration::from_secs(engine.config().shutdown_grace_seconds);
    let slots = Arc::new(Semaphore::new(max_connections));
    let telemetry = {
        let slots = Arc::clone(&slots);
        Telemetry::start(
            engine.store().clone(),
            engine.config().query_log_retention_days,
            Arc::new(move || max_connections - slots.available_permits()),
        )
    };
    let handlers = Arc::new(PgHandlers::new(
        Arc::clone(&engine),
        Arc::clone(&users),
        telemetry.clone(),
    ));
    let (stop_http, stopped) = tokio::sync::watch::channel(false);
    let http = http.map(|listener| {
        let state = crate::http::HttpState::new(Arc::clone(&engine), users, telemetry.clone());
        let mut stopped = stopped.clone();
        tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            };
            if let Err(e) = crate::http::serve(listener, state, shutdown).await {
                warn!("the HTTP server stopped: {e}");
            }
        })
    });
    engine.metrics().spawn_watcher();
    tokio::pin!(shutdown);
    loop {
        let (socket, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = socket.set_nodelay(true);
        let Ok(permit) = Arc::clone(&slots).try_acquire_owned() else {
            warn!(%peer, max_connections, "connection refused: too many connections");
            tokio::spawn(refuse(socket, max_connections));
            continue;
        };
        let handlers = Arc::clone(&handlers);
        let tls = tls.clone();
        tokio::spawn(
            async move {
                if let Err(e) = process_socket(socket, tls, handlers).await {
                    warn!("connection ended with an error: {e}");
                }
                drop(permit);
            }
            .instrument(info_span!("pg", %peer)),
        );
    }

    let _ = stop_http.send(true);
    let open = max_connections - slots.available_permits();
    info!(
        open,
        grace_seconds = grace.as_secs(),
        "shutting down: no new connections"
    );
    if tokio::time::timeout(grace, slots.acquire_many(max_connections as u32))
        .await
        .is_err()
    {
        warn!(
            open = max_connections - slots.available_permits(),
            "grace period over: closing the remaining connections"
        );
    }
    if let Some(http) = http {
        // Open WebSockets do not end on their own; the grace period covers HTTP too.
        let _ = tokio::time::timeout(Duration::from_secs(1), http).await;
    }
    telemetry.flush().await;
    engine.checkpoint()?;
    info!("store checkpointed; bye");
    Ok(())
}

/// Tells a client over the connection limit why it is turned away (SQLSTATE 53300), as
/// PostgreSQL does, instead of silently closing the socket.
async fn refuse(mut socket: TcpStream, max_connections: usize) {
    let info = ErrorInfo::new(
        "FATAL".to_string(),
        sqlstate::TOO_MANY_CONNECTIONS.to_string(),
        format!("sorry, too many clients already (max_connections is {max_connections})"),
    );
    let mut buf = BytesMut::new();
    if ErrorResponse::from(info).encode(&mut buf).is_ok() {
        let _ = socket.write_all(&buf).await;
    }
    let _ = socket.shutdown().await;
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => info!("SIGINT received"),
            _ = term.recv() => info!("SIGTERM received"),
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
