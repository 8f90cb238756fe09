//! `DriftReport`: Evidently's `DataDriftPreset` in Rust — one test per column (chosen as
//! Evidently chooses, or overridden), the share of drifted columns and the dataset verdict —
//! plus prediction drift on predicted classes and confidence.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use obesity_data::{ColumnValues, NamedColumn};
use serde::{Deserialize, Serialize};

use crate::drift::{
    ColumnSample, DriftDetector, KsMethod, StatTest, StatTestDetector, check_threshold,
};
use crate::error::{MonitorError, Result};
use crate::profile::{FeatureKind, ReferenceProfile};

/// The format version written into every report (2: rows name their `detector`, and
/// `stattest` is empty for a custom one).
pub const REPORT_FORMAT_VERSION: u32 = 2;

/// Custom detectors of a drift run ([`DriftOptions::detector`],
/// [`DriftOptions::column_detector`]): code, not settings, so they are not serialized with
/// the options. Two sets are equal when they hold the same detector objects.
#[derive(Clone, Default)]
pub struct CustomDetectors {
    all: Option<Arc<dyn DriftDetector>>,
    per_column: BTreeMap<String, Arc<dyn DriftDetector>>,
}

impl CustomDetectors {
    /// The detector for `column`: its own, else the one for every column.
    fn for_column(&self, column: &str) -> Option<&Arc<dyn DriftDetector>> {
        self.per_column.get(column).or(self.all.as_ref())
    }
}

impl fmt::Debug for CustomDetectors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CustomDetectors")
            .field("all", &self.all.as_ref().map(|d| d.name().to_owned()))
            .field(
                "per_column",
                &self
                    .per_column
                    .iter()
                    .map(|(c, d)| (c.clone(), d.name().to_owned()))
                    .collect::<BTreeMap<_, _>>(),
            )
            .finish()
    }
}

impl PartialEq for CustomDetectors {
    fn eq(&self, other: &Self) -> bool {
        let same = |a: &Arc<dyn DriftDetector>, b: &Arc<dyn DriftDetector>| Arc::ptr_eq(a, b);
        let all = match (&self.all, &other.all) {
            (None, None) => true,
            (Some(a), Some(b)) => same(a, b),
            _ => false,
        };
        all && self.per_column.len() == other.per_column.len()
            && self
                .per_column
                .iter()
                .zip(&other.per_column)
                .all(|((ca, a), (cb, b))| ca == cb && same(a, b))
    }
}

/// Per-column override of the test and/or threshold.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ColumnDriftOptions {
    /// The test; by default, the automatic choice.
    pub stattest: Option<StatTest>,
    /// The threshold; by default, the test's default.
    pub threshold: Option<f64>,
}

/// Options of a drift run, Evidently's `DataDriftPreset` arguments: overall `stattest` and
/// `stattest_threshold`, per-column overrides, and `drift_share`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftOptions {
    /// Test for every column without an override; by default, Evidently's automatic choice.
    pub stattest: Option<StatTest>,
    /// Threshold for every column without an override; by default, the test's default.
    pub threshold: Option<f64>,
    /// Per-column overrides (they win over the overall settings).
    pub per_column: BTreeMap<String, ColumnDriftOptions>,
    /// Share of drifted columns at which the dataset drifts; by default, 0.5.
    pub drift_share: f64,
    /// KS p-value method; by default, `Auto` (scipy's default).
    pub ks_method: KsMethod,
    /// Custom detectors, which win over the built-in tests where they apply (not serialized).
    #[serde(skip)]
    pub custom: CustomDetectors,
}

impl Default for DriftOptions {
    fn default() -> Self {
        DriftOptions {
            stattest: None,
            threshold: None,
            per_column: BTreeMap::new(),
            drift_share: 0.5,
            ks_method: KsMethod::Auto,
            custom: CustomDetectors::default(),
        }
    }
}

impl DriftOptions {
    /// Uses `stattest` for every column without an override.
    pub fn stattest(mut self, stattest: StatTest) -> Self {
        self.stattest = Some(stattest);
        self
    }

    /// Runs `detector` on every column without a column detector of its own, in place of the
    /// built-in tests (Evidently's automatic choice is just the default detector). Its
    /// [`DriftDetector::name`] is what the report's rows show.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use obesity_monitor::{ColumnSample, DriftDetector, DriftOptions, DriftResult, Result};
    ///
    /// /// Drift when the share of distinct values moved by more than a tenth.
    /// struct UniqueShare;
    /// impl DriftDetector for UniqueShare {
    ///     fn name(&self) -> &str { "unique_share" }
    ///     fn detect(&self, reference: &ColumnSample, current: &ColumnSample) -> Result<DriftResult> {
    ///         ColumnSample::check_pair(reference, current)?;
    ///         let share = |s: &ColumnSample| s.n_unique() as f64 / s.rows as f64;
    ///         let d = (share(reference) - share(current)).abs();
    ///         Ok(DriftResult { statistic: d, p_value: None, score: d, threshold: 0.1, drifted: d > 0.1 })
    ///     }
    /// }
    /// let options = DriftOptions::default().detector(Arc::new(UniqueShare));
    /// # let _ = options;
    /// ```
    pub fn detector(mut self, detector: Arc<dyn DriftDetector>) -> Self {
        self.custom.all = Some(detector);
        self
    }

    /// Runs `detector` on the column `name`, in place of every other setting for it.
    pub fn column_detector(mut self, name: &str, detector: Arc<dyn DriftDetector>) -> Self {
        self.custom.per_column.insert(name.to_owned(), detector);
        self
    }

    /// Uses `threshold` for every column without an override.
    pub fn threshold(mut self, threshold: f64) -> Self {
        self.threshold = Some(threshold);
        self
    }

    /// Overrides the test (and optionally the threshold) of one column.
    pub fn column(
        mut self,
        name: &str,
        stattest: Option<StatTest>,
        threshold: Option<f64>,
    ) -> Self {
        self.per_column.insert(
            name.to_owned(),
            ColumnDriftOptions {
                stattest,
                threshold,
            },
        );
        self
    }

    /// Sets the share of drifted columns at which the dataset drifts.
    pub fn drift_share(mut self, share: f64) -> Self {
        self.drift_share = share;
        self
    }

    /// Sets the KS p-value method.
    pub fn ks_method(mut self, method: KsMethod) -> Self {
        self.ks_method = method;
        self
    }

    fn validate(&self) -> Result<()> {
        if !(self.drift_share.is_finite() && (0.0..=1.0).contains(&self.drift_share)) {
            return Err(MonitorError::InvalidDriftOption {
                option: "drift_share".to_owned(),
                value: self.drift_share,
                expected: "a number in [0, 1]",
            });
        }
        if let Some(t) = self.threshold {
            check_threshold("all columns", t)?;
        }
        for (name, o) in &self.per_column {
            if let Some(t) = o.threshold {
                check_threshold(name, t)?;
            }
        }
        Ok(())
    }
}

/// The drift verdict of one column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnDrift {
    /// Column name.
    pub column: String,
    /// Kind in the reference profile.
    pub kind: FeatureKind,
    /// The name of the detector that ran ([`DriftDetector::name`]: Evidently's test name for
    /// the built-in ones).
    pub detector: String,
    /// The built-in test that ran; `None` for a custom detector.
    pub stattest: Option<StatTest>,
    /// The test statistic (infinite for chi-square when a category is new; JSON spells
    /// that `"inf"`).
    #[serde(with = "crate::drift::nonfinite")]
    pub statistic: f64,
    /// The p-value (KS, chi-square, Z).
    pub p_value: Option<f64>,
    /// Evidently's `drift_score` (p-value or distance).
    pub score: f64,
    /// The threshold.
    pub threshold: f64,
    /// Whether the column drifted.
    pub drifted: bool,
    /// Rows in the reference.
    pub reference_rows: u64,
    /// Rows in the current batch.
    pub current_rows: u64,
}

/// A drift report: per-column verdicts and the dataset verdict, as Evidently's
/// `DataDriftTable` + `DatasetDriftMetric`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftReport {
    /// [`REPORT_FORMAT_VERSION`].
    pub format_version: u32,
    /// One entry per reference column, in the profile's order.
    pub columns: Vec<ColumnDrift>,
    /// Number of columns tested.
    pub number_of_columns: usize,
    /// Number of drifted columns.
    pub number_of_drifted_columns: usize,
    /// `number_of_drifted_columns / number_of_columns`.
    pub share_of_drifted_columns: f64,
    /// The drift share threshold used.
    pub drift_share: f64,
    /// Whether the dataset drifted: `share_of_drifted_columns >= drift_share`.
    pub dataset_drift: bool,
}

impl DriftReport {
    /// The verdict of one column.
    pub fn column(&self, name: &str) -> Option<&ColumnDrift> {
        self.columns.iter().find(|c| c.column == name)
    }

    /// The report as pretty JSON.
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string_pretty(self).map_err(|e| MonitorError::ProfileFormat {
            reason: e.to_string(),
        })
    }
}

impl ReferenceProfile {
    /// Compares a current batch with this profile, one test per profiled column. Every
    /// profiled column must be in `current`, with the same kind; extra columns are ignored.
    pub fn drift(&self, current: &[NamedColumn], options: &DriftOptions) -> Result<DriftReport> {
        options.validate()?;
        let mut by_name: BTreeMap<&str, &NamedColumn> = BTreeMap::new();
        for c in current {
            if by_name.insert(c.name.as_str(), c).is_some() {
                return Err(MonitorError::DuplicateColumn {
                    column: c.name.clone(),
                });
            }
        }
        let mut columns = Vec::with_capacity(self.column_order.len());
        for name in &self.column_order {
            let profile = self
                .columns
                .get(name)
                .ok_or_else(|| MonitorError::ProfileFormat {
                    reason: format!("column `{name}` is listed but has no profile"),
                })?;
            let cur = by_name
                .get(name.as_str())
                .ok_or_else(|| MonitorError::MissingColumn {
                    column: name.clone(),
                })?;
            let cur = ColumnSample::from_named(cur)?;
            let reference = &profile.sample;
            if reference.is_numeric() != cur.is_numeric() {
                return Err(MonitorError::KindMismatch {
                    column: name.clone(),
                    expected: reference.kind_name().to_owned(),
                    found: cur.kind_name().to_owned(),
                });
            }
            if let Some(custom) = options.custom.for_column(name) {
                let r = custom.detect(reference, &cur)?;
                columns.push(ColumnDrift {
                    column: name.clone(),
                    kind: profile.kind,
                    detector: custom.name().to_owned(),
                    stattest: None,
                    statistic: r.statistic,
                    p_value: r.p_value,
                    score: r.score,
                    threshold: r.threshold,
                    drifted: r.drifted,
                    reference_rows: reference.rows,
                    current_rows: cur.rows,
                });
                continue;
            }
            let over = options.per_column.get(name).copied().unwrap_or_default();
            let stattest = match over.stattest.or(options.stattest) {
                Some(t) => t,
                None => StatTest::default_for(
                    reference.is_numeric(),
                    reference.rows,
                    union_unique(reference, &cur),
                ),
            };
            let threshold = over
                .threshold
                .or(options.threshold)
                .unwrap_or(stattest.default_threshold());
            let detector = StatTestDetector {
                stattest,
                threshold,
                ks_method: options.ks_method,
            };
            let r = detector.run(reference, profile.std, &cur)?;
            columns.push(ColumnDrift {
                column: name.clone(),
                kind: profile.kind,
                detector: stattest.name().to_owned(),
                stattest: Some(stattest),
                statistic: r.statistic,
                p_value: r.p_value,
                score: r.score,
                threshold: r.threshold,
                drifted: r.drifted,
                reference_rows: reference.rows,
                current_rows: cur.rows,
            });
        }
        let n = columns.len();
        let drifted = columns.iter().filter(|c| c.drifted).count();
        let share = if n == 0 {
            0.0
        } else {
            drifted as f64 / n as f64
        };
        Ok(DriftReport {
            format_version: REPORT_FORMAT_VERSION,
            number_of_columns: n,
            number_of_drifted_columns: drifted,
            share_of_drifted_columns: share,
            drift_share: options.drift_share,
            dataset_drift: n > 0 && share >= options.drift_share,
            columns,
        })
    }
}

fn union_unique(a: &ColumnSample, b: &ColumnSample) -> usize {
    use crate::drift::SampleValues;
    match (&a.values, &b.values) {
        (SampleValues::Numeric { sorted: x }, SampleValues::Numeric { sorted: y }) => {
            let mut all: Vec<f64> = x.iter().chain(y).copied().collect();
            all.sort_unstable_by(f64::total_cmp);
            all.dedup();
            all.len()
        }
        (SampleValues::Categorical { counts: x }, SampleValues::Categorical { counts: y }) => {
            x.keys().chain(y.keys()).collect::<BTreeSet<_>>().len()
        }
        _ => 0,
    }
}

/// Column name of the predicted class in [`prediction_columns`].
pub const PREDICTION_COLUMN: &str = "prediction";
/// Column name of the prediction confidence in [`prediction_columns`].
pub const CONFIDENCE_COLUMN: &str = "prediction_confidence";

/// Prediction drift input: the predicted class names (categorical) and the confidence of
/// each prediction (numeric, the largest class probability), as two columns that
/// [`ReferenceProfile::from_columns`] and [`ReferenceProfile::drift`] take like features.
/// Profile the model's predictions on its validation data once; compare serving batches.
pub fn prediction_columns(predicted: &[String], confidence: &[f64]) -> Result<Vec<NamedColumn>> {
    if predicted.len() != confidence.len() {
        return Err(MonitorError::LengthMismatch {
            left: "predicted",
            left_len: predicted.len(),
            right: "confidence",
            right_len: confidence.len(),
        });
    }
    Ok(vec![
        NamedColumn {
            name: PREDICTION_COLUMN.to_owned(),
            values: ColumnValues::Categorical(predicted.to_vec()),
        },
        NamedColumn {
            name: CONFIDENCE_COLUMN.to_owned(),
            values: ColumnValues::Numeric(confidence.to_vec()),
        },
    ])
}

/// The confidence of each row of a row-major `rows x n_classes` probability matrix: its
/// largest probability. Errors when the length is not a multiple of `n_classes`.
pub fn max_probability(proba: &[f32], n_classes: usize) -> Result<Vec<f64>> {
    if n_classes == 0 || !proba.len().is_multiple_of(n_classes) {
        return Err(MonitorError::LengthMismatch {
            left: "proba",
            left_len: proba.len(),
            right: "n_classes",
            right_len: n_classes,
        });
    }
    Ok(proba
        .chunks_exact(n_classes)
        .map(|row| row.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64)
        .collect())
}

fn fmt_num(x: f64) -> String {
    if x == 0.0 {
        "0".to_owned()
    } else if x.abs() < 1e-3 || x.abs() >= 1e5 {
        format!("{x:.3e}")
    } else {
        format!("{x:.4}")
    }
}

impl fmt::Display for DriftReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = self
            .columns
            .iter()
            .map(|c| c.column.len())
            .max()
            .unwrap_or(6)
            .max(6);
        writeln!(
            f,
            "{:<width$}  {:<11}  {:<13}  {:>10}  {:>10}  {:>9}  drift",
            "column", "kind", "detector", "statistic", "score", "threshold"
        )?;
        for c in &self.columns {
            let kind = match c.kind {
                FeatureKind::Numeric => "numeric",
                FeatureKind::Categorical => "categorical",
                FeatureKind::Binary => "binary",
            };
            // A p-value is shown as one (a custom detector's score is, when it gives one).
            let score = if c.stattest.map_or(c.p_value.is_some(), StatTest::is_p_value) {
                format!("p={}", fmt_num(c.score))
            } else {
                fmt_num(c.score)
            };
            writeln!(
                f,
                "{:<width$}  {:<11}  {:<13}  {:>10}  {:>10}  {:>9}  {}",
                c.column,
                kind,
                c.detector,
                fmt_num(c.statistic),
                score,
                fmt_num(c.threshold),
                if c.drifted { "DRIFT" } else { "-" }
            )?;
        }
        write!(
            f,
            "{} of {} columns drifted (share {:.3}, threshold {:.2}): dataset drift {}",
            self.number_of_drifted_columns,
            self.number_of_columns,
            self.share_of_drifted_columns,
            self.drift_share,
            if self.dataset_drift {
                "DETECTED"
            } else {
                "not detected"
            }
        )
    }
}
