//! The `obesity` binary, run as a user would, against a local store in a temp dir.

mod common;

use std::path::Path;
use std::process::Output;
use std::sync::Arc;

use obesity_registry::{LocalStore, NewVersion, Registry, Store, Tracker};

fn obesity(store: &Path, args: &[&str]) -> Output {
    common::obesity_command()
        .arg("--tracking-uri")
        .arg(store)
        .args(args)
        .output()
        .expect("run obesity")
}

fn stdout(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {}: {}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr_of_failure(o: &Output) -> String {
    assert!(
        !o.status.success(),
        "expected failure, got: {}",
        String::from_utf8_lossy(&o.stdout)
    );
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Two runs and two versions of `obesity-rf` (accuracy 0.91 and 0.95).
fn populated() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("mlruns");
    let store: Arc<dyn Store> = Arc::new(LocalStore::open(&root).expect("store"));
    let tracker = Tracker::new(store.clone()).with_git_commit(None);
    let registry = Registry::new(store);
    for (i, (acc, depth)) in [(0.91, "10"), (0.95, "12")].into_iter().enumerate() {
        let run = tracker
            .start_run("obesity", Some(&format!("rf-{i}")))
            .expect("run");
        run.log_param("max_depth", depth).expect("param");
        run.log_metric("accuracy", acc).expect("metric");
        let id = run.id().to_string();
        run.finish().expect("finish");
        registry
            .register(NewVersion::new("obesity-rf", &id, vec![i as u8]).data_fingerprint("fp"))
            .expect("register");
    }
    (dir, root)
}

#[test]
fn list_and_versions() {
    let (_d, root) = populated();
    let out = stdout(&obesity(&root, &["registry", "list"]));
    assert!(out.starts_with("NAME"), "{out}");
    assert!(out.contains("obesity-rf"), "{out}");
    assert!(out.contains("None:v2"), "{out}");

    let out = stdout(&obesity(&root, &["registry", "versions", "obesity-rf"]));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(
        lines[1].starts_with("1 ") && lines[1].contains("0.91"),
        "{out}"
    );
    assert!(
        lines[2].starts_with("2 ") && lines[2].contains("0.95"),
        "{out}"
    );

    let json: serde_json::Value = serde_json::from_str(&stdout(&obesity(
        &root,
        &["registry", "versions", "obesity-rf", "--json"],
    )))
    .expect("json");
    assert_eq!(json.as_array().map(Vec::len), Some(2));
    assert_eq!(json[1]["version"], 2);
    assert_eq!(json[1]["current_stage"], "None");
}

#[test]
fn promote_alias_and_compare() {
    let (_d, root) = populated();
    let out = stdout(&obesity(
        &root,
        &["registry", "promote", "obesity-rf", "1", "production"],
    ));
    assert_eq!(out, "obesity-rf version 1 is now in stage Production\n");
    stdout(&obesity(
        &root,
        &[
            "registry",
            "promote",
            "obesity-rf",
            "2",
            "Production",
            "--archive-existing",
        ],
    ));
    let json: serde_json::Value = serde_json::from_str(&stdout(&obesity(
        &root,
        &["--json", "registry", "versions", "obesity-rf"],
    )))
    .expect("json");
    assert_eq!(json[0]["current_stage"], "Archived");
    assert_eq!(json[1]["current_stage"], "Production");

    let out = stdout(&obesity(
        &root,
        &["registry", "alias", "obesity-rf", "champion", "2"],
    ));
    assert_eq!(out, "obesity-rf@champion -> version 2\n");
    let out = stdout(&obesity(&root, &["registry", "list"]));
    assert!(out.contains("champion=v2"), "{out}");

    let out = stdout(&obesity(
        &root,
        &["registry", "compare", "obesity-rf", "1", "2"],
    ));
    assert!(out.contains("* max_depth"), "{out}");
    assert!(out.contains("+0.040000"), "{out}");
    let json: serde_json::Value = serde_json::from_str(&stdout(&obesity(
        &root,
        &["registry", "compare", "obesity-rf", "1", "2", "--json"],
    )))
    .expect("json");
    assert_eq!(json["right_version"], 2);

    let out = stdout(&obesity(
        &root,
        &["registry", "delete-alias", "obesity-rf", "champion"],
    ));
    assert_eq!(out, "deleted obesity-rf@champion\n");
    let err = stderr_of_failure(&obesity(
        &root,
        &["registry", "delete-alias", "obesity-rf", "champion"],
    ));
    assert!(err.contains("obesity-rf@champion"), "{err}");
}

#[test]
fn policy_never_replaces_a_better_champion() {
    let (_d, root) = populated();
    let out = stdout(&obesity(&root, &["registry", "policy", "obesity-rf", "2"]));
    assert!(out.contains("Champion"), "{out}");
    let json: serde_json::Value = serde_json::from_str(&stdout(&obesity(
        &root,
        &["registry", "policy", "obesity-rf", "1", "--json"],
    )))
    .expect("json");
    assert_eq!(json["outcome"], "Challenger");
    assert_eq!(json["stage"], "Staging");
}

#[test]
fn runs_with_filter_and_order() {
    let (_d, root) = populated();
    let out = stdout(&obesity(
        &root,
        &[
            "registry",
            "runs",
            "obesity",
            "--filter",
            "metrics.accuracy > 0.9",
            "--order-by",
            "metrics.accuracy DESC",
        ],
    ));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(lines[0].contains("accuracy"), "{out}");
    assert!(
        lines[1].contains("rf-1") && lines[1].contains("0.9500"),
        "{out}"
    );
    assert!(lines[2].contains("rf-0"), "{out}");
    let out = stdout(&obesity(
        &root,
        &[
            "registry",
            "runs",
            "obesity",
            "--filter",
            "params.max_depth = '12'",
            "--json",
        ],
    ));
    let json: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(json.as_array().map(Vec::len), Some(1));
    assert_eq!(json[0]["info"]["run_name"], "rf-1");
}

#[test]
fn errors_are_reported_with_what_was_wrong() {
    let (_d, root) = populated();
    let err = stderr_of_failure(&obesity(
        &root,
        &[
            "registry",
            "runs",
            "obesity",
            "--filter",
            "metrics.accuracy >> 1",
        ],
    ));
    assert!(err.contains("position 18"), "{err}");
    let err = stderr_of_failure(&obesity(
        &root,
        &["registry", "promote", "obesity-rf", "1", "Prod"],
    ));
    assert!(err.contains("\"Prod\""), "{err}");
    let err = stderr_of_failure(&obesity(&root, &["registry", "versions", "nope"]));
    assert!(err.contains("nope"), "{err}");
    let err = stderr_of_failure(&obesity(
        &root,
        &["registry", "alias", "obesity-rf", "../x", "1"],
    ));
    assert!(err.contains("../x"), "{err}");
    let err = stderr_of_failure(&obesity(&root, &["registry", "runs", "missing-experiment"]));
    assert!(err.contains("missing-experiment"), "{err}");
    let err = stderr_of_failure(&obesity(
        Path::new("ftp://example.com"),
        &["registry", "list"],
    ));
    assert!(err.contains("ftp"), "{err}");
    // Bad usage is clap's job: exit code 2.
    let o = obesity(
        &root,
        &["registry", "promote", "obesity-rf", "one", "Staging"],
    );
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn tracking_uri_comes_from_the_environment() {
    // The variables point at this test's own temporary store, never at a user's server.
    let (_d, root) = populated();
    let out = common::obesity_command()
        .args(["registry", "list"])
        .env("MLFLOW_TRACKING_URI", &root)
        .output()
        .expect("run");
    assert!(stdout(&out).contains("obesity-rf"));
    let out = common::obesity_command()
        .args(["registry", "list"])
        .env("OBESITY_TRACKING_URI", &root)
        .env("MLFLOW_TRACKING_URI", "/nonexistent/should-not-be-used")
        .output()
        .expect("run");
    assert!(stdout(&out).contains("obesity-rf"));
}

#[test]
fn a_closed_stdout_pipe_ends_quietly_instead_of_panicking() {
    // `obesity registry list | head -0`: the reader is gone before the output is written.
    // `print!` used to panic ("failed printing to stdout: Broken pipe", exit 101).
    let (_dir, root) = populated();
    let mut child = common::obesity_command()
        .arg("--tracking-uri")
        .arg(&root)
        .args(["registry", "list"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn obesity");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(out.status.success(), "exit {}: {stderr}", out.status);
}

#[test]
fn policy_dry_run_decides_like_the_real_run_and_changes_nothing() {
    let (_d, root) = populated();
    let before = stdout(&obesity(
        &root,
        &["--json", "registry", "versions", "obesity-rf"],
    ));
    let dry: serde_json::Value = serde_json::from_str(&stdout(&obesity(
        &root,
        &[
            "registry",
            "policy",
            "obesity-rf",
            "2",
            "--dry-run",
            "--json",
        ],
    )))
    .expect("json");
    assert_eq!(dry["dry_run"], true);
    let after = stdout(&obesity(
        &root,
        &["--json", "registry", "versions", "obesity-rf"],
    ));
    assert_eq!(before, after, "a dry run must not change any version");
    let text = stdout(&obesity(
        &root,
        &["registry", "policy", "obesity-rf", "2", "--dry-run"],
    ));
    assert!(text.starts_with("dry run (nothing changed)"), "{text}");

    let real: serde_json::Value = serde_json::from_str(&stdout(&obesity(
        &root,
        &["registry", "policy", "obesity-rf", "2", "--json"],
    )))
    .expect("json");
    assert_eq!(dry["decision"]["outcome"], real["outcome"]);
    assert_eq!(dry["decision"]["stage"], real["stage"]);
    let changed = stdout(&obesity(
        &root,
        &["--json", "registry", "versions", "obesity-rf"],
    ));
    assert_ne!(before, changed, "the real run applies the decision");

    // A metric the version does not have: an error naming it, nothing changed.
    let err = stderr_of_failure(&obesity(
        &root,
        &[
            "registry",
            "policy",
            "obesity-rf",
            "1",
            "--metric",
            "auc",
            "--dry-run",
        ],
    ));
    assert!(err.contains("auc"), "{err}");
}

#[test]
fn runs_show_the_chosen_columns() {
    let (_d, root) = populated();
    let out = stdout(&obesity(
        &root,
        &[
            "registry",
            "runs",
            "obesity",
            "--order-by",
            "metrics.accuracy ASC",
            "--columns",
            "name,metrics.accuracy,params.max_depth",
        ],
    ));
    let lines: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(lines[0], ["NAME", "accuracy", "params.max_depth"], "{out}");
    assert_eq!(lines[1], ["rf-0", "0.9100", "10"], "{out}");
    assert_eq!(lines[2], ["rf-1", "0.9500", "12"], "{out}");
    let err = stderr_of_failure(&obesity(
        &root,
        &["registry", "runs", "obesity", "--columns", "name,acuracy"],
    ));
    assert!(err.contains("acuracy"), "{err}");
}

/// Issue 16: after `promote 3 Production --archive-existing`, `champion` stayed on the
/// archived version.
#[test]
fn promote_archive_existing_moves_champion_and_warns_about_other_aliases() {
    let (_d, root) = populated();
    stdout(&obesity(&root, &["registry", "policy", "obesity-rf", "1"]));
    stdout(&obesity(
        &root,
        &["registry", "alias", "obesity-rf", "baseline", "1"],
    ));
    let out = obesity(
        &root,
        &[
            "registry",
            "promote",
            "obesity-rf",
            "2",
            "Production",
            "--archive-existing",
        ],
    );
    let text = stdout(&out);
    assert!(text.contains("version 1 archived"), "{text}");
    assert!(
        text.contains("obesity-rf@champion moved from version 1 (archived) to version 2"),
        "{text}"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("warning: obesity-rf@baseline still points to version 1"),
        "{err}"
    );
    let list = stdout(&obesity(&root, &["registry", "list"]));
    assert!(list.contains("champion=v2"), "{list}");
}

/// Issue 16: the policy on an archived version moved it back to Staging.
#[test]
fn policy_leaves_an_archived_version_archived_and_names_the_data_it_compared_on() {
    let (_d, root) = populated();
    stdout(&obesity(&root, &["registry", "policy", "obesity-rf", "1"]));
    let text = stdout(&obesity(&root, &["registry", "policy", "obesity-rf", "2"]));
    assert!(text.contains("Champion"), "{text}");
    assert!(text.contains("on the same data (fp)"), "{text}");
    let before = stdout(&obesity(
        &root,
        &["--json", "registry", "versions", "obesity-rf"],
    ));
    let versions: serde_json::Value = serde_json::from_str(&before).expect("json");
    assert_eq!(versions[0]["current_stage"], "Archived");
    // The lineage is in --json, the accuracy and data in the table.
    assert_eq!(versions[1]["lineage"]["metrics"]["accuracy"], 0.95);
    let table = stdout(&obesity(&root, &["registry", "versions", "obesity-rf"]));
    assert!(
        table.contains("0.9500") && table.contains("DATA"),
        "{table}"
    );

    let text = stdout(&obesity(&root, &["registry", "policy", "obesity-rf", "1"]));
    assert!(text.contains("(not applied)"), "{text}");
    assert!(text.contains("Archived"), "{text}");
    let after = stdout(&obesity(
        &root,
        &["--json", "registry", "versions", "obesity-rf"],
    ));
    assert_eq!(before, after, "an archived version is not moved");
}

/// Issue 16: the champion rule compared a fixture-trained version with a UCI-trained one.
#[test]
fn policy_compares_with_the_champion_only_on_the_same_data_unless_told() {
    let (_d, root) = populated();
    stdout(&obesity(&root, &["registry", "policy", "obesity-rf", "2"]));
    {
        let store: Arc<dyn Store> = Arc::new(LocalStore::open(&root).expect("store"));
        let run = Tracker::new(store.clone())
            .with_git_commit(None)
            .start_run("obesity", Some("uci"))
            .expect("run");
        run.log_metric("accuracy", 0.99).expect("metric");
        let id = run.id().to_string();
        run.finish().expect("finish");
        Registry::new(store)
            .register(
                NewVersion::new("obesity-rf", &id, vec![3]).data_fingerprint("0123456789abcdef"),
            )
            .expect("register");
    }
    let doc: serde_json::Value = serde_json::from_str(&stdout(&obesity(
        &root,
        &[
            "registry",
            "policy",
            "obesity-rf",
            "3",
            "--dry-run",
            "--json",
        ],
    )))
    .expect("json");
    assert_eq!(doc["decision"]["outcome"], "Challenger", "{doc}");
    let reasons = doc["decision"]["reasons"].to_string();
    assert!(
        reasons.contains("other data") && reasons.contains("0123456789ab"),
        "{reasons}"
    );
    for flag in [
        &["--compare-across-data"][..],
        &["--set", "promotion.compare_across_data=true"][..],
    ] {
        let mut args = vec![
            "registry",
            "policy",
            "obesity-rf",
            "3",
            "--dry-run",
            "--json",
        ];
        args.extend_from_slice(flag);
        let doc: serde_json::Value =
            serde_json::from_str(&stdout(&obesity(&root, &args))).expect("json");
        assert_eq!(doc["decision"]["outcome"], "Champion", "{flag:?}: {doc}");
        assert!(
            doc["decision"]["reasons"]
                .to_string()
                .contains("across data")
        );
    }
}

/// `obesity experiments list` and `obesity runs` (the top-level form of `registry runs`).
#[test]
fn experiments_list_and_top_level_runs() {
    let (_d, root) = populated();
    let out = stdout(&obesity(&root, &["experiments", "list"]));
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("ID") && lines[0].contains("NAME"),
        "{out}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("obesity") && l.contains("active")),
        "{out}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&stdout(&obesity(&root, &["--json", "experiments", "list"])))
            .expect("only JSON on stdout");
    let names: Vec<&str> = json
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|e| e["name"].as_str())
        .collect();
    assert!(names.contains(&"obesity"), "{json}");

    // The same table as `registry runs`, with the columns picked.
    let runs_args = [
        "runs",
        "obesity",
        "--order-by",
        "metrics.accuracy DESC",
        "--columns",
        "name,params.max_depth,metrics.accuracy",
    ];
    let top = stdout(&obesity(&root, &runs_args));
    let nested = stdout(&obesity(&root, &[&["registry"][..], &runs_args].concat()));
    assert_eq!(top, nested);
    let rows: Vec<&str> = top.lines().collect();
    assert_eq!(rows.len(), 3, "{top}");
    assert!(rows[1].contains("rf-1") && rows[1].contains("12"), "{top}");
    assert!(
        !rows[0].contains("RUN_ID") && !rows[0].to_lowercase().contains("run_id"),
        "{top}"
    );

    // Unhappy paths: an unknown experiment, a store that does not exist as a URI.
    let err = stderr_of_failure(&obesity(&root, &["runs", "missing-experiment"]));
    assert!(err.contains("missing-experiment"), "{err}");
    let err = stderr_of_failure(&obesity(
        Path::new("ftp://example.com"),
        &["experiments", "list"],
    ));
    assert!(err.contains("ftp"), "{err}");
}
