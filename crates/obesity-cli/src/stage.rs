//! `obesity stage featurize|train|evaluate|register`: the main job cut at its stage
//! functions, each stage a process that reads what the one before wrote under `--workdir`
//! (default `build/`), so DVC can cache each one and rerun only what a change touches.
//!
//! ```text
//! build/features/split.json      featurize: the stratified split (row indices)
//! build/features/pipeline.json   featurize: the feature pipeline fitted on the training rows
//! build/model/model.bin          train: the model (native bytes)
//! build/model/train.json         train: strategy, hyper-parameters, cross-validation
//! build/cv_metrics.json          train: cross-validation means (a DVC metrics file)
//! build/reports/                 evaluate: charts and reports (as `obesity train` writes)
//! build/metrics.json             evaluate: test-set metrics (a DVC metrics file)
//! build/plots/confusion.csv      evaluate: actual,predicted per test row (DVC confusion plot)
//! build/plots/cv_folds.csv       evaluate: fold,accuracy,f1_macro,balanced_accuracy
//! build/registered.json          register: name, version, stage, aliases, run, DVC lock hash
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use obesity_mlops::eval::{CvResult, SearchResults};
use obesity_mlops::features::FittedPipeline;
use obesity_mlops::params::Params;
use obesity_mlops::pipeline::{
    Evaluation, Featurized, LoadedData, REPORT_FILES, SEARCH_RESULTS_FILE, Split, Trained,
    apply_features, evaluate, featurize, load_and_validate, register, split, train, write_reports,
};
use serde::{Deserialize, Serialize};

use crate::error::{CliError, Result, json, read, write};

/// The DVC stages (see dvc.yaml).
#[derive(Debug, Subcommand)]
pub(crate) enum StageCommand {
    /// Split the data and fit the feature pipeline (params: data, features).
    Featurize(StageArgs),
    /// Cross-validate and fit the model (params: forest, search, cv, data.seed).
    Train(StageArgs),
    /// Score the test rows: metrics, reports and plot data.
    Evaluate(StageArgs),
    /// Log a run and register a version, applying the promotion policy (params: registry,
    /// promotion). Records the DVC lock hash of the train stage when dvc.lock has one.
    Register(StageArgs),
}

/// Options of every stage.
#[derive(Debug, Args)]
pub(crate) struct StageArgs {
    /// Folder the stages read and write.
    #[arg(long, default_value = "build", value_name = "DIR")]
    workdir: PathBuf,
}

/// `build/model/train.json`: what the train stage learnt besides the model bytes.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TrainRecord {
    strategy: String,
    params: BTreeMap<String, String>,
    cv: CvResult,
    #[serde(default)]
    search: Option<SearchResults>,
}

/// `build/registered.json`.
#[derive(Debug, Serialize)]
struct RegisteredRecord<'a> {
    name: &'a str,
    version: u64,
    stage: &'a str,
    aliases: &'a [String],
    run_id: &'a str,
    tracking_uri: &'a str,
    data_fingerprint: String,
    dvc_lock_md5: Option<String>,
}

/// Runs a stage; returns the text for stdout.
pub(crate) fn run(command: &StageCommand, params: &Params, uri: Option<&str>) -> Result<String> {
    match command {
        StageCommand::Featurize(a) => featurize_stage(&a.workdir, params),
        StageCommand::Train(a) => train_stage(&a.workdir, params),
        StageCommand::Evaluate(a) => evaluate_stage(&a.workdir, params),
        StageCommand::Register(a) => register_stage(&a.workdir, params, uri),
    }
}

fn features_dir(w: &Path) -> PathBuf {
    w.join("features")
}

fn model_dir(w: &Path) -> PathBuf {
    w.join("model")
}

fn featurize_stage(workdir: &Path, params: &Params) -> Result<String> {
    let data = load_and_validate(&params.data.path)?;
    let rows = split(&data, params.data.test_fraction, params.data.seed)?;
    let f = featurize(&data, rows, params.features.into())?;
    let dir = features_dir(workdir);
    write(&dir.join("split.json"), json(&f.split)?.as_bytes())?;
    write(
        &dir.join("pipeline.json"),
        f.pipeline
            .to_json()
            .map_err(obesity_mlops::PipelineError::from)?
            .as_bytes(),
    )?;
    Ok(format!(
        "featurize: {} rows → train {} / test {}, {} features → {}\n",
        data.loaded.records.len(),
        f.train.n_samples(),
        f.test.n_samples(),
        f.train.n_features(),
        dir.display()
    ))
}

/// The data and the featurize stage's outputs, as the later stages need them.
fn load_features(workdir: &Path, params: &Params) -> Result<(LoadedData, Featurized)> {
    let dir = features_dir(workdir);
    let split_path = dir.join("split.json");
    let rows: Split =
        serde_json::from_slice(&read(&split_path)?).map_err(|source| CliError::Json {
            path: split_path.clone(),
            source,
        })?;
    let pipeline_path = dir.join("pipeline.json");
    let pipeline = FittedPipeline::from_json(&String::from_utf8_lossy(&read(&pipeline_path)?))
        .map_err(|e| CliError::Invalid(format!("{}: {e}", pipeline_path.display())))?;
    let data = load_and_validate(&params.data.path)?;
    let f = apply_features(&data, rows, pipeline)?;
    Ok((data, f))
}

fn train_stage(workdir: &Path, params: &Params) -> Result<String> {
    let (_data, f) = load_features(workdir, params)?;
    let trained = train(&f, &params.train_config().train_spec())?;
    let dir = model_dir(workdir);
    write(&dir.join("model.bin"), &trained.model.to_bytes()?)?;
    // Wall times are zeroed so that the same inputs give byte-identical outputs (and the
    // same dvc.lock hash on every run).
    let mut cv = trained.cv.clone();
    cv.fit_time.iter_mut().for_each(|t| *t = 0.0);
    cv.score_time.iter_mut().for_each(|t| *t = 0.0);
    let mut search = trained.search.clone();
    if let Some(s) = &mut search {
        s.elapsed_seconds = 0.0;
        for c in &mut s.candidates {
            c.mean_fit_time = 0.0;
            c.mean_score_time = 0.0;
        }
    }
    let record = TrainRecord {
        strategy: trained.strategy.clone(),
        params: trained.params.clone(),
        cv,
        search,
    };
    write(&dir.join("train.json"), json(&record)?.as_bytes())?;
    let means: BTreeMap<String, f64> = trained
        .cv
        .scores
        .iter()
        .map(|(k, s)| (format!("cv_{k}_mean"), s.mean))
        .collect();
    write(&workdir.join("cv_metrics.json"), json(&means)?.as_bytes())?;
    let mut out = format!("train: {} → {}\n", trained.strategy, dir.display());
    for (k, v) in &means {
        let _ = writeln!(out, "  {k:<28} {v:.4}");
    }
    Ok(out)
}

/// The train stage's outputs as a [`Trained`].
fn load_trained(workdir: &Path) -> Result<Trained> {
    let dir = model_dir(workdir);
    let record_path = dir.join("train.json");
    let record: TrainRecord =
        serde_json::from_slice(&read(&record_path)?).map_err(|source| CliError::Json {
            path: record_path.clone(),
            source,
        })?;
    let model = obesity_registry::default_classifier_loader(&read(&dir.join("model.bin"))?)?;
    Ok(Trained {
        strategy: record.strategy,
        params: record.params,
        model,
        cv: record.cv,
        search: record.search,
    })
}

fn load_all(
    workdir: &Path,
    params: &Params,
) -> Result<(LoadedData, Featurized, Trained, Evaluation)> {
    let (data, f) = load_features(workdir, params)?;
    let trained = load_trained(workdir)?;
    let e = evaluate(trained.model.as_ref(), &f.test)?;
    Ok((data, f, trained, e))
}

fn evaluate_stage(workdir: &Path, params: &Params) -> Result<String> {
    let (data, f, trained, e) = load_all(workdir, params)?;
    write_reports(&workdir.join("reports"), &data, &f, &trained, &e)?;
    write(&workdir.join("metrics.json"), json(&e.test)?.as_bytes())?;
    // DVC's confusion template wants one row per prediction.
    let classes = &f.test.class_names;
    let mut confusion = String::from("actual,predicted\n");
    for (i, row) in e.metrics.confusion.counts().iter().enumerate() {
        for (j, &n) in row.iter().enumerate() {
            for _ in 0..n {
                let _ = writeln!(confusion, "{},{}", class(classes, i), class(classes, j));
            }
        }
    }
    write(&workdir.join("plots/confusion.csv"), confusion.as_bytes())?;
    let names: Vec<&String> = trained.cv.scores.keys().collect();
    let mut folds = format!(
        "fold,{}\n",
        names
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(",")
    );
    let n_folds = trained
        .cv
        .scores
        .values()
        .map(|s| s.per_fold.len())
        .max()
        .unwrap_or(0);
    for k in 0..n_folds {
        let values: Vec<String> = names
            .iter()
            .map(|n| {
                trained.cv.scores[*n]
                    .per_fold
                    .get(k)
                    .map_or_else(String::new, |v| format!("{v:.6}"))
            })
            .collect();
        let _ = writeln!(folds, "{k},{}", values.join(","));
    }
    write(&workdir.join("plots/cv_folds.csv"), folds.as_bytes())?;
    let mut out = format!("evaluate: {} test rows\n", f.test.n_samples());
    for key in ["accuracy", "f1_macro", "roc_auc_ovr", "log_loss"] {
        if let Some(v) = e.test.get(key) {
            let _ = writeln!(out, "  {key:<18} {v:.4}");
        }
    }
    Ok(out)
}

fn register_stage(workdir: &Path, params: &Params, uri: Option<&str>) -> Result<String> {
    let (data, f, trained, e) = load_all(workdir, params)?;
    let reports = workdir.join("reports");
    let mut artifacts: Vec<PathBuf> = REPORT_FILES.iter().map(|n| reports.join(n)).collect();
    if trained.search.is_some() {
        artifacts.push(reports.join(SEARCH_RESULTS_FILE));
    }
    let mut config = params.train_config();
    config.tracking_uri = params.tracking_uri(uri);
    let mut spec = config.register_spec();
    let lock = dvc_lock_md5(Path::new("dvc.lock"), &model_dir(workdir))?;
    if let Some(md5) = &lock {
        spec.version_tags
            .insert("dvc.stage".to_owned(), "train".to_owned());
        spec.version_tags
            .insert("dvc.lock_md5".to_owned(), md5.clone());
    }
    let r = register(&data, &f, &trained, &e, &artifacts, &spec)?;
    let record = RegisteredRecord {
        name: &r.model.name,
        version: r.model.version,
        stage: &r.model.stage,
        aliases: &r.model.aliases,
        run_id: &r.run_id,
        tracking_uri: &r.tracking_uri,
        data_fingerprint: data.fingerprint(),
        dvc_lock_md5: lock,
    };
    let text = json(&record)?;
    write(&workdir.join("registered.json"), text.as_bytes())?;
    Ok(format!(
        "register: {} version {} → stage {}, aliases [{}] (run {} in {})\n",
        r.model.name,
        r.model.version,
        r.model.stage,
        r.model.aliases.join(", "),
        r.run_id,
        r.tracking_uri
    ))
}

/// The md5 that `dvc.lock` records for the train stage's model folder, when the file exists
/// and has one (DVC writes each stage's entry as soon as the stage has run, so the register
/// stage sees the train stage's hash of this very run).
fn dvc_lock_md5(lock: &Path, model_dir: &Path) -> Result<Option<String>> {
    let Ok(text) = std::fs::read_to_string(lock) else {
        return Ok(None);
    };
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text)
        .map_err(|e| CliError::Invalid(format!("{}: {e}", lock.display())))?;
    let wanted = model_dir.to_string_lossy();
    let wanted = wanted.trim_end_matches('/');
    let outs = doc
        .get("stages")
        .and_then(|s| s.get("train"))
        .and_then(|s| s.get("outs"))
        .and_then(|o| o.as_sequence());
    Ok(outs.and_then(|outs| {
        outs.iter().find_map(|o| {
            let path = o.get("path")?.as_str()?;
            (path.trim_end_matches('/') == wanted)
                .then(|| o.get("md5")?.as_str().map(str::to_owned))
                .flatten()
        })
    }))
}

/// A class name by index, or the index itself if the names are short (never panics).
fn class(names: &[String], i: usize) -> String {
    names.get(i).cloned().unwrap_or_else(|| i.to_string())
}
