//! The router: every endpoint, and the middleware around them.
//!
//! Outermost first: compression, then [`observe`] (counts and times every answer for
//! `/health` and `/metrics`, and turns any error a layer produced as plain text — 413 from
//! the body limit, 408 from the timeout, 405 — into the JSON error shape), tracing, the
//! per-request timeout and the body limit.

pub(crate) mod answer;
mod mlflow;
mod ops;
mod predict;
mod v2;

use std::sync::atomic::Ordering;
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;
use tower::ServiceBuilder;
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{Predicate, SizeAbove};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::error::ApiError;
use crate::metrics::HttpLabels;
use crate::state::AppState;

/// Every route template, as the `route` label of the request metrics shows it.
const ROUTES: &[&str] = &[
    "/",
    "/health",
    "/model/info",
    "/predict",
    "/predict/batch",
    "/feedback",
    "/monitoring/status",
    "/experiments",
    "/experiments/{name}/status",
    "/experiments/{name}/{action}",
    "/admin/reload",
    "/metrics",
    "/openapi.json",
    "/docs",
    "/dashboard",
    "/ping",
    "/version",
    "/invocations",
    "/v2",
    "/v2/health/live",
    "/v2/health/ready",
    "/v2/models/{name}",
    "/v2/models/{name}/ready",
    "/v2/models/{name}/infer",
    "/v2/models/{name}/versions/{version}",
    "/v2/models/{name}/versions/{version}/ready",
    "/v2/models/{name}/versions/{version}/infer",
];

/// The service's router over `state`: every endpoint with its middleware.
///
/// Test it without a socket (`tower::ServiceExt::oneshot`), or serve it with
/// [`Server`](crate::Server), which adds alias polling and graceful shutdown.
pub fn router(state: AppState) -> Router {
    let config = state.config().clone();
    Router::new()
        .route("/", get(ops::index))
        .route("/health", get(ops::health))
        .route("/model/info", get(ops::model_info))
        .route("/predict", post(predict::predict))
        .route("/predict/batch", post(predict::predict_batch))
        .route("/feedback", post(ops::feedback))
        .route("/monitoring/status", get(ops::monitoring_status))
        .route(
            "/experiments",
            get(ops::list_experiments).post(ops::create_experiment),
        )
        .route("/experiments/{name}/status", get(ops::experiment_status))
        .route("/experiments/{name}/{action}", post(ops::experiment_action))
        .route("/admin/reload", post(ops::admin_reload))
        .route("/metrics", get(ops::metrics))
        .route("/openapi.json", get(ops::openapi))
        .route("/docs", get(ops::docs))
        .route("/dashboard", get(ops::dashboard))
        .route("/ping", get(mlflow::ping))
        .route("/version", get(mlflow::version))
        .route("/invocations", post(mlflow::invocations))
        .route("/v2", get(v2::server_metadata))
        .route("/v2/health/live", get(v2::live))
        .route("/v2/health/ready", get(v2::ready))
        .route("/v2/models/{name}", get(v2::model_metadata))
        .route("/v2/models/{name}/ready", get(v2::model_ready))
        .route("/v2/models/{name}/infer", post(v2::infer))
        .route(
            "/v2/models/{name}/versions/{version}",
            get(v2::version_metadata),
        )
        .route(
            "/v2/models/{name}/versions/{version}/ready",
            get(v2::version_ready),
        )
        .route(
            "/v2/models/{name}/versions/{version}/infer",
            post(v2::version_infer),
        )
        .fallback(fallback)
        .layer(
            ServiceBuilder::new()
                .layer(
                    // Small JSON answers are sent as they are: gzip costs more than it saves.
                    CompressionLayer::new().compress_when(
                        SizeAbove::new(1024)
                            .and(tower_http::compression::predicate::NotForContentType::GRPC),
                    ),
                )
                .layer(middleware::from_fn_with_state(state.clone(), observe))
                .layer(middleware::from_fn(v2::protocol_error_shape))
                .layer(TraceLayer::new_for_http())
                .layer(TimeoutLayer::with_status_code(
                    StatusCode::REQUEST_TIMEOUT,
                    config.request_timeout,
                ))
                .layer(RequestBodyLimitLayer::new(config.max_body_bytes))
                .layer(DefaultBodyLimit::max(config.max_body_bytes)),
        )
        .with_state(state)
}

async fn fallback() -> ApiError {
    ApiError::not_found("no_route", "no endpoint at this path (see /docs)")
}

fn static_route(path: &str) -> &'static str {
    ROUTES
        .iter()
        .find(|r| **r == path)
        .copied()
        .unwrap_or("unmatched")
}

fn static_method(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        _ => "OTHER",
    }
}

/// Counts and times every answer, and gives errors made by layers (or by axum's
/// extractors) the JSON error shape.
async fn observe(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |m| static_route(m.as_str()));
    let method = static_method(req.method());
    let mut response = next.run(req).await;
    let status = response.status();
    if status.is_client_error() || status.is_server_error() {
        let is_json = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if !is_json {
            let allow = response.headers().get(header::ALLOW).cloned();
            response = plain_error(status, state.config().max_body_bytes).into_response();
            if let Some(allow) = allow {
                response.headers_mut().insert(header::ALLOW, allow);
            }
        }
        state.inner.counters.errors.fetch_add(1, Ordering::Relaxed);
    }
    state
        .inner
        .counters
        .requests
        .fetch_add(1, Ordering::Relaxed);
    state.inner.metrics.observe_request(
        &HttpLabels {
            route,
            method,
            status: status.as_u16(),
        },
        start.elapsed().as_secs_f64(),
    );
    response
}

/// The JSON error for a status some layer answered with a plain body.
fn plain_error(status: StatusCode, max_body: usize) -> ApiError {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            status,
            "body_too_large",
            format!("the request body is larger than {max_body} bytes"),
        ),
        StatusCode::REQUEST_TIMEOUT => ApiError::new(
            status,
            "timeout",
            "the request took too long and was abandoned",
        ),
        StatusCode::METHOD_NOT_ALLOWED => ApiError::new(
            status,
            "method_not_allowed",
            "this endpoint does not take that method (see /docs)",
        ),
        StatusCode::NOT_FOUND => ApiError::not_found("no_route", "no endpoint at this path"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            ApiError::new(status, "unsupported_media_type", "unsupported Content-Type")
        }
        s if s.is_server_error() => ApiError::new(
            s,
            "internal",
            "internal server error (the detail is in the server log)",
        ),
        s => ApiError::new(s, "bad_request", "the request was refused"),
    }
}

/// A JSON answer, serialised straight into the response buffer.
pub(crate) fn json<T: Serialize>(status: StatusCode, value: &T) -> Response {
    json_sized(status, value, 512)
}

/// [`json`] into a buffer of `capacity` bytes to start with: a large answer (a batch's)
/// whose size is known roughly is then written without the buffer doubling its way up.
pub(crate) fn json_sized<T: Serialize>(status: StatusCode, value: &T, capacity: usize) -> Response {
    let mut buf = Vec::with_capacity(capacity);
    match serde_json::to_writer(&mut buf, value) {
        Ok(()) => json_bytes(status, buf),
        Err(e) => ApiError::internal(e).into_response(),
    }
}

/// A response of JSON already written.
pub(crate) fn json_bytes(status: StatusCode, buf: Vec<u8>) -> Response {
    let mut response = Response::new(Body::from(buf));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// 401 unless the request carries the admin token (when one is configured).
pub(crate) fn require_admin(
    state: &AppState,
    headers: &axum::http::HeaderMap,
) -> Result<(), ApiError> {
    let given = headers
        .get(header::AUTHORIZATION)
        .map(HeaderValue::as_bytes);
    if state.authorized(given) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "this endpoint needs `Authorization: Bearer <admin token>`",
        )
        .field("Authorization"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_layer_errors_get_a_code() {
        for (status, code) in [
            (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"),
            (StatusCode::REQUEST_TIMEOUT, "timeout"),
            (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            (StatusCode::NOT_FOUND, "no_route"),
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
            (StatusCode::BAD_GATEWAY, "internal"),
            (StatusCode::IM_A_TEAPOT, "bad_request"),
        ] {
            let e = plain_error(status, 10);
            assert_eq!((e.status(), e.code()), (status, code));
        }
    }

    #[test]
    fn every_route_template_has_a_metric_label() {
        assert_eq!(
            static_route("/v2/models/{name}/infer"),
            "/v2/models/{name}/infer"
        );
        assert_eq!(static_route("/no/such"), "unmatched");
    }
}
