//! The bitset kernel: a block's rows go down each tree as a set of bits, one per row, instead
//! of a list of row indices (the routing kernel) or one row at a time.
//!
//! Why: routing pays per row and per level (a gather of the row's value, a compare, a store
//! of its index: ≈ 0.7 ns per row-step on the UCI batch, 8.3 levels per row). Here a node
//! tests 64 rows with one masked vector compare of their codes (see [`super::cuts`]), and the
//! work is per 64-row word of the node's row set, with no gather.
//!
//! How:
//! - Rows are first put in the order of the leaf they reach in the first tree (leaves in
//!   depth-first order): rows alike in the features the forest splits on most are then
//!   neighbours, they tend to share paths in every tree, and a deep node's rows gather in
//!   few words (on the UCI batch, about 500k non-empty words are split per 21,150 rows
//!   against 1.9M words if all were scanned). The order is a permutation of the block, undone
//!   when the output is written; the result does not depend on it.
//! - A row set is the list of its non-empty words: `(word index, 64-bit word)` pairs. A split
//!   reads each pair, compares the 64 codes of its rows (or, for a one-bit feature, ANDs the
//!   word with the feature's bits), and appends the children's non-empty words to their
//!   lists, branch-free. Lists live in a pool of slots reused from node to node and tree to
//!   tree; a depth-first walk keeps only pending right siblings.
//! - Leaves: when every leaf holds one class (fully grown trees), a leaf adds 1 to its
//!   rows' vote counters of its class (8-bit lanes, one masked subtraction of -1 per 64
//!   rows; forests of up to 255 trees), and a row's probability is read at the end from `sums[count]`, the sum of
//!   `count` additions of `1 / n_trees` in f32 — the very additions the other kernels make,
//!   so the output is bit-identical to theirs. Otherwise each leaf adds its probabilities to
//!   its rows (once per tree per row, in tree order: bit-identical too).
//!
//! Every instruction set runs it ([`Isa`]): AVX-512F/BW/VL does the compares, counts and adds
//! 16 to 64 lanes at a time with masks; AVX2 builds a word's 64 bits with compares and
//! `movemask` (two or four per word) and expands a word back into lanes with a byte shuffle
//! or variable shifts; SSE2 does the same 16 lanes at a time; the portable loops work on
//! eight one-byte or four two-byte codes per 64-bit register (SWAR; two-byte codes stored
//! transposed in blocks of 16 so one multiply gathers their bits) and compile to plain
//! vector code where the compiler can. Each instruction set's quantization stores the codes
//! in the layout its loops read ([`Layout`](super::cuts::Layout)). All give the same words,
//! counts and sums (proptests below).
#![allow(unsafe_code)]

use super::Kernel;
use super::cuts::{Codes, Column, Cuts};
#[cfg(target_arch = "x86_64")]
use crate::isa::Isa;
use crate::isa::Supported;

/// A row set as its non-empty words: `bits[j]` is word `idx[j]` of the block's bitset (bit
/// `b` of word `i` is the row at position `64 i + b` of the block's order).
#[derive(Clone, Copy)]
pub(crate) struct Words<'a> {
    pub(crate) idx: &'a [u32],
    pub(crate) bits: &'a [u64],
}

/// Buffers a split writes a child's [`Words`] into.
pub(crate) struct WordsMut<'a> {
    pub(crate) idx: &'a mut [u32],
    pub(crate) bits: &'a mut [u64],
}

/// A row's code for one feature: `u8` or `u16`.
trait Code: Copy + PartialOrd {
    /// Splits a node's row set `src`: rows whose code (`codes[64 i + b]` for bit `b` of word
    /// `i`, stored in `isa`'s [`Layout`](super::cuts::Layout)) is above `at` go right, the
    /// others left. Each child gets its non-empty words, in
    /// order, at the front of its buffers; returns how many each got.
    /// `small`: every code is below 2^15 (used by the portable two-byte loop).
    fn split(
        isa: Supported,
        codes: &[Self],
        at: Self,
        small: bool,
        src: Words<'_>,
        left: WordsMut<'_>,
        right: WordsMut<'_>,
    ) -> (usize, usize);
}

/// The loop every word builder shares: for each non-empty word `s` (word `i`, clamped below
/// `n_words` so that no index can leave the codes) `right_of(i, s)` gives its rows going
/// right. Both children's entries are written every step and a cursor advances only past a
/// non-empty word: no branch on the data.
#[inline(always)]
fn split_words(
    n_words: usize,
    src: Words<'_>,
    left: WordsMut<'_>,
    right: WordsMut<'_>,
    mut right_of: impl FnMut(usize, u64) -> u64,
) -> (usize, usize) {
    let m = src.idx.len().min(src.bits.len());
    if n_words == 0 || m == 0 {
        return (0, 0);
    }
    assert!(left.idx.len() >= m && left.bits.len() >= m);
    assert!(right.idx.len() >= m && right.bits.len() >= m);
    let (mut nl, mut nr) = (0, 0);
    for (&i, &s) in src.idx.iter().zip(src.bits).take(m) {
        let g = right_of((i as usize).min(n_words - 1), s);
        let l = s & !g;
        // SAFETY: `nl` and `nr` never exceed the entries read so far, which are fewer than
        // `m`, and both outputs hold at least `m` entries (asserted above).
        unsafe {
            *left.idx.get_unchecked_mut(nl) = i;
            *left.bits.get_unchecked_mut(nl) = l;
            *right.idx.get_unchecked_mut(nr) = i;
            *right.bits.get_unchecked_mut(nr) = g;
        }
        nl += usize::from(l != 0);
        nr += usize::from(g != 0);
    }
    (nl, nr)
}

/// The portable word of one-byte codes above `at`: eight codes per `u64` (SWAR). Per byte,
/// `(at | 0x80) - (code & 0x7f)` keeps its top bit exactly when `at`'s low seven bits are
/// at least the code's (no borrow crosses bytes), which with the two top bits decides
/// `code > at`; a multiply gathers the eight top bits into one byte.
#[inline(always)]
fn word_above_u8(codes: &[u8; 64], at: u8) -> u64 {
    const H: u64 = 0x8080_8080_8080_8080;
    let y = u64::from(at) * 0x0101_0101_0101_0101;
    let mut g = 0u64;
    for (k, c) in codes.chunks_exact(8).enumerate() {
        let x = u64::from_le_bytes(c.try_into().expect("8 bytes"));
        let d = (y | H).wrapping_sub(x & !H);
        let gt = ((x & !y) | (!(x ^ y) & !d)) & H;
        g |= ((gt >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56) << (8 * k);
    }
    g
}

/// [`word_above_u8`] for two-byte codes, stored in [`Layout::Strided`] (each 16 codes as
/// four `u64`s, the `m`-th holding codes `m`, `m + 4`, `m + 8`, `m + 12`). Per `u64`, the
/// top bit of each 16-bit lane says whether its code is above `at`; shifting the `m`-th
/// right by `15 - m` and ORing the four puts code `4 k + m`'s bit at `16 k + m`, and one
/// multiply gathers those four groups of four bits into 16 bits in code order.
///
/// `small`: every code of the column is below 2^15 (its feature has fewer than 32,768 cuts,
/// as every practical one does), so a lane's `(code | 0x8000) - (at + 1)` never borrows and
/// its top bit alone decides: three operations per four codes instead of nine.
///
/// [`Layout::Strided`]: super::cuts::Layout::Strided
#[inline(always)]
fn word_above_u16(codes: &[u16; 64], at: u16, small: bool) -> u64 {
    const H: u64 = 0x8000_8000_8000_8000;
    const LANES: u64 = 0x0001_0001_0001_0001;
    // Groups of 4 bits 16 apart to 4 consecutive bits at 48..64; the cross products land
    // below bit 48 (each at its own place: no carry) or past bit 63.
    const GATHER: u64 = 1 << 48 | 1 << 36 | 1 << 24 | 1 << 12;
    if small && at >= 0x7FFF {
        // No code of the column exceeds 0x7FFF.
        return 0;
    }
    let y = u64::from(at) * LANES;
    // `at + 1` in every lane, read by the short path only, where `at < 0x7FFF` (above): each
    // lane stays below 2^15 and the product cannot overflow. Any other `at` (up to
    // `u16::MAX`, a NaN threshold's code) would carry out of its lane, so it is not formed.
    let y1 = if small {
        (u64::from(at) + 1) * LANES
    } else {
        0
    };
    let mut g = 0u64;
    for (q, group) in codes.chunks_exact(16).enumerate() {
        let mut comb = 0u64;
        for (m, c) in group.chunks_exact(4).enumerate() {
            let x = u64::from(c[0])
                | u64::from(c[1]) << 16
                | u64::from(c[2]) << 32
                | u64::from(c[3]) << 48;
            let gt = if small {
                (x | H).wrapping_sub(y1) & H
            } else {
                let d = (y | H).wrapping_sub(x & !H);
                ((x & !y) | (!(x ^ y) & !d)) & H
            };
            comb |= gt >> (15 - m);
        }
        g |= ((comb.wrapping_mul(GATHER) >> 48) & 0xFFFF) << (16 * q);
    }
    g
}

impl Code for u8 {
    #[inline]
    fn split(
        isa: Supported,
        codes: &[u8],
        at: u8,
        _small: bool,
        src: Words<'_>,
        left: WordsMut<'_>,
        right: WordsMut<'_>,
    ) -> (usize, usize) {
        match isa.get() {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: a `Supported` level is one this CPU was checked to run (`Supported::new`),
            // and each level includes the features of the ones below it.
            Isa::Avx512 => unsafe { avx512::split_u8(codes, at, src, left, right) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as above.
            Isa::Avx2 => unsafe { avx2::split_u8(codes, at, src, left, right) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: SSE2 is part of the x86-64 baseline.
            Isa::Sse2 => unsafe { sse2::split_u8(codes, at, src, left, right) },
            _ => split_words(codes.len() / 64, src, left, right, |i, s| {
                let c: &[u8; 64] = codes[64 * i..64 * i + 64].try_into().expect("64 codes");
                s & word_above_u8(c, at)
            }),
        }
    }
}

impl Code for u16 {
    #[inline]
    fn split(
        isa: Supported,
        codes: &[u16],
        at: u16,
        small: bool,
        src: Words<'_>,
        left: WordsMut<'_>,
        right: WordsMut<'_>,
    ) -> (usize, usize) {
        match isa.get() {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as for `u8`.
            Isa::Avx512 => unsafe { avx512::split_u16(codes, at, src, left, right) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as for `u8`.
            Isa::Avx2 => unsafe { avx2::split_u16(codes, at, src, left, right) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: SSE2 is part of the x86-64 baseline.
            Isa::Sse2 => unsafe { sse2::split_u16(codes, at, src, left, right) },
            _ => split_words(codes.len() / 64, src, left, right, |i, s| {
                let c: &[u16; 64] = codes[64 * i..64 * i + 64].try_into().expect("64 codes");
                s & word_above_u16(c, at, small)
            }),
        }
    }
}

/// Splits a node on feature `j` at code `at` (see [`Code::split`]), in the feature's width.
#[inline]
fn split_node(
    isa: Supported,
    codes: &Codes,
    j: usize,
    at: u16,
    src: Words<'_>,
    left: WordsMut<'_>,
    right: WordsMut<'_>,
) -> (usize, usize) {
    match codes.column[j] {
        // A one-bit feature has at most one cut: its nodes' code is 0 (the cut) or
        // `u16::MAX` (a NaN threshold, which no row exceeds).
        Column::Bit(o) => {
            let col = &codes.bit[o..o + codes.np / 64];
            split_words(col.len(), src, left, right, |c, s| {
                if at == 0 { s & col[c] } else { 0 }
            })
        }
        // A narrow feature has at most 255 cuts, so its node codes fit a byte (a NaN
        // threshold's `u16::MAX` becomes 255, which no code of it exceeds either).
        Column::Narrow(o) => {
            let col = &codes.narrow[o..o + codes.np];
            u8::split(isa, col, at.min(255) as u8, false, src, left, right)
        }
        Column::Wide(o) => {
            let col = &codes.wide[o..o + codes.np];
            u16::split(isa, col, at, codes.wide_small, src, left, right)
        }
    }
}

/// Eight bits as eight bytes of 0 or 1 (bit `b` to the low bit of byte `b`): each byte of
/// the broadcast keeps its own bit, and adding `0x7f` carries a set bit into the top bit of
/// its byte only.
#[inline(always)]
fn bits_to_bytes(b: u64) -> u64 {
    ((b.wrapping_mul(0x0101_0101_0101_0101) & 0x8040_2010_0804_0201)
        .wrapping_add(0x7f7f_7f7f_7f7f_7f7f)
        >> 7)
        & 0x0101_0101_0101_0101
}

/// Adds 1 to `counts[64 i + b]` for every bit `b` of word `i` of `src` (indices clamped into
/// `counts`, which holds whole words). `u8` counters: the kernel counts votes only for
/// forests of at most 255 trees, so no counter wraps and no carry crosses bytes.
fn count_words(isa: Supported, src: Words<'_>, counts: &mut [u8]) {
    let n_words = counts.len() / 64;
    if n_words == 0 {
        return;
    }
    match isa.get() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as in `Code::split`; `counts` holds at least one word.
        Isa::Avx512 => unsafe { avx512::count_words(src, counts) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as in `Code::split`; `counts` holds at least one word.
        Isa::Avx2 => unsafe { avx2::count_words(src, counts) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: SSE2 is part of the x86-64 baseline.
        Isa::Sse2 => unsafe { sse2::count_words(src, counts) },
        _ => {
            for (&i, &w) in src.idx.iter().zip(src.bits) {
                let c = &mut counts[64 * (i as usize).min(n_words - 1)..][..64];
                for (k, c) in c.chunks_exact_mut(8).enumerate() {
                    let cur = u64::from_le_bytes((&*c).try_into().expect("8 counters"));
                    let add = bits_to_bytes(w >> (8 * k) & 0xFF);
                    c.copy_from_slice(&(cur + add).to_le_bytes());
                }
            }
        }
    }
}

/// `BIT[b] = 1 << b`: the portable loops test a bit against a constant per lane, which
/// compiles to a vector AND and compare.
const BIT: [u32; 32] = {
    let mut t = [0u32; 32];
    let mut b = 0;
    while b < 32 {
        t[b] = 1 << b;
        b += 1;
    }
    t
};

/// Adds `v` to `out[64 i + b]` for every bit `b` of word `i` of `src` (indices clamped into
/// `out`, which holds whole words).
///
/// The vector versions add `v` only in the lanes of set bits (masked adds or blends); the
/// portable loop adds `v` or `+0.0` to every lane, which leaves a lane unchanged unless it
/// holds `-0.0`: the kernel's sums start at `+0.0` and only grow, so all are equal bit for
/// bit.
fn add_to_words(isa: Supported, src: Words<'_>, v: f32, out: &mut [f32]) {
    let n_words = out.len() / 64;
    if n_words == 0 {
        return;
    }
    match isa.get() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as in `Code::split`; `out` holds at least one word.
        Isa::Avx512 => unsafe { avx512::add_to_words(src, v, out) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as in `Code::split`; `out` holds at least one word.
        Isa::Avx2 => unsafe { avx2::add_to_words(src, v, out) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: SSE2 is part of the x86-64 baseline.
        Isa::Sse2 => unsafe { sse2::add_to_words(src, v, out) },
        _ => {
            for (&i, &w) in src.idx.iter().zip(src.bits) {
                let o = &mut out[64 * (i as usize).min(n_words - 1)..][..64];
                for (half, o) in o.chunks_exact_mut(32).enumerate() {
                    let h = (w >> (32 * half)) as u32;
                    for (o, &bit) in o.iter_mut().zip(&BIT) {
                        *o += if h & bit != 0 { v } else { 0.0 };
                    }
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    use super::{Words, WordsMut, split_words};

    /// [`super::Code::split`] for one-byte codes: one masked compare per word.
    ///
    /// # Safety
    /// The CPU must support AVX-512F and AVX-512BW.
    #[target_feature(enable = "avx512f,avx512bw")]
    pub(super) unsafe fn split_u8(
        codes: &[u8],
        at: u8,
        src: Words<'_>,
        left: WordsMut<'_>,
        right: WordsMut<'_>,
    ) -> (usize, usize) {
        let at = _mm512_set1_epi8(at as i8);
        split_words(codes.len() / 64, src, left, right, |i, s| {
            // SAFETY: `split_words` passes `i < codes.len() / 64`.
            let v = unsafe { _mm512_loadu_si512(codes.as_ptr().add(64 * i).cast()) };
            _mm512_mask_cmpgt_epu8_mask(s, v, at)
        })
    }

    /// [`super::Code::split`] for two-byte codes: two masked compares of 32 lanes per word.
    ///
    /// # Safety
    /// The CPU must support AVX-512F and AVX-512BW.
    #[target_feature(enable = "avx512f,avx512bw")]
    pub(super) unsafe fn split_u16(
        codes: &[u16],
        at: u16,
        src: Words<'_>,
        left: WordsMut<'_>,
        right: WordsMut<'_>,
    ) -> (usize, usize) {
        let at = _mm512_set1_epi16(at as i16);
        split_words(codes.len() / 64, src, left, right, |i, s| {
            // SAFETY: `split_words` passes `i < codes.len() / 64`.
            let (lo, hi) = unsafe {
                let p = codes.as_ptr().add(64 * i);
                (
                    _mm512_loadu_si512(p.cast()),
                    _mm512_loadu_si512(p.add(32).cast()),
                )
            };
            let g_lo = _mm512_mask_cmpgt_epu16_mask(s as u32, lo, at);
            let g_hi = _mm512_mask_cmpgt_epu16_mask((s >> 32) as u32, hi, at);
            u64::from(g_lo) | u64::from(g_hi) << 32
        })
    }

    /// [`super::count_words`]: one masked subtraction of -1 (64 lanes) per word.
    ///
    /// # Safety
    /// The CPU must support AVX-512F and AVX-512BW; `counts` must hold at least one word.
    #[target_feature(enable = "avx512f,avx512bw")]
    pub(super) unsafe fn count_words(src: Words<'_>, counts: &mut [u8]) {
        let last = counts.len() / 64 - 1;
        let minus_one = _mm512_set1_epi8(-1);
        for (&i, &w) in src.idx.iter().zip(src.bits) {
            let i = (i as usize).min(last);
            // SAFETY: `i <= last`, so `counts[64 i..64 i + 64]` is in bounds.
            unsafe {
                let p = counts.as_mut_ptr().add(64 * i);
                let c = _mm512_loadu_si512(p.cast());
                _mm512_storeu_si512(p.cast(), _mm512_mask_sub_epi8(c, w, c, minus_one));
            }
        }
    }

    /// [`super::add_to_words`]: four masked adds of 16 lanes per word.
    ///
    /// # Safety
    /// The CPU must support AVX-512F; `out` must hold at least one word.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn add_to_words(src: Words<'_>, v: f32, out: &mut [f32]) {
        let last = out.len() / 64 - 1;
        let v = _mm512_set1_ps(v);
        for (&i, &w) in src.idx.iter().zip(src.bits) {
            let i = (i as usize).min(last);
            for q in 0..4 {
                // SAFETY: `i <= last`, so `out[64 i + 16 q..][..16]` is in bounds.
                unsafe {
                    let p = out.as_mut_ptr().add(64 * i + 16 * q);
                    let o = _mm512_loadu_ps(p);
                    _mm512_storeu_ps(p, _mm512_mask_add_ps(o, (w >> (16 * q)) as u16, o, v));
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use super::{Words, WordsMut, split_words};

    /// [`super::Code::split`] for one-byte codes: per 32 codes, a signed compare of the codes
    /// and the bound, both biased by 128 (the codes when stored: the unsigned order), and a
    /// `movemask`.
    ///
    /// # Safety
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn split_u8(
        codes: &[u8],
        at: u8,
        src: Words<'_>,
        left: WordsMut<'_>,
        right: WordsMut<'_>,
    ) -> (usize, usize) {
        let bias = _mm256_set1_epi8(i8::MIN);
        let at = _mm256_xor_si256(_mm256_set1_epi8(at as i8), bias);
        split_words(codes.len() / 64, src, left, right, |i, s| {
            // SAFETY: `split_words` passes `i < codes.len() / 64`.
            let (lo, hi) = unsafe {
                let p = codes.as_ptr().add(64 * i);
                (
                    _mm256_loadu_si256(p.cast()),
                    _mm256_loadu_si256(p.add(32).cast()),
                )
            };
            let g_lo = _mm256_movemask_epi8(_mm256_cmpgt_epi8(lo, at));
            let g_hi = _mm256_movemask_epi8(_mm256_cmpgt_epi8(hi, at));
            s & (u64::from(g_lo as u32) | u64::from(g_hi as u32) << 32)
        })
    }

    /// The 32 biased codes of `a` and `b` above the biased bound `at`, as 32 bits: two
    /// 16-bit compares, packed to bytes and a `movemask`. `packs` interleaves the 128-bit
    /// halves of `a` and `b`, which the stored order of the codes
    /// ([`Layout::BiasedSwizzled`](super::super::cuts::Layout::BiasedSwizzled)) undoes.
    #[target_feature(enable = "avx2")]
    #[inline]
    fn above_u16(a: __m256i, b: __m256i, at: __m256i) -> u32 {
        let ga = _mm256_cmpgt_epi16(a, at);
        let gb = _mm256_cmpgt_epi16(b, at);
        _mm256_movemask_epi8(_mm256_packs_epi16(ga, gb)) as u32
    }

    /// [`super::Code::split`] for two-byte codes: four compares of 16 lanes per word.
    ///
    /// # Safety
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn split_u16(
        codes: &[u16],
        at: u16,
        src: Words<'_>,
        left: WordsMut<'_>,
        right: WordsMut<'_>,
    ) -> (usize, usize) {
        let bias = _mm256_set1_epi16(i16::MIN);
        let at = _mm256_xor_si256(_mm256_set1_epi16(at as i16), bias);
        split_words(codes.len() / 64, src, left, right, |i, s| {
            // SAFETY: `split_words` passes `i < codes.len() / 64`.
            let v: [__m256i; 4] = std::array::from_fn(|q| unsafe {
                _mm256_loadu_si256(codes.as_ptr().add(64 * i + 16 * q).cast())
            });
            let lo = above_u16(v[0], v[1], at);
            let hi = above_u16(v[2], v[3], at);
            s & (u64::from(lo) | u64::from(hi) << 32)
        })
    }

    /// [`super::count_words`]: per 32 rows, the word's four bytes are spread over 32 byte
    /// lanes (one shuffle), each lane keeps its own bit and becomes -1 or 0 (a compare), and
    /// subtracting that adds the votes.
    ///
    /// # Safety
    /// The CPU must support AVX2; `counts` must hold at least one word.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn count_words(src: Words<'_>, counts: &mut [u8]) {
        let last = counts.len() / 64 - 1;
        let spread = _mm256_setr_epi8(
            0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3,
            3, 3, 3,
        );
        let bit = _mm256_set1_epi64x(0x8040_2010_0804_0201u64 as i64);
        for (&i, &w) in src.idx.iter().zip(src.bits) {
            let i = (i as usize).min(last);
            for half in 0..2 {
                let b = _mm256_set1_epi32((w >> (32 * half)) as u32 as i32);
                let lanes = _mm256_and_si256(_mm256_shuffle_epi8(b, spread), bit);
                let minus_one = _mm256_cmpeq_epi8(lanes, bit);
                // SAFETY: `i <= last`, so `counts[64 i + 32 half..][..32]` is in bounds.
                unsafe {
                    let p = counts.as_mut_ptr().add(64 * i + 32 * half);
                    let c = _mm256_loadu_si256(p.cast());
                    _mm256_storeu_si256(p.cast(), _mm256_sub_epi8(c, minus_one));
                }
            }
        }
    }

    /// [`super::add_to_words`]: per 8 lanes, variable shifts move each lane's bit into its
    /// sign, which selects `o + v` over `o` in a blend.
    ///
    /// # Safety
    /// The CPU must support AVX2; `out` must hold at least one word.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn add_to_words(src: Words<'_>, v: f32, out: &mut [f32]) {
        let last = out.len() / 64 - 1;
        let v = _mm256_set1_ps(v);
        let to_sign = _mm256_setr_epi32(31, 30, 29, 28, 27, 26, 25, 24);
        for (&i, &w) in src.idx.iter().zip(src.bits) {
            let i = (i as usize).min(last);
            for q in 0..8 {
                let sel = _mm256_sllv_epi32(_mm256_set1_epi32((w >> (8 * q)) as i32), to_sign);
                // SAFETY: `i <= last`, so `out[64 i + 8 q..][..8]` is in bounds.
                unsafe {
                    let p = out.as_mut_ptr().add(64 * i + 8 * q);
                    let o = _mm256_loadu_ps(p);
                    let sum = _mm256_add_ps(o, v);
                    _mm256_storeu_ps(p, _mm256_blendv_ps(o, sum, _mm256_castsi256_ps(sel)));
                }
            }
        }
    }
}

/// SSE2 is part of the x86-64 baseline: these need no run-time check. Their callers' `unsafe`
/// is only the call into `#[target_feature]` functions, which Rust requires even for features
/// every x86-64 CPU has; inside, it is the raw loads and stores.
#[cfg(target_arch = "x86_64")]
mod sse2 {
    use std::arch::x86_64::*;

    use super::{Words, WordsMut, split_words};

    /// [`super::Code::split`] for one-byte codes (stored biased, see
    /// [`Layout::Biased`](super::super::cuts::Layout::Biased)): four signed compares and
    /// `movemask`s of 16 lanes per word.
    #[target_feature(enable = "sse2")]
    pub(super) fn split_u8(
        codes: &[u8],
        at: u8,
        src: Words<'_>,
        left: WordsMut<'_>,
        right: WordsMut<'_>,
    ) -> (usize, usize) {
        let bias = _mm_set1_epi8(i8::MIN);
        let at = _mm_xor_si128(_mm_set1_epi8(at as i8), bias);
        split_words(codes.len() / 64, src, left, right, |i, s| {
            let mut g = 0u64;
            for q in 0..4 {
                // SAFETY: `split_words` passes `i < codes.len() / 64`.
                let v = unsafe { _mm_loadu_si128(codes.as_ptr().add(64 * i + 16 * q).cast()) };
                let m = _mm_movemask_epi8(_mm_cmpgt_epi8(v, at));
                g |= u64::from(m as u16) << (16 * q);
            }
            s & g
        })
    }

    /// [`super::Code::split`] for two-byte codes (stored biased): eight compares of 8 lanes
    /// per word, packed to bytes in pairs for `movemask`.
    #[target_feature(enable = "sse2")]
    pub(super) fn split_u16(
        codes: &[u16],
        at: u16,
        src: Words<'_>,
        left: WordsMut<'_>,
        right: WordsMut<'_>,
    ) -> (usize, usize) {
        let bias = _mm_set1_epi16(i16::MIN);
        let at = _mm_xor_si128(_mm_set1_epi16(at as i16), bias);
        split_words(codes.len() / 64, src, left, right, |i, s| {
            let mut g = 0u64;
            for q in 0..4 {
                // SAFETY: `split_words` passes `i < codes.len() / 64`.
                let (a, b) = unsafe {
                    let p = codes.as_ptr().add(64 * i + 16 * q);
                    (_mm_loadu_si128(p.cast()), _mm_loadu_si128(p.add(8).cast()))
                };
                let ga = _mm_cmpgt_epi16(a, at);
                let gb = _mm_cmpgt_epi16(b, at);
                let m = _mm_movemask_epi8(_mm_packs_epi16(ga, gb));
                g |= u64::from(m as u16) << (16 * q);
            }
            s & g
        })
    }

    /// [`super::count_words`]: per 16 rows, two bytes of the word are spread over 16 byte
    /// lanes by unpacking, each lane keeps its own bit, and a compare and a subtraction add
    /// the votes.
    #[target_feature(enable = "sse2")]
    pub(super) fn count_words(src: Words<'_>, counts: &mut [u8]) {
        let last = counts.len() / 64 - 1;
        let bit = _mm_set1_epi64x(0x8040_2010_0804_0201u64 as i64);
        for (&i, &w) in src.idx.iter().zip(src.bits) {
            let i = (i as usize).min(last);
            for q in 0..4 {
                // Bytes `[b0, b1, ...]` → `[b0 × 8, b1 × 8]`.
                let b = _mm_cvtsi32_si128((w >> (16 * q)) as u16 as i32);
                let b = _mm_unpacklo_epi8(b, b);
                let b = _mm_unpacklo_epi16(b, b);
                let b = _mm_unpacklo_epi32(b, b);
                let minus_one = _mm_cmpeq_epi8(_mm_and_si128(b, bit), bit);
                // SAFETY: `i <= last`, so `counts[64 i + 16 q..][..16]` is in bounds.
                unsafe {
                    let p = counts.as_mut_ptr().add(64 * i + 16 * q);
                    let c = _mm_loadu_si128(p.cast());
                    _mm_storeu_si128(p.cast(), _mm_sub_epi8(c, minus_one));
                }
            }
        }
    }

    /// [`super::add_to_words`]: per 4 lanes, a compare against the lanes' bits selects
    /// `o + v` over `o` (AND, ANDNOT, OR: SSE2 has no blend).
    #[target_feature(enable = "sse2")]
    pub(super) fn add_to_words(src: Words<'_>, v: f32, out: &mut [f32]) {
        let last = out.len() / 64 - 1;
        let v = _mm_set1_ps(v);
        let bits = _mm_setr_epi32(1, 2, 4, 8);
        for (&i, &w) in src.idx.iter().zip(src.bits) {
            let i = (i as usize).min(last);
            for q in 0..16 {
                let b = _mm_set1_epi32((w >> (4 * q)) as i32);
                let sel = _mm_castsi128_ps(_mm_cmpeq_epi32(_mm_and_si128(b, bits), bits));
                // SAFETY: `i <= last`, so `out[64 i + 4 q..][..4]` is in bounds.
                unsafe {
                    let p = out.as_mut_ptr().add(64 * i + 4 * q);
                    let o = _mm_loadu_ps(p);
                    let sum = _mm_add_ps(o, v);
                    _mm_storeu_ps(p, _mm_or_ps(_mm_and_ps(sel, sum), _mm_andnot_ps(sel, o)));
                }
            }
        }
    }
}

impl Kernel {
    /// Adds the probabilities of one block of rows (row-major `xb`, at most 2^32 rows) into
    /// `ob` by the bitset kernel; the routing kernel's when the forest has no cuts.
    pub(crate) fn block_bits(&self, xb: &[f32], ob: &mut [f32]) {
        let Some(cuts) = self.cuts() else {
            return self.block_routed(xb, ob);
        };
        let (f, k) = (self.n_features, self.n_classes);
        let n = xb.len() / f;
        let n_trees = self.roots.len();
        if n == 0 || n_trees == 0 {
            return;
        }
        let words = n.div_ceil(64);
        let np = words * 64;
        let isa = self.isa;
        let order = self.first_tree_order(xb);
        let codes = cuts.quantize(isa, xb, &order, f, np);
        let mut sets = Sets::new(n);
        // `at[r]`: row `r`'s position in the order, so the output is written row by row.
        // Vote counting takes forests whose leaves are all pure, of at most 255 trees (`u8`
        // counters); otherwise class-major sums, one addition per tree per row, in tree order.
        let mut at = vec![0u32; n];
        for (i, &r) in order.iter().enumerate() {
            at[r as usize] = i as u32;
        }
        if self.all_pure && n_trees <= u8::MAX as usize {
            self.count_votes(cuts, &codes, &mut sets, &at, ob);
        } else {
            let mut sums = vec![0.0f32; k * np];
            for t in 0..n_trees {
                let delta = self.leaf_delta[t];
                self.tree_sets(t, cuts, &codes, &mut sets, |w, rows| {
                    let class = self.nodes[w as usize & (self.nodes.len() - 1)].feature as usize;
                    if class < k {
                        add_to_words(isa, rows, self.scale, &mut sums[class * np..][..np]);
                    } else {
                        let leaf = (w - delta) as usize;
                        for (c, &p) in self.proba[leaf * k..(leaf + 1) * k].iter().enumerate() {
                            add_to_words(isa, rows, p, &mut sums[c * np..][..np]);
                        }
                    }
                });
            }
            for (o, &i) in ob.chunks_exact_mut(k).zip(&at) {
                for (c, o) in o.iter_mut().enumerate() {
                    *o += sums[c * np + i as usize];
                }
            }
        }
    }

    /// [`Kernel::block_bits`] for a forest whose leaves are all pure: a row's probability of
    /// class `c` is `scale` added to 0 once per tree that voted `c`, a function of that count
    /// alone, whatever the order of the trees. `at[r]` is row `r`'s position in the codes.
    fn count_votes(&self, cuts: &Cuts, codes: &Codes, sets: &mut Sets, at: &[u32], ob: &mut [f32]) {
        let (k, n_trees, np) = (self.n_classes, self.roots.len(), codes.np);
        assert!(n_trees <= u8::MAX as usize);
        let mut sums = vec![0.0f32; n_trees + 1];
        for m in 1..=n_trees {
            sums[m] = sums[m - 1] + self.scale;
        }
        let mut counts = vec![0u8; k * np];
        for t in 0..n_trees {
            self.tree_sets(t, cuts, codes, sets, |w, rows| {
                let class = self.nodes[w as usize & (self.nodes.len() - 1)].feature as usize;
                let class = class.min(k - 1);
                count_words(self.isa, rows, &mut counts[class * np..(class + 1) * np]);
            });
        }
        for (o, &i) in ob.chunks_exact_mut(k).zip(at) {
            for (c, o) in o.iter_mut().enumerate() {
                *o += sums[usize::from(counts[c * np + i as usize]).min(n_trees)];
            }
        }
    }

    /// The block's rows in the order of the leaf they reach in the first tree, leaves in
    /// depth-first order (the arena's), rows of a leaf in input order. Eight rows walk the
    /// tree in lockstep, as in [`Kernel::block_lockstep`]; a counting sort orders them.
    fn first_tree_order(&self, xb: &[f32]) -> Vec<u32> {
        let f = self.n_features;
        let n = xb.len() / f;
        let mask = self.nodes.len() - 1;
        let (root, lb) = (self.roots[0], self.leaf_base[0]);
        let mut leaf = vec![0u32; n];
        const G: usize = 8;
        for (rows, out) in xb.chunks(G * f).zip(leaf.chunks_mut(G)) {
            let live = out.len();
            let mut idx = [root; G];
            loop {
                let mut done = true;
                for (j, w) in idx.iter_mut().enumerate() {
                    let nd = &self.nodes[*w as usize & mask];
                    // A leaf's `feature` is its class: clamped, it reads some value of the
                    // row, and the leaf's `+inf` threshold keeps the row where it is.
                    let v = rows[j.min(live - 1) * f + (nd.feature as usize).min(f - 1)];
                    *w = nd.children[usize::from(v > nd.threshold)];
                    done &= *w >= lb;
                }
                if done {
                    break;
                }
            }
            for (o, &w) in out.iter_mut().zip(&idx) {
                *o = w - lb;
            }
        }
        let n_leaves = leaf.iter().max().map_or(0, |&m| m as usize + 1);
        let mut start = vec![0u32; n_leaves + 1];
        for &l in &leaf {
            start[l as usize + 1] += 1;
        }
        for i in 0..n_leaves {
            start[i + 1] += start[i];
        }
        let mut order = vec![0u32; n];
        for (r, &l) in leaf.iter().enumerate() {
            order[start[l as usize] as usize] = r as u32;
            start[l as usize] += 1;
        }
        order
    }

    /// Walks tree `t` depth-first with row sets, calling `leaf(walk position, rows)` for every
    /// leaf that some row of the block reaches.
    fn tree_sets(
        &self,
        t: usize,
        cuts: &Cuts,
        codes: &Codes,
        sets: &mut Sets,
        mut leaf: impl FnMut(u32, Words<'_>),
    ) {
        let mask = self.nodes.len() - 1;
        let lb = self.leaf_base[t];
        let (words, tail) = (sets.words, sets.n % 64);
        let all = sets.take();
        {
            let (idx, bits) = sets.slot_mut(all);
            for (j, (i, b)) in idx.iter_mut().zip(bits.iter_mut()).enumerate() {
                *i = j as u32;
                *b = u64::MAX;
            }
            if tail != 0 {
                bits[words - 1] = (1u64 << tail) - 1;
            }
        }
        let mut stack = std::mem::take(&mut sets.stack);
        stack.push((self.roots[t], words as u32, all));
        while let Some((w, m, slot)) = stack.pop() {
            let m = m as usize;
            if w >= lb {
                leaf(w, sets.words_of(slot, m));
                sets.free.push(slot);
                continue;
            }
            let nd = self.nodes[w as usize & mask];
            let at = cuts.node_code[w as usize & mask];
            let (l, r) = (sets.take(), sets.take());
            let [(si, sb), (li, lbits), (ri, rbits)] = sets.three(slot, l, r);
            let (nl, nr) = split_node(
                self.isa,
                codes,
                (nd.feature as usize).min(self.n_features - 1),
                at,
                Words {
                    idx: &si[..m],
                    bits: &sb[..m],
                },
                WordsMut {
                    idx: li,
                    bits: lbits,
                },
                WordsMut {
                    idx: ri,
                    bits: rbits,
                },
            );
            sets.free.push(slot);
            // Leaf children (about half the children of a fully grown tree) are visited at
            // once; empty children not at all.
            for (child, n, s) in [(nd.children[1], nr, r), (nd.children[0], nl, l)] {
                if n > 0 && child >= lb {
                    leaf(child, sets.words_of(s, n));
                }
                if n > 0 && child < lb {
                    stack.push((child, n as u32, s));
                } else {
                    sets.free.push(s);
                }
            }
        }
        sets.stack = stack;
    }
}

/// The row-set buffers of one block: slots of `words` entries in two flat arrays, handed
/// out by index and reused from node to node and tree to tree. (Moving vectors in and out of
/// a stack instead cost store-forwarding stalls: 5% of the kernel.)
struct Sets {
    n: usize,
    words: usize,
    idx: Vec<u32>,
    bits: Vec<u64>,
    free: Vec<u32>,
    /// Pending nodes: walk position, number of words, slot.
    stack: Vec<(u32, u32, u32)>,
}

impl Sets {
    fn new(n: usize) -> Sets {
        Sets {
            n,
            words: n.div_ceil(64),
            idx: Vec::new(),
            bits: Vec::new(),
            free: Vec::new(),
            stack: Vec::with_capacity(64),
        }
    }

    /// A free slot (a new one when none is free).
    fn take(&mut self) -> u32 {
        self.free.pop().unwrap_or_else(|| {
            let slot = (self.idx.len() / self.words) as u32;
            self.idx.resize(self.idx.len() + self.words, 0);
            self.bits.resize(self.bits.len() + self.words, 0);
            slot
        })
    }

    fn range(&self, s: u32) -> std::ops::Range<usize> {
        s as usize * self.words..(s as usize + 1) * self.words
    }

    /// The first `m` words of slot `s`.
    fn words_of(&self, s: u32, m: usize) -> Words<'_> {
        let r = self.range(s);
        Words {
            idx: &self.idx[r.clone()][..m],
            bits: &self.bits[r][..m],
        }
    }

    fn slot_mut(&mut self, s: u32) -> (&mut [u32], &mut [u64]) {
        let r = self.range(s);
        (&mut self.idx[r.clone()], &mut self.bits[r])
    }

    /// Three distinct slots at once (a node's and its children's).
    #[allow(clippy::type_complexity)]
    fn three(&mut self, a: u32, b: u32, c: u32) -> [(&mut [u32], &mut [u64]); 3] {
        let rs = [self.range(a), self.range(b), self.range(c)];
        let [i0, i1, i2] = self
            .idx
            .get_disjoint_mut(rs.clone())
            .expect("a node's and its children's slots are distinct");
        let [b0, b1, b2] = self
            .bits
            .get_disjoint_mut(rs)
            .expect("a node's and its children's slots are distinct");
        [(i0, b0), (i1, b1), (i2, b2)]
    }
}

#[cfg(test)]
mod tests {
    use super::super::cuts::Layout;
    use super::*;
    use proptest::prelude::*;

    /// A code or bound: small values (ties), and any value (the top bit of a byte or of a
    /// two-byte code, where a signed compare would go wrong).
    fn code() -> impl Strategy<Value = u16> {
        prop_oneof![
            0u16..300,
            proptest::num::u16::ANY,
            // Around 2^15, where the portable two-byte loop's short path ends.
            0x7FF0u16..0x8010,
            Just(u16::MAX),
            Just(255)
        ]
    }

    /// Regression (the 15-bit SWAR change panicked with "attempt to multiply with overflow"
    /// on a node code of `u16::MAX`, a NaN threshold's, when the column had codes of 2^15 or
    /// more): both portable two-byte loops take every node code, the edges of the short path
    /// included.
    #[test]
    fn regression_word_above_u16_takes_every_node_code() {
        let codes: Vec<u16> = (0..64u16)
            .map(|b| {
                [0, 1, 0x7FFE, 0x7FFF, 0x8000, 0x8001, u16::MAX - 1, u16::MAX][usize::from(b % 8)]
                    ^ (b / 8)
            })
            .collect();
        for small in [false, true] {
            let plain: Vec<u16> = codes
                .iter()
                .map(|&c| if small { c & 0x7FFF } else { c })
                .collect();
            let mut stored = [0u16; 64];
            for (b, &c) in plain.iter().enumerate() {
                stored[Layout::Strided.wide_slot(b)] = c;
            }
            for at in [
                0,
                1,
                0x7FFD,
                0x7FFE,
                0x7FFF,
                0x8000,
                0x8001,
                u16::MAX - 1,
                u16::MAX,
            ] {
                let want = (0..64).fold(0u64, |g, b| g | u64::from(plain[b] > at) << b);
                assert_eq!(
                    word_above_u16(&stored, at, small),
                    want,
                    "at {at:#x}, small {small}"
                );
            }
        }
    }

    /// A two-byte feature on either side of 2^15 cuts, quantized and split on every
    /// instruction set: the codes say whether the portable short path may run
    /// (`Codes::wide_small`), and every node code, `u16::MAX` included, splits exactly.
    #[test]
    fn wide_columns_on_both_sides_of_2_15_cuts_split_exactly() {
        use super::super::cuts::Cuts;
        for n_cuts in [300u16, 0x7FFF, 0x8000, 0x9000] {
            let cuts: Vec<f32> = (0..n_cuts).map(f32::from).collect();
            let c = Cuts::from_per_feature(&[cuts]).expect("cuts");
            // Value `k - 0.5` has code `k` (the cuts `0..k` are below it): every edge code,
            // and a spread of the others.
            let edges = [0, 1, 0x7FFE, 0x7FFF, 0x8000, 0x8001, n_cuts - 1, n_cuts];
            let want: Vec<u16> = (0..128u32)
                .map(|i| match edges.get(i as usize) {
                    Some(&k) => k.min(n_cuts),
                    None => (i * 7919 % (u32::from(n_cuts) + 1)) as u16,
                })
                .collect();
            let xs: Vec<f32> = want.iter().map(|&k| f32::from(k) - 0.5).collect();
            let order: Vec<u32> = (0..128).collect();
            let (idx, bits) = ([0u32, 1], [u64::MAX, 0x0123_4567_89AB_CDEF]);
            for isa in Supported::all() {
                let codes = c.quantize(isa, &xs, &order, 1, 128);
                assert_eq!(codes.wide_small, n_cuts < 0x8000, "{n_cuts} cuts");
                assert_eq!(codes.plain(128), vec![want.clone()], "{isa:?}");
                for at in [0, 1, 0x7FFE, 0x7FFF, 0x8000, n_cuts - 1, n_cuts, u16::MAX] {
                    let (mut li, mut lb, mut ri, mut rb) =
                        ([0u32; 2], [0u64; 2], [0u32; 2], [0u64; 2]);
                    let (nl, nr) = split_node(
                        isa,
                        &codes,
                        0,
                        at,
                        Words {
                            idx: &idx,
                            bits: &bits,
                        },
                        WordsMut {
                            idx: &mut li,
                            bits: &mut lb,
                        },
                        WordsMut {
                            idx: &mut ri,
                            bits: &mut rb,
                        },
                    );
                    let (mut l, mut r) = ((vec![], vec![]), (vec![], vec![]));
                    for (&i, &s) in idx.iter().zip(&bits) {
                        let g = (0..64).fold(0u64, |g, b| {
                            g | u64::from(want[64 * i as usize + b] > at) << b
                        }) & s;
                        if s & !g != 0 {
                            l.0.push(i);
                            l.1.push(s & !g);
                        }
                        if g != 0 {
                            r.0.push(i);
                            r.1.push(g);
                        }
                    }
                    let got = (
                        (li[..nl].to_vec(), lb[..nl].to_vec()),
                        (ri[..nr].to_vec(), rb[..nr].to_vec()),
                    );
                    assert_eq!(got, (l, r), "{isa:?}, {n_cuts} cuts, at {at:#x}");
                }
            }
        }
    }

    proptest! {
        /// Every word builder this CPU runs gives, for both widths, exactly the reference
        /// split: each child gets its non-empty words, in order, and the rows going right are
        /// those whose code is above the node's.
        #[test]
        fn split_matches_the_reference_on_every_isa(
            raw in proptest::collection::vec(code(), 64 * 4),
            words in proptest::collection::vec(proptest::option::of(proptest::num::u64::ANY), 4),
            at in code(),
        ) {
            let (idx, bits): (Vec<u32>, Vec<u64>) = words
                .iter()
                .enumerate()
                .filter_map(|(i, w)| w.filter(|&w| w != 0).map(|w| (i as u32, w)))
                .unzip();
            let src = Words { idx: &idx, bits: &bits };
            // Any codes, and codes below 2^15 (the portable loop's short path for them).
            let small_codes: Vec<u16> = raw.iter().map(|&c| c & 0x7FFF).collect();
            for (codes, small) in [(&raw, false), (&small_codes, true)] {
                let bytes: Vec<u8> = codes.iter().map(|&c| c as u8).collect();
                // The reference: one row at a time.
                let want = |wide: bool| {
                    let (mut l, mut r) = ((vec![], vec![]), (vec![], vec![]));
                    for (&i, &s) in idx.iter().zip(&bits) {
                        let mut g = 0u64;
                        for b in 0..64 {
                            let p = 64 * i as usize + b;
                            let above = if wide { codes[p] > at } else { bytes[p] > at as u8 };
                            g |= u64::from(above) << b;
                        }
                        let g = g & s;
                        if s & !g != 0 {
                            l.0.push(i);
                            l.1.push(s & !g);
                        }
                        if g != 0 {
                            r.0.push(i);
                            r.1.push(g);
                        }
                    }
                    (l.0, l.1, r.0, r.1)
                };
                for isa in Supported::all() {
                    // The codes as `isa`'s quantization stores them.
                    let layout = Layout::of(isa);
                    let stored_bytes: Vec<u8> = bytes.iter().map(|&b| b ^ layout.narrow_bias()).collect();
                    let mut stored_codes = vec![0u16; codes.len()];
                    for (p, &c) in codes.iter().enumerate() {
                        stored_codes[layout.wide_slot(p)] = c ^ layout.wide_bias();
                    }
                    for wide in [false, true] {
                        let (mut li, mut lb, mut ri, mut rb) = ([0u32; 4], [0u64; 4], [0u32; 4], [0u64; 4]);
                        let (l, r) = (
                            WordsMut { idx: &mut li, bits: &mut lb },
                            WordsMut { idx: &mut ri, bits: &mut rb },
                        );
                        let (nl, nr) = if wide {
                            u16::split(isa, &stored_codes, at, small, src, l, r)
                        } else {
                            u8::split(isa, &stored_bytes, at as u8, small, src, l, r)
                        };
                        let got = (li[..nl].to_vec(), lb[..nl].to_vec(), ri[..nr].to_vec(), rb[..nr].to_vec());
                        prop_assert_eq!(got, want(wide), "{:?}, wide {}, small {}", isa, wide, small);
                    }
                }
            }
        }

        /// Vote counting and the sparse add touch exactly the rows of the set, once each, on
        /// every instruction set (counters up to 255, sums equal bit for bit to one `+`).
        #[test]
        fn count_and_add_match_the_reference_on_every_isa(
            words in proptest::collection::vec(proptest::option::of(proptest::num::u64::ANY), 3),
            start in proptest::collection::vec(0u8..=254, 64 * 3),
            sums0 in proptest::collection::vec(0.0f32..4.0, 64 * 3),
            v in 0.0f32..1.0,
        ) {
            let (idx, bits): (Vec<u32>, Vec<u64>) = words
                .iter()
                .enumerate()
                .filter_map(|(i, w)| w.map(|w| (i as u32, w)))
                .unzip();
            let src = Words { idx: &idx, bits: &bits };
            let inside = |r: usize| words[r / 64].is_some_and(|w| w >> (r % 64) & 1 == 1);
            for isa in Supported::all() {
                let mut counts = start.clone();
                count_words(isa, src, &mut counts);
                let mut sums = sums0.clone();
                add_to_words(isa, src, v, &mut sums);
                for r in 0..64 * 3 {
                    let (c, s) = if inside(r) { (start[r] + 1, sums0[r] + v) } else { (start[r], sums0[r]) };
                    prop_assert_eq!(counts[r], c, "{:?} row {}", isa, r);
                    prop_assert_eq!(sums[r].to_bits(), s.to_bits(), "{:?} row {}", isa, r);
                }
            }
        }

        /// The portable SWAR word builders against a plain loop.
        #[test]
        fn swar_words_match_a_plain_loop(
            codes in proptest::collection::vec(code(), 64),
            at in code(),
        ) {
            let narrow: [u8; 64] = std::array::from_fn(|b| codes[b] as u8);
            let plain = |above: &dyn Fn(usize) -> bool| (0..64).fold(0u64, |g, b| g | u64::from(above(b)) << b);
            prop_assert_eq!(word_above_u8(&narrow, at as u8), plain(&|b| narrow[b] > at as u8));
            for small in [false, true] {
                let wide: Vec<u16> = codes.iter().map(|&c| if small { c & 0x7FFF } else { c }).collect();
                let mut stored = [0u16; 64];
                for (b, &c) in wide.iter().enumerate() {
                    stored[Layout::Strided.wide_slot(b)] = c;
                }
                prop_assert_eq!(word_above_u16(&stored, at, small), plain(&|b| wide[b] > at), "small {}", small);
            }
        }
    }

    #[test]
    fn bits_spread_to_bytes() {
        for b in 0..256u64 {
            let want = (0..8).fold(0u64, |acc, i| acc | (b >> i & 1) << (8 * i));
            assert_eq!(bits_to_bytes(b), want, "{b:#x}");
        }
    }
}
