//! What every CLI test file needs: the `obesity` binary run as a user runs it, but never
//! with a tracking server, store or token from the developer's environment (a test uses only
//! the stores its own run creates), and the checks of its exit status.

// Each test file is its own crate and uses a part of this module.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `obesity` with the environment variables that would point it at a user's tracking
/// server or store, or supply an admin token, removed.
pub(crate) fn obesity_command() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_obesity"));
    c.env_remove("OBESITY_TRACKING_URI")
        .env_remove("MLFLOW_TRACKING_URI")
        .env_remove("OBESITY_ADMIN_TOKEN");
    c
}

/// A file of the repository's `fixtures/`.
pub(crate) fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures")
        .join(name)
}

/// `obesity ARGS` in `cwd` (no params.yaml unless the test writes one there).
pub(crate) fn obesity_in(cwd: &Path, args: &[&str]) -> Output {
    obesity_command()
        .current_dir(cwd)
        .args(args)
        .output()
        .expect("run obesity")
}

/// Stdout of a run that must succeed.
pub(crate) fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {}: {}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Stderr of a run that must exit 1 with a message (and no panic).
pub(crate) fn failed(o: &Output) -> String {
    assert_eq!(
        o.status.code(),
        Some(1),
        "expected exit 1; stdout: {}; stderr: {}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(!err.contains("panicked"), "{err}");
    err
}

/// Stdout parsed as one JSON document.
pub(crate) fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document: {e}\n{text}"))
}
