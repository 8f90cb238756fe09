//! The HTTP layer of [`MlflowStore`](crate::MlflowStore): one blocking ureq agent, the
//! `Authorization` header, the retry loop, the client's limits (time per call, time per
//! request, response size, pages), and the translation of MLflow's JSON error bodies
//! (`{"error_code": ..., "message": ...}`) into the crate's typed [`Error`].

use std::collections::HashSet;
use std::thread;
use std::time::{Duration, Instant};

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

/// The client's limits, set on [`MlflowStoreBuilder`](crate::MlflowStoreBuilder).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Limits {
    /// The longest one Store call (every request, retry, wait and page of it) may take.
    pub(crate) call_timeout: Duration,
    /// The longest one HTTP exchange may take.
    pub(crate) request_timeout: Duration,
    /// The longest connection setup may take.
    pub(crate) connect_timeout: Duration,
    /// The largest response body read, in bytes.
    pub(crate) max_response_bytes: u64,
    /// The most pages one listing fetches.
    pub(crate) max_pages: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            call_timeout: Duration::from_secs(60),
            request_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            max_response_bytes: 64 * 1024 * 1024,
            max_pages: 1000,
        }
    }
}

/// One Store call: every request of it shares one deadline.
pub(crate) struct Call {
    deadline: Instant,
}

/// How many empty pages in a row, each with a next page token, a listing accepts before it
/// calls the server broken (a real server sends a token only when more results follow).
const EMPTY_PAGES_IN_A_ROW: usize = 3;

/// Bounds one paged listing: at most `max_pages` pages, never a page token twice, never an
/// endless run of empty pages.
pub(crate) struct Pager {
    url: String,
    max_pages: usize,
    pages: usize,
    empty_in_a_row: usize,
    seen: HashSet<String>,
}

impl Pager {
    /// The token of the next page after a page of `items` results that came with `next`;
    /// `None` after the last page.
    pub(crate) fn next(&mut self, items: usize, next: Option<String>) -> Result<Option<String>> {
        self.pages += 1;
        let Some(token) = next.filter(|t| !t.is_empty()) else {
            return Ok(None);
        };
        if !self.seen.insert(token.clone()) {
            // A server (or proxy) that answers with a token it already sent would keep the
            // loop going forever, piling up the same results.
            return Err(Error::Protocol {
                url: self.url.clone(),
                reason: format!(
                    "next_page_token {token:?} was already sent on page {} or earlier of this \
                     listing",
                    self.pages
                ),
            });
        }
        self.empty_in_a_row = if items == 0 {
            self.empty_in_a_row + 1
        } else {
            0
        };
        if self.empty_in_a_row >= EMPTY_PAGES_IN_A_ROW {
            return Err(Error::Protocol {
                url: self.url.clone(),
                reason: format!(
                    "the server sent {EMPTY_PAGES_IN_A_ROW} empty pages in a row, each with a \
                     new next_page_token (last {token:?}); a server sends a token only when \
                     more results follow"
                ),
            });
        }
        if self.pages >= self.max_pages {
            return Err(Error::LimitExceeded {
                url: self.url.clone(),
                limit: "page limit",
                value: format!("{} pages", self.max_pages),
                detail: ", and the server still had a next page".to_string(),
                setter: "max_pages",
            });
        }
        Ok(Some(token))
    }
}

/// One server: base URL, agent, credentials, retry policy, limits.
pub(crate) struct Transport {
    base: String,
    agent: ureq::Agent,
    authorization: Option<String>,
    retry: RetryPolicy,
    limits: Limits,
}

/// Why one attempt failed.
enum Failure {
    /// No usable answer: connection, timeout, protocol.
    Transport(ureq::Error),
    /// The answer is larger than the response size limit (`announced`: its Content-Length).
    TooLarge { announced: Option<u64> },
}

impl From<ureq::Error> for Failure {
    fn from(e: ureq::Error) -> Self {
        match e {
            ureq::Error::BodyExceedsLimit(_) => Failure::TooLarge { announced: None },
            e => Failure::Transport(e),
        }
    }
}

/// A duration as a person writes it: `300ms`, `60s`, `1.5s`.
pub(crate) fn human_duration(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{}s", d.as_secs())
    } else if d < Duration::from_secs(1) {
        format!("{}ms", d.as_millis())
    } else {
        format!("{:.3}s", d.as_secs_f64())
    }
}

/// A byte count as a person writes it: `64 MiB`, `1000 bytes`.
pub(crate) fn human_bytes(n: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    if n >= MIB && n.is_multiple_of(MIB) {
        format!("{} MiB", n / MIB)
    } else if n >= 1024 && n.is_multiple_of(1024) {
        format!("{} KiB", n / 1024)
    } else {
        format!("{n} bytes")
    }
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
        limits: Limits,
    ) -> Self {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(limits.request_timeout))
            .timeout_connect(Some(limits.connect_timeout))
            .user_agent(concat!("obesity-registry/", env!("CARGO_PKG_VERSION")))
            .build();
        Transport {
            base,
            agent: ureq::Agent::new_with_config(config),
            authorization,
            retry,
            limits,
        }
    }

    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    /// Starts a Store call: its requests share the time limit per call from now on.
    pub(crate) fn begin(&self) -> Call {
        let now = Instant::now();
        Call {
            deadline: now
                .checked_add(self.limits.call_timeout)
                .unwrap_or(now + Duration::from_secs(86_400 * 365)),
        }
    }

    /// A bounded paging loop over `url`.
    pub(crate) fn pager(&self, url: &str) -> Pager {
        Pager {
            url: url.to_string(),
            max_pages: self.limits.max_pages.max(1),
            pages: 0,
            empty_in_a_row: 0,
            seen: HashSet::new(),
        }
    }

    fn call_timeout_error(&self, what: &str, attempts: u32, last: Option<&str>) -> Error {
        Error::LimitExceeded {
            url: what.to_string(),
            limit: "time limit per call",
            value: human_duration(self.limits.call_timeout),
            detail: match last {
                Some(e) => format!(", reached after {attempts} attempt(s) (last error: {e})"),
                None => format!(", reached after {attempts} attempt(s)"),
            },
            setter: "call_timeout",
        }
    }

    /// Sends a request to `url` with retries, within `call`'s time limit; returns the final
    /// reply whatever its status (the caller decides what a 4xx means), `Unreachable` if no
    /// reply came, or `LimitExceeded` if a limit stopped it.
    pub(crate) fn send(
        &self,
        call: &Call,
        method: Method,
        url: &str,
        query: &[(&str, &str)],
        payload: &Payload<'_>,
    ) -> Result<Reply> {
        let what = format!("{} {url}", method.as_str());
        let mut attempt = 1;
        let mut last_error: Option<String> = None;
        loop {
            let remaining = call.deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(self.call_timeout_error(&what, attempt - 1, last_error.as_deref()));
            }
            let timeout = remaining.min(self.limits.request_timeout);
            match self.send_once(method, url, query, payload, timeout) {
                Ok(reply) if self.retry.should_retry_status(reply.status, attempt) => {
                    last_error = Some(format!("HTTP {}", reply.status));
                }
                Ok(reply) => return Ok(reply),
                Err(Failure::TooLarge { announced }) => {
                    return Err(Error::LimitExceeded {
                        url: what,
                        limit: "response size limit",
                        value: human_bytes(self.limits.max_response_bytes),
                        detail: match announced {
                            Some(n) => format!(", the answer announced {n} bytes"),
                            None => ", the answer was larger".to_string(),
                        },
                        setter: "max_response_bytes",
                    });
                }
                Err(Failure::Transport(e))
                    if is_transient(&e) && self.retry.should_retry_transport(attempt) =>
                {
                    last_error = Some(e.to_string());
                }
                Err(Failure::Transport(e)) => {
                    let out_of_time = call.deadline <= Instant::now();
                    return Err(match e {
                        ureq::Error::Timeout(_) if out_of_time => {
                            self.call_timeout_error(&what, attempt, Some(&e.to_string()))
                        }
                        ureq::Error::Timeout(_) => Error::LimitExceeded {
                            url: what,
                            limit: "per-request timeout",
                            value: human_duration(self.limits.request_timeout),
                            detail: format!(", reached on each of {attempt} attempt(s) ({e})"),
                            setter: "timeout",
                        },
                        source => Error::Unreachable {
                            url: url.to_string(),
                            attempts: attempt,
                            source: Box::new(source),
                        },
                    });
                }
            }
            let remaining = call.deadline.saturating_duration_since(Instant::now());
            thread::sleep(self.retry.backoff(attempt).min(remaining));
            attempt += 1;
        }
    }

    fn send_once(
        &self,
        method: Method,
        url: &str,
        query: &[(&str, &str)],
        payload: &Payload<'_>,
        timeout: Duration,
    ) -> std::result::Result<Reply, Failure> {
        let (bytes, content_type): (Vec<u8>, &str) = match payload {
            Payload::None => (Vec::new(), ""),
            Payload::Json(v) => (
                serde_json::to_vec(v).map_err(|e| Failure::Transport(ureq::Error::Json(e)))?,
                "application/json",
            ),
            Payload::Bytes(b) => (b.to_vec(), "application/octet-stream"),
        };
        let auth = self.authorization.as_deref();
        let mut response = match method {
            Method::Get => {
                let mut req = self
                    .agent
                    .get(url)
                    .query_pairs(query.iter().copied())
                    .config()
                    .timeout_global(Some(timeout))
                    .build();
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
                .query_pairs(query.iter().copied())
                .config()
                .timeout_global(Some(timeout))
                .build();
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
        let max = self.limits.max_response_bytes;
        // An announced size over the limit is refused before a byte of the body is read.
        let announced = response
            .headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if let Some(n) = announced
            && n > max
        {
            return Err(Failure::TooLarge { announced: Some(n) });
        }
        let body = response.body_mut().with_config().limit(max).read_to_vec()?;
        Ok(Reply { status, body })
    }

    /// Calls a JSON endpoint under `/api/2.0/mlflow/` and decodes a 2xx answer as `T`; any
    /// other answer becomes a typed error about `subject`.
    pub(crate) fn call<T: DeserializeOwned>(
        &self,
        call: &Call,
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
        let reply = self.send(call, method, &url, query, &payload)?;
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
