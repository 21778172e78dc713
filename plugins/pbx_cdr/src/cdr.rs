//! The 3CX call-detail record: its fields, the `cdr` table's schema, and parsing a chunk of a
//! CDR file into one record batch, skipping and counting the rows that do not parse.
//!
//! Layout: 3CX's "CDR - Call Data Records" documentation
//! (https://www.3cx.com/docs/cdr-call-data-records/) lists the 27 output fields in the order below,
//! which is also the order 3CX writes by default and the one integrations use (e.g.
//! github.com/dorel14/3CX-Cdr-Server, backend/helpers/cdr.py).
//! Value formats come from that repository's public sample export (ClasseurPrepaCDR.csv): no
//! header line, `Call 9744` history ids, durations as `HH:MM:SS`, times as `YYYY/MM/DD HH:MM:SS`,
//! empty duration and answer time for unanswered calls, the chain quoted as `"Chain: a,b,"`.

use std::sync::Arc;

use chrono::NaiveDateTime;
use csv::ByteRecord;
use spirit_plugin_sdk::prelude::*;

/// Fields in a 3CX CDR row.
const FIELD_COUNT: usize = 27;

/// A UTF-8 byte-order mark, which Windows tools put at the start of a file.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// How a field is read.
#[derive(Clone, Copy)]
enum Kind {
    /// Text that every row has; a row without it is malformed.
    Id,
    /// Text; empty is NULL.
    Text,
    /// `HH:MM:SS` as seconds; empty (an unanswered call) is NULL.
    Duration,
    /// `YYYY/MM/DD HH:MM:SS` that every row has.
    Time,
    /// `YYYY/MM/DD HH:MM:SS`; empty is NULL.
    OptionalTime,
    /// A decimal number; empty is NULL.
    Number,
}

/// The columns of `cdr` in 3CX's field order: 3CX's names with `_` for `-`, the duration in
/// seconds. `source_file` follows them.
const FIELDS: [(&str, Kind, &str); FIELD_COUNT] = [
    (
        "history_id",
        Kind::Id,
        "3CX's call number, e.g. 'Call 9744'",
    ),
    ("call_id", Kind::Id, "Unique identifier of the call"),
    (
        "duration_seconds",
        Kind::Duration,
        "Talk time in seconds; NULL when not answered",
    ),
    ("time_start", Kind::Time, "When the call started (UTC)"),
    (
        "time_answered",
        Kind::OptionalTime,
        "When it was answered (UTC); NULL when not answered",
    ),
    ("time_end", Kind::Time, "When it ended (UTC)"),
    (
        "reason_terminated",
        Kind::Text,
        "Why it ended: TerminatedBySrc, TerminatedByDst, Failed…",
    ),
    (
        "from_no",
        Kind::Text,
        "Caller: an external number or Ext.<extension>",
    ),
    ("to_no", Kind::Text, "Number called"),
    ("from_dn", Kind::Text, "3CX directory number of the caller"),
    ("to_dn", Kind::Text, "3CX directory number called"),
    ("dial_no", Kind::Text, "Digits dialled"),
    (
        "reason_changed",
        Kind::Text,
        "Why the destination changed, e.g. ReplacedDst on a transfer",
    ),
    ("final_number", Kind::Text, "Number finally connected"),
    (
        "final_dn",
        Kind::Text,
        "3CX directory number finally connected",
    ),
    (
        "bill_code",
        Kind::Text,
        "Billing code dialled after the number",
    ),
    (
        "bill_rate",
        Kind::Number,
        "Billing rate matched by the number's prefix, per minute",
    ),
    ("bill_cost", Kind::Number, "Cost of the call at that rate"),
    ("bill_name", Kind::Text, "Name of the billing rate"),
    (
        "chain",
        Kind::Text,
        "Every endpoint the call passed through",
    ),
    ("from_type", Kind::Text, "Caller type: External, Internal…"),
    ("to_type", Kind::Text, "Destination type"),
    ("final_type", Kind::Text, "Final destination type"),
    ("from_dispname", Kind::Text, "Caller display name"),
    ("to_dispname", Kind::Text, "Destination display name"),
    (
        "final_dispname",
        Kind::Text,
        "Final destination display name",
    ),
    (
        "missed_queue_calls",
        Kind::Text,
        "Queue agents polled who did not answer",
    ),
];

/// The schema of `cdr`.
pub(crate) fn schema() -> SchemaRef {
    let mut fields: Vec<Field> = FIELDS
        .iter()
        .map(|&(name, kind, description)| {
            let (data_type, nullable) = match kind {
                Kind::Id => (DataType::Utf8, false),
                Kind::Text => (DataType::Utf8, true),
                Kind::Duration => (DataType::Int64, true),
                Kind::Time => (utc_micros(), false),
                Kind::OptionalTime => (utc_micros(), true),
                Kind::Number => (DataType::Float64, true),
            };
            column(name, data_type, nullable, description)
        })
        .collect();
    fields.push(column(
        "source_file",
        DataType::Utf8,
        false,
        "CDR file the row was read from",
    ));
    Arc::new(Schema::new(fields))
}

fn utc_micros() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

/// A chunk of a CDR file, read.
pub(crate) struct Chunk {
    /// The rows that parsed, in the `cdr` schema.
    pub batch: RecordBatch,
    /// Rows that did not.
    pub skipped: u64,
    /// Where and why the first skipped row failed.
    pub first_problem: Option<String>,
}

/// Reads `bytes`, whole lines of `file` starting at byte `first_byte`. Times are shifted by
/// `utc_offset` seconds (the PBX clock's offset from UTC) to UTC.
pub(crate) fn parse(bytes: &[u8], file: &str, first_byte: u64, utc_offset: i64) -> Result<Chunk> {
    let bytes = if first_byte == 0 {
        bytes.strip_prefix(BOM).unwrap_or(bytes)
    } else {
        bytes
    };
    let mut columns: Vec<Column> = FIELDS
        .iter()
        .map(|&(_, kind, _)| Column::new(kind))
        .collect();
    let mut source_file = StringBuilder::new();
    let mut skipped = 0;
    let mut first_problem = None;

    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut record = ByteRecord::new();
    while reader
        .read_byte_record(&mut record)
        .map_err(|error| Error::invalid_data(format!("{file}: {error}")))?
    {
        if is_header(&record) {
            continue;
        }
        match stage(&mut columns, &record, utc_offset) {
            Ok(()) => {
                for (column, field) in columns.iter_mut().zip(record.iter()) {
                    column.append(field);
                }
                source_file.append_value(file);
            }
            Err(problem) => {
                skipped += 1;
                if first_problem.is_none() {
                    let at = first_byte + record.position().map_or(0, |position| position.byte());
                    first_problem = Some(format!("row at byte {at}: {problem}"));
                }
            }
        }
    }

    let mut arrays: Vec<ArrayRef> = columns.into_iter().map(Column::finish).collect();
    arrays.push(Arc::new(source_file.finish()));
    Ok(Chunk {
        batch: RecordBatch::try_new(schema(), arrays)?,
        skipped,
        first_problem,
    })
}

/// Some exports start with a line of field names.
fn is_header(record: &ByteRecord) -> bool {
    record
        .get(0)
        .is_some_and(|first| first.eq_ignore_ascii_case(b"historyid"))
}

/// Parses every field of `record` into its column, or says why the row is malformed.
fn stage(columns: &mut [Column], record: &ByteRecord, utc_offset: i64) -> Result<(), String> {
    if record.len() != FIELD_COUNT {
        return Err(format!("{} fields, expected {FIELD_COUNT}", record.len()));
    }
    for ((column, field), (name, _, _)) in columns.iter_mut().zip(record.iter()).zip(&FIELDS) {
        column
            .stage(field, utc_offset)
            .map_err(|problem| format!("{name}: {problem}"))?;
    }
    Ok(())
}

/// A column being built. Typed values of the current row wait in `staged` until every field of
/// the row has parsed, so a malformed row leaves no partial trace.
enum Column {
    Text {
        required: bool,
        builder: StringBuilder,
    },
    Seconds {
        staged: Option<i64>,
        builder: Int64Builder,
    },
    Time {
        required: bool,
        staged: Option<i64>,
        builder: TimestampMicrosecondBuilder,
    },
    Number {
        staged: Option<f64>,
        builder: Float64Builder,
    },
}

impl Column {
    fn new(kind: Kind) -> Self {
        let time = || TimestampMicrosecondBuilder::new().with_timezone("UTC");
        match kind {
            Kind::Id => Self::Text {
                required: true,
                builder: StringBuilder::new(),
            },
            Kind::Text => Self::Text {
                required: false,
                builder: StringBuilder::new(),
            },
            Kind::Duration => Self::Seconds {
                staged: None,
                builder: Int64Builder::new(),
            },
            Kind::Time => Self::Time {
                required: true,
                staged: None,
                builder: time(),
            },
            Kind::OptionalTime => Self::Time {
                required: false,
                staged: None,
                builder: time(),
            },
            Kind::Number => Self::Number {
                staged: None,
                builder: Float64Builder::new(),
            },
        }
    }

    fn stage(&mut self, field: &[u8], utc_offset: i64) -> Result<(), String> {
        let required = match self {
            Self::Text { required, .. } => *required,
            Self::Seconds { staged, .. } => {
                *staged = parse_duration(field)?;
                false
            }
            Self::Time {
                required, staged, ..
            } => {
                *staged = parse_time(field, utc_offset)?;
                *required
            }
            Self::Number { staged, .. } => {
                *staged = parse_number(field)?;
                false
            }
        };
        if required && field.is_empty() {
            Err("empty".into())
        } else {
            Ok(())
        }
    }

    /// Appends the staged value; text comes straight from `field`, invalid UTF-8 (a display
    /// name in a Windows code page) replaced rather than losing the call.
    fn append(&mut self, field: &[u8]) {
        match self {
            Self::Text { builder, .. } if field.is_empty() => builder.append_null(),
            Self::Text { builder, .. } => builder.append_value(String::from_utf8_lossy(field)),
            Self::Seconds { staged, builder } => builder.append_option(*staged),
            Self::Time {
                staged, builder, ..
            } => builder.append_option(*staged),
            Self::Number { staged, builder } => builder.append_option(*staged),
        }
    }

    fn finish(self) -> ArrayRef {
        match self {
            Self::Text { mut builder, .. } => Arc::new(builder.finish()),
            Self::Seconds { mut builder, .. } => Arc::new(builder.finish()),
            Self::Time { mut builder, .. } => Arc::new(builder.finish()),
            Self::Number { mut builder, .. } => Arc::new(builder.finish()),
        }
    }
}

fn text(field: &[u8]) -> Result<&str, String> {
    std::str::from_utf8(field).map_err(|_| "not UTF-8".to_owned())
}

fn parse_duration(field: &[u8]) -> Result<Option<i64>, String> {
    if field.is_empty() {
        return Ok(None);
    }
    let text = text(field)?;
    let mut parts = text
        .split(':')
        .map(|part| part.parse::<i64>().ok().filter(|n| *n >= 0));
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(Some(hours)), Some(Some(minutes)), Some(Some(seconds)), None)
            if minutes < 60 && seconds < 60 =>
        {
            Ok(Some(hours * 3600 + minutes * 60 + seconds))
        }
        _ => Err(format!("'{text}' is not a duration like 00:05:15")),
    }
}

fn parse_time(field: &[u8], utc_offset: i64) -> Result<Option<i64>, String> {
    if field.is_empty() {
        return Ok(None);
    }
    if let Some(local) = fixed_layout_time(field) {
        return Ok(Some((local.and_utc().timestamp() - utc_offset) * 1_000_000));
    }
    let text = text(field)?;
    let local = NaiveDateTime::parse_from_str(text, "%Y/%m/%d %H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S"))
        .map_err(|_| format!("'{text}' is not a time like 2024/05/06 08:02:11"))?;
    Ok(Some((local.and_utc().timestamp() - utc_offset) * 1_000_000))
}

/// `YYYY/MM/DD HH:MM:SS` (or with `-`), the layout 3CX writes, read without a format string:
/// about a third of a scan's time went to `parse_from_str`. Anything else (including an
/// impossible date) is `None`, and the general parser decides.
fn fixed_layout_time(b: &[u8]) -> Option<NaiveDateTime> {
    let separators = (b.len() == 19)
        .then(|| (b[4], b[7], b[10], b[13], b[16]))
        .filter(|&(d1, d2, space, c1, c2)| {
            d1 == d2 && (d1 == b'/' || d1 == b'-') && space == b' ' && c1 == b':' && c2 == b':'
        });
    separators?;
    let number = |from: usize, to: usize| {
        b[from..to].iter().try_fold(0u32, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    chrono::NaiveDate::from_ymd_opt(number(0, 4)? as i32, number(5, 7)?, number(8, 10)?)?
        .and_hms_opt(number(11, 13)?, number(14, 16)?, number(17, 19)?)
}

fn parse_number(field: &[u8]) -> Result<Option<f64>, String> {
    if field.is_empty() {
        return Ok(None);
    }
    let text = text(field)?;
    match text.parse::<f64>() {
        Ok(number) if number.is_finite() => Ok(Some(number)),
        _ => Err(format!("'{text}' is not a number")),
    }
}

/// Seconds east of UTC from `+HH:MM`, `-HH:MM` or `Z`.
pub(crate) fn parse_utc_offset(text: &str) -> Result<i64> {
    let invalid = || Error::invalid_config(format!("utc_offset '{text}' is not like +02:00"));
    if text.eq_ignore_ascii_case("z") {
        return Ok(0);
    }
    let (sign, rest) = match text.split_at_checked(1) {
        Some(("+", rest)) => (1, rest),
        Some(("-", rest)) => (-1, rest),
        _ => return Err(invalid()),
    };
    let (hours, minutes) = rest.split_once(':').ok_or_else(invalid)?;
    let hours: i64 = hours.parse().map_err(|_| invalid())?;
    let minutes: i64 = minutes.parse().map_err(|_| invalid())?;
    if !(0..=14).contains(&hours) || !(0..60).contains(&minutes) {
        return Err(invalid());
    }
    Ok(sign * (hours * 3600 + minutes * 60))
}

#[cfg(test)]
mod tests {
    use spirit_plugin_sdk::arrow_array::Array;
    use spirit_plugin_sdk::arrow_array::cast::AsArray;
    use spirit_plugin_sdk::arrow_array::types::{Int64Type, TimestampMicrosecondType};

    use super::*;

    #[test]
    fn fixed_layout_times_agree_with_the_general_parser() {
        for text in [
            "2024/05/06 08:02:11",
            "2024-12-31 23:59:59",
            "2024/02/29 00:00:00",
        ] {
            let general =
                NaiveDateTime::parse_from_str(&text.replace('-', "/"), "%Y/%m/%d %H:%M:%S");
            assert_eq!(fixed_layout_time(text.as_bytes()), general.ok(), "{text}");
        }
        for bad in [
            "2024/13/07 09:00:00",
            "2023/02/29 00:00:00",
            "2024/05/06 24:00:00",
            "2024/05-06 08:02:11",
            "2024/05/06T08:02:11",
            "24/05/06 08:02:11",
        ] {
            assert_eq!(fixed_layout_time(bad.as_bytes()), None, "{bad}");
        }
        assert!(parse_time(b"2024/13/07 09:00:00", 0).is_err());
        assert_eq!(parse_time(b"1970/01/01 00:00:10", 0), Ok(Some(10_000_000)));
    }

    const GOOD: &[u8] = include_bytes!("../fixtures/cdr_2024-05-06.csv");
    const MIXED: &[u8] = include_bytes!("../fixtures/cdr_2024-05-07.csv");

    fn col<'a>(batch: &'a RecordBatch, name: &str) -> &'a ArrayRef {
        batch.column(batch.schema().index_of(name).unwrap())
    }

    #[test]
    fn good_file_reads_every_row() {
        let chunk = parse(GOOD, "cdr_2024-05-06.csv", 0, 0).unwrap();
        assert_eq!((chunk.batch.num_rows(), chunk.skipped), (6, 0));

        let duration = col(&chunk.batch, "duration_seconds").as_primitive::<Int64Type>();
        assert_eq!(duration.value(0), 4 * 60 + 12);
        assert!(duration.is_null(1), "an unanswered call has no duration");

        let answered =
            col(&chunk.batch, "time_answered").as_primitive::<TimestampMicrosecondType>();
        assert_eq!(
            answered.value(0),
            1_714_982_539_000_000,
            "2024-05-06T08:02:19Z"
        );
        assert!(answered.is_null(1));

        let caller = col(&chunk.batch, "from_dispname").as_string::<i32>();
        assert_eq!(
            caller.value(4),
            "Smith, John",
            "quoted commas stay in the field"
        );
        let source_file = col(&chunk.batch, "source_file").as_string::<i32>();
        assert_eq!(source_file.value(0), "cdr_2024-05-06.csv");
    }

    #[test]
    fn malformed_rows_are_skipped_and_counted() {
        let chunk = parse(MIXED, "cdr_2024-05-07.csv", 0, 0).unwrap();
        assert_eq!(
            (chunk.batch.num_rows(), chunk.skipped),
            (4, 3),
            "the header is no row"
        );
        let problem = chunk.first_problem.unwrap();
        assert!(problem.contains("4 fields, expected 27"), "{problem}");
    }

    #[test]
    fn utc_offset_moves_times_to_utc() {
        let at_utc = parse(GOOD, "f", 0, 0).unwrap();
        let at_madrid = parse(GOOD, "f", 0, parse_utc_offset("+02:00").unwrap()).unwrap();
        let start = |chunk: &Chunk| {
            col(&chunk.batch, "time_start")
                .as_primitive::<TimestampMicrosecondType>()
                .value(0)
        };
        assert_eq!(start(&at_utc) - start(&at_madrid), 2 * 3600 * 1_000_000);
    }

    #[test]
    fn utc_offsets() {
        assert_eq!(parse_utc_offset("Z").unwrap(), 0);
        assert_eq!(parse_utc_offset("-05:30").unwrap(), -(5 * 3600 + 30 * 60));
        assert!(parse_utc_offset("CEST").is_err());
        assert!(parse_utc_offset("+25:00").is_err());
    }
}
