//! The forest crate's error type.

/// Everything that can go wrong when building parameters, training, predicting or loading a
/// model. Each variant names the input that was wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// A hyper-parameter is outside its valid range.
    #[error("invalid parameter `{name}` = {value}: expected {expected}")]
    InvalidParam {
        /// Parameter name, as in `ModelStrategy::params`.
        name: &'static str,
        /// The value given, rendered.
        value: String,
        /// What would have been accepted.
        expected: String,
    },
    /// The input matrix has the wrong number of columns.
    #[error("input has {got} features, but the model was trained on {expected}")]
    FeatureCountMismatch {
        /// Width the model expects.
        expected: usize,
        /// Width given.
        got: usize,
    },
    /// The input matrix has no rows.
    #[error("input has no rows")]
    EmptyInput,
    /// `x` and `y` disagree on the number of rows.
    #[error("x has {x_rows} rows but y has {y_rows} labels")]
    LengthMismatch {
        /// Rows of x.
        x_rows: usize,
        /// Length of y.
        y_rows: usize,
    },
    /// A value is NaN or infinite.
    #[error("non-finite value {value} at row {row}, feature {feature}")]
    NonFinite {
        /// Row index (0-based).
        row: usize,
        /// Column index (0-based).
        feature: usize,
        /// The value.
        value: f32,
    },
    /// A label is not in `0..n_classes`.
    #[error("label {label} at row {row} is outside 0..{n_classes}")]
    LabelOutOfRange {
        /// Row index (0-based).
        row: usize,
        /// The label.
        label: usize,
        /// Number of classes declared.
        n_classes: usize,
    },
    /// A serialized model could not be read.
    #[error("cannot load model: {reason}")]
    Corrupt {
        /// What was wrong (truncated, bad checksum, wrong version, ...).
        reason: String,
    },
    /// An underlying library (linfa, ...) failed.
    #[error("{library} failed: {message}")]
    Backend {
        /// The library.
        library: &'static str,
        /// Its message.
        message: String,
    },
}

/// Result with [`ModelError`] as the default error.
pub type Result<T, E = ModelError> = std::result::Result<T, E>;
