//! Named scorers, as scikit-learn's `scoring=` strings: greater is always better, so losses
//! are negated (`neg_log_loss`).

use std::fmt;
use std::str::FromStr;

use ndarray::{ArrayView1, ArrayView2};
use obesity_forest::Classifier;
use serde::{Deserialize, Serialize};

use crate::error::{EvalError, Result};
use crate::metrics::{
    Average, ConfusionMatrix, LabelSet, ZeroDivision, brier_score, log_loss, roc_auc_ovr,
};

/// A score to maximise, named as scikit-learn names it.
///
/// Label scorers use scikit-learn's defaults: classes present in the fold's `y_true` or
/// predictions, `zero_division="warn"` (0). Probability scorers use all `n_classes` columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
#[non_exhaustive]
pub enum Scorer {
    /// `accuracy`
    Accuracy,
    /// `balanced_accuracy`
    BalancedAccuracy,
    /// `f1_macro`, `f1_weighted`, `f1_micro`
    F1(Average),
    /// `precision_macro`, `precision_weighted`, `precision_micro`
    Precision(Average),
    /// `recall_macro`, `recall_weighted`, `recall_micro`
    Recall(Average),
    /// `matthews_corrcoef`
    MatthewsCorrcoef,
    /// `cohen_kappa` (not a scikit-learn scorer name; provided for convenience)
    CohenKappa,
    /// `roc_auc_ovr` (macro) and `roc_auc_ovr_weighted`
    RocAucOvr(Average),
    /// `neg_log_loss`
    NegLogLoss,
    /// `neg_brier_score`
    NegBrierScore,
}

impl Scorer {
    /// Every valid name, in the order the error message lists them.
    pub const NAMES: &'static [&'static str] = &[
        "accuracy",
        "balanced_accuracy",
        "f1_macro",
        "f1_weighted",
        "f1_micro",
        "precision_macro",
        "precision_weighted",
        "precision_micro",
        "recall_macro",
        "recall_weighted",
        "recall_micro",
        "matthews_corrcoef",
        "cohen_kappa",
        "roc_auc_ovr",
        "roc_auc_ovr_weighted",
        "neg_log_loss",
        "neg_brier_score",
    ];

    /// Looks a scorer up by its scikit-learn name.
    ///
    /// # Errors
    /// [`EvalError::UnknownScorer`] listing the valid names.
    pub fn from_name(name: &str) -> Result<Self> {
        use Average::{Macro, Micro, Weighted};
        Ok(match name {
            "accuracy" => Scorer::Accuracy,
            "balanced_accuracy" => Scorer::BalancedAccuracy,
            "f1_macro" => Scorer::F1(Macro),
            "f1_weighted" => Scorer::F1(Weighted),
            "f1_micro" => Scorer::F1(Micro),
            "precision_macro" => Scorer::Precision(Macro),
            "precision_weighted" => Scorer::Precision(Weighted),
            "precision_micro" => Scorer::Precision(Micro),
            "recall_macro" => Scorer::Recall(Macro),
            "recall_weighted" => Scorer::Recall(Weighted),
            "recall_micro" => Scorer::Recall(Micro),
            "matthews_corrcoef" => Scorer::MatthewsCorrcoef,
            "cohen_kappa" => Scorer::CohenKappa,
            "roc_auc_ovr" => Scorer::RocAucOvr(Macro),
            "roc_auc_ovr_weighted" => Scorer::RocAucOvr(Weighted),
            "neg_log_loss" => Scorer::NegLogLoss,
            "neg_brier_score" => Scorer::NegBrierScore,
            _ => {
                return Err(EvalError::UnknownScorer {
                    name: name.to_string(),
                    valid: Self::NAMES.join(", "),
                });
            }
        })
    }

    /// Parses several names at once (`&["accuracy", "f1_macro"]`).
    ///
    /// # Errors
    /// The first unknown name.
    pub fn parse_list(names: &[&str]) -> Result<Vec<Self>> {
        names.iter().map(|n| Self::from_name(n)).collect()
    }

    /// The scikit-learn name.
    pub fn name(&self) -> &'static str {
        use Average::{Macro, Micro, Weighted};
        match self {
            Scorer::Accuracy => "accuracy",
            Scorer::BalancedAccuracy => "balanced_accuracy",
            Scorer::F1(Macro) => "f1_macro",
            Scorer::F1(Weighted) => "f1_weighted",
            Scorer::F1(Micro) => "f1_micro",
            Scorer::Precision(Macro) => "precision_macro",
            Scorer::Precision(Weighted) => "precision_weighted",
            Scorer::Precision(Micro) => "precision_micro",
            Scorer::Recall(Macro) => "recall_macro",
            Scorer::Recall(Weighted) => "recall_weighted",
            Scorer::Recall(Micro) => "recall_micro",
            Scorer::MatthewsCorrcoef => "matthews_corrcoef",
            Scorer::CohenKappa => "cohen_kappa",
            Scorer::RocAucOvr(Weighted) => "roc_auc_ovr_weighted",
            Scorer::RocAucOvr(_) => "roc_auc_ovr",
            Scorer::NegLogLoss => "neg_log_loss",
            Scorer::NegBrierScore => "neg_brier_score",
        }
    }

    /// Whether the scorer reads probabilities rather than predicted labels.
    pub fn needs_proba(&self) -> bool {
        matches!(
            self,
            Scorer::RocAucOvr(_) | Scorer::NegLogLoss | Scorer::NegBrierScore
        )
    }

    /// Scores predictions. `proba` is needed only when [`needs_proba`](Self::needs_proba).
    ///
    /// # Errors
    /// Input problems, or a probability scorer called without probabilities.
    pub fn score(
        &self,
        y_true: &[usize],
        y_pred: &[usize],
        proba: Option<ArrayView2<'_, f32>>,
        n_classes: usize,
    ) -> Result<f64> {
        if self.needs_proba() {
            let p = proba.ok_or_else(|| EvalError::InvalidValue {
                what: "proba",
                value: "None".into(),
                expected: format!("probabilities for scorer `{}`", self.name()),
            })?;
            if p.ncols() != n_classes {
                return Err(EvalError::ClassCountMismatch {
                    expected: n_classes,
                    got: p.ncols(),
                });
            }
            return match self {
                Scorer::RocAucOvr(avg) => roc_auc_ovr(y_true, p, *avg),
                Scorer::NegLogLoss => Ok(-log_loss(y_true, p)?),
                _ => Ok(-brier_score(y_true, p)?),
            };
        }
        let cm = ConfusionMatrix::new(y_true, y_pred, n_classes)?;
        let zd = ZeroDivision::Warn;
        Ok(match self {
            Scorer::Accuracy => cm.accuracy(),
            Scorer::BalancedAccuracy => cm.balanced_accuracy(),
            Scorer::F1(a) => cm.averaged(*a, LabelSet::Present, zd).f1,
            Scorer::Precision(a) => cm.averaged(*a, LabelSet::Present, zd).precision,
            Scorer::Recall(a) => cm.averaged(*a, LabelSet::Present, zd).recall,
            Scorer::MatthewsCorrcoef => cm.matthews_corrcoef(),
            _ => cm.cohen_kappa(),
        })
    }

    /// Scores a trained model on `(x, y)`, predicting once for all the given scorers.
    ///
    /// # Errors
    /// Prediction failures or input problems.
    pub fn score_model_many(
        scorers: &[Scorer],
        model: &dyn Classifier,
        x: ArrayView2<'_, f32>,
        y: ArrayView1<'_, usize>,
    ) -> Result<Vec<f64>> {
        let proba = model.predict_proba(x)?;
        let pred: Vec<usize> = argmax_rows(proba.view());
        let y_true: Vec<usize> = y.to_vec();
        scorers
            .iter()
            .map(|s| s.score(&y_true, &pred, Some(proba.view()), model.n_classes()))
            .collect()
    }
}

/// Row-wise argmax with ties to the lowest index (as `Classifier::predict` and numpy).
pub(crate) fn argmax_rows(proba: ArrayView2<'_, f32>) -> Vec<usize> {
    proba
        .rows()
        .into_iter()
        .map(|row| {
            let mut best = 0;
            for (k, &p) in row.iter().enumerate() {
                if p > row[best] {
                    best = k;
                }
            }
            best
        })
        .collect()
}

impl Default for Scorer {
    /// `f1_macro`: every class counts the same, the usual choice for multiclass tuning.
    fn default() -> Self {
        Scorer::F1(Average::Macro)
    }
}

impl fmt::Display for Scorer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Scorer {
    type Err = EvalError;
    fn from_str(s: &str) -> Result<Self> {
        Self::from_name(s)
    }
}

impl TryFrom<String> for Scorer {
    type Error = EvalError;
    fn try_from(s: String) -> Result<Self> {
        Self::from_name(&s)
    }
}

impl From<Scorer> for String {
    fn from(s: Scorer) -> Self {
        s.name().to_string()
    }
}
