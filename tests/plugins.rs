//! WebAssembly plugins, loaded the way the engine loads them: the bundled `pbx_cdr` connector
//! (built by scripts/build-plugins.sh, which `make test` runs first) over its fixture files.

use std::path::PathBuf;
use std::process::Command;

use spirit_tests::{spirit, spirit_bin};

/// Where scripts/build-plugins.sh put the built plugins.
fn built_plugins() -> PathBuf {
    std::env::var_os("SPIRIT_PLUGINS_OUT").map_or_else(
        || PathBuf::from(std::env::var("HOME").expect("HOME")).join(".cache/spirit/plugins"),
        PathBuf::from,
    )
}

fn fixtures(plugin: &str) -> String {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../plugins")
        .join(plugin)
        .join("fixtures");
    dir.canonicalize().unwrap().display().to_string()
}

#[test]
fn pbx_cdr_reads_its_fixtures_and_counts_what_it_skips() {
    let plugin = built_plugins().join("pbx_cdr");
    let out = spirit(&[
        "plugin",
        "test",
        plugin.to_str().unwrap(),
        "--set",
        &format!("path={}", fixtures("pbx_cdr")),
        "--rows",
        "100",
        "--format",
        "csv",
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("plugin pbx_cdr 0.1.0 (connector), API 0.1.0"),
        "{text}"
    );
    assert!(text.contains("table cdr:"), "{text}");
    // Ten well-formed calls in two files; three malformed rows skipped and counted.
    let rows = text
        .lines()
        .skip_while(|l| !l.starts_with("history_id") && !l.contains(",call_id,"))
        .skip(1)
        .take_while(|l| !l.starts_with("pages:"))
        .count();
    assert_eq!(rows, 10, "{text}");
    assert!(text.contains("skipped malformed rows: 3"), "{text}");
}

#[test]
fn a_missing_source_directory_is_an_error_naming_the_plugin() {
    let plugin = built_plugins().join("pbx_cdr");
    // The source's directory does not exist: the scan fails with an error naming the plugin and
    // the directory, and nothing is printed as if it were empty.
    let out = Command::new(spirit_bin())
        .args([
            "plugin",
            "test",
            plugin.to_str().unwrap(),
            "--set",
            "path=/nonexistent/cdr",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("plugin pbx_cdr"), "{err}");
    assert!(err.contains("/nonexistent/cdr"), "{err}");
}

#[test]
fn a_source_missing_a_required_option_is_refused_with_its_description() {
    let plugin = built_plugins().join("pbx_cdr");
    let out = Command::new(spirit_bin())
        .args(["plugin", "test", plugin.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("option \"path\" is required"), "{err}");
}
