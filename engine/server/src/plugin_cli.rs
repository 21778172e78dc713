//! `spirit plugin test`: loads a plugin the way the engine does and prints its tables and the
//! first rows of each, so an author sees what SQL will see.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use arrow::array::RecordBatch;
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
