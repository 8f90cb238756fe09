//! The formulas of Evidently's default drift tests (Evidently 0.7, `legacy/calculations/
//! stattests`): `chisquare`, `z`, `psi`, `jensenshannon`, `wasserstein`, with the binning
//! of its `get_binned_data` (Sturges bins over reference and current together for numeric
//! columns with more than 20 distinct reference values, one bin per value otherwise).

use statrs::distribution::{ChiSquared, ContinuousCDF, Normal};

use super::sample::{ColumnSample, SampleValues, aligned_counts, count_distinct, kind_mismatch};
use crate::error::{MonitorError, Result};

/// A statistic and, for hypothesis tests, its p-value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Outcome {
    pub(crate) statistic: f64,
    pub(crate) p_value: Option<f64>,
}

/// Pearson's chi-square goodness of fit of the current counts against the reference
/// proportions scaled to the current size, over the union of categories
/// (`scipy.stats.chisquare(f_obs, f_exp)` as Evidently's `chi_stat_test` calls it).
/// A category absent from the reference but present now gives an infinite statistic and
/// p = 0, as scipy does. With a single category scipy returns p = NaN (no degrees of
/// freedom); we return p = 1, the same "no drift" verdict.
pub(crate) fn chi_square(reference: &ColumnSample, current: &ColumnSample) -> Result<Outcome> {
    let (r, c) = aligned_counts(reference, current)?;
    let n_ref: f64 = r.iter().sum();
    let n_cur: f64 = c.iter().sum();
    let k_norm = n_cur / n_ref;
    let mut stat = 0.0;
    for (obs, rc) in c.iter().zip(&r) {
        let exp = rc * k_norm;
        let d = obs - exp;
        stat += d * d / exp;
    }
    let df = r.len().saturating_sub(1);
    let p = if df == 0 {
        1.0
    } else if stat.is_infinite() {
        0.0
    } else {
        ChiSquared::new(df as f64)
            .map(|d| d.sf(stat))
            .unwrap_or(f64::NAN)
    };
    Ok(Outcome {
        statistic: if df == 0 { 0.0 } else { stat },
        p_value: Some(p),
    })
}

/// Two-proportion Z-test (Evidently's `z_stat_test`): the first category in sorted order
/// against all others, pooled variance, two-sided p = 2 (1 - Phi(|z|)). Identical single
/// categories on both sides give z = 0, p = 1.
pub(crate) fn z_test(reference: &ColumnSample, current: &ColumnSample) -> Result<Outcome> {
    let (r, c) = aligned_counts(reference, current)?;
    if r.len() <= 1 {
        return Ok(Outcome {
            statistic: 0.0,
            p_value: Some(1.0),
        });
    }
    let n1: f64 = r.iter().sum();
    let n2: f64 = c.iter().sum();
    let p1 = (n1 - r.first().copied().unwrap_or(0.0)) / n1;
    let p2 = (n2 - c.first().copied().unwrap_or(0.0)) / n2;
    let pooled = (p1 * n1 + p2 * n2) / (n1 + n2);
    let z = (p1 - p2) / (pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)).sqrt();
    let p = match Normal::new(0.0, 1.0) {
        Ok(normal) => 2.0 * (1.0 - normal.cdf(z.abs())),
        Err(_) => f64::NAN,
    };
    Ok(Outcome {
        statistic: z,
        p_value: Some(p),
    })
}

/// The two share vectors Evidently's `get_binned_data` compares.
pub(crate) fn binned_shares(
    reference: &ColumnSample,
    current: &ColumnSample,
) -> Result<(Vec<f64>, Vec<f64>)> {
    match (&reference.values, &current.values) {
        (SampleValues::Numeric { sorted: a }, SampleValues::Numeric { sorted: b })
            if count_distinct(a) > 20 =>
        {
            let edges = sturges_edges(a, b);
            // A range wider than f64 (e.g. -1e308 to 1e308) gives NaN bin widths and no bins
            // at all, which used to read as "PSI 0, no drift"; numpy refuses such a range too.
            if edges.len() < 2 || edges.iter().any(|e| !e.is_finite()) {
                let lo = a
                    .first()
                    .copied()
                    .unwrap_or(0.0)
                    .min(b.first().copied().unwrap_or(0.0));
                let hi = a
                    .last()
                    .copied()
                    .unwrap_or(0.0)
                    .max(b.last().copied().unwrap_or(0.0));
                return Err(MonitorError::InvalidInput {
                    what: "numeric column range",
                    value: format!("column `{}`: {lo} to {hi}", reference.name),
                    expected: "a range (max - min) that is finite in f64, to bin".to_owned(),
                });
            }
            Ok((histogram_shares(a, &edges), histogram_shares(b, &edges)))
        }
        (SampleValues::Numeric { .. }, SampleValues::Numeric { .. })
        | (SampleValues::Categorical { .. }, SampleValues::Categorical { .. }) => {
            let (r, c) = aligned_counts(reference, current)?;
            let (nr, nc): (f64, f64) = (r.iter().sum(), c.iter().sum());
            Ok((
                r.iter().map(|x| x / nr).collect(),
                c.iter().map(|x| x / nc).collect(),
            ))
        }
        _ => Err(kind_mismatch(reference, current)),
    }
}

/// `np.histogram_bin_edges(concat(a, b), bins="sturges")` for two ascending samples.
pub(crate) fn sturges_edges(a: &[f64], b: &[f64]) -> Vec<f64> {
    let lo = a
        .first()
        .copied()
        .unwrap_or(0.0)
        .min(b.first().copied().unwrap_or(f64::INFINITY));
    let hi = a
        .last()
        .copied()
        .unwrap_or(0.0)
        .max(b.last().copied().unwrap_or(f64::NEG_INFINITY));
    let n = (a.len() + b.len()) as f64;
    let (mut first, mut last) = (lo, hi);
    if first == last {
        first -= 0.5;
        last += 0.5;
    }
    let width = (hi - lo) / (n.log2() + 1.0);
    let n_bins = if width > 0.0 {
        ((last - first) / width).ceil() as usize
    } else {
        1
    };
    // np.linspace(first, last, n_bins + 1): i * step + first, the last edge set exactly.
    let step = (last - first) / n_bins as f64;
    let mut edges: Vec<f64> = (0..=n_bins).map(|i| i as f64 * step + first).collect();
    if let Some(e) = edges.last_mut() {
        *e = last;
    }
    edges
}

/// Share of an ascending sample in each bin `[e_i, e_{i+1})`, the last bin closed, as
/// `np.histogram(x, edges)[0] / len(x)`.
pub(crate) fn histogram_shares(sorted: &[f64], edges: &[f64]) -> Vec<f64> {
    let n = sorted.len() as f64;
    let nb = edges.len().saturating_sub(1);
    let below = |e: f64| sorted.partition_point(|x| *x < e);
    let mut out = Vec::with_capacity(nb);
    for i in 0..nb {
        let lo = if i == 0 {
            sorted.partition_point(|x| *x < edges[0])
        } else {
            below(edges[i])
        };
        let hi = if i + 1 == nb {
            sorted.partition_point(|x| *x <= edges[nb])
        } else {
            below(edges[i + 1])
        };
        out.push((hi - lo) as f64 / n);
    }
    out
}

/// Evidently's zero fill: every 0 share becomes 1e-4, or (min non-zero share) / 1e6 when
/// that minimum is itself at most 1e-4.
fn fill_zeroes(shares: &mut [f64]) {
    let min_nonzero = shares
        .iter()
        .copied()
        .filter(|x| *x != 0.0)
        .fold(f64::INFINITY, f64::min);
    let fill = if min_nonzero <= 1e-4 {
        min_nonzero / 1e6
    } else {
        1e-4
    };
    for s in shares.iter_mut() {
        if *s == 0.0 {
            *s = fill;
        }
    }
}

/// Population Stability Index, `sum((r - c) ln(r / c))` over Evidently's bins with zero
/// shares filled.
pub(crate) fn psi(reference: &ColumnSample, current: &ColumnSample) -> Result<Outcome> {
    let (mut r, mut c) = binned_shares(reference, current)?;
    fill_zeroes(&mut r);
    fill_zeroes(&mut c);
    let value = r.iter().zip(&c).map(|(r, c)| (r - c) * (r / c).ln()).sum();
    Ok(Outcome {
        statistic: value,
        p_value: None,
    })
}

fn rel_entr(x: f64, y: f64) -> f64 {
    if x > 0.0 && y > 0.0 {
        x * (x / y).ln()
    } else if x == 0.0 && y >= 0.0 {
        0.0
    } else {
        f64::INFINITY
    }
}

/// Jensen–Shannon distance (natural log) of Evidently's bins, without zero fill:
/// `scipy.spatial.distance.jensenshannon(r, c)`.
pub(crate) fn jensen_shannon(reference: &ColumnSample, current: &ColumnSample) -> Result<Outcome> {
    let (r, c) = binned_shares(reference, current)?;
    let (sr, sc): (f64, f64) = (r.iter().sum(), c.iter().sum());
    let mut left = 0.0;
    let mut right = 0.0;
    for (x, y) in r.iter().zip(&c) {
        let (p, q) = (x / sr, y / sc);
        let m = (p + q) / 2.0;
        left += rel_entr(p, m);
        right += rel_entr(q, m);
    }
    Ok(Outcome {
        statistic: ((left + right) / 2.0).sqrt(),
        p_value: None,
    })
}

/// First Wasserstein distance between two ascending samples
/// (`scipy.stats.wasserstein_distance`): the area between the two empirical CDFs.
pub(crate) fn wasserstein_distance(a: &[f64], b: &[f64]) -> f64 {
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j) = (0usize, 0usize);
    let mut total = 0.0;
    let mut prev: Option<f64> = None;
    let (mut fa, mut fb) = (0.0f64, 0.0f64);
    while i < a.len() || j < b.len() {
        let take_a = match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) => x <= y,
            (Some(_), None) => true,
            _ => false,
        };
        let v = if take_a { a[i] } else { b[j] };
        if let Some(p) = prev {
            total += (fa - fb).abs() * (v - p);
        }
        if take_a {
            i += 1;
        } else {
            j += 1;
        }
        // CDFs right-continuous at v: count everything <= v only once v's ties are consumed;
        // the interval to the next value uses the counts after this value.
        fa = i as f64 / na;
        fb = j as f64 / nb;
        prev = Some(v);
    }
    total
}

/// Population standard deviation (`np.std`, ddof = 0), two-pass.
pub(crate) fn population_std(values: &[f64]) -> f64 {
    let n = values.len() as f64;
    if values.is_empty() {
        return 0.0;
    }
    let mean = values.iter().sum::<f64>() / n;
    (values.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n).sqrt()
}

/// Wasserstein distance divided by the reference's standard deviation (at least 0.001),
/// Evidently's `wasserstein` (`wasserstein_distance_norm`).
pub(crate) fn wasserstein_norm(
    reference: &ColumnSample,
    reference_std: f64,
    current: &ColumnSample,
) -> Result<Outcome> {
    match (&reference.values, &current.values) {
        (SampleValues::Numeric { sorted: a }, SampleValues::Numeric { sorted: b }) => {
            let norm = reference_std.max(0.001);
            Ok(Outcome {
                statistic: wasserstein_distance(a, b) / norm,
                p_value: None,
            })
        }
        _ => Err(kind_mismatch(reference, current)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wasserstein_of_shifted_point_masses_is_the_shift() {
        assert!((wasserstein_distance(&[0.0, 0.0], &[1.0]) - 1.0).abs() < 1e-15);
        assert!((wasserstein_distance(&[0.0, 1.0], &[0.0, 1.0])).abs() < 1e-15);
        assert!((wasserstein_distance(&[0.0, 1.0, 3.0], &[5.0, 6.0, 8.0]) - 5.0).abs() < 1e-12);
    }

    #[test]
    fn zero_fill_uses_a_millionth_of_tiny_shares() {
        let mut s = [0.0, 0.00005, 0.99995];
        fill_zeroes(&mut s);
        assert!((s[0] - 0.00005 / 1e6).abs() < 1e-20);
        let mut s = [0.0, 0.5, 0.5];
        fill_zeroes(&mut s);
        assert_eq!(s[0], 1e-4);
    }
}
