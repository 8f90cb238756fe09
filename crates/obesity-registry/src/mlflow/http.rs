//! The HTTP layer of [`MlflowStore`](crate::MlflowStore): one blocking ureq agent, the
//! `Authorization` header, the retry loop, and the translation of MLflow's JSON error bodies
//! (`{"error_code": ..., "message": ...}`) into the crate's typed [`Error`].

use std::thread;
use std::time::Duration;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::retry::RetryPolicy;
use crate::error::{Error, Result};

/// The HTTP verbs MLflow's REST API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    Get,
    Post,
    Patch,
    Delete,
    Put,
}

impl Method {
    fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Put => "PUT",
        }
    }
}

/// What the call is about, so that a 404 becomes `NotFound { what, name }` naming the object.
#[derive(Debug, Clone)]
pub(crate) struct Subject {
    pub(crate) what: &'static str,
    pub(crate) name: String,
}

impl Subject {
    pub(crate) fn new(what: &'static str, name: impl Into<String>) -> Self {
        Subject {
            what,
            name: name.into(),
        }
    }
}

/// A request body.
pub(crate) enum Payload<'a> {
    None,
    Json(serde_json::Value),
    Bytes(&'a [u8]),
}

/// A finished exchange: the final status and the whole body.
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
}

/// One server: base URL, agent, credentials, retry policy.
pub(crate) struct Transport {
    base: String,
    agent: ureq::Agent,
    authorization: Option<String>,
    retry: RetryPolicy,
}

/// MLflow's error body.
#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    error_code: String,
    #[serde(default)]
    message: String,
}

impl Transport {
    pub(crate) fn new(
        base: String,
        authorization: Option<String>,
        retry: RetryPolicy,
        timeout: Duration,
    ) -> Self {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            .user_agent(concat!("obesity-registry/", env!("CARGO_PKG_VERSION")))
            .build();
        Transport {
            base,
            agent: ureq::Agent::new_with_config(config),
            authorization,
            retry,
        }
    }

    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    /// Sends a request to `url` with retries; returns the final reply whatever its status
    /// (the caller decides what a 4xx means), or `Unreachable` if no reply came.
    pub(crate) fn send(
        &self,
        method: Method,
        url: &str,
        query: &[(&str, &str)],
        payload: &Payload<'_>,
    ) -> Result<Reply> {
        let mut attempt = 1;
        loop {
            match self.send_once(method, url, query, payload) {
                Ok(reply) if self.retry.should_retry_status(reply.status, attempt) => {}
                Ok(reply) => return Ok(reply),
                Err(e) if is_transient(&e) && self.retry.should_retry_transport(attempt) => {}
                Err(source) => {
                    return Err(Error::Unreachable {
                        url: url.to_string(),
                        attempts: attempt,
                        source: Box::new(source),
                    });
                }
            }
            thread::sleep(self.retry.backoff(attempt));
            attempt += 1;
        }
    }

    fn send_once(
        &self,
        method: Method,
        url: &str,
        query: &[(&str, &str)],
        payload: &Payload<'_>,
    ) -> std::result::Result<Reply, ureq::Error> {
        let (bytes, content_type): (Vec<u8>, &str) = match payload {
            Payload::None => (Vec::new(), ""),
            Payload::Json(v) => (
                serde_json::to_vec(v).map_err(ureq::Error::Json)?,
                "application/json",
            ),
            Payload::Bytes(b) => (b.to_vec(), "application/octet-stream"),
        };
        let auth = self.authorization.as_deref();
        let mut response = match method {
            Method::Get => {
                let mut req = self.agent.get(url).query_pairs(query.iter().copied());
                if let Some(a) = auth {
                    req = req.header("Authorization", a);
                }
                req.call()?
            }
            Method::Post | Method::Patch | Method::Put | Method::Delete => {
                let mut req = match method {
                    Method::Post => self.agent.post(url),
                    Method::Patch => self.agent.patch(url),
                    Method::Put => self.agent.put(url),
                    _ => self.agent.delete(url).force_send_body(),
                }
                .query_pairs(query.iter().copied());
                if let Some(a) = auth {
                    req = req.header("Authorization", a);
                }
                if !content_type.is_empty() {
                    req = req.header("Content-Type", content_type);
                }
                req.send(&bytes[..])?
            }
        };
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .with_config()
            .limit(u64::MAX)
            .read_to_vec()?;
        Ok(Reply { status, body })
    }

    /// Calls a JSON endpoint under `/api/2.0/mlflow/` and decodes a 2xx answer as `T`; any
    /// other answer becomes a typed error about `subject`.
    pub(crate) fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        endpoint: &str,
        query: &[(&str, &str)],
        body: Option<serde_json::Value>,
        subject: &Subject,
    ) -> Result<T> {
        let url = format!("{}/api/2.0/mlflow/{endpoint}", self.base);
        let payload = match body {
            Some(v) => Payload::Json(v),
            None => Payload::None,
        };
        let reply = self.send(method, &url, query, &payload)?;
        let what = format!("{} {url}", method.as_str());
        if !(200..300).contains(&reply.status) {
            return Err(error_from_reply(&what, &reply, subject));
        }
        decode(&what, &reply.body)
    }
}

/// Decodes a JSON body, naming the URL when it is not what MLflow's API documents.
pub(crate) fn decode<T: DeserializeOwned>(url: &str, body: &[u8]) -> Result<T> {
    // An empty body on success is how some endpoints say `{}`.
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| Error::Protocol {
        url: url.to_string(),
        reason: format!("{e} in body {}", snippet(body)),
    })
}

/// Maps MLflow's `error_code` (and, lacking one, the HTTP status) to the crate's error.
pub(crate) fn error_from_reply(url: &str, reply: &Reply, subject: &Subject) -> Error {
    let (error_code, message) = match serde_json::from_slice::<ErrorBody>(&reply.body) {
        Ok(b) if !b.error_code.is_empty() => (b.error_code, b.message),
        _ => (String::new(), snippet(&reply.body)),
    };
    match (error_code.as_str(), reply.status) {
        ("RESOURCE_DOES_NOT_EXIST" | "NOT_FOUND", _) | ("", 404) => Error::NotFound {
            what: subject.what,
            name: subject.name.clone(),
        },
        ("RESOURCE_ALREADY_EXISTS" | "ALREADY_EXISTS", _) | ("", 409) => Error::AlreadyExists {
            what: subject.what,
            name: subject.name.clone(),
        },
        // MLflow answers a lookup of an unknown alias with INVALID_PARAMETER_VALUE
        // "Registered model alias champion not found." - it is a missing object.
        ("INVALID_PARAMETER_VALUE", _) if message.trim_end_matches('.').ends_with("not found") => {
            Error::NotFound {
                what: subject.what,
                name: subject.name.clone(),
            }
        }
        ("INVALID_PARAMETER_VALUE" | "BAD_REQUEST" | "INVALID_STATE", _) | ("", 400) => {
            Error::InvalidParameter {
                url: url.to_string(),
                error_code: if error_code.is_empty() {
                    "BAD_REQUEST".to_string()
                } else {
                    error_code
                },
                message,
            }
        }
        _ => Error::Server {
            url: url.to_string(),
            status: reply.status,
            error_code: if error_code.is_empty() {
                format!("HTTP_{}", reply.status)
            } else {
                error_code
            },
            message,
        },
    }
}

/// Connection-level failures that may go away: refused, reset, timed out, DNS hiccups.
fn is_transient(e: &ureq::Error) -> bool {
    matches!(
        e,
        ureq::Error::Io(_)
            | ureq::Error::Timeout(_)
            | ureq::Error::ConnectionFailed
            | ureq::Error::HostNotFound
            | ureq::Error::Protocol(_)
            | ureq::Error::BodyStalled
    )
}

/// At most 300 characters of a body, for error messages.
fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let trimmed = text.trim();
    match trimmed.char_indices().nth(300) {
        Some((i, _)) => format!("{}...", &trimmed[..i]),
        None => trimmed.to_string(),
    }
}

/// Percent-encodes one artifact path for a URL, keeping the `/` separators.
pub(crate) fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, body: &str) -> Reply {
        Reply {
            status,
            body: body.as_bytes().to_vec(),
        }
    }

    fn subject() -> Subject {
        Subject::new("run", "abc")
    }

    #[test]
    fn error_codes_become_typed_errors() {
        let e = error_from_reply(
            "u",
            &reply(
                404,
                r#"{"error_code":"RESOURCE_DOES_NOT_EXIST","message":"x"}"#,
            ),
            &subject(),
        );
        assert!(matches!(e, Error::NotFound { what: "run", ref name } if name == "abc"));
        let e = error_from_reply(
            "u",
            &reply(
                400,
                r#"{"error_code":"RESOURCE_ALREADY_EXISTS","message":"x"}"#,
            ),
            &subject(),
        );
        assert!(e.is_already_exists());
        let e = error_from_reply(
            "u",
            &reply(
                400,
                r#"{"error_code":"INVALID_PARAMETER_VALUE","message":"bad"}"#,
            ),
            &subject(),
        );
        assert!(
            matches!(e, Error::InvalidParameter { ref error_code, ref message, .. } if error_code == "INVALID_PARAMETER_VALUE" && message == "bad")
        );
        let e = error_from_reply(
            "u",
            &reply(
                400,
                r#"{"error_code":"INVALID_PARAMETER_VALUE","message":"Registered model alias champion not found."}"#,
            ),
            &subject(),
        );
        assert!(e.is_not_found());
        let e = error_from_reply(
            "u",
            &reply(403, r#"{"error_code":"PERMISSION_DENIED","message":"no"}"#),
            &subject(),
        );
        assert!(
            matches!(e, Error::Server { status: 403, ref error_code, .. } if error_code == "PERMISSION_DENIED")
        );
    }

    #[test]
    fn bodies_without_error_code_fall_back_to_the_status() {
        let e = error_from_reply("u", &reply(404, "<html>nope</html>"), &subject());
        assert!(e.is_not_found());
        let e = error_from_reply("u", &reply(502, "<html>bad gateway</html>"), &subject());
        assert!(
            matches!(e, Error::Server { status: 502, ref error_code, ref message, .. } if error_code == "HTTP_502" && message.contains("bad gateway"))
        );
        let e = error_from_reply("u", &reply(400, ""), &subject());
        assert!(matches!(e, Error::InvalidParameter { .. }));
    }

    #[test]
    fn decode_names_the_url_and_accepts_an_empty_body() {
        let v: serde_json::Value = decode("GET x", b"").unwrap();
        assert_eq!(v, serde_json::json!({}));
        let e = decode::<serde_json::Value>("GET x", b"not json").unwrap_err();
        assert!(
            matches!(e, Error::Protocol { ref url, ref reason } if url == "GET x" && reason.contains("not json"))
        );
    }

    #[test]
    fn paths_are_percent_encoded_but_keep_slashes() {
        assert_eq!(encode_path("model/a b%.json"), "model/a%20b%25.json");
        assert_eq!(encode_path("é"), "%C3%A9");
    }
}
