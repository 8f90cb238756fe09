//! PerformanceMonitor: logging, late labels, windows, persistence and torn lines.

use std::fs::OpenOptions;
use std::io::Write;
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use ndarray::array;
use obesity_monitor::{ManualClock, MonitorError, PerformanceMonitor, PredictionBatch};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0)
        .single()
        .unwrap_or_default()
}

fn clock() -> ManualClock {
    ManualClock::new(t0())
}

/// Four served requests r0..r3 predicting classes 0,1,2,0 with latencies 10,20,30,40 ms,
/// plus one failure at 100 ms.
fn batch(prefix: &str, version: &str) -> PredictionBatch {
    let mut b = PredictionBatch::new(version);
    for (i, (p, l)) in [(0, 10.0), (1, 20.0), (2, 30.0), (0, 40.0)]
        .into_iter()
        .enumerate()
    {
        b.push(format!("{prefix}{i}"), p, 0.6 + 0.1 * i as f64, l);
    }
    b.push_failure(format!("{prefix}fail"), 100.0, "timeout");
    b
}

/// Reference values made by scripts/monitor_ops_reference.py.
fn reference() -> serde_json::Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/ops_reference.json");
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_default()
}

fn close(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() < 1e-12)
}

#[test]
fn summary_counts_rates_latency_and_scores() -> Result<(), MonitorError> {
    let c = clock();
    let mut m = PerformanceMonitor::in_memory("obesity", Arc::new(c.clone()))?;
    m.log_batch(batch("a", "1").with_drift_score(0.2).with_invalid_rows(1))?;
    m.log_batch(batch("b", "1").with_drift_score(0.4))?;
    let s = m.summary_hours(1);
    assert_eq!(
        (s.n_batches, s.n_requests, s.n_predictions, s.n_errors),
        (2, 10, 8, 2)
    );
    assert!(close(s.error_rate, 0.2));
    // No labels yet: accuracy and F1 are unknown, not 0.
    assert_eq!((s.n_labelled, s.accuracy, s.f1_macro), (0, None, None));
    // Latencies of both batches: [10,10,20,20,30,30,40,40,100,100], percentiles from numpy
    // (scripts/monitor_ops_reference.py).
    let want = &reference()["latency_percentiles"]["p50_p95_p99"];
    assert!(close(
        s.latency_p50_ms,
        want[0].as_f64().unwrap_or(f64::NAN)
    ));
    assert!(close(
        s.latency_p95_ms,
        want[1].as_f64().unwrap_or(f64::NAN)
    ));
    assert!(close(
        s.latency_p99_ms,
        want[2].as_f64().unwrap_or(f64::NAN)
    ));
    assert!(close(s.drift_score, 0.3));
    assert!(close(s.max_drift_score, 0.4));
    assert!(close(s.invalid_row_share, 0.1));
    assert!(close(s.data_quality_score, 0.9));
    assert!(close(s.mean_confidence, 0.75));
    assert_eq!(s.predictions_by_version.get("1"), Some(&8));
    Ok(())
}

#[test]
fn late_labels_give_accuracy_and_f1_and_unknown_ids_are_reported() -> Result<(), MonitorError> {
    let c = clock();
    let mut m = PerformanceMonitor::in_memory("obesity", Arc::new(c.clone()))?;
    m.log_batch(batch("a", "1"))?;
    c.advance(Duration::minutes(30));
    // predictions 0,1,2,0; truth 0,1,1,2 → accuracy 0.5.
    let report = m.record_labels(&[("a0", 0), ("a1", 1), ("a2", 1), ("a3", 2), ("nope", 1)])?;
    assert_eq!(report.matched, 4);
    assert_eq!(report.unknown, vec!["nope".to_string()]);
    let s = m.summary_hours(1);
    assert_eq!(s.n_labelled, 4);
    assert!(close(s.accuracy, 0.5));
    // scikit-learn's f1_score(y_true, y_pred, average="macro") on these labels.
    let want = &reference()["f1_macro"];
    assert_eq!(want["y_true"], serde_json::json!([0, 1, 1, 2]));
    assert_eq!(want["y_pred"], serde_json::json!([0, 1, 2, 0]));
    assert!(
        close(s.f1_macro, want["value"].as_f64().unwrap_or(f64::NAN)),
        "{:?}",
        s.f1_macro
    );
    // A corrected label replaces the first one.
    m.record_labels(&[("a2", 2)])?;
    assert!(close(m.summary_hours(1).accuracy, 0.75));
    // Labels for a failed request cannot be joined.
    let r = m.record_labels(&[("afail", 0)])?;
    assert_eq!((r.matched, r.unknown.len()), (0, 1));
    Ok(())
}

#[test]
fn windows_follow_the_clock() -> Result<(), MonitorError> {
    let c = clock();
    let mut m = PerformanceMonitor::in_memory("obesity", Arc::new(c.clone()))?;
    m.log_batch(batch("old", "1"))?;
    c.advance(Duration::hours(5));
    m.log_batch(batch("new", "2"))?;
    assert_eq!(m.summary_hours(1).n_batches, 1);
    assert_eq!(m.summary_hours(6).n_batches, 2);
    assert_eq!(
        m.summary_for_version(Duration::hours(6), "1").n_predictions,
        4
    );
    assert_eq!(
        m.summary_for_version(Duration::hours(1), "1").n_predictions,
        0
    );
    c.advance(Duration::hours(2));
    let empty = m.summary_hours(1);
    assert_eq!(empty.n_requests, 0);
    assert_eq!((empty.error_rate, empty.latency_p95_ms), (None, None));
    Ok(())
}

#[test]
fn features_from_a_matrix_are_kept_for_drift() -> Result<(), MonitorError> {
    let c = clock();
    let mut m = PerformanceMonitor::in_memory("obesity", Arc::new(c.clone()))?;
    let proba = array![[0.1f32, 0.7, 0.2], [0.5, 0.2, 0.3]];
    let b = PredictionBatch::from_probabilities(
        "1",
        vec!["x".into(), "y".into()],
        proba.view(),
        vec![1.0, 2.0],
    )?
    .with_features(array![[1.5f32, 2.0], [3.0, 4.0]].view());
    assert_eq!(b.predictions, vec![1, 0]);
    assert!((b.confidences[0] - 0.7).abs() < 1e-6);
    m.log_batch(b)?;
    assert_eq!(
        m.recent_features(Duration::hours(1)),
        vec![vec![1.5, 2.0], vec![3.0, 4.0]]
    );
    c.advance(Duration::hours(2));
    assert!(m.recent_features(Duration::hours(1)).is_empty());
    Ok(())
}

#[test]
fn bad_batches_are_rejected_naming_the_field() -> Result<(), MonitorError> {
    let c = clock();
    let mut m = PerformanceMonitor::in_memory("obesity", Arc::new(c.clone()))?;
    let field_of = |e: MonitorError| match e {
        MonitorError::InvalidBatch { field, index, .. } => Some((field, index)),
        _ => None,
    };

    let mut b = batch("a", "1");
    b.latencies_ms.pop();
    assert_eq!(
        m.log_batch(b).err().and_then(field_of),
        Some(("latencies_ms", None))
    );

    let mut b = batch("a", "1");
    b.confidences[2] = 1.5;
    assert_eq!(
        m.log_batch(b).err().and_then(field_of),
        Some(("confidences", Some(2)))
    );

    let mut b = batch("a", "1");
    b.latencies_ms[1] = f64::NAN;
    assert_eq!(
        m.log_batch(b).err().and_then(field_of),
        Some(("latencies_ms", Some(1)))
    );

    let b = batch("a", "1").with_invalid_rows(6);
    assert_eq!(
        m.log_batch(b).err().and_then(field_of),
        Some(("invalid_rows", None))
    );

    let b = batch("a", "");
    assert_eq!(
        m.log_batch(b).err().and_then(field_of),
        Some(("model_version", None))
    );

    let b = batch("a", "1").with_drift_score(-1.0);
    assert_eq!(
        m.log_batch(b).err().and_then(field_of),
        Some(("drift_score", None))
    );

    let mut b = batch("a", "1");
    b.request_ids[1] = "a0".into();
    assert_eq!(
        m.log_batch(b).err().and_then(field_of),
        Some(("request_ids", Some(1)))
    );

    // The same ids again in a later batch.
    m.log_batch(batch("a", "1"))?;
    assert!(matches!(
        m.log_batch(batch("a", "1")),
        Err(MonitorError::InvalidBatch {
            field: "request_ids",
            ..
        })
    ));

    let nan = ndarray::array![[f32::NAN, 0.5]];
    let e = PredictionBatch::from_probabilities("1", vec!["q".into()], nan.view(), vec![1.0]);
    assert_eq!(e.err().and_then(field_of), Some(("probabilities", Some(0))));
    // Nothing invalid was counted, and an empty batch is no batch.
    m.log_batch(PredictionBatch::new("1"))?;
    assert_eq!(m.summary_hours(1).n_batches, 1);
    Ok(())
}

/// Regression: a drift check over a batch of features (no predictions logged with it) was
/// dropped as "empty", so the drift alert of examples/drift_report.rs never fired.
#[test]
fn a_drift_only_batch_is_recorded_and_raises_the_drift_alert() -> obesity_monitor::Result<()> {
    let mut m = PerformanceMonitor::in_memory("m", Arc::new(clock()))?;
    m.log_batch(PredictionBatch::new("1").with_drift_score(0.375))?;
    let summary = m.summary_hours(1);
    assert_eq!(summary.n_batches, 1);
    assert_eq!(summary.n_requests, 0);
    assert_eq!(summary.drift_score, Some(0.375));
    let alerts = obesity_monitor::AlertPolicy::default().evaluate(&summary);
    assert!(
        alerts
            .iter()
            .any(|a| a.kind == obesity_monitor::AlertKind::Drift),
        "{alerts:?}"
    );
    Ok(())
}

#[test]
fn unsafe_model_names_are_rejected() {
    let c = Arc::new(clock());
    let dir = tempfile::tempdir().ok();
    let root = dir
        .as_ref()
        .map(|d| d.path().to_path_buf())
        .unwrap_or_default();
    for name in ["", "..", "a/b", "../escape"] {
        let e = PerformanceMonitor::open(&root, name, c.clone());
        assert!(
            matches!(e, Err(MonitorError::InvalidConfig { field: "model", .. })),
            "{name:?} accepted"
        );
    }
}

#[test]
fn state_survives_a_restart() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let c = clock();
    let before = {
        let mut m = PerformanceMonitor::open(dir.path(), "obesity", Arc::new(c.clone()))?;
        m.log_batch(batch("a", "1").with_drift_score(0.05))?;
        m.record_labels(&[("a0", 0), ("a1", 0)])?;
        m.summary_hours(1)
    };
    let path = PerformanceMonitor::events_path(dir.path(), "obesity");
    assert_eq!(std::fs::read_to_string(&path)?.lines().count(), 2);
    let m = PerformanceMonitor::open(dir.path(), "obesity", Arc::new(c.clone()))?;
    assert!(m.torn_tail().is_none());
    assert_eq!(m.summary_hours(1), before);
    assert!(close(before.accuracy, 0.5));
    Ok(())
}

#[test]
fn a_second_writer_is_refused_until_the_first_closes() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let c = clock();
    let first = PerformanceMonitor::open(dir.path(), "obesity", Arc::new(c.clone()))?;
    match PerformanceMonitor::open(dir.path(), "obesity", Arc::new(c.clone())) {
        Err(MonitorError::Locked { path }) => {
            assert_eq!(path, PerformanceMonitor::events_path(dir.path(), "obesity"));
        }
        other => panic!("expected Locked, got {other:?}"),
    }
    // Another model is another log.
    PerformanceMonitor::open(dir.path(), "other", Arc::new(c.clone()))?;
    drop(first);
    PerformanceMonitor::open(dir.path(), "obesity", Arc::new(c.clone()))?;
    Ok(())
}

#[test]
fn compaction_forgets_old_batches_on_disk_too() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let c = clock();
    let mut m = PerformanceMonitor::open(dir.path(), "obesity", Arc::new(c.clone()))?;
    m.log_batch(batch("old", "1"))?;
    c.advance(Duration::hours(5));
    m.log_batch(batch("new", "1"))?;
    m.record_labels(&[("old0", 0), ("new0", 0), ("new1", 2)])?;
    let recent = m.summary_hours(1);
    assert_eq!(m.compact(Duration::hours(2))?, 1);
    assert_eq!(m.compact(Duration::hours(2))?, 0);
    assert_eq!(m.summary_hours(24).n_batches, 1);
    assert_eq!(m.summary_hours(1), recent);
    // Old ids are gone: their labels are unknown now, and a new batch may reuse them.
    assert_eq!(
        m.record_labels(&[("old1", 1)])?.unknown,
        vec!["old1".to_string()]
    );
    m.log_batch(batch("old", "2"))?;
    drop(m);
    let m = PerformanceMonitor::open(dir.path(), "obesity", Arc::new(c.clone()))?;
    assert!(m.torn_tail().is_none());
    assert_eq!(m.summary_hours(24).n_batches, 2);
    // Labels of kept batches survived the rewrite.
    assert_eq!(m.summary_for_version(Duration::hours(1), "1"), recent);
    let names: Vec<_> = std::fs::read_dir(
        PerformanceMonitor::events_path(dir.path(), "obesity")
            .parent()
            .unwrap_or(dir.path()),
    )?
    .filter_map(|e| e.ok().map(|e| e.file_name()))
    .collect();
    assert_eq!(names.len(), 1, "temporary file left: {names:?}");
    Ok(())
}

fn append(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    OpenOptions::new().append(true).open(path)?.write_all(bytes)
}

#[test]
fn a_torn_last_line_is_reported_and_cut_and_earlier_lines_survive()
-> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let c = clock();
    let path = PerformanceMonitor::events_path(dir.path(), "obesity");
    {
        let mut m = PerformanceMonitor::open(dir.path(), "obesity", Arc::new(c.clone()))?;
        m.log_batch(batch("a", "1"))?;
        m.log_batch(batch("b", "1"))?;
    }
    let good_len = std::fs::metadata(&path)?.len();
    // Half of a third batch line, as a crash mid-write leaves it.
    let full = std::fs::read_to_string(&path)?;
    let second = full.lines().nth(1).unwrap_or_default();
    append(&path, &second.as_bytes()[..second.len() / 2])?;

    let mut m = PerformanceMonitor::open(dir.path(), "obesity", Arc::new(c.clone()))?;
    let torn = m.torn_tail().cloned();
    assert_eq!(torn.as_ref().map(|t| t.line), Some(3));
    assert_eq!(
        torn.map(|t| t.bytes_removed),
        Some((second.len() / 2) as u64)
    );
    assert_eq!(m.summary_hours(1).n_batches, 2);
    assert_eq!(std::fs::metadata(&path)?.len(), good_len);
    // Appending after recovery yields a clean file.
    m.log_batch(batch("c", "1"))?;
    drop(m);
    let m = PerformanceMonitor::open(dir.path(), "obesity", Arc::new(c.clone()))?;
    assert!(m.torn_tail().is_none());
    assert_eq!(m.summary_hours(1).n_batches, 3);
    Ok(())
}

/// A complete (newline-terminated) line of garbage is not a torn write: it is kept on disk
/// and skipped, never cut (the earlier behaviour deleted it; see tests/it/event_log.rs).
#[test]
fn garbage_as_complete_last_line_is_kept_and_skipped() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let c = clock();
    let path = PerformanceMonitor::events_path(dir.path(), "obesity");
    {
        let mut m = PerformanceMonitor::open(dir.path(), "obesity", Arc::new(c.clone()))?;
        m.log_batch(batch("a", "1"))?;
    }
    append(&path, b"\x00\xffnot json at all\n")?;
    let before = std::fs::read(&path)?;
    let m = PerformanceMonitor::open(dir.path(), "obesity", Arc::new(c.clone()))?;
    assert!(m.torn_tail().is_none());
    assert_eq!(
        m.skipped_lines().iter().map(|l| l.line).collect::<Vec<_>>(),
        [2]
    );
    assert_eq!(m.summary_hours(1).n_batches, 1);
    assert_eq!(std::fs::read(&path)?, before);
    Ok(())
}

#[test]
fn a_complete_last_line_without_newline_is_kept() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let c = clock();
    let path = PerformanceMonitor::events_path(dir.path(), "obesity");
    {
        let mut m = PerformanceMonitor::open(dir.path(), "obesity", Arc::new(c.clone()))?;
        m.log_batch(batch("a", "1"))?;
        m.log_batch(batch("b", "1"))?;
    }
    // Lose only the final newline.
    let len = std::fs::metadata(&path)?.len();
    OpenOptions::new()
        .write(true)
        .open(&path)?
        .set_len(len - 1)?;
    let mut m = PerformanceMonitor::open(dir.path(), "obesity", Arc::new(c.clone()))?;
    assert!(m.torn_tail().is_none());
    m.log_batch(batch("c", "1"))?;
    drop(m);
    let m = PerformanceMonitor::open(dir.path(), "obesity", Arc::new(c.clone()))?;
    assert_eq!(m.summary_hours(1).n_batches, 3);
    Ok(())
}

#[test]
fn a_known_event_that_does_not_read_is_an_error_naming_the_line()
-> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let c = clock();
    let path = PerformanceMonitor::events_path(dir.path(), "obesity");
    {
        let mut m = PerformanceMonitor::open(dir.path(), "obesity", Arc::new(c.clone()))?;
        m.log_batch(batch("a", "1"))?;
    }
    let good = std::fs::read(&path)?;
    // A batch event whose batch is not a batch: damage to a kind this build knows.
    let mut damaged =
        b"{\"event\":\"batch\",\"v\":1,\"at\":\"2026-03-01T12:00:00Z\",\"batch\":7}\n".to_vec();
    damaged.extend_from_slice(&good);
    std::fs::write(&path, &damaged)?;
    match PerformanceMonitor::open(dir.path(), "obesity", Arc::new(c.clone())) {
        Err(MonitorError::CorruptLog { line, path: p, .. }) => {
            assert_eq!(line, 1);
            assert_eq!(p, path);
        }
        other => panic!("expected CorruptLog, got {other:?}"),
    }
    // The file was not touched.
    assert_eq!(std::fs::read(&path)?, damaged);
    Ok(())
}

fn fail(e: impl std::fmt::Display) -> proptest::test_runner::TestCaseError {
    proptest::test_runner::TestCaseError::fail(e.to_string())
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Whatever byte a crash cuts the log at, reopening never fails and keeps exactly the
    /// events whose line was complete.
    #[test]
    fn any_truncation_recovers_the_complete_events(cut_frac in 0.0f64..=1.0) {
        let dir = tempfile::tempdir().map_err(fail)?;
        let c = clock();
        let path = PerformanceMonitor::events_path(dir.path(), "m");
        {
            let mut m = PerformanceMonitor::open(dir.path(), "m", Arc::new(c.clone())).map_err(fail)?;
            for p in ["a", "b", "c"] {
                m.log_batch(batch(p, "1")).map_err(fail)?;
            }
        }
        let full = std::fs::read(&path).map_err(fail)?;
        let cut = ((full.len() as f64) * cut_frac).floor() as usize;
        std::fs::write(&path, full.get(..cut).unwrap_or_default()).map_err(fail)?;
        // Lines whose JSON (without its newline) fits in the cut survive.
        let mut complete = 0;
        let mut end = 0;
        for line in full.split_inclusive(|b| *b == b'\n') {
            if end + line.len() - 1 <= cut {
                complete += 1;
            }
            end += line.len();
        }
        let m = PerformanceMonitor::open(dir.path(), "m", Arc::new(c.clone())).map_err(fail)?;
        proptest::prop_assert_eq!(m.summary_hours(1).n_batches, complete);
    }
}
