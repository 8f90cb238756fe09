//! The windowed performance monitor: what the model served, how fast, how often it failed,
//! and — once true labels arrive — how often it was right.
//!
//! Every logged batch and label set is one line of a JSON-lines file
//! (`<store>/monitoring/<model>/events.jsonl`), so the monitor's state survives restarts and
//! a crash loses at most the line being written (see [`TornTail`]). Lines written by a newer
//! version, or unreadable, are kept and skipped (see [`SkippedLine`]); replayed events are
//! validated exactly as live ones.

mod event_log;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

use crate::clock::Clock;
use crate::error::{MonitorError, Result};

pub(crate) use event_log::{JsonlLog, LogRecord, newer_version};
pub use event_log::{SkipReason, SkippedLine, TornTail};

/// Version of the event-line format written by this crate.
const EVENT_FORMAT_VERSION: u32 = 1;

/// One request that failed: no prediction came out of it, but it still took time and counts
/// in the error rate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailedRequest {
    /// The request id.
    pub request_id: String,
    /// Time spent before it failed, in milliseconds.
    pub latency_ms: f64,
    /// What went wrong (the error message the client saw).
    pub error: String,
}

/// A batch of served predictions, as one unit of logging.
///
/// The per-request vectors (`request_ids`, `predictions`, `confidences`, `latencies_ms`, and
/// `features` when given) are parallel: entry `i` of each describes request `i`. Build one
/// with [`PredictionBatch::new`] and [`PredictionBatch::push`], or from a probability matrix
/// with [`PredictionBatch::from_probabilities`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PredictionBatch {
    /// The model version that served the batch (registry version or any label you use).
    pub model_version: String,
    /// One id per served request; true labels are later joined on it.
    pub request_ids: Vec<String>,
    /// The feature rows, one per request, or empty to not keep features.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<Vec<f64>>,
    /// Predicted class index per request.
    pub predictions: Vec<usize>,
    /// Probability of the predicted class (the maximum probability) per request.
    pub confidences: Vec<f64>,
    /// Serving latency per request, in milliseconds.
    pub latencies_ms: Vec<f64>,
    /// Requests of this batch that failed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed: Vec<FailedRequest>,
    /// Drift score of this batch against the reference (from the drift component, e.g. the
    /// share of drifted columns), if it was computed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift_score: Option<f64>,
    /// How many rows of this batch (served or failed) failed input validation.
    #[serde(default)]
    pub invalid_rows: usize,
}

impl PredictionBatch {
    /// An empty batch served by `model_version`.
    pub fn new(model_version: impl Into<String>) -> Self {
        Self {
            model_version: model_version.into(),
            ..Self::default()
        }
    }

    /// Builds a batch from a model's `predict_proba` output (one row per request): the
    /// prediction is the arg-max of each row and the confidence its maximum.
    ///
    /// # Errors
    /// [`MonitorError::InvalidBatch`] when the number of ids, probability rows and latencies
    /// differ, or a row is empty or holds a non-finite probability.
    pub fn from_probabilities(
        model_version: impl Into<String>,
        request_ids: Vec<String>,
        probabilities: ArrayView2<'_, f32>,
        latencies_ms: Vec<f64>,
    ) -> Result<Self> {
        let n = request_ids.len();
        check_len("probabilities", probabilities.nrows(), n)?;
        check_len("latencies_ms", latencies_ms.len(), n)?;
        let mut predictions = Vec::with_capacity(n);
        let mut confidences = Vec::with_capacity(n);
        for (i, row) in probabilities.rows().into_iter().enumerate() {
            let mut best: Option<(usize, f32)> = None;
            for (k, &p) in row.iter().enumerate() {
                if !p.is_finite() {
                    return Err(MonitorError::InvalidBatch {
                        field: "probabilities",
                        index: Some(i),
                        reason: format!("class {k} has probability {p}"),
                    });
                }
                if best.is_none_or(|(_, b)| p > b) {
                    best = Some((k, p));
                }
            }
            let (k, p) = best.ok_or_else(|| MonitorError::InvalidBatch {
                field: "probabilities",
                index: Some(i),
                reason: "row has no classes".into(),
            })?;
            predictions.push(k);
            confidences.push(f64::from(p));
        }
        Ok(Self {
            model_version: model_version.into(),
            request_ids,
            predictions,
            confidences,
            latencies_ms,
            ..Self::default()
        })
    }

    /// Adds one served request.
    pub fn push(
        &mut self,
        request_id: impl Into<String>,
        predicted: usize,
        confidence: f64,
        latency_ms: f64,
    ) -> &mut Self {
        self.request_ids.push(request_id.into());
        self.predictions.push(predicted);
        self.confidences.push(confidence);
        self.latencies_ms.push(latency_ms);
        self
    }

    /// Adds one failed request.
    pub fn push_failure(
        &mut self,
        request_id: impl Into<String>,
        latency_ms: f64,
        error: impl Into<String>,
    ) -> &mut Self {
        self.failed.push(FailedRequest {
            request_id: request_id.into(),
            latency_ms,
            error: error.into(),
        });
        self
    }

    /// Keeps the feature matrix (one row per served request) with the batch, so drift can be
    /// computed later from [`PerformanceMonitor::recent_features`].
    pub fn with_features(mut self, x: ArrayView2<'_, f32>) -> Self {
        self.features = x
            .rows()
            .into_iter()
            .map(|r| r.iter().map(|&v| f64::from(v)).collect())
            .collect();
        self
    }

    /// Sets the batch's drift score (supplied by the drift component).
    pub fn with_drift_score(mut self, score: f64) -> Self {
        self.drift_score = Some(score);
        self
    }

    /// Sets how many rows of the batch failed input validation.
    pub fn with_invalid_rows(mut self, n: usize) -> Self {
        self.invalid_rows = n;
        self
    }

    /// Number of requests (served plus failed).
    pub fn n_requests(&self) -> usize {
        self.request_ids.len() + self.failed.len()
    }

    fn validate(&self) -> Result<()> {
        let bad = |field, index, reason: String| MonitorError::InvalidBatch {
            field,
            index,
            reason,
        };
        if self.model_version.trim().is_empty() {
            return Err(bad("model_version", None, "must not be empty".into()));
        }
        let n = self.request_ids.len();
        check_len("predictions", self.predictions.len(), n)?;
        check_len("confidences", self.confidences.len(), n)?;
        check_len("latencies_ms", self.latencies_ms.len(), n)?;
        if !self.features.is_empty() {
            check_len("features", self.features.len(), n)?;
            let width = self.features.first().map_or(0, Vec::len);
            if let Some(i) = self.features.iter().position(|r| r.len() != width) {
                return Err(bad(
                    "features",
                    Some(i),
                    format!(
                        "row has {} values, row 0 has {width}",
                        self.features[i].len()
                    ),
                ));
            }
        }
        for (i, &c) in self.confidences.iter().enumerate() {
            if !(0.0..=1.0).contains(&c) {
                return Err(bad("confidences", Some(i), format!("{c} is not in [0, 1]")));
            }
        }
        for (i, &l) in self.latencies_ms.iter().enumerate() {
            if !(l.is_finite() && l >= 0.0) {
                return Err(bad(
                    "latencies_ms",
                    Some(i),
                    format!("{l} is not a finite latency >= 0"),
                ));
            }
        }
        for (i, f) in self.failed.iter().enumerate() {
            if !(f.latency_ms.is_finite() && f.latency_ms >= 0.0) {
                return Err(bad(
                    "failed.latency_ms",
                    Some(i),
                    format!("{} is not a finite latency >= 0", f.latency_ms),
                ));
            }
        }
        if let Some(s) = self.drift_score
            && !(s.is_finite() && s >= 0.0)
        {
            return Err(bad(
                "drift_score",
                None,
                format!("{s} is not a finite score >= 0"),
            ));
        }
        if self.invalid_rows > self.n_requests() {
            return Err(bad(
                "invalid_rows",
                None,
                format!(
                    "{} invalid rows in a batch of {} requests",
                    self.invalid_rows,
                    self.n_requests()
                ),
            ));
        }
        let mut seen = std::collections::HashSet::with_capacity(self.n_requests());
        let ids = self.request_ids.iter().map(|s| ("request_ids", s)).chain(
            self.failed
                .iter()
                .map(|f| ("failed.request_id", &f.request_id)),
        );
        for (i, (field, id)) in ids.enumerate() {
            if id.is_empty() {
                return Err(bad(field, Some(i), "request id is empty".into()));
            }
            if !seen.insert(id.as_str()) {
                return Err(bad(
                    field,
                    Some(i),
                    format!("request id `{id}` appears twice"),
                ));
            }
        }
        Ok(())
    }
}

fn check_len(field: &'static str, got: usize, expected: usize) -> Result<()> {
    if got == expected {
        Ok(())
    } else {
        Err(MonitorError::InvalidBatch {
            field,
            index: None,
            reason: format!("{got} entries but the batch has {expected} request ids"),
        })
    }
}

/// One line of the monitoring log.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
enum Event {
    Batch {
        v: u32,
        at: DateTime<Utc>,
        batch: PredictionBatch,
    },
    Labels {
        v: u32,
        at: DateTime<Utc>,
        labels: Vec<(String, usize)>,
    },
}

impl LogRecord for Event {
    fn unreadable(value: &serde_json::Value) -> Option<SkipReason> {
        if let Some(newer) = newer_version(value, EVENT_FORMAT_VERSION) {
            return Some(newer);
        }
        match value.get("event") {
            Some(serde_json::Value::String(kind)) if kind == "batch" || kind == "labels" => None,
            Some(serde_json::Value::String(kind)) => Some(SkipReason::NewerFormat {
                detail: format!("event kind `{kind}`"),
            }),
            _ => Some(SkipReason::NotARecord {
                detail: "no `event` kind".into(),
            }),
        }
    }
}

/// What [`PerformanceMonitor::record_labels`] did with the labels it was given.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LabelReport {
    /// Labels joined to a logged prediction (and persisted).
    pub matched: usize,
    /// Request ids that match no logged prediction (not persisted: nothing to join them to).
    pub unknown: Vec<String>,
}

/// Windowed performance figures, as [`PerformanceMonitor::summary`] computes them.
///
/// Every rate is `None` when its denominator is zero in the window, so "no data" is never
/// mistaken for "perfect" or "terrible". `Default` is the empty summary (no data at all),
/// handy for building one by hand for an [`crate::AlertPolicy`] or a trigger.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PerformanceSummary {
    /// Start of the window (inclusive).
    pub window_start: DateTime<Utc>,
    /// End of the window (the clock's now).
    pub window_end: DateTime<Utc>,
    /// Batches logged in the window.
    pub n_batches: usize,
    /// Requests in the window, served plus failed.
    pub n_requests: usize,
    /// Requests that produced a prediction.
    pub n_predictions: usize,
    /// Requests that failed.
    pub n_errors: usize,
    /// `n_errors / n_requests`.
    pub error_rate: Option<f64>,
    /// Predictions whose true label has arrived.
    pub n_labelled: usize,
    /// Accuracy over the labelled predictions.
    pub accuracy: Option<f64>,
    /// Macro-averaged F1 over the labelled predictions, over the classes present in the
    /// labels or the predictions (scikit-learn's `f1_score(average="macro")`, a class with no
    /// true or predicted instance scoring 0).
    pub f1_macro: Option<f64>,
    /// Mean probability of the predicted class.
    pub mean_confidence: Option<f64>,
    /// Median latency (ms) over all requests, served and failed (numpy's linear percentile).
    pub latency_p50_ms: Option<f64>,
    /// 95th percentile latency (ms).
    pub latency_p95_ms: Option<f64>,
    /// 99th percentile latency (ms).
    pub latency_p99_ms: Option<f64>,
    /// Mean of the drift scores supplied with the window's batches.
    pub drift_score: Option<f64>,
    /// Largest drift score supplied in the window.
    pub max_drift_score: Option<f64>,
    /// Share of the window's rows that failed input validation.
    pub invalid_row_share: Option<f64>,
    /// `1 − invalid_row_share`: the seeds' data-quality score, where higher is better.
    pub data_quality_score: Option<f64>,
    /// Predictions per model version in the window.
    pub predictions_by_version: BTreeMap<String, usize>,
}

/// Logs prediction batches and late-arriving true labels, and summarises any recent window.
///
/// State lives in memory and, when opened with [`PerformanceMonitor::open`], in an
/// append-only JSON-lines file that is read back on the next open. Methods take `&mut self`:
/// share a monitor between threads behind a `Mutex`.
#[derive(Debug)]
pub struct PerformanceMonitor {
    model: String,
    clock: Arc<dyn Clock>,
    log: Option<JsonlLog>,
    batches: Vec<(DateTime<Utc>, PredictionBatch)>,
    /// request id → (batch index, row) for served requests.
    index: HashMap<String, (usize, usize)>,
    /// Failed request ids (they can never be labelled, but must stay unique).
    failed_ids: std::collections::HashSet<String>,
    labels: HashMap<String, usize>,
    torn: Option<TornTail>,
    skipped: Vec<SkippedLine>,
}

impl PerformanceMonitor {
    /// A monitor that keeps everything in memory only (tests, short simulations).
    ///
    /// # Errors
    /// [`MonitorError::InvalidConfig`] for an unusable model name.
    pub fn in_memory(model: &str, clock: Arc<dyn Clock>) -> Result<Self> {
        validate_name("model", model)?;
        Ok(Self {
            model: model.to_string(),
            clock,
            log: None,
            batches: Vec::new(),
            index: HashMap::new(),
            failed_ids: Default::default(),
            labels: HashMap::new(),
            torn: None,
            skipped: Vec::new(),
        })
    }

    /// The event file of `model` under the store directory `store`:
    /// `<store>/monitoring/<model>/events.jsonl`.
    pub fn events_path(store: &Path, model: &str) -> PathBuf {
        store.join("monitoring").join(model).join("events.jsonl")
    }

    /// Opens (or creates) the persistent monitor of `model` under the store directory
    /// `store`, replaying every logged event.
    ///
    /// * A torn last line left by a crash (no trailing newline, not valid JSON) is removed,
    ///   logged as a warning and reported by [`PerformanceMonitor::torn_tail`]. Nothing else
    ///   is ever removed.
    /// * A complete line this build cannot read — an event kind or format version from a
    ///   newer build, or a line that is not valid JSON — is kept in the file, skipped with a
    ///   warning and reported by [`PerformanceMonitor::skipped_lines`], wherever it is.
    /// * Every replayed batch is validated exactly as [`PerformanceMonitor::log_batch`]
    ///   validates a live one (lengths, confidences in [0, 1], finite latencies, counts,
    ///   request ids unique across the log); labels for request ids that no replayed batch
    ///   served (their batch was skipped) are ignored with a warning.
    ///
    /// # Errors
    /// An unusable model name (empty, or with path separators); I/O failures;
    /// [`MonitorError::Locked`] when another monitor has the log open;
    /// [`MonitorError::CorruptLog`], naming the file and the line, for an event of a known
    /// kind that does not read or fails validation (the file is left untouched).
    pub fn open(store: &Path, model: &str, clock: Arc<dyn Clock>) -> Result<Self> {
        let mut monitor = Self::in_memory(model, clock)?;
        let path = Self::events_path(store, model);
        let opened = JsonlLog::open::<Event>(&path)?;
        let corrupt = |line: usize, e: MonitorError| MonitorError::CorruptLog {
            path: path.clone(),
            line,
            reason: e.to_string(),
        };
        let mut orphan_labels = 0usize;
        for (line, event) in opened.events {
            match event {
                Event::Batch { at, batch, .. } => {
                    monitor.check_batch(&batch).map_err(|e| corrupt(line, e))?;
                    // `log_batch` never writes an empty batch; one read back says nothing.
                    if batch.n_requests() > 0 || batch.drift_score.is_some() {
                        monitor.insert_batch(at, batch);
                    }
                }
                Event::Labels { labels, .. } => {
                    for (id, y) in labels {
                        if monitor.index.contains_key(&id) {
                            monitor.labels.insert(id, y);
                        } else {
                            orphan_labels += 1;
                        }
                    }
                }
            }
        }
        if orphan_labels > 0 {
            tracing::warn!(
                path = %path.display(),
                labels = orphan_labels,
                "labels for request ids that no replayed batch served were ignored"
            );
        }
        monitor.log = Some(opened.log);
        monitor.torn = opened.torn;
        monitor.skipped = opened.skipped;
        Ok(monitor)
    }

    /// The complete lines of the log that were kept but skipped when it was opened (written
    /// by a newer version, or unreadable), in file order.
    pub fn skipped_lines(&self) -> &[SkippedLine] {
        &self.skipped
    }

    /// The monitored model's name.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// The event file, when the monitor is persistent.
    pub fn path(&self) -> Option<&Path> {
        self.log.as_ref().map(JsonlLog::path)
    }

    /// The torn last line removed when the log was opened, if there was one.
    pub fn torn_tail(&self) -> Option<&TornTail> {
        self.torn.as_ref()
    }

    /// Logs one batch at the clock's current time. The batch is written to disk (one line,
    /// fsynced) before it is counted, so what a summary shows has been persisted. A batch
    /// with no request and no drift score is accepted and ignored.
    ///
    /// # Errors
    /// [`MonitorError::InvalidBatch`] naming the field (and row) that is wrong: vectors of
    /// different lengths, a confidence outside [0, 1], a negative or non-finite latency, an
    /// empty or repeated request id (also across batches), more invalid rows than requests.
    /// I/O errors from the log.
    pub fn log_batch(&mut self, batch: PredictionBatch) -> Result<()> {
        self.check_batch(&batch)?;
        // A batch with no request and no drift score says nothing: nothing to record. A drift
        // check over a batch of features is an event on its own, requests or not.
        if batch.n_requests() == 0 && batch.drift_score.is_none() {
            return Ok(());
        }
        let at = self.clock.now();
        let event = Event::Batch {
            v: EVENT_FORMAT_VERSION,
            at,
            batch,
        };
        if let Some(log) = &mut self.log {
            log.append(&event)?;
        }
        if let Event::Batch { batch, .. } = event {
            self.insert_batch(at, batch);
        }
        Ok(())
    }

    /// Every check a batch passes before it is counted, live or replayed: its own
    /// consistency, and request ids not already logged in an earlier batch.
    fn check_batch(&self, batch: &PredictionBatch) -> Result<()> {
        batch.validate()?;
        let ids = batch
            .request_ids
            .iter()
            .chain(batch.failed.iter().map(|f| &f.request_id));
        for id in ids {
            if self.index.contains_key(id) || self.failed_ids.contains(id) {
                return Err(MonitorError::InvalidBatch {
                    field: "request_ids",
                    index: None,
                    reason: format!("request id `{id}` was already logged in an earlier batch"),
                });
            }
        }
        Ok(())
    }

    fn insert_batch(&mut self, at: DateTime<Utc>, batch: PredictionBatch) {
        let b = self.batches.len();
        for (row, id) in batch.request_ids.iter().enumerate() {
            self.index.insert(id.clone(), (b, row));
        }
        for f in &batch.failed {
            self.failed_ids.insert(f.request_id.clone());
        }
        self.batches.push((at, batch));
    }

    /// Records true labels that arrived after the predictions, by request id. A label for a
    /// request that already has one replaces it (a corrected label). Ids that match no
    /// logged prediction are returned in [`LabelReport::unknown`] and not stored.
    ///
    /// # Errors
    /// I/O errors from the log.
    pub fn record_labels<S: AsRef<str>>(&mut self, labels: &[(S, usize)]) -> Result<LabelReport> {
        let mut report = LabelReport::default();
        let mut known = Vec::with_capacity(labels.len());
        for (id, y) in labels {
            let id = id.as_ref();
            if self.index.contains_key(id) {
                known.push((id.to_string(), *y));
            } else {
                report.unknown.push(id.to_string());
            }
        }
        if !report.unknown.is_empty() {
            tracing::warn!(
                model = %self.model,
                unknown = report.unknown.len(),
                "labels for unknown request ids ignored"
            );
        }
        report.matched = known.len();
        if known.is_empty() {
            return Ok(report);
        }
        let event = Event::Labels {
            v: EVENT_FORMAT_VERSION,
            at: self.clock.now(),
            labels: known,
        };
        if let Some(log) = &mut self.log {
            log.append(&event)?;
        }
        if let Event::Labels { labels, .. } = event {
            self.labels.extend(labels);
        }
        Ok(report)
    }

    /// Forgets batches logged before `now − keep` (and their labels), in memory and on disk
    /// (the event file is rewritten atomically), and returns how many batches were dropped.
    /// Without it a long-running monitor grows without bound: call it now and then with the
    /// longest window you summarise.
    ///
    /// # Errors
    /// I/O errors; the monitor is unchanged when the rewrite fails.
    pub fn compact(&mut self, keep: Duration) -> Result<usize> {
        let (cutoff, now) = self.window(keep);
        let n_old = self.batches.iter().filter(|(at, _)| *at < cutoff).count();
        if n_old == 0 {
            return Ok(0);
        }
        let kept: Vec<(DateTime<Utc>, PredictionBatch)> = self
            .batches
            .iter()
            .filter(|(at, _)| *at >= cutoff)
            .cloned()
            .collect();
        let mut labels: Vec<(String, usize)> = kept
            .iter()
            .flat_map(|(_, b)| b.request_ids.iter())
            .filter_map(|id| self.labels.get(id).map(|&y| (id.clone(), y)))
            .collect();
        labels.sort();
        if let Some(log) = &mut self.log {
            let mut events: Vec<Event> = kept
                .iter()
                .map(|(at, batch)| Event::Batch {
                    v: EVENT_FORMAT_VERSION,
                    at: *at,
                    batch: batch.clone(),
                })
                .collect();
            if !labels.is_empty() {
                events.push(Event::Labels {
                    v: EVENT_FORMAT_VERSION,
                    at: now,
                    labels: labels.clone(),
                });
            }
            log.rewrite(&events)?;
        }
        self.batches.clear();
        self.index.clear();
        self.failed_ids.clear();
        self.labels.clear();
        for (at, batch) in kept {
            self.insert_batch(at, batch);
        }
        self.labels.extend(labels);
        Ok(n_old)
    }

    /// Summary of the last `window` (batches logged at or after `now − window`), all model
    /// versions together.
    pub fn summary(&self, window: Duration) -> PerformanceSummary {
        self.summarise(window, None)
    }

    /// Summary of the last `hours` hours.
    pub fn summary_hours(&self, hours: u32) -> PerformanceSummary {
        self.summary(Duration::hours(i64::from(hours)))
    }

    /// Summary of the last `window` for one model version only (to compare a challenger
    /// with the champion on live traffic).
    pub fn summary_for_version(&self, window: Duration, version: &str) -> PerformanceSummary {
        self.summarise(window, Some(version))
    }

    /// The feature rows logged in the last `window`, oldest first: the "current" sample
    /// for a drift check.
    pub fn recent_features(&self, window: Duration) -> Vec<Vec<f64>> {
        let (start, end) = self.window(window);
        self.batches
            .iter()
            .filter(|(at, _)| *at >= start && *at <= end)
            .flat_map(|(_, b)| b.features.iter().cloned())
            .collect()
    }

    fn window(&self, window: Duration) -> (DateTime<Utc>, DateTime<Utc>) {
        let end = self.clock.now();
        let start = end
            .checked_sub_signed(window)
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        (start, end)
    }

    fn summarise(&self, window: Duration, version: Option<&str>) -> PerformanceSummary {
        let (start, end) = self.window(window);
        let mut n_batches = 0;
        let (mut n_pred, mut n_err, mut invalid) = (0usize, 0usize, 0usize);
        let mut latencies = Vec::new();
        let mut conf_sum = 0.0;
        let mut drift = Vec::new();
        let mut y_true = Vec::new();
        let mut y_pred = Vec::new();
        let mut by_version = BTreeMap::new();
        for (at, b) in &self.batches {
            if *at < start || *at > end || version.is_some_and(|v| v != b.model_version) {
                continue;
            }
            n_batches += 1;
            n_pred += b.request_ids.len();
            n_err += b.failed.len();
            invalid += b.invalid_rows;
            latencies.extend_from_slice(&b.latencies_ms);
            latencies.extend(b.failed.iter().map(|f| f.latency_ms));
            conf_sum += b.confidences.iter().sum::<f64>();
            drift.extend(b.drift_score);
            *by_version.entry(b.model_version.clone()).or_insert(0) += b.request_ids.len();
            for (id, &p) in b.request_ids.iter().zip(&b.predictions) {
                if let Some(&y) = self.labels.get(id) {
                    y_true.push(y);
                    y_pred.push(p);
                }
            }
        }
        let n_req = n_pred + n_err;
        let ratio = |num: usize, den: usize| (den > 0).then(|| num as f64 / den as f64);
        latencies.sort_by(f64::total_cmp);
        let correct = y_true.iter().zip(&y_pred).filter(|(t, p)| t == p).count();
        let invalid_share = ratio(invalid, n_req);
        PerformanceSummary {
            window_start: start,
            window_end: end,
            n_batches,
            n_requests: n_req,
            n_predictions: n_pred,
            n_errors: n_err,
            error_rate: ratio(n_err, n_req),
            n_labelled: y_true.len(),
            accuracy: ratio(correct, y_true.len()),
            f1_macro: f1_macro(&y_true, &y_pred),
            mean_confidence: (n_pred > 0).then(|| conf_sum / n_pred as f64),
            latency_p50_ms: percentile(&latencies, 0.50),
            latency_p95_ms: percentile(&latencies, 0.95),
            latency_p99_ms: percentile(&latencies, 0.99),
            drift_score: (!drift.is_empty())
                .then(|| drift.iter().sum::<f64>() / drift.len() as f64),
            max_drift_score: drift.iter().copied().reduce(f64::max),
            invalid_row_share: invalid_share,
            data_quality_score: invalid_share.map(|s| 1.0 - s),
            predictions_by_version: by_version,
        }
    }
}

/// Percentile of sorted values with numpy's default linear interpolation.
fn percentile(sorted: &[f64], q: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    let h = last as f64 * q;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(last);
    let (a, b) = (*sorted.get(lo)?, *sorted.get(hi)?);
    Some(a + (h - lo as f64) * (b - a))
}

/// Macro F1 over the classes present in `y_true` or `y_pred`, from `obesity-eval` (scikit-learn's
/// `f1_score(average="macro", zero_division=0)`). `None` without labels.
///
/// Labels come from users and may be any `usize`, so they are renumbered densely first: the
/// confusion matrix is then sized by the classes present, never by the largest label.
fn f1_macro(y_true: &[usize], y_pred: &[usize]) -> Option<f64> {
    let classes: std::collections::BTreeSet<usize> = y_true.iter().chain(y_pred).copied().collect();
    let dense: HashMap<usize, usize> = classes.iter().enumerate().map(|(i, &c)| (c, i)).collect();
    let remap =
        |v: &[usize]| -> Vec<usize> { v.iter().filter_map(|c| dense.get(c).copied()).collect() };
    obesity_eval::precision_recall_f1(
        &remap(y_true),
        &remap(y_pred),
        classes.len(),
        obesity_eval::Average::Macro,
        obesity_eval::ZeroDivision::Zero,
    )
    .ok()
    .map(|prf| prf.f1)
}

/// Names used as directory components must be non-empty and stay inside their directory.
pub(crate) fn validate_name(field: &'static str, name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(MonitorError::InvalidConfig {
            field,
            value: format!("{name:?}"),
            expected: "a non-empty name of ASCII letters, digits, '-', '_' or '.'".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_matches_numpy_linear() {
        // numpy.percentile([1, 2, 3, 4, 10], [50, 95, 99]) = [3.0, 8.8, 9.76]
        let v = [1.0, 2.0, 3.0, 4.0, 10.0];
        assert_eq!(percentile(&v, 0.5), Some(3.0));
        assert!((percentile(&v, 0.95).unwrap_or(0.0) - 8.8).abs() < 1e-12);
        assert!((percentile(&v, 0.99).unwrap_or(0.0) - 9.76).abs() < 1e-12);
        assert_eq!(percentile(&[], 0.5), None);
        assert_eq!(percentile(&[7.0], 0.99), Some(7.0));
    }

    #[test]
    fn f1_macro_matches_sklearn() {
        // sklearn.metrics.f1_score([0,0,1,1,2,2],[0,1,1,1,0,2],average="macro")
        // = 0.6555555555555556 (computed with scikit-learn 1.x)
        let f = f1_macro(&[0, 0, 1, 1, 2, 2], &[0, 1, 1, 1, 0, 2]).unwrap_or(0.0);
        assert!((f - 0.655_555_555_555_555_6).abs() < 1e-12, "{f}");
        // A class only predicted, never true, counts with F1 = 0:
        // f1_score([0,0],[0,1],average="macro") = mean(2/3, 0) = 1/3
        let f = f1_macro(&[0, 0], &[0, 1]).unwrap_or(0.0);
        assert!((f - 1.0 / 3.0).abs() < 1e-12, "{f}");
        // Arbitrary label values are renumbered, not used as matrix sizes.
        let f = f1_macro(&[usize::MAX, 7], &[usize::MAX, 7]).unwrap_or(0.0);
        assert!((f - 1.0).abs() < 1e-12, "{f}");
        assert_eq!(f1_macro(&[], &[]), None);
    }
}
