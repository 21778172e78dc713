//! The tour operator's predictions over the demo schema, as table functions:
//! `forecast_revenue`, `demand_forecast`, `churn_risk`, `price_recommendations` and
//! `booking_probability`. Each builds its training data with SQL over the store, trains (or
//! reuses) its models through [`training`], and answers from them.
//!
//! Models train on first use and again once older than the retrain interval (daily by
//! default), with a line in the log; answers are cached until then. When there is too little
//! data for the main model, a linear model answers and the `model` column says so.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use arrow::array::{
    Array, ArrayRef, Date32Array, Float64Array, Int32Array, RecordBatch, StringArray,
};
use arrow::compute::{cast, concat_batches};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{TableFunctionImpl, TableProvider};
use datafusion::logical_expr::Expr;
use datafusion::prelude::SessionContext;
use serde_json::Value;

use crate::data::{column_index, query, to_f64};
use crate::forecast::{forecast_batch, forecast_schema, run};
use crate::functions::{Args, Computed};
use crate::models::{self, ModelVersion};
use crate::series::Series;
use crate::training::{self, TrainSpec, predict_batch};
use crate::{Ml, Result, invalid};

/// Answers kept until the models behind them are retrained.
#[derive(Debug, Default)]
pub struct Cache {
    entries: Mutex<HashMap<String, (Instant, RecordBatch)>>,
}

impl Cache {
    fn get(&self, key: &str, ttl: std::time::Duration) -> Option<RecordBatch> {
        let entries = self.entries.lock().expect("lock");
        entries
            .get(key)
            .filter(|(at, _)| at.elapsed() < ttl)
            .map(|(_, batch)| batch.clone())
    }

    fn put(&self, key: String, batch: RecordBatch) {
        self.entries
            .lock()
            .expect("lock")
            .insert(key, (Instant::now(), batch));
    }

    /// Drops every cached answer (a model was retrained or redeployed).
    pub fn clear(&self) {
        self.entries.lock().expect("lock").clear();
    }
}

/// Registers the five functions.
pub fn register(ml: &Arc<Ml>, ctx: &SessionContext) {
    for kind in [
        Domain::Revenue,
        Domain::Demand,
        Domain::Churn,
        Domain::Prices,
        Domain::Leads,
    ] {
        ctx.register_udtf(
            kind.name(),
            Arc::new(DomainFunction {
                ml: Arc::clone(ml),
                kind,
            }),
        );
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Domain {
    Revenue,
    Demand,
    Churn,
    Prices,
    Leads,
}

impl Domain {
    fn name(self) -> &'static str {
        match self {
            Self::Revenue => "forecast_revenue",
            Self::Demand => "demand_forecast",
            Self::Churn => "churn_risk",
            Self::Prices => "price_recommendations",
            Self::Leads => "booking_probability",
        }
    }
}

struct DomainFunction {
    ml: Arc<Ml>,
    kind: Domain,
}

impl std::fmt::Debug for DomainFunction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.kind.name())
    }
}

/// Parsed arguments of a domain function.
#[derive(Debug, Clone, Default)]
struct Params {
    horizon: i64,
    level: f64,
    tour_id: Option<i64>,
}

impl TableFunctionImpl for DomainFunction {
    fn call(&self, exprs: &[Expr]) -> Result<Arc<dyn TableProvider>> {
        let kind = self.kind;
        let params = match kind {
            Domain::Revenue => {
                let args = Args::new(
                    kind.name(),
                    "(horizon_days [, confidence_level])",
                    exprs,
                    1,
                    2,
                )?;
                Params {
                    horizon: args.int(0)?,
                    level: args.level(1)?,
                    tour_id: None,
                }
            }
            Domain::Demand => {
                let args = Args::new(kind.name(), "(horizon_days [, tour_id])", exprs, 1, 2)?;
                Params {
                    horizon: args.int(0)?,
                    level: 0.95,
                    tour_id: args.opt_int(1)?,
                }
            }
            _ => {
                Args::new(kind.name(), "()", exprs, 0, 0)?;
                Params::default()
            }
        };
        if matches!(kind, Domain::Revenue | Domain::Demand) && !(1..=365).contains(&params.horizon)
        {
            return Err(invalid(format!(
                "{}: horizon_days must be between 1 and 365, not {}",
                kind.name(),
                params.horizon
            )));
        }
        let schema = schema(kind);
        Ok(Computed::with(
            schema,
            (Arc::clone(&self.ml), params),
            move |(ml, params), schema| async move {
                let key = format!("{}:{params:?}", kind.name());
                if let Some(batch) = ml.cache.get(&key, ml.retrain_every()) {
                    return Ok(batch);
                }
                let batch = match kind {
                    Domain::Revenue => revenue(&ml, &schema, &params).await?,
                    Domain::Demand => demand(&ml, &schema, &params).await?,
                    Domain::Churn => churn(&ml, &schema).await?,
                    Domain::Prices => prices(&ml, &schema).await?,
                    Domain::Leads => leads(&ml, &schema).await?,
                };
                ml.cache.put(key, batch.clone());
                Ok(batch)
            },
        ))
    }
}

fn schema(kind: Domain) -> SchemaRef {
    let f = |name: &str, t: DataType| Field::new(name, t, true);
    Arc::new(match kind {
        Domain::Revenue => return forecast_schema(true),
        Domain::Demand => Schema::new(vec![
            f("tour_id", DataType::Int32),
            f("tour_name", DataType::Utf8),
            f("forecast_date", DataType::Date32),
            f("expected_bookings", DataType::Float64),
            f("expected_travelers", DataType::Float64),
            f("capacity", DataType::Int32),
            f("utilisation", DataType::Float64),
            f("model", DataType::Utf8),
        ]),
        Domain::Churn => Schema::new(vec![
            f("customer_id", DataType::Int64),
            f("churn_probability", DataType::Float64),
            f("risk_segment", DataType::Utf8),
            f("top_factors", DataType::Utf8),
            f("recommended_action", DataType::Utf8),
            f("model", DataType::Utf8),
        ]),
        Domain::Prices => Schema::new(vec![
            f("tour_id", DataType::Int32),
            f("tour_name", DataType::Utf8),
            f("category", DataType::Utf8),
            f("current_price", DataType::Float64),
            f("elasticity", DataType::Float64),
            f("elasticity_lower", DataType::Float64),
            f("elasticity_upper", DataType::Float64),
            f("optimal_price", DataType::Float64),
            f("expected_revenue_change_pct", DataType::Float64),
            f("model", DataType::Utf8),
        ]),
        Domain::Leads => Schema::new(vec![
            f("lead_id", DataType::Int64),
            f("customer_id", DataType::Int64),
            f("stage", DataType::Utf8),
            f("source", DataType::Utf8),
            f("probability", DataType::Float64),
            f("expected_value", DataType::Float64),
            f("model", DataType::Utf8),
        ]),
    })
}

/// Column `name` of `batch` as `f64`s.
fn floats(batch: &RecordBatch, name: &str) -> Result<Vec<f64>> {
    let i = column_index(&batch.schema(), name, "result")?;
    to_f64(batch.column(i), name, "result")
}

/// Column `name` of `batch` cast to `data_type`.
fn column(batch: &RecordBatch, name: &str, data_type: &DataType) -> Result<ArrayRef> {
    let i = column_index(&batch.schema(), name, "result")?;
    Ok(cast(batch.column(i), data_type)?)
}

fn texts(batch: &RecordBatch, name: &str) -> Result<Vec<Option<String>>> {
    let array = column(batch, name, &DataType::Utf8)?;
    let array = array.as_any().downcast_ref::<StringArray>().expect("Utf8");
    Ok(array.iter().map(|v| v.map(str::to_owned)).collect())
}

/// Registry names of the per-category elasticity models start with this.
const ELASTICITY_PREFIX: &str = "price_elasticity_";

/// How domain model `name` is trained, and the algorithm it falls back to on thin data;
/// `None` for a model that is not a domain model.
fn domain_spec(name: &str) -> Result<Option<(TrainSpec, &'static str)>> {
    let (spec, fallback) = match name {
        "churn_risk" => (
            TrainSpec::new(
                name,
                "classification",
                &format!(
                    "SELECT {CHURN_FEATURES}, churned FROM ({})",
                    churn_sql("(SELECT max(created_at) FROM bookings) - INTERVAL '180 days'")
                ),
                "churned",
                Some(r#"{"algorithm": "gbt"}"#),
            )?,
            "logistic_regression",
        ),
        "booking_probability" => (
            TrainSpec::new(
                name,
                "classification",
                &format!(
                    "SELECT {LEAD_FEATURES_SQL}, stage = 'won' AS won FROM leads \
                     WHERE stage IN ('won', 'lost') ORDER BY lead_id"
                ),
                "won",
                Some(r#"{"algorithm": "gbt"}"#),
            )?,
            "logistic_regression",
        ),
        "demand_forecast" => (
            TrainSpec::new(
                name,
                "regression",
                &format!("SELECT {DEMAND_FEATURES} FROM ({})", demand_sql(&[], None)),
                "bookings",
                Some(r#"{"algorithm": "gbt", "iterations": 150, "max_depth": 5}"#),
            )?,
            "linear_regression",
        ),
        _ => match name.strip_prefix(ELASTICITY_PREFIX) {
            Some(category) => (
                TrainSpec::new(
                    name,
                    "regression",
                    &elasticity_sql(category),
                    "log_bookings",
                    Some(r#"{"algorithm": "linear_regression", "test_fraction": 0.1}"#),
                )?,
                "linear_regression",
            ),
            None => return Ok(None),
        },
    };
    Ok(Some((spec, fallback)))
}

/// [`ensure_model`] for domain model `name`.
async fn ensure_domain_model(ml: &Ml, name: &str) -> Result<ModelVersion> {
    let (spec, fallback) =
        domain_spec(name)?.ok_or_else(|| invalid(format!("{name} is not a domain model")))?;
    ensure_model(ml, spec, fallback).await
}

/// Retrains the deployed domain models that are older than the retrain interval; the engine
/// calls this on a schedule, so a model is fresh before anyone asks.
pub async fn retrain_due(ml: &Ml) -> Result<()> {
    let (_, store) = ml.session()?;
    let names: Vec<String> = store.with_conn(|conn| {
        let mut stmt =
            conn.prepare("SELECT name FROM spirit.models WHERE deployed ORDER BY name")?;
        let names = stmt.query_map([], |row| row.get(0))?;
        names.collect()
    })?;
    for name in names {
        if domain_spec(&name)?.is_some() {
            ensure_domain_model(ml, &name).await?;
        }
    }
    Ok(())
}

/// The deployed version of domain model `name`, trained first if it is missing or older than
/// the retrain interval. Thin data trains `fallback` instead of `spec.algorithm`.
async fn ensure_model(ml: &Ml, spec: TrainSpec, fallback: &str) -> Result<ModelVersion> {
    let (_, store) = ml.session()?;
    let _training = ml.training.lock().await;
    if let Some(model) = models::find(store, &spec.name, None)? {
        let age = models::now() - model.trained_at;
        if age.to_std().unwrap_or_default() < ml.retrain_every() {
            return Ok(model);
        }
        tracing::info!(model = %spec.name, "retraining: the deployed version is {} h old", age.num_hours());
    } else {
        tracing::info!(model = %spec.name, "training on first use");
    }
    let mut spec = spec;
    spec.thin_data_fallback = Some(fallback.to_owned());
    let model = training::train(ml, &spec).await?;
    ml.cache.clear();
    Ok(model)
}

/// The `model` column for a domain model.
fn describe(model: &ModelVersion, main: &str) -> String {
    if model.algorithm == main || model.plugin == main {
        format!("{} v{}", model.algorithm, model.version)
    } else {
        format!(
            "{} v{} (fallback: {} training rows are too few for {main})",
            model.algorithm, model.version, model.training_rows
        )
    }
}

/// Revenue (confirmed and completed bookings) per channel and day, complete days only.
const REVENUE_SQL: &str = "
SELECT CAST(created_at AS DATE) AS day, channel, CAST(sum(price_paid) AS DOUBLE) AS revenue
FROM bookings
WHERE status IN ('confirmed', 'completed')
  AND CAST(created_at AS DATE) < (SELECT CAST(max(created_at) AS DATE) FROM bookings)
GROUP BY 1, 2
ORDER BY 1, 2";

async fn revenue(ml: &Ml, schema: &SchemaRef, params: &Params) -> Result<RecordBatch> {
    let (ctx, _) = ml.session()?;
    let rows = query(ctx, REVENUE_SQL).await?;
    let days = column(&rows, "day", &DataType::Date32)?;
    let days = days.as_any().downcast_ref::<Date32Array>().expect("Date32");
    let channels = texts(&rows, "channel")?;
    let revenue = floats(&rows, "revenue")?;
    if days.is_empty() {
        return Err(invalid(
            "forecast_revenue: there are no confirmed or completed bookings yet",
        ));
    }
    let first = (0..days.len()).map(|i| days.value(i)).min().unwrap_or(0);
    let last = (0..days.len()).map(|i| days.value(i)).max().unwrap_or(0);
    let n = (last - first + 1) as usize;
    // Days without a booking in a channel earned nothing there.
    let mut by_channel: std::collections::BTreeMap<String, Vec<f64>> = Default::default();
    let mut total = vec![0.0; n];
    for i in 0..days.len() {
        let day = (days.value(i) - first) as usize;
        let channel = channels[i].clone().unwrap_or_else(|| "unknown".into());
        by_channel.entry(channel).or_insert_with(|| vec![0.0; n])[day] += revenue[i];
        total[day] += revenue[i];
    }
    let times: Vec<Option<i64>> = (0..n)
        .map(|d| Some((i64::from(first) + d as i64) * 86_400_000_000))
        .collect();
    let mut batches = Vec::new();
    for (channel, values) in std::iter::once(("all".to_owned(), total)).chain(by_channel) {
        let series = Series::new(&times, &values, "revenue")?;
        let horizon = params.horizon as usize;
        let result = run(ml, &series, horizon, params.level, false).await?;
        batches.push(forecast_batch(
            schema,
            &series,
            &result,
            params.level,
            Some(&channel),
        )?);
    }
    Ok(concat_batches(schema, &batches)?)
}

/// One row per tour and day: bookings made, with calendar, weather and event features. The
/// days are the last year's (training) or `future`, given as `(day, weather_day)` pairs: future
/// days take the weather and events of the same weekday a year (364 days) before.
fn demand_sql(future: &[(chrono::NaiveDate, chrono::NaiveDate)], tour_id: Option<i64>) -> String {
    let tour_filter = tour_id.map_or(String::new(), |t| format!("AND t.tour_id = {t}"));
    let days = if future.is_empty() {
        "SELECT DISTINCT CAST(created_at AS DATE) AS day, CAST(created_at AS DATE) AS weather_day \
         FROM bookings \
         WHERE created_at >= (SELECT max(created_at) FROM bookings) - INTERVAL '365 days' \
           AND CAST(created_at AS DATE) < (SELECT CAST(max(created_at) AS DATE) FROM bookings)"
            .to_owned()
    } else {
        let rows: Vec<String> = future
            .iter()
            .map(|(day, weather)| format!("(DATE '{day}', DATE '{weather}')"))
            .collect();
        format!(
            "SELECT * FROM (VALUES {}) AS f(day, weather_day)",
            rows.join(", ")
        )
    };
    format!(
        "WITH days AS ({days}),
         counts AS (
           SELECT tour_id, CAST(created_at AS DATE) AS day, count(*) AS bookings
           FROM bookings GROUP BY 1, 2),
         level AS (
           SELECT tour_id, CAST(count(*) AS DOUBLE) / 90.0 AS recent_daily
           FROM bookings
           WHERE created_at >= (SELECT max(created_at) FROM bookings) - INTERVAL '90 days'
           GROUP BY tour_id)
         SELECT t.tour_id, d.day,
           CAST(coalesce(c.bookings, 0) AS DOUBLE) AS bookings,
           CAST(extract(dow FROM d.day) AS DOUBLE) AS weekday,
           sin(2 * pi() * extract(doy FROM d.day) / 365.25) AS season_sin,
           cos(2 * pi() * extract(doy FROM d.day) / 365.25) AS season_cos,
           CAST(coalesce(e.is_holiday, false) AS DOUBLE) AS holiday,
           CAST((extract(month FROM d.day) = 12 AND extract(day FROM d.day) >= 15)
                OR (extract(month FROM d.day) = 1 AND extract(day FROM d.day) <= 6) AS DOUBLE) AS winter_season,
           e.temperature_c, e.precipitation_mm,
           CAST(e.local_event IS NOT NULL AS DOUBLE) AS local_event,
           coalesce(l.recent_daily, 0) AS recent_daily
         FROM days d CROSS JOIN tours t
         LEFT JOIN counts c ON c.tour_id = t.tour_id AND c.day = d.day
         LEFT JOIN external_factors e ON e.region = t.region AND e.day = d.weather_day
         LEFT JOIN level l ON l.tour_id = t.tour_id
         WHERE true {tour_filter}
         ORDER BY t.tour_id, d.day"
    )
}

const DEMAND_FEATURES: &str = "bookings, weekday, season_sin, season_cos, holiday, winter_season, \
     temperature_c, precipitation_mm, local_event, recent_daily";

async fn demand(ml: &Ml, schema: &SchemaRef, params: &Params) -> Result<RecordBatch> {
    let model = ensure_domain_model(ml, "demand_forecast").await?;
    let (ctx, _) = ml.session()?;
    let last = query(
        ctx,
        "SELECT CAST(max(created_at) AS DATE) AS day FROM bookings",
    )
    .await?;
    let last = column(&last, "day", &DataType::Date32)?;
    let last = last.as_any().downcast_ref::<Date32Array>().expect("Date32");
    let Some(last) = (!last.is_empty() && last.is_valid(0))
        .then(|| last.value_as_date(0))
        .flatten()
    else {
        return Err(invalid("demand_forecast: there are no bookings yet"));
    };
    let future: Vec<_> = (1..=params.horizon)
        .map(|d| {
            let day = last + chrono::Duration::days(d);
            (day, day - chrono::Duration::days(364))
        })
        .collect();
    let future = query(ctx, &demand_sql(&future, params.tour_id)).await?;
    if future.num_rows() == 0 {
        return Err(invalid(format!(
            "demand_forecast: there is no tour {}",
            params.tour_id.unwrap_or_default()
        )));
    }
    let (predicted, _) = predict_batch(ml, &model.name, &future).await?;
    let tours = query(
        ctx,
        "SELECT t.tour_id, t.name, t.capacity, \
           coalesce(avg(CAST(b.travelers AS DOUBLE)), 1.0) AS travelers_per_booking \
         FROM tours t LEFT JOIN bookings b USING (tour_id) GROUP BY 1, 2, 3",
    )
    .await?;
    let tour_ids = floats(&tours, "tour_id")?;
    let names = texts(&tours, "name")?;
    let capacities = floats(&tours, "capacity")?;
    let per_booking = floats(&tours, "travelers_per_booking")?;
    let info: HashMap<i64, usize> = tour_ids
        .iter()
        .enumerate()
        .map(|(i, t)| (*t as i64, i))
        .collect();
    let ids = floats(&future, "tour_id")?;
    let days = column(&future, "day", &DataType::Date32)?;
    let mut name = Vec::new();
    let mut bookings = Vec::new();
    let mut travelers = Vec::new();
    let mut capacity = Vec::new();
    let mut utilisation = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let t = info.get(&(*id as i64)).copied();
        let expected = predicted[i].max(0.0);
        let people = expected * t.map_or(1.0, |t| per_booking[t]);
        let cap = t.map_or(0.0, |t| capacities[t]);
        name.push(t.and_then(|t| names[t].clone()));
        bookings.push(expected);
        travelers.push(people);
        capacity.push(cap as i32);
        utilisation.push(if cap > 0.0 { people / cap } else { f64::NAN });
    }
    let n = ids.len();
    let label = describe(&model, "gbt");
    Ok(RecordBatch::try_new(
        Arc::clone(schema),
        vec![
            Arc::new(Int32Array::from_iter_values(ids.iter().map(|v| *v as i32))),
            Arc::new(StringArray::from(name)),
            days,
            Arc::new(Float64Array::from(bookings)),
            Arc::new(Float64Array::from(travelers)),
            Arc::new(Int32Array::from(capacity)),
            Arc::new(Float64Array::from(utilisation)),
            Arc::new(StringArray::from(vec![label; n])),
        ],
    )?)
}

/// Customer features as of `as_of` (an SQL timestamp expression), and whether they booked in
/// the 180 days after it (`booked_after`, for training).
fn churn_sql(as_of: &str) -> String {
    format!(
        "WITH cut AS (SELECT {as_of} AS t0),
         hist AS (
           SELECT b.customer_id,
             CAST(count(*) AS DOUBLE) AS bookings,
             CAST(sum(b.price_paid) AS DOUBLE) AS spend,
             (date_part('epoch', max(cut.t0)) - date_part('epoch', max(b.created_at))) / 86400 AS days_since_last,
             (date_part('epoch', max(cut.t0)) - date_part('epoch', min(b.created_at))) / 86400 AS tenure_days,
             CAST(sum(CASE WHEN b.status IN ('cancelled', 'refunded') THEN 1 ELSE 0 END) AS DOUBLE) AS cancellations
           FROM bookings b CROSS JOIN cut WHERE b.created_at < cut.t0 GROUP BY b.customer_id),
         tix AS (
           SELECT k.customer_id,
             CAST(sum(CASE WHEN k.csat <= 2 THEN 1 ELSE 0 END) AS DOUBLE) AS bad_tickets,
             CAST(count(*) AS DOUBLE) AS tickets
           FROM tickets k CROSS JOIN cut WHERE k.opened_at < cut.t0 GROUP BY k.customer_id),
         after AS (
           SELECT DISTINCT b.customer_id FROM bookings b CROSS JOIN cut
           WHERE b.created_at >= cut.t0 AND b.created_at < cut.t0 + INTERVAL '180 days')
         SELECT h.customer_id, h.bookings, h.spend, h.days_since_last, h.tenure_days, h.cancellations,
           coalesce(x.bad_tickets, 0) AS bad_tickets, coalesce(x.tickets, 0) AS tickets,
           CAST(c.nps AS DOUBLE) AS nps,
           CAST(c.nps <= 6 AS DOUBLE) AS detractor,
           CAST(c.nps >= 9 AS DOUBLE) AS promoter,
           CAST(c.segment = 'budget' AS DOUBLE) AS segment_budget,
           CAST(c.segment = 'premium' AS DOUBLE) AS segment_premium,
           CAST(c.segment = 'business' AS DOUBLE) AS segment_business,
           a.customer_id IS NULL AS churned
         FROM hist h JOIN customers c ON c.customer_id = h.customer_id
         LEFT JOIN tix x ON x.customer_id = h.customer_id
         LEFT JOIN after a ON a.customer_id = h.customer_id
         ORDER BY h.customer_id"
    )
}

const CHURN_FEATURES: &str = "bookings, spend, days_since_last, tenure_days, cancellations, \
     bad_tickets, tickets, nps, detractor, promoter, segment_budget, segment_premium, \
     segment_business";

/// Why a customer is at risk, in words, for the features the model weighs most.
fn churn_factors(row: &HashMap<&str, f64>, importance: &[String]) -> Vec<(String, &'static str)> {
    let mut factors = Vec::new();
    for feature in importance {
        let value = row.get(feature.as_str()).copied().unwrap_or(f64::NAN);
        let factor = match feature.as_str() {
            "detractor" if value > 0.5 => Some((
                format!(
                    "detractor (NPS {})",
                    row.get("nps").copied().unwrap_or(f64::NAN)
                ),
                "call to recover the relationship: a service follow-up from a senior agent",
            )),
            "nps" if value <= 6.0 => Some((
                format!("low NPS ({value})"),
                "ask for feedback and act on it",
            )),
            "bad_tickets" if value > 0.0 => Some((
                format!("{value} support tickets rated 1-2"),
                "review the service failures and apologise with a goodwill voucher",
            )),
            "days_since_last" if value > 365.0 => Some((
                format!("no booking for {} days", value.round()),
                "send a win-back offer for a tour like their last one",
            )),
            "segment_budget" if value > 0.5 => Some((
                "budget segment".to_owned(),
                "offer an early-booking discount",
            )),
            "bookings" if value <= 1.0 => Some((
                "one booking only".to_owned(),
                "invite to a second tour with a loyalty perk",
            )),
            "cancellations" if value > 0.0 => Some((
                format!("{value} cancelled or refunded bookings"),
                "offer flexible rebooking",
            )),
            _ => None,
        };
        factors.extend(factor);
        if factors.len() == 3 {
            break;
        }
    }
    factors
}

async fn churn(ml: &Ml, schema: &SchemaRef) -> Result<RecordBatch> {
    let model = ensure_domain_model(ml, "churn_risk").await?;
    let (ctx, _) = ml.session()?;
    let current = query(ctx, &churn_sql("(SELECT max(created_at) FROM bookings)")).await?;
    let (probability, _) = predict_batch(ml, &model.name, &current).await?;
    let metrics: Value = serde_json::from_str(&model.metrics).unwrap_or_default();
    let mut importance: Vec<(String, f64)> = metrics["model"]["feature_importance"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_f64().unwrap_or(0.0)))
                .collect()
        })
        .unwrap_or_default();
    if importance.is_empty() {
        importance = model.features.iter().map(|f| (f.clone(), 0.0)).collect();
    }
    importance.sort_by(|a, b| b.1.total_cmp(&a.1));
    let order: Vec<String> = importance.into_iter().map(|(k, _)| k).collect();
    let names: Vec<&str> = model.features.iter().map(String::as_str).collect();
    let values: Vec<Vec<f64>> = names
        .iter()
        .map(|n| floats(&current, n))
        .collect::<Result<_>>()?;
    let ids = column(&current, "customer_id", &DataType::Int64)?;
    let label = describe(&model, "gbt");
    // Segments rank customers against each other: most customers of a tour operator do not
    // book again within half a year, so absolute cut-offs would call nearly everyone "high".
    // High is the riskiest fifth, medium the next 30 %, low the rest.
    let mut sorted = probability.clone();
    sorted.sort_by(f64::total_cmp);
    let quantile = |q: f64| {
        sorted
            .get(((sorted.len() as f64 * q) as usize).min(sorted.len().saturating_sub(1)))
            .copied()
            .unwrap_or(1.0)
    };
    let (high_cut, medium_cut) = (quantile(0.8), quantile(0.5));
    let mut segment = Vec::new();
    let mut factors = Vec::new();
    let mut actions = Vec::new();
    for (i, p) in probability.iter().enumerate() {
        let row: HashMap<&str, f64> = names.iter().zip(&values).map(|(n, v)| (*n, v[i])).collect();
        let found = churn_factors(&row, &order);
        segment.push(if *p >= high_cut {
            "high"
        } else if *p >= medium_cut {
            "medium"
        } else {
            "low"
        });
        factors.push(
            found
                .iter()
                .map(|(f, _)| f.as_str())
                .collect::<Vec<_>>()
                .join("; "),
        );
        actions.push(match (found.first(), *p >= medium_cut) {
            (Some((_, action)), true) => *action,
            _ => "keep in the regular newsletter",
        });
    }
    let n = probability.len();
    Ok(RecordBatch::try_new(
        Arc::clone(schema),
        vec![
            ids,
            Arc::new(Float64Array::from(probability)),
            Arc::new(StringArray::from(segment)),
            Arc::new(StringArray::from(factors)),
            Arc::new(StringArray::from(actions)),
            Arc::new(StringArray::from(vec![label; n])),
        ],
    )?)
}

/// Weekly bookings and price index per category, with yearly-season and growth controls, for
/// a log-log demand regression.
fn elasticity_sql(category: &str) -> String {
    format!(
        "WITH bounds AS (SELECT min(created_at) AS first, max(created_at) AS last FROM bookings)
         SELECT ln(CAST(count(*) AS DOUBLE)) AS log_bookings,
           ln(avg(b.price_index)) AS log_price,
           sin(2 * pi() * extract(doy FROM date_trunc('week', b.created_at)) / 365.25) AS season_sin,
           cos(2 * pi() * extract(doy FROM date_trunc('week', b.created_at)) / 365.25) AS season_cos,
           (date_part('epoch', date_trunc('week', b.created_at)) - date_part('epoch', bounds.first)) / 31557600 AS years
         FROM bookings b JOIN tours t ON t.tour_id = b.tour_id CROSS JOIN bounds
         WHERE t.category = '{}'
           AND date_trunc('week', b.created_at) > date_trunc('week', bounds.first)
           AND date_trunc('week', b.created_at) < date_trunc('week', bounds.last)
         GROUP BY date_trunc('week', b.created_at), bounds.first
         ORDER BY date_trunc('week', b.created_at)",
        category.replace('\'', "''")
    )
}

async fn prices(ml: &Ml, schema: &SchemaRef) -> Result<RecordBatch> {
    let (ctx, _) = ml.session()?;
    let tours = query(
        ctx,
        "SELECT t.tour_id, t.name, t.category, CAST(t.base_price AS DOUBLE) AS base_price, \
           CAST(t.unit_cost AS DOUBLE) AS unit_cost, coalesce(p.price_index, 1.0) AS price_index \
         FROM tours t LEFT JOIN ( \
           SELECT tour_id, last_value(price_index ORDER BY created_at) AS price_index \
           FROM bookings GROUP BY tour_id) p ON p.tour_id = t.tour_id \
         ORDER BY t.tour_id",
    )
    .await?;
    let categories = texts(&tours, "category")?;
    let mut estimates: HashMap<String, (f64, f64, String)> = HashMap::new();
    for category in categories.iter().flatten() {
        if estimates.contains_key(category) {
            continue;
        }
        let model = ensure_domain_model(ml, &format!("{ELASTICITY_PREFIX}{category}")).await?;
        let metrics: Value = serde_json::from_str(&model.metrics).unwrap_or_default();
        let coefficient = &metrics["model"]["coefficients"]["log_price"];
        let (Some(e), Some(se)) = (
            coefficient["estimate"].as_f64(),
            coefficient["std_error"].as_f64(),
        ) else {
            return Err(invalid(format!(
                "the elasticity model of {category} has no log_price coefficient"
            )));
        };
        estimates.insert(
            category.clone(),
            (
                e,
                se,
                format!("log-log {} v{}", model.algorithm, model.version),
            ),
        );
    }
    let ids = column(&tours, "tour_id", &DataType::Int32)?;
    let base = floats(&tours, "base_price")?;
    let cost = floats(&tours, "unit_cost")?;
    let index = floats(&tours, "price_index")?;
    let z = crate::scores::normal_quantile(0.975);
    let mut rows: Vec<[f64; 6]> = Vec::new();
    let mut labels = Vec::new();
    for i in 0..tours.num_rows() {
        let (e, se, label) = categories[i]
            .as_ref()
            .and_then(|c| estimates.get(c))
            .cloned()
            .unwrap_or((f64::NAN, f64::NAN, String::new()));
        let current = base[i] * index[i];
        // Profit-maximising price under constant elasticity, p = c·e/(1+e) when demand is
        // elastic; kept within the price range the data has seen (0.8-1.2 × list), since the
        // elasticity is only known there.
        let (low, high) = (0.8 * base[i], 1.2 * base[i]);
        let optimal = if e < -1.0 {
            (cost[i] * e / (1.0 + e)).clamp(low, high)
        } else {
            high
        };
        let revenue_change = ((optimal / current).powf(1.0 + e) - 1.0) * 100.0;
        rows.push([current, e, e - z * se, e + z * se, optimal, revenue_change]);
        labels.push(label);
    }
    let col = |k: usize| -> ArrayRef {
        Arc::new(Float64Array::from_iter_values(
            rows.iter().map(|r| (r[k] * 1e4).round() / 1e4),
        ))
    };
    Ok(RecordBatch::try_new(
        Arc::clone(schema),
        vec![
            ids,
            column(&tours, "name", &DataType::Utf8)?,
            column(&tours, "category", &DataType::Utf8)?,
            col(0),
            col(1),
            col(2),
            col(3),
            col(4),
            col(5),
            Arc::new(StringArray::from(labels)),
        ],
    )?)
}

/// Lead features: source, channel, response time and deal size.
const LEAD_FEATURES_SQL: &str = "
  CAST(source = 'google_ads' AS DOUBLE) AS source_google_ads,
  CAST(source = 'facebook' AS DOUBLE) AS source_facebook,
  CAST(source = 'instagram' AS DOUBLE) AS source_instagram,
  CAST(source = 'referral' AS DOUBLE) AS source_referral,
  CAST(source = 'partner' AS DOUBLE) AS source_partner,
  CAST(source = 'trade_show' AS DOUBLE) AS source_trade_show,
  CAST(source = 'email_campaign' AS DOUBLE) AS source_email_campaign,
  CAST(channel = 'B2B' AS DOUBLE) AS channel_b2b,
  CAST(channel = 'B2B2C' AS DOUBLE) AS channel_b2b2c,
  ln(1 + CAST(first_response_minutes AS DOUBLE) / 60) AS log_response_hours,
  CAST(estimated_value AS DOUBLE) AS estimated_value";

async fn leads(ml: &Ml, schema: &SchemaRef) -> Result<RecordBatch> {
    let model = ensure_domain_model(ml, "booking_probability").await?;
    let (ctx, _) = ml.session()?;
    let open = query(
        ctx,
        &format!(
            "SELECT lead_id, customer_id, stage, source, {LEAD_FEATURES_SQL} FROM leads \
             WHERE stage NOT IN ('won', 'lost') ORDER BY lead_id"
        ),
    )
    .await?;
    let (probability, _) = predict_batch(ml, &model.name, &open).await?;
    let value = floats(&open, "estimated_value")?;
    let expected: Vec<f64> = probability.iter().zip(&value).map(|(p, v)| p * v).collect();
    let n = probability.len();
    Ok(RecordBatch::try_new(
        Arc::clone(schema),
        vec![
            column(&open, "lead_id", &DataType::Int64)?,
            column(&open, "customer_id", &DataType::Int64)?,
            column(&open, "stage", &DataType::Utf8)?,
            column(&open, "source", &DataType::Utf8)?,
            Arc::new(Float64Array::from(probability)),
            Arc::new(Float64Array::from(expected)),
            Arc::new(StringArray::from(vec![describe(&model, "gbt"); n])),
        ],
    )?)
}
