//! The HTTP front end (axum): the platform's REST API, ad-hoc SQL, real-time ingest, the live
//! dashboard feed (WebSocket), the OpenAPI document and Prometheus metrics.
//!
//! - [`analytics`]: `/api/analytics/…`, thin layers over the metric views and functions.
//! - [`sql`]: `POST /api/sql`, as JSON, CSV or Arrow IPC.
//! - [`ingest`]: `POST /api/ingest/{table}`, JSON lines.
//! - [`feed`]: `GET /api/analytics/dashboard/realtime`, the WebSocket feed.
//! - [`auth`]: basic and bearer authentication against the pg-wire users.
//! - [`query`]: running a statement for a caller (role check, cache, query log) and encoding it.
//! - [`error`]: JSON errors with SQLSTATEs and fitting statuses.
//! - [`openapi`]: the OpenAPI document, generated from the handlers.

pub mod analytics;
pub mod auth;
pub mod error;
pub mod feed;
pub mod ingest;
pub mod openapi;
pub mod query;
pub mod sql;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use spirit_core::Engine;
use spirit_core::observability;
use spirit_core::telemetry::Telemetry;
use tokio::net::TcpListener;
use utoipa::{OpenApi, ToSchema};

use crate::pg::auth::Users;
use auth::{Authenticator, Caller};
use error::{ApiError, ErrorBody};
use feed::Feed;

/// What every handler shares.
pub struct HttpState {
    /// The engine.
    pub engine: Arc<Engine>,
    /// Checks callers.
    pub auth: Authenticator,
    /// The query log.
    pub telemetry: Telemetry,
    /// The live feed's hub.
    pub feed: Arc<Feed>,
    /// When the server started.
    pub started: Instant,
}

impl HttpState {
    /// The state for `engine`, its `users` and `telemetry`; starts the live feed's hub.
    pub fn new(engine: Arc<Engine>, users: Arc<Users>, telemetry: Telemetry) -> Arc<Self> {
        let config = engine.config();
        let feed = Feed::new(
            Arc::clone(&engine),
            Duration::from_secs_f64(config.dashboard_update_seconds.max(0.1)),
            config.feed_buffer,
        );
        feed.start();
        Arc::new(Self {
            auth: Authenticator::new(
                users,
                config.api_token_secret.as_deref(),
                config.api_token_hours,
            ),
            engine,
            telemetry,
            feed,
            started: Instant::now(),
        })
    }
}

/// The API's routes.
pub fn router(state: Arc<HttpState>) -> Router {
    let ingest_limit = usize::try_from(
        state
            .engine
            .config()
            .ingest_max_mb
            .saturating_mul(1024 * 1024),
    )
    .unwrap_or(usize::MAX);
    Router::new()
        .route(
            "/api/analytics/dashboard/metrics",
            get(analytics::dashboard_metrics),
        )
        .route(
            "/api/analytics/dashboard/revenue-summary",
            get(analytics::revenue_summary),
        )
        .route(
            "/api/analytics/dashboard/ai-agents-status",
            get(analytics::ai_agents_status),
        )
        .route("/api/analytics/dashboard/realtime", get(feed::realtime))
        .route(
            "/api/analytics/reports/generate",
            post(analytics::generate_report),
        )
        .route(
            "/api/analytics/reports/schedule",
            post(analytics::schedule_report),
        )
        .route(
            "/api/analytics/reports/scheduled",
            get(analytics::scheduled_reports),
        )
        .route(
            "/api/analytics/predictions/generate",
            post(analytics::generate_prediction),
        )
        .route(
            "/api/analytics/predictions/revenue-forecast",
            get(analytics::revenue_forecast),
        )
        .route(
            "/api/analytics/predictions/churn-risk",
            get(analytics::churn_risk),
        )
        .route(
            "/api/analytics/kpis/overview",
            get(analytics::kpis_overview),
        )
        .route(
            "/api/analytics/kpis/ai-agents",
            get(analytics::kpis_ai_agents),
        )
        .route(
            "/api/analytics/config/dashboard",
            get(analytics::dashboard_config),
        )
        .route("/api/analytics/health", get(analytics::health))
        .route("/api/sql", post(sql::sql))
        .route(
            "/api/ingest/{table}",
            post(ingest::ingest).layer(DefaultBodyLimit::max(ingest_limit)),
        )
        .route("/api/auth/token", post(token))
        .route("/api/openapi.json", get(openapi_document))
        .route("/metrics", get(prometheus))
        .route_layer(middleware::from_fn(observe))
        .fallback(not_found)
        .with_state(state)
}

/// Serves `router` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    state: Arc<HttpState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Counts each request by its route and status, with its latency.
async fn observe(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "other".to_string(), |p| p.as_str().to_string());
    let started = Instant::now();
    let response = next.run(request).await;
    observability::http_request(
        &route,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such endpoint: GET /api/openapi.json lists them",
    )
}

/// A bearer token.
#[derive(Debug, Serialize, ToSchema)]
pub struct Token {
    /// Send it as `Authorization: Bearer <token>`.
    pub token: String,
    /// When it expires (RFC 3339, UTC).
    pub expires_at: String,
    /// Whose it is.
    pub user: String,
    /// Their role: `admin` or `analyst`.
    pub role: String,
}

#[utoipa::path(post, path = "/api/auth/token", tag = "auth",
    responses((status = 200, body = Token), (status = 401, body = ErrorBody)),
    security(("basic" = [])))]
async fn token(State(state): State<Arc<HttpState>>, caller: Caller) -> Json<Token> {
    let (token, expires) = state.auth.issue(&caller.user);
    let expires_at = chrono::DateTime::from_timestamp(expires, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default();
    Json(Token {
        token,
        expires_at,
        user: caller.user,
        role: caller.role.name().to_string(),
    })
}

async fn openapi_document() -> Json<utoipa::openapi::OpenApi> {
    Json(openapi::ApiDoc::openapi())
}

async fn prometheus() -> Response {
    (
        [(CONTENT_TYPE, observability::CONTENT_TYPE)],
        observability::render(),
    )
        .into_response()
}
