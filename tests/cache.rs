//! The Redis result cache against real Redis servers: the machine's (127.0.0.1:6379, database
//! numbers of this file's own) shared by two engines, with the engines' connections killed
//! mid-run; and a redis-server of the test's own, stopped and started again while queries run.
//! No query ever fails because of the cache, and the cache comes back by itself.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::json;
use spirit_tests::http::{self, demo_auth};
use spirit_tests::{ServerOptions, SpiritServer};

const KPI_SQL: &str = "SELECT * FROM metrics.kpi_overview ORDER BY kpi";

fn redis_env(port: u16, db: u32) -> Vec<(String, String)> {
    vec![
        ("REDIS_HOST".into(), "127.0.0.1".into()),
        ("REDIS_PORT".into(), port.to_string()),
        ("REDIS_DB".into(), db.to_string()),
        // Short back-off checks, so a test sees the cache come back quickly.
        ("SPIRIT_CACHE_REDIS_TIMEOUT_MS".into(), "200".into()),
    ]
}

fn redis(port: u16, db: u32) -> redis::Connection {
    redis::Client::open(format!("redis://127.0.0.1:{port}/{db}"))
        .unwrap()
        .get_connection()
        .expect("connect to Redis")
}

fn cache_of(server: &SpiritServer, sql: &str) -> (u16, Option<String>, serde_json::Value) {
    let answer = http::sql(server, sql, "application/json");
    let body = answer.json();
    (answer.status, answer.cache, body["rows"].clone())
}

fn booking(id: i64) -> String {
    json!({
        "booking_id": id, "customer_id": 1, "tour_id": 1, "channel": "B2C",
        "status": "confirmed", "price_paid": 100.0, "commission": 0, "travelers": 1,
        "unit_price": 100.0, "price_index": 1.0,
        "created_at": "2026-06-30T12:00:00", "travel_date": "2026-08-01"
    })
    .to_string()
}

/// Polls `sql` until it is a hit (the cache is back), for up to a minute; every answer must
/// succeed meanwhile.
fn until_hit(server: &SpiritServer, sql: &str) -> usize {
    for attempt in 0..240 {
        let (status, cache, _) = cache_of(server, sql);
        assert_eq!(status, 200, "a query failed while the cache recovered");
        if cache.as_deref() == Some("hit") {
            return attempt;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    panic!("the cache did not come back within a minute");
}

#[test]
fn two_engines_share_one_redis_cache_and_its_invalidations() {
    let db = 11;
    let mut admin = redis(6379, db);
    redis::cmd("FLUSHDB").exec(&mut admin).unwrap();
    let a = SpiritServer::start_with(ServerOptions {
        env: redis_env(6379, db),
        ..Default::default()
    });
    let b = SpiritServer::start_with(ServerOptions {
        env: redis_env(6379, db),
        ..Default::default()
    });
    let (_, first, rows_a) = cache_of(&a, KPI_SQL);
    assert_eq!(first.as_deref(), Some("miss"));
    // B never ran it: A's result, from Redis.
    let (_, second, rows_b) = cache_of(&b, KPI_SQL);
    assert_eq!(second.as_deref(), Some("hit"));
    assert_eq!(rows_a, rows_b);
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("spirit:spirit:*")
        .query(&mut admin)
        .unwrap();
    assert!(
        keys.iter().any(|k| k.starts_with("spirit:spirit:result:")),
        "{keys:?}"
    );

    // Ingest into A drops the entry for both: the versions live in Redis.
    let stored = http::post(
        &a,
        "/api/ingest/bookings",
        Some(&demo_auth()),
        "application/x-ndjson",
        &[],
        booking(9_500_001).as_bytes(),
    );
    assert_eq!(stored.status, 200, "{}", stored.text());
    let bookings: i64 = redis::cmd("HGET")
        .arg("spirit:spirit:versions")
        .arg("bookings")
        .query(&mut admin)
        .unwrap();
    assert_eq!(bookings, 1);
    assert_eq!(cache_of(&b, KPI_SQL).1.as_deref(), Some("miss"));
    assert_eq!(cache_of(&a, KPI_SQL).1.as_deref(), Some("hit"));

    // The engines' connections are killed mid-run: queries still answer, and the cache returns.
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("normal")
        .arg("SKIPME")
        .arg("yes")
        .query(&mut admin)
        .unwrap();
    assert!(killed >= 2, "killed {killed} connections");
    for server in [&a, &b] {
        let (status, _, rows) = cache_of(server, KPI_SQL);
        assert_eq!(status, 200);
        assert_eq!(
            rows.as_array().unwrap().len(),
            rows_a.as_array().unwrap().len()
        );
        until_hit(server, KPI_SQL);
    }
    redis::cmd("FLUSHDB").exec(&mut admin).unwrap();
}

/// A redis-server of the test's own, killed when dropped.
struct RedisServer(Child);

impl RedisServer {
    /// Starts one on `port`, keeping nothing on disk, and waits until it answers.
    fn start(port: u16) -> Self {
        let server = RedisServer(
            Command::new("redis-server")
                .args([
                    "--port",
                    &port.to_string(),
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ])
                .stdout(Stdio::null())
                .spawn()
                .expect("start redis-server (Debian package redis-server)"),
        );
        for _ in 0..100 {
            if redis::Client::open(format!("redis://127.0.0.1:{port}/0"))
                .and_then(|c| c.get_connection())
                .is_ok()
            {
                return server;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("redis-server did not start on {port}");
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stopped_redis_never_fails_a_query_and_the_cache_recovers() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let redis_server = RedisServer::start(port);
    let server = SpiritServer::start_with(ServerOptions {
        env: redis_env(port, 0),
        ..Default::default()
    });
    assert_eq!(cache_of(&server, KPI_SQL).1.as_deref(), Some("miss"));
    assert_eq!(cache_of(&server, KPI_SQL).1.as_deref(), Some("hit"));
    let client = server.connect().await;

    // Redis goes away mid-run.
    drop(redis_server);
    for _ in 0..20 {
        let (status, cache, rows) = cache_of(&server, KPI_SQL);
        assert_eq!(status, 200);
        assert_eq!(cache.as_deref(), Some("miss"));
        assert!(rows.as_array().unwrap().len() > 10);
        let over_wire = client
            .query(KPI_SQL, &[])
            .await
            .expect("pg-wire query without Redis");
        assert!(over_wire.len() > 10);
    }
    let health = http::get(&server, "/api/analytics/health", None).json();
    assert_eq!(health["status"], "degraded");
    assert_eq!(health["cache"]["degraded"], true);
    // Data changes while Redis is down are not lost on the cache: the bump is replayed.
    let stored = http::post(
        &server,
        "/api/ingest/bookings",
        Some(&demo_auth()),
        "application/x-ndjson",
        &[],
        booking(9_600_001).as_bytes(),
    );
    assert_eq!(stored.status, 200, "{}", stored.text());

    // Redis comes back (empty): the engine finds it by itself.
    let _redis_server = RedisServer::start(port);
    until_hit(&server, KPI_SQL);
    let health = http::get(&server, "/api/analytics/health", None).json();
    assert_eq!(health["status"], "ok", "{health}");
    let mut conn = redis(port, 0);
    let versions: std::collections::HashMap<String, i64> = redis::cmd("HGETALL")
        .arg("spirit:spirit:versions")
        .query(&mut conn)
        .unwrap();
    assert!(
        versions.get("bookings").copied().unwrap_or(0) >= 1,
        "{versions:?}"
    );
}
