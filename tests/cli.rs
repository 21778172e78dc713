//! The `spirit` command line: `sql` output formats and `demo` determinism.

use std::process::Command;

use spirit_tests::{demo_template, spirit, spirit_bin};

fn data_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        demo_template().join("store.duckdb"),
        dir.path().join("store.duckdb"),
    )
    .unwrap();
    dir
}

fn sql(dir: &std::path::Path, query: &str, format: &str) -> String {
    let out = spirit(&[
        "sql",
        "--data-dir",
        dir.to_str().unwrap(),
        "--format",
        format,
        query,
    ]);
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn sql_prints_table_csv_and_json() {
    let dir = data_copy();
    let query = "SELECT track, count(*) AS agents FROM ai_agents GROUP BY track ORDER BY track";
    let table = sql(dir.path(), query, "table");
    assert!(table.contains("| track | agents |"), "{table}");
    assert!(table.contains("| 1     | 10     |"), "{table}");
    assert!(table.trim_end().ends_with("(3 rows)"), "{table}");
    let csv = sql(dir.path(), query, "csv");
    assert_eq!(csv, "track,agents\n1,10\n2,8\n3,7\n");
    let json = sql(dir.path(), query, "json");
    assert_eq!(
        json.trim(),
        r#"[{"track":1,"agents":10},{"track":2,"agents":8},{"track":3,"agents":7}]"#
    );
}

#[test]
fn sql_reports_errors_with_a_nonzero_exit() {
    let dir = data_copy();
    let output = Command::new(spirit_bin())
        .args([
            "sql",
            "--data-dir",
            dir.path().to_str().unwrap(),
            "SELECT * FROM nope",
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("nope") && stderr.contains("not found"),
        "{stderr}"
    );
}

#[test]
fn demo_is_deterministic_for_a_seed_and_end_date() {
    let fingerprint = "SELECT (SELECT count(*) FROM bookings) AS bookings, \
        (SELECT sum(price_paid) FROM bookings) AS revenue, \
        (SELECT count(*) FROM customers) AS customers, \
        (SELECT sum(response_ms) FROM ai_interactions) AS response_ms, \
        (SELECT count(*) FROM leads WHERE stage = 'won') AS won, \
        (SELECT max(created_at) FROM bookings) AS last_booking";
    let mut results = Vec::new();
    for seed in ["7", "7", "8"] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_str().unwrap();
        spirit(&[
            "demo",
            "--data-dir",
            path,
            "--seed",
            seed,
            "--end-date",
            "2025-12-31",
        ]);
        results.push(sql(dir.path(), fingerprint, "csv"));
    }
    assert_eq!(results[0], results[1], "same seed, different data");
    assert_ne!(results[0], results[2], "different seeds, same data");
    assert!(results[0].contains("2025-12-31"), "{}", results[0]);
}

#[test]
fn demo_rejects_a_bad_scale() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(spirit_bin())
        .args([
            "demo",
            "--data-dir",
            dir.path().to_str().unwrap(),
            "--scale",
            "0",
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("scale must be between 1 and 1000"));
}
