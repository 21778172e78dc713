//! Primary, unique and foreign keys of store tables, as `pg_constraint`, `pg_index` and index
//! rows of `pg_class`, and `pg_get_constraintdef()` / `pg_get_indexdef()` that describe them.
//!
//! BI tools learn a table's entity key and its links to other tables from these catalogs
//! (Metabase's sync, pgjdbc's `getPrimaryKeys`, SQLAlchemy's inspector, psql's `\d`, DBeaver's
//! ER diagrams). datafusion-pg-catalog ships them as PostgreSQL's own static rows; here they
//! become views that add the store's keys, read from DuckDB's `duckdb_constraints()`.
//!
//! A key numbered `n` (DuckDB's `constraint_index`) has constraint OID [`CONSTRAINT_OID_BASE`]
//! `+ n` and, for primary and unique keys, the index OID [`INDEX_OID_BASE`] `+ n`; both are
//! far above the OIDs datafusion-pg-catalog hands out. Key columns are `SMALLINT[]` in
//! `pg_constraint`, as in PostgreSQL, and so are `pg_index`'s `indkey`, `indoption` (`int2vector`
//! in PostgreSQL), `indclass` and `indcollation` (`oidvector`), which tools unnest like arrays;
//! their subscripts start at 1 here, at 0 there.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{Array, AsArray, StringBuilder};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Int64Type};
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::SessionContext;

use crate::store::Store;

/// Constraint OIDs of store keys start here.
pub const CONSTRAINT_OID_BASE: i64 = 1_000_000_000;
/// Index OIDs of store primary and unique keys start here.
pub const INDEX_OID_BASE: i64 = 1_100_000_000;

/// The store's keys in PostgreSQL terms (`main` is shown as `public`): those DuckDB enforces,
/// then the declared (informational) foreign keys of `spirit_internal.declared_foreign_keys`
/// (numbered from 50,000,000), which cost no index. Key columns are 1-based column numbers
/// separated by spaces; a declared key whose table or column is gone drops out.
pub const TABLE_KEYS: &str = "
CREATE OR REPLACE VIEW spirit_internal.table_keys AS
WITH k AS (
    SELECT * FROM duckdb_constraints()
    WHERE database_name = current_database()
      AND constraint_type IN ('PRIMARY KEY', 'UNIQUE', 'FOREIGN KEY')
),
referenced AS (
    SELECT r.constraint_index,
           string_agg(CAST(c.column_index AS VARCHAR), ' ' ORDER BY r.pos) AS confkey,
           min(p.constraint_index) AS referenced_key
    FROM (SELECT constraint_index, schema_name, referenced_table,
                 unnest(referenced_column_names) AS column_name,
                 generate_subscripts(referenced_column_names, 1) AS pos
          FROM k WHERE constraint_type = 'FOREIGN KEY') r
    JOIN duckdb_columns() c
      ON c.database_name = current_database() AND c.schema_name = r.schema_name
     AND c.table_name = r.referenced_table AND c.column_name = r.column_name
    LEFT JOIN k p
      ON p.schema_name = r.schema_name AND p.table_name = r.referenced_table
     AND p.constraint_type = 'PRIMARY KEY'
    GROUP BY r.constraint_index
)
SELECT CASE k.schema_name WHEN 'main' THEN 'public' ELSE k.schema_name END AS nspname,
       k.table_name AS relname,
       CAST(k.constraint_index AS BIGINT) AS keyno,
       coalesce(k.constraint_name, k.table_name || '_' || k.constraint_index) AS conname,
       CASE k.constraint_type WHEN 'PRIMARY KEY' THEN 'p' WHEN 'UNIQUE' THEN 'u' ELSE 'f' END
           AS contype,
       array_to_string(list_transform(k.constraint_column_indexes, lambda i: i + 1), ' ') AS conkey,
       array_to_string(list_transform(k.constraint_column_indexes, lambda i: 0), ' ') AS zeros,
       CAST(len(k.constraint_column_indexes) AS SMALLINT) AS keycount,
       array_to_string(k.constraint_column_names, ', ') AS columns,
       k.referenced_table AS confrelname,
       r.confkey,
       CAST(r.referenced_key AS BIGINT) AS referenced_key,
       array_to_string(k.referenced_column_names, ', ') AS confcolumns
FROM k LEFT JOIN referenced r ON r.constraint_index = k.constraint_index
UNION ALL
SELECT CASE d.schema_name WHEN 'main' THEN 'public' ELSE d.schema_name END,
       d.table_name, CAST(50000000 + d.rowid AS BIGINT),
       d.table_name || '_' || d.column_name || '_fkey', 'f',
       CAST(c.column_index AS VARCHAR), '0', CAST(1 AS SMALLINT), d.column_name,
       d.referenced_table, CAST(rc.column_index AS VARCHAR), CAST(p.constraint_index AS BIGINT),
       d.referenced_column
FROM spirit_internal.declared_foreign_keys d
JOIN duckdb_columns() c
  ON c.database_name = current_database() AND c.schema_name = d.schema_name
 AND c.table_name = d.table_name AND c.column_name = d.column_name
JOIN duckdb_columns() rc
  ON rc.database_name = current_database() AND rc.schema_name = d.schema_name
 AND rc.table_name = d.referenced_table AND rc.column_name = d.referenced_column
LEFT JOIN k p
  ON p.schema_name = d.schema_name AND p.table_name = d.referenced_table
 AND p.constraint_type = 'PRIMARY KEY'";

/// `pg_constraint`: PostgreSQL's own rows (key columns turned from text into arrays), then the
/// store's keys.
const PG_CONSTRAINT_SQL: &str = "
SELECT oid, conname, connamespace, contype, condeferrable, condeferred, convalidated, conrelid,
       contypid, conindid, conparentid, confrelid, confupdtype, confdeltype, confmatchtype,
       conislocal, coninhcount, connoinherit,
       CAST(string_to_array(NULLIF(btrim(conkey, '[]'), ''), ', ') AS SMALLINT[]) AS conkey,
       CAST(string_to_array(NULLIF(btrim(confkey, '[]'), ''), ', ') AS SMALLINT[]) AS confkey,
       conpfeqop, conppeqop, conffeqop, confdelsetcols, conexclop, conbin
FROM base_pg_constraint
UNION ALL
SELECT CAST(1000000000 + k.keyno AS INT) AS oid, k.conname, c.relnamespace AS connamespace,
       k.contype, false AS condeferrable, false AS condeferred, true AS convalidated,
       c.oid AS conrelid, CAST(0 AS INT) AS contypid,
       CAST(CASE WHEN k.contype = 'f' THEN coalesce(1100000000 + k.referenced_key, 0)
                 ELSE 1100000000 + k.keyno END AS INT) AS conindid,
       CAST(0 AS INT) AS conparentid, CAST(coalesce(f.oid, 0) AS INT) AS confrelid,
       CASE WHEN k.contype = 'f' THEN 'a' ELSE ' ' END AS confupdtype,
       CASE WHEN k.contype = 'f' THEN 'a' ELSE ' ' END AS confdeltype,
       CASE WHEN k.contype = 'f' THEN 's' ELSE ' ' END AS confmatchtype,
       true AS conislocal, CAST(0 AS SMALLINT) AS coninhcount, true AS connoinherit,
       CAST(string_to_array(k.conkey, ' ') AS SMALLINT[]) AS conkey,
       CAST(string_to_array(k.confkey, ' ') AS SMALLINT[]) AS confkey,
       CAST(NULL AS VARCHAR) AS conpfeqop, CAST(NULL AS VARCHAR) AS conppeqop,
       CAST(NULL AS VARCHAR) AS conffeqop, CAST(NULL AS VARCHAR) AS confdelsetcols,
       CAST(NULL AS VARCHAR) AS conexclop, CAST(NULL AS VARCHAR) AS conbin
FROM table_keys k
JOIN pg_namespace n ON n.nspname = k.nspname
JOIN base_pg_class c ON c.relnamespace = n.oid AND c.relname = k.relname
LEFT JOIN base_pg_class f ON f.relnamespace = n.oid AND f.relname = k.confrelname";

/// `pg_index`: PostgreSQL's own rows, then one per primary or unique key of the store.
const PG_INDEX_SQL: &str = "
SELECT indexrelid, indrelid, indnatts, indnkeyatts, indisunique, indnullsnotdistinct,
       indisprimary, indisexclusion, indimmediate, indisclustered, indisvalid, indcheckxmin,
       indisready, indislive, indisreplident,
       CAST(string_to_array(NULLIF(indkey, ''), ' ') AS SMALLINT[]) AS indkey,
       CAST(string_to_array(NULLIF(indcollation, ''), ' ') AS INT[]) AS indcollation,
       CAST(string_to_array(NULLIF(indclass, ''), ' ') AS INT[]) AS indclass,
       CAST(string_to_array(NULLIF(indoption, ''), ' ') AS SMALLINT[]) AS indoption,
       indexprs, indpred
FROM base_pg_index
UNION ALL
SELECT CAST(1100000000 + k.keyno AS INT) AS indexrelid, c.oid AS indrelid,
       k.keycount AS indnatts, k.keycount AS indnkeyatts, true AS indisunique,
       false AS indnullsnotdistinct, k.contype = 'p' AS indisprimary, false AS indisexclusion,
       true AS indimmediate, false AS indisclustered, true AS indisvalid, false AS indcheckxmin,
       true AS indisready, true AS indislive, false AS indisreplident,
       CAST(string_to_array(k.conkey, ' ') AS SMALLINT[]) AS indkey,
       CAST(string_to_array(k.zeros, ' ') AS INT[]) AS indcollation,
       CAST(string_to_array(k.zeros, ' ') AS INT[]) AS indclass,
       CAST(string_to_array(k.zeros, ' ') AS SMALLINT[]) AS indoption,
       CAST(NULL AS VARCHAR) AS indexprs, CAST(NULL AS VARCHAR) AS indpred
FROM table_keys k
JOIN pg_namespace n ON n.nspname = k.nspname
JOIN base_pg_class c ON c.relnamespace = n.oid AND c.relname = k.relname
WHERE k.contype IN ('p', 'u')";

/// `pg_class`: the relations datafusion-pg-catalog lists, then a btree index (access method 403)
/// per primary or unique key, named like its constraint as PostgreSQL does. Tables with a key
/// have `relhasindex`, and tables on either side of a foreign key `relhastriggers` (PostgreSQL
/// enforces foreign keys with triggers): psql checks these before listing indexes and foreign
/// keys. `reloptions` and `relacl`, which datafusion-pg-catalog leaves out, are NULL (no storage
/// options; default privileges), as PostgreSQL shows them.
const PG_CLASS_SQL: &str = "
SELECT c.oid, c.relname, c.relnamespace, c.reltype, c.reloftype, c.relowner, c.relam,
       c.relfilenode, c.reltablespace, c.relpages, c.reltuples, c.relallvisible,
       c.reltoastrelid, c.relhasindex OR coalesce(k.indexed, false) AS relhasindex,
       c.relisshared, c.relpersistence, c.relkind, c.relnatts, c.relchecks, c.relhasrules,
       c.relhastriggers OR coalesce(k.linked, false) AS relhastriggers,
       c.relhassubclass, c.relrowsecurity, c.relforcerowsecurity, c.relispopulated,
       c.relreplident, c.relispartition, c.relrewrite, c.relfrozenxid, c.relminmxid,
       c.relpartbound, CAST(NULL AS TEXT[]) AS reloptions, CAST(NULL AS TEXT[]) AS relacl
FROM base_pg_class c
LEFT JOIN (
    SELECT nspoid, relname, bool_or(indexed) AS indexed, bool_or(linked) AS linked
    FROM (
        SELECT n.oid AS nspoid, k.relname, k.contype IN ('p', 'u') AS indexed,
               k.contype = 'f' AS linked
        FROM table_keys k JOIN pg_namespace n ON n.nspname = k.nspname
        UNION ALL
        SELECT n.oid, k.confrelname, false, true
        FROM table_keys k JOIN pg_namespace n ON n.nspname = k.nspname
        WHERE k.contype = 'f'
    ) keyed
    GROUP BY nspoid, relname
) k ON k.nspoid = c.relnamespace AND k.relname = c.relname
UNION ALL
SELECT CAST(1100000000 + k.keyno AS INT) AS oid, k.conname AS relname, c.relnamespace,
       CAST(0 AS INT) AS reltype, CAST(NULL AS INT) AS reloftype, CAST(0 AS INT) AS relowner,
       CAST(403 AS INT) AS relam, CAST(1100000000 + k.keyno AS INT) AS relfilenode,
       CAST(0 AS INT) AS reltablespace, CAST(1 AS INT) AS relpages,
       CAST(0 AS DOUBLE) AS reltuples, CAST(0 AS INT) AS relallvisible,
       CAST(0 AS INT) AS reltoastrelid, false AS relhasindex, false AS relisshared,
       'p' AS relpersistence, 'i' AS relkind, k.keycount AS relnatts,
       CAST(0 AS SMALLINT) AS relchecks, false AS relhasrules, false AS relhastriggers,
       false AS relhassubclass, false AS relrowsecurity, false AS relforcerowsecurity,
       true AS relispopulated, 'n' AS relreplident, false AS relispartition,
       CAST(NULL AS INT) AS relrewrite, CAST(0 AS INT) AS relfrozenxid,
       CAST(0 AS INT) AS relminmxid, '' AS relpartbound, CAST(NULL AS TEXT[]) AS reloptions,
       CAST(NULL AS TEXT[]) AS relacl
FROM table_keys k
JOIN pg_namespace n ON n.nspname = k.nspname
JOIN base_pg_class c ON c.relnamespace = n.oid AND c.relname = k.relname
WHERE k.contype IN ('p', 'u')";

/// `(overlay name, view SQL)`, in the order they must be planned: `pg_constraint` and
/// `pg_index` read the static `pg_class`, and later views read these.
pub const VIEWS: &[(&str, &str)] = &[
    ("pg_constraint", PG_CONSTRAINT_SQL),
    ("pg_index", PG_INDEX_SQL),
    ("pg_class", PG_CLASS_SQL),
];

/// Registers `pg_get_constraintdef()` and `pg_get_indexdef()` over the store's keys (they
/// replace datafusion-pg-catalog's, which answer empty text).
pub fn install(ctx: &SessionContext, store: &Store) {
    for kind in [Definition::Constraint, Definition::Index] {
        ctx.register_udf(ScalarUDF::new_from_impl(KeyDefinition {
            kind,
            store: store.clone(),
            signature: Signature::variadic_any(Volatility::Stable),
        }));
    }
}

/// Which definition function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Definition {
    /// `pg_get_constraintdef(oid [, pretty])`: `PRIMARY KEY (a, b)`,
    /// `FOREIGN KEY (a) REFERENCES t(b)`.
    Constraint,
    /// `pg_get_indexdef(oid [, column, pretty])`: the `CREATE UNIQUE INDEX` statement, or with
    /// a column number above 0 that key column's name.
    Index,
}

/// One store key, as the definition functions need it.
struct Key {
    nspname: String,
    relname: String,
    conname: String,
    contype: String,
    columns: String,
    confrelname: Option<String>,
    confcolumns: String,
}

impl Key {
    fn constraint_definition(&self) -> String {
        match self.contype.as_str() {
            "p" => format!("PRIMARY KEY ({})", self.columns),
            "u" => format!("UNIQUE ({})", self.columns),
            _ => format!(
                "FOREIGN KEY ({}) REFERENCES {}({})",
                self.columns,
                self.confrelname.as_deref().unwrap_or_default(),
                self.confcolumns
            ),
        }
    }

    fn index_definition(&self, column: i64) -> Option<String> {
        if column > 0 {
            let name = self
                .columns
                .split(", ")
                .nth(usize::try_from(column - 1).ok()?)?;
            return Some(name.to_string());
        }
        Some(format!(
            "CREATE UNIQUE INDEX {} ON {}.{} USING btree ({})",
            self.conname, self.nspname, self.relname, self.columns
        ))
    }
}

struct KeyDefinition {
    kind: Definition,
    store: Store,
    signature: Signature,
}

impl std::fmt::Debug for KeyDefinition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyDefinition")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl PartialEq for KeyDefinition {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind
    }
}

impl Eq for KeyDefinition {}

impl std::hash::Hash for KeyDefinition {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.kind.hash(state);
    }
}

impl KeyDefinition {
    /// The store's keys by DuckDB key number.
    fn keys(&self) -> Result<HashMap<i64, Key>> {
        let keys = self.store.with_conn(|conn| {
            let mut statement = conn.prepare(
                "SELECT keyno, nspname, relname, conname, contype, columns, confrelname, \
                 coalesce(confcolumns, '') FROM spirit_internal.table_keys",
            )?;
            let rows = statement.query_map([], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    Key {
                        nspname: row.get(1)?,
                        relname: row.get(2)?,
                        conname: row.get(3)?,
                        contype: row.get(4)?,
                        columns: row.get(5)?,
                        confrelname: row.get(6)?,
                        confcolumns: row.get(7)?,
                    },
                ))
            })?;
            rows.collect::<duckdb::Result<HashMap<_, _>>>()
        });
        keys.map_err(|e| datafusion::common::DataFusionError::External(Box::new(e)))
    }
}

impl ScalarUDFImpl for KeyDefinition {
    fn name(&self) -> &str {
        match self.kind {
            Definition::Constraint => "pg_get_constraintdef",
            Definition::Index => "pg_get_indexdef",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let Some(oids) = arrays.first() else {
            return datafusion::common::plan_err!("{} needs an OID", self.name());
        };
        let oids = cast(oids, &DataType::Int64)?;
        let oids = oids.as_primitive::<Int64Type>();
        let columns = match (self.kind, arrays.get(1)) {
            (Definition::Index, Some(column)) => Some(cast(column, &DataType::Int64)?),
            _ => None,
        };
        let columns = columns.as_ref().map(|c| c.as_primitive::<Int64Type>());
        let base = match self.kind {
            Definition::Constraint => CONSTRAINT_OID_BASE,
            Definition::Index => INDEX_OID_BASE,
        };
        let ours =
            |i: usize| oids.is_valid(i) && (base..base + 100_000_000).contains(&oids.value(i));
        let keys = if (0..rows).any(ours) {
            self.keys()?
        } else {
            HashMap::new()
        };
        let mut out = StringBuilder::new();
        for i in 0..rows {
            let key = ours(i).then(|| keys.get(&(oids.value(i) - base))).flatten();
            let text = match (self.kind, key) {
                (Definition::Constraint, Some(key)) => Some(key.constraint_definition()),
                (Definition::Index, Some(key)) => {
                    let column = columns.map_or(0, |c| if c.is_valid(i) { c.value(i) } else { 0 });
                    key.index_definition(column)
                }
                // PostgreSQL's own catalog constraints: datafusion-pg-catalog has no text.
                (Definition::Constraint, None) if oids.is_valid(i) => Some(String::new()),
                _ => None,
            };
            out.append_option(text);
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(contype: &str, columns: &str) -> Key {
        Key {
            nspname: "public".into(),
            relname: "bookings".into(),
            conname: "bookings_pkey".into(),
            contype: contype.into(),
            columns: columns.into(),
            confrelname: (contype == "f").then(|| "customers".into()),
            confcolumns: if contype == "f" {
                "customer_id".into()
            } else {
                String::new()
            },
        }
    }

    #[test]
    fn definitions_read_like_postgresql() {
        assert_eq!(
            key("p", "day, region").constraint_definition(),
            "PRIMARY KEY (day, region)"
        );
        assert_eq!(
            key("f", "customer_id").constraint_definition(),
            "FOREIGN KEY (customer_id) REFERENCES customers(customer_id)"
        );
        let primary = key("p", "day, region");
        assert_eq!(
            primary.index_definition(0).as_deref(),
            Some("CREATE UNIQUE INDEX bookings_pkey ON public.bookings USING btree (day, region)")
        );
        assert_eq!(primary.index_definition(2).as_deref(), Some("region"));
        assert_eq!(primary.index_definition(3), None);
    }
}
