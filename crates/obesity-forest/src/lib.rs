//! # obesity-forest
//!
//! The model layer: the [`ModelStrategy`] / [`Classifier`] traits every model meets at, the
//! flattened random forest that is the project's performance core, an adapter over
//! linfa-trees, and model files.
//!
//! ## Key types
//! - [`ForestParams`] (built by [`ForestParams::builder`], validated before data is seen,
//!   `Default` = scikit-learn's `RandomForestClassifier()` with `seed = 0`) is the
//!   [`ModelStrategy`] that trains a [`RandomForest`].
//! - [`RandomForest`]: all trees in one flat struct-of-arrays arena (feature, threshold,
//!   left/right child with negative = leaf, one flat `n_leaves × n_classes` probability
//!   array); `predict_proba`, allocation-free [`RandomForest::predict_proba_row`],
//!   [`RandomForest::feature_importances`] (MDI), [`RandomForest::oob_score`],
//!   [`RandomForest::decision_path`], [`RandomForest::to_bytes`] / [`RandomForest::from_bytes`].
//! - [`LinfaTreeParams`] / [`LinfaTree`]: linfa-trees' `DecisionTree` behind the same traits.
//! - [`load_classifier`]: reads any model file of this crate as a `Box<dyn Classifier>`.
//!
//! ## How training works
//! Features are binned into at most `max_bins` quantile bins (exact when a feature has fewer
//! distinct values) in a column-major matrix of `u8` codes. Each tree gets a bootstrap
//! sample as integer weights (so out-of-bag rows are the zero-weight ones) and an RNG
//! (ChaCha8) seeded from `(seed, tree index)`; trees grow in parallel with rayon and are
//! flattened in index order, so the same seed gives byte-identical models on any number of
//! threads. At each node `max_features` features are drawn (per split, as scikit-learn;
//! more if none of them can split; features already constant in an ancestor are skipped
//! without a pass). A feature is scanned with class-weight histograms over its bins, or
//! exactly on nodes of at most 128 rows when its bins merge distinct values, so small nodes
//! get exact thresholds: by sorting the node's rows (up to 32 rows, in a sorting network) or,
//! above that, by a histogram over each value's rank among the feature's distinct values
//! (ranks are computed once, at binning). With integer weights (bootstrap counts, no class
//! weights), at most 7 classes and fewer than 65,536 rows, the search runs in exact integers:
//! each row carries its class weight in a 16-bit lane of one `u128`, one-hot features need no
//! histogram, gini's sums are taken over the lanes with SSE2 `pmaddwd` on x86-64, and
//! candidates are compared as exact fractions; otherwise it runs in `f64` (both grow the
//! same trees). Matrices of more than 65,536 rows also keep their bin codes row-major,
//! which nodes holding under one row in 64 read instead of the columns (one cache line per
//! row for every feature the node evaluates).
//! Thresholds are real `f32` values and `x <= threshold` goes left; NaN is rejected at input
//! (it would go left). `n_threads` is not stored in model files: it says how a model was
//! trained, not what it is, and leaving it out keeps the bytes identical across thread counts.
//!
//! ## How prediction works
//! A layout derived from the arena (never persisted) holds 16-byte split nodes followed by
//! each tree's leaves as self-loops. On CPUs with AVX-512 (detected at run time), batches of
//! 512 rows or more (and at least as many rows as an average tree has nodes) take the bitset
//! kernel: each value becomes its rank among the forest's thresholds for its feature (an
//! exact code of one bit, one byte or two bytes), the rows are ordered by the leaf they reach in the first
//! tree, and every node splits its rows as 64-row bit words with one masked vector compare per
//! word; fully grown forests count votes per class. Elsewhere such batches are routed tree by
//! tree: at every node the rows there are split by one gather-compare pass (AVX2 when the CPU
//! has it; a portable loop otherwise), so each row costs its own depth. Both use one block
//! per thread of rayon's current pool. Other batches of 16 rows or more walk blocks of 128
//! rows through one tree at a time, 8 rows in lockstep with a branch-free child choice;
//! smaller batches and [`RandomForest::predict_proba_row`] walk one row through all trees, 8
//! trees in lockstep. The out-of-bag score routes each tree's out-of-bag rows.
//! Pure leaves (almost all leaves of fully grown trees) add one probability instead of
//! `n_classes`. All kernels add the trees in the same order (or, counting votes, the same
//! sum), so results are bit-identical across kernels and thread counts. Measured figures and
//! the alternatives that lost are in `docs/benchmarks-history.md`.
//!
//! ```
//! use ndarray::{array, Array1};
//! use obesity_forest::{Classifier, ForestParams, ModelStrategy, RandomForest, load_classifier};
//!
//! let x = array![[1.0f32, 0.0], [2.0, 0.0], [3.0, 1.0], [4.0, 1.0], [5.0, 1.0], [6.0, 0.0]];
//! let y: Array1<usize> = array![0, 0, 0, 1, 1, 1];
//! let params = ForestParams::builder().n_estimators(20).seed(7).build()?;
//! assert_eq!(params.params()["n_estimators"], "20");
//!
//! let forest = RandomForest::fit(&params, x.view(), y.view(), 2)?;
//! let proba = forest.predict_proba(x.view())?;
//! assert!((proba.row(0).sum() - 1.0).abs() < 1e-5);
//!
//! let mut out = [0.0f32; 2];
//! forest.predict_proba_row(&[5.5, 1.0], &mut out)?; // allocation-free
//! assert!(out[1] > out[0]);
//!
//! let back = load_classifier(&forest.to_bytes()?)?;
//! assert_eq!(back.predict(x.view())?, forest.predict(x.view())?);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod binning;
mod error;
mod flat;
mod forest;
mod importance;
mod linfa_adapter;
mod model;
mod params;
mod persist;
mod predict;
mod train;
mod validate;

pub use error::{ModelError, Result};
pub use forest::{PathStep, RandomForest, TreeStats};
pub use linfa_adapter::{LinfaTree, LinfaTreeParams};
pub use model::{Classifier, ModelStrategy};
pub use params::{
    ClassWeight, Criterion, ForestParams, ForestParamsBuilder, MaxFeatures, MaxSamples,
};

/// Reads any model file this crate writes (random forest or linfa tree), choosing by its
/// 8-byte header, as a `Box<dyn Classifier>` a server or registry can use without knowing
/// the concrete type. Unknown headers, truncation, checksum mismatches and unsupported
/// versions are errors that say which, and so is any field that no model can hold, even
/// under a valid checksum ([`ModelError::InvalidModelField`]): nothing read is trusted.
pub fn load_classifier(bytes: &[u8]) -> Result<Box<dyn Classifier>> {
    persist::load_any(bytes)
}
