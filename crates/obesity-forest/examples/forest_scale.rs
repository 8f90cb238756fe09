//! How the random forest's fit cost and memory grow with the number of rows.
//!
//! `cargo run --release -p obesity-forest --example forest_scale -- 100000 [noise] [oob]` generates
//! 100,000 synthetic rows × 32 features (7 classes by a BMI-like score, as the obesity data,
//! plus `noise` × uniform(-1, 1) on the score before thresholding; default 0, because label
//! noise makes fully grown trees grow linearly with the rows), fits 100 trees with
//! the default parameters and prints fit time, peak resident memory (VmHWM from
//! /proc/self/status, so run one size per process), node counts and bytes per node.
//! `-- uci 20` instead fits the bench's training matrix (OBESITY_UCI_CSV through the standard
//! feature pipeline, stratified 80% with seed 42: 1,688 × 32) 20 times, printing the fastest
//! and median fit, and `-- uci-predict 20 [chunk]` trains on it and predicts, 20 times each on
//! one thread and interleaved: the bench's batch (the test split repeated 50 times, 21,150
//! rows) whole, the same batch in chunks of `chunk` rows (500 by default, which take the
//! kernels for smaller batches), and 21,150 distinct rows from obesity-data's synthetic
//! generator (nothing repeated for any kernel to profit from). The synthetic sizes also
//! print the best of five `predict_proba` calls on the 10,000 held-out rows.

use std::time::Instant;

use ndarray::{Array1, Array2};
use obesity_data::{LoadOptions, load_csv, stratified_split, target_indices};
use obesity_features::FeaturePipeline;
use obesity_forest::{Classifier, ForestParams, RandomForest};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn synthetic(n: usize, seed: u64, noise: f32) -> (Array2<f32>, Array1<usize>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
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
        let noisy = bmi + noise * rng.gen_range(-1.0f32..1.0);
        y[r] = [18.5f32, 25.0, 27.5, 30.0, 35.0, 40.0]
            .iter()
            .filter(|&&t| noisy > t)
            .count();
    }
    (x, y)
}

/// `forest_scale uci-predict N CHUNK`: the chunk size of the second timing.
fn args_small() -> usize {
    std::env::args()
        .nth(3)
        .and_then(|s| s.parse().ok())
        .unwrap_or(500)
}

fn vm_hwm_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn uci(repeats: usize, predict: bool) -> Result<(), Box<dyn std::error::Error>> {
    // Exactly the bench's data (benches/forest.rs): the standard feature pipeline fitted on
    // obesity-data's stratified 80/20 split with seed 42, so a profile here is of the trees
    // the bench grows.
    let path = std::env::var("OBESITY_UCI_CSV")?;
    let records = load_csv(&path, &LoadOptions::strict())?.records;
    let labels = target_indices(&records)?;
    let (train, test) = stratified_split(&labels, 0.2, 42)?;
    let pick = |idx: &[usize]| idx.iter().map(|&i| records[i].clone()).collect::<Vec<_>>();
    let (tr, te) = (pick(&train), pick(&test));
    let pipeline = FeaturePipeline::standard().fit(&tr)?;
    let dtr = pipeline.dataset(&tr)?;
    let (xt, yt) = (dtr.x, dtr.y);
    let classes = dtr.class_names;
    let params = ForestParams::builder().n_threads(Some(1)).build()?;
    if predict {
        // Predict the test split repeated 50 times (the bench's batch).
        let model = RandomForest::fit(&params, xt.view(), yt.view(), classes.len())?;
        let xe = pipeline.transform(&te)?;
        let views: Vec<_> = (0..50).map(|_| xe.view()).collect();
        let batch = ndarray::concatenate(ndarray::Axis(0), &views)?;
        // 21,150 distinct rows: the project's synthetic generator through the same pipeline
        // (no repetition for any kernel to profit from).
        let distinct = pipeline.transform(&obesity_data::synth::generate(batch.nrows(), 7))?;
        let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
        // Chunks of `small` rows (500 by default: below the bitset kernel's 512) measure the
        // smaller-batch kernels on the same rows, and locate crossovers.
        let small: usize = args_small();
        let mut best = [f64::MAX; 3];
        for _ in 0..repeats {
            for (i, (x, chunk)) in [
                (&batch, batch.nrows()),
                (&batch, small),
                (&distinct, batch.nrows()),
            ]
            .into_iter()
            .enumerate()
            {
                let t = Instant::now();
                for part in x.axis_chunks_iter(ndarray::Axis(0), chunk) {
                    pool.install(|| model.predict_proba(part))?;
                }
                best[i] = best[i].min(t.elapsed().as_secs_f64() * 1e3);
            }
        }
        let stats = model.tree_stats();
        let nodes: usize = stats.iter().map(|s| s.n_nodes).sum();
        println!(
            "{repeats} predictions of {} rows, 1 thread: whole batch {:.2} ms, in chunks of {small} \
             rows {:.2} ms, distinct rows {:.2} ms (best of each); {} nodes/tree",
            batch.nrows(),
            best[0],
            best[1],
            best[2],
            nodes / stats.len()
        );
        return Ok(());
    }
    let mut times = Vec::with_capacity(repeats);
    let mut fingerprint = 0u64;
    for i in 0..repeats {
        let t = Instant::now();
        let model = RandomForest::fit(&params, xt.view(), yt.view(), classes.len())?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
        // FNV-1a of the model file: a refactor that must not change the trees keeps it.
        if i == 0 {
            fingerprint = model
                .to_bytes()?
                .iter()
                .fold(0xcbf2_9ce4_8422_2325, |h, &b| {
                    (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
                });
        }
    }
    times.sort_by(f64::total_cmp);
    println!(
        "{} fits of {}x{}: {:.2} ms min, {:.2} ms median (model fingerprint {fingerprint:016x})",
        repeats,
        xt.nrows(),
        xt.ncols(),
        times.first().copied().unwrap_or(0.0),
        times.get(times.len() / 2).copied().unwrap_or(0.0)
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(mode @ ("uci" | "uci-predict")) = args.first().map(String::as_str) {
        let repeats = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(20);
        return uci(repeats, mode == "uci-predict");
    }
    let n: usize = args.first().and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let noise: f32 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(0.0);
    let (x, y) = synthetic(n, 1, noise);
    let (xt, yt) = synthetic(10_000, 2, noise);
    let before = vm_hwm_kib();
    // The default forest (no out-of-bag score: it is opt-in, as in scikit-learn); a third
    // argument `oob` adds it, to time that pass.
    let oob = args.get(2).is_some_and(|a| a == "oob");
    let params = ForestParams::builder().oob_score(oob).build()?;
    let t = Instant::now();
    let model = RandomForest::fit(&params, x.view(), y.view(), 7)?;
    let fit_s = t.elapsed().as_secs_f64();
    let peak = vm_hwm_kib();
    let pred = model.predict(xt.view())?;
    let mut best = f64::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        model.predict_proba(xt.view())?;
        best = best.min(t.elapsed().as_secs_f64() * 1e3);
    }
    println!(
        "predict_proba of {} rows: {best:.2} ms (best of 5)",
        xt.nrows()
    );
    let acc = pred.iter().zip(&yt).filter(|(a, b)| a == b).count() as f64 / yt.len() as f64;
    let stats = model.tree_stats();
    let n_nodes = model.n_nodes();
    let n_leaves: usize = stats.iter().map(|s| s.n_leaves).sum();
    let n_splits = n_nodes - n_leaves;
    let max_depth = stats.iter().map(|s| s.depth).max().unwrap_or(0);
    let hot = n_splits * 16 + n_leaves * 7 * 4;
    let file = model.to_bytes()?.len();
    println!(
        "rows={n} noise={noise} threads={} fit={fit_s:.3}s peak_rss={}MiB (data alone {}MiB) nodes={n_nodes} \
         leaves={n_leaves} max_depth={max_depth} hot_bytes/node={:.1} file_bytes/node={:.1} \
         test_acc={acc:.4} oob={:?}",
        rayon::current_num_threads(),
        peak.unwrap_or(0) / 1024,
        before.unwrap_or(0) / 1024,
        hot as f64 / n_nodes as f64,
        file as f64 / n_nodes as f64,
        model.oob_score(),
    );
    Ok(())
}
