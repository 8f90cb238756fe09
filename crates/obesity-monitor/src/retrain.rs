//! Retraining triggers: decide from the monitor's numbers and from new data files whether a
//! model should be retrained, veto when guards say "not now", run a user-supplied handler,
//! and keep an audit trail of every decision (who, what, why, when, the numbers, the
//! outcome).

mod audit;
mod config;

use std::collections::{BTreeMap, BTreeSet};
use std::error::Error as StdError;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::clock::Clock;
use crate::error::{MonitorError, Result};
use crate::performance::{
    JsonlLog, LogRecord, PerformanceSummary, SkipReason, SkippedLine, TornTail, newer_version,
    validate_name,
};

pub use audit::{AuditOutcome, AuditRecord, Decision, Reason, Veto};
pub use config::RetrainingTriggerConfig;

/// Version of the audit-line format.
const AUDIT_FORMAT_VERSION: u32 = 1;

/// The actor recorded for [`RetrainTrigger::force_retrain`].
pub const MANUAL_ACTOR: &str = "manual";

/// The numbers a trigger decides from: the monitor's view of the serving model.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TriggerState {
    /// Current accuracy (from labelled predictions), if known.
    pub accuracy: Option<f64>,
    /// Accuracy the model had when accepted; degradation is measured from it.
    pub baseline_accuracy: Option<f64>,
    /// Current drift score, if known.
    pub drift_score: Option<f64>,
    /// Current error rate, if known.
    pub error_rate: Option<f64>,
    /// New labelled samples available for training since the last retrain.
    pub new_samples: usize,
    /// When the serving model was trained, used until the trigger has a retrain of its own
    /// in its history.
    pub model_trained_at: Option<DateTime<Utc>>,
}

impl TriggerState {
    /// The state a monitor summary describes: its accuracy, drift score, error rate, and its
    /// labelled predictions as new samples.
    pub fn from_summary(summary: &PerformanceSummary, baseline_accuracy: Option<f64>) -> Self {
        Self {
            accuracy: summary.accuracy,
            baseline_accuracy,
            drift_score: summary.drift_score,
            error_rate: summary.error_rate,
            new_samples: summary.n_labelled,
            model_trained_at: None,
        }
    }
}

/// What a retrain handler is asked to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetrainRequest {
    /// Who asked: the trigger's name or `"manual"`.
    pub actor: String,
    /// When.
    pub at: DateTime<Utc>,
    /// Why.
    pub reasons: Vec<Reason>,
}

/// What a retrain handler produced.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RetrainResult {
    /// The new model version, as the registry numbered it.
    pub new_version: String,
    /// Its evaluation metrics (accuracy, f1_macro, ...).
    pub metrics: BTreeMap<String, f64>,
}

/// Error type a retrain handler may return: anything.
pub type HandlerError = Box<dyn StdError + Send + Sync>;

/// The work a retrain does. The default is `obesity_mlops::TrainAndRegister` in the facade
/// package (the train-and-register pipeline; it lives there because it needs every crate):
/// it loads the data, fits features and a forest, evaluates them, and registers the new
/// version as a **challenger**: it never moves the champion alias by itself — promotion
/// stays a separate, deliberate step (a promotion policy, an A/B test, a person).
/// Any closure `FnMut(&RetrainRequest) -> Result<RetrainResult, HandlerError>` is a handler.
pub trait RetrainHandler {
    /// Retrains and returns the new version.
    ///
    /// # Errors
    /// Whatever failed; it is recorded in the audit trail and returned to the caller.
    fn retrain(&mut self, request: &RetrainRequest) -> Result<RetrainResult, HandlerError>;
}

impl<F> RetrainHandler for F
where
    F: FnMut(&RetrainRequest) -> Result<RetrainResult, HandlerError>,
{
    fn retrain(&mut self, request: &RetrainRequest) -> Result<RetrainResult, HandlerError> {
        self(request)
    }
}

/// A decision and, when it approved a retrain, the handler's result.
#[derive(Debug, Clone, PartialEq)]
pub struct RunReport {
    /// The decision.
    pub decision: Decision,
    /// The new version, when a retrain ran.
    pub result: Option<RetrainResult>,
}

/// Decides when to retrain, runs the retrain, and keeps the audit trail
/// (`<store>/retrain/<name>/audit.jsonl`, JSON lines, crash-safe like the monitor's log).
#[derive(Debug)]
pub struct RetrainTrigger {
    name: String,
    config: RetrainingTriggerConfig,
    clock: Arc<dyn Clock>,
    log: JsonlLog,
    history: Vec<AuditRecord>,
    next_id: u64,
    torn: Option<TornTail>,
    skipped: Vec<SkippedLine>,
}

impl LogRecord for AuditRecord {
    fn unreadable(value: &serde_json::Value) -> Option<SkipReason> {
        if let Some(newer) = newer_version(value, AUDIT_FORMAT_VERSION) {
            return Some(newer);
        }
        if value.get("v").is_none() || value.get("outcome").is_none() {
            return Some(SkipReason::NotARecord {
                detail: "no `v` or `outcome` field".into(),
            });
        }
        audit::unknown_tag(value).map(|detail| SkipReason::NewerFormat { detail })
    }
}

impl RetrainTrigger {
    /// The audit file of trigger `name` under the store directory `store`.
    pub fn audit_path(store: &Path, name: &str) -> PathBuf {
        store.join("retrain").join(name).join("audit.jsonl")
    }

    /// Opens (or creates) trigger `name` with its audit trail under `store`, reading its
    /// history back (a torn last line is removed and reported by
    /// [`RetrainTrigger::torn_tail`]; complete lines written by a newer version, or
    /// unreadable, are kept, skipped with a warning and reported by
    /// [`RetrainTrigger::skipped_lines`]).
    ///
    /// # Errors
    /// [`MonitorError::InvalidConfig`] for a bad config or name (empty, with path separators,
    /// or the reserved `"manual"`); I/O errors; [`MonitorError::CorruptLog`] for a record of a
    /// known format that does not read.
    pub fn open(
        store: &Path,
        name: &str,
        config: RetrainingTriggerConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Self> {
        validate_name("name", name)?;
        if name == MANUAL_ACTOR {
            return Err(MonitorError::InvalidConfig {
                field: "name",
                value: format!("{name:?}"),
                expected: "any name but \"manual\", which marks forced retrains".into(),
            });
        }
        config.validate()?;
        let opened = JsonlLog::open::<AuditRecord>(&Self::audit_path(store, name))?;
        let history: Vec<AuditRecord> = opened.events.into_iter().map(|(_, r)| r).collect();
        let next_id = history.iter().map(|r| r.id + 1).max().unwrap_or(0);
        Ok(Self {
            name: name.to_string(),
            config,
            clock,
            log: opened.log,
            history,
            next_id,
            torn: opened.torn,
            skipped: opened.skipped,
        })
    }

    /// The trigger's name (its actor in the audit trail).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The configuration.
    pub fn config(&self) -> &RetrainingTriggerConfig {
        &self.config
    }

    /// The torn last line removed from the audit file when it was opened, if any.
    pub fn torn_tail(&self) -> Option<&TornTail> {
        self.torn.as_ref()
    }

    /// Complete lines of the audit file that were kept but skipped when it was opened
    /// (written by a newer version, or unreadable).
    pub fn skipped_lines(&self) -> &[SkippedLine] {
        &self.skipped
    }

    /// Start of the last retrain that succeeded, if any is in the history.
    pub fn last_retrain(&self) -> Option<DateTime<Utc>> {
        self.history
            .iter()
            .filter(|r| matches!(r.outcome, AuditOutcome::Succeeded { .. }))
            .map(|r| r.at)
            .max()
    }

    /// Audit records of the last `days` days (by the trigger's clock), oldest first.
    pub fn trigger_history(&self, days: u32) -> Vec<AuditRecord> {
        let now = self.clock.now();
        let since = now
            .checked_sub_signed(Duration::days(i64::from(days)))
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        self.history
            .iter()
            .filter(|r| r.at >= since)
            .cloned()
            .collect()
    }

    /// Decides whether to retrain at `now` given `state`, and writes the decision to the
    /// audit trail (outcome `not_needed`, `vetoed` or `approved`). It does not run anything:
    /// see [`RetrainTrigger::run`].
    ///
    /// Reasons: enough new samples (labelled ones from `state` plus data rows in watched
    /// files modified after the last retrain), too many days since the last retrain,
    /// accuracy degradation, drift, error rate. Guards (checked only when there is a reason):
    /// fewer than `min_hours_between_retrains` since the last retrain that ran, or
    /// `max_retrains_per_day` retrains already run in the last 24 hours.
    ///
    /// # Errors
    /// I/O errors writing the audit trail (the decision is then not returned, so nothing
    /// unaudited can run).
    pub fn evaluate(&mut self, now: DateTime<Utc>, state: &TriggerState) -> Result<Decision> {
        self.evaluate_recorded(now, state).map(|(_, d)| d)
    }

    /// [`RetrainTrigger::evaluate`], also returning the audit id of the decision.
    fn evaluate_recorded(
        &mut self,
        now: DateTime<Utc>,
        state: &TriggerState,
    ) -> Result<(u64, Decision)> {
        let decision = self.decide(now, state);
        let outcome = if decision.retrain {
            AuditOutcome::Approved
        } else if decision.reasons.is_empty() {
            AuditOutcome::NotNeeded
        } else {
            AuditOutcome::Vetoed
        };
        let id = self.next_id;
        self.record(AuditRecord {
            v: AUDIT_FORMAT_VERSION,
            id,
            at: now,
            actor: self.name.clone(),
            reasons: decision.reasons.clone(),
            vetoes: decision.vetoes.clone(),
            inputs: Some(state.clone()),
            outcome,
        })?;
        Ok((id, decision))
    }

    /// Evaluates at the clock's now and, if approved, runs `handler` and records its result.
    ///
    /// # Errors
    /// I/O errors from the audit trail; [`MonitorError::RetrainFailed`] when the handler
    /// fails (the failure is recorded first).
    pub fn run(
        &mut self,
        state: &TriggerState,
        handler: &mut dyn RetrainHandler,
    ) -> Result<RunReport> {
        let now = self.clock.now();
        let (id, decision) = self.evaluate_recorded(now, state)?;
        if !decision.retrain {
            return Ok(RunReport {
                decision,
                result: None,
            });
        }
        let actor = self.name.clone();
        let result = self.execute(
            id,
            actor,
            now,
            decision.reasons.clone(),
            Some(state),
            handler,
        )?;
        Ok(RunReport {
            decision,
            result: Some(result),
        })
    }

    /// Retrains now because a person said so: no reason needed, guards bypassed (a person
    /// is accountable), recorded with actor `"manual"` and their reason.
    ///
    /// # Errors
    /// I/O errors from the audit trail; [`MonitorError::RetrainFailed`] when the handler
    /// fails (recorded first); [`MonitorError::InvalidInput`] for an empty reason.
    pub fn force_retrain(
        &mut self,
        reason: &str,
        handler: &mut dyn RetrainHandler,
    ) -> Result<RetrainResult> {
        if reason.trim().is_empty() {
            return Err(MonitorError::InvalidInput {
                what: "reason",
                value: format!("{reason:?}"),
                expected: "a non-empty explanation for the audit trail".into(),
            });
        }
        let now = self.clock.now();
        let reasons = vec![Reason::Manual {
            reason: reason.to_string(),
        }];
        let id = self.next_id;
        self.record(AuditRecord {
            v: AUDIT_FORMAT_VERSION,
            id,
            at: now,
            actor: MANUAL_ACTOR.into(),
            reasons: reasons.clone(),
            vetoes: Vec::new(),
            inputs: None,
            outcome: AuditOutcome::Approved,
        })?;
        self.execute(id, MANUAL_ACTOR.into(), now, reasons, None, handler)
    }

    fn execute(
        &mut self,
        id: u64,
        actor: String,
        at: DateTime<Utc>,
        reasons: Vec<Reason>,
        state: Option<&TriggerState>,
        handler: &mut dyn RetrainHandler,
    ) -> Result<RetrainResult> {
        let request = RetrainRequest {
            actor: actor.clone(),
            at,
            reasons: reasons.clone(),
        };
        let outcome = handler.retrain(&request);
        let finished_at = self.clock.now();
        let mut record = AuditRecord {
            v: AUDIT_FORMAT_VERSION,
            id,
            at,
            actor: actor.clone(),
            reasons,
            vetoes: Vec::new(),
            inputs: state.cloned(),
            outcome: AuditOutcome::NotNeeded,
        };
        match outcome {
            Ok(result) => {
                record.outcome = AuditOutcome::Succeeded {
                    new_version: result.new_version.clone(),
                    metrics: result.metrics.clone(),
                    finished_at,
                };
                self.record(record)?;
                tracing::info!(%actor, version = %result.new_version, "retrain succeeded");
                Ok(result)
            }
            Err(source) => {
                record.outcome = AuditOutcome::Failed {
                    error: source.to_string(),
                    finished_at,
                };
                self.record(record)?;
                tracing::error!(%actor, error = %source, "retrain failed");
                Err(MonitorError::RetrainFailed {
                    trigger: actor,
                    source,
                })
            }
        }
    }

    fn record(&mut self, record: AuditRecord) -> Result<()> {
        self.log.append(&record)?;
        self.next_id = self.next_id.max(record.id + 1);
        self.history.push(record);
        Ok(())
    }

    fn decide(&self, now: DateTime<Utc>, state: &TriggerState) -> Decision {
        let c = &self.config;
        let last = self.last_retrain().or(state.model_trained_at);
        let mut reasons = Vec::new();

        let (new_files, file_rows) = self.new_files(last);
        if state.new_samples + file_rows >= c.min_new_samples {
            reasons.push(Reason::NewSamples {
                labelled: state.new_samples,
                file_rows,
                new_files,
                threshold: c.min_new_samples,
            });
        }
        if let Some(last) = last {
            let days = (now - last).num_seconds() as f64 / 86_400.0;
            if days >= f64::from(c.max_days_without_retraining) {
                reasons.push(Reason::Stale {
                    days_since: days,
                    max_days: c.max_days_without_retraining,
                });
            }
        }
        if let (Some(base), Some(acc)) = (state.baseline_accuracy, state.accuracy) {
            let drop = base - acc;
            if drop > c.accuracy_degradation_threshold {
                reasons.push(Reason::AccuracyDegradation {
                    baseline: base,
                    accuracy: acc,
                    drop,
                    threshold: c.accuracy_degradation_threshold,
                });
            }
        }
        if let Some(score) = state.drift_score
            && score > c.drift_score_threshold
        {
            reasons.push(Reason::Drift {
                score,
                threshold: c.drift_score_threshold,
            });
        }
        if let Some(rate) = state.error_rate
            && rate > c.error_rate_threshold
        {
            reasons.push(Reason::ErrorRate {
                rate,
                threshold: c.error_rate_threshold,
            });
        }

        let mut vetoes = Vec::new();
        if !reasons.is_empty() {
            let runs: Vec<DateTime<Utc>> = self
                .history
                .iter()
                .filter(|r| r.is_run())
                .map(|r| r.at)
                .collect();
            if let Some(prev) = runs.iter().max() {
                let hours = (now - *prev).num_seconds() as f64 / 3600.0;
                if hours < f64::from(c.min_hours_between_retrains) {
                    vetoes.push(Veto::TooSoon {
                        hours_since: hours,
                        min_hours: c.min_hours_between_retrains,
                    });
                }
            }
            let day_ago = now
                .checked_sub_signed(Duration::hours(24))
                .unwrap_or(DateTime::<Utc>::MIN_UTC);
            let today = runs.iter().filter(|t| **t > day_ago && **t <= now).count();
            let today = u32::try_from(today).unwrap_or(u32::MAX);
            if today >= c.max_retrains_per_day {
                vetoes.push(Veto::DailyLimit {
                    retrains_last_24h: today,
                    max_per_day: c.max_retrains_per_day,
                });
            }
        }
        Decision {
            at: now,
            retrain: !reasons.is_empty() && vetoes.is_empty(),
            reasons,
            vetoes,
        }
    }

    /// Files matching the watched patterns modified after `since` (all of them when there
    /// is no `since`), and their data rows. Unreadable directories and files are skipped
    /// with a warning: a watch must not stop the decision.
    fn new_files(&self, since: Option<DateTime<Utc>>) -> (Vec<PathBuf>, usize) {
        let mut files = BTreeSet::new();
        for dir in &self.config.data_directories {
            if !dir.is_dir() {
                tracing::warn!(dir = %dir.display(), "watched data directory does not exist");
                continue;
            }
            let base = glob::Pattern::escape(&dir.to_string_lossy());
            for pattern in &self.config.watch_file_patterns {
                let full = format!("{base}/{pattern}");
                let Ok(paths) = glob::glob(&full) else {
                    continue; // patterns were validated; an escaped dir cannot break them
                };
                for entry in paths {
                    match entry {
                        Ok(path) => {
                            let modified = fs::metadata(&path)
                                .and_then(|m| m.modified())
                                .map(DateTime::<Utc>::from);
                            match modified {
                                Ok(t) if since.is_none_or(|s| t > s) => {
                                    files.insert(path);
                                }
                                Ok(_) => {}
                                Err(e) => {
                                    tracing::warn!(path = %path.display(), error = %e, "cannot stat watched file");
                                }
                            }
                        }
                        Err(e) => tracing::warn!(error = %e, "cannot read watched path"),
                    }
                }
            }
        }
        let mut rows = 0;
        for f in &files {
            rows += data_rows(f);
        }
        (files.into_iter().collect(), rows)
    }
}

/// Data rows of a CSV/TSV file (non-empty lines minus the header); 0 for other kinds, whose
/// rows cannot be counted without their reader.
fn data_rows(path: &Path) -> usize {
    let is_table = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("csv") || e.eq_ignore_ascii_case("tsv"));
    if !is_table {
        return 0;
    }
    // Streamed line by line: data files can be far larger than memory.
    let file = match fs::File::open(path) {
        Ok(f) => f,
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot read new data file");
            return 0;
        }
    };
    let mut lines = 0usize;
    for line in std::io::BufRead::split(std::io::BufReader::new(file), b'\n') {
        match line {
            Ok(l) if l.iter().any(|b| !b.is_ascii_whitespace()) => lines += 1,
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot read new data file");
                break;
            }
        }
    }
    lines.saturating_sub(1)
}
