//! Linear model plugin: least-squares linear regression and logistic regression (Newton's
//! method), both with an intercept, a small ridge penalty that keeps collinear features
//! solvable, and the standard error of every coefficient. The engine uses them as baselines,
//! as the fallback when data is too thin for trees, and for price elasticities (a log-log
//! regression whose price coefficient is the elasticity).
//!
//! Features are standardised for the fit and the coefficients reported in the features' own
//! units; missing values are replaced by the training mean. Hyper-parameters (`params_json`):
//! `l2`, the ridge penalty on standardised coefficients (1e-6 for linear, 1.0 for logistic, as
//! scikit-learn's default C = 1), and `max_iterations` (50).

mod linalg;

use serde::{Deserialize, Serialize};
use spirit_plugin_sdk::model_prelude::*;

/// The plugin.
#[derive(Default)]
pub struct Linear;

/// Least-squares regression's name in SQL.
pub const LINEAR_REGRESSION: &str = "linear_regression";
/// Logistic regression's name in SQL.
pub const LOGISTIC_REGRESSION: &str = "logistic_regression";
/// The straight-line forecast's name: the engine's fallback for series too short for seasons.
pub const LINEAR_TREND: &str = "linear_trend";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    l2: Option<f64>,
    #[serde(default = "default_iterations")]
    max_iterations: usize,
}

fn default_iterations() -> usize {
    50
}

/// The artifact: what `predict` needs.
#[derive(Debug, Serialize, Deserialize)]
pub struct Fitted {
    /// Whether the output goes through the logistic function.
    pub logistic: bool,
    /// Intercept first, then one coefficient per feature.
    pub coefficients: Vec<f64>,
    /// Training means, used for missing values.
    pub means: Vec<f64>,
}

impl Fitted {
    fn predict(&self, features: &Features) -> Vec<f64> {
        (0..features.rows())
            .map(|i| {
                let z = self.coefficients[0]
                    + features
                        .columns
                        .iter()
                        .zip(&self.coefficients[1..])
                        .zip(&self.means)
                        .map(|((column, b), mean)| {
                            let x = column[i];
                            b * if x.is_nan() { *mean } else { x }
                        })
                        .sum::<f64>();
                if self.logistic { sigmoid(z) } else { z }
            })
            .collect()
    }
}

impl Model for Linear {
    fn algorithms(&self) -> Vec<Algorithm> {
        vec![
            Algorithm::new(
                LINEAR_REGRESSION,
                &[Task::Regression],
                "Least-squares linear regression with standard errors",
            ),
            Algorithm::new(
                LOGISTIC_REGRESSION,
                &[Task::Classification],
                "Logistic regression fitted by Newton's method, with standard errors",
            ),
            Algorithm::new(
                LINEAR_TREND,
                &[Task::Forecast],
                "A straight line through the series, with prediction intervals",
            ),
        ]
    }

    fn forecast(&self, request: &ForecastRequest) -> Result<Forecast> {
        linear_trend(request)
    }

    fn train(&self, request: &TrainRequest) -> Result<Trained> {
        train(request)
    }

    fn predict(&self, request: &PredictRequest) -> Result<Vec<f64>> {
        let fitted: Fitted = serde_json::from_slice(&request.artifact)
            .map_err(|e| Error::invalid_data(format!("the artifact is not a linear model: {e}")))?;
        if fitted.means.len() != request.features.columns.len() {
            return Err(Error::invalid_data(format!(
                "the model has {} features, the input {}",
                fitted.means.len(),
                request.features.columns.len()
            )));
        }
        Ok(fitted.predict(&request.features))
    }
}

export_model!(Linear);

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// Fits the model; the metrics hold each coefficient with its standard error.
pub fn train(request: &TrainRequest) -> Result<Trained> {
    let params: Params = serde_json::from_str(&request.params_json)
        .map_err(|e| Error::invalid_config(format!("linear parameters: {e}")))?;
    let logistic = request.task == Task::Classification;
    let features = &request.features;
    let n = features.rows();
    let p = features.columns.len() + 1;
    if n < p + 1 {
        return Err(Error::invalid_data(format!(
            "{n} rows are too few for {} features and an intercept",
            p - 1
        )));
    }
    let means: Vec<f64> = features
        .columns
        .iter()
        .map(|column| {
            let known: Vec<f64> = column.iter().copied().filter(|x| !x.is_nan()).collect();
            if known.is_empty() {
                0.0
            } else {
                known.iter().sum::<f64>() / known.len() as f64
            }
        })
        .collect();
    // Fitted on standardised features (mean 0, standard deviation 1), so the penalty and
    // Newton's steps treat a flag and a revenue in euros alike; constant features stay as
    // they are (scale 1) and are left to the penalty.
    let scales: Vec<f64> = features
        .columns
        .iter()
        .zip(&means)
        .map(|(column, mean)| {
            let known: Vec<f64> = column.iter().copied().filter(|x| !x.is_nan()).collect();
            let variance =
                known.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / known.len().max(1) as f64;
            if variance > 0.0 { variance.sqrt() } else { 1.0 }
        })
        .collect();
    // The design matrix, row-major, intercept first, missing values at the mean.
    let x: Vec<Vec<f64>> = (0..n)
        .map(|i| {
            std::iter::once(1.0)
                .chain(features.columns.iter().zip(means.iter().zip(&scales)).map(
                    |(column, (mean, scale))| {
                        if column[i].is_nan() {
                            0.0
                        } else {
                            (column[i] - mean) / scale
                        }
                    },
                ))
                .collect()
        })
        .collect();
    let y = &request.label;
    let (standardised, covariance) = if logistic {
        let l2 = params.l2.unwrap_or(1.0);
        linalg::logistic(&x, y, l2, params.max_iterations)?
    } else {
        let l2 = params.l2.unwrap_or(1e-6);
        linalg::least_squares(&x, y, l2)?
    };
    let (coefficients, covariance) =
        linalg::unstandardise(&standardised, &covariance, &means, &scales);
    let names = std::iter::once("intercept").chain(features.names.iter().map(String::as_str));
    let table: serde_json::Map<String, serde_json::Value> = names
        .zip(coefficients.iter().zip(0..p))
        .map(|(name, (b, j))| {
            (
                name.to_owned(),
                serde_json::json!({"estimate": b, "std_error": covariance[j][j].max(0.0).sqrt()}),
            )
        })
        .collect();
    let fitted = Fitted {
        logistic,
        coefficients,
        means,
    };
    Ok(Trained {
        artifact: serde_json::to_vec(&fitted).map_err(|e| Error::internal(e.to_string()))?,
        metrics_json: serde_json::json!({ "coefficients": table }).to_string(),
    })
}

/// Least squares of the values on their step number; the interval is the line's prediction
/// interval, `z · σ · √(1 + 1/n + (t − t̄)² / Sₜₜ)`.
pub fn linear_trend(request: &ForecastRequest) -> Result<Forecast> {
    let y = &request.values;
    let n = y.len();
    if n < 3 {
        return Err(Error::invalid_data(format!(
            "{n} points are too few for a trend line"
        )));
    }
    let x: Vec<Vec<f64>> = (0..n).map(|t| vec![1.0, t as f64]).collect();
    let (beta, _) = linalg::least_squares(&x, y, 0.0)?;
    let line = |t: f64| beta[0] + beta[1] * t;
    let mean_t = (n - 1) as f64 / 2.0;
    let stt: f64 = (0..n).map(|t| (t as f64 - mean_t).powi(2)).sum();
    let rss: f64 = y
        .iter()
        .enumerate()
        .map(|(t, v)| (v - line(t as f64)).powi(2))
        .sum();
    let sigma = (rss / (n - 2) as f64).sqrt();
    let z = distrs::Normal::ppf(0.5 + request.level / 2.0, 0.0, 1.0);
    let mut out = Forecast {
        model: "linear trend".to_owned(),
        ..Forecast::default()
    };
    for h in 0..request.horizon {
        let t = (n + h) as f64;
        let se = sigma * (1.0 + 1.0 / n as f64 + (t - mean_t).powi(2) / stt).sqrt();
        out.point.push(line(t));
        out.lower.push(line(t) - z * se);
        out.upper.push(line(t) + z * se);
    }
    if request.decompose {
        out.trend = (0..n + request.horizon).map(|t| line(t as f64)).collect();
        out.seasonal = vec![0.0; n + request.horizon];
        out.remainder = y
            .iter()
            .enumerate()
            .map(|(t, v)| v - line(t as f64))
            .chain(std::iter::repeat_n(f64::NAN, request.horizon))
            .collect();
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(task: Task, columns: Vec<Vec<f64>>, label: Vec<f64>) -> TrainRequest {
        TrainRequest {
            algorithm: String::new(),
            task,
            features: Features {
                names: (0..columns.len()).map(|i| format!("x{i}")).collect(),
                columns,
            },
            label,
            params_json: "{}".into(),
        }
    }

    /// y = 3 + 2 x0 - x1 plus small noise: the estimates land within two standard errors.
    #[test]
    fn least_squares_recovers_coefficients() {
        let x0: Vec<f64> = (0..200).map(|i| (i % 17) as f64).collect();
        let x1: Vec<f64> = (0..200).map(|i| ((i * 7) % 23) as f64).collect();
        let noise = |i: usize| ((i * 7919) % 101) as f64 / 100.0 - 0.5;
        let y: Vec<f64> = (0..200)
            .map(|i| 3.0 + 2.0 * x0[i] - x1[i] + noise(i))
            .collect();
        let trained = train(&request(Task::Regression, vec![x0, x1], y)).unwrap();
        let metrics: serde_json::Value = serde_json::from_str(&trained.metrics_json).unwrap();
        for (name, truth) in [("intercept", 3.0), ("x0", 2.0), ("x1", -1.0)] {
            let estimate = metrics["coefficients"][name]["estimate"].as_f64().unwrap();
            let se = metrics["coefficients"][name]["std_error"].as_f64().unwrap();
            assert!(
                (estimate - truth).abs() < 3.0 * se + 0.05,
                "{name}: {estimate} ± {se}"
            );
        }
    }

    #[test]
    fn logistic_separates_classes() {
        let x0: Vec<f64> = (0..300).map(|i| (i % 60) as f64 / 10.0 - 3.0).collect();
        let y: Vec<f64> = x0
            .iter()
            .enumerate()
            .map(|(i, x)| f64::from(u8::from(*x + ((i * 31) % 7) as f64 / 7.0 - 0.5 > 0.0)))
            .collect();
        let trained = train(&request(Task::Classification, vec![x0.clone()], y.clone())).unwrap();
        let fitted: Fitted = serde_json::from_slice(&trained.artifact).unwrap();
        let features = Features {
            names: vec!["x0".into()],
            columns: vec![x0],
        };
        let p = fitted.predict(&features);
        let correct = p
            .iter()
            .zip(&y)
            .filter(|(p, y)| (**p > 0.5) == (**y > 0.5))
            .count();
        assert!(correct > 270, "{correct}/300");
    }

    #[test]
    fn trend_line_continues() {
        let request = ForecastRequest {
            algorithm: LINEAR_TREND.into(),
            values: vec![1.0, 3.1, 4.9, 7.0, 9.0],
            periods: Vec::new(),
            horizon: 2,
            level: 0.95,
            decompose: true,
            params_json: "{}".into(),
        };
        let out = linear_trend(&request).unwrap();
        assert!((out.point[0] - 11.0).abs() < 0.2, "{:?}", out.point);
        assert!(out.lower[1] < out.point[1] && out.point[1] < out.upper[1]);
        assert_eq!(out.trend.len(), 7);
    }

    #[test]
    fn too_few_rows_are_refused() {
        let error = train(&request(
            Task::Regression,
            vec![vec![1.0, 2.0]],
            vec![1.0, 2.0],
        ));
        assert!(error.is_err());
    }
}
