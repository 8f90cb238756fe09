//! The store conformance suite: every function takes `&dyn Store`, so the same behaviour is
//! checked on the `LocalStore` (here) and on the MLflow tracking-server store (in
//! `mlflow*.rs`). Names carry a random suffix so the suite can run against a shared server.

use obesity_registry::{
    CreateModelVersion, CreateRun, Error, Metric, Param, RunStatus, SearchRuns, Stage, Store, Tag,
    UpdateRun, ViewType, now_ms,
};

/// A unique suffix for names.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}

/// Creates an experiment and a RUNNING run in it; returns (experiment id, run id).
pub fn new_run(store: &dyn Store, name: &str) -> (String, String) {
    let exp = store
        .create_experiment(&unique("conf-exp"), None, &[])
        .expect("create experiment");
    let info = store
        .create_run(&CreateRun {
            experiment_id: exp.clone(),
            run_name: Some(name.to_string()),
            start_time: now_ms(),
            user_id: "tester".into(),
            tags: vec![Tag::new("team", "ml")],
        })
        .expect("create run");
    (exp, info.run_id)
}

/// Runs every behaviour.
pub fn run_all(store: &dyn Store) {
    experiments(store);
    run_lifecycle(store);
    params_are_immutable(store);
    metrics_history_and_non_finite(store);
    tags_set_and_delete(store);
    search_runs_filter_and_order(store);
    artifacts_round_trip(store);
    artifact_paths_cannot_escape(store);
    registered_models(store);
    model_versions_and_stages(store);
    aliases(store);
}

/// Experiments: create with tags, get by id and name, duplicates and missing ones.
pub fn experiments(store: &dyn Store) {
    let name = unique("conf-exp");
    let id = store
        .create_experiment(&name, None, &[Tag::new("owner", "alice")])
        .expect("create");
    let e = store.get_experiment(&id).expect("get by id");
    assert_eq!(e.name, name);
    assert_eq!(e.experiment_id, id);
    assert_eq!(e.tags.get("owner").map(String::as_str), Some("alice"));
    let by_name = store.get_experiment_by_name(&name).expect("by name");
    assert_eq!(by_name.map(|e| e.experiment_id), Some(id.clone()));
    assert!(
        store
            .get_experiment_by_name(&unique("missing"))
            .expect("lookup")
            .is_none()
    );
    let dup = store.create_experiment(&name, None, &[]).unwrap_err();
    assert!(dup.is_already_exists(), "duplicate experiment: {dup}");
    store.set_experiment_tag(&id, "stage", "dev").expect("tag");
    let e = store.get_experiment(&id).expect("get");
    assert_eq!(e.tags.get("stage").map(String::as_str), Some("dev"));
    let listed = store
        .search_experiments(ViewType::ActiveOnly)
        .expect("list");
    assert!(listed.iter().any(|e| e.experiment_id == id));
    let missing = store.get_experiment("987654321987").unwrap_err();
    assert!(missing.is_not_found(), "missing experiment: {missing}");
}

/// A run is created RUNNING, can be renamed and ended, and keeps its tags.
pub fn run_lifecycle(store: &dyn Store) {
    let (exp, run_id) = new_run(store, "lifecycle");
    let run = store.get_run(&run_id).expect("get run");
    assert_eq!(run.info.status, RunStatus::Running);
    assert_eq!(run.info.experiment_id, exp);
    assert_eq!(run.info.run_name, "lifecycle");
    assert_eq!(run.info.user_id, "tester");
    assert!(run.info.end_time.is_none());
    assert_eq!(run.tag("team"), Some("ml"));
    assert_eq!(run.tag("mlflow.runName"), Some("lifecycle"));
    let end = now_ms();
    let info = store
        .update_run(
            &run_id,
            &UpdateRun {
                status: Some(RunStatus::Finished),
                end_time: Some(end),
                run_name: Some("renamed".into()),
            },
        )
        .expect("update");
    assert_eq!(info.status, RunStatus::Finished);
    let run = store.get_run(&run_id).expect("get run");
    assert_eq!(run.info.status, RunStatus::Finished);
    assert_eq!(run.info.end_time, Some(end));
    assert_eq!(run.info.run_name, "renamed");
    assert_eq!(run.tag("mlflow.runName"), Some("renamed"));
    let missing = store
        .get_run("0123456789abcdef0123456789abcdef")
        .unwrap_err();
    assert!(missing.is_not_found(), "missing run: {missing}");
}

/// Params: same value again is fine, a different value is refused and changes nothing.
pub fn params_are_immutable(store: &dyn Store) {
    let (_, run_id) = new_run(store, "params");
    let p = [
        Param::new("max_depth", "10"),
        Param::new("criterion", "gini"),
    ];
    store.log_batch(&run_id, &[], &p, &[]).expect("log params");
    store
        .log_batch(&run_id, &[], &[Param::new("max_depth", "10")], &[])
        .expect("same value again is fine");
    let err = store
        .log_batch(&run_id, &[], &[Param::new("max_depth", "12")], &[])
        .unwrap_err();
    assert!(err.to_string().contains("max_depth"), "{err}");
    let run = store.get_run(&run_id).expect("get");
    assert_eq!(run.param("max_depth"), Some("10"));
    assert_eq!(run.param("criterion"), Some("gini"));
}

/// Metric history keeps every step in order; NaN and ±inf survive the round trip; the
/// run's metric is the value at the highest step.
pub fn metrics_history_and_non_finite(store: &dyn Store) {
    let (_, run_id) = new_run(store, "metrics");
    let t = now_ms();
    let losses: Vec<Metric> = (0..5)
        .map(|s| Metric {
            key: "loss".into(),
            value: 1.0 / (s as f64 + 1.0),
            timestamp_ms: t + s,
            step: s,
        })
        .collect();
    store.log_batch(&run_id, &losses, &[], &[]).expect("log");
    let special = [
        Metric {
            key: "nan_metric".into(),
            value: f64::NAN,
            timestamp_ms: t,
            step: 0,
        },
        Metric {
            key: "pos_inf".into(),
            value: f64::INFINITY,
            timestamp_ms: t,
            step: 0,
        },
        Metric {
            key: "neg_inf".into(),
            value: f64::NEG_INFINITY,
            timestamp_ms: t,
            step: 0,
        },
    ];
    store
        .log_batch(&run_id, &special, &[], &[])
        .expect("log non-finite");
    let history = store.get_metric_history(&run_id, "loss").expect("history");
    let mut steps: Vec<(i64, f64)> = history.iter().map(|m| (m.step, m.value)).collect();
    steps.sort_by_key(|s| s.0);
    assert_eq!(steps.len(), 5);
    for (s, v) in steps {
        assert_eq!(v, 1.0 / (s as f64 + 1.0), "step {s}");
    }
    let run = store.get_run(&run_id).expect("get");
    assert_eq!(run.metric("loss"), Some(0.2));
    assert!(run.metric("nan_metric").is_some_and(f64::is_nan));
    assert_eq!(run.metric("pos_inf"), Some(f64::INFINITY));
    assert_eq!(run.metric("neg_inf"), Some(f64::NEG_INFINITY));
}

/// Tags can be overwritten and deleted; deleting a missing tag is an error.
pub fn tags_set_and_delete(store: &dyn Store) {
    let (_, run_id) = new_run(store, "tags");
    store
        .log_batch(&run_id, &[], &[], &[Tag::new("note", "first")])
        .expect("tag");
    store
        .log_batch(&run_id, &[], &[], &[Tag::new("note", "second")])
        .expect("overwrite");
    assert_eq!(
        store.get_run(&run_id).expect("get").tag("note"),
        Some("second")
    );
    store.delete_tag(&run_id, "note").expect("delete");
    assert_eq!(store.get_run(&run_id).expect("get").tag("note"), None);
    assert!(
        store.delete_tag(&run_id, "note").is_err(),
        "deleting twice must fail"
    );
}

/// Filtering on metrics, params, tags and attributes, ordering, and max_results.
pub fn search_runs_filter_and_order(store: &dyn Store) {
    let exp = store
        .create_experiment(&unique("conf-search"), None, &[])
        .expect("exp");
    let mut ids = Vec::new();
    for (i, (acc, depth)) in [(0.80, "5"), (0.95, "10"), (0.91, "10"), (0.70, "20")]
        .iter()
        .enumerate()
    {
        let info = store
            .create_run(&CreateRun {
                experiment_id: exp.clone(),
                run_name: Some(format!("run-{i}")),
                start_time: now_ms() + i as i64,
                user_id: "tester".into(),
                tags: vec![Tag::new("kind", if i == 3 { "baseline" } else { "forest" })],
            })
            .expect("run");
        store
            .log_batch(
                &info.run_id,
                &[Metric::now("accuracy", *acc)],
                &[Param::new("max_depth", *depth)],
                &[],
            )
            .expect("log");
        ids.push(info.run_id);
    }
    let search = |filter: &str, order: &[&str], max: usize| {
        store
            .search_runs(&SearchRuns {
                experiment_ids: vec![exp.clone()],
                filter: Some(filter.to_string()),
                order_by: order.iter().map(|s| s.to_string()).collect(),
                max_results: max,
                view_type: ViewType::ActiveOnly,
            })
            .expect("search")
    };
    let hits = search(
        "metrics.accuracy > 0.9 and params.max_depth = '10'",
        &["metrics.accuracy DESC"],
        10,
    );
    let names: Vec<&str> = hits.iter().map(|r| r.info.run_name.as_str()).collect();
    assert_eq!(names, ["run-1", "run-2"]);
    let hits = search("tags.kind != 'forest'", &[], 10);
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].info.run_id, ids[3]);
    let hits = search("", &["metrics.accuracy ASC"], 2);
    let names: Vec<&str> = hits.iter().map(|r| r.info.run_name.as_str()).collect();
    assert_eq!(names, ["run-3", "run-0"]);
    let hits = search(
        "attributes.status = 'RUNNING' and metrics.accuracy <= 0.8",
        &[],
        10,
    );
    assert_eq!(hits.len(), 2);
    let bad = store.search_runs(&SearchRuns {
        experiment_ids: vec![exp.clone()],
        filter: Some("metrics.accuracy >> 0.9".into()),
        ..SearchRuns::default()
    });
    assert!(bad.is_err(), "a malformed filter must be an error");
}

/// Artifacts: write nested files, list a level, download them back.
pub fn artifacts_round_trip(store: &dyn Store) {
    let (_, run_id) = new_run(store, "artifacts");
    store
        .log_artifact(&run_id, "model/model.bin", &[0, 1, 2, 255])
        .expect("log model");
    store
        .log_artifact(&run_id, "model/pipeline.json", b"{\"a\":1}")
        .expect("log pipeline");
    store
        .log_artifact(&run_id, "report.txt", b"hello")
        .expect("log report");
    let root = store.list_artifacts(&run_id, None).expect("list root");
    let paths: Vec<(&str, bool)> = root.iter().map(|f| (f.path.as_str(), f.is_dir)).collect();
    assert!(paths.contains(&("model", true)), "{paths:?}");
    assert!(paths.contains(&("report.txt", false)), "{paths:?}");
    let model = store
        .list_artifacts(&run_id, Some("model"))
        .expect("list model");
    let mut names: Vec<&str> = model.iter().map(|f| f.path.as_str()).collect();
    names.sort();
    assert_eq!(names, ["model/model.bin", "model/pipeline.json"]);
    let size = model
        .iter()
        .find(|f| f.path == "model/model.bin")
        .and_then(|f| f.file_size);
    assert_eq!(size, Some(4));
    assert_eq!(
        store
            .download_artifact(&run_id, "model/model.bin")
            .expect("download"),
        vec![0, 1, 2, 255]
    );
    // Overwrite replaces.
    store
        .log_artifact(&run_id, "report.txt", b"bye")
        .expect("overwrite");
    assert_eq!(
        store.download_artifact(&run_id, "report.txt").expect("dl"),
        b"bye"
    );
    assert!(store.download_artifact(&run_id, "nope.txt").is_err());
}

/// `..`, absolute paths and backslashes never reach the store.
pub fn artifact_paths_cannot_escape(store: &dyn Store) {
    let (_, run_id) = new_run(store, "escape");
    for bad in [
        "../escape.txt",
        "a/../../escape.txt",
        "/etc/passwd",
        "a\\..\\b",
        "",
    ] {
        let err = store.log_artifact(&run_id, bad, b"x").unwrap_err();
        assert!(
            matches!(err, Error::InvalidArtifactPath { ref path, .. } if path == bad),
            "{bad:?}: {err}"
        );
        assert!(store.download_artifact(&run_id, bad).is_err(), "{bad:?}");
    }
}

/// Registered models: create, duplicate, tags, description, listing.
pub fn registered_models(store: &dyn Store) {
    let name = unique("conf-model");
    let m = store
        .create_registered_model(&name, &[Tag::new("task", "classification")], Some("first"))
        .expect("create");
    assert_eq!(m.name, name);
    assert_eq!(m.description.as_deref(), Some("first"));
    assert!(
        store
            .create_registered_model(&name, &[], None)
            .unwrap_err()
            .is_already_exists()
    );
    store
        .set_registered_model_tag(&name, "owner", "bob")
        .expect("tag");
    let m = store
        .update_registered_model(&name, "second")
        .expect("update");
    assert_eq!(m.description.as_deref(), Some("second"));
    let m = store.get_registered_model(&name).expect("get");
    assert_eq!(
        m.tags.get("task").map(String::as_str),
        Some("classification")
    );
    assert_eq!(m.tags.get("owner").map(String::as_str), Some("bob"));
    assert!(m.latest_versions.is_empty());
    let all = store.search_registered_models(1000).expect("list");
    assert!(all.iter().any(|m| m.name == name));
    assert!(
        store
            .get_registered_model(&unique("missing"))
            .unwrap_err()
            .is_not_found()
    );
    for bad in ["a/b", "../x"] {
        assert!(
            store.create_registered_model(bad, &[], None).is_err(),
            "{bad:?}"
        );
    }
}

fn new_version(store: &dyn Store, name: &str, run_id: &str) -> u64 {
    store
        .create_model_version(&CreateModelVersion {
            name: name.to_string(),
            source: format!("runs:/{run_id}/model"),
            run_id: Some(run_id.to_string()),
            tags: vec![Tag::new("lineage.data_fingerprint", "abc123")],
            description: Some("v".into()),
            model_id: None,
        })
        .expect("create version")
        .version
}

/// Versions are numbered 1, 2, 3; stages move with and without archiving.
pub fn model_versions_and_stages(store: &dyn Store) {
    let (_, run_id) = new_run(store, "versions");
    let name = unique("conf-model");
    store
        .create_registered_model(&name, &[], None)
        .expect("model");
    let vs: Vec<u64> = (0..3).map(|_| new_version(store, &name, &run_id)).collect();
    assert_eq!(vs, [1, 2, 3]);
    let v1 = store.get_model_version(&name, 1).expect("get");
    assert_eq!(v1.current_stage, Stage::None);
    assert_eq!(v1.run_id.as_deref(), Some(run_id.as_str()));
    assert_eq!(
        v1.tags.get("lineage.data_fingerprint").map(String::as_str),
        Some("abc123")
    );
    assert_eq!(v1.description.as_deref(), Some("v"));
    let listed: Vec<u64> = store
        .search_model_versions(&name)
        .expect("list")
        .iter()
        .map(|v| v.version)
        .collect();
    assert_eq!(listed, [1, 2, 3]);

    store
        .transition_model_version_stage(&name, 1, Stage::Production, false)
        .expect("v1 prod");
    store
        .transition_model_version_stage(&name, 2, Stage::Production, false)
        .expect("v2 prod");
    // Without archiving both are in Production.
    assert_eq!(
        store.get_model_version(&name, 1).expect("v1").current_stage,
        Stage::Production
    );
    let v3 = store
        .transition_model_version_stage(&name, 3, Stage::Production, true)
        .expect("v3 prod");
    assert_eq!(v3.current_stage, Stage::Production);
    for v in [1, 2] {
        assert_eq!(
            store
                .get_model_version(&name, v)
                .expect("get")
                .current_stage,
            Stage::Archived,
            "v{v} should be archived"
        );
    }
    let m = store.get_registered_model(&name).expect("model");
    let latest: Vec<(Stage, u64)> = m
        .latest_versions
        .iter()
        .map(|v| (v.current_stage, v.version))
        .collect();
    assert!(latest.contains(&(Stage::Production, 3)), "{latest:?}");
    assert!(latest.contains(&(Stage::Archived, 2)), "{latest:?}");

    store
        .set_model_version_tag(&name, 2, "reviewed", "yes")
        .expect("tag");
    assert_eq!(
        store
            .get_model_version(&name, 2)
            .expect("get")
            .tags
            .get("reviewed")
            .map(String::as_str),
        Some("yes")
    );
    store
        .delete_model_version_tag(&name, 2, "reviewed")
        .expect("delete tag");
    assert!(
        !store
            .get_model_version(&name, 2)
            .expect("get")
            .tags
            .contains_key("reviewed")
    );
    let v = store
        .update_model_version(&name, 2, "retired")
        .expect("describe");
    assert_eq!(v.description.as_deref(), Some("retired"));
    assert!(
        store
            .get_model_version(&name, 99)
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        store
            .create_model_version(&CreateModelVersion {
                name: unique("no-such-model"),
                source: "x".into(),
                ..CreateModelVersion::default()
            })
            .is_err()
    );
}

/// Aliases: set, move, resolve, delete.
pub fn aliases(store: &dyn Store) {
    let (_, run_id) = new_run(store, "aliases");
    let name = unique("conf-model");
    store
        .create_registered_model(&name, &[], None)
        .expect("model");
    new_version(store, &name, &run_id);
    new_version(store, &name, &run_id);
    store
        .set_registered_model_alias(&name, "champion", 1)
        .expect("alias");
    assert_eq!(
        store
            .get_model_version_by_alias(&name, "champion")
            .expect("by alias")
            .version,
        1
    );
    assert_eq!(
        store.get_model_version(&name, 1).expect("v1").aliases,
        ["champion"]
    );
    store
        .set_registered_model_alias(&name, "champion", 2)
        .expect("move");
    assert_eq!(
        store
            .get_model_version_by_alias(&name, "champion")
            .expect("by alias")
            .version,
        2
    );
    assert!(
        store
            .get_model_version(&name, 1)
            .expect("v1")
            .aliases
            .is_empty()
    );
    let m = store.get_registered_model(&name).expect("model");
    assert_eq!(m.aliases.get("champion"), Some(&2));
    store
        .delete_registered_model_alias(&name, "champion")
        .expect("delete");
    assert!(store.get_model_version_by_alias(&name, "champion").is_err());
    assert!(
        store
            .set_registered_model_alias(&name, "champion", 42)
            .is_err(),
        "alias to a missing version"
    );
}
