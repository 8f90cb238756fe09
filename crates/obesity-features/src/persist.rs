//! The saved form of a fitted pipeline: a versioned JSON document, checked when read.
//!
//! The document is self-describing (feature names, seen levels, scaling statistics are all
//! readable with `jq`), but on load the column layout is re-derived from the settings and the
//! seen levels and compared with the file, so a hand-edited or truncated file is an error
//! rather than a silently different transform. Floats round-trip exactly (serde_json's
//! `float_roundtrip`), which is what makes a loaded pipeline bit-identical.

use std::path::Path;

use obesity_data::ObesityLevel;
use serde::{Deserialize, Serialize};

use crate::config::{FeatureConfig, Scaling};
use crate::error::{FeatureError, Result};
use crate::fitted::FittedPipeline;
use crate::pipeline::{Column, SeenLevels, layout};
use crate::source::{CategoricalSource, NumericSource};

/// The format version this build writes and reads.
const FORMAT_VERSION: u32 = 1;

/// The document, field by field.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PipelineSpec {
    format_version: u64,
    config: FeatureConfig,
    columns: Vec<ColumnSpec>,
    seen_levels: Vec<SeenSpec>,
    class_names: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "encoding", rename_all = "snake_case")]
enum ColumnSpec {
    Numeric {
        name: String,
        source: NumericSource,
        center: f64,
        scale: f64,
    },
    OneHot {
        name: String,
        source: CategoricalSource,
        level: String,
    },
    Ordinal {
        name: String,
        source: CategoricalSource,
    },
    Flag {
        name: String,
        source: CategoricalSource,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct SeenSpec {
    column: CategoricalSource,
    levels: Vec<String>,
}

impl From<FittedPipeline> for PipelineSpec {
    fn from(fitted: FittedPipeline) -> Self {
        let columns = fitted
            .columns
            .iter()
            .map(|column| {
                let name = column.name();
                match *column {
                    Column::Numeric {
                        source,
                        center,
                        scale,
                    } => ColumnSpec::Numeric {
                        name,
                        source,
                        center,
                        scale,
                    },
                    Column::OneHot { source, level } => ColumnSpec::OneHot {
                        name,
                        source,
                        level: source.level_name(level).unwrap_or("?").to_owned(),
                    },
                    Column::Ordinal { source } => ColumnSpec::Ordinal { name, source },
                    Column::Flag { source } => ColumnSpec::Flag { name, source },
                }
            })
            .collect();
        let seen_levels = CategoricalSource::ALL
            .iter()
            .map(|&column| SeenSpec {
                column,
                levels: fitted
                    .seen
                    .levels(column)
                    .into_iter()
                    .map(str::to_owned)
                    .collect(),
            })
            .collect();
        PipelineSpec {
            format_version: u64::from(FORMAT_VERSION),
            config: fitted.config,
            columns,
            seen_levels,
            class_names: fitted.class_names().to_vec(),
        }
    }
}

fn check_version(found: u64) -> Result<()> {
    if found == u64::from(FORMAT_VERSION) {
        Ok(())
    } else {
        Err(FeatureError::UnsupportedFormatVersion {
            found,
            supported: FORMAT_VERSION,
        })
    }
}

impl TryFrom<PipelineSpec> for FittedPipeline {
    type Error = FeatureError;

    fn try_from(spec: PipelineSpec) -> Result<Self> {
        check_version(spec.format_version)?;
        let expected_classes: Vec<&str> = ObesityLevel::ALL.iter().map(|c| c.as_str()).collect();
        if spec.class_names != expected_classes {
            return Err(FeatureError::invalid_pipeline(
                "class_names",
                format!("{:?}", spec.class_names),
                format!("{expected_classes:?}"),
            ));
        }

        if spec.seen_levels.len() != CategoricalSource::ALL.len() {
            return Err(FeatureError::invalid_pipeline(
                "seen_levels",
                format!("{} entries", spec.seen_levels.len()),
                format!(
                    "{} entries, one per categorical column",
                    CategoricalSource::ALL.len()
                ),
            ));
        }
        let mut seen = SeenLevels::default();
        for (i, (entry, &source)) in spec
            .seen_levels
            .iter()
            .zip(&CategoricalSource::ALL)
            .enumerate()
        {
            if entry.column != source {
                return Err(FeatureError::invalid_pipeline(
                    format!("seen_levels[{i}].column"),
                    entry.column.name(),
                    source.name(),
                ));
            }
            if entry.levels.is_empty() {
                return Err(FeatureError::invalid_pipeline(
                    format!("seen_levels[{i}].levels"),
                    "empty",
                    "at least one level",
                ));
            }
            for level in &entry.levels {
                let index = source.level_index(level).ok_or_else(|| {
                    FeatureError::invalid_pipeline(
                        format!("seen_levels[{i}].levels"),
                        format!("{level:?}"),
                        format!("a level of {}", source.name()),
                    )
                })?;
                seen.insert(source, index);
            }
        }

        let expected = layout(&spec.config, &seen);
        if spec.columns.len() != expected.len() {
            return Err(FeatureError::invalid_pipeline(
                "columns",
                format!("{} columns", spec.columns.len()),
                format!(
                    "{} columns for these settings and seen levels",
                    expected.len()
                ),
            ));
        }
        let mut columns = Vec::with_capacity(expected.len());
        for (i, (found, want)) in spec.columns.iter().zip(expected).enumerate() {
            columns.push(check_column(i, found, want, spec.config.scaling)?);
        }
        Ok(FittedPipeline::from_parts(spec.config, columns, seen))
    }
}

/// Checks that the saved column `found` is the column `want` the layout puts at `i`, and
/// returns it with the saved scaling statistics.
fn check_column(i: usize, found: &ColumnSpec, want: Column, scaling: Scaling) -> Result<Column> {
    let mismatch = || {
        FeatureError::invalid_pipeline(
            format!("columns[{i}]"),
            serde_json::to_string(found).unwrap_or_else(|_| format!("{found:?}")),
            format!("column {:?}", want.name()),
        )
    };
    let name = match found {
        ColumnSpec::Numeric { name, .. }
        | ColumnSpec::OneHot { name, .. }
        | ColumnSpec::Ordinal { name, .. }
        | ColumnSpec::Flag { name, .. } => name,
    };
    if *name != want.name() {
        return Err(mismatch());
    }
    match (found, want) {
        (
            ColumnSpec::Numeric {
                source,
                center,
                scale,
                ..
            },
            Column::Numeric { source: s, .. },
        ) if *source == s => {
            let (center, scale) = (*center, *scale);
            if !center.is_finite() {
                return Err(FeatureError::invalid_pipeline(
                    format!("columns[{i}].center"),
                    center.to_string(),
                    "a finite number",
                ));
            }
            if !(scale.is_finite() && scale > 0.0) {
                return Err(FeatureError::invalid_pipeline(
                    format!("columns[{i}].scale"),
                    scale.to_string(),
                    "a finite number > 0",
                ));
            }
            if scaling == Scaling::None && (center != 0.0 || scale != 1.0) {
                return Err(FeatureError::invalid_pipeline(
                    format!("columns[{i}]"),
                    format!("center {center}, scale {scale}"),
                    "center 0 and scale 1 (the settings say no scaling)",
                ));
            }
            Ok(Column::Numeric {
                source: s,
                center,
                scale,
            })
        }
        (
            ColumnSpec::OneHot { source, level, .. },
            Column::OneHot {
                source: s,
                level: l,
            },
        ) if *source == s && source.level_index(level) == Some(l) => Ok(want),
        (ColumnSpec::Ordinal { source, .. }, Column::Ordinal { source: s })
        | (ColumnSpec::Flag { source, .. }, Column::Flag { source: s })
            if *source == s =>
        {
            Ok(want)
        }
        _ => Err(mismatch()),
    }
}

impl FittedPipeline {
    /// The version of the saved format this build writes and reads.
    pub const FORMAT_VERSION: u32 = FORMAT_VERSION;

    /// The pipeline as a pretty-printed, versioned JSON document.
    ///
    /// # Errors
    /// [`FeatureError::Json`] if serialisation fails (it does not for a pipeline built by
    /// this crate; the error is returned rather than unwrapped).
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string_pretty(self).map_err(|source| FeatureError::Json { source })
    }

    /// Reads a pipeline written by [`to_json`](Self::to_json), checking the format version
    /// first and then that the document is self-consistent.
    ///
    /// # Errors
    /// [`FeatureError::Json`] for text that is not JSON or not a pipeline (with line and
    /// column), [`FeatureError::UnsupportedFormatVersion`] for another version,
    /// [`FeatureError::InvalidPipeline`] for a missing version or an inconsistent document.
    pub fn from_json(json: &str) -> Result<Self> {
        let value: serde_json::Value =
            serde_json::from_str(json).map_err(|source| FeatureError::Json { source })?;
        // The version is checked before the shape, so a future format with a different shape
        // says "unsupported version" rather than "missing field".
        match value.get("format_version") {
            None => {
                return Err(FeatureError::invalid_pipeline(
                    "format_version",
                    "missing",
                    FORMAT_VERSION.to_string(),
                ));
            }
            Some(v) => match v.as_u64() {
                Some(found) => check_version(found)?,
                None => {
                    return Err(FeatureError::invalid_pipeline(
                        "format_version",
                        v.to_string(),
                        FORMAT_VERSION.to_string(),
                    ));
                }
            },
        }
        let spec: PipelineSpec =
            serde_json::from_str(json).map_err(|source| FeatureError::Json { source })?;
        FittedPipeline::try_from(spec)
    }

    /// Writes [`to_json`](Self::to_json) to `path` (the file is replaced).
    ///
    /// The replacement is atomic: the document goes to a temporary file in the same folder,
    /// is fsynced, then renamed over `path`, so a reader (or a crash) sees the old pipeline
    /// or the new one, never a truncated file.
    ///
    /// # Errors
    /// [`FeatureError::Io`] naming the file.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let json = self.to_json()?;
        obesity_data::write_atomic(path, json.as_bytes()).map_err(|source| FeatureError::Io {
            action: "write",
            path: path.to_owned(),
            source,
        })
    }

    /// Reads a pipeline saved by [`save`](Self::save).
    ///
    /// # Errors
    /// [`FeatureError::Io`] when the file cannot be read; [`FeatureError::File`] naming the
    /// file and wrapping the error of [`from_json`](Self::from_json).
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let json = std::fs::read_to_string(path).map_err(|source| FeatureError::Io {
            action: "read",
            path: path.to_owned(),
            source,
        })?;
        FittedPipeline::from_json(&json).map_err(|e| FeatureError::File {
            path: path.to_owned(),
            source: Box::new(e),
        })
    }
}
