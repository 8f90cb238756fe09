//! Welch's t-test for numeric A/B metrics.
//!
//! Kludge: this belongs in `obesity-eval`'s `compare` module next to the two-proportion
//! z-test (one concept, one home); it lives here until eval grows an independent-samples
//! t-test.

use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, StudentsT};

/// Outcome of Welch's unequal-variances t-test of `a − b` (scipy's
/// `ttest_ind(a, b, equal_var=False)`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WelchResult {
    /// `mean(a) − mean(b)`.
    pub difference: f64,
    /// The t statistic.
    pub statistic: f64,
    /// Welch–Satterthwaite degrees of freedom.
    pub df: f64,
    /// Two-sided p-value.
    pub p_value: f64,
    /// Level of the interval.
    pub confidence_level: f64,
    /// Lower end of the interval of the difference.
    pub ci_low: f64,
    /// Upper end of the interval of the difference.
    pub ci_high: f64,
    /// Cohen's d with the pooled standard deviation (`None` when it is 0).
    pub cohens_d: Option<f64>,
}

fn mean_var(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0);
    (m, var)
}

/// Sample standard deviation (`n − 1`), `None` below two values.
pub(crate) fn sample_std(v: &[f64]) -> Option<f64> {
    (v.len() >= 2).then(|| mean_var(v).1.sqrt())
}

/// Welch's t-test; both samples must have at least two values (the caller checks).
/// With zero variance in both samples the statistic is 0 (p = 1) for equal means and ±∞
/// (p = 0) otherwise.
pub(crate) fn welch_t_test(a: &[f64], b: &[f64], level: f64) -> WelchResult {
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let (ma, va) = mean_var(a);
    let (mb, vb) = mean_var(b);
    let diff = ma - mb;
    let (qa, qb) = (va / na, vb / nb);
    let se = (qa + qb).sqrt();
    let pooled = (((na - 1.0) * va + (nb - 1.0) * vb) / (na + nb - 2.0)).sqrt();
    let cohens_d = (pooled > 0.0).then(|| diff / pooled);
    if se <= 0.0 || !se.is_finite() {
        let (t, p) = if diff == 0.0 {
            (0.0, 1.0)
        } else {
            (diff.signum() * f64::INFINITY, 0.0)
        };
        return WelchResult {
            difference: diff,
            statistic: t,
            df: na + nb - 2.0,
            p_value: p,
            confidence_level: level,
            ci_low: diff,
            ci_high: diff,
            cohens_d,
        };
    }
    let df = (qa + qb).powi(2) / (qa * qa / (na - 1.0) + qb * qb / (nb - 1.0));
    let t = diff / se;
    let (p, q) = match StudentsT::new(0.0, 1.0, df) {
        Ok(d) => (
            (2.0 * d.sf(t.abs())).min(1.0),
            d.inverse_cdf(0.5 + level / 2.0),
        ),
        Err(_) => (f64::NAN, f64::NAN),
    };
    WelchResult {
        difference: diff,
        statistic: t,
        df,
        p_value: p,
        confidence_level: level,
        ci_low: diff - q * se,
        ci_high: diff + q * se,
        cohens_d,
    }
}
