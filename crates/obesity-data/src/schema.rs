//! The schema of the raw table: for each of the 17 columns its type, unit, valid range and
//! allowed levels. Loading, validation, the synthetic generator and model signatures all read
//! it from here, so the rules live in one place.

use serde::{Deserialize, Serialize};

use crate::record::{Frequency, Gender, ObesityLevel, Transport};

/// What kind of values a column holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ColumnKind {
    /// A real number within `[min, max]` (inclusive), in `unit`.
    Numeric {
        /// Smallest valid value.
        min: f64,
        /// Largest valid value.
        max: f64,
        /// Unit of measurement, for reports ("years", "m", "kg", "score").
        unit: String,
    },
    /// `yes` or `no`.
    Binary,
    /// One of a fixed set of levels; `ordered` when the levels have a natural order.
    Categorical {
        /// Allowed spellings, in code order.
        levels: Vec<String>,
        /// Whether the order of `levels` is meaningful (CAEC, CALC, the target).
        ordered: bool,
    },
}

/// One column of the schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnSpec {
    /// Header name, exactly as in the UCI file.
    pub name: String,
    /// Type, range and levels.
    pub kind: ColumnKind,
    /// What the column means, in a few words.
    pub description: String,
    /// Whether the column is the prediction target (`NObeyesdad`).
    pub is_target: bool,
}

/// The schema of the UCI obesity table: 16 features and the target, in file order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Schema {
    /// Columns in the order of the UCI file.
    pub columns: Vec<ColumnSpec>,
}

/// The name of the target column.
pub const TARGET_COLUMN: &str = "NObeyesdad";

/// Rows in the UCI file, for the validation report's shape check.
pub const EXPECTED_ROWS: usize = 2_111;

fn numeric(name: &str, min: f64, max: f64, unit: &str, description: &str) -> ColumnSpec {
    ColumnSpec {
        name: name.to_owned(),
        kind: ColumnKind::Numeric {
            min,
            max,
            unit: unit.to_owned(),
        },
        description: description.to_owned(),
        is_target: false,
    }
}

fn binary(name: &str, description: &str) -> ColumnSpec {
    ColumnSpec {
        name: name.to_owned(),
        kind: ColumnKind::Binary,
        description: description.to_owned(),
        is_target: false,
    }
}

fn categorical(name: &str, levels: &[&str], ordered: bool, description: &str) -> ColumnSpec {
    ColumnSpec {
        name: name.to_owned(),
        kind: ColumnKind::Categorical {
            levels: levels.iter().map(|l| (*l).to_owned()).collect(),
            ordered,
        },
        description: description.to_owned(),
        is_target: false,
    }
}

impl Schema {
    /// The UCI obesity schema. Ranges are the plausible physical or questionnaire ranges,
    /// slightly wider than what the UCI file contains, so real data passes and typos fail.
    pub fn obesity() -> Self {
        let freq: Vec<&str> = Frequency::ALL.iter().map(|f| f.as_str()).collect();
        let gender: Vec<&str> = Gender::ALL.iter().map(|g| g.as_str()).collect();
        let transport: Vec<&str> = Transport::ALL.iter().map(|t| t.as_str()).collect();
        let target: Vec<&str> = ObesityLevel::ALL.iter().map(|t| t.as_str()).collect();
        let mut target_spec =
            categorical(TARGET_COLUMN, &target, true, "obesity level (the label)");
        target_spec.is_target = true;
        Schema {
            columns: vec![
                categorical("Gender", &gender, false, "gender"),
                numeric("Age", 10.0, 100.0, "years", "age"),
                numeric("Height", 1.0, 2.5, "m", "height"),
                numeric("Weight", 20.0, 300.0, "kg", "weight"),
                binary(
                    "family_history_with_overweight",
                    "a family member is or was overweight",
                ),
                binary("FAVC", "eats high-calorie food frequently"),
                numeric(
                    "FCVC",
                    1.0,
                    3.0,
                    "score",
                    "vegetables in meals (1 never .. 3 always)",
                ),
                numeric("NCP", 1.0, 4.0, "meals", "main meals per day"),
                categorical("CAEC", &freq, true, "eats between meals"),
                binary("SMOKE", "smokes"),
                numeric(
                    "CH2O",
                    1.0,
                    3.0,
                    "score",
                    "water per day (1 < 1 l .. 3 > 2 l)",
                ),
                binary("SCC", "monitors calories"),
                numeric(
                    "FAF",
                    0.0,
                    3.0,
                    "score",
                    "physical activity (0 none .. 3 4-5 days a week)",
                ),
                numeric(
                    "TUE",
                    0.0,
                    2.0,
                    "score",
                    "time on devices (0 0-2 h .. 2 > 5 h)",
                ),
                categorical("CALC", &freq, true, "drinks alcohol"),
                categorical("MTRANS", &transport, false, "transportation used most"),
                target_spec,
            ],
        }
    }

    /// The column called `name`, if the schema has one.
    pub fn column(&self, name: &str) -> Option<&ColumnSpec> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The feature columns (every column but the target), in file order.
    pub fn features(&self) -> impl Iterator<Item = &ColumnSpec> {
        self.columns.iter().filter(|c| !c.is_target)
    }
}
