//! `obesity export onnx`, run as a user would, against a local store in a temp dir.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;

use obesity_data::synth;
use obesity_features::{FeaturePipeline, FittedPipeline};
use obesity_forest::{ForestParams, RandomForest};
use obesity_onnx::{ExportOptions, OnnxModel, OutputLayout};
use obesity_registry::{
    LocalStore, NewVersion, ONNX_FILE, OnnxArtifact, Registry, Signature, Store, TensorColumn,
    Tracker,
};

fn obesity(store: &Path, args: &[&str]) -> Output {
    common::obesity_command()
        .arg("--tracking-uri")
        .arg(store)
        .args(args)
        .output()
        .expect("run obesity")
}

fn trained() -> (FittedPipeline, RandomForest) {
    let records = synth::generate(200, 5);
    let pipeline = FeaturePipeline::standard().fit(&records).expect("fit");
    let data = pipeline.dataset(&records).expect("dataset");
    let params = ForestParams::builder()
        .n_estimators(3)
        .seed(5)
        .build()
        .expect("params");
    let forest = RandomForest::fit(&params, data.x.view(), data.y.view(), 7).expect("fit");
    (pipeline, forest)
}

fn artifact(model: &OnnxModel) -> OnnxArtifact {
    let cols = |specs: Vec<obesity_onnx::TensorSpec>| {
        specs
            .into_iter()
            .map(|t| TensorColumn::new(t.name, t.elem_type.map(|e| e.mlflow_name()), t.shape))
            .collect()
    };
    OnnxArtifact::new(
        model.to_bytes(),
        cols(model.inputs()),
        cols(model.outputs()),
    )
}

/// `new` (with `with_onnx`: the MLflow Model directory's model.onnx) and `old` (native files
/// only, as registered before issue 15), and a model whose bytes are not a forest.
fn store() -> (tempfile::TempDir, PathBuf, FittedPipeline, RandomForest) {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("mlruns");
    let store: Arc<dyn Store> = Arc::new(LocalStore::open(&root).expect("store"));
    let tracker = Tracker::new(store.clone()).with_git_commit(None);
    let registry = Registry::new(store);
    let (pipeline, forest) = trained();
    let sig = Signature::from_schema(&obesity_data::Schema::obesity()).expect("signature");
    let columns = obesity_onnx::export(
        &pipeline,
        &forest,
        &ExportOptions::with_outputs(OutputLayout::Columns),
    )
    .expect("export");
    for (name, onnx, model_bytes) in [
        (
            "new",
            Some(artifact(&columns)),
            forest.to_bytes().expect("bytes"),
        ),
        ("old", None, forest.to_bytes().expect("bytes")),
        ("not-a-forest", None, b"not a forest".to_vec()),
    ] {
        let run = tracker.start_run("obesity", Some(name)).expect("run");
        let id = run.id().to_string();
        run.finish().expect("finish");
        let mut v = NewVersion::new(name, &id, model_bytes)
            .pipeline(&pipeline)
            .expect("pipeline")
            .signature(sig.clone());
        if let Some(o) = onnx {
            v = v.onnx(o);
        }
        registry.register(v).expect("register");
        registry.set_alias(name, "champion", 1).expect("alias");
    }
    (dir, root, pipeline, forest)
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {}: {}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn outputs(path: &Path) -> Vec<String> {
    let bytes = std::fs::read(path).expect("written");
    OnnxModel::from_bytes(&bytes)
        .expect("an ONNX model")
        .outputs()
        .into_iter()
        .map(|t| t.name)
        .collect()
}

#[test]
fn export_onnx_writes_the_registered_model_onnx_byte_for_byte() {
    let (dir, root, _, _) = store();
    let out = dir.path().join("model.onnx");
    let text = ok(&obesity(
        &root,
        &[
            "export",
            "onnx",
            "--model",
            "models:/new@champion",
            "--output",
            out.to_str().expect("utf8"),
        ],
    ));
    assert!(text.contains("registered"), "{text}");
    let registry = Registry::open(root.to_str().expect("utf8")).expect("registry");
    let registered = registry.artifact("new", 1, ONNX_FILE).expect("model.onnx");
    assert_eq!(std::fs::read(&out).expect("written"), registered);
    assert_eq!(outputs(&out)[0], "label");
    assert_eq!(outputs(&out).len(), 8);
}

#[test]
fn export_onnx_exports_an_older_version_from_its_pipeline_and_forest() {
    let (dir, root, pipeline, forest) = store();
    let out = dir.path().join("old.onnx");
    let o = obesity(
        &root,
        &[
            "--json",
            "export",
            "onnx",
            "--model",
            "old@champion",
            "--output",
            out.to_str().expect("utf8"),
        ],
    );
    let doc: serde_json::Value = serde_json::from_str(&ok(&o)).expect("json");
    assert_eq!(doc["origin"], "exported");
    assert_eq!(doc["version"], 1);
    assert_eq!(doc["inputs"].as_array().expect("inputs").len(), 16);
    // Deterministic: the same bytes as exporting the same pipeline and forest here.
    let same = obesity_onnx::export(
        &pipeline,
        &forest,
        &ExportOptions::with_outputs(OutputLayout::Columns),
    )
    .expect("export");
    assert_eq!(std::fs::read(&out).expect("written"), same.to_bytes());

    // `--layout tensor` asks for a fresh export with the [N, classes] output.
    let tensor = dir.path().join("tensor.onnx");
    ok(&obesity(
        &root,
        &[
            "export",
            "onnx",
            "--model",
            "models:/new/1",
            "--layout",
            "tensor",
            "--output",
            tensor.to_str().expect("utf8"),
        ],
    ));
    assert_eq!(outputs(&tensor), ["label", "probabilities"]);
}

#[test]
fn export_onnx_failures_name_the_cause_and_write_nothing() {
    let (dir, root, _, _) = store();
    let out = dir.path().join("x.onnx");
    let path = out.to_str().expect("utf8");
    for (model, needle) in [
        ("models:/not-a-forest@champion", "not a random forest"),
        ("models:/new@nobody", "nobody"),
        ("models:/missing/1", "missing"),
    ] {
        let o = obesity(
            &root,
            &["export", "onnx", "--model", model, "--output", path],
        );
        assert!(!o.status.success(), "{model} succeeded");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(needle), "{model}: {err}");
        assert!(!out.exists(), "{model} wrote a file");
    }
}
