//! `plugin.toml`: what a plugin is, which WIT API it implements, what it may reach and within
//! which limits. It is read and checked before the component is compiled.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::{API_VERSION, PluginError};

/// A plugin's manifest.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Plugin name: the `STORED AS` name of its tables, and the `.wasm` file's stem.
    pub name: String,
    /// Its version; the component's `metadata()` must report the same.
    pub version: String,
    /// `connector` (a data source) or `model` (algorithms for the ML functions).
    pub kind: String,
    /// The WIT API version it implements (`spirit:plugin@<api>`).
    pub api: String,
    /// What it reads.
    #[serde(default)]
    pub description: String,
    /// Hosts `http-get` may reach: `host` or `host:port`; `{option}` takes the host of a
    /// source's URL option.
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    /// Directories `read-file` and `list-dir` may read, with everything under them; `{option}`
    /// takes a source's path option.
    #[serde(default)]
    pub allowed_paths: Vec<String>,
    /// Linear memory the plugin may grow to, in MiB.
    #[serde(default = "default_memory_limit_mb")]
    pub memory_limit_mb: u64,
    /// Wall-clock time one call may take, in milliseconds.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// The options a source of this plugin takes.
    #[serde(default)]
    pub config: BTreeMap<String, ConfigOption>,
}

/// One option of a source.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigOption {
    /// `string`, `path`, `url`, `integer` or `boolean`.
    #[serde(rename = "type", default = "default_option_type")]
    pub kind: String,
    /// Whether a source must set it.
    #[serde(default)]
    pub required: bool,
    /// Its value when a source does not set it (a TOML string, number or boolean).
    #[serde(default, deserialize_with = "scalar_text")]
    pub default: Option<String>,
    /// Whether `CREATE EXTERNAL TABLE … LOCATION` sets it.
    #[serde(default)]
    pub location: bool,
    /// Whether its value names a secret (looked up by the host, never stored in the catalog).
    #[serde(default)]
    pub secret: bool,
    /// What it means.
    #[serde(default)]
    pub description: String,
}

/// A TOML string, integer, float or boolean, as the text a source option holds.
fn scalar_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    use serde::de::Error;
    Ok(match Option::<toml::Value>::deserialize(d)? {
        None => None,
        Some(toml::Value::String(s)) => Some(s),
        Some(toml::Value::Integer(i)) => Some(i.to_string()),
        Some(toml::Value::Float(f)) => Some(f.to_string()),
        Some(toml::Value::Boolean(b)) => Some(b.to_string()),
        Some(other) => {
            return Err(D::Error::custom(format!(
                "default must be a string, number or boolean, not {}",
                other.type_str()
            )));
        }
    })
}

fn default_memory_limit_mb() -> u64 {
    128
}

fn default_timeout_ms() -> u64 {
    30_000
}

fn default_option_type() -> String {
    "string".to_string()
}

/// Kinds of plugin this engine loads.
const KINDS: &[&str] = &["connector", "model"];

impl Manifest {
    /// Reads and checks `dir/plugin.toml`.
    pub fn load(dir: &Path) -> Result<Self, PluginError> {
        let path = dir.join("plugin.toml");
        let text = std::fs::read_to_string(&path).map_err(|e| PluginError::Manifest {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let manifest: Manifest = toml::from_str(&text).map_err(|e| PluginError::Manifest {
            path: path.clone(),
            message: e.to_string(),
        })?;
        manifest.check(&path)?;
        Ok(manifest)
    }

    fn check(&self, path: &Path) -> Result<(), PluginError> {
        let fail = |message: String| {
            Err(PluginError::Manifest {
                path: path.to_path_buf(),
                message,
            })
        };
        if self.name.is_empty()
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            return fail(format!(
                "name {:?} must be lower-case letters, digits and underscores",
                self.name
            ));
        }
        if !KINDS.contains(&self.kind.as_str()) {
            return fail(format!(
                "kind {:?} is not one this engine loads ({})",
                self.kind,
                KINDS.join(", ")
            ));
        }
        if self.api != API_VERSION {
            return fail(format!(
                "api {:?} is not the plugin API this engine implements ({API_VERSION}); rebuild \
                 the plugin against spirit-plugin-sdk {API_VERSION}",
                self.api
            ));
        }
        if self.memory_limit_mb == 0 || self.timeout_ms == 0 {
            return fail("memory_limit_mb and timeout_ms must be above 0".to_string());
        }
        Ok(())
    }

    /// The component file beside the manifest: `<name>.wasm`.
    pub fn wasm_path(&self, dir: &Path) -> PathBuf {
        dir.join(format!("{}.wasm", self.name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, text: &str) {
        std::fs::write(dir.join("plugin.toml"), text).unwrap();
    }

    #[test]
    fn a_manifest_for_another_api_is_refused_with_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "name = \"x\"\nversion = \"1.0.0\"\nkind = \"connector\"\napi = \"9.9.9\"\n",
        );
        let err = Manifest::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("9.9.9") && err.contains("rebuild"), "{err}");
    }

    #[test]
    fn defaults_and_options_are_read() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "name = \"pbx\"\nversion = \"0.1.0\"\nkind = \"connector\"\napi = \"0.1.0\"\n\
             allowed_paths = [\"{path}\"]\n[config.path]\ntype = \"path\"\nrequired = true\n\
             [config.rows]\ntype = \"integer\"\ndefault = 100\n",
        );
        let manifest = Manifest::load(dir.path()).unwrap();
        assert_eq!(manifest.memory_limit_mb, 128);
        assert!(manifest.config["path"].required);
        assert_eq!(manifest.config["rows"].default.as_deref(), Some("100"));
        assert_eq!(manifest.wasm_path(dir.path()), dir.path().join("pbx.wasm"));
    }
}
