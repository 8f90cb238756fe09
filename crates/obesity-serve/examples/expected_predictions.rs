//! What the library predicts for some rows, without the server: the reference that
//! `scripts/serve_clients.py` holds every HTTP answer to ("predictions must equal the
//! library's for the same rows").
//!
//! ```sh
//! cargo run --release -p obesity-serve --example expected_predictions -- \
//!     --tracking-uri ./mlruns --model models:/obesity-classifier@champion \
//!     --data fixtures/obesity_synthetic.csv --rows 40 --out expected.json
//! ```
//!
//! It loads the version with [`Registry::load`] (classifier, fitted feature pipeline,
//! signature), picks `--rows` rows spread evenly over the CSV, reads them with the library's
//! own CSV loader, and runs `pipeline.transform` → `classifier.predict_proba` / `predict`. The
//! JSON it writes:
//!
//! ```json
//! {"model": {"name": "...", "version": 1}, "columns": ["Gender", ...],
//!  "numeric_columns": ["Age", ...], "classes": ["Insufficient_Weight", ...],
//!  "rows": [{"Gender": "Female", "Age": 21.0, ...}], "labels": ["Normal_Weight", ...],
//!  "expected": [{"class": "...", "class_index": 1, "probabilities": [0.11, ...]}]}
//! ```
//!
//! `rows` hold the raw named fields of the signature (numbers as JSON numbers, categories as
//! strings), as a client would send them; `labels` are the CSV's targets (for /feedback).

use std::process::ExitCode;

use obesity_data::{LoadOptions, load_csv_bytes};
use obesity_registry::{FieldType, Registry};
use serde_json::{Map, Value, json};

struct Args {
    tracking_uri: String,
    model: String,
    data: String,
    rows: usize,
    out: Option<String>,
}

const USAGE: &str = "usage: expected_predictions --tracking-uri DIR|URL --data CSV \
                     [--model models:/obesity-classifier@champion] [--rows 40] [--out FILE]";

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        tracking_uri: String::new(),
        model: "models:/obesity-classifier@champion".to_owned(),
        data: String::new(),
        rows: 40,
        out: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--tracking-uri" => args.tracking_uri = value("--tracking-uri")?,
            "--model" => args.model = value("--model")?,
            "--data" => args.data = value("--data")?,
            "--rows" => {
                args.rows = value("--rows")?
                    .parse()
                    .map_err(|e| format!("--rows: {e}"))?;
            }
            "--out" => args.out = Some(value("--out")?),
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    if args.tracking_uri.is_empty() || args.data.is_empty() || args.rows == 0 {
        return Err(USAGE.to_owned());
    }
    Ok(args)
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
            eprintln!("expected_predictions: {e}");
            let mut source = e.source();
            while let Some(s) = source {
                eprintln!("  caused by: {s}");
                source = s.source();
            }
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let loaded = Registry::open(&args.tracking_uri)?.load_str(&args.model)?;
    let signature = loaded
        .signature
        .as_ref()
        .ok_or("the version has no signature")?;
    let pipeline = loaded
        .pipeline
        .as_ref()
        .ok_or("the version has no feature pipeline")?;

    // The chosen lines of the CSV, verbatim, behind its header: the library's loader reads
    // them exactly as it reads a training file.
    let text = std::fs::read_to_string(&args.data)?;
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header = lines.next().ok_or("the CSV is empty")?;
    let body: Vec<&str> = lines.collect();
    let n = args.rows.min(body.len());
    let picked: Vec<&str> = (0..n).map(|i| body[i * body.len() / n]).collect();
    let csv_text = format!("{header}\n{}\n", picked.join("\n"));
    let records =
        load_csv_bytes("expected rows", csv_text.as_bytes(), &LoadOptions::strict())?.records;
    if records.len() != n {
        return Err(format!("{} of {n} rows loaded", records.len()).into());
    }

    // The raw named fields of each row, typed by the signature.
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    let names: Vec<String> = reader.headers()?.iter().map(str::to_owned).collect();
    let mut rows = Vec::with_capacity(n);
    let mut labels = Vec::with_capacity(n);
    for record in reader.records() {
        let record = record?;
        let field = |name: &str| {
            names
                .iter()
                .position(|h| h == name)
                .and_then(|j| record.get(j))
                .ok_or_else(|| format!("the CSV has no column {name:?}"))
        };
        let mut row = Map::new();
        for input in &signature.inputs {
            let raw = field(&input.name)?;
            let value = match input.field_type {
                FieldType::Numeric { .. } => json!(
                    raw.trim()
                        .parse::<f64>()
                        .map_err(|e| format!("{}: {raw:?}: {e}", input.name))?
                ),
                FieldType::Categorical { .. } => json!(raw.trim()),
            };
            row.insert(input.name.clone(), value);
        }
        rows.push(Value::Object(row));
        labels.push(field(obesity_data::TARGET_COLUMN).ok().map(str::to_owned));
    }

    let x = pipeline.transform(&records)?;
    let proba = loaded.classifier.predict_proba(x.view())?;
    let predicted = loaded.classifier.predict(x.view())?;
    let classes = pipeline.class_names();
    if classes != signature.classes.as_slice() {
        return Err(format!(
            "the pipeline's classes {classes:?} differ from the signature's {:?}",
            signature.classes
        )
        .into());
    }
    let expected: Vec<Value> = predicted
        .iter()
        .zip(proba.rows())
        .map(|(&k, p)| {
            json!({
                "class": classes[k],
                "class_index": k,
                "probabilities": p.iter().map(|&v| f64::from(v)).collect::<Vec<_>>(),
            })
        })
        .collect();

    let doc = json!({
        "model": {"name": loaded.version.name, "version": loaded.version.version},
        "columns": signature.input_names(),
        "numeric_columns": signature
            .inputs
            .iter()
            .filter(|f| matches!(f.field_type, FieldType::Numeric { .. }))
            .map(|f| f.name.as_str())
            .collect::<Vec<_>>(),
        "classes": classes,
        "rows": rows,
        "labels": labels,
        "expected": expected,
    });
    let text = serde_json::to_string_pretty(&doc)?;
    match &args.out {
        Some(path) => std::fs::write(path, text + "\n")?,
        None => println!("{text}"),
    }
    eprintln!(
        "expected_predictions: {n} rows of {} through {} v{}",
        args.data, loaded.version.name, loaded.version.version
    );
    Ok(())
}
