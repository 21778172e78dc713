//! `forecast`, `explain_forecast` and `detect_anomalies`: table functions over any table,
//! view or query with a timestamp and a value column. The series is checked and its frequency
//! detected here ([`Series`]); the forecasting model plugin fits it. Series too short for
//! seasonal models get the linear plugin's trend line, and the `model` column says so.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Float64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::catalog::{TableFunctionImpl, TableProvider};
use datafusion::error::DataFusionError;
use datafusion::logical_expr::Expr;
use datafusion::prelude::SessionContext;
use spirit_plugins::host::{ForecastRequest, ForecastResult, Task};

use crate::data::{column_index, query, source_sql, to_f64, to_micros};
use crate::functions::{Args, Computed};
use crate::scores::{normal_cdf, normal_quantile};
use crate::series::{MIN_SEASONAL_POINTS, Series};
use crate::{Ml, Result, invalid, plugin_error};

/// The model plugin `forecast` uses.
pub const FORECASTING: &str = "forecasting";
/// The linear plugin's trend line, for series too short for seasonal models.
pub const LINEAR_TREND: &str = "linear_trend";

/// Registers the three functions.
pub fn register(ml: &Arc<Ml>, ctx: &SessionContext) {
    for kind in [Kind::Forecast, Kind::Explain, Kind::Anomalies] {
        ctx.register_udtf(
            kind.name(),
            Arc::new(SeriesFunction {
                ml: Arc::clone(ml),
                kind,
            }),
        );
    }
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Forecast,
    Explain,
    Anomalies,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Self::Forecast => "forecast",
            Self::Explain => "explain_forecast",
            Self::Anomalies => "detect_anomalies",
        }
    }

    fn signature(self) -> &'static str {
        match self {
            Self::Forecast | Self::Explain => {
                "(source, ts_column, value_column, horizon [, confidence_level])"
            }
            Self::Anomalies => "(source, ts_column, value_column [, threshold])",
        }
    }
}

struct SeriesFunction {
    ml: Arc<Ml>,
    kind: Kind,
}

impl std::fmt::Debug for SeriesFunction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.kind.name())
    }
}

/// What a call asked for.
#[derive(Debug, Clone)]
struct Call {
    source: String,
    ts_column: String,
    value_column: String,
    /// Horizon (forecasts) or unused.
    horizon: i64,
    /// Confidence level (forecasts) or anomaly-probability threshold.
    level: f64,
}

impl TableFunctionImpl for SeriesFunction {
    fn call(&self, exprs: &[Expr]) -> Result<Arc<dyn TableProvider>> {
        let kind = self.kind;
        let (min, max) = match kind {
            Kind::Anomalies => (3, 4),
            _ => (4, 5),
        };
        let args = Args::new(kind.name(), kind.signature(), exprs, min, max)?;
        let call = Call {
            source: args.text(0)?,
            ts_column: args.text(1)?,
            value_column: args.text(2)?,
            horizon: match kind {
                Kind::Anomalies => 0,
                _ => args.int(3)?,
            },
            level: match kind {
                Kind::Anomalies => args.level(3)?,
                _ => args.level(4)?,
            },
        };
        if !matches!(kind, Kind::Anomalies) && call.horizon < 1 {
            return Err(invalid(format!(
                "{}: the horizon must be at least 1 step, not {}",
                kind.name(),
                call.horizon
            )));
        }
        let schema = match kind {
            Kind::Forecast => forecast_schema(false),
            Kind::Explain => explain_schema(),
            Kind::Anomalies => anomalies_schema(),
        };
        let ml = Arc::clone(&self.ml);
        Ok(Computed::with(
            schema,
            (ml, call),
            move |(ml, call), schema| async move {
                let series = read_series(&ml, &call).await?;
                match kind {
                    Kind::Forecast => {
                        let horizon = series.check_horizon(call.horizon)?;
                        let result = run(&ml, &series, horizon, call.level, false).await?;
                        forecast_batch(&schema, &series, &result, call.level, None)
                    }
                    Kind::Explain => {
                        let horizon = series.check_horizon(call.horizon)?;
                        let result = run(&ml, &series, horizon, call.level, true).await?;
                        explain_batch(&schema, &series, &result, call.level)
                    }
                    Kind::Anomalies => anomalies(&ml, &schema, &series, call.level).await,
                }
            },
        ))
    }
}

/// Reads and checks the series a call names.
async fn read_series(ml: &Ml, call: &Call) -> Result<Series> {
    let (ctx, _) = ml.session()?;
    let batch = query(ctx, &source_sql(&call.source)).await?;
    let schema = batch.schema();
    let ts = column_index(&schema, &call.ts_column, "timestamp")?;
    let value = column_index(&schema, &call.value_column, "value")?;
    let times = to_micros(batch.column(ts), &call.ts_column)?;
    let values = to_f64(batch.column(value), &call.value_column, "value")?;
    Series::new(&times, &values, &call.value_column)
}

/// Forecasts `series` with the forecasting plugin, or the linear trend when it is short.
pub(crate) async fn run(
    ml: &Ml,
    series: &Series,
    horizon: usize,
    level: f64,
    decompose: bool,
) -> Result<ForecastResult> {
    let n = series.values.len();
    let short = n < MIN_SEASONAL_POINTS;
    let (plugin, algorithm) = ml.algorithm(
        if short { LINEAR_TREND } else { FORECASTING },
        Task::Forecast,
    )?;
    let request = ForecastRequest {
        algorithm,
        values: series.values.clone(),
        periods: if short { Vec::new() } else { series.periods() },
        horizon: horizon as u32,
        level,
        decompose,
        params_json: "{}".into(),
    };
    let mut result = tokio::task::spawn_blocking(move || plugin.forecast(&request))
        .await
        .map_err(|e| DataFusionError::External(Box::new(e)))?
        .map_err(plugin_error)?;
    if short {
        result.model = format!(
            "{} (fallback: {n} points are too few for seasonal models, which need \
             {MIN_SEASONAL_POINTS})",
            result.model
        );
    }
    Ok(result)
}

fn timestamp_field(name: &str, nullable: bool) -> Field {
    Field::new(
        name,
        DataType::Timestamp(TimeUnit::Microsecond, None),
        nullable,
    )
}

/// `forecast`'s columns (BigQuery ML's names), with `channel` first when `by_channel`.
pub(crate) fn forecast_schema(by_channel: bool) -> SchemaRef {
    let mut fields = Vec::new();
    if by_channel {
        fields.push(Field::new("channel", DataType::Utf8, false));
    }
    fields.extend([
        timestamp_field("forecast_timestamp", false),
        Field::new("forecast_value", DataType::Float64, false),
        Field::new("standard_error", DataType::Float64, false),
        Field::new("confidence_level", DataType::Float64, false),
        Field::new("prediction_interval_lower_bound", DataType::Float64, false),
        Field::new("prediction_interval_upper_bound", DataType::Float64, false),
        Field::new("model", DataType::Utf8, false),
    ]);
    Arc::new(Schema::new(fields))
}

/// The standard error an interval of `level` implies (half its width over the normal
/// quantile).
pub(crate) fn standard_errors(result: &ForecastResult, level: f64) -> Vec<f64> {
    let z = normal_quantile((1.0 + level) / 2.0);
    result
        .lower
        .iter()
        .zip(&result.upper)
        .map(|(l, u)| ((u - l) / (2.0 * z)).max(0.0))
        .collect()
}

/// The rows of a forecast, under `channel` when given.
pub(crate) fn forecast_batch(
    schema: &SchemaRef,
    series: &Series,
    result: &ForecastResult,
    level: f64,
    channel: Option<&str>,
) -> Result<RecordBatch> {
    let horizon = result.point.len();
    let mut columns: Vec<ArrayRef> = Vec::new();
    if let Some(channel) = channel {
        columns.push(Arc::new(StringArray::from(vec![channel; horizon])));
    }
    columns.extend([
        Arc::new(TimestampMicrosecondArray::from(series.future(horizon))) as ArrayRef,
        Arc::new(Float64Array::from(result.point.clone())),
        Arc::new(Float64Array::from(standard_errors(result, level))),
        Arc::new(Float64Array::from(vec![level; horizon])),
        Arc::new(Float64Array::from(result.lower.clone())),
        Arc::new(Float64Array::from(result.upper.clone())),
        Arc::new(StringArray::from(vec![result.model.as_str(); horizon])),
    ]);
    Ok(RecordBatch::try_new(Arc::clone(schema), columns)?)
}

fn explain_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        timestamp_field("time_series_timestamp", false),
        Field::new("time_series_type", DataType::Utf8, false),
        Field::new("time_series_data", DataType::Float64, false),
        Field::new("standard_error", DataType::Float64, true),
        Field::new("confidence_level", DataType::Float64, true),
        Field::new("prediction_interval_lower_bound", DataType::Float64, true),
        Field::new("prediction_interval_upper_bound", DataType::Float64, true),
        Field::new("trend", DataType::Float64, false),
        Field::new("seasonal", DataType::Float64, false),
        Field::new("residual", DataType::Float64, true),
        Field::new("model", DataType::Utf8, false),
    ]))
}

/// History and forecast in one table, each step with its decomposition.
fn explain_batch(
    schema: &SchemaRef,
    series: &Series,
    result: &ForecastResult,
    level: f64,
) -> Result<RecordBatch> {
    let n = series.values.len();
    let horizon = result.point.len();
    let future_se = standard_errors(result, level);
    let some_future = |values: &[f64]| -> Vec<Option<f64>> {
        std::iter::repeat_n(None, n)
            .chain(values.iter().map(|v| Some(*v)))
            .collect()
    };
    let mut times = series.times.clone();
    times.extend(series.future(horizon));
    let kinds: Vec<&str> = std::iter::repeat_n("history", n)
        .chain(std::iter::repeat_n("forecast", horizon))
        .collect();
    let mut data = series.values.clone();
    data.extend(&result.point);
    let residual: Vec<Option<f64>> = result
        .remainder
        .iter()
        .map(|r| (!r.is_nan()).then_some(*r))
        .collect();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(TimestampMicrosecondArray::from(times)),
        Arc::new(StringArray::from(kinds)),
        Arc::new(Float64Array::from(data)),
        Arc::new(Float64Array::from(some_future(&future_se))),
        Arc::new(Float64Array::from(some_future(&vec![level; horizon]))),
        Arc::new(Float64Array::from(some_future(&result.lower))),
        Arc::new(Float64Array::from(some_future(&result.upper))),
        Arc::new(Float64Array::from(result.trend.clone())),
        Arc::new(Float64Array::from(result.seasonal.clone())),
        Arc::new(Float64Array::from(residual)),
        Arc::new(StringArray::from(vec![result.model.as_str(); n + horizon])),
    ];
    Ok(RecordBatch::try_new(Arc::clone(schema), columns)?)
}

fn anomalies_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        timestamp_field("ts", false),
        Field::new("value", DataType::Float64, false),
        Field::new("is_anomaly", DataType::Boolean, false),
        Field::new("lower_bound", DataType::Float64, false),
        Field::new("upper_bound", DataType::Float64, false),
        Field::new("anomaly_probability", DataType::Float64, false),
    ]))
}

/// Anomalies are points whose remainder, after trend and season, is improbably far from the
/// typical remainder: its robust z-score (median and MAD) gives a two-sided normal
/// probability, and points above `threshold` are anomalies. The bounds are the values at
/// which a point would reach the threshold.
async fn anomalies(
    ml: &Ml,
    schema: &SchemaRef,
    series: &Series,
    threshold: f64,
) -> Result<RecordBatch> {
    let n = series.values.len();
    if n < MIN_SEASONAL_POINTS {
        return Err(invalid(format!(
            "detect_anomalies needs at least {MIN_SEASONAL_POINTS} points to tell the usual \
             from the unusual; the series has {n}"
        )));
    }
    let result = run(ml, series, 1, 0.95, true).await?;
    let remainder = &result.remainder[..n];
    let median = median(remainder.to_vec());
    let mad = median_abs_deviation(remainder, median);
    // MAD is zero when most remainders are equal; fall back to the standard deviation.
    let sigma = if mad > 0.0 {
        1.4826 * mad
    } else {
        let mean = remainder.iter().sum::<f64>() / n as f64;
        (remainder.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / n as f64).sqrt()
    }
    .max(f64::EPSILON);
    let z_threshold = normal_quantile((1.0 + threshold) / 2.0);
    let mut lower = Vec::with_capacity(n);
    let mut upper = Vec::with_capacity(n);
    let mut probability = Vec::with_capacity(n);
    let mut flags = Vec::with_capacity(n);
    for (i, r) in remainder.iter().enumerate() {
        let expected = result.trend[i] + result.seasonal[i] + median;
        let z = (r - median).abs() / sigma;
        let p = 2.0 * normal_cdf(z) - 1.0;
        lower.push(expected - z_threshold * sigma);
        upper.push(expected + z_threshold * sigma);
        probability.push(p);
        flags.push(p > threshold);
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(TimestampMicrosecondArray::from(series.times.clone())),
        Arc::new(Float64Array::from(series.values.clone())),
        Arc::new(BooleanArray::from(flags)),
        Arc::new(Float64Array::from(lower)),
        Arc::new(Float64Array::from(upper)),
        Arc::new(Float64Array::from(probability)),
    ];
    Ok(RecordBatch::try_new(Arc::clone(schema), columns)?)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

fn median_abs_deviation(values: &[f64], center: f64) -> f64 {
    median(values.iter().map(|v| (v - center).abs()).collect())
}
