//! Paging through a plugin's table: one `scan` call per page, each page's Arrow IPC stream
//! decoded and checked against the schema the plugin declared (projected as asked), and the
//! cursor checked to advance. Used by SQL scans, acceleration refreshes and `spirit plugin test`.

use std::io::Cursor;
use std::sync::Arc;

use arrow::datatypes::{Schema, SchemaRef};
use arrow::ipc::reader::StreamReader;
use arrow::record_batch::{RecordBatch, RecordBatchOptions};

use crate::host::{Filter, Instance, ScanRequest};
use crate::{Plugin, PluginError, Source, TableSchema};

/// One decoded page.
#[derive(Debug)]
pub struct Page {
    /// Its rows.
    pub batches: Vec<RecordBatch>,
    /// Source rows the plugin skipped as malformed on this page.
    pub skipped_rows: u64,
}

/// The pages of one scan, in order. Ends after the page without a cursor, after the first
/// error, or once `limit` rows have arrived.
pub struct Scan<'a> {
    plugin: &'a Plugin,
    source: &'a Source,
    table: String,
    /// The table's declared schema.
    declared: SchemaRef,
    /// The schema of the batches: `declared`, projected.
    schema: SchemaRef,
    projection: Option<Vec<u32>>,
    filters: Vec<Filter>,
    limit: Option<u64>,
    cursor: Option<String>,
    rows: u64,
    finished: bool,
    /// The instance serving the pages, made at the first.
    instance: Option<Instance<'a>>,
}

impl<'a> Scan<'a> {
    /// A scan of `table` returning the columns at `projection` (all when `None`).
    pub fn new(
        plugin: &'a Plugin,
        source: &'a Source,
        table: &TableSchema,
        projection: Option<&[usize]>,
    ) -> Result<Self, PluginError> {
        let schema = match projection {
            Some(indices) => {
                Arc::new(
                    table
                        .schema
                        .project(indices)
                        .map_err(|e| PluginError::Data {
                            plugin: plugin.manifest.name.clone(),
                            message: format!("projection of table {}: {e}", table.name),
                        })?,
                )
            }
            None => Arc::clone(&table.schema),
        };
        Ok(Self {
            plugin,
            source,
            table: table.name.clone(),
            declared: Arc::clone(&table.schema),
            schema,
            projection: projection.map(|p| p.iter().map(|&i| i as u32).collect()),
            filters: Vec::new(),
            limit: None,
            cursor: None,
            rows: 0,
            finished: false,
            instance: None,
        })
    }

    /// Offers the plugin `filters` (hints; the caller re-applies them).
    pub fn with_filters(mut self, filters: Vec<Filter>) -> Self {
        self.filters = filters;
        self
    }

    /// Stops after `limit` rows.
    pub fn with_limit(mut self, limit: Option<u64>) -> Self {
        self.limit = limit;
        self
    }

    /// The schema of the batches: the table's, projected.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn next_page(&mut self) -> Result<Page, PluginError> {
        let request = ScanRequest {
            table: self.table.clone(),
            projection: self.projection.clone(),
            filters: self.filters.clone(),
            limit: self.limit.map(|l| l.saturating_sub(self.rows)),
            cursor: self.cursor.take(),
        };
        let instance = match &mut self.instance {
            Some(instance) => instance,
            None => self.instance.insert(self.plugin.instance(self.source)?),
        };
        let page = instance.scan(&request)?;
        let batches = decode(self, &page.batches)?;
        self.rows += batches.iter().map(|b| b.num_rows() as u64).sum::<u64>();
        let satisfied = self.limit.is_some_and(|l| self.rows >= l);
        match page.next_cursor {
            Some(next) if !satisfied => {
                if request.cursor.as_deref() == Some(next.as_str()) {
                    return Err(PluginError::Data {
                        plugin: self.plugin.manifest.name.clone(),
                        message: format!("scan of {} did not advance past {next:?}", self.table),
                    });
                }
                self.cursor = Some(next);
            }
            _ => self.finished = true,
        }
        Ok(Page {
            batches,
            skipped_rows: page.skipped_rows,
        })
    }
}

impl Iterator for Scan<'_> {
    type Item = Result<Page, PluginError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.finished {
            return None;
        }
        let page = self.next_page();
        if page.is_err() {
            self.finished = true;
        }
        Some(page)
    }
}

/// The record batches of one page's Arrow IPC stream, which must have the projected schema, or
/// the whole declared one (a plugin that ignores the projection; the host projects then).
fn decode(scan: &Scan<'_>, bytes: &[u8]) -> Result<Vec<RecordBatch>, PluginError> {
    let invalid = |message: String| PluginError::Data {
        plugin: scan.plugin.manifest.name.clone(),
        message: format!("table {}: {message}", scan.table),
    };
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    let reader = StreamReader::try_new(Cursor::new(bytes), None)
        .map_err(|e| invalid(format!("not an Arrow IPC stream: {e}")))?;
    let sent = reader.schema();
    let expected = &scan.schema;
    let pick: Option<Vec<usize>> = if same_columns(&sent, expected) {
        None
    } else if scan.projection.is_some() && same_columns(&sent, &scan.declared) {
        scan.projection
            .as_ref()
            .map(|p| p.iter().map(|&i| i as usize).collect())
    } else {
        return Err(invalid(format!(
            "rows with columns ({}), but the table declares ({})",
            columns(&sent),
            columns(expected)
        )));
    };
    reader
        .map(|batch| {
            let batch = batch.map_err(|e| invalid(format!("bad record batch: {e}")))?;
            let arrays = match &pick {
                Some(indices) => indices
                    .iter()
                    .map(|&i| Arc::clone(batch.column(i)))
                    .collect(),
                None => batch.columns().to_vec(),
            };
            // Declared nullability and metadata are the table's: a NULL in a column declared
            // NOT NULL is refused here. The row count carries zero-column batches (count(*)).
            let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
            RecordBatch::try_new_with_options(Arc::clone(expected), arrays, &options)
                .map_err(|e| invalid(format!("bad record batch: {e}")))
        })
        .collect()
}

fn same_columns(a: &Schema, b: &Schema) -> bool {
    a.fields().len() == b.fields().len()
        && a.fields()
            .iter()
            .zip(b.fields().iter())
            .all(|(a, b)| a.name() == b.name() && a.data_type() == b.data_type())
}

fn columns(schema: &Schema) -> String {
    schema
        .fields()
        .iter()
        .map(|f| format!("{} {}", f.name(), f.data_type()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The whole of a scan, or its first `limit` rows, with counters.
#[derive(Debug, Default)]
pub struct ScanResult {
    /// The rows, in the plugin's order.
    pub batches: Vec<RecordBatch>,
    /// Source rows the plugin skipped as malformed (it says which in its log).
    pub skipped_rows: u64,
    /// Pages fetched.
    pub pages: usize,
}

impl ScanResult {
    /// Rows read.
    pub fn rows(&self) -> u64 {
        self.batches.iter().map(|b| b.num_rows() as u64).sum()
    }
}

/// Reads `table` whole (or its first `limit` rows), page by page.
pub fn read_table(
    plugin: &Plugin,
    source: &Source,
    table: &TableSchema,
    limit: Option<u64>,
) -> Result<ScanResult, PluginError> {
    let mut result = ScanResult::default();
    for page in Scan::new(plugin, source, table, None)?.with_limit(limit) {
        let page = page?;
        result.pages += 1;
        result.skipped_rows += page.skipped_rows;
        result.batches.extend(page.batches);
    }
    Ok(result)
}
