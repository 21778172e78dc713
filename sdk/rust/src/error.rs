//! The error a plugin returns: a kind the engine maps to an SQL error, and a message that says
//! what to change.

use std::fmt;

use arrow_schema::ArrowError;

/// A result whose error is this SDK's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, in the terms of the WIT `error-kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A config option is missing or has a value the plugin cannot use.
    InvalidConfig,
    /// The upstream refused the credentials, or a secret is missing.
    Unauthorized,
    /// The table, file or upstream object does not exist.
    NotFound,
    /// The upstream failed or could not be reached.
    Upstream,
    /// The upstream answered with data the plugin cannot read.
    InvalidData,
    /// A bug in the plugin.
    Internal,
}

/// An error of a plugin call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

impl Error {
    /// An error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// A config option is missing or unusable.
    pub fn invalid_config(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidConfig, message)
    }

    /// The upstream refused the credentials.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unauthorized, message)
    }

    /// Something does not exist.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    /// The upstream failed or could not be reached.
    pub fn upstream(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Upstream, message)
    }

    /// The upstream sent data the plugin cannot read.
    pub fn invalid_data(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidData, message)
    }

    /// A bug in the plugin.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }

    /// The kind of this error.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message of this error.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.kind, self.message)
    }
}

impl std::error::Error for Error {}

/// Arrow errors come from building batches or encoding IPC, both the plugin's own doing.
impl From<ArrowError> for Error {
    fn from(error: ArrowError) -> Self {
        Self::internal(error.to_string())
    }
}

/// Defines `guarded` in an export module: it runs one export call with the panic hook
/// installed and turns the SDK's [`Error`] into the `plugin-error` of the module's `wit` (each
/// world's generated bindings have their own copy of that type, so one function cannot serve
/// both).
macro_rules! define_guarded {
    () => {
        /// Runs one export call, turning the SDK error into the WIT one.
        fn guarded<T>(
            call: impl FnOnce() -> $crate::Result<T>,
        ) -> ::core::result::Result<T, wit::PluginError> {
            $crate::panic_hook::install();
            call().map_err(|error| wit::PluginError {
                kind: match error.kind() {
                    $crate::ErrorKind::InvalidConfig => wit::ErrorKind::InvalidConfig,
                    $crate::ErrorKind::Unauthorized => wit::ErrorKind::Unauthorized,
                    $crate::ErrorKind::NotFound => wit::ErrorKind::NotFound,
                    $crate::ErrorKind::Upstream => wit::ErrorKind::Upstream,
                    $crate::ErrorKind::InvalidData => wit::ErrorKind::InvalidData,
                    $crate::ErrorKind::Internal => wit::ErrorKind::Internal,
                },
                message: error.message().to_owned(),
            })
        }
    };
}
pub(crate) use define_guarded;
