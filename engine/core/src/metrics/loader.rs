//! Loading `metrics_dir/*.sql` into the `metrics` schema of the store.
//!
//! Each file defines one object named after the file: a view (`CREATE OR REPLACE VIEW
//! metrics.<name> AS …`) or a table macro (`CREATE OR REPLACE MACRO metrics.<name>(…) AS TABLE
//! …`), followed by `COMMENT ON` statements. A view needs a comment on itself and on every
//! column; a macro a comment on itself (`COMMENT ON MACRO TABLE`). The files are DuckDB SQL and
//! DuckDB runs the views next to the data, so filters on a view reach the store's scans.
//!
//! Loading replaces the whole schema in one DuckDB transaction: queries running meanwhile see
//! the old definitions or the new ones, never a mix. A file that fails (SQL error, missing
//! comments, wrong object name) is left out and reported, together with the files depending on
//! it, and the others load; `spirit.metric_views` records each file's status. Loads happen at
//! start-up, when a file in the directory changes (checked every `metrics_reload_seconds`), and on
//! `SELECT reload_metrics()`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use duckdb::Connection;

use super::SCHEMA;
use crate::config::Config;
use crate::error::{Result, SpiritError};
use crate::store::Store;
use crate::system;

/// One `.sql` file of the metrics directory.
#[derive(Debug, Clone)]
struct MetricFile {
    name: String,
    path: PathBuf,
    sql: String,
}

/// What one load did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct LoadReport {
    /// Views loaded, by name.
    pub views: Vec<String>,
    /// Table functions (table macros) loaded, by name.
    pub functions: Vec<String>,
    /// Files that did not load: `(file name, reason)`.
    pub failed: Vec<(String, String)>,
}

impl fmt::Display for LoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "loaded {} metric views and {} table functions",
            self.views.len(),
            self.functions.len()
        )?;
        if !self.failed.is_empty() {
            write!(f, "; {} files failed:", self.failed.len())?;
            for (file, reason) in &self.failed {
                write!(f, " {file}: {reason};")?;
            }
        }
        Ok(())
    }
}

/// Size and modification time of every `.sql` file: a change means a reload.
type Fingerprint = BTreeMap<PathBuf, (u64, Option<SystemTime>)>;

/// Loads and reloads the metric views.
#[derive(Debug)]
pub struct MetricLoader {
    store: Store,
    config: Config,
    /// Held while loading, so concurrent reloads run one after the other.
    last_seen: Mutex<Option<Fingerprint>>,
}

impl MetricLoader {
    /// A loader for `config.metrics_dir` into `store`.
    pub fn new(store: Store, config: Config) -> Self {
        Self {
            store,
            config,
            last_seen: Mutex::new(None),
        }
    }

    /// The directory the views are read from.
    pub fn dir(&self) -> &Path {
        &self.config.metrics_dir
    }

    /// Writes the metric parameters from the configuration and (re)loads every file.
    pub fn load(&self) -> Result<LoadReport> {
        let mut last_seen = self.last_seen.lock().expect("metric loader lock");
        let fingerprint = fingerprint(self.dir());
        let files = read_files(self.dir())?;
        let report = self.store.with_conn(|conn| {
            system::ensure_schema(conn)?;
            Ok(system::write_metric_settings(conn, &self.config)
                .and_then(|()| load_files(conn, &files)))
        })??;
        *last_seen = Some(fingerprint);
        Ok(report)
    }

    /// Whether a load has run (an empty store skips the first one until data arrives).
    pub fn loaded_once(&self) -> bool {
        self.last_seen.lock().expect("metric loader lock").is_some()
    }

    /// Whether a file was added, removed or changed since the last load.
    pub fn changed(&self) -> bool {
        let last_seen = self.last_seen.lock().expect("metric loader lock");
        last_seen.as_ref() != Some(&fingerprint(self.dir()))
    }
}

/// Size and mtime of each `.sql` file in `dir` (empty when the directory is missing).
fn fingerprint(dir: &Path) -> Fingerprint {
    let mut files = Fingerprint::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "sql")
            && let Ok(meta) = entry.metadata()
        {
            files.insert(path, (meta.len(), meta.modified().ok()));
        }
    }
    files
}

/// The `.sql` files of `dir`, sorted by name. A missing directory has none (and is logged).
fn read_files(dir: &Path) -> Result<Vec<MetricFile>> {
    if !dir.is_dir() {
        tracing::warn!(
            "metrics_dir {} does not exist: no metric views are loaded",
            dir.display()
        );
        return Ok(Vec::new());
    }
    let mut files = Vec::new();
    for path in fingerprint(dir).into_keys() {
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        let sql = std::fs::read_to_string(&path)
            .map_err(|e| SpiritError::io(format!("cannot read {}", path.display()), e))?;
        files.push(MetricFile { name, path, sql });
    }
    Ok(files)
}

/// Whether `name` can name a metric without quoting.
fn is_plain_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Orders `files` so that each comes after the metric files it mentions (`metrics.<name>`).
/// Files in a dependency cycle are returned as failures.
fn dependency_order(files: &[MetricFile]) -> (Vec<&MetricFile>, Vec<(String, String)>) {
    let names: BTreeSet<&str> = files.iter().map(|f| f.name.as_str()).collect();
    let mentions = |file: &MetricFile| -> BTreeSet<String> {
        let lower = code_only(&file.sql).to_ascii_lowercase();
        names
            .iter()
            .filter(|n| **n != file.name)
            .filter(|n| mentions_metric(&lower, n))
            .map(|n| (*n).to_string())
            .collect()
    };
    let deps: BTreeMap<&str, BTreeSet<String>> = files
        .iter()
        .map(|f| (f.name.as_str(), mentions(f)))
        .collect();
    let mut ordered: Vec<&MetricFile> = Vec::new();
    let mut placed: BTreeSet<String> = BTreeSet::new();
    let mut pending: Vec<&MetricFile> = files.iter().collect();
    while !pending.is_empty() {
        let (ready, rest): (Vec<&MetricFile>, Vec<&MetricFile>) = pending
            .into_iter()
            .partition(|f| deps[f.name.as_str()].iter().all(|d| placed.contains(d)));
        if ready.is_empty() {
            let failed = rest
                .iter()
                .map(|f| {
                    let cycle: Vec<&str> = deps[f.name.as_str()]
                        .iter()
                        .filter(|d| !placed.contains(*d))
                        .map(String::as_str)
                        .collect();
                    (
                        file_label(f),
                        format!(
                            "circular reference through metrics.{}",
                            cycle.join(", metrics.")
                        ),
                    )
                })
                .collect();
            return (ordered, failed);
        }
        for file in ready {
            placed.insert(file.name.clone());
            ordered.push(file);
        }
        pending = rest;
    }
    (ordered, Vec::new())
}

/// `sql` without its string literals and comments, where a metric's name may appear without
/// being used (`COMMENT ON VIEW … IS 'as in metrics.revenue_daily'`).
fn code_only(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                while let Some(c) = chars.next() {
                    if c == '\'' && chars.next_if_eq(&'\'').is_none() {
                        break;
                    }
                }
                out.push_str("''");
            }
            '-' if chars.next_if_eq(&'-').is_some() => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            '/' if chars.next_if_eq(&'*').is_some() => {
                let mut previous = ' ';
                for c in chars.by_ref() {
                    if previous == '*' && c == '/' {
                        break;
                    }
                    previous = c;
                }
                out.push(' ');
            }
            c => out.push(c),
        }
    }
    out
}

/// Whether lower-cased SQL `sql` mentions `metrics.<name>` as a whole identifier.
fn mentions_metric(sql: &str, name: &str) -> bool {
    let needle = format!("{SCHEMA}.{name}");
    sql.match_indices(&needle).any(|(at, _)| {
        let after = sql[at + needle.len()..].chars().next();
        !after.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

fn file_label(file: &MetricFile) -> String {
    file.path
        .file_name()
        .map_or_else(|| file.name.clone(), |n| n.to_string_lossy().into_owned())
}

/// Replaces the `metrics` schema with `files` in one transaction, leaving out the files that
/// fail; records every file's status in `spirit.metric_views`.
fn load_files(conn: &Connection, files: &[MetricFile]) -> Result<LoadReport> {
    let (ordered, mut failed) = dependency_order(files);
    let mut excluded: BTreeSet<String> = failed
        .iter()
        .filter_map(|(label, _)| label.strip_suffix(".sql").map(str::to_string))
        .collect();
    for file in &ordered {
        if !is_plain_identifier(&file.name) {
            failed.push((
                file_label(file),
                "a metric file name must be a lower-case SQL identifier (letters, digits, _)"
                    .to_string(),
            ));
            excluded.insert(file.name.clone());
        }
    }
    loop {
        conn.execute_batch("BEGIN TRANSACTION")?;
        match apply(conn, &ordered, &excluded, &failed) {
            Ok(report) => {
                conn.execute_batch("COMMIT")?;
                return Ok(report);
            }
            Err(Failure::Store(e)) => {
                conn.execute_batch("ROLLBACK")?;
                return Err(SpiritError::StoreAccess(format!(
                    "cannot replace the metrics schema: {e}"
                )));
            }
            Err(Failure::File(file, reason)) => {
                conn.execute_batch("ROLLBACK")?;
                let dependents: Vec<&MetricFile> = ordered
                    .iter()
                    .filter(|f| !excluded.contains(&f.name))
                    .filter(|f| f.name != file.name)
                    .filter(|f| {
                        mentions_metric(&code_only(&f.sql).to_ascii_lowercase(), &file.name)
                    })
                    .copied()
                    .collect();
                excluded.insert(file.name.clone());
                failed.push((file_label(&file), reason));
                for dependent in dependents {
                    excluded.insert(dependent.name.clone());
                    failed.push((
                        file_label(dependent),
                        format!("depends on metrics.{}, which did not load", file.name),
                    ));
                }
            }
        }
    }
}

/// Why an attempt at loading stopped.
enum Failure {
    /// This file failed, for this reason; the load is retried without it.
    File(MetricFile, String),
    /// The store itself failed; the load is abandoned.
    Store(duckdb::Error),
}

impl From<duckdb::Error> for Failure {
    fn from(e: duckdb::Error) -> Self {
        Self::Store(e)
    }
}

/// One attempt at loading: drops the schema's objects and runs every file not excluded.
/// Stops at the first file that fails.
fn apply(
    conn: &Connection,
    ordered: &[&MetricFile],
    excluded: &BTreeSet<String>,
    failed: &[(String, String)],
) -> std::result::Result<LoadReport, Failure> {
    drop_all(conn)?;
    let mut report = LoadReport {
        failed: failed.to_vec(),
        ..LoadReport::default()
    };
    let mut statuses: Vec<(String, &'static str, String, &'static str, Option<String>)> =
        Vec::new();
    let mut defined: BTreeSet<String> = BTreeSet::new();
    for file in ordered.iter().filter(|f| !excluded.contains(&f.name)) {
        let fail = |reason: String| Failure::File((*file).clone(), reason);
        conn.execute_batch(&file.sql)
            .map_err(|e| fail(first_line(&e.to_string())))?;
        let kind = check_defined(conn, file, &defined).map_err(fail)?;
        defined.insert(file.name.clone());
        match kind {
            Kind::View => report.views.push(file.name.clone()),
            Kind::Function => report.functions.push(file.name.clone()),
        }
        statuses.push((
            file.name.clone(),
            kind.label(),
            file.path.display().to_string(),
            "loaded",
            None,
        ));
    }
    for file in ordered.iter().filter(|f| excluded.contains(&f.name)) {
        let reason = report
            .failed
            .iter()
            .find(|(label, _)| *label == file_label(file))
            .map(|(_, r)| r.clone());
        statuses.push((
            file.name.clone(),
            "view",
            file.path.display().to_string(),
            "error",
            reason,
        ));
    }
    write_statuses(conn, &statuses)?;
    Ok(report)
}

/// The kind of object a metric file defines.
#[derive(Debug, Clone, Copy)]
enum Kind {
    View,
    Function,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::View => "view",
            Kind::Function => "table_function",
        }
    }
}

/// Checks that running `file` defined `metrics.<name>` with the comments BI tools show, and that
/// it defined nothing else in the schema (`defined` holds what earlier files defined).
fn check_defined(
    conn: &Connection,
    file: &MetricFile,
    defined: &BTreeSet<String>,
) -> std::result::Result<Kind, String> {
    let name = &file.name;
    let objects = schema_objects(conn).map_err(|e| e.to_string())?;
    if let Some((extra, _)) = objects
        .iter()
        .find(|(n, _)| n != name && !defined.contains(n))
    {
        return Err(format!(
            "defines metrics.{extra} as well; put each metric in its own file named after it"
        ));
    }
    let kind = match objects.iter().find(|(n, _)| n == name) {
        Some((_, kind)) => *kind,
        None => {
            return Err(format!(
                "does not define metrics.{name}; a metric file holds `CREATE OR REPLACE VIEW \
                 metrics.{name} AS …` (or a table macro of that name) and its COMMENTs"
            ));
        }
    };
    let comment: Option<String> = match kind {
        Kind::View => conn.query_row(
            "SELECT comment FROM duckdb_views() WHERE database_name = current_database() \
             AND schema_name = ? AND view_name = ?",
            [SCHEMA, name],
            |row| row.get(0),
        ),
        Kind::Function => conn.query_row(
            "SELECT any_value(comment) FROM duckdb_functions() WHERE database_name = \
             current_database() AND schema_name = ? AND function_name = ?",
            [SCHEMA, name],
            |row| row.get(0),
        ),
    }
    .map_err(|e| e.to_string())?;
    if comment.as_deref().is_none_or(|c| c.trim().is_empty()) {
        let what = match kind {
            Kind::View => "VIEW",
            Kind::Function => "MACRO TABLE",
        };
        return Err(format!(
            "metrics.{name} has no description; add `COMMENT ON {what} metrics.{name} IS '…'`"
        ));
    }
    if let Kind::View = kind {
        let mut stmt = conn
            .prepare(
                "SELECT column_name FROM duckdb_columns() WHERE database_name = current_database() \
                 AND schema_name = ? AND table_name = ? AND coalesce(trim(comment), '') = '' \
                 ORDER BY column_index",
            )
            .map_err(|e| e.to_string())?;
        let missing: Vec<String> = stmt
            .query_map([SCHEMA, name.as_str()], |row| row.get(0))
            .and_then(|rows| rows.collect())
            .map_err(|e| e.to_string())?;
        if let Some(column) = missing.first() {
            return Err(format!(
                "column{} {} of metrics.{name} ha{} no description; add `COMMENT ON COLUMN \
                 metrics.{name}.{column} IS '…'` for each",
                if missing.len() > 1 { "s" } else { "" },
                missing.join(", "),
                if missing.len() > 1 { "ve" } else { "s" },
            ));
        }
    }
    Ok(kind)
}

/// Views and table macros in the `metrics` schema.
fn schema_objects(conn: &Connection) -> duckdb::Result<Vec<(String, Kind)>> {
    let mut stmt = conn.prepare(
        "SELECT view_name, 'view' FROM duckdb_views() \
         WHERE database_name = current_database() AND schema_name = ?1 AND NOT internal \
         UNION \
         SELECT function_name, 'function' FROM duckdb_functions() \
         WHERE database_name = current_database() AND schema_name = ?1 \
         AND function_type = 'table_macro'",
    )?;
    stmt.query_map([SCHEMA], |row| {
        let kind: String = row.get(1)?;
        Ok((
            row.get(0)?,
            if kind == "view" {
                Kind::View
            } else {
                Kind::Function
            },
        ))
    })?
    .collect()
}

/// Drops every view and table macro of the `metrics` schema (creating the schema if missing).
fn drop_all(conn: &Connection) -> duckdb::Result<()> {
    conn.execute_batch(&format!("CREATE SCHEMA IF NOT EXISTS {SCHEMA}"))?;
    for (name, kind) in schema_objects(conn)? {
        let what = match kind {
            Kind::View => "VIEW",
            Kind::Function => "MACRO TABLE",
        };
        conn.execute_batch(&format!(
            "DROP {what} IF EXISTS {SCHEMA}.{}",
            crate::store::quote_ident(&name)
        ))?;
    }
    Ok(())
}

fn write_statuses(
    conn: &Connection,
    statuses: &[(String, &'static str, String, &'static str, Option<String>)],
) -> duckdb::Result<()> {
    conn.execute_batch("DELETE FROM spirit.metric_views")?;
    for (name, kind, file, status, error) in statuses {
        let description: Option<String> = if *status == "loaded" {
            conn.query_row(
                "SELECT coalesce(
                     (SELECT comment FROM duckdb_views() WHERE database_name = current_database()
                      AND schema_name = ?1 AND view_name = ?2),
                     (SELECT any_value(comment) FROM duckdb_functions()
                      WHERE database_name = current_database() AND schema_name = ?1
                      AND function_name = ?2))",
                [SCHEMA, name.as_str()],
                |row| row.get(0),
            )?
        } else {
            None
        };
        conn.execute(
            "INSERT INTO spirit.metric_views VALUES (?, ?, ?, ?, ?, ?, \
             make_timestamp(epoch_us(get_current_timestamp())))",
            duckdb::params![name, kind, file, status, error, description],
        )?;
    }
    Ok(())
}

/// The first line of a DuckDB error (the rest is usually a long "did you mean" list).
fn first_line(message: &str) -> String {
    message.lines().next().unwrap_or(message).to_string()
}

/// The names and parameter names of the table macros in the `metrics` schema.
pub fn table_functions(conn: &Connection) -> duckdb::Result<Vec<(String, Vec<String>)>> {
    let mut stmt = conn.prepare(
        "SELECT function_name, any_value(parameters) FROM duckdb_functions() \
         WHERE database_name = current_database() AND schema_name = ? \
         AND function_type = 'table_macro' GROUP BY function_name ORDER BY function_name",
    )?;
    stmt.query_map([SCHEMA], |row| {
        let name: String = row.get(0)?;
        let params: duckdb::types::Value = row.get(1)?;
        let params = match params {
            duckdb::types::Value::List(items) => items
                .into_iter()
                .filter_map(|v| match v {
                    duckdb::types::Value::Text(t) => Some(t),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        Ok((name, params))
    })?
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, sql: &str) -> MetricFile {
        MetricFile {
            name: name.to_string(),
            path: PathBuf::from(format!("{name}.sql")),
            sql: sql.to_string(),
        }
    }

    #[test]
    fn files_come_after_the_metrics_they_mention() {
        let files = [
            file(
                "kpi",
                "SELECT * FROM metrics.revenue_daily, metrics.revenue_daily_x",
            ),
            file("revenue_daily_x", "SELECT 1"),
            file("revenue_daily", "SELECT * FROM bookings"),
        ];
        let (ordered, failed) = dependency_order(&files);
        let names: Vec<&str> = ordered.iter().map(|f| f.name.as_str()).collect();
        assert!(failed.is_empty());
        assert_eq!(names.last(), Some(&"kpi"));
        assert!(mentions_metric(
            "from metrics.revenue_daily where",
            "revenue_daily"
        ));
        assert!(!mentions_metric(
            "from metrics.revenue_daily_x",
            "revenue_daily"
        ));
    }

    #[test]
    fn names_in_strings_and_comments_are_not_dependencies() {
        let sql = "-- like metrics.a\nSELECT 'metrics.b', 'it''s metrics.c' /* metrics.d */ FROM metrics.e";
        let code = code_only(sql);
        assert!(
            !code.contains("metrics.a") && !code.contains("metrics.b"),
            "{code}"
        );
        assert!(
            !code.contains("metrics.c") && !code.contains("metrics.d"),
            "{code}"
        );
        assert!(code.contains("FROM metrics.e"), "{code}");
    }

    #[test]
    fn cycles_are_reported() {
        let files = [
            file("a", "SELECT * FROM metrics.b"),
            file("b", "SELECT * FROM metrics.a"),
            file("c", "SELECT 1"),
        ];
        let (ordered, failed) = dependency_order(&files);
        assert_eq!(ordered.len(), 1);
        assert_eq!(failed.len(), 2);
        assert!(failed[0].1.contains("circular"), "{failed:?}");
    }

    #[test]
    fn file_names_must_be_identifiers() {
        assert!(is_plain_identifier("revenue_daily"));
        assert!(!is_plain_identifier("Revenue"));
        assert!(!is_plain_identifier("1x"));
        assert!(!is_plain_identifier("a-b"));
    }
}
