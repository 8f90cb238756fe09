//! # obesity-mlops
//!
//! The facade over a workspace of layered crates that carries a tabular classifier through
//! its whole life: load and validate data ([`data`]), engineer features ([`features`]),
//! train the flattened random forest ([`forest`]), evaluate and tune it ([`eval`]), track
//! experiments and register model versions ([`registry`]), and watch it after it ships
//! ([`monitor`]).
//!
//! Each module is a re-export of one crate, so a user can depend on this package alone or on
//! the individual crates. [`pipeline`] composes them into the train-and-register chain that
//! `cargo run --release --example train_and_register` runs and that a
//! [`RetrainTrigger`](monitor::RetrainTrigger) calls to retrain.
#![deny(missing_docs)]

mod error;
pub mod pipeline;

pub use error::{PipelineError, Result};

pub use obesity_data as data;
pub use obesity_eval as eval;
pub use obesity_features as features;
pub use obesity_forest as forest;
pub use obesity_monitor as monitor;
pub use obesity_registry as registry;
