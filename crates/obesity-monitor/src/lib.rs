//! # obesity-monitor
//!
//! Life after deployment: drift detection against a reference profile, windowed performance
//! monitoring, alerts, retraining triggers and A/B experiments.
#![deny(missing_docs)]

// Drift (one helper): detectors, the reference profile, the report.
mod drift;
mod profile;
mod report;

// Operations (another helper): performance, alerts, retraining, A/B tests, time.
mod abtest;
mod alerts;
mod clock;
mod performance;
mod retrain;

mod error;

pub use error::{MonitorError, Result};
