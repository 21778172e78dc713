//! Arrow IPC stream encoding, the only form in which data crosses the plugin boundary.

use arrow_array::RecordBatch;
use arrow_ipc::writer::StreamWriter;
use arrow_schema::Schema;

use crate::Result;

/// `schema` as an IPC stream with no batches: how `table-info.schema` travels.
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
