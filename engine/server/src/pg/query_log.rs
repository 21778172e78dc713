//! Records every statement served over pg-wire in the engine's query log.
//!
//! A statement is recorded when its last row has been sent (or the client went away, or it
//! failed), so the duration covers planning, execution and streaming, as the client saw it.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Instant;

use futures::{Stream, ready};
use pgwire::api::ClientInfo;
use pgwire::api::results::{Response, SendableRowStream};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::data::DataRow;
use pgwire::messages::response::CommandComplete;
use spirit_core::telemetry::{QueryRecord, Telemetry, now_utc};

use super::errors::classify;

/// One statement being served.
#[derive(Debug, Clone)]
pub struct Statement {
    user: Option<String>,
    kind: String,
    started: Instant,
    /// Set when the result came from the result cache.
    pub cache_hit: Arc<AtomicBool>,
}

impl Statement {
    /// A statement `sql` that `client` just sent.
    pub fn start(client: &impl ClientInfo, sql: &str) -> Self {
        Self {
            user: client.metadata().get("user").cloned(),
            kind: statement_kind(sql),
            started: Instant::now(),
            cache_hit: Arc::default(),
        }
    }

    fn record(&self, telemetry: &Telemetry, rows: u64, error_code: Option<String>) {
        telemetry.record(QueryRecord {
            at: now_utc(),
            user: self.user.clone(),
            statement_kind: self.kind.clone(),
            duration_ms: self.started.elapsed().as_secs_f64() * 1000.0,
            rows,
            error_code,
            cache_hit: self.cache_hit.load(Ordering::Relaxed),
            front_end: "pg",
        });
    }
}

/// Records `statement` as failed with `error`.
pub fn failed(telemetry: &Telemetry, statement: &Statement, error: &PgWireError) {
    statement.record(telemetry, 0, Some(error_code(error)));
}

/// Records `statement` once `response` has been sent in full.
pub fn watch(telemetry: &Telemetry, statement: Statement, response: &mut Response) {
    match response {
        Response::Query(query) => {
            let rows = std::mem::replace(&mut query.data_rows, Box::pin(futures::stream::empty()));
            query.data_rows = counted(rows, telemetry.clone(), statement);
        }
        Response::Execution(tag) => {
            let tag = CommandComplete::from(tag.clone()).tag;
            let rows = tag
                .rsplit(' ')
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            statement.record(telemetry, rows, None);
        }
        Response::Error(info) => statement.record(telemetry, 0, Some(info.code.clone())),
        _ => statement.record(telemetry, 0, None),
    }
}

/// Records the statement when dropped: after the last row, a failure, or a client that left.
struct Recorder {
    telemetry: Telemetry,
    statement: Statement,
    rows: u64,
    error_code: Option<String>,
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.statement
            .record(&self.telemetry, self.rows, self.error_code.take());
    }
}

fn counted(
    rows: SendableRowStream,
    telemetry: Telemetry,
    statement: Statement,
) -> SendableRowStream {
    Box::pin(Counted {
        rows,
        recorder: Some(Recorder {
            telemetry,
            statement,
            rows: 0,
            error_code: None,
        }),
    })
}

/// A row stream that counts its rows and records the statement when it ends (or is dropped).
struct Counted {
    rows: SendableRowStream,
    recorder: Option<Recorder>,
}

impl Stream for Counted {
    type Item = PgWireResult<DataRow>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.recorder.is_none() {
            return Poll::Ready(None);
        }
        let item = ready!(self.rows.as_mut().poll_next(cx));
        match &item {
            Some(Ok(_)) => {
                if let Some(recorder) = self.recorder.as_mut() {
                    recorder.rows += 1;
                }
            }
            Some(Err(e)) => {
                if let Some(mut recorder) = self.recorder.take() {
                    recorder.error_code = Some(error_code(e));
                }
            }
            None => self.recorder = None,
        }
        Poll::Ready(item)
    }
}

/// The SQLSTATE the client receives for `error`.
fn error_code(error: &PgWireError) -> String {
    match error {
        PgWireError::UserError(info) => info.code.clone(),
        PgWireError::ApiError(inner) => classify(inner.as_ref()).0.to_string(),
        PgWireError::QueryCanceled => "57014".to_string(),
        _ => "XX000".to_string(),
    }
}

/// The statement's first keyword, upper-case (`SELECT`, `WITH`, `INSERT` …), or `EMPTY`.
pub fn statement_kind(sql: &str) -> String {
    let sql = spirit_core::engine::strip_leading_comments(sql);
    let word: String = sql
        .trim_start_matches('(')
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .take(24)
        .collect();
    if word.is_empty() {
        "EMPTY".to_string()
    } else {
        word.to_ascii_uppercase()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_first_keywords() {
        assert_eq!(statement_kind("  select 1"), "SELECT");
        assert_eq!(statement_kind("-- hi\nINSERT INTO t VALUES (1)"), "INSERT");
        assert_eq!(statement_kind("(SELECT 1)"), "SELECT");
        assert_eq!(statement_kind(""), "EMPTY");
    }
}
