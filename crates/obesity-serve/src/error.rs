//! The crate's two error types: [`ServeError`] for everything that can stop the service from
//! starting or a version from loading (returned by the library API), and [`ApiError`], the
//! one type every HTTP handler fails with, which renders as a status and a JSON body.

use std::borrow::Cow;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// What went wrong while configuring, loading or running the service.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// A configuration value is unusable.
    #[error("invalid configuration: {field} = {value:?}: {reason}")]
    Config {
        /// The setting (`model`, `port`, `max_batch_rows` ...).
        field: &'static str,
        /// The value given.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The registry refused (unknown model, alias, unreadable artifact, server down ...).
    #[error("registry: {0}")]
    Registry(#[from] obesity_registry::Error),
    /// A registered version cannot be served as it is (no pipeline, classes that disagree
    /// with the classifier, a signature field the pipeline cannot read ...).
    #[error("{name} version {version} cannot be served: {reason}")]
    Unservable {
        /// Registered model name.
        name: String,
        /// Version number.
        version: u64,
        /// Why.
        reason: String,
    },
    /// The monitor (prediction log, experiments) failed.
    #[error("monitor: {0}")]
    Monitor(#[from] obesity_monitor::MonitorError),
    /// A socket or file operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done (`binding 127.0.0.1:8000` ...).
        what: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A background task died (a panic in a blocking task; not expected).
    #[error("background task failed: {0}")]
    Task(String),
}

/// The crate's result type.
pub type Result<T, E = ServeError> = std::result::Result<T, E>;

/// An HTTP error answer: a status and `{"error": {"code", "message", "field"}}`.
///
/// Every handler returns `Result<_, ApiError>`, so every failure, including rejections made
/// by middleware (413, 415, 408, 404 for an unknown route), reaches the client in this one
/// shape. A 5xx is created with [`ApiError::internal`], which logs the detail and sends a
/// generic message: internals never leak.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: Cow<'static, str>,
    field: Option<String>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: &'a str,
    message: &'a str,
    field: Option<&'a str>,
}

impl ApiError {
    /// An error with a status, a stable machine-readable code and a message for people.
    pub fn new(
        status: StatusCode,
        code: &'static str,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            field: None,
        }
    }

    /// Names the request field that is wrong (`features.Age`, `inputs[2].datatype` ...).
    pub fn field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// 400 `malformed_json` / `bad_request` style errors about the shape of the body.
    pub(crate) fn bad_request(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 422: the body is well-formed but a value breaks the model's signature.
    pub(crate) fn invalid(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    /// 404 for an unknown model, experiment, request id ...
    pub(crate) fn not_found(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    /// 410 for something that existed but is no longer kept (a request id whose prediction
    /// the monitor evicted to keep its memory bounded).
    pub(crate) fn gone(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::GONE, code, message)
    }

    /// A 500 whose detail goes to the log only; the client sees a generic message.
    pub(crate) fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error while serving a request");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal server error (the detail is in the server log)",
        )
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The machine-readable code (`missing_feature`, `out_of_range` ...).
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The field named, if any.
    pub fn field_name(&self) -> Option<&str> {
        self.field.as_deref()
    }

    /// Prefixes the field with where it sits in the request (`features` + `Age` →
    /// `features.Age`; `batch_features[3]` + `Age` → `batch_features[3].Age`).
    pub(crate) fn within(mut self, prefix: &str) -> Self {
        self.field = Some(match self.field.take() {
            Some(f) if f.starts_with('[') => format!("{prefix}{f}"),
            Some(f) => format!("{prefix}.{f}"),
            None => prefix.to_owned(),
        });
        self
    }

    /// The JSON body bytes.
    pub(crate) fn body_bytes(&self) -> Vec<u8> {
        let body = Body {
            error: Inner {
                code: self.code,
                message: &self.message,
                field: self.field.as_deref(),
            },
        };
        // Serialising a struct of strings cannot fail; an empty body would still carry the
        // status.
        serde_json::to_vec(&body).unwrap_or_default()
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )?;
        if let Some(field) = &self.field {
            write!(f, " (field {field})")?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, self.body_bytes()).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_names_code_message_and_field() {
        let e = ApiError::invalid("out_of_range", "1e9 is above the maximum 100")
            .field("Age")
            .within("batch_features[2]");
        let v: serde_json::Value = serde_json::from_slice(&e.body_bytes()).unwrap();
        assert_eq!(v["error"]["code"], "out_of_range");
        assert_eq!(v["error"]["field"], "batch_features[2].Age");
        assert_eq!(e.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }

    #[test]
    fn internal_errors_do_not_leak_the_detail() {
        let e = ApiError::internal("/secret/path/model.bin: checksum mismatch");
        assert!(!e.message().contains("secret"));
        assert_eq!(e.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
