//! Password authentication (SCRAM-SHA-256), roles and TLS against a real `spirit serve`, with
//! tokio-postgres, psql (libpq), psycopg 3 and pgjdbc.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use spirit_tests::{ServerOptions, SpiritServer, spirit_bin, sqlstate, tests_dir};

async fn connect_as(
    server: &SpiritServer,
    user: &str,
    password: &str,
) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let conninfo = format!(
        "host=127.0.0.1 port={} user='{user}' password='{password}' dbname=spirit",
        server.port
    );
    let (client, connection) = tokio_postgres::connect(&conninfo, tokio_postgres::NoTls).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// Runs `spirit user add` with the password on standard input.
fn add_user(config: &Path, name: &str, role: &str, password: &str) -> Output {
    let mut child = Command::new(spirit_bin())
        .args([
            "user",
            "add",
            name,
            "--role",
            role,
            "--password-stdin",
            "--config",
        ])
        .arg(config)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run spirit user add");
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    child.wait_with_output().unwrap()
}

/// A config file with analyst `ann` (password `ann pw`) and admin `ada` (`ada pw`).
fn config_with_users(dir: &Path) -> std::path::PathBuf {
    let config = dir.join("spirit.toml");
    std::fs::write(
        &config,
        "# written by the auth tests\nmax_connections = 20\n",
    )
    .unwrap();
    for (name, role, password) in [("ann", "analyst", "ann pw"), ("ada", "admin", "ada pw")] {
        let out = add_user(&config, name, role, password);
        assert!(
            out.status.success(),
            "user add failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains(&format!("added user {name} ({role})")),
            "{stdout}"
        );
    }
    config
}

#[tokio::test]
async fn demo_user_logs_in_with_scram_and_a_wrong_password_gets_28p01() {
    let server = SpiritServer::start();
    let client = connect_as(&server, "spirit", "spirit").await.unwrap();
    let row = client
        .query_one("SELECT count(*) FROM tours", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 60);

    for (user, password) in [("spirit", "wrong"), ("spirit", ""), ("nobody", "spirit")] {
        let err = connect_as(&server, user, password)
            .await
            .err()
            .unwrap_or_else(|| panic!("{user}/{password:?} must be refused"));
        assert_eq!(sqlstate(&err), "28P01", "{user}: {err}");
        let db = err.as_db_error().expect("a server error");
        assert_eq!(
            db.message(),
            format!("Password authentication failed for user \"{user}\""),
            "the same answer for unknown users and wrong passwords"
        );
    }
    // The server is unharmed.
    let row = client.query_one("SELECT 1::INT", &[]).await.unwrap();
    assert_eq!(row.get::<_, i32>(0), 1);
}

#[tokio::test]
async fn analysts_read_and_admins_write() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_with_users(dir.path());
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.starts_with("# written by the auth tests\n"), "{text}");
    assert!(
        !text.contains("ann pw") && !text.contains("ada pw"),
        "{text}"
    );
    assert_eq!(text.matches("SCRAM-SHA-256$4096:").count(), 2, "{text}");

    let server = SpiritServer::start_with(ServerOptions {
        args: vec!["--config".into(), config.display().to_string()],
        ..Default::default()
    });
    let err = connect_as(&server, "spirit", "spirit")
        .await
        .expect_err("with users configured the demo user no longer exists");
    assert_eq!(sqlstate(&err), "28P01", "{err}");

    let ann = connect_as(&server, "ann", "ann pw").await.unwrap();
    let row = ann
        .query_one("SELECT count(*) FROM metrics.kpi_overview", &[])
        .await
        .unwrap();
    assert!(row.get::<_, i64>(0) > 0);
    let row = ann
        .query_one("SELECT current_user, session_user", &[])
        .await
        .unwrap();
    assert_eq!(
        (row.get::<_, String>(0), row.get::<_, String>(1)),
        ("ann".to_string(), "ann".to_string())
    );
    ann.batch_execute("SET search_path = metrics, public")
        .await
        .unwrap();
    for sql in [
        "CREATE TABLE notes (id INT)",
        "CREATE TABLE tours2 AS SELECT * FROM tours",
        "INSERT INTO tours (tour_id) VALUES (999)",
        "DELETE FROM tours",
        "DROP TABLE tours",
        "CREATE VIEW v AS SELECT 1",
        "CREATE EXTERNAL TABLE ext STORED AS CSV LOCATION '/tmp/none.csv'",
        // The engine's own configuration is shared by every session.
        "SET datafusion.execution.batch_size = 1",
        // Training changes the model registry, though it is called in a SELECT.
        "SELECT * FROM train_model('m', 'regression', 'SELECT 1 AS a, 2 AS b', 'a')",
        // Report schedules deliver to the outside, on the engine's behalf.
        "SELECT schedule_report('financial_summary', 'daily', 'cfo@example.com')",
        "SELECT unschedule_report(1)",
        "SELECT run_report_now(1)",
    ] {
        let err = ann.batch_execute(sql).await.expect_err(sql);
        assert_eq!(sqlstate(&err), "42501", "{sql}: {err}");
        let message = err.as_db_error().map(|e| e.message().to_string());
        assert!(
            message
                .as_deref()
                .is_some_and(|m| m.contains("needs the admin role")),
            "{sql}: {message:?}"
        );
    }
    // Through the extended protocol too, and the session stays usable.
    let err = ann
        .execute("INSERT INTO tours (tour_id) VALUES ($1)", &[&999_i32])
        .await
        .expect_err("insert with a parameter");
    assert_eq!(sqlstate(&err), "42501", "{err}");
    let row = ann
        .query_one("SELECT count(*) FROM tours", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 60, "nothing was changed");

    let ada = connect_as(&server, "ada", "ada pw").await.unwrap();
    ada.batch_execute("CREATE TABLE notes (id INT); INSERT INTO notes VALUES (1), (2)")
        .await
        .unwrap();
    let row = ann
        .query_one("SELECT count(*) FROM notes", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 2, "analysts read what admins write");
}

/// Runs `spirit serve` with `args`, which must fail, and returns what it printed on stderr.
fn serve_refused(args: &[&str]) -> String {
    let output = Command::new(spirit_bin())
        .arg("serve")
        .args(args)
        .output()
        .unwrap();
    assert!(!output.status.success(), "spirit serve {args:?} started");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn serving_beyond_loopback_needs_users_and_bad_verifiers_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_str().unwrap();
    let stderr = serve_refused(&["--listen", "0.0.0.0:0", "--data-dir", data_dir]);
    assert!(
        stderr.contains("refusing to listen on 0.0.0.0:0"),
        "{stderr}"
    );
    assert!(stderr.contains("spirit user add"), "{stderr}");

    let config = dir.path().join("spirit.toml");
    std::fs::write(
        &config,
        "[users.eve]\nrole = \"admin\"\npassword = \"plain text\"\n",
    )
    .unwrap();
    let stderr = serve_refused(&[
        "--listen",
        "127.0.0.1:0",
        "--config",
        config.to_str().unwrap(),
        "--data-dir",
        data_dir,
    ]);
    assert!(
        stderr.contains("[users.eve] password is not a SCRAM-SHA-256 verifier"),
        "{stderr}"
    );
}

/// A self-signed certificate and key for `localhost` made with openssl.
fn self_signed(dir: &Path) -> (String, String) {
    let cert = dir.join("server.crt");
    let key = dir.join("server.key");
    let status = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args(["-subj", "/CN=localhost", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .expect("run openssl");
    assert!(status.success());
    (cert.display().to_string(), key.display().to_string())
}

fn psql_ssl(port: u16, sslmode: &str) -> Output {
    Command::new("psql")
        .arg(format!(
            "host=127.0.0.1 port={port} user=spirit dbname=spirit sslmode={sslmode}"
        ))
        .args(["-X", "-A", "-t", "-c", "SELECT count(*) FROM tours"])
        .env("PGPASSWORD", "spirit")
        .output()
        .expect("run psql")
}

#[test]
fn tls_with_psql_psycopg_and_pgjdbc() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed(dir.path());
    let server = SpiritServer::start_with(ServerOptions {
        env: vec![
            ("SPIRIT_TLS_CERT".into(), cert),
            ("SPIRIT_TLS_KEY".into(), key),
        ],
        ..Default::default()
    });

    let out = psql_ssl(server.port, "require");
    assert!(
        out.status.success(),
        "psql sslmode=require: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "60");

    let script = tests_dir().join("clients/tls_check.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(server.port.to_string())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "psycopg over TLS: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    let out = Command::new("java")
        .args(["-cp", "/usr/share/java/postgresql.jar"])
        .arg(tests_dir().join("clients/JdbcTls.java"))
        .arg(server.port.to_string())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pgjdbc over TLS: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // Without a certificate the server says no to TLS, and libpq's `require` gives up.
    let plain = SpiritServer::start();
    let out = psql_ssl(plain.port, "require");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("server does not support SSL"), "{stderr}");
}
