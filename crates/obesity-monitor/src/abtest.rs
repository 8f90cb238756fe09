//! A/B experiments between two model versions: deterministic assignment by hashing, outcome
//! recording, and the statistical analysis that says whether the challenger is really
//! better.
//!
//! The statistics (two-proportion z-test, 2×2 chi-square) come from `obesity-eval`; only
//! Welch's t-test for numeric metrics lives here, because the eval crate has no
//! independent-samples t-test yet.

mod stats;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use obesity_eval::{ChiSquareResult, TwoProportionResult};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::clock::Clock;
use crate::error::{MonitorError, Result};
use crate::performance::validate_name;

pub use stats::WelchResult;

/// Version of the experiment state-file format.
const STATE_FORMAT_VERSION: u32 = 1;

/// How the primary metric is measured per user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricKind {
    /// A success/failure per user (a correct prediction, a conversion): compared with the
    /// two-proportion z-test and the 2×2 chi-square test.
    Proportion,
    /// A number per user (a score, a latency): compared with Welch's t-test.
    Mean,
}

/// The metric an experiment is decided on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrimaryMetric {
    /// Its name, for reports (`"accuracy"`).
    pub name: String,
    /// How it is measured.
    pub kind: MetricKind,
    /// Whether a larger value is better (accuracy) or worse (latency).
    pub higher_is_better: bool,
}

impl Default for PrimaryMetric {
    /// Accuracy: a proportion, higher is better.
    fn default() -> Self {
        Self {
            name: "accuracy".into(),
            kind: MetricKind::Proportion,
            higher_is_better: true,
        }
    }
}

/// One condition a user must meet to enter the experiment, over a named request feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum SegmentRule {
    /// A numeric feature within `[min, max]` (either end open when `None`).
    Range {
        /// Feature name.
        feature: String,
        /// Inclusive lower bound.
        min: Option<f64>,
        /// Inclusive upper bound.
        max: Option<f64>,
    },
    /// A categorical feature with one of the listed values.
    OneOf {
        /// Feature name.
        feature: String,
        /// Accepted values.
        values: BTreeSet<String>,
    },
}

impl SegmentRule {
    fn feature(&self) -> &str {
        match self {
            Self::Range { feature, .. } | Self::OneOf { feature, .. } => feature,
        }
    }

    fn matches(&self, features: &BTreeMap<String, FeatureValue>) -> bool {
        match (self, features.get(self.feature())) {
            (Self::Range { min, max, .. }, Some(FeatureValue::Number(v))) => {
                v.is_finite() && min.is_none_or(|m| *v >= m) && max.is_none_or(|m| *v <= m)
            }
            (Self::OneOf { values, .. }, Some(FeatureValue::Category(c))) => values.contains(c),
            _ => false,
        }
    }
}

/// A request feature as segment rules see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FeatureValue {
    /// A number (age, weight).
    Number(f64),
    /// A category (gender, transport).
    Category(String),
}

impl From<f64> for FeatureValue {
    fn from(v: f64) -> Self {
        Self::Number(v)
    }
}

impl From<&str> for FeatureValue {
    fn from(v: &str) -> Self {
        Self::Category(v.to_string())
    }
}

/// An A/B experiment's settings, with the seeds' names (`ABTestConfig`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ABTestConfig {
    /// The experiment's name: part of the assignment hash and of the state file name.
    pub name: String,
    /// The current (champion) model version: variant A.
    pub control_version: String,
    /// The challenger model version: variant B.
    pub treatment_version: String,
    /// Share of (segment) traffic sent to the treatment, strictly between 0 and 1.
    pub traffic_split: f64,
    /// How long the experiment enrols users after it starts, in hours.
    pub duration_hours: u64,
    /// Outcomes needed in **each** variant before the result may be acted on.
    pub min_samples_per_variant: usize,
    /// Significance level α of the tests, strictly between 0 and 1; the confidence interval
    /// has level `1 − α`.
    pub significance_level: f64,
    /// The metric decided on.
    pub primary_metric: PrimaryMetric,
    /// Conditions (all must hold) for a user to enter; users outside get the control
    /// version and are not counted. Empty: everyone enters.
    pub segment: Vec<SegmentRule>,
}

impl ABTestConfig {
    /// A config with the seeds' defaults: a 50/50 split, 14 days, 100 samples per variant,
    /// α = 0.05, accuracy as the metric, no segment.
    pub fn new(
        name: impl Into<String>,
        control_version: impl Into<String>,
        treatment_version: impl Into<String>,
    ) -> Self {
        Self {
            name: name.into(),
            control_version: control_version.into(),
            treatment_version: treatment_version.into(),
            traffic_split: 0.5,
            duration_hours: 14 * 24,
            min_samples_per_variant: 100,
            significance_level: 0.05,
            primary_metric: PrimaryMetric::default(),
            segment: Vec::new(),
        }
    }

    /// Checks every value.
    ///
    /// # Errors
    /// [`MonitorError::InvalidConfig`] naming the field: an empty or path-unsafe name, an
    /// empty version or two equal versions, a split or significance level outside (0, 1), a
    /// zero duration or sample minimum, a segment rule with no feature, an empty or inverted
    /// range, or an empty value set.
    pub fn validate(&self) -> Result<()> {
        let bad = |field, value: String, expected: &str| MonitorError::InvalidConfig {
            field,
            value,
            expected: expected.into(),
        };
        validate_name("name", &self.name)?;
        if self.control_version.trim().is_empty() {
            return Err(bad("control_version", "\"\"".into(), "a model version"));
        }
        if self.treatment_version.trim().is_empty() {
            return Err(bad("treatment_version", "\"\"".into(), "a model version"));
        }
        if self.control_version == self.treatment_version {
            return Err(bad(
                "treatment_version",
                format!("{:?}", self.treatment_version),
                "a version different from control_version",
            ));
        }
        if !(self.traffic_split > 0.0 && self.traffic_split < 1.0) {
            return Err(bad(
                "traffic_split",
                self.traffic_split.to_string(),
                "a share strictly between 0 and 1",
            ));
        }
        if !(self.significance_level > 0.0 && self.significance_level < 1.0) {
            return Err(bad(
                "significance_level",
                self.significance_level.to_string(),
                "a level strictly between 0 and 1 (0.05 is usual)",
            ));
        }
        if self.duration_hours == 0 {
            return Err(bad("duration_hours", "0".into(), "at least 1 hour"));
        }
        if self.min_samples_per_variant == 0 {
            return Err(bad("min_samples_per_variant", "0".into(), "at least 1"));
        }
        if self.primary_metric.name.trim().is_empty() {
            return Err(bad("primary_metric.name", "\"\"".into(), "a metric name"));
        }
        for rule in &self.segment {
            if rule.feature().trim().is_empty() {
                return Err(bad("segment.feature", "\"\"".into(), "a feature name"));
            }
            match rule {
                SegmentRule::Range { min, max, .. } => {
                    let finite = min.is_none_or(f64::is_finite) && max.is_none_or(f64::is_finite);
                    let ordered = match (min, max) {
                        (Some(a), Some(b)) => a <= b,
                        _ => true,
                    };
                    if !finite || !ordered || (min.is_none() && max.is_none()) {
                        return Err(bad(
                            "segment.range",
                            format!("{}: [{min:?}, {max:?}]", rule.feature()),
                            "finite bounds, at least one given, min <= max",
                        ));
                    }
                }
                SegmentRule::OneOf { values, .. } => {
                    if values.is_empty() {
                        return Err(bad(
                            "segment.values",
                            format!("{}: []", rule.feature()),
                            "at least one accepted value",
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

/// The two arms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Variant {
    /// The current model (A).
    Control,
    /// The challenger (B).
    Treatment,
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Control => "control",
            Self::Treatment => "treatment",
        })
    }
}

/// Where an experiment is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TestStatus {
    /// Created, not started: everyone gets control, nobody is enrolled.
    Draft,
    /// Enrolling users.
    Running,
    /// Not enrolling (everyone new gets control); outcomes of enrolled users still count.
    Paused,
    /// Finished for good; outcomes may still arrive, no one is enrolled.
    Stopped,
}

impl fmt::Display for TestStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Draft => "draft",
            Self::Running => "running",
            Self::Paused => "paused",
            Self::Stopped => "stopped",
        })
    }
}

/// Which model a user's request goes to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    /// The arm.
    pub variant: Variant,
    /// The model version to serve.
    pub model_version: String,
    /// Whether the user counts in the experiment (running, in segment, not expired).
    pub enrolled: bool,
    /// Whether the user met the segment criteria.
    pub in_segment: bool,
}

/// The observed result for one user.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Success or failure (for a proportion metric).
    Success(bool),
    /// A number (for a mean metric).
    Value(f64),
}

impl Outcome {
    fn kind_name(self) -> &'static str {
        match self {
            Self::Success(_) => "a success/failure",
            Self::Value(_) => "a numeric value",
        }
    }
}

/// What to do with the experiment now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Recommendation {
    /// Not enough evidence yet and time is left: keep collecting.
    KeepRunning,
    /// The treatment is significantly better with enough samples: promote it.
    PromoteTreatment,
    /// The control is significantly better, or the experiment ended without a significant
    /// difference: keep the current model.
    KeepControl,
}

/// The statistical test an analysis used, chosen by the metric's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AbTestMethod {
    /// Pooled two-proportion z-test (statsmodels' `proportions_ztest`), with the 2×2
    /// chi-square alongside.
    TwoProportionZTest,
    /// Welch's unequal-variances t-test (scipy's `ttest_ind(equal_var=False)`).
    WelchTTest,
}

/// One arm's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariantSummary {
    /// The arm.
    pub variant: Variant,
    /// Its model version.
    pub model_version: String,
    /// Users enrolled in it.
    pub users: usize,
    /// Users with an outcome.
    pub samples: usize,
    /// Successes (proportion metrics).
    pub successes: Option<u64>,
    /// The metric: success rate or mean value (`None` without samples).
    pub metric: Option<f64>,
    /// Sample standard deviation (mean metrics, at least two samples).
    pub std_dev: Option<f64>,
}

/// The result of [`AbTest::analyze`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AbAnalysis {
    /// Experiment name.
    pub experiment: String,
    /// Status when analysed.
    pub status: TestStatus,
    /// The metric decided on.
    pub metric: PrimaryMetric,
    /// The control arm.
    pub control: VariantSummary,
    /// The treatment arm.
    pub treatment: VariantSummary,
    /// `treatment − control` on the metric.
    pub difference: Option<f64>,
    /// The test used.
    pub test: AbTestMethod,
    /// Its statistic (z or t).
    pub statistic: Option<f64>,
    /// Two-sided p-value.
    pub p_value: Option<f64>,
    /// Level of the interval, `1 − α`.
    pub confidence_level: f64,
    /// Lower end of the confidence interval of the difference.
    pub ci_low: Option<f64>,
    /// Upper end of the confidence interval of the difference.
    pub ci_high: Option<f64>,
    /// Effect size: Cohen's h (proportions) or Cohen's d (means), treatment vs control.
    pub effect_size: Option<f64>,
    /// The full z-test (proportion metrics).
    pub z_test: Option<TwoProportionResult>,
    /// Pearson's chi-square on the 2×2 success/failure table, Yates-corrected (proportion
    /// metrics; `None` when a column is empty, e.g. no failures at all).
    pub chi_square: Option<ChiSquareResult>,
    /// Welch's t-test (mean metrics).
    pub welch: Option<WelchResult>,
    /// `p_value < α`.
    pub significant: bool,
    /// Both arms have at least `min_samples_per_variant` outcomes.
    pub min_samples_reached: bool,
    /// The enrolment period is over.
    pub expired: bool,
    /// The significantly better arm, only once the minimum samples are reached.
    pub winner: Option<Variant>,
    /// What to do.
    pub recommendation: Recommendation,
    /// Why, in a sentence.
    pub explanation: String,
}

/// One enrolled user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Enrolment {
    variant: Variant,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    outcome: Option<Outcome>,
}

/// The persisted state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct State {
    format_version: u32,
    config: ABTestConfig,
    status: TestStatus,
    created_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    stopped_at: Option<DateTime<Utc>>,
    users: BTreeMap<String, Enrolment>,
}

/// An A/B experiment between two model versions.
///
/// Assignment is deterministic: SHA-256 of `(experiment name, user id)` maps each user to a
/// point in [0, 1) and the user gets the treatment when that point is below the traffic
/// split. So the same user always gets the same variant, in every replica and after every
/// restart, with no shared state; and different experiments split users independently.
/// (std's `DefaultHasher` is not used: it may change between Rust releases.)
///
/// Users are the unit of analysis: one outcome per user, a later outcome replacing an
/// earlier one.
///
/// State (config, status, enrolments, outcomes) is a JSON file, `<dir>/<name>.json`, written
/// atomically (temp file, fsync, rename). Lifecycle changes save it; call
/// [`AbTest::save`] after recording assignments and outcomes, as often as losing them
/// would hurt.
///
/// Looking at the analysis repeatedly and stopping at the first significant result inflates
/// the false-positive rate; the recommendation only acts once both arms have the minimum
/// samples, so set `min_samples_per_variant` from a power calculation.
#[derive(Debug)]
pub struct AbTest {
    state: State,
    path: Option<PathBuf>,
    clock: Arc<dyn Clock>,
}

impl AbTest {
    /// The state file of experiment `name` in `dir`.
    pub fn state_path(dir: &Path, name: &str) -> PathBuf {
        dir.join(format!("{name}.json"))
    }

    /// A new experiment (status draft), not persisted.
    ///
    /// # Errors
    /// As [`ABTestConfig::validate`].
    pub fn in_memory(config: ABTestConfig, clock: Arc<dyn Clock>) -> Result<Self> {
        config.validate()?;
        let created_at = clock.now();
        Ok(Self {
            state: State {
                format_version: STATE_FORMAT_VERSION,
                config,
                status: TestStatus::Draft,
                created_at,
                started_at: None,
                stopped_at: None,
                users: BTreeMap::new(),
            },
            path: None,
            clock,
        })
    }

    /// A new experiment (status draft) saved in `dir`.
    ///
    /// # Errors
    /// As [`ABTestConfig::validate`]; [`MonitorError::ExperimentExists`] when `dir` already
    /// holds an experiment of that name; I/O errors.
    pub fn create(dir: &Path, config: ABTestConfig, clock: Arc<dyn Clock>) -> Result<Self> {
        let mut test = Self::in_memory(config, clock)?;
        let path = Self::state_path(dir, &test.state.config.name);
        if path.exists() {
            return Err(MonitorError::ExperimentExists {
                name: test.state.config.name.clone(),
                path,
            });
        }
        fs::create_dir_all(dir).map_err(|source| MonitorError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        test.path = Some(path);
        test.save()?;
        Ok(test)
    }

    /// Opens experiment `name` saved in `dir`.
    ///
    /// # Errors
    /// An invalid name, I/O errors, [`MonitorError::Json`] for a file that does not parse,
    /// or a config in it that no longer validates.
    pub fn open(dir: &Path, name: &str, clock: Arc<dyn Clock>) -> Result<Self> {
        validate_name("name", name)?;
        let path = Self::state_path(dir, name);
        let bytes = fs::read(&path).map_err(|source| MonitorError::Io {
            path: path.clone(),
            source,
        })?;
        let state: State = serde_json::from_slice(&bytes).map_err(|source| MonitorError::Json {
            path: path.clone(),
            source,
        })?;
        state.config.validate()?;
        Ok(Self {
            state,
            path: Some(path),
            clock,
        })
    }

    /// Writes the state file atomically (a no-op for an in-memory experiment).
    ///
    /// # Errors
    /// I/O errors.
    pub fn save(&self) -> Result<()> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let io = |source| MonitorError::Io {
            path: path.clone(),
            source,
        };
        let json = serde_json::to_vec_pretty(&self.state).map_err(|source| MonitorError::Json {
            path: path.clone(),
            source,
        })?;
        let tmp = path.with_extension(format!("json.tmp-{}", std::process::id()));
        let mut f = File::create(&tmp).map_err(io)?;
        f.write_all(&json).map_err(io)?;
        f.sync_all().map_err(io)?;
        drop(f);
        fs::rename(&tmp, path).map_err(io)?;
        if let Some(dir) = path.parent()
            && let Ok(d) = File::open(dir)
        {
            // Persist the rename itself; not all platforms can fsync a directory.
            let _ = d.sync_all();
        }
        Ok(())
    }

    /// The configuration.
    pub fn config(&self) -> &ABTestConfig {
        &self.state.config
    }

    /// The current status.
    pub fn status(&self) -> TestStatus {
        self.state.status
    }

    /// When the experiment was first started.
    pub fn started_at(&self) -> Option<DateTime<Utc>> {
        self.state.started_at
    }

    /// End of the enrolment period (start + duration), once started.
    pub fn ends_at(&self) -> Option<DateTime<Utc>> {
        let hours = i64::try_from(self.state.config.duration_hours).ok()?;
        self.state
            .started_at?
            .checked_add_signed(Duration::try_hours(hours)?)
    }

    /// Whether the enrolment period is over.
    pub fn is_expired(&self) -> bool {
        self.ends_at().is_some_and(|end| self.clock.now() >= end)
    }

    fn transition(
        &mut self,
        action: &'static str,
        allowed: &[TestStatus],
        to: TestStatus,
    ) -> Result<()> {
        if !allowed.contains(&self.state.status) {
            return Err(MonitorError::InvalidTransition {
                experiment: self.state.config.name.clone(),
                action,
                status: self.state.status.to_string(),
            });
        }
        self.state.status = to;
        self.save()
    }

    /// Starts (from draft) or resumes (from paused) enrolment. The duration counts from the
    /// first start; pauses do not extend it.
    ///
    /// # Errors
    /// [`MonitorError::InvalidTransition`] when running or stopped; I/O errors.
    pub fn start(&mut self) -> Result<()> {
        if self.state.started_at.is_none() && self.state.status == TestStatus::Draft {
            self.state.started_at = Some(self.clock.now());
        }
        self.transition(
            "start",
            &[TestStatus::Draft, TestStatus::Paused],
            TestStatus::Running,
        )
    }

    /// Pauses enrolment: new users get control and are not counted.
    ///
    /// # Errors
    /// [`MonitorError::InvalidTransition`] unless running; I/O errors.
    pub fn pause(&mut self) -> Result<()> {
        self.transition("pause", &[TestStatus::Running], TestStatus::Paused)
    }

    /// Stops the experiment for good. Outcomes of enrolled users may still be recorded.
    ///
    /// # Errors
    /// [`MonitorError::InvalidTransition`] when already stopped; I/O errors.
    pub fn stop(&mut self) -> Result<()> {
        if self.state.status != TestStatus::Stopped {
            self.state.stopped_at = Some(self.clock.now());
        }
        self.transition(
            "stop",
            &[TestStatus::Draft, TestStatus::Running, TestStatus::Paused],
            TestStatus::Stopped,
        )
    }

    /// The user's point in [0, 1): the first 53 bits of SHA-256(name, 0x00, user id).
    pub fn bucket(&self, user_id: &str) -> f64 {
        let mut h = Sha256::new();
        h.update(self.state.config.name.as_bytes());
        h.update([0u8]);
        h.update(user_id.as_bytes());
        let digest = h.finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        (u64::from_be_bytes(first) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// The arm the hash gives this user, ignoring segment and status.
    pub fn variant_for(&self, user_id: &str) -> Variant {
        if self.bucket(user_id) < self.state.config.traffic_split {
            Variant::Treatment
        } else {
            Variant::Control
        }
    }

    /// Whether these request features meet every segment rule (a missing feature or a
    /// feature of the wrong type fails its rule).
    pub fn in_segment(&self, features: &BTreeMap<String, FeatureValue>) -> bool {
        self.state
            .config
            .segment
            .iter()
            .all(|r| r.matches(features))
    }

    fn version(&self, v: Variant) -> &str {
        match v {
            Variant::Control => &self.state.config.control_version,
            Variant::Treatment => &self.state.config.treatment_version,
        }
    }

    /// Routes a request. An already enrolled user keeps their variant; a new user is
    /// enrolled with the hashed variant when the experiment is running, not expired, and the
    /// features meet the segment; everyone else gets the control version and is not
    /// counted.
    pub fn assign(
        &mut self,
        user_id: &str,
        features: &BTreeMap<String, FeatureValue>,
    ) -> Assignment {
        let in_segment = self.in_segment(features);
        if let Some(e) = self.state.users.get(user_id) {
            let variant = e.variant;
            return Assignment {
                variant,
                model_version: self.version(variant).to_string(),
                enrolled: true,
                in_segment,
            };
        }
        let enrol = self.state.status == TestStatus::Running
            && !self.is_expired()
            && in_segment
            && !user_id.is_empty();
        let variant = if enrol {
            let v = self.variant_for(user_id);
            self.state.users.insert(
                user_id.to_string(),
                Enrolment {
                    variant: v,
                    outcome: None,
                },
            );
            v
        } else {
            Variant::Control
        };
        Assignment {
            variant,
            model_version: self.version(variant).to_string(),
            enrolled: enrol,
            in_segment,
        }
    }

    /// Records a user's outcome (it replaces an earlier one).
    ///
    /// # Errors
    /// [`MonitorError::UnknownUser`] for a user never enrolled;
    /// [`MonitorError::OutcomeKindMismatch`] for a number given to a proportion metric or
    /// the reverse; [`MonitorError::InvalidInput`] for a non-finite value.
    pub fn record_outcome(&mut self, user_id: &str, outcome: Outcome) -> Result<()> {
        let expected = match self.state.config.primary_metric.kind {
            MetricKind::Proportion => Outcome::Success(false),
            MetricKind::Mean => Outcome::Value(0.0),
        };
        if std::mem::discriminant(&expected) != std::mem::discriminant(&outcome) {
            return Err(MonitorError::OutcomeKindMismatch {
                experiment: self.state.config.name.clone(),
                user_id: user_id.to_string(),
                expected: expected.kind_name(),
                got: outcome.kind_name(),
            });
        }
        if let Outcome::Value(v) = outcome
            && !v.is_finite()
        {
            return Err(MonitorError::InvalidInput {
                what: "outcome",
                value: v.to_string(),
                expected: "a finite number".into(),
            });
        }
        let name = &self.state.config.name;
        let e = self
            .state
            .users
            .get_mut(user_id)
            .ok_or_else(|| MonitorError::UnknownUser {
                experiment: name.clone(),
                user_id: user_id.to_string(),
            })?;
        e.outcome = Some(outcome);
        Ok(())
    }

    fn summarise(&self, variant: Variant) -> (VariantSummary, Vec<f64>) {
        let mut users = 0;
        let mut values = Vec::new();
        let mut successes = 0u64;
        for e in self.state.users.values().filter(|e| e.variant == variant) {
            users += 1;
            match e.outcome {
                Some(Outcome::Success(s)) => {
                    successes += u64::from(s);
                    values.push(if s { 1.0 } else { 0.0 });
                }
                Some(Outcome::Value(v)) => values.push(v),
                None => {}
            }
        }
        let n = values.len();
        let mean = (n > 0).then(|| values.iter().sum::<f64>() / n as f64);
        let proportion = self.state.config.primary_metric.kind == MetricKind::Proportion;
        let std_dev = if proportion {
            None
        } else {
            stats::sample_std(&values)
        };
        (
            VariantSummary {
                variant,
                model_version: self.version(variant).to_string(),
                users,
                samples: n,
                successes: proportion.then_some(successes),
                metric: mean,
                std_dev,
            },
            values,
        )
    }

    /// Analyses the outcomes so far: per-arm figures, the test (two-proportion z-test and
    /// chi-square for proportions, Welch's t-test for means), p-value, confidence interval
    /// of `treatment − control` at level `1 − α`, effect size, and a recommendation.
    ///
    /// With fewer than two outcomes in an arm there is nothing to test: the statistics are
    /// `None` and the recommendation is to keep running (or, once the experiment is over,
    /// to keep the control).
    ///
    /// # Errors
    /// [`MonitorError::Eval`] if the statistics reject their input (not expected: counts are
    /// checked first).
    pub fn analyze(&self) -> Result<AbAnalysis> {
        let cfg = &self.state.config;
        let alpha = cfg.significance_level;
        let level = 1.0 - alpha;
        let (control, c_vals) = self.summarise(Variant::Control);
        let (treatment, t_vals) = self.summarise(Variant::Treatment);
        let testable = control.samples >= 2 && treatment.samples >= 2;
        let mut a = AbAnalysis {
            experiment: cfg.name.clone(),
            status: self.state.status,
            metric: cfg.primary_metric.clone(),
            difference: match (treatment.metric, control.metric) {
                (Some(t), Some(c)) => Some(t - c),
                _ => None,
            },
            control,
            treatment,
            test: match cfg.primary_metric.kind {
                MetricKind::Proportion => AbTestMethod::TwoProportionZTest,
                MetricKind::Mean => AbTestMethod::WelchTTest,
            },
            statistic: None,
            p_value: None,
            confidence_level: level,
            ci_low: None,
            ci_high: None,
            effect_size: None,
            z_test: None,
            chi_square: None,
            welch: None,
            significant: false,
            min_samples_reached: false,
            expired: self.is_expired(),
            winner: None,
            recommendation: Recommendation::KeepRunning,
            explanation: String::new(),
        };
        if testable {
            match cfg.primary_metric.kind {
                MetricKind::Proportion => {
                    let (st, nt) = (
                        a.treatment.successes.unwrap_or(0),
                        a.treatment.samples as u64,
                    );
                    let (sc, nc) = (a.control.successes.unwrap_or(0), a.control.samples as u64);
                    let z = obesity_eval::two_proportion_z_test_with_level(st, nt, sc, nc, level)?;
                    a.statistic = Some(z.statistic);
                    a.p_value = Some(z.p_value);
                    a.ci_low = Some(z.ci_low);
                    a.ci_high = Some(z.ci_high);
                    a.effect_size = Some(z.cohens_h);
                    a.z_test = Some(z);
                    // A column of zeros (no failures, or no successes, anywhere) has no
                    // chi-square test; the z-test above still stands.
                    a.chi_square =
                        obesity_eval::chi_square_2x2([[st, nt - st], [sc, nc - sc]]).ok();
                }
                MetricKind::Mean => {
                    let w = stats::welch_t_test(&t_vals, &c_vals, level);
                    a.statistic = Some(w.statistic);
                    a.p_value = Some(w.p_value);
                    a.ci_low = Some(w.ci_low);
                    a.ci_high = Some(w.ci_high);
                    a.effect_size = w.cohens_d;
                    a.welch = Some(w);
                }
            }
        }
        a.significant = a.p_value.is_some_and(|p| p < alpha);
        a.min_samples_reached = a.control.samples >= cfg.min_samples_per_variant
            && a.treatment.samples >= cfg.min_samples_per_variant;
        let over = a.expired || self.state.status == TestStatus::Stopped;
        let treatment_better = a
            .difference
            .is_some_and(|d| (d > 0.0) == cfg.primary_metric.higher_is_better && d != 0.0);
        (a.winner, a.recommendation, a.explanation) = if !a.min_samples_reached {
            let need = format!(
                "{} control and {} treatment outcomes of the {} needed per variant",
                a.control.samples, a.treatment.samples, cfg.min_samples_per_variant
            );
            if over {
                (
                    None,
                    Recommendation::KeepControl,
                    format!("ended with only {need}: inconclusive, keep the control"),
                )
            } else {
                (
                    None,
                    Recommendation::KeepRunning,
                    format!("{need}: keep running"),
                )
            }
        } else if a.significant && treatment_better {
            (
                Some(Variant::Treatment),
                Recommendation::PromoteTreatment,
                format!(
                    "treatment is better on {} (p = {} < {alpha}): promote {}",
                    cfg.primary_metric.name,
                    fmt_p(a.p_value),
                    cfg.treatment_version
                ),
            )
        } else if a.significant {
            (
                Some(Variant::Control),
                Recommendation::KeepControl,
                format!(
                    "control is better on {} (p = {} < {alpha}): keep {}",
                    cfg.primary_metric.name,
                    fmt_p(a.p_value),
                    cfg.control_version
                ),
            )
        } else if over {
            (
                None,
                Recommendation::KeepControl,
                format!(
                    "no significant difference (p = {}) and the experiment is over: keep the control",
                    fmt_p(a.p_value)
                ),
            )
        } else {
            (
                None,
                Recommendation::KeepRunning,
                format!(
                    "no significant difference yet (p = {}): keep running",
                    fmt_p(a.p_value)
                ),
            )
        };
        Ok(a)
    }
}

/// A p-value for a sentence: four decimals, or scientific notation when that would print 0.
fn fmt_p(p: Option<f64>) -> String {
    match p {
        Some(p) if p < 1e-4 => format!("{p:.1e}"),
        Some(p) => format!("{p:.4}"),
        None => "n/a".into(),
    }
}
