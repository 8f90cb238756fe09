//! Turning outcomes into a decision: per-arm figures, the test, the recommendation.

use obesity_eval::{
    Alternative, ChiSquareResult, FisherResult, Interval, TwoProportionResult, WelchResult,
};
use serde::{Deserialize, Serialize};

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

impl std::fmt::Display for Recommendation {
    /// The recommendation in words: `keep running`, `promote the treatment`, `keep the
    /// control`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Recommendation::KeepRunning => "keep running",
            Recommendation::PromoteTreatment => "promote the treatment",
            Recommendation::KeepControl => "keep the control",
        })
    }
}

/// Below this expected count in any cell of the 2×2 success/failure table, a proportion
/// analysis decides with Fisher's exact test instead of the z-test (Cochran's rule: the
/// normal and chi-square approximations are not trusted with expected counts under 5).
pub const FISHER_BELOW_EXPECTED: f64 = 5.0;

/// The statistical test an analysis used, chosen by the metric's kind (and, for proportions,
/// the sample size: see [`FISHER_BELOW_EXPECTED`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AbTestMethod {
    /// Pooled two-proportion z-test (statsmodels' `proportions_ztest`), with the 2×2
    /// chi-square alongside.
    TwoProportionZTest,
    /// Fisher's exact test, two-sided (scipy's `fisher_exact`), used for proportions when an
    /// expected cell count is below [`FISHER_BELOW_EXPECTED`].
    FisherExact,
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
    /// Wilson score interval of the success rate at the analysis' level (proportion metrics,
    /// at least one sample; statsmodels' `proportion_confint(method="wilson")`).
    #[serde(default)]
    pub wilson: Option<Interval>,
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
    /// Its statistic: z, t, or for Fisher's test the sample odds ratio (`None` when that is
    /// infinite or undefined, or when the statistic is NaN).
    pub statistic: Option<f64>,
    /// Two-sided p-value (`None` when undefined, e.g. Welch's test on two constant, equal
    /// samples).
    pub p_value: Option<f64>,
    /// Level of the interval, `1 − α`.
    pub confidence_level: f64,
    /// Lower end of the confidence interval of the difference: Wald with the z-test,
    /// Newcombe with Fisher's test, Welch's t interval for means.
    pub ci_low: Option<f64>,
    /// Upper end of the confidence interval of the difference (as `ci_low`).
    pub ci_high: Option<f64>,
    /// Effect size: Cohen's h (proportions) or Cohen's d (means), treatment vs control.
    pub effect_size: Option<f64>,
    /// The full z-test (proportion metrics).
    pub z_test: Option<TwoProportionResult>,
    /// Pearson's chi-square on the 2×2 success/failure table, Yates-corrected (proportion
    /// metrics; `None` when a column is empty, e.g. no failures at all).
    pub chi_square: Option<ChiSquareResult>,
    /// Fisher's exact test, two-sided, on `[[s_t, n_t − s_t], [s_c, n_c − s_c]]` (proportion
    /// metrics, computed whatever the sample size; it decides when an expected count is
    /// below [`FISHER_BELOW_EXPECTED`]).
    #[serde(default)]
    pub fisher: Option<FisherResult>,
    /// Newcombe's hybrid score interval of `treatment − control` (proportion metrics;
    /// statsmodels' `confint_proportions_2indep(method="newcomb")`), beside the Wald one.
    #[serde(default)]
    pub newcombe: Option<Interval>,
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

impl AbAnalysis {
    /// The model version of the winning arm (`control.model_version` or
    /// `treatment.model_version`), once there is a winner.
    pub fn winner_version(&self) -> Option<&str> {
        self.winner.map(|w| match w {
            Variant::Control => self.control.model_version.as_str(),
            Variant::Treatment => self.treatment.model_version.as_str(),
        })
    }
}

impl AbTest {
    fn summarise(&self, variant: Variant, level: f64) -> (VariantSummary, Vec<f64>) {
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
        let wilson = if proportion {
            obesity_eval::wilson_interval(successes, n as u64, level).ok()
        } else {
            None
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
                wilson,
            },
            values,
        )
    }

    /// Analyses the outcomes so far: per-arm figures, the test, p-value, confidence interval
    /// of `treatment − control` at level `1 − α`, effect size, and a recommendation.
    ///
    /// Proportions: the two-proportion z-test with its Wald interval, and beside it the
    /// Yates chi-square, Fisher's exact test, a Wilson interval per arm and Newcombe's
    /// interval of the difference. **Rule:** when every expected count of the 2×2
    /// success/failure table is at least [`FISHER_BELOW_EXPECTED`] (5) the z-test decides;
    /// otherwise Fisher's exact test does, and the headline interval is Newcombe's (the
    /// Wald interval is unreliable exactly there). Means: Welch's t-test.
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
        let (control, c_vals) = self.summarise(Variant::Control, level);
        let (treatment, t_vals) = self.summarise(Variant::Treatment, level);
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
            fisher: None,
            newcombe: None,
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
                    let table = [[st, nt - st], [sc, nc - sc]];
                    let z = obesity_eval::two_proportion_z_test_with_level(st, nt, sc, nc, level)?;
                    let fisher = obesity_eval::fisher_exact(table, Alternative::TwoSided)?;
                    let newcombe = obesity_eval::newcombe_interval(st, nt, sc, nc, level)?;
                    if min_expected(table) < FISHER_BELOW_EXPECTED {
                        a.test = AbTestMethod::FisherExact;
                        a.statistic = Some(fisher.odds_ratio).filter(|x| x.is_finite());
                        a.p_value = Some(fisher.p_value);
                        a.ci_low = Some(newcombe.low);
                        a.ci_high = Some(newcombe.high);
                    } else {
                        a.statistic = Some(z.statistic);
                        a.p_value = Some(z.p_value);
                        a.ci_low = Some(z.ci_low);
                        a.ci_high = Some(z.ci_high);
                    }
                    a.effect_size = Some(z.cohens_h);
                    a.z_test = Some(z);
                    a.fisher = Some(fisher);
                    a.newcombe = Some(newcombe);
                    // A column of zeros (no failures, or no successes, anywhere) has no
                    // chi-square test; the tests above still stand.
                    a.chi_square = obesity_eval::chi_square_2x2(table).ok();
                }
                MetricKind::Mean => {
                    let w = obesity_eval::welch_t_test(&t_vals, &c_vals, level)?;
                    // Two constant, equal samples: t and p are NaN (scipy), i.e. no test.
                    a.statistic = Some(w.statistic).filter(|x| !x.is_nan());
                    a.p_value = Some(w.p_value).filter(|p| !p.is_nan());
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
        if a.test == AbTestMethod::FisherExact {
            a.explanation.push_str(&format!(
                " (Fisher's exact test: an expected count is below {FISHER_BELOW_EXPECTED})"
            ));
        }
        Ok(a)
    }
}

/// The smallest expected count of a 2×2 table under independence (0 for an empty margin).
fn min_expected(table: [[u64; 2]; 2]) -> f64 {
    let rows = [table[0][0] + table[0][1], table[1][0] + table[1][1]];
    let cols = [table[0][0] + table[1][0], table[0][1] + table[1][1]];
    let total = (rows[0] + rows[1]) as f64;
    let mut least = f64::INFINITY;
    for r in rows {
        for c in cols {
            least = least.min(r as f64 * c as f64 / total);
        }
    }
    least
}

/// A p-value for a sentence: four decimals, or scientific notation when that would print 0.
fn fmt_p(p: Option<f64>) -> String {
    match p {
        Some(p) if p < 1e-4 => format!("{p:.1e}"),
        Some(p) => format!("{p:.4}"),
        None => "n/a".into(),
    }
}
