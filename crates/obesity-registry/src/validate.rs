//! Validation of every user-supplied name that ends up in a file path or a query.
//!
//! The rules follow MLflow's (`mlflow/utils/validation.py` and the file stores) and add what
//! a file layout needs: nothing may escape the store's folder, so `..`, absolute paths,
//! backslashes and NUL are refused everywhere, and each error names the rejected value.

use crate::error::{Error, Result};
use crate::store::{Metric, Param, Tag};

/// Longest key (param, metric, tag) MLflow accepts.
const MAX_KEY_LEN: usize = 250;
/// Longest experiment name we accept (it lives in `meta.yaml`, not in a path).
const MAX_EXPERIMENT_NAME_LEN: usize = 256;
/// Longest name of one path component on the usual file systems (ext4, XFS, APFS, NTFS:
/// 255 bytes). Model names, aliases, ids and artifact path segments become folder or file
/// names as they are (the store adds no suffix to them), so this is their limit.
const MAX_COMPONENT_LEN: usize = 255;
/// The error reason for a name over [`MAX_COMPONENT_LEN`].
const TOO_LONG_FOR_A_FILE_NAME: &str =
    "longer than 255 bytes, the most a file or folder name can hold on the local store";

/// Prefix of the temporary files the local store writes next to their target when it cannot
/// stage them in its staging folder (an artifact location on another file system); user names
/// may not start with it, so a leftover from a crash is never mistaken for a user's file.
pub(crate) const TMP_PREFIX: &str = ".mlruns-tmp";
/// The temp prefix of earlier versions of this crate: still reserved, still skipped by
/// readers, and removed from old stores when they are opened.
pub(crate) const LEGACY_TMP_PREFIX: &str = ".tmp-obesity";

fn is_reserved_temp_name(segment: &str) -> bool {
    segment.starts_with(TMP_PREFIX) || segment.starts_with(LEGACY_TMP_PREFIX)
}

fn invalid(what: &'static str, value: &str, reason: &'static str) -> Error {
    Error::InvalidName {
        what,
        value: value.to_string(),
        reason,
    }
}

/// An experiment name: non-empty, no control characters (it lives in `meta.yaml`, not a path).
pub(crate) fn experiment_name(name: &str) -> Result<()> {
    if name.trim().is_empty() {
        return Err(invalid("experiment", name, "must not be empty"));
    }
    if name.len() > MAX_EXPERIMENT_NAME_LEN {
        return Err(invalid("experiment", name, "longer than 256 bytes"));
    }
    if name.chars().any(char::is_control) {
        return Err(invalid(
            "experiment",
            name,
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// A registered-model name, which is also a folder name under `models/`: the workspace's
/// one rule for names that become file names ([`obesity_data::check_file_name`]).
pub(crate) fn model_name(name: &str) -> Result<()> {
    obesity_data::check_file_name("registered model", name).map_err(|e| match e {
        obesity_data::DataError::InvalidName {
            what,
            value,
            reason,
        } => Error::InvalidName {
            what,
            value,
            reason,
        },
        other => Error::InvalidState {
            what: format!("registered model name {name:?}"),
            reason: other.to_string(),
        },
    })
}

/// A pipeline kind (a version tag value and a loader key): a non-empty name of letters,
/// digits, `.`, `_`, `-` and `:`, at most 250 bytes, that is not the default kind (that one
/// is what [`NewVersion::pipeline`](crate::NewVersion::pipeline) records).
pub(crate) fn pipeline_kind(kind: &str) -> Result<()> {
    const WHAT: &str = "pipeline kind";
    if kind.is_empty() {
        return Err(invalid(WHAT, kind, "must not be empty"));
    }
    if kind.len() > MAX_KEY_LEN {
        return Err(invalid(WHAT, kind, "longer than 250 bytes"));
    }
    if !kind
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':'))
    {
        return Err(invalid(
            WHAT,
            kind,
            "may hold only ASCII letters, digits, '.', '_', '-' and ':'",
        ));
    }
    if kind == crate::DEFAULT_PIPELINE_KIND {
        return Err(invalid(
            WHAT,
            kind,
            "is the default kind: register a FittedPipeline with NewVersion::pipeline",
        ));
    }
    Ok(())
}

/// An alias: letters, digits, `_` and `-`; not `latest` and not `v<digits>` (both would be
/// ambiguous with version references, as in MLflow).
pub(crate) fn alias(name: &str) -> Result<()> {
    const WHAT: &str = "alias";
    if name.is_empty() {
        return Err(invalid(WHAT, name, "must not be empty"));
    }
    if name.len() > MAX_COMPONENT_LEN {
        return Err(invalid(WHAT, name, TOO_LONG_FOR_A_FILE_NAME));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(invalid(
            WHAT,
            name,
            "only letters, digits, '_' and '-' are allowed",
        ));
    }
    if name.eq_ignore_ascii_case("latest") {
        return Err(invalid(WHAT, name, "'latest' is reserved"));
    }
    let lower = name.to_ascii_lowercase();
    if let Some(rest) = lower.strip_prefix('v')
        && !rest.is_empty()
        && rest.chars().all(|c| c.is_ascii_digit())
    {
        return Err(invalid(
            WHAT,
            name,
            "'v<number>' is reserved for version references",
        ));
    }
    Ok(())
}

/// A param, metric or tag key. MLflow allows letters, digits, `_ - . : /` and space; a `/`
/// makes a sub-folder, so every segment must be a plain name.
pub(crate) fn key(what: &'static str, key: &str) -> Result<()> {
    if key.is_empty() {
        return Err(invalid(what, key, "must not be empty"));
    }
    if key.len() > MAX_KEY_LEN {
        return Err(invalid(what, key, "longer than 250 bytes"));
    }
    if !key
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ':' | '/' | ' '))
    {
        return Err(invalid(
            what,
            key,
            "only letters, digits, '_', '-', '.', ':', '/' and space are allowed",
        ));
    }
    segments(what, key)
}

fn segments(what: &'static str, path: &str) -> Result<()> {
    if path.starts_with('/') {
        return Err(invalid(what, path, "must be relative (no leading '/')"));
    }
    for seg in path.split('/') {
        if seg.is_empty() {
            return Err(invalid(what, path, "has an empty path segment"));
        }
        if seg == "." || seg == ".." {
            return Err(invalid(what, path, "must not contain '.' or '..' segments"));
        }
        if is_reserved_temp_name(seg) {
            return Err(invalid(what, path, "uses the store's reserved temp prefix"));
        }
    }
    Ok(())
}

/// A run id or experiment id used to build a path: MLflow's `^[a-zA-Z0-9][\w\-]{0,255}$`,
/// but at most 255 bytes, as it is a folder name.
pub(crate) fn id(what: &'static str, id: &str) -> Result<()> {
    if id.len() > MAX_COMPONENT_LEN {
        return Err(invalid(what, id, TOO_LONG_FOR_A_FILE_NAME));
    }
    let mut chars = id.chars();
    let ok = match chars.next() {
        Some(first) => {
            first.is_ascii_alphanumeric()
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        }
        None => false,
    };
    if ok {
        Ok(())
    } else {
        Err(invalid(
            what,
            id,
            "ids are letters, digits, '_' and '-', starting with a letter or digit",
        ))
    }
}

/// An artifact path relative to a run's artifact root: `/`-separated, no `..`, no absolute
/// path, no backslash or drive prefix.
pub(crate) fn artifact_path(path: &str) -> Result<()> {
    let bad = |reason| Error::InvalidArtifactPath {
        path: path.to_string(),
        reason,
    };
    if path.is_empty() {
        return Err(bad("must not be empty"));
    }
    if path.starts_with('/') {
        return Err(bad("must be relative, not absolute"));
    }
    if path.contains('\\') {
        return Err(bad("must use '/' as separator, not '\\'"));
    }
    if path.contains(':') {
        return Err(bad("must not contain ':' (drive or URI prefix)"));
    }
    if path.chars().any(char::is_control) {
        return Err(bad("must not contain control characters"));
    }
    for seg in path.split('/') {
        if seg.is_empty() {
            return Err(bad("has an empty segment ('//' or trailing '/')"));
        }
        if seg == ".." {
            return Err(bad("must not contain '..'"));
        }
        if seg == "." {
            return Err(bad("must not contain '.' segments"));
        }
        if is_reserved_temp_name(seg) {
            return Err(bad("uses the store's reserved temp prefix"));
        }
        if seg.len() > MAX_COMPONENT_LEN {
            return Err(bad(
                "has a segment longer than 255 bytes, the most a file or folder name can hold",
            ));
        }
    }
    Ok(())
}

/// Checks every key of a `log_batch` call, the same way for every store, before anything is
/// written or sent.
pub(crate) fn batch_keys(metrics: &[Metric], params: &[Param], tags: &[Tag]) -> Result<()> {
    for m in metrics {
        key("metric", &m.key)?;
    }
    for p in params {
        key("param", &p.key)?;
    }
    for t in tags {
        key("tag", &t.key)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_names() {
        assert!(model_name("obesity-rf").is_ok());
        for bad in ["", "a/b", "a\\b", "..", ".hidden", "50%", " x"] {
            assert!(model_name(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn aliases() {
        assert!(alias("champion").is_ok());
        for bad in ["", "latest", "v3", "V12", "a b", "../x"] {
            assert!(alias(bad).is_err(), "{bad:?} accepted");
        }
        assert!(alias("v").is_ok());
        assert!(alias("v2a").is_ok());
    }

    #[test]
    fn keys() {
        assert!(key("param", "cv/fold 1:acc").is_ok());
        for bad in ["", "/abs", "a//b", "../x", "a/../b", "a\\b", "x\0"] {
            assert!(key("param", bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn artifact_paths() {
        assert!(artifact_path("model/model.bin").is_ok());
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a\\b",
            "C:/x",
            "a//b",
            "a/",
        ] {
            let err = artifact_path(bad).unwrap_err();
            assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
        }
    }

    #[test]
    fn ids() {
        assert!(id("run", "0123456789abcdef0123456789abcdef").is_ok());
        for bad in ["", "../0", "a/b", "-x", "a.b"] {
            assert!(id("run", bad).is_err(), "{bad:?} accepted");
        }
    }
}
