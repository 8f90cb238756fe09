//! Packed class weights (see [`pack`]): their exact integer arithmetic and the searches of
//! a packed node over bins (the histogram search with its gini scan, the 2-bin search) and
//! over ranks (the exact search of mid-sized nodes).

use super::super::lanes;
use super::{FEW_BINS, NO_BIN, NodeCtx, Outcome, REPLICAS, Scratch, Split, xlogx};
use crate::binning::{BinCode, Binned, midpoint};
use crate::params::Criterion;

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
pub(super) fn count(v: u128) -> usize {
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

/// The class lanes of a packed sum, read with constant shifts.
#[inline(always)]
pub(super) fn lanes(v: u128) -> [u64; MAX_PACKED_CLASSES] {
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
pub(super) fn gini_against(
    left: u128,
    tc: &[u64; MAX_PACKED_CLASSES],
    t2: u64,
    w_total: u64,
) -> (u64, u64) {
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
pub(super) enum Score {
    Gini { num: u64, den: u64 },
    Float(f64),
}

impl Score {
    #[inline(always)]
    pub(super) fn gini(sl: u64, wl: u64, sr: u64, wr: u64) -> Self {
        Score::Gini {
            num: sl * wr + sr * wl,
            den: wl * wr,
        }
    }

    #[inline(always)]
    pub(super) fn beats(self, other: Score) -> bool {
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
    pub(super) fn value(self) -> f64 {
        match self {
            Score::Gini { num, den } => num as f64 / den as f64,
            Score::Float(v) => v,
        }
    }
}

/// The score of a packed split, larger is better (as [`proxy`]).
#[inline(always)]
pub(super) fn packed_score(criterion: Criterion, left: u128, total: u128) -> Score {
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
pub(super) fn packed_binary<C: BinCode>(
    binned: &Binned<C>,
    f: usize,
    node: &NodeCtx<'_>,
) -> Outcome {
    let codes = binned.codes(f);
    let simd = if node.simd {
        lanes::masked_sum(node.rows, node.pw, codes)
    } else {
        None
    };
    let right = simd.unwrap_or_else(|| {
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

/// `*cell += *v` on packed sums, in an SSE2 register when `SIMD` (see [`lanes::add_packed`]).
#[inline(always)]
pub(super) fn add_cell<const SIMD: bool>(cell: &mut u128, v: &u128) {
    if SIMD {
        lanes::add_packed(cell, v);
    } else {
        *cell += *v;
    }
}

/// Adds each row's packed weights `pw` into its bin's cell of `hist` (`reps` replicas of
/// `n_bins` cells, the row's position choosing the replica); returns the lowest and highest
/// bin met.
#[inline(always)]
pub(super) fn fill_bins<const SIMD: bool, C: BinCode>(
    rows: &[u32],
    pw: &[u128],
    codes: &[C],
    hist: &mut [u128],
    n_bins: usize,
    reps: usize,
) -> (usize, usize) {
    let (mut lo, mut hi) = (usize::MAX, 0usize);
    for (i, (&r, p)) in rows.iter().zip(pw).enumerate() {
        let b = codes[r as usize].idx();
        add_cell::<SIMD>(&mut hist[(i & (reps - 1)) * n_bins + b], p);
        lo = lo.min(b);
        hi = hi.max(b);
    }
    (lo, hi)
}

/// Adds each row's packed weights into the cell of its value's rank and sets the rank's bit
/// (see [`packed_ranked`]); returns the lowest and highest rank met.
#[inline(always)]
pub(super) fn fill_ranks<const SIMD: bool>(
    rows: &[u32],
    pw: &[u128],
    ranks: &[u16],
    hist: &mut [u128],
    bits: &mut [u64],
) -> (usize, usize) {
    let (mut lo, mut hi) = (usize::MAX, 0usize);
    for (&r, p) in rows.iter().zip(pw) {
        let k = usize::from(ranks[r as usize]);
        add_cell::<SIMD>(&mut hist[k], p);
        bits[k / 64] |= 1 << (k % 64);
        lo = lo.min(k);
        hi = hi.max(k);
    }
    (lo, hi)
}

/// The histogram search of a packed node: one `u128` cell per bin.
pub(super) fn packed_histogram<C: BinCode>(
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
    let (lo, hi) = if node.simd {
        fill_bins::<true, C>(node.rows, node.pw, codes, hist, n_bins, reps)
    } else {
        fill_bins::<false, C>(node.rows, node.pw, codes, hist, n_bins, reps)
    };
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
        gini_bins(
            hist,
            &mut s.occupied,
            (lo, hi),
            n,
            node.min_leaf,
            total,
            node.simd,
        )
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
pub(super) fn gini_bins(
    hist: &mut [u128],
    occupied: &mut Vec<u32>,
    (lo, hi): (usize, usize),
    n: usize,
    min_leaf: usize,
    total: u128,
    simd: bool,
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
    scan_bins(hist, occupied, n, min_leaf, total, simd)
}

/// The scan of [`gini_bins`] over the listed non-empty bins `occupied` (at least one), in
/// SSE2 ([`lanes::gini_bins`]) when `simd` is set and the node is light enough, else scalar.
pub(super) fn scan_bins(
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
pub(super) fn packed_ranked(
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
    let (lo, hi) = if node.simd {
        fill_ranks::<true>(node.rows, node.pw, ranks, hist, bits)
    } else {
        fill_ranks::<false>(node.rows, node.pw, ranks, hist, bits)
    };
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
    match scan_bins(
        hist,
        occupied,
        n,
        node.min_leaf,
        node.packed_total,
        node.simd,
    ) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

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
}
