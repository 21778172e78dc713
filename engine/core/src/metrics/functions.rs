//! SQL functions of the metric layer.
//!
//! - Each table macro of the `metrics` schema is a table function of the same name:
//!   `SELECT * FROM revenue_summary('2026-06-01', '2026-07-01', 'week')` runs
//!   `metrics.revenue_summary(…)` inside the store, with filters and projections pushed down.
//! - `reload_metrics()` reloads the metric files now and returns what it loaded.

use std::hash::{Hash, Hasher};
use std::sync::{Arc, Weak};

use arrow::datatypes::{DataType, TimeUnit};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{DataFusionError, Result, ScalarValue, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use super::{Metrics, SCHEMA};
use crate::store::{Store, quote_literal};

/// A table macro of the `metrics` schema, callable as a table function.
#[derive(Debug)]
pub struct StoreMacroFunction {
    store: Store,
    name: String,
    params: Vec<String>,
}

impl StoreMacroFunction {
    /// The function for macro `metrics.<name>(params…)`.
    pub fn new(store: Store, name: &str, params: Vec<String>) -> Self {
        Self {
            store,
            name: name.to_string(),
            params,
        }
    }

    fn signature(&self) -> String {
        format!("{}({})", self.name, self.params.join(", "))
    }
}

impl TableFunctionImpl for StoreMacroFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let exprs = args.exprs();
        if exprs.len() > self.params.len() {
            return plan_err!(
                "{} takes at most {} arguments, got {}",
                self.signature(),
                self.params.len(),
                exprs.len()
            );
        }
        let literals = exprs
            .iter()
            .zip(&self.params)
            .map(|(expr, param)| match expr {
                Expr::Literal(value, _) => sql_literal(value).ok_or_else(|| {
                    DataFusionError::Plan(format!(
                        "{}: argument {param} has unsupported type {}",
                        self.signature(),
                        value.data_type()
                    ))
                }),
                other => plan_err!(
                    "{}: argument {param} must be a constant, got {other}",
                    self.signature()
                ),
            })
            .collect::<Result<Vec<_>>>()?;
        let call = format!("{SCHEMA}.{}({})", self.name, literals.join(", "));
        let store = self.store.clone();
        let provider = block_on(async move { store.function_provider(&call).await })?;
        Ok(provider)
    }
}

/// Runs `future` to completion from synchronous planning code on the engine's runtime.
fn block_on<T>(future: impl Future<Output = crate::Result<T>>) -> Result<T> {
    let handle = tokio::runtime::Handle::try_current().map_err(|_| {
        DataFusionError::Internal("table functions need the engine's tokio runtime".into())
    })?;
    if handle.runtime_flavor() != tokio::runtime::RuntimeFlavor::MultiThread {
        return Err(DataFusionError::Internal(
            "table functions need a multi-threaded tokio runtime".into(),
        ));
    }
    tokio::task::block_in_place(|| handle.block_on(future)).map_err(DataFusionError::from)
}

/// `value` as a DuckDB SQL literal, if it has a type the store's macros take.
fn sql_literal(value: &ScalarValue) -> Option<String> {
    if value.is_null() {
        return Some("NULL".to_string());
    }
    Some(match value {
        ScalarValue::Utf8(Some(s))
        | ScalarValue::LargeUtf8(Some(s))
        | ScalarValue::Utf8View(Some(s)) => quote_literal(s),
        ScalarValue::Boolean(Some(b)) => b.to_string(),
        ScalarValue::Int8(_)
        | ScalarValue::Int16(_)
        | ScalarValue::Int32(_)
        | ScalarValue::Int64(_)
        | ScalarValue::UInt8(_)
        | ScalarValue::UInt16(_)
        | ScalarValue::UInt32(_)
        | ScalarValue::UInt64(_)
        | ScalarValue::Decimal128(..) => value.to_string(),
        ScalarValue::Float32(_) | ScalarValue::Float64(_) => {
            format!("CAST({} AS DOUBLE)", quote_literal(&value.to_string()))
        }
        ScalarValue::Date32(Some(days)) => {
            let date = chrono::DateTime::from_timestamp(i64::from(*days) * 86_400, 0)?;
            format!("DATE '{}'", date.format("%Y-%m-%d"))
        }
        ScalarValue::TimestampSecond(..)
        | ScalarValue::TimestampMillisecond(..)
        | ScalarValue::TimestampMicrosecond(..)
        | ScalarValue::TimestampNanosecond(..) => {
            // Arrow timestamps count from the epoch in UTC, with or without a zone; store
            // timestamps are UTC without a zone.
            let micros = match value.cast_to(&DataType::Timestamp(TimeUnit::Microsecond, None)) {
                Ok(ScalarValue::TimestampMicrosecond(Some(us), _)) => us,
                _ => return None,
            };
            let naive = chrono::DateTime::from_timestamp_micros(micros)?.naive_utc();
            format!("TIMESTAMP '{}'", naive.format("%Y-%m-%d %H:%M:%S%.f"))
        }
        _ => return None,
    })
}

/// `reload_metrics()`: reloads the metric files now.
pub fn reload_metrics_udf(metrics: Weak<Metrics>) -> ScalarUDF {
    ScalarUDF::new_from_impl(ReloadMetrics {
        metrics,
        signature: Signature::exact(vec![], Volatility::Volatile),
    })
}

#[derive(Debug)]
struct ReloadMetrics {
    metrics: Weak<Metrics>,
    signature: Signature,
}

impl PartialEq for ReloadMetrics {
    fn eq(&self, other: &Self) -> bool {
        Weak::ptr_eq(&self.metrics, &other.metrics)
    }
}

impl Eq for ReloadMetrics {}

impl Hash for ReloadMetrics {
    fn hash<H: Hasher>(&self, state: &mut H) {
        "reload_metrics".hash(state);
    }
}

impl ScalarUDFImpl for ReloadMetrics {
    fn name(&self) -> &str {
        "reload_metrics"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let metrics = self
            .metrics
            .upgrade()
            .ok_or_else(|| DataFusionError::Execution("the engine is shutting down".into()))?;
        let report = match tokio::runtime::Handle::try_current() {
            Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(|| metrics.reload())
            }
            _ => metrics.reload(),
        }?;
        if !report.failed.is_empty() {
            return Err(DataFusionError::Execution(format!(
                "{report} (fix the files in {}; the other metrics are loaded)",
                metrics.loader.dir().display()
            )));
        }
        Ok(ColumnarValue::Scalar(ScalarValue::Utf8(Some(
            report.to_string(),
        ))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_are_written_for_duckdb() {
        assert_eq!(
            sql_literal(&ScalarValue::Utf8(Some("it's".into()))).unwrap(),
            "'it''s'"
        );
        assert_eq!(sql_literal(&ScalarValue::Int64(Some(7))).unwrap(), "7");
        assert_eq!(sql_literal(&ScalarValue::Null).unwrap(), "NULL");
        assert_eq!(
            sql_literal(&ScalarValue::TimestampNanosecond(
                Some(1_782_864_000_000_000_000),
                None
            ))
            .unwrap(),
            "TIMESTAMP '2026-07-01 00:00:00'"
        );
        assert_eq!(
            sql_literal(&ScalarValue::Date32(Some(20_635))).unwrap(),
            "DATE '2026-07-01'"
        );
    }
}
