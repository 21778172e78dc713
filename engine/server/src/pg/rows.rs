//! Query results as pg-wire rows: arrow-pg's encoder, with dates and timestamps in text columns
//! written by the engine.
//!
//! arrow-pg (through pgwire) formats every date and timestamp value with chrono and a strftime
//! pattern, parsing the pattern again for each value; that was the largest cost of streaming a
//! table with timestamps. In the ISO `DateStyle` (the default, and what drivers ask for), text
//! columns of dates and timestamps without a time zone are instead written here a batch at a
//! time, in PostgreSQL's own form (`2026-06-30 10:00:00`, a fraction only when there is one),
//! and handed to arrow-pg as text.
//!
//! Rows in the text format are then written here a batch at a time (`text_rows`): integers,
//! floats, numerics, text, booleans and (ISO) dates and timestamps straight from their typed
//! columns into one buffer the rows are split from, byte for byte as arrow-pg writes them
//! (without its per-value type dispatch, field-metadata lookups, `rust_decimal` conversion and
//! `fmt` machinery); other columns go through arrow-pg value by value. Binary rows go through
//! arrow-pg unchanged.

use std::io::Write;
use std::iter;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, ArrowPrimitiveType, AsArray, BooleanArray, Decimal128Array, Float32Array,
    Float64Array, LargeStringArray, PrimitiveArray, RecordBatch, StringArray, StringBuilder,
    StringViewArray, TimestampMicrosecondArray, TimestampMillisecondArray,
    TimestampNanosecondArray, TimestampSecondArray,
};
use arrow::datatypes::{
    DataType, Date32Type, Field, Int16Type, Int32Type, Int64Type, Schema, TimeUnit,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType,
};
use bytes::{BufMut, BytesMut};
use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};
use datafusion::execution::SendableRecordBatchStream;
use datafusion_postgres::arrow_pg::datatypes::{arrow_schema_to_pg_fields, encode_recordbatch};
use datafusion_postgres::arrow_pg::encoder::{Encoder, encode_value};
use futures::{StreamExt, stream};
use pgwire::api::portal::Format;
use pgwire::api::results::{FieldFormat, FieldInfo, QueryResponse};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::data::DataRow;
use pgwire::types::ToSqlText;
use pgwire::types::format::FormatOptions;
use postgres_types::{IsNull, ToSql};

use super::errors::api_error;

/// The rows of `batches`, streamed in `format` with the session's `options`.
pub fn encode_stream(
    batches: SendableRecordBatchStream,
    format: &Format,
    options: Arc<FormatOptions>,
) -> PgWireResult<QueryResponse> {
    let fields = Arc::new(arrow_schema_to_pg_fields(
        &batches.schema(),
        format,
        Some(Arc::clone(&options)),
    )?);
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
    if fields.iter().all(|f| f.format() == FieldFormat::Text) {
        return match text_rows(fields, options, &batch) {
            Ok(rows) => Box::new(rows.into_iter().map(Ok)),
            Err(e) => Box::new(iter::once(Err(e))),
        };
    }
    let batch = text_ready(batch, fields, options);
    Box::new(encode_recordbatch(Arc::clone(fields), batch))
}

/// The rows of `batch` in the text format. Numbers, text, booleans and (in the ISO date style)
/// dates and timestamps are written straight from their typed columns, in the forms pgwire
/// writes them; every other column goes through arrow-pg value by value. The rows are split off
/// one buffer.
fn text_rows(
    fields: &[FieldInfo],
    options: &FormatOptions,
    batch: &RecordBatch,
) -> PgWireResult<Vec<DataRow>> {
    let schema = batch.schema();
    let iso = iso_dates(options);
    let columns: Vec<Column> = batch
        .columns()
        .iter()
        .zip(schema.fields().iter())
        .zip(fields)
        .map(|((array, field), pg)| Column::of(array, field, pg, iso))
        .collect();
    let mut row = RowWriter::default();
    let mut rows = Vec::with_capacity(batch.num_rows());
    for i in 0..batch.num_rows() {
        for column in &columns {
            column.write(&mut row, i)?;
        }
        rows.push(row.take_row());
    }
    Ok(rows)
}

/// The bytes of rows allocated at a time.
const ROWS_CHUNK: usize = 64 * 1024;

/// A column of a batch, by how its text values are written.
enum Column<'a> {
    Int16(&'a PrimitiveArray<Int16Type>),
    Int32(&'a PrimitiveArray<Int32Type>),
    Int64(&'a PrimitiveArray<Int64Type>),
    Float32(&'a Float32Array, &'a FieldInfo),
    Float64(&'a Float64Array, &'a FieldInfo),
    Text(&'a StringArray),
    LargeText(&'a LargeStringArray),
    TextView(&'a StringViewArray),
    Bool(&'a BooleanArray),
    /// A `numeric` with its non-negative scale.
    Decimal(&'a Decimal128Array, u32),
    /// A date or a timestamp without time zone, in the ISO style.
    Temporal(&'a ArrayRef),
    /// Through arrow-pg.
    Other(&'a ArrayRef, &'a Field, &'a FieldInfo),
}

impl<'a> Column<'a> {
    /// How `array` is written; dates and timestamps here only when `iso`.
    fn of(array: &'a ArrayRef, field: &'a Field, pg: &'a FieldInfo, iso: bool) -> Self {
        // Fields tagged for arrow-pg (OID aliases, "char", vectors) keep its handling.
        if !field.metadata().is_empty() {
            return Self::Other(array, field, pg);
        }
        match array.data_type() {
            DataType::Int16 => Self::Int16(array.as_primitive()),
            DataType::Int32 => Self::Int32(array.as_primitive()),
            DataType::Int64 => Self::Int64(array.as_primitive()),
            DataType::Float32 => Self::Float32(array.as_primitive(), pg),
            DataType::Float64 => Self::Float64(array.as_primitive(), pg),
            DataType::Utf8 => Self::Text(array.as_string()),
            DataType::LargeUtf8 => Self::LargeText(array.as_string()),
            DataType::Utf8View => Self::TextView(array.as_string_view()),
            DataType::Boolean => Self::Bool(array.as_boolean()),
            DataType::Decimal128(_, scale) if *scale >= 0 => {
                Self::Decimal(array.as_primitive(), *scale as u32)
            }
            DataType::Date32 | DataType::Timestamp(_, None) if iso => Self::Temporal(array),
            _ => Self::Other(array, field, pg),
        }
    }

    /// Writes the `i`th value into `row`.
    fn write(&self, row: &mut RowWriter, i: usize) -> PgWireResult<()> {
        match self {
            Self::Int16(a) => row.integer(a, i),
            Self::Int32(a) => row.integer(a, i),
            Self::Int64(a) => row.integer(a, i),
            Self::Float32(a, pg) => {
                return row.encode_field(&a.is_valid(i).then(|| a.value(i)), pg);
            }
            Self::Float64(a, pg) => {
                return row.encode_field(&a.is_valid(i).then(|| a.value(i)), pg);
            }
            Self::Text(a) => row.value(a.is_valid(i).then(|| a.value(i))),
            Self::LargeText(a) => row.value(a.is_valid(i).then(|| a.value(i))),
            Self::TextView(a) => row.value(a.is_valid(i).then(|| a.value(i))),
            Self::Bool(a) => row.value(a.is_valid(i).then(|| if a.value(i) { "t" } else { "f" })),
            Self::Decimal(a, scale) => row.decimal(a.is_valid(i).then(|| a.value(i)), *scale),
            Self::Temporal(a) => {
                row.formatted(
                    a.is_valid(i)
                        .then_some(|out: &mut Vec<u8>| write_temporal(out, a, i)),
                );
            }
            Self::Other(array, field, pg) => return encode_value(row, array, i, field, pg),
        }
        Ok(())
    }
}

/// Writes one row's values (length-prefixed, -1 for NULL) into a buffer rows are split from.
#[derive(Default)]
struct RowWriter {
    buffer: BytesMut,
    values: i16,
    /// Where a value is formatted before it is appended.
    scratch: Vec<u8>,
}

impl RowWriter {
    /// Appends the `i`th integer of `array`.
    fn integer<T>(&mut self, array: &PrimitiveArray<T>, i: usize)
    where
        T: ArrowPrimitiveType,
        T::Native: itoa::Integer,
    {
        if array.is_null(i) {
            self.value(None);
        } else {
            self.value(Some(itoa::Buffer::new().format(array.value(i))));
        }
    }

    /// Appends the value `write` formats; NULL when there is none.
    fn formatted(&mut self, write: Option<impl FnOnce(&mut Vec<u8>)>) {
        let Some(write) = write else {
            return self.value(None);
        };
        let mut text = std::mem::take(&mut self.scratch);
        text.clear();
        write(&mut text);
        self.room(4 + text.len());
        self.buffer.put_i32(text.len() as i32);
        self.buffer.put_slice(&text);
        self.values += 1;
        self.scratch = text;
    }

    /// Appends a `numeric` of `scale` as PostgreSQL writes it: every digit of the scale kept
    /// (`123.40`, `0.05`, `-7`), as arrow-pg's decimal does, without its limit of 28 digits.
    fn decimal(&mut self, value: Option<i128>, scale: u32) {
        let Some(value) = value else {
            return self.value(None);
        };
        let mut buffer = itoa::Buffer::new();
        // itoa's u64 path is several times faster than its u128 one; numerics are mostly small.
        let digits = match u64::try_from(value.unsigned_abs()) {
            Ok(small) => buffer.format(small),
            Err(_) => buffer.format(value.unsigned_abs()),
        }
        .as_bytes();
        let scale = scale as usize;
        let whole = digits.len().saturating_sub(scale);
        let length = usize::from(value < 0) + whole.max(1) + if scale > 0 { 1 + scale } else { 0 };
        self.room(4 + length);
        self.buffer.put_i32(length as i32);
        if value < 0 {
            self.buffer.put_u8(b'-');
        }
        if whole == 0 {
            self.buffer.put_u8(b'0');
        } else {
            self.buffer.put_slice(&digits[..whole]);
        }
        if scale > 0 {
            self.buffer.put_u8(b'.');
            self.buffer.put_bytes(b'0', scale - (digits.len() - whole));
            self.buffer.put_slice(&digits[whole..]);
        }
        self.values += 1;
    }

    /// Makes room for `bytes` more. Rows are split off the buffer, so it grows a chunk at a
    /// time, shared by the rows that follow, never a value at a time.
    fn room(&mut self, bytes: usize) {
        if self.buffer.capacity() - self.buffer.len() < bytes {
            self.buffer.reserve(bytes.max(ROWS_CHUNK));
        }
    }

    /// Appends a value already in its text form.
    fn value(&mut self, text: Option<&str>) {
        match text {
            Some(text) => {
                self.room(4 + text.len());
                self.buffer.put_i32(text.len() as i32);
                self.buffer.put_slice(text.as_bytes());
            }
            None => {
                self.room(4);
                self.buffer.put_i32(-1);
            }
        }
        self.values += 1;
    }
}

impl Encoder for RowWriter {
    type Item = DataRow;

    fn encode_field<T>(&mut self, value: &T, pg_field: &FieldInfo) -> PgWireResult<()>
    where
        T: ToSql + ToSqlText + Sized,
    {
        self.room(64);
        let at = self.buffer.len();
        self.buffer.put_i32(-1);
        let written = value
            .to_sql_text(
                pg_field.datatype(),
                &mut self.buffer,
                pg_field.format_options(),
            )
            .map_err(PgWireError::ApiError)?;
        if let IsNull::No = written {
            let length = (self.buffer.len() - at - 4) as i32;
            self.buffer[at..at + 4].copy_from_slice(&length.to_be_bytes());
        }
        self.values += 1;
        Ok(())
    }

    fn take_row(&mut self) -> DataRow {
        let values = std::mem::take(&mut self.values);
        DataRow::new(self.buffer.split(), values)
    }
}

/// `batch` with its text-format date and timestamp columns already written as PostgreSQL text
/// (see the module doc); the batch itself when there are none or the date style is not ISO.
pub fn text_ready(
    batch: RecordBatch,
    fields: &[FieldInfo],
    options: &FormatOptions,
) -> RecordBatch {
    let iso = iso_dates(options);
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

/// Whether the session's `DateStyle` is ISO, the style dates and timestamps are written in here.
fn iso_dates(options: &FormatOptions) -> bool {
    options
        .date_style
        .split(',')
        .next()
        .is_some_and(|style| style.trim().eq_ignore_ascii_case("ISO"))
}

/// A date or timestamp column as PostgreSQL's ISO text.
fn as_text(column: &ArrayRef) -> StringArray {
    let mut out = StringBuilder::with_capacity(column.len(), column.len() * 26);
    let mut text = Vec::with_capacity(32);
    for i in 0..column.len() {
        if column.is_null(i) {
            out.append_null();
            continue;
        }
        text.clear();
        write_temporal(&mut text, column, i);
        out.append_value(std::str::from_utf8(&text).expect("ASCII digits"));
    }
    out.finish()
}

/// Writes the `i`th value (not NULL) of a date or timestamp column in PostgreSQL's ISO style,
/// from the days and time of day it counts, without building a chrono value; years outside
/// 1–9999 go through [`write_date`] and [`write_timestamp`].
fn write_temporal(out: &mut Vec<u8>, column: &ArrayRef, i: usize) {
    let (days, micros) = match column.data_type() {
        DataType::Date32 => {
            let days = column.as_primitive::<Date32Type>().value(i);
            (i64::from(days), None)
        }
        DataType::Timestamp(unit, _) => {
            let (value, per_second) = match unit {
                TimeUnit::Second => (column.as_primitive::<TimestampSecondType>().value(i), 1),
                TimeUnit::Millisecond => (
                    column.as_primitive::<TimestampMillisecondType>().value(i),
                    1_000,
                ),
                TimeUnit::Microsecond => (
                    column.as_primitive::<TimestampMicrosecondType>().value(i),
                    1_000_000,
                ),
                TimeUnit::Nanosecond => (
                    column.as_primitive::<TimestampNanosecondType>().value(i),
                    1_000_000_000,
                ),
            };
            let per_day = per_second * 86_400;
            let within = value.rem_euclid(per_day);
            // Whole microseconds of the day; nanoseconds are cut as PostgreSQL's precision is.
            let micros =
                within / per_second * 1_000_000 + within % per_second * 1_000_000 / per_second;
            (value.div_euclid(per_day), Some(micros))
        }
        other => unreachable!("only dates and timestamps are written as text, not {other}"),
    };
    let (year, month, day) = civil_from_days(days);
    if !(1..=9999).contains(&year) {
        return match (column.data_type(), micros) {
            (DataType::Timestamp(unit, _), Some(_)) => {
                write_timestamp(out, timestamp(column, *unit, i))
            }
            _ => write_date(
                out,
                i32::try_from(days)
                    .ok()
                    .and_then(Date32Type::to_naive_date_opt),
            ),
        };
    }
    digits(out, year as u32, 4);
    out.push(b'-');
    digits(out, month, 2);
    out.push(b'-');
    digits(out, day, 2);
    let Some(micros) = micros else {
        return;
    };
    let seconds = (micros / 1_000_000) as u32;
    out.push(b' ');
    digits(out, seconds / 3600, 2);
    out.push(b':');
    digits(out, seconds / 60 % 60, 2);
    out.push(b':');
    digits(out, seconds % 60, 2);
    write_micros(out, (micros % 1_000_000) as u32);
}

/// The proleptic Gregorian (year, month, day) `days` after 1970-01-01 (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * shifted_month + 2) / 5 + 1) as u32;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    } as u32;
    (year_of_era + era * 400 + i64::from(month <= 2), month, day)
}

/// Writes `.` and `micros` without trailing zeros, when there are any.
fn write_micros(out: &mut Vec<u8>, mut micros: u32) {
    if micros > 0 {
        let mut width = 6;
        while micros.is_multiple_of(10) {
            micros /= 10;
            width -= 1;
        }
        out.push(b'.');
        digits(out, micros, width);
    }
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
    write_micros(out, value.nanosecond() / 1000);
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
    use arrow::array::{Date32Array, Decimal128Array, Int64Array, StringArray};
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
    fn text_rows_write_dates_and_timestamps_as_the_iso_text_columns_do() {
        let batch = batch();
        let options = FormatOptions::default();
        let fields = Arc::new(
            arrow_schema_to_pg_fields(&batch.schema(), &Format::UnifiedText, None).unwrap(),
        );
        let ours = text_rows(&fields, &options, &batch).unwrap();
        let theirs: Vec<DataRow> =
            encode_recordbatch(Arc::clone(&fields), text_ready(batch, &fields, &options))
                .collect::<PgWireResult<_>>()
                .unwrap();
        assert_eq!(ours.len(), 2);
        for (ours, theirs) in ours.iter().zip(&theirs) {
            assert_eq!(ours.data, theirs.data);
        }
        assert!(
            ours[0]
                .data
                .windows(19)
                .any(|w| w == b"2026-06-30 10:00:00")
        );
    }

    #[test]
    fn dates_and_timestamps_are_written_as_chrono_reads_them() {
        // Every day from year 1 to 9999 and beyond, and times across a day in each unit.
        let days: Vec<i32> = (-719_162 - 3..2_932_897 + 3).step_by(7).collect();
        let dates: ArrayRef = Arc::new(Date32Array::from(days.clone()));
        let micros: Vec<i64> = days
            .iter()
            .zip(
                (0..86_400_000_000_i64)
                    .step_by(86_399_999_993 / 2_000)
                    .cycle(),
            )
            .map(|(day, within)| i64::from(*day) * 86_400_000_000 + within)
            .chain([-1, 0, 1, 999_999, 1_000_000, 1_500_000, -86_400_000_001])
            .collect();
        let columns: Vec<ArrayRef> = vec![
            Arc::clone(&dates),
            Arc::new(TimestampMicrosecondArray::from(micros.clone())),
            Arc::new(TimestampSecondArray::from(
                micros.iter().map(|m| m / 1_000_000).collect::<Vec<_>>(),
            )),
            Arc::new(TimestampMillisecondArray::from(
                micros.iter().map(|m| m / 1_000).collect::<Vec<_>>(),
            )),
            Arc::new(TimestampNanosecondArray::from(
                micros
                    .iter()
                    .filter(|m| m.abs() < 9_000_000_000_000_000) // nanoseconds' ±292 years
                    .map(|m| m * 1_000 + m % 997)
                    .collect::<Vec<_>>(),
            )),
        ];
        for column in columns {
            for i in 0..column.len() {
                let (mut ours, mut chrono) = (Vec::new(), Vec::new());
                write_temporal(&mut ours, &column, i);
                match column.data_type() {
                    DataType::Date32 => write_date(
                        &mut chrono,
                        Date32Type::to_naive_date_opt(column.as_primitive::<Date32Type>().value(i)),
                    ),
                    DataType::Timestamp(unit, _) => {
                        write_timestamp(&mut chrono, timestamp(&column, *unit, i))
                    }
                    _ => unreachable!(),
                }
                assert_eq!(
                    String::from_utf8(ours).unwrap(),
                    String::from_utf8(chrono).unwrap(),
                    "{:?} value {i}",
                    column.data_type()
                );
            }
        }
    }

    #[test]
    fn numerics_wider_than_28_digits_are_written_whole() {
        let wide = Decimal128Array::from(vec![Some(-(10_i128.pow(35)) - 7)])
            .with_precision_and_scale(38, 3)
            .unwrap();
        let schema = Schema::new(vec![Field::new("n", wide.data_type().clone(), true)]);
        let batch = RecordBatch::try_new(Arc::new(schema), vec![Arc::new(wide)]).unwrap();
        let fields =
            arrow_schema_to_pg_fields(&batch.schema(), &Format::UnifiedText, None).unwrap();
        let rows = text_rows(&fields, &FormatOptions::default(), &batch).unwrap();
        let text = "-100000000000000000000000000000000.007";
        assert_eq!(&rows[0].data[4..], text.as_bytes());
        assert_eq!(&rows[0].data[..4], &(text.len() as i32).to_be_bytes());
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

    #[test]
    fn text_rows_are_the_ones_arrow_pg_writes() {
        use arrow::array::{
            BooleanArray, Float32Array, Float64Array, Int16Array, Int32Array, StringViewArray,
        };
        let columns: Vec<(&str, ArrayRef)> = vec![
            (
                "i16",
                Arc::new(Int16Array::from(vec![Some(-7), None, Some(i16::MAX)])),
            ),
            (
                "i32",
                Arc::new(Int32Array::from(vec![Some(0), Some(i32::MIN), None])),
            ),
            (
                "i64",
                Arc::new(Int64Array::from(vec![Some(i64::MAX), None, Some(-1)])),
            ),
            (
                "f32",
                Arc::new(Float32Array::from(vec![Some(0.1), Some(f32::NAN), None])),
            ),
            (
                "f64",
                Arc::new(Float64Array::from(vec![
                    Some(1e20),
                    Some(-0.0),
                    Some(f64::INFINITY),
                ])),
            ),
            (
                "text",
                Arc::new(StringArray::from(vec![Some("a b"), None, Some("")])),
            ),
            (
                "view",
                Arc::new(StringViewArray::from(vec![None, Some("{x}"), Some("é")])),
            ),
            (
                "flag",
                Arc::new(BooleanArray::from(vec![Some(true), Some(false), None])),
            ),
            (
                "amount",
                Arc::new(
                    Decimal128Array::from(vec![Some(12_345), None, Some(-5)])
                        .with_precision_and_scale(10, 2)
                        .unwrap(),
                ),
            ),
            (
                "fraction",
                Arc::new(
                    Decimal128Array::from(vec![Some(0), Some(-100_000), Some(i64::MAX.into())])
                        .with_precision_and_scale(28, 4)
                        .unwrap(),
                ),
            ),
            (
                "whole",
                Arc::new(
                    Decimal128Array::from(vec![Some(-42), Some(0), None])
                        .with_precision_and_scale(18, 0)
                        .unwrap(),
                ),
            ),
        ];
        let schema = Schema::new(
            columns
                .iter()
                .map(|(name, array)| Field::new(*name, array.data_type().clone(), true))
                .collect::<Vec<_>>(),
        );
        let batch = RecordBatch::try_new(
            Arc::new(schema),
            columns.into_iter().map(|(_, array)| array).collect(),
        )
        .unwrap();
        let fields = Arc::new(
            arrow_schema_to_pg_fields(&batch.schema(), &Format::UnifiedText, None).unwrap(),
        );
        let ours: Vec<DataRow> = text_rows(&fields, &FormatOptions::default(), &batch).unwrap();
        let theirs: Vec<DataRow> = encode_recordbatch(Arc::clone(&fields), batch)
            .collect::<PgWireResult<_>>()
            .unwrap();
        assert_eq!(ours.len(), 3);
        for (ours, theirs) in ours.iter().zip(&theirs) {
            assert_eq!(ours.field_count, theirs.field_count);
            assert_eq!(ours.data, theirs.data);
        }
    }
}
