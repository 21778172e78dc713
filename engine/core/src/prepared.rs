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

use std::collections::HashMap;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use arrow::datatypes::SchemaRef;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::common::{DFSchemaRef, Result};
use datafusion::execution::SendableRecordBatchStream;
use datafusion::execution::context::SessionState;
use datafusion::logical_expr::{
    Expr, Extension, LogicalPlan, UserDefinedLogicalNodeCore, Volatility,
};
use datafusion::physical_plan::execute_stream;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::sql::sqlparser::ast::Statement;
use datafusion_federation::schema_cast::record_convert::try_cast_to;
use datafusion_federation::sql::SQLExecutor;
use futures::StreamExt;

use crate::observability;
use crate::pushdown;

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
    executor: Arc<dyn SQLExecutor>,
    generation: AtomicU64,
    entries: Mutex<HashMap<String, Arc<PreparedQuery>>>,
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
    pub fn new(executor: Arc<dyn SQLExecutor>) -> Self {
        Self {
            executor,
            generation: AtomicU64::new(0),
            entries: Mutex::default(),
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
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.clear();
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
        observability::prepared_query("reused");
        let schema: SchemaRef = Arc::new(query.schema.as_arrow().clone());
        let batches = match self.executor.execute(&query.sql, Arc::clone(&schema), &[]) {
            Ok(batches) => batches,
            Err(e) => {
                self.forget(text);
                return Box::pin(RecordBatchStreamAdapter::new(
                    schema,
                    futures::stream::once(async { Err(e) }),
                ));
            }
        };
        let this = Arc::clone(self);
        let text = text.to_string();
        let target = Arc::clone(&schema);
        let cast = batches.map(move |batch| {
            let batch = batch.and_then(|b| {
                try_cast_to(b, Arc::clone(&target))
                    .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))
            });
            if batch.is_err() {
                this.forget(&text);
            }
            batch
        });
        Box::pin(RecordBatchStreamAdapter::new(schema, cast))
    }

    fn forget(&self, text: &str) {
        self.entries.lock().expect("prepared lock").remove(text);
    }
}

/// Whether `plan` (before optimisation) may be prepared: every function it calls is immutable
/// and it binds no parameters. (Whether it runs whole in the store is told by its physical plan;
/// statements that write or describe never do.)
fn is_preparable(plan: &LogicalPlan) -> bool {
    let mut fixed = true;
    let _ = plan.apply_with_subqueries(|node| {
        node.apply_expressions(|expr| {
            fixed = !expr.exists(|e| Ok(!immutable(e)))?;
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
        Expr::ScalarVariable(..) | Expr::Placeholder(_) => false,
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

    fn expressions(&self) -> Vec<Expr> {
        vec![]
    }

    fn fmt_for_explain(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "PreparedStoreQuery: {}", self.0.sql)
    }

    fn with_exprs_and_inputs(&self, _exprs: Vec<Expr>, _inputs: Vec<LogicalPlan>) -> Result<Self> {
        Ok(self.clone())
    }
}
