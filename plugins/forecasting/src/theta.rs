//! The Theta method (Assimakopoulos & Nikolopoulos, 2000) in Hyndman & Billah's form: simple
//! exponential smoothing with a drift of half the series' linear-trend slope. It wins the M3
//! competition's monthly and quarterly series on its own, and here it is both a model of its
//! own and MSTL's trend model. augurs has no Theta, so it is implemented on augurs' traits.

use std::borrow::Cow;
use std::fmt;

use augurs::mstl::{FittedTrendModel, TrendModel};
use augurs::{Fit, Forecast, ForecastIntervals, ModelError, Predict};

/// The unfitted model.
#[derive(Debug, Clone, Copy, Default)]
pub struct Theta;

/// A fitted Theta model.
#[derive(Debug, Clone)]
pub struct FittedTheta {
    alpha: f64,
    level: f64,
    /// Half the slope of the least-squares line through the series.
    drift: f64,
    n: usize,
    /// Variance of the one-step-ahead errors.
    sigma2: f64,
    /// One-step-ahead predictions over the series.
    fitted: Vec<f64>,
}

/// Why Theta could not fit.
#[derive(Debug)]
pub struct ThetaError(String);

impl fmt::Display for ThetaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ThetaError {}
impl ModelError for ThetaError {}

/// Simple exponential smoothing with smoothing `alpha`: the one-step predictions, the final
/// level and the sum of squared one-step errors.
fn smooth(y: &[f64], alpha: f64) -> (Vec<f64>, f64, f64) {
    let mut level = y[0];
    let mut fitted = Vec::with_capacity(y.len());
    let mut sse = 0.0;
    for v in y {
        fitted.push(level);
        sse += (v - level).powi(2);
        level += alpha * (v - level);
    }
    (fitted, level, sse)
}

impl Theta {
    fn fit_theta(y: &[f64]) -> Result<FittedTheta, ThetaError> {
        let n = y.len();
        if n < 3 || y.iter().any(|v| !v.is_finite()) {
            return Err(ThetaError(format!("Theta needs 3 finite values, got {n}")));
        }
        let mean_t = (n - 1) as f64 / 2.0;
        let mean_y = y.iter().sum::<f64>() / n as f64;
        let (mut sty, mut stt) = (0.0, 0.0);
        for (t, v) in y.iter().enumerate() {
            sty += (t as f64 - mean_t) * (v - mean_y);
            stt += (t as f64 - mean_t).powi(2);
        }
        let slope = sty / stt;
        // The smoothing parameter minimising the one-step errors, on a fine grid: one
        // parameter, so a grid is exact enough and never fails to converge.
        let (alpha, (fitted, level, sse)) = (1..=99)
            .map(|a| f64::from(a) / 100.0)
            .map(|alpha| (alpha, smooth(y, alpha)))
            .min_by(|a, b| a.1.2.total_cmp(&b.1.2))
            .expect("a non-empty grid");
        Ok(FittedTheta {
            alpha,
            level,
            drift: slope / 2.0,
            n,
            sigma2: sse / (n - 1) as f64,
            fitted,
        })
    }
}

impl FittedTheta {
    fn z(level: f64) -> f64 {
        distrs::Normal::ppf(0.5 + level / 2.0, 0.0, 1.0)
    }

    fn forecast_into(&self, horizon: usize, level: Option<f64>, out: &mut Forecast) {
        let a = self.alpha;
        let decay = (1.0 - a).powi(self.n as i32) / a;
        out.point = (1..=horizon)
            .map(|h| self.level + self.drift * (h as f64 - 1.0 + 1.0 / a - decay))
            .collect();
        out.intervals = level.map(|level| {
            let z = Self::z(level);
            let width: Vec<f64> = (1..=horizon)
                .map(|h| z * (self.sigma2 * (1.0 + (h as f64 - 1.0) * a * a)).sqrt())
                .collect();
            ForecastIntervals {
                level,
                lower: out.point.iter().zip(&width).map(|(p, w)| p - w).collect(),
                upper: out.point.iter().zip(&width).map(|(p, w)| p + w).collect(),
            }
        });
    }

    fn in_sample_into(&self, level: Option<f64>, out: &mut Forecast) {
        out.point = self.fitted.iter().map(|f| f + self.drift).collect();
        out.intervals = level.map(|level| {
            let w = Self::z(level) * self.sigma2.sqrt();
            ForecastIntervals {
                level,
                lower: out.point.iter().map(|p| p - w).collect(),
                upper: out.point.iter().map(|p| p + w).collect(),
            }
        });
    }
}

impl Fit for Theta {
    type Fitted = FittedTheta;
    type Error = ThetaError;

    fn fit(&self, y: &[f64]) -> Result<FittedTheta, ThetaError> {
        Self::fit_theta(y)
    }
}

impl Predict for FittedTheta {
    type Error = ThetaError;

    fn predict_in_sample_inplace(
        &self,
        level: Option<f64>,
        forecast: &mut Forecast,
    ) -> Result<(), ThetaError> {
        self.in_sample_into(level, forecast);
        Ok(())
    }

    fn predict_inplace(
        &self,
        horizon: usize,
        level: Option<f64>,
        forecast: &mut Forecast,
    ) -> Result<(), ThetaError> {
        self.forecast_into(horizon, level, forecast);
        Ok(())
    }

    fn training_data_size(&self) -> usize {
        self.n
    }
}

type BoxedError = Box<dyn std::error::Error + Send + Sync + 'static>;

impl TrendModel for Theta {
    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed("Theta")
    }

    fn fit(&self, y: &[f64]) -> Result<Box<dyn FittedTrendModel + Sync + Send>, BoxedError> {
        Ok(Box::new(Self::fit_theta(y)?))
    }
}

impl FittedTrendModel for FittedTheta {
    fn predict_inplace(
        &self,
        horizon: usize,
        level: Option<f64>,
        forecast: &mut Forecast,
    ) -> Result<(), BoxedError> {
        self.forecast_into(horizon, level, forecast);
        Ok(())
    }

    fn predict_in_sample_inplace(
        &self,
        level: Option<f64>,
        forecast: &mut Forecast,
    ) -> Result<(), BoxedError> {
        self.in_sample_into(level, forecast);
        Ok(())
    }

    fn training_data_size(&self) -> Option<usize> {
        Some(self.n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A straight line is forecast on: SES catches the level, the drift the slope.
    #[test]
    fn continues_a_line() {
        let y: Vec<f64> = (0..50).map(|t| 10.0 + 2.0 * f64::from(t)).collect();
        let fitted = Theta::fit_theta(&y).unwrap();
        let mut out = Forecast::with_capacity(3);
        fitted.forecast_into(3, Some(0.95), &mut out);
        assert!((out.point[0] - 110.0).abs() < 2.0, "{:?}", out.point);
        assert!(out.point[2] > out.point[0]);
        let intervals = out.intervals.unwrap();
        assert!(intervals.lower[0] < out.point[0] && out.point[0] < intervals.upper[0]);
    }
}
