//! # obesity-forest
//!
//! The model layer: the [`ModelStrategy`] / [`Classifier`] traits and the flattened random
//! forest.
#![deny(missing_docs)]

mod error;
mod model;

pub use error::{ModelError, Result};
pub use model::{Classifier, ModelStrategy};
