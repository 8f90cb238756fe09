//! Random forest: fit and predict_proba against smartcore and linfa-ensemble on the same
//! matrix, in the same run (scikit-learn's figures come from benches/sklearn_forest.py).
//!
//! Data: the UCI table through the standard pipeline (one-hot of every categorical column,
//! BMI: 32 columns) when OBESITY_UCI_CSV is set, else fixtures/obesity_synthetic.csv if
//! present, else generated data of the same shape. Stratified 80/20 split, seed 42: the
//! 1,688-row training split is fitted; the prediction batch is the test split repeated 50
//! times (21,150 rows).
//!
//! Run: `cargo bench --bench forest` (`-- --quick` while iterating).

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use linfa::prelude::{Fit, Predict};
use ndarray::{Array1, Array2, Axis};
use obesity_forest::{Classifier, ForestParams, RandomForest};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use smartcore::ensemble::random_forest_classifier::{
    RandomForestClassifier, RandomForestClassifierParameters,
};
use smartcore::linalg::basic::matrix::DenseMatrix;

const NUMERIC: [&str; 8] = [
    "Age", "Height", "Weight", "FCVC", "NCP", "CH2O", "FAF", "TUE",
];
const CATEGORICAL: [&str; 8] = [
    "Gender",
    "family_history_with_overweight",
    "FAVC",
    "CAEC",
    "SMOKE",
    "SCC",
    "CALC",
    "MTRANS",
];

/// One-hot (sorted categories, as pandas.get_dummies) + numeric columns + BMI.
fn parse_csv(text: &str) -> Option<(Array2<f32>, Array1<usize>)> {
    let mut lines = text.lines().map(|l| l.trim_end_matches('\r'));
    let header: Vec<&str> = lines.next()?.split(',').collect();
    let rows: Vec<Vec<&str>> = lines
        .filter(|l| !l.is_empty())
        .map(|l| l.split(',').collect())
        .collect();
    let col = |name: &str| header.iter().position(|h| *h == name);
    let mut cats = Vec::new();
    for c in CATEGORICAL {
        let i = col(c)?;
        let mut v: Vec<&str> = rows.iter().filter_map(|r| r.get(i).copied()).collect();
        v.sort_unstable();
        v.dedup();
        cats.push((i, v));
    }
    cats.sort_by_key(|(i, _)| *i);
    let width = NUMERIC.len() + 1 + cats.iter().map(|(_, v)| v.len()).sum::<usize>();
    let target = col("NObeyesdad")?;
    let mut classes: Vec<&str> = rows.iter().filter_map(|r| r.get(target).copied()).collect();
    classes.sort_unstable();
    classes.dedup();
    let mut x = Array2::zeros((rows.len(), width));
    let mut y = Array1::zeros(rows.len());
    for (r, row) in rows.iter().enumerate() {
        let mut j = 0;
        for name in NUMERIC {
            x[[r, j]] = row.get(col(name)?)?.parse::<f32>().ok()?;
            j += 1;
        }
        x[[r, j]] = x[[r, 2]] / (x[[r, 1]] * x[[r, 1]]);
        j += 1;
        for (i, v) in &cats {
            let k = v.iter().position(|c| Some(c) == row.get(*i))?;
            x[[r, j + k]] = 1.0;
            j += v.len();
        }
        y[r] = classes.iter().position(|c| Some(c) == row.get(target))?;
    }
    Some((x, y))
}

/// 2,111 × 32 with an obesity-like structure: 7 classes by a noisy BMI, one-hot blocks.
fn generated() -> (Array2<f32>, Array1<usize>) {
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let n = 2111;
    let mut x = Array2::zeros((n, 32));
    let mut y = Array1::zeros(n);
    for r in 0..n {
        let h = rng.gen_range(1.45f32..1.98);
        let w = rng.gen_range(39.0f32..173.0);
        x[[r, 0]] = rng.gen_range(14.0f32..61.0);
        x[[r, 1]] = h;
        x[[r, 2]] = w;
        for j in 3..8 {
            x[[r, j]] = rng.gen_range(0.0f32..3.0);
        }
        let bmi = w / (h * h);
        x[[r, 8]] = bmi;
        let mut j = 9;
        for width in [2, 2, 2, 4, 2, 2, 4, 5] {
            x[[r, j + rng.gen_range(0..width)]] = 1.0;
            j += width;
        }
        let noisy = bmi + rng.gen_range(-1.0f32..1.0);
        y[r] = [18.5f32, 25.0, 27.5, 30.0, 35.0, 40.0]
            .iter()
            .filter(|&&t| noisy > t)
            .count();
    }
    (x, y)
}

fn load() -> (Array2<f32>, Array1<usize>, &'static str) {
    if let Ok(p) = std::env::var("OBESITY_UCI_CSV") {
        if let Some(d) = std::fs::read_to_string(&p).ok().and_then(|t| parse_csv(&t)) {
            return (d.0, d.1, "uci");
        }
    }
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/obesity_synthetic.csv"
    );
    if let Some(d) = std::fs::read_to_string(fixture)
        .ok()
        .and_then(|t| parse_csv(&t))
    {
        return (d.0, d.1, "fixture");
    }
    let d = generated();
    (d.0, d.1, "generated")
}

/// Stratified 80/20 split with a seeded per-class shuffle; `ceil(0.2 n)` test rows as
/// scikit-learn's `train_test_split`, the remainder after flooring going to the classes with
/// the largest fractional share.
fn split(y: &Array1<usize>) -> (Vec<usize>, Vec<usize>) {
    let k = y.iter().max().map_or(0, |m| m + 1);
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let groups: Vec<Vec<usize>> = (0..k)
        .map(|c| {
            let mut g: Vec<usize> = (0..y.len()).filter(|&i| y[i] == c).collect();
            for i in (1..g.len()).rev() {
                g.swap(i, rng.gen_range(0..=i));
            }
            g
        })
        .collect();
    let want = (y.len() as f64 * 0.2).ceil() as usize;
    let mut n_test: Vec<usize> = groups.iter().map(|g| g.len() / 5).collect();
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by_key(|&c| std::cmp::Reverse(groups[c].len() % 5));
    for &c in order
        .iter()
        .cycle()
        .take(want.saturating_sub(n_test.iter().sum()))
    {
        n_test[c] += 1;
    }
    let (mut tr, mut te) = (Vec::new(), Vec::new());
    for (g, &nt) in groups.iter().zip(&n_test) {
        te.extend_from_slice(&g[..nt]);
        tr.extend_from_slice(&g[nt..]);
    }
    tr.sort_unstable();
    te.sort_unstable();
    (tr, te)
}

struct Data {
    xtr: Array2<f32>,
    ytr: Array1<usize>,
    batch: Array2<f32>,
    n_classes: usize,
    source: &'static str,
}

fn data() -> Data {
    let (x, y, source) = load();
    let (tr, te) = split(&y);
    let xte = x.select(Axis(0), &te);
    let views: Vec<_> = (0..50).map(|_| xte.view()).collect();
    let batch = ndarray::concatenate(Axis(0), &views).unwrap_or_default();
    Data {
        xtr: x.select(Axis(0), &tr),
        ytr: y.select(Axis(0), &tr),
        batch,
        n_classes: y.iter().max().map_or(0, |m| m + 1),
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
