//! The OpenAPI 3.1 document, assembled by hand from the served signature so the feature
//! schema (names, types, ranges, levels) is exactly what the validator enforces.

use serde_json::{Map, Value, json};

use crate::model::ServedModel;
use crate::row::FieldKind;

fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    })
}

fn json_body(schema: Value) -> Value {
    json!({"required": true, "content": {"application/json": {"schema": schema}}})
}

fn ok(description: &str, schema: Value) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": schema}}})
}

fn reference(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn op(tag: &str, summary: &str, body: Option<Value>, responses: Value) -> Value {
    let mut o = json!({"tags": [tag], "summary": summary, "responses": responses});
    if let Some(b) = body {
        o["requestBody"] = b;
    }
    o
}

fn features_schema(model: &ServedModel) -> Value {
    let mut properties = Map::new();
    let mut required = Vec::new();
    for f in model.row.fields() {
        let schema = match &f.kind {
            FieldKind::Numeric { min, max } => {
                let mut s = json!({"type": "number"});
                if let Some(m) = min {
                    s["minimum"] = json!(m);
                }
                if let Some(m) = max {
                    s["maximum"] = json!(m);
                }
                s
            }
            FieldKind::Categorical { levels, .. } => json!({"type": "string", "enum": levels}),
        };
        properties.insert(f.name.clone(), schema);
        required.push(Value::String(f.name.clone()));
    }
    json!({
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    })
}

/// The document for the version currently served.
pub(crate) fn document(model: &ServedModel) -> Value {
    let classes = &model.classes;
    let probs: Map<String, Value> = classes
        .iter()
        .map(|c| {
            (
                c.clone(),
                json!({"type": "number", "minimum": 0, "maximum": 1}),
            )
        })
        .collect();
    let bad = error_response(
        "The request is malformed (400) or breaks the signature (422); the error names the field",
    );
    let too_large = error_response("Body larger than the limit, or more rows than the batch limit");
    let unauthorized = error_response("Missing or wrong admin bearer token");
    let text = |d: &str| json!({"description": d, "content": {"text/plain": {"schema": {"type": "string"}}}});
    let any = json!({"type": "object"});
    let paths = json!({
        "/health": {"get": op("service", "Health: status, model and version, uptime, request and error counts, loaded versions", None,
            json!({"200": ok("Healthy", reference("Health"))}))},
        "/model/info": {"get": op("service", "The served version: input fields with types, ranges and categories; classes; params; metrics; lineage", None,
            json!({"200": ok("Model information", any.clone())}))},
        "/predict": {"post": op("predict", "Predict one row of raw named features", Some(json_body(reference("PredictRequest"))),
            json!({"200": ok("The prediction", reference("Prediction")), "400": bad, "404": error_response("Unknown experiment_name"), "413": too_large, "422": bad}))},
        "/predict/batch": {"post": op("predict", "Predict many rows", Some(json_body(reference("BatchRequest"))),
            json!({"200": ok("One prediction per row", reference("BatchPrediction")), "400": bad, "413": too_large, "422": bad}))},
        "/feedback": {"post": op("monitoring", "The true label of an earlier prediction, by request_id or user_id (the user's latest)",
            Some(json_body(reference("Feedback"))),
            json!({"200": ok("Recorded", any.clone()), "401": unauthorized, "404": error_response("Unknown request or user"), "422": bad}))},
        "/monitoring/status": {"get": {
            "tags": ["monitoring"],
            "summary": "The performance monitor's window: counts, accuracy/F1 once labels arrived, latency percentiles, error rate, drift per feature, data quality, open alerts",
            "parameters": [{"name": "hours", "in": "query", "schema": {"type": "integer", "minimum": 1, "default": 24}}],
            "responses": {"200": ok("Status", any.clone()), "422": bad}}},
        "/experiments": {
            "get": op("experiments", "List A/B experiments", None, json!({"200": ok("Experiments", any.clone())})),
            "post": op("experiments", "Create (and by default start) an A/B experiment between two registered versions",
                Some(json_body(reference("NewExperiment"))),
                json!({"201": ok("Created", any.clone()), "401": unauthorized, "404": error_response("Unknown version"), "409": error_response("Exists"), "422": bad}))},
        "/experiments/{name}/status": {"get": {
            "tags": ["experiments"], "summary": "The A/B analysis (z-test, chi-square, confidence interval, recommendation)",
            "parameters": [{"name": "name", "in": "path", "required": true, "schema": {"type": "string"}}],
            "responses": {"200": ok("Analysis", any.clone()), "404": error_response("Unknown experiment")}}},
        "/experiments/{name}/{action}": {"post": {
            "tags": ["experiments"], "summary": "Start, pause or stop an experiment",
            "parameters": [
                {"name": "name", "in": "path", "required": true, "schema": {"type": "string"}},
                {"name": "action", "in": "path", "required": true, "schema": {"type": "string", "enum": ["start", "pause", "stop"]}}],
            "responses": {"200": ok("New status", any.clone()), "401": unauthorized, "404": error_response("Unknown experiment"), "409": error_response("Not allowed in this status")}}},
        "/admin/reload": {"post": op("service", "Re-resolve the model references now (the poller does it every interval)", None,
            json!({"200": ok("What moved", any.clone()), "401": unauthorized, "500": error_response("A version failed to load; the previous one keeps serving")}))},
        "/metrics": {"get": op("service", "Prometheus metrics", None, json!({"200": text("Prometheus text exposition")}))},
        "/openapi.json": {"get": op("service", "This document", None, json!({"200": ok("OpenAPI 3.1", any.clone())}))},
        "/docs": {"get": op("service", "The API page", None, json!({"200": {"description": "HTML"}}))},
        "/dashboard": {"get": {
            "tags": ["monitoring"],
            "summary": "The production loop as one HTML page with inline SVG charts (no script, no external request): traffic, latency, class mix vs training, accuracy as labels arrive, drift per feature, alerts, A/B experiments, lineage",
            "parameters": [{"name": "refresh", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": 3600, "default": 15}}],
            "responses": {"200": {"description": "HTML"}, "422": bad}}},
        "/ping": {"get": op("mlflow", "MLflow scoring protocol: liveness", None, json!({"200": text("Alive")}))},
        "/version": {"get": op("mlflow", "MLflow scoring protocol: server version", None, json!({"200": text("Version")}))},
        "/invocations": {"post": {
            "tags": ["mlflow"],
            "summary": "MLflow scoring protocol: dataframe_split, dataframe_records, instances, inputs (JSON) or text/csv",
            "requestBody": {"required": true, "content": {
                "application/json": {"schema": reference("MlflowInput")},
                "text/csv": {"schema": {"type": "string"}}}},
            "responses": {"200": ok("Predicted class names", json!({"type": "object", "properties": {"predictions": {"type": "array", "items": {"type": "string", "enum": classes}}}})),
                "400": bad, "413": too_large, "415": error_response("Unsupported Content-Type"), "422": bad}}},
        "/v2": {"get": op("v2", "Open Inference Protocol: server metadata", None, json!({"200": ok("Metadata", any.clone())}))},
        "/v2/health/live": {"get": op("v2", "Open Inference Protocol: liveness", None, json!({"200": ok("Live", any.clone())}))},
        "/v2/health/ready": {"get": op("v2", "Open Inference Protocol: readiness", None, json!({"200": ok("Ready", any.clone())}))},
        "/v2/models/{name}": {"get": {
            "tags": ["v2"], "summary": "Model metadata: one input tensor per raw field, the output tensors",
            "parameters": [{"name": "name", "in": "path", "required": true, "schema": {"type": "string"}}],
            "responses": {"200": ok("Metadata", any.clone()), "404": error_response("Unknown model")}}},
        "/v2/models/{name}/ready": {"get": {
            "tags": ["v2"], "summary": "Model readiness",
            "parameters": [{"name": "name", "in": "path", "required": true, "schema": {"type": "string"}}],
            "responses": {"200": ok("Ready", any.clone()), "404": error_response("Unknown model")}}},
        "/v2/models/{name}/infer": {"post": {
            "tags": ["v2"], "summary": "Inference with JSON tensors (no Content-Type needed; unknown parameters ignored)",
            "parameters": [{"name": "name", "in": "path", "required": true, "schema": {"type": "string"}}],
            "requestBody": json_body(reference("InferRequest")),
            "responses": {"200": ok("Output tensors label, probabilities, class_index", any.clone()),
                "400": bad, "404": error_response("Unknown model"), "413": too_large, "415": error_response("Binary tensor data"), "422": bad}}},
        "/v2/models/{name}/versions/{version}": {"get": {
            "tags": ["v2"], "summary": "Metadata of a loaded version",
            "parameters": [{"name": "name", "in": "path", "required": true, "schema": {"type": "string"}},
                           {"name": "version", "in": "path", "required": true, "schema": {"type": "string"}}],
            "responses": {"200": ok("Metadata", any.clone()), "404": error_response("Unknown model or version")}}},
        "/v2/models/{name}/versions/{version}/ready": {"get": {
            "tags": ["v2"], "summary": "Readiness of a loaded version",
            "parameters": [{"name": "name", "in": "path", "required": true, "schema": {"type": "string"}},
                           {"name": "version", "in": "path", "required": true, "schema": {"type": "string"}}],
            "responses": {"200": ok("Ready", any.clone()), "404": error_response("Unknown model or version")}}},
        "/v2/models/{name}/versions/{version}/infer": {"post": {
            "tags": ["v2"], "summary": "Inference on a loaded version",
            "parameters": [{"name": "name", "in": "path", "required": true, "schema": {"type": "string"}},
                           {"name": "version", "in": "path", "required": true, "schema": {"type": "string"}}],
            "requestBody": json_body(reference("InferRequest")),
            "responses": {"200": ok("Output tensors", any.clone()), "400": bad, "404": error_response("Unknown model or version"), "422": bad}}},
    });
    let row_answer = json!({
        "type": "object",
        "properties": {
            "prediction": {"type": "string", "enum": classes},
            "prediction_index": {"type": "integer"},
            "probabilities": {"type": "object", "properties": probs},
            "confidence": {"type": "number"},
            "model_version": {"type": "string"},
            "variant": {"type": "string", "description": "control / treatment under an A/B experiment, else the default route (champion)"},
            "request_id": {"type": "string", "description": "Give it to /feedback with the true label"},
        }
    });
    let mut prediction = row_answer.clone();
    prediction["properties"]["model_name"] = json!({"type": "string"});
    prediction["properties"]["latency_ms"] = json!({"type": "number"});
    prediction["properties"]["timestamp"] = json!({"type": "string", "format": "date-time"});
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "obesity-serve",
            "version": env!("CARGO_PKG_VERSION"),
            "description": format!("Serves {} (version {} when this document was generated) with the protocols its clients already speak: this API, MLflow's scoring protocol and the Open Inference Protocol v2.", model.name, model.version_label),
        },
        "paths": paths,
        "components": {
            "schemas": {
                "Features": features_schema(model),
                "PredictRequest": {
                    "type": "object", "required": ["features"], "additionalProperties": false,
                    "properties": {
                        "features": reference("Features"),
                        "user_id": {"type": ["string", "integer", "null"], "description": "Picks the A/B variant deterministically"},
                        "experiment_name": {"type": ["string", "null"]},
                    }},
                "BatchRequest": {
                    "type": "object", "required": ["batch_features"], "additionalProperties": false,
                    "properties": {
                        "batch_features": {"type": "array", "items": reference("Features")},
                        "user_ids": {"type": "array", "items": {"type": ["string", "integer", "null"]}},
                        "experiment_name": {"type": ["string", "null"]},
                    }},
                "Prediction": prediction,
                "BatchPrediction": {"type": "object", "properties": {
                    "predictions": {"type": "array", "items": row_answer},
                    "batch_size": {"type": "integer"}, "model_name": {"type": "string"},
                    "latency_ms": {"type": "number"}, "timestamp": {"type": "string", "format": "date-time"}}},
                "Feedback": {"type": "object", "required": ["label"], "properties": {
                    "request_id": {"type": "string"}, "user_id": {"type": ["string", "integer"]},
                    "label": {"oneOf": [{"type": "string", "enum": classes}, {"type": "integer"}]}}},
                "NewExperiment": {"type": "object", "required": ["name", "treatment_version"], "properties": {
                    "name": {"type": "string"}, "control_version": {"type": ["string", "integer"]},
                    "treatment_version": {"type": ["string", "integer"]}, "traffic_split": {"type": "number"},
                    "duration_hours": {"type": "integer"}, "min_samples_per_variant": {"type": "integer"},
                    "significance_level": {"type": "number"}, "segment": {"type": "array"},
                    "start": {"type": "boolean", "default": true}}},
                "MlflowInput": {"type": "object", "description": "Exactly one of dataframe_split, dataframe_records, instances, inputs", "properties": {
                    "dataframe_split": {"type": "object", "properties": {"columns": {"type": "array"}, "data": {"type": "array"}, "index": {"type": "array"}}},
                    "dataframe_records": {"type": "array", "items": reference("Features")},
                    "instances": {"type": "array"},
                    "inputs": {"type": ["array", "object"]},
                    "params": {"type": "object"}}},
                "InferRequest": {"type": "object", "required": ["inputs"], "properties": {
                    "id": {"type": "string"}, "parameters": {"type": "object"},
                    "inputs": {"type": "array", "items": {"type": "object", "required": ["name", "shape", "datatype", "data"], "properties": {
                        "name": {"type": "string"}, "shape": {"type": "array", "items": {"type": "integer"}},
                        "datatype": {"type": "string", "enum": ["BYTES", "FP32", "FP64", "INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64"]},
                        "data": {"type": "array"}, "parameters": {"type": "object"}}}},
                    "outputs": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string", "enum": ["label", "probabilities", "class_index"]}}}}}},
                "Health": {"type": "object", "properties": {
                    "status": {"type": "string"}, "model_name": {"type": "string"}, "model_version": {"type": "string"},
                    "uptime_seconds": {"type": "number"}, "total_requests": {"type": "integer"}, "error_count": {"type": "integer"},
                    "loaded_versions": {"type": "array", "items": {"type": "string"}}}},
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {
                    "type": "object", "required": ["code", "message"], "properties": {
                        "code": {"type": "string"}, "message": {"type": "string"}, "field": {"type": ["string", "null"]}}}}},
            },
            "securitySchemes": {"adminToken": {"type": "http", "scheme": "bearer"}},
        },
    })
}
