//! The glue between the generated WIT exports and [`Connector`]: converts requests, checks the
//! author's batches against the declared schema, applies projection and limit, encodes Arrow
//! IPC and maps errors. [`export_connector!`](crate::export_connector) calls these; authors
//! never do.

use std::sync::Arc;

use arrow_array::{Array, RecordBatch, RecordBatchOptions};
use arrow_schema::SchemaRef;

use crate::bindings::spirit::plugin::types as wit;
use crate::{Connector, Error, Filter, FilterOp, Literal, Result, ScanRequest, Table, ipc};

/// The `metadata` export: the plugin crate's name and version.
pub fn metadata(name: &str, version: &str) -> wit::PluginMetadata {
    wit::PluginMetadata {
        name: name.to_owned(),
        version: version.to_owned(),
    }
}

/// The `list-tables` export.
pub fn list_tables<C: Connector>(connector: &C) -> Result<Vec<wit::TableInfo>, wit::PluginError> {
    guarded(|| {
        connector
            .tables()?
            .into_iter()
            .map(|table| -> Result<wit::TableInfo> {
                Ok(wit::TableInfo {
                    schema: ipc::encode_schema(&table.schema)?,
                    name: table.name,
                    description: table.description,
                })
            })
            .collect()
    })
}

/// The `scan` export.
pub fn scan<C: Connector>(
    connector: &C,
    request: wit::ScanRequest,
) -> Result<wit::ScanPage, wit::PluginError> {
    guarded(|| {
        let request = scan_request(request);
        let table = connector
            .tables()?
            .into_iter()
            .find(|table| table.name == request.table)
            .ok_or_else(|| Error::not_found(format!("no table '{}'", request.table)))?;
        let page = connector.scan(&request)?;

        let indices = match &request.projection {
            Some(indices) => indices.clone(),
            None => (0..table.schema.fields().len()).collect(),
        };
        let schema = Arc::new(table.schema.project(&indices)?);
        let mut remaining = request.limit;
        let mut batches = Vec::with_capacity(page.batches.len());
        for batch in &page.batches {
            if remaining == Some(0) {
                break;
            }
            check_schema(&table, batch)?;
            let mut batch = project(batch, &indices, &schema)?;
            if let Some(rows) = remaining.as_mut() {
                let keep = (*rows).min(batch.num_rows() as u64);
                batch = batch.slice(0, keep as usize);
                *rows -= keep;
            }
            batches.push(batch);
        }

        Ok(wit::ScanPage {
            batches: ipc::encode(&schema, &batches)?,
            // A satisfied LIMIT ends the scan even if the source has more.
            next_cursor: if remaining == Some(0) {
                None
            } else {
                page.next_cursor
            },
            skipped_rows: page.skipped_rows,
        })
    })
}

crate::error::define_guarded!();

fn scan_request(request: wit::ScanRequest) -> ScanRequest {
    ScanRequest {
        table: request.table,
        projection: request
            .projection
            .map(|indices| indices.into_iter().map(|index| index as usize).collect()),
        filters: request.filters.into_iter().map(filter).collect(),
        limit: request.limit,
        cursor: request.cursor,
    }
}

fn filter(filter: wit::Filter) -> Filter {
    Filter {
        column: filter.column,
        op: match filter.op {
            wit::FilterOp::Eq => FilterOp::Eq,
            wit::FilterOp::NotEq => FilterOp::NotEq,
            wit::FilterOp::Lt => FilterOp::Lt,
            wit::FilterOp::LtEq => FilterOp::LtEq,
            wit::FilterOp::Gt => FilterOp::Gt,
            wit::FilterOp::GtEq => FilterOp::GtEq,
        },
        value: match filter.value {
            wit::Literal::Boolean(value) => Literal::Boolean(value),
            wit::Literal::Integer(value) => Literal::Integer(value),
            wit::Literal::Float(value) => Literal::Float(value),
            wit::Literal::Text(value) => Literal::Text(value),
            wit::Literal::TimestampMicros(value) => Literal::TimestampMicros(value),
        },
    }
}

/// The engine checks schemas too, but an error here names the column while the author is
/// still testing with `spirit plugin test`.
fn check_schema(table: &Table, batch: &RecordBatch) -> Result<()> {
    let declared = table.schema.fields();
    let actual = batch.schema_ref().fields();
    if declared.len() != actual.len() {
        return Err(Error::internal(format!(
            "table '{}': a batch has {} columns, the table declares {}",
            table.name,
            actual.len(),
            declared.len()
        )));
    }
    for ((want, got), column) in declared.iter().zip(actual.iter()).zip(batch.columns()) {
        if want.name() != got.name() || want.data_type() != got.data_type() {
            return Err(Error::internal(format!(
                "table '{}': batch column '{}' {} differs from declared column '{}' {}",
                table.name,
                got.name(),
                got.data_type(),
                want.name(),
                want.data_type()
            )));
        }
        if !want.is_nullable() && column.null_count() > 0 {
            return Err(Error::internal(format!(
                "table '{}': column '{}' is declared not null but has nulls",
                table.name,
                want.name()
            )));
        }
    }
    Ok(())
}

/// `batch` restricted to `indices`, under the declared (projected) schema.
fn project(batch: &RecordBatch, indices: &[usize], schema: &SchemaRef) -> Result<RecordBatch> {
    let columns = indices
        .iter()
        .map(|&index| Arc::clone(batch.column(index)))
        .collect();
    let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
    Ok(RecordBatch::try_new_with_options(
        Arc::clone(schema),
        columns,
        &options,
    )?)
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use arrow_array::{Int64Array, StringArray};
    use arrow_ipc::reader::StreamReader;
    use arrow_schema::{DataType, Field, Schema};

    use super::*;
    use crate::ScanPage;

    /// Two batches of three rows, then a cursor; or, for table "liar", a batch that is not in the
    /// declared schema.
    #[derive(Default)]
    struct Numbers;

    fn numbers_schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("n", DataType::Int64, false),
            Field::new("word", DataType::Utf8, true),
        ]))
    }

    impl Connector for Numbers {
        fn tables(&self) -> Result<Vec<Table>> {
            Ok(vec![
                Table::new("numbers", "Small numbers", numbers_schema()),
                Table::new("liar", "Declares numbers, returns words", numbers_schema()),
            ])
        }

        fn scan(&self, request: &ScanRequest) -> Result<ScanPage> {
            if request.table == "liar" {
                let schema = Arc::new(Schema::new(vec![Field::new("word", DataType::Utf8, true)]));
                let words = StringArray::from(vec!["one"]);
                let batch = RecordBatch::try_new(schema, vec![Arc::new(words)])?;
                return Ok(ScanPage::last(vec![batch]));
            }
            let batch = |from: i64| {
                RecordBatch::try_new(
                    numbers_schema(),
                    vec![
                        Arc::new(Int64Array::from_iter_values(from..from + 3)),
                        Arc::new(StringArray::from(vec![Some("a"), None, Some("c")])),
                    ],
                )
            };
            Ok(ScanPage::more(vec![batch(0)?, batch(3)?], "next").with_skipped_rows(2))
        }
    }

    fn request(table: &str, projection: Option<Vec<u32>>, limit: Option<u64>) -> wit::ScanRequest {
        wit::ScanRequest {
            table: table.into(),
            projection,
            filters: vec![],
            limit,
            cursor: None,
        }
    }

    fn decode(bytes: &[u8]) -> (SchemaRef, Vec<RecordBatch>) {
        let reader = StreamReader::try_new(Cursor::new(bytes), None).unwrap();
        let schema = reader.schema();
        (
            schema,
            reader.collect::<std::result::Result<_, _>>().unwrap(),
        )
    }

    #[test]
    fn full_scan_keeps_cursor_and_skipped_rows() {
        let page = scan(&Numbers, request("numbers", None, None)).unwrap();
        let (schema, batches) = decode(&page.batches);
        assert_eq!(schema, numbers_schema());
        assert_eq!(batches.iter().map(RecordBatch::num_rows).sum::<usize>(), 6);
        assert_eq!(page.next_cursor.as_deref(), Some("next"));
        assert_eq!(page.skipped_rows, 2);
    }

    #[test]
    fn projection_and_limit_are_applied() {
        let page = scan(&Numbers, request("numbers", Some(vec![1]), Some(4))).unwrap();
        let (schema, batches) = decode(&page.batches);
        assert_eq!(schema.fields().len(), 1);
        assert_eq!(schema.field(0).name(), "word");
        assert_eq!(batches.iter().map(RecordBatch::num_rows).sum::<usize>(), 4);
        assert_eq!(page.next_cursor, None, "a satisfied limit ends the scan");
    }

    #[test]
    fn empty_projection_keeps_row_counts() {
        let page = scan(&Numbers, request("numbers", Some(vec![]), None)).unwrap();
        let (schema, batches) = decode(&page.batches);
        assert!(schema.fields().is_empty());
        assert_eq!(batches.iter().map(RecordBatch::num_rows).sum::<usize>(), 6);
    }

    #[test]
    fn schema_that_lies_is_an_internal_error() {
        let error = scan(&Numbers, request("liar", None, None)).unwrap_err();
        assert_eq!(error.kind, wit::ErrorKind::Internal);
        assert!(error.message.contains("declares 2"), "{}", error.message);
    }

    #[test]
    fn unknown_table_is_not_found() {
        let error = scan(&Numbers, request("nope", None, None)).unwrap_err();
        assert_eq!(error.kind, wit::ErrorKind::NotFound);
    }

    #[test]
    fn tables_carry_ipc_schemas() {
        let tables = list_tables(&Numbers).unwrap();
        assert_eq!(tables.len(), 2);
        let (schema, batches) = decode(&tables[0].schema);
        assert_eq!(schema, numbers_schema());
        assert!(batches.is_empty());
    }
}
