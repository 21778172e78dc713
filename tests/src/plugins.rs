//! Helpers for tests that load WebAssembly plugins: where scripts/build-plugins.sh put them,
//! a server whose plugins directory holds some, and reading answers and errors.

use std::path::{Path, PathBuf};

use tempfile::TempDir;
use tokio_postgres::Client;

use crate::{ServerOptions, SpiritServer, demo_template, spirit_bin, sqlstate};

/// Where scripts/build-plugins.sh put the built plugins.
pub fn built_plugins() -> PathBuf {
    std::env::var_os("SPIRIT_PLUGINS_OUT")
        .map_or_else(|| cache_dir().join("plugins"), PathBuf::from)
}

/// Where scripts/build-plugins.sh put the test-only plugins (plugins/testing).
pub fn test_plugins() -> PathBuf {
    std::env::var_os("SPIRIT_TEST_PLUGINS_OUT")
        .map_or_else(|| cache_dir().join("test-plugins"), PathBuf::from)
}

pub fn cache_dir() -> PathBuf {
    PathBuf::from(std::env::var("HOME").expect("HOME")).join(".cache/spirit")
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

/// A server on a copy of the demo data whose plugins directory holds `plugins` (names from the
/// bundled and test plugins), with `env` set.
pub fn server_with_plugins(plugins: &[&str], env: &[(&str, &str)]) -> (SpiritServer, TempDir) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        demo_template().join("store.duckdb"),
        dir.path().join("store.duckdb"),
    )
    .unwrap();
    for name in plugins {
        install(dir.path(), name);
    }
    let server = SpiritServer::start_with(ServerOptions {
        data_dir: Some(dir.path().to_path_buf()),
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..Default::default()
    });
    (server, dir)
}

/// Copies plugin `name` into the plugins directory of data dir `data_dir`.
pub fn install(data_dir: &Path, name: &str) {
    let from = [built_plugins(), test_plugins()]
        .into_iter()
        .map(|dir| dir.join(name))
        .find(|dir| dir.is_dir())
        .unwrap_or_else(|| panic!("plugin {name} not built; run scripts/build-plugins.sh"));
    copy_dir(&from, &data_dir.join("plugins").join(name));
}

/// The error of `sql`, which must fail: (SQLSTATE, message).
pub async fn failure(client: &Client, sql: &str) -> (String, String) {
    let err = client
        .simple_query(sql)
        .await
        .expect_err(&format!("{sql} must fail"));
    let message = err
        .as_db_error()
        .map(|e| e.message().to_string())
        .unwrap_or_else(|| err.to_string());
    (sqlstate(&err), message)
}

/// The first column of the first row of `sql`, as text; `None` for NULL or no row.
pub async fn value(client: &Client, sql: &str) -> Option<String> {
    client
        .simple_query(sql)
        .await
        .expect(sql)
        .into_iter()
        .find_map(|message| match message {
            tokio_postgres::SimpleQueryMessage::Row(row) => row.get(0).map(str::to_string),
            _ => None,
        })
}

/// `spirit plugin build <crate_dir> --install <plugins_dir>`, in the bundled plugins' target
/// directory (std and arrow are built there already); panics with cargo's output on failure.
pub fn build_and_install(crate_dir: &Path, plugins_dir: &Path) {
    let build = std::process::Command::new(spirit_bin())
        .args(["plugin", "build"])
        .arg(crate_dir)
        .arg("--install")
        .arg(plugins_dir)
        .env("CARGO_TARGET_DIR", cache_dir().join("plugins-target"))
        .output()
        .unwrap();
    assert!(
        build.status.success(),
        "{}",
        String::from_utf8_lossy(&build.stderr)
    );
}
