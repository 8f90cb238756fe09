//! LocalStore costs: logging, reading runs, searching, registering versions.
//!
//! Every write is fsynced, so these numbers are dominated by the disk's fsync latency; they
//! say how many calls per second a training job can afford, not how fast the CPU is.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use obesity_registry::{
    CreateModelVersion, CreateRun, LocalStore, Metric, Param, SearchRuns, Store, Tag, now_ms,
};

fn new_run(store: &LocalStore, exp: &str) -> String {
    store
        .create_run(&CreateRun {
            experiment_id: exp.to_string(),
            run_name: None,
            start_time: now_ms(),
            user_id: "bench".into(),
            tags: vec![],
        })
        .map(|i| i.run_id)
        .unwrap_or_default()
}

fn bench(c: &mut Criterion) {
    let Ok(dir) = tempfile::tempdir() else { return };
    let Ok(store) = LocalStore::open(dir.path().join("mlruns")) else {
        return;
    };
    let Ok(exp) = store.create_experiment("bench", None, &[]) else {
        return;
    };

    let run = new_run(&store, &exp);
    let metrics: Vec<Metric> = (0..10).map(|i| Metric::now(format!("m{i}"), 0.5)).collect();
    let mut g = c.benchmark_group("local_store");
    g.throughput(Throughput::Elements(10));
    g.bench_function(BenchmarkId::new("log_batch", "10-metrics"), |b| {
        b.iter(|| store.log_batch(&run, black_box(&metrics), &[], &[]))
    });
    g.throughput(Throughput::Elements(1));

    // 200 runs with 3 metrics, 3 params, 3 tags each, for reads and searches.
    for i in 0..200 {
        let r = new_run(&store, &exp);
        let _ = store.log_batch(
            &r,
            &[
                Metric::now("accuracy", i as f64 / 200.0),
                Metric::now("f1", 0.5),
                Metric::now("loss", 0.1),
            ],
            &[
                Param::new("max_depth", (i % 10).to_string()),
                Param::new("a", "1"),
                Param::new("b", "2"),
            ],
            &[
                Tag::new("kind", "forest"),
                Tag::new("x", "y"),
                Tag::new("z", "w"),
            ],
        );
    }
    g.bench_function(BenchmarkId::new("get_run", "3m-3p-3t"), |b| {
        b.iter(|| store.get_run(black_box(&run)))
    });
    let search = SearchRuns {
        experiment_ids: vec![exp.clone()],
        filter: Some("metrics.accuracy > 0.5 and params.max_depth = '3'".into()),
        order_by: vec!["metrics.accuracy DESC".into()],
        ..SearchRuns::default()
    };
    g.bench_function(BenchmarkId::new("search_runs", "201-runs"), |b| {
        b.iter(|| store.search_runs(black_box(&search)))
    });
    let _ = store.create_registered_model("m", &[], None);
    let version = CreateModelVersion {
        name: "m".into(),
        source: "s".into(),
        run_id: Some(run.clone()),
        tags: vec![Tag::new("lineage.data_fingerprint", "ab")],
        description: None,
        model_id: None,
    };
    g.bench_function(BenchmarkId::new("create_model_version", "1-tag"), |b| {
        b.iter(|| store.create_model_version(black_box(&version)))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
