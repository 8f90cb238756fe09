//! The `obesity` command line: the model's whole life cycle — validate data, train and
//! register, predict, evaluate, watch for drift, manage the registry, serve and export — on
//! a local folder or an MLflow server, configured by one `params.yaml`.
//!
//! ```text
//! obesity validate data.csv --json
//! obesity validate fish.csv --schema fish.yaml --lenient
//! obesity train --config params.yaml --n-estimators 300
//! obesity predict --model models:/obesity-classifier@champion --input new.csv --output scored.csv
//! obesity evaluate --model models:/obesity-classifier@champion --data labelled.csv
//! obesity drift --model models:/obesity-classifier@champion --current new.csv --json
//! obesity stage featurize|train|evaluate|register      (the DVC stages of dvc.yaml)
//! obesity registry versions obesity-classifier
//! obesity registry policy obesity-classifier 3 --dry-run
//! obesity registry runs obesity-classification --columns name,metrics.accuracy,params.n_estimators
//! obesity serve --model models:/obesity-classifier@champion --port 8000
//! obesity retrain check --dry-run                       (retraining: in params.yaml)
//! obesity retrain watch --interval 600
//! obesity ab create champion-vs-challenger              (then: ab status|analyze|stop NAME)
//! obesity export onnx --model models:/obesity-classifier@champion --output model.onnx
//! ```
//!
//! Every command reads the same `params.yaml` (`--config FILE`, else `./params.yaml` when it
//! exists, else the defaults of docs/config.md) and the same tracking-URI rule:
//! `--tracking-uri`, else `registry.tracking_uri` of params.yaml, else
//! `$OBESITY_TRACKING_URI`, else `$MLFLOW_TRACKING_URI`, else `./mlruns`. `--json` prints
//! only JSON on stdout. Exit codes: 0 success, 1 failure (the message names the file, line,
//! field, key or model), 2 bad usage.

mod ab;
mod commands;
mod error;
mod export;
mod lifecycle;
mod render;
mod retrain;
mod stage;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use obesity_mlops::params::Params;

const AFTER_HELP: &str = "\
Examples:
  obesity validate fixtures/obesity_synthetic.csv
  obesity validate fixtures/fish/fish.csv --schema fixtures/fish/schema.yaml
  obesity train --n-estimators 300 --set forest.max_depth=15
  obesity predict --model models:/obesity-classifier@champion --input new.csv --output scored.csv
  obesity evaluate --model models:/obesity-classifier@champion --data labelled.csv
  obesity drift --model models:/obesity-classifier@champion --current new.csv --json
  obesity registry versions obesity-classifier
  obesity ab create champion-vs-challenger && obesity ab analyze champion-vs-challenger
  obesity retrain check --dry-run --set retraining.data_directories='[incoming]'
  dvc repro                       (dvc.yaml runs `obesity validate` and `obesity stage ...`)

Configuration: --config FILE, else ./params.yaml if present, else the defaults
(every key: docs/config.md); --set SECTION.KEY=VALUE overrides any key for one command.
An unknown key is an error naming the key, file and line.

Tracking URI: --tracking-uri, else registry.tracking_uri in params.yaml, else
$OBESITY_TRACKING_URI, else $MLFLOW_TRACKING_URI, else ./mlruns. A folder (MLflow
file-store layout) or an http:// MLflow server (https is not supported: no TLS client
is built in; put the server behind a local http endpoint).

Exit codes: 0 success (also an `ab create` rerun with the same settings, an `ab stop` of a
stopped experiment); 1 failure (bad data names file:line:column, unknown model, bad config
key, an `ab create` whose settings differ from the existing experiment's); 2 bad usage (unknown flag, missing argument).";

/// The model's life cycle from the command line: validate, train, predict, evaluate, drift,
/// registry, A/B tests, retraining, serve, export.
#[derive(Debug, Parser)]
#[command(name = "obesity", version, after_help = AFTER_HELP)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

/// Options shared by every command.
#[derive(Debug, Args)]
struct Global {
    /// Store location: a folder (MLflow file-store layout) or an http:// MLflow server.
    /// Defaults to registry.tracking_uri in params.yaml, then $OBESITY_TRACKING_URI, then
    /// $MLFLOW_TRACKING_URI, then ./mlruns.
    #[arg(long, global = true, value_name = "DIR|URL")]
    tracking_uri: Option<String>,
    /// params.yaml to read. Defaults to ./params.yaml when it exists.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Print only JSON on stdout.
    #[arg(long, global = true)]
    json: bool,
    /// Override any value of params.yaml for this command, e.g. `--set forest.max_depth=15`
    /// or `--set alerts.drift_threshold=0.2` (repeatable; the value is YAML).
    #[arg(long = "set", global = true, value_name = "KEY=VALUE")]
    set: Vec<String>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check a CSV file against a schema (by default the UCI obesity one; --schema FILE for
    /// any table) and print its validation report (exit 1 with file:line: column `X`: value
    /// ... on the first bad row, unless --lenient; exit 1 naming the file, line and key for a
    /// bad schema file).
    #[command(
        after_help = "Examples:\n  obesity validate data.csv\n  obesity validate data.csv --lenient --json\n  obesity validate fish.csv --schema fish.yaml\n\nA schema file (YAML, or JSON for .json) lists the columns; any other key is an error:\n  columns:\n    - {name: length, type: numeric, unit: cm, min: 0, max: 50}\n    - {name: size, type: ordinal, levels: [S, M, L]}\n    - {name: coated, type: binary}\n    - {name: species, type: categorical, levels: [perch, trout, pike], target: true}\nexamples/schemas/obesity.yaml is the UCI schema written this way."
    )]
    Validate(lifecycle::ValidateArgs),
    /// Train, evaluate and register a model (the main job: validate → featurize → train →
    /// evaluate → register, the same stage functions as the example and the DVC stages).
    #[command(
        after_help = "Examples:\n  obesity train\n  obesity train --config params.yaml --data uci.csv --n-estimators 300\n  obesity train --set forest.max_depth=15 --set promotion.production_threshold=0.95 --json"
    )]
    Train(lifecycle::TrainArgs),
    /// Score a CSV with a registered version: class, per-class probabilities and the version
    /// used, one row per input row (unlabelled files work).
    #[command(
        after_help = "Examples:\n  obesity predict --model models:/obesity-classifier@champion --input new.csv --output scored.csv\n  obesity predict --model models:/obesity-classifier/3 --input new.csv | head"
    )]
    Predict(lifecycle::PredictArgs),
    /// The classification report of a registered version on new labelled data.
    #[command(
        after_help = "Examples:\n  obesity evaluate --model models:/obesity-classifier@champion --data labelled.csv\n  obesity evaluate --model models:/obesity-classifier/2 --data labelled.csv --json"
    )]
    Evaluate(lifecycle::EvaluateArgs),
    /// Compare new data with the reference profile stored with a version (per-column tests
    /// and the data-set verdict, Evidently's rules) and print the alerts it raises.
    #[command(
        after_help = "Examples:\n  obesity drift --model models:/obesity-classifier@champion --current new.csv\n  obesity drift --model models:/obesity-classifier@champion --current new.csv --json"
    )]
    Drift(lifecycle::DriftArgs),
    /// The DVC stages of dvc.yaml, one process each, exchanging files under --workdir.
    #[command(subcommand)]
    Stage(stage::StageCommand),
    /// Model registry and run search.
    #[command(subcommand)]
    Registry(RegistryCommand),
    /// The experiments of the store (tracking): `obesity experiments list`.
    #[command(subcommand)]
    Experiments(ExperimentsCommand),
    /// Search the runs of an experiment: filter, order, pick the columns.
    #[command(
        after_help = "Examples:\n  obesity runs obesity-classifier\n  obesity runs obesity-classifier --filter \"metrics.accuracy > 0.9\" --order-by \"metrics.accuracy DESC\"\n  obesity runs obesity-classifier --columns name,params.n_estimators,metrics.f1_macro"
    )]
    Runs(RunsArgs),
    /// Serve a registered model over HTTP (/predict, MLflow scoring, Open Inference Protocol
    /// v2, /health, /metrics, /docs) until Ctrl-C or SIGTERM. When params.yaml's
    /// `retraining.data_directories` names a folder, the retrain trigger runs in the service
    /// and registers retrained versions as `challenger`.
    Serve(ServeCommand),
    /// The retraining rules of params.yaml (`retraining:`): one decision, or a watch beside
    /// a running server. A retrain registers its version as `challenger`, never champion.
    #[command(subcommand)]
    Retrain(retrain::RetrainCommand),
    /// Export a registered version (ONNX: one model over the raw columns).
    #[command(subcommand)]
    Export(export::ExportCommand),
    /// A/B experiments between the registry's champion and challenger: create, status,
    /// analyze, stop.
    ///
    /// The experiments are the state files `obesity serve` routes by
    /// (`<state dir>/monitoring/ab-tests/NAME.json`).
    #[command(subcommand)]
    Ab(ab::AbCommand),
}

/// `obesity serve`: the service's flags, and the schedule of its retrain trigger.
#[derive(Debug, Args)]
struct ServeCommand {
    #[command(flatten)]
    serve: obesity_serve::ServeArgs,
    /// Seconds between two decisions of the retrain trigger (when params.yaml's
    /// retraining.data_directories names a folder; 0: never on a schedule).
    #[arg(long, default_value_t = 600.0, value_name = "SECONDS")]
    retrain_check_interval: f64,
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
        /// Archive the versions currently in that stage (Staging or Production only). An
        /// archived version's `champion` (for Production) or `challenger` (for Staging)
        /// alias moves to this version; any other alias left on an archived version is
        /// named in a warning.
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
    /// Apply the promotion policy (thresholds, never replacing a better champion, comparing
    /// only versions evaluated on the same data). It changes only the version named plus
    /// the documented displacement (docs/registry.md): a new champion archives the other
    /// Production versions and takes `champion`; a new challenger archives the other
    /// Staging versions and takes `challenger`, never from a newer version; an Archived
    /// version is never brought back. Defaults come from params.yaml's `promotion:`.
    #[command(
        after_help = "Examples:\n  obesity registry policy obesity-classifier 3 --dry-run\n  obesity registry policy obesity-classifier 3 --production 0.95 --json\n  obesity registry policy obesity-classifier 3 --compare-across-data"
    )]
    Policy {
        /// Registered model name.
        name: String,
        /// Version number.
        version: u64,
        /// Metric to decide on (default: promotion.metric).
        #[arg(long)]
        metric: Option<String>,
        /// Threshold for Production and the champion alias (default:
        /// promotion.production_threshold).
        #[arg(long)]
        production: Option<f64>,
        /// Threshold for Staging and the challenger alias (default:
        /// promotion.staging_threshold).
        #[arg(long)]
        staging: Option<f64>,
        /// Lower values of the metric are better (e.g. a loss).
        #[arg(long)]
        lower_is_better: bool,
        /// Compare with a champion evaluated on other data (another data fingerprint); by
        /// default such a champion is not compared with and the version stays challenger
        /// (promotion.compare_across_data).
        #[arg(long)]
        compare_across_data: bool,
        /// Print what the policy would decide and change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Search the runs of an experiment (the same as `obesity runs`).
    Runs(RunsArgs),
}

/// `obesity runs` / `obesity registry runs`: which runs, in which order, which columns.
#[derive(Debug, Args)]
pub(crate) struct RunsArgs {
    /// Experiment name.
    pub(crate) experiment: String,
    /// Filter, e.g. "metrics.accuracy > 0.9 and params.max_depth = '10'".
    #[arg(long)]
    pub(crate) filter: Option<String>,
    /// Order clause, e.g. "metrics.accuracy DESC" (repeatable).
    #[arg(long = "order-by")]
    pub(crate) order_by: Vec<String>,
    /// At most this many runs.
    #[arg(long, default_value_t = 100)]
    pub(crate) max_results: usize,
    /// Columns to show, comma-separated: run_id, name, status, start, metrics.KEY,
    /// params.KEY, tags.KEY (default: run_id, name, status, start and every metric).
    #[arg(long, value_delimiter = ',', value_name = "COLUMNS")]
    pub(crate) columns: Vec<String>,
}

/// `obesity experiments ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum ExperimentsCommand {
    /// List the experiments of the store (MLflow's `mlflow experiments search`): id, name,
    /// stage, creation time, where their artifacts go.
    List {
        /// Include soft-deleted experiments.
        #[arg(long)]
        all: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let g = &cli.global;
    let params = match Params::load(g.config.as_deref())
        .and_then(|p| g.set.iter().try_fold(p, |p, a| p.set(a)))
    {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let uri = params.tracking_uri(g.tracking_uri.as_deref());
    let result = match &cli.command {
        Command::Serve(args) => return serve(&uri, &params, args),
        Command::Export(cmd) => return export::main(&uri, g.json, cmd),
        Command::Registry(_) | Command::Runs(_) | Command::Experiments(_) => {
            commands::run(&uri, &params, g.json, &cli.command).map_err(|e| e.to_string())
        }
        Command::Validate(a) => lifecycle::validate(a, g.json).map_err(|e| e.to_string()),
        Command::Train(a) => lifecycle::train(a, &params, g.tracking_uri.as_deref(), g.json)
            .map_err(|e| e.to_string()),
        Command::Predict(a) => lifecycle::predict(a, &uri, g.json).map_err(|e| e.to_string()),
        Command::Evaluate(a) => {
            lifecycle::evaluate_model(a, &uri, g.json).map_err(|e| e.to_string())
        }
        Command::Retrain(c) => retrain::run(c, &params, &uri, g.json).map_err(|e| e.to_string()),
        Command::Drift(a) => lifecycle::drift(a, &uri, &params, g.json).map_err(|e| e.to_string()),
        Command::Ab(c) => ab::run(c, &params, &uri, g.json).map_err(|e| e.to_string()),
        Command::Stage(c) => {
            stage::run(c, &params, g.tracking_uri.as_deref()).map_err(|e| e.to_string())
        }
    };
    match result {
        Ok(text) => write_stdout(&text),
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// `obesity serve`: runs the service in the foreground (logs on stderr; `RUST_LOG` filters),
/// with the retrain trigger attached when params.yaml's `retraining` watches a folder.
fn serve(uri: &str, params: &Params, args: &ServeCommand) -> ExitCode {
    obesity_serve::init_tracing();
    match serve_with_retraining(uri, params, args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn serve_with_retraining(
    uri: &str,
    params: &Params,
    args: &ServeCommand,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut config = args.serve.to_config(Some(uri))?;
    apply_ab_params(&mut config.ab, &params.ab, args.serve.ab_min_samples);
    config.retrain_check_interval =
        std::time::Duration::try_from_secs_f64(args.retrain_check_interval).map_err(|e| {
            format!(
                "--retrain-check-interval {}: {e}",
                args.retrain_check_interval
            )
        })?;
    let trigger = retrain::trigger_config(params)?;
    let state_dir = match &trigger {
        Some(_) => Some(retrain::state_dir(config.state_dir.as_deref(), uri)?),
        None => None,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("obesity-serve")
        .build()?;
    runtime.block_on(async move {
        let state = obesity_serve::AppState::load(config).await?;
        if let (Some(trigger), Some(dir)) = (trigger, state_dir) {
            let model = state.model_name();
            let work = dir
                .join("monitoring")
                .join("retrain")
                .join(retrain::trigger_name(&model));
            eprintln!(
                "obesity-serve: retrain trigger on {} (every {:?}; retrained versions become challenger)",
                trigger
                    .data_directories
                    .iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                state.config().retrain_check_interval
            );
            let retrainer =
                retrain::TrainRetrainer::new(params, uri, &model, trigger.clone(), work);
            state.attach_retrainer(trigger, retrainer, std::sync::Arc::new(obesity_monitor::SystemClock))?;
        }
        let server = obesity_serve::Server::with_state(state).await?;
        eprintln!(
            "obesity-serve: listening on http://{}",
            server.local_addr()?
        );
        server.run().await?;
        Ok(())
    })
}

/// Prints and flushes at once (for commands that print as they go, like `retrain watch`).
pub(crate) fn print_now(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
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

/// params.yaml's `ab:` section into the service's A/B policy: a flag turns a switch on, the
/// file can too; `--ab-min-samples` wins over the file only when given (not its default).
fn apply_ab_params(
    policy: &mut obesity_serve::AbPolicy,
    ab: &obesity_mlops::params::AbParams,
    flag_min_samples: usize,
) {
    policy.auto_start |= ab.auto_start;
    policy.auto_promote |= ab.auto_promote;
    policy.traffic_split = ab.traffic_split;
    if flag_min_samples == obesity_serve::AbPolicy::default().min_samples_per_variant {
        policy.min_samples_per_variant = ab.min_samples_per_variant;
    }
}

#[cfg(test)]
mod ab_params_tests {
    use super::apply_ab_params;
    use obesity_mlops::params::AbParams;
    use obesity_serve::AbPolicy;

    #[test]
    fn the_files_ab_section_turns_the_service_policy_on() {
        let mut policy = AbPolicy::default();
        let ab = AbParams {
            auto_start: true,
            auto_promote: true,
            traffic_split: 0.25,
            min_samples_per_variant: 40,
            ..AbParams::default()
        };
        apply_ab_params(&mut policy, &ab, 100);
        assert!(policy.auto_start && policy.auto_promote);
        assert_eq!(policy.traffic_split, 0.25);
        assert_eq!(policy.min_samples_per_variant, 40);
    }

    #[test]
    fn flags_stay_on_and_a_given_min_samples_flag_wins() {
        let mut policy = AbPolicy {
            auto_start: true,
            min_samples_per_variant: 7,
            ..AbPolicy::default()
        };
        apply_ab_params(&mut policy, &AbParams::default(), 7);
        assert!(
            policy.auto_start,
            "the file's default (off) must not turn a flag off"
        );
        assert!(!policy.auto_promote, "promotion stays off unless asked for");
        assert_eq!(policy.min_samples_per_variant, 7);
    }
}
