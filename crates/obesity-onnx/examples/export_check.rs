//! Exports seeded models as ONNX and writes what onnxruntime must reproduce, for
//! `scripts/onnx_check.py` (run both with `bash scripts/onnx_suite.sh`).
//!
//! ```text
//! cargo run --release -p obesity-onnx --example export_check -- --out DIR [--repeats 15]
//! ```
//!
//! Trains as `src/pipeline.rs` does: the CSV in `OBESITY_UCI_CSV` (else the synthetic
//! fixture), obesity-data's stratified 80/20 split with seed 42, the feature pipeline fitted
//! on the training rows, `ForestParams` defaults with seed 42 (100 trees). It does so for
//! four feature settings, so every translated transform is exercised: `standard` (the
//! default of the training chain: one-hot everything + BMI), `compact` (ordinal codes, single
//! yes/no columns), `scaled_ignore` (standard scaling, `IgnoreUnseen`) and `strict` (the
//! `Error` rule). Into DIR it writes:
//!
//! - `model_<variant>.onnx` (layout `Tensor`) and `model_standard_columns.onnx` (layout
//!   `Columns`, the MLflow pyfunc one); `model_standard_forest.onnx`, the forest alone over
//!   its 32-column matrix, and that matrix for the held-out rows, `uci_test_features.json`,
//!   for the timings;
//! - the raw rows: `uci_test.csv` (the held-out rows, written back by `write_csv`) and
//!   `synthetic.csv` (`synth::generate(10_000, 2024)`);
//! - `pred_<variant>_<dataset>.json`: Rust's class names and probabilities per row (`null`
//!   for a row Rust's pipeline refuses, which the `strict` rule does for levels not seen in
//!   training);
//! - `rust_timings.json`: our pipeline + forest and forest alone on the benchmark batch (the
//!   held-out rows repeated 50 times, 21,150 rows) and on one row, on 1 and 2 threads
//!   (`[median, fastest]` of `--repeats` timings);
//! - `manifest.json`, which lists all of it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use ndarray::Array2;
use obesity_data::{
    LoadOptions, ObesityRecord, load_csv, stratified_split, synth, target_indices, write_csv,
};
use obesity_features::{
    BinaryEncoding, FeatureConfig, FeaturePipeline, FittedPipeline, FrequencyEncoding, Scaling,
    UnseenCategory,
};
use obesity_forest::{Classifier, ForestParams, RandomForest};
use obesity_onnx::{ExportOptions, OutputLayout, ToOnnx, export};
use serde_json::{Value, json};

type Error = Box<dyn std::error::Error + Send + Sync>;

/// Rows of the synthetic check set.
const SYNTHETIC_ROWS: usize = 10_000;
/// Times the held-out rows are repeated for the benchmark batch (423 × 50 = 21,150).
const BATCH_REPEATS: usize = 50;

fn main() -> Result<(), Error> {
    let mut out: Option<PathBuf> = None;
    let mut repeats = 15usize;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--out" => out = args.next().map(PathBuf::from),
            "--repeats" => {
                repeats = args
                    .next()
                    .and_then(|s| s.parse().ok())
                    .ok_or("--repeats needs a number")?
            }
            other => return Err(format!("unknown argument {other:?}").into()),
        }
    }
    let out = out.ok_or("usage: export_check --out DIR [--repeats N]")?;
    std::fs::create_dir_all(&out)?;

    let csv = std::env::var_os("OBESITY_UCI_CSV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/obesity_synthetic.csv")
        });
    let loaded = load_csv(&csv, &LoadOptions::strict())?;
    let labels = target_indices(&loaded.records)?;
    let (train_idx, test_idx) = stratified_split(&labels, 0.2, 42)?;
    let pick = |idx: &[usize]| -> Vec<ObesityRecord> {
        idx.iter().map(|&i| loaded.records[i].clone()).collect()
    };
    let (train, test) = (pick(&train_idx), pick(&test_idx));
    let synthetic = synth::generate(SYNTHETIC_ROWS, 2024);
    let datasets: [(&str, &[ObesityRecord]); 2] = [("uci_test", &test), ("synthetic", &synthetic)];
    for (name, records) in datasets {
        write_csv(
            records,
            std::fs::File::create(out.join(format!("{name}.csv")))?,
        )?;
    }

    let standard = FeatureConfig::standard();
    let variants = [
        ("standard", standard),
        ("compact", FeatureConfig::default()),
        (
            "scaled_ignore",
            FeatureConfig {
                binary: BinaryEncoding::Single,
                scaling: Scaling::Standard,
                unseen: UnseenCategory::IgnoreUnseen,
                ..standard
            },
        ),
        (
            "strict",
            FeatureConfig {
                frequency: FrequencyEncoding::Ordinal,
                unseen: UnseenCategory::Error,
                ..standard
            },
        ),
    ];
    let params = ForestParams::builder().seed(42).build()?;
    let mut models = Vec::new();
    let mut predictions = Vec::new();
    let mut timed = None;
    for (variant, config) in variants {
        let pipeline = FeaturePipeline::new(config).fit(&train)?;
        let data = pipeline.dataset(&train)?;
        let forest = RandomForest::fit(&params, data.x.view(), data.y.view(), data.n_classes())?;
        let mut layouts = vec![(OutputLayout::Tensor, format!("model_{variant}.onnx"))];
        if variant == "standard" {
            layouts.push((
                OutputLayout::Columns,
                format!("model_{variant}_columns.onnx"),
            ));
        }
        for (layout, file) in layouts {
            let options = ExportOptions::with_outputs(layout).metadata("obesity.variant", variant);
            let started = Instant::now();
            let model = export(&pipeline, &forest, &options)?;
            let export_ms = started.elapsed().as_secs_f64() * 1e3;
            model.write(out.join(&file))?;
            let bytes = model.to_bytes().len();
            println!("{file}: {bytes} bytes, exported in {export_ms:.1} ms");
            models.push(json!({
                "variant": variant,
                "layout": format!("{layout:?}").to_lowercase(),
                "file": file,
                "bytes": bytes,
                "feature_names": pipeline.feature_names(),
                "seen_levels": seen_levels(&pipeline),
            }));
        }
        for (dataset, records) in datasets {
            let file = format!("pred_{variant}_{dataset}.json");
            let document = predict(&pipeline, &forest, records)?;
            let rejected = document["rejected"].as_array().map_or(0, Vec::len);
            std::fs::write(out.join(&file), serde_json::to_vec(&document)?)?;
            predictions.push(json!({
                "variant": variant, "dataset": dataset, "file": file, "rejected": rejected,
            }));
        }
        if variant == "standard" {
            // The forest alone over its 32-column matrix, as a skl2onnx-converted
            // scikit-learn forest would be run, for the timings.
            forest
                .to_onnx(pipeline.class_names())?
                .write(out.join("model_standard_forest.onnx"))?;
            let features: Vec<Vec<f32>> = pipeline
                .transform(&test)?
                .rows()
                .into_iter()
                .map(|r| r.to_vec())
                .collect();
            std::fs::write(
                out.join("uci_test_features.json"),
                serde_json::to_vec(&features)?,
            )?;
            timed = Some((pipeline, forest));
        }
    }

    let (pipeline, forest) = timed.ok_or("no standard variant")?;
    let timings = time_rust(&pipeline, &forest, &test, repeats)?;
    std::fs::write(
        out.join("rust_timings.json"),
        serde_json::to_vec_pretty(&timings)?,
    )?;
    let manifest = json!({
        "source_csv": csv.canonicalize().unwrap_or(csv.clone()),
        "uci_test_index": test_idx,
        "class_names": pipeline.class_names(),
        "models": models,
        "datasets": datasets.iter().map(|(name, records)| json!({
            "name": name, "file": format!("{name}.csv"), "rows": records.len(),
        })).collect::<Vec<_>>(),
        "predictions": predictions,
        "batch_repeats": BATCH_REPEATS,
        "rust_timings": "rust_timings.json",
    });
    std::fs::write(
        out.join("manifest.json"),
        serde_json::to_vec_pretty(&manifest)?,
    )?;
    println!("wrote {}", out.join("manifest.json").display());
    Ok(())
}

fn seen_levels(pipeline: &FittedPipeline) -> BTreeMap<&'static str, Vec<&'static str>> {
    [
        "Gender",
        "family_history_with_overweight",
        "FAVC",
        "CAEC",
        "SMOKE",
        "SCC",
        "CALC",
        "MTRANS",
    ]
    .into_iter()
    .map(|c| (c, pipeline.seen_levels(c).unwrap_or_default()))
    .collect()
}

/// Rust's predictions for `records`: class names and probabilities, `null` for a record the
/// pipeline refuses (listed in `rejected`).
fn predict(
    pipeline: &FittedPipeline,
    forest: &RandomForest,
    records: &[ObesityRecord],
) -> Result<Value, Error> {
    let mut accepted = Vec::with_capacity(records.len());
    let mut rejected = Vec::new();
    for (i, r) in records.iter().enumerate() {
        match pipeline.transform(std::slice::from_ref(r)) {
            Ok(_) => accepted.push(i),
            Err(e) => rejected.push(json!({"row": i, "error": e.to_string()})),
        }
    }
    let kept: Vec<ObesityRecord> = accepted.iter().map(|&i| records[i].clone()).collect();
    let x = pipeline.transform(&kept)?;
    let proba = forest.predict_proba(x.view())?;
    let classes = forest.predict(x.view())?;
    let names = pipeline.class_names();
    let mut labels = vec![Value::Null; records.len()];
    let mut probabilities = vec![Value::Null; records.len()];
    for (k, &i) in accepted.iter().enumerate() {
        labels[i] = json!(names.get(classes[k]).ok_or("class index out of range")?);
        probabilities[i] = json!(proba.row(k).to_vec());
    }
    Ok(json!({"labels": labels, "probabilities": probabilities, "rejected": rejected}))
}

/// Median and fastest of `f` over `repeats` calls, in milliseconds (the fastest is the
/// figure least disturbed by other work on a shared machine).
fn median_ms(repeats: usize, mut f: impl FnMut() -> Result<(), Error>) -> Result<[f64; 2], Error> {
    let mut times = Vec::with_capacity(repeats);
    for _ in 0..repeats.max(1) {
        let t = Instant::now();
        f()?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    Ok([times[times.len() / 2], times[0]])
}

/// Our pipeline + forest and forest alone on the benchmark batch and on one row.
fn time_rust(
    pipeline: &FittedPipeline,
    forest: &RandomForest,
    test: &[ObesityRecord],
    repeats: usize,
) -> Result<Value, Error> {
    let batch: Vec<ObesityRecord> = (0..BATCH_REPEATS)
        .flat_map(|_| test.iter().cloned())
        .collect();
    let x: Array2<f32> = pipeline.transform(&batch)?;
    let one = std::slice::from_ref(&test[0]);
    let row = pipeline.transform(one)?.row(0).to_vec();
    let mut out = vec![0.0f32; forest.n_classes()];
    // One row: many calls per timing, reported per call in microseconds.
    const CALLS: usize = 2_000;
    let mut result = serde_json::Map::new();
    for threads in [1usize, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()?;
        let entry = pool.install(|| -> Result<Value, Error> {
            let forest_batch = median_ms(repeats, || {
                forest.predict_proba(x.view())?;
                Ok(())
            })?;
            let pipeline_batch = median_ms(repeats, || {
                let x = pipeline.transform(&batch)?;
                forest.predict_proba(x.view())?;
                Ok(())
            })?;
            let per_call_us =
                |[median, best]: [f64; 2]| [median, best].map(|t| t * 1e3 / CALLS as f64);
            let forest_row = per_call_us(median_ms(repeats, || {
                for _ in 0..CALLS {
                    forest.predict_proba_row(&row, &mut out)?;
                }
                Ok(())
            })?);
            let pipeline_row = per_call_us(median_ms(repeats, || {
                for _ in 0..CALLS {
                    let x = pipeline.transform(one)?;
                    if let Some(r) = x.as_slice() {
                        forest.predict_proba_row(r, &mut out)?;
                    }
                }
                Ok(())
            })?);
            // [median, fastest] of each.
            Ok(json!({
                "batch_rows": batch.len(),
                "forest_batch_ms": forest_batch,
                "pipeline_forest_batch_ms": pipeline_batch,
                "forest_row_us": forest_row,
                "pipeline_forest_row_us": pipeline_row,
            }))
        })?;
        println!("rust, {threads} thread(s): {entry}");
        result.insert(format!("threads_{threads}"), entry);
    }
    Ok(Value::Object(result))
}
