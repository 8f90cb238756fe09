//! Statistical tests for comparing two models (or two variants of an A/B test).
//!
//! * [`mcnemar`]: two classifiers scored on the **same** test rows. Only the discordant pairs
//!   matter (`b` = A right and B wrong, `c` = A wrong and B right). Rule used here (the one in
//!   Rosner's *Fundamentals of Biostatistics* and mlxtend): when `b + c <` [`MCNEMAR_EXACT_BELOW`]
//!   (25) the exact two-sided binomial test is used, `p = min(1, 2·BinomCDF(min(b, c); b + c, ½))`
//!   (statsmodels' `mcnemar(exact=True)`); otherwise the chi-square statistic with Edwards'
//!   continuity correction `(|b − c| − 1)² / (b + c)` on 1 degree of freedom
//!   (statsmodels' `mcnemar(exact=False, correction=True)`). [`mcnemar_from_counts`] lets the
//!   caller force either form.
//! * [`corrected_resampled_t_test`]: Nadeau and Bengio's (2003) correction of the paired
//!   t-test over cross-validation folds, whose training sets overlap: the variance is inflated
//!   by `1/k + n_test/n_train`.
//! * [`two_proportion_z_test`]: two **independent** samples (A/B testing): pooled z statistic as
//!   statsmodels' `proportions_ztest`, a Wald interval of the difference, and Cohen's h. For
//!   small samples and better intervals see [`crate::fisher_exact`],
//!   [`crate::wilson_interval`] and [`crate::newcombe_interval`].
//! * [`chi_square_contingency`]: Pearson's chi-square test of independence on an r×c table,
//!   with Yates' correction on 2×2 tables as scipy's `chi2_contingency(correction=True)`.
//!
//! All p-values are two-sided and come from `statrs` distributions.

use serde::{Deserialize, Serialize};
use statrs::distribution::{Binomial, ChiSquared, ContinuousCDF, DiscreteCDF, Normal, StudentsT};

use crate::error::{EvalError, Result};

/// McNemar's test is exact (binomial) when the number of discordant pairs is below this.
pub const MCNEMAR_EXACT_BELOW: u64 = 25;

/// Which form of McNemar's test was (or should be) computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum McNemarMethod {
    /// Exact when `b + c < 25`, corrected chi-square otherwise (the default rule).
    Auto,
    /// Exact two-sided binomial test on the discordant pairs.
    Exact,
    /// Chi-square on 1 df with continuity correction `(|b − c| − 1)² / (b + c)`.
    ChiSquareCorrected,
    /// Chi-square on 1 df without correction `(b − c)² / (b + c)`.
    ChiSquare,
}

/// Outcome of McNemar's test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct McNemarResult {
    /// Rows where A is right and B is wrong.
    pub a_right_b_wrong: u64,
    /// Rows where A is wrong and B is right.
    pub a_wrong_b_right: u64,
    /// Test statistic: `min(b, c)` for the exact test, the chi-square value otherwise.
    pub statistic: f64,
    /// Two-sided p-value.
    pub p_value: f64,
    /// The form actually used (never `Auto`).
    pub method: McNemarMethod,
}

/// McNemar's test on two classifiers' predictions for the same rows, with the default rule
/// (exact below 25 discordant pairs). Use it to ask "do these two models make different
/// mistakes more often than chance?" on one held-out test set.
///
/// # Errors
/// Length mismatch between the three slices, or empty input.
pub fn mcnemar(y_true: &[usize], pred_a: &[usize], pred_b: &[usize]) -> Result<McNemarResult> {
    check_same_len("y_true", y_true.len(), "pred_a", pred_a.len())?;
    check_same_len("y_true", y_true.len(), "pred_b", pred_b.len())?;
    if y_true.is_empty() {
        return Err(EvalError::EmptyInput { what: "y_true" });
    }
    let mut b = 0u64;
    let mut c = 0u64;
    for ((t, a), p) in y_true.iter().zip(pred_a).zip(pred_b) {
        match (a == t, p == t) {
            (true, false) => b += 1,
            (false, true) => c += 1,
            _ => {}
        }
    }
    Ok(mcnemar_from_counts(b, c, McNemarMethod::Auto))
}

/// McNemar's test from the two discordant counts, `b` (A right, B wrong) and `c` (A wrong,
/// B right), in the chosen form.
///
/// The corrected statistic is `(|b − c| − 1)² / (b + c)` exactly as statsmodels computes
/// it, without clamping `|b − c| − 1` at zero: `b = c = 5` gives 0.1 and p = 0.7518 (with
/// `|b − c| = 1` the statistic is 0 and p = 1).
///
/// With no discordant pair (`b = c = 0`) the test has nothing to say: the statistic is 0
/// and the p-value 1 in every form. statsmodels divides by zero there instead (∞ and
/// p = 0 corrected, NaN uncorrected), which no reading supports.
pub fn mcnemar_from_counts(b: u64, c: u64, method: McNemarMethod) -> McNemarResult {
    let n = b + c;
    let method = match method {
        McNemarMethod::Auto if n < MCNEMAR_EXACT_BELOW => McNemarMethod::Exact,
        McNemarMethod::Auto => McNemarMethod::ChiSquareCorrected,
        m => m,
    };
    let (statistic, p_value) = if n == 0 {
        (0.0, 1.0)
    } else {
        match method {
            McNemarMethod::Exact => {
                let k = b.min(c);
                let p = Binomial::new(0.5, n).map_or(1.0, |d| (2.0 * d.cdf(k)).min(1.0));
                (k as f64, p)
            }
            McNemarMethod::ChiSquare | McNemarMethod::ChiSquareCorrected => {
                let diff = (b as f64 - c as f64).abs();
                // Not clamped at 0: statsmodels squares |b − c| − 1 as it is, so b = c
                // gives 1 / (b + c), not 0.
                let num = if method == McNemarMethod::ChiSquareCorrected {
                    diff - 1.0
                } else {
                    diff
                };
                let stat = num * num / n as f64;
                (stat, chi2_sf(stat, 1.0))
            }
            McNemarMethod::Auto => (0.0, 1.0), // resolved above; kept for exhaustiveness
        }
    };
    McNemarResult {
        a_right_b_wrong: b,
        a_wrong_b_right: c,
        statistic,
        p_value,
        method,
    }
}

/// Outcome of a t-test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TTestResult {
    /// Mean of the paired differences `a − b`.
    pub mean_difference: f64,
    /// The t statistic (±∞ when every difference is the same non-zero value).
    #[serde(with = "crate::serde_float")]
    pub statistic: f64,
    /// Degrees of freedom.
    pub df: f64,
    /// Two-sided p-value.
    pub p_value: f64,
}

/// Nadeau and Bengio's corrected resampled t-test over per-fold scores of two models that
/// were evaluated on the **same** folds.
///
/// `t = mean(d) / sqrt((1/k + n_test/n_train) · var(d))`, `var` with `k − 1` in the
/// denominator, on `k − 1` degrees of freedom, where `d = scores_a − scores_b` fold by fold
/// and `n_train`/`n_test` are the (typical) training and test sizes of one fold. The plain
/// paired t-test ignores that CV training sets overlap and so rejects far too often.
///
/// When every difference is identical the variance is 0: the statistic is then 0 with
/// p-value 1 if the differences are all 0, and ±∞ with p-value 0 otherwise (one model won
/// every fold by the same margin).
///
/// # Errors
/// Length mismatch, fewer than two folds, a zero `n_train`/`n_test`, or a non-finite score.
pub fn corrected_resampled_t_test(
    scores_a: &[f64],
    scores_b: &[f64],
    n_train: usize,
    n_test: usize,
) -> Result<TTestResult> {
    check_same_len("scores_a", scores_a.len(), "scores_b", scores_b.len())?;
    let k = scores_a.len();
    if k < 2 {
        return Err(EvalError::InvalidValue {
            what: "scores_a",
            value: format!("{k} folds"),
            expected: "at least 2 folds".into(),
        });
    }
    if n_train == 0 || n_test == 0 {
        return Err(EvalError::InvalidValue {
            what: "n_train/n_test",
            value: format!("{n_train}/{n_test}"),
            expected: "both > 0".into(),
        });
    }
    let mut d = Vec::with_capacity(k);
    for (i, (a, b)) in scores_a.iter().zip(scores_b).enumerate() {
        if !a.is_finite() || !b.is_finite() {
            return Err(EvalError::InvalidValue {
                what: "scores",
                value: format!("fold {i}: {a} vs {b}"),
                expected: "finite scores".into(),
            });
        }
        d.push(a - b);
    }
    let kf = k as f64;
    let mean = d.iter().sum::<f64>() / kf;
    let var = d.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (kf - 1.0);
    let df = kf - 1.0;
    let scale = (1.0 / kf + n_test as f64 / n_train as f64) * var;
    let (statistic, p_value) = if var <= 0.0 || scale <= 0.0 {
        if mean == 0.0 {
            (0.0, 1.0)
        } else {
            (mean.signum() * f64::INFINITY, 0.0)
        }
    } else {
        let t = mean / scale.sqrt();
        (t, student_t_two_sided(t, df))
    };
    Ok(TTestResult {
        mean_difference: mean,
        statistic,
        df,
        p_value,
    })
}

/// Outcome of a two-proportion z-test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TwoProportionResult {
    /// Successes / trials in sample A.
    pub proportion_a: f64,
    /// Successes / trials in sample B.
    pub proportion_b: f64,
    /// `proportion_a − proportion_b`.
    pub difference: f64,
    /// Pooled z statistic.
    pub statistic: f64,
    /// Two-sided p-value from the standard normal.
    pub p_value: f64,
    /// Confidence level of the interval (0.95 by default).
    pub confidence_level: f64,
    /// Lower end of the Wald (unpooled) interval of the difference.
    pub ci_low: f64,
    /// Upper end of the Wald (unpooled) interval of the difference.
    pub ci_high: f64,
    /// Cohen's h, `2·asin(√p_a) − 2·asin(√p_b)`: 0.2 small, 0.5 medium, 0.8 large.
    pub cohens_h: f64,
}

/// Two-proportion z-test at the 95% level; see [`two_proportion_z_test_with_level`].
///
/// # Errors
/// As [`two_proportion_z_test_with_level`].
pub fn two_proportion_z_test(
    successes_a: u64,
    n_a: u64,
    successes_b: u64,
    n_b: u64,
) -> Result<TwoProportionResult> {
    two_proportion_z_test_with_level(successes_a, n_a, successes_b, n_b, 0.95)
}

/// Two-proportion z-test for two **independent** samples, such as the two arms of an A/B
/// test (accuracy of model A on its traffic vs model B on its traffic).
///
/// * statistic: `z = (p_a − p_b) / sqrt(p(1 − p)(1/n_a + 1/n_b))` with the pooled
///   `p = (s_a + s_b)/(n_a + n_b)`, exactly statsmodels' `proportions_ztest` (two-sided);
///   when `p` is 0 or 1 both samples agree perfectly, so `z = 0` and the p-value is 1
///   (statsmodels returns NaN there);
/// * interval: Wald, unpooled, `diff ± z_{(1+level)/2}·sqrt(p_a(1−p_a)/n_a + p_b(1−p_b)/n_b)`
///   (statsmodels' `confint_proportions_2indep(method="wald")`);
/// * effect size: Cohen's h.
///
/// # Errors
/// A zero sample size, more successes than trials, or a level outside (0, 1).
pub fn two_proportion_z_test_with_level(
    successes_a: u64,
    n_a: u64,
    successes_b: u64,
    n_b: u64,
    level: f64,
) -> Result<TwoProportionResult> {
    for (what, s, n) in [("n_a", successes_a, n_a), ("n_b", successes_b, n_b)] {
        if n == 0 {
            return Err(EvalError::InvalidValue {
                what,
                value: "0".into(),
                expected: "at least one trial".into(),
            });
        }
        if s > n {
            return Err(EvalError::InvalidValue {
                what,
                value: format!("{s} successes out of {n}"),
                expected: "successes <= trials".into(),
            });
        }
    }
    if !(level > 0.0 && level < 1.0) {
        return Err(EvalError::InvalidValue {
            what: "level",
            value: level.to_string(),
            expected: "a confidence level strictly between 0 and 1".into(),
        });
    }
    let (na, nb) = (n_a as f64, n_b as f64);
    let pa = successes_a as f64 / na;
    let pb = successes_b as f64 / nb;
    let diff = pa - pb;
    let pooled = (successes_a + successes_b) as f64 / (na + nb);
    let se_pooled = (pooled * (1.0 - pooled) * (1.0 / na + 1.0 / nb)).sqrt();
    let (statistic, p_value) = if se_pooled > 0.0 {
        let z = diff / se_pooled;
        (z, normal_two_sided(z))
    } else {
        (0.0, 1.0)
    };
    let se = (pa * (1.0 - pa) / na + pb * (1.0 - pb) / nb).sqrt();
    let zq = normal_quantile(0.5 + level / 2.0);
    Ok(TwoProportionResult {
        proportion_a: pa,
        proportion_b: pb,
        difference: diff,
        statistic,
        p_value,
        confidence_level: level,
        ci_low: diff - zq * se,
        ci_high: diff + zq * se,
        cohens_h: 2.0 * pa.sqrt().asin() - 2.0 * pb.sqrt().asin(),
    })
}

/// Outcome of a chi-square test of independence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChiSquareResult {
    /// Pearson's chi-square statistic (Yates-corrected on a 2×2 table when asked).
    pub statistic: f64,
    /// Degrees of freedom, `(r − 1)(c − 1)`.
    pub dof: usize,
    /// p-value (upper tail).
    pub p_value: f64,
    /// Expected counts under independence, same shape as the table.
    pub expected: Vec<Vec<f64>>,
    /// Whether Yates' continuity correction was applied.
    pub yates_corrected: bool,
}

/// Chi-square test on a 2×2 table `[[a, b], [c, d]]` with Yates' correction, as scipy's
/// `chi2_contingency(table)` does by default. Use it to compare success/failure counts of two
/// groups when a contingency-table view is more natural than proportions.
///
/// # Errors
/// As [`chi_square_contingency`].
pub fn chi_square_2x2(table: [[u64; 2]; 2]) -> Result<ChiSquareResult> {
    let rows: Vec<Vec<u64>> = table.iter().map(|r| r.to_vec()).collect();
    chi_square_contingency(&rows, true)
}

/// Pearson's chi-square test of independence on an r×c table of counts. With
/// `correction = true` and one degree of freedom, each observed count is moved 0.5 towards
/// its expected count (never past it), exactly as scipy's `chi2_contingency`.
///
/// A table with one row or one column has 0 degrees of freedom: statistic 0, p-value 1.
///
/// # Errors
/// An empty or ragged table, or a row or column summing to zero (an expected count of 0).
pub fn chi_square_contingency(table: &[Vec<u64>], correction: bool) -> Result<ChiSquareResult> {
    let r = table.len();
    let c = table.first().map_or(0, Vec::len);
    if r == 0 || c == 0 {
        return Err(EvalError::EmptyInput { what: "table" });
    }
    if let Some((i, row)) = table.iter().enumerate().find(|(_, row)| row.len() != c) {
        return Err(EvalError::InvalidValue {
            what: "table",
            value: format!("row {i} has {} columns", row.len()),
            expected: format!("{c} columns in every row"),
        });
    }
    let row_sums: Vec<f64> = table
        .iter()
        .map(|row| row.iter().sum::<u64>() as f64)
        .collect();
    let col_sums: Vec<f64> = (0..c)
        .map(|j| table.iter().map(|row| row[j]).sum::<u64>() as f64)
        .collect();
    let total: f64 = row_sums.iter().sum();
    if let Some(i) = row_sums.iter().position(|&s| s == 0.0) {
        return Err(EvalError::Undefined {
            metric: "chi-square test",
            reason: format!("row {i} sums to zero, so its expected counts are zero"),
        });
    }
    if let Some(j) = col_sums.iter().position(|&s| s == 0.0) {
        return Err(EvalError::Undefined {
            metric: "chi-square test",
            reason: format!("column {j} sums to zero, so its expected counts are zero"),
        });
    }
    let expected: Vec<Vec<f64>> = row_sums
        .iter()
        .map(|rs| col_sums.iter().map(|cs| rs * cs / total).collect())
        .collect();
    let dof = (r - 1) * (c - 1);
    if dof == 0 {
        return Ok(ChiSquareResult {
            statistic: 0.0,
            dof,
            p_value: 1.0,
            expected,
            yates_corrected: false,
        });
    }
    let yates = correction && dof == 1;
    let mut stat = 0.0;
    for (row, exp_row) in table.iter().zip(&expected) {
        for (&o, &e) in row.iter().zip(exp_row) {
            let mut o = o as f64;
            if yates {
                let diff = e - o;
                o += diff.signum() * diff.abs().min(0.5);
            }
            stat += (o - e) * (o - e) / e;
        }
    }
    Ok(ChiSquareResult {
        statistic: stat,
        dof,
        p_value: chi2_sf(stat, dof as f64),
        expected,
        yates_corrected: yates,
    })
}

/// Accuracy of two models on the same test rows and McNemar's test between them: the
/// one-call answer to "is model A really better than model B on this test set?".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelComparison {
    /// Accuracy of model A.
    pub accuracy_a: f64,
    /// Accuracy of model B.
    pub accuracy_b: f64,
    /// McNemar's test on their disagreements.
    pub mcnemar: McNemarResult,
}

/// Compares two models' predictions on the same test rows: both accuracies and McNemar's
/// test (default rule).
///
/// # Errors
/// As [`mcnemar`].
pub fn compare_models(
    y_true: &[usize],
    pred_a: &[usize],
    pred_b: &[usize],
) -> Result<ModelComparison> {
    let mcnemar = mcnemar(y_true, pred_a, pred_b)?;
    let n = y_true.len() as f64;
    let acc = |p: &[usize]| y_true.iter().zip(p).filter(|(t, p)| t == p).count() as f64 / n;
    Ok(ModelComparison {
        accuracy_a: acc(pred_a),
        accuracy_b: acc(pred_b),
        mcnemar,
    })
}

pub(crate) fn check_same_len(
    left: &'static str,
    left_len: usize,
    right: &'static str,
    right_len: usize,
) -> Result<()> {
    if left_len == right_len {
        Ok(())
    } else {
        Err(EvalError::LengthMismatch {
            left,
            left_len,
            right,
            right_len,
        })
    }
}

fn chi2_sf(x: f64, dof: f64) -> f64 {
    ChiSquared::new(dof).map_or(f64::NAN, |d| d.sf(x))
}

fn normal_two_sided(z: f64) -> f64 {
    Normal::new(0.0, 1.0).map_or(f64::NAN, |d| (2.0 * d.sf(z.abs())).min(1.0))
}

fn normal_quantile(p: f64) -> f64 {
    Normal::new(0.0, 1.0).map_or(f64::NAN, |d| d.inverse_cdf(p))
}

pub(crate) fn student_t_two_sided(t: f64, df: f64) -> f64 {
    StudentsT::new(0.0, 1.0, df).map_or(f64::NAN, |d| (2.0 * d.sf(t.abs())).min(1.0))
}

/// Quantile of Student's t with `df` degrees of freedom (used for confidence intervals).
pub(crate) fn student_t_quantile(p: f64, df: f64) -> f64 {
    StudentsT::new(0.0, 1.0, df).map_or(f64::NAN, |d| d.inverse_cdf(p))
}

/// Outcome of Welch's unequal-variances t-test of `a − b` (scipy's
/// `ttest_ind(a, b, equal_var=False)`).
///
/// Non-finite values (see [`welch_t_test`] for when they occur) are written to JSON as the
/// strings `"NaN"`, `"inf"`, `"-inf"`, and read back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WelchResult {
    /// `mean(a) − mean(b)`.
    pub difference: f64,
    /// The t statistic: NaN when both samples are constant and equal, ±∞ when they are
    /// constant and differ.
    #[serde(with = "crate::serde_float")]
    pub statistic: f64,
    /// Welch–Satterthwaite degrees of freedom (1 when both samples are constant, where the
    /// formula is 0/0: scipy's placeholder).
    #[serde(with = "crate::serde_float")]
    pub df: f64,
    /// Two-sided p-value: NaN when both samples are constant and equal.
    #[serde(with = "crate::serde_float")]
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

/// Mean and sample variance (`n − 1`).
fn mean_var(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0);
    (m, var)
}

/// Welch's unequal-variances t-test of `mean(a) − mean(b)`, as scipy's
/// `ttest_ind(a, b, equal_var=False)`, with a `level` confidence interval of the difference
/// (Welch–Satterthwaite degrees of freedom) and Cohen's d. A/B tests of numeric metrics use
/// it.
///
/// With zero variance in both samples, as scipy: for equal means the statistic and the
/// p-value are NaN (0/0: the data say nothing either way), for different means the statistic
/// is ±∞ and p = 0; the Welch–Satterthwaite degrees of freedom are 0/0 then too, and are
/// reported as 1, scipy's placeholder; the interval is the point `mean(a) − mean(b)`.
///
/// # Errors
/// [`EvalError::InvalidValue`] for a sample of fewer than two values, a non-finite value, or
/// a level outside (0, 1).
pub fn welch_t_test(a: &[f64], b: &[f64], level: f64) -> Result<WelchResult> {
    for (what, v) in [("a", a), ("b", b)] {
        if v.len() < 2 {
            return Err(EvalError::InvalidValue {
                what,
                value: format!("{} value(s)", v.len()),
                expected: "at least two values per sample".into(),
            });
        }
        if let Some((i, x)) = v.iter().enumerate().find(|(_, x)| !x.is_finite()) {
            return Err(EvalError::InvalidValue {
                what,
                value: format!("{x} at index {i}"),
                expected: "finite values".into(),
            });
        }
    }
    if !(level > 0.0 && level < 1.0) {
        return Err(EvalError::InvalidValue {
            what: "level",
            value: level.to_string(),
            expected: "a confidence level strictly between 0 and 1".into(),
        });
    }
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let (ma, va) = mean_var(a);
    let (mb, vb) = mean_var(b);
    let diff = ma - mb;
    let (qa, qb) = (va / na, vb / nb);
    let se = (qa + qb).sqrt();
    let pooled = (((na - 1.0) * va + (nb - 1.0) * vb) / (na + nb - 2.0)).sqrt();
    let cohens_d = (pooled > 0.0).then(|| diff / pooled);
    if se <= 0.0 || !se.is_finite() {
        // scipy: t = diff / 0 (NaN for 0/0), and df = 0/0 replaced by 1.
        let (t, p) = if diff == 0.0 {
            (f64::NAN, f64::NAN)
        } else {
            (diff.signum() * f64::INFINITY, 0.0)
        };
        return Ok(WelchResult {
            difference: diff,
            statistic: t,
            df: 1.0,
            p_value: p,
            confidence_level: level,
            ci_low: diff,
            ci_high: diff,
            cohens_d,
        });
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
    Ok(WelchResult {
        difference: diff,
        statistic: t,
        df,
        p_value: p,
        confidence_level: level,
        ci_low: diff - q * se,
        ci_high: diff + q * se,
        cohens_d,
    })
}
