//! The input columns a feature is computed from, and how to read them from a typed record.
//!
//! This is the one place that knows the record's fields; the rest of the crate works with
//! these two small enums. Level spellings come from the record enums (`Gender::ALL` ...),
//! which are also what `Schema::obesity()` is built from; a test checks they agree.

use obesity_data::{Frequency, Gender, ObesityRecord, Transport};
use serde::{Deserialize, Serialize};

/// A numeric input column, or the derived BMI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum NumericSource {
    #[serde(rename = "Age")]
    Age,
    #[serde(rename = "Height")]
    Height,
    #[serde(rename = "Weight")]
    Weight,
    #[serde(rename = "FCVC")]
    Fcvc,
    #[serde(rename = "NCP")]
    Ncp,
    #[serde(rename = "CH2O")]
    Ch2o,
    #[serde(rename = "FAF")]
    Faf,
    #[serde(rename = "TUE")]
    Tue,
    #[serde(rename = "BMI")]
    Bmi,
}

impl NumericSource {
    /// The measured numeric columns, in file order (BMI is not one of them).
    pub(crate) const MEASURED: [NumericSource; 8] = [
        NumericSource::Age,
        NumericSource::Height,
        NumericSource::Weight,
        NumericSource::Fcvc,
        NumericSource::Ncp,
        NumericSource::Ch2o,
        NumericSource::Faf,
        NumericSource::Tue,
    ];

    /// The column's name: the schema's header, or `BMI`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            NumericSource::Age => "Age",
            NumericSource::Height => "Height",
            NumericSource::Weight => "Weight",
            NumericSource::Fcvc => "FCVC",
            NumericSource::Ncp => "NCP",
            NumericSource::Ch2o => "CH2O",
            NumericSource::Faf => "FAF",
            NumericSource::Tue => "TUE",
            NumericSource::Bmi => "BMI",
        }
    }

    /// The raw value of this column for `record`.
    pub(crate) fn value(self, record: &ObesityRecord) -> f64 {
        match self {
            NumericSource::Age => record.age,
            NumericSource::Height => record.height,
            NumericSource::Weight => record.weight,
            NumericSource::Fcvc => record.fcvc,
            NumericSource::Ncp => record.ncp,
            NumericSource::Ch2o => record.ch2o,
            NumericSource::Faf => record.faf,
            NumericSource::Tue => record.tue,
            NumericSource::Bmi => record.bmi(),
        }
    }
}

/// A categorical input column (yes/no columns included, with levels `no`, `yes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum CategoricalSource {
    #[serde(rename = "Gender")]
    Gender,
    #[serde(rename = "family_history_with_overweight")]
    FamilyHistory,
    #[serde(rename = "FAVC")]
    Favc,
    #[serde(rename = "CAEC")]
    Caec,
    #[serde(rename = "SMOKE")]
    Smoke,
    #[serde(rename = "SCC")]
    Scc,
    #[serde(rename = "CALC")]
    Calc,
    #[serde(rename = "MTRANS")]
    Mtrans,
}

/// Spellings of a yes/no column's levels, `false` first so the index is `bool as usize`.
const YES_NO: [&str; 2] = ["no", "yes"];

impl CategoricalSource {
    /// Every categorical column, in file order.
    pub(crate) const ALL: [CategoricalSource; 8] = [
        CategoricalSource::Gender,
        CategoricalSource::FamilyHistory,
        CategoricalSource::Favc,
        CategoricalSource::Caec,
        CategoricalSource::Smoke,
        CategoricalSource::Scc,
        CategoricalSource::Calc,
        CategoricalSource::Mtrans,
    ];

    /// Position in [`Self::ALL`].
    pub(crate) fn position(self) -> usize {
        self as usize
    }

    /// The schema's header name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            CategoricalSource::Gender => "Gender",
            CategoricalSource::FamilyHistory => "family_history_with_overweight",
            CategoricalSource::Favc => "FAVC",
            CategoricalSource::Caec => "CAEC",
            CategoricalSource::Smoke => "SMOKE",
            CategoricalSource::Scc => "SCC",
            CategoricalSource::Calc => "CALC",
            CategoricalSource::Mtrans => "MTRANS",
        }
    }

    /// Whether this is a yes/no column.
    pub(crate) fn is_binary(self) -> bool {
        matches!(
            self,
            CategoricalSource::FamilyHistory
                | CategoricalSource::Favc
                | CategoricalSource::Smoke
                | CategoricalSource::Scc
        )
    }

    /// Whether this is an ordered frequency column (`CAEC`, `CALC`).
    pub(crate) fn is_frequency(self) -> bool {
        matches!(self, CategoricalSource::Caec | CategoricalSource::Calc)
    }

    /// Number of levels in the schema.
    pub(crate) fn n_levels(self) -> usize {
        match self {
            CategoricalSource::Gender => Gender::ALL.len(),
            CategoricalSource::Caec | CategoricalSource::Calc => Frequency::ALL.len(),
            CategoricalSource::Mtrans => Transport::ALL.len(),
            _ => YES_NO.len(),
        }
    }

    /// Spelling of the level at `index` (schema order), if there is one.
    pub(crate) fn level_name(self, index: usize) -> Option<&'static str> {
        match self {
            CategoricalSource::Gender => Gender::from_index(index).map(Gender::as_str),
            CategoricalSource::Caec | CategoricalSource::Calc => {
                Frequency::from_index(index).map(Frequency::as_str)
            }
            CategoricalSource::Mtrans => Transport::from_index(index).map(Transport::as_str),
            _ => YES_NO.get(index).copied(),
        }
    }

    /// Index (schema order) of the level spelled `name`, if there is one.
    pub(crate) fn level_index(self, name: &str) -> Option<usize> {
        (0..self.n_levels()).find(|&i| self.level_name(i) == Some(name))
    }

    /// The level index (schema order, which is also the ordinal code) of `record`'s value.
    pub(crate) fn level(self, record: &ObesityRecord) -> usize {
        match self {
            CategoricalSource::Gender => record.gender.index(),
            CategoricalSource::FamilyHistory => usize::from(record.family_history_with_overweight),
            CategoricalSource::Favc => usize::from(record.favc),
            CategoricalSource::Caec => record.caec.index(),
            CategoricalSource::Smoke => usize::from(record.smoke),
            CategoricalSource::Scc => usize::from(record.scc),
            CategoricalSource::Calc => record.calc.index(),
            CategoricalSource::Mtrans => record.mtrans.index(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use obesity_data::{ColumnKind, Schema};

    /// The level spellings used for one-hot names must be exactly the schema's, in its order,
    /// and the column names must be the schema's headers, in file order.
    #[test]
    fn sources_agree_with_the_schema() {
        let schema = Schema::obesity();
        let mut categorical = Vec::new();
        let mut numeric = Vec::new();
        for spec in schema.features() {
            match &spec.kind {
                ColumnKind::Numeric { .. } => numeric.push(spec.name.clone()),
                ColumnKind::Binary => categorical.push((spec.name.clone(), vec!["no", "yes"])),
                ColumnKind::Categorical { levels, .. } => categorical.push((
                    spec.name.clone(),
                    levels.iter().map(String::as_str).collect(),
                )),
            }
        }
        let ours: Vec<&str> = NumericSource::MEASURED.iter().map(|s| s.name()).collect();
        assert_eq!(ours, numeric);
        assert_eq!(categorical.len(), CategoricalSource::ALL.len());
        for (source, (name, levels)) in CategoricalSource::ALL.iter().zip(&categorical) {
            assert_eq!(source.name(), name);
            let ours: Vec<&str> = (0..source.n_levels())
                .filter_map(|i| source.level_name(i))
                .collect();
            assert_eq!(&ours, levels, "levels of {name}");
            assert_eq!(
                source.is_binary(),
                matches!(
                    schema.column(name).map(|c| &c.kind),
                    Some(ColumnKind::Binary)
                )
            );
        }
    }
}
