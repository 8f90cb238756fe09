//! The forest crate's error type.

use crate::isa::Isa;

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
    /// A field of a model file holds a value no model of this crate can have: the file was
    /// altered (possibly with its checksum recomputed) or written by something else. Counts
    /// are checked against the file's size before anything is allocated for them.
    #[error("invalid model file: {field} is {value}, expected {expected}")]
    InvalidModelField {
        /// The field (`n_features`, `left child of node 12`, ...).
        field: String,
        /// Its value in the file, rendered.
        value: String,
        /// What a valid file holds there.
        expected: String,
    },
    /// The output buffer given to a one-row prediction has the wrong length.
    #[error("output buffer has length {got}, but the model has {expected} classes")]
    OutputLength {
        /// Number of classes.
        expected: usize,
        /// Length given.
        got: usize,
    },
    /// The bytes do not start with any model header this crate knows.
    #[error("unknown model format: header {found:?} is none of {known}")]
    UnknownFormat {
        /// The first bytes found (up to 8), escaped.
        found: String,
        /// The header(s) expected: the one asked for, or every one this build reads.
        known: String,
    },
    /// The header names a format version this build cannot read.
    #[error("unsupported {format} format version {found} (this build reads version {supported})")]
    UnsupportedVersion {
        /// Which format (`random_forest`, `linfa_decision_tree`).
        format: &'static str,
        /// Version in the file.
        found: u32,
        /// Version this build reads.
        supported: u32,
    },
    /// The input ends before a field it announces.
    #[error(
        "truncated model: {what} needs {needed} bytes at offset {offset}, only {available} left"
    )]
    Truncated {
        /// The field being read.
        what: &'static str,
        /// Bytes needed.
        needed: usize,
        /// Where it starts.
        offset: usize,
        /// Bytes available from there.
        available: usize,
    },
    /// A classifier without a file format was asked for its bytes (the default
    /// [`Classifier::to_bytes`](crate::Classifier::to_bytes)).
    #[error(
        "model `{model}` has no file format: implement Classifier::to_bytes (wrap the payload \
         with obesity_forest::envelope::seal under a magic of your own) and register a \
         ClassifierLoader for it with the registry, so a registered version can be loaded back"
    )]
    NotPersistable {
        /// The classifier's name.
        model: String,
    },
    /// The CRC32 stored in the file does not match its content: the bytes were altered.
    #[error("corrupted model: CRC32 stored {stored:#010x}, computed {computed:#010x}")]
    ChecksumMismatch {
        /// Checksum in the file.
        stored: u32,
        /// Checksum of the content.
        computed: u32,
    },
    /// An instruction set was asked for explicitly
    /// ([`ForestParamsBuilder::isa`](crate::ForestParamsBuilder::isa),
    /// [`RandomForest::with_isa`](crate::RandomForest::with_isa)) that this CPU does not run.
    #[error(
        "this CPU does not support the {requested} instruction set (the widest it runs is {detected})"
    )]
    IsaUnavailable {
        /// The instruction set asked for.
        requested: Isa,
        /// The widest one this CPU runs.
        detected: Isa,
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
