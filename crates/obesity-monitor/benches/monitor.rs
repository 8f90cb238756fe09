//! PerformanceMonitor: `log_batch` throughput under the default memory caps, and replay of a
//! log much larger than the caps (memory stays bounded; time grows with the log).

use std::hint::black_box;
use std::io::Write;
use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use obesity_monitor::{ManualClock, MonitorLimits, PerformanceMonitor, PredictionBatch};

fn batch(start: usize, rows: usize) -> PredictionBatch {
    let mut b = PredictionBatch::new("1");
    for i in start..start + rows {
        b.push(format!("req-{i:012}"), i % 7, 0.8, 3.0 + (i % 40) as f64);
    }
    b
}

/// Builds the batch of `rows` rows from `start`.
type MakeBatch = fn(usize, usize) -> PredictionBatch;

/// The same rows, their ids given as one counter run (what `obesity serve` logs).
fn batch_as_run(start: usize, rows: usize) -> PredictionBatch {
    let mut b = PredictionBatch::new("1");
    for i in start..start + rows {
        b.push_run("req-", i as u64, i % 7, 0.8, 3.0 + (i % 40) as f64);
    }
    b
}

fn log_batch(c: &mut Criterion) {
    let mut g = c.benchmark_group("log_batch");
    let ways: [(&str, MakeBatch); 2] = [("", batch), ("_as_a_run", batch_as_run)];
    for (rows, (way, make)) in [1usize, 100].into_iter().flat_map(|r| ways.map(|w| (r, w))) {
        g.throughput(Throughput::Elements(rows as u64));
        g.bench_function(format!("{rows}_rows{way}_in_memory"), |bch| {
            let clock = ManualClock::new(Utc::now());
            let mut m = PerformanceMonitor::in_memory("bench", Arc::new(clock.clone()))
                .unwrap_or_else(|e| panic!("{e}"));
            let mut next = 0usize;
            bch.iter_batched(
                || {
                    let b = make(next, rows);
                    next += rows;
                    clock.advance(Duration::milliseconds(1));
                    b
                },
                |b| m.log_batch(black_box(b)),
                BatchSize::SmallInput,
            );
        });
    }
    g.finish();
}

fn replay(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = PerformanceMonitor::events_path(dir.path(), "bench");
    std::fs::create_dir_all(path.parent().unwrap_or(dir.path())).unwrap_or_else(|e| panic!("{e}"));
    let t0 = Utc
        .with_ymd_and_hms(2026, 3, 1, 0, 0, 0)
        .single()
        .unwrap_or_default();
    // 2 000 batches of 100 rows written directly (no fsync per line).
    let (n_batches, rows) = (2_000usize, 100usize);
    let mut out =
        std::io::BufWriter::new(std::fs::File::create(&path).unwrap_or_else(|e| panic!("{e}")));
    for b in 0..n_batches {
        let line = serde_json::json!({
            "event": "batch",
            "v": 1,
            "at": t0 + Duration::milliseconds(b as i64 * 500),
            "batch": batch(b * rows, rows),
        });
        writeln!(out, "{line}").unwrap_or_else(|e| panic!("{e}"));
    }
    drop(out);
    let limits = MonitorLimits::default().with_max_retained_requests(10_000);
    let clock = ManualClock::new(t0 + Duration::hours(1));
    let mut g = c.benchmark_group("replay");
    g.sample_size(10);
    g.throughput(Throughput::Elements((n_batches * rows) as u64));
    g.bench_function("200k_rows_cap_10k", |bch| {
        bch.iter(|| {
            let m = PerformanceMonitor::open_with_limits(
                dir.path(),
                "bench",
                Arc::new(clock.clone()),
                limits.clone(),
            )
            .unwrap_or_else(|e| panic!("{e}"));
            assert!(m.retained().retained_requests <= 10_000);
            black_box(m.summary_hours(2))
        });
    });
    g.finish();
}

criterion_group!(benches, log_batch, replay);
criterion_main!(benches);
