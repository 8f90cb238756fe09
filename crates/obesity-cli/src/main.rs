//! The `obesity` command line: manage the experiment-tracking store and the model registry
//! (MLflow's `manage_registry.py` of the seeds), on a local folder or an MLflow server, and
//! serve a registered model over HTTP (`obesity serve`, see the `obesity-serve` crate).
//!
//! ```text
//! obesity registry list
//! obesity registry versions obesity-rf
//! obesity registry promote obesity-rf 3 Production --archive-existing
//! obesity registry alias obesity-rf champion 3
//! obesity registry compare obesity-rf 2 3
//! obesity registry runs obesity --filter "metrics.accuracy > 0.9" --order-by "metrics.accuracy DESC"
//! obesity serve --model models:/obesity-rf@champion --port 8000
//! obesity export onnx --model models:/obesity-rf@champion --output model.onnx
//! ```
//!
//! Every command takes `--tracking-uri DIR|URL` (default: `$OBESITY_TRACKING_URI`, else
//! `$MLFLOW_TRACKING_URI`, else `./mlruns`) and `--json` for machine-readable output.

mod commands;
mod export;
mod render;

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// Manage experiment runs and the model registry.
#[derive(Debug, Parser)]
#[command(name = "obesity", version, about)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

/// Options shared by every command.
#[derive(Debug, Args)]
struct Global {
    /// Store location: a folder (MLflow file-store layout) or an MLflow server URL.
    /// Defaults to $OBESITY_TRACKING_URI, then $MLFLOW_TRACKING_URI, then ./mlruns.
    #[arg(long, global = true, value_name = "DIR|URL")]
    tracking_uri: Option<String>,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Model registry and run search.
    #[command(subcommand)]
    Registry(RegistryCommand),
    /// Serve a registered model over HTTP (/predict, MLflow scoring, Open Inference Protocol
    /// v2, /health, /metrics, /docs) until Ctrl-C or SIGTERM.
    Serve(obesity_serve::ServeArgs),
    /// Export a registered version (ONNX: one model over the raw columns).
    #[command(subcommand)]
    Export(export::ExportCommand),
}

#[derive(Debug, Subcommand)]
enum RegistryCommand {
    /// List registered models with their latest versions and aliases.
    List,
    /// List the versions of a model.
    Versions {
        /// Registered model name.
        name: String,
    },
    /// Move a version to a stage (None, Staging, Production, Archived).
    Promote {
        /// Registered model name.
        name: String,
        /// Version number.
        version: u64,
        /// Target stage.
        stage: String,
        /// Archive the versions currently in that stage (Staging or Production only).
        #[arg(long)]
        archive_existing: bool,
    },
    /// Point an alias (e.g. champion) at a version.
    Alias {
        /// Registered model name.
        name: String,
        /// Alias name.
        alias: String,
        /// Version number.
        version: u64,
    },
    /// Remove an alias.
    DeleteAlias {
        /// Registered model name.
        name: String,
        /// Alias name.
        alias: String,
    },
    /// Show two versions' lineage, params and metrics side by side.
    Compare {
        /// Registered model name.
        name: String,
        /// First version.
        v1: u64,
        /// Second version.
        v2: u64,
    },
    /// Apply the promotion policy (thresholds, never replacing a better champion).
    Policy {
        /// Registered model name.
        name: String,
        /// Version number.
        version: u64,
        /// Metric to decide on.
        #[arg(long, default_value = "accuracy")]
        metric: String,
        /// Threshold for Production and the champion alias.
        #[arg(long, default_value_t = 0.90)]
        production: f64,
        /// Threshold for Staging and the challenger alias.
        #[arg(long, default_value_t = 0.85)]
        staging: f64,
        /// Lower values of the metric are better (e.g. a loss).
        #[arg(long)]
        lower_is_better: bool,
    },
    /// Search the runs of an experiment.
    Runs {
        /// Experiment name.
        experiment: String,
        /// Filter, e.g. "metrics.accuracy > 0.9 and params.max_depth = '10'".
        #[arg(long)]
        filter: Option<String>,
        /// Order clause, e.g. "metrics.accuracy DESC" (repeatable).
        #[arg(long = "order-by")]
        order_by: Vec<String>,
        /// At most this many runs.
        #[arg(long, default_value_t = 100)]
        max_results: usize,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let uri = cli
        .global
        .tracking_uri
        .clone()
        .unwrap_or_else(obesity_registry::tracking_uri_from_env);
    if let Command::Serve(args) = &cli.command {
        return serve(&uri, args);
    }
    if let Command::Export(cmd) = &cli.command {
        return export::main(&uri, cli.global.json, cmd);
    }
    match commands::run(&uri, cli.global.json, &cli.command) {
        Ok(text) => write_stdout(&text),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `obesity serve`: runs the service in the foreground (logs on stderr; `RUST_LOG` filters).
fn serve(uri: &str, args: &obesity_serve::ServeArgs) -> ExitCode {
    obesity_serve::init_tracing();
    match args
        .to_config(Some(uri))
        .and_then(obesity_serve::run_blocking)
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Writes the command's output. `print!` would panic when stdout is a closed pipe
/// (`obesity registry runs exp | head -1`); a reader that went away is not an error of the
/// command, so that case ends quietly, and any other write error is reported.
fn write_stdout(text: &str) -> ExitCode {
    use std::io::{ErrorKind, Write};
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: cannot write the output: {e}");
            ExitCode::FAILURE
        }
    }
}
