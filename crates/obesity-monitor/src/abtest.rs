//! A/B experiments between two model versions: deterministic assignment by hashing, outcome
//! recording, and the statistical analysis that says whether the challenger is really
//! better.
//!
//! The statistics (two-proportion z-test, 2×2 chi-square) come from `obesity-eval`; only
//! Welch's t-test for numeric metrics lives here, because the eval crate has no
//! independent-samples t-test yet.

mod analysis;
mod config;
mod stats;

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::clock::Clock;
use crate::error::{MonitorError, Result};
use crate::performance::validate_name;

pub use analysis::{
    AbAnalysis, AbTestMethod, FISHER_BELOW_EXPECTED, Recommendation, VariantSummary,
};
pub use config::{AbTestConfig, FeatureValue, MetricKind, PrimaryMetric, SegmentRule};
pub use obesity_eval::WelchResult;

/// Version of the experiment state-file format.
const STATE_FORMAT_VERSION: u32 = 1;

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
    config: AbTestConfig,
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
    /// As [`AbTestConfig::validate`].
    pub fn in_memory(config: AbTestConfig, clock: Arc<dyn Clock>) -> Result<Self> {
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
    /// As [`AbTestConfig::validate`]; [`MonitorError::ExperimentExists`] when `dir` already
    /// holds an experiment of that name; I/O errors.
    pub fn create(dir: &Path, config: AbTestConfig, clock: Arc<dyn Clock>) -> Result<Self> {
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

    /// Opens experiment `config.name` in `dir` when it was saved with this same config, so
    /// a program that runs again continues its experiment (assignments and outcomes kept);
    /// creates it when there is none.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use obesity_monitor::{AbTest, AbTestConfig, SystemClock};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let config = AbTestConfig::new("v2-vs-v1", "models:/m/1", "models:/m/2");
    /// let mut first = AbTest::open_or_create(dir.path(), config.clone(), Arc::new(SystemClock))?;
    /// first.start()?;
    /// let again = AbTest::open_or_create(dir.path(), config.clone(), Arc::new(SystemClock))?;
    /// assert_eq!(again.status(), first.status());
    /// let other = AbTestConfig { traffic_split: 0.2, ..config };
    /// assert!(AbTest::open_or_create(dir.path(), other, Arc::new(SystemClock)).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`MonitorError::ExperimentChanged`] when the saved experiment has another config
    /// (a changed split or metric would mix two experiments in one analysis); those of
    /// [`AbTest::open`] and [`AbTest::create`].
    pub fn open_or_create(dir: &Path, config: AbTestConfig, clock: Arc<dyn Clock>) -> Result<Self> {
        validate_name("name", &config.name)?;
        let path = Self::state_path(dir, &config.name);
        if !path.exists() {
            return Self::create(dir, config, clock);
        }
        let test = Self::open(dir, &config.name, clock)?;
        let mut differences = test.state.config.differences(&config);
        if differences.is_empty() && test.state.config != config {
            differences.push("the primary metric's settings".into());
        }
        if !differences.is_empty() {
            return Err(MonitorError::ExperimentChanged {
                name: config.name,
                path,
                differences,
            });
        }
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
        obesity_data::write_atomic(path, &json).map_err(io)
    }

    /// The configuration.
    pub fn config(&self) -> &AbTestConfig {
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
}
