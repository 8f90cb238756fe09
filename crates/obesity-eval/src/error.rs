//! The crate's error type: one enum, every variant naming the input that was wrong.

use obesity_forest::ModelError;

/// Everything that can go wrong while scoring, cross-validating, searching, comparing or
/// charting. Each variant says which input was wrong and what was expected, so a caller can
/// show it to a person without more context.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EvalError {
    /// Two inputs that must have one entry per row disagree in length.
    #[error("`{left}` has {left_len} entries but `{right}` has {right_len}")]
    LengthMismatch {
        /// Name of the first input (`y_true`).
        left: &'static str,
        /// Its length.
        left_len: usize,
        /// Name of the second input (`y_pred`).
        right: &'static str,
        /// Its length.
        right_len: usize,
    },
    /// An input that needs at least one element is empty.
    #[error("`{what}` is empty")]
    EmptyInput {
        /// Which input.
        what: &'static str,
    },
    /// A label is not in `0..n_classes`.
    #[error("`{what}`[{index}] = {label} is outside 0..{n_classes}")]
    LabelOutOfRange {
        /// Which input held it.
        what: &'static str,
        /// Position in that input.
        index: usize,
        /// The label.
        label: usize,
        /// Number of classes declared.
        n_classes: usize,
    },
    /// The probability matrix does not have one column per class.
    #[error("probabilities have {got} columns but n_classes is {expected}")]
    ClassCountMismatch {
        /// The declared number of classes.
        expected: usize,
        /// Columns given.
        got: usize,
    },
    /// A numeric input is NaN or infinite, or outside its valid range.
    #[error("invalid value for `{what}`: {value} (expected {expected})")]
    InvalidValue {
        /// Which input or parameter.
        what: &'static str,
        /// The value, rendered.
        value: String,
        /// What would have been accepted.
        expected: String,
    },
    /// A metric is undefined for this input (ROC-AUC with one class present, ...).
    #[error("{metric} is undefined here: {reason}")]
    Undefined {
        /// The metric.
        metric: &'static str,
        /// Why.
        reason: String,
    },
    /// A scorer name that is not known.
    #[error("unknown scorer `{name}`; valid scorers are: {valid}")]
    UnknownScorer {
        /// The name given.
        name: String,
        /// Comma-separated list of valid names.
        valid: String,
    },
    /// A search was given no candidates, or a parameter with no values.
    #[error("empty search space: {reason}")]
    EmptyGrid {
        /// What was empty.
        reason: String,
    },
    /// A search parameter value has the wrong type or is out of range for the factory.
    #[error("parameter `{name}`: {reason}")]
    BadParam {
        /// Parameter name.
        name: String,
        /// What was wrong.
        reason: String,
    },
    /// A fold index is out of range, or folds are malformed.
    #[error("invalid folds: {reason}")]
    InvalidFolds {
        /// What was wrong.
        reason: String,
    },
    /// One search candidate failed (factory, fit or scoring); the search stops there.
    #[error("candidate {{{params}}} failed: {source}")]
    Candidate {
        /// The candidate's parameters, rendered (`max_depth=10, n_estimators=100`).
        params: String,
        /// What went wrong.
        source: Box<EvalError>,
    },
    /// The folds could not be made (a class too small for k folds, ...).
    #[error("cannot split into folds: {0}")]
    Split(Box<obesity_data::DataError>),
    /// A model failed to fit or predict.
    #[error("model error: {0}")]
    Model(#[from] ModelError),
    /// Writing a chart failed.
    #[error("cannot draw chart `{path}`: {reason}")]
    Chart {
        /// Output path.
        path: String,
        /// The plotting backend's message.
        reason: String,
    },
    /// Any other I/O failure (serialising a report to a file, ...).
    #[error("I/O error on `{path}`: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
}

/// Result with [`EvalError`] as the default error.
pub type Result<T, E = EvalError> = std::result::Result<T, E>;
