//! The fitted feature pipeline as ONNX operators over one input per raw column, in the
//! manner of skl2onnx's translation of a scikit-learn `ColumnTransformer`.
//!
//! What each output column becomes (the column list, with the scaling statistics, comes from
//! the pipeline's own versioned document, [`FittedPipeline::to_json`], the one public form
//! that holds them):
//!
//! | pipeline column | ONNX |
//! |---|---|
//! | numeric `Age` ... `TUE` | the `double` input, `Reshape` to `[N, 1]` |
//! | `BMI` | `Div(Weight, Mul(Height, Height))` in `double`, as `ObesityRecord::bmi` |
//! | a run of numeric columns | `Concat`, then (when scaling) `Sub(center)` and `Div(scale)` in `double`, then `Cast` to `float` |
//! | one-hot `COLUMN=level` | `ai.onnx.ml.OneHotEncoder` over the column's levels |
//! | ordinal `CAEC`, flag `FAVC=yes` | the same one-hot, `MatMul` by the constant codes (`[0, 1, 2, 3]`; `[0, 1]`) |
//!
//! and one `Concat` puts the runs in the pipeline's exact column order.
//!
//! ## Why these choices
//! - **Numeric inputs are `double`.** obesity-features computes every numeric column in
//!   `f64` from the record's `f64` value and rounds once to `f32` at the end; doing the same
//!   operations in `double` and casting last gives the same `f32`, bit for bit, where a
//!   `float` input (or the `ai.onnx.ml.Scaler`, whose offset and scale are `float`
//!   attributes) would round twice and could move a value across a tree threshold. `double`
//!   is also what pandas gives a column of numbers.
//! - **Inputs are `[N]`, not skl2onnx's `[N, 1]`.** MLflow's ONNX pyfunc feeds a DataFrame
//!   to a multi-input model as `{name: df[name].values}`, i.e. one-dimensional arrays; a
//!   rank-2 input would be refused by onnxruntime there.
//! - **Unseen categories** follow the pipeline's [`UnseenCategory`] rule exactly. Every
//!   `OneHotEncoder` has `zeros = 0`, so a string that is not a level it knows is an
//!   onnxruntime error, as it is an error for obesity-data's loader (a typed record cannot
//!   hold it). The levels it knows are the schema's levels (rules `SchemaLevels`,
//!   `IgnoreUnseen`), or only those seen in `fit` (rule `Error`, which is then an error at
//!   prediction, as in Rust). Under `IgnoreUnseen` a level the fit did not see has no
//!   column, so its row of the `MatMul` is all zeros: the all-zero encoding Rust gives it.
//!   Ordinal codes go through the same one-hot (rather than a `LabelEncoder`, which has no
//!   way to refuse an unknown string) and a `MatMul` whose products are exact small integers.
//! - **Not translated:** Rust refuses a NaN, infinite or beyond-`f32` numeric value with an
//!   error naming the row; the ONNX graph cannot raise, and computes with it (NaN goes to
//!   the false branch of every split). Validate requests against the signature first.

use obesity_data::{ColumnKind, Schema};
use obesity_features::{FittedPipeline, UnseenCategory};
use serde::Deserialize;

use crate::error::{OnnxError, Result};
use crate::graph::{Dim, Graph, ML_DOMAIN, attr_int, attr_strings};
use crate::proto::data_type;

/// The one format version of [`FittedPipeline::to_json`] this translation reads.
const PIPELINE_FORMAT: u64 = 1;

/// The raw columns whose product is the derived `BMI` (`Weight / Height²`).
const HEIGHT: &str = "Height";
const WEIGHT: &str = "Weight";
const BMI: &str = "BMI";

/// The parts of the pipeline document this translation reads; other fields are ignored.
#[derive(Debug, Deserialize)]
struct Document {
    format_version: u64,
    columns: Vec<ColumnDoc>,
}

/// One output column of the pipeline document.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "encoding", rename_all = "snake_case")]
enum ColumnDoc {
    Numeric {
        name: String,
        source: String,
        center: f64,
        scale: f64,
    },
    OneHot {
        name: String,
        source: String,
        level: String,
    },
    Ordinal {
        name: String,
        source: String,
    },
    Flag {
        name: String,
        source: String,
    },
}

impl ColumnDoc {
    fn name(&self) -> &str {
        match self {
            ColumnDoc::Numeric { name, .. }
            | ColumnDoc::OneHot { name, .. }
            | ColumnDoc::Ordinal { name, .. }
            | ColumnDoc::Flag { name, .. } => name,
        }
    }

    /// The categorical source column, `None` for a numeric column.
    fn categorical_source(&self) -> Option<&str> {
        match self {
            ColumnDoc::Numeric { .. } => None,
            ColumnDoc::OneHot { source, .. }
            | ColumnDoc::Ordinal { source, .. }
            | ColumnDoc::Flag { source, .. } => Some(source),
        }
    }
}

fn unsupported(reason: impl Into<String>) -> OnnxError {
    OnnxError::Pipeline {
        reason: reason.into(),
    }
}

/// One raw input of the exported model.
#[derive(Debug, Clone)]
pub(crate) struct RawInput {
    pub(crate) name: String,
    /// `Some(levels)` for a categorical or yes/no column, `None` for a numeric one.
    pub(crate) levels: Option<Vec<String>>,
    pub(crate) description: String,
}

/// The raw inputs: the schema's feature columns in file order.
pub(crate) fn raw_inputs(schema: &Schema) -> Vec<RawInput> {
    schema
        .features()
        .map(|spec| RawInput {
            name: spec.name.clone(),
            levels: match &spec.kind {
                ColumnKind::Numeric { .. } => None,
                ColumnKind::Binary => Some(vec!["no".to_owned(), "yes".to_owned()]),
                ColumnKind::Categorical { levels, .. } => Some(levels.clone()),
            },
            description: spec.description.clone(),
        })
        .collect()
}

/// Declares the raw inputs and adds the nodes that turn them into `output`, the float
/// `[N, n_features]` matrix `pipeline.transform` would make. Returns its width.
pub(crate) fn add_pipeline(
    g: &mut Graph,
    pipeline: &FittedPipeline,
    output: &str,
) -> Result<usize> {
    let document: Document = serde_json::from_str(&pipeline.to_json()?)?;
    if document.format_version != PIPELINE_FORMAT {
        return Err(unsupported(format!(
            "its document is format version {}, this exporter reads version {PIPELINE_FORMAT}",
            document.format_version
        )));
    }
    let names: Vec<&str> = document.columns.iter().map(ColumnDoc::name).collect();
    if names != pipeline.feature_names() {
        return Err(unsupported(
            "its document's columns differ from its feature names",
        ));
    }
    if document.columns.is_empty() {
        return Err(unsupported("it makes no columns"));
    }
    let rule = pipeline.config().unseen;
    let only_seen = match rule {
        UnseenCategory::SchemaLevels | UnseenCategory::IgnoreUnseen => false,
        UnseenCategory::Error => true,
        other => return Err(unsupported(format!("unseen-category rule {other:?}"))),
    };

    let schema = Schema::obesity();
    let inputs = raw_inputs(&schema);
    for input in &inputs {
        let (elem, doc) = match &input.levels {
            None => (data_type::DOUBLE, format!("{} (number)", input.description)),
            Some(levels) => (
                data_type::STRING,
                format!("{} (one of {})", input.description, levels.join(", ")),
            ),
        };
        g.input(&input.name, elem, &[Dim::Batch], &doc);
    }
    g.const_i64("column_shape", &[2], vec![-1, 1]);

    let mut pieces: Vec<String> = Vec::new();
    let mut encoded: Vec<String> = Vec::new();
    let mut bmi_done = false;
    let mut start = 0;
    while start < document.columns.len() {
        let first = &document.columns[start];
        // A run: consecutive numeric columns, or consecutive columns of one categorical source.
        let end = start
            + document.columns[start..]
                .iter()
                .take_while(
                    |c| match (first.categorical_source(), c.categorical_source()) {
                        (None, None) => true,
                        (Some(a), Some(b)) => a == b,
                        _ => false,
                    },
                )
                .count();
        let run = &document.columns[start..end];
        let piece = match first.categorical_source() {
            None => numeric_run(g, run, &inputs, &mut bmi_done, pieces.len())?,
            Some(source) => {
                let levels = encoder_levels(&inputs, pipeline, source, only_seen)?;
                // One encoder per source, shared if its columns come in several runs.
                let onehot = format!("{source}_onehot");
                if !encoded.iter().any(|s| s == source) {
                    g.node(
                        "OneHotEncoder",
                        ML_DOMAIN,
                        &[source],
                        &[&onehot],
                        vec![attr_strings("cats_strings", &levels), attr_int("zeros", 0)],
                    );
                    encoded.push(source.to_owned());
                }
                categorical_run(g, run, &inputs, source, &levels, &onehot, pieces.len())?
            }
        };
        pieces.push(piece);
        start = end;
    }
    let refs: Vec<&str> = pieces.iter().map(String::as_str).collect();
    g.node("Concat", "", &refs, &[output], vec![attr_int("axis", 1)]);
    Ok(document.columns.len())
}

/// The levels the `OneHotEncoder` of `source` knows, in schema order: all of the schema's,
/// or (rule `Error`) only those seen in `fit`.
fn encoder_levels(
    inputs: &[RawInput],
    pipeline: &FittedPipeline,
    source: &str,
    only_seen: bool,
) -> Result<Vec<String>> {
    let schema_levels = inputs
        .iter()
        .find(|i| i.name == source)
        .and_then(|i| i.levels.clone())
        .ok_or_else(|| unsupported(format!("column {source:?} is not a categorical column")))?;
    if !only_seen {
        return Ok(schema_levels);
    }
    let seen = pipeline
        .seen_levels(source)
        .ok_or_else(|| unsupported(format!("no seen levels for {source:?}")))?;
    Ok(schema_levels
        .into_iter()
        .filter(|l| seen.contains(&l.as_str()))
        .collect())
}

/// A run of numeric columns as one float `[N, k]` value; returns its name.
fn numeric_run(
    g: &mut Graph,
    run: &[ColumnDoc],
    inputs: &[RawInput],
    bmi_done: &mut bool,
    index: usize,
) -> Result<String> {
    let mut columns = Vec::with_capacity(run.len());
    let (mut centers, mut scales) = (Vec::new(), Vec::new());
    for column in run {
        let ColumnDoc::Numeric {
            source,
            center,
            scale,
            ..
        } = column
        else {
            return Err(unsupported("a numeric run holds a categorical column"));
        };
        if !(center.is_finite() && scale.is_finite() && *scale != 0.0) {
            return Err(unsupported(format!(
                "column {source:?} has center {center} and scale {scale}"
            )));
        }
        let raw = if source == BMI {
            if !*bmi_done {
                g.node("Mul", "", &[HEIGHT, HEIGHT], &["height_squared"], vec![]);
                g.node("Div", "", &[WEIGHT, "height_squared"], &[BMI], vec![]);
                *bmi_done = true;
            }
            BMI.to_owned()
        } else if inputs
            .iter()
            .any(|i| i.name == *source && i.levels.is_none())
        {
            source.clone()
        } else {
            return Err(unsupported(format!(
                "column {source:?} is not a numeric column of the schema"
            )));
        };
        let as_column = format!("{raw}_column_{index}");
        g.node(
            "Reshape",
            "",
            &[&raw, "column_shape"],
            &[&as_column],
            vec![],
        );
        columns.push(as_column);
        centers.push(*center);
        scales.push(*scale);
    }
    let k = run.len();
    let mut value = format!("numeric_{index}");
    let refs: Vec<&str> = columns.iter().map(String::as_str).collect();
    g.node("Concat", "", &refs, &[&value], vec![attr_int("axis", 1)]);
    if centers.iter().any(|&c| c != 0.0) || scales.iter().any(|&s| s != 1.0) {
        let (center, scale) = (format!("center_{index}"), format!("scale_{index}"));
        g.const_f64(&center, &[k], centers);
        g.const_f64(&scale, &[k], scales);
        let centered = format!("numeric_{index}_centered");
        let scaled = format!("numeric_{index}_scaled");
        g.node("Sub", "", &[&value, &center], &[&centered], vec![]);
        g.node("Div", "", &[&centered, &scale], &[&scaled], vec![]);
        value = scaled;
    }
    let out = format!("numeric_{index}_float");
    g.node(
        "Cast",
        "",
        &[&value],
        &[&out],
        vec![attr_int("to", i64::from(data_type::FLOAT))],
    );
    Ok(out)
}

/// A run of columns of one categorical source, from its one-hot `[N, L]` value `onehot`
/// over `levels`; returns the name of the float `[N, k]` value.
fn categorical_run(
    g: &mut Graph,
    run: &[ColumnDoc],
    inputs: &[RawInput],
    source: &str,
    levels: &[String],
    onehot: &str,
    index: usize,
) -> Result<String> {
    let schema_levels = inputs
        .iter()
        .find(|i| i.name == source)
        .and_then(|i| i.levels.as_deref())
        .ok_or_else(|| unsupported(format!("column {source:?} is not a categorical column")))?;
    let schema_index = |level: &str| schema_levels.iter().position(|l| l == level);
    // weights[level][column]: what a row holding `levels[level]` puts in each column.
    let k = run.len();
    let mut weights = vec![0.0f32; levels.len() * k];
    for (j, column) in run.iter().enumerate() {
        for (r, level) in levels.iter().enumerate() {
            let value = match column {
                ColumnDoc::OneHot { level: want, .. } => {
                    if !levels.contains(want) {
                        return Err(unsupported(format!(
                            "column {:?} is for level {want:?}, which the encoder of {source} \
                             does not know",
                            column.name()
                        )));
                    }
                    f32::from(u8::from(level == want))
                }
                ColumnDoc::Ordinal { .. } => schema_index(level).map_or(0.0, |i| i as f32),
                ColumnDoc::Flag { .. } => f32::from(u8::from(level == "yes")),
                ColumnDoc::Numeric { .. } => {
                    return Err(unsupported("a categorical run holds a numeric column"));
                }
            };
            weights[r * k + j] = value;
        }
    }
    let identity = k == levels.len()
        && (0..k).all(|r| (0..k).all(|j| weights[r * k + j] == f32::from(u8::from(r == j))));
    if identity {
        return Ok(onehot.to_owned());
    }
    let (w, out) = (format!("codes_{index}"), format!("categorical_{index}"));
    g.const_f32(&w, &[levels.len(), k], weights);
    g.node("MatMul", "", &[onehot, &w], &[&out], vec![]);
    Ok(out)
}
