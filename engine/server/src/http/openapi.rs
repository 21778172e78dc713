//! The OpenAPI 3.1 document of the HTTP API, generated from the handlers' annotations and
//! served at `/api/openapi.json`.

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{analytics, feed, ingest, sql};

/// The API's document.
#[derive(OpenApi)]
#[openapi(
    info(title = "Spirit Analytics HTTP API",
        description = "The platform's analytics endpoints, ad-hoc SQL, real-time ingest and the \
            live dashboard feed. Authenticate as a pg-wire user: HTTP basic, or a bearer token \
            from POST /api/auth/token."),
    paths(
        analytics::dashboard_metrics,
        analytics::revenue_summary,
        analytics::ai_agents_status,
        feed::realtime,
        analytics::generate_report,
        analytics::schedule_report,
        analytics::scheduled_reports,
        analytics::generate_prediction,
        analytics::revenue_forecast,
        analytics::churn_risk,
        analytics::kpis_overview,
        analytics::kpis_ai_agents,
        analytics::dashboard_config,
        analytics::health,
        sql::sql,
        ingest::ingest,
        super::token,
    ),
    modifiers(&Security),
    tags(
        (name = "dashboard", description = "Dashboard figures and the live feed"),
        (name = "kpis", description = "KPIs against their targets"),
        (name = "reports", description = "Reports now and on a schedule"),
        (name = "predictions", description = "Forecasts and predictions"),
        (name = "sql", description = "Ad-hoc SQL"),
        (name = "ingest", description = "Real-time ingest"),
        (name = "auth", description = "Bearer tokens"),
        (name = "health", description = "Liveness"),
    )
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "basic",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Basic)),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}
