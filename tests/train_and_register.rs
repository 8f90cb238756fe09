//! The train-and-register chain end to end, on the synthetic fixture with a small forest.

use obesity_mlops::PipelineError;
use obesity_mlops::forest::ForestParams;
use obesity_mlops::monitor::{RetrainHandler, RetrainRequest};
use obesity_mlops::pipeline::{TrainAndRegister, TrainConfig, train_and_register};
use obesity_mlops::registry::{MODEL_FILE, Registry};

fn small_config(dir: &std::path::Path) -> TrainConfig {
    TrainConfig {
        tracking_uri: dir.join("mlruns").display().to_string(),
        out_dir: dir.join("out"),
        forest: ForestParams::builder()
            .n_estimators(20)
            .seed(7)
            .build()
            .expect("valid params"),
        cv_folds: 3,
        ..TrainConfig::default()
    }
}

#[test]
fn running_twice_gives_two_versions_with_identical_metrics_and_model_bytes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = small_config(dir.path());
    let first = train_and_register(&config).expect("first run");
    let second = train_and_register(&config).expect("second run");

    assert_eq!(first.model.version, 1);
    assert_eq!(second.model.version, 2);
    assert_ne!(first.run_id, second.run_id);
    assert_eq!(first.test, second.test, "same seed, same metrics");
    assert_eq!(first.data.fingerprint, second.data.fingerprint);

    let registry = Registry::open(&config.tracking_uri).expect("open registry");
    let v1 = registry
        .artifact(&config.model_name, 1, MODEL_FILE)
        .expect("v1 model");
    let v2 = registry
        .artifact(&config.model_name, 2, MODEL_FILE)
        .expect("v2 model");
    assert!(!v1.is_empty());
    assert_eq!(v1, v2, "same seed, byte-identical model");

    // Every version is an MLflow Model directory with the forest as ONNX (issue 15): the
    // same seed gives the same model.onnx, and the MLmodel has the Python flavors.
    let onnx = |v| {
        registry
            .artifact(&config.model_name, v, obesity_mlops::registry::ONNX_FILE)
            .expect("model.onnx")
    };
    assert!(!onnx(1).is_empty());
    assert_eq!(onnx(1), onnx(2), "same seed, byte-identical model.onnx");
    let mlmodel = registry
        .mlmodel(&config.model_name, 1)
        .expect("read")
        .expect("an MLmodel");
    for needle in [
        "loader_module: obesity_onnx_pyfunc",
        "obesity_rs:",
        "onnx:",
        "saved_input_example_info:",
    ] {
        assert!(mlmodel.contains(needle), "{needle} missing from\n{mlmodel}");
    }
    let version = registry.version(&config.model_name, 1).expect("version");
    assert!(
        version.model_id.is_some(),
        "the local store keeps logged models"
    );

    // The synthetic data is easy: the first version becomes the champion; the second ties
    // it, and a tie never replaces a champion.
    assert_eq!(first.model.stage, "Production");
    assert!(first.model.aliases.contains(&"champion".to_owned()));
    assert!(!second.model.aliases.contains(&"champion".to_owned()));
    let champion = registry
        .resolve_str(&format!("models:/{}@champion", config.model_name))
        .expect("champion alias resolves");
    assert_eq!(champion.version, 1);

    // The loaded champion predicts like the run's model did.
    let loaded = registry
        .load_str(&format!("models:/{}@champion", config.model_name))
        .expect("load champion");
    assert_eq!(loaded.classifier.n_classes(), 7);
    assert!(loaded.pipeline_json.is_some());

    // Charts were written.
    for path in &first.artifacts {
        let bytes = std::fs::read(path).expect("artifact exists");
        assert!(!bytes.is_empty(), "{} is empty", path.display());
    }
    assert!(
        first.test["accuracy"] > 0.8,
        "accuracy {}",
        first.test["accuracy"]
    );
}

#[test]
fn a_retrain_registers_a_challenger_and_never_takes_the_champion_alias() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = small_config(dir.path());
    let first = train_and_register(&config).expect("first run");
    assert!(first.model.aliases.contains(&"champion".to_owned()));

    // A retrain with more trees may well score higher; it still only becomes the challenger.
    let mut better = config.clone();
    better.forest = ForestParams::builder()
        .n_estimators(60)
        .seed(8)
        .build()
        .expect("params");
    let mut handler = TrainAndRegister::new(better);
    let request = RetrainRequest {
        actor: "test".to_owned(),
        at: chrono::Utc::now(),
        reasons: Vec::new(),
    };
    let result = handler.retrain(&request).expect("retrain");
    assert_eq!(result.new_version, "2");

    let registry = Registry::open(&config.tracking_uri).expect("open registry");
    let champion = registry
        .resolve_str(&format!("models:/{}@champion", config.model_name))
        .expect("champion");
    assert_eq!(
        champion.version, 1,
        "the retrain must not move the champion alias"
    );
    let v2 = registry.version(&config.model_name, 2).expect("v2");
    assert!(!v2.aliases.contains(&"champion".to_owned()));
}

#[test]
fn a_bad_data_file_is_an_error_naming_the_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let csv = dir.path().join("bad.csv");
    let good = std::fs::read_to_string(TrainConfig::default().data).expect("fixture");
    let mut lines: Vec<String> = good.lines().map(str::to_owned).collect();
    // Line 4 as an editor numbers it (the header is line 1): a non-numeric age.
    let mut fields: Vec<String> = lines[3].split(',').map(str::to_owned).collect();
    fields[1] = "twenty".to_owned();
    lines[3] = fields.join(",");
    std::fs::write(&csv, lines.join("\n")).expect("write");

    let mut config = small_config(dir.path());
    config.data = csv;
    let err = train_and_register(&config).expect_err("bad row must fail");
    assert!(matches!(err, PipelineError::Data(_)), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("bad.csv:4:") || message.contains("line 4"),
        "{message}"
    );
    assert!(message.contains("twenty"), "{message}");
    // Nothing was registered.
    assert!(
        Registry::open(&config.tracking_uri)
            .and_then(|r| r.versions(&config.model_name))
            .map(|v| v.is_empty())
            .unwrap_or(true)
    );
}

#[test]
fn an_unknown_key_in_a_config_file_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("config.json");
    std::fs::write(&path, r#"{"model_nmae": "typo"}"#).expect("write");
    let err = TrainConfig::from_json_file(&path).expect_err("unknown key");
    assert!(err.to_string().contains("model_nmae"), "{err}");
}

#[test]
fn the_stage_functions_compose_to_what_train_and_register_gives() {
    use obesity_mlops::pipeline::{
        evaluate, featurize, load_and_validate, register, split, train, write_reports,
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let config = small_config(dir.path());
    let whole = train_and_register(&config).expect("whole chain");

    let mut by_hand = config.clone();
    by_hand.tracking_uri = dir.path().join("other").display().to_string();
    by_hand.out_dir = dir.path().join("other-out");
    let data = load_and_validate(&by_hand.data).expect("load");
    let rows = split(&data, by_hand.test_fraction, by_hand.seed).expect("split");
    let features = featurize(&data, rows, by_hand.features).expect("features");
    let trained = train(&features, &by_hand.train_spec()).expect("train");
    let evaluation = evaluate(trained.model.as_ref(), &features.test).expect("evaluate");
    let artifacts =
        write_reports(&by_hand.out_dir, &data, &features, &trained, &evaluation).expect("reports");
    let registered = register(
        &data,
        &features,
        &trained,
        &evaluation,
        &artifacts,
        &by_hand.register_spec(),
    )
    .expect("register");

    assert_eq!(evaluation.test, whole.test);
    assert_eq!(trained.cv_scores(), whole.cv);
    assert_eq!(registered.model.version, 1);
    assert_eq!(registered.model.aliases, whole.model.aliases);
    let model = |uri: &str| {
        Registry::open(uri)
            .and_then(|r| r.artifact(&config.model_name, 1, MODEL_FILE))
            .expect("model bytes")
    };
    assert_eq!(model(&config.tracking_uri), model(&by_hand.tracking_uri));

    // Lineage: the params hash is the same for the same params, and differs with them.
    let tag = |uri: &str, v: u64| {
        Registry::open(uri)
            .and_then(|r| r.version(&config.model_name, v))
            .expect("version")
            .tags
            .get(obesity_mlops::pipeline::PARAMS_HASH_TAG)
            .cloned()
            .expect("params hash tag")
    };
    assert_eq!(tag(&config.tracking_uri, 1), tag(&by_hand.tracking_uri, 1));
    assert_eq!(tag(&config.tracking_uri, 1).len(), 64);
    let mut other = config.clone();
    other.cv_folds = 2;
    train_and_register(&other).expect("third run");
    assert_ne!(tag(&config.tracking_uri, 1), tag(&config.tracking_uri, 2));

    // Every run has its own readable name; per-fold CV values are the steps of one metric.
    let tracker = obesity_mlops::registry::Tracker::open(&config.tracking_uri).expect("tracker");
    let runs = tracker
        .search_runs(&config.experiment, "", &[], 10)
        .expect("runs");
    let names: std::collections::BTreeSet<&str> =
        runs.iter().map(|r| r.info.run_name.as_str()).collect();
    assert_eq!(names.len(), runs.len(), "{names:?}");
    assert!(names.iter().any(|n| n.contains("-20t-")), "{names:?}");
    let history = tracker
        .store()
        .get_metric_history(&whole.run_id, "cv_accuracy_fold")
        .expect("history");
    assert_eq!(history.len(), config.cv_folds);
}

#[test]
fn the_shipped_params_yaml_holds_the_documented_defaults() {
    use obesity_mlops::params::Params;
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("params.yaml");
    let params = Params::from_file(&path).expect("params.yaml parses");
    let mut expected = Params::default();
    expected.data.path = "fixtures/obesity_synthetic.csv".into();
    assert_eq!(params, expected);
    // The JSON config's defaults are the same job. (A tracking URI is given so that
    // train_config never consults the user's $MLFLOW_TRACKING_URI.)
    let mut params = params;
    params.registry.tracking_uri = Some("unused-test-store".into());
    let from_yaml = params.train_config();
    let from_json = TrainConfig::default();
    assert_eq!(from_yaml.forest, from_json.forest);
    assert_eq!(from_yaml.features, from_json.features);
    assert_eq!(from_yaml.promotion, from_json.promotion);
    assert_eq!(
        (from_yaml.cv_folds, from_yaml.seed, from_yaml.test_fraction),
        (from_json.cv_folds, from_json.seed, from_json.test_fraction)
    );
}

#[test]
fn an_unknown_key_in_params_yaml_names_the_key_the_file_and_the_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("params.yaml");
    let text = "data:\n  seed: 1\npromotion:\n  metric: f1_macro\n  production_treshold: 0.5\n";
    std::fs::write(&path, text).expect("write");
    for err in [
        TrainConfig::from_file(&path).expect_err("unknown key"),
        obesity_mlops::params::Params::from_file(&path).expect_err("unknown key"),
    ] {
        assert!(matches!(err, PipelineError::Params { .. }), "{err:?}");
        let message = err.to_string();
        assert!(message.contains("production_treshold"), "{message}");
        assert!(
            message.contains(&format!("{}:5:", path.display())),
            "{message}"
        );
    }
    // A bad value inside a known section is caught too (the forest validates its params).
    std::fs::write(&path, "forest:\n  n_estimators: 0\n").expect("write");
    let err = TrainConfig::from_file(&path).expect_err("zero trees");
    assert!(err.to_string().contains("n_estimators"), "{err}");
}
