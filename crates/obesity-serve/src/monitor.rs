//! The monitor thread: predictions reach `obesity_monitor::PerformanceMonitor` through a
//! bounded queue, off the request path.
//!
//! A request calls [`MonitorHandle::served`] (a `try_send` on a bounded channel: a full
//! queue drops the event and counts it, it never waits). One plain thread owns the queue's
//! other end. It groups events into one `PredictionBatch` per model version and writes
//! them every flush interval (one fsynced line per batch, not per request), keeps a window of
//! recent rows for drift against the primary version's reference profile, runs the alert
//! rules on a schedule, joins late labels (`/feedback`) and A/B outcomes, and saves
//! experiment state. It also keeps the dashboard's bounded time series ([`Timeline`]) and
//! hands new alerts and resolutions to the webhook [`Notifier`], which posts them from a
//! thread of its own. Work that needs an answer (feedback, a flush before a status read,
//! shutdown) travels through the same queue, so it sees every prediction queued before it.

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use chrono::{DateTime, Utc};
use obesity_data::{ObesityRecord, feature_columns};
use obesity_monitor::{
    Alert, AlertKind, AlertManager, AlertPolicy, DriftOptions, DriftReport, Outcome,
    PerformanceMonitor, PredictionBatch, Severity, SystemClock,
};
use serde::Serialize;
use tokio::sync::oneshot;

use crate::alerting::{Notifier, RecentAlerts, Webhook};
use crate::error::ApiError;
use crate::experiments::Experiments;
use crate::metrics::Metrics;
use crate::state::{Models, RequestId};
use crate::timeline::Timeline;

/// The rows one request served (one for `/predict`), sent to the monitor as one message:
/// row `k` has the request id `first_id.offset(k)`, its record `records[k]` and its
/// prediction `rows[k]`.
#[derive(Debug)]
pub(crate) struct Served {
    pub(crate) first_id: RequestId,
    pub(crate) latency_ms: f32,
    pub(crate) records: Vec<ObesityRecord>,
    pub(crate) rows: Vec<ServedRow>,
}

/// One served row's prediction.
#[derive(Debug)]
pub(crate) struct ServedRow {
    pub(crate) version: u64,
    pub(crate) class: usize,
    pub(crate) confidence: f32,
    pub(crate) user_id: Option<String>,
    /// The experiment that routed the row, when the user is enrolled in it.
    pub(crate) experiment: Option<Arc<str>>,
}

/// One request that failed validation (counted in the error rate and the data-quality
/// share).
#[derive(Debug)]
pub(crate) struct Failed {
    pub(crate) request_id: RequestId,
    pub(crate) version: u64,
    pub(crate) latency_ms: f32,
    pub(crate) error: &'static str,
}

/// Who a late label is for.
#[derive(Debug, Clone)]
pub(crate) enum FeedbackKey {
    Request(String),
    User(String),
}

/// What `/feedback` answers.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct FeedbackOutcome {
    pub(crate) request_id: String,
    pub(crate) label: usize,
    /// Whether the served prediction was right, when it is known.
    pub(crate) correct: Option<bool>,
    /// The experiment the outcome was recorded in, if any.
    pub(crate) experiment: Option<String>,
}

/// What the request path sends, many thousands a second: never waited for.
enum Event {
    Served(Box<Served>),
    Failed(Failed),
}

/// What needs an answer: rare, and it wakes the thread at once.
enum Control {
    Feedback {
        key: FeedbackKey,
        label: usize,
        reply: oneshot::Sender<Result<FeedbackOutcome, ApiError>>,
    },
    Flush(oneshot::Sender<()>),
    Shutdown(oneshot::Sender<()>),
}

/// The last drift check.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct DriftStatus {
    pub(crate) version: String,
    pub(crate) checked_at: DateTime<Utc>,
    pub(crate) rows: usize,
    pub(crate) report: DriftReport,
}

/// An alert that is currently firing.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct OpenAlert {
    pub(crate) kind: AlertKind,
    pub(crate) severity: Severity,
    pub(crate) message: String,
    pub(crate) since: DateTime<Utc>,
}

/// What the monitor thread shares with the handlers.
#[derive(Debug)]
pub(crate) struct MonitorShared {
    pub(crate) monitor: Mutex<PerformanceMonitor>,
    pub(crate) drift: Mutex<Option<DriftStatus>>,
    pub(crate) alerts: Mutex<Vec<OpenAlert>>,
    /// Every alert and resolution, newest last (bounded).
    pub(crate) recent_alerts: RecentAlerts,
    /// The alert webhooks, with what they have done.
    pub(crate) webhooks: Arc<[Arc<Webhook>]>,
    /// The dashboard's time series.
    pub(crate) timeline: Mutex<Timeline>,
    /// Rows in the queue (an estimate: incremented on send, decremented on receipt); a
    /// failed request counts one.
    pub(crate) queued: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) capacity: usize,
}

/// The request side of the queue.
#[derive(Debug)]
pub(crate) struct MonitorHandle {
    events: SyncSender<Event>,
    control: SyncSender<Control>,
    pub(crate) shared: Arc<MonitorShared>,
    metrics: Arc<Metrics>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

/// Settings of the monitor thread.
#[derive(Debug, Clone)]
pub(crate) struct MonitorSettings {
    pub(crate) model: String,
    pub(crate) state_dir: Option<std::path::PathBuf>,
    pub(crate) queue: usize,
    pub(crate) flush_interval: Duration,
    pub(crate) retention: Duration,
    pub(crate) limits: obesity_monitor::MonitorLimits,
    pub(crate) check_interval: Duration,
    pub(crate) drift_window: usize,
    pub(crate) drift_min_rows: usize,
    pub(crate) webhooks: Vec<obesity_monitor::WebhookConfig>,
    pub(crate) timeline_step: Duration,
    pub(crate) timeline_points: usize,
}

/// Opens the prediction log under `dir`, or keeps it in memory when there is no folder or
/// it cannot be opened (another replica holds its lock, say): monitoring must not stop the
/// service.
fn open_monitor(
    model: &str,
    dir: Option<&Path>,
    limits: &obesity_monitor::MonitorLimits,
) -> Result<PerformanceMonitor, obesity_monitor::MonitorError> {
    if let Some(dir) = dir {
        match PerformanceMonitor::open_with_limits(
            dir,
            model,
            Arc::new(SystemClock),
            limits.clone(),
        ) {
            Ok(m) => return Ok(m),
            Err(e) => tracing::warn!(
                error = %e,
                "prediction log not opened; monitoring in memory only"
            ),
        }
    }
    // A registry name the monitor refuses as a folder name is fine in memory once made safe.
    let safe: String = model
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    PerformanceMonitor::in_memory_with_limits(
        if safe.is_empty() { "model" } else { &safe },
        Arc::new(SystemClock),
        limits.clone(),
    )
}

impl MonitorHandle {
    /// Starts the monitor thread.
    pub(crate) fn start(
        settings: MonitorSettings,
        models: Arc<ArcSwap<Models>>,
        experiments: Arc<Experiments>,
        metrics: Arc<Metrics>,
    ) -> crate::error::Result<Self> {
        let monitor = open_monitor(
            &settings.model,
            settings.state_dir.as_deref(),
            &settings.limits,
        )?;
        if let Some(torn) = monitor.torn_tail() {
            tracing::warn!(?torn, "the prediction log ended in a torn line (cut)");
        }
        let notifier = Notifier::start(&settings.webhooks, metrics.clone()).map_err(|source| {
            crate::error::ServeError::Io {
                what: "starting the alert notifier thread".into(),
                source,
            }
        })?;
        let shared = Arc::new(MonitorShared {
            monitor: Mutex::new(monitor),
            drift: Mutex::new(None),
            alerts: Mutex::new(Vec::new()),
            recent_alerts: RecentAlerts::default(),
            webhooks: notifier.webhooks.clone(),
            timeline: Mutex::new(Timeline::new(
                settings.timeline_step.as_secs(),
                settings.timeline_points,
            )),
            queued: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            capacity: settings.queue,
        });
        // A zero-capacity std channel is a rendezvous one; "off" is handled in `offer`.
        let (events, events_rx) = std::sync::mpsc::sync_channel(settings.queue.max(1));
        let (control, control_rx) = std::sync::mpsc::sync_channel(CONTROL_QUEUE);
        let worker = Worker {
            settings,
            events: events_rx,
            control: control_rx,
            shared: shared.clone(),
            models,
            experiments,
            metrics: metrics.clone(),
            pending: Vec::new(),
            pending_rows: 0,
            failed: Vec::new(),
            recent: VecDeque::new(),
            last_by_user: HashMap::new(),
            outcomes: HashMap::new(),
            drift_score: None,
            alerts: None,
            notifier,
            served_index: ServedIndex::default(),
        };
        let thread = std::thread::Builder::new()
            .name("obesity-monitor".into())
            .spawn(move || worker.run())
            .map_err(|source| crate::error::ServeError::Io {
                what: "starting the monitor thread".into(),
                source,
            })?;
        Ok(MonitorHandle {
            events,
            control,
            shared,
            metrics,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Queues an event of `rows` rows without waiting: when the queue's rows would exceed
    /// its capacity (or the channel is full) the whole event is dropped and its rows counted
    /// as dropped. The thread is not woken (it drains the queue every few milliseconds), so a
    /// request never pays for a context switch either.
    fn offer(&self, event: Event, rows: u64) {
        if self.shared.capacity == 0 {
            return; // monitoring is off
        }
        let before = self.shared.queued.fetch_add(rows, Ordering::Relaxed);
        let fits = before + rows <= self.shared.capacity as u64;
        if !fits || self.events.try_send(event).is_err() {
            self.shared.queued.fetch_sub(rows, Ordering::Relaxed);
            self.shared.dropped.fetch_add(rows, Ordering::Relaxed);
            self.metrics.monitor_dropped.inc_by(rows);
        }
    }

    /// Queues the rows of one request (one message, whatever their number); never blocks.
    pub(crate) fn served(&self, served: Served) {
        let rows = served.rows.len() as u64;
        if rows > 0 {
            self.offer(Event::Served(Box::new(served)), rows);
        }
    }

    /// Queues a failed request; never blocks.
    pub(crate) fn failed(&self, failed: Failed) {
        self.offer(Event::Failed(failed), 1);
    }

    /// Joins a late label to its prediction.
    pub(crate) async fn feedback(
        &self,
        key: FeedbackKey,
        label: usize,
    ) -> Result<FeedbackOutcome, ApiError> {
        let (reply, answer) = oneshot::channel();
        if self
            .control
            .try_send(Control::Feedback { key, label, reply })
            .is_err()
        {
            return Err(busy());
        }
        answer.await.map_err(|_| busy())?
    }

    /// Waits until everything queued so far is in the prediction log (skipped when the queue
    /// is full: a status read must not wait behind a backlog).
    pub(crate) async fn flush(&self) {
        let (reply, done) = oneshot::channel();
        if self.control.try_send(Control::Flush(reply)).is_ok() {
            let _ = done.await;
        }
    }

    /// Flushes everything, saves experiments, and stops the thread. Blocking: it waits for
    /// a free slot in a full queue. Idempotent.
    pub(crate) fn shutdown_blocking(&self) {
        let (reply, done) = oneshot::channel();
        if self.control.send(Control::Shutdown(reply)).is_ok() {
            let _ = done.blocking_recv();
        }
        let thread = self.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(t) = thread
            && t.join().is_err()
        {
            tracing::error!("the monitor thread panicked");
        }
    }
}

fn busy() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        "monitor_busy",
        "the monitor queue is full or stopped; retry later",
    )
}

/// Remembered for an enrolled prediction, so its label can become an A/B outcome.
struct EnrolledPrediction {
    user: String,
    experiment: Arc<str>,
    class: usize,
}

/// Most `user → last request` and enrolled-prediction entries kept; beyond this the oldest
/// half of the map is not worth tracking and it is cleared (labels for those ids still join
/// through the request id).
const MAX_TRACKED: usize = 1 << 20;
/// Served rows that trigger a write before the flush interval.
const MAX_PENDING: usize = 50_000;
/// How often the thread drains the event queue.
const DRAIN_TICK: Duration = Duration::from_millis(10);
/// Capacity of the control queue (feedback, flushes): a full one answers 503.
const CONTROL_QUEUE: usize = 1024;

/// Request id → (version, class) of the most recent predictions, so a label given by
/// request id is known to be right or wrong (`obesity_feedback_labels_total`) and counted
/// against the version that served it. Bounded: a ring indexed by the id's counter (ids are
/// issued in sequence), so an id is forgotten once the id [`MAX_INDEXED`] places after it is
/// served; no hashing, no allocation per row. A label for a forgotten id is still joined by
/// the performance monitor, only not counted here.
#[derive(Default)]
struct ServedIndex {
    /// Slot `n % MAX_INDEXED`: the id last stored there, its version and class.
    slots: Vec<Option<(RequestId, u64, usize)>>,
}

/// Predictions [`ServedIndex`] remembers (at most; ids of failed requests leave gaps).
const MAX_INDEXED: usize = 1 << 17;

impl ServedIndex {
    fn slot(id: RequestId) -> usize {
        (id.counter() % MAX_INDEXED as u64) as usize
    }

    fn insert(&mut self, id: RequestId, version: u64, class: usize) {
        if self.slots.is_empty() {
            self.slots = vec![None; MAX_INDEXED];
        }
        self.slots[Self::slot(id)] = Some((id, version, class));
    }

    fn get(&self, id: RequestId) -> Option<(u64, usize)> {
        match self.slots.get(Self::slot(id)) {
            Some(Some((at, version, class))) if *at == id => Some((*version, *class)),
            _ => None,
        }
    }
}

struct Worker {
    settings: MonitorSettings,
    events: Receiver<Event>,
    control: Receiver<Control>,
    shared: Arc<MonitorShared>,
    models: Arc<ArcSwap<Models>>,
    experiments: Arc<Experiments>,
    metrics: Arc<Metrics>,
    /// Served rows not yet logged, one batch per version (in order of first appearance).
    pending: Vec<(u64, PredictionBatch)>,
    /// Rows in `pending`.
    pending_rows: usize,
    failed: Vec<Failed>,
    /// Recent rows of the primary version, for drift.
    recent: VecDeque<(u64, ObesityRecord)>,
    /// User id → their last request (user ids come from clients: the default, DoS-resistant
    /// hasher).
    last_by_user: HashMap<String, (RequestId, usize)>,
    /// Enrolled predictions by request id (ids are ours, issued in sequence).
    outcomes: HashMap<RequestId, EnrolledPrediction>,
    drift_score: Option<(u64, f64)>,
    alerts: Option<(u64, AlertManager)>,
    notifier: Notifier,
    served_index: ServedIndex,
}

impl Worker {
    fn run(mut self) {
        let mut last_flush = Instant::now();
        let mut last_check = Instant::now();
        let mut last_compact = Instant::now();
        let flush_every = self.settings.flush_interval.max(DRAIN_TICK);
        loop {
            // Control messages wake the thread; events are drained on every wake-up. A
            // control message is handled after the events queued before it.
            let control = self.control.recv_timeout(DRAIN_TICK);
            self.drain();
            match control {
                Ok(Control::Feedback { key, label, reply }) => {
                    self.flush();
                    let _ = reply.send(self.feedback(key, label));
                }
                Ok(Control::Flush(reply)) => {
                    self.flush();
                    let _ = reply.send(());
                }
                Ok(Control::Shutdown(reply)) => {
                    self.flush();
                    self.experiments.save_all();
                    let _ = reply.send(());
                    return;
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    self.flush();
                    self.experiments.save_all();
                    return;
                }
            }
            if last_flush.elapsed() >= flush_every || self.pending_rows >= MAX_PENDING {
                self.flush();
                last_flush = Instant::now();
            }
            if last_check.elapsed() >= self.settings.check_interval {
                self.check();
                self.experiments.save_all();
                last_check = Instant::now();
            }
            if last_compact.elapsed() >= Duration::from_secs(600) {
                self.compact();
                last_compact = Instant::now();
            }
        }
    }

    /// Takes the queued events without waiting (at most one queue's worth of rows, so a
    /// request stream faster than this thread cannot keep it from its other work).
    fn drain(&mut self) {
        let mut budget = self.settings.queue.max(1);
        while budget > 0 {
            let Ok(event) = self.events.try_recv() else {
                break;
            };
            let rows = match event {
                Event::Served(s) => {
                    let rows = s.rows.len();
                    self.accept(*s);
                    rows
                }
                Event::Failed(f) => {
                    if let Ok(mut t) = self.shared.timeline.lock() {
                        t.failed(Utc::now(), f64::from(f.latency_ms));
                    }
                    self.failed.push(f);
                    1
                }
            };
            self.shared.queued.fetch_sub(rows as u64, Ordering::Relaxed);
            budget = budget.saturating_sub(rows);
            if self.pending_rows >= MAX_PENDING {
                self.flush();
            }
        }
    }

    fn accept(&mut self, s: Served) {
        let Served {
            first_id,
            latency_ms,
            records,
            rows,
        } = s;
        if let Ok(mut t) = self.shared.timeline.lock() {
            let now = Utc::now();
            for row in &rows {
                t.served(now, row.class, f64::from(latency_ms));
            }
        }
        let primary = self.models.load().primary.version;
        let confidence = |row: &ServedRow| f64::from(row.confidence).clamp(0.0, 1.0);
        let latency = f64::from(latency_ms).max(0.0);
        // The request's rows have consecutive ids: one run in the log, not a string each.
        let prefix = first_id.prefix_text();
        for (k, (row, record)) in rows.into_iter().zip(records).enumerate() {
            let id = first_id.offset(k);
            let row_confidence = confidence(&row);
            self.served_index.insert(id, row.version, row.class);
            if row.version == primary {
                if self.recent.len() == self.settings.drift_window {
                    self.recent.pop_front();
                }
                self.recent.push_back((row.version, record));
            }
            if let Some(user) = row.user_id {
                if self.last_by_user.len() >= MAX_TRACKED {
                    self.last_by_user.clear();
                }
                if let Some(exp) = &row.experiment {
                    if self.outcomes.len() >= MAX_TRACKED {
                        self.outcomes.clear();
                    }
                    self.outcomes.insert(
                        id,
                        EnrolledPrediction {
                            user: user.clone(),
                            experiment: exp.clone(),
                            class: row.class,
                        },
                    );
                }
                self.last_by_user.insert(user, (id, row.class));
            }
            let at = match self.pending.iter().position(|(v, _)| *v == row.version) {
                Some(at) => at,
                None => {
                    self.pending
                        .push((row.version, PredictionBatch::new(row.version.to_string())));
                    self.pending.len() - 1
                }
            };
            self.pending[at]
                .1
                .push_run(&prefix, id.counter(), row.class, row_confidence, latency);
            self.pending_rows += 1;
        }
    }

    /// Writes one batch per model version.
    fn flush(&mut self) {
        if self.pending.is_empty() && self.failed.is_empty() {
            return;
        }
        let primary = self.models.load().primary.version;
        let mut batches: Vec<(u64, PredictionBatch)> = std::mem::take(&mut self.pending);
        fn batch_of(batches: &mut Vec<(u64, PredictionBatch)>, v: u64) -> &mut PredictionBatch {
            let at = match batches.iter().position(|(b, _)| *b == v) {
                Some(at) => at,
                None => {
                    batches.push((v, PredictionBatch::new(v.to_string())));
                    batches.len() - 1
                }
            };
            &mut batches[at].1
        }
        let mut n = std::mem::take(&mut self.pending_rows) as u64;
        for f in self.failed.drain(..) {
            let b = batch_of(&mut batches, f.version);
            b.push_failure(
                f.request_id.text(),
                f64::from(f.latency_ms).max(0.0),
                f.error,
            );
            // One failed request is one invalid row for the data-quality share, whatever its
            // size: the monitor counts requests, and a batch's rows are not all known to be bad.
            b.invalid_rows += 1;
            n += 1;
        }
        let Ok(mut monitor) = self.shared.monitor.lock() else {
            return;
        };
        for (v, mut batch) in batches {
            if v == primary
                && let Some((dv, score)) = self.drift_score
                && dv == v
            {
                batch = batch.with_drift_score(score);
            }
            if let Err(e) = monitor.log_batch(batch) {
                tracing::warn!(error = %e, "prediction batch not logged");
            }
        }
        self.metrics.monitor_logged.inc_by(n);
    }

    fn feedback(&mut self, key: FeedbackKey, label: usize) -> Result<FeedbackOutcome, ApiError> {
        let (request_id, mut served_class) = match key {
            FeedbackKey::Request(id) => (id, None),
            FeedbackKey::User(user) => match self.last_by_user.get(&user) {
                Some((id, class)) => (id.to_string(), Some(*class)),
                None => {
                    return Err(ApiError::not_found(
                        "unknown_user",
                        format!("no prediction is known for user {user:?}"),
                    )
                    .field("user_id"));
                }
            },
        };
        let report = {
            let Ok(mut monitor) = self.shared.monitor.lock() else {
                return Err(ApiError::internal("monitor lock poisoned"));
            };
            monitor
                .record_labels(&[(request_id.as_str(), label)])
                .map_err(ApiError::internal)?
        };
        if report.matched == 0 && !report.expired.is_empty() {
            return Err(ApiError::gone(
                "expired_request",
                format!(
                    "the prediction with request id {request_id:?} is no longer retained \
                     (the monitor keeps a bounded number of recent requests); the label was not recorded"
                ),
            )
            .field("request_id"));
        }
        if report.matched == 0 {
            return Err(ApiError::not_found(
                "unknown_request",
                format!("no logged prediction has request id {request_id:?}"),
            )
            .field("request_id"));
        }
        let parsed = RequestId::parse(&request_id);
        let served = parsed.and_then(|id| self.served_index.get(id));
        if let Some((_, class)) = served {
            served_class = Some(class);
        }
        let mut outcome = FeedbackOutcome {
            request_id: request_id.clone(),
            label,
            correct: served_class.map(|c| c == label),
            experiment: None,
        };
        if let Some(enrolled) = parsed.and_then(|id| self.outcomes.get(&id)) {
            let correct = enrolled.class == label;
            outcome.correct = Some(correct);
            if let Some(test) = self.experiments.get(&enrolled.experiment)
                && let Ok(mut test) = test.lock()
            {
                match test.record_outcome(&enrolled.user, Outcome::Success(correct)) {
                    Ok(()) => outcome.experiment = Some(enrolled.experiment.to_string()),
                    Err(e) => tracing::warn!(error = %e, "A/B outcome not recorded"),
                }
            }
        }
        if let (Some((version, _)), Some(correct)) = (served, outcome.correct) {
            self.metrics.feedback_label(&version.to_string(), correct);
            if let Ok(mut t) = self.shared.timeline.lock() {
                t.labelled(Utc::now(), correct);
            }
        }
        Ok(outcome)
    }

    /// Drift against the primary version's profile, then the alert rules.
    fn check(&mut self) {
        let primary = self.models.load().primary.clone();
        if let Some(profile) = &primary.profile {
            let rows: Vec<ObesityRecord> = self
                .recent
                .iter()
                .filter(|(v, _)| *v == primary.version)
                .map(|(_, r)| r.clone())
                .collect();
            if rows.len() >= self.settings.drift_min_rows {
                match profile.drift(&feature_columns(&rows), &DriftOptions::default()) {
                    Ok(report) => {
                        self.drift_score = Some((primary.version, report.share_of_drifted_columns));
                        self.metrics
                            .drift_share
                            .set(report.share_of_drifted_columns);
                        self.metrics
                            .drifted_columns
                            .set(report.number_of_drifted_columns as i64);
                        if let Ok(mut t) = self.shared.timeline.lock() {
                            t.drift_checked(Utc::now(), report.share_of_drifted_columns);
                        }
                        if let Ok(mut d) = self.shared.drift.lock() {
                            *d = Some(DriftStatus {
                                version: primary.version_label.clone(),
                                checked_at: Utc::now(),
                                rows: rows.len(),
                                report,
                            });
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "drift check failed"),
                }
            }
        }
        // The alert baseline is the primary version's registered accuracy; a new primary
        // starts a new manager (its alerts are about a different model). What the old one
        // held open is resolved first, so the receivers, the metrics and the status page
        // never keep an episode nobody will close; a condition that persists fires again
        // under the new version at the next check.
        if self
            .alerts
            .as_ref()
            .is_none_or(|(v, _)| *v != primary.version)
        {
            if let Some((old, manager)) = self.alerts.take() {
                let now = Utc::now();
                let closed: Vec<Alert> = manager
                    .active()
                    .iter()
                    .map(|(kind, was)| Alert {
                        kind: *kind,
                        severity: Severity::Info,
                        message: format!(
                            "{kind} ({was}) closed: version {old} is no longer the primary version (now {})",
                            primary.version
                        ),
                        value: 0.0,
                        threshold: 0.0,
                        at: now,
                        resolved: true,
                    })
                    .collect();
                self.publish(closed);
            }
            let mut policy = AlertPolicy::builder();
            if let Some(acc) = primary.lineage.metrics.get("accuracy") {
                policy = policy.baseline_accuracy(*acc);
            }
            let policy = policy.build().unwrap_or_default();
            self.alerts = Some((primary.version, AlertManager::new(policy)));
        }
        let summary = match self.shared.monitor.lock() {
            Ok(m) => m.summary(chrono::Duration::hours(1)),
            Err(_) => return,
        };
        if let Some((_, manager)) = &mut self.alerts {
            let sent: Vec<Alert> = manager.process(&summary);
            self.publish(sent);
        }
    }

    /// Makes new alerts and resolutions visible (open list, recent ring, metrics) and hands
    /// them to the webhook notifier.
    fn publish(&mut self, sent: Vec<Alert>) {
        for alert in sent {
            let kind = alert.kind.to_string();
            let severity = alert.severity.to_string().to_lowercase();
            self.metrics
                .set_alert(&kind, (!alert.resolved).then_some(severity.as_str()));
            if let Ok(mut open) = self.shared.alerts.lock() {
                open.retain(|a| a.kind != alert.kind);
                if !alert.resolved {
                    open.push(OpenAlert {
                        kind: alert.kind,
                        severity: alert.severity,
                        message: alert.message.clone(),
                        since: alert.at,
                    });
                }
            }
            self.notifier.notify(&alert);
            self.shared.recent_alerts.push(alert);
        }
    }

    fn compact(&mut self) {
        let keep = chrono::Duration::from_std(self.settings.retention)
            .unwrap_or(chrono::Duration::hours(24));
        if let Ok(mut m) = self.shared.monitor.lock()
            && let Err(e) = m.compact(keep)
        {
            tracing::warn!(error = %e, "prediction log not compacted");
        }
    }
}
