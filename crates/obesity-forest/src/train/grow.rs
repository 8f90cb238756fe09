//! Grows one tree depth-first with an explicit stack of [`Task`]s. Each node goes through the
//! same steps, one function each:
//!
//! 1. [`NodeState::open`]: its known-constant features and class totals come back from the
//!    stack-shaped arenas, and [`NodeState::weight_and_impurity`] scores it;
//! 2. [`find_split`]: scikit-learn's feature draw, each drawn feature evaluated by
//!    [`evaluate`] (in `split/`);
//! 3. [`push_leaf`], or [`push_split`] then [`RowBuffers::partition`] (its rows, with their
//!    class data, move to the other set of buffers, left rows first) and
//!    [`NodeState::push_children`].
//!
//! Nodes are numbered in creation order, so a child's index is always larger than its
//! parent's (the loader relies on that to reject cycles).

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::rows::{RowTest, partition};
use super::split::{
    MAX_PACKED_CLASSES, NodeCtx, Outcome, PACKED_LIMIT, Scratch, Split, evaluate,
    float_split_is_pure, lane, pack, packed_split_is_pure, weight_and_squares,
};
use super::tree::{Tree, TreeConfig, TreeInput, Workspace, impurity};
use crate::binning::BinCode;
use crate::params::Criterion;

/// A node waiting to be grown. Its class totals and the rest of its known-constant bitset
/// live in the stack-shaped arenas of [`NodeState`] (pushed and popped with the task), so
/// growing a node allocates nothing.
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
    let n_features = input.binned.edges.len();
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
    let mut st = NodeState::new(cfg.n_classes, n_features);
    let packed = is_packable(rows, w, cfg);
    let mut bufs = RowBuffers {
        rows,
        pw,
        cw,
        yw,
        no_data,
        tmp_rows,
        tmp_pw,
        tmp_cw,
        tmp_yw,
        tmp_no_data,
    };
    bufs.load(input.y, w, packed, &mut st.totals_arena);
    let mut stack = vec![Task {
        start: 0,
        end: bufs.rows.len(),
        depth: 0,
        parent: None,
        packed_total: bufs.pw.iter().sum(),
        constant: 0,
    }];
    // A packed gini node needs no per-class floats until it becomes a leaf: its weight and
    // impurity come from the integer sums (exact in `f64`, so the same values as from
    // `totals`).
    let packed_gini = packed && cfg.criterion == Criterion::Gini;
    while let Some(task) = stack.pop() {
        st.open(&task, packed, packed_gini);
        let n = task.end - task.start;
        let (w_total, imp) = st.weight_and_impurity(&task, packed_gini, cfg.criterion);
        let can_split = task.depth < cfg.max_depth
            && n >= cfg.min_samples_split
            && n >= 2 * cfg.min_samples_leaf
            && imp > 1e-12;
        let best = if can_split {
            find_split(
                input, &bufs, &task, &mut st, cfg, packed, w_total, scratch, rng,
            )
        } else {
            None
        };
        match best {
            None => {
                if packed_gini {
                    for (c, t) in st.totals.iter_mut().enumerate() {
                        *t = lane(task.packed_total, c) as f64;
                    }
                }
                push_leaf(tree, &task, &st.totals, w_total, imp);
            }
            Some(s) => {
                let id = push_split(tree, &task, &s, w_total, imp);
                let test = RowTest::new(input.binned, &s, n);
                let both_leaves = packed && children_are_leaves(&task, &s, cfg, task.packed_total);
                let n_left = if both_leaves {
                    // A child that will be a leaf never reads its rows (only its count and
                    // class totals, which the split already gives): when both will be, the
                    // rows stay where they are. That is most of the last splits, which leave
                    // two pure children. Checked for packed trees, where purity is exact.
                    s.n_left
                } else {
                    bufs.partition(&task, packed, test)
                };
                debug_assert_eq!(n_left, s.n_left);
                st.push_children(&mut stack, &task, &s, id, packed);
            }
        }
    }
    tree.clone()
}

/// Whether the tree's search can run on packed class weights (see [`pack`]): integer weights
/// of at least 1, at most [`MAX_PACKED_CLASSES`] classes, rows and total weight below
/// [`PACKED_LIMIT`] (and the tests have not turned it off).
fn is_packable(rows: &[u32], w: &[f32], cfg: &TreeConfig) -> bool {
    let w_root: f64 = rows.iter().map(|&r| f64::from(w[r as usize])).sum();
    cfg.allow_packed
        && cfg.n_classes <= MAX_PACKED_CLASSES
        && rows.len() <= PACKED_LIMIT as usize
        && w_root <= f64::from(PACKED_LIMIT)
        && rows.iter().all(|&r| {
            let v = w[r as usize];
            v >= 1.0 && v.fract() == 0.0
        })
}

/// What [`grow`] keeps per tree besides the workspace: the feature draw's permutation, and
/// the current node's class totals and known-constant features with the arenas that hold
/// them for the pending tasks (one slice per task, in stack order).
struct NodeState {
    k: usize,
    /// Words of the known-constant bitset (one bit per feature, at least one word).
    words: usize,
    features: Vec<usize>,
    node_best_left: Vec<f64>,
    totals: Vec<f64>,
    constant: Vec<u64>,
    totals_arena: Vec<f64>,
    constant_arena: Vec<u64>,
}

impl NodeState {
    fn new(k: usize, n_features: usize) -> Self {
        let words = n_features.div_ceil(64).max(1);
        NodeState {
            k,
            words,
            features: (0..n_features).collect(),
            node_best_left: vec![0.0; k],
            totals: vec![0.0; k],
            constant: vec![0; words],
            totals_arena: vec![0.0; k],
            constant_arena: vec![0; words - 1],
        }
    }

    /// Takes the task's known-constant features and (unless the node is packed gini, whose
    /// totals are read at its leaf) class totals off the arenas.
    fn open(&mut self, task: &Task, packed: bool, packed_gini: bool) {
        self.constant[0] = task.constant;
        if self.words > 1 {
            let at = self.constant_arena.len() - (self.words - 1);
            self.constant[1..].copy_from_slice(&self.constant_arena[at..]);
            self.constant_arena.truncate(at);
        }
        if packed_gini {
            // Filled at the leaf.
        } else if packed {
            for (c, t) in self.totals.iter_mut().enumerate() {
                *t = lane(task.packed_total, c) as f64;
            }
        } else {
            let at = self.totals_arena.len() - self.k;
            self.totals.copy_from_slice(&self.totals_arena[at..]);
            self.totals_arena.truncate(at);
        }
    }

    /// The node's total weight and impurity.
    fn weight_and_impurity(
        &self,
        task: &Task,
        packed_gini: bool,
        criterion: Criterion,
    ) -> (f64, f64) {
        if packed_gini {
            let (w, sq) = weight_and_squares(task.packed_total);
            let (w, sq) = (w as f64, sq as f64);
            (w, if w > 0.0 { 1.0 - sq / (w * w) } else { 0.0 })
        } else {
            let w_total: f64 = self.totals.iter().sum();
            (w_total, impurity(criterion, &self.totals, w_total))
        }
    }

    /// Pushes the split node `id`'s children: the right one first (popped last), each with
    /// its class totals (the right's are the parent's minus the left's) and the parent's
    /// known-constant features.
    fn push_children(
        &mut self,
        stack: &mut Vec<Task>,
        task: &Task,
        s: &Split,
        id: usize,
        packed: bool,
    ) {
        let mid = task.start + s.n_left;
        if !packed {
            for (&t, &l) in self.totals.iter().zip(&self.node_best_left) {
                let r = t - l;
                self.totals_arena.push(if r.abs() < 1e-9 { 0.0 } else { r });
            }
            self.totals_arena.extend_from_slice(&self.node_best_left);
        }
        if self.words > 1 {
            self.constant_arena.extend_from_slice(&self.constant[1..]);
            self.constant_arena.extend_from_slice(&self.constant[1..]);
        }
        stack.push(Task {
            start: mid,
            end: task.end,
            depth: task.depth + 1,
            parent: Some((id, true)),
            packed_total: task.packed_total - s.left_packed,
            constant: self.constant[0],
        });
        stack.push(Task {
            start: task.start,
            end: mid,
            depth: task.depth + 1,
            parent: Some((id, false)),
            packed_total: s.left_packed,
            constant: self.constant[0],
        });
    }
}

/// The tree's rows and the class data that travel with them through every partition
/// (packed into one `u128` when possible, so the split search reads them sequentially
/// instead of gathering by row index), in two sets of buffers: a node's rows live in the
/// primary ones at even depths and in the `tmp_` ones at odd depths.
struct RowBuffers<'a> {
    rows: &'a mut [u32],
    pw: &'a mut Vec<u128>,
    cw: &'a mut Vec<u32>,
    yw: &'a mut Vec<(u32, f32)>,
    /// Zero-sized stand-in for the second payload of unpacked trees.
    no_data: &'a mut Vec<()>,
    tmp_rows: &'a mut Vec<u32>,
    tmp_pw: &'a mut Vec<u128>,
    tmp_cw: &'a mut Vec<u32>,
    tmp_yw: &'a mut Vec<(u32, f32)>,
    tmp_no_data: &'a mut Vec<()>,
}

/// A depth's rows and their class data: packed weights, `weight << 16 | class` (packed
/// trees) and `(class, weight)` pairs (the others).
type NodeRows<'a> = (&'a [u32], &'a [u128], &'a [u32], &'a [(u32, f32)]);

impl RowBuffers<'_> {
    /// Fills the class data of the root's rows (packed, or `(class, weight)` pairs with the
    /// root's class totals added to `root_totals`) and sizes the second set of buffers.
    fn load(&mut self, y: &[u32], w: &[f32], packed: bool, root_totals: &mut [f64]) {
        self.pw.clear();
        self.cw.clear();
        self.yw.clear();
        self.no_data.clear();
        let rows = &*self.rows;
        if packed {
            let cls_w = |&r: &u32| (y[r as usize], w[r as usize] as u32);
            self.pw
                .extend(rows.iter().map(cls_w).map(|(c, w)| pack(c, w)));
            self.cw
                .extend(rows.iter().map(cls_w).map(|(c, w)| w << 16 | c));
        } else {
            for &r in rows {
                root_totals[y[r as usize] as usize] += f64::from(w[r as usize]);
            }
            self.yw
                .extend(rows.iter().map(|&r| (y[r as usize], w[r as usize])));
            self.no_data.resize(rows.len(), ());
        }
        self.tmp_rows.resize(rows.len(), 0);
        self.tmp_pw.resize(self.pw.len(), 0);
        self.tmp_cw.resize(self.cw.len(), 0);
        self.tmp_yw.resize(self.yw.len(), (0, 0.0));
        self.tmp_no_data.resize(self.no_data.len(), ());
    }

    /// The rows and class data of the nodes at `depth` (see the type's docs).
    fn at_depth(&self, depth: usize) -> NodeRows<'_> {
        if depth.is_multiple_of(2) {
            (&self.rows[..], &self.pw[..], &self.cw[..], &self.yw[..])
        } else {
            (
                &self.tmp_rows[..],
                &self.tmp_pw[..],
                &self.tmp_cw[..],
                &self.tmp_yw[..],
            )
        }
    }

    /// Moves the task's rows (and their class data) to the other set of buffers, those
    /// going left first (see [`partition`]); returns how many went left.
    fn partition<C: BinCode>(&mut self, task: &Task, packed: bool, t: RowTest<'_, C>) -> usize {
        let r = task.start..task.end;
        match (packed, task.depth.is_multiple_of(2)) {
            (true, true) => partition(
                (
                    &self.rows[r.clone()],
                    &self.pw[r.clone()],
                    &self.cw[r.clone()],
                ),
                (
                    &mut self.tmp_rows[r.clone()],
                    &mut self.tmp_pw[r.clone()],
                    &mut self.tmp_cw[r],
                ),
                t,
            ),
            (true, false) => partition(
                (
                    &self.tmp_rows[r.clone()],
                    &self.tmp_pw[r.clone()],
                    &self.tmp_cw[r.clone()],
                ),
                (
                    &mut self.rows[r.clone()],
                    &mut self.pw[r.clone()],
                    &mut self.cw[r],
                ),
                t,
            ),
            (false, true) => partition(
                (
                    &self.rows[r.clone()],
                    &self.yw[r.clone()],
                    &self.no_data[r.clone()],
                ),
                (
                    &mut self.tmp_rows[r.clone()],
                    &mut self.tmp_yw[r.clone()],
                    &mut self.tmp_no_data[r],
                ),
                t,
            ),
            (false, false) => partition(
                (
                    &self.tmp_rows[r.clone()],
                    &self.tmp_yw[r.clone()],
                    &self.tmp_no_data[r.clone()],
                ),
                (
                    &mut self.rows[r.clone()],
                    &mut self.yw[r.clone()],
                    &mut self.no_data[r],
                ),
                t,
            ),
        }
    }
}

/// The node's split: scikit-learn's feature draw, Fisher-Yates without replacement;
/// constant features do not count, and the draw goes on until a valid split exists (up to
/// all features). A split that leaves both children pure has the largest score any split
/// can have, and a later feature replaces the best only when strictly better: once one is
/// found the node's split is settled, so the draw stops there (a fifth of all evaluations,
/// on the many tiny nodes near the leaves). Only the RNG stream of later nodes differs from
/// drawing on.
#[allow(clippy::too_many_arguments)]
fn find_split<C: BinCode>(
    input: &TreeInput<'_, C>,
    bufs: &RowBuffers<'_>,
    task: &Task,
    st: &mut NodeState,
    cfg: &TreeConfig,
    packed: bool,
    w_total: f64,
    scratch: &mut Scratch,
    rng: &mut ChaCha8Rng,
) -> Option<Split> {
    let (start, end) = (task.start, task.end);
    let (rows, pw, cw, yw) = bufs.at_depth(task.depth);
    if input.bits.mask != 0 {
        st.constant[0] |= input.bits.constant_on(&rows[start..end]);
    }
    let node = NodeCtx {
        rows: &rows[start..end],
        yw: if packed { &[] } else { &yw[start..end] },
        totals: if packed { &[] } else { &st.totals },
        w_total,
        min_leaf: cfg.min_samples_leaf,
        criterion: cfg.criterion,
        pw: if packed { &pw[start..end] } else { &[] },
        cw: if packed { &cw[start..end] } else { &[] },
        packed_total: task.packed_total,
        order_keys: input.order_keys,
        simd: cfg.simd,
    };
    let n_features = st.features.len();
    let mut best: Option<Split> = None;
    let mut drawn = 0;
    let mut visited = 0;
    while drawn < n_features && (visited < cfg.mtry || best.is_none()) {
        let j = rng.gen_range(drawn..n_features);
        st.features.swap(drawn, j);
        let f = st.features[drawn];
        drawn += 1;
        if st.constant[f / 64] >> (f % 64) & 1 == 1 {
            continue;
        }
        match evaluate(input.binned, f, &node, scratch) {
            Outcome::Constant => st.constant[f / 64] |= 1 << (f % 64),
            Outcome::NoValid => visited += 1,
            Outcome::Found(s) => {
                visited += 1;
                if best.is_none_or(|b| s.proxy > b.proxy) {
                    best = Some(s);
                    let pure = if packed {
                        packed_split_is_pure(s.left_packed, task.packed_total)
                    } else {
                        st.node_best_left.copy_from_slice(&scratch.left);
                        float_split_is_pure(&scratch.left, &st.totals)
                    };
                    if pure {
                        break;
                    }
                }
            }
        }
    }
    best
}

/// Links `child` (a node index, or `!leaf`) to the task's parent, or makes it the root.
fn link(tree: &mut Tree, task: &Task, child: i32) {
    match task.parent {
        Some((p, true)) => tree.right[p] = child,
        Some((p, false)) => tree.left[p] = child,
        None => tree.root = child,
    }
}

/// Makes the task's node a leaf with class totals `totals`.
fn push_leaf(tree: &mut Tree, task: &Task, totals: &[f64], w_total: f64, imp: f64) {
    let leaf = tree.leaf_samples.len();
    for &t in totals {
        tree.leaf_proba.push(if w_total > 0.0 {
            (t / w_total) as f32
        } else {
            0.0
        });
    }
    tree.leaf_impurity.push(imp);
    tree.leaf_weight.push(w_total);
    tree.leaf_samples.push((task.end - task.start) as u32);
    tree.depth = tree.depth.max(task.depth as u32);
    link(tree, task, !(leaf as i32));
}

/// Makes the task's node a split node (children linked when they are pushed); returns its
/// index.
fn push_split(tree: &mut Tree, task: &Task, s: &Split, w_total: f64, imp: f64) -> usize {
    let id = tree.feature.len();
    tree.feature.push(s.feature as u32);
    tree.threshold.push(s.threshold);
    tree.left.push(0);
    tree.right.push(0);
    tree.node_impurity.push(imp);
    tree.node_weight.push(w_total);
    tree.node_samples.push((task.end - task.start) as u32);
    link(tree, task, id as i32);
    id
}

/// Whether both children of a packed split will be leaves (too deep, too few rows, or
/// pure: exact on packed sums), so its rows need not move.
fn children_are_leaves(task: &Task, s: &Split, cfg: &TreeConfig, total: u128) -> bool {
    let n = task.end - task.start;
    let leaf_child = |n: usize, t: u128| {
        let (w, sq) = weight_and_squares(t);
        task.depth + 1 >= cfg.max_depth
            || n < cfg.min_samples_split
            || n < 2 * cfg.min_samples_leaf
            || sq == w * w
    };
    leaf_child(s.n_left, s.left_packed) && leaf_child(n - s.n_left, total - s.left_packed)
}
