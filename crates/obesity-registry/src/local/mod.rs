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
    StoreLock, create_dir_all, list_dirs, read_key_files, read_string_opt, sync_dir, write_atomic,
};
use self::layout::{
    ExperimentMeta, Layout, META, ModelMeta, RESERVED_EXPERIMENT_FOLDERS, RunMeta,
    STAGE_DELETED_INTERNAL, VersionMeta, file_uri_to_path, format_metric_value, join_key,
    path_to_file_uri,
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
/// Every file write is atomic (temp file, fsync, rename) and writers — threads or processes — are
/// serialised by an OS file lock on `<dir>/.obesity.lock`, so version numbers are unique and
/// gap-free and a killed process never leaves a half-written version. Reads take no lock.
#[derive(Debug, Clone)]
pub struct LocalStore {
    layout: Layout,
}

impl LocalStore {
    /// The default folder, `./mlruns`, as MLflow's.
    pub const DEFAULT_DIR: &'static str = "mlruns";

    /// Opens (creating if needed) a store in `root`, with MLflow's `Default` experiment `0`.
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
        if !default_meta.exists() || !trash.is_dir() || !models.is_dir() {
            let _lock = store.lock()?;
            create_dir_all(&trash)?;
            create_dir_all(&models)?;
            if !default_meta.exists() {
                let now = now_ms();
                store.write_experiment_meta(&ExperimentMeta {
                    artifact_location: path_to_file_uri(&store.layout.active_experiment("0")),
                    creation_time: Some(now),
                    experiment_id: "0".into(),
                    last_update_time: Some(now),
                    lifecycle_stage: "active".into(),
                    name: "Default".into(),
                })?;
            }
        }
        Ok(store)
    }

    /// The store's folder (absolute).
    pub fn root(&self) -> &Path {
        &self.layout.root
    }

    fn lock(&self) -> Result<StoreLock> {
        StoreLock::acquire(&self.layout.lock())
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

    fn write_yaml<T: serde::Serialize>(path: &Path, value: &T) -> Result<()> {
        let text = serde_yaml_ng::to_string(value).map_err(|e| Error::Corrupt {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        write_atomic(path, text.as_bytes())
    }

    fn write_experiment_meta(&self, meta: &ExperimentMeta) -> Result<()> {
        let dir = self.layout.active_experiment(&meta.experiment_id);
        Self::write_yaml(&dir.join(META), meta)
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

    fn run_info(meta: &RunMeta, tags: &BTreeMap<String, String>) -> Result<RunInfo> {
        let status = RunStatus::from_code(meta.status).ok_or_else(|| Error::InvalidValue {
            field: "run status code",
            value: meta.status.to_string(),
            expected: "1 to 5",
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
            lifecycle_stage: meta.lifecycle_stage.parse()?,
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
        let info = Self::run_info(meta, &tags)?;
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

    fn aliases(&self, name: &str) -> Result<BTreeMap<String, u64>> {
        let mut out = BTreeMap::new();
        for (alias, content) in read_key_files(&self.layout.model(name).join("aliases"))? {
            let v = content.trim().parse::<u64>().map_err(|_| Error::Corrupt {
                path: self.layout.alias(name, &alias),
                reason: format!("alias target {content:?} is not a version number"),
            })?;
            out.insert(alias, v);
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
        let tags = read_key_files(&dir.join("tags"))?.into_iter().collect();
        Ok(Some(ModelVersion {
            current_stage: meta.current_stage.parse()?,
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

    fn versions(&self, name: &str) -> Result<Vec<ModelVersion>> {
        self.model_meta(name)?;
        let aliases = self.aliases(name)?;
        let mut out = Vec::new();
        for v in self.version_numbers(name)? {
            if let Some(mv) = self.version_from_dir(&self.layout.version(name, v), &aliases)? {
                out.push(mv);
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

    fn write_version_meta(&self, meta: &VersionMeta) -> Result<()> {
        Self::write_yaml(
            &self.layout.version(&meta.name, meta.version).join(META),
            meta,
        )
    }

    fn touch_model(&self, name: &str, time: i64) -> Result<()> {
        let mut meta = self.model_meta(name)?;
        meta.last_updated_timestamp = time;
        Self::write_yaml(&self.layout.model(name).join(META), &meta)
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

fn write_value(path: &Path, value: &str) -> Result<()> {
    // MLflow writes params and tags with no trailing newline.
    write_atomic(path, value.as_bytes())
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
        let _lock = self.lock()?;
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
        // Tags first, meta last: the experiment becomes visible only once complete.
        for t in tags {
            write_value(&join_key(&dir.join("tags"), &t.key), &t.value)?;
        }
        self.write_experiment_meta(&ExperimentMeta {
            artifact_location,
            creation_time: Some(now),
            experiment_id: id.clone(),
            last_update_time: Some(now),
            lifecycle_stage: "active".into(),
            name: name.to_string(),
        })?;
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
        let _lock = self.lock()?;
        let (dir, stage) = self
            .experiment_dir(experiment_id)?
            .ok_or_else(|| Error::not_found("experiment", experiment_id))?;
        if stage != LifecycleStage::Active {
            return Err(Error::InvalidState {
                what: format!("experiment {experiment_id}"),
                reason: "the experiment is deleted".into(),
            });
        }
        write_value(&join_key(&dir.join("tags"), key), value)
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
        let _lock = self.lock()?;
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
        // Build the run folder under a temp name, then rename it into place: a run is either
        // fully there (meta, tags, empty params/metrics/artifacts) or absent.
        let tmp = fs::temp_path(&exp_dir);
        create_dir_all(&tmp)?;
        let build = (|| {
            for sub in ["metrics", "params", "artifacts", "tags"] {
                create_dir_all(&tmp.join(sub))?;
            }
            let mut tags = args.tags.clone();
            if !tags.iter().any(|t| t.key == RUN_NAME_TAG) {
                tags.push(Tag::new(RUN_NAME_TAG, run_name.clone()));
            }
            for t in &tags {
                write_value(&join_key(&tmp.join("tags"), &t.key), &t.value)?;
            }
            Self::write_yaml(&tmp.join(META), &meta)?;
            let dest = exp_dir.join(&run_id);
            stdfs::rename(&tmp, &dest).map_err(|e| Error::io(&dest, e))?;
            sync_dir(&exp_dir)
        })();
        if build.is_err() {
            let _ = stdfs::remove_dir_all(&tmp);
        }
        build?;
        let tags = BTreeMap::from([(RUN_NAME_TAG.to_string(), run_name)]);
        Self::run_info(&meta, &tags)
    }

    fn update_run(&self, run_id: &str, update: &UpdateRun) -> Result<RunInfo> {
        let _lock = self.lock()?;
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
            write_value(&dir.join("tags").join(RUN_NAME_TAG), n)?;
        }
        Self::write_yaml(&dir.join(META), &meta)?;
        let tags = read_key_files(&dir.join("tags"))?.into_iter().collect();
        Self::run_info(&meta, &tags)
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
        let _lock = self.lock()?;
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
        fs::write_atomic_many(&files)
    }

    fn get_metric_history(&self, run_id: &str, key: &str) -> Result<Vec<Metric>> {
        validate::key("metric", key)?;
        let (dir, _) = self.find_run(run_id)?;
        Self::read_metric_file(&join_key(&dir.join("metrics"), key), key)
    }

    fn delete_tag(&self, run_id: &str, key: &str) -> Result<()> {
        validate::key("tag", key)?;
        let _lock = self.lock()?;
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
        let _lock = self.lock()?;
        let (_, meta) = self.find_run(run_id)?;
        Self::check_active(&meta)?;
        let root = Self::artifact_dir(&meta)?;
        write_atomic(&join_key(&root, path), bytes)
    }

    fn list_artifacts(&self, run_id: &str, path: Option<&str>) -> Result<Vec<FileInfo>> {
        if let Some(p) = path {
            validate::artifact_path(p)?;
        }
        let (_, meta) = self.find_run(run_id)?;
        let root = Self::artifact_dir(&meta)?;
        let dir = match path {
            Some(p) => join_key(&root, p),
            None => root,
        };
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
            let md = entry.metadata().map_err(|e| Error::io(entry.path(), e))?;
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
        let file = join_key(&Self::artifact_dir(&meta)?, path);
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
        let _lock = self.lock()?;
        let dir = self.layout.model(name);
        if dir.join(META).is_file() {
            return Err(Error::AlreadyExists {
                what: "registered model",
                name: name.to_string(),
            });
        }
        let now = now_ms();
        for t in tags {
            write_value(&join_key(&dir.join("tags"), &t.key), &t.value)?;
        }
        Self::write_yaml(
            &dir.join(META),
            &ModelMeta {
                creation_timestamp: now,
                description: description.map(str::to_string),
                last_updated_timestamp: now,
                name: name.to_string(),
            },
        )?;
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
            out.push(self.registered_model(&name)?);
            if out.len() >= max_results {
                break;
            }
        }
        Ok(out)
    }

    fn set_registered_model_tag(&self, name: &str, key: &str, value: &str) -> Result<()> {
        validate::key("tag", key)?;
        let _lock = self.lock()?;
        self.model_meta(name)?;
        write_value(&join_key(&self.layout.model(name).join("tags"), key), value)?;
        self.touch_model(name, now_ms())
    }

    fn update_registered_model(&self, name: &str, description: &str) -> Result<RegisteredModel> {
        {
            let _lock = self.lock()?;
            let mut meta = self.model_meta(name)?;
            meta.description = Some(description.to_string());
            meta.last_updated_timestamp = now_ms();
            Self::write_yaml(&self.layout.model(name).join(META), &meta)?;
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
        let _lock = self.lock()?;
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
        // The whole version folder is built under a temp name (which MLflow ignores: it does
        // not start with `version-`) and renamed into place last.
        let model_dir = self.layout.model(&args.name);
        let tmp = fs::temp_path(&model_dir);
        create_dir_all(&tmp)?;
        let build = (|| {
            create_dir_all(&tmp.join("tags"))?;
            for t in &args.tags {
                write_value(&join_key(&tmp.join("tags"), &t.key), &t.value)?;
            }
            Self::write_yaml(&tmp.join(META), &meta)?;
            let dest = self.layout.version(&args.name, version);
            stdfs::rename(&tmp, &dest).map_err(|e| Error::io(&dest, e))?;
            sync_dir(&model_dir)
        })();
        if build.is_err() {
            let _ = stdfs::remove_dir_all(&tmp);
        }
        build?;
        self.touch_model(&args.name, now)?;
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
            let _lock = self.lock()?;
            let mut meta = self.read_version_meta(name, version)?;
            let now = now_ms();
            if archive_existing_versions {
                for v in self.version_numbers(name)? {
                    if v == version {
                        continue;
                    }
                    let path = self.layout.version(name, v).join(META);
                    if let Some(mut other) = Self::read_yaml::<VersionMeta>(&path)?
                        && other.current_stage.eq_ignore_ascii_case(stage.as_str())
                    {
                        other.current_stage = Stage::Archived.as_str().into();
                        other.last_updated_timestamp = now;
                        self.write_version_meta(&other)?;
                    }
                }
            }
            meta.current_stage = stage.as_str().into();
            meta.last_updated_timestamp = now;
            self.write_version_meta(&meta)?;
            self.touch_model(name, now)?;
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
            let _lock = self.lock()?;
            let mut meta = self.read_version_meta(name, version)?;
            meta.description = Some(description.to_string());
            meta.last_updated_timestamp = now_ms();
            self.write_version_meta(&meta)?;
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
        let _lock = self.lock()?;
        self.read_version_meta(name, version)?;
        write_value(
            &join_key(&self.layout.version(name, version).join("tags"), key),
            value,
        )?;
        self.touch_model(name, now_ms())
    }

    fn delete_model_version_tag(&self, name: &str, version: u64, key: &str) -> Result<()> {
        validate::key("tag", key)?;
        let _lock = self.lock()?;
        self.read_version_meta(name, version)?;
        let path = join_key(&self.layout.version(name, version).join("tags"), key);
        match stdfs::remove_file(&path) {
            Ok(()) => self.touch_model(name, now_ms()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::not_found(
                "model version tag",
                format!("{key} on {name} version {version}"),
            )),
            Err(e) => Err(Error::io(path, e)),
        }
    }

    fn set_registered_model_alias(&self, name: &str, alias: &str, version: u64) -> Result<()> {
        validate::alias(alias)?;
        let _lock = self.lock()?;
        self.read_version_meta(name, version)?;
        write_value(&self.layout.alias(name, alias), &version.to_string())?;
        self.touch_model(name, now_ms())
    }

    fn delete_registered_model_alias(&self, name: &str, alias: &str) -> Result<()> {
        validate::alias(alias)?;
        let _lock = self.lock()?;
        self.model_meta(name)?;
        let path = self.layout.alias(name, alias);
        match stdfs::remove_file(&path) {
            Ok(()) => self.touch_model(name, now_ms()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(Error::not_found("alias", format!("{name}@{alias}")))
            }
            Err(e) => Err(Error::io(path, e)),
        }
    }

    fn get_model_version_by_alias(&self, name: &str, alias: &str) -> Result<ModelVersion> {
        validate::alias(alias)?;
        let aliases = self.aliases(name)?;
        self.model_meta(name)?;
        let v = aliases
            .get(alias)
            .copied()
            .ok_or_else(|| Error::not_found("alias", format!("{name}@{alias}")))?;
        self.get_model_version(name, v)
    }
}
