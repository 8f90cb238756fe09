//! `POST /predict` and `POST /predict/batch`: raw named features in, class, probabilities
//! per class name, confidence, version, variant, request id, latency and timestamp out.
//!
//! The single-row path is the one the load test measures: the body is parsed once into the
//! typed record (no `serde_json::Value`), the loaded set is read without a lock, the forest's
//! row kernel allocates nothing, and the response is written straight into its buffer. The
//! only other allocations are the request id and the one-row feature matrix.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{SecondsFormat, Utc};
use obesity_data::ObesityRecord;
use obesity_monitor::Variant;

use crate::batching::Arrival;
use crate::error::ApiError;
use crate::model::{Prediction, ServedModel};
use crate::monitor::{Failed, Served, ServedRow};
use crate::row;
use crate::state::{AppState, Models};

use super::answer::{self, quoted};
use super::json_bytes;

/// Which model a row goes to, and what the response calls that choice.
pub(crate) struct Route {
    pub(crate) model: Arc<ServedModel>,
    /// `control` / `treatment` under an experiment, else the default route's name.
    pub(crate) variant: &'static str,
    /// The experiment, when the user is enrolled in it (its outcome can be recorded).
    pub(crate) experiment: Option<Arc<str>>,
}

/// Chooses the model for one row: the named experiment, else the running default one, else
/// the primary version. An experiment assigns by user id (`AbTest::assign`); a request
/// without a user id gets the control arm and is not counted.
pub(crate) fn route(
    state: &AppState,
    models: &Models,
    experiment: Option<&str>,
    user_id: Option<&str>,
    record: &ObesityRecord,
) -> Result<Route, ApiError> {
    let default = Route {
        model: models.primary.clone(),
        variant: "default",
        experiment: None,
    };
    let experiments = &state.inner.experiments;
    let (name, test) = match experiment {
        Some(name) => match experiments.get(name) {
            Some(test) => (Arc::<str>::from(name), test),
            None => {
                return Err(ApiError::not_found(
                    "unknown_experiment",
                    format!("no experiment is called {name:?}"),
                )
                .field("experiment_name"));
            }
        },
        None => match experiments.default_route() {
            Some(active) => (Arc::<str>::from(active.0.as_str()), active.1.clone()),
            None => return Ok(default),
        },
    };
    let assignment = {
        let Ok(mut test) = test.lock() else {
            return Err(ApiError::internal("experiment lock poisoned"));
        };
        let empty = std::collections::BTreeMap::new();
        // Segment rules read raw features; building that map costs a few allocations, so
        // it is only built when the experiment has rules.
        let features = if test.config().segment.is_empty() {
            empty
        } else {
            models.primary.row.feature_values(record)
        };
        test.assign(user_id.unwrap_or(""), &features)
    };
    let version = assignment.model_version.parse::<u64>().ok();
    let Some(model) = version.and_then(|v| models.version(v)) else {
        tracing::warn!(
            experiment = %name,
            version = %assignment.model_version,
            "experiment version not loaded; serving the primary version"
        );
        return Ok(default);
    };
    Ok(Route {
        model: model.clone(),
        variant: match assignment.variant {
            Variant::Control => "control",
            Variant::Treatment => "treatment",
        },
        experiment: assignment.enrolled.then_some(name),
    })
}

fn variant_label<'a>(state: &'a AppState, variant: &'static str) -> &'a str {
    if variant == "default" {
        state.default_variant()
    } else {
        variant
    }
}

/// Logs a refused request to the monitor (error rate, data quality) and passes the error on.
pub(crate) fn refused(state: &AppState, version: u64, start: Instant, e: ApiError) -> ApiError {
    if e.status().is_client_error() {
        state.inner.monitor.failed(Failed {
            request_id: state.request_id(),
            version,
            latency_ms: start.elapsed().as_secs_f32() * 1e3,
            error: e.code(),
        });
    }
    e
}

/// `POST /predict`.
pub(crate) async fn predict(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let start = Instant::now();
    let models = state.inner.models.load();
    let primary = models.primary.version;
    let request = row::parse_predict(&body, &models.primary.row)
        .map_err(|e| refused(&state, primary, start, e))?;
    let routed = route(
        &state,
        &models,
        request.experiment.as_deref(),
        request.user_id.as_deref(),
        &request.record,
    )?;
    let prediction = routed
        .model
        .predict_one(&request.record)
        .map_err(|e| refused(&state, primary, start, e))?;
    let latency = start.elapsed();
    let request_id = state.request_id();
    let variant = quoted(variant_label(&state, routed.variant));
    let mut buf = Vec::with_capacity(128 + routed.model.answer_json.row_len());
    buf.push(b'{');
    answer::row_fields_into(
        &mut buf,
        &routed.model.answer_json,
        &prediction,
        &variant,
        request_id,
    );
    answer::tail_into(
        &mut buf,
        &quoted(&routed.model.name),
        latency.as_secs_f64() * 1e3,
        &Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true),
    );
    let response = json_bytes(StatusCode::OK, buf);
    state
        .inner
        .counters
        .predictions
        .fetch_add(1, Ordering::Relaxed);
    state.inner.monitor.served(Served {
        first_id: request_id,
        latency_ms: latency.as_secs_f32() * 1e3,
        records: vec![request.record],
        rows: vec![ServedRow {
            version: routed.model.version,
            class: prediction.class,
            confidence: prediction.confidence,
            user_id: request.user_id,
            experiment: routed.experiment,
        }],
    });
    Ok(response)
}

/// Predicts rows that may go to different versions: one batch-kernel call per version.
/// `routes` has one route per row, or a single route for every row. `arrival` is the
/// request's announcement to the primary version's executor.
pub(crate) async fn predict_routed(
    records: &[ObesityRecord],
    routes: &[Route],
    mut arrival: Option<Arrival>,
) -> Result<Vec<Prediction>, ApiError> {
    // The common case, every row on one version: one kernel call, no bookkeeping.
    if let Some(first) = routes.first()
        && routes.iter().all(|r| Arc::ptr_eq(&r.model, &first.model))
    {
        let model = &first.model;
        let proba = model.predict_many(records, arrival).await?;
        return Ok((0..records.len())
            .map(|i| model.row_prediction(&proba, i))
            .collect());
    }
    let mut out: Vec<Option<Prediction>> = vec![None; records.len()];
    let mut done = vec![false; records.len()];
    for i in 0..records.len() {
        if done[i] {
            continue;
        }
        let model = &routes[i].model;
        let members: Vec<usize> = (i..records.len())
            .filter(|&j| !done[j] && Arc::ptr_eq(&routes[j].model, model))
            .collect();
        // The first call takes the announcement; an executor it was not made for ends it.
        let proba = if members.len() == records.len() {
            model.predict_many(records, arrival.take()).await
        } else {
            let subset: Vec<ObesityRecord> = members.iter().map(|&j| records[j].clone()).collect();
            model.predict_many(&subset, arrival.take()).await
        }
        .map_err(|e| remap_row(e, &members))?;
        for (k, &j) in members.iter().enumerate() {
            out[j] = Some(model.row_prediction(&proba, k));
            done[j] = true;
        }
    }
    out.into_iter()
        .map(|p| p.ok_or_else(|| ApiError::internal("row without prediction")))
        .collect()
}

/// A pipeline error names the row of the sub-batch; name the request's row instead.
fn remap_row(e: ApiError, members: &[usize]) -> ApiError {
    let Some(field) = e.field_name() else {
        return e;
    };
    let Some(rest) = field.strip_prefix('[') else {
        return e;
    };
    let Some((index, tail)) = rest.split_once(']') else {
        return e;
    };
    let Some(&row) = index.parse::<usize>().ok().and_then(|k| members.get(k)) else {
        return e;
    };
    let field = format!("[{row}]{tail}");
    e.field(field)
}

/// `POST /predict/batch`.
pub(crate) async fn predict_batch(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let start = Instant::now();
    let models = state.inner.models.load();
    let primary = models.primary.version;
    let max_rows = state.config().max_batch_rows;
    let arrival = models.primary.announce();
    let batch = row::parse_batch(&body, &models.primary.row, max_rows)
        .map_err(|e| refused(&state, primary, start, e))?;
    // Without an experiment every row takes the default route: one route for the batch, not
    // one per row (each would clone the model's `Arc`, a shared counter both cores touch).
    let uniform = batch.experiment.is_none() && state.inner.experiments.default_route().is_none();
    let routes = if uniform {
        vec![route(&state, &models, None, None, &batch.records[0])?]
    } else {
        batch
            .records
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let user = batch
                    .user_ids
                    .as_ref()
                    .and_then(|ids| ids.get(i))
                    .and_then(Option::as_deref);
                route(&state, &models, batch.experiment.as_deref(), user, r)
            })
            .collect::<Result<Vec<Route>, ApiError>>()?
    };
    // Row `k`'s route.
    let route_of = |k: usize| routes.get(k).unwrap_or(&routes[0]);
    let predictions = predict_routed(&batch.records, &routes, arrival)
        .await
        .map_err(|e| e.within("batch_features"))
        .map_err(|e| refused(&state, primary, start, e))?;
    let latency = start.elapsed();
    let first_id = state.request_ids(batch.records.len());
    // The variant of a row, as a JSON string: rendered once for every run of rows on one
    // route (all of them, without an experiment).
    let mut variant: (&'static str, Vec<u8>) = ("", Vec::new());
    let row_len = routes.first().map_or(0, |r| r.model.answer_json.row_len());
    let mut buf = Vec::with_capacity(256 + row_len * batch.records.len());
    buf.extend_from_slice(b"{\"predictions\":[");
    for (k, p) in predictions.iter().enumerate() {
        let r = route_of(k);
        if k > 0 {
            buf.push(b',');
        }
        if variant.1.is_empty() || variant.0 != r.variant {
            variant = (r.variant, quoted(variant_label(&state, r.variant)));
        }
        buf.push(b'{');
        answer::row_fields_into(
            &mut buf,
            &r.model.answer_json,
            p,
            &variant.1,
            first_id.offset(k),
        );
        buf.push(b'}');
    }
    buf.extend_from_slice(b"],\"batch_size\":");
    answer::u64_into(&mut buf, batch.records.len() as u64);
    answer::tail_into(
        &mut buf,
        &quoted(&models.primary.name),
        latency.as_secs_f64() * 1e3,
        &Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true),
    );
    let response = json_bytes(StatusCode::OK, buf);
    let per_row_ms = latency.as_secs_f32() * 1e3;
    state
        .inner
        .counters
        .predictions
        .fetch_add(batch.records.len() as u64, Ordering::Relaxed);
    let mut users = batch.user_ids.unwrap_or_default().into_iter();
    let rows = predictions
        .iter()
        .enumerate()
        .map(|(k, p)| {
            let r = route_of(k);
            ServedRow {
                version: r.model.version,
                class: p.class,
                confidence: p.confidence,
                user_id: users.next().flatten(),
                experiment: r.experiment.clone(),
            }
        })
        .collect();
    state.inner.monitor.served(Served {
        first_id,
        latency_ms: per_row_ms,
        records: batch.records,
        rows,
    });
    Ok(response)
}

/// Logs rows served by another protocol (MLflow, v2) to the monitor.
pub(crate) fn log_served(
    state: &AppState,
    model: &ServedModel,
    records: Vec<ObesityRecord>,
    predictions: &[Prediction],
    start: Instant,
) {
    let latency_ms = start.elapsed().as_secs_f32() * 1e3;
    state
        .inner
        .counters
        .predictions
        .fetch_add(records.len() as u64, Ordering::Relaxed);
    let rows = predictions
        .iter()
        .map(|p| ServedRow {
            version: model.version,
            class: p.class,
            confidence: p.confidence,
            user_id: None,
            experiment: None,
        })
        .collect();
    state.inner.monitor.served(Served {
        first_id: state.request_ids(records.len()),
        latency_ms,
        records,
        rows,
    });
}
