//! Moving a split node's rows (and the class data that travels with them) to its children.

use super::split::{NO_BIN, Split, is_sparse};
use crate::binning::{BinCode, Binned};

/// Which way a row goes at a split: its value against the threshold, or, for a split between
/// histogram bins of a matrix with row-major codes, its code against the last left bin (the
/// same answer on the node's rows, read from the cache line the split search just used).
#[derive(Clone, Copy)]
pub(super) enum RowTest<'a, C> {
    Value {
        raw: &'a [f32],
        threshold: f32,
    },
    Code {
        codes: &'a [C],
        stride: usize,
        feature: usize,
        left_bin: usize,
    },
}

impl<'a, C: BinCode> RowTest<'a, C> {
    pub(super) fn new(binned: &'a Binned<C>, s: &Split, n: usize) -> Self {
        match binned.row_codes() {
            Some((codes, stride)) if s.left_bin != NO_BIN && is_sparse(n, binned.n_rows) => {
                RowTest::Code {
                    codes,
                    stride,
                    feature: s.feature,
                    left_bin: s.left_bin as usize,
                }
            }
            _ => RowTest::Value {
                raw: binned.raw(s.feature),
                threshold: s.threshold,
            },
        }
    }

    #[inline(always)]
    fn goes_left(&self, r: u32) -> bool {
        match *self {
            RowTest::Value { raw, threshold } => raw[r as usize] <= threshold,
            RowTest::Code {
                codes,
                stride,
                feature,
                left_bin,
            } => codes[r as usize * stride + feature].idx() <= left_bin,
        }
    }
}

/// Writes the rows of `src` that go left ([`RowTest`]) (and their class data) to the front
/// of `dst` in order, the others to its back in reverse order, and returns how many went
/// left. Source and destination alternate between two sets of buffers with the depth, so
/// nothing is copied back. Branch-free: the comparison picks the slot (front or back of the
/// still unfilled middle of `dst`) with a conditional move, so its coin flip never costs a
/// branch miss. (Writing every row at both ends instead, and letting a later row overwrite
/// the wrong one, needs no select but twice the stores: measured 2% slower overall.)
pub(super) fn partition<A: Copy, B: Copy, C: BinCode>(
    src: (&[u32], &[A], &[B]),
    dst: (&mut [u32], &mut [A], &mut [B]),
    test: RowTest<'_, C>,
) -> usize {
    let n = src.0.len();
    let (sr, sa, sb) = (src.0, &src.1[..n], &src.2[..n]);
    let (dr, da, db) = (&mut dst.0[..n], &mut dst.1[..n], &mut dst.2[..n]);
    let mut nl = 0;
    // Before row `i`, `nl + (n - back) == i`, so `nl <= back - 1`.
    let mut back = n;
    for i in 0..n {
        let (r, a, b) = (sr[i], sa[i], sb[i]);
        let goes_left = test.goes_left(r);
        let at = std::hint::select_unpredictable(goes_left, nl, back - 1);
        dr[at] = r;
        da[at] = a;
        db[at] = b;
        let left = usize::from(goes_left);
        nl += left;
        back -= 1 - left;
    }
    nl
}
