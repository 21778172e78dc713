//! Table, view and column descriptions for BI tools, from the store's `COMMENT`s.
//!
//! datafusion-pg-catalog ships `pg_description` as a static snapshot and hands out OIDs itself.
//! Here `pg_catalog.pg_description` becomes a view joining its live `pg_class` and `pg_namespace`
//! with the comments DuckDB keeps (`spirit_internal.object_comments`), so the OIDs always agree;
//! and `col_description()`, `obj_description()` and `pg_get_viewdef()`, which psql's `\d+` and
//! BI tools call, read that view. The same overlay gives the live `pg_views` (the store's views
//! with their queries) and `pg_user` (the login roles), which datafusion-pg-catalog leaves
//! empty or out, the [`information_schema`](crate::information_schema) replacements and the
//! live [`keys`](crate::keys) and [`catalog_stats`](crate::catalog_stats) catalogs.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Int32Array, Int64Array, StringArray, StringBuilder};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Int32Type, Int64Type};
use async_trait::async_trait;
use datafusion::catalog::{SchemaProvider, TableProvider};
use datafusion::common::{DataFusionError, Result, plan_err};
use datafusion::datasource::ViewTable;
use datafusion::logical_expr::async_udf::{AsyncScalarUDF, AsyncScalarUDFImpl};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::SessionContext;

use crate::store::{Relation, Store};

/// `pg_class`'s OID in PostgreSQL: the `classoid` of descriptions of relations and columns.
const PG_CLASS_OID: i64 = 1259;

/// PostgreSQL's fixed OIDs of the system catalogs that `pg_description.classoid` and
/// `pg_depend.classid` point at; `'pg_class'::regclass` and `to_regclass('pg_class')` answer
/// these, as in PostgreSQL (datafusion-pg-catalog numbers its own rows differently).
pub const SYSTEM_CATALOG_OIDS: &[(&str, &str)] = &[
    ("pg_class", "1259"),
    ("pg_namespace", "2615"),
    ("pg_proc", "1255"),
    ("pg_type", "1247"),
    ("pg_constraint", "2606"),
    ("pg_attribute", "1249"),
];

/// The store's comments in pg_description terms (`main` is shown as `public`). `objsubid` is 0
/// for the relation itself and the 1-based column number for a column.
const OBJECT_COMMENTS: &str = "
CREATE OR REPLACE VIEW spirit_internal.object_comments AS
SELECT CASE schema_name WHEN 'main' THEN 'public' ELSE schema_name END AS nspname,
       table_name AS relname, 0 AS objsubid, comment AS description
FROM duckdb_tables()
WHERE database_name = current_database() AND coalesce(comment, '') <> ''
UNION ALL
SELECT CASE schema_name WHEN 'main' THEN 'public' ELSE schema_name END,
       view_name, 0, comment
FROM duckdb_views()
WHERE database_name = current_database() AND NOT internal AND coalesce(comment, '') <> ''
UNION ALL
SELECT CASE schema_name WHEN 'main' THEN 'public' ELSE schema_name END,
       table_name, CAST(column_index AS INTEGER), comment
FROM duckdb_columns()
WHERE database_name = current_database() AND coalesce(comment, '') <> '';
CREATE OR REPLACE VIEW spirit_internal.view_definitions AS
SELECT CASE schema_name WHEN 'main' THEN 'public' ELSE schema_name END AS nspname,
       view_name AS relname, trim(substr(sql, strpos(upper(sql), ' AS ') + 4)) AS definition
FROM duckdb_views()
WHERE database_name = current_database() AND NOT internal";

/// `pg_views`: the store's views, in PostgreSQL's columns.
const PG_VIEWS_SQL: &str = "
SELECT n.nspname AS schemaname, c.relname AS viewname, 'spirit' AS viewowner, v.definition
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN view_definitions v ON v.nspname = n.nspname AND v.relname = c.relname
WHERE c.relkind = 'v'";

/// `pg_user`: the login roles, in PostgreSQL's columns (passwords are never shown).
const PG_USER_SQL: &str = "
SELECT rolname AS usename, CAST(oid AS INT) AS usesysid, rolcreatedb AS usecreatedb,
       rolsuper AS usesuper, rolreplication AS userepl, rolbypassrls AS usebypassrls,
       '********' AS passwd, rolvaliduntil AS valuntil, rolconfig AS useconfig
FROM pg_roles";

const DESCRIPTION_SQL: &str = "
SELECT CAST(c.oid AS INT) AS objoid, CAST(1259 AS INT) AS classoid,
       CAST(d.objsubid AS INT) AS objsubid, d.description
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN object_comments d ON d.nspname = n.nspname AND d.relname = c.relname
UNION ALL
SELECT CAST(objoid AS INT), CAST(classoid AS INT), CAST(objsubid AS INT), description
FROM static_description";

/// Installs the live `pg_description` and the description functions into `ctx`.
pub async fn install(ctx: &SessionContext, store: &Store, database: &str) -> crate::Result<()> {
    store.with_conn(|conn| {
        conn.execute_batch(OBJECT_COMMENTS)?;
        conn.execute_batch(crate::keys::TABLE_KEYS)?;
        conn.execute_batch(crate::catalog_stats::TABLE_SIZES)
    })?;
    let internal = async |name: &str| -> crate::Result<Arc<dyn TableProvider>> {
        let provider = store
            .read_provider(
                "spirit_internal",
                &Relation {
                    name: name.to_string(),
                    view_definition: None,
                },
            )
            .await?;
        let provider: Arc<dyn TableProvider> = Arc::new(Unfiltered(provider));
        Ok(provider)
    };
    let comments = internal("object_comments").await?;
    let view_definitions = internal("view_definitions").await?;
    let table_keys = internal("table_keys").await?;
    let table_sizes = internal("table_sizes").await?;
    let catalog = ctx
        .catalog(database)
        .ok_or_else(|| DataFusionError::Plan(format!("catalog {database} missing")))?;
    let pg_catalog = catalog
        .schema("pg_catalog")
        .ok_or_else(|| DataFusionError::Plan("pg_catalog missing".into()))?;
    let table = async |name: &str| -> Result<Arc<dyn TableProvider>> {
        pg_catalog
            .table(name)
            .await?
            .ok_or_else(|| DataFusionError::Plan(format!("pg_catalog.{name} missing")))
    };
    let private = SessionContext::new();
    for name in ["pg_class", "pg_constraint", "pg_index"] {
        private.register_table(format!("base_{name}"), table(name).await?)?;
    }
    private.register_table("pg_namespace", table("pg_namespace").await?)?;
    private.register_table("static_description", table("pg_description").await?)?;
    private.register_table("object_comments", comments)?;
    private.register_table("view_definitions", view_definitions)?;
    private.register_table("table_keys", table_keys)?;
    private.register_table("table_sizes", table_sizes)?;
    private.register_table("pg_roles", table("pg_roles").await?)?;
    for name in ["pg_attribute", "pg_type"] {
        private.register_table(name, table(name).await?)?;
    }
    let view = async |sql: &str| -> Result<Arc<dyn TableProvider>> {
        let plan = private.sql(sql).await?.into_unoptimized_plan();
        let view: Arc<dyn TableProvider> =
            Arc::new(ViewTable::new(plan, Some(sql.trim().to_string())));
        Ok(view)
    };
    let mut overrides = HashMap::new();
    // The live key catalogs first: the views after them read these.
    for (name, sql) in crate::keys::VIEWS {
        let live = view(sql).await?;
        private.register_table(*name, Arc::clone(&live))?;
        overrides.insert(name.to_string(), live);
    }
    let own = [
        ("pg_description", DESCRIPTION_SQL),
        ("pg_views", PG_VIEWS_SQL),
        ("pg_user", PG_USER_SQL),
    ];
    for (name, sql) in own
        .into_iter()
        .chain(crate::information_schema::VIEWS.iter().copied())
    {
        overrides.insert(name.to_string(), view(sql).await?);
    }
    for (name, sql) in crate::catalog_stats::views() {
        overrides.insert(name.to_string(), view(&sql).await?);
    }
    catalog.register_schema(
        "pg_catalog",
        Arc::new(Overlay {
            inner: pg_catalog,
            overrides,
        }),
    )?;
    for kind in [Kind::Column, Kind::Object, Kind::ViewDefinition] {
        ctx.register_udf(
            AsyncScalarUDF::new(Arc::new(DescriptionFunction {
                kind,
                ctx: ctx.clone(),
                signature: Signature::variadic_any(Volatility::Stable),
            }))
            .into_scalar_udf(),
        );
    }
    crate::keys::install(ctx, store);
    ctx.register_udf(ScalarUDF::new_from_impl(RegClassFunction {
        ctx: ctx.clone(),
        signature: Signature::exact(vec![DataType::Utf8], Volatility::Stable),
    }));
    Ok(())
}

/// `to_regclass(name)`: the OID of a relation named at run time (`'metrics.revenue_daily'`,
/// `format('%I.%I', schema, table)`), NULL when there is none. The server's compatibility
/// rewrites send casts of such expressions to `regclass` here. It is synchronous (it waits for
/// the catalog on the runtime) because DataFusion cannot nest an async function in another's
/// arguments, as in `col_description(to_regclass(…), n)`.
struct RegClassFunction {
    ctx: SessionContext,
    signature: Signature,
}

impl std::fmt::Debug for RegClassFunction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RegClassFunction")
    }
}

impl PartialEq for RegClassFunction {
    fn eq(&self, _other: &Self) -> bool {
        true
    }
}

impl Eq for RegClassFunction {}

impl std::hash::Hash for RegClassFunction {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        "to_regclass".hash(state);
    }
}

impl ScalarUDFImpl for RegClassFunction {
    fn name(&self) -> &str {
        "to_regclass"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int32)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let relations = tokio::task::block_in_place(|| {
            tokio::runtime::Handle::current().block_on(relation_oids(&self.ctx))
        })?;
        let names = cast(&arrays[0], &DataType::Utf8)?;
        let names = names.as_string::<i32>();
        let oids: Int32Array = (0..rows)
            .map(|i| {
                names
                    .is_valid(i)
                    .then(|| relation_oid(&relations, names.value(i)))
                    .flatten()
            })
            .collect();
        Ok(ColumnarValue::Array(Arc::new(oids)))
    }
}

/// The OID of every relation, by (schema, name).
async fn relation_oids(ctx: &SessionContext) -> Result<HashMap<(String, String), i32>> {
    let batches = ctx
        .sql(
            "SELECT CAST(c.oid AS INT), n.nspname, c.relname FROM pg_catalog.pg_class c \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace",
        )
        .await?
        .collect()
        .await?;
    let mut oids = HashMap::new();
    for batch in batches {
        let ids = cast(batch.column(0), &DataType::Int32)?;
        let ids = ids.as_primitive::<Int32Type>();
        let schemas = cast(batch.column(1), &DataType::Utf8)?;
        let names = cast(batch.column(2), &DataType::Utf8)?;
        let (schemas, names) = (schemas.as_string::<i32>(), names.as_string::<i32>());
        for i in 0..batch.num_rows() {
            oids.insert(
                (schemas.value(i).to_string(), names.value(i).to_string()),
                ids.value(i),
            );
        }
    }
    Ok(oids)
}

/// A store relation read whole: DataFusion filters it itself. The DuckDB provider would push
/// filters that call DataFusion-only functions (`quote_ident()` in Grafana's column picker)
/// down into DuckDB SQL, where they do not exist. These relations are small catalog lists.
#[derive(Debug)]
struct Unfiltered(Arc<dyn TableProvider>);

#[async_trait]
impl TableProvider for Unfiltered {
    fn schema(&self) -> arrow::datatypes::SchemaRef {
        self.0.schema()
    }

    fn table_type(&self) -> datafusion::datasource::TableType {
        self.0.table_type()
    }

    async fn scan(
        &self,
        state: &dyn datafusion::catalog::Session,
        projection: Option<&Vec<usize>>,
        _filters: &[datafusion::logical_expr::Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn datafusion::physical_plan::ExecutionPlan>> {
        self.0.scan(state, projection, &[], limit).await
    }
}

/// A schema provider that answers some table names itself and delegates the rest.
#[derive(Debug)]
struct Overlay {
    inner: Arc<dyn SchemaProvider>,
    overrides: HashMap<String, Arc<dyn TableProvider>>,
}

#[async_trait]
impl SchemaProvider for Overlay {
    fn table_names(&self) -> Vec<String> {
        let mut names = self.inner.table_names();
        for name in self.overrides.keys() {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
        names
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        match self.overrides.get(name) {
            Some(table) => Ok(Some(Arc::clone(table))),
            None => self.inner.table(name).await,
        }
    }

    fn table_exist(&self, name: &str) -> bool {
        self.overrides.contains_key(name) || self.inner.table_exist(name)
    }
}

/// Which description function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    /// `col_description(table_oid, column_number)`
    Column,
    /// `obj_description(oid [, catalog_name])`
    Object,
    /// `pg_get_viewdef(view_oid [, pretty])`
    ViewDefinition,
}

struct DescriptionFunction {
    kind: Kind,
    ctx: SessionContext,
    signature: Signature,
}

impl std::fmt::Debug for DescriptionFunction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DescriptionFunction")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl PartialEq for DescriptionFunction {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind
    }
}

impl Eq for DescriptionFunction {}

impl std::hash::Hash for DescriptionFunction {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.kind.hash(state);
    }
}

impl ScalarUDFImpl for DescriptionFunction {
    fn name(&self) -> &str {
        match self.kind {
            Kind::Column => "col_description",
            Kind::Object => "obj_description",
            Kind::ViewDefinition => "pg_get_viewdef",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        let (min, max) = match self.kind {
            Kind::Column => (2, 2),
            Kind::Object | Kind::ViewDefinition => (1, 2),
        };
        if arg_types.len() < min || arg_types.len() > max {
            return plan_err!(
                "{} takes {} arguments, got {}",
                self.name(),
                if min == max {
                    min.to_string()
                } else {
                    format!("{min} or {max}")
                },
                arg_types.len()
            );
        }
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        Err(DataFusionError::Internal(format!(
            "{} is evaluated asynchronously",
            self.name()
        )))
    }
}

#[async_trait]
impl AsyncScalarUDFImpl for DescriptionFunction {
    async fn invoke_async_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let oids = int64s(&arrays[0])?;
        let out: ArrayRef = match self.kind {
            Kind::Column => {
                let texts = self.descriptions().await?;
                let columns = int64s(&arrays[1])?;
                Arc::new(
                    (0..rows)
                        .map(|i| {
                            (oids.is_valid(i) && columns.is_valid(i))
                                .then(|| texts.get(&(oids.value(i), columns.value(i))))
                                .flatten()
                                .cloned()
                        })
                        .collect::<StringArray>(),
                )
            }
            Kind::Object => {
                let texts = self.descriptions().await?;
                let catalogs = arrays
                    .get(1)
                    .map(|a| cast(a, &DataType::Utf8))
                    .transpose()?;
                let catalogs = catalogs.as_ref().map(|a| a.as_string::<i32>());
                Arc::new(
                    (0..rows)
                        .map(|i| {
                            let of_relations = catalogs.is_none_or(|c| {
                                c.is_valid(i)
                                    && c.value(i).trim_start_matches("pg_catalog.") == "pg_class"
                            });
                            (oids.is_valid(i) && of_relations)
                                .then(|| texts.get(&(oids.value(i), 0)))
                                .flatten()
                                .cloned()
                        })
                        .collect::<StringArray>(),
                )
            }
            Kind::ViewDefinition => {
                let definitions = self.view_definitions().await?;
                let mut builder = StringBuilder::new();
                for i in 0..rows {
                    builder.append_option(
                        oids.is_valid(i)
                            .then(|| definitions.get(&oids.value(i)))
                            .flatten(),
                    );
                }
                Arc::new(builder.finish())
            }
        };
        Ok(ColumnarValue::Array(out))
    }
}

impl DescriptionFunction {
    /// Descriptions of relations (column 0) and columns, by (relation OID, column number).
    async fn descriptions(&self) -> Result<HashMap<(i64, i64), String>> {
        let batches = self
            .ctx
            .sql(&format!(
                "SELECT objoid, objsubid, description FROM pg_catalog.pg_description \
                 WHERE classoid = {PG_CLASS_OID}"
            ))
            .await?
            .collect()
            .await?;
        let mut texts = HashMap::new();
        for batch in batches {
            let oids = int64s(batch.column(0))?;
            let subids = int64s(batch.column(1))?;
            let descriptions = cast(batch.column(2), &DataType::Utf8)?;
            let descriptions = descriptions.as_string::<i32>();
            for i in 0..batch.num_rows() {
                if oids.is_valid(i) && subids.is_valid(i) && descriptions.is_valid(i) {
                    texts.insert(
                        (oids.value(i), subids.value(i)),
                        descriptions.value(i).to_string(),
                    );
                }
            }
        }
        Ok(texts)
    }

    /// The query of each view, by OID.
    async fn view_definitions(&self) -> Result<HashMap<i64, String>> {
        let batches = self
            .ctx
            .sql(
                "SELECT c.oid, n.nspname, c.relname FROM pg_catalog.pg_class c \
                 JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'v'",
            )
            .await?
            .collect()
            .await?;
        let mut definitions = HashMap::new();
        for batch in batches {
            let oids = int64s(batch.column(0))?;
            let schemas = cast(batch.column(1), &DataType::Utf8)?;
            let names = cast(batch.column(2), &DataType::Utf8)?;
            let (schemas, names) = (schemas.as_string::<i32>(), names.as_string::<i32>());
            for i in 0..batch.num_rows() {
                let reference = format!("{}.{}", schemas.value(i), names.value(i));
                let Ok(provider) = self.ctx.table_provider(reference.as_str()).await else {
                    continue;
                };
                if let Some(definition) = provider.get_table_definition() {
                    definitions.insert(oids.value(i), view_query(definition));
                }
            }
        }
        Ok(definitions)
    }
}

/// The OID of the relation `name` names: `schema.relation` or a bare name looked up in `public`
/// then `pg_catalog`; double-quoted parts keep their case, others are folded to lower case.
fn relation_oid(relations: &HashMap<(String, String), i32>, name: &str) -> Option<i32> {
    let mut parts = Vec::new();
    let mut part = String::new();
    let mut quoted = false;
    let mut chars = name.trim().chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                part.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            '.' if !quoted => parts.push(std::mem::take(&mut part)),
            c if quoted => part.push(c),
            c => part.extend(c.to_lowercase()),
        }
    }
    parts.push(part);
    let find = |schema: &str, relation: &str| {
        relations
            .get(&(schema.to_string(), relation.to_string()))
            .copied()
    };
    let system = |schema: &str, relation: &str| {
        (schema == "pg_catalog")
            .then(|| {
                SYSTEM_CATALOG_OIDS
                    .iter()
                    .find(|(name, _)| *name == relation)
            })
            .flatten()
            .and_then(|(_, oid)| oid.parse().ok())
    };
    match parts.as_slice() {
        [relation] => find("public", relation)
            .or_else(|| system("pg_catalog", relation))
            .or_else(|| find("pg_catalog", relation)),
        [schema, relation] | [_, schema, relation] => {
            system(schema, relation).or_else(|| find(schema, relation))
        }
        _ => None,
    }
}

/// The query of a `CREATE VIEW … AS <query>` statement, as `pg_get_viewdef` shows it.
fn view_query(definition: &str) -> String {
    let upper = definition.to_ascii_uppercase();
    let body = upper
        .find(" AS ")
        .or_else(|| upper.find(" AS\n"))
        .map_or(definition, |at| &definition[at + 4..]);
    let body = body.trim();
    format!("{};", body.trim_end_matches(';').trim_end())
}

fn int64s(array: &ArrayRef) -> Result<Int64Array> {
    Ok(cast(array, &DataType::Int64)?
        .as_primitive::<Int64Type>()
        .clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relation_names_resolve_like_regclass() {
        let relations = HashMap::from([
            (("public".to_string(), "bookings".to_string()), 1),
            (("metrics".to_string(), "revenue_daily".to_string()), 2),
            (("pg_catalog".to_string(), "pg_class".to_string()), 3),
            (("public".to_string(), "Odd.Name".to_string()), 4),
        ]);
        assert_eq!(relation_oid(&relations, "bookings"), Some(1));
        assert_eq!(relation_oid(&relations, "Metrics.Revenue_Daily"), Some(2));
        assert_eq!(relation_oid(&relations, "pg_class"), Some(1259));
        assert_eq!(relation_oid(&relations, "pg_catalog.pg_class"), Some(1259));
        assert_eq!(relation_oid(&relations, "public.\"Odd.Name\""), Some(4));
        assert_eq!(relation_oid(&relations, "spirit.public.bookings"), Some(1));
        assert_eq!(relation_oid(&relations, "nope"), None);
    }

    #[test]
    fn view_query_is_the_select() {
        assert_eq!(
            view_query("CREATE VIEW metrics.v AS SELECT 1 AS one;"),
            "SELECT 1 AS one;"
        );
        assert_eq!(view_query("SELECT 1"), "SELECT 1;");
    }
}
