//! Retraining from the command line, as a user runs it: `obesity retrain check` (with and
//! without `--dry-run`), `obesity retrain watch`, and `obesity serve` with the trigger of
//! params.yaml's `retraining:` attached. Every retrain registers a challenger and leaves
//! the champion where it was.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use obesity_data::{synth, write_csv};
use obesity_registry::Registry;

const MODEL: &str = "obesity-classifier";

mod common;
use common::{failed, fixture, json, obesity_command, obesity_in, ok};

/// A project folder: params.yaml (small forest, 2 folds, the fixture as base data, the
/// store in `mlruns`, `incoming/` watched with a threshold of 50 new rows) and version 1
/// trained by `obesity train` and made champion.
struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let incoming = dir.path().join("incoming");
        std::fs::create_dir(&incoming).expect("incoming");
        let params = format!(
            "data:\n  path: {}\nforest:\n  n_estimators: 10\ncv:\n  folds: 2\nregistry:\n  tracking_uri: {}\nreports:\n  dir: {}\nretraining:\n  min_new_samples: 50\n  data_directories: [{}]\n",
            fixture("obesity_synthetic.csv").display(),
            dir.path().join("mlruns").display(),
            dir.path().join("reports").display(),
            incoming.display(),
        );
        std::fs::write(dir.path().join("params.yaml"), params).expect("params.yaml");
        let doc = json(&ok(&obesity_in(dir.path(), &["--json", "train"])));
        assert_eq!(doc["model"]["version"], 1, "{doc}");
        let p = Project { dir };
        // Whatever the promotion policy said, version 1 is the champion the rules look at.
        p.registry()
            .set_alias(MODEL, "champion", 1)
            .expect("champion alias");
        p
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn store(&self) -> PathBuf {
        self.path().join("mlruns")
    }

    fn registry(&self) -> Registry {
        Registry::open(self.store().to_str().expect("utf-8 path")).expect("registry")
    }

    fn alias(&self, alias: &str) -> Option<u64> {
        self.registry()
            .resolve_str(&format!("models:/{MODEL}@{alias}"))
            .ok()
            .map(|v| v.version)
    }

    fn versions(&self) -> usize {
        self.registry().versions(MODEL).expect("versions").len()
    }

    fn audit(&self) -> PathBuf {
        self.store()
            .join("monitoring/retrain")
            .join(MODEL)
            .join("audit.jsonl")
    }

    /// `n` seeded labelled rows in `incoming/<file>`.
    fn land(&self, file: &str, n: usize, seed: u64) {
        let mut bytes = Vec::new();
        write_csv(&synth::generate(n, seed), &mut bytes).expect("csv");
        std::fs::write(self.path().join("incoming").join(file), bytes).expect("write data");
    }

    fn obesity(&self, args: &[&str]) -> Output {
        obesity_in(self.path(), args)
    }
}

#[test]
fn check_decides_on_new_data_and_registers_a_challenger() {
    let p = Project::new();
    // Nothing new: not needed, and a dry run writes no audit trail.
    let doc = json(&ok(&p.obesity(&[
        "--json",
        "retrain",
        "check",
        "--dry-run",
    ])));
    assert_eq!(doc["decision"]["retrain"], false, "{doc}");
    assert_eq!(doc["decision"]["reasons"], serde_json::json!([]), "{doc}");
    assert!(!p.audit().exists());

    p.land("batch-1.csv", 120, 7);
    // The dry run says "retrain" and changes nothing.
    let doc = json(&ok(&p.obesity(&[
        "--json",
        "retrain",
        "check",
        "--dry-run",
    ])));
    assert_eq!(doc["dry_run"], true, "{doc}");
    assert_eq!(doc["decision"]["retrain"], true, "{doc}");
    assert_eq!(
        doc["decision"]["reasons"][0]["kind"], "new_samples",
        "{doc}"
    );
    assert_eq!(
        doc["decision"]["reasons"][0]["file_rows"], 120,
        "the landed rows are counted: {doc}"
    );
    assert!(doc["new_version"].is_null(), "{doc}");
    assert!(!p.audit().exists(), "a dry run wrote the audit trail");
    assert_eq!(p.versions(), 1);

    // The real check trains and registers version 2 as challenger; the champion stays.
    let doc = json(&ok(&p.obesity(&["--json", "retrain", "check"])));
    assert_eq!(doc["decision"]["retrain"], true, "{doc}");
    assert_eq!(doc["new_version"], "2", "{doc}");
    assert!(doc["metrics"]["accuracy"].as_f64().is_some(), "{doc}");
    assert_eq!(p.alias("challenger"), Some(2));
    assert_eq!(p.alias("champion"), Some(1));
    let audit = std::fs::read_to_string(p.audit()).expect("audit trail");
    assert!(audit.contains("\"succeeded\""), "{audit}");

    // More data at once: vetoed by the cool-down, nothing trained; the text output says so.
    p.land("batch-2.csv", 80, 8);
    let text = ok(&p.obesity(&["retrain", "check"]));
    assert!(text.contains("decision  vetoed"), "{text}");
    assert!(text.contains("too_soon"), "{text}");
    assert_eq!(p.versions(), 2);
    assert_eq!(p.alias("champion"), Some(1));
}

#[test]
fn watch_runs_the_rules_on_a_schedule_and_stops_after_max_checks() {
    let p = Project::new();
    p.land("batch-1.csv", 100, 11);
    let out = ok(&p.obesity(&[
        "--json",
        "retrain",
        "watch",
        "--interval",
        "0.1",
        "--max-checks",
        "2",
    ]));
    let checks: Vec<serde_json::Value> = out.lines().map(json).collect();
    assert_eq!(checks.len(), 2, "{out}");
    assert_eq!(checks[0]["decision"]["retrain"], true, "{out}");
    assert_eq!(checks[0]["new_version"], "2", "{out}");
    // The second check sees no new file since the retrain.
    assert_eq!(checks[1]["decision"]["retrain"], false, "{out}");
    assert!(checks[1]["new_version"].is_null(), "{out}");
    assert_eq!(p.alias("challenger"), Some(2));
    assert_eq!(p.alias("champion"), Some(1));
}

#[test]
fn bad_retraining_config_is_named_by_key() {
    let p = Project::new();
    // A watched folder that does not exist: check, watch and serve all refuse it.
    let missing = p.path().join("no-such-folder");
    let set = format!("retraining.data_directories=[{}]", missing.display());
    for args in [
        vec!["retrain", "check"],
        vec!["retrain", "watch", "--max-checks", "1"],
        vec!["serve", "--port", "0"],
    ] {
        let mut all = vec!["--set", set.as_str()];
        all.extend(args.iter().copied());
        let err = failed(&p.obesity(&all));
        assert!(
            err.contains("retraining.data_directories"),
            "{args:?}: {err}"
        );
        assert!(err.contains("no-such-folder"), "{args:?}: {err}");
    }
    // A bad value names its key.
    let err = failed(&p.obesity(&[
        "--set",
        "retraining.max_retrains_per_day=0",
        "retrain",
        "check",
    ]));
    assert!(err.contains("retraining.max_retrains_per_day"), "{err}");
    let err = failed(&p.obesity(&[
        "--set",
        "retraining.watch_file_patterns=['../*.csv']",
        "serve",
        "--port",
        "0",
    ]));
    assert!(err.contains("retraining.watch_file_patterns"), "{err}");
    // Nothing watched: the commands say which key to set.
    let err = failed(&p.obesity(&[
        "--set",
        "retraining.data_directories=[]",
        "retrain",
        "check",
    ]));
    assert!(
        err.contains("retraining.data_directories is empty"),
        "{err}"
    );
    // An unknown model is named.
    let err = failed(&p.obesity(&[
        "retrain",
        "check",
        "--model",
        "models:/no-such-model@champion",
    ]));
    assert!(err.contains("no-such-model"), "{err}");
    // A bad interval.
    let err = failed(&p.obesity(&["retrain", "watch", "--interval", "0"]));
    assert!(err.contains("--interval"), "{err}");
    // Nothing was trained by any of these.
    assert_eq!(p.versions(), 1);
}

/// Waits for `cond`, polling every 100 ms, for at most `limit` worth of polls (a bound
/// against hanging, not a speed check); panics with `what` when it never holds.
fn wait_for(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let poll = Duration::from_millis(100);
    let polls = limit.as_millis() / poll.as_millis();
    for _ in 0..polls {
        if cond() {
            return;
        }
        std::thread::sleep(poll);
    }
    assert!(cond(), "gave up after {polls} polls: {what}");
}

#[cfg(unix)]
#[test]
fn serve_attaches_the_retrain_trigger_and_registers_a_challenger() {
    let p = Project::new();
    p.land("batch-1.csv", 100, 21);
    let mut child = obesity_command()
        .current_dir(p.path())
        .args([
            "serve",
            "--port",
            "0",
            "--poll-interval",
            "0",
            "--retrain-check-interval",
            "0.2",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn obesity serve");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let mut seen = String::new();
    let mut line = String::new();
    while stderr.read_line(&mut line).expect("read stderr") > 0 {
        seen.push_str(&line);
        if line.contains("listening on http://") {
            break;
        }
        line.clear();
    }
    assert!(
        seen.contains("listening on http://"),
        "the server never listened:\n{seen}"
    );
    assert!(seen.contains("retrain trigger on"), "{seen}");
    // Drain stderr so the server never blocks on a full pipe.
    let drain = std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = stderr.read_to_string(&mut rest);
        rest
    });
    wait_for(
        Duration::from_secs(180),
        "the service's trigger never registered a challenger",
        || p.alias("challenger").is_some(),
    );
    assert_eq!(p.alias("challenger"), Some(2));
    assert_eq!(p.alias("champion"), Some(1), "a retrain moved the champion");
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let exit = child.wait().expect("wait");
    let rest = drain.join().expect("drain");
    assert!(exit.success(), "exit status {exit}: {rest}");
    let audit = std::fs::read_to_string(p.audit()).expect("audit trail");
    assert!(audit.contains("\"succeeded\""), "{audit}");
}
