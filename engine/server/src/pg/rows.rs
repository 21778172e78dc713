//! Query results as pg-wire rows: arrow-pg's encoder, with dates and timestamps in text columns
//! written by the engine.
//!
//! arrow-pg (through pgwire) formats every date and timestamp value with chrono and a strftime
//! pattern, parsing the pattern again for each value; that was the largest cost of streaming a
//! table with timestamps. In the ISO `DateStyle` (the default, and what drivers ask for), text
//! columns of dates and timestamps without a time zone are instead written here a batch at a
//! time, in PostgreSQL's own form (`2026-06-30 10:00:00`, a fraction only when there is one),
//! and handed to arrow-pg as text. Every other type and format goes through arrow-pg unchanged.

use std::io::Write;
use std::iter;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, RecordBatch, StringBuilder, TimestampMicrosecondArray,
    TimestampMillisecondArray, TimestampNanosecondArray, TimestampSecondArray,
};
use arrow::datatypes::{DataType, Date32Type, Field, Schema, TimeUnit};
use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};
use datafusion::prelude::DataFrame;
use datafusion_postgres::arrow_pg::datatypes::{arrow_schema_to_pg_fields, encode_recordbatch};
use futures::{StreamExt, stream};
use pgwire::api::portal::Format;
use pgwire::api::results::{FieldFormat, FieldInfo, QueryResponse};
use pgwire::error::PgWireResult;
use pgwire::messages::data::DataRow;
use pgwire::types::format::FormatOptions;

use super::errors::api_error;

/// The rows of `df`, streamed in `format` with the session's `options`.
pub async fn encode_dataframe(
    df: DataFrame,
    format: &Format,
    options: Arc<FormatOptions>,
) -> PgWireResult<QueryResponse> {
    let fields = Arc::new(arrow_schema_to_pg_fields(
        df.schema().as_arrow(),
        format,
        Some(Arc::clone(&options)),
    )?);
    let batches = df.execute_stream().await.map_err(api_error)?;
    let encoder = Arc::clone(&fields);
    let rows = batches
        .map(move |batch| {
            let rows: Box<dyn Iterator<Item = PgWireResult<DataRow>> + Send> = match batch {
                Ok(batch) => encode_batch(&encoder, &options, batch),
                Err(e) => Box::new(iter::once(Err(api_error(e)))),
            };
            stream::iter(rows)
        })
        .flatten();
    Ok(QueryResponse::new(fields, rows))
}

/// The rows of `batch`, for the columns `fields` describe.
pub fn encode_batch(
    fields: &Arc<Vec<FieldInfo>>,
    options: &FormatOptions,
    batch: RecordBatch,
) -> Box<dyn Iterator<Item = PgWireResult<DataRow>> + Send> {
    Box::new(encode_recordbatch(
        Arc::clone(fields),
        text_ready(batch, fields, options),
    ))
}

/// `batch` with its text-format date and timestamp columns already written as PostgreSQL text
/// (see the module doc); the batch itself when there are none or the date style is not ISO.
pub fn text_ready(
    batch: RecordBatch,
    fields: &[FieldInfo],
    options: &FormatOptions,
) -> RecordBatch {
    let iso = options
        .date_style
        .split(',')
        .next()
        .is_some_and(|style| style.trim().eq_ignore_ascii_case("ISO"));
    let written = |i: usize| {
        iso && fields
            .get(i)
            .is_some_and(|f| f.format() == FieldFormat::Text)
            && matches!(
                batch.schema_ref().field(i).data_type(),
                DataType::Date32 | DataType::Timestamp(_, None)
            )
    };
    if !(0..batch.num_columns()).any(written) {
        return batch;
    }
    let schema = batch.schema();
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(batch.num_columns());
    let mut schema_fields: Vec<Field> = Vec::with_capacity(batch.num_columns());
    for (i, column) in batch.columns().iter().enumerate() {
        let field = schema.field(i);
        if written(i) {
            columns.push(Arc::new(as_text(column)));
            schema_fields.push(Field::new(field.name(), DataType::Utf8, true));
        } else {
            columns.push(Arc::clone(column));
            schema_fields.push(field.clone());
        }
    }
    RecordBatch::try_new(Arc::new(Schema::new(schema_fields)), columns)
        .expect("same rows, text columns")
}

/// A date or timestamp column as PostgreSQL's ISO text.
fn as_text(column: &ArrayRef) -> arrow::array::StringArray {
    let mut out = StringBuilder::with_capacity(column.len(), column.len() * 26);
    let mut text = Vec::with_capacity(32);
    for i in 0..column.len() {
        if column.is_null(i) {
            out.append_null();
            continue;
        }
        text.clear();
        match column.data_type() {
            DataType::Date32 => {
                let days = column.as_primitive::<Date32Type>().value(i);
                write_date(&mut text, Date32Type::to_naive_date_opt(days));
            }
            DataType::Timestamp(unit, _) => write_timestamp(&mut text, timestamp(column, *unit, i)),
            other => unreachable!("only dates and timestamps are written as text, not {other}"),
        }
        out.append_value(std::str::from_utf8(&text).expect("ASCII digits"));
    }
    out.finish()
}

/// The `i`th value of a timestamp column of `unit`.
fn timestamp(column: &ArrayRef, unit: TimeUnit, i: usize) -> Option<NaiveDateTime> {
    let any = column.as_any();
    match unit {
        TimeUnit::Second => any
            .downcast_ref::<TimestampSecondArray>()?
            .value_as_datetime(i),
        TimeUnit::Millisecond => any
            .downcast_ref::<TimestampMillisecondArray>()?
            .value_as_datetime(i),
        TimeUnit::Microsecond => any
            .downcast_ref::<TimestampMicrosecondArray>()?
            .value_as_datetime(i),
        TimeUnit::Nanosecond => any
            .downcast_ref::<TimestampNanosecondArray>()?
            .value_as_datetime(i),
    }
}

/// Writes `value` as PostgreSQL does: `2026-06-30 10:00:00`, then `.` and the microseconds
/// without trailing zeros when there are any.
fn write_timestamp(out: &mut Vec<u8>, value: Option<NaiveDateTime>) {
    let Some(value) = value.filter(|v| (1..=9999).contains(&v.year())) else {
        // Outside PostgreSQL's four-digit years (or unrepresentable): chrono's general form.
        let _ = write!(out, "{}", value.map(|v| v.to_string()).unwrap_or_default());
        return;
    };
    write_date(out, Some(value.date()));
    out.push(b' ');
    digits(out, value.hour(), 2);
    out.push(b':');
    digits(out, value.minute(), 2);
    out.push(b':');
    digits(out, value.second(), 2);
    let mut micros = value.nanosecond() / 1000;
    if micros > 0 {
        let mut width = 6;
        while micros % 10 == 0 {
            micros /= 10;
            width -= 1;
        }
        out.push(b'.');
        digits(out, micros, width);
    }
}

/// Writes `value` as `2026-06-30`.
fn write_date(out: &mut Vec<u8>, value: Option<NaiveDate>) {
    let Some(value) = value.filter(|v| (1..=9999).contains(&v.year())) else {
        let _ = write!(out, "{}", value.map(|v| v.to_string()).unwrap_or_default());
        return;
    };
    digits(out, value.year() as u32, 4);
    out.push(b'-');
    digits(out, value.month(), 2);
    out.push(b'-');
    digits(out, value.day(), 2);
}

/// Writes the `width` lowest decimal digits of `value`, zero-padded.
fn digits(out: &mut Vec<u8>, mut value: u32, width: usize) {
    let start = out.len();
    out.resize(start + width, b'0');
    for slot in out[start..].iter_mut().rev() {
        *slot = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::{Date32Array, Int64Array, StringArray};
    use datafusion_postgres::arrow_pg::datatypes::arrow_schema_to_pg_fields;

    use super::*;

    fn text(value: Option<NaiveDateTime>) -> String {
        let mut out = Vec::new();
        write_timestamp(&mut out, value);
        String::from_utf8(out).unwrap()
    }

    fn at(s: &str) -> Option<NaiveDateTime> {
        Some(NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").unwrap())
    }

    #[test]
    fn timestamps_read_as_postgresql_writes_them() {
        assert_eq!(text(at("2026-06-30 10:00:00.0")), "2026-06-30 10:00:00");
        assert_eq!(text(at("2026-06-30 10:00:00.5")), "2026-06-30 10:00:00.5");
        assert_eq!(
            text(at("0042-01-02 03:04:05.000120")),
            "0042-01-02 03:04:05.00012"
        );
        assert_eq!(
            text(at("2026-12-31 23:59:59.999999")),
            "2026-12-31 23:59:59.999999"
        );
        // Nanoseconds are cut to PostgreSQL's microseconds.
        assert_eq!(
            text(at("2026-01-01 00:00:00.000000999")),
            "2026-01-01 00:00:00"
        );
    }

    fn batch() -> RecordBatch {
        let ts = TimestampMicrosecondArray::from(vec![Some(1_782_813_600_000_000), None]);
        let schema = Schema::new(vec![
            Field::new("at", ts.data_type().clone(), true),
            Field::new("day", DataType::Date32, true),
            Field::new("n", DataType::Int64, false),
        ]);
        RecordBatch::try_new(
            Arc::new(schema),
            vec![
                Arc::new(ts),
                Arc::new(Date32Array::from(vec![Some(20_634), None])),
                Arc::new(Int64Array::from(vec![1, 2])),
            ],
        )
        .unwrap()
    }

    #[test]
    fn text_columns_of_dates_and_timestamps_are_written_in_iso_style() {
        let batch = batch();
        let options = FormatOptions::default();
        let fields =
            arrow_schema_to_pg_fields(&batch.schema(), &Format::UnifiedText, None).unwrap();
        let ready = text_ready(batch, &fields, &options);
        let at = ready
            .column(0)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        assert_eq!(at.value(0), "2026-06-30 10:00:00");
        assert!(at.is_null(1));
        let day = ready
            .column(1)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        assert_eq!(day.value(0), "2026-06-30");
        assert!(day.is_null(1));
        assert_eq!(ready.column(2).data_type(), &DataType::Int64);
        // The wire types stay the temporal ones.
        assert_eq!(fields[0].datatype(), &pgwire::api::Type::TIMESTAMP);
    }

    #[test]
    fn binary_columns_and_other_date_styles_are_left_to_arrow_pg() {
        let batch = batch();
        let binary =
            arrow_schema_to_pg_fields(&batch.schema(), &Format::UnifiedBinary, None).unwrap();
        let ready = text_ready(batch.clone(), &binary, &FormatOptions::default());
        assert!(matches!(
            ready.column(0).data_type(),
            DataType::Timestamp(..)
        ));
        let text = arrow_schema_to_pg_fields(&batch.schema(), &Format::UnifiedText, None).unwrap();
        let mut german = FormatOptions::default();
        german.date_style = "German, DMY".to_string();
        let ready = text_ready(batch, &text, &german);
        assert_eq!(ready.column(1).data_type(), &DataType::Date32);
    }
}
