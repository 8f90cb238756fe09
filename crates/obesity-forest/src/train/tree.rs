//! One tree: what growing it produces ([`Tree`], in local numbering), what it reads
//! ([`TreeInput`], [`TreeConfig`]) and the buffers it reuses ([`Workspace`]). The growing
//! itself is in `grow.rs`.

use super::split::{OrderKeys, Scratch};
use crate::binning::{BinCode, Binned};
use crate::params::Criterion;

/// One trained tree in local numbering: child `>= 0` is a split node, `< 0` is leaf `!child`.
#[derive(Debug, Default, Clone)]
pub(crate) struct Tree {
    pub(crate) root: i32,
    pub(crate) feature: Vec<u32>,
    pub(crate) threshold: Vec<f32>,
    pub(crate) left: Vec<i32>,
    pub(crate) right: Vec<i32>,
    pub(crate) node_impurity: Vec<f64>,
    pub(crate) node_weight: Vec<f64>,
    pub(crate) node_samples: Vec<u32>,
    pub(crate) leaf_proba: Vec<f32>,
    pub(crate) leaf_impurity: Vec<f64>,
    pub(crate) leaf_weight: Vec<f64>,
    pub(crate) leaf_samples: Vec<u32>,
    pub(crate) depth: u32,
}

impl Tree {
    /// Empties every array, keeping their capacity.
    pub(super) fn clear(&mut self) {
        self.root = 0;
        self.feature.clear();
        self.threshold.clear();
        self.left.clear();
        self.right.clear();
        self.node_impurity.clear();
        self.node_weight.clear();
        self.node_samples.clear();
        self.leaf_proba.clear();
        self.leaf_impurity.clear();
        self.leaf_weight.clear();
        self.leaf_samples.clear();
        self.depth = 0;
    }
}

/// Settings of the tree builder, resolved against the data.
pub(crate) struct TreeConfig {
    pub(crate) n_classes: usize,
    pub(crate) mtry: usize,
    pub(crate) max_depth: usize,
    pub(crate) min_samples_split: usize,
    pub(crate) min_samples_leaf: usize,
    pub(crate) criterion: Criterion,
    pub(crate) max_bins: usize,
    /// Use packed class weights when the data allow it (always in production; tests turn
    /// it off to check that both searches grow the same tree).
    pub(crate) allow_packed: bool,
    /// Let the packed scans use SSE2 (every instruction set but [`Isa::Portable`]; the trees
    /// are the same either way).
    ///
    /// [`Isa::Portable`]: crate::Isa::Portable
    pub(crate) simd: bool,
}

/// Impurity of a node from its class weights (gini, or entropy in bits as scikit-learn).
pub(crate) fn impurity(criterion: Criterion, totals: &[f64], w: f64) -> f64 {
    if w <= 0.0 {
        return 0.0;
    }
    match criterion {
        // One division per node rather than one per class.
        Criterion::Gini => 1.0 - totals.iter().map(|t| t * t).sum::<f64>() / (w * w),
        Criterion::Entropy => -totals
            .iter()
            .filter(|&&t| t > 0.0)
            .map(|&t| (t / w) * (t / w).log2())
            .sum::<f64>(),
    }
}

/// The 2-bin features among the first 64, as one bit per feature and row, so a node learns
/// which of them are constant on its rows from one AND and one OR per row instead of one
/// scan per drawn feature (half of the 2-bin scans on one-hot data found a constant).
pub(crate) struct BinaryBits {
    /// Per row: bit `f` is set when feature `f` is a 2-bin feature and the row is in bin 1.
    rows: Vec<u64>,
    /// Bit `f` is set when feature `f` is a 2-bin feature.
    pub(super) mask: u64,
}

impl BinaryBits {
    pub(crate) fn new<C: BinCode>(binned: &Binned<C>) -> Self {
        let mut rows = vec![0u64; binned.n_rows];
        let mut mask = 0u64;
        for (f, edges) in binned.edges.iter().enumerate().take(64) {
            if edges.len() == 1 {
                mask |= 1 << f;
                for (b, c) in rows.iter_mut().zip(binned.codes(f)) {
                    *b |= (c.idx() as u64) << f;
                }
            }
        }
        BinaryBits { rows, mask }
    }

    /// The 2-bin features that are constant on `rows`.
    pub(super) fn constant_on(&self, rows: &[u32]) -> u64 {
        let (mut all, mut any) = (u64::MAX, 0u64);
        for &r in rows {
            let b = self.rows[r as usize];
            all &= b;
            any |= b;
        }
        (all | !any) & self.mask
    }
}

/// Buffers of the tree builder, reused across the trees that one thread grows (rayon's
/// `map_init`), so a tree costs no allocation beyond its own output. Every buffer is
/// cleared or overwritten before use: nothing of one tree reaches the next.
pub(crate) struct Workspace {
    /// The tree being grown: its arrays keep their capacity from one tree to the next, and
    /// the finished tree leaves as an exact-size copy (`Vec::clone`), instead of each array
    /// growing by doubling (a reallocation and copy per doubling) in every tree.
    pub(super) tree: Tree,
    pub(super) scratch: Scratch,
    pub(super) pw: Vec<u128>,
    pub(super) cw: Vec<u32>,
    pub(super) yw: Vec<(u32, f32)>,
    pub(super) tmp_rows: Vec<u32>,
    pub(super) tmp_pw: Vec<u128>,
    pub(super) tmp_cw: Vec<u32>,
    pub(super) tmp_yw: Vec<(u32, f32)>,
    /// Zero-sized stand-in for the second payload of unpacked trees.
    pub(super) no_data: Vec<()>,
    pub(super) tmp_no_data: Vec<()>,
    /// The tree's bootstrap counts, row weights and in-bag rows (filled by the caller, see
    /// [`Workspace::take_bootstrap`]).
    pub(super) bootstrap: (Vec<u32>, Vec<f32>, Vec<u32>),
}

impl Workspace {
    pub(crate) fn new(cfg: &TreeConfig) -> Self {
        Workspace {
            tree: Tree::default(),
            scratch: Scratch::new(cfg.max_bins, cfg.n_classes),
            pw: Vec::new(),
            cw: Vec::new(),
            yw: Vec::new(),
            tmp_rows: Vec::new(),
            tmp_pw: Vec::new(),
            tmp_cw: Vec::new(),
            tmp_yw: Vec::new(),
            no_data: Vec::new(),
            tmp_no_data: Vec::new(),
            bootstrap: Default::default(),
        }
    }

    /// The bootstrap buffers (counts, weights, in-bag rows), to fill for the next tree and
    /// hand back with [`Workspace::put_bootstrap`].
    pub(crate) fn take_bootstrap(&mut self) -> (Vec<u32>, Vec<f32>, Vec<u32>) {
        std::mem::take(&mut self.bootstrap)
    }

    /// Returns the buffers of [`Workspace::take_bootstrap`] for the next tree.
    pub(crate) fn put_bootstrap(&mut self, buffers: (Vec<u32>, Vec<f32>, Vec<u32>)) {
        self.bootstrap = buffers;
    }
}

/// What every tree of a forest reads: the binned matrix, its 2-bin features as bits, its
/// values' order keys, and the labels.
pub(crate) struct TreeInput<'a, C> {
    pub(crate) binned: &'a Binned<C>,
    pub(crate) bits: &'a BinaryBits,
    pub(crate) order_keys: &'a OrderKeys,
    pub(crate) y: &'a [u32],
}

#[cfg(test)]
mod tests {
    use super::super::grow::grow;
    use super::super::split::OrderKeys;
    use super::*;
    use ndarray::Array2;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Continuous, 2-bin, few-valued and constant columns; labels from a noisy rule.
    fn data(n: usize, k: u32) -> (Array2<f32>, Vec<u32>, Vec<f32>) {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let x = Array2::from_shape_fn((n, 6), |(_, j)| match j {
            0 | 1 => rng.gen_range(-1.0f32..1.0),
            2 | 3 => f32::from(rng.gen_range(0u8..2)),
            4 => f32::from(rng.gen_range(0u8..5)),
            _ => 7.0,
        });
        let y = (0..n)
            .map(|r| {
                let s = x[[r, 0]] + 0.5 * x[[r, 2]] - 0.3 * x[[r, 4]] + rng.gen_range(-0.3..0.3);
                ((s + 2.0) * k as f32 / 4.0).clamp(0.0, (k - 1) as f32) as u32
            })
            .collect();
        // Bootstrap-like integer weights, some rows out of the sample.
        let w = (0..n).map(|_| f32::from(rng.gen_range(0u8..4))).collect();
        (x, y, w)
    }

    fn fit(x: &Array2<f32>, y: &[u32], w: &[f32], cfg: &TreeConfig) -> Tree {
        let binned = Binned::<u8>::new(x.view(), cfg.max_bins);
        let bits = BinaryBits::new(&binned);
        let order_keys = OrderKeys::new(&binned);
        let input = TreeInput {
            binned: &binned,
            bits: &bits,
            order_keys: &order_keys,
            y,
        };
        let mut rows: Vec<u32> = (0..y.len() as u32)
            .filter(|&r| w[r as usize] > 0.0)
            .collect();
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        grow(
            &input,
            w,
            &mut rows,
            cfg,
            &mut rng,
            &mut Workspace::new(cfg),
        )
    }

    #[test]
    fn packed_and_float_searches_grow_the_same_tree() {
        for (k, criterion, min_leaf, max_bins) in [
            (3, Criterion::Gini, 1, 255),
            (7, Criterion::Gini, 3, 16),
            (4, Criterion::Entropy, 1, 255),
            (5, Criterion::Entropy, 2, 32),
        ] {
            let (x, y, w) = data(600, k);
            let mut cfg = TreeConfig {
                n_classes: k as usize,
                mtry: 2,
                max_depth: usize::MAX,
                min_samples_split: 2,
                min_samples_leaf: min_leaf,
                criterion,
                max_bins,
                allow_packed: true,
                simd: true,
            };
            let packed = fit(&x, &y, &w, &cfg);
            cfg.allow_packed = false;
            let float = fit(&x, &y, &w, &cfg);
            assert!(
                packed.feature.len() > 10,
                "a real tree: {}",
                packed.feature.len()
            );
            assert_eq!(packed.feature, float.feature, "{k} {criterion:?}");
            assert_eq!(packed.threshold, float.threshold);
            assert_eq!((packed.left, packed.right), (float.left, float.right));
            assert_eq!(packed.leaf_samples, float.leaf_samples);
            for (a, b) in packed.leaf_proba.iter().zip(&float.leaf_proba) {
                assert!((a - b).abs() < 1e-6);
            }
        }
    }

    #[test]
    fn row_major_codes_grow_the_same_tree() {
        // Large enough that nodes of 129..312 rows are sparse (`is_sparse`) and search their
        // histograms, and partition, through the row-major codes.
        let (x, y, w) = data(20_000, 5);
        for allow_packed in [false, true] {
            let cfg = TreeConfig {
                n_classes: 5,
                mtry: 3,
                max_depth: usize::MAX,
                min_samples_split: 2,
                min_samples_leaf: 1,
                criterion: Criterion::Gini,
                max_bins: 64,
                allow_packed,
                simd: true,
            };
            let binned = Binned::<u8>::new(x.view(), cfg.max_bins);
            let bits = BinaryBits::new(&binned);
            let order_keys = OrderKeys::new(&binned);
            let rows: Vec<u32> = (0..y.len() as u32)
                .filter(|&r| w[r as usize] > 0.0)
                .collect();
            let grow_on = |binned: &Binned<u8>| {
                let input = TreeInput {
                    binned,
                    bits: &bits,
                    order_keys: &order_keys,
                    y: &y,
                };
                let mut rng = ChaCha8Rng::seed_from_u64(11);
                grow(
                    &input,
                    &w,
                    &mut rows.clone(),
                    &cfg,
                    &mut rng,
                    &mut Workspace::new(&cfg),
                )
            };
            let columns = grow_on(&binned);
            let row_major = grow_on(&binned.with_row_codes());
            assert!(
                columns.feature.len() > 100,
                "a real tree: {}",
                columns.feature.len()
            );
            assert_eq!(columns.feature, row_major.feature);
            assert_eq!(columns.threshold, row_major.threshold);
            assert_eq!(
                (columns.left, columns.right),
                (row_major.left, row_major.right)
            );
            assert_eq!(columns.leaf_samples, row_major.leaf_samples);
            assert_eq!(columns.leaf_proba, row_major.leaf_proba);
        }
    }

    #[test]
    fn fractional_weights_use_the_float_search() {
        // Not packable (fractional weights): must still grow a valid tree.
        let (x, y, mut w) = data(300, 3);
        for v in &mut w {
            *v *= 0.5;
        }
        let cfg = TreeConfig {
            n_classes: 3,
            mtry: 6,
            max_depth: usize::MAX,
            min_samples_split: 2,
            min_samples_leaf: 1,
            criterion: Criterion::Gini,
            max_bins: 255,
            allow_packed: true,
            simd: true,
        };
        let t = fit(&x, &y, &w, &cfg);
        assert!(t.feature.len() > 5);
        assert!(
            t.feature.iter().all(|&f| f != 5),
            "the constant column never splits"
        );
    }
}
