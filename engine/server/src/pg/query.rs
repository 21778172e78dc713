//! Query handling: datafusion-postgres' session service, plus the statements it does not cover.
//!
//! - Statements only DataFusion's dialect has (`CREATE EXTERNAL TABLE`) are run by the engine,
//!   which persists their definitions; the PostgreSQL parser would reject them.
//! - DDL and `UPDATE`/`DELETE` answer with a command tag (`CREATE TABLE`, `DELETE 3`) rather than
//!   an empty result set, as drivers such as pgjdbc's `executeUpdate` require.
//! - `DEALLOCATE [ALL | name]` releases protocol-level prepared statements (psycopg sends
//!   `DEALLOCATE ALL` after DDL); DataFusion would look for a SQL-level `PREPARE` instead.

use std::borrow::Cow;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{Array, UInt64Array};
use datafusion::common::{DFSchema, ParamValues};
use datafusion::logical_expr::{EmptyRelation, LogicalPlan};
use datafusion::prelude::{DataFrame, SessionContext};
use datafusion::sql::sqlparser::ast::{ContextModifier, ObjectType, Set, Statement};
use datafusion_postgres::hooks::{HookClient, QueryHook};
use datafusion_postgres::{DfSessionService, Parser};
use futures::Sink;
use pgwire::api::portal::{Format, Portal};
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::results::{FieldInfo, Response, Tag};
use pgwire::api::stmt::QueryParser;
use pgwire::api::store::PortalStore;
use pgwire::api::{ClientInfo, ClientPortalStore, Type};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::response::TransactionStatus;
use pgwire::messages::startup::ParameterStatus;
use spirit_core::Engine;
use spirit_core::engine::is_native_statement;
use spirit_core::prepared::PreparedPlan;
use spirit_core::telemetry::Telemetry;

use super::auth;
use super::cached::{self, CacheHook, StatementScope};
use super::cancel::RunningQueries;
use super::compat;
use super::copy::{Copies, CopyHook};
use super::errors::sqlstate;
use super::insert::InsertHook;
use super::parameters;
use super::query_log;

/// The statement type datafusion-postgres stores for the extended protocol: the SQL text and,
/// unless the engine runs it natively, the parsed statement with its plan.
pub type PgStatement = (String, Option<(Statement, LogicalPlan)>);

/// Simple and extended query handler.
pub struct QueryService {
    engine: Arc<Engine>,
    inner: Arc<DfSessionService>,
    parser: Arc<StatementParser>,
    answers: Arc<CacheHook>,
    running: Arc<RunningQueries>,
    telemetry: Telemetry,
}

impl QueryService {
    /// A handler over `engine`'s session, with datafusion-postgres' standard hooks (cursors,
    /// SET/SHOW, transactions) and ours.
    pub fn new(
        engine: Arc<Engine>,
        running: Arc<RunningQueries>,
        telemetry: Telemetry,
        copies: Arc<Copies>,
    ) -> Self {
        let ctx = Arc::new(engine.context().clone());
        let answers = Arc::new(CacheHook::new(Arc::clone(&engine)));
        let hooks: Vec<Arc<dyn QueryHook>> = vec![
            Arc::new(auth::RoleHook),
            Arc::new(CopyHook { copies }),
            Arc::new(InsertHook {
                engine: Arc::clone(&engine),
            }),
            Arc::new(datafusion_postgres::hooks::cursor::CursorStatementHook),
            Arc::new(TimeZoneHook),
            Arc::new(datafusion_postgres::hooks::set_show::SetShowHook),
            Arc::new(SavepointHook),
            Arc::new(datafusion_postgres::hooks::transactions::TransactionStatementHook),
            Arc::new(StatementHook),
            Arc::clone(&answers) as Arc<dyn QueryHook>,
        ];
        let inner = Arc::new(DfSessionService::new_with_hooks(ctx, hooks));
        let parser = Arc::new(StatementParser {
            inner: ExtendedQueryHandler::query_parser(inner.as_ref()),
            answers: Arc::clone(&answers),
        });
        Self {
            engine,
            inner,
            parser,
            answers,
            running,
            telemetry,
        }
    }

    async fn run_native(&self, sql: &str) -> PgWireResult<Response> {
        let df = self
            .engine
            .sql(sql)
            .await
            .map_err(|e| PgWireError::ApiError(Box::new(e)))?;
        df.collect()
            .await
            .map_err(|e| PgWireError::ApiError(Box::new(e)))?;
        Ok(Response::Execution(Tag::new("CREATE EXTERNAL TABLE")))
    }
}

#[async_trait]
impl SimpleQueryHandler for QueryService {
    async fn do_query<C>(&self, client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: std::fmt::Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let statement = query_log::Statement::start(client, query);
        let result = if is_native_statement(query) {
            match auth::check_write(client, "CREATE EXTERNAL TABLE") {
                Ok(()) => self.run_native(query).await.map(|r| vec![r]),
                Err(e) => Err(e),
            }
        } else {
            self.run_simple(client, query, &statement).await
        };
        match result {
            Ok(mut responses) => {
                self.engine.cache().after_statement(query).await;
                for response in &mut responses {
                    query_log::watch(&self.telemetry, statement.clone(), response);
                }
                Ok(responses)
            }
            Err(e) => {
                query_log::failed(&self.telemetry, &statement, &e);
                Err(e)
            }
        }
    }
}

impl QueryService {
    /// Runs the simple-protocol `query` (not a native statement): from the cache without
    /// parsing when it answered the same text before, otherwise through datafusion-postgres
    /// and the hooks.
    async fn run_simple<C>(
        &self,
        client: &mut C,
        query: &str,
        statement: &query_log::Statement,
    ) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: std::fmt::Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        apply_set_config(client, query);
        let sql = compat::rewrite(query, compat::Session::new(client.metadata()));
        // A text the session rewrites (its user, its settings) may mean something else next
        // time; a failed transaction must answer 25P02 (datafusion-postgres' hook).
        let reusable = matches!(sql, Cow::Borrowed(_))
            && client.transaction_status() != TransactionStatus::Error;
        let scope = StatementScope::new(Format::UnifiedText, Arc::clone(&statement.cache_hit));
        if reusable
            && let Some(answer) = cached::STATEMENT
                .scope(scope.clone(), self.answers.answer_sent(query, &*client))
                .await
        {
            return answer.map(|response| vec![response]);
        }
        let sql = sql.into_owned();
        let deadline = statement_deadline(client);
        let (pid, secret) = client.pid_and_secret_key();
        let signal = self.running.start(pid, &secret);
        let mut responses = cached::STATEMENT
            .scope(
                scope.clone(),
                SimpleQueryHandler::do_query(self.inner.as_ref(), client, &sql),
            )
            .await?;
        for response in &mut responses {
            RunningQueries::guard(response, &signal, deadline);
        }
        if reusable && responses.len() == 1 {
            self.answers.remember_sent(query, &scope);
        }
        Ok(responses)
    }
}

#[async_trait]
impl ExtendedQueryHandler for QueryService {
    type Statement = PgStatement;
    type QueryParser = StatementParser;

    fn query_parser(&self) -> Arc<Self::QueryParser> {
        Arc::clone(&self.parser)
    }

    async fn do_query<C>(
        &self,
        client: &mut C,
        portal: &Portal<Self::Statement>,
        max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: std::fmt::Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let statement = query_log::Statement::start(client, &portal.statement.statement.0);
        let scope = StatementScope::new(
            portal.result_column_format.clone(),
            Arc::clone(&statement.cache_hit),
        );
        let result = cached::STATEMENT
            .scope(scope, self.run_portal(client, portal, max_rows))
            .await;
        match result {
            Ok(mut response) => {
                self.engine
                    .cache()
                    .after_statement(&portal.statement.statement.0)
                    .await;
                query_log::watch(&self.telemetry, statement, &mut response);
                Ok(response)
            }
            Err(e) => {
                query_log::failed(&self.telemetry, &statement, &e);
                Err(e)
            }
        }
    }
}

impl QueryService {
    async fn run_portal<C>(
        &self,
        client: &mut C,
        portal: &Portal<PgStatement>,
        max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = PgStatement>,
        C::Error: std::fmt::Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let (sql, planned) = &portal.statement.statement;
        if planned.is_none() && is_native_statement(sql) {
            auth::check_write(client, "CREATE EXTERNAL TABLE")?;
            return self.run_native(sql).await;
        }
        // DataFusion does not type placeholders inside every subquery (SQLAlchemy's column
        // query has some), so the statement's highest `$n` counts as well.
        let server_types = self
            .parser
            .get_parameter_types(&portal.statement.statement)?;
        let expected = server_types.len().max(highest_placeholder(sql));
        if portal.parameters.len() != expected {
            return Err(PgWireError::UserError(Box::new(ErrorInfo::new(
                "ERROR".to_string(),
                sqlstate::PROTOCOL_VIOLATION.to_string(),
                format!(
                    "bind message supplies {} parameters, but prepared statement \"{}\" requires {expected}",
                    portal.parameters.len(),
                    portal.statement.id
                ),
            ))));
        }
        apply_set_config(client, sql);
        let deadline = statement_deadline(client);
        let (pid, secret) = client.pid_and_secret_key();
        let signal = self.running.start(pid, &secret);
        let completed = parameters::complete(portal, &server_types);
        let portal = completed.as_ref().unwrap_or(portal);
        let mut response =
            ExtendedQueryHandler::do_query(self.inner.as_ref(), client, portal, max_rows).await?;
        RunningQueries::guard(&mut response, &signal, deadline);
        Ok(response)
    }
}

/// Applies the session settings `sql` changes with `set_config()` (see
/// [`compat::set_config_calls`]).
fn apply_set_config(client: &mut impl ClientInfo, sql: &str) {
    for (name, value) in compat::set_config_calls(sql) {
        client.metadata_mut().insert(name, value);
    }
}

/// The highest `$n` placeholder in `sql`, outside string literals, quoted identifiers and
/// comments.
fn highest_placeholder(sql: &str) -> usize {
    let bytes = sql.as_bytes();
    let mut highest = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            quote @ (b'\'' | b'"') => {
                i += 1;
                while i < bytes.len() && bytes[i] != quote {
                    i += 1;
                }
            }
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < bytes.len() && !(bytes[i] == b'*' && bytes[i + 1] == b'/') {
                    i += 1;
                }
                i += 1;
            }
            b'$' => {
                let digits = bytes[i + 1..]
                    .iter()
                    .take_while(|b| b.is_ascii_digit())
                    .count();
                if digits > 0 {
                    let n = sql[i + 1..i + 1 + digits].parse().unwrap_or(0);
                    highest = highest.max(n);
                    i += digits;
                }
            }
            _ => {}
        }
        i += 1;
    }
    highest
}

/// When the running statement must end, from the session's `statement_timeout`.
///
/// datafusion-postgres' `SET statement_timeout` keeps the value in the client metadata under
/// this key and applies it while planning; the deadline extends it to streaming the rows.
pub(super) fn statement_deadline(
    client: &(impl ClientInfo + ?Sized),
) -> Option<tokio::time::Instant> {
    let millis: u64 = client
        .metadata()
        .get("statement_timeout_ms")?
        .parse()
        .ok()?;
    (millis > 0).then(|| tokio::time::Instant::now() + std::time::Duration::from_millis(millis))
}

/// Parses extended-protocol statements: native ones are kept as text, those with a prepared
/// store query are answered with it, the rest are planned by datafusion-postgres.
pub struct StatementParser {
    inner: Arc<Parser>,
    answers: Arc<CacheHook>,
}

#[async_trait]
impl QueryParser for StatementParser {
    type Statement = PgStatement;

    async fn parse_sql<C>(
        &self,
        client: &C,
        sql: &str,
        types: &[Option<Type>],
    ) -> PgWireResult<Option<Self::Statement>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        if is_native_statement(sql) {
            return Ok(Some((sql.to_string(), None)));
        }
        let rewritten = compat::rewrite(sql, compat::Session::new(client.metadata()));
        // The same text means the same statement for every session (with parameters, the same
        // query their values are bound to).
        let reusable = matches!(rewritten, Cow::Borrowed(_));
        if reusable && let Some((text, query)) = self.answers.prepared_for(sql) {
            let statement = query.statement.clone();
            return Ok(Some((text, Some((statement, PreparedPlan::plan(query))))));
        }
        let parsed = self.inner.parse_sql(client, &rewritten, types).await?;
        if reusable && let Some((text, Some((Statement::Query(_), _)))) = &parsed {
            self.answers.remember(sql, text);
        }
        Ok(parsed)
    }

    fn get_parameter_types(&self, stmt: &Self::Statement) -> PgWireResult<Vec<Type>> {
        self.inner.get_parameter_types(stmt)
    }

    fn get_result_schema(
        &self,
        stmt: &Self::Statement,
        column_format: Option<&Format>,
    ) -> PgWireResult<Vec<FieldInfo>> {
        self.inner.get_result_schema(stmt, column_format)
    }
}

/// Savepoints, which drivers use for nested transactions (psycopg's `conn.transaction()`,
/// SQLAlchemy). Like `BEGIN` and `ROLLBACK` (datafusion-postgres), they keep the protocol's
/// transaction state only: every statement is applied when it runs. A transaction that failed
/// is not resumed at a savepoint (pgwire keeps the failed state): the client gets 25P02 and
/// rolls back the whole transaction.
struct SavepointHook;

impl SavepointHook {
    fn respond(
        statement: &Statement,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        let tag = match statement {
            Statement::Savepoint { .. } => "SAVEPOINT",
            Statement::ReleaseSavepoint { .. } => "RELEASE",
            Statement::Rollback {
                savepoint: Some(_), ..
            } => "ROLLBACK",
            _ => return None,
        };
        let status = client.transaction_status();
        if status == TransactionStatus::Idle {
            return Some(Err(PgWireError::UserError(Box::new(ErrorInfo::new(
                "ERROR".to_string(),
                sqlstate::NO_ACTIVE_TRANSACTION.to_string(),
                format!("{tag} can only be used in transaction blocks (run BEGIN first)"),
            )))));
        }
        if status == TransactionStatus::Error {
            // pgwire restores the status it saw before the statement, so a failed transaction
            // cannot be resumed from a savepoint; saying so beats pretending.
            let message = if tag == "ROLLBACK" {
                "current transaction is aborted and cannot be resumed at a savepoint here; \
                 ROLLBACK the whole transaction"
            } else {
                "current transaction is aborted, commands ignored until end of transaction block"
            };
            return Some(Err(PgWireError::UserError(Box::new(ErrorInfo::new(
                "ERROR".to_string(),
                sqlstate::IN_FAILED_TRANSACTION.to_string(),
                message.to_string(),
            )))));
        }
        Some(Ok(Response::Execution(Tag::new(tag))))
    }
}

#[async_trait]
impl QueryHook for SavepointHook {
    async fn handle_simple_query(
        &self,
        statement: &Statement,
        _session_context: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        Self::respond(statement, client)
    }

    async fn handle_extended_parse_query(
        &self,
        statement: &Statement,
        _session_context: &SessionContext,
        _client: &(dyn ClientInfo + Send + Sync),
    ) -> Option<PgWireResult<LogicalPlan>> {
        matches!(
            statement,
            Statement::Savepoint { .. } | Statement::ReleaseSavepoint { .. }
        )
        .then(|| {
            Ok(LogicalPlan::EmptyRelation(EmptyRelation {
                produce_one_row: false,
                schema: Arc::new(DFSchema::empty()),
            }))
        })
    }

    async fn handle_extended_query(
        &self,
        statement: &Statement,
        _logical_plan: &LogicalPlan,
        _params: &ParamValues,
        _session_context: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        Self::respond(statement, client)
    }
}

/// `SET TIME ZONE` / `SET timezone`, kept for the session. datafusion-postgres would also set
/// DataFusion's `execution.time_zone`, which one context shares across every connection, so one
/// client's setting would change everyone's. The session's zone is reported (`SHOW`,
/// `current_setting`, the `TimeZone` parameter status); queries compute in UTC.
struct TimeZoneHook;

impl TimeZoneHook {
    /// The zone `statement` sets, if it is a session time-zone `SET`.
    fn zone(statement: &Statement) -> Option<String> {
        let Statement::Set(set) = statement else {
            return None;
        };
        let value = match set {
            Set::SetTimeZone {
                local: false,
                value,
            } => value.to_string(),
            Set::SingleAssignment {
                scope: None | Some(ContextModifier::Session),
                variable,
                values,
                ..
            } if variable.to_string().eq_ignore_ascii_case("timezone") && values.len() == 1 => {
                values[0].to_string()
            }
            _ => return None,
        };
        Some(value.trim_matches(|c| c == '\'' || c == '"').to_string())
    }

    async fn respond(
        statement: &Statement,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        let zone = Self::zone(statement)?;
        // The key datafusion-postgres' `SHOW TIME ZONE` reads.
        client
            .metadata_mut()
            .insert("timezone".to_string(), zone.clone());
        let status = ParameterStatus::new("TimeZone".to_string(), zone);
        if let Err(e) = client
            .send_message(PgWireBackendMessage::ParameterStatus(status))
            .await
        {
            return Some(Err(e));
        }
        Some(Ok(Response::Execution(Tag::new("SET"))))
    }
}

#[async_trait]
impl QueryHook for TimeZoneHook {
    async fn handle_simple_query(
        &self,
        statement: &Statement,
        _session_context: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        Self::respond(statement, client).await
    }

    async fn handle_extended_parse_query(
        &self,
        _statement: &Statement,
        _session_context: &SessionContext,
        _client: &(dyn ClientInfo + Send + Sync),
    ) -> Option<PgWireResult<LogicalPlan>> {
        // datafusion-postgres' SET hook plans every SET as an empty statement.
        None
    }

    async fn handle_extended_query(
        &self,
        statement: &Statement,
        _logical_plan: &LogicalPlan,
        _params: &ParamValues,
        _session_context: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        Self::respond(statement, client).await
    }
}

/// Answers DDL and `UPDATE`/`DELETE` with the command tag PostgreSQL sends, and runs
/// `DEALLOCATE`.
struct StatementHook;

/// Releases protocol-level prepared statements for `DEALLOCATE`; `None` for other statements.
fn deallocate(statement: &Statement, client: &mut dyn HookClient) -> Option<Response> {
    let Statement::Deallocate { name, .. } = statement else {
        return None;
    };
    let name = name.value.as_str();
    if name.eq_ignore_ascii_case("all") {
        // pgwire's store cannot enumerate statements; clients that deallocate everything
        // (psycopg after DDL) never reuse the old names, so they are simply left unused.
        return Some(Response::Execution(Tag::new("DEALLOCATE ALL")));
    }
    client.portal_store().rm_statement(name);
    Some(Response::Execution(Tag::new("DEALLOCATE")))
}

/// The command tag for statements that return no rows, and whether it carries a row count.
fn command_tag(statement: &Statement) -> Option<(&'static str, bool)> {
    Some(match statement {
        Statement::CreateTable(_) => ("CREATE TABLE", false),
        Statement::CreateView(_) => ("CREATE VIEW", false),
        Statement::CreateSchema { .. } => ("CREATE SCHEMA", false),
        Statement::Drop { object_type, .. } => match object_type {
            ObjectType::Table => ("DROP TABLE", false),
            ObjectType::View => ("DROP VIEW", false),
            ObjectType::Schema => ("DROP SCHEMA", false),
            _ => return None,
        },
        Statement::Update(_) => ("UPDATE", true),
        Statement::Delete(_) => ("DELETE", true),
        _ => return None,
    })
}

async fn execute_with_tag(df: DataFrame, tag: &str, counted: bool) -> PgWireResult<Response> {
    let batches = df
        .collect()
        .await
        .map_err(|e| PgWireError::ApiError(Box::new(e)))?;
    let tag = Tag::new(tag);
    if !counted {
        return Ok(Response::Execution(tag));
    }
    let rows: u64 = batches
        .iter()
        .filter_map(|b| b.column_by_name("count"))
        .filter_map(|c| c.as_any().downcast_ref::<UInt64Array>().cloned())
        .map(|c| (0..c.len()).map(|i| c.value(i)).sum::<u64>())
        .sum();
    Ok(Response::Execution(tag.with_rows(rows as usize)))
}

#[async_trait]
impl QueryHook for StatementHook {
    async fn handle_simple_query(
        &self,
        statement: &Statement,
        session_context: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        if let Some(response) = deallocate(statement, client) {
            return Some(Ok(response));
        }
        let (tag, counted) = command_tag(statement)?;
        let result = async {
            let df = session_context
                .sql(&statement.to_string())
                .await
                .map_err(|e| PgWireError::ApiError(Box::new(e)))?;
            execute_with_tag(df, tag, counted).await
        };
        Some(result.await)
    }

    async fn handle_extended_parse_query(
        &self,
        _statement: &Statement,
        _session_context: &SessionContext,
        _client: &(dyn ClientInfo + Send + Sync),
    ) -> Option<PgWireResult<LogicalPlan>> {
        None
    }

    async fn handle_extended_query(
        &self,
        statement: &Statement,
        logical_plan: &LogicalPlan,
        params: &ParamValues,
        session_context: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        if let Some(response) = deallocate(statement, client) {
            return Some(Ok(response));
        }
        let (tag, counted) = command_tag(statement)?;
        let result = async {
            let plan = logical_plan
                .clone()
                .replace_params_with_values(params)
                .map_err(|e| PgWireError::ApiError(Box::new(e)))?;
            let df = session_context
                .execute_logical_plan(plan)
                .await
                .map_err(|e| PgWireError::ApiError(Box::new(e)))?;
            execute_with_tag(df, tag, counted).await
        };
        Some(result.await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_counted_outside_quotes() {
        assert_eq!(highest_placeholder("SELECT $1 + $12, $3"), 12);
        assert_eq!(highest_placeholder("SELECT '$5', \"$7\", $2"), 2);
        assert_eq!(highest_placeholder("SELECT 1"), 0);
        assert_eq!(
            highest_placeholder("SELECT $1 -- costs $5\n/* $9 */ + $2"),
            2
        );
    }
}
