//! The PostgreSQL wire protocol against a real `spirit serve`: types, parameters, errors,
//! cancellation, concurrency, limits and persistence across restarts.

use std::time::Duration;

use spirit_tests::raw::{RawConnection, first_error};
use spirit_tests::{ServerOptions, SpiritServer, sqlstate, text_rows};
use tokio_postgres::types::Type;

#[tokio::test]
async fn readme_query_answers_three_rows() {
    let server = SpiritServer::start();
    let client = server.connect().await;
    let sql = "SELECT channel, count(*), sum(price_paid) FROM bookings GROUP BY 1 ORDER BY 1";
    let simple = client.simple_query(sql).await.unwrap();
    let rows: Vec<_> = simple
        .iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => Some(r.get(0).unwrap().to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(rows, ["B2B", "B2B2C", "B2C"]);
    // Extended protocol, binary results.
    let rows = client.query(sql, &[]).await.unwrap();
    assert_eq!(rows.len(), 3);
    let total: i64 = rows.iter().map(|r| r.get::<_, i64>(1)).sum();
    assert!(
        total > 80_000,
        "about 100k bookings at scale 1, got {total}"
    );
}

#[tokio::test]
async fn result_columns_carry_postgres_type_oids() {
    let server = SpiritServer::start();
    let client = server.connect().await;
    let stmt = client
        .prepare(
            "SELECT booking_id, tour_id, travelers, channel, price_paid, price_index, \
             created_at, travel_date, channel = 'B2C' AS direct FROM bookings LIMIT 1",
        )
        .await
        .unwrap();
    let types: Vec<Type> = stmt.columns().iter().map(|c| c.type_().clone()).collect();
    assert_eq!(
        types,
        [
            Type::INT8,
            Type::INT4,
            Type::INT2,
            types[3].clone(),
            Type::NUMERIC,
            Type::FLOAT8,
            Type::TIMESTAMP,
            Type::DATE,
            Type::BOOL
        ]
    );
    assert!(
        matches!(types[3], Type::TEXT | Type::VARCHAR),
        "{:?}",
        types[3]
    );
}

#[tokio::test]
async fn bind_parameters_of_each_type() {
    let server = SpiritServer::start();
    let client = server.connect().await;
    let day = chrono::NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
    let ts = day.and_hms_opt(12, 30, 0).unwrap();
    let row = client
        .query_one(
            "SELECT $1::INT, $2::BIGINT, $3::DOUBLE PRECISION, $4::TEXT, $5::BOOLEAN, $6::DATE, \
             $7::TIMESTAMP, $1::INT + 1, $4::TEXT || '!'",
            &[&41_i32, &21_i64, &5.0_f64, &"hi", &false, &day, &ts],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, i32>(0), 41);
    assert_eq!(row.get::<_, i64>(1), 21);
    assert_eq!(row.get::<_, f64>(2), 5.0);
    assert_eq!(row.get::<_, String>(3), "hi");
    assert!(!row.get::<_, bool>(4));
    assert_eq!(row.get::<_, chrono::NaiveDate>(5), day);
    assert_eq!(row.get::<_, chrono::NaiveDateTime>(6), ts);
    // DataFusion types integer literals as BIGINT, so int + 1 is BIGINT (PostgreSQL: integer).
    assert_eq!(row.get::<_, i64>(7), 42);
    assert_eq!(row.get::<_, String>(8), "hi!");

    // Parameters in a filter over the store, reused across executions.
    let stmt = client
        .prepare("SELECT count(*) FROM bookings WHERE channel = $1 AND created_at >= $2")
        .await
        .unwrap();
    let mut counts = Vec::new();
    for channel in ["B2C", "B2B", "B2B2C"] {
        let row = client.query_one(&stmt, &[&channel, &ts]).await.unwrap();
        counts.push(row.get::<_, i64>(0));
    }
    assert!(counts.iter().all(|c| *c > 0), "{counts:?}");
    assert!(counts[0] > counts[1] && counts[1] > counts[2], "{counts:?}");
}

#[tokio::test]
async fn errors_carry_sqlstate_and_the_connection_stays_usable() {
    let server = SpiritServer::start();
    let client = server.connect().await;
    let cases = [
        ("SELEC 1", "42601"),
        ("SELECT * FROM no_such_table", "42P01"),
        ("SELECT no_such_function(1)", "42883"),
        ("SELECT no_such_column FROM bookings", "42703"),
        ("SELECT CAST('abc' AS INT)", "22P02"),
    ];
    for (sql, expected) in cases {
        let err = client.simple_query(sql).await.unwrap_err();
        assert_eq!(sqlstate(&err), expected, "{sql}: {err}");
        let err = client.query(sql, &[]).await.unwrap_err();
        assert_eq!(sqlstate(&err), expected, "{sql} (extended): {err}");
        let row = client.query_one("SELECT 1::INT", &[]).await.unwrap();
        assert_eq!(row.get::<_, i32>(0), 1, "connection unusable after {sql}");
    }
}

#[test]
fn bad_parameters_get_clear_errors() {
    let server = SpiritServer::start();
    let mut conn = RawConnection::connect(server.port);
    // A value that is not an integer.
    let messages = conn.extended_query("SELECT $1::INT + 1", &[23], &[Some("abc")]);
    let err = first_error(&messages).expect("error for 'abc' as int4");
    assert_eq!(
        err.sqlstate().as_deref(),
        Some("22P02"),
        "{:?}",
        err.field(b'M')
    );
    // Too many parameters for the statement.
    let messages = conn.extended_query("SELECT $1::INT + 1", &[23], &[Some("1"), Some("2")]);
    let err = first_error(&messages).expect("error for two parameters");
    assert!(
        matches!(err.sqlstate().as_deref(), Some("08P01" | "22023")),
        "{:?} {:?}",
        err.sqlstate(),
        err.field(b'M')
    );
    // The connection still answers.
    let messages = conn.extended_query("SELECT $1::INT + 1", &[23], &[Some("41")]);
    assert!(first_error(&messages).is_none(), "{messages:?}");
    assert!(messages.iter().any(|m| m.kind == b'D'), "no data row");
}

#[test]
fn oversized_and_malformed_messages_do_not_hurt_other_clients() {
    let server = SpiritServer::start();
    let mut bystander = RawConnection::connect(server.port);

    // A Query message claiming to be 1 GiB long.
    let mut huge = RawConnection::connect(server.port);
    let mut msg = vec![b'Q'];
    msg.extend((1_i32 << 30).to_be_bytes());
    msg.extend(b"SELECT 1");
    huge.write_raw(&msg);
    let reply = huge.read();
    if let Some(reply) = reply {
        assert_eq!(reply.kind, b'E', "{reply:?}");
    }

    // A message type that does not exist.
    let mut garbage = RawConnection::connect(server.port);
    garbage.send(b'~', b"nonsense");
    let reply = garbage.read_until_ready();
    assert!(
        reply.is_empty() || first_error(&reply).is_some(),
        "{reply:?}"
    );

    let messages = bystander.simple_query("SELECT count(*) FROM tours");
    assert!(first_error(&messages).is_none(), "{messages:?}");
    assert!(messages.iter().any(|m| m.kind == b'D'));
}

#[tokio::test]
async fn a_client_vanishing_mid_query_is_cleaned_up() {
    let server = SpiritServer::start();
    {
        let mut conn = RawConnection::connect(server.port);
        conn.send(
            b'Q',
            b"SELECT count(*) FROM bookings a JOIN bookings b ON a.tour_id = b.tour_id\0",
        );
        // Dropped here without reading the answer.
    }
    let client = server.connect().await;
    let row = client
        .query_one("SELECT count(*) FROM tours", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 60);
}

#[tokio::test]
async fn many_concurrent_connections() {
    let server = SpiritServer::start();
    let conninfo = server.conninfo();
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let conninfo = conninfo.clone();
            tokio::spawn(async move {
                let (client, connection) =
                    tokio_postgres::connect(&conninfo, tokio_postgres::NoTls).await?;
                tokio::spawn(connection);
                let row = client
                    .query_one(
                        "SELECT count(*) FROM bookings WHERE tour_id = $1",
                        &[&(i % 60 + 1)],
                    )
                    .await?;
                Ok::<i64, tokio_postgres::Error>(row.get(0))
            })
        })
        .collect();
    for task in tasks {
        assert!(task.await.unwrap().unwrap() > 0);
    }
}

#[tokio::test]
async fn cancel_request_stops_a_running_query() {
    let server = SpiritServer::start();
    let client = server.connect().await;
    let token = client.cancel_token();
    let canceller = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        token.cancel_query(tokio_postgres::NoTls).await
    });
    let err = client
        .simple_query(
            "SELECT count(*) FROM bookings a JOIN bookings b ON a.customer_id <> b.customer_id",
        )
        .await
        .unwrap_err();
    canceller.await.unwrap().unwrap();
    assert_eq!(sqlstate(&err), "57014", "{err}");
    let row = client.query_one("SELECT 1::INT", &[]).await.unwrap();
    assert_eq!(row.get::<_, i32>(0), 1);
}

#[tokio::test]
async fn statement_timeout_ends_a_long_query() {
    let server = SpiritServer::start();
    let client = server.connect().await;
    client
        .batch_execute("SET statement_timeout = '300ms'")
        .await
        .unwrap();
    let err = client
        .simple_query(
            "SELECT count(*) FROM bookings a JOIN bookings b ON a.customer_id <> b.customer_id",
        )
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "57014", "{err}");
    assert!(
        err.to_string().contains("statement timeout")
            || format!("{err:?}").contains("statement timeout"),
        "{err:?}"
    );
    client
        .batch_execute("SET statement_timeout = 0")
        .await
        .unwrap();
    let row = client
        .query_one("SELECT count(*) FROM tours", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 60);
}

#[tokio::test]
async fn session_settings_and_transactions() {
    let server = SpiritServer::start();
    let client = server.connect().await;
    client
        .batch_execute("SET application_name = 'wire-test'; SET statement_timeout = '5s'")
        .await
        .unwrap();
    let rows = client.simple_query("SHOW application_name").await.unwrap();
    let value = rows.iter().find_map(|m| match m {
        tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
        _ => None,
    });
    assert_eq!(value.as_deref(), Some("wire-test"));
    client.batch_execute("BEGIN").await.unwrap();
    client
        .query_one("SELECT count(*) FROM tours", &[])
        .await
        .unwrap();
    client.batch_execute("COMMIT").await.unwrap();
    client
        .batch_execute("BEGIN; SELECT 1; ROLLBACK")
        .await
        .unwrap();
    // current_setting() answers for this session, over both protocols.
    let row = client
        .query_one(
            "SELECT current_setting('application_name'), current_setting('statement_timeout')",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "wire-test");
    assert_eq!(row.get::<_, String>(1), "5000ms");
}

/// The result cache's hits so far, from `/metrics`.
fn cache_hits(server: &SpiritServer) -> u64 {
    let metrics = spirit_tests::http::get(server, "/metrics", None).text();
    metrics
        .lines()
        .find_map(|line| line.strip_prefix("spirit_cache_lookups_total{result=\"hit\"} "))
        .map_or(0, |n| n.trim().parse().unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_repeated_statement_is_answered_from_the_cache_until_its_tables_change() {
    let server = SpiritServer::start();
    let client = server.connect().await;
    let sql = "SELECT channel, revenue FROM metrics.revenue_by_channel ORDER BY channel";
    let first = text_rows(&client, sql).await;
    let hits = cache_hits(&server);
    // The same text again, over the simple protocol: answered from the cache, the same rows.
    for _ in 0..3 {
        assert_eq!(text_rows(&client, sql).await, first);
    }
    assert_eq!(cache_hits(&server), hits + 3);

    // A write to a table the view reads: the next answer is computed again, and fresh.
    client
        .batch_execute("INSERT INTO bookings (booking_id, customer_id, tour_id, channel, status, price_paid, commission, travelers, unit_price, price_index, created_at, travel_date) VALUES (9300001, 1, 1, 'B2C', 'confirmed', 1000, 0, 1, 1000, 1.0, TIMESTAMP '2026-06-30 10:00:00', DATE '2026-08-01')")
        .await
        .unwrap();
    let fresh = text_rows(&client, sql).await;
    let revenue = |rows: &[Vec<Option<String>>]| -> f64 {
        let b2c = rows
            .iter()
            .find(|r| r[0].as_deref() == Some("B2C"))
            .unwrap();
        b2c[1].as_deref().unwrap().parse().unwrap()
    };
    assert!((revenue(&fresh) - revenue(&first) - 1000.0).abs() < 0.01);

    // Inside a failed transaction the cached statement is refused like any other.
    client.batch_execute("BEGIN").await.unwrap();
    assert!(client.simple_query("SELECT 1 / 0").await.is_err());
    let refused = client.simple_query(sql).await.unwrap_err();
    assert_eq!(sqlstate(&refused), "25P02");
    client.batch_execute("ROLLBACK").await.unwrap();
    assert_eq!(text_rows(&client, sql).await, fresh);
}

#[tokio::test]
async fn a_time_zone_set_by_one_session_stays_in_that_session() {
    let server = SpiritServer::start();
    let berlin = server.connect().await;
    let other = server.connect().await;
    berlin
        .batch_execute("SET TIME ZONE 'Europe/Berlin'")
        .await
        .unwrap();
    let zone = |rows: Vec<tokio_postgres::SimpleQueryMessage>| {
        rows.iter().find_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
            _ => None,
        })
    };
    let mine = zone(berlin.simple_query("SHOW TIME ZONE").await.unwrap());
    assert_eq!(mine.as_deref(), Some("Europe/Berlin"));
    let theirs = zone(other.simple_query("SHOW TIME ZONE").await.unwrap());
    assert_ne!(
        theirs.as_deref(),
        Some("Europe/Berlin"),
        "another session's zone leaked"
    );
    let row = berlin
        .query_one("SELECT current_setting('TimeZone')", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "Europe/Berlin");
}

#[tokio::test]
async fn unknown_database_is_refused() {
    let server = SpiritServer::start();
    let conninfo = format!(
        "host=127.0.0.1 port={} user=spirit password=spirit dbname=other",
        server.port
    );
    let err = tokio_postgres::connect(&conninfo, tokio_postgres::NoTls)
        .await
        .err()
        .expect("database other must be refused");
    assert_eq!(sqlstate(&err), "3D000", "{err}");
}

#[tokio::test]
async fn connections_over_the_limit_get_53300() {
    let server = SpiritServer::start_with(ServerOptions {
        env: vec![("SPIRIT_MAX_CONNECTIONS".into(), "2".into())],
        ..Default::default()
    });
    let _a = server.connect().await;
    let _b = server.connect().await;
    let err = tokio_postgres::connect(&server.conninfo(), tokio_postgres::NoTls)
        .await
        .err()
        .expect("third connection must be refused");
    assert_eq!(sqlstate(&err), "53300", "{err}");
    drop(_a);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let c = server.connect().await;
    c.query_one("SELECT 1::INT", &[]).await.unwrap();
}

#[tokio::test]
async fn created_tables_persist_across_restarts() {
    let server = SpiritServer::start();
    let client = server.connect().await;
    client
        .batch_execute(
            "CREATE TABLE promo_codes (code TEXT, discount DOUBLE, valid_until DATE, uses BIGINT);
             INSERT INTO promo_codes VALUES ('SUMMER', 0.1, DATE '2026-09-01', 3), ('WINTER', 0.15, DATE '2027-01-31', 0);",
        )
        .await
        .unwrap();
    let inserted = client
        .execute(
            "INSERT INTO promo_codes VALUES ($1, $2, $3, $4)",
            &[
                &"SPRING",
                &0.05_f64,
                &chrono::NaiveDate::from_ymd_opt(2027, 4, 30).unwrap(),
                &7_i64,
            ],
        )
        .await
        .unwrap();
    assert_eq!(inserted, 1);
    client
        .batch_execute("CREATE TABLE doomed (x INT); CREATE TABLE channel_totals AS SELECT channel, count(*) AS n FROM bookings GROUP BY channel")
        .await
        .unwrap();
    drop(client);
    let server = server.restart();
    let client = server.connect().await;
    let rows = client
        .query("SELECT code, uses FROM promo_codes ORDER BY code", &[])
        .await
        .unwrap();
    let codes: Vec<(String, i64)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(
        codes,
        [
            ("SPRING".into(), 7),
            ("SUMMER".into(), 3),
            ("WINTER".into(), 0)
        ]
    );
    let row = client
        .query_one("SELECT sum(n) FROM channel_totals", &[])
        .await
        .unwrap();
    assert!(row.get::<_, i64>(0) > 80_000);
    client.batch_execute("DROP TABLE doomed").await.unwrap();
    drop(client);
    let server = server.restart();
    let client = server.connect().await;
    let err = client.query("SELECT * FROM doomed", &[]).await.unwrap_err();
    assert_eq!(sqlstate(&err), "42P01");
}

#[tokio::test]
async fn external_tables_persist_across_restarts() {
    let files = tempfile::tempdir().unwrap();
    let csv = files.path().join("fx_rates.csv");
    std::fs::write(&csv, "currency,rate\nUSD,1.08\nGBP,0.85\nCHF,0.95\n").unwrap();
    // A Parquet file written by the engine itself (DataFusion's COPY … TO).
    let parquet = files.path().join("targets.parquet");
    let scratch = tempfile::tempdir().unwrap();
    spirit_tests::spirit(&[
        "sql",
        "--data-dir",
        scratch.path().to_str().unwrap(),
        &format!(
            "COPY (SELECT * FROM (VALUES ('B2C', 100.0), ('B2B', 80.0)) AS t(channel, target)) \
             TO '{}' STORED AS PARQUET",
            parquet.display()
        ),
    ]);

    let server = SpiritServer::start();
    let client = server.connect().await;
    // Simple protocol for the CSV table, extended protocol for the Parquet one.
    client
        .batch_execute(&format!(
            "CREATE EXTERNAL TABLE fx_rates STORED AS CSV LOCATION '{}' OPTIONS ('format.has_header' 'true')",
            csv.display()
        ))
        .await
        .unwrap();
    client
        .execute(
            &format!(
                "CREATE EXTERNAL TABLE targets STORED AS PARQUET LOCATION '{}'",
                parquet.display()
            ),
            &[],
        )
        .await
        .unwrap();
    let row = client
        .query_one("SELECT count(*) FROM fx_rates", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 3);
    drop(client);
    let server = server.restart();
    let client = server.connect().await;
    let row = client
        .query_one("SELECT rate FROM fx_rates WHERE currency = 'GBP'", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, f64>(0), 0.85);
    // External tables join store tables.
    let row = client
        .query_one(
            "SELECT t.target, count(*) FROM targets t JOIN bookings b ON b.channel = t.channel \
             WHERE t.channel = 'B2C' GROUP BY t.target",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, f64>(0), 100.0);
    assert!(row.get::<_, i64>(1) > 10_000);
    client.batch_execute("DROP TABLE fx_rates").await.unwrap();
    let err = client
        .query("SELECT * FROM fx_rates", &[])
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "42P01");
    // A definition whose file is gone is reported at start-up and the rest keeps serving.
    std::fs::remove_file(&parquet).unwrap();
    drop(client);
    let server = server.restart();
    let client = server.connect().await;
    let err = client
        .query("SELECT * FROM fx_rates", &[])
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "42P01", "dropped tables stay dropped");
    let row = client
        .query_one("SELECT count(*) FROM tours", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 60);
    let err = client
        .query("SELECT * FROM targets", &[])
        .await
        .unwrap_err();
    let message = err.as_db_error().unwrap().message().to_string();
    assert!(
        message.contains("could not be loaded") && message.contains("DROP TABLE targets"),
        "{message}"
    );
    client.batch_execute("DROP TABLE targets").await.unwrap();
    let err = client
        .query("SELECT * FROM targets", &[])
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "42P01");
}

#[tokio::test]
async fn unknown_setting_gets_42704_and_savepoints_keep_the_transaction_state() {
    let server = SpiritServer::start();
    let client = server.connect().await;
    let err = client
        .query_one("SELECT current_setting('no_such_setting')", &[])
        .await
        .expect_err("unknown setting");
    assert_eq!(sqlstate(&err), "42704", "{err:?}");

    let err = client
        .batch_execute("SAVEPOINT s1")
        .await
        .expect_err("a savepoint needs a transaction");
    assert_eq!(sqlstate(&err), "25P01", "{err:?}");
    client.batch_execute("BEGIN").await.unwrap();
    client.batch_execute("SAVEPOINT s1").await.unwrap();
    let err = client
        .batch_execute("SELECT * FROM no_such_table")
        .await
        .expect_err("unknown table");
    assert_eq!(sqlstate(&err), "42P01");
    let err = client
        .batch_execute("ROLLBACK TO SAVEPOINT s1")
        .await
        .expect_err("a failed transaction is not resumed at a savepoint");
    assert_eq!(sqlstate(&err), "25P02", "{err:?}");
    client.batch_execute("ROLLBACK").await.unwrap();
    // Without a failure, savepoints come and go inside a transaction.
    client.batch_execute("BEGIN").await.unwrap();
    client.batch_execute("SAVEPOINT s1").await.unwrap();
    client
        .batch_execute("ROLLBACK TO SAVEPOINT s1")
        .await
        .unwrap();
    let row = client.query_one("SELECT 1::INT", &[]).await.unwrap();
    assert_eq!(row.get::<_, i32>(0), 1);
    client
        .batch_execute("RELEASE SAVEPOINT s1; COMMIT")
        .await
        .unwrap();
}
