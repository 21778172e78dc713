//! Report schedules and the record of runs, kept in the store so they survive restarts:
//! `spirit.report_schedules` (what runs when, and where it goes) and `spirit.report_runs`
//! (one row per delivery attempt series: status, attempts, bytes, the error). A frequency is
//! `daily`, `weekly` (Mondays), `monthly` (the 1st), `quarterly` (1 Jan, Apr, Jul, Oct) at
//! 08:00 or the `at` option, or a cron expression, in a time zone; croner finds the next time.

use std::str::FromStr;

use chrono::{NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use croner::Cron;
use duckdb::{OptionalExt, params};
use spirit_core::store::Store;

use crate::{Result, error, invalid};

/// SQLSTATE 42704: no schedule with that id.
pub const UNDEFINED_OBJECT: &str = "42704";

/// The tables, and the views users read (with secrets redacted).
const DDL: &str = "
CREATE SCHEMA IF NOT EXISTS spirit;
CREATE SCHEMA IF NOT EXISTS spirit_internal;
CREATE SEQUENCE IF NOT EXISTS spirit_internal.report_ids;
CREATE TABLE IF NOT EXISTS spirit_internal.report_schedules (
    id BIGINT NOT NULL,
    report_type VARCHAR NOT NULL,
    frequency VARCHAR NOT NULL,
    cron VARCHAR NOT NULL,
    timezone VARCHAR NOT NULL,
    destination VARCHAR NOT NULL,
    destination_shown VARCHAR NOT NULL,
    options VARCHAR NOT NULL,
    options_shown VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL,
    next_run_at TIMESTAMP NOT NULL,
    last_run_at TIMESTAMP,
    last_status VARCHAR
);
CREATE TABLE IF NOT EXISTS spirit.report_runs (
    id BIGINT NOT NULL,
    schedule_id BIGINT,
    report_type VARCHAR NOT NULL,
    destination VARCHAR,
    status VARCHAR NOT NULL,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    bytes BIGINT,
    attempts INTEGER NOT NULL,
    error VARCHAR
);
CREATE OR REPLACE VIEW spirit.report_schedules AS
SELECT id, report_type, frequency, cron, timezone, destination_shown AS destination,
       options_shown AS options, created_at, next_run_at, last_run_at, last_status
FROM spirit_internal.report_schedules;
COMMENT ON VIEW spirit.report_schedules IS 'Scheduled reports: schedule_report() adds one, unschedule_report(id) removes it, run_report_now(id) runs it at once. Times are UTC; a run missed while the engine was down runs once at start-up.';
COMMENT ON COLUMN spirit.report_schedules.frequency IS 'As given: daily, weekly, monthly, quarterly or a cron expression.';
COMMENT ON COLUMN spirit.report_schedules.cron IS 'The cron expression it runs on, in timezone.';
COMMENT ON COLUMN spirit.report_schedules.destination IS 'Where it goes (Slack URLs shortened to their host).';
COMMENT ON COLUMN spirit.report_schedules.options IS 'Options JSON (secrets shown as ***).';
COMMENT ON COLUMN spirit.report_schedules.next_run_at IS 'When it runs next (UTC).';
COMMENT ON COLUMN spirit.report_schedules.last_status IS 'delivered or failed: how the last run ended.';
COMMENT ON TABLE spirit.report_runs IS 'Every report run, one row per destination: generate_report(), run_report_now() and schedules. status is running, retrying, delivered, generated (no destination) or failed, with the reason in error.';
COMMENT ON COLUMN spirit.report_runs.schedule_id IS 'The schedule that ran it; NULL for generate_report().';
COMMENT ON COLUMN spirit.report_runs.bytes IS 'Bytes delivered (the email as sent, the JSON posted, the files written).';
COMMENT ON COLUMN spirit.report_runs.attempts IS 'Delivery attempts made; failures are retried with exponential backoff up to report_max_attempts.';
COMMENT ON COLUMN spirit.report_runs.error IS 'Why the last attempt failed; NULL when delivered.';
";

/// Creates the tables if missing, and marks runs an earlier process left unfinished as
/// failed (their schedules run again, as their next run was never advanced).
pub fn create_tables(store: &Store) -> spirit_core::Result<()> {
    store.with_conn(|conn| {
        conn.execute_batch(DDL)?;
        let interrupted = conn.execute(
            "UPDATE spirit.report_runs
             SET status = 'failed', finished_at = ?,
                 error = 'interrupted: the engine stopped during this run' ||
                         CASE WHEN schedule_id IS NULL THEN '' ELSE '; the schedule runs it again' END
             WHERE status IN ('running', 'retrying')",
            params![utc_now()],
        )?;
        if interrupted > 0 {
            tracing::warn!(runs = interrupted, "report runs interrupted by the last stop are marked failed");
        }
        Ok(())
    })
}

/// The current UTC time, as the tables keep times.
pub fn utc_now() -> NaiveDateTime {
    Utc::now().naive_utc()
}

/// How often a schedule runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frequency {
    /// As the user wrote it.
    pub text: String,
    /// The cron expression (minute hour day-of-month month day-of-week).
    pub cron: String,
    pub timezone: Tz,
}

impl Frequency {
    /// `daily`, `weekly`, `monthly`, `quarterly` (at `at`, default 08:00) or a cron
    /// expression, in `timezone` (default `default_tz`).
    pub fn parse(
        text: &str,
        at: Option<&str>,
        timezone: Option<&str>,
        default_tz: &str,
    ) -> Result<Self> {
        let text = text.trim();
        let tz_name = timezone.unwrap_or(default_tz);
        let timezone = Tz::from_str(tz_name).map_err(|_| {
            invalid(format!(
                "unknown time zone \"{tz_name}\"; use an IANA name such as UTC or Europe/Berlin"
            ))
        })?;
        let (hour, minute) = match at {
            None => (8, 0),
            Some(at) => parse_time(at)?,
        };
        let named = match text.to_ascii_lowercase().as_str() {
            "daily" => Some(format!("{minute} {hour} * * *")),
            "weekly" => Some(format!("{minute} {hour} * * 1")),
            "monthly" => Some(format!("{minute} {hour} 1 * *")),
            "quarterly" => Some(format!("{minute} {hour} 1 1,4,7,10 *")),
            _ => None,
        };
        let cron = match named {
            Some(cron) => cron,
            None => {
                if at.is_some() {
                    return Err(invalid(
                        "\"at\" applies to daily, weekly, monthly and quarterly; a cron \
                         expression carries its own time",
                    ));
                }
                text.to_owned()
            }
        };
        let frequency = Self {
            text: text.to_owned(),
            cron,
            timezone,
        };
        frequency.parsed()?;
        Ok(frequency)
    }

    fn parsed(&self) -> Result<Cron> {
        if self.cron.split_whitespace().count() != 5 {
            return Err(invalid(format!(
                "\"{}\" is not a frequency: use daily, weekly, monthly, quarterly or a cron \
                 expression of five fields (minute hour day-of-month month day-of-week), \
                 e.g. '30 7 * * 1-5'",
                self.text
            )));
        }
        Cron::from_str(&self.cron)
            .map_err(|e| invalid(format!("cron expression \"{}\": {e}", self.cron)))
    }

    /// The first run strictly after `after` (UTC).
    pub fn next_after(&self, after: NaiveDateTime) -> Result<NaiveDateTime> {
        let local = Utc.from_utc_datetime(&after).with_timezone(&self.timezone);
        let next = self
            .parsed()?
            .find_next_occurrence(&local, false)
            .map_err(|e| invalid(format!("cron expression \"{}\" never runs: {e}", self.cron)))?;
        Ok(next.with_timezone(&Utc).naive_utc())
    }
}

fn parse_time(at: &str) -> Result<(u32, u32)> {
    let bad = || {
        invalid(format!(
            "\"at\" must be a time of day as HH:MM (07:30), not \"{at}\""
        ))
    };
    let (h, m) = at.trim().split_once(':').ok_or_else(bad)?;
    let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if h < 24 && m < 60 {
        Ok((h, m))
    } else {
        Err(bad())
    }
}

/// A schedule as stored.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub id: i64,
    pub report_type: String,
    pub frequency: Frequency,
    pub destination: String,
    /// Options JSON.
    pub options: String,
}

/// A new schedule's id from the shared sequence.
fn next_id(conn: &duckdb::Connection) -> duckdb::Result<i64> {
    conn.query_row("SELECT nextval('spirit_internal.report_ids')", [], |r| {
        r.get(0)
    })
}

/// Saves a new schedule first running after `now`; its id.
pub fn insert(
    store: &Store,
    schedule: &Schedule,
    destination_shown: &str,
    options_shown: &str,
    now: NaiveDateTime,
) -> Result<i64> {
    let next = schedule.frequency.next_after(now)?;
    Ok(store.with_conn(|conn| {
        let id = next_id(conn)?;
        conn.execute(
            "INSERT INTO spirit_internal.report_schedules VALUES
             (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL)",
            params![
                id,
                schedule.report_type,
                schedule.frequency.text,
                schedule.frequency.cron,
                schedule.frequency.timezone.name(),
                schedule.destination,
                destination_shown,
                schedule.options,
                options_shown,
                now,
                next
            ],
        )?;
        Ok(id)
    })?)
}

/// Deletes schedule `id`; 42704 when there is none.
pub fn delete(store: &Store, id: i64) -> Result<()> {
    let deleted = store.with_conn(|conn| {
        conn.execute(
            "DELETE FROM spirit_internal.report_schedules WHERE id = ?",
            params![id],
        )
    })?;
    if deleted == 0 {
        return Err(no_schedule(id));
    }
    Ok(())
}

fn no_schedule(id: i64) -> datafusion::error::DataFusionError {
    error(
        UNDEFINED_OBJECT,
        format!("there is no report schedule {id}; spirit.report_schedules lists them"),
    )
}

/// Schedule `id`; 42704 when there is none.
pub fn get(store: &Store, id: i64) -> Result<Schedule> {
    let row = store.with_conn(|conn| {
        conn.query_row(
            "SELECT report_type, frequency, cron, timezone, destination, options
             FROM spirit_internal.report_schedules WHERE id = ?",
            params![id],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                ))
            },
        )
        .optional()
    })?;
    let (report_type, text, cron, timezone, destination, options) =
        row.ok_or_else(|| no_schedule(id))?;
    let timezone = Tz::from_str(&timezone)
        .map_err(|_| invalid(format!("schedule {id}: unknown time zone {timezone}")))?;
    Ok(Schedule {
        id,
        report_type,
        frequency: Frequency {
            text,
            cron,
            timezone,
        },
        destination,
        options,
    })
}

/// The ids of schedules due at `now`, the most overdue first.
pub fn due(store: &Store, now: NaiveDateTime) -> Result<Vec<i64>> {
    Ok(store.with_conn(|conn| {
        let mut stmt = conn.prepare(
            "SELECT id FROM spirit_internal.report_schedules WHERE next_run_at <= ?
             ORDER BY next_run_at, id",
        )?;
        stmt.query_map(params![now], |r| r.get(0))?.collect()
    })?)
}

/// Records that schedule `id` ran at `now` with `status`, and when it runs next.
pub fn finished(
    store: &Store,
    schedule: &Schedule,
    status: &str,
    now: NaiveDateTime,
) -> Result<()> {
    let next = schedule.frequency.next_after(now)?;
    store.with_conn(|conn| {
        conn.execute(
            "UPDATE spirit_internal.report_schedules
             SET last_run_at = ?, last_status = ?, next_run_at = ? WHERE id = ?",
            params![now, status, next, schedule.id],
        )
    })?;
    Ok(())
}

/// Starts recording a run to `destination`; its id.
pub fn run_started(
    store: &Store,
    schedule_id: Option<i64>,
    report_type: &str,
    destination: Option<&str>,
) -> Result<i64> {
    Ok(store.with_conn(|conn| {
        let id = next_id(conn)?;
        conn.execute(
            "INSERT INTO spirit.report_runs VALUES (?, ?, ?, ?, 'running', ?, NULL, NULL, 0, NULL)",
            params![id, schedule_id, report_type, destination, utc_now()],
        )?;
        Ok(id)
    })?)
}

/// Updates run `id` after an attempt: `status` (`retrying`, `delivered`, `generated` or
/// `failed`), attempts so far, bytes sent, the error.
pub fn run_updated(
    store: &Store,
    id: i64,
    status: &str,
    attempts: u32,
    bytes: Option<u64>,
    error: Option<&str>,
) -> Result<()> {
    let finished = !matches!(status, "running" | "retrying");
    if finished {
        spirit_core::observability::report_run(status);
    }
    store.with_conn(|conn| {
        conn.execute(
            "UPDATE spirit.report_runs
             SET status = ?, attempts = ?, bytes = ?, error = ?,
                 finished_at = ?
             WHERE id = ?",
            params![
                status,
                attempts,
                bytes.map(|b| b as i64),
                error,
                finished.then(utc_now),
                id
            ],
        )
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;

    fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(h, min, 0)
            .unwrap()
    }

    #[test]
    fn named_frequencies_run_at_their_times_in_their_zone() {
        let daily = Frequency::parse("daily", Some("07:30"), Some("Europe/Berlin"), "UTC").unwrap();
        // 07:30 in Berlin in summer is 05:30 UTC.
        assert_eq!(
            daily.next_after(at(2026, 7, 1, 6, 0)).unwrap(),
            at(2026, 7, 2, 5, 30)
        );
        assert_eq!(
            daily.next_after(at(2026, 7, 1, 5, 0)).unwrap(),
            at(2026, 7, 1, 5, 30)
        );
        let weekly = Frequency::parse("weekly", None, None, "UTC").unwrap();
        // 2026-07-01 is a Wednesday; the next Monday is the 6th.
        assert_eq!(
            weekly.next_after(at(2026, 7, 1, 9, 0)).unwrap(),
            at(2026, 7, 6, 8, 0)
        );
        let quarterly = Frequency::parse("quarterly", None, None, "UTC").unwrap();
        assert_eq!(
            quarterly.next_after(at(2026, 7, 1, 9, 0)).unwrap(),
            at(2026, 10, 1, 8, 0)
        );
        let monthly = Frequency::parse("MONTHLY", None, None, "UTC").unwrap();
        assert_eq!(
            monthly.next_after(at(2026, 12, 15, 0, 0)).unwrap(),
            at(2027, 1, 1, 8, 0)
        );
        let cron = Frequency::parse("*/15 * * * *", None, None, "UTC").unwrap();
        assert_eq!(
            cron.next_after(at(2026, 7, 1, 9, 1)).unwrap(),
            at(2026, 7, 1, 9, 15)
        );
    }

    #[test]
    fn bad_frequencies_say_what_to_write() {
        let err = |f: &str, at: Option<&str>, tz: Option<&str>| {
            Frequency::parse(f, at, tz, "UTC").unwrap_err().to_string()
        };
        assert!(err("hourly", None, None).contains("daily, weekly, monthly, quarterly"));
        assert!(err("61 * * * *", None, None).contains("cron expression"));
        assert!(err("daily", Some("25:00"), None).contains("HH:MM"));
        assert!(err("daily", None, Some("Mars/Olympus")).contains("IANA"));
        assert!(err("0 7 * * *", Some("07:00"), None).contains("carries its own time"));
    }
}
