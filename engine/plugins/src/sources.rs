//! `spirit.sources`, one row per plugin-backed table with its scan and refresh counters, and
//! acceleration: with `OPTIONS ('refresh_interval' '5m')` the source is copied into the store
//! (schema `spirit_acceleration`) at creation and then on that interval, and queries read the
//! copy, so dashboards do not hit the upstream API on every query. A failed refresh keeps the
//! previous copy serving and records why.

use std::sync::{Arc, Weak};
use std::time::Duration;

use spirit_core::store::{ACCELERATION_SCHEMA, Store};

use crate::{Plugin, PluginError, Source, TableSchema, read_table};

/// Parses a refresh interval: a number followed by `s`, `m`, `h` or `d` (`30s`, `5m`, `1h`).
pub fn parse_interval(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let seconds = match unit.trim() {
        "s" | "sec" | "second" | "seconds" => 1,
        "m" | "min" | "minute" | "minutes" => 60,
        "h" | "hour" | "hours" => 3600,
        "d" | "day" | "days" => 86_400,
        _ => 0,
    };
    match number.parse::<u64>() {
        Ok(n) if n > 0 && seconds > 0 => Ok(Duration::from_secs(n * seconds)),
        _ => Err(format!(
            "refresh_interval {text:?} is not an interval; write a positive number and a unit: \
             30s, 5m, 1h or 1d"
        )),
    }
}

/// The bookkeeping of one plugin-backed table.
#[derive(Debug)]
pub struct SourceRecord {
    store: Store,
    /// The table's SQL name.
    pub name: String,
}

impl SourceRecord {
    /// Creates or updates the row of table `name`, keeping its counters if it existed.
    pub fn register(
        store: &Store,
        name: &str,
        plugin: &str,
        plugin_table: &str,
        location: Option<&str>,
        refresh_interval: Option<&str>,
    ) -> Result<Self, PluginError> {
        store
            .with_conn(|conn| {
                conn.execute(
                    "INSERT INTO spirit.sources (name, plugin, plugin_table, location, refresh_interval) \
                     VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET \
                     plugin = excluded.plugin, plugin_table = excluded.plugin_table, \
                     location = excluded.location, refresh_interval = excluded.refresh_interval",
                    duckdb::params![name, plugin, plugin_table, location, refresh_interval],
                )
            })
            .map_err(|e| PluginError::Engine(format!("cannot write spirit.sources: {e}")))?;
        Ok(Self {
            store: store.clone(),
            name: name.to_string(),
        })
    }

    /// Adds one scan's rows and skipped rows, and its error (or clears it).
    pub fn record_scan(&self, rows: u64, skipped: u64, error: Option<&PluginError>) {
        let error = error.map(ToString::to_string);
        let written = self.store.with_conn(|conn| {
            conn.execute(
                "UPDATE spirit.sources SET last_scan_at = now()::TIMESTAMP, \
                 rows_read = rows_read + ?, skipped_rows = skipped_rows + ?, last_error = ? \
                 WHERE name = ?",
                duckdb::params![rows as i64, skipped as i64, error, self.name],
            )
        });
        if let Err(e) = written {
            tracing::error!(source = %self.name, "cannot update spirit.sources: {e}");
        }
    }

    fn record_refresh(&self, result: Result<u64, &PluginError>) {
        let (rows, error) = match result {
            Ok(rows) => (Some(rows as i64), None),
            Err(e) => (None, Some(e.to_string())),
        };
        let written = self.store.with_conn(|conn| match rows {
            Some(rows) => conn.execute(
                "UPDATE spirit.sources SET last_refresh_at = now()::TIMESTAMP, \
                 last_refresh_rows = ?, last_refresh_error = NULL WHERE name = ?",
                duckdb::params![rows, self.name],
            ),
            None => conn.execute(
                "UPDATE spirit.sources SET last_refresh_error = ? WHERE name = ?",
                duckdb::params![error, self.name],
            ),
        });
        if let Err(e) = written {
            tracing::error!(source = %self.name, "cannot update spirit.sources: {e}");
        }
    }
}

/// What a refresh needs: where to read and where to write.
pub struct Refresh {
    /// The table's bookkeeping.
    pub record: Arc<SourceRecord>,
    /// The source's options.
    pub source: Arc<Source>,
    /// The plugin's table.
    pub table: TableSchema,
    /// How often.
    pub interval: Duration,
}

impl Refresh {
    /// Copies the whole source into `spirit_acceleration.<name>`, replacing the previous copy
    /// in one transaction, unless `wanted` says (once the source is read) that the table has
    /// been dropped meanwhile. Returns the rows copied.
    pub fn run(&self, plugin: &Plugin, wanted: &dyn Fn() -> bool) -> Result<u64, PluginError> {
        let started = std::time::Instant::now();
        let result = read_table(plugin, &self.source, &self.table, None).and_then(|scan| {
            if !wanted() {
                return Ok(0);
            }
            self.record
                .store
                .replace_table(
                    ACCELERATION_SCHEMA,
                    &self.record.name,
                    &self.table.schema,
                    &scan.batches,
                )
                .map_err(|e| {
                    PluginError::Engine(format!("cannot write the accelerated copy: {e}"))
                })?;
            self.record
                .record_scan(scan.rows(), scan.skipped_rows, None);
            Ok(scan.rows())
        });
        match &result {
            Ok(rows) => tracing::info!(
                source = %self.record.name,
                rows,
                ms = started.elapsed().as_millis() as u64,
                "accelerated copy refreshed"
            ),
            Err(e) => tracing::warn!(
                source = %self.record.name,
                "refresh failed; the previous copy keeps serving: {e}"
            ),
        }
        self.record.record_refresh(result.as_ref().copied());
        result
    }

    /// Refreshes now and then every interval, on a blocking thread, for as long as `owner`
    /// (the table) lives; `plugin` gives the plugin's current version at each refresh.
    pub fn schedule<T: Send + Sync + 'static>(
        self: Arc<Self>,
        owner: Weak<T>,
        plugin: impl Fn() -> Result<Arc<Plugin>, PluginError> + Send + Sync + 'static,
    ) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let plugin = Arc::new(plugin);
        runtime.spawn(async move {
            loop {
                if owner.strong_count() == 0 {
                    return;
                }
                let refresh = Arc::clone(&self);
                let plugin = Arc::clone(&plugin);
                let owner = owner.clone();
                let done = tokio::task::spawn_blocking(move || {
                    let wanted = || owner.strong_count() > 0;
                    // The outcome is logged and recorded in spirit.sources.
                    let _ = plugin().and_then(|plugin| refresh.run(&plugin, &wanted));
                })
                .await;
                if done.is_err() {
                    tracing::error!(source = %self.record.name, "refresh panicked");
                }
                tokio::time::sleep(self.interval).await;
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_are_parsed() {
        assert_eq!(parse_interval("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_interval("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_interval("1 h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_interval("2d"), Ok(Duration::from_secs(172_800)));
        for bad in ["", "5", "0m", "m", "5 weeks", "-1m"] {
            let err = parse_interval(bad).unwrap_err();
            assert!(err.contains("30s, 5m"), "{bad}: {err}");
        }
    }
}
