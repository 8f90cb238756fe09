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

/// The tags this build knows, by field: `outcome` of [`AuditOutcome`], `kind` of each
/// [`Reason`] and [`Veto`]. Kept next to [`tag_of_outcome`], [`tag_of_reason`] and
/// [`tag_of_veto`], whose exhaustive matches fail to compile when a variant is added.
const OUTCOME_TAGS: [&str; 5] = ["not_needed", "vetoed", "approved", "succeeded", "failed"];
const REASON_TAGS: [&str; 6] = [
    "new_samples",
    "stale",
    "accuracy_degradation",
    "drift",
    "error_rate",
    "manual",
];
const VETO_TAGS: [&str; 2] = ["too_soon", "daily_limit"];

#[cfg_attr(not(test), allow(dead_code))]
fn tag_of_outcome(o: &AuditOutcome) -> &'static str {
    match o {
        AuditOutcome::NotNeeded => OUTCOME_TAGS[0],
        AuditOutcome::Vetoed => OUTCOME_TAGS[1],
        AuditOutcome::Approved => OUTCOME_TAGS[2],
        AuditOutcome::Succeeded { .. } => OUTCOME_TAGS[3],
        AuditOutcome::Failed { .. } => OUTCOME_TAGS[4],
    }
}

#[cfg_attr(not(test), allow(dead_code))]
fn tag_of_reason(r: &Reason) -> &'static str {
    match r {
        Reason::NewSamples { .. } => REASON_TAGS[0],
        Reason::Stale { .. } => REASON_TAGS[1],
        Reason::AccuracyDegradation { .. } => REASON_TAGS[2],
        Reason::Drift { .. } => REASON_TAGS[3],
        Reason::ErrorRate { .. } => REASON_TAGS[4],
        Reason::Manual { .. } => REASON_TAGS[5],
    }
}

#[cfg_attr(not(test), allow(dead_code))]
fn tag_of_veto(v: &Veto) -> &'static str {
    match v {
        Veto::TooSoon { .. } => VETO_TAGS[0],
        Veto::DailyLimit { .. } => VETO_TAGS[1],
    }
}

/// The first outcome, reason or veto tag in an audit line that this build does not know
/// (a newer build's variant), described.
pub(super) fn unknown_tag(value: &serde_json::Value) -> Option<String> {
    let tag = |v: &serde_json::Value, field: &str| {
        v.get(field)
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
    };
    if let Some(t) = tag(value, "outcome").filter(|t| !OUTCOME_TAGS.contains(&t.as_str())) {
        return Some(format!("outcome `{t}`"));
    }
    for (field, known) in [("reasons", &REASON_TAGS[..]), ("vetoes", &VETO_TAGS[..])] {
        let items = value.get(field).and_then(serde_json::Value::as_array);
        for item in items.into_iter().flatten() {
            if let Some(t) = tag(item, "kind").filter(|t| !known.contains(&t.as_str())) {
                return Some(format!("{field} kind `{t}`"));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_tags_are_the_serialised_ones() {
        let at = DateTime::<Utc>::MIN_UTC;
        let outcomes = [
            AuditOutcome::NotNeeded,
            AuditOutcome::Vetoed,
            AuditOutcome::Approved,
            AuditOutcome::Succeeded {
                new_version: "2".into(),
                metrics: BTreeMap::new(),
                finished_at: at,
            },
            AuditOutcome::Failed {
                error: "x".into(),
                finished_at: at,
            },
        ];
        for o in &outcomes {
            let v = serde_json::to_value(o).unwrap_or_default();
            assert_eq!(v["outcome"], tag_of_outcome(o));
        }
        let reasons = [
            Reason::NewSamples {
                labelled: 1,
                file_rows: 0,
                new_files: vec![],
                threshold: 1,
            },
            Reason::Stale {
                days_since: 1.0,
                max_days: 1,
            },
            Reason::AccuracyDegradation {
                baseline: 0.9,
                accuracy: 0.8,
                drop: 0.1,
                threshold: 0.05,
            },
            Reason::Drift {
                score: 0.5,
                threshold: 0.1,
            },
            Reason::ErrorRate {
                rate: 0.5,
                threshold: 0.1,
            },
            Reason::Manual { reason: "x".into() },
        ];
        for r in &reasons {
            let v = serde_json::to_value(r).unwrap_or_default();
            assert_eq!(v["kind"], tag_of_reason(r));
        }
        let vetoes = [
            Veto::TooSoon {
                hours_since: 1.0,
                min_hours: 2,
            },
            Veto::DailyLimit {
                retrains_last_24h: 3,
                max_per_day: 3,
            },
        ];
        for v in &vetoes {
            let j = serde_json::to_value(v).unwrap_or_default();
            assert_eq!(j["kind"], tag_of_veto(v));
        }
        let line = serde_json::json!({"v": 1, "outcome": "approved",
            "reasons": [{"kind": "drift"}, {"kind": "quantum"}], "vetoes": []});
        assert_eq!(
            unknown_tag(&line).as_deref(),
            Some("reasons kind `quantum`")
        );
        let line = serde_json::json!({"v": 1, "outcome": "deferred"});
        assert_eq!(unknown_tag(&line).as_deref(), Some("outcome `deferred`"));
    }
}
