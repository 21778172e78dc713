//! The `information_schema` relations BI tools read that DataFusion's own information_schema
//! lacks or answers with fewer columns: `columns` with PostgreSQL's `udt_name`, `is_identity`
//! and friends (Metabase's field sync selects them), `table_constraints` and
//! `key_column_usage`.
//!
//! DataFusion serves `information_schema` itself and cannot be extended, so these are views in
//! the pg_catalog overlay (see [`descriptions`](crate::descriptions)) under `information_schema_*`
//! names; the server's compatibility rewrites send `information_schema.columns` and the two
//! constraint relations there. They are built over the live `pg_class`, `pg_attribute`,
//! `pg_type` and `pg_constraint`.

/// `(overlay name, view SQL over pg_class, pg_namespace, pg_attribute, pg_type, pg_constraint)`.
pub const VIEWS: &[(&str, &str)] = &[
    ("information_schema_columns", COLUMNS_SQL),
    (
        "information_schema_table_constraints",
        TABLE_CONSTRAINTS_SQL,
    ),
    ("information_schema_key_column_usage", KEY_COLUMN_USAGE_SQL),
];

/// Relations of these kinds have columns in `information_schema.columns`.
const COLUMNS_SQL: &str = "
SELECT 'spirit' AS table_catalog, n.nspname AS table_schema, c.relname AS table_name,
       a.attname AS column_name, CAST(a.attnum AS INT) AS ordinal_position,
       CAST(NULL AS VARCHAR) AS column_default,
       CASE WHEN a.attnotnull THEN 'NO' ELSE 'YES' END AS is_nullable,
       CASE t.typname
           WHEN 'int2' THEN 'smallint' WHEN 'int4' THEN 'integer' WHEN 'int8' THEN 'bigint'
           WHEN 'float4' THEN 'real' WHEN 'float8' THEN 'double precision'
           WHEN 'bool' THEN 'boolean' WHEN 'varchar' THEN 'character varying'
           WHEN 'bpchar' THEN 'character' WHEN 'timestamp' THEN 'timestamp without time zone'
           WHEN 'timestamptz' THEN 'timestamp with time zone'
           WHEN 'time' THEN 'time without time zone'
           ELSE t.typname END AS data_type,
       CAST(NULL AS INT) AS character_maximum_length,
       CAST(NULL AS INT) AS numeric_precision, CAST(NULL AS INT) AS numeric_scale,
       CAST(NULL AS INT) AS datetime_precision,
       'spirit' AS udt_catalog, tn.nspname AS udt_schema, t.typname AS udt_name,
       'NO' AS is_identity, 'NEVER' AS is_generated,
       CASE WHEN c.relkind = 'r' THEN 'YES' ELSE 'NO' END AS is_updatable
FROM pg_attribute a
JOIN pg_class c ON a.attrelid = c.oid
JOIN pg_namespace n ON c.relnamespace = n.oid
JOIN pg_type t ON a.atttypid = t.oid
JOIN pg_namespace tn ON t.typnamespace = tn.oid
WHERE a.attnum > 0 AND c.relkind IN ('r', 'v', 'm', 'f', 'p')";

const TABLE_CONSTRAINTS_SQL: &str = "
SELECT 'spirit' AS constraint_catalog, n.nspname AS constraint_schema,
       con.conname AS constraint_name, 'spirit' AS table_catalog, n.nspname AS table_schema,
       c.relname AS table_name,
       CASE con.contype WHEN 'p' THEN 'PRIMARY KEY' WHEN 'u' THEN 'UNIQUE'
           WHEN 'f' THEN 'FOREIGN KEY' WHEN 'c' THEN 'CHECK' ELSE 'OTHER' END AS constraint_type,
       'NO' AS is_deferrable, 'NO' AS initially_deferred, 'YES' AS enforced
FROM pg_constraint con
JOIN pg_class c ON con.conrelid = c.oid
JOIN pg_namespace n ON c.relnamespace = n.oid";

/// One row per key column; for a foreign key, `position_in_unique_constraint` is the position
/// of the referenced column in the referenced key.
const KEY_COLUMN_USAGE_SQL: &str = "
SELECT 'spirit' AS constraint_catalog, k.nspname AS constraint_schema,
       k.conname AS constraint_name, 'spirit' AS table_catalog, k.nspname AS table_schema,
       k.relname AS table_name, a.attname AS column_name,
       CAST(k.position AS INT) AS ordinal_position,
       CAST(CASE WHEN k.contype = 'f' THEN k.position END AS INT)
           AS position_in_unique_constraint
FROM (
    SELECT n.nspname, con.conname, con.contype, c.relname, con.conrelid,
           unnest(con.conkey) AS attnum,
           unnest(generate_series(1, CAST(cardinality(con.conkey) AS BIGINT))) AS position
    FROM pg_constraint con
    JOIN pg_class c ON con.conrelid = c.oid
    JOIN pg_namespace n ON c.relnamespace = n.oid
    WHERE con.contype IN ('p', 'u', 'f') AND cardinality(con.conkey) > 0
) k
JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.attnum";
