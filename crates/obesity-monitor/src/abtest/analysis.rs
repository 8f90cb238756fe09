//! Turning outcomes into a decision: per-arm figures, the test, the recommendation.

use obesity_eval::{ChiSquareResult, TwoProportionResult};
use serde::{Deserialize, Serialize};

use obesity_eval::WelchResult;

use super::stats;
use super::{AbTest, MetricKind, Outcome, PrimaryMetric, TestStatus, Variant};
use crate::error::Result;

/// What to do with the experiment now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Recommendation {
    /// Not enough evidence yet and time is left: keep collecting.
    KeepRunning,
    /// The treatment is significantly better with enough samples: promote it.
    PromoteTreatment,
    /// The control is significantly better, or the experiment ended without a significant
    /// difference: keep the current model.
    KeepControl,
}

/// The statistical test an analysis used, chosen by the metric's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AbTestMethod {
    /// Pooled two-proportion z-test (statsmodels' `proportions_ztest`), with the 2×2
    /// chi-square alongside.
    TwoProportionZTest,
    /// Welch's unequal-variances t-test (scipy's `ttest_ind(equal_var=False)`).
    WelchTTest,
}

/// One arm's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariantSummary {
    /// The arm.
    pub variant: Variant,
    /// Its model version.
    pub model_version: String,
    /// Users enrolled in it.
    pub users: usize,
    /// Users with an outcome.
    pub samples: usize,
    /// Successes (proportion metrics).
    pub successes: Option<u64>,
    /// The metric: success rate or mean value (`None` without samples).
    pub metric: Option<f64>,
    /// Sample standard deviation (mean metrics, at least two samples).
    pub std_dev: Option<f64>,
}

/// The result of [`AbTest::analyze`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AbAnalysis {
    /// Experiment name.
    pub experiment: String,
    /// Status when analysed.
    pub status: TestStatus,
    /// The metric decided on.
    pub metric: PrimaryMetric,
    /// The control arm.
    pub control: VariantSummary,
    /// The treatment arm.
    pub treatment: VariantSummary,
    /// `treatment − control` on the metric.
    pub difference: Option<f64>,
    /// The test used.
    pub test: AbTestMethod,
    /// Its statistic (z or t).
    pub statistic: Option<f64>,
    /// Two-sided p-value.
    pub p_value: Option<f64>,
    /// Level of the interval, `1 − α`.
    pub confidence_level: f64,
    /// Lower end of the confidence interval of the difference.
    pub ci_low: Option<f64>,
    /// Upper end of the confidence interval of the difference.
    pub ci_high: Option<f64>,
    /// Effect size: Cohen's h (proportions) or Cohen's d (means), treatment vs control.
    pub effect_size: Option<f64>,
    /// The full z-test (proportion metrics).
    pub z_test: Option<TwoProportionResult>,
    /// Pearson's chi-square on the 2×2 success/failure table, Yates-corrected (proportion
    /// metrics; `None` when a column is empty, e.g. no failures at all).
    pub chi_square: Option<ChiSquareResult>,
    /// Welch's t-test (mean metrics).
    pub welch: Option<WelchResult>,
    /// `p_value < α`.
    pub significant: bool,
    /// Both arms have at least `min_samples_per_variant` outcomes.
    pub min_samples_reached: bool,
    /// The enrolment period is over.
    pub expired: bool,
    /// The significantly better arm, only once the minimum samples are reached.
    pub winner: Option<Variant>,
    /// What to do.
    pub recommendation: Recommendation,
    /// Why, in a sentence.
    pub explanation: String,
}

impl AbTest {
    fn summarise(&self, variant: Variant) -> (VariantSummary, Vec<f64>) {
        let mut users = 0;
        let mut values = Vec::new();
        let mut successes = 0u64;
        for e in self.state.users.values().filter(|e| e.variant == variant) {
            users += 1;
            match e.outcome {
                Some(Outcome::Success(s)) => {
                    successes += u64::from(s);
                    values.push(if s { 1.0 } else { 0.0 });
                }
                Some(Outcome::Value(v)) => values.push(v),
                None => {}
            }
        }
        let n = values.len();
        let mean = (n > 0).then(|| values.iter().sum::<f64>() / n as f64);
        let proportion = self.state.config.primary_metric.kind == MetricKind::Proportion;
        let std_dev = if proportion {
            None
        } else {
            stats::sample_std(&values)
        };
        (
            VariantSummary {
                variant,
                model_version: self.version(variant).to_string(),
                users,
                samples: n,
                successes: proportion.then_some(successes),
                metric: mean,
                std_dev,
            },
            values,
        )
    }

    /// Analyses the outcomes so far: per-arm figures, the test (two-proportion z-test and
    /// chi-square for proportions, Welch's t-test for means), p-value, confidence interval
    /// of `treatment − control` at level `1 − α`, effect size, and a recommendation.
    ///
    /// With fewer than two outcomes in an arm there is nothing to test: the statistics are
    /// `None` and the recommendation is to keep running (or, once the experiment is over,
    /// to keep the control).
    ///
    /// # Errors
    /// [`MonitorError::Eval`](crate::MonitorError::Eval) if the statistics reject their input (not expected: counts are
    /// checked first).
    pub fn analyze(&self) -> Result<AbAnalysis> {
        let cfg = &self.state.config;
        let alpha = cfg.significance_level;
        let level = 1.0 - alpha;
        let (control, c_vals) = self.summarise(Variant::Control);
        let (treatment, t_vals) = self.summarise(Variant::Treatment);
        let testable = control.samples >= 2 && treatment.samples >= 2;
        let mut a = AbAnalysis {
            experiment: cfg.name.clone(),
            status: self.state.status,
            metric: cfg.primary_metric.clone(),
            difference: match (treatment.metric, control.metric) {
                (Some(t), Some(c)) => Some(t - c),
                _ => None,
            },
            control,
            treatment,
            test: match cfg.primary_metric.kind {
                MetricKind::Proportion => AbTestMethod::TwoProportionZTest,
                MetricKind::Mean => AbTestMethod::WelchTTest,
            },
            statistic: None,
            p_value: None,
            confidence_level: level,
            ci_low: None,
            ci_high: None,
            effect_size: None,
            z_test: None,
            chi_square: None,
            welch: None,
            significant: false,
            min_samples_reached: false,
            expired: self.is_expired(),
            winner: None,
            recommendation: Recommendation::KeepRunning,
            explanation: String::new(),
        };
        if testable {
            match cfg.primary_metric.kind {
                MetricKind::Proportion => {
                    let (st, nt) = (
                        a.treatment.successes.unwrap_or(0),
                        a.treatment.samples as u64,
                    );
                    let (sc, nc) = (a.control.successes.unwrap_or(0), a.control.samples as u64);
                    let z = obesity_eval::two_proportion_z_test_with_level(st, nt, sc, nc, level)?;
                    a.statistic = Some(z.statistic);
                    a.p_value = Some(z.p_value);
                    a.ci_low = Some(z.ci_low);
                    a.ci_high = Some(z.ci_high);
                    a.effect_size = Some(z.cohens_h);
                    a.z_test = Some(z);
                    // A column of zeros (no failures, or no successes, anywhere) has no
                    // chi-square test; the z-test above still stands.
                    a.chi_square =
                        obesity_eval::chi_square_2x2([[st, nt - st], [sc, nc - sc]]).ok();
                }
                MetricKind::Mean => {
                    let w = obesity_eval::welch_t_test(&t_vals, &c_vals, level)?;
                    a.statistic = Some(w.statistic);
                    a.p_value = Some(w.p_value);
                    a.ci_low = Some(w.ci_low);
                    a.ci_high = Some(w.ci_high);
                    a.effect_size = w.cohens_d;
                    a.welch = Some(w);
                }
            }
        }
        a.significant = a.p_value.is_some_and(|p| p < alpha);
        a.min_samples_reached = a.control.samples >= cfg.min_samples_per_variant
            && a.treatment.samples >= cfg.min_samples_per_variant;
        let over = a.expired || self.state.status == TestStatus::Stopped;
        let treatment_better = a
            .difference
            .is_some_and(|d| (d > 0.0) == cfg.primary_metric.higher_is_better && d != 0.0);
        (a.winner, a.recommendation, a.explanation) = if !a.min_samples_reached {
            let need = format!(
                "{} control and {} treatment outcomes of the {} needed per variant",
                a.control.samples, a.treatment.samples, cfg.min_samples_per_variant
            );
            if over {
                (
                    None,
                    Recommendation::KeepControl,
                    format!("ended with only {need}: inconclusive, keep the control"),
                )
            } else {
                (
                    None,
                    Recommendation::KeepRunning,
                    format!("{need}: keep running"),
                )
            }
        } else if a.significant && treatment_better {
            (
                Some(Variant::Treatment),
                Recommendation::PromoteTreatment,
                format!(
                    "treatment is better on {} (p = {} < {alpha}): promote {}",
                    cfg.primary_metric.name,
                    fmt_p(a.p_value),
                    cfg.treatment_version
                ),
            )
        } else if a.significant {
            (
                Some(Variant::Control),
                Recommendation::KeepControl,
                format!(
                    "control is better on {} (p = {} < {alpha}): keep {}",
                    cfg.primary_metric.name,
                    fmt_p(a.p_value),
                    cfg.control_version
                ),
            )
        } else if over {
            (
                None,
                Recommendation::KeepControl,
                format!(
                    "no significant difference (p = {}) and the experiment is over: keep the control",
                    fmt_p(a.p_value)
                ),
            )
        } else {
            (
                None,
                Recommendation::KeepRunning,
                format!(
                    "no significant difference yet (p = {}): keep running",
                    fmt_p(a.p_value)
                ),
            )
        };
        Ok(a)
    }
}

/// A p-value for a sentence: four decimals, or scientific notation when that would print 0.
fn fmt_p(p: Option<f64>) -> String {
    match p {
        Some(p) if p < 1e-4 => format!("{p:.1e}"),
        Some(p) => format!("{p:.4}"),
        None => "n/a".into(),
    }
}
