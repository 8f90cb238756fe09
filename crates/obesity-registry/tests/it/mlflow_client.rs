//! `MlflowStore` against a scripted fake server (a `std::net::TcpListener` on 127.0.0.1):
//! retries, error mapping, the wire format of special floats and credentials, without MLflow.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use obesity_registry::{Error, Metric, MlflowStore, Param, RetryPolicy, Store};

/// One request as the fake server saw it.
#[derive(Debug)]
struct Seen {
    request_line: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Serves `script` (status, JSON body), one connection per answer, then returns what it saw.
fn fake_server(script: Vec<(u16, &'static str)>) -> (SocketAddr, JoinHandle<Vec<Seen>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a local port");
    let addr = listener.local_addr().expect("local addr");
    let handle = thread::spawn(move || {
        let mut seen = Vec::new();
        for (status, body) in script {
            let Ok((stream, _)) = listener.accept() else {
                break;
            };
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .expect("timeout");
            let mut reader = BufReader::new(stream);
            let mut request_line = String::new();
            reader.read_line(&mut request_line).expect("request line");
            let mut headers = Vec::new();
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).expect("header");
                let line = line.trim_end();
                if line.is_empty() {
                    break;
                }
                if let Some((k, v)) = line.split_once(':') {
                    headers.push((k.trim().to_string(), v.trim().to_string()));
                }
            }
            let len = headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.parse::<usize>().ok())
                .unwrap_or(0);
            let mut req_body = vec![0; len];
            reader.read_exact(&mut req_body).expect("body");
            let mut stream = reader.into_inner();
            let answer = format!(
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n{body}",
                body.len()
            );
            stream.write_all(answer.as_bytes()).expect("write");
            seen.push(Seen {
                request_line: request_line.trim_end().to_string(),
                headers,
                body: String::from_utf8_lossy(&req_body).into_owned(),
            });
        }
        seen
    });
    (addr, handle)
}

fn fast_retry(attempts: u32) -> RetryPolicy {
    RetryPolicy::default()
        .max_attempts(attempts)
        .initial_backoff(Duration::from_millis(1))
        .max_backoff(Duration::from_millis(5))
}

fn store(addr: SocketAddr, retry: RetryPolicy) -> MlflowStore {
    MlflowStore::builder(format!("http://{addr}"))
        .retry(retry)
        .no_auth()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("valid url")
}

const EXPERIMENT: &str = r#"{"experiment":{"experiment_id":"7","name":"exp","artifact_location":"mlflow-artifacts:/7","lifecycle_stage":"active"}}"#;

#[test]
fn mlflow_retries_a_503_then_succeeds() {
    let (addr, server) = fake_server(vec![
        (
            503,
            r#"{"error_code":"TEMPORARILY_UNAVAILABLE","message":"busy"}"#,
        ),
        (503, "<html>still busy</html>"),
        (200, EXPERIMENT),
    ]);
    let exp = store(addr, fast_retry(3))
        .get_experiment("7")
        .expect("third attempt succeeds");
    assert_eq!(exp.name, "exp");
    let seen = server.join().expect("server thread");
    assert_eq!(seen.len(), 3);
    assert!(
        seen.iter()
            .all(|s| s.request_line
                == "GET /api/2.0/mlflow/experiments/get?experiment_id=7 HTTP/1.1")
    );
}

#[test]
fn mlflow_gives_up_after_the_budget_with_the_last_server_error() {
    let (addr, server) = fake_server(vec![
        (
            503,
            r#"{"error_code":"TEMPORARILY_UNAVAILABLE","message":"busy 1"}"#,
        ),
        (502, r#"{"error_code":"BAD_GATEWAY","message":"busy 2"}"#),
    ]);
    let err = store(addr, fast_retry(2)).get_experiment("7").unwrap_err();
    assert!(
        matches!(err, Error::Server { status: 502, ref error_code, ref message, .. }
            if error_code == "BAD_GATEWAY" && message == "busy 2"),
        "{err:?}"
    );
    assert_eq!(server.join().expect("server thread").len(), 2);
}

#[test]
fn mlflow_does_not_retry_a_400() {
    // The script has a 200 after the 400: a retry would turn the error into a success.
    let (addr, server) = fake_server(vec![
        (
            400,
            r#"{"error_code":"INVALID_PARAMETER_VALUE","message":"Invalid experiment ID"}"#,
        ),
        (200, EXPERIMENT),
    ]);
    let err = store(addr, fast_retry(5)).get_experiment("7").unwrap_err();
    assert!(
        matches!(err, Error::InvalidParameter { ref error_code, ref message, .. }
            if error_code == "INVALID_PARAMETER_VALUE" && message == "Invalid experiment ID"),
        "{err:?}"
    );
    // Unblock the server's second accept, then check it saw exactly one API call before.
    let _ = std::net::TcpStream::connect(addr).map(|mut s| {
        let _ = s.write_all(b"GET /probe HTTP/1.1\r\n\r\n");
    });
    let seen = server.join().expect("server thread");
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1].request_line, "GET /probe HTTP/1.1");
}

#[test]
fn mlflow_unreachable_server_is_a_typed_error_after_every_attempt() {
    // Bind then drop: nothing listens on the port any more.
    let addr = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port");
    let err = store(addr, fast_retry(3)).get_run("abc").unwrap_err();
    assert!(
        matches!(err, Error::Unreachable { attempts: 3, ref url, .. } if url.contains("/runs/get")),
        "{err:?}"
    );
}

#[test]
fn mlflow_error_codes_map_to_not_found_and_already_exists() {
    let (addr, server) = fake_server(vec![
        (
            404,
            r#"{"error_code":"RESOURCE_DOES_NOT_EXIST","message":"Run with id=abc not found"}"#,
        ),
        (
            400,
            r#"{"error_code":"RESOURCE_ALREADY_EXISTS","message":"exists"}"#,
        ),
        (
            404,
            r#"{"error_code":"RESOURCE_DOES_NOT_EXIST","message":"no"}"#,
        ),
    ]);
    let s = store(addr, RetryPolicy::none());
    let err = s.get_run("abc").unwrap_err();
    assert!(
        matches!(err, Error::NotFound { what: "run", ref name } if name == "abc"),
        "{err:?}"
    );
    let err = s.create_experiment("exp", None, &[]).unwrap_err();
    assert!(
        matches!(err, Error::AlreadyExists { what: "experiment", ref name } if name == "exp"),
        "{err:?}"
    );
    assert_eq!(s.get_experiment_by_name("nope").expect("no error"), None);
    server.join().expect("server thread");
}

#[test]
fn mlflow_special_floats_travel_as_strings_both_ways() {
    let (addr, server) = fake_server(vec![
        (200, "{}"),
        (
            200,
            r#"{"metrics":[{"key":"m","value":"NaN","timestamp":5,"step":1},
                           {"key":"m","value":"-Infinity","timestamp":6,"step":2},
                           {"key":"m","value":1.7976931348623157e308,"timestamp":7,"step":3},
                           {"key":"m","value":0.25,"timestamp":"8","step":"4"}]}"#,
        ),
    ]);
    let s = store(addr, RetryPolicy::none());
    let metrics = [
        Metric {
            key: "m".into(),
            value: f64::NAN,
            timestamp_ms: 5,
            step: 1,
        },
        Metric {
            key: "m".into(),
            value: f64::INFINITY,
            timestamp_ms: 6,
            step: 2,
        },
    ];
    s.log_batch("abc", &metrics, &[], &[]).expect("logged");
    let history = s.get_metric_history("abc", "m").expect("history");
    let seen = server.join().expect("server thread");
    let sent: serde_json::Value = serde_json::from_str(&seen[0].body).expect("json body");
    assert_eq!(sent["metrics"][0]["value"], "NaN");
    assert_eq!(sent["metrics"][1]["value"], "Infinity");
    assert_eq!(sent["run_id"], "abc");
    assert!(history[0].value.is_nan());
    assert_eq!(history[1].value, f64::NEG_INFINITY);
    assert_eq!(
        history[2].value,
        f64::INFINITY,
        "SQL stores keep inf as f64::MAX"
    );
    assert_eq!(
        (history[3].value, history[3].timestamp_ms, history[3].step),
        (0.25, 8, 4)
    );
}

#[test]
fn mlflow_changed_param_becomes_param_changed_with_both_values() {
    let (addr, server) = fake_server(vec![
        (
            400,
            r#"{"error_code":"INVALID_PARAMETER_VALUE","message":"Changing param values is not allowed. Params were already logged='[...]'"}"#,
        ),
        (
            200,
            r#"{"run":{"info":{"run_id":"abc","experiment_id":"1","status":"RUNNING"},
                       "data":{"params":[{"key":"depth","value":"10"}]}}}"#,
        ),
    ]);
    let s = store(addr, RetryPolicy::none());
    let err = s
        .log_batch("abc", &[], &[Param::new("depth", "11")], &[])
        .unwrap_err();
    assert!(
        matches!(err, Error::ParamChanged { ref key, ref old, ref new, .. }
            if key == "depth" && old == "10" && new == "11"),
        "{err:?}"
    );
    server.join().expect("server thread");
}

#[test]
fn mlflow_credentials_are_sent_as_authorization_header() {
    let (addr, server) = fake_server(vec![(200, EXPERIMENT), (200, EXPERIMENT)]);
    let url = format!("http://{addr}");
    MlflowStore::builder(&url)
        .bearer_token("tok")
        .build()
        .and_then(|s| s.get_experiment("7"))
        .expect("bearer");
    MlflowStore::builder(&url)
        .basic_auth("user", "pass")
        .build()
        .and_then(|s| s.get_experiment("7"))
        .expect("basic");
    let seen = server.join().expect("server thread");
    assert_eq!(seen[0].header("authorization"), Some("Bearer tok"));
    assert_eq!(seen[1].header("authorization"), Some("Basic dXNlcjpwYXNz"));
}

#[test]
fn mlflow_malformed_answer_is_a_protocol_error_not_a_panic() {
    let (addr, server) = fake_server(vec![
        (200, r#"{"experiment":{"name":"no id"}}"#),
        (200, "this is not json"),
    ]);
    let s = store(addr, RetryPolicy::none());
    for _ in 0..2 {
        let err = s.get_experiment("7").unwrap_err();
        assert!(matches!(err, Error::Protocol { .. }), "{err:?}");
    }
    server.join().expect("server thread");
}

#[test]
fn mlflow_bad_names_are_refused_before_any_request() {
    // Nothing listens here: a request would be an Unreachable error, not InvalidName.
    let addr = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port");
    let s = store(addr, RetryPolicy::none());
    assert!(matches!(
        s.create_registered_model("a/b", &[], None),
        Err(Error::InvalidName { .. })
    ));
    assert!(matches!(
        s.set_registered_model_alias("m", "latest", 1),
        Err(Error::InvalidName { .. })
    ));
    let clash = obesity_registry::CreateRun {
        experiment_id: "1".into(),
        run_name: Some("a".into()),
        tags: vec![obesity_registry::Tag::new("mlflow.runName", "b")],
        ..Default::default()
    };
    assert!(matches!(
        s.create_run(&clash),
        Err(Error::InvalidValue {
            field: "run_name",
            ..
        })
    ));
    assert!(matches!(
        s.log_artifact("abc", "../escape.txt", b"x"),
        Err(Error::InvalidArtifactPath { .. })
    ));
    assert!(matches!(
        s.search_runs(&obesity_registry::SearchRuns {
            experiment_ids: vec!["1".into()],
            filter: Some("metrics.acc >> 1".into()),
            ..Default::default()
        }),
        Err(Error::Filter { .. })
    ));
}

#[test]
fn mlflow_open_store_gives_the_server_store_for_http_urls() {
    let store = obesity_registry::open_store("http://127.0.0.1:5000/").expect("http url");
    assert_eq!(store.uri(), "http://127.0.0.1:5000");
    match obesity_registry::open_store("https://mlflow.example.com") {
        Err(Error::UnsupportedUri { uri, reason }) => {
            assert_eq!(uri, "https://mlflow.example.com");
            assert!(reason.contains("TLS"), "{reason}");
        }
        Err(other) => panic!("unexpected error {other:?}"),
        Ok(_) => panic!("https must be refused by a build without TLS"),
    }
}

#[test]
fn mlflow_a_page_token_that_repeats_is_a_protocol_error_not_an_endless_loop() {
    // A server (or proxy) that answers every page with the token it was sent used to keep
    // the paging loop going forever; here the third request would find no server at all.
    let page = r#"{"registered_models":[],"next_page_token":"same"}"#;
    let (addr, server) = fake_server(vec![(200, page), (200, page)]);
    let s = store(addr, RetryPolicy::none());
    let err = s.search_registered_models(100).unwrap_err();
    assert!(
        matches!(&err, Error::Protocol { reason, .. } if reason.contains("\"same\"")),
        "{err:?}"
    );
    let seen = server.join().expect("server thread");
    assert_eq!(seen.len(), 2);
    assert!(seen[1].request_line.contains("page_token=same"), "{seen:?}");
}

// ---- issue 12 item 5: a hostile server cannot make a call page, read or wait forever ------

/// Reads one request (line, headers, body) from `stream`; `None` when the client went away.
fn read_request(stream: &std::net::TcpStream) -> Option<String> {
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut reader = BufReader::new(stream);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).ok()? == 0 {
        return None;
    }
    let mut len = 0;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            len = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    Some(request_line.trim_end().to_string())
}

/// A server that answers every request with `answer(n)` (n = 0, 1, 2 ... requests so far)
/// and counts the requests. After 100 answers it goes away, so a client that would page
/// forever fails (unreachable) instead of hanging the test.
fn endless_server(
    answer: impl Fn(usize) -> String + Send + 'static,
) -> (SocketAddr, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a local port");
    let addr = listener.local_addr().expect("local addr");
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = count.clone();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            // Keep-alive: answer every request on this connection.
            while read_request(&stream).is_some() {
                let n = seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if n >= 100 {
                    return;
                }
                let body = answer(n);
                let reply = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                if stream.write_all(reply.as_bytes()).is_err() {
                    break;
                }
            }
        }
    });
    (addr, count)
}

#[test]
fn issue12_5_endless_empty_pages_with_new_tokens_stop_with_a_protocol_error() {
    // `registry list` used to page forever (54,000 requests a minute): every page was empty
    // and carried a new token.
    let (addr, count) =
        endless_server(|n| format!(r#"{{"registered_models":[],"next_page_token":"t{n}"}}"#));
    let err = store(addr, RetryPolicy::none())
        .search_registered_models(10_000)
        .unwrap_err();
    assert!(
        matches!(&err, Error::Protocol { reason, .. } if reason.contains("empty pages in a row")),
        "{err:?}"
    );
    assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 3);
    // The same for the other listings.
    let (addr, _) = endless_server(|n| format!(r#"{{"runs":[],"next_page_token":"t{n}"}}"#));
    let err = store(addr, RetryPolicy::none())
        .search_runs(&obesity_registry::SearchRuns {
            experiment_ids: vec!["1".into()],
            ..Default::default()
        })
        .unwrap_err();
    assert!(matches!(err, Error::Protocol { .. }), "{err:?}");
}

#[test]
fn issue12_5_endless_full_pages_stop_at_the_page_limit_naming_it() {
    let (addr, count) = endless_server(|n| {
        format!(
            r#"{{"registered_models":[{{"name":"m{n}","creation_timestamp":1,"last_updated_timestamp":1}}],"next_page_token":"t{n}"}}"#
        )
    });
    let s = MlflowStore::builder(format!("http://{addr}"))
        .retry(RetryPolicy::none())
        .no_auth()
        .max_pages(5)
        .build()
        .expect("valid url");
    let err = s.search_registered_models(10_000).unwrap_err();
    match &err {
        Error::LimitExceeded {
            limit,
            value,
            setter,
            ..
        } => {
            assert_eq!(
                (*limit, value.as_str(), *setter),
                ("page limit", "5 pages", "max_pages")
            );
        }
        other => panic!("expected LimitExceeded, got {other:?}"),
    }
    assert!(
        err.to_string().contains("MlflowStoreBuilder::max_pages"),
        "{err}"
    );
    assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 5);
}

/// A server whose one answer is `head` followed by zeros for as long as the client reads.
fn huge_body_server(head: &'static str) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a local port");
    let addr = listener.local_addr().expect("local addr");
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            if read_request(&stream).is_none() {
                continue;
            }
            let _ = stream.write_all(head.as_bytes());
            let chunk = vec![b'0'; 64 * 1024];
            // Until the client hangs up (bounded, so a broken client cannot fill the disk).
            for _ in 0..16_384 {
                if stream.write_all(&chunk).is_err() {
                    break;
                }
            }
        }
    });
    addr
}

#[test]
fn issue12_5_a_huge_body_stops_at_the_response_size_limit_naming_it() {
    // An announced 800 MB body is refused before it is read ...
    let addr = huge_body_server(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 800000000\r\n\r\n",
    );
    let s = MlflowStore::builder(format!("http://{addr}"))
        .retry(RetryPolicy::none())
        .no_auth()
        .max_response_bytes(1024 * 1024)
        .build()
        .expect("valid url");
    let err = s.get_experiment("7").unwrap_err();
    match &err {
        Error::LimitExceeded {
            limit,
            value,
            detail,
            setter,
            ..
        } => {
            assert_eq!(
                (*limit, value.as_str(), *setter),
                ("response size limit", "1 MiB", "max_response_bytes")
            );
            assert!(detail.contains("800000000"), "{detail}");
        }
        other => panic!("expected LimitExceeded, got {other:?}"),
    }
    // ... and one without a length (read until the server closes) stops at the limit.
    let addr = huge_body_server(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n",
    );
    let s = MlflowStore::builder(format!("http://{addr}"))
        .retry(RetryPolicy::none())
        .no_auth()
        .max_response_bytes(1024 * 1024)
        .build()
        .expect("valid url");
    let err = s.get_experiment("7").unwrap_err();
    assert!(
        matches!(
            &err,
            Error::LimitExceeded {
                limit: "response size limit",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("1 MiB"), "{err}");
}

/// A server that accepts connections, reads nothing and never answers.
fn silent_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a local port");
    let addr = listener.local_addr().expect("local addr");
    thread::spawn(move || {
        let mut open = Vec::new();
        for stream in listener.incoming().flatten() {
            open.push(stream); // kept open, never answered
        }
    });
    addr
}

#[test]
fn issue12_5_a_silent_server_stops_at_the_time_limit_per_call_naming_it() {
    // With the old defaults a silent server held a call for 308 s (5 attempts of 60 s plus
    // backoff). Here the per-request timeout alone would allow 5 x 10 s, but the call's limit
    // of 300 ms stops it, and the error says which limit that was.
    let s = MlflowStore::builder(format!("http://{}", silent_server()))
        .retry(fast_retry(5))
        .no_auth()
        .timeout(Duration::from_secs(10))
        .call_timeout(Duration::from_millis(300))
        .build()
        .expect("valid url");
    let err = s.get_experiment("7").unwrap_err();
    match &err {
        Error::LimitExceeded {
            limit,
            value,
            setter,
            url,
            ..
        } => {
            assert_eq!(
                (*limit, value.as_str(), *setter),
                ("time limit per call", "300ms", "call_timeout")
            );
            assert!(url.contains("experiments/get"), "{url}");
        }
        other => panic!("expected LimitExceeded, got {other:?}"),
    }
    assert!(
        err.to_string().contains("MlflowStoreBuilder::call_timeout"),
        "{err}"
    );
}

#[test]
fn issue12_5_a_silent_server_with_retries_exhausted_names_the_per_request_timeout() {
    let s = MlflowStore::builder(format!("http://{}", silent_server()))
        .retry(fast_retry(2))
        .no_auth()
        .timeout(Duration::from_millis(100))
        .call_timeout(Duration::from_secs(600))
        .build()
        .expect("valid url");
    let err = s.get_run("abc").unwrap_err();
    assert!(
        matches!(&err, Error::LimitExceeded { limit: "per-request timeout", value, setter: "timeout", detail, .. }
            if value == "100ms" && detail.contains("2 attempt(s)")),
        "{err:?}"
    );
}

#[test]
fn issue12_5_the_default_limits_are_bounded_and_shown() {
    let b = MlflowStore::builder("http://127.0.0.1:5000");
    let shown = format!("{b:?}");
    for part in [
        "call_timeout: 60s",
        "timeout: 30s",
        "connect_timeout: 10s",
        "max_response_bytes: 67108864",
        "max_pages: 1000",
    ] {
        assert!(shown.contains(part), "{part} not in {shown}");
    }
}

/// Issue 15: dataset inputs go to `runs/log-inputs` in MLflow's JSON shape, and a version's
/// logged model id goes with `model-versions/create`.
#[test]
fn mlflow_dataset_inputs_and_model_ids_are_sent_as_mlflow_expects() {
    let version = r#"{"model_version":{"name":"m","version":"1","source":"s","model_id":"m-0123456789abcdef0123456789abcdef"}}"#;
    let (addr, server) = fake_server(vec![(200, "{}"), (200, version)]);
    let s = store(addr, fast_retry(1));
    let dataset = obesity_registry::DatasetInput::training("train", "abc123", "/data/t.csv")
        .with_schema(&obesity_data::Schema::obesity());
    s.log_inputs("r1", &[dataset]).expect("log inputs");
    let v = s
        .create_model_version(&obesity_registry::CreateModelVersion {
            name: "m".into(),
            source: "s".into(),
            run_id: None,
            tags: Vec::new(),
            description: None,
            model_id: Some("m-0123456789abcdef0123456789abcdef".into()),
        })
        .expect("version");
    assert_eq!(
        v.model_id.as_deref(),
        Some("m-0123456789abcdef0123456789abcdef")
    );
    let seen = server.join().expect("server thread");
    assert_eq!(
        seen[0].request_line,
        "POST /api/2.0/mlflow/runs/log-inputs HTTP/1.1"
    );
    let body: serde_json::Value = serde_json::from_str(&seen[0].body).expect("json");
    assert_eq!(body["run_id"], "r1");
    let d = &body["datasets"][0];
    assert_eq!(d["dataset"]["name"], "train");
    assert_eq!(d["dataset"]["digest"], "abc123");
    assert_eq!(d["dataset"]["source_type"], "local");
    assert_eq!(d["dataset"]["source"], r#"{"uri":"/data/t.csv"}"#);
    assert!(
        d["dataset"]["schema"]
            .as_str()
            .expect("schema")
            .contains("mlflow_colspec")
    );
    assert_eq!(d["tags"][0]["key"], "mlflow.data.context");
    assert_eq!(d["tags"][0]["value"], "training");
    let body: serde_json::Value = serde_json::from_str(&seen[1].body).expect("json");
    assert_eq!(body["model_id"], "m-0123456789abcdef0123456789abcdef");
}

/// Issue 16: `promote 3 Production --archive-existing` left `champion` on the archived
/// version. The registry's move runs on the MLflow store too: it asks the server who holds
/// `champion`, lets the server archive, then points `champion` at the promoted version.
#[test]
fn mlflow_transition_with_archive_moves_champion_off_the_archived_version() {
    let v1_production =
        r#"{"model_version":{"name":"m","version":"1","source":"s","current_stage":"Production"}}"#;
    let (addr, server) = fake_server(vec![
        // Who holds champion.
        (200, v1_production),
        // search_model_versions: the model (aliases), then the versions.
        (
            200,
            r#"{"registered_model":{"name":"m","aliases":[{"alias":"champion","version":"1"},{"alias":"baseline","version":"1"}]}}"#,
        ),
        (
            200,
            r#"{"model_versions":[{"name":"m","version":"1","source":"s","current_stage":"Production"},{"name":"m","version":"3","source":"s","current_stage":"None"}]}"#,
        ),
        // The transition (the server archives v1).
        (
            200,
            r#"{"model_version":{"name":"m","version":"3","source":"s","current_stage":"Production"}}"#,
        ),
        // champion -> 3, then the version as it is now.
        (200, "{}"),
        (
            200,
            r#"{"model_version":{"name":"m","version":"3","source":"s","current_stage":"Production","aliases":["champion"]}}"#,
        ),
    ]);
    let registry =
        obesity_registry::Registry::new(std::sync::Arc::new(store(addr, RetryPolicy::none())));
    let t = registry
        .transition_report("m", 3, obesity_registry::Stage::Production, true)
        .expect("transition");
    assert_eq!(t.archived, [1]);
    assert_eq!(t.moved_aliases, [("champion".to_owned(), 1)]);
    assert_eq!(t.stale_aliases, [("baseline".to_owned(), 1)]);
    assert_eq!(t.version.aliases, ["champion"]);
    let seen = server.join().expect("server thread");
    let lines: Vec<&str> = seen.iter().map(|s| s.request_line.as_str()).collect();
    assert!(lines[0].contains("registered-models/alias"), "{lines:?}");
    assert!(
        lines[3].contains("model-versions/transition-stage"),
        "{lines:?}"
    );
    assert!(
        seen[3].body.contains("\"archive_existing_versions\":true"),
        "{}",
        seen[3].body
    );
    assert!(lines[4].starts_with("POST") && lines[4].contains("registered-models/alias"));
    assert!(
        seen[4].body.contains("\"alias\":\"champion\"")
            && seen[4].body.contains("\"version\":\"3\""),
        "{}",
        seen[4].body
    );
}
