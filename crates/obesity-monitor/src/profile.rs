//! `ReferenceProfile`: what drift detection keeps of the training data. Built once, saved
//! as JSON next to the model (the registry stores it as an opaque artifact), so a running
//! service compares batches against it without holding the training set.

use std::collections::{BTreeMap, BTreeSet};

use obesity_data::NamedColumn;
use serde::{Deserialize, Serialize};

use crate::drift::{ColumnSample, SampleValues};
use crate::error::{MonitorError, Result};

/// The format version written into every profile; reading another version is an error.
pub const PROFILE_FORMAT_VERSION: u32 = 1;

/// By default a numeric column keeps every value up to this many rows (exact KS,
/// Wasserstein and histograms, as Evidently computes them from the full reference).
pub const DEFAULT_MAX_SAMPLE: usize = 100_000;

/// The kind of a profiled column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeatureKind {
    /// Real numbers.
    Numeric,
    /// Categories (three or more in the reference).
    Categorical,
    /// Categories, at most two in the reference (yes/no columns).
    Binary,
}

/// What the profile keeps of one column.
///
/// Numeric columns keep their sorted values rather than fixed histogram edges: Evidently
/// bins PSI and Jensen–Shannon with Sturges bins over reference *and* current together, so
/// edges frozen at training time could not reproduce its numbers. Histograms are computed
/// per comparison from the sorted sample (a binary search per edge).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnProfile {
    /// Numeric, categorical or binary.
    pub kind: FeatureKind,
    /// The reference sample: every value sorted (numeric, up to the cap) or counts per
    /// category. `sample.rows` is the number of reference rows.
    pub sample: ColumnSample,
    /// Whether the numeric sample was capped: it then holds evenly spaced order statistics
    /// (a quantile sketch) instead of every value, and KS/Wasserstein/PSI/JS are
    /// approximations within about 1 / (kept values) in CDF terms.
    pub sketched: bool,
    /// Mean of the full column (numeric only).
    pub mean: Option<f64>,
    /// Population standard deviation of the full column (numeric only), Wasserstein's norm.
    pub std: Option<f64>,
}

/// The artifact file that holds a registered version's [`ReferenceProfile`] (as
/// [`ReferenceProfile::to_json`]), next to its model: the trainer writes it, the server and
/// `obesity drift` read it, so the name lives here, with the profile.
pub const REFERENCE_PROFILE_FILE: &str = "reference_profile.json";

/// The reference side of drift detection: one [`ColumnProfile`] per column, in input order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReferenceProfile {
    /// [`PROFILE_FORMAT_VERSION`] when written.
    pub format_version: u32,
    /// Rows in the reference data.
    pub rows: u64,
    /// Column names in input order.
    pub column_order: Vec<String>,
    /// Profiles by column name.
    pub columns: BTreeMap<String, ColumnProfile>,
}

impl ReferenceProfile {
    /// Profiles `columns` (e.g. `obesity_data::feature_columns(&train)`), keeping every value
    /// of numeric columns of up to [`DEFAULT_MAX_SAMPLE`] rows.
    pub fn from_columns(columns: &[NamedColumn]) -> Result<Self> {
        Self::from_columns_capped(columns, DEFAULT_MAX_SAMPLE)
    }

    /// Like [`ReferenceProfile::from_columns`], keeping at most `max_sample` values per
    /// numeric column (at least 2): a larger column is reduced to `max_sample` evenly spaced
    /// order statistics (ranks `round(i (n - 1) / (max_sample - 1))`), a quantile sketch whose
    /// empirical CDF is within `1 / (max_sample - 1)` of the full one.
    pub fn from_columns_capped(columns: &[NamedColumn], max_sample: usize) -> Result<Self> {
        if max_sample < 2 {
            return Err(MonitorError::InvalidDriftOption {
                option: "max_sample".to_owned(),
                value: max_sample as f64,
                expected: "at least 2",
            });
        }
        let mut seen = BTreeSet::new();
        let mut profiles = BTreeMap::new();
        let mut order = Vec::with_capacity(columns.len());
        let mut rows = 0u64;
        for column in columns {
            if !seen.insert(column.name.clone()) {
                return Err(MonitorError::DuplicateColumn {
                    column: column.name.clone(),
                });
            }
            let mut sample = ColumnSample::from_named(column)?;
            rows = rows.max(sample.rows);
            let (kind, sketched, mean, std) = match &mut sample.values {
                SampleValues::Numeric { sorted } => {
                    let n = sorted.len() as f64;
                    let mean = sorted.iter().sum::<f64>() / n;
                    let var = sorted.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
                    let sketched = sorted.len() > max_sample;
                    if sketched {
                        *sorted = quantile_sketch(sorted, max_sample);
                    }
                    (FeatureKind::Numeric, sketched, Some(mean), Some(var.sqrt()))
                }
                SampleValues::Categorical { counts } => {
                    let kind = if counts.len() <= 2 {
                        FeatureKind::Binary
                    } else {
                        FeatureKind::Categorical
                    };
                    (kind, false, None, None)
                }
            };
            order.push(column.name.clone());
            profiles.insert(
                column.name.clone(),
                ColumnProfile {
                    kind,
                    sample,
                    sketched,
                    mean,
                    std,
                },
            );
        }
        Ok(ReferenceProfile {
            format_version: PROFILE_FORMAT_VERSION,
            rows,
            column_order: order,
            columns: profiles,
        })
    }

    /// The profile of a column.
    pub fn column(&self, name: &str) -> Option<&ColumnProfile> {
        self.columns.get(name)
    }

    /// Serialises to JSON (what the registry stores next to the model).
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string(self).map_err(|e| MonitorError::ProfileFormat {
            reason: e.to_string(),
        })
    }

    /// Reads a profile written by [`ReferenceProfile::to_json`]; rejects other format
    /// versions and profiles whose columns are inconsistent.
    pub fn from_json(json: &str) -> Result<Self> {
        let p: ReferenceProfile =
            serde_json::from_str(json).map_err(|e| MonitorError::ProfileFormat {
                reason: e.to_string(),
            })?;
        if p.format_version != PROFILE_FORMAT_VERSION {
            return Err(MonitorError::ProfileFormat {
                reason: format!(
                    "format_version {} (this build reads {PROFILE_FORMAT_VERSION})",
                    p.format_version
                ),
            });
        }
        let mut listed = BTreeSet::new();
        for name in &p.column_order {
            let Some(c) = p.columns.get(name) else {
                return Err(MonitorError::ProfileFormat {
                    reason: format!("column `{name}` is listed but has no profile"),
                });
            };
            // A repeated name would be tested (and counted in the drift share) twice.
            if !listed.insert(name.as_str()) {
                return Err(MonitorError::ProfileFormat {
                    reason: format!("column `{name}` is listed twice in column_order"),
                });
            }
            if c.sample.name != *name {
                return Err(MonitorError::ProfileFormat {
                    reason: format!("column `{name}`: its sample is named `{}`", c.sample.name),
                });
            }
            if let Err(reason) = check_consistent(c) {
                return Err(MonitorError::ProfileFormat {
                    reason: format!("column `{name}`: {reason}"),
                });
            }
            let ok = match &c.sample.values {
                SampleValues::Numeric { sorted } => {
                    !sorted.is_empty()
                        && sorted.iter().all(|x| x.is_finite())
                        && sorted.windows(2).all(|w| w[0] <= w[1])
                }
                SampleValues::Categorical { counts } => {
                    !counts.is_empty() && counts.values().all(|c| *c > 0)
                }
            };
            if !ok {
                return Err(MonitorError::ProfileFormat {
                    reason: format!("column `{name}`: sample is empty, unsorted or not finite"),
                });
            }
        }
        // A profile nobody lists would silently never be tested.
        if let Some(name) = p.columns.keys().find(|k| !listed.contains(k.as_str())) {
            return Err(MonitorError::ProfileFormat {
                reason: format!("column `{name}` has a profile but is not in column_order"),
            });
        }
        let max_rows = p.columns.values().map(|c| c.sample.rows).max().unwrap_or(0);
        if p.rows != max_rows {
            return Err(MonitorError::ProfileFormat {
                reason: format!(
                    "rows = {} but the largest column has {max_rows} rows",
                    p.rows
                ),
            });
        }
        Ok(p)
    }
}

/// Checks that a column's kind, row count and statistics agree with its sample (what
/// [`ReferenceProfile::from_columns`] guarantees), so a hand-edited profile cannot pick the
/// wrong test (the automatic choice reads `rows`) or norm Wasserstein by a negative std.
fn check_consistent(c: &ColumnProfile) -> std::result::Result<(), String> {
    let finite_or_none = |field: &str, v: Option<f64>| match v {
        Some(x) if !(x.is_finite() && (field != "std" || x >= 0.0)) => Err(format!(
            "{field} = {x}, expected a finite number{}",
            if field == "std" { " >= 0" } else { "" }
        )),
        _ => Ok(()),
    };
    finite_or_none("mean", c.mean)?;
    finite_or_none("std", c.std)?;
    match (&c.sample.values, c.kind) {
        (SampleValues::Numeric { sorted }, FeatureKind::Numeric) => {
            let kept = sorted.len() as u64;
            let rows_ok = if c.sketched {
                c.sample.rows >= kept
            } else {
                c.sample.rows == kept
            };
            if rows_ok {
                Ok(())
            } else {
                Err(format!(
                    "sample.rows = {} but the sample keeps {kept} values (sketched: {})",
                    c.sample.rows, c.sketched
                ))
            }
        }
        (SampleValues::Categorical { counts }, FeatureKind::Categorical | FeatureKind::Binary) => {
            let total = counts
                .values()
                .try_fold(0u64, |acc, n| acc.checked_add(*n))
                .ok_or_else(|| "category counts overflow u64".to_owned())?;
            if c.sample.rows == total {
                Ok(())
            } else {
                Err(format!(
                    "sample.rows = {} but the category counts sum to {total}",
                    c.sample.rows
                ))
            }
        }
        (values, kind) => Err(format!(
            "kind is {kind:?} but the sample is {}",
            match values {
                SampleValues::Numeric { .. } => "numeric",
                SampleValues::Categorical { .. } => "categorical",
            }
        )),
    }
}

fn quantile_sketch(sorted: &[f64], k: usize) -> Vec<f64> {
    let n = sorted.len();
    (0..k)
        .map(|i| {
            let rank = ((i as f64) * (n - 1) as f64 / (k - 1) as f64).round() as usize;
            sorted[rank.min(n - 1)]
        })
        .collect()
}
