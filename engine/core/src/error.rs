//! The core crate's error type: one enum, grouped by where the error arises.

use datafusion::error::DataFusionError;

/// Result with [`SpiritError`].
pub type Result<T, E = SpiritError> = std::result::Result<T, E>;

/// Everything that can go wrong below the front ends.
#[derive(Debug, thiserror::Error)]
pub enum SpiritError {
    /// `spirit.toml` or an environment override is invalid.
    #[error("{0}")]
    Config(String),
    /// The embedded DuckDB store failed.
    #[error("store: {0}")]
    Store(#[from] duckdb::Error),
    /// The embedded store could not be opened or reached.
    #[error("store: {0}")]
    StoreAccess(String),
    /// Planning or executing SQL failed.
    #[error(transparent)]
    DataFusion(#[from] DataFusionError),
    /// A file or directory could not be read or written.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The user asked for something invalid; the message says what to change.
    #[error("{0}")]
    InvalidInput(String),
}

impl SpiritError {
    /// Wraps an I/O error with what was being done.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }
}

impl From<SpiritError> for DataFusionError {
    fn from(err: SpiritError) -> Self {
        match err {
            SpiritError::DataFusion(e) => e,
            SpiritError::InvalidInput(msg) => DataFusionError::Plan(msg),
            other => DataFusionError::External(Box::new(other)),
        }
    }
}

/// An error that carries its own SQLSTATE: raised inside query execution by the engine's own
/// functions (the ML table functions, reports), and sent to the client with that code.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct SqlStateError {
    /// The SQLSTATE, e.g. `22023`.
    pub code: &'static str,
    /// What went wrong and what to change.
    pub message: String,
}

impl SqlStateError {
    /// An error with `code` and `message`.
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl From<SqlStateError> for DataFusionError {
    fn from(err: SqlStateError) -> Self {
        DataFusionError::External(Box::new(err))
    }
}
