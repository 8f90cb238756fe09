//! The exported model, the export options and the two export entry points.

use std::path::Path;

use obesity_features::FittedPipeline;
use obesity_forest::{Classifier, RandomForest};
use prost::Message as _;

use crate::ensemble::add_tree_ensemble;
use crate::error::{OnnxError, Result};
use crate::graph::{Dim, Graph, ML_DOMAIN, attr_int};
use crate::pipeline::add_pipeline;
use crate::proto::{self, ModelProto, OperatorSetIdProto, StringStringEntryProto, data_type};

/// Opset of the default domain (`ai.onnx`): 17, which onnxruntime 1.12 and later run.
pub const OPSET: i64 = 17;
/// Opset of `ai.onnx.ml`: 3, the last in which `TreeEnsembleClassifier` is not deprecated
/// (version 5 replaces it by `TreeEnsemble`, which fewer runtimes implement).
pub const ML_OPSET: i64 = 3;

/// Name of the output holding the predicted class name of each row.
pub const LABEL_OUTPUT: &str = "label";
/// Name of the output holding the class probabilities (layout [`OutputLayout::Tensor`]).
pub const PROBABILITIES_OUTPUT: &str = "probabilities";
/// Name of the input of a forest exported alone (float `[N, n_features]`).
pub const FEATURES_INPUT: &str = "features";

/// How the class probabilities leave the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OutputLayout {
    /// `label` (string `[N]`) and `probabilities` (float `[N, n_classes]`, columns in class
    /// order): what onnxruntime users, Triton and the issue ask for.
    #[default]
    Tensor,
    /// `label` and one float `[N]` output per class, `probability_<class name>`. MLflow's
    /// ONNX pyfunc turns each output into one DataFrame column with `reshape(-1)`, so an
    /// `[N, n_classes]` output next to an `[N]` one fails there; use this layout for the
    /// `model.onnx` of an MLflow Model directory. (The pyfunc also passes
    /// `df[name].values` on as it is, so string columns must be numpy `object` arrays, not
    /// pandas 3's default `StringDtype`; see the crate docs.)
    Columns,
}

/// Settings of an export. `Default` is the [`OutputLayout::Tensor`] layout with no extra
/// metadata.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct ExportOptions {
    /// How probabilities are output.
    pub outputs: OutputLayout,
    /// Extra `metadata_props` (key, value) stored in the model, which onnxruntime shows as
    /// `custom_metadata_map` (the registry can put the model name, version, run id here).
    pub metadata: Vec<(String, String)>,
}

impl ExportOptions {
    /// Default options with layout `outputs`.
    pub fn with_outputs(outputs: OutputLayout) -> Self {
        ExportOptions {
            outputs,
            ..Default::default()
        }
    }

    /// Adds a metadata entry.
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.push((key.into(), value.into()));
        self
    }
}

/// Element type of a model input or output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ElemType {
    /// 32-bit float.
    Float,
    /// 64-bit float.
    Double,
    /// 64-bit integer.
    Int64,
    /// UTF-8 string.
    String,
}

impl ElemType {
    /// The MLflow schema type name (`float`, `double`, `long`, `string`).
    pub fn mlflow_name(self) -> &'static str {
        match self {
            ElemType::Float => "float",
            ElemType::Double => "double",
            ElemType::Int64 => "long",
            ElemType::String => "string",
        }
    }

    fn from_onnx(t: i32) -> Option<Self> {
        match t {
            data_type::FLOAT => Some(ElemType::Float),
            data_type::DOUBLE => Some(ElemType::Double),
            data_type::INT64 => Some(ElemType::Int64),
            data_type::STRING => Some(ElemType::String),
            _ => None,
        }
    }
}

/// Name, element type and shape of a model input or output, for signatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorSpec {
    /// Value name.
    pub name: String,
    /// Element type (`None` for a type this crate does not write).
    pub elem_type: Option<ElemType>,
    /// Dimensions: `None` for the symbolic batch size `N`, `Some(n)` for a fixed size.
    pub shape: Vec<Option<i64>>,
    /// What the value means (the ONNX `doc_string`).
    pub doc: String,
}

/// An exported ONNX model: the `ModelProto` and ways to write it.
#[derive(Debug, Clone, PartialEq)]
pub struct OnnxModel {
    proto: ModelProto,
}

impl OnnxModel {
    /// The protobuf message.
    pub fn proto(&self) -> &ModelProto {
        &self.proto
    }

    /// The protobuf message, owned.
    pub fn into_proto(self) -> ModelProto {
        self.proto
    }

    /// The `.onnx` file's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.proto.encode_to_vec()
    }

    /// Reads `.onnx` bytes (any ONNX model; fields this crate never writes are skipped).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        Ok(OnnxModel {
            proto: ModelProto::decode(bytes)?,
        })
    }

    /// Writes the model to `path` atomically: a temporary file in the same directory,
    /// flushed to disk, then renamed, so a reader never sees half a model.
    pub fn write(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let io = |source| OnnxError::Io {
            path: path.to_owned(),
            source,
        };
        obesity_data::write_atomic(path, &self.to_bytes()).map_err(io)
    }

    /// The graph's inputs, in order.
    pub fn inputs(&self) -> Vec<TensorSpec> {
        self.proto
            .graph
            .as_ref()
            .map_or_else(Vec::new, |g| g.input.iter().map(tensor_spec).collect())
    }

    /// The graph's outputs, in order.
    pub fn outputs(&self) -> Vec<TensorSpec> {
        self.proto
            .graph
            .as_ref()
            .map_or_else(Vec::new, |g| g.output.iter().map(tensor_spec).collect())
    }
}

fn tensor_spec(v: &proto::ValueInfoProto) -> TensorSpec {
    use proto::tensor_shape_proto::dimension::Value as D;
    let tensor = v
        .r#type
        .as_ref()
        .and_then(|t| t.value.as_ref())
        .map(|proto::type_proto::Value::TensorType(t)| t);
    TensorSpec {
        name: v.name.clone().unwrap_or_default(),
        elem_type: tensor
            .and_then(|t| t.elem_type)
            .and_then(ElemType::from_onnx),
        shape: tensor
            .and_then(|t| t.shape.as_ref())
            .map_or_else(Vec::new, |s| {
                s.dim
                    .iter()
                    .map(|d| match d.value {
                        Some(D::DimValue(n)) => Some(n),
                        _ => None,
                    })
                    .collect()
            }),
        doc: v.doc_string.clone().unwrap_or_default(),
    }
}

/// Exports a fitted feature pipeline and the forest trained on its output as ONE ONNX model
/// that takes raw rows: one `[N]` input per raw column of the schema, in file order (numbers
/// as `double`, categories as the level strings, `yes`/`no` for yes/no columns), and outputs
/// `label` and the probabilities (see [`OutputLayout`]). Class names are the pipeline's.
///
/// # Errors
/// [`OnnxError::FeatureCountMismatch`] when the forest does not read exactly the pipeline's
/// columns, [`OnnxError::ClassCountMismatch`] when it has another number of classes,
/// and [`OnnxError::Pipeline`] for a pipeline setting that has no translation.
pub fn export(
    pipeline: &FittedPipeline,
    forest: &RandomForest,
    options: &ExportOptions,
) -> Result<OnnxModel> {
    let forest_width = Classifier::n_features(forest);
    if forest_width != pipeline.n_features() {
        return Err(OnnxError::FeatureCountMismatch {
            forest: forest_width,
            pipeline: pipeline.n_features(),
        });
    }
    let mut g = Graph::default();
    let width = add_pipeline(&mut g, pipeline, FEATURES_INPUT)?;
    if width != forest_width {
        return Err(OnnxError::FeatureCountMismatch {
            forest: forest_width,
            pipeline: width,
        });
    }
    let doc = format!(
        "obesity-features pipeline ({} columns: {}) and a {}-tree random forest",
        width,
        pipeline.feature_names().join(", "),
        forest.n_trees()
    );
    let mut metadata = vec![
        (
            "obesity.feature_names".to_owned(),
            json_list(pipeline.feature_names()),
        ),
        (
            "obesity.class_names".to_owned(),
            json_list(pipeline.class_names()),
        ),
    ];
    metadata.extend(options.metadata.iter().cloned());
    finish(g, forest, pipeline.class_names(), options, &doc, metadata)
}

/// Exports `forest` alone: input `features` (float `[N, n_features]`, the matrix the forest
/// was trained on) and the outputs of [`OutputLayout`]; `class_names[i]` names class `i`.
///
/// # Errors
/// [`OnnxError::ClassCountMismatch`] / [`OnnxError::DuplicateName`] for class names that do
/// not name the forest's classes one to one.
pub fn forest_to_onnx(
    forest: &RandomForest,
    class_names: &[String],
    options: &ExportOptions,
) -> Result<OnnxModel> {
    let mut g = Graph::default();
    g.input(
        FEATURES_INPUT,
        data_type::FLOAT,
        &[Dim::Batch, Dim::Fixed(Classifier::n_features(forest))],
        "the feature matrix the forest was trained on",
    );
    let doc = format!("a {}-tree random forest", forest.n_trees());
    let metadata = options.metadata.clone();
    finish(g, forest, class_names, options, &doc, metadata)
}

/// Adds the forest and the outputs to a graph whose `features` value is the forest's input.
fn finish(
    mut g: Graph,
    forest: &RandomForest,
    class_names: &[String],
    options: &ExportOptions,
    doc: &str,
    metadata: Vec<(String, String)>,
) -> Result<OnnxModel> {
    let a = forest.arena();
    let n_classes = a.n_classes;
    let label_doc = "the most probable class (ties: the first in class order)";
    match options.outputs {
        OutputLayout::Tensor => {
            add_tree_ensemble(
                &mut g,
                &a,
                class_names,
                FEATURES_INPUT,
                LABEL_OUTPUT,
                PROBABILITIES_OUTPUT,
            )?;
            g.output(LABEL_OUTPUT, data_type::STRING, &[Dim::Batch], label_doc);
            g.output(
                PROBABILITIES_OUTPUT,
                data_type::FLOAT,
                &[Dim::Batch, Dim::Fixed(n_classes)],
                &format!(
                    "class probabilities, columns in this order: {}",
                    class_names.join(", ")
                ),
            );
        }
        OutputLayout::Columns => {
            let tensor = "probability_tensor";
            add_tree_ensemble(
                &mut g,
                &a,
                class_names,
                FEATURES_INPUT,
                LABEL_OUTPUT,
                tensor,
            )?;
            g.output(LABEL_OUTPUT, data_type::STRING, &[Dim::Batch], label_doc);
            let mut names = std::collections::BTreeSet::from([LABEL_OUTPUT.to_owned()]);
            for (class, name) in class_names.iter().enumerate() {
                let output = format!("probability_{name}");
                if !names.insert(output.clone()) {
                    return Err(OnnxError::DuplicateName {
                        name: output,
                        what: "output name",
                    });
                }
                let index = format!("class_index_{class}");
                g.const_i64(&index, &[], vec![class as i64]);
                g.node(
                    "Gather",
                    "",
                    &[tensor, &index],
                    &[&output],
                    vec![attr_int("axis", 1)],
                );
                g.output(
                    &output,
                    data_type::FLOAT,
                    &[Dim::Batch],
                    &format!("probability of class {name}"),
                );
            }
        }
    }
    let graph = g.finish("obesity_mlops", doc);
    Ok(OnnxModel {
        proto: ModelProto {
            ir_version: Some(proto::IR_VERSION),
            opset_import: vec![
                OperatorSetIdProto {
                    domain: Some(String::new()),
                    version: Some(OPSET),
                },
                OperatorSetIdProto {
                    domain: Some(ML_DOMAIN.to_owned()),
                    version: Some(ML_OPSET),
                },
            ],
            producer_name: Some("obesity-onnx".to_owned()),
            producer_version: Some(env!("CARGO_PKG_VERSION").to_owned()),
            domain: Some("obesity-mlops".to_owned()),
            model_version: Some(1),
            doc_string: Some(doc.to_owned()),
            graph: Some(graph),
            metadata_props: metadata
                .into_iter()
                .map(|(key, value)| StringStringEntryProto {
                    key: Some(key),
                    value: Some(value),
                })
                .collect(),
        },
    })
}

fn json_list(items: &[String]) -> String {
    serde_json::to_string(items).unwrap_or_default()
}

/// `to_onnx()` on the forest, as the issue asks. obesity-onnx depends on obesity-forest (not
/// the reverse, which would put protobuf in the performance core), so the method comes as
/// this extension trait: `use obesity_onnx::ToOnnx;` and call `forest.to_onnx(&names)`.
pub trait ToOnnx {
    /// The model alone as ONNX, with the default [`ExportOptions`]; see [`forest_to_onnx`].
    fn to_onnx(&self, class_names: &[String]) -> Result<OnnxModel>;
}

impl ToOnnx for RandomForest {
    fn to_onnx(&self, class_names: &[String]) -> Result<OnnxModel> {
        forest_to_onnx(self, class_names, &ExportOptions::default())
    }
}
