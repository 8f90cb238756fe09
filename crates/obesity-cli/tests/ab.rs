//! `obesity ab create|status|analyze|stop` on a local store whose `champion` and
//! `challenger` aliases point at real registered versions.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;

use common::{failed, json, obesity_command, ok};
use obesity_registry::{LocalStore, NewVersion, Registry, Store, Tracker};

fn obesity(store: &Path, args: &[&str]) -> Output {
    obesity_command()
        .current_dir(store.parent().expect("store has a parent"))
        .arg("--tracking-uri")
        .arg(store)
        .args(args)
        .output()
        .expect("run obesity")
}

/// Three versions of `obesity-classifier`; `champion` on 1, `challenger` on 2.
fn store() -> (tempfile::TempDir, PathBuf, Registry) {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("mlruns");
    let store: Arc<dyn Store> = Arc::new(LocalStore::open(&root).expect("store"));
    let tracker = Tracker::new(store.clone()).with_git_commit(None);
    let registry = Registry::new(store);
    for i in 0..3u8 {
        let run = tracker.start_run("obesity", None).expect("run");
        run.log_metric("accuracy", 0.9).expect("metric");
        let id = run.id().to_string();
        run.finish().expect("finish");
        registry
            .register(NewVersion::new("obesity-classifier", &id, vec![i]).data_fingerprint("fp"))
            .expect("register");
    }
    registry
        .set_alias("obesity-classifier", "champion", 1)
        .expect("alias");
    registry
        .set_alias("obesity-classifier", "challenger", 2)
        .expect("alias");
    (dir, root, registry)
}

fn state_file(root: &Path, name: &str) -> PathBuf {
    root.join("monitoring")
        .join("ab-tests")
        .join(format!("{name}.json"))
}

#[test]
fn create_ties_the_variants_to_the_champion_and_challenger_versions_and_a_rerun_is_idempotent() {
    let (_d, root, _registry) = store();
    let doc = json(&ok(&obesity(
        &root,
        &["--json", "ab", "create", "cvc", "--traffic-split", "0.2"],
    )));
    assert_eq!(doc["action"], "created");
    assert_eq!(doc["status"], "running");
    assert_eq!(doc["model"], "obesity-classifier");
    assert_eq!(doc["control"]["model_uri"], "models:/obesity-classifier/1");
    assert_eq!(
        doc["treatment"]["model_uri"],
        "models:/obesity-classifier/2"
    );
    assert_eq!(doc["control"]["aliases"][0], "champion");
    assert_eq!(doc["treatment"]["aliases"][0], "challenger");
    assert_eq!(doc["config"]["traffic_split"], 0.2);
    // The file `obesity serve` reads: version numbers, plus the model they belong to.
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(state_file(&root, "cvc")).expect("state file"))
            .expect("state json");
    assert_eq!(saved["config"]["control_version"], "1");
    assert_eq!(saved["config"]["treatment_version"], "2");
    assert_eq!(saved["config"]["model"], "obesity-classifier");

    // The same command again: nothing changes, exit 0.
    let before = std::fs::read(state_file(&root, "cvc")).expect("state");
    let again = ok(&obesity(
        &root,
        &["ab", "create", "cvc", "--traffic-split", "0.2"],
    ));
    assert!(
        again.contains("already exists with these settings"),
        "{again}"
    );
    assert_eq!(
        before,
        std::fs::read(state_file(&root, "cvc")).expect("state")
    );

    // Different settings: exit 1 naming each difference, the experiment untouched.
    let err = failed(&obesity(
        &root,
        &[
            "ab",
            "create",
            "cvc",
            "--traffic-split",
            "0.3",
            "--treatment",
            "3",
        ],
    ));
    assert!(
        err.contains("traffic_split: existing 0.2, asked 0.3"),
        "{err}"
    );
    assert!(
        err.contains("treatment version: existing 2, asked 3"),
        "{err}"
    );
    assert_eq!(
        before,
        std::fs::read(state_file(&root, "cvc")).expect("state")
    );
}

#[test]
fn create_fails_without_a_challenger_or_with_one_version_twice() {
    let (_d, root, registry) = store();
    registry
        .delete_alias("obesity-classifier", "challenger")
        .expect("delete alias");
    let err = failed(&obesity(&root, &["ab", "create", "x"]));
    assert!(
        err.contains("models:/obesity-classifier@challenger does not exist"),
        "{err}"
    );
    let err = failed(&obesity(
        &root,
        &["ab", "create", "x", "--treatment", "champion"],
    ));
    assert!(err.contains("both obesity-classifier version 1"), "{err}");
    let err = failed(&obesity(&root, &["ab", "create", "x", "--treatment", "9"]));
    assert!(err.contains("has no version 9"), "{err}");
    let err = failed(&obesity(
        &root,
        &[
            "ab",
            "create",
            "x",
            "--treatment",
            "3",
            "--traffic-split",
            "1.5",
        ],
    ));
    assert!(err.contains("traffic_split"), "{err}");
    assert!(
        !root
            .join("monitoring")
            .join("ab-tests")
            .join("x.json")
            .exists(),
        "a failed create leaves no experiment behind"
    );
    // An MLflow server keeps no A/B state: the message says which flag to give.
    let o = obesity_command()
        .args(["--tracking-uri", "http://127.0.0.1:9", "ab", "status", "x"])
        .output()
        .expect("run");
    assert!(failed(&o).contains("--state-dir"));
}

#[test]
fn status_counts_users_and_notes_an_alias_that_moved() {
    let (_d, root, registry) = store();
    ok(&obesity(&root, &["ab", "create", "cvc", "--draft"]));
    let text = ok(&obesity(&root, &["ab", "status", "cvc"]));
    assert!(text.starts_with("A/B experiment cvc: draft"), "{text}");
    assert!(
        text.contains("control    models:/obesity-classifier/1 (champion)"),
        "{text}"
    );
    assert!(
        text.contains("treatment  models:/obesity-classifier/2 (challenger)"),
        "{text}"
    );
    registry
        .set_alias("obesity-classifier", "challenger", 3)
        .expect("alias");
    let doc = json(&ok(&obesity(&root, &["ab", "status", "cvc", "--json"])));
    assert_eq!(doc["treatment"]["version"], "2");
    let notes = doc["notes"].to_string();
    assert!(
        notes.contains("obesity-classifier@challenger now points to version 3"),
        "{notes}"
    );
    let err = failed(&obesity(&root, &["ab", "status", "nope"]));
    assert!(err.contains("no A/B experiment called \"nope\""), "{err}");
    let err = failed(&obesity(&root, &["ab", "status", "../escape"]));
    assert!(err.contains("name"), "{err}");
}

#[test]
fn analyze_reads_the_recorded_outcomes_and_recommends() {
    let (_d, root, _registry) = store();
    ok(&obesity(
        &root,
        &["ab", "create", "cvc", "--min-samples", "50"],
    ));
    // Outcomes as the service records them: 200 users per arm, 60% vs 85% correct.
    let path = state_file(&root, "cvc");
    let mut state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).expect("state")).expect("json");
    let users = state["users"].as_object_mut().expect("users map");
    for i in 0..400 {
        let treatment = i % 2 == 1;
        let success = if treatment { i % 20 < 17 } else { i % 10 < 6 };
        users.insert(
            format!("u{i}"),
            serde_json::json!({
                "variant": if treatment { "treatment" } else { "control" },
                "outcome": {"success": success},
            }),
        );
    }
    std::fs::write(&path, serde_json::to_vec(&state).expect("json")).expect("write");
    let doc = json(&ok(&obesity(&root, &["ab", "analyze", "cvc", "--json"])));
    assert_eq!(doc["control"]["samples"], 200);
    assert_eq!(doc["treatment"]["samples"], 200);
    assert_eq!(doc["recommendation"], "promote_treatment", "{doc}");
    let text = ok(&obesity(&root, &["ab", "analyze", "cvc"]));
    assert!(
        text.contains("models:/obesity-classifier/2: 200 users, 200 outcomes"),
        "{text}"
    );
    assert!(
        text.contains("recommendation: promote the treatment"),
        "{text}"
    );

    // Too few outcomes: keep running, with no test statistics to show.
    ok(&obesity(
        &root,
        &[
            "ab",
            "create",
            "fresh",
            "--control",
            "1",
            "--treatment",
            "3",
        ],
    ));
    let text = ok(&obesity(&root, &["ab", "analyze", "fresh"]));
    assert!(text.contains("recommendation: keep running"), "{text}");
    let err = failed(&obesity(&root, &["ab", "analyze", "missing"]));
    assert!(err.contains("missing"), "{err}");
}

#[test]
fn stop_is_final_and_idempotent() {
    let (_d, root, _registry) = store();
    ok(&obesity(&root, &["ab", "create", "cvc"]));
    let doc = json(&ok(&obesity(&root, &["ab", "stop", "cvc", "--json"])));
    assert_eq!(doc["status"], "stopped");
    assert_eq!(doc["action"], "stopped");
    let text = ok(&obesity(&root, &["ab", "stop", "cvc"]));
    assert!(
        text.contains("was already stopped; nothing changed"),
        "{text}"
    );
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(state_file(&root, "cvc")).expect("state"))
            .expect("json");
    assert_eq!(saved["status"], "stopped");
    let err = failed(&obesity(&root, &["ab", "stop", "other"]));
    assert!(err.contains("no A/B experiment called \"other\""), "{err}");
}
