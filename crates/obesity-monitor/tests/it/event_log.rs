//! The monitor's event log against what a fuzzing campaign found (issue 12, item 6): only a
//! line without its newline is a torn write; complete lines a build cannot read are kept and
//! skipped with a warning, at the end and mid-file; replayed events are validated like live
//! ones, and an invalid one is an error naming the file and the line.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, TimeZone, Utc};
use obesity_monitor::{
    ManualClock, MonitorError, PerformanceMonitor, PredictionBatch, RetrainTrigger, SkipReason,
};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0)
        .single()
        .unwrap_or_default()
}

fn batch(prefix: &str) -> PredictionBatch {
    let mut b = PredictionBatch::new("1");
    for i in 0..3 {
        b.push(format!("{prefix}{i}"), i, 0.5 + 0.1 * i as f64, 10.0);
    }
    b
}

/// A log with batches `a` and `b` and labels for them; returns its path.
fn two_batches(dir: &Path, c: &ManualClock) -> Result<PathBuf, MonitorError> {
    let mut m = PerformanceMonitor::open(dir, "obesity", Arc::new(c.clone()))?;
    m.log_batch(batch("a"))?;
    m.log_batch(batch("b"))?;
    m.record_labels(&[("a0", 0), ("b1", 2)])?;
    Ok(PerformanceMonitor::events_path(dir, "obesity"))
}

fn append(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    OpenOptions::new().append(true).open(path)?.write_all(bytes)
}

/// What a newer build might write: an event kind this build has never heard of.
const NEWER_EVENT: &[u8] =
    b"{\"event\":\"shadow_batch\",\"v\":1,\"at\":\"2026-03-01T12:00:00Z\",\"shadow\":{\"n\":3}}\n";

/// Captures the WARN events emitted while a closure runs (a minimal tracing subscriber).
#[derive(Default, Clone)]
struct Warnings(Arc<Mutex<Vec<String>>>);

struct Message<'a>(&'a mut String);

impl tracing::field::Visit for Message<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        use std::fmt::Write as _;
        let _ = write!(self.0, "{}={value:?} ", field.name());
    }
}

impl tracing::Subscriber for Warnings {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        if *event.metadata().level() == tracing::Level::WARN {
            let mut text = String::new();
            event.record(&mut Message(&mut text));
            if let Ok(mut w) = self.0.lock() {
                w.push(text);
            }
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

fn with_warnings<T>(f: impl FnOnce() -> T) -> (T, Vec<String>) {
    let w = Warnings::default();
    let out = tracing::subscriber::with_default(w.clone(), f);
    let got = w.0.lock().map(|v| v.clone()).unwrap_or_default();
    (out, got)
}

/// Before the fix a complete last line that did not parse — here an event kind from a newer
/// version — was taken for a torn write and cut off the file.
#[test]
fn unknown_event_kind_as_last_line_was_cut_as_torn() -> TestResult {
    let dir = tempfile::tempdir()?;
    let c = ManualClock::new(t0());
    let path = two_batches(dir.path(), &c)?;
    append(&path, NEWER_EVENT)?;
    let before = std::fs::read(&path)?;

    let (m, warnings) =
        with_warnings(|| PerformanceMonitor::open(dir.path(), "obesity", Arc::new(c.clone())));
    let mut m = m?;
    assert!(m.torn_tail().is_none(), "{:?}", m.torn_tail());
    assert_eq!(std::fs::read(&path)?, before, "the newer event was removed");
    let skipped = m.skipped_lines();
    assert_eq!(skipped.len(), 1);
    assert_eq!((skipped[0].line, &skipped[0].path), (4, &path));
    assert!(
        matches!(&skipped[0].reason, SkipReason::NewerFormat { detail } if detail.contains("shadow_batch")),
        "{:?}",
        skipped[0].reason
    );
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("newer version") && w.contains("line=4")),
        "{warnings:?}"
    );
    let s = m.summary_hours(1);
    assert_eq!((s.n_batches, s.n_labelled), (2, 2));
    // Appending goes after the kept line, and the next open still reads everything.
    m.log_batch(batch("c"))?;
    drop(m);
    let m = PerformanceMonitor::open(dir.path(), "obesity", Arc::new(c.clone()))?;
    assert_eq!(m.summary_hours(1).n_batches, 3);
    assert_eq!(m.skipped_lines().len(), 1);
    Ok(())
}

/// Before the fix the same line mid-file made `open` refuse the whole log.
#[test]
fn unknown_event_kind_mid_file_made_open_refuse_the_log() -> TestResult {
    let dir = tempfile::tempdir()?;
    let c = ManualClock::new(t0());
    let path = PerformanceMonitor::events_path(dir.path(), "obesity");
    {
        let mut m = PerformanceMonitor::open(dir.path(), "obesity", Arc::new(c.clone()))?;
        m.log_batch(batch("a"))?;
    }
    append(&path, NEWER_EVENT)?;
    // A batch of a newer format version is not read with this build's meaning either.
    append(
        &path,
        b"{\"event\":\"batch\",\"v\":3,\"at\":\"2026-03-01T12:00:00Z\",\"batch\":{\"rows\":[]}}\n",
    )?;
    {
        let mut m = PerformanceMonitor::open(dir.path(), "obesity", Arc::new(c.clone()))?;
        m.log_batch(batch("b"))?;
        m.record_labels(&[("a1", 1), ("b2", 2)])?;
    }
    let before = std::fs::read(&path)?;
    let (m, warnings) =
        with_warnings(|| PerformanceMonitor::open(dir.path(), "obesity", Arc::new(c.clone())));
    let m = m?;
    let lines: Vec<usize> = m.skipped_lines().iter().map(|l| l.line).collect();
    assert_eq!(lines, [2, 3]);
    assert!(matches!(
        &m.skipped_lines()[1].reason,
        SkipReason::NewerFormat { detail } if detail.contains("version 3")
    ));
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    let s = m.summary_hours(1);
    assert_eq!((s.n_batches, s.n_labelled), (2, 2));
    assert_eq!(std::fs::read(&path)?, before);
    Ok(())
}

/// A complete line that is not JSON at all, mid-file or last: kept, skipped, warned about.
#[test]
fn malformed_complete_lines_are_kept_and_skipped_anywhere() -> TestResult {
    let dir = tempfile::tempdir()?;
    let c = ManualClock::new(t0());
    let path = PerformanceMonitor::events_path(dir.path(), "obesity");
    {
        let mut m = PerformanceMonitor::open(dir.path(), "obesity", Arc::new(c.clone()))?;
        m.log_batch(batch("a"))?;
    }
    append(&path, b"{broken\n[1, 2]\n")?;
    {
        let mut m = PerformanceMonitor::open(dir.path(), "obesity", Arc::new(c.clone()))?;
        m.log_batch(batch("b"))?;
    }
    append(&path, b"\x00\xff garbage\n")?;
    let before = std::fs::read(&path)?;
    let (m, warnings) =
        with_warnings(|| PerformanceMonitor::open(dir.path(), "obesity", Arc::new(c.clone())));
    let m = m?;
    let reasons: Vec<(usize, bool)> = m
        .skipped_lines()
        .iter()
        .map(|l| (l.line, matches!(l.reason, SkipReason::MalformedJson { .. })))
        .collect();
    assert_eq!(reasons, [(2, true), (3, false), (5, true)]);
    assert!(matches!(
        m.skipped_lines()[1].reason,
        SkipReason::NotARecord { .. }
    ));
    assert_eq!(warnings.len(), 3, "{warnings:?}");
    assert!(m.torn_tail().is_none());
    assert_eq!(m.summary_hours(1).n_batches, 2);
    assert_eq!(std::fs::read(&path)?, before);
    Ok(())
}

/// Only a last line without its newline that is not JSON is a torn write, and only it goes.
#[test]
fn only_an_unterminated_unparsable_last_line_is_cut() -> TestResult {
    let dir = tempfile::tempdir()?;
    let c = ManualClock::new(t0());
    let path = two_batches(dir.path(), &c)?;
    append(&path, NEWER_EVENT)?;
    let keep = std::fs::read(&path)?;
    append(&path, b"{\"event\":\"batch\",\"v\":1,\"at\":\"2026-03-")?;
    let m = PerformanceMonitor::open(dir.path(), "obesity", Arc::new(c.clone()))?;
    assert_eq!(
        m.torn_tail().map(|t| (t.line, t.bytes_removed)),
        Some((5, 37))
    );
    assert_eq!(std::fs::read(&path)?, keep);
    assert_eq!(m.skipped_lines().len(), 1);
    drop(m);
    // A complete newer event that lost only its newline is kept, and the newline restored.
    let without_newline = &NEWER_EVENT[..NEWER_EVENT.len() - 1];
    append(&path, without_newline)?;
    let m = PerformanceMonitor::open(dir.path(), "obesity", Arc::new(c.clone()))?;
    assert!(m.torn_tail().is_none());
    assert_eq!(m.skipped_lines().len(), 2);
    let text = std::fs::read(&path)?;
    assert!(text.ends_with(NEWER_EVENT));
    Ok(())
}

/// Compaction rewrites the log from memory: it must not drop the lines it could not read.
#[test]
fn compaction_keeps_skipped_lines() -> TestResult {
    let dir = tempfile::tempdir()?;
    let c = ManualClock::new(t0());
    let path = PerformanceMonitor::events_path(dir.path(), "obesity");
    {
        let mut m = PerformanceMonitor::open(dir.path(), "obesity", Arc::new(c.clone()))?;
        m.log_batch(batch("old"))?;
    }
    append(&path, NEWER_EVENT)?;
    append(&path, b"{broken\n")?;
    let mut m = PerformanceMonitor::open(dir.path(), "obesity", Arc::new(c.clone()))?;
    c.advance(Duration::hours(5));
    m.log_batch(batch("new"))?;
    assert_eq!(m.compact(Duration::hours(2))?, 1);
    let text = std::fs::read(&path)?;
    let lines: Vec<&[u8]> = text.split(|b| *b == b'\n').collect();
    assert_eq!(
        lines.first().copied(),
        Some(&NEWER_EVENT[..NEWER_EVENT.len() - 1])
    );
    assert_eq!(lines.get(1).copied(), Some(&b"{broken"[..]));
    drop(m);
    let m = PerformanceMonitor::open(dir.path(), "obesity", Arc::new(c.clone()))?;
    assert_eq!(m.skipped_lines().len(), 2);
    assert_eq!(m.summary_hours(24).n_batches, 1);
    Ok(())
}

/// Rewrites the `n`-th (1-based) line of the log with `edit` applied to its JSON.
fn edit_line(path: &Path, n: usize, edit: impl FnOnce(&mut serde_json::Value)) -> TestResult {
    let text = std::fs::read_to_string(path)?;
    let mut out = String::new();
    let mut edit = Some(edit);
    for (i, line) in text.lines().enumerate() {
        if let Some(edit) = edit.take_if(|_| i + 1 == n) {
            let mut v: serde_json::Value = serde_json::from_str(line)?;
            edit(&mut v);
            out.push_str(&serde_json::to_string(&v)?);
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    std::fs::write(path, out)?;
    Ok(())
}

fn expect_corrupt(dir: &Path, c: &ManualClock, path: &Path, line: usize, needle: &str) {
    let before = std::fs::read(path).unwrap_or_default();
    match PerformanceMonitor::open(dir, "obesity", Arc::new(c.clone())) {
        Err(e @ MonitorError::CorruptLog { .. }) => {
            let text = e.to_string();
            assert!(text.contains(&path.display().to_string()), "{text}");
            assert!(text.contains(&format!("line {line}")), "{text}");
            assert!(text.contains(needle), "{text}");
        }
        other => panic!("expected CorruptLog at line {line} ({needle}), got {other:?}"),
    }
    assert_eq!(
        std::fs::read(path).unwrap_or_default(),
        before,
        "file touched"
    );
}

/// Before the fix replayed batches were not re-validated: a logged confidence of 1.52 came
/// back and the summary's mean confidence was above 1.
#[test]
fn replayed_batch_with_confidence_1_52_was_accepted() -> TestResult {
    let dir = tempfile::tempdir()?;
    let c = ManualClock::new(t0());
    let path = two_batches(dir.path(), &c)?;
    edit_line(&path, 2, |v| {
        v["batch"]["confidences"] = serde_json::json!([1.52, 1.52, 1.52]);
    })?;
    expect_corrupt(dir.path(), &c, &path, 2, "1.52 is not in [0, 1]");
    Ok(())
}

/// Every other live check applies to replayed batches too.
#[test]
fn replayed_batches_fail_the_same_checks_as_live_ones() -> TestResult {
    type Edit = fn(&mut serde_json::Value);
    let cases: Vec<(&str, Edit)> = vec![
        ("latencies_ms", |v| {
            v["batch"]["latencies_ms"][0] = (-5.0).into()
        }),
        ("predictions", |v| {
            v["batch"]["predictions"] = serde_json::json!([0]);
        }),
        ("invalid_rows", |v| v["batch"]["invalid_rows"] = 99.into()),
        ("model_version", |v| {
            v["batch"]["model_version"] = " ".into()
        }),
        ("drift_score", |v| v["batch"]["drift_score"] = (-1.0).into()),
        // The second batch reuses an id of the first.
        ("already logged", |v| {
            v["batch"]["request_ids"][0] = "a0".into()
        }),
    ];
    for (needle, edit) in cases {
        let dir = tempfile::tempdir()?;
        let c = ManualClock::new(t0());
        let path = two_batches(dir.path(), &c)?;
        edit_line(&path, 2, edit)?;
        expect_corrupt(dir.path(), &c, &path, 2, needle);
    }
    Ok(())
}

/// The retrain audit trail shares the log: an outcome from a newer build is kept, not cut.
#[test]
fn audit_trail_keeps_records_of_a_newer_build() -> TestResult {
    let dir = tempfile::tempdir()?;
    let c = ManualClock::new(t0());
    let path = RetrainTrigger::audit_path(dir.path(), "nightly");
    {
        let mut t = RetrainTrigger::open(
            dir.path(),
            "nightly",
            Default::default(),
            Arc::new(c.clone()),
        )?;
        t.evaluate(t0(), &Default::default())?;
    }
    let newer = b"{\"v\":1,\"id\":5,\"at\":\"2026-03-01T12:00:00Z\",\"actor\":\"nightly\",\"reasons\":[],\"vetoes\":[],\"inputs\":null,\"outcome\":\"deferred\"}\n";
    append(&path, newer)?;
    let before = std::fs::read(&path)?;
    let t = RetrainTrigger::open(
        dir.path(),
        "nightly",
        Default::default(),
        Arc::new(c.clone()),
    )?;
    assert!(t.torn_tail().is_none());
    assert_eq!(
        t.skipped_lines().iter().map(|l| l.line).collect::<Vec<_>>(),
        [2]
    );
    assert_eq!(t.trigger_history(1).len(), 1);
    assert_eq!(std::fs::read(&path)?, before);
    Ok(())
}
