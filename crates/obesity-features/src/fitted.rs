//! The fitted pipeline: a fixed, serializable transform from records to a numeric matrix.

use ndarray::{Array1, Array2};
use obesity_data::{ObesityLevel, ObesityRecord, TARGET_COLUMN};
use serde::{Deserialize, Serialize};

use crate::config::{FeatureConfig, UnseenCategory};
use crate::dataset::Dataset;
use crate::error::{FeatureError, Result};
use crate::persist::PipelineSpec;
use crate::pipeline::{Column, SeenLevels};
use crate::source::CategoricalSource;

/// A feature pipeline fitted on training records, returned by
/// [`FeaturePipeline::fit`](crate::FeaturePipeline::fit).
///
/// It is immutable: the same pipeline gives the same matrix for the same records, in this
/// process or after [`to_json`](Self::to_json) / [`from_json`](Self::from_json) in another
/// (bit-identical), so a served model sees exactly the training-time transform.
///
/// Serde (de)serializes it through the same versioned document as `to_json`, and checks it
/// when reading, so it can be embedded in a model bundle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(into = "PipelineSpec", try_from = "PipelineSpec")]
pub struct FittedPipeline {
    pub(crate) config: FeatureConfig,
    pub(crate) columns: Vec<Column>,
    pub(crate) seen: SeenLevels,
    feature_names: Vec<String>,
    class_names: Vec<String>,
}

impl FittedPipeline {
    /// Assembles a fitted pipeline; the column list must come from `pipeline::layout`.
    pub(crate) fn from_parts(
        config: FeatureConfig,
        columns: Vec<Column>,
        seen: SeenLevels,
    ) -> Self {
        let feature_names = columns.iter().map(Column::name).collect();
        let class_names = ObesityLevel::ALL
            .iter()
            .map(|c| c.as_str().to_owned())
            .collect();
        FittedPipeline {
            config,
            columns,
            seen,
            feature_names,
            class_names,
        }
    }

    /// The settings this pipeline was fitted with.
    pub fn config(&self) -> &FeatureConfig {
        &self.config
    }

    /// Number of output columns: the width of every matrix this pipeline makes.
    pub fn n_features(&self) -> usize {
        self.columns.len()
    }

    /// The name of each output column, in order (`Age`, ..., `BMI`, `Gender=Female`, ...,
    /// `MTRANS=Walking`); see [`FeatureConfig`]'s column order.
    pub fn feature_names(&self) -> &[String] {
        &self.feature_names
    }

    /// The names of the 7 obesity levels in [`ObesityLevel::ALL`] order; class `i` of a
    /// [`Dataset`]'s `y` is `class_names()[i]` (`y = ObesityLevel::index`).
    pub fn class_names(&self) -> &[String] {
        &self.class_names
    }

    /// The levels of categorical column `column` (a schema header such as `CALC`) that
    /// occurred in the records given to `fit`, in schema order (scikit-learn's
    /// `categories_`). `None` for a name that is not a categorical column.
    pub fn seen_levels(&self, column: &str) -> Option<Vec<&'static str>> {
        CategoricalSource::ALL
            .iter()
            .find(|s| s.name() == column)
            .map(|&source| self.seen.levels(source))
    }

    /// The feature matrix of `records`, `records.len() × n_features()`, row-major. Targets
    /// are ignored, so unlabelled records (serving requests) work.
    ///
    /// # Errors
    /// [`FeatureError::NonFinite`] for a NaN, infinite or out-of-`f32`-range numeric value (or
    /// BMI); [`FeatureError::UnseenCategory`] under [`UnseenCategory::Error`] for a level not
    /// seen in `fit`. Both name the row and column.
    pub fn transform(&self, records: &[ObesityRecord]) -> Result<Array2<f32>> {
        let width = self.columns.len();
        let mut data = Vec::with_capacity(records.len() * width);
        let check_seen = self.config.unseen == UnseenCategory::Error;
        for (row, record) in records.iter().enumerate() {
            if check_seen {
                self.check_seen(row, record)?;
            }
            for column in &self.columns {
                data.push(column.value(row, record)?);
            }
        }
        Array2::from_shape_vec((records.len(), width), data).map_err(|e| FeatureError::Shape {
            what: "feature matrix".to_owned(),
            expected: format!("{} x {width}", records.len()),
            found: e.to_string(),
        })
    }

    /// The labelled [`Dataset`] of `records`: [`transform`](Self::transform) plus
    /// `y[i] = records[i].target.index()`.
    ///
    /// # Errors
    /// [`FeatureError::MissingTarget`] naming the first record without a target, and every
    /// error of `transform`.
    pub fn dataset(&self, records: &[ObesityRecord]) -> Result<Dataset> {
        let y = records
            .iter()
            .enumerate()
            .map(|(row, r)| {
                r.target
                    .map(ObesityLevel::index)
                    .ok_or_else(|| FeatureError::MissingTarget {
                        row,
                        column: TARGET_COLUMN.to_owned(),
                    })
            })
            .collect::<Result<Array1<usize>>>()?;
        let x = self.transform(records)?;
        Ok(Dataset {
            x,
            y,
            feature_names: self.feature_names.clone(),
            class_names: self.class_names.clone(),
        })
    }

    fn check_seen(&self, row: usize, record: &ObesityRecord) -> Result<()> {
        for source in CategoricalSource::ALL {
            let level = source.level(record);
            if !self.seen.contains(source, level) {
                return Err(FeatureError::UnseenCategory {
                    row,
                    column: source.name().to_owned(),
                    value: source.level_name(level).unwrap_or("?").to_owned(),
                    seen: self
                        .seen
                        .levels(source)
                        .into_iter()
                        .map(str::to_owned)
                        .collect(),
                });
            }
        }
        Ok(())
    }
}
