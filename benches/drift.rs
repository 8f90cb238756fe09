//! Drift detection: the whole-dataset report (16 features, Evidently's default tests) of a
//! 2,111-row reference against a 2,111-row batch, building the reference profile, and the
//! two-sample KS test alone at n = 12,000 (asymptotic, as `auto` picks above 10,000) and at
//! n = 2,111 (exact).
//!
//! Data: seeded synthetic records (`obesity_data::synth::generate`), the current batch from
//! another seed. No Rust crate offers a two-sample KS test with scipy's p-values to compare
//! against; docs/benchmarks.md ("Drift") puts these numbers next to scipy's on the same sizes.
//!
//! `cargo bench -p obesity-benches --bench drift`. Ids: `drift/<what>/<rows>r`; throughput in
//! rows.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use obesity_mlops::data::{feature_columns, synth};
use obesity_mlops::monitor::{DriftOptions, KsMethod, ReferenceProfile, ks_2samp};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Seeded normal draws (Box-Muller), so the inputs are the same on every run.
fn normal_sample(seed: u64, n: usize, mean: f64) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let (u1, u2): (f64, f64) = (rng.r#gen::<f64>().max(1e-300), rng.r#gen());
            mean + (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
        })
        .collect()
}

fn drift(c: &mut Criterion) {
    let mut group = c.benchmark_group("drift");
    let rows = 2_111;
    let reference = feature_columns(&synth::generate(rows, 42));
    let current = feature_columns(&synth::generate(rows, 43));
    let profile = match ReferenceProfile::from_columns(&reference) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("drift: skipped, cannot profile: {e}");
            return;
        }
    };
    let options = DriftOptions::default();
    group.throughput(Throughput::Elements(rows as u64));
    group.bench_with_input(
        BenchmarkId::new("profile_build", format!("{rows}r")),
        &reference,
        |b, r| b.iter(|| ReferenceProfile::from_columns(black_box(r))),
    );
    group.bench_with_input(
        BenchmarkId::new("report_default", format!("{rows}r")),
        &current,
        |b, cur| b.iter(|| profile.drift(black_box(cur), &options)),
    );
    // The same dataset with KS / chi-square / Z on every column (Evidently's choice for
    // references of at most 1,000 rows), to price the exact KS p-values.
    let ks_options = DriftOptions::default().ks_method(KsMethod::Auto);
    let small_ref = feature_columns(&synth::generate(1_000, 42));
    if let Ok(small_profile) = ReferenceProfile::from_columns(&small_ref) {
        group.bench_with_input(
            BenchmarkId::new("report_ks_chisquare_z", format!("1000r-vs-{rows}r")),
            &current,
            |b, cur| b.iter(|| small_profile.drift(black_box(cur), &ks_options)),
        );
    }

    for (n, method, name) in [
        (12_000usize, KsMethod::Auto, "ks_2samp_auto_asymp"),
        (12_000, KsMethod::Exact, "ks_2samp_exact"),
        (2_111, KsMethod::Auto, "ks_2samp_auto_exact"),
    ] {
        let a = normal_sample(1, n, 0.0);
        let b = normal_sample(2, n, 0.02);
        group.throughput(Throughput::Elements(2 * n as u64));
        group.bench_with_input(
            BenchmarkId::new(name, format!("{n}r")),
            &(a, b),
            |bench, (a, b)| bench.iter(|| ks_2samp(black_box(a), black_box(b), method)),
        );
    }
    group.finish();
}

criterion_group!(benches, drift);
criterion_main!(benches);
