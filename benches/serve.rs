//! The serving path without sockets: `obesity_serve::router` driven through tower's
//! `oneshot` for a 1-row `/predict` and a 100-row `/predict/batch`, next to
//!
//! * the ceiling: a trivial axum router answering a fixed 200-byte JSON through the same
//!   `oneshot` path (what routing, body collection and the response cost on their own), and
//! * the floor: the bare library call on the same rows (the version's feature pipeline
//!   `transform`, then the classifier's `predict_proba`), no HTTP, no JSON, no monitor.
//!
//! The gap between `predict_*` and `library_*` is what the HTTP layer adds (JSON parsing and
//! validation against the signature, routing, the response, the request id and the monitor
//! queue's `try_send`); the monitor thread's own work runs on another thread and is not in
//! these times (the load test measures it: `scripts/loadtest.sh`, rows (m) and (n)).
//!
//! Model: a 100-tree forest (the training chain's default) trained with seed 42 on the UCI CSV
//! when OBESITY_UCI_CSV is set, else the committed synthetic fixture, else
//! `synth::generate(2111, 42)`; registered with its pipeline, signature and reference profile
//! in a temporary local store and served as `@champion`. The rows are 100 rows spread over
//! the data, the single row the first of them.
//!
//! `cargo bench -p obesity-benches --bench serve`. Ids: `serve/<what>/<rows>r`; throughput
//! in rows.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{Request, header};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use obesity_mlops::data::{LoadOptions, ObesityRecord, Schema, feature_columns, load_csv, synth};
use obesity_mlops::features::FeaturePipeline;
use obesity_mlops::forest::{ForestParams, ModelStrategy};
use obesity_mlops::monitor::ReferenceProfile;
use obesity_mlops::registry::{NewVersion, Registry, Signature, Tracker, open_store};
use obesity_mlops::serve::{AppState, REFERENCE_PROFILE_FILE, ServeConfig, router};
use serde_json::{Map, Value, json};
use tower::ServiceExt;

const MODEL: &str = "bench-rf";

/// The records: as benches/forest.rs picks them.
fn records() -> (Vec<ObesityRecord>, &'static str) {
    if let Ok(p) = std::env::var("OBESITY_UCI_CSV") {
        match load_csv(&p, &LoadOptions::strict()) {
            Ok(l) => return (l.records, "uci"),
            Err(e) => panic!("OBESITY_UCI_CSV is set but cannot be loaded: {e}"),
        }
    }
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/obesity_synthetic.csv"
    );
    if let Ok(l) = load_csv(fixture, &LoadOptions::strict()) {
        return (l.records, "fixture");
    }
    (synth::generate(2111, 42), "generated")
}

/// A record as the raw named fields a client posts.
fn raw_row(r: &ObesityRecord) -> Value {
    let yes = |b: bool| if b { "yes" } else { "no" };
    let mut m = Map::new();
    m.insert("Gender".into(), json!(r.gender.as_str()));
    m.insert("Age".into(), json!(r.age));
    m.insert("Height".into(), json!(r.height));
    m.insert("Weight".into(), json!(r.weight));
    m.insert(
        "family_history_with_overweight".into(),
        json!(yes(r.family_history_with_overweight)),
    );
    m.insert("FAVC".into(), json!(yes(r.favc)));
    m.insert("FCVC".into(), json!(r.fcvc));
    m.insert("NCP".into(), json!(r.ncp));
    m.insert("CAEC".into(), json!(r.caec.as_str()));
    m.insert("SMOKE".into(), json!(yes(r.smoke)));
    m.insert("CH2O".into(), json!(r.ch2o));
    m.insert("SCC".into(), json!(yes(r.scc)));
    m.insert("FAF".into(), json!(r.faf));
    m.insert("TUE".into(), json!(r.tue));
    m.insert("CALC".into(), json!(r.calc.as_str()));
    m.insert("MTRANS".into(), json!(r.mtrans.as_str()));
    Value::Object(m)
}

/// Trains, registers and aliases the served version; returns the store folder.
fn register(dir: &std::path::Path, records: &[ObesityRecord]) -> Result<String, String> {
    let uri = dir.join("mlruns").display().to_string();
    let store = open_store(&uri).map_err(|e| e.to_string())?;
    let pipeline = FeaturePipeline::standard()
        .fit(records)
        .map_err(|e| e.to_string())?;
    let data = pipeline.dataset(records).map_err(|e| e.to_string())?;
    let model = ForestParams::builder()
        .n_estimators(100)
        .seed(42)
        .build()
        .map_err(|e| e.to_string())?
        .fit(data.x.view(), data.y.view(), data.n_classes())
        .map_err(|e| e.to_string())?;
    let profile =
        ReferenceProfile::from_columns(&feature_columns(records)).map_err(|e| e.to_string())?;
    let tracker = Tracker::new(store.clone());
    let run = tracker
        .start_run("serve-bench", None)
        .map_err(|e| e.to_string())?;
    let new = NewVersion::new(
        MODEL,
        run.id(),
        model.to_bytes().map_err(|e| e.to_string())?,
    )
    .signature(Signature::from_schema(&Schema::obesity()).map_err(|e| e.to_string())?)
    .pipeline(&pipeline)
    .map_err(|e| e.to_string())?
    .extra_artifact(
        REFERENCE_PROFILE_FILE,
        profile.to_json().map_err(|e| e.to_string())?.into_bytes(),
    );
    let registry = Registry::new(store);
    let v = registry.register(new).map_err(|e| e.to_string())?;
    run.finish().map_err(|e| e.to_string())?;
    registry
        .set_alias(MODEL, "champion", v.version)
        .map_err(|e| e.to_string())?;
    Ok(uri)
}

/// The load test's ceiling, as a router: any path answers a fixed 200-byte JSON.
fn fixed_router() -> Router {
    const BODY: &str = concat!(
        r#"{"class":"Normal_Weight","probabilities":{"Normal_Weight":0.63,"#,
        r#""Overweight_Level_I":0.14,"Overweight_Level_II":0.12,"Insufficient_Weight":0.11},"#,
        r#""confidence":0.63,"model_version":"1","latency_us":12.0}"#,
    );
    async fn fixed(_body: Bytes) -> ([(header::HeaderName, &'static str); 1], &'static str) {
        ([(header::CONTENT_TYPE, "application/json")], BODY)
    }
    Router::new().fallback(fixed)
}

/// One POST through the router, its answer read to the end; panics on a non-2xx answer (a
/// bench of error responses would mislead).
async fn post(app: &Router, path: &'static str, body: &Bytes) -> usize {
    let request = Request::post(path)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.clone()))
        .unwrap_or_else(|e| panic!("request: {e}"));
    let response = app
        .clone()
        .oneshot(request)
        .await
        .unwrap_or_else(|e| match e {});
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap_or_else(|e| panic!("body: {e}"));
    assert!(
        status.is_success(),
        "{path}: {status} {}",
        String::from_utf8_lossy(&bytes)
    );
    bytes.len()
}

fn serve(c: &mut Criterion) {
    let (all, source) = records();
    let n = 100.min(all.len());
    let rows: Vec<ObesityRecord> = (0..n).map(|i| all[i * all.len() / n].clone()).collect();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let uri = register(dir.path(), &all).unwrap_or_else(|e| panic!("register: {e}"));
    eprintln!("serve bench: model trained on {} {source} rows", all.len());

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let config = ServeConfig {
        model: format!("models:/{MODEL}@champion"),
        poll_interval: Duration::ZERO,
        port: 0,
        ..ServeConfig::new(uri.clone())
    };
    let state = rt
        .block_on(AppState::load(config))
        .unwrap_or_else(|e| panic!("load: {e}"));
    let app = router(state.clone());
    let ceiling = fixed_router();

    // The library's own path on the same rows: the registry's pipeline and classifier.
    let loaded = Registry::new(open_store(&uri).unwrap_or_else(|e| panic!("store: {e}")))
        .load_str(&format!("models:/{MODEL}@champion"))
        .unwrap_or_else(|e| panic!("load: {e}"));
    let pipeline = loaded
        .pipeline
        .as_ref()
        .unwrap_or_else(|| panic!("no pipeline"));
    let classifier = Arc::new(loaded.classifier);

    let single = Bytes::from(
        serde_json::to_vec(&json!({"features": raw_row(&rows[0])}))
            .unwrap_or_else(|e| panic!("json: {e}")),
    );
    let batch = Bytes::from(
        serde_json::to_vec(
            &json!({"batch_features": rows.iter().map(raw_row).collect::<Vec<_>>()}),
        )
        .unwrap_or_else(|e| panic!("json: {e}")),
    );

    let mut group = c.benchmark_group("serve");
    for (k, path, body) in [(1usize, "/predict", &single), (n, "/predict/batch", &batch)] {
        group.throughput(Throughput::Elements(k as u64));
        let id = format!("{k}r");
        group.bench_with_input(
            BenchmarkId::new("fixed_response_oneshot", &id),
            body,
            |b, body| b.iter(|| rt.block_on(post(&ceiling, path, black_box(body)))),
        );
        let what = if k == 1 {
            "predict_oneshot"
        } else {
            "predict_batch_oneshot"
        };
        group.bench_with_input(BenchmarkId::new(what, &id), body, |b, body| {
            b.iter(|| rt.block_on(post(&app, path, black_box(body))))
        });
        let slice = &rows[..k];
        group.bench_with_input(
            BenchmarkId::new("library_transform_predict_proba", &id),
            slice,
            |b, slice| {
                b.iter(|| {
                    let x = pipeline
                        .transform(black_box(slice))
                        .unwrap_or_else(|e| panic!("transform: {e}"));
                    classifier
                        .predict_proba(x.view())
                        .unwrap_or_else(|e| panic!("predict_proba: {e}"))
                })
            },
        );
    }
    group.finish();
    rt.block_on(state.shutdown());
}

criterion_group!(benches, serve);
criterion_main!(benches);
