//! `/predict` and `/predict/batch`: answers equal the library's for the same rows.

use obesity_serve::router;
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn predict_equals_the_library_for_every_row() {
    let fx = Fixture::new();
    let state = fx.state().await;
    let app = router(state.clone());
    let records = rows(60);
    let (want, classes) = fx.library_proba(1, &records);
    for (i, r) in records.iter().enumerate() {
        let (status, answer) = call(
            &app,
            post_json("/predict", &json!({"features": row_json(r)})),
        )
        .await;
        assert_eq!(status, 200, "{answer}");
        let got = answer_proba(&answer, &classes);
        let expected: Vec<f32> = want.row(i).to_vec();
        // The row kernel and the batch kernel add the trees in the same order: bit-identical.
        assert_eq!(got, expected, "row {i}");
        let best = (0..classes.len()).fold(0, |b, k| if expected[k] > expected[b] { k } else { b });
        assert_eq!(answer["prediction"], classes[best].as_str());
        assert_eq!(answer["prediction_index"], best);
        assert_eq!(
            answer["confidence"].as_f64().unwrap() as f32,
            expected[best]
        );
    }
    state.shutdown().await;
}

#[tokio::test]
async fn predict_answers_with_every_field_the_issue_names() {
    let fx = Fixture::new();
    let state = fx.state().await;
    let app = router(state.clone());
    let body = json!({"features": row_json(&rows(1)[0]), "user_id": 17, "experiment_name": null});
    let (status, a) = call(&app, post_json("/predict", &body)).await;
    assert_eq!(status, 200, "{a}");
    for key in [
        "prediction",
        "probabilities",
        "confidence",
        "model_version",
        "variant",
        "request_id",
        "latency_ms",
        "timestamp",
        "model_name",
    ] {
        assert!(!a[key].is_null(), "missing {key} in {a}");
    }
    assert_eq!(a["model_version"], "1");
    assert_eq!(a["model_name"], MODEL);
    assert_eq!(a["variant"], "champion");
    assert_eq!(a["probabilities"].as_object().unwrap().len(), 7);
    let sum: f64 = a["probabilities"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_f64().unwrap())
        .sum();
    assert!((sum - 1.0).abs() < 1e-4, "{sum}");
    // Request ids are unique.
    let (_, b) = call(&app, post_json("/predict", &body)).await;
    assert_ne!(a["request_id"], b["request_id"]);
    state.shutdown().await;
}

#[tokio::test]
async fn batch_equals_the_library_and_gives_each_row_an_id() {
    let fx = Fixture::new();
    let state = fx.state().await;
    let app = router(state.clone());
    let records = rows(100);
    let (want, classes) = fx.library_proba(1, &records);
    let body = json!({"batch_features": records.iter().map(row_json).collect::<Vec<_>>()});
    let (status, answer) = call(&app, post_json("/predict/batch", &body)).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["batch_size"], 100);
    let predictions = answer["predictions"].as_array().unwrap();
    let mut ids = std::collections::BTreeSet::new();
    for (i, p) in predictions.iter().enumerate() {
        assert_eq!(answer_proba(p, &classes), want.row(i).to_vec(), "row {i}");
        assert!(ids.insert(p["request_id"].as_str().unwrap().to_owned()));
        assert_eq!(p["model_version"], "1");
    }
    state.shutdown().await;
}

#[tokio::test]
async fn single_and_batch_agree() {
    let fx = Fixture::new();
    let state = fx.state().await;
    let app = router(state.clone());
    let records = rows(20);
    let body = json!({"batch_features": records.iter().map(row_json).collect::<Vec<_>>(),
                      "user_ids": (0..20).map(|i| format!("u{i}")).collect::<Vec<_>>()});
    let (_, batch) = call(&app, post_json("/predict/batch", &body)).await;
    for (i, r) in records.iter().enumerate() {
        let (_, one) = call(
            &app,
            post_json("/predict", &json!({"features": row_json(r)})),
        )
        .await;
        assert_eq!(
            one["probabilities"],
            batch["predictions"][i]["probabilities"]
        );
    }
    state.shutdown().await;
}

/// Dynamic batching: concurrent `/predict/batch` requests are merged into shared kernel calls
/// (the `obesity_batch_rows` histogram counts fewer calls than requests), and every request
/// still gets exactly its own rows' probabilities, bit-identical to the library's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merged_batches_answer_each_request_with_its_own_rows() {
    let fx = Fixture::new();
    let state = obesity_serve::AppState::load(obesity_serve::ServeConfig {
        // Long enough that the requests below queue together.
        batching: obesity_serve::DynamicBatching {
            max_rows: 4_096,
            max_queue_delay: std::time::Duration::from_millis(200),
            ..obesity_serve::DynamicBatching::default()
        },
        ..fx.config()
    })
    .await
    .unwrap();
    let app = router(state.clone());
    let records = rows(120);
    let (want, classes) = fx.library_proba(1, &records);
    // 12 requests of 1 to 12 rows, each a different slice of the rows.
    let tasks: Vec<_> = (0..12usize)
        .map(|i| {
            let app = app.clone();
            let start = i * 10;
            let part: Vec<_> = records[start..start + 1 + i % 10]
                .iter()
                .map(row_json)
                .collect();
            tokio::spawn(async move {
                let body = json!({ "batch_features": part });
                (start, call(&app, post_json("/predict/batch", &body)).await)
            })
        })
        .collect();
    for t in tasks {
        let (start, (status, answer)) = t.await.unwrap();
        assert_eq!(status, 200, "{answer}");
        for (k, p) in answer["predictions"].as_array().unwrap().iter().enumerate() {
            assert_eq!(
                answer_proba(p, &classes),
                want.row(start + k).to_vec(),
                "request at row {start}, row {k}"
            );
        }
    }
    let metrics = obesity_serve_metrics(&app).await;
    let count = metric_value(&metrics, "obesity_batch_rows_count");
    let sum = metric_value(&metrics, "obesity_batch_rows_sum");
    assert_eq!(sum, (0..12).map(|i| 1 + i % 10).sum::<usize>() as f64);
    assert!(count < 12.0, "no request was merged: {count} calls");
    state.shutdown().await;
}

/// With merging off, every request is its own kernel call and nothing is observed.
#[tokio::test]
async fn batching_off_predicts_each_request_alone() {
    let fx = Fixture::new();
    let state = obesity_serve::AppState::load(obesity_serve::ServeConfig {
        batching: obesity_serve::DynamicBatching::off(),
        ..fx.config()
    })
    .await
    .unwrap();
    let app = router(state.clone());
    let records = rows(30);
    let (want, classes) = fx.library_proba(1, &records);
    let body = json!({"batch_features": records.iter().map(row_json).collect::<Vec<_>>()});
    let (status, answer) = call(&app, post_json("/predict/batch", &body)).await;
    assert_eq!(status, 200, "{answer}");
    for (i, p) in answer["predictions"].as_array().unwrap().iter().enumerate() {
        assert_eq!(answer_proba(p, &classes), want.row(i).to_vec(), "row {i}");
    }
    let metrics = obesity_serve_metrics(&app).await;
    assert_eq!(metric_value(&metrics, "obesity_batch_rows_count"), 0.0);
    state.shutdown().await;
}

/// The `/metrics` text.
async fn obesity_serve_metrics(app: &axum::Router) -> String {
    use tower::ServiceExt;
    let response = app.clone().oneshot(get("/metrics")).await.unwrap();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// The value of the unlabelled sample `name` (0 when absent).
fn metric_value(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
        .map_or(0.0, |v| v.trim().parse().unwrap())
}
