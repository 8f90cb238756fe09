//! [`LocalStore`]: the embedded store, a folder in MLflow's file-store layout.

mod fs;
mod layout;

use std::collections::BTreeMap;
use std::fs as stdfs;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::search::{Filter, OrderBy, sort_runs};
use crate::store::{
    CreateModelVersion, CreateRun, Experiment, FileInfo, LifecycleStage, Metric, ModelVersion,
    ModelVersionStatus, Param, RegisteredModel, Run, RunData, RunInfo, RunStatus, SearchRuns,
    Stage, Store, Tag, UpdateRun, ViewType, now_ms,
};
use crate::validate;

use self::fs::{
    StoreLock, Writer, clean_staging, create_dir_all, first_symlink, list_dirs, read_key_files,
    read_string_opt, sweep_temp_names,
};
use self::layout::{
    DATASETS, DatasetMeta, EdgeMeta, ExperimentMeta, INPUTS, Layout, LoggedModelMeta, META,
    ModelMeta, OUTPUTS, RESERVED_EXPERIMENT_FOLDERS, RunMeta, STAGE_DELETED_INTERNAL, VersionMeta,
    file_uri_to_path, format_metric_value, join_key, path_to_file_uri,
};
use crate::logged::{
    CreateLoggedModel, DatasetInput, LoggedModel, LoggedModelStatus, new_logged_model_id,
    valid_logged_model_id,
};

/// The local path of the part of a `file://` URI after the scheme.
pub(crate) fn file_uri_path(rest: &str) -> Option<PathBuf> {
    file_uri_to_path(&format!("file://{rest}"))
}

/// The tag MLflow keeps the run name in.
const RUN_NAME_TAG: &str = "mlflow.runName";

/// The embedded store: everything under one folder (default `./mlruns`), in MLflow's
/// file-store layout, readable by
/// `MLFLOW_ALLOW_FILE_STORE=true mlflow ui --backend-store-uri <dir>` (see the crate docs for
/// the layout).
///
/// Every file write is atomic (staged in `<dir>/.mlruns-tmp.trash`, a folder MLflow never
/// reads, fsynced, renamed into place) and writers — threads or processes — are serialised by
/// an OS file lock on `<dir>/.mlruns.lock`, so version numbers are unique and gap-free and a
/// killed process never leaves a half-written file, run or version where MLflow or this store
/// would read it. Its leftovers in the staging folder are removed by the next
/// [`open`](LocalStore::open). Reads take no lock.
///
/// The store never follows a symbolic link inside its folder or a run's artifact folder:
/// reading or writing through one is an error.
#[derive(Debug, Clone)]
pub struct LocalStore {
    layout: Layout,
}

impl LocalStore {
    /// The default folder, `./mlruns`, as MLflow's.
    pub const DEFAULT_DIR: &'static str = "mlruns";

    /// Opens (creating if needed) a store in `root`, with MLflow's `Default` experiment `0`.
    ///
    /// When no other process is writing, this also removes what writers killed mid-write left
    /// in the staging folder; the first open of a store written by an earlier version of this
    /// crate also removes that version's `.tmp-obesity*` leftovers and its `.obesity.lock`.
    /// A store on a read-only file system opens for reading.
    pub fn open(root: impl AsRef<Path>) -> Result<Self> {
        let root = root.as_ref();
        let root = std::path::absolute(root).map_err(|e| Error::io(root, e))?;
        create_dir_all(&root)?;
        let store = LocalStore {
            layout: Layout { root },
        };
        let default_meta = store.layout.active_experiment("0").join(META);
        let trash = store.layout.trash();
        let models = store.layout.models();
        let staging = store.layout.staging();
        let initialised = default_meta.exists() && trash.is_dir() && models.is_dir();
        if !initialised || !staging.is_dir() {
            let w = match store.writer() {
                Ok(w) => w,
                // A complete store that cannot be locked (read-only) is still readable; the
                // readers skip any temp leftovers.
                Err(Error::Io { ref source, .. }) if initialised && is_read_only(source) => {
                    return Ok(store);
                }
                Err(e) => return Err(e),
            };
            if !staging.is_dir() {
                // First open by this version (or a new store): the earlier versions staged
                // temp files next to their targets, where MLflow reads them.
                let removed = sweep_temp_names(&store.layout.root, &staging)?;
                if removed > 0 {
                    tracing::info!(
                        store = %store.layout.root.display(),
                        removed,
                        "removed temp files left by killed writers of an earlier version"
                    );
                }
                if let Some(_legacy) = StoreLock::try_acquire(&store.layout.legacy_lock())? {
                    let _ = stdfs::remove_file(store.layout.legacy_lock());
                }
            }
            create_dir_all(&trash)?;
            create_dir_all(&models)?;
            if !default_meta.exists() {
                let now = now_ms();
                store.write_experiment(
                    &w,
                    &ExperimentMeta {
                        artifact_location: path_to_file_uri(&store.layout.active_experiment("0")),
                        creation_time: Some(now),
                        experiment_id: "0".into(),
                        last_update_time: Some(now),
                        lifecycle_stage: "active".into(),
                        name: "Default".into(),
                    },
                    &[],
                )?;
            }
            // Last: its presence says the store is initialised and swept.
            create_dir_all(&staging)?;
        } else {
            store.clean_staging_if_idle()?;
        }
        Ok(store)
    }

    /// Removes the staging folder's contents if no writer holds the lock now (then they are
    /// all leftovers of killed writers); does nothing while someone writes.
    fn clean_staging_if_idle(&self) -> Result<()> {
        let staging = self.layout.staging();
        let has_entries = stdfs::read_dir(&staging)
            .map(|mut d| d.next().is_some())
            .unwrap_or(false);
        if !has_entries {
            return Ok(());
        }
        let lock = match StoreLock::try_acquire(&self.layout.lock()) {
            Ok(Some(lock)) => lock,
            Ok(None) => return Ok(()),
            Err(Error::Io { ref source, .. }) if is_read_only(source) => return Ok(()),
            Err(e) => return Err(e),
        };
        let removed = clean_staging(&staging)?;
        drop(lock);
        tracing::info!(
            store = %self.layout.root.display(),
            removed,
            "removed the staging leftovers of killed writers"
        );
        Ok(())
    }

    /// The store's folder (absolute).
    pub fn root(&self) -> &Path {
        &self.layout.root
    }

    /// Takes the store lock for writing.
    fn writer(&self) -> Result<Writer> {
        Writer::acquire(
            &self.layout.lock(),
            &self.layout.root,
            &self.layout.staging(),
        )
    }

    // ---- experiments ------------------------------------------------------------------

    fn experiment_dir(&self, id: &str) -> Result<Option<(PathBuf, LifecycleStage)>> {
        validate::id("experiment id", id)?;
        let active = self.layout.active_experiment(id);
        if active.join(META).is_file() {
            return Ok(Some((active, LifecycleStage::Active)));
        }
        let deleted = self.layout.deleted_experiment(id);
        if deleted.join(META).is_file() {
            return Ok(Some((deleted, LifecycleStage::Deleted)));
        }
        Ok(None)
    }

    fn read_yaml<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>> {
        match read_string_opt(path)? {
            None => Ok(None),
            Some(text) => serde_yaml_ng::from_str(&text)
                .map(Some)
                .map_err(|e| Error::Corrupt {
                    path: path.to_path_buf(),
                    reason: e.to_string(),
                }),
        }
    }

    fn yaml_bytes<T: serde::Serialize>(path: &Path, value: &T) -> Result<Vec<u8>> {
        serde_yaml_ng::to_string(value)
            .map(String::into_bytes)
            .map_err(|e| Error::Corrupt {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })
    }

    fn write_yaml<T: serde::Serialize>(w: &Writer, path: &Path, value: &T) -> Result<()> {
        w.write(path, &Self::yaml_bytes(path, value)?)
    }

    /// Creates an experiment folder (tags and meta) complete, or not at all.
    fn write_experiment(&self, w: &Writer, meta: &ExperimentMeta, tags: &[Tag]) -> Result<()> {
        let dest = self.layout.active_experiment(&meta.experiment_id);
        let built = w.new_dir()?;
        let build = (|| {
            for t in tags {
                w.put(&join_key(&built.join("tags"), &t.key), t.value.as_bytes())?;
            }
            w.put(
                &built.join(META),
                &Self::yaml_bytes(&dest.join(META), meta)?,
            )
        })();
        if let Err(e) = build {
            let _ = stdfs::remove_dir_all(&built);
            return Err(e);
        }
        w.publish_dir(&built, &dest)
    }

    fn read_experiment(&self, dir: &Path) -> Result<Experiment> {
        let path = dir.join(META);
        let meta: ExperimentMeta = Self::read_yaml(&path)?
            .ok_or_else(|| Error::not_found("experiment", dir.display().to_string()))?;
        let tags = read_key_files(&dir.join("tags"))?.into_iter().collect();
        Ok(Experiment {
            experiment_id: meta.experiment_id,
            name: meta.name,
            artifact_location: meta.artifact_location,
            lifecycle_stage: meta.lifecycle_stage.parse()?,
            creation_time: meta.creation_time,
            last_update_time: meta.last_update_time,
            tags,
        })
    }

    fn all_experiments(&self, view: ViewType) -> Result<Vec<Experiment>> {
        let mut out = Vec::new();
        let mut scan = |parent: PathBuf| -> Result<()> {
            for name in list_dirs(&parent)? {
                if name == layout::MODELS || name == layout::TRASH || name.starts_with('.') {
                    continue;
                }
                let dir = parent.join(&name);
                if !dir.join(META).is_file() {
                    continue;
                }
                let exp = self.read_experiment(&dir)?;
                if view.includes(exp.lifecycle_stage) {
                    out.push(exp);
                }
            }
            Ok(())
        };
        if view != ViewType::DeletedOnly {
            scan(self.layout.root.clone())?;
        }
        if view != ViewType::ActiveOnly {
            scan(self.layout.trash())?;
        }
        out.sort_by(|a, b| {
            let ka = a.experiment_id.parse::<u64>().ok();
            let kb = b.experiment_id.parse::<u64>().ok();
            ka.cmp(&kb)
                .then_with(|| a.experiment_id.cmp(&b.experiment_id))
        });
        Ok(out)
    }

    // ---- runs ---------------------------------------------------------------------------

    /// Finds a run's folder by scanning experiments (as MLflow's `_find_run_root`).
    fn find_run(&self, run_id: &str) -> Result<(PathBuf, RunMeta)> {
        validate::id("run id", run_id)?;
        for parent in [self.layout.root.clone(), self.layout.trash()] {
            for exp in list_dirs(&parent)? {
                if exp == layout::MODELS || exp == layout::TRASH || exp.starts_with('.') {
                    continue;
                }
                let dir = parent.join(&exp).join(run_id);
                let meta_path = dir.join(META);
                if let Some(meta) = Self::read_yaml::<RunMeta>(&meta_path)? {
                    return Ok((dir, meta));
                }
            }
        }
        Err(Error::not_found("run", run_id))
    }

    /// The run's info from its `meta.yaml` (at `meta_path`, named in errors) and tags.
    fn run_info(
        meta_path: &Path,
        meta: &RunMeta,
        tags: &BTreeMap<String, String>,
    ) -> Result<RunInfo> {
        let status = RunStatus::from_code(meta.status).ok_or_else(|| Error::Corrupt {
            path: meta_path.to_path_buf(),
            reason: format!(
                "run {} has status code {}; MLflow's run status codes are 1 (RUNNING) to 5 \
                 (KILLED)",
                meta.run_id, meta.status
            ),
        })?;
        let lifecycle_stage = meta.lifecycle_stage.parse().map_err(|_| Error::Corrupt {
            path: meta_path.to_path_buf(),
            reason: format!(
                "run {} has lifecycle_stage {:?}; expected active or deleted",
                meta.run_id, meta.lifecycle_stage
            ),
        })?;
        Ok(RunInfo {
            run_id: meta.run_id.clone(),
            experiment_id: meta.experiment_id.clone(),
            run_name: meta
                .run_name
                .clone()
                .filter(|n| !n.is_empty())
                .or_else(|| tags.get(RUN_NAME_TAG).cloned())
                .unwrap_or_default(),
            user_id: meta.user_id.clone().unwrap_or_default(),
            status,
            start_time: meta.start_time,
            end_time: meta.end_time,
            artifact_uri: meta.artifact_uri.clone(),
            lifecycle_stage,
        })
    }

    fn read_metric_file(path: &Path, key: &str) -> Result<Vec<Metric>> {
        let text = read_string_opt(path)?.unwrap_or_default();
        let mut out = Vec::new();
        for (lineno, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let parts: Vec<&str> = line.split(' ').collect();
            let corrupt = |reason: String| Error::Corrupt {
                path: path.to_path_buf(),
                reason: format!("line {}: {reason}", lineno + 1),
            };
            if parts.len() != 2 && parts.len() != 3 {
                return Err(corrupt(format!(
                    "expected `<timestamp> <value> [<step>]`, found {line:?}"
                )));
            }
            let ts = parts[0]
                .parse::<i64>()
                .map_err(|_| corrupt(format!("timestamp {:?} is not an integer", parts[0])))?;
            let value = parts[1]
                .parse::<f64>()
                .map_err(|_| corrupt(format!("value {:?} is not a number", parts[1])))?;
            let step = match parts.get(2) {
                Some(s) => s
                    .parse::<i64>()
                    .map_err(|_| corrupt(format!("step {s:?} is not an integer")))?,
                None => 0,
            };
            out.push(Metric {
                key: key.to_string(),
                value,
                timestamp_ms: ts,
                step,
            });
        }
        Ok(out)
    }

    fn latest(history: Vec<Metric>) -> Option<Metric> {
        // MLflow: max by (step, timestamp, value).
        history.into_iter().max_by(|a, b| {
            a.step
                .cmp(&b.step)
                .then(a.timestamp_ms.cmp(&b.timestamp_ms))
                .then(a.value.total_cmp(&b.value))
        })
    }

    fn read_run(&self, dir: &Path, meta: &RunMeta) -> Result<Run> {
        let params: BTreeMap<String, String> =
            read_key_files(&dir.join("params"))?.into_iter().collect();
        let tags: BTreeMap<String, String> =
            read_key_files(&dir.join("tags"))?.into_iter().collect();
        let mut metrics = BTreeMap::new();
        for (key, _) in read_key_files(&dir.join("metrics"))? {
            let history = Self::read_metric_file(&join_key(&dir.join("metrics"), &key), &key)?;
            if let Some(m) = Self::latest(history) {
                metrics.insert(key, m);
            }
        }
        let info = Self::run_info(&dir.join(META), meta, &tags)?;
        Ok(Run {
            info,
            data: RunData {
                metrics,
                params,
                tags,
            },
        })
    }

    fn check_active(meta: &RunMeta) -> Result<()> {
        if meta.lifecycle_stage != "active" {
            return Err(Error::InvalidState {
                what: format!("run {}", meta.run_id),
                reason: "the run is deleted; restore it before logging".into(),
            });
        }
        Ok(())
    }

    fn artifact_dir(meta: &RunMeta) -> Result<PathBuf> {
        file_uri_to_path(&meta.artifact_uri).ok_or_else(|| Error::UnsupportedUri {
            uri: meta.artifact_uri.clone(),
            reason: "the local store only reads file:// artifact locations".into(),
        })
    }

    // ---- registry -----------------------------------------------------------------------

    fn model_meta(&self, name: &str) -> Result<ModelMeta> {
        validate::model_name(name)?;
        Self::read_yaml(&self.layout.model(name).join(META))?
            .ok_or_else(|| Error::not_found("registered model", name))
    }

    /// Parses the content of alias file `path`.
    fn alias_target(path: &Path, content: &str) -> Result<u64> {
        content.trim().parse::<u64>().map_err(|_| Error::Corrupt {
            path: path.to_path_buf(),
            reason: format!("alias target {content:?} is not a version number"),
        })
    }

    /// The model's aliases. A corrupt alias file is left out with a warning, so that it does
    /// not hide the model's other aliases; looking that alias up is still an error.
    fn aliases(&self, name: &str) -> Result<BTreeMap<String, u64>> {
        let mut out = BTreeMap::new();
        for (alias, content) in read_key_files(&self.layout.model(name).join("aliases"))? {
            match Self::alias_target(&self.layout.alias(name, &alias), &content) {
                Ok(v) => {
                    out.insert(alias, v);
                }
                Err(e) => skip_corrupt("alias", &e),
            }
        }
        Ok(out)
    }

    fn version_from_dir(
        &self,
        dir: &Path,
        aliases: &BTreeMap<String, u64>,
    ) -> Result<Option<ModelVersion>> {
        let Some(meta) = Self::read_yaml::<VersionMeta>(&dir.join(META))? else {
            return Ok(None);
        };
        if meta.current_stage == STAGE_DELETED_INTERNAL {
            return Ok(None);
        }
        let current_stage = meta.current_stage.parse().map_err(|_| Error::Corrupt {
            path: dir.join(META),
            reason: format!(
                "unknown stage {:?}; expected None, Staging, Production or Archived",
                meta.current_stage
            ),
        })?;
        let tags = read_key_files(&dir.join("tags"))?.into_iter().collect();
        Ok(Some(ModelVersion {
            current_stage,
            status: meta.status.parse().unwrap_or(ModelVersionStatus::Ready),
            aliases: aliases
                .iter()
                .filter(|(_, v)| **v == meta.version)
                .map(|(a, _)| a.clone())
                .collect(),
            name: meta.name,
            version: meta.version,
            creation_timestamp: meta.creation_timestamp,
            last_updated_timestamp: meta.last_updated_timestamp,
            description: meta.description,
            user_id: meta.user_id,
            source: meta.source,
            run_id: meta.run_id.filter(|r| !r.is_empty()),
            run_link: meta.run_link.filter(|r| !r.is_empty()),
            status_message: meta.status_message,
            tags,
            model_id: meta.model_id.filter(|m| !m.is_empty()),
        }))
    }

    fn version_numbers(&self, name: &str) -> Result<Vec<u64>> {
        let mut out: Vec<u64> = list_dirs(&self.layout.model(name))?
            .iter()
            .filter_map(|d| d.strip_prefix("version-")?.parse().ok())
            .collect();
        out.sort_unstable();
        Ok(out)
    }

    /// Every readable version of a model. A version whose files are corrupt is left out with
    /// a warning instead of failing the whole list; reading that version by number is still
    /// an [`Error::Corrupt`] naming the file.
    fn versions(&self, name: &str) -> Result<Vec<ModelVersion>> {
        self.model_meta(name)?;
        let aliases = self.aliases(name)?;
        let mut out = Vec::new();
        for v in self.version_numbers(name)? {
            match self.version_from_dir(&self.layout.version(name, v), &aliases) {
                Ok(Some(mv)) => out.push(mv),
                Ok(None) => {}
                Err(e @ Error::Corrupt { .. }) => skip_corrupt("model version", &e),
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    fn read_version_meta(&self, name: &str, version: u64) -> Result<VersionMeta> {
        self.model_meta(name)?;
        let meta: Option<VersionMeta> =
            Self::read_yaml(&self.layout.version(name, version).join(META))?;
        match meta {
            Some(m) if m.current_stage != STAGE_DELETED_INTERNAL => Ok(m),
            _ => Err(Error::not_found(
                "model version",
                format!("{name} version {version}"),
            )),
        }
    }

    fn write_version_meta(&self, w: &Writer, meta: &VersionMeta) -> Result<()> {
        Self::write_yaml(
            w,
            &self.layout.version(&meta.name, meta.version).join(META),
            meta,
        )
    }

    fn touch_model(&self, w: &Writer, name: &str, time: i64) -> Result<()> {
        let mut meta = self.model_meta(name)?;
        meta.last_updated_timestamp = time;
        Self::write_yaml(w, &self.layout.model(name).join(META), &meta)
    }

    /// The folder of a run's artifacts and the file or folder of artifact `path` in it,
    /// refusing a path that goes through a symbolic link (inside the store, or inside an
    /// artifact location outside it).
    fn artifact_file(meta: &RunMeta, store_root: &Path, path: &str) -> Result<PathBuf> {
        Self::artifact_target(meta, store_root, Some(path))
    }

    /// [`Self::artifact_file`], or the artifact folder itself for `None`.
    fn artifact_target(meta: &RunMeta, store_root: &Path, path: Option<&str>) -> Result<PathBuf> {
        let root = Self::artifact_dir(meta)?;
        let file = match path {
            Some(p) => join_key(&root, p),
            None => root.clone(),
        };
        let base = if root.starts_with(store_root) {
            store_root
        } else {
            root.as_path()
        };
        match first_symlink(base, &file)? {
            None => Ok(file),
            Some(_) => Err(Error::InvalidArtifactPath {
                path: path.unwrap_or_default().to_string(),
                reason: "goes through a symbolic link; the store never follows links in a \
                         run's artifact folder",
            }),
        }
    }

    /// Builds a new entity folder (files relative to it) in the staging folder and moves it
    /// to `dest`, so MLflow never sees it half-written. An existing `dest` is left alone.
    fn publish_new_dir(w: &Writer, dest: &Path, files: &[(PathBuf, Vec<u8>)]) -> Result<()> {
        if dest.exists() {
            return Ok(());
        }
        let built = w.new_dir()?;
        let build = (|| {
            for (rel, bytes) in files {
                w.put(&built.join(rel), bytes)?;
            }
            Ok(())
        })();
        if let Err(e) = build {
            let _ = stdfs::remove_dir_all(&built);
            return Err(e);
        }
        w.publish_dir(&built, dest)
    }

    /// The folder of logged model `model_id` (in any experiment, live or deleted).
    fn find_logged_model(&self, model_id: &str) -> Result<(PathBuf, LoggedModelMeta)> {
        if !valid_logged_model_id(model_id) {
            return Err(Error::InvalidValue {
                field: "logged model id",
                value: model_id.to_string(),
                expected: "m- followed by 32 lowercase hex digits",
            });
        }
        for parent in [self.layout.root.clone(), self.layout.trash()] {
            for exp in list_dirs(&parent)? {
                if exp == layout::MODELS || exp == layout::TRASH || exp.starts_with('.') {
                    continue;
                }
                let dir = parent.join(&exp).join(layout::MODELS).join(model_id);
                if let Some(meta) = Self::read_yaml::<LoggedModelMeta>(&dir.join(META))? {
                    return Ok((dir, meta));
                }
            }
        }
        Err(Error::not_found("logged model", model_id))
    }

    fn logged_model(meta: &LoggedModelMeta) -> LoggedModel {
        let status = match meta.status {
            1 => LoggedModelStatus::Pending,
            3 => LoggedModelStatus::Failed,
            _ => LoggedModelStatus::Ready,
        };
        LoggedModel {
            model_id: meta.model_id.clone(),
            experiment_id: meta.experiment_id.clone(),
            name: meta.name.clone(),
            artifact_location: meta.artifact_location.clone(),
            source_run_id: meta.source_run_id.clone(),
            status,
        }
    }

    fn registered_model(&self, name: &str) -> Result<RegisteredModel> {
        let meta = self.model_meta(name)?;
        let dir = self.layout.model(name);
        let tags = read_key_files(&dir.join("tags"))?.into_iter().collect();
        let aliases = self.aliases(name)?;
        let versions = self.versions(name)?;
        let mut latest: BTreeMap<&'static str, ModelVersion> = BTreeMap::new();
        for v in versions {
            let key = v.current_stage.as_str();
            if latest.get(key).is_none_or(|l| l.version < v.version) {
                latest.insert(key, v);
            }
        }
        Ok(RegisteredModel {
            name: meta.name,
            creation_timestamp: meta.creation_timestamp,
            last_updated_timestamp: meta.last_updated_timestamp,
            description: meta.description,
            latest_versions: latest.into_values().collect(),
            tags,
            aliases,
        })
    }
}

/// Writes a param, tag or alias value: MLflow writes them with no trailing newline.
fn write_value(w: &Writer, path: &Path, value: &str) -> Result<()> {
    w.write(path, value.as_bytes())
}

/// Logs that a corrupt entry was left out of a listing.
fn skip_corrupt(what: &str, e: &Error) {
    tracing::warn!("skipping a corrupt {what} in the local store: {e}");
}

/// Whether an I/O error means the store cannot be written (so it is opened for reading).
fn is_read_only(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem
    )
}

impl Store for LocalStore {
    fn uri(&self) -> String {
        self.layout.root.display().to_string()
    }

    fn create_experiment(
        &self,
        name: &str,
        artifact_location: Option<&str>,
        tags: &[Tag],
    ) -> Result<String> {
        validate::experiment_name(name)?;
        for t in tags {
            validate::key("tag", &t.key)?;
        }
        let w = self.writer()?;
        let existing = self.all_experiments(ViewType::All)?;
        if let Some(e) = existing.iter().find(|e| e.name == name) {
            let what = if e.lifecycle_stage == LifecycleStage::Deleted {
                "experiment (deleted)"
            } else {
                "experiment"
            };
            return Err(Error::AlreadyExists {
                what,
                name: name.to_string(),
            });
        }
        let next = existing
            .iter()
            .filter_map(|e| e.experiment_id.parse::<u64>().ok())
            .max()
            .map_or(1, |m| m + 1);
        // Ids of experiments deleted from .trash by hand must not be reused either.
        let mut id = next;
        while self.layout.active_experiment(&id.to_string()).exists()
            || self.layout.deleted_experiment(&id.to_string()).exists()
        {
            id += 1;
        }
        let id = id.to_string();
        let dir = self.layout.active_experiment(&id);
        let now = now_ms();
        let artifact_location = match artifact_location {
            Some(loc) => loc.to_string(),
            None => path_to_file_uri(&dir),
        };
        // Built in the staging folder: the experiment becomes visible only once complete.
        self.write_experiment(
            &w,
            &ExperimentMeta {
                artifact_location,
                creation_time: Some(now),
                experiment_id: id.clone(),
                last_update_time: Some(now),
                lifecycle_stage: "active".into(),
                name: name.to_string(),
            },
            tags,
        )?;
        Ok(id)
    }

    fn get_experiment(&self, experiment_id: &str) -> Result<Experiment> {
        let (dir, _) = self
            .experiment_dir(experiment_id)?
            .ok_or_else(|| Error::not_found("experiment", experiment_id))?;
        self.read_experiment(&dir)
    }

    fn get_experiment_by_name(&self, name: &str) -> Result<Option<Experiment>> {
        Ok(self
            .all_experiments(ViewType::ActiveOnly)?
            .into_iter()
            .find(|e| e.name == name))
    }

    fn search_experiments(&self, view: ViewType) -> Result<Vec<Experiment>> {
        self.all_experiments(view)
    }

    fn set_experiment_tag(&self, experiment_id: &str, key: &str, value: &str) -> Result<()> {
        validate::key("tag", key)?;
        let w = self.writer()?;
        let (dir, stage) = self
            .experiment_dir(experiment_id)?
            .ok_or_else(|| Error::not_found("experiment", experiment_id))?;
        if stage != LifecycleStage::Active {
            return Err(Error::InvalidState {
                what: format!("experiment {experiment_id}"),
                reason: "the experiment is deleted".into(),
            });
        }
        write_value(&w, &join_key(&dir.join("tags"), key), value)
    }

    fn create_run(&self, args: &CreateRun) -> Result<RunInfo> {
        for t in &args.tags {
            validate::key("tag", &t.key)?;
        }
        let tag_name = args
            .tags
            .iter()
            .rev()
            .find(|t| t.key == RUN_NAME_TAG)
            .map(|t| t.value.clone());
        if let (Some(n), Some(t)) = (&args.run_name, &tag_name)
            && n != t
        {
            return Err(Error::InvalidValue {
                field: "run_name",
                value: n.clone(),
                expected: "the same value as the mlflow.runName tag, or no tag",
            });
        }
        let run_id = uuid::Uuid::new_v4().simple().to_string();
        let run_name = args
            .run_name
            .clone()
            .or(tag_name)
            .unwrap_or_else(|| format!("run-{}", &run_id[..8]));
        let w = self.writer()?;
        let exp = self.get_experiment(&args.experiment_id)?;
        if exp.lifecycle_stage != LifecycleStage::Active {
            return Err(Error::InvalidState {
                what: format!("experiment {}", exp.experiment_id),
                reason: "cannot create a run in a deleted experiment".into(),
            });
        }
        let exp_dir = self.layout.active_experiment(&exp.experiment_id);
        let artifact_root = file_uri_to_path(&exp.artifact_location)
            .map(|p| path_to_file_uri(&p.join(&run_id).join("artifacts")))
            .unwrap_or_else(|| {
                format!(
                    "{}/{run_id}/artifacts",
                    exp.artifact_location.trim_end_matches('/')
                )
            });
        let meta = RunMeta::new(
            &run_id,
            &exp.experiment_id,
            &run_name,
            &args.user_id,
            args.start_time,
            artifact_root,
        );
        // Build the run folder in the staging folder, then rename it into place: a run is
        // either fully there (meta, tags, empty params/metrics/artifacts) or absent.
        let dest = exp_dir.join(&run_id);
        let built = w.new_dir()?;
        let build = (|| {
            for sub in ["metrics", "params", "artifacts", "tags"] {
                create_dir_all(&built.join(sub))?;
            }
            let mut tags = args.tags.clone();
            if !tags.iter().any(|t| t.key == RUN_NAME_TAG) {
                tags.push(Tag::new(RUN_NAME_TAG, run_name.clone()));
            }
            for t in &tags {
                w.put(&join_key(&built.join("tags"), &t.key), t.value.as_bytes())?;
            }
            w.put(
                &built.join(META),
                &Self::yaml_bytes(&dest.join(META), &meta)?,
            )
        })();
        if let Err(e) = build {
            let _ = stdfs::remove_dir_all(&built);
            return Err(e);
        }
        w.publish_dir(&built, &dest)?;
        drop(w);
        let tags = BTreeMap::from([(RUN_NAME_TAG.to_string(), run_name)]);
        Self::run_info(&dest.join(META), &meta, &tags)
    }

    fn update_run(&self, run_id: &str, update: &UpdateRun) -> Result<RunInfo> {
        let w = self.writer()?;
        let (dir, mut meta) = self.find_run(run_id)?;
        Self::check_active(&meta)?;
        if let Some(s) = update.status {
            meta.status = s.code();
        }
        if let Some(t) = update.end_time {
            meta.end_time = Some(t);
        }
        if let Some(n) = &update.run_name {
            meta.run_name = Some(n.clone());
            write_value(&w, &dir.join("tags").join(RUN_NAME_TAG), n)?;
        }
        Self::write_yaml(&w, &dir.join(META), &meta)?;
        let tags = read_key_files(&dir.join("tags"))?.into_iter().collect();
        Self::run_info(&dir.join(META), &meta, &tags)
    }

    fn get_run(&self, run_id: &str) -> Result<Run> {
        let (dir, meta) = self.find_run(run_id)?;
        self.read_run(&dir, &meta)
    }

    fn log_batch(
        &self,
        run_id: &str,
        metrics: &[Metric],
        params: &[Param],
        tags: &[Tag],
    ) -> Result<()> {
        validate::batch_keys(metrics, params, tags)?;
        // Duplicate keys with different values inside one batch are an error, as in MLflow.
        let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
        for p in params {
            if let Some(old) = seen.insert(&p.key, &p.value)
                && old != p.value
            {
                return Err(Error::ParamChanged {
                    run_id: run_id.to_string(),
                    key: p.key.clone(),
                    old: old.to_string(),
                    new: p.value.clone(),
                });
            }
        }
        let w = self.writer()?;
        let (dir, mut meta) = self.find_run(run_id)?;
        Self::check_active(&meta)?;
        // Check every param before writing any, so a rejected batch changes nothing.
        let params_dir = dir.join("params");
        for p in params {
            if let Some(old) = read_string_opt(&join_key(&params_dir, &p.key))?
                && old != p.value
            {
                return Err(Error::ParamChanged {
                    run_id: run_id.to_string(),
                    key: p.key.clone(),
                    old,
                    new: p.value.clone(),
                });
            }
        }
        // All files of the batch are written together: one fsync per file, one per folder.
        let mut files: Vec<(PathBuf, Vec<u8>)> = Vec::new();
        for p in params {
            files.push((join_key(&params_dir, &p.key), p.value.clone().into_bytes()));
        }
        // One rewrite per metric key (atomic), appending this batch's lines in order.
        let mut by_key: BTreeMap<&str, Vec<&Metric>> = BTreeMap::new();
        for m in metrics {
            by_key.entry(&m.key).or_default().push(m);
        }
        for (key, ms) in by_key {
            let path = join_key(&dir.join("metrics"), key);
            let mut text = read_string_opt(&path)?.unwrap_or_default();
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            for m in ms {
                text.push_str(&format!(
                    "{} {} {}\n",
                    m.timestamp_ms,
                    format_metric_value(m.value),
                    m.step
                ));
            }
            files.push((path, text.into_bytes()));
        }
        // A key given twice in one batch: the last value wins, as MLflow applies them in order.
        for t in tags {
            let path = join_key(&dir.join("tags"), &t.key);
            files.retain(|(p, _)| *p != path);
            files.push((path, t.value.clone().into_bytes()));
            if t.key == RUN_NAME_TAG {
                meta.run_name = Some(t.value.clone());
            }
        }
        if tags.iter().any(|t| t.key == RUN_NAME_TAG) {
            let text = serde_yaml_ng::to_string(&meta).map_err(|e| Error::Corrupt {
                path: dir.join(META),
                reason: e.to_string(),
            })?;
            files.push((dir.join(META), text.into_bytes()));
        }
        w.write_many(&files)
    }

    fn get_metric_history(&self, run_id: &str, key: &str) -> Result<Vec<Metric>> {
        validate::key("metric", key)?;
        let (dir, _) = self.find_run(run_id)?;
        Self::read_metric_file(&join_key(&dir.join("metrics"), key), key)
    }

    fn delete_tag(&self, run_id: &str, key: &str) -> Result<()> {
        validate::key("tag", key)?;
        let _w = self.writer()?;
        let (dir, meta) = self.find_run(run_id)?;
        Self::check_active(&meta)?;
        let path = join_key(&dir.join("tags"), key);
        match stdfs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(Error::not_found("tag", format!("{key} on run {run_id}")))
            }
            Err(e) => Err(Error::io(path, e)),
        }
    }

    fn search_runs(&self, args: &SearchRuns) -> Result<Vec<Run>> {
        let filter = Filter::parse(args.filter.as_deref().unwrap_or(""))?;
        let order = args
            .order_by
            .iter()
            .map(|o| OrderBy::parse(o))
            .collect::<Result<Vec<_>>>()?;
        let mut runs = Vec::new();
        for exp_id in &args.experiment_ids {
            let Some((exp_dir, _)) = self.experiment_dir(exp_id)? else {
                return Err(Error::not_found("experiment", exp_id.clone()));
            };
            for name in list_dirs(&exp_dir)? {
                if RESERVED_EXPERIMENT_FOLDERS.contains(&name.as_str()) {
                    continue;
                }
                let dir = exp_dir.join(&name);
                let Some(meta) = Self::read_yaml::<RunMeta>(&dir.join(META))? else {
                    continue;
                };
                if meta.experiment_id != *exp_id {
                    continue;
                }
                let stage: LifecycleStage = meta.lifecycle_stage.parse()?;
                if !args.view_type.includes(stage) {
                    continue;
                }
                let run = self.read_run(&dir, &meta)?;
                if filter.matches(&run) {
                    runs.push(run);
                }
            }
        }
        sort_runs(&mut runs, &order);
        runs.truncate(args.max_results);
        Ok(runs)
    }

    fn log_artifact(&self, run_id: &str, path: &str, bytes: &[u8]) -> Result<()> {
        validate::artifact_path(path)?;
        let w = self.writer()?;
        let (_, meta) = self.find_run(run_id)?;
        Self::check_active(&meta)?;
        let file = Self::artifact_file(&meta, &self.layout.root, path)?;
        w.write(&file, bytes)
    }

    fn list_artifacts(&self, run_id: &str, path: Option<&str>) -> Result<Vec<FileInfo>> {
        if let Some(p) = path {
            validate::artifact_path(p)?;
        }
        let (_, meta) = self.find_run(run_id)?;
        let dir = Self::artifact_target(&meta, &self.layout.root, path)?;
        let entries = match stdfs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io(dir, e)),
        };
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(&dir, e))?;
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            if fs::is_temp(&name) {
                continue;
            }
            // Not following links: a link is neither listed nor read.
            let md =
                stdfs::symlink_metadata(entry.path()).map_err(|e| Error::io(entry.path(), e))?;
            if md.file_type().is_symlink() {
                continue;
            }
            let rel = match path {
                Some(p) => format!("{p}/{name}"),
                None => name,
            };
            out.push(FileInfo {
                path: rel,
                is_dir: md.is_dir(),
                file_size: if md.is_dir() { None } else { Some(md.len()) },
            });
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    fn download_artifact(&self, run_id: &str, path: &str) -> Result<Vec<u8>> {
        validate::artifact_path(path)?;
        let (_, meta) = self.find_run(run_id)?;
        let file = Self::artifact_file(&meta, &self.layout.root, path)?;
        match stdfs::read(&file) {
            Ok(b) => Ok(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::not_found(
                "artifact",
                format!("{path} of run {run_id}"),
            )),
            Err(e) => Err(Error::io(file, e)),
        }
    }

    fn create_registered_model(
        &self,
        name: &str,
        tags: &[Tag],
        description: Option<&str>,
    ) -> Result<RegisteredModel> {
        validate::model_name(name)?;
        for t in tags {
            validate::key("tag", &t.key)?;
        }
        let w = self.writer()?;
        let dir = self.layout.model(name);
        if dir.join(META).is_file() {
            return Err(Error::AlreadyExists {
                what: "registered model",
                name: name.to_string(),
            });
        }
        let now = now_ms();
        let meta = ModelMeta {
            creation_timestamp: now,
            description: description.map(str::to_string),
            last_updated_timestamp: now,
            name: name.to_string(),
        };
        if dir.exists() {
            // A folder without meta.yaml: what an earlier version of this crate left when it
            // was killed while creating the model. Complete it in place, meta last.
            for t in tags {
                write_value(&w, &join_key(&dir.join("tags"), &t.key), &t.value)?;
            }
            Self::write_yaml(&w, &dir.join(META), &meta)?;
        } else {
            // Built in the staging folder: the model becomes visible only once complete.
            let built = w.new_dir()?;
            let build = (|| {
                for t in tags {
                    w.put(&join_key(&built.join("tags"), &t.key), t.value.as_bytes())?;
                }
                w.put(
                    &built.join(META),
                    &Self::yaml_bytes(&dir.join(META), &meta)?,
                )
            })();
            if let Err(e) = build {
                let _ = stdfs::remove_dir_all(&built);
                return Err(e);
            }
            w.publish_dir(&built, &dir)?;
        }
        drop(w);
        self.registered_model(name)
    }

    fn get_registered_model(&self, name: &str) -> Result<RegisteredModel> {
        self.registered_model(name)
    }

    fn search_registered_models(&self, max_results: usize) -> Result<Vec<RegisteredModel>> {
        let mut out = Vec::new();
        for name in list_dirs(&self.layout.models())? {
            if validate::model_name(&name).is_err()
                || !self.layout.model(&name).join(META).is_file()
            {
                continue;
            }
            match self.registered_model(&name) {
                Ok(m) => out.push(m),
                // One corrupt model must not hide the others.
                Err(e @ Error::Corrupt { .. }) => skip_corrupt("registered model", &e),
                Err(e) => return Err(e),
            }
            if out.len() >= max_results {
                break;
            }
        }
        Ok(out)
    }

    fn set_registered_model_tag(&self, name: &str, key: &str, value: &str) -> Result<()> {
        validate::key("tag", key)?;
        let w = self.writer()?;
        self.model_meta(name)?;
        write_value(
            &w,
            &join_key(&self.layout.model(name).join("tags"), key),
            value,
        )?;
        self.touch_model(&w, name, now_ms())
    }

    fn update_registered_model(&self, name: &str, description: &str) -> Result<RegisteredModel> {
        {
            let w = self.writer()?;
            let mut meta = self.model_meta(name)?;
            meta.description = Some(description.to_string());
            meta.last_updated_timestamp = now_ms();
            Self::write_yaml(&w, &self.layout.model(name).join(META), &meta)?;
        }
        self.registered_model(name)
    }

    fn create_model_version(&self, args: &CreateModelVersion) -> Result<ModelVersion> {
        validate::model_name(&args.name)?;
        for t in &args.tags {
            validate::key("tag", &t.key)?;
        }
        if let Some(r) = &args.run_id {
            validate::id("run id", r)?;
        }
        let w = self.writer()?;
        self.model_meta(&args.name)?;
        let version = match self.version_numbers(&args.name)?.last() {
            None => 1,
            // A hand-made `version-18446744073709551615` folder must not overflow.
            Some(&last) => last.checked_add(1).ok_or_else(|| Error::Corrupt {
                path: self.layout.version(&args.name, last),
                reason: "the highest version number leaves no room for another".into(),
            })?,
        };
        let now = now_ms();
        let meta = VersionMeta {
            aliases: Vec::new(),
            creation_timestamp: now,
            current_stage: Stage::None.as_str().into(),
            description: args.description.clone(),
            last_updated_timestamp: now,
            model_id: args.model_id.clone(),
            name: args.name.clone(),
            run_id: args.run_id.clone(),
            run_link: None,
            source: args.source.clone(),
            status: ModelVersionStatus::Ready.as_str().into(),
            status_message: None,
            storage_location: Some(args.source.clone()),
            user_id: None,
            version,
        };
        // The whole version folder is built in the staging folder and renamed into place last.
        let dest = self.layout.version(&args.name, version);
        let built = w.new_dir()?;
        let build = (|| {
            create_dir_all(&built.join("tags"))?;
            for t in &args.tags {
                w.put(&join_key(&built.join("tags"), &t.key), t.value.as_bytes())?;
            }
            w.put(
                &built.join(META),
                &Self::yaml_bytes(&dest.join(META), &meta)?,
            )
        })();
        if let Err(e) = build {
            let _ = stdfs::remove_dir_all(&built);
            return Err(e);
        }
        w.publish_dir(&built, &dest)?;
        self.touch_model(&w, &args.name, now)?;
        drop(w);
        let aliases = BTreeMap::new();
        self.version_from_dir(&self.layout.version(&args.name, version), &aliases)?
            .ok_or_else(|| {
                Error::not_found("model version", format!("{} version {version}", args.name))
            })
    }

    fn get_model_version(&self, name: &str, version: u64) -> Result<ModelVersion> {
        self.read_version_meta(name, version)?;
        let aliases = self.aliases(name)?;
        self.version_from_dir(&self.layout.version(name, version), &aliases)?
            .ok_or_else(|| Error::not_found("model version", format!("{name} version {version}")))
    }

    fn search_model_versions(&self, name: &str) -> Result<Vec<ModelVersion>> {
        self.versions(name)
    }

    fn transition_model_version_stage(
        &self,
        name: &str,
        version: u64,
        stage: Stage,
        archive_existing_versions: bool,
    ) -> Result<ModelVersion> {
        if archive_existing_versions && !matches!(stage, Stage::Staging | Stage::Production) {
            return Err(Error::InvalidValue {
                field: "stage",
                value: stage.as_str().to_string(),
                expected: "Staging or Production when archive_existing_versions is set",
            });
        }
        {
            let w = self.writer()?;
            let mut meta = self.read_version_meta(name, version)?;
            let now = now_ms();
            if archive_existing_versions {
                for v in self.version_numbers(name)? {
                    if v == version {
                        continue;
                    }
                    let path = self.layout.version(name, v).join(META);
                    let other = match Self::read_yaml::<VersionMeta>(&path) {
                        Ok(other) => other,
                        // A corrupt version cannot be archived; it must not block the others.
                        Err(e @ Error::Corrupt { .. }) => {
                            skip_corrupt("model version", &e);
                            None
                        }
                        Err(e) => return Err(e),
                    };
                    if let Some(mut other) = other
                        && other.current_stage.eq_ignore_ascii_case(stage.as_str())
                    {
                        other.current_stage = Stage::Archived.as_str().into();
                        other.last_updated_timestamp = now;
                        self.write_version_meta(&w, &other)?;
                    }
                }
            }
            meta.current_stage = stage.as_str().into();
            meta.last_updated_timestamp = now;
            self.write_version_meta(&w, &meta)?;
            self.touch_model(&w, name, now)?;
        }
        self.get_model_version(name, version)
    }

    fn update_model_version(
        &self,
        name: &str,
        version: u64,
        description: &str,
    ) -> Result<ModelVersion> {
        {
            let w = self.writer()?;
            let mut meta = self.read_version_meta(name, version)?;
            meta.description = Some(description.to_string());
            meta.last_updated_timestamp = now_ms();
            self.write_version_meta(&w, &meta)?;
        }
        self.get_model_version(name, version)
    }

    fn set_model_version_tag(
        &self,
        name: &str,
        version: u64,
        key: &str,
        value: &str,
    ) -> Result<()> {
        validate::key("tag", key)?;
        let w = self.writer()?;
        self.read_version_meta(name, version)?;
        write_value(
            &w,
            &join_key(&self.layout.version(name, version).join("tags"), key),
            value,
        )?;
        self.touch_model(&w, name, now_ms())
    }

    fn delete_model_version_tag(&self, name: &str, version: u64, key: &str) -> Result<()> {
        validate::key("tag", key)?;
        let w = self.writer()?;
        self.read_version_meta(name, version)?;
        let path = join_key(&self.layout.version(name, version).join("tags"), key);
        match stdfs::remove_file(&path) {
            Ok(()) => self.touch_model(&w, name, now_ms()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::not_found(
                "model version tag",
                format!("{key} on {name} version {version}"),
            )),
            Err(e) => Err(Error::io(path, e)),
        }
    }

    fn set_registered_model_alias(&self, name: &str, alias: &str, version: u64) -> Result<()> {
        validate::alias(alias)?;
        let w = self.writer()?;
        self.read_version_meta(name, version)?;
        write_value(&w, &self.layout.alias(name, alias), &version.to_string())?;
        self.touch_model(&w, name, now_ms())
    }

    fn delete_registered_model_alias(&self, name: &str, alias: &str) -> Result<()> {
        validate::alias(alias)?;
        let w = self.writer()?;
        self.model_meta(name)?;
        let path = self.layout.alias(name, alias);
        match stdfs::remove_file(&path) {
            Ok(()) => self.touch_model(&w, name, now_ms()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(Error::not_found("alias", format!("{name}@{alias}")))
            }
            Err(e) => Err(Error::io(path, e)),
        }
    }

    fn get_model_version_by_alias(&self, name: &str, alias: &str) -> Result<ModelVersion> {
        validate::alias(alias)?;
        self.model_meta(name)?;
        let path = self.layout.alias(name, alias);
        let content = match first_symlink(&self.layout.root, &path)? {
            None => read_string_opt(&path)?,
            Some(_) => None,
        };
        let content =
            content.ok_or_else(|| Error::not_found("alias", format!("{name}@{alias}")))?;
        let v = Self::alias_target(&path, &content)?;
        self.get_model_version(name, v)
    }

    fn log_inputs(&self, run_id: &str, datasets: &[DatasetInput]) -> Result<()> {
        for d in datasets {
            d.validate()?;
            for t in &d.tags {
                validate::key("dataset input tag", &t.key)?;
            }
        }
        let w = self.writer()?;
        let (run_dir, meta) = self.find_run(run_id)?;
        Self::check_active(&meta)?;
        let (exp_dir, _) = self
            .experiment_dir(&meta.experiment_id)?
            .ok_or_else(|| Error::not_found("experiment", meta.experiment_id.clone()))?;
        for d in datasets {
            // MLflow names these folders md5(name + digest) and md5(dataset_id + run_id); it
            // only needs the names to be unique, and SHA-256 is what this crate has.
            let dataset_id = short_hash(&[&d.name, &d.digest]);
            let ds = DatasetMeta {
                digest: d.digest.clone(),
                name: d.name.clone(),
                profile: d.profile.clone(),
                schema: d.schema.clone(),
                source: d.source.clone(),
                source_type: d.source_type.clone(),
            };
            let ds_dir = exp_dir.join(DATASETS).join(&dataset_id);
            let bytes = Self::yaml_bytes(&ds_dir.join(META), &ds)?;
            Self::publish_new_dir(&w, &ds_dir, &[(PathBuf::from(META), bytes)])?;
            let input_id = short_hash(&[&dataset_id, run_id]);
            let edge = EdgeMeta {
                destination_id: dataset_id.clone(),
                destination_type: "RUN".into(),
                source_id: dataset_id.clone(),
                source_type: "DATASET".into(),
                step: None,
                tags: d
                    .tags
                    .iter()
                    .map(|t| (t.key.clone(), t.value.clone()))
                    .collect(),
            };
            let in_dir = run_dir.join(INPUTS).join(&input_id);
            let bytes = Self::yaml_bytes(&in_dir.join(META), &edge)?;
            Self::publish_new_dir(&w, &in_dir, &[(PathBuf::from(META), bytes)])?;
        }
        Ok(())
    }

    fn create_logged_model(&self, args: &CreateLoggedModel) -> Result<LoggedModel> {
        validate::artifact_path(&args.artifact_path)?;
        if args.name.is_empty() || args.name.contains(['/', '\\', '\n']) {
            return Err(Error::InvalidName {
                what: "logged model",
                value: args.name.clone(),
                reason: "must be non-empty, without slashes or line breaks",
            });
        }
        for k in args.params.keys() {
            validate::key("param", k)?;
        }
        for k in args.metrics.keys() {
            validate::key("metric", k)?;
        }
        for t in &args.tags {
            validate::key("tag", &t.key)?;
        }
        let w = self.writer()?;
        let (run_dir, run) = self.find_run(&args.source_run_id)?;
        Self::check_active(&run)?;
        let (exp_dir, _) = self
            .experiment_dir(&run.experiment_id)?
            .ok_or_else(|| Error::not_found("experiment", run.experiment_id.clone()))?;
        let model_id = new_logged_model_id();
        let now = now_ms();
        let meta = LoggedModelMeta {
            artifact_location: format!(
                "{}/{}",
                run.artifact_uri.trim_end_matches('/'),
                args.artifact_path
            ),
            creation_timestamp: now,
            experiment_id: run.experiment_id.clone(),
            last_updated_timestamp: now,
            lifecycle_stage: "active".into(),
            model_id: model_id.clone(),
            model_type: None,
            name: args.name.clone(),
            source_run_id: Some(run.run_id.clone()),
            status: LoggedModelStatus::Pending.code(),
            status_message: None,
        };
        let dest = exp_dir.join(layout::MODELS).join(&model_id);
        let mut files = vec![(
            PathBuf::from(META),
            Self::yaml_bytes(&dest.join(META), &meta)?,
        )];
        for (k, v) in &args.params {
            files.push((join_key(Path::new("params"), k), v.clone().into_bytes()));
        }
        for t in &args.tags {
            files.push((
                join_key(Path::new("tags"), &t.key),
                t.value.clone().into_bytes(),
            ));
        }
        for (k, v) in &args.metrics {
            let line = format!("{now} {} 0 {}\n", format_metric_value(*v), run.run_id);
            files.push((join_key(Path::new("metrics"), k), line.into_bytes()));
        }
        // MLflow's reader lists these folders, so they exist even when empty.
        let built = w.new_dir()?;
        let build = (|| {
            for sub in ["params", "metrics", "tags"] {
                create_dir_all(&built.join(sub))?;
            }
            for (rel, bytes) in &files {
                w.put(&built.join(rel), bytes)?;
            }
            Ok(())
        })();
        if let Err(e) = build {
            let _ = stdfs::remove_dir_all(&built);
            return Err(e);
        }
        w.publish_dir(&built, &dest)?;
        let edge = EdgeMeta {
            destination_id: model_id.clone(),
            destination_type: "MODEL_OUTPUT".into(),
            source_id: model_id.clone(),
            source_type: "RUN_OUTPUT".into(),
            step: Some(0),
            tags: BTreeMap::new(),
        };
        let out_dir = run_dir.join(OUTPUTS).join(&model_id);
        let bytes = Self::yaml_bytes(&out_dir.join(META), &edge)?;
        Self::publish_new_dir(&w, &out_dir, &[(PathBuf::from(META), bytes)])?;
        Ok(Self::logged_model(&meta))
    }

    fn finalize_logged_model(
        &self,
        model_id: &str,
        status: LoggedModelStatus,
    ) -> Result<LoggedModel> {
        let w = self.writer()?;
        let (dir, mut meta) = self.find_logged_model(model_id)?;
        meta.status = status.code();
        meta.last_updated_timestamp = now_ms();
        Self::write_yaml(&w, &dir.join(META), &meta)?;
        Ok(Self::logged_model(&meta))
    }
}

/// 32 hex digits of SHA-256 over the parts: a stable folder name.
fn short_hash(parts: &[&str]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
    }
    hex::encode(&h.finalize()[..16])
}
