//! Time series as models take them: sorted, evenly spaced at a detected frequency, complete.
//! A series with NULL values, gaps, duplicate or misaligned timestamps is refused with a
//! message that says how to fix it in the query, rather than silently repaired.

use chrono::{DateTime, Months, NaiveDateTime};

use crate::{Result, invalid};

const MICROS_PER_HOUR: i64 = 3_600_000_000;
const MICROS_PER_DAY: i64 = 24 * MICROS_PER_HOUR;

/// Fewest points a series may have.
pub const MIN_POINTS: usize = 3;
/// A series shorter than this is forecast by the linear-trend fallback.
pub const MIN_SEASONAL_POINTS: usize = 10;
/// The longest horizon, as a multiple of the series' length.
pub const MAX_HORIZON_FACTOR: usize = 10;

/// The spacing of a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frequency {
    Hourly,
    Daily,
    Weekly,
    Monthly,
    Quarterly,
    Yearly,
}

impl Frequency {
    /// The frequency whose step `micros` is (a median spacing).
    pub fn from_step(micros: i64) -> Option<Self> {
        let days = micros as f64 / MICROS_PER_DAY as f64;
        Some(match micros {
            MICROS_PER_HOUR => Self::Hourly,
            MICROS_PER_DAY => Self::Daily,
            _ if micros == 7 * MICROS_PER_DAY => Self::Weekly,
            _ if (28.0..=31.0).contains(&days) => Self::Monthly,
            _ if (89.0..=92.0).contains(&days) => Self::Quarterly,
            _ if (365.0..=366.0).contains(&days) => Self::Yearly,
            _ => return None,
        })
    }

    /// Its name, as the output shows it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Hourly => "hourly",
            Self::Daily => "daily",
            Self::Weekly => "weekly",
            Self::Monthly => "monthly",
            Self::Quarterly => "quarterly",
            Self::Yearly => "yearly",
        }
    }

    /// The seasonal periods worth trying, in steps, shortest first.
    pub fn periods(self) -> &'static [usize] {
        match self {
            Self::Hourly => &[24, 168],
            Self::Daily => &[7, 365],
            Self::Weekly => &[52],
            Self::Monthly => &[12],
            Self::Quarterly => &[4],
            Self::Yearly => &[],
        }
    }

    /// `start` moved `steps` steps on (calendar months for monthly and longer).
    pub fn step(self, start: i64, steps: usize) -> i64 {
        let months = match self {
            Self::Hourly => return start + steps as i64 * MICROS_PER_HOUR,
            Self::Daily => return start + steps as i64 * MICROS_PER_DAY,
            Self::Weekly => return start + steps as i64 * 7 * MICROS_PER_DAY,
            Self::Monthly => steps,
            Self::Quarterly => 3 * steps,
            Self::Yearly => 12 * steps,
        };
        let at = DateTime::from_timestamp_micros(start)
            .map(|t| t.naive_utc())
            .unwrap_or(NaiveDateTime::MIN);
        at.checked_add_months(Months::new(months as u32))
            .map_or(i64::MAX, |t| t.and_utc().timestamp_micros())
    }
}

/// A series ready for a model.
#[derive(Debug, Clone)]
pub struct Series {
    /// Timestamp of each value, microseconds since the epoch.
    pub times: Vec<i64>,
    /// The values.
    pub values: Vec<f64>,
    /// Its spacing.
    pub frequency: Frequency,
}

impl Series {
    /// Checks and orders the rows of a series: no NULLs, no duplicate timestamps, at least
    /// [`MIN_POINTS`] points, evenly spaced without gaps.
    pub fn new(times: &[Option<i64>], values: &[f64], value_column: &str) -> Result<Self> {
        let mut rows = Vec::with_capacity(times.len());
        let mut null_times = 0;
        let mut null_values = Vec::new();
        for (t, v) in times.iter().zip(values) {
            match t {
                None => null_times += 1,
                Some(t) if v.is_nan() => null_values.push(*t),
                Some(t) => rows.push((*t, *v)),
            }
        }
        if null_times > 0 {
            return Err(invalid(format!(
                "{null_times} rows have a NULL timestamp; filter them out (WHERE ts IS NOT NULL)"
            )));
        }
        if let Some(first) = null_values.iter().min() {
            return Err(invalid(format!(
                "{} rows have a NULL {value_column}, the first at {}; filter them out or fill \
                 them in the query, e.g. COALESCE({value_column}, 0)",
                null_values.len(),
                show(*first)
            )));
        }
        rows.sort_by_key(|(t, _)| *t);
        if let Some(w) = rows.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(invalid(format!(
                "two rows have the timestamp {}; a series has one value per time: aggregate \
                 in the query (GROUP BY the timestamp)",
                show(w[0].0)
            )));
        }
        if rows.len() < MIN_POINTS {
            return Err(invalid(format!(
                "the series has {} points; at least {MIN_POINTS} are needed",
                rows.len()
            )));
        }
        let mut gaps: Vec<i64> = rows.windows(2).map(|w| w[1].0 - w[0].0).collect();
        gaps.sort_unstable();
        let median = gaps[gaps.len() / 2];
        let frequency = Frequency::from_step(median).ok_or_else(|| {
            invalid(format!(
                "the timestamps are {} apart (median), which is not hourly, daily, weekly, \
                 monthly, quarterly or yearly: truncate them in the query, e.g. \
                 date_trunc('day', ts), and aggregate",
                show_span(median)
            ))
        })?;
        let start = rows[0].0;
        for (i, (t, _)) in rows.iter().enumerate() {
            let expected = frequency.step(start, i);
            if *t != expected {
                let what = if *t > expected {
                    "is missing"
                } else {
                    "is off the grid"
                };
                return Err(invalid(format!(
                    "the {} series has a gap: {} {what} (the next value is at {}); fill gaps \
                     in the query, e.g. LEFT JOIN a generate_series of times with \
                     COALESCE(value, 0)",
                    frequency.name(),
                    show(expected),
                    show(*t)
                )));
            }
        }
        let values: Vec<f64> = rows.iter().map(|(_, v)| *v).collect();
        if values.iter().all(|v| *v == values[0]) {
            return Err(invalid(format!(
                "the series is constant (every {value_column} is {}): there is nothing to \
                 forecast",
                values[0]
            )));
        }
        Ok(Self {
            times: rows.iter().map(|(t, _)| *t).collect(),
            values,
            frequency,
        })
    }

    /// The seasonal periods the series covers at least twice.
    pub fn periods(&self) -> Vec<u32> {
        self.frequency
            .periods()
            .iter()
            .filter(|p| 2 * **p <= self.values.len())
            .map(|p| *p as u32)
            .collect()
    }

    /// The timestamps of the `horizon` steps after the series.
    pub fn future(&self, horizon: usize) -> Vec<i64> {
        let start = self.times[0];
        let n = self.times.len();
        (n..n + horizon)
            .map(|i| self.frequency.step(start, i))
            .collect()
    }

    /// Checks a horizon: at least 1, at most [`MAX_HORIZON_FACTOR`] times the series.
    pub fn check_horizon(&self, horizon: i64) -> Result<usize> {
        let max = (MAX_HORIZON_FACTOR * self.values.len()).max(1);
        if horizon < 1 {
            return Err(invalid(format!(
                "the horizon must be at least 1 step, not {horizon}"
            )));
        }
        if horizon as usize > max {
            return Err(invalid(format!(
                "a horizon of {horizon} steps is more than {MAX_HORIZON_FACTOR} times the \
                 {} points of history; forecast at most {max} steps",
                self.values.len()
            )));
        }
        Ok(horizon as usize)
    }
}

/// A timestamp for messages.
pub fn show(micros: i64) -> String {
    DateTime::from_timestamp_micros(micros)
        .map_or_else(|| micros.to_string(), |t| t.naive_utc().to_string())
}

fn show_span(micros: i64) -> String {
    let seconds = micros / 1_000_000;
    if seconds % 86_400 == 0 {
        format!("{} days", seconds / 86_400)
    } else {
        format!("{seconds} seconds")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: i64) -> Option<i64> {
        Some(d * MICROS_PER_DAY)
    }

    #[test]
    fn detects_daily_and_refuses_gaps_nulls_and_constants() {
        let times: Vec<_> = (0..20).map(day).collect();
        let values: Vec<f64> = (0..20).map(f64::from).collect();
        let series = Series::new(&times, &values, "v").unwrap();
        assert_eq!(series.frequency, Frequency::Daily);
        assert_eq!(series.periods(), vec![7]);

        let mut gap = times.clone();
        gap.remove(5);
        let error = Series::new(&gap, &values[..19], "v")
            .unwrap_err()
            .to_string();
        assert!(error.contains("gap"), "{error}");

        let mut nulls = values.clone();
        nulls[3] = f64::NAN;
        let error = Series::new(&times, &nulls, "v").unwrap_err().to_string();
        assert!(error.contains("NULL v"), "{error}");

        let error = Series::new(&times, &[1.0; 20], "v")
            .unwrap_err()
            .to_string();
        assert!(error.contains("constant"), "{error}");
    }

    #[test]
    fn months_step_by_the_calendar() {
        // 2024-01-31 plus one month is the end of February.
        let jan31 = 1_706_659_200_000_000;
        assert_eq!(
            show(Frequency::Monthly.step(jan31, 1)),
            "2024-02-29 00:00:00"
        );
        let firsts: Vec<Option<i64>> = (0..24)
            .map(|m| Some(Frequency::Monthly.step(1_704_067_200_000_000, m)))
            .collect();
        let values: Vec<f64> = (0..24).map(f64::from).collect();
        let series = Series::new(&firsts, &values, "v").unwrap();
        assert_eq!(series.frequency, Frequency::Monthly);
        assert_eq!(series.periods(), vec![12]);
    }
}
