//! `MlflowStore` against a real MLflow tracking server: the shared conformance suite plus the
//! server-specific behaviour (special floats through SQL, the artifact proxy, MLflow's own
//! error answers).
//!
//! Runs only against a server the test run itself started, named by `OBESITY_MLFLOW_TEST_URI`
//! (`scripts/mlflow_suite.sh` starts one and sets it). `MLFLOW_TRACKING_URI` is never read:
//! it names the user's own server, which tests must not fill with experiments. Without the
//! variable each test prints `SKIPPED: <test>: ...` and returns; the suite script fails when
//! any of its tests says so. Every name has a random suffix, so the tests can share one
//! server and run in parallel.

use std::io::Read;
use std::net::TcpListener;
use std::process::{Command, Stdio};

use obesity_registry::{
    CreateModelVersion, CreateRun, Error, Metric, MlflowStore, Param, RunStatus, SearchRuns, Stage,
    Store, Tag, UpdateRun,
};

/// The only variable naming the server the tests may write to.
pub(crate) const TEST_URI_ENV: &str = "OBESITY_MLFLOW_TEST_URI";

/// The test server's URI from an environment lookup: `OBESITY_MLFLOW_TEST_URI` when it names
/// an `http(s)://` server, whatever else (`MLFLOW_TRACKING_URI` ...) is set.
pub(crate) fn test_server_uri(lookup: impl Fn(&str) -> Option<String>) -> Option<String> {
    lookup(TEST_URI_ENV).filter(|v| v.starts_with("http://") || v.starts_with("https://"))
}

/// The server under test, or `None` after printing `SKIPPED: <test>: ...` to stderr.
fn server(test: &str) -> Option<MlflowStore> {
    match test_server_uri(|k| std::env::var(k).ok()) {
        Some(uri) => Some(MlflowStore::new(&uri).expect("test server URI is valid")),
        None => {
            eprintln!(
                "SKIPPED: {test}: {TEST_URI_ENV} not set (scripts/mlflow_suite.sh starts a \
                 server and sets it)"
            );
            None
        }
    }
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

fn new_run(store: &dyn Store) -> (String, String) {
    let exp = store
        .create_experiment(&unique("mlflow-server-exp"), None, &[])
        .expect("create experiment");
    let info = store
        .create_run(&CreateRun {
            experiment_id: exp.clone(),
            run_name: Some("server-run".into()),
            start_time: 1_700_000_000_000,
            user_id: "tester".into(),
            tags: vec![Tag::new("origin", "rust")],
        })
        .expect("create run");
    (exp, info.run_id)
}

#[test]
fn mlflow_server_conformance_suite() {
    let Some(store) = server("mlflow_server::mlflow_server_conformance_suite") else {
        return;
    };
    crate::conformance::run_all(&store);
}

#[test]
fn mlflow_server_keeps_nan_and_infinities_through_sql() {
    let Some(store) = server("mlflow_server::mlflow_server_keeps_nan_and_infinities_through_sql")
    else {
        return;
    };
    let (_, run_id) = new_run(&store);
    let values = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.5, -1e-300];
    let metrics: Vec<Metric> = values
        .iter()
        .enumerate()
        .map(|(i, v)| Metric {
            key: "special".into(),
            value: *v,
            timestamp_ms: 1_700_000_000_000 + i as i64,
            step: i as i64,
        })
        .collect();
    store.log_batch(&run_id, &metrics, &[], &[]).expect("log");
    let mut history = store
        .get_metric_history(&run_id, "special")
        .expect("history");
    history.sort_by_key(|m| m.step);
    assert_eq!(history.len(), values.len());
    assert!(history[0].value.is_nan());
    assert_eq!(history[1].value, f64::INFINITY);
    assert_eq!(history[2].value, f64::NEG_INFINITY);
    assert_eq!(history[3].value, 0.5);
    assert_eq!(history[4].value, -1e-300);
    let latest = store.get_run(&run_id).expect("run").data.metrics["special"].clone();
    assert_eq!((latest.step, latest.value), (4, -1e-300));
}

#[test]
fn mlflow_server_artifacts_go_through_the_proxy() {
    let Some(store) = server("mlflow_server::mlflow_server_artifacts_go_through_the_proxy") else {
        return;
    };
    let (exp, run_id) = new_run(&store);
    let info = store.get_run(&run_id).expect("run").info;
    assert!(
        info.artifact_uri.starts_with("mlflow-artifacts:"),
        "server must proxy artifacts: {}",
        info.artifact_uri
    );
    assert!(info.artifact_uri.contains(&exp));
    let bytes: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    store
        .log_artifact(&run_id, "model/weights file.bin", &bytes)
        .expect("upload");
    store
        .log_artifact(&run_id, "readme.txt", b"hello")
        .expect("upload");
    assert_eq!(
        store
            .download_artifact(&run_id, "model/weights file.bin")
            .expect("download"),
        bytes
    );
    let root = store.list_artifacts(&run_id, None).expect("list root");
    let paths: Vec<(&str, bool)> = root.iter().map(|f| (f.path.as_str(), f.is_dir)).collect();
    assert_eq!(paths, vec![("model", true), ("readme.txt", false)]);
    let inner = store.list_artifacts(&run_id, Some("model")).expect("list");
    assert_eq!(inner.len(), 1);
    assert_eq!(inner[0].path, "model/weights file.bin");
    assert_eq!(inner[0].file_size, Some(70_000));
    let err = store.download_artifact(&run_id, "missing.txt").unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
}

#[test]
fn mlflow_server_refusals_are_typed() {
    let Some(store) = server("mlflow_server::mlflow_server_refusals_are_typed") else {
        return;
    };
    let (exp, run_id) = new_run(&store);
    // Changing a param.
    store
        .log_batch(&run_id, &[], &[Param::new("depth", "10")], &[])
        .expect("first param");
    let err = store
        .log_batch(&run_id, &[], &[Param::new("depth", "12")], &[])
        .unwrap_err();
    assert!(
        matches!(err, Error::ParamChanged { ref old, ref new, .. } if old == "10" && new == "12"),
        "{err:?}"
    );
    // Unknown objects.
    assert!(
        store
            .get_run("0123456789abcdef0123456789abcdef")
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        store
            .get_experiment("987654321")
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        store
            .get_experiment("not-a-number")
            .unwrap_err()
            .is_not_found()
    );
    let err = store
        .search_runs(&SearchRuns {
            experiment_ids: vec!["987654321".into()],
            ..Default::default()
        })
        .unwrap_err();
    assert!(
        matches!(err, Error::NotFound { what: "experiment", ref name } if name == "987654321"),
        "{err:?}"
    );
    let model = unique("mlflow-server-model");
    assert!(
        store
            .get_registered_model(&model)
            .unwrap_err()
            .is_not_found()
    );
    // Duplicates.
    let name = store.get_experiment(&exp).expect("exp").name;
    assert!(
        store
            .create_experiment(&name, None, &[])
            .unwrap_err()
            .is_already_exists()
    );
    store
        .create_registered_model(&model, &[], None)
        .expect("model");
    assert!(
        store
            .create_registered_model(&model, &[], None)
            .unwrap_err()
            .is_already_exists()
    );
    // An alias on a version that does not exist, and an unknown alias.
    assert!(
        store
            .set_registered_model_alias(&model, "champion", 9)
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        store
            .get_model_version_by_alias(&model, "champion")
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        store
            .delete_registered_model_alias(&model, "champion")
            .unwrap_err()
            .is_not_found()
    );
    // A filter the server's grammar refuses although ours parses it is a server error, not
    // a panic; a filter ours refuses never reaches the server.
    let err = store
        .search_runs(&SearchRuns {
            experiment_ids: vec![exp],
            filter: Some("metrics.acc >> 1".into()),
            ..Default::default()
        })
        .unwrap_err();
    assert!(matches!(err, Error::Filter { .. }), "{err:?}");
}

#[test]
fn mlflow_server_registry_round_trip_with_stages_and_aliases() {
    let Some(store) =
        server("mlflow_server::mlflow_server_registry_round_trip_with_stages_and_aliases")
    else {
        return;
    };
    let (_, run_id) = new_run(&store);
    let model = unique("mlflow-server-reg");
    store
        .create_registered_model(&model, &[Tag::new("team", "ml")], Some("obesity"))
        .expect("model");
    for i in 1..=3u64 {
        let v = store
            .create_model_version(&CreateModelVersion {
                name: model.clone(),
                source: format!("runs:/{run_id}/model"),
                run_id: Some(run_id.clone()),
                tags: vec![Tag::new("i", i.to_string())],
                description: None,
                model_id: None,
            })
            .expect("version");
        assert_eq!(v.version, i);
        assert_eq!(v.current_stage, Stage::None);
    }
    store
        .transition_model_version_stage(&model, 1, Stage::Production, false)
        .expect("v1 prod");
    let v2 = store
        .transition_model_version_stage(&model, 2, Stage::Production, true)
        .expect("v2 prod");
    assert_eq!(v2.current_stage, Stage::Production);
    assert_eq!(
        store
            .get_model_version(&model, 1)
            .expect("v1")
            .current_stage,
        Stage::Archived
    );
    // Archiving others only makes sense for Staging/Production; it must not be a 500.
    store
        .transition_model_version_stage(&model, 3, Stage::None, true)
        .expect("v3 none");
    store
        .set_registered_model_alias(&model, "champion", 2)
        .expect("alias");
    store
        .set_registered_model_alias(&model, "challenger", 3)
        .expect("alias");
    store
        .set_registered_model_alias(&model, "challenger", 1)
        .expect("move alias");
    assert_eq!(
        store
            .get_model_version_by_alias(&model, "challenger")
            .expect("by alias")
            .version,
        1
    );
    let versions = store.search_model_versions(&model).expect("versions");
    let summary: Vec<(u64, Vec<String>)> = versions
        .iter()
        .map(|v| (v.version, v.aliases.clone()))
        .collect();
    assert_eq!(
        summary,
        vec![
            (1, vec!["challenger".to_string()]),
            (2, vec!["champion".to_string()]),
            (3, vec![]),
        ]
    );
    store
        .delete_registered_model_alias(&model, "challenger")
        .expect("delete alias");
    let m = store.get_registered_model(&model).expect("model");
    assert_eq!(m.aliases.len(), 1);
    assert_eq!(m.description.as_deref(), Some("obesity"));
    assert_eq!(m.tags.get("team").map(String::as_str), Some("ml"));
}

#[test]
fn mlflow_server_search_pages_through_many_runs() {
    let Some(store) = server("mlflow_server::mlflow_server_search_pages_through_many_runs") else {
        return;
    };
    let (exp, first) = new_run(&store);
    store
        .update_run(
            &first,
            &UpdateRun {
                status: Some(RunStatus::Finished),
                end_time: Some(1_700_000_000_500),
                run_name: None,
            },
        )
        .expect("finish");
    for i in 0..24 {
        let info = store
            .create_run(&CreateRun {
                experiment_id: exp.clone(),
                run_name: Some(format!("r{i}")),
                start_time: 1_700_000_001_000 + i,
                user_id: "tester".into(),
                tags: vec![],
            })
            .expect("run");
        store
            .log_batch(
                &info.run_id,
                &[Metric {
                    key: "acc".into(),
                    value: i as f64 / 100.0,
                    timestamp_ms: 1,
                    step: 0,
                }],
                &[],
                &[],
            )
            .expect("log");
    }
    let all = store
        .search_runs(&SearchRuns {
            experiment_ids: vec![exp.clone()],
            ..Default::default()
        })
        .expect("search");
    assert_eq!(all.len(), 25);
    let top = store
        .search_runs(&SearchRuns {
            experiment_ids: vec![exp.clone()],
            filter: Some("metrics.acc >= 0.2".into()),
            order_by: vec!["metrics.acc DESC".into()],
            max_results: 3,
            ..Default::default()
        })
        .expect("search");
    let accs: Vec<f64> = top.iter().filter_map(|r| r.metric("acc")).collect();
    assert_eq!(accs, vec![0.23, 0.22, 0.21]);
    let finished = store
        .search_runs(&SearchRuns {
            experiment_ids: vec![exp],
            filter: Some("status = 'FINISHED'".into()),
            ..Default::default()
        })
        .expect("search");
    assert_eq!(finished.len(), 1);
    assert_eq!(finished[0].info.run_id, first);
}

#[test]
fn issue12_8_the_test_server_uri_ignores_mlflow_tracking_uri() {
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        move |k: &str| {
            pairs
                .iter()
                .find(|(name, _)| *name == k)
                .map(|(_, v)| v.to_string())
        }
    };
    // The user's server in MLFLOW_TRACKING_URI is not a test server.
    assert_eq!(
        test_server_uri(env(&[("MLFLOW_TRACKING_URI", "http://users-server:5000")])),
        None
    );
    assert_eq!(
        test_server_uri(env(&[
            ("MLFLOW_TRACKING_URI", "http://users-server:5000"),
            (TEST_URI_ENV, "http://127.0.0.1:5123"),
        ])),
        Some("http://127.0.0.1:5123".to_string())
    );
    assert_eq!(test_server_uri(env(&[(TEST_URI_ENV, "./mlruns")])), None);
}

/// Set in the child run below, so that it does not start its own child.
const CHILD_ENV: &str = "OBESITY_REGISTRY_TEST_TRACKING_URI_CHILD";

#[test]
fn issue12_8_server_tests_do_not_contact_the_server_in_mlflow_tracking_uri() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return;
    }
    // A dummy "user's server": any connection to it is a test writing where it must not.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    listener.set_nonblocking(true).expect("nonblocking");
    let exe = std::env::current_exe().expect("current exe");
    let out = Command::new(exe)
        .args([
            "mlflow_server::",
            "--skip",
            "mlflow_server::issue12_8",
            "--show-output",
        ])
        .env("MLFLOW_TRACKING_URI", format!("http://{addr}"))
        .env_remove(TEST_URI_ENV)
        .env(CHILD_ENV, "1")
        .stdin(Stdio::null())
        .output()
        .expect("run the server tests");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    let mut contacted = 0;
    while let Ok((mut stream, _)) = listener.accept() {
        let mut request = String::new();
        let _ = stream.set_nonblocking(false);
        let _ = stream.read_to_string(&mut request);
        contacted += 1;
    }
    assert_eq!(
        contacted, 0,
        "the tests contacted MLFLOW_TRACKING_URI:\n{text}"
    );
    // Each server test said it was skipped, and why.
    let skipped = text
        .lines()
        .filter(|l| l.starts_with("SKIPPED: mlflow_server::mlflow_server_"))
        .count();
    assert!(
        skipped >= 6,
        "expected every server test to say SKIPPED:\n{text}"
    );
}

/// Issue 15: a version registered over REST is an MLflow Model directory (its MLmodel comes
/// back through the artifact proxy), and the run's dataset input reaches the server
/// (`runs/log-inputs`), where `runs/get` shows it.
#[test]
fn mlflow_server_version_is_an_mlflow_model_and_dataset_inputs_are_kept() {
    let Some(store) = server(
        "mlflow_server::mlflow_server_version_is_an_mlflow_model_and_dataset_inputs_are_kept",
    ) else {
        return;
    };
    let base = store.url().to_string();
    let (_, run_id) = new_run(&store);
    let store: std::sync::Arc<dyn Store> = std::sync::Arc::new(store);
    let digest = "0123456789abcdef0123456789abcdef";
    let dataset = obesity_registry::DatasetInput::training("train", digest, "/data/train.csv")
        .with_schema(&obesity_data::Schema::obesity());
    store
        .log_inputs(&run_id, std::slice::from_ref(&dataset))
        .expect("log-inputs");
    store
        .log_inputs(&run_id, std::slice::from_ref(&dataset))
        .expect("again");
    let url = format!("{base}/api/2.0/mlflow/runs/get?run_id={run_id}");
    let body: serde_json::Value = ureq::get(&url)
        .call()
        .expect("runs/get")
        .body_mut()
        .read_json()
        .expect("json");
    let inputs = body["run"]["inputs"]["dataset_inputs"]
        .as_array()
        .expect("dataset inputs");
    assert_eq!(inputs.len(), 1, "{body}");
    assert_eq!(inputs[0]["dataset"]["digest"], digest);
    assert_eq!(inputs[0]["dataset"]["name"], "train");
    assert_eq!(inputs[0]["tags"][0]["key"], "mlflow.data.context");
    // A digest MLflow would refuse is refused before any request.
    let long = obesity_registry::DatasetInput::training("train", "f".repeat(40), "/x");
    assert!(matches!(
        store.log_inputs(&run_id, &[long]),
        Err(Error::InvalidValue {
            field: "dataset digest",
            ..
        })
    ));

    let reg = obesity_registry::Registry::new(store.clone());
    let name = unique("mlmodel");
    let sig = obesity_registry::Signature::from_schema(&obesity_data::Schema::obesity())
        .expect("signature");
    let v = reg
        .register(
            obesity_registry::NewVersion::new(&name, &run_id, b"native".to_vec())
                .signature(sig.clone()),
        )
        .expect("register");
    // The server keeps no logged model for us (MlflowStore does not create them).
    assert_eq!(v.model_id, None);
    let text = reg
        .mlmodel(&name, v.version)
        .expect("read")
        .expect("MLmodel through the proxy");
    let m: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).expect("yaml");
    let inputs: Vec<serde_json::Value> =
        serde_json::from_str(m["signature"]["inputs"].as_str().expect("inputs")).expect("json");
    assert_eq!(inputs.len(), sig.inputs.len());
    assert_eq!(m["run_id"].as_str(), Some(run_id.as_str()));
}

/// Issue 16: after `promote 3 Production --archive-existing`, `champion` stayed on the
/// version the server archived; and the policy must not bring an archived version back.
#[test]
fn mlflow_server_archive_existing_moves_champion_and_the_policy_leaves_archived_alone() {
    let Some(store) = server(
        "mlflow_server::mlflow_server_archive_existing_moves_champion_and_the_policy_leaves_archived_alone",
    ) else {
        return;
    };
    let store: std::sync::Arc<dyn Store> = std::sync::Arc::new(store);
    let (_, run_id) = new_run(store.as_ref());
    store
        .log_batch(
            &run_id,
            &[obesity_registry::Metric::now("accuracy", 0.95)],
            &[],
            &[],
        )
        .expect("metric");
    let model = unique("mlflow-server-archive");
    store
        .create_registered_model(&model, &[], None)
        .expect("model");
    for _ in 1..=3u64 {
        store
            .create_model_version(&CreateModelVersion {
                name: model.clone(),
                source: format!("runs:/{run_id}/model"),
                run_id: Some(run_id.clone()),
                tags: Vec::new(),
                description: None,
                model_id: None,
            })
            .expect("version");
    }
    let registry = obesity_registry::Registry::new(store.clone());
    registry
        .transition(&model, 1, Stage::Production, false)
        .expect("v1 prod");
    registry.set_alias(&model, "champion", 1).expect("alias");
    let t = registry
        .transition_report(&model, 3, Stage::Production, true)
        .expect("v3 prod");
    assert_eq!(t.archived, [1]);
    assert_eq!(t.moved_aliases, [("champion".to_owned(), 1)]);
    assert_eq!(
        store
            .get_model_version_by_alias(&model, "champion")
            .expect("champion")
            .version,
        3
    );
    assert_eq!(
        registry.version(&model, 1).expect("v1").current_stage,
        Stage::Archived
    );
    // The policy on the archived v1 changes nothing on the server.
    let before = registry.versions(&model).expect("versions");
    let d = registry
        .promote(&model, 1, &obesity_registry::PromotionPolicy::default())
        .expect("policy");
    assert!(!d.applied, "{d}");
    let after = registry.versions(&model).expect("versions");
    let stages = |vs: &[obesity_registry::ModelVersion]| {
        vs.iter()
            .map(|v| (v.version, v.current_stage, v.aliases.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(stages(&before), stages(&after));
}
