//! Integration tests of obesity-monitor, one module per topic.

mod drift;
mod drift_reference;
mod abtest;
mod alerts;
mod perf;
mod retrain;
