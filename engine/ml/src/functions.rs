//! Table-function plumbing: the arguments SQL passes (literals, checked and named in errors)
//! and [`Computed`], a table whose rows are computed when a query scans it, not when it is
//! planned.

use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::ScalarValue;
use datafusion::datasource::TableType;
use datafusion::error::Result as DfResult;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::{PartitionStream, StreamingTableExec};
use datafusion::physical_plan::{ExecutionPlan, SendableRecordBatchStream};
use futures::future::BoxFuture;

use crate::{Result, invalid};

/// The arguments of one call of a table function, with its signature for error messages.
pub struct Args {
    function: &'static str,
    signature: &'static str,
    values: Vec<ScalarValue>,
}

impl Args {
    /// Reads `exprs` (literals, possibly cast) of a call of `function`; `signature` lists its
    /// parameters, e.g. `(horizon_days [, confidence_level])`; between `min` and `max` are
    /// required.
    pub fn new(
        function: &'static str,
        signature: &'static str,
        exprs: &[Expr],
        min: usize,
        max: usize,
    ) -> Result<Self> {
        if exprs.len() < min || exprs.len() > max {
            return Err(invalid(format!(
                "{function}{signature} takes {} arguments, not {}",
                if min == max {
                    min.to_string()
                } else {
                    format!("{min} to {max}")
                },
                exprs.len()
            )));
        }
        let values = exprs
            .iter()
            .enumerate()
            .map(|(i, expr)| {
                literal(expr).ok_or_else(|| {
                    invalid(format!(
                        "{function}{signature}: argument {} must be a constant, not {expr}",
                        i + 1
                    ))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            function,
            signature,
            values,
        })
    }

    fn error(&self, i: usize, what: &str) -> datafusion::error::DataFusionError {
        invalid(format!(
            "{}{}: argument {} {what}",
            self.function,
            self.signature,
            i + 1
        ))
    }

    /// Argument `i` as text.
    pub fn text(&self, i: usize) -> Result<String> {
        match self.values.get(i) {
            Some(
                ScalarValue::Utf8(Some(s))
                | ScalarValue::LargeUtf8(Some(s))
                | ScalarValue::Utf8View(Some(s)),
            ) => Ok(s.clone()),
            _ => Err(self.error(i, "must be a text literal")),
        }
    }

    /// Argument `i` as text, if given.
    pub fn opt_text(&self, i: usize) -> Result<Option<String>> {
        match self.values.get(i) {
            None => Ok(None),
            Some(v) if v.is_null() => Ok(None),
            Some(_) => self.text(i).map(Some),
        }
    }

    /// Argument `i` as an integer.
    pub fn int(&self, i: usize) -> Result<i64> {
        let value = self
            .values
            .get(i)
            .ok_or_else(|| self.error(i, "is missing"))?;
        if value.is_null() {
            return Err(self.error(i, "must not be NULL"));
        }
        match value.cast_to(&arrow::datatypes::DataType::Int64) {
            Ok(ScalarValue::Int64(Some(v))) if value.data_type().is_integer() => Ok(v),
            _ => Err(self.error(i, &format!("must be an integer, not {value}"))),
        }
    }

    /// Argument `i` as an integer, if given.
    pub fn opt_int(&self, i: usize) -> Result<Option<i64>> {
        match self.values.get(i) {
            None => Ok(None),
            Some(v) if v.is_null() => Ok(None),
            Some(_) => self.int(i).map(Some),
        }
    }

    /// Argument `i` as a number, if given.
    pub fn opt_float(&self, i: usize) -> Result<Option<f64>> {
        match self.values.get(i) {
            None => Ok(None),
            Some(v) if v.is_null() => Ok(None),
            Some(value) => match value.cast_to(&arrow::datatypes::DataType::Float64) {
                Ok(ScalarValue::Float64(Some(v))) => Ok(Some(v)),
                _ => Err(self.error(i, &format!("must be a number, not {value}"))),
            },
        }
    }

    /// The confidence level at argument `i`: in (0, 1), 0.95 when not given.
    pub fn level(&self, i: usize) -> Result<f64> {
        let level = self.opt_float(i)?.unwrap_or(0.95);
        if level > 0.0 && level < 1.0 {
            Ok(level)
        } else {
            Err(self.error(
                i,
                &format!("(confidence level) must be between 0 and 1, not {level}"),
            ))
        }
    }
}

/// The literal value of `expr` (a literal, or a cast of one).
fn literal(expr: &Expr) -> Option<ScalarValue> {
    match expr {
        Expr::Literal(value, _) => Some(value.clone()),
        Expr::Cast(cast) => literal(&cast.expr)?.cast_to(cast.field.data_type()).ok(),
        Expr::TryCast(cast) => literal(&cast.expr)?.cast_to(cast.field.data_type()).ok(),
        Expr::Negative(inner) => literal(inner)?.arithmetic_negate().ok(),
        _ => None,
    }
}

/// How a [`Computed`] table makes its rows.
pub type Compute = Arc<dyn Fn() -> BoxFuture<'static, DfResult<RecordBatch>> + Send + Sync>;

/// A table of one batch, computed when scanned: planning a query (or EXPLAIN) costs nothing,
/// and each execution computes afresh (the domain functions cache on their own).
#[derive(Clone)]
pub struct Computed {
    schema: SchemaRef,
    compute: Compute,
}

impl std::fmt::Debug for Computed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Computed")
            .field("schema", &self.schema)
            .finish()
    }
}

impl Computed {
    /// A table of `schema` whose rows `compute` makes.
    pub fn new(schema: SchemaRef, compute: Compute) -> Arc<Self> {
        Arc::new(Self { schema, compute })
    }

    /// A table of `schema` whose rows `f` makes at each scan from a clone of `state` (what
    /// the call's arguments resolved to) and the schema.
    pub fn with<S, F, Fut>(schema: SchemaRef, state: S, f: F) -> Arc<Self>
    where
        S: Clone + Send + Sync + 'static,
        F: Fn(S, SchemaRef) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = DfResult<RecordBatch>> + Send + 'static,
    {
        let out = Arc::clone(&schema);
        Self::new(
            schema,
            Arc::new(move || Box::pin(f(state.clone(), Arc::clone(&out)))),
        )
    }
}

#[async_trait]
impl TableProvider for Computed {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Temporary
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        Ok(Arc::new(StreamingTableExec::try_new(
            Arc::clone(&self.schema),
            vec![Arc::new(self.clone()) as Arc<dyn PartitionStream>],
            projection,
            [],
            false,
            limit,
        )?))
    }
}

impl PartitionStream for Computed {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, _ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let future = (self.compute)();
        Box::pin(RecordBatchStreamAdapter::new(
            Arc::clone(&self.schema),
            futures::stream::once(future),
        ))
    }
}
