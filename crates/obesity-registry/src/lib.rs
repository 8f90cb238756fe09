//! # obesity-registry
//!
//! Experiment tracking and a model registry with MLflow's semantics, stored either in a local
//! folder that MLflow itself can read, or on an MLflow tracking server.
//!
//! ## Tracking
//!
//! A [`Tracker`] finds or creates experiments by name and starts runs in them. An
//! [`ActiveRun`] logs params (immutable: re-logging a different value is
//! [`Error::ParamChanged`]), metrics with steps and timestamps (NaN and ±inf are kept), tags
//! and artifacts (bytes, files, folders); [`ActiveRun::start_child`] makes a nested run
//! linked by MLflow's `mlflow.parentRunId` tag. A run dropped without
//! [`finish`](ActiveRun::finish) is marked FAILED (KILLED during a panic), never left
//! RUNNING. Runs are searched with a small MLflow-like [`Filter`] syntax
//! (`metrics.accuracy > 0.9 and params.max_depth = '10'`) and [`OrderBy`] clauses.
//!
//! ## Registry
//!
//! A [`Registry`] keeps registered models with gap-free versions 1, 2, 3 … Each version
//! ([`NewVersion`]) stores in its source run's artifacts the classifier bytes, the fitted
//! feature pipeline JSON, the [`Signature`] and its [`Lineage`] (data fingerprint, params,
//! metrics, application version, git commit — also copied to version tags), as a standard MLflow
//! Model directory ([`mlmodel`]): an `MLmodel` with our native flavor, MLflow's column
//! signature and, given an ONNX model ([`NewVersion::onnx`]), the `onnx` and
//! `python_function` flavors, so `mlflow.pyfunc.load_model`, `mlflow models serve` and
//! `spark_udf` run the version while Rust keeps loading its native bytes. Where the store
//! keeps them, MLflow 3's records go with it: a logged model for the version
//! ([`Store::create_logged_model`]) and the run's training data ([`ActiveRun::log_input`],
//! [`DatasetInput`]). Versions move between
//! [`Stage`]s (None, Staging, Production, Archived, with `archive_existing_versions`) and
//! carry aliases (`champion`, `challenger` …). [`ModelRef`] parses MLflow's references
//! (`models:/name/3`, `models:/name@champion`, `models:/name/Production`, `name@alias`) and
//! [`Registry::load`] returns a ready classifier with its fitted feature pipeline
//! ([`LoadedModel`]). [`Registry::compare`]
//! puts two versions side by side; [`PromotionPolicy`] promotes by thresholds but never
//! replaces a better champion.
//!
//! ## Storage
//!
//! Everything goes through the object-safe [`Store`] trait, shaped like MLflow's REST API.
//! [`LocalStore`] (the default, `./mlruns`) writes MLflow's file-store layout exactly, so
//! `MLFLOW_ALLOW_FILE_STORE=true mlflow ui --backend-store-uri ./mlruns` shows the runs and
//! versions. Every write is atomic and writers in several processes are serialised by a file
//! lock. [`open_store`] picks the store from a tracking URI (folder, `file://`, `http://`;
//! `https://` is refused with a message naming the workaround, as no TLS client is built in).
//!
//! The local layout, as MLflow's `FileStore` writes it:
//!
//! ```text
//! mlruns/
//!   .mlruns.lock                       cross-process writer lock (a file; MLflow ignores it)
//!   .mlruns-tmp.trash/                 staging folder for every write (MLflow skips `*.trash`)
//!   .trash/                            soft-deleted experiments
//!   0/meta.yaml                        the "Default" experiment
//!   <experiment_id>/meta.yaml          experiment_id, name, artifact_location, lifecycle_stage, times
//!   <experiment_id>/tags/<key>
//!   <experiment_id>/<run_id>/meta.yaml run_id, run_uuid, run_name, user_id, status (1..5), times,
//!                                      artifact_uri (file://...), lifecycle_stage
//!   <experiment_id>/<run_id>/params/<key>    value, no trailing newline
//!   <experiment_id>/<run_id>/tags/<key>      value, no trailing newline
//!   <experiment_id>/<run_id>/metrics/<key>   lines "<timestamp_ms> <value> <step>" (nan, inf, -inf)
//!   <experiment_id>/<run_id>/artifacts/...   model/: the version's MLflow Model directory
//!   <experiment_id>/<run_id>/inputs/<id>/meta.yaml, .../outputs/<model_id>/meta.yaml
//!   <experiment_id>/datasets/<id>/meta.yaml  datasets the runs read (MLflow 3)
//!   <experiment_id>/models/<model_id>/       MLflow 3 logged models (meta, params, metrics)
//!   models/<name>/meta.yaml            name, creation_timestamp, last_updated_timestamp, description
//!   models/<name>/tags/<key>, models/<name>/aliases/<alias>   (alias file holds the version number)
//!   models/<name>/version-<n>/meta.yaml, .../tags/<key>
//! ```
//!
//! Keys containing `/` become sub-folders, as in MLflow. Every file is written in the staging
//! folder and renamed into place; new experiment, run, model and version folders are built
//! there complete and renamed last. A writer killed mid-write leaves nothing where MLflow
//! reads, and [`LocalStore::open`] removes its staging leftovers (and the `.tmp-obesity*`
//! leftovers of earlier versions of this crate). Metric files are rewritten atomically on each
//! batch, which costs O(history) per batch: log long step series in batches.
//!
//! ## Example
//!
//! ```
//! use std::sync::Arc;
//! use obesity_registry::{LocalStore, PromotionPolicy, Registry, Store, Tracker};
//!
//! let dir = tempfile::tempdir()?;
//! let store: Arc<dyn Store> = Arc::new(LocalStore::open(dir.path().join("mlruns"))?);
//!
//! // Track a run.
//! let tracker = Tracker::new(store.clone());
//! let run = tracker.start_run("obesity", Some("rf-100"))?;
//! run.log_param("n_estimators", 100)?;
//! run.log_metric("accuracy", 0.93)?;
//! let run_id = run.id().to_string();
//! run.finish()?;
//!
//! let best = tracker.search_runs("obesity", "metrics.accuracy > 0.9", &["metrics.accuracy DESC"], 10)?;
//! assert_eq!(best[0].param("n_estimators"), Some("100"));
//!
//! // Register the model bytes and promote by policy.
//! let registry = Registry::new(store);
//! let v = registry.register(
//!     obesity_registry::NewVersion::new("obesity-rf", &run_id, b"model bytes".to_vec())
//!         .data_fingerprint("ab12"),
//! )?;
//! assert_eq!(v.version, 1);
//! let decision = registry.promote("obesity-rf", 1, &PromotionPolicy::default())?;
//! assert_eq!(decision.aliases, ["champion"]);
//! assert_eq!(registry.resolve_str("models:/obesity-rf@champion")?.version, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

/// Re-export of the ndarray version this crate's signatures use (the one linfa uses), so that an
/// application on another ndarray version names this one as `obesity_registry::ndarray`.
pub use obesity_forest::ndarray;

/// Re-export of the chrono version this crate's timestamps use, so that an application names
/// the same `DateTime` and `Duration` types as `obesity_registry::chrono`.
pub use chrono;

mod error;
mod lineage;
mod local;
mod logged;
#[cfg(feature = "mlflow")]
mod mlflow;
pub mod mlmodel;
mod model_uri;
mod open;
mod pipeline_loader;
mod promotion;
mod registry;
mod run;
mod search;
mod signature;
mod store;
mod tracking;
mod validate;

pub use error::{Error, Result};
pub use lineage::{CompareRow, Comparison, Lineage, git_commit};
pub use local::LocalStore;
pub use logged::{
    CreateLoggedModel, DATASET_CONTEXT_TAG, DatasetInput, LoggedModel, LoggedModelStatus,
    MAX_DATASET_DIGEST_LEN, MAX_DATASET_NAME_LEN,
};
#[cfg(feature = "mlflow")]
pub use mlflow::{MlflowStore, MlflowStoreBuilder, RetryPolicy};
pub use mlmodel::{
    ColSpec, ColumnType, InputExample, MLMODEL_FILE, MlflowSignature, NATIVE_FLAVOR, ONNX_FILE,
    OnnxArtifact, PythonEnv, TensorColumn,
};
pub use model_uri::ModelRef;
pub use open::{
    MLFLOW_TRACKING_URI_ENV, OBESITY_TRACKING_URI_ENV, open_store, tracking_uri_from_env,
};
pub use pipeline_loader::{
    CUSTOM_PIPELINE_FILE, CustomPipeline, DEFAULT_PIPELINE_KIND, PIPELINE_KIND_TAG,
    PipelineLoadError, PipelineLoader,
};
pub use promotion::{PromotionDecision, PromotionOutcome, PromotionPolicy};
pub use registry::{
    ARTIFACT_PATH_TAG, ClassifierLoader, LINEAGE_FILE, LoadedModel, MODEL_FILE, NewVersion,
    PIPELINE_FILE, Registry, SIGNATURE_FILE, StageTransition, default_classifier_loader,
};
pub use run::{ActiveRun, PARENT_RUN_TAG};
pub use search::{Comparator, Condition, Filter, OrderBy, RunAttribute, SearchKey, SearchValue};
pub use signature::{FieldType, InputField, SIGNATURE_FORMAT_VERSION, Signature};
pub use store::{
    CreateModelVersion, CreateRun, Experiment, FileInfo, LifecycleStage, Metric, ModelVersion,
    ModelVersionStatus, Param, RegisteredModel, Run, RunData, RunInfo, RunStatus, SearchRuns,
    Stage, Store, Tag, UpdateRun, ViewType, now_ms,
};
pub use tracking::{GIT_COMMIT_TAG, SOURCE_NAME_TAG, SOURCE_TYPE_TAG, Tracker, USER_TAG};
