//! `POST /api/sql`: one ad-hoc statement, answered as JSON, CSV or an Arrow IPC stream as the
//! `Accept` header asks.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::{ACCEPT, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::HttpState;
use super::auth::Caller;
use super::error::{ApiError, ErrorBody};
use super::query::{self, Column};

/// The Arrow IPC stream media type.
pub const ARROW_STREAM: &str = "application/vnd.apache.arrow.stream";

/// A statement to run (or send the SQL itself as `text/plain`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SqlRequest {
    /// One SQL statement.
    pub sql: String,
}

/// A statement's result as JSON.
#[derive(Debug, Serialize, ToSchema)]
pub struct SqlResult {
    /// The columns, in order.
    pub columns: Vec<Column>,
    /// One object per row, keyed by column name.
    #[schema(value_type = Vec<Object>)]
    pub rows: Vec<serde_json::Value>,
    /// The number of rows.
    pub row_count: usize,
    /// Whether the result came from the result cache.
    pub cached: bool,
}

#[utoipa::path(post, path = "/api/sql", tag = "sql",
    request_body(content((SqlRequest = "application/json"), ("text/plain"))),
    responses(
        (status = 200, description = "The rows, as the Accept header asks (JSON by default). \
            Header X-Spirit-Cache says hit or miss.",
            content((SqlResult = "application/json"), (String = "text/csv"),
                (Vec<u8> = "application/vnd.apache.arrow.stream"))),
        (status = 400, body = ErrorBody, description = "The SQL is wrong (the SQLSTATE says how)"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("basic" = []), ("bearer" = [])))]
pub async fn sql(
    State(state): State<Arc<HttpState>>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let is_json = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let sql = if is_json {
        serde_json::from_slice::<SqlRequest>(&body)
            .map_err(|e| {
                ApiError::bad_request(
                    "22023",
                    format!("cannot read the request: {e}; send {{\"sql\": \"SELECT …\"}}"),
                )
            })?
            .sql
    } else {
        String::from_utf8(body.to_vec())
            .map_err(|_| ApiError::bad_request("22021", "the SQL is not UTF-8 text"))?
    };
    let answer = query::run(&state, &caller, &sql).await?;
    let accept = headers
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    let (content_type, body) = if accept.contains(ARROW_STREAM) {
        (ARROW_STREAM, query::arrow_stream(&answer.result)?)
    } else if accept.contains("text/csv") {
        ("text/csv; charset=utf-8", query::csv(&answer.result)?)
    } else {
        let columns = serde_json::to_string(&query::columns(&answer.result))
            .map_err(|e| ApiError::from_error(&e))?;
        let rows = query::json_rows(&answer.result)?;
        let mut body = format!("{{\"columns\":{columns},\"rows\":").into_bytes();
        body.extend_from_slice(&rows);
        body.extend_from_slice(
            format!(
                ",\"row_count\":{},\"cached\":{}}}",
                answer.result.rows(),
                answer.cached
            )
            .as_bytes(),
        );
        ("application/json", body)
    };
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        "x-spirit-cache",
        HeaderValue::from_static(if answer.cached { "hit" } else { "miss" }),
    );
    Ok(response)
}
