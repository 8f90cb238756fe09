//! Packed class weights (see `split::pack`) in SSE2 registers: the two gini scans of packed
//! nodes ([`super::split`]), the masked sum of a one-hot feature ([`masked_sum`]) and the
//! histogram cell add ([`add_packed`]). In the scans, a candidate's `Σ l²` and `Σ t·l` are
//! two `pmaddwd` (eight 16-bit products
//! summed in pairs) and a horizontal add, where the scalar scans extract seven lanes with
//! shifts and multiply them one by one (the sorted scan instead keeps per-class sums in
//! memory, whose read-modify-write chains through store forwarding whenever neighbouring
//! rows share a class, as sorted rows mostly do).
//!
//! `pmaddwd` multiplies signed 16-bit lanes, so these scans serve nodes whose total weight is
//! at most [`MAX_WEIGHT`] (every lane, and every sum of squares, then fits); heavier nodes
//! and other architectures use the scalar scans. Both return the same candidate (the scores
//! are the same exact integers; a test in `split.rs` checks it).
//!
//! SSE2 is part of the x86-64 baseline, so there is no run-time detection: the `unsafe` is
//! the call into `#[target_feature]` functions, which Rust requires even for features every
//! x86-64 CPU has, and the unaligned 16-byte loads and stores of cells behind references.
#![allow(unsafe_code)]

use crate::binning::BinCode;

/// Largest node weight the SSE2 scans accept: every class lane stays a non-negative `i16`.
pub(crate) const MAX_WEIGHT: u64 = i16::MAX as u64;

/// The best candidate of a gini scan: the exact fraction `num / den` and the position that
/// found it (`n_left` for the sorted scan, the index in `occupied` for the bin scan); a
/// position of 0 (sorted) or `None` (bins) means no candidate qualified.
pub(crate) struct Best {
    pub(crate) num: u64,
    pub(crate) den: u64,
    pub(crate) at: usize,
    /// The bin scan's left side at the best boundary (packed).
    pub(crate) left: u128,
}

/// [`super::split`]'s `gini_scan` with the lanes in a register; `pw` holds the packed class
/// weight of each row of the node, and bits 3..11 of a key are the row's position in it.
#[inline(always)]
pub(crate) fn gini_scan(
    keys: &[u64],
    pw: &[u128],
    first: usize,
    total: u128,
    t2: u64,
) -> Option<Best> {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: SSE2 is enabled on every x86-64 target (part of its baseline ABI).
        Some(unsafe { x86::gini_scan(keys, pw, first, total, t2) })
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (keys, pw, first, total, t2);
        None
    }
}

/// [`super::split`]'s `gini_bins` scan with the lanes in a register: the occupied bins of
/// `hist` (listed in `occupied`, each cleared as it is read), boundaries that leave at least
/// `min_left` rows on the left and `min_leaf` on the right of a node of `n` rows.
#[inline(always)]
pub(crate) fn gini_bins(
    hist: &mut [u128],
    occupied: &[u32],
    n: usize,
    (min_left, min_leaf): (usize, usize),
    total: u128,
    t2: u64,
) -> Option<Option<Best>> {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: as in `gini_scan`.
        Some(unsafe { x86::gini_bins(hist, occupied, n, (min_left, min_leaf), total, t2) })
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (hist, occupied, n, min_left, min_leaf, total, t2);
        None
    }
}

/// The sum of the packed weights `pw` of the rows whose code (0 or 1) of a 2-bin feature is
/// 1: one masked vector add per row, the mask read from a two-entry table by the code.
#[inline(always)]
pub(crate) fn masked_sum<C: BinCode>(rows: &[u32], pw: &[u128], codes: &[C]) -> Option<u128> {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: as in `gini_scan`.
        Some(unsafe { x86::masked_sum(rows, pw, codes) })
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (rows, pw, codes);
        None
    }
}

/// `*cell += *v` on packed sums (see `split::pack`: no 16-bit lane overflows, so adding the
/// two 64-bit halves separately is exact), as one 16-byte load, add and store: a `u128`
/// add is two loads, an add with carry and two stores, and a 16-byte load that follows
/// two 8-byte stores to the same cell (the next row in the same bin) cannot be forwarded.
#[inline(always)]
pub(crate) fn add_packed(cell: &mut u128, v: &u128) {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: as in `gini_scan`.
        unsafe { x86::add_packed(cell, v) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        *cell += *v;
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::Best;
    use crate::binning::BinCode;
    use std::arch::x86_64::*;

    /// A packed sum as a vector of eight 16-bit lanes (lane 7 counts rows).
    #[inline]
    #[target_feature(enable = "sse2")]
    fn vector(v: u128) -> __m128i {
        _mm_set_epi64x((v >> 64) as i64, v as i64)
    }

    /// `(Σ l², Σ t·l)` over the class lanes of `l` (`classes` zeroes the count lane; `tc`'s is
    /// already zero).
    #[inline]
    #[target_feature(enable = "sse2")]
    fn squares_and_cross(l: __m128i, tc: __m128i, classes: __m128i) -> (u64, u64) {
        let lm = _mm_and_si128(l, classes);
        let sq = _mm_madd_epi16(lm, lm);
        let cross = _mm_madd_epi16(lm, tc);
        // [sq0 + sq2, cr0 + cr2, sq1 + sq3, cr1 + cr3], then the halves added.
        let pairs = _mm_add_epi32(_mm_unpacklo_epi32(sq, cross), _mm_unpackhi_epi32(sq, cross));
        let sums = _mm_add_epi32(pairs, _mm_shuffle_epi32::<0b01_00_11_10>(pairs));
        let both = _mm_cvtsi128_si64(sums) as u64;
        (both & 0xFFFF_FFFF, both >> 32)
    }

    /// Lanes 0..7 all ones, the count lane zero.
    #[inline]
    #[target_feature(enable = "sse2")]
    fn class_mask() -> __m128i {
        _mm_set_epi16(0, -1, -1, -1, -1, -1, -1, -1)
    }

    #[inline]
    #[target_feature(enable = "sse2")]
    pub(super) fn add_packed(cell: &mut u128, v: &u128) {
        let sum = _mm_add_epi64(load(cell), load(v));
        // SAFETY: `cell` is a valid, exclusive reference to 16 bytes; no alignment needed.
        unsafe { _mm_storeu_si128(std::ptr::from_mut(cell).cast(), sum) }
    }

    /// The masks of [`super::masked_sum`], indexed by a 2-bin code.
    static MASKS: [u128; 2] = [0, u128::MAX];

    #[target_feature(enable = "sse2")]
    pub(super) fn masked_sum<C: BinCode>(rows: &[u32], pw: &[u128], codes: &[C]) -> u128 {
        let n = rows.len().min(pw.len());
        let (rows, pw) = (&rows[..n], &pw[..n]);
        // Two accumulators, two rows per step: the adds of one step do not wait on each
        // other. No 16-bit lane overflows (the node's sums fit), so 64-bit adds are exact.
        let (mut a, mut b) = (_mm_setzero_si128(), _mm_setzero_si128());
        let mask = |r: u32| load(&MASKS[codes[r as usize].idx() & 1]);
        for (r, p) in rows.chunks_exact(2).zip(pw.chunks_exact(2)) {
            a = _mm_add_epi64(a, _mm_and_si128(load(&p[0]), mask(r[0])));
            b = _mm_add_epi64(b, _mm_and_si128(load(&p[1]), mask(r[1])));
        }
        if n % 2 == 1 {
            a = _mm_add_epi64(a, _mm_and_si128(load(&pw[n - 1]), mask(rows[n - 1])));
        }
        packed(_mm_add_epi64(a, b))
    }

    #[target_feature(enable = "sse2")]
    pub(super) fn gini_scan(keys: &[u64], pw: &[u128], first: usize, total: u128, t2: u64) -> Best {
        let n = keys.len();
        let classes = class_mask();
        let tc = _mm_and_si128(vector(total), classes);
        let w_total = crate::train::split::weight(total);
        let mut l = _mm_setzero_si128();
        let mut wl = 0u64;
        for &key in &keys[..first - 1] {
            l = _mm_add_epi16(l, load(&pw[(key >> 3 & 0xFF) as usize]));
            wl += key >> 16 & 0xFFFF;
        }
        // As the scalar scan: `0 / 1` loses to every candidate, `at == 0` means none. (Two
        // or four interleaved best-trackers, to overlap their compare-and-select chains,
        // measured slower: register spills.)
        let (mut bn, mut bd, mut bi) = (0u64, 1u64, 0usize);
        for (i, pair) in keys[first - 1..=n - first].windows(2).enumerate() {
            let key = pair[0];
            l = _mm_add_epi16(l, load(&pw[(key >> 3 & 0xFF) as usize]));
            wl += key >> 16 & 0xFFFF;
            let (sl, tl) = squares_and_cross(l, tc, classes);
            let (sr, wr) = (t2 + sl - 2 * tl, w_total - wl);
            let (num, den) = (sl * wr + sr * wl, wl * wr);
            let better = (key >> 32 != pair[1] >> 32)
                & (u128::from(num) * u128::from(bd) > u128::from(bn) * u128::from(den));
            bn = std::hint::select_unpredictable(better, num, bn);
            bd = std::hint::select_unpredictable(better, den, bd);
            bi = std::hint::select_unpredictable(better, first + i, bi);
        }
        Best {
            num: bn,
            den: bd,
            at: bi,
            left: 0,
        }
    }

    /// Loads a packed cell (no alignment needed).
    #[inline]
    #[target_feature(enable = "sse2")]
    fn load(cell: &u128) -> __m128i {
        // SAFETY: `cell` is a valid reference to 16 bytes; `loadu` has no alignment need.
        unsafe { _mm_loadu_si128(std::ptr::from_ref(cell).cast()) }
    }

    /// Zeroes a packed cell.
    #[inline]
    #[target_feature(enable = "sse2")]
    fn clear(cell: &mut u128) {
        // SAFETY: `cell` is a valid, exclusive reference to 16 bytes; no alignment needed.
        unsafe { _mm_storeu_si128(std::ptr::from_mut(cell).cast(), _mm_setzero_si128()) }
    }

    /// The packed sum of a vector (for the best left side, once per scan).
    #[inline]
    #[target_feature(enable = "sse2")]
    fn packed(v: __m128i) -> u128 {
        let lo = _mm_cvtsi128_si64(v) as u64;
        let hi = _mm_cvtsi128_si64(_mm_unpackhi_epi64(v, v)) as u64;
        u128::from(hi) << 64 | u128::from(lo)
    }

    #[target_feature(enable = "sse2")]
    pub(super) fn gini_bins(
        hist: &mut [u128],
        occupied: &[u32],
        n: usize,
        (min_left, min_leaf): (usize, usize),
        total: u128,
        t2: u64,
    ) -> Option<Best> {
        let classes = class_mask();
        let ones = _mm_set_epi16(0, 1, 1, 1, 1, 1, 1, 1);
        let tc = _mm_and_si128(vector(total), classes);
        let w_total = crate::train::split::weight(total);
        // Everything about the left side lives in one register: its count (lane 7) and its
        // class weights; the best one is kept by a masked blend. There is no early exit once
        // the right side holds fewer than `min_leaf` rows: those candidates fail the count
        // test, and going on clears their bins, as the scan must.
        let mut l = _mm_setzero_si128();
        let mut b_left = _mm_setzero_si128();
        // The best fraction (`0 / 1` loses to all) and its position in `occupied`.
        let (mut bn, mut bd, mut bj) = (0u64, 1u64, usize::MAX);
        for (j, &b) in occupied.iter().enumerate() {
            let cell = &mut hist[b as usize];
            let h = load(cell);
            clear(cell);
            let nl = _mm_extract_epi16::<7>(l) as usize;
            let (sl, tl) = squares_and_cross(l, tc, classes);
            let w = _mm_madd_epi16(_mm_and_si128(l, classes), ones);
            let w = _mm_add_epi32(w, _mm_shuffle_epi32::<0b01_00_11_10>(w));
            let w = _mm_add_epi32(w, _mm_shuffle_epi32::<0b10_11_00_01>(w));
            let wl = _mm_cvtsi128_si32(w) as u32 as u64;
            let (sr, wr) = (t2 + sl - 2 * tl, w_total - wl);
            let (num, den) = (sl * wr + sr * wl, wl * wr);
            let better = (nl >= min_left)
                & (n.wrapping_sub(nl) >= min_leaf)
                & (u128::from(num) * u128::from(bd) > u128::from(bn) * u128::from(den));
            bn = std::hint::select_unpredictable(better, num, bn);
            bd = std::hint::select_unpredictable(better, den, bd);
            bj = std::hint::select_unpredictable(better, j, bj);
            let keep = _mm_set1_epi64x(-i64::from(better));
            b_left = _mm_or_si128(_mm_and_si128(keep, l), _mm_andnot_si128(keep, b_left));
            l = _mm_add_epi16(l, h);
        }
        (bj != usize::MAX).then(|| Best {
            num: bn,
            den: bd,
            at: bj,
            left: packed(b_left),
        })
    }
}
