//! Training: validation, binning, bootstrap, trees in parallel, flattening, out-of-bag score.

pub(crate) mod split;
pub(crate) mod tree;

use ndarray::{ArrayView1, ArrayView2};
use rand::distributions::{Distribution, Uniform};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::binning::{BinCode, Binned};
use crate::error::{ModelError, Result};
use crate::flat::FlatForest;
use crate::params::{ClassWeight, ForestParams};
use tree::{BinaryBits, Tree, TreeConfig, TreeInput, Workspace, grow};

/// What training produces besides the parameters.
pub(crate) struct Trained {
    pub(crate) flat: FlatForest,
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
    match n_draws {
        None => vec![1; n_rows],
        Some(d) => {
            let mut c = vec![0u32; n_rows];
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
            c
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
        let trees = if params.max_bins() <= 256 {
            let b = Binned::<u8>::new(x, params.max_bins());
            grow_all(&b, &y32, &class_w, &cfg, seed, n_trees, n_draws)
        } else {
            let b = Binned::<u16>::new(x, params.max_bins());
            grow_all(&b, &y32, &class_w, &cfg, seed, n_trees, n_draws)
        };
        let flat = FlatForest::from_trees(trees, n_features, n_classes);
        let oob_score = n_draws
            .filter(|_| params.oob_score())
            .and_then(|d| oob_score(&flat, x, &y32, seed, d));
        Trained { flat, oob_score }
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
    (0..n_trees)
        .into_par_iter()
        .map_init(
            || Workspace::new(cfg),
            |ws, t| {
                let mut rng = tree_rng(seed, t);
                let counts = bootstrap_counts(&mut rng, b.n_rows, n_draws);
                let w: Vec<f32> = counts
                    .iter()
                    .zip(y)
                    .map(|(&c, &l)| c as f32 * class_w[l as usize])
                    .collect();
                let rows: Vec<u32> = (0..b.n_rows as u32)
                    .filter(|&r| counts[r as usize] > 0)
                    .collect();
                let input = TreeInput {
                    binned: b,
                    bits: &bits,
                    y,
                };
                grow(&input, &w, rows, cfg, &mut rng, ws)
            },
        )
        .collect()
}

/// scikit-learn's `oob_score_`: accuracy of the summed out-of-bag votes over the rows that
/// were out of bag for at least one tree. The bootstrap is redrawn from each tree's RNG
/// rather than kept, so memory stays at one bit per row and tree.
fn oob_score(
    flat: &FlatForest,
    x: ArrayView2<'_, f32>,
    y: &[u32],
    seed: u64,
    n_draws: usize,
) -> Option<f64> {
    let n = x.nrows();
    let k = flat.n_classes;
    let masks: Vec<Vec<u64>> = (0..flat.n_trees())
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
    let (scored, correct) = (0..n)
        .into_par_iter()
        .map_init(
            || (vec![0.0f32; k], vec![0.0f32; flat.n_features]),
            |(votes, row), r| {
                votes.fill(0.0);
                for (d, s) in row.iter_mut().zip(x.row(r)) {
                    *d = *s;
                }
                let mut any = false;
                for (t, m) in masks.iter().enumerate() {
                    if m[r / 64] >> (r % 64) & 1 == 1 {
                        any = true;
                        let leaf = flat.leaf_of(t, row);
                        for (v, p) in votes
                            .iter_mut()
                            .zip(&flat.leaf_proba[leaf * k..(leaf + 1) * k])
                        {
                            *v += p;
                        }
                    }
                }
                if !any {
                    return (0usize, 0usize);
                }
                let best = argmax(votes);
                (1, usize::from(best == y[r] as usize))
            },
        )
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
