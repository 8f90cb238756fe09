//! Operations: health, model info, feedback, monitoring status, experiments, reload,
//! Prometheus metrics, the OpenAPI document and the docs page.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{SecondsFormat, Utc};
use obesity_monitor::{AbTest, AbTestConfig, MonitorError, SystemClock};
use obesity_registry::FieldType;
use serde::Deserialize;
use serde_json::{Value, json as j};

use crate::error::ApiError;
use crate::monitor::FeedbackKey;
use crate::row;
use crate::state::{AppState, blocking};

use super::{json, require_admin};

/// `GET /`: where things are.
pub(crate) async fn index(State(state): State<AppState>) -> Response {
    json(
        StatusCode::OK,
        &j!({
            "service": "obesity-serve",
            "version": env!("CARGO_PKG_VERSION"),
            "model": state.model_name(),
            "docs": "/docs",
            "openapi": "/openapi.json",
        }),
    )
}

/// `GET /health`: the original Python project's shape (status, model, uptime, counts) plus the loaded versions.
pub(crate) async fn health(State(state): State<AppState>) -> Response {
    let models = state.inner.models.load();
    let c = &state.inner.counters;
    let primary = &models.primary;
    json(
        StatusCode::OK,
        &j!({
            "status": "healthy",
            "model_loaded": true,
            "model_name": primary.name,
            "model_version": primary.version_label,
            "model_reference": state.inner.refs.first().map(ToString::to_string),
            "loaded_versions": models.loaded_versions().iter().map(u64::to_string).collect::<Vec<_>>(),
            "uptime_seconds": state.uptime().as_secs_f64(),
            "started_at": state.inner.started_at.to_rfc3339_opts(SecondsFormat::Secs, true),
            "total_requests": c.requests.load(Ordering::Relaxed),
            "error_count": c.errors.load(Ordering::Relaxed),
            "total_predictions": c.predictions.load(Ordering::Relaxed),
            "monitor_dropped": state.monitor_dropped(),
            "timestamp": Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
        }),
    )
}

/// `GET /model/info`: inputs with types, ranges and levels; classes; params; metrics;
/// lineage.
pub(crate) async fn model_info(State(state): State<AppState>) -> Response {
    let models = state.inner.models.load();
    let m = &models.primary;
    let inputs: Vec<Value> = m
        .signature
        .inputs
        .iter()
        .map(|f| match &f.field_type {
            FieldType::Numeric { min, max } => {
                j!({"name": f.name, "type": "number", "min": min, "max": max})
            }
            FieldType::Categorical { levels } => {
                j!({"name": f.name, "type": "string", "categories": levels})
            }
        })
        .collect();
    json(
        StatusCode::OK,
        &j!({
            "name": m.name,
            "version": m.version_label,
            "reference": state.inner.refs.first().map(ToString::to_string),
            "aliases": m.meta.aliases,
            "stage": m.meta.current_stage.to_string(),
            "description": m.meta.description,
            "run_id": m.meta.run_id,
            "source": m.meta.source,
            "classifier": m.classifier_name,
            "inputs": inputs,
            "classes": m.classes,
            "n_features": m.feature_names.len(),
            "feature_names": m.feature_names,
            "params": m.lineage.params,
            "metrics": m.lineage.metrics,
            "lineage": m.lineage,
            "reference_profile": m.profile.is_some(),
            "loaded_versions": models.loaded_versions().iter().map(u64::to_string).collect::<Vec<_>>(),
        }),
    )
}

/// `GET /metrics`: Prometheus text.
pub(crate) async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let metrics = &state.inner.metrics;
    metrics.uptime.set(state.uptime().as_secs_f64());
    match metrics.render() {
        Ok(text) => {
            let openmetrics = headers
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.contains("application/openmetrics-text"));
            let (content_type, text) = if openmetrics {
                (
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    text,
                )
            } else {
                (
                    "text/plain; version=0.0.4; charset=utf-8",
                    crate::metrics::openmetrics_to_prometheus_text(&text),
                )
            };
            (
                [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
                text,
            )
                .into_response()
        }
        Err(e) => ApiError::internal(e).into_response(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FeedbackBody {
    request_id: Option<String>,
    #[serde(default)]
    user_id: Option<row::UserId>,
    label: Value,
}

/// `POST /feedback`: `{"request_id" | "user_id", "label"}`, the true label of an earlier
/// prediction (by request id, or the user's latest prediction).
pub(crate) async fn feedback(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    if state.config().protect_feedback {
        require_admin(&state, &headers)?;
    }
    let body: FeedbackBody = serde_json::from_slice(&body).map_err(|e| row::json_error(&e))?;
    let classes = state.inner.models.load().primary.classes.clone();
    let label = match &body.label {
        Value::String(s) => classes.iter().position(|c| c == s),
        Value::Number(n) => n
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .filter(|&n| n < classes.len()),
        _ => None,
    }
    .ok_or_else(|| {
        ApiError::invalid(
            "unknown_label",
            format!(
                "label must be a class name ({}) or its index",
                classes.join(", ")
            ),
        )
        .field("label")
    })?;
    let key = match (body.request_id, body.user_id) {
        (Some(id), _) => FeedbackKey::Request(id),
        (None, Some(user)) => FeedbackKey::User(user.0),
        (None, None) => {
            return Err(
                ApiError::bad_request("missing_field", "give request_id or user_id")
                    .field("request_id"),
            );
        }
    };
    let outcome = state.inner.monitor.feedback(key, label).await?;
    Ok(json(
        StatusCode::OK,
        &j!({
            "status": "recorded",
            "request_id": outcome.request_id,
            "label": classes.get(outcome.label),
            "correct": outcome.correct,
            "experiment": outcome.experiment,
        }),
    ))
}

/// `GET /monitoring/status?hours=24`.
pub(crate) async fn monitoring_status(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let max_hours = (state.config().monitor_retention.as_secs() / 3600).max(1);
    let mut hours = 24u64.min(max_hours);
    for pair in query
        .as_deref()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if k == "hours" {
            hours = v
                .parse::<u64>()
                .ok()
                .filter(|h| (1..=max_hours).contains(h))
                .ok_or_else(|| {
                    ApiError::invalid(
                        "out_of_range",
                        format!("hours must be an integer from 1 to {max_hours}"),
                    )
                    .field("hours")
                })?;
        }
    }
    state.flush_monitor().await;
    let models = state.inner.models.load_full();
    let shared = state.inner.monitor.shared.clone();
    let versions = models.loaded_versions();
    let (summary, by_version) = blocking(move || {
        let window = chrono::Duration::hours(i64::try_from(hours).unwrap_or(24));
        let monitor = shared
            .monitor
            .lock()
            .map_err(|_| crate::ServeError::Task("monitor lock poisoned".into()))?;
        let by_version: BTreeMap<String, _> = versions
            .iter()
            .map(|v| {
                let label = v.to_string();
                let s = monitor.summary_for_version(window, &label);
                (label, s)
            })
            .collect();
        Ok((monitor.summary(window), by_version))
    })
    .await
    .map_err(ApiError::internal)?;
    let shared = &state.inner.monitor.shared;
    let drift = shared.drift.lock().ok().and_then(|d| d.clone());
    let alerts = shared.alerts.lock().map(|a| a.clone()).unwrap_or_default();
    let drift = match (drift, models.primary.profile.is_some()) {
        (Some(d), _) => serde_json::to_value(d).unwrap_or(Value::Null),
        (None, true) => j!({"status": "pending", "message": format!(
            "drift is computed every {} s once {} rows have been served",
            state.config().check_interval.as_secs(), state.config().drift_min_rows)}),
        (None, false) => j!({"status": "unavailable", "message":
            "the served version has no reference profile"}),
    };
    Ok(json(
        StatusCode::OK,
        &j!({
            "model": models.primary.name,
            "primary_version": models.primary.version_label,
            "window_hours": hours,
            "summary": summary,
            "by_version": by_version,
            "drift": drift,
            "alerts": alerts,
            "recent_alerts": shared.recent_alerts.newest_first(),
            "webhooks": shared.webhooks.iter().map(|w| w.view()).collect::<Vec<_>>(),
            "retrain": state.retrain_history(),
            "queue": {
                "capacity": shared.capacity,
                "queued": shared.queued.load(Ordering::Relaxed),
                "dropped": shared.dropped.load(Ordering::Relaxed),
            },
        }),
    ))
}

/// `POST /admin/reload`: re-resolve the references now.
pub(crate) async fn admin_reload(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    require_admin(&state, &headers)?;
    let report = state.reload().await.map_err(ApiError::internal)?;
    if report.failures.is_empty() {
        return Ok(json(StatusCode::OK, &report));
    }
    let what: Vec<String> = report
        .failures
        .iter()
        .map(|f| match f.version {
            Some(v) => format!("{} -> version {v} (version {} kept)", f.reference, f.kept),
            None => format!("{} (version {} kept)", f.reference, f.kept),
        })
        .collect();
    Ok(json(
        StatusCode::INTERNAL_SERVER_ERROR,
        &j!({
            "error": {
                "code": "reload_failed",
                "message": format!("could not load {}; the previous versions keep serving (details in the server log)", what.join("; ")),
                "field": null,
            },
            "report": report,
        }),
    ))
}

/// The body of `POST /experiments`: the monitor crate's `AbTestConfig`, with the control
/// version defaulting to the primary one.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewExperiment {
    name: String,
    #[serde(default)]
    control_version: Option<row::UserId>,
    treatment_version: row::UserId,
    #[serde(default)]
    traffic_split: Option<f64>,
    #[serde(default)]
    duration_hours: Option<u64>,
    #[serde(default)]
    min_samples_per_variant: Option<usize>,
    #[serde(default)]
    significance_level: Option<f64>,
    #[serde(default)]
    segment: Option<Vec<obesity_monitor::SegmentRule>>,
    #[serde(default = "yes")]
    start: bool,
}

fn yes() -> bool {
    true
}

fn monitor_error(e: MonitorError) -> ApiError {
    match e {
        MonitorError::InvalidConfig { .. } => {
            ApiError::invalid("invalid_experiment", e.to_string())
        }
        MonitorError::ExperimentExists { .. } => {
            ApiError::new(StatusCode::CONFLICT, "experiment_exists", e.to_string()).field("name")
        }
        MonitorError::InvalidTransition { .. } => {
            ApiError::new(StatusCode::CONFLICT, "invalid_transition", e.to_string())
        }
        other => ApiError::internal(other),
    }
}

/// `POST /experiments`: create (and by default start) an A/B experiment between two
/// registered versions, which are loaded for it.
pub(crate) async fn create_experiment(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    require_admin(&state, &headers)?;
    let body: NewExperiment = serde_json::from_slice(&body).map_err(|e| row::json_error(&e))?;
    let models = state.inner.models.load_full();
    let control = body
        .control_version
        .map_or_else(|| models.primary.version_label.clone(), |v| v.0);
    let treatment = body.treatment_version.0;
    let name = models.primary.name.clone();
    for (field, v) in [
        ("control_version", &control),
        ("treatment_version", &treatment),
    ] {
        let number = v.parse::<u64>().map_err(|_| {
            ApiError::invalid("wrong_type", format!("{field} must be a version number"))
                .field(field)
        })?;
        if models.version(number).is_none() {
            let registry = state.inner.registry.clone();
            let model = name.clone();
            let found = blocking(move || Ok(registry.version(&model, number).map(|_| ())))
                .await
                .map_err(ApiError::internal)?;
            if let Err(e) = found {
                return Err(if e.is_not_found() {
                    ApiError::not_found(
                        "unknown_version",
                        format!("{name} has no version {number}"),
                    )
                    .field(field)
                } else {
                    ApiError::internal(e)
                });
            }
        }
    }
    let mut config = AbTestConfig::new(body.name.clone(), control, treatment);
    if let Some(v) = body.traffic_split {
        config.traffic_split = v;
    }
    if let Some(v) = body.duration_hours {
        config.duration_hours = v;
    }
    if let Some(v) = body.min_samples_per_variant {
        config.min_samples_per_variant = v;
    }
    if let Some(v) = body.significance_level {
        config.significance_level = v;
    }
    if let Some(v) = body.segment {
        config.segment = v;
    }
    if state.inner.experiments.get(&body.name).is_some() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "experiment_exists",
            format!("an experiment called {:?} exists", body.name),
        )
        .field("name"));
    }
    let dir = state.inner.experiments.dir.clone();
    let start = body.start;
    let test = blocking(move || {
        let clock = std::sync::Arc::new(SystemClock);
        let mut test = match &dir {
            Some(dir) => AbTest::create(dir, config, clock),
            None => AbTest::in_memory(config, clock),
        }?;
        if start {
            test.start()?;
        }
        Ok(test)
    })
    .await
    .map_err(|e| match e {
        crate::ServeError::Monitor(m) => monitor_error(m),
        other => ApiError::internal(other),
    })?;
    let status = test.status();
    let config = test.config().clone();
    state
        .inner
        .experiments
        .insert(body.name.clone(), test)
        .map_err(ApiError::internal)?;
    state.inner.experiments.refresh_default();
    let report = state.reload().await.map_err(ApiError::internal)?;
    let models = state.inner.models.load();
    let missing = [
        ("control_version", &config.control_version),
        ("treatment_version", &config.treatment_version),
    ]
    .into_iter()
    .find(|(_, v)| {
        v.parse::<u64>()
            .ok()
            .and_then(|v| models.version(v))
            .is_none()
    });
    if let Some((field, v)) = missing {
        state.inner.experiments.remove(&body.name);
        state.reload().await.map_err(ApiError::internal)?;
        return Err(ApiError::invalid(
            "unservable_version",
            format!("version {v} could not be loaded (details in the server log); the experiment was not created"),
        )
        .field(field));
    }
    Ok(json(
        StatusCode::CREATED,
        &j!({"name": body.name, "status": status, "config": config,
             "loaded_versions": report.loaded_versions}),
    ))
}

/// `GET /experiments`.
pub(crate) async fn list_experiments(State(state): State<AppState>) -> Response {
    let list: Vec<Value> = state
        .inner
        .experiments
        .all()
        .into_iter()
        .filter_map(|(name, t)| {
            let t = t.lock().ok()?;
            Some(
                j!({"name": name, "status": t.status(), "config": t.config(),
                     "started_at": t.started_at(), "ends_at": t.ends_at()}),
            )
        })
        .collect();
    let default = state.inner.experiments.default_route().map(|d| d.0.clone());
    json(
        StatusCode::OK,
        &j!({"experiments": list, "routing_default": default, "policy_log": state.policy_log()}),
    )
}

/// `GET /experiments/{name}/status`: the A/B analysis.
pub(crate) async fn experiment_status(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let test = state.inner.experiments.get(&name).ok_or_else(|| {
        ApiError::not_found(
            "unknown_experiment",
            format!("no experiment is called {name:?}"),
        )
        .field("name")
    })?;
    let body = {
        let t = test
            .lock()
            .map_err(|_| ApiError::internal("experiment lock poisoned"))?;
        let analysis = t.analyze().map_err(ApiError::internal)?;
        j!({
            "name": name,
            "status": t.status(),
            "config": t.config(),
            "started_at": t.started_at(),
            "ends_at": t.ends_at(),
            "expired": t.is_expired(),
            "analysis": analysis,
        })
    };
    Ok(json(StatusCode::OK, &body))
}

/// `POST /experiments/{name}/{start|pause|stop}`.
pub(crate) async fn experiment_action(
    State(state): State<AppState>,
    Path((name, action)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    require_admin(&state, &headers)?;
    let test = state.inner.experiments.get(&name).ok_or_else(|| {
        ApiError::not_found(
            "unknown_experiment",
            format!("no experiment is called {name:?}"),
        )
        .field("name")
    })?;
    let status = blocking(move || {
        let mut t = test
            .lock()
            .map_err(|_| crate::ServeError::Task("experiment lock poisoned".into()))?;
        match action.as_str() {
            "start" => t.start()?,
            "pause" => t.pause()?,
            "stop" => t.stop()?,
            _ => return Ok(None),
        }
        Ok(Some(t.status()))
    })
    .await
    .map_err(|e| match e {
        crate::ServeError::Monitor(m) => monitor_error(m),
        other => ApiError::internal(other),
    })?
    .ok_or_else(|| {
        ApiError::not_found("no_route", "the action must be start, pause or stop").field("action")
    })?;
    state.inner.experiments.refresh_default();
    // A stopped experiment no longer pins its versions.
    state.reload().await.map_err(ApiError::internal)?;
    Ok(json(StatusCode::OK, &j!({"name": name, "status": status})))
}

/// `GET /openapi.json`.
pub(crate) async fn openapi(State(state): State<AppState>) -> Response {
    let models = state.inner.models.load();
    json(StatusCode::OK, &crate::openapi::document(&models.primary))
}

/// `GET /docs`: the API page, served from the binary (it reads `/openapi.json`; no CDN).
pub(crate) async fn docs() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        )],
        include_str!("../docs.html"),
    )
        .into_response()
}

/// `GET /dashboard?refresh=15`: the production loop as one HTML page with inline SVG charts
/// (see [`crate::dashboard`]). `refresh` is the meta-refresh period in seconds, 0 for none.
pub(crate) async fn dashboard(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let mut refresh_secs = 15u64;
    for pair in query
        .as_deref()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if k == "refresh" {
            refresh_secs = v
                .parse::<u64>()
                .ok()
                .filter(|r| *r <= 3600)
                .ok_or_else(|| {
                    ApiError::invalid(
                        "out_of_range",
                        "refresh must be a whole number of seconds from 0 (off) to 3600",
                    )
                    .field("refresh")
                })?;
        }
    }
    // So that a page loaded right after some traffic shows it.
    state.flush_monitor().await;
    let models = state.inner.models.load_full();
    let shared = state.inner.monitor.shared.clone();
    let summary = blocking(move || {
        let monitor = shared
            .monitor
            .lock()
            .map_err(|_| crate::ServeError::Task("monitor lock poisoned".into()))?;
        Ok(monitor.summary(chrono::Duration::hours(1)))
    })
    .await
    .map_err(ApiError::internal)?;
    let shared = &state.inner.monitor.shared;
    let timeline = shared
        .timeline
        .lock()
        .map_err(|_| ApiError::internal("timeline lock poisoned"))?
        .clone();
    let mut versions: Vec<(std::sync::Arc<crate::model::ServedModel>, String)> = Vec::new();
    let roles = models
        .by_ref
        .iter()
        .zip(&state.inner.refs)
        .enumerate()
        .map(|(i, (m, r))| {
            let role = if i == 0 {
                format!("primary ({r})")
            } else {
                r.to_string()
            };
            (m.clone(), role)
        })
        .chain(
            models
                .pinned
                .iter()
                .map(|m| (m.clone(), "experiment".to_owned())),
        );
    for (m, role) in roles {
        match versions.iter_mut().find(|(v, _)| v.version == m.version) {
            Some((_, r)) => {
                r.push_str(", ");
                r.push_str(&role);
            }
            None => versions.push((m, role)),
        }
    }
    versions.sort_by_key(|(m, _)| std::cmp::Reverse(m.version));
    let experiments = state
        .inner
        .experiments
        .all()
        .into_iter()
        .filter_map(|(name, t)| {
            let t = t.lock().ok()?;
            Some((name, t.status(), t.analyze().ok()))
        })
        .collect();
    let snapshot = crate::dashboard::Snapshot {
        now: Utc::now(),
        refresh_secs,
        primary: models.primary.clone(),
        versions,
        summary,
        timeline,
        drift: shared.drift.lock().ok().and_then(|d| d.clone()),
        open_alerts: shared.alerts.lock().map(|a| a.clone()).unwrap_or_default(),
        recent_alerts: shared.recent_alerts.newest_first(),
        webhooks: shared.webhooks.iter().map(|w| w.view()).collect(),
        experiments,
        policy_log: state.policy_log(),
        retrain: state.retrain_history(),
        drift_min_rows: state.config().drift_min_rows,
    };
    let page = crate::dashboard::render(&snapshot);
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            // The page needs nothing from anywhere: a browser enforces that it asks for
            // nothing either.
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'",
                ),
            ),
        ],
        page,
    )
        .into_response())
}
