//! `pg_settings` and `pg_stat_user_tables` with the engine's own values: the settings
//! `current_setting()` knows, and the store tables with DuckDB's row-count estimates (DBeaver
//! and pgAdmin show them as table sizes). datafusion-pg-catalog has one setting and no table
//! statistics. Both are views in the pg_catalog overlay (see
//! [`descriptions`](crate::descriptions)).

use crate::pg_functions::SETTINGS;
use crate::store::quote_literal;

/// The store's tables with DuckDB's estimate of their rows (`main` is shown as `public`).
pub const TABLE_SIZES: &str = "
CREATE OR REPLACE VIEW spirit_internal.table_sizes AS
SELECT CASE schema_name WHEN 'main' THEN 'public' ELSE schema_name END AS nspname,
       table_name AS relname, CAST(estimated_size AS BIGINT) AS n_live_tup
FROM duckdb_tables()
WHERE database_name = current_database() AND NOT internal";

/// `pg_stat_user_tables` over the live `pg_class`: scan counters are 0 (the engine keeps none).
const PG_STAT_USER_TABLES_SQL: &str = "
SELECT c.oid AS relid, n.nspname AS schemaname, c.relname,
       CAST(0 AS BIGINT) AS seq_scan, CAST(NULL AS TIMESTAMP) AS last_seq_scan,
       CAST(0 AS BIGINT) AS seq_tup_read, CAST(0 AS BIGINT) AS idx_scan,
       CAST(NULL AS TIMESTAMP) AS last_idx_scan, CAST(0 AS BIGINT) AS idx_tup_fetch,
       CAST(0 AS BIGINT) AS n_tup_ins, CAST(0 AS BIGINT) AS n_tup_upd,
       CAST(0 AS BIGINT) AS n_tup_del, CAST(0 AS BIGINT) AS n_tup_hot_upd,
       CAST(0 AS BIGINT) AS n_tup_newpage_upd, s.n_live_tup, CAST(0 AS BIGINT) AS n_dead_tup,
       CAST(0 AS BIGINT) AS n_mod_since_analyze, CAST(0 AS BIGINT) AS n_ins_since_vacuum,
       CAST(NULL AS TIMESTAMP) AS last_vacuum, CAST(NULL AS TIMESTAMP) AS last_autovacuum,
       CAST(NULL AS TIMESTAMP) AS last_analyze, CAST(NULL AS TIMESTAMP) AS last_autoanalyze,
       CAST(0 AS BIGINT) AS vacuum_count, CAST(0 AS BIGINT) AS autovacuum_count,
       CAST(0 AS BIGINT) AS analyze_count, CAST(0 AS BIGINT) AS autoanalyze_count,
       CAST(0 AS DOUBLE) AS total_vacuum_time, CAST(0 AS DOUBLE) AS total_autovacuum_time,
       CAST(0 AS DOUBLE) AS total_analyze_time, CAST(0 AS DOUBLE) AS total_autoanalyze_time
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN table_sizes s ON s.nspname = n.nspname AND s.relname = c.relname
WHERE c.relkind = 'r'";

/// `(overlay name, view SQL)` of the two views.
pub fn views() -> Vec<(&'static str, String)> {
    let rows: Vec<String> = SETTINGS
        .iter()
        .map(|(name, value)| format!("({}, {})", quote_literal(name), quote_literal(value)))
        .collect();
    let settings = format!(
        "SELECT s.name, s.setting, CAST(NULL AS VARCHAR) AS unit,
                CAST(NULL AS VARCHAR) AS category, CAST(NULL AS VARCHAR) AS short_desc,
                CAST(NULL AS VARCHAR) AS extra_desc, 'user' AS context, 'string' AS vartype,
                'default' AS source, CAST(NULL AS VARCHAR) AS min_val,
                CAST(NULL AS VARCHAR) AS max_val, CAST(NULL AS VARCHAR) AS enumvals,
                CAST(NULL AS VARCHAR) AS bool_val, s.setting AS reset_val,
                CAST(NULL AS VARCHAR) AS sourcefile, CAST(NULL AS INT) AS sourceline,
                false AS pending_restart
         FROM (VALUES {}) AS s(name, setting)",
        rows.join(", ")
    );
    vec![
        ("pg_settings", settings),
        ("pg_stat_user_tables", PG_STAT_USER_TABLES_SQL.to_string()),
    ]
}
