//! The forest as one `ai.onnx.ml.TreeEnsembleClassifier` node.

use crate::arena::ForestArena;
use crate::error::{OnnxError, Result};
use crate::graph::{Graph, ML_DOMAIN, attr_floats, attr_ints, attr_string, attr_strings};

/// Adds the `TreeEnsembleClassifier` reading `input` (float `[N, n_features]`) and writing
/// `label` (the class name per row) and `probabilities` (float `[N, n_classes]`).
///
/// Node ids are renumbered per tree in pre-order from the root (root 0, then the true
/// branch's subtree, then the false branch's), because the operator wants ids that start at
/// 0 at the root and count up by one. `BRANCH_LEQ` is our `x <= threshold` going left (the
/// operator's "true" branch).
///
/// A leaf's class weights are its probabilities times `1 / n_trees` computed in `f32`: the
/// very products obesity-forest's prediction kernels add, so onnxruntime, which adds the
/// trees' weights in tree order with no final scaling (`post_transform = NONE`), sums the same
/// floats. Zero weights are left out (a pure leaf, almost every leaf of a fully grown tree,
/// gets one entry instead of `n_classes`), except that every class gets at least one entry:
/// onnxruntime treats a two-class model whose weights name only one class as a binary
/// scorer and would then invent the second probability.
pub(crate) fn add_tree_ensemble(
    g: &mut Graph,
    a: &ForestArena<'_>,
    class_names: &[String],
    input: &str,
    label: &str,
    probabilities: &str,
) -> Result<()> {
    if class_names.len() != a.n_classes {
        return Err(OnnxError::ClassCountMismatch {
            expected: a.n_classes,
            got: class_names.len(),
        });
    }
    let mut seen = std::collections::BTreeSet::new();
    for name in class_names {
        if !seen.insert(name.as_str()) {
            return Err(OnnxError::DuplicateName {
                name: name.clone(),
                what: "class name",
            });
        }
    }

    let n_entries = a.feature.len() + a.tree_leaves.last().map_or(0, |&v| v as usize);
    let mut nodes = NodeColumns::with_capacity(n_entries);
    let mut classes = ClassColumns::with_capacity(n_entries);
    let scale = 1.0f32 / a.n_trees() as f32;
    let mut class_used = vec![false; a.n_classes];

    for tree in 0..a.n_trees() {
        let order = preorder(a, tree)?;
        let (ns, ls) = (a.tree_nodes[tree] as usize, a.tree_leaves[tree] as usize);
        let n_splits = a.tree_nodes[tree + 1] as usize - ns;
        let n_leaves = a.tree_leaves[tree + 1] as usize - ls;
        // Local id of every split node and leaf of this tree (`-1`: not reached).
        let mut split_id = vec![-1i64; n_splits];
        let mut leaf_id = vec![-1i64; n_leaves];
        for (id, &c) in order.iter().enumerate() {
            if c >= 0 {
                split_id[c as usize - ns] = id as i64;
            } else {
                leaf_id[!c as usize - ls] = id as i64;
            }
        }
        let id_of = |c: i32| -> i64 {
            if c >= 0 {
                split_id[c as usize - ns]
            } else {
                leaf_id[!c as usize - ls]
            }
        };
        let tree_id = tree as i64;
        for (id, &c) in order.iter().enumerate() {
            let id = id as i64;
            if c >= 0 {
                let i = c as usize;
                nodes.push(
                    tree_id,
                    id,
                    i64::from(a.feature[i]),
                    a.threshold[i],
                    "BRANCH_LEQ",
                    id_of(a.left[i]),
                    id_of(a.right[i]),
                );
            } else {
                let leaf = !c as usize;
                nodes.push(tree_id, id, 0, 0.0, "LEAF", 0, 0);
                let p = &a.leaf_proba[leaf * a.n_classes..(leaf + 1) * a.n_classes];
                for (class, &v) in p.iter().enumerate() {
                    if v != 0.0 {
                        classes.push(tree_id, id, class as i64, v * scale);
                        class_used[class] = true;
                    }
                }
            }
        }
    }
    // Every class named at least once (see the function docs): a zero weight on tree 0's
    // root-most leaf changes no sum.
    if let Some(first_leaf) = nodes.first_leaf_of_tree0() {
        for (class, used) in class_used.iter().enumerate() {
            if !used {
                classes.push(0, first_leaf, class as i64, 0.0);
            }
        }
    }

    g.node(
        "TreeEnsembleClassifier",
        ML_DOMAIN,
        &[input],
        &[label, probabilities],
        vec![
            attr_ints("nodes_treeids", nodes.tree_ids),
            attr_ints("nodes_nodeids", nodes.node_ids),
            attr_ints("nodes_featureids", nodes.feature_ids),
            attr_floats("nodes_values", nodes.values),
            attr_strings("nodes_modes", &nodes.modes),
            attr_ints("nodes_truenodeids", nodes.true_ids),
            attr_ints("nodes_falsenodeids", nodes.false_ids),
            attr_ints("class_treeids", classes.tree_ids),
            attr_ints("class_nodeids", classes.node_ids),
            attr_ints("class_ids", classes.class_ids),
            attr_floats("class_weights", classes.weights),
            attr_strings("classlabels_strings", class_names),
            attr_string("post_transform", "NONE"),
        ],
    );
    Ok(())
}

/// The arena entries of `tree` (split node `c >= 0`, leaf `!c`) in pre-order from the root,
/// true branch first. Errors when an entry is reached twice (the arena is not a tree); the
/// arena's ranges were checked by [`crate::arena::check`], so every index is in bounds.
fn preorder(a: &ForestArena<'_>, tree: usize) -> Result<Vec<i32>> {
    let (ns, ls) = (a.tree_nodes[tree] as usize, a.tree_leaves[tree] as usize);
    let n_splits = a.tree_nodes[tree + 1] as usize - ns;
    let n_leaves = a.tree_leaves[tree + 1] as usize - ls;
    let mut reached = vec![false; n_splits + n_leaves];
    let mut order = Vec::with_capacity(n_splits + n_leaves);
    let mut stack = vec![a.roots[tree]];
    while let Some(c) = stack.pop() {
        let slot = if c >= 0 {
            c as usize - ns
        } else {
            n_splits + (!c as usize - ls)
        };
        if std::mem::replace(&mut reached[slot], true) {
            return Err(OnnxError::Arena {
                reason: format!("tree {tree} reaches one of its nodes twice: it is not a tree"),
            });
        }
        order.push(c);
        if c >= 0 {
            stack.push(a.right[c as usize]);
            stack.push(a.left[c as usize]);
        }
    }
    Ok(order)
}

/// The `nodes_*` attributes, column by column.
#[derive(Debug, Default)]
struct NodeColumns {
    tree_ids: Vec<i64>,
    node_ids: Vec<i64>,
    feature_ids: Vec<i64>,
    values: Vec<f32>,
    modes: Vec<&'static str>,
    true_ids: Vec<i64>,
    false_ids: Vec<i64>,
}

impl NodeColumns {
    fn with_capacity(n: usize) -> Self {
        NodeColumns {
            tree_ids: Vec::with_capacity(n),
            node_ids: Vec::with_capacity(n),
            feature_ids: Vec::with_capacity(n),
            values: Vec::with_capacity(n),
            modes: Vec::with_capacity(n),
            true_ids: Vec::with_capacity(n),
            false_ids: Vec::with_capacity(n),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        tree: i64,
        node: i64,
        feature: i64,
        value: f32,
        mode: &'static str,
        true_id: i64,
        false_id: i64,
    ) {
        self.tree_ids.push(tree);
        self.node_ids.push(node);
        self.feature_ids.push(feature);
        self.values.push(value);
        self.modes.push(mode);
        self.true_ids.push(true_id);
        self.false_ids.push(false_id);
    }

    /// Node id of the first leaf of tree 0, in entry order.
    fn first_leaf_of_tree0(&self) -> Option<i64> {
        (0..self.node_ids.len())
            .find(|&i| self.tree_ids[i] == 0 && self.modes[i] == "LEAF")
            .map(|i| self.node_ids[i])
    }
}

/// The `class_*` attributes, column by column.
#[derive(Debug, Default)]
struct ClassColumns {
    tree_ids: Vec<i64>,
    node_ids: Vec<i64>,
    class_ids: Vec<i64>,
    weights: Vec<f32>,
}

impl ClassColumns {
    fn with_capacity(n: usize) -> Self {
        ClassColumns {
            tree_ids: Vec::with_capacity(n),
            node_ids: Vec::with_capacity(n),
            class_ids: Vec::with_capacity(n),
            weights: Vec::with_capacity(n),
        }
    }

    fn push(&mut self, tree: i64, node: i64, class: i64, weight: f32) {
        self.tree_ids.push(tree);
        self.node_ids.push(node);
        self.class_ids.push(class);
        self.weights.push(weight);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arena::check;

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("c{i}")).collect()
    }

    fn ints<'a>(g: &'a Graph, name: &str) -> &'a [i64] {
        g.nodes[0]
            .attribute
            .iter()
            .find(|a| a.name.as_deref() == Some(name))
            .map_or(&[], |a| a.ints.as_slice())
    }

    /// Tree 0: a stump whose root is stored last (node 1) with a left subtree (node 0); tree
    /// 1: a single leaf. Ids are renumbered from the root, true branch first; a class no leaf
    /// holds still gets a (zero) weight.
    #[test]
    fn trees_are_numbered_from_the_root_and_every_class_is_named() {
        let roots = [1, !3];
        let (tree_nodes, tree_leaves) = ([0u32, 2, 2], [0u32, 3, 4]);
        let (feature, threshold) = ([1u32, 0], [0.5f32, 2.5]);
        let (left, right) = ([!0, 0], [!1, !2]);
        let leaf_proba = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.5, 0.5, 0.0, 1.0, 0.0, 0.0];
        let a = ForestArena {
            n_features: 2,
            n_classes: 3,
            roots: &roots,
            tree_nodes: &tree_nodes,
            tree_leaves: &tree_leaves,
            feature: &feature,
            threshold: &threshold,
            left: &left,
            right: &right,
            leaf_proba: &leaf_proba,
        };
        check(&a).unwrap();
        let mut g = Graph::default();
        add_tree_ensemble(&mut g, &a, &names(3), "x", "label", "p").unwrap();
        assert_eq!(ints(&g, "nodes_treeids"), [0, 0, 0, 0, 0, 1]);
        assert_eq!(ints(&g, "nodes_nodeids"), [0, 1, 2, 3, 4, 0]);
        // Pre-order: root (arena 1) = 0, its left (arena 0) = 1, leaf 0 = 2, leaf 1 = 3,
        // leaf 2 (root's right) = 4.
        assert_eq!(ints(&g, "nodes_featureids"), [0, 1, 0, 0, 0, 0]);
        assert_eq!(ints(&g, "nodes_truenodeids"), [1, 2, 0, 0, 0, 0]);
        assert_eq!(ints(&g, "nodes_falsenodeids"), [4, 3, 0, 0, 0, 0]);
        assert_eq!(ints(&g, "class_treeids"), [0, 0, 0, 0, 1, 0]);
        assert_eq!(ints(&g, "class_nodeids"), [2, 3, 4, 4, 0, 2]);
        assert_eq!(ints(&g, "class_ids"), [0, 1, 0, 1, 0, 2]);
        let weights = &g.nodes[0]
            .attribute
            .iter()
            .find(|a| a.name.as_deref() == Some("class_weights"))
            .unwrap()
            .floats;
        assert_eq!(weights, &[0.5, 0.5, 0.25, 0.25, 0.5, 0.0]);
    }

    /// Two parents sharing a child pass the range checks but are not a tree.
    #[test]
    fn a_shared_child_is_an_error() {
        let roots = [0];
        let (tree_nodes, tree_leaves) = ([0u32, 2], [0u32, 2]);
        let a = ForestArena {
            n_features: 1,
            n_classes: 1,
            roots: &roots,
            tree_nodes: &tree_nodes,
            tree_leaves: &tree_leaves,
            feature: &[0, 0],
            threshold: &[0.0, 1.0],
            left: &[1, !0],
            right: &[1, !1],
            leaf_proba: &[1.0, 1.0],
        };
        check(&a).unwrap();
        let err = add_tree_ensemble(&mut Graph::default(), &a, &names(1), "x", "l", "p");
        assert!(err.unwrap_err().to_string().contains("not a tree"));
    }
}
