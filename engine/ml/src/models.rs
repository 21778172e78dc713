//! The model registry: every trained version of every model, kept in the store.
//! `spirit.models` is what users see (one row per version, metrics as JSON, which version is
//! deployed); the artifacts and what `predict` needs to rebuild its output sit beside it in
//! `spirit_internal.model_artifacts`, or, with `ML_MODELS_PATH`, in files there. Training adds a version and deploys it; `deploy_model`
//! moves deployment to another version (a rollback).

use std::path::Path;

use chrono::{NaiveDateTime, Utc};
use duckdb::{OptionalExt, params};
use spirit_core::store::Store;

use crate::{Result, UNDEFINED_FUNCTION, error};

/// The registry's tables, with their comments.
const DDL: &str = "
CREATE SCHEMA IF NOT EXISTS spirit;
CREATE SCHEMA IF NOT EXISTS spirit_internal;
CREATE TABLE IF NOT EXISTS spirit.models (
    name VARCHAR NOT NULL,
    version INTEGER NOT NULL,
    task VARCHAR NOT NULL,
    algorithm VARCHAR NOT NULL,
    plugin VARCHAR NOT NULL,
    trained_at TIMESTAMP NOT NULL,
    training_rows BIGINT NOT NULL,
    metrics VARCHAR NOT NULL,
    deployed BOOLEAN NOT NULL,
    label VARCHAR NOT NULL,
    features VARCHAR NOT NULL,
    PRIMARY KEY (name, version)
);
COMMENT ON TABLE spirit.models IS 'Trained models, one row per version: train_model() adds a version and deploys it, deploy_model() rolls back.';
COMMENT ON COLUMN spirit.models.name IS 'Model name, as train_model() and predict() take it.';
COMMENT ON COLUMN spirit.models.version IS 'Version number, 1 for the first training.';
COMMENT ON COLUMN spirit.models.task IS 'classification or regression.';
COMMENT ON COLUMN spirit.models.algorithm IS 'Algorithm that trained it, e.g. gbt or logistic_regression.';
COMMENT ON COLUMN spirit.models.plugin IS 'Model plugin that runs it.';
COMMENT ON COLUMN spirit.models.trained_at IS 'When training finished (UTC).';
COMMENT ON COLUMN spirit.models.training_rows IS 'Rows the model was fitted on (the held-out rows excluded).';
COMMENT ON COLUMN spirit.models.metrics IS 'JSON: held-out metrics (auc, log_loss, f1, accuracy or rmse, mae, r2), the baseline''s, and what the plugin reported.';
COMMENT ON COLUMN spirit.models.deployed IS 'Whether predict() uses this version; one per model.';
COMMENT ON COLUMN spirit.models.label IS 'Label column it predicts.';
COMMENT ON COLUMN spirit.models.features IS 'JSON array of its feature columns, in order.';
CREATE TABLE IF NOT EXISTS spirit_internal.model_artifacts (
    name VARCHAR NOT NULL,
    version INTEGER NOT NULL,
    label_type VARCHAR NOT NULL,
    classes VARCHAR NOT NULL,
    artifact BLOB NOT NULL,
    PRIMARY KEY (name, version)
);
-- Set when the artifact is a file under ML_MODELS_PATH (artifact is then empty).
ALTER TABLE spirit_internal.model_artifacts ADD COLUMN IF NOT EXISTS location VARCHAR;
";

/// Creates the registry's tables if they are missing.
pub fn create_tables(store: &Store) -> spirit_core::Result<()> {
    store.with_conn(|conn| conn.execute_batch(DDL))
}

/// One version of a model.
#[derive(Debug, Clone)]
pub struct ModelVersion {
    pub name: String,
    pub version: i32,
    /// `classification` or `regression`.
    pub task: String,
    pub algorithm: String,
    pub plugin: String,
    pub trained_at: NaiveDateTime,
    pub training_rows: i64,
    /// JSON object.
    pub metrics: String,
    pub deployed: bool,
    pub label: String,
    pub features: Vec<String>,
    /// The label's Arrow type, as text (`predict` answers in it).
    pub label_type: String,
    /// Classification: the label values meaning 0 and 1, as text.
    pub classes: Vec<String>,
}

/// Saves a new version of `model.name` (its `version` is ignored) with `artifact`, deploys
/// it and returns its number. With `files`, the artifact is written to
/// `<files>/<name>/v<version>.bin` and the store keeps its path.
pub fn save(
    store: &Store,
    model: &ModelVersion,
    artifact: &[u8],
    files: Option<&Path>,
) -> Result<i32> {
    let features = serde_json::to_string(&model.features).expect("strings serialise");
    let classes = serde_json::to_string(&model.classes).expect("strings serialise");
    let version: i32 = store.with_conn(|conn| {
        conn.query_row(
            "SELECT coalesce(max(version), 0) + 1 FROM spirit.models WHERE name = ?",
            params![model.name],
            |row| row.get(0),
        )
    })?;
    let location = files
        .map(|dir| write_artifact(dir, &model.name, version, artifact))
        .transpose()?;
    let stored: &[u8] = if location.is_some() { &[] } else { artifact };
    let saved = store.with_transaction(|conn| {
        conn.execute(
            "UPDATE spirit.models SET deployed = false WHERE name = ?",
            params![model.name],
        )?;
        conn.execute(
            "INSERT INTO spirit.models VALUES (?, ?, ?, ?, ?, ?, ?, ?, true, ?, ?)",
            params![
                model.name,
                version,
                model.task,
                model.algorithm,
                model.plugin,
                model.trained_at,
                model.training_rows,
                model.metrics,
                model.label,
                features
            ],
        )?;
        conn.execute(
            "INSERT INTO spirit_internal.model_artifacts \
             (name, version, label_type, classes, artifact, location) VALUES (?, ?, ?, ?, ?, ?)",
            params![
                model.name,
                version,
                model.label_type,
                classes,
                stored,
                location
            ],
        )?;
        Ok(())
    });
    if let Err(e) = saved {
        // A concurrent training took the version number; its file is not ours to keep.
        if let Some(path) = &location {
            let _ = std::fs::remove_file(path);
        }
        return Err(e.into());
    }
    Ok(version)
}

/// Writes an artifact file whole (through a temporary file and a rename) and returns its path.
fn write_artifact(dir: &Path, name: &str, version: i32, artifact: &[u8]) -> Result<String> {
    let io = |what: &str, path: &Path, e: std::io::Error| {
        error(
            "58030",
            format!(
                "cannot {what} model artifact {}: {e} (ML_MODELS_PATH)",
                path.display()
            ),
        )
    };
    let model_dir = dir.join(name);
    std::fs::create_dir_all(&model_dir)
        .map_err(|e| io("create the directory of", &model_dir, e))?;
    let path = model_dir.join(format!("v{version}.bin"));
    let partial = model_dir.join(format!(".v{version}.bin.partial"));
    std::fs::write(&partial, artifact).map_err(|e| io("write", &partial, e))?;
    std::fs::rename(&partial, &path).map_err(|e| io("write", &path, e))?;
    Ok(path.display().to_string())
}

const SELECT: &str = "SELECT m.name, m.version, m.task, m.algorithm, m.plugin, m.trained_at, \
    m.training_rows, m.metrics, m.deployed, m.label, m.features, a.label_type, a.classes \
    FROM spirit.models m JOIN spirit_internal.model_artifacts a USING (name, version)";

fn read(row: &duckdb::Row<'_>) -> duckdb::Result<ModelVersion> {
    let features: String = row.get(10)?;
    let classes: String = row.get(12)?;
    Ok(ModelVersion {
        name: row.get(0)?,
        version: row.get(1)?,
        task: row.get(2)?,
        algorithm: row.get(3)?,
        plugin: row.get(4)?,
        trained_at: row.get(5)?,
        training_rows: row.get(6)?,
        metrics: row.get(7)?,
        deployed: row.get(8)?,
        label: row.get(9)?,
        features: serde_json::from_str(&features).unwrap_or_default(),
        label_type: row.get(11)?,
        classes: serde_json::from_str(&classes).unwrap_or_default(),
    })
}

/// Version `version` of `name` (the deployed one when `None`), or `None` if there is none.
pub fn find(store: &Store, name: &str, version: Option<i32>) -> Result<Option<ModelVersion>> {
    Ok(store.with_conn(|conn| {
        match version {
            Some(v) => conn.query_row(
                &format!("{SELECT} WHERE name = ? AND version = ?"),
                params![name, v],
                read,
            ),
            None => conn.query_row(
                &format!("{SELECT} WHERE name = ? AND deployed"),
                params![name],
                read,
            ),
        }
        .optional()
    })?)
}

/// [`find`], with 42883 (as for an unknown function) naming the models there are when there is no such model.
pub fn get(store: &Store, name: &str, version: Option<i32>) -> Result<ModelVersion> {
    if let Some(model) = find(store, name, version)? {
        return Ok(model);
    }
    let names: Vec<String> = store.with_conn(|conn| {
        let mut stmt = conn.prepare("SELECT DISTINCT name FROM spirit.models ORDER BY name")?;
        let names = stmt.query_map([], |row| row.get(0))?;
        names.collect()
    })?;
    let known = if names.is_empty() {
        "there are no models yet: train one with train_model()".to_owned()
    } else {
        format!("the models are {}", names.join(", "))
    };
    Err(error(
        UNDEFINED_FUNCTION,
        match version {
            Some(v) => format!("model \"{name}\" has no version {v}; {known} (see spirit.models)"),
            None => format!("there is no model \"{name}\"; {known}"),
        },
    ))
}

/// The artifact of one version, from the store or from its file.
pub fn artifact(store: &Store, name: &str, version: i32) -> Result<Vec<u8>> {
    let (artifact, location): (Vec<u8>, Option<String>) = store.with_conn(|conn| {
        conn.query_row(
            "SELECT artifact, location FROM spirit_internal.model_artifacts \
             WHERE name = ? AND version = ?",
            params![name, version],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
    })?;
    match location {
        None => Ok(artifact),
        Some(path) => std::fs::read(&path).map_err(|e| {
            error(
                "58030",
                format!(
                    "model {name} version {version}: cannot read its artifact {path}: {e}; \
                     restore the file or retrain the model"
                ),
            )
        }),
    }
}

/// Makes `version` the deployed version of `name`.
pub fn deploy(store: &Store, name: &str, version: i32) -> Result<ModelVersion> {
    get(store, name, Some(version))?;
    store.with_conn(|conn| {
        conn.execute(
            "UPDATE spirit.models SET deployed = (version = ?) WHERE name = ?",
            params![version, name],
        )
    })?;
    get(store, name, Some(version))
}

/// The current time, as the registry records it.
pub fn now() -> NaiveDateTime {
    Utc::now().naive_utc()
}
