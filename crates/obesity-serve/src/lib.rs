//! # obesity-serve
//!
//! The HTTP service of the workspace: axum on tokio, serving the version a registry alias
//! points to (`models:/NAME@champion` by default) with the protocols that clients already
//! speak.
//!
//! - [`ServeConfig`]: where the registry is, which reference to serve, host, port, poll
//!   interval, admin token, limits. Every field has a documented default.
//! - [`AppState`]: the loaded versions (swapped atomically on a reload), counters, metrics,
//!   the monitor queue and the A/B experiments. [`AppState::load`] builds it.
//! - [`router`]: every endpoint with its middleware (body limit → 413, timeout → 408,
//!   tracing, compression, metrics), for `oneshot` tests or your own server.
//! - [`Server`]: binds, serves, polls the aliases, and shuts down gracefully on SIGINT or
//!   SIGTERM (stops accepting, finishes requests in flight, flushes the prediction log).
//!   [`run_blocking`] does all of it on its own runtime.
//!
//! ## Endpoints
//!
//! | | |
//! |---|---|
//! | `GET /health`, `GET /model/info` | status, counts, loaded versions; inputs with types, ranges and levels, classes, params, metrics, lineage |
//! | `POST /predict`, `POST /predict/batch` | raw named features → class, probabilities per class, confidence, version, A/B variant, request id, latency |
//! | `GET /ping`, `GET /version`, `POST /invocations` | MLflow's scoring protocol: `dataframe_split`, `dataframe_records`, `instances`, `inputs`, `text/csv` |
//! | `GET /v2`, `/v2/health/{live,ready}`, `/v2/models/{name}[/versions/{v}][/ready]`, `POST .../infer` | the Open Inference Protocol v2 (KServe, Triton, Seldon clients), one tensor per raw field |
//! | `POST /feedback` | a late true label, by request id or user id (joins the monitor and A/B outcomes) |
//! | `GET /monitoring/status?hours=24` | the performance monitor's window, drift per feature, open alerts |
//! | `GET/POST /experiments`, `GET /experiments/{name}/status`, `POST /experiments/{name}/{start,pause,stop}` | A/B experiments between loaded versions |
//! | `POST /admin/reload` | re-resolve the aliases now |
//! | `GET /metrics`, `GET /openapi.json`, `GET /docs` | Prometheus text, OpenAPI 3.1, the API page (no CDN) |
//! | `GET /dashboard?refresh=15` | the production loop as one HTML page with inline SVG charts: traffic, latency, class mix against training, accuracy as labels arrive, drift per feature, open and recent alerts, A/B experiments with their confidence intervals, the loaded versions' lineage (no script, no external request) |
//!
//! Every failure is an [`ApiError`]: a status and `{"error": {"code", "message", "field"}}`
//! naming the field (`features.Age`, `batch_features[3].MTRANS`, `inputs[2].datatype`); a
//! 5xx says nothing about internals, the detail goes to the log.
//!
//! ## How a request is served
//!
//! The signature of the served version is compiled once into a row schema. A `/predict`
//! body is parsed in one pass straight into the typed record (keys and strings borrowed
//! from the body), each value checked against the signature's type, range and levels as it
//! arrives; then the version's feature pipeline and the forest's allocation-free row kernel
//! run; the answer is written straight into the response buffer. The prediction then goes to
//! the performance monitor through a bounded queue (`try_send`: a full queue drops and counts,
//! it never blocks a request). A dedicated thread writes the prediction log in batches, checks
//! drift against the version's reference profile and the alert rules on a schedule, and joins
//! late labels. With a running A/B experiment, `user_id` picks the arm (SHA-256 of experiment
//! and user, `obesity_monitor::AbTest`) and the answer says which.
//!
//! Multi-row requests (`/predict/batch`, `/invocations`, `/v2/.../infer`) are featurized on
//! their own task, then their kernel call is merged with other requests' to the same version
//! on the version's executor thread ([`DynamicBatching`], Triton's dynamic batching): the
//! forest costs several times less per row on a merged batch of a thousand rows than on ten
//! calls of a hundred, and each row's probabilities are bit-identical either way. Such a
//! request announces itself to the executor before its body is parsed, so a call under
//! [`DynamicBatching::preferred_rows`] waits (briefly) for the requests already on their
//! way. A request that finds no call in progress predicts on its own task, so a lone client
//! pays neither a wait nor a thread switch; `obesity_batch_rows` in `/metrics` shows how much
//! merging happens.
//!
//! For deployment, build with `--profile release-lto` (whole-program LTO: about 16% more
//! `/predict/batch` requests per second than `--release`, docs/benchmarks.md).
//!
//! ## Closing the loop
//!
//! - **Alerts out.** The monitor thread runs `obesity_monitor::AlertManager` every
//!   [`ServeConfig::check_interval`]; a new alert or a resolution shows in
//!   `/monitoring/status` (`alerts`, `recent_alerts`), in `/metrics`
//!   (`obesity_alerts_active{kind,severity}`) and on the dashboard, and goes to each
//!   webhook of [`ServeConfig::alert_webhooks`] (Slack or Alertmanager bodies, timeout,
//!   retries, de-duplication while the condition persists: `obesity_monitor`'s
//!   `WebhookAlertHandler`, one shared instance per URL) from a thread of its own, so a
//!   receiver that hangs delays nothing else.
//! - **Metrics for the rules in `deploy/prometheus/alerts.yml`**: late labels by version
//!   and correctness (`obesity_feedback_labels_total`), each loaded version's registered
//!   accuracy (`obesity_model_baseline_accuracy`), and a latency bucket at the rules' 0.5 s.
//! - **The dashboard** (`GET /dashboard`): bounded time series kept by the monitor thread
//!   ([`ServeConfig::timeline_step`] × [`ServeConfig::timeline_points`]), drawn as inline
//!   SVG on the server.
//! - **Retraining** ([`AppState::attach_retrainer`]): `obesity_monitor::RetrainTrigger`
//!   decides on the monitor's figures and the watched data folders every
//!   [`ServeConfig::retrain_check_interval`], with an injected clock; an injected
//!   [`Retrainer`] trains and registers a challenger; every decision is in the audit trail,
//!   `/monitoring/status` and the dashboard.
//! - **The A/B policy** ([`AbPolicy`], off by default): start an experiment when the
//!   challenger alias moves, and move the champion alias to a treatment that
//!   `AbTest::analyze()` says to promote with the minimum samples reached; replicas follow
//!   through their alias polling.
//!
//! ## Example
//!
//! Register a small model, load it, and ask the router for a prediction without a socket:
//!
//! ```
//! use axum::body::Body;
//! use axum::http::Request;
//! use obesity_data::{Schema, feature_columns, synth};
//! use obesity_features::FeaturePipeline;
//! use obesity_forest::{ForestParams, ModelStrategy};
//! use obesity_monitor::ReferenceProfile;
//! use obesity_registry::{NewVersion, Registry, Signature, Tracker};
//! use obesity_serve::{AppState, REFERENCE_PROFILE_FILE, ServeConfig, router};
//! use tower::ServiceExt;
//!
//! # tokio::runtime::Runtime::new()?.block_on(async {
//! // Train and register version 1 of "obesity-rf" with its pipeline, signature and profile.
//! let dir = tempfile::tempdir()?;
//! let uri = dir.path().join("mlruns").display().to_string();
//! let records = synth::generate(300, 7);
//! let pipeline = FeaturePipeline::standard().fit(&records)?;
//! let data = pipeline.dataset(&records)?;
//! let model = ForestParams::builder().n_estimators(10).seed(7).build()?
//!     .fit(data.x.view(), data.y.view(), data.n_classes())?;
//! let tracker = Tracker::open(&uri)?;
//! let run = tracker.start_run("serve-doc", None)?;
//! let registry = Registry::new(tracker.store().clone());
//! let profile = ReferenceProfile::from_columns(&feature_columns(&records))?;
//! registry.register(
//!     NewVersion::new("obesity-rf", run.id(), model.to_bytes()?)
//!         .pipeline(&pipeline)?
//!         .signature(Signature::from_schema(&Schema::obesity())?)
//!         .extra_artifact(REFERENCE_PROFILE_FILE, profile.to_json()?.into_bytes()),
//! )?;
//! run.finish()?;
//! registry.set_alias("obesity-rf", "champion", 1)?;
//!
//! // Serve models:/obesity-rf@champion.
//! let state = AppState::load(ServeConfig {
//!     model: "obesity-rf".into(),
//!     ..ServeConfig::new(uri)
//! })
//! .await?;
//! let body = r#"{"features": {"Gender": "Male", "Age": 23, "Height": 1.8, "Weight": 77,
//!     "family_history_with_overweight": "yes", "FAVC": "no", "FCVC": 2, "NCP": 3,
//!     "CAEC": "Sometimes", "SMOKE": "no", "CH2O": 2, "SCC": "no", "FAF": 1, "TUE": 1,
//!     "CALC": "no", "MTRANS": "Walking"}, "user_id": "u-17"}"#;
//! let request = Request::post("/predict").body(Body::from(body))?;
//! let response = router(state.clone()).oneshot(request).await?;
//! assert_eq!(response.status(), 200);
//! let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await?;
//! let answer: serde_json::Value = serde_json::from_slice(&bytes)?;
//! assert_eq!(answer["model_version"], "1");
//! assert_eq!(answer["variant"], "champion");
//! println!("{} ({:.2})", answer["prediction"], answer["confidence"]);
//!
//! // A value outside the signature's range is a 422 naming the field.
//! let bad = body.replace("\"Age\": 23", "\"Age\": 230");
//! let response = router(state.clone()).oneshot(Request::post("/predict").body(Body::from(bad))?).await?;
//! assert_eq!(response.status(), 422);
//! state.shutdown().await;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Features
//!
//! - `cli` (off by default): [`ServeArgs`], the clap flags shared by `obesity serve` and the
//!   `serve` example, and [`init_tracing`].
#![deny(missing_docs)]
#![recursion_limit = "256"]

/// Re-export of the ndarray version this crate's signatures use (the one linfa uses), so that an
/// application on another ndarray version names this one as `obesity_serve::ndarray`.
pub use ndarray;

/// Re-export of the chrono version this crate's timestamps use, so that an application names
/// the same `DateTime` and `Duration` types as `obesity_serve::chrono`.
pub use chrono;

mod alerting;
mod batching;
mod config;
mod dashboard;
mod error;
mod experiments;
mod metrics;
mod model;
mod monitor;
mod openapi;
mod policy;
mod reload;
mod retrain;
mod routes;
mod row;
mod server;
mod state;
mod timeline;

pub use batching::DynamicBatching;
#[cfg(feature = "cli")]
pub use config::ServeArgs;
pub use config::{ADMIN_TOKEN_ENV, AlertWebhooks, ServeConfig};
pub use error::{ApiError, Result, ServeError};
pub use model::REFERENCE_PROFILE_FILE;
/// The body format of [`AlertWebhooks`], re-exported so a config needs no other import.
pub use obesity_monitor::WebhookFormat;
pub use policy::{AbPolicy, PolicyAction};
pub use reload::{ReloadChange, ReloadFailure, ReloadReport};
pub use retrain::Retrainer;
pub use routes::router;
pub use server::{BackgroundServer, Server, run_blocking, shutdown_signal};
pub use state::AppState;

/// Installs a `tracing` subscriber that prints to stderr, filtered by `RUST_LOG` (default
/// `info`), for binaries (feature `cli`). A library never calls this itself.
#[cfg(feature = "cli")]
pub fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
