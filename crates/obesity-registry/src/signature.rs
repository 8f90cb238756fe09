//! [`Signature`]: what a model takes and returns, checked against a request before prediction
//! (MLflow's model signature, with ranges and categories added).

use std::collections::BTreeSet;

use obesity_data::{ColumnKind, Schema};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Current signature format version, stored in the JSON.
pub const SIGNATURE_FORMAT_VERSION: u32 = 1;

/// The type and domain of one input field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FieldType {
    /// A finite number, optionally within `[min, max]`.
    Numeric {
        /// Smallest accepted value, if bounded.
        min: Option<f64>,
        /// Largest accepted value, if bounded.
        max: Option<f64>,
    },
    /// One of a fixed set of strings.
    Categorical {
        /// The accepted values.
        levels: Vec<String>,
    },
}

/// One input field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputField {
    /// Column name, as the request must spell it.
    pub name: String,
    /// Type and domain.
    #[serde(flatten)]
    pub field_type: FieldType,
}

/// A model's input schema (fields in model order) and output schema (class names in class
/// index order).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signature {
    /// Format version of this document.
    pub format_version: u32,
    /// Input fields, in the order the feature pipeline reads them.
    pub inputs: Vec<InputField>,
    /// Class names; `predict` returns indices into this list.
    pub classes: Vec<String>,
}

impl Signature {
    /// A signature from explicit inputs and classes. Errors on duplicate input names, an empty
    /// class list, an empty level list or `min > max`.
    pub fn new(inputs: Vec<InputField>, classes: Vec<String>) -> Result<Self> {
        let sig = Signature {
            format_version: SIGNATURE_FORMAT_VERSION,
            inputs,
            classes,
        };
        sig.validate()?;
        Ok(sig)
    }

    fn validate(&self) -> Result<()> {
        let mut seen = BTreeSet::new();
        for f in &self.inputs {
            if !seen.insert(f.name.as_str()) {
                return Err(Error::Signature {
                    field: f.name.clone(),
                    reason: "duplicate input name".into(),
                });
            }
            match &f.field_type {
                FieldType::Numeric {
                    min: Some(lo),
                    max: Some(hi),
                } if lo > hi => {
                    return Err(Error::Signature {
                        field: f.name.clone(),
                        reason: format!("min {lo} is greater than max {hi}"),
                    });
                }
                FieldType::Categorical { levels } if levels.is_empty() => {
                    return Err(Error::Signature {
                        field: f.name.clone(),
                        reason: "categorical field without levels".into(),
                    });
                }
                _ => {}
            }
        }
        if self.classes.is_empty() {
            return Err(Error::Signature {
                field: "classes".into(),
                reason: "the output schema has no classes".into(),
            });
        }
        Ok(())
    }

    /// The signature of a model trained on a table with `schema`: every non-target column is
    /// an input (numeric with its range, binary as `yes`/`no`, categorical with its levels);
    /// the target's levels are the classes.
    pub fn from_schema(schema: &Schema) -> Result<Self> {
        let mut inputs = Vec::new();
        let mut classes = Vec::new();
        for c in &schema.columns {
            let field_type = match &c.kind {
                ColumnKind::Numeric { min, max, .. } => FieldType::Numeric {
                    min: Some(*min),
                    max: Some(*max),
                },
                ColumnKind::Binary => FieldType::Categorical {
                    levels: vec!["yes".into(), "no".into()],
                },
                ColumnKind::Categorical { levels, .. } => FieldType::Categorical {
                    levels: levels.clone(),
                },
            };
            if c.is_target {
                if let FieldType::Categorical { levels } = field_type {
                    classes = levels;
                }
            } else {
                inputs.push(InputField {
                    name: c.name.clone(),
                    field_type,
                });
            }
        }
        Signature::new(inputs, classes)
    }

    /// Input names, in order.
    pub fn input_names(&self) -> Vec<&str> {
        self.inputs.iter().map(|f| f.name.as_str()).collect()
    }

    /// Checks that a request's column names are exactly the inputs (any order): names the
    /// first missing column, else the first unknown one.
    pub fn check_columns<S: AsRef<str>>(&self, columns: &[S]) -> Result<()> {
        let given: BTreeSet<&str> = columns.iter().map(AsRef::as_ref).collect();
        if given.len() != columns.len() {
            let mut seen = BTreeSet::new();
            for c in columns {
                if !seen.insert(c.as_ref()) {
                    return Err(Error::Signature {
                        field: c.as_ref().to_string(),
                        reason: "column given twice".into(),
                    });
                }
            }
        }
        for f in &self.inputs {
            if !given.contains(f.name.as_str()) {
                return Err(Error::Signature {
                    field: f.name.clone(),
                    reason: "required input column is missing".into(),
                });
            }
        }
        let known: BTreeSet<&str> = self.inputs.iter().map(|f| f.name.as_str()).collect();
        for c in columns {
            if !known.contains(c.as_ref()) {
                return Err(Error::Signature {
                    field: c.as_ref().to_string(),
                    reason: format!(
                        "unknown column; the model takes {}",
                        self.input_names().join(", ")
                    ),
                });
            }
        }
        Ok(())
    }

    /// Checks one request row given as a JSON object: every input present, with the right
    /// type and inside its domain, and no unknown field. The error names the field.
    pub fn check_row(&self, row: &serde_json::Map<String, serde_json::Value>) -> Result<()> {
        let names: Vec<&str> = row.keys().map(String::as_str).collect();
        self.check_columns(&names)?;
        for f in &self.inputs {
            let Some(v) = row.get(&f.name) else {
                continue;
            };
            check_value(f, v)?;
        }
        Ok(())
    }

    /// Serialises to pretty JSON (the `signature.json` artifact).
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string_pretty(self).map_err(|e| Error::Json {
            what: "signature".into(),
            source: e,
        })
    }

    /// Reads a signature back from JSON, validating it.
    pub fn from_json(text: &str) -> Result<Self> {
        let sig: Signature = serde_json::from_str(text).map_err(|e| Error::Json {
            what: "signature".into(),
            source: e,
        })?;
        if sig.format_version != SIGNATURE_FORMAT_VERSION {
            return Err(Error::InvalidValue {
                field: "signature format_version",
                value: sig.format_version.to_string(),
                expected: "1",
            });
        }
        sig.validate()?;
        Ok(sig)
    }
}

fn check_value(f: &InputField, v: &serde_json::Value) -> Result<()> {
    let bad = |reason: String| Error::Signature {
        field: f.name.clone(),
        reason,
    };
    match &f.field_type {
        FieldType::Numeric { min, max } => {
            let x = v
                .as_f64()
                .ok_or_else(|| bad(format!("expected a number, got {v}")))?;
            if !x.is_finite() {
                return Err(bad(format!("{x} is not finite")));
            }
            if let Some(lo) = min
                && x < *lo
            {
                return Err(bad(format!("{x} is below the minimum {lo}")));
            }
            if let Some(hi) = max
                && x > *hi
            {
                return Err(bad(format!("{x} is above the maximum {hi}")));
            }
        }
        FieldType::Categorical { levels } => {
            let s = v
                .as_str()
                .ok_or_else(|| bad(format!("expected a string, got {v}")))?;
            if !levels.iter().any(|l| l == s) {
                return Err(bad(format!("{s:?} is not one of {}", levels.join(", "))));
            }
        }
    }
    Ok(())
}
