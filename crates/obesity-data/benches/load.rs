//! The cost of each stage of obesity-data on a 2,111-row file: load (parse + fingerprint),
//! the fingerprint alone, the validation report, writing, and generating.
//!
//! Uses the real UCI file when `OBESITY_UCI_CSV` is set, else the committed synthetic
//! fixture. Run with `cargo bench -p obesity-data --bench load`.
//!
//! The `worst_case` group times crafted hostile inputs of about 2 MB each (issue 12: these
//! once took minutes because finding a bad byte searched the rest of the file), next to the
//! floor for the same bytes: the `csv` crate reading them into one reused `ByteRecord`.
//! Run it alone with `cargo bench -p obesity-data --bench load -- worst_case`.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use obesity_data::{Fingerprint, LoadOptions, ValidationReport, load_csv_bytes, synth, write_csv};

/// Size of each crafted worst-case input.
const WORST_CASE_BYTES: usize = 2 << 20;

const HEADER: &[u8] = b"Gender,Age,Height,Weight,family_history_with_overweight,FAVC,FCVC,NCP,CAEC,SMOKE,CH2O,SCC,FAF,TUE,CALC,MTRANS,NObeyesdad\n";
/// A good row up to (not including) its `MTRANS` field.
const ROW_HEAD: &[u8] = b"Male,23,1.8,77,yes,no,2,3,Sometimes,no,2,no,2,1,Frequently,";
const ROW: &[u8] = b"Male,23,1.8,77,yes,no,2,3,Sometimes,no,2,no,2,1,Frequently,Public_Transportation,Normal_Weight\n";

/// The crafted inputs: `(name, bytes, options)`.
fn worst_cases() -> Vec<(&'static str, Vec<u8>, LoadOptions)> {
    let n = WORST_CASE_BYTES;
    // Lenient: every row's MTRANS is quoted, holds `""` and a non-UTF-8 byte, so the field
    // is not verbatim in the input.
    let mut quoted = HEADER.to_vec();
    while quoted.len() < n {
        quoted.extend_from_slice(ROW_HEAD);
        quoted.extend_from_slice(b"\"Autom\xF3vil \"\"x\"\"\",Normal_Weight\n");
    }
    // Strict: one line, an extra column of `a`s, then an MTRANS field of `a`s ending in a bad
    // byte (the old search compared the field at every offset of the line).
    let half = n / 2;
    let mut long_line = b"id,".to_vec();
    long_line.extend_from_slice(HEADER);
    long_line.extend(std::iter::repeat_n(b'a', half));
    long_line.push(b',');
    long_line.extend_from_slice(ROW_HEAD);
    long_line.extend(std::iter::repeat_n(b'a', half));
    long_line.extend_from_slice(b"\xF3,Normal_Weight\n");
    // Strict: one 2 MB numeric field (`0.000...1`, out of range).
    let mut big_field = HEADER.to_vec();
    big_field.extend_from_slice(b"Male,0.");
    big_field.extend(std::iter::repeat_n(b'0', n));
    big_field.extend_from_slice(&ROW[b"Male,23".len()..]);
    // Strict, valid: CR-only line endings, every line counted.
    let mut cr_only = HEADER.to_vec();
    while cr_only.len() < n {
        cr_only.extend_from_slice(ROW);
    }
    for b in &mut cr_only {
        if *b == b'\n' {
            *b = b'\r';
        }
    }
    vec![
        ("lenient_quoted_escapes", quoted, LoadOptions::lenient()),
        (
            "strict_long_line_bad_byte",
            long_line,
            LoadOptions::strict(),
        ),
        ("strict_huge_number", big_field, LoadOptions::strict()),
        ("strict_cr_only_valid", cr_only, LoadOptions::strict()),
    ]
}

fn worst_case(c: &mut Criterion) {
    let mut group = c.benchmark_group("worst_case");
    group.sample_size(10);
    for (name, bytes, options) in worst_cases() {
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function(BenchmarkId::new("load_csv_bytes", name), |b| {
            b.iter(|| match load_csv_bytes(name, black_box(&bytes), &options) {
                Ok(l) => l.records.len() + l.rejected.len(),
                Err(e) => e.to_string().len(),
            })
        });
        group.bench_function(BenchmarkId::new("csv_byte_records", name), |b| {
            b.iter(|| {
                let mut reader = csv::ReaderBuilder::new()
                    .has_headers(false)
                    .flexible(true)
                    .from_reader(black_box(bytes.as_slice()));
                let mut row = csv::ByteRecord::new();
                let mut fields = 0;
                while let Ok(true) = reader.read_byte_record(&mut row) {
                    fields += row.len();
                }
                fields
            })
        });
    }
    group.finish();
}

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

criterion_group!(benches, stages, worst_case);
criterion_main!(benches);
