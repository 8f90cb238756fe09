//! Choosing a store from a tracking URI, as `mlflow.set_tracking_uri` does.

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::local::LocalStore;
use crate::store::Store;

/// Environment variable read first by [`tracking_uri_from_env`].
pub const OBESITY_TRACKING_URI_ENV: &str = "OBESITY_TRACKING_URI";
/// MLflow's environment variable, read second.
pub const MLFLOW_TRACKING_URI_ENV: &str = "MLFLOW_TRACKING_URI";

/// The tracking URI to use when none is given: `$OBESITY_TRACKING_URI`, else
/// `$MLFLOW_TRACKING_URI`, else `./mlruns`.
pub fn tracking_uri_from_env() -> String {
    [OBESITY_TRACKING_URI_ENV, MLFLOW_TRACKING_URI_ENV]
        .iter()
        .filter_map(|k| std::env::var(k).ok())
        .find(|v| !v.trim().is_empty())
        .unwrap_or_else(|| LocalStore::DEFAULT_DIR.to_string())
}

/// Opens the store a tracking URI names: a folder path or `file://` URI gives a
/// [`LocalStore`]; `http://` / `https://` gives the MLflow tracking-server store.
///
/// This is the one place the choice is made, so the CLI, the examples and the server agree.
pub fn open_store(uri: &str) -> Result<Arc<dyn Store>> {
    let uri = uri.trim();
    if uri.is_empty() {
        return Err(Error::UnsupportedUri {
            uri: uri.to_string(),
            reason: "empty tracking uri".into(),
        });
    }
    let lower = uri.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        return open_http(uri);
    }
    if let Some(rest) = uri.strip_prefix("file://") {
        let path = crate::local::file_uri_path(rest).ok_or_else(|| Error::UnsupportedUri {
            uri: uri.to_string(),
            reason: "malformed file:// uri".into(),
        })?;
        return Ok(Arc::new(LocalStore::open(path)?));
    }
    if let Some((scheme, _)) = uri.split_once("://") {
        return Err(Error::UnsupportedUri {
            uri: uri.to_string(),
            reason: format!(
                "scheme {scheme:?} is not supported; use a folder, file:// or http:// (https:// needs a local http endpoint in front: no TLS client is built in)"
            ),
        });
    }
    Ok(Arc::new(LocalStore::open(uri)?))
}

#[cfg(feature = "mlflow")]
fn open_http(uri: &str) -> Result<Arc<dyn Store>> {
    Ok(Arc::new(crate::mlflow::MlflowStore::new(uri)?))
}

/// Without the `mlflow` feature there is no HTTP client to talk to a server with.
#[cfg(not(feature = "mlflow"))]
fn open_http(uri: &str) -> Result<Arc<dyn Store>> {
    Err(Error::UnsupportedUri {
        uri: uri.to_string(),
        reason: "this build of obesity-registry has no MLflow client: enable its `mlflow` \
                 feature (on by default) to use a tracking server"
            .into(),
    })
}
