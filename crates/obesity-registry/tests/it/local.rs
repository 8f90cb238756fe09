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
            model_id: None,
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
        model_id: None,
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

// ---- issue 12 item 3: temp files where MLflow never looks ---------------------------------

/// Every path below `dir`, relative, sorted (not following links).
fn tree(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in fs::read_dir(dir).expect("read_dir").flatten() {
            let path = entry.path();
            out.push(
                path.strip_prefix(base)
                    .expect("below base")
                    .to_string_lossy()
                    .into_owned(),
            );
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                walk(base, &path, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// A store with an experiment, a run with params, metrics, tags and an artifact, and a model
/// with a version, a tag and an alias.
fn populated_store() -> (tempfile::TempDir, LocalStore, String) {
    let (dir, _s, local) = temp_store();
    let (_, run_id) = conformance::new_run(&local, "pop");
    local
        .log_batch(
            &run_id,
            &[Metric::now("acc", 0.5)],
            &[Param::new("depth", "3")],
            &[Tag::new("note", "n")],
        )
        .expect("log");
    local
        .log_artifact(&run_id, "model/model.bin", b"bytes")
        .expect("artifact");
    local
        .create_registered_model("m", &[Tag::new("team", "ml")], None)
        .expect("model");
    local
        .create_model_version(&CreateModelVersion {
            name: "m".into(),
            source: "s".into(),
            run_id: Some(run_id.clone()),
            tags: vec![Tag::new("k", "v")],
            description: None,
            model_id: None,
        })
        .expect("version");
    local
        .set_registered_model_alias("m", "champion", 1)
        .expect("alias");
    (dir, local, run_id)
}

#[test]
fn issue12_3_temp_and_lock_names_are_neutral_and_the_staging_folder_ends_in_trash() {
    let (_dir, local, _) = populated_store();
    let root = local.root();
    assert!(root.join(".mlruns.lock").is_file());
    assert!(root.join(".mlruns-tmp.trash").is_dir());
    // MLflow's FileStore lists every root folder as an experiment except `*.trash` ones.
    let odd: Vec<String> = fs::read_dir(root)
        .expect("ls")
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.parse::<u64>().is_err() && !n.ends_with(".trash") && n != "models")
        .collect();
    assert_eq!(odd, Vec::<String>::new(), "root folders MLflow would read");
    let names = tree(root);
    assert!(
        names.iter().all(|n| !n.contains("obesity")),
        "branded names in a generic store: {names:?}"
    );
    assert_eq!(
        fs::read_dir(root.join(".mlruns-tmp.trash"))
            .expect("ls")
            .count(),
        0,
        "finished writes leave nothing staged"
    );
}

#[test]
fn issue12_3_open_removes_the_tmp_obesity_leftovers_of_earlier_versions() {
    let (_dir, local, run_id) = populated_store();
    let root = local.root().to_path_buf();
    let before = local.get_run(&run_id).expect("run");
    let exp_dir = root.join(&before.info.experiment_id);
    let run_dir = exp_dir.join(&run_id);
    let model_dir = root.join("models/m");
    // What a killed writer of an earlier version left, in every place the issue found one.
    let half_run = exp_dir.join(".tmp-obesity-0badc0de");
    fs::create_dir_all(half_run.join("tags")).expect("dir");
    fs::write(half_run.join("meta.yaml"), format!("run_id: {run_id}\n")).expect("meta");
    let files = [
        run_dir.join("metrics/.tmp-obesity-1"),
        run_dir.join("params/.tmp-obesity-2"),
        run_dir.join("tags/.tmp-obesity-3"),
        run_dir.join("artifacts/model/.tmp-obesity-4"),
        model_dir.join("aliases/.tmp-obesity-5"),
        model_dir.join("tags/.tmp-obesity-6"),
        model_dir.join("version-1/tags/.tmp-obesity-7"),
    ];
    for f in &files {
        fs::write(f, "").expect("leftover");
    }
    fs::create_dir_all(model_dir.join(".tmp-obesity-8/tags")).expect("half version");
    fs::write(root.join(".obesity.lock"), "").expect("old lock");
    // A store last opened by an earlier version has no staging folder.
    fs::remove_dir(root.join(".mlruns-tmp.trash")).expect("no staging");

    let reopened = LocalStore::open(&root).expect("reopen");
    let left: Vec<String> = tree(&root)
        .into_iter()
        .filter(|n| n.contains("obesity"))
        .collect();
    assert_eq!(left, Vec::<String>::new());
    assert!(root.join(".mlruns-tmp.trash").is_dir());
    let after = reopened.get_run(&run_id).expect("run");
    assert_eq!(after.data.params, before.data.params);
    assert_eq!(after.data.tags, before.data.tags);
    assert_eq!(
        reopened
            .get_registered_model("m")
            .expect("model")
            .aliases
            .len(),
        1
    );
}

#[test]
fn issue12_3_open_cleans_the_staging_folder_only_when_no_writer_holds_the_lock() {
    let (_dir, local, _) = populated_store();
    let root = local.root().to_path_buf();
    let staging = root.join(".mlruns-tmp.trash");
    fs::write(staging.join("0123456789abcdef"), "half a metric file").expect("leftover");
    fs::create_dir_all(staging.join("fedcba9876543210/tags")).expect("half a run");
    let count = || fs::read_dir(&staging).expect("ls").count();
    // A writer (another process) holds the lock: its staged files are not leftovers.
    let lock = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(root.join(".mlruns.lock"))
        .expect("lock file");
    lock.lock().expect("lock");
    LocalStore::open(&root).expect("open while locked");
    assert_eq!(count(), 2);
    lock.unlock().expect("unlock");
    LocalStore::open(&root).expect("open");
    assert_eq!(count(), 0);
}

// ---- issue 12 item 7: symlinks, long names, corrupt versions, unknown run status ----------

#[cfg(unix)]
#[test]
fn issue12_7_a_symlink_in_the_artifact_folder_lets_no_write_or_read_escape() {
    let (dir, local, run_id) = populated_store();
    let outside = dir.path().join("outside");
    fs::create_dir_all(&outside).expect("outside");
    fs::write(outside.join("secret.txt"), "secret").expect("secret");
    let artifacts = local
        .root()
        .join(local.get_run(&run_id).expect("run").info.experiment_id)
        .join(&run_id)
        .join("artifacts");
    std::os::unix::fs::symlink(&outside, artifacts.join("evil")).expect("dir link");
    std::os::unix::fs::symlink(outside.join("secret.txt"), artifacts.join("link.txt"))
        .expect("file link");
    let refused = |e: Error, path: &str| {
        assert!(
            matches!(&e, Error::InvalidArtifactPath { path: p, reason } if p == path && reason.contains("symbolic link")),
            "{path}: {e:?}"
        );
    };
    refused(
        local
            .log_artifact(&run_id, "evil/planted.txt", b"x")
            .unwrap_err(),
        "evil/planted.txt",
    );
    refused(
        local
            .log_artifact(&run_id, "link.txt", b"overwrite")
            .unwrap_err(),
        "link.txt",
    );
    refused(
        local
            .download_artifact(&run_id, "evil/secret.txt")
            .unwrap_err(),
        "evil/secret.txt",
    );
    refused(
        local.download_artifact(&run_id, "link.txt").unwrap_err(),
        "link.txt",
    );
    refused(
        local.list_artifacts(&run_id, Some("evil")).unwrap_err(),
        "evil",
    );
    assert!(!outside.join("planted.txt").exists());
    assert_eq!(
        fs::read_to_string(outside.join("secret.txt")).expect("secret"),
        "secret"
    );
    // Links are not listed; real files still are.
    let listed: Vec<String> = local
        .list_artifacts(&run_id, None)
        .expect("list")
        .into_iter()
        .map(|f| f.path)
        .collect();
    assert_eq!(listed, ["model"]);
    // The artifact folder itself replaced by a link.
    let (exp2, run2) = conformance::new_run(&local, "linked-root");
    let artifacts2 = local.root().join(exp2).join(&run2).join("artifacts");
    fs::remove_dir(&artifacts2).expect("rm artifacts");
    std::os::unix::fs::symlink(&outside, &artifacts2).expect("root link");
    refused(
        local.log_artifact(&run2, "x.txt", b"x").unwrap_err(),
        "x.txt",
    );
    assert!(!outside.join("x.txt").exists());
}

#[test]
fn issue12_7_names_longer_than_a_file_name_are_refused_naming_the_limit() {
    let (_dir, local, run_id) = populated_store();
    let long = "m".repeat(256);
    let err = local.create_registered_model(&long, &[], None).unwrap_err();
    assert!(
        matches!(&err, Error::InvalidName { value, reason, .. } if *value == long && reason.contains("255 bytes")),
        "{err:?}"
    );
    // 255 bytes is what a file name holds: it works end to end.
    let max = "m".repeat(255);
    local
        .create_registered_model(&max, &[], None)
        .expect("255-byte model name");
    local
        .create_model_version(&CreateModelVersion {
            name: max.clone(),
            source: "s".into(),
            run_id: Some(run_id.clone()),
            ..CreateModelVersion::default()
        })
        .expect("version of it");
    let alias = "a".repeat(255);
    local
        .set_registered_model_alias(&max, &alias, 1)
        .expect("255-byte alias");
    assert!(matches!(
        local.set_registered_model_alias(&max, &"a".repeat(256), 1),
        Err(Error::InvalidName { .. })
    ));
    let segment = "f".repeat(256);
    let err = local
        .log_artifact(&run_id, &format!("dir/{segment}"), b"x")
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidArtifactPath { reason, .. } if reason.contains("255 bytes")),
        "{err:?}"
    );
    local
        .log_artifact(&run_id, &format!("dir/{}", "f".repeat(255)), b"x")
        .expect("255-byte file name");
    let err = local.get_run(&"a".repeat(256)).unwrap_err();
    assert!(
        matches!(&err, Error::InvalidName { what: "run id", reason, .. } if reason.contains("255 bytes")),
        "{err:?}"
    );
}

#[test]
fn issue12_7_one_corrupt_version_does_not_block_listing_but_reading_it_still_errors() {
    let (_dir, local, run_id) = populated_store();
    for _ in 0..2 {
        local
            .create_model_version(&CreateModelVersion {
                name: "m".into(),
                source: "s".into(),
                run_id: Some(run_id.clone()),
                ..CreateModelVersion::default()
            })
            .expect("version");
    }
    let meta = local.root().join("models/m/version-2/meta.yaml");
    fs::write(&meta, "name: m\nversion: [not, a, number\n").expect("corrupt");
    let numbers =
        |vs: Vec<obesity_registry::ModelVersion>| vs.iter().map(|v| v.version).collect::<Vec<_>>();
    assert_eq!(
        numbers(local.search_model_versions("m").expect("list")),
        [1, 3]
    );
    let model = local.get_registered_model("m").expect("model");
    assert_eq!(numbers(model.latest_versions), [3]);
    assert_eq!(
        local.search_registered_models(100).expect("models").len(),
        1
    );
    let registry = obesity_registry::Registry::new(std::sync::Arc::new(local.clone()));
    assert_eq!(
        numbers(registry.versions("m").expect("registry list")),
        [1, 3]
    );
    // Reading that version is a clear error naming the file.
    let err = local.get_model_version("m", 2).unwrap_err();
    assert!(
        matches!(&err, Error::Corrupt { path, .. } if *path == meta),
        "{err:?}"
    );
    let err = registry.load_str("models:/m/2").unwrap_err();
    assert!(
        matches!(&err, Error::Corrupt { path, .. } if *path == meta),
        "{err:?}"
    );
    // Archiving others skips it too.
    local
        .transition_model_version_stage("m", 3, Stage::Production, true)
        .expect("transition");
    // A corrupt alias file: the others still list; looking it up names the file.
    let alias = local.root().join("models/m/aliases/broken");
    fs::write(&alias, "not-a-number").expect("corrupt alias");
    let aliases = local.get_registered_model("m").expect("model").aliases;
    assert_eq!(aliases.keys().collect::<Vec<_>>(), ["champion"]);
    let err = local.get_model_version_by_alias("m", "broken").unwrap_err();
    assert!(
        matches!(&err, Error::Corrupt { path, .. } if *path == alias),
        "{err:?}"
    );
}

#[test]
fn issue12_7_an_unknown_run_status_names_the_run_and_its_file() {
    let (_dir, local, run_id) = populated_store();
    let exp = local.get_run(&run_id).expect("run").info.experiment_id;
    let meta = local.root().join(exp).join(&run_id).join("meta.yaml");
    let text = read(&meta);
    fs::write(&meta, text.replace("status: 1", "status: 9")).expect("edit");
    let err = local.get_run(&run_id).unwrap_err();
    match &err {
        Error::Corrupt { path, reason } => {
            assert_eq!(*path, meta);
            assert!(reason.contains(&run_id) && reason.contains('9'), "{reason}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    assert!(err.to_string().contains(&run_id), "{err}");
}
