//! [`AppState`]: what every handler shares — the loaded versions (swapped atomically), the
//! registry they came from, counters, metrics, the monitor queue and the experiments.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use chrono::{DateTime, Utc};
use obesity_registry::{ModelRef, Registry};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::ServeConfig;
use crate::error::{Result, ServeError};
use crate::experiments::Experiments;
use crate::metrics::{Metrics, ModelLabels};
use crate::model::{self, ServedModel};
use crate::monitor::{MonitorHandle, MonitorSettings};

/// A request id: the process's random prefix and a counter, written `{prefix:08x}-{n:x}`.
///
/// It is only made text where text is needed (the response, the prediction log), so the
/// request path allocates nothing per row for it, and the monitor thread indexes it as two
/// integers instead of a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct RequestId {
    prefix: u32,
    n: u64,
}

impl RequestId {
    /// The id `k` places after this one (row `k` of a batch).
    pub(crate) fn offset(self, k: usize) -> Self {
        RequestId {
            prefix: self.prefix,
            n: self.n.wrapping_add(k as u64),
        }
    }

    /// An id from its parts (tests).
    #[cfg(test)]
    pub(crate) fn for_tests(prefix: u32, n: u64) -> Self {
        RequestId { prefix, n }
    }

    /// The counter part.
    pub(crate) fn counter(self) -> u64 {
        self.n
    }

    /// The text before the counter, `{prefix:08x}-`: the monitor logs a request's rows as
    /// one run of ids from it (`obesity_monitor::IdRun`).
    pub(crate) fn prefix_text(self) -> String {
        let (bytes, _) = self.to_bytes();
        String::from_utf8_lossy(&bytes[..9]).into_owned()
    }

    /// Reads the text form back; `None` for anything this server could not have issued.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let (prefix, n) = text.split_once('-')?;
        let valid = |s: &str, max: usize| {
            !s.is_empty()
                && s.len() <= max
                && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        };
        if prefix.len() != 8
            || !valid(prefix, 8)
            || !valid(n, 16)
            || (n.len() > 1 && n.starts_with('0'))
        {
            return None;
        }
        Some(RequestId {
            prefix: u32::from_str_radix(prefix, 16).ok()?,
            n: u64::from_str_radix(n, 16).ok()?,
        })
    }
}

impl RequestId {
    /// The text form, `{prefix:08x}-{n:x}`, into a stack buffer (no formatter machinery:
    /// the monitor writes one per served row). Returns the buffer and the text's length.
    pub(crate) fn to_bytes(self) -> ([u8; 25], usize) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = [0u8; 25];
        for (i, o) in out[..8].iter_mut().enumerate() {
            *o = HEX[((self.prefix >> (28 - 4 * i)) & 0xf) as usize];
        }
        out[8] = b'-';
        let digits = (64 - self.n.leading_zeros()).div_ceil(4).max(1) as usize;
        for (i, o) in out[9..9 + digits].iter_mut().enumerate() {
            *o = HEX[((self.n >> (4 * (digits - 1 - i))) & 0xf) as usize];
        }
        (out, 9 + digits)
    }

    /// The text form as a `String`.
    pub(crate) fn text(self) -> String {
        let (bytes, len) = self.to_bytes();
        // Hex digits and a dash: ASCII.
        String::from_utf8_lossy(&bytes[..len]).into_owned()
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (bytes, len) = self.to_bytes();
        f.write_str(std::str::from_utf8(&bytes[..len]).map_err(|_| std::fmt::Error)?)
    }
}

impl serde::Serialize for RequestId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The versions loaded at one moment. Replaced whole (never edited), so a request that has
/// loaded it sees one consistent set until it finishes.
#[derive(Debug)]
pub(crate) struct Models {
    /// The version served by default (the first reference's).
    pub(crate) primary: Arc<ServedModel>,
    /// One per configured reference, in configuration order (`by_ref[0]` is `primary`).
    pub(crate) by_ref: Vec<Arc<ServedModel>>,
    /// Versions kept for experiments that no reference points at.
    pub(crate) pinned: Vec<Arc<ServedModel>>,
}

impl Models {
    /// The loaded version `version`, if it is loaded.
    pub(crate) fn version(&self, version: u64) -> Option<&Arc<ServedModel>> {
        self.by_ref
            .iter()
            .chain(self.pinned.iter())
            .find(|m| m.version == version)
    }

    /// Every loaded version number, ascending, without repeats.
    pub(crate) fn loaded_versions(&self) -> Vec<u64> {
        let mut v: Vec<u64> = self
            .by_ref
            .iter()
            .chain(self.pinned.iter())
            .map(|m| m.version)
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }
}

/// Request and error counts for `/health`.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) requests: AtomicU64,
    pub(crate) errors: AtomicU64,
    pub(crate) predictions: AtomicU64,
}

#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: ServeConfig,
    pub(crate) refs: Vec<ModelRef>,
    pub(crate) registry: Registry,
    pub(crate) models: Arc<ArcSwap<Models>>,
    /// Serialises reloads (the poller and `POST /admin/reload`).
    pub(crate) reload_lock: tokio::sync::Mutex<()>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) counters: Counters,
    pub(crate) started: Instant,
    pub(crate) started_at: DateTime<Utc>,
    pub(crate) monitor: MonitorHandle,
    pub(crate) experiments: Arc<Experiments>,
    /// What the A/B policy did, newest last (bounded).
    pub(crate) policy_log: std::sync::Mutex<std::collections::VecDeque<crate::policy::PolicyEvent>>,
    /// The retrain trigger and its retrainer, once attached.
    pub(crate) retrain: crate::retrain::Slot,
    admin_token: Option<[u8; 32]>,
    id_prefix: u32,
    next_id: AtomicU64,
}

/// The service's shared state: cheap to clone (one `Arc`), handed to [`router`](crate::router).
///
/// Build it with [`AppState::load`], which opens the registry, loads the configured versions
/// and starts the monitor thread. [`AppState::shutdown`] flushes the prediction log and
/// stops that thread (dropping the last clone does the same, without waiting).
#[derive(Debug, Clone)]
pub struct AppState {
    pub(crate) inner: Arc<Shared>,
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Runs blocking registry work off the async threads.
pub(crate) async fn blocking<T, F>(f: F) -> Result<T>
where
    F: FnOnce() -> Result<T> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ServeError::Task(e.to_string()))?
}

impl AppState {
    /// Opens the registry at `config.tracking_uri`, loads every configured reference (the
    /// service does not start without its primary version) and starts the monitor thread.
    /// Polling is not started here: [`Server`](crate::Server) does that, and tests call
    /// [`AppState::reload`] when they want one.
    ///
    /// # Errors
    /// [`ServeError::Config`] for a bad setting, [`ServeError::Registry`] when the registry
    /// or a version cannot be read, [`ServeError::Unservable`] for a version that cannot be
    /// served.
    pub async fn load(config: ServeConfig) -> Result<Self> {
        let checked = config.check()?;
        let metrics = Arc::new(Metrics::new());
        let uri = config.tracking_uri.clone();
        let refs = checked.refs.clone();
        let load_metrics = metrics.clone();
        let batching = config.batching;
        let (registry, loaded) = blocking(move || {
            let registry = Registry::open(&uri)?;
            let loaded = refs
                .iter()
                .map(|r| model::load(&registry, r, &load_metrics, batching))
                .collect::<Result<Vec<_>>>()?;
            Ok((registry, loaded))
        })
        .await?;
        let primary = loaded
            .first()
            .cloned()
            .ok_or_else(|| ServeError::Task("no model reference".into()))?;
        // Under `monitoring/`, next to the prediction logs, so the registry folder gains no
        // top-level entry that MLflow's file store would try to read as an experiment.
        let experiments = Arc::new(Experiments::open(
            checked
                .state_dir
                .as_ref()
                .map(|d| d.join("monitoring").join("ab-tests")),
            &primary.name,
        ));
        let models = Arc::new(ArcSwap::from_pointee(Models {
            primary: primary.clone(),
            by_ref: loaded,
            pinned: Vec::new(),
        }));
        let monitor = MonitorHandle::start(
            MonitorSettings {
                model: primary.name.clone(),
                state_dir: checked.state_dir.clone(),
                queue: config.monitor_queue,
                flush_interval: config.monitor_flush_interval,
                retention: config.monitor_retention,
                limits: config.monitor_limits.clone(),
                check_interval: config.check_interval,
                drift_window: config.drift_window,
                drift_min_rows: config.drift_min_rows,
                webhooks: checked.webhooks.clone(),
                timeline_step: config.timeline_step,
                timeline_points: config.timeline_points,
            },
            models.clone(),
            experiments.clone(),
            metrics.clone(),
        )?;
        let admin_token = config.admin_token.as_deref().map(digest);
        let seed = Utc::now().timestamp_nanos_opt().unwrap_or_default() as u64
            ^ u64::from(std::process::id());
        let state = AppState {
            inner: Arc::new(Shared {
                refs: checked.refs,
                config,
                registry,
                models,
                reload_lock: tokio::sync::Mutex::new(()),
                metrics,
                counters: Counters::default(),
                started: Instant::now(),
                started_at: Utc::now(),
                monitor,
                experiments,
                policy_log: std::sync::Mutex::default(),
                retrain: crate::retrain::Slot::new(),
                admin_token,
                id_prefix: (seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as u32,
                next_id: AtomicU64::new(1),
            }),
        };
        // Experiments saved by an earlier run need their versions loaded.
        if !state.inner.experiments.pinned_versions().is_empty()
            && let Err(e) = crate::reload::reload(&state, false).await
        {
            tracing::warn!(error = %e, "versions of saved experiments not loaded");
        }
        state.publish_loaded();
        Ok(state)
    }

    /// The configuration the state was built from.
    pub fn config(&self) -> &ServeConfig {
        &self.inner.config
    }

    /// The registered model's name.
    pub fn model_name(&self) -> String {
        self.inner.models.load().primary.name.clone()
    }

    /// The version served by default right now.
    pub fn primary_version(&self) -> u64 {
        self.inner.models.load().primary.version
    }

    /// Every loaded version, ascending.
    pub fn loaded_versions(&self) -> Vec<u64> {
        self.inner.models.load().loaded_versions()
    }

    /// Time since the state was built.
    pub fn uptime(&self) -> Duration {
        self.inner.started.elapsed()
    }

    /// Re-resolves every reference and loads the versions that moved. A version that fails
    /// to load is logged and the one before keeps serving. See [`ReloadReport`].
    ///
    /// # Errors
    /// Only for a failed background task; load failures are in the report.
    pub async fn reload(&self) -> Result<crate::ReloadReport> {
        crate::reload::reload(self, true).await
    }

    /// Waits until every prediction queued so far is written to the prediction log.
    pub async fn flush_monitor(&self) {
        self.inner.monitor.flush().await;
    }

    /// Runs the A/B policy once ([`AbPolicy`]): starts an experiment for a new challenger
    /// (`auto_start`) and promotes a decided winner (`auto_promote`), as configured. The
    /// [`Server`](crate::Server) calls it every check interval; call it yourself to drive
    /// the policy on your own schedule.
    ///
    /// # Errors
    /// [`ServeError::Registry`] when the registry cannot be read or the alias not moved,
    /// [`ServeError::Monitor`] when an experiment cannot be created,
    /// [`ServeError::Unservable`] when the challenger cannot be loaded.
    pub async fn apply_ab_policy(&self) -> Result<Vec<crate::PolicyAction>> {
        crate::policy::apply(self).await
    }

    /// Runs `config`'s retrain trigger in the service: every
    /// [`ServeConfig::retrain_check_interval`] (under [`Server`](crate::Server)) or at each
    /// [`AppState::check_retrain`], the trigger decides on the monitor's figures and the
    /// watched data folders at `clock`'s time, and `retrainer` trains and registers a
    /// challenger when it says so. The audit trail is kept under the state folder
    /// (`monitoring/retrain/<model>/audit.jsonl`).
    ///
    /// # Errors
    /// [`ServeError::Config`] when a retrainer is already attached or there is no state
    /// folder (an MLflow server without [`ServeConfig::state_dir`]); [`ServeError::Monitor`]
    /// for a bad trigger config or an unreadable audit trail.
    pub fn attach_retrainer(
        &self,
        config: obesity_monitor::RetrainingTriggerConfig,
        retrainer: impl crate::Retrainer,
        clock: Arc<dyn obesity_monitor::Clock>,
    ) -> Result<()> {
        let dir = self
            .inner
            .config
            .check()?
            .state_dir
            .ok_or_else(|| ServeError::Config {
                field: "state_dir",
                value: String::new(),
                reason: "the retrain audit trail needs a folder".into(),
            })?;
        if self.inner.retrain.get().is_some() {
            return Err(ServeError::Config {
                field: "retrainer",
                value: String::new(),
                reason: "a retrainer is already attached".into(),
            });
        }
        let lp = crate::retrain::RetrainLoop::open(
            &dir.join("monitoring"),
            &self.model_name(),
            config,
            Box::new(retrainer),
            clock,
        )?;
        self.inner
            .retrain
            .set(Arc::new(std::sync::Mutex::new(lp)))
            .map_err(|_| ServeError::Config {
                field: "retrainer",
                value: String::new(),
                reason: "a retrainer is already attached".into(),
            })
    }

    /// Asks the attached retrain trigger now (see [`AppState::attach_retrainer`]): its
    /// decision and, when it retrained, the new version. `None` without a retrainer.
    ///
    /// # Errors
    /// [`ServeError::Monitor`] when the audit trail cannot be written or the retrainer
    /// failed (the failure is in the audit trail; serving goes on).
    pub async fn check_retrain(&self) -> Result<Option<obesity_monitor::RunReport>> {
        crate::retrain::check(self).await
    }

    /// The retrain decisions worth showing, newest first (empty without a retrainer).
    pub(crate) fn retrain_history(&self) -> Vec<obesity_monitor::AuditRecord> {
        self.inner.retrain.get().map_or_else(Vec::new, |lp| {
            lp.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .recent()
        })
    }

    /// Records a policy action for `/experiments` and the dashboard.
    pub(crate) fn log_policy(&self, action: crate::PolicyAction) {
        let mut log = self
            .inner
            .policy_log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if log.len() == crate::policy::POLICY_LOG {
            log.pop_front();
        }
        log.push_back(crate::policy::PolicyEvent {
            at: Utc::now(),
            action,
        });
    }

    /// The policy actions so far, newest first.
    pub(crate) fn policy_log(&self) -> Vec<crate::policy::PolicyEvent> {
        let log = self
            .inner
            .policy_log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        log.iter().rev().cloned().collect()
    }

    /// Flushes the prediction log, saves experiment state and stops the monitor thread.
    /// Later predictions are no longer monitored (they are counted as dropped).
    pub async fn shutdown(&self) {
        let inner = self.inner.clone();
        let _ = tokio::task::spawn_blocking(move || inner.monitor.shutdown_blocking()).await;
    }

    /// Predictions dropped from monitoring because the queue was full.
    pub fn monitor_dropped(&self) -> u64 {
        self.inner.monitor.shared.dropped.load(Ordering::Relaxed)
    }

    /// Whether `header` (the whole `Authorization` value) carries the admin token. Without
    /// a configured token everything is allowed. Compared in constant time, on SHA-256
    /// digests so the token's length does not show either.
    pub(crate) fn authorized(&self, header: Option<&[u8]>) -> bool {
        let Some(want) = &self.inner.admin_token else {
            return true;
        };
        let Some(given) = header.and_then(|h| {
            let h = std::str::from_utf8(h).ok()?.trim();
            let (scheme, token) = h.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        }) else {
            return false;
        };
        bool::from(digest(given).ct_eq(want))
    }

    /// A fresh request id: a per-process prefix and a counter, unique without coordination.
    pub(crate) fn request_id(&self) -> RequestId {
        self.request_ids(1)
    }

    /// The first of `n` consecutive fresh request ids (one atomic add for a whole batch; row
    /// `k` gets `first.offset(k)`).
    pub(crate) fn request_ids(&self, n: usize) -> RequestId {
        let n = self.inner.next_id.fetch_add(n as u64, Ordering::Relaxed);
        RequestId {
            prefix: self.inner.id_prefix,
            n,
        }
    }

    /// Updates the `model_info` metric after the loaded set changed.
    pub(crate) fn publish_loaded(&self) {
        let models = self.inner.models.load();
        let mut labels = Vec::new();
        for (i, (m, r)) in models.by_ref.iter().zip(&self.inner.refs).enumerate() {
            labels.push(ModelLabels {
                name: m.name.clone(),
                version: m.version_label.clone(),
                role: if i == 0 {
                    "primary".to_owned()
                } else {
                    r.to_string()
                },
            });
        }
        for m in &models.pinned {
            labels.push(ModelLabels {
                name: m.name.clone(),
                version: m.version_label.clone(),
                role: "experiment".to_owned(),
            });
        }
        self.inner.metrics.set_loaded(&labels);
        let mut baselines: Vec<(String, f64)> = Vec::new();
        for m in models.by_ref.iter().chain(models.pinned.iter()) {
            if let Some(acc) = m.lineage.metrics.get("accuracy")
                && acc.is_finite()
                && !baselines.iter().any(|(v, _)| *v == m.version_label)
            {
                baselines.push((m.version_label.clone(), *acc));
            }
        }
        self.inner.metrics.set_baselines(&baselines);
    }

    /// The label a response gives the default route: the primary reference's alias
    /// (`champion`), else `primary`.
    pub(crate) fn default_variant(&self) -> &str {
        match self.inner.refs.first() {
            Some(ModelRef::Alias { alias, .. }) => alias,
            _ => "primary",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::RequestId;

    #[test]
    fn request_ids_read_back_from_their_text() {
        let first = RequestId {
            prefix: 0x00ab_cdef,
            n: 0xff,
        };
        for k in [0, 1, 1_000] {
            let id = first.offset(k);
            let text = id.to_string();
            assert_eq!(RequestId::parse(&text), Some(id), "{text}");
        }
        // The hand-written hex is the formatter's.
        for (prefix, n) in [
            (0, 0),
            (1, 1),
            (u32::MAX, u64::MAX),
            (0xdead_beef, 0x10),
            (7, 0xabc_def0),
        ] {
            let id = RequestId { prefix, n };
            assert_eq!(id.text(), format!("{prefix:08x}-{n:x}"));
            assert_eq!(id.to_string(), id.text());
            // The monitor's run of ids spells each id the same way.
            let run = obesity_monitor::IdRun::new(id.prefix_text(), id.counter(), 1);
            assert_eq!(run.id(0), Some(id.text()));
            assert_eq!(run.position(&id.text()), Some(0));
        }
        assert_eq!(first.to_string(), "00abcdef-ff");
        for bad in [
            "",
            "never-issued",
            "00abcdef",
            "00abcdef-",
            "abcdef-1",
            "00abcdef-01",
            "00ABCDEF-1",
        ] {
            assert_eq!(RequestId::parse(bad), None, "{bad}");
        }
    }
}
