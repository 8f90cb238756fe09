//! The fitted pipeline: a fixed, serializable transform from records to a numeric matrix.

use ndarray::{Array1, Array2};
use obesity_data::{ObesityLevel, ObesityRecord, TARGET_COLUMN};
use serde::{Deserialize, Serialize};

use crate::config::{FeatureConfig, UnseenCategory};
use crate::dataset::Dataset;
use crate::error::{FeatureError, Result};
use crate::persist::PipelineSpec;
use crate::pipeline::{Column, SeenLevels};
use crate::source::{CategoricalSource, NumericSource};

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
    plan: Plan,
}

/// `columns` regrouped for the row loop: numeric columns with their statistics, and for each
/// categorical column a table from level to output position, so a row costs one write per
/// input column instead of one test per output column.
#[derive(Debug, Clone, PartialEq)]
struct Plan {
    numeric: Vec<(usize, NumericSource, f64, f64)>,
    ordinal: Vec<(usize, CategoricalSource)>,
    /// One-hot and yes/no columns: `positions[level]` is where a 1 goes, `NONE` for nowhere.
    indicators: Vec<(CategoricalSource, [u16; MAX_LEVELS])>,
}

const MAX_LEVELS: usize = 8;
const NONE: u16 = u16::MAX;

impl Plan {
    fn new(columns: &[Column]) -> Self {
        let mut plan = Plan {
            numeric: Vec::new(),
            ordinal: Vec::new(),
            indicators: Vec::new(),
        };
        for (j, column) in columns.iter().enumerate() {
            let mut mark = |source: CategoricalSource, level: usize| {
                let at = match plan.indicators.iter().position(|(s, _)| *s == source) {
                    Some(at) => at,
                    None => {
                        plan.indicators.push((source, [NONE; MAX_LEVELS]));
                        plan.indicators.len() - 1
                    }
                };
                if let (Some((_, positions)), Ok(j)) =
                    (plan.indicators.get_mut(at), u16::try_from(j))
                    && let Some(slot) = positions.get_mut(level)
                {
                    *slot = j;
                }
            };
            match *column {
                Column::Numeric {
                    source,
                    center,
                    scale,
                } => plan.numeric.push((j, source, center, scale)),
                Column::OneHot { source, level } => mark(source, level),
                Column::Flag { source } => mark(source, 1),
                Column::Ordinal { source } => plan.ordinal.push((j, source)),
            }
        }
        plan
    }
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
        let plan = Plan::new(&columns);
        FittedPipeline {
            config,
            columns,
            seen,
            feature_names,
            class_names,
            plan,
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
        let mut data = vec![0.0f32; records.len() * width];
        for (row, (record, out)) in records
            .iter()
            .zip(data.chunks_exact_mut(width.max(1)))
            .enumerate()
        {
            self.fill_row(row, record, out)?;
        }
        Array2::from_shape_vec((records.len(), width), data).map_err(|e| FeatureError::Shape {
            what: "feature matrix".to_owned(),
            expected: format!("{} x {width}", records.len()),
            found: e.to_string(),
        })
    }

    /// The features of one record into `out` (length [`n_features`](Self::n_features)),
    /// allocating nothing: what a server calls per request. The same values as the
    /// matching row of [`transform`](Self::transform).
    ///
    /// # Errors
    /// [`FeatureError::Shape`] when `out` is not `n_features` long, and every error of
    /// `transform` (naming row 0).
    pub fn transform_row_into(&self, record: &ObesityRecord, out: &mut [f32]) -> Result<()> {
        let width = self.columns.len();
        if out.len() != width {
            return Err(FeatureError::Shape {
                what: "output row".to_owned(),
                expected: format!("{width} values"),
                found: format!("{} values", out.len()),
            });
        }
        out.fill(0.0);
        self.fill_row(0, record, out)
    }

    /// Writes the features of `record` (row `row`, for messages) into a zeroed `out`.
    fn fill_row(&self, row: usize, record: &ObesityRecord, out: &mut [f32]) -> Result<()> {
        if self.config.unseen == UnseenCategory::Error {
            self.check_seen(row, record)?;
        }
        for &(j, source, center, scale) in &self.plan.numeric {
            let raw = source.value(record);
            let value = ((raw - center) / scale) as f32;
            if !(raw.is_finite() && value.is_finite()) {
                return Err(FeatureError::NonFinite {
                    row,
                    column: source.name().to_owned(),
                    value: raw,
                });
            }
            if let Some(slot) = out.get_mut(j) {
                *slot = value;
            }
        }
        for &(j, source) in &self.plan.ordinal {
            if let Some(slot) = out.get_mut(j) {
                *slot = source.level(record) as f32;
            }
        }
        for (source, positions) in &self.plan.indicators {
            let j = positions.get(source.level(record)).copied().unwrap_or(NONE);
            if let Some(slot) = out.get_mut(usize::from(j)) {
                *slot = 1.0;
            }
        }
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{BinaryEncoding, FrequencyEncoding, Scaling};
    use crate::pipeline::FeaturePipeline;
    use obesity_data::{Frequency, Gender, Transport};

    fn records(n: usize) -> Vec<ObesityRecord> {
        (0..n)
            .map(|i| {
                let f = i as f64;
                ObesityRecord {
                    gender: Gender::ALL[i % 2],
                    age: 15.0 + (f * 3.7) % 40.0,
                    height: 1.5 + (f * 0.013) % 0.4,
                    weight: 45.0 + (f * 7.1) % 100.0,
                    family_history_with_overweight: i % 3 == 0,
                    favc: i % 5 != 0,
                    fcvc: 1.0 + (f * 0.3) % 2.0,
                    ncp: 1.0 + (f * 0.7) % 3.0,
                    caec: Frequency::ALL[i % 4],
                    smoke: i % 11 == 0,
                    ch2o: 1.0 + (f * 0.9) % 2.0,
                    scc: i % 6 == 1,
                    faf: (f * 0.4) % 3.0,
                    tue: (f * 0.2) % 2.0,
                    // Levels 0..=2 only in the first half, so "unseen" rules have work to do.
                    calc: Frequency::ALL[if i < n / 2 { i % 3 } else { i % 4 }],
                    mtrans: Transport::ALL[(i / 2) % 5],
                    target: None,
                }
            })
            .collect()
    }

    /// The grouped row loop gives, bit for bit, what each column's definition gives.
    #[test]
    fn row_loop_matches_the_per_column_definition() {
        let all = records(120);
        let (train, rest) = all.split_at(60);
        for bmi in [true, false] {
            for frequency in [FrequencyEncoding::Ordinal, FrequencyEncoding::OneHot] {
                for binary in [BinaryEncoding::Single, BinaryEncoding::OneHot] {
                    for scaling in [Scaling::None, Scaling::Standard] {
                        for unseen in [UnseenCategory::SchemaLevels, UnseenCategory::IgnoreUnseen] {
                            let config = FeatureConfig {
                                bmi,
                                frequency,
                                binary,
                                scaling,
                                unseen,
                            };
                            let fitted = FeaturePipeline::new(config).fit(train).unwrap();
                            let x = fitted.transform(rest).unwrap();
                            for (i, r) in rest.iter().enumerate() {
                                for (j, column) in fitted.columns.iter().enumerate() {
                                    let want = column.value(i, r).unwrap();
                                    assert_eq!(
                                        x[[i, j]].to_bits(),
                                        want.to_bits(),
                                        "{config:?} {i} {j}"
                                    );
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
