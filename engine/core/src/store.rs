//! The embedded store: one DuckDB file in the data directory.
//!
//! Store tables are served to DataFusion by `datafusion-table-providers`' DuckDB provider, which
//! pushes projections, filters and limits down into DuckDB and writes `INSERT`s through DuckDB's
//! appender; whole queries over store relations go to DuckDB as one statement instead
//! ([`crate::pushdown`]). This module owns the file, the table DDL, and the engine's own
//! bookkeeping tables in the `spirit_internal` schema (definitions of external tables). The file is `store.duckdb`: its
//! DuckDB catalog is then `store`, which leaves the schema name `spirit` free for system tables.

use std::path::Path;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use datafusion::catalog::TableProvider;
use datafusion::common::TableReference;
use datafusion_federation::sql::SQLFederationProvider;
use datafusion_table_providers_common::arrow_bridge;
use datafusion_table_providers_duckdb::pool::{DuckDbConnectionPool, DuckDbConnectionPoolBuilder};
use datafusion_table_providers_duckdb::{DuckDB, DuckDBTableFactory};
use duckdb::vtab::arrow::ArrowBatchRegistration;
use duckdb::{AccessMode, Connection};

use crate::error::{Result, SpiritError};
use crate::prepared::PreparedQueries;
use crate::pushdown::{self, StoreExecutor};
use crate::store_table::StoreTable;

/// Schema inside the DuckDB file that holds the engine's bookkeeping; never shown to users.
const INTERNAL_SCHEMA: &str = "spirit_internal";

/// Store schema of the accelerated copies of external tables (`refresh_interval`), one table
/// per source, named like it.
pub const ACCELERATION_SCHEMA: &str = "spirit_acceleration";

/// Pooled DuckDB connections beyond one per client, for the engine's own background work.
const POOL_HEADROOM: usize = 16;

/// Pooled DuckDB connections kept open while idle.
const POOL_MIN_IDLE: u32 = 4;

/// Handle to the embedded DuckDB store. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: Arc<DuckDbConnectionPool>,
    factory: Arc<DuckDBTableFactory>,
    /// Runs whole queries over store relations inside DuckDB (see [`crate::pushdown`]).
    pushdown: Arc<SQLFederationProvider>,
    /// Statements already known to run whole in the store, with their SQL.
    prepared: Arc<PreparedQueries>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.pool.db_path())
            .finish()
    }
}

impl Store {
    /// Opens (creating if needed) the store file at `path`, with room for `max_connections`
    /// clients.
    ///
    /// Every running scan holds one pooled DuckDB connection until its stream ends, and a pool
    /// connection is awaited by blocking the calling thread. With r2d2's default of 10
    /// connections, more concurrent clients than that left the runtime's worker threads blocked
    /// on the pool while the streams that would free a connection waited for those threads: the
    /// extra clients got "timed out waiting for connection" after 30 s. The pool therefore
    /// matches the connection limit (DuckDB connections to one instance are cheap and are
    /// opened on demand), plus headroom for the engine's own work (telemetry, metric reloads).
    pub fn open(path: &Path, max_connections: usize) -> Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| {
                SpiritError::io(format!("cannot create data dir {}", dir.display()), e)
            })?;
            rename_legacy_file(dir, path)?;
        }
        let path_str = path.to_str().ok_or_else(|| {
            SpiritError::InvalidInput(format!("data dir path {} is not UTF-8", path.display()))
        })?;
        let pool_size =
            u32::try_from(max_connections.saturating_add(POOL_HEADROOM)).unwrap_or(u32::MAX);
        let pool = DuckDbConnectionPoolBuilder::file(path_str)
            .with_access_mode(AccessMode::ReadWrite)
            .with_max_size(Some(pool_size))
            .with_min_idle(Some(POOL_MIN_IDLE))
            .build()
            .map_err(|e| {
            let msg = e.to_string();
            if msg.contains("lock") {
                SpiritError::StoreAccess(format!(
                    "{} is in use by another process (is a `spirit serve` already running on this \
                     data dir?): {msg}",
                    path.display()
                ))
            } else {
                SpiritError::StoreAccess(format!("cannot open {}: {msg}", path.display()))
            }
        })?;
        let pool = Arc::new(pool);
        let executor = Arc::new(StoreExecutor::new(
            Arc::clone(&pool),
            format!("spirit-store:{path_str}"),
        ));
        let pushdown = pushdown::provider(Arc::clone(&executor));
        let store = Self {
            factory: Arc::new(DuckDBTableFactory::new(Arc::clone(&pool))),
            prepared: Arc::new(PreparedQueries::new(executor)),
            pushdown,
            pool,
        };
        store.with_conn(|conn| {
            conn.execute_batch(&format!(
                "CREATE SCHEMA IF NOT EXISTS {INTERNAL_SCHEMA};
                 CREATE TABLE IF NOT EXISTS {INTERNAL_SCHEMA}.external_tables (
                     name VARCHAR PRIMARY KEY,
                     definition VARCHAR NOT NULL,
                     created_at TIMESTAMP NOT NULL DEFAULT current_timestamp
                 );
                 CREATE TABLE IF NOT EXISTS {INTERNAL_SCHEMA}.declared_foreign_keys (
                     schema_name VARCHAR NOT NULL,
                     table_name VARCHAR NOT NULL,
                     column_name VARCHAR NOT NULL,
                     referenced_table VARCHAR NOT NULL,
                     referenced_column VARCHAR NOT NULL,
                     PRIMARY KEY (schema_name, table_name, column_name)
                 );"
            ))?;
            crate::system::ensure_schema(conn)
        })?;
        Ok(store)
    }

    /// The statements known to run whole in the store (see [`crate::prepared`]).
    pub fn prepared(&self) -> &Arc<PreparedQueries> {
        &self.prepared
    }

    /// Runs `f` on a pooled DuckDB connection.
    pub fn with_conn<T>(&self, f: impl FnOnce(&Connection) -> duckdb::Result<T>) -> Result<T> {
        let mut db_conn = Arc::clone(&self.pool)
            .connect_sync()
            .map_err(|e| SpiritError::StoreAccess(e.to_string()))?;
        let conn = DuckDB::duckdb_conn(&mut db_conn)
            .map_err(|e| SpiritError::StoreAccess(e.to_string()))?;
        Ok(f(&conn.conn)?)
    }

    /// Runs `f` on a pooled connection inside a transaction (see [`in_transaction`]).
    pub fn with_transaction<T>(
        &self,
        f: impl FnOnce(&Connection) -> duckdb::Result<T>,
    ) -> Result<T> {
        self.with_conn(|conn| in_transaction(conn, f))
    }

    /// Names of the user-visible tables, sorted.
    pub fn table_names(&self) -> Result<Vec<String>> {
        self.with_conn(|conn| {
            let mut stmt = conn.prepare(
                "SELECT table_name FROM duckdb_tables() \
                 WHERE database_name = current_database() AND schema_name = 'main' \
                 ORDER BY table_name",
            )?;
            stmt.query_map([], |row| row.get(0))?.collect()
        })
    }

    /// Whether the store has a user table called `name`.
    pub fn has_table(&self, name: &str) -> Result<bool> {
        self.with_conn(|conn| {
            conn.query_row(
                "SELECT count(*) FROM duckdb_tables() \
                 WHERE database_name = current_database() AND schema_name = 'main' AND table_name = ?",
                [name],
                |row| row.get::<_, i64>(0),
            )
        })
        .map(|n| n > 0)
    }

    /// The tables and views of store schema `schema`, sorted by name.
    pub fn relations(&self, schema: &str) -> Result<Vec<Relation>> {
        self.with_conn(|conn| {
            let mut stmt = conn.prepare(
                "SELECT table_name, NULL FROM duckdb_tables() \
                 WHERE database_name = current_database() AND schema_name = ?1 \
                 UNION ALL \
                 SELECT view_name, sql FROM duckdb_views() \
                 WHERE database_name = current_database() AND schema_name = ?1 AND NOT internal \
                 ORDER BY 1",
            )?;
            stmt.query_map([schema], |row| {
                Ok(Relation {
                    name: row.get(0)?,
                    view_definition: row.get(1)?,
                })
            })?
            .collect()
        })
    }

    /// Table or view `name` of store schema `schema`, if it exists.
    pub fn relation(&self, schema: &str, name: &str) -> Result<Option<Relation>> {
        Ok(self
            .relations(schema)?
            .into_iter()
            .find(|relation| relation.name == name))
    }

    /// A read-only DataFusion provider for `relation` of store schema `schema`, reading with
    /// push-down.
    pub async fn read_provider(
        &self,
        schema: &str,
        relation: &Relation,
    ) -> Result<Arc<dyn TableProvider>> {
        let provider = self
            .factory
            .table_provider(TableReference::partial(schema, relation.name.as_str()))
            .await
            .map_err(|e| {
                SpiritError::StoreAccess(format!("cannot open {schema}.{}: {e}", relation.name))
            })?;
        let reference = TableReference::partial(schema, relation.name.as_str());
        Ok(self.pushed_down(
            match &relation.view_definition {
                Some(definition) => StoreTable::view(provider, definition.clone()),
                None => StoreTable::new(provider),
            },
            reference,
        ))
    }

    /// `table` (store relation `reference`), with whole queries over it pushed into DuckDB.
    fn pushed_down(&self, table: StoreTable, reference: TableReference) -> Arc<dyn TableProvider> {
        let source = pushdown::table_source(&self.pushdown, reference, table.schema());
        Arc::new(table.with_federation(source))
    }

    /// A read-only DataFusion provider over the rows of DuckDB table-function call `call`
    /// (for example `metrics.revenue_summary('2026-01-01', '2026-02-01', 'day')`).
    pub async fn function_provider(&self, call: &str) -> Result<Arc<dyn TableProvider>> {
        let provider = self
            .factory
            .table_provider(TableReference::bare(call))
            .await
            .map_err(|e| SpiritError::StoreAccess(format!("{e}")))?;
        Ok(Arc::new(StoreTable::new(provider)))
    }

    /// A DataFusion provider for store table `name` that reads with push-down and accepts
    /// `INSERT`, `UPDATE` and `DELETE`.
    pub async fn table_provider(&self, name: &str) -> Result<Arc<dyn TableProvider>> {
        let provider = self
            .factory
            .read_write_table_provider(TableReference::bare(name))
            .await
            .map_err(|e| SpiritError::StoreAccess(format!("cannot open table {name}: {e}")))?;
        Ok(self.pushed_down(StoreTable::new(provider), TableReference::bare(name)))
    }

    /// Creates table `name` with `schema` and fills it with `batches`, in one transaction.
    pub fn create_table(
        &self,
        name: &str,
        schema: &SchemaRef,
        batches: &[RecordBatch],
    ) -> Result<()> {
        self.write_table("main", name, schema, batches, false)
    }

    /// Replaces table `name` of store schema `db_schema` (creating both if missing) by `schema`
    /// and `batches`, in one transaction: readers see either the old rows or the new ones.
    pub fn replace_table(
        &self,
        db_schema: &str,
        name: &str,
        schema: &SchemaRef,
        batches: &[RecordBatch],
    ) -> Result<()> {
        self.with_conn(|conn| {
            conn.execute_batch(&format!(
                "CREATE SCHEMA IF NOT EXISTS {}",
                quote_ident(db_schema)
            ))
        })?;
        self.write_table(db_schema, name, schema, batches, true)
    }

    fn write_table(
        &self,
        db_schema: &str,
        name: &str,
        schema: &SchemaRef,
        batches: &[RecordBatch],
        replace: bool,
    ) -> Result<()> {
        let empty = to_duckdb_batch(&RecordBatch::new_empty(Arc::clone(schema)))?;
        let mut converted = Vec::with_capacity(batches.len());
        for batch in batches.iter().filter(|b| b.num_rows() > 0) {
            converted.push(to_duckdb_batch(batch)?);
        }
        self.with_transaction(|conn| {
            let registration = ArrowBatchRegistration::new(empty);
            conn.execute(
                &format!(
                    "CREATE {}TABLE {}.{} AS SELECT * FROM arrow(?)",
                    if replace { "OR REPLACE " } else { "" },
                    quote_ident(db_schema),
                    quote_ident(name)
                ),
                [&registration],
            )?;
            let mut appender = conn.appender_to_db(name, db_schema)?;
            for batch in converted {
                appender.append_record_batch(batch)?;
            }
            appender.flush()
        })
    }

    /// Appends `batches` to store table `name` in one transaction: all rows or none. They are
    /// durable (in the write-ahead log) when this returns.
    pub fn append(&self, name: &str, batches: &[RecordBatch]) -> Result<()> {
        let converted = batches
            .iter()
            .filter(|b| b.num_rows() > 0)
            .map(to_duckdb_batch)
            .collect::<Result<Vec<_>>>()?;
        self.with_transaction(|conn| {
            let mut appender = conn.appender(name)?;
            for batch in converted {
                appender.append_record_batch(batch)?;
            }
            appender.flush()
        })
    }

    /// Drops store table `name`.
    pub fn drop_table(&self, name: &str) -> Result<()> {
        self.with_conn(|conn| {
            conn.execute_batch(&format!("DROP TABLE IF EXISTS {}", quote_ident(name)))
        })
    }

    /// Records the `CREATE EXTERNAL TABLE` statement that defined `name`, so it is re-run at start-up.
    pub fn save_external_table(&self, name: &str, definition: &str) -> Result<()> {
        self.with_conn(|conn| {
            conn.execute(
                &format!(
                    "INSERT OR REPLACE INTO {INTERNAL_SCHEMA}.external_tables (name, definition) \
                     VALUES (?, ?)"
                ),
                [name, definition],
            )
            .map(|_| ())
        })
    }

    /// Forgets external table `name`: its definition, its row in `spirit.sources` and its
    /// accelerated copy, if any.
    pub fn remove_external_table(&self, name: &str) -> Result<()> {
        self.with_conn(|conn| {
            conn.execute(
                &format!("DELETE FROM {INTERNAL_SCHEMA}.external_tables WHERE name = ?"),
                [name],
            )?;
            conn.execute("DELETE FROM spirit.sources WHERE name = ?", [name])?;
            conn.execute_batch(&format!(
                "DROP TABLE IF EXISTS {ACCELERATION_SCHEMA}.{}",
                quote_ident(name)
            ))
        })
    }

    /// The saved external-table definitions, oldest first, as `(name, statement)`.
    pub fn external_tables(&self) -> Result<Vec<(String, String)>> {
        self.with_conn(|conn| {
            let mut stmt = conn.prepare(&format!(
                "SELECT name, definition FROM {INTERNAL_SCHEMA}.external_tables ORDER BY created_at, name"
            ))?;
            stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
                .collect()
        })
    }

    /// Writes everything to the main file and truncates the WAL; called on shutdown. A write
    /// still in flight (a heartbeat, a metric reload) makes DuckDB refuse; it is retried for up to
    /// two seconds.
    pub fn checkpoint(&self) -> Result<()> {
        let mut attempts = 0;
        loop {
            match self.with_conn(|conn| conn.execute_batch("CHECKPOINT")) {
                Err(e) if attempts < 40 && e.to_string().contains("other write transactions") => {
                    attempts += 1;
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                result => return result,
            }
        }
    }
}

/// A table or view in one of the store's schemas.
#[derive(Debug, Clone)]
pub struct Relation {
    /// Its name.
    pub name: String,
    /// The `CREATE VIEW` statement of a view; `None` for a table.
    pub view_definition: Option<String>,
}

/// Converts a DataFusion (arrow 59) batch to DuckDB's arrow version.
fn to_duckdb_batch(batch: &RecordBatch) -> Result<duckdb::arrow::array::RecordBatch> {
    arrow_bridge::record_batch_to_60(batch)
        .map_err(|e| SpiritError::StoreAccess(format!("cannot convert batch for the store: {e}")))
}

/// Data dirs made before the store file was renamed hold `spirit.duckdb`, whose DuckDB catalog
/// name clashes with the `spirit` schema; move it (and its WAL) to `path`.
fn rename_legacy_file(dir: &Path, path: &Path) -> Result<()> {
    let legacy = dir.join("spirit.duckdb");
    if path.exists() || !legacy.exists() {
        return Ok(());
    }
    for (from, to) in [
        (legacy.clone(), path.to_path_buf()),
        (
            legacy.with_extension("duckdb.wal"),
            path.with_extension("duckdb.wal"),
        ),
    ] {
        if from.exists() {
            std::fs::rename(&from, &to).map_err(|e| {
                SpiritError::io(
                    format!("cannot rename {} to {}", from.display(), to.display()),
                    e,
                )
            })?;
        }
    }
    tracing::info!("renamed {} to {}", legacy.display(), path.display());
    Ok(())
}

/// Quotes an identifier for DuckDB SQL.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Quotes a string literal for DuckDB SQL.
pub fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// Runs `f` on `conn` inside a transaction: committed when `f` succeeds, rolled back (and
/// its error returned) when it fails.
pub fn in_transaction<T>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> duckdb::Result<T>,
) -> duckdb::Result<T> {
    conn.execute_batch("BEGIN TRANSACTION")?;
    match f(conn) {
        Ok(value) => conn.execute_batch("COMMIT").map(|()| value),
        Err(e) => {
            conn.execute_batch("ROLLBACK")?;
            Err(e)
        }
    }
}
