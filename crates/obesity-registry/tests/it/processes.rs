//! Several processes registering versions in one local store: numbers stay unique and
//! gap-free. The test re-executes its own binary, running only `child_registers_versions`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use obesity_registry::{CreateModelVersion, LocalStore, Store};

const STORE_ENV: &str = "OBESITY_REGISTRY_TEST_CHILD_STORE";
const RUN_ENV: &str = "OBESITY_REGISTRY_TEST_CHILD_RUN";
const PER_CHILD: u64 = 8;

/// The child's body: only does something when the parent set the env vars.
#[test]
fn child_registers_versions() {
    let (Ok(root), Ok(run_id)) = (std::env::var(STORE_ENV), std::env::var(RUN_ENV)) else {
        println!("not a child process ({STORE_ENV} unset): nothing to do");
        return;
    };
    let store = LocalStore::open(&root).expect("open");
    for _ in 0..PER_CHILD {
        store
            .create_model_version(&CreateModelVersion {
                name: "shared".into(),
                source: "s".into(),
                run_id: Some(run_id.clone()),
                ..CreateModelVersion::default()
            })
            .expect("version");
    }
}

#[test]
fn processes_register_gap_free_versions() {
    if std::env::var(STORE_ENV).is_ok() {
        return; // we are a child; do not recurse
    }
    let (_dir, _store, local) = crate::temp_store();
    let (_, run_id) = crate::conformance::new_run(&local, "procs");
    local
        .create_registered_model("shared", &[], None)
        .expect("model");
    let exe = std::env::current_exe().expect("current exe");
    let children = 4;
    let handles: Vec<_> = (0..children)
        .map(|_| {
            Command::new(&exe)
                .args([
                    "processes::child_registers_versions",
                    "--exact",
                    "--test-threads=1",
                ])
                .env(STORE_ENV, local.root())
                .env(RUN_ENV, &run_id)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn child")
        })
        .collect();
    for h in handles {
        let out = h.wait_with_output().expect("wait");
        assert!(
            out.status.success(),
            "child failed: {}\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        // The child really ran the registering test (not zero tests).
        assert!(String::from_utf8_lossy(&out.stdout).contains("1 passed"));
    }
    let versions: Vec<u64> = local
        .search_model_versions("shared")
        .expect("list")
        .iter()
        .map(|v| v.version)
        .collect();
    let expected: Vec<u64> = (1..=children * PER_CHILD).collect();
    assert_eq!(versions, expected);
}

const KILL_ENV: &str = "OBESITY_REGISTRY_TEST_KILL_STORE";

/// The child's body for the kill test: registers versions until it is killed.
#[test]
fn child_registers_until_killed() {
    let (Ok(root), Ok(run_id)) = (std::env::var(KILL_ENV), std::env::var(RUN_ENV)) else {
        println!("not a child process ({KILL_ENV} unset): nothing to do");
        return;
    };
    let store = LocalStore::open(&root).expect("open");
    for _ in 0..100_000 {
        store
            .create_model_version(&CreateModelVersion {
                name: "victim".into(),
                source: "s".into(),
                run_id: Some(run_id.clone()),
                tags: vec![obesity_registry::Tag::new("payload", "x".repeat(4096))],
                ..CreateModelVersion::default()
            })
            .expect("version");
    }
}

#[test]
fn a_process_killed_mid_registration_leaves_a_readable_gap_free_store() {
    if std::env::var(STORE_ENV).is_ok() || std::env::var(KILL_ENV).is_ok() {
        return;
    }
    let (_dir, _store, local) = crate::temp_store();
    let (_, run_id) = crate::conformance::new_run(&local, "kill");
    local
        .create_registered_model("victim", &[], None)
        .expect("model");
    let exe = std::env::current_exe().expect("current exe");
    let mut child = Command::new(&exe)
        .args([
            "processes::child_registers_until_killed",
            "--exact",
            "--test-threads=1",
        ])
        .env(KILL_ENV, local.root())
        .env(RUN_ENV, &run_id)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn child");
    // Wait until the child has registered a few versions, then SIGKILL it mid-stream.
    let mut seen = 0;
    for _ in 0..2_000 {
        seen = local
            .search_model_versions("victim")
            .map(|v| v.len())
            .unwrap_or(0);
        if seen >= 5 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().expect("kill");
    child.wait().expect("reap");
    assert!(seen >= 5, "the child never registered anything");
    let versions: Vec<u64> = local
        .search_model_versions("victim")
        .expect("store still readable")
        .iter()
        .map(|v| v.version)
        .collect();
    let n = versions.len() as u64;
    assert_eq!(
        versions,
        (1..=n).collect::<Vec<_>>(),
        "gap-free after the kill"
    );
    for v in &versions {
        let mv = local
            .get_model_version("victim", *v)
            .expect("complete version");
        assert_eq!(
            mv.tags.get("payload").map(String::len),
            Some(4096),
            "v{v} is whole"
        );
    }
    // The lock died with the process: the next writer gets the next number.
    let next = local
        .create_model_version(&CreateModelVersion {
            name: "victim".into(),
            source: "s".into(),
            run_id: Some(run_id),
            ..CreateModelVersion::default()
        })
        .expect("register after the kill");
    assert_eq!(next.version, n + 1);
}

// ---- issue 12 item 3: writers killed at random points ------------------------------------

const KILL_LOOP_ENV: &str = "OBESITY_REGISTRY_TEST_KILL_LOOP_STORE";
/// Where `scripts/mlflow_suite.sh` wants the killed store kept for MLflow's client to read.
const KILL_LOOP_DIR_ENV: &str = "OBESITY_KILL_LOOP_DIR";
/// How many processes are killed (at least 40; the suite may ask for more).
const KILL_LOOP_ITERATIONS_ENV: &str = "OBESITY_KILL_LOOP_ITERATIONS";
const KILL_EXPERIMENT: &str = "kill-loop";
const KILL_MODEL: &str = "kill-loop-model";
/// The staging folder of the local store (MLflow skips root folders ending in `.trash`).
const STAGING: &str = ".mlruns-tmp.trash";

/// The child's body for the kill loop: tracks runs and registers versions (artifacts, model,
/// version, alias) until it is killed.
#[test]
fn child_tracks_and_registers_until_killed() {
    let Ok(root) = std::env::var(KILL_LOOP_ENV) else {
        println!("not a child process ({KILL_LOOP_ENV} unset): nothing to do");
        return;
    };
    let store: std::sync::Arc<dyn Store> =
        std::sync::Arc::new(LocalStore::open(&root).expect("open"));
    let tracker = obesity_registry::Tracker::new(store.clone())
        .with_user("killer")
        .with_source_name("processes.rs")
        .with_git_commit(None);
    let registry = obesity_registry::Registry::new(store);
    println!("child-ready");
    for i in 0..100_000u64 {
        let run = tracker
            .start_run(KILL_EXPERIMENT, Some(&format!("r{i}")))
            .expect("start run");
        run.log_params([("i", i.to_string()), ("depth", "7".to_string())])
            .expect("params");
        let metrics: Vec<obesity_registry::Metric> = (0..3)
            .map(|step| obesity_registry::Metric {
                key: "loss".into(),
                value: 1.0 / (step as f64 + 1.0),
                timestamp_ms: 1_700_000_000_000 + step,
                step,
            })
            .collect();
        run.log_metrics_full(&metrics).expect("metrics");
        run.set_tag("kind", "kill-loop").expect("tag");
        let v = registry
            .register(
                obesity_registry::NewVersion::new(
                    KILL_MODEL,
                    run.id(),
                    format!("model-bytes-of-{}", run.id()).into_bytes(),
                )
                .tag("payload", "x".repeat(4096)),
            )
            .expect("register");
        registry
            .set_alias(KILL_MODEL, "champion", v.version)
            .expect("alias");
        run.finish().expect("finish");
    }
}

/// Every entry below `dir` whose name is a temp name of the store (current or legacy), not
/// counting the staging folder itself and what is inside it.
fn temp_names_outside_staging(root: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, staging: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path == staging {
                continue;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(".tmp-obesity") || name.starts_with(".mlruns-tmp") {
                out.push(path.clone());
            }
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                walk(&path, staging, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(root, &root.join(STAGING), &mut out);
    out
}

fn staged_entries(root: &Path) -> usize {
    std::fs::read_dir(root.join(STAGING)).map_or(0, |d| d.count())
}

/// A random number below `n` (the test needs no reproducible sequence, only spread).
fn random_below(n: u64) -> u64 {
    (uuid::Uuid::new_v4().as_u128() % u128::from(n)) as u64
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let dest = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_tree(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), &dest).expect("copy");
        }
    }
}

/// What the killed store holds, as this crate reads it: MLflow's client must read the same
/// (`scripts/check_local_store_with_mlflow.py --kill-loop`).
fn kill_loop_expectations(store: &dyn Store) -> serde_json::Value {
    let exp = store
        .get_experiment_by_name(KILL_EXPERIMENT)
        .expect("experiment readable")
        .expect("the children created the experiment");
    let runs = store
        .search_runs(&obesity_registry::SearchRuns {
            experiment_ids: vec![exp.experiment_id.clone()],
            max_results: 100_000,
            ..Default::default()
        })
        .expect("search_runs");
    let runs: Vec<serde_json::Value> = runs
        .iter()
        .map(|r| {
            let history: std::collections::BTreeMap<&String, Vec<serde_json::Value>> = r
                .data
                .metrics
                .keys()
                .map(|k| {
                    let points = store
                        .get_metric_history(&r.info.run_id, k)
                        .expect("history")
                        .iter()
                        .map(|m| serde_json::json!([m.step, m.timestamp_ms, m.value]))
                        .collect();
                    (k, points)
                })
                .collect();
            serde_json::json!({
                "run_id": r.info.run_id,
                "status": r.info.status.as_str(),
                "params": r.data.params,
                "tags": r.data.tags,
                "history": history,
            })
        })
        .collect();
    let model = store.get_registered_model(KILL_MODEL).expect("model");
    let versions: Vec<serde_json::Value> = store
        .search_model_versions(KILL_MODEL)
        .expect("versions")
        .iter()
        .map(|v| serde_json::json!({"version": v.version, "run_id": v.run_id, "tags": v.tags}))
        .collect();
    serde_json::json!({
        "experiment": {"experiment_id": exp.experiment_id, "name": exp.name},
        "runs": runs,
        "model": {"name": KILL_MODEL, "aliases": model.aliases, "versions": versions},
    })
}

#[test]
fn issue12_3_writers_killed_at_random_points_leave_nothing_mlflow_reads_and_reopen_cleans_up() {
    if [STORE_ENV, KILL_ENV, KILL_LOOP_ENV]
        .iter()
        .any(|k| std::env::var(k).is_ok())
    {
        return; // we are a child; do not recurse
    }
    let iterations: usize = std::env::var(KILL_LOOP_ITERATIONS_ENV)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40)
        .max(40);
    // With OBESITY_KILL_LOOP_DIR the killed store is kept there for MLflow's client;
    // otherwise it lives in a temp dir.
    let keep = std::env::var_os(KILL_LOOP_DIR_ENV).map(PathBuf::from);
    let tmp = tempfile::tempdir().expect("tempdir");
    let base = keep.clone().unwrap_or_else(|| tmp.path().to_path_buf());
    let root = base.join("mlruns");
    assert!(
        !root.exists(),
        "{} already exists; give an empty folder",
        root.display()
    );
    let local = LocalStore::open(&root).expect("open");
    let exe = std::env::current_exe().expect("current exe");
    let (mut staged_total, mut kills_with_staged) = (0usize, 0usize);
    let mut i = 0;
    // For MLflow's client the store should hold a dead writer's leftovers when it is read:
    // with a kept store, up to 40 more kills until the last one left some.
    while i < iterations || (keep.is_some() && staged_entries(&root) == 0 && i < iterations + 40) {
        let mut child = Command::new(&exe)
            .args([
                "processes::child_tracks_and_registers_until_killed",
                "--exact",
                "--test-threads=1",
                "--nocapture",
            ])
            .env(KILL_LOOP_ENV, &root)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn child");
        // Random points: one kill in four anywhere in the child's start (opening the store
        // included), the others at a random point of its tracking and registering loop.
        // The child's stdout stays open until it is dead, so it never writes into a closed pipe.
        let mut stdout = std::io::BufReader::new(child.stdout.take().expect("child stdout"));
        if i % 4 == 0 {
            std::thread::sleep(std::time::Duration::from_millis(random_below(40)));
        } else {
            let mut line = String::new();
            let ready = loop {
                line.clear();
                match std::io::BufRead::read_line(&mut stdout, &mut line) {
                    Ok(0) | Err(_) => break false,
                    // libtest prints `test <name> ... ` before the test runs, on the same line.
                    Ok(_) if line.trim_end().ends_with("child-ready") => break true,
                    Ok(_) => {}
                }
            };
            assert!(ready, "iteration {i}: the child died before it was ready");
            std::thread::sleep(std::time::Duration::from_millis(random_below(150)));
        }
        child.kill().expect("kill");
        let out = child.wait_with_output().expect("reap");
        drop(stdout);
        assert!(
            out.status.code().is_none(),
            "iteration {i}: the child stopped by itself ({}), it must only die by the kill:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        // Nothing a dead writer left may sit where MLflow (or this store) reads.
        let visible = temp_names_outside_staging(&root);
        assert!(
            visible.is_empty(),
            "iteration {i}: temp leftovers where MLflow reads them: {visible:?}"
        );
        let staged = staged_entries(&root);
        staged_total += staged;
        kills_with_staged += usize::from(staged > 0);
        i += 1;
    }
    let iterations = i;
    let staged_at_end = staged_entries(&root);
    eprintln!(
        "kill loop: {iterations} kills, {kills_with_staged} left staging leftovers \
         ({staged_total} entries in all, {staged_at_end} at the end), 0 temp names where \
         MLflow reads"
    );
    let expected = kill_loop_expectations(&local);
    // The store MLflow's client reads keeps the last kill's leftovers: the reopen check below
    // runs on a copy of it.
    let checked_root = match &keep {
        Some(dir) => {
            let report = serde_json::json!({
                "iterations": iterations,
                "kills_with_staging_leftovers": kills_with_staged,
                "staging_leftovers_total": staged_total,
                "staging_leftovers_at_end": staged_at_end,
                "expected": expected,
            });
            std::fs::write(
                dir.join("kill_report.json"),
                serde_json::to_string_pretty(&report).expect("json"),
            )
            .expect("write kill_report.json");
            let copy = dir.join("reopened").join("mlruns");
            copy_tree(&root, &copy);
            copy
        }
        None => root.clone(),
    };
    let reopened = LocalStore::open(&checked_root).expect("reopen");
    assert_eq!(
        staged_entries(&checked_root),
        0,
        "reopen cleans the staging folder"
    );
    assert_eq!(
        temp_names_outside_staging(&checked_root),
        Vec::<PathBuf>::new()
    );
    // Every version is complete, numbered without gaps, and loads its own model bytes.
    let registry = obesity_registry::Registry::new(std::sync::Arc::new(reopened.clone()));
    let versions = reopened
        .search_model_versions(KILL_MODEL)
        .expect("versions readable");
    let numbers: Vec<u64> = versions.iter().map(|v| v.version).collect();
    assert!(!numbers.is_empty(), "no child registered anything");
    assert_eq!(numbers, (1..=numbers.len() as u64).collect::<Vec<_>>());
    for v in &versions {
        assert_eq!(
            v.tags.get("payload").map(String::len),
            Some(4096),
            "v{}",
            v.version
        );
        let run_id = v.run_id.as_deref().expect("run id");
        assert_eq!(
            registry
                .artifact(KILL_MODEL, v.version, obesity_registry::MODEL_FILE)
                .expect("model file"),
            format!("model-bytes-of-{run_id}").into_bytes()
        );
        let run = reopened.get_run(run_id).expect("source run");
        assert_eq!(run.param("depth"), Some("7"));
    }
    // Every run the children started is whole (meta, tags, params, metric history).
    assert_eq!(kill_loop_expectations(&reopened), expected);
}
