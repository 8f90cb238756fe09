//! Tracker and ActiveRun: experiments on first use, params, metrics, artifacts, nesting,
//! system tags, and runs that are never left RUNNING.

use std::sync::Arc;

use obesity_registry::{
    Error, PARENT_RUN_TAG, RunStatus, SOURCE_NAME_TAG, Store, Tracker, USER_TAG,
};

use crate::temp_store;

fn tracker(store: &Arc<dyn Store>) -> Tracker {
    Tracker::new(store.clone())
        .with_user("tester")
        .with_source_name("tests/it")
        .with_git_commit(Some("0123456789abcdef0123456789abcdef01234567".into()))
}

#[test]
fn experiments_are_created_on_first_use_and_reused() {
    let (_d, store, _) = temp_store();
    let t = tracker(&store);
    let a = t.experiment("obesity").expect("create");
    let b = t.experiment("obesity").expect("reuse");
    assert_eq!(a.experiment_id, b.experiment_id);
    assert_ne!(a.experiment_id, "0");
    t.set_experiment_tag("obesity", "dataset", "uci")
        .expect("tag");
    assert_eq!(t.experiment("obesity").expect("get").tags["dataset"], "uci");
    assert!(t.find_experiment("nope").unwrap_err().is_not_found());
    assert!(t.experiment("").is_err(), "empty name is rejected");
}

#[test]
fn a_run_logs_and_finishes_with_system_tags() {
    let (_d, store, _) = temp_store();
    let t = tracker(&store);
    let run = t.start_run("exp", Some("rf")).expect("start");
    run.log_param("n_estimators", 100).expect("param");
    run.log_param("n_estimators", "100")
        .expect("same value again");
    run.log_metric("accuracy", 0.93).expect("metric");
    for step in 0..3 {
        run.log_metric_at("loss", 1.0 / (step + 1) as f64, step)
            .expect("step");
    }
    run.log_metrics([("f1_macro", 0.9), ("nan_metric", f64::NAN)])
        .expect("metrics");
    run.set_tag("model_type", "forest").expect("tag");
    let id = run.id().to_string();
    let info = run.finish().expect("finish");
    assert_eq!(info.status, RunStatus::Finished);
    let got = store.get_run(&id).expect("get");
    assert_eq!(got.info.status, RunStatus::Finished);
    assert!(
        got.info
            .end_time
            .is_some_and(|e| e >= got.info.start_time.unwrap_or(0))
    );
    assert_eq!(got.info.run_name, "rf");
    assert_eq!(got.param("n_estimators"), Some("100"));
    assert_eq!(got.metric("accuracy"), Some(0.93));
    assert_eq!(got.metric("loss"), Some(1.0 / 3.0));
    assert!(got.metric("nan_metric").is_some_and(f64::is_nan));
    assert_eq!(got.tag("model_type"), Some("forest"));
    assert_eq!(got.tag(USER_TAG), Some("tester"));
    assert_eq!(got.tag(SOURCE_NAME_TAG), Some("tests/it"));
    assert_eq!(got.tag("mlflow.source.type"), Some("LOCAL"));
    assert_eq!(
        got.tag("mlflow.source.git.commit"),
        Some("0123456789abcdef0123456789abcdef01234567")
    );
    assert_eq!(got.info.user_id, "tester");
    assert_eq!(
        store
            .get_metric_history(&id, "loss")
            .expect("history")
            .len(),
        3
    );
}

#[test]
fn relogging_a_param_with_another_value_is_an_error() {
    let (_d, store, _) = temp_store();
    let run = tracker(&store).start_run("exp", None).expect("start");
    run.log_param("max_depth", 10).expect("first");
    let err = run.log_param("max_depth", 12).unwrap_err();
    assert!(
        matches!(&err, Error::ParamChanged { key, old, new, .. } if key == "max_depth" && old == "10" && new == "12"),
        "{err}"
    );
    assert!(err.to_string().contains("max_depth"));
    // Also caught by the store when the handle did not see the first value.
    let id = run.id().to_string();
    let other = store.get_run(&id).expect("run");
    assert_eq!(other.param("max_depth"), Some("10"));
    let err = store
        .log_batch(
            &id,
            &[],
            &[obesity_registry::Param::new("max_depth", "11")],
            &[],
        )
        .unwrap_err();
    assert!(matches!(err, Error::ParamChanged { .. }), "{err}");
    run.finish().expect("finish");
}

#[test]
fn a_dropped_run_is_marked_failed() {
    let (_d, store, _) = temp_store();
    let id = {
        let run = tracker(&store)
            .start_run("exp", Some("forgotten"))
            .expect("start");
        run.log_metric("accuracy", 0.5).expect("metric");
        run.id().to_string()
    };
    let got = store.get_run(&id).expect("get");
    assert_eq!(got.info.status, RunStatus::Failed);
    assert!(got.info.end_time.is_some());
}

#[test]
fn a_run_dropped_during_a_panic_is_marked_killed() {
    let (_d, store, _) = temp_store();
    let t = tracker(&store);
    let id = std::sync::Mutex::new(String::new());
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let run = t.start_run("exp", Some("crashing")).expect("start");
        *id.lock().expect("lock") = run.id().to_string();
        panic!("training blew up");
    }));
    assert!(result.is_err());
    let id = id.into_inner().expect("id");
    assert_eq!(
        store.get_run(&id).expect("get").info.status,
        RunStatus::Killed
    );
}

#[test]
fn end_with_a_non_terminal_status_is_refused_and_the_run_still_ends() {
    let (_d, store, _) = temp_store();
    let run = tracker(&store).start_run("exp", None).expect("start");
    let id = run.id().to_string();
    let err = run.end(RunStatus::Running).unwrap_err();
    assert!(err.to_string().contains("RUNNING"), "{err}");
    // The handle was consumed by the refused call and dropped: FAILED, not RUNNING.
    assert_eq!(
        store.get_run(&id).expect("get").info.status,
        RunStatus::Failed
    );
}

#[test]
fn nested_runs_carry_the_parent_tag() {
    let (_d, store, _) = temp_store();
    let parent = tracker(&store)
        .start_run("cv", Some("grid"))
        .expect("start");
    let child = parent.start_child("fold-1").expect("child");
    assert_eq!(child.info().experiment_id, parent.info().experiment_id);
    let child_id = child.id().to_string();
    child.finish().expect("finish child");
    let got = store.get_run(&child_id).expect("get");
    assert_eq!(got.tag(PARENT_RUN_TAG), Some(parent.id()));
    assert_eq!(got.tag(USER_TAG), Some("tester"));
    let children = tracker(&store)
        .search_runs(
            "cv",
            &format!("tags.mlflow.parentRunId = '{}'", parent.id()),
            &[],
            10,
        )
        .expect("search");
    assert_eq!(children.len(), 1);
    assert_eq!(children[0].info.run_name, "fold-1");
    parent.finish().expect("finish");
}

#[test]
fn artifacts_from_files_folders_and_bytes() {
    let (_d, store, _) = temp_store();
    let run = tracker(&store).start_run("exp", None).expect("start");
    let src = tempfile::tempdir().expect("src");
    let file = src.path().join("report.txt");
    std::fs::write(&file, "hello").expect("write");
    let nested = src.path().join("charts/svg");
    std::fs::create_dir_all(&nested).expect("mkdir");
    std::fs::write(src.path().join("charts/a.svg"), "<svg/>").expect("write");
    std::fs::write(nested.join("b.svg"), "<svg>b</svg>").expect("write");

    assert_eq!(run.log_artifact(&file, None).expect("file"), "report.txt");
    assert_eq!(
        run.log_artifact(&file, Some("docs/")).expect("file"),
        "docs/report.txt"
    );
    let paths = run
        .log_artifacts(&src.path().join("charts"), Some("plots"))
        .expect("folder");
    assert_eq!(paths, ["plots/a.svg", "plots/svg/b.svg"]);
    run.log_bytes("model/model.bin", &[1, 2, 3]).expect("bytes");
    let id = run.id();
    assert_eq!(
        store.download_artifact(id, "plots/svg/b.svg").expect("dl"),
        b"<svg>b</svg>"
    );
    assert_eq!(
        store.download_artifact(id, "docs/report.txt").expect("dl"),
        b"hello"
    );
    assert_eq!(
        store.download_artifact(id, "model/model.bin").expect("dl"),
        [1, 2, 3]
    );

    let missing = run
        .log_artifact(&src.path().join("nope.txt"), None)
        .unwrap_err();
    assert!(missing.to_string().contains("nope.txt"), "{missing}");
    assert!(run.log_artifacts(&src.path().join("nope"), None).is_err());
    assert!(run.log_artifact(&file, Some("../up")).is_err());
    assert!(run.log_bytes("../../x", b"x").is_err());
    run.finish().expect("finish");
}

#[test]
fn search_runs_by_name_through_the_tracker() {
    let (_d, store, _) = temp_store();
    let t = tracker(&store);
    for (name, acc) in [("a", 0.8), ("b", 0.95), ("c", 0.9)] {
        let r = t.start_run("exp", Some(name)).expect("start");
        r.log_metric("accuracy", acc).expect("m");
        r.finish().expect("finish");
    }
    let runs = t
        .search_runs(
            "exp",
            "metrics.accuracy >= 0.9",
            &["metrics.accuracy DESC"],
            10,
        )
        .expect("search");
    let names: Vec<_> = runs.iter().map(|r| r.info.run_name.as_str()).collect();
    assert_eq!(names, ["b", "c"]);
    let err = t
        .search_runs("exp", "metrics.accuracy >= high", &[], 10)
        .unwrap_err();
    assert!(err.to_string().contains("high"), "{err}");
    assert!(
        t.search_runs("missing-exp", "", &[], 10)
            .unwrap_err()
            .is_not_found()
    );
}
