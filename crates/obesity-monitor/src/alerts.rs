//! Alert rules over a [`PerformanceSummary`], their severities, the handlers alerts go to, and
//! de-duplication so a condition that persists pages once, not on every check.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{MonitorError, Result};
use crate::performance::PerformanceSummary;

/// How bad an alert is, in the original Python project's three levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Severity {
    /// For the record (a condition that cleared).
    Info,
    /// Look at it soon.
    Warning,
    /// Act now.
    Critical,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Info => "INFO",
            Self::Warning => "WARNING",
            Self::Critical => "CRITICAL",
        })
    }
}

/// Which rule an alert comes from. De-duplication is per kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AlertKind {
    /// Accuracy fell below the baseline by more than a threshold.
    AccuracyDrop,
    /// Too many requests failed.
    ErrorRate,
    /// The 95th percentile latency is too high.
    Latency,
    /// The drift score is above its threshold.
    Drift,
    /// Too many rows failed input validation.
    DataQuality,
}

impl fmt::Display for AlertKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::AccuracyDrop => "accuracy_drop",
            Self::ErrorRate => "error_rate",
            Self::Latency => "latency",
            Self::Drift => "drift",
            Self::DataQuality => "data_quality",
        })
    }
}

impl AlertKind {
    /// The name the alert has outside this crate: the `alertname` label the webhook handler
    /// sends, and the name of the matching alerting rule in `deploy/prometheus/alerts.yml`,
    /// so a receiver routes an alert the same way whichever of the two raised it.
    pub fn alertname(self) -> &'static str {
        match self {
            Self::AccuracyDrop => "ObesityAccuracyDrop",
            Self::ErrorRate => "ObesityHighErrorRate",
            Self::Latency => "ObesityHighLatency",
            Self::Drift => "ObesityDataDrift",
            Self::DataQuality => "ObesityDataQuality",
        }
    }
}

/// One alert: which rule, how bad, the measured value against its threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// The rule.
    pub kind: AlertKind,
    /// How bad.
    pub severity: Severity,
    /// A sentence for a person.
    pub message: String,
    /// The measured value (the accuracy drop, the error rate, p95 in ms, ...).
    pub value: f64,
    /// The threshold it crossed.
    pub threshold: f64,
    /// End of the summary window that raised it.
    pub at: DateTime<Utc>,
    /// `true` for the INFO notice sent when a condition clears.
    pub resolved: bool,
}

impl fmt::Display for Alert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}: {}", self.severity, self.kind, self.message)
    }
}

/// Alert thresholds. The defaults are the original Python project's: critical accuracy drop 0.05, warning
/// accuracy drop 0.02 (both against a baseline accuracy), critical error rate 0.02, critical
/// p95 latency 500 ms, drift threshold 0.1 (WARNING), and the original Python project's data-quality threshold
/// 0.95 (WARNING below it).
///
/// Built with [`AlertPolicy::builder`], which checks every value, so a policy that exists is
/// valid. Every comparison is strict (`drop > 0.05` fires, `drop == 0.05` does not), as in
/// the seeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertPolicy {
    baseline_accuracy: Option<f64>,
    critical_accuracy_drop: f64,
    warning_accuracy_drop: f64,
    critical_error_rate: f64,
    critical_latency_p95_ms: f64,
    drift_threshold: f64,
    min_data_quality: f64,
    min_labelled: usize,
}

impl Default for AlertPolicy {
    fn default() -> Self {
        Self {
            baseline_accuracy: None,
            critical_accuracy_drop: 0.05,
            warning_accuracy_drop: 0.02,
            critical_error_rate: 0.02,
            critical_latency_p95_ms: 500.0,
            drift_threshold: 0.1,
            min_data_quality: 0.95,
            min_labelled: 30,
        }
    }
}

/// Builds a checked [`AlertPolicy`].
#[derive(Debug, Clone, Default)]
pub struct AlertPolicyBuilder {
    policy: AlertPolicy,
}

impl AlertPolicyBuilder {
    /// The accuracy the model had when it was accepted (e.g. on its test set); accuracy
    /// drops are measured from it. By default there is none, and no accuracy alert fires.
    pub fn baseline_accuracy(mut self, v: f64) -> Self {
        self.policy.baseline_accuracy = Some(v);
        self
    }
    /// Accuracy drop that is CRITICAL. By default, 0.05.
    pub fn critical_accuracy_drop(mut self, v: f64) -> Self {
        self.policy.critical_accuracy_drop = v;
        self
    }
    /// Accuracy drop that is a WARNING. By default, 0.02.
    pub fn warning_accuracy_drop(mut self, v: f64) -> Self {
        self.policy.warning_accuracy_drop = v;
        self
    }
    /// Error rate that is CRITICAL. By default, 0.02.
    pub fn critical_error_rate(mut self, v: f64) -> Self {
        self.policy.critical_error_rate = v;
        self
    }
    /// p95 latency (ms) that is CRITICAL. By default, 500.
    pub fn critical_latency_p95_ms(mut self, v: f64) -> Self {
        self.policy.critical_latency_p95_ms = v;
        self
    }
    /// Drift score above which a WARNING fires. By default, 0.1.
    pub fn drift_threshold(mut self, v: f64) -> Self {
        self.policy.drift_threshold = v;
        self
    }
    /// Data-quality score (share of valid rows) below which a WARNING fires. By default,
    /// 0.95.
    pub fn min_data_quality(mut self, v: f64) -> Self {
        self.policy.min_data_quality = v;
        self
    }
    /// Labelled predictions needed in the window before accuracy is judged: below it a
    /// drop is noise (3 wrong out of 5 is not a 60% accuracy). By default, 30.
    pub fn min_labelled(mut self, n: usize) -> Self {
        self.policy.min_labelled = n;
        self
    }

    /// Checks the values and returns the policy.
    ///
    /// # Errors
    /// [`MonitorError::InvalidConfig`] naming the field: a baseline accuracy outside [0, 1],
    /// a negative or non-finite threshold, a rate threshold above 1, or a warning accuracy
    /// drop larger than the critical one.
    pub fn build(self) -> Result<AlertPolicy> {
        let p = self.policy;
        if let Some(b) = p.baseline_accuracy {
            check_unit("baseline_accuracy", b)?;
        }
        check_unit("critical_accuracy_drop", p.critical_accuracy_drop)?;
        check_unit("warning_accuracy_drop", p.warning_accuracy_drop)?;
        check_unit("critical_error_rate", p.critical_error_rate)?;
        check_unit("min_data_quality", p.min_data_quality)?;
        if !(p.critical_latency_p95_ms.is_finite() && p.critical_latency_p95_ms >= 0.0) {
            return Err(invalid(
                "critical_latency_p95_ms",
                p.critical_latency_p95_ms,
                "a finite number of milliseconds >= 0",
            ));
        }
        if !(p.drift_threshold.is_finite() && p.drift_threshold >= 0.0) {
            return Err(invalid(
                "drift_threshold",
                p.drift_threshold,
                "a finite score >= 0",
            ));
        }
        if p.warning_accuracy_drop > p.critical_accuracy_drop {
            return Err(MonitorError::InvalidConfig {
                field: "warning_accuracy_drop",
                value: p.warning_accuracy_drop.to_string(),
                expected: format!(
                    "at most critical_accuracy_drop ({})",
                    p.critical_accuracy_drop
                ),
            });
        }
        Ok(p)
    }
}

fn invalid(field: &'static str, v: f64, expected: &str) -> MonitorError {
    MonitorError::InvalidConfig {
        field,
        value: v.to_string(),
        expected: expected.to_string(),
    }
}

fn check_unit(field: &'static str, v: f64) -> Result<()> {
    if (0.0..=1.0).contains(&v) {
        Ok(())
    } else {
        Err(invalid(field, v, "a value in [0, 1]"))
    }
}

impl AlertPolicy {
    /// A builder starting from the defaults.
    pub fn builder() -> AlertPolicyBuilder {
        AlertPolicyBuilder::default()
    }

    /// The baseline accuracy, if set.
    pub fn baseline_accuracy(&self) -> Option<f64> {
        self.baseline_accuracy
    }

    /// Every alert the summary deserves right now, without de-duplication (use an
    /// [`AlertManager`] for that). A rule whose input is missing from the summary (no labels,
    /// no drift score, no requests) is silent.
    pub fn evaluate(&self, summary: &PerformanceSummary) -> Vec<Alert> {
        self.check(summary)
            .into_iter()
            .filter_map(|c| c.alert)
            .collect()
    }

    /// One entry for each rule that can be judged on this summary, with the alert if it
    /// fires.
    fn check(&self, s: &PerformanceSummary) -> Vec<Check> {
        let at = s.window_end;
        let alert = |kind, severity, value: f64, threshold: f64, message: String| Alert {
            kind,
            severity,
            message,
            value,
            threshold,
            at,
            resolved: false,
        };
        let mut out = Vec::new();
        if let (Some(base), Some(acc)) = (self.baseline_accuracy, s.accuracy)
            && s.n_labelled >= self.min_labelled
        {
            let drop = base - acc;
            let fired = if drop > self.critical_accuracy_drop {
                Some((Severity::Critical, self.critical_accuracy_drop))
            } else if drop > self.warning_accuracy_drop {
                Some((Severity::Warning, self.warning_accuracy_drop))
            } else {
                None
            };
            out.push(Check {
                kind: AlertKind::AccuracyDrop,
                value: drop,
                threshold: self.warning_accuracy_drop,
                alert: fired.map(|(sev, th)| {
                    alert(
                        AlertKind::AccuracyDrop,
                        sev,
                        drop,
                        th,
                        format!(
                            "accuracy {acc:.4} is {drop:.4} below the baseline {base:.4} \
                             (threshold {th}) over {} labelled predictions",
                            s.n_labelled
                        ),
                    )
                }),
            });
        }
        if let Some(rate) = s.error_rate {
            let th = self.critical_error_rate;
            out.push(Check {
                kind: AlertKind::ErrorRate,
                value: rate,
                threshold: th,
                alert: (rate > th).then(|| {
                    alert(
                        AlertKind::ErrorRate,
                        Severity::Critical,
                        rate,
                        th,
                        format!(
                            "error rate {rate:.4} ({} of {} requests) is above {th}",
                            s.n_errors, s.n_requests
                        ),
                    )
                }),
            });
        }
        if let Some(p95) = s.latency_p95_ms {
            let th = self.critical_latency_p95_ms;
            out.push(Check {
                kind: AlertKind::Latency,
                value: p95,
                threshold: th,
                alert: (p95 > th).then(|| {
                    alert(
                        AlertKind::Latency,
                        Severity::Critical,
                        p95,
                        th,
                        format!("p95 latency {p95:.1} ms is above {th} ms"),
                    )
                }),
            });
        }
        if let Some(d) = s.drift_score {
            let th = self.drift_threshold;
            out.push(Check {
                kind: AlertKind::Drift,
                value: d,
                threshold: th,
                alert: (d > th).then(|| {
                    alert(
                        AlertKind::Drift,
                        Severity::Warning,
                        d,
                        th,
                        format!("drift score {d:.4} is above {th}"),
                    )
                }),
            });
        }
        if let Some(q) = s.data_quality_score {
            let th = self.min_data_quality;
            out.push(Check {
                kind: AlertKind::DataQuality,
                value: q,
                threshold: th,
                alert: (q < th).then(|| {
                    alert(
                        AlertKind::DataQuality,
                        Severity::Warning,
                        q,
                        th,
                        format!("data-quality score {q:.4} is below {th} (share of valid rows)"),
                    )
                }),
            });
        }
        out
    }
}

/// The verdict of one rule on one summary.
struct Check {
    kind: AlertKind,
    value: f64,
    threshold: f64,
    alert: Option<Alert>,
}

/// Where alerts go: a pager, a chat webhook, a log, a test's vector.
///
/// A handler receives both halves of an episode: the alert when a condition starts (or its
/// severity changes) and, when it clears, the INFO notice with [`Alert::resolved`] set (the
/// [`AlertManager`] sends both). A handler that talks to a system with its own notion of
/// "resolved" (Alertmanager, a pager) maps the notice onto it, as
/// `WebhookAlertHandler` does (feature `webhook`).
pub trait AlertHandler: Send + Sync {
    /// Delivers one alert. Handlers must not fail the monitoring loop: deal with delivery
    /// errors inside (log them). The call may block (a webhook waits for its receiver), so
    /// run the loop that calls it off any latency-sensitive path.
    fn handle(&self, alert: &Alert);
}

/// A shared handler is a handler: register one `Arc` with several [`AlertManager`]s (say, a
/// new manager for each model version the service switches to) and they share its state, so
/// a webhook's de-duplication survives the switch.
impl<T: AlertHandler + ?Sized> AlertHandler for Arc<T> {
    fn handle(&self, alert: &Alert) {
        (**self).handle(alert);
    }
}

/// Writes alerts to `tracing`: CRITICAL as `error!`, WARNING as `warn!`, INFO as `info!`.
/// Always useful as the first handler, so alerts are in the service log whatever else fails.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogAlertHandler;

impl AlertHandler for LogAlertHandler {
    fn handle(&self, alert: &Alert) {
        let (kind, value, threshold) = (alert.kind.to_string(), alert.value, alert.threshold);
        match alert.severity {
            Severity::Critical => {
                tracing::error!(%kind, value, threshold, "{}", alert.message);
            }
            Severity::Warning => {
                tracing::warn!(%kind, value, threshold, "{}", alert.message);
            }
            Severity::Info => {
                tracing::info!(%kind, value, threshold, "{}", alert.message);
            }
        }
    }
}

/// Keeps every alert it receives; clones share the list. For tests and for showing alerts
/// in a report.
#[derive(Debug, Clone, Default)]
pub struct CollectingAlertHandler {
    alerts: Arc<Mutex<Vec<Alert>>>,
}

impl CollectingAlertHandler {
    /// A handler with an empty list.
    pub fn new() -> Self {
        Self::default()
    }

    /// The alerts received so far, oldest first.
    pub fn alerts(&self) -> Vec<Alert> {
        self.alerts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl AlertHandler for CollectingAlertHandler {
    fn handle(&self, alert: &Alert) {
        self.alerts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(alert.clone());
    }
}

/// Applies an [`AlertPolicy`] check after check, sends alerts to its handlers, and
/// de-duplicates: a condition fires once when it starts (or when its severity changes), stays
/// quiet while it persists, and fires again only after it has cleared and recurred. When a
/// condition clears an INFO notice with `resolved = true` is sent (turn it off with
/// [`AlertManager::notify_resolved`]). A rule that cannot be judged (no labels in the window,
/// say) keeps its state: missing data neither raises nor clears an alert.
pub struct AlertManager {
    policy: AlertPolicy,
    handlers: Vec<Box<dyn AlertHandler>>,
    active: BTreeMap<AlertKind, Severity>,
    notify_resolved: bool,
}

impl fmt::Debug for AlertManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AlertManager")
            .field("policy", &self.policy)
            .field("handlers", &self.handlers.len())
            .field("active", &self.active)
            .field("notify_resolved", &self.notify_resolved)
            .finish()
    }
}

impl AlertManager {
    /// A manager with the built-in [`LogAlertHandler`] registered.
    pub fn new(policy: AlertPolicy) -> Self {
        Self {
            policy,
            handlers: vec![Box::new(LogAlertHandler)],
            active: BTreeMap::new(),
            notify_resolved: true,
        }
    }

    /// Registers another handler; every alert goes to every handler, in registration order.
    pub fn add_handler(&mut self, handler: impl AlertHandler + 'static) -> &mut Self {
        self.handlers.push(Box::new(handler));
        self
    }

    /// Whether to send an INFO notice when a condition clears. By default, yes.
    pub fn notify_resolved(&mut self, yes: bool) -> &mut Self {
        self.notify_resolved = yes;
        self
    }

    /// The policy in use.
    pub fn policy(&self) -> &AlertPolicy {
        &self.policy
    }

    /// Conditions currently firing, with their severity.
    pub fn active(&self) -> &BTreeMap<AlertKind, Severity> {
        &self.active
    }

    /// Checks one summary: returns (and sends to every handler) the alerts that are new
    /// since the previous check, plus resolved notices.
    pub fn process(&mut self, summary: &PerformanceSummary) -> Vec<Alert> {
        let mut sent = Vec::new();
        for Check {
            kind,
            value,
            threshold,
            alert,
        } in self.policy.check(summary)
        {
            match alert {
                Some(alert) => {
                    if self.active.get(&kind) != Some(&alert.severity) {
                        self.active.insert(kind, alert.severity);
                        sent.push(alert);
                    }
                }
                None => {
                    if let Some(was) = self.active.remove(&kind)
                        && self.notify_resolved
                    {
                        sent.push(Alert {
                            kind,
                            severity: Severity::Info,
                            message: format!("{kind} ({was}) resolved"),
                            value,
                            threshold,
                            at: summary.window_end,
                            resolved: true,
                        });
                    }
                }
            }
        }
        for alert in &sent {
            for h in &self.handlers {
                h.handle(alert);
            }
        }
        sent
    }
}
