//! Prepared store queries: statements whose whole plan runs in the store as one DuckDB query
//! (see [`crate::pushdown`]) are remembered by their text with that query, so the next time the
//! same text comes it goes to DuckDB at once. DataFusion's planning, its optimizer, physical
//! planning and writing the plan back as SQL are skipped: for a dashboard query over a small
//! window they were most of its time.
//!
//! - **What is prepared:** queries whose plan became a single pushed-down store query and which
//!   call only immutable functions. `now()`, `current_date` and the like are evaluated when the
//!   statement is planned, so statements calling them are planned every time; so are those over
//!   any other source, and those the push-down does not take whole.
//! - **Validity:** every entry belongs to a catalog generation, which DDL, metric reloads and
//!   demo-data generation end (through [`crate::cache::ResultCache::metrics_reloaded`]). Data
//!   changes do not matter: the SQL reads the store when it runs. An entry whose query fails is
//!   dropped, so the statement is planned afresh next time.
//! - **Keys:** the statement's text as DataFusion prints it, after the front end's
//!   session-dependent rewrites; front ends only use texts those rewrites leave unchanged.
//! - **Shapes:** statements that differ only in the literals their filters compare columns with
//!   (see [`crate::shapes`]) share one query with DuckDB parameters, made the second time the
//!   shape is seen by planning the shape itself, and each statement binds its literals to it.
//!   The point query of an id, or a dashboard whose time window moved, skips planning too.
//! - **Parameters:** a statement with `$n` parameters (the extended protocol's: pgjdbc, so
//!   Metabase and DBeaver, node-postgres, asyncpg) is kept the same way under its own text, the
//!   second time it runs, and later executions bind their values to it. Its text is what the
//!   shape of the same statement with literals would be, so the two share one query.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use arrow::datatypes::{DataType, Field, SchemaRef};
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::common::{DFSchemaRef, ParamValues, Result};
use datafusion::execution::SendableRecordBatchStream;
use datafusion::execution::context::SessionState;
use datafusion::logical_expr::{
    Expr, Extension, LogicalPlan, UserDefinedLogicalNodeCore, Volatility, expr::Placeholder,
};
use datafusion::physical_plan::execute_stream;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::Statement;
use datafusion_federation::schema_cast::record_convert::try_cast_to;
use futures::StreamExt;

use crate::observability;
use crate::pushdown::{self, StoreExecutor};
use crate::shapes::{self, Shape};

/// Statement texts remembered at most; the memory starts over when full.
const MAX_PREPARED: usize = 10_000;

/// One statement's store query.
pub struct PreparedQuery {
    /// The statement, as parsed (front ends answer the extended protocol's Parse with it).
    pub statement: Statement,
    /// Its result's columns, as DataFusion planned them.
    pub schema: DFSchemaRef,
    /// The DuckDB SQL that computes it.
    pub sql: String,
    /// The types of its parameters `$1`, `$2`, … (a shape's; none for a statement's own text).
    pub params: Vec<DataType>,
    generation: u64,
}

impl fmt::Debug for PreparedQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PreparedQuery")
            .field("sql", &self.sql)
            .finish_non_exhaustive()
    }
}

/// The prepared queries of one store.
pub struct PreparedQueries {
    executor: Arc<StoreExecutor>,
    generation: AtomicU64,
    entries: Mutex<HashMap<String, Arc<PreparedQuery>>>,
    shapes: Mutex<Shapes>,
}

/// What is known of statement shapes, by shape text.
#[derive(Default)]
struct Shapes {
    queries: HashMap<String, Arc<PreparedQuery>>,
    /// Shapes seen once: the second statement of one makes its query.
    seen: HashSet<String>,
    /// Shapes whose query is being made, or could not be made (not run whole in the store, a
    /// literal that does not bind), until the catalog changes.
    tried: HashSet<String>,
}

impl Shapes {
    fn len(&self) -> usize {
        self.queries.len() + self.seen.len() + self.tried.len()
    }
}

/// What a prepared query is kept under.
enum Key {
    /// A statement's own text.
    Text(String),
    /// A statement shape's text.
    Shape(String),
}

impl fmt::Debug for PreparedQueries {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PreparedQueries")
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

impl PreparedQueries {
    /// Prepared queries run by `executor` (the store's push-down executor).
    pub fn new(executor: Arc<StoreExecutor>) -> Self {
        Self {
            executor,
            generation: AtomicU64::new(0),
            entries: Mutex::default(),
            shapes: Mutex::default(),
        }
    }

    /// The prepared query of statement `text`, if there is a current one.
    pub fn get(&self, text: &str) -> Option<Arc<PreparedQuery>> {
        let entry = self
            .entries
            .lock()
            .expect("prepared lock")
            .get(text)
            .cloned()?;
        self.is_current(&entry).then_some(entry)
    }

    /// Whether `query` still belongs to the current catalog.
    pub fn is_current(&self, query: &PreparedQuery) -> bool {
        query.generation == self.generation.load(Ordering::Acquire)
    }

    /// Forgets every prepared query: the catalog changed.
    pub fn invalidate(&self) {
        let mut entries = self.entries.lock().expect("prepared lock");
        let mut shapes = self.shapes.lock().expect("shapes lock");
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.clear();
        *shapes = Shapes::default();
    }

    /// The query of a text with `$n` parameters, if there is a current one: a statement shape's
    /// text, or a statement's own (the extended protocol's parameters). The two share their
    /// queries: a shape's text is the statement with parameters in place of its literals.
    pub fn for_shape(&self, text: &str) -> Option<Arc<PreparedQuery>> {
        let query = self
            .shapes
            .lock()
            .expect("shapes lock")
            .queries
            .get(text)
            .cloned()?;
        self.is_current(&query).then_some(query)
    }

    /// Whether a statement of the shape (or with the parameters) of `text` that the result cache
    /// does not keep should make that text's query ([`Self::prepare_shape`],
    /// [`Self::prepare_parameters`]): the second time the text is seen, unless its query is being
    /// made or was tried before.
    pub fn shape_wanted(&self, text: &str) -> bool {
        let mut shapes = self.shapes.lock().expect("shapes lock");
        if shapes.queries.contains_key(text) || shapes.tried.contains(text) {
            return false;
        }
        if shapes.len() >= MAX_PREPARED {
            *shapes = Shapes::default();
        }
        if shapes.seen.insert(text.to_string()) {
            return false;
        }
        shapes.seen.remove(text);
        shapes.tried.insert(text.to_string());
        true
    }

    /// Makes the query of `shape` with `state`: plans the shape, parameters in place, and keeps
    /// its DuckDB SQL when the whole plan runs in the store and each of the shape's literals binds
    /// to its parameter's type. A shape that cannot be prepared is not tried again until the
    /// catalog changes.
    pub async fn prepare_shape(&self, state: &SessionState, shape: &Shape) {
        let generation = self.generation.load(Ordering::Acquire);
        let made = plan_shape(state, shape).await;
        self.keep_shape(generation, &shape.text, &shape.statement, made);
    }

    /// Makes the query of `statement`, whose text `text` has the parameters `$1` to `$count`,
    /// from `plan`, its plan with them in place: as [`Self::prepare_shape`] does for a shape.
    pub async fn prepare_parameters(
        &self,
        state: &SessionState,
        (text, statement): (&str, &Statement),
        plan: &LogicalPlan,
        count: usize,
    ) {
        let generation = self.generation.load(Ordering::Acquire);
        let made = plan_parameters(state, plan, count).await;
        self.keep_shape(generation, text, statement, made);
    }

    /// Keeps the query `made` for `text` (a shape's or a parameterized statement's), or notes
    /// that it could not be made.
    fn keep_shape(
        &self,
        generation: u64,
        text: &str,
        statement: &Statement,
        made: std::result::Result<(DFSchemaRef, String, Vec<DataType>), String>,
    ) {
        if let Err(why) = &made {
            tracing::debug!(text, "statement with parameters not prepared: {why}");
        }
        let mut shapes = self.shapes.lock().expect("shapes lock");
        if generation != self.generation.load(Ordering::Acquire) {
            return;
        }
        match made {
            Ok((schema, sql, params)) => {
                let query = PreparedQuery {
                    statement: statement.clone(),
                    schema,
                    sql,
                    params,
                    generation,
                };
                shapes.tried.remove(text);
                shapes.queries.insert(text.to_string(), Arc::new(query));
                observability::prepared_query("prepared");
            }
            Err(_) => {
                shapes.tried.insert(text.to_string());
            }
        }
    }

    /// Runs `plan`, made with `state`. With `prepare_as`, the statement's text and parsed form
    /// (for statements without parameters), the statement is prepared when its whole plan went
    /// to the store as one query.
    pub async fn execute(
        &self,
        state: &SessionState,
        plan: LogicalPlan,
        prepare_as: Option<(&str, &Statement)>,
    ) -> Result<SendableRecordBatchStream> {
        let generation = self.generation.load(Ordering::Acquire);
        let prepare_as = prepare_as.filter(|_| is_preparable(&plan));
        let schema = Arc::clone(plan.schema());
        let physical = state.create_physical_plan(&plan).await?;
        let task = state.task_ctx();
        let Some((text, statement)) = prepare_as.filter(|_| pushdown::is_whole_query(&physical))
        else {
            return execute_stream(physical, task);
        };
        let (stream, sql) = pushdown::capturing_sql(|| execute_stream(physical, task));
        if let (Ok(_), Some(sql)) = (&stream, sql) {
            self.remember(
                text,
                PreparedQuery {
                    statement: statement.clone(),
                    schema,
                    sql,
                    params: Vec::new(),
                    generation,
                },
            );
        }
        stream
    }

    fn remember(&self, text: &str, query: PreparedQuery) {
        let mut entries = self.entries.lock().expect("prepared lock");
        // Made over a catalog that has changed since: not kept.
        if query.generation != self.generation.load(Ordering::Acquire) {
            return;
        }
        if entries.len() >= MAX_PREPARED {
            entries.clear();
        }
        entries.insert(text.to_string(), Arc::new(query));
        observability::prepared_query("prepared");
    }

    /// Runs prepared query `query` of statement `text` in the store. A failure forgets the
    /// query, so that the statement is planned again next time.
    pub fn run(self: &Arc<Self>, text: &str, query: &PreparedQuery) -> SendableRecordBatchStream {
        self.start(Key::Text(text.to_string()), query, Vec::new())
    }

    /// Runs the query of `shape` with the shape's literals bound; `None` when a literal does not
    /// bind to its parameter's type (the statement is then planned as written).
    pub fn run_shape(
        self: &Arc<Self>,
        shape: &Shape,
        query: &PreparedQuery,
    ) -> Option<SendableRecordBatchStream> {
        let params = bound(shape, &query.params)?;
        Some(self.start(Key::Shape(shape.text.clone()), query, params))
    }

    /// Runs `query`, kept for statement text `text` with `$n` parameters, with the values
    /// `params` bound; `None` when one is not of its parameter's type or cannot go to DuckDB
    /// (a NULL, a decimal: the statement is then planned).
    pub fn run_parameters(
        self: &Arc<Self>,
        text: &str,
        query: &PreparedQuery,
        params: &ParamValues,
    ) -> Option<SendableRecordBatchStream> {
        let ParamValues::List(values) = params else {
            return None;
        };
        if values.len() != query.params.len() {
            return None;
        }
        let bound = values
            .iter()
            .zip(&query.params)
            .map(|(value, to)| {
                (value.value.data_type() == *to)
                    .then(|| shapes::duckdb_value(&value.value))
                    .flatten()
            })
            .collect::<Option<Vec<_>>>()?;
        Some(self.start(Key::Shape(text.to_string()), query, bound))
    }

    fn start(
        self: &Arc<Self>,
        key: Key,
        query: &PreparedQuery,
        params: Vec<duckdb::types::Value>,
    ) -> SendableRecordBatchStream {
        observability::prepared_query("reused");
        let schema: SchemaRef = Arc::new(query.schema.as_arrow().clone());
        let batches = self
            .executor
            .execute_bound(&query.sql, Arc::clone(&schema), params);
        let this = Arc::clone(self);
        let target = Arc::clone(&schema);
        let cast = batches.map(move |batch| {
            let batch = batch.and_then(|b| {
                try_cast_to(b, Arc::clone(&target))
                    .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))
            });
            if batch.is_err() {
                this.forget(&key);
            }
            batch
        });
        Box::pin(RecordBatchStreamAdapter::new(schema, cast))
    }

    fn forget(&self, key: &Key) {
        match key {
            Key::Text(text) => {
                self.entries.lock().expect("prepared lock").remove(text);
            }
            Key::Shape(text) => {
                let mut shapes = self.shapes.lock().expect("shapes lock");
                shapes.queries.remove(text);
                shapes.tried.insert(text.clone());
            }
        }
    }
}

/// Plans `shape` with its parameters in place (see [`PreparedQueries::prepare_shape`]): its
/// result's columns, its DuckDB SQL and its parameters' types, or why it cannot be prepared.
async fn plan_shape(
    state: &SessionState,
    shape: &Shape,
) -> std::result::Result<(DFSchemaRef, String, Vec<DataType>), String> {
    let statement = DfStatement::Statement(Box::new(shape.statement.clone()));
    let plan = state
        .statement_to_plan(statement)
        .await
        .map_err(|e| e.to_string())?;
    let made = plan_parameters(state, &plan, shape.literals.len()).await?;
    if bound(shape, &made.2).is_none() {
        return Err(format!("its literals do not bind to {:?}", made.2));
    }
    Ok(made)
}

/// Plans `plan`, whose parameters are `$1` to `$count`, for the store: its result's columns, its
/// DuckDB SQL with the parameters in place and their types, or why it cannot be prepared.
async fn plan_parameters(
    state: &SessionState,
    plan: &LogicalPlan,
    count: usize,
) -> std::result::Result<(DFSchemaRef, String, Vec<DataType>), String> {
    if !calls_only_immutable(plan) {
        return Err("it calls a function that is not immutable".into());
    }
    let types = plan.get_parameter_types().map_err(|e| e.to_string())?;
    let params = (1..=count)
        .map(|n| types.get(&format!("${n}")).cloned().flatten())
        .collect::<Option<Vec<DataType>>>()
        .ok_or_else(|| format!("a parameter's type is not known: {types:?}"))?;
    if types.len() != params.len() {
        return Err(format!("its parameters are not $1 to ${count}: {types:?}"));
    }
    let schema = Arc::clone(plan.schema());
    let physical = state
        .create_physical_plan(plan)
        .await
        .map_err(|e| e.to_string())?;
    if !pushdown::is_whole_query(&physical) {
        return Err("the store does not run it whole".into());
    }
    let (started, sql) = pushdown::writing_sql(|| execute_stream(physical, state.task_ctx()));
    started.map_err(|e| e.to_string())?;
    Ok((schema, sql.ok_or("no store query")?, params))
}

/// The literals of `shape` bound to parameter types `params`, as DuckDB takes them; `None`
/// when one does not bind.
fn bound(shape: &Shape, params: &[DataType]) -> Option<Vec<duckdb::types::Value>> {
    if shape.literals.len() != params.len() {
        return None;
    }
    shape
        .literals
        .iter()
        .zip(params)
        .map(|(literal, to)| shapes::duckdb_value(&shapes::bind(literal, to)?))
        .collect()
}

/// Whether `plan` (before optimisation) may be prepared: every function it calls is immutable
/// and it binds no parameters. (Whether it runs whole in the store is told by its physical plan;
/// statements that write or describe never do.)
fn is_preparable(plan: &LogicalPlan) -> bool {
    fixed(plan, |e| immutable(e) && !matches!(e, Expr::Placeholder(_)))
}

/// Whether every function `plan` calls is immutable (its parameters may be any).
fn calls_only_immutable(plan: &LogicalPlan) -> bool {
    fixed(plan, immutable)
}

/// Whether every expression of `plan` (subqueries included) passes `ok`.
fn fixed(plan: &LogicalPlan, ok: impl Fn(&Expr) -> bool) -> bool {
    let mut fixed = true;
    let _ = plan.apply_with_subqueries(|node| {
        node.apply_expressions(|expr| {
            fixed = !expr.exists(|e| Ok(!ok(e)))?;
            Ok(if fixed {
                TreeNodeRecursion::Continue
            } else {
                TreeNodeRecursion::Stop
            })
        })
    });
    fixed
}

/// Whether `expr` itself (not its children) gives the same value whenever it is evaluated.
fn immutable(expr: &Expr) -> bool {
    match expr {
        Expr::ScalarFunction(f) => f.func.signature().volatility == Volatility::Immutable,
        Expr::ScalarVariable(..) => false,
        _ => true,
    }
}

/// The plan standing for a prepared query between the extended protocol's Parse and Execute:
/// it carries the query and its schema, and only the front end that made it runs it.
#[derive(Clone)]
pub struct PreparedPlan(pub Arc<PreparedQuery>);

impl PreparedPlan {
    /// The logical plan of `query`.
    pub fn plan(query: Arc<PreparedQuery>) -> LogicalPlan {
        LogicalPlan::Extension(Extension {
            node: Arc::new(Self(query)),
        })
    }

    /// The prepared query `plan` stands for, if it is one.
    pub fn of(plan: &LogicalPlan) -> Option<Arc<PreparedQuery>> {
        let LogicalPlan::Extension(extension) = plan else {
            return None;
        };
        extension
            .node
            .as_any()
            .downcast_ref::<Self>()
            .map(|prepared| Arc::clone(&prepared.0))
    }
}

impl fmt::Debug for PreparedPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        UserDefinedLogicalNodeCore::fmt_for_explain(self, f)
    }
}

impl PartialEq for PreparedPlan {
    fn eq(&self, other: &Self) -> bool {
        self.0.sql == other.0.sql
    }
}

impl Eq for PreparedPlan {}

impl PartialOrd for PreparedPlan {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        self.0.sql.partial_cmp(&other.0.sql)
    }
}

impl Hash for PreparedPlan {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.sql.hash(state);
    }
}

impl UserDefinedLogicalNodeCore for PreparedPlan {
    fn name(&self) -> &str {
        "PreparedStoreQuery"
    }

    fn inputs(&self) -> Vec<&LogicalPlan> {
        vec![]
    }

    fn schema(&self) -> &DFSchemaRef {
        &self.0.schema
    }

    /// Its parameters, typed: what Describe reports and Bind decodes values as.
    fn expressions(&self) -> Vec<Expr> {
        self.0
            .params
            .iter()
            .enumerate()
            .map(|(i, to)| {
                let field = Arc::new(Field::new("", to.clone(), true));
                Expr::Placeholder(Placeholder::new_with_field(
                    format!("${}", i + 1),
                    Some(field),
                ))
            })
            .collect()
    }

    fn fmt_for_explain(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "PreparedStoreQuery: {}", self.0.sql)
    }

    fn with_exprs_and_inputs(&self, _exprs: Vec<Expr>, _inputs: Vec<LogicalPlan>) -> Result<Self> {
        Ok(self.clone())
    }
}
