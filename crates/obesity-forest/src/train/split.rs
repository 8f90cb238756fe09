//! Split search for one node: class-weight histograms over bins for large nodes, an exact
//! sort of the node's rows for small ones (exact thresholds, and cheaper than scanning 256
//! bins × classes when the node has a few dozen rows).
//!
//! Two implementations of the same search: the packed one (see [`pack`]) for the common
//! case of integer weights (bootstrap counts), few classes and fewer than 65,536 rows, which
//! works in exact integers, and the `f64` one for everything else (class weights, many
//! classes, large data). Both pick the same splits (a test in `tree.rs` checks it).

use crate::binning::{BinCode, Binned, midpoint};
use crate::params::Criterion;

/// On a feature whose bins merge distinct values, nodes with at most this many rows use the
/// exact sorted search, so small nodes (most of a fully grown tree) get exact thresholds.
pub(crate) const SMALL_NODE: usize = 128;
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
const COUNT_SHIFT: u32 = 112;
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
/// left lanes alone, so each candidate reads one set of lanes instead of two.
#[inline(always)]
fn gini_against(left: u128, tc: &[u64; MAX_PACKED_CLASSES], t2: u64, w_total: u64) -> Score {
    let ls = lanes(left);
    let (mut wl, mut sl, mut tl) = (0u64, 0u64, 0u64);
    for (&l, &t) in ls.iter().zip(tc) {
        wl += l;
        sl += l * l;
        tl += t * l;
    }
    Score::gini(sl, wl, t2 + sl - 2 * tl, w_total - wl)
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
}

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
        }
    }
}

/// Data of the node being split.
pub(crate) struct NodeCtx<'a> {
    pub(crate) rows: &'a [u32],
    /// Class and weight of each row of `rows` (aligned with it, so read sequentially); empty
    /// when the tree is packed, and then `pw` is used instead.
    pub(crate) yw: &'a [(u32, f32)],
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
    let codes = binned.codes(f);
    let n_bins = binned.edges[f].len() + 1;
    // With few bins, consecutive rows hit the same cell and every `+=` waits for the previous
    // store: spread rows over REPLICAS copies of the histogram and fold them afterwards.
    let reps = if n_bins <= FEW_BINS { REPLICAS } else { 1 };
    let (mut lo, mut hi) = (usize::MAX, 0usize);
    for (i, (&r, &(c, w))) in node.rows.iter().zip(node.yw).enumerate() {
        let b = codes[r as usize].idx();
        let rep = i & (reps - 1);
        s.hist[(rep * n_bins + b) * k + c as usize] += f64::from(w);
        s.cnt[rep * n_bins + b] += 1;
        lo = lo.min(b);
        hi = hi.max(b);
    }
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
            })
        }
    }
}

/// Maps an `f32` to a `u32` with the same order (after folding -0.0 into 0.0).
#[inline(always)]
fn order_key(v: f32) -> u32 {
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
    // Two independent 64-bit halves: no lane overflows, so no carry crosses between them.
    let (mut lo, mut hi) = (0u64, 0u64);
    for (&r, &p) in node.rows.iter().zip(node.pw) {
        // Codes of a 2-bin feature are 0 or 1: the mask is all ones for the right bin.
        let mask = 0u64.wrapping_sub(codes[r as usize].idx() as u64);
        lo += p as u64 & mask;
        hi += (p >> 64) as u64 & mask;
    }
    let right = u128::from(hi) << 64 | u128::from(lo);
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
    for (i, (&r, &p)) in node.rows.iter().zip(node.pw).enumerate() {
        let b = codes[r as usize].idx();
        hist[(i & (reps - 1)) * n_bins + b] += p;
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
    let tc = lanes(total);
    let (w_total, t2) = weight_and_squares(total);
    let gini = node.criterion == Criterion::Gini;
    let mut left = 0u128;
    let mut best: Option<(Score, usize, usize, u128)> = None; // score, left bin, right bin, left
    let mut pending: Option<usize> = None; // last non-empty left bin awaiting its right neighbour
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
            let p = if gini {
                gini_against(left, &tc, t2, w_total)
            } else {
                packed_score(node.criterion, left, total)
            };
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
            })
        }
    }
}

/// The sorted search of a packed node. Each row's sort key carries its class and weight
/// (`order key << 32 | weight << 16 | class`), so the scan reads only the sorted keys. For
/// gini the two sums of squared class weights are kept up to date as each row moves left
/// (`l² → (l + w)²`, `r² → (r - w)²`), in exact integers, instead of being recomputed over
/// every class at every candidate.
fn packed_exact<C: BinCode>(
    binned: &Binned<C>,
    f: usize,
    node: &NodeCtx<'_>,
    s: &mut Scratch,
) -> Outcome {
    let raw = binned.raw(f);
    s.keys.clear();
    s.keys.extend(
        node.rows
            .iter()
            .zip(node.cw)
            .map(|(&r, &cw)| u64::from(order_key(raw[r as usize])) << 32 | u64::from(cw)),
    );
    // Constant when every value key equals the first (a pass over the keys, not a branch
    // per row in the gather loop).
    let first = s.keys.first().map_or(0, |&k| k >> 32);
    if s.keys.iter().all(|&k| k >> 32 == first) {
        return Outcome::Constant;
    }
    sort_keys(&mut s.keys);
    let total = node.packed_total;
    let mut tc = [0u64; 8];
    for (c, t) in tc.iter_mut().enumerate().take(MAX_PACKED_CLASSES) {
        *t = lane(total, c);
    }
    let (w_total, sq_total) = weight_and_squares(total);
    let gini = node.criterion == Criterion::Gini;
    let n = s.keys.len();
    let mut lc = [0u64; 8];
    let (mut wl, mut sl, mut sr) = (0u64, 0u64, sq_total);
    // Moves the row of `key` to the left side.
    let mut step = |key: u64| {
        let c = (key & 7) as usize;
        let w = (key >> 16) & 0xFFFF;
        let l = lc[c];
        if gini {
            let r = tc[c] - l;
            sl += (2 * l + w) * w;
            // (r - w)² - r² = w² - 2rw: wrapping, as the sum itself never goes negative.
            sr = sr.wrapping_add(w * w).wrapping_sub(2 * r * w);
        }
        lc[c] = l + w;
        wl += w;
        (lc, wl, sl, sr)
    };
    // Candidates leave at least `min_leaf` rows on each side: the first `min_leaf - 1` rows
    // only accumulate.
    let first = node.min_leaf.max(1);
    if n < 2 * first {
        return Outcome::NoValid;
    }
    for &key in &s.keys[..first - 1] {
        step(key);
    }
    let mut best: Option<(Score, usize)> = None; // score, n_left
    for (i, pair) in s.keys[first - 1..=n - first].windows(2).enumerate() {
        let (lc, wl, sl, sr) = step(pair[0]);
        if pair[0] >> 32 != pair[1] >> 32 {
            let score = if gini {
                Score::gini(sl, wl, sr, w_total - wl)
            } else {
                entropy_score(&lc, &tc, wl, w_total - wl)
            };
            if best.is_none_or(|(b, _)| score.beats(b)) {
                best = Some((score, first + i));
            }
        }
    }
    match best {
        None => Outcome::NoValid,
        Some((score, n_left)) => {
            let left = s.keys[..n_left]
                .iter()
                .map(|&key| pack((key & 7) as u32, ((key >> 16) & 0xFFFF) as u32))
                .sum();
            let a = from_order_key((s.keys[n_left - 1] >> 32) as u32);
            let b = from_order_key((s.keys[n_left] >> 32) as u32);
            Outcome::Found(Split {
                feature: f,
                threshold: midpoint(a, b),
                proxy: score.value(),
                n_left,
                left_packed: left,
            })
        }
    }
}

/// Sorts the keys of a node. Most nodes of a fully grown tree are small, and an insertion
/// sort of a dozen random keys mispredicts about once per key: up to 16 keys go through a
/// branch-free sorting network instead (padded with `u64::MAX`, which sorts last).
fn sort_keys(keys: &mut [u64]) {
    fn network<const N: usize>(keys: &mut [u64]) {
        let mut a = [u64::MAX; N];
        a[..keys.len()].copy_from_slice(keys);
        batcher(&mut a);
        let n = keys.len();
        keys.copy_from_slice(&a[..n]);
    }
    match keys.len() {
        0..=1 => {}
        2..=4 => network::<4>(keys),
        5..=8 => network::<8>(keys),
        9..=16 => network::<16>(keys),
        _ => keys.sort_unstable(),
    }
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

/// The inverse of [`order_key`] (-0.0 comes back as 0.0).
#[inline(always)]
fn from_order_key(k: u32) -> f32 {
    f32::from_bits(if k & 0x8000_0000 != 0 {
        k & 0x7FFF_FFFF
    } else {
        !k
    })
}
