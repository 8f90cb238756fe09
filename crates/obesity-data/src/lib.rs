//! # obesity-data
//!
//! The schema of the UCI obesity table, typed records, and (to come in this crate) CSV
//! loading, validation, fingerprints, the synthetic generator and splits.
#![deny(missing_docs)]

mod columns;
mod record;
mod schema;

pub use columns::{ColumnValues, NamedColumn, feature_columns};
pub use record::{Frequency, Gender, ObesityLevel, ObesityRecord, Transport};
pub use schema::{ColumnKind, ColumnSpec, EXPECTED_ROWS, Schema, TARGET_COLUMN};
