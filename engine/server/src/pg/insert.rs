//! `INSERT INTO <store table> …` over pg-wire: DataFusion plans the rows (column lists,
//! defaults as NULL, casts to the table's types) and the store appends them in one transaction,
//! all or nothing, as ingest does; the result cache drops what read the table.
//!
//! The DuckDB provider's own insert path refuses tables with primary keys ("Primary keys do not
//! match between the new table and the existing table"), which every demo table has.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::common::ParamValues;
use datafusion::logical_expr::{DmlStatement, LogicalPlan, WriteOp, dml::InsertOp};
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::Statement;
use datafusion_postgres::hooks::{HookClient, QueryHook};
use pgwire::api::ClientInfo;
use pgwire::api::results::{Response, Tag};
use pgwire::error::{PgWireError, PgWireResult};
use spirit_core::Engine;
use spirit_core::ingest::{IngestError, ingest_batches};

use super::errors::{api_error, sqlstate};

/// Runs inserts into store tables.
pub struct InsertHook {
    pub engine: Arc<Engine>,
}

impl InsertHook {
    /// The store table `plan` appends to, if it is an `INSERT INTO` one.
    async fn store_table(&self, plan: &LogicalPlan) -> Option<(String, Arc<LogicalPlan>)> {
        let LogicalPlan::Dml(DmlStatement {
            table_name,
            op: WriteOp::Insert(InsertOp::Append),
            input,
            ..
        }) = plan
        else {
            return None;
        };
        if !matches!(table_name.schema(), None | Some("public")) {
            return None;
        }
        let table = table_name.table().to_string();
        let store = self.engine.store().clone();
        let name = table.clone();
        let exists = tokio::task::spawn_blocking(move || store.has_table(&name))
            .await
            .ok()?
            .ok()?;
        exists.then(|| (table, Arc::clone(input)))
    }

    async fn insert(
        &self,
        ctx: &SessionContext,
        table: &str,
        input: LogicalPlan,
    ) -> PgWireResult<Response> {
        let batches = ctx
            .execute_logical_plan(input)
            .await
            .map_err(api_error)?
            .collect()
            .await
            .map_err(api_error)?;
        let stored = ingest_batches(&self.engine, table, batches)
            .await
            .map_err(|e| match e {
                IngestError::Refused(message) => {
                    PgWireError::UserError(Box::new(pgwire::error::ErrorInfo::new(
                        "ERROR".to_string(),
                        sqlstate::INTEGRITY_CONSTRAINT_VIOLATION.to_string(),
                        format!("the store refused the rows, so none were inserted: {message}"),
                    )))
                }
                other => api_error(other),
            })?;
        Ok(Response::Execution(
            Tag::new("INSERT")
                .with_oid(0)
                .with_rows(stored.rows as usize),
        ))
    }
}

#[async_trait]
impl QueryHook for InsertHook {
    async fn handle_simple_query(
        &self,
        statement: &Statement,
        session_context: &SessionContext,
        _client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        if !matches!(statement, Statement::Insert(_)) {
            return None;
        }
        let plan = match session_context
            .state()
            .statement_to_plan(DfStatement::Statement(Box::new(statement.clone())))
            .await
        {
            Ok(plan) => plan,
            Err(e) => return Some(Err(api_error(e))),
        };
        let (table, input) = self.store_table(&plan).await?;
        Some(
            self.insert(session_context, &table, Arc::unwrap_or_clone(input))
                .await,
        )
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
        _client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        if !matches!(statement, Statement::Insert(_)) {
            return None;
        }
        let (table, input) = self.store_table(logical_plan).await?;
        let input = match Arc::unwrap_or_clone(input).replace_params_with_values(params) {
            Ok(input) => input,
            Err(e) => return Some(Err(api_error(e))),
        };
        Some(self.insert(session_context, &table, input).await)
    }
}
