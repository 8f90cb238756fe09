//! WebhookAlertHandler against a local receiver (a TcpListener on 127.0.0.1 in a thread that
//! records every request): body shapes, retries, give-up, timeout, de-duplication.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use obesity_monitor::{
    Alert, AlertKind, AlertManager, AlertPolicy, Delivery, MonitorError, PerformanceSummary,
    Severity, WebhookAlertHandler, WebhookConfig, WebhookConfigBuilder, WebhookFormat,
};
use serde_json::Value;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Recorded {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Value,
}

impl Recorded {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A local webhook receiver. It answers the scripted statuses in order (200 once they run
/// out), or never answers when silent. A request is recorded before it is answered, so once
/// the handler has its answer the recording is complete.
struct Receiver {
    url: String,
    requests: Arc<Mutex<Vec<Recorded>>>,
}

impl Receiver {
    fn start(statuses: &[u16]) -> std::io::Result<Self> {
        Self::spawn(Some(statuses.iter().copied().collect()))
    }

    /// Reads requests and never answers (keeps the connections open).
    fn silent() -> std::io::Result<Self> {
        Self::spawn(None)
    }

    fn spawn(statuses: Option<VecDeque<u16>>) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let url = format!(
            "http://{}/hooks/T000/B000/s3cr3t-token",
            listener.local_addr()?
        );
        let requests = Arc::new(Mutex::new(Vec::new()));
        let recorded = Arc::clone(&requests);
        std::thread::spawn(move || {
            let mut statuses = statuses;
            let mut held = Vec::new();
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let Some(request) = read_request(&mut stream) else {
                    continue;
                };
                recorded
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(request);
                match &mut statuses {
                    Some(script) => {
                        let status = script.pop_front().unwrap_or(200);
                        let _ = write!(
                            stream,
                            "HTTP/1.1 {status} Scripted\r\nContent-Length: 2\r\n\
                             Connection: close\r\n\r\nok"
                        );
                    }
                    None => held.push(stream),
                }
            }
        });
        Ok(Self { url, requests })
    }

    fn requests(&self) -> Vec<Recorded> {
        self.requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn bodies(&self) -> Vec<Value> {
        self.requests().into_iter().map(|r| r.body).collect()
    }

    fn config(&self) -> WebhookConfigBuilder {
        WebhookConfig::builder(self.url.clone())
            .backoff(Duration::from_millis(1), Duration::from_millis(4))
            .timeout(Duration::from_secs(30))
    }
}

fn read_request(stream: &mut TcpStream) -> Option<Recorded> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let path = parts.next()?.to_owned();
    let mut headers = Vec::new();
    let mut length = 0usize;
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        let (k, v) = (k.trim().to_owned(), v.trim().to_owned());
        if k.eq_ignore_ascii_case("content-length") {
            length = v.parse().ok()?;
        }
        headers.push((k, v));
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Recorded {
        method,
        path,
        headers,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    })
}

fn at(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 12, minute, 0)
        .single()
        .unwrap_or_default()
}

fn firing(kind: AlertKind, severity: Severity, minute: u32) -> Alert {
    Alert {
        kind,
        severity,
        message: format!("{kind} is bad"),
        value: 0.06,
        threshold: 0.05,
        at: at(minute),
        resolved: false,
    }
}

fn resolved(kind: AlertKind, minute: u32) -> Alert {
    Alert {
        kind,
        severity: Severity::Info,
        message: format!("{kind} resolved"),
        value: 0.01,
        threshold: 0.05,
        at: at(minute),
        resolved: true,
    }
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or("<missing>")
}

// --- body shapes ---

#[test]
fn slack_body_has_text_and_blocks() -> TestResult {
    let rx = Receiver::start(&[])?;
    let handler = WebhookAlertHandler::new(rx.config().label("service", "obesity-serve").build()?);
    let sent = handler.deliver(&firing(AlertKind::AccuracyDrop, Severity::Critical, 0))?;
    assert_eq!(sent, Delivery::Sent { attempts: 1 });

    let requests = rx.requests();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/hooks/T000/B000/s3cr3t-token");
    assert_eq!(r.header("content-type"), Some("application/json"));
    let text = str_at(&r.body, "/text");
    assert!(
        text.contains("[CRITICAL] ObesityAccuracyDrop: accuracy_drop is bad"),
        "{text}"
    );
    assert!(text.contains("service=obesity-serve"), "{text}");
    assert_eq!(str_at(&r.body, "/blocks/0/type"), "header");
    assert_eq!(str_at(&r.body, "/blocks/0/text/type"), "plain_text");
    assert_eq!(
        str_at(&r.body, "/blocks/0/text/text"),
        "CRITICAL: ObesityAccuracyDrop"
    );
    assert_eq!(str_at(&r.body, "/blocks/1/type"), "section");
    assert_eq!(str_at(&r.body, "/blocks/1/text/type"), "mrkdwn");
    let fields: Vec<&str> = r
        .body
        .pointer("/blocks/1/fields")
        .and_then(Value::as_array)
        .map(|f| f.iter().map(|x| str_at(x, "/text")).collect())
        .unwrap_or_default();
    assert!(fields.contains(&"*Value*\n0.06"), "{fields:?}");
    assert!(fields.contains(&"*Threshold*\n0.05"), "{fields:?}");
    assert!(fields.contains(&"*service*\nobesity-serve"), "{fields:?}");
    assert_eq!(str_at(&r.body, "/blocks/2/type"), "context");
    Ok(())
}

#[test]
fn slack_resolved_notice_names_the_severity_it_fired_with() -> TestResult {
    let rx = Receiver::start(&[])?;
    let handler = WebhookAlertHandler::new(rx.config().build()?);
    handler.deliver(&firing(AlertKind::Latency, Severity::Critical, 0))?;
    handler.deliver(&resolved(AlertKind::Latency, 10))?;
    let bodies = rx.bodies();
    assert_eq!(bodies.len(), 2);
    let text = str_at(&bodies[1], "/text");
    assert!(
        text.contains("[RESOLVED] ObesityHighLatency (was CRITICAL): latency resolved"),
        "{text}"
    );
    assert_eq!(
        str_at(&bodies[1], "/blocks/0/text/text"),
        "RESOLVED: ObesityHighLatency (was CRITICAL)"
    );
    Ok(())
}

#[test]
fn slack_text_format_has_no_blocks() -> TestResult {
    let rx = Receiver::start(&[])?;
    let handler = WebhookAlertHandler::new(rx.config().format(WebhookFormat::SlackText).build()?);
    handler.deliver(&firing(AlertKind::Drift, Severity::Warning, 0))?;
    let body = rx.bodies().into_iter().next().unwrap_or_default();
    let keys: Vec<&String> = body
        .as_object()
        .map(|o| o.keys().collect())
        .unwrap_or_default();
    assert_eq!(keys, ["text"]);
    assert!(str_at(&body, "/text").contains("[WARNING] ObesityDataDrift"));
    Ok(())
}

#[test]
fn slack_text_escapes_mrkdwn_control_characters() -> TestResult {
    let rx = Receiver::start(&[])?;
    let handler = WebhookAlertHandler::new(rx.config().build()?);
    let mut alert = firing(AlertKind::ErrorRate, Severity::Critical, 0);
    alert.message = "rate <2%> & rising".into();
    handler.deliver(&alert)?;
    let body = rx.bodies().into_iter().next().unwrap_or_default();
    assert!(str_at(&body, "/text").contains("rate &lt;2%&gt; &amp; rising"));
    assert_eq!(
        str_at(&body, "/blocks/1/text/text"),
        "rate &lt;2%&gt; &amp; rising"
    );
    Ok(())
}

#[test]
fn alertmanager_body_has_the_webhook_config_shape() -> TestResult {
    let rx = Receiver::start(&[])?;
    let handler = WebhookAlertHandler::new(
        rx.config()
            .format(WebhookFormat::Alertmanager)
            .label("service", "obesity-serve")
            .receiver("ml-team")
            .external_url("http://serve:8080/dashboard")
            .build()?,
    );
    handler.deliver(&firing(AlertKind::AccuracyDrop, Severity::Critical, 0))?;
    let body = rx.bodies().into_iter().next().unwrap_or_default();

    assert_eq!(str_at(&body, "/version"), "4");
    assert_eq!(str_at(&body, "/status"), "firing");
    assert_eq!(str_at(&body, "/receiver"), "ml-team");
    assert_eq!(
        str_at(&body, "/groupKey"),
        "{}:{alertname=\"ObesityAccuracyDrop\"}"
    );
    assert_eq!(body.pointer("/truncatedAlerts"), Some(&Value::from(0)));
    assert_eq!(
        str_at(&body, "/groupLabels/alertname"),
        "ObesityAccuracyDrop"
    );
    assert_eq!(str_at(&body, "/commonLabels/severity"), "critical");
    assert_eq!(
        str_at(&body, "/commonAnnotations/summary"),
        "accuracy_drop is bad"
    );
    assert_eq!(str_at(&body, "/externalURL"), "http://serve:8080/dashboard");

    let alerts = body.pointer("/alerts").and_then(Value::as_array);
    assert_eq!(alerts.map(Vec::len), Some(1));
    let a = body.pointer("/alerts/0").cloned().unwrap_or_default();
    assert_eq!(str_at(&a, "/status"), "firing");
    assert_eq!(str_at(&a, "/labels/alertname"), "ObesityAccuracyDrop");
    assert_eq!(str_at(&a, "/labels/severity"), "critical");
    assert_eq!(str_at(&a, "/labels/kind"), "accuracy_drop");
    assert_eq!(str_at(&a, "/labels/service"), "obesity-serve");
    assert_eq!(str_at(&a, "/annotations/summary"), "accuracy_drop is bad");
    assert_eq!(str_at(&a, "/annotations/value"), "0.06");
    assert_eq!(str_at(&a, "/annotations/threshold"), "0.05");
    assert_eq!(str_at(&a, "/startsAt"), "2025-03-01T12:00:00.000Z");
    assert_eq!(str_at(&a, "/endsAt"), "0001-01-01T00:00:00Z");
    assert_eq!(str_at(&a, "/generatorURL"), "http://serve:8080/dashboard");
    let fp = str_at(&a, "/fingerprint");
    assert!(
        fp.len() == 16 && fp.chars().all(|c| c.is_ascii_hexdigit()),
        "{fp}"
    );
    Ok(())
}

#[test]
fn alertmanager_resolved_keeps_fingerprint_and_start_time() -> TestResult {
    let rx = Receiver::start(&[])?;
    let handler =
        WebhookAlertHandler::new(rx.config().format(WebhookFormat::Alertmanager).build()?);
    handler.deliver(&firing(AlertKind::Drift, Severity::Warning, 0))?;
    handler.deliver(&resolved(AlertKind::Drift, 25))?;
    let bodies = rx.bodies();
    assert_eq!(bodies.len(), 2);
    let (fire, done) = (&bodies[0], &bodies[1]);
    assert_eq!(str_at(done, "/status"), "resolved");
    assert_eq!(str_at(done, "/alerts/0/status"), "resolved");
    // The same alert as far as Alertmanager is concerned: same labels, same fingerprint.
    assert_eq!(
        fire.pointer("/alerts/0/labels"),
        done.pointer("/alerts/0/labels")
    );
    assert_eq!(str_at(done, "/alerts/0/labels/severity"), "warning");
    assert_eq!(
        str_at(fire, "/alerts/0/fingerprint"),
        str_at(done, "/alerts/0/fingerprint")
    );
    assert_eq!(
        str_at(done, "/alerts/0/startsAt"),
        "2025-03-01T12:00:00.000Z"
    );
    assert_eq!(str_at(done, "/alerts/0/endsAt"), "2025-03-01T12:25:00.000Z");
    Ok(())
}

#[test]
fn alertmanager_severity_change_resolves_the_old_alert_and_fires_the_new() -> TestResult {
    let rx = Receiver::start(&[])?;
    let handler =
        WebhookAlertHandler::new(rx.config().format(WebhookFormat::Alertmanager).build()?);
    handler.deliver(&firing(AlertKind::AccuracyDrop, Severity::Warning, 0))?;
    let sent = handler.deliver(&firing(AlertKind::AccuracyDrop, Severity::Critical, 5))?;
    assert_eq!(sent, Delivery::Sent { attempts: 1 });
    let body = rx.bodies().pop().unwrap_or_default();
    assert_eq!(str_at(&body, "/status"), "firing");
    assert_eq!(str_at(&body, "/alerts/0/status"), "resolved");
    assert_eq!(str_at(&body, "/alerts/0/labels/severity"), "warning");
    assert_eq!(str_at(&body, "/alerts/1/status"), "firing");
    assert_eq!(str_at(&body, "/alerts/1/labels/severity"), "critical");
    // Only what both alerts share is common.
    assert_eq!(body.pointer("/commonLabels/severity"), None);
    assert_eq!(
        str_at(&body, "/commonLabels/alertname"),
        "ObesityAccuracyDrop"
    );
    assert_eq!(
        handler.firing().get(&AlertKind::AccuracyDrop),
        Some(&Severity::Critical)
    );
    Ok(())
}

// --- retries, give-up, timeout ---

#[test]
fn retries_on_500_then_succeeds() -> TestResult {
    let rx = Receiver::start(&[500, 503])?;
    let handler = WebhookAlertHandler::new(rx.config().max_attempts(3).build()?);
    let sent = handler.deliver(&firing(AlertKind::ErrorRate, Severity::Critical, 0))?;
    assert_eq!(sent, Delivery::Sent { attempts: 3 });
    let bodies = rx.bodies();
    assert_eq!(bodies.len(), 3);
    // Every attempt carries the same notification.
    assert!(bodies.iter().all(|b| b == &bodies[0]));
    assert_eq!(
        handler.firing().get(&AlertKind::ErrorRate),
        Some(&Severity::Critical)
    );
    Ok(())
}

#[test]
fn gives_up_after_max_attempts_with_an_error_that_says_so() -> TestResult {
    let rx = Receiver::start(&[500, 500, 500, 500, 500])?;
    let handler = WebhookAlertHandler::new(rx.config().max_attempts(3).build()?);
    let err = handler
        .deliver(&firing(AlertKind::ErrorRate, Severity::Critical, 0))
        .err()
        .ok_or("delivery to a failing receiver succeeded")?;
    let text = err.to_string();
    assert!(text.contains("gave up after 3 attempt"), "{text}");
    assert!(text.contains("HTTP 500"), "{text}");
    match err {
        MonitorError::WebhookDelivery {
            attempts,
            timed_out,
            ..
        } => {
            assert_eq!(attempts, 3);
            assert!(!timed_out);
        }
        other => return Err(format!("unexpected error {other:?}").into()),
    }
    assert_eq!(rx.requests().len(), 3, "exactly max_attempts POSTs");
    assert!(
        handler.firing().is_empty(),
        "an undelivered alert is not told"
    );
    Ok(())
}

#[test]
fn client_error_is_not_retried() -> TestResult {
    let rx = Receiver::start(&[400])?;
    let handler = WebhookAlertHandler::new(rx.config().max_attempts(5).build()?);
    let err = handler
        .deliver(&firing(AlertKind::Drift, Severity::Warning, 0))
        .err()
        .ok_or("a 400 counted as delivered")?;
    let text = err.to_string();
    assert!(text.contains("gave up after 1 attempt"), "{text}");
    assert!(text.contains("HTTP 400, which is not retried"), "{text}");
    assert_eq!(rx.requests().len(), 1);
    Ok(())
}

#[test]
fn too_many_requests_is_retried() -> TestResult {
    let rx = Receiver::start(&[429])?;
    let handler = WebhookAlertHandler::new(rx.config().max_attempts(2).build()?);
    let sent = handler.deliver(&firing(AlertKind::Drift, Severity::Warning, 0))?;
    assert_eq!(sent, Delivery::Sent { attempts: 2 });
    Ok(())
}

#[test]
fn times_out_on_a_silent_receiver() -> TestResult {
    let rx = Receiver::silent()?;
    let handler = WebhookAlertHandler::new(
        rx.config()
            .timeout(Duration::from_millis(200))
            .max_attempts(2)
            .build()?,
    );
    let err = handler
        .deliver(&firing(AlertKind::Latency, Severity::Critical, 0))
        .err()
        .ok_or("a receiver that never answers accepted the alert")?;
    let text = err.to_string();
    assert!(text.contains("gave up after 2 attempt"), "{text}");
    assert!(
        text.contains("did not answer within the 200ms timeout"),
        "{text}"
    );
    assert!(matches!(
        err,
        MonitorError::WebhookDelivery {
            timed_out: true,
            attempts: 2,
            ..
        }
    ));
    assert!(handler.firing().is_empty());
    Ok(())
}

#[test]
fn unreachable_receiver_is_retried_then_reported() -> TestResult {
    // A port nobody listens on: bind, note it, close.
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let config = WebhookConfig::builder(format!("http://127.0.0.1:{port}/hook"))
        .backoff(Duration::from_millis(1), Duration::from_millis(1))
        .max_attempts(2)
        .build()?;
    let err = WebhookAlertHandler::new(config)
        .deliver(&firing(AlertKind::Drift, Severity::Warning, 0))
        .err()
        .ok_or("delivery to a closed port succeeded")?;
    assert!(
        matches!(err, MonitorError::WebhookDelivery { attempts: 2, .. }),
        "{err:?}"
    );
    Ok(())
}

#[test]
fn error_and_debug_do_not_leak_the_webhook_secret() -> TestResult {
    let rx = Receiver::start(&[500])?;
    let handler = WebhookAlertHandler::new(
        rx.config()
            .max_attempts(1)
            .header("Authorization", "Bearer top-secret-bearer")
            .build()?,
    );
    let err = handler
        .deliver(&firing(AlertKind::Drift, Severity::Warning, 0))
        .err()
        .ok_or("a 500 counted as delivered")?;
    for shown in [err.to_string(), format!("{err:?}"), format!("{handler:?}")] {
        assert!(!shown.contains("s3cr3t-token"), "{shown}");
        assert!(!shown.contains("top-secret-bearer"), "{shown}");
    }
    assert!(err.to_string().contains("http://127.0.0.1:"));
    // The header itself went out.
    let requests = rx.requests();
    assert_eq!(
        requests[0].header("authorization"),
        Some("Bearer top-secret-bearer")
    );
    Ok(())
}

// --- de-duplication ---

fn bad_summary() -> PerformanceSummary {
    PerformanceSummary {
        n_requests: 1000,
        n_predictions: 1000,
        n_labelled: 100,
        accuracy: Some(0.80),
        error_rate: Some(0.0),
        latency_p95_ms: Some(50.0),
        window_end: at(0),
        ..PerformanceSummary::default()
    }
}

fn good_summary() -> PerformanceSummary {
    PerformanceSummary {
        accuracy: Some(0.90),
        window_end: at(30),
        ..bad_summary()
    }
}

#[test]
fn persisting_condition_posts_once_and_its_resolution_posts_once() -> TestResult {
    let rx = Receiver::start(&[])?;
    let handler =
        WebhookAlertHandler::new(rx.config().format(WebhookFormat::Alertmanager).build()?);
    let mut manager = AlertManager::new(AlertPolicy::builder().baseline_accuracy(0.90).build()?);
    manager.add_handler(handler);

    for _ in 0..5 {
        manager.process(&bad_summary());
    }
    let bodies = rx.bodies();
    assert_eq!(bodies.len(), 1, "5 checks of one condition, 1 POST");
    assert_eq!(str_at(&bodies[0], "/status"), "firing");
    assert_eq!(
        str_at(&bodies[0], "/alerts/0/labels/alertname"),
        "ObesityAccuracyDrop"
    );

    for _ in 0..3 {
        manager.process(&good_summary());
    }
    let bodies = rx.bodies();
    assert_eq!(
        bodies.len(),
        2,
        "the condition cleared: 1 resolved POST, then quiet"
    );
    assert_eq!(str_at(&bodies[1], "/status"), "resolved");
    assert_eq!(str_at(&bodies[1], "/alerts/0/labels/severity"), "critical");
    Ok(())
}

#[test]
fn handler_deduplicates_raw_policy_output_on_its_own() -> TestResult {
    use obesity_monitor::AlertHandler;

    let rx = Receiver::start(&[])?;
    let handler = WebhookAlertHandler::new(rx.config().build()?);
    let policy = AlertPolicy::builder().baseline_accuracy(0.90).build()?;
    for _ in 0..5 {
        for alert in policy.evaluate(&bad_summary()) {
            handler.handle(&alert);
        }
    }
    assert_eq!(rx.requests().len(), 1);
    assert_eq!(
        handler.deliver(&firing(AlertKind::AccuracyDrop, Severity::Critical, 9))?,
        Delivery::AlreadyFiring
    );

    assert_eq!(
        handler.deliver(&resolved(AlertKind::AccuracyDrop, 30))?,
        Delivery::Sent { attempts: 1 }
    );
    assert_eq!(
        handler.deliver(&resolved(AlertKind::AccuracyDrop, 31))?,
        Delivery::NotFiring
    );
    assert_eq!(rx.requests().len(), 2);
    assert!(handler.firing().is_empty());

    // A new episode after the resolution notifies again.
    handler.deliver(&firing(AlertKind::AccuracyDrop, Severity::Critical, 40))?;
    assert_eq!(rx.requests().len(), 3);
    Ok(())
}

#[test]
fn failed_delivery_is_not_counted_as_told() -> TestResult {
    let rx = Receiver::start(&[500])?;
    let handler = WebhookAlertHandler::new(rx.config().max_attempts(1).build()?);
    let alert = firing(AlertKind::Drift, Severity::Warning, 0);
    assert!(handler.deliver(&alert).is_err());
    // The receiver never accepted it, so the same alert is sent again, not suppressed.
    assert_eq!(handler.deliver(&alert)?, Delivery::Sent { attempts: 1 });
    assert_eq!(handler.deliver(&alert)?, Delivery::AlreadyFiring);
    assert_eq!(rx.requests().len(), 2);
    Ok(())
}

#[test]
fn failed_resolution_keeps_the_alert_firing() -> TestResult {
    let rx = Receiver::start(&[200, 500])?;
    let handler = WebhookAlertHandler::new(rx.config().max_attempts(1).build()?);
    handler.deliver(&firing(AlertKind::Drift, Severity::Warning, 0))?;
    assert!(handler.deliver(&resolved(AlertKind::Drift, 5)).is_err());
    assert_eq!(
        handler.firing().get(&AlertKind::Drift),
        Some(&Severity::Warning)
    );
    assert_eq!(
        handler.deliver(&resolved(AlertKind::Drift, 6))?,
        Delivery::Sent { attempts: 1 }
    );
    assert!(handler.firing().is_empty());
    Ok(())
}

// --- configuration ---

#[test]
fn config_refuses_bad_values_naming_the_field() {
    let ok = || WebhookConfig::builder("http://127.0.0.1:9/hook");
    let cases: Vec<(&str, Result<WebhookConfig, MonitorError>)> = vec![
        ("url", WebhookConfig::builder("ftp://host/x").build()),
        ("url", WebhookConfig::builder("not a url").build()),
        ("url", WebhookConfig::builder("http:///nohost").build()),
        ("timeout", ok().timeout(Duration::ZERO).build()),
        ("max_attempts", ok().max_attempts(0).build()),
        ("max_attempts", ok().max_attempts(11).build()),
        (
            "backoff",
            ok().backoff(Duration::from_secs(2), Duration::from_secs(1))
                .build(),
        ),
        ("label", ok().label("severity", "x").build()),
        ("label", ok().label("1bad", "x").build()),
        ("label", ok().label("__meta", "x").build()),
        ("header", ok().header("Content-Type", "text/plain").build()),
        ("header", ok().header("X-Token", "a\r\nb").build()),
        ("header", ok().header("bad header", "x").build()),
    ];
    for (field, result) in cases {
        match result {
            Err(MonitorError::InvalidConfig { field: f, .. }) => assert_eq!(f, field),
            other => panic!("expected InvalidConfig for `{field}`, got {other:?}"),
        }
    }
    assert!(ok().build().is_ok());
    assert!(
        WebhookConfig::builder("https://hooks.example.com/x")
            .build()
            .is_ok()
    );
}

#[test]
fn webhook_format_deserializes_from_config_names() -> TestResult {
    let f: Vec<WebhookFormat> = serde_json::from_str(r#"["slack", "slack_text", "alertmanager"]"#)?;
    assert_eq!(
        f,
        [
            WebhookFormat::Slack,
            WebhookFormat::SlackText,
            WebhookFormat::Alertmanager
        ]
    );
    Ok(())
}

#[test]
fn shared_handler_keeps_deduplicating_across_managers() -> TestResult {
    // The service starts a new AlertManager when the primary version changes; with one
    // shared handler the condition that persists across the switch is not sent twice.
    let rx = Receiver::start(&[])?;
    let handler = std::sync::Arc::new(WebhookAlertHandler::new(rx.config().build()?));
    let policy = AlertPolicy::builder().baseline_accuracy(0.90).build()?;
    let mut before = AlertManager::new(policy.clone());
    before.add_handler(std::sync::Arc::clone(&handler));
    before.process(&bad_summary());
    let mut after = AlertManager::new(policy);
    after.add_handler(std::sync::Arc::clone(&handler));
    after.process(&bad_summary());
    assert_eq!(rx.requests().len(), 1);
    after.process(&good_summary());
    assert_eq!(rx.requests().len(), 2);
    assert!(handler.firing().is_empty());
    Ok(())
}
