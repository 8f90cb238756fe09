//! A small test double strategy (nearest centroid) and a seeded synthetic data set where only
//! feature 0 carries the class.

use std::collections::BTreeMap;

use ndarray::{Array1, Array2, ArrayView1, ArrayView2};
use obesity_eval::{EvalError, ParamSet};
use obesity_features::Dataset;
use obesity_forest::{Classifier, ModelError, ModelStrategy};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// `n` rows, `n_features` columns, 3 classes; feature 0 is `3·class + N(0, 1)`-ish, the rest
/// uniform noise.
pub(crate) fn synthetic(n: usize, n_features: usize, seed: u64) -> Dataset {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut x = Array2::<f32>::zeros((n, n_features));
    let mut y = Array1::<usize>::zeros(n);
    for i in 0..n {
        let c = i % 3;
        y[i] = c;
        x[[i, 0]] = 3.0 * c as f32 + rng.gen_range(-1.5f32..1.5);
        for j in 1..n_features {
            x[[i, j]] = rng.gen_range(-3.0f32..3.0);
        }
    }
    Dataset {
        x,
        y,
        feature_names: (0..n_features).map(|j| format!("f{j}")).collect(),
        class_names: vec!["low".into(), "mid".into(), "high".into()],
    }
}

/// Nearest centroid over the columns `offset..offset + n_used`, probabilities a softmax of
/// minus squared distance.
#[derive(Debug, Clone)]
pub(crate) struct NearestCentroid {
    pub(crate) offset: usize,
    pub(crate) n_used: usize,
}

pub(crate) struct FittedCentroid {
    centroids: Vec<Vec<f32>>,
    offset: usize,
    n_used: usize,
    n_features: usize,
}

impl ModelStrategy for NearestCentroid {
    fn name(&self) -> &str {
        "nearest_centroid"
    }
    fn params(&self) -> BTreeMap<String, String> {
        [
            ("offset".to_string(), self.offset.to_string()),
            ("n_used".to_string(), self.n_used.to_string()),
        ]
        .into()
    }
    fn fit(
        &self,
        x: ArrayView2<'_, f32>,
        y: ArrayView1<'_, usize>,
        n_classes: usize,
    ) -> Result<Box<dyn Classifier>, ModelError> {
        if x.nrows() == 0 {
            return Err(ModelError::EmptyInput);
        }
        if self.offset + self.n_used > x.ncols() {
            return Err(ModelError::InvalidParam {
                name: "offset",
                value: self.offset.to_string(),
                expected: format!("offset + n_used <= {}", x.ncols()),
            });
        }
        let mut sums = vec![vec![0f32; self.n_used]; n_classes];
        let mut counts = vec![0f32; n_classes];
        for (row, &c) in x.rows().into_iter().zip(y) {
            counts[c] += 1.0;
            for j in 0..self.n_used {
                sums[c][j] += row[self.offset + j];
            }
        }
        for (s, n) in sums.iter_mut().zip(&counts) {
            s.iter_mut().for_each(|v| *v /= n.max(1.0));
        }
        Ok(Box::new(FittedCentroid {
            centroids: sums,
            offset: self.offset,
            n_used: self.n_used,
            n_features: x.ncols(),
        }))
    }
}

impl Classifier for FittedCentroid {
    fn name(&self) -> &str {
        "nearest_centroid"
    }
    fn n_features(&self) -> usize {
        self.n_features
    }
    fn n_classes(&self) -> usize {
        self.centroids.len()
    }
    fn predict_proba(&self, x: ArrayView2<'_, f32>) -> Result<Array2<f32>, ModelError> {
        if x.ncols() != self.n_features {
            return Err(ModelError::FeatureCountMismatch {
                expected: self.n_features,
                got: x.ncols(),
            });
        }
        let k = self.centroids.len();
        let mut out = Array2::zeros((x.nrows(), k));
        for (i, row) in x.rows().into_iter().enumerate() {
            let d: Vec<f32> = self
                .centroids
                .iter()
                .map(|c| {
                    (0..self.n_used)
                        .map(|j| (row[self.offset + j] - c[j]).powi(2))
                        .sum::<f32>()
                })
                .collect();
            let m = d.iter().copied().fold(f32::INFINITY, f32::min);
            let e: Vec<f32> = d.iter().map(|v| (-(v - m)).exp()).collect();
            let s: f32 = e.iter().sum();
            for c in 0..k {
                out[[i, c]] = e[c] / s;
            }
        }
        Ok(out)
    }
    fn feature_importances(&self) -> Option<Vec<f64>> {
        let mut v = vec![0.0; self.n_features];
        v[self.offset] = 1.0;
        Some(v)
    }
    fn to_bytes(&self) -> Result<Vec<u8>, ModelError> {
        Ok(Vec::new())
    }
}

/// Factory for searches: `offset` and `n_used` (both default 0 / 1).
pub(crate) fn centroid_factory(p: &ParamSet) -> Result<Box<dyn ModelStrategy>, EvalError> {
    p.check_known(&["offset", "n_used"])?;
    Ok(Box::new(NearestCentroid {
        offset: p.get_usize("offset")?.unwrap_or(0),
        n_used: p.get_usize("n_used")?.unwrap_or(1),
    }))
}
