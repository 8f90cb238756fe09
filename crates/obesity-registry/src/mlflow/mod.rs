//! [`MlflowStore`]: the [`Store`] trait over an MLflow tracking server's REST API
//! (`/api/2.0/mlflow/...` and the artifact proxy `/api/2.0/mlflow-artifacts/...`).
//!
//! Every call is one or a few blocking HTTP requests; nothing is cached except each run's
//! artifact root, which never changes. Names, keys and artifact paths are validated on the
//! client with the same rules as the [`LocalStore`](crate::LocalStore), so a bad name is the
//! same [`Error::InvalidName`] whichever store is behind a [`Tracker`](crate::Tracker).

mod http;
mod query;
mod retry;
mod wire;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::logged::DatasetInput;
use crate::store::{
    CreateModelVersion, CreateRun, Experiment, FileInfo, Metric, ModelVersion, Param,
    RegisteredModel, Run, RunInfo, SearchRuns, Stage, Store, Tag, UpdateRun, ViewType,
};
use crate::validate;
use http::{Call, Limits, Method, Payload, Subject, Transport};
pub use retry::RetryPolicy;
use wire::KeyValue;

/// MLflow's limits on one `runs/log-batch` request.
const BATCH_MAX_METRICS: usize = 1000;
const BATCH_MAX_PARAMS: usize = 100;
const BATCH_MAX_TAGS: usize = 100;
/// Page sizes: the largest each search endpoint accepts.
const RUNS_PAGE: usize = 1000;
const MODELS_PAGE: usize = 1000;
const VERSIONS_PAGE: usize = 10_000;
const HISTORY_PAGE: usize = 25_000;

/// A [`Store`] backed by an MLflow tracking server (MLflow 2.x or 3.x), so that runs and
/// model versions logged from Rust show up in the MLflow UI next to Python ones.
///
/// Build it from the server's base URL (what Python calls the tracking URI):
///
/// ```no_run
/// use obesity_registry::{MlflowStore, Store};
///
/// let store = MlflowStore::new("http://127.0.0.1:5000")?;
/// let experiments = store.search_experiments(Default::default())?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// Behaviour worth knowing:
/// - **Credentials**, as in MLflow's client: `MLFLOW_TRACKING_TOKEN` (sent as a bearer token)
///   or `MLFLOW_TRACKING_USERNAME` + `MLFLOW_TRACKING_PASSWORD` (basic auth), read when the
///   store is built; the builder can set them explicitly instead.
/// - **Errors**: MLflow's `error_code` becomes a typed error: `RESOURCE_DOES_NOT_EXIST` →
///   [`Error::NotFound`], `RESOURCE_ALREADY_EXISTS` → [`Error::AlreadyExists`], a changed param
///   → [`Error::ParamChanged`], `INVALID_PARAMETER_VALUE` → [`Error::InvalidParameter`],
///   anything else → [`Error::Server`]; no answer at all → [`Error::Unreachable`].
/// - **Retries**: connection errors and 429/5xx answers are retried with exponential backoff
///   per the [`RetryPolicy`]; other 4xx answers never are.
/// - **Limits**: one call (all its requests, retries, waits and pages) stops after 60 s, one
///   request after 30 s (connecting after 10 s), an answer may be at most 64 MiB and a
///   listing at most 1000 pages; a server that sends a page token twice or keeps sending
///   empty pages with new tokens is a [`Error::Protocol`]. Hitting a limit is
///   [`Error::LimitExceeded`], naming the limit, its value and the [`MlflowStoreBuilder`]
///   method that changes it.
/// - **Special floats**: NaN and ±infinity are sent as `"NaN"`, `"Infinity"`, `"-Infinity"`.
///   MLflow's SQL stores keep ±infinity as ±`f64::MAX`; those are read back as ±infinity.
/// - **Artifacts** go through the server's artifact proxy (`mlflow server` with
///   `--artifacts-destination`, the default since MLflow 2), i.e. runs whose `artifact_uri`
///   starts with `mlflow-artifacts:`. Other artifact roots (`s3://` ...) would need that
///   storage's own client and are refused with [`Error::UnsupportedUri`].
/// - Only `http://` URLs: this build has no TLS; put the server behind a local TLS-terminating
///   proxy or tunnel when it is only reachable over HTTPS.
pub struct MlflowStore {
    http: Transport,
    /// run id → artifact URI; a run's artifact root never changes, so it is looked up once.
    artifact_roots: Mutex<HashMap<String, String>>,
}

impl std::fmt::Debug for MlflowStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the credentials.
        f.debug_struct("MlflowStore")
            .field("url", &self.http.base())
            .finish_non_exhaustive()
    }
}

/// Credentials for the server.
#[derive(Clone)]
enum Auth {
    FromEnv,
    None,
    Bearer(String),
    Basic { user: String, password: String },
}

/// Configures an [`MlflowStore`]: retries, time and size limits, and credentials.
///
/// ```
/// use std::time::Duration;
/// use obesity_registry::{MlflowStore, RetryPolicy};
///
/// let store = MlflowStore::builder("http://127.0.0.1:5000/")
///     .retry(RetryPolicy::none())
///     .timeout(Duration::from_secs(5))
///     .bearer_token("secret")
///     .build()?;
/// assert_eq!(format!("{store:?}"), r#"MlflowStore { url: "http://127.0.0.1:5000", .. }"#);
/// assert!(MlflowStore::builder("ftp://example.com").build().is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct MlflowStoreBuilder {
    url: String,
    retry: RetryPolicy,
    limits: Limits,
    auth: Auth,
}

impl std::fmt::Debug for MlflowStoreBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MlflowStoreBuilder")
            .field("url", &self.url)
            .field("retry", &self.retry)
            .field("call_timeout", &self.limits.call_timeout)
            .field("timeout", &self.limits.request_timeout)
            .field("connect_timeout", &self.limits.connect_timeout)
            .field("max_response_bytes", &self.limits.max_response_bytes)
            .field("max_pages", &self.limits.max_pages)
            .finish_non_exhaustive()
    }
}

impl MlflowStoreBuilder {
    /// How failed requests are retried. By default, this is [`RetryPolicy::default`].
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// The longest one HTTP exchange (connect, send, receive) may take; a request that
    /// times out is retried per the [`RetryPolicy`] while the call's time limit lasts. By
    /// default, this is 30 s.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.limits.request_timeout = timeout;
        self
    }

    /// The longest one call of the store (e.g. one `search_runs`: every request, retry,
    /// backoff wait and page of it) may take; then it fails with [`Error::LimitExceeded`].
    /// By default, this is 60 s.
    pub fn call_timeout(mut self, timeout: Duration) -> Self {
        self.limits.call_timeout = timeout;
        self
    }

    /// The longest setting up a connection may take. By default, this is 10 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.limits.connect_timeout = timeout;
        self
    }

    /// The largest answer (JSON or downloaded artifact) read from the server, in bytes; a
    /// larger one fails with [`Error::LimitExceeded`] without being read further. By
    /// default, this is 64 MiB.
    pub fn max_response_bytes(mut self, bytes: u64) -> Self {
        self.limits.max_response_bytes = bytes;
        self
    }

    /// The most pages one listing (runs, models, versions, metric history, experiments)
    /// fetches; a server with still more pages fails the call with
    /// [`Error::LimitExceeded`]. By default, this is 1000 (0 is read as 1).
    pub fn max_pages(mut self, pages: usize) -> Self {
        self.limits.max_pages = pages.max(1);
        self
    }

    /// Sends `Authorization: Bearer <token>`. By default, credentials come from the
    /// environment (see [`MlflowStore`]).
    pub fn bearer_token(mut self, token: impl Into<String>) -> Self {
        self.auth = Auth::Bearer(token.into());
        self
    }

    /// Sends HTTP basic auth, as MLflow's built-in auth app expects. By default, credentials
    /// come from the environment (see [`MlflowStore`]).
    pub fn basic_auth(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.auth = Auth::Basic {
            user: user.into(),
            password: password.into(),
        };
        self
    }

    /// Sends no credentials, whatever the environment says.
    pub fn no_auth(mut self) -> Self {
        self.auth = Auth::None;
        self
    }

    /// Checks the URL and builds the store. Nothing is sent to the server yet.
    pub fn build(self) -> Result<MlflowStore> {
        let base = parse_base_url(&self.url)?;
        let authorization = match self.auth {
            Auth::FromEnv => auth_from_env(),
            Auth::None => None,
            Auth::Bearer(token) => Some(format!("Bearer {token}")),
            Auth::Basic { user, password } => Some(basic(&user, &password)),
        };
        Ok(MlflowStore {
            http: Transport::new(base, authorization, self.retry, self.limits),
            artifact_roots: Mutex::new(HashMap::new()),
        })
    }
}

fn basic(user: &str, password: &str) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {encoded}")
}

/// MLflow's environment variables for credentials; a token wins over user + password.
fn auth_from_env() -> Option<String> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    if let Some(token) = var("MLFLOW_TRACKING_TOKEN") {
        return Some(format!("Bearer {token}"));
    }
    match (
        var("MLFLOW_TRACKING_USERNAME"),
        var("MLFLOW_TRACKING_PASSWORD"),
    ) {
        (Some(user), Some(password)) => Some(basic(&user, &password)),
        _ => None,
    }
}

/// `http://host[:port][/prefix]` without a trailing slash.
fn parse_base_url(url: &str) -> Result<String> {
    let unsupported = |reason: &str| Error::UnsupportedUri {
        uri: url.to_string(),
        reason: reason.to_string(),
    };
    let trimmed = url.trim().trim_end_matches('/');
    let lower = trimmed.to_ascii_lowercase();
    if lower.starts_with("https://") {
        return Err(unsupported(
            "this build has no TLS support; reach the server over http:// (e.g. through a \
             local TLS-terminating proxy or an SSH tunnel)",
        ));
    }
    if !lower.starts_with("http://") {
        return Err(unsupported("an MLflow server URL starts with http://"));
    }
    let rest = trimmed.get("http://".len()..).unwrap_or_default();
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() || host.contains('@') {
        return Err(unsupported(
            "expected http://host[:port][/path] (credentials go in MLFLOW_TRACKING_TOKEN or \
             MLFLOW_TRACKING_USERNAME/PASSWORD, not in the URL)",
        ));
    }
    if rest.contains(['?', '#', ' ']) {
        return Err(unsupported(
            "the URL must not have a query, fragment or space",
        ));
    }
    Ok(format!("http://{rest}"))
}

impl MlflowStore {
    /// A store for the server at `url` (e.g. `http://127.0.0.1:5000`) with the default retry
    /// policy and limits and credentials from the environment.
    pub fn new(url: &str) -> Result<Self> {
        MlflowStore::builder(url).build()
    }

    /// A builder to configure retries, timeout or credentials before building.
    pub fn builder(url: impl Into<String>) -> MlflowStoreBuilder {
        MlflowStoreBuilder {
            url: url.into(),
            retry: RetryPolicy::default(),
            limits: Limits::default(),
            auth: Auth::FromEnv,
        }
    }

    /// The server's base URL, as given (without a trailing slash).
    pub fn url(&self) -> &str {
        self.http.base()
    }

    fn get<T: serde::de::DeserializeOwned>(
        &self,
        call: &Call,
        endpoint: &str,
        query: &[(&str, &str)],
        subject: &Subject,
    ) -> Result<T> {
        self.http
            .call(call, Method::Get, endpoint, query, None, subject)
    }

    fn post<T: serde::de::DeserializeOwned>(
        &self,
        call: &Call,
        endpoint: &str,
        body: Value,
        subject: &Subject,
    ) -> Result<T> {
        self.http
            .call(call, Method::Post, endpoint, &[], Some(body), subject)
    }

    fn url_of(&self, endpoint: &str) -> String {
        format!("{}/api/2.0/mlflow/{endpoint}", self.http.base())
    }

    fn remember_root(&self, info: &RunInfo) {
        if let Ok(mut roots) = self.artifact_roots.lock() {
            roots.insert(info.run_id.clone(), info.artifact_uri.clone());
        }
    }

    /// The URL of artifact `path` of run `run_id` on the artifact proxy.
    fn artifact_url(&self, call: &Call, run_id: &str, path: &str) -> Result<String> {
        let cached = self
            .artifact_roots
            .lock()
            .ok()
            .and_then(|roots| roots.get(run_id).cloned());
        let root = match cached {
            Some(root) => root,
            None => {
                let run = self.get_run_in(call, run_id)?;
                run.info.artifact_uri
            }
        };
        proxy_url(self.http.base(), &root, path)
    }

    /// Chooses how to quote a model name inside a search filter.
    fn name_filter(name: &str) -> Result<String> {
        if !name.contains('\'') {
            Ok(format!("name='{name}'"))
        } else if !name.contains('"') {
            Ok(format!("name=\"{name}\""))
        } else {
            Err(Error::InvalidName {
                what: "registered model",
                value: name.to_string(),
                reason: "an MLflow server cannot search for a name with both ' and \"",
            })
        }
    }

    /// After MLflow refused a batch because a param changed, finds which one and how.
    fn param_changed(&self, call: &Call, run_id: &str, params: &[Param], fallback: Error) -> Error {
        let Ok(run) = self.get_run_in(call, run_id) else {
            return fallback;
        };
        params
            .iter()
            .find_map(|p| match run.data.params.get(&p.key) {
                Some(old) if *old != p.value => Some(Error::ParamChanged {
                    run_id: run_id.to_string(),
                    key: p.key.clone(),
                    old: old.clone(),
                    new: p.value.clone(),
                }),
                _ => None,
            })
            .unwrap_or(fallback)
    }

    fn get_experiment_in(&self, call: &Call, experiment_id: &str) -> Result<Experiment> {
        let subject = Subject::new("experiment", experiment_id);
        // The server's ids are integers; it answers anything else with INVALID_PARAMETER_VALUE,
        // but such an experiment simply does not exist.
        if experiment_id.is_empty() || !experiment_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::not_found("experiment", experiment_id));
        }
        let r: wire::ExperimentResponse = self.get(
            call,
            "experiments/get",
            &[("experiment_id", experiment_id)],
            &subject,
        )?;
        r.experiment
            .into_experiment(&self.url_of("experiments/get"))
    }

    fn get_run_in(&self, call: &Call, run_id: &str) -> Result<Run> {
        let r: wire::RunResponse = self.get(
            call,
            "runs/get",
            &[("run_id", run_id)],
            &Subject::new("run", run_id),
        )?;
        let run = r.run.into_run(&self.url_of("runs/get"))?;
        self.remember_root(&run.info);
        Ok(run)
    }

    fn get_registered_model_in(&self, call: &Call, name: &str) -> Result<RegisteredModel> {
        validate::model_name(name)?;
        let r: wire::RegisteredModelResponse = self.get(
            call,
            "registered-models/get",
            &[("name", name)],
            &Subject::new("registered model", name),
        )?;
        r.registered_model
            .into_model(&self.url_of("registered-models/get"))
    }

    fn get_model_version_in(&self, call: &Call, name: &str, version: u64) -> Result<ModelVersion> {
        validate::model_name(name)?;
        let v = version.to_string();
        let r: wire::ModelVersionResponse = self.get(
            call,
            "model-versions/get",
            &[("name", name), ("version", &v)],
            &Self::model_version_subject(name, version),
        )?;
        r.model_version
            .into_version(&self.url_of("model-versions/get"))
    }

    fn model_version_subject(name: &str, version: u64) -> Subject {
        Subject::new("model version", format!("{name} version {version}"))
    }
}

/// Maps a run artifact root on the artifact proxy (`mlflow-artifacts:/1/<run>/artifacts`,
/// or `mlflow-artifacts://host:port/...`) plus a relative path to the proxy's URL.
fn proxy_url(base: &str, root: &str, path: &str) -> Result<String> {
    let Some(rest) = root.strip_prefix("mlflow-artifacts:") else {
        return Err(Error::UnsupportedUri {
            uri: root.to_string(),
            reason: "the run's artifacts are not served by the tracking server; start \
                     `mlflow server` with --artifacts-destination (artifact proxying) to use \
                     them from MlflowStore"
                .to_string(),
        });
    };
    let (server, root_path) = match rest.strip_prefix("//") {
        Some(with_authority) => {
            let (authority, p) = with_authority
                .split_once('/')
                .unwrap_or((with_authority, ""));
            if authority.is_empty() {
                (base.to_string(), p)
            } else {
                (format!("http://{authority}"), p)
            }
        }
        None => (base.to_string(), rest),
    };
    let root_path = root_path.trim_matches('/');
    let mut url = format!("{server}/api/2.0/mlflow-artifacts/artifacts/");
    url.push_str(&http::encode_path(root_path));
    if !path.is_empty() {
        url.push('/');
        url.push_str(&http::encode_path(path));
    }
    Ok(url)
}

fn tags_json(tags: &[Tag]) -> Vec<KeyValue> {
    tags.iter().map(KeyValue::from).collect()
}

impl Store for MlflowStore {
    fn uri(&self) -> String {
        self.http.base().to_string()
    }

    // ---- experiments --------------------------------------------------------------------

    fn create_experiment(
        &self,
        name: &str,
        artifact_location: Option<&str>,
        tags: &[Tag],
    ) -> Result<String> {
        let call = self.http.begin();
        validate::experiment_name(name)?;
        for t in tags {
            validate::key("experiment tag", &t.key)?;
        }
        let mut body = json!({ "name": name, "tags": tags_json(tags) });
        if let Some(loc) = artifact_location {
            body["artifact_location"] = json!(loc);
        }
        let r: wire::CreateExperimentResponse = self.post(
            &call,
            "experiments/create",
            body,
            &Subject::new("experiment", name),
        )?;
        Ok(r.experiment_id)
    }

    fn get_experiment(&self, experiment_id: &str) -> Result<Experiment> {
        self.get_experiment_in(&self.http.begin(), experiment_id)
    }

    fn get_experiment_by_name(&self, name: &str) -> Result<Option<Experiment>> {
        let call = self.http.begin();
        let r: Result<wire::ExperimentResponse> = self.get(
            &call,
            "experiments/get-by-name",
            &[("experiment_name", name)],
            &Subject::new("experiment", name),
        );
        match r {
            Ok(r) => r
                .experiment
                .into_experiment(&self.url_of("experiments/get-by-name"))
                .map(Some),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn search_experiments(&self, view: ViewType) -> Result<Vec<Experiment>> {
        let call = self.http.begin();
        let url = self.url_of("experiments/search");
        let mut out = Vec::new();
        let mut pager = self.http.pager(&url);
        let mut token: Option<String> = None;
        loop {
            let mut body = json!({ "max_results": 1000, "view_type": view.as_str() });
            if let Some(t) = &token {
                body["page_token"] = json!(t);
            }
            let r: wire::SearchExperimentsResponse = self.post(
                &call,
                "experiments/search",
                body,
                &Subject::new("experiments", "search"),
            )?;
            let items = r.experiments.len();
            for e in r.experiments {
                out.push(e.into_experiment(&url)?);
            }
            match pager.next(items, r.next_page_token)? {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        out.sort_by(|a, b| {
            let key =
                |e: &Experiment| (e.experiment_id.parse::<u64>().ok(), e.experiment_id.clone());
            key(a).cmp(&key(b))
        });
        Ok(out)
    }

    fn set_experiment_tag(&self, experiment_id: &str, key: &str, value: &str) -> Result<()> {
        let call = self.http.begin();
        validate::key("experiment tag", key)?;
        let _: wire::Empty = self.post(
            &call,
            "experiments/set-experiment-tag",
            json!({ "experiment_id": experiment_id, "key": key, "value": value }),
            &Subject::new("experiment", experiment_id),
        )?;
        Ok(())
    }

    // ---- runs -----------------------------------------------------------------------------

    fn create_run(&self, args: &CreateRun) -> Result<RunInfo> {
        let call = self.http.begin();
        for t in &args.tags {
            validate::key("run tag", &t.key)?;
        }
        // The same refusal as the local store (MLflow's server refuses it too, less precisely).
        let tag_name = args.tags.iter().rev().find(|t| t.key == "mlflow.runName");
        if let (Some(n), Some(t)) = (&args.run_name, tag_name)
            && *n != t.value
        {
            return Err(Error::InvalidValue {
                field: "run_name",
                value: n.clone(),
                expected: "the same value as the mlflow.runName tag, or no tag",
            });
        }
        let mut body = json!({
            "experiment_id": args.experiment_id,
            "user_id": args.user_id,
            "start_time": args.start_time,
            "tags": tags_json(&args.tags),
        });
        if let Some(name) = &args.run_name {
            body["run_name"] = json!(name);
        }
        let r: wire::RunResponse = self.post(
            &call,
            "runs/create",
            body,
            &Subject::new("experiment", &args.experiment_id),
        )?;
        let run = r.run.into_run(&self.url_of("runs/create"))?;
        self.remember_root(&run.info);
        Ok(run.info)
    }

    fn update_run(&self, run_id: &str, update: &UpdateRun) -> Result<RunInfo> {
        let call = self.http.begin();
        let mut body = json!({ "run_id": run_id });
        if let Some(s) = update.status {
            body["status"] = json!(s.as_str());
        }
        if let Some(t) = update.end_time {
            body["end_time"] = json!(t);
        }
        if let Some(n) = &update.run_name {
            body["run_name"] = json!(n);
        }
        let r: wire::UpdateRunResponse =
            self.post(&call, "runs/update", body, &Subject::new("run", run_id))?;
        r.run_info.into_info(&self.url_of("runs/update"))
    }

    fn get_run(&self, run_id: &str) -> Result<Run> {
        self.get_run_in(&self.http.begin(), run_id)
    }

    fn log_batch(
        &self,
        run_id: &str,
        metrics: &[Metric],
        params: &[Param],
        tags: &[Tag],
    ) -> Result<()> {
        let call = self.http.begin();
        validate::batch_keys(metrics, params, tags)?;
        let subject = Subject::new("run", run_id);
        // Params first, so a changed param is refused before any metric of the batch is
        // written; within MLflow's per-request limits one request carries everything.
        let (mut m, mut p, mut t) = (metrics, params, tags);
        loop {
            let np = p.len().min(BATCH_MAX_PARAMS);
            let nt = t.len().min(BATCH_MAX_TAGS);
            let nm = m.len().min(BATCH_MAX_METRICS - np - nt);
            let body = json!({
                "run_id": run_id,
                "metrics": m[..nm].iter().map(wire::metric_json).collect::<Vec<_>>(),
                "params": p[..np].iter().map(|p| json!({"key": p.key, "value": p.value})).collect::<Vec<_>>(),
                "tags": tags_json(&t[..nt]),
            });
            let sent: Result<wire::Empty> = self.post(&call, "runs/log-batch", body, &subject);
            match sent {
                Ok(_) => {}
                Err(e @ Error::InvalidParameter { .. })
                    if e.to_string()
                        .contains("Changing param values is not allowed") =>
                {
                    return Err(self.param_changed(&call, run_id, &p[..np], e));
                }
                Err(e) => return Err(e),
            }
            (m, p, t) = (&m[nm..], &p[np..], &t[nt..]);
            if m.is_empty() && p.is_empty() && t.is_empty() {
                return Ok(());
            }
        }
    }

    fn get_metric_history(&self, run_id: &str, key: &str) -> Result<Vec<Metric>> {
        let call = self.http.begin();
        let page = HISTORY_PAGE.to_string();
        let mut pager = self.http.pager(&self.url_of("metrics/get-history"));
        let mut out = Vec::new();
        let mut token = String::new();
        loop {
            let mut query = vec![
                ("run_id", run_id),
                ("metric_key", key),
                ("max_results", page.as_str()),
            ];
            if !token.is_empty() {
                query.push(("page_token", token.as_str()));
            }
            let r: wire::MetricHistoryResponse = self.get(
                &call,
                "metrics/get-history",
                &query,
                &Subject::new("run", run_id),
            )?;
            let items = r.metrics.len();
            out.extend(r.metrics.into_iter().map(Metric::from));
            match pager.next(items, r.next_page_token)? {
                Some(t) => token = t,
                None => break,
            }
        }
        Ok(out)
    }

    fn delete_tag(&self, run_id: &str, key: &str) -> Result<()> {
        let call = self.http.begin();
        // MLflow answers RESOURCE_DOES_NOT_EXIST both for a missing run and a missing tag;
        // checking the run first keeps the two apart.
        let run = self.get_run_in(&call, run_id)?;
        if !run.data.tags.contains_key(key) {
            return Err(Error::not_found(
                "run tag",
                format!("{key} on run {run_id}"),
            ));
        }
        let _: wire::Empty = self.post(
            &call,
            "runs/delete-tag",
            json!({ "run_id": run_id, "key": key }),
            &Subject::new("run tag", format!("{key} on run {run_id}")),
        )?;
        Ok(())
    }

    fn search_runs(&self, args: &SearchRuns) -> Result<Vec<Run>> {
        let call = self.http.begin();
        let url = self.url_of("runs/search");
        let filter = match args.filter.as_deref() {
            Some(f) => query::filter(f)?,
            None => None,
        };
        let order_by = args
            .order_by
            .iter()
            .map(|o| query::order_by(o))
            .collect::<Result<Vec<_>>>()?;
        let mut pager = self.http.pager(&url);
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        while out.len() < args.max_results {
            let mut body = json!({
                "experiment_ids": args.experiment_ids,
                "run_view_type": args.view_type.as_str(),
                "max_results": (args.max_results - out.len()).min(RUNS_PAGE),
                "order_by": order_by,
            });
            if let Some(f) = &filter {
                body["filter"] = json!(f);
            }
            if let Some(t) = &token {
                body["page_token"] = json!(t);
            }
            let r: wire::SearchRunsResponse = self.post(
                &call,
                "runs/search",
                body,
                &Subject::new("experiment", args.experiment_ids.join(",")),
            )?;
            let items = r.runs.len();
            for run in r.runs {
                let run = run.into_run(&url)?;
                self.remember_root(&run.info);
                out.push(run);
            }
            match pager.next(items, r.next_page_token)? {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        out.truncate(args.max_results);
        // The server answers an unknown experiment with no runs; the trait (and the local
        // store) say NotFound. Only an empty answer can hide one, so only then is it checked.
        if out.is_empty() {
            for id in &args.experiment_ids {
                self.get_experiment_in(&call, id)?;
            }
        }
        Ok(out)
    }

    // ---- artifacts --------------------------------------------------------------------------

    fn log_artifact(&self, run_id: &str, path: &str, bytes: &[u8]) -> Result<()> {
        let call = self.http.begin();
        validate::artifact_path(path)?;
        let url = self.artifact_url(&call, run_id, path)?;
        let reply = self
            .http
            .send(&call, Method::Put, &url, &[], &Payload::Bytes(bytes))?;
        if (200..300).contains(&reply.status) {
            Ok(())
        } else {
            Err(http::error_from_reply(
                &format!("PUT {url}"),
                &reply,
                &Subject::new("run", run_id),
            ))
        }
    }

    fn list_artifacts(&self, run_id: &str, path: Option<&str>) -> Result<Vec<FileInfo>> {
        let call = self.http.begin();
        let mut query = vec![("run_id", run_id)];
        if let Some(p) = path.filter(|p| !p.is_empty()) {
            validate::artifact_path(p)?;
            query.push(("path", p));
        }
        let r: wire::ListArtifactsResponse = self.get(
            &call,
            "artifacts/list",
            &query,
            &Subject::new("run", run_id),
        )?;
        let mut files: Vec<FileInfo> = r.files.into_iter().map(FileInfo::from).collect();
        files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(files)
    }

    fn download_artifact(&self, run_id: &str, path: &str) -> Result<Vec<u8>> {
        let call = self.http.begin();
        validate::artifact_path(path)?;
        let url = self.artifact_url(&call, run_id, path)?;
        let reply = self
            .http
            .send(&call, Method::Get, &url, &[], &Payload::None)?;
        if (200..300).contains(&reply.status) {
            Ok(reply.body)
        } else {
            Err(http::error_from_reply(
                &format!("GET {url}"),
                &reply,
                &Subject::new("artifact", format!("{path} of run {run_id}")),
            ))
        }
    }

    // ---- registered models ------------------------------------------------------------------

    fn create_registered_model(
        &self,
        name: &str,
        tags: &[Tag],
        description: Option<&str>,
    ) -> Result<RegisteredModel> {
        let call = self.http.begin();
        validate::model_name(name)?;
        for t in tags {
            validate::key("registered model tag", &t.key)?;
        }
        let mut body = json!({ "name": name, "tags": tags_json(tags) });
        if let Some(d) = description {
            body["description"] = json!(d);
        }
        let r: wire::RegisteredModelResponse = self.post(
            &call,
            "registered-models/create",
            body,
            &Subject::new("registered model", name),
        )?;
        r.registered_model
            .into_model(&self.url_of("registered-models/create"))
    }

    fn get_registered_model(&self, name: &str) -> Result<RegisteredModel> {
        self.get_registered_model_in(&self.http.begin(), name)
    }

    fn search_registered_models(&self, max_results: usize) -> Result<Vec<RegisteredModel>> {
        let call = self.http.begin();
        let url = self.url_of("registered-models/search");
        let mut pager = self.http.pager(&url);
        let mut out = Vec::new();
        let mut token = String::new();
        while out.len() < max_results {
            let page = (max_results - out.len()).min(MODELS_PAGE).to_string();
            let mut query = vec![("max_results", page.as_str()), ("order_by", "name ASC")];
            if !token.is_empty() {
                query.push(("page_token", token.as_str()));
            }
            let r: wire::SearchRegisteredModelsResponse = self.get(
                &call,
                "registered-models/search",
                &query,
                &Subject::new("registered models", "search"),
            )?;
            let items = r.registered_models.len();
            for m in r.registered_models {
                out.push(m.into_model(&url)?);
            }
            match pager.next(items, r.next_page_token)? {
                Some(t) => token = t,
                None => break,
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out.truncate(max_results);
        Ok(out)
    }

    fn set_registered_model_tag(&self, name: &str, key: &str, value: &str) -> Result<()> {
        let call = self.http.begin();
        validate::model_name(name)?;
        validate::key("registered model tag", key)?;
        let _: wire::Empty = self.post(
            &call,
            "registered-models/set-tag",
            json!({ "name": name, "key": key, "value": value }),
            &Subject::new("registered model", name),
        )?;
        Ok(())
    }

    fn update_registered_model(&self, name: &str, description: &str) -> Result<RegisteredModel> {
        let call = self.http.begin();
        validate::model_name(name)?;
        let _: Value = self.http.call(
            &call,
            Method::Patch,
            "registered-models/update",
            &[],
            Some(json!({ "name": name, "description": description })),
            &Subject::new("registered model", name),
        )?;
        // The update's answer omits aliases on some MLflow versions; read the whole model.
        self.get_registered_model_in(&call, name)
    }

    // ---- model versions ---------------------------------------------------------------------

    fn create_model_version(&self, args: &CreateModelVersion) -> Result<ModelVersion> {
        let call = self.http.begin();
        validate::model_name(&args.name)?;
        for t in &args.tags {
            validate::key("model version tag", &t.key)?;
        }
        let mut body = json!({
            "name": args.name,
            "source": args.source,
            "tags": tags_json(&args.tags),
        });
        if let Some(run_id) = &args.run_id {
            body["run_id"] = json!(run_id);
        }
        if let Some(d) = &args.description {
            body["description"] = json!(d);
        }
        if let Some(m) = &args.model_id {
            body["model_id"] = json!(m);
        }
        let r: wire::ModelVersionResponse = self.post(
            &call,
            "model-versions/create",
            body,
            &Subject::new("registered model", &args.name),
        )?;
        r.model_version
            .into_version(&self.url_of("model-versions/create"))
    }

    fn get_model_version(&self, name: &str, version: u64) -> Result<ModelVersion> {
        self.get_model_version_in(&self.http.begin(), name, version)
    }

    fn search_model_versions(&self, name: &str) -> Result<Vec<ModelVersion>> {
        let call = self.http.begin();
        validate::model_name(name)?;
        // Also answers NotFound for an unknown model, and gives the aliases, which
        // `model-versions/search` leaves out.
        let model = self.get_registered_model_in(&call, name)?;
        let filter = Self::name_filter(name)?;
        let url = self.url_of("model-versions/search");
        let page = VERSIONS_PAGE.to_string();
        let mut pager = self.http.pager(&url);
        let mut out = Vec::new();
        let mut token = String::new();
        loop {
            let mut query = vec![("filter", filter.as_str()), ("max_results", page.as_str())];
            if !token.is_empty() {
                query.push(("page_token", token.as_str()));
            }
            let r: wire::SearchModelVersionsResponse = self.get(
                &call,
                "model-versions/search",
                &query,
                &Subject::new("registered model", name),
            )?;
            let items = r.model_versions.len();
            for v in r.model_versions {
                let mut v = v.into_version(&url)?;
                v.aliases = wire::aliases_of(&model.aliases, v.version);
                out.push(v);
            }
            match pager.next(items, r.next_page_token)? {
                Some(t) => token = t,
                None => break,
            }
        }
        out.sort_by_key(|v| v.version);
        Ok(out)
    }

    fn transition_model_version_stage(
        &self,
        name: &str,
        version: u64,
        stage: Stage,
        archive_existing_versions: bool,
    ) -> Result<ModelVersion> {
        let call = self.http.begin();
        validate::model_name(name)?;
        // MLflow fails with a 500 when asked to archive others for a stage other than
        // Staging or Production; there is nothing to archive then anyway.
        let archive =
            archive_existing_versions && matches!(stage, Stage::Staging | Stage::Production);
        let r: wire::ModelVersionResponse = self.post(
            &call,
            "model-versions/transition-stage",
            json!({
                "name": name,
                "version": version.to_string(),
                "stage": stage.as_str(),
                "archive_existing_versions": archive,
            }),
            &Self::model_version_subject(name, version),
        )?;
        r.model_version
            .into_version(&self.url_of("model-versions/transition-stage"))
    }

    fn update_model_version(
        &self,
        name: &str,
        version: u64,
        description: &str,
    ) -> Result<ModelVersion> {
        let call = self.http.begin();
        validate::model_name(name)?;
        let _: Value = self.http.call(
            &call,
            Method::Patch,
            "model-versions/update",
            &[],
            Some(json!({
                "name": name,
                "version": version.to_string(),
                "description": description,
            })),
            &Self::model_version_subject(name, version),
        )?;
        self.get_model_version_in(&call, name, version)
    }

    fn set_model_version_tag(
        &self,
        name: &str,
        version: u64,
        key: &str,
        value: &str,
    ) -> Result<()> {
        let call = self.http.begin();
        validate::model_name(name)?;
        validate::key("model version tag", key)?;
        let _: wire::Empty = self.post(
            &call,
            "model-versions/set-tag",
            json!({ "name": name, "version": version.to_string(), "key": key, "value": value }),
            &Self::model_version_subject(name, version),
        )?;
        Ok(())
    }

    fn delete_model_version_tag(&self, name: &str, version: u64, key: &str) -> Result<()> {
        let call = self.http.begin();
        validate::model_name(name)?;
        let _: wire::Empty = self.http.call(
            &call,
            Method::Delete,
            "model-versions/delete-tag",
            &[],
            Some(json!({ "name": name, "version": version.to_string(), "key": key })),
            &Self::model_version_subject(name, version),
        )?;
        Ok(())
    }

    // ---- aliases ----------------------------------------------------------------------------

    fn set_registered_model_alias(&self, name: &str, alias: &str, version: u64) -> Result<()> {
        let call = self.http.begin();
        validate::model_name(name)?;
        validate::alias(alias)?;
        let _: wire::Empty = self.post(
            &call,
            "registered-models/alias",
            json!({ "name": name, "alias": alias, "version": version.to_string() }),
            &Self::model_version_subject(name, version),
        )?;
        Ok(())
    }

    fn delete_registered_model_alias(&self, name: &str, alias: &str) -> Result<()> {
        let call = self.http.begin();
        validate::model_name(name)?;
        validate::alias(alias)?;
        // MLflow deletes a missing alias silently; the trait promises NotFound.
        let model = self.get_registered_model_in(&call, name)?;
        if !model.aliases.contains_key(alias) {
            return Err(Error::not_found("alias", format!("{name}@{alias}")));
        }
        let _: wire::Empty = self.http.call(
            &call,
            Method::Delete,
            "registered-models/alias",
            &[],
            Some(json!({ "name": name, "alias": alias })),
            &Subject::new("alias", format!("{name}@{alias}")),
        )?;
        Ok(())
    }

    fn get_model_version_by_alias(&self, name: &str, alias: &str) -> Result<ModelVersion> {
        let call = self.http.begin();
        validate::model_name(name)?;
        validate::alias(alias)?;
        let r: wire::ModelVersionResponse = self.get(
            &call,
            "registered-models/alias",
            &[("name", name), ("alias", alias)],
            &Subject::new("alias", format!("{name}@{alias}")),
        )?;
        r.model_version
            .into_version(&self.url_of("registered-models/alias"))
    }

    fn log_inputs(&self, run_id: &str, datasets: &[DatasetInput]) -> Result<()> {
        let call = self.http.begin();
        for d in datasets {
            d.validate()?;
        }
        if datasets.is_empty() {
            return Ok(());
        }
        let body = json!({
            "run_id": run_id,
            "datasets": datasets.iter().map(|d| {
                let mut dataset = json!({
                    "name": d.name,
                    "digest": d.digest,
                    "source_type": d.source_type,
                    "source": d.source,
                });
                if let Some(s) = &d.schema {
                    dataset["schema"] = json!(s);
                }
                if let Some(p) = &d.profile {
                    dataset["profile"] = json!(p);
                }
                json!({ "tags": tags_json(&d.tags), "dataset": dataset })
            }).collect::<Vec<_>>(),
        });
        let _: wire::Empty =
            self.post(&call, "runs/log-inputs", body, &Subject::new("run", run_id))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_checked_and_normalised() {
        assert_eq!(
            parse_base_url("http://127.0.0.1:5000/").unwrap(),
            "http://127.0.0.1:5000"
        );
        assert_eq!(
            parse_base_url("HTTP://host/mlflow").unwrap(),
            "http://host/mlflow"
        );
        for bad in [
            "",
            "127.0.0.1:5000",
            "ftp://x",
            "http://",
            "http://u:p@host",
            "http://h/?q=1",
            "https://h",
        ] {
            let e = parse_base_url(bad).unwrap_err();
            assert!(
                matches!(e, Error::UnsupportedUri { ref uri, .. } if uri == bad),
                "{bad}"
            );
        }
    }

    #[test]
    fn artifact_roots_map_to_the_proxy() {
        let base = "http://127.0.0.1:5000";
        assert_eq!(
            proxy_url(base, "mlflow-artifacts:/1/abc/artifacts", "model/m 1.json").unwrap(),
            "http://127.0.0.1:5000/api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts/model/m%201.json"
        );
        assert_eq!(
            proxy_url(base, "mlflow-artifacts://other:8080/2/r/artifacts", "a").unwrap(),
            "http://other:8080/api/2.0/mlflow-artifacts/artifacts/2/r/artifacts/a"
        );
        assert_eq!(
            proxy_url(base, "mlflow-artifacts:///2/r/artifacts", "a").unwrap(),
            "http://127.0.0.1:5000/api/2.0/mlflow-artifacts/artifacts/2/r/artifacts/a"
        );
        let e = proxy_url(base, "s3://bucket/1/r/artifacts", "a").unwrap_err();
        assert!(matches!(e, Error::UnsupportedUri { ref uri, .. } if uri.starts_with("s3://")));
    }

    #[test]
    fn basic_auth_is_base64_of_user_colon_password() {
        assert_eq!(basic("user", "pass"), "Basic dXNlcjpwYXNz");
    }

    #[test]
    fn model_names_are_quoted_for_filters() {
        assert_eq!(MlflowStore::name_filter("m").unwrap(), "name='m'");
        assert_eq!(MlflowStore::name_filter("it's").unwrap(), "name=\"it's\"");
        assert!(matches!(
            MlflowStore::name_filter("a'b\"c"),
            Err(Error::InvalidName { .. })
        ));
    }
}
