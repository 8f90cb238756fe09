//! Input checks shared by every model: shapes, finiteness, label range. They run before any
//! work, so a bad input is an error that names the row and column, never a panic deep inside.
//!
//! Public so that a custom [`ModelStrategy`](crate::ModelStrategy) /
//! [`Classifier`](crate::Classifier) refuses bad input exactly as the built-in models do:
//!
//! ```
//! use obesity_forest::validate::{check_predict, check_training};
//! use obesity_forest::ModelError;
//! use ndarray::{array, Array1};
//!
//! let x = array![[1.0f32, 2.0], [3.0, f32::NAN]];
//! let y: Array1<usize> = array![0, 1];
//! // A NaN is named by row and column.
//! assert!(matches!(
//!     check_training(x.view(), y.view(), 2),
//!     Err(ModelError::NonFinite { row: 1, feature: 1, .. })
//! ));
//! // A model trained on 3 columns refuses 2.
//! assert!(matches!(
//!     check_predict(x.view(), 3),
//!     Err(ModelError::FeatureCountMismatch { expected: 3, got: 2 })
//! ));
//! ```

use std::fmt::Display;

use ndarray::{ArrayView1, ArrayView2};

use crate::error::{ModelError, Result};

/// Most input columns a model is trained on or read with. A forest's prediction layout holds
/// about 1.2 KB per feature whether or not a split uses it, and nothing else in a model file
/// grows with the width: this cap is what bounds the memory loading a file can take for it
/// (about 80 MB), where an unchecked `n_features` of 3 million took 3.4 GiB.
pub(crate) const MAX_FEATURES: usize = 1 << 16;

/// Most classes a linfa tree is trained on or read with: nothing in its file grows with the
/// number of classes, yet `predict_proba` allocates that many floats per row.
#[cfg(feature = "linfa")]
pub(crate) const MAX_LINFA_CLASSES: usize = 1 << 16;

/// How far a stored leaf's class probabilities may sum from 1. Training writes
/// `(class weight / leaf weight) as f32`, whose sum is within about 1e-7 of 1.
pub(crate) const PROBA_SUM_TOLERANCE: f64 = 1e-5;

/// The error for a model file's field that no valid model can hold.
pub(crate) fn bad_field(
    field: impl Into<String>,
    value: impl Display,
    expected: impl Into<String>,
) -> ModelError {
    ModelError::InvalidModelField {
        field: field.into(),
        value: value.to_string(),
        expected: expected.into(),
    }
}

/// Checks a model's width as read from a file: `1..=MAX_FEATURES`.
pub(crate) fn check_stored_width(field: &str, n_features: u64) -> Result<()> {
    if n_features == 0 || n_features > MAX_FEATURES as u64 {
        return Err(bad_field(
            field,
            n_features,
            format!("1..={MAX_FEATURES} features"),
        ));
    }
    Ok(())
}

/// Checks a training set: at least one class, non-empty, `x`/`y` lengths agree, at most
/// 65,536 columns, finite values, labels in `0..n_classes`.
///
/// # Errors
/// [`ModelError::InvalidParam`], [`ModelError::LengthMismatch`], [`ModelError::EmptyInput`],
/// [`ModelError::NonFinite`] (naming row and column), [`ModelError::LabelOutOfRange`].
pub fn check_training(
    x: ArrayView2<'_, f32>,
    y: ArrayView1<'_, usize>,
    n_classes: usize,
) -> Result<()> {
    if n_classes == 0 {
        return Err(ModelError::InvalidParam {
            name: "n_classes",
            value: "0".into(),
            expected: "at least 1".into(),
        });
    }
    if x.nrows() != y.len() {
        return Err(ModelError::LengthMismatch {
            x_rows: x.nrows(),
            y_rows: y.len(),
        });
    }
    if x.nrows() == 0 || x.ncols() == 0 {
        return Err(ModelError::EmptyInput);
    }
    if x.ncols() > MAX_FEATURES {
        return Err(ModelError::InvalidParam {
            name: "x",
            value: format!("{} × {}", x.nrows(), x.ncols()),
            expected: format!(
                "at most {MAX_FEATURES} columns (wider models could not be read back from a file)"
            ),
        });
    }
    check_finite(x)?;
    if let Some((row, &label)) = y.iter().enumerate().find(|(_, l)| **l >= n_classes) {
        return Err(ModelError::LabelOutOfRange {
            row,
            label,
            n_classes,
        });
    }
    Ok(())
}

/// Checks a prediction input against the model's width: `n_features` columns, at least one
/// row, finite values.
///
/// # Errors
/// [`ModelError::FeatureCountMismatch`], [`ModelError::EmptyInput`], [`ModelError::NonFinite`].
pub fn check_predict(x: ArrayView2<'_, f32>, n_features: usize) -> Result<()> {
    if x.ncols() != n_features {
        return Err(ModelError::FeatureCountMismatch {
            expected: n_features,
            got: x.ncols(),
        });
    }
    if x.nrows() == 0 {
        return Err(ModelError::EmptyInput);
    }
    check_finite(x)
}

/// Checks one row against the model's width and for finite values.
///
/// # Errors
/// [`ModelError::FeatureCountMismatch`], [`ModelError::NonFinite`] (row 0).
pub fn check_row(row: &[f32], n_features: usize) -> Result<()> {
    if row.len() != n_features {
        return Err(ModelError::FeatureCountMismatch {
            expected: n_features,
            got: row.len(),
        });
    }
    if let Some((feature, &value)) = row.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(ModelError::NonFinite {
            row: 0,
            feature,
            value,
        });
    }
    Ok(())
}

fn check_finite(x: ArrayView2<'_, f32>) -> Result<()> {
    // Fast path for contiguous input: a branch-free pass the compiler vectorises (finite
    // means the exponent bits are not all ones), then the row-by-row search below only when
    // some value failed, to name it.
    if let Some(s) = x.as_slice() {
        let all_finite = s.chunks(256).all(|c| {
            c.iter().fold(true, |ok, v| {
                ok & (v.to_bits() & 0x7f80_0000 != 0x7f80_0000)
            })
        });
        if all_finite {
            return Ok(());
        }
    }
    for (row, r) in x.rows().into_iter().enumerate() {
        if let Some((feature, &value)) = r.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(ModelError::NonFinite {
                row,
                feature,
                value,
            });
        }
    }
    Ok(())
}
