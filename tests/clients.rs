//! Real clients against a real server: psql, psycopg 3 (Python) and pgjdbc (Java).

use std::process::Command;

use spirit_tests::{SpiritServer, psql, tests_dir};

#[test]
fn psql_queries_and_meta_commands() {
    let server = SpiritServer::start();
    let out = psql(
        &server,
        "SELECT channel, count(*), sum(price_paid) FROM bookings GROUP BY 1 ORDER BY 1",
    );
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("channel|"), "{out}");
    assert!(
        lines[1].starts_with("B2B|")
            && lines[2].starts_with("B2B2C|")
            && lines[3].starts_with("B2C|"),
        "{out}"
    );
    assert_eq!(lines[4], "(3 rows)", "{out}");

    let tables = psql(&server, "\\dt");
    for table in [
        "bookings",
        "customers",
        "tours",
        "ai_agents",
        "external_factors",
    ] {
        assert!(
            tables.contains(&format!("|{table}|")),
            "\\dt lacks {table}:\n{tables}"
        );
    }
    let bookings = psql(&server, "\\d bookings");
    for column in [
        "booking_id|bigint",
        "price_paid|numeric",
        "created_at|timestamp",
    ] {
        assert!(
            bookings.contains(column),
            "\\d bookings lacks {column}:\n{bookings}"
        );
    }
    let databases = psql(&server, "\\l");
    assert!(databases.contains("spirit|"), "\\l:\n{databases}");
    let schemas = psql(&server, "\\dn");
    assert!(schemas.contains("public|"), "\\dn:\n{schemas}");
}

#[test]
fn psycopg3() {
    let server = SpiritServer::start();
    let script = tests_dir().join("clients/psycopg_check.py");
    let output = Command::new("python3")
        .arg(script)
        .arg(server.port.to_string())
        .output()
        .expect("run python3");
    assert!(
        output.status.success(),
        "psycopg check failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn pgjdbc() {
    let server = SpiritServer::start();
    let source = tests_dir().join("clients/JdbcCheck.java");
    let output = Command::new("java")
        .args(["-cp", "/usr/share/java/postgresql.jar"])
        .arg(source)
        .arg(server.port.to_string())
        .output()
        .expect("run java");
    assert!(
        output.status.success(),
        "pgjdbc check failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Runs `program args… PORT` against a fresh server and fails with its output if it fails.
fn run_client(program: &str, args: &[&str]) {
    let server = SpiritServer::start();
    let output = Command::new(program)
        .args(args)
        .arg(server.port.to_string())
        .current_dir(tests_dir().join("clients"))
        .output()
        .unwrap_or_else(|e| panic!("run {program}: {e}"));
    assert!(
        output.status.success(),
        "{program} {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn sqlalchemy_inspector() {
    run_client("python3", &["sqlalchemy_check.py"]);
}

#[test]
fn node_postgres() {
    run_client("node", &["node/node_check.js"]);
}
