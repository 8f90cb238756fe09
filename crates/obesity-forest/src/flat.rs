//! The arena: every tree of a forest in one set of flat arrays (struct-of-arrays), visited by
//! index. Split nodes hold `feature`, `threshold`, `left`, `right`; a negative child is leaf
//! `!child`, whose class probabilities are row `leaf` of the flat `n_leaves × n_classes`
//! `leaf_proba`. Training statistics (impurity, weighted and raw sample counts) live in their
//! own arrays, off the prediction path. Indices are global (across trees); `tree_nodes` /
//! `tree_leaves` hold each tree's ranges.
//!
//! The bottom floor of the crate with binning: training writes the arena, the prediction
//! kernels and the model file read it, and it knows none of them.

use crate::error::Result;
use crate::validate::{self, PROBA_SUM_TOLERANCE, bad_field};

/// A read-only view of every tree of a forest, in the arena's struct-of-arrays layout (from
/// [`RandomForest::arena`](crate::RandomForest::arena)), for exporters (ONNX's
/// `TreeEnsembleClassifier`, treelite, code generators) and inspection. Borrowed, so taking
/// it copies nothing.
///
/// # Layout
///
/// Split node `i` tests `x[feature[i]] <= threshold[i]`: true goes to `left[i]`, false to
/// `right[i]`. A child `c >= 0` is split node `c`; `c < 0` is leaf `!c`, whose class
/// probabilities are `leaf_proba[leaf * n_classes..(leaf + 1) * n_classes]`
/// ([`ForestArena::leaf`]). Indices are global across trees; tree `t` owns split nodes
/// `tree_nodes[t]..tree_nodes[t + 1]` and leaves `tree_leaves[t]..tree_leaves[t + 1]`, and
/// starts at `roots[t]` (its first split node, or `!leaf` for a tree that is a single leaf).
///
/// # Guarantees
///
/// Only this crate builds a `ForestArena` (the type is `#[non_exhaustive]`), and only from a
/// forest it trained or loaded, and a loaded file is checked against each of these before
/// it is used, so an exporter may index with them without further checks:
///
/// - `n_features >= 1`, `n_classes >= 1`, at least one tree;
/// - `tree_nodes` and `tree_leaves` hold `n_trees + 1` non-decreasing offsets from 0 to the
///   number of split nodes and of leaves; a tree with `s` split nodes has `s + 1` leaves;
/// - `feature`, `threshold`, `left` and `right` have one entry per split node, `leaf_proba`
///   `n_classes` per leaf;
/// - every child lies inside its own tree and after its parent, and each split node and
///   leaf of a tree is the child of exactly one parent (so a walk from `roots[t]` reaches
///   every part of tree `t` once and ends at a leaf);
/// - features are `< n_features`, thresholds finite, each leaf's probabilities in `[0, 1]`
///   and summing to 1 (up to rounding).
///
/// # How `predict_proba` uses it
///
/// [`Classifier::predict_proba`](crate::Classifier::predict_proba) gives, for each row and
/// class, the `f32` sum, in tree order and starting from `0.0`, of the row's leaf
/// probability times `1.0 / n_trees as f32` — on every instruction set and kernel. A walk of
/// this arena doing the same additions reproduces it bit for bit:
///
/// ```
/// use ndarray::array;
/// use obesity_forest::{Classifier, ForestParams, RandomForest};
///
/// let x = array![[0.0f32, 5.0], [1.0, 4.0], [2.0, 1.0], [3.0, 0.0], [1.5, 2.0]];
/// let y = array![0usize, 0, 1, 1, 2];
/// let params = ForestParams::builder().n_estimators(7).seed(3).build()?;
/// let forest = RandomForest::fit(&params, x.view(), y.view(), 3)?;
/// let a = forest.arena();
/// let scale = 1.0 / a.n_trees() as f32;
/// let want = forest.predict_proba(x.view())?;
/// for (row, want) in x.rows().into_iter().zip(want.rows()) {
///     let mut p = vec![0.0f32; a.n_classes];
///     for &root in a.roots {
///         let mut n = root;
///         while n >= 0 {
///             let i = n as usize;
///             n = if row[a.feature[i] as usize] <= a.threshold[i] { a.left[i] } else { a.right[i] };
///         }
///         for (p, v) in p.iter_mut().zip(a.leaf(!n as usize)) {
///             *p += v * scale;
///         }
///     }
///     assert_eq!(p, want.to_vec());
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct ForestArena<'a> {
    /// Input columns.
    pub n_features: usize,
    /// Classes (the width of `leaf_proba`'s rows).
    pub n_classes: usize,
    /// Per tree: its root, a split node or `!leaf`.
    pub roots: &'a [i32],
    /// `n_trees + 1` offsets into the split-node arrays: tree `t` has
    /// `tree_nodes[t + 1] - tree_nodes[t]` split nodes.
    pub tree_nodes: &'a [u32],
    /// `n_trees + 1` offsets into the leaves: tree `t` has
    /// `tree_leaves[t + 1] - tree_leaves[t]` leaves.
    pub tree_leaves: &'a [u32],
    /// Per split node: the feature compared.
    pub feature: &'a [u32],
    /// Per split node: `x <= threshold` goes left.
    pub threshold: &'a [f32],
    /// Per split node: the left child (a split node, or `!leaf`).
    pub left: &'a [i32],
    /// Per split node: the right child.
    pub right: &'a [i32],
    /// `n_leaves × n_classes` class probabilities, row-major.
    pub leaf_proba: &'a [f32],
}

impl<'a> ForestArena<'a> {
    /// Number of trees.
    pub fn n_trees(&self) -> usize {
        self.roots.len()
    }

    /// Number of split nodes, over all trees.
    pub fn n_splits(&self) -> usize {
        self.feature.len()
    }

    /// Number of leaves, over all trees.
    pub fn n_leaves(&self) -> usize {
        self.tree_leaves.last().map_or(0, |&n| n as usize)
    }

    /// Leaf `leaf`'s class probabilities (`n_classes` of them); empty for a leaf index past
    /// the arena, so a bad index is never a panic.
    pub fn leaf(&self, leaf: usize) -> &'a [f32] {
        let k = self.n_classes;
        leaf.checked_mul(k)
            .and_then(|s| self.leaf_proba.get(s..s.checked_add(k)?))
            .unwrap_or(&[])
    }
}

/// All trees of a forest.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct FlatForest {
    pub(crate) n_features: usize,
    pub(crate) n_classes: usize,
    /// Per tree: root, a node index or `!leaf` for a single-leaf tree.
    pub(crate) roots: Vec<i32>,
    /// Per tree: depth (0 for a single leaf).
    pub(crate) depths: Vec<u32>,
    /// `n_trees + 1` offsets into the node arrays.
    pub(crate) tree_nodes: Vec<u32>,
    /// `n_trees + 1` offsets into the leaf arrays.
    pub(crate) tree_leaves: Vec<u32>,
    pub(crate) feature: Vec<u32>,
    pub(crate) threshold: Vec<f32>,
    pub(crate) left: Vec<i32>,
    pub(crate) right: Vec<i32>,
    pub(crate) leaf_proba: Vec<f32>,
    pub(crate) node_impurity: Vec<f64>,
    pub(crate) node_weight: Vec<f64>,
    pub(crate) node_samples: Vec<u32>,
    pub(crate) leaf_impurity: Vec<f64>,
    pub(crate) leaf_weight: Vec<f64>,
    pub(crate) leaf_samples: Vec<u32>,
}

impl FlatForest {
    pub(crate) fn n_trees(&self) -> usize {
        self.roots.len()
    }

    /// The prediction arrays, read-only.
    pub(crate) fn view(&self) -> ForestArena<'_> {
        ForestArena {
            n_features: self.n_features,
            n_classes: self.n_classes,
            roots: &self.roots,
            tree_nodes: &self.tree_nodes,
            tree_leaves: &self.tree_leaves,
            feature: &self.feature,
            threshold: &self.threshold,
            left: &self.left,
            right: &self.right,
            leaf_proba: &self.leaf_proba,
        }
    }

    /// The plain walk of one tree, the reference the fast kernels are tested against.
    /// Returns the global leaf index.
    pub(crate) fn leaf_of(&self, tree: usize, row: &[f32]) -> usize {
        let mut n = self.roots[tree];
        while n >= 0 {
            let i = n as usize;
            n = if row[self.feature[i] as usize] <= self.threshold[i] {
                self.left[i]
            } else {
                self.right[i]
            };
        }
        !n as usize
    }

    /// Checks every invariant the kernels, the inspection methods and the `predict_proba`
    /// contract rely on, so a model read from bytes (even bytes whose checksum was recomputed
    /// after editing) can never index out of bounds, loop, or predict rows that are not
    /// probability distributions:
    ///
    /// - the counts pass [`check_counts`] and every array has the length they imply;
    /// - tree `t` owns split nodes `tree_nodes[t]..tree_nodes[t + 1]` and exactly one leaf
    ///   more, the offsets start at 0 and cover the arena;
    /// - its root is its first node (or its only leaf), every child lies inside the tree and
    ///   after its parent (so no walk loops), and each node and leaf is the child of exactly
    ///   one parent (so the tree is a tree, every part reachable);
    /// - `depths[t]` is the tree's real depth;
    /// - split features are `< n_features`, thresholds finite;
    /// - every leaf's probabilities lie in `[0, 1]` and sum to 1 within
    ///   [`PROBA_SUM_TOLERANCE`];
    /// - the training statistics are finite, weights non-negative.
    pub(crate) fn validate(&self) -> Result<()> {
        let t = self.n_trees();
        let (nn, nl, k) = (self.feature.len(), self.leaf_samples.len(), self.n_classes);
        check_counts(
            self.n_features as u64,
            k as u64,
            t as u64,
            nn as u64,
            nl as u64,
        )?;
        for (name, len, want) in [
            ("depths", self.depths.len(), t),
            ("tree node offsets", self.tree_nodes.len(), t + 1),
            ("tree leaf offsets", self.tree_leaves.len(), t + 1),
            ("threshold", self.threshold.len(), nn),
            ("left", self.left.len(), nn),
            ("right", self.right.len(), nn),
            ("node impurity", self.node_impurity.len(), nn),
            ("node weight", self.node_weight.len(), nn),
            ("node samples", self.node_samples.len(), nn),
            // No overflow: `check_counts` bounds the product.
            ("leaf probabilities", self.leaf_proba.len(), nl * k),
            ("leaf impurity", self.leaf_impurity.len(), nl),
            ("leaf weight", self.leaf_weight.len(), nl),
        ] {
            if len != want {
                return Err(bad_field(
                    format!("length of {name}"),
                    len,
                    format!("{want} (from n_trees = {t}, n_nodes = {nn}, n_leaves = {nl})"),
                ));
            }
        }
        for (name, offsets, total) in [
            ("tree node offset", &self.tree_nodes, nn),
            ("tree leaf offset", &self.tree_leaves, nl),
        ] {
            if offsets[0] != 0 {
                return Err(bad_field(format!("{name} 0"), offsets[0], "0"));
            }
            if offsets[t] as usize != total {
                return Err(bad_field(
                    format!("{name} {t} (the last)"),
                    offsets[t],
                    format!("{total}, the arena's end"),
                ));
            }
        }
        // Scratch, bounded by the arrays already read: whether each node / leaf has been
        // reached, and each node's depth.
        let mut node_seen = vec![false; nn];
        let mut leaf_seen = vec![false; nl];
        let mut node_depth = vec![0u32; nn];
        for tr in 0..t {
            let (ns, ne) = (
                self.tree_nodes[tr] as usize,
                self.tree_nodes[tr + 1] as usize,
            );
            let (ls, le) = (
                self.tree_leaves[tr] as usize,
                self.tree_leaves[tr + 1] as usize,
            );
            if ne < ns || ne > nn {
                return Err(bad_field(
                    format!("tree node offset {}", tr + 1),
                    ne,
                    format!("in {ns}..={nn} (tree {tr} starts at node {ns})"),
                ));
            }
            // A binary tree with `s` split nodes has `s + 1` leaves.
            let want_le = ls + (ne - ns) + 1;
            if le != want_le || le > nl {
                return Err(bad_field(
                    format!("tree leaf offset {}", tr + 1),
                    le,
                    format!(
                        "{want_le} (tree {tr} has {} split nodes, so {} leaves, from leaf {ls}), \
                         at most {nl}",
                        ne - ns,
                        ne - ns + 1
                    ),
                ));
            }
            let root = self.roots[tr];
            let (want_root, what) = if ne > ns {
                (ns as i64, format!("{ns}, the tree's first node"))
            } else {
                (
                    !(ls as i64),
                    format!("{} (!{ls}), the tree's only leaf", !(ls as i64)),
                )
            };
            if i64::from(root) != want_root {
                return Err(bad_field(format!("root of tree {tr}"), root, what));
            }
            let mut depth = 0u32;
            for i in ns..ne {
                if self.feature[i] as usize >= self.n_features {
                    return Err(bad_field(
                        format!("feature of node {i}"),
                        self.feature[i],
                        format!("< n_features = {}", self.n_features),
                    ));
                }
                if !self.threshold[i].is_finite() {
                    return Err(bad_field(
                        format!("threshold of node {i}"),
                        self.threshold[i],
                        "a finite number",
                    ));
                }
                let child_depth = node_depth[i] + 1;
                for (side, c) in [("left", self.left[i]), ("right", self.right[i])] {
                    let field = || format!("{side} child of node {i}");
                    let seen = if c >= 0 {
                        let c = c as usize;
                        if c <= i || c >= ne {
                            return Err(bad_field(
                                field(),
                                c,
                                format!(
                                    "a node in {}..{ne} (after its parent, in tree {tr}) or a \
                                     leaf !l with l in {ls}..{le}",
                                    i + 1
                                ),
                            ));
                        }
                        node_depth[c] = child_depth;
                        &mut node_seen[c]
                    } else {
                        let l = !c as usize;
                        if l < ls || l >= le {
                            return Err(bad_field(
                                field(),
                                c,
                                format!(
                                    "a leaf !l with l in {ls}..{le} (in tree {tr}) or a node in \
                                     {}..{ne}",
                                    i + 1
                                ),
                            ));
                        }
                        depth = depth.max(child_depth);
                        &mut leaf_seen[l]
                    };
                    if std::mem::replace(seen, true) {
                        return Err(bad_field(
                            field(),
                            c,
                            "a node or leaf no other parent points to (each has one parent)",
                        ));
                    }
                }
            }
            // Every child slot points at a distinct node or leaf of this tree other than its
            // root, and there are exactly as many slots as such targets: all are reached.
            if self.depths[tr] != depth {
                return Err(bad_field(
                    format!("depth of tree {tr}"),
                    self.depths[tr],
                    format!("{depth}, the depth of its deepest leaf"),
                ));
            }
        }
        for (l, p) in self.leaf_proba.chunks_exact(k).enumerate() {
            if let Some((c, v)) = p
                .iter()
                .enumerate()
                .find(|(_, v)| !(0.0..=1.0).contains(*v))
            {
                return Err(bad_field(
                    format!("probability of class {c} in leaf {l}"),
                    v,
                    "a number in [0, 1]",
                ));
            }
            let sum: f64 = p.iter().map(|&v| f64::from(v)).sum();
            if (sum - 1.0).abs() > PROBA_SUM_TOLERANCE {
                return Err(bad_field(
                    format!("sum of the class probabilities of leaf {l}"),
                    sum,
                    format!("1 (within {PROBA_SUM_TOLERANCE})"),
                ));
            }
        }
        for (name, v, min) in [
            ("impurity of node", &self.node_impurity, f64::NEG_INFINITY),
            ("weight of node", &self.node_weight, 0.0),
            ("impurity of leaf", &self.leaf_impurity, f64::NEG_INFINITY),
            ("weight of leaf", &self.leaf_weight, 0.0),
        ] {
            if let Some((i, x)) = v
                .iter()
                .enumerate()
                .find(|(_, x)| !(x.is_finite() && **x >= min))
            {
                let expected = if min == 0.0 {
                    "a finite number >= 0"
                } else {
                    "a finite number"
                };
                return Err(bad_field(format!("{name} {i}"), x, expected));
            }
        }
        Ok(())
    }
}

/// Checks a forest's counts on their own, before any array they size is read: at least one
/// feature (at most [`validate::MAX_FEATURES`]), class and tree; child indices fit `i32`;
/// one leaf more than split nodes per tree (so `n_leaves = n_nodes + n_trees`); and the leaf
/// probability array's length `n_leaves × n_classes` fits `usize`.
pub(crate) fn check_counts(
    n_features: u64,
    n_classes: u64,
    n_trees: u64,
    n_nodes: u64,
    n_leaves: u64,
) -> Result<()> {
    validate::check_stored_width("n_features", n_features)?;
    if n_classes == 0 || n_classes > i32::MAX as u64 {
        return Err(bad_field(
            "n_classes",
            n_classes,
            format!("1..={} classes", i32::MAX),
        ));
    }
    if n_trees == 0 {
        return Err(bad_field("n_trees", 0, "at least 1"));
    }
    // Children are `i32`: a node index, or `!leaf` for a leaf.
    if n_nodes > i32::MAX as u64 {
        return Err(bad_field(
            "n_nodes",
            n_nodes,
            format!("at most {} (child indices are i32)", i32::MAX),
        ));
    }
    if n_nodes.checked_add(n_trees) != Some(n_leaves) || n_leaves > i32::MAX as u64 + 1 {
        return Err(bad_field(
            "n_leaves",
            n_leaves,
            format!(
                "n_nodes + n_trees = {n_nodes} + {n_trees} (each tree has one leaf more than \
                 split nodes), at most 2^31"
            ),
        ));
    }
    if n_leaves
        .checked_mul(n_classes)
        .and_then(|n| usize::try_from(n).ok())
        .is_none()
    {
        return Err(bad_field(
            "n_leaves × n_classes",
            format!("{n_leaves} × {n_classes}"),
            "a number of leaf probabilities that fits in memory (usize)",
        ));
    }
    Ok(())
}
