//! AlertPolicy thresholds, severities, handlers and de-duplication.

use obesity_monitor::{
    Alert, AlertKind, AlertManager, AlertPolicy, CollectingAlertHandler, MonitorError,
    PerformanceSummary, Severity,
};

/// A summary with `n` labelled predictions at `accuracy` and nothing else wrong.
fn summary(accuracy: f64) -> PerformanceSummary {
    PerformanceSummary {
        n_requests: 1000,
        n_predictions: 1000,
        n_labelled: 100,
        accuracy: Some(accuracy),
        error_rate: Some(0.0),
        latency_p95_ms: Some(50.0),
        drift_score: Some(0.0),
        data_quality_score: Some(1.0),
        ..PerformanceSummary::default()
    }
}

fn policy() -> AlertPolicy {
    AlertPolicy::builder()
        .baseline_accuracy(0.90)
        .build()
        .unwrap_or_default()
}

fn kinds(alerts: &[Alert]) -> Vec<(AlertKind, Severity)> {
    alerts.iter().map(|a| (a.kind, a.severity)).collect()
}

#[test]
fn default_thresholds_are_the_seeds() {
    let p = policy();
    assert!(p.evaluate(&summary(0.90)).is_empty());
    // A drop of 0.019 is below the warning threshold (0.02).
    assert!(p.evaluate(&summary(0.881)).is_empty());
    assert_eq!(
        kinds(&p.evaluate(&summary(0.87))),
        vec![(AlertKind::AccuracyDrop, Severity::Warning)]
    );
    assert_eq!(
        kinds(&p.evaluate(&summary(0.84))),
        vec![(AlertKind::AccuracyDrop, Severity::Critical)]
    );
    let bad = PerformanceSummary {
        error_rate: Some(0.03),
        latency_p95_ms: Some(501.0),
        drift_score: Some(0.15),
        data_quality_score: Some(0.90),
        ..summary(0.90)
    };
    assert_eq!(
        kinds(&p.evaluate(&bad)),
        vec![
            (AlertKind::ErrorRate, Severity::Critical),
            (AlertKind::Latency, Severity::Critical),
            (AlertKind::Drift, Severity::Warning),
            (AlertKind::DataQuality, Severity::Warning),
        ]
    );
    // Strict comparisons: a value equal to its threshold does not fire.
    let at_limits = PerformanceSummary {
        error_rate: Some(0.02),
        latency_p95_ms: Some(500.0),
        drift_score: Some(0.1),
        data_quality_score: Some(0.95),
        ..summary(0.90)
    };
    assert!(p.evaluate(&at_limits).is_empty());
}

#[test]
fn accuracy_needs_a_baseline_and_enough_labels() {
    let no_baseline = AlertPolicy::default();
    assert!(no_baseline.evaluate(&summary(0.1)).is_empty());
    let few = PerformanceSummary {
        n_labelled: 29,
        ..summary(0.1)
    };
    assert!(policy().evaluate(&few).is_empty());
    let custom = AlertPolicy::builder()
        .baseline_accuracy(0.9)
        .min_labelled(5)
        .build()
        .unwrap_or_default();
    assert_eq!(custom.evaluate(&few).len(), 1);
    // No data at all: silence, not an alert.
    assert!(policy().evaluate(&PerformanceSummary::default()).is_empty());
}

#[test]
fn bad_policy_values_name_the_field() {
    let field = |r: Result<AlertPolicy, MonitorError>| match r {
        Err(MonitorError::InvalidConfig { field, .. }) => Some(field),
        _ => None,
    };
    assert_eq!(
        field(AlertPolicy::builder().baseline_accuracy(1.5).build()),
        Some("baseline_accuracy")
    );
    assert_eq!(
        field(AlertPolicy::builder().warning_accuracy_drop(0.1).build()),
        Some("warning_accuracy_drop")
    );
    assert_eq!(
        field(AlertPolicy::builder().critical_error_rate(-0.1).build()),
        Some("critical_error_rate")
    );
    assert_eq!(
        field(
            AlertPolicy::builder()
                .critical_latency_p95_ms(f64::NAN)
                .build()
        ),
        Some("critical_latency_p95_ms")
    );
    assert_eq!(
        field(
            AlertPolicy::builder()
                .drift_threshold(f64::INFINITY)
                .build()
        ),
        Some("drift_threshold")
    );
    assert!(AlertPolicy::builder().build().is_ok());
}

#[test]
fn a_persisting_condition_fires_once_then_again_after_it_clears() {
    let collected = CollectingAlertHandler::new();
    let mut m = AlertManager::new(policy());
    m.add_handler(collected.clone());
    let slow = PerformanceSummary {
        latency_p95_ms: Some(900.0),
        ..summary(0.90)
    };
    assert_eq!(m.process(&slow).len(), 1);
    assert!(m.process(&slow).is_empty());
    assert!(m.process(&slow).is_empty());
    assert_eq!(
        m.active().get(&AlertKind::Latency),
        Some(&Severity::Critical)
    );

    // Clears: one INFO resolved notice.
    let sent = m.process(&summary(0.90));
    assert_eq!(sent.len(), 1);
    assert!(sent[0].resolved && sent[0].severity == Severity::Info);
    assert!(m.active().is_empty());

    // Recurs: fires again.
    assert_eq!(m.process(&slow).len(), 1);
    let all = collected.alerts();
    assert_eq!(all.len(), 3);
    assert_eq!(
        all.iter()
            .filter(|a| a.severity == Severity::Critical)
            .count(),
        2
    );
}

#[test]
fn escalation_fires_and_missing_data_keeps_state() {
    let collected = CollectingAlertHandler::new();
    let mut m = AlertManager::new(policy());
    m.add_handler(collected.clone()).notify_resolved(false);
    assert_eq!(
        kinds(&m.process(&summary(0.87))),
        vec![(AlertKind::AccuracyDrop, Severity::Warning)]
    );
    assert_eq!(
        kinds(&m.process(&summary(0.80))),
        vec![(AlertKind::AccuracyDrop, Severity::Critical)]
    );
    // A window with no labels neither repeats nor resolves the accuracy alert.
    let unlabelled = PerformanceSummary {
        n_labelled: 0,
        accuracy: None,
        ..summary(0.0)
    };
    assert!(m.process(&unlabelled).is_empty());
    assert_eq!(
        m.active().get(&AlertKind::AccuracyDrop),
        Some(&Severity::Critical)
    );
    // Resolved notices are off: clearing is silent.
    assert!(m.process(&summary(0.9)).is_empty());
    assert!(m.active().is_empty());
    assert_eq!(collected.alerts().len(), 2);
}

#[test]
fn severities_read_like_the_seeds() -> Result<(), serde_json::Error> {
    assert!(Severity::Info < Severity::Warning && Severity::Warning < Severity::Critical);
    assert_eq!(Severity::Critical.to_string(), "CRITICAL");
    assert_eq!(serde_json::to_string(&Severity::Warning)?, "\"WARNING\"");
    let a = &policy().evaluate(&summary(0.8))[0];
    assert!(
        a.to_string().starts_with("[CRITICAL] accuracy_drop:"),
        "{a}"
    );
    Ok(())
}

/// The Prometheus rules shipped in `deploy/prometheus/alerts.yml` use the names the webhook
/// sends ([`AlertKind::alertname`]), the same `kind`/`severity` labels, and the
/// [`AlertPolicy`] defaults as thresholds: change one side and this fails.
#[test]
fn prometheus_rules_match_alert_names_and_policy_defaults() -> Result<(), Box<dyn std::error::Error>>
{
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../deploy/prometheus/alerts.yml"
    );
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text)?;
    // (alertname, kind label, severity label, expr) of every alerting rule.
    let mut rules = Vec::new();
    for group in doc["groups"].as_sequence().ok_or("no groups")? {
        for rule in group["rules"].as_sequence().ok_or("group without rules")? {
            if let Some(name) = rule["alert"].as_str() {
                let label = |k: &str| rule["labels"][k].as_str().unwrap_or("").to_owned();
                let expr = rule["expr"].as_str().unwrap_or("");
                let expr = expr.split_whitespace().collect::<Vec<_>>().join(" ");
                rules.push((name.to_owned(), label("kind"), label("severity"), expr));
            }
        }
    }
    let policy = serde_json::to_value(AlertPolicy::default())?;
    let num = |field: &str| policy[field].as_f64().ok_or(format!("no {field}"));
    let ms_to_s = num("critical_latency_p95_ms")? / 1000.0;
    let expected = [
        (
            AlertKind::ErrorRate,
            "critical",
            format!("> {}", num("critical_error_rate")?),
        ),
        (
            AlertKind::Latency,
            "critical",
            format!("p95_5m > {ms_to_s}"),
        ),
        (
            AlertKind::Drift,
            "warning",
            format!("> {}", num("drift_threshold")?),
        ),
        (
            AlertKind::AccuracyDrop,
            "critical",
            format!("> {}", num("critical_accuracy_drop")?),
        ),
        (
            AlertKind::AccuracyDrop,
            "warning",
            format!("> {}", num("warning_accuracy_drop")?),
        ),
        (
            AlertKind::DataQuality,
            "warning",
            format!("< {}", num("min_data_quality")?),
        ),
    ];
    for (kind, severity, threshold) in expected {
        let rule = rules
            .iter()
            .find(|(name, k, s, _)| {
                name == kind.alertname() && *k == kind.to_string() && s == severity
            })
            .ok_or(format!(
                "{path}: no rule `{}` with kind={kind}, severity={severity}",
                kind.alertname()
            ))?;
        assert!(
            rule.3.contains(&threshold),
            "{}: expected `{threshold}` in `{}`",
            kind.alertname(),
            rule.3
        );
    }
    let min_labelled = policy["min_labelled"].as_u64().ok_or("no min_labelled")?;
    assert!(
        rules
            .iter()
            .filter(|r| r.1 == "accuracy_drop")
            .all(|r| r.3.contains(&format!(">= {min_labelled}"))),
        "accuracy rules must need min_labelled ({min_labelled}) labels"
    );
    Ok(())
}
