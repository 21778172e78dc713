//! Whole-query push-down into the store: the parts of a plan that read only store tables and
//! views run inside DuckDB as one SQL statement, instead of DataFusion scanning each table and
//! joining, aggregating and sorting the rows itself.
//!
//! The mechanism is `datafusion-federation`: its optimizer rule finds the largest sub-plans whose
//! scans all belong to one SQL source, DataFusion's unparser writes them as SQL, and a
//! [`SQLExecutor`] runs that SQL. What is ours:
//!
//! - [`StoreExecutor`] runs the SQL on a pooled store connection and streams DuckDB's Arrow
//!   batches as they come (no new connection, no schema probe). Each pooled connection keeps
//!   the DuckDB statements it prepared, so SQL it ran before skips DuckDB's parser and planner.
//! - [`StoreDialect`] is DataFusion's DuckDB dialect with `/` kept as `/` (the DuckDB dialect
//!   writes `//`, integer division, for every division).
//! - [`StorePushdown`] is the optimizer rule. It offers store scans to federation only when every
//!   expression of the statement means the same in DuckDB as in DataFusion: an allow-list of
//!   functions, operators and casts (see [`portable`]). Anything else (a PostgreSQL function
//!   only DataFusion has, an integer division, a float-to-integer cast, which DuckDB rounds and
//!   DataFusion truncates) keeps today's plan: DataFusion over pushed-down scans. The federated
//!   SQL is unparsed once at planning time too, so a plan the unparser cannot write falls back
//!   the same way instead of failing at execution.
//!
//! Statements that write (INSERT, UPDATE, DELETE, COPY, DDL) are never federated; store tables
//! keep their own providers for those.

use std::any::Any;
use std::cell::RefCell;
use std::ops::ControlFlow;
use std::sync::{Arc, Mutex};

use arrow::datatypes::{DataType, SchemaRef};
use async_trait::async_trait;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{DFSchema, TableReference};
use datafusion::datasource::{DefaultTableSource, source_as_provider};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::SendableRecordBatchStream;
use datafusion::logical_expr::{
    Aggregate, BinaryExpr, Distinct, Expr, ExprSchemable, Extension, JoinType, LogicalPlan,
    Operator, TableScan,
};
use datafusion::optimizer::{OptimizerConfig, OptimizerRule};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::coop::CooperativeExec;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::scalar::ScalarValue;
use datafusion::sql::sqlparser::ast::{self, BinaryOperator};
use datafusion::sql::unparser::Unparser;
use datafusion::sql::unparser::dialect::{
    CharacterLengthStyle, Dialect, DistinctFromStyle, DuckDBDialect,
};
use datafusion_federation::schema_cast::SchemaCastScanExec;
use datafusion_federation::sql::{
    AstAnalyzer, RemoteTableRef, SQLExecutor, SQLFederationProvider, SQLTableSource,
    VirtualExecutionPlan,
};
use datafusion_federation::{
    FederatedPlanNode, FederatedTableProviderAdaptor, FederatedTableSource, FederationOptimizerRule,
};
use datafusion_table_providers_common::arrow_bridge;
use datafusion_table_providers_duckdb::DuckDB;
use datafusion_table_providers_duckdb::pool::DuckDbConnectionPool;
use duckdb::InterruptHandle;

use crate::store_table::{StoreTable, unparses_safely};

/// Batches in flight between the DuckDB thread and the consumer of a pushed-down query.
const CHANNEL_BATCHES: usize = 4;

/// DuckDB prepared statements each pooled connection keeps, by SQL text, least recently used
/// first out. A dashboard sends the same few dozen queries again and again; a kept statement
/// runs without DuckDB parsing, binding and optimizing it again (DuckDB re-binds it by itself
/// when the catalog has changed since, and reads the tables' current rows every run).
const PREPARED_STATEMENTS_PER_CONNECTION: usize = 64;

/// Runs federated SQL on the store.
pub struct StoreExecutor {
    pool: Arc<DuckDbConnectionPool>,
    context: String,
    dialect: Arc<StoreDialect>,
}

impl StoreExecutor {
    /// The executor over `pool`; `context` tells this store from any other (its file path).
    pub fn new(pool: Arc<DuckDbConnectionPool>, context: String) -> Self {
        Self {
            pool,
            context,
            dialect: Arc::new(StoreDialect::default()),
        }
    }

    /// Runs DuckDB `sql` with `params` bound to its `$1`, `$2`, …, streaming its batches as
    /// `schema` (DuckDB's Arrow types; federation casts them to the plan's).
    pub fn execute_bound(
        &self,
        sql: &str,
        schema: SchemaRef,
        params: Vec<duckdb::types::Value>,
    ) -> SendableRecordBatchStream {
        let (tx, rx) =
            tokio::sync::mpsc::channel::<Result<arrow::array::RecordBatch>>(CHANNEL_BATCHES);
        let running = Running::default();
        let pool = Arc::clone(&self.pool);
        let sql = sql.to_string();
        let slot = Arc::clone(&running.0);
        tokio::task::spawn_blocking(move || {
            let run = || -> Result<()> {
                let mut pooled = pool.connect_sync().map_err(store_error)?;
                let conn = DuckDB::duckdb_conn(&mut pooled).map_err(store_error)?;
                *slot.lock().expect("interrupt slot") = Some(conn.conn.interrupt_handle());
                let result = (|| {
                    conn.conn
                        .set_prepared_statement_cache_capacity(PREPARED_STATEMENTS_PER_CONNECTION);
                    let mut stmt = conn.conn.prepare_cached(&sql).map_err(store_error)?;
                    let read = stream_batches(&mut stmt, &params, &tx);
                    if !matches!(read, Ok(true)) {
                        // A statement left mid-result would keep its query, and its transaction,
                        // open on the idle connection until that connection's next query.
                        stmt.discard();
                    }
                    read.map(|_| ())
                })();
                // Before the connection goes back to the pool, where an interrupt would reach
                // another query.
                *slot.lock().expect("interrupt slot") = None;
                result
            };
            if let Err(e) = run() {
                let _ = tx.blocking_send(Err(e));
            }
        });
        let batches = futures::stream::unfold((rx, running), |(mut rx, running)| async move {
            rx.recv().await.map(|batch| (batch, (rx, running)))
        });
        Box::pin(RecordBatchStreamAdapter::new(schema, batches))
    }
}

/// The federation provider all of one store's tables share, so that a plan over several of them
/// goes to DuckDB as one statement.
pub fn provider(executor: Arc<StoreExecutor>) -> Arc<SQLFederationProvider> {
    Arc::new(SQLFederationProvider::new(executor))
}

/// The federation source of store relation `table` (schema-qualified unless it is in `main`).
pub fn table_source(
    provider: &Arc<SQLFederationProvider>,
    table: TableReference,
    schema: SchemaRef,
) -> Arc<dyn FederatedTableSource> {
    Arc::new(SQLTableSource::new_with_schema(
        Arc::clone(provider),
        RemoteTableRef::from(table),
        schema,
    ))
}

#[async_trait]
impl SQLExecutor for StoreExecutor {
    fn name(&self) -> &str {
        "spirit_store"
    }

    fn compute_context(&self) -> Option<String> {
        Some(self.context.clone())
    }

    fn dialect(&self) -> Arc<dyn Dialect> {
        Arc::clone(&self.dialect) as Arc<dyn Dialect>
    }

    fn ast_analyzer(&self) -> Option<AstAnalyzer> {
        Some(Box::new(|mut statement: ast::Statement| {
            let _ = ast::visit_expressions_mut(&mut statement, |expr| {
                count_one_as_count_star(expr);
                ControlFlow::<()>::Continue(())
            });
            Ok(statement)
        }))
    }

    fn execute(
        &self,
        query: &str,
        schema: SchemaRef,
        _filters: &[Arc<dyn PhysicalExpr>],
    ) -> Result<SendableRecordBatchStream> {
        let dry = CAPTURED_SQL.with_borrow_mut(|captured| match captured {
            Some(capture) => {
                capture.sql = Some(query.to_string());
                capture.dry
            }
            None => false,
        });
        if dry {
            return Ok(Box::pin(RecordBatchStreamAdapter::new(
                schema,
                futures::stream::empty(),
            )));
        }
        Ok(self.execute_bound(query, schema, Vec::new()))
    }

    async fn table_names(&self) -> Result<Vec<String>> {
        Err(DataFusionError::NotImplemented(
            "the store's tables are listed by its catalog, not by federation".into(),
        ))
    }

    async fn get_table_schema(&self, table_name: &str) -> Result<SchemaRef> {
        Err(DataFusionError::NotImplemented(format!(
            "the schema of {table_name} comes from the store's catalog"
        )))
    }
}

/// Sends the batches of `stmt`'s result, with `params` bound, to `tx` as DuckDB produces them. Whether the result was
/// read to its end: false when the consumer went away first (LIMIT reached, client gone).
fn stream_batches(
    stmt: &mut duckdb::Statement<'_>,
    params: &[duckdb::types::Value],
    tx: &tokio::sync::mpsc::Sender<Result<arrow::array::RecordBatch>>,
) -> Result<bool> {
    let params = duckdb::params_from_iter(params);
    for batch in stmt.stream_arrow(params).map_err(store_error)? {
        let batch = arrow_bridge::record_batch_from_60(&batch.map_err(store_error)?)?;
        if tx.blocking_send(Ok(batch)).is_err() {
            return Ok(false);
        }
    }
    Ok(true)
}

/// What [`capturing_sql`] and [`writing_sql`] arm on their thread.
struct Capture {
    /// The SQL the store executor was handed.
    sql: Option<String>,
    /// Whether the executor only records it, without running it.
    dry: bool,
}

thread_local! {
    static CAPTURED_SQL: RefCell<Option<Capture>> = const { RefCell::new(None) };
}

/// Runs `start` (which starts executing a physical plan) and returns what it returned with the
/// SQL it handed to the store, if it did. Starting a pushed-down query hands its final SQL to
/// [`StoreExecutor::execute`] synchronously, on the calling thread.
pub fn capturing_sql<T>(start: impl FnOnce() -> T) -> (T, Option<String>) {
    capture(start, false)
}

/// As [`capturing_sql`], but the store runs nothing: the stream of the pushed-down query is
/// empty. For plans with parameters, whose SQL is run later with their values bound.
pub fn writing_sql<T>(start: impl FnOnce() -> T) -> (T, Option<String>) {
    capture(start, true)
}

fn capture<T>(start: impl FnOnce() -> T, dry: bool) -> (T, Option<String>) {
    CAPTURED_SQL.with_borrow_mut(|captured| *captured = Some(Capture { sql: None, dry }));
    let started = start();
    let sql = CAPTURED_SQL
        .with_borrow_mut(Option::take)
        .and_then(|capture| capture.sql);
    (started, sql)
}

/// Whether physical plan `plan` is one pushed-down store query and nothing else: federation's
/// schema cast over the query it sends (with DataFusion's cooperative-yield wrapper between).
pub fn is_whole_query(plan: &Arc<dyn ExecutionPlan>) -> bool {
    if !plan.is::<SchemaCastScanExec>() {
        return false;
    }
    let mut node = Arc::clone(plan);
    loop {
        let next = match node.children().as_slice() {
            [child] if child.is::<CooperativeExec>() || child.is::<VirtualExecutionPlan>() => {
                Arc::clone(child)
            }
            _ => return false,
        };
        if next.is::<VirtualExecutionPlan>() {
            return true;
        }
        node = next;
    }
}

/// DataFusion plans `count(*)` as `count(1)`, and the unparser writes it so; DuckDB counts a
/// constant much more slowly than rows (the top-tours dashboard query at scale 100: 149 ms with
/// `count(1)`, 94 ms with `count(*)`, pip duckdb 2.0 on the same file). Both count every row.
fn count_one_as_count_star(expr: &mut ast::Expr) {
    let ast::Expr::Function(function) = expr else {
        return;
    };
    if !function.name.to_string().eq_ignore_ascii_case("count") {
        return;
    }
    let ast::FunctionArguments::List(list) = &mut function.args else {
        return;
    };
    let counts_one = list.duplicate_treatment.is_none()
        && list.clauses.is_empty()
        && matches!(
            list.args.as_slice(),
            [ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(ast::Expr::Value(v)))]
                if matches!(&v.value, ast::Value::Number(n, _) if n == "1")
        );
    if counts_one {
        list.args = vec![ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Wildcard)];
    }
}

/// The DuckDB query of one pushed-down stream while it runs: dropping the stream before the end
/// (a cancelled statement, a client gone) interrupts it instead of letting it finish unread.
#[derive(Default)]
struct Running(Arc<Mutex<Option<Arc<InterruptHandle>>>>);

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(handle) = self.0.lock().expect("interrupt slot").as_ref() {
            handle.interrupt();
        }
    }
}

fn store_error(e: impl std::fmt::Display) -> DataFusionError {
    DataFusionError::Execution(format!("store: {e}"))
}

/// DataFusion's DuckDB dialect, except that `/` stays `/` (see the module doc).
#[derive(Default)]
pub struct StoreDialect {
    duckdb: DuckDBDialect,
}

impl Dialect for StoreDialect {
    fn identifier_quote_style(&self, identifier: &str) -> Option<char> {
        self.duckdb.identifier_quote_style(identifier)
    }

    fn character_length_style(&self) -> CharacterLengthStyle {
        self.duckdb.character_length_style()
    }

    fn division_operator(&self) -> BinaryOperator {
        BinaryOperator::Divide
    }

    fn scalar_function_to_sql_overrides(
        &self,
        unparser: &Unparser,
        func_name: &str,
        args: &[Expr],
    ) -> Result<Option<ast::Expr>> {
        self.duckdb
            .scalar_function_to_sql_overrides(unparser, func_name, args)
    }

    fn distinct_from_style(&self) -> DistinctFromStyle {
        self.duckdb.distinct_from_style()
    }
}

/// The optimizer rule that pushes whole store sub-plans into DuckDB (see the module doc).
#[derive(Debug, Default)]
pub struct StorePushdown {
    federation: FederationOptimizerRule,
}

impl OptimizerRule for StorePushdown {
    fn name(&self) -> &str {
        "spirit_store_pushdown"
    }

    fn rewrite(
        &self,
        plan: LogicalPlan,
        config: &dyn OptimizerConfig,
    ) -> Result<Transformed<LogicalPlan>> {
        if already_federated(&plan) || !portable(&plan) {
            return Ok(Transformed::no(plan));
        }
        let offered = offer_store_scans(plan.clone())?;
        if !offered.transformed {
            return Ok(Transformed::no(plan));
        }
        let federated = match self.federation.rewrite(offered.data, config) {
            Ok(federated) => federated,
            Err(e) => {
                tracing::debug!("store push-down declined: {e}");
                return Ok(Transformed::no(plan));
            }
        };
        if !federated.transformed {
            return Ok(Transformed::no(plan));
        }
        let federated = federated
            .data
            .transform_up_with_subqueries(narrow_federated_averages)?;
        match unparse_federated(&federated.data) {
            Ok(()) => Ok(Transformed::yes(federated.data)),
            Err(e) => {
                tracing::debug!("store push-down declined, the SQL cannot be written: {e}");
                Ok(Transformed::no(plan))
            }
        }
    }
}

/// Whether `plan` already holds a federated sub-plan (the optimizer runs its rules in passes).
fn already_federated(plan: &LogicalPlan) -> bool {
    plan.exists(|node| Ok(is_federated(node))).unwrap_or(true)
}

fn is_federated(node: &LogicalPlan) -> bool {
    matches!(node, LogicalPlan::Extension(ext) if ext.node.as_any().is::<FederatedPlanNode>())
}

/// Replaces the source of every scan of a store relation by its federation adaptor, which is
/// how the federation rule recognises the store.
fn offer_store_scans(plan: LogicalPlan) -> Result<Transformed<LogicalPlan>> {
    plan.transform_up_with_subqueries(|node| {
        let LogicalPlan::TableScan(scan) = node else {
            return Ok(Transformed::no(node));
        };
        let Ok(provider) = source_as_provider(&scan.source) else {
            return Ok(Transformed::no(LogicalPlan::TableScan(scan)));
        };
        let Some(table) = (provider.as_ref() as &dyn Any).downcast_ref::<StoreTable>() else {
            return Ok(Transformed::no(LogicalPlan::TableScan(scan)));
        };
        let Some(federation) = table.federation() else {
            return Ok(Transformed::no(LogicalPlan::TableScan(scan)));
        };
        let adaptor = FederatedTableProviderAdaptor::new_with_provider(federation, provider);
        Ok(Transformed::yes(LogicalPlan::TableScan(TableScan {
            source: Arc::new(DefaultTableSource::new(Arc::new(adaptor))),
            ..scan
        })))
    })
}

/// In a federated sub-plan, sends `avg` of an 8- to 32-bit integer as `avg(x)`, not as the
/// `avg(CAST(x AS DOUBLE))` DataFusion's coercion made of it. DuckDB averages such integers as
/// integers, exactly, into a DOUBLE, and much faster than it averages the cast column (the AI
/// agents dashboard query at scale 10: 16.2 ms against 21.7 ms, pip duckdb 2.0 on the same
/// file). 64-bit integers keep the cast: DuckDB would sum them as 128-bit integers.
fn narrow_federated_averages(node: LogicalPlan) -> Result<Transformed<LogicalPlan>> {
    let LogicalPlan::Extension(ext) = &node else {
        return Ok(Transformed::no(node));
    };
    let Some(federated) = ext.node.as_any().downcast_ref::<FederatedPlanNode>() else {
        return Ok(Transformed::no(node));
    };
    let narrowed = federated
        .plan
        .clone()
        .transform_up_with_subqueries(narrow_averages)?;
    if !narrowed.transformed {
        return Ok(Transformed::no(node));
    }
    Ok(Transformed::yes(LogicalPlan::Extension(Extension {
        node: Arc::new(FederatedPlanNode::new(
            narrowed.data,
            Arc::clone(&federated.planner),
        )),
    })))
}

/// The rewrite of [`narrow_federated_averages`] on one aggregate. The aggregate keeps its output
/// schema, which the plan above refers to by position and name.
fn narrow_averages(node: LogicalPlan) -> Result<Transformed<LogicalPlan>> {
    let LogicalPlan::Aggregate(agg) = node else {
        return Ok(Transformed::no(node));
    };
    let input_schema = Arc::clone(agg.input.schema());
    let mut changed = false;
    let aggr_expr = agg
        .aggr_expr
        .iter()
        .map(|e| {
            e.clone()
                .transform_down(|e| narrow_average(e, &input_schema))
                .map(|t| {
                    changed |= t.transformed;
                    t.data
                })
        })
        .collect::<Result<Vec<_>>>()?;
    if !changed {
        return Ok(Transformed::no(LogicalPlan::Aggregate(agg)));
    }
    Ok(Transformed::yes(LogicalPlan::Aggregate(
        Aggregate::try_new_with_schema(agg.input, agg.group_expr, aggr_expr, agg.schema)?,
    )))
}

fn narrow_average(expr: Expr, input: &DFSchema) -> Result<Transformed<Expr>> {
    let Expr::AggregateFunction(mut f) = expr else {
        return Ok(Transformed::no(expr));
    };
    let narrowable = f.func.name() == "avg"
        && matches!(
            f.params.args.as_slice(),
            [Expr::Cast(cast)] if cast.field.data_type() == &DataType::Float64
                && matches!(
                    cast.expr.get_type(input),
                    Ok(DataType::Int8
                        | DataType::Int16
                        | DataType::Int32
                        | DataType::UInt8
                        | DataType::UInt16
                        | DataType::UInt32)
                )
        );
    if !narrowable {
        return Ok(Transformed::no(Expr::AggregateFunction(f)));
    }
    if let Some(Expr::Cast(cast)) = f.params.args.pop() {
        f.params.args.push(*cast.expr);
    }
    Ok(Transformed::new(
        Expr::AggregateFunction(f),
        true,
        TreeNodeRecursion::Jump,
    ))
}

/// Writes every federated sub-plan of `plan` as SQL, as execution will.
fn unparse_federated(plan: &LogicalPlan) -> Result<()> {
    let dialect = StoreDialect::default();
    plan.apply_with_subqueries(|node| {
        if let LogicalPlan::Extension(ext) = node
            && let Some(federated) = ext.node.as_any().downcast_ref::<FederatedPlanNode>()
        {
            Unparser::new(&dialect).plan_to_sql(federated.plan())?;
        }
        Ok(TreeNodeRecursion::Continue)
    })
    .map(|_| ())
}

/// Whether every node and expression of `plan` means the same in DuckDB as in DataFusion.
pub fn portable(plan: &LogicalPlan) -> bool {
    let mut ok = true;
    let _ = plan.apply_with_subqueries(|node| {
        ok = node_portable(node)
            && node
                .expressions()
                .iter()
                .all(|e| unparses_safely(e) && expr_portable(e, node));
        Ok(if ok {
            TreeNodeRecursion::Continue
        } else {
            TreeNodeRecursion::Stop
        })
    });
    ok
}

fn node_portable(node: &LogicalPlan) -> bool {
    match node {
        LogicalPlan::Projection(_)
        | LogicalPlan::Filter(_)
        | LogicalPlan::Aggregate(_)
        | LogicalPlan::Window(_)
        | LogicalPlan::Sort(_)
        | LogicalPlan::Limit(_)
        | LogicalPlan::SubqueryAlias(_)
        | LogicalPlan::TableScan(_)
        | LogicalPlan::Union(_)
        | LogicalPlan::Subquery(_)
        | LogicalPlan::EmptyRelation(_)
        | LogicalPlan::Values(_)
        | LogicalPlan::Distinct(Distinct::All(_)) => true,
        LogicalPlan::Join(join) => matches!(
            join.join_type,
            JoinType::Inner | JoinType::Left | JoinType::Right | JoinType::Full
        ),
        _ => false,
    }
}

/// Scalar functions DuckDB has under the same name, with the same results.
const SCALAR_FUNCTIONS: &[&str] = &[
    "abs",
    "btrim",
    "ceil",
    "character_length",
    "coalesce",
    "concat",
    "current_date",
    "date_part",
    "date_trunc",
    "exp",
    "floor",
    "greatest",
    "least",
    "left",
    "ln",
    "log10",
    "lower",
    "lpad",
    "ltrim",
    "now",
    "nullif",
    "replace",
    "right",
    "round",
    "rpad",
    "rtrim",
    "split_part",
    "sqrt",
    "starts_with",
    "strpos",
    "substr",
    "upper",
];

/// `date_part` fields that DuckDB answers as DataFusion does (not `second`: DuckDB drops the
/// fraction).
const DATE_PARTS: &[&str] = &[
    "year", "quarter", "month", "week", "day", "dow", "doy", "hour", "minute", "epoch",
];

/// Aggregate functions DuckDB computes alike (not `avg` over decimals, whose rounding differs).
const AGGREGATES: &[&str] = &["count", "sum", "avg", "min", "max", "bool_and", "bool_or"];

/// Window functions DuckDB computes alike, besides the aggregates.
const WINDOW_FUNCTIONS: &[&str] = &[
    "row_number",
    "rank",
    "dense_rank",
    "lag",
    "lead",
    "first_value",
    "last_value",
];

fn expr_portable(expr: &Expr, node: &LogicalPlan) -> bool {
    !expr.exists(|e| Ok(!part_portable(e, node))).unwrap_or(true)
}

/// Whether the top of `e` (not its operands) means the same in DuckDB.
fn part_portable(e: &Expr, node: &LogicalPlan) -> bool {
    match e {
        Expr::Alias(_)
        | Expr::Column(_)
        | Expr::Not(_)
        | Expr::IsNull(_)
        | Expr::IsNotNull(_)
        | Expr::IsTrue(_)
        | Expr::IsFalse(_)
        | Expr::IsNotTrue(_)
        | Expr::IsNotFalse(_)
        | Expr::Negative(_)
        | Expr::Between(_)
        | Expr::Case(_)
        | Expr::InList(_)
        | Expr::ScalarSubquery(_) => true,
        Expr::Like(like) => like.escape_char.is_none(),
        Expr::Literal(value, _) => literal_portable(value),
        // A parameter of a statement shape (see `crate::shapes`), typed by its column; DuckDB
        // binds the same value to it.
        Expr::Placeholder(p) => p.field.is_some(),
        Expr::BinaryExpr(binary) => binary_portable(binary, node),
        Expr::Cast(cast) => cast_portable(&cast.expr, cast.field.data_type(), node),
        Expr::TryCast(cast) => cast_portable(&cast.expr, cast.field.data_type(), node),
        Expr::ScalarFunction(f) => {
            let name = f.name();
            SCALAR_FUNCTIONS.contains(&name) && (name != "date_part" || date_part_portable(&f.args))
        }
        Expr::AggregateFunction(f) => {
            let name = f.func.name();
            AGGREGATES.contains(&name)
                && f.params.filter.is_none()
                && f.params.order_by.is_empty()
                && !(name == "avg" && f.params.args.iter().any(|a| is_decimal(a, node)))
        }
        Expr::WindowFunction(f) => {
            let name = f.fun.name();
            WINDOW_FUNCTIONS.contains(&name) || AGGREGATES.contains(&name)
        }
        _ => false,
    }
}

fn date_part_portable(args: &[Expr]) -> bool {
    match args.first() {
        Some(Expr::Literal(ScalarValue::Utf8(Some(part)), _)) => {
            DATE_PARTS.contains(&part.to_ascii_lowercase().as_str())
        }
        _ => false,
    }
}

fn literal_portable(value: &ScalarValue) -> bool {
    matches!(
        value,
        ScalarValue::Null
            | ScalarValue::Boolean(_)
            | ScalarValue::Int8(_)
            | ScalarValue::Int16(_)
            | ScalarValue::Int32(_)
            | ScalarValue::Int64(_)
            | ScalarValue::Float32(_)
            | ScalarValue::Float64(_)
            | ScalarValue::Decimal128(..)
            | ScalarValue::Utf8(_)
            | ScalarValue::LargeUtf8(_)
            | ScalarValue::Utf8View(_)
            | ScalarValue::Date32(_)
            | ScalarValue::TimestampSecond(..)
            | ScalarValue::TimestampMillisecond(..)
            | ScalarValue::TimestampMicrosecond(..)
            | ScalarValue::TimestampNanosecond(..)
            | ScalarValue::IntervalDayTime(_)
            | ScalarValue::IntervalMonthDayNano(_)
    )
}

fn binary_portable(binary: &BinaryExpr, node: &LogicalPlan) -> bool {
    match binary.op {
        Operator::Eq
        | Operator::NotEq
        | Operator::Lt
        | Operator::LtEq
        | Operator::Gt
        | Operator::GtEq
        | Operator::And
        | Operator::Or
        | Operator::IsDistinctFrom
        | Operator::IsNotDistinctFrom
        | Operator::StringConcat => true,
        // Integer and decimal division differ (DuckDB's `/` gives a double); float division
        // does not.
        Operator::Divide => {
            type_of(&binary.left, node).is_some_and(|t| t.is_floating())
                && type_of(&binary.right, node).is_some_and(|t| t.is_floating())
        }
        Operator::Plus | Operator::Minus | Operator::Multiply | Operator::Modulo => {
            match (type_of(&binary.left, node), type_of(&binary.right, node)) {
                (Some(l), Some(r)) => {
                    (l.is_numeric() && r.is_numeric())
                        || (matches!(binary.op, Operator::Plus | Operator::Minus)
                            && (is_date_or_time(&l) && matches!(r, DataType::Interval(_))))
                }
                _ => false,
            }
        }
        _ => false,
    }
}

fn cast_portable(expr: &Expr, to: &DataType, node: &LogicalPlan) -> bool {
    let Some(from) = type_of(expr, node) else {
        return false;
    };
    let string =
        |t: &DataType| matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View);
    if from == *to || from == DataType::Null {
        return true;
    }
    match to {
        // DuckDB rounds a float or decimal cast to an integer; DataFusion truncates.
        t if t.is_integer() => from.is_integer() || from == DataType::Boolean,
        DataType::Float32 | DataType::Float64 | DataType::Decimal128(..) => {
            from.is_numeric() || string(&from)
        }
        // Text renderings of dates, times and floats differ.
        t if string(t) => from.is_integer() || string(&from),
        DataType::Date32 | DataType::Timestamp(..) => is_date_or_time(&from) || string(&from),
        _ => false,
    }
}

fn is_date_or_time(t: &DataType) -> bool {
    matches!(t, DataType::Date32 | DataType::Timestamp(..))
}

fn is_decimal(expr: &Expr, node: &LogicalPlan) -> bool {
    type_of(expr, node).is_none_or(|t| matches!(t, DataType::Decimal128(..)))
}

/// The type of `expr` as it appears in `node`: over its inputs' columns (or, for a leaf, its own).
fn type_of(expr: &Expr, node: &LogicalPlan) -> Option<DataType> {
    let inputs = node.inputs();
    let mut schemas: Vec<&DFSchema> = inputs.iter().map(|i| i.schema().as_ref()).collect();
    schemas.push(node.schema().as_ref());
    schemas.into_iter().find_map(|s| expr.get_type(s).ok())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::datatypes::{Field, Schema};
    use datafusion::datasource::empty::EmptyTable;
    use datafusion::prelude::SessionContext;

    use super::*;

    async fn plan(sql: &str) -> LogicalPlan {
        let ctx = SessionContext::new();
        let schema = Arc::new(Schema::new(vec![
            Field::new("n", DataType::Int64, true),
            Field::new("x", DataType::Float64, true),
            Field::new("d", DataType::Decimal128(12, 2), true),
            Field::new("s", DataType::Utf8, true),
            Field::new(
                "t",
                DataType::Timestamp(arrow::datatypes::TimeUnit::Microsecond, None),
                true,
            ),
        ]));
        ctx.register_table("b", Arc::new(EmptyTable::new(schema)))
            .expect("register");
        ctx.state().create_logical_plan(sql).await.expect("plan")
    }

    #[tokio::test]
    async fn dashboard_sql_is_portable() {
        for sql in [
            "SELECT s, count(*), sum(d), avg(x) FROM b WHERE t >= TIMESTAMP '2026-01-01' GROUP BY s ORDER BY 2 DESC LIMIT 10",
            "SELECT CAST(t AS DATE) AS day, sum(d) FROM b GROUP BY 1",
            "SELECT avg(CASE WHEN x IS NOT NULL AND date_part('epoch', t) <= n * 3600 THEN 1.0 ELSE 0.0 END) FROM b",
            "SELECT sum(x) / count(*)::double FROM b",
            "SELECT date_trunc('month', t), row_number() OVER (ORDER BY n) FROM b",
        ] {
            assert!(portable(&plan(sql).await), "{sql}");
        }
    }

    #[tokio::test]
    async fn small_integer_averages_are_sent_without_their_cast() {
        let ctx = SessionContext::new();
        let schema = Arc::new(Schema::new(vec![
            Field::new("g", DataType::Utf8, true),
            Field::new("i", DataType::Int16, true),
            Field::new("n", DataType::Int64, true),
        ]));
        ctx.register_table("a", Arc::new(EmptyTable::new(schema)))
            .expect("register");
        let sql = "SELECT g, avg(i) AS ai, avg(n) AS an, avg(i + 1) AS aj FROM a GROUP BY g";
        let state = ctx.state();
        let plan = state
            .optimize(&state.create_logical_plan(sql).await.expect("plan"))
            .expect("optimize");
        let narrowed = plan
            .clone()
            .transform_up_with_subqueries(narrow_averages)
            .expect("narrow");
        assert!(narrowed.transformed);
        assert_eq!(narrowed.data.schema(), plan.schema());
        let unparse = |plan: &LogicalPlan| {
            Unparser::new(&StoreDialect::default())
                .plan_to_sql(plan)
                .expect("unparse")
                .to_string()
        };
        let sent = |ai: &str| {
            format!(
                "SELECT \"a\".\"g\", {ai} AS \"ai\", avg(CAST(\"a\".\"n\" AS DOUBLE)) AS \"an\", \
                 avg(CAST((CAST(\"a\".\"i\" AS BIGINT) + 1) AS DOUBLE)) AS \"aj\" FROM \"a\" \
                 GROUP BY \"a\".\"g\""
            )
        };
        assert_eq!(unparse(&plan), sent("avg(CAST(\"a\".\"i\" AS DOUBLE))"));
        assert_eq!(unparse(&narrowed.data), sent("avg(\"a\".\"i\")"));
    }

    #[test]
    fn count_one_is_sent_as_count_star() {
        use datafusion::sql::sqlparser::dialect::DuckDbDialect;
        use datafusion::sql::sqlparser::parser::Parser;
        let analyze = StoreExecutor::new(
            Arc::new(
                datafusion_table_providers_duckdb::pool::DuckDbConnectionPoolBuilder::memory()
                    .build()
                    .expect("pool"),
            ),
            "test".into(),
        )
        .ast_analyzer();
        let mut analyze = analyze.expect("an AST analyzer");
        let sql = "SELECT count(1), count(DISTINCT 1), count(x), sum(1) FROM t";
        let statement = Parser::parse_sql(&DuckDbDialect {}, sql)
            .expect("parse")
            .remove(0);
        assert_eq!(
            analyze(statement).expect("analyze").to_string(),
            "SELECT count(*), count(DISTINCT 1), count(x), sum(1) FROM t"
        );
    }

    #[tokio::test]
    async fn sql_whose_meaning_differs_in_duckdb_stays_in_datafusion() {
        for sql in [
            "SELECT n / 2 FROM b",
            "SELECT sum(d) / count(*) FROM b",
            "SELECT CAST(x AS BIGINT) FROM b",
            "SELECT CAST(t AS VARCHAR) FROM b",
            "SELECT avg(d) FROM b",
            "SELECT date_part('second', t) FROM b",
            "SELECT to_char(t, 'YYYY') FROM b",
            "SELECT string_agg(s, ',' ORDER BY s) FROM b",
        ] {
            assert!(!portable(&plan(sql).await), "{sql}");
        }
    }
}
