//! LocalStore: the conformance suite, and MLflow's file layout byte for byte.

use std::fs;
use std::path::Path;

use obesity_registry::{
    CreateModelVersion, CreateRun, Error, LocalStore, Metric, Param, RunStatus, Stage, Store, Tag,
    UpdateRun, now_ms,
};

use crate::conformance;
use crate::temp_store;

#[test]
fn local_store_passes_the_conformance_suite() {
    let (_dir, _store, local) = temp_store();
    conformance::run_all(&local);
}

fn read(p: &Path) -> String {
    fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn yaml(p: &Path) -> serde_yaml_ng::Value {
    serde_yaml_ng::from_str(&read(p)).expect("yaml")
}

#[test]
fn default_experiment_and_trash_exist() {
    let (_dir, _s, local) = temp_store();
    let root = local.root();
    assert!(root.join(".trash").is_dir());
    assert!(root.join("models").is_dir());
    let meta = yaml(&root.join("0/meta.yaml"));
    assert_eq!(meta["name"].as_str(), Some("Default"));
    assert_eq!(
        meta["experiment_id"].as_str(),
        Some("0"),
        "experiment_id must be a string"
    );
    assert_eq!(meta["lifecycle_stage"].as_str(), Some("active"));
    assert!(
        meta["artifact_location"]
            .as_str()
            .is_some_and(|s| s.starts_with("file:///"))
    );
    assert!(meta["creation_time"].as_i64().is_some());
    assert!(meta["last_update_time"].as_i64().is_some());
    // Re-opening does not rewrite it.
    let before = read(&root.join("0/meta.yaml"));
    LocalStore::open(root).expect("reopen");
    assert_eq!(read(&root.join("0/meta.yaml")), before);
}

#[test]
fn run_files_follow_mlflow_layout() {
    let (_dir, _s, local) = temp_store();
    let exp = local
        .create_experiment("layout", None, &[Tag::new("k", "v")])
        .expect("exp");
    let info = local
        .create_run(&CreateRun {
            experiment_id: exp.clone(),
            run_name: Some("r1".into()),
            start_time: 1_700_000_000_000,
            user_id: "alice".into(),
            tags: vec![],
        })
        .expect("run");
    assert_eq!(info.run_id.len(), 32);
    assert!(
        info.run_id
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );
    local
        .log_batch(
            &info.run_id,
            &[
                Metric {
                    key: "acc".into(),
                    value: 0.5,
                    timestamp_ms: 1000,
                    step: 0,
                },
                Metric {
                    key: "acc".into(),
                    value: f64::NAN,
                    timestamp_ms: 1001,
                    step: 1,
                },
                Metric {
                    key: "acc".into(),
                    value: f64::NEG_INFINITY,
                    timestamp_ms: 1002,
                    step: 2,
                },
                Metric {
                    key: "cv/fold1".into(),
                    value: 1.0,
                    timestamp_ms: 1003,
                    step: 0,
                },
            ],
            &[Param::new("max_depth", "10")],
            &[Tag::new("note", "hello")],
        )
        .expect("log");
    local
        .update_run(
            &info.run_id,
            &UpdateRun {
                status: Some(RunStatus::Killed),
                end_time: Some(5),
                run_name: None,
            },
        )
        .expect("end");
    let root = local.root();
    let exp_dir = root.join(&exp);
    let exp_meta = yaml(&exp_dir.join("meta.yaml"));
    assert_eq!(exp_meta["name"].as_str(), Some("layout"));
    assert_eq!(read(&exp_dir.join("tags/k")), "v");
    let run_dir = exp_dir.join(&info.run_id);
    let meta = yaml(&run_dir.join("meta.yaml"));
    assert_eq!(
        meta["status"].as_i64(),
        Some(5),
        "status is MLflow's integer code"
    );
    assert_eq!(meta["user_id"].as_str(), Some("alice"));
    assert_eq!(meta["run_id"].as_str(), Some(info.run_id.as_str()));
    assert_eq!(meta["run_uuid"].as_str(), Some(info.run_id.as_str()));
    assert_eq!(meta["experiment_id"].as_str(), Some(exp.as_str()));
    assert_eq!(meta["run_name"].as_str(), Some("r1"));
    assert_eq!(meta["start_time"].as_i64(), Some(1_700_000_000_000));
    assert_eq!(meta["end_time"].as_i64(), Some(5));
    assert_eq!(meta["lifecycle_stage"].as_str(), Some("active"));
    assert!(meta["tags"].as_sequence().is_some_and(|s| s.is_empty()));
    let uri = meta["artifact_uri"].as_str().expect("artifact_uri");
    assert!(
        uri.starts_with("file:///") && uri.ends_with(&format!("{}/artifacts", info.run_id)),
        "{uri}"
    );
    // Params and tags: no trailing newline.
    assert_eq!(read(&run_dir.join("params/max_depth")), "10");
    assert_eq!(read(&run_dir.join("tags/note")), "hello");
    assert_eq!(read(&run_dir.join("tags/mlflow.runName")), "r1");
    // Metrics: `<timestamp> <value> <step>` lines, NaN/inf as Python writes them.
    assert_eq!(
        read(&run_dir.join("metrics/acc")),
        "1000 0.5 0\n1001 nan 1\n1002 -inf 2\n"
    );
    assert_eq!(read(&run_dir.join("metrics/cv/fold1")), "1003 1.0 0\n");
    assert!(run_dir.join("artifacts").is_dir());
    // The latest value is the highest step even though it is -inf.
    let run = local.get_run(&info.run_id).expect("get");
    assert_eq!(run.metric("acc"), Some(f64::NEG_INFINITY));
    assert_eq!(run.metric("cv/fold1"), Some(1.0));
}

#[test]
fn param_change_is_a_typed_error_naming_old_and_new() {
    let (_dir, _s, local) = temp_store();
    let (_, run_id) = conformance::new_run(&local, "p");
    local
        .log_batch(&run_id, &[], &[Param::new("lr", "0.1")], &[])
        .expect("log");
    let err = local
        .log_batch(
            &run_id,
            &[],
            &[Param::new("a", "1"), Param::new("lr", "0.2")],
            &[],
        )
        .unwrap_err();
    match err {
        Error::ParamChanged { key, old, new, .. } => {
            assert_eq!(
                (key.as_str(), old.as_str(), new.as_str()),
                ("lr", "0.1", "0.2")
            );
        }
        other => panic!("expected ParamChanged, got {other}"),
    }
    // The rejected batch wrote nothing, not even the valid `a`.
    assert_eq!(local.get_run(&run_id).expect("get").param("a"), None);
}

#[test]
fn registry_files_follow_mlflow_layout() {
    let (_dir, _s, local) = temp_store();
    let (_, run_id) = conformance::new_run(&local, "reg");
    local
        .create_registered_model("obesity-rf", &[Tag::new("team", "ml")], None)
        .expect("model");
    let v = local
        .create_model_version(&CreateModelVersion {
            name: "obesity-rf".into(),
            source: "file:///somewhere/model".into(),
            run_id: Some(run_id.clone()),
            tags: vec![Tag::new("lineage.git_commit", "abc")],
            description: None,
        })
        .expect("version");
    local
        .set_registered_model_alias("obesity-rf", "champion", v.version)
        .expect("alias");
    local
        .transition_model_version_stage("obesity-rf", 1, Stage::Staging, false)
        .expect("stage");
    let model_dir = local.root().join("models/obesity-rf");
    let meta = yaml(&model_dir.join("meta.yaml"));
    assert_eq!(meta["name"].as_str(), Some("obesity-rf"));
    assert!(meta["creation_timestamp"].as_i64().is_some());
    assert!(meta["last_updated_timestamp"].as_i64().is_some());
    assert_eq!(read(&model_dir.join("tags/team")), "ml");
    assert_eq!(read(&model_dir.join("aliases/champion")), "1");
    let vmeta = yaml(&model_dir.join("version-1/meta.yaml"));
    assert_eq!(vmeta["version"].as_i64(), Some(1), "version is an integer");
    assert_eq!(vmeta["name"].as_str(), Some("obesity-rf"));
    assert_eq!(vmeta["current_stage"].as_str(), Some("Staging"));
    assert_eq!(vmeta["status"].as_str(), Some("READY"));
    assert_eq!(vmeta["source"].as_str(), Some("file:///somewhere/model"));
    assert_eq!(
        vmeta["storage_location"].as_str(),
        Some("file:///somewhere/model")
    );
    assert_eq!(vmeta["run_id"].as_str(), Some(run_id.as_str()));
    for field in ["creation_timestamp", "last_updated_timestamp"] {
        assert!(vmeta[field].as_i64().is_some(), "{field}");
    }
    for field in ["description", "user_id", "run_link", "status_message"] {
        assert!(
            vmeta.get(field).is_some(),
            "{field} must be present (may be null)"
        );
    }
    assert_eq!(
        read(&model_dir.join("version-1/tags/lineage.git_commit")),
        "abc"
    );
}

#[test]
fn a_killed_writer_leaves_no_half_version() {
    // Simulate a process killed while building version 2: its temp folder exists with a
    // partial meta.yaml, but was never renamed to version-2.
    let (_dir, _s, local) = temp_store();
    let (_, run_id) = conformance::new_run(&local, "crash");
    local
        .create_registered_model("m", &[], None)
        .expect("model");
    let create = || {
        local
            .create_model_version(&CreateModelVersion {
                name: "m".into(),
                source: "s".into(),
                run_id: Some(run_id.clone()),
                ..CreateModelVersion::default()
            })
            .expect("version")
            .version
    };
    assert_eq!(create(), 1);
    let tmp = local.root().join("models/m/.tmp-obesity-deadbeef");
    fs::create_dir_all(tmp.join("tags")).expect("tmp");
    fs::write(tmp.join("meta.yaml"), "name: m\nversion: 2\ncurrent_st").expect("partial");
    // A torn temp file next to a tag too.
    fs::write(local.root().join("models/m/.tmp-obesity-0123"), "garbage").expect("tmp file");
    let versions = local.search_model_versions("m").expect("readable");
    assert_eq!(versions.iter().map(|v| v.version).collect::<Vec<_>>(), [1]);
    assert_eq!(create(), 2, "numbering stays gap-free");
    assert!(local.get_registered_model("m").is_ok());
}

#[test]
fn names_and_keys_cannot_escape_the_store() {
    let (_dir, _s, local) = temp_store();
    let (_, run_id) = conformance::new_run(&local, "esc");
    for bad in ["../evil", "a/../../b", "/abs"] {
        let err = local
            .log_batch(&run_id, &[], &[Param::new(bad, "x")], &[])
            .unwrap_err();
        assert!(err.to_string().contains(bad), "{err}");
        assert!(
            local
                .log_batch(&run_id, &[Metric::now(bad, 1.0)], &[], &[])
                .is_err()
        );
        assert!(
            local
                .log_batch(&run_id, &[], &[], &[Tag::new(bad, "x")])
                .is_err()
        );
    }
    for bad in ["..", "../x", "a/b", "a\\b", ".hidden", ""] {
        let err = local.create_registered_model(bad, &[], None).unwrap_err();
        assert!(
            matches!(err, Error::InvalidName { ref value, .. } if value == bad),
            "{bad:?}: {err}"
        );
    }
    local
        .create_registered_model("m", &[], None)
        .expect("model");
    for bad in ["../../x", "a/b", "latest", "v1"] {
        assert!(
            local.set_registered_model_alias("m", bad, 1).is_err(),
            "{bad:?}"
        );
    }
    assert!(
        local
            .get_run("../../etc")
            .unwrap_err()
            .to_string()
            .contains("../../etc")
    );
    assert!(local.get_experiment("../0").is_err());
    // Nothing was created outside the store.
    let parent = local.root().parent().expect("parent");
    let entries: Vec<_> = fs::read_dir(parent)
        .expect("ls")
        .map(|e| e.expect("e").file_name())
        .collect();
    assert_eq!(entries, vec![std::ffi::OsString::from("mlruns")]);
}

#[test]
fn concurrent_threads_register_gap_free_versions() {
    let (_dir, store, local) = temp_store();
    let (_, run_id) = conformance::new_run(&local, "threads");
    store
        .create_registered_model("m", &[], None)
        .expect("model");
    let threads = 6;
    let per_thread = 5;
    let mut got: Vec<u64> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let store = store.clone();
                let run_id = run_id.clone();
                s.spawn(move || {
                    (0..per_thread)
                        .map(|_| {
                            store
                                .create_model_version(&CreateModelVersion {
                                    name: "m".into(),
                                    source: "s".into(),
                                    run_id: Some(run_id.clone()),
                                    ..CreateModelVersion::default()
                                })
                                .expect("version")
                                .version
                        })
                        .collect::<Vec<u64>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("thread"))
            .collect()
    });
    got.sort_unstable();
    let expected: Vec<u64> = (1..=(threads * per_thread) as u64).collect();
    assert_eq!(got, expected);
    let listed: Vec<u64> = store
        .search_model_versions("m")
        .expect("list")
        .iter()
        .map(|v| v.version)
        .collect();
    assert_eq!(listed, expected);
}

#[test]
fn experiment_ids_are_unique_under_concurrency() {
    let (_dir, store, _local) = temp_store();
    let ids: Vec<String> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..8)
            .map(|i| {
                let store = store.clone();
                s.spawn(move || {
                    store
                        .create_experiment(&format!("e{i}"), None, &[])
                        .expect("exp")
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().expect("join")).collect()
    });
    let set: std::collections::BTreeSet<_> = ids.iter().collect();
    assert_eq!(set.len(), 8);
    let _ = now_ms();
}

#[test]
fn a_hand_made_maximal_version_folder_is_an_error_not_an_overflow() {
    let (_dir, _s, local) = temp_store();
    local
        .create_registered_model("m", &[], None)
        .expect("model");
    let args = CreateModelVersion {
        name: "m".into(),
        source: "file:///somewhere/model".into(),
        run_id: None,
        tags: Vec::new(),
        description: None,
    };
    local.create_model_version(&args).expect("version 1");
    let model_dir = local.root().join("models/m");
    fs::rename(
        model_dir.join("version-1"),
        model_dir.join(format!("version-{}", u64::MAX)),
    )
    .expect("rename");
    // `max + 1` used to overflow (a panic with overflow checks on, version 0 without).
    let err = local.create_model_version(&args).unwrap_err();
    assert!(
        matches!(&err, Error::Corrupt { path, .. } if path.ends_with(format!("version-{}", u64::MAX))),
        "{err:?}"
    );
}
