//! The crate's one error enum.

use std::path::PathBuf;

/// Everything that can go wrong in tracking, the registry or a store.
///
/// Variants carry the offending value so that a message alone says what to fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An experiment, run, model, version, alias, tag or artifact does not exist.
    #[error("{what} not found: {name}")]
    NotFound {
        /// The kind of object (`experiment`, `run`, `registered model` ...).
        what: &'static str,
        /// Its name or id.
        name: String,
    },

    /// An object with this name already exists.
    #[error("{what} already exists: {name}")]
    AlreadyExists {
        /// The kind of object.
        what: &'static str,
        /// Its name.
        name: String,
    },

    /// A name (experiment, model, alias, key) is not allowed, e.g. empty, with a path
    /// separator or `..`.
    #[error("invalid {what} name {value:?}: {reason}")]
    InvalidName {
        /// What the name is for.
        what: &'static str,
        /// The rejected name.
        value: String,
        /// Why it was rejected.
        reason: &'static str,
    },

    /// An artifact path would escape the run's artifact folder or is malformed.
    #[error("invalid artifact path {path:?}: {reason}")]
    InvalidArtifactPath {
        /// The rejected path.
        path: String,
        /// Why it was rejected.
        reason: &'static str,
    },

    /// A param was re-logged with a different value (MLflow forbids changing params).
    #[error(
        "param {key:?} of run {run_id} is already {old:?}; cannot change it to {new:?} (params are immutable)"
    )]
    ParamChanged {
        /// The run.
        run_id: String,
        /// The param key.
        key: String,
        /// The value already logged.
        old: String,
        /// The rejected new value.
        new: String,
    },

    /// A value could not be parsed or is out of its domain.
    #[error("invalid {field} {value:?}: expected {expected}")]
    InvalidValue {
        /// Which field.
        field: &'static str,
        /// The rejected value.
        value: String,
        /// What was expected.
        expected: &'static str,
    },

    /// A run-search filter or order-by clause could not be parsed.
    #[error("invalid {what} at position {position} near {token:?}: {message}")]
    Filter {
        /// `filter` or `order_by`.
        what: &'static str,
        /// Byte offset in the expression (0-based).
        position: usize,
        /// The token found there (empty at the end of input).
        token: String,
        /// What was expected.
        message: String,
    },

    /// An operation is not allowed in the current state (e.g. logging to a finished run).
    #[error("invalid state for {what}: {reason}")]
    InvalidState {
        /// The object (e.g. `run 0123...`).
        what: String,
        /// What is wrong.
        reason: String,
    },

    /// A model URI (`models:/name/3`, `models:/name@champion`, `name@alias`) is malformed.
    #[error("invalid model uri {uri:?}: {reason}")]
    InvalidModelUri {
        /// The rejected URI.
        uri: String,
        /// What is wrong.
        reason: &'static str,
    },

    /// A request does not match a model's signature.
    #[error("signature mismatch on field {field:?}: {reason}")]
    Signature {
        /// The offending field (column or class).
        field: String,
        /// What is wrong.
        reason: String,
    },

    /// A file in the store could not be read or written.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },

    /// A file in the store exists but its contents are not what MLflow writes.
    #[error("corrupt store file {path}: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },

    /// JSON (a signature, a pipeline, a report) could not be (de)serialised.
    #[error("JSON error in {what}: {source}")]
    Json {
        /// What was being read or written.
        what: String,
        /// The serde error.
        #[source]
        source: serde_json::Error,
    },

    /// The model bytes could not be loaded into a classifier.
    #[error("cannot load model {name} version {version}: {source}")]
    Model {
        /// The registered model.
        name: String,
        /// The version.
        version: u64,
        /// The model layer's error.
        #[source]
        source: obesity_forest::ModelError,
    },

    /// The default classifier loader does not know the model's format: the version holds
    /// another crate's model.
    #[error(
        "cannot load model {name} version {version}: {source}; this registry reads the \
         formats of obesity-forest only: for a model of your own, register its loader with \
         `Registry::with_loader`"
    )]
    UnknownModelFormat {
        /// The registered model.
        name: String,
        /// The version.
        version: u64,
        /// The model layer's error.
        #[source]
        source: obesity_forest::ModelError,
    },

    /// The version holds a feature pipeline of a kind no loader was registered for.
    #[error(
        "model {name} version {version} holds a feature pipeline of kind `{kind}`, and this \
         registry has no loader for it (it knows: {known}); register one with \
         `Registry::with_pipeline_loader(\"{kind}\", loader)`"
    )]
    NoPipelineLoader {
        /// The registered model.
        name: String,
        /// The version.
        version: u64,
        /// The pipeline kind the version recorded.
        kind: String,
        /// The kinds this registry can load.
        known: String,
    },

    /// The loader registered for a pipeline kind failed on the stored bytes.
    #[error(
        "cannot load the feature pipeline of model {name} version {version} (kind `{kind}`): {source}"
    )]
    CustomPipeline {
        /// The registered model.
        name: String,
        /// The version.
        version: u64,
        /// The pipeline kind.
        kind: String,
        /// The loader's error.
        #[source]
        source: crate::pipeline_loader::PipelineLoadError,
    },

    /// The registered feature pipeline could not be read back.
    #[error("cannot load the feature pipeline of model {name} version {version}: {source}")]
    Pipeline {
        /// The registered model.
        name: String,
        /// The version.
        version: u64,
        /// The feature layer's error.
        #[source]
        source: obesity_features::FeatureError,
    },

    /// The tracking URI names a store this build cannot open.
    #[error("unsupported tracking uri {uri:?}: {reason}")]
    UnsupportedUri {
        /// The URI.
        uri: String,
        /// Why.
        reason: String,
    },

    /// The MLflow server rejected a request as malformed (`INVALID_PARAMETER_VALUE`,
    /// `BAD_REQUEST`, `INVALID_STATE`): sending it again would not help.
    #[error("MLflow server rejected {url} ({error_code}): {message}")]
    InvalidParameter {
        /// The method and URL of the request.
        url: String,
        /// MLflow's `error_code`.
        error_code: String,
        /// MLflow's `message`.
        message: String,
    },

    /// The MLflow server answered with an error that has no more specific variant (an
    /// authentication failure, an internal error after every retry ...).
    #[error("MLflow server error {status} {error_code} on {url}: {message}")]
    Server {
        /// The method and URL of the request.
        url: String,
        /// The HTTP status.
        status: u16,
        /// MLflow's `error_code`, or `HTTP_<status>` when the body had none.
        error_code: String,
        /// MLflow's `message`, or the start of the body.
        message: String,
    },

    /// The MLflow server could not be reached (connection refused, reset, timed out), after
    /// every attempt the retry policy allowed.
    #[error("cannot reach MLflow server at {url} after {attempts} attempt(s): {source}")]
    Unreachable {
        /// The URL of the request.
        url: String,
        /// How many attempts were made.
        attempts: u32,
        /// The last transport error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// A call to an MLflow server was stopped by one of the client's limits: the time limit
    /// per call, the per-request timeout, the response size limit or the page limit. Each is
    /// set on [`MlflowStoreBuilder`](crate::MlflowStoreBuilder) by the method named in
    /// `setter`.
    #[error(
        "MLflow call {url} stopped by the {limit} of {value}{detail}; change it with \
         MlflowStoreBuilder::{setter}"
    )]
    LimitExceeded {
        /// The method and URL of the request that hit the limit.
        url: String,
        /// Which limit (`time limit per call`, `per-request timeout`, `response size limit`,
        /// `page limit`).
        limit: &'static str,
        /// The limit's configured value (`60s`, `64 MiB`, `1000 pages`).
        value: String,
        /// What happened, e.g. `, reached after 3 attempt(s) (last error: ...)`; may be empty.
        detail: String,
        /// The [`MlflowStoreBuilder`](crate::MlflowStoreBuilder) method that sets the limit.
        setter: &'static str,
    },

    /// The store does not keep this kind of record (e.g. MLflow 3 logged models on a store
    /// that has no place for them). Callers that can do without it skip it.
    #[error("{store} does not support {operation}")]
    Unsupported {
        /// What was asked for.
        operation: &'static str,
        /// Which store (its URI).
        store: String,
    },

    /// The MLflow server's answer is not shaped as its REST API documents.
    #[error("unexpected answer from MLflow server on {url}: {reason}")]
    Protocol {
        /// The method and URL of the request.
        url: String,
        /// What was wrong with the answer.
        reason: String,
    },
}

impl Error {
    /// Whether this is a [`Error::NotFound`], which callers often handle (create on first use).
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::NotFound { .. })
    }

    /// Whether this is a [`Error::Unsupported`].
    pub fn is_unsupported(&self) -> bool {
        matches!(self, Error::Unsupported { .. })
    }

    /// Whether this is a [`Error::AlreadyExists`].
    pub fn is_already_exists(&self) -> bool {
        matches!(self, Error::AlreadyExists { .. })
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn not_found(what: &'static str, name: impl Into<String>) -> Self {
        Error::NotFound {
            what,
            name: name.into(),
        }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
