//! Real clients against a real server: psql, psycopg 3, SQLAlchemy, node-postgres and pgjdbc,
//! and the captured queries of BI tools (queries/tests/tools) replayed through them.

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
    run_client("python3", &["psycopg_check.py"]);
}

#[test]
fn pgjdbc() {
    run_client(
        "java",
        &["-cp", "/usr/share/java/postgresql.jar", "JdbcCheck.java"],
    );
}

/// Runs `program args…` against a fresh server, with `PORT` in `args` replaced by its port
/// (or appended when absent), and fails with its output if it fails.
fn run_client(program: &str, args: &[&str]) {
    let server = SpiritServer::start();
    let port = server.port.to_string();
    let mut args: Vec<&str> = args.to_vec();
    match args.iter().position(|a| *a == "PORT") {
        Some(i) => args[i] = &port,
        None => args.push(&port),
    }
    let output = Command::new(program)
        .args(&args)
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

/// The captured BI-tool queries in queries/tests/tools.
fn tool_fixtures() -> Vec<String> {
    let dir = tests_dir().join("../queries/tests/tools");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "sql"))
        .map(|path| path.display().to_string())
        .collect();
    files.sort();
    assert!(files.len() >= 2, "tool fixtures: {files:?}");
    files
}

#[test]
fn tool_queries_through_psycopg() {
    let files = tool_fixtures();
    let mut args = vec!["tool_queries.py", "PORT"];
    args.extend(files.iter().map(String::as_str));
    run_client("python3", &args);
}

#[test]
fn tool_queries_through_pgjdbc() {
    let files = tool_fixtures();
    let mut args = vec![
        "-cp",
        "/usr/share/java/postgresql.jar",
        "ToolQueries.java",
        "PORT",
    ];
    args.extend(files.iter().map(String::as_str));
    run_client("java", &args);
}
