//! The retrain trigger inside the service: `obesity_monitor::RetrainTrigger` fed from the
//! performance monitor, on a schedule, with the training itself injected.
//!
//! The serving crate cannot train (training needs every crate, and a service should not
//! carry that stack unless it wants to), so it takes a [`Retrainer`]: the application —
//! `obesity` with the facade's train-and-register stages, or a test's closure — passes one
//! to [`AppState::attach_retrainer`](crate::AppState::attach_retrainer) together with the
//! trigger's rules and a clock. Every check builds a `TriggerState` from the monitor (its
//! accuracy against the primary version's registered accuracy, drift score, error rate,
//! labelled predictions) and lets the trigger decide; the trigger also counts the rows of
//! new files in its watched data directories. Every decision goes to the audit trail
//! (`<state_dir>/retrain/<model>/audit.jsonl`). A retrain registers its version as a
//! challenger and never moves the champion; the A/B policy ([`crate::AbPolicy`]) takes it
//! from there.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use obesity_monitor::{
    AuditOutcome, AuditRecord, Clock, HandlerError, RetrainHandler, RetrainRequest, RetrainResult,
    RetrainTrigger, RunReport, TriggerState,
};

use crate::error::{Result, ServeError};
use crate::state::{AppState, blocking};

/// Trains and registers a new version when the service's retrain trigger decides to.
///
/// Implementations run the same stages as `obesity train` (validate, featurize, train,
/// evaluate, register) and register the result as a **challenger**: the champion moves only
/// through a promotion (the A/B policy, a person). The call may take minutes; the service
/// runs it on a blocking thread, one at a time, never on a request.
///
/// Any `FnMut(&RetrainRequest) -> Result<RetrainResult, HandlerError> + Send` closure is a
/// `Retrainer`.
pub trait Retrainer: Send + 'static {
    /// Trains, registers, and returns the new version with its metrics.
    ///
    /// # Errors
    /// Whatever failed; it is recorded in the audit trail and the service keeps serving.
    fn retrain(&mut self, request: &RetrainRequest) -> Result<RetrainResult, HandlerError>;
}

impl<F> Retrainer for F
where
    F: FnMut(&RetrainRequest) -> Result<RetrainResult, HandlerError> + Send + 'static,
{
    fn retrain(&mut self, request: &RetrainRequest) -> Result<RetrainResult, HandlerError> {
        self(request)
    }
}

/// Adapts a [`Retrainer`] to the monitor crate's handler trait.
struct Handler<'a>(&'a mut dyn Retrainer);

impl RetrainHandler for Handler<'_> {
    fn retrain(&mut self, request: &RetrainRequest) -> Result<RetrainResult, HandlerError> {
        self.0.retrain(request)
    }
}

/// The attached trigger and its retrainer.
pub(crate) struct RetrainLoop {
    trigger: RetrainTrigger,
    retrainer: Box<dyn Retrainer>,
}

impl std::fmt::Debug for RetrainLoop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RetrainLoop")
            .field("trigger", &self.trigger.name())
            .finish_non_exhaustive()
    }
}

/// Audit records kept for display.
const SHOWN: usize = 20;

impl RetrainLoop {
    pub(crate) fn open(
        state_dir: &std::path::Path,
        model: &str,
        config: obesity_monitor::RetrainingTriggerConfig,
        retrainer: Box<dyn Retrainer>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self> {
        // The trigger's name is a folder name; a registry name may hold characters one
        // cannot.
        let name: String = model
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let trigger = RetrainTrigger::open(
            state_dir,
            if name.is_empty() { "model" } else { &name },
            config,
            clock,
        )?;
        Ok(RetrainLoop { trigger, retrainer })
    }

    /// The latest decisions worth showing (checks that found no reason are left out),
    /// newest first.
    pub(crate) fn recent(&self) -> Vec<AuditRecord> {
        let mut out: Vec<AuditRecord> = self
            .trigger
            .trigger_history(3650)
            .into_iter()
            .filter(|r| !matches!(r.outcome, AuditOutcome::NotNeeded))
            .collect();
        out.reverse();
        out.truncate(SHOWN);
        out
    }
}

/// One check: the monitor's figures to the trigger, and a retrain when it decides so.
/// `None` without an attached retrainer.
pub(crate) async fn check(state: &AppState) -> Result<Option<RunReport>> {
    let Some(lp) = state.inner.retrain.get().cloned() else {
        return Ok(None);
    };
    let primary = state.inner.models.load().primary.clone();
    let shared = state.inner.monitor.shared.clone();
    let window = chrono::Duration::from_std(state.config().monitor_retention)
        .unwrap_or(chrono::Duration::hours(24));
    let report = blocking(move || {
        let summary = shared
            .monitor
            .lock()
            .map_err(|_| ServeError::Task("monitor lock poisoned".into()))?
            .summary(window);
        let mut inputs =
            TriggerState::from_summary(&summary, primary.lineage.metrics.get("accuracy").copied());
        inputs.model_trained_at =
            chrono::DateTime::from_timestamp_millis(primary.meta.creation_timestamp);
        let mut lp = lp.lock().unwrap_or_else(PoisonError::into_inner);
        let RetrainLoop { trigger, retrainer } = &mut *lp;
        Ok(trigger.run(&inputs, &mut Handler(retrainer.as_mut()))?)
    })
    .await?;
    if let Some(result) = &report.result {
        tracing::info!(
            version = %result.new_version,
            reasons = ?report.decision.reasons,
            "retrained; the new version is a challenger"
        );
        // A configured challenger reference picks the new version up now.
        state.reload().await?;
    }
    Ok(Some(report))
}

/// Checks every `interval` until `stop` fires (nothing without an attached retrainer).
pub(crate) fn spawn(
    state: AppState,
    interval: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if state.inner.retrain.get().is_none() || interval.is_zero() {
            return;
        }
        loop {
            tokio::select! {
                () = tokio::time::sleep(interval) => {}
                _ = stop.changed() => return,
            }
            if let Err(e) = check(&state).await {
                tracing::warn!(error = %e, "retrain check failed");
            }
        }
    })
}

/// The shared slot of the attached loop.
pub(crate) type Slot = std::sync::OnceLock<Arc<Mutex<RetrainLoop>>>;
