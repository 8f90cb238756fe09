//! The `f64` search, for nodes whose weights do not pack (class weights, fractional
//! weights, many classes, large data): histograms of class weights over bins, and an exact
//! search by sorting for small nodes.

use super::{FEW_BINS, NO_BIN, NodeCtx, Outcome, REPLICAS, Scratch, Split, is_sparse, xlogx};
use crate::binning::{BinCode, Binned, midpoint, order_key};
use crate::params::Criterion;

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

/// Larger is better: for gini `sum l^2 / wl + sum r^2 / wr` (scikit-learn's proxy
/// improvement), for entropy `-(wl H_l + wr H_r)` up to a constant factor.
#[inline(always)]
pub(super) fn proxy(criterion: Criterion, left: &[f64], totals: &[f64], wl: f64, wr: f64) -> f64 {
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

pub(super) fn histogram<C: BinCode>(
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

/// Adds the node's rows into the `f64` histogram (`reps` replicas of `n_bins × k` cells,
/// see [`histogram`]) by their bin `code(row)`; returns the lowest and highest bin met.
#[inline(always)]
pub(super) fn fill_histogram(
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

pub(super) fn exact<C: BinCode>(
    binned: &Binned<C>,
    f: usize,
    node: &NodeCtx<'_>,
    s: &mut Scratch,
) -> Outcome {
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
