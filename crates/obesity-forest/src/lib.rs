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
//! - [`ForestArena`] ([`RandomForest::arena`]): the trees as read-only flat arrays, with the
//!   invariants an exporter may rely on and the exact arithmetic of `predict_proba`
//!   (obesity-onnx builds its `TreeEnsembleClassifier` from it).
//! - [`LinfaTreeParams`] / [`LinfaTree`]: linfa-trees' `DecisionTree` behind the same traits.
//! - [`load_classifier`]: reads any model file of this crate as a `Box<dyn Classifier>`.
//! - [`Isa`]: the instruction set the kernels run, detected or forced (see below).
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
//! histogram, gini's sums are taken over the lanes with SSE2 `pmaddwd` on x86-64 (unless
//! [`Isa::Portable`] is forced), and
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
//! each tree's leaves as self-loops. Batches of 512 rows or more (1,024 on the portable
//! path; and at least as many rows as an average tree has nodes) take
//! the bitset kernel: each value becomes its rank among the forest's thresholds for its
//! feature (an exact code of one bit, one byte or two bytes, found by a bucketed search or,
//! with AVX-512, a binary search in registers), the rows are ordered by the leaf they reach
//! in the first tree, and every node splits its rows as 64-row bit words, one vector compare
//! (AVX-512) or a few compares and `movemask`s (AVX2, SSE2) per word; fully grown forests
//! count votes per class. Batches of trees too big for that are routed tree by tree: at every
//! node the rows there are split by one gather-compare pass (AVX2, or a portable loop), so
//! each row costs its own depth. Both use one block per thread of rayon's current pool.
//! Other batches of 16 rows or more walk blocks of 128 rows through one tree at a time, 8
//! rows in lockstep with a branch-free child choice; smaller batches and
//! [`RandomForest::predict_proba_row`] walk one row through all trees, 8 trees in lockstep.
//! The out-of-bag score routes each tree's out-of-bag rows. Pure leaves (almost all leaves
//! of fully grown trees) add one probability instead of `n_classes`. All kernels add the
//! trees in the same order (or, counting votes, the same sum), so results are bit-identical
//! across kernels, instruction sets and thread counts. The kernels and their measured figures
//! are in `docs/forest-kernels.md`.
//!
//! ## Instruction sets
//! The SIMD kernels are chosen at run time, once per process, for the widest [`Isa`] the CPU
//! runs: [`Isa::Avx512`] (AVX-512F/BW/VL), [`Isa::Avx2`] (AVX2 and POPCNT: every x86-64 CPU
//! since Intel's Haswell, 2013, and AMD's Excavator, 2015), [`Isa::Sse2`] (every x86-64 CPU)
//! or [`Isa::Portable`] (plain Rust: what an ARM CPU runs today, compiled to NEON where the
//! compiler vectorises it; there is no hand-written NEON kernel). Every instruction set
//! trains the same bytes and predicts the same bits; only speed differs. To see what another
//! CPU class gets, force one:
//!
//! - the environment variable [`ISA_ENV`], `OBESITY_FOREST_ISA=portable|sse2|avx2|avx512`
//!   (or `auto`), read once, at the first fit or load, for every forest that does not name
//!   its own. An unknown value, or an instruction set this CPU lacks, prints a warning to
//!   stderr and falls back to the widest supported one not above it (a deployment's
//!   environment never stops a server, and never runs an instruction the CPU lacks);
//! - [`ForestParamsBuilder::isa`] for a fit and the model it returns, and
//!   [`RandomForest::with_isa`] for a trained or loaded model. These refuse an instruction set
//!   this CPU lacks with [`ModelError::IsaUnavailable`]; [`Isa::supported`] lists the ones
//!   it runs.
//!
//! The instruction set is not a hyper-parameter: it is not stored in model files nor listed
//! by [`ModelStrategy::params`]. The tests run every bit-identity suite on every instruction
//! set the machine has, and the benches (`benches/forest.rs`) measure each side by side.
//!
//! ## Layers
//! The modules form floors whose imports only point down (a test, `tests/it/layers.rs`,
//! reads the sources and holds them to it):
//!
//! - top: [`RandomForest`] (`forest.rs`: fit, predict, inspection, the `Classifier` and
//!   `ModelStrategy` impls), the out-of-bag score (`oob.rs`), the linfa adapter, and
//!   [`load_classifier`];
//! - training (`train/`: bootstrap, tree growing, split search) and the prediction kernels
//!   (`predict/`), which both speak only the arena and never each other; beside them the
//!   model file (`persist.rs`: parameters, arena and out-of-bag score to bytes and back) and
//!   the feature importances;
//! - binning (`binning.rs`) and the arena (`flat.rs`: every tree in flat arrays, and the
//!   checks a loaded one must pass);
//! - the vocabulary every floor shares: parameters, the model traits, input checks, errors
//!   and [`Isa`].
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

/// Re-export of the ndarray version this crate's signatures use (the one linfa uses), so that an
/// application on another ndarray version names this one as `obesity_forest::ndarray`.
pub use ndarray;

mod binning;
pub mod envelope;
mod error;
mod flat;
mod forest;
mod importance;
mod isa;
#[cfg(feature = "linfa")]
mod linfa_adapter;
mod model;
mod oob;
mod params;
mod persist;
mod predict;
mod train;
pub mod validate;

pub use error::{ModelError, Result};
pub use flat::ForestArena;
pub use forest::{PathStep, RandomForest, TreeStats};
pub use isa::{ISA_ENV, Isa, ParseIsaError};
#[cfg(feature = "linfa")]
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
    Ok(match persist::model_kind(bytes)? {
        persist::ModelKind::Forest => Box::new(RandomForest::from_bytes(bytes)?),
        #[cfg(feature = "linfa")]
        persist::ModelKind::Linfa => Box::new(LinfaTree::from_bytes(bytes)?),
        #[cfg(not(feature = "linfa"))]
        persist::ModelKind::Linfa => {
            return Err(ModelError::UnknownFormat {
                found: "OBLINFDT".into(),
                known: "OBFOREST (this build of obesity-forest lacks the `linfa` feature, \
                        which reads OBLINFDT linfa trees)"
                    .into(),
            });
        }
    })
}
