//! Loads a registered version the way Rust serves it (the native `model.bin` and
//! `pipeline.json`), predicts raw rows of a CSV and writes rows and predictions as one JSON
//! document: what Python must reproduce through the version's MLflow Model directory
//! (`scripts/mlflow_model_check.py`, run by `scripts/mlflow_suite.sh`).
//!
//! ```sh
//! cargo run --release -p obesity-registry --example registered_predictions -- \
//!     --tracking-uri ./mlruns --model models:/obesity-classifier@champion \
//!     --data fixtures/obesity_synthetic.csv --rows 500 --out predictions.json
//! ```
//!
//! Output: `{"model", "name", "version", "model_id", "columns": [...], "rows": [[...]],
//! "classes": [...], "labels": [...], "probabilities": [[...]]}`; `rows` are the raw values
//! (numbers and category strings, in the signature's column order), `labels` the predicted
//! class names, `probabilities` one list per row in class order. The exit code is non-zero,
//! with the error on stderr, if anything fails.

use std::process::ExitCode;

use obesity_data::{ColumnValues, LoadOptions, feature_columns, load_csv};
use obesity_registry::Registry;
use serde_json::{Value, json};

struct Args {
    tracking_uri: String,
    model: String,
    data: String,
    rows: usize,
    out: String,
}

const USAGE: &str = "usage: registered_predictions --tracking-uri URI --model MODEL_URI \
                     --data CSV [--rows N] --out FILE";

fn parse_args() -> Result<Args, String> {
    let (mut tracking_uri, mut model, mut data, mut out) = (None, None, None, None);
    let mut rows = usize::MAX;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match flag.as_str() {
            "--tracking-uri" => tracking_uri = Some(value("--tracking-uri")?),
            "--model" => model = Some(value("--model")?),
            "--data" => data = Some(value("--data")?),
            "--out" => out = Some(value("--out")?),
            "--rows" => {
                let v = value("--rows")?;
                rows = v
                    .parse()
                    .map_err(|e| format!("--rows: {v:?} is not a count: {e}"))?;
            }
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    let need = |v: Option<String>, name: &str| v.ok_or(format!("{name} is required\n{USAGE}"));
    Ok(Args {
        tracking_uri: need(tracking_uri, "--tracking-uri")?,
        model: need(model, "--model")?,
        data: need(data, "--data")?,
        rows,
        out: need(out, "--out")?,
    })
}

fn run(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let registry = Registry::open(&args.tracking_uri)?;
    let loaded = registry.load_str(&args.model)?;
    let pipeline = loaded
        .pipeline
        .as_ref()
        .ok_or("the version has no feature pipeline; it cannot take raw rows")?;
    let mut records = load_csv(&args.data, &LoadOptions::strict())?.records;
    records.truncate(args.rows);
    let x = pipeline.transform(&records)?;
    let proba = loaded.classifier.predict_proba(x.view())?;
    let predicted = loaded.classifier.predict(x.view())?;
    let classes = pipeline.class_names().to_vec();
    let labels: Vec<&str> = predicted
        .iter()
        .map(|&i| classes.get(i).map_or("?", String::as_str))
        .collect();
    // The raw rows in the signature's column order (the order of the MLflow schema).
    let columns = feature_columns(&records);
    let order: Vec<usize> = match &loaded.signature {
        Some(sig) => sig
            .inputs
            .iter()
            .map(|f| {
                columns
                    .iter()
                    .position(|c| c.name == f.name)
                    .ok_or_else(|| format!("the data has no column {}", f.name))
            })
            .collect::<Result<_, _>>()?,
        None => (0..columns.len()).collect(),
    };
    let rows: Vec<Vec<Value>> = (0..records.len())
        .map(|r| {
            order
                .iter()
                .map(|&c| match &columns[c].values {
                    ColumnValues::Numeric(v) => json!(v[r]),
                    ColumnValues::Categorical(v) => json!(v[r]),
                })
                .collect()
        })
        .collect();
    let probabilities: Vec<Vec<f32>> = proba.rows().into_iter().map(|r| r.to_vec()).collect();
    let doc = json!({
        "model": args.model,
        "name": loaded.version.name,
        "version": loaded.version.version,
        "model_id": loaded.version.model_id,
        "columns": order.iter().map(|&c| columns[c].name.clone()).collect::<Vec<_>>(),
        "rows": rows,
        "classes": classes,
        "labels": labels,
        "probabilities": probabilities,
    });
    std::fs::write(&args.out, serde_json::to_vec(&doc)?)
        .map_err(|e| format!("{}: {e}", args.out))?;
    eprintln!(
        "registered_predictions: {} rows of {} predicted by {} version {} -> {}",
        records.len(),
        args.data,
        loaded.version.name,
        loaded.version.version,
        args.out
    );
    Ok(())
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("registered_predictions: {e}");
            ExitCode::FAILURE
        }
    }
}
