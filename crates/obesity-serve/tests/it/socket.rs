//! The one real-socket test: HTTP/1.1 over TCP, keep-alive, and a graceful shutdown that
//! finishes the request in flight and flushes the prediction log.

use std::time::Duration;

use obesity_serve::Server;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::*;

/// Reads one HTTP/1.1 response with a Content-Length body: (status, body).
async fn read_response(stream: &mut TcpStream) -> (u16, String) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).await.expect("read");
        assert!(
            n > 0,
            "connection closed before a full response: {:?}",
            String::from_utf8_lossy(&buf)
        );
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let head = &text[..end];
            let length: usize = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse().ok())?
                })
                .expect("content-length");
            if buf.len() >= end + 4 + length {
                let status = head[9..12].parse().expect("status");
                let body = String::from_utf8_lossy(&buf[end + 4..end + 4 + length]).into_owned();
                return (status, body);
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_over_tcp_and_shuts_down_gracefully() {
    let fx = Fixture::new();
    let server = Server::bind(fx.config()).await.expect("bind");
    let addr = server.local_addr().unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(server.run_until(async move {
        let _ = stop_rx.await;
    }));

    // Two requests on one keep-alive connection.
    let mut conn = TcpStream::connect(addr).await.unwrap();
    conn.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let (status, body) = read_response(&mut conn).await;
    assert_eq!(status, 200, "{body}");
    let body = json!({"features": row_json(&rows(1)[0])}).to_string();
    let request = format!(
        "POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    conn.write_all(request.as_bytes()).await.unwrap();
    let (status, answer) = read_response(&mut conn).await;
    assert_eq!(status, 200, "{answer}");

    // A request in flight: headers and half the body sent, then shutdown is asked for.
    let mut inflight = TcpStream::connect(addr).await.unwrap();
    let (head, tail) = request.split_at(request.len() - 20);
    inflight.write_all(head.as_bytes()).await.unwrap();
    // Make sure the server has the connection (it answers a request on it first).
    let mut probe = TcpStream::connect(addr).await.unwrap();
    probe
        .write_all(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(read_response(&mut probe).await.0, 200);
    stop_tx.send(()).unwrap();
    // The listener closes: new connections are refused (polled, not timed).
    let mut refused = false;
    for _ in 0..500 {
        if TcpStream::connect(addr).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(refused, "the listener still accepts after shutdown began");
    // The request in flight still completes.
    inflight.write_all(tail.as_bytes()).await.unwrap();
    let (status, late) = read_response(&mut inflight).await;
    assert_eq!(status, 200, "{late}");
    drop((conn, inflight, probe));
    running.await.unwrap().expect("clean shutdown");

    // Both predictions are in the prediction log, flushed at shutdown.
    let log = fx
        .dir
        .path()
        .join("mlruns/monitoring")
        .join(MODEL)
        .join("events.jsonl");
    let text = std::fs::read_to_string(log).expect("prediction log");
    for a in [&answer, &late] {
        let v: serde_json::Value = serde_json::from_str(a).unwrap();
        let id = v["request_id"].as_str().unwrap().to_owned();
        assert!(crate::support::logged_ids(&text).contains(&id), "{text}");
    }
}
