//! MLflow's scoring protocol (`mlflow models serve`): `GET /ping`, `GET /version`,
//! `POST /invocations` with `dataframe_split`, `dataframe_records`, `instances` or `inputs`
//! (JSON) or `text/csv`, answering `{"predictions": [class names]}`.

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use obesity_data::ObesityRecord;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::row::{self, RowSchema, Scalar};
use crate::state::AppState;

use super::json;
use super::predict::{log_served, refused};

/// `GET /ping`: 200 once a model is loaded (always, for a running service).
pub(crate) async fn ping() -> impl IntoResponse {
    (StatusCode::OK, "\n")
}

/// `GET /version`: the service's version, as text.
pub(crate) async fn version() -> impl IntoResponse {
    (StatusCode::OK, env!("CARGO_PKG_VERSION"))
}

#[derive(Serialize)]
struct Predictions<'a> {
    predictions: Vec<&'a str>,
}

fn media_type(headers: &HeaderMap) -> Option<String> {
    let raw = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    Some(
        raw.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase(),
    )
}

/// `POST /invocations`.
pub(crate) async fn invocations(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let start = Instant::now();
    let models = state.inner.models.load();
    let model = models.primary.clone();
    let max_rows = state.config().max_batch_rows;
    let arrival = model.announce();
    let records = match media_type(&headers).as_deref() {
        Some("application/json") => parse_json(&body, &model.row, max_rows),
        Some("text/csv") => parse_csv(&body, &model.row, max_rows),
        other => {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                format!(
                    "Content-Type {} is not supported; send application/json (dataframe_split, dataframe_records, instances or inputs) or text/csv",
                    other.map_or("(none)".to_owned(), |o| format!("{o:?}"))
                ),
            )
            .field("Content-Type"));
        }
    }
    .map_err(|e| refused(&state, model.version, start, e))?;
    let proba = model
        .predict_many(&records, arrival)
        .await
        .map_err(|e| refused(&state, model.version, start, e))?;
    let predictions: Vec<_> = (0..records.len())
        .map(|i| model.row_prediction(&proba, i))
        .collect();
    let response = json(
        StatusCode::OK,
        &Predictions {
            predictions: predictions
                .iter()
                .map(|p| model.classes.get(p.class).map_or("", String::as_str))
                .collect(),
        },
    );
    log_served(&state, &model, records, &predictions, start);
    Ok(response)
}

fn check_rows(n: usize, max_rows: usize, path: &str) -> Result<(), ApiError> {
    if n > max_rows {
        return Err(row::too_many_rows(path, max_rows));
    }
    if n == 0 {
        return Err(ApiError::invalid("empty_batch", "no rows to predict").field(path.to_owned()));
    }
    Ok(())
}

/// The JSON formats. Exactly one of the four input keys; `params` is accepted and ignored
/// (the model takes none).
fn parse_json(
    body: &[u8],
    schema: &RowSchema,
    max_rows: usize,
) -> Result<Vec<ObesityRecord>, ApiError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| row::json_error(&e))?;
    let Value::Object(top) = value else {
        return Err(ApiError::bad_request(
            "invalid_body",
            "expected a JSON object with one of dataframe_split, dataframe_records, instances, inputs",
        ));
    };
    const KEYS: [&str; 4] = [
        "dataframe_split",
        "dataframe_records",
        "instances",
        "inputs",
    ];
    for k in top.keys() {
        if !KEYS.contains(&k.as_str()) && k != "params" {
            return Err(ApiError::bad_request(
                "unknown_field",
                format!(
                    "unknown field {k:?}; expected one of {} (and params)",
                    KEYS.join(", ")
                ),
            )
            .field(k.clone()));
        }
    }
    let given: Vec<&str> = KEYS
        .iter()
        .copied()
        .filter(|k| top.contains_key(*k))
        .collect();
    let key = match given.as_slice() {
        [one] => *one,
        [] => {
            return Err(ApiError::bad_request(
                "missing_field",
                format!("expected one of {}", KEYS.join(", ")),
            ));
        }
        more => {
            return Err(ApiError::bad_request(
                "ambiguous_input",
                format!("give only one of {}", more.join(", ")),
            )
            .field(more[1].to_owned()));
        }
    };
    let input = &top[key];
    match (key, input) {
        ("dataframe_split", Value::Object(split)) => split_rows(schema, split, max_rows),
        ("dataframe_split", _) => Err(ApiError::bad_request(
            "wrong_type",
            "dataframe_split must be an object {\"columns\": [...], \"data\": [[...]]}",
        )
        .field("dataframe_split")),
        (_, Value::Array(rows)) => list_rows(schema, rows, key, max_rows),
        ("inputs" | "instances", Value::Object(columns)) => {
            columnar_rows(schema, columns, key, max_rows)
        }
        _ => Err(
            ApiError::bad_request("wrong_type", format!("{key} must be an array of records"))
                .field(key.to_owned()),
        ),
    }
}

/// `[{"Age": 23, ...}, ...]` or `[[23, ...], ...]` (values in signature order).
fn list_rows(
    schema: &RowSchema,
    rows: &[Value],
    key: &str,
    max_rows: usize,
) -> Result<Vec<ObesityRecord>, ApiError> {
    check_rows(rows.len(), max_rows, key)?;
    rows.iter()
        .enumerate()
        .map(|(i, r)| {
            let at = format!("{key}[{i}]");
            match r {
                Value::Object(o) => row::row_from_object(schema, o).map_err(|e| e.within(&at)),
                Value::Array(values) => positional(schema, None, values).map_err(|e| e.within(&at)),
                _ => Err(ApiError::bad_request(
                    "wrong_type",
                    "each row must be an object or an array",
                )
                .field(at)),
            }
        })
        .collect()
}

/// A row of values in `columns` order (or signature order without column names).
fn positional(
    schema: &RowSchema,
    columns: Option<&[usize]>,
    values: &[Value],
) -> Result<ObesityRecord, ApiError> {
    let n = columns.map_or(schema.fields().len(), <[usize]>::len);
    if values.len() != n {
        return Err(ApiError::bad_request(
            "wrong_shape",
            format!("the row has {} values for {n} columns", values.len()),
        ));
    }
    let mut builder = schema.builder();
    for (k, v) in values.iter().enumerate() {
        let i = columns.map_or(k, |c| c[k]);
        builder.set_index(i, Scalar::from_json(v))?;
    }
    builder.finish()
}

/// The signature indices of a list of column names.
fn column_indices(
    schema: &RowSchema,
    columns: &[Value],
    path: &str,
) -> Result<Vec<usize>, ApiError> {
    columns
        .iter()
        .enumerate()
        .map(|(k, c)| {
            let name = c.as_str().ok_or_else(|| {
                ApiError::bad_request("wrong_type", "column names must be strings")
                    .field(format!("{path}[{k}]"))
            })?;
            schema.index_of(name).ok_or_else(|| {
                ApiError::invalid("unknown_feature", format!("unknown column {name:?}"))
                    .field(name.to_owned())
            })
        })
        .collect()
}

/// pandas' `orient="split"`: `{"columns": [...], "data": [[...]], "index": [...]}`.
fn split_rows(
    schema: &RowSchema,
    split: &Map<String, Value>,
    max_rows: usize,
) -> Result<Vec<ObesityRecord>, ApiError> {
    let at = "dataframe_split";
    for k in split.keys() {
        if !matches!(k.as_str(), "columns" | "data" | "index") {
            return Err(ApiError::bad_request(
                "unknown_field",
                format!("unknown field {k:?}; expected columns, data, index"),
            )
            .field(format!("{at}.{k}")));
        }
    }
    let columns = match split.get("columns") {
        Some(Value::Array(c)) => {
            Some(column_indices(schema, c, "columns").map_err(|e| e.within(at))?)
        }
        Some(_) => {
            return Err(
                ApiError::bad_request("wrong_type", "columns must be an array of names")
                    .field(format!("{at}.columns")),
            );
        }
        None => None,
    };
    let Some(Value::Array(data)) = split.get("data") else {
        return Err(
            ApiError::bad_request("missing_field", "dataframe_split needs a data array")
                .field(format!("{at}.data")),
        );
    };
    check_rows(data.len(), max_rows, &format!("{at}.data"))?;
    data.iter()
        .enumerate()
        .map(|(i, r)| {
            let path = format!("{at}.data[{i}]");
            match r {
                Value::Array(values) => {
                    positional(schema, columns.as_deref(), values).map_err(|e| e.within(&path))
                }
                _ => Err(
                    ApiError::bad_request("wrong_type", "each data row must be an array")
                        .field(path),
                ),
            }
        })
        .collect()
}

/// `{"Age": [23, 31], "Gender": ["Male", "Female"], ...}`.
fn columnar_rows(
    schema: &RowSchema,
    columns: &Map<String, Value>,
    key: &str,
    max_rows: usize,
) -> Result<Vec<ObesityRecord>, ApiError> {
    let mut n = None;
    let mut cols = Vec::with_capacity(columns.len());
    for (name, values) in columns {
        let i = schema.index_of(name).ok_or_else(|| {
            ApiError::invalid("unknown_feature", format!("unknown column {name:?}"))
                .field(format!("{key}.{name}"))
        })?;
        let Value::Array(values) = values else {
            return Err(
                ApiError::bad_request("wrong_type", "each column must be an array")
                    .field(format!("{key}.{name}")),
            );
        };
        match n {
            None => n = Some(values.len()),
            Some(m) if m != values.len() => {
                return Err(ApiError::bad_request(
                    "wrong_shape",
                    format!("column {name} has {} values, others have {m}", values.len()),
                )
                .field(format!("{key}.{name}")));
            }
            Some(_) => {}
        }
        cols.push((i, values));
    }
    let n = n.unwrap_or(0);
    check_rows(n, max_rows, key)?;
    (0..n)
        .map(|r| {
            let mut builder = schema.builder();
            for (i, values) in &cols {
                builder
                    .set_index(*i, Scalar::from_json(&values[r]))
                    .map_err(|e| e.within(&format!("{key}[{r}]")))?;
            }
            builder
                .finish()
                .map_err(|e| e.within(&format!("{key}[{r}]")))
        })
        .collect()
}

/// `text/csv` with a header row naming the columns.
fn parse_csv(
    body: &[u8],
    schema: &RowSchema,
    max_rows: usize,
) -> Result<Vec<ObesityRecord>, ApiError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_reader(body);
    let bad_csv =
        |e: csv::Error| ApiError::bad_request("malformed_csv", format!("malformed CSV: {e}"));
    let header: Vec<String> = reader
        .headers()
        .map_err(bad_csv)?
        .iter()
        .map(str::to_owned)
        .collect();
    let columns = header
        .iter()
        .map(|name| {
            schema.index_of(name).ok_or_else(|| {
                ApiError::invalid("unknown_feature", format!("unknown column {name:?}"))
                    .field(format!("csv.{name}"))
            })
        })
        .collect::<Result<Vec<usize>, ApiError>>()?;
    let mut rows = Vec::new();
    for (r, record) in reader.records().enumerate() {
        let record = record.map_err(bad_csv)?;
        if rows.len() == max_rows {
            return Err(row::too_many_rows("csv", max_rows));
        }
        let mut builder = schema.builder();
        for (k, cell) in record.iter().enumerate() {
            let Some(&i) = columns.get(k) else {
                return Err(ApiError::bad_request(
                    "wrong_shape",
                    "a row has more cells than the header",
                )
                .field(format!("csv[{r}]")));
            };
            builder
                .set_text(i, cell)
                .map_err(|e| e.within(&format!("csv[{r}]")))?;
        }
        rows.push(
            builder
                .finish()
                .map_err(|e| e.within(&format!("csv[{r}]")))?,
        );
    }
    check_rows(rows.len(), max_rows, "csv")?;
    Ok(rows)
}
