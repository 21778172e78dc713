//! The SQL contract: every `queries/tests/*.slt` file, run over the wire against a real server.
//!
//! `SLT_COMPLETE=1 cargo test --workspace --test slt` rewrites the expected results.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use spirit_tests::{ServerOptions, SpiritServer, fixture_data_dir, tests_dir};
use sqllogictest::{DBOutput, DefaultColumnType};
use tokio_postgres::{Client, SimpleQueryMessage};

struct Wire {
    client: Client,
}

/// A failed statement, shown as `SQLSTATE: message` so `.slt` files can match on either.
#[derive(Debug)]
struct WireError(String);

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for WireError {}

impl From<tokio_postgres::Error> for WireError {
    fn from(err: tokio_postgres::Error) -> Self {
        Self(match err.as_db_error() {
            Some(db) => format!("{}: {}", db.code().code(), db.message()),
            None => err.to_string(),
        })
    }
}

#[async_trait]
impl sqllogictest::AsyncDB for Wire {
    type Error = WireError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, Self::Error> {
        let messages = self.client.simple_query(sql).await?;
        let mut rows = Vec::new();
        let mut columns = None;
        let mut affected = 0;
        for message in messages {
            match message {
                SimpleQueryMessage::RowDescription(desc) => columns = Some(desc.len()),
                SimpleQueryMessage::Row(row) => {
                    columns.get_or_insert(row.len());
                    rows.push(
                        (0..row.len())
                            .map(|i| row.get(i).map_or("NULL".to_string(), render))
                            .collect(),
                    );
                }
                SimpleQueryMessage::CommandComplete(n) => affected = n,
                _ => {}
            }
        }
        Ok(match columns {
            Some(n) => DBOutput::Rows {
                types: vec![DefaultColumnType::Any; n],
                rows,
            },
            None => DBOutput::StatementComplete(affected),
        })
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "spirit"
    }
}

fn render(value: &str) -> String {
    if value.is_empty() {
        "(empty)".to_string()
    } else {
        value.to_string()
    }
}

/// The `.slt` files of `dir`, sorted.
fn slt_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "slt"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .slt files in {}", dir.display());
    files
}

/// `queries/tests/*.slt` run against the demo data; `queries/tests/fixture/*.slt` against the
/// hand-checkable fixture `queries/tests/fixture/metrics_fixture.sql`.
#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = tests_dir().join("../queries/tests");
    let mut failures = run_files(&SpiritServer::start(), &slt_files(&dir)).await;
    let fixture = dir.join("fixture");
    let fixture_data = fixture_data_dir(&fixture.join("metrics_fixture.sql"));
    let server = SpiritServer::start_with(ServerOptions {
        data_dir: Some(fixture_data.path().to_path_buf()),
        ..Default::default()
    });
    failures.extend(run_files(&server, &slt_files(&fixture)).await);
    assert!(failures.is_empty(), "failed: {failures:?}");
}

/// Runs (or with `SLT_COMPLETE=1` rewrites) `files` against `server`; returns the failed ones.
async fn run_files(server: &SpiritServer, files: &[PathBuf]) -> Vec<String> {
    let complete = std::env::var_os("SLT_COMPLETE").is_some();
    let mut failures = Vec::new();
    for file in files {
        let conninfo = server.conninfo();
        let mut runner = sqllogictest::Runner::new(move || {
            let conninfo = conninfo.clone();
            async move {
                let (client, connection) =
                    tokio_postgres::connect(&conninfo, tokio_postgres::NoTls)
                        .await
                        .map_err(WireError::from)?;
                tokio::spawn(connection);
                Ok(Wire { client })
            }
        });
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        if complete {
            runner
                .update_test_file(
                    file,
                    " ",
                    sqllogictest::default_validator,
                    sqllogictest::default_normalizer,
                    sqllogictest::default_column_validator,
                )
                .await
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            println!("completed {name}");
        } else {
            match runner.run_file_async(file).await {
                Ok(()) => println!("ok {name}"),
                Err(e) => {
                    println!("FAILED {name}: {}", e.display(true));
                    failures.push(name);
                }
            }
        }
    }
    failures
}
