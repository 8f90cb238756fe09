//! A column-wise view of records, the generic form that crates below this one (drift
//! detection, signatures) work on without knowing the obesity schema.

use serde::{Deserialize, Serialize};

use crate::record::ObesityRecord;

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

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_owned()
}

/// The 16 feature columns of `records` (not the target), in file order, named as in the
/// schema. Binary columns come out as categorical `yes`/`no`.
pub fn feature_columns(records: &[ObesityRecord]) -> Vec<NamedColumn> {
    let num = |name: &str, f: fn(&ObesityRecord) -> f64| NamedColumn {
        name: name.to_owned(),
        values: ColumnValues::Numeric(records.iter().map(f).collect()),
    };
    let cat = |name: &str, f: fn(&ObesityRecord) -> String| NamedColumn {
        name: name.to_owned(),
        values: ColumnValues::Categorical(records.iter().map(f).collect()),
    };
    vec![
        cat("Gender", |r| r.gender.as_str().to_owned()),
        num("Age", |r| r.age),
        num("Height", |r| r.height),
        num("Weight", |r| r.weight),
        cat("family_history_with_overweight", |r| {
            yes_no(r.family_history_with_overweight)
        }),
        cat("FAVC", |r| yes_no(r.favc)),
        num("FCVC", |r| r.fcvc),
        num("NCP", |r| r.ncp),
        cat("CAEC", |r| r.caec.as_str().to_owned()),
        cat("SMOKE", |r| yes_no(r.smoke)),
        num("CH2O", |r| r.ch2o),
        cat("SCC", |r| yes_no(r.scc)),
        num("FAF", |r| r.faf),
        num("TUE", |r| r.tue),
        cat("CALC", |r| r.calc.as_str().to_owned()),
        cat("MTRANS", |r| r.mtrans.as_str().to_owned()),
    ]
}
