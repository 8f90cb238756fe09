//! Mean decrease in impurity (scikit-learn's `feature_importances_`), from the training
//! statistics kept beside the arena.

use crate::flat::FlatForest;

/// Per tree: `sum over splits of w_node * imp - w_left * imp_left - w_right * imp_right`,
/// normalised to sum 1; averaged over the trees that have a split; normalised again.
pub(crate) fn mdi(f: &FlatForest) -> Vec<f64> {
    let mut total = vec![0.0f64; f.n_features];
    let mut tree_imp = vec![0.0f64; f.n_features];
    let mut used = 0usize;
    for t in 0..f.n_trees() {
        let (ns, ne) = (f.tree_nodes[t] as usize, f.tree_nodes[t + 1] as usize);
        if ns == ne {
            continue;
        }
        tree_imp.fill(0.0);
        let stat = |c: i32| -> (f64, f64) {
            if c >= 0 {
                (f.node_weight[c as usize], f.node_impurity[c as usize])
            } else {
                let l = !c as usize;
                (f.leaf_weight[l], f.leaf_impurity[l])
            }
        };
        for i in ns..ne {
            let (wl, il) = stat(f.left[i]);
            let (wr, ir) = stat(f.right[i]);
            tree_imp[f.feature[i] as usize] +=
                f.node_weight[i] * f.node_impurity[i] - wl * il - wr * ir;
        }
        let s: f64 = tree_imp.iter().sum();
        if s > 0.0 {
            used += 1;
            for (a, v) in total.iter_mut().zip(&tree_imp) {
                *a += v / s;
            }
        }
    }
    let s: f64 = total.iter().sum();
    if used > 0 && s > 0.0 {
        total.iter_mut().for_each(|v| *v /= s);
    }
    total
}
