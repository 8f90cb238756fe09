//! Prometheus metrics (the `prometheus-client` crate), rendered by `GET /metrics`.
//!
//! Label sets of the request metrics are `&'static str`s and a status code, so counting a
//! request hashes a few words and allocates nothing; per-class prediction counters are
//! looked up once per loaded version ([`Metrics::prediction_counter`]).

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct HttpLabels {
    pub(crate) route: &'static str,
    pub(crate) method: &'static str,
    pub(crate) status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PredictionLabels {
    version: String,
    class: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct ModelLabels {
    pub(crate) name: String,
    pub(crate) version: String,
    /// `primary` for the version served by default, else the reference that loaded it
    /// (`challenger`) or `experiment`.
    pub(crate) role: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FeedbackLabels {
    version: String,
    /// `"true"` or `"false"`: whether the served prediction matched the late label.
    correct: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionLabels {
    version: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AlertLabels {
    /// `AlertKind`'s snake-case name (`error_rate`, `drift` ...), as the rules' `kind` label.
    kind: String,
    /// Lower case (`warning`, `critical`), as the rules' `severity` label.
    severity: String,
}

/// The upper bounds of the latency histogram, in seconds.
///
/// 50 µs doubling to ~1.6 s (single-row requests sit in the lowest buckets), plus 0.5 s:
/// the alerting rules' p95/p99 threshold is 500 ms, and `histogram_quantile` interpolates
/// linearly inside a bucket, so without a bound at exactly 0.5 s a p99 of 450 ms and one of
/// 700 ms would both be read from the 0.41–0.82 s bucket and the rule would flap.
pub(crate) fn latency_buckets() -> Vec<f64> {
    let mut b: Vec<f64> = exponential_buckets(0.000_05, 2.0, 16).collect();
    b.push(0.5);
    b.sort_by(f64::total_cmp);
    b.dedup();
    b
}

fn latency_histogram() -> Histogram {
    Histogram::new(latency_buckets())
}

/// Every metric the service exports.
pub(crate) struct Metrics {
    registry: Registry,
    requests: Family<HttpLabels, Counter>,
    latency: Family<HttpLabels, Histogram, fn() -> Histogram>,
    predictions: Family<PredictionLabels, Counter>,
    model_info: Family<ModelLabels, Gauge>,
    reloads: Family<OutcomeLabels, Counter>,
    feedback_labels: Family<FeedbackLabels, Counter>,
    baseline_accuracy: Family<VersionLabels, Gauge<f64, AtomicU64>>,
    alerts_active: Family<AlertLabels, Gauge>,
    alert_notifications: Family<OutcomeLabels, Counter>,
    pub(crate) drift_share: Gauge<f64, AtomicU64>,
    pub(crate) drifted_columns: Gauge,
    pub(crate) monitor_dropped: Counter,
    pub(crate) monitor_logged: Counter,
    /// Rows per kernel call of the dynamic batcher (how much merging happens).
    pub(crate) batch_rows: Histogram,
    pub(crate) uptime: Gauge<f64, AtomicU64>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    pub(crate) fn new() -> Self {
        let mut registry = Registry::with_prefix("obesity");
        let requests = Family::<HttpLabels, Counter>::default();
        let latency: Family<HttpLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(latency_histogram);
        let predictions = Family::<PredictionLabels, Counter>::default();
        let model_info = Family::<ModelLabels, Gauge>::default();
        let reloads = Family::<OutcomeLabels, Counter>::default();
        let feedback_labels = Family::<FeedbackLabels, Counter>::default();
        let baseline_accuracy = Family::<VersionLabels, Gauge<f64, AtomicU64>>::default();
        let alerts_active = Family::<AlertLabels, Gauge>::default();
        let alert_notifications = Family::<OutcomeLabels, Counter>::default();
        let drift_share = Gauge::<f64, AtomicU64>::default();
        let drifted_columns = Gauge::default();
        let monitor_dropped = Counter::default();
        let monitor_logged = Counter::default();
        let uptime = Gauge::<f64, AtomicU64>::default();
        // 1, 2, 4, ... 16,384 rows.
        let batch_rows = Histogram::new(exponential_buckets(1.0, 2.0, 15));
        registry.register(
            "http_requests",
            "HTTP requests answered, by route template, method and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time from request to response, by route template, method and status",
            latency.clone(),
        );
        registry.register(
            "predictions",
            "Rows predicted, by model version and predicted class",
            predictions.clone(),
        );
        registry.register(
            "model_info",
            "Loaded model versions (value 1), by name, version and role",
            model_info.clone(),
        );
        registry.register(
            "model_reloads",
            "Alias polls and forced reloads that loaded a new version, kept the old one after a failure, or found nothing to do",
            reloads.clone(),
        );
        registry.register(
            "feedback_labels",
            "Late labels (POST /feedback) joined to a served prediction, by the version that served it and whether it was right",
            feedback_labels.clone(),
        );
        registry.register(
            "model_baseline_accuracy",
            "Registered accuracy of each loaded version (the alert rules' baseline)",
            baseline_accuracy.clone(),
        );
        registry.register(
            "alerts_active",
            "Alerts the service's own alert rules hold open (1) or held and resolved (0), by kind and severity",
            alerts_active.clone(),
        );
        registry.register(
            "alert_notifications",
            "Alert notifications to webhooks: sent (accepted by the receiver) or failed (after every retry)",
            alert_notifications.clone(),
        );
        registry.register(
            "drift_share",
            "Share of input columns drifted against the primary version's reference profile, at the last check",
            drift_share.clone(),
        );
        registry.register(
            "drifted_columns",
            "Input columns drifted at the last check",
            drifted_columns.clone(),
        );
        registry.register(
            "monitor_dropped",
            "Predictions not logged to the performance monitor because its queue was full",
            monitor_dropped.clone(),
        );
        registry.register(
            "monitor_logged",
            "Predictions and failed requests written to the performance monitor",
            monitor_logged.clone(),
        );
        registry.register(
            "batch_rows",
            "Rows per kernel call of the dynamic batcher: concurrent multi-row requests to one version merged into one call",
            batch_rows.clone(),
        );
        registry.register(
            "uptime_seconds",
            "Seconds since the service started",
            uptime.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
            predictions,
            model_info,
            reloads,
            feedback_labels,
            baseline_accuracy,
            alerts_active,
            alert_notifications,
            drift_share,
            drifted_columns,
            monitor_dropped,
            monitor_logged,
            batch_rows,
            uptime,
        }
    }

    /// Counts one answered request.
    pub(crate) fn observe_request(&self, labels: &HttpLabels, seconds: f64) {
        self.requests.get_or_create(labels).inc();
        self.latency.get_or_create(labels).observe(seconds);
    }

    /// The counter of predictions of `class` by `version` (a shared handle).
    pub(crate) fn prediction_counter(&self, version: &str, class: &str) -> Counter {
        self.predictions.get_or_create_owned(&PredictionLabels {
            version: version.to_owned(),
            class: class.to_owned(),
        })
    }

    /// Replaces the set of loaded versions shown by `model_info`.
    pub(crate) fn set_loaded(&self, loaded: &[ModelLabels]) {
        self.model_info.clear();
        for l in loaded {
            self.model_info.get_or_create(l).set(1);
        }
    }

    /// Counts a late label joined to a prediction of `version`.
    pub(crate) fn feedback_label(&self, version: &str, correct: bool) {
        self.feedback_labels
            .get_or_create_owned(&FeedbackLabels {
                version: version.to_owned(),
                correct: if correct { "true" } else { "false" },
            })
            .inc();
    }

    /// Replaces the registered accuracies shown by `model_baseline_accuracy` (versions
    /// without an `accuracy` metric have no series: a missing baseline must not read as 0).
    pub(crate) fn set_baselines(&self, baselines: &[(String, f64)]) {
        self.baseline_accuracy.clear();
        for (version, acc) in baselines {
            self.baseline_accuracy
                .get_or_create(&VersionLabels {
                    version: version.clone(),
                })
                .set(*acc);
        }
    }

    /// Shows `kind` firing at `severity` (`Some`) or resolved (`None`). The other severities
    /// of the kind already exported go to 0 rather than disappear, so a graph shows the end
    /// of an episode instead of a gap.
    pub(crate) fn set_alert(&self, kind: &str, severity: Option<&str>) {
        for s in ["warning", "critical"] {
            let labels = AlertLabels {
                kind: kind.to_owned(),
                severity: s.to_owned(),
            };
            let firing = severity == Some(s);
            if firing {
                self.alerts_active.get_or_create(&labels).set(1);
            } else if let Some(g) = self.alerts_active.get(&labels) {
                g.set(0);
            }
        }
    }

    /// Counts a webhook notification outcome (`sent`, `failed`).
    pub(crate) fn alert_notification(&self, outcome: &'static str) {
        self.alert_notifications
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }

    /// Counts a reload outcome (`loaded`, `failed`, `unchanged`).
    pub(crate) fn reload(&self, outcome: &'static str) {
        self.reloads.get_or_create(&OutcomeLabels { outcome }).inc();
    }

    /// The text exposition (OpenMetrics text, which Prometheus' text parser also reads).
    pub(crate) fn render(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::with_capacity(8 * 1024);
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

/// Rewrites prometheus-client's OpenMetrics text into the Prometheus 0.0.4 text format that
/// `text/plain; version=0.0.4` promises: a counter's `# HELP`/`# TYPE` name its `_total`
/// samples, and OpenMetrics-only lines (`# EOF`, `# UNIT`) go. Without this,
/// `prometheus_client`'s Python parser saw an empty counter plus an untyped family.
pub(crate) fn openmetrics_to_prometheus_text(text: &str) -> String {
    let counters: std::collections::HashSet<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(text.len() + 16 * counters.len());
    for line in text.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
            counters
                .contains(name)
                .then(|| format!("{prefix}{name}_total {tail}"))
        });
        match renamed {
            Some(l) => out.push_str(l.trim_end()),
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod text_format_tests {
    use super::openmetrics_to_prometheus_text;

    #[test]
    fn counters_are_typed_under_their_sample_names_and_eof_goes() {
        let om = "# HELP obesity_predictions Predictions.\n# TYPE obesity_predictions counter\nobesity_predictions_total{class=\"a\"} 3\n# HELP up Up.\n# TYPE up gauge\nup 1\n# EOF\n";
        let text = openmetrics_to_prometheus_text(om);
        assert_eq!(
            text,
            "# HELP obesity_predictions_total Predictions.\n# TYPE obesity_predictions_total counter\nobesity_predictions_total{class=\"a\"} 3\n# HELP up Up.\n# TYPE up gauge\nup 1\n"
        );
    }
}
