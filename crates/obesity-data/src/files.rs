//! The one atomic file write of the workspace, and the one rule for names that become file
//! or folder names. Every crate that saves a file (a fitted pipeline, an A/B test's state, a
//! rewritten prediction log, an exported ONNX model) and every crate that turns a user's
//! name into a path (model names, A/B test names) calls these, so the guarantees and the
//! rules are the same everywhere.
//!
//! ```
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("state.json");
//! obesity_data::write_atomic(&path, b"{\"v\": 1}")?;
//! obesity_data::write_atomic(&path, b"{\"v\": 2}")?;
//! assert_eq!(std::fs::read(&path)?, b"{\"v\": 2}");
//!
//! assert!(obesity_data::check_file_name("model", "churn model v2").is_ok());
//! let err = obesity_data::check_file_name("model", "../etc").unwrap_err();
//! assert!(err.to_string().contains("`../etc`"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{DataError, Result};

/// Prefix of the temporary files [`write_atomic`] creates next to their target; a name
/// starting with it is never a user's file ([`check_file_name`] refuses it).
pub const TEMP_PREFIX: &str = ".tmp-write-";

/// Longest name of one path component on the usual file systems (ext4, XFS, APFS, NTFS).
const MAX_FILE_NAME_LEN: usize = 255;

/// Writes `bytes` to `path` atomically: a reader, or the file after a crash, holds either the
/// old content or the new one, never a mix. See [`write_atomic_with`] for the steps.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_atomic_with(path, |file| file.write_all(bytes)).map(drop)
}

/// Writes `path` atomically with `fill`, which writes the content into a fresh temporary
/// file in the same folder (so the rename cannot cross file systems). Then the file is
/// fsynced, renamed over `path`, and the folder fsynced so the rename survives a power loss
/// (where the platform can fsync a folder). On any error the temporary file is removed and
/// `path` is untouched. Returns the open file, now at `path`, for a caller that keeps
/// appending to it (a log that was just compacted).
pub fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut File) -> std::io::Result<()>,
) -> std::io::Result<File> {
    let tmp = temp_path_for(path)?;
    let written = (|| {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        fill(&mut file)?;
        file.flush()?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)?;
        Ok(file)
    })();
    match written {
        Ok(file) => {
            sync_parent(path);
            Ok(file)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// A fresh name next to `path`: the prefix, the target's name, the process id and a counter,
/// so that two writers (threads or processes) never share a temporary file.
fn temp_path_for(path: &Path) -> std::io::Result<PathBuf> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path.file_name().ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{} has no file name to write", path.display()),
        )
    })?;
    Ok(path.with_file_name(format!(
        "{TEMP_PREFIX}{}-{}-{}",
        name.to_string_lossy(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )))
}

/// Fsyncs the folder holding `path`. Not every platform can open a folder as a file (Windows
/// cannot, and there a rename is already durable), so failure is not an error.
fn sync_parent(path: &Path) {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Checks a user's name that becomes one file or folder name as it is (a registered model,
/// an A/B test, a monitor's model folder): not empty, at most 255 bytes, no path separator,
/// no leading `.` (which also rules out `.` and `..`), no control character, no `:` or `%`
/// (MLflow refuses both in model names), no leading or trailing whitespace. Spaces inside
/// are fine, as in MLflow. `what` names the name in the error ("registered model").
pub fn check_file_name(what: &'static str, name: &str) -> Result<()> {
    let invalid = |reason: &'static str| DataError::InvalidName {
        what,
        value: name.to_owned(),
        reason,
    };
    if name.is_empty() {
        return Err(invalid("must not be empty"));
    }
    if name.len() > MAX_FILE_NAME_LEN {
        return Err(invalid(
            "longer than 255 bytes, the most a file or folder name can hold",
        ));
    }
    if name.contains('/') || name.contains('\\') {
        return Err(invalid("must not contain a path separator"));
    }
    if name.starts_with('.') {
        return Err(invalid("must not start with '.'"));
    }
    if name.chars().any(char::is_control) || name.contains(':') {
        return Err(invalid("must not contain control characters or ':'"));
    }
    if name.contains('%') {
        return Err(invalid("must not contain '%' (as in MLflow)"));
    }
    if name.trim() != name {
        return Err(invalid("must not start or end with whitespace"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_fill_leaves_the_old_file_and_no_temporary_file() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("p.json");
        write_atomic(&path, b"old").expect("first write");
        let err = write_atomic_with(&path, |f| {
            f.write_all(b"half")?;
            Err(std::io::Error::other("disk full"))
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "disk full");
        assert_eq!(std::fs::read(&path).expect("read"), b"old");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, ["p.json"]);
    }

    #[test]
    fn the_returned_file_is_the_new_file_at_its_place() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("log.jsonl");
        let mut file = write_atomic_with(&path, |f| f.write_all(b"a\n")).expect("write");
        file.write_all(b"b\n").expect("append");
        drop(file);
        assert_eq!(std::fs::read(&path).expect("read"), b"a\nb\n");
    }

    #[test]
    fn a_path_without_a_file_name_is_an_error_not_a_panic() {
        let err = write_atomic(Path::new("/"), b"x").unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    }

    #[test]
    fn names_that_would_escape_or_hide_are_refused_with_the_reason() {
        for (name, reason) in [
            ("", "empty"),
            ("..", "'.'"),
            (".hidden", "'.'"),
            ("a/b", "separator"),
            ("a\\b", "separator"),
            ("a\nb", "control"),
            ("a:b", "':'"),
            ("50%", "'%'"),
            (" padded", "whitespace"),
        ] {
            let err = check_file_name("registered model", name).unwrap_err();
            let msg = err.to_string();
            assert!(msg.contains(reason), "{name:?}: {msg}");
            assert!(msg.contains("registered model"), "{msg}");
        }
        assert!(check_file_name("m", &"x".repeat(256)).is_err());
        for ok in [
            "obesity-classifier",
            "churn model v2",
            "a.b_c-d",
            &"x".repeat(255),
        ] {
            assert!(check_file_name("m", ok).is_ok(), "{ok}");
        }
    }
}
