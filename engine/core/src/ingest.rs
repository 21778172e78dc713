//! Real-time ingest: newline-delimited JSON objects (HTTP) or PostgreSQL's text and CSV COPY
//! formats (`COPY … FROM STDIN` over pg-wire) appended to a store table.
//!
//! A request is **all or nothing**: every line is checked against the table's columns first
//! (syntax, unknown columns, values of the wrong type, missing required values), and one
//! bad line rejects the whole request, naming each bad line by its number; nothing is stored.
//! The valid request is appended in one store transaction, so after the answer the rows are in
//! the store's write-ahead log (a `kill -9` loses nothing) and every metric view reads them; the
//! result cache drops what read the table.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, RecordBatch, StringArray, new_null_array};
use arrow::compute::{CastOptions, cast_with_options};
use arrow::datatypes::SchemaRef;
use arrow::json::ReaderBuilder;
use serde_json::{Map, Value};

use crate::engine::Engine;
use crate::error::SpiritError;
use crate::observability;

/// Bad lines reported per request at most; the count says how many there were.
const MAX_REPORTED: usize = 20;

/// Rows per batch handed to the store's appender.
const BATCH_ROWS: usize = 8192;

/// A line that cannot be stored.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BadLine {
    /// Its number, from 1.
    pub line: usize,
    /// What is wrong with it.
    pub message: String,
}

/// Why nothing was stored.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The table does not exist in the store.
    #[error(
        "table \"{0}\" does not exist; ingest goes into store tables (SELECT table_name FROM information_schema.tables WHERE table_schema = 'public')"
    )]
    UnknownTable(String),
    /// The body holds no rows.
    #[error("the request has no rows: send one JSON object per line")]
    Empty,
    /// A column named does not exist.
    #[error("column \"{column}\" does not exist in table \"{table}\" (its columns are {columns})")]
    UnknownColumn {
        /// The table.
        table: String,
        /// The column.
        column: String,
        /// The table's columns.
        columns: String,
    },
    /// Some lines are malformed; none were stored.
    #[error("{count} of {lines} lines cannot be stored, so none were: {}", summary(.bad))]
    BadLines {
        /// Lines in the request.
        lines: usize,
        /// How many are bad.
        count: usize,
        /// The first bad lines.
        bad: Vec<BadLine>,
    },
    /// The store refused the rows (a duplicate key, say); none were stored.
    #[error("the store refused the rows, so none were stored: {0}")]
    Refused(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] SpiritError),
}

fn summary(bad: &[BadLine]) -> String {
    bad.iter()
        .map(|b| format!("line {}: {}", b.line, b.message))
        .collect::<Vec<_>>()
        .join("; ")
}

/// What a request stored.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Ingested {
    /// The table.
    pub table: String,
    /// Rows stored.
    pub rows: u64,
}

/// Appends the JSON lines of `body` to store table `table`, all or nothing.
pub async fn ingest_json_lines(
    engine: &Engine,
    table: &str,
    body: &[u8],
) -> Result<Ingested, IngestError> {
    let result = ingest(engine, table, body).await;
    observe(table, &result);
    result
}

async fn ingest(engine: &Engine, table: &str, body: &[u8]) -> Result<Ingested, IngestError> {
    let schema = table_schema(engine, table).await?;
    let (rows, mut bad, lines) = parse_lines(body, &schema)?;
    // Values of the wrong type are found among the well-formed lines, and reported with the
    // malformed ones.
    let decoded = decode(&schema, &rows);
    match decoded {
        Ok(batches) if bad.is_empty() => {
            if rows.is_empty() {
                return Err(IngestError::Empty);
            }
            append(engine, table, batches, rows.len()).await
        }
        Ok(_) => Err(bad_lines(lines, bad)),
        Err(IngestError::BadLines {
            bad: more, count, ..
        }) => {
            let total = bad.len() + count;
            bad.extend(more);
            bad.sort_by_key(|b| b.line);
            bad.truncate(MAX_REPORTED);
            Err(IngestError::BadLines {
                lines,
                count: total,
                bad,
            })
        }
        Err(e) => Err(e),
    }
}

/// Appends `batches`, already in the table's columns (an `INSERT`'s rows), to store table
/// `table` in one transaction.
pub async fn ingest_batches(
    engine: &Engine,
    table: &str,
    batches: Vec<RecordBatch>,
) -> Result<Ingested, IngestError> {
    let count = batches.iter().map(RecordBatch::num_rows).sum();
    let result = append(engine, table, batches, count).await;
    observe(table, &result);
    result
}

/// The schema of store table `table`.
async fn table_schema(engine: &Engine, table: &str) -> Result<SchemaRef, IngestError> {
    let store = engine.store().clone();
    let name = table.to_string();
    let exists = tokio::task::spawn_blocking(move || store.has_table(&name))
        .await
        .map_err(|e| SpiritError::StoreAccess(e.to_string()))??;
    if !exists {
        return Err(IngestError::UnknownTable(table.to_string()));
    }
    Ok(engine.store().table_provider(table).await?.schema())
}

/// Appends `batches` (`count` rows) in one transaction and drops what read the table.
async fn append(
    engine: &Engine,
    table: &str,
    batches: Vec<RecordBatch>,
    count: usize,
) -> Result<Ingested, IngestError> {
    let store = engine.store().clone();
    let name = table.to_string();
    tokio::task::spawn_blocking(move || store.append(&name, &batches))
        .await
        .map_err(|e| SpiritError::StoreAccess(e.to_string()))?
        .map_err(|e| match e {
            SpiritError::Store(e) => IngestError::Refused(e.to_string()),
            other => IngestError::Store(other),
        })?;
    engine.cache().tables_changed(&[table.to_string()]).await;
    Ok(Ingested {
        table: table.to_string(),
        rows: count as u64,
    })
}

/// How `COPY … FROM STDIN` data is written.
#[derive(Debug, Clone, PartialEq)]
pub struct Delimited {
    /// CSV (quoted fields) rather than PostgreSQL's text format (backslash escapes).
    pub csv: bool,
    /// The field separator: tab for text, comma for CSV.
    pub delimiter: u8,
    /// The text that means NULL: `\N` for text, the empty string for CSV.
    pub null: String,
    /// Whether the first line names the columns (skipped).
    pub header: bool,
    /// CSV's quote character.
    pub quote: u8,
}

impl Delimited {
    /// PostgreSQL's defaults for the text format.
    pub fn text() -> Self {
        Self {
            csv: false,
            delimiter: b'\t',
            null: "\\N".to_string(),
            header: false,
            quote: b'"',
        }
    }

    /// PostgreSQL's defaults for CSV.
    pub fn csv() -> Self {
        Self {
            csv: true,
            delimiter: b',',
            null: String::new(),
            header: false,
            quote: b'"',
        }
    }
}

/// A line's fields (`None` for NULL) and its number.
type Fields = (usize, Vec<Option<String>>);

/// Appends `COPY` data in `format` to `columns` (all, when empty) of store table `table`, all
/// or nothing.
pub async fn ingest_delimited(
    engine: &Engine,
    table: &str,
    columns: &[String],
    format: &Delimited,
    body: &[u8],
) -> Result<Ingested, IngestError> {
    let result = async {
        let schema = table_schema(engine, table).await?;
        let targets: Vec<usize> = if columns.is_empty() {
            (0..schema.fields().len()).collect()
        } else {
            columns
                .iter()
                .map(|c| {
                    schema.index_of(c).map_err(|_| IngestError::UnknownColumn {
                        table: table.to_string(),
                        column: c.clone(),
                        columns: schema
                            .fields()
                            .iter()
                            .map(|f| f.name().as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                    })
                })
                .collect::<Result<_, _>>()?
        };
        let rows = if format.csv {
            split_csv(body, format)?
        } else {
            split_text(body, format)?
        };
        if rows.is_empty() {
            return Err(IngestError::Empty);
        }
        let batches = typed(&schema, &targets, &rows)?;
        append(engine, table, batches, rows.len()).await
    }
    .await;
    observe(table, &result);
    result
}

/// Counts a request in the Prometheus metrics; names the client invents are not labels.
fn observe(table: &str, result: &Result<Ingested, IngestError>) {
    let label = match result {
        Err(IngestError::UnknownTable(_)) => "unknown",
        _ => table,
    };
    observability::ingested(label, result.as_ref().ok().map(|i| i.rows));
}

fn split_text(body: &[u8], format: &Delimited) -> Result<Vec<Fields>, IngestError> {
    let text = std::str::from_utf8(body).map_err(|e| not_utf8(body, e.valid_up_to()))?;
    let mut rows = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if (format.header && index == 0) || line == "\\." {
            continue;
        }
        let fields = line
            .split(format.delimiter as char)
            .map(|field| (field != format.null).then(|| unescape(field)))
            .collect();
        rows.push((index + 1, fields));
    }
    Ok(rows)
}

/// A text-format field without its backslash escapes.
fn unescape(field: &str) -> String {
    if !field.contains('\\') {
        return field.to_string();
    }
    let mut out = String::with_capacity(field.len());
    let mut chars = field.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('b') => out.push('\u{8}'),
            Some('f') => out.push('\u{c}'),
            Some('v') => out.push('\u{b}'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

fn split_csv(body: &[u8], format: &Delimited) -> Result<Vec<Fields>, IngestError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(format.header)
        .delimiter(format.delimiter)
        .quote(format.quote)
        .flexible(true)
        .from_reader(body);
    let mut rows = Vec::new();
    let mut bad = Vec::new();
    let mut lines = 0;
    for record in reader.byte_records() {
        lines += 1;
        match record {
            Ok(record) => {
                let line = record.position().map_or(lines, |p| p.line() as usize);
                if record.len() == 1 && &record[0] == b"\\." {
                    continue;
                }
                let mut fields = Vec::with_capacity(record.len());
                for field in &record {
                    match std::str::from_utf8(field) {
                        Ok(text) => fields.push((text != format.null).then(|| text.to_string())),
                        Err(_) => {
                            bad.push(BadLine {
                                line,
                                message: "not UTF-8 text".into(),
                            });
                            break;
                        }
                    }
                }
                rows.push((line, fields));
            }
            Err(e) => bad.push(BadLine {
                line: e.position().map_or(lines, |p| p.line() as usize),
                message: format!("not CSV: {e}"),
            }),
        }
    }
    if !bad.is_empty() {
        return Err(bad_lines(lines, bad));
    }
    Ok(rows)
}

fn not_utf8(body: &[u8], offset: usize) -> IngestError {
    IngestError::BadLines {
        lines: 0,
        count: 1,
        bad: vec![BadLine {
            line: line_of(body, offset),
            message: "not UTF-8 text".into(),
        }],
    }
}

/// `rows` as batches of `schema`: the fields go to the `targets` columns, converted to their
/// types; the other columns are NULL. Bad lines are named.
fn typed(
    schema: &SchemaRef,
    targets: &[usize],
    rows: &[Fields],
) -> Result<Vec<RecordBatch>, IngestError> {
    let mut bad: Vec<BadLine> = rows
        .iter()
        .filter(|(_, fields)| fields.len() != targets.len())
        .map(|(line, fields)| BadLine {
            line: *line,
            message: format!("expected {} values, found {}", targets.len(), fields.len()),
        })
        .collect();
    if !bad.is_empty() {
        return Err(bad_lines(rows.len(), bad));
    }
    let options = CastOptions {
        safe: false,
        ..Default::default()
    };
    let mut batches = Vec::new();
    for chunk in rows.chunks(BATCH_ROWS) {
        let mut columns: Vec<ArrayRef> = schema
            .fields()
            .iter()
            .map(|f| new_null_array(f.data_type(), chunk.len()))
            .collect();
        for (position, &index) in targets.iter().enumerate() {
            let field = schema.field(index);
            let text: StringArray = chunk
                .iter()
                .map(|(_, fields)| fields[position].as_deref())
                .collect();
            match cast_with_options(&text, field.data_type(), &options) {
                Ok(array) if field.is_nullable() || array.null_count() == 0 => {
                    columns[index] = array;
                }
                _ => {
                    // Name the lines whose value does not fit.
                    for (row, (line, fields)) in chunk.iter().enumerate() {
                        let value = &fields[position];
                        let one = text.slice(row, 1);
                        let message =
                            match (value, cast_with_options(&one, field.data_type(), &options)) {
                                (None, _) if !field.is_nullable() => {
                                    format!(
                                        "column \"{}\" needs a value (it is NOT NULL)",
                                        field.name()
                                    )
                                }
                                (Some(v), Err(e)) => format!(
                                    "{v:?} is not a {} for column \"{}\": {e}",
                                    field.data_type(),
                                    field.name()
                                ),
                                _ => continue,
                            };
                        bad.push(BadLine {
                            line: *line,
                            message,
                        });
                    }
                }
            }
        }
        if bad.is_empty() {
            batches.push(
                RecordBatch::try_new(Arc::clone(schema), columns)
                    .map_err(|e| IngestError::Refused(e.to_string()))?,
            );
        }
    }
    if !bad.is_empty() {
        bad.sort_by_key(|b| b.line);
        return Err(bad_lines(rows.len(), bad));
    }
    Ok(batches)
}

/// Well-formed lines (numbered objects), malformed ones, and how many lines there were.
type ParsedLines = (Vec<(usize, Value)>, Vec<BadLine>, usize);

/// The objects of `body`'s non-blank lines, each checked against `schema`'s columns: the
/// well-formed ones, the malformed ones, and the number of lines.
fn parse_lines(body: &[u8], schema: &SchemaRef) -> Result<ParsedLines, IngestError> {
    let text = std::str::from_utf8(body).map_err(|e| not_utf8(body, e.valid_up_to()))?;
    let mut rows = Vec::new();
    let mut bad = Vec::new();
    let mut lines = 0;
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        lines += 1;
        let number = index + 1;
        match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(object)) => match unknown_column(&object, schema) {
                Some(message) => bad.push(BadLine {
                    line: number,
                    message,
                }),
                None => rows.push((number, Value::Object(object))),
            },
            Ok(_) => bad.push(BadLine {
                line: number,
                message: "expected a JSON object ({\"column\": value, …})".into(),
            }),
            Err(e) => bad.push(BadLine {
                line: number,
                message: format!("not JSON: {e}"),
            }),
        }
    }
    Ok((rows, bad, lines))
}

fn unknown_column(object: &Map<String, Value>, schema: &SchemaRef) -> Option<String> {
    let unknown: Vec<&String> = object
        .keys()
        .filter(|k| schema.field_with_name(k).is_err())
        .collect();
    (!unknown.is_empty()).then(|| {
        let columns: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        format!(
            "unknown column{} {} (the table's columns are {})",
            if unknown.len() > 1 { "s" } else { "" },
            unknown
                .iter()
                .map(|k| format!("\"{k}\""))
                .collect::<Vec<_>>()
                .join(", "),
            columns.join(", ")
        )
    })
}

fn bad_lines(lines: usize, mut bad: Vec<BadLine>) -> IngestError {
    let count = bad.len();
    bad.truncate(MAX_REPORTED);
    IngestError::BadLines { lines, count, bad }
}

/// `rows` as batches of `schema`; when a value does not fit its column, each line is decoded
/// alone to name the bad ones.
fn decode(schema: &SchemaRef, rows: &[(usize, Value)]) -> Result<Vec<RecordBatch>, IngestError> {
    let mut batches = Vec::new();
    let mut failed = false;
    for chunk in rows.chunks(BATCH_ROWS) {
        match decode_chunk(schema, chunk) {
            Ok(Some(batch)) => batches.push(batch),
            Ok(None) => {}
            Err(_) => {
                failed = true;
                break;
            }
        }
    }
    if !failed {
        return Ok(batches);
    }
    let bad: Vec<BadLine> = rows
        .iter()
        .filter_map(|row| {
            decode_chunk(schema, std::slice::from_ref(row))
                .err()
                .map(|message| BadLine {
                    line: row.0,
                    message,
                })
        })
        .collect();
    if bad.is_empty() {
        // Every line decodes alone; the chunk failed as a whole (should not happen).
        return Err(IngestError::Refused(
            "the rows do not fit the table's columns".into(),
        ));
    }
    Err(bad_lines(rows.len(), bad))
}

fn decode_chunk(
    schema: &SchemaRef,
    rows: &[(usize, Value)],
) -> Result<Option<RecordBatch>, String> {
    let mut decoder = ReaderBuilder::new(Arc::clone(schema))
        .with_batch_size(rows.len().max(1))
        .with_strict_mode(true)
        .build_decoder()
        .map_err(|e| e.to_string())?;
    let values: Vec<&Value> = rows.iter().map(|(_, v)| v).collect();
    decoder.serialize(&values).map_err(|e| clean(&e))?;
    decoder.flush().map_err(|e| clean(&e))
}

fn clean(e: &arrow::error::ArrowError) -> String {
    let text = e.to_string();
    text.strip_prefix("Json error: ")
        .or_else(|| text.strip_prefix("Invalid argument error: "))
        .unwrap_or(&text)
        .to_string()
}

/// The line number (from 1) of byte `offset` of `body`.
fn line_of(body: &[u8], offset: usize) -> usize {
    body[..offset.min(body.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::datatypes::{DataType, Field, Schema, TimeUnit};

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("amount", DataType::Float64, true),
            Field::new("at", DataType::Timestamp(TimeUnit::Microsecond, None), true),
        ]))
    }

    #[test]
    fn good_lines_decode_with_missing_columns_as_null() {
        let body =
            b"{\"id\": 1, \"amount\": 2.5, \"at\": \"2026-07-01T10:00:00\"}\n\n{\"id\": 2}\n";
        let (rows, bad, lines) = parse_lines(body, &schema()).unwrap();
        assert!(bad.is_empty());
        assert_eq!(lines, 2);
        assert_eq!(rows.iter().map(|r| r.0).collect::<Vec<_>>(), [1, 3]);
        let batches = decode(&schema(), &rows).unwrap();
        assert_eq!(batches[0].num_rows(), 2);
        assert!(batches[0].column(1).is_null(1));
    }

    #[test]
    fn bad_lines_are_named_and_nothing_is_kept() {
        let body = b"{\"id\": 1}\n{\"id\": \nnot json\n[1]\n{\"id\": 5, \"colour\": \"red\"}\n";
        let (rows, bad, lines) = parse_lines(body, &schema()).unwrap();
        assert_eq!((lines, rows.len(), bad.len()), (5, 1, 4));
        assert_eq!(bad.iter().map(|b| b.line).collect::<Vec<_>>(), [2, 3, 4, 5]);
        assert!(bad[3].message.contains("\"colour\""), "{:?}", bad[3]);
        assert!(bad[3].message.contains("id, amount, at"), "{:?}", bad[3]);
    }

    #[test]
    fn wrong_types_are_found_line_by_line() {
        let body =
            b"{\"id\": 1}\n{\"id\": \"seven\"}\n{\"id\": 3, \"amount\": {\"x\": 1}}\n{\"id\": 4}\n";
        let (rows, _, _) = parse_lines(body, &schema()).unwrap();
        let IngestError::BadLines { bad, .. } = decode(&schema(), &rows).unwrap_err() else {
            panic!("expected bad lines");
        };
        assert_eq!(bad.iter().map(|b| b.line).collect::<Vec<_>>(), [2, 3]);
    }

    #[test]
    fn text_format_unescapes_and_reads_nulls() {
        let rows = split_text(
            b"1\t2.5\t2026-07-01 10:00:00\n2\t\\N\ta\\tb\n\\.\n",
            &Delimited::text(),
        )
        .unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].1, vec![Some("2".into()), None, Some("a\tb".into())]);
        let batches = typed(&schema(), &[0, 1, 2], &rows[..1]).unwrap();
        assert_eq!(batches[0].num_rows(), 1);
        let IngestError::BadLines { bad, .. } = typed(&schema(), &[0, 1, 2], &rows).unwrap_err()
        else {
            panic!("expected bad lines");
        };
        assert_eq!(bad[0].line, 2);
        assert!(bad[0].message.contains("\"at\""), "{:?}", bad[0]);
    }

    #[test]
    fn csv_reads_quotes_headers_and_column_subsets() {
        let format = Delimited {
            header: true,
            ..Delimited::csv()
        };
        let rows = split_csv(b"id,amount\n1,\"3.5\"\n2,\n", &format).unwrap();
        assert_eq!(rows.iter().map(|r| r.0).collect::<Vec<_>>(), [2, 3]);
        let batches = typed(&schema(), &[0, 1], &rows).unwrap();
        assert_eq!(batches[0].num_rows(), 2);
        assert!(batches[0].column(1).is_null(1));
        assert!(batches[0].column(2).is_null(0));
        let IngestError::BadLines { bad, .. } =
            typed(&schema(), &[0, 1], &[(7, vec![Some("1".into())])]).unwrap_err()
        else {
            panic!("expected bad lines");
        };
        assert_eq!(
            (bad[0].line, bad[0].message.as_str()),
            (7, "expected 2 values, found 1")
        );
    }

    #[test]
    fn an_empty_body_has_no_lines() {
        let (rows, bad, lines) = parse_lines(b"\n \n", &schema()).unwrap();
        assert!(rows.is_empty() && bad.is_empty());
        assert_eq!(lines, 0);
    }
}
