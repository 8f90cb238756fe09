//! Integration tests of obesity-monitor, one module per topic.

mod abtest;
mod alerts;
mod drift;
mod drift_reference;
mod event_log;
mod perf;
mod perf_bounded;
mod perf_runs;
mod retrain;
#[cfg(feature = "webhook")]
mod webhook;
