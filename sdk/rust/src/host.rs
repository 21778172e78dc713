//! What the engine offers a plugin: logging, config and secrets of the source being scanned,
//! HTTP GET to the hosts the manifest allows, and reading files under the paths it allows.
//!
//! A plugin has no other way out: the engine gives it an empty WASI context, so `std::fs`,
//! `std::net` and `std::env` find nothing. Every call here is bounded by the plugin's time
//! limit, and a request outside the manifest's `allowed_hosts` ends the call with an error the
//! engine reports against the plugin.

#[cfg(feature = "connector")]
use crate::bindings::spirit::plugin::host as wit;
#[cfg(not(feature = "connector"))]
use crate::model_bindings::spirit::plugin::host as wit;
use crate::{Error, Result};

/// The most [`read_file_range`] returns per call, and what [`read_file`] asks for at a time.
pub const MAX_READ_BYTES: u64 = 16 << 20;

/// Severity of a [`log`] line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Very detailed tracing.
    Trace,
    /// Details for whoever debugs the plugin.
    Debug,
    /// Normal operation worth noting.
    Info,
    /// Something the operator should know, e.g. rows skipped.
    Warn,
    /// A failure.
    Error,
}

/// Writes a line to the engine's log under the plugin's name.
pub fn log(level: Level, message: &str) {
    let level = match level {
        Level::Trace => wit::LogLevel::Trace,
        Level::Debug => wit::LogLevel::Debug,
        Level::Info => wit::LogLevel::Info,
        Level::Warn => wit::LogLevel::Warn,
        Level::Error => wit::LogLevel::Error,
    };
    wit::log(level, message);
}

/// The value of config option `key` of the source being scanned, if set.
pub fn config(key: &str) -> Option<String> {
    wit::config(key)
}

/// The value of config option `key`, or an `invalid-config` error naming it.
pub fn required_config(key: &str) -> Result<String> {
    config(key)
        .filter(|value| !value.is_empty())
        .ok_or_else(|| Error::invalid_config(format!("option '{key}' is required")))
}

/// The secret called `name`. Only names given by a config option the manifest marks
/// `secret = true` resolve.
pub fn secret(name: &str) -> Option<String> {
    wit::secret(name)
}

/// An HTTP response; any status, 4xx and 5xx included.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Header names and values, as received.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The first value of header `name`, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// GET `url` with `headers`. Transport failures (DNS, TLS, timeout, an oversized body) are
/// `upstream` errors; statuses are for the caller to judge.
pub fn http_get(url: &str, headers: &[(&str, &str)]) -> Result<HttpResponse> {
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect();
    let response = wit::http_get(url, &headers)
        .map_err(|error| Error::upstream(format!("GET {url}: {error}")))?;
    Ok(HttpResponse {
        status: response.status,
        headers: response.headers,
        body: response.body,
    })
}

/// Up to `length` (at most [`MAX_READ_BYTES`]) bytes of the file at `path` from `offset`;
/// fewer only at the end of the file, none past it.
pub fn read_file_range(path: &str, offset: u64, length: u64) -> Result<Vec<u8>> {
    wit::read_file(path, offset, length.min(MAX_READ_BYTES))
        .map_err(|error| Error::upstream(format!("read {path}: {error}")))
}

/// The whole file at `path`. Prefer [`read_file_range`] for files that may be large: the plugin's
/// memory limit applies.
pub fn read_file(path: &str) -> Result<Vec<u8>> {
    let mut data = Vec::new();
    loop {
        let chunk = read_file_range(path, data.len() as u64, MAX_READ_BYTES)?;
        let at_end = (chunk.len() as u64) < MAX_READ_BYTES;
        data.extend_from_slice(&chunk);
        if at_end {
            return Ok(data);
        }
    }
}

/// Sorted entry names of the directory at `path`; directory names end with `/`.
pub fn list_dir(path: &str) -> Result<Vec<String>> {
    wit::list_dir(path).map_err(|error| Error::upstream(format!("list {path}: {error}")))
}
