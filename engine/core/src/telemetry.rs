//! The engine's own telemetry, kept in the store for `metrics.operational_health`.
//!
//! Front ends report every statement they serve ([`Telemetry::record`]); a background task
//! appends the records to `spirit.query_log` in batches (every 250 ms), writes a row to
//! `spirit.engine_heartbeats` every 10 seconds, and deletes rows older than the retention.
//! Recording never blocks a query: when the buffer is full (the store is stalled), records are
//! dropped and the number dropped is logged.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::NaiveDateTime;
use tokio::sync::{mpsc, oneshot};

use crate::store::Store;

/// Seconds between heartbeats; `metrics.operational_health` counts 10-second buckets.
pub const HEARTBEAT_SECONDS: u64 = 10;
const FLUSH_EVERY: Duration = Duration::from_millis(250);
const BUFFER: usize = 65_536;

/// One statement served.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryRecord {
    /// When it finished (UTC).
    pub at: NaiveDateTime,
    /// The connection's user.
    pub user: Option<String>,
    /// The statement's first keyword, upper-case (`SELECT`, `INSERT` …).
    pub statement_kind: String,
    /// From receiving the statement to sending its last row.
    pub duration_ms: f64,
    /// Rows returned or changed.
    pub rows: u64,
    /// SQLSTATE when it failed.
    pub error_code: Option<String>,
    /// Whether the result came from the result cache.
    pub cache_hit: bool,
    /// The front end that served it: `pg` or `http`.
    pub front_end: &'static str,
}

enum Message {
    Record(QueryRecord),
    Flush(oneshot::Sender<()>),
}

/// Handle for reporting statements; cheap to clone.
#[derive(Clone, Debug)]
pub struct Telemetry {
    tx: mpsc::Sender<Message>,
    dropped: Arc<AtomicU64>,
}

impl Telemetry {
    /// Starts the writer task. `active_connections` reports the open client connections for
    /// the heartbeats.
    pub fn start(
        store: Store,
        retention_days: u32,
        active_connections: Arc<dyn Fn() -> usize + Send + Sync>,
    ) -> Self {
        let (tx, rx) = mpsc::channel(BUFFER);
        tokio::spawn(writer(store, retention_days, active_connections, rx));
        Self {
            tx,
            dropped: Arc::default(),
        }
    }

    /// Queues `record` for `spirit.query_log`, and counts it in the Prometheus metrics.
    pub fn record(&self, record: QueryRecord) {
        crate::observability::query_finished(
            record.front_end,
            &record.statement_kind,
            record.error_code.as_deref().unwrap_or("ok"),
            record.duration_ms / 1000.0,
        );
        if self.tx.try_send(Message::Record(record)).is_err() {
            let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if dropped.is_power_of_two() {
                tracing::warn!("query log is behind: {dropped} records dropped so far");
            }
        }
    }

    /// Writes every queued record to the store (at shutdown, and in tests).
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Message::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }
}

/// The current UTC time as the store's TIMESTAMP.
pub fn now_utc() -> NaiveDateTime {
    chrono::Utc::now().naive_utc()
}

async fn writer(
    store: Store,
    retention_days: u32,
    active_connections: Arc<dyn Fn() -> usize + Send + Sync>,
    mut rx: mpsc::Receiver<Message>,
) {
    let mut pending: Vec<QueryRecord> = Vec::new();
    let mut flush = tokio::time::interval(FLUSH_EVERY);
    let mut heartbeat = tokio::time::interval(Duration::from_secs(HEARTBEAT_SECONDS));
    let mut purge = tokio::time::interval(Duration::from_secs(3600));
    for timer in [&mut flush, &mut heartbeat, &mut purge] {
        timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    }
    loop {
        tokio::select! {
            message = rx.recv() => match message {
                Some(Message::Record(record)) => pending.push(record),
                Some(Message::Flush(done)) => {
                    write(&store, std::mem::take(&mut pending)).await;
                    let _ = done.send(());
                }
                None => {
                    write(&store, std::mem::take(&mut pending)).await;
                    return;
                }
            },
            _ = flush.tick() => {
                if !pending.is_empty() {
                    write(&store, std::mem::take(&mut pending)).await;
                }
            }
            _ = heartbeat.tick() => {
                let active = i32::try_from(active_connections()).unwrap_or(i32::MAX);
                let store = store.clone();
                let result = tokio::task::spawn_blocking(move || {
                    store.with_conn(|conn| {
                        conn.execute(
                            "INSERT INTO spirit.engine_heartbeats VALUES (?, ?)",
                            duckdb::params![now_utc(), active],
                        )
                    })
                })
                .await;
                if let Ok(Err(e)) = result {
                    tracing::warn!("cannot write heartbeat: {e}");
                }
            }
            _ = purge.tick() => {
                let store = store.clone();
                let result = tokio::task::spawn_blocking(move || purge_old(&store, retention_days)).await;
                if let Ok(Err(e)) = result {
                    tracing::warn!("cannot purge old telemetry: {e}");
                }
            }
        }
    }
}

async fn write(store: &Store, records: Vec<QueryRecord>) {
    if records.is_empty() {
        return;
    }
    let store = store.clone();
    let count = records.len();
    let result = tokio::task::spawn_blocking(move || {
        store.with_conn(|conn| {
            let mut appender = conn.appender_to_db("query_log", "spirit")?;
            for r in &records {
                appender.append_row(duckdb::params![
                    r.at,
                    r.user,
                    r.statement_kind,
                    r.duration_ms,
                    i64::try_from(r.rows).unwrap_or(i64::MAX),
                    r.error_code,
                    r.cache_hit
                ])?;
            }
            appender.flush()
        })
    })
    .await;
    match result {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!("cannot write {count} query log records: {e}"),
        Err(e) => tracing::warn!("query log writer failed: {e}"),
    }
}

fn purge_old(store: &Store, retention_days: u32) -> crate::Result<()> {
    let cutoff = now_utc() - chrono::Duration::days(i64::from(retention_days));
    store.with_conn(|conn| {
        conn.execute(
            "DELETE FROM spirit.query_log WHERE finished_at < ?",
            [cutoff],
        )?;
        conn.execute(
            "DELETE FROM spirit.engine_heartbeats WHERE beat_at < ?",
            [cutoff],
        )?;
        Ok(())
    })
}
