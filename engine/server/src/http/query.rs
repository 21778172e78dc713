//! SQL over HTTP: one statement, checked against the caller's role as pg-wire checks it, run
//! through the result cache when it is a query, recorded in the query log (front end `http`),
//! and its rows encoded as JSON, CSV or an Arrow IPC stream.

use std::sync::Arc;
use std::time::Instant;

use arrow::datatypes::DataType;
use arrow::ipc::writer::StreamWriter;
use arrow::json::writer::{JsonArray, WriterBuilder};
use datafusion::sql::parser::{DFParserBuilder, Statement as DfStatement};
use datafusion::sql::sqlparser::ast::Statement;
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use serde::Serialize;
use serde_json::Value;
use spirit_core::cache::CachedResult;
use spirit_core::telemetry::{QueryRecord, now_utc};
use utoipa::ToSchema;

use super::HttpState;
use super::auth::Caller;
use super::error::ApiError;
use crate::pg::auth::may_run;
use crate::pg::query_log::statement_kind;

/// A statement's rows, and whether they came from the result cache.
pub struct Answer {
    /// The rows.
    pub result: Arc<CachedResult>,
    /// Whether the result cache had them.
    pub cached: bool,
}

/// Runs one statement `sql` for `caller`.
pub async fn run(state: &HttpState, caller: &Caller, sql: &str) -> Result<Answer, ApiError> {
    let started = Instant::now();
    let answer = execute(state, caller, sql).await;
    let (rows, error_code, cache_hit) = match &answer {
        Ok(answer) => (answer.result.rows() as u64, None, answer.cached),
        Err(e) => (0, Some(e.detail.code.clone()), false),
    };
    state.telemetry.record(QueryRecord {
        at: now_utc(),
        user: Some(caller.user.clone()),
        statement_kind: statement_kind(sql),
        duration_ms: started.elapsed().as_secs_f64() * 1000.0,
        rows,
        error_code,
        cache_hit,
        front_end: "http",
    });
    answer
}

async fn execute(state: &HttpState, caller: &Caller, sql: &str) -> Result<Answer, ApiError> {
    let dialect = PostgreSqlDialect {};
    let mut statements = DFParserBuilder::new(sql)
        .with_dialect(&dialect)
        .build()
        .and_then(|mut parser| parser.parse_statements())
        .map_err(ApiError::from)?;
    let statement = match (statements.pop_front(), statements.is_empty()) {
        (Some(statement), true) => statement,
        (None, _) => {
            return Err(ApiError::bad_request("42601", "the SQL is empty"));
        }
        (Some(_), false) => {
            return Err(ApiError::bad_request(
                "0A000",
                "send one statement per request (found several separated by ';')",
            ));
        }
    };
    match &statement {
        DfStatement::Statement(inner) => {
            may_run(inner, caller.role).map_err(ApiError::forbidden)?
        }
        _ => caller.require_admin("this statement")?,
    }
    let engine = &state.engine;
    let is_query = matches!(&statement, DfStatement::Statement(inner) if matches!(**inner, Statement::Query(_)));
    if !is_query {
        let df = engine.sql(sql).await.map_err(ApiError::from)?;
        let schema = Arc::new(df.schema().as_arrow().clone());
        let batches = df.collect().await.map_err(ApiError::from)?;
        engine.cache().after_statement(sql).await;
        return Ok(Answer {
            result: Arc::new(CachedResult::new(schema, batches)),
            cached: false,
        });
    }
    let text = statement.to_string();
    let ctx = engine.context();
    let (result, cached) = engine
        .cache()
        .get_or_run(
            &text,
            "",
            || async { ctx.state().statement_to_plan(statement.clone()).await },
            |plan| spirit_core::cache::collect(ctx, plan),
        )
        .await?;
    Ok(Answer { result, cached })
}

/// A column of a result.
#[derive(Debug, Serialize, ToSchema)]
pub struct Column {
    /// Its name.
    pub name: String,
    /// Its PostgreSQL type name (`int8`, `float8`, `text`, `timestamp` …), as pg-wire reports it.
    #[serde(rename = "type")]
    pub type_name: String,
}

/// The columns of `result`.
pub fn columns(result: &CachedResult) -> Vec<Column> {
    result
        .schema
        .fields()
        .iter()
        .map(|f| Column {
            name: f.name().clone(),
            type_name: pg_type_name(f.data_type()),
        })
        .collect()
}

fn pg_type_name(data_type: &DataType) -> String {
    datafusion_postgres::arrow_pg::datatypes::into_pg_type(data_type)
        .map(|t| t.name().to_string())
        .unwrap_or_else(|_| data_type.to_string())
}

/// The rows of `result` as a JSON array of objects (every column present, NULL as `null`).
pub fn json_rows(result: &CachedResult) -> Result<Vec<u8>, ApiError> {
    let mut writer = WriterBuilder::new()
        .with_explicit_nulls(true)
        .build::<_, JsonArray>(Vec::new());
    for batch in &result.batches {
        writer.write(batch).map_err(|e| ApiError::from_error(&e))?;
    }
    writer.finish().map_err(|e| ApiError::from_error(&e))?;
    let bytes = writer.into_inner();
    Ok(if bytes.is_empty() {
        b"[]".to_vec()
    } else {
        bytes
    })
}

/// The rows of `result` as JSON values.
pub fn rows_value(result: &CachedResult) -> Result<Vec<Value>, ApiError> {
    serde_json::from_slice(&json_rows(result)?).map_err(|e| {
        ApiError::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "XX000",
            e.to_string(),
        )
    })
}

/// The rows of `result` as CSV with a header line.
pub fn csv(result: &CachedResult) -> Result<Vec<u8>, ApiError> {
    let mut writer = arrow::csv::WriterBuilder::new()
        .with_header(true)
        .build(Vec::new());
    if result.batches.is_empty() {
        let names: Vec<&str> = result
            .schema
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect();
        return Ok(format!("{}\n", names.join(",")).into_bytes());
    }
    for batch in &result.batches {
        writer.write(batch).map_err(|e| ApiError::from_error(&e))?;
    }
    Ok(writer.into_inner())
}

/// `result` as an Arrow IPC stream.
pub fn arrow_stream(result: &CachedResult) -> Result<Vec<u8>, ApiError> {
    let mut bytes = Vec::new();
    let mut writer =
        StreamWriter::try_new(&mut bytes, &result.schema).map_err(|e| ApiError::from_error(&e))?;
    for batch in &result.batches {
        writer.write(batch).map_err(|e| ApiError::from_error(&e))?;
    }
    writer.finish().map_err(|e| ApiError::from_error(&e))?;
    drop(writer);
    Ok(bytes)
}
