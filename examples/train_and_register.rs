//! The main job: validate → features → (optional grid search) → cross-validate → train →
//! evaluate → log a run → register a version → apply the promotion policy.
//!
//! ```sh
//! cargo run --release --example train_and_register
//! cargo run --release --example train_and_register -- --data ../shared/data/ObesityDataSet_raw_and_data_sinthetic.csv
//! cargo run --release --example train_and_register -- --tracking-uri http://127.0.0.1:5000 --json
//! ```
//!
//! With `--json` the last line of output is one JSON document (`test.accuracy`,
//! `test.f1_macro`, `cv.accuracy.mean`, `model.name`, `model.version`, `model.stage`,
//! `model.aliases`, `data.fingerprint`, ...).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use obesity_mlops::pipeline::{
    Stopwatch, TrainConfig, TrainOutcome, evaluate, featurize, load_and_validate, register, split,
    train, write_reports,
};

/// Train, evaluate and register an obesity-level classifier: validate → features →
/// cross-validate → train → evaluate → log a run → register → promote.
#[derive(Debug, Parser)]
#[command(name = "train_and_register", version)]
struct Args {
    /// CSV to train on (UCI schema). Default: $OBESITY_DATA, else the synthetic fixture.
    #[arg(long, env = "OBESITY_DATA")]
    data: Option<PathBuf>,
    /// Tracking store: a folder (MLflow file layout) or an http:// MLflow server.
    /// Default: $OBESITY_TRACKING_URI, $MLFLOW_TRACKING_URI, else ./mlruns.
    #[arg(long)]
    tracking_uri: Option<String>,
    /// Config file: params.yaml (`.yaml`/`.yml`) or the older JSON form of TrainConfig
    /// (any subset of the settings; flags override it).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Folder for charts and reports. Default: ./out.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Run the original Python project's 216-candidate grid search before the final fit.
    #[arg(long)]
    grid_search: bool,
    /// Print one JSON document as the last line.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // The crates' errors already carry their cause in the message; print a cause only
            // when it adds something.
            let message = e.to_string();
            eprintln!("error: {message}");
            let mut source = e.source();
            while let Some(s) = source {
                let cause = s.to_string();
                if !message.contains(&cause) {
                    eprintln!("  caused by: {cause}");
                }
                source = s.source();
            }
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let config = config(args)?;

    // The chain, one stage function per step (the same ones `obesity train`, the DVC stages
    // and the retrain handler call; `pipeline::train_and_register` is this composition).
    let mut clock = Stopwatch::start();
    let data = load_and_validate(&config.data)?;
    clock.lap("load_validate");
    let rows = split(&data, config.test_fraction, config.seed)?;
    let features = featurize(&data, rows, config.features)?;
    clock.lap("features");
    let trained = train(&features, &config.train_spec())?;
    clock.lap("train");
    let evaluation = evaluate(trained.model.as_ref(), &features.test)?;
    clock.lap("evaluate");
    let artifacts = write_reports(&config.out_dir, &data, &features, &trained, &evaluation)?;
    clock.lap("charts");
    let spec = config.register_spec();
    let registered = register(&data, &features, &trained, &evaluation, &artifacts, &spec)?;
    clock.lap("register");

    let outcome = TrainOutcome::new(
        &data,
        &features,
        trained,
        evaluation,
        registered,
        artifacts,
        clock.timings,
    );
    print_human(&outcome);
    if args.json {
        println!("{}", serde_json::to_string(&outcome)?);
    }
    Ok(())
}

/// The config file (if any), then the flags over it.
fn config(args: &Args) -> Result<TrainConfig, Box<dyn std::error::Error>> {
    let mut config = match &args.config {
        Some(path) => TrainConfig::from_file(path)?,
        None => TrainConfig::default(),
    };
    if let Some(data) = &args.data {
        config.data = data.clone();
    }
    if let Some(uri) = &args.tracking_uri {
        config.tracking_uri = uri.clone();
    } else if args.config.is_none() {
        config.tracking_uri = obesity_mlops::registry::tracking_uri_from_env();
    }
    if let Some(out) = &args.out {
        config.out_dir = out.clone();
    }
    config.grid_search |= args.grid_search;
    Ok(config)
}

fn print_human(o: &TrainOutcome) {
    println!("== data");
    println!(
        "{}: {} rows ({} duplicates), train {} / test {}",
        o.data.path, o.data.rows, o.duplicate_rows, o.data.train_rows, o.data.test_rows
    );
    println!(
        "shape of the UCI table (2,111 × 17, not a check of the source): {}; feature matrix: {} × {} (train), {} × {} (test)",
        if o.data.shape_matches {
            "same"
        } else {
            "different"
        },
        o.data.train_rows,
        o.data.n_features,
        o.data.test_rows,
        o.data.n_features
    );
    for w in &o.data.warnings {
        println!("warning: {w}");
    }
    println!("fingerprint (canonical sha256): {}", o.data.fingerprint);
    println!(
        "full validation report: {}",
        o.artifacts
            .iter()
            .find(|p| p.ends_with("validation_report.json"))
            .map_or_else(String::new, |p| p.display().to_string())
    );
    println!();
    println!("== cross-validation on the training rows");
    for (name, s) in &o.cv {
        println!(
            "{name:<18} {:.4} ± {:.4}  (95% CI {:.4} – {:.4})",
            s.mean, s.std, s.ci95.0, s.ci95.1
        );
    }
    println!();
    println!("== test set");
    println!("{}", o.report.to_text(4));
    for key in [
        "accuracy",
        "f1_macro",
        "roc_auc_ovr",
        "log_loss",
        "cohen_kappa",
    ] {
        if let Some(v) = o.test.get(key) {
            println!("{key:<18} {v:.4}");
        }
    }
    println!();
    println!("== top features (mean decrease in impurity)");
    for (name, value) in o.top_features.iter().take(10) {
        println!("{name:<36} {value:.4}");
    }
    println!();
    println!("== registry");
    println!(
        "{} version {} → stage {}, aliases [{}]",
        o.model.name,
        o.model.version,
        o.model.stage,
        o.model.aliases.join(", ")
    );
    for reason in &o.model.promotion.reasons {
        println!("  - {reason}");
    }
    println!("run {} in {}", o.run_id, o.tracking_uri);
    println!(
        "charts and reports: {}",
        o.artifacts
            .first()
            .and_then(|p| p.parent())
            .map_or_else(String::new, |p| p.display().to_string())
    );
    println!();
    println!("look at it with:");
    println!(
        "  cargo run -p obesity-cli -- registry versions {} --tracking-uri {}",
        o.model.name, o.tracking_uri
    );
    if !o.tracking_uri.starts_with("http") {
        println!(
            "  MLFLOW_ALLOW_FILE_STORE=true mlflow ui --backend-store-uri {}",
            o.tracking_uri
        );
    }
}
