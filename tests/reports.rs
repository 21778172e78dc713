//! Automated reports against real receivers: a real SMTP server (aiosmtpd, plain and
//! STARTTLS with AUTH), a local HTTP server standing in for Slack and webhooks, a directory;
//! failures retried then recorded; schedules that survive a restart and catch up once; and
//! the HTML rendered by headless Chromium to a screenshot and a PDF.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::Sha256;
use spirit_tests::plugins::{failure, install, value};
use spirit_tests::{
    METRICS_AS_OF, ServerOptions, SpiritServer, demo_template, spirit_bin, tests_dir,
};

/// A helper process from tests/tools that prints `port=<n>` once it listens; killed on drop.
struct Receiver {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Receiver {
    fn start(script: &str, args: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new("python3")
            .arg(tests_dir().join("tools").join(script))
            .arg(dir.path())
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("start {script}: {e} (scripts/setup.sh --test installs aiosmtpd)")
            });
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("port=")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("{script} did not start: {line:?}"));
        Self { child, port, dir }
    }

    fn smtp(args: &[&str]) -> Self {
        Self::start("smtp_sink.py", args)
    }

    fn http(args: &[&str]) -> Self {
        Self::start("http_sink.py", args)
    }

    /// The messages received so far, in order.
    fn messages(&self) -> Vec<Value> {
        let mut out = Vec::new();
        for n in 1.. {
            match std::fs::read_to_string(self.dir.path().join(format!("{n}.json"))) {
                Ok(text) => out.push(serde_json::from_str(&text).unwrap()),
                Err(_) => break,
            }
        }
        out
    }

    /// Waits up to `secs` for `n` messages.
    fn wait_for(&self, n: usize, secs: u64) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let messages = self.messages();
            if messages.len() >= n || Instant::now() > deadline {
                return messages;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The HTTP requests received so far.
    fn requests(&self) -> Vec<Value> {
        std::fs::read_to_string(self.dir.path().join("requests.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A data dir with the demo data and the forecasting plugins (for the forecast band).
fn data_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        demo_template().join("store.duckdb"),
        dir.path().join("store.duckdb"),
    )
    .unwrap();
    for plugin in ["forecasting", "linear", "gbt"] {
        install(dir.path(), plugin);
    }
    dir
}

/// Environment for a server sending mail to `smtp` in plain text, retrying quickly.
fn smtp_env(smtp_port: u16) -> Vec<(String, String)> {
    [
        ("SPIRIT_SMTP_HOST", "127.0.0.1".to_string()),
        ("SPIRIT_SMTP_PORT", smtp_port.to_string()),
        ("SPIRIT_SMTP_TLS", "none".into()),
        (
            "SPIRIT_SMTP_FROM",
            "Spirit Reports <reports@spirit.example>".into(),
        ),
        ("SPIRIT_REPORT_MAX_ATTEMPTS", "3".into()),
        ("SPIRIT_REPORT_RETRY_SECONDS", "0.2".into()),
        ("SPIRIT_REPORT_POLL_SECONDS", "0.5".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

fn server(dir: &Path, env: Vec<(String, String)>) -> SpiritServer {
    SpiritServer::start_with(ServerOptions {
        data_dir: Some(dir.to_path_buf()),
        env,
        ..Default::default()
    })
}

/// The signature a receiver expects: `sha256=` and the hex HMAC-SHA256 of `body`.
fn signature(secret: &[u8], body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
    mac.update(body.as_bytes());
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}")
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn parts<'a>(message: &'a Value, content_type: &str) -> Vec<&'a Value> {
    message["parts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["content_type"] == content_type)
        .collect()
}

fn eur(v: f64) -> String {
    let digits = format!("{:.0}", v);
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    format!("€{out}")
}

#[tokio::test]
async fn financial_summary_email_with_charts_and_csv_reaches_a_real_smtp_server() {
    let smtp = Receiver::smtp(&[]);
    let dir = data_dir();
    let server = server(dir.path(), smtp_env(smtp.port));
    let client = server.connect().await;

    let html = value(
        &client,
        r#"SELECT generate_report('financial_summary', '{"to": "cfo@example.com", "cc": ["ceo@example.com"]}')"#,
    )
    .await
    .unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"), "{}", &html[..80]);
    assert!(
        html.contains("data:image/svg+xml;base64,"),
        "the returned HTML carries its charts"
    );

    let messages = smtp.wait_for(1, 10);
    assert_eq!(messages.len(), 1, "one email");
    let m = &messages[0];
    assert_eq!(
        m["rcpt_tos"],
        serde_json::json!(["cfo@example.com", "ceo@example.com"])
    );
    assert_eq!(m["mail_from"], "reports@spirit.example");
    assert_eq!(m["from"], "Spirit Reports <reports@spirit.example>");
    assert_eq!(m["subject"], "Financial Summary – 01 Jul 2026");
    assert_eq!(m["cc"], "ceo@example.com");
    assert_eq!(m["mime_version"], "1.0");
    assert!(
        m["message_id"].as_str().is_some_and(|id| id.contains('@')),
        "{m}"
    );
    assert!(m["date"].is_string());

    // mixed( related( alternative(text, html), PNG charts ), CSV attachments )
    for kind in [
        "multipart/mixed",
        "multipart/related",
        "multipart/alternative",
        "text/plain",
        "text/html",
    ] {
        assert!(!parts(m, kind).is_empty(), "no {kind} part: {m}");
    }
    let email_html = m["html"].as_str().unwrap();
    let images = parts(m, "image/png");
    assert_eq!(images.len(), 2, "revenue trend and channel charts: {m}");
    for image in &images {
        assert_eq!(image["disposition"], "inline");
        assert!(
            image["head"]
                .as_str()
                .unwrap()
                .starts_with("89504e470d0a1a0a"),
            "a PNG"
        );
        assert!(
            image["size"].as_u64().unwrap() > 5_000,
            "a real chart: {image}"
        );
        let cid = image["content_id"]
            .as_str()
            .unwrap()
            .trim_matches(['<', '>']);
        assert!(
            email_html.contains(&format!("cid:{cid}")),
            "{cid} is not referenced"
        );
    }
    assert!(
        !email_html.contains("data:image"),
        "email HTML references parts, not data URIs"
    );
    let csvs: Vec<&str> = parts(m, "text/csv")
        .iter()
        .map(|p| p["filename"].as_str().unwrap())
        .collect();
    assert_eq!(
        csvs,
        [
            "financial_summary_2026-07-01_revenue_by_channel.csv",
            "financial_summary_2026-07-01_profit_by_category.csv",
            "financial_summary_2026-07-01_top_partners.csv"
        ]
    );
    assert!(
        parts(m, "text/csv")
            .iter()
            .all(|p| p["disposition"] == "attachment")
    );

    // The figures are the store's: June 2026 revenue, and the forecast drew its band.
    let june: f64 = value(
        &client,
        "SELECT CAST(sum(revenue) AS DOUBLE) FROM metrics.revenue_daily \
         WHERE day >= DATE '2026-06-01' AND day < DATE '2026-07-01'",
    )
    .await
    .unwrap()
    .parse()
    .unwrap();
    let text = m["text"].as_str().unwrap();
    assert!(text.contains(&format!("Revenue: {}", eur(june))), "{text}");
    assert!(email_html.contains(&eur(june)), "the headline tile");
    assert!(
        !email_html.contains("Predictions unavailable"),
        "forecast_revenue answered"
    );
    for channel in ["B2C", "B2B", "B2B2C"] {
        assert!(text.contains(channel), "{channel} in the text part");
    }

    let run = client
        .query_one(
            "SELECT status, attempts, bytes, destination, error FROM spirit.report_runs \
             WHERE report_type = 'financial_summary' AND destination LIKE 'email:%'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(run.get::<_, String>(0), "delivered");
    assert_eq!(run.get::<_, i32>(1), 1);
    // The receiver counts the CRLF that ends the DATA section too.
    let sent = run.get::<_, i64>(2);
    let received = m["size"].as_i64().unwrap();
    assert!(
        (received - sent).abs() <= 2,
        "bytes are the message as sent: {sent} vs {received}"
    );
    assert_eq!(
        run.get::<_, String>(3),
        "email:cfo@example.com cc:ceo@example.com"
    );
    assert_eq!(run.get::<_, Option<String>>(4), None);
}

/// A CA and a certificate for `localhost` it signed, made with openssl.
fn certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let (ca_key, ca, key, csr, cert, ext) = (
        dir.join("ca.key"),
        dir.join("ca.pem"),
        dir.join("server.key"),
        dir.join("server.csr"),
        dir.join("server.pem"),
        dir.join("ext.cnf"),
    );
    std::fs::write(
        &ext,
        "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    let openssl = |args: &[&str]| {
        let status = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .stderr(Stdio::null())
            .status()
            .expect("run openssl");
        assert!(status.success(), "openssl {args:?}");
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=Spirit Test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    ]);
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
        "-out",
        "server.pem",
    ]);
    let _ = (ca_key, csr);
    (ca, cert, key)
}

#[tokio::test]
async fn starttls_and_auth_from_smtp_environment_variables() {
    let certs = tempfile::tempdir().unwrap();
    let (ca, cert, key) = certificates(certs.path());
    let smtp = Receiver::smtp(&[
        "--tls",
        cert.to_str().unwrap(),
        key.to_str().unwrap(),
        "--auth",
        "reports:s3cret pw",
    ]);
    let dir = data_dir();
    // The SMTP_* variables the platform already uses; STARTTLS is the default.
    let server = server(
        dir.path(),
        vec![
            ("SMTP_HOST".into(), "localhost".into()),
            ("SMTP_PORT".into(), smtp.port.to_string()),
            ("SMTP_USERNAME".into(), "reports".into()),
            ("SMTP_PASSWORD".into(), "s3cret pw".into()),
            ("SPIRIT_SMTP_CA_FILE".into(), ca.display().to_string()),
            ("SPIRIT_REPORT_MAX_ATTEMPTS".into(), "2".into()),
            ("SPIRIT_REPORT_RETRY_SECONDS".into(), "0.1".into()),
        ],
    );
    let client = server.connect().await;
    value(
        &client,
        r#"SELECT generate_report('ai_performance', '{"to": "ops@example.com"}')"#,
    )
    .await
    .unwrap();
    let m = &smtp.wait_for(1, 10)[0];
    assert_eq!(m["tls"], true, "STARTTLS: {m}");
    assert_eq!(m["authenticated"], true);
    assert_eq!(m["login"], "reports");
    assert_eq!(m["subject"], "AI Agent Performance – 01 Jul 2026");
    assert_eq!(
        parts(m, "image/png").len(),
        2,
        "agents against the target, daily rate: {m}"
    );
    assert!(
        m["text"].as_str().unwrap().contains("Success rate"),
        "{}",
        m["text"]
    );
}

#[tokio::test]
async fn slack_webhook_and_file_deliveries() {
    let http = Receiver::http(&["--status", "/down=503", "--status", "/gone=404"]);
    let base = format!("http://127.0.0.1:{}", http.port);
    let dir = data_dir();
    let out = tempfile::tempdir().unwrap();
    let mut env = smtp_env(closed_port());
    env.push((
        "SPIRIT_REPORT_WEBHOOK_SECRET".into(),
        "configured secret".into(),
    ));
    let server = server(dir.path(), env);
    let client = server.connect().await;

    let options = serde_json::json!({
        "slack": format!("{base}/slack"),
        "webhook": format!("{base}/hook"),
        "webhook_secret": "per-call secret",
        "dir": out.path(),
        "link": "https://reports.example.com/customer_analytics",
    });
    value(
        &client,
        &format!("SELECT generate_report('customer_analytics', '{options}')"),
    )
    .await
    .unwrap();
    let requests = http.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");

    let slack = &requests[0];
    assert_eq!(slack["path"], "/slack");
    assert_eq!(slack["headers"]["content-type"], "application/json");
    let body: Value = serde_json::from_str(slack["body"].as_str().unwrap()).unwrap();
    let blocks = body["blocks"].as_array().unwrap();
    assert_eq!(blocks[0]["type"], "header");
    assert_eq!(blocks[0]["text"]["text"], "Customer Analytics");
    let fields = blocks[2]["fields"].as_array().unwrap();
    assert!(
        fields
            .iter()
            .any(|f| f["text"].as_str().unwrap().starts_with("*Retention rate*")),
        "{fields:?}"
    );
    assert!(
        body["text"].as_str().unwrap().contains("Customers:"),
        "{body}"
    );
    assert!(
        blocks.iter().any(|b| b["text"]["text"]
            .as_str()
            .is_some_and(|t| t.contains("https://reports.example.com/customer_analytics"))),
        "the link: {blocks:?}"
    );

    let hook = &requests[1];
    assert_eq!(hook["path"], "/hook");
    let raw = hook["body"].as_str().unwrap();
    assert_eq!(
        hook["headers"]["x-spirit-signature-256"],
        signature(b"per-call secret", raw)
    );
    assert_eq!(hook["headers"]["x-spirit-report"], "customer_analytics");
    let payload: Value = serde_json::from_str(raw).unwrap();
    assert_eq!(payload["report_type"], "customer_analytics");
    assert_eq!(payload["period_end"], "2026-07-01T00:00:00Z");
    let segments = &payload["tables"]["churn_by_segment"];
    assert_eq!(segments["columns"][0], "segment");
    assert_eq!(segments["rows"].as_array().unwrap().len(), 4, "{segments}");
    assert!(
        payload["html"]
            .as_str()
            .unwrap()
            .contains("Customer Analytics")
    );

    let mut files: Vec<String> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    assert!(
        files.contains(&"customer_analytics_2026-07-01.html".to_string()),
        "{files:?}"
    );
    assert!(
        files.contains(&"customer_analytics_2026-07-01.txt".to_string()),
        "{files:?}"
    );
    assert!(
        files.contains(&"customer_analytics_2026-07-01_churn_by_segment.csv".to_string()),
        "{files:?}"
    );
    assert!(!files.iter().any(|f| f.ends_with(".partial")), "{files:?}");
    let csv = std::fs::read_to_string(
        out.path()
            .join("customer_analytics_2026-07-01_churn_by_segment.csv"),
    )
    .unwrap();
    assert!(
        csv.starts_with("segment,customers,retained,churned,churn_rate,avg_nps\n"),
        "{csv}"
    );

    // The configured secret signs when the call names none; a 503 is retried, a 404 is not.
    value(
        &client,
        &format!(
            r#"SELECT generate_report('operational_health', '{{"webhook": "{base}/hook2"}}')"#
        ),
    )
    .await
    .unwrap();
    let hook2 = http
        .requests()
        .into_iter()
        .find(|r| r["path"] == "/hook2")
        .unwrap();
    assert_eq!(
        hook2["headers"]["x-spirit-signature-256"],
        signature(b"configured secret", hook2["body"].as_str().unwrap())
    );

    let (code, message) = failure(
        &client,
        &format!(r#"SELECT generate_report('sales_pipeline', '{{"webhook": "{base}/down"}}')"#),
    )
    .await;
    assert_eq!(code, "58000", "{message}");
    assert!(
        message.contains("failed after 3 attempts") && message.contains("HTTP 503"),
        "{message}"
    );
    let (code, message) = failure(
        &client,
        &format!(r#"SELECT generate_report('sales_pipeline', '{{"slack": "{base}/gone"}}')"#),
    )
    .await;
    assert_eq!(code, "58000", "{message}");
    assert!(
        message.contains("failed after 1 attempt ") && message.contains("HTTP 404"),
        "{message}"
    );
    assert_eq!(
        http.requests()
            .iter()
            .filter(|r| r["path"] == "/down")
            .count(),
        3
    );
    assert_eq!(
        http.requests()
            .iter()
            .filter(|r| r["path"] == "/gone")
            .count(),
        1
    );
    let failed = client
        .query(
            "SELECT destination, attempts, error FROM spirit.report_runs WHERE status = 'failed' ORDER BY id",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(failed.len(), 2);
    assert_eq!(failed[0].get::<_, i32>(1), 3);
    assert!(failed[0].get::<_, String>(2).contains("HTTP 503"));
    assert_eq!(
        failed[1].get::<_, String>(0),
        format!("slack:http://127.0.0.1:{}/…", http.port)
    );
}

#[tokio::test]
async fn smtp_down_or_rejecting_is_retried_then_recorded_as_failed() {
    let rejecting = Receiver::smtp(&["--reject"]);
    let dir = data_dir();
    let down = closed_port();
    let server = server(dir.path(), smtp_env(down));
    let client = server.connect().await;

    let (code, message) = failure(
        &client,
        r#"SELECT generate_report('revenue_breakdown', '{"to": "cfo@example.com"}')"#,
    )
    .await;
    assert_eq!(code, "58000", "{message}");
    assert!(message.contains("failed after 3 attempts"), "{message}");
    assert!(message.contains(&format!("127.0.0.1:{down}")), "{message}");
    let row = client
        .query_one(
            "SELECT status, attempts, error, finished_at IS NOT NULL FROM spirit.report_runs WHERE report_type = 'revenue_breakdown'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "failed");
    assert_eq!(row.get::<_, i32>(1), 3);
    assert!(
        row.get::<_, String>(2)
            .to_lowercase()
            .contains("connection refused"),
        "{}",
        row.get::<_, String>(2)
    );
    assert!(row.get::<_, bool>(3));
    assert_eq!(
        value(&client, "SELECT 1").await.as_deref(),
        Some("1"),
        "the session stays usable"
    );
    drop(client);
    drop(server);

    let server = self::server(dir.path(), smtp_env(rejecting.port));
    let client = server.connect().await;
    let (code, message) = failure(
        &client,
        r#"SELECT generate_report('revenue_breakdown', '{"to": "cfo@example.com"}')"#,
    )
    .await;
    assert_eq!(code, "58000", "{message}");
    assert!(
        message.contains("550") && message.contains("rejected by the test server"),
        "{message}"
    );
    let errors = client
        .query(
            "SELECT attempts, error FROM spirit.report_runs WHERE status = 'failed' ORDER BY id",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(errors.len(), 2, "the first server's run is still recorded");
    assert!(errors[1].get::<_, String>(1).contains("550"));
    assert!(rejecting.messages().is_empty());
}

#[tokio::test]
async fn daily_schedule_survives_a_restart_and_a_missed_run_runs_once() {
    let smtp = Receiver::smtp(&[]);
    let dir = data_dir();
    let mut server = server(dir.path(), smtp_env(smtp.port));
    let client = server.connect().await;

    let id: i64 = value(
        &client,
        r#"SELECT schedule_report('financial_summary', 'daily', 'cfo@example.com', '{"at": "07:00", "timezone": "Europe/Berlin", "webhook_secret": "hidden"}')"#,
    )
    .await
    .unwrap()
    .parse()
    .unwrap();
    let row = client
        .query_one(
            "SELECT report_type, frequency, cron, timezone, destination, options, \
             next_run_at > now(), last_run_at IS NULL FROM spirit.report_schedules WHERE id = $1",
            &[&id],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "financial_summary");
    assert_eq!(row.get::<_, String>(1), "daily");
    assert_eq!(row.get::<_, String>(2), "0 7 * * *");
    assert_eq!(row.get::<_, String>(3), "Europe/Berlin");
    assert_eq!(row.get::<_, String>(4), "email:cfo@example.com");
    assert!(
        row.get::<_, String>(5)
            .contains(r#""webhook_secret":"***""#),
        "{}",
        row.get::<_, String>(5)
    );
    assert!(row.get::<_, bool>(6) && row.get::<_, bool>(7));

    // Bad input: each names what to change, and the session stays usable.
    for (sql, code, needle) in [
        (
            "SELECT schedule_report('weekly_magic', 'daily', 'a@example.com')",
            "22023",
            "financial_summary",
        ),
        (
            "SELECT schedule_report('financial_summary', 'hourly', 'a@example.com')",
            "22023",
            "cron expression of five fields",
        ),
        (
            "SELECT schedule_report('financial_summary', '0 25 * * *', 'a@example.com')",
            "22023",
            "cron expression",
        ),
        (
            "SELECT schedule_report('financial_summary', 'daily', 'ftp://x')",
            "22023",
            "slack:<incoming webhook URL>",
        ),
        (
            "SELECT schedule_report('financial_summary', 'daily', 'a@example.com', '{\"timezone\": \"Moon/Base\"}')",
            "22023",
            "IANA",
        ),
        (
            "SELECT schedule_report('financial_summary', 'daily', 'a@example.com', '{\"recipients\": []}')",
            "22023",
            "unknown field `recipients`",
        ),
        (
            "SELECT schedule_report('custom', 'daily', 'a@example.com')",
            "22023",
            "needs its query",
        ),
        (
            "SELECT schedule_report('financial_summary', 'daily')",
            "22023",
            "takes 3 or 4 arguments",
        ),
        (
            "SELECT unschedule_report(424242)",
            "42704",
            "no report schedule 424242",
        ),
        ("SELECT run_report_now('x')", "22023", "not a schedule id"),
        (
            "SELECT generate_report('financial_summary', '{\"days\": 0}')",
            "22023",
            "days must be between 1 and 3660",
        ),
        (
            "SELECT generate_report('financial_summary', '{\"sql\": \"SELECT 1\"}')",
            "22023",
            "options of the custom report",
        ),
        (
            "SELECT generate_report('financial_summary', '{\"to\": \"not an address\"}')",
            "22023",
            "not an email address",
        ),
        (
            "SELECT generate_report('custom', '{\"sql\": \"DROP TABLE tours\"}')",
            "",
            "DDL",
        ),
    ] {
        let (got, message) = failure(&client, sql).await;
        if !code.is_empty() {
            assert_eq!(got, code, "{sql}: {message}");
        }
        assert!(message.contains(needle), "{sql}: {message}");
        assert_eq!(value(&client, "SELECT 1").await.as_deref(), Some("1"));
    }
    assert_eq!(
        value(&client, "SELECT count(*) FROM tours")
            .await
            .as_deref(),
        Some("60")
    );
    assert_eq!(
        value(&client, "SELECT count(*) FROM spirit.report_schedules")
            .await
            .as_deref(),
        Some("1"),
        "refused schedules are not saved"
    );
    assert!(smtp.messages().is_empty(), "nothing is due yet");
    drop(client);
    assert!(server.stop().success());

    // The engine was down through three 07:00 runs: it runs the schedule once on start-up.
    {
        let conn = duckdb::Connection::open(dir.path().join("store.duckdb")).unwrap();
        conn.execute(
            "UPDATE spirit_internal.report_schedules SET next_run_at = next_run_at - INTERVAL 3 DAY",
            [],
        )
        .unwrap();
    }
    let server = self::server(dir.path(), smtp_env(smtp.port));
    let messages = smtp.wait_for(1, 60);
    assert_eq!(messages.len(), 1, "the missed run ran at start-up");
    assert_eq!(messages[0]["subject"], "Financial Summary – 01 Jul 2026");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(smtp.messages().len(), 1, "once, not once per missed day");
    let client = server.connect().await;
    let row = client
        .query_one(
            "SELECT last_status, next_run_at > now(), next_run_at - last_run_at < INTERVAL '25 hours' \
             FROM spirit.report_schedules WHERE id = $1",
            &[&id],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "delivered");
    assert!(row.get::<_, bool>(1), "the next run is in the future");
    assert!(row.get::<_, bool>(2), "and within a day");
    let runs = value(
        &client,
        &format!("SELECT count(*) FROM spirit.report_runs WHERE schedule_id = {id} AND status = 'delivered'"),
    )
    .await;
    assert_eq!(runs.as_deref(), Some("1"));

    let answer = value(&client, &format!("SELECT run_report_now({id})"))
        .await
        .unwrap();
    assert!(
        answer.starts_with("delivered to email:cfo@example.com ("),
        "{answer}"
    );
    assert_eq!(smtp.wait_for(2, 10).len(), 2);
    assert_eq!(
        value(&client, &format!("SELECT unschedule_report({id})"))
            .await
            .as_deref(),
        Some("t")
    );
    assert_eq!(
        value(&client, "SELECT count(*) FROM spirit.report_schedules")
            .await
            .as_deref(),
        Some("0")
    );
}

#[tokio::test]
async fn every_report_type_renders_and_custom_takes_sql_a_chart_and_a_template() {
    let dir = data_dir();
    let server = server(dir.path(), smtp_env(closed_port()));
    let client = server.connect().await;
    let types = client
        .query(
            "SELECT name, title, sections FROM spirit.report_types ORDER BY name",
            &[],
        )
        .await
        .unwrap();
    let names: Vec<String> = types.iter().map(|r| r.get(0)).collect();
    assert_eq!(
        names,
        [
            "ai_performance",
            "custom",
            "customer_analytics",
            "financial_summary",
            "operational_health",
            "revenue_breakdown",
            "sales_pipeline"
        ]
    );
    for row in &types {
        let name: String = row.get(0);
        let title: String = row.get(1);
        if name == "custom" {
            continue;
        }
        let html = value(&client, &format!("SELECT generate_report('{name}')"))
            .await
            .unwrap();
        assert!(html.contains(&format!("{title}</title>")), "{name}");
        assert!(
            !html.contains("Predictions unavailable"),
            "{name}: every prediction answered"
        );
        assert!(
            !html.contains("No rows in this period"),
            "{name}: every section has rows"
        );
    }
    let custom = value(
        &client,
        r#"SELECT generate_report('custom', '{"title": "Bookings by status", "sql": "SELECT status, count(*) AS bookings FROM bookings GROUP BY status ORDER BY bookings DESC", "chart": {"kind": "bar", "x": "status", "y": ["bookings"]}}')"#,
    )
    .await
    .unwrap();
    assert!(
        custom.contains("Bookings by status") && custom.contains("completed"),
        "{custom}"
    );
    assert!(custom.contains("data:image/svg+xml"), "the chart");
    let templated = value(
        &client,
        r#"SELECT generate_report('custom', '{"sql": "SELECT count(*) AS n FROM tours", "template": "<p>{{ sections.result.records[0].n }} tours</p>"}')"#,
    )
    .await
    .unwrap();
    assert_eq!(templated, "<p>60 tours</p>");
    let runs = value(
        &client,
        "SELECT count(*) FROM spirit.report_runs WHERE status = 'generated'",
    )
    .await;
    assert_eq!(runs.as_deref(), Some("8"), "each generation is recorded");
}

/// Counts pixels that are not near-white and distinct colours in an RGB(A) PNG.
fn ink(png_bytes: &[u8]) -> (u32, u32, usize, usize) {
    let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    let mut colours = std::collections::HashSet::new();
    let mut inked = 0;
    for px in buf[..info.buffer_size()].chunks(channels) {
        colours.insert((px[0] >> 3, px[1] >> 3, px[2] >> 3));
        if px[..3].iter().any(|&c| c < 200) {
            inked += 1;
        }
    }
    (info.width, info.height, inked, colours.len())
}

#[test]
fn report_run_cli_renders_html_chromium_screenshots_it_and_prints_a_pdf() {
    let dir = data_dir();
    let out = tempfile::tempdir().unwrap();
    let html = out.path().join("financial_summary.html");
    let run = |target: &Path| {
        let output = Command::new(spirit_bin())
            .args(["report", "run", "financial_summary", "--data-dir"])
            .arg(dir.path())
            .arg("--out")
            .arg(target)
            .env("SPIRIT_METRICS_AS_OF", METRICS_AS_OF)
            .env("SPIRIT_METRICS_DIR", spirit_tests::metrics_dir())
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    run(&html);
    let text = std::fs::read_to_string(&html).unwrap();
    assert!(text.contains("Financial Summary") && text.contains("Top partners by commission"));

    // Chromium draws the page as a browser (and a mail client's HTML view) would.
    let shot = spirit_tests::plugins::cache_dir().join("report-screenshots");
    std::fs::create_dir_all(&shot).unwrap();
    let screenshot = shot.join("financial_summary.png");
    let _ = std::fs::remove_file(&screenshot);
    let chromium = spirit_reports_chromium();
    let status = Command::new(&chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--window-size=820,2600",
        ])
        .arg(format!(
            "--user-data-dir={}",
            out.path().join("profile").display()
        ))
        .arg(format!("--screenshot={}", screenshot.display()))
        .arg(format!("file://{}", html.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run chromium (scripts/setup.sh --test installs it)");
    assert!(status.success());
    let (width, height, inked, colours) = ink(&std::fs::read(&screenshot).unwrap());
    assert_eq!((width, height), (820, 2600));
    assert!(inked > 150_000, "the page has content: {inked} dark pixels");
    assert!(
        colours > 200,
        "charts, tiles and tables in colour: {colours}"
    );
    eprintln!("screenshot: {}", screenshot.display());

    let pdf = out.path().join("financial_summary.pdf");
    run(&pdf);
    let bytes = std::fs::read(&pdf).unwrap();
    assert!(bytes.starts_with(b"%PDF-"), "a PDF");
    assert!(
        bytes.len() > 20_000,
        "with the charts: {} bytes",
        bytes.len()
    );

    let output = Command::new(spirit_bin())
        .args(["report", "run", "financial_summary", "--data-dir"])
        .arg(dir.path())
        .args(["--out", "x.docx"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains(".html, .txt or .pdf"));
}

/// Chromium as the engine finds it.
fn spirit_reports_chromium() -> PathBuf {
    std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("chromium"))
}
