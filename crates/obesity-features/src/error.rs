//! The crate's one error type. Every variant names the input that was wrong: the row (the
//! index of the record in the slice you passed, 0-based), the column and the value.

use std::path::PathBuf;

/// Everything that can go wrong when fitting, applying, saving or loading a feature pipeline.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FeatureError {
    /// `fit` was given no records: there is nothing to learn levels or scaling from.
    #[error("cannot fit a feature pipeline on zero records")]
    EmptyFit,

    /// A labelled data set was asked for, but a record has no target.
    #[error(
        "row {row}: the target column {column} is empty, but a labelled data set was asked for \
         (use transform() for unlabelled records)"
    )]
    MissingTarget {
        /// Index of the record in the input slice (0-based).
        row: usize,
        /// Name of the target column (`NObeyesdad`).
        column: String,
    },

    /// A category level that was not in the records the pipeline was fitted on, under
    /// [`UnseenCategory::Error`](crate::UnseenCategory::Error).
    #[error(
        "row {row}: column {column} has level {value:?}, which was not seen when the pipeline \
         was fitted (rule: error); seen levels: {seen:?}"
    )]
    UnseenCategory {
        /// Index of the record in the input slice (0-based).
        row: usize,
        /// Column name, as in the schema (`CALC`).
        column: String,
        /// The level found (`Always`).
        value: String,
        /// The levels seen during fit, in schema order.
        seen: Vec<String>,
    },

    /// A numeric input (or BMI computed from it) is NaN, infinite, or too large for an `f32`
    /// feature.
    #[error(
        "row {row}: {column} = {value} does not give a finite f32 feature \
         (expected a finite number with magnitude below 3.4e38; BMI also needs Height != 0)"
    )]
    NonFinite {
        /// Index of the record in the input slice (0-based).
        row: usize,
        /// Column name (`Height`, or `BMI` for the derived column).
        column: String,
        /// The offending value, before scaling.
        value: f64,
    },

    /// A saved pipeline was written by a format this build does not read.
    #[error(
        "unsupported feature-pipeline format version {found}: this build reads version \
         {supported} (a newer obesity-features wrote it, or the file is not a pipeline)"
    )]
    UnsupportedFormatVersion {
        /// The version in the file.
        found: u64,
        /// The version this build reads and writes.
        supported: u32,
    },

    /// A saved pipeline parses as JSON but is not self-consistent (edited by hand, truncated
    /// arrays, a level that does not exist, a zero scale ...).
    #[error("invalid feature pipeline: field {field} is {value}, expected {expected}")]
    InvalidPipeline {
        /// Path of the field inside the document (`columns[3].scale`).
        field: String,
        /// What was found.
        value: String,
        /// What was expected.
        expected: String,
    },

    /// A saved pipeline is not valid JSON, or does not have the pipeline's shape.
    #[error("feature pipeline JSON is malformed: {source}")]
    Json {
        /// The parser's error, with line and column.
        #[source]
        source: serde_json::Error,
    },

    /// Loading a pipeline file failed; `source` says why (bad JSON, wrong version ...).
    #[error("in feature pipeline file {}: {source}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What was wrong with its content.
        #[source]
        source: Box<FeatureError>,
    },

    /// Reading or writing a pipeline file failed.
    #[error("cannot {action} feature pipeline file {}: {source}", path.display())]
    Io {
        /// `read` or `write`.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },

    /// A derived column that cannot be computed: its name is taken, an input is not a
    /// numeric column of the schema, or (loading a saved pipeline) the app did not supply
    /// its function or supplied one with other inputs.
    #[error("derived column {name}: {problem}")]
    Derivation {
        /// The derived column's name.
        name: String,
        /// What is wrong.
        problem: String,
    },

    /// A table of another schema was given to a fitted table pipeline.
    #[error(
        "the table's schema differs from the pipeline's: expected columns {expected:?}, found {found:?}"
    )]
    SchemaMismatch {
        /// The pipeline's schema's columns.
        expected: Vec<String>,
        /// The table's schema's columns.
        found: Vec<String>,
    },

    /// The parts given to [`Dataset::new`](crate::Dataset::new) do not fit together.
    #[error("dataset {what}: expected {expected}, found {found}")]
    Shape {
        /// Which part is wrong (`y length`, `feature_names length`, `y[17]`).
        what: String,
        /// What it should be.
        expected: String,
        /// What it is.
        found: String,
    },
}

impl FeatureError {
    /// [`FeatureError::InvalidPipeline`] for a saved pipeline's field: where, what was found,
    /// what was expected (what both pipeline readers report).
    pub(crate) fn invalid_pipeline(
        field: impl Into<String>,
        value: impl Into<String>,
        expected: impl Into<String>,
    ) -> Self {
        FeatureError::InvalidPipeline {
            field: field.into(),
            value: value.into(),
            expected: expected.into(),
        }
    }
}

/// The crate's result type.
pub type Result<T, E = FeatureError> = std::result::Result<T, E>;
