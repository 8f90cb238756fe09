//! The facade's error: one variant per crate the pipeline calls, so the message is the
//! crate's own (which names the file, line, column or parameter that was wrong).

use std::path::PathBuf;

/// Everything the train-and-register pipeline can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PipelineError {
    /// Loading or validating the data.
    #[error(transparent)]
    Data(#[from] obesity_data::DataError),
    /// Fitting or applying the feature pipeline.
    #[error(transparent)]
    Features(#[from] obesity_features::FeatureError),
    /// Training or using a model.
    #[error(transparent)]
    Model(#[from] obesity_forest::ModelError),
    /// Metrics, cross-validation, search or charts.
    #[error(transparent)]
    Eval(#[from] obesity_eval::EvalError),
    /// Tracking or the registry.
    #[error(transparent)]
    Registry(#[from] obesity_registry::Error),
    /// Exporting the model as ONNX (the registered version's `model.onnx`).
    #[error(transparent)]
    Onnx(#[from] obesity_onnx::OnnxError),
    /// The reference profile for drift monitoring.
    #[error(transparent)]
    Monitor(#[from] obesity_monitor::MonitorError),
    /// A config file that is not valid JSON for [`TrainConfig`](crate::pipeline::TrainConfig).
    #[error("{}: invalid config: {source}", path.display())]
    Config {
        /// The file.
        path: PathBuf,
        /// The parser's message (with line and column).
        source: serde_json::Error,
    },
    /// A `params.yaml` with an unknown key or a bad value.
    #[error("{}: {message}", location(path, *line, *column))]
    Params {
        /// The file.
        path: PathBuf,
        /// Line of the offending key (1-based), when the parser knows it.
        line: Option<usize>,
        /// Column (1-based), when the parser knows it.
        column: Option<usize>,
        /// What was wrong (names the key).
        message: String,
    },
    /// A stage input that does not fit the data (a `split.json` index past the last row).
    #[error("{path}: the split names row {index}, but the file has {rows} rows (rerun the featurize stage)", path = path.display())]
    Split {
        /// The data file.
        path: PathBuf,
        /// The index.
        index: usize,
        /// Rows in the file.
        rows: usize,
    },
    /// Serialising a report.
    #[error("cannot serialise a report: {0}")]
    Json(#[source] serde_json::Error),
    /// Reading or writing a file.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

fn location(path: &std::path::Path, line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!("{}:{l}:{c}", path.display()),
        (Some(l), None) => format!("{}:{l}", path.display()),
        _ => path.display().to_string(),
    }
}

/// Result with [`PipelineError`] as the default error.
pub type Result<T, E = PipelineError> = std::result::Result<T, E>;
