//! The plugins directory: every sub-directory with a `plugin.toml` is a plugin. All are loaded
//! when the engine starts; then the directory is polled, and a plugin whose files changed (and
//! then stayed unchanged for one poll, so a half-copied file is not loaded) is reloaded.
//!
//! Hidden sub-directories are skipped: write a plugin into `.<name>.new` and rename it into
//! place to install it atomically.
//!
//! Scans hold the [`Plugin`] they started with, so a reload never breaks a running query; the
//! next query gets the new version. A reload that fails leaves the previous version serving and
//! says why in `spirit.plugins.last_error`. Each loaded plugin's name is registered as a
//! `STORED AS` file type of the DataFusion session (see [`crate::table`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, RwLock, Weak};
use std::time::{Duration, SystemTime};

use chrono::{NaiveDateTime, Utc};
use datafusion::prelude::SessionContext;
use spirit_core::engine::Extension;
use spirit_core::store::Store;

use crate::table::PluginTableFactory;
use crate::{Plugin, PluginError, Runtime};

/// File types DataFusion has built in; a plugin may not take their names.
const BUILT_IN_FORMATS: &[&str] = &["csv", "parquet", "json", "ndjson", "avro", "arrow"];

/// The plugins of one directory, kept loaded.
pub struct Registry {
    runtime: Runtime,
    dir: PathBuf,
    reload: Option<Duration>,
    me: Weak<Registry>,
    entries: RwLock<BTreeMap<PathBuf, Entry>>,
    /// Files seen changed at the last poll, waiting to be seen unchanged once.
    pending: Mutex<BTreeMap<PathBuf, Stamp>>,
    session: OnceLock<(SessionContext, Store)>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

/// Sizes and modification times of a plugin directory's files: what a change is.
type Stamp = Vec<(String, u64, Option<SystemTime>)>;

/// One plugin directory.
struct Entry {
    stamp: Stamp,
    /// Its name: the manifest's, or the directory's when the manifest is unreadable.
    name: String,
    plugin: Option<Arc<Plugin>>,
    loaded_at: Option<NaiveDateTime>,
    error: Option<String>,
}

impl Registry {
    /// A registry of the plugins in `dir`, compiled with code cached in `cache_dir` and checked
    /// for changes every `reload` (never when `None`). Nothing is loaded until the engine
    /// installs it ([`Extension::install`]).
    pub fn new(
        dir: &Path,
        cache_dir: Option<&Path>,
        reload: Option<Duration>,
    ) -> Result<Arc<Self>, PluginError> {
        let runtime = Runtime::with_cache(cache_dir)?;
        Ok(Arc::new_cyclic(|me| Self {
            runtime,
            dir: dir.to_path_buf(),
            reload,
            me: me.clone(),
            entries: RwLock::default(),
            pending: Mutex::default(),
            session: OnceLock::new(),
        }))
    }

    /// The directory it watches.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The store, once installed.
    pub(crate) fn store(&self) -> Option<&Store> {
        self.session.get().map(|(_, store)| store)
    }

    /// The loaded plugin called `name`.
    pub fn plugin(&self, name: &str) -> Result<Arc<Plugin>, PluginError> {
        let entries = self.entries.read().expect("lock");
        let entry = entries.values().find(|e| e.name == name);
        match entry {
            Some(Entry {
                plugin: Some(plugin),
                ..
            }) => Ok(Arc::clone(plugin)),
            Some(Entry { error, .. }) => Err(PluginError::Invalid {
                plugin: name.to_string(),
                message: format!(
                    "it is not loaded: {}; see spirit.plugins",
                    error.as_deref().unwrap_or("unknown error")
                ),
            }),
            None => Err(PluginError::Invalid {
                plugin: name.to_string(),
                message: format!("there is no such plugin in {}", self.dir.display()),
            }),
        }
    }

    /// The loaded model plugins, by name.
    pub fn models(&self) -> Vec<Arc<Plugin>> {
        self.entries
            .read()
            .expect("lock")
            .values()
            .filter_map(|e| e.plugin.clone())
            .filter(|p| p.is_model())
            .collect()
    }

    /// Looks at the directory once: loads new plugins, reloads changed ones whose files have
    /// been stable since the last look (all of them when `settle` is false), forgets removed
    /// ones. Returns whether anything changed. Blocks while compiling.
    pub fn poll(&self, settle: bool) -> bool {
        let found = self.scan_dir();
        let mut changed = false;
        {
            let mut entries = self.entries.write().expect("lock");
            let before = entries.len();
            entries.retain(|dir, entry| {
                let keep = found.contains_key(dir);
                if !keep {
                    tracing::info!(plugin = %entry.name, "plugin removed from {}", dir.display());
                }
                keep
            });
            changed |= entries.len() != before;
        }
        for (dir, stamp) in found {
            let same = self
                .entries
                .read()
                .expect("lock")
                .get(&dir)
                .is_some_and(|e| e.stamp == stamp);
            if same {
                continue;
            }
            if settle {
                let mut pending = self.pending.lock().expect("lock");
                if pending.get(&dir) != Some(&stamp) {
                    pending.insert(dir, stamp);
                    continue;
                }
                pending.remove(&dir);
            }
            self.load(&dir, stamp);
            changed = true;
        }
        if changed {
            self.write_status();
        }
        changed
    }

    /// Sub-directories of the plugins directory that hold a `plugin.toml`, with their stamps.
    fn scan_dir(&self) -> BTreeMap<PathBuf, Stamp> {
        let mut found = BTreeMap::new();
        let Ok(dirs) = std::fs::read_dir(&self.dir) else {
            return found;
        };
        for dir in dirs.flatten() {
            let path = dir.path();
            // Hidden directories are plugins being copied in (scripts/build-plugins.sh).
            if dir.file_name().to_string_lossy().starts_with('.')
                || !path.join("plugin.toml").is_file()
            {
                continue;
            }
            let mut stamp: Stamp = std::fs::read_dir(&path)
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|file| {
                    let meta = file.metadata().ok()?;
                    meta.is_file().then(|| {
                        (
                            file.file_name().to_string_lossy().into_owned(),
                            meta.len(),
                            meta.modified().ok(),
                        )
                    })
                })
                .collect();
            stamp.sort();
            found.insert(path, stamp);
        }
        found
    }

    /// (Re)loads the plugin in `dir`.
    fn load(&self, dir: &Path, stamp: Stamp) {
        let dir_name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let started = std::time::Instant::now();
        let loaded = self.runtime.load(dir).and_then(|plugin| {
            let name = &plugin.manifest.name;
            if BUILT_IN_FORMATS.contains(&name.as_str()) {
                return Err(PluginError::Invalid {
                    plugin: name.clone(),
                    message: format!("{name} is a built-in file format; rename the plugin"),
                });
            }
            let taken = self
                .entries
                .read()
                .expect("lock")
                .iter()
                .find(|(other, e)| other.as_path() != dir && e.name == *name)
                .map(|(other, _)| other.clone());
            match taken {
                Some(other) => Err(PluginError::Invalid {
                    plugin: name.clone(),
                    message: format!(
                        "{} holds another plugin of that name; remove one",
                        other.display()
                    ),
                }),
                None => Ok(plugin),
            }
        });
        let mut entries = self.entries.write().expect("lock");
        let previous = entries.remove(dir);
        let entry = match (loaded, previous) {
            (Ok(plugin), _) => {
                tracing::info!(
                    plugin = %plugin.manifest.name,
                    version = %plugin.manifest.version,
                    ms = started.elapsed().as_millis() as u64,
                    "plugin loaded from {}",
                    dir.display()
                );
                if !plugin.is_model() {
                    self.register_factory(&plugin.manifest.name);
                }
                Entry {
                    stamp,
                    name: plugin.manifest.name.clone(),
                    plugin: Some(Arc::new(plugin)),
                    loaded_at: Some(Utc::now().naive_utc()),
                    error: None,
                }
            }
            (Err(e), Some(previous)) if previous.plugin.is_some() => {
                tracing::error!(
                    plugin = %previous.name,
                    "reload failed; the version loaded before keeps serving: {e}"
                );
                Entry {
                    stamp,
                    error: Some(format!(
                        "reload failed; the version loaded before keeps serving: {e}"
                    )),
                    ..previous
                }
            }
            (Err(e), _) => {
                tracing::error!(plugin = %dir_name, "plugin not loaded: {e}");
                Entry {
                    stamp,
                    name: crate::manifest::Manifest::load(dir)
                        .map(|m| m.name)
                        .unwrap_or(dir_name),
                    plugin: None,
                    loaded_at: None,
                    error: Some(e.to_string()),
                }
            }
        };
        entries.insert(dir.to_path_buf(), entry);
    }

    /// Makes `STORED AS <name>` reach this registry.
    fn register_factory(&self, name: &str) {
        let (Some((ctx, _)), Some(me)) = (self.session.get(), self.me.upgrade()) else {
            return;
        };
        let state = ctx.state_ref();
        let mut state = state.write();
        let key = name.to_uppercase();
        if !state.table_factories().contains_key(&key) {
            state
                .table_factories_mut()
                .insert(key, Arc::new(PluginTableFactory::new(me, name)));
        }
    }

    /// Rewrites `spirit.plugins` from what is loaded now.
    pub fn write_status(&self) {
        let Some(store) = self.store() else {
            return;
        };
        let rows: Vec<_> = self
            .entries
            .read()
            .expect("lock")
            .iter()
            .map(|(dir, e)| {
                let manifest = e.plugin.as_ref().map(|p| &p.manifest);
                let logged = e.plugin.as_ref().and_then(|p| p.logged_error());
                (
                    e.name.clone(),
                    manifest.map(|m| m.version.clone()),
                    manifest.map(|m| m.kind.clone()),
                    manifest.map(|m| m.api.clone()),
                    if e.plugin.is_some() {
                        "loaded"
                    } else {
                        "failed"
                    },
                    e.error.clone().or(logged),
                    e.loaded_at,
                    dir.display().to_string(),
                    manifest.map(|m| m.description.clone()),
                )
            })
            .collect();
        let written = store.with_transaction(|conn| {
            conn.execute("DELETE FROM spirit.plugins", [])?;
            let mut insert =
                conn.prepare("INSERT INTO spirit.plugins VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")?;
            for row in &rows {
                insert.execute(duckdb::params![
                    row.0, row.1, row.2, row.3, row.4, row.5, row.6, row.7, row.8
                ])?;
            }
            Ok(())
        });
        if let Err(e) = written {
            tracing::error!("cannot write spirit.plugins: {e}");
        }
    }

    /// Polls the directory every `reload` on a blocking thread, for as long as the registry
    /// lives.
    fn watch(&self) {
        let (Some(interval), Ok(runtime)) = (self.reload, tokio::runtime::Handle::try_current())
        else {
            return;
        };
        let me = self.me.clone();
        runtime.spawn(async move {
            loop {
                tokio::time::sleep(interval).await;
                let Some(registry) = me.upgrade() else {
                    return;
                };
                if tokio::task::spawn_blocking(move || registry.poll(true))
                    .await
                    .is_err()
                {
                    tracing::error!("plugin directory watcher panicked");
                }
            }
        });
    }
}

impl Extension for Registry {
    /// Loads every plugin, registers their names with the session and starts watching.
    fn install(&self, ctx: &SessionContext, store: &Store) -> spirit_core::Result<()> {
        if self.session.set((ctx.clone(), store.clone())).is_err() {
            return Err(spirit_core::SpiritError::Config(
                "the plugin registry is installed in one engine only".into(),
            ));
        }
        if !self.dir.is_dir() {
            tracing::info!(
                "no plugins directory at {}: no plugins loaded",
                self.dir.display()
            );
        }
        // Rewritten even when nothing loaded: the rows of the previous run must go.
        if !self.poll(false) {
            self.write_status();
        }
        self.watch();
        Ok(())
    }
}
