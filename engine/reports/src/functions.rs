//! The report functions, as asynchronous scalar functions (they query, render and deliver
//! while the statement runs, without blocking the engine's threads):
//!
//! - `generate_report(type [, options_json])` → the report's HTML, delivered when the options
//!   name destinations (`{"to": "cfo@example.com"}`);
//! - `schedule_report(type, frequency_or_cron, destination [, options_json])` → schedule id;
//! - `unschedule_report(id)` → true;
//! - `run_report_now(id)` → what was delivered where.
//!
//! They are volatile: each call runs, none is folded into a constant while planning.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BooleanArray, Int64Array, StringArray};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use async_trait::async_trait;
use datafusion::logical_expr::async_udf::{AsyncScalarUDF, AsyncScalarUDFImpl};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::SessionContext;

use crate::options::Options;
use crate::{Reports, Result, check_delivered, invalid};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Generate,
    Schedule,
    Unschedule,
    RunNow,
}

impl Kind {
    const ALL: [Kind; 4] = [
        Kind::Generate,
        Kind::Schedule,
        Kind::Unschedule,
        Kind::RunNow,
    ];

    fn name(self) -> &'static str {
        match self {
            Kind::Generate => "generate_report",
            Kind::Schedule => "schedule_report",
            Kind::Unschedule => "unschedule_report",
            Kind::RunNow => "run_report_now",
        }
    }

    /// The parameters, for error messages.
    fn parameters(self) -> &'static str {
        match self {
            Kind::Generate => "(report_type [, options_json])",
            Kind::Schedule => "(report_type, frequency_or_cron, destination [, options_json])",
            Kind::Unschedule | Kind::RunNow => "(schedule_id)",
        }
    }

    fn arity(self) -> (usize, usize) {
        match self {
            Kind::Generate => (1, 2),
            Kind::Schedule => (3, 4),
            Kind::Unschedule | Kind::RunNow => (1, 1),
        }
    }

    fn returns(self) -> DataType {
        match self {
            Kind::Generate | Kind::RunNow => DataType::Utf8,
            Kind::Schedule => DataType::Int64,
            Kind::Unschedule => DataType::Boolean,
        }
    }
}

/// One report function.
struct ReportFunction {
    kind: Kind,
    signature: Signature,
    reports: Arc<Reports>,
}

impl std::fmt::Debug for ReportFunction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.kind.name())
    }
}

impl PartialEq for ReportFunction {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind
    }
}

impl Eq for ReportFunction {}

impl std::hash::Hash for ReportFunction {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.kind.hash(state);
    }
}

/// Registers the four functions in `ctx`.
pub fn register(reports: &Arc<Reports>, ctx: &SessionContext) {
    for kind in Kind::ALL {
        let function = ReportFunction {
            kind,
            signature: Signature::variadic_any(Volatility::Volatile),
            reports: Arc::clone(reports),
        };
        ctx.register_udf(AsyncScalarUDF::new(Arc::new(function)).into_scalar_udf());
    }
}

impl ScalarUDFImpl for ReportFunction {
    fn name(&self) -> &str {
        self.kind.name()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        let (min, max) = self.kind.arity();
        if arg_types.len() < min || arg_types.len() > max {
            return Err(invalid(format!(
                "{}{} takes {} arguments, not {}",
                self.kind.name(),
                self.kind.parameters(),
                if min == max {
                    min.to_string()
                } else {
                    format!("{min} or {max}")
                },
                arg_types.len()
            )));
        }
        Ok(self.kind.returns())
    }

    fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        Err(invalid(format!(
            "{} runs asynchronously and cannot be evaluated here",
            self.kind.name()
        )))
    }
}

/// The arguments of one row, as text (NULL as `None`).
struct Row<'a> {
    kind: Kind,
    values: Vec<Option<&'a str>>,
}

impl Row<'_> {
    fn text(&self, i: usize, what: &str) -> Result<&str> {
        self.values.get(i).copied().flatten().ok_or_else(|| {
            invalid(format!(
                "{}{}: {what} (argument {}) must not be NULL",
                self.kind.name(),
                self.kind.parameters(),
                i + 1
            ))
        })
    }

    fn optional(&self, i: usize) -> Option<&str> {
        self.values.get(i).copied().flatten()
    }

    fn id(&self) -> Result<i64> {
        let text = self.text(0, "schedule_id")?;
        text.trim().parse().map_err(|_| {
            invalid(format!(
                "{}(schedule_id): \"{text}\" is not a schedule id (an integer from \
                 spirit.report_schedules)",
                self.kind.name()
            ))
        })
    }
}

#[async_trait]
impl AsyncScalarUDFImpl for ReportFunction {
    async fn invoke_async_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let texts: Vec<StringArray> = arrays
            .iter()
            .map(|a| {
                let utf8 = cast(a, &DataType::Utf8)?;
                Ok(utf8
                    .as_any()
                    .downcast_ref::<StringArray>()
                    .expect("cast to Utf8")
                    .clone())
            })
            .collect::<Result<_>>()?;
        let mut strings = Vec::new();
        let mut ints = Vec::new();
        let mut bools = Vec::new();
        for r in 0..rows {
            let row = Row {
                kind: self.kind,
                values: texts
                    .iter()
                    .map(|t| (!t.is_null(r)).then(|| t.value(r)))
                    .collect(),
            };
            match self.kind {
                Kind::Generate => strings.push(Some(self.generate(&row).await?)),
                Kind::Schedule => ints.push(Some(self.reports.schedule(
                    row.text(0, "report_type")?,
                    row.text(1, "frequency_or_cron")?,
                    row.text(2, "destination")?,
                    row.optional(3).unwrap_or_default(),
                )?)),
                Kind::Unschedule => {
                    self.reports.unschedule(row.id()?)?;
                    bools.push(Some(true));
                }
                Kind::RunNow => {
                    let outcomes = self.reports.run_schedule(row.id()?).await?;
                    check_delivered(&outcomes)?;
                    let delivered: Vec<String> = outcomes
                        .iter()
                        .map(|o| {
                            format!(
                                "delivered to {} ({} bytes, run {})",
                                o.destination, o.bytes, o.run_id
                            )
                        })
                        .collect();
                    strings.push(Some(delivered.join("; ")));
                }
            }
        }
        let array: ArrayRef = match self.kind.returns() {
            DataType::Int64 => Arc::new(Int64Array::from(ints)),
            DataType::Boolean => Arc::new(BooleanArray::from(bools)),
            _ => Arc::new(StringArray::from(strings)),
        };
        Ok(ColumnarValue::Array(array))
    }
}

impl ReportFunction {
    /// Renders, delivers to the options' destinations, and returns the HTML; a failed
    /// delivery is an error (58000) once its retries are spent.
    async fn generate(&self, row: &Row<'_>) -> Result<String> {
        let report_type = row.text(0, "report_type")?;
        let options = Options::parse(row.optional(1))?;
        let destinations = options.destinations()?;
        let (rendered, outcomes) = self
            .reports
            .run(report_type, &options, &destinations, None)
            .await?;
        check_delivered(&outcomes)?;
        Ok(rendered.html)
    }
}
