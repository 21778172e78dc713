//! How good a model is on rows it did not train on, and the normal distribution (distrs) the
//! intervals and anomaly probabilities use.

use serde_json::{Value, json};

/// Classification metrics of probabilities `p` against labels `y` (0 or 1), threshold 0.5.
pub fn classification(y: &[f64], p: &[f64]) -> Value {
    let n = y.len().max(1) as f64;
    let eps = 1e-15;
    let log_loss = y
        .iter()
        .zip(p)
        .map(|(y, p)| {
            let p = p.clamp(eps, 1.0 - eps);
            -(y * p.ln() + (1.0 - y) * (1.0 - p).ln())
        })
        .sum::<f64>()
        / n;
    let (mut tp, mut fp, mut tn, mut fn_) = (0.0, 0.0, 0.0, 0.0);
    for (y, p) in y.iter().zip(p) {
        match (*y > 0.5, *p >= 0.5) {
            (true, true) => tp += 1.0,
            (false, true) => fp += 1.0,
            (false, false) => tn += 1.0,
            (true, false) => fn_ += 1.0,
        }
    }
    let precision = if tp + fp > 0.0 { tp / (tp + fp) } else { 0.0 };
    let recall = if tp + fn_ > 0.0 { tp / (tp + fn_) } else { 0.0 };
    let f1 = if precision + recall > 0.0 {
        2.0 * precision * recall / (precision + recall)
    } else {
        0.0
    };
    json!({
        "auc": round(auc(y, p)),
        "log_loss": round(log_loss),
        "f1": round(f1),
        "accuracy": round((tp + tn) / n),
        "precision": round(precision),
        "recall": round(recall),
        "test_rows": y.len(),
        "positive_rate": round(y.iter().sum::<f64>() / n),
    })
}

/// Regression metrics of predictions `p` against truths `y`.
pub fn regression(y: &[f64], p: &[f64]) -> Value {
    let n = y.len().max(1) as f64;
    let mean = y.iter().sum::<f64>() / n;
    let sse: f64 = y.iter().zip(p).map(|(y, p)| (y - p).powi(2)).sum();
    let sst: f64 = y.iter().map(|y| (y - mean).powi(2)).sum();
    let mae = y.iter().zip(p).map(|(y, p)| (y - p).abs()).sum::<f64>() / n;
    json!({
        "rmse": round((sse / n).sqrt()),
        "mae": round(mae),
        "r2": round(if sst > 0.0 { 1.0 - sse / sst } else { 0.0 }),
        "test_rows": y.len(),
    })
}

/// Area under the ROC curve: the probability that a random positive scores above a random
/// negative (ties count half), by ranking.
pub fn auc(y: &[f64], p: &[f64]) -> f64 {
    let mut order: Vec<usize> = (0..p.len()).collect();
    order.sort_by(|a, b| p[*a].total_cmp(&p[*b]));
    let mut ranks = vec![0.0; p.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && p[order[j + 1]] == p[order[i]] {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        for k in i..=j {
            ranks[order[k]] = rank;
        }
        i = j + 1;
    }
    let positives = y.iter().filter(|y| **y > 0.5).count() as f64;
    let negatives = y.len() as f64 - positives;
    if positives == 0.0 || negatives == 0.0 {
        return f64::NAN;
    }
    let rank_sum: f64 = y
        .iter()
        .zip(&ranks)
        .filter(|(y, _)| **y > 0.5)
        .map(|(_, r)| r)
        .sum();
    (rank_sum - positives * (positives + 1.0) / 2.0) / (positives * negatives)
}

fn round(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// The standard normal distribution function.
pub fn normal_cdf(x: f64) -> f64 {
    distrs::Normal::cdf(x, 0.0, 1.0)
}

/// The `q` quantile of the standard normal distribution.
pub fn normal_quantile(q: f64) -> f64 {
    distrs::Normal::ppf(q, 0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_counts_ordered_pairs() {
        assert_eq!(auc(&[0.0, 0.0, 1.0, 1.0], &[0.1, 0.2, 0.8, 0.9]), 1.0);
        assert_eq!(auc(&[1.0, 0.0, 1.0, 0.0], &[0.1, 0.2, 0.8, 0.9]), 0.25);
        assert_eq!(auc(&[0.0, 1.0], &[0.5, 0.5]), 0.5);
    }

    #[test]
    fn normal_quantiles() {
        assert!((normal_quantile(0.975) - 1.959_964).abs() < 1e-5);
        assert!(normal_quantile(0.5).abs() < 1e-6);
        assert!((normal_cdf(1.959_964) - 0.975).abs() < 1e-6);
    }

    #[test]
    fn regression_metrics() {
        let m = regression(&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0]);
        assert_eq!(m["rmse"], 0.0);
        assert_eq!(m["r2"], 1.0);
    }
}
