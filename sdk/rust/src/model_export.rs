//! The glue between the generated `model` world exports and [`Model`]: decodes Arrow IPC into
//! [`Features`], checks requests against the plugin's algorithms and answers against the
//! request, and maps errors. [`export_model!`](crate::export_model) calls these; authors never
//! do.

use std::sync::Arc;

use arrow_array::{Array, Float64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};

use crate::model_bindings::spirit::plugin::types as wit;
use crate::{Error, ForecastRequest, Model, PredictRequest, Result, Task, TrainRequest, ipc};

/// The `algorithms` export.
pub fn algorithms<M: Model>(model: &M) -> Vec<wit::AlgorithmInfo> {
    model
        .algorithms()
        .into_iter()
        .map(|algorithm| wit::AlgorithmInfo {
            name: algorithm.name,
            tasks: algorithm.tasks.iter().map(|task| wit_task(*task)).collect(),
            description: algorithm.description,
        })
        .collect()
}

/// The `train` export.
pub fn train<M: Model>(
    model: &M,
    request: wit::TrainRequest,
) -> Result<wit::TrainedModel, wit::PluginError> {
    guarded(|| {
        let task = task(request.task);
        check_algorithm(model, &request.algorithm, task)?;
        let mut features = ipc::decode_features(&request.data)?;
        let position = features
            .names
            .iter()
            .position(|name| *name == request.label)
            .ok_or_else(|| {
                Error::invalid_data(format!("no label column '{}' in the data", request.label))
            })?;
        features.names.remove(position);
        let label = features.columns.remove(position);
        if label.iter().any(|value| value.is_nan()) {
            return Err(Error::invalid_data("the label has missing values"));
        }
        let trained = model.train(&TrainRequest {
            algorithm: request.algorithm,
            task,
            features,
            label,
            params_json: request.params_json,
        })?;
        Ok(wit::TrainedModel {
            artifact: trained.artifact,
            metrics_json: if trained.metrics_json.is_empty() {
                "{}".to_owned()
            } else {
                trained.metrics_json
            },
        })
    })
}

/// The `predict` export.
pub fn predict<M: Model>(
    model: &M,
    request: wit::PredictRequest,
) -> Result<Vec<u8>, wit::PluginError> {
    guarded(|| {
        let features = ipc::decode_features(&request.input)?;
        let rows = features.rows();
        let predictions = model.predict(&PredictRequest {
            algorithm: request.algorithm,
            artifact: request.artifact,
            features,
        })?;
        if predictions.len() != rows {
            return Err(Error::internal(format!(
                "predict returned {} values for {rows} rows",
                predictions.len()
            )));
        }
        let schema = Arc::new(Schema::new(vec![Field::new(
            "prediction",
            DataType::Float64,
            true,
        )]));
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![Arc::new(Float64Array::from(predictions)) as Arc<dyn Array>],
        )?;
        ipc::encode(&schema, &[batch])
    })
}

/// The `forecast` export.
pub fn forecast<M: Model>(
    model: &M,
    request: wit::ForecastRequest,
) -> Result<wit::ForecastResult, wit::PluginError> {
    guarded(|| {
        check_algorithm(model, &request.algorithm, Task::Forecast)?;
        let request = ForecastRequest {
            algorithm: request.algorithm,
            periods: request.periods.iter().map(|p| *p as usize).collect(),
            horizon: request.horizon as usize,
            level: request.level,
            decompose: request.decompose,
            params_json: request.params_json,
            values: request.values,
        };
        let forecast = model.forecast(&request)?;
        let horizon = request.horizon;
        if [&forecast.point, &forecast.lower, &forecast.upper]
            .iter()
            .any(|values| values.len() != horizon)
        {
            return Err(Error::internal(format!(
                "forecast returned {}/{}/{} point/lower/upper values for a horizon of {horizon}",
                forecast.point.len(),
                forecast.lower.len(),
                forecast.upper.len()
            )));
        }
        let steps = request.values.len() + horizon;
        if request.decompose
            && [&forecast.trend, &forecast.seasonal, &forecast.remainder]
                .iter()
                .any(|values| values.len() != steps)
        {
            return Err(Error::internal(format!(
                "the decomposition must have {steps} values per component (history and horizon)"
            )));
        }
        Ok(wit::ForecastResult {
            point: forecast.point,
            lower: forecast.lower,
            upper: forecast.upper,
            model: forecast.model,
            trend: forecast.trend,
            seasonal: forecast.seasonal,
            remainder: forecast.remainder,
        })
    })
}

/// Refuses an algorithm the plugin does not list, or a task the algorithm does not do.
fn check_algorithm<M: Model>(model: &M, name: &str, task: Task) -> Result<()> {
    let algorithms = model.algorithms();
    let Some(algorithm) = algorithms.iter().find(|a| a.name == name) else {
        let names: Vec<&str> = algorithms.iter().map(|a| a.name.as_str()).collect();
        return Err(Error::invalid_config(format!(
            "no algorithm '{name}' here; this plugin offers {}",
            names.join(", ")
        )));
    };
    if !algorithm.tasks.contains(&task) {
        return Err(Error::invalid_config(format!(
            "algorithm '{name}' does not do {task:?}; it does {:?}",
            algorithm.tasks
        )));
    }
    Ok(())
}

fn task(task: wit::Task) -> Task {
    match task {
        wit::Task::Classification => Task::Classification,
        wit::Task::Regression => Task::Regression,
        wit::Task::Forecast => Task::Forecast,
    }
}

fn wit_task(task: Task) -> wit::Task {
    match task {
        Task::Classification => wit::Task::Classification,
        Task::Regression => wit::Task::Regression,
        Task::Forecast => wit::Task::Forecast,
    }
}

crate::error::define_guarded!();

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Algorithm, Forecast, Trained};

    #[derive(Default)]
    struct Mean;

    impl Model for Mean {
        fn algorithms(&self) -> Vec<Algorithm> {
            vec![Algorithm::new(
                "mean",
                &[Task::Regression],
                "the training mean",
            )]
        }

        fn train(&self, request: &TrainRequest) -> Result<Trained> {
            let mean = request.label.iter().sum::<f64>() / request.label.len() as f64;
            Ok(Trained {
                artifact: mean.to_le_bytes().to_vec(),
                metrics_json: String::new(),
            })
        }

        fn predict(&self, request: &PredictRequest) -> Result<Vec<f64>> {
            let bytes: [u8; 8] = request.artifact.as_slice().try_into().unwrap();
            Ok(vec![f64::from_le_bytes(bytes); request.features.rows()])
        }

        fn forecast(&self, _: &ForecastRequest) -> Result<Forecast> {
            Ok(Forecast::default())
        }
    }

    fn data(rows: &[(f64, Option<f64>)]) -> Vec<u8> {
        let schema = Arc::new(Schema::new(vec![
            Field::new("x", DataType::Float64, true),
            Field::new("y", DataType::Float64, true),
        ]));
        let x: Float64Array = rows.iter().map(|r| Some(r.0)).collect();
        let y: Float64Array = rows.iter().map(|r| r.1).collect();
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![Arc::new(x) as Arc<dyn Array>, Arc::new(y)],
        )
        .unwrap();
        ipc::encode(&schema, &[batch]).unwrap()
    }

    #[test]
    fn trains_and_predicts_through_ipc() {
        let trained = train(
            &Mean,
            wit::TrainRequest {
                algorithm: "mean".into(),
                task: wit::Task::Regression,
                data: data(&[(1.0, Some(2.0)), (2.0, Some(4.0))]),
                label: "y".into(),
                params_json: "{}".into(),
            },
        )
        .unwrap();
        assert_eq!(trained.metrics_json, "{}");
        let bytes = predict(
            &Mean,
            wit::PredictRequest {
                algorithm: "mean".into(),
                artifact: trained.artifact,
                input: data(&[(5.0, None), (6.0, None), (7.0, None)]),
            },
        )
        .unwrap();
        let back = ipc::decode_features(&bytes).unwrap();
        assert_eq!(back.names, ["prediction"]);
        assert_eq!(back.columns[0], [3.0, 3.0, 3.0]);
    }

    #[test]
    fn refuses_unknown_algorithms_tasks_and_labels() {
        let request =
            |algorithm: &str, task, label: &str, rows: &[(f64, Option<f64>)]| wit::TrainRequest {
                algorithm: algorithm.into(),
                task,
                data: data(rows),
                label: label.into(),
                params_json: "{}".into(),
            };
        let ok = [(1.0, Some(1.0))];
        let e = train(&Mean, request("median", wit::Task::Regression, "y", &ok)).unwrap_err();
        assert!(e.message.contains("offers mean"), "{}", e.message);
        let e = train(&Mean, request("mean", wit::Task::Classification, "y", &ok)).unwrap_err();
        assert!(e.message.contains("does not do"), "{}", e.message);
        let e = train(&Mean, request("mean", wit::Task::Regression, "z", &ok)).unwrap_err();
        assert!(e.message.contains("no label column"), "{}", e.message);
        let e = train(
            &Mean,
            request("mean", wit::Task::Regression, "y", &[(1.0, None)]),
        )
        .unwrap_err();
        assert!(e.message.contains("missing values"), "{}", e.message);
        let e = forecast(
            &Mean,
            wit::ForecastRequest {
                algorithm: "mean".into(),
                values: vec![1.0, 2.0],
                periods: Vec::new(),
                horizon: 1,
                level: 0.9,
                decompose: false,
                params_json: "{}".into(),
            },
        )
        .unwrap_err();
        assert!(e.message.contains("does not do"), "{}", e.message);
    }
}
