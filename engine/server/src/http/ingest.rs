//! `POST /api/ingest/{table}`: newline-delimited JSON objects appended to a store table, all or
//! nothing (see [`spirit_core::ingest`]). Admins only: ingest writes data.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use spirit_core::ingest::{IngestError, Ingested, ingest_json_lines};

use super::HttpState;
use super::auth::Caller;
use super::error::{ApiError, BadLine, ErrorBody};

/// What a request stored.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct IngestResult {
    /// The table.
    pub table: String,
    /// Rows stored, durably: they survive a crash right after this answer.
    pub rows: u64,
}

#[utoipa::path(post, path = "/api/ingest/{table}", tag = "ingest",
    params(("table" = String, Path, description = "A store table (bookings, ai_interactions …)")),
    request_body(content(("application/x-ndjson")), description = "One JSON object per line, \
        keyed by column name; missing columns are NULL."),
    responses(
        (status = 200, body = IngestResult, description = "Every line was stored"),
        (status = 400, body = ErrorBody, description = "Some lines are malformed (listed with \
            their numbers in error.lines); none were stored"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "No such table"),
        (status = 409, body = ErrorBody, description = "The store refused the rows (a \
            duplicate key); none were stored"),
        (status = 413, description = "The body is larger than ingest_max_mb")),
    security(("basic" = []), ("bearer" = [])))]
pub async fn ingest(
    State(state): State<Arc<HttpState>>,
    caller: Caller,
    Path(table): Path<String>,
    body: Bytes,
) -> Result<Json<IngestResult>, ApiError> {
    caller.require_admin("ingest")?;
    match ingest_json_lines(&state.engine, &table, &body).await {
        Ok(Ingested { table, rows }) => Ok(Json(IngestResult { table, rows })),
        Err(e) => Err(match &e {
            IngestError::UnknownTable(_) => {
                ApiError::new(StatusCode::NOT_FOUND, "42P01", e.to_string())
            }
            IngestError::Empty => ApiError::bad_request("22023", e.to_string()),
            IngestError::UnknownColumn { .. } => ApiError::bad_request("42703", e.to_string()),
            IngestError::BadLines { bad, .. } => {
                let mut error = ApiError::bad_request("22P02", e.to_string());
                error.detail.lines = bad
                    .iter()
                    .map(|b| BadLine {
                        line: b.line,
                        message: b.message.clone(),
                    })
                    .collect();
                error
            }
            IngestError::Refused(_) => ApiError::new(StatusCode::CONFLICT, "23000", e.to_string()),
            IngestError::Store(inner) => ApiError::from_error(inner),
        }),
    }
}
