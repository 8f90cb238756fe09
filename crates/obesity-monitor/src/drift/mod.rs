//! Drift detectors: the [`DriftDetector`] trait, Evidently's tests by their Evidently names
//! ([`StatTest`]), and the automatic choice of a test per column.

mod kolmogorov;
mod ks;
pub(crate) mod nonfinite;
mod sample;
mod stattests;

use serde::{Deserialize, Serialize};

use crate::error::{MonitorError, Result};

pub use ks::{KsMethod, KsResult};
pub use sample::{ColumnSample, SamplePair, SampleValues};

/// A two-sample Kolmogorov–Smirnov test of two samples (any order), exactly as
/// `scipy.stats.ks_2samp(a, b, method=...)` two-sided. Errors on an empty sample or a
/// non-finite value (`column` names the input in the error).
pub fn ks_2samp(a: &[f64], b: &[f64], method: KsMethod) -> Result<KsResult> {
    let sa = sorted_checked("a", a)?;
    let sb = sorted_checked("b", b)?;
    Ok(ks::ks_2samp_sorted(&sa, &sb, method))
}

fn sorted_checked(name: &str, v: &[f64]) -> Result<Vec<f64>> {
    if v.is_empty() {
        return Err(MonitorError::EmptyColumn {
            column: name.to_owned(),
        });
    }
    if let Some((row, value)) = v.iter().enumerate().find(|(_, x)| !x.is_finite()) {
        return Err(MonitorError::NonFiniteValue {
            column: name.to_owned(),
            row,
            value: *value,
        });
    }
    let mut s = v.to_vec();
    s.sort_unstable_by(f64::total_cmp);
    Ok(s)
}

/// A drift test, named as in Evidently (`stattest="ks"` ...), with its default threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatTest {
    /// Two-sample Kolmogorov–Smirnov p-value (numeric). Drift when p <= threshold (0.05).
    Ks,
    /// Chi-square goodness-of-fit p-value (categorical). Drift when p < threshold (0.05).
    #[serde(rename = "chisquare")]
    ChiSquare,
    /// Two-proportion Z-test p-value (binary). Drift when p < threshold (0.05).
    Z,
    /// Population Stability Index. Drift when PSI >= threshold (0.1).
    Psi,
    /// Jensen–Shannon distance. Drift when distance >= threshold (0.1).
    #[serde(rename = "jensenshannon")]
    JensenShannon,
    /// Wasserstein distance normed by the reference std. Drift when >= threshold (0.1).
    Wasserstein,
}

impl StatTest {
    /// Every test, in a stable order.
    pub const ALL: [StatTest; 6] = [
        StatTest::Ks,
        StatTest::ChiSquare,
        StatTest::Z,
        StatTest::Psi,
        StatTest::JensenShannon,
        StatTest::Wasserstein,
    ];

    /// Evidently's name for the test (`"ks"`, `"chisquare"`, `"z"`, `"psi"`,
    /// `"jensenshannon"`, `"wasserstein"`).
    pub fn name(self) -> &'static str {
        match self {
            StatTest::Ks => "ks",
            StatTest::ChiSquare => "chisquare",
            StatTest::Z => "z",
            StatTest::Psi => "psi",
            StatTest::JensenShannon => "jensenshannon",
            StatTest::Wasserstein => "wasserstein",
        }
    }

    /// Parses an Evidently name.
    pub fn parse(name: &str) -> Option<StatTest> {
        StatTest::ALL.into_iter().find(|t| t.name() == name)
    }

    /// Evidently's default threshold: 0.05 for p-value tests, 0.1 for distances.
    pub fn default_threshold(self) -> f64 {
        match self {
            StatTest::Ks | StatTest::ChiSquare | StatTest::Z => 0.05,
            StatTest::Psi | StatTest::JensenShannon | StatTest::Wasserstein => 0.1,
        }
    }

    /// Whether the drift score is a p-value (small means drift) rather than a distance.
    pub fn is_p_value(self) -> bool {
        matches!(self, StatTest::Ks | StatTest::ChiSquare | StatTest::Z)
    }

    /// Whether the test accepts numeric / categorical columns.
    pub fn applies_to(self, numeric: bool) -> bool {
        match self {
            StatTest::Ks | StatTest::Wasserstein => numeric,
            // Evidently's automatic choice also runs chi-square and Z on numeric columns with
            // at most 5 distinct values (each value a category).
            StatTest::ChiSquare | StatTest::Z | StatTest::Psi | StatTest::JensenShannon => true,
        }
    }

    /// Evidently's drift rule for a score and threshold: KS drifts at `p <= t`, chi-square and
    /// Z at `p < t`, distances at `d >= t`.
    pub fn is_drift(self, score: f64, threshold: f64) -> bool {
        match self {
            StatTest::Ks => score <= threshold,
            StatTest::ChiSquare | StatTest::Z => score < threshold,
            StatTest::Psi | StatTest::JensenShannon | StatTest::Wasserstein => score >= threshold,
        }
    }

    /// Evidently's default test for a column (`_get_default_stattest`): for references of at
    /// most 1,000 rows, KS for numeric columns with more than 5 distinct values (reference
    /// and current together), chi-square for categorical ones (and numeric ones with 3 to 5
    /// values), Z for two values or fewer; above 1,000 rows, Wasserstein for numeric columns
    /// with more than 5 distinct values, Jensen–Shannon otherwise.
    pub fn default_for(numeric: bool, reference_rows: u64, n_unique_union: usize) -> StatTest {
        if reference_rows <= 1000 {
            if numeric && n_unique_union > 5 {
                StatTest::Ks
            } else if n_unique_union > 2 {
                StatTest::ChiSquare
            } else {
                StatTest::Z
            }
        } else if numeric && n_unique_union > 5 {
            StatTest::Wasserstein
        } else {
            StatTest::JensenShannon
        }
    }
}

impl std::fmt::Display for StatTest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The outcome of one detector on one column.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DriftResult {
    /// The test statistic: KS `D`, chi-square, `z`, PSI, JS distance or normed Wasserstein
    /// (infinite for chi-square when a category is new; JSON spells that `"inf"`).
    #[serde(with = "nonfinite")]
    pub statistic: f64,
    /// The p-value, for hypothesis tests (KS, chi-square, Z).
    pub p_value: Option<f64>,
    /// Evidently's `drift_score`: the p-value for tests, the statistic for distances.
    pub score: f64,
    /// The threshold the score was compared with.
    pub threshold: f64,
    /// Whether the column drifted by the test's rule.
    pub drifted: bool,
}

/// Compares a reference column (typically a column of a stored
/// [`crate::ReferenceProfile`]) with the same column of a current batch.
///
/// Object-safe, so a report can hold `Box<dyn DriftDetector>` per column and users can plug
/// in their own tests next to the built-in [`StatTestDetector`].
pub trait DriftDetector: Send + Sync {
    /// The test's name, as shown in reports (Evidently's name for built-in tests).
    fn name(&self) -> &str;
    /// Runs the test. Errors when the two columns are of different kinds or the test does not
    /// apply to the column's kind.
    fn detect(&self, reference: &ColumnSample, current: &ColumnSample) -> Result<DriftResult>;
}

/// A built-in test with a threshold (and, for KS, the p-value method).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StatTestDetector {
    /// Which test.
    pub stattest: StatTest,
    /// Drift threshold; by default, the test's Evidently default.
    pub threshold: f64,
    /// KS p-value method; by default, `Auto`.
    pub ks_method: KsMethod,
}

impl StatTestDetector {
    /// A detector with Evidently's default threshold.
    pub fn new(stattest: StatTest) -> Self {
        StatTestDetector {
            stattest,
            threshold: stattest.default_threshold(),
            ks_method: KsMethod::Auto,
        }
    }

    /// Sets the threshold (must be finite and non-negative).
    pub fn with_threshold(mut self, threshold: f64) -> Result<Self> {
        check_threshold(self.stattest.name(), threshold)?;
        self.threshold = threshold;
        Ok(self)
    }

    /// Runs the test; `reference_std` is the reference column's standard deviation (kept by
    /// the profile, so a capped reference still norms Wasserstein by the full data).
    pub(crate) fn run(
        &self,
        reference: &ColumnSample,
        reference_std: Option<f64>,
        current: &ColumnSample,
    ) -> Result<DriftResult> {
        sample::check_sample(reference)?;
        sample::check_sample(current)?;
        if reference.is_numeric() != current.is_numeric() {
            return Err(sample::kind_mismatch(reference, current));
        }
        if !self.stattest.applies_to(reference.is_numeric()) {
            return Err(MonitorError::StatTestNotApplicable {
                column: reference.name.clone(),
                stattest: self.stattest.name().to_owned(),
                kind: reference.kind_name().to_owned(),
            });
        }
        let outcome = match self.stattest {
            StatTest::Ks => match (&reference.values, &current.values) {
                (SampleValues::Numeric { sorted: a }, SampleValues::Numeric { sorted: b }) => {
                    let r = ks::ks_2samp_sorted(a, b, self.ks_method);
                    stattests::Outcome {
                        statistic: r.statistic,
                        p_value: Some(r.p_value),
                    }
                }
                _ => return Err(sample::kind_mismatch(reference, current)),
            },
            StatTest::ChiSquare => stattests::chi_square(reference, current)?,
            StatTest::Z => stattests::z_test(reference, current)?,
            StatTest::Psi => stattests::psi(reference, current)?,
            StatTest::JensenShannon => stattests::jensen_shannon(reference, current)?,
            StatTest::Wasserstein => {
                let std = match (reference_std, &reference.values) {
                    (Some(s), _) => s,
                    (None, SampleValues::Numeric { sorted }) => stattests::population_std(sorted),
                    (None, _) => 0.0,
                };
                stattests::wasserstein_norm(reference, std, current)?
            }
        };
        let score = outcome.p_value.unwrap_or(outcome.statistic);
        Ok(DriftResult {
            statistic: outcome.statistic,
            p_value: outcome.p_value,
            score,
            threshold: self.threshold,
            drifted: self.stattest.is_drift(score, self.threshold),
        })
    }
}

pub(crate) fn check_threshold(option: &str, threshold: f64) -> Result<()> {
    if threshold.is_finite() && threshold >= 0.0 {
        Ok(())
    } else {
        Err(MonitorError::InvalidDriftOption {
            option: format!("threshold ({option})"),
            value: threshold,
            expected: "a finite number >= 0",
        })
    }
}

impl DriftDetector for StatTestDetector {
    fn name(&self) -> &str {
        self.stattest.name()
    }

    fn detect(&self, reference: &ColumnSample, current: &ColumnSample) -> Result<DriftResult> {
        self.run(reference, None, current)
    }
}
