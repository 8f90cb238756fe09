//! The Open Inference Protocol v2 (KServe, Triton, Seldon): JSON tensors, one input tensor
//! per raw field (`BYTES` for categorical fields, `FP64` for numeric ones — `FP32` and the
//! integer types are accepted too), shape `[n]` or `[n, 1]`.
//!
//! Outputs: `label` (BYTES `[n, 1]`, the class name), `probabilities` (FP32 `[n, classes]`,
//! class order as in `/model/info`) and `class_index` (INT64 `[n, 1]`). A request without
//! `outputs` gets all three. Binary tensor data (the protocol's binary extension) is refused
//! with a message saying to send JSON (`binary_data=False` in tritonclient).

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use obesity_data::ObesityRecord;
use serde::Serialize;
use serde_json::{Value, json as j};

use crate::error::ApiError;
use crate::model::ServedModel;
use crate::row::{self, Scalar};
use crate::state::{AppState, Models};

use super::json;
use super::predict::{log_served, refused};

const OUTPUTS: [&str; 3] = ["label", "probabilities", "class_index"];
const NUMERIC_TYPES: [&str; 10] = [
    "FP32", "FP64", "INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64",
];

/// `GET /v2`.
pub(crate) async fn server_metadata() -> Response {
    json(
        StatusCode::OK,
        &j!({"name": "obesity-serve", "version": env!("CARGO_PKG_VERSION"), "extensions": []}),
    )
}

/// `GET /v2/health/live`.
pub(crate) async fn live() -> Response {
    json(StatusCode::OK, &j!({"live": true}))
}

/// `GET /v2/health/ready`: ready once a version is loaded, which a running service always has.
pub(crate) async fn ready() -> Response {
    json(StatusCode::OK, &j!({"ready": true}))
}

fn model_for(
    models: &Models,
    name: &str,
    version: Option<&str>,
) -> Result<Arc<ServedModel>, ApiError> {
    if name != models.primary.name {
        return Err(ApiError::not_found(
            "unknown_model",
            format!(
                "no model is called {name:?}; this server serves {:?}",
                models.primary.name
            ),
        )
        .field("name"));
    }
    match version {
        None => Ok(models.primary.clone()),
        Some(v) => v
            .parse::<u64>()
            .ok()
            .and_then(|v| models.version(v))
            .cloned()
            .ok_or_else(|| {
                ApiError::not_found(
                    "unknown_version",
                    format!(
                        "version {v:?} of {name} is not loaded; loaded: {:?}",
                        models.loaded_versions()
                    ),
                )
                .field("version")
            }),
    }
}

fn metadata(models: &Models, model: &ServedModel) -> Value {
    let inputs: Vec<Value> = model
        .row
        .fields()
        .iter()
        .map(|f| {
            j!({
                "name": f.name,
                "datatype": if f.is_numeric() { "FP64" } else { "BYTES" },
                "shape": [-1, 1],
            })
        })
        .collect();
    j!({
        "name": model.name,
        "versions": models.loaded_versions().iter().map(u64::to_string).collect::<Vec<_>>(),
        "platform": format!("obesity_{}", model.classifier_name),
        "inputs": inputs,
        "outputs": [
            {"name": "label", "datatype": "BYTES", "shape": [-1, 1]},
            {"name": "probabilities", "datatype": "FP32", "shape": [-1, model.n_classes()]},
            {"name": "class_index", "datatype": "INT64", "shape": [-1, 1]},
        ],
        "parameters": {"classes": model.classes, "version": model.version_label},
    })
}

/// `GET /v2/models/{name}`.
pub(crate) async fn model_metadata(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let models = state.inner.models.load();
    let model = model_for(&models, &name, None)?;
    Ok(json(StatusCode::OK, &metadata(&models, &model)))
}

/// `GET /v2/models/{name}/versions/{version}`.
pub(crate) async fn version_metadata(
    State(state): State<AppState>,
    Path((name, version)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let models = state.inner.models.load();
    let model = model_for(&models, &name, Some(&version))?;
    Ok(json(StatusCode::OK, &metadata(&models, &model)))
}

/// `GET /v2/models/{name}/ready`.
pub(crate) async fn model_ready(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let models = state.inner.models.load();
    model_for(&models, &name, None)?;
    Ok(json(StatusCode::OK, &j!({"name": name, "ready": true})))
}

/// `GET /v2/models/{name}/versions/{version}/ready`.
pub(crate) async fn version_ready(
    State(state): State<AppState>,
    Path((name, version)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let models = state.inner.models.load();
    model_for(&models, &name, Some(&version))?;
    Ok(json(
        StatusCode::OK,
        &j!({"name": name, "version": version, "ready": true}),
    ))
}

/// `POST /v2/models/{name}/infer`.
pub(crate) async fn infer(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    run_infer(state, name, None, headers, body).await
}

/// `POST /v2/models/{name}/versions/{version}/infer`.
pub(crate) async fn version_infer(
    State(state): State<AppState>,
    Path((name, version)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    run_infer(state, name, Some(version), headers, body).await
}

#[derive(Serialize)]
struct Output<'a> {
    name: &'static str,
    datatype: &'static str,
    shape: [usize; 2],
    data: OutputData<'a>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum OutputData<'a> {
    Labels(Vec<&'a str>),
    Floats(Vec<f32>),
    Ints(Vec<usize>),
}

#[derive(Serialize)]
struct InferAnswer<'a> {
    model_name: &'a str,
    model_version: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    outputs: Vec<Output<'a>>,
}

async fn run_infer(
    state: AppState,
    name: String,
    version: Option<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let start = Instant::now();
    let models = state.inner.models.load();
    let model = model_for(&models, &name, version.as_deref())?;
    // The binary extension is marked by this header (tritonclient sends it only when some
    // tensor is binary); any Content-Type, or none, is otherwise read as JSON.
    if headers.contains_key("inference-header-content-length") {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "binary_data_unsupported",
            "binary tensor data is not supported; send JSON tensors (tritonclient: binary_data=False)",
        )
        .field("Inference-Header-Content-Length"));
    }
    let max_rows = state.config().max_batch_rows;
    let arrival = model.announce();
    let (records, request_id, wanted) = parse_infer(&body, &model, max_rows)
        .map_err(|e| refused(&state, model.version, start, e))?;
    let proba = model
        .predict_many(&records, arrival)
        .await
        .map_err(|e| refused(&state, model.version, start, e))?;
    let n = records.len();
    let predictions: Vec<_> = (0..n).map(|i| model.row_prediction(&proba, i)).collect();
    let k = model.n_classes();
    let outputs = wanted
        .iter()
        .map(|&o| match o {
            "label" => Output {
                name: "label",
                datatype: "BYTES",
                shape: [n, 1],
                data: OutputData::Labels(
                    predictions
                        .iter()
                        .map(|p| model.classes.get(p.class).map_or("", String::as_str))
                        .collect(),
                ),
            },
            "probabilities" => Output {
                name: "probabilities",
                datatype: "FP32",
                shape: [n, k],
                data: OutputData::Floats(proba.iter().copied().collect()),
            },
            _ => Output {
                name: "class_index",
                datatype: "INT64",
                shape: [n, 1],
                data: OutputData::Ints(predictions.iter().map(|p| p.class).collect()),
            },
        })
        .collect();
    let response = json(
        StatusCode::OK,
        &InferAnswer {
            model_name: &model.name,
            model_version: &model.version_label,
            id: request_id.as_deref(),
            outputs,
        },
    );
    log_served(&state, &model, records, &predictions, start);
    Ok(response)
}

type Parsed = (Vec<ObesityRecord>, Option<String>, Vec<&'static str>);

/// Reads the request: one tensor per signature field, all with the same row count.
fn parse_infer(body: &[u8], model: &ServedModel, max_rows: usize) -> Result<Parsed, ApiError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| row::json_error(&e))?;
    let Value::Object(top) = value else {
        return Err(ApiError::bad_request(
            "invalid_body",
            "expected an inference request object {\"inputs\": [...]}",
        ));
    };
    let id = match top.get("id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            return Err(ApiError::bad_request("wrong_type", "id must be a string").field("id"));
        }
    };
    // `parameters` (request and tensor level) are hints this server has no use for: ignored.
    let Some(Value::Array(inputs)) = top.get("inputs") else {
        return Err(
            ApiError::bad_request("missing_field", "the request needs an inputs array")
                .field("inputs"),
        );
    };
    let wanted = requested_outputs(top.get("outputs"))?;
    let schema = &model.row;
    let fields = schema.fields();
    let mut tensors: Vec<Option<(usize, Vec<&Value>)>> = vec![None; fields.len()];
    let mut rows: Option<usize> = None;
    for (t, tensor) in inputs.iter().enumerate() {
        let at = |what: &str| format!("inputs[{t}].{what}");
        let Value::Object(tensor) = tensor else {
            return Err(
                ApiError::bad_request("wrong_type", "each input must be a tensor object")
                    .field(format!("inputs[{t}]")),
            );
        };
        let Some(name) = tensor.get("name").and_then(Value::as_str) else {
            return Err(
                ApiError::bad_request("missing_field", "the tensor has no name").field(at("name")),
            );
        };
        let Some(i) = schema.index_of(name) else {
            return Err(ApiError::invalid(
                "unknown_feature",
                format!(
                    "unknown input tensor {name:?}; the model takes {}",
                    fields
                        .iter()
                        .map(|f| f.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
            .field(at("name")));
        };
        if tensors[i].is_some() {
            return Err(ApiError::bad_request(
                "duplicate_feature",
                format!("input tensor {name:?} is given twice"),
            )
            .field(at("name")));
        }
        let datatype = tensor.get("datatype").and_then(Value::as_str).unwrap_or("");
        let ok = if fields[i].is_numeric() {
            NUMERIC_TYPES.contains(&datatype)
        } else {
            datatype == "BYTES"
        };
        if !ok {
            return Err(ApiError::bad_request(
                "wrong_datatype",
                format!(
                    "input {name:?} has datatype {datatype:?}; expected {}",
                    if fields[i].is_numeric() {
                        "FP64, FP32 or an integer type"
                    } else {
                        "BYTES"
                    }
                ),
            )
            .field(at("datatype")));
        }
        let shape = shape_of(tensor.get("shape")).ok_or_else(|| {
            ApiError::bad_request(
                "wrong_shape",
                format!("input {name:?} needs a shape of non-negative integers"),
            )
            .field(at("shape"))
        })?;
        let n = match shape.as_slice() {
            [n] | [n, 1] => *n,
            _ => {
                return Err(ApiError::bad_request(
                    "wrong_shape",
                    format!("input {name:?} has shape {shape:?}; expected [n] or [n, 1] (one value per row)"),
                )
                .field(at("shape")));
            }
        };
        let mut data = Vec::with_capacity(n.min(max_rows));
        match tensor.get("data") {
            Some(d) => flatten(d, &mut data, max_rows.saturating_add(1)),
            None => {
                return Err(ApiError::bad_request(
                    "missing_field",
                    format!("input {name:?} has no data"),
                )
                .field(at("data")));
            }
        }
        if data.len() != n {
            return Err(ApiError::bad_request(
                "wrong_shape",
                format!(
                    "input {name:?} has {} values for shape {shape:?}",
                    data.len()
                ),
            )
            .field(at("data")));
        }
        match rows {
            None => rows = Some(n),
            Some(m) if m != n => {
                return Err(ApiError::bad_request(
                    "wrong_shape",
                    format!("input {name:?} has {n} rows, other inputs have {m}"),
                )
                .field(at("shape")));
            }
            Some(_) => {}
        }
        tensors[i] = Some((t, data));
    }
    if let Some(missing) = tensors.iter().position(Option::is_none) {
        let name = &fields[missing].name;
        return Err(ApiError::invalid(
            "missing_feature",
            format!("input tensor {name:?} is missing"),
        )
        .field(name.clone()));
    }
    let n = rows.unwrap_or(0);
    if n > max_rows {
        return Err(row::too_many_rows("inputs", max_rows));
    }
    if n == 0 {
        return Err(ApiError::invalid("empty_batch", "the tensors have no rows").field("inputs"));
    }
    let records = (0..n)
        .map(|r| {
            let mut builder = schema.builder();
            for (i, tensor) in tensors.iter().enumerate() {
                if let Some((t, data)) = tensor {
                    builder
                        .set_index(i, Scalar::from_json(data[r]))
                        .map_err(|e| e.field(format!("inputs[{t}].data[{r}]")))?;
                }
            }
            builder.finish()
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    Ok((records, id, wanted))
}

fn requested_outputs(outputs: Option<&Value>) -> Result<Vec<&'static str>, ApiError> {
    let Some(outputs) = outputs else {
        return Ok(OUTPUTS.to_vec());
    };
    let Value::Array(outputs) = outputs else {
        return Err(
            ApiError::bad_request("wrong_type", "outputs must be an array").field("outputs"),
        );
    };
    if outputs.is_empty() {
        return Ok(OUTPUTS.to_vec());
    }
    outputs
        .iter()
        .enumerate()
        .map(|(k, o)| {
            let name = o.get("name").and_then(Value::as_str).unwrap_or("");
            OUTPUTS.iter().copied().find(|x| *x == name).ok_or_else(|| {
                ApiError::bad_request(
                    "unknown_output",
                    format!(
                        "unknown output {name:?}; the model has {}",
                        OUTPUTS.join(", ")
                    ),
                )
                .field(format!("outputs[{k}].name"))
            })
        })
        .collect()
}

fn shape_of(shape: Option<&Value>) -> Option<Vec<usize>> {
    shape?
        .as_array()?
        .iter()
        .map(|d| d.as_u64().and_then(|d| usize::try_from(d).ok()))
        .collect()
}

/// Row-major flattening of nested `data` (the protocol allows both forms), stopping past
/// `limit` values.
fn flatten<'a>(v: &'a Value, out: &mut Vec<&'a Value>, limit: usize) {
    match v {
        Value::Array(items) => {
            for item in items {
                if out.len() >= limit {
                    return;
                }
                flatten(item, out, limit);
            }
        }
        other => out.push(other),
    }
}

/// The Open Inference Protocol's error answer is `{"error": "<message>"}`: tritonclient and
/// KServe's clients read `error` as a string (a JSON object there made tritonclient raise a
/// `TypeError` instead of showing the message). On `/v2/...` routes our error object is
/// flattened to that shape, with `code` and `field` kept beside it for clients that want them.
pub(crate) async fn protocol_error_shape(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let is_v2 = request.uri().path().starts_with("/v2");
    let response = next.run(request).await;
    if !is_v2 || response.status().as_u16() < 400 {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    // Our error bodies are a few hundred bytes; anything larger is passed on untouched.
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return axum::response::Response::from_parts(parts, axum::body::Body::empty());
    };
    let flattened = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|v| flatten_error(&v));
    let body = match flattened {
        Some(v) => {
            parts.headers.remove(axum::http::header::CONTENT_LENGTH);
            axum::body::Body::from(v.to_string())
        }
        None => axum::body::Body::from(bytes),
    };
    axum::response::Response::from_parts(parts, body)
}

/// `{"error": {"code", "message", "field"}}` → `{"error": message, "code", "field"}`.
fn flatten_error(body: &serde_json::Value) -> Option<serde_json::Value> {
    let e = body.get("error")?.as_object()?;
    let mut out = serde_json::Map::new();
    out.insert("error".to_owned(), e.get("message")?.clone());
    for key in ["code", "field"] {
        if let Some(v) = e.get(key) {
            out.insert(key.to_owned(), v.clone());
        }
    }
    Some(serde_json::Value::Object(out))
}

#[cfg(test)]
mod error_shape_tests {
    use super::flatten_error;
    use serde_json::json;

    #[test]
    fn error_object_is_flattened_to_the_protocol_string() {
        let v =
            json!({"error": {"code": "unknown_model", "message": "no model x", "field": "name"}});
        assert_eq!(
            flatten_error(&v),
            Some(json!({"error": "no model x", "code": "unknown_model", "field": "name"}))
        );
        assert_eq!(flatten_error(&json!({"error": "already flat"})), None);
    }
}
