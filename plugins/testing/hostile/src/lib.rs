//! `hostile`: a connector that misbehaves on request, so the engine's tests can check that a
//! broken or hostile plugin becomes an SQL error naming it and never takes the engine down.
//!
//! It implements the WIT exports directly, without the SDK's checks, so it can send what the
//! SDK would refuse (bytes that are not Arrow IPC, columns that contradict its schema). Its one
//! table `t` (`id BIGINT NOT NULL, label TEXT`) has three rows in mode `ok`; the mode comes from
//! the `mode` option (the `LOCATION` of its tables):
//!
//! | mode | what `scan` does |
//! | --- | --- |
//! | `ok` | three rows |
//! | `loop` | spins forever (the epoch deadline stops it) |
//! | `alloc` | allocates until the memory limit stops it |
//! | `trap` | executes `unreachable` |
//! | `panic` | panics |
//! | `huge_batch` | builds one page of 50 million rows (past its memory limit) |
//! | `bad_ipc` | sends bytes that are not an Arrow IPC stream |
//! | `lying_schema` | sends `id` as text |
//! | `null_in_non_null` | sends a NULL `id` |
//! | `stuck_cursor` | returns the cursor it was given, forever |
//! | `disallowed_host` | GETs a host its manifest does not allow |
//! | `outside_path` | reads `/etc/passwd` |
//! | `secret` | asks for the secret `HOME` and fails if it gets a value |

use std::sync::Arc;

use arrow_ipc::writer::StreamWriter;
use spirit_plugin_sdk::arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use spirit_plugin_sdk::arrow_schema::{DataType, Field, Schema};
use spirit_plugin_sdk::bindings::Guest;
use spirit_plugin_sdk::bindings::spirit::plugin::host;
use spirit_plugin_sdk::bindings::spirit::plugin::types::{
    ErrorKind, PluginError, PluginMetadata, ScanPage, ScanRequest, TableInfo,
};

struct Hostile;

fn schema() -> Schema {
    Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("label", DataType::Utf8, true),
    ])
}

fn ipc(schema: &Schema, batches: &[RecordBatch]) -> Vec<u8> {
    let mut writer = StreamWriter::try_new(Vec::new(), schema).expect("ipc writer");
    for batch in batches {
        writer.write(batch).expect("ipc write");
    }
    writer.into_inner().expect("ipc finish")
}

fn rows(schema: Schema, ids: ArrayRef) -> Vec<u8> {
    let schema = Arc::new(schema);
    let labels: ArrayRef = Arc::new(StringArray::from(vec!["a", "b", "c"]));
    let batch = RecordBatch::try_new(Arc::clone(&schema), vec![ids, labels]).expect("batch");
    ipc(&schema, &[batch])
}

fn fail(message: String) -> PluginError {
    PluginError {
        kind: ErrorKind::Internal,
        message,
    }
}

fn page(batches: Vec<u8>, next_cursor: Option<String>) -> Result<ScanPage, PluginError> {
    Ok(ScanPage {
        batches,
        next_cursor,
        skipped_rows: 0,
    })
}

impl Guest for Hostile {
    fn metadata() -> PluginMetadata {
        PluginMetadata {
            name: env!("CARGO_PKG_NAME").to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }

    fn list_tables() -> Result<Vec<TableInfo>, PluginError> {
        Ok(vec![TableInfo {
            name: "t".to_string(),
            description: "Three rows, or a failure chosen by the mode option".to_string(),
            schema: ipc(&schema(), &[]),
        }])
    }

    fn scan(request: ScanRequest) -> Result<ScanPage, PluginError> {
        let mode = host::config("mode").unwrap_or_default();
        match mode.as_str() {
            "ok" => page(
                rows(schema(), Arc::new(Int64Array::from(vec![1, 2, 3]))),
                None,
            ),
            "loop" => {
                let mut n = 0u64;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "alloc" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(std::hint::black_box(vec![7u8; 1 << 20]));
                }
            }
            "huge_batch" => {
                let ids: ArrayRef = Arc::new(Int64Array::from_iter_values(0..50_000_000));
                let labels: ArrayRef = Arc::new(StringArray::from(vec!["x"; 50_000_000]));
                let schema = Arc::new(schema());
                let batch = RecordBatch::try_new(Arc::clone(&schema), vec![ids, labels])
                    .map_err(|e| fail(e.to_string()))?;
                page(ipc(&schema, &[batch]), None)
            }
            "trap" => std::process::abort(),
            "panic" => panic!("the hostile plugin panics on purpose"),
            "bad_ipc" => page(b"these bytes are not Arrow IPC".to_vec(), None),
            "lying_schema" => {
                let lie = Schema::new(vec![
                    Field::new("id", DataType::Utf8, false),
                    Field::new("label", DataType::Utf8, true),
                ]);
                page(
                    rows(lie, Arc::new(StringArray::from(vec!["x", "y", "z"]))),
                    None,
                )
            }
            "null_in_non_null" => {
                let nullable = Schema::new(vec![
                    Field::new("id", DataType::Int64, true),
                    Field::new("label", DataType::Utf8, true),
                ]);
                page(
                    rows(
                        nullable,
                        Arc::new(Int64Array::from(vec![Some(1), None, Some(3)])),
                    ),
                    None,
                )
            }
            "stuck_cursor" => {
                let cursor = request.cursor.unwrap_or_else(|| "again".to_string());
                page(ipc(&schema(), &[]), Some(cursor))
            }
            "disallowed_host" => host::http_get("http://example.com/", &[])
                .map(|_| ScanPage {
                    batches: Vec::new(),
                    next_cursor: None,
                    skipped_rows: 0,
                })
                .map_err(fail),
            "outside_path" => host::read_file("/etc/passwd", 0, 100)
                .map(|_| ScanPage {
                    batches: Vec::new(),
                    next_cursor: None,
                    skipped_rows: 0,
                })
                .map_err(fail),
            "secret" => match host::secret("HOME") {
                Some(_) => Err(fail("the host gave out a secret it should not".to_string())),
                None => page(ipc(&schema(), &[]), None),
            },
            other => Err(PluginError {
                kind: ErrorKind::InvalidConfig,
                message: format!("unknown mode {other:?}"),
            }),
        }
    }
}

spirit_plugin_sdk::bindings::export_connector_world!(Hostile with_types_in spirit_plugin_sdk::bindings);
