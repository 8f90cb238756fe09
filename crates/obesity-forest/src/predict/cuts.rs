//! The bitset kernel's codes (see [`super::bits`]): the forest's thresholds collected per
//! feature into sorted "cuts", and a block's values turned into their ranks among them.
//!
//! A row's value `x` of feature `f` becomes its code: how many cuts of `f` are below `x`. A
//! node whose threshold is `cuts[j]` sends a row right exactly when `x > cuts[j]`, that is
//! when `code > j`. The comparison on codes is therefore exact, not an approximation of the
//! one on values, and a code takes one bit for a feature with at most one cut (one-hot
//! features), one byte up to 255 cuts, two bytes up to 65,535.
#![allow(unsafe_code)]

use super::bits::BitsIsa;
use crate::flat::FlatForest;

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
    /// Feature `f`'s cuts are `values[offsets[f]..offsets[f + 1]]`: sorted, distinct, no NaN.
    values: Vec<f32>,
    offsets: Vec<u32>,
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
    /// Cuts of `f`, with node codes laid out for the walk positions the kernel gives its
    /// nodes (per tree, its split nodes in arena order, then its leaves), padded with leaves
    /// to `n_walk`; `force_wide` gives every feature two-byte codes (tests). `None` when a
    /// feature has more than 65,535 distinct thresholds (its codes would not fit `u16`).
    pub(crate) fn new(f: &FlatForest, n_walk: usize, force_wide: bool) -> Option<Cuts> {
        let mut per_feature = vec![Vec::new(); f.n_features];
        for (&feat, &t) in f.feature.iter().zip(&f.threshold) {
            if !t.is_nan() {
                per_feature.get_mut(feat as usize)?.push(t);
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
        out.node_code = Vec::with_capacity(n_walk);
        for t in 0..f.n_trees() {
            for i in f.tree_nodes[t] as usize..f.tree_nodes[t + 1] as usize {
                let thr = f.threshold[i];
                let code = if thr.is_nan() {
                    u16::MAX
                } else {
                    let cuts = &per_feature[f.feature[i] as usize];
                    // At most 65,535 cuts (checked above): the position fits.
                    cuts.partition_point(|&c| c < thr) as u16
                };
                out.node_code.push(code);
            }
            let leaves = (f.tree_leaves[t + 1] - f.tree_leaves[t]) as usize;
            out.node_code.extend(std::iter::repeat_n(0, leaves));
        }
        out.node_code.resize(n_walk, 0);
        Some(out)
    }

    /// The cuts of each feature (sorted, distinct, no NaN, at most 65,535 each) with their
    /// search tables, and no node codes; `None` if the tables outgrow `u32` offsets.
    pub(super) fn from_per_feature(per_feature: &[Vec<f32>]) -> Option<Cuts> {
        let mut c = Cuts {
            offsets: vec![0],
            ..Default::default()
        };
        for cuts in per_feature {
            c.width.push(match cuts.len() {
                0 | 1 => Width::Bit,
                2..=255 => Width::Byte,
                _ => Width::Two,
            });
            c.values.extend_from_slice(cuts);
            c.offsets.push(u32::try_from(c.values.len()).ok()?);
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
        }
        Some(c)
    }

    fn of_feature(&self, f: usize) -> &[f32] {
        &self.values[self.offsets[f] as usize..self.offsets[f + 1] as usize]
    }

    /// Codes of the block `xb` (row-major, `n_features` wide), column-major with `np`
    /// positions per column: position `i` holds the code of row `order[i]`, positions past
    /// `order` keep code 0.
    pub(super) fn quantize(
        &self,
        isa: BitsIsa,
        xb: &[f32],
        order: &[u32],
        n_features: usize,
        np: usize,
    ) -> Codes {
        let mut codes = Codes::new(&self.width, np);
        let n = xb.len() / n_features;
        assert!(order.len() <= np && order.iter().all(|&r| (r as usize) < n));
        assert_eq!(self.bits.len(), n_features);
        match isa {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `BitsIsa::Avx512` comes only from `BitsIsa::detect`, after the CPU
            // reported every feature `avx512::quantize` enables; the shapes were asserted
            // above.
            BitsIsa::Avx512 => unsafe {
                avx512::quantize(self, xb, order, n_features, &mut codes);
            },
            _ => {
                for j in 0..n_features {
                    let c = self.of_feature(j);
                    for (i, &r) in order.iter().enumerate() {
                        codes.set(j, i, code_of(c, xb[r as usize * n_features + j]) as u16);
                    }
                }
            }
        }
        codes
    }
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
    fn new(width: &[Width], np: usize) -> Codes {
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
        }
    }

    /// Sets position `i` of feature `j`'s column, once (the code fits the column's width).
    fn set(&mut self, j: usize, i: usize, code: u16) {
        match self.column[j] {
            Column::Bit(o) => self.bit[o + i / 64] |= u64::from(code != 0) << (i % 64),
            Column::Narrow(o) => self.narrow[o + i] = code as u8,
            Column::Wide(o) => self.wide[o + i] = code,
        }
    }

    /// Feature `j`'s code at position `i`.
    #[cfg(test)]
    pub(super) fn get(&self, j: usize, i: usize) -> u16 {
        match self.column[j] {
            Column::Bit(o) => (self.bit[o + i / 64] >> (i % 64) & 1) as u16,
            Column::Narrow(o) => u16::from(self.narrow[o + i]),
            Column::Wide(o) => self.wide[o + i],
        }
    }
}

/// How many of the sorted `cuts` are below `x` (`cuts.partition_point(|c| c < x)`), by a
/// binary search whose steps depend only on `cuts.len()`: no mispredicted branch.
#[inline]
pub(crate) fn code_of(cuts: &[f32], x: f32) -> usize {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::predict::bits::available;
    use proptest::prelude::*;

    /// The register transpose moves element `(l, j)` to `(j, l)`.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn transpose16_transposes() {
        if !available().contains(&BitsIsa::Avx512) {
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
            let want = cuts.quantize(BitsIsa::Scalar, &xb, &order, f, np);
            for (j, c) in per_feature.iter().enumerate() {
                for (i, &r) in order.iter().enumerate() {
                    let below = c.iter().filter(|&&t| t < xb[r as usize * f + j]).count();
                    prop_assert_eq!(usize::from(want.get(j, i)), below);
                }
            }
            for isa in available() {
                prop_assert_eq!(&cuts.quantize(isa, &xb, &order, f, np), &want);
            }
        }
    }
}
