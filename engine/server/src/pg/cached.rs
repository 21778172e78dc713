//! Queries on pg-wire: a query hook that answers every query statement (SELECT, WITH, VALUES),
//! from [`ResultCache`](spirit_core::cache::ResultCache) when it keeps the statement, over the
//! simple and the extended protocol.
//!
//! - A hit is encoded straight from the kept Arrow batches, in the text or binary formats the
//!   client asked for, without planning. The text rows of an in-process entry are encoded once
//!   and copied for later hits.
//! - A miss is run here, kept, and answered the same way.
//! - Statements the cache does not keep (anything not reading a metric view) are planned from
//!   the parsed statement and streamed (see [`rows`](super::rows)). datafusion-postgres' own
//!   path would print the statement and parse it again, and, over the extended protocol,
//!   optimise the plan twice.
//! - A statement the store runs whole is prepared: its DuckDB SQL is kept, and the next time
//!   it comes it goes to DuckDB without planning (see [`spirit_core::prepared`]).
//! - Over the simple protocol, statements that differ only in their filters' literals share
//!   their shape's prepared query (see [`spirit_core::shapes`]): the point query of an id.
//!   Over the extended protocol, a statement with `$n` parameters is prepared with them, and
//!   later executions bind their values to its query.
//! - Over the simple protocol, a statement text the cache or a prepared query answered once is
//!   answered again without parsing ([`CacheHook::answer_sent`]); over the extended protocol, a
//!   Parse of a prepared statement's text (with parameters or without) is answered without
//!   parsing or planning ([`CacheHook::prepared_for`]). Dashboards, BI tools over pgjdbc and
//!   pgbench send the same text over and over.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use async_trait::async_trait;
use datafusion::common::ParamValues;
use datafusion::execution::SessionState;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::Statement;
use datafusion_postgres::arrow_pg::datatypes::arrow_schema_to_pg_fields;
use datafusion_postgres::hooks::{HookClient, QueryHook};
use pgwire::api::ClientInfo;
use pgwire::api::portal::Format;
use pgwire::api::results::{FieldInfo, QueryResponse, Response};
use pgwire::error::PgWireResult;
use pgwire::messages::data::DataRow;
use pgwire::types::format::FormatOptions;
use spirit_core::Engine;
use spirit_core::cache::{CachedResult, Lookup, Ticket};
use spirit_core::prepared::{PreparedPlan, PreparedQuery};
use spirit_core::shapes::{self, Shape};

use super::cancel::statement_timeout;
use super::errors::api_error;
use super::rows;

/// Statement texts remembered at most by [`CacheHook::answer_sent`].
const MAX_SENT: usize = 10_000;

tokio::task_local! {
    /// What the statement being served needs from the hook: the result formats its portal
    /// asked for, and where to say it was a cache hit (for the query log).
    pub static STATEMENT: StatementScope;
}

/// See [`STATEMENT`].
#[derive(Clone)]
pub struct StatementScope {
    /// The result column formats (text for the simple protocol).
    pub format: Format,
    /// Set on a cache hit.
    pub cache_hit: Arc<AtomicBool>,
    /// The text the cache keys the statement by, set when the cache answered it (hit or kept)
    /// or its prepared store query ran.
    pub cache_text: Arc<OnceLock<String>>,
}

impl StatementScope {
    /// The scope of a statement whose results go out in `format`.
    pub fn new(format: Format, cache_hit: Arc<AtomicBool>) -> Self {
        Self {
            format,
            cache_hit,
            cache_text: Arc::default(),
        }
    }
}

/// The query hook; runs after the hooks that handle session statements.
pub struct CacheHook {
    pub engine: Arc<Engine>,
    /// Statement texts as clients sent them, with the text the cache keys them by: only texts
    /// the session does not change (see [`super::compat::rewrite`]) that were one query the
    /// cache or a prepared store query answered, or that a Parse message sent.
    sent: Mutex<HashMap<String, String>>,
}

fn scope_format() -> Format {
    STATEMENT
        .try_with(|s| s.format.clone())
        .unwrap_or(Format::UnifiedText)
}

/// Notes that the cache answers the statement keyed by `text`; `hit` when it had the result.
fn note_cached(text: &str, hit: bool) {
    let _ = STATEMENT.try_with(|s| {
        if hit {
            s.cache_hit.store(true, Ordering::Relaxed);
        }
        let _ = s.cache_text.set(text.to_string());
    });
}

/// The text rows of an entry, as encoded for `options`.
struct TextRows {
    options: FormatOptions,
    fields: Arc<Vec<FieldInfo>>,
    rows: Vec<DataRow>,
}

/// `result` as rows in `format`.
fn respond(
    result: &Arc<CachedResult>,
    format: &Format,
    client: &(dyn ClientInfo + Send + Sync),
) -> PgWireResult<Response> {
    let options = FormatOptions::from_client_metadata(client.metadata());
    if matches!(format, Format::UnifiedText) {
        let kept = result
            .encoded
            .get()
            .and_then(|kept| kept.downcast_ref::<TextRows>())
            .filter(|kept| kept.options == options);
        if let Some(kept) = kept {
            return Ok(text_response(kept));
        }
        let fields = fields_for(result, format, &options)?;
        let rows = result
            .batches
            .iter()
            .flat_map(|batch| rows::encode_batch(&fields, &options, batch.clone()))
            .collect::<PgWireResult<Vec<_>>>()?;
        let encoded = TextRows {
            options,
            fields,
            rows,
        };
        let response = text_response(&encoded);
        // Kept for the first session's options only; others encode on each hit.
        let _ = result.encoded.set(Box::new(encoded));
        return Ok(response);
    }
    let fields = fields_for(result, format, &options)?;
    let encoder = Arc::clone(&fields);
    let rows = result
        .batches
        .clone()
        .into_iter()
        .flat_map(move |batch| rows::encode_batch(&encoder, &options, batch));
    Ok(Response::Query(QueryResponse::new(
        fields,
        futures::stream::iter(rows),
    )))
}

fn text_response(text: &TextRows) -> Response {
    Response::Query(QueryResponse::new(
        Arc::clone(&text.fields),
        futures::stream::iter(text.rows.clone().into_iter().map(Ok)),
    ))
}

fn fields_for(
    result: &CachedResult,
    format: &Format,
    options: &FormatOptions,
) -> PgWireResult<Arc<Vec<FieldInfo>>> {
    Ok(Arc::new(arrow_schema_to_pg_fields(
        &result.schema,
        format,
        Some(Arc::new(options.clone())),
    )?))
}

/// Runs `planning` within the session's `statement_timeout` (the rows are guarded by
/// [`super::cancel`] as they stream).
async fn within_timeout<T>(
    client: &(dyn ClientInfo + Send + Sync),
    planning: impl Future<Output = PgWireResult<T>>,
) -> PgWireResult<T> {
    match super::query::statement_deadline(client) {
        Some(deadline) => tokio::time::timeout_at(deadline, planning)
            .await
            .map_err(|_| statement_timeout())?,
        None => planning.await,
    }
}

/// The plan of `statement`, made from the parsed statement, with the session state that made
/// it (cloning the state copies every function's registration, so a statement clones it once).
async fn plan(
    ctx: &SessionContext,
    statement: &Statement,
    client: &(dyn ClientInfo + Send + Sync),
) -> PgWireResult<(SessionState, LogicalPlan)> {
    let state = ctx.state();
    let plan = within_timeout(client, async {
        state
            .statement_to_plan(DfStatement::Statement(Box::new(statement.clone())))
            .await
            .map_err(api_error)
    })
    .await?;
    Ok((state, plan))
}

/// Streams the rows of query `plan`, made with `state`, in `format`. `prepare_as`, the
/// statement's text and parsed form, lets the store keep the statement's SQL when the whole plan
/// runs there (see [`spirit_core::prepared`]); it is `None` for statements with parameters.
async fn stream(
    engine: &Engine,
    state: SessionState,
    plan: LogicalPlan,
    prepare_as: Option<(&str, &Statement)>,
    format: &Format,
    client: &(dyn ClientInfo + Send + Sync),
) -> PgWireResult<Response> {
    let options = Arc::new(FormatOptions::from_client_metadata(client.metadata()));
    within_timeout(client, async {
        let batches = engine
            .store()
            .prepared()
            .execute(&state, plan, prepare_as)
            .await
            .map_err(api_error)?;
        rows::encode_stream(batches, format, options)
    })
    .await
    .map(Response::Query)
}

async fn collect(ctx: &SessionContext, plan: LogicalPlan) -> PgWireResult<CachedResult> {
    spirit_core::cache::collect(ctx, plan)
        .await
        .map_err(api_error)
}

impl CacheHook {
    /// The hook over `engine`'s result cache.
    pub fn new(engine: Arc<Engine>) -> Self {
        Self {
            engine,
            sent: Mutex::default(),
        }
    }

    /// Answers `sent`, a statement text exactly as a client sent it over the simple protocol,
    /// from the cache without parsing it, when the cache answered the same text before and
    /// still holds a valid result; `None` otherwise (the statement then runs as usual).
    pub async fn answer_sent(
        &self,
        sent: &str,
        client: &(dyn ClientInfo + Send + Sync),
    ) -> Option<PgWireResult<Response>> {
        let text = self.sent.lock().expect("sent lock").get(sent).cloned()?;
        match self.known(&text, "", &Format::UnifiedText, client).await {
            Known::Answered(response) => Some(response),
            Known::Unknown(_) => None,
        }
    }

    /// The prepared store query of `sent`, a statement text exactly as a client sent it in a
    /// Parse message, with the text the statement is known by; `None` when it has none. A text
    /// with parameters has the query kept for it with them.
    pub fn prepared_for(&self, sent: &str) -> Option<(String, Arc<PreparedQuery>)> {
        let text = self.sent.lock().expect("sent lock").get(sent).cloned()?;
        let prepared = self.engine.store().prepared();
        let query = prepared.get(&text).or_else(|| prepared.for_shape(&text))?;
        Some((text, query))
    }

    /// Remembers that the cache answered `sent` (one statement, which the session does not
    /// change) by the text `scope` noted.
    pub fn remember_sent(&self, sent: &str, scope: &StatementScope) {
        if let Some(text) = scope.cache_text.get() {
            self.remember(sent, text);
        }
    }

    /// Remembers that `sent`, a statement text as a client sent it, which the session does not
    /// change, is the query statement known by `text`.
    pub fn remember(&self, sent: &str, text: &str) {
        let mut memo = self.sent.lock().expect("sent lock");
        if memo.len() >= MAX_SENT {
            memo.clear();
        }
        if memo.get(sent).is_none_or(|known| known != text) {
            memo.insert(sent.to_string(), text.to_string());
        }
    }

    /// Answers statement `text` with `params` (their display, empty without) from the result
    /// cache, or by its prepared store query; otherwise the cache's ticket for it.
    async fn known(
        &self,
        text: &str,
        params: &str,
        format: &Format,
        client: &(dyn ClientInfo + Send + Sync),
    ) -> Known {
        let ticket = match self.engine.cache().lookup(text, params).await {
            Lookup::Hit(result) => {
                note_cached(text, true);
                return Known::Answered(respond(&result, format, client));
            }
            Lookup::Miss(ticket) => ticket,
        };
        let prepared = self.engine.store().prepared();
        // A prepared query is only made for statements the cache does not keep.
        if params.is_empty()
            && !ticket.needs_plan()
            && !ticket.cacheable()
            && let Some(query) = prepared.get(text)
        {
            note_cached(text, false);
            let options = Arc::new(FormatOptions::from_client_metadata(client.metadata()));
            let response = rows::encode_stream(prepared.run(text, &query), format, options);
            return Known::Answered(response.map(Response::Query));
        }
        Known::Unknown(ticket)
    }

    /// Runs statement `text`'s `plan` (parameters bound), made with `state`, through the cache.
    #[allow(clippy::too_many_arguments)]
    async fn run(
        &self,
        mut ticket: Ticket,
        (text, statement): (&str, &Statement),
        (state, plan): (SessionState, LogicalPlan),
        prepare: Prepare,
        format: &Format,
        ctx: &SessionContext,
        client: &(dyn ClientInfo + Send + Sync),
    ) -> PgWireResult<Response> {
        let cache = self.engine.cache();
        if let Some(result) = cache.learn(&mut ticket, &plan).await {
            note_cached(text, true);
            return respond(&result, format, client);
        }
        if !ticket.cacheable() {
            let prepared = self.engine.store().prepared();
            // Shapes' and parameterized statements' queries are made beside this statement's own
            // run, which they do not delay.
            let prepare_as = match prepare {
                Prepare::Yes(shape) => {
                    if let Some(shape) = shape
                        && prepared.shape_wanted(&shape.text)
                    {
                        let (prepared, state) = (Arc::clone(prepared), state.clone());
                        tokio::spawn(async move { prepared.prepare_shape(&state, &shape).await });
                    }
                    Some((text, statement))
                }
                Prepare::Parameters(unbound, count) => {
                    if prepared.shape_wanted(text) {
                        let (prepared, state) = (Arc::clone(prepared), state.clone());
                        let (text, statement) = (text.to_string(), statement.clone());
                        tokio::spawn(async move {
                            prepared
                                .prepare_parameters(&state, (&text, &statement), &unbound, count)
                                .await
                        });
                    }
                    None
                }
            };
            return stream(&self.engine, state, plan, prepare_as, format, client).await;
        }
        let result = Arc::new(collect(ctx, plan).await?);
        cache.finish(ticket, &result).await;
        note_cached(text, false);
        respond(&result, format, client)
    }

    async fn simple(
        &self,
        statement: &Statement,
        ctx: &SessionContext,
        client: &(dyn ClientInfo + Send + Sync),
    ) -> PgWireResult<Response> {
        let text = statement.to_string();
        let format = Format::UnifiedText;
        let ticket = match self.known(&text, "", &format, client).await {
            Known::Answered(response) => return response,
            Known::Unknown(ticket) => ticket,
        };
        // Statements of a shape the cache does not keep may share the shape's store query.
        let shape = if ticket.cacheable() {
            None
        } else {
            shapes::shape(statement).map(Box::new)
        };
        let prepared = self.engine.store().prepared();
        if let Some(shape) = &shape
            && let Some(query) = prepared.for_shape(&shape.text)
            && let Some(batches) = prepared.run_shape(shape, &query)
        {
            // Not noted as answered: the sent text itself will not come again.
            let options = Arc::new(FormatOptions::from_client_metadata(client.metadata()));
            return rows::encode_stream(batches, &format, options).map(Response::Query);
        }
        let planned = plan(ctx, statement, client).await?;
        self.run(
            ticket,
            (&text, statement),
            planned,
            Prepare::Yes(shape),
            &format,
            ctx,
            client,
        )
        .await
    }

    async fn extended(
        &self,
        statement: &Statement,
        plan_made: &LogicalPlan,
        params: &ParamValues,
        ctx: &SessionContext,
        client: &(dyn ClientInfo + Send + Sync),
    ) -> PgWireResult<Response> {
        let text = statement.to_string();
        let params_text = params_display(params);
        let format = scope_format();
        let ticket = match self.known(&text, &params_text, &format, client).await {
            Known::Answered(response) => return response,
            Known::Unknown(ticket) => ticket,
        };
        let prepared = self.engine.store().prepared();
        let with_params = !params_text.is_empty();
        if with_params
            && !ticket.needs_plan()
            && !ticket.cacheable()
            && let Some(query) = prepared.for_shape(&text)
            && let Some(batches) = prepared.run_parameters(&text, &query, params)
        {
            let options = Arc::new(FormatOptions::from_client_metadata(client.metadata()));
            return rows::encode_stream(batches, &format, options).map(Response::Query);
        }
        let (state, unbound) = if PreparedPlan::of(plan_made).is_some() {
            // Parse answered with a prepared query that the catalog has outdated since, or whose
            // values did not bind.
            plan(ctx, statement, client).await?
        } else {
            (ctx.state(), plan_made.clone())
        };
        let (plan, prepare) = if with_params {
            let bound = unbound
                .clone()
                .replace_params_with_values(params)
                .map_err(api_error)?;
            (
                bound,
                Prepare::Parameters(Box::new(unbound), param_count(params)),
            )
        } else {
            (unbound, Prepare::Yes(None))
        };
        self.run(
            ticket,
            (&text, statement),
            (state, plan),
            prepare,
            &format,
            ctx,
            client,
        )
        .await
    }
}

/// How a statement the cache does not keep may be prepared (see [`spirit_core::prepared`]).
enum Prepare {
    /// Under its text, and its shape's too when it has one that could be prepared.
    Yes(Option<Box<Shape>>),
    /// With its parameters, from its plan before they were bound, and how many there are.
    Parameters(Box<LogicalPlan>, usize),
}

/// What the result cache and the prepared queries know of a statement.
enum Known {
    /// It was answered.
    Answered(PgWireResult<Response>),
    /// It must be planned; the result cache's ticket for it.
    Unknown(Ticket),
}

/// How many values `params` binds.
fn param_count(params: &ParamValues) -> usize {
    match params {
        ParamValues::List(values) => values.len(),
        ParamValues::Map(values) => values.len(),
    }
}

/// `params` as the cache keys them: empty when there are none.
fn params_display(params: &ParamValues) -> String {
    if param_count(params) == 0 {
        String::new()
    } else {
        format!("{params:?}")
    }
}

#[async_trait]
impl QueryHook for CacheHook {
    async fn handle_simple_query(
        &self,
        statement: &Statement,
        session_context: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        if !matches!(statement, Statement::Query(_)) {
            return None;
        }
        Some(self.simple(statement, session_context, &*client).await)
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
        if !matches!(statement, Statement::Query(_)) {
            return None;
        }
        Some(
            self.extended(statement, logical_plan, params, session_context, &*client)
                .await,
        )
    }
}
