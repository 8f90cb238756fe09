//! The arena: every tree of a forest in one set of flat arrays (struct-of-arrays), visited by
//! index. Split nodes hold `feature`, `threshold`, `left`, `right`; a negative child is leaf
//! `!child`, whose class probabilities are row `leaf` of the flat `n_leaves × n_classes`
//! `leaf_proba`. Training statistics (impurity, weighted and raw sample counts) live in their
//! own arrays, off the prediction path. Indices are global (across trees); `tree_nodes` /
//! `tree_leaves` hold each tree's ranges.

use crate::error::{ModelError, Result};
use crate::train::tree::Tree;

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
    /// Concatenates trees, rebasing their local indices.
    pub(crate) fn from_trees(trees: Vec<Tree>, n_features: usize, n_classes: usize) -> Self {
        let n_nodes: usize = trees.iter().map(|t| t.feature.len()).sum();
        let n_leaves: usize = trees.iter().map(|t| t.leaf_samples.len()).sum();
        let mut f = FlatForest {
            n_features,
            n_classes,
            tree_nodes: vec![0],
            tree_leaves: vec![0],
            feature: Vec::with_capacity(n_nodes),
            threshold: Vec::with_capacity(n_nodes),
            left: Vec::with_capacity(n_nodes),
            right: Vec::with_capacity(n_nodes),
            node_impurity: Vec::with_capacity(n_nodes),
            node_weight: Vec::with_capacity(n_nodes),
            node_samples: Vec::with_capacity(n_nodes),
            leaf_proba: Vec::with_capacity(n_leaves * n_classes),
            leaf_impurity: Vec::with_capacity(n_leaves),
            leaf_weight: Vec::with_capacity(n_leaves),
            leaf_samples: Vec::with_capacity(n_leaves),
            ..Default::default()
        };
        for t in trees {
            let node_base = f.feature.len() as i32;
            let leaf_base = f.leaf_samples.len() as i32;
            // Branch-free: whether a child is a leaf is a coin flip in fully grown trees.
            let rebase =
                |c: i32| std::hint::select_unpredictable(c >= 0, c + node_base, !(!c + leaf_base));
            f.roots.push(rebase(t.root));
            f.depths.push(t.depth);
            f.feature.extend_from_slice(&t.feature);
            f.threshold.extend_from_slice(&t.threshold);
            f.left.extend(t.left.iter().map(|&c| rebase(c)));
            f.right.extend(t.right.iter().map(|&c| rebase(c)));
            f.node_impurity.extend_from_slice(&t.node_impurity);
            f.node_weight.extend_from_slice(&t.node_weight);
            f.node_samples.extend_from_slice(&t.node_samples);
            f.leaf_proba.extend_from_slice(&t.leaf_proba);
            f.leaf_impurity.extend_from_slice(&t.leaf_impurity);
            f.leaf_weight.extend_from_slice(&t.leaf_weight);
            f.leaf_samples.extend_from_slice(&t.leaf_samples);
            f.tree_nodes.push(f.feature.len() as u32);
            f.tree_leaves.push(f.leaf_samples.len() as u32);
        }
        f
    }

    pub(crate) fn n_trees(&self) -> usize {
        self.roots.len()
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

    /// Checks the invariants every walk relies on, so a model read from bytes can never index
    /// out of bounds or loop: array lengths agree, every child lies inside its own tree and
    /// after its parent, every feature is `< n_features`, probabilities are finite.
    pub(crate) fn validate(&self) -> Result<()> {
        let bad = |reason: String| Err(ModelError::Corrupt { reason });
        let t = self.roots.len();
        let nn = self.feature.len();
        let nl = self.leaf_samples.len();
        if self.n_classes == 0 || self.n_features == 0 {
            return bad("zero classes or features".into());
        }
        if self.depths.len() != t
            || self.tree_nodes.len() != t + 1
            || self.tree_leaves.len() != t + 1
        {
            return bad("per-tree arrays disagree with the number of trees".into());
        }
        for (name, len) in [
            ("threshold", self.threshold.len()),
            ("left", self.left.len()),
            ("right", self.right.len()),
            ("node_impurity", self.node_impurity.len()),
            ("node_weight", self.node_weight.len()),
            ("node_samples", self.node_samples.len()),
        ] {
            if len != nn {
                return bad(format!("{name} has {len} entries for {nn} nodes"));
            }
        }
        if self.leaf_proba.len() != nl * self.n_classes
            || self.leaf_impurity.len() != nl
            || self.leaf_weight.len() != nl
        {
            return bad("leaf arrays disagree with the number of leaves".into());
        }
        if self.tree_nodes.first() != Some(&0)
            || self.tree_leaves.first() != Some(&0)
            || self.tree_nodes.last().map(|&v| v as usize) != Some(nn)
            || self.tree_leaves.last().map(|&v| v as usize) != Some(nl)
        {
            return bad("tree offsets do not cover the arena".into());
        }
        for tr in 0..t {
            let (ns, ne) = (self.tree_nodes[tr] as i64, self.tree_nodes[tr + 1] as i64);
            let (ls, le) = (self.tree_leaves[tr] as i64, self.tree_leaves[tr + 1] as i64);
            if ns > ne || ls >= le {
                return bad(format!("tree {tr} has a bad node or leaf range"));
            }
            let in_tree = |c: i32, after: i64| -> bool {
                if c >= 0 {
                    let c = i64::from(c);
                    c > after && c >= ns && c < ne
                } else {
                    let l = i64::from(!c);
                    l >= ls && l < le
                }
            };
            if !in_tree(self.roots[tr], ns - 1) {
                return bad(format!("tree {tr} has a root outside the tree"));
            }
            for i in ns..ne {
                let u = i as usize;
                if self.feature[u] as usize >= self.n_features {
                    return bad(format!("node {i} splits on feature {}", self.feature[u]));
                }
                if !in_tree(self.left[u], i) || !in_tree(self.right[u], i) {
                    return bad(format!("node {i} has a child outside its tree"));
                }
            }
        }
        if self.leaf_proba.iter().any(|p| !p.is_finite()) {
            return bad("a leaf probability is not finite".into());
        }
        Ok(())
    }
}
