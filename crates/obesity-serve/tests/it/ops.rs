//! Health, model info, metrics, OpenAPI, docs, feedback, monitoring status, experiments and
//! the admin token.

use axum::body::Body;
use axum::http::{Request, header};
use obesity_serve::{AppState, ServeConfig, router};
use serde_json::{Value, json};

use crate::support::*;

#[tokio::test]
async fn health_counts_requests_and_errors() {
    let fx = Fixture::new();
    let state = fx.state().await;
    let app = router(state.clone());
    let body = json!({"features": row_json(&rows(1)[0])});
    for _ in 0..3 {
        assert_eq!(call(&app, post_json("/predict", &body)).await.0, 200);
    }
    assert_eq!(call(&app, post("/predict", "{")).await.0, 400);
    let (s, h) = call(&app, get("/health")).await;
    assert_eq!(s, 200);
    assert_eq!(h["status"], "healthy");
    assert_eq!(h["model_name"], MODEL);
    assert_eq!(h["model_version"], "1");
    assert_eq!(h["loaded_versions"], json!(["1"]));
    assert_eq!(h["total_requests"], 4, "{h}"); // this /health is counted once answered
    assert_eq!(h["error_count"], 1);
    assert_eq!(h["total_predictions"], 3);
    assert!(h["uptime_seconds"].as_f64().unwrap() >= 0.0);
    state.shutdown().await;
}

#[tokio::test]
async fn model_info_describes_inputs_classes_params_metrics_lineage() {
    let fx = Fixture::new();
    let state = fx.state().await;
    let app = router(state.clone());
    let (s, info) = call(&app, get("/model/info")).await;
    assert_eq!(s, 200);
    assert_eq!(info["name"], MODEL);
    assert_eq!(info["version"], "1");
    assert_eq!(info["aliases"], json!(["champion"]));
    let inputs = info["inputs"].as_array().unwrap();
    assert_eq!(inputs.len(), 16);
    let age = inputs.iter().find(|f| f["name"] == "Age").unwrap();
    assert_eq!(
        (
            age["type"].as_str(),
            age["min"].as_f64(),
            age["max"].as_f64()
        ),
        (Some("number"), Some(10.0), Some(100.0))
    );
    let mtrans = inputs.iter().find(|f| f["name"] == "MTRANS").unwrap();
    assert_eq!(mtrans["categories"].as_array().unwrap().len(), 5);
    assert_eq!(info["classes"].as_array().unwrap().len(), 7);
    assert_eq!(info["params"]["seed"], "1");
    assert_eq!(info["metrics"]["accuracy"], 0.9);
    assert!(info["lineage"]["run_id"].is_string(), "{info}");
    assert_eq!(info["reference_profile"], true);
    state.shutdown().await;
}

/// A sample's value from Prometheus text: the line starting with `prefix` (name and labels).
fn sample(text: &str, name: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name) && labels.iter().all(|x| l.contains(x)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status_and_predictions_by_class() {
    let fx = Fixture::new();
    let state = fx.state().await;
    let app = router(state.clone());
    let records = rows(5);
    let mut classes = Vec::new();
    for r in &records {
        let (_, a) = call(
            &app,
            post_json("/predict", &json!({"features": row_json(r)})),
        )
        .await;
        classes.push(a["prediction"].as_str().unwrap().to_owned());
    }
    call(&app, post("/predict", "{")).await;
    let (s, text) = call(&app, get("/metrics")).await;
    assert_eq!(s, 200);
    let text = text.as_str().unwrap();
    assert_eq!(
        sample(
            text,
            "obesity_http_requests_total{",
            &["route=\"/predict\"", "status=\"200\""]
        ),
        5.0
    );
    assert_eq!(
        sample(
            text,
            "obesity_http_requests_total{",
            &["route=\"/predict\"", "status=\"400\""]
        ),
        1.0
    );
    assert_eq!(
        sample(
            text,
            "obesity_http_request_duration_seconds_count{",
            &["route=\"/predict\"", "status=\"200\""]
        ),
        5.0
    );
    assert!(text.contains("le=\"+Inf\""));
    for c in &classes {
        let want = classes.iter().filter(|x| *x == c).count() as f64;
        assert_eq!(
            sample(
                text,
                "obesity_predictions_total{",
                &[&format!("class=\"{c}\""), "version=\"1\""]
            ),
            want,
            "{c}"
        );
    }
    assert_eq!(
        sample(
            text,
            "obesity_model_info{",
            &["version=\"1\"", "role=\"primary\""]
        ),
        1.0
    );
    // Content types: Prometheus text by default, OpenMetrics when asked.
    let response = tower::ServiceExt::oneshot(app.clone(), get("/metrics"))
        .await
        .unwrap();
    assert!(
        response.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    state.shutdown().await;
}

#[tokio::test]
async fn openapi_and_docs_are_served() {
    let fx = Fixture::new();
    let state = fx.state().await;
    let app = router(state.clone());
    let (s, doc) = call(&app, get("/openapi.json")).await;
    assert_eq!(s, 200);
    assert_eq!(doc["openapi"], "3.1.0");
    for p in [
        "/predict",
        "/predict/batch",
        "/invocations",
        "/health",
        "/metrics",
        "/v2/models/{name}/infer",
        "/feedback",
        "/monitoring/status",
        "/experiments/{name}/status",
    ] {
        assert!(doc["paths"][p].is_object(), "no {p}");
    }
    let age = &doc["components"]["schemas"]["Features"]["properties"]["Age"];
    assert_eq!(
        (age["minimum"].as_f64(), age["maximum"].as_f64()),
        (Some(10.0), Some(100.0))
    );
    let (s, html) = call(&app, get("/docs")).await;
    assert_eq!(s, 200);
    let html = html.as_str().unwrap();
    assert!(
        html.contains("/openapi.json") && !html.contains("https://"),
        "the page must not load anything from outside"
    );
    state.shutdown().await;
}

#[tokio::test]
async fn feedback_joins_labels_and_the_monitor_reports_accuracy() {
    let fx = Fixture::new();
    let state = fx.state().await;
    let app = router(state.clone());
    let records = rows(10);
    let mut ids = Vec::new();
    for (i, r) in records.iter().enumerate() {
        let (_, a) = call(
            &app,
            post_json(
                "/predict",
                &json!({"features": row_json(r), "user_id": format!("u{i}")}),
            ),
        )
        .await;
        ids.push((
            a["request_id"].as_str().unwrap().to_owned(),
            a["prediction"].as_str().unwrap().to_owned(),
            a["prediction_index"].as_u64().unwrap(),
        ));
    }
    // Half right (the predicted class), half wrong.
    for (i, (id, class, index)) in ids.iter().enumerate() {
        let body = if i < 5 {
            json!({"request_id": id, "label": class})
        } else {
            json!({"user_id": format!("u{i}"), "label": (index + 1) % 7})
        };
        let (s, b) = call(&app, post_json("/feedback", &body)).await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["request_id"], id.as_str());
    }
    let (s, b) = call(
        &app,
        post_json("/feedback", &json!({"request_id": "nope", "label": 1})),
    )
    .await;
    assert_eq!(
        (s.as_u16(), error_of(&b)),
        (404, ("unknown_request".into(), Some("request_id".into())))
    );
    let (s, b) = call(
        &app,
        post_json(
            "/feedback",
            &json!({"request_id": ids[0].0, "label": "Giant"}),
        ),
    )
    .await;
    assert_eq!(
        (s.as_u16(), error_of(&b).1.as_deref()),
        (422, Some("label"))
    );
    let (s, b) = call(&app, post_json("/feedback", &json!({"label": 1}))).await;
    assert_eq!(
        (s.as_u16(), error_of(&b).1.as_deref()),
        (400, Some("request_id"))
    );

    call(&app, post("/predict", "{\"features\": {}}")).await; // one refused request
    let (s, m) = call(&app, get("/monitoring/status?hours=2")).await;
    assert_eq!(s, 200, "{m}");
    let summary = &m["summary"];
    assert_eq!(summary["n_predictions"], 10, "{m}");
    assert_eq!(summary["n_labelled"], 10);
    assert_eq!(summary["accuracy"], 0.5);
    assert_eq!(summary["n_errors"], 1);
    assert!(summary["latency_p95_ms"].as_f64().is_some());
    assert_eq!(m["by_version"]["1"]["n_predictions"], 10);
    assert_eq!(m["window_hours"], 2);
    assert_eq!(m["drift"]["status"], "pending"); // fewer rows than the drift minimum
    let (s, b) = call(&app, get("/monitoring/status?hours=0")).await;
    assert_eq!(
        (s.as_u16(), error_of(&b).1.as_deref()),
        (422, Some("hours"))
    );
    let (s, b) = call(&app, get("/monitoring/status?hours=abc")).await;
    assert_eq!(
        (s.as_u16(), error_of(&b).1.as_deref()),
        (422, Some("hours"))
    );
    state.shutdown().await;
}

#[tokio::test]
async fn predictions_are_written_to_the_prediction_log() {
    let fx = Fixture::new();
    let state = fx.state().await;
    let app = router(state.clone());
    let (_, a) = call(
        &app,
        post_json("/predict", &json!({"features": row_json(&rows(1)[0])})),
    )
    .await;
    state.shutdown().await;
    let log = fx
        .dir
        .path()
        .join("mlruns/monitoring")
        .join(MODEL)
        .join("events.jsonl");
    let text = std::fs::read_to_string(&log).expect("prediction log");
    let id = a["request_id"].as_str().unwrap().to_owned();
    assert!(logged_ids(&text).contains(&id), "{text}");
}

#[tokio::test]
async fn a_full_monitor_queue_drops_and_counts_without_failing_requests() {
    let fx = Fixture::new();
    let state = AppState::load(ServeConfig {
        monitor_queue: 1,
        ..fx.config()
    })
    .await
    .unwrap();
    let app = router(state.clone());
    let body = json!({"batch_features": rows(1000).iter().map(row_json).collect::<Vec<_>>()});
    let (s, _) = call(&app, post_json("/predict/batch", &body)).await;
    assert_eq!(s, 200);
    // 1,000 rows offered in a tight loop to a queue of one: the thread takes some, the rest
    // are dropped (and counted), and the request still succeeds.
    assert!(state.monitor_dropped() > 0);
    let (_, h) = call(&app, get("/health")).await;
    assert_eq!(h["monitor_dropped"], state.monitor_dropped());
    state.shutdown().await;
}

#[tokio::test]
async fn ab_experiment_routes_users_deterministically_and_analyses_outcomes() {
    let fx = Fixture::new();
    let v2 = fx.register(2);
    let state = fx.state().await;
    let app = router(state.clone());
    let new = json!({"name": "v2-vs-v1", "treatment_version": v2, "min_samples_per_variant": 2});
    let (s, b) = call(&app, post_json("/experiments", &new)).await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["status"], "running");
    assert_eq!(b["loaded_versions"], json!([1, 2]));
    assert_eq!(call(&app, post_json("/experiments", &new)).await.0, 409);

    let record = row_json(&rows(1)[0]);
    let mut seen = std::collections::BTreeMap::new();
    for i in 0..40 {
        let body = json!({"features": record, "user_id": format!("user-{i}")});
        let (_, a) = call(&app, post_json("/predict", &body)).await;
        let variant = a["variant"].as_str().unwrap().to_owned();
        let version = a["model_version"].as_str().unwrap().to_owned();
        assert_eq!(
            version,
            if variant == "treatment" { "2" } else { "1" },
            "{a}"
        );
        // The same user gets the same arm, with or without naming the experiment.
        let again = json!({"features": record, "user_id": format!("user-{i}"), "experiment_name": "v2-vs-v1"});
        let (_, b) = call(&app, post_json("/predict", &again)).await;
        assert_eq!(b["variant"], a["variant"]);
        seen.insert(
            i,
            (
                variant,
                a["request_id"].as_str().unwrap().to_owned(),
                a["prediction"].clone(),
            ),
        );
    }
    assert!(seen.values().any(|v| v.0 == "treatment") && seen.values().any(|v| v.0 == "control"));
    // Without a user id: the control arm, not enrolled.
    let (_, a) = call(&app, post_json("/predict", &json!({"features": record}))).await;
    assert_eq!(a["variant"], "control");

    // Labels become outcomes of the users' arms.
    for (_, id, prediction) in seen.values() {
        let (s, b) = call(
            &app,
            post_json("/feedback", &json!({"request_id": id, "label": prediction})),
        )
        .await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["experiment"], "v2-vs-v1");
        assert_eq!(b["correct"], true);
    }
    let (s, st) = call(&app, get("/experiments/v2-vs-v1/status")).await;
    assert_eq!(s, 200);
    let a = &st["analysis"];
    let samples =
        a["control"]["samples"].as_u64().unwrap() + a["treatment"]["samples"].as_u64().unwrap();
    assert_eq!(samples, 40, "{st}");
    assert_eq!(a["control"]["model_version"], "1");
    assert_eq!(a["treatment"]["model_version"], "2");

    let (s, b) = call(&app, post_json("/experiments/v2-vs-v1/stop", &Value::Null)).await;
    assert_eq!((s.as_u16(), b["status"].as_str()), (200, Some("stopped")));
    let (_, a) = call(
        &app,
        post_json(
            "/predict",
            &json!({"features": record, "user_id": "user-0"}),
        ),
    )
    .await;
    assert_eq!(a["variant"], "champion"); // no running experiment routes by default
    assert_eq!(state.loaded_versions(), [1]); // the stopped experiment no longer pins v2
    state.shutdown().await;
}

#[tokio::test]
async fn mutating_endpoints_need_the_admin_token() {
    let fx = Fixture::new();
    let state = AppState::load(ServeConfig {
        admin_token: Some("s3cret".into()),
        protect_feedback: true,
        ..fx.config()
    })
    .await
    .unwrap();
    let app = router(state.clone());
    let with = |path: &str, token: Option<&str>| {
        let mut r = Request::post(path).header(header::CONTENT_TYPE, "application/json");
        if let Some(t) = token {
            r = r.header(header::AUTHORIZATION, t);
        }
        r.body(Body::from("{}")).unwrap()
    };
    for path in [
        "/admin/reload",
        "/experiments",
        "/experiments/x/stop",
        "/feedback",
    ] {
        for token in [
            None,
            Some("Bearer wrong"),
            Some("s3cret"),
            Some("Basic s3cret"),
            Some("Bearer s3cret2"),
        ] {
            let (s, b) = call(&app, with(path, token)).await;
            assert_eq!(s, 401, "{path} {token:?}: {b}");
            assert_eq!(error_of(&b).0, "unauthorized");
        }
    }
    let (s, b) = call(&app, with("/admin/reload", Some("Bearer s3cret"))).await;
    assert_eq!(s, 200, "{b}");
    let (s, _) = call(&app, with("/admin/reload", Some("bearer  s3cret "))).await;
    assert_eq!(s, 200);
    // Reading is open.
    assert_eq!(call(&app, get("/health")).await.0, 200);
    state.shutdown().await;
}

#[tokio::test]
async fn an_experiment_on_a_version_that_cannot_load_is_not_created() {
    let fx = Fixture::new();
    let broken = fx.register_broken();
    let state = fx.state().await;
    let app = router(state.clone());
    let new = json!({"name": "bad", "treatment_version": broken});
    let (s, b) = call(&app, post_json("/experiments", &new)).await;
    assert_eq!(s, 422, "{b}");
    assert_eq!(
        error_of(&b),
        (
            "unservable_version".into(),
            Some("treatment_version".into())
        )
    );
    let (_, list) = call(&app, get("/experiments")).await;
    assert_eq!(list["experiments"], json!([]));
    let (s, b) = call(
        &app,
        post_json(
            "/experiments",
            &json!({"name": "x", "treatment_version": 42}),
        ),
    )
    .await;
    assert_eq!(
        (s.as_u16(), error_of(&b)),
        (
            404,
            ("unknown_version".into(), Some("treatment_version".into()))
        )
    );
    // Requests are still served by the champion.
    let (_, a) = call(
        &app,
        post_json("/predict", &json!({"features": row_json(&rows(1)[0])})),
    )
    .await;
    assert_eq!(a["variant"], "champion");
    state.shutdown().await;
}

/// A label for a request whose prediction the monitor has evicted (its memory is bounded)
/// is `410 expired_request`, not "unknown": the id was real, the server just no longer
/// keeps it. A recent id still joins, and a never-seen id stays 404.
#[tokio::test]
async fn feedback_for_an_evicted_request_is_gone_not_unknown() {
    let fx = Fixture::new();
    let config = ServeConfig {
        monitor_limits: obesity_monitor::MonitorLimits::default().with_max_retained_requests(4),
        ..fx.config()
    };
    let state = AppState::load(config).await.expect("load state");
    let app = router(state.clone());
    let mut ids = Vec::new();
    for r in rows(12) {
        let (s, a) = call(
            &app,
            post_json("/predict", &json!({"features": row_json(&r)})),
        )
        .await;
        assert_eq!(s, 200, "{a}");
        ids.push(a["request_id"].as_str().expect("request_id").to_owned());
        // A round trip through the monitor thread, so that each prediction is logged as its
        // own batch (the thread groups whatever is queued, and evicts whole batches).
        assert_eq!(call(&app, get("/monitoring/status?hours=1")).await.0, 200);
    }
    let (s, b) = call(
        &app,
        post_json("/feedback", &json!({"request_id": ids[0], "label": 0})),
    )
    .await;
    assert_eq!(
        (s.as_u16(), error_of(&b)),
        (410, ("expired_request".into(), Some("request_id".into()))),
        "{b}"
    );
    let (s, b) = call(
        &app,
        post_json("/feedback", &json!({"request_id": ids[11], "label": 0})),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = call(
        &app,
        post_json(
            "/feedback",
            &json!({"request_id": "never-issued", "label": 0}),
        ),
    )
    .await;
    assert_eq!(
        (s.as_u16(), error_of(&b).0.as_str()),
        (404, "unknown_request"),
        "{b}"
    );
    state.shutdown().await;
}
