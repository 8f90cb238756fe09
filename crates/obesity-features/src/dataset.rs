//! The numeric data set every model crate consumes.

use ndarray::{Array1, Array2, Axis};
use serde::{Deserialize, Serialize};

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
    /// on the same matrix.
    pub fn to_linfa(&self) -> linfa::Dataset<f32, usize, ndarray::Ix1> {
        linfa::Dataset::new(self.x.clone(), self.y.clone())
            .with_feature_names(self.feature_names.clone())
    }
}
