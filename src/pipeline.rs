//! The train-and-register chain as five stage functions with typed inputs and outputs:
//!
//! | stage | function | takes | gives |
//! |---|---|---|---|
//! | load + validate | [`load_and_validate`] | a CSV path | [`LoadedData`] (records, [`ValidationReport`], labels) |
//! | featurize | [`split`], [`featurize`] (or [`apply_features`] with a fitted pipeline) | [`LoadedData`], [`FeatureConfig`] | [`Featurized`] (split, pipeline, train/test [`Dataset`]s) |
//! | train | [`train`] | [`Featurized`], [`TrainSpec`] | [`Trained`] (model, params, CV, grid-search table) |
//! | evaluate | [`evaluate`] (+ [`write_reports`]) | a [`Classifier`], a labelled [`Dataset`] | [`Evaluation`] (metrics, report, importances) |
//! | register | [`register`] | all of the above, [`RegisterSpec`] | [`Registered`] (run, version, promotion decision) |
//!
//! [`train_and_register`] is their composition (what `examples/train_and_register.rs` spells
//! out in a page and `obesity train` runs); the DVC stages (`obesity stage ...`) call them one
//! process at a time; [`TrainAndRegister`] is the default [`RetrainHandler`] for
//! [`RetrainTrigger`](obesity_monitor::RetrainTrigger): the same code trains the first model
//! and every retrain, so a retrain can never drift from what was validated by hand.
//!
//! Every step is an ordinary call into one crate; nothing here is hidden state.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use obesity_data::{
    LoadOptions, Loaded, ObesityLevel, ObesityRecord, Schema, ValidationReport, feature_columns,
    load_csv, stratified_split, target_indices,
};
use obesity_eval::{
    ClassificationReport, CvResult, GridSearch, Metrics, ParamGrid, ParamValue, Scorer,
    SearchResults, ZeroDivision, confusion_matrix_chart, cross_validate, cv_scores_chart,
    feature_importance_chart, forest_factory, per_class_chart, stratified_folds,
};
use obesity_features::{Dataset, FeatureConfig, FeaturePipeline, FittedPipeline};
use obesity_forest::{Classifier, ForestParams, ModelStrategy, RandomForest};
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

/// The version tag holding the SHA-256 (hex) of the run's parameters (the model's and the
/// split's, as sorted JSON), set by the registry (`Lineage::params_hash`). It was
/// `params.sha256`, a second tag beside the registry's, before issue 16.
pub const PARAMS_HASH_TAG: &str = "lineage.params_hash";

/// The artifact file holding the drift monitor's reference profile, next to the model
/// (defined by obesity-monitor, which owns the profile).
pub use obesity_monitor::REFERENCE_PROFILE_FILE;

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
    /// Run the original Python project's 216-candidate grid search (5 folds, f1_macro) before the final fit and
    /// train the best candidate. By default, this is off.
    pub grid_search: bool,
    /// The grid of the search: parameter name → values. By default (`None`), the original Python project's
    /// 216-candidate grid.
    pub search_grid: Option<BTreeMap<String, Vec<ParamValue>>>,
    /// The scorer that ranks the candidates. By default, `f1_macro`.
    pub search_scoring: String,
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
            search_grid: None,
            search_scoring: "f1_macro".to_owned(),
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
    ///
    /// This is the format of the example before `params.yaml`; see docs/config.md for how
    /// its keys map to `params.yaml` sections.
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

    /// Reads a config file by its extension: `.yaml`/`.yml` is a `params.yaml`
    /// ([`Params`](crate::params::Params)), anything else the JSON form of this type.
    ///
    /// # Errors
    /// The file cannot be read, or has an unknown key or a bad value (named with the file).
    pub fn from_file(path: &Path) -> Result<Self> {
        match path.extension().and_then(|e| e.to_str()) {
            Some("yaml" | "yml") => Ok(crate::params::Params::from_file(path)?.train_config()),
            _ => Self::from_json_file(path),
        }
    }

    /// What stage 3 ([`train`]) takes from this config.
    pub fn train_spec(&self) -> TrainSpec {
        TrainSpec {
            forest: self.forest.clone(),
            grid_search: self.grid_search,
            grid: self.search_grid.clone(),
            scoring: self.search_scoring.clone(),
            cv_folds: self.cv_folds,
            seed: self.seed,
        }
    }

    /// What stage 5 ([`register`]) takes from this config (the run gets a generated name).
    pub fn register_spec(&self) -> RegisterSpec {
        RegisterSpec {
            tracking_uri: self.tracking_uri.clone(),
            experiment: self.experiment.clone(),
            model_name: self.model_name.clone(),
            run_name: None,
            promotion: self.promotion.clone(),
            challenger_only: self.challenger_only,
            run_params: BTreeMap::from([
                ("test_fraction".to_owned(), self.test_fraction.to_string()),
                ("split_seed".to_owned(), self.seed.to_string()),
                ("cv_folds".to_owned(), self.cv_folds.to_string()),
                (
                    "features".to_owned(),
                    serde_json::to_string(&self.features).unwrap_or_default(),
                ),
            ]),
            version_tags: BTreeMap::new(),
        }
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
    /// The grid search's best candidate, when one ran.
    pub search: Option<SearchSummary>,
}

/// The headline of a grid search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchSummary {
    /// The scorer that ranked the candidates.
    pub scoring: String,
    /// Candidates tried.
    pub candidates: usize,
    /// The best candidate's parameters.
    pub best_params: BTreeMap<String, String>,
    /// Its mean cross-validated score.
    pub best_score: f64,
}

impl SearchSummary {
    /// The headline of `results`.
    pub fn of(results: &SearchResults) -> Option<Self> {
        let best = results.candidates.get(results.best_index)?;
        Some(SearchSummary {
            scoring: results.scoring.name().to_owned(),
            candidates: results.candidates.len(),
            best_params: best
                .params
                .0
                .iter()
                .map(|(k, v)| (k.clone(), v.to_string()))
                .collect(),
            best_score: best.score.mean,
        })
    }
}

/// Runs the whole chain once: the composition of the stage functions
/// [`load_and_validate`] → [`split`] → [`featurize`] → [`train`] → [`evaluate`] →
/// [`write_reports`] → [`register`]. See the module docs.
///
/// # Errors
/// The first step that fails, with that crate's error (a bad row names its file, line,
/// column and value).
pub fn train_and_register(config: &TrainConfig) -> Result<TrainOutcome> {
    let mut clock = Stopwatch::start();
    let data = load_and_validate(&config.data)?;
    clock.lap("load_validate");
    let features = featurize(
        &data,
        split(&data, config.test_fraction, config.seed)?,
        config.features,
    )?;
    clock.lap("features");
    let trained = train(&features, &config.train_spec())?;
    clock.lap("train");
    let evaluation = evaluate(trained.model.as_ref(), &features.test)?;
    clock.lap("evaluate");
    let artifacts = write_reports(&config.out_dir, &data, &features, &trained, &evaluation)?;
    clock.lap("charts");
    let registered = register(
        &data,
        &features,
        &trained,
        &evaluation,
        &artifacts,
        &config.register_spec(),
    )?;
    clock.lap("register");
    Ok(TrainOutcome::new(
        &data,
        &features,
        trained,
        evaluation,
        registered,
        artifacts,
        clock.timings,
    ))
}

/// Wall time of each stage, for the user's information.
#[derive(Debug)]
pub struct Stopwatch {
    clock: Instant,
    /// Seconds per stage, by stage name.
    pub timings: BTreeMap<String, f64>,
}

impl Stopwatch {
    /// A stopwatch started now.
    pub fn start() -> Self {
        Self {
            clock: Instant::now(),
            timings: BTreeMap::new(),
        }
    }

    /// Records the time since the last lap under `name` and restarts.
    pub fn lap(&mut self, name: &str) {
        self.timings
            .insert(name.to_owned(), self.clock.elapsed().as_secs_f64());
        self.clock = Instant::now();
    }
}

// ---------------------------------------------------------------------------------------
// Stage 1: load and validate.

/// What [`load_and_validate`] read: the records, the validation report and the labels.
#[derive(Debug)]
pub struct LoadedData {
    /// The file.
    pub path: PathBuf,
    /// The records and what the loader learnt (warnings, fingerprints, line numbers).
    pub loaded: Loaded,
    /// The validation report (shape, duplicates, ranges, class balance ...).
    pub validation: ValidationReport,
    /// The class index of every record.
    pub labels: Vec<usize>,
}

impl LoadedData {
    /// The canonical SHA-256 of the rows, hex (the lineage's data fingerprint).
    pub fn fingerprint(&self) -> String {
        self.loaded.fingerprint.canonical.to_hex()
    }
}

/// Stage 1: loads a labelled CSV strictly (the first bad row is an error naming file, line,
/// column and value) and computes its validation report.
///
/// # Errors
/// [`PipelineError::Data`]: an unreadable file, a bad row, or a row without a label.
pub fn load_and_validate(path: &Path) -> Result<LoadedData> {
    let loaded = load_csv(path, &LoadOptions::strict())?;
    let validation = ValidationReport::from_loaded(&loaded);
    let labels = target_indices(&loaded.records)?;
    Ok(LoadedData {
        path: path.to_owned(),
        loaded,
        validation,
        labels,
    })
}

// ---------------------------------------------------------------------------------------
// Stage 2: split and featurize.

/// Row indices of the training and test sets (stratified), as written by the DVC
/// `featurize` stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Split {
    /// Training rows (indices into the loaded records).
    pub train: Vec<usize>,
    /// Test rows.
    pub test: Vec<usize>,
}

/// Stage 2a: a stratified train/test split of the loaded rows.
///
/// # Errors
/// [`PipelineError::Data`] when a fraction is out of range or a class is too small.
pub fn split(data: &LoadedData, test_fraction: f64, seed: u64) -> Result<Split> {
    let (train, test) = stratified_split(&data.labels, test_fraction, seed).map_err(|e| {
        let names: Vec<&str> = ObesityLevel::ALL.iter().map(|l| l.as_str()).collect();
        e.with_class_names(&names)
    })?;
    Ok(Split { train, test })
}

/// The split rows, the fitted feature pipeline, and both sets as numeric matrices.
#[derive(Debug, Clone)]
pub struct Featurized {
    /// The split the sets come from.
    pub split: Split,
    /// The feature pipeline, fitted on the training rows only.
    pub pipeline: FittedPipeline,
    /// The training records (raw).
    pub train_records: Vec<ObesityRecord>,
    /// The test records (raw).
    pub test_records: Vec<ObesityRecord>,
    /// The training set.
    pub train: Dataset,
    /// The test set.
    pub test: Dataset,
}

/// Stage 2b: fits the feature pipeline on the training rows of `split` and transforms both
/// sets.
///
/// # Errors
/// [`PipelineError::Split`] when an index is out of range, else the feature crate's error.
pub fn featurize(data: &LoadedData, split: Split, config: FeatureConfig) -> Result<Featurized> {
    let train_records = pick(data, &split.train)?;
    let pipeline = FeaturePipeline::new(config).fit(&train_records)?;
    apply_features(data, split, pipeline)
}

/// Stage 2b with an already fitted pipeline (what the DVC stages after `featurize` do with
/// the `pipeline.json` and `split.json` it wrote).
///
/// # Errors
/// As [`featurize`].
pub fn apply_features(
    data: &LoadedData,
    split: Split,
    pipeline: FittedPipeline,
) -> Result<Featurized> {
    let train_records = pick(data, &split.train)?;
    let test_records = pick(data, &split.test)?;
    let train = pipeline.dataset(&train_records)?;
    let test = pipeline.dataset(&test_records)?;
    Ok(Featurized {
        split,
        pipeline,
        train_records,
        test_records,
        train,
        test,
    })
}

fn pick(data: &LoadedData, indices: &[usize]) -> Result<Vec<ObesityRecord>> {
    indices
        .iter()
        .map(|&i| {
            data.loaded
                .records
                .get(i)
                .cloned()
                .ok_or_else(|| PipelineError::Split {
                    path: data.path.clone(),
                    index: i,
                    rows: data.loaded.records.len(),
                })
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Stage 3: (optional grid search), cross-validate, fit.

/// What [`train`] needs: the hyper-parameters, the search switch and the folds.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainSpec {
    /// Forest hyper-parameters (the search's base when `grid_search` is on).
    pub forest: ForestParams,
    /// Run a grid search first and train the best candidate.
    pub grid_search: bool,
    /// The grid (parameter → values); `None` is the original Python project's 216-candidate grid.
    pub grid: Option<BTreeMap<String, Vec<ParamValue>>>,
    /// The scorer that ranks the candidates (`f1_macro` ...).
    pub scoring: String,
    /// Cross-validation folds on the training rows (and of the search).
    pub cv_folds: usize,
    /// Seed of the folds.
    pub seed: u64,
}

/// A trained model with its cross-validation scores.
pub struct Trained {
    /// The strategy's name (`random_forest` ...).
    pub strategy: String,
    /// The hyper-parameters that were trained (after the search, if any).
    pub params: BTreeMap<String, String>,
    /// The model, fitted on every training row.
    pub model: Box<dyn Classifier>,
    /// Cross-validation on the training rows: accuracy, f1_macro, balanced_accuracy.
    pub cv: CvResult,
    /// The grid search's table, when one ran.
    pub search: Option<SearchResults>,
}

impl std::fmt::Debug for Trained {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trained")
            .field("strategy", &self.strategy)
            .field("params", &self.params)
            .field("cv", &self.cv)
            .field("search", &self.search.as_ref().map(|s| s.candidates.len()))
            .finish_non_exhaustive()
    }
}

impl Trained {
    /// The cross-validation scores in the shape of [`TrainOutcome::cv`].
    pub fn cv_scores(&self) -> BTreeMap<String, CvScore> {
        self.cv
            .scores
            .iter()
            .map(|(name, s)| {
                (
                    name.clone(),
                    CvScore {
                        mean: s.mean,
                        std: s.std,
                        ci95: (s.ci95_low, s.ci95_high),
                        folds: s.per_fold.clone(),
                    },
                )
            })
            .collect()
    }
}

/// Stage 3: optionally tunes, cross-validates the chosen strategy on the training rows and
/// fits it on all of them. Everything works on `dyn ModelStrategy` / `dyn Classifier`: any
/// model that implements the traits drops into the same chain.
///
/// # Errors
/// The eval or model crate's error (too few rows per fold, a bad candidate ...).
pub fn train(features: &Featurized, spec: &TrainSpec) -> Result<Trained> {
    let train = &features.train;
    let folds = stratified_folds(train, spec.cv_folds, spec.seed)?;
    let mut search_results = None;
    let strategy: Box<dyn ModelStrategy> = if spec.grid_search {
        let grid = match &spec.grid {
            None => crate::grid::obesity_forest_grid(),
            Some(axes) => axes.iter().fold(ParamGrid::new(), |g, (name, values)| {
                g.add(name, values.clone())
            }),
        };
        let base = ForestParams::builder_from(&spec.forest).n_threads(Some(1));
        let search = GridSearch::new(forest_factory(base), grid)
            .scoring(Scorer::from_name(&spec.scoring)?)
            .refit(false);
        let outcome = search.fit(train, &folds)?;
        let best = forest_factory(ForestParams::builder_from(&spec.forest))(
            outcome.results.best_params(),
        )?;
        search_results = Some(outcome.results);
        best
    } else {
        Box::new(spec.forest.clone())
    };
    let scorers = Scorer::parse_list(&["accuracy", "f1_macro", "balanced_accuracy"])?;
    let cv = cross_validate(strategy.as_ref(), train, &folds, &scorers)?;
    let model = strategy.fit(train.x.view(), train.y.view(), train.n_classes())?;
    Ok(Trained {
        strategy: strategy.name().to_owned(),
        params: strategy.params(),
        model,
        cv,
        search: search_results,
    })
}

// ---------------------------------------------------------------------------------------
// Stage 4: evaluate.

/// A model judged on one labelled data set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Every metric (confusion matrix, per-class, averages, ROC-AUC, log loss ...).
    pub metrics: Metrics,
    /// The headline metrics by name (`accuracy`, `f1_macro`, `log_loss`, `roc_auc_ovr` ...).
    pub test: BTreeMap<String, f64>,
    /// The classification report.
    pub report: ClassificationReport,
    /// Feature importances in column order (zeros when the model has none).
    pub importances: Vec<f64>,
    /// Feature importances, largest first.
    pub top_features: Vec<(String, f64)>,
}

/// Stage 4: scores `model` on a labelled data set (the test rows, or any new labelled file:
/// `obesity evaluate` calls this too).
///
/// # Errors
/// The model's error on a wrong width, or the eval crate's on an empty set.
pub fn evaluate(model: &dyn Classifier, data: &Dataset) -> Result<Evaluation> {
    let proba = model.predict_proba(data.x.view())?;
    let predicted = model.predict(data.x.view())?;
    let y_true = data.y.to_vec();
    let y_pred = predicted.to_vec();
    let metrics = Metrics::compute(&y_true, &y_pred, Some(proba.view()), data.n_classes())?;
    let report =
        ClassificationReport::new(&y_true, &y_pred, &data.class_names, ZeroDivision::Zero)?;
    let importances = model
        .feature_importances()
        .unwrap_or_else(|| vec![0.0; data.n_features()]);
    let mut top_features: Vec<(String, f64)> = data
        .feature_names
        .iter()
        .cloned()
        .zip(importances.iter().copied())
        .collect();
    top_features.sort_by(|a, b| b.1.total_cmp(&a.1));
    Ok(Evaluation {
        test: test_metric_map(&metrics),
        metrics,
        report,
        importances,
        top_features,
    })
}

/// The files [`write_reports`] writes into its folder, in order.
pub const REPORT_FILES: [&str; 7] = [
    "confusion_matrix.svg",
    "per_class.svg",
    "feature_importance.svg",
    "cv_scores.svg",
    "classification_report.txt",
    "classification_report.json",
    "validation_report.json",
];

/// The grid search's results table (one row per candidate, like scikit-learn's
/// `cv_results_`), written beside the reports when a search ran.
pub const SEARCH_RESULTS_FILE: &str = "search_results.csv";

/// `rank,mean_test_score,std_test_score,mean_fit_time,<param>...`, one row per candidate in
/// candidate order.
fn search_csv(search: &SearchResults) -> String {
    let names: Vec<&String> = search
        .candidates
        .first()
        .map(|c| c.params.0.keys().collect())
        .unwrap_or_default();
    let mut out = String::from("rank,mean_test_score,std_test_score,mean_fit_time");
    for n in &names {
        out.push_str(&format!(",param_{n}"));
    }
    out.push('\n');
    for c in &search.candidates {
        out.push_str(&format!(
            "{},{},{},{}",
            c.rank, c.score.mean, c.score.std, c.mean_fit_time
        ));
        for n in &names {
            out.push(',');
            out.push_str(&c.params.get(n).map(ToString::to_string).unwrap_or_default());
        }
        out.push('\n');
    }
    out
}

/// Charts and reports of one training pass, written to `out_dir` (created if needed) and
/// returned as paths in the order of [`REPORT_FILES`] (then [`SEARCH_RESULTS_FILE`] when a
/// search ran); [`register`] logs them as run artifacts.
///
/// # Errors
/// [`PipelineError::Io`] naming the file that could not be written, or a chart error.
pub fn write_reports(
    out_dir: &Path,
    data: &LoadedData,
    features: &Featurized,
    trained: &Trained,
    evaluation: &Evaluation,
) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(out_dir).map_err(|source| PipelineError::Io {
        path: out_dir.to_owned(),
        source,
    })?;
    let out = |name: &str| out_dir.join(name);
    confusion_matrix_chart(
        out("confusion_matrix.svg"),
        &evaluation.metrics.confusion,
        &features.test.class_names,
    )?;
    per_class_chart(out("per_class.svg"), &evaluation.report)?;
    feature_importance_chart(
        out("feature_importance.svg"),
        &features.train.feature_names,
        &evaluation.importances,
        None,
        15,
        "Feature importance (mean decrease in impurity)",
    )?;
    cv_scores_chart(out("cv_scores.svg"), &trained.cv)?;
    write_file(
        &out("classification_report.txt"),
        evaluation.report.to_text(4).as_bytes(),
    )?;
    write_file(
        &out("classification_report.json"),
        evaluation.report.to_json()?.as_bytes(),
    )?;
    write_file(
        &out("validation_report.json"),
        to_json(&data.validation)?.as_bytes(),
    )?;
    let mut files: Vec<PathBuf> = REPORT_FILES.iter().map(|n| out(n)).collect();
    if let Some(search) = &trained.search {
        write_file(&out(SEARCH_RESULTS_FILE), search_csv(search).as_bytes())?;
        files.push(out(SEARCH_RESULTS_FILE));
    }
    Ok(files)
}

// ---------------------------------------------------------------------------------------
// Stage 5: log the run, register the version, apply the promotion policy.

/// Where and how [`register`] records a trained model.
#[derive(Debug, Clone, PartialEq)]
pub struct RegisterSpec {
    /// A folder (MLflow file-store layout) or an `http(s)://` MLflow tracking server.
    pub tracking_uri: String,
    /// Experiment name.
    pub experiment: String,
    /// Registered model name.
    pub model_name: String,
    /// The run's name. By default (`None`), `<strategy>-<trees>t-<UTC time to the ms>`, e.g.
    /// `random_forest-100t-20261204-230912.345`: distinct and readable in MLflow's run list.
    pub run_name: Option<String>,
    /// The promotion policy applied to the new version.
    pub promotion: PromotionPolicy,
    /// Register as a challenger at most, never as champion (what a retrain does).
    pub challenger_only: bool,
    /// Run parameters beyond the model's own (split, folds, feature encoding ...).
    pub run_params: BTreeMap<String, String>,
    /// Extra tags on the version (e.g. `dvc.lock_md5`, the DVC stage's lock hash).
    pub version_tags: BTreeMap<String, String>,
}

/// The run and the version [`register`] made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Registered {
    /// The tracking run.
    pub run_id: String,
    /// The tracking URI used.
    pub tracking_uri: String,
    /// The version and what the policy made of it.
    pub model: ModelSummary,
}

/// Stage 5: logs a run (params, metrics, the data fingerprint and the report files), then
/// registers a version — the model, its pipeline, signature, input example, lineage, drift
/// reference profile and ONNX form, as an MLflow Model directory — and applies the promotion
/// policy.
///
/// # Errors
/// The registry's error (unreachable server, invalid name ...), the ONNX export's, or
/// [`PipelineError::Io`] for a report file that cannot be read.
pub fn register(
    data: &LoadedData,
    features: &Featurized,
    trained: &Trained,
    evaluation: &Evaluation,
    artifacts: &[PathBuf],
    spec: &RegisterSpec,
) -> Result<Registered> {
    let fingerprint = data.fingerprint();
    let tracker = Tracker::open(&spec.tracking_uri)?;
    let run_name = spec.run_name.clone().unwrap_or_else(|| {
        format!(
            "{}-{}t-{}",
            trained.strategy,
            trained
                .params
                .get("n_estimators")
                .map_or("?", String::as_str),
            chrono::Utc::now().format("%Y%m%d-%H%M%S%.3f")
        )
    });
    let run = tracker.start_run(&spec.experiment, Some(&run_name))?;
    run.log_params(trained.params.iter())?;
    run.log_params(spec.run_params.iter())?;
    run.set_tag("data.fingerprint", &fingerprint)?;
    run.set_tag("data.path", data.path.display())?;
    // MLflow 3's dataset record (the run page's "Datasets"). MLflow keeps at most 36
    // characters of a digest: it gets the fingerprint's first 32 hex digits, the profile and
    // the `data.fingerprint` tag the whole of it.
    let source = std::path::absolute(&data.path).unwrap_or_else(|_| data.path.clone());
    let dataset = DatasetInput::training(
        data.path.file_stem().map_or_else(
            || "training data".to_owned(),
            |s| s.to_string_lossy().into_owned(),
        ),
        fingerprint.get(..32).unwrap_or(&fingerprint),
        &source.display().to_string(),
    )
    .with_schema(&Schema::obesity())
    .with_profile(
        data.loaded.records.len(),
        Schema::obesity().columns.len(),
        &BTreeMap::from([("fingerprint".to_owned(), fingerprint.clone())]),
    );
    match run.log_input(&dataset) {
        Err(e) if !e.is_unsupported() => return Err(e.into()),
        _ => {}
    }
    let mut logged: Vec<(String, f64)> = evaluation
        .test
        .iter()
        .map(|(k, v)| (k.clone(), *v))
        .collect();
    for (scorer, summary) in &trained.cv.scores {
        logged.push((format!("cv_{scorer}_mean"), summary.mean));
        logged.push((format!("cv_{scorer}_std"), summary.std));
        // Per-fold values as the steps of one metric named for what it is (a bare
        // `cv_accuracy` would show the last fold next to `cv_accuracy_mean`).
        for (step, v) in summary.per_fold.iter().enumerate() {
            run.log_metric_at(&format!("cv_{scorer}_fold"), *v, step as i64)?;
        }
    }
    run.log_metrics(logged)?;
    if let Some(search) = &trained.search {
        // As MLflow's autolog does for GridSearchCV: one nested run per candidate, and the
        // best candidate's params (`best_<name>`) and score (`best_cv_score`) on the parent.
        for (i, c) in search.candidates.iter().enumerate() {
            let child = run.start_child(&format!("candidate-{:03}", i + 1))?;
            child.log_params(c.params.0.iter().map(|(k, v)| (k.clone(), v.to_string())))?;
            child.log_metrics([
                ("mean_test_score".to_owned(), c.score.mean),
                ("std_test_score".to_owned(), c.score.std),
                ("rank_test_score".to_owned(), c.rank as f64),
                ("mean_fit_time".to_owned(), c.mean_fit_time),
            ])?;
            child.finish()?;
        }
        if let Some(best) = search.candidates.get(search.best_index) {
            run.log_params(
                best.params
                    .0
                    .iter()
                    .map(|(k, v)| (format!("best_{k}"), v.to_string())),
            )?;
            run.log_metric("best_cv_score", best.score.mean)?;
        }
    }
    for path in artifacts {
        run.log_artifact(path, Some("reports"))?;
    }
    let model_bytes = trained.model.to_bytes()?;
    let profile = ReferenceProfile::from_columns(&feature_columns(&features.train_records))?;
    // The same pipeline + forest as one ONNX model over raw columns (one output column per
    // class, as MLflow's pyfunc needs), so that Python loads, serves and batch-scores the
    // version; a model that is not our forest is registered without it.
    let onnx = match RandomForest::from_bytes(&model_bytes) {
        Ok(forest) => Some(onnx_artifact(&obesity_onnx::export(
            &features.pipeline,
            &forest,
            &ExportOptions::with_outputs(OutputLayout::Columns),
        )?)),
        Err(_) => None,
    };
    let first = &features.train_records[..features.train_records.len().min(5)];
    let example = InputExample::from_columns(&feature_columns(first), 5)?;

    // The model, pipeline, signature, lineage, profile, ONNX model and input example go into
    // the run's `model/` artifact folder (an MLflow Model directory): written once.
    let registry = Registry::new(tracker.store().clone());
    let mut new_version = NewVersion::new(&spec.model_name, run.id(), model_bytes);
    if let Some(onnx) = onnx {
        new_version = new_version.onnx(onnx);
    }
    // The registry tags the version with the hash of every parameter of the run (the
    // model's and the split's, `lineage.params_hash`), so two versions trained alike are
    // recognisable at a glance; the whole lineage is the version's lineage.json.
    for (key, value) in &spec.version_tags {
        new_version = new_version.tag(key, value);
    }
    let version = registry.register(
        new_version
            .pipeline_json(features.pipeline.to_json()?.into_bytes())
            .signature(Signature::from_schema(&Schema::obesity())?)
            .input_example(example)
            .data_fingerprint(&fingerprint)
            .app_version(concat!("obesity-mlops ", env!("CARGO_PKG_VERSION")))
            .extra_artifact(REFERENCE_PROFILE_FILE, profile.to_json()?.into_bytes())
            .description(format!(
                "{} ({} trees), trained on {} rows of {}",
                trained.strategy,
                trained
                    .params
                    .get("n_estimators")
                    .map_or("-", String::as_str),
                features.train.n_samples(),
                data.path.display()
            )),
    )?;
    let mut policy = spec.promotion.clone();
    if spec.challenger_only {
        // A value no metric reaches: the policy can still stage the version and give it the
        // challenger alias, never the champion one.
        policy.production_threshold = if policy.higher_is_better {
            f64::MAX
        } else {
            f64::MIN
        };
    }
    let decision = registry.promote(&spec.model_name, version.version, &policy)?;
    let after = registry.version(&spec.model_name, version.version)?;
    let run_id = run.id().to_owned();
    run.finish()?;
    Ok(Registered {
        run_id,
        tracking_uri: spec.tracking_uri.clone(),
        model: ModelSummary {
            name: spec.model_name.clone(),
            version: after.version,
            stage: after.current_stage.to_string(),
            aliases: after.aliases.clone(),
            promotion: decision,
        },
    })
}

impl TrainOutcome {
    /// The outcome of one pass from what its stages returned.
    pub fn new(
        data: &LoadedData,
        features: &Featurized,
        trained: Trained,
        evaluation: Evaluation,
        registered: Registered,
        artifacts: Vec<PathBuf>,
        timings: BTreeMap<String, f64>,
    ) -> Self {
        TrainOutcome {
            data: DataSummary {
                path: data.path.display().to_string(),
                rows: data.loaded.records.len(),
                fingerprint: data.fingerprint(),
                raw_fingerprint: data.loaded.fingerprint.raw.to_hex(),
                train_rows: features.train.n_samples(),
                test_rows: features.test.n_samples(),
                n_features: features.train.n_features(),
                shape_matches: data.validation.shape_matches(),
                warnings: data
                    .loaded
                    .warnings
                    .iter()
                    .map(ToString::to_string)
                    .collect(),
            },
            test: evaluation.test,
            cv: trained.cv_scores(),
            model: registered.model,
            run_id: registered.run_id,
            tracking_uri: registered.tracking_uri,
            params: trained.params,
            top_features: evaluation.top_features,
            report: evaluation.report,
            artifacts,
            duplicate_rows: data.validation.duplicates.count,
            timings,
            search: trained.search.as_ref().and_then(SearchSummary::of),
        }
    }
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
