//! Sources and columns: running what a function reads (a table or view name, or a query's
//! text) and turning its columns into what models take: Float64 features (NULL as NaN),
//! timestamps in microseconds, and Arrow IPC streams for the plugin boundary.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Float64Array, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use arrow::ipc::reader::StreamReader;
use arrow::ipc::writer::StreamWriter;

use crate::{Result, UNDEFINED_COLUMN, error, invalid};

/// The query of a source argument: a query's text as it is, or everything of a table or view.
pub fn source_sql(source: &str) -> String {
    let trimmed = source.trim().trim_end_matches(';');
    let first = trimmed
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    if matches!(first.as_str(), "select" | "with" | "values" | "(select") {
        trimmed.to_owned()
    } else {
        format!("SELECT * FROM {trimmed}")
    }
}

pub use spirit_core::engine::read_only_query as query;

/// The index of column `name` in `schema`; 42703 listing the columns when there is none.
pub fn column_index(schema: &Schema, name: &str, role: &str) -> Result<usize> {
    schema
        .fields()
        .iter()
        .position(|f| f.name() == name)
        .or_else(|| {
            schema
                .fields()
                .iter()
                .position(|f| f.name().eq_ignore_ascii_case(name))
        })
        .ok_or_else(|| {
            let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
            error(
                UNDEFINED_COLUMN,
                format!(
                    "{role} column \"{name}\" does not exist; the source has {}",
                    names.join(", ")
                ),
            )
        })
}

/// Whether a column of this type can be a numeric feature.
pub fn is_numeric(data_type: &DataType) -> bool {
    data_type.is_numeric() || matches!(data_type, DataType::Boolean | DataType::Null)
}

/// A numeric or boolean column as `f64`s, NULL as NaN; 22023 naming the column otherwise.
pub fn to_f64(array: &ArrayRef, name: &str, role: &str) -> Result<Vec<f64>> {
    if !is_numeric(array.data_type()) {
        return Err(invalid(format!(
            "{role} column \"{name}\" is {}, but models take numbers and booleans: encode it \
             in the query, e.g. ({name} = 'some value')::int, or leave it out",
            array.data_type()
        )));
    }
    let source = if array.data_type() == &DataType::Boolean {
        cast(array, &DataType::Int8)?
    } else {
        Arc::clone(array)
    };
    let floats = cast(&source, &DataType::Float64)?;
    let floats = floats
        .as_any()
        .downcast_ref::<Float64Array>()
        .expect("cast to Float64");
    Ok((0..floats.len())
        .map(|i| {
            if floats.is_null(i) {
                f64::NAN
            } else {
                floats.value(i)
            }
        })
        .collect())
}

/// A date or timestamp column as microseconds since the epoch (NULL as `None`).
pub fn to_micros(array: &ArrayRef, name: &str) -> Result<Vec<Option<i64>>> {
    let micros = match array.data_type() {
        DataType::Date32 | DataType::Date64 | DataType::Timestamp(_, _) => cast(
            &cast(array, &DataType::Timestamp(TimeUnit::Microsecond, None))?,
            &DataType::Int64,
        )?,
        other => {
            return Err(invalid(format!(
                "timestamp column \"{name}\" is {other}; it must be a DATE or TIMESTAMP \
                 (cast it in the query, e.g. {name}::date)"
            )));
        }
    };
    let micros = micros
        .as_any()
        .downcast_ref::<arrow::array::Int64Array>()
        .expect("cast to Int64");
    Ok((0..micros.len())
        .map(|i| (!micros.is_null(i)).then(|| micros.value(i)))
        .collect())
}

/// Named Float64 columns as one Arrow IPC stream: how features cross to a model plugin.
pub fn encode_columns(names: &[String], columns: &[Vec<f64>]) -> Result<Vec<u8>> {
    let schema = Arc::new(Schema::new(
        names
            .iter()
            .map(|n| Field::new(n, DataType::Float64, true))
            .collect::<Vec<_>>(),
    ));
    let arrays: Vec<ArrayRef> = columns
        .iter()
        .map(|c| {
            Arc::new(Float64Array::from_iter(
                c.iter().map(|v| (!v.is_nan()).then_some(*v)),
            )) as ArrayRef
        })
        .collect();
    let batch = RecordBatch::try_new(Arc::clone(&schema), arrays)?;
    let mut writer = StreamWriter::try_new(Vec::new(), &schema)?;
    writer.write(&batch)?;
    Ok(writer.into_inner()?)
}

/// The `prediction` column of a plugin's answer, which must have `rows` values.
pub fn decode_predictions(plugin: &str, bytes: &[u8], rows: usize) -> Result<Vec<f64>> {
    let bad = |message: String| {
        error(
            "22000",
            format!("model plugin {plugin} sent unreadable predictions: {message}"),
        )
    };
    let reader = StreamReader::try_new(bytes, None).map_err(|e| bad(e.to_string()))?;
    let mut out = Vec::with_capacity(rows);
    for batch in reader {
        let batch = batch.map_err(|e| bad(e.to_string()))?;
        let column = batch
            .column_by_name("prediction")
            .ok_or_else(|| bad("no column \"prediction\"".into()))?;
        out.extend(to_f64(column, "prediction", "prediction")?);
    }
    if out.len() != rows {
        return Err(bad(format!("{} predictions for {rows} rows", out.len())));
    }
    Ok(out)
}
