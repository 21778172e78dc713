//! Who may connect, and what they may do once connected.
//!
//! Every connection authenticates with SCRAM-SHA-256 against the users in `spirit.toml` (see
//! [`scram`](super::scram)); with none configured, the demo user `spirit` / `spirit` (admin)
//! exists, and `serve` refuses non-loopback addresses. After the password the database name is
//! checked (3D000), the connection is registered for cancel requests and the user's role is
//! attached to the session, where [`RoleHook`] and [`check_write`] read it: analysts read,
//! admins also change the catalog and the data (anything else gets 42501).

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, LazyLock, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use datafusion::common::ParamValues;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::{Set, Statement};
use datafusion_postgres::hooks::{HookClient, QueryHook};
use futures::{Sink, SinkExt};
use pgwire::api::auth::{
    DefaultServerParameterProvider, StartupHandler, finish_authentication, protocol_negotiation,
    save_startup_parameters_to_metadata,
};
use pgwire::api::results::Response;
use pgwire::api::{
    ClientInfo, ConnectionHandle, ConnectionManager, METADATA_DATABASE, METADATA_USER,
    PgWireConnectionState, PidSecretKeyGenerator, RandomPidSecretKeyGenerator,
};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::startup::Authentication;
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use spirit_core::Config;
use spirit_core::config::Role;

use super::errors::sqlstate;
use super::scram::{self, Exchange, ScramError, Verifier};

pub use spirit_core::config::DEMO_USER;

/// The users who may connect.
#[derive(Debug)]
pub struct Users {
    by_name: HashMap<String, (Role, Verifier)>,
    demo: bool,
}

impl Users {
    /// The users of `config`, or the demo user when it has none. A malformed verifier is an
    /// error naming the user.
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        if config.users.is_empty() {
            // The demo user's password is its name.
            let by_name = config
                .login_roles()
                .into_iter()
                .map(|(name, role)| {
                    let verifier = Verifier::new(&name);
                    (name, (role, verifier))
                })
                .collect();
            return Ok(Self {
                by_name,
                demo: true,
            });
        }
        let by_name = config
            .users
            .iter()
            .map(|(name, user)| {
                let verifier = Verifier::parse(&user.password).map_err(|e| {
                    anyhow::anyhow!(
                        "[users.{name}] password {e}; set it with `spirit user add {name} --role {}`",
                        user.role.name()
                    )
                })?;
                Ok((name.clone(), (user.role, verifier)))
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Self {
            by_name,
            demo: false,
        })
    }

    /// The role of `user` if `password` is theirs (HTTP basic authentication).
    pub fn check_password(&self, user: &str, password: &str) -> Option<Role> {
        let (role, verifier) = self.by_name.get(user)?;
        verifier.verify_password(password).then_some(*role)
    }

    /// The role of `user`, if they may still log in.
    pub fn role(&self, user: &str) -> Option<Role> {
        self.by_name.get(user).map(|(role, _)| *role)
    }

    /// Whether only the demo user exists (no users configured).
    pub fn is_demo(&self) -> bool {
        self.demo
    }
}

/// The role of the session's user, kept in the session's extensions (which, unlike the
/// metadata, `SET` cannot write).
#[derive(Debug, Clone, Copy)]
pub struct SessionRole(pub Role);

/// The SCRAM exchange of a connection that is authenticating.
#[derive(Debug, Default)]
struct PendingLogin(Mutex<Option<Exchange>>);

static PIDS: LazyLock<RandomPidSecretKeyGenerator> =
    LazyLock::new(RandomPidSecretKeyGenerator::default);

/// The start-up handler: SCRAM-SHA-256, then the database check.
pub struct Authenticator {
    pub(super) users: Arc<Users>,
    pub(super) connections: Arc<ConnectionManager>,
    pub(super) database: String,
    pub(super) parameters: DefaultServerParameterProvider,
}

fn fatal(code: &str, message: String) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "FATAL".to_string(),
        code.to_string(),
        message,
    )))
}

fn utf8(data: &[u8]) -> PgWireResult<&str> {
    std::str::from_utf8(data).map_err(|_| {
        fatal(
            sqlstate::PROTOCOL_VIOLATION,
            "SCRAM message is not UTF-8".into(),
        )
    })
}

impl Authenticator {
    fn user<C: ClientInfo>(client: &C) -> String {
        client
            .metadata()
            .get(METADATA_USER)
            .cloned()
            .unwrap_or_default()
    }

    fn scram_error(user: &str, error: ScramError) -> PgWireError {
        match error {
            ScramError::WrongPassword => PgWireError::InvalidPassword(user.to_string()),
            ScramError::Protocol(message) => fatal(sqlstate::PROTOCOL_VIOLATION, message),
        }
    }

    /// Everything after a correct password: database check, cancel registration, role.
    async fn logged_in<C>(&self, client: &mut C, user: &str) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let requested = client
            .metadata()
            .get(METADATA_DATABASE)
            .cloned()
            .unwrap_or_else(|| user.to_string());
        if requested != self.database {
            return Err(fatal(
                sqlstate::INVALID_CATALOG_NAME,
                format!(
                    "database \"{requested}\" does not exist; connect to database \"{}\"",
                    self.database
                ),
            ));
        }
        let role = self
            .users
            .by_name
            .get(user)
            .map(|(role, _)| *role)
            .ok_or_else(|| PgWireError::InvalidPassword(user.to_string()))?;
        let (pid, secret_key) = PIDS.generate(client);
        client.set_pid_and_secret_key(pid, secret_key.clone());
        let (handle, guard) = self.connections.register(pid, secret_key);
        let extensions = client.session_extensions();
        extensions.insert::<Arc<ConnectionHandle>>(handle);
        extensions.insert(guard);
        extensions.insert(SessionRole(role));
        finish_authentication(client, &self.parameters).await
    }
}

#[async_trait]
impl StartupHandler for Authenticator {
    async fn on_startup<C>(
        &self,
        client: &mut C,
        message: PgWireFrontendMessage,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        match message {
            PgWireFrontendMessage::Startup(ref startup) => {
                protocol_negotiation(client, startup).await?;
                save_startup_parameters_to_metadata(client, startup);
                client.set_state(PgWireConnectionState::AuthenticationInProgress);
                client
                    .send(PgWireBackendMessage::Authentication(Authentication::SASL(
                        vec![scram::MECHANISM.to_string()],
                    )))
                    .await?;
            }
            PgWireFrontendMessage::PasswordMessageFamily(message) => {
                let user = Self::user(client);
                let pending = client
                    .session_extensions()
                    .get_or_insert_with(PendingLogin::default);
                let exchange = pending.0.lock().expect("lock").take();
                match exchange {
                    None => {
                        let initial = message.into_sasl_initial_response()?;
                        if initial.auth_method != scram::MECHANISM {
                            return Err(fatal(
                                sqlstate::PROTOCOL_VIOLATION,
                                format!(
                                    "authentication method {} is not supported; use {}",
                                    initial.auth_method,
                                    scram::MECHANISM
                                ),
                            ));
                        }
                        let verifier = self
                            .users
                            .by_name
                            .get(&user)
                            .map(|(_, verifier)| verifier.clone())
                            .unwrap_or_else(Verifier::impossible);
                        let data = initial.data.unwrap_or_default();
                        let (exchange, server_first) = Exchange::start(verifier, utf8(&data)?)
                            .map_err(|e| Self::scram_error(&user, e))?;
                        *pending.0.lock().expect("lock") = Some(exchange);
                        client
                            .send(PgWireBackendMessage::Authentication(
                                Authentication::SASLContinue(Bytes::from(server_first)),
                            ))
                            .await?;
                    }
                    Some(exchange) => {
                        let response = message.into_sasl_response()?;
                        let server_final = exchange
                            .finish(utf8(&response.data)?)
                            .map_err(|e| Self::scram_error(&user, e))?;
                        client
                            .feed(PgWireBackendMessage::Authentication(
                                Authentication::SASLFinal(Bytes::from(server_final)),
                            ))
                            .await?;
                        self.logged_in(client, &user).await?;
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// The session's role; sessions that did not log in (none do) count as analysts.
fn session_role(client: &(impl ClientInfo + ?Sized)) -> Role {
    client
        .session_extensions()
        .get::<SessionRole>()
        .map_or(Role::Analyst, |role| role.0)
}

fn permission_denied(what: &str) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "ERROR".to_string(),
        sqlstate::INSUFFICIENT_PRIVILEGE.to_string(),
        denial(what),
    )))
}

/// Why an analyst may not run `what`.
fn denial(what: &str) -> String {
    format!(
        "permission denied: {what} needs the admin role, and this session's user is an \
         analyst (analysts can read everything; ask an admin to run it)"
    )
}

/// Whether `role` may run `statement`; the error says why not (any front end).
pub fn may_run(statement: &Statement, role: Role) -> Result<(), String> {
    if is_read_only(statement) || role == Role::Admin {
        Ok(())
    } else {
        Err(denial(&statement_kind(statement)))
    }
}

/// Refuses a statement the engine runs itself (`CREATE EXTERNAL TABLE`) to analysts.
pub fn check_write(client: &(impl ClientInfo + ?Sized), what: &str) -> PgWireResult<()> {
    match session_role(client) {
        Role::Admin => Ok(()),
        Role::Analyst => Err(permission_denied(what)),
    }
}

/// Functions that change what the engine keeps though called inside a SELECT, with what they
/// change: training adds a deployed model version, deploying switches versions; the report
/// functions add, remove and run schedules (which deliver reports).
const WRITING_FUNCTIONS: &[(&str, &str)] = &[
    ("train_model", "the model registry"),
    ("deploy_model", "the model registry"),
    ("schedule_report", "report schedules"),
    ("unschedule_report", "report schedules"),
    ("run_report_now", "report schedules"),
];

/// The writing function `statement` calls (as a table or in an expression), if any, with
/// what it changes.
fn writing_function(statement: &Statement) -> Option<(&'static str, &'static str)> {
    use datafusion::sql::sqlparser::ast::{Expr, ObjectName, visit_expressions, visit_relations};
    use std::ops::ControlFlow;
    let find = |name: &ObjectName| {
        let text = name.to_string().to_ascii_lowercase();
        let last = text
            .rsplit('.')
            .next()
            .unwrap_or_default()
            .trim_matches('"')
            .to_owned();
        WRITING_FUNCTIONS.iter().copied().find(|(f, _)| *f == last)
    };
    let mut found = None;
    let _ = visit_relations(statement, |name| {
        found = find(name);
        if found.is_some() {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    });
    if found.is_none() {
        let _ = visit_expressions(statement, |expr| {
            if let Expr::Function(function) = expr {
                found = find(&function.name);
            }
            if found.is_some() {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        });
    }
    found
}

/// Whether `statement` only reads (or only changes the session): what analysts may run.
fn is_read_only(statement: &Statement) -> bool {
    match statement {
        Statement::Query(_) => writing_function(statement).is_none(),
        Statement::ShowVariable { .. }
        | Statement::ShowVariables { .. }
        | Statement::ShowTables { .. }
        | Statement::ShowColumns { .. }
        | Statement::ShowFunctions { .. }
        | Statement::ShowCreate { .. }
        | Statement::ShowSchemas { .. }
        | Statement::ShowDatabases { .. }
        | Statement::ShowViews { .. }
        | Statement::StartTransaction { .. }
        | Statement::Commit { .. }
        | Statement::Rollback { .. }
        | Statement::Savepoint { .. }
        | Statement::ReleaseSavepoint { .. }
        | Statement::Declare { .. }
        | Statement::Fetch { .. }
        | Statement::Close { .. }
        | Statement::Deallocate { .. }
        | Statement::Discard { .. }
        | Statement::ExplainTable { .. } => true,
        Statement::Explain { statement, .. } => is_read_only(statement),
        // `SET datafusion.…` changes the engine's configuration for every session.
        Statement::Set(set) => !matches!(
            set,
            Set::SingleAssignment { variable, .. }
                if variable.to_string().to_ascii_lowercase().starts_with("datafusion.")
        ),
        _ => false,
    }
}

/// The first word of `statement`, for the denial message (`CREATE TABLE`, `INSERT`).
fn statement_kind(statement: &Statement) -> String {
    if let Some((function, changes)) = writing_function(statement) {
        return format!("{function}() (it changes {changes})");
    }
    let text = statement.to_string();
    let mut words = text.split_whitespace();
    let first = words.next().unwrap_or_default().to_uppercase();
    match first.as_str() {
        "CREATE" | "DROP" | "ALTER" => {
            let object = words
                .find(|w| !matches!(w.to_uppercase().as_str(), "OR" | "REPLACE" | "TEMPORARY"))
                .unwrap_or_default()
                .to_uppercase();
            format!("{first} {object}")
        }
        _ => first,
    }
}

/// Runs first among the query hooks: refuses writes to analysts with 42501.
pub struct RoleHook;

impl RoleHook {
    fn check(statement: &Statement, role: Role) -> Option<PgWireResult<Response>> {
        if is_read_only(statement) || role == Role::Admin {
            return None;
        }
        Some(Err(permission_denied(&statement_kind(statement))))
    }
}

#[async_trait]
impl QueryHook for RoleHook {
    async fn handle_simple_query(
        &self,
        statement: &Statement,
        _session_context: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        Self::check(statement, session_role(client))
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
        _logical_plan: &LogicalPlan,
        _params: &ParamValues,
        _session_context: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        Self::check(statement, session_role(client))
    }
}

#[cfg(test)]
mod tests {
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    use super::*;

    fn parse(sql: &str) -> Statement {
        Parser::parse_sql(&PostgreSqlDialect {}, sql)
            .unwrap()
            .remove(0)
    }

    #[test]
    fn analysts_may_read_and_set_but_not_write() {
        for sql in [
            "SELECT 1",
            "WITH t AS (SELECT 1) SELECT * FROM t",
            "SET search_path = public",
            "SHOW search_path",
            "BEGIN",
            "COMMIT",
            "EXPLAIN SELECT 1",
            "DECLARE c CURSOR FOR SELECT 1",
            "FETCH 10 FROM c",
            "CLOSE c",
        ] {
            assert!(is_read_only(&parse(sql)), "{sql}");
        }
        for sql in [
            "CREATE TABLE t (a INT)",
            "CREATE TABLE t AS SELECT 1",
            "INSERT INTO t VALUES (1)",
            "UPDATE t SET a = 1",
            "DELETE FROM t",
            "DROP TABLE t",
            "CREATE VIEW v AS SELECT 1",
            "CREATE SCHEMA s",
            "ALTER TABLE t ADD COLUMN b INT",
            "TRUNCATE t",
            "EXPLAIN ANALYZE INSERT INTO t VALUES (1)",
            "COPY t FROM '/tmp/x.csv'",
            "SELECT * FROM train_model('m', 'regression', 't', 'y')",
            "SELECT version FROM (SELECT * FROM deploy_model('m', 1)) d",
            "SELECT schedule_report('financial_summary', 'daily', 'cfo@example.com')",
            "SELECT unschedule_report(id) FROM spirit.report_schedules",
            "SELECT 1 WHERE run_report_now(3) IS NOT NULL",
        ] {
            assert!(!is_read_only(&parse(sql)), "{sql}");
        }
    }

    #[test]
    fn predictions_are_reads_but_training_is_not() {
        for sql in [
            "SELECT * FROM predict('m', 't')",
            "SELECT * FROM forecast('t', 'ts', 'v', 7)",
            "SELECT * FROM churn_risk()",
            "SELECT generate_report('financial_summary')",
        ] {
            assert!(is_read_only(&parse(sql)), "{sql}");
        }
        assert_eq!(
            statement_kind(&parse(
                "SELECT * FROM TRAIN_MODEL('m', 'regression', 't', 'y')"
            )),
            "train_model() (it changes the model registry)"
        );
        assert_eq!(
            statement_kind(&parse("SELECT Schedule_Report('x', 'daily', 'a@b.c')")),
            "schedule_report() (it changes report schedules)"
        );
    }

    #[test]
    fn denials_name_the_statement() {
        assert_eq!(
            statement_kind(&parse("create table t (a int)")),
            "CREATE TABLE"
        );
        assert_eq!(
            statement_kind(&parse("CREATE OR REPLACE VIEW v AS SELECT 1")),
            "CREATE VIEW"
        );
        assert_eq!(statement_kind(&parse("insert into t values (1)")), "INSERT");
    }
}
