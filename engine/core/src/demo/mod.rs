//! The Spirit Tours demo data set: a seeded, deterministic simulation of three years of a tour
//! operator's business, written into the embedded store.
//!
//! [`schema`] documents every table and column, [`truths`] lists the effects planted in the data,
//! [`simulate`] produces the rows.

mod random;
pub mod schema;
mod simulate;
pub mod truths;

use chrono::NaiveDate;
use indicatif::{ProgressBar, ProgressStyle};

use crate::error::{Result, SpiritError};
use crate::store::{Store, quote_ident};

/// What `spirit demo` generates.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Volume multiplier: 1 gives about 100k bookings, 100 about 10M.
    pub scale: u32,
    /// Random seed; the same seed and end date give the same data.
    pub seed: u64,
    /// Last day of data; the set covers the three years ending on it.
    pub end_date: NaiveDate,
    /// Draw a progress bar on stderr.
    pub progress: bool,
}

/// What was generated.
#[derive(Debug, Clone)]
pub struct DemoSummary {
    /// Rows written per table.
    pub rows: Vec<(&'static str, u64)>,
    /// First and last day of the data.
    pub days: (NaiveDate, NaiveDate),
}

/// Replaces the demo tables in `store` with freshly generated data, in one transaction: a failure
/// leaves the previous data as it was.
pub fn generate(store: &Store, options: &DemoOptions) -> Result<DemoSummary> {
    if options.scale == 0 || options.scale > 1000 {
        return Err(SpiritError::InvalidInput(format!(
            "demo scale must be between 1 and 1000, got {}",
            options.scale
        )));
    }
    let progress = if options.progress {
        let bar = ProgressBar::new(0).with_style(
            ProgressStyle::with_template(
                "{msg} [{elapsed_precise}] {wide_bar} {pos}/{len} days ({eta} left)",
            )
            .expect("valid progress template"),
        );
        bar.set_message("generating demo data");
        bar
    } else {
        ProgressBar::hidden()
    };
    let rows = store.with_conn(|conn| {
        conn.execute_batch("BEGIN TRANSACTION")?;
        let result = (|| {
            let load = schema::LOAD_SCHEMA;
            conn.execute_batch(&format!(
                "DROP SCHEMA IF EXISTS {load} CASCADE; CREATE SCHEMA {load};"
            ))?;
            for table in schema::TABLES {
                conn.execute_batch(&table.load_ddl())?;
            }
            let rows = simulate::simulate(
                conn,
                simulate::SimulationOptions {
                    scale: options.scale,
                    seed: options.seed,
                    end_date: options.end_date,
                },
                &progress,
            )?;
            // Referencing tables go first when dropping and last when filling.
            for table in schema::TABLES.iter().rev() {
                conn.execute_batch(&format!("DROP TABLE IF EXISTS {}", quote_ident(table.name)))?;
            }
            for table in schema::TABLES {
                conn.execute_batch(&table.ddl())?;
                conn.execute_batch(&format!(
                    "INSERT INTO {name} SELECT * FROM {load}.{name}",
                    name = quote_ident(table.name)
                ))?;
            }
            Ok(rows)
        })();
        match result {
            Ok(rows) => {
                // Dropped after the commit: DuckDB refuses to commit rows appended to a table
                // dropped in the same transaction.
                conn.execute_batch(&format!(
                    "COMMIT; DROP SCHEMA {} CASCADE; CHECKPOINT",
                    schema::LOAD_SCHEMA
                ))?;
                Ok(rows)
            }
            Err(e) => {
                conn.execute_batch("ROLLBACK")?;
                Err(e)
            }
        }
    })?;
    progress.finish_and_clear();
    Ok(DemoSummary {
        rows,
        days: (
            options.end_date - chrono::Duration::days(365 * 3),
            options.end_date,
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/demo-data.md is generated from [`schema::TABLES`]; this keeps the two in step.
    #[test]
    fn demo_docs_are_up_to_date() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/demo-data.md");
        let expected = schema::markdown();
        if std::env::var_os("UPDATE_DOCS").is_some() {
            std::fs::write(path, &expected).unwrap();
        }
        let actual = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            actual == expected,
            "docs/demo-data.md is stale: run UPDATE_DOCS=1 cargo test --workspace --lib demo_docs"
        );
    }
}
