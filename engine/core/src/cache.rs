//! The query-result cache: metric results kept by their normalised SQL and parameters, valid
//! while the data they read is unchanged, for at most `cache_ttl_seconds`.
//!
//! - **What is cached:** queries whose every source is a store table or a metric view and whose
//!   expressions are not volatile (`random()`, the report functions). The tables a query reads
//!   are learnt once per statement text from its plan; a metric view reads the store tables its
//!   definition names (transitively through other views).
//! - **Data versions:** every table has a version, bumped by each write the engine makes
//!   (ingest, `INSERT`, `COPY`, DML) and, for all tables at once (`*`), by DDL and metric
//!   reloads. An entry records the versions it was computed at, read *before* the query ran,
//!   and is a hit only while they still hold: a write during the query leaves it stale, never
//!   wrongly fresh.
//! - **Backends:** moka in-process by default, bounded by `cache_max_mb`; Redis when
//!   `redis_host` (`REDIS_HOST`) is set, where versions live too (a hash), so several engine
//!   instances share entries and invalidations. A lookup is one pipelined round trip.
//! - **Redis failures:** an error or a reply slower than `cache_redis_timeout_ms` makes queries
//!   run uncached; the failure is logged once, Redis is retried after a back-off (doubling up to
//!   30 s), and version bumps made meanwhile are replayed first when it answers again.

use std::any::Any;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::io::Cursor;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use arrow::ipc::reader::StreamReader;
use arrow::ipc::writer::StreamWriter;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::logical_expr::LogicalPlan;
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::observability;
use crate::store::Store;

/// The version key every table's entries also depend on: bumped by DDL and metric reloads.
pub const ALL_TABLES: &str = "*";

/// Statements whose sources are remembered at most.
const MAX_LEARNT: usize = 10_000;

/// Longest wait before Redis is tried again after a failure.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// A query result as the cache keeps it.
pub struct CachedResult {
    /// The result's schema.
    pub schema: SchemaRef,
    /// Its rows.
    pub batches: Vec<RecordBatch>,
    /// The rows as a front end sends them, made by the first hit that needed them (pg-wire keeps
    /// its encoded text rows here), so later hits on the same entry only copy them.
    pub encoded: OnceLock<Box<dyn Any + Send + Sync>>,
}

impl std::fmt::Debug for CachedResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedResult")
            .field("schema", &self.schema)
            .field("rows", &self.rows())
            .finish_non_exhaustive()
    }
}

impl CachedResult {
    /// A result of `batches`, with `schema` when there are none.
    pub fn new(schema: SchemaRef, batches: Vec<RecordBatch>) -> Self {
        let schema = batches.first().map_or(schema, RecordBatch::schema);
        Self {
            schema,
            batches,
            encoded: OnceLock::new(),
        }
    }

    /// The rows in memory, in bytes.
    pub fn size(&self) -> usize {
        self.batches
            .iter()
            .map(RecordBatch::get_array_memory_size)
            .sum()
    }

    /// The number of rows.
    pub fn rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }
}

/// Runs `plan` on `ctx` and gathers its rows, as the cache keeps them.
pub async fn collect(
    ctx: &datafusion::prelude::SessionContext,
    plan: LogicalPlan,
) -> DfResult<CachedResult> {
    let df = ctx.execute_logical_plan(plan).await?;
    let schema = Arc::new(df.schema().as_arrow().clone());
    Ok(CachedResult::new(schema, df.collect().await?))
}

/// How the cache is set up: from [`Config`].
#[derive(Debug, Clone)]
pub struct CacheSettings {
    /// How long an entry lives at most.
    pub ttl: Duration,
    /// In-process capacity, in bytes of results.
    pub max_bytes: u64,
    /// Results larger than this are not kept.
    pub max_entry_bytes: usize,
    /// `redis://…` when Redis is the backend.
    pub redis_url: Option<String>,
    /// How long a Redis command may take before the query runs uncached.
    pub redis_timeout: Duration,
    /// Prefix of every Redis key: entries of different databases never meet.
    pub namespace: String,
}

impl CacheSettings {
    /// The settings `config` gives.
    pub fn from_config(config: &Config) -> Self {
        let redis_url = config.redis_host.as_ref().map(|host| {
            let auth = config
                .redis_password
                .as_ref()
                .map(|p| format!(":{}@", percent_encode(p)))
                .unwrap_or_default();
            format!(
                "redis://{auth}{host}:{}/{}",
                config.redis_port, config.redis_db
            )
        });
        let max_bytes = config.cache_max_mb.saturating_mul(1024 * 1024);
        Self {
            ttl: Duration::from_secs(config.cache_ttl_seconds),
            max_bytes,
            max_entry_bytes: usize::try_from(max_bytes / 8).unwrap_or(usize::MAX),
            redis_url,
            redis_timeout: Duration::from_millis(config.cache_redis_timeout_ms),
            namespace: format!("spirit:{}", config.database),
        }
    }
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Versions of the tables an entry depends on, as they were before it was computed.
type Versions = BTreeMap<String, u64>;

struct Entry {
    versions: Versions,
    result: Arc<CachedResult>,
}

/// The result cache of one engine.
pub struct ResultCache {
    settings: CacheSettings,
    backend: Backend,
    store: Store,
    /// What each statement text reads (`None`: not cacheable), learnt from its plan.
    reads: Mutex<HashMap<String, Option<Arc<Vec<String>>>>>,
    /// Store tables and what each metric view reads; rebuilt after DDL and metric reloads.
    sources: Mutex<Option<Arc<Sources>>>,
    hits: AtomicU64,
    misses: AtomicU64,
    /// Tables that changed, for whoever pushes fresh results (the live feed).
    changes: tokio::sync::broadcast::Sender<Arc<Vec<String>>>,
}

impl std::fmt::Debug for ResultCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResultCache")
            .field("backend", &self.backend_name())
            .field("ttl", &self.settings.ttl)
            .finish_non_exhaustive()
    }
}

enum Backend {
    Off,
    Memory {
        entries: moka::future::Cache<String, Arc<Entry>>,
        versions: Mutex<HashMap<String, u64>>,
    },
    Redis(Box<RedisBackend>),
}

/// What [`ResultCache::lookup`] found.
pub enum Lookup {
    /// A valid entry.
    Hit(Arc<CachedResult>),
    /// None: run the query, then [`ResultCache::finish`] the ticket.
    Miss(Ticket),
}

/// A miss to be filled in: the key and, once known, what the query reads and their versions.
pub struct Ticket {
    key: String,
    text: String,
    params: String,
    reads: Option<Option<Arc<Vec<String>>>>,
    versions: Option<Versions>,
}

impl Ticket {
    /// Whether what the statement reads must still be learnt from its plan
    /// ([`ResultCache::learn`]).
    pub fn needs_plan(&self) -> bool {
        self.reads.is_none()
    }

    /// Whether the result will be kept.
    pub fn cacheable(&self) -> bool {
        matches!(self.reads, Some(Some(_)))
    }
}

impl ResultCache {
    /// A cache over `store` with `settings`; a zero TTL (`cache_ttl_seconds = 0`) gives one
    /// that never keeps anything.
    pub fn new(store: Store, settings: CacheSettings) -> Self {
        let backend = if settings.ttl.is_zero() {
            Backend::Off
        } else if let Some(url) = &settings.redis_url {
            Backend::Redis(Box::new(RedisBackend::new(url, &settings)))
        } else {
            Backend::Memory {
                entries: moka::future::Cache::builder()
                    .max_capacity(settings.max_bytes)
                    .weigher(|_key: &String, entry: &Arc<Entry>| {
                        u32::try_from(entry.result.size()).unwrap_or(u32::MAX)
                    })
                    .time_to_live(settings.ttl)
                    .build(),
                versions: Mutex::default(),
            }
        };
        Self {
            settings,
            backend,
            store,
            reads: Mutex::default(),
            sources: Mutex::default(),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            changes: tokio::sync::broadcast::channel(256).0,
        }
    }

    /// Announces the tables that change from now on (`*` for all of them).
    pub fn subscribe_changes(&self) -> tokio::sync::broadcast::Receiver<Arc<Vec<String>>> {
        self.changes.subscribe()
    }

    /// `memory`, `redis` or `off`.
    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Off => "off",
            Backend::Memory { .. } => "memory",
            Backend::Redis(_) => "redis",
        }
    }

    /// Hits and misses since start.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }

    /// Whether Redis is the backend and currently failing.
    pub fn degraded(&self) -> bool {
        matches!(&self.backend, Backend::Redis(redis) if redis.is_down())
    }

    /// Looks up the result of statement `text` with `params` (their display, empty without).
    pub async fn lookup(&self, text: &str, params: &str) -> Lookup {
        // Entries are keyed by the catalog they were computed over too: engines sharing a cache
        // with other metric definitions never see each other's entries.
        let fingerprint = self
            .sources
            .lock()
            .expect("cache lock")
            .as_ref()
            .map(|s| s.fingerprint.clone());
        let reads = match &fingerprint {
            Some(_) => self.reads.lock().expect("cache lock").get(text).cloned(),
            None => None,
        };
        let mut ticket = Ticket {
            key: entry_key(fingerprint.as_deref().unwrap_or_default(), text, params),
            text: text.to_string(),
            params: params.to_string(),
            reads: reads.clone(),
            versions: None,
        };
        if matches!(self.backend, Backend::Off) {
            ticket.reads = Some(None);
            return Lookup::Miss(ticket);
        }
        let Some(Some(tables)) = reads else {
            return Lookup::Miss(ticket);
        };
        match self.fetch(&ticket.key, &tables).await {
            Some((_, Some(result))) => {
                self.hits.fetch_add(1, Ordering::Relaxed);
                observability::cache_lookup("hit");
                Lookup::Hit(result)
            }
            Some((versions, None)) => {
                ticket.versions = Some(versions);
                Lookup::Miss(ticket)
            }
            None => {
                // The backend failed: run uncached.
                ticket.reads = Some(None);
                Lookup::Miss(ticket)
            }
        }
    }

    /// Learns from `plan` what the ticket's statement reads, and reads their versions. Returns
    /// the entry when another engine sharing the cache already computed it.
    pub async fn learn(
        &self,
        ticket: &mut Ticket,
        plan: &LogicalPlan,
    ) -> Option<Arc<CachedResult>> {
        if ticket.reads.is_some() {
            return None;
        }
        let reads = match self.plan_reads(plan) {
            Ok(reads) => reads.map(Arc::new),
            Err(e) => {
                tracing::debug!("not caching {:?}: {e}", ticket.text);
                None
            }
        };
        if let Ok(sources) = self.sources() {
            ticket.key = entry_key(&sources.fingerprint, &ticket.text, &ticket.params);
        }
        {
            let mut memo = self.reads.lock().expect("cache lock");
            // Tools send many distinct statements (catalog queries with literals): the memory
            // of what they read is bounded.
            if memo.len() >= MAX_LEARNT {
                memo.clear();
            }
            memo.insert(ticket.text.clone(), reads.clone());
        }
        let mut found = None;
        if let Some(tables) = &reads {
            match self.fetch(&ticket.key, tables).await {
                Some((versions, entry)) => {
                    ticket.versions = Some(versions);
                    found = entry;
                }
                None => {
                    ticket.reads = Some(None);
                    return None;
                }
            }
        }
        ticket.reads = Some(reads);
        if found.is_some() {
            self.hits.fetch_add(1, Ordering::Relaxed);
            observability::cache_lookup("hit");
        }
        found
    }

    /// Keeps `result` for the ticket's statement, if it is cacheable and not too large.
    pub async fn finish(&self, ticket: Ticket, result: &Arc<CachedResult>) {
        let Ticket {
            key,
            reads: Some(Some(_)),
            versions: Some(versions),
            ..
        } = ticket
        else {
            return;
        };
        self.misses.fetch_add(1, Ordering::Relaxed);
        observability::cache_lookup("miss");
        if result.size() > self.settings.max_entry_bytes {
            return;
        }
        let entry = Arc::new(Entry {
            versions,
            result: Arc::clone(result),
        });
        match &self.backend {
            Backend::Off => {}
            Backend::Memory { entries, .. } => entries.insert(key, entry).await,
            Backend::Redis(redis) => redis.put(&key, &entry, self.settings.ttl).await,
        }
    }

    /// Runs `run` through the cache: a hit answers at once; on a miss the plan is made with
    /// `plan` and its result kept. Returns the result and whether it was a hit.
    pub async fn get_or_run<P, PF, R, RF>(
        &self,
        text: &str,
        params: &str,
        plan: P,
        run: R,
    ) -> DfResult<(Arc<CachedResult>, bool)>
    where
        P: FnOnce() -> PF,
        PF: Future<Output = DfResult<LogicalPlan>>,
        R: FnOnce(LogicalPlan) -> RF,
        RF: Future<Output = DfResult<CachedResult>>,
    {
        let mut ticket = match self.lookup(text, params).await {
            Lookup::Hit(result) => return Ok((result, true)),
            Lookup::Miss(ticket) => ticket,
        };
        let plan = plan().await?;
        if let Some(result) = self.learn(&mut ticket, &plan).await {
            return Ok((result, true));
        }
        let result = Arc::new(run(plan).await?);
        self.finish(ticket, &result).await;
        Ok((result, false))
    }

    /// Records that `tables` (store table names) changed: entries that read them are no longer
    /// valid.
    pub async fn tables_changed(&self, tables: &[String]) {
        self.note_changed(tables);
        if let Backend::Redis(redis) = &self.backend {
            // Sends the bump now, so other engines sharing the cache see it at once.
            let _ = redis.connection().await;
        }
    }

    /// Records what statement `sql` changed, once it has run: the tables an `INSERT`,
    /// `UPDATE`, `DELETE`, `COPY` or `TRUNCATE` names, or everything after DDL.
    pub async fn after_statement(&self, sql: &str) {
        match written(sql) {
            Written::Nothing => {}
            Written::Tables(tables) => self.tables_changed(&tables).await,
            Written::Catalog => self.schema_changed(),
        }
    }

    /// Records that the catalog changed (DDL, demo data): every entry is invalid, and what
    /// statements read is learnt again. Without waiting: with Redis, the bump is sent before
    /// the next command.
    pub fn schema_changed(&self) {
        self.metrics_reloaded();
        self.note_changed(&[ALL_TABLES.to_string()]);
    }

    /// Records that the metric views were (re)loaded: what statements read is learnt again,
    /// and entries are keyed by the new definitions (so an engine starting with the same
    /// definitions shares the entries already there).
    pub fn metrics_reloaded(&self) {
        // The catalog changed: so may what statements plan to.
        self.store.prepared().invalidate();
        self.reads.lock().expect("cache lock").clear();
        *self.sources.lock().expect("cache lock") = None;
    }

    fn note_changed(&self, tables: &[String]) {
        if tables.is_empty() {
            return;
        }
        let tables: Vec<String> = tables.iter().map(|t| t.to_ascii_lowercase()).collect();
        match &self.backend {
            Backend::Off => {}
            Backend::Memory { versions, .. } => {
                let mut versions = versions.lock().expect("versions lock");
                for table in &tables {
                    *versions.entry(table.clone()).or_default() += 1;
                }
            }
            Backend::Redis(redis) => redis
                .state
                .lock()
                .expect("redis state")
                .pending
                .extend(tables.iter().cloned()),
        }
        let _ = self.changes.send(Arc::new(tables));
    }

    /// The current versions of `tables` and the entry under `key` if it is valid for them;
    /// `None` when the backend failed.
    async fn fetch(
        &self,
        key: &str,
        tables: &[String],
    ) -> Option<(Versions, Option<Arc<CachedResult>>)> {
        match &self.backend {
            Backend::Off => None,
            Backend::Memory { entries, versions } => {
                let current: Versions = {
                    let versions = versions.lock().expect("versions lock");
                    tables
                        .iter()
                        .chain(std::iter::once(&ALL_TABLES.to_string()))
                        .map(|t| (t.clone(), versions.get(t).copied().unwrap_or(0)))
                        .collect()
                };
                let entry = entries.get(key).await;
                let valid = entry
                    .filter(|e| e.versions == current)
                    .map(|e| Arc::clone(&e.result));
                Some((current, valid))
            }
            Backend::Redis(redis) => redis.fetch(key, tables).await,
        }
    }

    /// The store tables `plan` reads, or `None` when its result must not be cached (it reads
    /// something else, or computes something volatile).
    fn plan_reads(&self, plan: &LogicalPlan) -> DfResult<Option<Vec<String>>> {
        let sources = self.sources()?;
        let mut reads: HashSet<String> = HashSet::new();
        let mut cacheable = true;
        // Plain table reads stream (a million rows must not be gathered in memory first);
        // results over metric views are what the cache is for.
        let mut reads_metric = false;
        plan.apply_with_subqueries(|node| {
            match node {
                LogicalPlan::Dml(_)
                | LogicalPlan::Ddl(_)
                | LogicalPlan::Copy(_)
                | LogicalPlan::Statement(_)
                | LogicalPlan::Extension(_)
                | LogicalPlan::DescribeTable(_)
                | LogicalPlan::Explain(_)
                | LogicalPlan::Analyze(_) => cacheable = false,
                LogicalPlan::TableScan(scan) => {
                    let schema = scan.table_name.schema().unwrap_or("public");
                    let table = scan.table_name.table().to_ascii_lowercase();
                    reads_metric |= schema == crate::metrics::SCHEMA;
                    match sources.reads(schema, &table) {
                        Some(tables) => reads.extend(tables.iter().cloned()),
                        None => cacheable = false,
                    }
                }
                _ => {}
            }
            if node.expressions().iter().any(|e| e.is_volatile()) {
                cacheable = false;
            }
            Ok(if cacheable {
                TreeNodeRecursion::Continue
            } else {
                TreeNodeRecursion::Stop
            })
        })?;
        if !cacheable || !reads_metric || reads.is_empty() {
            return Ok(None);
        }
        let mut reads: Vec<String> = reads.into_iter().collect();
        reads.sort();
        Ok(Some(reads))
    }

    fn sources(&self) -> DfResult<Arc<Sources>> {
        if let Some(sources) = self.sources.lock().expect("cache lock").clone() {
            return Ok(sources);
        }
        let sources = Arc::new(Sources::read(&self.store).map_err(DataFusionError::from)?);
        *self.sources.lock().expect("cache lock") = Some(Arc::clone(&sources));
        Ok(sources)
    }
}

/// The store's tables and what each metric view reads.
#[derive(Debug, Default)]
struct Sources {
    tables: HashSet<String>,
    views: HashMap<String, Vec<String>>,
    /// A digest of the tables and the views' definitions.
    fingerprint: String,
}

impl Sources {
    fn read(store: &Store) -> crate::Result<Self> {
        let tables: HashSet<String> = store
            .table_names()?
            .into_iter()
            .map(|t| t.to_ascii_lowercase())
            .collect();
        let definitions: HashMap<String, String> = store
            .relations(crate::metrics::SCHEMA)?
            .into_iter()
            .map(|r| {
                (
                    r.name.to_ascii_lowercase(),
                    r.view_definition.unwrap_or_default().to_ascii_lowercase(),
                )
            })
            .collect();
        let mut digest = Sha256::new();
        let mut names: Vec<&String> = tables.iter().collect();
        names.sort();
        for name in names {
            digest.update(name.as_bytes());
            digest.update([0]);
        }
        let mut sorted: Vec<(&String, &String)> = definitions.iter().collect();
        sorted.sort();
        for (name, definition) in sorted {
            digest.update(name.as_bytes());
            digest.update([0]);
            digest.update(definition.as_bytes());
            digest.update([0]);
        }
        let fingerprint = hex(&digest.finalize());
        let mut views = HashMap::new();
        for name in definitions.keys() {
            let mut reads = HashSet::new();
            let mut seen = HashSet::new();
            view_reads(name, &definitions, &tables, &mut seen, &mut reads);
            let mut reads: Vec<String> = reads.into_iter().collect();
            reads.sort();
            views.insert(name.clone(), reads);
        }
        Ok(Self {
            tables,
            views,
            fingerprint,
        })
    }

    /// The store tables relation `schema.table` reads; `None` when it is not a store table or
    /// a metric view.
    fn reads(&self, schema: &str, table: &str) -> Option<Vec<String>> {
        match schema {
            "public" if self.tables.contains(table) => Some(vec![table.to_string()]),
            crate::metrics::SCHEMA => self.views.get(table).cloned(),
            _ => None,
        }
    }
}

/// Adds to `reads` the store tables view `name` names, following the views it names. A word
/// of the definition that is a table's name counts as reading it: at worst an entry is
/// invalidated too often, never too rarely.
fn view_reads(
    name: &str,
    definitions: &HashMap<String, String>,
    tables: &HashSet<String>,
    seen: &mut HashSet<String>,
    reads: &mut HashSet<String>,
) {
    if !seen.insert(name.to_string()) {
        return;
    }
    let Some(definition) = definitions.get(name) else {
        return;
    };
    for word in definition.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
        if tables.contains(word) {
            reads.insert(word.to_string());
        } else if word != name && definitions.contains_key(word) {
            view_reads(word, definitions, tables, seen, reads);
        }
    }
}

/// What a statement changes.
#[derive(Debug, PartialEq)]
enum Written {
    Nothing,
    Tables(Vec<String>),
    Catalog,
}

/// What `sql`, one or more statements, changes.
fn written(sql: &str) -> Written {
    use datafusion::sql::sqlparser::ast::{CopySource, Statement, visit_relations};
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;
    let sql = crate::engine::strip_leading_comments(sql);
    let single = sql
        .split_once(';')
        .is_none_or(|(_, rest)| rest.trim().is_empty());
    if single {
        let keyword: String = sql
            .chars()
            .take_while(char::is_ascii_alphabetic)
            .collect::<String>()
            .to_ascii_uppercase();
        match keyword.as_str() {
            "INSERT" | "UPDATE" | "DELETE" | "COPY" | "MERGE" | "TRUNCATE" => {}
            "CREATE" | "DROP" | "ALTER" | "COMMENT" => return Written::Catalog,
            _ => return Written::Nothing,
        }
    }
    // Several statements (or a write): each one says what it changes.
    let Ok(statements) = Parser::parse_sql(&PostgreSqlDialect {}, sql) else {
        return Written::Catalog;
    };
    let mut tables = Vec::new();
    let mut wrote = false;
    for statement in &statements {
        let reads_only = matches!(
            statement,
            Statement::Query(_)
                | Statement::Set(_)
                | Statement::ShowVariable { .. }
                | Statement::StartTransaction { .. }
                | Statement::Commit { .. }
                | Statement::Rollback { .. }
                | Statement::Savepoint { .. }
                | Statement::ReleaseSavepoint { .. }
                | Statement::Explain { .. }
        );
        if reads_only {
            continue;
        }
        let writes_rows = matches!(
            statement,
            Statement::Insert(_)
                | Statement::Update(_)
                | Statement::Delete(_)
                | Statement::Copy { .. }
                | Statement::Merge(_)
                | Statement::Truncate(_)
        );
        if !writes_rows {
            return Written::Catalog;
        }
        wrote = true;
        // `COPY t FROM …` names its table outside what visit_relations visits.
        if let Statement::Copy {
            source: CopySource::Table { table_name, .. },
            ..
        } = statement
            && let Some(last) = table_name.0.last()
        {
            tables.push(last.to_string().trim_matches('"').to_ascii_lowercase());
        }
        let _ = visit_relations(statement, |name| {
            if let Some(last) = name.0.last() {
                tables.push(last.to_string().trim_matches('"').to_ascii_lowercase());
            }
            std::ops::ControlFlow::<()>::Continue(())
        });
    }
    match (wrote, tables.is_empty()) {
        (false, _) => Written::Nothing,
        // A write whose table is unknown: everything may have changed.
        (true, true) => Written::Catalog,
        (true, false) => Written::Tables(tables),
    }
}

/// The entry key of a statement text and its parameters over the catalog `fingerprint`.
fn entry_key(fingerprint: &str, text: &str, params: &str) -> String {
    let mut hasher = Sha256::new();
    for part in [fingerprint, text, params] {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    hex(&hasher.finalize())
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    out
}

/// The Redis backend: entries as `<namespace>:result:<key>` (a JSON header line with the
/// versions, then the rows as an Arrow IPC stream) and versions in the hash
/// `<namespace>:versions`.
struct RedisBackend {
    client: Option<redis::Client>,
    url_error: Option<String>,
    manager: Mutex<Option<redis::aio::ConnectionManager>>,
    /// Set while one task connects.
    connecting: AtomicBool,
    timeout: Duration,
    versions_key: String,
    entry_prefix: String,
    state: Mutex<RedisState>,
    /// Whether the current outage has been logged.
    logged: AtomicBool,
}

#[derive(Default)]
struct RedisState {
    /// Not before this instant is Redis tried again.
    down_until: Option<Instant>,
    backoff: Duration,
    /// Version bumps Redis has not taken yet.
    pending: HashSet<String>,
}

impl RedisBackend {
    fn new(url: &str, settings: &CacheSettings) -> Self {
        let (client, url_error) = match redis::Client::open(url) {
            Ok(client) => (Some(client), None),
            Err(e) => (None, Some(e.to_string())),
        };
        Self {
            client,
            url_error,
            manager: Mutex::default(),
            connecting: AtomicBool::new(false),
            timeout: settings.redis_timeout,
            versions_key: format!("{}:versions", settings.namespace),
            entry_prefix: format!("{}:result:", settings.namespace),
            state: Mutex::default(),
            logged: AtomicBool::new(false),
        }
    }

    fn is_down(&self) -> bool {
        self.state.lock().expect("redis state").down_until.is_some()
    }

    /// A connection, unless Redis failed recently; replays pending bumps after an outage.
    async fn connection(&self) -> Option<redis::aio::ConnectionManager> {
        let replay = {
            let state = self.state.lock().expect("redis state");
            if state.down_until.is_some_and(|until| Instant::now() < until) {
                return None;
            }
            state.down_until.is_some() || !state.pending.is_empty()
        };
        let current = self.manager.lock().expect("redis manager").clone();
        let mut manager = match current {
            Some(manager) => manager,
            // One task connects; the others run uncached meanwhile instead of waiting.
            None if self.connecting.swap(true, Ordering::AcqRel) => return None,
            None => {
                let connected = self.connect().await;
                self.connecting.store(false, Ordering::Release);
                let manager = connected?;
                *self.manager.lock().expect("redis manager") = Some(manager.clone());
                manager
            }
        };
        if replay {
            let pending: Vec<String> = self
                .state
                .lock()
                .expect("redis state")
                .pending
                .iter()
                .cloned()
                .collect();
            let mut pipe = redis::pipe();
            for table in &pending {
                pipe.hincr(&self.versions_key, table, 1).ignore();
            }
            let replayed: Result<(), String> = if pending.is_empty() {
                Ok(())
            } else {
                self.run(pipe.query_async::<()>(&mut manager)).await
            };
            match replayed {
                Ok(()) => {
                    let mut state = self.state.lock().expect("redis state");
                    for table in &pending {
                        state.pending.remove(table);
                    }
                    let was_down = state.down_until.take().is_some();
                    state.backoff = Duration::ZERO;
                    drop(state);
                    if was_down && self.logged.swap(false, Ordering::Relaxed) {
                        tracing::info!("the Redis result cache answers again");
                    }
                }
                Err(e) => {
                    self.failed(&e);
                    return None;
                }
            }
        }
        Some(manager)
    }

    /// A new connection manager, or `None` (the failure recorded).
    async fn connect(&self) -> Option<redis::aio::ConnectionManager> {
        let Some(client) = &self.client else {
            self.failed(self.url_error.as_deref().unwrap_or("invalid URL"));
            return None;
        };
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout))
            .set_number_of_retries(1);
        match tokio::time::timeout(
            self.timeout * 4,
            client.get_connection_manager_with_config(config),
        )
        .await
        {
            Ok(Ok(manager)) => Some(manager),
            Ok(Err(e)) => {
                self.failed(&e.to_string());
                None
            }
            Err(_) => {
                self.failed("connecting timed out");
                None
            }
        }
    }

    async fn run<T>(
        &self,
        query: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, String> {
        match tokio::time::timeout(self.timeout, query).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!(
                "no answer within {} ms (cache_redis_timeout_ms)",
                self.timeout.as_millis()
            )),
        }
    }

    fn failed(&self, error: &str) {
        observability::cache_lookup("error");
        let mut state = self.state.lock().expect("redis state");
        state.backoff = (state.backoff * 2).clamp(Duration::from_millis(500), MAX_BACKOFF);
        state.down_until = Some(Instant::now() + state.backoff);
        drop(state);
        if !self.logged.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                "the Redis result cache is unavailable ({error}); queries run uncached until it \
                 answers again"
            );
        }
    }

    async fn fetch(
        &self,
        key: &str,
        tables: &[String],
    ) -> Option<(Versions, Option<Arc<CachedResult>>)> {
        let mut conn = self.connection().await?;
        let fields: Vec<&str> = tables
            .iter()
            .map(String::as_str)
            .chain(std::iter::once(ALL_TABLES))
            .collect();
        let mut pipe = redis::pipe();
        pipe.cmd("HMGET").arg(&self.versions_key).arg(&fields);
        pipe.get(format!("{}{key}", self.entry_prefix));
        // The versions (HMGET) and the entry (GET).
        type Reply = (Vec<Option<u64>>, Option<Vec<u8>>);
        let reply: Result<Reply, String> = self.run(pipe.query_async(&mut conn)).await;
        let (values, entry) = match reply {
            Ok(reply) => reply,
            Err(e) => {
                self.failed(&e);
                return None;
            }
        };
        let current: Versions = fields
            .iter()
            .zip(values)
            .map(|(t, v)| ((*t).to_string(), v.unwrap_or(0)))
            .collect();
        let valid = entry
            .and_then(|bytes| decode_entry(&bytes))
            .filter(|e| e.versions == current)
            .map(|e| e.result);
        Some((current, valid))
    }

    async fn put(&self, key: &str, entry: &Entry, ttl: Duration) {
        let Some(bytes) = encode_entry(entry) else {
            return;
        };
        let Some(mut conn) = self.connection().await else {
            return;
        };
        let mut set = redis::cmd("SET");
        set.arg(format!("{}{key}", self.entry_prefix))
            .arg(bytes)
            .arg("PX")
            .arg(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX));
        if let Err(e) = self.run(set.query_async::<()>(&mut conn)).await {
            self.failed(&e);
        }
    }
}

fn encode_entry(entry: &Entry) -> Option<Vec<u8>> {
    let mut bytes = serde_json::to_vec(&entry.versions).ok()?;
    bytes.push(b'\n');
    let mut writer = StreamWriter::try_new(&mut bytes, &entry.result.schema).ok()?;
    for batch in &entry.result.batches {
        writer.write(batch).ok()?;
    }
    writer.finish().ok()?;
    drop(writer);
    Some(bytes)
}

fn decode_entry(bytes: &[u8]) -> Option<Entry> {
    let newline = bytes.iter().position(|b| *b == b'\n')?;
    let versions: Versions = serde_json::from_slice(&bytes[..newline]).ok()?;
    let reader = StreamReader::try_new(Cursor::new(&bytes[newline + 1..]), None).ok()?;
    let schema = reader.schema();
    let batches = reader.collect::<Result<Vec<_>, _>>().ok()?;
    Some(Entry {
        versions,
        result: Arc::new(CachedResult::new(schema, batches)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_read_the_tables_they_name_through_other_views() {
        let tables: HashSet<String> = ["bookings", "tours", "leads"]
            .into_iter()
            .map(String::from)
            .collect();
        let definitions: HashMap<String, String> = [
            (
                "revenue_daily",
                "create view metrics.revenue_daily as select * from bookings join tours using (tour_id)",
            ),
            (
                "kpi_overview",
                "create view metrics.kpi_overview as select * from metrics.revenue_daily, leads",
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let mut reads = HashSet::new();
        view_reads(
            "kpi_overview",
            &definitions,
            &tables,
            &mut HashSet::new(),
            &mut reads,
        );
        let mut reads: Vec<_> = reads.into_iter().collect();
        reads.sort();
        assert_eq!(reads, ["bookings", "leads", "tours"]);
    }

    #[test]
    fn entries_survive_their_encoding() {
        use arrow::array::{Int64Array, StringArray};
        use arrow::datatypes::{DataType, Field, Schema};
        let schema = Arc::new(Schema::new(vec![
            Field::new("kpi", DataType::Utf8, false),
            Field::new("value", DataType::Int64, true),
        ]));
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(StringArray::from(vec!["a", "b"])),
                Arc::new(Int64Array::from(vec![Some(1), None])),
            ],
        )
        .unwrap();
        let entry = Entry {
            versions: [("bookings".to_string(), 3), ("*".to_string(), 1)].into(),
            result: Arc::new(CachedResult::new(schema, vec![batch.clone()])),
        };
        let decoded = decode_entry(&encode_entry(&entry).unwrap()).unwrap();
        assert_eq!(decoded.versions, entry.versions);
        assert_eq!(decoded.result.batches, vec![batch]);
        assert!(decode_entry(b"not an entry").is_none());
    }

    #[test]
    fn writes_name_their_tables() {
        assert_eq!(written("SELECT * FROM bookings"), Written::Nothing);
        assert_eq!(
            written("insert into Bookings (id) values (1)"),
            Written::Tables(vec!["bookings".into()])
        );
        assert_eq!(
            written("-- x\nDELETE FROM public.leads WHERE id IN (SELECT id FROM tmp)"),
            Written::Tables(vec!["leads".into(), "tmp".into()])
        );
        assert_eq!(written("CREATE TABLE t (a int)"), Written::Catalog);
        assert_eq!(
            written("COPY Bookings (booking_id) FROM STDIN"),
            Written::Tables(vec!["bookings".into()])
        );
        // Every statement of a multi-statement text counts, not only the first.
        assert_eq!(written("SELECT 1; DROP TABLE t"), Written::Catalog);
        assert_eq!(
            written("BEGIN; INSERT INTO leads VALUES (1); COMMIT;"),
            Written::Tables(vec!["leads".into()])
        );
        assert_eq!(written("SELECT 1; SELECT 2;"), Written::Nothing);
        assert_eq!(written("SELECT 1;"), Written::Nothing);
    }

    #[test]
    fn keys_differ_by_parameters() {
        assert_ne!(
            entry_key("f", "SELECT $1", "1"),
            entry_key("f", "SELECT $1", "2")
        );
        assert_ne!(
            entry_key("f", "SELECT 1", ""),
            entry_key("g", "SELECT 1", "")
        );
        assert_eq!(
            entry_key("f", "SELECT 1", ""),
            entry_key("f", "SELECT 1", "")
        );
        assert_eq!(entry_key("f", "x", "").len(), 64);
    }
}
