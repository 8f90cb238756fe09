//! Hot reload: an alias move swaps the version without failing a request; a version that
//! cannot be loaded leaves the previous one serving.

use std::time::Duration;

use obesity_serve::{AppState, ServeConfig, router};
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn an_alias_move_swaps_the_version() {
    let fx = Fixture::new();
    let state = fx.state().await;
    let app = router(state.clone());
    let v2 = fx.register(2);
    // Nothing moves until the alias does.
    let (s, r) = call(&app, post("/admin/reload", "")).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["changes"], json!([]));
    fx.alias("champion", v2);
    let (s, r) = call(&app, post("/admin/reload", "")).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["changes"][0]["from"], 1);
    assert_eq!(r["changes"][0]["to"], 2);
    assert_eq!(r["loaded_versions"], json!([2]));
    let records = rows(5);
    let (want, classes) = fx.library_proba(v2, &records);
    for (i, rec) in records.iter().enumerate() {
        let (_, a) = call(
            &app,
            post_json("/predict", &json!({"features": row_json(rec)})),
        )
        .await;
        assert_eq!(a["model_version"], "2");
        assert_eq!(answer_proba(&a, &classes), want.row(i).to_vec());
    }
    let (_, h) = call(&app, get("/health")).await;
    assert_eq!(h["model_version"], "2");
    state.shutdown().await;
}

#[tokio::test]
async fn a_version_that_fails_to_load_leaves_the_previous_one_serving() {
    let fx = Fixture::new();
    let state = fx.state().await;
    let app = router(state.clone());
    let broken = fx.register_broken();
    fx.alias("champion", broken);
    let (s, r) = call(&app, post("/admin/reload", "")).await;
    assert_eq!(s, 500, "{r}");
    assert_eq!(r["error"]["code"], "reload_failed");
    assert!(
        !r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not a model"),
        "no internals: {r}"
    );
    assert_eq!(r["report"]["failures"][0]["version"], broken);
    assert_eq!(r["report"]["failures"][0]["kept"], 1);
    let (s, a) = call(
        &app,
        post_json("/predict", &json!({"features": row_json(&rows(1)[0])})),
    )
    .await;
    assert_eq!((s.as_u16(), a["model_version"].as_str()), (200, Some("1")));
    // Fixed by moving the alias on: the next reload takes the good version.
    let v3 = fx.register(3);
    fx.alias("champion", v3);
    let report = state.reload().await.unwrap();
    assert!(report.failures.is_empty());
    assert_eq!(report.primary_version, v3);
    state.shutdown().await;
}

#[tokio::test]
async fn the_service_does_not_start_on_a_version_it_cannot_load() {
    let fx = Fixture::new();
    let broken = fx.register_broken();
    fx.alias("champion", broken);
    let err = AppState::load(fx.config()).await.unwrap_err();
    assert!(err.to_string().contains(MODEL), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_reload_while_requests_run_fails_no_request() {
    let fx = Fixture::new();
    let state = fx.state().await;
    let app = router(state.clone());
    let v2 = fx.register(2);
    let body = json!({"features": row_json(&rows(1)[0])});
    let (go_tx, go_rx) = tokio::sync::watch::channel(false);
    let mut workers = Vec::new();
    for _ in 0..4 {
        let app = app.clone();
        let body = body.clone();
        let mut go = go_rx.clone();
        workers.push(tokio::spawn(async move {
            let mut versions = Vec::new();
            let _ = go.changed().await;
            // Keep asking until this worker has seen version 2 (bounded: the swap happens
            // after the first round of requests below).
            for _ in 0..10_000 {
                let (s, a) = call(&app, post_json("/predict", &body)).await;
                assert_eq!(s, 200, "{a}");
                let v = a["model_version"].as_str().unwrap().to_owned();
                let done = v == "2";
                versions.push(v);
                if done {
                    break;
                }
                tokio::task::yield_now().await;
            }
            versions
        }));
    }
    go_tx.send(true).unwrap();
    tokio::task::yield_now().await;
    fx.alias("champion", v2);
    let report = state.reload().await.unwrap();
    assert_eq!(report.primary_version, 2);
    for w in workers {
        let versions = w.await.unwrap();
        // Every answer came from version 1 or 2, and once a worker saw 2 it never went back.
        assert!(versions.iter().all(|v| v == "1" || v == "2"));
        assert_eq!(versions.last().map(String::as_str), Some("2"));
        let first_two = versions.iter().position(|v| v == "2").unwrap();
        assert!(versions[first_two..].iter().all(|v| v == "2"));
    }
    state.shutdown().await;
}

#[tokio::test]
async fn the_poller_follows_the_alias() {
    let fx = Fixture::new();
    let state = AppState::load(ServeConfig {
        poll_interval: Duration::from_millis(20),
        ..fx.config()
    })
    .await
    .unwrap();
    let server = obesity_serve::Server::with_state(state.clone())
        .await
        .unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(server.run_until(async move {
        let _ = stop_rx.await;
    }));
    let v2 = fx.register(2);
    fx.alias("champion", v2);
    // Waits for the poller (at most ~10 s; it polls every 20 ms). Not a timing assertion:
    // only that it happens at all.
    let mut polls = 0;
    while state.primary_version() != v2 && polls < 500 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        polls += 1;
    }
    assert_eq!(state.primary_version(), v2);
    let _ = stop_tx.send(());
    running.await.unwrap().unwrap();
}

#[tokio::test]
async fn several_versions_stay_loaded_and_follow_their_aliases() {
    let fx = Fixture::new();
    let v2 = fx.register(2);
    fx.alias("challenger", v2);
    let state = AppState::load(ServeConfig {
        also_load: vec![format!("models:/{MODEL}@challenger")],
        ..fx.config()
    })
    .await
    .unwrap();
    let app = router(state.clone());
    assert_eq!(state.loaded_versions(), [1, 2]);
    let (_, h) = call(&app, get("/health")).await;
    assert_eq!(h["loaded_versions"], json!(["1", "2"]));
    // The challenger is reachable by version over the v2 protocol.
    let (s, meta) = call(&app, get(&format!("/v2/models/{MODEL}/versions/{v2}"))).await;
    assert_eq!(s, 200, "{meta}");
    // Promoting the challenger: both references move, nothing is loaded twice.
    let v3 = fx.register(3);
    fx.alias("champion", v2);
    fx.alias("challenger", v3);
    let report = state.reload().await.unwrap();
    assert_eq!(report.changes.len(), 2, "{report:?}");
    assert_eq!(report.loaded_versions, [2, 3]);
    assert_eq!(state.primary_version(), 2);
    state.shutdown().await;
}
