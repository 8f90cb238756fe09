//! The two traits every model crate meets at: [`ModelStrategy`] (untrained, holds
//! hyper-parameters) and [`Classifier`] (trained). Both are object-safe, so a search, a
//! registry or a server can hold `Box<dyn ModelStrategy>` / `Box<dyn Classifier>` without
//! knowing the concrete model.

use std::collections::BTreeMap;

use ndarray::{Array1, Array2, ArrayView1, ArrayView2};

use crate::error::Result;

/// Something that can be trained: holds hyper-parameters, validated when built.
pub trait ModelStrategy: Send + Sync {
    /// Short model name for run tracking (`random_forest`, `linfa_decision_tree`).
    fn name(&self) -> &str;

    /// Hyper-parameters as strings, for run tracking (`n_estimators` → `100`).
    fn params(&self) -> BTreeMap<String, String>;

    /// Trains on `x` (rows are samples) with labels `y` in `0..n_classes`.
    ///
    /// Errors on an empty matrix, mismatched lengths, non-finite values or labels out of range.
    fn fit(
        &self,
        x: ArrayView2<'_, f32>,
        y: ArrayView1<'_, usize>,
        n_classes: usize,
    ) -> Result<Box<dyn Classifier>>;
}

/// A trained model. Never panics on input; a wrong width is an error.
pub trait Classifier: Send + Sync {
    /// Model name, as the strategy that trained it reports it.
    fn name(&self) -> &str;

    /// Number of input columns.
    fn n_features(&self) -> usize;

    /// Number of classes (columns of `predict_proba`).
    fn n_classes(&self) -> usize;

    /// Class probabilities, `n_rows × n_classes`, each row summing to 1.
    fn predict_proba(&self, x: ArrayView2<'_, f32>) -> Result<Array2<f32>>;

    /// Most probable class per row (ties go to the lowest class index, as scikit-learn's
    /// `argmax`).
    fn predict(&self, x: ArrayView2<'_, f32>) -> Result<Array1<usize>> {
        let proba = self.predict_proba(x)?;
        Ok(proba
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
            .collect())
    }

    /// Class probabilities of one row into `out` (length [`n_classes`](Self::n_classes)),
    /// for serving one request at a time. The default builds a one-row matrix and calls
    /// [`predict_proba`](Self::predict_proba); [`RandomForest`](crate::RandomForest)
    /// overrides it with a kernel that allocates nothing.
    ///
    /// # Errors
    /// Those of `predict_proba` for a wrong width or a non-finite value, and
    /// [`ModelError::OutputLength`](crate::ModelError::OutputLength) when `out` is not
    /// `n_classes` long.
    fn predict_proba_row(&self, row: &[f32], out: &mut [f32]) -> Result<()> {
        if out.len() != self.n_classes() {
            return Err(crate::error::ModelError::OutputLength {
                expected: self.n_classes(),
                got: out.len(),
            });
        }
        let x = ndarray::ArrayView2::from_shape((1, row.len()), row).map_err(|e| {
            crate::error::ModelError::Corrupt {
                reason: format!("one row of {} values: {e}", row.len()),
            }
        })?;
        let p = self.predict_proba(x)?;
        for (o, v) in out.iter_mut().zip(p.iter()) {
            *o = *v;
        }
        Ok(())
    }

    /// Impurity-based feature importances (normalised to sum 1), when the model has them.
    fn feature_importances(&self) -> Option<Vec<f64>> {
        None
    }

    /// Serializes the model, for the registry and for files.
    ///
    /// The built-in models write bytes that [`load_classifier`](crate::load_classifier)
    /// reads back. The default is [`ModelError::NotPersistable`](crate::ModelError), whose
    /// message says what to do: a custom model wraps its payload with
    /// [`envelope::seal`](crate::envelope::seal) under an 8-byte magic of its own (a
    /// versioned, checksummed file format for free), and reads it back with
    /// [`envelope::open`](crate::envelope::open) in the loader it registers with the
    /// registry. Checking inputs the way the built-in models do is
    /// [`validate::check_predict`](crate::validate::check_predict).
    fn to_bytes(&self) -> Result<Vec<u8>> {
        Err(crate::error::ModelError::NotPersistable {
            model: self.name().to_owned(),
        })
    }
}

/// What a loaded model is, for `{:?}`: so that `Result<Box<dyn Classifier>>` has `unwrap_err`,
/// `expect_err` and `assert!(.., "{result:?}")`, as a registry loader's callers need.
impl std::fmt::Debug for dyn Classifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Classifier")
            .field("name", &self.name())
            .field("n_features", &self.n_features())
            .field("n_classes", &self.n_classes())
            .finish_non_exhaustive()
    }
}

/// A strategy's name and hyper-parameters, for `{:?}`.
impl std::fmt::Debug for dyn ModelStrategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelStrategy")
            .field("name", &self.name())
            .field("params", &self.params())
            .finish()
    }
}
