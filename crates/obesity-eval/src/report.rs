//! The classification report: scikit-learn's familiar text table, and the same numbers as
//! JSON for a run log.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{EvalError, Result};
use crate::metrics::{Average, ConfusionMatrix, LabelSet, Prf, ZeroDivision};

/// One line of the report: a class or an average.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportRow {
    /// Class name, or `macro avg` / `weighted avg`.
    pub label: String,
    /// Precision.
    pub precision: f64,
    /// Recall.
    pub recall: f64,
    /// F1.
    #[serde(rename = "f1-score")]
    pub f1_score: f64,
    /// Rows of that class in `y_true` (all rows for the averages).
    pub support: u64,
}

/// scikit-learn's `classification_report(labels=range(n_classes), target_names=...)`:
/// per-class precision, recall, F1 and support, then accuracy, macro and weighted averages,
/// all over every class (a class absent from the test set still has a row).
///
/// `Display` prints the text table byte for byte as scikit-learn does (2 digits by default;
/// see [`ClassificationReport::to_text`]); serde gives the JSON form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassificationReport {
    /// One row per class, in class-index order.
    pub classes: Vec<ReportRow>,
    /// Accuracy over all rows.
    pub accuracy: f64,
    /// Unweighted mean over classes.
    pub macro_avg: ReportRow,
    /// Support-weighted mean over classes.
    pub weighted_avg: ReportRow,
    /// The `zero_division` used for 0/0 ratios.
    pub zero_division: ZeroDivision,
}

impl ClassificationReport {
    /// Builds the report. `class_names[k]` names class `k`; their count is `n_classes`.
    ///
    /// # Errors
    /// Empty `class_names`, or any label problem [`ConfusionMatrix::new`] reports.
    pub fn new(
        y_true: &(impl crate::labels::Labels + ?Sized),
        y_pred: &(impl crate::labels::Labels + ?Sized),
        class_names: &[String],
        zero_division: ZeroDivision,
    ) -> Result<Self> {
        if class_names.is_empty() {
            return Err(EvalError::EmptyInput {
                what: "class_names",
            });
        }
        let cm = ConfusionMatrix::new(y_true, y_pred, class_names.len())?;
        Ok(Self::from_confusion(&cm, class_names, zero_division))
    }

    /// Builds the report from a confusion matrix whose size equals `class_names.len()`
    /// (extra names are ignored, missing ones are shown as the class index).
    pub fn from_confusion(
        cm: &ConfusionMatrix,
        class_names: &[String],
        zero_division: ZeroDivision,
    ) -> Self {
        let pc = cm.per_class(zero_division);
        let total = cm.total();
        let classes = (0..cm.n_classes())
            .map(|k| ReportRow {
                label: class_names.get(k).cloned().unwrap_or_else(|| k.to_string()),
                precision: pc.precision[k],
                recall: pc.recall[k],
                f1_score: pc.f1[k],
                support: pc.support[k],
            })
            .collect();
        let avg = |label: &str, prf: Prf| ReportRow {
            label: label.to_string(),
            precision: prf.precision,
            recall: prf.recall,
            f1_score: prf.f1,
            support: total,
        };
        Self {
            classes,
            accuracy: cm.averaged(Average::Micro, LabelSet::All, zero_division).f1,
            macro_avg: avg(
                "macro avg",
                cm.averaged(Average::Macro, LabelSet::All, zero_division),
            ),
            weighted_avg: avg(
                "weighted avg",
                cm.averaged(Average::Weighted, LabelSet::All, zero_division),
            ),
            zero_division,
        }
    }

    /// The text table with `digits` decimals, exactly as scikit-learn prints it.
    pub fn to_text(&self, digits: usize) -> String {
        let name_width = self
            .classes
            .iter()
            .map(|r| r.label.chars().count())
            .max()
            .unwrap_or(0);
        let width = name_width.max("weighted avg".len()).max(digits);
        let mut s = format!(
            "{:>width$}  {:>9} {:>9} {:>9} {:>9}\n\n",
            "", "precision", "recall", "f1-score", "support"
        );
        // Python prints NaN as `nan`; Rust's `{:.2}` would print `NaN`.
        let num = |v: f64| {
            if v.is_nan() {
                "nan".to_string()
            } else {
                format!("{v:.digits$}")
            }
        };
        let row = |s: &mut String, r: &ReportRow| {
            s.push_str(&format!(
                "{:>width$}  {:>9} {:>9} {:>9} {:>9}\n",
                r.label,
                num(r.precision),
                num(r.recall),
                num(r.f1_score),
                r.support
            ));
        };
        for r in &self.classes {
            row(&mut s, r);
        }
        s.push('\n');
        s.push_str(&format!(
            "{:>width$}  {:>9} {:>9} {:>9} {:>9}\n",
            "accuracy",
            "",
            "",
            num(self.accuracy),
            self.macro_avg.support
        ));
        row(&mut s, &self.macro_avg);
        row(&mut s, &self.weighted_avg);
        s
    }

    /// The JSON form (serde), pretty-printed.
    ///
    /// # Errors
    /// Never in practice (every field serialises); kept fallible to report NaN handling
    /// changes in serde_json as an error rather than a panic.
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string_pretty(self).map_err(|e| EvalError::InvalidValue {
            what: "report",
            value: e.to_string(),
            expected: "a JSON-serialisable report".into(),
        })
    }
}

impl fmt::Display for ClassificationReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_text(2))
    }
}
