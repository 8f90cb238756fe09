//! Cross-validation: fit a strategy on each fold's training rows, score its test rows, and
//! summarise every scorer with mean, standard deviation and a Student-t confidence interval.

use std::collections::BTreeMap;
use std::time::Instant;

use obesity_data::StratifiedKFold;
use obesity_features::Dataset;
use obesity_forest::ModelStrategy;
use serde::{Deserialize, Serialize};

use crate::compare::{TTestResult, corrected_resampled_t_test, student_t_quantile};
use crate::error::{EvalError, Result};
use crate::exec::{default_workers, run_jobs};
use crate::scorer::Scorer;

/// Train and test row indices of one fold.
pub type Fold = (Vec<usize>, Vec<usize>);

/// Stratified k folds of `dataset` (shuffled with `seed`), as scikit-learn's
/// `StratifiedKFold(k, shuffle=True, random_state=seed)`: the usual `folds` argument of
/// [`cross_validate`] and the searches.
///
/// # Errors
/// [`EvalError::Split`] when `k < 2` or a class has fewer than `k` rows.
pub fn stratified_folds(dataset: &Dataset, k: usize, seed: u64) -> Result<Vec<Fold>> {
    let labels: Vec<usize> = dataset.y.to_vec();
    StratifiedKFold::new(k)
        .shuffle(true)
        .seed(seed)
        .split(&labels)
        .map_err(|e| EvalError::Split(Box::new(e.with_class_names(&dataset.class_names))))
}

/// Per-fold values of one scorer and their summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreSummary {
    /// The score of each fold, in fold order.
    pub per_fold: Vec<f64>,
    /// Mean over folds.
    pub mean: f64,
    /// Population standard deviation over folds (`ddof = 0`, as scikit-learn's
    /// `std_test_score`).
    pub std: f64,
    /// Lower end of the 95% confidence interval of the mean: `mean − t_{0.975, k−1}·s/√k`
    /// with `s` the sample standard deviation (`ddof = 1`). Folds share training rows, so
    /// this interval is optimistic; use [`corrected_resampled_t_test`](crate::corrected_resampled_t_test)
    /// to compare two models.
    pub ci95_low: f64,
    /// Upper end of the 95% confidence interval of the mean.
    pub ci95_high: f64,
}

impl ScoreSummary {
    /// Summarises per-fold scores. One fold gives a zero-width interval; NaN scores propagate.
    pub fn from_scores(per_fold: Vec<f64>) -> Self {
        let k = per_fold.len() as f64;
        let mean = per_fold.iter().sum::<f64>() / k;
        let ss = per_fold.iter().map(|x| (x - mean).powi(2)).sum::<f64>();
        let std = (ss / k).sqrt();
        let half = if per_fold.len() > 1 {
            let s = (ss / (k - 1.0)).sqrt();
            student_t_quantile(0.975, k - 1.0) * s / k.sqrt()
        } else {
            0.0
        };
        Self {
            per_fold,
            mean,
            std,
            ci95_low: mean - half,
            ci95_high: mean + half,
        }
    }
}

/// What [`cross_validate`] returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CvResult {
    /// Name of the strategy that was cross-validated.
    pub model: String,
    /// Its hyper-parameters.
    pub params: BTreeMap<String, String>,
    /// One summary per scorer, keyed by the scorer's name (`test_f1_macro` in scikit-learn).
    pub scores: BTreeMap<String, ScoreSummary>,
    /// Seconds spent fitting, per fold.
    pub fit_time: Vec<f64>,
    /// Seconds spent predicting and scoring, per fold.
    pub score_time: Vec<f64>,
    /// Training rows per fold.
    pub train_sizes: Vec<usize>,
    /// Test rows per fold.
    pub test_sizes: Vec<usize>,
}

impl CvResult {
    /// The summary of one scorer, by name.
    pub fn get(&self, scorer: &str) -> Option<&ScoreSummary> {
        self.scores.get(scorer)
    }

    /// Compares this result with `other` on `scorer` with the corrected resampled t-test
    /// (Nadeau and Bengio), the right test for two models cross-validated on the **same**
    /// folds: the statistic is positive when `self` scores higher.
    ///
    /// # Errors
    /// The scorer missing from either result, different fold counts or fold sizes (not the
    /// same folds), or fewer than two folds.
    pub fn compare(&self, other: &CvResult, scorer: &str) -> Result<TTestResult> {
        let missing = |model: &str| EvalError::InvalidValue {
            what: "scorer",
            value: scorer.to_string(),
            expected: format!("a scorer that {model} was cross-validated with"),
        };
        let a = self.get(scorer).ok_or_else(|| missing(&self.model))?;
        let b = other.get(scorer).ok_or_else(|| missing(&other.model))?;
        if self.train_sizes != other.train_sizes || self.test_sizes != other.test_sizes {
            return Err(EvalError::InvalidFolds {
                reason: "the two results were not cross-validated on the same folds \
                         (fold sizes differ)"
                    .into(),
            });
        }
        let k = self.train_sizes.len().max(1);
        let n_train = self.train_sizes.iter().sum::<usize>() / k;
        let n_test = self.test_sizes.iter().sum::<usize>() / k;
        corrected_resampled_t_test(&a.per_fold, &b.per_fold, n_train, n_test)
    }
}

/// One fitted-and-scored fold.
#[derive(Debug, Clone)]
pub(crate) struct FoldOutcome {
    pub(crate) scores: Vec<f64>,
    pub(crate) fit_time: f64,
    pub(crate) score_time: f64,
}

/// The training and test rows of each fold, materialised once so many candidates can share
/// them (a grid search fits hundreds of models on the same five folds).
pub(crate) struct FoldData {
    pub(crate) train: Dataset,
    pub(crate) test: Dataset,
}

/// Checks the folds against the data set and copies their rows out.
pub(crate) fn materialise(dataset: &Dataset, folds: &[Fold]) -> Result<Vec<FoldData>> {
    validate_folds(dataset, folds)?;
    Ok(folds
        .iter()
        .map(|(tr, te)| FoldData {
            train: dataset.select(tr),
            test: dataset.select(te),
        })
        .collect())
}

/// Folds must exist, be non-empty, index existing rows, and not share rows between train and
/// test (that would leak test rows into training).
pub(crate) fn validate_folds(dataset: &Dataset, folds: &[Fold]) -> Result<()> {
    if dataset.n_samples() == 0 {
        return Err(EvalError::EmptyInput { what: "dataset" });
    }
    if dataset.y.len() != dataset.n_samples() {
        return Err(EvalError::LengthMismatch {
            left: "dataset.x rows",
            left_len: dataset.n_samples(),
            right: "dataset.y",
            right_len: dataset.y.len(),
        });
    }
    if folds.is_empty() {
        return Err(EvalError::InvalidFolds {
            reason: "no folds given".into(),
        });
    }
    let n = dataset.n_samples();
    let mut in_train = vec![false; n];
    for (f, (train, test)) in folds.iter().enumerate() {
        if train.is_empty() || test.is_empty() {
            return Err(EvalError::InvalidFolds {
                reason: format!(
                    "fold {f} has {} training and {} test rows; both must be non-empty",
                    train.len(),
                    test.len()
                ),
            });
        }
        in_train.iter_mut().for_each(|b| *b = false);
        for &i in train {
            match in_train.get_mut(i) {
                Some(b) => *b = true,
                None => {
                    return Err(EvalError::InvalidFolds {
                        reason: format!("fold {f}: training index {i} >= {n} rows"),
                    });
                }
            }
        }
        for &i in test {
            match in_train.get(i) {
                None => {
                    return Err(EvalError::InvalidFolds {
                        reason: format!("fold {f}: test index {i} >= {n} rows"),
                    });
                }
                Some(true) => {
                    return Err(EvalError::InvalidFolds {
                        reason: format!("fold {f}: row {i} is in both training and test"),
                    });
                }
                Some(false) => {}
            }
        }
    }
    Ok(())
}

/// Fits `strategy` on one fold and scores it with every scorer.
pub(crate) fn run_fold(
    strategy: &dyn ModelStrategy,
    fold: &FoldData,
    n_classes: usize,
    scorers: &[Scorer],
) -> Result<FoldOutcome> {
    let start = Instant::now();
    let model = strategy.fit(fold.train.x.view(), fold.train.y.view(), n_classes)?;
    let fit_time = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let scores = Scorer::score_model_many(
        scorers,
        model.as_ref(),
        fold.test.x.view(),
        fold.test.y.view(),
    )?;
    Ok(FoldOutcome {
        scores,
        fit_time,
        score_time: start.elapsed().as_secs_f64(),
    })
}

/// Cross-validates `strategy` on `dataset` over precomputed `folds` (train and test row
/// indices, e.g. from `obesity_data::StratifiedKFold`), as scikit-learn's `cross_validate`.
///
/// Folds are fitted in parallel (one worker per rayon thread). Scores depend only on the strategy's seed and the
/// folds, never on the thread count; the times of course vary.
///
/// # Errors
/// No scorer, malformed folds (empty, out-of-range index, train/test overlap), or a fit or
/// scoring failure (the first one, by fold order).
pub fn cross_validate(
    strategy: &dyn ModelStrategy,
    dataset: &Dataset,
    folds: &[Fold],
    scorers: &[Scorer],
) -> Result<CvResult> {
    if scorers.is_empty() {
        return Err(EvalError::EmptyInput { what: "scorers" });
    }
    let data = materialise(dataset, folds)?;
    let n_classes = dataset.n_classes();
    let outcomes: Vec<FoldOutcome> = run_jobs(data.len(), default_workers(), |f| {
        run_fold(strategy, &data[f], n_classes, scorers)
    })?;
    Ok(summarise(strategy, scorers, &outcomes, folds))
}

pub(crate) fn summarise(
    strategy: &dyn ModelStrategy,
    scorers: &[Scorer],
    outcomes: &[FoldOutcome],
    folds: &[Fold],
) -> CvResult {
    let scores = scorers
        .iter()
        .enumerate()
        .map(|(s, scorer)| {
            let per_fold = outcomes.iter().map(|o| o.scores[s]).collect();
            (
                scorer.name().to_string(),
                ScoreSummary::from_scores(per_fold),
            )
        })
        .collect();
    CvResult {
        model: strategy.name().to_string(),
        params: strategy.params(),
        scores,
        fit_time: outcomes.iter().map(|o| o.fit_time).collect(),
        score_time: outcomes.iter().map(|o| o.score_time).collect(),
        train_sizes: folds.iter().map(|(tr, _)| tr.len()).collect(),
        test_sizes: folds.iter().map(|(_, te)| te.len()).collect(),
    }
}
