//! The MLflow Model directory of a registered version: `MLmodel` and the files next to it.
//!
//! [`Registry::register`](crate::Registry::register) writes every version's artifact folder
//! as a standard MLflow Model (MLflow 3.17.2's format), from data the caller gives:
//!
//! | file | when | what |
//! |---|---|---|
//! | `MLmodel` | always, written last | flavors, signature, input example info, run and model ids |
//! | `model.bin`, `pipeline.json`, `signature.json`, `lineage.json` | as before | our native files, named by the [`NATIVE_FLAVOR`] flavor |
//! | `model.onnx` | with [`NewVersion::onnx`](crate::NewVersion::onnx) | the `onnx` flavor's model |
//! | `code/obesity_onnx_pyfunc.py` | with ONNX | the `python_function` loader (see below) |
//! | `requirements.txt`, `python_env.yaml`, `conda.yaml` | with ONNX | the Python environment ([`PythonEnv`]) |
//! | `input_example.json`, `serving_input_example.json` | with [`NewVersion::input_example`](crate::NewVersion::input_example) | MLflow 3's `split` DataFrame example and its `dataframe_split` request |
//!
//! **Flavors.** [`NATIVE_FLAVOR`] (`obesity_rs`) points at the Rust files; `onnx` at
//! `model.onnx`; `python_function` loads `model.onnx` through [`PYFUNC_LOADER_MODULE`], a
//! short module shipped in the model's `code/` folder that calls `mlflow.onnx` and casts
//! pandas string columns to numpy `object` first. The issue asked for
//! `loader_module: mlflow.onnx`; that loader fails on every string input with pandas 3 (what
//! `pip install mlflow==3.17.2` installs), in `pyfunc.load_model`, `mlflow models serve` and
//! `spark_udf` alike, because it hands pandas' `StringDtype` arrays to onnxruntime. Pinning
//! `pandas<3` in `requirements.txt` would only help the `virtualenv`/`uv`/`conda` env
//! managers, not a user's own environment, so the loader is the shim. A version without ONNX
//! gets an `MLmodel` with the native flavor only (Python cannot run it, MLflow still shows
//! its schema).
//!
//! **Signature.** MLflow's column-based schema: each input field of the [`Signature`] is a
//! column (`double` for numbers, `string` for categories); with ONNX, each ONNX input must be
//! exactly one of those columns (one 1-D tensor per column, of a matching type) and the
//! outputs are the ONNX outputs, which must be 1-D too (`label` and `probability_<class>`
//! with obesity-onnx's `OutputLayout::Columns`). Without ONNX the outputs are `label`
//! (string) and `probability_<class>` (float) per class, what the native model predicts.
//! What MLflow's column schema cannot express is an [`Error::Signature`] naming the field.
//!
//! **Determinism.** Nothing in these files comes from the clock: `utc_time_created` is the
//! run's start time, `model_uuid` the logged model's id or a hash of the run id and folder.

use std::collections::BTreeMap;

use obesity_data::{ColumnValues, NamedColumn};
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::signature::{FieldType, Signature};

/// The MLflow Model's description file, written last (its presence means the folder is
/// complete).
pub const MLMODEL_FILE: &str = "MLmodel";
/// The ONNX model (flavors `onnx` and `python_function`).
pub const ONNX_FILE: &str = "model.onnx";
/// The input example, a pandas `split` DataFrame (`{"columns": [...], "data": [[...]]}`).
pub const INPUT_EXAMPLE_FILE: &str = "input_example.json";
/// The input example as a scoring request (`{"dataframe_split": {...}}`).
pub const SERVING_INPUT_EXAMPLE_FILE: &str = "serving_input_example.json";
/// pip requirements of the Python flavors.
pub const REQUIREMENTS_FILE: &str = "requirements.txt";
/// The virtualenv description (`--env-manager virtualenv` / `uv`).
pub const PYTHON_ENV_FILE: &str = "python_env.yaml";
/// The conda environment (`--env-manager conda`).
pub const CONDA_ENV_FILE: &str = "conda.yaml";
/// The folder of the `python_function` loader module.
pub const CODE_DIR: &str = "code";
/// The `python_function` flavor's `loader_module` (a file in [`CODE_DIR`]).
pub const PYFUNC_LOADER_MODULE: &str = "obesity_onnx_pyfunc";
/// Our native flavor's name in `MLmodel`.
pub const NATIVE_FLAVOR: &str = "obesity_rs";
/// Format version of the native flavor's entry.
pub const NATIVE_FLAVOR_VERSION: u32 = 1;
/// The MLflow release whose MLmodel format is written (`mlflow_version`).
pub const MLFLOW_VERSION: &str = "3.17.2";

/// Source of the `python_function` loader module.
pub const PYFUNC_LOADER_SOURCE: &str = include_str!("obesity_onnx_pyfunc.py");

/// Every file name the MLflow Model directory may use, which extra artifacts must not take.
pub(crate) const RESERVED_FILES: [&str; 9] = [
    MLMODEL_FILE,
    ONNX_FILE,
    INPUT_EXAMPLE_FILE,
    SERVING_INPUT_EXAMPLE_FILE,
    REQUIREMENTS_FILE,
    PYTHON_ENV_FILE,
    CONDA_ENV_FILE,
    CODE_DIR,
    "registered_model_meta",
];

/// A column type of MLflow's schema (`mlflow.types.DataType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ColumnType {
    /// `boolean`.
    Boolean,
    /// `integer` (32-bit).
    Integer,
    /// `long` (64-bit integer).
    Long,
    /// `float` (32-bit).
    Float,
    /// `double` (64-bit).
    Double,
    /// `string`.
    String,
    /// `binary`.
    Binary,
    /// `datetime`.
    Datetime,
}

impl ColumnType {
    /// Every type, in MLflow's order.
    pub const ALL: [ColumnType; 8] = [
        ColumnType::Boolean,
        ColumnType::Integer,
        ColumnType::Long,
        ColumnType::Float,
        ColumnType::Double,
        ColumnType::String,
        ColumnType::Binary,
        ColumnType::Datetime,
    ];

    /// MLflow's name of the type.
    pub fn as_str(self) -> &'static str {
        match self {
            ColumnType::Boolean => "boolean",
            ColumnType::Integer => "integer",
            ColumnType::Long => "long",
            ColumnType::Float => "float",
            ColumnType::Double => "double",
            ColumnType::String => "string",
            ColumnType::Binary => "binary",
            ColumnType::Datetime => "datetime",
        }
    }

    /// The type with MLflow's name `name`, if MLflow has one.
    pub fn parse(name: &str) -> Option<Self> {
        ColumnType::ALL.into_iter().find(|t| t.as_str() == name)
    }

    fn is_number(self) -> bool {
        matches!(
            self,
            ColumnType::Integer | ColumnType::Long | ColumnType::Float | ColumnType::Double
        )
    }
}

/// One column of an MLflow schema (`mlflow.types.ColSpec`, always `required`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColSpec {
    /// The column name.
    pub name: String,
    /// Its type.
    pub column_type: ColumnType,
}

impl ColSpec {
    /// A column.
    pub fn new(name: impl Into<String>, column_type: ColumnType) -> Self {
        ColSpec {
            name: name.into(),
            column_type,
        }
    }

    fn wire(&self) -> ColSpecWire<'_> {
        ColSpecWire {
            ty: self.column_type.as_str(),
            name: &self.name,
            required: true,
        }
    }
}

/// A column as MLflow writes it, in MLflow's own key order: type, name, required.
#[derive(Serialize)]
struct ColSpecWire<'a> {
    #[serde(rename = "type")]
    ty: &'a str,
    name: &'a str,
    required: bool,
}

/// Columns as MLflow writes them in `MLmodel` and dataset records: a JSON list of
/// `{"type", "name", "required"}`.
pub fn colspec_json(columns: &[ColSpec]) -> String {
    let wire: Vec<ColSpecWire<'_>> = columns.iter().map(ColSpec::wire).collect();
    serde_json::to_string(&wire).unwrap_or_else(|_| "[]".into())
}

/// An MLflow model signature: input and output columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MlflowSignature {
    /// Input columns, in the order of the [`Signature`]'s inputs.
    pub inputs: Vec<ColSpec>,
    /// Output columns.
    pub outputs: Vec<ColSpec>,
}

/// One input or output tensor of an ONNX model, as the exporter describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorColumn {
    /// The ONNX value name.
    pub name: String,
    /// MLflow's name of the element type (`double`, `float`, `long`, `string`; obesity-onnx's
    /// `ElemType::mlflow_name`), or `None` when the exporter could not name it.
    pub elem_type: Option<String>,
    /// Dimensions, `None` for a symbolic one (the batch size).
    pub shape: Vec<Option<i64>>,
}

impl TensorColumn {
    /// A tensor description.
    pub fn new(name: impl Into<String>, elem_type: Option<&str>, shape: Vec<Option<i64>>) -> Self {
        TensorColumn {
            name: name.into(),
            elem_type: elem_type.map(str::to_string),
            shape,
        }
    }

    /// This tensor as one MLflow column: it must be one-dimensional (one value per row) and
    /// of a type MLflow has.
    fn column(&self, role: &str) -> Result<ColSpec> {
        let bad = |reason: String| Error::Signature {
            field: self.name.clone(),
            reason,
        };
        if self.shape.len() != 1 {
            return Err(bad(format!(
                "ONNX {role} of shape {} cannot be a column of MLflow's column-based schema, \
                 which needs one 1-D tensor [N] per column (export with one input per raw \
                 column and OutputLayout::Columns)",
                shape_text(&self.shape)
            )));
        }
        let name = self.elem_type.as_deref().ok_or_else(|| {
            bad(format!(
                "ONNX {role} has an element type MLflow's schema cannot express"
            ))
        })?;
        let column_type = ColumnType::parse(name).ok_or_else(|| {
            bad(format!(
                "ONNX {role} type {name:?} is not an MLflow column type (one of {})",
                ColumnType::ALL.map(ColumnType::as_str).join(", ")
            ))
        })?;
        Ok(ColSpec::new(&self.name, column_type))
    }
}

fn shape_text(shape: &[Option<i64>]) -> String {
    let dims: Vec<String> = shape
        .iter()
        .map(|d| d.map_or_else(|| "N".to_string(), |n| n.to_string()))
        .collect();
    format!("[{}]", dims.join(", "))
}

/// An ONNX model of a version and the description of its inputs and outputs (from the
/// exporter, e.g. `obesity_onnx::OnnxModel::inputs`), which the signature is checked
/// against.
#[derive(Debug, Clone, PartialEq)]
pub struct OnnxArtifact {
    /// The serialized `ModelProto`.
    pub bytes: Vec<u8>,
    /// Its graph inputs.
    pub inputs: Vec<TensorColumn>,
    /// Its graph outputs.
    pub outputs: Vec<TensorColumn>,
}

impl OnnxArtifact {
    /// An ONNX model with its inputs and outputs.
    pub fn new(bytes: Vec<u8>, inputs: Vec<TensorColumn>, outputs: Vec<TensorColumn>) -> Self {
        OnnxArtifact {
            bytes,
            inputs,
            outputs,
        }
    }
}

impl MlflowSignature {
    /// The MLflow signature of a version: columns from `signature` (numbers `double`,
    /// categories `string`), checked against the ONNX model's inputs when there is one, and
    /// the outputs of the ONNX model (else `label` + `probability_<class>`). Without a
    /// signature the ONNX inputs are the columns. `None` when there is neither.
    ///
    /// # Errors
    /// [`Error::Signature`] naming the field: an ONNX tensor that is not 1-D or whose type
    /// MLflow has no name for, an input of the signature the ONNX model does not take (or the
    /// reverse), or a category fed to a numeric tensor (or the reverse).
    pub fn for_version(
        signature: Option<&Signature>,
        onnx: Option<&OnnxArtifact>,
    ) -> Result<Option<Self>> {
        let inputs = match (signature, onnx) {
            (None, None) => return Ok(None),
            (Some(sig), None) => sig
                .inputs
                .iter()
                .map(|f| ColSpec::new(&f.name, field_column_type(&f.field_type)))
                .collect(),
            (None, Some(o)) => o
                .inputs
                .iter()
                .map(|t| t.column("input"))
                .collect::<Result<Vec<_>>>()?,
            (Some(sig), Some(o)) => onnx_inputs_for(sig, o)?,
        };
        let outputs = match (onnx, signature) {
            (Some(o), _) => o
                .outputs
                .iter()
                .map(|t| t.column("output"))
                .collect::<Result<Vec<_>>>()?,
            (None, Some(sig)) => {
                let mut out = vec![ColSpec::new("label", ColumnType::String)];
                out.extend(
                    sig.classes
                        .iter()
                        .map(|c| ColSpec::new(format!("probability_{c}"), ColumnType::Float)),
                );
                out
            }
            (None, None) => Vec::new(),
        };
        Ok(Some(MlflowSignature { inputs, outputs }))
    }
}

fn field_column_type(t: &FieldType) -> ColumnType {
    match t {
        FieldType::Numeric { .. } => ColumnType::Double,
        FieldType::Categorical { .. } => ColumnType::String,
    }
}

/// The signature's inputs as the ONNX model's columns (its types), in the signature's order.
fn onnx_inputs_for(sig: &Signature, onnx: &OnnxArtifact) -> Result<Vec<ColSpec>> {
    let mut by_name: BTreeMap<&str, ColSpec> = BTreeMap::new();
    for t in &onnx.inputs {
        let col = t.column("input")?;
        if by_name.insert(&t.name, col).is_some() {
            return Err(Error::Signature {
                field: t.name.clone(),
                reason: "the ONNX model has two inputs of this name".into(),
            });
        }
    }
    let mut out = Vec::with_capacity(sig.inputs.len());
    for f in &sig.inputs {
        let col = by_name
            .remove(f.name.as_str())
            .ok_or_else(|| Error::Signature {
                field: f.name.clone(),
                reason: "the signature has this input but the ONNX model does not take it".into(),
            })?;
        let fits = match &f.field_type {
            FieldType::Numeric { .. } => col.column_type.is_number(),
            FieldType::Categorical { .. } => col.column_type == ColumnType::String,
        };
        if !fits {
            return Err(Error::Signature {
                field: f.name.clone(),
                reason: format!(
                    "the signature says {} but the ONNX input is {}",
                    match f.field_type {
                        FieldType::Numeric { .. } => "a number",
                        FieldType::Categorical { .. } => "a category (string)",
                    },
                    col.column_type.as_str()
                ),
            });
        }
        out.push(col);
    }
    if let Some(name) = by_name.into_keys().next() {
        return Err(Error::Signature {
            field: name.to_string(),
            reason: "the ONNX model takes this input but the signature does not have it".into(),
        });
    }
    Ok(out)
}

/// A few rows of model input, stored as `input_example.json` (MLflow's `split` DataFrame)
/// and `serving_input_example.json` (the `/invocations` request for them).
#[derive(Debug, Clone, PartialEq)]
pub struct InputExample {
    columns: Vec<String>,
    data: Vec<Vec<Value>>,
}

impl InputExample {
    /// The first `max_rows` rows of named columns (e.g. `obesity_data::feature_columns`).
    ///
    /// # Errors
    /// No columns or rows, columns of different lengths, a column given twice, or a number
    /// that is not finite (JSON cannot hold it), naming the column.
    pub fn from_columns(columns: &[NamedColumn], max_rows: usize) -> Result<Self> {
        let first = columns.first().ok_or_else(|| Error::InvalidValue {
            field: "input example",
            value: "no columns".into(),
            expected: "at least one column",
        })?;
        let rows = first.values.len().min(max_rows);
        if rows == 0 {
            return Err(Error::InvalidValue {
                field: "input example",
                value: "no rows".into(),
                expected: "at least one row",
            });
        }
        let mut names = Vec::with_capacity(columns.len());
        let mut data = vec![Vec::with_capacity(columns.len()); rows];
        for c in columns {
            if names.contains(&c.name) {
                return Err(Error::Signature {
                    field: c.name.clone(),
                    reason: "column given twice in the input example".into(),
                });
            }
            if c.values.len() != first.values.len() {
                return Err(Error::Signature {
                    field: c.name.clone(),
                    reason: format!(
                        "{} values in the input example, but {} has {}",
                        c.values.len(),
                        first.name,
                        first.values.len()
                    ),
                });
            }
            for (row, out) in data.iter_mut().enumerate() {
                out.push(match &c.values {
                    ColumnValues::Numeric(v) => number(&c.name, v[row])?,
                    ColumnValues::Categorical(v) => Value::String(v[row].clone()),
                });
            }
            names.push(c.name.clone());
        }
        Ok(InputExample {
            columns: names,
            data,
        })
    }

    /// Rows given as JSON objects (all with the same keys).
    ///
    /// # Errors
    /// No rows, or a row whose keys differ from the first row's, naming the key.
    pub fn from_rows(rows: &[serde_json::Map<String, Value>]) -> Result<Self> {
        let first = rows.first().ok_or_else(|| Error::InvalidValue {
            field: "input example",
            value: "no rows".into(),
            expected: "at least one row",
        })?;
        let columns: Vec<String> = first.keys().cloned().collect();
        let mut data = Vec::with_capacity(rows.len());
        for (i, row) in rows.iter().enumerate() {
            let mut out = Vec::with_capacity(columns.len());
            for c in &columns {
                out.push(row.get(c).cloned().ok_or_else(|| Error::Signature {
                    field: c.clone(),
                    reason: format!("missing in row {i} of the input example"),
                })?);
            }
            if let Some(extra) = row.keys().find(|k| !first.contains_key(*k)) {
                return Err(Error::Signature {
                    field: extra.clone(),
                    reason: format!("in row {i} of the input example but not in row 0"),
                });
            }
            data.push(out);
        }
        Ok(InputExample { columns, data })
    }

    /// The column names.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// The rows, values in column order.
    pub fn rows(&self) -> &[Vec<Value>] {
        &self.data
    }

    /// The example checked against a signature (every input present, no other column, each
    /// value of the right type and in its domain) and put in the signature's column order.
    pub(crate) fn conform(&self, sig: &Signature) -> Result<Self> {
        sig.check_columns(&self.columns)?;
        let mut data = Vec::with_capacity(self.data.len());
        for row in &self.data {
            let map: serde_json::Map<String, Value> = self
                .columns
                .iter()
                .cloned()
                .zip(row.iter().cloned())
                .collect();
            sig.check_row(&map)?;
            data.push(
                sig.inputs
                    .iter()
                    .map(|f| map.get(&f.name).cloned().unwrap_or(Value::Null))
                    .collect(),
            );
        }
        Ok(InputExample {
            columns: sig.inputs.iter().map(|f| f.name.clone()).collect(),
            data,
        })
    }

    fn split_json(&self) -> Value {
        json!({ "columns": self.columns, "data": self.data })
    }
}

fn number(column: &str, x: f64) -> Result<Value> {
    serde_json::Number::from_f64(x)
        .map(Value::Number)
        .ok_or_else(|| Error::Signature {
            field: column.to_string(),
            reason: format!("{x} in the input example is not a finite number"),
        })
}

/// The Python environment of the Python flavors: `python_env.yaml`, `conda.yaml` and
/// `requirements.txt`. Only used by `--env-manager virtualenv/uv/conda`; with
/// `--env-manager local` the caller's environment must have these packages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PythonEnv {
    /// The Python version (`3.11`: MLflow's env managers take a prefix).
    pub python: String,
    /// pip requirements, one per line of `requirements.txt`.
    pub requirements: Vec<String>,
}

impl Default for PythonEnv {
    /// Python 3.11 with `mlflow==3.17.2`, `onnx==1.23.2`, `onnxruntime==1.32.0`: the versions
    /// the checks in `scripts/mlflow_suite.sh` run.
    fn default() -> Self {
        PythonEnv {
            python: "3.11".into(),
            requirements: vec![
                format!("mlflow=={MLFLOW_VERSION}"),
                "onnx==1.23.2".into(),
                "onnxruntime==1.32.0".into(),
            ],
        }
    }
}

impl PythonEnv {
    fn validate(&self) -> Result<()> {
        let bad_python = self.python.is_empty()
            || !self
                .python
                .split('.')
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        if bad_python {
            return Err(Error::InvalidValue {
                field: "python version",
                value: self.python.clone(),
                expected: "digits and dots, such as 3.11 or 3.11.7",
            });
        }
        for r in &self.requirements {
            if r.trim().is_empty() || r.contains(['\n', '\r']) {
                return Err(Error::InvalidValue {
                    field: "pip requirement",
                    value: r.clone(),
                    expected: "one non-empty line, such as onnxruntime==1.32.0",
                });
            }
        }
        Ok(())
    }

    /// The version pinned for `package` (`onnx==1.23.2` gives `1.23.2`).
    fn pinned(&self, package: &str) -> Option<&str> {
        self.requirements
            .iter()
            .find_map(|r| r.trim().strip_prefix(package)?.strip_prefix("=="))
            .map(str::trim)
    }
}

/// The native files of a version, for the native flavor's entry.
#[derive(Debug, Clone)]
pub(crate) struct NativeFiles {
    pub(crate) model: String,
    pub(crate) pipeline: Option<String>,
    pub(crate) signature: Option<String>,
    pub(crate) lineage: String,
}

/// Everything a version's MLflow Model directory is made from.
#[derive(Debug, Clone)]
pub(crate) struct ModelDirSpec<'a> {
    pub(crate) signature: Option<&'a Signature>,
    pub(crate) onnx: Option<&'a OnnxArtifact>,
    pub(crate) example: Option<&'a InputExample>,
    pub(crate) python: &'a PythonEnv,
    pub(crate) native: NativeFiles,
    pub(crate) run_id: &'a str,
    /// Run-relative folder of the version (`model`).
    pub(crate) artifact_path: &'a str,
    pub(crate) run_start_ms: Option<i64>,
}

/// A checked model directory: its files except `MLmodel`, which is rendered once the logged
/// model's id is known.
#[derive(Debug, Clone)]
pub(crate) struct ModelDir {
    mlflow_signature: Option<MlflowSignature>,
    example: Option<InputExample>,
    has_onnx: bool,
    python: PythonEnv,
    native: NativeFiles,
    run_id: String,
    artifact_path: String,
    run_start_ms: Option<i64>,
    /// Files other than the native ones and `MLmodel`, in write order.
    files: Vec<(String, Vec<u8>)>,
}

impl ModelDir {
    /// Checks a version's MLflow data and prepares its files.
    pub(crate) fn plan(spec: ModelDirSpec<'_>) -> Result<Self> {
        let mlflow_signature = MlflowSignature::for_version(spec.signature, spec.onnx)?;
        let example = match (spec.example, spec.signature) {
            (Some(e), Some(sig)) => Some(e.conform(sig)?),
            (Some(e), None) => Some(e.clone()),
            (None, _) => None,
        };
        spec.python.validate()?;
        let mut files = Vec::new();
        if let Some(o) = spec.onnx {
            files.push((ONNX_FILE.to_string(), o.bytes.clone()));
            files.push((
                format!("{CODE_DIR}/{PYFUNC_LOADER_MODULE}.py"),
                PYFUNC_LOADER_SOURCE.as_bytes().to_vec(),
            ));
            files.push((
                REQUIREMENTS_FILE.to_string(),
                spec.python.requirements.join("\n").into_bytes(),
            ));
            files.push((PYTHON_ENV_FILE.to_string(), python_env_yaml(spec.python)?));
            files.push((CONDA_ENV_FILE.to_string(), conda_yaml(spec.python)?));
        }
        if let Some(e) = &example {
            let split = e.split_json();
            files.push((
                INPUT_EXAMPLE_FILE.to_string(),
                split.to_string().into_bytes(),
            ));
            let serving = json!({ "dataframe_split": split });
            let text = serde_json::to_string_pretty(&serving).map_err(|source| Error::Json {
                what: "serving input example".into(),
                source,
            })?;
            files.push((SERVING_INPUT_EXAMPLE_FILE.to_string(), text.into_bytes()));
        }
        Ok(ModelDir {
            mlflow_signature,
            example,
            has_onnx: spec.onnx.is_some(),
            python: spec.python.clone(),
            native: spec.native,
            run_id: spec.run_id.to_string(),
            artifact_path: spec.artifact_path.to_string(),
            run_start_ms: spec.run_start_ms,
            files,
        })
    }

    /// The files to write before `MLmodel` (paths relative to the version's folder).
    pub(crate) fn files(&self) -> &[(String, Vec<u8>)] {
        &self.files
    }

    /// The `MLmodel` text. `model_id` is the MLflow 3 logged model's id when the store keeps
    /// logged models; `other_bytes` the size of the version's other files.
    pub(crate) fn mlmodel(&self, model_id: Option<&str>, other_bytes: u64) -> Result<String> {
        let mut flavors = BTreeMap::new();
        let mut native = BTreeMap::new();
        native.insert("format_version", json!(NATIVE_FLAVOR_VERSION));
        native.insert("model", json!(self.native.model));
        native.insert("pipeline", json!(self.native.pipeline));
        native.insert("signature", json!(self.native.signature));
        native.insert("lineage", json!(self.native.lineage));
        native.insert("registry_version", json!(env!("CARGO_PKG_VERSION")));
        flavors.insert(NATIVE_FLAVOR, json!(native));
        if self.has_onnx {
            flavors.insert(
                "onnx",
                json!({
                    "code": null,
                    "data": ONNX_FILE,
                    "onnx_session_options": null,
                    "onnx_version": self.python.pinned("onnx"),
                    "providers": ["CPUExecutionProvider"],
                }),
            );
            flavors.insert(
                "python_function",
                json!({
                    "code": CODE_DIR,
                    "data": ONNX_FILE,
                    "env": { "conda": CONDA_ENV_FILE, "virtualenv": PYTHON_ENV_FILE },
                    "loader_module": PYFUNC_LOADER_MODULE,
                    "python_version": self.python.python,
                }),
            );
        }
        let model_uuid = match model_id {
            Some(id) => id.to_string(),
            None => {
                let digest = Sha256::digest(format!("{}/{}", self.run_id, self.artifact_path));
                hex::encode(&digest[..16])
            }
        };
        let mut doc = BTreeMap::new();
        doc.insert("artifact_path", json!(self.artifact_path));
        doc.insert("flavors", json!(flavors));
        doc.insert("mlflow_version", json!(MLFLOW_VERSION));
        doc.insert("model_id", json!(model_id));
        doc.insert("model_size_bytes", json!(other_bytes));
        doc.insert("model_uuid", json!(model_uuid));
        doc.insert("run_id", json!(self.run_id));
        if let Some(s) = &self.mlflow_signature {
            doc.insert(
                "signature",
                json!({
                    "inputs": colspec_json(&s.inputs),
                    "outputs": colspec_json(&s.outputs),
                    "params": null,
                }),
            );
        }
        if self.example.is_some() {
            doc.insert(
                "saved_input_example_info",
                json!({
                    "artifact_path": INPUT_EXAMPLE_FILE,
                    "pandas_orient": "split",
                    "serving_input_path": SERVING_INPUT_EXAMPLE_FILE,
                    "type": "dataframe",
                }),
            );
        }
        if let Some(t) = self
            .run_start_ms
            .and_then(chrono::DateTime::from_timestamp_millis)
        {
            doc.insert(
                "utc_time_created",
                json!(t.format("%Y-%m-%d %H:%M:%S%.6f").to_string()),
            );
        }
        let text = to_yaml(&json!(doc), MLMODEL_FILE)?;
        // PyYAML (YAML 1.1) reads an unquoted `2026-01-02 03:04:05.000000` as a datetime;
        // MLflow writes this field quoted, as a string.
        Ok(text
            .lines()
            .map(|line| match line.strip_prefix("utc_time_created: ") {
                Some(t) if !t.starts_with('\'') => format!("utc_time_created: '{t}'\n"),
                _ => format!("{line}\n"),
            })
            .collect())
    }
}

fn python_env_yaml(env: &PythonEnv) -> Result<Vec<u8>> {
    // MLflow's own key order (python, build_dependencies, dependencies), not sorted.
    let mut text = format!("python: {}\n", yaml_scalar(&env.python)?);
    text.push_str("build_dependencies:\n- pip\n- setuptools\n- wheel\n");
    text.push_str(&format!("dependencies:\n- -r {REQUIREMENTS_FILE}\n"));
    Ok(text.into_bytes())
}

fn conda_yaml(env: &PythonEnv) -> Result<Vec<u8>> {
    let doc = json!({
        "channels": ["conda-forge"],
        "dependencies": [
            format!("python={}", env.python),
            "pip",
            { "pip": env.requirements },
        ],
        "name": "mlflow-env",
    });
    to_yaml(&doc, CONDA_ENV_FILE).map(String::into_bytes)
}

fn yaml_scalar(s: &str) -> Result<String> {
    to_yaml(&json!(s), "python version").map(|t| t.trim_end().to_string())
}

/// YAML with keys sorted (as Python's `yaml.safe_dump`), whatever order the JSON map keeps.
fn to_yaml(v: &Value, what: &str) -> Result<String> {
    serde_yaml_ng::to_string(&sorted(v)).map_err(|e| Error::InvalidState {
        what: what.to_string(),
        reason: format!("cannot write YAML: {e}"),
    })
}

fn sorted(v: &Value) -> serde_yaml_ng::Value {
    use serde_yaml_ng::Value as Y;
    match v {
        Value::Null => Y::Null,
        Value::Bool(b) => Y::Bool(*b),
        Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
            (Some(u), _, _) => Y::Number(u.into()),
            (None, Some(i), _) => Y::Number(i.into()),
            (None, None, Some(f)) => Y::Number(f.into()),
            _ => Y::Null,
        },
        Value::String(s) => Y::String(s.clone()),
        Value::Array(a) => Y::Sequence(a.iter().map(sorted).collect()),
        Value::Object(o) => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            let mut m = serde_yaml_ng::Mapping::new();
            for k in keys {
                m.insert(Y::String(k.clone()), sorted(&o[k]));
            }
            Y::Mapping(m)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_types_round_trip_through_mlflow_names() {
        for t in ColumnType::ALL {
            assert_eq!(ColumnType::parse(t.as_str()), Some(t));
        }
        assert_eq!(ColumnType::parse("float16"), None);
    }

    #[test]
    fn yaml_keys_are_sorted_whatever_the_insertion_order() {
        let text = to_yaml(&json!({"b": 1, "a": {"d": null, "c": "x"}}), "t").unwrap();
        assert_eq!(text, "a:\n  c: x\n  d: null\nb: 1\n");
    }

    #[test]
    fn pinned_versions_are_read_from_requirements() {
        let env = PythonEnv::default();
        assert_eq!(env.pinned("onnx"), Some("1.23.2"));
        assert_eq!(env.pinned("onnxruntime"), Some("1.32.0"));
        assert_eq!(env.pinned("torch"), None);
    }
}
