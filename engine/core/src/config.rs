//! Engine configuration: `spirit.toml`, overridden by `SPIRIT_<KEY>` environment variables.
//!
//! Every option has a documented default, so an empty or missing file is a valid configuration.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Result, SpiritError};

/// The engine's configuration. Field names are the `spirit.toml` keys; each can be overridden by
/// the environment variable `SPIRIT_<KEY>` (for example `SPIRIT_PG_LISTEN=127.0.0.1:6543`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address of the PostgreSQL wire-protocol front end.
    pub pg_listen: SocketAddr,
    /// Directory holding the embedded store (`store.duckdb`) and engine state.
    pub data_dir: PathBuf,
    /// Name of the one database clients connect to (`psql -d spirit`).
    pub database: String,
    /// Maximum number of concurrent client connections; further ones get SQLSTATE 53300.
    pub max_connections: usize,
    /// Scale of the demo data generated on first start (1 is about 100k bookings).
    pub demo_scale: u32,
    /// Seed of the demo data generator.
    pub demo_seed: u64,
    /// Log format: `text` for people, `json` for log collectors.
    pub log_format: LogFormat,
    /// On SIGINT/SIGTERM, seconds to let open connections finish before they are closed.
    pub shutdown_grace_seconds: u64,
    /// Directory of the metric views, one `<view>.sql` file each (see `queries/metrics`).
    pub metrics_dir: PathBuf,
    /// Seconds between checks of `metrics_dir` for changed files; 0 turns the watcher off.
    pub metrics_reload_seconds: u64,
    /// Evaluate the metric views' relative windows ("last 30 days") at this UTC instant
    /// (`2026-06-30 12:00:00`) instead of now: for reproducible reports and past demo data.
    pub metrics_as_of: Option<String>,
    /// What one request handled by a person costs, in EUR, for `cost_savings_vs_human`.
    pub human_cost_per_query_eur: f64,
    /// What one request handled by an AI agent costs, in EUR, for `cost_savings_vs_human`.
    pub ai_cost_per_query_eur: f64,
    /// Win probability per open CRM pipeline stage, for `metrics.crm_pipeline.weighted_value`;
    /// stages not given keep their defaults (new 0.1 … negotiation 0.8).
    pub crm_stage_weights: BTreeMap<String, f64>,
    /// Targets of the KPIs in `metrics.kpi_overview`, by KPI name; KPIs not given keep their
    /// defaults (see `spirit.kpi_targets`).
    pub kpi_targets: BTreeMap<String, KpiTarget>,
    /// Days of `spirit.query_log` and `spirit.engine_heartbeats` kept; older rows are deleted.
    pub query_log_retention_days: u32,
    /// The users who may connect, by name, each with a role and a SCRAM-SHA-256 verifier
    /// (`spirit user add` writes them). With none, only the demo user `spirit` (password
    /// `spirit`, role admin) exists, and only on a loopback address.
    pub users: BTreeMap<String, User>,
    /// PEM file with the server's TLS certificate chain; with `tls_key`, turns TLS on.
    pub tls_cert: Option<PathBuf>,
    /// PEM file with the private key of `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// Directory of WebAssembly plugins, one sub-directory each (`plugin.toml` and
    /// `<name>.wasm`); default `<data_dir>/plugins`.
    pub plugins_dir: Option<PathBuf>,
    /// Seconds between checks of `plugins_dir` for new, changed or removed plugins; 0 turns
    /// hot reload off.
    pub plugins_reload_seconds: u64,
    /// Hours after which the domain prediction models (churn_risk, demand_forecast …) are
    /// retrained from the store's history, and their cached answers dropped.
    pub ml_retrain_hours: u64,
    /// Directory for model artifacts as files; unset keeps them in the store. The environment
    /// variable `ML_MODELS_PATH` sets it too.
    pub ml_models_path: Option<PathBuf>,
    /// Directory overriding and adding report types: `<dir>/<type>/report.toml`,
    /// `template.html`, `template.txt`, and `<dir>/base.html` for the shared layout. Unset,
    /// the bundled types of `queries/reports` are used as they are.
    pub reports_dir: Option<PathBuf>,
    /// IANA time zone of report schedules that do not name one.
    pub report_timezone: String,
    /// Seconds between checks for due report schedules.
    pub report_poll_seconds: f64,
    /// Delivery attempts per destination before a report run is recorded as failed.
    pub report_max_attempts: u32,
    /// Seconds before the second delivery attempt; each further wait doubles.
    pub report_retry_seconds: f64,
    /// Seconds an SMTP or HTTP delivery may take.
    pub report_timeout_seconds: u64,
    /// Key of the HMAC-SHA256 signature on webhook deliveries (header
    /// `X-Spirit-Signature-256`); `REPORT_WEBHOOK_SECRET` sets it too.
    pub report_webhook_secret: Option<String>,
    /// SMTP server reports are emailed through; `SMTP_HOST` sets it too.
    pub smtp_host: Option<String>,
    /// Its port; default 587 for starttls, 465 for tls, 25 for none. `SMTP_PORT` sets it too.
    pub smtp_port: Option<u16>,
    /// SMTP login; `SMTP_USERNAME` sets it too.
    pub smtp_username: Option<String>,
    /// SMTP password; `SMTP_PASSWORD` sets it too.
    pub smtp_password: Option<String>,
    /// Sender of report emails; default `Spirit Analytics <reports@<smtp_host>>`.
    pub smtp_from: Option<String>,
    /// `starttls` (required STARTTLS), `tls` (TLS from the start) or `none` (plain text, for
    /// a relay on the same host).
    pub smtp_tls: String,
    /// PEM file of CA certificates to trust for the SMTP server, besides the public roots.
    pub smtp_ca_file: Option<PathBuf>,
    /// Address of the HTTP front end: the REST API, the live feed, ingest and `/metrics`.
    pub http_listen: SocketAddr,
    /// Seconds a cached query result lives at most (it is dropped earlier when the tables it
    /// read change); 0 turns the result cache off. `DASHBOARD_CACHE_TTL` sets it too.
    pub cache_ttl_seconds: u64,
    /// Megabytes of results the in-process cache keeps; one result over an eighth of it is not
    /// kept.
    pub cache_max_mb: u64,
    /// Redis server that holds the result cache instead of the engine's memory, shared by
    /// every engine pointed at it. `REDIS_HOST` sets it too.
    pub redis_host: Option<String>,
    /// Its port. `REDIS_PORT` sets it too.
    pub redis_port: u16,
    /// Its database number. `REDIS_DB` sets it too.
    pub redis_db: u32,
    /// Its password. `REDIS_PASSWORD` sets it too.
    pub redis_password: Option<String>,
    /// Milliseconds a Redis command may take; slower, the query runs uncached.
    pub cache_redis_timeout_ms: u64,
    /// Seconds between live-feed snapshots (they are also pushed as soon as data lands).
    /// `DASHBOARD_UPDATE_INTERVAL` sets it too.
    pub dashboard_update_seconds: f64,
    /// Live-feed messages kept for a slow client; beyond, the oldest are dropped with a notice.
    pub feed_buffer: usize,
    /// Largest ingest request body, in megabytes.
    pub ingest_max_mb: u64,
    /// Key that signs the HTTP API's bearer tokens (`POST /api/auth/token`); unset, a random
    /// key per start (tokens then end with the process). Give engines behind one load
    /// balancer the same key.
    pub api_token_secret: Option<String>,
    /// Hours a bearer token stays valid.
    pub api_token_hours: u64,
}

/// The user that exists when no users are configured (password `spirit`, role admin).
pub const DEMO_USER: &str = "spirit";

/// A user who may connect.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct User {
    /// What the user may do.
    pub role: Role,
    /// The password as a SCRAM-SHA-256 verifier, in PostgreSQL's `rolpassword` format
    /// (`SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`); never the password itself.
    pub password: String,
}

/// What a user may do.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads everything; changes nothing.
    Analyst,
    /// Also creates and drops tables, external tables, schedules and plugins.
    Admin,
}

impl Role {
    /// The role's name as written in `spirit.toml`.
    pub fn name(self) -> &'static str {
        match self {
            Role::Analyst => "analyst",
            Role::Admin => "admin",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = SpiritError;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "analyst" => Ok(Role::Analyst),
            "admin" => Ok(Role::Admin),
            other => Err(SpiritError::InvalidInput(format!(
                "unknown role {other:?}; the roles are admin and analyst"
            ))),
        }
    }
}

/// The target of one KPI: `value <comparison> target` is ok; missing the target but meeting
/// `warning` is a warning; anything else a breach.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct KpiTarget {
    /// The value to beat.
    pub target: f64,
    /// The value at which a miss becomes a breach; defaults to the target (no warning band).
    pub warning: Option<f64>,
    /// `>` (higher is better) or `<` (lower is better); required for KPIs without a default.
    pub comparison: Option<String>,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            pg_listen: SocketAddr::from(([127, 0, 0, 1], 5433)),
            data_dir: PathBuf::from("./data"),
            database: "spirit".to_string(),
            max_connections: 512,
            demo_scale: 1,
            demo_seed: 42,
            log_format: LogFormat::Text,
            shutdown_grace_seconds: 10,
            metrics_dir: PathBuf::from("queries/metrics"),
            metrics_reload_seconds: 2,
            metrics_as_of: None,
            human_cost_per_query_eur: 4.5,
            ai_cost_per_query_eur: 0.05,
            crm_stage_weights: BTreeMap::new(),
            kpi_targets: BTreeMap::new(),
            query_log_retention_days: 30,
            users: BTreeMap::new(),
            tls_cert: None,
            tls_key: None,
            plugins_dir: None,
            plugins_reload_seconds: 1,
            ml_retrain_hours: 24,
            ml_models_path: None,
            reports_dir: None,
            report_timezone: "UTC".to_string(),
            report_poll_seconds: 30.0,
            report_max_attempts: 4,
            report_retry_seconds: 5.0,
            report_timeout_seconds: 30,
            report_webhook_secret: None,
            smtp_host: None,
            smtp_port: None,
            smtp_username: None,
            smtp_password: None,
            smtp_from: None,
            smtp_tls: "starttls".to_string(),
            smtp_ca_file: None,
            http_listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            cache_ttl_seconds: 300,
            cache_max_mb: 256,
            redis_host: None,
            redis_port: 6379,
            redis_db: 0,
            redis_password: None,
            cache_redis_timeout_ms: 250,
            dashboard_update_seconds: 30.0,
            feed_buffer: 32,
            ingest_max_mb: 64,
            api_token_secret: None,
            api_token_hours: 12,
        }
    }
}

/// The keys of [`Config`], used to read their `SPIRIT_<KEY>` overrides.
const KEYS: &[&str] = &[
    "pg_listen",
    "data_dir",
    "database",
    "max_connections",
    "demo_scale",
    "demo_seed",
    "log_format",
    "shutdown_grace_seconds",
    "metrics_dir",
    "metrics_reload_seconds",
    "metrics_as_of",
    "human_cost_per_query_eur",
    "ai_cost_per_query_eur",
    "query_log_retention_days",
    "tls_cert",
    "tls_key",
    "plugins_dir",
    "plugins_reload_seconds",
    "ml_retrain_hours",
    "ml_models_path",
    "reports_dir",
    "report_timezone",
    "report_poll_seconds",
    "report_max_attempts",
    "report_retry_seconds",
    "report_timeout_seconds",
    "report_webhook_secret",
    "smtp_host",
    "smtp_port",
    "smtp_username",
    "smtp_password",
    "smtp_from",
    "smtp_tls",
    "smtp_ca_file",
    "http_listen",
    "cache_ttl_seconds",
    "cache_max_mb",
    "redis_host",
    "redis_port",
    "redis_db",
    "redis_password",
    "cache_redis_timeout_ms",
    "dashboard_update_seconds",
    "feed_buffer",
    "ingest_max_mb",
    "api_token_secret",
    "api_token_hours",
];

/// The platform's own environment variables, honoured as these keys when `SPIRIT_<KEY>` is
/// not set.
const PLATFORM_ENV: &[(&str, &str)] = &[
    ("REDIS_HOST", "redis_host"),
    ("REDIS_PORT", "redis_port"),
    ("REDIS_DB", "redis_db"),
    ("REDIS_PASSWORD", "redis_password"),
    ("DASHBOARD_CACHE_TTL", "cache_ttl_seconds"),
    ("DASHBOARD_UPDATE_INTERVAL", "dashboard_update_seconds"),
];

/// Keys whose `SPIRIT_<KEY>` value is text even when it looks like a number (a password
/// of digits).
const TEXT_KEYS: &[&str] = &[
    "database",
    "report_timezone",
    "report_webhook_secret",
    "smtp_host",
    "smtp_username",
    "smtp_password",
    "smtp_from",
    "smtp_tls",
    "redis_host",
    "redis_password",
    "api_token_secret",
];

impl Config {
    /// Loads `path` if given (it must exist) or `./spirit.toml` if present, then applies the
    /// `SPIRIT_<KEY>` environment overrides.
    pub fn load(path: Option<&Path>) -> Result<Self> {
        let text = match path {
            Some(path) => std::fs::read_to_string(path).map_err(|e| {
                SpiritError::Config(format!("cannot read config file {}: {e}", path.display()))
            })?,
            None => std::fs::read_to_string("spirit.toml").unwrap_or_default(),
        };
        Self::from_toml_with_env(&text, |key| std::env::var(key).ok())
    }

    /// Parses `text` as TOML and applies overrides read through `env`.
    pub fn from_toml_with_env(text: &str, env: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let mut table: toml::Table = toml::from_str(text)
            .map_err(|e| SpiritError::Config(format!("invalid spirit.toml: {e}")))?;
        for key in KEYS {
            let var = format!("SPIRIT_{}", key.to_uppercase());
            let platform = PLATFORM_ENV
                .iter()
                .find(|(_, k)| k == key)
                .and_then(|(var, _)| env(var));
            if let Some(value) = env(&var).or(platform) {
                let value = if TEXT_KEYS.contains(key) {
                    toml::Value::String(value)
                } else {
                    env_value(&value)
                };
                table.insert((*key).to_string(), value);
            }
        }
        table
            .try_into()
            .map_err(|e| SpiritError::Config(format!("invalid configuration: {e}")))
    }

    /// The names and roles of the users who may log in: the configured ones, or the demo user.
    pub fn login_roles(&self) -> Vec<(String, Role)> {
        if self.users.is_empty() {
            return vec![(DEMO_USER.to_string(), Role::Admin)];
        }
        self.users
            .iter()
            .map(|(name, user)| (name.clone(), user.role))
            .collect()
    }

    /// The plugins directory: `plugins_dir`, or `<data_dir>/plugins`.
    pub fn plugins_dir(&self) -> PathBuf {
        self.plugins_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("plugins"))
    }

    /// Path of the embedded store file.
    pub fn store_path(&self) -> PathBuf {
        self.data_dir.join("store.duckdb")
    }

    /// The metric views' reference instant, validated: `metrics_as_of` as a timestamp.
    pub fn metrics_as_of(&self) -> Result<Option<chrono::NaiveDateTime>> {
        let Some(text) = self
            .metrics_as_of
            .as_deref()
            .filter(|t| !t.trim().is_empty())
        else {
            return Ok(None);
        };
        let text = text.trim();
        [
            "%Y-%m-%d %H:%M:%S",
            "%Y-%m-%dT%H:%M:%S",
            "%Y-%m-%dT%H:%M:%SZ",
        ]
        .iter()
        .find_map(|f| chrono::NaiveDateTime::parse_from_str(text, f).ok())
        .or_else(|| {
            chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })
        .map(Some)
        .ok_or_else(|| {
            SpiritError::Config(format!(
                "metrics_as_of = {text:?} is not a timestamp; write it as \
                     'YYYY-MM-DD HH:MM:SS' (UTC) or 'YYYY-MM-DD'"
            ))
        })
    }
}

/// Environment values are strings; numbers are passed as TOML numbers so that numeric keys
/// accept `SPIRIT_MAX_CONNECTIONS=100` and `SPIRIT_HUMAN_COST_PER_QUERY_EUR=3.5`.
fn env_value(value: &str) -> toml::Value {
    if let Ok(n) = value.parse::<i64>() {
        return toml::Value::Integer(n);
    }
    match value.parse::<f64>() {
        Ok(x) if x.is_finite() => toml::Value::Float(x),
        _ => toml::Value::String(value.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_gives_defaults() {
        let config = Config::from_toml_with_env("", |_| None).unwrap();
        assert_eq!(config, Config::default());
        assert_eq!(config.pg_listen.port(), 5433);
    }

    #[test]
    fn environment_overrides_file() {
        let config = Config::from_toml_with_env("max_connections = 10\ndata_dir = 'x'", |k| {
            (k == "SPIRIT_MAX_CONNECTIONS").then(|| "20".to_string())
        })
        .unwrap();
        assert_eq!(config.max_connections, 20);
        assert_eq!(config.data_dir, PathBuf::from("x"));
    }

    #[test]
    fn platform_variables_apply_unless_spirit_ones_are_set() {
        let config = Config::from_toml_with_env("cache_ttl_seconds = 10", |k| match k {
            "REDIS_HOST" => Some("10.0.0.7".to_string()),
            "REDIS_DB" => Some("3".to_string()),
            "DASHBOARD_CACHE_TTL" => Some("60".to_string()),
            "SPIRIT_REDIS_DB" => Some("4".to_string()),
            _ => None,
        })
        .unwrap();
        assert_eq!(config.redis_host.as_deref(), Some("10.0.0.7"));
        assert_eq!(config.redis_db, 4);
        assert_eq!(config.cache_ttl_seconds, 60);
    }

    #[test]
    fn unknown_key_is_an_error_naming_it() {
        let err = Config::from_toml_with_env("pg_port = 1", |_| None).unwrap_err();
        assert!(err.to_string().contains("pg_port"), "{err}");
    }
}
