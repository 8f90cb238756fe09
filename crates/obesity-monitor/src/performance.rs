//! The windowed performance monitor: what the model served, how fast, how often it failed,
//! and — once true labels arrive — how often it was right.
//!
//! Every logged batch and label set is one line of a JSON-lines file
//! (`<store>/monitoring/<model>/events.jsonl`), so the monitor's state survives restarts and
//! a crash loses at most the line being written (see [`TornTail`]). Lines written by a newer
//! version, or unreadable, are kept and skipped (see [`SkippedLine`]); replayed events are
//! validated exactly as live ones.

mod event_log;
mod retention;
mod runs;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

use crate::clock::Clock;
use crate::error::{MonitorError, Result};

pub(crate) use event_log::{JsonlLog, LogRecord, newer_version};
pub use event_log::{SkipReason, SkippedLine, TornTail};
use retention::{Agg, ExpiredIds, f1_from_confusion};
pub use retention::{LATENCY_BINS, MonitorLimits, MonitorStats};
pub use runs::IdRun;
use runs::{ExpiredRuns, RunEntry, RunIndex, counter_of};

/// Newest version of the event-line format this crate reads. It writes version 1, or 2 for
/// a batch with [`PredictionBatch::id_runs`] (which a version-1 reader must skip, not
/// misread as a batch without ids).
const EVENT_FORMAT_VERSION: u32 = 2;

/// The format version of a batch event.
fn batch_format(batch: &PredictionBatch) -> u32 {
    if batch.id_runs.is_empty() { 1 } else { 2 }
}

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
/// The per-request vectors (`predictions`, `confidences`, `latencies_ms`, and `features`
/// when given) are parallel: entry `i` of each describes request `i`, whose id is
/// `request_ids[i]`, or, past the listed ids, the next id of `id_runs`. Build one with
/// [`PredictionBatch::new`] and [`PredictionBatch::push`] (or [`PredictionBatch::push_run`]
/// for ids issued from a counter), or from a probability matrix with
/// [`PredictionBatch::from_probabilities`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PredictionBatch {
    /// The model version that served the batch (registry version or any label you use).
    pub model_version: String,
    /// The ids of the first served requests, one each; true labels are later joined on them.
    pub request_ids: Vec<String>,
    /// The ids of the served requests after `request_ids`, as runs of a counter, in order:
    /// a server that numbers its requests logs a run per request instead of a string per
    /// row (see [`IdRun`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub id_runs: Vec<IdRun>,
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

    /// Adds one served request whose id is `{prefix}{counter:x}`, extending the last run when
    /// the id follows it: a 100-row request numbered from a counter costs one [`IdRun`].
    ///
    /// ```
    /// use obesity_monitor::PredictionBatch;
    ///
    /// let mut batch = PredictionBatch::new("3");
    /// for k in 0..100 {
    ///     batch.push_run("00c0ffee-", 0x500 + k, 1, 0.9, 2.5);
    /// }
    /// batch.push_run("00c0ffee-", 0x700, 0, 0.8, 2.5);
    /// assert_eq!(batch.id_runs.len(), 2);
    /// assert_eq!(batch.n_requests(), 101);
    /// ```
    pub fn push_run(
        &mut self,
        prefix: &str,
        counter: u64,
        predicted: usize,
        confidence: f64,
        latency_ms: f64,
    ) -> &mut Self {
        match self.id_runs.last_mut() {
            Some(run)
                if run.prefix == prefix
                    && run.last().and_then(|l| l.checked_add(1)) == Some(counter) =>
            {
                run.len += 1;
            }
            _ => self.id_runs.push(IdRun::new(prefix, counter, 1)),
        }
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
        self.n_served() + self.failed.len()
    }

    /// Number of served requests: the listed ids and the runs' ids.
    fn n_served(&self) -> usize {
        let in_runs = self
            .id_runs
            .iter()
            .fold(0u64, |n, r| n.saturating_add(r.len));
        self.request_ids
            .len()
            .saturating_add(usize::try_from(in_runs).unwrap_or(usize::MAX))
    }

    /// The runs' checks: each is a non-empty run with a prefix, within `u64`, and no id is
    /// given twice in the batch (runs against runs, listed and failed ids against runs).
    fn validate_runs(&self) -> Result<()> {
        let bad = |index, reason: String| MonitorError::InvalidBatch {
            field: "id_runs",
            index: Some(index),
            reason,
        };
        // Per prefix, the runs as (first, last, index) sorted by first id: two runs share an
        // id only if neighbours do, and a listed id is found by a binary search (a server's
        // flush holds thousands of runs: no pairwise checks).
        let mut by_prefix: BTreeMap<&str, Vec<(u64, u64, usize)>> = BTreeMap::new();
        for (i, run) in self.id_runs.iter().enumerate() {
            if run.prefix.is_empty() {
                return Err(bad(i, "the prefix is empty".into()));
            }
            if run.len == 0 {
                return Err(bad(i, "the run has no id".into()));
            }
            let Some(last) = run.last() else {
                return Err(bad(
                    i,
                    format!(
                        "{} ids from {:x} pass the largest counter",
                        run.len, run.first
                    ),
                ));
            };
            by_prefix
                .entry(run.prefix.as_str())
                .or_default()
                .push((run.first, last, i));
        }
        for runs in by_prefix.values_mut() {
            runs.sort_unstable();
            for pair in runs.windows(2) {
                let ((_, a_last, a), (b_first, _, b)) = (pair[0], pair[1]);
                if a_last >= b_first {
                    return Err(bad(a.max(b), format!("repeats ids of run {}", a.min(b))));
                }
            }
        }
        let listed = self.request_ids.iter().map(|s| ("request_ids", s)).chain(
            self.failed
                .iter()
                .map(|f| ("failed.request_id", &f.request_id)),
        );
        for (i, (field, id)) in listed.enumerate() {
            let holder = by_prefix.iter().find_map(|(prefix, runs)| {
                let n = counter_of(prefix, id)?;
                let at = runs
                    .partition_point(|&(first, _, _)| first <= n)
                    .checked_sub(1)?;
                let (_, last, r) = runs[at];
                (n <= last).then_some(r)
            });
            if let Some(r) = holder {
                return Err(MonitorError::InvalidBatch {
                    field,
                    index: Some(i),
                    reason: format!("request id `{id}` is also an id of run {r}"),
                });
            }
        }
        Ok(())
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
        self.validate_runs()?;
        let n = self.n_served();
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
    /// Request ids that were logged but whose detail has since been evicted to keep memory
    /// bounded (see [`MonitorLimits::max_retained_requests`]): their prediction is no longer
    /// known, so the label is not joined nor persisted. Not an error. Recognised with a
    /// bounded filter (about 1 % false positives; ids evicted long ago read as unknown).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expired: Vec<String>,
}

/// Windowed performance figures, as [`PerformanceMonitor::summary`] computes them.
///
/// Every rate is `None` when its denominator is zero in the window, so "no data" is never
/// mistaken for "perfect" or "terrible". `Default` is the empty summary (no data at all),
/// handy for building one by hand for an [`crate::AlertPolicy`] or a trigger.
///
/// Counts, rates, accuracy, F1, confidence and drift are exact over
/// `[window_start, window_end]`. While every request of the window is still retained (see
/// [`MonitorLimits`]) `window_start` is exactly `now − window` and the latency percentiles
/// are exact; once older detail has been evicted, the window is answered from per-bucket
/// aggregates: `window_start` is rounded down to the start of its time bucket when that
/// bucket's detail is gone (at most [`MonitorLimits::bucket_seconds`] earlier), and the
/// latency percentiles come from a log-binned histogram, within ±1 % of the exact value.
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
    /// `1 − invalid_row_share`: the original Python project's data-quality score, where higher is better.
    pub data_quality_score: Option<f64>,
    /// Predictions per model version in the window.
    pub predictions_by_version: BTreeMap<String, usize>,
}

/// The retained detail of one logged batch (features are kept apart, error texts dropped).
#[derive(Debug, Clone)]
struct Detail {
    at: DateTime<Utc>,
    bucket: i64,
    version: Arc<str>,
    /// Ids of the first served requests; the rest are `runs`' (prefix, first, len).
    ids: Vec<Arc<str>>,
    runs: Vec<(Arc<str>, u64, u64)>,
    predictions: Vec<usize>,
    confidences: Vec<f64>,
    latencies_ms: Vec<f64>,
    failed: Vec<(Arc<str>, f64)>,
    invalid_rows: usize,
    drift_score: Option<f64>,
}

impl Detail {
    /// What the batch counts against [`MonitorLimits::max_retained_requests`].
    fn weight(&self) -> usize {
        (self.served() + self.failed.len()).max(1)
    }

    /// Served requests (listed ids and runs' ids: one prediction each).
    fn served(&self) -> usize {
        self.predictions.len()
    }
}

/// What a retained request id joins a label to.
#[derive(Debug, Clone)]
struct IdEntry {
    bucket: i64,
    version: Arc<str>,
    /// `None` for a failed request (never labelled).
    predicted: Option<usize>,
    label: Option<usize>,
}

/// What became of one label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Join {
    Joined,
    Failed,
    Expired,
    Unknown,
}

/// Request id → what its label joins to.
///
/// Hashed with foldhash's fast hasher (randomly seeded per map, as std's): the keys are
/// request ids a server issues itself and the map is only ever filled from logged batches,
/// so SipHash's resistance to chosen keys buys nothing here, and it was the single largest
/// cost of logging a served row (inserting, checking and evicting ids).
type IdIndex = HashMap<Arc<str>, IdEntry, foldhash::fast::RandomState>;

/// Adds a retained batch to an aggregate (labels from the index, when the batch may have
/// any: a batch being logged has none yet); latencies go to `exact` when given, else to the
/// histogram.
fn add_detail(
    agg: &mut Agg,
    d: &Detail,
    index: Option<(&IdIndex, &RunIndex)>,
    exact: Option<&mut Vec<f64>>,
) {
    agg.n_batches += 1;
    agg.n_pred += d.served();
    agg.n_err += d.failed.len();
    agg.invalid += d.invalid_rows;
    agg.conf_sum += d.confidences.iter().sum::<f64>();
    let failed = d.failed.iter().map(|(_, l)| *l);
    match exact {
        Some(v) => {
            v.extend_from_slice(&d.latencies_ms);
            v.extend(failed);
        }
        None => {
            // The rows of one request share its latency: add runs of equal values at once.
            let mut values = d.latencies_ms.iter().copied().chain(failed).peekable();
            while let Some(l) = values.next() {
                let mut k = 1;
                while values.next_if(|&m| m.to_bits() == l.to_bits()).is_some() {
                    k += 1;
                }
                agg.latency.add_many(l, k);
            }
        }
    }
    if let Some(s) = d.drift_score {
        agg.add_drift(s);
    }
    let Some((index, runs)) = index else {
        return;
    };
    for (id, &p) in d.ids.iter().zip(&d.predictions) {
        if let Some(y) = index.get(id).and_then(|e| e.label) {
            agg.add_label(y, p);
        }
    }
    for (prefix, first, _) in &d.runs {
        for (y, p) in runs.labels_of(prefix, *first) {
            agg.add_label(y, p);
        }
    }
}

/// The leading fields of an event line, read without the batch, to compact the log.
#[derive(Deserialize)]
struct Probe {
    event: String,
    #[serde(default)]
    v: u32,
    at: DateTime<Utc>,
}

/// Logs prediction batches and late-arriving true labels, and summarises any recent window.
///
/// State lives in memory and, when opened with [`PerformanceMonitor::open`], in an
/// append-only JSON-lines file that is read back on the next open. Methods take `&mut self`:
/// share a monitor between threads behind a `Mutex`.
///
/// Memory is bounded by its [`MonitorLimits`], live and on replay (the log is streamed and
/// the same caps applied): per-request detail for the most recent requests only, exact
/// per-bucket aggregates for the rest (see [`PerformanceSummary`] for what stays exact).
/// [`PerformanceMonitor::retained`] reports what is held.
///
/// The log on disk still grows with traffic, and reopening reads all of it (time, not
/// memory): call [`PerformanceMonitor::compact`] periodically with the longest window you
/// summarise (the server does, every 10 minutes with its retention) to bound it.
#[derive(Debug)]
pub struct PerformanceMonitor {
    model: String,
    clock: Arc<dyn Clock>,
    log: Option<JsonlLog>,
    limits: MonitorLimits,
    /// Retained batches, oldest first.
    detail: VecDeque<Detail>,
    /// Sum of the retained batches' weights.
    retained_requests: usize,
    /// Request id → what its label joins to, for the retained batches' listed ids.
    index: IdIndex,
    /// The same for the retained batches' runs of ids.
    runs: RunIndex,
    /// The most recent feature rows.
    features: VecDeque<(DateTime<Utc>, Vec<f64>)>,
    /// Bucket index → model version → exact aggregates of every batch logged in it.
    buckets: BTreeMap<i64, BTreeMap<Arc<str>, Agg>>,
    /// Latest time of an evicted batch: the detail is complete only after it.
    evicted_through: Option<DateTime<Utc>>,
    expired: ExpiredIds,
    expired_runs: ExpiredRuns,
    evicted_requests: u64,
    expired_labels: u64,
    /// Earliest event time in the log file (to skip needless compactions).
    log_oldest: Option<DateTime<Utc>>,
    torn: Option<TornTail>,
    skipped: Vec<SkippedLine>,
}

impl PerformanceMonitor {
    /// A monitor that keeps everything in memory only (tests, short simulations), with the
    /// default [`MonitorLimits`].
    ///
    /// # Errors
    /// [`MonitorError::InvalidConfig`] for an unusable model name.
    pub fn in_memory(model: &str, clock: Arc<dyn Clock>) -> Result<Self> {
        Self::in_memory_with_limits(model, clock, MonitorLimits::default())
    }

    /// [`PerformanceMonitor::in_memory`] with the given limits.
    ///
    /// # Errors
    /// [`MonitorError::InvalidConfig`] for an unusable model name or limits.
    pub fn in_memory_with_limits(
        model: &str,
        clock: Arc<dyn Clock>,
        limits: MonitorLimits,
    ) -> Result<Self> {
        validate_name("model", model)?;
        limits.validate()?;
        Ok(Self {
            model: model.to_string(),
            clock,
            log: None,
            expired: ExpiredIds::new(limits.max_retained_requests, limits.seed),
            expired_runs: ExpiredRuns::new(2 * limits.max_retained_requests),
            limits,
            detail: VecDeque::new(),
            retained_requests: 0,
            index: IdIndex::default(),
            runs: RunIndex::default(),
            features: VecDeque::new(),
            buckets: BTreeMap::new(),
            evicted_through: None,
            evicted_requests: 0,
            expired_labels: 0,
            log_oldest: None,
            torn: None,
            skipped: Vec::new(),
        })
    }

    /// Replaces the limits (builder style), evicting at once whatever exceeds the new caps.
    ///
    /// # Errors
    /// [`MonitorError::InvalidConfig`] for unusable limits, or a different
    /// `bucket_seconds` once something has been logged.
    pub fn with_limits(mut self, limits: MonitorLimits) -> Result<Self> {
        limits.validate()?;
        if limits.bucket_seconds != self.limits.bucket_seconds && !self.buckets.is_empty() {
            return Err(MonitorError::InvalidConfig {
                field: "bucket_seconds",
                value: limits.bucket_seconds.to_string(),
                expected: format!(
                    "{} (buckets of another width were already filled)",
                    self.limits.bucket_seconds
                ),
            });
        }
        if self.evicted_requests == 0 {
            self.expired = ExpiredIds::new(limits.max_retained_requests, limits.seed);
            self.expired_runs = ExpiredRuns::new(2 * limits.max_retained_requests);
        }
        self.limits = limits;
        self.evict();
        self.trim_features();
        self.trim_buckets();
        Ok(self)
    }

    /// The limits in force.
    pub fn limits(&self) -> &MonitorLimits {
        &self.limits
    }

    /// What the monitor holds in memory now: each count stays within its
    /// [`MonitorLimits`] cap.
    pub fn retained(&self) -> MonitorStats {
        MonitorStats {
            retained_batches: self.detail.len(),
            retained_requests: self.retained_requests,
            indexed_ids: self.index.len() + self.runs.ids(),
            labelled_ids: self.index.values().filter(|e| e.label.is_some()).count()
                + self.runs.labelled(),
            feature_rows: self.features.len(),
            buckets: self.buckets.len(),
            bucket_aggregates: self.buckets.values().map(BTreeMap::len).sum(),
            evicted_requests: self.evicted_requests,
            expired_labels: self.expired_labels,
        }
    }

    /// The event file of `model` under the store directory `store`:
    /// `<store>/monitoring/<model>/events.jsonl`.
    pub fn events_path(store: &Path, model: &str) -> PathBuf {
        store.join("monitoring").join(model).join("events.jsonl")
    }

    /// Opens (or creates) the persistent monitor of `model` under the store directory
    /// `store`, replaying every logged event, with the default [`MonitorLimits`]. See
    /// [`PerformanceMonitor::open_with_limits`].
    ///
    /// # Errors
    /// As [`PerformanceMonitor::open_with_limits`].
    pub fn open(store: &Path, model: &str, clock: Arc<dyn Clock>) -> Result<Self> {
        Self::open_with_limits(store, model, clock, MonitorLimits::default())
    }

    /// Opens (or creates) the persistent monitor of `model` under the store directory
    /// `store`, replaying every logged event.
    ///
    /// The log is streamed, one line in memory at a time, and the events go through the
    /// same bounded state as live ones: memory after (and during) replay is bounded by
    /// `limits` whatever the size of the log. Replay time grows with the log: keep it short
    /// with [`PerformanceMonitor::compact`].
    ///
    /// * A torn last line left by a crash (no trailing newline, not valid JSON) is removed,
    ///   logged as a warning and reported by [`PerformanceMonitor::torn_tail`]. Nothing else
    ///   is ever removed.
    /// * A complete line this build cannot read — an event kind or format version from a
    ///   newer build, or a line that is not valid JSON — is kept in the file, skipped with a
    ///   warning and reported by [`PerformanceMonitor::skipped_lines`], wherever it is.
    /// * Every replayed batch is validated exactly as [`PerformanceMonitor::log_batch`]
    ///   validates a live one (lengths, confidences in [0, 1], finite latencies, counts,
    ///   request ids unique among the retained requests); labels for request ids that no
    ///   retained batch served (their batch was skipped, compacted or evicted) are ignored
    ///   with a warning (evicted ones are counted in [`MonitorStats::expired_labels`]).
    ///
    /// # Errors
    /// An unusable model name (empty, or with path separators) or limits; I/O failures;
    /// [`MonitorError::Locked`] when another monitor has the log open;
    /// [`MonitorError::CorruptLog`], naming the file and the line, for an event of a known
    /// kind that does not read or fails validation (the file is left untouched).
    pub fn open_with_limits(
        store: &Path,
        model: &str,
        clock: Arc<dyn Clock>,
        limits: MonitorLimits,
    ) -> Result<Self> {
        let mut monitor = Self::in_memory_with_limits(model, clock, limits)?;
        let path = Self::events_path(store, model);
        let corrupt = |line: usize, e: MonitorError| MonitorError::CorruptLog {
            path: path.clone(),
            line,
            reason: e.to_string(),
        };
        let mut orphan_labels = 0usize;
        let streamed = JsonlLog::open_with::<Event>(&path, |line, event| {
            match event {
                Event::Batch { at, batch, .. } => {
                    monitor.check_batch(&batch).map_err(|e| corrupt(line, e))?;
                    // `log_batch` never writes an empty batch; one read back says nothing.
                    if batch.n_requests() > 0 || batch.drift_score.is_some() {
                        monitor.note_logged(at);
                        monitor.insert_batch(at, batch);
                    }
                }
                Event::Labels { at, labels, .. } => {
                    monitor.note_logged(at);
                    for (id, y) in labels {
                        match monitor.apply_label(&id, y) {
                            Join::Joined => {}
                            Join::Expired => {
                                monitor.expired_labels += 1;
                                orphan_labels += 1;
                            }
                            Join::Failed | Join::Unknown => orphan_labels += 1,
                        }
                    }
                }
            }
            Ok(())
        })?;
        if orphan_labels > 0 {
            tracing::warn!(
                path = %path.display(),
                labels = orphan_labels,
                "labels for request ids that no retained replayed batch served were ignored"
            );
        }
        monitor.log = Some(streamed.log);
        monitor.torn = streamed.torn;
        monitor.skipped = streamed.skipped;
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
    /// In memory it is added to its time bucket's aggregates; its detail (and its feature
    /// rows) are kept while within the [`MonitorLimits`], evicting the oldest.
    ///
    /// # Errors
    /// [`MonitorError::InvalidBatch`] naming the field (and row) that is wrong: vectors of
    /// different lengths, a confidence outside [0, 1], a negative or non-finite latency, an
    /// empty or repeated request id (also across batches, among the retained requests),
    /// more invalid rows than requests. I/O errors from the log.
    pub fn log_batch(&mut self, batch: PredictionBatch) -> Result<()> {
        self.check_batch(&batch)?;
        // A batch with no request and no drift score says nothing: nothing to record. A drift
        // check over a batch of features is an event on its own, requests or not.
        if batch.n_requests() == 0 && batch.drift_score.is_none() {
            return Ok(());
        }
        let at = self.clock.now();
        let event = Event::Batch {
            v: batch_format(&batch),
            at,
            batch,
        };
        if let Some(log) = &mut self.log {
            log.append(&event)?;
            self.note_logged(at);
        }
        if let Event::Batch { batch, .. } = event {
            self.insert_batch(at, batch);
        }
        Ok(())
    }

    /// Every check a batch passes before it is counted, live or replayed: its own
    /// consistency, and request ids not already logged in an earlier (retained) batch.
    fn check_batch(&self, batch: &PredictionBatch) -> Result<()> {
        batch.validate()?;
        let ids = batch
            .request_ids
            .iter()
            .chain(batch.failed.iter().map(|f| &f.request_id));
        for id in ids {
            if self.index.contains_key(id.as_str()) || self.runs.get(id).is_some() {
                return Err(MonitorError::InvalidBatch {
                    field: "request_ids",
                    index: None,
                    reason: format!("request id `{id}` was already logged in an earlier batch"),
                });
            }
        }
        for (i, run) in batch.id_runs.iter().enumerate() {
            let listed = self.index.keys().map(|k| &**k);
            if self.runs.overlaps(run, listed) {
                return Err(MonitorError::InvalidBatch {
                    field: "id_runs",
                    index: Some(i),
                    reason: format!(
                        "ids `{}` to `{}` repeat ids logged in an earlier batch",
                        run.id(0).unwrap_or_default(),
                        run.id(run.len - 1).unwrap_or_default()
                    ),
                });
            }
        }
        Ok(())
    }

    fn note_logged(&mut self, at: DateTime<Utc>) {
        self.log_oldest = Some(self.log_oldest.map_or(at, |o| o.min(at)));
    }

    fn bucket_of(&self, at: DateTime<Utc>) -> i64 {
        at.timestamp()
            .div_euclid(i64::from(self.limits.bucket_seconds))
    }

    fn bucket_start(&self, bucket: i64) -> DateTime<Utc> {
        bucket
            .checked_mul(i64::from(self.limits.bucket_seconds))
            .and_then(|s| DateTime::from_timestamp(s, 0))
            .unwrap_or(if bucket < 0 {
                DateTime::<Utc>::MIN_UTC
            } else {
                DateTime::<Utc>::MAX_UTC
            })
    }

    fn insert_batch(&mut self, at: DateTime<Utc>, batch: PredictionBatch) {
        let bucket = self.bucket_of(at);
        let version: Arc<str> = Arc::from(batch.model_version.as_str());
        let PredictionBatch {
            request_ids,
            id_runs,
            features,
            predictions,
            confidences,
            latencies_ms,
            failed,
            drift_score,
            invalid_rows,
            ..
        } = batch;
        let detail = Detail {
            at,
            bucket,
            version: version.clone(),
            ids: request_ids.into_iter().map(Arc::from).collect(),
            runs: Vec::with_capacity(id_runs.len()),
            predictions,
            confidences,
            latencies_ms,
            failed: failed
                .into_iter()
                .map(|f| (Arc::from(f.request_id), f.latency_ms))
                .collect(),
            invalid_rows,
            drift_score,
        };
        for (id, &p) in detail.ids.iter().zip(&detail.predictions) {
            self.index.insert(
                id.clone(),
                IdEntry {
                    bucket,
                    version: version.clone(),
                    predicted: Some(p),
                    label: None,
                },
            );
        }
        for (id, _) in &detail.failed {
            self.index.insert(
                id.clone(),
                IdEntry {
                    bucket,
                    version: version.clone(),
                    predicted: None,
                    label: None,
                },
            );
        }
        for id in detail
            .ids
            .iter()
            .chain(detail.failed.iter().map(|(id, _)| id))
        {
            self.runs.note_listed(id);
        }
        let mut detail = detail;
        let mut at_row = detail.ids.len();
        for run in id_runs {
            let prefix = self
                .runs
                .interned(&run.prefix)
                .unwrap_or_else(|| Arc::from(run.prefix.as_str()));
            let n = usize::try_from(run.len).unwrap_or(usize::MAX);
            let predicted = detail
                .predictions
                .get(at_row..at_row.saturating_add(n))
                .unwrap_or_default()
                .to_vec();
            at_row = at_row.saturating_add(n);
            let entry = RunEntry {
                len: run.len,
                bucket,
                version: version.clone(),
                predicted,
                labels: BTreeMap::new(),
            };
            let listed = self.index.keys().map(|k| &**k);
            self.runs.insert(prefix.clone(), run.first, entry, listed);
            detail.runs.push((prefix, run.first, run.len));
        }
        let agg = self
            .buckets
            .entry(bucket)
            .or_default()
            .entry(version)
            .or_default();
        add_detail(agg, &detail, None, None);
        self.trim_buckets();

        let cap = self.limits.max_feature_rows;
        let skip = features.len().saturating_sub(cap);
        self.features
            .extend(features.into_iter().skip(skip).map(|row| (at, row)));
        self.trim_features();

        self.retained_requests += detail.weight();
        self.detail.push_back(detail);
        self.evict();
    }

    /// Drops the oldest retained batches until the retained requests fit the cap.
    fn evict(&mut self) {
        while self.retained_requests > self.limits.max_retained_requests {
            let Some(d) = self.detail.pop_front() else {
                self.retained_requests = 0;
                break;
            };
            self.retained_requests -= d.weight();
            for id in d.ids.iter().chain(d.failed.iter().map(|(id, _)| id)) {
                self.index.remove(id);
                self.runs.forget_listed(id);
                self.expired.insert(id);
            }
            for (prefix, first, len) in &d.runs {
                self.runs.remove(prefix, *first);
                self.expired_runs.insert(prefix.clone(), *first, *len);
            }
            self.evicted_requests += (d.served() + d.failed.len()) as u64;
            self.evicted_through = Some(self.evicted_through.map_or(d.at, |t| t.max(d.at)));
        }
    }

    fn trim_features(&mut self) {
        while self.features.len() > self.limits.max_feature_rows {
            self.features.pop_front();
        }
    }

    fn trim_buckets(&mut self) {
        while self.buckets.len() > self.limits.max_buckets {
            self.buckets.pop_first();
        }
    }

    /// Joins one label to its retained request, updating its bucket's confusion counts.
    fn apply_label(&mut self, id: &str, y: usize) -> Join {
        let (p, old, bucket, version) = if let Some(entry) = self.index.get_mut(id) {
            let Some(p) = entry.predicted else {
                return Join::Failed;
            };
            (
                p,
                entry.label.replace(y),
                entry.bucket,
                entry.version.clone(),
            )
        } else if let Some((entry, i)) = self.runs.get_mut(id) {
            let Some(&p) = entry.predicted.get(i as usize) else {
                return Join::Unknown;
            };
            (
                p,
                entry.labels.insert(i, y),
                entry.bucket,
                entry.version.clone(),
            )
        } else {
            return if self.is_expired(id) {
                Join::Expired
            } else {
                Join::Unknown
            };
        };
        if let Some(agg) = self
            .buckets
            .get_mut(&bucket)
            .and_then(|b| b.get_mut(&version))
        {
            if let Some(o) = old {
                agg.remove_label(o, p);
            }
            agg.add_label(y, p);
        }
        Join::Joined
    }

    /// Whether `id` was retained once and evicted since (a listed id: within the filter's
    /// false-positive rate; an id of a run: exactly).
    fn is_expired(&self, id: &str) -> bool {
        self.expired.contains(id) || self.expired_runs.contains(id)
    }

    /// Whether `id` is a retained served (not failed) request.
    fn is_served(&self, id: &str) -> Option<bool> {
        match self.index.get(id) {
            Some(e) => Some(e.predicted.is_some()),
            None => self.runs.get(id).map(|_| true),
        }
    }

    /// Records true labels that arrived after the predictions, by request id. A label for a
    /// request that already has one replaces it (a corrected label). Ids that match no
    /// logged prediction are returned in [`LabelReport::unknown`], ids of predictions whose
    /// detail was evicted (older than the [`MonitorLimits::max_retained_requests`] most
    /// recent requests) in [`LabelReport::expired`]; neither is stored.
    ///
    /// # Errors
    /// I/O errors from the log.
    pub fn record_labels<S: AsRef<str>>(&mut self, labels: &[(S, usize)]) -> Result<LabelReport> {
        let mut report = LabelReport::default();
        let mut known = Vec::with_capacity(labels.len());
        for (id, y) in labels {
            let id = id.as_ref();
            match self.is_served(id) {
                Some(true) => known.push((id.to_string(), *y)),
                None if self.is_expired(id) => report.expired.push(id.to_string()),
                _ => report.unknown.push(id.to_string()),
            }
        }
        if !report.unknown.is_empty() {
            tracing::warn!(
                model = %self.model,
                unknown = report.unknown.len(),
                "labels for unknown request ids ignored"
            );
        }
        if !report.expired.is_empty() {
            self.expired_labels += report.expired.len() as u64;
            tracing::debug!(
                model = %self.model,
                expired = report.expired.len(),
                "labels for request ids no longer retained ignored"
            );
        }
        report.matched = known.len();
        if known.is_empty() {
            return Ok(report);
        }
        let at = self.clock.now();
        let event = Event::Labels {
            v: 1, // the labels event is unchanged since version 1
            at,
            labels: known,
        };
        if let Some(log) = &mut self.log {
            log.append(&event)?;
            self.note_logged(at);
        }
        if let Event::Labels { labels, .. } = event {
            for (id, y) in labels {
                self.apply_label(&id, y);
            }
        }
        Ok(report)
    }

    /// Forgets batches logged before `now − keep` (and their labels), in memory and on disk,
    /// and returns how many batches were dropped (from the file when the monitor is
    /// persistent, else from memory). The event file is rewritten atomically, streamed line
    /// by line (memory stays bounded); events at or after the cutoff are kept verbatim.
    ///
    /// Memory is bounded without it (see [`MonitorLimits`]), but the log on disk — and so
    /// the time to reopen it — grows until it is called: call it now and then with the
    /// longest window you summarise (the server does, every 10 minutes). When the detail
    /// of the time bucket holding the cutoff was already evicted, that bucket's aggregates
    /// are kept whole in memory.
    ///
    /// # Errors
    /// I/O errors; the monitor is unchanged when the rewrite fails.
    pub fn compact(&mut self, keep: Duration) -> Result<usize> {
        let (cutoff, _) = self.window(keep);
        let mut n_old_disk = 0usize;
        if let Some(log) = &mut self.log
            && self.log_oldest.is_some_and(|t| t < cutoff)
        {
            let mut oldest: Option<DateTime<Utc>> = None;
            log.rewrite_filtered(|line| {
                // Lines that are no event of this build were skipped at open and are written
                // at the head of the new file already.
                let Ok(p) = serde_json::from_slice::<Probe>(line) else {
                    return false;
                };
                if !matches!(p.event.as_str(), "batch" | "labels") || p.v > EVENT_FORMAT_VERSION {
                    return false;
                }
                if p.at < cutoff {
                    n_old_disk += usize::from(p.event == "batch");
                    return false;
                }
                oldest = Some(oldest.map_or(p.at, |o| o.min(p.at)));
                true
            })?;
            self.log_oldest = oldest;
        }

        // Memory: detail, ids and features before the cutoff go.
        let n_detail = self.detail.len();
        let mut removed_weight = 0usize;
        self.detail.retain(|d| {
            if d.at >= cutoff {
                return true;
            }
            for id in d.ids.iter().chain(d.failed.iter().map(|(id, _)| id)) {
                self.index.remove(id);
                self.runs.forget_listed(id);
            }
            for (prefix, first, _) in &d.runs {
                self.runs.remove(prefix, *first);
            }
            removed_weight += d.weight();
            false
        });
        self.retained_requests -= removed_weight;
        let removed_detail = n_detail - self.detail.len();
        self.features.retain(|(at, _)| *at >= cutoff);

        // Buckets wholly before the cutoff go; the one holding it is rebuilt from the detail
        // when that is complete, else kept whole.
        let cut = self.bucket_of(cutoff);
        let mut n_old_mem = 0usize;
        let kept = self.buckets.split_off(&cut);
        let dropped = std::mem::replace(&mut self.buckets, kept);
        n_old_mem += dropped
            .values()
            .flat_map(BTreeMap::values)
            .map(|a| a.n_batches)
            .sum::<usize>();
        let cut_start = self.bucket_start(cut);
        let complete = self.evicted_through.is_none_or(|t| t < cut_start);
        if cut_start < cutoff
            && complete
            && let Some(old) = self.buckets.remove(&cut)
        {
            let before: usize = old.values().map(|a| a.n_batches).sum();
            let mut rebuilt: BTreeMap<Arc<str>, Agg> = BTreeMap::new();
            for d in self.detail.iter().filter(|d| d.bucket == cut) {
                let agg = rebuilt.entry(d.version.clone()).or_default();
                add_detail(agg, d, Some((&self.index, &self.runs)), None);
            }
            let after: usize = rebuilt.values().map(|a| a.n_batches).sum();
            n_old_mem += before.saturating_sub(after);
            if !rebuilt.is_empty() {
                self.buckets.insert(cut, rebuilt);
            }
        } else if !complete {
            n_old_mem = n_old_mem.max(removed_detail);
        }
        Ok(if self.log.is_some() {
            n_old_disk
        } else {
            n_old_mem
        })
    }

    /// Summary of the last `window` (batches logged at or after `now − window`), all model
    /// versions together. See [`PerformanceSummary`] for what is exact.
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
    /// for a drift check. Only the most recent [`MonitorLimits::max_feature_rows`] rows are
    /// kept, so a window holding more returns its newest rows.
    pub fn recent_features(&self, window: Duration) -> Vec<Vec<f64>> {
        let (start, end) = self.window(window);
        self.features
            .iter()
            .filter(|(at, _)| *at >= start && *at <= end)
            .map(|(_, row)| row.clone())
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
        let wanted = |v: &str| version.is_none_or(|w| w == v);
        let in_window = |d: &Detail| d.at >= start && d.at <= end && wanted(&d.version);
        let mut acc = Agg::default();
        let mut by_version: BTreeMap<String, usize> = BTreeMap::new();
        let mut window_start = start;
        let exact_path = self.evicted_through.is_none_or(|t| t < start);
        let mut exact = Vec::new();
        if exact_path {
            for d in self.detail.iter().filter(|d| in_window(d)) {
                add_detail(
                    &mut acc,
                    d,
                    Some((&self.index, &self.runs)),
                    Some(&mut exact),
                );
                *by_version.entry(d.version.to_string()).or_insert(0) += d.served();
            }
        } else {
            let (first, last) = (self.bucket_of(start), self.bucket_of(end));
            for (&b, aggs) in self.buckets.range(first..=last) {
                let b_start = self.bucket_start(b);
                let b_end = self.bucket_start(b.saturating_add(1));
                let whole = b_start >= start && b_end <= end;
                let complete = self.evicted_through.is_none_or(|t| t < b_start);
                if whole || !complete {
                    if b_start < window_start {
                        window_start = b_start;
                    }
                    for (v, agg) in aggs.iter().filter(|(v, _)| wanted(v)) {
                        acc.merge(agg);
                        *by_version.entry(v.to_string()).or_insert(0) += agg.n_pred;
                    }
                } else {
                    for d in self.detail.iter().filter(|d| d.bucket == b && in_window(d)) {
                        add_detail(&mut acc, d, Some((&self.index, &self.runs)), None);
                        *by_version.entry(d.version.to_string()).or_insert(0) += d.served();
                    }
                }
            }
        }
        let (n_pred, n_err) = (acc.n_pred, acc.n_err);
        let n_req = n_pred + n_err;
        let ratio = |num: usize, den: usize| (den > 0).then(|| num as f64 / den as f64);
        let n_labelled = acc.confusion.values().sum::<u64>() as usize;
        let correct = acc
            .confusion
            .iter()
            .filter(|((t, p), _)| t == p)
            .map(|(_, &c)| c)
            .sum::<u64>() as usize;
        exact.sort_by(f64::total_cmp);
        let quantile = |q: f64| {
            if exact_path {
                percentile(&exact, q)
            } else {
                acc.latency.quantile(q)
            }
        };
        let invalid_share = ratio(acc.invalid, n_req);
        PerformanceSummary {
            window_start,
            window_end: end,
            n_batches: acc.n_batches,
            n_requests: n_req,
            n_predictions: n_pred,
            n_errors: n_err,
            error_rate: ratio(n_err, n_req),
            n_labelled,
            accuracy: ratio(correct, n_labelled),
            f1_macro: f1_from_confusion(&acc.confusion),
            mean_confidence: (n_pred > 0).then(|| acc.conf_sum / n_pred as f64),
            latency_p50_ms: quantile(0.50),
            latency_p95_ms: quantile(0.95),
            latency_p99_ms: quantile(0.99),
            drift_score: (acc.drift_n > 0).then(|| acc.drift_sum / acc.drift_n as f64),
            max_drift_score: acc.drift_max,
            invalid_row_share: invalid_share,
            data_quality_score: invalid_share.map(|s| 1.0 - s),
            predictions_by_version: by_version,
        }
    }
}

/// Percentile of sorted values with numpy's default linear interpolation.
pub(crate) fn percentile(sorted: &[f64], q: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    let h = last as f64 * q;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(last);
    let (a, b) = (*sorted.get(lo)?, *sorted.get(hi)?);
    Some(a + (h - lo as f64) * (b - a))
}

/// Macro F1 of label/prediction pairs (see [`f1_from_confusion`]).
#[cfg(test)]
fn f1_macro(y_true: &[usize], y_pred: &[usize]) -> Option<f64> {
    let mut confusion = BTreeMap::new();
    for (&t, &p) in y_true.iter().zip(y_pred) {
        *confusion.entry((t, p)).or_insert(0u64) += 1;
    }
    f1_from_confusion(&confusion)
}

/// Names used as directory components follow the workspace's one rule for names that become
/// file names ([`obesity_data::check_file_name`]), the registry's rule for model names too:
/// a model the registry accepts is a model the monitor accepts.
pub(crate) fn validate_name(field: &'static str, name: &str) -> Result<()> {
    obesity_data::check_file_name(field, name).map_err(|e| MonitorError::InvalidConfig {
        field,
        value: format!("{name:?}"),
        expected: match e {
            obesity_data::DataError::InvalidName { reason, .. } => {
                format!("a name that can be a file name: it {reason}")
            }
            other => other.to_string(),
        },
    })
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
