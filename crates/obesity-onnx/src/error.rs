//! The one error type of this crate.

use std::path::PathBuf;

use obesity_features::FeatureError;
use obesity_forest::ModelError;

/// Everything that can go wrong while exporting, writing or reading an ONNX model. Each
/// variant names the input that was wrong and what was expected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OnnxError {
    /// The forest reads a different number of columns than the pipeline writes.
    #[error(
        "the forest was trained on {forest} features, but the feature pipeline makes {pipeline}"
    )]
    FeatureCountMismatch {
        /// Columns the forest expects.
        forest: usize,
        /// Columns the pipeline produces.
        pipeline: usize,
    },

    /// The class names do not match the forest's classes one to one.
    #[error("{got} class names were given, but the forest has {expected} classes")]
    ClassCountMismatch {
        /// The forest's number of classes.
        expected: usize,
        /// Names given.
        got: usize,
    },

    /// Two classes, or two outputs, would get the same name.
    #[error("the name {name:?} is used twice ({what}); ONNX labels and value names must be unique")]
    DuplicateName {
        /// The repeated name.
        name: String,
        /// Where it comes from (`class name`, `output name`).
        what: &'static str,
    },

    /// The fitted pipeline uses a setting or a column this exporter does not translate.
    #[error("cannot translate the feature pipeline: {reason}")]
    Pipeline {
        /// What was not understood.
        reason: String,
    },

    /// An error from the forest crate (serializing the forest).
    #[error(transparent)]
    Forest(#[from] ModelError),

    /// An error from the features crate (serializing the pipeline).
    #[error(transparent)]
    Features(#[from] FeatureError),

    /// The pipeline's saved document could not be read back as JSON.
    #[error("reading the feature pipeline's document: {0}")]
    PipelineDocument(#[from] serde_json::Error),

    /// Bytes that are not an ONNX model protobuf.
    #[error("not a valid ONNX model: {0}")]
    Decode(#[from] prost::DecodeError),

    /// A file could not be written or read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// `Result` with [`OnnxError`].
pub type Result<T, E = OnnxError> = std::result::Result<T, E>;
