//! Writes a `LocalStore` folder for MLflow's own Python client to read
//! (`scripts/check_local_store_with_mlflow.py`, run by `scripts/mlflow_suite.sh`).
//!
//! Runs only when `OBESITY_INTEROP_DIR` names a folder: the store goes to `<dir>/mlruns` and
//! what the Python side must find there goes to `<dir>/expected.json`. The expectations are
//! built from the values logged here (and the ids the store handed out), so nothing is written
//! down twice; the run searches record the order this crate's own search gives, so the Python
//! check also proves that the two search implementations agree.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use obesity_registry::{
    LocalStore, MODEL_FILE, Metric, NewVersion, Registry, Run, RunStatus, SearchRuns, Stage, Store,
    Tracker,
};
use serde_json::{Value, json};

const EXPERIMENT: &str = "interop-obesity";
const MODEL: &str = "interop-obesity-rf";
const T0: i64 = 1_700_000_000_000;

/// A float as JSON; NaN and ±infinity as the strings Python's `float()` parses.
fn num(v: f64) -> Value {
    if v.is_nan() {
        json!("NaN")
    } else if v == f64::INFINITY {
        json!("Infinity")
    } else if v == f64::NEG_INFINITY {
        json!("-Infinity")
    } else {
        json!(v)
    }
}

fn metric(key: &str, value: f64, step: i64, ts: i64) -> Metric {
    Metric {
        key: key.into(),
        value,
        timestamp_ms: ts,
        step,
    }
}

/// What MLflow must report for one run, from the values that were logged into it.
fn expected_run(
    run: &Run,
    logged: &[Metric],
    artifacts: &BTreeMap<&str, &str>,
    parent: Option<&str>,
) -> Value {
    let mut history: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
    for m in logged {
        history
            .entry(m.key.as_str())
            .or_default()
            .push(json!({"value": num(m.value), "step": m.step, "timestamp": m.timestamp_ms}));
    }
    // The latest value per key is MLflow's rule: highest step, then latest timestamp.
    let mut latest: BTreeMap<&str, &Metric> = BTreeMap::new();
    for m in logged {
        let newer = latest
            .get(m.key.as_str())
            .is_none_or(|l| (m.step, m.timestamp_ms) >= (l.step, l.timestamp_ms));
        if newer {
            latest.insert(m.key.as_str(), m);
        }
    }
    let latest: BTreeMap<&str, Value> =
        latest.into_iter().map(|(k, m)| (k, num(m.value))).collect();
    json!({
        "run_id": run.info.run_id,
        "run_name": run.info.run_name,
        "status": run.info.status.as_str(),
        "user_id": run.info.user_id,
        "start_time": run.info.start_time,
        "end_time": run.info.end_time,
        "params": run.data.params,
        "tags": run.data.tags,
        "parent_run_id": parent,
        "metrics": latest,
        "history": history,
        "artifacts": artifacts,
    })
}

#[test]
fn mlflow_interop_write_local_store() -> Result<(), Box<dyn std::error::Error>> {
    let Some(dir) = std::env::var_os("OBESITY_INTEROP_DIR").map(PathBuf::from) else {
        eprintln!(
            "SKIPPED: mlflow_interop::mlflow_interop_write_local_store: OBESITY_INTEROP_DIR not \
             set (scripts/mlflow_suite.sh sets it to the folder \
             scripts/check_local_store_with_mlflow.py reads)"
        );
        return Ok(());
    };
    let root = dir.join("mlruns");
    if root.exists() {
        return Err(format!("{} already exists; give an empty folder", root.display()).into());
    }
    let store: Arc<dyn Store> = Arc::new(LocalStore::open(&root)?);
    let tracker = Tracker::new(store.clone())
        .with_user("interop-user")
        .with_source_name("mlflow_interop.rs")
        .with_git_commit(None);
    tracker.set_experiment_tag(EXPERIMENT, "team", "obesity-ml")?;

    // Run 1: the good one, with a learning curve, special floats, an artifact and a child.
    let run1 = tracker.start_run(EXPERIMENT, Some("rf-depth-10"))?;
    run1.log_params([
        ("max_depth", "10"),
        ("n_estimators", "100"),
        ("criterion", "gini"),
    ])?;
    let mut logged1: Vec<Metric> = (0..5)
        .map(|i| metric("loss", 1.0 / (i as f64 + 1.0), i, T0 + i * 1000))
        .collect();
    logged1.extend([
        metric("accuracy", 0.93, 0, T0 + 10_000),
        metric("f1_macro", 0.915, 0, T0 + 10_000),
        metric("calibration_gap", f64::NAN, 0, T0 + 10_000),
        metric("upper_bound", f64::INFINITY, 0, T0 + 10_000),
        metric("lower_bound", f64::NEG_INFINITY, 0, T0 + 10_000),
        // Logged later at an older step: it must not become the latest value.
        metric("loss", 9.0, 1, T0 + 20_000),
    ]);
    run1.log_metrics_full(&logged1)?;
    run1.set_tag("model_type", "random_forest")?;
    let artifacts1 = BTreeMap::from([
        ("notes/readme.txt", "trained on the UCI obesity data\n"),
        ("report.json", "{\"accuracy\": 0.93}"),
    ]);
    for (path, text) in &artifacts1 {
        run1.log_bytes(path, text.as_bytes())?;
    }
    let child = run1.start_child("cv-fold-1")?;
    let logged_child = vec![metric("accuracy", 0.905, 0, T0 + 5_000)];
    child.log_metrics_full(&logged_child)?;
    let child_id = child.id().to_string();
    child.finish()?;
    let run1_id = run1.id().to_string();
    run1.finish()?;

    // Run 2: a worse one that failed.
    let run2 = tracker.start_run(EXPERIMENT, Some("rf-depth-3"))?;
    run2.log_params([
        ("max_depth", "3"),
        ("n_estimators", "50"),
        ("criterion", "gini"),
    ])?;
    let logged2 = vec![metric("accuracy", 0.84, 0, T0 + 30_000)];
    run2.log_metrics_full(&logged2)?;
    run2.set_tag("model_type", "random_forest")?;
    let run2_id = run2.id().to_string();
    run2.end(RunStatus::Failed)?;

    // The registry: three versions, stages, aliases (one moved), tags and descriptions.
    let registry = Registry::new(store.clone());
    let v1 = registry.register(
        NewVersion::new(MODEL, &run2_id, b"model-bytes-1".to_vec())
            .description("depth 3 baseline")
            .data_fingerprint("ab12")
            .tag("quality", "baseline"),
    )?;
    let v2 = registry.register(
        NewVersion::new(MODEL, &run1_id, b"model-bytes-2".to_vec()).description("depth 10"),
    )?;
    // A second version from the same run needs its own artifact folder: registering into the
    // same `model/` folder would overwrite version 2's files (see docs/registry.md).
    let v3 = registry.register(
        NewVersion::new(MODEL, &run1_id, b"model-bytes-3".to_vec())
            .artifact_path("model-retrained"),
    )?;
    assert_eq!((v1.version, v2.version, v3.version), (1, 2, 3));
    registry.transition(MODEL, 1, Stage::Production, false)?;
    registry.transition(MODEL, 2, Stage::Production, true)?; // archives 1
    registry.transition(MODEL, 3, Stage::Staging, false)?;
    registry.set_alias(MODEL, "champion", 2)?;
    registry.set_alias(MODEL, "challenger", 2)?;
    registry.set_alias(MODEL, "challenger", 3)?; // moved
    registry.set_alias(MODEL, "baseline", 1)?;
    store.set_registered_model_tag(MODEL, "owner", "rust")?;
    store.update_registered_model(MODEL, "obesity level classifier")?;

    // Expectations: the logged values, plus what the store decided (ids, times, system tags).
    let exp = tracker.find_experiment(EXPERIMENT)?;
    let runs = vec![
        expected_run(&store.get_run(&run1_id)?, &logged1, &artifacts1, None),
        expected_run(
            &store.get_run(&child_id)?,
            &logged_child,
            &BTreeMap::new(),
            Some(&run1_id),
        ),
        expected_run(&store.get_run(&run2_id)?, &logged2, &BTreeMap::new(), None),
    ];
    // The values logged above must be what the store reads back before MLflow is asked.
    let back = store.get_run(&run1_id)?;
    assert_eq!(back.param("max_depth"), Some("10"));
    assert_eq!(back.metric("loss"), Some(0.2));
    assert!(back.metric("calibration_gap").is_some_and(f64::is_nan));
    assert_eq!(back.info.status, RunStatus::Finished);

    let searches = [
        ("metrics.accuracy > 0.9", vec!["metrics.accuracy DESC"]),
        ("params.max_depth = '3'", vec![]),
        ("attributes.status = 'FAILED'", vec![]),
        (
            "tags.model_type = 'random_forest'",
            vec!["metrics.accuracy ASC"],
        ),
        (
            "attributes.run_name LIKE 'rf-%'",
            vec!["metrics.accuracy DESC"],
        ),
        ("", vec!["metrics.accuracy ASC"]),
    ];
    let mut expected_searches = Vec::new();
    for (filter, order_by) in searches {
        let found = store.search_runs(&SearchRuns {
            experiment_ids: vec![exp.experiment_id.clone()],
            filter: Some(filter.to_string()),
            order_by: order_by.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        })?;
        let ids: Vec<&str> = found.iter().map(|r| r.info.run_id.as_str()).collect();
        expected_searches.push(json!({"filter": filter, "order_by": order_by, "run_ids": ids}));
    }

    let model = store.get_registered_model(MODEL)?;
    let versions: Vec<Value> = store
        .search_model_versions(MODEL)?
        .iter()
        .map(|v| {
            json!({
                "version": v.version,
                "stage": v.current_stage.as_str(),
                "run_id": v.run_id,
                "source": v.source,
                "description": v.description,
                "tags": v.tags,
                "aliases": v.aliases,
                "status": v.status.as_str(),
            })
        })
        .collect();
    assert_eq!(
        model.aliases,
        BTreeMap::from([
            ("baseline".to_string(), 1),
            ("challenger".to_string(), 3),
            ("champion".to_string(), 2)
        ])
    );
    let expected = json!({
        "experiment": {
            "experiment_id": exp.experiment_id,
            "name": exp.name,
            "tags": exp.tags,
        },
        "runs": runs,
        "searches": expected_searches,
        "model": {
            "name": model.name,
            "description": model.description,
            "tags": model.tags,
            "aliases": model.aliases,
            "versions": versions,
            "model_file": {"version": 2, "path": format!("model/{MODEL_FILE}"), "bytes": "model-bytes-2"},
        },
    });
    std::fs::write(
        dir.join("expected.json"),
        serde_json::to_string_pretty(&expected)?,
    )?;
    eprintln!("wrote {} and expected.json", root.display());
    Ok(())
}
