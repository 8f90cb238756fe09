//! # obesity-registry
#![deny(missing_docs)]
