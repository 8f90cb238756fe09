//! The original Python project's `RetrainingTriggerConfig`: thresholds, guards and watched files.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{MonitorError, Result};

/// When to retrain, with the original Python project's names and defaults (`RetrainingTriggerConfig`).
///
/// Plain data (serde, every field defaulted), checked by [`RetrainingTriggerConfig::validate`]
/// when a [`RetrainTrigger`](crate::RetrainTrigger) is opened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RetrainingTriggerConfig {
    /// New samples (new labelled predictions plus data rows in new files) that justify a
    /// retrain. By default, 1000.
    pub min_new_samples: usize,
    /// Retrain when the model is this many days old. By default, 7.
    pub max_days_without_retraining: u32,
    /// Retrain when accuracy falls more than this below the baseline. By default, 0.05.
    pub accuracy_degradation_threshold: f64,
    /// Retrain when the drift score is above this. By default, 0.1.
    pub drift_score_threshold: f64,
    /// Retrain when the error rate is above this. By default, 0.02.
    pub error_rate_threshold: f64,
    /// Guard: no automatic retrain sooner than this after the previous one. By default, 6.
    pub min_hours_between_retrains: u32,
    /// Guard: at most this many automatic retrains in any 24 hours. By default, 4.
    pub max_retrains_per_day: u32,
    /// Directories watched for new data files. By default, none.
    pub data_directories: Vec<PathBuf>,
    /// Glob patterns, relative to each watched directory (`*.csv`, `**/*.csv`). A file is
    /// new when it was modified after the last retrain. By default, `["*.csv"]`.
    pub watch_file_patterns: Vec<String>,
}

impl Default for RetrainingTriggerConfig {
    fn default() -> Self {
        Self {
            min_new_samples: 1000,
            max_days_without_retraining: 7,
            accuracy_degradation_threshold: 0.05,
            drift_score_threshold: 0.1,
            error_rate_threshold: 0.02,
            min_hours_between_retrains: 6,
            max_retrains_per_day: 4,
            data_directories: Vec::new(),
            watch_file_patterns: vec!["*.csv".into()],
        }
    }
}

impl RetrainingTriggerConfig {
    /// Checks every value.
    ///
    /// # Errors
    /// [`MonitorError::InvalidConfig`] naming the field: a zero sample count, day count or
    /// daily limit, a rate threshold outside [0, 1], a negative or non-finite drift
    /// threshold, or a file pattern that is not a valid glob, is absolute or climbs out of
    /// its directory with `..`.
    pub fn validate(&self) -> Result<()> {
        let bad = |field, value: String, expected: &str| MonitorError::InvalidConfig {
            field,
            value,
            expected: expected.into(),
        };
        if self.min_new_samples == 0 {
            return Err(bad("min_new_samples", "0".into(), "at least 1"));
        }
        if self.max_days_without_retraining == 0 {
            return Err(bad("max_days_without_retraining", "0".into(), "at least 1"));
        }
        if self.max_retrains_per_day == 0 {
            return Err(bad("max_retrains_per_day", "0".into(), "at least 1"));
        }
        for (field, v) in [
            (
                "accuracy_degradation_threshold",
                self.accuracy_degradation_threshold,
            ),
            ("error_rate_threshold", self.error_rate_threshold),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(bad(field, v.to_string(), "a value in [0, 1]"));
            }
        }
        if !(self.drift_score_threshold.is_finite() && self.drift_score_threshold >= 0.0) {
            return Err(bad(
                "drift_score_threshold",
                self.drift_score_threshold.to_string(),
                "a finite score >= 0",
            ));
        }
        for p in &self.watch_file_patterns {
            let climbs = Path::new(p)
                .components()
                .any(|c| matches!(c, std::path::Component::ParentDir));
            if p.is_empty() || Path::new(p).is_absolute() || climbs {
                return Err(bad(
                    "watch_file_patterns",
                    format!("{p:?}"),
                    "a non-empty relative glob that stays inside the watched directory",
                ));
            }
            if let Err(e) = glob::Pattern::new(p) {
                return Err(bad(
                    "watch_file_patterns",
                    format!("{p:?}"),
                    &format!("a valid glob pattern ({e})"),
                ));
            }
        }
        Ok(())
    }
}
