//! Batch prediction (and the fit) on each instruction set this CPU runs, side by side.
//!
//! `cargo run --release -p obesity-forest --example predict_isa -- [repeats] [threads...]`
//! trains the bench's forest (OBESITY_UCI_CSV through the standard feature pipeline,
//! obesity-data's stratified 80% split with seed 42: 1,688 × 32, 100 trees, default
//! parameters) and predicts the bench's batch (the test split repeated 50 times, 21,150 rows)
//! and 21,150 distinct rows from obesity-data's synthetic generator, `repeats` times (20 by
//! default) per instruction set and thread count (1 and 2 by default), interleaved: each
//! repeat runs every instruction set once, so load on the machine hits all alike. Prints the
//! fastest and median time of each. The predictions of every instruction set are checked
//! equal, bit for bit, before any timing.
//!
//! `-- fit [repeats] [threads...]` times the fit the same way (forced with
//! `ForestParamsBuilder::isa`), and checks the models' bytes equal.
//!
//! `-- once ISA [batch|distinct] [times]` predicts once (or `times` times) on one instruction
//! set and exits: a target for `perf record` or `valgrind --tool=callgrind` (whose CPU has no
//! AVX-512), e.g.
//! `valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*predict_once*'
//! target/release/examples/predict_isa once avx2`.

use std::time::Instant;

use ndarray::{Array1, Array2, Axis};
use obesity_data::{LoadOptions, load_csv, stratified_split, target_indices};
use obesity_features::FeaturePipeline;
use obesity_forest::{Classifier, ForestParams, Isa, RandomForest};

struct Data {
    xtr: Array2<f32>,
    ytr: Array1<usize>,
    n_classes: usize,
    batch: Array2<f32>,
    distinct: Array2<f32>,
}

/// Exactly the bench's data (benches/forest.rs).
fn data() -> Result<Data, Box<dyn std::error::Error>> {
    let path = std::env::var("OBESITY_UCI_CSV").map_err(
        |_| "set OBESITY_UCI_CSV to the UCI CSV (ObesityDataSet_raw_and_data_sinthetic.csv)",
    )?;
    let records = load_csv(&path, &LoadOptions::strict())?.records;
    let labels = target_indices(&records)?;
    let (train, test) = stratified_split(&labels, 0.2, 42)?;
    let pick = |idx: &[usize]| idx.iter().map(|&i| records[i].clone()).collect::<Vec<_>>();
    let (tr, te) = (pick(&train), pick(&test));
    let pipeline = FeaturePipeline::standard().fit(&tr)?;
    let dtr = pipeline.dataset(&tr)?;
    let xe = pipeline.transform(&te)?;
    let views: Vec<_> = (0..50).map(|_| xe.view()).collect();
    let batch = ndarray::concatenate(Axis(0), &views)?;
    let distinct = pipeline.transform(&obesity_data::synth::generate(batch.nrows(), 7))?;
    Ok(Data {
        n_classes: dtr.class_names.len(),
        xtr: dtr.x,
        ytr: dtr.y,
        batch,
        distinct,
    })
}

fn pool(n: usize) -> Result<rayon::ThreadPool, rayon::ThreadPoolBuildError> {
    rayon::ThreadPoolBuilder::new().num_threads(n).build()
}

/// Fastest and median of `v` (milliseconds).
fn summary(v: &mut [f64]) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[0], v[v.len() / 2])
}

#[inline(never)]
fn predict_once(model: &RandomForest, x: &Array2<f32>) -> Array2<f32> {
    model.predict_proba(x.view()).expect("valid input")
}

fn load_line() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let d = data()?;
    let isas = Isa::supported();
    let fit_params = |isa: Isa, threads: usize| {
        ForestParams::builder()
            .isa(isa)
            .n_threads(Some(threads))
            .build()
    };
    if args.first().map(String::as_str) == Some("once") {
        let isa: Isa = args.get(1).map_or(Ok(Isa::detected()), |s| s.parse())?;
        let model = RandomForest::fit(
            &fit_params(isa, 1)?,
            d.xtr.view(),
            d.ytr.view(),
            d.n_classes,
        )?;
        let x = if args.get(2).map(String::as_str) == Some("distinct") {
            &d.distinct
        } else {
            &d.batch
        };
        let times: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1);
        let p = pool(1)?;
        let mut out = p.install(|| predict_once(&model, x));
        for _ in 1..times {
            out = p.install(|| predict_once(&model, x));
        }
        println!("{isa}: {} rows, sum {}", out.nrows(), out.sum());
        return Ok(());
    }
    let fit = args.first().map(String::as_str) == Some("fit");
    let rest = if fit { &args[1..] } else { &args[..] };
    let repeats: usize = rest.first().and_then(|s| s.parse().ok()).unwrap_or(20);
    let mut threads: Vec<usize> = rest.iter().skip(1).filter_map(|s| s.parse().ok()).collect();
    if threads.is_empty() {
        threads = vec![1, 2];
    }
    println!("load average before: {}", load_line());
    if fit {
        let mut bytes = None;
        let mut times = vec![vec![Vec::new(); isas.len()]; threads.len()];
        for _ in 0..repeats {
            for (ti, &t) in threads.iter().enumerate() {
                for (ii, &isa) in isas.iter().enumerate() {
                    let params = fit_params(isa, t)?;
                    let start = Instant::now();
                    let m = RandomForest::fit(&params, d.xtr.view(), d.ytr.view(), d.n_classes)?;
                    times[ti][ii].push(start.elapsed().as_secs_f64() * 1e3);
                    let b = m.to_bytes()?;
                    match &bytes {
                        None => bytes = Some(b),
                        Some(prev) => assert_eq!(prev, &b, "{isa} fits other bytes"),
                    }
                }
            }
        }
        for (ti, &t) in threads.iter().enumerate() {
            for (ii, &isa) in isas.iter().enumerate() {
                let (best, median) = summary(&mut times[ti][ii]);
                println!(
                    "fit {}x{} {t} thread(s) {isa:>8}: fastest {best:.2} ms, median {median:.2} ms",
                    d.xtr.nrows(),
                    d.xtr.ncols()
                );
            }
        }
        println!("load average after: {}", load_line());
        return Ok(());
    }
    let model = RandomForest::fit(
        &ForestParams::default(),
        d.xtr.view(),
        d.ytr.view(),
        d.n_classes,
    )?;
    let models: Vec<RandomForest> = isas
        .iter()
        .map(|&isa| model.clone().with_isa(isa))
        .collect::<Result<_, _>>()?;
    let batches = [("batch", &d.batch), ("distinct", &d.distinct)];
    for (name, x) in batches {
        let want = model.predict_proba_row_major(x.view())?;
        for m in &models {
            assert!(
                m.predict_proba(x.view())? == want,
                "{}: {name} differs from the row kernel",
                m.isa()
            );
        }
    }
    let pools: Vec<rayon::ThreadPool> =
        threads.iter().map(|&t| pool(t)).collect::<Result<_, _>>()?;
    // times[batch][threads][isa]
    let mut times = vec![vec![vec![Vec::new(); isas.len()]; threads.len()]; batches.len()];
    for _ in 0..repeats {
        for (bi, (_, x)) in batches.iter().enumerate() {
            for (ti, p) in pools.iter().enumerate() {
                for (ii, m) in models.iter().enumerate() {
                    let start = Instant::now();
                    p.install(|| predict_once(m, x));
                    times[bi][ti][ii].push(start.elapsed().as_secs_f64() * 1e3);
                }
            }
        }
    }
    for (bi, (name, x)) in batches.iter().enumerate() {
        for (ti, &t) in threads.iter().enumerate() {
            for (ii, &isa) in isas.iter().enumerate() {
                let (best, median) = summary(&mut times[bi][ti][ii]);
                println!(
                    "predict_proba {name} {} rows {t} thread(s) {isa:>8}: fastest {best:.2} ms, median {median:.2} ms",
                    x.nrows()
                );
            }
        }
    }
    println!("load average after: {}", load_line());
    Ok(())
}
