//! `CREATE EXTERNAL TABLE <name> STORED AS <plugin> LOCATION '…' OPTIONS (…)`: DataFusion's
//! own DDL reaches [`PluginTableFactory`], registered under each loaded plugin's name.
//!
//! - `LOCATION` sets the plugin's location option (a URL, a directory); other `OPTIONS` set the
//!   plugin's config options, except two the engine reads: `table` (which of the plugin's
//!   tables, when it has several) and `refresh_interval` (acceleration, see [`crate::sources`]).
//! - A scan runs on a blocking thread, one page at a time, and hands batches to DataFusion
//!   through a channel of two: at most a page or so per running scan is in memory, and a
//!   query that stops reading (a LIMIT, a cancel) stops the plugin at the next page.
//! - Projection, limit and simple comparisons (`column op literal`) are offered to the plugin;
//!   DataFusion re-applies the comparisons to what comes back.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use arrow::datatypes::{Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider, TableProviderFactory};
use datafusion::common::ScalarValue;
use datafusion::datasource::TableType;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{CreateExternalTable, Expr, Operator, TableProviderFilterPushDown};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::{PartitionStream, StreamingTableExec};
use datafusion::physical_plan::{ExecutionPlan, SendableRecordBatchStream};
use spirit_core::store::ACCELERATION_SCHEMA;

use crate::host::{Filter, FilterOp, Literal};
use crate::registry::Registry;
use crate::sources::{Refresh, SourceRecord, parse_interval};
use crate::{Plugin, PluginError, Scan, Source, TableSchema};

/// Options the engine reads itself rather than passing to the plugin.
const TABLE_OPTION: &str = "table";
const REFRESH_OPTION: &str = "refresh_interval";

fn external(e: PluginError) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}

/// Creates the tables of one plugin.
#[derive(Debug)]
pub struct PluginTableFactory {
    registry: Arc<Registry>,
    plugin: String,
}

impl PluginTableFactory {
    /// The factory of `STORED AS <plugin>`.
    pub fn new(registry: Arc<Registry>, plugin: &str) -> Self {
        Self {
            registry,
            plugin: plugin.to_string(),
        }
    }

    /// The options of a `CREATE EXTERNAL TABLE`: relative paths made absolute.
    fn source_options(&self, plugin: &Plugin, cmd: &CreateExternalTable) -> Result<Options> {
        let manifest = &plugin.manifest;
        let config_error = |message: String| {
            external(PluginError::Config {
                plugin: manifest.name.clone(),
                message,
            })
        };
        let mut options = HashMap::new();
        let (mut table, mut refresh) = (None, None);
        for (key, value) in &cmd.options {
            // DataFusion files un-namespaced options under `format.`.
            let key = key.strip_prefix("format.").unwrap_or(key);
            match key {
                TABLE_OPTION => table = Some(value.clone()),
                REFRESH_OPTION => refresh = Some(value.clone()),
                _ => {
                    options.insert(key.to_string(), value.clone());
                }
            }
        }
        let location_option = manifest.config.iter().find(|(_, o)| o.location);
        match (cmd.locations.as_slice(), location_option) {
            ([], _) => {}
            ([location], Some((key, _))) => {
                if options.contains_key(key) {
                    return Err(config_error(format!(
                        "LOCATION sets option {key:?}; give it once"
                    )));
                }
                options.insert(key.clone(), location.clone());
            }
            ([_], None) => {
                return Err(config_error(format!(
                    "{} takes no LOCATION; set its options with OPTIONS (…)",
                    manifest.name
                )));
            }
            _ => return Err(config_error("give one LOCATION".to_string())),
        }
        for (key, option) in &manifest.config {
            if option.kind == "path"
                && let Some(value) = options.get_mut(key)
                && let Ok(absolute) = std::path::absolute(value.as_str())
            {
                *value = absolute.to_string_lossy().into_owned();
            }
        }
        Ok(Options {
            plugin: options,
            table,
            refresh,
        })
    }
}

/// The options of a `CREATE EXTERNAL TABLE … STORED AS <plugin>`.
struct Options {
    /// The plugin's: `OPTIONS` without the engine's own, plus `LOCATION`.
    plugin: HashMap<String, String>,
    /// `table`: which of the plugin's tables.
    table: Option<String>,
    /// `refresh_interval`, unparsed.
    refresh: Option<String>,
}

#[async_trait]
impl TableProviderFactory for PluginTableFactory {
    async fn create(
        &self,
        _state: &dyn Session,
        cmd: &CreateExternalTable,
    ) -> Result<Arc<dyn TableProvider>> {
        let plugin = self.registry.plugin(&self.plugin).map_err(external)?;
        let Options {
            plugin: options,
            table: wanted,
            refresh,
        } = self.source_options(&plugin, cmd)?;
        let config_error = |message: String| {
            external(PluginError::Config {
                plugin: self.plugin.clone(),
                message,
            })
        };
        let interval = refresh
            .as_deref()
            .map(parse_interval)
            .transpose()
            .map_err(config_error)?;
        let source = Arc::new(Source::new(&plugin.manifest, options).map_err(external)?);
        let tables = {
            let (plugin, source) = (Arc::clone(&plugin), Arc::clone(&source));
            tokio::task::spawn_blocking(move || crate::tables(&plugin, &source))
                .await
                .map_err(|e| DataFusionError::External(Box::new(e)))?
                .map_err(external)?
        };
        let names = || {
            tables
                .iter()
                .map(|t| t.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut table = match (&wanted, tables.as_slice()) {
            (None, [only]) => only.clone(),
            (None, _) => {
                return Err(config_error(format!(
                    "it serves several tables ({}); choose one with OPTIONS ('table' '…')",
                    names()
                )));
            }
            (Some(wanted), _) => tables
                .iter()
                .find(|t| &t.name == wanted)
                .cloned()
                .ok_or_else(|| {
                    config_error(format!(
                        "it has no table {wanted:?}; its tables are {}",
                        names()
                    ))
                })?,
        };
        let declared = cmd.schema.fields();
        if !declared.is_empty()
            && (declared.len() != table.schema.fields().len()
                || declared
                    .iter()
                    .zip(table.schema.fields())
                    .any(|(a, b)| a.name() != b.name()))
        {
            return Err(config_error(format!(
                "the column list does not match the plugin's table {} ({}); leave it out, the \
                 columns come from the plugin",
                table.name,
                table
                    .schema
                    .fields()
                    .iter()
                    .map(|f| f.name().as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        if interval.is_some() {
            // The store's copy has nullable columns; the table must say the same whichever
            // way it is read.
            table.schema = Arc::new(Schema::new_with_metadata(
                table
                    .schema
                    .fields()
                    .iter()
                    .map(|f| f.as_ref().clone().with_nullable(true))
                    .collect::<Vec<_>>(),
                table.schema.metadata().clone(),
            ));
        }
        let store = self
            .registry
            .store()
            .ok_or_else(|| DataFusionError::Internal("plugin registry not installed".into()))?;
        let name = cmd.name.table().to_string();
        let record = Arc::new(
            SourceRecord::register(
                store,
                &name,
                &self.plugin,
                &table.name,
                cmd.locations.first().map(String::as_str),
                refresh.as_deref(),
            )
            .map_err(external)?,
        );
        let accelerated = interval.map(|interval| {
            Arc::new(Refresh {
                record: Arc::clone(&record),
                source: Arc::clone(&source),
                table: table.clone(),
                interval,
            })
        });
        let provider = Arc::new(PluginTable {
            registry: Arc::clone(&self.registry),
            plugin: self.plugin.clone(),
            source,
            table,
            record,
            accelerated: accelerated.is_some(),
            copy: Mutex::default(),
        });
        if let Some(refresh) = accelerated {
            let registry = Arc::clone(&self.registry);
            let plugin = self.plugin.clone();
            refresh.schedule(Arc::downgrade(&provider), move || registry.plugin(&plugin));
        }
        Ok(provider)
    }
}

/// A table served by a plugin.
#[derive(Debug)]
pub struct PluginTable {
    registry: Arc<Registry>,
    plugin: String,
    source: Arc<Source>,
    table: TableSchema,
    record: Arc<SourceRecord>,
    /// Whether queries read the accelerated copy (once one exists).
    accelerated: bool,
    /// The store provider of the accelerated copy, once opened.
    copy: Mutex<Option<Arc<dyn TableProvider>>>,
}

impl PluginTable {
    /// The accelerated copy, if this table has one and its first refresh has finished.
    async fn copy(&self) -> Result<Option<Arc<dyn TableProvider>>> {
        if !self.accelerated {
            return Ok(None);
        }
        if let Some(copy) = self.copy.lock().expect("lock").clone() {
            return Ok(Some(copy));
        }
        let Some(store) = self.registry.store() else {
            return Ok(None);
        };
        let relation = store
            .relation(ACCELERATION_SCHEMA, &self.record.name)
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        let Some(relation) = relation else {
            return Ok(None);
        };
        let copy = store
            .read_provider(ACCELERATION_SCHEMA, &relation)
            .await
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        let copy_schema = copy.schema();
        let same = copy_schema.fields().len() == self.table.schema.fields().len()
            && copy_schema
                .fields()
                .iter()
                .zip(self.table.schema.fields())
                .all(|(a, b)| a.name() == b.name() && a.data_type() == b.data_type());
        if !same {
            tracing::warn!(
                source = %self.record.name,
                "the accelerated copy's columns differ from the table's; reading the plugin"
            );
            return Ok(None);
        }
        *self.copy.lock().expect("lock") = Some(Arc::clone(&copy));
        Ok(Some(copy))
    }
}

#[async_trait]
impl TableProvider for PluginTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.table.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        Ok(filters
            .iter()
            .map(|f| match to_filter(f) {
                Some(_) => TableProviderFilterPushDown::Inexact,
                None => TableProviderFilterPushDown::Unsupported,
            })
            .collect())
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if let Some(copy) = self.copy().await? {
            let refs: Vec<&Expr> = filters.iter().collect();
            let support = copy.supports_filters_pushdown(&refs)?;
            let pushed: Vec<Expr> = filters
                .iter()
                .zip(support)
                .filter(|(_, s)| *s != TableProviderFilterPushDown::Unsupported)
                .map(|(f, _)| f.clone())
                .collect();
            return copy.scan(state, projection, &pushed, limit).await;
        }
        let plugin = self.registry.plugin(&self.plugin).map_err(external)?;
        let schema = match projection {
            Some(indices) => Arc::new(self.table.schema.project(indices)?),
            None => Arc::clone(&self.table.schema),
        };
        let stream = PluginStream {
            plugin,
            registry: Arc::clone(&self.registry),
            source: Arc::clone(&self.source),
            table: self.table.clone(),
            projection: projection.cloned(),
            schema: Arc::clone(&schema),
            filters: filters.iter().filter_map(to_filter).collect(),
            limit: limit.map(|l| l as u64),
            record: Arc::clone(&self.record),
        };
        Ok(Arc::new(StreamingTableExec::try_new(
            schema,
            vec![Arc::new(stream)],
            None,
            [],
            false,
            limit,
        )?))
    }
}

/// One scan of a plugin table, as a DataFusion partition.
#[derive(Clone)]
struct PluginStream {
    plugin: Arc<Plugin>,
    registry: Arc<Registry>,
    source: Arc<Source>,
    table: TableSchema,
    projection: Option<Vec<usize>>,
    schema: SchemaRef,
    filters: Vec<Filter>,
    limit: Option<u64>,
    record: Arc<SourceRecord>,
}

impl std::fmt::Debug for PluginStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginStream")
            .field("plugin", &self.plugin.manifest.name)
            .field("table", &self.table.name)
            .field("projection", &self.projection)
            .field("filters", &self.filters.len())
            .field("limit", &self.limit)
            .finish()
    }
}

impl PluginStream {
    /// Runs the scan on the current (blocking) thread, sending batches to `tx` until the scan
    /// ends or the receiver is gone; then records the counters.
    fn run(&self, tx: &tokio::sync::mpsc::Sender<Result<RecordBatch>>) {
        let (mut rows, mut skipped) = (0u64, 0u64);
        let mut failure = None;
        let scan = Scan::new(
            &self.plugin,
            &self.source,
            &self.table,
            self.projection.as_deref(),
        )
        .map(|scan| {
            scan.with_filters(self.filters.clone())
                .with_limit(self.limit)
        });
        match scan {
            Err(e) => failure = Some(e),
            Ok(scan) => {
                'pages: for page in scan {
                    match page {
                        Ok(page) => {
                            skipped += page.skipped_rows;
                            for batch in page.batches {
                                rows += batch.num_rows() as u64;
                                if tx.blocking_send(Ok(batch)).is_err() {
                                    break 'pages;
                                }
                            }
                        }
                        Err(e) => {
                            failure = Some(e);
                            break;
                        }
                    }
                }
            }
        }
        self.record.record_scan(rows, skipped, failure.as_ref());
        if self.plugin.logged_new_error() {
            self.registry.write_status();
        }
        if let Some(e) = failure {
            let _ = tx.blocking_send(Err(external(e)));
        }
    }
}

impl PartitionStream for PluginStream {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, _ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let (tx, rx) = tokio::sync::mpsc::channel(2);
        let scan = self.clone();
        tokio::task::spawn_blocking(move || scan.run(&tx));
        let batches = futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        });
        Box::pin(RecordBatchStreamAdapter::new(
            Arc::clone(&self.schema),
            batches,
        ))
    }
}

/// `column op literal` (either way round) as a filter a plugin can use.
fn to_filter(expr: &Expr) -> Option<Filter> {
    let Expr::BinaryExpr(binary) = expr else {
        return None;
    };
    let op = match binary.op {
        Operator::Eq => FilterOp::Eq,
        Operator::NotEq => FilterOp::NotEq,
        Operator::Lt => FilterOp::Lt,
        Operator::LtEq => FilterOp::LtEq,
        Operator::Gt => FilterOp::Gt,
        Operator::GtEq => FilterOp::GtEq,
        _ => return None,
    };
    let (column, value, op) = match (binary.left.as_ref(), binary.right.as_ref()) {
        (Expr::Column(c), Expr::Literal(v, _)) => (c, v, op),
        (Expr::Literal(v, _), Expr::Column(c)) => (c, v, flip(op)),
        _ => return None,
    };
    Some(Filter {
        column: column.name.clone(),
        op,
        value: to_literal(value)?,
    })
}

/// The comparison with its operands swapped: `1 < x` is `x > 1`.
fn flip(op: FilterOp) -> FilterOp {
    match op {
        FilterOp::Lt => FilterOp::Gt,
        FilterOp::LtEq => FilterOp::GtEq,
        FilterOp::Gt => FilterOp::Lt,
        FilterOp::GtEq => FilterOp::LtEq,
        other => other,
    }
}

/// A literal the WIT can carry exactly; anything else is not offered.
fn to_literal(value: &ScalarValue) -> Option<Literal> {
    Some(match value {
        ScalarValue::Boolean(Some(b)) => Literal::Boolean(*b),
        ScalarValue::Int8(Some(v)) => Literal::Integer(i64::from(*v)),
        ScalarValue::Int16(Some(v)) => Literal::Integer(i64::from(*v)),
        ScalarValue::Int32(Some(v)) => Literal::Integer(i64::from(*v)),
        ScalarValue::Int64(Some(v)) => Literal::Integer(*v),
        ScalarValue::UInt8(Some(v)) => Literal::Integer(i64::from(*v)),
        ScalarValue::UInt16(Some(v)) => Literal::Integer(i64::from(*v)),
        ScalarValue::UInt32(Some(v)) => Literal::Integer(i64::from(*v)),
        ScalarValue::UInt64(Some(v)) => Literal::Integer(i64::try_from(*v).ok()?),
        ScalarValue::Float32(Some(v)) => Literal::Float(f64::from(*v)),
        ScalarValue::Float64(Some(v)) => Literal::Float(*v),
        ScalarValue::Utf8(Some(s))
        | ScalarValue::LargeUtf8(Some(s))
        | ScalarValue::Utf8View(Some(s)) => Literal::Text(s.clone()),
        ScalarValue::TimestampSecond(Some(v), _) => {
            Literal::TimestampMicros(v.checked_mul(1_000_000)?)
        }
        ScalarValue::TimestampMillisecond(Some(v), _) => {
            Literal::TimestampMicros(v.checked_mul(1000)?)
        }
        ScalarValue::TimestampMicrosecond(Some(v), _) => Literal::TimestampMicros(*v),
        // Only exact conversions: a rounded bound could make a plugin drop rows that match.
        ScalarValue::TimestampNanosecond(Some(v), _) if v % 1000 == 0 => {
            Literal::TimestampMicros(v / 1000)
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::prelude::{col, lit};

    #[test]
    fn simple_comparisons_become_filters() {
        let f = to_filter(&col("amount").gt(lit(10i64))).unwrap();
        assert_eq!(f.column, "amount");
        assert!(matches!(f.op, FilterOp::Gt));
        assert!(matches!(f.value, Literal::Integer(10)));
        let flipped = to_filter(&lit(10i64).lt(col("amount"))).unwrap();
        assert!(matches!(flipped.op, FilterOp::Gt));
        assert!(to_filter(&col("a").eq(col("b"))).is_none());
        assert!(to_filter(&col("a").like(lit("x%"))).is_none());
        let nanos = ScalarValue::TimestampNanosecond(Some(1_500), None);
        assert!(to_filter(&col("t").lt(Expr::Literal(nanos, None))).is_none());
    }
}
