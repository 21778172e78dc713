//! The result cache on pg-wire: a query hook that answers metric queries from
//! [`ResultCache`](spirit_core::cache::ResultCache), over the simple and the extended protocol.
//!
//! A hit is encoded straight from the kept Arrow batches, in the text or binary formats the
//! client asked for, without planning. A miss is run here, kept, and answered the same way.
//! Statements the cache does not keep (anything not reading a metric view) go on to
//! datafusion-postgres unchanged, so they stream as before.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use datafusion::common::ParamValues;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::Statement;
use datafusion_postgres::arrow_pg::datatypes::df::encode_dataframe;
use datafusion_postgres::arrow_pg::datatypes::{arrow_schema_to_pg_fields, encode_recordbatch};
use datafusion_postgres::hooks::{HookClient, QueryHook};
use pgwire::api::ClientInfo;
use pgwire::api::portal::Format;
use pgwire::api::results::{QueryResponse, Response};
use pgwire::error::PgWireResult;
use pgwire::types::format::FormatOptions;
use spirit_core::Engine;
use spirit_core::cache::{CachedResult, Lookup};

use super::errors::api_error;

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
}

/// The cache hook; runs after the hooks that handle session statements.
pub struct CacheHook {
    pub engine: Arc<Engine>,
}

fn scope_format() -> Format {
    STATEMENT
        .try_with(|s| s.format.clone())
        .unwrap_or(Format::UnifiedText)
}

fn note_hit() {
    let _ = STATEMENT.try_with(|s| s.cache_hit.store(true, Ordering::Relaxed));
}

/// `result` as rows in `format`.
fn respond(
    result: &Arc<CachedResult>,
    format: &Format,
    client: &(dyn ClientInfo + Send + Sync),
) -> PgWireResult<Response> {
    let options = Arc::new(FormatOptions::from_client_metadata(client.metadata()));
    let fields = Arc::new(arrow_schema_to_pg_fields(
        &result.schema,
        format,
        Some(options),
    )?);
    let encoded = Arc::clone(&fields);
    let rows = result
        .batches
        .clone()
        .into_iter()
        .flat_map(move |batch| encode_recordbatch(Arc::clone(&encoded), batch));
    Ok(Response::Query(QueryResponse::new(
        fields,
        futures::stream::iter(rows),
    )))
}

async fn collect(ctx: &SessionContext, plan: LogicalPlan) -> PgWireResult<CachedResult> {
    spirit_core::cache::collect(ctx, plan)
        .await
        .map_err(api_error)
}

impl CacheHook {
    async fn simple(
        &self,
        statement: &Statement,
        ctx: &SessionContext,
        client: &(dyn ClientInfo + Send + Sync),
    ) -> Option<PgWireResult<Response>> {
        let text = statement.to_string();
        let cache = self.engine.cache();
        let mut ticket = match cache.lookup(&text, "").await {
            Lookup::Hit(result) => {
                note_hit();
                return Some(respond(&result, &Format::UnifiedText, client));
            }
            Lookup::Miss(ticket) if !ticket.needs_plan() && !ticket.cacheable() => return None,
            Lookup::Miss(ticket) => ticket,
        };
        let answer = async move {
            let plan = ctx
                .state()
                .statement_to_plan(DfStatement::Statement(Box::new(statement.clone())))
                .await
                .map_err(api_error)?;
            if let Some(result) = cache.learn(&mut ticket, &plan).await {
                note_hit();
                return respond(&result, &Format::UnifiedText, client);
            }
            if !ticket.cacheable() {
                let df = ctx.execute_logical_plan(plan).await.map_err(api_error)?;
                let options = Arc::new(FormatOptions::from_client_metadata(client.metadata()));
                return Ok(Response::Query(
                    encode_dataframe(df, &Format::UnifiedText, Some(options)).await?,
                ));
            }
            let result = Arc::new(collect(ctx, plan).await?);
            cache.finish(ticket, &result).await;
            respond(&result, &Format::UnifiedText, client)
        };
        Some(answer.await)
    }

    async fn extended(
        &self,
        statement: &Statement,
        plan: &LogicalPlan,
        params: &ParamValues,
        ctx: &SessionContext,
        client: &(dyn ClientInfo + Send + Sync),
    ) -> Option<PgWireResult<Response>> {
        let text = statement.to_string();
        let params_text = format!("{params:?}");
        let cache = self.engine.cache();
        let format = scope_format();
        let mut ticket = match cache.lookup(&text, &params_text).await {
            Lookup::Hit(result) => {
                note_hit();
                return Some(respond(&result, &format, client));
            }
            Lookup::Miss(ticket) => ticket,
        };
        if let Some(result) = cache.learn(&mut ticket, plan).await {
            note_hit();
            return Some(respond(&result, &format, client));
        }
        if !ticket.cacheable() {
            return None;
        }
        let answer = async move {
            let plan = plan
                .clone()
                .replace_params_with_values(params)
                .map_err(api_error)?;
            let result = Arc::new(collect(ctx, plan).await?);
            cache.finish(ticket, &result).await;
            respond(&result, &format, client)
        };
        Some(answer.await)
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
        self.simple(statement, session_context, &*client).await
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
        self.extended(statement, logical_plan, params, session_context, &*client)
            .await
    }
}
