//! The engine's Prometheus metrics, served as text at `/metrics`: statements by front end, kind
//! and status with latency histograms, result-cache lookups, prepared store queries, plugin
//! calls, report runs, ingested rows, HTTP requests and the live feed. Every front end and crate
//! reports through the functions here; [`render`] writes them in the Prometheus text format.

use std::sync::LazyLock;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};

/// Latency buckets, in seconds: 0.5 ms to 60 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0,
];

struct Instruments {
    registry: Registry,
    queries: IntCounterVec,
    query_seconds: HistogramVec,
    cache: IntCounterVec,
    prepared: IntCounterVec,
    plugin_calls: IntCounterVec,
    report_runs: IntCounterVec,
    ingest_rows: IntCounterVec,
    ingest_requests: IntCounterVec,
    http_requests: IntCounterVec,
    http_seconds: HistogramVec,
    feed_clients: IntGauge,
    feed_updates: IntCounterVec,
}

fn counter(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let counter = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
    registry
        .register(Box::new(counter.clone()))
        .expect("metric registered once");
    counter
}

fn histogram(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> HistogramVec {
    let histogram = HistogramVec::new(
        HistogramOpts::new(name, help).buckets(LATENCY_BUCKETS.to_vec()),
        labels,
    )
    .expect("valid metric");
    registry
        .register(Box::new(histogram.clone()))
        .expect("metric registered once");
    histogram
}

static INSTRUMENTS: LazyLock<Instruments> = LazyLock::new(|| {
    let registry = Registry::new_custom(Some("spirit".to_string()), None).expect("registry");
    let feed_clients = IntGauge::new(
        "feed_clients",
        "WebSocket clients connected to the live dashboard feed.",
    )
    .expect("valid metric");
    registry
        .register(Box::new(feed_clients.clone()))
        .expect("metric registered once");
    Instruments {
        queries: counter(
            &registry,
            "queries_total",
            "Statements served, by front end (pg, http), kind (SELECT, INSERT …) and status \
             (ok or the SQLSTATE).",
            &["front_end", "kind", "status"],
        ),
        query_seconds: histogram(
            &registry,
            "query_duration_seconds",
            "From receiving a statement to its last row, by front end and kind.",
            &["front_end", "kind"],
        ),
        cache: counter(
            &registry,
            "cache_lookups_total",
            "Result-cache lookups: hit, miss (computed and kept) or error (the backend failed; \
             the query ran uncached).",
            &["result"],
        ),
        prepared: counter(
            &registry,
            "prepared_queries_total",
            "Statements run whole in the store: prepared (planned, and their DuckDB SQL kept) or \
             reused (sent to DuckDB without planning).",
            &["event"],
        ),
        plugin_calls: counter(
            &registry,
            "plugin_calls_total",
            "Calls into WebAssembly plugins, by plugin, call (scan, train, predict, forecast) \
             and status (ok, error).",
            &["plugin", "call", "status"],
        ),
        report_runs: counter(
            &registry,
            "report_runs_total",
            "Report runs, by final status (generated, delivered, failed).",
            &["status"],
        ),
        ingest_rows: counter(
            &registry,
            "ingest_rows_total",
            "Rows stored by real-time ingest (HTTP and COPY FROM STDIN), by table.",
            &["table"],
        ),
        ingest_requests: counter(
            &registry,
            "ingest_requests_total",
            "Ingest requests, by table and status (stored, rejected).",
            &["table", "status"],
        ),
        http_requests: counter(
            &registry,
            "http_requests_total",
            "HTTP requests, by route and status code.",
            &["route", "status"],
        ),
        http_seconds: histogram(
            &registry,
            "http_request_duration_seconds",
            "HTTP request latency, by route.",
            &["route"],
        ),
        feed_clients,
        feed_updates: counter(
            &registry,
            "feed_updates_total",
            "Live-feed messages: sent, or dropped because a client was too slow.",
            &["result"],
        ),
        registry,
    }
});

/// A statement finished on `front_end` (`pg`, `http`); `status` is `ok` or its SQLSTATE.
pub fn query_finished(front_end: &str, kind: &str, status: &str, seconds: f64) {
    let i = &*INSTRUMENTS;
    i.queries
        .with_label_values(&[front_end, kind, status])
        .inc();
    i.query_seconds
        .with_label_values(&[front_end, kind])
        .observe(seconds);
}

/// A result-cache lookup ended as `result` (`hit`, `miss`, `error`).
pub fn cache_lookup(result: &str) {
    INSTRUMENTS.cache.with_label_values(&[result]).inc();
}

/// A statement was prepared to run whole in the store, or ran so without planning.
pub fn prepared_query(event: &str) {
    INSTRUMENTS.prepared.with_label_values(&[event]).inc();
}

/// A call into a plugin finished.
pub fn plugin_call(plugin: &str, call: &str, ok: bool) {
    INSTRUMENTS
        .plugin_calls
        .with_label_values(&[plugin, call, if ok { "ok" } else { "error" }])
        .inc();
}

/// A report run ended as `status`.
pub fn report_run(status: &str) {
    INSTRUMENTS.report_runs.with_label_values(&[status]).inc();
}

/// An ingest request into `table` stored `rows` rows, or was rejected.
pub fn ingested(table: &str, rows: Option<u64>) {
    let i = &*INSTRUMENTS;
    match rows {
        Some(rows) => {
            i.ingest_rows.with_label_values(&[table]).inc_by(rows);
            i.ingest_requests
                .with_label_values(&[table, "stored"])
                .inc();
        }
        None => i
            .ingest_requests
            .with_label_values(&[table, "rejected"])
            .inc(),
    }
}

/// An HTTP request to `route` answered `status`.
pub fn http_request(route: &str, status: u16, seconds: f64) {
    let i = &*INSTRUMENTS;
    let status = status.to_string();
    i.http_requests
        .with_label_values(&[route, status.as_str()])
        .inc();
    i.http_seconds.with_label_values(&[route]).observe(seconds);
}

/// A live-feed client connected (`+1`) or left (`-1`).
pub fn feed_clients(delta: i64) {
    INSTRUMENTS.feed_clients.add(delta);
}

/// `count` live-feed messages were `sent` or `dropped`.
pub fn feed_updates(result: &str, count: u64) {
    INSTRUMENTS
        .feed_updates
        .with_label_values(&[result])
        .inc_by(count);
}

/// Every metric in the Prometheus text format (version 0.0.4).
pub fn render() -> String {
    let mut out = Vec::new();
    let families = INSTRUMENTS.registry.gather();
    if let Err(e) = TextEncoder::new().encode(&families, &mut out) {
        tracing::warn!("cannot encode the Prometheus metrics: {e}");
    }
    String::from_utf8(out).unwrap_or_default()
}

/// The content type of [`render`]'s output.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_values_are_rendered() {
        query_finished("pg", "SELECT", "ok", 0.003);
        cache_lookup("hit");
        ingested("bookings", Some(5));
        let text = render();
        assert!(
            text.contains("spirit_queries_total{front_end=\"pg\",kind=\"SELECT\",status=\"ok\"}"),
            "{text}"
        );
        assert!(
            text.contains("spirit_query_duration_seconds_bucket"),
            "{text}"
        );
        assert!(
            text.contains("spirit_ingest_rows_total{table=\"bookings\"} 5"),
            "{text}"
        );
    }
}
