//! Group fairness: the same metrics per slice of the rows (by gender, age band, ...), the
//! largest gaps between slices, and the demographic-parity and equalised-odds differences
//! (fairlearn's definitions, one-vs-rest per class for multiclass).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::compare::check_same_len;
use crate::error::{EvalError, Result};
use crate::metrics::{Average, ConfusionMatrix, LabelSet, Prf, ZeroDivision, check_labels};

/// Metrics of one group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupMetrics {
    /// The group's label (`Female`, `[18, 26)`).
    pub group: String,
    /// Rows in the group.
    pub n: usize,
    /// Accuracy within the group.
    pub accuracy: f64,
    /// Balanced accuracy within the group.
    pub balanced_accuracy: f64,
    /// Macro precision/recall/F1 over the classes present in the group.
    pub macro_avg: Prf,
    /// Per-class true-positive rate (recall); NaN where the group has no row of the class.
    pub tpr: Vec<f64>,
    /// Per-class false-positive rate; NaN where every row of the group is of the class.
    pub fpr: Vec<f64>,
    /// Per-class rate at which the class is predicted, `P(ŷ = k | group)`.
    pub selection_rate: Vec<f64>,
    /// The group's confusion matrix.
    pub confusion: ConfusionMatrix,
}

/// Per-group metrics and the gaps between groups.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FairnessReport {
    /// One entry per group, sorted by group label.
    pub groups: Vec<GroupMetrics>,
    /// Largest minus smallest group accuracy.
    pub accuracy_gap: f64,
    /// Per class, largest minus smallest recall over the groups where it is defined
    /// (NaN when fewer than one group has rows of that class).
    pub recall_gap: Vec<f64>,
    /// Per class, largest minus smallest selection rate over groups: the demographic-parity
    /// difference of "predicted as class k".
    pub demographic_parity_difference: Vec<f64>,
    /// Per class, the larger of the TPR gap and the FPR gap over groups (one-vs-rest
    /// equalised-odds difference).
    pub equalized_odds_per_class: Vec<f64>,
    /// Maximum over classes of `equalized_odds_per_class`: 0 means every group has the same
    /// error rates for every class.
    pub equalized_odds_difference: f64,
}

impl FairnessReport {
    /// Maximum over classes of the demographic-parity difference.
    pub fn max_demographic_parity_difference(&self) -> f64 {
        max_ignoring_nan(&self.demographic_parity_difference)
    }
}

/// Computes [`FairnessReport`] for `groups[i]`, the group label of row `i`.
///
/// # Errors
/// Length mismatch between labels and groups, empty input, or labels out of range.
pub fn group_fairness<G: AsRef<str>>(
    y_true: &[usize],
    y_pred: &[usize],
    groups: &[G],
    n_classes: usize,
) -> Result<FairnessReport> {
    check_labels(y_true, y_pred, n_classes)?;
    check_same_len("y_true", y_true.len(), "groups", groups.len())?;
    let mut by_group: BTreeMap<&str, (Vec<usize>, Vec<usize>)> = BTreeMap::new();
    for ((t, p), g) in y_true.iter().zip(y_pred).zip(groups) {
        let e = by_group.entry(g.as_ref()).or_default();
        e.0.push(*t);
        e.1.push(*p);
    }
    let mut out = Vec::with_capacity(by_group.len());
    for (g, (t, p)) in by_group {
        let cm = ConfusionMatrix::new(&t, &p, n_classes)?;
        let n = t.len();
        let truth = cm.true_counts();
        let pred = cm.predicted_counts();
        let counts = cm.counts();
        let mut tpr = Vec::with_capacity(n_classes);
        let mut fpr = Vec::with_capacity(n_classes);
        let mut sel = Vec::with_capacity(n_classes);
        for k in 0..n_classes {
            let tp = counts[k][k];
            let fp = pred[k] - tp;
            let pos = truth[k];
            let neg = n as u64 - pos;
            tpr.push(if pos == 0 {
                f64::NAN
            } else {
                tp as f64 / pos as f64
            });
            fpr.push(if neg == 0 {
                f64::NAN
            } else {
                fp as f64 / neg as f64
            });
            sel.push(pred[k] as f64 / n as f64);
        }
        out.push(GroupMetrics {
            group: g.to_string(),
            n,
            accuracy: cm.accuracy(),
            balanced_accuracy: cm.balanced_accuracy(),
            macro_avg: cm.averaged(Average::Macro, LabelSet::Present, ZeroDivision::Warn),
            tpr,
            fpr,
            selection_rate: sel,
            confusion: cm,
        });
    }
    let gap = |f: &dyn Fn(&GroupMetrics) -> f64| spread(out.iter().map(f));
    let accuracy_gap = gap(&|g| g.accuracy);
    let recall_gap: Vec<f64> = (0..n_classes).map(|k| gap(&|g| g.tpr[k])).collect();
    let fpr_gap: Vec<f64> = (0..n_classes).map(|k| gap(&|g| g.fpr[k])).collect();
    let demographic_parity_difference = (0..n_classes)
        .map(|k| gap(&|g| g.selection_rate[k]))
        .collect();
    let equalized_odds_per_class: Vec<f64> = recall_gap
        .iter()
        .zip(&fpr_gap)
        .map(|(a, b)| max_ignoring_nan(&[*a, *b]))
        .collect();
    Ok(FairnessReport {
        groups: out,
        accuracy_gap,
        equalized_odds_difference: max_ignoring_nan(&equalized_odds_per_class),
        recall_gap,
        demographic_parity_difference,
        equalized_odds_per_class,
    })
}

/// Max − min of the defined (non-NaN) values; NaN when none is defined.
fn spread(values: impl Iterator<Item = f64>) -> f64 {
    let v: Vec<f64> = values.filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    max - min
}

fn max_ignoring_nan(v: &[f64]) -> f64 {
    v.iter()
        .copied()
        .filter(|x| !x.is_nan())
        .fold(
            f64::NAN,
            |acc, x| if acc.is_nan() || x > acc { x } else { acc },
        )
}

/// Half-open age bands with the given ascending cut points, for slicing by age:
/// `age_bands(&ages, &[18.0, 26.0, 36.0])` labels rows `<18`, `[18, 26)`, `[26, 36)`, `>=36`.
///
/// # Errors
/// Cut points not strictly ascending or not finite, or a non-finite age (named by row).
pub fn age_bands(ages: &[f64], cuts: &[f64]) -> Result<Vec<String>> {
    if cuts.is_empty() {
        return Err(EvalError::EmptyInput { what: "cuts" });
    }
    if cuts.iter().any(|c| !c.is_finite()) || cuts.windows(2).any(|w| w[0] >= w[1]) {
        return Err(EvalError::InvalidValue {
            what: "cuts",
            value: format!("{cuts:?}"),
            expected: "finite, strictly ascending cut points".into(),
        });
    }
    let fmt = |x: f64| format!("{x}");
    let mut labels = Vec::with_capacity(cuts.len() + 1);
    labels.push(format!("<{}", fmt(cuts[0])));
    for w in cuts.windows(2) {
        labels.push(format!("[{}, {})", fmt(w[0]), fmt(w[1])));
    }
    labels.push(format!(">={}", fmt(cuts[cuts.len() - 1])));
    ages.iter()
        .enumerate()
        .map(|(i, &a)| {
            if !a.is_finite() {
                return Err(EvalError::InvalidValue {
                    what: "ages",
                    value: format!("{a} at row {i}"),
                    expected: "a finite age".into(),
                });
            }
            let band = cuts.iter().take_while(|&&c| a >= c).count();
            Ok(labels[band].clone())
        })
        .collect()
}
