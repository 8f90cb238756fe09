//! # obesity-features
//!
//! Turns obesity records into a numeric [`Dataset`].
#![deny(missing_docs)]

mod dataset;

pub use dataset::Dataset;
