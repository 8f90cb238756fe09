//! [`ActiveRun`]: the handle a training job logs through (MLflow's `ActiveRun`).

use std::collections::BTreeMap;
use std::fmt::Display;
use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};
use crate::logged::DatasetInput;
use crate::store::{CreateRun, Metric, Param, RunInfo, RunStatus, Store, Tag, UpdateRun, now_ms};
use crate::tracking::SystemTags;
use crate::validate;

/// The tag MLflow links a nested run to its parent with.
pub const PARENT_RUN_TAG: &str = "mlflow.parentRunId";

/// A run being logged to. Created by [`Tracker::start_run`](crate::Tracker::start_run) or
/// [`ActiveRun::start_child`].
///
/// End it with [`finish`](ActiveRun::finish) (FINISHED) or [`end`](ActiveRun::end). A run
/// dropped without being ended is marked FAILED — or KILLED when the drop happens during a
/// panic — so a crashed job never leaves a run RUNNING for ever.
pub struct ActiveRun {
    store: Arc<dyn Store>,
    info: RunInfo,
    system: SystemTags,
    params: Mutex<BTreeMap<String, String>>,
    ended: bool,
}

impl std::fmt::Debug for ActiveRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActiveRun")
            .field("run_id", &self.info.run_id)
            .field("run_name", &self.info.run_name)
            .field("experiment_id", &self.info.experiment_id)
            .finish_non_exhaustive()
    }
}

impl ActiveRun {
    pub(crate) fn create(
        store: Arc<dyn Store>,
        experiment_id: &str,
        run_name: Option<&str>,
        system: SystemTags,
        extra_tags: Vec<Tag>,
    ) -> Result<Self> {
        let mut tags = system.tags();
        tags.extend(extra_tags);
        let info = store.create_run(&CreateRun {
            experiment_id: experiment_id.to_string(),
            run_name: run_name.map(str::to_string),
            start_time: now_ms(),
            user_id: system.user.clone(),
            tags,
        })?;
        Ok(ActiveRun {
            store,
            info,
            system,
            params: Mutex::new(BTreeMap::new()),
            ended: false,
        })
    }

    /// The run id (32 hex characters in the local store).
    pub fn id(&self) -> &str {
        &self.info.run_id
    }

    /// The run's info as it was at creation.
    pub fn info(&self) -> &RunInfo {
        &self.info
    }

    /// The store the run logs to.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Logs a param. Logging the same value again is fine; a different value is
    /// [`Error::ParamChanged`], because params are immutable inputs (as in MLflow).
    pub fn log_param(&self, key: &str, value: impl Display) -> Result<()> {
        self.log_params([(key.to_string(), value.to_string())])
    }

    /// Logs several params in one batch; nothing is written if any would change a value.
    pub fn log_params<K, V>(&self, params: impl IntoIterator<Item = (K, V)>) -> Result<()>
    where
        K: Into<String>,
        V: Into<String>,
    {
        let params: Vec<Param> = params.into_iter().map(|(k, v)| Param::new(k, v)).collect();
        {
            let known = self.params.lock().map_err(|_| poisoned(&self.info))?;
            for p in &params {
                if let Some(old) = known.get(&p.key)
                    && *old != p.value
                {
                    return Err(Error::ParamChanged {
                        run_id: self.info.run_id.clone(),
                        key: p.key.clone(),
                        old: old.clone(),
                        new: p.value.clone(),
                    });
                }
            }
        }
        self.store.log_batch(&self.info.run_id, &[], &params, &[])?;
        let mut known = self.params.lock().map_err(|_| poisoned(&self.info))?;
        for p in params {
            known.insert(p.key, p.value);
        }
        Ok(())
    }

    /// Logs a metric at step 0, timestamped now. NaN and ±infinity are kept as they are.
    pub fn log_metric(&self, key: &str, value: f64) -> Result<()> {
        self.log_metric_at(key, value, 0)
    }

    /// Logs a metric at a training `step`, timestamped now.
    pub fn log_metric_at(&self, key: &str, value: f64, step: i64) -> Result<()> {
        self.log_metrics_full(&[Metric {
            key: key.to_string(),
            value,
            timestamp_ms: now_ms(),
            step,
        }])
    }

    /// Logs several metrics at step 0 in one batch.
    pub fn log_metrics<K: Into<String>>(
        &self,
        metrics: impl IntoIterator<Item = (K, f64)>,
    ) -> Result<()> {
        let now = now_ms();
        let ms: Vec<Metric> = metrics
            .into_iter()
            .map(|(k, v)| Metric {
                key: k.into(),
                value: v,
                timestamp_ms: now,
                step: 0,
            })
            .collect();
        self.log_metrics_full(&ms)
    }

    /// Logs metrics with explicit timestamps and steps.
    pub fn log_metrics_full(&self, metrics: &[Metric]) -> Result<()> {
        self.store.log_batch(&self.info.run_id, metrics, &[], &[])
    }

    /// Sets (or overwrites) a tag.
    pub fn set_tag(&self, key: &str, value: impl Display) -> Result<()> {
        self.store.log_batch(
            &self.info.run_id,
            &[],
            &[],
            &[Tag::new(key, value.to_string())],
        )
    }

    /// Records a dataset this run read (MLflow's `mlflow.log_input`): the run page's
    /// "Datasets" shows its name, digest, source and schema. A store without dataset records
    /// answers [`Error::Unsupported`](crate::Error::Unsupported).
    pub fn log_input(&self, dataset: &DatasetInput) -> Result<()> {
        self.store
            .log_inputs(&self.info.run_id, std::slice::from_ref(dataset))
    }

    /// Writes `bytes` as the artifact `path` (relative, `/`-separated) of this run.
    pub fn log_bytes(&self, path: &str, bytes: &[u8]) -> Result<()> {
        self.store.log_artifact(&self.info.run_id, path, bytes)
    }

    /// Uploads a local file into the artifact folder `artifact_dir` (the root when `None`),
    /// under its own file name, as `mlflow.log_artifact`. Returns the artifact path.
    pub fn log_artifact(&self, local_file: &Path, artifact_dir: Option<&str>) -> Result<String> {
        let name = local_file
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| Error::InvalidArtifactPath {
                path: local_file.display().to_string(),
                reason: "the file name is missing or not UTF-8",
            })?;
        let bytes = std::fs::read(local_file).map_err(|e| Error::io(local_file, e))?;
        let path = join_artifact(artifact_dir, name);
        validate::artifact_path(&path)?;
        self.log_bytes(&path, &bytes)?;
        Ok(path)
    }

    /// Uploads every file below `local_dir` (recursively) into `artifact_dir`, keeping the
    /// folder structure, as `mlflow.log_artifacts`. Returns the artifact paths, sorted.
    pub fn log_artifacts(
        &self,
        local_dir: &Path,
        artifact_dir: Option<&str>,
    ) -> Result<Vec<String>> {
        if !local_dir.is_dir() {
            return Err(Error::io(
                local_dir,
                std::io::Error::new(std::io::ErrorKind::NotFound, "not a directory"),
            ));
        }
        let mut files = Vec::new();
        collect_files(local_dir, "", &mut files)?;
        files.sort();
        let mut out = Vec::new();
        for (rel, path) in files {
            let target = join_artifact(artifact_dir, &rel);
            validate::artifact_path(&target)?;
            let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
            self.log_bytes(&target, &bytes)?;
            out.push(target);
        }
        Ok(out)
    }

    /// Starts a nested run in the same experiment, linked by the `mlflow.parentRunId` tag (the
    /// MLflow UI shows it under this run).
    pub fn start_child(&self, run_name: &str) -> Result<ActiveRun> {
        ActiveRun::create(
            self.store.clone(),
            &self.info.experiment_id,
            Some(run_name),
            self.system.clone(),
            vec![Tag::new(PARENT_RUN_TAG, self.info.run_id.clone())],
        )
    }

    /// Ends the run as FINISHED.
    pub fn finish(self) -> Result<RunInfo> {
        self.end(RunStatus::Finished)
    }

    /// Ends the run with `status` (FINISHED, FAILED or KILLED).
    pub fn end(mut self, status: RunStatus) -> Result<RunInfo> {
        if !status.is_terminated() {
            return Err(Error::InvalidValue {
                field: "end status",
                value: status.as_str().to_string(),
                expected: "FINISHED, FAILED or KILLED",
            });
        }
        let info = self.store.update_run(
            &self.info.run_id,
            &UpdateRun {
                status: Some(status),
                end_time: Some(now_ms()),
                run_name: None,
            },
        )?;
        // Only now: if the update failed, the destructor still marks the run FAILED.
        self.ended = true;
        Ok(info)
    }
}

impl Drop for ActiveRun {
    fn drop(&mut self) {
        if self.ended {
            return;
        }
        let status = if std::thread::panicking() {
            RunStatus::Killed
        } else {
            RunStatus::Failed
        };
        let result = self.store.update_run(
            &self.info.run_id,
            &UpdateRun {
                status: Some(status),
                end_time: Some(now_ms()),
                run_name: None,
            },
        );
        if let Err(e) = result {
            // Nothing else can be done in a destructor; say so rather than stay silent.
            eprintln!(
                "obesity-registry: could not mark run {} as {status}: {e}",
                self.info.run_id
            );
        }
    }
}

fn poisoned(info: &RunInfo) -> Error {
    Error::InvalidState {
        what: format!("run {}", info.run_id),
        reason: "a thread panicked while logging params".into(),
    }
}

fn join_artifact(dir: Option<&str>, name: &str) -> String {
    match dir.map(|d| d.trim_end_matches('/')) {
        Some(d) if !d.is_empty() => format!("{d}/{name}"),
        _ => name.to_string(),
    }
}

fn collect_files(
    dir: &Path,
    prefix: &str,
    out: &mut Vec<(String, std::path::PathBuf)>,
) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_str().ok_or_else(|| Error::InvalidArtifactPath {
            path: path.display().to_string(),
            reason: "file name is not UTF-8",
        })?;
        let rel = if prefix.is_empty() {
            name.to_string()
        } else {
            format!("{prefix}/{name}")
        };
        let ft = entry.file_type().map_err(|e| Error::io(&path, e))?;
        if ft.is_dir() {
            collect_files(&path, &rel, out)?;
        } else {
            out.push((rel, path));
        }
    }
    Ok(())
}
