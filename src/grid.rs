//! The obesity worked example's hyper-parameter grid.
//!
//! The Python project this workspace replaces (its scikit-learn scripts, which our docs call
//! "the seeds") tuned its `RandomForestClassifier` with `GridSearchCV` over this grid; it
//! lives here, next to the obesity pipeline, because it is that project's choice, not a
//! general default of the evaluation crate.

use obesity_eval::ParamGrid;

/// The grid the original Python project searched: `n_estimators` {100, 200, 300} ×
/// `max_depth` {10, 15, 20, None} × `min_samples_split` {2, 5, 10} × `min_samples_leaf`
/// {1, 2, 4} × `max_features` {sqrt, log2} = 216 candidates, for
/// [`forest_factory`](obesity_eval::forest_factory).
///
/// ```
/// assert_eq!(obesity_mlops::grid::obesity_forest_grid().len(), 216);
/// ```
pub fn obesity_forest_grid() -> ParamGrid {
    ParamGrid::new()
        .add("n_estimators", [100, 200, 300])
        .add("max_depth", [Some(10), Some(15), Some(20), None])
        .add("min_samples_split", [2, 5, 10])
        .add("min_samples_leaf", [1, 2, 4])
        .add("max_features", ["sqrt", "log2"])
}
