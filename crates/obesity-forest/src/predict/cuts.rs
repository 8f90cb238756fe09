//! The bitset kernel's codes (see [`super::bits`]): the forest's thresholds collected per
//! feature into sorted "cuts", and a block's values turned into their ranks among them.
//!
//! A row's value `x` of feature `f` becomes its code: how many cuts of `f` are below `x`. A
//! node whose threshold is `cuts[j]` sends a row right exactly when `x > cuts[j]`, that is
//! when `code > j`. The comparison on codes is therefore exact, not an approximation of the
//! one on values, and a code takes one bit for a feature with at most one cut (one-hot
//! features), one byte up to 255 cuts, two bytes up to 65,535.
//!
//! Two searches find a code:
//! - AVX-512: a binary search over the feature's cuts in 16 lanes, its first seven levels
//!   from registers (permutations), the deeper ones gathered.
//! - Everywhere else, a bucketed search ([`Buckets`]): the value's bucket, a linear map of
//!   the cuts' range cut into up to 65,536 equal parts, gives the first cut the bucket can
//!   hold, and a binary search over the few cuts that share the bucket (at most three on
//!   most features, so two levels instead of eleven for 2,000 cuts) finishes. Portable and
//!   SSE2 run it one value at a time, AVX2 eight at a time with gathers.
//!
//! The bucketed search is exact, not a guess that is corrected: the map from a value to its
//! bucket, `((x - min) * scale)` clamped to the buckets and truncated, is a composition of
//! IEEE operations that never decrease, so a cut in a lower bucket than `x`'s is below
//! `x` and a cut in a higher one is not; only the cuts in `x`'s own bucket need comparing.
//! The table is built with the very same operations the search runs.
#![allow(unsafe_code)]

use super::WalkNode;
use crate::isa::{Isa, Supported};

/// Search levels whose probes are read from registers rather than gathered.
const REG_LEVELS: u32 = 7;
/// Where each level's probes start in [`Cuts::reg`] (levels 1 to 4 take 16 floats each,
/// level `L > 4` takes `2^L`).
const REG_LEVEL_AT: [usize; 8] = [0, 0, 16, 32, 48, 64, 96, 160];
/// Floats of one feature's register probes.
const REG_FLOATS: usize = 288;

/// The forest's thresholds as cuts per feature, and each split node's position among them.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Cuts {
    /// Per walk position: a split node sends a row right when the row's code exceeds this
    /// (`u16::MAX`, never, for a NaN threshold, which no value exceeds); 0 for leaves.
    pub(super) node_code: Vec<u16>,
    /// Feature `f`'s cuts padded with `+inf` to `2^bits[f]` entries, at least one more than
    /// there are cuts (`+inf` is below no value, so padding never counts), from
    /// `table[table_off[f]]`: the binary search's table.
    table: Vec<f32>,
    table_off: Vec<u32>,
    bits: Vec<u8>,
    /// Per feature, the probes of the search's levels 1 to 7 (at most `bits`): level `L`'s
    /// are entries `(q + 1) 2^(bits - L) - 1` of the padded table for `q < 2^L`, from
    /// `REG_LEVEL_AT[L]`, padded with `+inf` to at least 16. At most 128 per level: eight
    /// registers, read by permutations instead of gathers.
    reg: Vec<[f32; REG_FLOATS]>,
    /// Per feature: how wide its codes are.
    pub(super) width: Vec<Width>,
    /// Per feature: the bucketed search (see the module docs).
    buckets: Vec<Buckets>,
    /// Every feature's bucket table: per bucket, the index in [`Cuts::window`] of the first
    /// cut that a value of the bucket may not exceed (its code plus the feature's
    /// [`Buckets::start`]).
    bucket_base: Vec<u32>,
    /// Per feature, from [`Buckets::start`]: its cuts, then `2^levels - 1` times `+inf`, so a
    /// search from any bucket's base stays inside.
    window: Vec<f32>,
}

/// Fewest cuts per bucket the bucket count is raised for: up to three cuts in a bucket take
/// two search levels.
const BUCKET_WINDOW: usize = 3;
/// Most buckets per feature, as a multiple of its cuts rounded up to a power of two.
const MAX_BUCKETS_PER_CUT: usize = 16;
/// Most buckets of one feature (indices stay exact in `f32`).
const MAX_BUCKETS: usize = 1 << 16;

/// One feature's bucketed search: bucket `((x - min) * scale).clamp(0, last) as usize`,
/// then `levels` binary-search steps over [`Cuts::window`] from the bucket's base.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct Buckets {
    min: f32,
    /// 0 for a single bucket (then every value maps to bucket 0).
    scale: f32,
    /// The last bucket, `n_buckets - 1`, as `f32`.
    last: f32,
    levels: u32,
    /// Number of cuts.
    len: u32,
    /// Where the feature's bucket table starts in [`Cuts::bucket_base`].
    table: u32,
    /// Where the feature's cuts start in [`Cuts::window`].
    start: u32,
}

impl Buckets {
    /// The bucket of `x`: monotone in `x` (see the module docs). The table is built with this
    /// function and the portable search runs it; the AVX2 search runs the same operations in
    /// lanes (`max(t, 0)` also maps a NaN to 0 there).
    #[inline(always)]
    fn of(&self, x: f32) -> usize {
        let t = (x - self.min) * self.scale;
        // Clamped by comparisons (a NaN, which no checked input gives, becomes 0).
        let t = if t >= 0.0 { t } else { 0.0 };
        let t = if t <= self.last { t } else { self.last };
        // SAFETY: `t` is a number in `[0, last]`, `last < 2^16`: it fits `u32` exactly.
        unsafe { t.to_int_unchecked::<u32>() as usize }
    }

    /// Builds the search over `cuts` (sorted, distinct, finite, at most 65,535): the fewest
    /// buckets (from the cuts rounded up to a power of two, doubling) that put at most
    /// [`BUCKET_WINDOW`] cuts in any bucket, within [`MAX_BUCKETS_PER_CUT`] and
    /// [`MAX_BUCKETS`]; appends its table and window.
    fn build(cuts: &[f32], bucket_base: &mut Vec<u32>, window: &mut Vec<f32>) -> Option<Buckets> {
        let start = u32::try_from(window.len()).ok()?;
        let table = u32::try_from(bucket_base.len()).ok()?;
        let single = Buckets {
            min: 0.0,
            scale: 0.0,
            last: 0.0,
            levels: 0,
            len: cuts.len() as u32,
            table,
            start,
        };
        // One bucket: every cut shares it.
        let mut best = single;
        if cuts.len() > BUCKET_WINDOW {
            let (min, max) = (cuts[0], cuts[cuts.len() - 1]);
            let p = cuts.len().next_power_of_two();
            let mut nb = p;
            while nb <= (p * MAX_BUCKETS_PER_CUT).min(MAX_BUCKETS) {
                let scale = nb as f32 / (max - min);
                if !(scale.is_finite() && scale > 0.0) {
                    break;
                }
                let b = Buckets {
                    min,
                    scale,
                    last: (nb - 1) as f32,
                    ..single
                };
                best = b;
                // The cuts are sorted and buckets never decrease along them: the fullest
                // bucket is the longest run of equal buckets.
                let (mut widest, mut run, mut prev) = (0, 0, usize::MAX);
                for &c in cuts {
                    let k = b.of(c);
                    run = if k == prev { run + 1 } else { 1 };
                    prev = k;
                    widest = widest.max(run);
                }
                if widest <= BUCKET_WINDOW {
                    break;
                }
                nb *= 2;
            }
        }
        let n_buckets = best.last as usize + 1;
        // `lo[k]`: cuts in buckets below `k`.
        let mut lo = vec![0u32; n_buckets + 1];
        for &c in cuts {
            lo[best.of(c) + 1] += 1;
        }
        for k in 0..n_buckets {
            lo[k + 1] += lo[k];
        }
        let mut b = best;
        let widest = lo.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0) as usize;
        // The fewest levels whose window, `2^levels - 1` cuts, holds the widest bucket.
        b.levels = (widest + 1).next_power_of_two().trailing_zeros();
        bucket_base.extend(lo[..n_buckets].iter().map(|&l| start + l));
        window.extend_from_slice(cuts);
        window.extend(std::iter::repeat_n(f32::INFINITY, (1 << b.levels) - 1));
        u32::try_from(window.len()).ok()?;
        Some(b)
    }
}

/// How a feature's codes are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Width {
    /// One bit: the feature has at most one cut (one-hot and yes/no columns), so a split on it
    /// is one AND of 64 rows' bits with the node's row word, no compare.
    Bit,
    /// One byte: at most 255 cuts.
    Byte,
    /// Two bytes: at most 65,535 cuts.
    Two,
}

impl Cuts {
    /// The cuts of the split nodes of the kernel's layout `nodes` (those at the walk
    /// positions where `is_split` holds), with each split node's code at its walk position
    /// (0 elsewhere); `force_wide` gives every feature two-byte codes (tests). `None` when a
    /// feature has more than 65,535 distinct thresholds (its codes would not fit `u16`).
    pub(crate) fn new(
        nodes: &[WalkNode],
        is_split: impl Fn(usize) -> bool,
        n_features: usize,
        force_wide: bool,
    ) -> Option<Cuts> {
        let splits = || nodes.iter().enumerate().filter(|&(w, _)| is_split(w));
        let mut per_feature = vec![Vec::new(); n_features];
        for (_, nd) in splits() {
            if !nd.threshold.is_nan() {
                per_feature.get_mut(nd.feature as usize)?.push(nd.threshold);
            }
        }
        for cuts in &mut per_feature {
            cuts.sort_by(f32::total_cmp);
            // `==` also merges -0.0 with 0.0, which every comparison treats alike.
            cuts.dedup();
            if cuts.len() > usize::from(u16::MAX) {
                return None;
            }
        }
        let mut out = Cuts::from_per_feature(&per_feature)?;
        if force_wide {
            out.width.fill(Width::Two);
        }
        out.node_code = vec![0; nodes.len()];
        for (w, nd) in splits() {
            out.node_code[w] = if nd.threshold.is_nan() {
                u16::MAX
            } else {
                let cuts = &per_feature[nd.feature as usize];
                // At most 65,535 cuts (checked above): the position fits.
                cuts.partition_point(|&c| c < nd.threshold) as u16
            };
        }
        Some(out)
    }

    /// The cuts of each feature (sorted, distinct, no NaN, at most 65,535 each) with their
    /// search tables, and no node codes; `None` if the tables outgrow `u32` offsets.
    pub(super) fn from_per_feature(per_feature: &[Vec<f32>]) -> Option<Cuts> {
        let mut c = Cuts::default();
        for cuts in per_feature {
            c.width.push(match cuts.len() {
                0 | 1 => Width::Bit,
                2..=255 => Width::Byte,
                _ => Width::Two,
            });
            let p = (cuts.len() + 1).next_power_of_two();
            let m = p.trailing_zeros();
            let at = |i: usize| cuts.get(i).copied().unwrap_or(f32::INFINITY);
            c.table_off.push(u32::try_from(c.table.len()).ok()?);
            c.bits.push(m as u8);
            c.table.extend((0..p).map(at));
            let mut reg = [f32::INFINITY; REG_FLOATS];
            for level in 1..=m.min(REG_LEVELS) {
                for q in 0..1usize << level {
                    reg[REG_LEVEL_AT[level as usize] + q] = at(((q + 1) << (m - level)) - 1);
                }
            }
            c.reg.push(reg);
            let b = Buckets::build(cuts, &mut c.bucket_base, &mut c.window)?;
            c.buckets.push(b);
        }
        Some(c)
    }

    /// The code of `x` for feature `j` by its bucketed search (see [`Buckets`]).
    #[cfg(test)]
    pub(super) fn code_bucketed(&self, j: usize, x: f32) -> usize {
        let b = &self.buckets[j];
        search(b, &self.bucket_base[b.table as usize..], &self.window, x)
    }

    /// Feature `f`'s cuts: sorted, distinct, no NaN (tests).
    #[cfg(test)]
    fn of_feature(&self, f: usize) -> &[f32] {
        let b = &self.buckets[f];
        &self.window[b.start as usize..][..b.len as usize]
    }

    /// Codes of the block `xb` (row-major, `n_features` wide), column-major with `np`
    /// positions per column: position `i` holds the code of row `order[i]`, positions past
    /// `order` keep code 0.
    pub(super) fn quantize(
        &self,
        isa: Supported,
        xb: &[f32],
        order: &[u32],
        n_features: usize,
        np: usize,
    ) -> Codes {
        let mut codes = Codes::new(&self.width, np, Layout::of(isa));
        codes.wide_small = self
            .buckets
            .iter()
            .zip(&self.width)
            .all(|(b, w)| *w != Width::Two || b.len < 0x8000);
        let n = xb.len() / n_features;
        assert!(order.len() <= np && order.iter().all(|&r| (r as usize) < n));
        assert_eq!(self.bits.len(), n_features);
        match isa.get() {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: a `Supported` level is one this CPU was checked to run, and AVX-512
            // includes POPCNT (`Isa::is_supported`); the shapes were asserted above.
            Isa::Avx512 => unsafe {
                avx512::quantize(self, xb, order, n_features, &mut codes);
            },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as above, for AVX2.
            Isa::Avx2 => unsafe {
                avx2::quantize(self, xb, order, n_features, &mut codes);
            },
            _ => self.quantize_portable(xb, order, n_features, &mut codes),
        }
        codes
    }

    /// [`Cuts::quantize`] one value at a time, 64 positions at a time and one feature at a
    /// time within them (the 64 rows stay in L1, and each feature's search constants in
    /// registers): a one-bit feature's code is a compare with its cut, gathered into the
    /// position's word; the other features run their bucketed searches
    /// ([`Cuts::code_bucketed`]), stored in `codes`' layout.
    fn quantize_portable(&self, xb: &[f32], order: &[u32], n_features: usize, codes: &mut Codes) {
        let layout = codes.layout;
        let (narrow_bias, wide_bias) = (layout.narrow_bias(), layout.wide_bias());
        let mut rows = [0usize; 64];
        for (w, chunk) in order.chunks(64).enumerate() {
            prefetch_rows(xb, order.get(64 * (w + 1)..).unwrap_or(&[]), n_features, 64);
            for (o, &r) in rows.iter_mut().zip(chunk) {
                *o = r as usize * n_features;
            }
            let rows = &rows[..chunk.len()];
            for (j, b) in self.buckets.iter().enumerate().take(n_features) {
                let table = &self.bucket_base[b.table as usize..];
                let code = |x: f32| search(b, table, &self.window, x);
                match codes.column[j] {
                    Column::Bit(o) => {
                        // A one-bit feature without cuts keeps code 0.
                        if b.len == 1 {
                            let cut = self.window[b.start as usize];
                            let mut word = 0u64;
                            for (k, &r) in rows.iter().enumerate() {
                                word |= u64::from(xb[r + j] > cut) << k;
                            }
                            codes.bit[o + w] = word;
                        }
                    }
                    Column::Narrow(o) => {
                        let col = &mut codes.narrow[o + 64 * w..][..rows.len()];
                        for (c, &r) in col.iter_mut().zip(rows) {
                            // At most 255 cuts: the code fits.
                            *c = code(xb[r + j]) as u8 ^ narrow_bias;
                        }
                    }
                    Column::Wide(o) => {
                        for (k, &r) in rows.iter().enumerate() {
                            let slot = o + layout.wide_slot(64 * w + k);
                            codes.wide[slot] = code(xb[r + j]) as u16 ^ wide_bias;
                        }
                    }
                }
            }
        }
    }

    /// The binary search of [`code_of`] over feature `j`'s cuts (tests: the reference).
    #[cfg(test)]
    fn code_reference(&self, j: usize, x: f32) -> usize {
        code_of(self.of_feature(j), x)
    }
}

/// Asks the cache for the first `count` rows of `next` (row-major `xb`, `n_features` wide):
/// the rows come in the first tree's leaf order, scattered over the block, so their first
/// loads miss, and the long search chains between them keep the out-of-order window from
/// reaching ahead. A hint only (x86-64; nothing elsewhere).
#[inline(always)]
fn prefetch_rows(xb: &[f32], next: &[u32], n_features: usize, count: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        let row_bytes = 4 * n_features;
        for &r in next.iter().take(count) {
            let row = xb
                .as_ptr()
                .wrapping_add(r as usize * n_features)
                .cast::<i8>();
            for line in (0..row_bytes).step_by(64).chain([row_bytes - 1]) {
                // SAFETY: SSE is part of the x86-64 baseline, and a prefetch never faults,
                // whatever the address.
                unsafe { _mm_prefetch::<_MM_HINT_T0>(row.wrapping_add(line)) };
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (xb, next, n_features, count);
}

/// The bucketed search of `x` (see [`Buckets`]): `table` is the feature's bucket table,
/// `window` every feature's cuts and padding.
#[inline(always)]
fn search(b: &Buckets, table: &[u32], window: &[f32], x: f32) -> usize {
    let mut base = table[b.of(x)] as usize;
    for level in (0..b.levels).rev() {
        let step = 1usize << level;
        base += std::hint::select_unpredictable(window[base + step - 1] < x, step, 0);
    }
    base - b.start as usize
}

/// One block's codes, column-major: feature `f`'s column holds `np` codes of its
/// [`Width`]: one bit (a one-hot column of the UCI forest: 2.6 KB per 21,150 rows, and a
/// split reads one word per 64 rows), one byte or two bytes (a split reads 64 or 128 bytes
/// per 64 rows).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Codes {
    pub(super) np: usize,
    pub(super) bit: Vec<u64>,
    pub(super) narrow: Vec<u8>,
    pub(super) wide: Vec<u16>,
    pub(super) column: Vec<Column>,
    /// How the one- and two-byte codes are stored, for the split loops of the instruction
    /// set that reads them.
    pub(super) layout: Layout,
    /// Every two-byte code is below 2^15 (no two-byte feature has 32,768 cuts or more).
    pub(super) wide_small: bool,
}

/// How a block's one- and two-byte codes are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    /// As they are (AVX-512's unsigned compares).
    Plain,
    /// One-byte codes as they are; each 16 two-byte codes transposed as a 4 × 4 block (slot
    /// `4 m + k` holds code `4 k + m`), so that the portable loop's four `u64`s of lanes
    /// gather into position order with one multiply (see `bits::word_above_u16`).
    Strided,
    /// With their top bit flipped, so that SSE2's signed compares order them as unsigned
    /// (the node's code is flipped once per node instead of every code once per split).
    Biased,
    /// Biased, and each 32 two-byte codes stored as groups of 8 in the order 0, 2, 1, 3:
    /// AVX2's `packs` of two 16-lane compares then leaves the 32 results in position order,
    /// ready for `movemask` without a lane-crossing permutation.
    BiasedSwizzled,
}

impl Layout {
    /// The layout `isa`'s split loops read.
    pub(crate) fn of(isa: Supported) -> Layout {
        match isa.get() {
            Isa::Portable => Layout::Strided,
            Isa::Sse2 => Layout::Biased,
            Isa::Avx2 => Layout::BiasedSwizzled,
            _ => Layout::Plain,
        }
    }

    /// Where position `i`'s two-byte code is stored (an involution).
    #[inline(always)]
    pub(crate) fn wide_slot(self, i: usize) -> usize {
        match self {
            Layout::BiasedSwizzled => {
                // Groups 1 and 2 of each 32 trade places: flip bits 3 and 4 when they differ.
                let g = (i >> 3) & 3;
                if g == 1 || g == 2 { i ^ 0b11_000 } else { i }
            }
            // Bits 0-1 and 2-3 trade places.
            Layout::Strided => (i & !0xF) | (i & 3) << 2 | (i >> 2) & 3,
            _ => i,
        }
    }

    fn biased(self) -> bool {
        matches!(self, Layout::Biased | Layout::BiasedSwizzled)
    }

    /// What one-byte codes are XORed with when stored.
    pub(crate) fn narrow_bias(self) -> u8 {
        if self.biased() { 0x80 } else { 0 }
    }

    /// What two-byte codes are XORed with when stored.
    pub(crate) fn wide_bias(self) -> u16 {
        if self.biased() { 0x8000 } else { 0 }
    }
}

/// Where a feature's codes start: a word of [`Codes::bit`], or a code of [`Codes::narrow`]
/// or [`Codes::wide`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Column {
    Bit(usize),
    Narrow(usize),
    Wide(usize),
}

impl Codes {
    /// All-zero columns of `np` codes (a multiple of 64) of each feature's width.
    fn new(width: &[Width], np: usize, layout: Layout) -> Codes {
        let words = np / 64;
        let (mut n_bit, mut n_narrow, mut n_wide) = (0, 0, 0);
        let column = width
            .iter()
            .map(|w| match w {
                Width::Bit => {
                    n_bit += 1;
                    Column::Bit((n_bit - 1) * words)
                }
                Width::Byte => {
                    n_narrow += 1;
                    Column::Narrow((n_narrow - 1) * np)
                }
                Width::Two => {
                    n_wide += 1;
                    Column::Wide((n_wide - 1) * np)
                }
            })
            .collect();
        Codes {
            np,
            bit: vec![0; n_bit * words],
            narrow: vec![0; n_narrow * np],
            wide: vec![0; n_wide * np],
            column,
            layout,
            wide_small: false,
        }
    }

    /// Feature `j`'s code at position `i`, whatever the layout.
    #[cfg(test)]
    pub(super) fn get(&self, j: usize, i: usize) -> u16 {
        match self.column[j] {
            Column::Bit(o) => (self.bit[o + i / 64] >> (i % 64) & 1) as u16,
            Column::Narrow(o) => u16::from(self.narrow[o + i] ^ self.layout.narrow_bias()),
            Column::Wide(o) => self.wide[o + self.layout.wide_slot(i)] ^ self.layout.wide_bias(),
        }
    }

    /// Every feature's codes at positions `0..n`, whatever the layout (tests compare
    /// layouts with it).
    #[cfg(test)]
    pub(super) fn plain(&self, n: usize) -> Vec<Vec<u16>> {
        (0..self.column.len())
            .map(|j| (0..n).map(|i| self.get(j, i)).collect())
            .collect()
    }
}

/// How many of the sorted `cuts` are below `x` (`cuts.partition_point(|c| c < x)`), by a
/// binary search whose steps depend only on `cuts.len()`: no mispredicted branch (tests: the
/// reference).
#[cfg(test)]
fn code_of(cuts: &[f32], x: f32) -> usize {
    let mut n = cuts.len();
    if n == 0 {
        return 0;
    }
    let mut base = 0usize;
    while n > 1 {
        let half = n / 2;
        base = std::hint::select_unpredictable(cuts[base + half - 1] < x, base + half, base);
        n -= half;
    }
    base + usize::from(cuts[base] < x)
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    use super::{Codes, Column, Cuts, REG_FLOATS, REG_LEVEL_AT, REG_LEVELS};

    /// [`Cuts::quantize`], 16 positions per lane group: their rows are loaded and transposed
    /// in registers ([`transpose16`]), so each feature's 16 values sit in one register, and
    /// a binary search runs in all 16 lanes at once. Its first seven levels read their probes
    /// from registers ([`probe_in_registers`]), deeper levels gather from the feature's
    /// table; the codes are narrowed and stored 16 at a time.
    ///
    /// Measured on the UCI batch (docs/benchmarks-history.md): Zen 4 gathers fetch about one element
    /// per cycle, so every level moved from gathers to permutations paid; a row-at-a-time
    /// 16-way search without gathers was slower (its dependent load-compare-count chains did
    /// not overlap enough).
    ///
    /// # Safety
    /// The CPU must support AVX-512F, AVX-512BW, AVX-512VL and POPCNT; `codes` must have
    /// `n_features` columns of at least `order.len()` codes, and every entry of `order` must
    /// be a row of `xb`.
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,popcnt")]
    pub(super) unsafe fn quantize(
        cuts: &Cuts,
        xb: &[f32],
        order: &[u32],
        n_features: usize,
        codes: &mut Codes,
    ) {
        assert!(cuts.bits.len() == n_features && codes.column.len() == n_features);
        let np = codes.np;
        let n = order.len().min(np);
        let one = _mm512_set1_epi32(1);
        assert!(xb.len() >= n_features * order.iter().map(|&r| r as usize + 1).max().unwrap_or(0));
        // Four tiles of 16 positions at a time: all are transposed into `xt`, then each
        // feature's four searches run side by side (independent chains of dependent levels,
        // so their latencies overlap: UCI batch 3.63 -> 3.30 ms with two, 3.25 ms with four).
        const G: usize = 4;
        let mut xt = vec![_mm512_setzero_ps(); G * n_features];
        for p0 in (0..n).step_by(16 * G) {
            let mut masks = [0 as __mmask16; G];
            for (g, m) in masks.iter_mut().enumerate() {
                let i0 = p0 + 16 * g;
                if i0 >= n {
                    continue;
                }
                let live = (n - i0).min(16);
                *m = if live == 16 { !0 } else { (1u16 << live) - 1 };
                // Lanes past the block repeat its last row (their codes are not stored).
                let rows: [usize; 16] =
                    std::array::from_fn(|l| order[i0 + l.min(live - 1)] as usize);
                for c0 in (0..n_features).step_by(16) {
                    let cols = (n_features - c0).min(16);
                    let cm: __mmask16 = if cols == 16 { !0 } else { (1u16 << cols) - 1 };
                    // The 16 rows' values of features `c0..c0 + cols`, transposed so that
                    // register `jj` holds feature `c0 + jj` of the 16 rows.
                    let mut t: [__m512; 16] = std::array::from_fn(|l| {
                        // SAFETY: the `cols` loaded values of row `rows[l]` are in `xb`
                        // (asserted above); masked-off lanes read nothing.
                        unsafe {
                            _mm512_maskz_loadu_ps(cm, xb.as_ptr().add(rows[l] * n_features + c0))
                        }
                    });
                    // SAFETY: the CPU supports AVX-512F (this function's contract).
                    unsafe { transpose16(&mut t) };
                    for (jj, &v) in t.iter().enumerate().take(cols) {
                        xt[G * (c0 + jj) + g] = v;
                    }
                }
            }
            for j in 0..n_features {
                let bits = u32::from(cuts.bits[j]);
                let table = &cuts.table[cuts.table_off[j] as usize..][..1 << bits];
                let x: [__m512; G] = std::array::from_fn(|g| xt[G * j + g]);
                let mut base = [_mm512_setzero_si512(); G];
                for level in 1..=bits {
                    let step = _mm512_set1_epi32(1 << (bits - level));
                    for g in 0..G {
                        let next = _mm512_add_epi32(base[g], step);
                        let probe = if level <= REG_LEVELS {
                            let shift = _mm512_set1_epi32((bits - level) as i32);
                            let q = _mm512_sub_epi32(_mm512_srlv_epi32(next, shift), one);
                            // SAFETY: the CPU supports AVX-512F (this function's contract).
                            unsafe { probe_in_registers(&cuts.reg[j], level, q) }
                        } else {
                            // SAFETY: `base + step - 1 < 2^bits = table.len()` in every lane.
                            unsafe {
                                _mm512_i32gather_ps::<4>(
                                    _mm512_sub_epi32(next, one),
                                    table.as_ptr().cast(),
                                )
                            }
                        };
                        let below = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(probe, x[g]);
                        base[g] = _mm512_mask_mov_epi32(base[g], below, next);
                    }
                }
                for g in 0..G {
                    let (i0, m) = (p0 + 16 * g, masks[g]);
                    if m == 0 {
                        continue;
                    }
                    let live = m.count_ones() as usize;
                    let base = base[g];
                    match codes.column[j] {
                        Column::Bit(o) => {
                            // Positions `i0..i0 + 16` are bits `i0 % 64..` of one word (`i0`
                            // is a multiple of 16).
                            let zero = _mm512_setzero_si512();
                            let set = _mm512_mask_cmpgt_epu32_mask(m, base, zero);
                            codes.bit[o + i0 / 64] |= u64::from(set) << (i0 % 64);
                        }
                        Column::Narrow(o) => {
                            let col = &mut codes.narrow[o..o + np];
                            assert!(i0 + live <= col.len());
                            // SAFETY: only the `live` bytes from `i0` are stored (asserted in
                            // bounds).
                            unsafe {
                                _mm_mask_storeu_epi8(
                                    col.as_mut_ptr().add(i0).cast(),
                                    m,
                                    _mm512_cvtepi32_epi8(base),
                                );
                            }
                        }
                        Column::Wide(o) => {
                            let col = &mut codes.wide[o..o + np];
                            assert!(i0 + live <= col.len());
                            // SAFETY: only the `live` codes from `i0` are stored (asserted in
                            // bounds).
                            unsafe {
                                _mm256_mask_storeu_epi16(
                                    col.as_mut_ptr().add(i0).cast(),
                                    m,
                                    _mm512_cvtepi32_epi16(base),
                                );
                            }
                        }
                    }
                }
            }
        }
    }

    /// Transposes a 16 × 16 block of f32 in registers: afterwards `r[j]` lane `l` is what
    /// `r[l]` lane `j` was. Four rounds of 16 shuffles (pairs of lanes, then of pairs, then
    /// of 128-bit quarters twice).
    ///
    /// # Safety
    /// The CPU must support AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn transpose16(r: &mut [__m512; 16]) {
        let mut t = [_mm512_setzero_ps(); 16];
        for i in 0..8 {
            t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
            t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
        }
        for i in 0..4 {
            let (a, b, c, d) = (t[4 * i], t[4 * i + 1], t[4 * i + 2], t[4 * i + 3]);
            r[4 * i] = _mm512_shuffle_ps::<0x44>(a, c);
            r[4 * i + 1] = _mm512_shuffle_ps::<0xEE>(a, c);
            r[4 * i + 2] = _mm512_shuffle_ps::<0x44>(b, d);
            r[4 * i + 3] = _mm512_shuffle_ps::<0xEE>(b, d);
        }
        for i in 0..2 {
            for k in 0..4 {
                let (a, b) = (r[8 * i + k], r[8 * i + 4 + k]);
                t[8 * i + k] = _mm512_shuffle_f32x4::<0x88>(a, b);
                t[8 * i + 4 + k] = _mm512_shuffle_f32x4::<0xDD>(a, b);
            }
        }
        for k in 0..8 {
            r[k] = _mm512_shuffle_f32x4::<0x88>(t[k], t[8 + k]);
            r[8 + k] = _mm512_shuffle_f32x4::<0xDD>(t[k], t[8 + k]);
        }
    }

    /// Probe `q` (per lane, below `2^level`) of search level `level` (1 to 7) from `reg`:
    /// one permutation of one register up to level 4, of two at level 5, then a blend of two
    /// or four such permutations by the index's high bits.
    ///
    /// # Safety
    /// The CPU must support AVX-512F.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn probe_in_registers(reg: &[f32; REG_FLOATS], level: u32, q: __m512i) -> __m512 {
        let at = REG_LEVEL_AT[level.min(REG_LEVELS) as usize];
        let r = |k: usize| {
            let v = &reg[at + 16 * k..at + 16 * k + 16];
            // SAFETY: `v` holds 16 f32s.
            unsafe { _mm512_loadu_ps(v.as_ptr()) }
        };
        match level {
            0..=4 => _mm512_permutexvar_ps(q, r(0)),
            5 => _mm512_permutex2var_ps(r(0), q, r(1)),
            6 => {
                let hi = _mm512_test_epi32_mask(q, _mm512_set1_epi32(32));
                let a = _mm512_permutex2var_ps(r(0), q, r(1));
                let b = _mm512_permutex2var_ps(r(2), q, r(3));
                _mm512_mask_blend_ps(hi, a, b)
            }
            _ => {
                let b5 = _mm512_test_epi32_mask(q, _mm512_set1_epi32(32));
                let b6 = _mm512_test_epi32_mask(q, _mm512_set1_epi32(64));
                let a = _mm512_mask_blend_ps(
                    b5,
                    _mm512_permutex2var_ps(r(0), q, r(1)),
                    _mm512_permutex2var_ps(r(2), q, r(3)),
                );
                let b = _mm512_mask_blend_ps(
                    b5,
                    _mm512_permutex2var_ps(r(4), q, r(5)),
                    _mm512_permutex2var_ps(r(6), q, r(7)),
                );
                _mm512_mask_blend_ps(b6, a, b)
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use super::{Codes, Column, Cuts, Layout};

    /// How far ahead (in positions) [`quantize`] prefetches rows: two tiles.
    const PREFETCH_ROWS: usize = 16;

    /// [`Cuts::quantize`] eight positions at a time: the eight rows' values are loaded and
    /// transposed in registers ([`transpose8`]), eight features at a time, so that each
    /// feature's eight values sit in one register; then each feature's bucketed search runs
    /// in eight lanes (the bucket gathered from its table, one gather per level), and the
    /// codes are narrowed and stored eight at a time, in [`Layout::BiasedSwizzled`]. A
    /// one-bit feature's code is one compare with its cut, stored by `movemask`.
    ///
    /// # Safety
    /// The CPU must support AVX2; `codes` must have `n_features` columns of at least
    /// `order.len()` codes, and every entry of `order` must be a row of `xb`.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn quantize(
        cuts: &Cuts,
        xb: &[f32],
        order: &[u32],
        n_features: usize,
        codes: &mut Codes,
    ) {
        assert!(cuts.buckets.len() == n_features && codes.column.len() == n_features);
        let np = codes.np;
        let n = order.len().min(np);
        assert!(xb.len() >= n_features * order.iter().map(|&r| r as usize + 1).max().unwrap_or(0));
        let (zero, zero_i) = (_mm256_setzero_ps(), _mm256_setzero_si256());
        let lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        for i0 in (0..n).step_by(8) {
            let live = (n - i0).min(8);
            // The rows come in the first tree's leaf order, scattered over the block: their
            // first loads miss the cache, and the long gather chains between tiles keep the
            // out-of-order window from reaching them. Prefetch the rows of the tile after next.
            super::prefetch_rows(
                xb,
                order.get(i0 + PREFETCH_ROWS..).unwrap_or(&[]),
                n_features,
                8,
            );
            // Lanes past the block repeat its last row (their codes are not stored).
            let rows: [usize; 8] = std::array::from_fn(|l| order[i0 + l.min(live - 1)] as usize);
            for c0 in (0..n_features).step_by(8) {
                let cols = (n_features - c0).min(8);
                let load = _mm256_cmpgt_epi32(_mm256_set1_epi32(cols as i32), lane);
                // Register `jj` gets feature `c0 + jj` of the eight rows.
                let mut t: [__m256; 8] = std::array::from_fn(|l| {
                    // SAFETY: the `cols` loaded values of row `rows[l]` are in `xb` (asserted
                    // above); masked-off lanes are not read.
                    unsafe { _mm256_maskload_ps(xb.as_ptr().add(rows[l] * n_features + c0), load) }
                });
                transpose8(&mut t);
                for (jj, &x) in t.iter().enumerate().take(cols) {
                    let j = c0 + jj;
                    let b = &cuts.buckets[j];
                    if let Column::Bit(o) = codes.column[j] {
                        // At most one cut: the code is whether `x` is above it.
                        if b.levels == 0 {
                            continue;
                        }
                        let cut = _mm256_set1_ps(cuts.window[b.start as usize]);
                        let above = _mm256_movemask_ps(_mm256_cmp_ps::<_CMP_LT_OQ>(cut, x)) as u64;
                        let above = above & ((1u64 << live) - 1);
                        // Positions `i0..i0 + 8` are bits `i0 % 64..` of one word.
                        codes.bit[o + i0 / 64] |= above << (i0 % 64);
                        continue;
                    }
                    let mut base = if b.scale == 0.0 {
                        _mm256_set1_epi32(b.start as i32)
                    } else {
                        let t = _mm256_mul_ps(
                            _mm256_sub_ps(x, _mm256_set1_ps(b.min)),
                            _mm256_set1_ps(b.scale),
                        );
                        let t = _mm256_min_ps(_mm256_max_ps(t, zero), _mm256_set1_ps(b.last));
                        let bucket = _mm256_cvttps_epi32(t);
                        let table = &cuts.bucket_base[b.table as usize..];
                        // SAFETY: `bucket` lies in `0..=last`, the feature's buckets, which
                        // its table holds.
                        unsafe { _mm256_i32gather_epi32::<4>(table.as_ptr().cast(), bucket) }
                    };
                    for level in (0..b.levels).rev() {
                        let step = _mm256_set1_epi32(1 << level);
                        let at = _mm256_add_epi32(base, _mm256_set1_epi32((1 << level) - 1));
                        // SAFETY: from any bucket's base, the search reads at most
                        // `2^levels - 1` entries, which the window's padding covers.
                        let probe = unsafe { _mm256_i32gather_ps::<4>(cuts.window.as_ptr(), at) };
                        let below = _mm256_castps_si256(_mm256_cmp_ps::<_CMP_LT_OQ>(probe, x));
                        base = _mm256_add_epi32(base, _mm256_and_si256(below, step));
                    }
                    let code = _mm256_sub_epi32(base, _mm256_set1_epi32(b.start as i32));
                    let code = _mm256_max_epi32(code, zero_i);
                    match codes.column[j] {
                        Column::Narrow(o) => {
                            // Codes below 256: pack to 16 then 8 bits per 128-bit half,
                            // then bring the halves' four bytes together.
                            let w = _mm256_packus_epi32(code, code);
                            let w = _mm256_packus_epi16(w, w);
                            let w = _mm256_permutevar8x32_epi32(
                                w,
                                _mm256_setr_epi32(0, 4, 0, 4, 0, 4, 0, 4),
                            );
                            let bytes = _mm_cvtsi128_si64(_mm256_castsi256_si128(w)) as u64;
                            // Biased for the signed compares (see `Layout`).
                            let bytes = (bytes ^ 0x8080_8080_8080_8080).to_le_bytes();
                            let col = &mut codes.narrow[o + i0..o + np];
                            col[..live].copy_from_slice(&bytes[..live]);
                        }
                        Column::Wide(o) => {
                            let w = _mm256_packus_epi32(code, code);
                            let w = _mm256_permute4x64_epi64::<0b00_00_10_00>(w);
                            // Biased, and stored in the group the swizzle gives (see `Layout`).
                            let w =
                                _mm_xor_si128(_mm256_castsi256_si128(w), _mm_set1_epi16(i16::MIN));
                            let mut halves = [0u16; 8];
                            // SAFETY: `halves` holds 16 bytes.
                            unsafe { _mm_storeu_si128(halves.as_mut_ptr().cast(), w) };
                            let at = o + Layout::BiasedSwizzled.wide_slot(i0);
                            let col = &mut codes.wide[at..o + np];
                            col[..live].copy_from_slice(&halves[..live]);
                        }
                        Column::Bit(_) => {}
                    }
                }
            }
        }
    }

    /// Transposes an 8 × 8 block of f32 in registers: afterwards `r[j]` lane `l` is what
    /// `r[l]` lane `j` was (unpacks, shuffles, then swaps of 128-bit halves).
    #[target_feature(enable = "avx2")]
    #[inline]
    pub(super) fn transpose8(r: &mut [__m256; 8]) {
        let t: [__m256; 8] = std::array::from_fn(|i| {
            let (a, b) = (r[2 * (i / 2)], r[2 * (i / 2) + 1]);
            if i % 2 == 0 {
                _mm256_unpacklo_ps(a, b)
            } else {
                _mm256_unpackhi_ps(a, b)
            }
        });
        let u: [__m256; 8] = std::array::from_fn(|i| {
            // Pairs (t0, t2), (t1, t3) for rows 0..4 and (t4, t6), (t5, t7) for rows 4..8.
            let g = 4 * (i / 4);
            let (a, b) = (t[g + (i % 4) / 2], t[g + 2 + (i % 4) / 2]);
            if i % 2 == 0 {
                _mm256_shuffle_ps::<0x44>(a, b)
            } else {
                _mm256_shuffle_ps::<0xEE>(a, b)
            }
        });
        for k in 0..4 {
            r[k] = _mm256_permute2f128_ps::<0x20>(u[k], u[k + 4]);
            r[k + 4] = _mm256_permute2f128_ps::<0x31>(u[k], u[k + 4]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "x86_64")]
    use crate::isa::Isa;
    use proptest::prelude::*;

    /// The register transpose moves element `(l, j)` to `(j, l)`.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn transpose16_transposes() {
        if !Isa::Avx512.is_supported() {
            return;
        }
        use std::arch::x86_64::*;
        let m: Vec<f32> = (0..256).map(|v| v as f32).collect();
        // SAFETY: AVX-512 is available (checked above); every row holds 16 f32s.
        let out = unsafe {
            let mut r: [__m512; 16] =
                std::array::from_fn(|l| _mm512_loadu_ps(m[16 * l..].as_ptr()));
            avx512::transpose16(&mut r);
            let mut out = vec![0.0f32; 256];
            for (l, v) in r.iter().enumerate() {
                _mm512_storeu_ps(out[16 * l..].as_mut_ptr(), *v);
            }
            out
        };
        for l in 0..16 {
            for j in 0..16 {
                assert_eq!(out[16 * j + l], m[16 * l + j], "({l}, {j})");
            }
        }
    }

    /// The AVX2 register transpose moves element `(l, j)` to `(j, l)`.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn transpose8_transposes() {
        if !Isa::Avx2.is_supported() {
            return;
        }
        use std::arch::x86_64::*;
        let m: Vec<f32> = (0..64).map(|v| v as f32).collect();
        // SAFETY: AVX2 is available (checked above); every row holds 8 f32s.
        let out = unsafe {
            let mut r: [__m256; 8] = std::array::from_fn(|l| _mm256_loadu_ps(m[8 * l..].as_ptr()));
            avx2::transpose8(&mut r);
            let mut out = vec![0.0f32; 64];
            for (l, v) in r.iter().enumerate() {
                _mm256_storeu_ps(out[8 * l..].as_mut_ptr(), *v);
            }
            out
        };
        for l in 0..8 {
            for j in 0..8 {
                assert_eq!(out[8 * j + l], m[8 * l + j], "({l}, {j})");
            }
        }
    }

    /// Cuts of every shape the bucketed search must survive: spread over all finite floats,
    /// clustered a few ulps apart, around zero (both signs and subnormals), or uniform.
    fn awkward_cuts() -> impl Strategy<Value = Vec<f32>> {
        let finite = proptest::num::f32::NORMAL
            | proptest::num::f32::SUBNORMAL
            | proptest::num::f32::ZERO
            | proptest::num::f32::POSITIVE
            | proptest::num::f32::NEGATIVE;
        prop_oneof![
            proptest::collection::vec(finite, 0..300),
            (finite, proptest::collection::vec(1u32..5, 0..300)).prop_map(|(start, gaps)| {
                // Clustered: each cut a few ulps above the last.
                let mut v = start;
                gaps.iter()
                    .map(|&g| {
                        for _ in 0..g {
                            v = v.next_up();
                        }
                        v
                    })
                    .filter(|v| v.is_finite())
                    .collect()
            }),
            proptest::collection::vec(-1e-38f32..1e-38, 0..300),
            proptest::collection::vec(-50.0f32..50.0, 0..2000),
            proptest::collection::vec(
                prop_oneof![-1.0f32..1.0, 1e30f32..3e38, -3e38f32..-1e30],
                0..300
            ),
        ]
        .prop_map(|mut c| {
            c.retain(|v| v.is_finite());
            c.sort_by(f32::total_cmp);
            c.dedup();
            c
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// The bucketed search counts exactly the cuts below a value, on every instruction
        /// set, for awkward cuts and for values at, between and beyond them.
        #[test]
        fn bucketed_codes_are_exact_on_awkward_cuts(
            cuts in awkward_cuts(),
            extra in proptest::collection::vec(proptest::num::f32::NORMAL | proptest::num::f32::SUBNORMAL | proptest::num::f32::ZERO, 0..40),
            seed in 0usize..1000,
        ) {
            // Values: every cut, its neighbours, and the extras (two columns: the cuts are the
            // same for both features, so one is one-byte or two-byte, the other forced wide).
            let mut xs: Vec<f32> = cuts
                .iter()
                .flat_map(|&c| [c, c.next_up(), c.next_down()])
                .chain(extra)
                .chain([f32::MAX, f32::MIN, 0.0, -0.0])
                .filter(|v| v.is_finite())
                .collect();
            let shift = seed % xs.len().max(1);
            xs.rotate_left(shift);
            let per_feature = vec![cuts.clone(), cuts.clone()];
            let mut c = Cuts::from_per_feature(&per_feature).unwrap();
            c.width[1] = Width::Two;
            let f = 2;
            let xb: Vec<f32> = xs.iter().flat_map(|&x| [x, x]).collect();
            let n = xs.len();
            let order: Vec<u32> = (0..n as u32).collect();
            let np = n.div_ceil(64) * 64;
            for &x in &xs {
                let want = cuts.iter().filter(|&&t| t < x).count();
                prop_assert_eq!(c.code_bucketed(0, x), want, "x = {:e}", x);
                prop_assert_eq!(c.code_reference(0, x), want);
            }
            if n > 0 {
                let want = c.quantize(Supported::PORTABLE, &xb, &order, f, np);
                for (i, &x) in xs.iter().enumerate() {
                    let below = cuts.iter().filter(|&&t| t < x).count();
                    prop_assert_eq!(usize::from(want.get(1, i)), below);
                    // The first column is as wide as the cuts need: one bit holds 0 or 1.
                    prop_assert_eq!(usize::from(want.get(0, i)), below);
                }
                for isa in Supported::all() {
                    let got = c.quantize(isa, &xb, &order, f, np);
                    prop_assert_eq!(got.plain(n), want.plain(n), "{:?}", isa);
                }
            }
        }
    }

    proptest! {
        /// The branch-free search counts the cuts below `x`, ties and infinities included.
        #[test]
        fn code_of_counts_the_cuts_below(
            raw in proptest::collection::vec(-5i8..5, 0..40),
            x in -6i8..6,
            inf in proptest::option::of(proptest::bool::ANY),
        ) {
            let mut cuts: Vec<f32> = raw.iter().map(|&c| f32::from(c) / 2.0).collect();
            match inf {
                Some(true) => cuts.push(f32::INFINITY),
                Some(false) => cuts.push(f32::NEG_INFINITY),
                None => {}
            }
            cuts.sort_by(f32::total_cmp);
            cuts.dedup();
            let x = f32::from(x) / 2.0;
            prop_assert_eq!(code_of(&cuts, x), cuts.iter().filter(|&&c| c < x).count());
        }

        /// The vector quantization gives the portable search's codes, in the requested row
        /// order, for both widths: ties, values beyond every cut, tables searched in
        /// registers only and tables that also need gathers (more than 128 cuts).
        #[test]
        fn quantize_matches_scalar(
            raw in proptest::collection::vec(-400i16..400, 19 * 37),
            cut_counts in proptest::collection::vec(
                prop_oneof![0usize..3, 0usize..600],
                19,
            ),
            order in Just((0u32..37).collect::<Vec<_>>()).prop_shuffle(),
            wide in proptest::bool::ANY,
        ) {
            // 19 features: a full block of 16 for the register transpose, then 3.
            let f = 19;
            let xb: Vec<f32> = raw.iter().map(|&v| f32::from(v) / 4.0).collect();
            let per_feature: Vec<Vec<f32>> = cut_counts
                .iter()
                .map(|&c| (0..c).map(|i| i as f32 / 6.0 - 50.0).collect())
                .collect();
            let mut cuts = Cuts::from_per_feature(&per_feature).unwrap();
            if wide {
                cuts.width.fill(Width::Two);
            }
            let np = 64;
            let want = cuts.quantize(Supported::PORTABLE, &xb, &order, f, np);
            for (j, c) in per_feature.iter().enumerate() {
                for (i, &r) in order.iter().enumerate() {
                    let below = c.iter().filter(|&&t| t < xb[r as usize * f + j]).count();
                    prop_assert_eq!(usize::from(want.get(j, i)), below);
                }
            }
            for isa in Supported::all() {
                let got = cuts.quantize(isa, &xb, &order, f, np);
                prop_assert_eq!(got.plain(order.len()), want.plain(order.len()), "{:?}", isa);
            }
        }
    }
}
