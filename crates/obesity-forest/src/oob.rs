//! The out-of-bag score (scikit-learn's `oob_score_`): built on both lower floors, training's
//! bootstrap (redrawn per tree) and the prediction kernel (which routes each tree's
//! out-of-bag rows), so it sits on the top floor beside [`RandomForest`](crate::RandomForest).

use ndarray::ArrayView2;
use rayon::prelude::*;

use crate::predict::Kernel;
use crate::train;

/// Accuracy of the summed out-of-bag votes over the rows that were out of bag for at least
/// one tree (`None` when no row was). The votes come from the prediction kernel, each tree
/// routing only its own out-of-bag rows (they are divided by the number of trees, which does
/// not change their argmax).
pub(crate) fn score(
    kernel: &Kernel,
    n_trees: usize,
    x: ArrayView2<'_, f32>,
    y: &[usize],
    seed: u64,
    n_draws: usize,
) -> Option<f64> {
    let n = x.nrows();
    let k = kernel.n_classes();
    let masks = train::out_of_bag(seed, n_trees, n, n_draws);
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
            (1, usize::from(best == y[r]))
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
mod tests {
    use super::*;
    use crate::train::{bootstrap_counts, tree_rng};
    use crate::{ForestParams, RandomForest};
    use ndarray::{Array1, Array2};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

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
