//! Random forest: fit and predict_proba against smartcore and linfa-ensemble on the same
//! matrix, in the same run (scikit-learn's figures come from benches/sklearn_forest.py).
//!
//! Data: the UCI table through obesity-features' standard pipeline (one-hot of every
//! categorical column, BMI: 32 columns) when OBESITY_UCI_CSV is set, else
//! fixtures/obesity_synthetic.csv, else `synth::generate(2111, 42)`. obesity-data's
//! stratified 80/20 split, seed 42: the training split (1,688 rows of the UCI table) is
//! fitted; the prediction batch is the test split repeated 50 times (21,150 rows).
//!
//! Every obesity-forest benchmark without an instruction set in its name runs the process
//! default (`OBESITY_FOREST_ISA`, else the widest the CPU has); the fit and the batch
//! predictions are also measured forced to each instruction set the CPU runs
//! (`Isa::supported()`; the others are left out), side by side: `obesity_forest_<isa>`
//! (portable, sse2, avx2, avx512), the bench's batch and the distinct rows
//! (`obesity_forest_distinct_<isa>`). Single rows and small batches run the same scalar
//! kernel on every instruction set, so they are measured once. benches/predict_rounds.sh and
//! benches/fit_rounds.sh interleave these with scikit-learn (docs/forest-kernels.md).
//!
//! Run: `cargo bench -p obesity-benches --bench forest` (`-- --quick` while iterating).

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use linfa::prelude::{Fit, Predict};
use ndarray::{Array1, Array2, Axis};
use obesity_data::{LoadOptions, ObesityRecord, load_csv, stratified_split, synth, target_indices};
use obesity_features::FeaturePipeline;
use obesity_forest::{Classifier, ForestParams, Isa, RandomForest};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use smartcore::ensemble::random_forest_classifier::{
    RandomForestClassifier, RandomForestClassifierParameters,
};
use smartcore::linalg::basic::matrix::DenseMatrix;

/// The records: the UCI CSV when OBESITY_UCI_CSV is set, else the committed synthetic fixture
/// (`synth::generate(2111, 42)`), else freshly generated records of the same size.
fn records() -> (Vec<ObesityRecord>, &'static str) {
    // A set variable that points at an unreadable file is a mistake worth stopping for:
    // silently benchmarking other data would mislabel every figure.
    if let Ok(p) = std::env::var("OBESITY_UCI_CSV") {
        match load_csv(&p, &LoadOptions::strict()) {
            Ok(l) => return (l.records, "uci"),
            Err(e) => panic!("OBESITY_UCI_CSV is set but cannot be loaded: {e}"),
        }
    }
    // CARGO_MANIFEST_DIR is benches/ (the obesity-benches package); the fixture is the root's.
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/obesity_synthetic.csv"
    );
    if let Ok(l) = load_csv(fixture, &LoadOptions::strict()) {
        return (l.records, "fixture");
    }
    (synth::generate(2111, 42), "generated")
}

struct Data {
    xtr: Array2<f32>,
    ytr: Array1<usize>,
    batch: Array2<f32>,
    /// As many distinct rows as `batch` has, from obesity-data's synthetic generator through
    /// the same pipeline: nothing repeated for a kernel to profit from.
    distinct: Array2<f32>,
    n_classes: usize,
    source: &'static str,
}

/// Standard pipeline fitted on the stratified 80/20 training split (seed 42).
fn data() -> Data {
    let (records, source) = records();
    let labels = target_indices(&records).expect("labelled records");
    let (train, test) = stratified_split(&labels, 0.2, 42).expect("split");
    let pick = |idx: &[usize]| idx.iter().map(|&i| records[i].clone()).collect::<Vec<_>>();
    let (tr, te) = (pick(&train), pick(&test));
    let pipeline = FeaturePipeline::standard().fit(&tr).expect("pipeline");
    let dtr = pipeline.dataset(&tr).expect("train matrix");
    let xte = pipeline.transform(&te).expect("test matrix");
    let views: Vec<_> = (0..50).map(|_| xte.view()).collect();
    let batch = ndarray::concatenate(Axis(0), &views).expect("batch");
    let distinct = pipeline
        .transform(&synth::generate(batch.nrows(), 7))
        .expect("distinct matrix");
    Data {
        n_classes: dtr.class_names.len(),
        xtr: dtr.x,
        ytr: dtr.y,
        batch,
        distinct,
        source,
    }
}

fn pool(n: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build()
        .unwrap()
}

fn smartcore_params() -> RandomForestClassifierParameters {
    RandomForestClassifierParameters::default()
        .with_n_trees(100)
        .with_seed(0)
}

fn to_dense(x: &Array2<f32>) -> DenseMatrix<f32> {
    let rows: Vec<Vec<f32>> = x.rows().into_iter().map(|r| r.to_vec()).collect();
    DenseMatrix::from_2d_vec(&rows).unwrap()
}

fn linfa_params() -> linfa_ensemble::RandomForestParams<f32, usize, ChaCha8Rng> {
    linfa_ensemble::RandomForestParams::new_fixed_rng(
        linfa_trees::DecisionTree::params(),
        ChaCha8Rng::seed_from_u64(0),
    )
    .ensemble_size(100)
    .bootstrap_proportion(1.0)
    .feature_proportion((32f64).sqrt().floor() / 32.0)
}

fn fit(c: &mut Criterion) {
    let d = data();
    let n = d.xtr.nrows();
    eprintln!(
        "forest bench data: {} ({} x {})",
        d.source,
        n,
        d.xtr.ncols()
    );
    let mut g = c.benchmark_group("forest_fit");
    g.throughput(Throughput::Elements(n as u64));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(4));
    for threads in [1usize, 2] {
        let params = ForestParams::builder()
            .n_threads(Some(threads))
            .build()
            .unwrap();
        let id = BenchmarkId::new("obesity_forest", format!("100t-sqrt-{n}r-{threads}thr"));
        g.bench_function(id, |b| {
            b.iter(|| RandomForest::fit(&params, d.xtr.view(), d.ytr.view(), d.n_classes).unwrap())
        });
    }
    // The same fit forced to each instruction set (the SSE2 gini scans, or not).
    for isa in Isa::supported() {
        for threads in [1usize, 2] {
            let params = ForestParams::builder()
                .n_threads(Some(threads))
                .isa(isa)
                .build()
                .unwrap();
            let id = BenchmarkId::new(
                format!("obesity_forest_{isa}"),
                format!("100t-sqrt-{n}r-{threads}thr"),
            );
            g.bench_function(id, |b| {
                b.iter(|| {
                    RandomForest::fit(&params, d.xtr.view(), d.ytr.view(), d.n_classes).unwrap()
                })
            });
        }
    }
    let xs = to_dense(&d.xtr);
    let ys: Vec<usize> = d.ytr.to_vec();
    g.bench_function(
        BenchmarkId::new("smartcore", format!("100t-sqrt-{n}r-1thr")),
        |b| b.iter(|| RandomForestClassifier::fit(&xs, &ys, smartcore_params()).unwrap()),
    );
    let ds = linfa::Dataset::new(d.xtr.clone(), d.ytr.clone());
    g.bench_function(
        BenchmarkId::new("linfa_ensemble", format!("100t-sqrt-{n}r-1thr")),
        |b| b.iter(|| linfa_params().fit(&ds).unwrap()),
    );
    g.finish();
}

fn predict(c: &mut Criterion) {
    let d = data();
    let rows = d.batch.nrows();
    let model = RandomForest::fit(
        &ForestParams::default(),
        d.xtr.view(),
        d.ytr.view(),
        d.n_classes,
    )
    .unwrap();
    let mut g = c.benchmark_group("forest_predict_batch");
    g.throughput(Throughput::Elements(rows as u64));
    g.sample_size(20);
    for threads in [1usize, 2] {
        let p = pool(threads);
        let id = BenchmarkId::new("obesity_forest", format!("100t-{rows}r-{threads}thr"));
        g.bench_function(id, |b| {
            b.iter(|| p.install(|| model.predict_proba(d.batch.view()).unwrap()))
        });
    }
    // The same rows shuffled (seeded): the repeated order lets a branchy walk's branch
    // predictor learn each tree's 423-row pattern (scikit-learn gains 3× from it).
    let mut order: Vec<usize> = (0..rows).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    for i in (1..order.len()).rev() {
        order.swap(i, rand::Rng::gen_range(&mut rng, 0..=i));
    }
    let shuffled = d.batch.select(Axis(0), &order);
    for threads in [1usize, 2] {
        let p = pool(threads);
        let id = BenchmarkId::new(
            "obesity_forest_shuffled",
            format!("100t-{rows}r-{threads}thr"),
        );
        g.bench_function(id, |b| {
            b.iter(|| p.install(|| model.predict_proba(shuffled.view()).unwrap()))
        });
    }
    for threads in [1usize, 2] {
        let p = pool(threads);
        let id = BenchmarkId::new(
            "obesity_forest_distinct",
            format!("100t-{rows}r-{threads}thr"),
        );
        g.bench_function(id, |b| {
            b.iter(|| p.install(|| model.predict_proba(d.distinct.view()).unwrap()))
        });
    }
    // Each instruction set side by side, on the bench's batch and on the distinct rows.
    for isa in Isa::supported() {
        let forced = model.clone().with_isa(isa).unwrap();
        for (name, x) in [("", &d.batch), ("_distinct", &d.distinct)] {
            for threads in [1usize, 2] {
                let p = pool(threads);
                let id = BenchmarkId::new(
                    format!("obesity_forest{name}_{isa}"),
                    format!("100t-{rows}r-{threads}thr"),
                );
                g.bench_function(id, |b| {
                    b.iter(|| p.install(|| forced.predict_proba(x.view()).unwrap()))
                });
            }
        }
    }
    let id = BenchmarkId::new("obesity_forest_row_major", format!("100t-{rows}r-1thr"));
    g.bench_function(id, |b| {
        b.iter(|| model.predict_proba_row_major(d.batch.view()).unwrap())
    });
    let xs = to_dense(&d.xtr);
    let ys: Vec<usize> = d.ytr.to_vec();
    let sc = RandomForestClassifier::fit(&xs, &ys, smartcore_params()).unwrap();
    let batch_dense = to_dense(&d.batch);
    g.sample_size(10);
    g.bench_function(
        BenchmarkId::new("smartcore_predict", format!("100t-{rows}r-1thr")),
        |b| b.iter(|| sc.predict(&batch_dense).unwrap()),
    );
    let lf = linfa_params()
        .fit(&linfa::Dataset::new(d.xtr.clone(), d.ytr.clone()))
        .unwrap();
    g.bench_function(
        BenchmarkId::new("linfa_ensemble_predict", format!("100t-{rows}r-1thr")),
        |b| b.iter(|| lf.predict(&d.batch)),
    );
    g.finish();

    let mut g = c.benchmark_group("forest_predict_row");
    g.throughput(Throughput::Elements(1));
    let row: Vec<f32> = d.batch.row(0).to_vec();
    let mut out = vec![0.0f32; d.n_classes];
    g.bench_function(BenchmarkId::new("obesity_forest_row", "100t-1r"), |b| {
        b.iter(|| model.predict_proba_row(black_box(&row), &mut out).unwrap())
    });
    let one = d.batch.select(Axis(0), &[0]);
    g.bench_function(
        BenchmarkId::new("obesity_forest_predict_proba", "100t-1r"),
        |b| b.iter(|| model.predict_proba(black_box(one.view())).unwrap()),
    );
    let one_dense = to_dense(&one);
    g.bench_function(BenchmarkId::new("smartcore_predict", "100t-1r"), |b| {
        b.iter(|| sc.predict(black_box(&one_dense)).unwrap())
    });
    g.bench_function(BenchmarkId::new("linfa_ensemble_predict", "100t-1r"), |b| {
        b.iter(|| lf.predict(black_box(&one)))
    });
    g.finish();
}

criterion_group!(benches, fit, predict);
criterion_main!(benches);
