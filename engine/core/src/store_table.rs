//! The DataFusion table for a store table or view: datafusion-table-providers' DuckDB provider,
//! with zero-column scans fixed.
//!
//! `SELECT count(*) FROM t` asks for no columns. The DuckDB provider answers such a scan with a
//! one-column `SELECT 1 FROM t`, which DataFusion's physical planner rejects (the plan's schema
//! must have zero fields). This wrapper keeps the cheap `SELECT 1` and projects its column away.
//!
//! Filters are pushed into DuckDB as SQL text. DataFusion's unparser does not parenthesise a
//! predicate such as `x IS NULL` when it is the operand of a comparison, so
//! `(a = 'x') <> (b IS NULL)` would reach DuckDB as `(a = 'x') <> b IS NULL` and mean something
//! else. Filters with such operands are left to DataFusion instead; `DELETE` and `UPDATE`, whose
//! filters DuckDB must apply itself, refuse them with an error rather than change the wrong rows.

use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::common::{Constraints, Statistics};
use datafusion::datasource::TableType;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::dml::InsertOp;
use datafusion::logical_expr::{Expr, Operator, TableProviderFilterPushDown};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion_federation::FederatedTableSource;

/// A store table (or view) as DataFusion sees it.
#[derive(Debug)]
pub struct StoreTable {
    inner: Arc<dyn TableProvider>,
    table_type: TableType,
    definition: Option<String>,
    /// How whole queries over this relation reach DuckDB (see [`crate::pushdown`]).
    federation: Option<Arc<dyn FederatedTableSource>>,
}

impl StoreTable {
    /// Wraps the DuckDB provider `inner` of a table.
    pub fn new(inner: Arc<dyn TableProvider>) -> Self {
        Self {
            inner,
            table_type: TableType::Base,
            definition: None,
            federation: None,
        }
    }

    /// Wraps the DuckDB provider `inner` of a view defined by `definition`.
    pub fn view(inner: Arc<dyn TableProvider>, definition: String) -> Self {
        Self {
            inner,
            table_type: TableType::View,
            definition: Some(definition),
            federation: None,
        }
    }

    /// Lets queries over this relation be pushed into DuckDB whole through `source`.
    pub fn with_federation(mut self, source: Arc<dyn FederatedTableSource>) -> Self {
        self.federation = Some(source);
        self
    }

    /// The federation source, if queries over this relation may be pushed into DuckDB whole.
    pub fn federation(&self) -> Option<Arc<dyn FederatedTableSource>> {
        self.federation.clone()
    }
}

/// Whether every operand of every comparison or arithmetic in `expr` is something the unparser
/// writes unambiguously (a column, literal, parameter, cast, function call, CASE, subquery or
/// parenthesised binary expression).
pub(crate) fn unparses_safely(expr: &Expr) -> bool {
    let mut safe = true;
    let _ = expr.apply(|e| {
        // AND and OR bind more loosely than anything an operand can be written as.
        if let Expr::BinaryExpr(binary) = e
            && !matches!(binary.op, Operator::And | Operator::Or)
        {
            let operand_ok = |operand: &Expr| {
                matches!(
                    operand,
                    Expr::Column(_)
                        | Expr::Literal(..)
                        | Expr::Placeholder(_)
                        | Expr::Cast(_)
                        | Expr::TryCast(_)
                        | Expr::ScalarFunction(_)
                        | Expr::AggregateFunction(_)
                        | Expr::WindowFunction(_)
                        | Expr::Case(_)
                        | Expr::ScalarSubquery(_)
                        | Expr::BinaryExpr(_)
                )
            };
            if !operand_ok(&binary.left) || !operand_ok(&binary.right) {
                safe = false;
                return Ok(TreeNodeRecursion::Stop);
            }
        }
        Ok(TreeNodeRecursion::Continue)
    });
    safe
}

/// Refuses a `DELETE`/`UPDATE` whose WHERE clause DuckDB could misread.
fn check_dml_filters(filters: &[Expr]) -> Result<()> {
    match filters.iter().find(|f| !unparses_safely(f)) {
        None => Ok(()),
        Some(filter) => Err(DataFusionError::NotImplemented(format!(
            "this WHERE condition cannot be applied to a stored table safely: {filter}; \
             rewrite a comparison with IS [NOT] NULL as CASE WHEN … THEN … END or split it"
        ))),
    }
}

#[async_trait]
impl TableProvider for StoreTable {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }

    fn constraints(&self) -> Option<&Constraints> {
        self.inner.constraints()
    }

    fn table_type(&self) -> TableType {
        self.table_type
    }

    fn get_table_definition(&self) -> Option<&str> {
        self.definition.as_deref()
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let plan = self.inner.scan(state, projection, filters, limit).await?;
        match projection {
            Some(columns) if columns.is_empty() && !plan.schema().fields().is_empty() => {
                let no_columns: Vec<(Arc<dyn PhysicalExpr>, String)> = Vec::new();
                Ok(Arc::new(ProjectionExec::try_new(no_columns, plan)?))
            }
            _ => Ok(plan),
        }
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        let mut support = self.inner.supports_filters_pushdown(filters)?;
        for (filter, support) in filters.iter().zip(support.iter_mut()) {
            if !unparses_safely(filter) {
                *support = TableProviderFilterPushDown::Unsupported;
            }
        }
        Ok(support)
    }

    fn statistics(&self) -> Option<Statistics> {
        self.inner.statistics()
    }

    async fn insert_into(
        &self,
        state: &dyn Session,
        input: Arc<dyn ExecutionPlan>,
        insert_op: InsertOp,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.inner.insert_into(state, input, insert_op).await
    }

    async fn delete_from(
        &self,
        state: &dyn Session,
        filters: Vec<Expr>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        check_dml_filters(&filters)?;
        self.inner.delete_from(state, filters).await
    }

    async fn update(
        &self,
        state: &dyn Session,
        assignments: Vec<(String, Expr)>,
        filters: Vec<Expr>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        check_dml_filters(&filters)?;
        self.inner.update(state, assignments, filters).await
    }

    async fn truncate(&self, state: &dyn Session) -> Result<Arc<dyn ExecutionPlan>> {
        self.inner.truncate(state).await
    }
}

#[cfg(test)]
mod tests {
    use datafusion::prelude::{col, lit};

    use super::*;

    #[test]
    fn postfix_predicates_inside_comparisons_stay_in_datafusion() {
        assert!(unparses_safely(&col("a").eq(lit("x"))));
        assert!(unparses_safely(
            &col("a").eq(lit("x")).and(col("b").gt(lit(1)))
        ));
        assert!(unparses_safely(&col("b").is_null()));
        assert!(unparses_safely(
            &col("b").is_null().and(col("a").eq(lit("x")))
        ));
        assert!(!unparses_safely(
            &col("a").eq(lit("x")).not_eq(col("b").is_null())
        ));
    }
}
