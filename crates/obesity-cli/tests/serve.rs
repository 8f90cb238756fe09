//! `obesity serve` as a user runs it: it starts on a registered model, answers over HTTP,
//! and exits cleanly on SIGTERM after finishing what it was doing.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

use obesity_data::{Schema, synth};
use obesity_features::FeaturePipeline;
use obesity_forest::{ForestParams, ModelStrategy};
use obesity_registry::{NewVersion, Registry, Signature, Tracker};

/// A store with version 1 of `obesity-rf` (a small forest, its pipeline and signature) as
/// the champion.
fn store_with_model() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("mlruns");
    let records = synth::generate(300, 5);
    let pipeline = FeaturePipeline::standard().fit(&records).unwrap();
    let data = pipeline.dataset(&records).unwrap();
    let model = ForestParams::builder()
        .n_estimators(8)
        .seed(5)
        .build()
        .unwrap()
        .fit(data.x.view(), data.y.view(), data.n_classes())
        .unwrap();
    let tracker = Tracker::open(store.to_str().unwrap()).unwrap();
    let run = tracker.start_run("cli-serve", None).unwrap();
    let registry = Registry::new(tracker.store().clone());
    registry
        .register(
            NewVersion::new("obesity-rf", run.id(), model.to_bytes().unwrap())
                .pipeline(&pipeline)
                .unwrap()
                .signature(Signature::from_schema(&Schema::obesity()).unwrap()),
        )
        .unwrap();
    run.finish().unwrap();
    registry.set_alias("obesity-rf", "champion", 1).unwrap();
    (dir, store)
}

fn http_get(addr: &str, path: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[cfg(unix)]
#[test]
fn serve_answers_and_stops_cleanly_on_sigterm() {
    let (_dir, store) = store_with_model();
    let mut child = common::obesity_command()
        .arg("--tracking-uri")
        .arg(&store)
        .args([
            "serve",
            "--model",
            "obesity-rf",
            "--port",
            "0",
            "--poll-interval",
            "0",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    // The server prints its address once it listens.
    let mut addr = None;
    let mut line = String::new();
    while stderr.read_line(&mut line).unwrap() > 0 {
        if let Some(rest) = line.trim().split("listening on http://").nth(1) {
            addr = Some(rest.to_owned());
            break;
        }
        line.clear();
    }
    let addr = addr.expect("the server never said where it listens");
    let health = http_get(&addr, "/health");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(health.contains("\"model_name\":\"obesity-rf\""), "{health}");
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "exit status {exit}");
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    assert!(rest.contains("prediction log flushed"), "{rest}");
}

#[test]
fn serve_reports_a_model_it_cannot_find() {
    let (_dir, store) = store_with_model();
    let out = common::obesity_command()
        .arg("--tracking-uri")
        .arg(&store)
        .args([
            "serve",
            "--model",
            "models:/no-such-model@champion",
            "--port",
            "0",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no-such-model"), "{err}");
}

#[test]
fn serve_help_lists_the_issue_flags() {
    let out = common::obesity_command()
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--tracking-uri",
        "--model",
        "--host",
        "--port",
        "--poll-interval",
        "--admin-token",
    ] {
        assert!(help.contains(flag), "{flag} missing from:\n{help}");
    }
}

/// Registers one more version of `name` (a small forest) in `store`.
fn register_version(store: &std::path::Path, name: &str) -> u64 {
    let records = synth::generate(300, 6);
    let pipeline = FeaturePipeline::standard().fit(&records).unwrap();
    let data = pipeline.dataset(&records).unwrap();
    let model = ForestParams::builder()
        .n_estimators(4)
        .seed(6)
        .build()
        .unwrap()
        .fit(data.x.view(), data.y.view(), data.n_classes())
        .unwrap();
    let tracker = Tracker::open(store.to_str().unwrap()).unwrap();
    let run = tracker.start_run("cli-serve", None).unwrap();
    let v = Registry::new(tracker.store().clone())
        .register(
            NewVersion::new(name, run.id(), model.to_bytes().unwrap())
                .pipeline(&pipeline)
                .unwrap()
                .signature(Signature::from_schema(&Schema::obesity()).unwrap()),
        )
        .unwrap();
    run.finish().unwrap();
    v.version
}

/// Issue 16: an experiment made with `obesity ab create` is one the service routes by;
/// one made for another registered model is not loaded.
#[cfg(unix)]
#[test]
fn serve_loads_the_experiments_of_obesity_ab_create_for_its_own_model_only() {
    let (_dir, store) = store_with_model();
    let v2 = register_version(&store, "obesity-rf");
    let registry = Registry::open(store.to_str().unwrap()).unwrap();
    registry.set_alias("obesity-rf", "challenger", v2).unwrap();
    for _ in 0..2 {
        register_version(&store, "other-rf");
    }
    let ab = |args: &[&str]| {
        let o = common::obesity_command()
            .arg("--tracking-uri")
            .arg(&store)
            .args(args)
            .output()
            .unwrap();
        common::ok(&o)
    };
    ab(&["ab", "create", "cvc", "--model", "obesity-rf"]);
    ab(&[
        "ab",
        "create",
        "theirs",
        "--model",
        "other-rf",
        "--control",
        "1",
        "--treatment",
        "2",
    ]);
    let mut child = common::obesity_command()
        .arg("--tracking-uri")
        .arg(&store)
        .args([
            "serve",
            "--model",
            "obesity-rf",
            "--port",
            "0",
            "--poll-interval",
            "0",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut addr = None;
    let mut line = String::new();
    let mut log = String::new();
    while stderr.read_line(&mut line).unwrap() > 0 {
        log.push_str(&line);
        if let Some(rest) = line.trim().split("listening on http://").nth(1) {
            addr = Some(rest.to_owned());
            break;
        }
        line.clear();
    }
    let addr = addr.expect("the server never said where it listens");
    let list = http_get(&addr, "/experiments");
    let status = http_get(&addr, "/experiments/cvc/status");
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let _ = child.wait();
    stderr.read_to_string(&mut log).unwrap();
    assert!(list.starts_with("HTTP/1.1 200"), "{list}");
    assert!(list.contains("\"cvc\""), "{list}");
    assert!(!list.contains("theirs"), "{list}");
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    assert!(
        log.contains("experiment of another model not loaded"),
        "{log}"
    );
}
