//! The platform's analytics endpoints (`/api/analytics/…`), each a thin layer over the same SQL
//! a pg-wire client would run: the metric views, the report functions and the prediction table
//! functions. Results go through the result cache like any query.

// utoipa's generated code for `params(DaysQuery)` names the extractor's type in full.
#![allow(unused_qualifications)]

use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use spirit_core::store::quote_literal;
use utoipa::{IntoParams, ToSchema};

use super::HttpState;
use super::auth::Caller;
use super::error::{ApiError, ErrorBody};
use super::query::{self, Column};

/// Rows of one query.
#[derive(Debug, Serialize, ToSchema)]
pub struct Rows {
    /// The columns, in order.
    pub columns: Vec<Column>,
    /// One object per row, keyed by column name.
    #[schema(value_type = Vec<Object>)]
    pub rows: Vec<Value>,
    /// The number of rows.
    pub row_count: usize,
    /// Whether the result came from the result cache.
    pub cached: bool,
}

/// Runs `sql` for `caller` and returns its rows.
pub async fn rows(state: &HttpState, caller: &Caller, sql: &str) -> Result<Rows, ApiError> {
    let answer = query::run(state, caller, sql).await?;
    let rows = query::rows_value(&answer.result)?;
    Ok(Rows {
        columns: query::columns(&answer.result),
        row_count: rows.len(),
        rows,
        cached: answer.cached,
    })
}

/// The first value of the first row, as text.
async fn scalar(state: &HttpState, caller: &Caller, sql: &str) -> Result<Value, ApiError> {
    let rows = rows(state, caller, sql).await?;
    Ok(rows
        .rows
        .into_iter()
        .next()
        .and_then(|row| match row {
            Value::Object(map) => map.into_iter().next().map(|(_, v)| v),
            _ => None,
        })
        .unwrap_or(Value::Null))
}

/// The dashboard's headline figures.
#[derive(Debug, Serialize, ToSchema)]
pub struct DashboardMetrics {
    /// Every KPI with its target and status (`metrics.kpi_overview`).
    pub kpis: Rows,
    /// Revenue by channel over the last 30 days, with growth (`metrics.revenue_by_channel`).
    pub revenue_by_channel: Rows,
    /// The three AI tracks (`metrics.ai_track_performance`).
    pub ai_tracks: Rows,
    /// The engine and platform health (`metrics.operational_health`).
    pub operational_health: Rows,
}

#[utoipa::path(get, path = "/api/analytics/dashboard/metrics", tag = "dashboard",
    responses((status = 200, body = DashboardMetrics), (status = 401, body = ErrorBody)),
    security(("basic" = []), ("bearer" = [])))]
pub async fn dashboard_metrics(
    State(state): State<Arc<HttpState>>,
    caller: Caller,
) -> Result<Json<DashboardMetrics>, ApiError> {
    Ok(Json(DashboardMetrics {
        kpis: rows(&state, &caller, "SELECT * FROM metrics.kpi_overview").await?,
        revenue_by_channel: rows(
            &state,
            &caller,
            "SELECT * FROM metrics.revenue_by_channel ORDER BY revenue DESC",
        )
        .await?,
        ai_tracks: rows(
            &state,
            &caller,
            "SELECT * FROM metrics.ai_track_performance ORDER BY track",
        )
        .await?,
        operational_health: rows(&state, &caller, "SELECT * FROM metrics.operational_health")
            .await?,
    }))
}

/// A period in days.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DaysQuery {
    /// Days, ending at the metrics' reference instant (default 30, at most 3660).
    pub days: Option<u32>,
}

/// Revenue over a period.
#[derive(Debug, Serialize, ToSchema)]
pub struct RevenueSummary {
    /// The period's length in days.
    pub days: u32,
    /// First day of the period.
    pub from: String,
    /// The day after the period.
    pub to: String,
    /// One row: revenue, bookings, commission and net revenue of the period, and the revenue of
    /// the period before it.
    pub totals: Rows,
    /// Revenue and bookings per day.
    pub daily: Rows,
    /// Revenue, bookings and net revenue per channel.
    pub by_channel: Rows,
}

/// The metrics' reference instant: `metrics_as_of`, or now.
fn as_of(state: &HttpState) -> Result<chrono::NaiveDateTime, ApiError> {
    Ok(state
        .engine
        .config()
        .metrics_as_of()
        .map_err(ApiError::from)?
        .unwrap_or_else(|| chrono::Utc::now().naive_utc()))
}

fn days(days: Option<u32>) -> Result<u32, ApiError> {
    match days.unwrap_or(30) {
        d @ 1..=3660 => Ok(d),
        d => Err(ApiError::bad_request(
            "22023",
            format!("days = {d}: give a number of days from 1 to 3660"),
        )),
    }
}

#[utoipa::path(get, path = "/api/analytics/dashboard/revenue-summary", tag = "dashboard",
    params(DaysQuery),
    responses((status = 200, body = RevenueSummary), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody)),
    security(("basic" = []), ("bearer" = [])))]
pub async fn revenue_summary(
    State(state): State<Arc<HttpState>>,
    caller: Caller,
    Query(query): Query<DaysQuery>,
) -> Result<Json<RevenueSummary>, ApiError> {
    let days = days(query.days)?;
    // The period ends with the reference instant's day, or the day before at midnight.
    let as_of = as_of(&state)?;
    let end = if as_of.time() == chrono::NaiveTime::MIN {
        as_of.date()
    } else {
        as_of.date() + chrono::Duration::days(1)
    };
    let start = end - chrono::Duration::days(i64::from(days));
    let previous = start - chrono::Duration::days(i64::from(days));
    let period = format!("day >= DATE '{start}' AND day < DATE '{end}'");
    Ok(Json(RevenueSummary {
        days,
        from: start.to_string(),
        to: end.to_string(),
        totals: rows(
            &state,
            &caller,
            &format!(
                "SELECT sum(revenue) FILTER (WHERE {period}) AS revenue, \
                 sum(bookings) FILTER (WHERE {period}) AS bookings, \
                 sum(commission) FILTER (WHERE {period}) AS commission, \
                 sum(net_revenue) FILTER (WHERE {period}) AS net_revenue, \
                 sum(revenue) FILTER (WHERE day < DATE '{start}') AS previous_revenue \
                 FROM metrics.revenue_daily WHERE day >= DATE '{previous}' AND day < DATE '{end}'"
            ),
        )
        .await?,
        daily: rows(
            &state,
            &caller,
            &format!(
                "SELECT day, sum(revenue) AS revenue, sum(bookings) AS bookings \
                 FROM metrics.revenue_daily WHERE {period} GROUP BY day ORDER BY day"
            ),
        )
        .await?,
        by_channel: rows(
            &state,
            &caller,
            &format!(
                "SELECT channel, sum(revenue) AS revenue, sum(bookings) AS bookings, \
                 sum(net_revenue) AS net_revenue FROM metrics.revenue_daily WHERE {period} \
                 GROUP BY channel ORDER BY revenue DESC"
            ),
        )
        .await?,
    }))
}

#[utoipa::path(get, path = "/api/analytics/dashboard/ai-agents-status", tag = "dashboard",
    responses((status = 200, body = Rows, description = "Each AI agent over the last 30 days \
        (metrics.ai_agent_performance)"), (status = 401, body = ErrorBody)),
    security(("basic" = []), ("bearer" = [])))]
pub async fn ai_agents_status(
    State(state): State<Arc<HttpState>>,
    caller: Caller,
) -> Result<Json<Rows>, ApiError> {
    Ok(Json(
        rows(
            &state,
            &caller,
            "SELECT * FROM metrics.ai_agent_performance ORDER BY agent_id",
        )
        .await?,
    ))
}

#[utoipa::path(get, path = "/api/analytics/kpis/overview", tag = "kpis",
    responses((status = 200, body = Rows, description = "Every KPI with its value, target and \
        status (metrics.kpi_overview)"), (status = 401, body = ErrorBody)),
    security(("basic" = []), ("bearer" = [])))]
pub async fn kpis_overview(
    State(state): State<Arc<HttpState>>,
    caller: Caller,
) -> Result<Json<Rows>, ApiError> {
    Ok(Json(
        rows(&state, &caller, "SELECT * FROM metrics.kpi_overview").await?,
    ))
}

/// The AI KPIs.
#[derive(Debug, Serialize, ToSchema)]
pub struct AiKpis {
    /// The KPIs of family `ai` (`metrics.kpi_overview`).
    pub kpis: Rows,
    /// The three tracks (`metrics.ai_track_performance`).
    pub tracks: Rows,
}

#[utoipa::path(get, path = "/api/analytics/kpis/ai-agents", tag = "kpis",
    responses((status = 200, body = AiKpis), (status = 401, body = ErrorBody)),
    security(("basic" = []), ("bearer" = [])))]
pub async fn kpis_ai_agents(
    State(state): State<Arc<HttpState>>,
    caller: Caller,
) -> Result<Json<AiKpis>, ApiError> {
    Ok(Json(AiKpis {
        kpis: rows(
            &state,
            &caller,
            "SELECT * FROM metrics.kpi_overview WHERE family = 'ai'",
        )
        .await?,
        tracks: rows(
            &state,
            &caller,
            "SELECT * FROM metrics.ai_track_performance ORDER BY track",
        )
        .await?,
    }))
}

/// What a dashboard needs to know to configure itself.
#[derive(Debug, Serialize, ToSchema)]
pub struct DashboardConfig {
    /// Seconds between live-feed snapshots.
    pub update_interval_seconds: f64,
    /// Seconds a cached result lives at most.
    pub cache_ttl_seconds: u64,
    /// `memory`, `redis` or `off`.
    pub cache_backend: String,
    /// The live feed's WebSocket path.
    pub realtime_path: String,
    /// The metric views a client may subscribe to.
    pub views: Vec<String>,
    /// The KPIs (`metrics.kpi_overview.kpi`).
    pub kpis: Vec<String>,
}

#[utoipa::path(get, path = "/api/analytics/config/dashboard", tag = "dashboard",
    responses((status = 200, body = DashboardConfig), (status = 401, body = ErrorBody)),
    security(("basic" = []), ("bearer" = [])))]
pub async fn dashboard_config(
    State(state): State<Arc<HttpState>>,
    caller: Caller,
) -> Result<Json<DashboardConfig>, ApiError> {
    let config = state.engine.config();
    let views = rows(
        &state,
        &caller,
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'metrics' \
         ORDER BY table_name",
    )
    .await?;
    let kpis = rows(
        &state,
        &caller,
        "SELECT kpi FROM metrics.kpi_overview ORDER BY kpi",
    )
    .await?;
    let names = |rows: Rows, column: &str| -> Vec<String> {
        rows.rows
            .iter()
            .filter_map(|r| r.get(column).and_then(Value::as_str).map(str::to_owned))
            .collect()
    };
    Ok(Json(DashboardConfig {
        update_interval_seconds: config.dashboard_update_seconds,
        cache_ttl_seconds: config.cache_ttl_seconds,
        cache_backend: state.engine.cache().backend_name().to_string(),
        realtime_path: "/api/analytics/dashboard/realtime".to_string(),
        views: names(views, "table_name"),
        kpis: names(kpis, "kpi"),
    }))
}

/// The engine's health.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`, or `degraded` when the store does not answer or the Redis cache is down.
    pub status: String,
    /// The engine's version.
    pub version: String,
    /// Seconds since start.
    pub uptime_seconds: u64,
    /// `ok`, or the store's error.
    pub store: String,
    /// The result cache.
    pub cache: CacheHealth,
    /// Live-feed clients connected.
    pub feed_clients: usize,
}

/// The result cache's state.
#[derive(Debug, Serialize, ToSchema)]
pub struct CacheHealth {
    /// `memory`, `redis` or `off`.
    pub backend: String,
    /// Whether Redis is failing (queries then run uncached).
    pub degraded: bool,
    /// Hits since start.
    pub hits: u64,
    /// Misses since start.
    pub misses: u64,
}

#[utoipa::path(get, path = "/api/analytics/health", tag = "health",
    responses((status = 200, body = Health, description = "The engine answers; `status` says \
        whether all of it is well")))]
pub async fn health(State(state): State<Arc<HttpState>>) -> Json<Health> {
    let store = state.engine.store().clone();
    let store = match tokio::task::spawn_blocking(move || store.table_names()).await {
        Ok(Ok(_)) => "ok".to_string(),
        Ok(Err(e)) => e.to_string(),
        Err(e) => e.to_string(),
    };
    let cache = state.engine.cache();
    let (hits, misses) = cache.counts();
    let degraded = cache.degraded();
    Json(Health {
        status: if store == "ok" && !degraded {
            "ok"
        } else {
            "degraded"
        }
        .to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        uptime_seconds: state.started.elapsed().as_secs(),
        store,
        cache: CacheHealth {
            backend: cache.backend_name().to_string(),
            degraded,
            hits,
            misses,
        },
        feed_clients: state.feed.clients(),
    })
}

/// A report to generate now.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GenerateReport {
    /// The report type, in either case: `FINANCIAL_SUMMARY`, `AI_PERFORMANCE`,
    /// `CUSTOMER_ANALYTICS`, `OPERATIONAL_HEALTH`, `SALES_PIPELINE`, `REVENUE_BREAKDOWN`,
    /// `CUSTOM`.
    pub report_type: String,
    /// Email addresses to send it to; none returns the HTML only.
    #[serde(default)]
    pub recipients: Vec<String>,
    /// Title and email subject instead of the type's.
    pub title: Option<String>,
    /// Days the report covers.
    pub days: Option<u32>,
    /// Further options, as `generate_report()` takes them (`slack`, `webhook`, `dir`, `pdf`,
    /// `sql` …).
    #[schema(value_type = Option<Object>)]
    pub options: Option<Map<String, Value>>,
}

/// A generated report.
#[derive(Debug, Serialize, ToSchema)]
pub struct GeneratedReport {
    /// The report type.
    pub report_type: String,
    /// Who it was sent to.
    pub recipients: Vec<String>,
    /// What `generate_report()` returned: the HTML without destinations, else where it went.
    pub result: String,
}

fn report_options(
    recipients: &[String],
    title: Option<&String>,
    days: Option<u32>,
    extra: Option<&Map<String, Value>>,
) -> String {
    let mut options = extra.cloned().unwrap_or_default();
    if !recipients.is_empty() {
        options.insert("to".into(), Value::from(recipients.to_vec()));
    }
    if let Some(title) = title {
        options.insert("title".into(), Value::from(title.clone()));
    }
    if let Some(days) = days {
        options.insert("days".into(), Value::from(days));
    }
    Value::Object(options).to_string()
}

#[utoipa::path(post, path = "/api/analytics/reports/generate", tag = "reports",
    request_body = GenerateReport,
    responses((status = 200, body = GeneratedReport), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 502, body = ErrorBody,
        description = "A destination refused the report after the retries")),
    security(("basic" = []), ("bearer" = [])))]
pub async fn generate_report(
    State(state): State<Arc<HttpState>>,
    caller: Caller,
    Json(request): Json<GenerateReport>,
) -> Result<Json<GeneratedReport>, ApiError> {
    let report_type = request.report_type.to_ascii_lowercase();
    let options = report_options(
        &request.recipients,
        request.title.as_ref(),
        request.days,
        request.options.as_ref(),
    );
    let result = scalar(
        &state,
        &caller,
        &format!(
            "SELECT generate_report({}, {}) AS result",
            quote_literal(&report_type),
            quote_literal(&options)
        ),
    )
    .await?;
    Ok(Json(GeneratedReport {
        report_type,
        recipients: request.recipients,
        result: result.as_str().unwrap_or_default().to_string(),
    }))
}

/// A report schedule to add.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleReport {
    /// The report type (see [`GenerateReport`]).
    pub report_type: String,
    /// `DAILY`, `WEEKLY`, `MONTHLY`, `QUARTERLY`, or a cron expression.
    pub frequency: String,
    /// Email addresses; or one `slack:<url>`, `webhook:<url>` or `dir:<path>` destination.
    pub recipients: Vec<String>,
    /// Further options (`at`, `timezone`, `days`, `title` …).
    #[schema(value_type = Option<Object>)]
    pub options: Option<Map<String, Value>>,
}

/// An added schedule.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScheduledReport {
    /// Its id (`spirit.report_schedules.id`).
    pub id: i64,
    /// The report type.
    pub report_type: String,
    /// The frequency as given.
    pub frequency: String,
}

#[utoipa::path(post, path = "/api/analytics/reports/schedule", tag = "reports",
    request_body = ScheduleReport,
    responses((status = 200, body = ScheduledReport), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody,
        description = "Only admins add schedules")),
    security(("basic" = []), ("bearer" = [])))]
pub async fn schedule_report(
    State(state): State<Arc<HttpState>>,
    caller: Caller,
    Json(request): Json<ScheduleReport>,
) -> Result<Json<ScheduledReport>, ApiError> {
    if request.recipients.is_empty() {
        return Err(ApiError::bad_request(
            "22023",
            "recipients is empty: give at least one email address or destination",
        ));
    }
    let report_type = request.report_type.to_ascii_lowercase();
    let frequency = request.frequency.trim().to_string();
    let frequency_sql = if frequency.contains(' ') {
        frequency.clone()
    } else {
        frequency.to_ascii_lowercase()
    };
    let options = report_options(&[], None, None, request.options.as_ref());
    let id = scalar(
        &state,
        &caller,
        &format!(
            "SELECT schedule_report({}, {}, {}, {}) AS id",
            quote_literal(&report_type),
            quote_literal(&frequency_sql),
            quote_literal(&request.recipients.join(",")),
            quote_literal(&options)
        ),
    )
    .await?;
    Ok(Json(ScheduledReport {
        id: id.as_i64().unwrap_or_default(),
        report_type,
        frequency,
    }))
}

#[utoipa::path(get, path = "/api/analytics/reports/scheduled", tag = "reports",
    responses((status = 200, body = Rows, description = "The schedules \
        (spirit.report_schedules; secrets shown as ***)"), (status = 401, body = ErrorBody)),
    security(("basic" = []), ("bearer" = [])))]
pub async fn scheduled_reports(
    State(state): State<Arc<HttpState>>,
    caller: Caller,
) -> Result<Json<Rows>, ApiError> {
    Ok(Json(
        rows(
            &state,
            &caller,
            "SELECT * FROM spirit.report_schedules ORDER BY id",
        )
        .await?,
    ))
}

/// A prediction to make.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PredictionRequest {
    /// `REVENUE_FORECAST`, `DEMAND_FORECAST`, `CHURN_RISK`, `PRICE_OPTIMIZATION` or
    /// `LEAD_CONVERSION`.
    pub prediction_type: String,
    /// Days ahead, for the forecasts (default 30).
    pub forecast_horizon: Option<i64>,
    /// Prediction interval level of the revenue forecast, between 0 and 1 (default 0.95).
    pub confidence_level: Option<f64>,
    /// Demand forecast of one tour only.
    pub tour_id: Option<i64>,
}

/// A prediction's rows.
#[derive(Debug, Serialize, ToSchema)]
pub struct Prediction {
    /// The prediction type, upper-case.
    pub prediction_type: String,
    /// The SQL that made it.
    pub sql: String,
    /// Its rows.
    pub result: Rows,
}

/// The SQL of a prediction request.
fn prediction_sql(request: &PredictionRequest) -> Result<String, ApiError> {
    let horizon = request.forecast_horizon.unwrap_or(30);
    if !(1..=3660).contains(&horizon) {
        return Err(ApiError::bad_request(
            "22023",
            format!("forecast_horizon = {horizon}: give a number of days from 1 to 3660"),
        ));
    }
    let level = request.confidence_level.unwrap_or(0.95);
    if !(level > 0.0 && level < 1.0) {
        return Err(ApiError::bad_request(
            "22023",
            format!("confidence_level = {level}: give a level between 0 and 1, such as 0.95"),
        ));
    }
    Ok(
        match request.prediction_type.to_ascii_uppercase().as_str() {
            "REVENUE_FORECAST" => format!("SELECT * FROM forecast_revenue({horizon}, {level})"),
            "DEMAND_FORECAST" => match request.tour_id {
                Some(tour) => format!("SELECT * FROM demand_forecast({horizon}, {tour})"),
                None => format!("SELECT * FROM demand_forecast({horizon})"),
            },
            "CHURN_RISK" | "CHURN_PREDICTION" => "SELECT * FROM churn_risk()".to_string(),
            "PRICE_OPTIMIZATION" => "SELECT * FROM price_recommendations()".to_string(),
            "LEAD_CONVERSION" | "BOOKING_PROBABILITY" => {
                "SELECT * FROM booking_probability()".to_string()
            }
            other => {
                return Err(ApiError::bad_request(
                    "22023",
                    format!(
                        "unknown prediction_type {other:?}: use REVENUE_FORECAST, DEMAND_FORECAST, \
                     CHURN_RISK, PRICE_OPTIMIZATION or LEAD_CONVERSION"
                    ),
                ));
            }
        },
    )
}

#[utoipa::path(post, path = "/api/analytics/predictions/generate", tag = "predictions",
    request_body = PredictionRequest,
    responses((status = 200, body = Prediction), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody)),
    security(("basic" = []), ("bearer" = [])))]
pub async fn generate_prediction(
    State(state): State<Arc<HttpState>>,
    caller: Caller,
    Json(request): Json<PredictionRequest>,
) -> Result<Json<Prediction>, ApiError> {
    let sql = prediction_sql(&request)?;
    Ok(Json(Prediction {
        prediction_type: request.prediction_type.to_ascii_uppercase(),
        result: rows(&state, &caller, &sql).await?,
        sql,
    }))
}

/// The revenue forecast's parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ForecastQuery {
    /// Days ahead (default 30).
    pub days: Option<i64>,
    /// Prediction interval level (default 0.95).
    pub confidence_level: Option<f64>,
}

#[utoipa::path(get, path = "/api/analytics/predictions/revenue-forecast", tag = "predictions",
    params(ForecastQuery),
    responses((status = 200, body = Rows, description = "forecast_revenue(days, level)"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("basic" = []), ("bearer" = [])))]
pub async fn revenue_forecast(
    State(state): State<Arc<HttpState>>,
    caller: Caller,
    Query(query): Query<ForecastQuery>,
) -> Result<Json<Rows>, ApiError> {
    let sql = prediction_sql(&PredictionRequest {
        prediction_type: "REVENUE_FORECAST".into(),
        forecast_horizon: query.days,
        confidence_level: query.confidence_level,
        tour_id: None,
    })?;
    Ok(Json(rows(&state, &caller, &sql).await?))
}

#[utoipa::path(get, path = "/api/analytics/predictions/churn-risk", tag = "predictions",
    responses((status = 200, body = Rows, description = "churn_risk(): each customer's \
        probability of churning"), (status = 401, body = ErrorBody)),
    security(("basic" = []), ("bearer" = [])))]
pub async fn churn_risk(
    State(state): State<Arc<HttpState>>,
    caller: Caller,
) -> Result<Json<Rows>, ApiError> {
    Ok(Json(
        rows(&state, &caller, "SELECT * FROM churn_risk()").await?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prediction_types_map_to_their_functions() {
        let request = |t: &str, h: Option<i64>| PredictionRequest {
            prediction_type: t.into(),
            forecast_horizon: h,
            confidence_level: None,
            tour_id: None,
        };
        assert_eq!(
            prediction_sql(&request("DEMAND_FORECAST", Some(14))).unwrap(),
            "SELECT * FROM demand_forecast(14)"
        );
        assert_eq!(
            prediction_sql(&request("revenue_forecast", None)).unwrap(),
            "SELECT * FROM forecast_revenue(30, 0.95)"
        );
        assert!(prediction_sql(&request("WEATHER", None)).is_err());
        assert!(prediction_sql(&request("DEMAND_FORECAST", Some(0))).is_err());
    }

    #[test]
    fn report_options_merge() {
        let extra: Map<String, Value> =
            serde_json::from_str(r#"{"pdf": true, "to": "x@example.com"}"#).unwrap();
        let options = report_options(
            &["cfo@example.com".into()],
            Some(&"Q3".to_string()),
            Some(7),
            Some(&extra),
        );
        let parsed: Value = serde_json::from_str(&options).unwrap();
        assert_eq!(parsed["to"][0], "cfo@example.com");
        assert_eq!(parsed["title"], "Q3");
        assert_eq!(parsed["days"], 7);
        assert_eq!(parsed["pdf"], true);
    }
}
