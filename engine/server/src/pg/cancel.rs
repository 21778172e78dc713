//! Cancel requests that also stop a result while it streams.
//!
//! pgwire cancels a query while its handler runs, but DataFusion does most of its work later,
//! while the rows are sent. Each running query therefore registers a signal under its
//! connection's (pid, secret key); a cancel request fires it and the row stream ends with
//! SQLSTATE 57014, dropping the DataFusion stream and with it the work. The session's
//! `statement_timeout` ends the stream the same way when it expires.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use pgwire::api::cancel::{CancelHandler, DefaultCancelHandler};
use pgwire::api::results::{Response, SendableRowStream};
use pgwire::error::{ErrorInfo, PgWireError};
use pgwire::messages::cancel::CancelRequest;
use pgwire::messages::startup::SecretKey;
use tokio::sync::Notify;
use tokio::time::Instant;

type ConnectionKey = (i32, Bytes);

/// The cancel signal of the query running on each connection.
#[derive(Debug, Default)]
pub struct RunningQueries {
    signals: Mutex<HashMap<ConnectionKey, Weak<Notify>>>,
}

impl RunningQueries {
    /// Registers a new query on the connection `(pid, secret)` and returns its cancel signal.
    pub fn start(&self, pid: i32, secret: &SecretKey) -> Arc<Notify> {
        let signal = Arc::new(Notify::new());
        let mut signals = self.signals.lock().expect("lock");
        signals.retain(|_, s| s.strong_count() > 0);
        signals.insert((pid, secret.to_bytes()), Arc::downgrade(&signal));
        signal
    }

    /// Fires the cancel signal of the query running on `(pid, secret)`, if any.
    pub fn cancel(&self, pid: i32, secret: &SecretKey) {
        let signal = self
            .signals
            .lock()
            .expect("lock")
            .get(&(pid, secret.to_bytes()))
            .and_then(Weak::upgrade);
        if let Some(signal) = signal {
            signal.notify_one();
        }
    }

    /// Makes the rows of `response` stop with 57014 when `signal` fires or `deadline` passes.
    pub fn guard(response: &mut Response, signal: &Arc<Notify>, deadline: Option<Instant>) {
        if let Response::Query(query) = response {
            let rows = std::mem::replace(&mut query.data_rows, Box::pin(futures::stream::empty()));
            query.data_rows = cancellable(rows, Arc::clone(signal), deadline);
        }
    }
}

fn cancellable(
    rows: SendableRowStream,
    signal: Arc<Notify>,
    deadline: Option<Instant>,
) -> SendableRowStream {
    Box::pin(futures::stream::unfold(
        Some((rows, signal)),
        move |state| async move {
            let (mut rows, signal) = state?;
            let timeout = async {
                match deadline {
                    Some(deadline) => tokio::time::sleep_until(deadline).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                () = signal.notified() => Some((Err(PgWireError::QueryCanceled), None)),
                () = timeout => Some((Err(statement_timeout()), None)),
                item = rows.next() => item.map(|item| (item, Some((rows, signal)))),
            }
        },
    ))
}

fn statement_timeout() -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "ERROR".to_string(),
        "57014".to_string(),
        "canceling statement due to statement timeout".to_string(),
    )))
}

/// Cancels both the planning phase (pgwire's handle) and the streaming phase (ours).
#[derive(Debug)]
pub struct CancelQueries {
    pub(super) pgwire: DefaultCancelHandler,
    pub(super) running: Arc<RunningQueries>,
}

#[async_trait]
impl CancelHandler for CancelQueries {
    async fn on_cancel_request(&self, request: CancelRequest) {
        self.running.cancel(request.pid, &request.secret_key);
        self.pgwire.on_cancel_request(request).await;
    }
}
