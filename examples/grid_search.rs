//! Runs the original Python project's random-forest grid search on the UCI obesity data and prints how long it
//! took and what won.
//!
//! ```text
//! OBESITY_UCI_CSV=path/to/ObesityDataSet_raw_and_data_sinthetic.csv \
//!     cargo run --release --example grid_search [-- --json results.json]
//! ```
//!
//! 216 candidates (n_estimators {100, 200, 300} x max_depth {10, 15, 20, None} x
//! min_samples_split {2, 5, 10} x min_samples_leaf {1, 2, 4} x max_features {sqrt, log2})
//! x 5 stratified folds on the training split (80%, seed 42) of the standard feature
//! pipeline, scored by f1_macro; the best is refitted on the whole training split and
//! scored once on the held-out test split. benches/sklearn_grid.py runs scikit-learn's
//! GridSearchCV on the same grid for comparison.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use obesity_mlops::data::{LoadOptions, load_csv, stratified_split, target_indices};
use obesity_mlops::eval::{
    ClassificationReport, GridSearch, Scorer, ZeroDivision, forest_factory, stratified_folds,
};
use obesity_mlops::features::FeaturePipeline;
use obesity_mlops::forest::ForestParams;

/// Grid search of the random forest on the UCI obesity data.
#[derive(Debug, Parser)]
#[command(name = "grid_search")]
struct Args {
    /// CSV to search on. Default: $OBESITY_DATA, else $OBESITY_UCI_CSV, else the synthetic
    /// fixture (as every example).
    #[arg(long, env = "OBESITY_DATA")]
    data: Option<PathBuf>,
    /// Number of stratified folds.
    #[arg(long, default_value_t = 5)]
    folds: usize,
    /// Seed of the split, the folds and every forest.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Scorer that ranks candidates (scikit-learn name).
    #[arg(long, default_value = "f1_macro")]
    scoring: String,
    /// Let every forest use rayon's whole pool instead of one thread each.
    #[arg(long)]
    parallel_forests: bool,
    /// Only the 18 candidates with n_estimators=100 and max_depth=10 (as
    /// `benches/sklearn_grid.py --quick`).
    #[arg(long)]
    quick: bool,
    /// Write the full results table as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let path = match args
        .data
        .or_else(|| std::env::var_os("OBESITY_UCI_CSV").map(PathBuf::from))
    {
        Some(p) => p,
        None => obesity_mlops::pipeline::default_data_path(),
    };
    println!("data: {}", path.display());
    let loaded = load_csv(&path, &LoadOptions::strict())?;
    let labels = target_indices(&loaded.records)?;
    let (train_idx, test_idx) = stratified_split(&labels, 0.2, args.seed)?;
    let pick = |idx: &[usize]| {
        idx.iter()
            .map(|&i| loaded.records[i].clone())
            .collect::<Vec<_>>()
    };
    let (train_rec, test_rec) = (pick(&train_idx), pick(&test_idx));
    let pipeline = FeaturePipeline::standard().fit(&train_rec)?;
    let train = pipeline.dataset(&train_rec)?;
    let test = pipeline.dataset(&test_rec)?;
    let folds = stratified_folds(&train, args.folds, args.seed)?;

    let threads = if args.parallel_forests { None } else { Some(1) };
    let base = ForestParams::builder().seed(args.seed).n_threads(threads);
    let grid = if args.quick {
        obesity_mlops::grid::obesity_forest_grid()
            .add("n_estimators", [100])
            .add("max_depth", [10])
    } else {
        obesity_mlops::grid::obesity_forest_grid()
    };
    let n_candidates = grid.len();
    println!(
        "grid search: {n_candidates} candidates x {} folds = {} fits on {} training rows x {} features, {} rayon threads",
        args.folds,
        n_candidates * args.folds,
        train.n_samples(),
        train.n_features(),
        rayon::current_num_threads()
    );
    let start = Instant::now();
    let out = GridSearch::new(forest_factory(base), grid)
        .scoring(Scorer::from_name(&args.scoring)?)
        .fit(&train, &folds)?;
    let total = start.elapsed().as_secs_f64();
    let r = &out.results;
    println!(
        "search: {:.2} s (CV fits and scoring), {total:.2} s including the refit",
        r.elapsed_seconds
    );
    println!(
        "best {}: {:.4} (+/- {:.4})",
        r.scoring,
        r.best_score(),
        r.candidates[r.best_index].score.std
    );
    println!("best params: {}", r.best_params());
    println!("\ntop 10:\n{}", r.to_table(10));
    if let Some(model) = &out.best_estimator {
        let pred = model.predict(test.x.view())?.to_vec();
        let report = ClassificationReport::new(
            &test.y.to_vec(),
            &pred,
            &test.class_names,
            ZeroDivision::Warn,
        )?;
        println!("held-out test split ({} rows):\n{report}", test.n_samples());
    }
    if let Some(json) = args.json {
        std::fs::write(&json, serde_json::to_string_pretty(r)?)?;
        println!("results written to {}", json.display());
    }
    Ok(())
}
