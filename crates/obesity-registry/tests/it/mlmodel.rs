//! Every registered version is an MLflow Model directory (issue 15): `MLmodel` with the
//! native, `onnx` and `python_function` flavors and MLflow's column-based signature, the
//! input example, `model.onnx`, the Python environment; MLflow 3's logged-model and dataset
//! records in the local store. What MLflow itself reads from these files is checked by
//! `scripts/mlflow_model_check.py` (in `scripts/mlflow_suite.sh`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use obesity_data::{Schema, feature_columns, synth};
use obesity_features::FeaturePipeline;
use obesity_forest::{ForestParams, RandomForest};
use obesity_registry::mlmodel::{
    CODE_DIR, INPUT_EXAMPLE_FILE, PYFUNC_LOADER_MODULE, REQUIREMENTS_FILE,
    SERVING_INPUT_EXAMPLE_FILE,
};
use obesity_registry::{
    ARTIFACT_PATH_TAG, CreateModelVersion, DatasetInput, Error, FieldType, InputExample,
    LocalStore, MLMODEL_FILE, MODEL_FILE, MlflowSignature, NATIVE_FLAVOR, NewVersion, ONNX_FILE,
    OnnxArtifact, Registry, Signature, Store, Tag, TensorColumn, Tracker,
};
use serde_json::Value;

use crate::temp_store;

/// A trained pipeline + forest on synthetic rows, its bytes and the rows.
fn trained() -> (String, Vec<u8>, Vec<obesity_data::ObesityRecord>) {
    let records = synth::generate(150, 3);
    let pipeline = FeaturePipeline::standard().fit(&records).expect("fit");
    let data = pipeline.dataset(&records).expect("dataset");
    let params = ForestParams::builder()
        .n_estimators(4)
        .seed(3)
        .build()
        .expect("params");
    let forest = RandomForest::fit(&params, data.x.view(), data.y.view(), 7).expect("fit");
    (
        pipeline.to_json().expect("json"),
        forest.to_bytes().expect("bytes"),
        records,
    )
}

fn obesity_signature() -> Signature {
    Signature::from_schema(&Schema::obesity()).expect("signature")
}

/// An ONNX artifact described as obesity-onnx describes its `Columns` export (the bytes are
/// a stand-in: the registry stores them, it does not run them).
fn onnx_like_export(sig: &Signature) -> OnnxArtifact {
    let inputs = sig
        .inputs
        .iter()
        .map(|f| {
            let t = match f.field_type {
                FieldType::Numeric { .. } => "double",
                FieldType::Categorical { .. } => "string",
            };
            TensorColumn::new(&f.name, Some(t), vec![None])
        })
        .collect();
    let mut outputs = vec![TensorColumn::new("label", Some("string"), vec![None])];
    outputs.extend(
        sig.classes
            .iter()
            .map(|c| TensorColumn::new(format!("probability_{c}"), Some("float"), vec![None])),
    );
    OnnxArtifact::new(b"\x08\x08onnx stand-in".to_vec(), inputs, outputs)
}

fn run_in(store: &Arc<dyn Store>) -> (String, obesity_registry::RunInfo) {
    let t = Tracker::new(store.clone()).with_git_commit(None);
    let run = t.start_run("obesity", Some("mlmodel")).expect("run");
    run.log_param("n_estimators", 4).expect("param");
    run.log_metric("accuracy", 0.9).expect("metric");
    let info = run.info().clone();
    run.finish().expect("finish");
    (info.run_id.clone(), info)
}

fn yaml(text: &str) -> serde_yaml_ng::Value {
    serde_yaml_ng::from_str(text).expect("MLmodel is YAML")
}

fn columns_of(mlmodel: &serde_yaml_ng::Value, which: &str) -> Vec<(String, String)> {
    let text = mlmodel["signature"][which].as_str().expect("JSON text");
    let list: Vec<Value> = serde_json::from_str(text).expect("JSON list");
    list.iter()
        .map(|c| {
            assert_eq!(c["required"], Value::Bool(true));
            (
                c["name"].as_str().expect("name").to_string(),
                c["type"].as_str().expect("type").to_string(),
            )
        })
        .collect()
}

fn flavors(mlmodel: &serde_yaml_ng::Value) -> Vec<String> {
    mlmodel["flavors"]
        .as_mapping()
        .expect("flavors")
        .keys()
        .map(|k| k.as_str().expect("name").to_string())
        .collect()
}

fn artifact_names(store: &Arc<dyn Store>, run_id: &str, dir: &str) -> Vec<String> {
    store
        .list_artifacts(run_id, Some(dir))
        .expect("list")
        .into_iter()
        .map(|f| f.path.trim_start_matches(&format!("{dir}/")).to_string())
        .collect()
}

fn experiment_dir(local: &LocalStore, run: &obesity_registry::RunInfo) -> PathBuf {
    local.root().join(&run.experiment_id)
}

#[test]
fn a_version_with_onnx_is_a_complete_mlflow_model_directory() {
    let (_d, store, local) = temp_store();
    let reg = Registry::new(store.clone());
    let (run_id, run) = run_in(&store);
    let (pipeline_json, bytes, records) = trained();
    let sig = obesity_signature();
    let onnx = onnx_like_export(&sig);
    let example = InputExample::from_columns(&feature_columns(&records[..3]), 3).expect("ex");
    let v = reg
        .register(
            NewVersion::new("obesity-classifier", &run_id, bytes.clone())
                .pipeline_json(pipeline_json.clone())
                .signature(sig.clone())
                .onnx(onnx.clone())
                .input_example(example),
        )
        .expect("register");

    let files = artifact_names(&store, &run_id, "model");
    for f in [
        MLMODEL_FILE,
        MODEL_FILE,
        ONNX_FILE,
        "pipeline.json",
        "signature.json",
        "lineage.json",
        CODE_DIR,
        REQUIREMENTS_FILE,
        "python_env.yaml",
        "conda.yaml",
        INPUT_EXAMPLE_FILE,
        SERVING_INPUT_EXAMPLE_FILE,
    ] {
        assert!(files.contains(&f.to_string()), "{f} missing from {files:?}");
    }
    let get = |f: &str| reg.artifact("obesity-classifier", 1, f).expect(f);
    assert_eq!(get(ONNX_FILE), onnx.bytes);
    assert_eq!(get(MODEL_FILE), bytes, "the native bytes are untouched");
    let loader =
        String::from_utf8(get(&format!("{CODE_DIR}/{PYFUNC_LOADER_MODULE}.py"))).expect("utf8");
    assert!(loader.contains("def _load_pyfunc(") && loader.contains("mlflow.onnx"));
    let reqs = String::from_utf8(get(REQUIREMENTS_FILE)).expect("utf8");
    assert_eq!(
        reqs.lines().collect::<Vec<_>>(),
        ["mlflow==3.17.2", "onnx==1.23.2", "onnxruntime==1.32.0"]
    );
    let py_env = yaml(&String::from_utf8(get("python_env.yaml")).expect("utf8"));
    assert_eq!(
        py_env["python"].as_str(),
        Some("3.11"),
        "a string, not 3.11 the float"
    );
    assert_eq!(
        py_env["dependencies"][0].as_str(),
        Some("-r requirements.txt")
    );

    // MLmodel: the three flavors, the column schema, ids, the example's description.
    let text = reg
        .mlmodel("obesity-classifier", 1)
        .expect("read")
        .expect("MLmodel");
    let m = yaml(&text);
    assert_eq!(flavors(&m), [NATIVE_FLAVOR, "onnx", "python_function"]);
    let native = &m["flavors"][NATIVE_FLAVOR];
    assert_eq!(native["model"].as_str(), Some(MODEL_FILE));
    assert_eq!(native["pipeline"].as_str(), Some("pipeline.json"));
    assert_eq!(native["format_version"].as_u64(), Some(1));
    assert_eq!(m["flavors"]["onnx"]["data"].as_str(), Some(ONNX_FILE));
    assert_eq!(
        m["flavors"]["onnx"]["onnx_version"].as_str(),
        Some("1.23.2")
    );
    let pyfunc = &m["flavors"]["python_function"];
    assert_eq!(pyfunc["loader_module"].as_str(), Some(PYFUNC_LOADER_MODULE));
    assert_eq!(pyfunc["code"].as_str(), Some(CODE_DIR));
    assert_eq!(pyfunc["data"].as_str(), Some(ONNX_FILE));
    assert_eq!(
        pyfunc["env"]["virtualenv"].as_str(),
        Some("python_env.yaml")
    );
    let inputs = columns_of(&m, "inputs");
    assert_eq!(inputs.len(), 16);
    assert_eq!(inputs[0], ("Gender".into(), "string".into()));
    assert_eq!(inputs[1], ("Age".into(), "double".into()));
    let outputs = columns_of(&m, "outputs");
    assert_eq!(outputs[0], ("label".into(), "string".into()));
    assert_eq!(
        outputs[1],
        ("probability_Insufficient_Weight".into(), "float".into())
    );
    assert_eq!(outputs.len(), 8);
    assert_eq!(m["run_id"].as_str(), Some(run_id.as_str()));
    assert_eq!(m["artifact_path"].as_str(), Some("model"));
    assert_eq!(
        m["saved_input_example_info"]["artifact_path"].as_str(),
        Some(INPUT_EXAMPLE_FILE)
    );
    assert_eq!(
        m["saved_input_example_info"]["pandas_orient"].as_str(),
        Some("split")
    );
    // No wall clock: the creation time is the run's start.
    let start = chrono::DateTime::from_timestamp_millis(run.start_time.expect("start"))
        .expect("time")
        .format("%Y-%m-%d %H:%M:%S%.6f")
        .to_string();
    assert_eq!(m["utc_time_created"].as_str(), Some(start.as_str()));
    assert!(m["model_size_bytes"].as_u64().expect("size") > bytes.len() as u64);

    // The example: the signature's columns in its order, as a split DataFrame and a request.
    let example: Value = serde_json::from_slice(&get(INPUT_EXAMPLE_FILE)).expect("json");
    let names: Vec<&str> = example["columns"]
        .as_array()
        .expect("columns")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(names, sig.input_names());
    assert_eq!(example["data"].as_array().expect("rows").len(), 3);
    assert_eq!(
        example["data"][0][0],
        Value::from(records[0].gender.as_str())
    );
    let serving: Value = serde_json::from_slice(&get(SERVING_INPUT_EXAMPLE_FILE)).expect("json");
    assert_eq!(serving["dataframe_split"], example);

    // MLflow 3's logged model: the version links to it, it points at this folder, READY.
    let model_id = v
        .model_id
        .clone()
        .expect("the local store keeps logged models");
    assert_eq!(m["model_id"].as_str(), Some(model_id.as_str()));
    assert_eq!(m["model_uuid"].as_str(), Some(model_id.as_str()));
    let again = reg.version("obesity-classifier", 1).expect("version");
    assert_eq!(again.model_id.as_deref(), Some(model_id.as_str()));
    let exp_dir = experiment_dir(&local, &run);
    let meta: serde_yaml_ng::Value = yaml(
        &std::fs::read_to_string(exp_dir.join("models").join(&model_id).join("meta.yaml"))
            .expect("logged model meta"),
    );
    assert_eq!(meta["status"].as_i64(), Some(2), "READY");
    assert_eq!(meta["source_run_id"].as_str(), Some(run_id.as_str()));
    assert!(
        meta["artifact_location"]
            .as_str()
            .is_some_and(|l| l.ends_with(&format!("{run_id}/artifacts/model"))),
        "{meta:?}"
    );
    let model_dir = exp_dir.join("models").join(&model_id);
    assert_eq!(
        std::fs::read_to_string(model_dir.join("params/n_estimators")).expect("param"),
        "4"
    );
    let metric = std::fs::read_to_string(model_dir.join("metrics/accuracy")).expect("metric");
    let fields: Vec<&str> = metric.split_whitespace().collect();
    assert_eq!(fields[1..], ["0.9", "0", run_id.as_str()]);
    let output = exp_dir
        .join(&run_id)
        .join("outputs")
        .join(&model_id)
        .join("meta.yaml");
    let output = yaml(&std::fs::read_to_string(output).expect("run output"));
    assert_eq!(output["destination_type"].as_str(), Some("MODEL_OUTPUT"));
    assert_eq!(output["step"].as_i64(), Some(0));

    // Rust still loads its native bytes, and the run still lists and searches as before.
    let loaded = reg.load_str("models:/obesity-classifier/1").expect("load");
    assert_eq!(loaded.classifier.to_bytes().expect("bytes"), bytes);
    assert_eq!(loaded.signature, Some(sig));
    let runs = Tracker::new(store.clone())
        .search_runs("obesity", "", &[], 10)
        .expect("search");
    assert_eq!(runs.len(), 1, "the models/ folder is not a run");
}

#[test]
fn a_version_without_onnx_gets_an_mlmodel_with_only_the_native_flavor() {
    let (_d, store, _) = temp_store();
    let reg = Registry::new(store.clone());
    let (run_id, _) = run_in(&store);
    let (pipeline_json, bytes, _) = trained();
    reg.register(
        NewVersion::new("native-only", &run_id, bytes)
            .pipeline_json(pipeline_json)
            .signature(obesity_signature()),
    )
    .expect("register");
    let m = yaml(
        &reg.mlmodel("native-only", 1)
            .expect("read")
            .expect("MLmodel"),
    );
    assert_eq!(flavors(&m), [NATIVE_FLAVOR]);
    assert_eq!(columns_of(&m, "inputs").len(), 16);
    let outputs = columns_of(&m, "outputs");
    assert_eq!(outputs[0], ("label".into(), "string".into()));
    assert_eq!(outputs.len(), 8);
    assert!(m.get("saved_input_example_info").is_none());
    let files = artifact_names(&store, &run_id, "model");
    for absent in [ONNX_FILE, CODE_DIR, REQUIREMENTS_FILE, INPUT_EXAMPLE_FILE] {
        assert!(
            !files.contains(&absent.to_string()),
            "{absent} in {files:?}"
        );
    }

    // Without a signature either: a valid MLmodel with no signature at all.
    let (run2, _) = run_in(&store);
    reg.register(NewVersion::new("bare", &run2, b"bytes".to_vec()))
        .expect("register");
    let m = yaml(&reg.mlmodel("bare", 1).expect("read").expect("MLmodel"));
    assert_eq!(flavors(&m), [NATIVE_FLAVOR]);
    assert!(m.get("signature").is_none());
    assert!(m["flavors"][NATIVE_FLAVOR]["pipeline"].is_null());
}

/// The run's artifacts, the registered models and the logged models, to show nothing was
/// written.
fn nothing_written(store: &Arc<dyn Store>, local: &LocalStore, run_id: &str) {
    assert_eq!(store.list_artifacts(run_id, None).expect("list"), []);
    assert!(
        store
            .search_registered_models(10)
            .expect("models")
            .is_empty()
    );
    let run = store.get_run(run_id).expect("run");
    assert!(
        !experiment_dir(local, &run.info).join("models").exists(),
        "a logged model was recorded"
    );
}

#[test]
fn an_onnx_output_mlflow_cannot_express_is_an_error_naming_it_and_nothing_is_written() {
    let (_d, store, local) = temp_store();
    let reg = Registry::new(store.clone());
    let (run_id, _) = run_in(&store);
    let sig = obesity_signature();
    // obesity-onnx's default `Tensor` layout: probabilities as one [N, 7] output.
    let mut onnx = onnx_like_export(&sig);
    onnx.outputs.truncate(1);
    onnx.outputs.push(TensorColumn::new(
        "probabilities",
        Some("float"),
        vec![None, Some(7)],
    ));
    let err = reg
        .register(
            NewVersion::new("m", &run_id, b"x".to_vec())
                .signature(sig)
                .onnx(onnx),
        )
        .expect_err("a 2-D output is not a column");
    match &err {
        Error::Signature { field, reason } => {
            assert_eq!(field, "probabilities");
            assert!(reason.contains("[N, 7]"), "{reason}");
        }
        other => panic!("unexpected {other:?}"),
    }
    nothing_written(&store, &local, &run_id);
}

#[test]
fn onnx_types_and_names_are_checked_against_the_signature_naming_the_field() {
    let sig = obesity_signature();
    let check = |edit: &dyn Fn(&mut OnnxArtifact)| {
        let mut onnx = onnx_like_export(&sig);
        edit(&mut onnx);
        match MlflowSignature::for_version(Some(&sig), Some(&onnx)) {
            Err(Error::Signature { field, reason }) => (field, reason),
            other => panic!("expected a signature error, got {other:?}"),
        }
    };
    // A type MLflow has no name for.
    let (field, reason) = check(&|o| o.inputs[1].elem_type = Some("float16".into()));
    assert_eq!(field, "Age");
    assert!(reason.contains("float16"), "{reason}");
    let (field, _) = check(&|o| o.outputs[0].elem_type = None);
    assert_eq!(field, "label");
    // A category fed to a number, and the reverse.
    let (field, reason) = check(&|o| o.inputs[0].elem_type = Some("double".into()));
    assert_eq!(field, "Gender");
    assert!(reason.contains("category"), "{reason}");
    let (field, _) = check(&|o| o.inputs[1].elem_type = Some("string".into()));
    assert_eq!(field, "Age");
    // An input the ONNX model lacks, and one the signature lacks.
    let (field, reason) = check(&|o| {
        o.inputs.remove(3);
    });
    assert_eq!(field, "Weight");
    assert!(reason.contains("does not take"), "{reason}");
    let (field, _) = check(&|o| {
        o.inputs
            .push(TensorColumn::new("BMI", Some("double"), vec![None]))
    });
    assert_eq!(field, "BMI");
    // One 2-D input instead of one per column (the forest-alone export).
    let (field, _) = check(&|o| {
        o.inputs = vec![TensorColumn::new(
            "features",
            Some("float"),
            vec![None, Some(32)],
        )];
    });
    assert_eq!(field, "features");

    // And the happy path: double for numbers, string for categories, in signature order.
    let ok = MlflowSignature::for_version(Some(&sig), Some(&onnx_like_export(&sig)))
        .expect("valid")
        .expect("some");
    assert_eq!(ok.inputs.len(), sig.inputs.len());
    assert_eq!(
        MlflowSignature::for_version(None, None).expect("nothing"),
        None
    );
}

#[test]
fn an_input_example_the_signature_refuses_is_an_error_naming_the_field() {
    let (_d, store, local) = temp_store();
    let reg = Registry::new(store.clone());
    let (run_id, _) = run_in(&store);
    let records = synth::generate(5, 1);
    let mut columns = feature_columns(&records);
    if let obesity_data::ColumnValues::Numeric(v) = &mut columns[1].values {
        v[2] = 500.0; // Age
    }
    let example = InputExample::from_columns(&columns, 5).expect("example");
    let err = reg
        .register(
            NewVersion::new("m", &run_id, b"x".to_vec())
                .signature(obesity_signature())
                .input_example(example),
        )
        .expect_err("age 500 is out of range");
    assert!(
        matches!(&err, Error::Signature { field, .. } if field == "Age"),
        "{err:?}"
    );
    nothing_written(&store, &local, &run_id);

    // A missing column, and a non-finite number, are refused too.
    let err = InputExample::from_columns(&feature_columns(&records)[1..], 5)
        .map(|e| {
            reg.register(
                NewVersion::new("m", &run_id, b"x".to_vec())
                    .signature(obesity_signature())
                    .input_example(e),
            )
        })
        .expect("example")
        .expect_err("Gender is missing");
    assert!(
        matches!(&err, Error::Signature { field, .. } if field == "Gender"),
        "{err:?}"
    );
    let mut nan = feature_columns(&records);
    if let obesity_data::ColumnValues::Numeric(v) = &mut nan[2].values {
        v[0] = f64::NAN;
    }
    assert!(matches!(
        InputExample::from_columns(&nan, 5),
        Err(Error::Signature { field, .. }) if field == "Height"
    ));
    assert!(InputExample::from_columns(&[], 5).is_err());
}

#[test]
fn extra_artifacts_may_not_take_the_names_of_the_model_directory() {
    let (_d, store, local) = temp_store();
    let reg = Registry::new(store.clone());
    let (run_id, _) = run_in(&store);
    for name in [
        MLMODEL_FILE,
        ONNX_FILE,
        CODE_DIR,
        MODEL_FILE,
        INPUT_EXAMPLE_FILE,
    ] {
        let err = reg
            .register(
                NewVersion::new("m", &run_id, b"x".to_vec()).extra_artifact(name, b"mine".to_vec()),
            )
            .expect_err(name);
        assert!(
            matches!(&err, Error::InvalidArtifactPath { path, .. } if path == name),
            "{err:?}"
        );
    }
    nothing_written(&store, &local, &run_id);
}

#[test]
fn a_version_registered_before_mlmodel_still_loads() {
    let (_d, store, _) = temp_store();
    let reg = Registry::new(store.clone());
    let (run_id, run) = run_in(&store);
    let (pipeline_json, bytes, _) = trained();
    // What the registry wrote before issue 15: the native files and a version, no MLmodel.
    store
        .log_artifact(&run_id, "model/model.bin", &bytes)
        .expect("model");
    store
        .log_artifact(&run_id, "model/pipeline.json", pipeline_json.as_bytes())
        .expect("pipeline");
    reg.ensure_model("old").expect("model");
    store
        .create_model_version(&CreateModelVersion {
            name: "old".into(),
            source: format!("{}/model", run.artifact_uri),
            run_id: Some(run_id.clone()),
            tags: vec![Tag::new(ARTIFACT_PATH_TAG, "model")],
            description: None,
            model_id: None,
        })
        .expect("version");
    let loaded = reg.load_str("models:/old/1").expect("old versions load");
    assert_eq!(loaded.classifier.to_bytes().expect("bytes"), bytes);
    assert!(loaded.pipeline.is_some());
    assert_eq!(loaded.version.model_id, None);
    assert_eq!(reg.mlmodel("old", 1).expect("read"), None);
}

#[test]
fn the_model_directory_is_the_same_for_the_same_model_except_its_ids() {
    let (_d, store, _) = temp_store();
    let reg = Registry::new(store.clone());
    let (pipeline_json, bytes, records) = trained();
    let sig = obesity_signature();
    let mut texts = Vec::new();
    for _ in 0..2 {
        let (run_id, _) = run_in(&store);
        let v = reg
            .register(
                NewVersion::new("same", &run_id, bytes.clone())
                    .pipeline_json(pipeline_json.clone())
                    .signature(sig.clone())
                    .onnx(onnx_like_export(&sig))
                    .input_example(
                        InputExample::from_columns(&feature_columns(&records), 2).expect("ex"),
                    ),
            )
            .expect("register");
        let text = reg
            .mlmodel("same", v.version)
            .expect("read")
            .expect("MLmodel");
        let mut m = yaml(&text);
        let map = m.as_mapping_mut().expect("map");
        for key in ["run_id", "model_id", "model_uuid", "utc_time_created"] {
            assert!(map.remove(key).is_some(), "{key}");
        }
        texts.push(serde_yaml_ng::to_string(&m).expect("yaml"));
        for f in [INPUT_EXAMPLE_FILE, ONNX_FILE, REQUIREMENTS_FILE] {
            texts.push(
                String::from_utf8_lossy(&reg.artifact("same", v.version, f).expect(f)).into(),
            );
        }
    }
    let (a, b) = texts.split_at(texts.len() / 2);
    assert_eq!(a, b);
}

fn dataset_dirs(local: &LocalStore, exp: &str) -> Vec<PathBuf> {
    let dir = local.root().join(exp).join("datasets");
    let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    out.sort();
    out
}

fn read_yaml(path: &Path) -> serde_yaml_ng::Value {
    yaml(&std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

#[test]
fn a_dataset_input_is_recorded_as_mlflow_writes_it_once() {
    let (_d, store, local) = temp_store();
    let t = Tracker::new(store.clone()).with_git_commit(None);
    let run = t.start_run("obesity", None).expect("run");
    let fp = "a".repeat(64);
    let dataset = DatasetInput::training("obesity_synthetic", &fp[..32], "/data/obesity.csv")
        .with_schema(&Schema::obesity())
        .with_profile(
            2111,
            17,
            &BTreeMap::from([("fingerprint".to_string(), fp.clone())]),
        );
    run.log_input(&dataset).expect("log input");
    run.log_input(&dataset).expect("again: no duplicate");
    let exp = run.info().experiment_id.clone();
    let dirs = dataset_dirs(&local, &exp);
    assert_eq!(dirs.len(), 1);
    let meta = read_yaml(&dirs[0].join("meta.yaml"));
    assert_eq!(meta["name"].as_str(), Some("obesity_synthetic"));
    assert_eq!(meta["digest"].as_str(), Some(&fp[..32]));
    assert_eq!(meta["source_type"].as_str(), Some("local"));
    let source: Value = serde_json::from_str(meta["source"].as_str().expect("source")).expect("j");
    assert_eq!(source["uri"], "/data/obesity.csv");
    let schema: Value = serde_json::from_str(meta["schema"].as_str().expect("schema")).expect("j");
    let cols = schema["mlflow_colspec"].as_array().expect("colspec");
    assert_eq!(cols.len(), 17, "the target is a column of the data");
    assert_eq!(cols[16]["name"], "NObeyesdad");
    assert_eq!(cols[1]["type"], "double");
    let profile: Value =
        serde_json::from_str(meta["profile"].as_str().expect("profile")).expect("j");
    assert_eq!(profile["num_rows"], 2111);
    assert_eq!(profile["fingerprint"], Value::from(fp.clone()));

    let inputs = local.root().join(&exp).join(run.id()).join("inputs");
    let edges: Vec<PathBuf> = std::fs::read_dir(&inputs)
        .expect("inputs")
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(edges.len(), 1);
    let edge = read_yaml(&edges[0].join("meta.yaml"));
    assert_eq!(edge["source_type"].as_str(), Some("DATASET"));
    assert_eq!(
        edge["source_id"].as_str(),
        dirs[0].file_name().and_then(|n| n.to_str())
    );
    assert_eq!(edge["destination_type"].as_str(), Some("RUN"));
    assert_eq!(
        edge["tags"]["mlflow.data.context"].as_str(),
        Some("training")
    );
    // The run is still a run: its folder lists and reads as before.
    let again = store.get_run(run.id()).expect("run");
    assert_eq!(again.info.run_id, run.id());
    run.finish().expect("finish");
}

#[test]
fn a_dataset_mlflow_would_refuse_is_an_error_naming_the_field_and_nothing_is_written() {
    let (_d, store, local) = temp_store();
    let t = Tracker::new(store.clone()).with_git_commit(None);
    let run = t.start_run("obesity", None).expect("run");
    let long = DatasetInput::training("d", "f".repeat(64), "/x.csv");
    assert!(matches!(
        run.log_input(&long),
        Err(Error::InvalidValue {
            field: "dataset digest",
            ..
        })
    ));
    let mut bad_json = DatasetInput::training("d", "abc", "/x.csv");
    bad_json.source = "not json".into();
    assert!(matches!(
        run.log_input(&bad_json),
        Err(Error::InvalidValue {
            field: "dataset source",
            ..
        })
    ));
    assert!(dataset_dirs(&local, &run.info().experiment_id).is_empty());
    assert!(matches!(
        store.log_inputs(
            &"0".repeat(32),
            &[DatasetInput::training("d", "abc", "/x.csv")]
        ),
        Err(Error::NotFound { .. })
    ));
    run.finish().expect("finish");
}
