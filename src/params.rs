//! `params.yaml`: the one configuration file of every `obesity` command, of the DVC stages
//! in `dvc.yaml` and of the main job (DVC's convention: YAML at the repository root).
//!
//! Every section and every key is optional; a missing key takes the default documented in
//! docs/config.md (and on each field below). An unknown key is an error naming the key, the
//! file and the line, so a typo never silently falls back to a default:
//!
//! ```
//! use obesity_mlops::params::Params;
//!
//! let yaml = "forest:\n  n_estimators: 50\ncv:\n  folds: 3\nregistry:\n  tracking_uri: ./mlruns\n";
//! let params = Params::from_yaml_str(yaml, "params.yaml")?;
//! assert_eq!(params.cv.folds, 3);
//! // With `registry.tracking_uri` in the file, no environment variable is consulted.
//! let config = params.train_config();
//! assert_eq!((config.forest.n_estimators(), config.tracking_uri.as_str()), (50, "./mlruns"));
//!
//! let err = Params::from_yaml_str("cv:\n  fold: 3\n", "params.yaml").unwrap_err();
//! assert!(err.to_string().starts_with("params.yaml:2:"), "{err}");
//! assert!(err.to_string().contains("fold"), "{err}");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use obesity_eval::ParamValue;
use obesity_features::{BinaryEncoding, FeatureConfig, FrequencyEncoding, Scaling, UnseenCategory};
use obesity_forest::ForestParams;
use obesity_monitor::{AlertPolicy, DriftOptions, RetrainingTriggerConfig};
use obesity_registry::PromotionPolicy;
use serde::{Deserialize, Serialize};

use crate::error::{PipelineError, Result};
use crate::pipeline::{TrainConfig, default_data_path};

/// The file name the commands look for in the working directory.
pub const PARAMS_FILE: &str = "params.yaml";

/// The whole of `params.yaml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Params {
    /// The training data and its split.
    pub data: DataParams,
    /// The feature encoding.
    pub features: FeatureParams,
    /// Forest hyper-parameters (scikit-learn's names). A key left out of a given `forest`
    /// section takes the forest's own default (seed 0); a missing section gives
    /// scikit-learn's defaults with seed 42.
    pub forest: ForestParams,
    /// The optional grid search.
    pub search: SearchParams,
    /// Cross-validation.
    pub cv: CvParams,
    /// Tracking and the registry.
    pub registry: RegistryParams,
    /// The promotion policy applied to a new version.
    pub promotion: PromotionParams,
    /// Drift detection (`obesity drift`).
    pub monitoring: MonitoringParams,
    /// Alert thresholds.
    pub alerts: AlertParams,
    /// The retraining trigger.
    pub retraining: RetrainingParams,
    /// A/B tests.
    pub ab: AbParams,
    /// The HTTP service.
    pub serving: ServingParams,
    /// Charts and reports of `obesity train`.
    pub reports: ReportParams,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            data: DataParams::default(),
            features: FeatureParams::default(),
            forest: TrainConfig::default().forest,
            search: SearchParams::default(),
            cv: CvParams::default(),
            registry: RegistryParams::default(),
            promotion: PromotionParams::default(),
            monitoring: MonitoringParams::default(),
            alerts: AlertParams::default(),
            retraining: RetrainingParams::default(),
            ab: AbParams::default(),
            serving: ServingParams::default(),
            reports: ReportParams::default(),
        }
    }
}

/// `data:` the training data and its split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataParams {
    /// The labelled CSV to train on. By default, the synthetic fixture.
    pub path: PathBuf,
    /// Share of rows held out for the test set. By default, 0.2.
    pub test_fraction: f64,
    /// Seed of the split and of the cross-validation folds. By default, 42.
    pub seed: u64,
}

impl Default for DataParams {
    fn default() -> Self {
        DataParams {
            path: default_data_path(),
            test_fraction: 0.2,
            seed: 42,
        }
    }
}

/// `features:` the encoding (see `obesity_features::FeatureConfig`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FeatureParams {
    /// Add the derived BMI column. By default, true.
    pub bmi: bool,
    /// `CAEC`/`CALC`: `one_hot` or `ordinal`. By default, `one_hot`.
    pub frequency: FrequencyEncoding,
    /// yes/no columns: `one_hot` (two columns) or `single`. By default, `one_hot`.
    pub binary: BinaryEncoding,
    /// Numeric columns: `none` or `standard`. By default, `none`.
    pub scaling: Scaling,
    /// A level not seen in fit: `schema_levels` or `ignore_unseen`. By default,
    /// `schema_levels`.
    pub unseen: UnseenCategory,
}

impl Default for FeatureParams {
    fn default() -> Self {
        let c = FeatureConfig::standard();
        FeatureParams {
            bmi: c.bmi,
            frequency: c.frequency,
            binary: c.binary,
            scaling: c.scaling,
            unseen: c.unseen,
        }
    }
}

impl From<FeatureParams> for FeatureConfig {
    fn from(p: FeatureParams) -> Self {
        FeatureConfig {
            bmi: p.bmi,
            frequency: p.frequency,
            binary: p.binary,
            scaling: p.scaling,
            unseen: p.unseen,
        }
    }
}

/// `search:` the grid search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SearchParams {
    /// Run a grid search (cv.folds folds) before the fit and train the best candidate; each
    /// candidate is logged as a nested run. By default, false.
    pub grid_search: bool,
    /// The scorer that ranks candidates (scikit-learn's names). By default, `f1_macro`.
    pub scoring: String,
    /// The grid: forest parameter → list of values, e.g. `{n_estimators: [100, 300],
    /// max_depth: [10, null]}`. By default unset: the original Python project's 216-candidate grid.
    pub grid: Option<BTreeMap<String, Vec<ParamValue>>>,
}

impl Default for SearchParams {
    fn default() -> Self {
        SearchParams {
            grid_search: false,
            scoring: "f1_macro".to_owned(),
            grid: None,
        }
    }
}

/// `cv:` cross-validation on the training rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CvParams {
    /// Stratified folds. By default, 5.
    pub folds: usize,
}

impl Default for CvParams {
    fn default() -> Self {
        CvParams { folds: 5 }
    }
}

/// `registry:` where runs and versions go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegistryParams {
    /// A folder or an `http://` MLflow server. By default unset: then
    /// `$OBESITY_TRACKING_URI`, `$MLFLOW_TRACKING_URI`, else `./mlruns` (see
    /// [`Params::tracking_uri`]).
    pub tracking_uri: Option<String>,
    /// Experiment name. By default, `obesity-classification`.
    pub experiment: String,
    /// Registered model name. By default, `obesity-classifier`.
    pub model_name: String,
}

impl Default for RegistryParams {
    fn default() -> Self {
        RegistryParams {
            tracking_uri: None,
            experiment: "obesity-classification".to_owned(),
            model_name: "obesity-classifier".to_owned(),
        }
    }
}

/// `promotion:` the promotion policy (see `obesity_registry::PromotionPolicy`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PromotionParams {
    /// The metric decisions are made on. By default, `accuracy`.
    pub metric: String,
    /// Higher values are better. By default, true.
    pub higher_is_better: bool,
    /// Production and `champion` at or above this (and beating the champion). By default, 0.90.
    pub production_threshold: f64,
    /// Staging and `challenger` at or above this. By default, 0.85.
    pub staging_threshold: f64,
    /// The champion alias. By default, `champion`.
    pub champion_alias: String,
    /// The challenger alias. By default, `challenger`.
    pub challenger_alias: String,
    /// Moving into a stage archives the versions already there. By default, true.
    pub archive_existing_versions: bool,
    /// Never make the new version champion (a retrain's rule). By default, false.
    pub challenger_only: bool,
    /// Compare with a champion evaluated on other data (another data fingerprint). By
    /// default, false: such a champion is not compared with, the new version stays
    /// challenger, and the decision says which data each was evaluated on.
    pub compare_across_data: bool,
}

impl Default for PromotionParams {
    fn default() -> Self {
        let p = PromotionPolicy::default();
        PromotionParams {
            metric: p.metric,
            higher_is_better: p.higher_is_better,
            production_threshold: p.production_threshold,
            staging_threshold: p.staging_threshold,
            champion_alias: p.champion_alias,
            challenger_alias: p.challenger_alias,
            archive_existing_versions: p.archive_existing_versions,
            challenger_only: false,
            compare_across_data: p.compare_across_data,
        }
    }
}

impl PromotionParams {
    /// The registry's policy.
    pub fn policy(&self) -> PromotionPolicy {
        PromotionPolicy {
            metric: self.metric.clone(),
            higher_is_better: self.higher_is_better,
            production_threshold: self.production_threshold,
            staging_threshold: self.staging_threshold,
            champion_alias: self.champion_alias.clone(),
            challenger_alias: self.challenger_alias.clone(),
            archive_existing_versions: self.archive_existing_versions,
            compare_across_data: self.compare_across_data,
        }
    }
}

/// `monitoring:` drift detection, Evidently's `DataDriftPreset` arguments.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MonitoringParams {
    /// Share of drifted columns at which the data set drifts. By default, 0.5.
    pub drift_share: f64,
    /// Per-column test threshold; by default unset (each test's own default: p < 0.05 for
    /// KS and chi-squared, 0.1 for the distances).
    pub stattest_threshold: Option<f64>,
}

impl Default for MonitoringParams {
    fn default() -> Self {
        MonitoringParams {
            drift_share: DriftOptions::default().drift_share,
            stattest_threshold: None,
        }
    }
}

impl MonitoringParams {
    /// The drift options.
    pub fn drift_options(&self) -> DriftOptions {
        DriftOptions {
            drift_share: self.drift_share,
            threshold: self.stattest_threshold,
            ..DriftOptions::default()
        }
    }
}

/// `alerts:` the alert policy (see `obesity_monitor::AlertPolicy`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertParams {
    /// Accuracy drop from the baseline that is CRITICAL. By default, 0.05.
    pub critical_accuracy_drop: f64,
    /// Accuracy drop that is a WARNING. By default, 0.02.
    pub warning_accuracy_drop: f64,
    /// Error rate that is CRITICAL. By default, 0.02.
    pub critical_error_rate: f64,
    /// p95 latency (ms) that is CRITICAL. By default, 500.
    pub critical_latency_p95_ms: f64,
    /// Share of drifted columns that raises a drift alert. By default, 0.1 (stricter than
    /// `monitoring.drift_share`, so an alert can fire while the data set as a whole is not
    /// declared drifted).
    pub drift_threshold: f64,
    /// Minimum share of valid requests. By default, 0.95.
    pub min_data_quality: f64,
    /// Labelled predictions needed before accuracy alerts fire. By default, 30.
    pub min_labelled: usize,
}

impl Default for AlertParams {
    fn default() -> Self {
        AlertParams {
            critical_accuracy_drop: 0.05,
            warning_accuracy_drop: 0.02,
            critical_error_rate: 0.02,
            critical_latency_p95_ms: 500.0,
            drift_threshold: 0.1,
            min_data_quality: 0.95,
            min_labelled: 30,
        }
    }
}

impl AlertParams {
    /// The checked alert policy.
    ///
    /// # Errors
    /// [`PipelineError::Monitor`] naming the value out of range.
    pub fn policy(&self) -> Result<AlertPolicy> {
        Ok(AlertPolicy::builder()
            .critical_accuracy_drop(self.critical_accuracy_drop)
            .warning_accuracy_drop(self.warning_accuracy_drop)
            .critical_error_rate(self.critical_error_rate)
            .critical_latency_p95_ms(self.critical_latency_p95_ms)
            .drift_threshold(self.drift_threshold)
            .min_data_quality(self.min_data_quality)
            .min_labelled(self.min_labelled)
            .build()?)
    }
}

/// `retraining:` the retraining trigger (see `obesity_monitor::RetrainingTriggerConfig`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetrainingParams {
    /// New labelled samples that trigger a retrain. By default, 1000.
    pub min_new_samples: usize,
    /// Days after which a retrain is due anyway. By default, 7.
    pub max_days_without_retraining: u32,
    /// Accuracy drop that triggers a retrain. By default, 0.05.
    pub accuracy_degradation_threshold: f64,
    /// Drift score that triggers a retrain. By default, 0.1.
    pub drift_score_threshold: f64,
    /// Error rate that triggers a retrain. By default, 0.02.
    pub error_rate_threshold: f64,
    /// Cool-down between retrains, hours. By default, 6.
    pub min_hours_between_retrains: u32,
    /// Daily limit. By default, 4.
    pub max_retrains_per_day: u32,
    /// Folders watched for new data. By default, none.
    pub data_directories: Vec<PathBuf>,
    /// File patterns in those folders. By default, `["*.csv"]`.
    pub watch_file_patterns: Vec<String>,
}

impl Default for RetrainingParams {
    fn default() -> Self {
        let c = RetrainingTriggerConfig::default();
        RetrainingParams {
            min_new_samples: c.min_new_samples,
            max_days_without_retraining: c.max_days_without_retraining,
            accuracy_degradation_threshold: c.accuracy_degradation_threshold,
            drift_score_threshold: c.drift_score_threshold,
            error_rate_threshold: c.error_rate_threshold,
            min_hours_between_retrains: c.min_hours_between_retrains,
            max_retrains_per_day: c.max_retrains_per_day,
            data_directories: c.data_directories,
            watch_file_patterns: c.watch_file_patterns,
        }
    }
}

impl RetrainingParams {
    /// The monitor crate's trigger config.
    pub fn trigger_config(&self) -> RetrainingTriggerConfig {
        RetrainingTriggerConfig {
            min_new_samples: self.min_new_samples,
            max_days_without_retraining: self.max_days_without_retraining,
            accuracy_degradation_threshold: self.accuracy_degradation_threshold,
            drift_score_threshold: self.drift_score_threshold,
            error_rate_threshold: self.error_rate_threshold,
            min_hours_between_retrains: self.min_hours_between_retrains,
            max_retrains_per_day: self.max_retrains_per_day,
            data_directories: self.data_directories.clone(),
            watch_file_patterns: self.watch_file_patterns.clone(),
        }
    }
}

/// `ab:` defaults of a new A/B experiment (see `obesity_monitor::AbTestConfig`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AbParams {
    /// Share of traffic to the treatment. By default, 0.5.
    pub traffic_split: f64,
    /// Planned duration, hours. By default, 336 (14 days).
    pub duration_hours: u64,
    /// Samples per variant before the analysis decides. By default, 100.
    pub min_samples_per_variant: usize,
    /// α of the test. By default, 0.05.
    pub significance_level: f64,
    /// `obesity serve` starts an experiment against the champion when a new challenger
    /// appears (obesity-serve's `AbPolicy::auto_start`). By default, off.
    pub auto_start: bool,
    /// `obesity serve` moves `champion` to a decided experiment's winning treatment
    /// (`AbPolicy::auto_promote`). By default, off: promotion is a policy someone turns on.
    pub auto_promote: bool,
}

impl Default for AbParams {
    fn default() -> Self {
        AbParams {
            traffic_split: 0.5,
            duration_hours: 14 * 24,
            min_samples_per_variant: 100,
            significance_level: 0.05,
            auto_start: false,
            auto_promote: false,
        }
    }
}

/// `serving:` the HTTP service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServingParams {
    /// The model URI served. By default, `models:/obesity-classifier@champion`.
    pub model: String,
    /// Address to bind. By default, `127.0.0.1`.
    pub host: String,
    /// Port. By default, 8000.
    pub port: u16,
}

impl Default for ServingParams {
    fn default() -> Self {
        ServingParams {
            model: "models:/obesity-classifier@champion".to_owned(),
            host: "127.0.0.1".to_owned(),
            port: 8000,
        }
    }
}

/// `reports:` where `obesity train` writes charts and reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReportParams {
    /// The folder. By default, `out`.
    pub dir: PathBuf,
}

impl Default for ReportParams {
    fn default() -> Self {
        ReportParams {
            dir: PathBuf::from("out"),
        }
    }
}

impl Params {
    /// Reads `params.yaml` (or any YAML file of this shape).
    ///
    /// # Errors
    /// [`PipelineError::Io`] when it cannot be read; [`PipelineError::Params`] naming the file,
    /// line and key for an unknown key or a bad value.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| PipelineError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::from_yaml_str(&text, path)
    }

    /// Parses YAML text, naming `path` in errors. An empty document is all defaults.
    ///
    /// # Errors
    /// [`PipelineError::Params`] naming the file, line and key.
    pub fn from_yaml_str(text: &str, path: impl AsRef<Path>) -> Result<Self> {
        if text.trim().is_empty() {
            return Ok(Params::default());
        }
        serde_yaml_ng::from_str(text).map_err(|e| {
            let location = e.location();
            PipelineError::Params {
                path: path.as_ref().to_owned(),
                line: location.as_ref().map(|l| l.line()),
                column: location.as_ref().map(|l| l.column()),
                message: strip_location(&e.to_string()),
            }
        })
    }

    /// Reads `file` if given, else `./params.yaml` if it exists, else the defaults.
    ///
    /// # Errors
    /// As [`Params::from_file`].
    pub fn load(file: Option<&Path>) -> Result<Self> {
        match file {
            Some(path) => Self::from_file(path),
            None if Path::new(PARAMS_FILE).is_file() => Self::from_file(Path::new(PARAMS_FILE)),
            None => Ok(Params::default()),
        }
    }

    /// `self` with one value replaced, as the command line's `--set section.key=VALUE` does
    /// (`VALUE` is read as YAML: `300`, `null`, `true`, `one_hot`). The result is checked like
    /// the file: an unknown key or a bad value is an error naming the assignment.
    ///
    /// # Errors
    /// [`PipelineError::Params`] naming `--set KEY=VALUE` and the key.
    pub fn set(&self, assignment: &str) -> Result<Self> {
        let origin = PathBuf::from(format!("--set {assignment}"));
        let bad = |message: String| PipelineError::Params {
            path: origin.clone(),
            line: None,
            column: None,
            message,
        };
        let (key, text) = assignment
            .split_once('=')
            .ok_or_else(|| bad("expected KEY=VALUE, e.g. forest.n_estimators=300".to_owned()))?;
        let value: serde_yaml_ng::Value = serde_yaml_ng::from_str(text)
            .unwrap_or_else(|_| serde_yaml_ng::Value::String(text.to_owned()));
        let mut doc = serde_yaml_ng::to_value(self).map_err(|e| bad(e.to_string()))?;
        let parts: Vec<&str> = key.trim().split('.').collect();
        let mut node = &mut doc;
        for (i, part) in parts.iter().enumerate() {
            let map = node
                .as_mapping_mut()
                .ok_or_else(|| bad(format!("`{}` is not a section", parts[..i].join("."))))?;
            let slot = map.get_mut(*part).ok_or_else(|| {
                bad(format!(
                    "unknown key `{}` (see docs/config.md)",
                    parts[..=i].join(".")
                ))
            })?;
            if i + 1 == parts.len() {
                *slot = value.clone();
            }
            node = slot;
        }
        serde_yaml_ng::from_value(doc).map_err(|e| bad(strip_location(&e.to_string())))
    }

    /// The tracking URI every command uses: `flag` (`--tracking-uri`), else
    /// `registry.tracking_uri`, else `$OBESITY_TRACKING_URI`, else `$MLFLOW_TRACKING_URI`,
    /// else `./mlruns`.
    pub fn tracking_uri(&self, flag: Option<&str>) -> String {
        flag.map(str::to_owned)
            .or_else(|| self.registry.tracking_uri.clone())
            .unwrap_or_else(obesity_registry::tracking_uri_from_env)
    }

    /// The main job's configuration (tracking URI by [`Params::tracking_uri`] without a flag).
    pub fn train_config(&self) -> TrainConfig {
        TrainConfig {
            data: self.data.path.clone(),
            tracking_uri: self.tracking_uri(None),
            experiment: self.registry.experiment.clone(),
            model_name: self.registry.model_name.clone(),
            out_dir: self.reports.dir.clone(),
            test_fraction: self.data.test_fraction,
            seed: self.data.seed,
            cv_folds: self.cv.folds,
            features: self.features.into(),
            forest: self.forest.clone(),
            grid_search: self.search.grid_search,
            search_grid: self.search.grid.clone(),
            search_scoring: self.search.scoring.clone(),
            promotion: self.promotion.policy(),
            challenger_only: self.promotion.challenger_only,
        }
    }
}

/// serde_yaml_ng appends " at line L column C" to its messages; the location is printed
/// once, as `file:line:column:`.
fn strip_location(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}
