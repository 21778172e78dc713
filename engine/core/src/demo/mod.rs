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
    // The inner result is a data error found before committing (rolled back too).
    let outcome = store.with_conn(|conn| {
        conn.execute_batch("BEGIN TRANSACTION")?;
        let result = (|| -> duckdb::Result<std::result::Result<simulate::RowCounts, String>> {
            for table in schema::TABLES.iter().rev() {
                conn.execute_batch(&format!("DROP TABLE IF EXISTS {}", quote_ident(table.name)))?;
            }
            for table in schema::TABLES {
                conn.execute_batch(&table.ddl())?;
                conn.execute_batch(&table.declare_references())?;
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
            for table in schema::TABLES {
                if let Some(query) = table.orphans_query() {
                    let orphans: i64 = conn.query_row(&query, [], |row| row.get(0))?;
                    if orphans > 0 {
                        return Ok(Err(format!(
                            "demo data: {orphans} rows of {} reference no row (a generator bug)",
                            table.name
                        )));
                    }
                }
            }
            Ok(Ok(rows))
        })();
        match result {
            Ok(Ok(rows)) => {
                conn.execute_batch("COMMIT; CHECKPOINT")?;
                Ok(Ok(rows))
            }
            Ok(Err(message)) => {
                conn.execute_batch("ROLLBACK")?;
                Ok(Err(message))
            }
            Err(e) => {
                conn.execute_batch("ROLLBACK")?;
                Err(e)
            }
        }
    })?;
    let rows = outcome.map_err(SpiritError::InvalidInput)?;
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

    /// The declared foreign keys are checked: a booking of a customer that does not exist is
    /// counted.
    #[test]
    fn orphans_are_counted() {
        let conn = duckdb::Connection::open_in_memory().unwrap();
        let table = |name: &str| schema::TABLES.iter().find(|t| t.name == name).unwrap();
        for name in ["customers", "tours", "partners", "bookings"] {
            conn.execute_batch(&table(name).ddl()).unwrap();
        }
        conn.execute_batch(
            "INSERT INTO customers (customer_id) VALUES (1);
             INSERT INTO tours (tour_id) VALUES (1);
             INSERT INTO bookings (booking_id, customer_id, tour_id) VALUES (1, 1, 1), (2, 99, 1);",
        )
        .unwrap();
        let query = table("bookings").orphans_query().unwrap();
        let orphans: i64 = conn.query_row(&query, [], |row| row.get(0)).unwrap();
        assert_eq!(orphans, 1);
        assert!(table("customers").orphans_query().is_none());
    }

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
