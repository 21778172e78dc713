//! Spirit Analytics plugins: source connectors as sandboxed WebAssembly components.
//!
//! - [`manifest`]: `plugin.toml`, read and checked before anything is compiled.
//! - [`host`]: the wasmtime engine, the per-call sandbox (memory limit, epoch deadline) and the
//!   host functions of `spirit:plugin/host` (sdk/wit/plugin.wit).
//!
//! Data crosses the boundary as Arrow IPC streams; [`read_table`] pages through a scan and
//! checks every batch against the schema the plugin declared.

pub mod host;
pub mod manifest;

use std::io::Cursor;
use std::path::PathBuf;

use arrow::datatypes::SchemaRef;
use arrow::ipc::reader::StreamReader;
use arrow::record_batch::RecordBatch;

pub use host::{Plugin, Runtime, Source};

/// The WIT package version this engine implements: `spirit:plugin@0.1.0`.
pub const API_VERSION: &str = "0.1.0";

/// Why a plugin could not be loaded or answered. Each names the plugin and what to change.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// wasmtime itself failed (not the plugin's doing).
    #[error("plugin engine: {0}")]
    Engine(String),
    /// `plugin.toml` is missing or wrong.
    #[error("{}: {message}", path.display())]
    Manifest {
        /// The manifest file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The component is not a valid plugin, or does not match its manifest.
    #[error("plugin {plugin}: {message}")]
    Invalid {
        /// Plugin name.
        plugin: String,
        /// What is wrong.
        message: String,
    },
    /// A source's options are wrong.
    #[error("plugin {plugin}: {message}")]
    Config {
        /// Plugin name.
        plugin: String,
        /// What is wrong.
        message: String,
    },
    /// The plugin answered with an error of its own.
    #[error("plugin {plugin}: {message} ({kind:?})")]
    Guest {
        /// Plugin name.
        plugin: String,
        /// The kind it gave.
        kind: host::ErrorKind,
        /// Its message.
        message: String,
    },
    /// The plugin ran past its time limit and was stopped.
    #[error("plugin {plugin} ran past its time limit of {timeout_ms} ms and was stopped")]
    Timeout {
        /// Plugin name.
        plugin: String,
        /// The limit, from its manifest.
        timeout_ms: u64,
    },
    /// The plugin wanted more memory than its limit.
    #[error("plugin {plugin} needed more than its memory limit of {limit_mb} MiB and was stopped")]
    Memory {
        /// Plugin name.
        plugin: String,
        /// The limit, from its manifest.
        limit_mb: u64,
    },
    /// The plugin trapped (a panic, an out-of-bounds access, …).
    #[error("plugin {plugin} failed: {message}")]
    Trap {
        /// Plugin name.
        plugin: String,
        /// The trap.
        message: String,
    },
    /// The plugin sent data that is not what it declared.
    #[error("plugin {plugin} sent invalid data: {message}")]
    Data {
        /// Plugin name.
        plugin: String,
        /// What is wrong.
        message: String,
    },
}

impl PluginError {
    fn engine(e: wasmtime::Error) -> Self {
        Self::Engine(format!("{e:#}"))
    }
}

/// A table a plugin offers, its schema decoded.
#[derive(Debug, Clone)]
pub struct TableSchema {
    /// Table name.
    pub name: String,
    /// What a row is.
    pub description: String,
    /// Its columns.
    pub schema: SchemaRef,
}

/// The plugin's tables, their schemas decoded from Arrow IPC.
pub fn tables(plugin: &Plugin, source: &Source) -> Result<Vec<TableSchema>, PluginError> {
    plugin
        .list_tables(source)?
        .into_iter()
        .map(|table| {
            let reader = StreamReader::try_new(Cursor::new(table.schema), None).map_err(|e| {
                PluginError::Data {
                    plugin: plugin.manifest.name.clone(),
                    message: format!("schema of table {}: {e}", table.name),
                }
            })?;
            Ok(TableSchema {
                name: table.name,
                description: table.description,
                schema: reader.schema(),
            })
        })
        .collect()
}

/// What a whole scan read.
#[derive(Debug)]
pub struct ScanResult {
    /// The rows, in the plugin's order.
    pub batches: Vec<RecordBatch>,
    /// Rows the plugin skipped as malformed (it says which in its log).
    pub skipped_rows: u64,
    /// Pages fetched.
    pub pages: usize,
}

/// Reads `table` whole (or its first `limit` rows), page by page, checking each batch against
/// the declared schema.
pub fn read_table(
    plugin: &Plugin,
    source: &Source,
    table: &TableSchema,
    limit: Option<u64>,
) -> Result<ScanResult, PluginError> {
    let mut result = ScanResult {
        batches: Vec::new(),
        skipped_rows: 0,
        pages: 0,
    };
    let mut cursor = None;
    let mut rows = 0u64;
    loop {
        let request = host::ScanRequest {
            table: table.name.clone(),
            projection: None,
            filters: Vec::new(),
            limit: limit.map(|l| l.saturating_sub(rows)),
            cursor: cursor.take(),
        };
        let page = plugin.scan(source, &request)?;
        result.pages += 1;
        result.skipped_rows += page.skipped_rows;
        for batch in decode(plugin, table, &page.batches)? {
            rows += batch.num_rows() as u64;
            result.batches.push(batch);
        }
        let done = limit.is_some_and(|l| rows >= l);
        match page.next_cursor {
            Some(next) if !done => {
                if request.cursor.as_deref() == Some(next.as_str()) {
                    return Err(PluginError::Data {
                        plugin: plugin.manifest.name.clone(),
                        message: format!("scan of {} did not advance past {next:?}", table.name),
                    });
                }
                cursor = Some(next);
            }
            _ => return Ok(result),
        }
    }
}

/// The record batches of one page's Arrow IPC stream, which must have the table's schema.
fn decode(
    plugin: &Plugin,
    table: &TableSchema,
    bytes: &[u8],
) -> Result<Vec<RecordBatch>, PluginError> {
    let invalid = |message: String| PluginError::Data {
        plugin: plugin.manifest.name.clone(),
        message: format!("table {}: {message}", table.name),
    };
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    let reader = StreamReader::try_new(Cursor::new(bytes), None)
        .map_err(|e| invalid(format!("not an Arrow IPC stream: {e}")))?;
    let declared = table.schema.fields();
    let sent = reader.schema();
    if sent.fields().len() != declared.len()
        || sent
            .fields()
            .iter()
            .zip(declared.iter())
            .any(|(a, b)| a.name() != b.name() || a.data_type() != b.data_type())
    {
        return Err(invalid(format!(
            "rows with columns {:?}, but the table declares {:?}",
            sent.fields()
                .iter()
                .map(|f| format!("{} {}", f.name(), f.data_type()))
                .collect::<Vec<_>>(),
            declared
                .iter()
                .map(|f| format!("{} {}", f.name(), f.data_type()))
                .collect::<Vec<_>>()
        )));
    }
    reader
        .map(|batch| batch.map_err(|e| invalid(format!("bad record batch: {e}"))))
        .collect()
}
