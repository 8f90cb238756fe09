//! MLflow's file-store layout: folder names and the `meta.yaml` documents, field for field as
//! `mlflow/store/tracking/file_store.py` and `mlflow/store/model_registry/file_store.py`
//! write them (MLflow 3.x), so that `mlflow ui --backend-store-uri ./mlruns` reads our folder.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer, Serialize};

/// `<root>/.trash`: soft-deleted experiments.
pub(crate) const TRASH: &str = ".trash";
/// `<root>/models`: the model registry.
pub(crate) const MODELS: &str = "models";
/// The metadata file of every entity.
pub(crate) const META: &str = "meta.yaml";
/// The cross-process lock (a file, so MLflow, which lists only folders, ignores it).
pub(crate) const LOCK: &str = ".mlruns.lock";
/// The lock file name of earlier versions of this crate, removed once no process holds it.
pub(crate) const LEGACY_LOCK: &str = ".obesity.lock";
/// The staging folder: every write is prepared here and renamed into place. MLflow's
/// `FileStore._get_active_experiments` skips every root folder whose name ends with `.trash`
/// and `mlflow migrate-filestore` only reads numeric folder names, so MLflow never reads it.
pub(crate) const STAGING: &str = ".mlruns-tmp.trash";
/// Folders inside an experiment folder that are not runs (MLflow's reserved names).
pub(crate) const RESERVED_EXPERIMENT_FOLDERS: [&str; 4] = ["tags", "datasets", "traces", "models"];
/// `<experiment>/datasets/<dataset_id>/meta.yaml`: the experiment's datasets.
pub(crate) const DATASETS: &str = "datasets";
/// `<run>/inputs/<input_id>/meta.yaml`: the datasets a run read.
pub(crate) const INPUTS: &str = "inputs";
/// `<run>/outputs/<model_id>/meta.yaml`: the logged models a run produced.
pub(crate) const OUTPUTS: &str = "outputs";
/// MLflow's internal stage for a deleted model version (never shown to users).
pub(crate) const STAGE_DELETED_INTERNAL: &str = "Deleted_Internal";
/// `SourceType.LOCAL` in MLflow's enum, written to run meta for old readers.
const SOURCE_TYPE_LOCAL: i64 = 4;

/// Accepts a YAML string or integer (legacy MLflow wrote experiment ids as integers).
fn string_or_int<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum S {
        S(String),
        I(i64),
    }
    Ok(match S::deserialize(d)? {
        S::S(s) => s,
        S::I(i) => i.to_string(),
    })
}

fn default_active() -> String {
    "active".into()
}

/// `<experiment_id>/meta.yaml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ExperimentMeta {
    pub(crate) artifact_location: String,
    #[serde(default)]
    pub(crate) creation_time: Option<i64>,
    #[serde(deserialize_with = "string_or_int")]
    pub(crate) experiment_id: String,
    #[serde(default)]
    pub(crate) last_update_time: Option<i64>,
    #[serde(default = "default_active")]
    pub(crate) lifecycle_stage: String,
    pub(crate) name: String,
}

/// `<experiment_id>/<run_id>/meta.yaml`. `status` is MLflow's integer code; `tags` is always
/// an empty list (kept for old MLflow readers); `user_id` must be present.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RunMeta {
    pub(crate) artifact_uri: String,
    #[serde(default)]
    pub(crate) end_time: Option<i64>,
    #[serde(default)]
    pub(crate) entry_point_name: String,
    #[serde(deserialize_with = "string_or_int")]
    pub(crate) experiment_id: String,
    #[serde(default = "default_active")]
    pub(crate) lifecycle_stage: String,
    pub(crate) run_id: String,
    #[serde(default)]
    pub(crate) run_name: Option<String>,
    pub(crate) run_uuid: String,
    #[serde(default)]
    pub(crate) source_name: String,
    #[serde(default = "source_type_local")]
    pub(crate) source_type: i64,
    #[serde(default)]
    pub(crate) source_version: String,
    #[serde(default)]
    pub(crate) start_time: Option<i64>,
    #[serde(default = "status_running")]
    pub(crate) status: i64,
    #[serde(default)]
    pub(crate) tags: Vec<serde_yaml_ng::Value>,
    #[serde(default)]
    pub(crate) user_id: Option<String>,
    #[serde(default)]
    pub(crate) deleted_time: Option<i64>,
}

fn source_type_local() -> i64 {
    SOURCE_TYPE_LOCAL
}

fn status_running() -> i64 {
    1
}

impl RunMeta {
    pub(crate) fn new(
        run_id: &str,
        experiment_id: &str,
        run_name: &str,
        user_id: &str,
        start_time: i64,
        artifact_uri: String,
    ) -> Self {
        RunMeta {
            artifact_uri,
            end_time: None,
            entry_point_name: String::new(),
            experiment_id: experiment_id.to_string(),
            lifecycle_stage: "active".into(),
            run_id: run_id.to_string(),
            run_name: Some(run_name.to_string()),
            run_uuid: run_id.to_string(),
            source_name: String::new(),
            source_type: SOURCE_TYPE_LOCAL,
            source_version: String::new(),
            start_time: Some(start_time),
            status: 1,
            tags: Vec::new(),
            user_id: Some(user_id.to_string()),
            deleted_time: None,
        }
    }
}

/// `models/<name>/meta.yaml` (tags, aliases and versions live in sub-folders).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ModelMeta {
    pub(crate) creation_timestamp: i64,
    #[serde(default)]
    pub(crate) description: Option<String>,
    pub(crate) last_updated_timestamp: i64,
    pub(crate) name: String,
}

/// `models/<name>/version-<n>/meta.yaml`. `aliases` is written empty: MLflow recomputes it
/// from `models/<name>/aliases/` on read.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct VersionMeta {
    #[serde(default)]
    pub(crate) aliases: Vec<String>,
    pub(crate) creation_timestamp: i64,
    pub(crate) current_stage: String,
    #[serde(default)]
    pub(crate) description: Option<String>,
    pub(crate) last_updated_timestamp: i64,
    /// The MLflow 3 logged model; left out when there is none (as before logged models).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) model_id: Option<String>,
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) run_id: Option<String>,
    #[serde(default)]
    pub(crate) run_link: Option<String>,
    pub(crate) source: String,
    #[serde(default = "ready")]
    pub(crate) status: String,
    #[serde(default)]
    pub(crate) status_message: Option<String>,
    #[serde(default)]
    pub(crate) storage_location: Option<String>,
    #[serde(default)]
    pub(crate) user_id: Option<String>,
    #[serde(deserialize_with = "u64_or_string")]
    pub(crate) version: u64,
}

/// `<experiment_id>/models/<model_id>/meta.yaml`: an MLflow 3 logged model (params, tags and
/// metrics live in sub-folders, as a run's). `status` is MLflow's integer code.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct LoggedModelMeta {
    pub(crate) artifact_location: String,
    pub(crate) creation_timestamp: i64,
    #[serde(deserialize_with = "string_or_int")]
    pub(crate) experiment_id: String,
    pub(crate) last_updated_timestamp: i64,
    #[serde(default = "default_active")]
    pub(crate) lifecycle_stage: String,
    pub(crate) model_id: String,
    #[serde(default)]
    pub(crate) model_type: Option<String>,
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) source_run_id: Option<String>,
    pub(crate) status: i64,
    #[serde(default)]
    pub(crate) status_message: Option<String>,
}

/// `<experiment_id>/datasets/<dataset_id>/meta.yaml`, as MLflow's `dict(Dataset)`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct DatasetMeta {
    pub(crate) digest: String,
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) profile: Option<String>,
    #[serde(default)]
    pub(crate) schema: Option<String>,
    pub(crate) source: String,
    pub(crate) source_type: String,
}

/// `<run>/inputs/<input_id>/meta.yaml` and `<run>/outputs/<model_id>/meta.yaml`: an edge of
/// MLflow's lineage graph. MLflow writes `destination_id` equal to `source_id` (a quirk of
/// its `_FileStoreInput.write_yaml`), and so do we.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct EdgeMeta {
    pub(crate) destination_id: String,
    pub(crate) destination_type: String,
    pub(crate) source_id: String,
    pub(crate) source_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) step: Option<i64>,
    pub(crate) tags: std::collections::BTreeMap<String, String>,
}

fn ready() -> String {
    "READY".into()
}

fn u64_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum V {
        N(u64),
        S(String),
    }
    match V::deserialize(d)? {
        V::N(n) => Ok(n),
        V::S(s) => s
            .trim()
            .parse()
            .map_err(|_| serde::de::Error::custom(format!("version {s:?} is not a number"))),
    }
}

/// Paths inside a store root.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub(crate) root: PathBuf,
}

impl Layout {
    pub(crate) fn lock(&self) -> PathBuf {
        self.root.join(LOCK)
    }
    pub(crate) fn legacy_lock(&self) -> PathBuf {
        self.root.join(LEGACY_LOCK)
    }
    pub(crate) fn staging(&self) -> PathBuf {
        self.root.join(STAGING)
    }
    pub(crate) fn trash(&self) -> PathBuf {
        self.root.join(TRASH)
    }
    pub(crate) fn models(&self) -> PathBuf {
        self.root.join(MODELS)
    }
    pub(crate) fn model(&self, name: &str) -> PathBuf {
        self.models().join(name)
    }
    pub(crate) fn version(&self, name: &str, version: u64) -> PathBuf {
        self.model(name).join(format!("version-{version}"))
    }
    pub(crate) fn alias(&self, name: &str, alias: &str) -> PathBuf {
        self.model(name).join("aliases").join(alias)
    }
    pub(crate) fn active_experiment(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }
    pub(crate) fn deleted_experiment(&self, id: &str) -> PathBuf {
        self.trash().join(id)
    }
}

/// Joins a `/`-separated (already validated) key onto a folder.
pub(crate) fn join_key(dir: &Path, key: &str) -> PathBuf {
    key.split('/').fold(dir.to_path_buf(), |p, seg| p.join(seg))
}

/// Formats a metric value as Python's `str(float)` reads it back: `nan`, `inf`, `-inf`, or
/// the shortest round-trip decimal.
pub(crate) fn format_metric_value(v: f64) -> String {
    if v.is_nan() {
        "nan".into()
    } else if v == f64::INFINITY {
        "inf".into()
    } else if v == f64::NEG_INFINITY {
        "-inf".into()
    } else {
        format!("{v:?}")
    }
}

/// `file://` URI of an absolute path, percent-encoding what a URI cannot hold (as Python's
/// `pathlib.Path.as_uri`).
pub(crate) fn path_to_file_uri(path: &Path) -> String {
    let s = path.to_string_lossy().replace('\\', "/");
    let mut out = String::from("file://");
    if !s.starts_with('/') {
        out.push('/');
    }
    for b in s.bytes() {
        let keep = b.is_ascii_alphanumeric() || b"/-_.~!$&'()*+,;=:@".contains(&b);
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The local path of a `file://` URI or a plain path; `None` for other schemes.
pub(crate) fn file_uri_to_path(uri: &str) -> Option<PathBuf> {
    let rest = match uri.strip_prefix("file://") {
        Some(r) => r,
        None if uri.contains("://") || uri.starts_with("file:") => {
            return uri.strip_prefix("file:").map(PathBuf::from);
        }
        None => return Some(PathBuf::from(uri)),
    };
    // Drop an authority such as `localhost`.
    let rest = match rest.find('/') {
        Some(0) => rest,
        Some(i) => &rest[i..],
        None => return None,
    };
    let bytes = rest.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%'
            && let (Some(h), Some(l)) = (bytes.get(i + 1), bytes.get(i + 2))
            && let Ok(v) = u8::from_str_radix(&format!("{}{}", *h as char, *l as char), 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b);
        i += 1;
    }
    String::from_utf8(out).ok().map(PathBuf::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_uris_round_trip() {
        let p = Path::new("/tmp/a b/ml%runs");
        let uri = path_to_file_uri(p);
        assert_eq!(uri, "file:///tmp/a%20b/ml%25runs");
        assert_eq!(file_uri_to_path(&uri).as_deref(), Some(p));
        assert_eq!(file_uri_to_path("s3://bucket/x"), None);
    }

    #[test]
    fn metric_values_as_python_writes_them() {
        assert_eq!(format_metric_value(f64::NAN), "nan");
        assert_eq!(format_metric_value(f64::INFINITY), "inf");
        assert_eq!(format_metric_value(f64::NEG_INFINITY), "-inf");
        assert_eq!(format_metric_value(1.0), "1.0");
        assert_eq!(format_metric_value(0.925), "0.925");
    }
}
