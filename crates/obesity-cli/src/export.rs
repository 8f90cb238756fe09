//! `obesity export onnx --model models:/NAME@ALIAS --output model.onnx`: a registered version
//! as one ONNX model over raw columns (obesity-onnx), for any ONNX host (onnxruntime, Triton,
//! MLflow's `mlflow.onnx`).
//!
//! A version registered with an MLflow Model directory already holds its `model.onnx` (what
//! MLflow's pyfunc and `mlflow models serve` run); by default that exact file is written. A
//! version registered before that, or an explicit `--layout`, is exported anew from the
//! version's own `pipeline.json` and forest (`model.bin`): the same model, since the export
//! is deterministic.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use obesity_features::FittedPipeline;
use obesity_forest::RandomForest;
use obesity_onnx::{ExportOptions, OnnxModel, OutputLayout, TensorSpec};
use obesity_registry::{MODEL_FILE, ONNX_FILE, PIPELINE_FILE, Registry};
use serde::Serialize;

/// Export a registered version in another format.
#[derive(Debug, Subcommand)]
pub(crate) enum ExportCommand {
    /// Write a registered version (feature pipeline + forest) as one ONNX model taking one
    /// input per raw column.
    Onnx(OnnxArgs),
}

/// Arguments of `obesity export onnx`.
#[derive(Debug, Args)]
pub(crate) struct OnnxArgs {
    /// The version: models:/NAME/VERSION, models:/NAME@ALIAS, models:/NAME/STAGE or NAME@ALIAS.
    #[arg(long, value_name = "MODEL_URI")]
    model: String,
    /// The file to write (atomically).
    #[arg(long, short, value_name = "FILE")]
    output: PathBuf,
    /// Export anew with these outputs instead of writing the registered model.onnx:
    /// `tensor` (label + probabilities [N, classes]) or `columns` (label + one
    /// probability_<class> per class, what MLflow's pyfunc needs).
    #[arg(long, value_enum)]
    layout: Option<Layout>,
}

/// The ONNX outputs of a fresh export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Layout {
    /// `label` and `probabilities` `[N, n_classes]`.
    Tensor,
    /// `label` and `probability_<class>` per class.
    Columns,
}

/// What `--json` prints.
#[derive(Debug, Serialize)]
struct Written {
    path: String,
    bytes: usize,
    name: String,
    version: u64,
    /// `registered` (the version's own model.onnx) or `exported` (made now).
    origin: &'static str,
    inputs: Vec<String>,
    outputs: Vec<String>,
}

type BoxError = Box<dyn std::error::Error>;

/// Runs an export command, printing what was written.
pub(crate) fn main(uri: &str, json: bool, command: &ExportCommand) -> ExitCode {
    let ExportCommand::Onnx(args) = command;
    match onnx(uri, args) {
        Ok(w) => {
            let text = if json {
                serde_json::to_string_pretty(&w).unwrap_or_default() + "\n"
            } else {
                format!(
                    "wrote {} ({} bytes, {} model.onnx of {} version {}): {} inputs, outputs {}\n",
                    w.path,
                    w.bytes,
                    w.origin,
                    w.name,
                    w.version,
                    w.inputs.len(),
                    w.outputs.join(", ")
                )
            };
            let mut out = std::io::stdout().lock();
            // A reader that went away (`| head`) is not an error of the export.
            let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn onnx(uri: &str, args: &OnnxArgs) -> Result<Written, BoxError> {
    let registry = Registry::open(uri)?;
    let version = registry.resolve_str(&args.model)?;
    let (name, number) = (version.name.clone(), version.version);
    let registered = match args.layout {
        Some(_) => None,
        None => match registry.artifact(&name, number, ONNX_FILE) {
            Ok(bytes) => Some(bytes),
            Err(e) if e.is_not_found() => None,
            Err(e) => return Err(e.into()),
        },
    };
    let (bytes, model, origin) = match registered {
        Some(bytes) => {
            let model = OnnxModel::from_bytes(&bytes).map_err(|e| {
                format!("{name} version {number}: its {ONNX_FILE} is not an ONNX model: {e}")
            })?;
            (bytes, model, "registered")
        }
        None => {
            let pipeline_json = registry
                .artifact(&name, number, PIPELINE_FILE)
                .map_err(|e| {
                    format!(
                        "{name} version {number} has no {PIPELINE_FILE}, so it cannot be exported \
                     over raw columns: {e}"
                    )
                })?;
            let pipeline = FittedPipeline::from_json(&String::from_utf8_lossy(&pipeline_json))?;
            let forest = RandomForest::from_bytes(&registry.artifact(&name, number, MODEL_FILE)?)
                .map_err(|e| {
                format!("{name} version {number}: its {MODEL_FILE} is not a random forest: {e}")
            })?;
            let layout = match args.layout.unwrap_or(Layout::Columns) {
                Layout::Tensor => OutputLayout::Tensor,
                Layout::Columns => OutputLayout::Columns,
            };
            let model =
                obesity_onnx::export(&pipeline, &forest, &ExportOptions::with_outputs(layout))?;
            (model.to_bytes(), model, "exported")
        }
    };
    write_atomically(&args.output, &bytes)?;
    let names = |specs: Vec<TensorSpec>| specs.into_iter().map(|t| t.name).collect();
    Ok(Written {
        path: args.output.display().to_string(),
        bytes: bytes.len(),
        name,
        version: number,
        origin,
        inputs: names(model.inputs()),
        outputs: names(model.outputs()),
    })
}

/// Writes `bytes` onto `path` with the workspace's one atomic write.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), BoxError> {
    obesity_data::write_atomic(path, bytes).map_err(|e| format!("{}: {e}", path.display()).into())
}
