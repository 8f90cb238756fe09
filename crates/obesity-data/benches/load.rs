//! The cost of each stage of obesity-data on a 2,111-row file: load (parse + fingerprint),
//! the fingerprint alone, the validation report, writing, and generating.
//!
//! Uses the real UCI file when `OBESITY_UCI_CSV` is set, else the committed synthetic
//! fixture. Run with `cargo bench -p obesity-data --bench load`.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use obesity_data::{Fingerprint, LoadOptions, ValidationReport, load_csv_bytes, synth, write_csv};

fn data() -> (Vec<u8>, &'static str) {
    let (path, source) = match std::env::var_os("OBESITY_UCI_CSV") {
        Some(p) => (PathBuf::from(p), "uci"),
        None => (
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/obesity_synthetic.csv"),
            "synthetic",
        ),
    };
    match std::fs::read(&path) {
        Ok(bytes) => (bytes, source),
        Err(e) => {
            eprintln!(
                "load bench: cannot read {}: {e}; using generated data",
                path.display()
            );
            let mut bytes = Vec::new();
            let _ = write_csv(&synth::generate(2_111, 42), &mut bytes);
            (bytes, "generated")
        }
    }
}

fn stages(c: &mut Criterion) {
    let (bytes, source) = data();
    let Ok(loaded) = load_csv_bytes(source, &bytes, &LoadOptions::strict()) else {
        eprintln!("load bench: the data does not load strictly; skipped");
        return;
    };
    let rows = loaded.records.len();
    let id = format!("{source}-{rows}r");
    let mut group = c.benchmark_group("obesity_data");
    group.throughput(Throughput::Elements(rows as u64));
    group.bench_function(BenchmarkId::new("load_csv_bytes", &id), |b| {
        b.iter(|| {
            load_csv_bytes(source, black_box(&bytes), &LoadOptions::strict())
                .map(|l| l.records.len())
        })
    });
    group.bench_function(BenchmarkId::new("fingerprint", &id), |b| {
        b.iter(|| Fingerprint::new(black_box(&loaded.records), black_box(&bytes)))
    });
    group.bench_function(BenchmarkId::new("validation_report", &id), |b| {
        b.iter(|| ValidationReport::from_loaded(black_box(&loaded)))
    });
    group.bench_function(BenchmarkId::new("write_csv", &id), |b| {
        let mut out = Vec::with_capacity(bytes.len());
        b.iter(|| {
            out.clear();
            write_csv(black_box(&loaded.records), &mut out).map(|()| out.len())
        })
    });
    group.bench_function(
        BenchmarkId::new("synth_generate", format!("{rows}r")),
        |b| b.iter(|| synth::generate(black_box(rows), 42)),
    );
    group.finish();
}

criterion_group!(benches, stages);
criterion_main!(benches);
