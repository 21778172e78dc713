//! `train_model`, `predict`, `evaluate_model` and `deploy_model`: supervised models trained
//! from any query, kept as versions in the registry ([`models`]) and run by model plugins.
//!
//! Training holds out a fifth of the rows (chosen by a hash of each row's values, so the same
//! data always splits the same way, in whatever order a query returns it), fits on the rest, and scores the held-out rows here, the
//! same way for every plugin; classification models also get a logistic-regression baseline
//! on the same split (linear regression for regression models), reported beside them.

use std::collections::BTreeSet;
use std::str::FromStr;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BooleanArray, Float64Array, Int32Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::catalog::{TableFunctionImpl, TableProvider};
use datafusion::error::DataFusionError;
use datafusion::execution::context::SQLOptions;
use datafusion::logical_expr::Expr;
use datafusion::prelude::SessionContext;
use serde_json::{Map, Value, json};
use spirit_plugins::host::{PredictRequest, Task, TrainRequest};

use crate::data::{column_index, decode_predictions, encode_columns, query, source_sql, to_f64};
use crate::functions::{Args, Computed};
use crate::models::{self, ModelVersion};
use crate::{Ml, Result, invalid, plugin_error, scores};

/// The algorithm `train_model` uses unless told otherwise.
pub const DEFAULT_ALGORITHM: &str = "gbt";
/// Fewest rows `train_model` accepts.
pub const MIN_ROWS: usize = 20;
/// Rows below which a spec with a thin-data fallback trains the fallback instead.
pub const THIN_DATA_ROWS: usize = 300;
/// Share of rows held out for the metrics unless `test_fraction` says otherwise.
pub const TEST_FRACTION: f64 = 0.2;

/// Registers the four functions.
pub fn register(ml: &Arc<Ml>, ctx: &SessionContext) {
    ctx.register_udtf("train_model", Arc::new(TrainModel(Arc::clone(ml))));
    ctx.register_udtf("predict", Arc::new(Predict(Arc::clone(ml))));
    ctx.register_udtf("evaluate_model", Arc::new(EvaluateModel(Arc::clone(ml))));
    ctx.register_udtf("deploy_model", Arc::new(DeployModel(Arc::clone(ml))));
}

/// What to train.
#[derive(Debug, Clone)]
pub struct TrainSpec {
    pub name: String,
    pub task: Task,
    /// The training query.
    pub sql: String,
    pub label: String,
    /// An algorithm or model-plugin name.
    pub algorithm: String,
    /// Hyper-parameters for the plugin, a JSON object.
    pub params: Value,
    pub test_fraction: f64,
    /// The algorithm to train instead when fewer than [`THIN_DATA_ROWS`] rows have a label
    /// (the domain models' linear fallback); `train_model` sets none.
    pub thin_data_fallback: Option<String>,
}

impl TrainSpec {
    /// A spec from `train_model`'s arguments; `options` is the optional JSON object.
    pub fn new(
        name: &str,
        task: &str,
        source: &str,
        label: &str,
        options: Option<&str>,
    ) -> Result<Self> {
        if name.trim().is_empty() {
            return Err(invalid("the model name must not be empty"));
        }
        let task = match task.to_ascii_lowercase().as_str() {
            "classification" => Task::Classification,
            "regression" => Task::Regression,
            other => {
                return Err(invalid(format!(
                    "task must be 'classification' or 'regression', not '{other}' (forecasts \
                     need no training: use forecast())"
                )));
            }
        };
        let mut options: Map<String, Value> = match options {
            None => Map::new(),
            Some(text) => match serde_json::from_str(text) {
                Ok(Value::Object(map)) => map,
                Ok(_) | Err(_) => {
                    return Err(invalid(format!(
                        "options must be a JSON object, e.g. '{{\"algorithm\": \"gbt\"}}', not {text}"
                    )));
                }
            },
        };
        let algorithm = match options.remove("algorithm") {
            None => DEFAULT_ALGORITHM.to_owned(),
            Some(Value::String(a)) => a,
            Some(other) => return Err(invalid(format!("\"algorithm\" must be text, not {other}"))),
        };
        let test_fraction = match options.remove("test_fraction") {
            None => TEST_FRACTION,
            Some(v) => match v.as_f64() {
                Some(f) if f > 0.0 && f < 0.9 => f,
                _ => {
                    return Err(invalid(format!(
                        "\"test_fraction\" must be in (0, 0.9), not {v}"
                    )));
                }
            },
        };
        let params = match options.remove("params") {
            Some(Value::Object(params)) => Value::Object(params),
            Some(other) => {
                return Err(invalid(format!(
                    "\"params\" must be a JSON object, not {other}"
                )));
            }
            None => Value::Object(options),
        };
        Ok(Self {
            name: name.to_owned(),
            task,
            sql: source_sql(source),
            label: label.to_owned(),
            algorithm,
            params,
            test_fraction,
            thin_data_fallback: None,
        })
    }
}

fn task_name(task: Task) -> &'static str {
    match task {
        Task::Classification => "classification",
        Task::Regression => "regression",
        Task::Forecast => "forecast",
    }
}

/// Training data: features, label as 0/1 or numbers, and how the label maps back.
struct Dataset {
    names: Vec<String>,
    columns: Vec<Vec<f64>>,
    y: Vec<f64>,
    label_type: DataType,
    classes: Vec<String>,
    dropped: usize,
}

impl Dataset {
    fn read(batch: &RecordBatch, label: &str, task: Task) -> Result<Self> {
        let schema = batch.schema();
        let label_index = column_index(&schema, label, "label")?;
        let label_array = batch.column(label_index);
        let mut names = Vec::new();
        let mut columns = Vec::new();
        for (i, field) in schema.fields().iter().enumerate() {
            if i == label_index {
                continue;
            }
            names.push(field.name().clone());
            columns.push(to_f64(batch.column(i), field.name(), "feature")?);
        }
        if names.is_empty() {
            return Err(invalid(
                "the training query has no feature columns besides the label",
            ));
        }
        let (y, classes) = match task {
            Task::Classification => binary_label(label_array, label)?,
            _ => (to_f64(label_array, label, "label")?, Vec::new()),
        };
        // Rows without a label teach nothing.
        let keep: Vec<usize> = (0..y.len()).filter(|i| !y[*i].is_nan()).collect();
        let dropped = y.len() - keep.len();
        let pick = |v: &Vec<f64>| keep.iter().map(|i| v[*i]).collect::<Vec<f64>>();
        Ok(Self {
            names,
            columns: columns.iter().map(pick).collect(),
            y: pick(&y),
            label_type: label_array.data_type().clone(),
            classes,
            dropped,
        })
    }

    fn rows(&self) -> usize {
        self.y.len()
    }

    fn subset(&self, rows: &[usize]) -> (Vec<Vec<f64>>, Vec<f64>) {
        (
            self.columns
                .iter()
                .map(|c| rows.iter().map(|i| c[*i]).collect())
                .collect(),
            rows.iter().map(|i| self.y[*i]).collect(),
        )
    }
}

/// A two-class label as 0/1 (NaN where NULL) and its classes, the second being 1: false/true,
/// the smaller/larger number, or the two texts in order.
fn binary_label(array: &ArrayRef, name: &str) -> Result<(Vec<f64>, Vec<String>)> {
    let text = cast(array, &DataType::Utf8)?;
    let text = text
        .as_any()
        .downcast_ref::<StringArray>()
        .expect("cast to Utf8");
    let values: BTreeSet<&str> = text.iter().flatten().collect();
    let mut classes: Vec<String> = values.iter().map(|s| (*s).to_owned()).collect();
    if array.data_type().is_numeric() {
        classes.sort_by(|a, b| {
            a.parse::<f64>()
                .unwrap_or(0.0)
                .total_cmp(&b.parse::<f64>().unwrap_or(0.0))
        });
    }
    match classes.len() {
        2 => {}
        0 => return Err(invalid(format!("label column \"{name}\" has no values"))),
        1 => {
            return Err(invalid(format!(
                "label column \"{name}\" has one class ({}); classification needs two",
                classes[0]
            )));
        }
        n => {
            return Err(invalid(format!(
                "label column \"{name}\" has {n} classes; classification here is binary: \
                 turn it into two, e.g. ({name} = 'x') AS is_x, or use task 'regression'"
            )));
        }
    }
    let y = text
        .iter()
        .map(|v| match v {
            None => f64::NAN,
            Some(v) if v == classes[1] => 1.0,
            Some(_) => 0.0,
        })
        .collect();
    Ok((y, classes))
}

/// Whether row `i` is held out: a hash of its number, so the split is stable.
fn held_out(key: u64, fraction: f64) -> bool {
    (key % 10_000) as f64 / 10_000.0 < fraction
}

/// SplitMix64's finaliser.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Dataset {
    /// A hash of row `i`'s values (features, then label): the held-out split depends on what
    /// a row holds, not on where the query put it, so the same data always splits the same way
    /// whatever order a join returns it in.
    fn row_key(&self, i: usize) -> u64 {
        self.columns
            .iter()
            .map(|c| c[i])
            .chain(std::iter::once(self.y[i]))
            .fold(0, |z, v| mix(z ^ v.to_bits()))
    }
}

/// Trains a model as `spec` says and saves it as a new, deployed version.
pub async fn train(ml: &Ml, spec: &TrainSpec) -> Result<ModelVersion> {
    let (ctx, store) = ml.session()?;
    let started = std::time::Instant::now();
    let batch = query(ctx, &spec.sql).await?;
    let data = Dataset::read(&batch, &spec.label, spec.task)?;
    if data.rows() < MIN_ROWS {
        return Err(invalid(format!(
            "{} rows with a label are too few to train and test a model; at least {MIN_ROWS} \
             are needed",
            data.rows()
        )));
    }
    let (test, train): (Vec<usize>, Vec<usize>) =
        (0..data.rows()).partition(|i| held_out(data.row_key(*i), spec.test_fraction));
    if spec.task == Task::Classification {
        for (part, rows) in [("training", &train), ("held-out", &test)] {
            let positives = rows.iter().filter(|i| data.y[**i] > 0.5).count();
            if positives == 0 || positives == rows.len() {
                return Err(invalid(format!(
                    "the {part} rows hold only one class of \"{}\"; more rows of the rarer \
                     class are needed",
                    spec.label
                )));
            }
        }
    }
    let mut spec = spec.clone();
    if let Some(fallback) = spec.thin_data_fallback.take()
        && data.rows() < THIN_DATA_ROWS
    {
        tracing::info!(
            model = %spec.name,
            rows = data.rows(),
            "thin data: training {fallback} instead of {}",
            spec.algorithm
        );
        spec.algorithm = fallback;
        spec.params = json!({});
    }
    let spec = &spec;
    let (plugin, algorithm) = ml.algorithm(&spec.algorithm, spec.task)?;
    let (train_x, train_y) = data.subset(&train);
    let (test_x, test_y) = data.subset(&test);
    let fit = fit_and_score(
        ml,
        &plugin,
        &algorithm,
        spec,
        &data.names,
        (&train_x, &train_y),
        (&test_x, &test_y),
    )
    .await?;
    let mut metrics = fit.metrics;
    let baseline_name = match spec.task {
        Task::Classification => "logistic_regression",
        _ => "linear_regression",
    };
    if algorithm != baseline_name {
        let baseline = match ml.algorithm(baseline_name, spec.task) {
            Ok((baseline, name)) => {
                let mut baseline_spec = spec.clone();
                baseline_spec.params = json!({});
                match fit_and_score(
                    ml,
                    &baseline,
                    &name,
                    &baseline_spec,
                    &data.names,
                    (&train_x, &train_y),
                    (&test_x, &test_y),
                )
                .await
                {
                    Ok(fit) => {
                        let mut m = fit.metrics;
                        m["algorithm"] = json!(name);
                        m
                    }
                    Err(e) => json!({ "algorithm": name, "error": e.to_string() }),
                }
            }
            Err(e) => json!({ "algorithm": baseline_name, "error": e.to_string() }),
        };
        metrics["baseline"] = baseline;
    }
    metrics["train_rows"] = json!(train.len());
    metrics["dropped_rows_without_label"] = json!(data.dropped);
    metrics["training_seconds"] =
        json!((started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0);
    let mut model = ModelVersion {
        name: spec.name.clone(),
        version: 0,
        task: task_name(spec.task).to_owned(),
        algorithm,
        plugin: plugin.manifest.name.clone(),
        trained_at: models::now(),
        training_rows: train.len() as i64,
        metrics: metrics.to_string(),
        deployed: true,
        label: spec.label.clone(),
        features: data.names.clone(),
        label_type: data.label_type.to_string(),
        classes: data.classes.clone(),
    };
    model.version = models::save(store, &model, &fit.artifact, ml.artifacts_dir())?;
    tracing::info!(
        model = %model.name,
        version = model.version,
        algorithm = %model.algorithm,
        rows = data.rows(),
        "model trained in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(model)
}

struct Fit {
    artifact: Vec<u8>,
    metrics: Value,
}

/// Fits `algorithm` on the training rows and scores the held-out ones.
async fn fit_and_score(
    _ml: &Ml,
    plugin: &Arc<spirit_plugins::Plugin>,
    algorithm: &str,
    spec: &TrainSpec,
    names: &[String],
    (train_x, train_y): (&[Vec<f64>], &[f64]),
    (test_x, test_y): (&[Vec<f64>], &[f64]),
) -> Result<Fit> {
    let mut all_names = names.to_vec();
    all_names.push(spec.label.clone());
    let mut columns = train_x.to_vec();
    columns.push(train_y.to_vec());
    let request = TrainRequest {
        algorithm: algorithm.to_owned(),
        task: spec.task,
        data: encode_columns(&all_names, &columns)?,
        label: spec.label.clone(),
        params_json: spec.params.to_string(),
    };
    let trainer = Arc::clone(plugin);
    let started = std::time::Instant::now();
    let trained = blocking(move || trainer.train(&request)).await?;
    let fit_seconds = started.elapsed().as_secs_f64();
    let predictions = predict_rows(plugin, algorithm, &trained.artifact, names, test_x).await?;
    let mut metrics = match spec.task {
        Task::Classification => scores::classification(test_y, &predictions),
        _ => scores::regression(test_y, &predictions),
    };
    let reported: Value = serde_json::from_str(&trained.metrics_json).unwrap_or(Value::Null);
    if !reported.is_null() && reported != json!({}) {
        metrics["model"] = reported;
    }
    metrics["fit_seconds"] = json!((fit_seconds * 1000.0).round() / 1000.0);
    Ok(Fit {
        artifact: trained.artifact,
        metrics,
    })
}

/// Runs a plugin call on a blocking thread.
async fn blocking<T: Send + 'static>(
    call: impl FnOnce() -> std::result::Result<T, spirit_plugins::PluginError> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(call)
        .await
        .map_err(|e| DataFusionError::External(Box::new(e)))?
        .map_err(plugin_error)
}

/// Predictions of an artifact for feature columns.
async fn predict_rows(
    plugin: &Arc<spirit_plugins::Plugin>,
    algorithm: &str,
    artifact: &[u8],
    names: &[String],
    columns: &[Vec<f64>],
) -> Result<Vec<f64>> {
    let rows = columns.first().map_or(0, Vec::len);
    let request = PredictRequest {
        algorithm: algorithm.to_owned(),
        artifact: artifact.to_vec(),
        input: encode_columns(names, columns)?,
    };
    let predictor = Arc::clone(plugin);
    let bytes = blocking(move || predictor.predict(&request)).await?;
    decode_predictions(&plugin.manifest.name, &bytes, rows)
}

/// Predicts with the deployed version of `name` for the rows of `batch`: the model's feature
/// columns are looked up by name. Returns the predictions (probabilities for
/// classification) and the model.
pub async fn predict_batch(
    ml: &Ml,
    name: &str,
    batch: &RecordBatch,
) -> Result<(Vec<f64>, ModelVersion)> {
    let (_, store) = ml.session()?;
    let model = models::get(store, name, None)?;
    let schema = batch.schema();
    let columns = model
        .features
        .iter()
        .map(|feature| {
            let i = column_index(
                &schema,
                feature,
                &format!("feature (model {name} was trained on it)"),
            )?;
            to_f64(batch.column(i), feature, "feature")
        })
        .collect::<Result<Vec<_>>>()?;
    let plugin = ml.plugin(&model.plugin)?;
    let artifact = models::artifact(store, &model.name, model.version)?;
    let predictions = predict_rows(
        &plugin,
        &model.algorithm,
        &artifact,
        &model.features,
        &columns,
    )
    .await?;
    Ok((predictions, model))
}

fn one_row_schema(fields: Vec<Field>) -> SchemaRef {
    Arc::new(Schema::new(fields))
}

fn model_row_schema() -> SchemaRef {
    one_row_schema(vec![
        Field::new("name", DataType::Utf8, false),
        Field::new("version", DataType::Int32, false),
        Field::new("task", DataType::Utf8, false),
        Field::new("algorithm", DataType::Utf8, false),
        Field::new(
            "trained_at",
            DataType::Timestamp(TimeUnit::Microsecond, None),
            false,
        ),
        Field::new("training_rows", DataType::Int64, false),
        Field::new("deployed", DataType::Boolean, false),
        Field::new("metrics", DataType::Utf8, false),
    ])
}

fn model_row(schema: &SchemaRef, model: &ModelVersion) -> Result<RecordBatch> {
    Ok(RecordBatch::try_new(
        Arc::clone(schema),
        vec![
            Arc::new(StringArray::from(vec![model.name.clone()])),
            Arc::new(Int32Array::from(vec![model.version])),
            Arc::new(StringArray::from(vec![model.task.clone()])),
            Arc::new(StringArray::from(vec![model.algorithm.clone()])),
            Arc::new(TimestampMicrosecondArray::from(vec![
                model.trained_at.and_utc().timestamp_micros(),
            ])),
            Arc::new(arrow::array::Int64Array::from(vec![model.training_rows])),
            Arc::new(BooleanArray::from(vec![model.deployed])),
            Arc::new(StringArray::from(vec![model.metrics.clone()])),
        ],
    )?)
}

#[derive(Debug)]
struct TrainModel(Arc<Ml>);

impl TableFunctionImpl for TrainModel {
    fn call(&self, exprs: &[Expr]) -> Result<Arc<dyn TableProvider>> {
        let args = Args::new(
            "train_model",
            "(name, task, training_query, label_column [, options_json])",
            exprs,
            4,
            5,
        )?;
        let spec = TrainSpec::new(
            &args.text(0)?,
            &args.text(1)?,
            &args.text(2)?,
            &args.text(3)?,
            args.opt_text(4)?.as_deref(),
        )?;
        let schema = model_row_schema();
        Ok(Computed::with(
            schema,
            (Arc::clone(&self.0), spec),
            move |(ml, spec), schema| async move {
                let model = train(&ml, &spec).await?;
                model_row(&schema, &model)
            },
        ))
    }
}

#[derive(Debug)]
struct DeployModel(Arc<Ml>);

impl TableFunctionImpl for DeployModel {
    fn call(&self, exprs: &[Expr]) -> Result<Arc<dyn TableProvider>> {
        let args = Args::new("deploy_model", "(name, version)", exprs, 2, 2)?;
        let (name, version) = (args.text(0)?, args.int(1)?);
        let version =
            i32::try_from(version).map_err(|_| invalid(format!("no version {version}")))?;
        let schema = model_row_schema();
        Ok(Computed::with(
            schema,
            (Arc::clone(&self.0), name),
            move |(ml, name), schema| async move {
                let (_, store) = ml.session()?;
                let model = models::deploy(store, &name, version)?;
                ml.forget_predictions();
                model_row(&schema, &model)
            },
        ))
    }
}

#[derive(Debug)]
struct EvaluateModel(Arc<Ml>);

impl TableFunctionImpl for EvaluateModel {
    fn call(&self, exprs: &[Expr]) -> Result<Arc<dyn TableProvider>> {
        let args = Args::new("evaluate_model", "(name [, version])", exprs, 1, 2)?;
        let name = args.text(0)?;
        let version = args
            .opt_int(1)?
            .map(|v| i32::try_from(v).map_err(|_| invalid(format!("no version {v}"))))
            .transpose()?;
        let schema = one_row_schema(vec![
            Field::new("name", DataType::Utf8, false),
            Field::new("version", DataType::Int32, false),
            Field::new("algorithm", DataType::Utf8, false),
            Field::new("metric", DataType::Utf8, false),
            Field::new("value", DataType::Float64, true),
        ]);
        Ok(Computed::with(
            schema,
            (Arc::clone(&self.0), name),
            move |(ml, name), schema| async move {
                let (_, store) = ml.session()?;
                let model = models::get(store, &name, version)?;
                let metrics: Value = serde_json::from_str(&model.metrics).unwrap_or_default();
                let mut rows: Vec<(String, String, Option<f64>)> = Vec::new();
                flatten(&model.algorithm, "", &metrics, &mut rows);
                let n = rows.len();
                Ok(RecordBatch::try_new(
                    Arc::clone(&schema),
                    vec![
                        Arc::new(StringArray::from(vec![model.name.clone(); n])),
                        Arc::new(Int32Array::from(vec![model.version; n])),
                        Arc::new(StringArray::from_iter_values(
                            rows.iter().map(|r| r.0.clone()),
                        )),
                        Arc::new(StringArray::from_iter_values(
                            rows.iter().map(|r| r.1.clone()),
                        )),
                        Arc::new(Float64Array::from_iter(rows.iter().map(|r| r.2))),
                    ],
                )?)
            },
        ))
    }
}

/// The numeric held-out metrics of a model and of its baseline, one row each.
fn flatten(
    algorithm: &str,
    _prefix: &str,
    metrics: &Value,
    rows: &mut Vec<(String, String, Option<f64>)>,
) {
    let Some(map) = metrics.as_object() else {
        return;
    };
    for (key, value) in map {
        match (key.as_str(), value) {
            ("baseline", Value::Object(baseline)) => {
                let name = baseline
                    .get("algorithm")
                    .and_then(Value::as_str)
                    .unwrap_or("baseline")
                    .to_owned();
                for (k, v) in baseline {
                    if let Some(x) = v.as_f64() {
                        rows.push((name.clone(), k.clone(), Some(x)));
                    }
                }
            }
            (_, v) if v.is_number() => rows.push((algorithm.to_owned(), key.clone(), v.as_f64())),
            _ => {}
        }
    }
}

#[derive(Debug)]
struct Predict(Arc<Ml>);

impl TableFunctionImpl for Predict {
    fn call(&self, exprs: &[Expr]) -> Result<Arc<dyn TableProvider>> {
        let args = Args::new("predict", "(model_name, input_query)", exprs, 2, 2)?;
        let name = args.text(0)?;
        let sql = source_sql(&args.text(1)?);
        let ml = Arc::clone(&self.0);
        let (ctx, store) = ml.session()?;
        let model = models::get(store, &name, None)?;
        let input = plan_schema(ctx, &sql)?;
        let mut fields: Vec<Field> = input.fields().iter().map(|f| f.as_ref().clone()).collect();
        let classification = model.task == "classification";
        let label_type = if classification {
            DataType::from_str(&model.label_type).unwrap_or(DataType::Utf8)
        } else {
            DataType::Float64
        };
        fields.push(Field::new("prediction", label_type.clone(), true));
        if classification {
            fields.push(Field::new("probability", DataType::Float64, true));
        }
        let schema = Arc::new(Schema::new(fields));
        Ok(Computed::with(
            schema,
            (ml, name, sql, label_type),
            move |(ml, name, sql, label_type), schema| async move {
                let (ctx, _) = ml.session()?;
                let batch = query(ctx, &sql).await?;
                let (predictions, model) = predict_batch(&ml, &name, &batch).await?;
                let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
                if model.task == "classification" {
                    let classes: Vec<Option<&str>> = predictions
                        .iter()
                        .map(|p| {
                            (!p.is_nan()).then(|| model.classes[usize::from(*p >= 0.5)].as_str())
                        })
                        .collect();
                    let text: ArrayRef = Arc::new(StringArray::from(classes));
                    columns.push(cast(&text, &label_type)?);
                    columns.push(Arc::new(Float64Array::from(predictions)));
                } else {
                    columns.push(Arc::new(Float64Array::from(predictions)));
                }
                Ok(RecordBatch::try_new(schema, columns)?)
            },
        ))
    }
}

/// The output schema of a read-only query, planned (not run) from inside a table function's
/// synchronous `call`: on a helper thread that blocks on the runtime, since planning resolves
/// tables asynchronously.
fn plan_schema(ctx: &SessionContext, sql: &str) -> Result<SchemaRef> {
    let handle = tokio::runtime::Handle::try_current()
        .map_err(|e| DataFusionError::External(Box::new(e)))?;
    let options = SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false);
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                handle.block_on(async {
                    let df = ctx.sql_with_options(sql, options).await?;
                    Ok(Arc::new(df.schema().as_arrow().clone()) as SchemaRef)
                })
            })
            .join()
            .map_err(|_| DataFusionError::Execution("planning the input query panicked".into()))?
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_split_is_stable_and_near_the_fraction() {
        let data = Dataset {
            names: vec!["x".into()],
            columns: vec![(0..10_000).map(f64::from).collect()],
            y: vec![0.0; 10_000],
            label_type: DataType::Float64,
            classes: Vec::new(),
            dropped: 0,
        };
        let held: usize = (0..10_000)
            .filter(|i| held_out(data.row_key(*i), 0.2))
            .count();
        assert!((1_800..2_200).contains(&held), "{held}");
        // Python's bench_ml.py reproduces the split; this pins the hash.
        assert_eq!(data.row_key(1), 0x8d7f_80c2_4f80_511e);
    }

    #[test]
    fn options_are_checked() {
        let spec = TrainSpec::new(
            "m",
            "classification",
            "t",
            "y",
            Some(r#"{"algorithm": "linear", "iterations": 5}"#),
        )
        .unwrap();
        assert_eq!(spec.algorithm, "linear");
        assert_eq!(spec.params, json!({"iterations": 5}));
        assert!(TrainSpec::new("m", "clustering", "t", "y", None).is_err());
        assert!(TrainSpec::new("m", "regression", "t", "y", Some("[1]")).is_err());
    }
}
