//! # obesity-eval
//!
//! Judging and tuning classifiers, with scikit-learn's names and numbers: every metric
//! agrees with scikit-learn to 1e-9 on the vectors in `tests/data/` (made by
//! `scripts/sklearn_metrics_vectors.py`), including `zero_division` and absent classes.
//!
//! ## Key types
//!
//! * Metrics on class indices and probability matrices: [`ConfusionMatrix`] (accuracy,
//!   balanced accuracy, precision/recall/F1 per class and [`Average`]d, Cohen's kappa,
//!   Matthews correlation), [`log_loss`], [`roc_auc_ovr`], [`brier_score`], and [`Metrics`]
//!   for all of them at once. [`ClassificationReport`] prints scikit-learn's table byte for
//!   byte and serialises to JSON.
//! * [`Scorer`]: scikit-learn's `scoring=` names (`"f1_macro"`, `"neg_log_loss"`, ...).
//! * [`cross_validate`] over folds (e.g. [`stratified_folds`]): per-fold scores, mean,
//!   std, a Student-t 95% interval, fit and score times; folds run in parallel, results
//!   depend only on seeds.
//! * [`GridSearch`] / [`RandomSearch`] over any factory of
//!   [`ModelStrategy`](obesity_forest::ModelStrategy) (a closure from [`ParamSet`]);
//!   [`forest_factory`] for the random forest. (candidate, fold)
//!   jobs run in parallel; the best candidate is refitted.
//! * [`permutation_importance`] and [`importance_table`] (next to impurity importance).
//! * [`group_fairness`]: metrics per group, largest gaps, demographic-parity and
//!   equalised-odds differences; [`age_bands`] to slice by age.
//! * Model comparison: [`mcnemar`] (exact below [`MCNEMAR_EXACT_BELOW`] discordant pairs),
//!   [`corrected_resampled_t_test`] (Nadeau and Bengio), [`two_proportion_z_test`] (A/B
//!   tests), [`chi_square_2x2`], [`welch_t_test`]; for proportions in small samples,
//!   [`fisher_exact`] (scipy's `fisher_exact`), [`wilson_interval`] and
//!   [`newcombe_interval`] (statsmodels' `proportion_confint(method="wilson")` and
//!   `confint_proportions_2indep(method="newcomb")`).
//! * SVG charts: [`confusion_matrix_chart`], [`per_class_chart`],
//!   [`feature_importance_chart`], [`cv_scores_chart`].
//!
//! Every input is checked; problems come back as [`EvalError`] naming the input, never as
//! a panic.
//!
//! ## Example
//!
//! ```
//! use obesity_eval::{ClassificationReport, ConfusionMatrix, Scorer, ZeroDivision, mcnemar,
//!     two_proportion_z_test};
//!
//! let y_true = [0, 0, 1, 1, 2, 2];
//! let y_pred = [0, 1, 1, 1, 2, 0];
//! let cm = ConfusionMatrix::new(&y_true, &y_pred, 3)?;
//! assert!((cm.accuracy() - 4.0 / 6.0).abs() < 1e-12);
//!
//! let f1 = Scorer::from_name("f1_macro")?.score(&y_true, &y_pred, None, 3)?;
//! assert!(f1 > 0.6 && f1 < 0.7);
//!
//! let names = ["low", "mid", "high"].map(String::from);
//! let report = ClassificationReport::new(&y_true, &y_pred, &names, ZeroDivision::Warn)?;
//! assert!(report.to_string().contains("macro avg"));
//!
//! // Model A (above) against model B on the same rows, and two A/B arms.
//! let other = [0, 0, 1, 0, 2, 2];
//! assert!(mcnemar(&y_true, &y_pred, &other)?.p_value > 0.05);
//! let ab = two_proportion_z_test(420, 500, 400, 500)?;
//! assert!(ab.ci_low < ab.difference && ab.difference < ab.ci_high);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

/// Re-export of the ndarray version this crate's signatures use (the one linfa uses), so that an
/// application on another ndarray version names this one as `obesity_eval::ndarray`.
pub use ndarray;

#[cfg(feature = "charts")]
mod charts;
mod compare;
mod cv;
mod error;
mod exec;
mod fairness;
mod forest_search;
mod importance;
mod labels;
mod metrics;
mod params;
mod progress;
mod proportions;
mod report;
mod scorer;
mod search;
mod serde_float;

#[cfg(feature = "charts")]
pub use charts::{
    confusion_matrix_chart, cv_scores_chart, feature_importance_chart, per_class_chart,
};
pub use compare::{
    ChiSquareResult, MCNEMAR_EXACT_BELOW, McNemarMethod, McNemarResult, ModelComparison,
    TTestResult, TwoProportionResult, WelchResult, chi_square_2x2, chi_square_contingency,
    compare_models, corrected_resampled_t_test, mcnemar, mcnemar_from_counts,
    two_proportion_z_test, two_proportion_z_test_with_level, welch_t_test,
};
pub use cv::{CvResult, Fold, ScoreSummary, cross_validate, stratified_folds};
pub use error::{EvalError, Result};
pub use fairness::{FairnessReport, GroupMetrics, age_bands, group_fairness};
pub use forest_search::{FOREST_PARAM_NAMES, forest_factory};
pub use importance::{
    FeatureImportanceRow, PermutationImportance, importance_table, permutation_importance,
};
pub use labels::Labels;
pub use metrics::{
    Average, ConfusionMatrix, LabelSet, Metrics, PerClassScores, Prf, Probability, ZeroDivision,
    accuracy, balanced_accuracy, brier_score, cohen_kappa, log_loss, matthews_corrcoef,
    precision_recall_f1, roc_auc_ovr, roc_auc_per_class,
};
pub use params::{Distribution, ParamGrid, ParamSet, ParamSpace, ParamValue};
pub use proportions::{
    Alternative, FisherResult, Interval, fisher_exact, newcombe_interval, wilson_interval,
};
pub use report::{ClassificationReport, ReportRow};
pub use scorer::Scorer;
pub use search::{
    CandidateResult, GridSearch, RandomSearch, SearchOutcome, SearchResults, StrategyFactory,
};
