//! [`RandomForest`]: the trained model, its inspection methods and its [`Classifier`] impl.

use std::collections::BTreeMap;

use ndarray::{Array2, ArrayView1, ArrayView2};

use crate::error::{ModelError, Result};
use crate::flat::{FlatForest, ForestArena};
use crate::importance;
use crate::isa::{Isa, Supported};
use crate::model::{Classifier, ModelStrategy};
use crate::oob;
use crate::params::ForestParams;
use crate::persist;
use crate::predict::Kernel;
use crate::train;
use crate::validate;

/// A trained random forest: every tree in one flat arena (see the crate docs).
///
/// Built by [`RandomForest::fit`] or by [`ForestParams`] through
/// [`ModelStrategy`](crate::ModelStrategy); read back with [`RandomForest::from_bytes`] or
/// [`load_classifier`](crate::load_classifier).
#[derive(Debug, Clone)]
pub struct RandomForest {
    pub(crate) params: ForestParams,
    pub(crate) flat: FlatForest,
    pub(crate) oob_score: Option<f64>,
    pub(crate) kernel: Kernel,
}

/// One decision on the path of a row through a tree, for explanations.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PathStep {
    /// The tree (0-based).
    pub tree: usize,
    /// Depth of the deciding node (0 = root).
    pub depth: usize,
    /// Feature compared.
    pub feature: usize,
    /// Threshold: `x[feature] <= threshold` goes left.
    pub threshold: f32,
    /// The row's value of that feature.
    pub value: f32,
    /// Whether the row went left.
    pub went_left: bool,
}

/// Shape of one tree, for reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeStats {
    /// Split nodes plus leaves (scikit-learn's `tree_.node_count`).
    pub n_nodes: usize,
    /// Leaves.
    pub n_leaves: usize,
    /// Depth (0 for a single leaf), as scikit-learn's `get_depth()`.
    pub depth: usize,
}

impl RandomForest {
    /// Trains a forest on `x` (rows are samples) and labels `y` in `0..n_classes`.
    ///
    /// `n_classes` may exceed the largest label (classes absent from training get
    /// probability 0). Errors on an empty matrix, more than 65,536 columns (the widest a model
    /// file may declare), mismatched lengths, NaN/infinite values, labels out of range, or
    /// `max_features`/`max_samples` counts larger than the data.
    pub fn fit(
        params: &ForestParams,
        x: ArrayView2<'_, f32>,
        y: ArrayView1<'_, usize>,
        n_classes: usize,
    ) -> Result<RandomForest> {
        validate::check_training(x, y, n_classes)?;
        if n_classes > i32::MAX as usize {
            return Err(ModelError::InvalidParam {
                name: "n_classes",
                value: n_classes.to_string(),
                expected: "fewer than 2^31 classes".into(),
            });
        }
        if x.nrows() > u32::MAX as usize || x.ncols() > u32::MAX as usize {
            return Err(ModelError::InvalidParam {
                name: "x",
                value: format!("{} × {}", x.nrows(), x.ncols()),
                expected: "fewer than 2^32 rows and columns (row indices are u32)".into(),
            });
        }
        let isa = supported(params.isa());
        let (flat, kernel, oob_score) = train::in_pool(params.n_threads(), || {
            let flat = train::grow_forest(params, x, y, n_classes, isa)?;
            // The prediction layout, built once here for the out-of-bag score and kept.
            let kernel = Kernel::new(&flat, isa);
            let oob_score = match train::n_draws(params, x.nrows())? {
                Some(d) if params.oob_score() => {
                    let y = y.to_vec();
                    oob::score(&kernel, flat.n_trees(), x, &y, params.seed(), d)
                }
                _ => None,
            };
            Ok::<_, ModelError>((flat, kernel, oob_score))
        })??;
        Ok(RandomForest {
            params: params.clone(),
            flat,
            oob_score,
            kernel,
        })
    }

    pub(crate) fn from_parts(params: ForestParams, flat: FlatForest, oob: Option<f64>) -> Self {
        let kernel = Kernel::new(&flat, supported(params.isa()));
        RandomForest {
            params,
            flat,
            oob_score: oob,
            kernel,
        }
    }

    /// The parameters it was trained with.
    pub fn params(&self) -> &ForestParams {
        &self.params
    }

    /// The instruction set its prediction kernels run (see [`Isa`]).
    pub fn isa(&self) -> Isa {
        self.kernel.isa().get()
    }

    /// The same forest, predicting with the instruction set `isa`, to compare kernels on one
    /// machine or to pin a server to one. Predictions are bit-identical whichever runs (the
    /// choice changes speed only). Errors with [`ModelError::IsaUnavailable`] when this CPU
    /// does not run `isa`; [`Isa::supported`] lists the ones it does.
    ///
    /// # Examples
    ///
    /// ```
    /// use ndarray::array;
    /// use obesity_forest::{Classifier, ForestParams, Isa, RandomForest};
    ///
    /// let x = array![[0.0f32, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 0.0]];
    /// let y = array![0usize, 0, 1, 1];
    /// let forest = RandomForest::fit(&ForestParams::default(), x.view(), y.view(), 2)?;
    /// let expected = forest.predict_proba(x.view())?;
    /// for isa in Isa::supported() {
    ///     let forced = forest.clone().with_isa(isa)?;
    ///     assert_eq!(forced.isa(), isa);
    ///     assert_eq!(forced.predict_proba(x.view())?, expected);
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_isa(mut self, isa: Isa) -> Result<RandomForest> {
        let s = Supported::new(isa).ok_or(ModelError::IsaUnavailable {
            requested: isa,
            detected: Isa::detected(),
        })?;
        self.kernel.set_isa(s);
        Ok(self)
    }

    /// Number of trees.
    pub fn n_trees(&self) -> usize {
        self.flat.n_trees()
    }

    /// Total nodes (split nodes plus leaves) over all trees.
    pub fn n_nodes(&self) -> usize {
        self.flat.feature.len() + self.flat.leaf_samples.len()
    }

    /// Every tree's split nodes and leaves as read-only flat arrays (see [`ForestArena`]),
    /// for exporters (ONNX's `TreeEnsembleClassifier` takes the same layout) and inspection.
    ///
    /// # Examples
    ///
    /// ```
    /// use ndarray::array;
    /// use obesity_forest::{ForestParams, RandomForest};
    ///
    /// let x = array![[0.0f32], [1.0], [2.0], [3.0]];
    /// let y = array![0usize, 0, 1, 1];
    /// let params = ForestParams::builder().n_estimators(3).bootstrap(false).build()?;
    /// let forest = RandomForest::fit(&params, x.view(), y.view(), 2)?;
    /// let arena = forest.arena();
    /// assert_eq!(arena.roots.len(), 3);
    /// // Each tree splits the one feature once, between 1 and 2.
    /// assert!(arena.threshold.iter().all(|&t| t > 1.0 && t < 2.0));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn arena(&self) -> ForestArena<'_> {
        self.flat.view()
    }

    /// Node count, leaf count and depth of each tree.
    pub fn tree_stats(&self) -> Vec<TreeStats> {
        let f = &self.flat;
        (0..f.n_trees())
            .map(|t| {
                let n_splits = (f.tree_nodes[t + 1] - f.tree_nodes[t]) as usize;
                let n_leaves = (f.tree_leaves[t + 1] - f.tree_leaves[t]) as usize;
                TreeStats {
                    n_nodes: n_splits + n_leaves,
                    n_leaves,
                    depth: f.depths[t] as usize,
                }
            })
            .collect()
    }

    /// Out-of-bag accuracy (scikit-learn's `oob_score_`): each training row voted on only by
    /// the trees whose bootstrap left it out. `None` unless it was requested with
    /// [`ForestParamsBuilder::oob_score`](crate::ForestParamsBuilder::oob_score) (off by
    /// default, as in scikit-learn), or when no row was ever out of bag.
    pub fn oob_score(&self) -> Option<f64> {
        self.oob_score
    }

    /// Mean decrease in impurity per feature, normalised to sum 1 (scikit-learn's
    /// `feature_importances_`). All zeros when no tree has a split.
    pub fn feature_importances(&self) -> Vec<f64> {
        importance::mdi(&self.flat)
    }

    /// Class probabilities of one row into `out` (length `n_classes`). Allocates nothing,
    /// for low-latency serving.
    pub fn predict_proba_row(&self, row: &[f32], out: &mut [f32]) -> Result<()> {
        validate::check_row(row, self.flat.n_features)?;
        if out.len() != self.flat.n_classes {
            return Err(ModelError::OutputLength {
                expected: self.flat.n_classes,
                got: out.len(),
            });
        }
        out.fill(0.0);
        self.kernel.row(row, out);
        Ok(())
    }

    /// The decisions `row` meets in every tree, in tree order then root to leaf.
    pub fn decision_path(&self, row: &[f32]) -> Result<Vec<PathStep>> {
        validate::check_row(row, self.flat.n_features)?;
        let f = &self.flat;
        let mut steps = Vec::new();
        for (tree, &root) in f.roots.iter().enumerate() {
            let mut n = root;
            let mut depth = 0;
            while n >= 0 {
                let i = n as usize;
                let feature = f.feature[i] as usize;
                let value = row[feature];
                let went_left = value <= f.threshold[i];
                steps.push(PathStep {
                    tree,
                    depth,
                    feature,
                    threshold: f.threshold[i],
                    value,
                    went_left,
                });
                n = if went_left { f.left[i] } else { f.right[i] };
                depth += 1;
            }
        }
        Ok(steps)
    }

    /// Serializes to the versioned binary format (see [`RandomForest::from_bytes`]).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        persist::forest_to_bytes(&self.params, &self.flat, self.oob_score)
    }

    /// Reads a forest written by [`RandomForest::to_bytes`]. A truncated, corrupted (CRC32
    /// mismatch), wrong-version or structurally inconsistent input is an error that says
    /// which. Structure is checked even when the checksum matches (a file may have been
    /// edited and resealed): every count against the file's size before anything is
    /// allocated, then the trees (children in range, each reached once, no cycle), the
    /// features, thresholds and leaf probabilities (in `[0, 1]`, summing to 1), so a forest
    /// that loads predicts probability distributions.
    pub fn from_bytes(bytes: &[u8]) -> Result<RandomForest> {
        let (params, flat, oob_score) = persist::forest_from_bytes(bytes)?;
        Ok(RandomForest::from_parts(params, flat, oob_score))
    }

    /// Class probabilities with the row-major kernel for every row, whatever the batch size:
    /// the alternative the benches compare the tree-major kernel against.
    #[doc(hidden)]
    pub fn predict_proba_row_major(&self, x: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
        validate::check_predict(x, self.flat.n_features)?;
        let mut out = Array2::zeros((x.nrows(), self.flat.n_classes));
        let mut row = vec![0.0; self.flat.n_features];
        for (r, mut o) in x.rows().into_iter().zip(out.rows_mut()) {
            row.iter_mut().zip(r).for_each(|(d, s)| *d = *s);
            if let Some(o) = o.as_slice_mut() {
                self.kernel.row(&row, o);
            }
        }
        Ok(out)
    }

    /// Class probabilities by the plain one-row-one-tree walk, the reference the fast
    /// kernels are checked against (tests only).
    #[doc(hidden)]
    pub fn predict_proba_reference(&self, x: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
        validate::check_predict(x, self.flat.n_features)?;
        let f = &self.flat;
        let k = f.n_classes;
        let mut out = Array2::zeros((x.nrows(), k));
        let mut row = vec![0.0; f.n_features];
        for (r, mut o) in x.rows().into_iter().zip(out.rows_mut()) {
            row.iter_mut().zip(r).for_each(|(d, s)| *d = *s);
            for t in 0..f.n_trees() {
                let leaf = f.leaf_of(t, &row);
                for (o, p) in o.iter_mut().zip(&f.leaf_proba[leaf * k..(leaf + 1) * k]) {
                    *o += p;
                }
            }
            o.mapv_inplace(|v| v / f.n_trees() as f32);
        }
        Ok(out)
    }
}

/// The instruction set a forest runs: the one its parameters name (checked when they were
/// built), else the process default.
pub(crate) fn supported(isa: Option<Isa>) -> Supported {
    isa.and_then(Supported::new)
        .or_else(|| Supported::new(Isa::process_default()))
        .unwrap_or(Supported::PORTABLE)
}

impl Classifier for RandomForest {
    fn name(&self) -> &str {
        "random_forest"
    }

    fn n_features(&self) -> usize {
        self.flat.n_features
    }

    fn n_classes(&self) -> usize {
        self.flat.n_classes
    }

    fn predict_proba(&self, x: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
        validate::check_predict(x, self.flat.n_features)?;
        let xs = x.as_standard_layout();
        let mut out = Array2::zeros((x.nrows(), self.flat.n_classes));
        match (xs.as_slice(), out.as_slice_mut()) {
            (Some(xs), Some(o)) => self.kernel.batch(xs, o),
            _ => {
                return Err(ModelError::Backend {
                    library: "ndarray",
                    message: "standard-layout array without a contiguous slice".into(),
                });
            }
        }
        Ok(out)
    }

    fn predict_proba_row(&self, row: &[f32], out: &mut [f32]) -> Result<()> {
        // The inherent method: the allocation-free row kernel.
        RandomForest::predict_proba_row(self, row, out)
    }

    fn feature_importances(&self) -> Option<Vec<f64>> {
        Some(importance::mdi(&self.flat))
    }

    fn to_bytes(&self) -> Result<Vec<u8>> {
        RandomForest::to_bytes(self)
    }
}

/// The parameters are the factory of the model (linfa's pattern): they live a floor below
/// it, and this impl, which needs both, lives with the model.
impl ModelStrategy for ForestParams {
    fn name(&self) -> &str {
        "random_forest"
    }

    fn params(&self) -> BTreeMap<String, String> {
        self.to_map()
    }

    fn fit(
        &self,
        x: ArrayView2<'_, f32>,
        y: ArrayView1<'_, usize>,
        n_classes: usize,
    ) -> Result<Box<dyn Classifier>> {
        Ok(Box::new(RandomForest::fit(self, x, y, n_classes)?))
    }
}
