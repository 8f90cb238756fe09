//! Integration tests of obesity-registry (one binary, modules by topic).

pub mod conformance;
mod local;
mod mlflow_client;
mod mlflow_interop;
mod mlflow_server;
mod mlmodel;
mod processes;
mod promotion;
mod props;
mod registry;
mod search;
mod signature;
mod tracking;

use std::sync::Arc;

use obesity_registry::{LocalStore, Store};

/// A fresh local store in a temp dir (the dir is returned to keep it alive).
pub fn temp_store() -> (tempfile::TempDir, Arc<dyn Store>, LocalStore) {
    let dir = tempfile::tempdir().expect("tempdir");
    let local = LocalStore::open(dir.path().join("mlruns")).expect("open store");
    (dir, Arc::new(local.clone()), local)
}
