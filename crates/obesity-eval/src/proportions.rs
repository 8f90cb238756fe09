//! Small-sample and interval statistics for proportions, beside the two-proportion z-test of
//! [`crate::two_proportion_z_test`]:
//!
//! * [`fisher_exact`]: Fisher's exact test on a 2×2 table, two-sided or one-sided, exactly as
//!   scipy's `stats.fisher_exact` (conditional hypergeometric test, sample odds ratio);
//! * [`wilson_interval`]: Wilson's score interval of one proportion, as statsmodels'
//!   `proportion_confint(method="wilson")`;
//! * [`newcombe_interval`]: Newcombe's hybrid score interval of a difference of two
//!   independent proportions (his method 10, built from the two Wilson intervals), as
//!   statsmodels' `confint_proportions_2indep(method="newcomb", compare="diff")`.
//!
//! Unlike the Wald interval, Wilson's and Newcombe's stay inside `[0, 1]` (`[−1, 1]`), are
//! not degenerate at 0 or `n` successes, and keep close to their nominal coverage in small
//! samples (Newcombe 1998, *Statistics in Medicine* 17: 873–890).

use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, Normal};

use crate::error::{EvalError, Result};

/// Which alternative hypothesis a one- or two-sided test is against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Alternative {
    /// The odds ratio (or difference) is not 1 (not 0).
    #[default]
    TwoSided,
    /// The odds ratio is below 1: the first row has relatively fewer first-column counts.
    Less,
    /// The odds ratio is above 1.
    Greater,
}

/// Outcome of [`fisher_exact`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FisherResult {
    /// The table tested, `[[a, b], [c, d]]`.
    pub table: [[u64; 2]; 2],
    /// The sample (unconditional) odds ratio `a·d / (b·c)`, as scipy reports it: `+∞` when
    /// `b·c = 0`, NaN when a row or a column sums to zero (then the p-value is 1). Written
    /// to JSON as the strings `"inf"` / `"NaN"`.
    #[serde(with = "crate::serde_float")]
    pub odds_ratio: f64,
    /// The p-value for `alternative`.
    pub p_value: f64,
    /// The alternative tested.
    pub alternative: Alternative,
}

/// Relative tolerance within which another table counts as exactly as likely as the observed
/// one. scipy uses 1e-14 on its hypergeometric probabilities; ours are built by a recurrence
/// from the mode (relative error about 1e-16 per step), so a looser bound still only
/// catches genuine ties (symmetric margins) and never a table that is really less likely.
const FISHER_REL_TOL: f64 = 1e-10;

/// Fisher's exact test on the 2×2 table `[[a, b], [c, d]]`, as scipy's
/// `stats.fisher_exact(table, alternative)`.
///
/// With the margins fixed, `a` follows a hypergeometric distribution. `Less` is
/// `P(X ≤ a)`, `Greater` is `P(X ≥ a)`, and `TwoSided` sums the probabilities of every table
/// no more likely than the observed one (ties included). A table with a zero row or column
/// sum carries no information: p-value 1, odds ratio NaN.
///
/// Use it instead of the z-test or the chi-square when counts are small (an expected cell
/// count below 5): it makes no large-sample approximation.
///
/// # Errors
/// [`EvalError::InvalidValue`] when the table's total is above 2⁵³, where counts stop being
/// exact in `f64`.
pub fn fisher_exact(table: [[u64; 2]; 2], alternative: Alternative) -> Result<FisherResult> {
    let [[a, b], [c, d]] = table;
    let total = a
        .checked_add(b)
        .and_then(|s| s.checked_add(c))
        .and_then(|s| s.checked_add(d))
        .filter(|&t| t <= (1u64 << 53))
        .ok_or_else(|| EvalError::InvalidValue {
            what: "table",
            value: format!("{table:?}"),
            expected: "counts summing to at most 2^53".into(),
        })?;
    let done = |odds_ratio, p_value: f64| {
        Ok(FisherResult {
            table,
            odds_ratio,
            p_value: p_value.min(1.0),
            alternative,
        })
    };
    if a + b == 0 || c + d == 0 || a + c == 0 || b + d == 0 {
        return done(f64::NAN, 1.0);
    }
    let odds_ratio = if b > 0 && c > 0 {
        (a as f64 * d as f64) / (b as f64 * c as f64)
    } else {
        f64::INFINITY
    };
    let h = Hypergeom::new(total, a + b, a + c);
    let w_obs = h.weight(a);
    let (mut all, mut less, mut greater, mut two) = (0.0, 0.0, 0.0, 0.0);
    let bound = w_obs * (1.0 + FISHER_REL_TOL);
    h.for_each(|k, w| {
        all += w;
        if k <= a {
            less += w;
        }
        if k >= a {
            greater += w;
        }
        if w <= bound {
            two += w;
        }
    });
    let p = match alternative {
        Alternative::Less => less / all,
        Alternative::Greater => greater / all,
        Alternative::TwoSided => two / all,
    };
    done(odds_ratio, p)
}

/// The hypergeometric law of the top-left cell of a 2×2 table with fixed margins: `draws`
/// balls from an urn of `total` with `good` good ones. Probabilities are handled as weights
/// relative to the mode (weight 1), built by the ratio `w(k+1)/w(k)`; the walk ends where
/// weights fall below the smallest normal `f64` (1e-308 of the mode's), so the cost is the
/// width of the distribution, not of its support, and p-values below about 1e-300 come out
/// as 0.
struct Hypergeom {
    total: f64,
    good: f64,
    draws: f64,
    lo: u64,
    hi: u64,
    mode: u64,
}

impl Hypergeom {
    fn new(total: u64, good: u64, draws: u64) -> Self {
        let lo = (good + draws).saturating_sub(total);
        let hi = good.min(draws);
        let mode = ((draws as f64 + 1.0) * (good as f64 + 1.0) / (total as f64 + 2.0)).floor();
        Self {
            total: total as f64,
            good: good as f64,
            draws: draws as f64,
            lo,
            hi,
            mode: (mode as u64).clamp(lo, hi),
        }
    }

    /// `w(k + 1) / w(k)`.
    fn ratio_up(&self, k: u64) -> f64 {
        let k = k as f64;
        ((self.good - k) * (self.draws - k))
            / ((k + 1.0) * (self.total - self.good - self.draws + k + 1.0))
    }

    /// Weight of `k`, relative to the mode's (stops once it is subnormal: there a ratio
    /// close to 1 would round it back to itself forever instead of to 0).
    fn weight(&self, k: u64) -> f64 {
        let mut w = 1.0;
        if k >= self.mode {
            for j in self.mode..k.min(self.hi) {
                w *= self.ratio_up(j);
                if w < f64::MIN_POSITIVE {
                    break;
                }
            }
        } else {
            for j in (k.max(self.lo)..self.mode).rev() {
                w /= self.ratio_up(j);
                if w < f64::MIN_POSITIVE {
                    break;
                }
            }
        }
        w
    }

    /// Calls `f(k, weight)` for every `k` whose weight has not underflowed, from the mode
    /// outwards (so each tail is summed from its largest term down).
    fn for_each(&self, mut f: impl FnMut(u64, f64)) {
        f(self.mode, 1.0);
        let mut w = 1.0;
        for k in (self.lo..self.mode).rev() {
            w /= self.ratio_up(k);
            if w < f64::MIN_POSITIVE || !w.is_finite() {
                break;
            }
            f(k, w);
        }
        w = 1.0;
        for k in self.mode..self.hi {
            w *= self.ratio_up(k);
            if w < f64::MIN_POSITIVE {
                break;
            }
            f(k + 1, w);
        }
    }
}

/// A confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// Lower end.
    pub low: f64,
    /// Upper end.
    pub high: f64,
    /// Confidence level, e.g. 0.95.
    pub level: f64,
}

impl Interval {
    /// Whether `x` lies in the closed interval.
    pub fn contains(&self, x: f64) -> bool {
        self.low <= x && x <= self.high
    }
}

fn check_level(level: f64) -> Result<f64> {
    if level > 0.0 && level < 1.0 {
        Ok(Normal::new(0.0, 1.0).map_or(f64::NAN, |d| d.inverse_cdf(0.5 + level / 2.0)))
    } else {
        Err(EvalError::InvalidValue {
            what: "level",
            value: level.to_string(),
            expected: "a confidence level strictly between 0 and 1".into(),
        })
    }
}

fn check_count(what: &'static str, successes: u64, n: u64) -> Result<()> {
    if n == 0 {
        return Err(EvalError::InvalidValue {
            what,
            value: "0 trials".into(),
            expected: "at least one trial".into(),
        });
    }
    if successes > n {
        return Err(EvalError::InvalidValue {
            what,
            value: format!("{successes} successes out of {n}"),
            expected: "successes <= trials".into(),
        });
    }
    Ok(())
}

/// Wilson's score interval at `z`, clipped to `[0, 1]` as statsmodels does. At 0 and `n`
/// successes the end that is exactly 0 (1) mathematically is set so, where floating point
/// would leave it a rounding error away and the interval would miss `p̂` itself.
fn wilson(successes: u64, n: u64, z: f64) -> (f64, f64) {
    let all = successes == n;
    let none = successes == 0;
    let n = n as f64;
    let p = successes as f64 / n;
    let z2 = z * z;
    let denom = 1.0 + z2 / n;
    let center = (p + z2 / (2.0 * n)) / denom;
    let dist = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / denom;
    let low = if none {
        0.0
    } else {
        (center - dist).clamp(0.0, 1.0)
    };
    let high = if all {
        1.0
    } else {
        (center + dist).clamp(0.0, 1.0)
    };
    (low, high)
}

/// Wilson's score interval for the proportion `successes / n` at `level`, as statsmodels'
/// `proportion_confint(successes, n, alpha=1 − level, method="wilson")`:
/// `(p + z²/2n ± z·sqrt(p(1 − p)/n + z²/4n²)) / (1 + z²/n)`.
///
/// # Errors
/// [`EvalError::InvalidValue`] for `n = 0`, more successes than trials, or a level outside
/// (0, 1).
pub fn wilson_interval(successes: u64, n: u64, level: f64) -> Result<Interval> {
    check_count("n", successes, n)?;
    let z = check_level(level)?;
    let (low, high) = wilson(successes, n, z);
    Ok(Interval { low, high, level })
}

/// Newcombe's hybrid score interval for the difference `successes_a/n_a − successes_b/n_b`
/// of two independent proportions, as statsmodels'
/// `confint_proportions_2indep(…, method="newcomb", compare="diff")`: with `(l_a, u_a)` and
/// `(l_b, u_b)` the two Wilson intervals,
/// `d − sqrt((p_a − l_a)² + (u_b − p_b)²)` to `d + sqrt((p_b − l_b)² + (u_a − p_a)²)`.
///
/// # Errors
/// As [`wilson_interval`], naming `n_a` or `n_b`.
pub fn newcombe_interval(
    successes_a: u64,
    n_a: u64,
    successes_b: u64,
    n_b: u64,
    level: f64,
) -> Result<Interval> {
    check_count("n_a", successes_a, n_a)?;
    check_count("n_b", successes_b, n_b)?;
    let z = check_level(level)?;
    let pa = successes_a as f64 / n_a as f64;
    let pb = successes_b as f64 / n_b as f64;
    let (la, ua) = wilson(successes_a, n_a, z);
    let (lb, ub) = wilson(successes_b, n_b, z);
    let d = pa - pb;
    Ok(Interval {
        low: d - ((pa - la).powi(2) + (ub - pb).powi(2)).sqrt(),
        high: d + ((pb - lb).powi(2) + (ua - pa).powi(2)).sqrt(),
        level,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hypergeometric_weights_follow_the_recurrence_and_cover_the_support() {
        let h = Hypergeom::new(30, 12, 9);
        assert_eq!((h.lo, h.hi), (0, 9));
        let mut seen = Vec::new();
        h.for_each(|k, w| seen.push((k, w)));
        seen.sort_by_key(|&(k, _)| k);
        assert_eq!(
            seen.iter().map(|&(k, _)| k).collect::<Vec<_>>(),
            (0..=9).collect::<Vec<_>>()
        );
        for &(k, w) in &seen {
            assert!((h.weight(k) - w).abs() <= 1e-12 * w, "{k}");
        }
        let h = Hypergeom::new(10, 8, 7);
        assert_eq!((h.lo, h.hi), (5, 7));
        // A huge table walks only the bulk of its distribution.
        let h = Hypergeom::new(4_000_000_000, 2_000_000_000, 2_000_000_000);
        let mut n = 0usize;
        h.for_each(|_, _| n += 1);
        assert!(n < 10_000_000, "{n}");
    }
}
