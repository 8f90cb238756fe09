//! The experiment's settings ([`AbTestConfig`], the original Python project's `ABTestConfig`),
//! its metric and segment rules.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::error::{MonitorError, Result};
use crate::performance::validate_name;

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

    pub(crate) fn matches(&self, features: &BTreeMap<String, FeatureValue>) -> bool {
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

/// An A/B experiment's settings, with the field names of the original Python project's
/// `ABTestConfig` (so its JSON reads as-is).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AbTestConfig {
    /// The experiment's name: part of the assignment hash and of the state file name.
    pub name: String,
    /// The registered model both versions belong to, when the experiment was created
    /// against a registry (`obesity ab create`): the variants are then `NAME@VERSION`.
    /// `None` for an experiment of the service's own model (older state files too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
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

impl AbTestConfig {
    /// A config with the original Python project's defaults: a 50/50 split, 14 days, 100 samples per variant,
    /// α = 0.05, accuracy as the metric, no segment.
    pub fn new(
        name: impl Into<String>,
        control_version: impl Into<String>,
        treatment_version: impl Into<String>,
    ) -> Self {
        Self {
            name: name.into(),
            model: None,
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
        if self.model.as_deref().is_some_and(|m| m.trim().is_empty()) {
            return Err(bad("model", "\"\"".into(), "a registered model name"));
        }
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

    /// `field: existing X, asked Y` for each setting in which `asked` differs from this
    /// (the saved) config; empty when they are the same experiment.
    pub fn differences(&self, asked: &AbTestConfig) -> Vec<String> {
        let existing = self;
        let mut out = Vec::new();
        let mut diff = |field: &str, a: String, b: String| {
            if a != b {
                out.push(format!("{field}: existing {a}, asked {b}"));
            }
        };
        diff(
            "model",
            existing.model.clone().unwrap_or_else(|| "(none)".into()),
            asked.model.clone().unwrap_or_else(|| "(none)".into()),
        );
        diff(
            "control version",
            existing.control_version.clone(),
            asked.control_version.clone(),
        );
        diff(
            "treatment version",
            existing.treatment_version.clone(),
            asked.treatment_version.clone(),
        );
        diff(
            "traffic_split",
            existing.traffic_split.to_string(),
            asked.traffic_split.to_string(),
        );
        diff(
            "duration_hours",
            existing.duration_hours.to_string(),
            asked.duration_hours.to_string(),
        );
        diff(
            "min_samples_per_variant",
            existing.min_samples_per_variant.to_string(),
            asked.min_samples_per_variant.to_string(),
        );
        diff(
            "significance_level",
            existing.significance_level.to_string(),
            asked.significance_level.to_string(),
        );
        diff(
            "primary_metric",
            format!("{:?}", existing.primary_metric.name),
            format!("{:?}", asked.primary_metric.name),
        );
        if existing.segment != asked.segment {
            out.push("segment: the existing experiment has a segment".into());
        }
        out
    }
}
