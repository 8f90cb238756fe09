//! Test data: a seeded synthetic problem, and accuracy.

use ndarray::{Array1, Array2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// `n` rows × `f` features; the class (of `k`) is a noisy function of the first features.
pub(crate) fn synthetic(n: usize, f: usize, k: usize, seed: u64) -> (Array2<f32>, Array1<usize>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let x = Array2::from_shape_fn((n, f), |_| rng.gen_range(-1.0f32..1.0));
    let y = x
        .rows()
        .into_iter()
        .map(|r| {
            let s = r[0] + 0.5 * r[1 % f] + 0.1 * rng.gen_range(-1.0f32..1.0);
            (((s + 1.6) / 3.2 * k as f32) as usize).min(k - 1)
        })
        .collect();
    (x, y)
}

pub(crate) fn accuracy(pred: &Array1<usize>, y: &Array1<usize>) -> f64 {
    pred.iter().zip(y).filter(|(a, b)| a == b).count() as f64 / y.len() as f64
}
