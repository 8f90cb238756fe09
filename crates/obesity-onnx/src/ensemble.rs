//! The forest as one `ai.onnx.ml.TreeEnsembleClassifier` node.

use obesity_forest::ForestArena;

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
        let order = preorder(a, tree);
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
/// true branch first. [`ForestArena`] guarantees that each tree is a tree whose children lie
/// inside it (obesity-forest checks every loaded file for it), so every index is in bounds,
/// the walk ends, and each entry comes once.
fn preorder(a: &ForestArena<'_>, tree: usize) -> Vec<i32> {
    let n_splits = (a.tree_nodes[tree + 1] - a.tree_nodes[tree]) as usize;
    let n_leaves = (a.tree_leaves[tree + 1] - a.tree_leaves[tree]) as usize;
    let mut order = Vec::with_capacity(n_splits + n_leaves);
    let mut stack = vec![a.roots[tree]];
    while let Some(c) = stack.pop() {
        order.push(c);
        if c >= 0 {
            stack.push(a.right[c as usize]);
            stack.push(a.left[c as usize]);
        }
    }
    order
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
    use ndarray::array;
    use obesity_forest::{ForestParams, RandomForest};

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("c{i}")).collect()
    }

    fn attr<'a>(g: &'a Graph, name: &str) -> &'a crate::proto::AttributeProto {
        g.nodes[0]
            .attribute
            .iter()
            .find(|a| a.name.as_deref() == Some(name))
            .unwrap_or_else(|| panic!("no attribute {name}"))
    }

    fn ints<'a>(g: &'a Graph, name: &str) -> &'a [i64] {
        &attr(g, name).ints
    }

    /// Two stumps (one feature, split between 1 and 2, pure leaves) over three classes, the
    /// third never seen: ids count from each tree's root, true branch first; each pure leaf
    /// gets one weight, `1 / n_trees`; the unseen class still gets a (zero) weight.
    #[test]
    fn trees_are_numbered_from_the_root_and_every_class_is_named() {
        let x = array![[0.0f32], [1.0], [2.0], [3.0]];
        let y = array![0usize, 0, 1, 1];
        let params = ForestParams::builder()
            .n_estimators(2)
            .bootstrap(false)
            .build()
            .unwrap();
        let forest = RandomForest::fit(&params, x.view(), y.view(), 3).unwrap();
        let a = forest.arena();
        assert_eq!((a.n_trees(), a.n_splits(), a.n_leaves()), (2, 2, 4));
        let mut g = Graph::default();
        add_tree_ensemble(&mut g, &a, &names(3), "x", "label", "p").unwrap();
        assert_eq!(ints(&g, "nodes_treeids"), [0, 0, 0, 1, 1, 1]);
        assert_eq!(ints(&g, "nodes_nodeids"), [0, 1, 2, 0, 1, 2]);
        assert_eq!(ints(&g, "nodes_featureids"), [0, 0, 0, 0, 0, 0]);
        assert_eq!(ints(&g, "nodes_truenodeids"), [1, 0, 0, 1, 0, 0]);
        assert_eq!(ints(&g, "nodes_falsenodeids"), [2, 0, 0, 2, 0, 0]);
        let modes: Vec<&[u8]> = attr(&g, "nodes_modes")
            .strings
            .iter()
            .map(Vec::as_slice)
            .collect();
        let (split, leaf) = (b"BRANCH_LEQ".as_slice(), b"LEAF".as_slice());
        assert_eq!(modes, [split, leaf, leaf, split, leaf, leaf]);
        let values = &attr(&g, "nodes_values").floats;
        assert_eq!(values[0], a.threshold[0]);
        assert!(values[0] > 1.0 && values[0] < 2.0);
        // Leaf 1 (true branch, x <= t) holds class 0, leaf 2 class 1; class 2 gets a zero
        // weight on tree 0's first leaf.
        assert_eq!(ints(&g, "class_treeids"), [0, 0, 1, 1, 0]);
        assert_eq!(ints(&g, "class_nodeids"), [1, 2, 1, 2, 1]);
        assert_eq!(ints(&g, "class_ids"), [0, 1, 0, 1, 2]);
        assert_eq!(attr(&g, "class_weights").floats, [0.5, 0.5, 0.5, 0.5, 0.0]);
    }

    /// Each split node's true and false ids name the pre-order positions of its children:
    /// following them from id 0 reaches the same leaf as walking the arena, for every row
    /// and tree of a deeper forest.
    #[test]
    fn renumbered_ids_walk_like_the_arena() {
        let x = ndarray::Array2::from_shape_fn((80, 3), |(r, c)| ((r * 7 + c * 13) % 17) as f32);
        let y = ndarray::Array1::from_shape_fn(80, |r| (r * 5 % 11) % 3);
        let params = ForestParams::builder()
            .n_estimators(5)
            .seed(9)
            .build()
            .unwrap();
        let forest = RandomForest::fit(&params, x.view(), y.view(), 3).unwrap();
        let a = forest.arena();
        let mut g = Graph::default();
        add_tree_ensemble(&mut g, &a, &names(3), "x", "label", "p").unwrap();
        let (tree_ids, node_ids) = (ints(&g, "nodes_treeids"), ints(&g, "nodes_nodeids"));
        let (features, true_ids, false_ids) = (
            ints(&g, "nodes_featureids"),
            ints(&g, "nodes_truenodeids"),
            ints(&g, "nodes_falsenodeids"),
        );
        let values = &attr(&g, "nodes_values").floats;
        let modes = &attr(&g, "nodes_modes").strings;
        let (class_trees, class_nodes, class_ids) = (
            ints(&g, "class_treeids"),
            ints(&g, "class_nodeids"),
            ints(&g, "class_ids"),
        );
        let weights = &attr(&g, "class_weights").floats;
        assert_eq!(tree_ids.len(), a.n_splits() + a.n_leaves());
        let entry = |t: usize, id: i64| {
            (0..tree_ids.len())
                .find(|&e| tree_ids[e] == t as i64 && node_ids[e] == id)
                .expect("every id named")
        };
        for row in x.rows() {
            for t in 0..a.n_trees() {
                let mut n = a.roots[t];
                let mut e = entry(t, 0);
                while n >= 0 {
                    let i = n as usize;
                    assert_eq!(modes[e], b"BRANCH_LEQ");
                    assert_eq!(
                        (features[e], values[e]),
                        (i64::from(a.feature[i]), a.threshold[i])
                    );
                    let go_left = row[a.feature[i] as usize] <= a.threshold[i];
                    n = if go_left { a.left[i] } else { a.right[i] };
                    e = entry(t, if go_left { true_ids[e] } else { false_ids[e] });
                }
                assert_eq!(modes[e], b"LEAF");
                // The leaf reached carries the arena leaf's probabilities over n_trees.
                let mut w = [0.0f32; 3];
                for c in 0..class_ids.len() {
                    if (class_trees[c], class_nodes[c]) == (t as i64, node_ids[e]) {
                        w[class_ids[c] as usize] += weights[c];
                    }
                }
                let scale = 1.0 / a.n_trees() as f32;
                let want: Vec<f32> = a.leaf(!n as usize).iter().map(|p| p * scale).collect();
                assert_eq!(w.to_vec(), want);
            }
        }
    }
}
