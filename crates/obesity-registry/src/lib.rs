//! # obesity-registry
//!
//! Experiment tracking and a model registry (work in progress).
#![deny(missing_docs)]

mod error;
mod local;
mod mlflow;
mod search;
mod store;
mod validate;

pub use error::{Error, Result};
pub use local::LocalStore;
pub use mlflow::{MlflowStore, MlflowStoreBuilder, RetryPolicy};
pub use search::{Comparator, Condition, Filter, OrderBy, RunAttribute, SearchKey, SearchValue};
pub use store::{
    CreateModelVersion, CreateRun, Experiment, FileInfo, LifecycleStage, Metric, ModelVersion,
    ModelVersionStatus, Param, RegisteredModel, Run, RunData, RunInfo, RunStatus, SearchRuns,
    Stage, Store, Tag, UpdateRun, ViewType, now_ms,
};
