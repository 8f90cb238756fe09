//! # obesity-onnx
//!
//! Exports a fitted feature pipeline (obesity-features) and the random forest trained on it
//! (obesity-forest) as **one ONNX model that takes raw rows**, so that any ONNX host
//! (onnxruntime, MLflow's `mlflow.onnx` pyfunc, Triton) predicts what Rust predicts: the
//! same classes, and probabilities within onnxruntime's summation rounding (the check in
//! `scripts/onnx_check.py` requires 1e-6 and measures the actual difference).
//!
//! ## The model
//! - **Inputs**: one per raw column of the schema, in the UCI file's order, named by its
//!   header (`Gender`, `Age`, ..., `MTRANS`), each `[N]`: numbers as `double`, categories as
//!   their level strings (`Female`, `Public_Transportation`, `yes` ...).
//! - **Pipeline**: standard ONNX and `ai.onnx.ml` operators (`OneHotEncoder`, `Mul`/`Div`
//!   for BMI, `Sub`/`Div` for scaling, `MatMul` for ordinal codes, `Concat` in the
//!   pipeline's exact column order); see the `pipeline` module's table for each column and
//!   why numbers are `double` and inputs one-dimensional.
//! - **Forest**: one `ai.onnx.ml.TreeEnsembleClassifier`: `BRANCH_LEQ` splits (our `x <=
//!   threshold` goes to the true branch), each leaf's class weights = its probabilities ×
//!   `1/n_trees`, summed over trees with `post_transform = NONE`, which is how our forest
//!   averages; `classlabels_strings` = the class names.
//! - **Outputs**: `label` (string `[N]`) and `probabilities` (float `[N, n_classes]`) — or,
//!   with [`OutputLayout::Columns`] (what MLflow's pyfunc needs), `label` and one
//!   `probability_<class>` output per class.
//! - Opsets `ai.onnx` [`OPSET`] and `ai.onnx.ml` [`ML_OPSET`], IR version 8. The protobuf is
//!   written with prost from message types transcribed from the official `onnx.proto`
//!   ([`proto`]).
//!
//! ## Entry points
//! - [`export`]: pipeline + forest → [`OnnxModel`] over raw columns.
//! - [`forest_to_onnx`] and [`ToOnnx::to_onnx`]: the forest alone over its float feature
//!   matrix. The issue asks for `to_onnx()` on the forest; the forest crate is the layer
//!   below this one and must not depend on protobuf, so the method is this crate's
//!   extension trait.
//! - [`OnnxModel`]: [`to_bytes`](OnnxModel::to_bytes), an atomic
//!   [`write`](OnnxModel::write), [`inputs`](OnnxModel::inputs) /
//!   [`outputs`](OnnxModel::outputs) (names and types, for an MLflow signature), and
//!   [`from_bytes`](OnnxModel::from_bytes) for inspection.
//!
//! ## Known limits
//! - Rust rejects NaN or infinite numbers with an error; the graph cannot raise on them.
//!   A category string outside the levels the pipeline accepts does raise an onnxruntime
//!   error (`OneHotEncoder` with `zeros = 0`), matching Rust, which cannot represent it.
//! - On one thread onnxruntime adds the trees' weights in tree order, as our forest does, and
//!   its probabilities are bit-identical to ours. On several threads it adds partial sums of
//!   groups of trees, so the last bits may differ (at most 2.7e-7 measured) and a row whose
//!   two best classes tie exactly may get the other one of the two.
//! - MLflow's ONNX pyfunc passes `df[name].values` to onnxruntime, which accepts numpy
//!   arrays only: with pandas 3, whose string columns are `StringDtype`, cast them to
//!   `object` first (`df.astype({c: object ...})`), or predict fails before the model runs.
//!
//! ## Example
//!
//! ```
//! use obesity_data::synth;
//! use obesity_features::FeaturePipeline;
//! use obesity_forest::{ForestParams, RandomForest};
//! use obesity_onnx::{ExportOptions, OnnxModel, ToOnnx, export};
//!
//! let records = synth::generate(300, 7);
//! let pipeline = FeaturePipeline::standard().fit(&records)?;
//! let data = pipeline.dataset(&records)?;
//! let params = ForestParams::builder().n_estimators(5).seed(1).build()?;
//! let forest = RandomForest::fit(&params, data.x.view(), data.y.view(), data.n_classes())?;
//!
//! // Raw rows in, class names and probabilities out.
//! let model = export(&pipeline, &forest, &ExportOptions::default())?;
//! let inputs: Vec<String> = model.inputs().into_iter().map(|i| i.name).collect();
//! assert_eq!(inputs[..3], ["Gender", "Age", "Height"]);
//! let outputs: Vec<String> = model.outputs().into_iter().map(|o| o.name).collect();
//! assert_eq!(outputs, ["label", "probabilities"]);
//!
//! // The bytes are an ONNX protobuf (written to disk with `model.write("model.onnx")?`).
//! let back = OnnxModel::from_bytes(&model.to_bytes())?;
//! assert_eq!(back, model);
//!
//! // The forest alone, over its 32-column matrix.
//! let alone = forest.to_onnx(pipeline.class_names())?;
//! assert_eq!(alone.inputs()[0].shape, [None, Some(32)]);
//!
//! // A forest that reads another width than the pipeline makes is refused.
//! let narrow = data.x.select(ndarray::Axis(1), &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
//! let other = RandomForest::fit(&params, narrow.view(), data.y.view(), data.n_classes())?;
//! assert!(export(&pipeline, &other, &ExportOptions::default()).is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

/// Re-export of the ndarray version this crate's signatures use (the one linfa uses), so that an
/// application on another ndarray version names this one as `obesity_onnx::ndarray`.
pub use obesity_forest::ndarray;

mod ensemble;
mod error;
mod graph;
mod model;
mod pipeline;
pub mod proto;

pub use error::{OnnxError, Result};
pub use model::{
    ElemType, ExportOptions, FEATURES_INPUT, LABEL_OUTPUT, ML_OPSET, OPSET, OnnxModel,
    OutputLayout, PROBABILITIES_OUTPUT, TensorSpec, ToOnnx, export, forest_to_onnx,
};
