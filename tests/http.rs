//! The HTTP front end against a real `spirit serve`: the platform's REST endpoints checked
//! against the OpenAPI document the server generates (by openapi-core, in Python), their
//! figures against the same SQL over pg-wire, authentication and roles, `/api/sql` in its three
//! formats, ingest (all or nothing, durable across `kill -9`), the result cache, the live feed
//! over WebSocket (a slow client among fast ones, and hundreds of clients), and `/metrics`.

use std::process::Command;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use spirit_tests::http::{self, basic, demo_auth};
use spirit_tests::plugins::server_with_plugins;
use spirit_tests::{ServerOptions, SpiritServer, tests_dir};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const MODELS: &[&str] = &["forecasting", "gbt", "linear"];

/// A booking inside the metric views' last 30 days (the test data ends 2026-06-30).
fn booking(id: i64, price: f64) -> String {
    json!({
        "booking_id": id, "customer_id": 1, "tour_id": 1, "channel": "B2C",
        "status": "confirmed", "price_paid": price, "commission": 0, "travelers": 2,
        "unit_price": price / 2.0, "price_index": 1.0,
        "created_at": "2026-06-30T12:00:00", "travel_date": "2026-08-01"
    })
    .to_string()
}

fn ingest(server: &SpiritServer, table: &str, lines: &[String]) -> http::Answer {
    http::post(
        server,
        &format!("/api/ingest/{table}"),
        Some(&demo_auth()),
        "application/x-ndjson",
        &[],
        lines.join("\n").as_bytes(),
    )
}

async fn number(client: &tokio_postgres::Client, sql: &str) -> f64 {
    let row = client.query_one(sql, &[]).await.expect(sql);
    row.try_get::<_, f64>(0)
        .or_else(|_| row.try_get::<_, i64>(0).map(|v| v as f64))
        .expect("a number")
}

#[tokio::test(flavor = "multi_thread")]
async fn rest_endpoints_answer_as_the_openapi_document_says() {
    let (server, _dir) = server_with_plugins(MODELS, &[]);
    let script = tests_dir().join("tools/openapi_check.py");
    let output = Command::new("python3")
        .arg(&script)
        .arg(server.url(""))
        .arg(demo_auth())
        .output()
        .expect("run openapi_check.py (pip openapi-core, requests)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "openapi_check.py failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Every documented operation was called and validated.
    let checked: Value = serde_json::from_str(stdout.lines().last().unwrap_or("{}")).unwrap();
    assert!(checked["operations"].as_u64().unwrap() >= 17, "{stdout}");
    assert_eq!(checked["undocumented"], json!([]), "{stdout}");

    // Query parameters are documented too.
    let document = http::get(&server, "/api/openapi.json", None).json();
    let parameters =
        &document["paths"]["/api/analytics/dashboard/revenue-summary"]["get"]["parameters"];
    assert_eq!(parameters[0]["name"], "days", "{parameters}");
    assert_eq!(parameters[0]["in"], "query");

    // The figures are the SQL's.
    let client = server.connect().await;
    let kpis = http::get(&server, "/api/analytics/kpis/overview", Some(&demo_auth())).json();
    let count = number(&client, "SELECT count(*) FROM metrics.kpi_overview").await;
    assert_eq!(kpis["row_count"].as_f64().unwrap(), count);
    assert!(kpis["rows"][0]["kpi"].is_string(), "{kpis}");
    let summary = http::get(
        &server,
        "/api/analytics/dashboard/revenue-summary?days=30",
        Some(&demo_auth()),
    )
    .json();
    // The period ends at metrics_as_of, 2026-07-01 00:00: the 30 days of June.
    assert_eq!(summary["from"], "2026-06-01");
    assert_eq!(summary["to"], "2026-07-01");
    let revenue = number(
        &client,
        "SELECT CAST(sum(revenue) AS DOUBLE) FROM metrics.revenue_daily \
         WHERE day >= DATE '2026-06-01' AND day < DATE '2026-07-01'",
    )
    .await;
    let answered = summary["totals"]["rows"][0]["revenue"]
        .as_f64()
        .or_else(|| {
            summary["totals"]["rows"][0]["revenue"]
                .as_str()?
                .parse()
                .ok()
        })
        .unwrap();
    assert!((answered - revenue).abs() < 0.01, "{answered} vs {revenue}");
    assert_eq!(summary["daily"]["row_count"], 30);

    let forecast = http::get(
        &server,
        "/api/analytics/predictions/revenue-forecast?days=14",
        Some(&demo_auth()),
    )
    .json();
    // 14 days for each of the three channels and for all of them.
    assert_eq!(forecast["row_count"], 56, "{forecast}");
    let prediction = http::post_json(
        &server,
        "/api/analytics/predictions/generate",
        &json!({"prediction_type": "DEMAND_FORECAST", "forecast_horizon": 14, "confidence_level": 0.95}),
    );
    assert_eq!(prediction.status, 200, "{}", prediction.text());
    assert_eq!(
        prediction.json()["sql"],
        "SELECT * FROM demand_forecast(14)"
    );

    // Bad input: the right status and SQLSTATE, and a message that says what to change.
    let bad = http::post_json(
        &server,
        "/api/analytics/predictions/generate",
        &json!({"prediction_type": "WEATHER"}),
    );
    assert_eq!((bad.status, bad.code().as_str()), (400, "22023"));
    assert!(bad.text().contains("REVENUE_FORECAST"), "{}", bad.text());
    let bad = http::get(
        &server,
        "/api/analytics/dashboard/revenue-summary?days=0",
        Some(&demo_auth()),
    );
    assert_eq!((bad.status, bad.code().as_str()), (400, "22023"));
    let bad = http::post_json(
        &server,
        "/api/analytics/reports/generate",
        &json!({"report_type": "NO_SUCH_REPORT"}),
    );
    assert_eq!(
        (bad.status, bad.code().as_str()),
        (400, "22023"),
        "{}",
        bad.text()
    );
    let missing = http::get(&server, "/api/nothing/here", Some(&demo_auth()));
    assert_eq!(missing.status, 404);
    assert_eq!(missing.code(), "not_found");
}

#[test]
fn callers_authenticate_as_pg_wire_users_and_roles_apply() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        spirit_tests::demo_template().join("store.duckdb"),
        dir.path().join("store.duckdb"),
    )
    .unwrap();
    let config = dir.path().join("spirit.toml");
    std::fs::write(&config, "").unwrap();
    for (user, role, password) in [("ops", "admin", "0ps-pass"), ("ana", "analyst", "an4lyst")] {
        let mut child = Command::new(spirit_tests::spirit_bin())
            .args([
                "user",
                "add",
                user,
                "--role",
                role,
                "--password-stdin",
                "--config",
            ])
            .arg(&config)
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
        assert!(child.wait().unwrap().success());
    }
    let server = SpiritServer::start_with(ServerOptions {
        data_dir: Some(dir.path().to_path_buf()),
        args: vec!["--config".into(), config.to_string_lossy().into_owned()],
        env: vec![("SPIRIT_API_TOKEN_SECRET".into(), "test-secret".into())],
    });
    let path = "/api/analytics/kpis/overview";

    let anonymous = http::get(&server, path, None);
    assert_eq!(
        (anonymous.status, anonymous.code().as_str()),
        (401, "28P01")
    );
    assert!(
        anonymous.text().contains("Authorization"),
        "{}",
        anonymous.text()
    );
    let wrong = http::get(&server, path, Some(&basic("ops", "nope")));
    assert_eq!(wrong.status, 401);
    assert!(wrong.text().contains("password authentication failed"));
    assert_eq!(
        http::get(&server, path, Some(&basic("spirit", "spirit"))).status,
        401
    );
    assert_eq!(
        http::get(&server, path, Some(&basic("ana", "an4lyst"))).status,
        200
    );

    // Tokens: issued to basic credentials, accepted as bearer, refused when tampered with.
    let token = http::post(
        &server,
        "/api/auth/token",
        Some(&basic("ana", "an4lyst")),
        "application/json",
        &[],
        b"",
    )
    .json();
    assert_eq!(token["role"], "analyst");
    let bearer = format!("Bearer {}", token["token"].as_str().unwrap());
    assert_eq!(http::get(&server, path, Some(&bearer)).status, 200);
    let tampered = bearer.replace("spirit.", "spirit.x");
    assert_eq!(http::get(&server, path, Some(&tampered)).status, 401);

    // Analysts read; writing needs the admin role, as over pg-wire (42501).
    let analyst = basic("ana", "an4lyst");
    let denied = http::post(
        &server,
        "/api/ingest/bookings",
        Some(&analyst),
        "application/x-ndjson",
        &[],
        booking(9_100_001, 10.0).as_bytes(),
    );
    assert_eq!((denied.status, denied.code().as_str()), (403, "42501"));
    let denied = http::post(
        &server,
        "/api/sql",
        Some(&analyst),
        "text/plain",
        &[],
        b"DROP TABLE tours",
    );
    assert_eq!((denied.status, denied.code().as_str()), (403, "42501"));
    assert!(denied.text().contains("admin role"), "{}", denied.text());
    let denied = http::post(
        &server,
        "/api/analytics/reports/schedule",
        Some(&analyst),
        "application/json",
        &[],
        json!({"report_type": "FINANCIAL_SUMMARY", "frequency": "DAILY", "recipients": ["cfo@example.com"]}).to_string().as_bytes(),
    );
    assert_eq!((denied.status, denied.code().as_str()), (403, "42501"));
    let admin = basic("ops", "0ps-pass");
    let scheduled = http::post(
        &server,
        "/api/analytics/reports/schedule",
        Some(&admin),
        "application/json",
        &[],
        json!({"report_type": "FINANCIAL_SUMMARY", "frequency": "DAILY", "recipients": ["cfo@example.com"]}).to_string().as_bytes(),
    );
    assert_eq!(scheduled.status, 200, "{}", scheduled.text());
    let id = scheduled.json()["id"].as_i64().unwrap();
    let listed = http::get(&server, "/api/analytics/reports/scheduled", Some(&analyst)).json();
    assert!(
        listed["rows"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["id"].as_i64() == Some(id)),
        "{listed}"
    );
}

#[test]
fn sql_answers_json_csv_and_arrow_and_errors_keep_their_sqlstate() {
    let server = SpiritServer::start();
    let sql = "SELECT channel, count(*) AS n FROM bookings GROUP BY channel ORDER BY channel";
    let answer = http::sql(&server, sql, "application/json");
    assert_eq!(answer.status, 200, "{}", answer.text());
    let body = answer.json();
    assert_eq!(
        body["columns"][0],
        json!({"name": "channel", "type": "text"})
    );
    assert_eq!(body["columns"][1]["type"], "int8");
    assert_eq!(body["row_count"], 3);
    assert_eq!(body["rows"][0]["channel"], "B2B");

    let csv = http::sql(&server, sql, "text/csv");
    assert!(csv.content_type.starts_with("text/csv"));
    let lines: Vec<String> = csv.text().lines().map(str::to_owned).collect();
    assert_eq!(lines[0], "channel,n");
    assert_eq!(lines.len(), 4);
    assert_eq!(
        lines[1],
        format!("B2B,{}", body["rows"][0]["n"].as_i64().unwrap())
    );

    let arrow = http::sql(&server, sql, "application/vnd.apache.arrow.stream");
    assert_eq!(arrow.content_type, "application/vnd.apache.arrow.stream");
    let reader =
        arrow::ipc::reader::StreamReader::try_new(std::io::Cursor::new(arrow.body), None).unwrap();
    let rows: usize = reader.map(|b| b.unwrap().num_rows()).sum();
    assert_eq!(rows, 3);

    let json_body = http::post(
        &server,
        "/api/sql",
        Some(&demo_auth()),
        "application/json",
        &[],
        br#"{"sql": "SELECT 1 AS one"}"#,
    );
    assert_eq!(json_body.json()["rows"], json!([{"one": 1}]));

    for (sql, status, code) in [
        ("SELEC 1", 400, "42601"),
        ("SELECT * FROM no_such_table", 400, "42P01"),
        ("SELECT 1; SELECT 2", 400, "0A000"),
        ("SELECT no_such_column FROM tours", 400, "42703"),
        ("", 400, "42601"),
    ] {
        let answer = http::sql(&server, sql, "application/json");
        assert_eq!(
            (answer.status, answer.code().as_str()),
            (status, code),
            "{sql}: {}",
            answer.text()
        );
        assert!(
            !answer.json()["error"]["message"]
                .as_str()
                .unwrap()
                .is_empty()
        );
    }
    let unreadable = http::post(
        &server,
        "/api/sql",
        Some(&demo_auth()),
        "application/json",
        &[],
        b"{\"query\": 1}",
    );
    assert_eq!(
        (unreadable.status, unreadable.code().as_str()),
        (400, "22023")
    );
    // Still serving.
    assert_eq!(
        http::sql(&server, "SELECT 1", "application/json").status,
        200
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ingest_is_all_or_nothing_durable_and_visible_in_the_metric_views() {
    let mut server = SpiritServer::start();
    let client = server.connect().await;
    let count = "SELECT count(*) FROM bookings";
    let revenue =
        "SELECT CAST(revenue AS DOUBLE) FROM metrics.revenue_by_channel WHERE channel = 'B2C'";
    let rows_before = number(&client, count).await;
    let revenue_before = number(&client, revenue).await;

    // One bad line among good ones: nothing is stored, every bad line is named.
    let lines = vec![
        booking(9_000_001, 100.0),
        "{\"booking_id\": 9000002, \"channel\": ".to_string(),
        booking(9_000_003, 100.0),
        "{\"booking_id\": \"x\"}".to_string(),
        "{\"booking_id\": 9000005, \"colour\": \"red\"}".to_string(),
    ];
    let rejected = ingest(&server, "bookings", &lines);
    assert_eq!(
        (rejected.status, rejected.code().as_str()),
        (400, "22P02"),
        "{}",
        rejected.text()
    );
    let bad: Vec<u64> = rejected.json()["error"]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["line"].as_u64().unwrap())
        .collect();
    assert_eq!(bad, [2, 4, 5], "{}", rejected.text());
    assert!(rejected.text().contains("none were"), "{}", rejected.text());
    assert_eq!(number(&client, count).await, rows_before);

    // A duplicate key: refused whole.
    let duplicate = ingest(
        &server,
        "bookings",
        &[booking(9_000_010, 1.0), booking(9_000_010, 1.0)],
    );
    assert_eq!(duplicate.status, 409, "{}", duplicate.text());
    assert_eq!(number(&client, count).await, rows_before);
    let unknown = ingest(&server, "no_such_table", &[booking(1, 1.0)]);
    assert_eq!((unknown.status, unknown.code().as_str()), (404, "42P01"));
    let empty = ingest(&server, "bookings", &[String::new()]);
    assert_eq!((empty.status, empty.code().as_str()), (400, "22023"));

    // Good lines: stored and in the metric views at once (the cached result is dropped).
    let lines: Vec<String> = (0..50).map(|i| booking(9_000_100 + i, 10.0)).collect();
    let stored = ingest(&server, "bookings", &lines);
    assert_eq!(stored.status, 200, "{}", stored.text());
    assert_eq!(stored.json()["rows"], 50);
    assert_eq!(number(&client, count).await, rows_before + 50.0);
    let revenue_after = number(&client, revenue).await;
    assert!(
        (revenue_after - revenue_before - 500.0).abs() < 0.01,
        "{revenue_before} → {revenue_after}"
    );

    // kill -9 right after the acknowledgement loses nothing.
    let last = ingest(&server, "bookings", &[booking(9_000_999, 5.0)]);
    assert_eq!(last.status, 200);
    server.kill();
    drop(client);
    let restarted = SpiritServer::start_with(ServerOptions {
        data_dir: Some(server.data_dir.clone()),
        ..Default::default()
    });
    let client = restarted.connect().await;
    assert_eq!(number(&client, count).await, rows_before + 51.0);
    assert_eq!(
        number(
            &client,
            "SELECT CAST(price_paid AS DOUBLE) FROM bookings WHERE booking_id = 9000999"
        )
        .await,
        5.0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn metric_results_are_cached_until_their_tables_change() {
    let server = SpiritServer::start();
    let sql = "SELECT * FROM metrics.revenue_by_channel ORDER BY channel";
    let first = http::sql(&server, sql, "application/json");
    let second = http::sql(&server, sql, "application/json");
    assert_eq!(first.cache.as_deref(), Some("miss"));
    assert_eq!(second.cache.as_deref(), Some("hit"));
    assert_eq!(first.json()["rows"], second.json()["rows"]);
    // Formatting does not matter: the statement is normalised.
    let spaced = http::sql(
        &server,
        "select *   from metrics.revenue_by_channel\n ORDER BY channel",
        "application/json",
    );
    assert_eq!(spaced.cache.as_deref(), Some("hit"));
    // Plain table reads stream and are not kept.
    let plain = "SELECT count(*) FROM tours";
    http::sql(&server, plain, "application/json");
    assert_eq!(
        http::sql(&server, plain, "application/json")
            .cache
            .as_deref(),
        Some("miss")
    );

    // pg-wire shares the cache, over both protocols.
    let client = server.connect().await;
    let over_wire = client.simple_query(sql).await.unwrap();
    assert!(over_wire.len() > 3);
    let prepared = client
        .query(
            "SELECT revenue FROM metrics.revenue_by_channel WHERE channel = $1",
            &[&"B2C"],
        )
        .await
        .unwrap();
    assert_eq!(prepared.len(), 1);

    // Ingest into bookings drops what read it: the next answer is fresh.
    let before: f64 = first.json()["rows"][2]["revenue"]
        .as_f64()
        .unwrap_or_else(|| {
            first.json()["rows"][2]["revenue"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap()
        });
    assert_eq!(first.json()["rows"][2]["channel"], "B2C");
    assert_eq!(
        ingest(&server, "bookings", &[booking(9_200_001, 1000.0)]).status,
        200
    );
    let fresh = http::sql(&server, sql, "application/json");
    assert_eq!(fresh.cache.as_deref(), Some("miss"));
    let after: f64 = fresh.json()["rows"][2]["revenue"]
        .as_f64()
        .unwrap_or_else(|| {
            fresh.json()["rows"][2]["revenue"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap()
        });
    assert!((after - before - 1000.0).abs() < 0.01, "{before} → {after}");
    // So does an INSERT over pg-wire.
    assert_eq!(
        http::sql(&server, sql, "application/json").cache.as_deref(),
        Some("hit")
    );
    client
        .batch_execute("INSERT INTO bookings (booking_id, customer_id, tour_id, channel, status, price_paid, commission, travelers, unit_price, price_index, created_at, travel_date) VALUES (9200002, 1, 1, 'B2C', 'confirmed', 1, 0, 1, 1, 1.0, TIMESTAMP '2026-06-30 10:00:00', DATE '2026-08-01')")
        .await
        .unwrap();
    assert_eq!(
        http::sql(&server, sql, "application/json").cache.as_deref(),
        Some("miss")
    );

    // Hits and misses reach metrics.operational_health and /metrics.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let rate = number(
        &client,
        "SELECT CAST(cache_hit_rate AS DOUBLE) FROM metrics.operational_health",
    )
    .await;
    assert!(rate > 0.0 && rate < 1.0, "cache_hit_rate {rate}");
    let metrics = http::get(&server, "/metrics", None).text();
    for needle in [
        "spirit_cache_lookups_total{result=\"hit\"}",
        "spirit_cache_lookups_total{result=\"miss\"}",
        "spirit_queries_total{front_end=\"http\",kind=\"SELECT\",status=\"ok\"}",
        "spirit_queries_total{front_end=\"pg\",kind=\"INSERT\",status=\"ok\"}",
        "spirit_query_duration_seconds_bucket{front_end=\"pg\",kind=\"SELECT\",le=\"0.01\"}",
        "spirit_ingest_rows_total{table=\"bookings\"} 2",
        "spirit_http_requests_total{route=\"/api/sql\",status=\"200\"}",
    ] {
        assert!(
            metrics.contains(needle),
            "{needle} missing from /metrics:\n{metrics}"
        );
    }
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn feed(server: &SpiritServer, topics: &[&str]) -> Socket {
    let mut request = format!(
        "ws://127.0.0.1:{}/api/analytics/dashboard/realtime",
        server.http_port
    )
    .into_client_request()
    .unwrap();
    request
        .headers_mut()
        .insert("Authorization", demo_auth().parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("WebSocket");
    socket
        .send(Message::Text(
            json!({"subscribe": topics}).to_string().into(),
        ))
        .await
        .unwrap();
    socket
}

/// The next message of `kind` (skipping others), within `wait`.
async fn next_of(socket: &mut Socket, kind: &str, wait: Duration) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let message = tokio::time::timeout_at(deadline, socket.next())
            .await
            .ok()??
            .ok()?;
        if let Message::Text(text) = message {
            let value: Value = serde_json::from_str(&text).unwrap();
            if value["type"] == kind {
                return Some(value);
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_live_feed_pushes_snapshots_when_data_lands() {
    // An hour between snapshots: any update after the first comes from the ingest.
    let server = SpiritServer::start_with(ServerOptions {
        env: vec![("DASHBOARD_UPDATE_INTERVAL".into(), "3600".into())],
        ..Default::default()
    });
    let mut socket = feed(&server, &["revenue_by_channel", "kpi:ai_success_rate"]).await;
    let subscribed = next_of(&mut socket, "subscribed", Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(
        subscribed["topics"],
        json!(["kpi:ai_success_rate", "metrics.revenue_by_channel"])
    );
    let mut first = Vec::new();
    for _ in 0..2 {
        first.push(
            next_of(&mut socket, "snapshot", Duration::from_secs(30))
                .await
                .unwrap(),
        );
    }
    let revenue = first
        .iter()
        .find(|s| s["topic"] == "metrics.revenue_by_channel")
        .unwrap();
    assert_eq!(revenue["rows"].as_array().unwrap().len(), 3);
    let kpi = first
        .iter()
        .find(|s| s["topic"] == "kpi:ai_success_rate")
        .unwrap();
    assert_eq!(kpi["rows"][0]["kpi"], "ai_success_rate");

    let started = Instant::now();
    let stored = tokio::task::spawn_blocking({
        let line = booking(9_300_001, 2500.0);
        let url = server.url("/api/ingest/bookings");
        move || {
            ureq::post(&url)
                .header("Authorization", demo_auth())
                .send(line)
                .map(|r| r.status().as_u16())
        }
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(stored, 200);
    // Only revenue_by_channel's rows changed, so only it is pushed.
    let pushed = next_of(&mut socket, "snapshot", Duration::from_secs(20))
        .await
        .expect("a pushed update");
    eprintln!("pushed {:?} after the ingest", started.elapsed());
    assert_eq!(pushed["topic"], "metrics.revenue_by_channel");
    assert_eq!(pushed["reason"], "data");
    let b2c = |s: &Value| -> f64 {
        let row = s["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["channel"] == "B2C")
            .unwrap()
            .clone();
        row["revenue"]
            .as_f64()
            .unwrap_or_else(|| row["revenue"].as_str().unwrap().parse().unwrap())
    };
    assert!((b2c(&pushed) - b2c(revenue) - 2500.0).abs() < 0.01);

    // Bad subscriptions are answered with an error, and the socket keeps working.
    socket
        .send(Message::Text(
            r#"{"subscribe": ["no_such_view", "x; DROP"]}"#.into(),
        ))
        .await
        .unwrap();
    let error = next_of(&mut socket, "error", Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(error["code"], "42P01");
    let error = next_of(&mut socket, "error", Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(error["code"], "22023");
    socket.send(Message::Text("not json".into())).await.unwrap();
    assert_eq!(
        next_of(&mut socket, "error", Duration::from_secs(10))
            .await
            .unwrap()["code"],
        "22023"
    );

    // Without credentials there is no feed.
    let anonymous = tokio_tungstenite::connect_async(format!(
        "ws://127.0.0.1:{}/api/analytics/dashboard/realtime",
        server.http_port
    ))
    .await;
    assert!(anonymous.is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_client_loses_old_updates_not_the_others_time() {
    let server = SpiritServer::start_with(ServerOptions {
        env: vec![
            ("DASHBOARD_UPDATE_INTERVAL".into(), "0.2".into()),
            ("SPIRIT_FEED_BUFFER".into(), "4".into()),
        ],
        ..Default::default()
    });
    // The slow client asks for the largest view and then reads nothing for a while.
    let mut slow = feed(&server, &["revenue_daily"]).await;
    let mut fast = feed(&server, &["revenue_daily"]).await;
    let mut received = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(8);
    while tokio::time::Instant::now() < deadline {
        if next_of(&mut fast, "snapshot", Duration::from_secs(5))
            .await
            .is_some()
        {
            received += 1;
        }
    }
    // Snapshots every 0.2 s for 8 s: the fast client got a steady stream.
    assert!(
        received >= 10,
        "the fast client got only {received} snapshots"
    );
    // The slow one is told what it missed, then gets complete snapshots.
    let notice = next_of(&mut slow, "notice", Duration::from_secs(30))
        .await
        .expect("a notice");
    assert!(notice["dropped"].as_u64().unwrap() > 0, "{notice}");
    let snapshot = next_of(&mut slow, "snapshot", Duration::from_secs(30))
        .await
        .unwrap();
    assert!(snapshot["rows"].as_array().unwrap().len() > 100);
}

#[tokio::test(flavor = "multi_thread")]
async fn hundreds_of_clients_each_get_their_snapshots() {
    let server = SpiritServer::start_with(ServerOptions {
        env: vec![("DASHBOARD_UPDATE_INTERVAL".into(), "1".into())],
        ..Default::default()
    });
    let mut sockets = Vec::new();
    for i in 0..300 {
        let topics: &[&str] = if i % 2 == 0 {
            &["kpi_overview"]
        } else {
            &["kpi:nps"]
        };
        sockets.push(feed(&server, topics).await);
    }
    let health = http::get(&server, "/api/analytics/health", None).json();
    assert_eq!(health["feed_clients"], 300);
    let results = futures::future::join_all(sockets.iter_mut().map(|socket| async move {
        let first = next_of(socket, "snapshot", Duration::from_secs(60)).await;
        let second = next_of(socket, "snapshot", Duration::from_secs(60)).await;
        first.is_some() && second.is_some()
    }))
    .await;
    let served = results.iter().filter(|ok| **ok).count();
    assert_eq!(
        served, 300,
        "only {served} of 300 clients got two snapshots"
    );
}

/// A booking as a text-format COPY line.
fn copy_line(id: i64) -> String {
    format!(
        "{id}\t1\t1\tB2C\t\\N\tconfirmed\t10.00\t0\t1\t10.00\t1.0\t2026-06-30 12:00:00\t2026-08-01\n"
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn copy_from_stdin_loads_rows_all_or_nothing() {
    let server = SpiritServer::start();
    let client = server.connect().await;
    let count = "SELECT count(*) FROM bookings";
    let before = number(&client, count).await;

    // tokio-postgres: the extended protocol, text format.
    let sink = client.copy_in("COPY bookings FROM STDIN").await.unwrap();
    futures::pin_mut!(sink);
    let data: String = (0..100).map(|i| copy_line(9_700_000 + i)).collect();
    sink.send(bytes::Bytes::from(data)).await.unwrap();
    assert_eq!(sink.finish().await.unwrap(), 100);
    assert_eq!(number(&client, count).await, before + 100.0);

    // psql's \copy: CSV with a header and a column list, the simple protocol.
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("bookings.csv");
    std::fs::write(
        &csv,
        "booking_id,customer_id,tour_id,channel,status,price_paid,created_at\n\
         9701001,1,1,B2B,confirmed,55.5,2026-06-29 08:00:00\n\
         9701002,2,1,B2C,\"confirmed\",12,2026-06-29 09:00:00\n",
    )
    .unwrap();
    let out = spirit_tests::psql(
        &server,
        &format!(
            "\\copy bookings (booking_id, customer_id, tour_id, channel, status, price_paid, created_at) FROM '{}' WITH (FORMAT csv, HEADER)",
            csv.display()
        ),
    );
    assert!(out.contains("COPY 2"), "{out}");
    assert_eq!(number(&client, count).await, before + 102.0);

    // psycopg 3's cursor.copy().
    let script = format!(
        "import psycopg\n\
         with psycopg.connect('host=127.0.0.1 port={} user=spirit password=spirit dbname=spirit') as c:\n\
         \x20   with c.cursor().copy('COPY bookings (booking_id, customer_id, tour_id, channel, status, price_paid) FROM STDIN') as copy:\n\
         \x20       for i in range(10):\n\
         \x20           copy.write_row((9702000 + i, 1, 1, 'B2C', 'pending', 1.5))\n",
        server.port
    );
    let output = Command::new("python3")
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(number(&client, count).await, before + 112.0);

    // A bad line: nothing stored, the line named, the session usable.
    let sink = client.copy_in("COPY bookings FROM STDIN").await.unwrap();
    futures::pin_mut!(sink);
    let data = format!(
        "{}9703002\tnot-a-number\t1\tB2C\t\\N\tconfirmed\t1\t0\t1\t1\t1\t2026-06-30 12:00:00\t2026-08-01\n",
        copy_line(9_703_001)
    );
    sink.send(bytes::Bytes::from(data)).await.unwrap();
    let err = sink.finish().await.unwrap_err();
    assert_eq!(spirit_tests::sqlstate(&err), "22P02");
    let message = err.as_db_error().unwrap().message().to_string();
    assert!(
        message.contains("line 2") && message.contains("customer_id"),
        "{message}"
    );
    assert_eq!(number(&client, count).await, before + 112.0);
    // A wrong column and a binary COPY are refused up front.
    let err = client
        .copy_in::<_, bytes::Bytes>("COPY bookings (colour) FROM STDIN")
        .await;
    let err = match err {
        Ok(sink) => {
            futures::pin_mut!(sink);
            sink.send(bytes::Bytes::from("x\n")).await.unwrap();
            sink.finish().await.unwrap_err()
        }
        Err(e) => e,
    };
    assert_eq!(spirit_tests::sqlstate(&err), "42703");
    let err = client
        .copy_in::<_, bytes::Bytes>("COPY bookings FROM STDIN WITH (FORMAT binary)")
        .await
        .err()
        .expect("binary COPY refused");
    assert_eq!(spirit_tests::sqlstate(&err), "0A000");
    assert_eq!(number(&client, count).await, before + 112.0);
    // Metric views see the copied rows (the cache was told).
    let copied = number(
        &client,
        "SELECT count(*) FROM bookings WHERE booking_id BETWEEN 9700000 AND 9702999",
    )
    .await;
    assert_eq!(copied, 112.0);
}
