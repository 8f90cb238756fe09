//! Load + validate + featurize, the data path every training run starts with.
//!
//! Uses the real UCI file when `OBESITY_UCI_CSV` is set, else the committed synthetic fixture
//! `fixtures/obesity_synthetic.csv` (same schema and size). Run with
//! `cargo bench -p obesity-benches --bench data_pipeline` (add `OBESITY_UCI_CSV=...` for the
//! real file).
//!
//! Ids are `data_pipeline/<stage>/<source>-<rows>r`; throughput is in rows.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use obesity_mlops::data::{LoadOptions, ValidationReport, load_csv};
use obesity_mlops::features::{FeatureConfig, FeaturePipeline};

/// The file to read and a short name for it in the benchmark ids.
fn data_file() -> (PathBuf, &'static str) {
    match std::env::var_os("OBESITY_UCI_CSV") {
        Some(path) => (PathBuf::from(path), "uci"),
        None => (
            // CARGO_MANIFEST_DIR is benches/ (the obesity-benches package).
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/obesity_synthetic.csv"),
            "synthetic",
        ),
    }
}

fn data_pipeline(c: &mut Criterion) {
    let (path, source) = data_file();
    let loaded = match load_csv(&path, &LoadOptions::strict()) {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!(
                "data_pipeline: skipped, cannot load {}: {e}",
                path.display()
            );
            return;
        }
    };
    let rows = loaded.records.len();
    let id = format!("{source}-{rows}r");
    let mut group = c.benchmark_group("data_pipeline");
    group.throughput(Throughput::Elements(rows as u64));

    group.bench_function(BenchmarkId::new("load", &id), |b| {
        b.iter(|| {
            load_csv(black_box(&path), &LoadOptions::strict())
                .map(|l| l.records.len())
                .ok()
        })
    });
    group.bench_function(BenchmarkId::new("validate", &id), |b| {
        b.iter(|| ValidationReport::from_loaded(black_box(&loaded)))
    });
    for (name, config) in [
        ("standard", FeatureConfig::standard()),
        ("default", FeatureConfig::default()),
    ] {
        let pipeline = FeaturePipeline::new(config);
        group.bench_function(
            BenchmarkId::new(format!("fit_transform_{name}"), &id),
            |b| {
                b.iter(|| {
                    pipeline
                        .fit(black_box(&loaded.records))
                        .and_then(|f| f.dataset(&loaded.records))
                })
            },
        );
        // The serving-side half: a fitted pipeline applied to a batch.
        if let Ok(fitted) = pipeline.fit(&loaded.records) {
            group.bench_function(BenchmarkId::new(format!("transform_{name}"), &id), |b| {
                b.iter(|| fitted.transform(black_box(&loaded.records)))
            });
        }
    }
    group.bench_function(BenchmarkId::new("load_validate_featurize", &id), |b| {
        b.iter(|| {
            let loaded = load_csv(black_box(&path), &LoadOptions::strict())?;
            let report = ValidationReport::from_loaded(&loaded);
            let data = FeaturePipeline::standard()
                .fit(&loaded.records)
                .and_then(|f| f.dataset(&loaded.records))
                .map_err(|e| e.to_string())?;
            Ok::<_, Box<dyn std::error::Error>>((report, data))
        })
    });
    group.finish();
}

criterion_group!(benches, data_pipeline);
criterion_main!(benches);
