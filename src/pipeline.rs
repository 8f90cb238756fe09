//! The train-and-register chain, packaged: load → validate → fit features → (optional grid
//! search) → cross-validate → train → evaluate → log a run → register a version → apply the
//! promotion policy.
//!
//! `examples/train_and_register.rs` is a thin command line over [`train_and_register`], and
//! [`TrainAndRegister`] is the default [`RetrainHandler`] for
//! [`RetrainTrigger`](obesity_monitor::RetrainTrigger): the same code trains the first model
//! and every retrain, so a retrain can never drift from what was validated by hand.
//!
//! Every step is an ordinary call into one crate; nothing here is hidden state. Read the body
//! of [`train_and_register`] as the reference composition of the workspace.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use obesity_data::{
    LoadOptions, Schema, ValidationReport, feature_columns, load_csv, stratified_split,
    target_indices,
};
use obesity_eval::{
    ClassificationReport, GridSearch, Metrics, Scorer, ZeroDivision, confusion_matrix_chart,
    cross_validate, cv_scores_chart, feature_importance_chart, forest_factory, per_class_chart,
    seeds_forest_grid, stratified_folds,
};
use obesity_features::{FeatureConfig, FeaturePipeline};
use obesity_forest::{ForestParams, ModelStrategy, RandomForest};
use obesity_monitor::{
    HandlerError, ReferenceProfile, RetrainHandler, RetrainRequest, RetrainResult,
};
use obesity_onnx::{ExportOptions, OnnxModel, OutputLayout};
use obesity_registry::{
    DatasetInput, InputExample, NewVersion, OnnxArtifact, PromotionDecision, PromotionPolicy,
    Registry, Signature, TensorColumn, Tracker,
};
use serde::{Deserialize, Serialize};

use crate::error::{PipelineError, Result};

/// The artifact file holding the drift monitor's reference profile, next to the model.
pub const REFERENCE_PROFILE_FILE: &str = "reference_profile.json";

/// Everything the chain needs. Every field has a default, so a JSON config file may give
/// only what it changes (`{"forest": {...}, "model_name": "x"}`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// The CSV to train on. By default, this is the seeded synthetic fixture shipped in
    /// `fixtures/obesity_synthetic.csv`.
    pub data: PathBuf,
    /// Where runs and versions go: a folder (MLflow file-store layout) or an `http(s)://`
    /// MLflow tracking server. By default, this is `./mlruns`.
    pub tracking_uri: String,
    /// Experiment name. By default, this is `obesity-classification`.
    pub experiment: String,
    /// Registered model name. By default, this is `obesity-classifier`.
    pub model_name: String,
    /// Folder for charts and reports (also logged as run artifacts). By default, `./out`.
    pub out_dir: PathBuf,
    /// Share of rows held out for the test set. By default, this is 0.2.
    pub test_fraction: f64,
    /// Seed of the split and the folds. By default, this is 42.
    pub seed: u64,
    /// Cross-validation folds on the training rows. By default, this is 5.
    pub cv_folds: usize,
    /// Feature encoding. By default, this is [`FeatureConfig::standard`] (one-hot + BMI).
    pub features: FeatureConfig,
    /// Forest hyper-parameters. By default, scikit-learn's defaults with seed 42.
    pub forest: ForestParams,
    /// Run the seeds' 216-candidate grid search (5 folds, f1_macro) before the final fit and
    /// train the best candidate. By default, this is off.
    pub grid_search: bool,
    /// The promotion policy applied to the new version.
    pub promotion: PromotionPolicy,
    /// Register the new version as a challenger at most, never as champion (what a retrain
    /// does: promotion to champion stays a deliberate step). By default, this is off.
    pub challenger_only: bool,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            data: default_data_path(),
            tracking_uri: "./mlruns".to_owned(),
            experiment: "obesity-classification".to_owned(),
            model_name: "obesity-classifier".to_owned(),
            out_dir: PathBuf::from("./out"),
            test_fraction: 0.2,
            seed: 42,
            cv_folds: 5,
            features: FeatureConfig::standard(),
            forest: ForestParams::builder().seed(42).build().unwrap_or_default(),
            grid_search: false,
            promotion: PromotionPolicy::default(),
            challenger_only: false,
        }
    }
}

/// The fixture shipped with the repository: 2,111 synthetic rows made by
/// `obesity_data::synth::generate(2111, 42)`.
pub fn default_data_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/obesity_synthetic.csv")
}

impl TrainConfig {
    /// Reads a JSON config file; unknown keys are an error naming them.
    pub fn from_json_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| PipelineError::Io {
            path: path.to_owned(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| PipelineError::Config {
            path: path.to_owned(),
            source,
        })
    }
}

/// Cross-validation scores of one metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CvScore {
    /// Mean over folds.
    pub mean: f64,
    /// Standard deviation over folds.
    pub std: f64,
    /// 95% confidence interval of the mean (Student t).
    pub ci95: (f64, f64),
    /// Per-fold values.
    pub folds: Vec<f64>,
}

/// The registered version and what the promotion policy made of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelSummary {
    /// Registered model name.
    pub name: String,
    /// Version number.
    pub version: u64,
    /// Stage after promotion (`None`, `Staging`, `Production`).
    pub stage: String,
    /// Aliases pointing at this version after promotion.
    pub aliases: Vec<String>,
    /// The policy's decision and reasons.
    pub promotion: PromotionDecision,
}

/// Where the data came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataSummary {
    /// The file.
    pub path: String,
    /// Rows loaded.
    pub rows: usize,
    /// Canonical SHA-256 of the rows (same whatever column order or line endings).
    pub fingerprint: String,
    /// SHA-256 of the raw bytes.
    pub raw_fingerprint: String,
    /// Training and test rows.
    pub train_rows: usize,
    /// Test rows.
    pub test_rows: usize,
    /// Columns of the feature matrix (32 with the standard encoding).
    pub n_features: usize,
    /// Whether the table has the UCI shape (2,111 × 17).
    pub shape_matches: bool,
    /// Load warnings (unknown extra columns ...).
    pub warnings: Vec<String>,
}

/// What one pass of the chain produced. Serialises to the JSON document the example prints
/// with `--json` (`test.accuracy`, `cv.accuracy.mean`, `model.version`, `data.fingerprint` ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainOutcome {
    /// The data.
    pub data: DataSummary,
    /// Test-set metrics by name (`accuracy`, `f1_macro`, `log_loss`, `roc_auc_ovr` ...).
    pub test: BTreeMap<String, f64>,
    /// Cross-validation scores on the training rows, by scorer name.
    pub cv: BTreeMap<String, CvScore>,
    /// The registered version.
    pub model: ModelSummary,
    /// The tracking run that produced it.
    pub run_id: String,
    /// The tracking URI used.
    pub tracking_uri: String,
    /// Hyper-parameters of the trained forest.
    pub params: BTreeMap<String, String>,
    /// Feature importances (mean decrease in impurity), largest first.
    pub top_features: Vec<(String, f64)>,
    /// The classification report on the test set.
    pub report: ClassificationReport,
    /// Charts and reports written to `out_dir`.
    pub artifacts: Vec<PathBuf>,
    /// The validation report's headline: duplicate rows in the input.
    pub duplicate_rows: usize,
    /// Wall time of each step, seconds (for the user's information; never asserted).
    pub timings: BTreeMap<String, f64>,
}

/// Runs the whole chain once. See the module docs.
///
/// # Errors
/// The first step that fails, with that crate's error (a bad row names its file, line,
/// column and value).
pub fn train_and_register(config: &TrainConfig) -> Result<TrainOutcome> {
    let mut timings = BTreeMap::new();
    let mut clock = Instant::now();
    let mut lap = |name: &str, timings: &mut BTreeMap<String, f64>| {
        timings.insert(name.to_owned(), clock.elapsed().as_secs_f64());
        clock = Instant::now();
    };

    // 1. Load and validate (strict: a bad row stops the run, naming file, line and column).
    let loaded = load_csv(&config.data, &LoadOptions::strict())?;
    let validation = ValidationReport::from_loaded(&loaded);
    let labels = target_indices(&loaded.records)?;
    lap("load_validate", &mut timings);

    // 2. Split, then fit the features on the training rows only.
    let (train_idx, test_idx) = stratified_split(&labels, config.test_fraction, config.seed)?;
    let train_records: Vec<_> = train_idx
        .iter()
        .map(|&i| loaded.records[i].clone())
        .collect();
    let test_records: Vec<_> = test_idx
        .iter()
        .map(|&i| loaded.records[i].clone())
        .collect();
    let pipeline = FeaturePipeline::new(config.features).fit(&train_records)?;
    let train = pipeline.dataset(&train_records)?;
    let test = pipeline.dataset(&test_records)?;
    lap("features", &mut timings);

    // 3. Optionally tune, then cross-validate the chosen strategy on the training rows.
    //    Everything below works on `dyn ModelStrategy` / `dyn Classifier`: any model that
    //    implements the traits drops into the same chain.
    let folds = stratified_folds(&train, config.cv_folds, config.seed)?;
    let strategy: Box<dyn ModelStrategy> = if config.grid_search {
        let base = ForestParams::builder_from(&config.forest).n_threads(Some(1));
        let search = GridSearch::new(forest_factory(base), seeds_forest_grid())
            .scoring(Scorer::from_name("f1_macro")?)
            .refit(false);
        let outcome = search.fit(&train, &folds)?;
        lap("grid_search", &mut timings);
        forest_factory(ForestParams::builder_from(&config.forest))(outcome.results.best_params())?
    } else {
        Box::new(config.forest.clone())
    };
    let scorers = Scorer::parse_list(&["accuracy", "f1_macro", "balanced_accuracy"])?;
    let cv = cross_validate(strategy.as_ref(), &train, &folds, &scorers)?;
    lap("cross_validate", &mut timings);

    // 4. Train on every training row and evaluate on the held-out rows.
    let model = strategy.fit(train.x.view(), train.y.view(), train.n_classes())?;
    lap("fit", &mut timings);
    let proba = model.predict_proba(test.x.view())?;
    let predicted = model.predict(test.x.view())?;
    let y_test = test.y.to_vec();
    let y_pred = predicted.to_vec();
    let metrics = Metrics::compute(&y_test, &y_pred, Some(proba.view()), test.n_classes())?;
    let report =
        ClassificationReport::new(&y_test, &y_pred, &test.class_names, ZeroDivision::Zero)?;
    let test_metrics = test_metric_map(&metrics);
    let importances = model
        .feature_importances()
        .unwrap_or_else(|| vec![0.0; train.n_features()]);
    let mut top_features: Vec<(String, f64)> = train
        .feature_names
        .iter()
        .cloned()
        .zip(importances.iter().copied())
        .collect();
    top_features.sort_by(|a, b| b.1.total_cmp(&a.1));
    lap("evaluate", &mut timings);

    // 5. Charts and reports, kept as files and as run artifacts.
    std::fs::create_dir_all(&config.out_dir).map_err(|source| PipelineError::Io {
        path: config.out_dir.clone(),
        source,
    })?;
    let out = |name: &str| config.out_dir.join(name);
    confusion_matrix_chart(
        out("confusion_matrix.svg"),
        &metrics.confusion,
        &test.class_names,
    )?;
    per_class_chart(out("per_class.svg"), &report)?;
    feature_importance_chart(
        out("feature_importance.svg"),
        &train.feature_names,
        &importances,
        None,
        15,
        "Feature importance (mean decrease in impurity)",
    )?;
    cv_scores_chart(out("cv_scores.svg"), &cv)?;
    write_file(
        &out("classification_report.txt"),
        report.to_text(4).as_bytes(),
    )?;
    write_file(
        &out("classification_report.json"),
        report.to_json()?.as_bytes(),
    )?;
    write_file(
        &out("validation_report.json"),
        to_json(&validation)?.as_bytes(),
    )?;
    let artifacts: Vec<PathBuf> = [
        "confusion_matrix.svg",
        "per_class.svg",
        "feature_importance.svg",
        "cv_scores.svg",
        "classification_report.txt",
        "classification_report.json",
        "validation_report.json",
    ]
    .iter()
    .map(|n| out(n))
    .collect();
    lap("charts", &mut timings);

    // 6. Log the run: params, metrics, the data fingerprint and the charts.
    let fingerprint = loaded.fingerprint.canonical.to_hex();
    let tracker = Tracker::open(&config.tracking_uri)?;
    let run = tracker.start_run(&config.experiment, Some("train_and_register"))?;
    let params_map = strategy.params();
    run.log_params(params_map.iter())?;
    run.log_param("test_fraction", config.test_fraction)?;
    run.log_param("split_seed", config.seed)?;
    run.log_param("cv_folds", config.cv_folds)?;
    run.log_param(
        "features",
        serde_json::to_string(&config.features).unwrap_or_default(),
    )?;
    run.set_tag("data.fingerprint", &fingerprint)?;
    run.set_tag("data.path", config.data.display())?;
    // MLflow 3's dataset record (the run page's "Datasets"). MLflow keeps at most 36
    // characters of a digest: it gets the fingerprint's first 32 hex digits, the profile and
    // the `data.fingerprint` tag the whole of it.
    let source = std::path::absolute(&config.data).unwrap_or_else(|_| config.data.clone());
    let dataset = DatasetInput::training(
        config.data.file_stem().map_or_else(
            || "training data".to_owned(),
            |s| s.to_string_lossy().into_owned(),
        ),
        fingerprint.get(..32).unwrap_or(&fingerprint),
        &source.display().to_string(),
    )
    .with_schema(&Schema::obesity())
    .with_profile(
        loaded.records.len(),
        Schema::obesity().columns.len(),
        &BTreeMap::from([("fingerprint".to_owned(), fingerprint.clone())]),
    );
    match run.log_input(&dataset) {
        Err(e) if !e.is_unsupported() => return Err(e.into()),
        _ => {}
    }
    let mut logged: Vec<(String, f64)> =
        test_metrics.iter().map(|(k, v)| (k.clone(), *v)).collect();
    let mut cv_scores = BTreeMap::new();
    for (scorer, summary) in &cv.scores {
        logged.push((format!("cv_{scorer}_mean"), summary.mean));
        logged.push((format!("cv_{scorer}_std"), summary.std));
        for (step, v) in summary.per_fold.iter().enumerate() {
            run.log_metric_at(&format!("cv_{scorer}"), *v, step as i64)?;
        }
        cv_scores.insert(
            scorer.clone(),
            CvScore {
                mean: summary.mean,
                std: summary.std,
                ci95: (summary.ci95_low, summary.ci95_high),
                folds: summary.per_fold.clone(),
            },
        );
    }
    run.log_metrics(logged)?;
    for path in &artifacts {
        run.log_artifact(path, Some("reports"))?;
    }
    let model_bytes = model.to_bytes()?;
    let pipeline_json = pipeline.to_json()?;
    let profile = ReferenceProfile::from_columns(&feature_columns(&train_records))?;
    let profile_json = profile.to_json()?;
    // The same pipeline + forest as one ONNX model over raw columns (one output column per
    // class, as MLflow's pyfunc needs), so that Python loads, serves and batch-scores the
    // version; a model that is not our forest is registered without it.
    let onnx = match RandomForest::from_bytes(&model_bytes) {
        Ok(forest) => Some(onnx_artifact(&obesity_onnx::export(
            &pipeline,
            &forest,
            &ExportOptions::with_outputs(OutputLayout::Columns),
        )?)),
        Err(_) => None,
    };
    let example = InputExample::from_columns(
        &feature_columns(&train_records[..train_records.len().min(5)]),
        5,
    )?;
    // The model, pipeline, signature, lineage, profile, ONNX model and input example go into
    // the run's `model/` artifact folder (an MLflow Model directory) through
    // `Registry::register` below: written once, not twice.
    lap("log_run", &mut timings);

    // 7. Register the version and let the policy decide its stage and aliases.
    let registry = Registry::new(tracker.store().clone());
    let mut new_version = NewVersion::new(&config.model_name, run.id(), model_bytes);
    if let Some(onnx) = onnx {
        new_version = new_version.onnx(onnx);
    }
    let version = registry.register(
        new_version
            .pipeline_json(pipeline_json.into_bytes())
            .signature(Signature::from_schema(&Schema::obesity())?)
            .input_example(example)
            .data_fingerprint(&fingerprint)
            .extra_artifact(REFERENCE_PROFILE_FILE, profile_json.into_bytes())
            .description(format!(
                "{} ({} trees), trained on {} rows of {}",
                strategy.name(),
                params_map.get("n_estimators").map_or("-", String::as_str),
                train.n_samples(),
                config.data.display()
            )),
    )?;
    let mut policy = config.promotion.clone();
    if config.challenger_only {
        // A value no metric reaches: the policy can still stage the version and give it the
        // challenger alias, never the champion one.
        policy.production_threshold = if policy.higher_is_better {
            f64::MAX
        } else {
            f64::MIN
        };
    }
    let decision = registry.promote(&config.model_name, version.version, &policy)?;
    let after = registry.version(&config.model_name, version.version)?;
    let run_id = run.id().to_owned();
    run.finish()?;
    lap("register", &mut timings);

    Ok(TrainOutcome {
        data: DataSummary {
            path: config.data.display().to_string(),
            rows: loaded.records.len(),
            fingerprint,
            raw_fingerprint: loaded.fingerprint.raw.to_hex(),
            train_rows: train.n_samples(),
            test_rows: test.n_samples(),
            n_features: train.n_features(),
            shape_matches: validation.shape_matches(),
            warnings: loaded.warnings.iter().map(ToString::to_string).collect(),
        },
        test: test_metrics,
        cv: cv_scores,
        model: ModelSummary {
            name: config.model_name.clone(),
            version: after.version,
            stage: format!("{:?}", after.current_stage),
            aliases: after.aliases.clone(),
            promotion: decision,
        },
        run_id,
        tracking_uri: config.tracking_uri.clone(),
        params: params_map,
        top_features,
        report,
        artifacts,
        duplicate_rows: validation.duplicates.count,
        timings,
    })
}

/// An exported model as the registry's ONNX artifact: its bytes and its tensors' names,
/// MLflow types and shapes.
fn onnx_artifact(model: &OnnxModel) -> OnnxArtifact {
    let columns = |specs: Vec<obesity_onnx::TensorSpec>| {
        specs
            .into_iter()
            .map(|t| TensorColumn::new(t.name, t.elem_type.map(|e| e.mlflow_name()), t.shape))
            .collect()
    };
    OnnxArtifact::new(
        model.to_bytes(),
        columns(model.inputs()),
        columns(model.outputs()),
    )
}

/// Test-set metrics under the names the promotion policy and MLflow users expect.
fn test_metric_map(m: &Metrics) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    out.insert("accuracy".to_owned(), m.accuracy);
    out.insert("balanced_accuracy".to_owned(), m.balanced_accuracy);
    out.insert("f1_macro".to_owned(), m.macro_avg.f1);
    out.insert("f1_weighted".to_owned(), m.weighted_avg.f1);
    out.insert("precision_macro".to_owned(), m.macro_avg.precision);
    out.insert("recall_macro".to_owned(), m.macro_avg.recall);
    out.insert("cohen_kappa".to_owned(), m.cohen_kappa);
    out.insert("matthews_corrcoef".to_owned(), m.matthews_corrcoef);
    let optional = [
        ("log_loss", m.log_loss),
        ("roc_auc_ovr", m.roc_auc_ovr_macro),
        ("roc_auc_ovr_weighted", m.roc_auc_ovr_weighted),
        ("brier_score", m.brier_score),
    ];
    for (k, v) in optional {
        if let Some(v) = v {
            out.insert(k.to_owned(), v);
        }
    }
    out
}

fn to_json<T: Serialize>(value: &T) -> Result<String> {
    serde_json::to_string_pretty(value).map_err(PipelineError::Json)
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).map_err(|source| PipelineError::Io {
        path: path.to_owned(),
        source,
    })
}

/// The default retrain handler: runs [`train_and_register`] with `challenger_only` set, so a
/// retrain registers a new version as (at most) the challenger and never replaces the
/// champion by itself.
#[derive(Debug, Clone)]
pub struct TrainAndRegister {
    /// The configuration each retrain runs with.
    pub config: TrainConfig,
}

impl TrainAndRegister {
    /// A handler that retrains with `config` (its `challenger_only` is forced on).
    pub fn new(mut config: TrainConfig) -> Self {
        config.challenger_only = true;
        Self { config }
    }
}

impl RetrainHandler for TrainAndRegister {
    fn retrain(&mut self, _request: &RetrainRequest) -> Result<RetrainResult, HandlerError> {
        let outcome = train_and_register(&self.config)?;
        Ok(RetrainResult {
            new_version: outcome.model.version.to_string(),
            metrics: outcome.test,
        })
    }
}
