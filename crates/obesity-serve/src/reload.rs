//! Hot reload: re-resolve the configured references (aliases, stages, `latest`), load the
//! versions that moved, and swap the whole set atomically.
//!
//! A request holds the set it started with (an `Arc`), so a swap never fails or changes a
//! request in flight, and the old version is freed when its last request ends. A version
//! that fails to load (unreadable artifact, a pipeline the signature does not fit ...) is
//! logged and the previous one keeps serving; the next poll tries again.

use std::sync::Arc;
use std::time::Duration;

use obesity_registry::ModelRef;
use serde::Serialize;

use crate::error::Result;
use crate::model::{self, ServedModel};
use crate::state::{AppState, Models, blocking};

/// A reference whose version changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReloadChange {
    /// The reference (`models:/NAME@champion`).
    pub reference: String,
    /// The version it served before.
    pub from: u64,
    /// The version it serves now.
    pub to: u64,
}

/// A reference that could not be moved to its new version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReloadFailure {
    /// The reference.
    pub reference: String,
    /// The version it now points to, when that much was resolved.
    pub version: Option<u64>,
    /// The version still served for it.
    pub kept: u64,
    /// What went wrong (for logs and library callers; the HTTP answer leaves it out).
    #[serde(skip)]
    pub error: String,
}

/// What a reload did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReloadReport {
    /// The version served by default after the reload.
    pub primary_version: u64,
    /// Every loaded version after the reload.
    pub loaded_versions: Vec<u64>,
    /// References that moved.
    pub changes: Vec<ReloadChange>,
    /// References that could not move (their previous version keeps serving).
    pub failures: Vec<ReloadFailure>,
}

/// One reload pass. Serialised with other reloads.
pub(crate) async fn reload(state: &AppState, _forced: bool) -> Result<ReloadReport> {
    let inner = state.inner.clone();
    let _guard = inner.reload_lock.lock().await;
    let current = inner.models.load_full();
    let refs = inner.refs.clone();
    let registry = inner.registry.clone();
    let resolved: Vec<std::result::Result<u64, String>> = {
        let refs = refs.clone();
        blocking(move || {
            Ok(refs
                .iter()
                .map(|r| {
                    registry
                        .resolve(r)
                        .map(|v| v.version)
                        .map_err(|e| e.to_string())
                })
                .collect())
        })
        .await?
    };
    let mut changes = Vec::new();
    let mut failures = Vec::new();
    let mut by_ref = Vec::with_capacity(refs.len());
    let mut fresh: Vec<Arc<ServedModel>> = Vec::new();
    for ((reference, old), target) in refs.iter().zip(&current.by_ref).zip(resolved) {
        let fail = |version, error: String| ReloadFailure {
            reference: reference.to_string(),
            version,
            kept: old.version,
            error,
        };
        let next = match target {
            Ok(v) if v == old.version => old.clone(),
            Ok(v) => match find(&current, &fresh, v) {
                Some(m) => m,
                None => match load_version(state, reference, v).await {
                    Ok(m) => {
                        fresh.push(m.clone());
                        m
                    }
                    Err(e) => {
                        failures.push(fail(Some(v), e));
                        old.clone()
                    }
                },
            },
            Err(e) => {
                failures.push(fail(None, e));
                old.clone()
            }
        };
        if next.version != old.version {
            changes.push(ReloadChange {
                reference: reference.to_string(),
                from: old.version,
                to: next.version,
            });
        }
        by_ref.push(next);
    }
    let primary = by_ref
        .first()
        .cloned()
        .unwrap_or_else(|| current.primary.clone());
    let mut pinned: Vec<Arc<ServedModel>> = Vec::new();
    for v in inner.experiments.pinned_versions() {
        if by_ref.iter().chain(&pinned).any(|m| m.version == v) {
            continue;
        }
        let found = find(&current, &fresh, v);
        let model = match found {
            Some(m) => Some(m),
            None => {
                let reference = ModelRef::Version {
                    name: primary.name.clone(),
                    version: v,
                };
                match load_version(state, &reference, v).await {
                    Ok(m) => Some(m),
                    Err(e) => {
                        tracing::warn!(version = v, error = %e, "experiment version not loaded");
                        None
                    }
                }
            }
        };
        pinned.extend(model);
    }
    let same_set = by_ref.len() == current.by_ref.len()
        && by_ref
            .iter()
            .zip(&current.by_ref)
            .all(|(a, b)| Arc::ptr_eq(a, b))
        && pinned.len() == current.pinned.len()
        && pinned
            .iter()
            .zip(&current.pinned)
            .all(|(a, b)| Arc::ptr_eq(a, b));
    if !same_set {
        inner.models.store(Arc::new(Models {
            primary,
            by_ref,
            pinned,
        }));
        state.publish_loaded();
    }
    for c in &changes {
        tracing::info!(reference = %c.reference, from = c.from, to = c.to, "model version swapped");
    }
    for f in &failures {
        tracing::warn!(
            reference = %f.reference,
            version = ?f.version,
            kept = f.kept,
            error = %f.error,
            "model version not loaded; the previous one keeps serving"
        );
    }
    inner.metrics.reload(if !failures.is_empty() {
        "failed"
    } else if changes.is_empty() {
        "unchanged"
    } else {
        "loaded"
    });
    let models = inner.models.load();
    Ok(ReloadReport {
        primary_version: models.primary.version,
        loaded_versions: models.loaded_versions(),
        changes,
        failures,
    })
}

fn find(current: &Models, fresh: &[Arc<ServedModel>], v: u64) -> Option<Arc<ServedModel>> {
    current
        .version(v)
        .cloned()
        .or_else(|| fresh.iter().find(|m| m.version == v).cloned())
}

/// Loads version `v` of the reference's model (by number, so a reference that moves again
/// meanwhile cannot hand back a different version than the one resolved).
async fn load_version(
    state: &AppState,
    reference: &ModelRef,
    v: u64,
) -> std::result::Result<Arc<ServedModel>, String> {
    let registry = state.inner.registry.clone();
    let metrics = state.inner.metrics.clone();
    let batching = state.config().batching;
    let exact = ModelRef::Version {
        name: reference.name().to_owned(),
        version: v,
    };
    blocking(move || model::load(&registry, &exact, &metrics, batching))
        .await
        .map_err(|e| e.to_string())
}

/// Polls every `interval` until `stop` fires.
pub(crate) fn spawn_poller(
    state: AppState,
    interval: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if interval.is_zero() {
            return;
        }
        loop {
            tokio::select! {
                () = tokio::time::sleep(interval) => {}
                _ = stop.changed() => return,
            }
            if let Err(e) = reload(&state, false).await {
                tracing::warn!(error = %e, "alias poll failed");
            }
        }
    })
}
