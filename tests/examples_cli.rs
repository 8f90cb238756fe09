//! The command-line examples, run as a user runs them. `cargo test` builds the examples
//! before the tests, next to the test binary (`target/<profile>/examples/`).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The example `name`, run without the variables that would point it at a user's tracking
/// server or store: a test uses only the stores its own run creates.
fn example(name: &str) -> Command {
    let exe = std::env::current_exe().expect("test binary path");
    // target/<profile>/deps/<test> → target/<profile>/examples/<name>
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>");
    let mut command = Command::new(profile_dir.join("examples").join(name));
    command
        .env_remove("OBESITY_TRACKING_URI")
        .env_remove("MLFLOW_TRACKING_URI");
    command
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

#[test]
fn validate_prints_the_report_as_json_with_hex_fingerprints() {
    let out = example("validate")
        .arg(fixture("obesity_synthetic.csv"))
        .arg("--json")
        .output()
        .expect("run validate");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("stdout is one JSON document");
    for key in ["canonical", "raw"] {
        let hex = doc["fingerprint"][key].as_str().expect("hex string");
        assert_eq!(hex.len(), 64, "{key}: {hex}");
        assert!(hex.chars().all(|c| c.is_ascii_hexdigit()), "{key}: {hex}");
    }
    assert_ne!(doc["fingerprint"]["canonical"], doc["fingerprint"]["raw"]);
}

#[test]
fn validate_fails_with_the_line_column_and_value_of_a_bad_row() {
    let out = example("validate")
        .arg(fixture("bad/non_numeric.csv"))
        .output()
        .expect("run validate");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("non_numeric.csv"), "{stderr}");
    let text = std::fs::read_to_string(fixture("bad/non_numeric.csv")).expect("fixture");
    // Find the offending row independently of the loader: the Age field (column 2) that
    // is not a number. Editors number the header as line 1.
    let (index, bad_value) = text
        .lines()
        .enumerate()
        .skip(1)
        .find_map(|(i, l)| {
            let age = l.split(',').nth(1)?;
            age.trim()
                .parse::<f64>()
                .is_err()
                .then(|| (i, age.to_owned()))
        })
        .expect("a non-numeric Age in the fixture");
    let line_no = index + 1;
    assert!(stderr.contains(&bad_value), "{stderr}");
    assert!(stderr.contains("Age"), "{stderr}");
    assert!(stderr.contains(&format!(":{line_no}")), "{stderr}");
}

#[test]
fn validate_lenient_keeps_good_rows_and_exits_zero() {
    let out = example("validate")
        .arg(fixture("bad/non_numeric.csv"))
        .args(["--lenient", "--json"])
        .output()
        .expect("run validate");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert!(doc.to_string().contains("rejected"), "{doc}");
}

#[test]
fn train_and_register_json_has_the_documented_keys() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("config.json");
    std::fs::write(
        &config,
        r#"{"forest": {"n_estimators": 10, "seed": 3}, "cv_folds": 2}"#,
    )
    .expect("config");
    let out = example("train_and_register")
        .arg("--config")
        .arg(&config)
        .arg("--tracking-uri")
        .arg(dir.path().join("mlruns"))
        .arg("--out")
        .arg(dir.path().join("out"))
        .arg("--json")
        .output()
        .expect("run train_and_register");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().expect("output");
    let doc: serde_json::Value = serde_json::from_str(last).expect("last line is JSON");
    assert!(doc["test"]["accuracy"].as_f64().is_some(), "{doc}");
    assert!(doc["test"]["f1_macro"].as_f64().is_some());
    assert!(doc["cv"]["accuracy"]["mean"].as_f64().is_some());
    assert_eq!(doc["model"]["name"], "obesity-classifier");
    assert_eq!(doc["model"]["version"], 1);
    assert!(doc["model"]["stage"].is_string());
    assert!(doc["model"]["aliases"].is_array());
    assert_eq!(doc["data"]["fingerprint"].as_str().map(str::len), Some(64));
    assert_eq!(doc["params"]["n_estimators"], "10");
}

#[test]
fn train_and_register_reports_a_missing_data_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = example("train_and_register")
        .arg("--data")
        .arg(dir.path().join("nope.csv"))
        .arg("--tracking-uri")
        .arg(dir.path().join("mlruns"))
        .output()
        .expect("run");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("nope.csv"), "{stderr}");
}
