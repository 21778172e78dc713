//! `spirit plugin new|build|test`: a plugin author's loop. `new` scaffolds a working connector
//! crate, `build` compiles it to a WebAssembly component with the recipe of
//! ../shared/TOOLCHAIN.md (installing Debian's wasm toolchain when missing) and lays it out as
//! the engine loads it, and `test` loads it the way the engine does and prints its tables and
//! the first rows of each, so the author sees what SQL will see.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use arrow::array::RecordBatch;
use spirit_plugins::host::Task;
use spirit_plugins::{Runtime, Source};

use crate::output::{OutputFormat, write_batches};

/// Loads the plugin at `path` (its directory, or its `.wasm` beside `plugin.toml`), configures
/// a source with `options` (`key=value`) and prints each table with up to `rows` rows.
pub fn test(
    path: &Path,
    options: &[String],
    rows: u64,
    format: OutputFormat,
) -> anyhow::Result<()> {
    let dir = plugin_dir(path);
    let runtime = Runtime::new()?;
    let started = std::time::Instant::now();
    let plugin = runtime
        .load(&dir)
        .with_context(|| format!("loading the plugin in {}", dir.display()))?;
    println!(
        "plugin {} {} ({}), API {}, loaded in {} ms",
        plugin.manifest.name,
        plugin.manifest.version,
        plugin.manifest.kind,
        plugin.manifest.api,
        started.elapsed().as_millis()
    );
    let options = options
        .iter()
        .map(|option| match option.split_once('=') {
            Some((key, value)) => Ok((key.trim().to_string(), value.to_string())),
            None => bail!("--set takes key=value, got {option:?}"),
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    if plugin.is_model() {
        for algorithm in plugin.algorithms()? {
            let tasks: Vec<&str> = algorithm
                .tasks
                .iter()
                .map(|task| match task {
                    Task::Classification => "classification",
                    Task::Regression => "regression",
                    Task::Forecast => "forecast",
                })
                .collect();
            println!(
                "\nalgorithm {} ({}): {}",
                algorithm.name,
                tasks.join(", "),
                algorithm.description
            );
        }
        return Ok(());
    }
    let source = Source::new(&plugin.manifest, options)?;
    let mut out = std::io::stdout().lock();
    for table in spirit_plugins::tables(&plugin, &source)? {
        println!("\ntable {}: {}", table.name, table.description);
        for field in table.schema.fields() {
            println!("  {} {}", field.name(), field.data_type());
        }
        let scan = spirit_plugins::read_table(&plugin, &source, &table, Some(rows))?;
        let batches: Vec<RecordBatch> = scan.batches;
        write_batches(&mut out, &batches, format)?;
        println!(
            "pages: {}, skipped malformed rows: {}",
            scan.pages, scan.skipped_rows
        );
    }
    Ok(())
}

/// The plugin's directory: `path` itself, or the directory of a `.wasm` file.
fn plugin_dir(path: &Path) -> PathBuf {
    if path.extension().is_some_and(|e| e == "wasm") {
        path.parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
    } else {
        path.to_path_buf()
    }
}

/// Debian packages of the wasm32 toolchain (TOOLCHAIN.md); `rustc-web` builds std from source.
const TOOLCHAIN_PACKAGES: &[&str] = &[
    "rustc-web",
    "cargo-web",
    "rust-web-src",
    "lld-22",
    "wasi-libc",
];

/// What a new plugin is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// A data source: tables for `CREATE EXTERNAL TABLE … STORED AS <name>`.
    Connector,
    /// Algorithms for `train_model(…, '{"algorithm": "<name>"}')` and `predict`.
    Model,
}

/// Where the SDK is: this source tree's `sdk/rust` when the binary runs beside it, else the
/// project's repository; with the SDK feature of the plugin's kind.
fn sdk_dependency(kind: Kind) -> String {
    let tree = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sdk/rust");
    let source = match tree.canonicalize() {
        Ok(path) if path.join("Cargo.toml").is_file() => {
            format!("path = {:?}", path.display().to_string())
        }
        _ => "git = \"https://github.com/spirit-tours/spirit-analytics\"".to_string(),
    };
    match kind {
        Kind::Connector => format!("{{ {source} }}"),
        Kind::Model => format!(
            "{{ {source}, default-features = false, features = [\"model\", \"pthread-shim\"] }}"
        ),
    }
}

/// Creates `<dir>/<name>`: a connector crate serving one table, or a model crate with one
/// algorithm, with its manifest and a README.
pub fn new(name: &str, dir: &Path, kind: Kind) -> anyhow::Result<PathBuf> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        || name.starts_with(|c: char| c.is_ascii_digit())
    {
        bail!(
            "plugin name {name:?}: use lower-case letters, digits and underscores, starting with a letter"
        );
    }
    let root = dir.join(name);
    if root.exists() {
        bail!(
            "{} already exists; choose another name or directory",
            root.display()
        );
    }
    std::fs::create_dir_all(root.join("src"))
        .with_context(|| format!("creating {}", root.display()))?;
    let (manifest, lib, readme) = match kind {
        Kind::Connector => (scaffold::PLUGIN_TOML, scaffold::LIB_RS, scaffold::README),
        Kind::Model => (
            scaffold::MODEL_PLUGIN_TOML,
            scaffold::MODEL_LIB_RS,
            scaffold::MODEL_README,
        ),
    };
    let files = [
        (
            "Cargo.toml",
            scaffold::CARGO_TOML.replace("{sdk}", &sdk_dependency(kind)),
        ),
        ("plugin.toml", manifest.to_string()),
        ("src/lib.rs", lib.to_string()),
        ("README.md", readme.to_string()),
        (".gitignore", "/target\n/dist\n".to_string()),
    ];
    for (file, text) in files {
        std::fs::write(root.join(file), text.replace("{name}", name))
            .with_context(|| format!("writing {}", root.join(file).display()))?;
    }
    Ok(root)
}

/// Builds the plugin crate in `dir` to `dir/dist/<name>/{<name>.wasm, plugin.toml}`, and copies
/// that into `install` (a plugins directory) when given. Returns the output directory.
pub fn build(dir: &Path, install: Option<&Path>) -> anyhow::Result<PathBuf> {
    let manifest = spirit_plugins::manifest::Manifest::load(dir)?;
    ensure_toolchain()?;
    let target_dir =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| dir.join("target"), PathBuf::from);
    let path = format!(
        "/usr/lib/llvm-22/bin:/usr/bin:{}",
        std::env::var("PATH").unwrap_or_default()
    );
    let status = Command::new("/usr/bin/cargo")
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "-Zbuild-std=std,panic_abort",
        ])
        .current_dir(dir)
        .env("PATH", path)
        .env("RUSTC", "/usr/bin/rustc")
        .env("RUSTC_BOOTSTRAP", "1")
        .env("RUSTFLAGS", "-L /usr/lib/wasm32-wasi")
        .env("CARGO_TARGET_DIR", &target_dir)
        .status()
        .context("running /usr/bin/cargo")?;
    if !status.success() {
        bail!("cargo build of {} failed ({status})", dir.display());
    }
    let wasm = target_dir.join(format!("wasm32-wasip2/release/{}.wasm", manifest.name));
    let out = dir.join("dist").join(&manifest.name);
    copy_plugin(dir, &wasm, &out)?;
    if let Some(plugins_dir) = install {
        copy_plugin(dir, &wasm, &plugins_dir.join(&manifest.name))?;
    }
    Ok(out)
}

/// Writes `wasm` and `dir/plugin.toml` into `to`, through a hidden directory renamed into place
/// so a watching engine never sees half a plugin.
fn copy_plugin(dir: &Path, wasm: &Path, to: &Path) -> anyhow::Result<()> {
    let name = to
        .file_name()
        .context("plugin directory name")?
        .to_string_lossy();
    let parent = to.parent().context("plugin directory parent")?;
    let staging = parent.join(format!(".{name}.new"));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging)?;
    std::fs::copy(wasm, staging.join(format!("{name}.wasm")))
        .with_context(|| format!("copying {}", wasm.display()))?;
    std::fs::copy(dir.join("plugin.toml"), staging.join("plugin.toml"))?;
    if to.exists() {
        std::fs::remove_dir_all(to)?;
    }
    std::fs::rename(&staging, to)?;
    Ok(())
}

/// Installs Debian's wasm32 toolchain packages that are missing (as root), or says how to.
fn ensure_toolchain() -> anyhow::Result<()> {
    let installed = |package: &str| {
        Command::new("dpkg-query")
            .args(["-W", "-f=${Status}", package])
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
    };
    let missing: Vec<&str> = TOOLCHAIN_PACKAGES
        .iter()
        .copied()
        .filter(|p| !installed(p))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let command = format!("apt-get install -y {}", missing.join(" "));
    println!("installing the WebAssembly toolchain: {command}");
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let (program, prefix): (&str, &[&str]) = if root {
        ("apt-get", &[])
    } else {
        ("sudo", &["apt-get"])
    };
    let status = Command::new(program)
        .args(prefix)
        .args(["install", "-y", "-q"])
        .args(&missing)
        .status();
    match status {
        Ok(s) if s.success() => Ok(()),
        _ => bail!("could not install the WebAssembly toolchain; run as root: {command}"),
    }
}

/// The files `spirit plugin new` writes; `{name}` is the plugin's name.
mod scaffold {
    pub const CARGO_TOML: &str = r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"
publish = false

# A plugin is a WebAssembly component: `spirit plugin build` compiles this crate for
# wasm32-wasip2 and writes dist/{name}/{{name}.wasm, plugin.toml}.
[lib]
crate-type = ["cdylib"]

[dependencies]
spirit-plugin-sdk = {sdk}

# Its own workspace, wherever it is created.
[workspace]
"#;

    pub const PLUGIN_TOML: &str = r#"# What the engine reads before loading {name}.wasm beside this file.
name = "{name}"
version = "0.1.0"
kind = "connector"
api = "0.1.0"
description = "Numbers from 1 to `rows`, with their squares"

# What the plugin may reach: hosts for host::http_get (a `{option}` takes the host of an
# option's URL), directories for host::read_file and host::list_dir.
allowed_hosts = []
allowed_paths = []

memory_limit_mb = 64
timeout_ms = 10000

# Options of CREATE EXTERNAL TABLE … OPTIONS (…); `location = true` is set by LOCATION.
[config.rows]
type = "integer"
required = false
default = "10"
location = true
description = "How many rows the table has"
"#;

    pub const LIB_RS: &str = r#"//! `{name}`: a Spirit Analytics connector. Replace the table and the scan with your source.
//!
//! ```sql
//! CREATE EXTERNAL TABLE numbers STORED AS {name} LOCATION '100';
//! SELECT sum(square) FROM numbers;
//! ```

use spirit_plugin_sdk::prelude::*;

/// Rows per page: the engine asks for the next page with the cursor this one returns.
const PAGE_ROWS: i64 = 1000;

#[derive(Default)]
struct Plugin;

impl Connector for Plugin {
    fn tables(&self) -> Result<Vec<Table>> {
        let schema = Arc::new(Schema::new(vec![
            column("n", DataType::Int64, false, "The number"),
            column("square", DataType::Int64, false, "n times n"),
        ]));
        Ok(vec![Table::new("numbers", "Numbers and their squares", schema)])
    }

    fn scan(&self, request: &ScanRequest) -> Result<ScanPage> {
        let rows: i64 = host::required_config("rows")?
            .parse()
            .map_err(|_| Error::invalid_config("rows must be a whole number"))?;
        let start: i64 = request.cursor.as_deref().unwrap_or("1").parse().unwrap_or(1);
        let end = (start + PAGE_ROWS - 1).min(rows);
        let mut n = Int64Builder::new();
        let mut square = Int64Builder::new();
        for i in start..=end {
            n.append_value(i);
            square.append_value(i * i);
        }
        let schema = self.tables()?.remove(0).schema;
        let batch = RecordBatch::try_new(schema, vec![Arc::new(n.finish()), Arc::new(square.finish())])?;
        Ok(if end < rows {
            ScanPage::more(vec![batch], (end + 1).to_string())
        } else {
            ScanPage::last(vec![batch])
        })
    }
}

export_connector!(Plugin);
"#;

    pub const MODEL_PLUGIN_TOML: &str = r#"# What the engine reads before loading {name}.wasm beside this file.
name = "{name}"
version = "0.1.0"
kind = "model"
api = "0.1.0"
description = "Predicts the training mean: replace it with your algorithm"

# A model reaches nothing outside: no hosts, no files.
allowed_hosts = []
allowed_paths = []

memory_limit_mb = 256
timeout_ms = 60000
"#;

    pub const MODEL_LIB_RS: &str = r#"//! `{name}`: a Spirit Analytics model plugin. Replace the mean with your algorithm.
//!
//! ```sql
//! SELECT * FROM train_model('m', 'regression', 'SELECT x, y FROM t', 'y', '{"algorithm": "{name}"}');
//! SELECT * FROM predict('m', 'SELECT x FROM t');
//! ```

use spirit_plugin_sdk::model_prelude::*;

#[derive(Default)]
struct Plugin;

impl Model for Plugin {
    fn algorithms(&self) -> Vec<Algorithm> {
        vec![Algorithm::new("mean", &[Task::Regression], "Predicts the mean of the training label")]
    }

    /// The artifact is whatever `predict` needs: here, the mean as 8 bytes.
    fn train(&self, request: &TrainRequest) -> Result<Trained> {
        let mean = request.label.iter().sum::<f64>() / request.label.len().max(1) as f64;
        Ok(Trained {
            artifact: mean.to_le_bytes().to_vec(),
            metrics_json: format!("{{\"mean\": {mean}}}"),
        })
    }

    fn predict(&self, request: &PredictRequest) -> Result<Vec<f64>> {
        let bytes: [u8; 8] = request
            .artifact
            .as_slice()
            .try_into()
            .map_err(|_| Error::invalid_data("the artifact is not a mean"))?;
        Ok(vec![f64::from_le_bytes(bytes); request.features.rows()])
    }
}

export_model!(Plugin);
"#;

    pub const MODEL_README: &str = r#"# {name}

A Spirit Analytics model plugin.

    spirit plugin build .                 # dist/{name}/{name}.wasm + plugin.toml
    spirit plugin test dist/{name}        # lists its algorithms
    spirit plugin build . --install /path/to/data/plugins   # the engine loads it within a second

Then, in SQL: `SELECT * FROM train_model('m', 'regression', 'SELECT x, y FROM t', 'y', '{"algorithm": "{name}"}')`.
The SDK's tutorial is sdk/README.md in the Spirit Analytics repository.
"#;

    pub const README: &str = r#"# {name}

A Spirit Analytics connector plugin.

    spirit plugin build .                 # dist/{name}/{name}.wasm + plugin.toml
    spirit plugin test dist/{name} --set rows=5
    spirit plugin build . --install /path/to/data/plugins   # the engine loads it within a second

Then, in SQL: `CREATE EXTERNAL TABLE numbers STORED AS {name} LOCATION '100';`
The SDK's tutorial is sdk/README.md in the Spirit Analytics repository.
"#;
}
