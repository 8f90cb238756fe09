//! [`ServeConfig`]: everything the service needs, with defaults that make
//! `ServeConfig::default()` serve `models:/obesity-classifier@champion` from `./mlruns` on
//! 127.0.0.1:8000.

use std::path::PathBuf;
use std::time::Duration;

use obesity_monitor::{WebhookConfig, WebhookFormat};
use obesity_registry::ModelRef;

use crate::batching::DynamicBatching;
use crate::error::{Result, ServeError};
use crate::policy::AbPolicy;

/// The environment variable read for the admin token when none is configured.
pub const ADMIN_TOKEN_ENV: &str = "OBESITY_ADMIN_TOKEN";

/// Longest [`DynamicBatching::max_queue_delay`] and [`DynamicBatching::max_fill_delay`]
/// accepted.
const MAX_BATCH_DELAY: Duration = Duration::from_secs(1);

/// The service's settings. Every field has a documented default; build one with struct
/// update syntax (`ServeConfig { port: 0, ..ServeConfig::new("./mlruns") }`, or
/// `..ServeConfig::default()` to take the registry and admin token from the environment).
#[derive(Debug, Clone, PartialEq)]
pub struct ServeConfig {
    /// Where the registry is: a folder (MLflow file-store layout), `file://`, or an
    /// `http://` MLflow tracking server (`https://` is refused: no TLS client is built in).
    /// By default, this is `$OBESITY_TRACKING_URI`, else `$MLFLOW_TRACKING_URI`, else
    /// `./mlruns`.
    pub tracking_uri: String,
    /// The version to serve by default: `models:/NAME@ALIAS`, `models:/NAME/3`,
    /// `models:/NAME/Production`, or just `NAME` (meaning `@champion`). The alias (or stage,
    /// or `latest`) is polled, so a promotion reaches the service without a restart. By
    /// default, this is `models:/obesity-classifier@champion`.
    pub model: String,
    /// More references of the same model to keep loaded and polled (e.g.
    /// `models:/NAME@challenger`), for A/B tests and `/v2/models/NAME/versions/N`. By
    /// default, none.
    pub also_load: Vec<String>,
    /// Interface to listen on. By default, this is `127.0.0.1`.
    pub host: String,
    /// Port; 0 picks a free one. By default, this is 8000.
    pub port: u16,
    /// How often the aliases are re-resolved; zero turns polling off (`POST /admin/reload`
    /// still works). By default, this is 30 seconds.
    pub poll_interval: Duration,
    /// Bearer token required by every mutating endpoint (reload, experiments, and feedback
    /// when [`protect_feedback`](Self::protect_feedback) is on). By default, this is
    /// `$OBESITY_ADMIN_TOKEN` if set, else none (those endpoints are open).
    pub admin_token: Option<String>,
    /// Require the admin token on `POST /feedback` too. By default, this is off.
    pub protect_feedback: bool,
    /// Largest request body, bytes; larger bodies get 413. By default, this is 2 MiB.
    pub max_body_bytes: usize,
    /// Most rows in one request (`/predict/batch`, `/invocations`, `/v2/.../infer`); more get
    /// 413. By default, this is 1,000.
    pub max_batch_rows: usize,
    /// How concurrent multi-row requests to one version are merged into one kernel call
    /// (Triton's dynamic batching). By default, [`DynamicBatching::default`]: up to 4,096
    /// rows, no added wait.
    pub batching: DynamicBatching,
    /// Longest a request may take before it is answered 408. By default, this is 10 seconds.
    pub request_timeout: Duration,
    /// Capacity of the queue between the request path and the performance monitor, in rows
    /// (a request's rows travel as one message; a failed request counts one). A request
    /// whose rows do not fit is dropped from monitoring whole (its rows counted), never
    /// delayed; 0 turns monitoring off (for measuring what it costs). By default, this is
    /// 65,536.
    pub monitor_queue: usize,
    /// Folder for the prediction log (`monitoring/<model>/events.jsonl`) and experiment state
    /// (`monitoring/ab-tests/<name>.json`). By default, this is the registry folder when the registry is local,
    /// and nothing (in memory only) for an MLflow server.
    pub state_dir: Option<PathBuf>,
    /// How often queued predictions are written to the prediction log. By default, this is
    /// 1 second.
    pub monitor_flush_interval: Duration,
    /// How long the monitor keeps predictions (the longest `/monitoring/status?hours=` window).
    /// By default, this is 24 hours.
    pub monitor_retention: Duration,
    /// The performance monitor's memory bounds: how many recent requests it keeps in detail
    /// (labels for older ones answer `410 expired_request`), feature rows for drift, and the
    /// seed of its expired-id filter. By default, [`obesity_monitor::MonitorLimits::default`].
    pub monitor_limits: obesity_monitor::MonitorLimits,
    /// How often drift against the reference profile and the alert rules are checked, and
    /// how often the [`AbPolicy`] runs under [`Server`](crate::Server). By default, this is
    /// 60 seconds.
    pub check_interval: Duration,
    /// Rows of recent traffic compared with the reference profile. By default, this is 1,000.
    pub drift_window: usize,
    /// Fewest recent rows before drift is computed at all. By default, this is 100.
    pub drift_min_rows: usize,
    /// Webhooks the service's own alerts (and their resolution) are POSTed to, besides the
    /// log. By default, none.
    pub alert_webhooks: AlertWebhooks,
    /// Width of one point of the dashboard's time series (traffic, latency, class mix,
    /// accuracy). By default, this is 60 seconds.
    pub timeline_step: Duration,
    /// Points kept per time series: the dashboard shows `timeline_points × timeline_step`
    /// of history, in memory that does not grow with traffic. By default, this is 240
    /// (four hours of one-minute points).
    pub timeline_points: usize,
    /// What the service does with a challenger by itself: start an A/B experiment, promote
    /// a winner. By default, nothing (see [`AbPolicy`]).
    pub ab: AbPolicy,
    /// How often an attached retrain trigger
    /// ([`AppState::attach_retrainer`](crate::AppState::attach_retrainer)) is asked whether
    /// to retrain; zero never asks on a schedule. By default, this is 10 minutes.
    pub retrain_check_interval: Duration,
}

/// Alert webhooks: where and how the service posts its alerts (see
/// `obesity_monitor::WebhookAlertHandler`, which does the posting, the retries and the
/// de-duplication).
///
/// Delivery runs on a thread of its own, so a receiver that is slow or down delays neither a
/// request nor the monitor's drift and alert checks; what happened shows in
/// `/monitoring/status` (`webhooks`) and `/metrics` (`obesity_alert_notifications_total`).
#[derive(Clone, PartialEq)]
pub struct AlertWebhooks {
    /// `http://` URLs to POST to (every alert goes to each). By default, none.
    pub urls: Vec<String>,
    /// The body: Slack's (`{"text", "blocks"}`) or Alertmanager's webhook payload. By
    /// default, this is [`WebhookFormat::Slack`].
    pub format: WebhookFormat,
    /// Timeout of one POST. By default, this is 5 seconds.
    pub timeout: Duration,
    /// POSTs per notification, the first included (1 = no retry). By default, this is 3.
    pub max_attempts: u32,
    /// Pause before the first retry, doubled before each further one (up to 10 s). By
    /// default, this is 500 ms.
    pub backoff: Duration,
}

impl Default for AlertWebhooks {
    fn default() -> Self {
        AlertWebhooks {
            urls: Vec::new(),
            format: WebhookFormat::Slack,
            timeout: Duration::from_secs(5),
            max_attempts: 3,
            backoff: Duration::from_millis(500),
        }
    }
}

/// Webhook URLs carry their secret in the path (Slack's do): `Debug` shows scheme and host.
impl std::fmt::Debug for AlertWebhooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let urls: Vec<String> = self.urls.iter().map(|u| redact(u)).collect();
        f.debug_struct("AlertWebhooks")
            .field("urls", &urls)
            .field("format", &self.format)
            .field("timeout", &self.timeout)
            .field("max_attempts", &self.max_attempts)
            .field("backoff", &self.backoff)
            .finish()
    }
}

/// `scheme://host[:port]/…` of a URL, for logs and error messages.
pub(crate) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "<not a URL>".to_owned();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let host = rest[..end].rsplit('@').next().unwrap_or("");
    let cut = if end < rest.len() { "/…" } else { "" };
    format!("{scheme}://{host}{cut}")
}

#[cfg(any(feature = "cli", test))]
/// Parses a body format name: `slack`, `slack-text` (or `slack_text`), `alertmanager`.
pub(crate) fn parse_webhook_format(text: &str) -> Option<WebhookFormat> {
    match text.trim().to_ascii_lowercase().replace('_', "-").as_str() {
        "slack" => Some(WebhookFormat::Slack),
        "slack-text" => Some(WebhookFormat::SlackText),
        "alertmanager" => Some(WebhookFormat::Alertmanager),
        _ => None,
    }
}

/// The environment's defaults: the registry from `$OBESITY_TRACKING_URI`, else
/// `$MLFLOW_TRACKING_URI`, else `./mlruns`, and the admin token from `$OBESITY_ADMIN_TOKEN`.
/// Code that names its own registry (tests, embedding apps) uses [`ServeConfig::new`], which
/// reads no environment variable.
impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            admin_token: std::env::var(ADMIN_TOKEN_ENV)
                .ok()
                .filter(|t| !t.is_empty()),
            ..ServeConfig::new(obesity_registry::tracking_uri_from_env())
        }
    }
}

impl ServeConfig {
    /// The defaults for the registry at `tracking_uri`, without reading the environment
    /// (no admin token, whatever `$OBESITY_ADMIN_TOKEN` says): what a test or an app that
    /// names its registry starts from.
    ///
    /// ```
    /// use obesity_serve::ServeConfig;
    ///
    /// let config = ServeConfig { port: 0, ..ServeConfig::new("./mlruns") };
    /// assert_eq!(config.tracking_uri, "./mlruns");
    /// assert_eq!(config.admin_token, None);
    /// ```
    pub fn new(tracking_uri: impl Into<String>) -> Self {
        ServeConfig {
            tracking_uri: tracking_uri.into(),
            model: "models:/obesity-classifier@champion".to_owned(),
            also_load: Vec::new(),
            host: "127.0.0.1".to_owned(),
            port: 8000,
            poll_interval: Duration::from_secs(30),
            admin_token: None,
            protect_feedback: false,
            max_body_bytes: 2 << 20,
            max_batch_rows: 1_000,
            batching: DynamicBatching::default(),
            request_timeout: Duration::from_secs(10),
            monitor_queue: 65_536,
            state_dir: None,
            monitor_flush_interval: Duration::from_secs(1),
            monitor_retention: Duration::from_secs(24 * 3600),
            monitor_limits: obesity_monitor::MonitorLimits::default(),
            check_interval: Duration::from_secs(60),
            drift_window: 1_000,
            drift_min_rows: 100,
            alert_webhooks: AlertWebhooks::default(),
            timeline_step: Duration::from_secs(60),
            timeline_points: 240,
            ab: AbPolicy::default(),
            retrain_check_interval: Duration::from_secs(600),
        }
    }
}

/// Parses a model reference, reading a bare name (or `models:/NAME`) as `NAME@champion`.
pub(crate) fn parse_model_ref(text: &str) -> Result<ModelRef> {
    let body = text.trim();
    let stripped = body.strip_prefix("models:/").unwrap_or(body);
    let full = if !stripped.is_empty() && !stripped.contains('@') && !stripped.contains('/') {
        format!("models:/{stripped}@champion")
    } else {
        body.to_owned()
    };
    full.parse()
        .map_err(|e: obesity_registry::Error| ServeError::Config {
            field: "model",
            value: text.to_owned(),
            reason: e.to_string(),
        })
}

/// The checked form of a config.
#[derive(Debug, Clone)]
pub(crate) struct Checked {
    /// The primary reference first, then `also_load`.
    pub(crate) refs: Vec<ModelRef>,
    pub(crate) state_dir: Option<PathBuf>,
    /// One checked config per alert webhook URL.
    pub(crate) webhooks: Vec<WebhookConfig>,
}

impl ServeConfig {
    /// Checks every value: references parse and name one model, the address parses, sizes
    /// are not zero.
    pub(crate) fn check(&self) -> Result<Checked> {
        let bad = |field: &'static str, value: String, reason: &str| ServeError::Config {
            field,
            value,
            reason: reason.to_owned(),
        };
        let mut refs = vec![parse_model_ref(&self.model)?];
        for extra in &self.also_load {
            let r = parse_model_ref(extra)?;
            if r.name() != refs[0].name() {
                return Err(bad(
                    "also_load",
                    extra.clone(),
                    "every reference must name the same registered model as `model`",
                ));
            }
            refs.push(r);
        }
        if self.host.trim().is_empty() {
            return Err(bad(
                "host",
                self.host.clone(),
                "an interface name or address is needed",
            ));
        }
        for (field, value) in [
            ("max_body_bytes", self.max_body_bytes),
            ("max_batch_rows", self.max_batch_rows),
            ("drift_window", self.drift_window),
            ("timeline_points", self.timeline_points),
        ] {
            if value == 0 {
                return Err(bad(field, "0".into(), "must be at least 1"));
            }
        }
        if self.request_timeout.is_zero() {
            return Err(bad("request_timeout", "0s".into(), "must be positive"));
        }
        for (field, delay) in [
            ("batching.max_queue_delay", self.batching.max_queue_delay),
            ("batching.max_fill_delay", self.batching.max_fill_delay),
        ] {
            if delay > MAX_BATCH_DELAY {
                return Err(bad(
                    field,
                    format!("{delay:?}"),
                    "must be at most 1 second (it delays merged requests)",
                ));
            }
        }
        if self.admin_token.as_deref().is_some_and(str::is_empty) {
            return Err(bad(
                "admin_token",
                String::new(),
                "an empty token protects nothing",
            ));
        }
        let state_dir = self.state_dir.clone().or_else(|| {
            let uri = self.tracking_uri.trim();
            let lower = uri.to_ascii_lowercase();
            if lower.starts_with("http://") || lower.starts_with("https://") {
                None
            } else {
                Some(PathBuf::from(uri.strip_prefix("file://").unwrap_or(uri)))
            }
        });
        if self.timeline_step < Duration::from_secs(1) {
            return Err(bad(
                "timeline_step",
                format!("{:?}", self.timeline_step),
                "must be at least 1 second",
            ));
        }
        if self.ab.auto_promote && !matches!(refs[0], ModelRef::Alias { .. }) {
            return Err(bad(
                "ab.auto_promote",
                self.model.clone(),
                "promotion moves an alias: serve models:/NAME@ALIAS",
            ));
        }
        if !(self.ab.traffic_split > 0.0 && self.ab.traffic_split < 1.0) {
            return Err(bad(
                "ab.traffic_split",
                self.ab.traffic_split.to_string(),
                "must be strictly between 0 and 1",
            ));
        }
        if self.ab.min_samples_per_variant == 0 {
            return Err(bad(
                "ab.min_samples_per_variant",
                "0".into(),
                "must be at least 1",
            ));
        }
        let alias_ok = format!("models:/{}@{}", refs[0].name(), self.ab.challenger_alias)
            .parse::<ModelRef>()
            .is_ok_and(
                |r| matches!(r, ModelRef::Alias { alias, .. } if alias == self.ab.challenger_alias),
            );
        if !alias_ok {
            return Err(bad(
                "ab.challenger_alias",
                self.ab.challenger_alias.clone(),
                "must be a valid alias name",
            ));
        }
        let w = &self.alert_webhooks;
        let webhooks = w
            .urls
            .iter()
            .map(|url| {
                WebhookConfig::builder(url.trim())
                    .format(w.format)
                    .timeout(w.timeout)
                    .max_attempts(w.max_attempts)
                    .backoff(w.backoff, w.backoff.max(Duration::from_secs(10)))
                    .label("model", refs[0].name())
                    .label("service", "obesity-serve")
                    .build()
                    .map_err(|e| {
                        let field = match &e {
                            obesity_monitor::MonitorError::InvalidConfig { field, .. } => {
                                match *field {
                                    "url" => "alert_webhooks.urls",
                                    "timeout" => "alert_webhooks.timeout",
                                    "max_attempts" => "alert_webhooks.max_attempts",
                                    "backoff" => "alert_webhooks.backoff",
                                    _ => "alert_webhooks",
                                }
                            }
                            _ => "alert_webhooks",
                        };
                        ServeError::Config {
                            field,
                            value: redact(url),
                            reason: e.to_string(),
                        }
                    })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Checked {
            refs,
            state_dir,
            webhooks,
        })
    }
}

/// The command-line flags of `obesity serve` and `cargo run --example serve` (feature
/// `cli`): both flatten this struct, so they cannot drift apart. `--tracking-uri` is not
/// here: the `obesity` command has it as a global flag, and the example declares it itself.
#[cfg(feature = "cli")]
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// The version to serve: models:/NAME@ALIAS (polled), models:/NAME/3, or NAME (@champion).
    #[arg(long, default_value = "models:/obesity-classifier@champion")]
    pub model: String,
    /// Another reference of the same model to keep loaded, e.g. models:/NAME@challenger
    /// (repeatable).
    #[arg(long = "also-load", value_name = "MODEL_URI")]
    pub also_load: Vec<String>,
    /// Interface to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port (0 picks a free one).
    #[arg(long, default_value_t = 8000)]
    pub port: u16,
    /// Seconds between alias polls (0: never; POST /admin/reload still works).
    #[arg(long, default_value_t = 30.0, value_name = "SECONDS")]
    pub poll_interval: f64,
    /// Bearer token for the mutating endpoints (reload, experiments).
    #[arg(long, env = "OBESITY_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Require the admin token on POST /feedback too.
    #[arg(long)]
    pub protect_feedback: bool,
    /// Largest request body in bytes (larger: 413).
    #[arg(long, default_value_t = 2 << 20)]
    pub max_body_bytes: usize,
    /// Most rows per request (more: 413).
    #[arg(long, default_value_t = 1000)]
    pub max_batch_rows: usize,
    /// Most rows merged from concurrent multi-row requests into one kernel call (dynamic
    /// batching; 0: off, every request predicts alone).
    #[arg(long, default_value_t = 4096, value_name = "ROWS")]
    pub batch_max_rows: usize,
    /// Milliseconds the batcher waits for more rows once some are queued (0: none; an idle
    /// service then adds no delay).
    #[arg(long, default_value_t = 0.0, value_name = "MS")]
    pub batch_max_delay_ms: f64,
    /// Rows a merged call should reach before it runs while more multi-row requests are on
    /// their way (being parsed); 0: never wait for them.
    #[arg(long, default_value_t = 1024, value_name = "ROWS")]
    pub batch_preferred_rows: usize,
    /// Longest wait, in milliseconds, for requests on their way (see
    /// --batch-preferred-rows).
    #[arg(long, default_value_t = 2.0, value_name = "MS")]
    pub batch_max_fill_delay_ms: f64,
    /// Seconds before a request is answered 408.
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    pub request_timeout: f64,
    /// Folder for the prediction log and experiment state (default: the registry folder,
    /// or memory only for an MLflow server).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Capacity of the monitor queue, in rows (a request whose rows do not fit is dropped
    /// from monitoring whole, its rows counted; 0: monitoring off).
    #[arg(long, default_value_t = 65_536)]
    pub monitor_queue: usize,
    /// Seconds between drift and alert checks.
    #[arg(long, default_value_t = 60.0, value_name = "SECONDS")]
    pub check_interval: f64,
    /// POST the service's alerts (and their resolution) to this URL (repeatable; the
    /// environment variable takes a comma-separated list).
    #[arg(
        long = "alert-webhook",
        value_name = "URL",
        env = "OBESITY_ALERT_WEBHOOK",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub alert_webhook: Vec<String>,
    /// Body of the alert webhooks: slack, slack-text or alertmanager.
    #[arg(
        long,
        default_value = "slack",
        value_name = "FORMAT",
        env = "OBESITY_ALERT_WEBHOOK_FORMAT"
    )]
    pub alert_webhook_format: String,
    /// Seconds before one webhook POST is abandoned.
    #[arg(
        long,
        default_value_t = 5.0,
        value_name = "SECONDS",
        env = "OBESITY_ALERT_WEBHOOK_TIMEOUT"
    )]
    pub alert_webhook_timeout: f64,
    /// POSTs per alert notification, the first included (1: no retry; at most 10).
    #[arg(long, default_value_t = 3, env = "OBESITY_ALERT_WEBHOOK_ATTEMPTS")]
    pub alert_webhook_attempts: u32,
    /// Seconds per point of the /dashboard time series.
    #[arg(long, default_value_t = 60.0, value_name = "SECONDS")]
    pub timeline_step: f64,
    /// Start an A/B experiment against the champion when the challenger alias points at a
    /// new version.
    #[arg(long)]
    pub ab_auto_start: bool,
    /// Move the champion alias to an experiment's treatment when its analysis says "promote
    /// treatment" with the minimum samples reached (off by default).
    #[arg(long)]
    pub ab_auto_promote: bool,
    /// Outcomes per arm before an auto-started experiment can be decided.
    #[arg(long, default_value_t = 100)]
    pub ab_min_samples: usize,
}

#[cfg(feature = "cli")]
impl ServeArgs {
    /// The config these flags describe, over the registry at `tracking_uri` (`None`: the
    /// default, see [`ServeConfig::tracking_uri`]).
    ///
    /// # Errors
    /// [`ServeError::Config`] for a negative or non-finite number of seconds, or an unknown
    /// webhook format.
    pub fn to_config(&self, tracking_uri: Option<&str>) -> Result<ServeConfig> {
        let seconds = |field: &'static str, s: f64| {
            Duration::try_from_secs_f64(s).map_err(|e| ServeError::Config {
                field,
                value: s.to_string(),
                reason: e.to_string(),
            })
        };
        let defaults = match tracking_uri {
            Some(uri) => ServeConfig::new(uri),
            None => ServeConfig::default(),
        };
        Ok(ServeConfig {
            tracking_uri: defaults.tracking_uri.clone(),
            model: self.model.clone(),
            also_load: self.also_load.clone(),
            host: self.host.clone(),
            port: self.port,
            poll_interval: seconds("poll_interval", self.poll_interval)?,
            admin_token: self.admin_token.clone().filter(|t| !t.is_empty()),
            protect_feedback: self.protect_feedback,
            max_body_bytes: self.max_body_bytes,
            max_batch_rows: self.max_batch_rows,
            batching: DynamicBatching {
                max_rows: self.batch_max_rows,
                max_queue_delay: seconds("batch_max_delay_ms", self.batch_max_delay_ms / 1e3)?,
                preferred_rows: self.batch_preferred_rows,
                max_fill_delay: seconds(
                    "batch_max_fill_delay_ms",
                    self.batch_max_fill_delay_ms / 1e3,
                )?,
            },
            request_timeout: seconds("request_timeout", self.request_timeout)?,
            state_dir: self.state_dir.clone(),
            monitor_queue: self.monitor_queue,
            check_interval: seconds("check_interval", self.check_interval)?,
            alert_webhooks: AlertWebhooks {
                urls: self
                    .alert_webhook
                    .iter()
                    .map(|u| u.trim().to_owned())
                    .filter(|u| !u.is_empty())
                    .collect(),
                format: parse_webhook_format(&self.alert_webhook_format).ok_or_else(|| {
                    ServeError::Config {
                        field: "alert_webhook_format",
                        value: self.alert_webhook_format.clone(),
                        reason: "expected slack, slack-text or alertmanager".into(),
                    }
                })?,
                timeout: seconds("alert_webhook_timeout", self.alert_webhook_timeout)?,
                max_attempts: self.alert_webhook_attempts,
                ..AlertWebhooks::default()
            },
            timeline_step: seconds("timeline_step", self.timeline_step)?,
            ab: AbPolicy {
                auto_start: self.ab_auto_start,
                auto_promote: self.ab_auto_promote,
                min_samples_per_variant: self.ab_min_samples,
                ..AbPolicy::default()
            },
            ..defaults
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_name_means_the_champion() {
        for text in ["obesity-rf", "models:/obesity-rf"] {
            assert_eq!(
                parse_model_ref(text).unwrap().to_string(),
                "models:/obesity-rf@champion"
            );
        }
        assert_eq!(
            parse_model_ref("models:/obesity-rf/3").unwrap().to_string(),
            "models:/obesity-rf/3"
        );
        assert!(parse_model_ref("models:/../x@a").is_err());
    }

    #[test]
    fn check_refuses_unusable_values() {
        let base = ServeConfig {
            ..ServeConfig::new("/tmp/x")
        };
        let c = base.check().unwrap();
        assert_eq!(c.state_dir, Some(PathBuf::from("/tmp/x")));
        let other = ServeConfig {
            also_load: vec!["models:/other@challenger".into()],
            ..base.clone()
        };
        assert!(matches!(
            other.check(),
            Err(ServeError::Config {
                field: "also_load",
                ..
            })
        ));
        let host = ServeConfig {
            host: " ".into(),
            ..base.clone()
        };
        assert!(matches!(
            host.check(),
            Err(ServeError::Config { field: "host", .. })
        ));
        let zero = ServeConfig {
            max_batch_rows: 0,
            ..base.clone()
        };
        assert!(zero.check().is_err());
        // Either batching delay over 1 s is refused, naming its own field.
        for (batching, field) in [
            (
                DynamicBatching {
                    max_rows: 10,
                    max_queue_delay: Duration::from_secs(2),
                    ..DynamicBatching::default()
                },
                "batching.max_queue_delay",
            ),
            (
                DynamicBatching {
                    max_fill_delay: Duration::from_millis(1_500),
                    ..DynamicBatching::default()
                },
                "batching.max_fill_delay",
            ),
        ] {
            let slow = ServeConfig {
                batching,
                ..base.clone()
            };
            match slow.check() {
                Err(ServeError::Config { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: {other:?}"),
            }
        }
        // Merging off is a valid setting, not a zero to refuse.
        let off = ServeConfig {
            batching: DynamicBatching::off(),
            ..base.clone()
        };
        assert!(off.check().is_ok());
        let http = ServeConfig {
            tracking_uri: "http://mlflow:5000".into(),
            ..base
        };
        assert_eq!(http.check().unwrap().state_dir, None);
    }

    #[test]
    fn webhook_settings_are_checked_and_name_the_field() {
        let base = ServeConfig {
            ..ServeConfig::new("/tmp/x")
        };
        let with = |w: AlertWebhooks| ServeConfig {
            alert_webhooks: w,
            ..base.clone()
        };
        let ok = with(AlertWebhooks {
            urls: vec!["http://127.0.0.1:9/hook".into()],
            format: WebhookFormat::Alertmanager,
            ..AlertWebhooks::default()
        });
        let checked = ok.check().unwrap();
        assert_eq!(checked.webhooks.len(), 1);
        assert_eq!(checked.webhooks[0].format(), WebhookFormat::Alertmanager);
        for (w, field) in [
            (
                AlertWebhooks {
                    urls: vec!["ftp://x/y".into()],
                    ..AlertWebhooks::default()
                },
                "alert_webhooks.urls",
            ),
            (
                AlertWebhooks {
                    urls: vec!["http://h/".into()],
                    timeout: Duration::ZERO,
                    ..AlertWebhooks::default()
                },
                "alert_webhooks.timeout",
            ),
            (
                AlertWebhooks {
                    urls: vec!["http://h/".into()],
                    max_attempts: 0,
                    ..AlertWebhooks::default()
                },
                "alert_webhooks.max_attempts",
            ),
        ] {
            match with(w).check() {
                Err(ServeError::Config { field: f, .. }) => assert_eq!(f, field),
                other => panic!("expected a config error on {field}, got {other:?}"),
            }
        }
        // The secret path of a webhook URL never reaches Debug output.
        let debug = format!(
            "{:?}",
            AlertWebhooks {
                urls: vec!["https://hooks.example/services/SECRET".into()],
                ..AlertWebhooks::default()
            }
        );
        assert!(!debug.contains("SECRET"), "{debug}");
        assert_eq!(
            parse_webhook_format("Slack_Text"),
            Some(WebhookFormat::SlackText)
        );
        assert_eq!(parse_webhook_format("teams"), None);
        let step = ServeConfig {
            timeline_step: Duration::from_millis(10),
            ..base
        };
        assert!(matches!(
            step.check(),
            Err(ServeError::Config {
                field: "timeline_step",
                ..
            })
        ));
    }
}

#[cfg(all(test, feature = "cli"))]
mod cli_tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        serve: ServeArgs,
    }

    fn config(args: &[&str]) -> Result<ServeConfig> {
        let cli = Cli::try_parse_from(std::iter::once("obesity").chain(args.iter().copied()))
            .map_err(|e| ServeError::Task(e.to_string()))?;
        cli.serve.to_config(Some("/tmp/x"))
    }

    #[test]
    fn webhook_and_policy_flags_reach_the_config() {
        let c = config(&[
            "--alert-webhook",
            "http://a:9/hook",
            "--alert-webhook",
            "http://b:9/hook",
            "--alert-webhook-format",
            "alertmanager",
            "--alert-webhook-timeout",
            "1.5",
            "--alert-webhook-attempts",
            "2",
            "--check-interval",
            "5",
            "--timeline-step",
            "10",
            "--ab-auto-start",
            "--ab-min-samples",
            "30",
        ])
        .unwrap();
        assert_eq!(
            c.alert_webhooks.urls,
            ["http://a:9/hook", "http://b:9/hook"]
        );
        assert_eq!(c.alert_webhooks.format, WebhookFormat::Alertmanager);
        assert_eq!(c.alert_webhooks.timeout, Duration::from_millis(1500));
        assert_eq!(c.alert_webhooks.max_attempts, 2);
        assert_eq!(c.check_interval, Duration::from_secs(5));
        assert_eq!(c.timeline_step, Duration::from_secs(10));
        assert!(c.ab.auto_start && !c.ab.auto_promote);
        assert_eq!(c.ab.min_samples_per_variant, 30);
        assert_eq!(c.check().unwrap().webhooks.len(), 2);
        // Defaults: no webhook, no policy.
        let d = config(&[]).unwrap();
        assert!(d.alert_webhooks.urls.is_empty() || std::env::var("OBESITY_ALERT_WEBHOOK").is_ok());
        assert!(!d.ab.auto_start && !d.ab.auto_promote);
    }

    #[test]
    fn batching_flags_reach_the_config() {
        let c = config(&[
            "--batch-max-rows",
            "512",
            "--batch-max-delay-ms",
            "0.5",
            "--batch-preferred-rows",
            "256",
            "--batch-max-fill-delay-ms",
            "0.25",
        ])
        .unwrap();
        assert_eq!(
            c.batching,
            DynamicBatching {
                max_rows: 512,
                max_queue_delay: Duration::from_micros(500),
                preferred_rows: 256,
                max_fill_delay: Duration::from_micros(250),
            }
        );
        assert!(
            !config(&["--batch-max-rows", "0"])
                .unwrap()
                .batching
                .enabled()
        );
        assert_eq!(config(&[]).unwrap().batching, DynamicBatching::default());
    }

    #[test]
    fn bad_flag_values_name_the_field() {
        for (args, field) in [
            (
                &["--alert-webhook-format", "teams"][..],
                "alert_webhook_format",
            ),
            (&["--alert-webhook-timeout=-1"][..], "alert_webhook_timeout"),
            (&["--timeline-step", "nan"][..], "timeline_step"),
            (&["--batch-max-delay-ms=-1"][..], "batch_max_delay_ms"),
            (
                &["--batch-max-fill-delay-ms", "nan"][..],
                "batch_max_fill_delay_ms",
            ),
        ] {
            match config(args) {
                Err(ServeError::Config { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{args:?}: {other:?}"),
            }
        }
    }
}
