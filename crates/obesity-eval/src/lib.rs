//! # obesity-eval
#![deny(missing_docs)]

mod charts;
mod compare;
mod cv;
mod error;
mod fairness;
mod forest_search;
mod importance;
mod metrics;
mod params;
mod report;
mod scorer;
mod search;

pub use charts::{
    confusion_matrix_chart, cv_scores_chart, feature_importance_chart, per_class_chart,
};
pub use compare::{
    ChiSquareResult, MCNEMAR_EXACT_BELOW, McNemarMethod, McNemarResult, ModelComparison,
    TTestResult, TwoProportionResult, chi_square_2x2, chi_square_contingency, compare_models,
    corrected_resampled_t_test, mcnemar, mcnemar_from_counts, two_proportion_z_test,
    two_proportion_z_test_with_level,
};
pub use cv::{CvResult, Fold, ScoreSummary, cross_validate, stratified_folds};
pub use error::{EvalError, Result};
pub use fairness::{
    DEFAULT_AGE_CUTS, FairnessReport, GroupMetrics, age_bands, group_fairness,
};
pub use forest_search::{FOREST_PARAM_NAMES, forest_factory, seeds_forest_grid};
pub use importance::{
    FeatureImportanceRow, PermutationImportance, importance_table, permutation_importance,
};
pub use metrics::{
    Average, ConfusionMatrix, LabelSet, Metrics, PerClassScores, Prf, Probability, ZeroDivision,
    accuracy, balanced_accuracy, brier_score, cohen_kappa, log_loss, matthews_corrcoef,
    precision_recall_f1, roc_auc_ovr, roc_auc_per_class,
};
pub use params::{Distribution, ParamGrid, ParamSet, ParamSpace, ParamValue};
pub use report::{ClassificationReport, ReportRow};
pub use scorer::Scorer;
pub use search::{
    CandidateResult, GridSearch, RandomSearch, SearchOutcome, SearchResults, StrategyFactory,
};
