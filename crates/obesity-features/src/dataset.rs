//! The numeric data set every model crate consumes.

use ndarray::{Array1, Array2, Axis};
use serde::{Deserialize, Serialize};

use crate::error::{FeatureError, Result};

/// A numeric, labelled data set: the output of a fitted
/// [`FeaturePipeline`](crate::FeaturePipeline) and the input of every model.
///
/// `x` is row-major `n_samples × n_features`; `y[i]` is the class index of row `i`, an index
/// into `class_names`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dataset {
    /// Feature matrix, one row per sample.
    pub x: Array2<f32>,
    /// Class index per row, in `0..class_names.len()`.
    pub y: Array1<usize>,
    /// Name of each column of `x` (`BMI`, `MTRANS=Walking`, ...).
    pub feature_names: Vec<String>,
    /// Name of each class, indexed by the values of `y`.
    pub class_names: Vec<String>,
}

impl Dataset {
    /// A data set from its parts, checked: `y` has one entry per row of `x`, every class
    /// index is below `class_names.len()`, and there is one feature name per column. For
    /// model crates and tests that build a `Dataset` without a pipeline.
    ///
    /// # Errors
    /// [`FeatureError::Shape`] naming the part that does not fit.
    pub fn new(
        x: Array2<f32>,
        y: Array1<usize>,
        feature_names: Vec<String>,
        class_names: Vec<String>,
    ) -> Result<Self> {
        let shape = |what: String, expected: String, found: String| FeatureError::Shape {
            what,
            expected,
            found,
        };
        if y.len() != x.nrows() {
            return Err(shape(
                "y length".to_owned(),
                format!("{} (rows of x)", x.nrows()),
                y.len().to_string(),
            ));
        }
        if feature_names.len() != x.ncols() {
            return Err(shape(
                "feature_names length".to_owned(),
                format!("{} (columns of x)", x.ncols()),
                feature_names.len().to_string(),
            ));
        }
        if let Some((row, &class)) = y.iter().enumerate().find(|(_, c)| **c >= class_names.len()) {
            return Err(shape(
                format!("y[{row}]"),
                format!("a class index below {}", class_names.len()),
                class.to_string(),
            ));
        }
        Ok(Dataset {
            x,
            y,
            feature_names,
            class_names,
        })
    }

    /// Number of rows.
    pub fn n_samples(&self) -> usize {
        self.x.nrows()
    }

    /// Number of feature columns.
    pub fn n_features(&self) -> usize {
        self.x.ncols()
    }

    /// Number of classes (the length of `class_names`, whether or not each appears in `y`).
    pub fn n_classes(&self) -> usize {
        self.class_names.len()
    }

    /// The rows at `indices`, in that order (indices may repeat).
    ///
    /// # Panics
    /// Never for indices below `n_samples()`; an index out of range panics as ndarray does,
    /// so callers pass indices produced by a split of this data set.
    pub fn select(&self, indices: &[usize]) -> Dataset {
        Dataset {
            x: self.x.select(Axis(0), indices),
            y: self.y.select(Axis(0), indices),
            feature_names: self.feature_names.clone(),
            class_names: self.class_names.clone(),
        }
    }

    /// Converts to linfa's `DatasetBase`, with feature names, so linfa algorithms can be used
    /// on the same matrix. Needs the `linfa` feature (on by default).
    #[cfg(feature = "linfa")]
    pub fn to_linfa(&self) -> linfa::Dataset<f32, usize, ndarray::Ix1> {
        linfa::Dataset::new(self.x.clone(), self.y.clone())
            .with_feature_names(self.feature_names.clone())
    }
}
