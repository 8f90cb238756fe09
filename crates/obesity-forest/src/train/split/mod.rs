//! Split search for one node: class-weight histograms over bins for large nodes, an exact
//! sort of the node's rows for small ones (exact thresholds, and cheaper than scanning 256
//! bins × classes when the node has a few dozen rows).
//!
//! Two implementations of the same search: the packed one (see [`pack`]) for the common
//! case of integer weights (bootstrap counts), few classes and fewer than 65,536 rows, which
//! works in exact integers, and the `f64` one for everything else (class weights, many
//! classes, large data). Both pick the same splits (a test in `tree.rs` checks it).
//!
//! This module holds what every search shares (the node's data, the result, the scratch
//! buffers) and [`evaluate`], which picks the search for a feature; the searches live in
//! [`packed`] (packed class weights: their arithmetic, the histogram, 2-bin and rank
//! searches and the bin scans), [`sorted`] (the packed exact search by sorting, with its
//! networks and scans) and [`float`] (the `f64` histogram and exact searches).

mod float;
mod packed;
mod sorted;

pub(crate) use float::float_split_is_pure;
/// Read by the SSE2 scans (`lanes.rs`, x86-64 only).
#[cfg(target_arch = "x86_64")]
pub(crate) use packed::weight;
pub(crate) use packed::{
    MAX_PACKED_CLASSES, PACKED_LIMIT, lane, pack, packed_split_is_pure, weight_and_squares,
};

use float::{exact, histogram};
use packed::{packed_binary, packed_histogram, packed_ranked};
use sorted::packed_exact;

use crate::binning::{BinCode, Binned, order_key};
use crate::params::Criterion;

/// On a feature whose bins merge distinct values, nodes with at most this many rows use the
/// exact sorted search, so small nodes (most of a fully grown tree) get exact thresholds.
pub(crate) const SMALL_NODE: usize = 128;

/// Packed gini nodes with more rows than this (and at most [`SMALL_NODE`]) find their exact
/// split by a histogram over ranks ([`packed_ranked`]) instead of sorting, when the feature
/// has at most 64 distinct values per row of the node (one bit-set word per row); smaller
/// nodes sort in a network, which is cheaper there.
const RANKED_FROM: usize = 32;

/// Features with at most this many bins get replicated histograms.
const FEW_BINS: usize = 16;

/// Histogram replicas for few-bin features (a power of two).
const REPLICAS: usize = 4;

/// The best split of one feature.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Split {
    pub(crate) feature: usize,
    pub(crate) threshold: f32,
    /// Criterion-specific score, larger is better; comparable only within one node.
    pub(crate) proxy: f64,
    /// Rows that go left.
    pub(crate) n_left: usize,
    /// Left class weights when the node is packed (else 0; `Scratch::left` holds them).
    pub(crate) left_packed: u128,
    /// For a split between histogram bins, the last bin on the left: on the node's rows
    /// (which leave every bin between it and the first right bin empty) `code <= left_bin`
    /// is `value <= threshold`, so the partition can read the row-major codes. [`NO_BIN`]
    /// for splits between exact values.
    pub(crate) left_bin: u32,
}

/// [`Split::left_bin`] of a split between exact values.
pub(crate) const NO_BIN: u32 = u32::MAX;

/// What evaluating one feature found.
pub(crate) enum Outcome {
    /// Every row of the node has the same value: does not count as a visited feature.
    Constant,
    /// Non-constant but no split honours `min_samples_leaf`.
    NoValid,
    /// The best split of this feature; `left` holds its left class weights.
    Found(Split),
}

/// Scratch buffers reused across the nodes of one tree.
pub(crate) struct Scratch {
    pub(crate) hist: Vec<f64>,
    pub(crate) cnt: Vec<u32>,
    pub(crate) keys: Vec<u64>,
    pub(crate) left: Vec<f64>,
    /// Left class weights of the best split so far in this node.
    pub(crate) best_left: Vec<f64>,
    /// Packed histogram (see [`pack`]), kept zeroed between calls.
    pub(crate) phist: Vec<u128>,
    /// The non-empty bins of the packed histogram, in order (see [`gini_bins`]).
    pub(crate) occupied: Vec<u32>,
    /// Packed histogram over ranks (see [`packed_ranked`]), kept zeroed between calls;
    /// grown to the largest number of distinct values the tree meets.
    pub(crate) rank_hist: Vec<u128>,
    /// Which ranks [`packed_ranked`] filled, one bit each, kept zeroed between calls.
    pub(crate) rank_bits: Vec<u64>,
}

impl Scratch {
    pub(crate) fn new(max_bins: usize, n_classes: usize) -> Self {
        Scratch {
            hist: vec![0.0; max_bins.max(FEW_BINS * REPLICAS) * n_classes],
            cnt: vec![0; max_bins.max(FEW_BINS * REPLICAS)],
            keys: Vec::new(),
            left: vec![0.0; n_classes],
            best_left: vec![0.0; n_classes],
            phist: vec![0; max_bins.max(FEW_BINS * REPLICAS)],
            occupied: Vec::new(),
            rank_hist: Vec::new(),
            rank_bits: Vec::new(),
        }
    }
}

/// Data of the node being split.
pub(crate) struct NodeCtx<'a> {
    pub(crate) rows: &'a [u32],
    /// Class and weight of each row of `rows` (aligned with it, so read sequentially); empty
    /// when the tree is packed, and then `pw` is used instead.
    pub(crate) yw: &'a [(u32, f32)],
    /// Class totals of the node; empty when the tree is packed (see `packed_total`).
    pub(crate) totals: &'a [f64],
    pub(crate) w_total: f64,
    pub(crate) min_leaf: usize,
    pub(crate) criterion: Criterion,
    /// Packed class weight of each row of `rows` (aligned with it); empty when the tree is
    /// not packed, and then `y` and `w` are used instead.
    pub(crate) pw: &'a [u128],
    /// `weight << 16 | class` of each row of `rows` when the tree is packed (else empty).
    pub(crate) cw: &'a [u32],
    /// Packed class totals of the node (0 when not packed).
    pub(crate) packed_total: u128,
    /// The matrix's precomputed order keys (used by the packed sorted search).
    pub(crate) order_keys: &'a OrderKeys,
    /// Whether the packed scans may use SSE2 ([`lanes`]); off for [`Isa::Portable`]. Both
    /// choose the same splits.
    ///
    /// [`Isa::Portable`]: crate::Isa::Portable
    pub(crate) simd: bool,
}

#[inline(always)]
fn xlogx(v: f64) -> f64 {
    if v > 0.0 { v * v.ln() } else { 0.0 }
}

/// Evaluates feature `f` on the node; on success `scratch.left` holds the best split's left
/// class weights.
pub(crate) fn evaluate<C: BinCode>(
    binned: &Binned<C>,
    f: usize,
    node: &NodeCtx<'_>,
    scratch: &mut Scratch,
) -> Outcome {
    let n = node.rows.len();
    let n_bins = binned.edges[f].len() + 1;
    if !node.pw.is_empty() {
        return if n_bins == 2 {
            packed_binary(binned, f, node)
        } else if (binned.exact[f] && n_bins <= 2 * n) || n > SMALL_NODE {
            packed_histogram(binned, f, node, scratch)
        } else if n > RANKED_FROM
            && node.criterion == Criterion::Gini
            && let Some((ranks, distinct)) = binned.ranked(f)
            && distinct.len() <= 64 * n
        {
            packed_ranked(ranks, distinct, f, node, scratch)
        } else {
            packed_exact(binned, f, node, scratch)
        };
    }
    let use_sort = if binned.exact[f] {
        // Both searches are exact here: pick the cheaper. The histogram scans
        // `n_bins × n_classes` cells, the sort costs about `n log2 n` comparisons.
        let log_n = (usize::BITS - n.leading_zeros()) as usize;
        n_bins * node.totals.len() > 2 * n * log_n
    } else {
        n <= SMALL_NODE
    };
    if use_sort {
        exact(binned, f, node, scratch)
    } else {
        histogram(binned, f, node, scratch)
    }
}

/// Whether a node of `n` rows out of `n_rows` is sparse enough that its rows rarely share a
/// cache line of a column of `u8` codes (fewer than one row in 64): then the row-major codes
/// serve it better, as each of its rows misses the cache in either layout but row-major
/// misses once for all the features the node reads. Denser nodes stream through columns.
#[inline(always)]
pub(crate) fn is_sparse(n: usize, n_rows: usize) -> bool {
    n.saturating_mul(64) < n_rows
}

/// The order keys ([`order_key`]) of every value of a matrix small enough for packed trees,
/// column-major as [`Binned::raw`], computed once per forest: the sorted search then gathers
/// a ready key per row instead of converting the row's float at every node.
pub(crate) struct OrderKeys {
    n_rows: usize,
    /// `keys[f * n_rows + r]`; empty when the matrix has more than [`PACKED_LIMIT`] rows:
    /// its trees are packed only under a small `max_samples`, and then convert each value as
    /// they go, rather than the forest holding a second copy of a large matrix.
    keys: Vec<u32>,
}

impl OrderKeys {
    pub(crate) fn new<C: BinCode>(binned: &Binned<C>) -> Self {
        let keys = if binned.n_rows <= PACKED_LIMIT as usize {
            binned.raw.iter().map(|&v| order_key(v)).collect()
        } else {
            Vec::new()
        };
        OrderKeys {
            n_rows: binned.n_rows,
            keys,
        }
    }

    /// The keys of feature `f`, or `None` when they were not computed.
    #[inline(always)]
    fn column(&self, f: usize) -> Option<&[u32]> {
        self.keys.get(f * self.n_rows..(f + 1) * self.n_rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Packs per-class weights as the rows of a node would sum them.
    fn packed(weights: &[u32]) -> u128 {
        weights
            .iter()
            .enumerate()
            .map(|(c, &w)| (0..w).map(|_| pack(c as u32, 1)).sum::<u128>())
            .sum()
    }

    #[test]
    fn pure_split_needs_one_class_per_side() {
        let total = [3, 0, 2, 0];
        for (left, pure) in [
            ([3, 0, 0, 0], true),
            ([0, 0, 2, 0], true),
            ([2, 0, 0, 0], false),
            ([3, 0, 1, 0], false),
            ([1, 0, 2, 0], false),
        ] {
            assert_eq!(
                packed_split_is_pure(packed(&left), packed(&total)),
                pure,
                "{left:?}"
            );
            let lf: Vec<f64> = left.iter().map(|&w| f64::from(w)).collect();
            let tf: Vec<f64> = total.iter().map(|&w| f64::from(w)).collect();
            assert_eq!(float_split_is_pure(&lf, &tf), pure, "{left:?}");
        }
    }
}
