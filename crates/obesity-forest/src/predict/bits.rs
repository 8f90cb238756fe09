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
//! AVX-512F/BW/VL (detected at run time) does the compares, counts and adds 16 to 64 lanes at
//! a time. The portable loops compute the same results but are slower than the routing
//! kernel, which [`super::Kernel::batch`] therefore keeps for CPUs without AVX-512.
#![allow(unsafe_code)]

use super::Kernel;
use super::cuts::{Codes, Column, Cuts};

/// Which implementation the bitset kernel's loops use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum BitsIsa {
    /// Portable loops.
    #[default]
    Scalar,
    /// AVX-512F, AVX-512BW, AVX-512VL and POPCNT (x86-64 only, checked at run time).
    Avx512,
}

impl BitsIsa {
    /// The fastest implementation this CPU supports.
    pub(crate) fn detect() -> BitsIsa {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx512bw")
                && std::arch::is_x86_feature_detected!("avx512vl")
                && std::arch::is_x86_feature_detected!("popcnt")
            {
                return BitsIsa::Avx512;
            }
        }
        BitsIsa::Scalar
    }
}

/// Every implementation this CPU can run (tests compare them all).
#[cfg(test)]
pub(crate) fn available() -> Vec<BitsIsa> {
    let mut v = vec![BitsIsa::Scalar];
    if BitsIsa::detect() == BitsIsa::Avx512 {
        v.push(BitsIsa::Avx512);
    }
    v
}

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
    /// `i`) is above `at` go right, the others left. Each child gets its non-empty words, in
    /// order, at the front of its buffers; returns how many each got.
    fn split(
        isa: BitsIsa,
        codes: &[Self],
        at: Self,
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

/// The portable word builder behind both [`Code`] impls.
fn split_scalar<C: Code>(
    codes: &[C],
    at: C,
    src: Words<'_>,
    left: WordsMut<'_>,
    right: WordsMut<'_>,
) -> (usize, usize) {
    split_words(codes.len() / 64, src, left, right, |i, s| {
        let mut g = 0u64;
        for (b, &v) in codes[64 * i..64 * i + 64].iter().enumerate() {
            g |= u64::from(v > at) << b;
        }
        s & g
    })
}

impl Code for u8 {
    #[inline]
    fn split(
        isa: BitsIsa,
        codes: &[u8],
        at: u8,
        src: Words<'_>,
        left: WordsMut<'_>,
        right: WordsMut<'_>,
    ) -> (usize, usize) {
        match isa {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `BitsIsa::Avx512` comes only from `BitsIsa::detect`, after the CPU
            // reported every feature the AVX-512 functions enable.
            BitsIsa::Avx512 => unsafe { avx512::split_u8(codes, at, src, left, right) },
            _ => split_scalar(codes, at, src, left, right),
        }
    }
}

impl Code for u16 {
    #[inline]
    fn split(
        isa: BitsIsa,
        codes: &[u16],
        at: u16,
        src: Words<'_>,
        left: WordsMut<'_>,
        right: WordsMut<'_>,
    ) -> (usize, usize) {
        match isa {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as for `u8`.
            BitsIsa::Avx512 => unsafe { avx512::split_u16(codes, at, src, left, right) },
            _ => split_scalar(codes, at, src, left, right),
        }
    }
}

/// Splits a node on feature `j` at code `at` (see [`Code::split`]), in the feature's width.
#[inline]
fn split_node(
    isa: BitsIsa,
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
            u8::split(isa, col, at.min(255) as u8, src, left, right)
        }
        Column::Wide(o) => u16::split(isa, &codes.wide[o..o + codes.np], at, src, left, right),
    }
}

/// Adds 1 to `counts[64 i + b]` for every bit `b` of word `i` of `src` (indices clamped into
/// `counts`, which holds whole words). `u8` counters: the kernel counts votes only for
/// forests of at most 255 trees.
fn count_words(isa: BitsIsa, src: Words<'_>, counts: &mut [u8]) {
    let n_words = counts.len() / 64;
    if n_words == 0 {
        return;
    }
    match isa {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as in `Code::split`; `counts` holds at least one word.
        BitsIsa::Avx512 => unsafe { avx512::count_words(src, counts) },
        _ => {
            for (&i, &w) in src.idx.iter().zip(src.bits) {
                let c = &mut counts[64 * (i as usize).min(n_words - 1)..][..64];
                let mut w = w;
                while w != 0 {
                    let b = w.trailing_zeros() as usize;
                    c[b] = c[b].wrapping_add(1);
                    w &= w - 1;
                }
            }
        }
    }
}

/// Adds `v` to `out[64 i + b]` for every bit `b` of word `i` of `src` (indices clamped into
/// `out`, which holds whole words).
fn add_to_words(isa: BitsIsa, src: Words<'_>, v: f32, out: &mut [f32]) {
    let n_words = out.len() / 64;
    if n_words == 0 {
        return;
    }
    match isa {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as in `Code::split`; `out` holds at least one word.
        BitsIsa::Avx512 => unsafe { avx512::add_to_words(src, v, out) },
        _ => {
            for (&i, &w) in src.idx.iter().zip(src.bits) {
                let o = &mut out[64 * (i as usize).min(n_words - 1)..][..64];
                let mut w = w;
                while w != 0 {
                    o[w.trailing_zeros() as usize] += v;
                    w &= w - 1;
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    use super::{Words, WordsMut, split_words};

    /// [`super::split_scalar`] for one-byte codes: one masked compare per word.
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

    /// [`super::split_scalar`] for two-byte codes: two masked compares of 32 lanes per word.
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

impl Kernel {
    /// Adds the probabilities of one block of rows (row-major `xb`, at most 2^32 rows) into
    /// `ob` by the bitset kernel; the routing kernel's when the forest has no cuts.
    pub(crate) fn block_bits(&self, xb: &[f32], ob: &mut [f32]) {
        let Some(cuts) = &self.cuts else {
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
        let isa = self.bits_isa;
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
                count_words(
                    self.bits_isa,
                    rows,
                    &mut counts[class * np..(class + 1) * np],
                );
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
                self.bits_isa,
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
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Every word builder this CPU runs agrees with the portable one, for both widths:
        /// each child gets exactly its non-empty words, in order, and the rows going right
        /// are those whose code is above the node's.
        #[test]
        fn split_matches_scalar(
            codes in proptest::collection::vec(0u16..300, 64 * 4),
            words in proptest::collection::vec(proptest::option::of(proptest::num::u64::ANY), 4),
            at in 0u16..300,
        ) {
            let (idx, bits): (Vec<u32>, Vec<u64>) = words
                .iter()
                .enumerate()
                .filter_map(|(i, w)| w.filter(|&w| w != 0).map(|w| (i as u32, w)))
                .unzip();
            let src = Words { idx: &idx, bits: &bits };
            let bytes: Vec<u8> = codes.iter().map(|&c| c as u8).collect();
            let run = |isa: BitsIsa, wide: bool| {
                let (mut li, mut lb, mut ri, mut rb) = ([0u32; 4], [0u64; 4], [0u32; 4], [0u64; 4]);
                let (l, r) = (
                    WordsMut { idx: &mut li, bits: &mut lb },
                    WordsMut { idx: &mut ri, bits: &mut rb },
                );
                let (nl, nr) = if wide {
                    u16::split(isa, &codes, at, src, l, r)
                } else {
                    u8::split(isa, &bytes, at as u8, src, l, r)
                };
                (li[..nl].to_vec(), lb[..nl].to_vec(), ri[..nr].to_vec(), rb[..nr].to_vec())
            };
            for wide in [false, true] {
                let want = run(BitsIsa::Scalar, wide);
                for isa in available() {
                    prop_assert_eq!(&run(isa, wide), &want);
                }
                let (li, lb, ri, rb) = want;
                prop_assert!(lb.iter().chain(&rb).all(|&w| w != 0));
                for (&i, &s) in idx.iter().zip(&bits) {
                    let l = li.iter().position(|&x| x == i).map_or(0, |p| lb[p]);
                    let r = ri.iter().position(|&x| x == i).map_or(0, |p| rb[p]);
                    prop_assert_eq!(l | r, s);
                    prop_assert_eq!(l & r, 0);
                    for b in 0..64 {
                        let p = 64 * i as usize + b;
                        let (code, bound) = if wide {
                            (codes[p], at)
                        } else {
                            (u16::from(bytes[p]), u16::from(at as u8))
                        };
                        if s >> b & 1 == 1 {
                            prop_assert_eq!(r >> b & 1 == 1, code > bound);
                        }
                    }
                }
            }
        }

        /// Vote counting and the sparse add touch exactly the rows of the set, once each.
        #[test]
        fn count_and_add_match_scalar(
            words in proptest::collection::vec(proptest::option::of(proptest::num::u64::ANY), 3),
        ) {
            let (idx, bits): (Vec<u32>, Vec<u64>) = words
                .iter()
                .enumerate()
                .filter_map(|(i, w)| w.map(|w| (i as u32, w)))
                .unzip();
            let src = Words { idx: &idx, bits: &bits };
            let inside = |r: usize| words[r / 64].is_some_and(|w| w >> (r % 64) & 1 == 1);
            for isa in available() {
                let mut counts = vec![7u8; 64 * 3];
                count_words(isa, src, &mut counts);
                let mut sums = vec![1.0f32; 64 * 3];
                add_to_words(isa, src, 0.25, &mut sums);
                for r in 0..64 * 3 {
                    prop_assert_eq!(counts[r], if inside(r) { 8 } else { 7 });
                    prop_assert_eq!(sums[r], if inside(r) { 1.25 } else { 1.0 });
                }
            }
        }
    }
}
