//! The packed exact search by sorting the node's rows (nodes of up to
//! [`SMALL_NODE`](super::SMALL_NODE) rows on features whose bins merge values): sort keys
//! that carry each row's class, weight and position, sorting networks for up to 32 keys, and
//! the gini and entropy scans of the sorted keys (scalar, or SSE2 in [`lanes`]).

use super::super::lanes;
use super::packed::{COUNT_SHIFT, MAX_PACKED_CLASSES, Score, lane, weight, weight_and_squares};
use super::{NO_BIN, NodeCtx, Outcome, SMALL_NODE, Scratch, Split, xlogx};
use crate::binning::{BinCode, Binned, from_order_key, midpoint, order_key};
use crate::params::Criterion;

/// The low half of a sorted-search key: `weight << 16 | position << 3 | class` (`cw` is
/// `weight << 16 | class`). The position in the node (below [`SMALL_NODE`], so 8 bits) lets
/// the SSE2 scan ([`lanes::gini_scan`]) read the row's packed weights.
#[inline(always)]
pub(super) fn key_low(position: usize, cw: u32) -> u64 {
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
pub(super) fn packed_exact<C: BinCode>(
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
pub(super) fn packed_exact_on(
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
pub(super) fn on_network<const N: usize>(
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
pub(super) fn is_constant(keys: &[u64]) -> bool {
    let first = keys.first().map_or(0, |&k| k >> 32);
    keys.iter().all(|&k| k >> 32 == first)
}

/// The best split of the node's sorted keys (see [`packed_exact`]).
pub(super) fn scan_sorted(keys: &[u64], f: usize, node: &NodeCtx<'_>) -> Outcome {
    let total = node.packed_total;
    let n = keys.len();
    // Candidates leave at least `min_leaf` rows on each side: the first `min_leaf - 1` rows
    // only accumulate.
    let first = node.min_leaf.max(1);
    if n < 2 * first {
        return Outcome::NoValid;
    }
    let best = if node.criterion == Criterion::Gini {
        gini_best(keys, node.pw, first, total, node.simd)
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
pub(super) fn packed_prefix(keys: &[u64]) -> u128 {
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
pub(super) fn gini_best(
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
pub(super) fn gini_scan(
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
pub(super) fn entropy_scan(
    keys: &[u64],
    first: usize,
    tc: &[u64; 8],
    w_total: u64,
) -> Option<(Score, usize)> {
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
pub(super) fn batcher<const N: usize>(a: &mut [u64; N]) {
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
pub(super) fn entropy_score(lc: &[u64; 8], tc: &[u64; 8], wl: u64, wr: u64) -> Score {
    let mut s = 0.0;
    for (&l, &t) in lc.iter().zip(tc) {
        s += xlogx(l as f64) + xlogx((t - l) as f64);
    }
    Score::Float(s - xlogx(wl as f64) - xlogx(wr as f64))
}

#[cfg(test)]
mod tests {
    use super::super::packed::pack;
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

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
