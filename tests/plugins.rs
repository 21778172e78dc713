//! WebAssembly plugins, loaded the way the engine loads them: the bundled `pbx_cdr` and
//! `payments_http` connectors (built by scripts/build-plugins.sh, which `make test` runs first)
//! over their fixtures, through `spirit plugin test` and through SQL on a real server, where a
//! real local HTTP server serves the payment pages; and the `hostile` test plugin, whose every
//! misbehaviour must become an SQL error naming it while the engine keeps serving.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use spirit_tests::plugins::{
    build_and_install, built_plugins, failure, install, server_with_plugins, value,
};
use spirit_tests::{spirit, spirit_bin};
use tokio_postgres::Client;

/// Waits up to 30 s for `sql` to return `want`.
async fn wait_for(client: &Client, sql: &str, want: &str) {
    let mut last = None;
    for _ in 0..300 {
        last = value(client, sql).await;
        if last.as_deref() == Some(want) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{sql} gave {last:?}, not {want:?}, within 30 s");
}

fn fixtures(plugin: &str) -> String {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../plugins")
        .join(plugin)
        .join("fixtures");
    dir.canonicalize().unwrap().display().to_string()
}

#[test]
fn pbx_cdr_reads_its_fixtures_and_counts_what_it_skips() {
    let plugin = built_plugins().join("pbx_cdr");
    let out = spirit(&[
        "plugin",
        "test",
        plugin.to_str().unwrap(),
        "--set",
        &format!("path={}", fixtures("pbx_cdr")),
        "--rows",
        "100",
        "--format",
        "csv",
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("plugin pbx_cdr 0.1.0 (connector), API 0.1.0"),
        "{text}"
    );
    assert!(text.contains("table cdr:"), "{text}");
    // Ten well-formed calls in two files; three malformed rows skipped and counted.
    let rows = text
        .lines()
        .skip_while(|l| !l.starts_with("history_id") && !l.contains(",call_id,"))
        .skip(1)
        .take_while(|l| !l.starts_with("pages:"))
        .count();
    assert_eq!(rows, 10, "{text}");
    assert!(text.contains("skipped malformed rows: 3"), "{text}");
}

#[test]
fn a_missing_source_directory_is_an_error_naming_the_plugin() {
    let plugin = built_plugins().join("pbx_cdr");
    // The source's directory does not exist: the scan fails with an error naming the plugin and
    // the directory, and nothing is printed as if it were empty.
    let out = Command::new(spirit_bin())
        .args([
            "plugin",
            "test",
            plugin.to_str().unwrap(),
            "--set",
            "path=/nonexistent/cdr",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("plugin pbx_cdr"), "{err}");
    assert!(err.contains("/nonexistent/cdr"), "{err}");
}

#[test]
fn a_source_missing_a_required_option_is_refused_with_its_description() {
    let plugin = built_plugins().join("pbx_cdr");
    let out = Command::new(spirit_bin())
        .args(["plugin", "test", plugin.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("option \"path\" is required"), "{err}");
}

#[tokio::test]
async fn pbx_cdr_tables_are_created_queried_joined_and_kept_across_restarts() {
    let (server, _dir) = server_with_plugins(&["pbx_cdr"], &[]);
    let client = server.connect().await;
    assert_eq!(
        value(
            &client,
            "SELECT status FROM spirit.plugins WHERE name = 'pbx_cdr'"
        )
        .await,
        Some("loaded".into())
    );
    client
        .simple_query(&format!(
            "CREATE EXTERNAL TABLE pbx_calls STORED AS pbx_cdr LOCATION '{}'",
            fixtures("pbx_cdr")
        ))
        .await
        .unwrap();
    assert_eq!(
        value(&client, "SELECT count(*) FROM pbx_calls").await,
        Some("10".into())
    );
    // Projection and LIMIT reach the plugin; a join with a store table works.
    let rows = client
        .query(
            "SELECT history_id, duration_seconds FROM pbx_calls ORDER BY history_id LIMIT 2",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].get::<_, String>(0), "Call 10421");
    assert_eq!(rows[0].get::<_, Option<i64>>(1), Some(252));
    assert_eq!(
        value(
            &client,
            "SELECT count(*) FROM pbx_calls c LEFT JOIN bookings b \
             ON CAST(b.booking_id AS VARCHAR) = c.history_id WHERE b.booking_id IS NULL"
        )
        .await,
        Some("10".into())
    );
    // Rows read and malformed rows skipped are counted, never lost silently.
    let row = client
        .query_one(
            "SELECT plugin, plugin_table, rows_read >= 10, skipped_rows > 0, last_error \
             FROM spirit.sources WHERE name = 'pbx_calls'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "pbx_cdr");
    assert_eq!(row.get::<_, String>(1), "cdr");
    assert!(row.get::<_, bool>(2));
    assert!(row.get::<_, bool>(3));
    assert_eq!(row.get::<_, Option<String>>(4), None);
    let logged = value(
        &client,
        "SELECT last_error FROM spirit.plugins WHERE name = 'pbx_cdr'",
    )
    .await
    .unwrap_or_default();
    assert!(logged.contains("skipped"), "{logged}");

    let server = server.restart();
    let client = server.connect().await;
    assert_eq!(
        value(&client, "SELECT count(*) FROM pbx_calls").await,
        Some("10".into())
    );
    client.simple_query("DROP TABLE pbx_calls").await.unwrap();
    assert_eq!(
        value(&client, "SELECT count(*) FROM spirit.sources").await,
        Some("0".into())
    );
}

#[tokio::test]
async fn bad_definitions_get_errors_that_say_what_to_change() {
    let (server, _dir) = server_with_plugins(&["pbx_cdr"], &[]);
    let client = server.connect().await;
    let (code, message) = failure(
        &client,
        "CREATE EXTERNAL TABLE x STORED AS no_such_plugin LOCATION '/tmp'",
    )
    .await;
    assert_eq!(code, "42704", "{message}");
    assert!(message.contains("spirit.plugins"), "{message}");
    let (code, message) = failure(
        &client,
        "CREATE EXTERNAL TABLE x STORED AS pbx_cdr LOCATION '/tmp' OPTIONS ('colour' 'red')",
    )
    .await;
    assert_eq!(code, "22023", "{message}");
    assert!(message.contains("unknown option \"colour\""), "{message}");
    let (code, message) = failure(
        &client,
        "CREATE EXTERNAL TABLE x STORED AS pbx_cdr LOCATION '/tmp' \
         OPTIONS ('refresh_interval' 'often')",
    )
    .await;
    assert_eq!(code, "22023", "{message}");
    assert!(message.contains("5m"), "{message}");
    // A missing directory fails the query, naming the plugin; the connection stays usable.
    client
        .simple_query("CREATE EXTERNAL TABLE gone STORED AS pbx_cdr LOCATION '/nonexistent/cdr'")
        .await
        .unwrap();
    let (code, message) = failure(&client, "SELECT * FROM gone").await;
    assert_eq!(code, "58000", "{message}");
    assert!(
        message.contains("pbx_cdr") && message.contains("/nonexistent/cdr"),
        "{message}"
    );
    assert_eq!(value(&client, "SELECT 1").await, Some("1".into()));
    let recorded = value(
        &client,
        "SELECT last_error FROM spirit.sources WHERE name = 'gone'",
    )
    .await
    .unwrap_or_default();
    assert!(recorded.contains("/nonexistent/cdr"), "{recorded}");
}

/// A Stripe-style list endpoint serving the payments_http fixtures on 127.0.0.1:0, counting the
/// requests it answers. `malformed` serves the malformed first page instead.
struct PaymentsApi {
    url: String,
    requests: Arc<AtomicUsize>,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl PaymentsApi {
    const TOKEN: &str = "sk_test_spirit";

    fn start(malformed: bool) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (count, stopped) = (Arc::clone(&requests), Arc::clone(&stop));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                if stopped.load(Ordering::SeqCst) {
                    return;
                }
                count.fetch_add(1, Ordering::SeqCst);
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request_line = String::new();
                reader.read_line(&mut request_line).unwrap();
                let mut authorized = false;
                loop {
                    let mut line = String::new();
                    reader.read_line(&mut line).unwrap();
                    if line.trim().is_empty() {
                        break;
                    }
                    let (name, value) = line.split_once(':').unwrap_or((&line, ""));
                    if name.eq_ignore_ascii_case("authorization")
                        && value.trim() == format!("Bearer {}", Self::TOKEN)
                    {
                        authorized = true;
                    }
                }
                let page = if !authorized {
                    "error_401.json"
                } else if request_line.contains("starting_after=py_3PAd4Lm2eZvKYlo2C1TqR004") {
                    "page_2.json"
                } else if malformed {
                    "page_malformed.json"
                } else {
                    "page_1.json"
                };
                let body = std::fs::read(Path::new(&fixtures("payments_http")).join(page)).unwrap();
                let status = if authorized {
                    "200 OK"
                } else {
                    "401 Unauthorized"
                };
                let head = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(&body);
            }
        });
        Self {
            url,
            requests,
            stop,
        }
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

impl Drop for PaymentsApi {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = std::net::TcpStream::connect(self.url.trim_start_matches("http://"));
    }
}

/// Creates table `name` over the payments API at `url`, with the token in secret `secret` and
/// any `extra` options (`, 'key' 'value'…`).
async fn create_payments(client: &Client, name: &str, url: &str, secret: &str, extra: &str) {
    client
        .simple_query(&format!(
            "CREATE EXTERNAL TABLE {name} STORED AS payments_http LOCATION '{url}' \
             OPTIONS ('token_secret' '{secret}'{extra})"
        ))
        .await
        .unwrap();
}

#[tokio::test]
async fn payments_http_pages_through_a_real_http_server() {
    let api = PaymentsApi::start(false);
    let bad_api = PaymentsApi::start(true);
    let (server, _dir) = server_with_plugins(
        &["payments_http"],
        &[
            ("PAYMENTS_TOKEN", PaymentsApi::TOKEN),
            ("WRONG_TOKEN", "sk_wrong"),
        ],
    );
    let client = server.connect().await;
    create_payments(&client, "provider_payments", &api.url, "PAYMENTS_TOKEN", "").await;
    let row = client
        .query_one(
            "SELECT count(*), sum(amount), count(DISTINCT currency), count(*) - count(customer) \
             FROM provider_payments",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 5);
    assert_eq!(row.get::<_, i64>(1), 483_050);
    assert_eq!(row.get::<_, i64>(2), 3);
    assert_eq!(row.get::<_, i64>(3), 1);
    assert_eq!(
        value(
            &client,
            "SELECT payment_method_type FROM provider_payments WHERE id = 'py_3PAd4Lm2eZvKYlo2C1TqR004'"
        )
        .await,
        Some("sepa_debit".into())
    );
    // Two pages per full scan: the server was asked twice per query.
    let before = api.requests();
    client
        .simple_query("SELECT * FROM provider_payments")
        .await
        .unwrap();
    assert_eq!(api.requests() - before, 2);

    // A wrong token: the upstream's 401 is an error naming the plugin.
    create_payments(
        &client,
        "provider_payments_denied",
        &api.url,
        "WRONG_TOKEN",
        "",
    )
    .await;
    let (code, message) = failure(&client, "SELECT count(*) FROM provider_payments_denied").await;
    assert_eq!(code, "28000", "{message}");
    assert!(
        message.contains("payments_http") && message.contains("401"),
        "{message}"
    );

    // A malformed page fails the query rather than skipping money.
    create_payments(
        &client,
        "provider_payments_bad",
        &bad_api.url,
        "PAYMENTS_TOKEN",
        "",
    )
    .await;
    let (code, message) = failure(&client, "SELECT count(*) FROM provider_payments_bad").await;
    assert_eq!(code, "22000", "{message}");
    assert!(
        message.contains("payments_http") && message.contains("\"450.00\""),
        "{message}"
    );
    assert_eq!(
        value(&client, "SELECT count(*) FROM provider_payments").await,
        Some("5".into())
    );
}

#[tokio::test]
async fn accelerated_sources_are_served_from_the_store() {
    let api = PaymentsApi::start(false);
    let (server, _dir) = server_with_plugins(
        &["payments_http"],
        &[("PAYMENTS_TOKEN", PaymentsApi::TOKEN)],
    );
    let client = server.connect().await;
    create_payments(
        &client,
        "provider_payments",
        &api.url,
        "PAYMENTS_TOKEN",
        ", 'refresh_interval' '1h'",
    )
    .await;
    wait_for(
        &client,
        "SELECT last_refresh_rows FROM spirit.sources WHERE name = 'provider_payments'",
        "5",
    )
    .await;
    let after_refresh = api.requests();
    for _ in 0..3 {
        assert_eq!(
            value(
                &client,
                "SELECT sum(amount) FROM provider_payments WHERE currency = 'eur'"
            )
            .await,
            value(
                &client,
                "SELECT sum(amount) FROM provider_payments WHERE currency = 'eur'"
            )
            .await,
        );
    }
    assert_eq!(
        value(&client, "SELECT count(*) FROM provider_payments").await,
        Some("5".into())
    );
    let rows = client
        .query("SELECT * FROM provider_payments ORDER BY created", &[])
        .await
        .unwrap();
    assert_eq!(rows.len(), 5);
    assert_eq!(
        api.requests(),
        after_refresh,
        "queries must read the copy, not the API"
    );
    assert_eq!(
        value(
            &client,
            "SELECT refresh_interval FROM spirit.sources WHERE name = 'provider_payments'"
        )
        .await,
        Some("1h".into())
    );
    // The copy survives a restart and serves at once, even with the upstream gone.
    drop(api);
    let server = server.restart();
    let client = server.connect().await;
    assert_eq!(
        value(&client, "SELECT count(*) FROM provider_payments").await,
        Some("5".into())
    );
    // The refresh at start-up failed (the API is gone): recorded, and the copy kept serving.
    wait_for(
        &client,
        "SELECT last_refresh_error IS NOT NULL FROM spirit.sources WHERE name = 'provider_payments'",
        "t",
    )
    .await;
    assert_eq!(
        value(&client, "SELECT count(*) FROM provider_payments").await,
        Some("5".into())
    );
}

#[tokio::test]
async fn a_hostile_plugin_gets_errors_naming_it_and_the_engine_keeps_serving() {
    let (server, _dir) = server_with_plugins(&["hostile"], &[]);
    let client = server.connect().await;
    let other = server.connect().await;
    let cases = [
        ("ok", None),
        ("loop", Some(("57014", "time limit"))),
        ("alloc", Some(("53200", "memory limit"))),
        ("huge_batch", Some(("53200", "memory limit"))),
        ("trap", Some(("XX000", "failed"))),
        ("panic", Some(("XX000", "failed"))),
        ("bad_ipc", Some(("22000", "not an arrow ipc stream"))),
        ("lying_schema", Some(("22000", "but the table declares"))),
        ("null_in_non_null", Some(("22000", "null"))),
        ("stuck_cursor", Some(("22000", "did not advance"))),
        ("disallowed_host", Some(("XX000", "allowed_hosts"))),
        ("outside_path", Some(("XX000", "allowed_paths"))),
        ("secret", None),
    ];
    for (mode, expected) in cases {
        client
            .simple_query(&format!(
                "CREATE EXTERNAL TABLE h_{mode} STORED AS hostile LOCATION '{mode}'"
            ))
            .await
            .unwrap();
        let sql = format!("SELECT * FROM h_{mode}");
        match expected {
            None => {
                client.simple_query(&sql).await.unwrap();
            }
            Some((code, text)) => {
                let (got, message) = failure(&client, &sql).await;
                assert_eq!(got, code, "{mode}: {message}");
                assert!(message.contains("hostile"), "{mode}: {message}");
                assert!(message.to_lowercase().contains(text), "{mode}: {message}");
            }
        }
        // The same connection and another one keep working.
        assert_eq!(value(&client, "SELECT 1").await, Some("1".into()), "{mode}");
        assert!(
            value(&other, "SELECT count(*) FROM tours").await.is_some(),
            "{mode}"
        );
    }
    assert_eq!(
        value(&client, "SELECT count(*) FROM h_ok").await,
        Some("3".into())
    );
}

#[tokio::test]
async fn plugins_are_hot_reloaded_and_a_failed_reload_keeps_the_old_version() {
    let (server, dir) = server_with_plugins(&[], &[]);
    let client = server.connect().await;
    assert_eq!(
        value(&client, "SELECT count(*) FROM spirit.plugins").await,
        Some("0".into())
    );
    // Dropped in while the engine runs: loaded within a couple of polls.
    install(dir.path(), "pbx_cdr");
    wait_for(
        &client,
        "SELECT status FROM spirit.plugins WHERE name = 'pbx_cdr'",
        "loaded",
    )
    .await;
    client
        .simple_query(&format!(
            "CREATE EXTERNAL TABLE pbx_calls STORED AS pbx_cdr LOCATION '{}'",
            fixtures("pbx_cdr")
        ))
        .await
        .unwrap();
    assert_eq!(
        value(&client, "SELECT count(*) FROM pbx_calls").await,
        Some("10".into())
    );

    // A manifest that contradicts the component: the reload fails, the old version serves on.
    let manifest = dir.path().join("plugins/pbx_cdr/plugin.toml");
    let original = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &manifest,
        original.replace("version = \"0.1.0\"", "version = \"9.9.9\""),
    )
    .unwrap();
    wait_for(
        &client,
        "SELECT last_error LIKE 'reload failed%' FROM spirit.plugins WHERE name = 'pbx_cdr'",
        "t",
    )
    .await;
    let error = value(
        &client,
        "SELECT last_error FROM spirit.plugins WHERE name = 'pbx_cdr'",
    )
    .await
    .unwrap();
    assert!(error.contains("9.9.9"), "{error}");
    assert_eq!(
        value(&client, "SELECT count(*) FROM pbx_calls").await,
        Some("10".into())
    );

    // Fixed: reloaded, the error gone.
    std::fs::write(&manifest, &original).unwrap();
    wait_for(
        &client,
        "SELECT last_error IS NULL FROM spirit.plugins WHERE name = 'pbx_cdr'",
        "t",
    )
    .await;
    // Removed: forgotten, and its tables say so.
    std::fs::remove_dir_all(dir.path().join("plugins/pbx_cdr")).unwrap();
    wait_for(&client, "SELECT count(*) FROM spirit.plugins", "0").await;
    let (code, message) = failure(&client, "SELECT count(*) FROM pbx_calls").await;
    assert_eq!(code, "55000", "{message}");
    assert!(message.contains("pbx_cdr"), "{message}");
}

#[tokio::test]
async fn plugin_new_scaffolds_a_crate_that_builds_and_loads_without_a_restart() {
    let (server, data_dir) = server_with_plugins(&[], &[]);
    let dir = tempfile::tempdir().unwrap();
    let out = spirit(&[
        "plugin",
        "new",
        "hello_numbers",
        "--dir",
        dir.path().to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let crate_dir = dir.path().join("hello_numbers");
    let plugins_dir = data_dir.path().join("plugins");
    build_and_install(&crate_dir, &plugins_dir);
    let built = crate_dir.join("dist/hello_numbers");
    assert!(built.join("hello_numbers.wasm").is_file());
    let out = spirit(&[
        "plugin",
        "test",
        built.to_str().unwrap(),
        "--set",
        "rows=2500",
        "--rows",
        "2500",
        "--format",
        "csv",
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("table numbers:"), "{text}");
    assert!(text.contains("\n2500,6250000\n"), "{text}");
    assert!(text.contains("pages: 3,"), "{text}");
    // Installed into the running server's plugins directory: queryable without a restart.
    let client = server.connect().await;
    wait_for(
        &client,
        "SELECT status FROM spirit.plugins WHERE name = 'hello_numbers'",
        "loaded",
    )
    .await;
    client
        .simple_query("CREATE EXTERNAL TABLE numbers STORED AS hello_numbers LOCATION '2500'")
        .await
        .unwrap();
    assert_eq!(
        value(&client, "SELECT sum(square) FROM numbers WHERE n > 2000").await,
        Some("2542791750".into())
    );
    // A name the engine could not use is refused before anything is written.
    let bad = Command::new(spirit_bin())
        .args([
            "plugin",
            "new",
            "Bad-Name",
            "--dir",
            dir.path().to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("lower-case"));
}
