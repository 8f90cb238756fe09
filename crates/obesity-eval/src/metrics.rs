//! Classification metrics with scikit-learn's definitions and edge cases.
//!
//! Labels are class indices `0..n_classes`; probabilities are `n_rows × n_classes` views of
//! `f32` or `f64`. Every function validates its input (lengths, emptiness, label range,
//! probability shape and range) and returns [`EvalError`] instead of panicking.

use crate::labels::Labels;
use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

use crate::compare::check_same_len;
use crate::error::{EvalError, Result};

/// What a ratio with a zero denominator becomes, as scikit-learn's `zero_division`.
///
/// Precision of a class never predicted, recall of a class absent from `y_true`, and F1 of a
/// class in neither, are 0/0. `Warn` is scikit-learn's default: the value is 0 (this crate does
/// not print warnings; [`PerClassScores::undefined`] says which classes were affected).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ZeroDivision {
    /// 0/0 becomes 0 and the class is flagged (scikit-learn's `"warn"`). The default.
    #[default]
    Warn,
    /// 0/0 becomes 0.
    Zero,
    /// 0/0 becomes 1.
    One,
    /// 0/0 becomes NaN, and averages skip NaN entries (as scikit-learn's `np.nan`).
    Nan,
}

impl ZeroDivision {
    fn value(self) -> f64 {
        match self {
            ZeroDivision::Warn | ZeroDivision::Zero => 0.0,
            ZeroDivision::One => 1.0,
            ZeroDivision::Nan => f64::NAN,
        }
    }
}

/// Which classes an average runs over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LabelSet {
    /// Classes that appear in `y_true` or `y_pred` (scikit-learn's `labels=None`). The default,
    /// and what the named scorers use, so cross-validation scores match scikit-learn's.
    #[default]
    Present,
    /// Every class `0..n_classes`, present or not (scikit-learn's `labels=range(n_classes)`,
    /// as `classification_report` with explicit labels).
    All,
}

/// How per-class scores are combined into one number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Average {
    /// Unweighted mean over classes: every class counts the same.
    Macro,
    /// Mean weighted by support (rows of that class in `y_true`).
    Weighted,
    /// Computed from the summed counts of all classes (equals accuracy for single-label data).
    Micro,
}

/// Precision, recall and F1 as one triple.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Prf {
    /// Precision: of the rows predicted as the class, the fraction that are.
    pub precision: f64,
    /// Recall: of the rows of the class, the fraction found.
    pub recall: f64,
    /// F1: harmonic mean of precision and recall, `2tp / (2tp + fp + fn)`.
    pub f1: f64,
}

/// Per-class precision, recall, F1 and support, indexed by class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PerClassScores {
    /// Precision of each class.
    pub precision: Vec<f64>,
    /// Recall of each class.
    pub recall: Vec<f64>,
    /// F1 of each class.
    pub f1: Vec<f64>,
    /// Rows of each class in `y_true`.
    pub support: Vec<u64>,
    /// Classes where at least one of the three was 0/0 and replaced by `zero_division`.
    pub undefined: Vec<usize>,
}

/// The `n_classes × n_classes` confusion matrix: row = true class, column = predicted class.
///
/// Every label metric derives from it, so build it once and ask it for the rest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ConfusionMatrixRepr")]
pub struct ConfusionMatrix {
    counts: Vec<Vec<u64>>,
}

/// The serialised form, checked on the way in so a hand-edited file cannot make the methods
/// index out of bounds.
#[derive(Deserialize)]
struct ConfusionMatrixRepr {
    counts: Vec<Vec<u64>>,
}

impl TryFrom<ConfusionMatrixRepr> for ConfusionMatrix {
    type Error = EvalError;
    fn try_from(r: ConfusionMatrixRepr) -> Result<Self> {
        ConfusionMatrix::from_counts(r.counts)
    }
}

impl ConfusionMatrix {
    /// Counts `(y_true[i], y_pred[i])` pairs.
    ///
    /// # Errors
    /// Length mismatch, empty input, `n_classes == 0`, or a label `>= n_classes`.
    pub fn new(
        y_true: &(impl Labels + ?Sized),
        y_pred: &(impl Labels + ?Sized),
        n_classes: usize,
    ) -> Result<Self> {
        let (y_true, y_pred) = (&*y_true.as_labels(), &*y_pred.as_labels());
        check_labels(y_true, y_pred, n_classes)?;
        let mut counts = vec![vec![0u64; n_classes]; n_classes];
        for (&t, &p) in y_true.iter().zip(y_pred) {
            // In range: checked above.
            if let Some(cell) = counts.get_mut(t).and_then(|r| r.get_mut(p)) {
                *cell += 1;
            }
        }
        Ok(Self { counts })
    }

    /// A confusion matrix from counts (`counts[true][predicted]`), e.g. one read back from
    /// a run log.
    ///
    /// # Errors
    /// An empty or non-square table, or one whose counts sum to zero.
    pub fn from_counts(counts: Vec<Vec<u64>>) -> Result<Self> {
        let n = counts.len();
        if n == 0 {
            return Err(EvalError::EmptyInput { what: "counts" });
        }
        if let Some((i, row)) = counts.iter().enumerate().find(|(_, r)| r.len() != n) {
            return Err(EvalError::InvalidValue {
                what: "counts",
                value: format!("row {i} has {} columns", row.len()),
                expected: format!("a square {n}x{n} table"),
            });
        }
        if counts.iter().flatten().all(|&c| c == 0) {
            return Err(EvalError::EmptyInput { what: "counts" });
        }
        Ok(Self { counts })
    }

    /// Number of classes (rows and columns).
    pub fn n_classes(&self) -> usize {
        self.counts.len()
    }

    /// The counts, `counts()[true][predicted]`.
    pub fn counts(&self) -> &[Vec<u64>] {
        &self.counts
    }

    /// Total number of rows counted.
    pub fn total(&self) -> u64 {
        self.counts.iter().flatten().sum()
    }

    /// Row sums: support of each class in `y_true`.
    pub fn true_counts(&self) -> Vec<u64> {
        self.counts.iter().map(|r| r.iter().sum()).collect()
    }

    /// Column sums: how often each class was predicted.
    pub fn predicted_counts(&self) -> Vec<u64> {
        let n = self.n_classes();
        (0..n)
            .map(|j| self.counts.iter().map(|r| r[j]).sum())
            .collect()
    }

    fn diag(&self) -> Vec<u64> {
        self.counts.iter().enumerate().map(|(i, r)| r[i]).collect()
    }

    /// Each row divided by its sum (scikit-learn's `normalize="true"`): entry `[i][j]` is the
    /// fraction of class-`i` rows predicted as `j`, so the diagonal is per-class recall. A
    /// class absent from `y_true` gets a row of zeros, as scikit-learn.
    pub fn normalized_by_true(&self) -> Vec<Vec<f64>> {
        self.counts
            .iter()
            .map(|r| {
                let s: u64 = r.iter().sum();
                r.iter()
                    .map(|&c| if s == 0 { 0.0 } else { c as f64 / s as f64 })
                    .collect()
            })
            .collect()
    }

    /// Fraction of rows predicted correctly.
    pub fn accuracy(&self) -> f64 {
        self.diag().iter().sum::<u64>() as f64 / self.total() as f64
    }

    /// Mean recall over the classes present in `y_true` (scikit-learn's
    /// `balanced_accuracy_score`): accuracy that a majority class cannot inflate.
    pub fn balanced_accuracy(&self) -> f64 {
        let (sum, n) = self
            .counts
            .iter()
            .enumerate()
            .filter_map(|(i, r)| {
                let s: u64 = r.iter().sum();
                (s > 0).then(|| r[i] as f64 / s as f64)
            })
            .fold((0.0, 0usize), |(a, n), x| (a + x, n + 1));
        sum / n as f64
    }

    /// Cohen's kappa: agreement corrected for chance. NaN when undefined (predictions and
    /// truth share at most one label), as scikit-learn's default `replace_undefined_by`.
    pub fn cohen_kappa(&self) -> f64 {
        let rows: Vec<f64> = self.true_counts().iter().map(|&x| x as f64).collect();
        let cols: Vec<f64> = self.predicted_counts().iter().map(|&x| x as f64).collect();
        let total: f64 = cols.iter().sum();
        let mut observed = 0.0;
        let mut expected = 0.0;
        for (i, (row, col_i)) in self.counts.iter().zip(&cols).enumerate() {
            for (j, (&count, row_j)) in row.iter().zip(&rows).enumerate() {
                if i != j {
                    observed += count as f64;
                    expected += col_i * row_j / total;
                }
            }
        }
        if expected == 0.0 {
            f64::NAN
        } else {
            1.0 - observed / expected
        }
    }

    /// Matthews correlation coefficient, multiclass (Gorodkin's R_K, scikit-learn's
    /// `matthews_corrcoef`): one number in [-1, 1] that stays honest on unbalanced classes.
    /// 0 when either the truth or the predictions hold a single class.
    pub fn matthews_corrcoef(&self) -> f64 {
        let t: Vec<f64> = self.true_counts().iter().map(|&x| x as f64).collect();
        let p: Vec<f64> = self.predicted_counts().iter().map(|&x| x as f64).collect();
        let correct = self.diag().iter().sum::<u64>() as f64;
        let n: f64 = p.iter().sum();
        let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
        let cov_tp = correct * n - dot(&t, &p);
        let cov_pp = n * n - dot(&p, &p);
        let cov_tt = n * n - dot(&t, &t);
        let denom = cov_pp * cov_tt;
        if denom == 0.0 {
            0.0
        } else {
            cov_tp / denom.sqrt()
        }
    }

    /// Per-class precision, recall, F1 and support for every class `0..n_classes`.
    pub fn per_class(&self, zero_division: ZeroDivision) -> PerClassScores {
        let tp = self.diag();
        let pred = self.predicted_counts();
        let truth = self.true_counts();
        let zd = zero_division.value();
        let mut out = PerClassScores {
            precision: Vec::with_capacity(tp.len()),
            recall: Vec::with_capacity(tp.len()),
            f1: Vec::with_capacity(tp.len()),
            support: truth.clone(),
            undefined: Vec::new(),
        };
        for k in 0..tp.len() {
            let (t, p, s) = (tp[k] as f64, pred[k] as f64, truth[k] as f64);
            let precision = if pred[k] == 0 { zd } else { t / p };
            let recall = if truth[k] == 0 { zd } else { t / s };
            let f1 = if truth[k] + pred[k] == 0 {
                zd
            } else {
                2.0 * t / (s + p)
            };
            if pred[k] == 0 || truth[k] == 0 {
                out.undefined.push(k);
            }
            out.precision.push(precision);
            out.recall.push(recall);
            out.f1.push(f1);
        }
        out
    }

    /// Precision, recall and F1 averaged over `labels` as scikit-learn's
    /// `precision_recall_fscore_support(average=...)`.
    pub fn averaged(&self, average: Average, labels: LabelSet, zero_division: ZeroDivision) -> Prf {
        let classes = self.label_set(labels);
        let zd = zero_division.value();
        match average {
            Average::Micro => {
                let tp: u64 = classes.iter().map(|&k| self.counts[k][k]).sum();
                let pred = self.predicted_counts();
                let truth = self.true_counts();
                let p: u64 = classes.iter().map(|&k| pred[k]).sum();
                let t: u64 = classes.iter().map(|&k| truth[k]).sum();
                let div = |num: f64, den: u64| if den == 0 { zd } else { num / den as f64 };
                Prf {
                    precision: div(tp as f64, p),
                    recall: div(tp as f64, t),
                    f1: div(2.0 * tp as f64, p + t),
                }
            }
            Average::Macro | Average::Weighted => {
                let pc = self.per_class(zero_division);
                let weights: Option<Vec<f64>> = (average == Average::Weighted)
                    .then(|| classes.iter().map(|&k| pc.support[k] as f64).collect());
                let pick = |v: &[f64]| -> Vec<f64> { classes.iter().map(|&k| v[k]).collect() };
                Prf {
                    precision: nan_average(&pick(&pc.precision), weights.as_deref()),
                    recall: nan_average(&pick(&pc.recall), weights.as_deref()),
                    f1: nan_average(&pick(&pc.f1), weights.as_deref()),
                }
            }
        }
    }

    fn label_set(&self, labels: LabelSet) -> Vec<usize> {
        match labels {
            LabelSet::All => (0..self.n_classes()).collect(),
            LabelSet::Present => {
                let t = self.true_counts();
                let p = self.predicted_counts();
                (0..self.n_classes()).filter(|&k| t[k] + p[k] > 0).collect()
            }
        }
    }
}

/// scikit-learn's `_nanaverage`: drop NaN entries, weighted mean; all-zero weights fall back
/// to the plain mean; nothing left is NaN.
fn nan_average(values: &[f64], weights: Option<&[f64]>) -> f64 {
    let keep: Vec<usize> = (0..values.len()).filter(|&i| !values[i].is_nan()).collect();
    if keep.is_empty() {
        return f64::NAN;
    }
    let plain = || keep.iter().map(|&i| values[i]).sum::<f64>() / keep.len() as f64;
    match weights {
        None => plain(),
        Some(w) => {
            let wsum: f64 = keep.iter().map(|&i| w[i]).sum();
            if wsum == 0.0 {
                plain()
            } else {
                keep.iter().map(|&i| values[i] * w[i]).sum::<f64>() / wsum
            }
        }
    }
}

/// A floating-point probability type (`f32` or `f64`). Its machine epsilon is where
/// [`log_loss`] clips, exactly as scikit-learn clips to the epsilon of the input's dtype.
pub trait Probability: Copy + Send + Sync + 'static {
    /// Machine epsilon of the type, as f64.
    const EPS: f64;
    /// Widens to f64 (exact).
    fn to_f64(self) -> f64;
}

impl Probability for f32 {
    const EPS: f64 = f32::EPSILON as f64;
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
}

impl Probability for f64 {
    const EPS: f64 = f64::EPSILON;
    fn to_f64(self) -> f64 {
        self
    }
}

/// Fraction of rows predicted correctly (scikit-learn's `accuracy_score`).
///
/// # Errors
/// Length mismatch or empty input.
pub fn accuracy(y_true: &(impl Labels + ?Sized), y_pred: &(impl Labels + ?Sized)) -> Result<f64> {
    let y_true = &*y_true.as_labels();
    let y_pred = &*y_pred.as_labels();
    check_same_len("y_true", y_true.len(), "y_pred", y_pred.len())?;
    if y_true.is_empty() {
        return Err(EvalError::EmptyInput { what: "y_true" });
    }
    let right = y_true.iter().zip(y_pred).filter(|(t, p)| t == p).count();
    Ok(right as f64 / y_true.len() as f64)
}

/// Balanced accuracy: mean per-class recall over classes present in `y_true`.
///
/// # Errors
/// As [`ConfusionMatrix::new`].
pub fn balanced_accuracy(
    y_true: &(impl Labels + ?Sized),
    y_pred: &(impl Labels + ?Sized),
    n_classes: usize,
) -> Result<f64> {
    Ok(ConfusionMatrix::new(y_true, y_pred, n_classes)?.balanced_accuracy())
}

/// Precision, recall and F1 averaged as asked; see [`ConfusionMatrix::averaged`].
///
/// # Errors
/// As [`ConfusionMatrix::new`].
pub fn precision_recall_f1(
    y_true: &(impl Labels + ?Sized),
    y_pred: &(impl Labels + ?Sized),
    n_classes: usize,
    average: Average,
    zero_division: ZeroDivision,
) -> Result<Prf> {
    Ok(ConfusionMatrix::new(y_true, y_pred, n_classes)?.averaged(
        average,
        LabelSet::Present,
        zero_division,
    ))
}

/// Cohen's kappa; see [`ConfusionMatrix::cohen_kappa`].
///
/// # Errors
/// As [`ConfusionMatrix::new`].
pub fn cohen_kappa(
    y_true: &(impl Labels + ?Sized),
    y_pred: &(impl Labels + ?Sized),
    n_classes: usize,
) -> Result<f64> {
    Ok(ConfusionMatrix::new(y_true, y_pred, n_classes)?.cohen_kappa())
}

/// Matthews correlation; see [`ConfusionMatrix::matthews_corrcoef`].
///
/// # Errors
/// As [`ConfusionMatrix::new`].
pub fn matthews_corrcoef(
    y_true: &(impl Labels + ?Sized),
    y_pred: &(impl Labels + ?Sized),
    n_classes: usize,
) -> Result<f64> {
    Ok(ConfusionMatrix::new(y_true, y_pred, n_classes)?.matthews_corrcoef())
}

/// Mean negative log-likelihood of the true class (scikit-learn's `log_loss` with
/// `labels=range(n_classes)`). Probabilities are clipped to `[eps, 1 − eps]` with `eps` the
/// machine epsilon of `T` (scikit-learn ≥ 1.5 clips at the dtype's epsilon; rows are not
/// renormalised), so a confident wrong answer costs a large but finite amount.
///
/// # Errors
/// Length mismatch, empty input, a label outside the columns, a probability outside
/// [0, 1] or NaN, or fewer than 2 columns.
pub fn log_loss<T: Probability>(
    y_true: &(impl Labels + ?Sized),
    proba: ArrayView2<'_, T>,
) -> Result<f64> {
    let y_true = &*y_true.as_labels();
    check_proba(y_true, proba)?;
    need_two_classes("log_loss", proba.ncols())?;
    let lo = T::EPS;
    let hi = 1.0 - T::EPS;
    let sum: f64 = y_true
        .iter()
        .zip(proba.rows())
        .map(|(&t, row)| -row[t].to_f64().clamp(lo, hi).ln())
        .sum();
    Ok(sum / y_true.len() as f64)
}

/// Multiclass Brier score: mean over rows of `Σ_k (p_k − 1[y = k])²` (Brier, 1950), as
/// scikit-learn ≥ 1.7's `brier_score_loss(labels=range(n_classes))`, which halves it for two
/// classes (`scale_by_half="auto"`) so the binary value is the familiar `mean((p₁ − y)²)`.
/// Range [0, 2] for three or more classes, [0, 1] for two; lower is better.
///
/// # Errors
/// As [`log_loss`].
pub fn brier_score<T: Probability>(
    y_true: &(impl Labels + ?Sized),
    proba: ArrayView2<'_, T>,
) -> Result<f64> {
    let y_true = &*y_true.as_labels();
    check_proba(y_true, proba)?;
    need_two_classes("brier_score", proba.ncols())?;
    let sum: f64 = y_true
        .iter()
        .zip(proba.rows())
        .map(|(&t, row)| {
            row.iter()
                .enumerate()
                .map(|(k, &p)| {
                    let d = p.to_f64() - if k == t { 1.0 } else { 0.0 };
                    d * d
                })
                .sum::<f64>()
        })
        .sum();
    let mean = sum / y_true.len() as f64;
    Ok(if proba.ncols() < 3 { mean / 2.0 } else { mean })
}

/// ROC-AUC of each class against the rest, with tied scores given their average rank
/// (the Mann–Whitney form, equal to the trapezoidal area under the ROC curve). NaN for a
/// class that is absent from `y_true` or is all of it.
///
/// # Errors
/// As [`log_loss`].
pub fn roc_auc_per_class<T: Probability>(
    y_true: &(impl Labels + ?Sized),
    proba: ArrayView2<'_, T>,
) -> Result<Vec<f64>> {
    let y_true = &*y_true.as_labels();
    check_proba(y_true, proba)?;
    need_two_classes("roc_auc", proba.ncols())?;
    let n = y_true.len();
    let mut order: Vec<usize> = (0..n).collect();
    let mut ranks = vec![0.0f64; n];
    let mut out = Vec::with_capacity(proba.ncols());
    for (k, col) in proba.columns().into_iter().enumerate() {
        let scores: Vec<f64> = col.iter().map(|v| v.to_f64()).collect();
        order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
        let mut i = 0;
        while i < n {
            let mut j = i;
            while j + 1 < n && scores[order[j + 1]] == scores[order[i]] {
                j += 1;
            }
            let avg = (i + j) as f64 / 2.0 + 1.0;
            for &idx in &order[i..=j] {
                ranks[idx] = avg;
            }
            i = j + 1;
        }
        let n_pos = y_true.iter().filter(|&&t| t == k).count();
        let n_neg = n - n_pos;
        if n_pos == 0 || n_neg == 0 {
            out.push(f64::NAN);
            continue;
        }
        let rank_sum: f64 = y_true
            .iter()
            .zip(&ranks)
            .filter(|(t, _)| **t == k)
            .map(|(_, r)| r)
            .sum();
        let np = n_pos as f64;
        out.push((rank_sum - np * (np + 1.0) / 2.0) / (np * n_neg as f64));
    }
    Ok(out)
}

/// One-vs-rest ROC-AUC averaged as scikit-learn's `roc_auc_score(multi_class="ovr",
/// average=...)`: `Macro` is NaN when any class is undefined (absent from `y_true`);
/// `Weighted` weighs by support, so absent classes count 0. For two classes both equal the
/// binary AUC of column 1, as scikit-learn. `Micro` is not supported (an error).
///
/// # Errors
/// As [`log_loss`], or `Average::Micro`.
pub fn roc_auc_ovr<T: Probability>(
    y_true: &(impl Labels + ?Sized),
    proba: ArrayView2<'_, T>,
    average: Average,
) -> Result<f64> {
    let y_true = &*y_true.as_labels();
    let per_class = roc_auc_per_class(y_true, proba)?;
    if per_class.len() == 2 {
        return Ok(per_class[1]);
    }
    match average {
        Average::Macro => Ok(per_class.iter().sum::<f64>() / per_class.len() as f64),
        Average::Weighted => {
            let mut support = vec![0.0f64; per_class.len()];
            for &t in y_true {
                support[t] += 1.0;
            }
            let total: f64 = support.iter().sum();
            Ok(per_class
                .iter()
                .zip(&support)
                .map(|(a, w)| if *w == 0.0 { 0.0 } else { a * w })
                .sum::<f64>()
                / total)
        }
        Average::Micro => Err(EvalError::Undefined {
            metric: "roc_auc_ovr",
            reason: "micro averaging is not supported; use macro or weighted".into(),
        }),
    }
}

/// Every metric of this module at once, as one serialisable record for a run log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Number of rows scored.
    pub n_samples: usize,
    /// Accuracy.
    pub accuracy: f64,
    /// Balanced accuracy.
    pub balanced_accuracy: f64,
    /// Macro precision/recall/F1 over present classes.
    pub macro_avg: Prf,
    /// Support-weighted precision/recall/F1.
    pub weighted_avg: Prf,
    /// Micro precision/recall/F1.
    pub micro_avg: Prf,
    /// Per-class scores (zero_division = warn → 0).
    pub per_class: PerClassScores,
    /// Cohen's kappa (NaN, serialised as null, when undefined).
    pub cohen_kappa: f64,
    /// Matthews correlation.
    pub matthews_corrcoef: f64,
    /// Confusion matrix.
    pub confusion: ConfusionMatrix,
    /// Log loss, when probabilities were given.
    pub log_loss: Option<f64>,
    /// One-vs-rest macro ROC-AUC, when probabilities were given.
    pub roc_auc_ovr_macro: Option<f64>,
    /// One-vs-rest weighted ROC-AUC, when probabilities were given.
    pub roc_auc_ovr_weighted: Option<f64>,
    /// Multiclass Brier score, when probabilities were given.
    pub brier_score: Option<f64>,
}

impl Metrics {
    /// Computes every label metric, and the probability metrics when `proba` is given.
    ///
    /// # Errors
    /// Any input problem the individual metrics report, including `proba` with a column count
    /// other than `n_classes`.
    pub fn compute<T: Probability>(
        y_true: &[usize],
        y_pred: &[usize],
        proba: Option<ArrayView2<'_, T>>,
        n_classes: usize,
    ) -> Result<Self> {
        let cm = ConfusionMatrix::new(y_true, y_pred, n_classes)?;
        let zd = ZeroDivision::Warn;
        let (log_loss, auc_m, auc_w, brier) = match proba {
            Some(p) => {
                if p.ncols() != n_classes {
                    return Err(EvalError::ClassCountMismatch {
                        expected: n_classes,
                        got: p.ncols(),
                    });
                }
                (
                    Some(log_loss(y_true, p)?),
                    Some(roc_auc_ovr(y_true, p, Average::Macro)?),
                    Some(roc_auc_ovr(y_true, p, Average::Weighted)?),
                    Some(brier_score(y_true, p)?),
                )
            }
            None => (None, None, None, None),
        };
        Ok(Self {
            n_samples: y_true.len(),
            accuracy: cm.accuracy(),
            balanced_accuracy: cm.balanced_accuracy(),
            macro_avg: cm.averaged(Average::Macro, LabelSet::Present, zd),
            weighted_avg: cm.averaged(Average::Weighted, LabelSet::Present, zd),
            micro_avg: cm.averaged(Average::Micro, LabelSet::Present, zd),
            per_class: cm.per_class(zd),
            cohen_kappa: cm.cohen_kappa(),
            matthews_corrcoef: cm.matthews_corrcoef(),
            confusion: cm,
            log_loss,
            roc_auc_ovr_macro: auc_m,
            roc_auc_ovr_weighted: auc_w,
            brier_score: brier,
        })
    }
}

pub(crate) fn check_labels(y_true: &[usize], y_pred: &[usize], n_classes: usize) -> Result<()> {
    check_same_len("y_true", y_true.len(), "y_pred", y_pred.len())?;
    if y_true.is_empty() {
        return Err(EvalError::EmptyInput { what: "y_true" });
    }
    if n_classes == 0 {
        return Err(EvalError::InvalidValue {
            what: "n_classes",
            value: "0".into(),
            expected: "at least 1".into(),
        });
    }
    check_range("y_true", y_true, n_classes)?;
    check_range("y_pred", y_pred, n_classes)
}

fn check_range(what: &'static str, labels: &[usize], n_classes: usize) -> Result<()> {
    match labels.iter().position(|&l| l >= n_classes) {
        Some(index) => Err(EvalError::LabelOutOfRange {
            what,
            index,
            label: labels[index],
            n_classes,
        }),
        None => Ok(()),
    }
}

/// How far above 1 a probability may be before it is an error: a few f32 ulps, so models
/// that average f32 probabilities are not rejected for rounding.
const PROBA_ROUNDING_SLACK: f64 = 1e-6;

/// Checks a probability matrix against labels: one row per label, labels within the column
/// count, every value finite and within [0, 1] (scikit-learn rejects values outside).
pub(crate) fn check_proba<T: Probability>(
    y_true: &[usize],
    proba: ArrayView2<'_, T>,
) -> Result<()> {
    check_same_len("y_true", y_true.len(), "proba rows", proba.nrows())?;
    if y_true.is_empty() {
        return Err(EvalError::EmptyInput { what: "y_true" });
    }
    if proba.ncols() == 0 {
        return Err(EvalError::EmptyInput {
            what: "proba columns",
        });
    }
    check_range("y_true", y_true, proba.ncols())?;
    for ((i, k), v) in proba.indexed_iter() {
        let v = v.to_f64();
        // An f32 average of per-tree probabilities may exceed 1 by an ulp or two; that is
        // rounding, not a bad input.
        if !(0.0..=1.0 + PROBA_ROUNDING_SLACK).contains(&v) {
            return Err(EvalError::InvalidValue {
                what: "proba",
                value: format!("{v} at row {i}, class {k}"),
                expected: "a probability in [0, 1]".into(),
            });
        }
    }
    Ok(())
}

fn need_two_classes(metric: &'static str, n: usize) -> Result<()> {
    if n < 2 {
        Err(EvalError::Undefined {
            metric,
            reason: format!("needs at least 2 classes, got {n}"),
        })
    } else {
        Ok(())
    }
}
