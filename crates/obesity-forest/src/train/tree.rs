//! Grows one tree depth-first with an explicit stack, partitioning the node's row indices
//! (and their class data) between two sets of buffers that alternate with the depth. Nodes
//! are numbered in creation order, so a child's index is always larger than its
//! parent's (the loader relies on that to reject cycles).

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::split::{
    MAX_PACKED_CLASSES, NO_BIN, NodeCtx, OrderKeys, Outcome, PACKED_LIMIT, Scratch, Split,
    evaluate, float_split_is_pure, is_sparse, lane, pack, packed_split_is_pure, weight_and_squares,
};
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
    fn clear(&mut self) {
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
    mask: u64,
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
    fn constant_on(&self, rows: &[u32]) -> u64 {
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
    tree: Tree,
    scratch: Scratch,
    pw: Vec<u128>,
    cw: Vec<u32>,
    yw: Vec<(u32, f32)>,
    tmp_rows: Vec<u32>,
    tmp_pw: Vec<u128>,
    tmp_cw: Vec<u32>,
    tmp_yw: Vec<(u32, f32)>,
    /// Zero-sized stand-in for the second payload of unpacked trees.
    no_data: Vec<()>,
    tmp_no_data: Vec<()>,
    /// The tree's bootstrap counts, row weights and in-bag rows (filled by the caller, see
    /// [`Workspace::take_bootstrap`]).
    bootstrap: (Vec<u32>, Vec<f32>, Vec<u32>),
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

/// A node waiting to be grown. Its class totals and the rest of its known-constant bitset
/// live in the stack-shaped arenas of [`grow`] (pushed and popped with the task), so growing
/// a node allocates nothing.
struct Task {
    start: usize,
    end: usize,
    depth: usize,
    /// Parent split node and side (false = left).
    parent: Option<(usize, bool)>,
    /// Class totals of a packed tree (see [`pack`]); 0 otherwise.
    packed_total: u128,
    /// The first word of the known-constant bitset, carried here: with at most 64 features
    /// (the common case) the arena is not touched at all, where a copy of a slice of
    /// run-time length would be a `memcpy` call per node.
    constant: u64,
}

/// Grows a tree on `rows` (the rows with a non-zero weight), with per-row labels and weights.
pub(crate) fn grow<C: BinCode>(
    input: &TreeInput<'_, C>,
    w: &[f32],
    rows: &mut [u32],
    cfg: &TreeConfig,
    rng: &mut ChaCha8Rng,
    ws: &mut Workspace,
) -> Tree {
    let TreeInput {
        binned,
        bits,
        order_keys,
        y,
    } = *input;
    let k = cfg.n_classes;
    let n_features = binned.edges.len();
    let words = n_features.div_ceil(64).max(1);
    let Workspace {
        tree,
        scratch,
        pw,
        cw,
        yw,
        tmp_rows,
        tmp_pw,
        tmp_cw,
        tmp_yw,
        no_data,
        tmp_no_data,
        bootstrap: _,
    } = ws;
    tree.clear();
    let mut features: Vec<usize> = (0..n_features).collect();
    let mut node_best_left = vec![0.0f64; k];
    // The current node's class totals and known-constant features, and the arenas that hold
    // them for the pending tasks (one slice per task, in stack order).
    let mut totals = vec![0.0f64; k];
    let mut constant = vec![0u64; words];
    let mut totals_arena: Vec<f64> = vec![0.0; k];
    let mut constant_arena: Vec<u64> = vec![0; words - 1];
    let w_root: f64 = rows.iter().map(|&r| f64::from(w[r as usize])).sum();
    let packed = cfg.allow_packed
        && k <= MAX_PACKED_CLASSES
        && rows.len() <= PACKED_LIMIT as usize
        && w_root <= f64::from(PACKED_LIMIT)
        && rows.iter().all(|&r| {
            let v = w[r as usize];
            v >= 1.0 && v.fract() == 0.0
        });
    // Classes and weights travel with the rows through every partition (packed into one
    // `u128` when possible), so the split search reads them sequentially instead of
    // gathering by row index.
    pw.clear();
    cw.clear();
    yw.clear();
    no_data.clear();
    if packed {
        let cls_w = |&r: &u32| (y[r as usize], w[r as usize] as u32);
        pw.extend(rows.iter().map(cls_w).map(|(c, w)| pack(c, w)));
        cw.extend(rows.iter().map(cls_w).map(|(c, w)| w << 16 | c));
    } else {
        for &r in rows.iter() {
            totals_arena[y[r as usize] as usize] += f64::from(w[r as usize]);
        }
        yw.extend(rows.iter().map(|&r| (y[r as usize], w[r as usize])));
        no_data.resize(rows.len(), ());
    }
    let packed_root: u128 = pw.iter().sum();
    tmp_rows.resize(rows.len(), 0);
    tmp_pw.resize(pw.len(), 0);
    tmp_cw.resize(cw.len(), 0);
    tmp_yw.resize(yw.len(), (0, 0.0));
    tmp_no_data.resize(no_data.len(), ());
    let mut stack = vec![Task {
        start: 0,
        end: rows.len(),
        depth: 0,
        parent: None,
        packed_total: packed_root,
        constant: 0,
    }];

    while let Some(task) = stack.pop() {
        constant[0] = task.constant;
        if words > 1 {
            let at = constant_arena.len() - (words - 1);
            constant[1..].copy_from_slice(&constant_arena[at..]);
            constant_arena.truncate(at);
        }
        // A packed gini node needs no per-class floats until it becomes a leaf: its weight
        // and impurity come from the integer sums (exact in `f64`, so the same values as
        // from `totals`).
        let packed_gini = packed && cfg.criterion == Criterion::Gini;
        if packed_gini {
            // Filled at the leaf (below).
        } else if packed {
            for (c, t) in totals.iter_mut().enumerate() {
                *t = lane(task.packed_total, c) as f64;
            }
        } else {
            let at = totals_arena.len() - k;
            totals.copy_from_slice(&totals_arena[at..]);
            totals_arena.truncate(at);
        }

        let (start, end) = (task.start, task.end);
        let n = end - start;
        let (w_total, imp) = if packed_gini {
            let (w, sq) = weight_and_squares(task.packed_total);
            let (w, sq) = (w as f64, sq as f64);
            (w, if w > 0.0 { 1.0 - sq / (w * w) } else { 0.0 })
        } else {
            let w_total: f64 = totals.iter().sum();
            (w_total, impurity(cfg.criterion, &totals, w_total))
        };
        let mut best: Option<Split> = None;
        let can_split = task.depth < cfg.max_depth
            && n >= cfg.min_samples_split
            && n >= 2 * cfg.min_samples_leaf
            && imp > 1e-12;
        if can_split {
            // A node's rows live in the primary buffers at even depths and in the `tmp_`
            // ones at odd depths (see `partition`).
            let (rows, pw, cw, yw) = if task.depth % 2 == 0 {
                (&rows[..], &pw[..], &cw[..], &yw[..])
            } else {
                (&tmp_rows[..], &tmp_pw[..], &tmp_cw[..], &tmp_yw[..])
            };
            if bits.mask != 0 {
                constant[0] |= bits.constant_on(&rows[start..end]);
            }
            let node = NodeCtx {
                rows: &rows[start..end],
                yw: if packed { &[] } else { &yw[start..end] },
                totals: if packed { &[] } else { &totals },
                w_total,
                min_leaf: cfg.min_samples_leaf,
                criterion: cfg.criterion,
                pw: if packed { &pw[start..end] } else { &[] },
                cw: if packed { &cw[start..end] } else { &[] },
                packed_total: task.packed_total,
                order_keys,
            };
            // scikit-learn's feature draw: Fisher-Yates without replacement; constant features
            // do not count, and we keep drawing until a valid split exists (up to all).
            // A split that leaves both children pure has the largest score any split can
            // have, and a later feature replaces the best only when strictly better: once one
            // is found the node's split is settled, so the draw stops there (a fifth of all
            // evaluations, on the many tiny nodes near the leaves). Only the RNG stream of
            // later nodes differs from drawing on.
            let mut drawn = 0;
            let mut visited = 0;
            while drawn < n_features && (visited < cfg.mtry || best.is_none()) {
                let j = rng.gen_range(drawn..n_features);
                features.swap(drawn, j);
                let f = features[drawn];
                drawn += 1;
                if constant[f / 64] >> (f % 64) & 1 == 1 {
                    continue;
                }
                match evaluate(binned, f, &node, scratch) {
                    Outcome::Constant => constant[f / 64] |= 1 << (f % 64),
                    Outcome::NoValid => visited += 1,
                    Outcome::Found(s) => {
                        visited += 1;
                        if best.is_none_or(|b| s.proxy > b.proxy) {
                            best = Some(s);
                            let pure = if packed {
                                packed_split_is_pure(s.left_packed, task.packed_total)
                            } else {
                                node_best_left.copy_from_slice(&scratch.left);
                                float_split_is_pure(&scratch.left, &totals)
                            };
                            if pure {
                                break;
                            }
                        }
                    }
                }
            }
        }
        let link = |tree: &mut Tree, child: i32| {
            if let Some((p, right)) = task.parent {
                if right {
                    tree.right[p] = child;
                } else {
                    tree.left[p] = child;
                }
            } else {
                tree.root = child;
            }
        };
        match best {
            None => {
                let leaf = tree.leaf_samples.len();
                if packed_gini {
                    for (c, t) in totals.iter_mut().enumerate() {
                        *t = lane(task.packed_total, c) as f64;
                    }
                }
                for &t in &totals {
                    tree.leaf_proba.push(if w_total > 0.0 {
                        (t / w_total) as f32
                    } else {
                        0.0
                    });
                }
                tree.leaf_impurity.push(imp);
                tree.leaf_weight.push(w_total);
                tree.leaf_samples.push(n as u32);
                tree.depth = tree.depth.max(task.depth as u32);
                link(tree, !(leaf as i32));
            }
            Some(s) => {
                let id = tree.feature.len();
                tree.feature.push(s.feature as u32);
                tree.threshold.push(s.threshold);
                tree.left.push(0);
                tree.right.push(0);
                tree.node_impurity.push(imp);
                tree.node_weight.push(w_total);
                tree.node_samples.push(n as u32);
                link(tree, id as i32);
                let t = RowTest::new(binned, &s, n);
                let r = start..end;
                // A child that will be a leaf never reads its rows (only its count and class
                // totals, which the split already gives): when both will be, the rows stay
                // where they are. That is most of the last splits, which leave two pure
                // children. Checked for packed trees, where purity is exact.
                let leaf_child = |n: usize, t: u128| {
                    let (w, sq) = weight_and_squares(t);
                    task.depth + 1 >= cfg.max_depth
                        || n < cfg.min_samples_split
                        || n < 2 * cfg.min_samples_leaf
                        || sq == w * w
                };
                let both_leaves = packed
                    && leaf_child(s.n_left, s.left_packed)
                    && leaf_child(n - s.n_left, task.packed_total - s.left_packed);
                let n_left = match (packed, task.depth % 2 == 0) {
                    _ if both_leaves => s.n_left,
                    (true, true) => partition(
                        (&rows[r.clone()], &pw[r.clone()], &cw[r.clone()]),
                        (
                            &mut tmp_rows[r.clone()],
                            &mut tmp_pw[r.clone()],
                            &mut tmp_cw[r],
                        ),
                        t,
                    ),
                    (true, false) => partition(
                        (&tmp_rows[r.clone()], &tmp_pw[r.clone()], &tmp_cw[r.clone()]),
                        (&mut rows[r.clone()], &mut pw[r.clone()], &mut cw[r]),
                        t,
                    ),
                    (false, true) => partition(
                        (&rows[r.clone()], &yw[r.clone()], &no_data[r.clone()]),
                        (
                            &mut tmp_rows[r.clone()],
                            &mut tmp_yw[r.clone()],
                            &mut tmp_no_data[r],
                        ),
                        t,
                    ),
                    (false, false) => partition(
                        (
                            &tmp_rows[r.clone()],
                            &tmp_yw[r.clone()],
                            &tmp_no_data[r.clone()],
                        ),
                        (&mut rows[r.clone()], &mut yw[r.clone()], &mut no_data[r]),
                        t,
                    ),
                };
                debug_assert_eq!(n_left, s.n_left);
                let mid = start + n_left;
                // Right child first (popped last): its totals are the parent's minus the left.
                if !packed {
                    for (&t, &l) in totals.iter().zip(&node_best_left) {
                        let r = t - l;
                        totals_arena.push(if r.abs() < 1e-9 { 0.0 } else { r });
                    }
                    totals_arena.extend_from_slice(&node_best_left);
                }
                if words > 1 {
                    constant_arena.extend_from_slice(&constant[1..]);
                    constant_arena.extend_from_slice(&constant[1..]);
                }
                stack.push(Task {
                    start: mid,
                    end,
                    depth: task.depth + 1,
                    parent: Some((id, true)),
                    packed_total: task.packed_total - s.left_packed,
                    constant: constant[0],
                });
                stack.push(Task {
                    start,
                    end: mid,
                    depth: task.depth + 1,
                    parent: Some((id, false)),
                    packed_total: s.left_packed,
                    constant: constant[0],
                });
            }
        }
    }
    tree.clone()
}

/// Which way a row goes at a split: its value against the threshold, or, for a split between
/// histogram bins of a matrix with row-major codes, its code against the last left bin (the
/// same answer on the node's rows, read from the cache line the split search just used).
#[derive(Clone, Copy)]
enum RowTest<'a, C> {
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
    fn new(binned: &'a Binned<C>, s: &Split, n: usize) -> Self {
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
fn partition<A: Copy, B: Copy, C: BinCode>(
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

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;
    use rand::SeedableRng;

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
        };
        let t = fit(&x, &y, &w, &cfg);
        assert!(t.feature.len() > 5);
        assert!(
            t.feature.iter().all(|&f| f != 5),
            "the constant column never splits"
        );
    }
}
