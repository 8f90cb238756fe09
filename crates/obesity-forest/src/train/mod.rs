//! Training: binning, bootstrap, trees grown in parallel, flattened into the arena. It
//! speaks only the arena ([`FlatForest`]) upward: the prediction kernels and the out-of-bag
//! score are built on top of what it returns (see `forest.rs`).

mod grow;
pub(crate) mod lanes;
mod rows;
pub(crate) mod split;
pub(crate) mod tree;

use ndarray::{ArrayView1, ArrayView2};
use rand::distributions::{Distribution, Uniform};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::binning::{BinCode, Binned, RANK_LIMIT};
use crate::error::{ModelError, Result};
use crate::flat::FlatForest;
use crate::isa::{Isa, Supported};
use crate::params::{ClassWeight, ForestParams};
use grow::grow;
use split::OrderKeys;
use tree::{BinaryBits, Tree, TreeConfig, TreeInput, Workspace};

/// SplitMix64's finaliser: spreads tree indices over the seed space.
fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The RNG of tree `index`: depends only on the seed and the index, never on the thread.
pub(crate) fn tree_rng(seed: u64, index: usize) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed ^ splitmix(index as u64))
}

/// Bootstrap counts of one tree (drawn first from its RNG), or all ones without bootstrap.
pub(crate) fn bootstrap_counts(
    rng: &mut ChaCha8Rng,
    n_rows: usize,
    n_draws: Option<usize>,
) -> Vec<u32> {
    let mut c = Vec::new();
    bootstrap_counts_into(rng, n_rows, n_draws, &mut c);
    c
}

/// [`bootstrap_counts`] into a reused buffer.
fn bootstrap_counts_into(
    rng: &mut ChaCha8Rng,
    n_rows: usize,
    n_draws: Option<usize>,
    c: &mut Vec<u32>,
) {
    c.clear();
    match n_draws {
        None => c.resize(n_rows, 1),
        Some(d) => {
            c.resize(n_rows, 0);
            match u32::try_from(n_rows) {
                // One 32-bit draw per sample (half the ChaCha output of a `usize` range)
                // with the range's rejection zone computed once.
                Ok(n) if n > 0 => {
                    let dist = Uniform::new(0, n);
                    for _ in 0..d {
                        c[dist.sample(rng) as usize] += 1;
                    }
                }
                _ => {
                    for _ in 0..d {
                        c[rng.gen_range(0..n_rows)] += 1;
                    }
                }
            }
        }
    }
}

/// Runs `f` in a local pool of `n` threads, or in the current pool.
pub(crate) fn in_pool<T: Send>(n: Option<usize>, f: impl FnOnce() -> T + Send) -> Result<T> {
    match n {
        None => Ok(f()),
        Some(n) => rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .map(|p| p.install(f))
            .map_err(|e| ModelError::Backend {
                library: "rayon",
                message: e.to_string(),
            }),
    }
}

/// Rows drawn per tree's bootstrap sample (`None`: no bootstrap, every row once).
pub(crate) fn n_draws(params: &ForestParams, n_rows: usize) -> Result<Option<usize>> {
    if params.bootstrap() {
        Ok(Some(
            params
                .max_samples()
                .map_or(Ok(n_rows), |m| m.resolve(n_rows))?,
        ))
    } else {
        Ok(None)
    }
}

/// Grows the forest's trees on the current rayon pool and flattens them into the arena;
/// input already validated. `isa` decides whether the split scans may use SSE2 (the trees
/// are the same either way).
pub(crate) fn grow_forest(
    params: &ForestParams,
    x: ArrayView2<'_, f32>,
    y: ArrayView1<'_, usize>,
    n_classes: usize,
    isa: Supported,
) -> Result<FlatForest> {
    let n_rows = x.nrows();
    let n_features = x.ncols();
    let mtry = params.max_features().resolve(n_features)?;
    let n_draws = n_draws(params, n_rows)?;
    let y32: Vec<u32> = y.iter().map(|&l| l as u32).collect();
    let class_w = class_weights(params.class_weight(), &y32, n_classes);
    let cfg = TreeConfig {
        n_classes,
        mtry,
        max_depth: params.max_depth().unwrap_or(usize::MAX),
        min_samples_split: params.min_samples_split(),
        min_samples_leaf: params.min_samples_leaf(),
        criterion: params.criterion(),
        max_bins: params.max_bins(),
        allow_packed: true,
        simd: isa.get() >= Isa::Sse2,
    };
    let seed = params.seed();
    let n_trees = params.n_estimators();
    // Above RANK_LIMIT rows the matrix outgrows the caches: add row-major codes.
    let large = n_rows > RANK_LIMIT;
    let trees = if params.max_bins() <= 256 {
        let b = Binned::<u8>::new(x, params.max_bins());
        let b = if large { b.with_row_codes() } else { b };
        grow_all(&b, &y32, &class_w, &cfg, seed, n_trees, n_draws)
    } else {
        let b = Binned::<u16>::new(x, params.max_bins());
        let b = if large { b.with_row_codes() } else { b };
        grow_all(&b, &y32, &class_w, &cfg, seed, n_trees, n_draws)
    };
    Ok(flatten(trees, n_features, n_classes))
}

/// Concatenates trees into the arena, rebasing their local indices.
fn flatten(trees: Vec<Tree>, n_features: usize, n_classes: usize) -> FlatForest {
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

fn class_weights(cw: ClassWeight, y: &[u32], n_classes: usize) -> Vec<f32> {
    match cw {
        ClassWeight::None => vec![1.0; n_classes],
        ClassWeight::Balanced => {
            let mut counts = vec![0usize; n_classes];
            for &l in y {
                counts[l as usize] += 1;
            }
            let present = counts.iter().filter(|&&c| c > 0).count().max(1);
            counts
                .iter()
                .map(|&c| {
                    if c == 0 {
                        0.0
                    } else {
                        y.len() as f32 / (present as f32 * c as f32)
                    }
                })
                .collect()
        }
    }
}

fn grow_all<C: BinCode>(
    b: &Binned<C>,
    y: &[u32],
    class_w: &[f32],
    cfg: &TreeConfig,
    seed: u64,
    n_trees: usize,
    n_draws: Option<usize>,
) -> Vec<Tree> {
    let bits = BinaryBits::new(b);
    let order_keys = OrderKeys::new(b);
    (0..n_trees)
        .into_par_iter()
        .map_init(
            || Workspace::new(cfg),
            |ws, t| {
                let mut rng = tree_rng(seed, t);
                // The per-tree row buffers come from (and go back to) the thread's workspace:
                // on a large matrix, fresh ones would be fresh pages to fault in every tree.
                let (mut counts, mut w, mut rows) = ws.take_bootstrap();
                bootstrap_counts_into(&mut rng, b.n_rows, n_draws, &mut counts);
                w.clear();
                w.extend(
                    counts
                        .iter()
                        .zip(y)
                        .map(|(&c, &l)| c as f32 * class_w[l as usize]),
                );
                // The in-bag rows, by a branch-free compaction: whether a row was drawn is a
                // coin flip (63% in), which a filter's branch mispredicts every other row.
                rows.clear();
                rows.resize(b.n_rows, 0);
                let mut in_bag = 0;
                for (r, &c) in counts.iter().enumerate() {
                    rows[in_bag] = r as u32;
                    in_bag += usize::from(c > 0);
                }
                rows.truncate(in_bag);
                let input = TreeInput {
                    binned: b,
                    bits: &bits,
                    order_keys: &order_keys,
                    y,
                };
                let tree = grow(&input, &w, &mut rows, cfg, &mut rng, ws);
                ws.put_bootstrap((counts, w, rows));
                tree
            },
        )
        .collect()
}

/// Which rows each tree left out of its bootstrap sample: per tree, one bit per row of the
/// `n_rows` training rows. The bootstrap is redrawn from each tree's RNG rather than kept
/// from training, so training holds no per-tree row lists and this costs one bit per row
/// and tree.
pub(crate) fn out_of_bag(
    seed: u64,
    n_trees: usize,
    n_rows: usize,
    n_draws: usize,
) -> Vec<Vec<u64>> {
    (0..n_trees)
        .into_par_iter()
        .map(|t| {
            let counts = bootstrap_counts(&mut tree_rng(seed, t), n_rows, Some(n_draws));
            let mut m = vec![0u64; n_rows.div_ceil(64)];
            for (r, _) in counts.iter().enumerate().filter(|(_, c)| **c == 0) {
                m[r / 64] |= 1 << (r % 64);
            }
            m
        })
        .collect()
}
