//! Permutation importance (scikit-learn's `inspection.permutation_importance`), shown next
//! to a model's own impurity importance.

use ndarray::{Array2, ArrayView1, ArrayView2};
use obesity_forest::Classifier;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::compare::check_same_len;
use crate::error::{EvalError, Result};
use crate::exec::{default_workers, run_jobs};
use crate::scorer::Scorer;

/// How much the score drops when one feature's values are shuffled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PermutationImportance {
    /// The scorer.
    pub scoring: Scorer,
    /// Score of the model on the unshuffled data.
    pub baseline_score: f64,
    /// Mean drop per feature over the repeats (positive = the model relies on it).
    pub importances_mean: Vec<f64>,
    /// Standard deviation of the drop per feature (`ddof = 0`, as scikit-learn).
    pub importances_std: Vec<f64>,
    /// Every drop: `importances[feature][repeat]`.
    pub importances: Vec<Vec<f64>>,
}

/// Computes permutation importance of every column of `x` for a trained `model`.
///
/// For each feature and each of `n_repeats`, the column is shuffled and the model rescored;
/// the importance is `baseline − shuffled score`. Feature `j` draws its permutations from
/// ChaCha8 seeded with `seed` on stream `j`, so the result is the same whatever the thread
/// count (features are processed in parallel).
///
/// Score it on held-out rows: on training rows it measures what the model memorised.
///
/// # Errors
/// `n_repeats == 0`, empty or mismatched input, a width the model does not accept, or a
/// scoring failure.
pub fn permutation_importance(
    model: &dyn Classifier,
    x: ArrayView2<'_, f32>,
    y: ArrayView1<'_, usize>,
    scoring: Scorer,
    n_repeats: usize,
    seed: u64,
) -> Result<PermutationImportance> {
    if n_repeats == 0 {
        return Err(EvalError::InvalidValue {
            what: "n_repeats",
            value: "0".into(),
            expected: "at least 1".into(),
        });
    }
    check_same_len("x rows", x.nrows(), "y", y.len())?;
    if x.nrows() == 0 || x.ncols() == 0 {
        return Err(EvalError::EmptyInput { what: "x" });
    }
    let scorers = [scoring];
    let baseline = Scorer::score_model_many(&scorers, model, x, y)?[0];
    let per_feature: Vec<Vec<f64>> = run_jobs(x.ncols(), default_workers(), |j| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(j as u64);
        let mut shuffled: Array2<f32> = x.to_owned();
        let original: Vec<f32> = x.column(j).to_vec();
        let mut order: Vec<usize> = (0..x.nrows()).collect();
        (0..n_repeats)
            .map(|_| {
                order.shuffle(&mut rng);
                for (dst, &src) in shuffled.column_mut(j).iter_mut().zip(&order) {
                    *dst = original[src];
                }
                let s = Scorer::score_model_many(&scorers, model, shuffled.view(), y)?[0];
                Ok(baseline - s)
            })
            .collect::<Result<Vec<f64>>>()
    })?;
    let (mean, std) = per_feature
        .iter()
        .map(|v| {
            let n = v.len() as f64;
            let m = v.iter().sum::<f64>() / n;
            let s = (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / n).sqrt();
            (m, s)
        })
        .unzip();
    Ok(PermutationImportance {
        scoring,
        baseline_score: baseline,
        importances_mean: mean,
        importances_std: std,
        importances: per_feature,
    })
}

/// One feature's importances side by side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureImportanceRow {
    /// Feature name.
    pub feature: String,
    /// Impurity (mean decrease in impurity) importance, when the model has it.
    pub impurity: Option<f64>,
    /// Mean permutation importance.
    pub permutation_mean: f64,
    /// Standard deviation of the permutation importance.
    pub permutation_std: f64,
}

/// Puts permutation importance next to the model's impurity importance
/// ([`Classifier::feature_importances`]), sorted by permutation importance, largest first.
/// Impurity importance favours features with many split points; where the two disagree,
/// trust the permutation one.
///
/// # Errors
/// `feature_names` of a different length than the importances.
pub fn importance_table(
    model: &dyn Classifier,
    permutation: &PermutationImportance,
    feature_names: &[String],
) -> Result<Vec<FeatureImportanceRow>> {
    check_same_len(
        "feature_names",
        feature_names.len(),
        "importances",
        permutation.importances_mean.len(),
    )?;
    let impurity = model
        .feature_importances()
        .filter(|v| v.len() == feature_names.len());
    let mut rows: Vec<FeatureImportanceRow> = feature_names
        .iter()
        .enumerate()
        .map(|(j, name)| FeatureImportanceRow {
            feature: name.clone(),
            impurity: impurity.as_ref().map(|v| v[j]),
            permutation_mean: permutation.importances_mean[j],
            permutation_std: permutation.importances_std[j],
        })
        .collect();
    rows.sort_by(|a, b| b.permutation_mean.total_cmp(&a.permutation_mean));
    Ok(rows)
}
