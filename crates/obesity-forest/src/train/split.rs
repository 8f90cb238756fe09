//! Split search for one node: class-weight histograms over bins for large nodes, an exact
//! sort of the node's rows for small ones (exact thresholds, and cheaper than scanning 256
//! bins × classes when the node has a few dozen rows).
//!
//! Two implementations of the same search: the packed one (see [`pack`]) for the common
//! case of integer weights (bootstrap counts), few classes and fewer than 65,536 rows, which
//! works in exact integers, and the `f64` one for everything else (class weights, many
//! classes, large data). Both pick the same splits (a test in `tree.rs` checks it).

use super::lanes;
use crate::binning::{BinCode, Binned, from_order_key, midpoint, order_key};
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

/// Packed class weights: with integer weights (bootstrap counts, no class weights), at most
/// [`MAX_PACKED_CLASSES`] classes and a tree whose total weight and row count stay below
/// 65,536, each row carries one `u128` holding its weight in the 16-bit lane of its class
/// and a 1 in the count lane. A histogram cell or a running left side is then one `u128`
/// sum (no per-class indexing, no float), and a 2-bin feature needs no histogram at all.
pub(crate) const MAX_PACKED_CLASSES: usize = 7;
/// The lane (bit offset) that counts rows.
pub(crate) const COUNT_SHIFT: u32 = 112;
/// Largest total weight (and row count) a packed tree may have.
pub(crate) const PACKED_LIMIT: u32 = 0xFFFF;

/// The packed value of one row of class `y` with integer weight `w`.
#[inline(always)]
pub(crate) fn pack(y: u32, w: u32) -> u128 {
    (u128::from(w) << (16 * y)) | (1u128 << COUNT_SHIFT)
}

/// Class `c`'s weight in a packed sum.
#[inline(always)]
pub(crate) fn lane(v: u128, c: usize) -> u64 {
    ((v >> (16 * c)) & 0xFFFF) as u64
}

/// Rows in a packed sum.
#[inline(always)]
fn count(v: u128) -> usize {
    (v >> COUNT_SHIFT) as usize
}

/// Total weight and sum of squared class weights of a packed sum (gini's ingredients). All
/// [`MAX_PACKED_CLASSES`] lanes are read with constant shifts (lanes of absent classes are
/// zero), which compiles to straight-line code.
#[inline(always)]
pub(crate) fn weight_and_squares(v: u128) -> (u64, u64) {
    let ls = lanes(v);
    let w = ls.iter().sum();
    let sq = ls.iter().map(|l| l * l).sum();
    (w, sq)
}

/// Total class weight of a packed sum.
#[inline(always)]
pub(crate) fn weight(v: u128) -> u64 {
    lanes(v).iter().sum()
}

/// Whether a packed split sends every class wholly to one side: both children pure. A
/// class-weight vector is pure when its sum of squares is its total squared.
#[inline]
pub(crate) fn packed_split_is_pure(left: u128, total: u128) -> bool {
    let (wl, sl) = weight_and_squares(left);
    let (wr, sr) = weight_and_squares(total - left);
    sl == wl * wl && sr == wr * wr
}

/// [`packed_split_is_pure`] for the `f64` search: at most one class on each side (right
/// weights below `1e-9` count as zero, as the children's totals do in `grow`).
pub(crate) fn float_split_is_pure(left: &[f64], totals: &[f64]) -> bool {
    let on_left = left.iter().filter(|&&l| l > 0.0).count();
    let on_right = left
        .iter()
        .zip(totals)
        .filter(|&(&l, &t)| (t - l).abs() >= 1e-9)
        .count();
    on_left <= 1 && on_right <= 1
}

/// The class lanes of a packed sum, read with constant shifts.
#[inline(always)]
fn lanes(v: u128) -> [u64; MAX_PACKED_CLASSES] {
    let (lo, hi) = (v as u64, (v >> 64) as u64);
    [
        lo & 0xFFFF,
        (lo >> 16) & 0xFFFF,
        (lo >> 32) & 0xFFFF,
        lo >> 48,
        hi & 0xFFFF,
        (hi >> 16) & 0xFFFF,
        (hi >> 32) & 0xFFFF,
    ]
}

/// Gini's score of a left side against the fixed node totals `tc` (with `t2 = Σ t²` and
/// `w_total = Σ t`): the right side's `Σ (t - l)² = t2 - 2 Σ t·l + Σ l²` comes from the
/// left lanes alone, so each candidate reads one set of lanes instead of two. Returned as
/// the numerator and denominator of [`Score::Gini`].
#[inline(always)]
fn gini_against(left: u128, tc: &[u64; MAX_PACKED_CLASSES], t2: u64, w_total: u64) -> (u64, u64) {
    let ls = lanes(left);
    let (mut wl, mut sl, mut tl) = (0u64, 0u64, 0u64);
    for (&l, &t) in ls.iter().zip(tc) {
        wl += l;
        sl += l * l;
        tl += t * l;
    }
    let (sr, wr) = (t2 + sl - 2 * tl, w_total - wl);
    (sl * wr + sr * wl, wl * wr)
}

/// A packed split's score, larger is better. Gini's `sl / wl + sr / wr` is kept as the exact
/// fraction `(sl wr + sr wl) / (wl wr)` of integers (below 2^50 and 2^32 while weights fit
/// in 16 bits) and compared by cross-multiplying in `u128`: no division per candidate, and
/// no rounding, so ties are real ties.
#[derive(Debug, Clone, Copy)]
enum Score {
    Gini { num: u64, den: u64 },
    Float(f64),
}

impl Score {
    #[inline(always)]
    fn gini(sl: u64, wl: u64, sr: u64, wr: u64) -> Self {
        Score::Gini {
            num: sl * wr + sr * wl,
            den: wl * wr,
        }
    }

    #[inline(always)]
    fn beats(self, other: Score) -> bool {
        match (self, other) {
            (Score::Gini { num: a, den: b }, Score::Gini { num: c, den: d }) => {
                u128::from(a) * u128::from(d) > u128::from(c) * u128::from(b)
            }
            (Score::Float(a), Score::Float(b)) => a > b,
            // One node never mixes criteria.
            _ => false,
        }
    }

    /// The score as the `f64` that [`Split::proxy`] compares across features.
    fn value(self) -> f64 {
        match self {
            Score::Gini { num, den } => num as f64 / den as f64,
            Score::Float(v) => v,
        }
    }
}

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
}

#[inline(always)]
fn xlogx(v: f64) -> f64 {
    if v > 0.0 { v * v.ln() } else { 0.0 }
}

/// Larger is better: for gini `sum l^2 / wl + sum r^2 / wr` (scikit-learn's proxy
/// improvement), for entropy `-(wl H_l + wr H_r)` up to a constant factor.
#[inline(always)]
fn proxy(criterion: Criterion, left: &[f64], totals: &[f64], wl: f64, wr: f64) -> f64 {
    match criterion {
        Criterion::Gini => {
            let mut sl = 0.0;
            let mut sr = 0.0;
            for (&l, &t) in left.iter().zip(totals) {
                let r = t - l;
                sl += l * l;
                sr += r * r;
            }
            sl / wl + sr / wr
        }
        Criterion::Entropy => {
            let mut s = 0.0;
            for (&l, &t) in left.iter().zip(totals) {
                s += xlogx(l) + xlogx(t - l);
            }
            s - xlogx(wl) - xlogx(wr)
        }
    }
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

fn histogram<C: BinCode>(
    binned: &Binned<C>,
    f: usize,
    node: &NodeCtx<'_>,
    s: &mut Scratch,
) -> Outcome {
    let k = node.totals.len();
    let n_bins = binned.edges[f].len() + 1;
    // With few bins, consecutive rows hit the same cell and every `+=` waits for the previous
    // store: spread rows over REPLICAS copies of the histogram and fold them afterwards.
    let reps = if n_bins <= FEW_BINS { REPLICAS } else { 1 };
    let shape = (n_bins, k, reps);
    // A large matrix has its codes row-major too (see `Binned::row_codes`): the node's rows
    // then bring one cache line each for all the features the node evaluates.
    let (lo, hi) = match binned.row_codes() {
        Some((rm, stride)) if is_sparse(node.rows.len(), binned.n_rows) => {
            fill_histogram(node, s, shape, |r| rm[r as usize * stride + f].idx())
        }
        _ => {
            let codes = binned.codes(f);
            fill_histogram(node, s, shape, |r| codes[r as usize].idx())
        }
    };
    for rep in 1..reps {
        for b in lo..=hi {
            let c = std::mem::take(&mut s.cnt[rep * n_bins + b]);
            s.cnt[b] += c;
            for c in 0..k {
                let v = std::mem::take(&mut s.hist[(rep * n_bins + b) * k + c]);
                s.hist[b * k + c] += v;
            }
        }
    }
    if lo == hi {
        s.hist[lo * k..(lo + 1) * k].fill(0.0);
        s.cnt[lo] = 0;
        return Outcome::Constant;
    }
    let n = node.rows.len();
    let edges = &binned.edges[f];
    s.left.fill(0.0);
    let mut wl = 0.0;
    let mut nl = 0usize;
    let mut best: Option<(f64, usize, usize, usize)> = None; // proxy, left bin, right bin, n_left
    let mut pending: Option<usize> = None; // last non-empty left bin awaiting its right neighbour
    for b in lo..=hi {
        let c = s.cnt[b] as usize;
        if c == 0 {
            continue;
        }
        // A candidate split between `pending` (left) and `b` (right).
        if let Some(pb) = pending.take()
            && nl >= node.min_leaf
            && n - nl >= node.min_leaf
        {
            let wr = node.w_total - wl;
            let p = proxy(node.criterion, &s.left, node.totals, wl, wr);
            if best.is_none_or(|(bp, _, _, _)| p > bp) {
                best = Some((p, pb, b, nl));
                s.best_left.copy_from_slice(&s.left);
            }
        }
        let h = &mut s.hist[b * k..(b + 1) * k];
        for (l, v) in s.left.iter_mut().zip(h.iter_mut()) {
            *l += *v;
            wl += *v;
            *v = 0.0;
        }
        s.cnt[b] = 0;
        nl += c;
        if n - nl < node.min_leaf {
            // Clear the rest and stop: no later split keeps enough rows on the right.
            for bb in b + 1..=hi {
                s.hist[bb * k..(bb + 1) * k].fill(0.0);
                s.cnt[bb] = 0;
            }
            break;
        }
        pending = Some(b);
    }
    match best {
        None => Outcome::NoValid,
        Some((p, left_bin, right_bin, n_left)) => {
            s.left.copy_from_slice(&s.best_left);
            // Any threshold in [edges[left_bin], edges[right_bin - 1]] separates the two
            // sides; take the middle of the gap, as scikit-learn takes the middle between
            // the two nearest values.
            let threshold = midpoint(edges[left_bin], edges[right_bin - 1]);
            Outcome::Found(Split {
                feature: f,
                threshold,
                proxy: p,
                n_left,
                left_packed: 0,
                left_bin: left_bin as u32,
            })
        }
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

/// Adds the node's rows into the `f64` histogram (`reps` replicas of `n_bins × k` cells,
/// see [`histogram`]) by their bin `code(row)`; returns the lowest and highest bin met.
#[inline(always)]
fn fill_histogram(
    node: &NodeCtx<'_>,
    s: &mut Scratch,
    (n_bins, k, reps): (usize, usize, usize),
    code: impl Fn(u32) -> usize,
) -> (usize, usize) {
    let (mut lo, mut hi) = (usize::MAX, 0usize);
    for (i, (&r, &(c, w))) in node.rows.iter().zip(node.yw).enumerate() {
        let b = code(r);
        let rep = i & (reps - 1);
        s.hist[(rep * n_bins + b) * k + c as usize] += f64::from(w);
        s.cnt[rep * n_bins + b] += 1;
        lo = lo.min(b);
        hi = hi.max(b);
    }
    (lo, hi)
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

fn exact<C: BinCode>(binned: &Binned<C>, f: usize, node: &NodeCtx<'_>, s: &mut Scratch) -> Outcome {
    let raw = binned.raw(f);
    // Sort `value key << 32 | position in the node` as plain u64s: much cheaper than sorting tuples by a
    // float comparator.
    s.keys.clear();
    let (mut lo, mut hi) = (u32::MAX, 0u32);
    for (i, &r) in node.rows.iter().enumerate() {
        let k = order_key(raw[r as usize]);
        lo = lo.min(k);
        hi = hi.max(k);
        s.keys.push(u64::from(k) << 32 | i as u64);
    }
    if lo == hi {
        return Outcome::Constant;
    }
    s.keys.sort_unstable();
    let n = s.keys.len();
    s.left.fill(0.0);
    let mut wl = 0.0;
    let mut best: Option<(f64, usize)> = None; // proxy, n_left
    for i in 0..n - 1 {
        let j = s.keys[i] as u32 as usize;
        let (c, w) = node.yw[j];
        let w = f64::from(w);
        s.left[c as usize] += w;
        wl += w;
        let nl = i + 1;
        if nl < node.min_leaf {
            continue;
        }
        if n - nl < node.min_leaf {
            break;
        }
        if s.keys[i] >> 32 != s.keys[i + 1] >> 32 {
            let p = proxy(node.criterion, &s.left, node.totals, wl, node.w_total - wl);
            if best.is_none_or(|(bp, _)| p > bp) {
                best = Some((p, nl));
                s.best_left.copy_from_slice(&s.left);
            }
        }
    }
    match best {
        None => Outcome::NoValid,
        Some((p, n_left)) => {
            let a = raw[node.rows[s.keys[n_left - 1] as u32 as usize] as usize];
            let b = raw[node.rows[s.keys[n_left] as u32 as usize] as usize];
            let threshold = midpoint(a + 0.0, b + 0.0);
            s.left.copy_from_slice(&s.best_left);
            Outcome::Found(Split {
                feature: f,
                threshold,
                proxy: p,
                n_left,
                left_packed: 0,
                left_bin: NO_BIN,
            })
        }
    }
}

/// The score of a packed split, larger is better (as [`proxy`]).
#[inline(always)]
fn packed_score(criterion: Criterion, left: u128, total: u128) -> Score {
    let right = total - left;
    match criterion {
        Criterion::Gini => {
            let (wl, sl) = weight_and_squares(left);
            let (wr, sr) = weight_and_squares(right);
            Score::gini(sl, wl, sr, wr)
        }
        Criterion::Entropy => {
            let (mut s, mut wl, mut wr) = (0.0, 0u64, 0u64);
            for c in 0..MAX_PACKED_CLASSES {
                let (l, r) = (lane(left, c), lane(right, c));
                wl += l;
                wr += r;
                s += xlogx(l as f64) + xlogx(r as f64);
            }
            Score::Float(s - xlogx(wl as f64) - xlogx(wr as f64))
        }
    }
}

/// A 2-bin feature of a packed node: the right side's class weights are one masked `u128`
/// sum over the rows, in registers, and there is exactly one candidate split.
fn packed_binary<C: BinCode>(binned: &Binned<C>, f: usize, node: &NodeCtx<'_>) -> Outcome {
    let codes = binned.codes(f);
    let right = lanes::masked_sum(node.rows, node.pw, codes).unwrap_or_else(|| {
        // Two independent 64-bit halves: no lane overflows, so no carry crosses between them.
        let (mut lo, mut hi) = (0u64, 0u64);
        for (&r, &p) in node.rows.iter().zip(node.pw) {
            // Codes of a 2-bin feature are 0 or 1: the mask is all ones for the right bin.
            let mask = 0u64.wrapping_sub(codes[r as usize].idx() as u64);
            lo += p as u64 & mask;
            hi += (p >> 64) as u64 & mask;
        }
        u128::from(hi) << 64 | u128::from(lo)
    });
    let n = node.rows.len();
    let n_right = count(right);
    if n_right == 0 || n_right == n {
        return Outcome::Constant;
    }
    let n_left = n - n_right;
    if n_left < node.min_leaf || n_right < node.min_leaf {
        return Outcome::NoValid;
    }
    let left = node.packed_total - right;
    Outcome::Found(Split {
        feature: f,
        threshold: binned.edges[f][0],
        proxy: packed_score(node.criterion, left, node.packed_total).value(),
        n_left,
        left_packed: left,
        left_bin: NO_BIN,
    })
}

/// The histogram search of a packed node: one `u128` cell per bin.
fn packed_histogram<C: BinCode>(
    binned: &Binned<C>,
    f: usize,
    node: &NodeCtx<'_>,
    s: &mut Scratch,
) -> Outcome {
    let codes = binned.codes(f);
    let n_bins = binned.edges[f].len() + 1;
    let hist = &mut s.phist;
    // As in `histogram`: replicas break the store-to-load chain of rows in the same bin.
    let reps = if n_bins <= FEW_BINS { REPLICAS } else { 1 };
    let (mut lo, mut hi) = (usize::MAX, 0usize);
    for (i, (&r, p)) in node.rows.iter().zip(node.pw).enumerate() {
        let b = codes[r as usize].idx();
        lanes::add_packed(&mut hist[(i & (reps - 1)) * n_bins + b], p);
        lo = lo.min(b);
        hi = hi.max(b);
    }
    for rep in 1..reps {
        for b in lo..=hi {
            let v = std::mem::take(&mut hist[rep * n_bins + b]);
            hist[b] += v;
        }
    }
    if lo == hi {
        hist[lo] = 0;
        return Outcome::Constant;
    }
    let n = node.rows.len();
    let total = node.packed_total;
    let best = if node.criterion == Criterion::Gini {
        gini_bins(hist, &mut s.occupied, lo, hi, n, node.min_leaf, total)
    } else {
        let mut left = 0u128;
        let mut best: Option<(Score, usize, usize, u128)> = None;
        let mut pending: Option<usize> = None; // last non-empty bin awaiting its right neighbour
        for b in lo..=hi {
            let h = std::mem::take(&mut hist[b]);
            if h == 0 {
                continue;
            }
            let nl = count(left);
            if let Some(pb) = pending.take()
                && nl >= node.min_leaf
                && n - nl >= node.min_leaf
            {
                let p = packed_score(node.criterion, left, total);
                if best.is_none_or(|(bp, _, _, _)| p.beats(bp)) {
                    best = Some((p, pb, b, left));
                }
            }
            left += h;
            if n - count(left) < node.min_leaf {
                hist[b + 1..=hi].fill(0);
                break;
            }
            pending = Some(b);
        }
        best
    };
    match best {
        None => Outcome::NoValid,
        Some((p, left_bin, right_bin, left)) => {
            let edges = &binned.edges[f];
            Outcome::Found(Split {
                feature: f,
                threshold: midpoint(edges[left_bin], edges[right_bin - 1]),
                proxy: p.value(),
                n_left: count(left),
                left_packed: left,
                left_bin: NO_BIN,
            })
        }
    }
}

/// Gini's scan of the packed histogram bins `lo..=hi` of a node of `n` rows with class
/// totals `total`, clearing every bin it reads: the best `(score, left bin, right bin, left
/// class weights)` among the boundaries between non-empty bins that leave `min_leaf` rows or
/// more on each side. Branch-free as [`gini_scan`]: which bins are empty and whether a
/// candidate beats the best follow the data, so the non-empty bins are listed first (into
/// `occupied`) and the candidate test and the update are conditional moves.
fn gini_bins(
    hist: &mut [u128],
    occupied: &mut Vec<u32>,
    lo: usize,
    hi: usize,
    n: usize,
    min_leaf: usize,
    total: u128,
) -> Option<(Score, usize, usize, u128)> {
    // The non-empty bins first, by a branch-free compaction: on the mid-sized nodes that use
    // histograms about half the bins are empty, in no pattern, and a branch on each bin
    // mispredicts as often.
    occupied.clear();
    occupied.resize(hi - lo + 1, 0);
    let mut m = 0;
    for (i, &h) in hist[lo..=hi].iter().enumerate() {
        occupied[m] = (lo + i) as u32;
        m += usize::from(h != 0);
    }
    occupied.truncate(m);
    scan_bins(hist, occupied, n, min_leaf, total, true)
}

/// The scan of [`gini_bins`] over the listed non-empty bins `occupied` (at least one), in
/// SSE2 ([`lanes::gini_bins`]) when `simd` is set and the node is light enough, else scalar.
fn scan_bins(
    hist: &mut [u128],
    occupied: &[u32],
    n: usize,
    min_leaf: usize,
    total: u128,
    simd: bool,
) -> Option<(Score, usize, usize, u128)> {
    let (w_total, t2) = weight_and_squares(total);
    let min_left = min_leaf.max(1);
    if simd
        && w_total <= lanes::MAX_WEIGHT
        && let Some(best) = lanes::gini_bins(hist, occupied, n, (min_left, min_leaf), total, t2)
    {
        return best.map(|b| {
            (
                Score::Gini {
                    num: b.num,
                    den: b.den,
                },
                occupied[b.at - 1] as usize,
                occupied[b.at] as usize,
                b.left,
            )
        });
    }
    let tc = lanes(total);
    let mut left = 0u128;
    // Last non-empty bin so far.
    let mut pb = occupied.first().map_or(0, |&b| b as usize);
    // The best fraction so far (`0 / 1` loses to every candidate, see `gini_scan`), its bins
    // and its left side; `right bin == 0` means none was found (a candidate's is above `lo`).
    let (mut bn, mut bd, mut b_left_bin, mut b_right_bin, mut b_left) = (0u64, 1u64, 0, 0, 0);
    for (j, &b) in occupied.iter().enumerate() {
        let b = b as usize;
        let h = std::mem::take(&mut hist[b]);
        let nl = count(left);
        let (num, den) = gini_against(left, &tc, t2, w_total);
        let better = (nl >= min_left)
            & (n - nl >= min_leaf)
            & (u128::from(num) * u128::from(bd) > u128::from(bn) * u128::from(den));
        bn = std::hint::select_unpredictable(better, num, bn);
        bd = std::hint::select_unpredictable(better, den, bd);
        b_left_bin = std::hint::select_unpredictable(better, pb, b_left_bin);
        b_right_bin = std::hint::select_unpredictable(better, b, b_right_bin);
        b_left = std::hint::select_unpredictable(better, left, b_left);
        left += h;
        pb = b;
        if n - count(left) < min_leaf {
            // No later boundary keeps enough rows on the right: clear the rest and stop.
            for &rest in &occupied[j + 1..] {
                hist[rest as usize] = 0;
            }
            break;
        }
    }
    (b_right_bin > 0).then_some((
        Score::Gini { num: bn, den: bd },
        b_left_bin,
        b_right_bin,
        b_left,
    ))
}

/// The exact search of a packed gini node by a histogram over ranks: each row adds its
/// packed weights to the cell of its value's rank (equal values share a cell) and sets the
/// rank's bit; the set bits, read in order, list the non-empty cells, which [`scan_bins`]
/// scans as it scans histogram bins. Exact as a sort of the rows (every distinct value is a
/// cell), at a cost linear in the rows plus one word per 64 distinct values of the feature,
/// where sorting the rows' keys costs `n log n` (mispredicted) comparisons.
fn packed_ranked(
    ranks: &[u16],
    distinct: &[f32],
    f: usize,
    node: &NodeCtx<'_>,
    s: &mut Scratch,
) -> Outcome {
    if s.rank_hist.len() < distinct.len() {
        s.rank_hist.resize(distinct.len(), 0);
        s.rank_bits.resize(distinct.len().div_ceil(64), 0);
    }
    let (hist, bits) = (&mut s.rank_hist, &mut s.rank_bits);
    let (mut lo, mut hi) = (usize::MAX, 0usize);
    for (&r, p) in node.rows.iter().zip(node.pw) {
        let k = usize::from(ranks[r as usize]);
        lanes::add_packed(&mut hist[k], p);
        bits[k / 64] |= 1 << (k % 64);
        lo = lo.min(k);
        hi = hi.max(k);
    }
    if lo == hi {
        hist[lo] = 0;
        bits[lo / 64] = 0;
        return Outcome::Constant;
    }
    // The set bits in order (at most one per row); taking each word clears it. A word holds
    // about two of them on these nodes, in no pattern: the first four are read without a
    // branch (a read past the last set bit writes a slot the next one overwrites), the rest,
    // rarely any, in a loop, so the loop's exit is not mispredicted once per word.
    let n = node.rows.len();
    let occupied = &mut s.occupied;
    occupied.clear();
    occupied.resize(n + 4, 0);
    let mut m = 0;
    for (w, slot) in (lo / 64..).zip(&mut bits[lo / 64..=hi / 64]) {
        let mut word = std::mem::take(slot);
        let base = (w * 64) as u32;
        for _ in 0..4 {
            occupied[m] = base + word.trailing_zeros();
            m += usize::from(word != 0);
            word &= word.wrapping_sub(1);
        }
        while word != 0 {
            occupied[m] = base + word.trailing_zeros();
            m += 1;
            word &= word - 1;
        }
    }
    occupied.truncate(m);
    match scan_bins(hist, occupied, n, node.min_leaf, node.packed_total, true) {
        None => Outcome::NoValid,
        Some((score, left_rank, right_rank, left)) => Outcome::Found(Split {
            feature: f,
            threshold: midpoint(distinct[left_rank], distinct[right_rank]),
            proxy: score.value(),
            n_left: count(left),
            left_packed: left,
            left_bin: NO_BIN,
        }),
    }
}

/// The low half of a sorted-search key: `weight << 16 | position << 3 | class` (`cw` is
/// `weight << 16 | class`). The position in the node (below [`SMALL_NODE`], so 8 bits) lets
/// the SSE2 scan ([`lanes::gini_scan`]) read the row's packed weights.
#[inline(always)]
fn key_low(position: usize, cw: u32) -> u64 {
    const { assert!(SMALL_NODE < 256) };
    (position as u64) << 3 | u64::from(cw)
}

/// The sorted search of a packed node. Each row's sort key carries its class, weight and
/// position (`order key << 32 | weight << 16 | position << 3 | class`): the scalar scans
/// ([`gini_scan`], [`entropy_scan`]) read only the sorted keys, the SSE2 one also the row's
/// packed weights by position. Most nodes of a fully grown tree are small, and an insertion
/// sort of a dozen random keys mispredicts about once per key: up to 32 keys are gathered
/// straight into a stack array and sorted there by a branch-free network (padded with
/// `u64::MAX`, which sorts last), with no copy in or out of a buffer.
fn packed_exact<C: BinCode>(
    binned: &Binned<C>,
    f: usize,
    node: &NodeCtx<'_>,
    s: &mut Scratch,
) -> Outcome {
    match node.order_keys.column(f) {
        Some(col) => packed_exact_on(
            node.rows
                .iter()
                .zip(node.cw)
                .enumerate()
                .map(|(i, (&r, &cw))| u64::from(col[r as usize]) << 32 | key_low(i, cw)),
            f,
            node,
            s,
        ),
        None => {
            let raw = binned.raw(f);
            packed_exact_on(
                node.rows
                    .iter()
                    .zip(node.cw)
                    .enumerate()
                    .map(|(i, (&r, &cw))| {
                        u64::from(order_key(raw[r as usize])) << 32 | key_low(i, cw)
                    }),
                f,
                node,
                s,
            )
        }
    }
}

/// [`packed_exact`] on the node's keys, in row order.
#[inline(always)]
fn packed_exact_on(
    keys: impl Iterator<Item = u64>,
    f: usize,
    node: &NodeCtx<'_>,
    s: &mut Scratch,
) -> Outcome {
    match node.rows.len() {
        0..=4 => on_network::<4>(keys, f, node),
        5..=8 => on_network::<8>(keys, f, node),
        9..=16 => on_network::<16>(keys, f, node),
        17..=32 => on_network::<32>(keys, f, node),
        _ => {
            s.keys.clear();
            s.keys.extend(keys);
            if is_constant(&s.keys) {
                return Outcome::Constant;
            }
            s.keys.sort_unstable();
            scan_sorted(&s.keys, f, node)
        }
    }
}

/// [`packed_exact`] on at most `N` keys, in a sorting network.
#[inline(always)]
fn on_network<const N: usize>(
    keys: impl Iterator<Item = u64>,
    f: usize,
    node: &NodeCtx<'_>,
) -> Outcome {
    let mut a = [u64::MAX; N];
    for (slot, key) in a.iter_mut().zip(keys) {
        *slot = key;
    }
    let n = node.rows.len();
    if is_constant(&a[..n]) {
        return Outcome::Constant;
    }
    batcher(&mut a);
    scan_sorted(&a[..n], f, node)
}

/// Whether every value key equals the first (a pass over the keys, not a branch per row in
/// the gather loop).
#[inline(always)]
fn is_constant(keys: &[u64]) -> bool {
    let first = keys.first().map_or(0, |&k| k >> 32);
    keys.iter().all(|&k| k >> 32 == first)
}

/// The best split of the node's sorted keys (see [`packed_exact`]).
fn scan_sorted(keys: &[u64], f: usize, node: &NodeCtx<'_>) -> Outcome {
    let total = node.packed_total;
    let n = keys.len();
    // Candidates leave at least `min_leaf` rows on each side: the first `min_leaf - 1` rows
    // only accumulate.
    let first = node.min_leaf.max(1);
    if n < 2 * first {
        return Outcome::NoValid;
    }
    let best = if node.criterion == Criterion::Gini {
        gini_best(keys, node.pw, first, total, true)
    } else {
        let mut tc = [0u64; 8];
        for (c, t) in tc.iter_mut().enumerate().take(MAX_PACKED_CLASSES) {
            *t = lane(total, c);
        }
        entropy_scan(keys, first, &tc, weight(total))
    };
    match best {
        None => Outcome::NoValid,
        Some((score, n_left)) => {
            let a = from_order_key((keys[n_left - 1] >> 32) as u32);
            let b = from_order_key((keys[n_left] >> 32) as u32);
            Outcome::Found(Split {
                feature: f,
                threshold: midpoint(a, b),
                proxy: score.value(),
                n_left,
                left_packed: packed_prefix(&keys[..n_left]),
                left_bin: NO_BIN,
            })
        }
    }
}

/// The packed class weights of the sorted keys `keys` (see [`packed_exact`]): per-class sums
/// in plain `u64`s, assembled into lanes once, rather than one shifted `u128` per row.
fn packed_prefix(keys: &[u64]) -> u128 {
    let mut lc = [0u64; 8];
    for &key in keys {
        lc[(key & 7) as usize] += (key >> 16) & 0xFFFF;
    }
    lc[..MAX_PACKED_CLASSES]
        .iter()
        .enumerate()
        .fold((keys.len() as u128) << COUNT_SHIFT, |acc, (c, &l)| {
            acc | u128::from(l) << (16 * c)
        })
}

/// Gini's best split of the sorted keys of a packed node (see [`gini_scan`]), in SSE2
/// ([`lanes::gini_scan`]) when `simd` is set and the node is light enough; `pw` holds the
/// packed weights of the node's rows (by position).
fn gini_best(
    keys: &[u64],
    pw: &[u128],
    first: usize,
    total: u128,
    simd: bool,
) -> Option<(Score, usize)> {
    let (w_total, sq_total) = weight_and_squares(total);
    if simd
        && w_total <= lanes::MAX_WEIGHT
        && let Some(b) = lanes::gini_scan(keys, pw, first, total, sq_total)
    {
        return (b.at > 0).then_some((
            Score::Gini {
                num: b.num,
                den: b.den,
            },
            b.at,
        ));
    }
    let mut tc = [0u64; 8];
    for (c, t) in tc.iter_mut().enumerate().take(MAX_PACKED_CLASSES) {
        *t = lane(total, c);
    }
    gini_scan(keys, first, &tc, w_total, sq_total)
}

/// Gini's scan of the sorted keys of a packed node: the best `(score, n_left)` among the
/// boundaries between distinct values that leave `first` rows or more on each side. The two
/// sums of squared class weights are kept up to date as each row moves left
/// (`l² → (l + w)²`, `r² → (r - w)²`), in exact integers, instead of being recomputed over
/// every class at every candidate. Branch-free: whether a position is a candidate and whether
/// it beats the best are data-dependent coin flips on small nodes, so both are folded into
/// conditional moves instead of mispredicted branches.
fn gini_scan(
    keys: &[u64],
    first: usize,
    tc: &[u64; 8],
    w_total: u64,
    sq_total: u64,
) -> Option<(Score, usize)> {
    let n = keys.len();
    let mut lc = [0u64; 8];
    let (mut wl, mut sl, mut sr) = (0u64, 0u64, sq_total);
    // Moves the row of `key` to the left side.
    let mut step = |key: u64| {
        let c = (key & 7) as usize;
        let w = (key >> 16) & 0xFFFF;
        let l = lc[c];
        let r = tc[c] - l;
        sl += (2 * l + w) * w;
        // (r - w)² - r² = w² - 2rw: wrapping, as the sum itself never goes negative.
        sr = sr.wrapping_add(w * w).wrapping_sub(2 * r * w);
        lc[c] = l + w;
        wl += w;
        (wl, sl, sr)
    };
    for &key in &keys[..first - 1] {
        step(key);
    }
    // The best fraction so far; `0 / 1` loses to every candidate, whose numerator is at least
    // 1 (each side holds a row of weight 1 or more), and `n_left == 0` means none was found.
    let (mut bn, mut bd, mut bi) = (0u64, 1u64, 0usize);
    for (i, pair) in keys[first - 1..=n - first].windows(2).enumerate() {
        let (wl, sl, sr) = step(pair[0]);
        let wr = w_total - wl;
        let (num, den) = (sl * wr + sr * wl, wl * wr);
        let better = (pair[0] >> 32 != pair[1] >> 32)
            & (u128::from(num) * u128::from(bd) > u128::from(bn) * u128::from(den));
        bn = std::hint::select_unpredictable(better, num, bn);
        bd = std::hint::select_unpredictable(better, den, bd);
        bi = std::hint::select_unpredictable(better, first + i, bi);
    }
    (bi > 0).then_some((Score::Gini { num: bn, den: bd }, bi))
}

/// Entropy's scan of the sorted keys of a packed node (as [`gini_scan`], with the per-class
/// left weights scored at each candidate).
fn entropy_scan(keys: &[u64], first: usize, tc: &[u64; 8], w_total: u64) -> Option<(Score, usize)> {
    let n = keys.len();
    let mut lc = [0u64; 8];
    let mut wl = 0u64;
    let mut step = |key: u64| {
        lc[(key & 7) as usize] += (key >> 16) & 0xFFFF;
        wl += (key >> 16) & 0xFFFF;
        (lc, wl)
    };
    for &key in &keys[..first - 1] {
        step(key);
    }
    let mut best: Option<(Score, usize)> = None; // score, n_left
    for (i, pair) in keys[first - 1..=n - first].windows(2).enumerate() {
        let (lc, wl) = step(pair[0]);
        if pair[0] >> 32 != pair[1] >> 32 {
            let score = entropy_score(&lc, tc, wl, w_total - wl);
            if best.is_none_or(|(b, _)| score.beats(b)) {
                best = Some((score, first + i));
            }
        }
    }
    best
}

/// Batcher's odd-even merge sort network on `N` (a power of two) keys: a fixed sequence of
/// compare-exchanges (`min`/`max`, no data-dependent branch).
#[inline(always)]
fn batcher<const N: usize>(a: &mut [u64; N]) {
    let mut p = 1;
    while p < N {
        let mut k = p;
        while k >= 1 {
            let mut j = k % p;
            while j + k < N {
                for i in 0..k.min(N - j - k) {
                    if (i + j) / (2 * p) == (i + j + k) / (2 * p) {
                        let (x, y) = (a[i + j], a[i + j + k]);
                        a[i + j] = x.min(y);
                        a[i + j + k] = x.max(y);
                    }
                }
                j += 2 * k;
            }
            k /= 2;
        }
        p *= 2;
    }
}

/// The entropy proxy from per-class left and total weights.
fn entropy_score(lc: &[u64; 8], tc: &[u64; 8], wl: u64, wr: u64) -> Score {
    let mut s = 0.0;
    for (&l, &t) in lc.iter().zip(tc) {
        s += xlogx(l as f64) + xlogx((t - l) as f64);
    }
    Score::Float(s - xlogx(wl as f64) - xlogx(wr as f64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

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

    /// A random packed node of `n` rows: sorted keys as `packed_exact` builds them (few
    /// distinct values, so ties are common) and the rows' packed weights by position.
    fn random_node(rng: &mut ChaCha8Rng, n: usize, k: u32, max_w: u32) -> (Vec<u64>, Vec<u128>) {
        let mut keys = Vec::with_capacity(n);
        let mut pw = Vec::with_capacity(n);
        for i in 0..n {
            let (c, w) = (rng.gen_range(0..k), rng.gen_range(1..=max_w));
            pw.push(pack(c, w));
            keys.push(rng.gen_range(0..n as u64 / 2 + 2) << 32 | key_low(i, w << 16 | c));
        }
        keys.sort_unstable();
        (keys, pw)
    }

    #[test]
    fn sse2_and_scalar_sorted_scans_pick_the_same_split() {
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        for case in 0..3000 {
            let n = rng.gen_range(2..SMALL_NODE);
            let k = rng.gen_range(2..=MAX_PACKED_CLASSES as u32);
            let (keys, pw) = random_node(&mut rng, n, k, [1, 4, 300][case % 3]);
            let total: u128 = pw.iter().sum();
            let first = rng.gen_range(1..=n / 2);
            let simd = gini_best(&keys, &pw, first, total, true);
            let scalar = gini_best(&keys, &pw, first, total, false);
            match (simd, scalar) {
                (None, None) => {}
                (Some((a, i)), Some((b, j))) => {
                    assert_eq!(i, j, "case {case}");
                    assert_eq!(a.value(), b.value(), "case {case}");
                }
                other => panic!("case {case}: {other:?}"),
            }
        }
    }

    #[test]
    fn sse2_and_scalar_bin_scans_pick_the_same_split() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let mut found = 0;
        for case in 0..3000 {
            let n_bins = rng.gen_range(2..64);
            let k = rng.gen_range(2..=MAX_PACKED_CLASSES as u32);
            let mut hist = vec![0u128; n_bins];
            for h in hist.iter_mut() {
                if rng.gen_bool(0.6) {
                    for _ in 0..rng.gen_range(1..4) {
                        *h += pack(
                            rng.gen_range(0..k),
                            rng.gen_range(1..=[1, 4, 300][case % 3]),
                        );
                    }
                }
            }
            let occupied: Vec<u32> = (0..n_bins as u32)
                .filter(|&b| hist[b as usize] != 0)
                .collect();
            if occupied.is_empty() {
                continue;
            }
            let total: u128 = hist.iter().sum();
            let n = count(total);
            let min_leaf = rng.gen_range(1..4);
            let simd = scan_bins(&mut hist.clone(), &occupied, n, min_leaf, total, true);
            let mut cleared = hist.clone();
            let scalar = scan_bins(&mut cleared, &occupied, n, min_leaf, total, false);
            assert!(cleared.iter().all(|&h| h == 0), "the scan clears every bin");
            match (simd, scalar) {
                (None, None) => {}
                (Some(a), Some(b)) => {
                    found += 1;
                    assert_eq!((a.1, a.2, a.3), (b.1, b.2, b.3), "case {case}");
                    assert_eq!(a.0.value(), b.0.value(), "case {case}");
                }
                other => panic!("case {case}: {other:?}"),
            }
        }
        assert!(found > 1000, "most cases have a split: {found}");
    }

    #[test]
    fn networks_sort_every_size_they_serve() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for n in 1..=32 {
            for _ in 0..20 {
                // Few distinct values, so ties are common.
                let keys: Vec<u64> = (0..n).map(|_| rng.gen_range(0..8u64) << 32).collect();
                let mut a = [u64::MAX; 32];
                a[..n].copy_from_slice(&keys);
                batcher(&mut a);
                let mut expected = keys.clone();
                expected.sort_unstable();
                assert_eq!(&a[..n], &expected[..], "n = {n}");
            }
        }
    }
}
