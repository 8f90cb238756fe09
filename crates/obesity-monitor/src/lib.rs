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

pub use abtest::{
    ABTestConfig, AbAnalysis, AbTest, Assignment, FeatureValue, MetricKind, Outcome,
    PrimaryMetric, Recommendation, SegmentRule, TestStatus, Variant, VariantSummary,
    WelchResult,
};
pub use alerts::{
    Alert, AlertHandler, AlertKind, AlertManager, AlertPolicy, AlertPolicyBuilder,
    CollectingAlertHandler, LogAlertHandler, Severity,
};
pub use clock::{Clock, ManualClock, SystemClock};
pub use drift::{
    ColumnSample, DriftDetector, DriftResult, KsMethod, KsResult, SampleValues, StatTest,
    StatTestDetector, ks_2samp,
};
pub use error::{MonitorError, Result};
pub use performance::{
    FailedRequest, LabelReport, PerformanceMonitor, PerformanceSummary, PredictionBatch,
    TornTail,
};
pub use retrain::{
    AuditOutcome, AuditRecord, Decision, HandlerError, MANUAL_ACTOR, Reason, RetrainHandler,
    RetrainRequest, RetrainResult, RetrainTrigger, RetrainingTriggerConfig, RunReport,
    TriggerState, Veto,
};
pub use profile::{
    ColumnProfile, DEFAULT_MAX_SAMPLE, FeatureKind, PROFILE_FORMAT_VERSION, ReferenceProfile,
};
pub use report::{
    CONFIDENCE_COLUMN, ColumnDrift, ColumnDriftOptions, DriftOptions, DriftReport,
    PREDICTION_COLUMN, REPORT_FORMAT_VERSION, max_probability, prediction_columns,
};
