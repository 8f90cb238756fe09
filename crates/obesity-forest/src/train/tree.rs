//! Grows one tree depth-first with an explicit stack, partitioning the node's row indices in
//! place. Nodes are numbered in creation order, so a child's index is always larger than its
//! parent's (the loader relies on that to reject cycles).

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::split::{NodeCtx, Outcome, Scratch, Split, evaluate};
use crate::binning::{BinCode, Binned};
use crate::params::Criterion;

/// One trained tree in local numbering: child `>= 0` is a split node, `< 0` is leaf `!child`.
#[derive(Debug, Default)]
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

/// Settings of the tree builder, resolved against the data.
pub(crate) struct TreeConfig {
    pub(crate) n_classes: usize,
    pub(crate) mtry: usize,
    pub(crate) max_depth: usize,
    pub(crate) min_samples_split: usize,
    pub(crate) min_samples_leaf: usize,
    pub(crate) criterion: Criterion,
    pub(crate) max_bins: usize,
}

/// Impurity of a node from its class weights (gini, or entropy in bits as scikit-learn).
pub(crate) fn impurity(criterion: Criterion, totals: &[f64], w: f64) -> f64 {
    if w <= 0.0 {
        return 0.0;
    }
    match criterion {
        Criterion::Gini => 1.0 - totals.iter().map(|t| (t / w) * (t / w)).sum::<f64>(),
        Criterion::Entropy => -totals
            .iter()
            .filter(|&&t| t > 0.0)
            .map(|&t| (t / w) * (t / w).log2())
            .sum::<f64>(),
    }
}

struct Task {
    start: usize,
    end: usize,
    depth: usize,
    totals: Vec<f64>,
    /// Bitset of features already found constant in an ancestor (so constant here too):
    /// skipped without a pass over the rows, as scikit-learn's `n_known_constants`.
    constant: Vec<u64>,
    /// Parent split node and side (false = left).
    parent: Option<(usize, bool)>,
}

/// Grows a tree on `rows` (the rows with a non-zero weight), with per-row labels and weights.
pub(crate) fn grow<C: BinCode>(
    binned: &Binned<C>,
    y: &[u32],
    w: &[f32],
    mut rows: Vec<u32>,
    cfg: &TreeConfig,
    rng: &mut ChaCha8Rng,
) -> Tree {
    let k = cfg.n_classes;
    let n_features = binned.edges.len();
    let mut tree = Tree::default();
    let mut scratch = Scratch::new(cfg.max_bins, k);
    let mut features: Vec<usize> = (0..n_features).collect();
    let mut node_best_left = vec![0.0f64; k];

    let mut root_totals = vec![0.0f64; k];
    for &r in &rows {
        root_totals[y[r as usize] as usize] += f64::from(w[r as usize]);
    }
    // Classes and weights travel with the rows through every partition, so the split search
    // reads them sequentially instead of gathering by row index.
    let mut ys: Vec<u32> = rows.iter().map(|&r| y[r as usize]).collect();
    let mut ws: Vec<f32> = rows.iter().map(|&r| w[r as usize]).collect();
    let mut stack = vec![Task {
        start: 0,
        end: rows.len(),
        depth: 0,
        totals: root_totals,
        constant: vec![0; n_features.div_ceil(64)],
        parent: None,
    }];

    while let Some(mut task) = stack.pop() {
        let n = task.end - task.start;
        let w_total: f64 = task.totals.iter().sum();
        let imp = impurity(cfg.criterion, &task.totals, w_total);
        let mut best: Option<Split> = None;
        let can_split = task.depth < cfg.max_depth
            && n >= cfg.min_samples_split
            && n >= 2 * cfg.min_samples_leaf
            && imp > 1e-12;
        if can_split {
            let node = NodeCtx {
                rows: &rows[task.start..task.end],
                y: &ys[task.start..task.end],
                w: &ws[task.start..task.end],
                totals: &task.totals,
                w_total,
                min_leaf: cfg.min_samples_leaf,
                criterion: cfg.criterion,
            };
            // scikit-learn's feature draw: Fisher-Yates without replacement; constant features
            // do not count, and we keep drawing until a valid split exists (up to all).
            let mut drawn = 0;
            let mut visited = 0;
            while drawn < n_features && (visited < cfg.mtry || best.is_none()) {
                let j = rng.gen_range(drawn..n_features);
                features.swap(drawn, j);
                let f = features[drawn];
                drawn += 1;
                if task.constant[f / 64] >> (f % 64) & 1 == 1 {
                    continue;
                }
                match evaluate(binned, f, &node, &mut scratch) {
                    Outcome::Constant => task.constant[f / 64] |= 1 << (f % 64),
                    Outcome::NoValid => visited += 1,
                    Outcome::Found(s) => {
                        visited += 1;
                        if best.is_none_or(|b| s.proxy > b.proxy) {
                            best = Some(s);
                            node_best_left.copy_from_slice(&scratch.left);
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
                for &t in &task.totals {
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
                link(&mut tree, !(leaf as i32));
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
                link(&mut tree, id as i32);
                let n_left = partition(
                    &mut rows[task.start..task.end],
                    &mut ys[task.start..task.end],
                    &mut ws[task.start..task.end],
                    binned.raw(s.feature),
                    s.threshold,
                );
                debug_assert_eq!(n_left, s.n_left);
                let mid = task.start + n_left;
                let mut right_totals = task.totals.clone();
                for (r, l) in right_totals.iter_mut().zip(&node_best_left) {
                    *r -= l;
                    if r.abs() < 1e-9 {
                        *r = 0.0;
                    }
                }
                stack.push(Task {
                    start: mid,
                    end: task.end,
                    depth: task.depth + 1,
                    totals: right_totals,
                    constant: task.constant.clone(),
                    parent: Some((id, true)),
                });
                stack.push(Task {
                    start: task.start,
                    end: mid,
                    depth: task.depth + 1,
                    totals: node_best_left.clone(),
                    constant: task.constant,
                    parent: Some((id, false)),
                });
            }
        }
    }
    tree
}

/// Moves the rows with `raw[row] <= threshold` to the front; returns how many there are.
fn partition(
    rows: &mut [u32],
    ys: &mut [u32],
    ws: &mut [f32],
    raw: &[f32],
    threshold: f32,
) -> usize {
    let mut i = 0;
    let mut j = rows.len();
    while i < j {
        if raw[rows[i] as usize] <= threshold {
            i += 1;
        } else {
            j -= 1;
            rows.swap(i, j);
            ys.swap(i, j);
            ws.swap(i, j);
        }
    }
    i
}
