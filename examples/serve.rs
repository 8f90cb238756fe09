//! Serves a registered model over HTTP: `/predict`, MLflow's scoring protocol, the Open
//! Inference Protocol v2, `/health`, `/metrics`, `/docs` ... (see `obesity_serve`).
//!
//! ```text
//! cargo run --release --example train_and_register      # registers models:/obesity-classifier@champion
//! cargo run --release --example serve -- --port 8000    # serves it until Ctrl-C / SIGTERM
//! curl -s localhost:8000/health
//! ```
//!
//! Flags (the same as `obesity serve`): `--tracking-uri DIR|URL`, `--model
//! models:/NAME@ALIAS` (default `models:/obesity-classifier@champion`), `--host 127.0.0.1`,
//! `--port 8000`, `--poll-interval SECONDS`, `--admin-token TOKEN` (or
//! `$OBESITY_ADMIN_TOKEN`), `--also-load models:/NAME@challenger`, limits. Logs go to stderr
//! (`RUST_LOG=debug` for more).

use std::process::ExitCode;

use clap::Parser;
use obesity_mlops::serve::{ServeArgs, init_tracing, run_blocking};

/// Serve a registered model over HTTP.
#[derive(Debug, Parser)]
#[command(name = "serve")]
struct Cli {
    /// Registry: a folder or an MLflow server URL. Defaults to $OBESITY_TRACKING_URI, then
    /// $MLFLOW_TRACKING_URI, then ./mlruns.
    #[arg(long, value_name = "DIR|URL")]
    tracking_uri: Option<String>,
    #[command(flatten)]
    serve: ServeArgs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    match cli
        .serve
        .to_config(cli.tracking_uri.as_deref())
        .and_then(run_blocking)
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
