//! Quantile binning of the training matrix into a column-major matrix of small integer codes,
//! the input of the histogram split search.
//!
//! Bin `b` of a feature holds the values in `(edges[b-1], edges[b]]`, so "code `<= b`" and
//! "value `<= edges[b]`" select the same rows: a split found on codes is stored as the real
//! threshold `edges[b]` and prediction compares raw `f32` features. Edges are midpoints
//! between neighbouring distinct training values (as scikit-learn's thresholds), so a feature
//! with at most `max_bins` distinct values is binned exactly.

use ndarray::ArrayView2;
use rayon::prelude::*;

/// Rows sampled to place the bin edges of a large matrix (LightGBM samples 200,000 too);
/// every row is still coded.
const EDGE_SAMPLE: usize = 200_000;

/// A bin code: `u8` when `max_bins <= 256`, `u16` above.
pub(crate) trait BinCode: Copy + Send + Sync + 'static {
    fn idx(self) -> usize;
    fn from_idx(i: usize) -> Self;
}

impl BinCode for u8 {
    #[inline(always)]
    fn idx(self) -> usize {
        self as usize
    }
    fn from_idx(i: usize) -> Self {
        i as u8
    }
}

impl BinCode for u16 {
    #[inline(always)]
    fn idx(self) -> usize {
        self as usize
    }
    fn from_idx(i: usize) -> Self {
        i as u16
    }
}

/// Matrices with at most this many rows also get [`Binned::ranks`] (ranks fit in `u16`).
pub(crate) const RANK_LIMIT: usize = u16::MAX as usize + 1;

/// One feature's binning: raw values, bin edges, exactness, codes, and (small matrices only)
/// each row's rank among the distinct values, and those values.
struct ColumnBins<C> {
    raw: Vec<f32>,
    edges: Vec<f32>,
    exact: bool,
    codes: Vec<C>,
    ranks: Vec<u16>,
    distinct: Vec<f32>,
}

/// The training matrix, column-major, both as raw values and as bin codes.
pub(crate) struct Binned<C> {
    pub(crate) n_rows: usize,
    /// `codes[f * n_rows + r]`.
    pub(crate) codes: Vec<C>,
    /// `raw[f * n_rows + r]`: the exact values, for the exact split search on small nodes and
    /// for partitioning rows by the chosen threshold.
    pub(crate) raw: Vec<f32>,
    /// Per feature: the upper edge of every bin but the last (`n_bins - 1` values).
    pub(crate) edges: Vec<Vec<f32>>,
    /// Per feature: every distinct training value has its own bin, so a histogram split is
    /// as exact as a sorted one.
    pub(crate) exact: Vec<bool>,
    /// `ranks[f * n_rows + r]`: the rank of the row's value among the feature's distinct
    /// values (equal values share a rank), for matrices of at most [`RANK_LIMIT`] rows (else
    /// empty). A histogram over ranks is an exact split search: see `split::packed_ranked`.
    pub(crate) ranks: Vec<u16>,
    /// Per feature: its distinct values in increasing order (rank `k` is `distinct[f][k]`);
    /// empty without ranks.
    pub(crate) distinct: Vec<Vec<f32>>,
    /// The codes again, row-major (`row_codes[r * n_features + f]`), for large matrices
    /// (see [`Binned::with_row_codes`]); else empty.
    row_codes: Vec<C>,
}

impl<C: BinCode> Binned<C> {
    pub(crate) fn new(x: ArrayView2<'_, f32>, max_bins: usize) -> Self {
        let n_rows = x.nrows();
        let per_feature: Vec<ColumnBins<C>> = (0..x.ncols())
            .into_par_iter()
            .map(|f| {
                let raw: Vec<f32> = x.column(f).iter().copied().collect();
                if n_rows <= RANK_LIMIT {
                    return ranked_column(raw, max_bins);
                }
                let (edges, exact) = bin_edges(&raw, max_bins);
                let codes = raw
                    .iter()
                    .map(|&v| C::from_idx(edges.partition_point(|&t| t < v)))
                    .collect();
                ColumnBins {
                    raw,
                    edges,
                    exact,
                    codes,
                    ranks: Vec::new(),
                    distinct: Vec::new(),
                }
            })
            .collect();
        let mut b = Binned {
            n_rows,
            codes: Vec::with_capacity(n_rows * x.ncols()),
            raw: Vec::with_capacity(n_rows * x.ncols()),
            edges: Vec::with_capacity(x.ncols()),
            exact: Vec::with_capacity(x.ncols()),
            ranks: Vec::new(),
            distinct: Vec::with_capacity(x.ncols()),
            row_codes: Vec::new(),
        };
        for c in per_feature {
            b.raw.extend_from_slice(&c.raw);
            b.codes.extend_from_slice(&c.codes);
            b.ranks.extend_from_slice(&c.ranks);
            b.edges.push(c.edges);
            b.exact.push(c.exact);
            if !c.ranks.is_empty() {
                b.distinct.push(c.distinct);
            }
        }
        b
    }

    /// Adds the row-major copy of the codes. On a matrix far larger than the cache, a node
    /// deep in a tree holds rows scattered over the whole matrix, and every feature it
    /// evaluates (about `sqrt(n_features)` of them) and its partition would each miss the
    /// cache once per row in a column-major layout; row-major, a row's codes for every feature
    /// share one cache line, fetched once per node. Costs one byte (`u8` codes) per value.
    pub(crate) fn with_row_codes(mut self) -> Self {
        let nf = self.edges.len();
        let mut rm = vec![C::from_idx(0); self.n_rows * nf];
        for f in 0..nf {
            for (r, &c) in self.codes(f).iter().enumerate() {
                rm[r * nf + f] = c;
            }
        }
        self.row_codes = rm;
        self
    }

    /// The row-major codes and their row stride, when built ([`Binned::with_row_codes`]).
    #[inline(always)]
    pub(crate) fn row_codes(&self) -> Option<(&[C], usize)> {
        (!self.row_codes.is_empty()).then_some((&self.row_codes[..], self.edges.len()))
    }

    /// The ranks of feature `f` and its distinct values, when the matrix has them.
    #[inline(always)]
    pub(crate) fn ranked(&self, f: usize) -> Option<(&[u16], &[f32])> {
        Some((
            self.ranks.get(f * self.n_rows..(f + 1) * self.n_rows)?,
            self.distinct.get(f)?,
        ))
    }

    #[inline(always)]
    pub(crate) fn codes(&self, f: usize) -> &[C] {
        &self.codes[f * self.n_rows..(f + 1) * self.n_rows]
    }

    #[inline(always)]
    pub(crate) fn raw(&self, f: usize) -> &[f32] {
        &self.raw[f * self.n_rows..(f + 1) * self.n_rows]
    }
}

/// Maps an `f32` to a `u32` with the same order (after folding -0.0 into 0.0).
#[inline(always)]
pub(crate) fn order_key(v: f32) -> u32 {
    // -0.0 sorts as 0.0 (an integer test: cheaper than adding 0.0 on this hot path).
    let b = match v.to_bits() {
        0x8000_0000 => 0,
        b => b,
    };
    if b & 0x8000_0000 != 0 {
        !b
    } else {
        b | 0x8000_0000
    }
}

/// The inverse of [`order_key`] (-0.0 comes back as 0.0).
#[inline(always)]
pub(crate) fn from_order_key(k: u32) -> f32 {
    f32::from_bits(if k & 0x8000_0000 != 0 {
        k & 0x7FFF_FFFF
    } else {
        !k
    })
}

/// A threshold strictly between `a < b` that `a` satisfies (`a <= t < b`), as scikit-learn
/// places its thresholds: the midpoint, or `a` when the midpoint rounds up to `b`.
pub(crate) fn midpoint(a: f32, b: f32) -> f32 {
    let m = (f64::from(a) + (f64::from(b) - f64::from(a)) / 2.0) as f32;
    if m >= b || m < a { a } else { m }
}

/// Columns with at most this many distinct values (a one-hot or yes/no column has two) are
/// ranked by comparing each value with the few distinct ones, without a sort.
const FEW_VALUES: usize = 8;

/// The distinct values of a column in increasing order (-0.0 as 0.0), if there are at most
/// [`FEW_VALUES`]; `None` as soon as there are more.
fn few_values(raw: &[f32]) -> Option<Vec<f32>> {
    let mut values: Vec<f32> = Vec::with_capacity(FEW_VALUES);
    for &v in raw {
        if !values.contains(&v) {
            if values.len() == FEW_VALUES {
                return None;
            }
            values.push(v + 0.0);
        }
    }
    values.sort_unstable_by(f32::total_cmp);
    Some(values)
}

/// [`ranked_column`] for a column whose distinct `values` (ascending) are few: a row's rank
/// is how many of them are below its value.
fn few_valued_column<C: BinCode>(
    raw: Vec<f32>,
    values: Vec<f32>,
    max_bins: usize,
) -> ColumnBins<C> {
    let ranks: Vec<u16> = raw
        .iter()
        .map(|&v| values.iter().filter(|&&d| d < v).count() as u16)
        .collect();
    let mut distinct: Vec<(f32, usize)> = values.iter().map(|&v| (v, 0)).collect();
    for &k in &ranks {
        distinct[usize::from(k)].1 += 1;
    }
    let (edges, exact) = edges_of(&distinct, raw.len(), max_bins);
    let code_of_rank: Vec<C> = values
        .iter()
        .map(|&v| C::from_idx(edges.partition_point(|&t| t < v)))
        .collect();
    let codes = ranks
        .iter()
        .map(|&k| code_of_rank[usize::from(k)])
        .collect();
    ColumnBins {
        raw,
        edges,
        exact,
        codes,
        ranks,
        distinct: values,
    }
}

/// The binning of a column of at most [`RANK_LIMIT`] rows from one sort of `(value, row)`
/// pairs: the distinct values and their counts give the edges (as [`bin_edges`]), and one
/// walk of the sorted pairs gives every row its rank and its code (no binary search).
fn ranked_column<C: BinCode>(raw: Vec<f32>, max_bins: usize) -> ColumnBins<C> {
    if let Some(values) = few_values(&raw) {
        return few_valued_column(raw, values, max_bins);
    }
    // Order keys (-0.0 folds into 0.0), the row in the low half.
    let mut pairs: Vec<u64> = raw
        .iter()
        .enumerate()
        .map(|(r, &v)| u64::from(order_key(v)) << 32 | r as u64)
        .collect();
    pairs.sort_unstable();
    let mut distinct: Vec<(f32, usize)> = Vec::new();
    let mut ranks = vec![0u16; raw.len()];
    let mut last_key = None;
    for &p in &pairs {
        let r = p as u32 as usize;
        if last_key == Some(p >> 32) {
            if let Some((_, c)) = distinct.last_mut() {
                *c += 1;
            }
        } else {
            distinct.push((raw[r] + 0.0, 1));
            last_key = Some(p >> 32);
        }
        ranks[r] = (distinct.len() - 1) as u16;
    }
    let (edges, exact) = edges_of(&distinct, raw.len(), max_bins);
    // Code = number of edges below the value; values ascend along the walk.
    let mut codes = vec![C::from_idx(0); raw.len()];
    let mut code = 0;
    for &p in &pairs {
        let r = p as u32 as usize;
        while code < edges.len() && edges[code] < raw[r] {
            code += 1;
        }
        codes[r] = C::from_idx(code);
    }
    ColumnBins {
        raw,
        edges,
        exact,
        codes,
        ranks,
        distinct: distinct.into_iter().map(|(v, _)| v).collect(),
    }
}

/// Equal-frequency bin edges over the (sampled) values of one column, and whether every
/// distinct value got its own bin.
fn bin_edges(column: &[f32], max_bins: usize) -> (Vec<f32>, bool) {
    let mut v: Vec<f32> = if column.len() > EDGE_SAMPLE {
        let step = column.len() as f64 / EDGE_SAMPLE as f64;
        (0..EDGE_SAMPLE)
            .map(|i| column[(i as f64 * step) as usize])
            .collect()
    } else {
        column.to_vec()
    };
    v.sort_unstable_by(f32::total_cmp);
    // Distinct values with their counts.
    let mut distinct: Vec<(f32, usize)> = Vec::new();
    for &x in &v {
        match distinct.last_mut() {
            Some((last, c)) if *last == x => *c += 1,
            _ => distinct.push((x, 1)),
        }
    }
    let (edges, exact) = edges_of(&distinct, v.len(), max_bins);
    (edges, exact && column.len() <= EDGE_SAMPLE)
}

/// Equal-frequency bin edges from the distinct values (ascending, with their counts) of `n`
/// values, and whether every distinct value got its own bin.
fn edges_of(distinct: &[(f32, usize)], n: usize, max_bins: usize) -> (Vec<f32>, bool) {
    if distinct.len() <= max_bins {
        let edges = distinct
            .windows(2)
            .map(|w| midpoint(w[0].0, w[1].0))
            .collect();
        return (edges, true);
    }
    let n = n as f64;
    let per_bin = n / max_bins as f64;
    let mut edges = Vec::with_capacity(max_bins - 1);
    let mut cum = 0usize;
    for (i, w) in distinct.windows(2).enumerate() {
        cum += w[0].1;
        let remaining_values = distinct.len() - i - 1;
        let remaining_bins = max_bins - 1 - edges.len();
        // Cut when this bin is full, or when every remaining value needs its own bin.
        if cum as f64 >= per_bin * (edges.len() + 1) as f64 || remaining_values <= remaining_bins {
            edges.push(midpoint(w[0].0, w[1].0));
            if edges.len() == max_bins - 1 {
                break;
            }
        }
    }
    (edges, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_agree_with_thresholds() {
        let col: Vec<f32> = (0..1000).map(|i| ((i * 37) % 101) as f32 * 0.5).collect();
        for max_bins in [2, 7, 256] {
            let (e, exact) = bin_edges(&col, max_bins);
            assert_eq!(exact, max_bins >= 101);
            assert!(e.len() < max_bins);
            assert!(e.windows(2).all(|w| w[0] < w[1]));
            for (b, &t) in e.iter().enumerate() {
                for &v in &col {
                    let code = e.partition_point(|&t| t < v);
                    assert_eq!(code <= b, v <= t);
                }
            }
        }
    }

    #[test]
    fn ranked_binning_matches_the_sampled_path() {
        // Ties, negative values and both zeros; few and many distinct values.
        for (n, modulo) in [
            (1000usize, 101usize),
            (700, 7),
            (500, 2),
            (64, 9),
            (3000, 2500),
        ] {
            let col: Vec<f32> = (0..n)
                .map(|i| match (i * 37) % modulo {
                    0 => -0.0,
                    v => (v as f32 - modulo as f32 / 3.0) * 0.25,
                })
                .collect();
            for max_bins in [2, 16, 255] {
                let c = ranked_column::<u8>(col.clone(), max_bins);
                let (edges, exact) = bin_edges(&col, max_bins);
                assert_eq!((&c.edges, c.exact), (&edges, exact), "{n} {max_bins}");
                for (r, &v) in col.iter().enumerate() {
                    let code = edges.partition_point(|&t| t < v);
                    assert_eq!(c.codes[r] as usize, code);
                    // The rank indexes the row's value among the distinct values, ascending.
                    assert_eq!(c.distinct[c.ranks[r] as usize], v);
                }
                assert!(c.distinct.windows(2).all(|w| w[0] < w[1]));
            }
        }
    }

    #[test]
    fn midpoint_stays_below_upper_value() {
        let a = 1.0f32;
        let b = f32::from_bits(a.to_bits() + 1);
        let m = midpoint(a, b);
        assert!(a <= m && m < b);
        assert_eq!(midpoint(1.0, 2.0), 1.5);
    }
}
