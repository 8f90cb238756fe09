//! Training: validation, binning, bootstrap, trees in parallel, flattening, out-of-bag score.

pub(crate) mod lanes;
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
use crate::params::{ClassWeight, ForestParams};
use crate::predict::Kernel;
use split::OrderKeys;
use tree::{BinaryBits, Tree, TreeConfig, TreeInput, Workspace, grow};

/// What training produces besides the parameters.
pub(crate) struct Trained {
    pub(crate) flat: FlatForest,
    /// The prediction layout, built once here for the out-of-bag score and kept.
    pub(crate) kernel: Kernel,
    pub(crate) oob_score: Option<f64>,
}

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
fn bootstrap_counts(rng: &mut ChaCha8Rng, n_rows: usize, n_draws: Option<usize>) -> Vec<u32> {
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

/// Trains the forest; input already validated.
pub(crate) fn train(
    params: &ForestParams,
    x: ArrayView2<'_, f32>,
    y: ArrayView1<'_, usize>,
    n_classes: usize,
) -> Result<Trained> {
    let n_rows = x.nrows();
    let n_features = x.ncols();
    let mtry = params.max_features().resolve(n_features)?;
    let n_draws = if params.bootstrap() {
        Some(
            params
                .max_samples()
                .map_or(Ok(n_rows), |m| m.resolve(n_rows))?,
        )
    } else {
        None
    };
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
    };
    let seed = params.seed();
    let n_trees = params.n_estimators();
    in_pool(params.n_threads(), || {
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
        let flat = FlatForest::from_trees(trees, n_features, n_classes);
        let kernel = Kernel::new(&flat);
        let oob_score = n_draws
            .filter(|_| params.oob_score())
            .and_then(|d| oob_score(&kernel, flat.n_trees(), x, &y32, seed, d));
        Trained {
            flat,
            kernel,
            oob_score,
        }
    })
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

/// scikit-learn's `oob_score_`: accuracy of the summed out-of-bag votes over the rows that
/// were out of bag for at least one tree. The bootstrap is redrawn from each tree's RNG
/// rather than kept, so memory stays at one bit per row and tree; the votes come from the
/// prediction kernel, each tree routing only its own out-of-bag rows (the votes are divided
/// by the number of trees, which does not change their argmax).
fn oob_score(
    kernel: &Kernel,
    n_trees: usize,
    x: ArrayView2<'_, f32>,
    y: &[u32],
    seed: u64,
    n_draws: usize,
) -> Option<f64> {
    let n = x.nrows();
    let k = kernel.n_classes();
    let masks: Vec<Vec<u64>> = (0..n_trees)
        .into_par_iter()
        .map(|t| {
            let counts = bootstrap_counts(&mut tree_rng(seed, t), n, Some(n_draws));
            let mut m = vec![0u64; n.div_ceil(64)];
            for (r, _) in counts.iter().enumerate().filter(|(_, c)| **c == 0) {
                m[r / 64] |= 1 << (r % 64);
            }
            m
        })
        .collect();
    let xs = x.as_standard_layout();
    let mut votes = vec![0.0f32; n * k];
    kernel.add_oob(xs.as_slice()?, &masks, &mut votes);
    let (scored, correct) = (0..n)
        .into_par_iter()
        .map(|r| {
            if !masks.iter().any(|m| m[r / 64] >> (r % 64) & 1 == 1) {
                return (0usize, 0usize);
            }
            let best = argmax(&votes[r * k..(r + 1) * k]);
            (1, usize::from(best == y[r] as usize))
        })
        .reduce(|| (0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    (scored > 0).then(|| correct as f64 / scored as f64)
}

/// First index of the largest value (scikit-learn's `argmax` tie rule).
pub(crate) fn argmax(v: &[f32]) -> usize {
    let mut best = 0;
    for (i, &p) in v.iter().enumerate() {
        if p > v[best] {
            best = i;
        }
    }
    best
}

#[cfg(test)]
mod oob_tests {
    use super::*;
    use crate::RandomForest;
    use ndarray::{Array1, Array2};

    /// The kernel-routed out-of-bag score equals a plain walk of every out-of-bag row
    /// through its trees, summing unscaled leaf probabilities.
    #[test]
    fn oob_score_matches_the_plain_walk() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let x = Array2::from_shape_fn((700, 5), |_| rng.gen_range(-1.0f32..1.0));
        let y: Array1<usize> = x
            .rows()
            .into_iter()
            .map(|r| usize::from(r[0] + 0.3 * r[1] > 0.0) + usize::from(r[2] > 0.6))
            .collect();
        let params = ForestParams::builder()
            .n_estimators(17)
            .seed(3)
            .oob_score(true)
            .build()
            .unwrap();
        let model = RandomForest::fit(&params, x.view(), y.view(), 3).unwrap();
        let flat = &model.flat;
        let (mut scored, mut correct) = (0usize, 0usize);
        let counts: Vec<Vec<u32>> = (0..flat.n_trees())
            .map(|t| bootstrap_counts(&mut tree_rng(3, t), 700, Some(700)))
            .collect();
        for r in 0..700 {
            let row = x.row(r).to_vec();
            let mut votes = [0.0f32; 3];
            let mut any = false;
            for (t, c) in counts.iter().enumerate() {
                if c[r] == 0 {
                    any = true;
                    let leaf = flat.leaf_of(t, &row);
                    for (v, p) in votes.iter_mut().zip(&flat.leaf_proba[leaf * 3..]) {
                        *v += p;
                    }
                }
            }
            if any {
                scored += 1;
                correct += usize::from(argmax(&votes) == y[r]);
            }
        }
        assert!(
            scored > 600,
            "most rows are out of bag for some tree: {scored}"
        );
        assert_eq!(model.oob_score(), Some(correct as f64 / scored as f64));
    }
}
