//! Spirit Analytics plugins: source connectors as sandboxed WebAssembly components.
//!
//! - [`manifest`]: `plugin.toml`, read and checked before anything is compiled.
//! - [`host`]: the wasmtime engine, the per-call sandbox (memory limit, epoch deadline) and the
//!   host functions of `spirit:plugin/host` (sdk/wit/plugin.wit).
//! - [`scan`]: paging through a plugin's table, each page's Arrow IPC checked against the
//!   schema the plugin declared.
//! - [`registry`]: the plugins directory, loaded at start and watched for changes; the
//!   `spirit.plugins` system table.
//! - [`table`]: `CREATE EXTERNAL TABLE … STORED AS <plugin>`: the table factory, the table and
//!   its streaming scan.
//! - [`sources`]: `spirit.sources` counters and the accelerated copies (`refresh_interval`).

pub mod host;
pub mod manifest;
pub mod registry;
pub mod scan;
pub mod sources;
pub mod table;

use std::io::Cursor;
use std::path::PathBuf;

use arrow::datatypes::SchemaRef;
use arrow::ipc::reader::StreamReader;

pub use host::{Plugin, Runtime, Source};
pub use registry::Registry;
pub use scan::{Scan, ScanResult, read_table};

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
    /// The plugin answered with an error of its own (its kind gives the SQLSTATE).
    #[error("plugin {plugin}: {message}")]
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

    /// The SQLSTATE a client gets for this error (the table in sdk/README.md).
    pub fn sqlstate(&self) -> &'static str {
        use host::ErrorKind;
        match self {
            Self::Config { .. }
            | Self::Guest {
                kind: ErrorKind::InvalidConfig,
                ..
            } => "22023",
            Self::Guest { kind, .. } => match kind {
                ErrorKind::Unauthorized => "28000",
                ErrorKind::NotFound => "42704",
                ErrorKind::Upstream => "58000",
                ErrorKind::InvalidData => "22000",
                ErrorKind::InvalidConfig | ErrorKind::Internal => "XX000",
            },
            Self::Data { .. } => "22000",
            Self::Timeout { .. } => "57014",
            Self::Memory { .. } => "53200",
            // Not loaded (see spirit.plugins).
            Self::Invalid { .. } | Self::Manifest { .. } => "55000",
            Self::Trap { .. } | Self::Engine(_) => "XX000",
        }
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
