//! A column-wise view of a table, the generic form that crates above this one (drift
//! detection, signatures) work on without knowing the schema.

use serde::{Deserialize, Serialize};

use crate::record::ObesityRecord;
use crate::table::Table;

/// The values of one column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "values", rename_all = "snake_case")]
pub enum ColumnValues {
    /// Real numbers.
    Numeric(Vec<f64>),
    /// Category spellings (binary columns give `yes`/`no`).
    Categorical(Vec<String>),
}

impl ColumnValues {
    /// Number of values.
    pub fn len(&self) -> usize {
        match self {
            ColumnValues::Numeric(v) => v.len(),
            ColumnValues::Categorical(v) => v.len(),
        }
    }

    /// Whether there are no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A named column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NamedColumn {
    /// Header name, as in the schema.
    pub name: String,
    /// The values, one per record.
    pub values: ColumnValues,
}

/// The 16 feature columns of `records` (not the target), in file order, named as in the
/// schema. Binary columns come out as categorical `yes`/`no`. The same as
/// [`Table::named_columns`] on [`Table::from_records`].
pub fn feature_columns(records: &[ObesityRecord]) -> Vec<NamedColumn> {
    Table::from_records(records).named_columns()
}
