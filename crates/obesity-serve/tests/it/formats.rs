//! The MLflow scoring protocol and the Open Inference Protocol v2: every input format gives
//! the library's predictions.

use axum::body::Body;
use axum::http::{Request, header};
use obesity_serve::router;
use serde_json::{Value, json};

use crate::support::*;

/// The class the library predicts for each row.
fn library_classes(fx: &Fixture, records: &[obesity_data::ObesityRecord]) -> Vec<String> {
    let (p, classes) = fx.library_proba(1, records);
    p.rows()
        .into_iter()
        .map(|r| {
            let best = (0..r.len()).fold(0, |b, k| if r[k] > r[b] { k } else { b });
            classes[best].clone()
        })
        .collect()
}

#[tokio::test]
async fn mlflow_ping_and_version() {
    let fx = Fixture::new();
    let state = fx.state().await;
    let app = router(state.clone());
    let (s, _) = call(&app, get("/ping")).await;
    assert_eq!(s, 200);
    let (s, v) = call(&app, get("/version")).await;
    assert_eq!(s, 200);
    assert_eq!(v, env!("CARGO_PKG_VERSION"));
    state.shutdown().await;
}

#[tokio::test]
async fn every_mlflow_input_format_gives_the_library_classes() {
    let fx = Fixture::new();
    let state = fx.state().await;
    let app = router(state.clone());
    let records = rows(25);
    let want = library_classes(&fx, &records);
    let maps: Vec<_> = records.iter().map(row_map).collect();
    let columns: Vec<String> = maps[0].keys().cloned().collect();
    // pandas' orient="split" (with index, as MLflow's client sends it), columns in a
    // different order than the signature.
    let mut shuffled = columns.clone();
    shuffled.reverse();
    let data: Vec<Vec<Value>> = maps
        .iter()
        .map(|m| shuffled.iter().map(|c| m[c].clone()).collect())
        .collect();
    let columnar: serde_json::Map<String, Value> = columns
        .iter()
        .map(|c| {
            (
                c.clone(),
                Value::Array(maps.iter().map(|m| m[c].clone()).collect()),
            )
        })
        .collect();
    let bodies = [
        (
            "dataframe_split",
            json!({"dataframe_split": {"columns": shuffled, "data": data, "index": (0..25).collect::<Vec<_>>()}}),
        ),
        ("dataframe_records", json!({"dataframe_records": maps})),
        ("instances", json!({"instances": maps})),
        ("inputs (columnar)", json!({"inputs": columnar})),
        (
            "inputs (records) with params",
            json!({"inputs": maps, "params": {"x": 1}}),
        ),
    ];
    for (what, body) in bodies {
        let (s, b) = call(&app, post_json("/invocations", &body)).await;
        assert_eq!(s, 200, "{what}: {b}");
        let got: Vec<String> = serde_json::from_value(b["predictions"].clone()).unwrap();
        assert_eq!(got, want, "{what}");
    }
    // JSON with a charset parameter.
    let request = Request::post("/invocations")
        .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
        .body(Body::from(json!({"dataframe_records": maps}).to_string()))
        .unwrap();
    let (s, b) = call(&app, request).await;
    assert_eq!(s, 200, "{b}");
    // text/csv with a header.
    let mut csv = columns.join(",") + "\n";
    for m in &maps {
        let cells: Vec<String> = columns
            .iter()
            .map(|c| match &m[c] {
                Value::String(s) => s.clone(),
                v => v.to_string(),
            })
            .collect();
        csv += &(cells.join(",") + "\r\n");
    }
    let request = Request::post("/invocations")
        .header(header::CONTENT_TYPE, "text/csv")
        .body(Body::from(csv))
        .unwrap();
    let (s, b) = call(&app, request).await;
    assert_eq!(s, 200, "{b}");
    let got: Vec<String> = serde_json::from_value(b["predictions"].clone()).unwrap();
    assert_eq!(got, want, "csv");
    state.shutdown().await;
}

#[tokio::test]
async fn mlflow_bad_inputs_name_the_field() {
    let fx = Fixture::new();
    let state = fx.state().await;
    let app = router(state.clone());
    let m = row_map(&rows(1)[0]);
    let mut bad_age = m.clone();
    bad_age.insert("Age".into(), json!("old"));
    let cases = [
        (
            json!({"dataframe_records": [m, bad_age]}),
            422,
            "wrong_type",
            "dataframe_records[1].Age",
        ),
        (
            json!({"dataframe_split": {"columns": ["Age"], "data": [[23]]}}),
            422,
            "missing_feature",
            "dataframe_split.data[0].Gender",
        ),
        (
            json!({"dataframe_split": {"columns": ["Age", "Shoe"], "data": [[23, 1]]}}),
            422,
            "unknown_feature",
            "dataframe_split.Shoe",
        ),
        (
            json!({"dataframe_split": {"columns": ["Age"], "data": [[23, 1]]}}),
            400,
            "wrong_shape",
            "dataframe_split.data[0]",
        ),
        (
            json!({"instances": [m], "inputs": [m]}),
            400,
            "ambiguous_input",
            "inputs",
        ),
        (json!({"records": [m]}), 400, "unknown_field", "records"),
        (
            json!({"inputs": {"Age": [1, 2], "Weight": [3]}}),
            400,
            "wrong_shape",
            "inputs.Weight",
        ),
    ];
    for (body, status, code, field) in cases {
        let (s, b) = call(&app, post_json("/invocations", &body)).await;
        assert_eq!(s.as_u16(), status, "{body}: {b}");
        assert_eq!(
            error_of(&b),
            (code.to_owned(), Some(field.to_owned())),
            "{body}"
        );
    }
    let request = Request::post("/invocations")
        .header(header::CONTENT_TYPE, "text/csv")
        .body(Body::from("Age,Gender\n23,Robot\n"))
        .unwrap();
    let (s, b) = call(&app, request).await;
    assert_eq!(s.as_u16(), 422, "{b}");
    assert_eq!(error_of(&b).1.as_deref(), Some("csv[0].Gender"));
    state.shutdown().await;
}

fn tensors(records: &[obesity_data::ObesityRecord], nested: bool) -> Value {
    let maps: Vec<_> = records.iter().map(row_map).collect();
    let inputs: Vec<Value> = maps[0]
        .iter()
        .map(|(name, first)| {
            let values: Vec<Value> = maps.iter().map(|m| m[name].clone()).collect();
            let data = if nested {
                Value::Array(values.into_iter().map(|v| json!([v])).collect())
            } else {
                Value::Array(values)
            };
            json!({
                "name": name,
                "datatype": if first.is_string() { "BYTES" } else { "FP64" },
                "shape": [records.len(), 1],
                "data": data,
                "parameters": {"binary_data": false},
            })
        })
        .collect();
    json!({"id": "req-1", "inputs": inputs, "parameters": {"priority_hint": 3, "whatever": "x"}})
}

#[tokio::test]
async fn v2_metadata_health_and_readiness() {
    let fx = Fixture::new();
    let state = fx.state().await;
    let app = router(state.clone());
    let (s, b) = call(&app, get("/v2")).await;
    assert_eq!(s, 200);
    assert!(b["name"].is_string() && b["version"].is_string(), "{b}");
    for path in [
        "/v2/health/live",
        "/v2/health/ready",
        "/v2/models/obesity-rf/ready",
        "/v2/models/obesity-rf/versions/1/ready",
    ] {
        assert_eq!(call(&app, get(path)).await.0, 200, "{path}");
    }
    let (s, meta) = call(&app, get("/v2/models/obesity-rf")).await;
    assert_eq!(s, 200);
    assert_eq!(meta["name"], MODEL);
    let names: Vec<&str> = meta["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    let signature: Vec<String> =
        obesity_registry::Signature::from_schema(&obesity_data::Schema::obesity())
            .unwrap()
            .inputs
            .into_iter()
            .map(|f| f.name)
            .collect();
    assert_eq!(names, signature);
    assert_eq!(meta["inputs"][0]["datatype"], "BYTES"); // Gender
    assert_eq!(meta["inputs"][1]["datatype"], "FP64"); // Age
    let outputs: Vec<&str> = meta["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(outputs, ["label", "probabilities", "class_index"]);
    state.shutdown().await;
}

#[tokio::test]
async fn v2_infer_equals_the_library() {
    let fx = Fixture::new();
    let state = fx.state().await;
    let app = router(state.clone());
    let records = rows(30);
    let (want, classes) = fx.library_proba(1, &records);
    for nested in [false, true] {
        // No Content-Type header at all: the protocol's clients do not always send one.
        let request = Request::post("/v2/models/obesity-rf/infer")
            .body(Body::from(tensors(&records, nested).to_string()))
            .unwrap();
        let (s, b) = call(&app, request).await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["id"], "req-1");
        assert_eq!(b["model_name"], MODEL);
        assert_eq!(b["model_version"], "1");
        let out = |name: &str| {
            b["outputs"]
                .as_array()
                .unwrap()
                .iter()
                .find(|o| o["name"] == name)
                .unwrap()
                .clone()
        };
        let proba = out("probabilities");
        assert_eq!(proba["shape"], json!([30, 7]));
        let flat: Vec<f32> = proba["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect();
        assert_eq!(flat, want.iter().copied().collect::<Vec<_>>());
        let labels = out("label");
        assert_eq!(labels["shape"], json!([30, 1]));
        for (i, l) in labels["data"].as_array().unwrap().iter().enumerate() {
            let idx = out("class_index")["data"][i].as_u64().unwrap() as usize;
            assert_eq!(l.as_str().unwrap(), classes[idx]);
        }
    }
    // Requested outputs only; a versioned path.
    let mut body = tensors(&records[..2], false);
    body["outputs"] = json!([{"name": "label", "parameters": {"binary_data": false}}]);
    let (s, b) = call(
        &app,
        post_json("/v2/models/obesity-rf/versions/1/infer", &body),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["outputs"].as_array().unwrap().len(), 1);
    assert_eq!(b["outputs"][0]["name"], "label");
    state.shutdown().await;
}
