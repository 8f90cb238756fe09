//! An A/B experiment between two registered model versions on simulated traffic.
//!
//! 1. Trains two random forests (a deliberately small one, v1, the champion; a full one,
//!    v2, the challenger) and registers both in a local MLflow-layout store.
//! 2. Loads them back from the registry by alias, as a serving replica would.
//! 3. Runs an experiment "rf-v2-vs-v1": users are assigned by hashing, adults only (a
//!    segment rule on `Age`), 50/50; every held-out row is one user's request, answered by
//!    the assigned version and logged to a performance monitor; the true label arrives later
//!    and becomes the user's outcome (correct or not: accuracy as a conversion metric).
//! 4. Prints the analysis (z-test, chi-square, interval, effect size, recommendation) and
//!    the per-version monitor summaries.
//!
//! Data: the UCI file when `OBESITY_UCI_CSV` points to it, otherwise 3,000 synthetic rows.
//!
//! ```text
//! cargo run --release --example ab_test [-- --store DIR]
//! ```
//!
//! Without `--store` the registry lives in a temporary folder that is removed at the end.

use std::collections::BTreeMap;
use std::error::Error;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use chrono::{Duration, Utc};
use obesity_mlops::data::{self, LoadOptions, ObesityRecord};
use obesity_mlops::features::FeaturePipeline;
use obesity_mlops::forest::{Classifier, ForestParams, RandomForest};
use obesity_mlops::monitor::{
    AbTest, AbTestConfig, FeatureValue, ManualClock, Outcome, PerformanceMonitor, PredictionBatch,
    Recommendation, SegmentRule, Variant,
};
use obesity_mlops::registry::{LocalStore, NewVersion, Registry, Store, Tracker};

const MODEL: &str = "obesity-rf";

/// An A/B experiment between two registered versions on simulated traffic.
#[derive(Debug, clap::Parser)]
#[command(name = "ab_test")]
struct Args {
    /// Keep the registry in this folder (default: a temporary folder, removed at the end).
    #[arg(long, value_name = "DIR")]
    store: Option<PathBuf>,
}

fn main() -> Result<(), Box<dyn Error>> {
    let args = <Args as clap::Parser>::parse();
    // Dropped (and removed) at the end of main when no --store was given.
    let temporary = match args.store {
        Some(_) => None,
        None => Some(
            tempfile::Builder::new()
                .prefix("obesity-ab-test-")
                .tempdir()?,
        ),
    };
    let store_dir = match (&args.store, &temporary) {
        (Some(dir), _) => dir.clone(),
        (None, Some(t)) => t.path().to_path_buf(),
        (None, None) => return Err("no store folder".into()),
    };
    println!(
        "store: {}{}",
        store_dir.display(),
        if temporary.is_some() {
            " (temporary)"
        } else {
            ""
        }
    );

    // --- data -----------------------------------------------------------------------------
    let records: Vec<ObesityRecord> = match std::env::var_os("OBESITY_UCI_CSV") {
        Some(path) => data::load_csv(&path, &LoadOptions::default())?.records,
        None => data::synth::generate(3_000, 42),
    };
    let labels = data::target_indices(&records)?;
    let (train_idx, test_idx) = data::stratified_split(&labels, 0.3, 42)?;
    let pick = |idx: &[usize]| {
        idx.iter()
            .filter_map(|&i| records.get(i).cloned())
            .collect::<Vec<_>>()
    };
    let (train, test) = (pick(&train_idx), pick(&test_idx));
    let pipeline = FeaturePipeline::standard().fit(&train)?;
    let ds = pipeline.dataset(&train)?;
    let n_classes = ds.class_names.len();
    println!(
        "data: {} training rows, {} rows for traffic",
        train.len(),
        test.len()
    );

    // --- two versions in the registry ------------------------------------------------------
    let store: Arc<dyn Store> = Arc::new(LocalStore::open(store_dir.join("mlruns"))?);
    let tracker = Tracker::new(store.clone());
    let registry = Registry::new(store);
    let candidates = [
        (
            "small",
            ForestParams::builder()
                .n_estimators(3)
                .max_depth(Some(3))
                .seed(1)
                .build()?,
        ),
        (
            "full",
            ForestParams::builder().n_estimators(100).seed(2).build()?,
        ),
    ];
    for (name, params) in &candidates {
        let forest = RandomForest::fit(params, ds.x.view(), ds.y.view(), n_classes)?;
        let run = tracker.start_run("obesity-ab", Some(name))?;
        run.log_param("n_estimators", params.n_estimators())?;
        run.log_param(
            "max_depth",
            params
                .max_depth()
                .map_or_else(|| "None".to_owned(), |d| d.to_string()),
        )?;
        let run_id = run.id().to_string();
        run.finish()?;
        let v = registry.register(
            NewVersion::new(MODEL, &run_id, forest.to_bytes()?).pipeline_json(pipeline.to_json()?),
        )?;
        println!("registered {MODEL} v{} ({name} forest)", v.version);
    }
    registry.set_alias(MODEL, "champion", 1)?;
    registry.set_alias(MODEL, "challenger", 2)?;
    let champion = registry.load_str(&format!("models:/{MODEL}@champion"))?;
    let challenger = registry.load_str(&format!("models:/{MODEL}@challenger"))?;
    let models: [(String, &dyn Classifier); 2] = [
        (
            champion.version.version.to_string(),
            champion.classifier.as_ref(),
        ),
        (
            challenger.version.version.to_string(),
            challenger.classifier.as_ref(),
        ),
    ];

    // --- the experiment --------------------------------------------------------------------
    let clock = ManualClock::new(Utc::now());
    let config = AbTestConfig {
        traffic_split: 0.5,
        min_samples_per_variant: 200,
        significance_level: 0.05,
        segment: vec![SegmentRule::Range {
            feature: "Age".into(),
            min: Some(18.0),
            max: None,
        }],
        ..AbTestConfig::new("rf-v2-vs-v1", models[0].0.clone(), models[1].0.clone())
    };
    let experiments = store_dir.join("experiments");
    let mut test_ab = AbTest::open_or_create(&experiments, config, Arc::new(clock.clone()))?;
    if test_ab.status() != obesity_mlops::monitor::TestStatus::Running {
        test_ab.start()?;
    }
    let mut monitor = PerformanceMonitor::open(&store_dir, MODEL, Arc::new(clock.clone()))?;

    // --- simulated traffic: one request per user, labels arrive later -----------------------
    let run_tag = monitor.summary(Duration::days(3650)).n_requests; // unique ids across reruns
    // (user, request id, predicted class, true label, enrolled)
    let mut pending: Vec<(String, String, usize, usize, bool)> = Vec::new();
    let mut outside = 0;
    // Each held-out row is one user with one request, so outcomes are independent (the
    // tests assume it); rows are never reused.
    for (i, record) in test.iter().enumerate() {
        let user = format!("user-{}", run_tag + i);
        let features: BTreeMap<String, FeatureValue> = [
            ("Age".to_string(), FeatureValue::Number(record.age)),
            (
                "MTRANS".to_string(),
                FeatureValue::Category(record.mtrans.as_str().to_string()),
            ),
        ]
        .into();
        let assignment = test_ab.assign(&user, &features);
        outside += usize::from(!assignment.in_segment);
        let (version, model) = match assignment.variant {
            Variant::Control => &models[0],
            Variant::Treatment => &models[1],
        };
        let started = Instant::now();
        let x = pipeline.transform(std::slice::from_ref(record))?;
        let proba = model.predict_proba(x.view())?;
        let latency_ms = started.elapsed().as_secs_f64() * 1e3;
        let request_id = format!("req-{}", run_tag + i);
        let batch = PredictionBatch::from_probabilities(
            version.as_str(),
            vec![request_id.clone()],
            proba.view(),
            vec![latency_ms],
        )?
        .with_features(x.view());
        let predicted = batch.predictions.first().copied();
        monitor.log_batch(batch)?;
        if let (Some(p), Some(y)) = (predicted, record.target.map(|t| t.index())) {
            pending.push((user, request_id, p, y, assignment.enrolled));
        }
        clock.advance(Duration::seconds(10));
    }
    // The true labels arrive a day later: to the monitor by request id, to the experiment as
    // each enrolled user's outcome (was the prediction right?).
    clock.advance(Duration::hours(24));
    let labels: Vec<(String, usize)> = pending
        .iter()
        .map(|(_, r, _, y, _)| (r.clone(), *y))
        .collect();
    monitor.record_labels(&labels)?;
    for (user, _, predicted, y, enrolled) in &pending {
        if *enrolled {
            test_ab.record_outcome(user, Outcome::Success(predicted == y))?;
        }
    }
    test_ab.save()?;

    // --- report ----------------------------------------------------------------------------
    let a = test_ab.analyze()?;
    println!("\n== A/B analysis: {} ({}) ==", a.experiment, a.status);
    println!(
        "requests: {}, outside the segment (served by control, not counted): {outside}",
        test.len()
    );
    for v in [&a.control, &a.treatment] {
        println!(
            "{:<9} v{:<3} users {:>5}  samples {:>5}  {} {:.4}",
            v.variant.to_string(),
            v.model_version,
            v.users,
            v.samples,
            a.metric.name,
            v.metric.unwrap_or(f64::NAN)
        );
    }
    let f = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{v:.4}"));
    println!("difference (treatment − control): {}", f(a.difference));
    let p = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{v:.3e}"));
    println!("z = {}, p = {}", f(a.statistic), p(a.p_value));
    if let Some(chi) = &a.chi_square {
        println!(
            "chi-square (Yates) = {:.4}, p = {:.3e}",
            chi.statistic, chi.p_value
        );
    }
    println!(
        "{:.0}% CI of the difference: [{}, {}]; Cohen's h = {}",
        a.confidence_level * 100.0,
        f(a.ci_low),
        f(a.ci_high),
        f(a.effect_size)
    );
    println!(
        "minimum samples reached: {}; significant: {}",
        a.min_samples_reached, a.significant
    );
    let recommendation = match a.recommendation {
        Recommendation::KeepRunning => "keep running (not enough evidence yet)",
        Recommendation::PromoteTreatment => "promote the treatment",
        Recommendation::KeepControl => "keep the control",
    };
    println!(
        "winner: {}; recommendation: {recommendation}",
        a.winner.map_or_else(
            || "none (no significant difference)".to_owned(),
            |w| w.to_string()
        )
    );
    println!("{}", a.explanation);

    println!("\n== monitor, last 2 days, per version ==");
    for (version, _) in &models {
        let s = monitor.summary_for_version(Duration::days(2), version);
        println!(
            "v{version}: {} predictions, accuracy {}, f1_macro {}, p95 latency {} ms",
            s.n_predictions,
            f(s.accuracy),
            f(s.f1_macro),
            f(s.latency_p95_ms)
        );
    }
    Ok(())
}
