//! The monitor crate's error type. Each part of the crate adds its variants in its own
//! section below.

/// Everything that can go wrong in monitoring.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MonitorError {
    // --- drift, profile, report ---

    // --- performance, alerts, retrain, abtest ---
    /// Reading or writing a state file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// Result with [`MonitorError`] as the default error.
pub type Result<T, E = MonitorError> = std::result::Result<T, E>;
