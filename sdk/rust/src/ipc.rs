//! Arrow IPC stream encoding, the only form in which data crosses the plugin boundary.

use arrow_array::RecordBatch;
use arrow_ipc::writer::StreamWriter;
use arrow_schema::Schema;

use crate::Result;

/// A model request's data: an IPC stream of Float64 columns, NULL read as NaN.
#[cfg(feature = "model")]
pub(crate) fn decode_features(bytes: &[u8]) -> Result<crate::Features> {
    use arrow_array::Array;
    use arrow_array::cast::AsArray;
    use arrow_array::types::Float64Type;
    use arrow_ipc::reader::StreamReader;
    use arrow_schema::DataType;

    use crate::Error;

    let reader = StreamReader::try_new(bytes, None)
        .map_err(|e| Error::invalid_data(format!("the engine sent unreadable Arrow IPC: {e}")))?;
    let schema = reader.schema();
    let mut features = crate::Features {
        names: schema.fields().iter().map(|f| f.name().clone()).collect(),
        columns: vec![Vec::new(); schema.fields().len()],
    };
    if let Some(field) = schema
        .fields()
        .iter()
        .find(|f| f.data_type() != &DataType::Float64)
    {
        return Err(Error::invalid_data(format!(
            "column '{}' is {}, not Float64",
            field.name(),
            field.data_type()
        )));
    }
    for batch in reader {
        let batch: RecordBatch = batch?;
        for (column, array) in features.columns.iter_mut().zip(batch.columns()) {
            let array = array.as_primitive::<Float64Type>();
            column.extend((0..array.len()).map(|i| {
                if array.is_null(i) {
                    f64::NAN
                } else {
                    array.value(i)
                }
            }));
        }
    }
    Ok(features)
}

/// `schema` as an IPC stream with no batches: how `table-info.schema` travels.
#[cfg(feature = "connector")]
pub(crate) fn encode_schema(schema: &Schema) -> Result<Vec<u8>> {
    encode(schema, &[])
}

/// `batches`, all of `schema`, as one IPC stream: how `scan-page.batches` travels.
pub(crate) fn encode(schema: &Schema, batches: &[RecordBatch]) -> Result<Vec<u8>> {
    let capacity = batches
        .iter()
        .map(RecordBatch::get_array_memory_size)
        .sum::<usize>()
        + 1024;
    let mut writer = StreamWriter::try_new(Vec::with_capacity(capacity), schema)?;
    for batch in batches {
        writer.write(batch)?;
    }
    Ok(writer.into_inner()?)
}
