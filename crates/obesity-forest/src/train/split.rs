//! Split search for one node: class-weight histograms over bins for large nodes, an exact
//! sort of the node's rows for small ones (exact thresholds, and cheaper than scanning 256
//! bins × classes when the node has a few dozen rows).

use crate::binning::{BinCode, Binned, midpoint};
use crate::params::Criterion;

/// On a feature whose bins merge distinct values, nodes with at most this many rows use the
/// exact sorted search, so small nodes (most of a fully grown tree) get exact thresholds.
pub(crate) const SMALL_NODE: usize = 128;
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
}

impl Scratch {
    pub(crate) fn new(max_bins: usize, n_classes: usize) -> Self {
        Scratch {
            hist: vec![0.0; max_bins.max(FEW_BINS * REPLICAS) * n_classes],
            cnt: vec![0; max_bins.max(FEW_BINS * REPLICAS)],
            keys: Vec::new(),
            left: vec![0.0; n_classes],
            best_left: vec![0.0; n_classes],
        }
    }
}

/// Data of the node being split.
pub(crate) struct NodeCtx<'a> {
    pub(crate) rows: &'a [u32],
    /// Class of each row of `rows` (aligned with it, so read sequentially).
    pub(crate) y: &'a [u32],
    /// Weight of each row of `rows` (aligned with it).
    pub(crate) w: &'a [f32],
    pub(crate) totals: &'a [f64],
    pub(crate) w_total: f64,
    pub(crate) min_leaf: usize,
    pub(crate) criterion: Criterion,
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
    let use_sort = if binned.exact[f] {
        // Both searches are exact here: pick the cheaper. The histogram scans
        // `n_bins × n_classes` cells, the sort costs about `n log2 n` comparisons.
        let n_bins = binned.edges[f].len() + 1;
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
    for (i, ((&r, &c), &w)) in node.rows.iter().zip(node.y).zip(node.w).enumerate() {
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
        let w = f64::from(node.w[j]);
        s.left[node.y[j] as usize] += w;
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
            })
        }
    }
}
