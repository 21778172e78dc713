//! Gradient-boosted trees model plugin (forust-ml): classification with log-loss, regression
//! with squared loss. The artifact is forust's own JSON dump of the booster.
//!
//! Hyper-parameters (`params_json`, all optional): `iterations` (200), `learning_rate` (0.08),
//! `max_depth` (4), `l2` (1.0), `min_leaf_weight` (1.0), `subsample` (1.0), `seed` (0).

use std::collections::BTreeMap;

use forust_ml::Matrix;
use forust_ml::gradientbooster::{GradientBooster, ImportanceMethod};
use forust_ml::objective::ObjectiveType;
use serde::Deserialize;
use spirit_plugin_sdk::model_prelude::*;

/// The plugin.
#[derive(Default)]
pub struct Gbt;

/// The algorithm's name in SQL.
pub const GBT: &str = "gbt";

/// Hyper-parameters, with the defaults the module doc gives.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub iterations: usize,
    pub learning_rate: f32,
    pub max_depth: usize,
    pub l2: f32,
    pub min_leaf_weight: f32,
    pub subsample: f32,
    pub seed: u64,
}

impl Default for Params {
    fn default() -> Self {
        Self {
            iterations: 200,
            learning_rate: 0.08,
            max_depth: 4,
            l2: 1.0,
            min_leaf_weight: 1.0,
            subsample: 1.0,
            seed: 0,
        }
    }
}

impl Model for Gbt {
    fn algorithms(&self) -> Vec<Algorithm> {
        vec![Algorithm::new(
            GBT,
            &[Task::Classification, Task::Regression],
            "Gradient-boosted decision trees (forust-ml), missing values routed by the trees",
        )]
    }

    fn train(&self, request: &TrainRequest) -> Result<Trained> {
        train(request)
    }

    fn predict(&self, request: &PredictRequest) -> Result<Vec<f64>> {
        let json = std::str::from_utf8(&request.artifact)
            .map_err(|_| Error::invalid_data("the artifact is not a gbt model"))?;
        let booster = GradientBooster::from_json(json)
            .map_err(|e| Error::invalid_data(format!("the artifact is not a gbt model: {e}")))?;
        let data = request.features.column_major();
        let matrix = Matrix::new(
            &data,
            request.features.rows(),
            request.features.columns.len(),
        );
        let raw = booster.predict(&matrix, false);
        Ok(match booster.objective_type {
            ObjectiveType::LogLoss => raw.into_iter().map(sigmoid).collect(),
            ObjectiveType::SquaredLoss => raw,
        })
    }
}

export_model!(Gbt);

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Fits a booster; the metrics give each feature's share of the total split gain.
pub fn train(request: &TrainRequest) -> Result<Trained> {
    let params: Params = serde_json::from_str(&request.params_json)
        .map_err(|e| Error::invalid_config(format!("gbt parameters: {e}")))?;
    let objective = match request.task {
        Task::Classification => ObjectiveType::LogLoss,
        Task::Regression => ObjectiveType::SquaredLoss,
        Task::Forecast => return Err(Error::invalid_config("gbt does not forecast series")),
    };
    let features = &request.features;
    let data = features.column_major();
    let matrix = Matrix::new(&data, features.rows(), features.columns.len());
    let mut booster = GradientBooster::default()
        .set_objective_type(objective)
        .set_iterations(params.iterations)
        .set_learning_rate(params.learning_rate)
        .set_max_depth(params.max_depth)
        .set_l2(params.l2)
        .set_min_leaf_weight(params.min_leaf_weight)
        .set_subsample(params.subsample)
        .set_seed(params.seed)
        // No threads in the sandbox; the SDK's shim makes rayon run inline anyway.
        .set_parallel(false);
    booster
        .fit_unweighted(&matrix, &request.label, None)
        .map_err(|e| Error::invalid_data(format!("gbt could not fit: {e}")))?;
    let importance: BTreeMap<&str, f32> = booster
        .calculate_feature_importance(ImportanceMethod::TotalGain, true)
        .into_iter()
        .filter_map(|(i, gain)| Some((features.names.get(i)?.as_str(), gain)))
        .collect();
    let metrics = serde_json::json!({
        "iterations": params.iterations,
        "feature_importance": importance,
    });
    let artifact = booster
        .json_dump()
        .map_err(|e| Error::internal(format!("gbt could not save the model: {e}")))?;
    Ok(Trained {
        artifact: artifact.into_bytes(),
        metrics_json: metrics.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn features(columns: Vec<Vec<f64>>) -> Features {
        Features {
            names: (0..columns.len()).map(|i| format!("x{i}")).collect(),
            columns,
        }
    }

    /// A label that is 1 exactly when x0 > 0.5: the trees find the split.
    #[test]
    fn learns_a_threshold() {
        let x0: Vec<f64> = (0..400).map(|i| (i % 100) as f64 / 100.0).collect();
        let x1: Vec<f64> = (0..400).map(|i| ((i * 37) % 100) as f64).collect();
        let label: Vec<f64> = x0.iter().map(|v| f64::from(u8::from(*v > 0.5))).collect();
        let trained = train(&TrainRequest {
            algorithm: GBT.into(),
            task: Task::Classification,
            features: features(vec![x0.clone(), x1.clone()]),
            label: label.clone(),
            params_json: "{}".into(),
        })
        .unwrap();
        assert!(trained.metrics_json.contains("\"x0\""));
        let p = Gbt
            .predict(&PredictRequest {
                algorithm: GBT.into(),
                artifact: trained.artifact,
                features: features(vec![x0, x1]),
            })
            .unwrap();
        let correct = p
            .iter()
            .zip(&label)
            .filter(|(p, l)| (**p > 0.5) == (**l > 0.5))
            .count();
        assert_eq!(correct, 400);
    }

    #[test]
    fn unknown_parameters_are_refused() {
        let error = train(&TrainRequest {
            algorithm: GBT.into(),
            task: Task::Regression,
            features: features(vec![vec![1.0, 2.0]]),
            label: vec![1.0, 2.0],
            params_json: r#"{"depth": 3}"#.into(),
        })
        .unwrap_err();
        assert!(error.message().contains("depth"), "{error}");
    }
}
