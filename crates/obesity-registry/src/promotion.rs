//! [`PromotionPolicy`]: threshold-based promotion that never replaces a better champion.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::store::Stage;

/// Decides the stage and alias of a newly registered version from one metric.
///
/// The default is the original Python project's policy: `accuracy >= 0.90` → Production and alias `champion`
/// (archiving the previous Production version), `>= 0.85` → Staging and alias `challenger`,
/// otherwise left in stage None. A version becomes champion only if it also *beats* the
/// current champion on the metric (strictly; ties keep the incumbent); otherwise it is a
/// challenger. So a retrain can never silently replace a better model.
///
/// The champion's metric counts only when it was evaluated on the same data as the
/// candidate's (the same `lineage.data_fingerprint`), unless `compare_across_data` is set:
/// an accuracy on the synthetic fixture says nothing against one on the UCI data. A
/// candidate that passes the production threshold but cannot be compared is kept as
/// challenger, and the decision says on which data it compared, or why it did not.
///
/// What applying it changes ([`Registry::promote`](crate::Registry::promote)): only the
/// version it names, plus the documented displacement — a new champion archives the other
/// Production versions (with `archive_existing_versions`) and takes `champion`; a new
/// challenger archives the other Staging versions and takes `challenger`, but never from a
/// newer version (a higher number). An Archived version is never brought back: the
/// decision is reported and nothing changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromotionPolicy {
    /// The metric decisions are made on. By default, `accuracy`.
    pub metric: String,
    /// Whether higher values are better. By default, `true` (set `false` for a loss).
    pub higher_is_better: bool,
    /// Threshold for Production/champion. By default, `0.90`.
    pub production_threshold: f64,
    /// Threshold for Staging/challenger. By default, `0.85`.
    pub staging_threshold: f64,
    /// Alias of the production model. By default, `champion`.
    pub champion_alias: String,
    /// Alias of the staging model. By default, `challenger`.
    pub challenger_alias: String,
    /// Whether moving into a stage archives the versions already there. By default, `true`.
    pub archive_existing_versions: bool,
    /// Whether the champion's metric counts when it was evaluated on other data (another
    /// data fingerprint) than the candidate's. By default, `false`: only versions evaluated
    /// on the same data are compared.
    #[serde(default)]
    pub compare_across_data: bool,
}

impl Default for PromotionPolicy {
    fn default() -> Self {
        PromotionPolicy {
            metric: "accuracy".into(),
            higher_is_better: true,
            production_threshold: 0.90,
            staging_threshold: 0.85,
            champion_alias: "champion".into(),
            challenger_alias: "challenger".into(),
            archive_existing_versions: true,
            compare_across_data: false,
        }
    }
}

/// The data the candidate and the champion were evaluated on, as the policy sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct DataCheck {
    /// The candidate's data fingerprint.
    pub(crate) candidate: Option<String>,
    /// The champion's data fingerprint.
    pub(crate) champion: Option<String>,
}

/// The first 12 hex digits of a fingerprint (as git shortens a commit).
pub(crate) fn short_fingerprint(f: &str) -> &str {
    f.get(..12).unwrap_or(f)
}

/// What the policy decided for a version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PromotionOutcome {
    /// Production stage, champion alias.
    Champion,
    /// Staging stage, challenger alias.
    Challenger,
    /// Left where it is (below the staging threshold).
    Rejected,
}

impl fmt::Display for PromotionOutcome {
    /// `Champion`, `Challenger` or `Rejected`, as the decision's summary line prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PromotionOutcome::Champion => "Champion",
            PromotionOutcome::Challenger => "Challenger",
            PromotionOutcome::Rejected => "Rejected",
        })
    }
}

/// The policy's decision, with the reasons behind it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromotionDecision {
    /// The registered model.
    pub name: String,
    /// The version decided on.
    pub version: u64,
    /// The metric used.
    pub metric: String,
    /// The version's value of the metric.
    pub value: f64,
    /// The champion before the decision: version and metric value (if known).
    pub previous_champion: Option<(u64, Option<f64>)>,
    /// The outcome.
    pub outcome: PromotionOutcome,
    /// The stage the version is now in.
    pub stage: Stage,
    /// Aliases the version now carries because of this decision.
    pub aliases: Vec<String>,
    /// Why, in plain words, one reason per line.
    pub reasons: Vec<String>,
    /// The data fingerprint of the candidate, on which it was compared with the champion.
    #[serde(default)]
    pub data_fingerprint: Option<String>,
    /// Whether the decision was carried out (`false` for a dry run, and for a decision the
    /// registry refused to apply, e.g. on an Archived version; the reasons say why).
    #[serde(default = "applied_default")]
    pub applied: bool,
}

fn applied_default() -> bool {
    true
}

impl fmt::Display for PromotionDecision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} v{}: {} -> stage {}{}{}",
            self.name,
            self.version,
            self.outcome,
            self.stage,
            if self.aliases.is_empty() {
                String::new()
            } else {
                format!(", aliases {}", self.aliases.join(", "))
            },
            if self.applied { "" } else { " (not applied)" }
        )?;
        for r in &self.reasons {
            writeln!(f, "  - {r}")?;
        }
        Ok(())
    }
}

impl PromotionPolicy {
    /// Checks the thresholds are consistent (finite, and production at least as strict as
    /// staging in the policy's direction) and the aliases valid.
    pub fn validate(&self) -> Result<()> {
        for (field, v) in [
            ("production_threshold", self.production_threshold),
            ("staging_threshold", self.staging_threshold),
        ] {
            if !v.is_finite() {
                return Err(Error::InvalidValue {
                    field,
                    value: v.to_string(),
                    expected: "a finite number",
                });
            }
        }
        let ordered = if self.higher_is_better {
            self.production_threshold >= self.staging_threshold
        } else {
            self.production_threshold <= self.staging_threshold
        };
        if !ordered {
            return Err(Error::InvalidValue {
                field: "production_threshold",
                value: self.production_threshold.to_string(),
                expected: "at least as strict as staging_threshold",
            });
        }
        crate::validate::alias(&self.champion_alias)?;
        crate::validate::alias(&self.challenger_alias)?;
        if self.champion_alias == self.challenger_alias {
            return Err(Error::InvalidValue {
                field: "challenger_alias",
                value: self.challenger_alias.clone(),
                expected: "an alias different from champion_alias",
            });
        }
        Ok(())
    }

    fn passes(&self, value: f64, threshold: f64) -> bool {
        if self.higher_is_better {
            value >= threshold
        } else {
            value <= threshold
        }
    }

    /// Whether `a` is strictly better than `b` on this policy's metric.
    pub fn beats(&self, a: f64, b: f64) -> bool {
        if self.higher_is_better { a > b } else { a < b }
    }

    /// The pure decision for a candidate with metric `value`, given the current champion's
    /// version and value (if there is a champion). Does not touch any store.
    ///
    /// Knows nothing of the data the values were computed on:
    /// [`Registry::plan_promotion`](crate::Registry::plan_promotion) also checks that the
    /// two versions were evaluated on the same data.
    pub fn decide(
        &self,
        name: &str,
        version: u64,
        value: f64,
        champion: Option<(u64, Option<f64>)>,
    ) -> PromotionDecision {
        self.decide_on(name, version, value, champion, None)
    }

    /// [`decide`](Self::decide), with the data fingerprints of the two versions when known.
    pub(crate) fn decide_on(
        &self,
        name: &str,
        version: u64,
        value: f64,
        champion: Option<(u64, Option<f64>)>,
        data: Option<&DataCheck>,
    ) -> PromotionDecision {
        let m = &self.metric;
        let other_data = data.and_then(|d| match (&d.candidate, &d.champion) {
            (Some(a), Some(b)) if a != b => Some((a.as_str(), b.as_str())),
            (Some(a), None) => Some((a.as_str(), "unknown")),
            (None, Some(b)) => Some(("unknown", b.as_str())),
            _ => None,
        });
        let cmp = if self.higher_is_better { ">=" } else { "<=" };
        let mut reasons = Vec::new();
        let mut outcome = PromotionOutcome::Rejected;
        if value.is_nan() {
            reasons.push(format!("{m} is NaN: never promoted"));
        } else if self.passes(value, self.production_threshold) {
            reasons.push(format!(
                "{m} = {value:.4} {cmp} production threshold {}",
                self.production_threshold
            ));
            match champion {
                Some((cv, _)) if cv == version => {
                    reasons.push(format!("v{version} already is the {}", self.champion_alias));
                    outcome = PromotionOutcome::Champion;
                }
                None => {
                    reasons.push(format!("there is no {} yet", self.champion_alias));
                    outcome = PromotionOutcome::Champion;
                }
                Some((cv, _)) if !self.compare_across_data && other_data.is_some() => {
                    let (mine, theirs) = other_data.unwrap_or(("unknown", "unknown"));
                    reasons.push(format!(
                        "the {} v{cv} was evaluated on other data (data {}, this version's {}): \
                         not compared (compare_across_data is off); kept as {} (promote by \
                         hand, or allow comparing across data)",
                        self.champion_alias,
                        short_fingerprint(theirs),
                        short_fingerprint(mine),
                        self.challenger_alias
                    ));
                    outcome = PromotionOutcome::Challenger;
                }
                Some((cv, Some(cvalue))) if self.beats(value, cvalue) => {
                    reasons.push(format!(
                        "beats the {} v{cv} ({m} = {cvalue:.4})",
                        self.champion_alias
                    ));
                    outcome = PromotionOutcome::Champion;
                }
                Some((cv, Some(cvalue))) => {
                    reasons.push(format!(
                        "does not beat the {} v{cv} ({m} = {cvalue:.4}): kept as {}",
                        self.champion_alias, self.challenger_alias
                    ));
                    outcome = PromotionOutcome::Challenger;
                }
                Some((cv, None)) => {
                    reasons.push(format!(
                        "the {} v{cv} has no {m} to compare with: kept as {} (promote by hand if intended)",
                        self.champion_alias, self.challenger_alias
                    ));
                    outcome = PromotionOutcome::Challenger;
                }
            }
        } else if self.passes(value, self.staging_threshold) {
            reasons.push(format!(
                "{m} = {value:.4} {cmp} staging threshold {} but not production threshold {}",
                self.staging_threshold, self.production_threshold
            ));
            outcome = PromotionOutcome::Challenger;
        } else {
            reasons.push(format!(
                "{m} = {value:.4} misses the staging threshold {}",
                self.staging_threshold
            ));
        }
        if let Some(d) = data
            && let Some((cv, _)) = champion
            && cv != version
        {
            match (other_data, &d.candidate) {
                (None, Some(f)) => reasons.push(format!(
                    "compared with the {} v{cv} on the same data ({})",
                    self.champion_alias,
                    short_fingerprint(f)
                )),
                (Some((mine, theirs)), _) if self.compare_across_data => reasons.push(format!(
                    "compared with the {} v{cv} across data (this version's {}, the {}'s {}: \
                     compare_across_data is on)",
                    self.champion_alias,
                    short_fingerprint(mine),
                    self.champion_alias,
                    short_fingerprint(theirs)
                )),
                _ => {}
            }
        }
        let (stage, aliases) = match outcome {
            PromotionOutcome::Champion => (Stage::Production, vec![self.champion_alias.clone()]),
            PromotionOutcome::Challenger => (Stage::Staging, vec![self.challenger_alias.clone()]),
            PromotionOutcome::Rejected => (Stage::None, Vec::new()),
        };
        PromotionDecision {
            name: name.to_string(),
            version,
            metric: m.clone(),
            value,
            previous_champion: champion,
            outcome,
            stage,
            aliases,
            reasons,
            data_fingerprint: data.and_then(|d| d.candidate.clone()),
            applied: true,
        }
    }
}
