//! The metric views over pg-wire: documented for BI tools, filters reaching the store, reloads,
//! the query log, and every figure checked against an independent computation in DuckDB
//! (tests/clients/metrics_reference.py). The hand-checkable fixture is in queries/tests/fixture.

use std::process::Command;
use std::time::{Duration, Instant};

use spirit_tests::{
    METRICS_AS_OF, ServerOptions, SpiritServer, demo_template, metrics_dir, psql, tests_dir,
};

/// The views and columns the platform relies on (the issue's contract; views may add columns).
const CONTRACT: &[(&str, &[&str])] = &[
    (
        "revenue_daily",
        &[
            "day",
            "channel",
            "bookings",
            "revenue",
            "commission",
            "net_revenue",
            "avg_booking_value",
        ],
    ),
    (
        "revenue_hourly",
        &["hour", "channel", "bookings", "revenue"],
    ),
    (
        "revenue_by_channel",
        &[
            "channel",
            "revenue",
            "share",
            "growth_dod",
            "growth_wow",
            "growth_mom",
        ],
    ),
    (
        "conversion_by_channel",
        &["channel", "leads", "converted", "conversion_rate"],
    ),
    (
        "top_revenue_sources",
        &["channel", "source", "revenue", "rank"],
    ),
    (
        "profit_by_product",
        &["tour_id", "tour", "revenue", "cost", "margin", "margin_pct"],
    ),
    (
        "commissions",
        &["partner", "channel", "bookings", "commission"],
    ),
    (
        "ai_agent_performance",
        &[
            "agent_id",
            "agent",
            "track",
            "queries",
            "queries_per_day",
            "success_rate",
            "avg_response_ms",
            "p95_response_ms",
            "csat",
            "revenue_generated",
            "cost_savings_vs_human",
        ],
    ),
    ("ai_track_performance", &["track"]),
    ("ai_activity_recent", &["agent_id", "agent"]),
    (
        "crm_pipeline",
        &["stage", "leads", "value", "weighted_value"],
    ),
    (
        "lead_conversion",
        &[
            "source",
            "channel",
            "leads",
            "converted",
            "conversion_rate",
            "median_days_to_convert",
        ],
    ),
    ("crm_interactions_by_channel", &["channel"]),
    (
        "ticket_sla",
        &[
            "priority",
            "opened",
            "resolved",
            "open_now",
            "sla_met_rate",
            "median_resolution_hours",
        ],
    ),
    (
        "call_center_performance",
        &[
            "handled_by",
            "calls",
            "answer_rate",
            "avg_wait_s",
            "avg_handle_s",
            "voice_quality",
            "resolution_rate",
        ],
    ),
    ("call_agent_performance", &["handled_by", "agent_id"]),
    (
        "customer_kpis",
        &[
            "csat",
            "nps",
            "clv",
            "retention_rate",
            "churn_rate",
            "support_resolution_hours",
        ],
    ),
    ("churn_by_segment", &["segment"]),
    (
        "operational_health",
        &[
            "uptime",
            "p50_ms",
            "p95_ms",
            "p99_ms",
            "error_rate",
            "active_connections",
            "cache_hit_rate",
        ],
    ),
    (
        "kpi_overview",
        &[
            "kpi",
            "family",
            "value",
            "unit",
            "target",
            "comparison",
            "status",
            "period_start",
            "period_end",
        ],
    ),
];

#[tokio::test(flavor = "multi_thread")]
async fn every_metric_view_is_there_with_descriptions() {
    let server = SpiritServer::start();
    let client = server.connect().await;
    for (view, columns) in CONTRACT {
        let rows = client
            .query(
                "SELECT column_name FROM information_schema.columns \
                 WHERE table_schema = 'metrics' AND table_name = $1 ORDER BY ordinal_position",
                &[view],
            )
            .await
            .unwrap();
        let actual: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
        for column in *columns {
            assert!(
                actual.iter().any(|c| c == column),
                "metrics.{view} lacks column {column}; it has {actual:?}"
            );
        }
        client
            .simple_query(&format!("SELECT * FROM metrics.{view} LIMIT 3"))
            .await
            .unwrap_or_else(|e| panic!("metrics.{view}: {e}"));
    }
    // Every view and every column has a description, as BI tools read them.
    let undocumented = client
        .query(
            "SELECT c.relname, a.attname FROM pg_catalog.pg_attribute a \
             JOIN pg_catalog.pg_class c ON c.oid = a.attrelid \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = 'metrics' AND a.attnum > 0 \
             AND col_description(a.attrelid, a.attnum) IS NULL",
            &[],
        )
        .await
        .unwrap();
    let undocumented: Vec<String> = undocumented
        .iter()
        .map(|r| format!("{}.{}", r.get::<_, String>(0), r.get::<_, String>(1)))
        .collect();
    assert!(
        undocumented.is_empty(),
        "columns without description: {undocumented:?}"
    );
    let views = client
        .query(
            "SELECT c.relname, obj_description(c.oid, 'pg_class') FROM pg_catalog.pg_class c \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = 'metrics' ORDER BY 1",
            &[],
        )
        .await
        .unwrap();
    assert!(views.len() >= CONTRACT.len(), "{} views", views.len());
    for row in &views {
        let description: Option<String> = row.get(1);
        assert!(
            description.is_some_and(|d| d.len() > 20),
            "metrics.{} has no description",
            row.get::<_, String>(0)
        );
    }
    let revenue = client
        .query_one(
            "SELECT obj_description(c.oid, 'pg_class') FROM pg_catalog.pg_class c \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = 'metrics' AND c.relname = 'revenue_daily'",
            &[],
        )
        .await
        .unwrap();
    let text: String = revenue.get(0);
    assert!(
        text.contains("confirmed") && text.contains("completed") && text.contains("created_at"),
        "revenue_daily's description must state what revenue is: {text}"
    );
}

#[test]
fn psql_describe_shows_view_and_column_comments() {
    let server = SpiritServer::start();
    let out = psql(&server, "\\d+ metrics.revenue_daily");
    assert!(out.contains("View \"metrics.revenue_daily\""), "{out}");
    let day = out
        .lines()
        .find(|l| l.starts_with("day|"))
        .unwrap_or_else(|| panic!("no day column:\n{out}"));
    assert!(
        day.contains("date") && day.len() > 40,
        "day has no comment: {day}"
    );
    assert!(out.contains("View definition:"), "{out}");
    let views = psql(&server, "\\dv metrics.*");
    assert!(views.contains("metrics|kpi_overview|view|"), "{views}");
    let kpis = psql(
        &server,
        "SELECT kpi, target, status FROM metrics.kpi_overview",
    );
    assert!(kpis.contains("ai_success_rate|0.94|"), "{kpis}");
    assert!(kpis.lines().count() >= 14, "{kpis}");
}

#[tokio::test(flavor = "multi_thread")]
async fn time_filters_reach_the_store() {
    let server = SpiritServer::start();
    let client = server.connect().await;
    let rows = client
        .simple_query(
            "EXPLAIN SELECT day, sum(revenue) FROM metrics.revenue_daily \
             WHERE day >= DATE '2026-06-24' GROUP BY day",
        )
        .await
        .unwrap();
    let plan: String = rows
        .iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => r.get(1).map(str::to_string),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n");
    // The whole query goes to the store (see tests/pushdown.rs).
    let scan = plan
        .lines()
        .find(|l| {
            l.contains("VirtualExecutionPlan name=spirit_store")
                && l.contains(r#"FROM "metrics"."revenue_daily""#)
        })
        .unwrap_or_else(|| panic!("the store does not run the view:\n{plan}"));
    assert!(
        scan.contains("WHERE") && scan.contains("2026-06-24"),
        "the filter is not handed to the store:\n{plan}"
    );
    assert!(
        !plan.contains("FilterExec"),
        "DataFusion filters the whole history itself:\n{plan}"
    );

    // Inside the store, the filter sits below the aggregation, next to the bookings scan.
    drop(client);
    let mut server = server;
    assert!(server.stop().success());
    let store = duckdb::Connection::open(server.data_dir.join("store.duckdb")).unwrap();
    let plan: String = store
        .query_row(
            "EXPLAIN SELECT * FROM metrics.revenue_daily WHERE day >= DATE '2026-06-24'",
            [],
            |row| row.get(1),
        )
        .unwrap();
    let aggregate = plan
        .find("GROUP_BY")
        .or_else(|| plan.find("Group By"))
        .unwrap_or_else(|| panic!("no aggregation in:\n{plan}"));
    let filter = plan.rfind("2026-06-24").expect("filter in plan");
    let scan = plan.rfind("bookings").expect("bookings scan in plan");
    assert!(
        aggregate < filter,
        "the filter is applied after aggregating:\n{plan}"
    );
    assert!(
        filter <= scan + 400,
        "the filter is not at the scan:\n{plan}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn metric_files_reload_on_change_and_on_request() {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(metrics_dir()).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
    }
    let server = SpiritServer::start_with(ServerOptions {
        env: vec![
            (
                "SPIRIT_METRICS_DIR".into(),
                dir.path().display().to_string(),
            ),
            ("SPIRIT_METRICS_RELOAD_SECONDS".into(), "1".into()),
        ],
        ..Default::default()
    });
    let client = server.connect().await;

    // A new file shows up by itself.
    std::fs::write(
        dir.path().join("bookings_total.sql"),
        "CREATE OR REPLACE VIEW metrics.bookings_total AS SELECT count(*) AS bookings FROM bookings;\n\
         COMMENT ON VIEW metrics.bookings_total IS 'All bookings ever made, whatever their status.';\n\
         COMMENT ON COLUMN metrics.bookings_total.bookings IS 'Number of bookings.';\n",
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let total: i64 = loop {
        match client
            .query_one("SELECT bookings FROM metrics.bookings_total", &[])
            .await
        {
            Ok(row) => break row.get(0),
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(200)).await
            }
            Err(e) => panic!("new metric file not picked up: {e}"),
        }
    };
    let expected: i64 = client
        .query_one("SELECT count(*) FROM bookings", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(total, expected);

    // A file without column comments is refused, by name, and the rest keeps working.
    std::fs::write(
        dir.path().join("undocumented.sql"),
        "CREATE OR REPLACE VIEW metrics.undocumented AS SELECT 1 AS one;\n\
         COMMENT ON VIEW metrics.undocumented IS 'A view whose column has no comment.';\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("broken.sql"),
        "CREATE OR REPLACE VIEW metrics.broken AS SELECT no_such_column FROM bookings;\n",
    )
    .unwrap();
    let err = client
        .simple_query("SELECT reload_metrics()")
        .await
        .expect_err("reload with broken files must fail");
    let message = err
        .as_db_error()
        .expect("server error")
        .message()
        .to_string();
    assert!(message.contains("undocumented.sql"), "{message}");
    assert!(
        message.contains("COMMENT ON COLUMN metrics.undocumented.one"),
        "{message}"
    );
    assert!(
        message.contains("broken.sql") && message.contains("no_such_column"),
        "{message}"
    );
    client
        .simple_query("SELECT * FROM metrics.revenue_daily LIMIT 1")
        .await
        .expect("other views still load");
    let statuses = client
        .query(
            "SELECT name, status FROM spirit.metric_views WHERE status <> 'loaded' ORDER BY name",
            &[],
        )
        .await
        .unwrap();
    let statuses: Vec<(String, String)> = statuses.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(
        statuses,
        [
            ("broken".to_string(), "error".to_string()),
            ("undocumented".to_string(), "error".to_string())
        ]
    );

    // Removing the files and reloading leaves a clean schema.
    std::fs::remove_file(dir.path().join("undocumented.sql")).unwrap();
    std::fs::remove_file(dir.path().join("broken.sql")).unwrap();
    std::fs::remove_file(dir.path().join("bookings_total.sql")).unwrap();
    let report: String = client
        .query_one("SELECT reload_metrics()", &[])
        .await
        .unwrap()
        .get(0);
    assert!(report.starts_with("loaded "), "{report}");
    let err = client
        .simple_query("SELECT * FROM metrics.bookings_total")
        .await
        .expect_err("removed view is gone");
    assert_eq!(err.code().map(|c| c.code()), Some("42P01"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn statements_are_logged_and_feed_operational_health() {
    let server = SpiritServer::start();
    let client = server.connect().await;
    client.simple_query("SELECT 1").await.unwrap();
    client
        .query(
            "SELECT count(*) FROM bookings WHERE channel = $1",
            &[&"B2C"],
        )
        .await
        .unwrap();
    let _ = client.simple_query("SELECT * FROM no_such_table").await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let logged = client
            .query(
                "SELECT statement_kind, error_code, rows FROM spirit.query_log ORDER BY finished_at",
                &[],
            )
            .await
            .unwrap();
        let errors = logged
            .iter()
            .filter(|r| r.get::<_, Option<String>>(1).as_deref() == Some("42P01"))
            .count();
        let health = client
            .query_one(
                "SELECT queries, error_rate, active_connections, uptime, p95_ms \
                 FROM metrics.operational_health",
                &[],
            )
            .await
            .unwrap();
        let queries: i64 = health.get(0);
        let active: i64 = health.get::<_, Option<i64>>(2).unwrap_or(0);
        if logged.len() >= 3 && errors == 1 && active >= 1 {
            let error_rate: f64 = health.get(1);
            assert!(
                error_rate > 0.0 && error_rate < 1.0,
                "error_rate {error_rate}"
            );
            assert!(queries >= 3, "queries {queries}");
            let uptime: f64 = health.get(3);
            assert!(uptime > 0.0 && uptime <= 1.0, "uptime {uptime}");
            let p95: f64 = health.get(4);
            assert!(p95 > 0.0, "p95 {p95}");
            assert!(logged.iter().any(|r| r.get::<_, String>(0) == "SELECT"));
            break;
        }
        assert!(
            Instant::now() < deadline,
            "query log / heartbeat not written: {} rows, {errors} errors, {active} active",
            logged.len()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[test]
fn figures_match_an_independent_computation_in_duckdb() {
    let server = SpiritServer::start();
    let script = tests_dir().join("clients/metrics_reference.py");
    let output = Command::new("python3")
        .arg(script)
        .args(["--dsn", &server.conninfo()])
        .arg("--store")
        .arg(demo_template().join("store.duckdb"))
        .args(["--as-of", METRICS_AS_OF])
        .output()
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "metrics_reference.py found differences:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("revenue_daily"), "{stdout}");
}

/// docs/metrics.md is the catalog's own descriptions of the metric views; `UPDATE_DOCS=1 cargo
/// test --workspace --test metrics metrics_reference_doc` rewrites it.
#[tokio::test(flavor = "multi_thread")]
async fn metrics_reference_doc_matches_the_catalog() {
    let server = SpiritServer::start();
    let client = server.connect().await;
    let mut doc = String::from(
        "# Metric views: reference\n\n\
         Generated from the COMMENTs in queries/metrics (what BI tools show) by \
         `UPDATE_DOCS=1 cargo test --workspace --test metrics metrics_reference_doc`. Revenue is \
         `price_paid` of bookings with status confirmed or completed, attributed to `created_at`; \
         relative windows end at `metrics_as_of` when set, else now.\n",
    );
    let failed = client
        .query(
            "SELECT name, error FROM spirit.metric_views WHERE status <> 'loaded'",
            &[],
        )
        .await
        .unwrap();
    let failed: Vec<(String, Option<String>)> =
        failed.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert!(failed.is_empty(), "metric files did not load: {failed:?}");
    let objects = client
        .query(
            "SELECT name, kind, description FROM spirit.metric_views WHERE status = 'loaded' \
             ORDER BY name",
            &[],
        )
        .await
        .unwrap();
    for object in &objects {
        let name: String = object.get(0);
        let kind: String = object.get(1);
        let description: String = object.get(2);
        let title = if kind == "view" {
            format!("metrics.{name}")
        } else {
            format!("{name}(…) (table function)")
        };
        doc.push_str(&format!("\n## {title}\n\n{description}\n"));
        if kind != "view" {
            continue;
        }
        doc.push_str("\n| column | type | description |\n| --- | --- | --- |\n");
        let columns = client
            .query(
                "SELECT a.attname, format_type(a.atttypid, a.atttypmod), \
                 col_description(a.attrelid, a.attnum) \
                 FROM pg_catalog.pg_attribute a \
                 JOIN pg_catalog.pg_class c ON c.oid = a.attrelid \
                 JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = 'metrics' AND c.relname = $1 AND a.attnum > 0 ORDER BY a.attnum",
                &[&name],
            )
            .await
            .unwrap();
        for column in &columns {
            let text: Option<String> = column.get(2);
            doc.push_str(&format!(
                "| {} | {} | {} |\n",
                column.get::<_, String>(0),
                column.get::<_, String>(1),
                text.unwrap_or_default().replace('|', "\\|")
            ));
        }
    }
    let path = tests_dir().join("../docs/metrics.md");
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(&path, &doc).unwrap();
    }
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        current == doc,
        "docs/metrics.md is out of date: run UPDATE_DOCS=1 cargo test --workspace --test metrics \
         metrics_reference_doc"
    );
}
