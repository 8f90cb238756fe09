//! The schema-driven pipeline on a random table (ndarray-rand): fit and transform of 4
//! numeric columns, a derived ratio, an ordinal, an unordered categorical and a binary
//! column, with and without standard scaling. Run with
//! `cargo bench -p obesity-features --bench table`.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ndarray::{Array2, Axis};
use ndarray_rand::RandomExt;
use ndarray_rand::rand::SeedableRng;
use ndarray_rand::rand::rngs::StdRng;
use ndarray_rand::rand_distr::Uniform;
use obesity_data::{ColumnData, ColumnSpec, Schema, Table};
use obesity_features::{Derived, Scaling, TableConfig, TablePipeline};

/// A random table of `rows` rows, built outside the timed closures.
fn random_table(rows: usize, seed: u64) -> Option<Table> {
    let schema = Schema::new(vec![
        ColumnSpec::numeric("a", "m", 0.0, 10.0),
        ColumnSpec::numeric("b", "m", 0.0, 10.0),
        ColumnSpec::numeric("c", "kg", 0.0, 10.0),
        ColumnSpec::numeric("d", "kg", 0.0, 10.0),
        ColumnSpec::ordinal("size", ["S", "M", "L"]),
        ColumnSpec::categorical("colour", ["red", "green", "blue", "black"]),
        ColumnSpec::binary("coated"),
        ColumnSpec::categorical("class", ["x", "y", "z"]).target(),
    ])
    .ok()?;
    let mut rng = StdRng::seed_from_u64(seed);
    let numbers: Array2<f64> = Array2::random_using((rows, 4), Uniform::new(0.5, 10.0), &mut rng);
    let codes: Array2<u32> = Array2::random_using((rows, 4), Uniform::new(0u32, 3), &mut rng);
    let numeric = |j: usize| ColumnData::Numeric(numbers.index_axis(Axis(1), j).to_vec());
    let coded = |j: usize, levels: u32| {
        ColumnData::Codes(
            codes
                .index_axis(Axis(1), j)
                .iter()
                .map(|c| c % levels)
                .collect(),
        )
    };
    Table::from_columns(
        schema,
        vec![
            numeric(0),
            numeric(1),
            numeric(2),
            numeric(3),
            coded(0, 3),
            coded(1, 4),
            coded(2, 2),
        ],
        codes
            .index_axis(Axis(1), 3)
            .iter()
            .map(|c| Some(c % 3))
            .collect(),
    )
    .ok()
}

fn table_pipeline(c: &mut Criterion) {
    let rows = 20_000;
    let Some(table) = random_table(rows, 42) else {
        return;
    };
    let mut group = c.benchmark_group("table_pipeline");
    group.throughput(Throughput::Elements(rows as u64));
    for scaling in [Scaling::None, Scaling::Standard] {
        let pipeline = TablePipeline::new(TableConfig {
            scaling,
            ..TableConfig::default()
        })
        .derive(Derived::new("a_over_c", ["a", "c"], |v| v[0] / v[1]));
        let id = format!("{scaling:?}-{rows}r");
        group.bench_function(BenchmarkId::new("fit", &id), |b| {
            b.iter(|| pipeline.fit(black_box(&table)).map(|f| f.n_features()))
        });
        let Ok(fitted) = pipeline.fit(&table) else {
            continue;
        };
        group.bench_function(BenchmarkId::new("transform", &id), |b| {
            b.iter(|| fitted.transform(black_box(&table)).map(|x| x.len()))
        });
    }
    group.finish();
}

criterion_group!(benches, table_pipeline);
criterion_main!(benches);
