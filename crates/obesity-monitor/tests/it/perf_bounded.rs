//! PerformanceMonitor under load: memory stays within its limits (live and on replay) while
//! counts and accuracy stay exact.

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use obesity_monitor::{
    Clock, ManualClock, MonitorError, MonitorLimits, MonitorStats, PerformanceMonitor,
    PredictionBatch,
};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0)
        .single()
        .unwrap_or_default()
}

fn small_limits() -> MonitorLimits {
    MonitorLimits::default()
        .with_max_retained_requests(1_000)
        .with_max_feature_rows(100)
        .with_max_buckets(200)
        .with_seed(42)
}

fn assert_within(stats: MonitorStats, limits: &MonitorLimits) {
    assert!(
        stats.retained_requests <= limits.max_retained_requests,
        "{stats:?}"
    );
    assert!(
        stats.indexed_ids <= limits.max_retained_requests,
        "{stats:?}"
    );
    assert!(stats.feature_rows <= limits.max_feature_rows, "{stats:?}");
    assert!(stats.buckets <= limits.max_buckets, "{stats:?}");
}

/// Request `i`: class `i % 3`, latency `1 + i % 50` ms, one feature row.
fn single(i: usize) -> PredictionBatch {
    let mut b = PredictionBatch::new(if i.is_multiple_of(4) { "2" } else { "1" });
    b.push(format!("r{i}"), i % 3, 0.5, 1.0 + (i % 50) as f64);
    b.features = vec![vec![i as f64, 1.0]];
    b
}

/// The load test: every logged prediction stayed in memory (`batches`, the id index, the
/// labels, the features), ~250 B each, with no cap. Now 300k single-row batches keep the
/// retained detail at its caps while the counts and the accuracy stay exact.
#[test]
fn regression_monitor_memory_grows_without_bound() -> Result<(), MonitorError> {
    let c = ManualClock::new(t0());
    let limits = small_limits();
    let mut m =
        PerformanceMonitor::in_memory_with_limits("m", Arc::new(c.clone()), limits.clone())?;
    let n = 300_000;
    let (mut labelled, mut correct, mut v2) = (0usize, 0usize, 0usize);
    let mut latencies = Vec::with_capacity(n);
    for i in 0..n {
        m.log_batch(single(i))?;
        latencies.push(1.0 + (i % 50) as f64);
        v2 += usize::from(i.is_multiple_of(4));
        // Every 7th request gets its label right away; every other one of those is right.
        if i.is_multiple_of(7) {
            let truth = if i.is_multiple_of(2) {
                i % 3
            } else {
                (i + 1) % 3
            };
            let r = m.record_labels(&[(format!("r{i}"), truth)])?;
            assert_eq!(r.matched, 1);
            labelled += 1;
            correct += usize::from(truth == i % 3);
        }
        c.advance(Duration::milliseconds(10));
        if i.is_multiple_of(10_000) {
            assert_within(m.retained(), &limits);
        }
    }
    let stats = m.retained();
    assert_within(stats, &limits);
    assert_eq!(stats.retained_requests, limits.max_retained_requests);
    assert_eq!(stats.feature_rows, limits.max_feature_rows);
    assert_eq!(stats.evicted_requests, (n - 1_000) as u64);
    // 3 000 s of traffic in one-minute buckets.
    assert_eq!(stats.buckets, 50);

    let s = m.summary_hours(1);
    assert_eq!(
        (s.n_batches, s.n_requests, s.n_predictions, s.n_errors),
        (n, n, n, 0)
    );
    assert_eq!(s.n_labelled, labelled);
    let acc = s.accuracy.unwrap_or(f64::NAN);
    assert!(
        (acc - correct as f64 / labelled as f64).abs() < 1e-12,
        "{acc}"
    );
    assert_eq!(s.predictions_by_version.get("2"), Some(&v2));
    assert_eq!(s.predictions_by_version.get("1"), Some(&(n - v2)));
    assert!((s.mean_confidence.unwrap_or(0.0) - 0.5).abs() < 1e-9);
    // Latency percentiles come from the histogram: within 1 % of numpy's.
    latencies.sort_by(f64::total_cmp);
    for (got, q) in [
        (s.latency_p50_ms, 0.5),
        (s.latency_p95_ms, 0.95),
        (s.latency_p99_ms, 0.99),
    ] {
        let last = (latencies.len() - 1) as f64 * q;
        let (lo, frac) = (last.floor() as usize, last.fract());
        let want = latencies[lo] + frac * (latencies[(lo + 1).min(n - 1)] - latencies[lo]);
        let got = got.unwrap_or(f64::NAN);
        assert!((got - want).abs() <= 0.01 * want, "q={q}: {got} vs {want}");
    }
    // The drift sample is the most recent rows.
    let rows = m.recent_features(Duration::hours(1));
    assert_eq!(rows.len(), 100);
    assert_eq!(rows.last().map(|r| r[0]), Some((n - 1) as f64));
    // A window inside the retained detail is still answered exactly, from the detail.
    let recent = m.summary(Duration::seconds(5));
    assert_eq!(recent.n_requests, 500);
    assert_eq!(recent.window_start, c.now() - Duration::seconds(5));
    Ok(())
}

#[test]
fn labels_for_evicted_requests_are_reported_as_expired() -> Result<(), MonitorError> {
    let c = ManualClock::new(t0());
    let limits = MonitorLimits::default().with_max_retained_requests(10);
    let mut m = PerformanceMonitor::in_memory_with_limits("m", Arc::new(c.clone()), limits)?;
    for i in 0..20 {
        m.log_batch(single(i))?;
    }
    let r = m.record_labels(&[("r0", 0), ("r19", 1), ("never", 1)])?;
    assert_eq!(r.matched, 1);
    assert_eq!(r.expired, vec!["r0".to_string()]);
    assert_eq!(r.unknown, vec!["never".to_string()]);
    let stats = m.retained();
    assert_eq!((stats.expired_labels, stats.labelled_ids), (1, 1));
    // The evicted request still counts; its label does not.
    let s = m.summary_hours(1);
    assert_eq!((s.n_requests, s.n_labelled), (20, 1));
    Ok(())
}

#[test]
fn replay_of_a_big_log_respects_the_caps() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let c = ManualClock::new(t0());
    let limits = small_limits();
    let before = {
        let mut m = PerformanceMonitor::open_with_limits(
            dir.path(),
            "m",
            Arc::new(c.clone()),
            limits.clone(),
        )?;
        for b in 0..1_000usize {
            let mut batch = PredictionBatch::new("1");
            for r in 0..25 {
                batch.push(format!("b{b}r{r}"), r % 3, 0.9, 2.0 + r as f64);
            }
            batch.features = (0..25).map(|r| vec![r as f64]).collect();
            m.log_batch(batch)?;
            if b.is_multiple_of(10) {
                m.record_labels(&[(format!("b{b}r0"), 0), (format!("b{b}r1"), 2)])?;
            }
            c.advance(Duration::seconds(1));
        }
        // A label for a recently evicted request: expired, not written.
        assert_eq!(m.record_labels(&[("b950r2", 2)])?.expired.len(), 1);
        assert_within(m.retained(), &limits);
        m.summary_hours(1)
    };
    assert_eq!((before.n_requests, before.n_labelled), (25_000, 200));
    assert!((before.accuracy.unwrap_or(0.0) - 0.5).abs() < 1e-12);

    let m =
        PerformanceMonitor::open_with_limits(dir.path(), "m", Arc::new(c.clone()), limits.clone())?;
    let stats = m.retained();
    assert_within(stats, &limits);
    assert_eq!(stats.retained_requests, 1_000);
    assert_eq!(m.summary_hours(1), before);

    // Replayed with roomier limits, the same exact counts.
    drop(m);
    let m = PerformanceMonitor::open(dir.path(), "m", Arc::new(c.clone()))?;
    let s = m.summary_hours(1);
    assert_eq!(
        (s.n_requests, s.n_labelled, s.accuracy),
        (before.n_requests, before.n_labelled, before.accuracy)
    );
    Ok(())
}

/// Once a window reaches past the retained detail, its start is rounded down to the start
/// of its time bucket and reported as such; the counts are exact for that window.
#[test]
fn evicted_windows_round_to_the_bucket_and_say_so() -> Result<(), MonitorError> {
    let c = ManualClock::new(t0());
    let limits = MonitorLimits::default()
        .with_max_retained_requests(5)
        .with_bucket_seconds(60);
    let mut m = PerformanceMonitor::in_memory_with_limits("m", Arc::new(c.clone()), limits)?;
    // One request every 10 s for 10 minutes: t0, t0+10s, ..., t0+590s.
    for i in 0..60 {
        m.log_batch(single(i))?;
        c.advance(Duration::seconds(10));
    }
    // now = t0+600s; a 5-minute window starts at t0+300s exactly on a bucket edge.
    let s = m.summary(Duration::minutes(5));
    assert_eq!(s.window_start, t0() + Duration::seconds(300));
    assert_eq!(s.n_requests, 30);
    // A window starting mid-bucket (t0+335s) counts from t0+300s.
    let s = m.summary(Duration::seconds(265));
    assert_eq!(s.window_start, t0() + Duration::seconds(300));
    assert_eq!(s.n_requests, 30);
    // Inside the retained detail (the last 5 requests) the window is exact.
    let s = m.summary(Duration::seconds(45));
    assert_eq!(s.window_start, t0() + Duration::seconds(555));
    assert_eq!(s.n_requests, 4);
    Ok(())
}

#[test]
fn compaction_with_evicted_detail_streams_the_log() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let c = ManualClock::new(t0());
    let limits = MonitorLimits::default().with_max_retained_requests(3);
    let mut m =
        PerformanceMonitor::open_with_limits(dir.path(), "m", Arc::new(c.clone()), limits.clone())?;
    for i in 0..10 {
        m.log_batch(single(i))?;
    }
    c.advance(Duration::hours(5));
    for i in 10..14 {
        m.log_batch(single(i))?;
    }
    m.record_labels(&[("r13", 1)])?;
    assert_eq!(m.compact(Duration::hours(2))?, 10);
    assert_eq!(m.compact(Duration::hours(2))?, 0);
    let s = m.summary_hours(24);
    assert_eq!((s.n_requests, s.n_labelled), (4, 1));
    let path = PerformanceMonitor::events_path(dir.path(), "m");
    assert_eq!(std::fs::read_to_string(&path)?.lines().count(), 5);
    drop(m);
    let m = PerformanceMonitor::open_with_limits(dir.path(), "m", Arc::new(c.clone()), limits)?;
    assert_eq!(m.summary_hours(24), s);

    // In memory, the count comes from the aggregates.
    let mut m = PerformanceMonitor::in_memory_with_limits(
        "m",
        Arc::new(c.clone()),
        MonitorLimits::default().with_max_retained_requests(3),
    )?;
    for i in 0..10 {
        m.log_batch(single(i))?;
    }
    c.advance(Duration::hours(5));
    m.log_batch(single(10))?;
    assert_eq!(m.compact(Duration::hours(2))?, 10);
    assert_eq!(m.summary_hours(24).n_requests, 1);
    Ok(())
}

#[test]
fn limits_are_validated_and_shrinking_them_evicts() -> Result<(), MonitorError> {
    let c = ManualClock::new(t0());
    assert!(matches!(
        PerformanceMonitor::in_memory_with_limits(
            "m",
            Arc::new(c.clone()),
            MonitorLimits::default().with_bucket_seconds(0)
        ),
        Err(MonitorError::InvalidConfig {
            field: "bucket_seconds",
            ..
        })
    ));
    let mut m = PerformanceMonitor::in_memory("m", Arc::new(c.clone()))?;
    for i in 0..50 {
        m.log_batch(single(i))?;
    }
    assert_eq!(m.retained().retained_requests, 50);
    let m = m.with_limits(
        MonitorLimits::default()
            .with_max_retained_requests(7)
            .with_max_feature_rows(2),
    )?;
    let stats = m.retained();
    assert_eq!((stats.retained_requests, stats.feature_rows), (7, 2));
    assert_eq!(m.summary_hours(1).n_requests, 50);
    assert!(matches!(
        m.with_limits(MonitorLimits::default().with_bucket_seconds(300)),
        Err(MonitorError::InvalidConfig { .. })
    ));
    Ok(())
}

/// Same limits and inputs, same answers: nothing depends on hashing order or threads.
#[test]
fn bounded_monitor_is_deterministic() -> Result<(), MonitorError> {
    let run = || -> Result<_, MonitorError> {
        let c = ManualClock::new(t0());
        let mut m =
            PerformanceMonitor::in_memory_with_limits("m", Arc::new(c.clone()), small_limits())?;
        for i in 0..5_000 {
            m.log_batch(single(i))?;
            c.advance(Duration::milliseconds(700));
        }
        let r = m.record_labels(&[("r1", 1), ("r4999", 0), ("zz", 0)])?;
        Ok((m.summary_hours(2), m.retained(), r))
    };
    assert_eq!(run()?, run()?);
    Ok(())
}
