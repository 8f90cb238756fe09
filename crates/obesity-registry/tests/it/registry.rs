//! Registry: register, load (with the real forest), resolve references, stages, aliases,
//! compare, attached artifacts.

use std::sync::Arc;

use ndarray::{Array1, array};
use obesity_features::{FeaturePipeline, FittedPipeline};
use obesity_forest::{ForestParams, RandomForest, load_classifier};
use obesity_registry::{
    Error, Lineage, ModelRef, NewVersion, Registry, Signature, Stage, Store, Tracker,
};

use crate::temp_store;

/// A real pipeline and a forest trained behind it on synthetic records.
fn trained(seed: u64) -> (FittedPipeline, Vec<u8>, Vec<obesity_data::ObesityRecord>) {
    let records = obesity_data::synth::generate(120, seed);
    let pipeline = FeaturePipeline::standard()
        .fit(&records)
        .expect("fit pipeline");
    let data = pipeline.dataset(&records).expect("dataset");
    let params = ForestParams::builder()
        .n_estimators(5)
        .seed(seed)
        .build()
        .expect("params");
    let forest = RandomForest::fit(&params, data.x.view(), data.y.view(), 7).expect("fit");
    (pipeline, forest.to_bytes().expect("bytes"), records)
}

fn forest_bytes(seed: u64) -> Vec<u8> {
    let x = array![
        [1.0f32, 0.0],
        [2.0, 0.0],
        [3.0, 1.0],
        [4.0, 1.0],
        [5.0, 1.0],
        [6.0, 0.0]
    ];
    let y: Array1<usize> = array![0, 0, 0, 1, 1, 1];
    let params = ForestParams::builder()
        .n_estimators(5)
        .seed(seed)
        .build()
        .expect("params");
    let forest = RandomForest::fit(&params, x.view(), y.view(), 2).expect("fit");
    forest.to_bytes().expect("bytes")
}

fn logged_run(store: &Arc<dyn Store>, acc: f64, depth: &str) -> String {
    let t = Tracker::new(store.clone()).with_git_commit(None);
    let run = t.start_run("obesity", None).expect("run");
    run.log_param("max_depth", depth).expect("param");
    run.log_metric("accuracy", acc).expect("metric");
    let id = run.id().to_string();
    run.finish().expect("finish");
    id
}

fn signature() -> Signature {
    Signature::new(
        vec![obesity_registry::InputField {
            name: "Age".into(),
            field_type: obesity_registry::FieldType::Numeric {
                min: Some(0.0),
                max: Some(120.0),
            },
        }],
        vec!["thin".into(), "fat".into()],
    )
    .expect("signature")
}

#[test]
fn register_then_load_by_number_alias_stage_and_latest() {
    let (_d, store, _) = temp_store();
    let reg = Registry::new(store.clone());
    let run = logged_run(&store, 0.93, "10");
    let (pipeline, bytes, records) = trained(7);
    let v = reg
        .register(
            NewVersion::new("obesity-rf", &run, bytes.clone())
                .pipeline(&pipeline)
                .expect("pipeline")
                .signature(signature())
                .data_fingerprint("feedbeef")
                .app_version("my-app 1.2.3")
                .description("first")
                .tag("owner", "ml"),
        )
        .expect("register");
    assert_eq!(v.version, 1);
    assert_eq!(v.current_stage, Stage::None);
    assert_eq!(v.run_id.as_deref(), Some(run.as_str()));
    assert_eq!(v.description.as_deref(), Some("first"));
    assert!(v.source.ends_with("/artifacts/model"), "{}", v.source);
    assert_eq!(v.tags["owner"], "ml");
    assert_eq!(v.tags["lineage.data_fingerprint"], "feedbeef");
    // The application's version, as it gave it: not the registry crate's (issue 13, item 8).
    assert_eq!(v.tags["lineage.app_version"], "my-app 1.2.3");
    assert!(
        !v.tags.contains_key("lineage.crate_version"),
        "{:?}",
        v.tags
    );
    // Issue 16: a few tags, not one per param and metric; the lineage is the artifact.
    assert!(
        !v.tags
            .keys()
            .any(|k| k.starts_with("param.") || k.starts_with("metric.")),
        "{:?}",
        v.tags
    );
    assert_eq!(v.tags["lineage.params_hash"].len(), 64);
    assert!(v.tags.len() <= 7, "{:?}", v.tags);
    let lineage = reg.lineage(&v).expect("lineage");
    assert_eq!(lineage.params["max_depth"], "10");
    assert_eq!(lineage.metrics["accuracy"], 0.93);
    assert_eq!(lineage.data_fingerprint.as_deref(), Some("feedbeef"));
    assert_eq!(lineage.app_version, "my-app 1.2.3");
    assert_eq!(v.tags["lineage.params_hash"], lineage.params_hash());

    let loaded = reg.load_str("models:/obesity-rf/1").expect("load");
    assert_eq!(loaded.classifier.n_features(), 32);
    assert_eq!(loaded.classifier.to_bytes().expect("bytes"), bytes);
    assert_eq!(
        loaded.pipeline_json.as_deref(),
        Some(pipeline.to_json().expect("json").as_bytes())
    );
    // The loaded pipeline + classifier predict exactly as the originals.
    let loaded_pipeline = loaded.pipeline.as_ref().expect("pipeline");
    let x = loaded_pipeline.transform(&records).expect("transform");
    assert_eq!(x, pipeline.transform(&records).expect("transform"));
    let original = load_classifier(&bytes).expect("original");
    assert_eq!(
        loaded.classifier.predict(x.view()).expect("predict"),
        original.predict(x.view()).expect("predict")
    );
    assert_eq!(loaded.signature, Some(signature()));
    assert_eq!(loaded.lineage.data_fingerprint.as_deref(), Some("feedbeef"));
    assert_eq!(loaded.lineage.metrics["accuracy"], 0.93);

    let run2 = logged_run(&store, 0.95, "12");
    let v2 = reg
        .register(NewVersion::new("obesity-rf", &run2, forest_bytes(8)))
        .expect("v2");
    assert_eq!(v2.version, 2);
    reg.transition("obesity-rf", 1, Stage::Production, false)
        .expect("prod");
    reg.set_alias("obesity-rf", "champion", 2).expect("alias");
    assert_eq!(
        reg.resolve_str("obesity-rf@champion")
            .expect("alias")
            .version,
        2
    );
    assert_eq!(
        reg.resolve_str("models:/obesity-rf/Production")
            .expect("stage")
            .version,
        1
    );
    assert_eq!(
        reg.resolve_str("models:/obesity-rf/latest")
            .expect("latest")
            .version,
        2
    );
    assert!(
        reg.resolve_str("models:/obesity-rf/Staging")
            .unwrap_err()
            .is_not_found()
    );
    let loaded = reg
        .load(&ModelRef::Alias {
            name: "obesity-rf".into(),
            alias: "champion".into(),
        })
        .expect("load");
    assert_eq!(loaded.version.version, 2);
    assert!(loaded.pipeline.is_none() && loaded.pipeline_json.is_none());
    assert!(loaded.signature.is_none());

    // Moving an alias.
    reg.set_alias("obesity-rf", "champion", 1).expect("move");
    assert_eq!(
        reg.resolve_str("obesity-rf@champion")
            .expect("alias")
            .version,
        1
    );
    reg.delete_alias("obesity-rf", "champion").expect("delete");
    assert!(reg.resolve_str("obesity-rf@champion").is_err());

    let versions = reg.versions("obesity-rf").expect("versions");
    assert_eq!(
        versions.iter().map(|v| v.version).collect::<Vec<_>>(),
        [1, 2]
    );
    assert_eq!(reg.models().expect("models").len(), 1);
}

#[test]
fn corrupt_model_bytes_give_a_typed_error_naming_the_version() {
    let (_d, store, _) = temp_store();
    let reg = Registry::new(store.clone());
    let run = logged_run(&store, 0.9, "3");
    let mut truncated = forest_bytes(3);
    truncated.truncate(truncated.len() / 2);
    reg.register(NewVersion::new("m", &run, truncated))
        .expect("register");
    let err = reg.load_str("m/1").unwrap_err();
    assert!(
        matches!(err, Error::Model { ref name, version: 1, .. } if name == "m"),
        "{err}"
    );
    // Bytes with no known header at all are another format, with a hint.
    let run = logged_run(&store, 0.9, "3");
    reg.register(NewVersion::new("m", &run, b"not a model".to_vec()))
        .expect("register");
    let err = reg.load_str("m/2").unwrap_err();
    assert!(
        matches!(err, Error::UnknownModelFormat { ref name, version: 2, .. } if name == "m"),
        "{err}"
    );
}

#[test]
fn an_unreadable_pipeline_is_a_typed_error() {
    let (_d, store, _) = temp_store();
    let reg = Registry::new(store.clone());
    let run = logged_run(&store, 0.9, "3");
    reg.register(
        NewVersion::new("m", &run, forest_bytes(1)).pipeline_json(b"{\"steps\": []}".to_vec()),
    )
    .expect("register");
    let err = reg.load_str("m/1").unwrap_err();
    assert!(matches!(err, Error::Pipeline { version: 1, .. }), "{err}");
}

#[test]
fn register_rejects_bad_names_and_missing_runs() {
    let (_d, store, _) = temp_store();
    let reg = Registry::new(store.clone());
    let run = logged_run(&store, 0.9, "3");
    assert!(
        reg.register(NewVersion::new("../evil", &run, vec![1]))
            .is_err()
    );
    assert!(
        reg.register(NewVersion::new("m", &run, vec![1]).artifact_path("../x"))
            .is_err()
    );
    assert!(
        reg.register(NewVersion::new("m", &run, vec![1]).extra_artifact("a/b.json", vec![]))
            .is_err()
    );
    let err = reg
        .register(NewVersion::new(
            "m",
            "0123456789abcdef0123456789abcdef",
            vec![1],
        ))
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert!(
        reg.versions("m").unwrap_err().is_not_found(),
        "nothing registered"
    );
}

#[test]
fn attached_artifacts_live_next_to_the_model() {
    let (_d, store, _) = temp_store();
    let reg = Registry::new(store.clone());
    let run = logged_run(&store, 0.9, "3");
    reg.register(NewVersion::new("m", &run, vec![1, 2]).extra_artifact("notes.txt", b"n".to_vec()))
        .expect("register");
    reg.attach_artifact("m", 1, "reference_profile.json", b"{\"rows\":3}")
        .expect("attach");
    assert_eq!(
        reg.artifact("m", 1, "reference_profile.json")
            .expect("read"),
        b"{\"rows\":3}"
    );
    assert_eq!(reg.artifact("m", 1, "notes.txt").expect("read"), b"n");
    assert_eq!(reg.artifact("m", 1, "model.bin").expect("read"), [1, 2]);
    assert!(reg.attach_artifact("m", 1, "../../escape", b"x").is_err());
    assert!(
        reg.artifact("m", 2, "model.bin")
            .unwrap_err()
            .is_not_found()
    );
}

#[test]
fn compare_shows_params_and_metrics_side_by_side() {
    let (_d, store, _) = temp_store();
    let reg = Registry::new(store.clone());
    let r1 = logged_run(&store, 0.90, "10");
    let r2 = logged_run(&store, 0.94, "12");
    let mut lineage = Lineage::current();
    lineage.git_commit = Some("aaa".into());
    reg.register(
        NewVersion::new("m", &r1, vec![1])
            .lineage(lineage.clone())
            .data_fingerprint("f1"),
    )
    .expect("v1");
    reg.register(
        NewVersion::new("m", &r2, vec![2])
            .lineage(lineage)
            .data_fingerprint("f1"),
    )
    .expect("v2");
    let c = reg.compare("m", 1, 2).expect("compare");
    let depth = c
        .params
        .iter()
        .find(|r| r.key == "max_depth")
        .expect("param row");
    assert_eq!(
        (depth.left.as_deref(), depth.right.as_deref(), depth.differs),
        (Some("10"), Some("12"), true)
    );
    let acc = c
        .metrics
        .iter()
        .find(|r| r.key == "accuracy")
        .expect("metric row");
    assert_eq!(
        (acc.left, acc.right, acc.differs),
        (Some(0.90), Some(0.94), true)
    );
    let fp = c
        .lineage
        .iter()
        .find(|r| r.key == "data_fingerprint")
        .expect("fp row");
    assert!(!fp.differs);
    let run_row = c
        .lineage
        .iter()
        .find(|r| r.key == "run_id")
        .expect("run row");
    assert!(run_row.differs);
    let mut diffs = c.differences();
    diffs.sort_unstable();
    assert_eq!(diffs, ["accuracy", "max_depth"]);
    let text = c.to_string();
    assert!(text.contains("v1") && text.contains("v2"), "{text}");
    assert!(text.contains("* max_depth"), "{text}");
    assert!(text.contains("+0.040000"), "{text}");
    let json = serde_json::to_value(&c).expect("json");
    assert_eq!(json["left_version"], 1);
    assert!(reg.compare("m", 1, 3).unwrap_err().is_not_found());
}

/// Regression: two versions registered from one run with the default artifact folder used to
/// share `<run>/artifacts/model/model.bin`, so loading version 1 returned version 2's model.
#[test]
fn a_second_version_from_the_same_run_never_overwrites_the_first_ones_files() {
    let (_dir, store, _local) = temp_store();
    let registry = Registry::new(store.clone());
    let run_id = logged_run(&store, 0.95, "10");
    let first = forest_bytes(1);
    let second = forest_bytes(2);
    assert_ne!(first, second);
    registry
        .register(NewVersion::new("twice", &run_id, first.clone()))
        .expect("first version");

    let err = registry
        .register(NewVersion::new("twice", &run_id, second.clone()))
        .expect_err("same folder must be refused");
    assert!(err.is_already_exists(), "{err}");
    assert_eq!(
        registry
            .artifact("twice", 1, obesity_registry::MODEL_FILE)
            .expect("v1 bytes"),
        first,
        "version 1's model is untouched"
    );

    let v2 = registry
        .register(NewVersion::new("twice", &run_id, second.clone()).artifact_path("model-2"))
        .expect("second version in its own folder");
    assert_eq!(v2.version, 2);
    assert_eq!(
        registry
            .artifact("twice", 2, obesity_registry::MODEL_FILE)
            .expect("v2 bytes"),
        second
    );
    assert_eq!(
        registry
            .artifact("twice", 1, obesity_registry::MODEL_FILE)
            .expect("v1 bytes"),
        first
    );
}

/// An application's own transform, stored in its own format (issue 13, item 2).
#[derive(Debug, PartialEq)]
struct Scale {
    factor: f32,
}

fn scale_loader() -> obesity_registry::PipelineLoader {
    Arc::new(|bytes: &[u8]| {
        let text = std::str::from_utf8(bytes)?;
        let factor: f32 = text
            .strip_prefix("scale=")
            .ok_or("expected `scale=<number>`")?
            .parse()?;
        Ok(Arc::new(Scale { factor }) as Arc<dyn std::any::Any + Send + Sync>)
    })
}

fn register_scaled(reg: &Registry, store: &Arc<dyn Store>, body: &[u8]) -> u64 {
    let run = logged_run(store, 0.9, "3");
    reg.register(
        NewVersion::new("scaled", run, forest_bytes(3))
            .custom_pipeline("my_app.Scale", body.to_vec()),
    )
    .expect("register")
    .version
}

#[test]
fn a_version_holds_any_pipeline_the_app_registers_a_loader_for() {
    let (_d, store, _) = temp_store();
    let writer = Registry::new(store.clone());
    let v = register_scaled(&writer, &store, b"scale=2.5");
    let version = writer.version("scaled", v).expect("version");
    assert_eq!(
        version
            .tags
            .get(obesity_registry::PIPELINE_KIND_TAG)
            .map(String::as_str),
        Some("my_app.Scale")
    );
    let bytes = writer
        .artifact("scaled", v, obesity_registry::CUSTOM_PIPELINE_FILE)
        .expect("stored bytes");
    assert_eq!(bytes, b"scale=2.5");

    let reader = Registry::new(store.clone()).with_pipeline_loader("my_app.Scale", scale_loader());
    let loaded = reader.load_str("models:/scaled/1").expect("load");
    assert!(loaded.pipeline.is_none(), "not the default kind");
    let custom = loaded.custom_pipeline.as_ref().expect("custom pipeline");
    assert_eq!(custom.kind(), "my_app.Scale");
    assert_eq!(loaded.pipeline_as::<Scale>(), Some(&Scale { factor: 2.5 }));
    assert!(loaded.pipeline_as::<FittedPipeline>().is_none());
    // The classifier still loads with the default loader.
    assert_eq!(loaded.classifier.n_classes(), 2);
}

#[test]
fn a_default_pipeline_is_reachable_through_pipeline_as_too() {
    let (_d, store, _) = temp_store();
    let reg = Registry::new(store.clone());
    let run = logged_run(&store, 0.93, "10");
    let (pipeline, bytes, _) = trained(5);
    reg.register(
        NewVersion::new("obesity-rf", run, bytes)
            .pipeline(&pipeline)
            .expect("pipeline"),
    )
    .expect("register");
    let loaded = reg.load_str("models:/obesity-rf/1").expect("load");
    assert!(loaded.custom_pipeline.is_none());
    let back = loaded
        .pipeline_as::<FittedPipeline>()
        .expect("default kind");
    assert_eq!(
        back.to_json().expect("json"),
        pipeline.to_json().expect("json")
    );
    assert!(
        !reg.version("obesity-rf", 1)
            .expect("version")
            .tags
            .contains_key(obesity_registry::PIPELINE_KIND_TAG),
        "the default kind needs no tag"
    );
}

#[test]
fn a_pipeline_kind_without_a_loader_says_how_to_register_one() {
    let (_d, store, _) = temp_store();
    let reg = Registry::new(store.clone());
    register_scaled(&reg, &store, b"scale=2.5");
    let err = reg.load_str("models:/scaled/1").unwrap_err();
    assert!(matches!(err, Error::NoPipelineLoader { ref kind, .. } if kind == "my_app.Scale"));
    let msg = err.to_string();
    assert!(
        msg.contains("with_pipeline_loader(\"my_app.Scale\"")
            && msg.contains("obesity_features.FittedPipeline"),
        "{msg}"
    );
}

#[test]
fn a_failing_pipeline_loader_names_the_version_and_the_kind() {
    let (_d, store, _) = temp_store();
    let reg = Registry::new(store.clone()).with_pipeline_loader("my_app.Scale", scale_loader());
    register_scaled(&reg, &store, b"factor=2");
    let err = reg.load_str("models:/scaled/1").unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::CustomPipeline { .. }), "{msg}");
    assert!(
        msg.contains("scaled version 1")
            && msg.contains("my_app.Scale")
            && msg.contains("scale=<number>"),
        "{msg}"
    );
}

#[test]
fn a_pipeline_kind_must_be_a_plain_name_and_not_the_default() {
    let (_d, store, _) = temp_store();
    let reg = Registry::new(store.clone());
    for kind in ["", "my app", "a/b", obesity_registry::DEFAULT_PIPELINE_KIND] {
        let run = logged_run(&store, 0.9, "3");
        let err = reg
            .register(
                NewVersion::new("scaled", run, forest_bytes(3)).custom_pipeline(kind, vec![1]),
            )
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::InvalidName {
                    what: "pipeline kind",
                    ..
                }
            ),
            "{kind:?}: {err}"
        );
    }
    assert!(reg.versions("scaled").map(|v| v.is_empty()).unwrap_or(true));
}

#[test]
fn another_crates_model_gets_an_error_that_says_how_to_register_its_loader() {
    let (_d, store, _) = temp_store();
    let reg = Registry::new(store.clone());
    let run = logged_run(&store, 0.9, "3");
    reg.register(NewVersion::new(
        "centroid",
        run,
        b"CENTROID v1 0.5 0.25".to_vec(),
    ))
    .expect("register");
    let err = reg.load_str("models:/centroid/1").unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::UnknownModelFormat { .. }), "{msg}");
    assert!(msg.contains("Registry::with_loader"), "{msg}");

    // With the app's own loader, the same version loads; its errors are its own.
    let custom: obesity_registry::ClassifierLoader = Arc::new(|_bytes: &[u8]| {
        Err(obesity_forest::ModelError::UnknownFormat {
            found: "x".into(),
            known: "CENTROID".into(),
        })
    });
    let err = Registry::new(store)
        .with_loader(custom)
        .load_str("models:/centroid/1")
        .unwrap_err();
    assert!(matches!(err, Error::Model { .. }), "{err}");
}

/// Issue 16: versions registered before the lineage moved into `lineage.json` carry it as
/// one tag per param and metric; reading, comparing and the policy still see it.
#[test]
fn the_lineage_of_a_version_of_the_old_tag_layout_is_still_read() {
    let (_d, store, _) = temp_store();
    let reg = Registry::new(store.clone());
    let run = Tracker::new(store.clone())
        .start_run("obesity", None)
        .expect("run");
    let run_id = run.id().to_string();
    run.finish().expect("finish");
    store
        .create_registered_model("old", &[], None)
        .expect("model");
    let tag = |k: &str, v: &str| obesity_registry::Tag::new(k, v);
    let v = store
        .create_model_version(&obesity_registry::CreateModelVersion {
            name: "old".into(),
            source: format!("runs:/{run_id}/model"),
            run_id: Some(run_id.clone()),
            tags: vec![
                tag("lineage.data_fingerprint", "abc"),
                tag("lineage.crate_version", "0.0.9"),
                tag("param.max_depth", "10"),
                tag("metric.accuracy", "0.91"),
            ],
            description: None,
            model_id: None,
        })
        .expect("old version");
    let lineage = reg.lineage(&v).expect("lineage from tags");
    assert_eq!(lineage.params["max_depth"], "10");
    assert_eq!(lineage.metrics["accuracy"], 0.91);
    assert_eq!(lineage.data_fingerprint.as_deref(), Some("abc"));
    assert_eq!(
        lineage.app_version, "0.0.9",
        "read from the old lineage.crate_version tag"
    );
    assert_eq!(lineage.run_id.as_deref(), Some(run_id.as_str()));
    // The policy reads the metric from it (the run itself logged none).
    let d = reg
        .plan_promotion(
            "old",
            v.version,
            &obesity_registry::PromotionPolicy::default(),
        )
        .expect("plan");
    assert_eq!(d.value, 0.91);

    // A corrupt artifact is an error naming the file, not a silent empty lineage.
    store
        .log_artifact(&run_id, "model/lineage.json", b"{not json")
        .expect("artifact");
    let err = reg.lineage(&v).expect_err("corrupt lineage");
    assert!(err.to_string().contains("lineage.json"), "{err}");
}
