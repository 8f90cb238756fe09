//! Descriptive statistics and the normality test behind the validation report, with the
//! conventions pandas and scipy use so numbers can be compared with a notebook.

use serde::{Deserialize, Serialize};
use statrs::distribution::{ChiSquared, ContinuousCDF};

/// Quantile `q` of sorted values by linear interpolation between closest ranks (numpy's
/// default, R type 7, what `pandas.describe` reports). `sorted` must be non-empty.
pub(crate) fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    let n = sorted.len();
    if n == 0 {
        return f64::NAN;
    }
    let pos = q * (n - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    let (a, b) = (sorted[lo.min(n - 1)], sorted[hi.min(n - 1)]);
    a + (b - a) * (pos - lo as f64)
}

/// Mean and central moments m2, m3, m4 (biased, divided by n), in two passes.
pub(crate) fn moments(values: &[f64]) -> (f64, f64, f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let (mut m2, mut m3, mut m4) = (0.0, 0.0, 0.0);
    for &v in values {
        let d = v - mean;
        let d2 = d * d;
        m2 += d2;
        m3 += d2 * d;
        m4 += d2 * d2;
    }
    (mean, m2 / n, m3 / n, m4 / n)
}

/// A normality test's outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NormalityTest {
    /// The test's name: `"D'Agostino-Pearson K²"`, as `scipy.stats.normaltest` computes it.
    pub test: String,
    /// The K² statistic (sum of the squared skewness and kurtosis z-scores).
    pub statistic: f64,
    /// The p-value, from the χ² distribution with 2 degrees of freedom (statrs).
    pub p_value: f64,
    /// Sample skewness (biased, `m3 / m2^1.5`).
    pub skewness: f64,
    /// Sample excess kurtosis (biased, `m4 / m2² - 3`).
    pub excess_kurtosis: f64,
}

/// The name of the normality test in reports.
pub(crate) const NORMALITY_TEST: &str = "D'Agostino-Pearson K²";

/// D'Agostino-Pearson's K² omnibus test, step for step as `scipy.stats.normaltest`. `None`
/// for fewer than 20 values (the kurtosis test is not valid below that) or a constant column.
pub(crate) fn dagostino_pearson(values: &[f64]) -> Option<NormalityTest> {
    let n = values.len();
    if n < 20 {
        return None;
    }
    let (_, m2, m3, m4) = moments(values);
    if m2 <= 0.0 || !m2.is_finite() {
        return None;
    }
    let nf = n as f64;
    let skewness = m3 / m2.powf(1.5);
    let kurtosis = m4 / (m2 * m2);

    // scipy.stats.skewtest
    let mut y = skewness * (((nf + 1.0) * (nf + 3.0)) / (6.0 * (nf - 2.0))).sqrt();
    let beta2 = 3.0 * (nf * nf + 27.0 * nf - 70.0) * (nf + 1.0) * (nf + 3.0)
        / ((nf - 2.0) * (nf + 5.0) * (nf + 7.0) * (nf + 9.0));
    let w2 = -1.0 + (2.0 * (beta2 - 1.0)).sqrt();
    let delta = 1.0 / (0.5 * w2.ln()).sqrt();
    let alpha = (2.0 / (w2 - 1.0)).sqrt();
    if y == 0.0 {
        y = 1.0;
    }
    let z_skew = delta * ((y / alpha) + ((y / alpha).powi(2) + 1.0).sqrt()).ln();

    // scipy.stats.kurtosistest
    let e = 3.0 * (nf - 1.0) / (nf + 1.0);
    let var_b2 =
        24.0 * nf * (nf - 2.0) * (nf - 3.0) / ((nf + 1.0).powi(2) * (nf + 3.0) * (nf + 5.0));
    let x = (kurtosis - e) / var_b2.sqrt();
    let sqrt_beta1 = 6.0 * (nf * nf - 5.0 * nf + 2.0) / ((nf + 7.0) * (nf + 9.0))
        * ((6.0 * (nf + 3.0) * (nf + 5.0)) / (nf * (nf - 2.0) * (nf - 3.0))).sqrt();
    let a = 6.0
        + 8.0 / sqrt_beta1 * (2.0 / sqrt_beta1 + (1.0 + 4.0 / (sqrt_beta1 * sqrt_beta1)).sqrt());
    let term1 = 1.0 - 2.0 / (9.0 * a);
    let denom = 1.0 + x * (2.0 / (a - 4.0)).sqrt();
    if denom == 0.0 {
        return None;
    }
    let term2 = denom.signum() * ((1.0 - 2.0 / a) / denom.abs()).cbrt();
    let z_kurt = (term1 - term2) / (2.0 / (9.0 * a)).sqrt();

    let statistic = z_skew * z_skew + z_kurt * z_kurt;
    let p_value = ChiSquared::new(2.0).ok()?.sf(statistic);
    statistic.is_finite().then(|| NormalityTest {
        test: NORMALITY_TEST.to_owned(),
        statistic,
        p_value,
        skewness,
        excess_kurtosis: kurtosis - 3.0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_like_numpy() {
        let v = [1.0, 2.0, 3.0, 4.0];
        // numpy.quantile([1,2,3,4], [0.25, 0.5, 0.75]) = [1.75, 2.5, 3.25]
        assert_eq!(quantile_sorted(&v, 0.25), 1.75);
        assert_eq!(quantile_sorted(&v, 0.5), 2.5);
        assert_eq!(quantile_sorted(&v, 0.75), 3.25);
        assert_eq!(quantile_sorted(&v, 1.0), 4.0);
    }

    #[test]
    fn normality_needs_twenty_varying_values() {
        assert!(dagostino_pearson(&[1.0; 50]).is_none());
        assert!(dagostino_pearson(&[1.0, 2.0, 3.0]).is_none());
    }
}
