//! The small dense linear algebra the fits need: Cholesky solves of p×p normal equations
//! (p is the number of features plus one, tens at most).

#![allow(
    clippy::needless_range_loop,
    reason = "matrix code indexes rows and columns by number, as the formulas do"
)]

use spirit_plugin_sdk::{Error, Result};

/// A square matrix, row by row.
pub type Matrix = Vec<Vec<f64>>;

/// Least squares with a ridge penalty `l2` on every coefficient but the intercept: the
/// coefficients and their covariance matrix (σ² (XᵀX + λI)⁻¹).
pub fn least_squares(x: &[Vec<f64>], y: &[f64], l2: f64) -> Result<(Vec<f64>, Matrix)> {
    let p = x[0].len();
    let (mut xtx, xty) = normal_equations(x, y, |_| 1.0);
    penalise(&mut xtx, l2);
    let inverse = invert(&xtx)?;
    let beta = multiply(&inverse, &xty);
    let n = x.len();
    let rss: f64 = x
        .iter()
        .zip(y)
        .map(|(row, y)| (y - dot(row, &beta)).powi(2))
        .sum();
    let sigma2 = rss / (n.saturating_sub(p).max(1)) as f64;
    let covariance = inverse
        .iter()
        .map(|row| row.iter().map(|v| v * sigma2).collect())
        .collect();
    Ok((beta, covariance))
}

/// Logistic regression by Newton's method (iteratively reweighted least squares) with a ridge
/// penalty: the coefficients and the inverse of the penalised Hessian as their covariance.
pub fn logistic(
    x: &[Vec<f64>],
    y: &[f64],
    l2: f64,
    max_iterations: usize,
) -> Result<(Vec<f64>, Matrix)> {
    let p = x[0].len();
    let mut beta = vec![0.0; p];
    let mut inverse = Vec::new();
    for _ in 0..max_iterations.max(1) {
        let probabilities: Vec<f64> = x
            .iter()
            .map(|row| 1.0 / (1.0 + (-dot(row, &beta)).exp()))
            .collect();
        let (mut hessian, _) = normal_equations(x, y, |i| {
            (probabilities[i] * (1.0 - probabilities[i])).max(1e-9)
        });
        penalise(&mut hessian, l2);
        let mut gradient = vec![0.0; p];
        for ((row, y), prob) in x.iter().zip(y).zip(&probabilities) {
            for (g, v) in gradient.iter_mut().zip(row) {
                *g += v * (y - prob);
            }
        }
        for (j, g) in gradient.iter_mut().enumerate().skip(1) {
            *g -= l2 * beta[j];
        }
        inverse = invert(&hessian)?;
        let step = multiply(&inverse, &gradient);
        for (b, s) in beta.iter_mut().zip(&step) {
            *b += s;
        }
        if step.iter().map(|s| s.abs()).fold(0.0, f64::max) < 1e-8 {
            break;
        }
    }
    Ok((beta, inverse))
}

/// XᵀWX and Xᵀy with row weights `w`.
fn normal_equations(x: &[Vec<f64>], y: &[f64], w: impl Fn(usize) -> f64) -> (Matrix, Vec<f64>) {
    let p = x[0].len();
    let mut xtx = vec![vec![0.0; p]; p];
    let mut xty = vec![0.0; p];
    for (i, (row, y)) in x.iter().zip(y).enumerate() {
        let weight = w(i);
        for a in 0..p {
            xty[a] += row[a] * y;
            for b in 0..=a {
                xtx[a][b] += weight * row[a] * row[b];
            }
        }
    }
    for a in 0..p {
        for b in 0..a {
            xtx[b][a] = xtx[a][b];
        }
    }
    (xtx, xty)
}

/// Adds `l2` to the diagonal, except the intercept's: the ridge penalty `l2/2 · |β|²` (the
/// features are standardised, so it weighs every coefficient alike).
fn penalise(m: &mut Matrix, l2: f64) {
    for (i, row) in m.iter_mut().enumerate().skip(1) {
        row[i] += l2;
    }
}

/// Coefficients and covariance fitted on standardised features `(x − mean) / scale`, in the
/// features' own units: `b_j = β_j / s_j`, `b_0 = β_0 − Σ β_j m_j / s_j`, and the covariance
/// through the same linear map, `A C Aᵀ`.
pub fn unstandardise(
    beta: &[f64],
    covariance: &Matrix,
    means: &[f64],
    scales: &[f64],
) -> (Vec<f64>, Matrix) {
    let p = beta.len();
    let mut a = vec![vec![0.0; p]; p];
    a[0][0] = 1.0;
    for j in 1..p {
        a[j][j] = 1.0 / scales[j - 1];
        a[0][j] = -means[j - 1] / scales[j - 1];
    }
    let coefficients = multiply(&a, beta);
    let ac: Matrix = a
        .iter()
        .map(|row| {
            (0..p)
                .map(|k| (0..p).map(|m| row[m] * covariance[m][k]).sum())
                .collect()
        })
        .collect();
    let out = (0..p)
        .map(|i| {
            (0..p)
                .map(|j| (0..p).map(|k| ac[i][k] * a[j][k]).sum())
                .collect()
        })
        .collect();
    (coefficients, out)
}

/// The inverse of a symmetric positive-definite matrix, through its Cholesky factor.
fn invert(m: &Matrix) -> Result<Matrix> {
    let p = m.len();
    let mut l = vec![vec![0.0; p]; p];
    for i in 0..p {
        for j in 0..=i {
            let sum: f64 = (0..j).map(|k| l[i][k] * l[j][k]).sum();
            if i == j {
                let d = m[i][i] - sum;
                if d <= 0.0 || !d.is_finite() {
                    return Err(Error::invalid_data(
                        "the features are collinear or constant: drop or combine some",
                    ));
                }
                l[i][i] = d.sqrt();
            } else {
                l[i][j] = (m[i][j] - sum) / l[j][j];
            }
        }
    }
    let mut inverse = vec![vec![0.0; p]; p];
    for c in 0..p {
        // Solve L z = e_c, then Lᵀ x = z.
        let mut z = vec![0.0; p];
        for i in 0..p {
            let e = if i == c { 1.0 } else { 0.0 };
            z[i] = (e - (0..i).map(|k| l[i][k] * z[k]).sum::<f64>()) / l[i][i];
        }
        for i in (0..p).rev() {
            let value = (z[i] - (i + 1..p).map(|k| l[k][i] * inverse[k][c]).sum::<f64>()) / l[i][i];
            inverse[i][c] = value;
        }
    }
    Ok(inverse)
}

fn multiply(m: &Matrix, v: &[f64]) -> Vec<f64> {
    m.iter().map(|row| dot(row, v)).collect()
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(a, b)| a * b).sum()
}
