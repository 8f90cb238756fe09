//! The inner loop of the routing kernel: split a node's rows into those going left
//! (`x <= threshold`) and those going right.
//!
//! On x86-64 with AVX2 (detected at run time, once per model) eight rows go per step: one
//! gather of their feature values, one compare into an 8-bit mask, two permutations from a
//! 256-entry table that pack the rows going each way, two stores. Elsewhere a branch-free
//! scalar loop does the same work. Both produce the same order (left rows and right rows each
//! in input order). Measured on the UCI batch (docs/benchmarks-history.md): AVX2 routes it in about
//! two thirds of the scalar loop's time; an AVX-512 version (16 lanes, native compress) was
//! no faster than AVX2 on Zen 4, whose gathers set the pace, so it was dropped.

#[cfg(target_arch = "x86_64")]
use crate::isa::Isa;
use crate::isa::Supported;

/// Whether `isa` runs the AVX2 loops (AVX2 and AVX-512 do; there is no SSE2 gather).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn avx2(isa: Supported) -> bool {
    isa.get() >= Isa::Avx2
}

/// Writes the rows of `src` with `col[row] <= threshold` to the front of `left`, the others to
/// the front of `right`, each in input order, and returns how many went left (`nl`). Entries of
/// `left` from `nl` and of `right` from `src.len() - nl` up to `src.len()` may be overwritten
/// with scratch values.
///
/// `col.len()` must be a power of two; row indices are masked by `col.len() - 1`, so any
/// index stays in bounds (the kernel never passes one that needs the mask).
pub(crate) fn partition(
    isa: Supported,
    src: &[u32],
    col: &[f32],
    threshold: f32,
    left: &mut [u32],
    right: &mut [u32],
) -> usize {
    assert!(col.len().is_power_of_two());
    assert!(left.len() >= src.len() && right.len() >= src.len());
    #[cfg(target_arch = "x86_64")]
    if avx2(isa) {
        // SAFETY: a `Supported` level of AVX2 or above is one this CPU was checked to run,
        // with POPCNT (`Isa::is_supported`); the length requirements were asserted above.
        #[allow(unsafe_code)]
        return unsafe { x86::partition(src, col, threshold, left, right) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = isa;
    scalar(src, col, threshold, left, right)
}

/// [`partition`] for the root of a tree, whose rows are all the block's rows in order: the
/// values are read contiguously (`values[i]` is row `i`'s), so no gather is needed.
pub(crate) fn partition_dense(
    isa: Supported,
    values: &[f32],
    threshold: f32,
    left: &mut [u32],
    right: &mut [u32],
) -> usize {
    assert!(left.len() >= values.len() && right.len() >= values.len());
    assert!(u32::try_from(values.len()).is_ok());
    #[cfg(target_arch = "x86_64")]
    if avx2(isa) {
        // SAFETY: as in `partition`.
        #[allow(unsafe_code)]
        return unsafe { x86::partition_dense(values, threshold, left, right) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = isa;
    scalar_dense(values, threshold, left, right)
}

fn scalar_dense(values: &[f32], threshold: f32, left: &mut [u32], right: &mut [u32]) -> usize {
    let (mut l, mut r) = (0usize, 0usize);
    for (i, &v) in (0u32..).zip(values) {
        let goes_right = v > threshold;
        left[l] = i;
        right[r] = i;
        l += usize::from(!goes_right);
        r += usize::from(goes_right);
    }
    l
}

fn scalar(src: &[u32], col: &[f32], threshold: f32, left: &mut [u32], right: &mut [u32]) -> usize {
    let m = col.len() - 1;
    let (mut l, mut r) = (0usize, 0usize);
    // Both outputs are written every step and only one cursor advances: no branch on data.
    for &i in src {
        let i = i & m as u32;
        let goes_right = col[i as usize] > threshold;
        left[l] = i;
        right[r] = i;
        l += usize::from(!goes_right);
        r += usize::from(goes_right);
    }
    l
}

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod x86 {
    use std::arch::x86_64::*;

    /// `COMPRESS[m]` lists the lanes whose bit is set in the 8-bit mask `m`, in order (then
    /// zeros): the permutation that packs them to the front, as AVX-512's compress does.
    static COMPRESS: [[u32; 8]; 256] = {
        let mut t = [[0u32; 8]; 256];
        let mut m = 0;
        while m < 256 {
            let mut n = 0;
            let mut lane = 0;
            while lane < 8 {
                if m >> lane & 1 == 1 {
                    t[m][n] = lane as u32;
                    n += 1;
                }
                lane += 1;
            }
            m += 1;
        }
        t
    };

    /// Writes the lanes of `idx` whose bit is clear in the 8-bit mask `gt` packed to
    /// `left[*l..]` and those whose bit is set to `right[*r..]`, in lane order, and advances
    /// both cursors. Both stores write 8 full lanes: the lanes past the packed ones are
    /// scratch, overwritten by later chunks or past the counts the callers return.
    ///
    /// # Safety
    /// The CPU must support AVX2 and POPCNT, and `left[*l..*l + 8]`, `right[*r..*r + 8]` must
    /// be in bounds.
    #[target_feature(enable = "avx2,popcnt")]
    #[inline]
    unsafe fn split_store(
        idx: __m256i,
        gt: usize,
        left: &mut [u32],
        right: &mut [u32],
        l: &mut usize,
        r: &mut usize,
    ) {
        let le = !gt & 0xFF;
        let (pl, pr) = (&COMPRESS[le], &COMPRESS[gt & 0xFF]);
        // SAFETY: `COMPRESS` rows are 8 u32s; the stores are in bounds by the contract.
        unsafe {
            let pl = _mm256_loadu_si256(pl.as_ptr().cast());
            let pr = _mm256_loadu_si256(pr.as_ptr().cast());
            _mm256_storeu_si256(
                left.as_mut_ptr().add(*l).cast(),
                _mm256_permutevar8x32_epi32(idx, pl),
            );
            _mm256_storeu_si256(
                right.as_mut_ptr().add(*r).cast(),
                _mm256_permutevar8x32_epi32(idx, pr),
            );
        }
        *l += le.count_ones() as usize;
        *r += gt.count_ones() as usize;
    }

    /// AVX2 version of [`super::scalar_dense`], eight rows per step.
    ///
    /// # Safety
    /// The CPU must support AVX2 and POPCNT; `left` and `right` at least as long as `values`,
    /// which has fewer than 2^32 entries (the caller asserts both).
    #[target_feature(enable = "avx2,popcnt")]
    pub(super) unsafe fn partition_dense(
        values: &[f32],
        threshold: f32,
        left: &mut [u32],
        right: &mut [u32],
    ) -> usize {
        let t = _mm256_set1_ps(threshold);
        let mut idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        let eight = _mm256_set1_epi32(8);
        let (mut l, mut r) = (0usize, 0usize);
        let mut chunks = values.chunks_exact(8);
        for c in &mut chunks {
            // SAFETY: `c` holds exactly 8 f32s.
            let v = unsafe { _mm256_loadu_ps(c.as_ptr()) };
            let gt = _mm256_movemask_ps(_mm256_cmp_ps::<_CMP_GT_OQ>(v, t)) as usize;
            // SAFETY: as in `partition`: `l, r <=` the rows consumed before this chunk, and
            // 8 more fit in `values.len() <= left.len(), right.len()`.
            unsafe { split_store(idx, gt, left, right, &mut l, &mut r) };
            idx = _mm256_add_epi32(idx, eight);
        }
        let done = values.len() - chunks.remainder().len();
        for (i, &v) in (done as u32..).zip(chunks.remainder()) {
            if v > threshold {
                right[r] = i;
                r += 1;
            } else {
                left[l] = i;
                l += 1;
            }
        }
        l
    }

    /// AVX2 version of [`super::scalar`], eight rows per step.
    ///
    /// # Safety
    /// The CPU must support AVX2 and POPCNT; `col.len()` must be a power of two and `left`,
    /// `right` at least as long as `src` (the caller asserts both).
    #[target_feature(enable = "avx2,popcnt")]
    pub(super) unsafe fn partition(
        src: &[u32],
        col: &[f32],
        threshold: f32,
        left: &mut [u32],
        right: &mut [u32],
    ) -> usize {
        let mask = _mm256_set1_epi32((col.len() - 1) as i32);
        let t = _mm256_set1_ps(threshold);
        let (mut l, mut r) = (0usize, 0usize);
        let mut chunks = src.chunks_exact(8);
        for c in &mut chunks {
            // SAFETY: `c` holds exactly 8 u32s.
            let idx = unsafe { _mm256_loadu_si256(c.as_ptr().cast()) };
            // Masked to `col.len() - 1`: every lane is in bounds.
            let idx = _mm256_and_si256(idx, mask);
            // SAFETY: see above.
            let v = unsafe { _mm256_i32gather_ps::<4>(col.as_ptr(), idx) };
            let gt = _mm256_movemask_ps(_mm256_cmp_ps::<_CMP_GT_OQ>(v, t)) as usize;
            // SAFETY: before this chunk `l, r <= j` rows were consumed, and `j + 8 <=
            // src.len() <= left.len(), right.len()`.
            unsafe { split_store(idx, gt, left, right, &mut l, &mut r) };
        }
        let m = col.len() as u32 - 1;
        for &i in chunks.remainder() {
            let i = i & m;
            if col[i as usize] > threshold {
                right[r] = i;
                r += 1;
            } else {
                left[l] = i;
                l += 1;
            }
        }
        l
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The dense root partition equals the gathering one over rows `0..n`.
        #[test]
        fn dense_matches_gathering(
            vals in proptest::collection::vec(-3.0f32..3.0, 0..100),
            threshold in -3.0f32..3.0,
        ) {
            let n = vals.len();
            let mut col = vals.clone();
            col.resize(n.next_power_of_two().max(1), 0.0);
            let rows: Vec<u32> = (0..n as u32).collect();
            let (mut l1, mut r1, mut l2, mut r2) = (vec![0; n], vec![0; n], vec![0; n], vec![0; n]);
            let a = partition(Supported::PORTABLE, &rows, &col, threshold, &mut l1, &mut r1);
            for isa in Supported::all() {
                let b = partition_dense(isa, &vals, threshold, &mut l2, &mut r2);
                prop_assert_eq!(a, b);
                prop_assert_eq!(&l1[..a], &l2[..b]);
                prop_assert_eq!(&r1[..n - a], &r2[..n - b]);
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// Every implementation this CPU can run agrees with the portable loop, tails and
        /// masking included.
        #[test]
        fn detected_isa_matches_scalar(
            log_len in 0u32..8,
            vals in proptest::collection::vec(-3.0f32..3.0, 256),
            rows in proptest::collection::vec(0u32..1000, 0..100),
            threshold in -3.0f32..3.0,
        ) {
            let col = &vals[..1 << log_len];
            let n = rows.len();
            let (mut l1, mut r1, mut l2, mut r2) = (vec![0; n], vec![0; n], vec![0; n], vec![0; n]);
            let a = partition(Supported::PORTABLE, &rows, col, threshold, &mut l1, &mut r1);
            for isa in Supported::all() {
                let b = partition(isa, &rows, col, threshold, &mut l2, &mut r2);
                prop_assert_eq!(a, b);
                prop_assert_eq!(&l1[..a], &l2[..b]);
                prop_assert_eq!(&r1[..n - a], &r2[..n - b]);
            }
            let m = col.len() as u32 - 1;
            for &i in &l1[..a] {
                prop_assert!(col[i as usize] <= threshold && i <= m);
            }
            for &i in &r1[..n - a] {
                prop_assert!(col[i as usize] > threshold);
            }
        }
    }
}
