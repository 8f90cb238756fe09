//! Schema files: a [`Schema`] written by hand in YAML or JSON, one entry per column, read by
//! [`Schema::from_path`] (the format by the file's extension) and checked twice: the shape
//! of the file while it is parsed (unknown keys, missing keys, keys that do not fit the
//! column's type — errors with the file's line), then [`Schema::validate`].
//!
//! The file's shape is its own (flat, with defaults), not the serde form of [`Schema`]
//! stored inside fitted pipelines: that one stays as it is so stored files keep loading,
//! and a hand-written file deserves short keys and an error for every key it cannot use.
//!
//! ```yaml
//! expected_rows: 2111          # optional: rows a complete file has
//! columns:
//!   - name: Age
//!     type: numeric            # numeric | binary | categorical | ordinal
//!     unit: years              # numeric: unit, min and max are required
//!     min: 10
//!     max: 100
//!   - name: CAEC
//!     type: ordinal            # categorical and ordinal: levels are required
//!     levels: ["no", Sometimes, Frequently, Always]
//!   - name: NObeyesdad
//!     type: categorical
//!     levels: [Insufficient_Weight, Normal_Weight]
//!     target: true             # exactly one column is the target
//!     description: obesity level   # optional, any column
//! ```

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result, SchemaFileProblem};
use crate::schema::{ColumnKind, ColumnSpec, Schema};

/// The whole file.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SchemaFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expected_rows: Option<usize>,
    columns: Vec<FileColumn>,
}

/// A column entry, converted (and its keys checked against its type) while it is parsed, so
/// a bad entry's error carries the parser's line.
#[derive(Debug, Clone, Serialize)]
#[serde(into = "ColumnEntry")]
struct FileColumn(ColumnSpec);

/// `#[serde(try_from)]` would check the entry after the parser has left its mapping, and
/// the YAML parser would then locate the error at the enclosing list; checking inside the
/// map visitor gives the entry's own line.
impl<'de> Deserialize<'de> for FileColumn {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct Entry;
        impl<'de> serde::de::Visitor<'de> for Entry {
            type Value = FileColumn;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a column: a map with `name`, `type` and the keys of its type")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> std::result::Result<FileColumn, A::Error> {
                let entry =
                    ColumnEntry::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                FileColumn::try_from(entry).map_err(serde::de::Error::custom)
            }
        }
        d.deserialize_map(Entry)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum TypeName {
    Numeric,
    Binary,
    Categorical,
    Ordinal,
}

impl TypeName {
    fn as_str(self) -> &'static str {
        match self {
            TypeName::Numeric => "numeric",
            TypeName::Binary => "binary",
            TypeName::Categorical => "categorical",
            TypeName::Ordinal => "ordinal",
        }
    }

    /// The keys this type requires besides `name` and `type`, in the order messages list them.
    fn required(self) -> &'static [&'static str] {
        match self {
            TypeName::Numeric => &["unit", "min", "max"],
            TypeName::Binary => &[],
            TypeName::Categorical | TypeName::Ordinal => &["levels"],
        }
    }
}

/// One column as written in the file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ColumnEntry {
    name: String,
    #[serde(rename = "type")]
    kind: TypeName,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    unit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    levels: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "is_false")]
    target: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    description: String,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl TryFrom<ColumnEntry> for FileColumn {
    type Error = String;

    fn try_from(e: ColumnEntry) -> std::result::Result<Self, String> {
        let type_name = e.kind;
        let present = [
            ("unit", e.unit.is_some()),
            ("min", e.min.is_some()),
            ("max", e.max.is_some()),
            ("levels", e.levels.is_some()),
        ];
        let wanted = type_name.required();
        let takes = match wanted {
            [] => "takes none of `unit`, `min`, `max`, `levels`".to_owned(),
            keys => format!("takes {}", ticked(keys)),
        };
        if let Some((key, _)) = present
            .iter()
            .find(|(k, there)| *there && !wanted.contains(k))
        {
            return Err(format!(
                "column `{}`: key `{key}` does not apply to a {} column; expected only the keys of its type (a {} column {takes})",
                e.name,
                type_name.as_str(),
                type_name.as_str(),
            ));
        }
        if let Some((key, _)) = present
            .iter()
            .find(|(k, there)| !*there && wanted.contains(k))
        {
            return Err(format!(
                "column `{}`: missing key `{key}`; expected a {} column to have {}",
                e.name,
                type_name.as_str(),
                ticked(wanted),
            ));
        }
        let kind = match (type_name, e.unit, e.min, e.max, e.levels) {
            (TypeName::Numeric, Some(unit), Some(min), Some(max), None) => {
                ColumnKind::Numeric { min, max, unit }
            }
            (TypeName::Binary, None, None, None, None) => ColumnKind::Binary,
            (TypeName::Categorical | TypeName::Ordinal, None, None, None, Some(levels)) => {
                ColumnKind::Categorical {
                    levels,
                    ordered: type_name == TypeName::Ordinal,
                }
            }
            // Every other combination was refused above.
            _ => return Err(format!("column `{}`: keys do not fit its type", e.name)),
        };
        Ok(FileColumn(ColumnSpec {
            name: e.name,
            kind,
            description: e.description,
            is_target: e.target,
        }))
    }
}

impl From<FileColumn> for ColumnEntry {
    fn from(FileColumn(c): FileColumn) -> Self {
        let mut entry = ColumnEntry {
            name: c.name,
            kind: TypeName::Binary,
            unit: None,
            min: None,
            max: None,
            levels: None,
            target: c.is_target,
            description: c.description,
        };
        match c.kind {
            ColumnKind::Numeric { min, max, unit } => {
                entry.kind = TypeName::Numeric;
                entry.unit = Some(unit);
                entry.min = Some(min);
                entry.max = Some(max);
            }
            ColumnKind::Binary => {}
            ColumnKind::Categorical { levels, ordered } => {
                entry.kind = if ordered {
                    TypeName::Ordinal
                } else {
                    TypeName::Categorical
                };
                entry.levels = Some(levels);
            }
        }
        entry
    }
}

fn ticked(keys: &[&str]) -> String {
    let ticked: Vec<String> = keys.iter().map(|k| format!("`{k}`")).collect();
    match ticked.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// The parsers append " at line L column C" (YAML) or " at line L column C" (JSON) to their
/// messages; the location is printed once, as `file:line:column:`.
fn strip_location(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

fn syntax(file: &str, line: Option<u64>, col: Option<u64>, message: &str) -> DataError {
    DataError::SchemaFile {
        file: file.to_owned(),
        line,
        col,
        problem: SchemaFileProblem::Syntax {
            detail: strip_location(message),
        },
    }
}

impl SchemaFile {
    /// The schema, checked by [`Schema::validate`]; a failure names the file.
    fn into_schema(self, file: &str) -> Result<Schema> {
        let schema = Schema {
            columns: self.columns.into_iter().map(|FileColumn(c)| c).collect(),
            expected_rows: self.expected_rows,
        };
        match schema.validate() {
            Ok(()) => Ok(schema),
            Err(DataError::InvalidSchema { column, problem }) => Err(DataError::SchemaFile {
                file: file.to_owned(),
                line: None,
                col: None,
                problem: SchemaFileProblem::Invalid { column, problem },
            }),
            Err(other) => Err(other),
        }
    }
}

fn empty(file: &str) -> DataError {
    DataError::SchemaFile {
        file: file.to_owned(),
        line: None,
        col: None,
        problem: SchemaFileProblem::Empty,
    }
}

impl Schema {
    /// Reads a schema file: YAML for a `.yaml` or `.yml` file, JSON for a `.json` one (see
    /// [`Schema::from_yaml_str`] for the format), then checks it with [`Schema::validate`].
    ///
    /// # Errors
    /// [`DataError::Io`] when the file cannot be read; [`DataError::SchemaFile`] naming the
    /// file (and, for a problem the parser sees, the line, the key and what was expected)
    /// for another extension, an unknown or missing key, a value of the wrong type, a key
    /// that does not fit the column's type, or a schema [`Schema::validate`] refuses.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Schema> {
        let path = path.as_ref();
        let file = path.display().to_string();
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .unwrap_or_default();
        let parse: fn(&str, &str) -> Result<Schema> = match extension.as_str() {
            #[cfg(feature = "yaml")]
            "yaml" | "yml" => Schema::from_yaml_str,
            #[cfg(not(feature = "yaml"))]
            "yaml" | "yml" => {
                return Err(DataError::SchemaFile {
                    file,
                    line: None,
                    col: None,
                    problem: SchemaFileProblem::YamlFeatureOff,
                });
            }
            "json" => Schema::from_json_str,
            _ => {
                return Err(DataError::SchemaFile {
                    file,
                    line: None,
                    col: None,
                    problem: SchemaFileProblem::Format { extension },
                });
            }
        };
        let text = std::fs::read_to_string(path).map_err(|source| DataError::Io {
            file: file.clone(),
            source,
        })?;
        parse(&file, &text)
    }

    /// Parses a YAML schema file held in memory, naming it `source` in errors.
    ///
    /// The file has `columns:`, a list with one entry per column, and optionally
    /// `expected_rows:`. Each entry has `name`, `type` (`numeric`, `binary`, `categorical`
    /// or `ordinal`), the keys of its type (`unit`, `min` and `max` for numeric; `levels`
    /// for categorical and ordinal, in code order, lowest first for ordinal) and optionally
    /// `target: true` (exactly one column) and `description`. Any other key is an error.
    /// `examples/schemas/obesity.yaml` is [`Schema::obesity`] written this way.
    ///
    /// # Errors
    /// As [`Schema::from_path`].
    ///
    /// # Examples
    ///
    /// ```
    /// use obesity_data::{ColumnSpec, Schema};
    ///
    /// let yaml = r#"
    /// columns:
    ///   - name: length
    ///     type: numeric
    ///     unit: cm
    ///     min: 0
    ///     max: 50
    ///   - name: size
    ///     type: ordinal
    ///     levels: [S, M, L]
    ///   - name: species
    ///     type: categorical
    ///     levels: [a, b, c]
    ///     target: true
    /// "#;
    /// let schema = Schema::from_yaml_str("fish.yaml", yaml)?;
    /// assert_eq!(schema, Schema::new(vec![
    ///     ColumnSpec::numeric("length", "cm", 0.0, 50.0),
    ///     ColumnSpec::ordinal("size", ["S", "M", "L"]),
    ///     ColumnSpec::categorical("species", ["a", "b", "c"]).target(),
    /// ])?);
    ///
    /// // A misspelt key is an error naming the file, the line, the key and the valid keys.
    /// let err = Schema::from_yaml_str("fish.yaml", &yaml.replace("levels: [S", "lvls: [S"))
    ///     .unwrap_err();
    /// assert!(err.to_string().starts_with("fish.yaml:10:5:"), "{err}");
    /// assert!(err.to_string().contains("unknown field `lvls`"), "{err}");
    /// # Ok::<(), obesity_data::DataError>(())
    /// ```
    #[cfg(feature = "yaml")]
    pub fn from_yaml_str(source: &str, text: &str) -> Result<Schema> {
        if text.trim().is_empty() {
            return Err(empty(source));
        }
        let file: SchemaFile = serde_yaml_ng::from_str(text).map_err(|e| {
            let location = e.location();
            syntax(
                source,
                location.as_ref().map(|l| l.line() as u64),
                location.as_ref().map(|l| l.column() as u64),
                &e.to_string(),
            )
        })?;
        file.into_schema(source)
    }

    /// Parses a JSON schema file held in memory, naming it `source` in errors: the same keys
    /// as [`Schema::from_yaml_str`].
    ///
    /// # Errors
    /// As [`Schema::from_path`].
    pub fn from_json_str(source: &str, text: &str) -> Result<Schema> {
        if text.trim().is_empty() {
            return Err(empty(source));
        }
        let file: SchemaFile = serde_json::from_str(text).map_err(|e| {
            // serde_json numbers lines from 1 and says 0 when it has no position.
            let line = (e.line() > 0).then_some(e.line() as u64);
            let col = line.map(|_| e.column() as u64);
            syntax(source, line, col, &e.to_string())
        })?;
        file.into_schema(source)
    }

    /// The schema as a YAML schema file, which [`Schema::from_yaml_str`] reads back equal.
    ///
    /// # Errors
    /// [`DataError::Write`] if the YAML writer fails (it does not for a schema).
    #[cfg(feature = "yaml")]
    pub fn to_yaml(&self) -> Result<String> {
        let file = SchemaFile {
            expected_rows: self.expected_rows,
            columns: self.columns.iter().cloned().map(FileColumn).collect(),
        };
        serde_yaml_ng::to_string(&file).map_err(|e| DataError::Write {
            source: std::io::Error::other(e.to_string()),
        })
    }
}

#[cfg(all(test, feature = "yaml"))]
mod tests {
    use super::*;

    #[test]
    fn the_obesity_schema_round_trips_through_yaml() {
        let yaml = Schema::obesity().to_yaml().unwrap();
        assert_eq!(
            Schema::from_yaml_str("o.yaml", &yaml).unwrap(),
            Schema::obesity()
        );
    }

    #[test]
    fn a_key_of_another_type_is_refused_with_its_line() {
        let yaml = "columns:\n  - name: x\n    type: numeric\n    unit: m\n    min: 0\n    max: 1\n  - name: y\n    type: binary\n    levels: [a, b]\n    target: true\n";
        let err = Schema::from_yaml_str("s.yaml", yaml).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("key `levels` does not apply to a binary column"),
            "{text}"
        );
        assert!(text.starts_with("s.yaml:"), "{text}");
        assert!(err.line().is_some(), "{text}");
    }

    #[test]
    fn a_missing_key_of_the_type_is_named() {
        let yaml = "columns:\n  - name: x\n    type: numeric\n    unit: m\n    max: 1\n  - name: y\n    type: binary\n    target: true\n";
        let text = Schema::from_yaml_str("s.yaml", yaml)
            .unwrap_err()
            .to_string();
        assert!(text.contains("column `x`: missing key `min`"), "{text}");
        assert!(text.contains("`unit`, `min` and `max`"), "{text}");
    }

    #[test]
    fn json_errors_carry_line_and_key() {
        let json = "{\n  \"columns\": [\n    {\"name\": \"x\", \"type\": \"binary\", \"colour\": 1}\n  ]\n}\n";
        let err = Schema::from_json_str("s.json", json).unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("s.json:3:"), "{text}");
        assert!(text.contains("unknown field `colour`"), "{text}");
    }
}
