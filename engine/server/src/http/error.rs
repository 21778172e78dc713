//! Errors of the HTTP API: a JSON body `{"error": {"code", "message", …}}` with the status
//! that fits, and the SQLSTATE pg-wire clients would get for the same failure.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::pg::classify;

/// The body of every error answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// What went wrong, and what to change.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// The SQLSTATE (`42P01`, `22023` …) or an HTTP-level code (`unauthorized`, `not_found`).
    pub code: String,
    /// What went wrong and what to change.
    pub message: String,
    /// The request's lines that could not be stored (ingest only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lines: Vec<BadLine>,
}

/// A line of an ingest request that could not be stored.
#[derive(Debug, Serialize, ToSchema)]
pub struct BadLine {
    /// Its number, from 1.
    pub line: usize,
    /// What is wrong with it.
    pub message: String,
}

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// See [`ErrorDetail`].
    pub detail: ErrorDetail,
}

impl ApiError {
    /// An error with `status`, `code` and `message`.
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            detail: ErrorDetail {
                code: code.to_string(),
                message: message.into(),
                lines: Vec::new(),
            },
        }
    }

    /// 400 with `message`.
    pub fn bad_request(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 401: no or wrong credentials.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "28P01", message)
    }

    /// 403: the caller's role may not do this.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "42501", message)
    }

    /// The error for an engine failure, by its SQLSTATE.
    pub fn from_error(err: &(dyn std::error::Error + 'static)) -> Self {
        let (code, message) = classify(err);
        Self::new(status_of(code), code, message)
    }
}

/// The HTTP status for SQLSTATE `code`.
pub fn status_of(code: &str) -> StatusCode {
    match code {
        "42501" => StatusCode::FORBIDDEN,
        "28P01" | "28000" => StatusCode::UNAUTHORIZED,
        "0A000" => StatusCode::NOT_IMPLEMENTED,
        "57014" => StatusCode::REQUEST_TIMEOUT,
        "58000" | "58030" => StatusCode::BAD_GATEWAY,
        c if c.starts_with("53") => StatusCode::SERVICE_UNAVAILABLE,
        c if c.starts_with("XX") => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    }
}

impl From<datafusion::error::DataFusionError> for ApiError {
    fn from(err: datafusion::error::DataFusionError) -> Self {
        Self::from_error(&err)
    }
}

impl From<spirit_core::SpiritError> for ApiError {
    fn from(err: spirit_core::SpiritError) -> Self {
        Self::from_error(&err)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(ErrorBody { error: self.detail })).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Basic realm=\"spirit\", Bearer"),
            );
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlstates_map_to_statuses() {
        assert_eq!(status_of("42P01"), StatusCode::BAD_REQUEST);
        assert_eq!(status_of("42501"), StatusCode::FORBIDDEN);
        assert_eq!(status_of("53300"), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(status_of("XX000"), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(status_of("58000"), StatusCode::BAD_GATEWAY);
    }
}
