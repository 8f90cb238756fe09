//! The production loop inside the service: the metrics the alert rules read, alerts going
//! out to a webhook (firing, de-duplicated, resolved, receiver down), and the dashboard.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use obesity_serve::{AlertWebhooks, AppState, ServeConfig, WebhookFormat, router};
use serde_json::{Value, json};

use crate::support::*;

/// The sum of the samples of `name` whose labels contain every one of `labels`.
fn sample(text: &str, name: &str, labels: &[&str]) -> Option<f64> {
    let mut found = None;
    for line in text.lines() {
        let Some(rest) = line.strip_prefix(name) else {
            continue;
        };
        if !(rest.starts_with('{') || rest.starts_with(' ')) {
            continue;
        }
        if labels.iter().all(|l| rest.contains(l))
            && let Some(v) = line.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok())
        {
            *found.get_or_insert(0.0) += v;
        }
    }
    found
}

async fn metrics_text(app: &Router) -> String {
    match call(app, get("/metrics")).await {
        (s, Value::String(text)) if s == 200 => text,
        other => panic!("/metrics: {other:?}"),
    }
}

/// Polls `/monitoring/status` until `done` holds (at most 200 polls 50 ms apart: a bound
/// against hanging, not a speed check).
async fn status_until(app: &Router, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let mut status = Value::Null;
    for _ in 0..200 {
        let (s, body) = call(app, get("/monitoring/status")).await;
        assert_eq!(s, 200, "{body}");
        if done(&body) {
            return body;
        }
        status = body;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("gave up waiting for {what}: {status}");
}

fn fast_checks(fx: &Fixture) -> ServeConfig {
    ServeConfig {
        check_interval: Duration::from_millis(50),
        monitor_flush_interval: Duration::from_millis(20),
        // Drift needs more rows than these tests send unless a test asks for it.
        drift_min_rows: 10_000,
        ..fx.config()
    }
}

/// Sends `n` valid predictions; returns the answers.
async fn predict_n(app: &Router, n: usize, seed_offset: usize) -> Vec<Value> {
    let mut out = Vec::with_capacity(n);
    for r in rows(n + seed_offset).iter().skip(seed_offset) {
        let (s, a) = call(
            app,
            post_json("/predict", &json!({"features": row_json(r)})),
        )
        .await;
        assert_eq!(s, 200, "{a}");
        out.push(a);
    }
    out
}

/// One request refused by validation (a 422 the monitor counts as a failed request).
async fn refused(app: &Router) {
    let mut row = row_map(&rows(1)[0]);
    row.insert("Age".into(), json!(230));
    let (s, e) = call(app, post_json("/predict", &json!({"features": row}))).await;
    assert_eq!(s, 422, "{e}");
}

#[tokio::test]
async fn metrics_export_feedback_labels_baseline_alerts_and_a_half_second_bucket() {
    let fx = Fixture::new();
    let state = AppState::load(fast_checks(&fx)).await.expect("load");
    let app = router(state.clone());
    let answers = predict_n(&app, 3, 0).await;
    refused(&app).await; // 1 failed of 4: error rate 0.25 > 0.02
    // One label right, one wrong, by request id.
    let classes: Vec<String> = {
        let (_, info) = call(&app, get("/model/info")).await;
        serde_json::from_value(info["classes"].clone()).expect("classes")
    };
    let predicted = answers[0]["prediction"].as_str().expect("prediction");
    let wrong = classes
        .iter()
        .find(|c| *c != predicted)
        .expect("another class");
    for (answer, label, correct) in [
        (&answers[0], predicted.to_owned(), true),
        (
            &answers[1],
            wrong.clone(),
            answers[1]["prediction"] == wrong.as_str(),
        ),
    ] {
        let (s, out) = call(
            &app,
            post_json(
                "/feedback",
                &json!({"request_id": answer["request_id"], "label": label}),
            ),
        )
        .await;
        assert_eq!(s, 200, "{out}");
        // The answer now knows, by request id, whether the prediction was right.
        assert_eq!(out["correct"], correct, "{out}");
    }
    status_until(&app, "the error-rate alert", |s| {
        s["alerts"]
            .as_array()
            .is_some_and(|a| a.iter().any(|a| a["kind"] == "error_rate"))
    })
    .await;
    let text = metrics_text(&app).await;
    let right = sample(
        &text,
        "obesity_feedback_labels_total",
        &[r#"version="1""#, r#"correct="true""#],
    );
    let wrong_n = sample(
        &text,
        "obesity_feedback_labels_total",
        &[r#"version="1""#, r#"correct="false""#],
    );
    assert_eq!(
        right.unwrap_or(0.0) + wrong_n.unwrap_or(0.0),
        2.0,
        "two labels joined:\n{text}"
    );
    assert!(right.unwrap_or(0.0) >= 1.0, "{text}");
    assert_eq!(
        sample(
            &text,
            "obesity_model_baseline_accuracy",
            &[r#"version="1""#]
        ),
        Some(0.9),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "obesity_alerts_active",
            &[r#"kind="error_rate""#, r#"severity="critical""#]
        ),
        Some(1.0),
        "{text}"
    );
    assert!(
        text.contains("# TYPE obesity_feedback_labels_total counter"),
        "typed under the sample name:\n{text}"
    );
    // The alert rules' 500 ms threshold is a bucket bound.
    assert!(
        text.lines().any(
            |l| l.starts_with("obesity_http_request_duration_seconds_bucket{")
                && l.contains(r#"le="0.5""#)
        ),
        "{text}"
    );
    // A label for an unknown request is a 404 naming the field, and counts nothing.
    let (s, e) = call(
        &app,
        post_json(
            "/feedback",
            &json!({"request_id": "nope", "label": predicted}),
        ),
    )
    .await;
    assert_eq!(s, 404);
    assert_eq!(error_of(&e).1.as_deref(), Some("request_id"));
    let text = metrics_text(&app).await;
    let total = sample(&text, "obesity_feedback_labels_total", &[]).unwrap_or(0.0);
    assert_eq!(total, 2.0, "{text}");
    state.shutdown().await;
}

/// A webhook receiver on 127.0.0.1:0 that records every body it is sent.
async fn receiver() -> (String, Arc<Mutex<Vec<Value>>>) {
    let got: Arc<Mutex<Vec<Value>>> = Arc::default();
    let app = Router::new()
        .route(
            "/hook",
            axum::routing::post(
                |State(got): State<Arc<Mutex<Vec<Value>>>>, body: axum::body::Bytes| async move {
                    let v = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    got.lock().expect("lock").push(v);
                    "ok"
                },
            ),
        )
        .with_state(got.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}/hook"), got)
}

/// Alertmanager alerts received so far for `alertname`: (status) in order.
fn received(got: &Arc<Mutex<Vec<Value>>>, alertname: &str) -> Vec<String> {
    got.lock()
        .expect("lock")
        .iter()
        .flat_map(|body| body["alerts"].as_array().cloned().unwrap_or_default())
        .filter(|a| a["labels"]["alertname"] == alertname)
        .map(|a| a["status"].as_str().unwrap_or("").to_owned())
        .collect()
}

/// Waits for `done`, at most 400 polls 25 ms apart (a bound against hanging, not a speed
/// check).
async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..400 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(done(), "gave up waiting for {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_reach_a_webhook_once_while_they_persist_and_again_when_they_resolve() {
    let fx = Fixture::new();
    let (url, got) = receiver().await;
    let config = ServeConfig {
        alert_webhooks: AlertWebhooks {
            urls: vec![url],
            format: WebhookFormat::Alertmanager,
            timeout: Duration::from_secs(2),
            max_attempts: 2,
            backoff: Duration::from_millis(50),
        },
        ..fast_checks(&fx)
    };
    let state = AppState::load(config).await.expect("load");
    let app = router(state.clone());
    predict_n(&app, 3, 0).await;
    refused(&app).await;
    wait_for("a firing error-rate notification", || {
        received(&got, "ObesityHighErrorRate") == ["firing"]
    })
    .await;
    let body = got.lock().expect("lock")[0].clone();
    assert_eq!(
        body["version"], "4",
        "Alertmanager's webhook payload: {body}"
    );
    let alert = body["alerts"][0].clone();
    assert_eq!(alert["labels"]["model"], MODEL, "{body}");
    // The condition persists over many checks: nothing more is sent.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(received(&got, "ObesityHighErrorRate"), ["firing"]);
    // 60 good requests bring the error rate to 1/64 < 0.02: resolved, once.
    predict_n(&app, 60, 3).await;
    wait_for("the resolution", || {
        received(&got, "ObesityHighErrorRate") == ["firing", "resolved"]
    })
    .await;
    let status = status_until(&app, "the alert to close", |s| {
        s["alerts"].as_array().is_some_and(|a| a.is_empty())
            && s["webhooks"][0]["sent"].as_u64().unwrap_or(0) >= 2
    })
    .await;
    let recent = status["recent_alerts"].as_array().expect("recent alerts");
    assert!(
        recent
            .iter()
            .any(|a| a["kind"] == "error_rate" && a["resolved"] == true),
        "{status}"
    );
    assert!(
        recent
            .iter()
            .any(|a| a["kind"] == "error_rate" && a["resolved"] == false),
        "{status}"
    );
    let hook = &status["webhooks"][0];
    assert_eq!(hook["failed"], 0, "{status}");
    assert_eq!(hook["format"], "alertmanager");
    assert_eq!(hook["firing"], json!([]), "{status}");
    assert!(
        !hook["url"].as_str().unwrap_or("").contains("/hook"),
        "the URL path is redacted: {hook}"
    );
    let text = metrics_text(&app).await;
    assert_eq!(
        sample(
            &text,
            "obesity_alerts_active",
            &[r#"kind="error_rate""#, r#"severity="critical""#]
        ),
        Some(0.0),
        "{text}"
    );
    assert!(
        sample(
            &text,
            "obesity_alert_notifications_total",
            &[r#"outcome="sent""#]
        )
        .unwrap_or(0.0)
            >= 2.0,
        "{text}"
    );
    state.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_hangs_or_is_down_is_retried_while_requests_are_answered() {
    let fx = Fixture::new();
    // Accepts connections and never answers.
    let hung = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let hung_addr = hung.local_addr().expect("addr");
    // Bound then closed: connections are refused.
    let closed_addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr")
    };
    let config = ServeConfig {
        alert_webhooks: AlertWebhooks {
            urls: vec![
                format!("http://{hung_addr}/hook"),
                format!("http://{closed_addr}/hook"),
            ],
            format: WebhookFormat::Slack,
            timeout: Duration::from_millis(1500),
            max_attempts: 2,
            backoff: Duration::from_millis(50),
        },
        ..fast_checks(&fx)
    };
    let state = AppState::load(config).await.expect("load");
    let app = router(state.clone());
    predict_n(&app, 3, 0).await;
    refused(&app).await;
    status_until(&app, "the alert", |s| {
        s["alerts"].as_array().is_some_and(|a| !a.is_empty())
    })
    .await;
    // The notifier is now stuck on the hung receiver for up to 2 × 1.5 s: requests and
    // feedback are still answered (alerts go through a bounded queue to the notifier's own
    // thread; what that costs in latency is measured by scripts/loadtest.sh, not here).
    let body = json!({"features": row_json(&rows(1)[0])});
    for _ in 0..5 {
        let (s, a) = call(&app, post_json("/predict", &body)).await;
        assert_eq!(s, 200);
        let (s, _) = call(
            &app,
            post_json(
                "/feedback",
                &json!({"request_id": a["request_id"], "label": a["prediction"]}),
            ),
        )
        .await;
        assert_eq!(s, 200);
    }
    let status = status_until(&app, "both deliveries to fail", |s| {
        s["webhooks"]
            .as_array()
            .is_some_and(|w| w.len() == 2 && w.iter().all(|h| h["failed"].as_u64() >= Some(1)))
    })
    .await;
    let hooks = status["webhooks"].as_array().expect("webhooks");
    for h in hooks {
        assert_eq!(h["sent"], 0, "{h}");
        assert!(h["attempts"].as_u64() >= Some(2), "retried: {h}");
        assert!(h["last_error"].is_string(), "{h}");
        // Nothing was delivered, so nothing counts as firing at the receiver.
        assert_eq!(h["firing"], json!([]), "{h}");
    }
    assert!(
        hooks[0]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("timeout") || e.contains("timed out")),
        "{}",
        hooks[0]
    );
    let text = metrics_text(&app).await;
    assert!(
        sample(
            &text,
            "obesity_alert_notifications_total",
            &[r#"outcome="failed""#]
        )
        .unwrap_or(0.0)
            >= 2.0,
        "{text}"
    );
    drop(hung);
    state.shutdown().await;
}

#[tokio::test]
async fn bad_webhook_settings_refuse_to_start_naming_the_field() {
    let fx = Fixture::new();
    let config = ServeConfig {
        alert_webhooks: AlertWebhooks {
            urls: vec!["not a url".into()],
            ..AlertWebhooks::default()
        },
        ..fx.config()
    };
    let e = AppState::load(config).await.expect_err("a bad URL");
    assert!(e.to_string().contains("alert_webhooks.urls"), "{e}");
}

/// The value of attribute `name` on the element whose `id` is `id`.
fn attr(html: &str, id: &str, name: &str) -> String {
    let at = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no element #{id}"));
    let tag_end = at + html[at..].find('>').expect("tag end");
    let tag = &html[at..tag_end];
    let key = format!(" {name}=\"");
    let start = tag
        .find(&key)
        .unwrap_or_else(|| panic!("#{id} has no {name}: {tag}"))
        + key.len();
    tag[start..start + tag[start..].find('"').expect("quote")].to_owned()
}

fn numbers(list: &str) -> Vec<f64> {
    list.split(',')
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().expect("number"))
        .collect()
}

async fn page(app: &Router, path: &str) -> (u16, String, axum::http::HeaderMap) {
    use tower::ServiceExt;
    let response = app.clone().oneshot(get(path)).await.expect("infallible");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 16 << 20)
        .await
        .expect("body");
    (
        status,
        String::from_utf8(bytes.to_vec()).expect("utf-8"),
        headers,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_draws_what_the_monitor_knows() {
    let fx = Fixture::new();
    let v2 = fx.register(2);
    let config = ServeConfig {
        drift_min_rows: 5,
        drift_window: 200,
        ..fast_checks(&fx)
    };
    let state = AppState::load(config).await.expect("load");
    let app = router(state.clone());
    let (s, e) = call(
        &app,
        post_json(
            "/experiments",
            &json!({"name": "rf-v2", "treatment_version": v2.to_string()}),
        ),
    )
    .await;
    assert_eq!(s, 201, "{e}");
    let mut answers = Vec::new();
    for (i, r) in rows(30).iter().enumerate() {
        let body = json!({"features": row_json(r), "user_id": format!("u{i}")});
        let (s, a) = call(&app, post_json("/predict", &body)).await;
        assert_eq!(s, 200, "{a}");
        answers.push(a);
    }
    refused(&app).await;
    // Two labels: the first right, the second labelled with its own prediction too.
    for a in &answers[..2] {
        let (s, out) = call(
            &app,
            post_json(
                "/feedback",
                &json!({"request_id": a["request_id"], "label": a["prediction"]}),
            ),
        )
        .await;
        assert_eq!(s, 200, "{out}");
    }
    let status = status_until(&app, "a drift report", |s| s["drift"]["report"].is_object()).await;

    let (s, html, headers) = page(&app, "/dashboard").await;
    assert_eq!(s, 200, "{html}");
    assert!(
        headers[axum::http::header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(
        headers[axum::http::header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .contains("default-src 'none'")
    );
    assert!(
        html.contains(r#"<meta http-equiv="refresh" content="15">"#),
        "{html}"
    );
    // Nothing from elsewhere: no script, no link, no src, no absolute URL.
    for banned in [
        "<script", "<link", " src=", "http://", "https://", "@import",
    ] {
        assert!(!html.contains(banned), "{banned} in the page");
    }
    // Traffic: 30 served + 1 refused, of which 1 error.
    let requests: f64 = numbers(&attr(&html, "chart-traffic", "data-requests"))
        .iter()
        .sum();
    let errors: f64 = numbers(&attr(&html, "chart-traffic", "data-errors"))
        .iter()
        .sum();
    assert_eq!((requests, errors), (31.0, 1.0));
    assert!(!attr(&html, "chart-latency", "data-p95-ms").is_empty());
    // Class mix: the shares of the served predictions, by the model's classes.
    let shares = numbers(&attr(&html, "chart-class-mix", "data-served-share"));
    assert_eq!(shares.len(), 7);
    assert!(
        (shares.iter().sum::<f64>() - 1.0).abs() < 1e-3,
        "{shares:?}"
    );
    // Accuracy: 2 labels, both right; the baseline is the registered accuracy.
    assert_eq!(attr(&html, "chart-accuracy", "data-labelled"), "2");
    assert_eq!(attr(&html, "chart-accuracy", "data-correct"), "2");
    assert_eq!(attr(&html, "chart-accuracy", "data-baseline"), "0.9000");
    // Drift: one row per feature, with the verdicts /monitoring/status gives.
    let columns = status["drift"]["report"]["columns"]
        .as_array()
        .expect("columns");
    assert_eq!(
        attr(&html, "chart-drift", "data-points"),
        columns.len().to_string()
    );
    for c in columns {
        let name = c["column"].as_str().expect("column");
        let needle = format!("data-feature=\"{name}\"");
        let at = html.find(&needle).unwrap_or_else(|| panic!("no {name}"));
        let tag = &html[at..at + html[at..].find('>').expect("tag end")];
        assert!(
            tag.contains(&format!("data-drifted=\"{}\"", c["drifted"])),
            "{name}: {tag} vs {c}"
        );
    }
    // The A/B experiment, its arms and a recommendation.
    assert!(html.contains("id=\"chart-ab-rf-v2\""), "{html}");
    assert!(!attr(&html, "chart-ab-rf-v2", "data-recommendation").is_empty());
    // Lineage: both loaded versions with their roles.
    assert!(
        html.contains("data-version=\"1\" data-role=\"primary"),
        "{html}"
    );
    assert!(html.contains(&format!("data-version=\"{v2}\"")), "{html}");
    // The error-rate alert raised by the refused request.
    status_until(&app, "the alert", |s| {
        s["alerts"].as_array().is_some_and(|a| !a.is_empty())
    })
    .await;
    let (_, html, _) = page(&app, "/dashboard?refresh=0").await;
    assert!(html.contains("class=\"open-alert\""), "{html}");
    assert!(!html.contains("http-equiv=\"refresh\""));

    for bad in [
        "/dashboard?refresh=-1",
        "/dashboard?refresh=soon",
        "/dashboard?refresh=99999",
    ] {
        let (s, e) = call(&app, get(bad)).await;
        assert_eq!(s, 422, "{bad}: {e}");
        assert_eq!(error_of(&e).1.as_deref(), Some("refresh"), "{bad}");
    }
    state.shutdown().await;
}

#[tokio::test]
async fn an_empty_dashboard_says_what_is_missing() {
    let fx = Fixture::new();
    let state = fx.state().await;
    let app = router(state.clone());
    let (s, html, _) = page(&app, "/dashboard").await;
    assert_eq!(s, 200);
    assert!(html.contains("no traffic yet"), "{html}");
    assert!(html.contains("no labels yet"), "{html}");
    assert_eq!(attr(&html, "chart-traffic", "data-points"), "0");
    state.shutdown().await;
}

/// Sends `n` predictions from distinct users and labels each so that only the arm named
/// `winner` was right; returns how many outcomes each arm got (control, treatment).
async fn play(app: &Router, n: usize, winner: &str) -> (usize, usize) {
    let (_, info) = call(app, get("/model/info")).await;
    let classes: Vec<String> = serde_json::from_value(info["classes"].clone()).expect("classes");
    let mut arms = (0, 0);
    for (i, r) in rows(n).iter().enumerate() {
        let body = json!({"features": row_json(r), "user_id": format!("user-{i}")});
        let (s, a) = call(app, post_json("/predict", &body)).await;
        assert_eq!(s, 200, "{a}");
        let predicted = a["prediction"].as_str().expect("prediction");
        let variant = a["variant"].as_str().expect("variant");
        let label = if variant == winner {
            predicted.to_owned()
        } else {
            classes
                .iter()
                .find(|c| *c != predicted)
                .expect("class")
                .clone()
        };
        match variant {
            "control" => arms.0 += 1,
            "treatment" => arms.1 += 1,
            _ => {}
        }
        let (s, out) = call(
            app,
            post_json(
                "/feedback",
                &json!({"request_id": a["request_id"], "label": label}),
            ),
        )
        .await;
        assert_eq!(s, 200, "{out}");
    }
    arms
}

fn policy_config(fx: &Fixture, auto_promote: bool) -> ServeConfig {
    ServeConfig {
        ab: obesity_serve::AbPolicy {
            auto_start: true,
            auto_promote,
            min_samples_per_variant: 15,
            ..obesity_serve::AbPolicy::default()
        },
        ..fx.config()
    }
}

#[tokio::test]
async fn a_new_challenger_starts_an_experiment_and_a_clear_winner_is_promoted() {
    let fx = Fixture::new();
    // No challenger yet: the policy does nothing.
    let state = AppState::load(policy_config(&fx, true))
        .await
        .expect("load");
    assert_eq!(state.apply_ab_policy().await.expect("policy"), vec![]);
    let v2 = fx.register(2);
    fx.alias("challenger", v2);
    let actions = state.apply_ab_policy().await.expect("policy");
    let name = format!("auto-v{v2}-vs-v1");
    assert_eq!(
        actions,
        vec![obesity_serve::PolicyAction::Started {
            experiment: name.clone(),
            control: 1,
            treatment: v2
        }]
    );
    assert!(
        state.loaded_versions().contains(&v2),
        "the challenger is loaded"
    );
    // Once: a second pass starts nothing.
    assert_eq!(state.apply_ab_policy().await.expect("policy"), vec![]);
    let app = router(state.clone());
    let (control, treatment) = play(&app, 80, "treatment").await;
    assert!(control >= 15 && treatment >= 15, "{control} / {treatment}");
    let actions = state.apply_ab_policy().await.expect("policy");
    assert_eq!(
        actions,
        vec![obesity_serve::PolicyAction::Promoted {
            experiment: name.clone(),
            alias: "champion".into(),
            from: 1,
            to: v2
        }]
    );
    // The registry moved, this replica serves the winner, the experiment is over.
    let champion = fx
        .registry()
        .resolve_str(&format!("models:/{MODEL}@champion"))
        .expect("champion");
    assert_eq!(champion.version, v2);
    assert_eq!(state.primary_version(), v2);
    let (_, a) = call(
        &app,
        post_json("/predict", &json!({"features": row_json(&rows(1)[0])})),
    )
    .await;
    assert_eq!(a["model_version"], v2.to_string());
    let (_, status) = call(&app, get(&format!("/experiments/{name}/status"))).await;
    assert_eq!(status["status"], "stopped", "{status}");
    let (_, list) = call(&app, get("/experiments")).await;
    let log = list["policy_log"].as_array().expect("policy log");
    assert_eq!(log.len(), 2, "{list}");
    assert_eq!(log[0]["action"], "promoted");
    let (_, html, _) = page(&app, "/dashboard").await;
    assert!(
        html.contains("class=\"policy\""),
        "the dashboard shows the promotion"
    );
    state.shutdown().await;
}

#[tokio::test]
async fn without_auto_promote_or_with_a_losing_challenger_the_champion_stays() {
    for (auto_promote, winner) in [(false, "treatment"), (true, "control")] {
        let fx = Fixture::new();
        let v2 = fx.register(2);
        fx.alias("challenger", v2);
        let state = AppState::load(policy_config(&fx, auto_promote))
            .await
            .expect("load");
        let started = state.apply_ab_policy().await.expect("policy");
        assert_eq!(started.len(), 1, "{started:?}");
        let app = router(state.clone());
        play(&app, 80, winner).await;
        assert_eq!(
            state.apply_ab_policy().await.expect("policy"),
            vec![],
            "auto_promote {auto_promote}, {winner} better"
        );
        let champion = fx
            .registry()
            .resolve_str(&format!("models:/{MODEL}@champion"))
            .expect("champion");
        assert_eq!((champion.version, state.primary_version()), (1, 1));
        state.shutdown().await;
    }
}

#[tokio::test]
async fn auto_promote_needs_an_alias_to_move() {
    let fx = Fixture::new();
    let config = ServeConfig {
        model: format!("models:/{MODEL}/1"),
        ..policy_config(&fx, true)
    };
    let e = AppState::load(config).await.expect_err("a pinned version");
    assert!(e.to_string().contains("ab.auto_promote"), "{e}");
    let config = ServeConfig {
        ab: obesity_serve::AbPolicy {
            traffic_split: 1.0,
            ..obesity_serve::AbPolicy::default()
        },
        ..fx.config()
    };
    let e = AppState::load(config).await.expect_err("a split of 1");
    assert!(e.to_string().contains("ab.traffic_split"), "{e}");
}

/// A CSV of `n` data rows in `dir` (the trigger counts the rows of new watched files).
fn land_data(dir: &std::path::Path, file: &str, n: usize) {
    let mut text = String::from("Gender,Age,Height,Weight\n");
    for i in 0..n {
        text.push_str(&format!("Male,{},1.8,{}\n", 20 + i % 40, 60 + i % 50));
    }
    std::fs::write(dir.join(file), text).expect("write data");
}

fn trigger_config(watched: &std::path::Path) -> obesity_monitor::RetrainingTriggerConfig {
    obesity_monitor::RetrainingTriggerConfig {
        min_new_samples: 50,
        max_days_without_retraining: 365,
        min_hours_between_retrains: 6,
        data_directories: vec![watched.to_path_buf()],
        ..obesity_monitor::RetrainingTriggerConfig::default()
    }
}

#[tokio::test]
async fn the_retrain_trigger_runs_in_the_service_on_an_injected_clock() {
    use obesity_monitor::{HandlerError, ManualClock, RetrainRequest, RetrainResult};
    let fx = Fixture::new();
    let v2 = fx.register(2);
    let watched = tempfile::tempdir().expect("tempdir");
    let state = AppState::load(ServeConfig {
        ab: obesity_serve::AbPolicy {
            auto_start: true,
            ..obesity_serve::AbPolicy::default()
        },
        ..fx.config()
    })
    .await
    .expect("load");
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let calls: Arc<Mutex<Vec<RetrainRequest>>> = Arc::default();
    let registry = fx.registry();
    let seen = calls.clone();
    // Stands in for the training stages: "trains" by pointing the challenger alias at a
    // version registered beforehand.
    let retrainer = move |request: &RetrainRequest| -> Result<RetrainResult, HandlerError> {
        seen.lock().expect("lock").push(request.clone());
        registry.set_alias(MODEL, "challenger", v2)?;
        Ok(RetrainResult {
            new_version: v2.to_string(),
            metrics: [("accuracy".to_owned(), 0.93)].into(),
        })
    };
    state
        .attach_retrainer(trigger_config(watched.path()), retrainer, clock.clone())
        .expect("attach");
    // Nothing new: no retrain.
    let report = state
        .check_retrain()
        .await
        .expect("check")
        .expect("attached");
    assert!(!report.decision.retrain, "{report:?}");
    // New labelled data lands in the watched folder: the trigger retrains once.
    land_data(watched.path(), "batch-1.csv", 60);
    let report = state
        .check_retrain()
        .await
        .expect("check")
        .expect("attached");
    assert!(report.decision.retrain, "{report:?}");
    assert_eq!(
        report.result.as_ref().map(|r| r.new_version.clone()),
        Some(v2.to_string())
    );
    assert_eq!(calls.lock().expect("lock").len(), 1);
    // It never replaces the champion by itself.
    assert_eq!(state.primary_version(), 1);
    // More data at once: vetoed, too soon after the last retrain (by the injected clock).
    land_data(watched.path(), "batch-2.csv", 60);
    let report = state
        .check_retrain()
        .await
        .expect("check")
        .expect("attached");
    assert!(
        !report.decision.retrain && !report.decision.vetoes.is_empty(),
        "{report:?}"
    );
    assert_eq!(calls.lock().expect("lock").len(), 1);
    // Seven hours later by the clock, the guard has passed.
    clock.advance(chrono::Duration::hours(7));
    let report = state
        .check_retrain()
        .await
        .expect("check")
        .expect("attached");
    assert!(report.decision.retrain, "{report:?}");
    assert_eq!(calls.lock().expect("lock").len(), 2);
    // The challenger the retrain registered starts an A/B test under the policy.
    let actions = state.apply_ab_policy().await.expect("policy");
    assert!(
        matches!(&actions[..], [obesity_serve::PolicyAction::Started { treatment, .. }] if *treatment == v2),
        "{actions:?}"
    );
    // The audit trail in /monitoring/status and on the dashboard.
    let app = router(state.clone());
    let (_, status) = call(&app, get("/monitoring/status")).await;
    let outcomes: Vec<&str> = status["retrain"]
        .as_array()
        .expect("retrain history")
        .iter()
        .filter_map(|r| r["outcome"]["outcome"].as_str())
        .collect();
    assert!(outcomes.contains(&"succeeded"), "{status}");
    assert!(outcomes.contains(&"vetoed"), "{status}");
    let (_, html, _) = page(&app, "/dashboard").await;
    assert!(html.contains("data-outcome=\"succeeded\""), "{html}");
    // Attaching twice is refused.
    let again = state.attach_retrainer(
        trigger_config(watched.path()),
        |_: &RetrainRequest| -> Result<RetrainResult, HandlerError> { Err("unused".into()) },
        clock,
    );
    assert!(again.is_err());
    state.shutdown().await;
}

#[tokio::test]
async fn a_failing_retrain_is_audited_and_serving_goes_on() {
    use obesity_monitor::{HandlerError, ManualClock, RetrainRequest, RetrainResult};
    let fx = Fixture::new();
    let watched = tempfile::tempdir().expect("tempdir");
    let state = fx.state().await;
    let failing = |_: &RetrainRequest| -> Result<RetrainResult, HandlerError> {
        Err("the training data does not validate".into())
    };
    state
        .attach_retrainer(
            trigger_config(watched.path()),
            failing,
            Arc::new(ManualClock::new(chrono::Utc::now())),
        )
        .expect("attach");
    land_data(watched.path(), "batch.csv", 60);
    let e = state
        .check_retrain()
        .await
        .expect_err("the retrainer failed");
    assert!(e.to_string().contains("does not validate"), "{e}");
    let app = router(state.clone());
    let (s, _) = call(
        &app,
        post_json("/predict", &json!({"features": row_json(&rows(1)[0])})),
    )
    .await;
    assert_eq!(s, 200);
    let (_, status) = call(&app, get("/monitoring/status")).await;
    assert_eq!(
        status["retrain"][0]["outcome"]["outcome"], "failed",
        "{status}"
    );
    assert_eq!(
        status["retrain"][0]["outcome"]["error"], "the training data does not validate",
        "{status}"
    );
    state.shutdown().await;
}
