//! The life-cycle commands: `validate`, `train`, `predict`, `evaluate`, `drift`. Each returns
//! the text for stdout (only JSON with `--json`); progress and warnings go to stderr.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;
use obesity_data::{
    LoadOptions, LoadWarning, Loaded, Schema, ValidationReport, feature_columns, load_csv,
    load_table,
};
use obesity_mlops::params::Params;
use obesity_mlops::pipeline::{REFERENCE_PROFILE_FILE, evaluate, train_and_register};
use obesity_monitor::{PerformanceMonitor, PredictionBatch, ReferenceProfile, SystemClock};
use obesity_registry::{LoadedModel, Registry};
use serde::Serialize;

use crate::error::{CliError, Result, json};

/// `obesity validate FILE [--schema SCHEMA_FILE]`.
#[derive(Debug, Args)]
pub(crate) struct ValidateArgs {
    /// The CSV file (header on line 1, columns in any order, the label column optional).
    file: PathBuf,
    /// Schema file (YAML: .yaml/.yml, or JSON: .json) describing FILE's columns; by default
    /// the UCI obesity schema. Example: examples/schemas/obesity.yaml.
    #[arg(long, value_name = "SCHEMA_FILE")]
    schema: Option<PathBuf>,
    /// Keep good rows and list the bad ones instead of stopping at the first bad row.
    #[arg(long)]
    lenient: bool,
    /// Field separator, for `;`- or tab-separated exports (one ASCII character).
    #[arg(long, default_value_t = ',')]
    delimiter: char,
}

/// `obesity train`.
#[derive(Debug, Args)]
pub(crate) struct TrainArgs {
    /// Labelled CSV to train on (overrides data.path).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Folder for charts and reports (overrides reports.dir).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Registered model name (overrides registry.model_name).
    #[arg(long)]
    model_name: Option<String>,
    /// Experiment name (overrides registry.experiment).
    #[arg(long)]
    experiment: Option<String>,
    /// Trees in the forest (overrides forest.n_estimators).
    #[arg(long)]
    n_estimators: Option<usize>,
    /// Cross-validation folds (overrides cv.folds).
    #[arg(long)]
    cv_folds: Option<usize>,
    /// Seed of the split and the folds (overrides data.seed).
    #[arg(long)]
    seed: Option<u64>,
    /// Run a grid search first (search.grid_search=true; the grid is search.grid, by default
    /// the original Python project's 216 candidates): each candidate a nested run, the table an artifact.
    #[arg(long)]
    grid_search: bool,
    /// Never make the new version champion (promotion.challenger_only=true).
    #[arg(long)]
    challenger_only: bool,
}

/// `obesity predict`.
#[derive(Debug, Args)]
pub(crate) struct PredictArgs {
    /// The version: models:/NAME@ALIAS, models:/NAME/VERSION, models:/NAME/STAGE.
    #[arg(long, value_name = "MODEL_URI")]
    model: String,
    /// CSV to score (the label column may be missing).
    #[arg(long, value_name = "FILE")]
    input: PathBuf,
    /// Where to write the predictions CSV (default: stdout).
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Score the good rows and list the bad ones on stderr instead of stopping.
    #[arg(long)]
    lenient: bool,
}

/// `obesity evaluate`.
#[derive(Debug, Args)]
pub(crate) struct EvaluateArgs {
    /// The version: models:/NAME@ALIAS, models:/NAME/VERSION, models:/NAME/STAGE.
    #[arg(long, value_name = "MODEL_URI")]
    model: String,
    /// Labelled CSV to evaluate on.
    #[arg(long, value_name = "FILE")]
    data: PathBuf,
}

/// `obesity drift`.
#[derive(Debug, Args)]
pub(crate) struct DriftArgs {
    /// The version whose stored reference profile is the baseline.
    #[arg(long, value_name = "MODEL_URI")]
    model: String,
    /// CSV of new data (labels not needed).
    #[arg(long, value_name = "FILE")]
    current: PathBuf,
}

/// Runs `obesity validate`.
pub(crate) fn validate(args: &ValidateArgs, as_json: bool) -> Result<String> {
    let delimiter = u8::try_from(args.delimiter)
        .ok()
        .filter(u8::is_ascii)
        .ok_or_else(|| {
            CliError::Invalid(format!(
                "--delimiter must be one ASCII character, got `{}`",
                args.delimiter
            ))
        })?;
    let options = if args.lenient {
        LoadOptions::lenient()
    } else {
        LoadOptions::strict()
    }
    .delimiter(delimiter);
    let report = match &args.schema {
        // The schema file is read before the data, so a bad schema is reported as such.
        Some(path) => {
            let schema = Schema::from_path(path)?;
            ValidationReport::from_table(&load_table(&args.file, &schema, &options)?)
        }
        None => ValidationReport::from_loaded(&load_csv(&args.file, &options)?),
    };
    if as_json {
        json(&report)
    } else {
        Ok(format!("{report}\n"))
    }
}

/// Runs `obesity train`: params.yaml, then the flags over it, then the main job.
pub(crate) fn train(
    args: &TrainArgs,
    params: &Params,
    tracking_uri: Option<&str>,
    as_json: bool,
) -> Result<String> {
    let mut params = params.clone();
    let mut assignments: Vec<String> = Vec::new();
    if let Some(d) = &args.data {
        params.data.path = d.clone();
    }
    if let Some(o) = &args.out {
        params.reports.dir = o.clone();
    }
    if let Some(m) = &args.model_name {
        params.registry.model_name = m.clone();
    }
    if let Some(e) = &args.experiment {
        params.registry.experiment = e.clone();
    }
    if let Some(n) = args.n_estimators {
        assignments.push(format!("forest.n_estimators={n}"));
    }
    if let Some(k) = args.cv_folds {
        params.cv.folds = k;
    }
    if let Some(s) = args.seed {
        params.data.seed = s;
    }
    params.search.grid_search |= args.grid_search;
    params.promotion.challenger_only |= args.challenger_only;
    for a in &assignments {
        params = params.set(a)?;
    }
    let mut config = params.train_config();
    config.tracking_uri = params.tracking_uri(tracking_uri);
    eprintln!(
        "training on {} → {} ({})",
        config.data.display(),
        config.model_name,
        config.tracking_uri
    );
    let o = train_and_register(&config)?;
    if as_json {
        return json(&o);
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "data      {}: {} rows (train {}, test {}), fingerprint {}",
        o.data.path,
        o.data.rows,
        o.data.train_rows,
        o.data.test_rows,
        short(&o.data.fingerprint)
    );
    for (name, s) in &o.cv {
        let _ = writeln!(
            out,
            "cv        {name:<18} {:.4} ± {:.4} (95% CI {:.4}–{:.4})",
            s.mean, s.std, s.ci95.0, s.ci95.1
        );
    }
    if let Some(s) = &o.search {
        let best: Vec<String> = s
            .best_params
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let _ = writeln!(
            out,
            "search    best of {} candidates by {}: {:.4} with {}",
            s.candidates,
            s.scoring,
            s.best_score,
            best.join(", ")
        );
    }
    for key in ["accuracy", "f1_macro", "roc_auc_ovr", "log_loss"] {
        if let Some(v) = o.test.get(key) {
            let _ = writeln!(out, "test      {key:<18} {v:.4}");
        }
    }
    let _ = writeln!(
        out,
        "registry  {} version {}: stage {}, aliases [{}]",
        o.model.name,
        o.model.version,
        o.model.stage,
        o.model.aliases.join(", ")
    );
    for reason in &o.model.promotion.reasons {
        let _ = writeln!(out, "          - {reason}");
    }
    let _ = writeln!(out, "run       {} in {}", o.run_id, o.tracking_uri);
    Ok(out)
}

fn short(hex: &str) -> &str {
    hex.get(..12).unwrap_or(hex)
}

/// Loads a registered version that can score raw columns (it has a feature pipeline).
fn load_model(uri: &str, model: &str) -> Result<(LoadedModel, obesity_features::FittedPipeline)> {
    let registry = Registry::open(uri)?;
    let mut loaded = registry.load_str(model)?;
    let pipeline = loaded.pipeline.take().ok_or_else(|| {
        CliError::Invalid(format!(
            "{} version {} has no feature pipeline (pipeline.json), so it cannot score raw columns",
            loaded.version.name, loaded.version.version
        ))
    })?;
    Ok((loaded, pipeline))
}

/// Loads a CSV for scoring, reporting the rows a lenient load set aside on stderr.
fn load_for_scoring(path: &Path, lenient: bool) -> Result<Loaded> {
    let options = if lenient {
        LoadOptions::lenient()
    } else {
        LoadOptions::strict()
    };
    let loaded = load_csv(path, &options)?;
    for r in &loaded.rejected {
        eprintln!("skipped: {}", r.error);
    }
    if loaded.records.is_empty() {
        return Err(CliError::Invalid(format!(
            "{}: no rows to score",
            path.display()
        )));
    }
    Ok(loaded)
}

/// What `predict --json` prints (the predictions themselves go to the CSV).
#[derive(Debug, Serialize)]
struct PredictSummary {
    model: String,
    version: u64,
    rows: usize,
    skipped: usize,
    output: Option<String>,
    class_counts: std::collections::BTreeMap<String, usize>,
}

/// Runs `obesity predict`: one output row per scored input row with the input's line, the
/// predicted class, one `probability_<class>` column per class, and the version used.
pub(crate) fn predict(args: &PredictArgs, uri: &str, as_json: bool) -> Result<String> {
    let (model, pipeline) = load_model(uri, &args.model)?;
    let loaded = load_for_scoring(&args.input, args.lenient)?;
    let x = pipeline.transform(&loaded.records)?;
    let proba = model.classifier.predict_proba(x.view())?;
    let classes = pipeline.class_names();
    if proba.ncols() != classes.len() {
        return Err(CliError::Invalid(format!(
            "{} version {}: the model has {} classes but its pipeline names {}",
            model.version.name,
            model.version.version,
            proba.ncols(),
            classes.len()
        )));
    }
    let mut buffer = csv::Writer::from_writer(Vec::new());
    let csv_error = |source| CliError::Csv {
        path: args
            .output
            .clone()
            .unwrap_or_else(|| PathBuf::from("<stdout>")),
        source,
    };
    let mut header = vec!["line".to_owned(), "prediction".to_owned()];
    header.extend(classes.iter().map(|c| format!("probability_{c}")));
    header.extend(["model_name".to_owned(), "model_version".to_owned()]);
    buffer.write_record(&header).map_err(csv_error)?;
    let mut counts = std::collections::BTreeMap::new();
    let version = model.version.version.to_string();
    for (row, line) in proba.rows().into_iter().zip(&loaded.lines) {
        let best = row
            .iter()
            .enumerate()
            .fold(
                (0, f32::NEG_INFINITY),
                |acc, (i, &p)| {
                    if p > acc.1 { (i, p) } else { acc }
                },
            )
            .0;
        let class = classes.get(best).cloned().unwrap_or_default();
        *counts.entry(class.clone()).or_insert(0) += 1;
        let mut record = vec![line.to_string(), class];
        record.extend(row.iter().map(|p| format!("{p:.6}")));
        record.extend([model.version.name.clone(), version.clone()]);
        buffer.write_record(&record).map_err(csv_error)?;
    }
    let bytes = buffer
        .into_inner()
        .map_err(|e| CliError::Invalid(format!("cannot write the predictions: {e}")))?;
    let summary = PredictSummary {
        model: model.version.name.clone(),
        version: model.version.version,
        rows: loaded.records.len(),
        skipped: loaded.rejected.len(),
        output: args.output.as_ref().map(|p| p.display().to_string()),
        class_counts: counts,
    };
    match &args.output {
        None => {
            eprintln!(
                "scored {} rows with {} version {}",
                summary.rows, summary.model, summary.version
            );
            Ok(String::from_utf8_lossy(&bytes).into_owned())
        }
        Some(path) => {
            crate::error::write(path, &bytes)?;
            if as_json {
                json(&summary)
            } else {
                Ok(format!(
                    "wrote {} predictions of {} version {} to {}{}\n",
                    summary.rows,
                    summary.model,
                    summary.version,
                    path.display(),
                    if summary.skipped > 0 {
                        format!(" ({} rows skipped)", summary.skipped)
                    } else {
                        String::new()
                    }
                ))
            }
        }
    }
}

/// What `evaluate --json` prints.
#[derive(Debug, Serialize)]
struct EvaluateOutput<'a> {
    model: &'a str,
    version: u64,
    data: String,
    rows: usize,
    metrics: &'a std::collections::BTreeMap<String, f64>,
    report: &'a obesity_mlops::eval::ClassificationReport,
}

/// Runs `obesity evaluate`: the classification report of a version on labelled data.
pub(crate) fn evaluate_model(args: &EvaluateArgs, uri: &str, as_json: bool) -> Result<String> {
    let (model, pipeline) = load_model(uri, &args.model)?;
    let loaded = load_for_scoring(&args.data, false)?;
    if loaded.warnings.contains(&LoadWarning::NoTargetColumn) {
        return Err(CliError::Invalid(format!(
            "{}: no `NObeyesdad` column; evaluate needs labelled data (use `obesity predict` to score unlabelled rows)",
            args.data.display()
        )));
    }
    if let Some(i) = loaded.records.iter().position(|r| r.target.is_none()) {
        let line = loaded.lines.get(i).copied().unwrap_or_default();
        return Err(CliError::Invalid(format!(
            "{}:{line}: column `NObeyesdad`: the row has no label; evaluate needs labelled data",
            args.data.display()
        )));
    }
    let dataset = pipeline.dataset(&loaded.records)?;
    let e = evaluate(model.classifier.as_ref(), &dataset)?;
    if as_json {
        return json(&EvaluateOutput {
            model: &model.version.name,
            version: model.version.version,
            data: args.data.display().to_string(),
            rows: dataset.n_samples(),
            metrics: &e.test,
            report: &e.report,
        });
    }
    let mut out = format!(
        "{} version {} on {} ({} rows)\n\n{}\n",
        model.version.name,
        model.version.version,
        args.data.display(),
        dataset.n_samples(),
        e.report.to_text(4)
    );
    for key in [
        "accuracy",
        "f1_macro",
        "balanced_accuracy",
        "roc_auc_ovr",
        "log_loss",
    ] {
        if let Some(v) = e.test.get(key) {
            let _ = writeln!(out, "{key:<18} {v:.4}");
        }
    }
    Ok(out)
}

/// What `drift --json` prints.
#[derive(Debug, Serialize)]
struct DriftOutput<'a> {
    model: &'a str,
    version: u64,
    current: String,
    rows: usize,
    report: &'a obesity_monitor::DriftReport,
    alert_drift_threshold: f64,
    alerts: &'a [obesity_monitor::Alert],
}

/// Runs `obesity drift`: the version's stored reference profile against new data, with the
/// alerts the share of drifted columns raises.
pub(crate) fn drift(args: &DriftArgs, uri: &str, params: &Params, as_json: bool) -> Result<String> {
    let registry = Registry::open(uri)?;
    let version = registry.resolve_str(&args.model)?;
    let profile_json = registry
        .artifact(&version.name, version.version, REFERENCE_PROFILE_FILE)
        .map_err(|e| {
            if e.is_not_found() {
                CliError::Invalid(format!(
                    "{} version {} has no stored reference profile ({REFERENCE_PROFILE_FILE}); register it with `obesity train` to monitor it",
                    version.name, version.version
                ))
            } else {
                e.into()
            }
        })?;
    let profile = ReferenceProfile::from_json(&String::from_utf8_lossy(&profile_json))?;
    let loaded = load_for_scoring(&args.current, false)?;
    let report = profile.drift(
        &feature_columns(&loaded.records),
        &params.monitoring.drift_options(),
    )?;
    let policy = params.alerts.policy()?;
    let mut monitor = PerformanceMonitor::in_memory(&version.name, Arc::new(SystemClock))?;
    monitor.log_batch(
        PredictionBatch::new("current").with_drift_score(report.share_of_drifted_columns),
    )?;
    let alerts = policy.evaluate(&monitor.summary_hours(1));
    if as_json {
        return json(&DriftOutput {
            model: &version.name,
            version: version.version,
            current: args.current.display().to_string(),
            rows: loaded.records.len(),
            report: &report,
            alert_drift_threshold: params.alerts.drift_threshold,
            alerts: &alerts,
        });
    }
    let mut out = format!(
        "{} version {} (stored reference profile) vs {} ({} rows)\n\n{report}\n\n",
        version.name,
        version.version,
        args.current.display(),
        loaded.records.len()
    );
    let _ = writeln!(
        out,
        "{} of {} columns drifted (share {:.3}). Two thresholds apply: the data set drifts at a share \
         >= {:.3} (monitoring.drift_share); a drift alert fires above {:.3} (alerts.drift_threshold).",
        report.number_of_drifted_columns,
        report.number_of_columns,
        report.share_of_drifted_columns,
        report.drift_share,
        params.alerts.drift_threshold
    );
    if alerts.is_empty() {
        let _ = writeln!(out, "alerts: none");
    }
    for alert in &alerts {
        let _ = writeln!(out, "alert: {alert}");
    }
    Ok(out)
}
