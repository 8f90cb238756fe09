//! Request ids logged as counter runs (`PredictionBatch::push_run`): the same monitor as
//! listed ids — summaries, label joins, expiry, persistence — and every id still unique.

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use obesity_monitor::{
    IdRun, ManualClock, MonitorError, MonitorLimits, PerformanceMonitor, PredictionBatch,
};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0)
        .single()
        .unwrap_or_default()
}

const PREFIX: &str = "0000beef-";

/// `rows` served requests numbered from `first` (classes cycling over 3, varied confidence
/// and latency) and one failure, as runs (`runs = true`) or as listed ids.
fn batch(first: u64, rows: u64, runs: bool) -> PredictionBatch {
    let mut b = PredictionBatch::new("7");
    for k in 0..rows {
        let n = first + k;
        let (class, conf, latency) = (
            (n % 3) as usize,
            0.5 + (n % 5) as f64 / 10.0,
            1.0 + k as f64,
        );
        if runs {
            b.push_run(PREFIX, n, class, conf, latency);
        } else {
            b.push(format!("{PREFIX}{n:x}"), class, conf, latency);
        }
    }
    b.push_failure(format!("{PREFIX}fail-{first}"), 9.0, "bad row");
    b
}

/// Labels for some ids: right for even counters, wrong for odd ones, plus ids that are no
/// request (not the counter's own text, another prefix, never issued).
fn labels() -> Vec<(String, usize)> {
    let mut l: Vec<(String, usize)> = (0..400u64)
        .step_by(7)
        .map(|n| {
            (
                format!("{PREFIX}{n:x}"),
                if n % 2 == 0 { (n % 3) as usize } else { 3 },
            )
        })
        .collect();
    l.push((format!("{PREFIX}0{:x}", 14), 0));
    l.push(("0000beee-e".into(), 0));
    l.push((format!("{PREFIX}{:x}", 1_000_000), 0));
    l.push((format!("{PREFIX}fail-0"), 1));
    l
}

fn monitor(runs: bool, limits: MonitorLimits, clock: &ManualClock) -> PerformanceMonitor {
    let mut m =
        PerformanceMonitor::in_memory_with_limits("obesity", Arc::new(clock.clone()), limits)
            .unwrap();
    let mut first = 0;
    for rows in [1u64, 100, 37, 100, 62, 100] {
        clock.advance(Duration::seconds(20));
        m.log_batch(batch(first, rows, runs)).unwrap();
        first += rows;
    }
    m
}

#[test]
fn runs_give_the_same_summaries_and_label_joins_as_listed_ids() {
    for limits in [
        MonitorLimits::default(),
        // Evicts all but the last batches: expiry and the bucket aggregates too.
        MonitorLimits::default().with_max_retained_requests(150),
    ] {
        let (ca, cb) = (ManualClock::new(t0()), ManualClock::new(t0()));
        let (mut listed, mut runs) = (
            monitor(false, limits.clone(), &ca),
            monitor(true, limits.clone(), &cb),
        );
        let (ra, rb) = (
            listed.record_labels(&labels()).unwrap(),
            runs.record_labels(&labels()).unwrap(),
        );
        assert_eq!(ra.matched, rb.matched, "{limits:?}");
        assert_eq!(ra.unknown, rb.unknown, "{limits:?}");
        // The listed ids' filter may take a never-issued id for an expired one (1 %); the
        // runs' record is exact, so compare on ids that were issued.
        assert!(
            rb.expired.iter().all(|id| ra.expired.contains(id)),
            "{limits:?}"
        );
        assert!(ra.matched > 0);
        for hours in [1, 24] {
            assert_eq!(
                listed.summary_hours(hours),
                runs.summary_hours(hours),
                "{limits:?}"
            );
        }
        let (sa, sb) = (listed.retained(), runs.retained());
        assert_eq!(
            (
                sa.indexed_ids,
                sa.labelled_ids,
                sa.retained_requests,
                sa.evicted_requests
            ),
            (
                sb.indexed_ids,
                sb.labelled_ids,
                sb.retained_requests,
                sb.evicted_requests
            ),
            "{limits:?}"
        );
    }
}

#[test]
fn an_evicted_run_answers_expired_not_unknown() {
    let c = ManualClock::new(t0());
    let mut m = monitor(
        true,
        MonitorLimits::default().with_max_retained_requests(150),
        &c,
    );
    let report = m
        .record_labels(&[(format!("{PREFIX}0"), 0), (format!("{PREFIX}{:x}", 399), 0)])
        .unwrap();
    assert_eq!(report.expired, [format!("{PREFIX}0")]);
    assert_eq!(report.matched, 1);
    assert!(report.unknown.is_empty());
}

#[test]
fn an_id_is_refused_twice_whether_listed_or_in_a_run() {
    let c = ManualClock::new(t0());
    let mut m = PerformanceMonitor::in_memory("obesity", Arc::new(c)).unwrap();
    m.log_batch(batch(0x10, 16, true)).unwrap();
    let field = |e: MonitorError| match e {
        MonitorError::InvalidBatch { field, reason, .. } => format!("{field}: {reason}"),
        other => panic!("{other:?}"),
    };
    // A run over a retained run.
    let e = m.log_batch(batch(0x1f, 3, true)).unwrap_err();
    assert!(field(e).starts_with("id_runs: ids `0000beef-1f`"));
    // A listed id that is a retained run's id.
    let mut listed = PredictionBatch::new("7");
    listed.push(format!("{PREFIX}15"), 0, 0.9, 1.0);
    assert!(field(m.log_batch(listed).unwrap_err()).contains("already logged"));
    // A listed id first, then a run covering it (the prefix known, and a new prefix).
    let mut listed = PredictionBatch::new("7");
    listed.push(format!("{PREFIX}40"), 0, 0.9, 1.0);
    listed.push("fresh-5", 0, 0.9, 1.0);
    m.log_batch(listed).unwrap();
    assert!(m.log_batch(batch(0x3e, 4, true)).is_err());
    let mut fresh = PredictionBatch::new("7");
    fresh.push_run("fresh-", 0, 1, 0.9, 1.0);
    fresh.push_run("fresh-", 4, 1, 0.9, 1.0);
    fresh.push_run("fresh-", 5, 1, 0.9, 1.0);
    assert!(field(m.log_batch(fresh).unwrap_err()).starts_with("id_runs"));
    // Nothing refused was counted.
    assert_eq!(m.summary_hours(1).n_predictions, 16 + 2);
    // Next to them, fresh ids are fine.
    m.log_batch(batch(0x20, 32, true)).unwrap();
    assert_eq!(m.summary_hours(1).n_predictions, 16 + 2 + 32);
}

#[test]
fn malformed_runs_are_refused_naming_the_run() {
    let c = ManualClock::new(t0());
    let mut m = PerformanceMonitor::in_memory("obesity", Arc::new(c)).unwrap();
    let with_runs = |runs: Vec<IdRun>| {
        let mut b = PredictionBatch::new("7");
        let n: u64 = runs.iter().map(|r| r.len.min(4)).sum();
        b.id_runs = runs;
        for _ in 0..n {
            b.predictions.push(0);
            b.confidences.push(0.5);
            b.latencies_ms.push(1.0);
        }
        b
    };
    for (runs, index, says) in [
        (vec![IdRun::new("", 0, 1)], 0, "prefix is empty"),
        (vec![IdRun::new("p-", 0, 0)], 0, "no id"),
        (vec![IdRun::new("p-", u64::MAX, 2)], 0, "largest counter"),
        (
            vec![IdRun::new("p-", 0, 3), IdRun::new("p-", 2, 1)],
            1,
            "repeats ids of run 0",
        ),
        // Out of order, with a run of another prefix between them.
        (
            vec![
                IdRun::new("p-", 0x10, 3),
                IdRun::new("q-", 0x11, 1),
                IdRun::new("p-", 0, 3),
                IdRun::new("p-", 0x11, 1),
            ],
            3,
            "repeats ids of run 0",
        ),
    ] {
        match m.log_batch(with_runs(runs.clone())) {
            Err(MonitorError::InvalidBatch {
                field: "id_runs",
                index: Some(i),
                reason,
            }) => {
                assert_eq!(i, index, "{runs:?}");
                assert!(reason.contains(says), "{runs:?}: {reason}");
            }
            other => panic!("{runs:?}: {other:?}"),
        }
    }
    // A failed request's id inside the batch's own run.
    let mut b = batch(0, 4, true);
    b.push_failure(format!("{PREFIX}2"), 1.0, "x");
    assert!(matches!(
        m.log_batch(b),
        Err(MonitorError::InvalidBatch {
            field: "failed.request_id",
            ..
        })
    ));
    // More predictions than ids.
    let mut b = batch(0, 4, true);
    b.predictions.push(1);
    assert!(matches!(
        m.log_batch(b),
        Err(MonitorError::InvalidBatch {
            field: "predictions",
            ..
        })
    ));
}

#[test]
fn runs_persist_replay_and_survive_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let c = ManualClock::new(t0());
    let summary = {
        let mut m = PerformanceMonitor::open(dir.path(), "obesity", Arc::new(c.clone())).unwrap();
        m.log_batch(batch(0, 100, true)).unwrap();
        c.advance(Duration::hours(2));
        m.log_batch(batch(100, 50, true)).unwrap();
        assert_eq!(m.record_labels(&labels()).unwrap().matched, 22);
        m.summary_hours(24)
    };
    let path = PerformanceMonitor::events_path(dir.path(), "obesity");
    let text = std::fs::read_to_string(&path).unwrap();
    // One run per batch in the log, marked as format 2; the labels event stays format 1.
    assert!(text.lines().next().unwrap().contains("\"v\":2"), "{text}");
    assert!(text.contains("\"id_runs\":[{\"prefix\":\"0000beef-\",\"first\":0,\"len\":100}]"));
    assert!(text.lines().last().unwrap().contains("\"v\":1"), "{text}");
    let mut m = PerformanceMonitor::open(dir.path(), "obesity", Arc::new(c.clone())).unwrap();
    assert_eq!(m.summary_hours(24), summary);
    // A run is still refused twice after the replay.
    assert!(m.log_batch(batch(99, 2, true)).is_err());
    // Compaction drops the older batch, its run and labels; the newer keeps joining.
    assert_eq!(m.compact(Duration::hours(1)).unwrap(), 1);
    let report = m
        .record_labels(&[(format!("{PREFIX}{:x}", 120), 0), (format!("{PREFIX}5"), 0)])
        .unwrap();
    assert_eq!((report.matched, report.unknown.len()), (1, 1));
    drop(m);
    let m = PerformanceMonitor::open(dir.path(), "obesity", Arc::new(c)).unwrap();
    assert_eq!(m.summary_hours(24).n_predictions, 50);
}
