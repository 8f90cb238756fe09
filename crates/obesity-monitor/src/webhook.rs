//! [`WebhookAlertHandler`]: alerts POSTed as JSON to a chat webhook (Slack's body) or to an
//! Alertmanager-style receiver (Alertmanager's `webhook_config` payload), with a timeout,
//! bounded retries with exponential backoff, and de-duplication per alert key.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::alerts::{Alert, AlertHandler, AlertKind, Severity};
use crate::error::{MonitorError, Result};

/// The most attempts (first POST plus retries) a [`WebhookConfig`] accepts.
pub const MAX_WEBHOOK_ATTEMPTS: u32 = 10;

/// Labels the handler sets itself; [`WebhookConfigBuilder::label`] refuses them.
const RESERVED_LABELS: [&str; 3] = ["alertname", "severity", "kind"];

/// Alertmanager's "no end time" (Go's zero time), sent as `endsAt` of a firing alert.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// The JSON body a [`WebhookAlertHandler`] sends.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum WebhookFormat {
    /// Slack's incoming-webhook body, `{"text": ..., "blocks": [...]}`: a one-line `text`
    /// (the notification and fallback) and Block Kit blocks (a header, the message with the
    /// value, threshold, severity and labels as fields, and a context line). Mattermost and
    /// Rocket.Chat incoming webhooks take it too.
    #[default]
    Slack,
    /// Slack's body with `text` only, for receivers that refuse `blocks`.
    SlackText,
    /// Alertmanager's `webhook_config` payload (`"version": "4"`, `status`
    /// `firing`/`resolved`, `alerts[]` with `labels`, `annotations`, `startsAt`, `endsAt`,
    /// `fingerprint`, plus `groupKey`, `groupLabels`, `commonLabels`, ...), so any receiver
    /// written for Alertmanager's webhooks reads it unchanged.
    Alertmanager,
}

/// Where and how a [`WebhookAlertHandler`] posts. Built with [`WebhookConfig::builder`],
/// which checks every value, so a config that exists is valid.
///
/// `Debug` prints the URL without its path, query or credentials and hides header values:
/// a Slack webhook URL and an `Authorization` header are secrets.
#[derive(Clone)]
pub struct WebhookConfig {
    url: String,
    format: WebhookFormat,
    timeout: Duration,
    max_attempts: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    labels: BTreeMap<String, String>,
    headers: Vec<(String, String)>,
    receiver: String,
    external_url: String,
}

impl fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(name, _)| (name.as_str(), "<redacted>"))
            .collect();
        f.debug_struct("WebhookConfig")
            .field("url", &redact_url(&self.url))
            .field("format", &self.format)
            .field("timeout", &self.timeout)
            .field("max_attempts", &self.max_attempts)
            .field("initial_backoff", &self.initial_backoff)
            .field("max_backoff", &self.max_backoff)
            .field("labels", &self.labels)
            .field("headers", &headers)
            .field("receiver", &self.receiver)
            .field("external_url", &self.external_url)
            .finish()
    }
}

impl WebhookConfig {
    /// A builder for a webhook at `url` (`http://` or `https://`), starting from the
    /// defaults: [`WebhookFormat::Slack`], a 5 s timeout per attempt, 3 attempts, backoff
    /// 500 ms doubling up to 10 s, no extra labels or headers, receiver `obesity-monitor`.
    ///
    /// Requests go through the proxy named by `HTTP_PROXY`/`HTTPS_PROXY`/`ALL_PROXY` (and
    /// `NO_PROXY`), as everywhere `ureq` is used.
    ///
    /// HTTPS needs a TLS backend in `ureq` (its `rustls` or `native-tls` feature), which this
    /// workspace does not turn on: without one, an `https://` webhook fails at delivery with
    /// ureq's TLS error. Point the handler at a local relay (Alertmanager itself, a sidecar)
    /// or enable the feature in your application's `ureq` dependency.
    pub fn builder(url: impl Into<String>) -> WebhookConfigBuilder {
        WebhookConfigBuilder {
            config: WebhookConfig {
                url: url.into(),
                format: WebhookFormat::default(),
                timeout: Duration::from_secs(5),
                max_attempts: 3,
                initial_backoff: Duration::from_millis(500),
                max_backoff: Duration::from_secs(10),
                labels: BTreeMap::new(),
                headers: Vec::new(),
                receiver: "obesity-monitor".to_owned(),
                external_url: String::new(),
            },
            error: None,
        }
    }

    /// The URL with its path, query and credentials cut, for logs.
    pub fn redacted_url(&self) -> String {
        redact_url(&self.url)
    }

    /// The body format.
    pub fn format(&self) -> WebhookFormat {
        self.format
    }

    /// The timeout of one attempt (connect, send, answer).
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Attempts per notification, the first POST included.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// Labels added to every alert.
    pub fn labels(&self) -> &BTreeMap<String, String> {
        &self.labels
    }

    /// The longest a notification can block the caller: every attempt timing out, plus the
    /// backoff pauses between them.
    pub fn worst_case_duration(&self) -> Duration {
        let mut total = self.timeout.saturating_mul(self.max_attempts);
        let mut pause = self.initial_backoff;
        for _ in 1..self.max_attempts {
            total = total.saturating_add(pause);
            pause = pause.saturating_mul(2).min(self.max_backoff);
        }
        total
    }
}

/// Builds a checked [`WebhookConfig`]. A bad label or header is reported by
/// [`build`](Self::build) (the first one given).
#[derive(Debug)]
pub struct WebhookConfigBuilder {
    config: WebhookConfig,
    error: Option<MonitorError>,
}

impl WebhookConfigBuilder {
    /// The body format. By default, [`WebhookFormat::Slack`].
    pub fn format(mut self, format: WebhookFormat) -> Self {
        self.config.format = format;
        self
    }

    /// Timeout of one attempt: connecting, sending and reading the answer's head. By
    /// default, 5 s.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.config.timeout = timeout;
        self
    }

    /// Attempts per notification, the first POST included (1 = no retry), at most
    /// [`MAX_WEBHOOK_ATTEMPTS`]. By default, 3. Connection failures, timeouts, `408`, `429`
    /// and `5xx` answers are retried; other answers outside `2xx` are not (a retry would get
    /// the same answer).
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.config.max_attempts = n;
        self
    }

    /// The pause before the first retry, doubled before each further retry up to `max`. By
    /// default, 500 ms and 10 s.
    pub fn backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.config.initial_backoff = initial;
        self.config.max_backoff = max;
        self
    }

    /// A label added to every alert (Alertmanager `labels`, Slack fields): say `service`,
    /// `model` or `env`. Names follow Prometheus' label syntax; `alertname`, `severity` and
    /// `kind` are set by the handler and refused here.
    pub fn label(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let name = name.into();
        if let Err(e) = check_label_name(&name) {
            self.error.get_or_insert(e);
        } else {
            self.config.labels.insert(name, value.into());
        }
        self
    }

    /// A header sent with every POST, e.g. `Authorization`. `Content-Type` is always
    /// `application/json`.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let (name, value) = (name.into(), value.into());
        let bad_name = ureq::http::HeaderName::from_bytes(name.as_bytes()).is_err()
            || name.eq_ignore_ascii_case("content-type")
            || name.eq_ignore_ascii_case("content-length");
        if bad_name {
            self.error.get_or_insert(MonitorError::InvalidConfig {
                field: "header",
                value: name,
                expected: "an HTTP header name other than Content-Type and Content-Length"
                    .to_owned(),
            });
        } else if ureq::http::HeaderValue::from_str(&value).is_err() {
            self.error.get_or_insert(MonitorError::InvalidConfig {
                field: "header",
                value: format!("{name}: <redacted>"),
                expected: "a header value of visible ASCII characters, spaces and tabs".to_owned(),
            });
        } else {
            self.config.headers.push((name, value));
        }
        self
    }

    /// Alertmanager's `receiver` field. By default, `obesity-monitor`.
    pub fn receiver(mut self, name: impl Into<String>) -> Self {
        self.config.receiver = name.into();
        self
    }

    /// Alertmanager's `externalURL` and each alert's `generatorURL`: where a person can see
    /// more, typically the service's `/dashboard`. By default, empty.
    pub fn external_url(mut self, url: impl Into<String>) -> Self {
        self.config.external_url = url.into();
        self
    }

    /// Checks the values and returns the config.
    ///
    /// # Errors
    /// [`MonitorError::InvalidConfig`] naming the field: a URL that is not `http://` or
    /// `https://` with a host, a zero timeout, attempts outside 1..=[`MAX_WEBHOOK_ATTEMPTS`],
    /// an initial backoff above the maximum, a bad or reserved label name, a bad header.
    pub fn build(self) -> Result<WebhookConfig> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let c = self.config;
        check_url(&c.url)?;
        if c.timeout.is_zero() {
            return Err(MonitorError::InvalidConfig {
                field: "timeout",
                value: format!("{:?}", c.timeout),
                expected: "a duration above zero".to_owned(),
            });
        }
        if !(1..=MAX_WEBHOOK_ATTEMPTS).contains(&c.max_attempts) {
            return Err(MonitorError::InvalidConfig {
                field: "max_attempts",
                value: c.max_attempts.to_string(),
                expected: format!("1 to {MAX_WEBHOOK_ATTEMPTS}"),
            });
        }
        if c.initial_backoff > c.max_backoff {
            return Err(MonitorError::InvalidConfig {
                field: "backoff",
                value: format!("{:?}", c.initial_backoff),
                expected: format!("at most the maximum backoff ({:?})", c.max_backoff),
            });
        }
        Ok(c)
    }
}

fn check_url(url: &str) -> Result<()> {
    let invalid = || MonitorError::InvalidConfig {
        field: "url",
        value: redact_url(url),
        expected: "an http:// or https:// URL with a host".to_owned(),
    };
    let uri: ureq::http::Uri = url.parse().map_err(|_| invalid())?;
    let scheme_ok = matches!(uri.scheme_str(), Some("http" | "https"));
    let host_ok = uri.host().is_some_and(|h| !h.is_empty());
    if scheme_ok && host_ok {
        Ok(())
    } else {
        Err(invalid())
    }
}

fn check_label_name(name: &str) -> Result<()> {
    let mut chars = name.chars();
    let syntax = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with("__");
    if !syntax || RESERVED_LABELS.contains(&name) {
        return Err(MonitorError::InvalidConfig {
            field: "label",
            value: name.to_owned(),
            expected: "a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with __) \
                       other than alertname, severity and kind"
                .to_owned(),
        });
    }
    Ok(())
}

/// `scheme://host[:port]` of `url`, with a `…` where a path, query or fragment was cut and
/// `***@` where credentials were: webhook URLs carry their secret in the path.
fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "<not a URL>".to_owned();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let authority = match authority.rsplit_once('@') {
        Some((_, host)) => format!("***@{host}"),
        None => authority.to_owned(),
    };
    let cut = if end < rest.len() { "/…" } else { "" };
    format!("{scheme}://{authority}{cut}")
}

/// What [`WebhookAlertHandler::deliver`] did with an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Delivery {
    /// POSTed and accepted (a `2xx` answer) on attempt `attempts`.
    Sent {
        /// POSTs made, retries included.
        attempts: u32,
    },
    /// Not sent: the receiver was already told that this alert is firing at this severity.
    AlreadyFiring,
    /// Not sent: a resolved notice for an alert the receiver was never told is firing.
    NotFiring,
}

/// An episode the receiver has been told about.
#[derive(Debug, Clone, Copy)]
struct Episode {
    severity: Severity,
    starts_at: DateTime<Utc>,
}

/// One alert of a notification, in the state the receiver should learn.
struct Entry<'a> {
    kind: AlertKind,
    /// The severity of the episode (for a resolved one, the severity it fired with).
    severity: Severity,
    /// `Some(end)` when the episode is over.
    ends_at: Option<DateTime<Utc>>,
    starts_at: DateTime<Utc>,
    message: &'a str,
    value: f64,
    threshold: f64,
}

/// An [`AlertHandler`] that POSTs each alert as JSON to a webhook (feature `webhook`).
///
/// - **Formats**: Slack's `{"text", "blocks"}` or Alertmanager's `webhook_config` payload,
///   chosen by [`WebhookConfig`]'s [`WebhookFormat`].
/// - **Retries**: connection failures, timeouts, `408`, `429` and `5xx` are retried up to
///   the configured attempts with exponential backoff; a notification that still fails is an
///   error from [`deliver`](Self::deliver) (logged by [`handle`](AlertHandler::handle))
///   that says how many attempts were made and why the last failed.
/// - **Timeout**: each attempt has the configured timeout, so a silent receiver cannot hold
///   the monitoring loop for longer than [`WebhookConfig::worst_case_duration`].
/// - **De-duplication**: the handler remembers, per alert key ([`AlertKind`]), what the
///   receiver has been told. While a condition persists it is sent once (again only if its
///   severity changes); when the resolved notice arrives it sends one "resolved"
///   notification, with the severity and start time the alert fired with, and forgets the
///   key. A notification that could not be delivered does not count as told: the next
///   alert for that key is sent. So the handler de-duplicates on its own, even when fed the
///   raw [`AlertPolicy::evaluate`](crate::AlertPolicy::evaluate) output every check, and
///   agrees with an [`AlertManager`](crate::AlertManager), which de-duplicates before it.
///
/// In Alertmanager's format a severity change is one notification holding the old alert as
/// resolved and the new one as firing (the severity is a label, so they are two alerts).
///
/// Delivery happens on the calling thread and one notification at a time.
///
/// ```no_run
/// use std::time::Duration;
/// use obesity_monitor::{
///     AlertManager, AlertPolicy, WebhookAlertHandler, WebhookConfig, WebhookFormat,
/// };
///
/// let config = WebhookConfig::builder("http://alertmanager:9093/api/v2/webhook")
///     .format(WebhookFormat::Alertmanager)
///     .timeout(Duration::from_secs(2))
///     .max_attempts(4)
///     .label("service", "obesity-serve")
///     .build()?;
/// let mut alerts = AlertManager::new(AlertPolicy::default());
/// alerts.add_handler(WebhookAlertHandler::new(config));
/// # Ok::<(), obesity_monitor::MonitorError>(())
/// ```
pub struct WebhookAlertHandler {
    config: WebhookConfig,
    agent: ureq::Agent,
    told: Mutex<BTreeMap<AlertKind, Episode>>,
}

impl fmt::Debug for WebhookAlertHandler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookAlertHandler")
            .field("config", &self.config)
            .field("firing", &self.firing())
            .finish_non_exhaustive()
    }
}

impl WebhookAlertHandler {
    /// A handler posting to `config`'s webhook, with nothing firing yet.
    pub fn new(config: WebhookConfig) -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(config.timeout))
            .max_redirects(0)
            .max_redirects_will_error(false)
            .user_agent(concat!("obesity-monitor/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Self {
            config,
            agent,
            told: Mutex::new(BTreeMap::new()),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &WebhookConfig {
        &self.config
    }

    /// The alerts the receiver has been told are firing, with their severity.
    pub fn firing(&self) -> BTreeMap<AlertKind, Severity> {
        self.told
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(k, e)| (*k, e.severity))
            .collect()
    }

    /// Sends one alert unless the receiver already knows (see the de-duplication rules on
    /// the type), retrying as configured.
    ///
    /// # Errors
    /// [`MonitorError::WebhookDelivery`] when the receiver did not accept it: every attempt
    /// failed (the error says how many and why the last one did, and whether it timed out),
    /// or it answered with a status a retry cannot change (`4xx` other than `408`/`429`,
    /// a redirect). The alert then does not count as delivered.
    pub fn deliver(&self, alert: &Alert) -> Result<Delivery> {
        let mut told = self.told.lock().unwrap_or_else(PoisonError::into_inner);
        let previous = told.get(&alert.kind).copied();
        let mut entries = Vec::with_capacity(2);
        if alert.resolved {
            let Some(was) = previous else {
                return Ok(Delivery::NotFiring);
            };
            entries.push(Entry {
                kind: alert.kind,
                severity: was.severity,
                ends_at: Some(alert.at),
                starts_at: was.starts_at,
                message: &alert.message,
                value: alert.value,
                threshold: alert.threshold,
            });
        } else {
            if let Some(was) = previous {
                if was.severity == alert.severity {
                    return Ok(Delivery::AlreadyFiring);
                }
                if self.config.format == WebhookFormat::Alertmanager {
                    entries.push(Entry {
                        kind: alert.kind,
                        severity: was.severity,
                        ends_at: Some(alert.at),
                        starts_at: was.starts_at,
                        message: "superseded by a change of severity",
                        value: alert.value,
                        threshold: alert.threshold,
                    });
                }
            }
            entries.push(Entry {
                kind: alert.kind,
                severity: alert.severity,
                ends_at: None,
                starts_at: alert.at,
                message: &alert.message,
                value: alert.value,
                threshold: alert.threshold,
            });
        }
        let body = match self.config.format {
            WebhookFormat::Slack => self.slack(&entries, previous, true),
            WebhookFormat::SlackText => self.slack(&entries, previous, false),
            WebhookFormat::Alertmanager => self.alertmanager(&entries),
        };
        let body = serde_json::to_vec(&body).map_err(|e| MonitorError::WebhookDelivery {
            url: self.config.redacted_url(),
            attempts: 0,
            reason: format!("the notification could not be encoded as JSON: {e}"),
            timed_out: false,
        })?;
        let attempts = self.post(&body)?;
        if alert.resolved {
            told.remove(&alert.kind);
        } else {
            told.insert(
                alert.kind,
                Episode {
                    severity: alert.severity,
                    starts_at: alert.at,
                },
            );
        }
        Ok(Delivery::Sent { attempts })
    }

    /// POSTs `body` until a `2xx`, a status not worth retrying, or the last attempt.
    fn post(&self, body: &[u8]) -> Result<u32> {
        let max = self.config.max_attempts;
        let mut pause = self.config.initial_backoff;
        let mut last = String::new();
        let mut timed_out = false;
        for attempt in 1..=max {
            match self.post_once(body) {
                Ok(status) if (200..300).contains(&status) => return Ok(attempt),
                Ok(status) if matches!(status, 408 | 429 | 500..=599) => {
                    last = format!("the receiver answered HTTP {status}");
                    timed_out = false;
                }
                Ok(status) => {
                    return Err(self.failure(
                        attempt,
                        format!("the receiver answered HTTP {status}, which is not retried"),
                        false,
                    ));
                }
                Err(ureq::Error::Timeout(_)) => {
                    last = format!(
                        "the receiver did not answer within the {:?} timeout",
                        self.config.timeout
                    );
                    timed_out = true;
                }
                Err(e) if is_transient(&e) => {
                    last = e.to_string();
                    timed_out = false;
                }
                Err(e) => {
                    return Err(self.failure(attempt, format!("{e} (not retried)"), false));
                }
            }
            if attempt < max {
                tracing::debug!(
                    url = %self.config.redacted_url(),
                    attempt,
                    error = %last,
                    "alert webhook failed, retrying in {pause:?}"
                );
                std::thread::sleep(pause);
                pause = pause.saturating_mul(2).min(self.config.max_backoff);
            }
        }
        Err(self.failure(max, last, timed_out))
    }

    fn post_once(&self, body: &[u8]) -> std::result::Result<u16, ureq::Error> {
        let mut request = self
            .agent
            .post(self.config.url.as_str())
            .header("content-type", "application/json");
        for (name, value) in &self.config.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let response = request.send(body)?;
        Ok(response.status().as_u16())
    }

    fn failure(&self, attempts: u32, reason: String, timed_out: bool) -> MonitorError {
        MonitorError::WebhookDelivery {
            url: self.config.redacted_url(),
            attempts,
            reason,
            timed_out,
        }
    }

    /// The labels of one alert: the configured ones, then `alertname`, `kind`, `severity`.
    fn labels(&self, e: &Entry<'_>) -> BTreeMap<String, String> {
        let mut labels = self.config.labels.clone();
        labels.insert("alertname".into(), e.kind.alertname().into());
        labels.insert("kind".into(), e.kind.to_string());
        labels.insert("severity".into(), e.severity.to_string().to_lowercase());
        labels
    }

    fn slack(&self, entries: &[Entry<'_>], previous: Option<Episode>, blocks: bool) -> Value {
        // The notification is about the last entry (the firing one, or the resolved one).
        let Some(e) = entries.last() else {
            return json!({ "text": "" });
        };
        let name = e.kind.alertname();
        let (icon, state) = match (e.ends_at, e.severity) {
            (Some(_), _) => (":white_check_mark:", "RESOLVED".to_owned()),
            (None, Severity::Critical) => (":rotating_light:", e.severity.to_string()),
            (None, _) => (":warning:", e.severity.to_string()),
        };
        let was = match (e.ends_at, previous) {
            (Some(_), _) => format!(" (was {})", e.severity),
            (None, Some(p)) => format!(" (was {})", p.severity),
            (None, None) => String::new(),
        };
        let context: Vec<String> = self
            .config
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let context = if context.is_empty() {
            String::new()
        } else {
            format!(" [{}]", context.join(", "))
        };
        let text = format!(
            "{icon} [{state}] {name}{was}: {}{context}",
            slack_escape(e.message)
        );
        if !blocks {
            return json!({ "text": text });
        }
        let mut fields = vec![
            field("Value", &format_number(e.value)),
            field("Threshold", &format_number(e.threshold)),
            field("Severity", &e.severity.to_string()),
            field("Since", &rfc3339(e.starts_at)),
        ];
        if let Some(end) = e.ends_at {
            fields.push(field("Resolved at", &rfc3339(end)));
        }
        // Slack allows ten fields in a section.
        for (k, v) in self.config.labels.iter().take(10 - fields.len()) {
            fields.push(field(k, v));
        }
        json!({
            "text": text,
            "blocks": [
                {
                    "type": "header",
                    "text": {
                        "type": "plain_text",
                        "text": truncate(&format!("{state}: {name}{was}"), 150),
                    },
                },
                {
                    "type": "section",
                    "text": { "type": "mrkdwn", "text": truncate(&slack_escape(e.message), 3000) },
                    "fields": fields,
                },
                {
                    "type": "context",
                    "elements": [{
                        "type": "mrkdwn",
                        "text": format!("obesity-monitor · `{}`", e.kind),
                    }],
                },
            ],
        })
    }

    fn alertmanager(&self, entries: &[Entry<'_>]) -> Value {
        let mut alerts = Vec::with_capacity(entries.len());
        let mut all_labels = Vec::with_capacity(entries.len());
        let mut all_annotations = Vec::with_capacity(entries.len());
        for e in entries {
            let labels = self.labels(e);
            let annotations: BTreeMap<String, String> = [
                ("summary", e.message.to_owned()),
                (
                    "description",
                    format!(
                        "{}: value {} against threshold {}",
                        e.kind,
                        format_number(e.value),
                        format_number(e.threshold)
                    ),
                ),
                ("value", format_number(e.value)),
                ("threshold", format_number(e.threshold)),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
            alerts.push(json!({
                "status": if e.ends_at.is_some() { "resolved" } else { "firing" },
                "labels": labels,
                "annotations": annotations,
                "startsAt": rfc3339(e.starts_at),
                "endsAt": e.ends_at.map_or_else(|| ZERO_TIME.to_owned(), rfc3339),
                "generatorURL": self.config.external_url,
                "fingerprint": fingerprint(&labels),
            }));
            all_labels.push(labels);
            all_annotations.push(annotations);
        }
        let firing = entries.iter().any(|e| e.ends_at.is_none());
        let alertname = entries.first().map_or("", |e| e.kind.alertname());
        json!({
            "version": "4",
            "groupKey": format!("{{}}:{{alertname=\"{alertname}\"}}"),
            "truncatedAlerts": 0,
            "status": if firing { "firing" } else { "resolved" },
            "receiver": self.config.receiver,
            "groupLabels": { "alertname": alertname },
            "commonLabels": common(&all_labels),
            "commonAnnotations": common(&all_annotations),
            "externalURL": self.config.external_url,
            "alerts": alerts,
        })
    }
}

impl AlertHandler for WebhookAlertHandler {
    /// [`deliver`](WebhookAlertHandler::deliver)s the alert and logs a failure with
    /// `tracing::error!` (the alert is in the log whatever happens to the webhook).
    fn handle(&self, alert: &Alert) {
        match self.deliver(alert) {
            Ok(Delivery::Sent { attempts }) => tracing::debug!(
                kind = %alert.kind,
                resolved = alert.resolved,
                attempts,
                "alert webhook notified"
            ),
            Ok(_) => {}
            Err(e) => tracing::error!(
                kind = %alert.kind,
                resolved = alert.resolved,
                error = %e,
                "alert notification not delivered"
            ),
        }
    }
}

/// ureq errors a later attempt may not see: the network, the receiver restarting.
fn is_transient(e: &ureq::Error) -> bool {
    matches!(
        e,
        ureq::Error::Io(_)
            | ureq::Error::Timeout(_)
            | ureq::Error::ConnectionFailed
            | ureq::Error::HostNotFound
            | ureq::Error::Protocol(_)
    )
}

/// The key-value pairs every map has with the same value (Alertmanager's `common*`).
fn common(maps: &[BTreeMap<String, String>]) -> Map<String, Value> {
    let mut out = Map::new();
    if let Some((first, rest)) = maps.split_first() {
        for (k, v) in first {
            if rest.iter().all(|m| m.get(k) == Some(v)) {
                out.insert(k.clone(), Value::String(v.clone()));
            }
        }
    }
    out
}

/// Alertmanager-style fingerprint: 16 hex digits of a hash of the sorted label set.
fn fingerprint(labels: &BTreeMap<String, String>) -> String {
    let mut hash = Sha256::new();
    for (k, v) in labels {
        hash.update(k.as_bytes());
        hash.update([0xff]);
        hash.update(v.as_bytes());
        hash.update([0xff]);
    }
    hash.finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A number for a person: up to 4 decimals, no trailing zeros; `NaN`/`inf` as such.
fn format_number(v: f64) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    let s = format!("{v:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_owned()
    } else {
        s.to_owned()
    }
}

fn field(name: &str, value: &str) -> Value {
    json!({
        "type": "mrkdwn",
        "text": truncate(&format!("*{}*\n{}", slack_escape(name), slack_escape(value)), 2000),
    })
}

/// Slack's mrkdwn escapes: `&`, `<` and `>` are control characters there.
fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// At most `max` characters (Slack refuses longer block texts), cut with `…`.
fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_url_cuts_path_query_and_credentials() {
        assert_eq!(
            redact_url("https://hooks.slack.com/services/T0/B0/secret"),
            "https://hooks.slack.com/…"
        );
        assert_eq!(
            redact_url("http://user:pw@host:9093?token=x"),
            "http://***@host:9093/…"
        );
        assert_eq!(redact_url("http://host:9093"), "http://host:9093");
        assert_eq!(redact_url("no scheme"), "<not a URL>");
    }

    #[test]
    fn format_number_trims_zeros() {
        assert_eq!(format_number(0.05), "0.05");
        assert_eq!(format_number(500.0), "500");
        assert_eq!(format_number(0.06000001), "0.06");
        assert_eq!(format_number(-0.00001), "0");
        assert_eq!(format_number(f64::NAN), "NaN");
    }

    #[test]
    fn truncate_respects_char_boundaries() {
        assert_eq!(truncate("ééé", 2), "é…");
        assert_eq!(truncate("abc", 3), "abc");
    }

    #[test]
    fn common_keeps_shared_pairs_only() {
        let a: BTreeMap<String, String> =
            [("a".into(), "1".into()), ("b".into(), "2".into())].into();
        let b: BTreeMap<String, String> =
            [("a".into(), "1".into()), ("b".into(), "3".into())].into();
        let c = common(&[a, b]);
        assert_eq!(c.len(), 1);
        assert_eq!(c.get("a"), Some(&Value::String("1".into())));
    }

    #[test]
    fn worst_case_duration_adds_timeouts_and_capped_backoff() -> Result<()> {
        let c = WebhookConfig::builder("http://127.0.0.1:9/")
            .timeout(Duration::from_secs(1))
            .max_attempts(4)
            .backoff(Duration::from_secs(1), Duration::from_secs(2))
            .build()?;
        // 4 × 1 s of timeouts + pauses of 1, 2, 2 s.
        assert_eq!(c.worst_case_duration(), Duration::from_secs(9));
        Ok(())
    }
}
