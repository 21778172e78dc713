//! `COPY <table> [(columns)] FROM STDIN [WITH (FORMAT text|csv, HEADER, DELIMITER, NULL,
//! QUOTE)]`: psql's `\copy`, psycopg's `cursor.copy()`, pgjdbc's `CopyManager` and
//! node-postgres' copy streams load rows into a store table over pg-wire.
//!
//! The hook answers the statement with CopyInResponse and remembers, per connection, what is
//! being copied; the copy handler gathers the CopyData messages and, at CopyDone, hands them to
//! [`spirit_core::ingest::ingest_delimited`]: all rows or none, durable when `COPY n` is sent,
//! and the result cache drops what read the table. Binary COPY is refused with 0A000.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use datafusion::common::{DFSchema, ParamValues};
use datafusion::logical_expr::{EmptyRelation, LogicalPlan};
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::{
    CopyLegacyCsvOption, CopyLegacyOption, CopyOption, CopySource, CopyTarget, Ident, Statement,
};
use datafusion_postgres::hooks::{HookClient, QueryHook};
use futures::{Sink, SinkExt};
use pgwire::api::ClientInfo;
use pgwire::api::copy::CopyHandler;
use pgwire::api::results::{CopyResponse, Response, Tag};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::copy::{CopyData, CopyDone, CopyFail};
use spirit_core::Engine;
use spirit_core::ingest::{Delimited, IngestError, ingest_delimited};

use super::errors::sqlstate;

/// A copy in progress on one connection.
struct Pending {
    table: String,
    columns: Vec<String>,
    format: Delimited,
    data: Vec<u8>,
}

/// Copies in progress, by connection (its backend process id).
#[derive(Default)]
pub struct Copies {
    pending: Mutex<HashMap<i32, Pending>>,
}

fn user_error(code: &str, message: impl Into<String>) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "ERROR".to_string(),
        code.to_string(),
        message.into(),
    )))
}

/// What `COPY … FROM STDIN` asks for; `None` for any other statement.
fn copy_in(statement: &Statement) -> Option<PgWireResult<Pending>> {
    let Statement::Copy {
        source,
        to: false,
        target: CopyTarget::Stdin,
        options,
        legacy_options,
        ..
    } = statement
    else {
        return None;
    };
    let CopySource::Table {
        table_name,
        columns,
    } = source
    else {
        return Some(Err(user_error(
            sqlstate::FEATURE_NOT_SUPPORTED,
            "COPY FROM STDIN loads a table: COPY <table> [(columns)] FROM STDIN",
        )));
    };
    let table = table_name
        .0
        .last()
        .and_then(|part| part.as_ident())
        .map(identifier)
        .unwrap_or_default();
    Some(parse_format(options, legacy_options).map(|format| Pending {
        table,
        columns: columns.iter().map(identifier).collect(),
        format,
        data: Vec::new(),
    }))
}

/// An identifier as PostgreSQL resolves it: lower-case unless quoted.
fn identifier(ident: &Ident) -> String {
    if ident.quote_style.is_some() {
        ident.value.clone()
    } else {
        ident.value.to_lowercase()
    }
}

fn single_byte(c: char, what: &str) -> PgWireResult<u8> {
    u8::try_from(c).ok().filter(u8::is_ascii).ok_or_else(|| {
        user_error(
            sqlstate::FEATURE_NOT_SUPPORTED,
            format!("COPY {what} must be a single one-byte character"),
        )
    })
}

fn parse_format(options: &[CopyOption], legacy: &[CopyLegacyOption]) -> PgWireResult<Delimited> {
    let mut csv = false;
    for option in options {
        if let CopyOption::Format(name) = option {
            match name.value.to_ascii_lowercase().as_str() {
                "csv" => csv = true,
                "text" => csv = false,
                "binary" => {
                    return Err(user_error(
                        sqlstate::FEATURE_NOT_SUPPORTED,
                        "COPY FORMAT binary is not supported: use text or csv",
                    ));
                }
                other => {
                    return Err(user_error(
                        sqlstate::INVALID_PARAMETER_VALUE,
                        format!("COPY format \"{other}\" not recognized: use text or csv"),
                    ));
                }
            }
        }
    }
    if legacy.iter().any(|o| matches!(o, CopyLegacyOption::Csv(_))) {
        csv = true;
    }
    if legacy.iter().any(|o| matches!(o, CopyLegacyOption::Binary)) {
        return Err(user_error(
            sqlstate::FEATURE_NOT_SUPPORTED,
            "COPY BINARY is not supported: use text or csv",
        ));
    }
    let mut format = if csv {
        Delimited::csv()
    } else {
        Delimited::text()
    };
    for option in options {
        match option {
            CopyOption::Delimiter(c) => format.delimiter = single_byte(*c, "delimiter")?,
            CopyOption::Null(null) => format.null = null.clone(),
            CopyOption::Header(header) => format.header = *header,
            CopyOption::Quote(c) => format.quote = single_byte(*c, "quote")?,
            _ => {}
        }
    }
    for option in legacy {
        match option {
            CopyLegacyOption::Delimiter(c) => format.delimiter = single_byte(*c, "delimiter")?,
            CopyLegacyOption::Null(null) => format.null = null.clone(),
            CopyLegacyOption::Csv(csv_options) => {
                for option in csv_options {
                    match option {
                        CopyLegacyCsvOption::Header => format.header = true,
                        CopyLegacyCsvOption::Quote(c) => {
                            format.quote = single_byte(*c, "quote")?;
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    Ok(format)
}

/// Starts copy-in mode for `COPY … FROM STDIN`.
pub struct CopyHook {
    pub copies: Arc<Copies>,
}

impl CopyHook {
    fn start(
        &self,
        statement: &Statement,
        client: &(dyn ClientInfo + Send + Sync),
    ) -> Option<PgWireResult<Response>> {
        let pending = match copy_in(statement)? {
            Ok(pending) => pending,
            Err(e) => return Some(Err(e)),
        };
        let columns = pending.columns.len();
        self.copies
            .pending
            .lock()
            .expect("copies lock")
            .insert(client.pid_and_secret_key().0, pending);
        Some(Ok(Response::CopyIn(CopyResponse::new(
            0,
            columns,
            futures::stream::empty(),
        ))))
    }
}

#[async_trait]
impl QueryHook for CopyHook {
    async fn handle_simple_query(
        &self,
        statement: &Statement,
        _session_context: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        self.start(statement, &*client)
    }

    async fn handle_extended_parse_query(
        &self,
        statement: &Statement,
        _session_context: &SessionContext,
        _client: &(dyn ClientInfo + Send + Sync),
    ) -> Option<PgWireResult<LogicalPlan>> {
        if let Err(e) = copy_in(statement)? {
            return Some(Err(e));
        }
        Some(Ok(LogicalPlan::EmptyRelation(EmptyRelation {
            produce_one_row: false,
            schema: Arc::new(DFSchema::empty()),
        })))
    }

    async fn handle_extended_query(
        &self,
        statement: &Statement,
        _logical_plan: &LogicalPlan,
        _params: &ParamValues,
        _session_context: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        self.start(statement, &*client)
    }
}

/// Receives the data of copies in progress and stores it at CopyDone.
pub struct CopyIn {
    pub engine: Arc<Engine>,
    pub copies: Arc<Copies>,
}

impl CopyIn {
    fn take(&self, client: &impl ClientInfo) -> Option<Pending> {
        self.copies
            .pending
            .lock()
            .expect("copies lock")
            .remove(&client.pid_and_secret_key().0)
    }
}

#[async_trait]
impl CopyHandler for CopyIn {
    async fn on_copy_data<C>(&self, client: &mut C, copy_data: CopyData) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let limit = self
            .engine
            .config()
            .ingest_max_mb
            .saturating_mul(1024 * 1024);
        let pid = client.pid_and_secret_key().0;
        let mut copies = self.copies.pending.lock().expect("copies lock");
        let Some(pending) = copies.get_mut(&pid) else {
            return Err(user_error(
                sqlstate::PROTOCOL_VIOLATION,
                "CopyData without COPY FROM STDIN",
            ));
        };
        if (pending.data.len() + copy_data.data.len()) as u64 > limit {
            copies.remove(&pid);
            return Err(user_error(
                sqlstate::PROGRAM_LIMIT_EXCEEDED,
                format!(
                    "COPY data exceeds ingest_max_mb ({limit} bytes); nothing was stored: send it \
                     in smaller parts"
                ),
            ));
        }
        pending.data.extend_from_slice(&copy_data.data);
        Ok(())
    }

    async fn on_copy_done<C>(&self, client: &mut C, _done: CopyDone) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let Some(pending) = self.take(client) else {
            return Err(user_error(
                sqlstate::PROTOCOL_VIOLATION,
                "CopyDone without COPY FROM STDIN",
            ));
        };
        let stored = ingest_delimited(
            &self.engine,
            &pending.table,
            &pending.columns,
            &pending.format,
            &pending.data,
        )
        .await
        .map_err(|e| {
            let code = match &e {
                IngestError::UnknownTable(_) => sqlstate::UNDEFINED_TABLE,
                IngestError::UnknownColumn { .. } => sqlstate::UNDEFINED_COLUMN,
                IngestError::Empty => return None,
                IngestError::BadLines { .. } => sqlstate::INVALID_TEXT_REPRESENTATION,
                IngestError::Refused(_) => sqlstate::INTEGRITY_CONSTRAINT_VIOLATION,
                IngestError::Store(_) => sqlstate::INTERNAL_ERROR,
            };
            Some(user_error(code, e.to_string()))
        });
        let rows = match stored {
            Ok(stored) => stored.rows as usize,
            // COPY of no rows is `COPY 0`, as in PostgreSQL.
            Err(None) => 0,
            Err(Some(e)) => return Err(e),
        };
        client
            .send(PgWireBackendMessage::CommandComplete(
                Tag::new("COPY").with_rows(rows).into(),
            ))
            .await?;
        Ok(())
    }

    async fn on_copy_fail<C>(&self, client: &mut C, fail: CopyFail) -> PgWireError
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        self.take(client);
        user_error(
            sqlstate::QUERY_CANCELED,
            format!(
                "COPY from stdin failed: {}; nothing was stored",
                fail.message
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    fn pending(sql: &str) -> PgWireResult<Pending> {
        let statement = Parser::parse_sql(&PostgreSqlDialect {}, sql)
            .unwrap()
            .remove(0);
        copy_in(&statement).expect("a COPY FROM STDIN")
    }

    #[test]
    fn copy_statements_give_their_format() {
        let p = pending("COPY bookings (booking_id, channel) FROM STDIN").unwrap();
        assert_eq!(p.table, "bookings");
        assert_eq!(p.columns, ["booking_id", "channel"]);
        assert_eq!(p.format, Delimited::text());
        let p = pending("COPY Bookings (Booking_ID) FROM STDIN").unwrap();
        assert_eq!(
            (p.table.as_str(), p.columns[0].as_str()),
            ("bookings", "booking_id")
        );
        let p = pending("COPY public.bookings FROM STDIN WITH (FORMAT csv, HEADER, DELIMITER ';')")
            .unwrap();
        assert_eq!(p.table, "bookings");
        assert!(p.format.csv && p.format.header);
        assert_eq!(p.format.delimiter, b';');
        let p = pending("COPY t FROM STDIN CSV HEADER").unwrap();
        assert!(p.format.csv && p.format.header);
        assert!(pending("COPY t FROM STDIN WITH (FORMAT binary)").is_err());
        let statement = Parser::parse_sql(&PostgreSqlDialect {}, "COPY t TO STDOUT")
            .unwrap()
            .remove(0);
        assert!(copy_in(&statement).is_none());
    }
}
