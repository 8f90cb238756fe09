//! The two-sample Kolmogorov–Smirnov test, two-sided, computed as `scipy.stats.ks_2samp`
//! does (scipy 1.17): the same statistic (ties handled through right-continuous empirical
//! CDFs evaluated at every observed value), the same `method` rule (`auto` is exact when both
//! samples have at most 10,000 values) and the same exact and asymptotic p-values.

use serde::{Deserialize, Serialize};

use super::kolmogorov::kolmogorov_sf;

/// How the KS p-value is computed, as scipy's `ks_2samp(method=...)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KsMethod {
    /// Exact when both samples have at most 10,000 values, asymptotic otherwise (scipy's
    /// default, and so Evidently's).
    #[default]
    Auto,
    /// The exact distribution of the two-sample statistic (falls back to `Asymp`, as scipy
    /// does, when the lattice is too large or the computation loses precision).
    Exact,
    /// Smirnov's asymptotic formula: `kstwo.sf(D, round(n1 n2 / (n1 + n2)))`.
    Asymp,
}

/// The outcome of a two-sample KS test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct KsResult {
    /// The statistic `D = sup |F1 - F2|` (as scipy, rounded to the lattice in exact mode).
    pub statistic: f64,
    /// The two-sided p-value.
    pub p_value: f64,
    /// The method that produced the p-value (`Exact` or `Asymp`, never `Auto`).
    pub method: KsMethod,
}

const MAX_AUTO_N: usize = 10_000;

/// The KS statistic `D` of two ascending, non-empty, NaN-free samples.
pub(crate) fn ks_statistic(a: &[f64], b: &[f64]) -> f64 {
    let (n1, n2) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j) = (0usize, 0usize);
    let mut d: f64 = 0.0;
    // Walk the merged distinct values; at each, both CDFs count values <= it.
    while i < a.len() || j < b.len() {
        let v = match (a.get(i), b.get(j)) {
            (Some(&x), Some(&y)) => x.min(y),
            (Some(&x), None) => x,
            (None, Some(&y)) => y,
            (None, None) => break,
        };
        while i < a.len() && a[i] <= v {
            i += 1;
        }
        while j < b.len() && b[j] <= v {
            j += 1;
        }
        let diff = i as f64 / n1 - j as f64 / n2;
        d = d.max(diff.abs());
    }
    d.min(1.0)
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Two-sided two-sample KS test of two ascending, non-empty, NaN-free samples.
pub(crate) fn ks_2samp_sorted(a: &[f64], b: &[f64], method: KsMethod) -> KsResult {
    let (n1, n2) = (a.len(), b.len());
    let mut d = ks_statistic(a, b);
    let g = gcd(n1 as u64, n2 as u64);
    let (n1g, n2g) = (n1 as u64 / g, n2 as u64 / g);
    let mut mode = match method {
        KsMethod::Auto if n1.max(n2) <= MAX_AUTO_N => KsMethod::Exact,
        KsMethod::Auto => KsMethod::Asymp,
        KsMethod::Exact if n1g as f64 >= i32::MAX as f64 / n2g as f64 => KsMethod::Asymp,
        m => m,
    };
    let mut prob = f64::NAN;
    if mode == KsMethod::Exact {
        let lcm = n1g * n2 as u64;
        let h = (d * lcm as f64).round_ties_even() as u64;
        d = h as f64 / lcm as f64;
        if h == 0 {
            prob = 1.0;
        } else {
            let p = if n1 == n2 {
                prob_outside_square(n1 as u64, h)
            } else {
                outer_prob_inside_method(n1 as u64, n2 as u64, g, h)
            };
            if (0.0..=1.0).contains(&p) {
                prob = p;
            } else {
                mode = KsMethod::Asymp;
            }
        }
    }
    if mode == KsMethod::Asymp {
        let (m, n) = if n1 >= n2 {
            (n1 as f64, n2 as f64)
        } else {
            (n2 as f64, n1 as f64)
        };
        let en = m * n / (m + n);
        prob = kolmogorov_sf(en.round_ties_even().max(1.0) as u64, d);
    }
    KsResult {
        statistic: d,
        p_value: prob.clamp(0.0, 1.0),
        method: mode,
    }
}

/// `P(D_{n,n} >= h/n)` by the Horner-like alternating sum scipy uses for equal sizes.
fn prob_outside_square(n: u64, h: u64) -> f64 {
    let (nf, hf) = (n as f64, h as f64);
    let mut p = 0.0;
    let mut k = (nf / hf).floor() as i64;
    while k >= 0 {
        let kf = k as f64;
        let mut p1 = 1.0;
        for j in 0..h {
            let jf = j as f64;
            p1 = (nf - kf * hf - jf) * p1 / (nf + kf * hf + jf + 1.0);
        }
        p = p1 * (1.0 - p);
        k -= 1;
    }
    2.0 * p
}

/// `P(D_{m,n} >= h / lcm(m, n))` for unequal sizes: Hodges' inside method with Viehmann's
/// recursion for `1 - p` (scipy's `_compute_outer_prob_inside_method`).
fn outer_prob_inside_method(m: u64, n: u64, g: u64, h: u64) -> f64 {
    let (m, n) = if m < n { (n, m) } else { (m, n) };
    let (mg, ng) = (m / g, n / g);
    let (mf, nf, hf) = (mg as f64, ng as f64, h as f64);
    let n_us = n as usize;
    let mut minj: usize = 0;
    let mut maxj: usize = ((hf / mf).ceil() as usize).min(n_us + 1);
    let mut curlen = maxj - minj;
    let len_a = (2 * maxj + 2).min(n_us + 1);
    let mut a = vec![1.0f64; len_a];
    for v in a.iter_mut().take(maxj).skip(minj) {
        *v = 0.0;
    }
    for i in 1..=m {
        let lastminj = minj;
        let lastlen = curlen;
        let i_f = i as f64;
        let lo = ((nf * i_f - hf) / mf).floor() as i64 + 1;
        minj = (lo.max(0) as usize).min(n_us);
        maxj = (((nf * i_f + hf) / mf).ceil() as usize).min(n_us + 1);
        if maxj <= minj {
            return 1.0;
        }
        let mut val = if minj == 0 { 0.0 } else { 1.0 };
        for jj in 0..(maxj - minj) {
            let j = (jj + minj) as f64;
            val = (a[jj + minj - lastminj] * i_f + val * j) / (i_f + j);
            a[jj] = val;
        }
        curlen = maxj - minj;
        if lastlen > curlen {
            let start = maxj - minj;
            for v in a.iter_mut().skip(start).take(lastlen - curlen) {
                *v = 1.0;
            }
        }
    }
    a[maxj - minj - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_samples_have_zero_statistic_and_p_one() {
        let a = [1.0, 2.0, 3.0, 4.0, 5.0];
        let r = ks_2samp_sorted(&a, &a, KsMethod::Auto);
        assert_eq!(r.statistic, 0.0);
        assert_eq!(r.p_value, 1.0);
        assert_eq!(r.method, KsMethod::Exact);
    }

    #[test]
    fn disjoint_samples_have_statistic_one() {
        let r = ks_2samp_sorted(&[1.0, 2.0], &[3.0, 4.0, 5.0], KsMethod::Exact);
        assert_eq!(r.statistic, 1.0);
        // Only 2 of C(5, 2) = 10 orderings are this extreme (either sample all below).
        assert!((r.p_value - 0.2).abs() < 1e-12, "{}", r.p_value);
    }
}
