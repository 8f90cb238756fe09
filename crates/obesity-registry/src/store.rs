//! The storage boundary: one object-safe [`Store`] trait that mirrors MLflow's REST API, and
//! the plain data types it passes.
//!
//! Both the embedded [`LocalStore`](crate::LocalStore) (MLflow's file-store layout) and the
//! MLflow tracking-server client implement it, so [`Tracker`](crate::Tracker) and
//! [`Registry`](crate::Registry) never know where their data lives. The operations and field
//! names follow MLflow (`create_run`, `log_batch`, `transition_model_version_stage` ...) so
//! that a reader who knows `MlflowClient` recognises every call.
//!
//! Conventions shared by every implementation:
//! - timestamps are milliseconds since the Unix epoch (`i64`), as in MLflow;
//! - ids are strings (experiment ids are decimal strings, run ids 32 hex characters);
//! - model version numbers are `u64`, starting at 1, gap-free per registered model;
//! - a missing object is [`Error::NotFound`](crate::Error::NotFound), a duplicate is
//!   [`Error::AlreadyExists`](crate::Error::AlreadyExists).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::logged::{CreateLoggedModel, DatasetInput, LoggedModel, LoggedModelStatus};

/// Which experiments or runs a listing returns, by lifecycle stage (MLflow's `ViewType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum ViewType {
    /// Only objects whose lifecycle stage is `active` (MLflow's default).
    #[default]
    ActiveOnly,
    /// Only soft-deleted objects.
    DeletedOnly,
    /// Both.
    All,
}

impl ViewType {
    /// Whether an object in `stage` is part of this view.
    pub fn includes(self, stage: LifecycleStage) -> bool {
        match self {
            ViewType::ActiveOnly => stage == LifecycleStage::Active,
            ViewType::DeletedOnly => stage == LifecycleStage::Deleted,
            ViewType::All => true,
        }
    }

    /// MLflow's REST spelling (`ACTIVE_ONLY`, `DELETED_ONLY`, `ALL`).
    pub fn as_str(self) -> &'static str {
        match self {
            ViewType::ActiveOnly => "ACTIVE_ONLY",
            ViewType::DeletedOnly => "DELETED_ONLY",
            ViewType::All => "ALL",
        }
    }
}

/// Whether an experiment or run is live or soft-deleted (MLflow's `lifecycle_stage`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LifecycleStage {
    /// Live (the spelling in MLflow files is `active`).
    #[default]
    Active,
    /// Soft-deleted (`deleted`).
    Deleted,
}

impl LifecycleStage {
    /// MLflow's spelling: `active` or `deleted`.
    pub fn as_str(self) -> &'static str {
        match self {
            LifecycleStage::Active => "active",
            LifecycleStage::Deleted => "deleted",
        }
    }
}

impl FromStr for LifecycleStage {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "active" => Ok(LifecycleStage::Active),
            "deleted" => Ok(LifecycleStage::Deleted),
            other => Err(Error::InvalidValue {
                field: "lifecycle_stage",
                value: other.to_string(),
                expected: "active or deleted",
            }),
        }
    }
}

/// An experiment: a named group of runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Experiment {
    /// The id, a decimal string (`"0"` is MLflow's `Default` experiment).
    pub experiment_id: String,
    /// The unique name.
    pub name: String,
    /// Where the runs' artifacts go by default (a `file://` URI or a server URI).
    pub artifact_location: String,
    /// Live or soft-deleted.
    pub lifecycle_stage: LifecycleStage,
    /// Creation time, ms since the epoch (absent in very old MLflow stores).
    pub creation_time: Option<i64>,
    /// Last update time, ms since the epoch.
    pub last_update_time: Option<i64>,
    /// Experiment tags.
    pub tags: BTreeMap<String, String>,
}

/// The status of a run, with MLflow's integer codes (used in the file store's `meta.yaml`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum RunStatus {
    /// Still being logged to (code 1).
    Running,
    /// Created but not started (code 2).
    Scheduled,
    /// Ended normally (code 3).
    Finished,
    /// Ended with an error (code 4).
    Failed,
    /// Ended by an interruption such as a panic (code 5).
    Killed,
}

impl RunStatus {
    /// Every status, in code order.
    pub const ALL: [RunStatus; 5] = [
        RunStatus::Running,
        RunStatus::Scheduled,
        RunStatus::Finished,
        RunStatus::Failed,
        RunStatus::Killed,
    ];

    /// MLflow's integer code (RUNNING=1, SCHEDULED=2, FINISHED=3, FAILED=4, KILLED=5).
    pub fn code(self) -> i64 {
        match self {
            RunStatus::Running => 1,
            RunStatus::Scheduled => 2,
            RunStatus::Finished => 3,
            RunStatus::Failed => 4,
            RunStatus::Killed => 5,
        }
    }

    /// The status for an MLflow integer code, or `None` for an unknown code.
    pub fn from_code(code: i64) -> Option<Self> {
        RunStatus::ALL.into_iter().find(|s| s.code() == code)
    }

    /// MLflow's name: `RUNNING`, `SCHEDULED`, `FINISHED`, `FAILED`, `KILLED`.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "RUNNING",
            RunStatus::Scheduled => "SCHEDULED",
            RunStatus::Finished => "FINISHED",
            RunStatus::Failed => "FAILED",
            RunStatus::Killed => "KILLED",
        }
    }

    /// Whether the run has ended (FINISHED, FAILED or KILLED).
    pub fn is_terminated(self) -> bool {
        matches!(
            self,
            RunStatus::Finished | RunStatus::Failed | RunStatus::Killed
        )
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RunStatus {
    type Err = Error;
    /// Parses a name, case-insensitively (`finished`, `FINISHED`).
    fn from_str(s: &str) -> Result<Self> {
        RunStatus::ALL
            .into_iter()
            .find(|st| st.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| Error::InvalidValue {
                field: "run status",
                value: s.to_string(),
                expected: "RUNNING, SCHEDULED, FINISHED, FAILED or KILLED",
            })
    }
}

/// One metric measurement. NaN and ±infinity are legal values and are kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    /// The metric name, e.g. `accuracy`.
    pub key: String,
    /// The value (may be NaN or infinite).
    pub value: f64,
    /// When it was measured, ms since the epoch.
    pub timestamp_ms: i64,
    /// The training step (0 when there is none).
    pub step: i64,
}

impl Metric {
    /// A metric at `step` 0 measured now.
    pub fn now(key: impl Into<String>, value: f64) -> Self {
        Metric {
            key: key.into(),
            value,
            timestamp_ms: now_ms(),
            step: 0,
        }
    }
}

/// A hyper-parameter or other input of a run; immutable once logged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Param {
    /// The name.
    pub key: String,
    /// The value, always a string as in MLflow.
    pub value: String,
}

impl Param {
    /// Builds a param from anything string-like.
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        Param {
            key: key.into(),
            value: value.into(),
        }
    }
}

/// A mutable key/value label on a run, experiment, model or version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    /// The name (`mlflow.*` names are MLflow's system tags).
    pub key: String,
    /// The value.
    pub value: String,
}

impl Tag {
    /// Builds a tag from anything string-like.
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        Tag {
            key: key.into(),
            value: value.into(),
        }
    }
}

/// A run's identity and lifecycle (MLflow's `RunInfo`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// 32 lowercase hex characters.
    pub run_id: String,
    /// The experiment the run belongs to.
    pub experiment_id: String,
    /// The display name (MLflow also keeps it in the `mlflow.runName` tag).
    pub run_name: String,
    /// Who ran it.
    pub user_id: String,
    /// Where it is in its lifecycle.
    pub status: RunStatus,
    /// Start time, ms since the epoch.
    pub start_time: Option<i64>,
    /// End time, ms since the epoch; `None` while running.
    pub end_time: Option<i64>,
    /// Root URI of the run's artifacts.
    pub artifact_uri: String,
    /// Live or soft-deleted.
    pub lifecycle_stage: LifecycleStage,
}

/// What a run logged: latest metric values, params and tags (MLflow's `RunData`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RunData {
    /// The latest value of each metric (highest step, then latest timestamp), by key.
    pub metrics: BTreeMap<String, Metric>,
    /// Params by key.
    pub params: BTreeMap<String, String>,
    /// Tags by key (including `mlflow.*` system tags).
    pub tags: BTreeMap<String, String>,
}

/// A run: info plus data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    /// Identity and lifecycle.
    pub info: RunInfo,
    /// Logged values.
    pub data: RunData,
}

impl Run {
    /// The latest value of metric `key`, if logged.
    pub fn metric(&self, key: &str) -> Option<f64> {
        self.data.metrics.get(key).map(|m| m.value)
    }

    /// The value of param `key`, if logged.
    pub fn param(&self, key: &str) -> Option<&str> {
        self.data.params.get(key).map(String::as_str)
    }

    /// The value of tag `key`, if set.
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.data.tags.get(key).map(String::as_str)
    }
}

/// Arguments of [`Store::create_run`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CreateRun {
    /// The experiment to create the run in.
    pub experiment_id: String,
    /// The display name; the store picks one when `None`.
    pub run_name: Option<String>,
    /// Start time, ms since the epoch.
    pub start_time: i64,
    /// Who runs it.
    pub user_id: String,
    /// Tags set at creation (e.g. `mlflow.parentRunId`, `mlflow.source.name`).
    pub tags: Vec<Tag>,
}

/// Arguments of [`Store::update_run`]; `None` fields are left unchanged.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UpdateRun {
    /// The new status.
    pub status: Option<RunStatus>,
    /// The end time, ms since the epoch.
    pub end_time: Option<i64>,
    /// The new display name (also updates the `mlflow.runName` tag).
    pub run_name: Option<String>,
}

/// Arguments of [`Store::search_runs`].
#[derive(Debug, Clone, PartialEq)]
pub struct SearchRuns {
    /// Experiments to search in.
    pub experiment_ids: Vec<String>,
    /// A filter in MLflow's syntax (see the crate docs).
    pub filter: Option<String>,
    /// Order clauses such as `metrics.accuracy DESC` or `attributes.start_time`.
    pub order_by: Vec<String>,
    /// At most this many runs are returned.
    pub max_results: usize,
    /// Active, deleted or all runs.
    pub view_type: ViewType,
}

impl Default for SearchRuns {
    /// No filter, no order (newest first), at most 1000 runs, active only.
    fn default() -> Self {
        SearchRuns {
            experiment_ids: Vec::new(),
            filter: None,
            order_by: Vec::new(),
            max_results: 1000,
            view_type: ViewType::ActiveOnly,
        }
    }
}

/// One entry of an artifact listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileInfo {
    /// Path relative to the run's artifact root, `/`-separated.
    pub path: String,
    /// Whether it is a directory.
    pub is_dir: bool,
    /// Size in bytes (files only).
    pub file_size: Option<u64>,
}

/// A model version's stage (MLflow's classic, now deprecated-but-supported stages).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Stage {
    /// Not in any stage (MLflow spells it `None`).
    #[default]
    None,
    /// Candidate under evaluation.
    Staging,
    /// Serving traffic.
    Production,
    /// Retired.
    Archived,
}

impl Stage {
    /// Every stage.
    pub const ALL: [Stage; 4] = [
        Stage::None,
        Stage::Staging,
        Stage::Production,
        Stage::Archived,
    ];

    /// MLflow's spelling: `None`, `Staging`, `Production`, `Archived`.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::None => "None",
            Stage::Staging => "Staging",
            Stage::Production => "Production",
            Stage::Archived => "Archived",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Stage {
    type Err = Error;
    /// Parses a stage case-insensitively, as MLflow does (`production`, `Production`).
    fn from_str(s: &str) -> Result<Self> {
        Stage::ALL
            .into_iter()
            .find(|st| st.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| Error::InvalidValue {
                field: "stage",
                value: s.to_string(),
                expected: "None, Staging, Production or Archived",
            })
    }
}

/// Registration status of a model version (MLflow's `ModelVersionStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ModelVersionStatus {
    /// Being registered.
    PendingRegistration,
    /// Registration failed.
    FailedRegistration,
    /// Usable.
    #[default]
    Ready,
}

impl ModelVersionStatus {
    /// MLflow's spelling: `PENDING_REGISTRATION`, `FAILED_REGISTRATION`, `READY`.
    pub fn as_str(self) -> &'static str {
        match self {
            ModelVersionStatus::PendingRegistration => "PENDING_REGISTRATION",
            ModelVersionStatus::FailedRegistration => "FAILED_REGISTRATION",
            ModelVersionStatus::Ready => "READY",
        }
    }
}

impl FromStr for ModelVersionStatus {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "PENDING_REGISTRATION" => Ok(ModelVersionStatus::PendingRegistration),
            "FAILED_REGISTRATION" => Ok(ModelVersionStatus::FailedRegistration),
            "READY" => Ok(ModelVersionStatus::Ready),
            other => Err(Error::InvalidValue {
                field: "model version status",
                value: other.to_string(),
                expected: "PENDING_REGISTRATION, FAILED_REGISTRATION or READY",
            }),
        }
    }
}

/// A registered model: a name that groups versions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegisteredModel {
    /// The unique name.
    pub name: String,
    /// Creation time, ms since the epoch.
    pub creation_timestamp: i64,
    /// Last update time, ms since the epoch.
    pub last_updated_timestamp: i64,
    /// Free-text description.
    pub description: Option<String>,
    /// The latest version in each stage (as MLflow's `latest_versions`).
    pub latest_versions: Vec<ModelVersion>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// Aliases (`champion`, `challenger` ...) and the version each points to.
    pub aliases: BTreeMap<String, u64>,
}

/// One version of a registered model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelVersion {
    /// The registered model's name.
    pub name: String,
    /// 1, 2, 3 ... gap-free.
    pub version: u64,
    /// Creation time, ms since the epoch.
    pub creation_timestamp: i64,
    /// Last update time, ms since the epoch.
    pub last_updated_timestamp: i64,
    /// The stage.
    pub current_stage: Stage,
    /// Free-text description.
    pub description: Option<String>,
    /// Who registered it.
    pub user_id: Option<String>,
    /// Where the model's files came from (e.g. `runs:/<run_id>/model` or an artifact URI).
    pub source: String,
    /// The run that produced it, if any.
    pub run_id: Option<String>,
    /// A link to the run, if any.
    pub run_link: Option<String>,
    /// Registration status.
    pub status: ModelVersionStatus,
    /// A message explaining the status, if any.
    pub status_message: Option<String>,
    /// Tags (lineage lives here).
    pub tags: BTreeMap<String, String>,
    /// The aliases pointing at this version.
    pub aliases: Vec<String>,
    /// The MLflow 3 logged model it was registered from, if the store keeps logged models.
    #[serde(default)]
    pub model_id: Option<String>,
}

/// Arguments of [`Store::create_model_version`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CreateModelVersion {
    /// The registered model (must exist).
    pub name: String,
    /// Where the model's files are (e.g. `runs:/<run_id>/model`).
    pub source: String,
    /// The run that produced it.
    pub run_id: Option<String>,
    /// Tags to set at creation.
    pub tags: Vec<Tag>,
    /// A description.
    pub description: Option<String>,
    /// The MLflow 3 logged model the version is registered from (MLflow's `model_id`), if
    /// any.
    pub model_id: Option<String>,
}

/// Storage for tracking and the registry, shaped like MLflow's REST API.
///
/// Object-safe and `Send + Sync`, so it is shared as `Arc<dyn Store>` between a
/// [`Tracker`](crate::Tracker), a [`Registry`](crate::Registry) and threads. Every method is a
/// blocking call. Implementations: [`LocalStore`](crate::LocalStore) (MLflow's file-store
/// layout) and the MLflow tracking-server client.
pub trait Store: Send + Sync {
    /// A human-readable location of the store (a path or a URL), for messages.
    fn uri(&self) -> String;

    // ---- experiments ------------------------------------------------------------------

    /// Creates an experiment and returns its id. Fails with `AlreadyExists` if the name is
    /// taken. `artifact_location` defaults to a location inside the store.
    fn create_experiment(
        &self,
        name: &str,
        artifact_location: Option<&str>,
        tags: &[Tag],
    ) -> Result<String>;

    /// The experiment with this id.
    fn get_experiment(&self, experiment_id: &str) -> Result<Experiment>;

    /// The experiment with this name, or `Ok(None)` when there is none.
    fn get_experiment_by_name(&self, name: &str) -> Result<Option<Experiment>>;

    /// All experiments in `view`, ordered by id.
    fn search_experiments(&self, view: ViewType) -> Result<Vec<Experiment>>;

    /// Sets (or overwrites) an experiment tag.
    fn set_experiment_tag(&self, experiment_id: &str, key: &str, value: &str) -> Result<()>;

    // ---- runs ---------------------------------------------------------------------------

    /// Creates a run in status RUNNING.
    fn create_run(&self, args: &CreateRun) -> Result<RunInfo>;

    /// Updates status, end time and/or name; returns the new info.
    fn update_run(&self, run_id: &str, update: &UpdateRun) -> Result<RunInfo>;

    /// The run with its latest metrics, params and tags.
    fn get_run(&self, run_id: &str) -> Result<Run>;

    /// Logs metrics, params and tags in one call. Re-logging a param with a different value
    /// fails with [`Error::ParamChanged`](crate::Error::ParamChanged); the same value is fine.
    fn log_batch(
        &self,
        run_id: &str,
        metrics: &[Metric],
        params: &[Param],
        tags: &[Tag],
    ) -> Result<()>;

    /// Every logged value of one metric, in logging order.
    fn get_metric_history(&self, run_id: &str, key: &str) -> Result<Vec<Metric>>;

    /// Deletes a run tag; `NotFound` if it is not set.
    fn delete_tag(&self, run_id: &str, key: &str) -> Result<()>;

    /// Runs of the given experiments matching a filter, ordered, at most `max_results`.
    fn search_runs(&self, args: &SearchRuns) -> Result<Vec<Run>>;

    // ---- artifacts ----------------------------------------------------------------------

    /// Writes `bytes` at `path` (relative, `/`-separated) under the run's artifact root,
    /// replacing any file there.
    fn log_artifact(&self, run_id: &str, path: &str, bytes: &[u8]) -> Result<()>;

    /// Lists the direct children of `path` (the root when `None`) under the run's artifacts.
    fn list_artifacts(&self, run_id: &str, path: Option<&str>) -> Result<Vec<FileInfo>>;

    /// Reads the artifact file at `path`.
    fn download_artifact(&self, run_id: &str, path: &str) -> Result<Vec<u8>>;

    // ---- registered models ------------------------------------------------------------

    /// Creates a registered model; `AlreadyExists` if the name is taken.
    fn create_registered_model(
        &self,
        name: &str,
        tags: &[Tag],
        description: Option<&str>,
    ) -> Result<RegisteredModel>;

    /// The registered model with this name.
    fn get_registered_model(&self, name: &str) -> Result<RegisteredModel>;

    /// All registered models, ordered by name, at most `max_results`.
    fn search_registered_models(&self, max_results: usize) -> Result<Vec<RegisteredModel>>;

    /// Sets (or overwrites) a registered-model tag.
    fn set_registered_model_tag(&self, name: &str, key: &str, value: &str) -> Result<()>;

    /// Replaces the description.
    fn update_registered_model(&self, name: &str, description: &str) -> Result<RegisteredModel>;

    // ---- model versions ---------------------------------------------------------------

    /// Registers a new version (the next number, gap-free even under concurrent writers) in
    /// stage `None` and status `READY`.
    fn create_model_version(&self, args: &CreateModelVersion) -> Result<ModelVersion>;

    /// One version.
    fn get_model_version(&self, name: &str, version: u64) -> Result<ModelVersion>;

    /// All versions of a model, by ascending version number.
    fn search_model_versions(&self, name: &str) -> Result<Vec<ModelVersion>>;

    /// Moves a version to `stage`; with `archive_existing_versions`, every other version in
    /// that stage (Staging or Production only) moves to Archived.
    fn transition_model_version_stage(
        &self,
        name: &str,
        version: u64,
        stage: Stage,
        archive_existing_versions: bool,
    ) -> Result<ModelVersion>;

    /// Replaces a version's description.
    fn update_model_version(
        &self,
        name: &str,
        version: u64,
        description: &str,
    ) -> Result<ModelVersion>;

    /// Sets (or overwrites) a model-version tag.
    fn set_model_version_tag(&self, name: &str, version: u64, key: &str, value: &str)
    -> Result<()>;

    /// Deletes a model-version tag.
    fn delete_model_version_tag(&self, name: &str, version: u64, key: &str) -> Result<()>;

    // ---- aliases ------------------------------------------------------------------------

    /// Points `alias` at `version`, moving it if it pointed elsewhere.
    fn set_registered_model_alias(&self, name: &str, alias: &str, version: u64) -> Result<()>;

    /// Removes an alias; `NotFound` if it does not exist.
    fn delete_registered_model_alias(&self, name: &str, alias: &str) -> Result<()>;

    /// The version an alias points to.
    fn get_model_version_by_alias(&self, name: &str, alias: &str) -> Result<ModelVersion>;

    // ---- MLflow 3 lineage records (optional) --------------------------------------------

    /// Records datasets a run read (MLflow's `LogInputs`), shown as the run's "Datasets".
    /// Logging the same dataset (name and digest) for the same run again changes nothing.
    /// The default answers [`Error::Unsupported`].
    fn log_inputs(&self, run_id: &str, datasets: &[DatasetInput]) -> Result<()> {
        let _ = (run_id, datasets);
        Err(Error::Unsupported {
            operation: "dataset inputs (MLflow's LogInputs)",
            store: self.uri(),
        })
    }

    /// Creates an MLflow 3 logged model in status PENDING for files already in the run's
    /// artifact folder `args.artifact_path`, and records it as the run's output (the run
    /// page's "Logged models"). The default answers [`Error::Unsupported`].
    fn create_logged_model(&self, args: &CreateLoggedModel) -> Result<LoggedModel> {
        let _ = args;
        Err(Error::Unsupported {
            operation: "logged models (MLflow 3's CreateLoggedModel)",
            store: self.uri(),
        })
    }

    /// Sets a logged model's final status (MLflow's `FinalizeLoggedModel`). The default
    /// answers [`Error::Unsupported`].
    fn finalize_logged_model(
        &self,
        model_id: &str,
        status: LoggedModelStatus,
    ) -> Result<LoggedModel> {
        let _ = (model_id, status);
        Err(Error::Unsupported {
            operation: "logged models (MLflow 3's FinalizeLoggedModel)",
            store: self.uri(),
        })
    }
}

/// The current time in milliseconds since the Unix epoch, as MLflow stores it.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
