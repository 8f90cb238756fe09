//! What a trigger decided and why: reasons, vetoes, decisions and audit-trail records.

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::TriggerState;

/// Why a retrain was wanted. Each carries the numbers that decided it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Reason {
    /// Enough new data has arrived.
    NewSamples {
        /// New labelled samples from the state.
        labelled: usize,
        /// Data rows in new files (CSV/TSV rows without the header).
        file_rows: usize,
        /// The new files found.
        new_files: Vec<PathBuf>,
        /// The configured minimum.
        threshold: usize,
    },
    /// The model is too old.
    Stale {
        /// Days since the last retrain (or since the model was trained).
        days_since: f64,
        /// The configured maximum.
        max_days: u32,
    },
    /// Accuracy fell too far below its baseline.
    AccuracyDegradation {
        /// Baseline accuracy.
        baseline: f64,
        /// Current accuracy.
        accuracy: f64,
        /// `baseline − accuracy`.
        drop: f64,
        /// The configured threshold.
        threshold: f64,
    },
    /// The data drifted.
    Drift {
        /// Current drift score.
        score: f64,
        /// The configured threshold.
        threshold: f64,
    },
    /// Too many requests fail.
    ErrorRate {
        /// Current error rate.
        rate: f64,
        /// The configured threshold.
        threshold: f64,
    },
    /// A person asked for it.
    Manual {
        /// Their words.
        reason: String,
    },
}

/// Why a wanted retrain was not allowed now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Veto {
    /// The previous retrain was too recent.
    TooSoon {
        /// Hours since the previous retrain started.
        hours_since: f64,
        /// The configured minimum.
        min_hours: u32,
    },
    /// The daily budget is spent.
    DailyLimit {
        /// Retrains in the last 24 hours.
        retrains_last_24h: u32,
        /// The configured maximum.
        max_per_day: u32,
    },
}

/// A trigger's verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// When it was decided.
    pub at: DateTime<Utc>,
    /// Retrain now? True when there is a reason and no veto.
    pub retrain: bool,
    /// Every reason found (empty: nothing to do).
    pub reasons: Vec<Reason>,
    /// Guards that vetoed the reasons (only checked when there is a reason).
    pub vetoes: Vec<Veto>,
}

/// What happened after a decision, as recorded in the audit trail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
#[non_exhaustive]
pub enum AuditOutcome {
    /// No reason to retrain.
    NotNeeded,
    /// Reasons found, but a guard vetoed them.
    Vetoed,
    /// Retraining was approved (by [`RetrainTrigger::evaluate`](crate::RetrainTrigger::evaluate); a run follows only if the
    /// caller runs it).
    Approved,
    /// The handler produced a new version.
    Succeeded {
        /// The new model version (registered as a challenger).
        new_version: String,
        /// Metrics the handler reported for it.
        metrics: BTreeMap<String, f64>,
        /// When the handler returned.
        finished_at: DateTime<Utc>,
    },
    /// The handler failed.
    Failed {
        /// Its error message.
        error: String,
        /// When the handler returned.
        finished_at: DateTime<Utc>,
    },
}

/// One line of the audit trail: who or what decided, when, why, on which numbers, and the
/// outcome. A retrain that runs leaves two lines with the same `id`: the approval and its
/// result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Format version.
    pub v: u32,
    /// Decision number, increasing.
    pub id: u64,
    /// When the decision was taken (for results: when the retrain started).
    pub at: DateTime<Utc>,
    /// The trigger's name, or `"manual"` for [`RetrainTrigger::force_retrain`](crate::RetrainTrigger::force_retrain).
    pub actor: String,
    /// The reasons found.
    pub reasons: Vec<Reason>,
    /// The guards that vetoed.
    pub vetoes: Vec<Veto>,
    /// The numbers the decision was taken on.
    pub inputs: Option<TriggerState>,
    /// What happened.
    pub outcome: AuditOutcome,
}

impl AuditRecord {
    /// Whether this record is the result of a retrain that ran (successfully or not): the
    /// records the guards count.
    pub fn is_run(&self) -> bool {
        matches!(
            self.outcome,
            AuditOutcome::Succeeded { .. } | AuditOutcome::Failed { .. }
        )
    }
}
