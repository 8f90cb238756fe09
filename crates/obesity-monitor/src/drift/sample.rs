//! `ColumnSample`: the validated, compact form of one column that every detector reads. A
//! numeric column is kept sorted (what KS, Wasserstein and histograms need); a categorical
//! one as counts per category (what chi-square, the Z-test, PSI and JS need). The reference
//! side of a comparison is a column of a stored [`crate::ReferenceProfile`].

use std::collections::BTreeMap;

use obesity_data::{ColumnValues, NamedColumn};
use serde::{Deserialize, Serialize};

use crate::error::{MonitorError, Result};

/// The values of one column in the form detectors read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SampleValues {
    /// Real numbers, ascending, all finite.
    Numeric {
        /// The values (or, for a capped reference, evenly spaced order statistics).
        sorted: Vec<f64>,
    },
    /// Counts per category spelling.
    Categorical {
        /// Rows per category, at least one each.
        counts: BTreeMap<String, u64>,
    },
}

/// The values of a checked reference and current sample of one kind
/// ([`ColumnSample::pair`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SamplePair<'a> {
    /// Two numeric samples, each ascending and finite.
    Numeric {
        /// The reference's values.
        reference: &'a [f64],
        /// The current batch's values.
        current: &'a [f64],
    },
    /// Two categorical samples: rows per category.
    Categorical {
        /// The reference's counts.
        reference: &'a BTreeMap<String, u64>,
        /// The current batch's counts.
        current: &'a BTreeMap<String, u64>,
    },
}

/// One named column, validated (non-empty, finite) and summarised for drift detection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnSample {
    /// Column name.
    pub name: String,
    /// Number of rows the column had (a capped reference keeps fewer values than this).
    pub rows: u64,
    /// The values.
    pub values: SampleValues,
}

impl ColumnSample {
    /// Validates and summarises a column: numeric values must all be finite (NaN or an
    /// infinity is an error naming the column and row), and the column must not be empty.
    pub fn from_named(column: &NamedColumn) -> Result<Self> {
        Self::from_values(&column.name, &column.values)
    }

    /// Like [`ColumnSample::from_named`], from a name and values.
    pub fn from_values(name: &str, values: &ColumnValues) -> Result<Self> {
        if values.is_empty() {
            return Err(MonitorError::EmptyColumn {
                column: name.to_owned(),
            });
        }
        let values = match values {
            ColumnValues::Numeric(v) => {
                if let Some((row, value)) = v.iter().enumerate().find(|(_, x)| !x.is_finite()) {
                    return Err(MonitorError::NonFiniteValue {
                        column: name.to_owned(),
                        row,
                        value: *value,
                    });
                }
                let mut sorted = v.clone();
                sorted.sort_unstable_by(f64::total_cmp);
                SampleValues::Numeric { sorted }
            }
            ColumnValues::Categorical(v) => {
                let mut counts = BTreeMap::new();
                for s in v {
                    *counts.entry(s.clone()).or_insert(0u64) += 1;
                }
                SampleValues::Categorical { counts }
            }
        };
        Ok(ColumnSample {
            name: name.to_owned(),
            rows: values_len(&values),
            values,
        })
    }

    /// Whether the column is numeric.
    pub fn is_numeric(&self) -> bool {
        matches!(self.values, SampleValues::Numeric { .. })
    }

    /// Number of distinct values (categories, or distinct numbers).
    pub fn n_unique(&self) -> usize {
        match &self.values {
            SampleValues::Numeric { sorted } => count_distinct(sorted),
            SampleValues::Categorical { counts } => counts.len(),
        }
    }

    /// Checks what every detector assumes of this sample before computing on it: at least one
    /// value; numeric values finite and ascending; no category with a zero count. A custom
    /// [`DriftDetector`](crate::DriftDetector) calls [`ColumnSample::check_pair`] first, or [`ColumnSample::pair`] to get the values typed.
    ///
    /// # Errors
    /// [`MonitorError::EmptyColumn`], [`MonitorError::NonFiniteValue`],
    /// [`MonitorError::InvalidInput`].
    pub fn check(&self) -> Result<()> {
        check_sample(self)
    }

    /// Checks a reference and a current sample for a detector: each as [`ColumnSample::check`],
    /// and both of the same kind (numeric against numeric, categorical against categorical).
    ///
    /// # Errors
    /// Those of [`ColumnSample::check`], and [`MonitorError::KindMismatch`] naming the column
    /// and both kinds.
    pub fn check_pair(reference: &ColumnSample, current: &ColumnSample) -> Result<()> {
        check_sample(reference)?;
        check_sample(current)?;
        if reference.is_numeric() != current.is_numeric() {
            return Err(kind_mismatch(reference, current));
        }
        Ok(())
    }

    /// Checks a reference and a current sample as [`ColumnSample::check_pair`] does and
    /// hands back their values, typed by their common kind: what a custom
    /// [`DriftDetector`](crate::DriftDetector) matches on, with no arm for two kinds.
    ///
    /// ```
    /// use obesity_data::{ColumnValues, NamedColumn};
    /// use obesity_monitor::{ColumnSample, SamplePair};
    ///
    /// let sample = |values| ColumnSample::from_named(&NamedColumn { name: "t".into(), values });
    /// let reference = sample(ColumnValues::Numeric(vec![2.0, 1.0]))?;
    /// let current = sample(ColumnValues::Numeric(vec![3.0]))?;
    /// match ColumnSample::pair(&reference, &current)? {
    ///     SamplePair::Numeric { reference, current } => assert_eq!((reference, current), (&[1.0, 2.0][..], &[3.0][..])),
    ///     SamplePair::Categorical { .. } => unreachable!("both are numeric"),
    /// }
    /// let other = sample(ColumnValues::Categorical(vec!["a".into()]))?;
    /// assert!(ColumnSample::pair(&reference, &other).is_err());
    /// # Ok::<(), obesity_monitor::MonitorError>(())
    /// ```
    ///
    /// # Errors
    /// Those of [`ColumnSample::check_pair`].
    pub fn pair<'a>(
        reference: &'a ColumnSample,
        current: &'a ColumnSample,
    ) -> Result<SamplePair<'a>> {
        check_sample(reference)?;
        check_sample(current)?;
        match (&reference.values, &current.values) {
            (SampleValues::Numeric { sorted: r }, SampleValues::Numeric { sorted: c }) => {
                Ok(SamplePair::Numeric {
                    reference: r,
                    current: c,
                })
            }
            (SampleValues::Categorical { counts: r }, SampleValues::Categorical { counts: c }) => {
                Ok(SamplePair::Categorical {
                    reference: r,
                    current: c,
                })
            }
            _ => Err(kind_mismatch(reference, current)),
        }
    }

    /// A word for the kind, for messages: `numeric` or `categorical`.
    pub fn kind_name(&self) -> &'static str {
        if self.is_numeric() {
            "numeric"
        } else {
            "categorical"
        }
    }
}

fn values_len(values: &SampleValues) -> u64 {
    match values {
        SampleValues::Numeric { sorted } => sorted.len() as u64,
        SampleValues::Categorical { counts } => counts.values().sum(),
    }
}

pub(crate) fn count_distinct(sorted: &[f64]) -> usize {
    let mut n = 0;
    let mut last: Option<f64> = None;
    for &x in sorted {
        if last != Some(x) {
            n += 1;
            last = Some(x);
        }
    }
    n
}

/// Distinct values of an ascending slice with their counts.
pub(crate) fn runs(sorted: &[f64]) -> Vec<(f64, u64)> {
    let mut out: Vec<(f64, u64)> = Vec::new();
    for &x in sorted {
        match out.last_mut() {
            Some((v, c)) if *v == x => *c += 1,
            _ => out.push((x, 1)),
        }
    }
    out
}

/// Counts of both samples over the union of their values (categories, or distinct numbers
/// for a numeric column), in ascending key order: what chi-square, the Z-test and the
/// category branch of PSI/JS compare. Errors when one side is numeric and the other not.
pub(crate) fn aligned_counts(
    reference: &ColumnSample,
    current: &ColumnSample,
) -> Result<(Vec<f64>, Vec<f64>)> {
    match (&reference.values, &current.values) {
        (SampleValues::Numeric { sorted: a }, SampleValues::Numeric { sorted: b }) => {
            let (ra, rb) = (runs(a), runs(b));
            let (mut i, mut j) = (0, 0);
            let (mut ca, mut cb) = (Vec::new(), Vec::new());
            while i < ra.len() || j < rb.len() {
                match (ra.get(i), rb.get(j)) {
                    (Some(&(x, cx)), Some(&(y, cy))) if x == y => {
                        ca.push(cx as f64);
                        cb.push(cy as f64);
                        i += 1;
                        j += 1;
                    }
                    (Some(&(x, cx)), Some(&(y, _))) if x < y => {
                        ca.push(cx as f64);
                        cb.push(0.0);
                        i += 1;
                    }
                    (Some(&(x, cx)), None) => {
                        let _ = x;
                        ca.push(cx as f64);
                        cb.push(0.0);
                        i += 1;
                    }
                    (_, Some(&(_, cy))) => {
                        ca.push(0.0);
                        cb.push(cy as f64);
                        j += 1;
                    }
                    (None, None) => break,
                }
            }
            Ok((ca, cb))
        }
        (SampleValues::Categorical { counts: a }, SampleValues::Categorical { counts: b }) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            let ca = keys
                .iter()
                .map(|k| a.get(*k).copied().unwrap_or(0) as f64)
                .collect();
            let cb = keys
                .iter()
                .map(|k| b.get(*k).copied().unwrap_or(0) as f64)
                .collect();
            Ok((ca, cb))
        }
        _ => Err(kind_mismatch(reference, current)),
    }
}

/// Checks what every detector assumes of a sample: at least one value; numeric values finite
/// and ascending; no category with a zero count. [`ColumnSample`] has public fields (and is
/// `Deserialize`), so a sample built by hand must not reach the formulas unchecked: two empty
/// numeric samples would divide by zero in KS, and an unsorted one gives wrong statistics.
pub(crate) fn check_sample(sample: &ColumnSample) -> Result<()> {
    let empty = || MonitorError::EmptyColumn {
        column: sample.name.clone(),
    };
    match &sample.values {
        SampleValues::Numeric { sorted } => {
            if sorted.is_empty() {
                return Err(empty());
            }
            if let Some((row, value)) = sorted.iter().enumerate().find(|(_, x)| !x.is_finite()) {
                return Err(MonitorError::NonFiniteValue {
                    column: sample.name.clone(),
                    row,
                    value: *value,
                });
            }
            if let Some(i) = sorted.windows(2).position(|w| w[0] > w[1]) {
                return Err(MonitorError::InvalidInput {
                    what: "ColumnSample.values.sorted",
                    value: format!("column `{}`, position {}", sample.name, i + 1),
                    expected: "values in ascending order".to_owned(),
                });
            }
        }
        SampleValues::Categorical { counts } => {
            if counts.is_empty() {
                return Err(empty());
            }
            if let Some((category, _)) = counts.iter().find(|(_, n)| **n == 0) {
                return Err(MonitorError::InvalidInput {
                    what: "ColumnSample.values.counts",
                    value: format!("column `{}`, category `{category}` = 0", sample.name),
                    expected: "a count of at least 1 per listed category".to_owned(),
                });
            }
        }
    }
    Ok(())
}

pub(crate) fn kind_mismatch(reference: &ColumnSample, current: &ColumnSample) -> MonitorError {
    MonitorError::KindMismatch {
        column: current.name.clone(),
        expected: reference.kind_name().to_owned(),
        found: current.kind_name().to_owned(),
    }
}
