//! The inner loop of the routing kernel: split a node's rows into those going left
//! (`x <= threshold`) and those going right.
//!
//! On x86-64 with AVX-512F (detected at run time, once per model) sixteen rows go per step:
//! one gather of their feature values, one compare into a mask, two compresses and two masked
//! stores. Elsewhere a branch-free scalar loop does the same work. Both produce the same
//! order (left rows and right rows each in input order), so predictions are bit-identical
//! whichever runs.

/// Which implementation [`partition`] uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Isa {
    /// Portable branch-free loop.
    #[default]
    Scalar,
    /// AVX-512F gather / compress (x86-64 only, checked at run time).
    Avx512,
}

impl Isa {
    /// The fastest implementation this CPU supports.
    pub(crate) fn detect() -> Isa {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("popcnt")
            {
                return Isa::Avx512;
            }
        }
        Isa::Scalar
    }
}

/// Writes the rows of `src` with `col[row] <= threshold` to the front of `left`, the others to
/// the front of `right`, each in input order, and returns how many went left.
///
/// `col.len()` must be a power of two; row indices are masked by `col.len() - 1`, so any
/// index stays in bounds (the kernel never passes one that needs the mask).
pub(crate) fn partition(
    isa: Isa,
    src: &[u32],
    col: &[f32],
    threshold: f32,
    left: &mut [u32],
    right: &mut [u32],
) -> usize {
    assert!(col.len().is_power_of_two());
    assert!(left.len() >= src.len() && right.len() >= src.len());
    match isa {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Isa::Avx512` is only produced by `Isa::detect` after the CPU reported
        // AVX-512F; the length requirements were asserted above.
        #[allow(unsafe_code)]
        Isa::Avx512 => unsafe { avx512::partition(src, col, threshold, left, right) },
        _ => scalar(src, col, threshold, left, right),
    }
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
mod avx512 {
    use std::arch::x86_64::*;

    /// AVX-512F version of [`super::scalar`].
    ///
    /// # Safety
    /// The CPU must support AVX-512F; `col.len()` must be a power of two and `left`, `right`
    /// at least as long as `src` (the caller asserts both).
    #[target_feature(enable = "avx512f,popcnt")]
    pub(super) unsafe fn partition(
        src: &[u32],
        col: &[f32],
        threshold: f32,
        left: &mut [u32],
        right: &mut [u32],
    ) -> usize {
        let mask = _mm512_set1_epi32((col.len() - 1) as i32);
        let t = _mm512_set1_ps(threshold);
        let (mut l, mut r) = (0usize, 0usize);
        let mut step = |lanes: __mmask16, idx: __m512i| {
            // In-bounds by construction: every lane index is masked to `col.len() - 1`, and
            // inactive lanes are not read.
            let idx = _mm512_and_si512(idx, mask);
            // SAFETY: see above; gathers only the active lanes.
            let v = unsafe {
                _mm512_mask_i32gather_ps::<4>(_mm512_setzero_ps(), lanes, idx, col.as_ptr())
            };
            let gt = _mm512_mask_cmp_ps_mask::<_CMP_GT_OQ>(lanes, v, t);
            let le = lanes & !gt;
            let (nl, nr) = (le.count_ones() as usize, gt.count_ones() as usize);
            let lv = _mm512_maskz_compress_epi32(le, idx);
            let rv = _mm512_maskz_compress_epi32(gt, idx);
            // SAFETY: the stores write lanes `0..nl` at `left[l..]` and `0..nr` at
            // `right[r..]`; `l + nl` and `r + nr` never exceed the rows consumed so far,
            // which is at most `src.len() <= left.len(), right.len()`.
            unsafe {
                _mm512_mask_storeu_epi32(left.as_mut_ptr().add(l).cast(), low_lanes(nl), lv);
                _mm512_mask_storeu_epi32(right.as_mut_ptr().add(r).cast(), low_lanes(nr), rv);
            }
            l += nl;
            r += nr;
        };
        let mut chunks = src.chunks_exact(16);
        for c in &mut chunks {
            // SAFETY: `c` holds exactly 16 u32s.
            let idx = unsafe { _mm512_loadu_si512(c.as_ptr().cast()) };
            step(0xFFFF, idx);
        }
        let tail = chunks.remainder();
        if !tail.is_empty() {
            let lanes = low_lanes(tail.len());
            // SAFETY: the masked load reads only `tail.len()` lanes of `tail`.
            let idx = unsafe { _mm512_maskz_loadu_epi32(lanes, tail.as_ptr().cast()) };
            step(lanes, idx);
        }
        l
    }

    /// A mask of the lowest `n` lanes (`n <= 16`).
    #[inline(always)]
    fn low_lanes(n: usize) -> __mmask16 {
        ((1u32 << n) - 1) as __mmask16
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// Whatever this CPU runs agrees with the portable loop, tails and masking included.
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
            let a = partition(Isa::Scalar, &rows, col, threshold, &mut l1, &mut r1);
            let b = partition(Isa::detect(), &rows, col, threshold, &mut l2, &mut r2);
            prop_assert_eq!(a, b);
            prop_assert_eq!(&l1[..a], &l2[..b]);
            prop_assert_eq!(&r1[..n - a], &r2[..n - b]);
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
