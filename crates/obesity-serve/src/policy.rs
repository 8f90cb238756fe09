//! The A/B policy: what the service does with a challenger by itself.
//!
//! - `auto_start`: when the challenger alias points at a version other than the one served
//!   by default, an experiment champion-vs-challenger (`auto-v<challenger>-vs-v<champion>`)
//!   is created and started, once: an experiment of that name that was stopped stays
//!   stopped.
//! - `auto_promote` (off by default): when a running experiment whose control is the
//!   version served by default has `analyze()` recommending "promote treatment" with the
//!   minimum samples reached in both arms, the primary reference's alias is moved to the
//!   treatment version in the registry, the experiment is stopped, and this replica reloads;
//!   every other replica polling the alias follows on its next poll, without a failed
//!   request (see [`crate::reload`]).
//!
//! [`AppState::apply_ab_policy`](crate::AppState::apply_ab_policy) runs one pass (tests call it
//! directly); [`Server`](crate::Server) runs it every check interval.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use obesity_monitor::{AbTest, AbTestConfig, Recommendation, SystemClock, TestStatus};
use obesity_registry::ModelRef;
use serde::Serialize;

use crate::error::{Result, ServeError};
use crate::state::{AppState, blocking};

/// Settings of the A/B policy. Both halves are off by default: the service never starts an
/// experiment or moves the champion unless told to.
#[derive(Debug, Clone, PartialEq)]
pub struct AbPolicy {
    /// Start an experiment against the champion when a new challenger appears. By default,
    /// off.
    pub auto_start: bool,
    /// Promote the treatment of a decided experiment (see the module docs). Needs the
    /// primary reference to be an alias (`models:/NAME@champion`). By default, off.
    pub auto_promote: bool,
    /// The alias that names the challenger. By default, `challenger`.
    pub challenger_alias: String,
    /// Share of enrolled users sent to the challenger in auto-started experiments. By
    /// default, 0.5.
    pub traffic_split: f64,
    /// Outcomes each arm needs before an auto-started experiment can be decided. By
    /// default, 100 (the original Python project's).
    pub min_samples_per_variant: usize,
}

impl Default for AbPolicy {
    fn default() -> Self {
        AbPolicy {
            auto_start: false,
            auto_promote: false,
            challenger_alias: "challenger".to_owned(),
            traffic_split: 0.5,
            min_samples_per_variant: 100,
        }
    }
}

/// Something the policy did.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
#[non_exhaustive]
pub enum PolicyAction {
    /// An experiment was created and started.
    Started {
        /// Its name.
        experiment: String,
        /// The champion's version.
        control: u64,
        /// The challenger's version.
        treatment: u64,
    },
    /// The treatment won and the alias moved to it.
    Promoted {
        /// The experiment that decided.
        experiment: String,
        /// The alias moved (`champion`).
        alias: String,
        /// The version it pointed to.
        from: u64,
        /// The version it points to now.
        to: u64,
    },
}

/// A [`PolicyAction`] with when it happened, for `/experiments` and the dashboard.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct PolicyEvent {
    pub(crate) at: DateTime<Utc>,
    #[serde(flatten)]
    pub(crate) action: PolicyAction,
}

/// Policy events kept.
pub(crate) const POLICY_LOG: usize = 50;

/// One pass of the policy.
pub(crate) async fn apply(state: &AppState) -> Result<Vec<PolicyAction>> {
    let policy = state.config().ab.clone();
    let mut done = Vec::new();
    if policy.auto_start
        && let Some(action) = auto_start(state, &policy).await?
    {
        done.push(action);
    }
    if policy.auto_promote
        && let Some(action) = auto_promote(state).await?
    {
        done.push(action);
    }
    for action in &done {
        tracing::info!(?action, "A/B policy");
        state.log_policy(action.clone());
    }
    Ok(done)
}

async fn auto_start(state: &AppState, policy: &AbPolicy) -> Result<Option<PolicyAction>> {
    let primary = state.inner.models.load().primary.clone();
    let challenger_ref = ModelRef::Alias {
        name: primary.name.clone(),
        alias: policy.challenger_alias.clone(),
    };
    let registry = state.inner.registry.clone();
    let resolved = blocking(move || Ok(registry.resolve(&challenger_ref))).await?;
    let challenger = match resolved {
        Ok(v) => v.version,
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    if challenger == primary.version {
        return Ok(None);
    }
    let name = format!("auto-v{challenger}-vs-v{}", primary.version);
    if state.inner.experiments.get(&name).is_some() {
        return Ok(None);
    }
    let mut config = AbTestConfig::new(
        name.clone(),
        primary.version_label.clone(),
        challenger.to_string(),
    );
    config.traffic_split = policy.traffic_split;
    config.min_samples_per_variant = policy.min_samples_per_variant;
    let dir = state.inner.experiments.dir.clone();
    let test = blocking(move || {
        let clock = Arc::new(SystemClock);
        let mut test = match &dir {
            Some(dir) => AbTest::create(dir, config, clock),
            None => AbTest::in_memory(config, clock),
        }?;
        test.start()?;
        Ok(test)
    })
    .await?;
    state.inner.experiments.insert(name.clone(), test)?;
    state.inner.experiments.refresh_default();
    // Loads (pins) the challenger's version if no reference has it loaded yet.
    let report = state.reload().await?;
    if !report.loaded_versions.contains(&challenger) {
        state.inner.experiments.remove(&name);
        return Err(ServeError::Unservable {
            name: primary.name.clone(),
            version: challenger,
            reason: "the challenger could not be loaded; no experiment was started".into(),
        });
    }
    Ok(Some(PolicyAction::Started {
        experiment: name,
        control: primary.version,
        treatment: challenger,
    }))
}

async fn auto_promote(state: &AppState) -> Result<Option<PolicyAction>> {
    let Some(ModelRef::Alias { name, alias }) = state.inner.refs.first().cloned() else {
        return Ok(None); // refused by ServeConfig::check; nothing to move
    };
    let primary = state.inner.models.load().primary.version;
    for (experiment, shared) in state.inner.experiments.all() {
        let decided = {
            let Ok(test) = shared.lock() else { continue };
            if test.status() != TestStatus::Running
                || test.config().control_version != primary.to_string()
            {
                continue;
            }
            match test.analyze() {
                Ok(a)
                    if a.recommendation == Recommendation::PromoteTreatment
                        && a.min_samples_reached =>
                {
                    test.config().treatment_version.parse::<u64>().ok()
                }
                _ => None,
            }
        };
        let Some(winner) = decided else { continue };
        let (registry, model, a) = (state.inner.registry.clone(), name.clone(), alias.clone());
        blocking(move || Ok(registry.set_alias(&model, &a, winner)?)).await?;
        {
            let stopped = shared.lock().map(|mut t| t.stop().and_then(|()| t.save()));
            if let Ok(Err(e)) = stopped {
                tracing::warn!(experiment = %experiment, error = %e, "experiment not stopped after promotion");
            }
        }
        state.inner.experiments.refresh_default();
        state.reload().await?;
        return Ok(Some(PolicyAction::Promoted {
            experiment,
            alias,
            from: primary,
            to: winner,
        }));
    }
    Ok(None)
}

/// Runs the policy every `interval` until `stop` fires (nothing when both halves are off).
pub(crate) fn spawn(
    state: AppState,
    interval: std::time::Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let policy = &state.config().ab;
        if !(policy.auto_start || policy.auto_promote) || interval.is_zero() {
            return;
        }
        loop {
            if let Err(e) = apply(&state).await {
                tracing::warn!(error = %e, "A/B policy pass failed");
            }
            tokio::select! {
                () = tokio::time::sleep(interval) => {}
                _ = stop.changed() => return,
            }
        }
    })
}
