//! The [`Model`] trait a model-plugin author implements, and the plain Rust types it speaks:
//! feature matrices of `f64`, labels, artifacts of bytes, and series to forecast.

use crate::{Error, Result};

/// A model plugin: one or more algorithms the engine trains and runs from SQL. Implement this,
/// then export it with [`export_model!`](crate::export_model).
///
/// The engine makes a fresh instance of the component for every call, so keep nothing between
/// calls: everything `predict` needs goes into the artifact `train` returns. Calls run inside
/// the plugin's memory and time limits (its `plugin.toml`); a panic or a limit ends the call
/// with an SQL error and never the engine.
///
/// Every method but [`algorithms`](Self::algorithms) has a default answering "not offered",
/// so a forecasting plugin implements only [`forecast`](Self::forecast).
pub trait Model {
    /// What the plugin offers. The SDK refuses calls naming another algorithm, or a task the
    /// algorithm does not list, before they reach the plugin.
    fn algorithms(&self) -> Vec<Algorithm>;

    /// Fits `request.algorithm` to the features and label.
    fn train(&self, request: &TrainRequest) -> Result<Trained> {
        Err(not_offered("train", &request.algorithm))
    }

    /// One prediction per row of `request.features` (classification: the probability of
    /// class 1).
    fn predict(&self, request: &PredictRequest) -> Result<Vec<f64>> {
        Err(not_offered("predict", &request.algorithm))
    }

    /// The next `request.horizon` values of `request.values`.
    fn forecast(&self, request: &ForecastRequest) -> Result<Forecast> {
        Err(not_offered("forecast", &request.algorithm))
    }
}

fn not_offered(call: &str, algorithm: &str) -> Error {
    Error::invalid_config(format!("algorithm '{algorithm}' does not offer {call}"))
}

/// What an algorithm learns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    /// Two classes, labels 0 and 1; predictions are the probability of 1.
    Classification,
    /// A number.
    Regression,
    /// The next values of an evenly spaced series.
    Forecast,
}

/// One algorithm of a model plugin.
#[derive(Debug, Clone)]
pub struct Algorithm {
    /// The name SQL selects it by: `train_model(…, '{"algorithm": "<name>"}')`.
    pub name: String,
    /// The tasks it does.
    pub tasks: Vec<Task>,
    /// One sentence.
    pub description: String,
}

impl Algorithm {
    /// An algorithm called `name` doing `tasks`.
    pub fn new(name: &str, tasks: &[Task], description: &str) -> Self {
        Self {
            name: name.to_owned(),
            tasks: tasks.to_vec(),
            description: description.to_owned(),
        }
    }
}

/// A feature matrix: named columns of `f64`, NaN where the value is missing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Features {
    /// Column names, in the order of [`columns`](Self::columns).
    pub names: Vec<String>,
    /// One vector per column, all of [`rows`](Self::rows) values.
    pub columns: Vec<Vec<f64>>,
}

impl Features {
    /// Rows in the matrix.
    pub fn rows(&self) -> usize {
        self.columns.first().map_or(0, Vec::len)
    }

    /// The matrix as one column-major vector (column 0's rows, then column 1's …), the layout
    /// most Rust ML crates take.
    pub fn column_major(&self) -> Vec<f64> {
        self.columns.concat()
    }

    /// Row `i` as a vector.
    pub fn row(&self, i: usize) -> Vec<f64> {
        self.columns.iter().map(|column| column[i]).collect()
    }
}

/// One call of [`Model::train`].
#[derive(Debug, Clone)]
pub struct TrainRequest {
    /// One of [`Model::algorithms`].
    pub algorithm: String,
    /// Classification or regression.
    pub task: Task,
    /// The features.
    pub features: Features,
    /// The label, one value per row, never NaN (classification: 0 or 1).
    pub label: Vec<f64>,
    /// Hyper-parameters: a JSON object, `{}` for the defaults.
    pub params_json: String,
}

/// What [`Model::train`] returns.
#[derive(Debug, Clone, Default)]
pub struct Trained {
    /// Everything `predict` needs, in any encoding the plugin likes.
    pub artifact: Vec<u8>,
    /// A JSON object of what the plugin wants to report (coefficients, iterations …); the
    /// engine adds its own held-out metrics beside it.
    pub metrics_json: String,
}

/// One call of [`Model::predict`].
#[derive(Debug, Clone)]
pub struct PredictRequest {
    /// The algorithm that trained the artifact.
    pub algorithm: String,
    /// What [`Model::train`] returned.
    pub artifact: Vec<u8>,
    /// The features: the training columns, same names and order.
    pub features: Features,
}

/// One call of [`Model::forecast`].
#[derive(Debug, Clone)]
pub struct ForecastRequest {
    /// One of [`Model::algorithms`].
    pub algorithm: String,
    /// The series, evenly spaced, without gaps or NaN.
    pub values: Vec<f64>,
    /// Seasonal periods in steps, shortest first, each covered at least twice by `values`.
    pub periods: Vec<usize>,
    /// Steps to forecast, at least 1.
    pub horizon: usize,
    /// Coverage of the interval, in (0, 1).
    pub level: f64,
    /// Whether to fill [`Forecast`]'s decomposition.
    pub decompose: bool,
    /// Hyper-parameters: a JSON object.
    pub params_json: String,
}

/// What [`Model::forecast`] returns: `horizon` values in `point`, `lower` and `upper`.
#[derive(Debug, Clone, Default)]
pub struct Forecast {
    /// Point forecast.
    pub point: Vec<f64>,
    /// Lower bound of the interval.
    pub lower: Vec<f64>,
    /// Upper bound of the interval.
    pub upper: Vec<f64>,
    /// Which model answered, e.g. `MSTL(7) + AutoETS, log`.
    pub model: String,
    /// With `decompose`: the trend over the history and then the forecast
    /// (`values.len() + horizon` values); empty otherwise.
    pub trend: Vec<f64>,
    /// With `decompose`: the seasonal part, the sum of all periods, same length as `trend`.
    pub seasonal: Vec<f64>,
    /// With `decompose`: what trend and season leave, same length (NaN over the forecast).
    pub remainder: Vec<f64>,
}
