//! Test support: a registry in a temporary folder with versions trained in milliseconds on
//! seeded synthetic rows, requests, and the library's own predictions to compare with.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use ndarray::Array2;
use obesity_data::{ObesityRecord, Schema, feature_columns, synth};
use obesity_features::FeaturePipeline;
use obesity_forest::{ForestParams, ModelStrategy};
use obesity_monitor::ReferenceProfile;
use obesity_registry::{NewVersion, Registry, Signature, Store, Tracker, open_store};
use obesity_serve::{AppState, REFERENCE_PROFILE_FILE, ServeConfig};
use serde_json::{Map, Value, json};
use tower::ServiceExt;

pub(crate) const MODEL: &str = "obesity-rf";

/// A temporary registry holding `MODEL`.
pub(crate) struct Fixture {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) uri: String,
    store: Arc<dyn Store>,
}

impl Fixture {
    /// A registry with version 1 (seed 1) as the champion.
    pub(crate) fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let uri = dir.path().join("mlruns").display().to_string();
        let store = open_store(&uri).expect("store");
        let fx = Fixture { dir, uri, store };
        let v = fx.register(1);
        fx.alias("champion", v);
        fx
    }

    pub(crate) fn registry(&self) -> Registry {
        Registry::new(self.store.clone())
    }

    /// Trains a 12-tree forest on 400 seeded synthetic rows and registers it with its
    /// pipeline, signature and reference profile, as the training chain does. Returns the
    /// version number.
    pub(crate) fn register(&self, seed: u64) -> u64 {
        let records = synth::generate(400, seed);
        let pipeline = FeaturePipeline::standard()
            .fit(&records)
            .expect("fit pipeline");
        let data = pipeline.dataset(&records).expect("dataset");
        let model = ForestParams::builder()
            .n_estimators(12)
            .seed(seed)
            .build()
            .expect("params")
            .fit(data.x.view(), data.y.view(), data.n_classes())
            .expect("fit");
        let profile = ReferenceProfile::from_columns(&feature_columns(&records)).expect("profile");
        self.register_bytes(
            model.to_bytes().expect("bytes"),
            Some(&pipeline),
            Some(profile.to_json().expect("json").into_bytes()),
            seed,
        )
    }

    /// A version whose model file is garbage: it registers, but cannot be loaded.
    pub(crate) fn register_broken(&self) -> u64 {
        let pipeline = FeaturePipeline::standard()
            .fit(&synth::generate(50, 3))
            .expect("fit");
        self.register_bytes(b"not a model".to_vec(), Some(&pipeline), None, 99)
    }

    fn register_bytes(
        &self,
        model: Vec<u8>,
        pipeline: Option<&obesity_features::FittedPipeline>,
        profile: Option<Vec<u8>>,
        seed: u64,
    ) -> u64 {
        let tracker = Tracker::new(self.store.clone());
        let run = tracker.start_run("serve-tests", None).expect("run");
        run.log_param("seed", seed).expect("param");
        run.log_metric("accuracy", 0.9).expect("metric");
        let mut new = NewVersion::new(MODEL, run.id(), model)
            .signature(Signature::from_schema(&Schema::obesity()).expect("signature"));
        if let Some(p) = pipeline {
            new = new.pipeline(p).expect("pipeline");
        }
        if let Some(p) = profile {
            new = new.extra_artifact(REFERENCE_PROFILE_FILE, p);
        }
        let v = self.registry().register(new).expect("register");
        run.finish().expect("finish");
        v.version
    }

    pub(crate) fn alias(&self, alias: &str, version: u64) {
        self.registry()
            .set_alias(MODEL, alias, version)
            .expect("alias");
    }

    /// The config tests start from: polling off (tests reload by hand).
    pub(crate) fn config(&self) -> ServeConfig {
        ServeConfig {
            model: format!("models:/{MODEL}@champion"),
            poll_interval: std::time::Duration::ZERO,
            port: 0,
            ..ServeConfig::new(self.uri.clone())
        }
    }

    pub(crate) async fn state(&self) -> AppState {
        AppState::load(self.config()).await.expect("load state")
    }

    /// The library's probabilities for `records` from version `version`: the registry's
    /// `LoadedModel` pipeline and classifier, nothing of the server.
    pub(crate) fn library_proba(
        &self,
        version: u64,
        records: &[ObesityRecord],
    ) -> (Array2<f32>, Vec<String>) {
        let loaded = self
            .registry()
            .load_str(&format!("models:/{MODEL}/{version}"))
            .expect("load");
        let x = loaded
            .pipeline
            .as_ref()
            .expect("pipeline")
            .transform(records)
            .expect("transform");
        let classes = loaded.signature.expect("signature").classes;
        (
            loaded.classifier.predict_proba(x.view()).expect("predict"),
            classes,
        )
    }
}

/// Rows to send: seeded, not the training rows.
pub(crate) fn rows(n: usize) -> Vec<ObesityRecord> {
    synth::generate(n, 4242)
}

/// A record as raw named fields, the way a client sends it.
pub(crate) fn row_json(r: &ObesityRecord) -> Value {
    let yn = |b: bool| if b { "yes" } else { "no" };
    json!({
        "Gender": r.gender.as_str(), "Age": r.age, "Height": r.height, "Weight": r.weight,
        "family_history_with_overweight": yn(r.family_history_with_overweight),
        "FAVC": yn(r.favc), "FCVC": r.fcvc, "NCP": r.ncp, "CAEC": r.caec.as_str(),
        "SMOKE": yn(r.smoke), "CH2O": r.ch2o, "SCC": yn(r.scc), "FAF": r.faf, "TUE": r.tue,
        "CALC": r.calc.as_str(), "MTRANS": r.mtrans.as_str(),
    })
}

pub(crate) fn row_map(r: &ObesityRecord) -> Map<String, Value> {
    match row_json(r) {
        Value::Object(m) => m,
        _ => unreachable!(),
    }
}

pub(crate) fn post(path: &str, body: impl Into<Body>) -> Request<Body> {
    Request::post(path)
        .header(header::CONTENT_TYPE, "application/json")
        .body(body.into())
        .expect("request")
}

pub(crate) fn post_json(path: &str, body: &Value) -> Request<Body> {
    post(path, body.to_string())
}

pub(crate) fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).expect("request")
}

/// Sends one request through the router; the status and the body (JSON, or a JSON string
/// holding the text).
pub(crate) async fn call(app: &Router, request: Request<Body>) -> (StatusCode, Value) {
    let response = app.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 64 << 20)
        .await
        .expect("body");
    let value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, value)
}

/// Asserts the JSON error shape and returns (code, field).
///
/// Open Inference Protocol routes (`/v2/...`) answer the protocol's own shape, `{"error":
/// "<message>"}`, which tritonclient reads as the message; the code and field sit beside it.
pub(crate) fn error_of(body: &Value) -> (String, Option<String>) {
    if body["error"].is_string() {
        return (
            body["code"].as_str().expect("code").to_owned(),
            body["field"].as_str().map(str::to_owned),
        );
    }
    let e = &body["error"];
    assert!(e.is_object(), "not an error body: {body}");
    assert!(e["message"].is_string(), "error without message: {body}");
    (
        e["code"].as_str().expect("code").to_owned(),
        e["field"].as_str().map(str::to_owned),
    )
}

/// Probabilities from a `/predict` answer in class order.
pub(crate) fn answer_proba(answer: &Value, classes: &[String]) -> Vec<f32> {
    classes
        .iter()
        .map(|c| answer["probabilities"][c].as_f64().expect("probability") as f32)
        .collect()
}

/// Every request id in a prediction log's text: listed ids, failed ids and the ids of each
/// counter run (`obesity_monitor::IdRun`), in file order.
pub(crate) fn logged_ids(text: &str) -> Vec<String> {
    let mut ids = Vec::new();
    for line in text.lines() {
        let event: Value = serde_json::from_str(line).expect("a JSON line");
        let batch = &event["batch"];
        for id in batch["request_ids"].as_array().into_iter().flatten() {
            ids.push(id.as_str().expect("an id").to_owned());
        }
        for run in batch["id_runs"].as_array().into_iter().flatten() {
            let run: obesity_monitor::IdRun =
                serde_json::from_value(run.clone()).expect("an id run");
            ids.extend((0..run.len).filter_map(|i| run.id(i)));
        }
        for failed in batch["failed"].as_array().into_iter().flatten() {
            ids.push(failed["request_id"].as_str().expect("an id").to_owned());
        }
    }
    ids
}
