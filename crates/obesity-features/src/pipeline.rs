//! The unfitted pipeline (the factory) and what `fit` learns: which levels were seen, the
//! column layout, and the scaling statistics.

use obesity_data::ObesityRecord;

use crate::config::{BinaryEncoding, FeatureConfig, FrequencyEncoding, Scaling, UnseenCategory};
use crate::error::{FeatureError, Result};
use crate::fitted::FittedPipeline;
use crate::source::{CategoricalSource, NumericSource};

/// A feature pipeline that has not seen data yet: holds a [`FeatureConfig`] and fits it.
///
/// As in linfa, the unfitted and the fitted pipeline are different types: `fit` learns from
/// training records and returns a [`FittedPipeline`], which is what you apply to any records
/// (test split, serving requests) and what you save next to a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FeaturePipeline {
    config: FeatureConfig,
}

impl FeaturePipeline {
    /// A pipeline with these settings. Every [`FeatureConfig`] is valid, so this cannot fail.
    pub fn new(config: FeatureConfig) -> Self {
        FeaturePipeline { config }
    }

    /// A pipeline with [`FeatureConfig::standard`]: the 32-column one-hot matrix.
    pub fn standard() -> Self {
        FeaturePipeline::new(FeatureConfig::standard())
    }

    /// The settings.
    pub fn config(&self) -> &FeatureConfig {
        &self.config
    }

    /// Learns the seen levels and (with [`Scaling::Standard`]) the mean and standard deviation
    /// of each numeric column from `records`. Targets are not used, so unlabelled records are
    /// fine.
    ///
    /// # Errors
    /// [`FeatureError::EmptyFit`] for no records; [`FeatureError::NonFinite`] naming the first
    /// row and column whose numeric value (or BMI) is NaN, infinite or beyond `f32` range.
    pub fn fit(&self, records: &[ObesityRecord]) -> Result<FittedPipeline> {
        if records.is_empty() {
            return Err(FeatureError::EmptyFit);
        }
        let mut seen = SeenLevels::default();
        for record in records {
            for source in CategoricalSource::ALL {
                seen.insert(source, source.level(record));
            }
        }
        let mut columns = layout(&self.config, &seen);
        for (row, record) in records.iter().enumerate() {
            for column in &columns {
                if let Column::Numeric { source, .. } = *column {
                    let value = source.value(record);
                    if !fits_f32(value) {
                        return Err(FeatureError::NonFinite {
                            row,
                            column: source.name().to_owned(),
                            value,
                        });
                    }
                }
            }
        }
        if self.config.scaling == Scaling::Standard {
            for column in &mut columns {
                if let Column::Numeric {
                    source,
                    center,
                    scale,
                } = column
                {
                    (*center, *scale) = standard_scaler(records.iter().map(|r| source.value(r)));
                }
            }
        }
        Ok(FittedPipeline::from_parts(self.config, columns, seen))
    }
}

/// Whether `value` is finite and stays finite when converted to `f32`.
pub(crate) fn fits_f32(value: f64) -> bool {
    value.is_finite() && (value as f32).is_finite()
}

/// Mean and scale of scikit-learn's `StandardScaler` (population variance), with scale 1 for
/// a column that is constant up to rounding (scikit-learn's `_is_constant_feature` bound:
/// `var <= n·eps·var + (n·mean·eps)²`), so a constant column is never divided by ~0.
///
/// The caller guarantees at least one value, each finite within `f32` range, so the sums
/// cannot overflow `f64`.
pub(crate) fn standard_scaler(values: impl Iterator<Item = f64> + Clone) -> (f64, f64) {
    let (n, sum) = values
        .clone()
        .fold((0usize, 0.0f64), |(n, s), v| (n + 1, s + v));
    let n_f = n.max(1) as f64;
    let mean = sum / n_f;
    let var = values.map(|v| (v - mean) * (v - mean)).sum::<f64>() / n_f;
    let eps = f64::EPSILON;
    let upper_bound = n_f * eps * var + (n_f * mean * eps).powi(2);
    let scale = if var <= upper_bound { 1.0 } else { var.sqrt() };
    (mean, scale)
}

/// One output column: where its value comes from and how it is encoded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Column {
    /// `(value - center) / scale`; center 0 and scale 1 when not scaling.
    Numeric {
        source: NumericSource,
        center: f64,
        scale: f64,
    },
    /// 1 when the record's level is `level` (schema index), else 0.
    OneHot {
        source: CategoricalSource,
        level: usize,
    },
    /// The level's schema index (its ordinal code).
    Ordinal { source: CategoricalSource },
    /// 1 for `yes`, 0 for `no`.
    Flag { source: CategoricalSource },
}

impl Column {
    /// The readable feature name (`Age`, `BMI`, `MTRANS=Walking`, `CAEC`, `FAVC=yes`).
    pub(crate) fn name(&self) -> String {
        match *self {
            Column::Numeric { source, .. } => source.name().to_owned(),
            Column::OneHot { source, level } => {
                format!(
                    "{}={}",
                    source.name(),
                    source.level_name(level).unwrap_or("?")
                )
            }
            Column::Ordinal { source } => source.name().to_owned(),
            Column::Flag { source } => format!("{}=yes", source.name()),
        }
    }

    /// The value of this column for `record`, by the definition: the reference that the
    /// grouped row loop of `FittedPipeline::transform` is tested against.
    #[cfg(test)]
    pub(crate) fn value(&self, row: usize, record: &ObesityRecord) -> Result<f32> {
        match *self {
            Column::Numeric {
                source,
                center,
                scale,
            } => {
                let raw = source.value(record);
                let out = ((raw - center) / scale) as f32;
                if raw.is_finite() && out.is_finite() {
                    Ok(out)
                } else {
                    Err(FeatureError::NonFinite {
                        row,
                        column: source.name().to_owned(),
                        value: raw,
                    })
                }
            }
            Column::OneHot { source, level } => Ok(indicator(source.level(record) == level)),
            Column::Ordinal { source } => Ok(source.level(record) as f32),
            Column::Flag { source } => Ok(indicator(source.level(record) == 1)),
        }
    }
}

#[cfg(test)]
fn indicator(on: bool) -> f32 {
    if on { 1.0 } else { 0.0 }
}

/// Which levels of each categorical column occurred in the records given to `fit`: one bit
/// per level (no column has more than 8 levels).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct SeenLevels([u8; CategoricalSource::ALL.len()]);

impl SeenLevels {
    pub(crate) fn insert(&mut self, source: CategoricalSource, level: usize) {
        if let (Some(mask), true) = (self.0.get_mut(source.position()), level < 8) {
            *mask |= 1 << level;
        }
    }

    pub(crate) fn contains(&self, source: CategoricalSource, level: usize) -> bool {
        level < 8
            && self
                .0
                .get(source.position())
                .is_some_and(|mask| mask & (1 << level) != 0)
    }

    /// The seen levels of `source`, in schema order.
    pub(crate) fn levels(&self, source: CategoricalSource) -> Vec<&'static str> {
        (0..source.n_levels())
            .filter(|&level| self.contains(source, level))
            .filter_map(|level| source.level_name(level))
            .collect()
    }
}

/// The output columns for `config`, in the documented order, unscaled (center 0, scale 1).
/// Depends on the data only through `seen`, and only when the unseen rule is not
/// [`UnseenCategory::SchemaLevels`].
pub(crate) fn layout(config: &FeatureConfig, seen: &SeenLevels) -> Vec<Column> {
    let mut columns: Vec<Column> = NumericSource::MEASURED
        .iter()
        .map(|&source| Column::Numeric {
            source,
            center: 0.0,
            scale: 1.0,
        })
        .collect();
    if config.bmi {
        columns.push(Column::Numeric {
            source: NumericSource::Bmi,
            center: 0.0,
            scale: 1.0,
        });
    }
    for source in CategoricalSource::ALL {
        if source.is_frequency() && config.frequency == FrequencyEncoding::Ordinal {
            columns.push(Column::Ordinal { source });
        } else if source.is_binary() && config.binary == BinaryEncoding::Single {
            columns.push(Column::Flag { source });
        } else {
            for level in 0..source.n_levels() {
                if config.unseen == UnseenCategory::SchemaLevels || seen.contains(source, level) {
                    columns.push(Column::OneHot { source, level });
                }
            }
        }
    }
    columns
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_scaler_matches_population_statistics() {
        let (mean, scale) = standard_scaler([1.0, 2.0, 3.0, 4.0].into_iter());
        assert_eq!(mean, 2.5);
        assert!((scale - 1.25f64.sqrt()).abs() < 1e-15);
    }

    #[test]
    fn constant_column_gets_scale_one_even_with_rounding() {
        // 0.1 summed 7 times is not 0.7 exactly, so the two-pass variance is a tiny positive
        // number: the bound must still call the column constant.
        let (_, scale) = standard_scaler(std::iter::repeat_n(0.1, 7));
        assert_eq!(scale, 1.0);
        let (mean, scale) = standard_scaler(std::iter::repeat_n(1.7, 1000));
        assert!((mean - 1.7).abs() < 1e-12);
        assert_eq!(scale, 1.0);
    }
}
