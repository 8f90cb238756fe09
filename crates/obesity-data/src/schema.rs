//! The schema of a table as data: for each column its type, unit, valid range, allowed levels
//! (ordered or not) and whether it is the target. [`Schema::obesity`] is the UCI table, the
//! worked example; an app builds its own with the [`ColumnSpec`] constructors and
//! [`Schema::new`], which checks it. Loading, validation, fingerprints, the synthetic
//! generator and model signatures all read it from here, so the rules live in one place.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result, SchemaProblem};
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

/// The schema of a table: its columns in file order, exactly one of them the target.
///
/// [`Schema::obesity`] is the UCI obesity table (16 features and the target); any other
/// table is described the same way and loads, validates, fingerprints and encodes with the
/// same code ([`load_table`](crate::load_table)).
///
/// # Examples
///
/// ```
/// use obesity_data::{ColumnSpec, Schema};
///
/// let schema = Schema::new(vec![
///     ColumnSpec::numeric("length", "cm", 0.0, 50.0),
///     ColumnSpec::binary("coated"),
///     ColumnSpec::categorical("colour", ["red", "green", "blue"]),
///     ColumnSpec::ordinal("size", ["S", "M", "L"]).describe("label size"),
///     ColumnSpec::categorical("species", ["a", "b", "c"]).target(),
/// ])?;
/// assert_eq!(schema.target().map(|c| c.name.as_str()), Some("species"));
/// assert_eq!(schema.features().count(), 4);
///
/// // A schema is checked: here `min > max`.
/// let err = Schema::new(vec![
///     ColumnSpec::numeric("x", "m", 2.0, 1.0),
///     ColumnSpec::binary("y").target(),
/// ]).unwrap_err();
/// assert!(err.to_string().contains("column `x`"));
/// # Ok::<(), obesity_data::DataError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Schema {
    /// Columns in file order (a file may order them differently: they are matched by name).
    pub columns: Vec<ColumnSpec>,
    /// Rows a complete file has, when known (2,111 for the UCI file), for the validation
    /// report's shape check; `None` when any row count is fine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_rows: Option<usize>,
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

/// Most levels a categorical feature may have, and the target (one code is kept for
/// "unlabelled"): codes are `u32`.
const MAX_LEVELS: usize = u32::MAX as usize;

impl ColumnSpec {
    fn new(name: impl Into<String>, kind: ColumnKind) -> Self {
        ColumnSpec {
            name: name.into(),
            kind,
            description: String::new(),
            is_target: false,
        }
    }

    /// A numeric column: a real number in `[min, max]` (inclusive), measured in `unit`.
    pub fn numeric(name: impl Into<String>, unit: impl Into<String>, min: f64, max: f64) -> Self {
        ColumnSpec::new(
            name,
            ColumnKind::Numeric {
                min,
                max,
                unit: unit.into(),
            },
        )
    }

    /// A `yes`/`no` column (codes: `no` = 0, `yes` = 1).
    pub fn binary(name: impl Into<String>) -> Self {
        ColumnSpec::new(name, ColumnKind::Binary)
    }

    /// An unordered categorical column with these levels (spelled exactly as in the file;
    /// codes are positions in this list).
    pub fn categorical<L: Into<String>>(
        name: impl Into<String>,
        levels: impl IntoIterator<Item = L>,
    ) -> Self {
        ColumnSpec::new(
            name,
            ColumnKind::Categorical {
                levels: levels.into_iter().map(Into::into).collect(),
                ordered: false,
            },
        )
    }

    /// An ordered categorical (ordinal) column: `levels` from lowest to highest.
    pub fn ordinal<L: Into<String>>(
        name: impl Into<String>,
        levels: impl IntoIterator<Item = L>,
    ) -> Self {
        ColumnSpec::new(
            name,
            ColumnKind::Categorical {
                levels: levels.into_iter().map(Into::into).collect(),
                ordered: true,
            },
        )
    }

    /// Marks this column as the prediction target (a schema has exactly one).
    pub fn target(mut self) -> Self {
        self.is_target = true;
        self
    }

    /// Sets what the column means, for reports and signatures. By default, this is empty.
    pub fn describe(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// The levels of a categorical or binary column, in code order (`no`, `yes` for binary);
    /// `None` for a numeric column.
    pub fn levels(&self) -> Option<Vec<&str>> {
        match &self.kind {
            ColumnKind::Numeric { .. } => None,
            ColumnKind::Binary => Some(vec!["no", "yes"]),
            ColumnKind::Categorical { levels, .. } => {
                Some(levels.iter().map(String::as_str).collect())
            }
        }
    }

    /// Number of codes of a categorical or binary column (0 for a numeric one).
    pub fn n_levels(&self) -> usize {
        match &self.kind {
            ColumnKind::Numeric { .. } => 0,
            ColumnKind::Binary => 2,
            ColumnKind::Categorical { levels, .. } => levels.len(),
        }
    }

    /// Whether the column is numeric.
    pub fn is_numeric(&self) -> bool {
        matches!(self.kind, ColumnKind::Numeric { .. })
    }
}

impl Schema {
    /// A schema of these columns, checked with [`Schema::validate`]. No expected row count.
    ///
    /// # Errors
    /// [`DataError::InvalidSchema`] naming the first column at fault and the problem.
    pub fn new(columns: Vec<ColumnSpec>) -> Result<Self> {
        let schema = Schema {
            columns,
            expected_rows: None,
        };
        schema.validate()?;
        Ok(schema)
    }

    /// Sets the rows a complete file has, for the report's shape check. By default, this is
    /// `None` (any count).
    pub fn with_expected_rows(mut self, rows: usize) -> Self {
        self.expected_rows = Some(rows);
        self
    }

    /// Checks that the schema can describe a table: at least one feature; names non-empty
    /// and distinct; levels non-empty and distinct; numeric ranges with `min <= max`; exactly
    /// one target, categorical or binary.
    ///
    /// # Errors
    /// [`DataError::InvalidSchema`] naming the first column at fault and the problem.
    pub fn validate(&self) -> Result<()> {
        let fail = |column: Option<&str>, problem| DataError::InvalidSchema {
            column: column.map(str::to_owned),
            problem,
        };
        if self.columns.is_empty() {
            return Err(fail(None, SchemaProblem::NoColumns));
        }
        let mut names = HashSet::new();
        for c in &self.columns {
            let name = Some(c.name.as_str());
            if c.name.trim().is_empty() {
                return Err(fail(name, SchemaProblem::EmptyName));
            }
            if !names.insert(c.name.as_str()) {
                return Err(fail(name, SchemaProblem::DuplicateName));
            }
            match &c.kind {
                ColumnKind::Numeric { min, max, .. } => {
                    if min.is_nan() || max.is_nan() || min > max {
                        return Err(fail(
                            name,
                            SchemaProblem::BadRange {
                                min: *min,
                                max: *max,
                            },
                        ));
                    }
                }
                ColumnKind::Binary => {}
                ColumnKind::Categorical { levels, .. } => {
                    if levels.is_empty() {
                        return Err(fail(name, SchemaProblem::NoLevels));
                    }
                    let max = if c.is_target {
                        MAX_LEVELS - 1
                    } else {
                        MAX_LEVELS
                    };
                    if levels.len() > max {
                        return Err(fail(
                            name,
                            SchemaProblem::TooManyLevels {
                                levels: levels.len(),
                                max,
                            },
                        ));
                    }
                    let mut seen = HashSet::new();
                    if let Some(level) = levels
                        .iter()
                        .find(|l| l.trim().is_empty() || !seen.insert(l.as_str()))
                    {
                        return Err(fail(
                            name,
                            SchemaProblem::BadLevel {
                                level: level.clone(),
                            },
                        ));
                    }
                }
            }
        }
        let targets: Vec<&ColumnSpec> = self.columns.iter().filter(|c| c.is_target).collect();
        match targets.as_slice() {
            [] => Err(fail(None, SchemaProblem::NoTarget)),
            [target] if target.is_numeric() => {
                Err(fail(Some(&target.name), SchemaProblem::NumericTarget))
            }
            [_] if self.features().next().is_none() => Err(fail(None, SchemaProblem::NoFeatures)),
            [_] => Ok(()),
            several => Err(fail(
                None,
                SchemaProblem::SeveralTargets {
                    names: several.iter().map(|c| c.name.clone()).collect(),
                },
            )),
        }
    }

    /// The target column, if one is marked (a validated schema has exactly one).
    pub fn target(&self) -> Option<&ColumnSpec> {
        self.columns.iter().find(|c| c.is_target)
    }

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
            expected_rows: Some(EXPECTED_ROWS),
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
