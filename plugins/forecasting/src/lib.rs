//! Forecasting model plugin: fits a few candidate models to a series, keeps the one that
//! forecast held-out tails best (up to three origins), refits it on the whole series and
//! forecasts with intervals.
//!
//! Candidates: MSTL (augurs; one seasonal component per period) with an AutoETS or a Theta
//! trend, and plain AutoETS and Theta for series whose season is weak or absent, each on the
//! raw series and, when the series is positive, on its logarithm (multiplicative seasonality
//! becomes additive). A series without a calendar period gets the cycle its autocorrelation
//! shows, if any (a sunspot cycle, say). augurs' AutoETS has no seasonal states, so seasons always go through
//! MSTL. The decomposition (`decompose`) is MSTL's, with robust STL fits.

mod theta;

use augurs::ets::AutoETS;
use augurs::forecaster::transforms::Log;
use augurs::forecaster::{Forecaster, Transformer};
use augurs::mstl::{MSTLModel, stlrs};
use augurs::{Fit, Predict};
use spirit_plugin_sdk::model_prelude::*;

pub use theta::Theta;

/// The plugin.
#[derive(Default)]
pub struct Forecasting;

/// The algorithm's name in SQL (`forecast(…)` uses it unless told otherwise).
pub const AUTO: &str = "auto";

/// Held-out tails the candidates are scored on, at most.
const FOLDS: usize = 3;

impl Model for Forecasting {
    fn algorithms(&self) -> Vec<Algorithm> {
        vec![Algorithm::new(
            AUTO,
            &[Task::Forecast],
            "MSTL with an AutoETS or Theta trend, AutoETS or Theta, raw or log, chosen on held-out tails",
        )]
    }

    fn forecast(&self, request: &ForecastRequest) -> Result<Forecast> {
        forecast(request)
    }
}

export_model!(Forecasting);

/// What models the level and trend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trend {
    /// AutoETS without seasonal states (it picks additive or damped trends itself).
    Ets,
    /// Simple exponential smoothing with half-slope drift.
    Theta,
}

/// One way to model a series.
#[derive(Debug, Clone, PartialEq)]
pub enum Candidate {
    /// MSTL over these periods, the trend model on the deseasonalised series.
    Mstl {
        periods: Vec<usize>,
        trend: Trend,
        log: bool,
    },
    /// The trend model alone.
    Plain { trend: Trend, log: bool },
}

impl Candidate {
    /// A short description for the `model` column.
    pub fn describe(&self) -> String {
        let trend_name = |t: &Trend| match t {
            Trend::Ets => "AutoETS",
            Trend::Theta => "Theta",
        };
        let (name, log) = match self {
            Self::Mstl {
                periods,
                trend,
                log,
            } => {
                let periods: Vec<String> = periods.iter().map(usize::to_string).collect();
                (
                    format!("MSTL({}) + {} trend", periods.join(", "), trend_name(trend)),
                    *log,
                )
            }
            Self::Plain { trend, log } => (trend_name(trend).to_owned(), *log),
        };
        if log { format!("{name}, log") } else { name }
    }

    /// The longest period, which the training part must cover twice.
    fn longest_period(&self) -> usize {
        match self {
            Self::Mstl { periods, .. } => periods.iter().copied().max().unwrap_or(1),
            Self::Plain { .. } => 1,
        }
    }

    /// Fits on `y` and forecasts `horizon` steps with `level` intervals.
    pub fn forecast(&self, y: &[f64], horizon: usize, level: f64) -> Result<augurs::Forecast> {
        match self {
            Self::Mstl {
                periods,
                trend: Trend::Ets,
                log,
            } => run(
                MSTLModel::new(periods.clone(), AutoETS::non_seasonal().into_trend_model()),
                *log,
                y,
                horizon,
                level,
            ),
            Self::Mstl {
                periods,
                trend: Trend::Theta,
                log,
            } => run(
                MSTLModel::new(periods.clone(), Theta),
                *log,
                y,
                horizon,
                level,
            ),
            Self::Plain {
                trend: Trend::Ets,
                log,
            } => run(AutoETS::non_seasonal(), *log, y, horizon, level),
            Self::Plain {
                trend: Trend::Theta,
                log,
            } => run(Theta, *log, y, horizon, level),
        }
    }
}

fn run<M: Fit>(
    model: M,
    log: bool,
    y: &[f64],
    horizon: usize,
    level: f64,
) -> Result<augurs::Forecast> {
    let transformers: Vec<Box<dyn Transformer>> = if log {
        vec![Log::new().boxed()]
    } else {
        Vec::new()
    };
    let mut forecaster = Forecaster::new(model).with_transformers(transformers);
    forecaster.fit(y).map_err(model_error)?;
    forecaster.predict(horizon, level).map_err(model_error)
}

fn model_error(e: impl std::fmt::Display) -> Error {
    Error::invalid_data(format!("the model could not fit this series: {e}"))
}

/// The cycle of a series the engine gave no calendar period for (a sunspot cycle, say): the
/// first peak of the detrended series' autocorrelation after it first turns negative, if that
/// peak is clearly positive. A trending or noisy series has none.
fn detected_periods(y: &[f64]) -> Vec<usize> {
    let n = y.len();
    let mean_t = (n as f64 - 1.0) / 2.0;
    let mean_y = y.iter().sum::<f64>() / n as f64;
    let (mut sty, mut stt) = (0.0, 0.0);
    for (t, v) in y.iter().enumerate() {
        sty += (t as f64 - mean_t) * (v - mean_y);
        stt += (t as f64 - mean_t).powi(2);
    }
    let slope = if stt > 0.0 { sty / stt } else { 0.0 };
    let e: Vec<f64> = y
        .iter()
        .enumerate()
        .map(|(t, v)| v - mean_y - slope * (t as f64 - mean_t))
        .collect();
    let variance: f64 = e.iter().map(|v| v * v).sum();
    if variance <= 0.0 {
        return Vec::new();
    }
    let max_lag = n / 3;
    let acf: Vec<f64> = (0..=max_lag + 1)
        .map(|lag| (lag..n).map(|t| e[t] * e[t - lag]).sum::<f64>() / variance)
        .collect();
    let Some(negative) = acf.iter().position(|r| *r < 0.0) else {
        return Vec::new();
    };
    (negative.max(2)..=max_lag)
        .find(|&k| acf[k] > 0.2 && acf[k] >= acf[k - 1] && acf[k] >= acf[k + 1])
        .map_or_else(Vec::new, |k| vec![k])
}

/// The candidates for a series of `n` values with these periods.
pub fn candidates(periods: &[usize], n: usize, positive: bool) -> Vec<Candidate> {
    let periods: Vec<usize> = periods
        .iter()
        .copied()
        .filter(|p| *p >= 2 && 2 * p <= n)
        .collect();
    let logs: &[bool] = if positive { &[false, true] } else { &[false] };
    let mut out = Vec::new();
    for &log in logs {
        for trend in [Trend::Ets, Trend::Theta] {
            if !periods.is_empty() {
                out.push(Candidate::Mstl {
                    periods: periods.clone(),
                    trend,
                    log,
                });
            }
            out.push(Candidate::Plain { trend, log });
        }
    }
    out
}

/// Picks the candidate with the smallest mean absolute error over up to [`FOLDS`] held-out
/// tails of `holdout` values, each forecast from the values before it. Candidates that fail
/// to fit a fold, or whose seasons the training part does not cover twice, skip it.
pub fn choose(y: &[f64], all: Vec<Candidate>, holdout: usize) -> Option<Candidate> {
    let n = y.len();
    if all.len() == 1 || holdout == 0 || holdout * 2 > n {
        return all.into_iter().next();
    }
    let fallback = all.first().cloned();
    all.into_iter()
        .filter_map(|c| {
            let mut errors = Vec::new();
            for fold in 0..FOLDS {
                let Some(end) = n.checked_sub(fold * holdout) else {
                    break;
                };
                let Some(cut) = end.checked_sub(holdout) else {
                    break;
                };
                if cut < 2 * c.longest_period() || cut < holdout {
                    break;
                }
                let forecast = c.forecast(&y[..cut], holdout, 0.95).ok()?;
                let mae = forecast
                    .point
                    .iter()
                    .zip(&y[cut..end])
                    .map(|(f, t)| (f - t).abs())
                    .sum::<f64>()
                    / holdout as f64;
                errors.push(mae);
            }
            let mean = errors.iter().sum::<f64>() / errors.len() as f64;
            (!errors.is_empty() && mean.is_finite()).then_some((mean, c))
        })
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
        .or(fallback)
}

/// The `forecast` call.
pub fn forecast(request: &ForecastRequest) -> Result<Forecast> {
    let y = &request.values;
    let n = y.len();
    // The tail the candidates compete on: the horizon, but at most a fifth of the series, and
    // at least a full season when one fits, so a weekly pattern is judged over whole weeks.
    let mut periods = request.periods.clone();
    if periods.iter().all(|p| 2 * p > n) {
        periods = detected_periods(y);
    }
    let season = periods.first().copied().unwrap_or(1);
    let holdout = request.horizon.max(season).min(n / 5);
    let positive = y.iter().all(|v| *v > 0.0);
    let chosen = choose(y, candidates(&periods, n, positive), holdout)
        .ok_or_else(|| Error::invalid_data("no model applies to this series"))?;
    let fc = chosen.forecast(y, request.horizon, request.level)?;
    let intervals = fc
        .intervals
        .ok_or_else(|| Error::internal("the model returned no prediction intervals"))?;
    let mut out = Forecast {
        point: fc.point,
        lower: intervals.lower,
        upper: intervals.upper,
        model: chosen.describe(),
        ..Forecast::default()
    };
    if request.decompose {
        decompose(request, &mut out)?;
    }
    Ok(out)
}

/// MSTL's decomposition of the history (robust STL, so an outlier stays in the remainder
/// instead of bending the season), continued over the forecast: the seasonal part repeats
/// each period's last cycle and the trend is what the forecast leaves after it.
fn decompose(request: &ForecastRequest, out: &mut Forecast) -> Result<()> {
    let y = &request.values;
    let periods: Vec<usize> = request
        .periods
        .iter()
        .copied()
        .filter(|p| *p >= 2 && 2 * p <= y.len())
        .collect();
    let (trend, seasonal_parts, remainder): (Vec<f64>, Vec<Vec<f64>>, Vec<f64>) =
        if periods.is_empty() {
            // No season: the trend is the fitted level of a non-seasonal AutoETS.
            let fitted = AutoETS::non_seasonal().fit(y).map_err(model_error)?;
            let in_sample = fitted.predict_in_sample(None::<f64>).map_err(model_error)?;
            let remainder = y.iter().zip(&in_sample.point).map(|(v, t)| v - t).collect();
            (in_sample.point, Vec::new(), remainder)
        } else {
            let mut stl = stlrs::StlParams::new();
            stl.robust(true);
            let mut params = stlrs::MstlParams::new();
            params.stl_params(stl);
            let model = MSTLModel::new(periods.clone(), AutoETS::non_seasonal().into_trend_model())
                .mstl_params(params);
            let fitted = model.fit(y).map_err(model_error)?;
            let fit = fitted.fit();
            let widen = |v: &[f32]| v.iter().map(|x| f64::from(*x)).collect::<Vec<f64>>();
            (
                widen(fit.trend()),
                fit.seasonal().iter().map(|s| widen(s)).collect(),
                widen(fit.remainder()),
            )
        };
    let n = y.len();
    let mut seasonal: Vec<f64> = (0..n)
        .map(|i| seasonal_parts.iter().map(|s| s[i]).sum())
        .collect();
    let future: Vec<f64> = (0..request.horizon)
        .map(|h| {
            periods
                .iter()
                .zip(&seasonal_parts)
                .map(|(p, s)| s[n - p + (h % p)])
                .sum()
        })
        .collect();
    out.trend = trend;
    out.trend
        .extend(out.point.iter().zip(&future).map(|(point, s)| point - s));
    seasonal.extend(future);
    out.seasonal = seasonal;
    out.remainder = remainder;
    out.remainder
        .extend(std::iter::repeat_n(f64::NAN, request.horizon));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(values: Vec<f64>, periods: Vec<usize>, horizon: usize) -> ForecastRequest {
        ForecastRequest {
            algorithm: AUTO.into(),
            values,
            periods,
            horizon,
            level: 0.95,
            decompose: true,
            params_json: "{}".into(),
        }
    }

    /// A weekly pattern on a rising line: the forecast continues both, inside its interval.
    #[test]
    fn forecasts_trend_and_weekly_season() {
        let season = [10.0, 12.0, 14.0, 13.0, 11.0, 6.0, 5.0];
        let y: Vec<f64> = (0..140)
            .map(|i| 100.0 + 0.5 * i as f64 + season[i % 7])
            .collect();
        let out = forecast(&request(y, vec![7], 14)).unwrap();
        for (h, point) in out.point.iter().enumerate() {
            let i = 140 + h;
            let truth = 100.0 + 0.5 * i as f64 + season[i % 7];
            assert!((point - truth).abs() < 3.0, "step {h}: {point} vs {truth}");
            assert!(out.lower[h] <= *point && *point <= out.upper[h]);
        }
        assert_eq!(out.trend.len(), 154);
        assert_eq!(out.seasonal.len(), 154);
        assert!(out.remainder[..140].iter().all(|r| r.abs() < 2.0));
    }

    #[test]
    fn candidates_need_two_seasons() {
        let all = candidates(&[7, 365], 100, false);
        assert_eq!(all.len(), 4);
        assert!(all.iter().all(|c| c.longest_period() <= 7), "{all:?}");
        assert_eq!(candidates(&[], 30, false).len(), 2);
        assert_eq!(candidates(&[4], 40, true).len(), 8);
    }

    /// A cycle of 11 steps in a series with no calendar period is found and used.
    #[test]
    fn finds_a_cycle_without_a_calendar_period() {
        let y: Vec<f64> = (0..220)
            .map(|i| 50.0 + 40.0 * (2.0 * std::f64::consts::PI * f64::from(i) / 11.0).sin())
            .collect();
        assert_eq!(detected_periods(&y), vec![11]);
        let out = forecast(&request(y, Vec::new(), 11)).unwrap();
        assert!(out.model.contains("MSTL(11"), "{}", out.model);
        for (h, point) in out.point.iter().enumerate() {
            let truth = 50.0 + 40.0 * (2.0 * std::f64::consts::PI * (220 + h) as f64 / 11.0).sin();
            assert!((point - truth).abs() < 5.0, "step {h}: {point} vs {truth}");
        }
    }

    /// A quarterly series (period 4) with a strong trend: every candidate fits without a panic.
    #[test]
    fn forecasts_a_quarterly_series() {
        let y: Vec<f64> = (0..80)
            .map(|i| 1000.0 * 1.01_f64.powi(i) + [5.0, -3.0, 2.0, -4.0][i as usize % 4])
            .collect();
        let out = forecast(&request(y, vec![4], 8)).unwrap();
        assert_eq!(out.point.len(), 8);
        assert!(out.point[0] > 2000.0, "{:?}", out.point);
    }
}
