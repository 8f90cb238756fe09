//! The fitted schema-driven pipeline: transform a [`Table`] to a matrix or a [`Dataset`],
//! and its versioned JSON form.

use std::path::Path;

use ndarray::{Array1, Array2};
use obesity_data::{ColumnData, Schema, Table};
use serde::{Deserialize, Serialize};

use crate::config::{Scaling, UnseenCategory};
use crate::dataset::Dataset;
use crate::derived::{Derived, DerivedSpec};
use crate::error::{FeatureError, Result};
use crate::table_pipeline::{Input, OutputColumn, Reader, TableConfig, bind_derived, layout};

/// A [`TablePipeline`](crate::TablePipeline) fitted on a table: applies the same transform
/// to any table of the same schema, and saves as versioned JSON
/// ([`to_json`](Self::to_json)); loading needs the app's [`Derived`] functions again
/// ([`from_json`](Self::from_json)).
///
/// # Examples
///
/// ```
/// use obesity_data::{Table, synth};
/// use obesity_features::{Derived, FeatureConfig, FittedTablePipeline, TablePipeline};
///
/// let table = Table::from_records(&synth::generate(50, 1));
/// let fitted = TablePipeline::obesity(FeatureConfig::standard()).fit(&table)?;
/// let x = fitted.transform(&table)?;
/// assert_eq!(x.dim(), (50, 32));
///
/// let json = fitted.to_json()?;
/// let loaded = FittedTablePipeline::from_json(&json, &[Derived::bmi()])?;
/// assert_eq!(loaded.transform(&table)?, x);
/// // Without the BMI function the pipeline cannot be loaded.
/// assert!(FittedTablePipeline::from_json(&json, &[]).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct FittedTablePipeline {
    config: TableConfig,
    schema: Schema,
    derived: Vec<Derived>,
    inputs: Vec<Vec<usize>>,
    columns: Vec<OutputColumn>,
    /// Per feature column (schema order), which codes `fit` saw (empty for numeric ones).
    seen: Vec<Vec<bool>>,
    feature_names: Vec<String>,
    class_names: Vec<String>,
}

impl FittedTablePipeline {
    pub(crate) fn from_parts(
        config: TableConfig,
        schema: Schema,
        derived: Vec<Derived>,
        inputs: Vec<Vec<usize>>,
        columns: Vec<OutputColumn>,
        seen: Vec<Vec<bool>>,
    ) -> Self {
        let feature_names = columns.iter().map(|c| c.name(&schema, &derived)).collect();
        let class_names = schema
            .target()
            .and_then(|t| t.levels())
            .unwrap_or_default()
            .into_iter()
            .map(str::to_owned)
            .collect();
        FittedTablePipeline {
            config,
            schema,
            derived,
            inputs,
            columns,
            seen,
            feature_names,
            class_names,
        }
    }

    /// The settings.
    pub fn config(&self) -> &TableConfig {
        &self.config
    }

    /// The schema it was fitted on; [`transform`](Self::transform) takes tables of it only.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// Number of output columns.
    pub fn n_features(&self) -> usize {
        self.columns.len()
    }

    /// The output column names, in order.
    pub fn feature_names(&self) -> &[String] {
        &self.feature_names
    }

    /// The target's levels, indexed by the class codes of [`dataset`](Self::dataset)'s `y`.
    pub fn class_names(&self) -> &[String] {
        &self.class_names
    }

    /// The levels of categorical or binary column `column` seen in `fit`, in schema order.
    pub fn seen_levels(&self, column: &str) -> Option<Vec<&str>> {
        let (i, spec) = self
            .schema
            .features()
            .enumerate()
            .find(|(_, c)| c.name == column)?;
        let levels = spec.levels()?;
        let seen = self.seen.get(i)?;
        Some(
            levels
                .into_iter()
                .zip(seen)
                .filter(|(_, s)| **s)
                .map(|(l, _)| l)
                .collect(),
        )
    }

    /// The feature matrix of `table`, `n_rows × n_features`, row-major; the target is
    /// ignored.
    ///
    /// # Errors
    /// [`FeatureError::SchemaMismatch`] for a table of another schema;
    /// [`FeatureError::UnseenCategory`] under [`UnseenCategory::Error`];
    /// [`FeatureError::NonFinite`] for a value (or derived value) that is not a finite `f32`.
    /// Each names the row and column.
    pub fn transform(&self, table: &Table) -> Result<Array2<f32>> {
        if table.schema() != &self.schema {
            return Err(FeatureError::SchemaMismatch {
                expected: self.schema.columns.iter().map(|c| c.name.clone()).collect(),
                found: table
                    .schema()
                    .columns
                    .iter()
                    .map(|c| c.name.clone())
                    .collect(),
            });
        }
        let rows = table.n_rows();
        let width = self.columns.len();
        let codes: Vec<Option<&[u32]>> = table.columns().map(|(_, d)| d.as_codes()).collect();
        let code = |feature: usize, row: usize| -> u32 {
            codes
                .get(feature)
                .copied()
                .flatten()
                .and_then(|c| c.get(row))
                .copied()
                .unwrap_or(u32::MAX)
        };
        let reader = Reader::new(table, &self.derived, &self.inputs);
        let mut scratch = Vec::new();
        let mut data = vec![0.0f32; rows * width];
        for (row, out) in data.chunks_exact_mut(width.max(1)).take(rows).enumerate() {
            if self.config.unseen == UnseenCategory::Error {
                self.check_seen(table, row)?;
            }
            for (slot, column) in out.iter_mut().zip(&self.columns) {
                *slot = match *column {
                    OutputColumn::Numeric {
                        input,
                        center,
                        scale,
                    } => {
                        let raw = reader.value(input, row, &mut scratch);
                        let value = ((raw - center) / scale) as f32;
                        if !(raw.is_finite() && value.is_finite()) {
                            return Err(FeatureError::NonFinite {
                                row,
                                column: self.input_name(input).to_owned(),
                                value: raw,
                            });
                        }
                        value
                    }
                    OutputColumn::OneHot { feature, level } => {
                        if code(feature, row) == level {
                            1.0
                        } else {
                            0.0
                        }
                    }
                    OutputColumn::Ordinal { feature } => code(feature, row) as f32,
                    OutputColumn::Flag { feature } => {
                        if code(feature, row) == 1 {
                            1.0
                        } else {
                            0.0
                        }
                    }
                };
            }
        }
        Array2::from_shape_vec((rows, width), data).map_err(|e| FeatureError::Shape {
            what: "feature matrix".to_owned(),
            expected: format!("{rows} x {width}"),
            found: e.to_string(),
        })
    }

    /// The labelled [`Dataset`] of `table`: [`transform`](Self::transform) plus the target
    /// codes as `y`, the target's levels as class names.
    ///
    /// # Errors
    /// [`FeatureError::MissingTarget`] naming the first unlabelled row, and every error of
    /// `transform`.
    pub fn dataset(&self, table: &Table) -> Result<Dataset> {
        let target_name = self.schema.target().map_or("", |t| t.name.as_str());
        let y = table
            .target()
            .iter()
            .enumerate()
            .map(|(row, t)| {
                t.map(|c| c as usize)
                    .ok_or_else(|| FeatureError::MissingTarget {
                        row,
                        column: target_name.to_owned(),
                    })
            })
            .collect::<Result<Array1<usize>>>()?;
        let x = self.transform(table)?;
        Ok(Dataset {
            x,
            y,
            feature_names: self.feature_names.clone(),
            class_names: self.class_names.clone(),
        })
    }

    fn input_name(&self, input: Input) -> &str {
        crate::table_pipeline::input_name(&self.schema, &self.derived, input)
    }

    fn check_seen(&self, table: &Table, row: usize) -> Result<()> {
        for ((spec, data), seen) in table.columns().zip(&self.seen) {
            let ColumnData::Codes(codes) = data else {
                continue;
            };
            let code = codes.get(row).copied().unwrap_or(u32::MAX) as usize;
            if !seen.get(code).copied().unwrap_or(false) {
                let levels = spec.levels().unwrap_or_default();
                return Err(FeatureError::UnseenCategory {
                    row,
                    column: spec.name.clone(),
                    value: levels.get(code).map_or("?", |l| *l).to_owned(),
                    seen: levels
                        .iter()
                        .zip(seen)
                        .filter(|(_, s)| **s)
                        .map(|(l, _)| (*l).to_owned())
                        .collect(),
                });
            }
        }
        Ok(())
    }

    /// The pipeline as a versioned JSON document (format version 1): settings, schema,
    /// derived columns by name and inputs, output columns with their scaling statistics,
    /// seen levels and class names. Floats round-trip exactly.
    ///
    /// # Errors
    /// [`FeatureError::Json`] if serialization fails (it does not for finite statistics).
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string_pretty(&self.spec()).map_err(|source| FeatureError::Json { source })
    }

    /// Reads a pipeline written by [`to_json`](Self::to_json). `derived` supplies the
    /// function of each derived column, matched by name (extra ones are ignored).
    ///
    /// # Errors
    /// [`FeatureError::Json`], [`FeatureError::UnsupportedFormatVersion`];
    /// [`FeatureError::Derivation`] for a derived column that is not supplied or whose
    /// inputs differ; [`FeatureError::InvalidPipeline`] for a document that is not
    /// self-consistent (the layout is re-derived and compared, the statistics checked).
    pub fn from_json(json: &str, derived: &[Derived]) -> Result<Self> {
        let spec: TablePipelineSpec =
            serde_json::from_str(json).map_err(|source| FeatureError::Json { source })?;
        spec.into_pipeline(derived)
    }

    /// Writes [`to_json`](Self::to_json) to `path`.
    ///
    /// # Errors
    /// [`FeatureError::Io`] when the file cannot be written.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        std::fs::write(path, self.to_json()?).map_err(|source| FeatureError::Io {
            action: "write",
            path: path.to_owned(),
            source,
        })
    }

    /// Reads a pipeline saved with [`save`](Self::save); see [`from_json`](Self::from_json).
    ///
    /// # Errors
    /// [`FeatureError::Io`], or [`FeatureError::File`] wrapping what `from_json` reports.
    pub fn load(path: impl AsRef<Path>, derived: &[Derived]) -> Result<Self> {
        let path = path.as_ref();
        let json = std::fs::read_to_string(path).map_err(|source| FeatureError::Io {
            action: "read",
            path: path.to_owned(),
            source,
        })?;
        FittedTablePipeline::from_json(&json, derived).map_err(|e| FeatureError::File {
            path: path.to_owned(),
            source: Box::new(e),
        })
    }

    fn spec(&self) -> TablePipelineSpec {
        let columns = self
            .columns
            .iter()
            .zip(&self.feature_names)
            .map(|(c, name)| match *c {
                OutputColumn::Numeric { center, scale, .. } => ColumnEntry::Numeric {
                    name: name.clone(),
                    center,
                    scale,
                },
                OutputColumn::OneHot { .. } => ColumnEntry::OneHot { name: name.clone() },
                OutputColumn::Ordinal { .. } => ColumnEntry::Ordinal { name: name.clone() },
                OutputColumn::Flag { .. } => ColumnEntry::Flag { name: name.clone() },
            })
            .collect();
        let seen_levels = self
            .schema
            .features()
            .filter(|c| !c.is_numeric())
            .map(|c| SeenEntry {
                column: c.name.clone(),
                levels: self
                    .seen_levels(&c.name)
                    .unwrap_or_default()
                    .into_iter()
                    .map(str::to_owned)
                    .collect(),
            })
            .collect();
        TablePipelineSpec {
            format_version: u64::from(FORMAT_VERSION),
            config: self.config,
            schema: self.schema.clone(),
            derived: self.derived.iter().map(Derived::spec).collect(),
            columns,
            seen_levels,
            class_names: self.class_names.clone(),
        }
    }
}

/// The format version of [`FittedTablePipeline::to_json`].
const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct TablePipelineSpec {
    format_version: u64,
    config: TableConfig,
    schema: Schema,
    derived: Vec<DerivedSpec>,
    columns: Vec<ColumnEntry>,
    seen_levels: Vec<SeenEntry>,
    class_names: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "encoding", rename_all = "snake_case")]
enum ColumnEntry {
    Numeric {
        name: String,
        center: f64,
        scale: f64,
    },
    OneHot {
        name: String,
    },
    Ordinal {
        name: String,
    },
    Flag {
        name: String,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct SeenEntry {
    column: String,
    levels: Vec<String>,
}

impl TablePipelineSpec {
    fn into_pipeline(self, supplied: &[Derived]) -> Result<FittedTablePipeline> {
        if self.format_version != u64::from(FORMAT_VERSION) {
            return Err(FeatureError::UnsupportedFormatVersion {
                found: self.format_version,
                supported: FORMAT_VERSION,
            });
        }
        self.schema.validate().map_err(|e| {
            FeatureError::invalid_pipeline("schema", e.to_string(), "a valid schema")
        })?;
        let mut derived = Vec::with_capacity(self.derived.len());
        for saved in &self.derived {
            let found = supplied
                .iter()
                .find(|d| d.name() == saved.name)
                .ok_or_else(|| FeatureError::Derivation {
                    name: saved.name.clone(),
                    problem: "not supplied; pass the app's Derived with this name to from_json"
                        .to_owned(),
                })?;
            if found.inputs() != saved.inputs.as_slice() {
                return Err(FeatureError::Derivation {
                    name: saved.name.clone(),
                    problem: format!(
                        "supplied with inputs {:?}; the pipeline was fitted with {:?}",
                        found.inputs(),
                        saved.inputs
                    ),
                });
            }
            derived.push(found.clone());
        }
        let inputs = bind_derived(&self.schema, &derived)?;

        let features: Vec<_> = self.schema.features().collect();
        let mut seen: Vec<Vec<bool>> = features.iter().map(|c| vec![false; c.n_levels()]).collect();
        let categorical: Vec<usize> = (0..features.len())
            .filter(|&i| features.get(i).is_some_and(|c| !c.is_numeric()))
            .collect();
        if self.seen_levels.len() != categorical.len() {
            return Err(FeatureError::invalid_pipeline(
                "seen_levels",
                format!("{} entries", self.seen_levels.len()),
                format!("{} entries, one per categorical column", categorical.len()),
            ));
        }
        for (k, (entry, &i)) in self.seen_levels.iter().zip(&categorical).enumerate() {
            let spec = features.get(i).copied();
            let levels = spec.and_then(|s| s.levels()).unwrap_or_default();
            if spec.map(|s| s.name.as_str()) != Some(entry.column.as_str()) {
                return Err(FeatureError::invalid_pipeline(
                    format!("seen_levels[{k}].column"),
                    entry.column.clone(),
                    spec.map_or(String::new(), |s| s.name.clone()),
                ));
            }
            for level in &entry.levels {
                let at = levels.iter().position(|l| l == level).ok_or_else(|| {
                    FeatureError::invalid_pipeline(
                        format!("seen_levels[{k}].levels"),
                        format!("{level:?}"),
                        format!("a level of {}", entry.column),
                    )
                })?;
                if let Some(flag) = seen.get_mut(i).and_then(|s| s.get_mut(at)) {
                    *flag = true;
                }
            }
        }

        let mut columns = layout(&self.schema, &self.config, derived.len(), &seen);
        if columns.len() != self.columns.len() {
            return Err(FeatureError::invalid_pipeline(
                "columns",
                format!("{} columns", self.columns.len()),
                format!(
                    "{} columns for these settings and seen levels",
                    columns.len()
                ),
            ));
        }
        for (i, (column, entry)) in columns.iter_mut().zip(&self.columns).enumerate() {
            let want = column.name(&self.schema, &derived);
            let ok = match (&mut *column, entry) {
                (
                    OutputColumn::Numeric { center, scale, .. },
                    ColumnEntry::Numeric {
                        name,
                        center: c,
                        scale: s,
                    },
                ) => {
                    let scaled = self.config.scaling == Scaling::Standard;
                    if scaled && !(c.is_finite() && s.is_finite() && *s > 0.0)
                        || !scaled && (*c != 0.0 || *s != 1.0)
                    {
                        return Err(FeatureError::invalid_pipeline(
                            format!("columns[{i}]"),
                            format!("center {c}, scale {s}"),
                            "a finite center and a positive scale (0 and 1 without scaling)",
                        ));
                    }
                    (*center, *scale) = (*c, *s);
                    *name == want
                }
                (OutputColumn::OneHot { .. }, ColumnEntry::OneHot { name })
                | (OutputColumn::Ordinal { .. }, ColumnEntry::Ordinal { name })
                | (OutputColumn::Flag { .. }, ColumnEntry::Flag { name }) => *name == want,
                _ => false,
            };
            if !ok {
                return Err(FeatureError::invalid_pipeline(
                    format!("columns[{i}]"),
                    format!("{entry:?}"),
                    format!("column {want:?}"),
                ));
            }
        }
        let fitted = FittedTablePipeline::from_parts(
            self.config,
            self.schema,
            derived,
            inputs,
            columns,
            seen,
        );
        if fitted.class_names != self.class_names {
            return Err(FeatureError::invalid_pipeline(
                "class_names",
                format!("{:?}", self.class_names),
                format!("{:?}", fitted.class_names),
            ));
        }
        Ok(fitted)
    }
}
