//! The life-cycle commands' error: the message of the crate that failed (which names the
//! file, line, column, key or model that was wrong), printed once as `error: <message>`.

use std::path::PathBuf;

/// Everything `validate`, `train`, `predict`, `evaluate`, `drift` and the DVC stages can
/// fail with. Each maps to exit code 1 (bad usage is clap's exit code 2).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum CliError {
    /// A stage of the pipeline, or params.yaml.
    #[error(transparent)]
    Pipeline(#[from] obesity_mlops::PipelineError),
    /// Loading a CSV file.
    #[error(transparent)]
    Data(#[from] obesity_data::DataError),
    /// The feature pipeline.
    #[error(transparent)]
    Features(#[from] obesity_features::FeatureError),
    /// A model.
    #[error(transparent)]
    Model(#[from] obesity_forest::ModelError),
    /// The tracking store or the registry (unknown model, alias or version ...).
    #[error(transparent)]
    Registry(#[from] obesity_registry::Error),
    /// The drift profile, report or alert policy.
    #[error(transparent)]
    Monitor(#[from] obesity_monitor::MonitorError),
    /// A file that cannot be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A JSON file of a DVC stage that does not parse.
    #[error("{}: {source}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// The parser's message (line and column).
        source: serde_json::Error,
    },
    /// Writing the predictions CSV.
    #[error("{}: {source}", path.display())]
    Csv {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: csv::Error,
    },
    /// Input that the command cannot use, with what was expected.
    #[error("{0}")]
    Invalid(String),
}

/// Result with [`CliError`].
pub(crate) type Result<T, E = CliError> = std::result::Result<T, E>;

/// Reads a file, naming it in the error.
pub(crate) fn read(path: &std::path::Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| CliError::Io {
        path: path.to_owned(),
        source,
    })
}

/// Writes a file (creating its folder), naming it in the error.
pub(crate) fn write(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| CliError::Io {
            path: dir.to_owned(),
            source,
        })?;
    }
    std::fs::write(path, bytes).map_err(|source| CliError::Io {
        path: path.to_owned(),
        source,
    })
}

/// Pretty JSON of a value followed by a newline.
pub(crate) fn json<T: serde::Serialize + ?Sized>(value: &T) -> Result<String> {
    serde_json::to_string_pretty(value)
        .map(|s| s + "\n")
        .map_err(|e| CliError::Invalid(format!("cannot serialise the output: {e}")))
}
