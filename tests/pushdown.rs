//! Whole-query push-down into the store, against a real `spirit serve` on the demo data: which
//! queries DuckDB runs whole (EXPLAIN shows it), that their answers are the ones DataFusion
//! gives for the same SQL, that SQL whose meaning differs in DuckDB stays in DataFusion, and
//! that a repeated statement runs from its prepared store query until the catalog changes, and
//! that statements differing only in their filters' literals share one.

use spirit_tests::{SpiritServer, sqlstate, text_rows};
use tokio_postgres::Client;

/// The physical plan of `sql`, as EXPLAIN prints it.
async fn physical_plan(client: &Client, sql: &str) -> String {
    text_rows(client, &format!("EXPLAIN {sql}"))
        .await
        .into_iter()
        .filter(|row| row[0].as_deref() == Some("physical_plan"))
        .filter_map(|row| row[1].clone())
        .collect()
}

fn pushed_down(plan: &str) -> bool {
    plan.contains("VirtualExecutionPlan name=spirit_store")
}

/// A condition that is true for every row but that DuckDB would not read the same way (integer
/// division), so the query it is added to stays in DataFusion.
const KEEP_IN_DATAFUSION: &str = "booking_id / 2 >= 0";

#[tokio::test]
async fn dashboard_queries_run_whole_in_the_store_with_the_same_answers() {
    let server = SpiritServer::start();
    let client = server.connect().await;
    let queries = [
        "SELECT channel, count(*) AS n, sum(price_paid) AS revenue, avg(travelers) AS travelers \
         FROM bookings WHERE {cond} AND status IN ('confirmed', 'completed') \
         AND created_at >= TIMESTAMP '2025-07-01 00:00:00' GROUP BY channel ORDER BY channel",
        "SELECT CAST(created_at AS DATE) AS day, channel, sum(price_paid) FROM bookings \
         WHERE {cond} AND created_at >= TIMESTAMP '2026-06-01 00:00:00' \
         GROUP BY CAST(created_at AS DATE), channel ORDER BY 1, 2",
        "SELECT t.tour_id, t.name, count(*) AS n, sum(b.price_paid) AS revenue \
         FROM bookings b JOIN tours t ON t.tour_id = b.tour_id WHERE {cond} \
         GROUP BY t.tour_id, t.name ORDER BY revenue DESC, t.tour_id LIMIT 10",
        "SELECT date_trunc('month', created_at) AS month, count(DISTINCT customer_id), \
         max(price_paid), min(created_at) FROM bookings WHERE {cond} GROUP BY 1 ORDER BY 1",
        "SELECT booking_id, channel, rank() OVER (PARTITION BY channel ORDER BY price_paid DESC, \
         booking_id) AS r FROM bookings WHERE {cond} ORDER BY channel, r LIMIT 5",
    ];
    for template in queries {
        let pushed = template.replace("{cond}", "TRUE");
        let kept = template.replace("{cond}", KEEP_IN_DATAFUSION);
        assert!(
            pushed_down(&physical_plan(&client, &pushed).await),
            "expected the store to run {pushed}"
        );
        assert!(
            !pushed_down(&physical_plan(&client, &kept).await),
            "expected DataFusion to run {kept}"
        );
        let answer = text_rows(&client, &pushed).await;
        assert!(!answer.is_empty(), "{pushed} answered no rows");
        assert_eq!(answer, text_rows(&client, &kept).await, "{pushed}");
    }
}

#[tokio::test]
async fn sql_that_duckdb_reads_differently_stays_in_datafusion() {
    let server = SpiritServer::start();
    let client = server.connect().await;
    // DataFusion divides integers as integers and truncates a float cast to an integer; DuckDB
    // would answer 2.5 and 3.
    let sql = "SELECT 5 / 2 AS q, CAST(2.7 AS BIGINT) AS c, count(*) > 0 AS any \
               FROM tours WHERE tour_id * 5 / 2 > 0";
    assert!(!pushed_down(&physical_plan(&client, sql).await));
    assert_eq!(
        text_rows(&client, sql).await,
        [[Some("2".into()), Some("2".into()), Some("t".into())]]
    );
}

#[tokio::test]
async fn store_sub_plans_are_pushed_down_beside_other_sources() {
    let server = SpiritServer::start();
    let client = server.connect().await;
    // generate_series is not in the store: DuckDB answers the aggregate over bookings,
    // DataFusion the join.
    let sql = "SELECT g.value, s.n FROM generate_series(1, 3) AS g JOIN (SELECT travelers, \
               count(*) AS n FROM bookings GROUP BY travelers) s ON s.travelers = g.value \
               ORDER BY g.value";
    let plan = physical_plan(&client, sql).await;
    assert!(pushed_down(&plan), "{plan}");
    assert!(plan.contains("HashJoinExec"), "{plan}");
    let answer = text_rows(&client, sql).await;
    assert_eq!(answer.len(), 3);
    let ones = text_rows(&client, "SELECT count(*) FROM bookings WHERE travelers = 1").await;
    assert_eq!(answer[0][1], ones[0][0]);
}

#[tokio::test]
async fn writes_and_parameters_keep_working_with_push_down() {
    let server = SpiritServer::start();
    let client = server.connect().await;
    client
        .batch_execute(
            "CREATE TABLE pushdown_t (id BIGINT, label VARCHAR, amount DOUBLE);
             INSERT INTO pushdown_t VALUES (1, 'a', 1.5), (2, 'b', 2.5), (3, 'c', NULL);
             UPDATE pushdown_t SET amount = 10 WHERE id = 3;
             DELETE FROM pushdown_t WHERE id = 1;",
        )
        .await
        .unwrap();
    let sql = "SELECT label, amount FROM pushdown_t WHERE id >= 2 ORDER BY id";
    assert!(pushed_down(&physical_plan(&client, sql).await));
    let kept = "SELECT label, amount FROM pushdown_t WHERE id / 2 >= 1 ORDER BY id";
    assert!(!pushed_down(&physical_plan(&client, kept).await));
    let answer = text_rows(&client, sql).await;
    assert_eq!(answer, text_rows(&client, kept).await);
    assert_eq!(
        answer.iter().map(|r| r[0].as_deref()).collect::<Vec<_>>(),
        [Some("b"), Some("c")]
    );
    // Extended protocol: the parameter is bound before the plan is optimised.
    let found = client
        .query("SELECT label FROM pushdown_t WHERE id = $1", &[&2_i64])
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].get::<_, String>(0), "b");
}

/// `spirit_prepared_queries_total{event}` so far, from `/metrics`.
fn prepared(server: &SpiritServer, event: &str) -> u64 {
    let metrics = spirit_tests::http::get(server, "/metrics", None).text();
    let prefix = format!("spirit_prepared_queries_total{{event=\"{event}\"}} ");
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(prefix.as_str()))
        .map_or(0, |n| n.trim().parse().unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_repeated_store_query_skips_planning_until_the_catalog_changes() {
    let server = SpiritServer::start();
    let client = server.connect().await;
    client
        .batch_execute(
            "CREATE TABLE prepared_t (id BIGINT, label VARCHAR);
             INSERT INTO prepared_t VALUES (1, 'a'), (2, 'b');",
        )
        .await
        .unwrap();
    let sql = "SELECT label, count(*) AS n FROM prepared_t GROUP BY label ORDER BY label";
    let counts = || (prepared(&server, "prepared"), prepared(&server, "reused"));
    let (made, reused) = counts();
    let first = text_rows(&client, sql).await;
    assert_eq!(
        first,
        [["a", "1"], ["b", "1"]].map(|r| r.map(|v| Some(v.to_string())))
    );
    assert_eq!(
        counts(),
        (made + 1, reused),
        "the first run plans and prepares"
    );

    // The same text over the simple protocol, then the extended one (Parse answered with the
    // prepared query, typed columns): the same rows, without planning.
    for _ in 0..2 {
        assert_eq!(text_rows(&client, sql).await, first);
    }
    for _ in 0..2 {
        let rows = client.query(sql, &[]).await.unwrap();
        let typed: Vec<(String, i64)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        assert_eq!(typed, [("a".to_string(), 1), ("b".to_string(), 1)]);
    }
    assert_eq!(counts(), (made + 1, reused + 4));

    // Data changes show at once: the kept SQL reads the store when it runs.
    client
        .batch_execute("INSERT INTO prepared_t VALUES (3, 'a')")
        .await
        .unwrap();
    assert_eq!(text_rows(&client, sql).await[0][1].as_deref(), Some("2"));
    assert_eq!(counts(), (made + 1, reused + 5));

    // A failed transaction refuses it like any other statement, over both protocols.
    client.batch_execute("BEGIN").await.unwrap();
    assert!(client.simple_query("SELECT 1 / 0").await.is_err());
    assert_eq!(
        sqlstate(&client.simple_query(sql).await.unwrap_err()),
        "25P02"
    );
    assert_eq!(
        sqlstate(&client.query(sql, &[]).await.unwrap_err()),
        "25P02"
    );
    client.batch_execute("ROLLBACK").await.unwrap();

    // The catalog changes: the statement is planned again, over the new table.
    client
        .batch_execute(
            "DROP TABLE prepared_t;
             CREATE TABLE prepared_t (id BIGINT, label VARCHAR, extra INT);
             INSERT INTO prepared_t VALUES (1, 'z', 0);",
        )
        .await
        .unwrap();
    assert_eq!(
        text_rows(&client, sql).await,
        [[Some("z".to_string()), Some("1".to_string())]]
    );
    let rows = client.query(sql, &[]).await.unwrap();
    assert_eq!(rows[0].get::<_, String>(0), "z");
    let (made_now, reused_now) = counts();
    assert_eq!(
        made_now,
        made + 2,
        "planned and prepared again after the DROP"
    );

    // What reads the clock is planned every time.
    let clock = "SELECT count(*) FROM prepared_t WHERE now() > TIMESTAMP '2000-01-01 00:00:00'";
    for _ in 0..3 {
        assert_eq!(text_rows(&client, clock).await, [[Some("1".to_string())]]);
    }
    assert_eq!(counts(), (made_now, reused_now));
}

#[tokio::test(flavor = "multi_thread")]
async fn statements_with_parameters_are_prepared_once_and_bind_their_values() {
    let server = SpiritServer::start();
    let client = server.connect().await;
    filtered_table(&client, "param_t").await;
    let sql = "SELECT id, small FROM param_t WHERE id >= $1 AND small < $2 AND label = $3 \
               AND at >= $4 ORDER BY id";
    let at = |day: &str| {
        chrono::NaiveDateTime::parse_from_str(&format!("{day} 00:00:00"), "%Y-%m-%d %H:%M:%S")
            .unwrap()
    };
    // Each call is a Parse, Bind and Execute (tokio-postgres, binary values).
    let ids = |id: i64, small: i32, label: &'static str, since: &str| {
        let since = at(since);
        let client = &client;
        async move {
            let rows = client
                .query(sql, &[&id, &small, &label, &since])
                .await
                .unwrap();
            rows.iter().map(|r| r.get::<_, i64>(0)).collect::<Vec<_>>()
        }
    };
    let counts = || (prepared(&server, "prepared"), prepared(&server, "reused"));
    let (made, reused) = counts();

    // The first two executions are planned; the second also makes the statement's query.
    assert_eq!(ids(1, 100, "a", "2026-01-01").await, [1, 3]);
    assert_eq!(ids(2, 100, "a", "2026-01-01").await, [3]);
    until_prepared(&server, made + 1).await;
    assert_eq!(counts(), (made + 1, reused));

    // Later ones bind their values to it (their Parse answered with it too): the rows planning
    // gives.
    for (id, small, label, since, expected) in [
        (1, 100, "b", "2026-01-15", vec![2]),
        (1, 100, "a", "2026-02-15", vec![3]),
        (1, 25, "a", "2026-01-01", vec![1]),
        (4, 100, "a", "2026-01-01", vec![]),
        (0, 100, "it's", "2026-01-01", vec![]),
    ] {
        assert_eq!(ids(id, small, label, since).await, expected, "{id} {label}");
    }
    assert_eq!(counts(), (made + 1, reused + 5));

    // A statement prepared once by the client and executed again: no planning either.
    let statement = client.prepare(sql).await.unwrap();
    for id in [1_i64, 2] {
        let rows = client
            .query(&statement, &[&id, &100_i32, &"a", &at("2026-01-01")])
            .await
            .unwrap();
        assert_eq!(rows.len(), 3 - id as usize);
    }
    assert_eq!(counts(), (made + 1, reused + 7));

    // New rows show at once; a NULL value is planned, and matches nothing.
    client
        .batch_execute("INSERT INTO param_t VALUES (4, 40, 'a', TIMESTAMP '2026-04-01 00:00:00')")
        .await
        .unwrap();
    assert_eq!(ids(3, 100, "a", "2026-01-01").await, [3, 4]);
    let none: Option<i64> = None;
    let rows = client
        .query(sql, &[&none, &100_i32, &"a", &at("2026-01-01")])
        .await
        .unwrap();
    assert!(rows.is_empty());
    assert_eq!(counts(), (made + 1, reused + 8));

    // The catalog changes: the statement (and the client's prepared one) is planned again, over
    // the new table, and prepared again on its second run.
    client
        .batch_execute(
            "DROP TABLE param_t;
             CREATE TABLE param_t (id BIGINT, small INT, label VARCHAR, at TIMESTAMP, x INT);
             INSERT INTO param_t VALUES (7, 1, 'a', TIMESTAMP '2026-05-01 00:00:00', 0);",
        )
        .await
        .unwrap();
    assert_eq!(ids(5, 100, "a", "2026-01-01").await, [7]);
    let rows = client
        .query(&statement, &[&5_i64, &100_i32, &"a", &at("2026-01-01")])
        .await
        .unwrap();
    assert_eq!(rows[0].get::<_, i64>(0), 7);
    until_prepared(&server, made + 2).await;
    assert_eq!(ids(8, 100, "a", "2026-01-01").await, Vec::<i64>::new());
    assert_eq!(counts(), (made + 2, reused + 9));
}

/// Creates table `name` (id BIGINT, small INT, label VARCHAR, at TIMESTAMP) with three rows,
/// ids 1 to 3, for the filters of the shape and parameter tests.
async fn filtered_table(client: &Client, name: &str) {
    client
        .batch_execute(&format!(
            "CREATE TABLE {name} (id BIGINT, small INT, label VARCHAR, at TIMESTAMP);
             INSERT INTO {name} VALUES (1, 10, 'a', TIMESTAMP '2026-01-01 00:00:00'),
                 (2, 20, 'b', TIMESTAMP '2026-02-01 00:00:00'),
                 (3, 30, 'a', TIMESTAMP '2026-03-01 00:00:00');"
        ))
        .await
        .unwrap();
}

/// Waits (up to 10 s) until `/metrics` counts `made` prepared queries: a statement shape's query
/// is made beside the statement that asked for it.
async fn until_prepared(server: &SpiritServer, made: u64) {
    for _ in 0..100 {
        if prepared(server, "prepared") >= made {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the shape's query was not prepared");
}

#[tokio::test(flavor = "multi_thread")]
async fn statements_differing_only_in_their_filter_literals_share_one_prepared_query() {
    let server = SpiritServer::start();
    let client = server.connect().await;
    filtered_table(&client, "shaped_t").await;
    let query = |id: i64, small: i64, label: &str, since: &str| {
        format!(
            "SELECT id, small FROM shaped_t WHERE id >= {id} AND small < {small} \
             AND label = '{label}' AND at >= TIMESTAMP '{since} 00:00:00' ORDER BY id"
        )
    };
    let ids = |rows: Vec<Vec<Option<String>>>| -> Vec<String> {
        rows.into_iter().map(|r| r[0].clone().unwrap()).collect()
    };
    let counts = || (prepared(&server, "prepared"), prepared(&server, "reused"));
    let (made, reused) = counts();

    // The first two statements of the shape are planned (each prepared under its own text); the
    // second also makes the shape's query.
    assert_eq!(
        ids(text_rows(&client, &query(1, 100, "a", "2026-01-01")).await),
        ["1", "3"]
    );
    assert_eq!(
        ids(text_rows(&client, &query(2, 100, "a", "2026-01-01")).await),
        ["3"]
    );
    until_prepared(&server, made + 3).await;
    assert_eq!(counts(), (made + 3, reused));

    // Other literals: the same answers as planning would give, from the shape's query.
    for (id, small, label, since, expected) in [
        (1, 100, "b", "2026-01-15", vec!["2"]),
        (1, 100, "a", "2026-02-15", vec!["3"]),
        (1, 25, "a", "2026-01-01", vec!["1"]),
        (4, 100, "a", "2026-01-01", vec![]),
        (0, 100, "it''s", "2026-01-01", vec![]),
    ] {
        assert_eq!(
            ids(text_rows(&client, &query(id, small, label, since)).await),
            expected,
            "{}",
            query(id, small, label, since)
        );
    }
    assert_eq!(counts(), (made + 3, reused + 5));

    // New rows show at once.
    client
        .batch_execute("INSERT INTO shaped_t VALUES (4, 40, 'a', TIMESTAMP '2026-04-01 00:00:00')")
        .await
        .unwrap();
    assert_eq!(
        ids(text_rows(&client, &query(3, 100, "a", "2026-01-01")).await),
        ["3", "4"]
    );
    assert_eq!(counts().1, reused + 6);

    // A literal that does not fit its column's type (INT) is planned as written: every row is
    // below it.
    assert_eq!(
        ids(text_rows(&client, &query(1, 3_000_000_000, "a", "2026-01-01")).await),
        ["1", "3", "4"]
    );
    assert_eq!(counts().1, reused + 6);

    // The catalog changes: the shape is planned again, over the new table.
    client
        .batch_execute(
            "DROP TABLE shaped_t;
             CREATE TABLE shaped_t (id BIGINT, small INT, label VARCHAR, at TIMESTAMP, x INT);
             INSERT INTO shaped_t VALUES (7, 1, 'a', TIMESTAMP '2026-05-01 00:00:00', 0);",
        )
        .await
        .unwrap();
    assert_eq!(
        ids(text_rows(&client, &query(5, 100, "a", "2026-01-01")).await),
        ["7"]
    );
    assert_eq!(counts().1, reused + 6);
}
