//! RetrainTrigger: reasons, guards, new files, forced retrains, the audit trail.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use chrono::{DateTime, Duration, TimeZone, Utc};
use obesity_monitor::{
    AuditOutcome, Clock, HandlerError, ManualClock, MonitorError, PerformanceSummary, Reason,
    RetrainRequest, RetrainResult, RetrainTrigger, RetrainingTriggerConfig, TriggerState, Veto,
};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0)
        .single()
        .unwrap_or_default()
}

/// A handler that numbers versions 2, 3, ... and counts its calls.
fn versions() -> impl FnMut(&RetrainRequest) -> Result<RetrainResult, HandlerError> {
    let mut next = 1;
    move |_req: &RetrainRequest| {
        next += 1;
        Ok(RetrainResult {
            new_version: next.to_string(),
            metrics: [("accuracy".to_string(), 0.9)].into(),
        })
    }
}

fn drifting() -> TriggerState {
    TriggerState {
        drift_score: Some(0.3),
        model_trained_at: Some(t0()),
        ..TriggerState::default()
    }
}

fn open(
    dir: &Path,
    c: &ManualClock,
    cfg: RetrainingTriggerConfig,
) -> Result<RetrainTrigger, MonitorError> {
    RetrainTrigger::open(dir, "nightly", cfg, Arc::new(c.clone()))
}

#[test]
fn bad_config_values_name_the_field() -> TestResult {
    let dir = tempfile::tempdir()?;
    let c = ManualClock::new(t0());
    let cases: Vec<(RetrainingTriggerConfig, &str)> = vec![
        (
            RetrainingTriggerConfig {
                min_new_samples: 0,
                ..Default::default()
            },
            "min_new_samples",
        ),
        (
            RetrainingTriggerConfig {
                accuracy_degradation_threshold: 1.5,
                ..Default::default()
            },
            "accuracy_degradation_threshold",
        ),
        (
            RetrainingTriggerConfig {
                drift_score_threshold: f64::NAN,
                ..Default::default()
            },
            "drift_score_threshold",
        ),
        (
            RetrainingTriggerConfig {
                max_retrains_per_day: 0,
                ..Default::default()
            },
            "max_retrains_per_day",
        ),
        (
            RetrainingTriggerConfig {
                watch_file_patterns: vec!["../*.csv".into()],
                ..Default::default()
            },
            "watch_file_patterns",
        ),
        (
            RetrainingTriggerConfig {
                watch_file_patterns: vec!["[".into()],
                ..Default::default()
            },
            "watch_file_patterns",
        ),
    ];
    for (cfg, expected) in cases {
        match open(dir.path(), &c, cfg) {
            Err(MonitorError::InvalidConfig { field, .. }) => assert_eq!(field, expected),
            other => panic!("{expected}: expected InvalidConfig, got {other:?}"),
        }
    }
    let reserved = RetrainTrigger::open(dir.path(), "manual", Default::default(), Arc::new(c));
    assert!(matches!(
        reserved,
        Err(MonitorError::InvalidConfig { field: "name", .. })
    ));
    Ok(())
}

#[test]
fn each_reason_carries_its_numbers() -> TestResult {
    let dir = tempfile::tempdir()?;
    let c = ManualClock::new(t0());
    let mut t = open(dir.path(), &c, Default::default())?;

    let quiet = TriggerState {
        accuracy: Some(0.88),
        baseline_accuracy: Some(0.90),
        drift_score: Some(0.05),
        error_rate: Some(0.01),
        new_samples: 999,
        model_trained_at: Some(t0() - Duration::days(6)),
    };
    let d = t.evaluate(t0(), &quiet)?;
    assert!(!d.retrain && d.reasons.is_empty() && d.vetoes.is_empty());

    let loud = TriggerState {
        accuracy: Some(0.80),
        error_rate: Some(0.05),
        drift_score: Some(0.2),
        new_samples: 1000,
        model_trained_at: Some(t0() - Duration::days(7)),
        ..quiet
    };
    let d = t.evaluate(t0(), &loud)?;
    assert!(d.retrain);
    assert_eq!(d.reasons.len(), 5, "{:?}", d.reasons);
    assert!(d.reasons.iter().any(|r| matches!(r, Reason::Stale { days_since, max_days: 7 } if (*days_since - 7.0).abs() < 1e-9)));
    assert!(d.reasons.iter().any(
        |r| matches!(r, Reason::AccuracyDegradation { drop, .. } if (*drop - 0.10).abs() < 1e-9)
    ));
    assert!(
        d.reasons
            .iter()
            .any(|r| matches!(r, Reason::Drift { score, .. } if *score == 0.2))
    );
    assert!(
        d.reasons
            .iter()
            .any(|r| matches!(r, Reason::ErrorRate { rate, .. } if *rate == 0.05))
    );
    assert!(d.reasons.iter().any(|r| matches!(
        r,
        Reason::NewSamples {
            labelled: 1000,
            file_rows: 0,
            ..
        }
    )));

    // Both decisions are in the audit trail with their inputs.
    let h = t.trigger_history(1);
    assert_eq!(h.len(), 2);
    assert_eq!(h[0].outcome, AuditOutcome::NotNeeded);
    assert_eq!(h[1].outcome, AuditOutcome::Approved);
    assert_eq!(h[1].actor, "nightly");
    assert_eq!(h[1].inputs.as_ref().and_then(|s| s.accuracy), Some(0.80));
    Ok(())
}

#[test]
fn state_from_a_monitor_summary() {
    let s = PerformanceSummary {
        accuracy: Some(0.7),
        drift_score: Some(0.2),
        error_rate: Some(0.0),
        n_labelled: 1234,
        ..PerformanceSummary::default()
    };
    let st = TriggerState::from_summary(&s, Some(0.9));
    assert_eq!(
        (
            st.accuracy,
            st.baseline_accuracy,
            st.drift_score,
            st.new_samples
        ),
        (Some(0.7), Some(0.9), Some(0.2), 1234)
    );
}

fn write_csv(path: &Path, rows: usize, modified: DateTime<Utc>) -> std::io::Result<()> {
    let mut f = File::create(path)?;
    writeln!(f, "a,b")?;
    for i in 0..rows {
        writeln!(f, "{i},{i}")?;
    }
    f.set_modified(SystemTime::from(modified))
}

#[test]
fn rows_in_files_modified_after_the_last_retrain_count_as_new_samples() -> TestResult {
    let store = tempfile::tempdir()?;
    let data = tempfile::tempdir()?;
    write_csv(&data.path().join("old.csv"), 5000, t0() - Duration::days(1))?;
    write_csv(
        &data.path().join("new1.csv"),
        600,
        t0() + Duration::hours(1),
    )?;
    write_csv(
        &data.path().join("notes.txt"),
        5000,
        t0() + Duration::hours(1),
    )?;
    std::fs::create_dir(data.path().join("sub"))?;
    write_csv(
        &data.path().join("sub/deep.csv"),
        300,
        t0() + Duration::hours(1),
    )?;

    let c = ManualClock::new(t0() + Duration::hours(2));
    let cfg = RetrainingTriggerConfig {
        data_directories: vec![data.path().to_path_buf(), data.path().join("missing")],
        watch_file_patterns: vec!["*.csv".into(), "**/*.csv".into()],
        ..Default::default()
    };
    let mut t = open(store.path(), &c, cfg)?;
    let state = TriggerState {
        new_samples: 50,
        model_trained_at: Some(t0()),
        ..TriggerState::default()
    };
    // 600 + 300 rows + 50 labelled = 950 < 1000: old.csv and notes.txt do not count.
    assert!(!t.evaluate(c.now(), &state)?.retrain);
    write_csv(
        &data.path().join("new2.csv"),
        100,
        t0() + Duration::hours(1),
    )?;
    let d = t.evaluate(c.now(), &state)?;
    assert!(d.retrain);
    match &d.reasons[..] {
        [
            Reason::NewSamples {
                labelled: 50,
                file_rows: 1000,
                new_files,
                threshold: 1000,
            },
        ] => {
            assert_eq!(new_files.len(), 3, "{new_files:?}");
        }
        other => panic!("unexpected reasons {other:?}"),
    }
    Ok(())
}

#[test]
fn guards_veto_too_soon_and_too_many() -> TestResult {
    let dir = tempfile::tempdir()?;
    let c = ManualClock::new(t0());
    let cfg = RetrainingTriggerConfig {
        min_hours_between_retrains: 2,
        max_retrains_per_day: 2,
        ..Default::default()
    };
    let mut t = open(dir.path(), &c, cfg)?;
    let mut handler = versions();
    let r = t.run(&drifting(), &mut handler)?;
    assert_eq!(r.result.map(|r| r.new_version), Some("2".into()));

    c.advance(Duration::hours(1));
    let r = t.run(&drifting(), &mut handler)?;
    assert!(r.result.is_none() && !r.decision.retrain);
    assert!(matches!(
        r.decision.vetoes[..],
        [Veto::TooSoon { min_hours: 2, .. }]
    ));

    c.advance(Duration::hours(2));
    assert!(t.run(&drifting(), &mut handler)?.result.is_some());

    c.advance(Duration::hours(3));
    let r = t.run(&drifting(), &mut handler)?;
    assert!(matches!(
        r.decision.vetoes[..],
        [Veto::DailyLimit {
            retrains_last_24h: 2,
            max_per_day: 2
        }]
    ));

    // 24 hours after the first retrain one slot is free again.
    c.set(t0() + Duration::hours(24) + Duration::minutes(1));
    assert!(t.run(&drifting(), &mut handler)?.result.is_some());

    let outcomes: Vec<&str> = t
        .trigger_history(7)
        .iter()
        .map(|r| match r.outcome {
            AuditOutcome::NotNeeded => "not_needed",
            AuditOutcome::Vetoed => "vetoed",
            AuditOutcome::Approved => "approved",
            AuditOutcome::Succeeded { .. } => "succeeded",
            AuditOutcome::Failed { .. } => "failed",
            _ => "other",
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            "approved",
            "succeeded",
            "vetoed",
            "approved",
            "succeeded",
            "vetoed",
            "approved",
            "succeeded"
        ]
    );
    Ok(())
}

#[test]
fn forced_retrain_bypasses_guards_and_is_recorded_as_manual() -> TestResult {
    let dir = tempfile::tempdir()?;
    let c = ManualClock::new(t0());
    let mut t = open(dir.path(), &c, Default::default())?;
    let mut handler = versions();
    t.run(&drifting(), &mut handler)?;
    c.advance(Duration::minutes(5));
    let r = t.force_retrain("labels were fixed upstream", &mut handler)?;
    assert_eq!(r.new_version, "3");
    let last = t.trigger_history(1).pop();
    assert_eq!(last.as_ref().map(|r| r.actor.as_str()), Some("manual"));
    assert!(matches!(
        last.map(|r| r.reasons),
        Some(v) if matches!(&v[..], [Reason::Manual { reason }] if reason == "labels were fixed upstream")
    ));
    assert!(matches!(
        t.force_retrain("  ", &mut handler),
        Err(MonitorError::InvalidInput { what: "reason", .. })
    ));
    Ok(())
}

#[test]
fn a_failing_handler_is_an_error_and_an_audit_record() -> TestResult {
    let dir = tempfile::tempdir()?;
    let c = ManualClock::new(t0());
    let mut t = open(dir.path(), &c, Default::default())?;
    let mut failing =
        |_: &RetrainRequest| -> Result<RetrainResult, HandlerError> { Err("out of disk".into()) };
    match t.run(&drifting(), &mut failing) {
        Err(MonitorError::RetrainFailed { trigger, source }) => {
            assert_eq!(trigger, "nightly");
            assert_eq!(source.to_string(), "out of disk");
        }
        other => panic!("expected RetrainFailed, got {other:?}"),
    }
    let h = t.trigger_history(1);
    assert!(
        matches!(&h.last().map(|r| &r.outcome), Some(AuditOutcome::Failed { error, .. }) if error == "out of disk")
    );
    // A failed run still counts for the guards.
    c.advance(Duration::hours(1));
    let d = t.evaluate(c.now(), &drifting())?;
    assert!(matches!(d.vetoes[..], [Veto::TooSoon { .. }]));
    // No retrain succeeded, so nothing is "last retrained".
    assert_eq!(t.last_retrain(), None);
    Ok(())
}

#[test]
fn history_survives_reopen_filters_by_days_and_recovers_from_a_torn_line() -> TestResult {
    let dir = tempfile::tempdir()?;
    let c = ManualClock::new(t0());
    {
        let mut t = open(dir.path(), &c, Default::default())?;
        t.run(&drifting(), &mut versions())?;
        c.advance(Duration::days(3));
        t.evaluate(t0() + Duration::days(3), &TriggerState::default())?;
    }
    let path = RetrainTrigger::audit_path(dir.path(), "nightly");
    OpenOptions::new()
        .append(true)
        .open(&path)?
        .write_all(b"{\"v\":1,\"id\":9,\"at\":\"20")?;

    let t = open(dir.path(), &c, Default::default())?;
    assert_eq!(t.torn_tail().map(|x| x.line), Some(4));
    assert_eq!(t.trigger_history(30).len(), 3);
    assert_eq!(t.trigger_history(1).len(), 1);
    assert_eq!(t.last_retrain(), Some(t0()));
    // Every line of the file is a JSON object with the audit fields.
    for line in std::fs::read_to_string(&path)?.lines() {
        let v: serde_json::Value = serde_json::from_str(line)?;
        for key in ["id", "at", "actor", "reasons", "outcome"] {
            assert!(v.get(key).is_some(), "{key} missing in {line}");
        }
    }
    Ok(())
}

#[test]
fn one_trigger_per_audit_trail() -> TestResult {
    let dir = tempfile::tempdir()?;
    let c = ManualClock::new(t0());
    let _first = open(dir.path(), &c, Default::default())?;
    assert!(matches!(
        open(dir.path(), &c, Default::default()),
        Err(MonitorError::Locked { .. })
    ));
    Ok(())
}
