//! The load test's ceiling: the most requests per second any server can answer on this
//! machine with `wrk` sharing its cores. One axum route, on the same runtime setup as
//! `obesity serve` (tokio's multi-threaded runtime, one worker per core), that reads the
//! request body and answers a fixed 200-byte JSON document shaped like a `/predict` answer:
//! no parsing, no model, no monitor.
//!
//! ```sh
//! cargo run --release -p obesity-serve --example ceiling -- --host 127.0.0.1 --port 8009
//! ```
//!
//! Every path and method answers the same document (`scripts/loadtest.sh` posts its JSON
//! body to `/predict`); `GET /health` is just one of them.

use std::net::SocketAddr;
use std::process::ExitCode;

use axum::Router;
use axum::body::Bytes;
use axum::http::header;
use axum::response::IntoResponse;

/// Exactly 200 bytes (checked when compiling).
const BODY: &str = concat!(
    r#"{"class":"Normal_Weight","probabilities":{"Normal_Weight":0.63,"#,
    r#""Overweight_Level_I":0.14,"Overweight_Level_II":0.12,"Insufficient_Weight":0.11},"#,
    r#""confidence":0.63,"model_version":"1","latency_us":12.0}"#,
);
const _: () = assert!(BODY.len() == 200);

async fn fixed(_body: Bytes) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], BODY)
}

/// SIGINT or SIGTERM (the load test stops servers by pid with SIGTERM).
async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

fn parse_args() -> Result<SocketAddr, String> {
    let mut host = "127.0.0.1".to_owned();
    let mut port = 8009u16;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--host" => host = value("--host")?,
            "--port" => {
                port = value("--port")?
                    .parse()
                    .map_err(|e| format!("--port: {e}"))?;
            }
            "-h" | "--help" => {
                return Err("usage: ceiling [--host 127.0.0.1] [--port 8009]".to_owned());
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    format!("{host}:{port}")
        .parse()
        .map_err(|e| format!("{host}:{port}: {e}"))
}

fn main() -> ExitCode {
    let addr = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("ceiling: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ceiling: tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result: std::io::Result<()> = runtime.block_on(async move {
        let app = Router::new().fallback(fixed);
        let listener = tokio::net::TcpListener::bind(addr).await?;
        eprintln!("ceiling: listening on http://{}", listener.local_addr()?);
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown())
            .await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ceiling: {e}");
            ExitCode::FAILURE
        }
    }
}
