//! SQLSTATE mapping: engine errors become PostgreSQL error responses with the right code, so
//! clients can tell a typo from an unknown table from a bad parameter.

use datafusion::error::DataFusionError;
use datafusion::sql::sqlparser::parser::ParserError;
use pgwire::api::{ClientInfo, ErrorHandler};
use pgwire::error::{ErrorInfo, PgWireError};
use spirit_core::SpiritError;
use spirit_core::SqlStateError;
use spirit_plugins::PluginError;

/// SQLSTATE codes used by the engine.
pub mod sqlstate {
    /// Syntax error.
    pub const SYNTAX_ERROR: &str = "42601";
    /// Undefined table.
    pub const UNDEFINED_TABLE: &str = "42P01";
    /// Undefined column.
    pub const UNDEFINED_COLUMN: &str = "42703";
    /// Undefined function.
    pub const UNDEFINED_FUNCTION: &str = "42883";
    /// Undefined object (an unknown setting).
    pub const UNDEFINED_OBJECT: &str = "42704";
    /// Duplicate table.
    pub const DUPLICATE_TABLE: &str = "42P07";
    /// Data type mismatch.
    pub const DATATYPE_MISMATCH: &str = "42804";
    /// Syntax error or access rule violation (other planning errors).
    pub const PLAN_ERROR: &str = "42000";
    /// Invalid parameter value.
    pub const INVALID_PARAMETER_VALUE: &str = "22023";
    /// Invalid text representation (a value that does not parse as its type).
    pub const INVALID_TEXT_REPRESENTATION: &str = "22P02";
    /// Division by zero.
    pub const DIVISION_BY_ZERO: &str = "22012";
    /// Numeric value out of range.
    pub const NUMERIC_OUT_OF_RANGE: &str = "22003";
    /// Feature not supported.
    pub const FEATURE_NOT_SUPPORTED: &str = "0A000";
    /// Protocol violation.
    pub const PROTOCOL_VIOLATION: &str = "08P01";
    /// Out of memory / resources exhausted.
    pub const OUT_OF_MEMORY: &str = "53200";
    /// Too many connections.
    pub const TOO_MANY_CONNECTIONS: &str = "53300";
    /// Invalid catalog name (unknown database).
    pub const INVALID_CATALOG_NAME: &str = "3D000";
    /// No active SQL transaction (a savepoint outside `BEGIN`).
    pub const NO_ACTIVE_TRANSACTION: &str = "25P01";
    /// In failed SQL transaction.
    pub const IN_FAILED_TRANSACTION: &str = "25P02";
    /// Insufficient privilege (the session's role may not run the statement).
    pub const INSUFFICIENT_PRIVILEGE: &str = "42501";
    /// Internal error.
    pub const INTERNAL_ERROR: &str = "XX000";
    /// Program limit exceeded (a COPY larger than `ingest_max_mb`).
    pub const PROGRAM_LIMIT_EXCEEDED: &str = "54000";
    /// Integrity constraint violation (a duplicate key).
    pub const INTEGRITY_CONSTRAINT_VIOLATION: &str = "23000";
    /// Query canceled (or a COPY the client gave up).
    pub const QUERY_CANCELED: &str = "57014";
}

/// Rewrites engine errors into user errors with a SQLSTATE before they are sent.
#[derive(Debug, Default)]
pub struct SqlStateErrorHandler;

impl ErrorHandler for SqlStateErrorHandler {
    fn on_error<C>(&self, _client: &C, error: &mut PgWireError)
    where
        C: ClientInfo,
    {
        match error {
            PgWireError::ApiError(inner) => {
                let info = error_info(inner.as_ref());
                tracing::debug!(code = %info.code, "query failed: {}", info.message);
                *error = PgWireError::UserError(Box::new(info));
            }
            // datafusion-postgres refuses statements in a failed transaction with 25P01 (no
            // active transaction); PostgreSQL, and drivers that map codes to exceptions
            // (psycopg's InFailedSqlTransaction), use 25P02.
            PgWireError::UserError(info)
                if info.code == sqlstate::NO_ACTIVE_TRANSACTION
                    && info.message.starts_with("current transaction is aborted") =>
            {
                info.code = sqlstate::IN_FAILED_TRANSACTION.to_string();
            }
            _ => {}
        }
    }
}

/// An engine error, mapped to its SQLSTATE by [`SqlStateErrorHandler`] before it is sent.
pub fn api_error(e: impl std::error::Error + Send + Sync + 'static) -> PgWireError {
    PgWireError::ApiError(Box::new(e))
}

/// An error response for `err`.
pub fn error_info(err: &(dyn std::error::Error + 'static)) -> ErrorInfo {
    let (code, message) = classify(err);
    ErrorInfo::new("ERROR".to_string(), code.to_string(), message)
}

/// The SQLSTATE and message for an error raised below the wire protocol.
pub fn classify(err: &(dyn std::error::Error + 'static)) -> (&'static str, String) {
    if let Some(e) = err.downcast_ref::<SpiritError>() {
        return match e {
            SpiritError::DataFusion(e) => classify_datafusion(e),
            SpiritError::InvalidInput(msg) => (sqlstate::INVALID_PARAMETER_VALUE, msg.clone()),
            other => (sqlstate::INTERNAL_ERROR, other.to_string()),
        };
    }
    if let Some(e) = err.downcast_ref::<DataFusionError>() {
        return classify_datafusion(e);
    }
    if let Some(e) = err.downcast_ref::<ParserError>() {
        return (sqlstate::SYNTAX_ERROR, e.to_string());
    }
    (sqlstate::INTERNAL_ERROR, err.to_string())
}

fn classify_datafusion(err: &DataFusionError) -> (&'static str, String) {
    let root = err.find_root();
    if let DataFusionError::External(e) = root
        && let Some(e) = e.downcast_ref::<PluginError>()
    {
        return (e.sqlstate(), e.to_string());
    }
    if let DataFusionError::External(e) = root
        && let Some(e) = e.downcast_ref::<SqlStateError>()
    {
        return (e.code, e.message.clone());
    }
    let message = root.to_string();
    if let Some(format) = message
        .split_once("Unable to find factory for ")
        .map(|(_, f)| f.trim().to_lowercase())
    {
        return (
            sqlstate::UNDEFINED_OBJECT,
            format!(
                "STORED AS {format}: no such file format or plugin; the formats are CSV, \
                 PARQUET, JSON, NDJSON, AVRO and ARROW, and the plugins are listed in \
                 spirit.plugins"
            ),
        );
    }
    if let Some(classified) = classify_store_message(&message) {
        return classified;
    }
    let lower = message.to_lowercase();
    let code = match root {
        DataFusionError::SQL(..) => sqlstate::SYNTAX_ERROR,
        DataFusionError::NotImplemented(_) => sqlstate::FEATURE_NOT_SUPPORTED,
        DataFusionError::ResourcesExhausted(_) => sqlstate::OUT_OF_MEMORY,
        DataFusionError::ArrowError(e, _) => match e.as_ref() {
            arrow::error::ArrowError::DivideByZero => sqlstate::DIVISION_BY_ZERO,
            arrow::error::ArrowError::CastError(_) | arrow::error::ArrowError::ParseError(_) => {
                sqlstate::INVALID_TEXT_REPRESENTATION
            }
            arrow::error::ArrowError::ArithmeticOverflow(_) => sqlstate::NUMERIC_OUT_OF_RANGE,
            _ => sqlstate::INTERNAL_ERROR,
        },
        DataFusionError::SchemaError(..) if lower.contains("no field named") => {
            sqlstate::UNDEFINED_COLUMN
        }
        DataFusionError::Plan(_) | DataFusionError::SchemaError(..) => {
            classify_plan_message(&lower)
        }
        DataFusionError::Execution(_) if lower.contains("unrecognized configuration parameter") => {
            sqlstate::UNDEFINED_OBJECT
        }
        DataFusionError::Execution(_) if lower.contains("divide by zero") => {
            sqlstate::DIVISION_BY_ZERO
        }
        DataFusionError::Execution(_) if lower.contains("cast") || lower.contains("parse") => {
            sqlstate::INVALID_TEXT_REPRESENTATION
        }
        _ => sqlstate::INTERNAL_ERROR,
    };
    (code, strip_prefixes(&message))
}

/// An error DuckDB raised while running SQL the engine handed it (a metric view, a table
/// macro): its class (`Invalid Input Error: …`) gives the SQLSTATE, and its own sentence is the
/// message, without the provider's wrapping and the manual link.
fn classify_store_message(message: &str) -> Option<(&'static str, String)> {
    const CLASSES: &[(&str, &str)] = &[
        ("Invalid Input Error: ", sqlstate::INVALID_PARAMETER_VALUE),
        ("Conversion Error: ", sqlstate::INVALID_TEXT_REPRESENTATION),
        ("Out of Range Error: ", sqlstate::NUMERIC_OUT_OF_RANGE),
        ("Catalog Error: ", sqlstate::UNDEFINED_TABLE),
        ("Binder Error: ", sqlstate::PLAN_ERROR),
    ];
    if !message.contains("DuckDB") {
        return None;
    }
    message.lines().find_map(|line| {
        CLASSES.iter().find_map(|(class, code)| {
            line.find(class)
                .map(|at| (*code, line[at + class.len()..].trim().to_string()))
        })
    })
}

fn classify_plan_message(lower: &str) -> &'static str {
    if lower.contains("table") && (lower.contains("not found") || lower.contains("doesn't exist")) {
        sqlstate::UNDEFINED_TABLE
    } else if lower.contains("invalid function")
        || lower.contains("function") && lower.contains("not found")
        || lower.contains("no function matches")
    {
        sqlstate::UNDEFINED_FUNCTION
    } else if lower.contains("no field named") {
        sqlstate::UNDEFINED_COLUMN
    } else if lower.contains("already exists") {
        sqlstate::DUPLICATE_TABLE
    } else if lower.contains("expected") && lower.contains("param") {
        sqlstate::PROTOCOL_VIOLATION
    } else if lower.contains("cannot coerce")
        || lower.contains("cannot infer common")
        || lower.contains("type coercion")
    {
        sqlstate::DATATYPE_MISMATCH
    } else if lower.contains("sql error") || lower.contains("parsererror") {
        sqlstate::SYNTAX_ERROR
    } else {
        sqlstate::PLAN_ERROR
    }
}

/// DataFusion prefixes messages with the error kind ("Error during planning: "); users want the
/// sentence itself.
fn strip_prefixes(message: &str) -> String {
    const PREFIXES: &[&str] = &[
        "Error during planning: ",
        "Execution error: ",
        "Schema error: ",
        "This feature is not implemented: ",
        "SQL error: ",
        "Arrow error: ",
    ];
    let mut message = message;
    while let Some(rest) = PREFIXES.iter().find_map(|p| message.strip_prefix(p)) {
        message = rest;
    }
    message.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code_of(err: DataFusionError) -> &'static str {
        classify(&err).0
    }

    #[test]
    fn plan_errors_get_specific_codes() {
        assert_eq!(
            code_of(DataFusionError::Plan(
                "table 'spirit.public.nope' not found".into()
            )),
            sqlstate::UNDEFINED_TABLE
        );
        assert_eq!(
            code_of(DataFusionError::Plan("Invalid function 'nope'.".into())),
            sqlstate::UNDEFINED_FUNCTION
        );
        assert_eq!(
            code_of(DataFusionError::SQL(
                Box::new(ParserError::ParserError("Expected: an expression".into())),
                None
            )),
            sqlstate::SYNTAX_ERROR
        );
    }

    #[test]
    fn store_errors_keep_their_sentence_and_class() {
        let (code, message) = classify(&DataFusionError::External(
            "Failed to execute DuckDB query: Query execution failed.\nInvalid Input Error: \
             granularity must be one of hour, day\nFor details, refer to the DuckDB manual"
                .into(),
        ));
        assert_eq!(code, sqlstate::INVALID_PARAMETER_VALUE);
        assert_eq!(message, "granularity must be one of hour, day");
    }

    #[test]
    fn messages_lose_the_error_kind_prefix() {
        let (_, message) = classify(&DataFusionError::Plan("table 'x' not found".into()));
        assert_eq!(message, "table 'x' not found");
    }
}
