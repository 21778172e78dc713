//! Cancel requests that also stop a result while it streams.
//!
//! pgwire cancels a query while its handler runs, but DataFusion does most of its work later,
//! while the rows are sent. Each running query therefore registers a signal under its
//! connection's (pid, secret key); a cancel request fires it and the row stream ends with
//! SQLSTATE 57014, dropping the DataFusion stream and with it the work. The session's
//! `statement_timeout` ends the stream the same way when it expires.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};

use async_trait::async_trait;
use bytes::Bytes;
use futures::Stream;
use pgwire::api::cancel::{CancelHandler, DefaultCancelHandler};
use pgwire::api::results::{Response, SendableRowStream};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::cancel::CancelRequest;
use pgwire::messages::data::DataRow;
use pgwire::messages::startup::SecretKey;
use tokio::sync::Notify;
use tokio::sync::futures::OwnedNotified;
use tokio::time::{Instant, Sleep};

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
    Box::pin(Cancellable {
        rows,
        cancelled: Box::pin(signal.notified_owned()),
        timeout: deadline.map(|at| Box::pin(tokio::time::sleep_until(at))),
        since_check: 0,
        ended: false,
    })
}

/// Rows checked between two looks at the cancel signal and the deadline while rows keep
/// coming; a pending row stream always looks (and registers to be woken by either).
const CHECK_EVERY: u32 = 256;

/// A row stream that ends with 57014 when its cancel signal fires or its deadline passes. The
/// signal and the timer are registered once, not per row.
struct Cancellable {
    rows: SendableRowStream,
    cancelled: Pin<Box<OwnedNotified>>,
    timeout: Option<Pin<Box<Sleep>>>,
    since_check: u32,
    ended: bool,
}

impl Cancellable {
    /// The error that ends the stream, if the signal fired or the deadline passed.
    fn stopped(&mut self, cx: &mut Context<'_>) -> Option<PgWireError> {
        self.since_check = 0;
        if self.cancelled.as_mut().poll(cx).is_ready() {
            return Some(PgWireError::QueryCanceled);
        }
        let expired = self
            .timeout
            .as_mut()
            .is_some_and(|timeout| timeout.as_mut().poll(cx).is_ready());
        expired.then(statement_timeout)
    }
}

impl Stream for Cancellable {
    type Item = PgWireResult<DataRow>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.ended {
            return Poll::Ready(None);
        }
        self.since_check += 1;
        if self.since_check >= CHECK_EVERY
            && let Some(error) = self.stopped(cx)
        {
            self.ended = true;
            return Poll::Ready(Some(Err(error)));
        }
        match self.rows.as_mut().poll_next(cx) {
            Poll::Ready(row) => {
                self.ended = row.is_none();
                Poll::Ready(row)
            }
            Poll::Pending => match self.stopped(cx) {
                Some(error) => {
                    self.ended = true;
                    Poll::Ready(Some(Err(error)))
                }
                None => Poll::Pending,
            },
        }
    }
}

/// The error a statement gets when the session's `statement_timeout` passes.
pub(super) fn statement_timeout() -> PgWireError {
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
