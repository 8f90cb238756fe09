//! Every bad request gets a 4xx with `{"error": {"code", "message", "field"}}` naming the
//! field; nothing a client sends gives a 5xx.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use obesity_serve::{ServeConfig, router};
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::support::*;

fn features_with(f: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Value {
    let mut row = row_map(&rows(1)[0]);
    f(&mut row);
    json!({"features": row})
}

#[tokio::test]
async fn every_bad_predict_body_names_the_field() {
    let fx = Fixture::new();
    let state = fx.state().await;
    let app = router(state.clone());
    let cases: Vec<(&str, Value, u16, &str, Option<&str>)> = vec![
        (
            "missing feature",
            features_with(|r| {
                r.remove("Age");
            }),
            422,
            "missing_feature",
            Some("features.Age"),
        ),
        (
            "unknown feature",
            features_with(|r| {
                r.insert("Shoe".into(), json!(42));
            }),
            422,
            "unknown_feature",
            Some("features.Shoe"),
        ),
        (
            "wrong type (string for number)",
            features_with(|r| {
                r.insert("Weight".into(), json!("heavy"));
            }),
            422,
            "wrong_type",
            Some("features.Weight"),
        ),
        (
            "wrong type (number for category)",
            features_with(|r| {
                r.insert("Gender".into(), json!(1));
            }),
            422,
            "wrong_type",
            Some("features.Gender"),
        ),
        (
            "wrong type (null)",
            features_with(|r| {
                r.insert("NCP".into(), Value::Null);
            }),
            422,
            "wrong_type",
            Some("features.NCP"),
        ),
        (
            "out of range (high)",
            features_with(|r| {
                r.insert("Age".into(), json!(1e9));
            }),
            422,
            "out_of_range",
            Some("features.Age"),
        ),
        (
            "out of range (low)",
            features_with(|r| {
                r.insert("Height".into(), json!(0.2));
            }),
            422,
            "out_of_range",
            Some("features.Height"),
        ),
        (
            "unknown category",
            features_with(|r| {
                r.insert("MTRANS".into(), json!("Teleport"));
            }),
            422,
            "unknown_category",
            Some("features.MTRANS"),
        ),
        (
            "yes/no column",
            features_with(|r| {
                r.insert("SMOKE".into(), json!(true));
            }),
            422,
            "wrong_type",
            Some("features.SMOKE"),
        ),
        (
            "features not an object",
            json!({"features": [1, 2]}),
            400,
            "wrong_type",
            Some("features"),
        ),
        (
            "no features",
            json!({"user_id": "u"}),
            400,
            "missing_field",
            Some("features"),
        ),
        (
            "unknown top-level field",
            json!({"features": {}, "feature": {}}),
            400,
            "unknown_field",
            Some("feature"),
        ),
        (
            "typo top-level field",
            json!({"feature": {}}),
            400,
            "unknown_field",
            Some("feature"),
        ),
        (
            "bad user id",
            json!({"features": row_json(&rows(1)[0]), "user_id": [1]}),
            400,
            "wrong_type",
            Some("user_id"),
        ),
        (
            "unknown experiment",
            json!({"features": row_json(&rows(1)[0]), "experiment_name": "nope"}),
            404,
            "unknown_experiment",
            Some("experiment_name"),
        ),
    ];
    for (what, body, status, code, field) in cases {
        let (s, b) = call(&app, post_json("/predict", &body)).await;
        assert_eq!(s.as_u16(), status, "{what}: {b}");
        let (c, f) = error_of(&b);
        assert_eq!((c.as_str(), f.as_deref()), (code, field), "{what}: {b}");
    }
    state.shutdown().await;
}

#[tokio::test]
async fn malformed_json_is_400() {
    let fx = Fixture::new();
    let state = fx.state().await;
    let app = router(state.clone());
    for path in [
        "/predict",
        "/predict/batch",
        "/invocations",
        "/v2/models/obesity-rf/infer",
        "/feedback",
    ] {
        for body in [
            "",
            "{",
            "{\"features\": {",
            "[1,",
            "nul",
            "}",
            "{,}",
            "{\"features\" 1}",
        ] {
            let (s, b) = call(&app, post(path, body.to_owned())).await;
            assert_eq!(s, StatusCode::BAD_REQUEST, "{path} {body:?}: {b}");
            let (code, _) = error_of(&b);
            // Malformed, or refused earlier for a key the route does not take.
            assert!(
                ["malformed_json", "invalid_body", "unknown_field"].contains(&code.as_str()),
                "{path} {body:?}: {b}"
            );
        }
    }
    state.shutdown().await;
}

#[tokio::test]
async fn batch_limits_and_row_errors() {
    let fx = Fixture::new();
    let state = obesity_serve::AppState::load(ServeConfig {
        max_batch_rows: 5,
        ..fx.config()
    })
    .await
    .unwrap();
    let app = router(state.clone());
    let six: Vec<Value> = rows(6).iter().map(row_json).collect();
    let (s, b) = call(
        &app,
        post_json("/predict/batch", &json!({"batch_features": six})),
    )
    .await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{b}");
    assert_eq!(
        error_of(&b),
        ("too_many_rows".into(), Some("batch_features".into()))
    );

    let (s, b) = call(
        &app,
        post_json("/predict/batch", &json!({"batch_features": []})),
    )
    .await;
    assert_eq!((s.as_u16(), error_of(&b).0.as_str()), (422, "empty_batch"));

    let mut three: Vec<Value> = rows(3).iter().map(row_json).collect();
    three[2]["CALC"] = json!("Never");
    let (s, b) = call(
        &app,
        post_json("/predict/batch", &json!({"batch_features": three})),
    )
    .await;
    assert_eq!(s.as_u16(), 422);
    assert_eq!(
        error_of(&b),
        (
            "unknown_category".into(),
            Some("batch_features[2].CALC".into())
        )
    );

    let two: Vec<Value> = rows(2).iter().map(row_json).collect();
    let (s, b) = call(
        &app,
        post_json(
            "/predict/batch",
            &json!({"batch_features": two, "user_ids": ["a"]}),
        ),
    )
    .await;
    assert_eq!(s.as_u16(), 422);
    assert_eq!(error_of(&b).1.as_deref(), Some("user_ids"));

    // The MLflow and v2 routes share the row limit.
    let records: Vec<Value> = rows(6).iter().map(row_json).collect();
    let (s, b) = call(
        &app,
        post_json("/invocations", &json!({"dataframe_records": records})),
    )
    .await;
    assert_eq!(
        (s.as_u16(), error_of(&b).0.as_str()),
        (413, "too_many_rows")
    );
    state.shutdown().await;
}

#[tokio::test]
async fn body_too_large_is_413_json() {
    let fx = Fixture::new();
    let state = obesity_serve::AppState::load(ServeConfig {
        max_body_bytes: 4096,
        ..fx.config()
    })
    .await
    .unwrap();
    let app = router(state.clone());
    let big = format!("{{\"features\": {{\"x\": \"{}\"}}}}", "a".repeat(10_000));
    for path in [
        "/predict",
        "/predict/batch",
        "/invocations",
        "/v2/models/obesity-rf/infer",
    ] {
        let (s, b) = call(&app, post(path, big.clone())).await;
        assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{path}: {b}");
        assert_eq!(error_of(&b).0, "body_too_large");
    }
    // With a Content-Length the limit layer refuses before reading; without one (as above,
    // where the test body has none) the body is cut while it is read. Both are 413.
    let request = Request::post("/predict")
        .header(header::CONTENT_LENGTH, big.len())
        .body(Body::from(big))
        .unwrap();
    let (s, b) = call(&app, request).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{b}");
    assert_eq!(error_of(&b).0, "body_too_large");
    state.shutdown().await;
}

#[tokio::test]
async fn unknown_routes_methods_and_models_are_json_errors() {
    let fx = Fixture::new();
    let state = fx.state().await;
    let app = router(state.clone());
    let (s, b) = call(&app, get("/nope")).await;
    assert_eq!((s.as_u16(), error_of(&b).0.as_str()), (404, "no_route"));
    let (s, b) = call(&app, get("/predict")).await;
    assert_eq!(
        (s.as_u16(), error_of(&b).0.as_str()),
        (405, "method_not_allowed")
    );
    let (s, b) = call(&app, get("/v2/models/other")).await;
    assert_eq!(s.as_u16(), 404);
    assert_eq!(error_of(&b), ("unknown_model".into(), Some("name".into())));
    let (s, b) = call(&app, post("/v2/models/other/infer", "{}")).await;
    assert_eq!(
        (s.as_u16(), error_of(&b).0.as_str()),
        (404, "unknown_model")
    );
    let (s, b) = call(&app, get("/v2/models/obesity-rf/versions/9")).await;
    assert_eq!(
        (s.as_u16(), error_of(&b).0.as_str()),
        (404, "unknown_version")
    );
    let (s, b) = call(&app, get("/experiments/none/status")).await;
    assert_eq!(
        (s.as_u16(), error_of(&b).0.as_str()),
        (404, "unknown_experiment")
    );
    state.shutdown().await;
}

#[tokio::test]
async fn wrong_content_type_is_415() {
    let fx = Fixture::new();
    let state = fx.state().await;
    let app = router(state.clone());
    let body = json!({"dataframe_records": [row_json(&rows(1)[0])]}).to_string();
    for ctype in [
        Some("text/plain"),
        Some("application/xml"),
        Some("application/octet-stream"),
        None,
    ] {
        let mut request = Request::post("/invocations");
        if let Some(c) = ctype {
            request = request.header(header::CONTENT_TYPE, c);
        }
        let (s, b) = call(&app, request.body(Body::from(body.clone())).unwrap()).await;
        assert_eq!(s, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{ctype:?}: {b}");
        assert_eq!(
            error_of(&b),
            ("unsupported_media_type".into(), Some("Content-Type".into()))
        );
    }
    state.shutdown().await;
}

#[tokio::test]
async fn bad_tensors_name_the_tensor() {
    let fx = Fixture::new();
    let state = fx.state().await;
    let app = router(state.clone());
    let r = row_map(&rows(1)[0]);
    let tensors = |f: &dyn Fn(&str, &Value) -> Option<Value>| -> Value {
        let inputs: Vec<Value> = r.iter().filter_map(|(name, v)| f(name, v)).collect();
        json!({"inputs": inputs})
    };
    // Tensors are sent in the map's (alphabetical) order; errors name their index.
    let at = |name: &str| r.keys().position(|k| k == name).unwrap();
    let good = |name: &str, v: &Value| -> Value {
        let dt = if v.is_string() { "BYTES" } else { "FP64" };
        json!({"name": name, "shape": [1, 1], "datatype": dt, "data": [v]})
    };
    let (age, gender, weight) = (at("Age"), at("Gender"), at("Weight"));
    let cases: Vec<(&str, Value, u16, &str, String)> = vec![
        (
            "wrong datatype",
            tensors(&|n, v| {
                Some(if n == "Age" {
                    json!({"name": n, "shape": [1], "datatype": "BYTES", "data": ["23"]})
                } else {
                    good(n, v)
                })
            }),
            400,
            "wrong_datatype",
            format!("inputs[{age}].datatype"),
        ),
        (
            "categorical as number",
            tensors(&|n, v| {
                Some(if n == "Gender" {
                    json!({"name": n, "shape": [1], "datatype": "FP32", "data": [1]})
                } else {
                    good(n, v)
                })
            }),
            400,
            "wrong_datatype",
            format!("inputs[{gender}].datatype"),
        ),
        (
            "wrong shape rank",
            tensors(&|n, v| {
                Some(if n == "Age" {
                    json!({"name": n, "shape": [1, 2], "datatype": "FP64", "data": [23, 24]})
                } else {
                    good(n, v)
                })
            }),
            400,
            "wrong_shape",
            format!("inputs[{age}].shape"),
        ),
        (
            "data and shape disagree",
            tensors(&|n, v| {
                Some(if n == "Age" {
                    json!({"name": n, "shape": [2], "datatype": "FP64", "data": [23]})
                } else {
                    good(n, v)
                })
            }),
            400,
            "wrong_shape",
            format!("inputs[{age}].data"),
        ),
        (
            "rows disagree",
            tensors(&|n, v| {
                Some(if n == "Weight" {
                    json!({"name": n, "shape": [2], "datatype": "FP64", "data": [70, 80]})
                } else {
                    good(n, v)
                })
            }),
            400,
            "wrong_shape",
            format!("inputs[{weight}].shape"),
        ),
        (
            "missing tensor",
            tensors(&|n, v| (n != "Gender").then(|| good(n, v))),
            422,
            "missing_feature",
            "Gender".into(),
        ),
        (
            "unknown tensor",
            {
                let mut t = tensors(&|n, v| Some(good(n, v)));
                t["inputs"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"name": "Shoe", "shape": [1], "datatype": "FP64", "data": [1]}));
                t
            },
            422,
            "unknown_feature",
            "inputs[16].name".into(),
        ),
        (
            "value out of range",
            tensors(&|n, v| {
                Some(if n == "Age" {
                    json!({"name": n, "shape": [1], "datatype": "FP64", "data": [1000]})
                } else {
                    good(n, v)
                })
            }),
            422,
            "out_of_range",
            format!("inputs[{age}].data[0]"),
        ),
        (
            "unknown output",
            {
                let mut t = tensors(&|n, v| Some(good(n, v)));
                t["outputs"] = json!([{"name": "logits"}]);
                t
            },
            400,
            "unknown_output",
            "outputs[0].name".into(),
        ),
        (
            "no inputs",
            json!({"id": "x"}),
            400,
            "missing_field",
            "inputs".into(),
        ),
    ];
    for (what, body, status, code, field) in cases {
        let (s, b) = call(&app, post_json("/v2/models/obesity-rf/infer", &body)).await;
        assert_eq!(s.as_u16(), status, "{what}: {b}");
        assert_eq!(error_of(&b), (code.to_owned(), Some(field)), "{what}: {b}");
    }
    // Binary tensor data is refused with a pointer to JSON.
    let request = Request::post("/v2/models/obesity-rf/infer")
        .header("Inference-Header-Content-Length", "10")
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .body(Body::from("0123456789"))
        .unwrap();
    let (s, b) = call(&app, request).await;
    assert_eq!(
        (s.as_u16(), error_of(&b).0.as_str()),
        (415, "binary_data_unsupported")
    );
    state.shutdown().await;
}

/// Bodies for the proptest: random bytes, random JSON, and near-valid requests with one
/// field broken in a random way.
fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        any::<i64>().prop_map(|i| json!(i)),
        "[a-zA-Z_]{0,12}".prop_map(Value::String),
        prop::sample::select(vec![
            "Male",
            "Female",
            "yes",
            "no",
            "Sometimes",
            "Walking",
            "Always",
            "BYTES",
            "FP64",
        ])
        .prop_map(|s| json!(s)),
    ];
    leaf.prop_recursive(4, 48, 8, |inner| {
        let keys = prop::sample::select(vec![
            "features",
            "batch_features",
            "user_id",
            "user_ids",
            "experiment_name",
            "Age",
            "Gender",
            "Height",
            "Weight",
            "MTRANS",
            "inputs",
            "outputs",
            "name",
            "shape",
            "datatype",
            "data",
            "dataframe_split",
            "dataframe_records",
            "instances",
            "columns",
            "index",
            "label",
            "request_id",
            "parameters",
            "id",
        ]);
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(keys, inner, 0..6).prop_map(|m| Value::Object(
                m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
            )),
        ]
    })
}

fn near_valid() -> impl Strategy<Value = Value> {
    let fields: Vec<String> = row_map(&rows(1)[0]).keys().cloned().collect();
    (prop::sample::select(fields), arb_json(), 0usize..4).prop_map(|(field, value, shape)| {
        let mut row = row_map(&rows(1)[0]);
        row.insert(field.clone(), value.clone());
        match shape {
            0 => json!({"features": row}),
            1 => json!({"batch_features": [row_map(&rows(1)[0]), row]}),
            2 => json!({"dataframe_records": [row]}),
            _ => json!({"inputs": [{"name": field, "shape": [1], "datatype": "FP64", "data": [value]}]}),
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn no_post_body_gives_a_5xx_or_a_panic(
        raw in prop::collection::vec(any::<u8>(), 0..200),
        value in arb_json(),
        near in near_valid(),
        ctype in prop::sample::select(vec![None, Some("application/json"), Some("text/csv"), Some("text/plain")]),
    ) {
        let (_, state, runtime) = shared();
        runtime.block_on(async {
            let app = router(state.clone());
            let routes = [
                "/predict", "/predict/batch", "/invocations", "/v2/models/obesity-rf/infer",
                "/v2/models/obesity-rf/versions/1/infer", "/feedback", "/experiments",
                "/experiments/x/stop", "/admin/reload",
            ];
            for path in routes {
                for body in [raw.clone(), value.to_string().into_bytes(), near.to_string().into_bytes()] {
                    let mut request = Request::post(path);
                    if let Some(c) = ctype {
                        request = request.header(header::CONTENT_TYPE, c);
                    }
                    let (s, b) = call(&app, request.body(Body::from(body)).unwrap()).await;
                    prop_assert!(s.as_u16() < 500, "{path}: {s} {b}");
                    if s.as_u16() >= 400 {
                        error_of(&b);
                    }
                }
            }
            Ok(())
        })?;
    }
}

/// One loaded state (and runtime) for every proptest case: re-reading the registry for
/// each of them would only slow the test down.
fn shared() -> &'static (Fixture, obesity_serve::AppState, tokio::runtime::Runtime) {
    use std::sync::OnceLock;
    static SHARED: OnceLock<(Fixture, obesity_serve::AppState, tokio::runtime::Runtime)> =
        OnceLock::new();
    SHARED.get_or_init(|| {
        let fx = Fixture::new();
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let state = runtime.block_on(fx.state());
        (fx, state, runtime)
    })
}
