//! The sandbox: one wasmtime engine for all plugins, a component compiled once per plugin, and
//! a fresh store per call with the manifest's memory limit and an epoch deadline for its time
//! limit. The host functions of `spirit:plugin/host` answer only within what the manifest
//! allows: `read-file`/`list-dir` under its allowed paths, `http-get` to its allowed hosts,
//! `secret` for the names its secret options give. WASI is there with nothing granted (no
//! files, network, environment or arguments).

use std::collections::HashMap;
use std::path::{Component as PathPart, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Config, Engine, ResourceLimiter, Store, Trap};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::PluginError;
use crate::manifest::Manifest;

/// The bindings wasmtime generates from sdk/wit for the `connector` world.
mod bindings {
    wasmtime::component::bindgen!({
        world: "connector",
        path: "../../sdk/wit",
    });
}

/// The bindings of the `model` world, sharing the connector world's `host` and `types`.
mod model_bindings {
    wasmtime::component::bindgen!({
        world: "model",
        path: "../../sdk/wit",
        with: {
            "spirit:plugin/host": super::bindings::spirit::plugin::host,
            "spirit:plugin/types": super::bindings::spirit::plugin::types,
        },
    });
}

/// The WIT types the engine exchanges with plugins.
pub use bindings::spirit::plugin::types::{
    AlgorithmInfo, ErrorKind, Filter, FilterOp, ForecastRequest, ForecastResult, Literal,
    PluginError as GuestError, PredictRequest, ScanPage, ScanRequest, TableInfo, Task,
    TrainRequest, TrainedModel,
};

use bindings::spirit::plugin::host::{HttpResponse, LogLevel};
use bindings::{Connector, ConnectorPre};
use model_bindings::{Model, ModelPre};

/// How often the epoch advances: the resolution of every time limit.
const EPOCH_TICK: Duration = Duration::from_millis(10);
/// The most one `read-file` call returns.
const MAX_READ: u64 = 16 << 20;
/// The largest HTTP response body `http-get` hands a plugin.
const MAX_HTTP_BODY: u64 = 64 << 20;

/// The wasmtime engine and the host functions, shared by every plugin.
#[derive(Clone)]
pub struct Runtime {
    engine: Engine,
    linker: Arc<Linker<State>>,
}

impl Runtime {
    /// An engine with epoch interruption, ticking on its own thread for as long as it lives.
    /// Compiled code is not cached.
    pub fn new() -> Result<Self, PluginError> {
        Self::with_cache(None)
    }

    /// [`Runtime::new`], keeping compiled code in `cache_dir` (wasmtime's cache, keyed by the
    /// component's bytes and the compiler's settings): a plugin is compiled once, not at every
    /// start or reload.
    pub fn with_cache(cache_dir: Option<&Path>) -> Result<Self, PluginError> {
        let mut config = Config::new();
        config.epoch_interruption(true);
        if let Some(dir) = cache_dir {
            std::fs::create_dir_all(dir).map_err(|e| {
                PluginError::Engine(format!("cannot create {}: {e}", dir.display()))
            })?;
            // wasmtime wants an absolute directory; a data dir may be given relative.
            let dir = &std::path::absolute(dir).map_err(|e| {
                PluginError::Engine(format!("cannot resolve {}: {e}", dir.display()))
            })?;
            let mut cache = wasmtime::CacheConfig::new();
            cache.with_directory(dir);
            let cache = wasmtime::Cache::new(cache).map_err(|e| {
                PluginError::Engine(format!("plugin code cache in {}: {e:#}", dir.display()))
            })?;
            config.cache(Some(cache));
        }
        let engine = Engine::new(&config).map_err(PluginError::engine)?;
        let weak = engine.weak();
        std::thread::Builder::new()
            .name("plugin-epoch".into())
            .spawn(move || {
                while let Some(engine) = weak.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(EPOCH_TICK);
                }
            })
            .map_err(|e| PluginError::Engine(e.to_string()))?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(PluginError::engine)?;
        Connector::add_to_linker::<State, HasSelf<State>>(&mut linker, |state| state)
            .map_err(PluginError::engine)?;
        Ok(Self {
            engine,
            linker: Arc::new(linker),
        })
    }

    /// Loads the plugin in `dir` (its `plugin.toml` and `<name>.wasm`): checks the manifest,
    /// compiles the component, checks that it implements the world its manifest's `kind`
    /// names, and that its `metadata()` matches the manifest.
    pub fn load(&self, dir: &Path) -> Result<Plugin, PluginError> {
        let manifest = Manifest::load(dir)?;
        let wasm = manifest.wasm_path(dir);
        let component =
            Component::from_file(&self.engine, &wasm).map_err(|e| PluginError::Invalid {
                plugin: manifest.name.clone(),
                message: format!("{} is not a WebAssembly component: {e}", wasm.display()),
            })?;
        let not_implemented = |e: wasmtime::Error| PluginError::Invalid {
            plugin: manifest.name.clone(),
            message: format!(
                "{} does not implement spirit:plugin/{}@{}: {e}",
                wasm.display(),
                manifest.kind,
                crate::API_VERSION
            ),
        };
        let pre = self.linker.instantiate_pre(&component);
        let world = if manifest.kind == MODEL {
            World::Model(pre.and_then(ModelPre::new).map_err(not_implemented)?)
        } else {
            World::Connector(pre.and_then(ConnectorPre::new).map_err(not_implemented)?)
        };
        let plugin = Plugin {
            manifest,
            wasm,
            world,
            engine: self.engine.clone(),
            logged_error: Arc::default(),
            algorithms: std::sync::OnceLock::new(),
        };
        let metadata = match &plugin.world {
            World::Connector(_) => plugin.call(&Source::default(), |connector, store| {
                connector.call_metadata(store)
            })?,
            World::Model(_) => plugin.call_model(|model, store| model.call_metadata(store))?,
        };
        if metadata.name != plugin.manifest.name || metadata.version != plugin.manifest.version {
            return Err(PluginError::Invalid {
                plugin: plugin.manifest.name.clone(),
                message: format!(
                    "the component says it is {} {}, its plugin.toml {} {}",
                    metadata.name, metadata.version, plugin.manifest.name, plugin.manifest.version
                ),
            });
        }
        Ok(plugin)
    }
}

/// The manifest `kind` of a model plugin.
pub const MODEL: &str = "model";

/// The world a plugin implements, ready to instantiate.
enum World {
    Connector(ConnectorPre<State>),
    Model(ModelPre<State>),
}

/// A loaded plugin: its manifest and its compiled component, ready to instantiate.
pub struct Plugin {
    /// Its manifest.
    pub manifest: Manifest,
    /// The component file.
    pub wasm: PathBuf,
    world: World,
    engine: Engine,
    logged_error: Arc<LoggedError>,
    /// A model's algorithms, asked once: every ML call looks its algorithm up.
    algorithms: std::sync::OnceLock<Vec<AlgorithmInfo>>,
}

/// The last warning or error a plugin logged, and whether it is new since it was last read.
#[derive(Debug, Default)]
struct LoggedError {
    message: Mutex<Option<String>>,
    fresh: AtomicBool,
}

/// What one source of a plugin configures: its option values (defaults applied) and the
/// secrets its secret options name.
#[derive(Debug, Clone, Default)]
pub struct Source {
    options: HashMap<String, String>,
}

impl Source {
    /// The options of a source of `manifest`: checks that required ones are set and that no
    /// unknown one is, and fills in defaults.
    pub fn new(
        manifest: &Manifest,
        options: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, PluginError> {
        let mut values: HashMap<String, String> = options.into_iter().collect();
        if let Some(unknown) = values.keys().find(|k| !manifest.config.contains_key(*k)) {
            let known: Vec<&str> = manifest.config.keys().map(String::as_str).collect();
            return Err(PluginError::Config {
                plugin: manifest.name.clone(),
                message: format!(
                    "unknown option {unknown:?}; {} takes {}",
                    manifest.name,
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                ),
            });
        }
        for (name, option) in &manifest.config {
            if values.contains_key(name) {
                continue;
            }
            match &option.default {
                Some(default) => {
                    values.insert(name.clone(), default.clone());
                }
                None if option.required => {
                    return Err(PluginError::Config {
                        plugin: manifest.name.clone(),
                        message: format!("option {name:?} is required: {}", option.description),
                    });
                }
                None => {}
            }
        }
        Ok(Self { options: values })
    }
}

impl Plugin {
    /// The last line the plugin logged at `warn` or `error` level, if any.
    pub fn logged_error(&self) -> Option<String> {
        self.logged_error.fresh.store(false, Ordering::Relaxed);
        self.logged_error.message.lock().expect("lock").clone()
    }

    /// Whether the plugin logged a warning or error since [`Plugin::logged_error`] was read.
    pub fn logged_new_error(&self) -> bool {
        self.logged_error.fresh.load(Ordering::Relaxed)
    }

    /// The tables the plugin offers.
    pub fn list_tables(&self, source: &Source) -> Result<Vec<TableInfo>, PluginError> {
        self.call(source, |connector, store| connector.call_list_tables(store))?
            .map_err(|e| self.guest_error(e))
    }

    fn guest_error(&self, error: GuestError) -> PluginError {
        PluginError::Guest {
            plugin: self.manifest.name.clone(),
            kind: error.kind,
            message: error.message,
        }
    }

    /// Whether the plugin is a model (else a connector).
    pub fn is_model(&self) -> bool {
        matches!(self.world, World::Model(_))
    }

    fn connector_pre(&self) -> Result<&ConnectorPre<State>, PluginError> {
        match &self.world {
            World::Connector(pre) => Ok(pre),
            World::Model(_) => Err(PluginError::Config {
                plugin: self.manifest.name.clone(),
                message: "it is a model plugin, not a source connector".into(),
            }),
        }
    }

    /// Runs `f` on a fresh instance within the plugin's limits; traps become errors naming the
    /// plugin and what it ran into.
    fn call<T>(
        &self,
        source: &Source,
        f: impl FnOnce(&Connector, &mut Store<State>) -> wasmtime::Result<T>,
    ) -> Result<T, PluginError> {
        let pre = self.connector_pre()?;
        let mut store = self.store(source);
        let result = pre
            .instantiate(&mut store)
            .and_then(|connector| f(&connector, &mut store));
        result.map_err(|e| self.trap_error(&store, e))
    }

    /// [`Plugin::call`] for a model plugin (no source: models get no options).
    fn call_model<T>(
        &self,
        f: impl FnOnce(&Model, &mut Store<State>) -> wasmtime::Result<T>,
    ) -> Result<T, PluginError> {
        let World::Model(pre) = &self.world else {
            return Err(PluginError::Config {
                plugin: self.manifest.name.clone(),
                message: "it is a source connector, not a model plugin".into(),
            });
        };
        let mut store = self.store(&Source::default());
        let result = pre
            .instantiate(&mut store)
            .and_then(|model| f(&model, &mut store));
        result.map_err(|e| self.trap_error(&store, e))
    }

    /// The algorithms a model plugin offers (asked once per loaded version).
    pub fn algorithms(&self) -> Result<Vec<AlgorithmInfo>, PluginError> {
        if let Some(algorithms) = self.algorithms.get() {
            return Ok(algorithms.clone());
        }
        let algorithms = self.call_model(|model, store| model.call_algorithms(store))?;
        Ok(self.algorithms.get_or_init(|| algorithms).clone())
    }

    /// Trains one of a model plugin's algorithms.
    pub fn train(&self, request: &TrainRequest) -> Result<TrainedModel, PluginError> {
        let result = self
            .call_model(|model, store| model.call_train(store, request))
            .and_then(|answer| answer.map_err(|e| self.guest_error(e)));
        spirit_core::observability::plugin_call(&self.manifest.name, "train", result.is_ok());
        result
    }

    /// Predicts with an artifact `train` made: an Arrow IPC stream with a `prediction` column.
    pub fn predict(&self, request: &PredictRequest) -> Result<Vec<u8>, PluginError> {
        let result = self
            .call_model(|model, store| model.call_predict(store, request))
            .and_then(|answer| answer.map_err(|e| self.guest_error(e)));
        spirit_core::observability::plugin_call(&self.manifest.name, "predict", result.is_ok());
        result
    }

    /// Forecasts a series.
    pub fn forecast(&self, request: &ForecastRequest) -> Result<ForecastResult, PluginError> {
        let result = self
            .call_model(|model, store| model.call_forecast(store, request))
            .and_then(|answer| answer.map_err(|e| self.guest_error(e)));
        spirit_core::observability::plugin_call(&self.manifest.name, "forecast", result.is_ok());
        result
    }

    /// An instance for the pages of one scan. Its memory lives until the scan ends, so the pages
    /// after the first do not pay for a new instance's memory (page faults were a fifth of a
    /// scan's time); each call still gets the full time limit.
    pub fn instance(&self, source: &Source) -> Result<Instance<'_>, PluginError> {
        let pre = self.connector_pre()?;
        let mut store = self.store(source);
        let connector = pre
            .instantiate(&mut store)
            .map_err(|e| self.trap_error(&store, e))?;
        Ok(Instance {
            plugin: self,
            store,
            connector,
        })
    }

    /// A store with the plugin's memory limit and time limit, for `source`.
    fn store(&self, source: &Source) -> Store<State> {
        let limit = usize::try_from(self.manifest.memory_limit_mb << 20).unwrap_or(usize::MAX);
        let state = State {
            wasi: WasiCtx::builder().build(),
            table: ResourceTable::new(),
            limits: Limits {
                memory: limit,
                exceeded: false,
            },
            access: Access::new(&self.manifest, source),
            logged_error: Arc::clone(&self.logged_error),
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.limits);
        self.arm_deadline(&mut store);
        store.epoch_deadline_trap();
        store
    }

    fn arm_deadline(&self, store: &mut Store<State>) {
        let ticks = self
            .manifest
            .timeout_ms
            .div_ceil(EPOCH_TICK.as_millis() as u64);
        store.set_epoch_deadline(ticks.max(1));
    }

    /// What a failed call ran into: the memory limit, the time limit, or a trap.
    fn trap_error(&self, store: &Store<State>, e: wasmtime::Error) -> PluginError {
        let plugin = self.manifest.name.clone();
        if store.data().limits.exceeded {
            return PluginError::Memory {
                plugin,
                limit_mb: self.manifest.memory_limit_mb,
            };
        }
        match e.downcast_ref::<Trap>() {
            Some(Trap::Interrupt) => PluginError::Timeout {
                plugin,
                timeout_ms: self.manifest.timeout_ms,
            },
            Some(trap) => PluginError::Trap {
                plugin,
                message: trap.to_string(),
            },
            None => PluginError::Trap {
                plugin,
                message: format!("{e:#}"),
            },
        }
    }
}

/// One instance of a plugin, kept for the pages of one scan (see [`Plugin::instance`]). After
/// an error it must be dropped.
pub struct Instance<'a> {
    plugin: &'a Plugin,
    store: Store<State>,
    connector: Connector,
}

impl Instance<'_> {
    /// One page of a scan, within the plugin's time limit.
    pub fn scan(&mut self, request: &ScanRequest) -> Result<ScanPage, PluginError> {
        self.plugin.arm_deadline(&mut self.store);
        let result = self
            .connector
            .call_scan(&mut self.store, request)
            .map_err(|e| self.plugin.trap_error(&self.store, e))
            .and_then(|page| page.map_err(|e| self.plugin.guest_error(e)));
        spirit_core::observability::plugin_call(&self.plugin.manifest.name, "scan", result.is_ok());
        result
    }
}

/// The state of one call's store.
struct State {
    wasi: WasiCtx,
    table: ResourceTable,
    limits: Limits,
    access: Access,
    logged_error: Arc<LoggedError>,
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// The memory limit, remembering whether the plugin ran into it.
struct Limits {
    memory: usize,
    exceeded: bool,
}

impl ResourceLimiter for Limits {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory {
            self.exceeded = true;
            // A trap rather than a failed grow: Rust's allocator aborts on failure anyway,
            // and the error names the limit.
            return Err(wasmtime::format_err!(
                "memory limit of {} MiB reached",
                self.memory >> 20
            ));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 1_000_000)
    }
}

/// What one call may reach, from the manifest with a source's options filled in.
struct Access {
    plugin: String,
    options: HashMap<String, String>,
    secret_names: Vec<String>,
    paths: Vec<PathBuf>,
    hosts: Vec<String>,
}

impl Access {
    fn new(manifest: &Manifest, source: &Source) -> Self {
        let fill = |pattern: &str| -> Option<String> {
            match pattern.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                Some(option) => source.options.get(option).cloned(),
                None => Some(pattern.to_string()),
            }
        };
        let secret_names = manifest
            .config
            .iter()
            .filter(|(_, option)| option.secret)
            .filter_map(|(name, _)| source.options.get(name).cloned())
            .collect();
        Self {
            plugin: manifest.name.clone(),
            options: source.options.clone(),
            secret_names,
            paths: manifest
                .allowed_paths
                .iter()
                .filter_map(|p| fill(p))
                .map(|p| normalize(Path::new(&p)))
                .collect(),
            hosts: manifest
                .allowed_hosts
                .iter()
                .filter_map(|h| fill(h))
                .map(|h| host_of(&h).unwrap_or(h))
                .collect(),
        }
    }

    /// `path`, if it lies under an allowed directory.
    fn path(&self, path: &str) -> Result<PathBuf, String> {
        let path = normalize(Path::new(path));
        if path.is_absolute() && self.paths.iter().any(|allowed| path.starts_with(allowed)) {
            Ok(path)
        } else {
            Err(format!(
                "{} may not read {}: it is outside the plugin's allowed_paths",
                self.plugin,
                path.display()
            ))
        }
    }
}

/// `path` with `.` and `..` resolved lexically (symbolic links are not followed by the check,
/// so a link inside an allowed directory is read like a file there).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            PathPart::ParentDir => {
                out.pop();
            }
            PathPart::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// The `host[:port]` of a URL (or of a bare `host[:port]`).
fn host_of(url: &str) -> Option<String> {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    (!authority.is_empty()).then(|| authority.to_ascii_lowercase())
}

impl bindings::spirit::plugin::types::Host for State {}

impl bindings::spirit::plugin::host::Host for State {
    fn log(&mut self, level: LogLevel, message: String) {
        let plugin = &self.access.plugin;
        match level {
            LogLevel::Trace => tracing::trace!(plugin, "{message}"),
            LogLevel::Debug => tracing::debug!(plugin, "{message}"),
            LogLevel::Info => tracing::info!(plugin, "{message}"),
            LogLevel::Warn => tracing::warn!(plugin, "{message}"),
            LogLevel::Error => tracing::error!(plugin, "{message}"),
        }
        if matches!(level, LogLevel::Warn | LogLevel::Error) {
            *self.logged_error.message.lock().expect("lock") = Some(message);
            self.logged_error.fresh.store(true, Ordering::Relaxed);
        }
    }

    fn config(&mut self, key: String) -> Option<String> {
        self.access.options.get(&key).cloned()
    }

    fn secret(&mut self, name: String) -> Option<String> {
        // Only the secrets the source's secret options name; their values live in the
        // environment, never in the catalog.
        if !self.access.secret_names.contains(&name) {
            return None;
        }
        std::env::var(&name).ok()
    }

    fn http_get(
        &mut self,
        url: String,
        headers: Vec<(String, String)>,
    ) -> Result<HttpResponse, String> {
        let host = host_of(&url).ok_or_else(|| format!("{url:?} is not a URL"))?;
        if !self.access.hosts.contains(&host) {
            return Err(format!(
                "{} may not reach {host}: it is not in the plugin's allowed_hosts",
                self.access.plugin
            ));
        }
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .max_redirects(0)
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        let mut request = agent.get(&url);
        for (name, value) in &headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let mut response = request.call().map_err(|e| format!("GET {url}: {e}"))?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .filter_map(|(name, value)| {
                Some((name.as_str().to_string(), value.to_str().ok()?.to_string()))
            })
            .collect();
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_HTTP_BODY)
            .read_to_vec()
            .map_err(|e| format!("GET {url}: {e}"))?;
        Ok(HttpResponse {
            status,
            headers,
            body,
        })
    }

    fn read_file(&mut self, path: String, offset: u64, length: u64) -> Result<Vec<u8>, String> {
        use std::io::{Read, Seek, SeekFrom};
        let path = self.access.path(&path)?;
        let mut file =
            std::fs::File::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        file.seek(SeekFrom::Start(offset))
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let mut bytes = Vec::new();
        file.take(length.min(MAX_READ))
            .read_to_end(&mut bytes)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(bytes)
    }

    fn list_dir(&mut self, path: String) -> Result<Vec<String>, String> {
        let path = self.access.path(&path)?;
        let entries = std::fs::read_dir(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| format!("{}: {e}", path.display()))?;
            let mut name = entry.file_name().to_string_lossy().into_owned();
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                name.push('/');
            }
            names.push(name);
        }
        names.sort();
        Ok(names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_outside_the_allowed_directories_are_refused() {
        let access = Access {
            plugin: "p".into(),
            options: HashMap::new(),
            secret_names: Vec::new(),
            paths: vec![PathBuf::from("/data/cdr")],
            hosts: Vec::new(),
        };
        assert!(access.path("/data/cdr/a.csv").is_ok());
        assert!(access.path("/data/cdr/../secrets.txt").is_err());
        assert!(access.path("relative.csv").is_err());
        assert!(access.path("/etc/passwd").is_err());
    }

    #[test]
    fn hosts_are_read_from_urls() {
        assert_eq!(
            host_of("https://api.example.com:8443/v1/x?y").as_deref(),
            Some("api.example.com:8443")
        );
        assert_eq!(
            host_of("http://user@Example.com/").as_deref(),
            Some("example.com")
        );
        assert_eq!(host_of("localhost:9000").as_deref(), Some("localhost:9000"));
    }
}
