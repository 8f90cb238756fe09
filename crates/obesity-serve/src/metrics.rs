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

fn latency_histogram() -> Histogram {
    // 50 µs .. ~1.6 s: single-row requests sit in the lowest buckets.
    Histogram::new(exponential_buckets(0.000_05, 2.0, 16))
}

/// Every metric the service exports.
pub(crate) struct Metrics {
    registry: Registry,
    requests: Family<HttpLabels, Counter>,
    latency: Family<HttpLabels, Histogram, fn() -> Histogram>,
    predictions: Family<PredictionLabels, Counter>,
    model_info: Family<ModelLabels, Gauge>,
    reloads: Family<OutcomeLabels, Counter>,
    pub(crate) drift_share: Gauge<f64, AtomicU64>,
    pub(crate) drifted_columns: Gauge,
    pub(crate) monitor_dropped: Counter,
    pub(crate) monitor_logged: Counter,
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
        let drift_share = Gauge::<f64, AtomicU64>::default();
        let drifted_columns = Gauge::default();
        let monitor_dropped = Counter::default();
        let monitor_logged = Counter::default();
        let uptime = Gauge::<f64, AtomicU64>::default();
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
            drift_share,
            drifted_columns,
            monitor_dropped,
            monitor_logged,
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
