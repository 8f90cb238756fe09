//! # obesity-monitor
//!
//! Life after deployment: drift detection against a reference profile, windowed performance
//! monitoring, alerts, retraining triggers and A/B experiments.
//!
//! ## Drift
//!
//! Build a [`ReferenceProfile`] once from the training columns
//! (`obesity_data::feature_columns`), save it as JSON with the model
//! ([`ReferenceProfile::to_json`], format-versioned), and compare every production batch with
//! it: [`ReferenceProfile::drift`] returns a [`DriftReport`] with, per column, the test, its
//! statistic, p-value or distance, threshold and verdict, plus the share of drifted columns
//! and the dataset verdict; it prints as a table and serialises to JSON. The service holds
//! only the profile (sorted numeric samples — every value up to [`DEFAULT_MAX_SAMPLE`] rows,
//! a quantile sketch above — and category counts), never the training set.
//!
//! The tests and their choice follow Evidently's `DataDriftPreset` (0.7) so the numbers agree:
//! references of at most 1,000 rows get `ks` (numeric, > 5 distinct values), `chisquare`
//! (categorical, or numeric with 3–5 values) or `z` (two values); larger ones get
//! `wasserstein` (normed by the reference std) or `jensenshannon`. Thresholds default to 0.05
//! for p-values and 0.1 for distances (`psi` too); the dataset drifts when at least half the
//! columns do. Everything is overridable in [`DriftOptions`], per column or overall. KS
//! p-values are scipy's `ks_2samp` (exact and asymptotic, [`KsMethod`]), checked against
//! scipy and Evidently to ~1e-15 by `scripts/drift_reference_values.py`.
//! Prediction drift is the same machinery on [`prediction_columns`] (predicted class and
//! confidence). Custom tests implement [`DriftDetector`].
//!
//! ```
//! use obesity_data::{ColumnValues, NamedColumn};
//! use obesity_monitor::{DriftOptions, ReferenceProfile, StatTest};
//!
//! let column = |name: &str, v: Vec<f64>| NamedColumn {
//!     name: name.to_owned(),
//!     values: ColumnValues::Numeric(v),
//! };
//! let train: Vec<f64> = (0..400).map(|i| 60.0 + (i % 40) as f64).collect();
//! let heavier: Vec<f64> = (0..200).map(|i| 75.0 + (i % 40) as f64).collect();
//!
//! let saved = ReferenceProfile::from_columns(&[column("Weight", train)])?.to_json()?;
//! let profile = ReferenceProfile::from_json(&saved)?;
//! let report = profile.drift(&[column("Weight", heavier)], &DriftOptions::default())?;
//!
//! let weight = report.column("Weight").ok_or("no Weight")?;
//! assert_eq!(weight.stattest, Some(StatTest::Ks)); // reference <= 1,000 rows
//! assert!(weight.drifted && report.dataset_drift);
//! println!("{report}");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Performance, alerts, retraining, A/B tests
//!
//! - [`PerformanceMonitor`] logs [`PredictionBatch`]es (request ids, features, predicted
//!   classes, confidences, latencies, failures, a drift score and the count of rows that
//!   failed validation) and true labels that arrive later by request id
//!   ([`PerformanceMonitor::record_labels`]). [`PerformanceMonitor::summary`] gives a
//!   [`PerformanceSummary`] of any recent window: counts, accuracy and F1-macro over the
//!   labelled predictions, latency p50/p95/p99, error rate, drift score, data-quality score.
//!   [`PerformanceMonitor::open`] keeps the events in `<store>/monitoring/<model>/events.jsonl`,
//!   one fsynced line per event, locked against a second writer; on reopen a torn last line
//!   (a crash mid-write: no newline, not JSON) is cut and reported ([`TornTail`]), complete
//!   lines this build cannot read (a newer version's events, damage) are kept and skipped
//!   with a warning ([`SkippedLine`]), and replayed batches are validated like live ones.
//!   [`PerformanceMonitor::compact`] forgets what is older than the longest window you use.
//! - [`AlertPolicy`] holds the original Python project's thresholds (accuracy drop 0.05 CRITICAL / 0.02 WARNING
//!   against a baseline, error rate 0.02, p95 latency 500 ms, drift 0.1) and turns a summary
//!   into [`Alert`]s with a [`Severity`]; an [`AlertManager`] sends them to
//!   [`AlertHandler`]s ([`LogAlertHandler`] built in) once per episode, not on every check,
//!   and sends a resolved notice when the condition clears. `WebhookAlertHandler` (feature
//!   `webhook`, below) POSTs them to Slack or to an Alertmanager-style receiver.
//! - [`RetrainTrigger`] decides from a [`TriggerState`] and new files in watched directories
//!   with the original Python project's [`RetrainingTriggerConfig`], lets guards veto (minimum hours between
//!   retrains, maximum per day), runs a [`RetrainHandler`] and writes every decision to an
//!   audit trail read back by [`RetrainTrigger::trigger_history`].
//! - [`AbTest`] routes users to a control or treatment version by hashing (SHA-256 of
//!   experiment and user id), honours segments, records outcomes and [`AbTest::analyze`]s them
//!   with `obesity-eval`'s two-proportion z-test and chi-square — or Fisher's exact test when
//!   an expected count is below [`FISHER_BELOW_EXPECTED`] — with Wilson intervals per arm and
//!   Newcombe's interval of the difference (Welch's t-test for numeric metrics) into a
//!   [`Recommendation`].
//! - Time comes from a [`Clock`]: [`SystemClock`] in production, [`ManualClock`] in tests.
//!
//! ```
//! use std::sync::Arc;
//! use chrono::{Duration, Utc};
//! use obesity_monitor::{
//!     AbTestConfig, AbTest, AlertManager, AlertPolicy, Clock, CollectingAlertHandler,
//!     ManualClock, Outcome, PerformanceMonitor, PredictionBatch, RetrainTrigger,
//!     RetrainingTriggerConfig, Severity, TriggerState,
//! };
//!
//! let store = tempfile::tempdir()?;
//! let clock = ManualClock::new(Utc::now());
//!
//! // Log a batch; its labels arrive an hour later.
//! let mut monitor =
//!     PerformanceMonitor::open(store.path(), "obesity-rf", Arc::new(clock.clone()))?;
//! let mut batch = PredictionBatch::new("3");
//! for i in 0..40 {
//!     batch.push(format!("req-{i}"), i % 2, 0.8, 12.0 + i as f64);
//! }
//! monitor.log_batch(batch.with_drift_score(0.02))?;
//! clock.advance(Duration::hours(1));
//! let labels: Vec<(String, usize)> =
//!     (0..40).map(|i| (format!("req-{i}"), usize::from(i < 20))).collect();
//! monitor.record_labels(&labels)?;
//! let summary = monitor.summary_hours(24);
//! assert_eq!(summary.accuracy, Some(0.5));
//!
//! // Alert on it: accuracy 0.5 against a baseline of 0.9 is CRITICAL, and fires once.
//! let collected = CollectingAlertHandler::new();
//! let mut alerts = AlertManager::new(AlertPolicy::builder().baseline_accuracy(0.9).build()?);
//! alerts.add_handler(collected.clone());
//! alerts.process(&summary);
//! alerts.process(&summary);
//! assert_eq!(collected.alerts().len(), 1);
//! assert_eq!(collected.alerts()[0].severity, Severity::Critical);
//!
//! // Should we retrain? Yes: accuracy degraded. The decision is in the audit trail.
//! let config = RetrainingTriggerConfig::default();
//! let mut trigger = RetrainTrigger::open(store.path(), "nightly", config, Arc::new(clock.clone()))?;
//! let state = TriggerState::from_summary(&summary, Some(0.9));
//! let decision = trigger.evaluate(clock.now(), &state)?;
//! assert!(decision.retrain);
//! assert_eq!(trigger.trigger_history(1).len(), 1);
//!
//! // A/B test the retrained version against the champion.
//! let config = AbTestConfig::new("v4-vs-v3", "3", "4");
//! let mut ab = AbTest::create(&store.path().join("ab"), config, Arc::new(clock.clone()))?;
//! ab.start()?;
//! let assignment = ab.assign("user-17", &Default::default());
//! ab.record_outcome("user-17", Outcome::Success(true))?;
//! assert!(assignment.enrolled);
//! println!("{}", ab.analyze()?.explanation); // "... keep running"
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Cargo features
//!
//! - `webhook` (default): `WebhookAlertHandler`, an [`AlertHandler`] that POSTs alerts as
//!   JSON — Slack's `{"text", "blocks"}` body or Alertmanager's `webhook_config` payload —
//!   with a timeout per attempt, bounded retries with exponential backoff, and
//!   de-duplication per alert key (one notification while a condition persists, one
//!   "resolved" notification when it clears). It brings in the `ureq` HTTP client (plain
//!   HTTP; HTTPS needs a TLS feature of `ureq`). Build with `default-features = false` to do
//!   without an HTTP client; every other item of the crate stays.
//!
//! ```no_run
//! # #[cfg(feature = "webhook")]
//! # fn main() -> Result<(), obesity_monitor::MonitorError> {
//! use obesity_monitor::{AlertManager, AlertPolicy, WebhookAlertHandler, WebhookConfig};
//!
//! let slack = WebhookConfig::builder("http://chat-relay.internal/hooks/ml-alerts")
//!     .label("service", "obesity-serve")
//!     .build()?;
//! let mut alerts = AlertManager::new(AlertPolicy::default());
//! alerts.add_handler(WebhookAlertHandler::new(slack));
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "webhook"))]
//! # fn main() {}
//! ```
#![deny(missing_docs)]

// Drift (one helper): detectors, the reference profile, the report.
/// Re-export of the ndarray version this crate's signatures use (the one linfa uses), so that an
/// application on another ndarray version names this one as `obesity_monitor::ndarray`.
pub use ndarray;

/// Re-export of the chrono version this crate's timestamps use, so that an application names
/// the same `DateTime` and `Duration` types as `obesity_monitor::chrono`.
pub use chrono;

mod drift;
mod profile;
mod report;

// Operations (another helper): performance, alerts, retraining, A/B tests, time.
mod abtest;
mod alerts;
mod clock;
mod performance;
mod retrain;
#[cfg(feature = "webhook")]
mod webhook;

mod error;

/// The former name of [`AbTestConfig`], kept so code written against it still builds.
#[deprecated(note = "renamed `AbTestConfig` (the crate's `Ab` casing)")]
pub type ABTestConfig = AbTestConfig;
pub use abtest::{
    AbAnalysis, AbTest, AbTestConfig, AbTestMethod, Assignment, FISHER_BELOW_EXPECTED,
    FeatureValue, MetricKind, Outcome, PrimaryMetric, Recommendation, SegmentRule, TestStatus,
    Variant, VariantSummary, WelchResult,
};
pub use alerts::{
    Alert, AlertHandler, AlertKind, AlertManager, AlertPolicy, AlertPolicyBuilder,
    CollectingAlertHandler, LogAlertHandler, Severity,
};
pub use clock::{Clock, ManualClock, SystemClock};
pub use drift::{
    ColumnSample, DriftDetector, DriftResult, KsMethod, KsResult, SamplePair, SampleValues,
    StatTest, StatTestDetector, ks_2samp,
};
pub use error::{MonitorError, Result};
pub use performance::{
    FailedRequest, IdRun, LATENCY_BINS, LabelReport, MonitorLimits, MonitorStats,
    PerformanceMonitor, PerformanceSummary, PredictionBatch, SkipReason, SkippedLine, TornTail,
};
pub use profile::{
    ColumnProfile, DEFAULT_MAX_SAMPLE, FeatureKind, PROFILE_FORMAT_VERSION, REFERENCE_PROFILE_FILE,
    ReferenceProfile,
};
pub use report::{
    CONFIDENCE_COLUMN, ColumnDrift, ColumnDriftOptions, CustomDetectors, DriftOptions, DriftReport,
    PREDICTION_COLUMN, REPORT_FORMAT_VERSION, max_probability, prediction_columns,
};
pub use retrain::{
    AuditOutcome, AuditRecord, Decision, HandlerError, MANUAL_ACTOR, Reason, RetrainHandler,
    RetrainRequest, RetrainResult, RetrainTrigger, RetrainingTriggerConfig, RunReport,
    TriggerState, Veto,
};
#[cfg(feature = "webhook")]
pub use webhook::{
    Delivery, MAX_WEBHOOK_ATTEMPTS, WebhookAlertHandler, WebhookConfig, WebhookConfigBuilder,
    WebhookFormat,
};
