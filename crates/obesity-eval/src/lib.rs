//! # obesity-eval
#![deny(missing_docs)]
