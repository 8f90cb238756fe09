//! AbTest: config checks, deterministic assignment, segments, lifecycle, outcomes,
//! analysis against scipy reference values, persistence.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use obesity_monitor::{
    AbTest, AbTestConfig, AbTestMethod, FeatureValue, ManualClock, MetricKind, MonitorError,
    Outcome, PrimaryMetric, Recommendation, SegmentRule, TestStatus, Variant,
};
use rand::{Rng, SeedableRng};
use serde_json::Value;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0)
        .single()
        .unwrap_or_default()
}

fn config() -> AbTestConfig {
    AbTestConfig::new("forest-v2-vs-v1", "1", "2")
}

fn no_features() -> BTreeMap<String, FeatureValue> {
    BTreeMap::new()
}

fn reference() -> Result<Value, Box<dyn std::error::Error>> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/ops_reference.json");
    Ok(serde_json::from_str(&std::fs::read_to_string(path)?)?)
}

fn num(v: &Value, path: &[&str]) -> f64 {
    let mut cur = v;
    for p in path {
        cur = &cur[*p];
    }
    cur.as_f64().unwrap_or(f64::NAN)
}

fn running(cfg: AbTestConfig, clock: &ManualClock) -> Result<AbTest, MonitorError> {
    let mut t = AbTest::in_memory(cfg, Arc::new(clock.clone()))?;
    t.start()?;
    Ok(t)
}

#[test]
fn bad_config_values_name_the_field() {
    let c = Arc::new(ManualClock::new(t0()));
    let cases: Vec<(AbTestConfig, &str)> = vec![
        (
            AbTestConfig {
                traffic_split: 0.0,
                ..config()
            },
            "traffic_split",
        ),
        (
            AbTestConfig {
                traffic_split: 1.0,
                ..config()
            },
            "traffic_split",
        ),
        (
            AbTestConfig {
                traffic_split: f64::NAN,
                ..config()
            },
            "traffic_split",
        ),
        (
            AbTestConfig {
                significance_level: 0.0,
                ..config()
            },
            "significance_level",
        ),
        (
            AbTestConfig {
                significance_level: 1.2,
                ..config()
            },
            "significance_level",
        ),
        (
            AbTestConfig {
                name: String::new(),
                ..config()
            },
            "name",
        ),
        (
            AbTestConfig {
                name: "../x".into(),
                ..config()
            },
            "name",
        ),
        (
            AbTestConfig {
                treatment_version: "1".into(),
                ..config()
            },
            "treatment_version",
        ),
        (
            AbTestConfig {
                control_version: " ".into(),
                ..config()
            },
            "control_version",
        ),
        (
            AbTestConfig {
                duration_hours: 0,
                ..config()
            },
            "duration_hours",
        ),
        (
            AbTestConfig {
                min_samples_per_variant: 0,
                ..config()
            },
            "min_samples_per_variant",
        ),
        (
            AbTestConfig {
                segment: vec![SegmentRule::Range {
                    feature: "Age".into(),
                    min: Some(50.0),
                    max: Some(20.0),
                }],
                ..config()
            },
            "segment.range",
        ),
        (
            AbTestConfig {
                segment: vec![SegmentRule::OneOf {
                    feature: "Gender".into(),
                    values: Default::default(),
                }],
                ..config()
            },
            "segment.values",
        ),
    ];
    for (cfg, expected) in cases {
        match AbTest::in_memory(cfg, c.clone()) {
            Err(MonitorError::InvalidConfig { field, .. }) => assert_eq!(field, expected),
            other => panic!("{expected}: expected InvalidConfig, got {other:?}"),
        }
    }
}

#[test]
fn assignment_is_deterministic_and_per_experiment() -> TestResult {
    let c = ManualClock::new(t0());
    let mut a = running(config(), &c)?;
    let mut b = running(config(), &c)?;
    let other = running(AbTestConfig::new("another", "1", "2"), &c)?;
    let mut differs = 0;
    for i in 0..1000 {
        let id = format!("user-{i}");
        let va = a.assign(&id, &no_features());
        assert_eq!(va, a.assign(&id, &no_features()), "same user, same variant");
        assert_eq!(
            va,
            b.assign(&id, &no_features()),
            "independent of the instance"
        );
        assert_eq!(
            va.model_version,
            if va.variant == Variant::Treatment {
                "2"
            } else {
                "1"
            }
        );
        differs += usize::from(other.variant_for(&id) != va.variant);
    }
    // Experiments split independently: about half the users differ.
    assert!((400..600).contains(&differs), "{differs}");
    Ok(())
}

#[test]
fn the_split_is_honoured_within_sampling_error_on_100k_ids() -> TestResult {
    let c = Arc::new(ManualClock::new(t0()));
    for split in [0.5, 0.2, 0.05] {
        let t = AbTest::in_memory(
            AbTestConfig {
                traffic_split: split,
                ..config()
            },
            c.clone(),
        )?;
        let n = 100_000usize;
        let treated = (0..n)
            .filter(|i| t.variant_for(&format!("user-{i}")) == Variant::Treatment)
            .count();
        let share = treated as f64 / n as f64;
        let sigma = (split * (1.0 - split) / n as f64).sqrt();
        assert!(
            (share - split).abs() < 4.0 * sigma,
            "split {split}: share {share}"
        );
    }
    Ok(())
}

#[test]
fn users_outside_the_segment_get_control_and_are_not_counted() -> TestResult {
    let c = ManualClock::new(t0());
    let cfg = AbTestConfig {
        traffic_split: 0.999_999,
        segment: vec![
            SegmentRule::Range {
                feature: "Age".into(),
                min: Some(18.0),
                max: Some(40.0),
            },
            SegmentRule::OneOf {
                feature: "MTRANS".into(),
                values: ["Walking".to_string(), "Bike".to_string()].into(),
            },
        ],
        ..config()
    };
    let mut t = running(cfg, &c)?;
    let f = |age: FeatureValue, mtrans: &str| -> BTreeMap<String, FeatureValue> {
        [
            ("Age".to_string(), age),
            ("MTRANS".to_string(), mtrans.into()),
        ]
        .into()
    };
    let inside = t.assign("in", &f(30.0.into(), "Bike"));
    assert_eq!(
        (inside.variant, inside.enrolled, inside.in_segment),
        (Variant::Treatment, true, true)
    );
    for (id, features) in [
        ("old", f(41.0.into(), "Bike")),
        ("car", f(30.0.into(), "Automobile")),
        ("typed", f("thirty".into(), "Bike")),
        ("missing", BTreeMap::new()),
    ] {
        let a = t.assign(id, &features);
        assert_eq!(
            (a.variant, a.enrolled, a.in_segment),
            (Variant::Control, false, false),
            "{id}"
        );
        assert!(matches!(
            t.record_outcome(id, Outcome::Success(true)),
            Err(MonitorError::UnknownUser { .. })
        ));
    }
    // Bounds are inclusive.
    assert!(t.assign("edge", &f(40.0.into(), "Walking")).enrolled);
    assert_eq!(t.analyze()?.treatment.users + t.analyze()?.control.users, 2);
    Ok(())
}

#[test]
fn lifecycle_controls_enrolment() -> TestResult {
    let c = ManualClock::new(t0());
    let mut t = AbTest::in_memory(
        AbTestConfig {
            duration_hours: 48,
            ..config()
        },
        Arc::new(c.clone()),
    )?;
    assert!(
        !t.assign("early", &no_features()).enrolled,
        "draft enrols nobody"
    );
    assert!(matches!(
        t.pause(),
        Err(MonitorError::InvalidTransition {
            action: "pause",
            ..
        })
    ));
    t.start()?;
    assert!(matches!(
        t.start(),
        Err(MonitorError::InvalidTransition {
            action: "start",
            ..
        })
    ));
    assert!(t.assign("u1", &no_features()).enrolled);
    t.pause()?;
    let paused = t.assign("u2", &no_features());
    assert_eq!((paused.variant, paused.enrolled), (Variant::Control, false));
    // An enrolled user keeps their variant while paused, and outcomes still count.
    assert!(t.assign("u1", &no_features()).enrolled);
    t.record_outcome("u1", Outcome::Success(true))?;
    t.start()?;
    c.advance(Duration::hours(49));
    assert!(t.is_expired());
    assert!(
        !t.assign("late", &no_features()).enrolled,
        "expired experiments enrol nobody"
    );
    t.stop()?;
    assert_eq!(t.status(), TestStatus::Stopped);
    assert!(matches!(
        t.stop(),
        Err(MonitorError::InvalidTransition { action: "stop", .. })
    ));
    assert!(matches!(
        t.start(),
        Err(MonitorError::InvalidTransition { .. })
    ));
    assert_eq!(t.started_at(), Some(t0()));
    Ok(())
}

#[test]
fn outcomes_for_unknown_users_or_of_the_wrong_kind_are_errors() -> TestResult {
    let c = ManualClock::new(t0());
    let mut t = running(config(), &c)?;
    match t.record_outcome("ghost", Outcome::Success(true)) {
        Err(MonitorError::UnknownUser {
            user_id,
            experiment,
        }) => {
            assert_eq!(
                (user_id.as_str(), experiment.as_str()),
                ("ghost", "forest-v2-vs-v1")
            );
        }
        other => panic!("expected UnknownUser, got {other:?}"),
    }
    t.assign("u", &no_features());
    assert!(matches!(
        t.record_outcome("u", Outcome::Value(1.0)),
        Err(MonitorError::OutcomeKindMismatch {
            expected: "a success/failure",
            ..
        })
    ));
    let mean = AbTestConfig {
        name: "mean".into(),
        primary_metric: PrimaryMetric {
            name: "score".into(),
            kind: MetricKind::Mean,
            higher_is_better: true,
        },
        ..config()
    };
    let mut m = running(mean, &c)?;
    m.assign("u", &no_features());
    assert!(matches!(
        m.record_outcome("u", Outcome::Value(f64::NAN)),
        Err(MonitorError::InvalidInput {
            what: "outcome",
            ..
        })
    ));
    Ok(())
}

/// Enrols users until each arm has the given outcomes: `successes` of `n` per arm.
fn fill(
    t: &mut AbTest,
    treatment: (usize, usize),
    control: (usize, usize),
) -> Result<(), MonitorError> {
    let (mut nt, mut nc) = (0, 0);
    let mut i = 0;
    while nt < treatment.1 || nc < control.1 {
        let id = format!("u{i}");
        i += 1;
        let a = t.assign(&id, &BTreeMap::new());
        let (k, (s, n)) = match a.variant {
            Variant::Treatment => (&mut nt, treatment),
            Variant::Control => (&mut nc, control),
        };
        if *k < n {
            t.record_outcome(&id, Outcome::Success(*k < s))?;
            *k += 1;
        }
    }
    Ok(())
}

#[test]
fn proportion_analysis_matches_scipy() -> TestResult {
    let r = reference()?;
    let p = &r["proportion"];
    let c = ManualClock::new(t0());
    let mut t = running(config(), &c)?;
    fill(&mut t, (60, 100), (45, 100))?;
    let a = t.analyze()?;
    assert_eq!(
        (a.treatment.samples, a.treatment.successes),
        (100, Some(60))
    );
    assert_eq!((a.control.samples, a.control.successes), (100, Some(45)));
    assert!(a.treatment.users >= 100 && a.control.users >= 100);
    let close = |x: Option<f64>, key: &str, tol: f64| {
        let want = num(p, &[key]);
        assert!(
            x.is_some_and(|x| (x - want).abs() < tol),
            "{key}: {x:?} vs {want}"
        );
    };
    close(a.statistic, "z", 1e-12);
    close(a.p_value, "p_value", 1e-9);
    close(a.ci_low, "ci_low", 1e-12);
    close(a.ci_high, "ci_high", 1e-12);
    close(a.effect_size, "cohens_h", 1e-12);
    close(a.chi_square.as_ref().map(|c| c.statistic), "chi2", 1e-12);
    close(
        a.chi_square.as_ref().map(|c| c.p_value),
        "chi2_p_value",
        1e-9,
    );
    assert!((a.difference.unwrap_or(0.0) - 0.15).abs() < 1e-12);
    assert!(a.significant && a.min_samples_reached);
    assert_eq!(a.winner, Some(Variant::Treatment));
    assert_eq!(
        a.winner_version(),
        Some("2"),
        "config(): control 1, treatment 2"
    );
    assert_eq!(a.recommendation, Recommendation::PromoteTreatment);
    assert_eq!(a.recommendation.to_string(), "promote the treatment");
    assert_eq!(a.test, AbTestMethod::TwoProportionZTest);
    Ok(())
}

/// Wilson per arm, Newcombe for the difference and Fisher's exact test beside the z-test,
/// against statsmodels and scipy (scripts/monitor_ops_reference.py).
fn check_intervals(a: &obesity_monitor::AbAnalysis, r: &Value) {
    let arr = |key: &str| -> (f64, f64) {
        let v = r[key].as_array().cloned().unwrap_or_default();
        let g = |i: usize| v.get(i).and_then(Value::as_f64).unwrap_or(f64::NAN);
        (g(0), g(1))
    };
    for (got, key) in [
        (a.treatment.wilson, "wilson_treatment"),
        (a.control.wilson, "wilson_control"),
        (a.newcombe, "newcombe"),
    ] {
        let (lo, hi) = arr(key);
        let ci = got.unwrap_or_else(|| panic!("no {key}"));
        assert!(
            (ci.low - lo).abs() < 1e-12 && (ci.high - hi).abs() < 1e-12,
            "{key}: {ci:?} vs ({lo}, {hi})"
        );
        assert!((ci.level - 0.95).abs() < 1e-15);
    }
    let fisher = a.fisher.as_ref().unwrap_or_else(|| panic!("no fisher"));
    assert!((fisher.p_value - num(r, &["fisher_p_value"])).abs() < 1e-12);
    assert!((fisher.odds_ratio - num(r, &["odds_ratio"])).abs() < 1e-12);
}

#[test]
fn proportion_analysis_reports_wilson_newcombe_and_fisher() -> TestResult {
    let r = reference()?;
    let p = &r["proportion_intervals"];
    let c = ManualClock::new(t0());
    let mut t = running(config(), &c)?;
    fill(&mut t, (60, 100), (45, 100))?;
    let a = t.analyze()?;
    check_intervals(&a, p);
    // Large expected counts (min 47.5): the z-test decides and its Wald interval headlines.
    assert!(num(p, &["min_expected"]) >= obesity_monitor::FISHER_BELOW_EXPECTED);
    assert_eq!(a.test, AbTestMethod::TwoProportionZTest);
    assert_eq!(a.p_value, a.z_test.as_ref().map(|z| z.p_value));
    assert_eq!(a.ci_low, a.z_test.as_ref().map(|z| z.ci_low));
    Ok(())
}

/// 8/10 against 3/10: an expected count is 4.5 < 5, so Fisher's exact test decides. The
/// z-test alone calls it significant (p = 0.025); Fisher's test does not (p = 0.070).
#[test]
fn small_samples_are_decided_by_fishers_exact_test() -> TestResult {
    let r = reference()?;
    let p = &r["small_sample"];
    let c = ManualClock::new(t0());
    let mut t = running(
        AbTestConfig {
            min_samples_per_variant: 10,
            ..config()
        },
        &c,
    )?;
    fill(&mut t, (8, 10), (3, 10))?;
    let a = t.analyze()?;
    check_intervals(&a, p);
    assert!(num(p, &["min_expected"]) < obesity_monitor::FISHER_BELOW_EXPECTED);
    assert_eq!(a.test, AbTestMethod::FisherExact);
    let fisher_p = num(p, &["fisher_p_value"]);
    assert!(a.p_value.is_some_and(|x| (x - fisher_p).abs() < 1e-12));
    assert!(a.z_test.as_ref().is_some_and(|z| z.p_value < 0.05));
    assert!(!a.significant, "{a:?}");
    assert_eq!(a.recommendation, Recommendation::KeepRunning);
    assert!(a.explanation.contains("Fisher"), "{}", a.explanation);
    // The headline interval is Newcombe's, the statistic the odds ratio.
    assert_eq!(
        (a.ci_low, a.ci_high),
        (a.newcombe.map(|i| i.low), a.newcombe.map(|i| i.high))
    );
    assert!(
        a.statistic
            .is_some_and(|x| (x - num(p, &["odds_ratio"])).abs() < 1e-12)
    );
    // The analysis, with its new parts, survives JSON.
    let text = serde_json::to_string(&a)?;
    let back: obesity_monitor::AbAnalysis = serde_json::from_str(&text)?;
    assert_eq!(back, a);
    Ok(())
}

#[test]
fn a_better_control_is_kept() -> TestResult {
    let c = ManualClock::new(t0());
    let mut t = running(config(), &c)?;
    fill(&mut t, (45, 100), (60, 100))?;
    let a = t.analyze()?;
    assert_eq!(
        (a.winner, a.recommendation),
        (Some(Variant::Control), Recommendation::KeepControl)
    );
    assert_eq!(a.winner_version(), Some("1"));
    Ok(())
}

#[test]
fn too_few_samples_or_no_difference_keeps_running_until_the_end() -> TestResult {
    let c = ManualClock::new(t0());
    let mut t = running(
        AbTestConfig {
            min_samples_per_variant: 500,
            ..config()
        },
        &c,
    )?;
    fill(&mut t, (60, 100), (45, 100))?;
    let a = t.analyze()?;
    assert!(a.significant && !a.min_samples_reached);
    assert_eq!(
        (a.winner, a.recommendation),
        (None, Recommendation::KeepRunning)
    );
    assert_eq!(a.winner_version(), None);
    t.stop()?;
    assert_eq!(t.analyze()?.recommendation, Recommendation::KeepControl);

    let mut t = running(
        AbTestConfig {
            name: "flat".into(),
            ..config()
        },
        &c,
    )?;
    fill(&mut t, (50, 100), (50, 100))?;
    let a = t.analyze()?;
    assert!(!a.significant && a.min_samples_reached);
    assert_eq!(a.recommendation, Recommendation::KeepRunning);
    c.advance(Duration::days(15));
    assert_eq!(t.analyze()?.recommendation, Recommendation::KeepControl);

    // Nothing recorded: nothing to test, no panic.
    let empty = running(
        AbTestConfig {
            name: "empty".into(),
            ..config()
        },
        &c,
    )?
    .analyze()?;
    assert_eq!(
        (empty.p_value, empty.recommendation),
        (None, Recommendation::KeepRunning)
    );
    Ok(())
}

#[test]
fn mean_metrics_use_welch_matching_scipy() -> TestResult {
    let r = reference()?;
    let w = &r["welch"];
    let values = |k: &str| -> Vec<f64> {
        w[k].as_array()
            .map(|a| a.iter().filter_map(Value::as_f64).collect())
            .unwrap_or_default()
    };
    let (tv, cv) = (values("treatment"), values("control"));
    let c = ManualClock::new(t0());
    let cfg = AbTestConfig {
        min_samples_per_variant: 5,
        primary_metric: PrimaryMetric {
            name: "score".into(),
            kind: MetricKind::Mean,
            higher_is_better: true,
        },
        ..config()
    };
    let mut t = running(cfg, &c)?;
    let (mut it, mut ic) = (tv.iter(), cv.iter());
    let mut i = 0;
    while it.len() + ic.len() > 0 {
        let id = format!("u{i}");
        i += 1;
        let v = match t.assign(&id, &no_features()).variant {
            Variant::Treatment => it.next(),
            Variant::Control => ic.next(),
        };
        if let Some(v) = v {
            t.record_outcome(&id, Outcome::Value(*v))?;
        }
    }
    let a = t.analyze()?;
    let welch = a.welch.as_ref().ok_or("no welch result")?;
    assert!((welch.statistic - num(w, &["t"])).abs() < 1e-12);
    assert!((welch.df - num(w, &["df"])).abs() < 1e-9);
    assert!((welch.p_value - num(w, &["p_value"])).abs() < 1e-9);
    assert!((welch.ci_low - num(w, &["ci_low"])).abs() < 1e-9);
    assert!((welch.ci_high - num(w, &["ci_high"])).abs() < 1e-9);
    assert_eq!(a.test, AbTestMethod::WelchTTest);
    assert!(!a.significant);
    assert_eq!(a.recommendation, Recommendation::KeepRunning);
    Ok(())
}

#[test]
fn a_simulated_better_model_wins() -> TestResult {
    let c = ManualClock::new(t0());
    let mut t = running(
        AbTestConfig {
            traffic_split: 0.3,
            min_samples_per_variant: 300,
            ..config()
        },
        &c,
    )?;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    for i in 0..5000 {
        let id = format!("patient-{i}");
        let p = match t.assign(&id, &no_features()).variant {
            Variant::Treatment => 0.90,
            Variant::Control => 0.85,
        };
        t.record_outcome(&id, Outcome::Success(rng.r#gen::<f64>() < p))?;
    }
    let a = t.analyze()?;
    let share = a.treatment.users as f64 / 5000.0;
    assert!(
        (share - 0.3).abs() < 4.0 * (0.3f64 * 0.7 / 5000.0).sqrt(),
        "{share}"
    );
    assert_eq!(
        a.recommendation,
        Recommendation::PromoteTreatment,
        "{}",
        a.explanation
    );
    assert!(a.ci_low.unwrap_or(-1.0) > 0.0);
    Ok(())
}

#[test]
fn state_is_persisted_atomically_and_reopens() -> TestResult {
    let dir = tempfile::tempdir()?;
    let c = ManualClock::new(t0());
    let before = {
        let mut t = AbTest::create(dir.path(), config(), Arc::new(c.clone()))?;
        t.start()?;
        fill(&mut t, (30, 50), (20, 50))?;
        t.save()?;
        t.analyze()?
    };
    assert!(matches!(
        AbTest::create(dir.path(), config(), Arc::new(c.clone())),
        Err(MonitorError::ExperimentExists { .. })
    ));
    let names: Vec<String> = std::fs::read_dir(dir.path())?
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect();
    assert_eq!(
        names,
        vec!["forest-v2-vs-v1.json".to_string()],
        "no temp files left"
    );

    let mut t = AbTest::open(dir.path(), "forest-v2-vs-v1", Arc::new(c.clone()))?;
    assert_eq!(t.status(), TestStatus::Running);
    assert_eq!(t.analyze()?, before);
    // Pausing saves without an explicit save().
    t.pause()?;
    let t = AbTest::open(dir.path(), "forest-v2-vs-v1", Arc::new(c.clone()))?;
    assert_eq!(t.status(), TestStatus::Paused);

    // A state file edited by hand into an invalid config is refused, naming the field.
    let path = AbTest::state_path(dir.path(), "forest-v2-vs-v1");
    let edited =
        std::fs::read_to_string(&path)?.replace("\"traffic_split\": 0.5", "\"traffic_split\": 1.5");
    std::fs::write(&path, edited)?;
    assert!(matches!(
        AbTest::open(dir.path(), "forest-v2-vs-v1", Arc::new(c.clone())),
        Err(MonitorError::InvalidConfig {
            field: "traffic_split",
            ..
        })
    ));

    std::fs::write(dir.path().join("broken.json"), b"{ not json")?;
    assert!(matches!(
        AbTest::open(dir.path(), "broken", Arc::new(c.clone())),
        Err(MonitorError::Json { .. })
    ));
    assert!(matches!(
        AbTest::open(dir.path(), "absent", Arc::new(c.clone())),
        Err(MonitorError::Io { .. })
    ));
    Ok(())
}

/// Welch's test on two constant, equal arms has no p-value (scipy: NaN); before issue 12 it
/// reported p = 1. The analysis shows "no test" rather than a NaN, and decides nothing.
#[test]
fn constant_equal_mean_outcomes_have_no_p_value() -> TestResult {
    let c = ManualClock::new(t0());
    let cfg = AbTestConfig {
        min_samples_per_variant: 3,
        primary_metric: PrimaryMetric {
            name: "score".into(),
            kind: MetricKind::Mean,
            higher_is_better: true,
        },
        ..config()
    };
    let mut t = running(cfg, &c)?;
    for i in 0..40 {
        let id = format!("u{i}");
        t.assign(&id, &no_features());
        t.record_outcome(&id, Outcome::Value(0.75))?;
    }
    let a = t.analyze()?;
    let w = a.welch.as_ref().ok_or("no welch result")?;
    assert!(
        w.p_value.is_nan() && w.statistic.is_nan() && w.df == 1.0,
        "{w:?}"
    );
    assert_eq!((a.p_value, a.statistic), (None, None));
    assert!(!a.significant && a.min_samples_reached);
    assert_eq!(a.recommendation, Recommendation::KeepRunning);
    assert!(a.explanation.contains("n/a"), "{}", a.explanation);
    let back: obesity_monitor::AbAnalysis = serde_json::from_str(&serde_json::to_string(&a)?)?;
    assert!(back.welch.is_some_and(|w| w.p_value.is_nan()));
    Ok(())
}

/// Issue 13, item 9: a program that runs again continues its experiment instead of failing
/// on `create`; a changed config under the same name is refused, naming the state file.
#[test]
fn open_or_create_continues_a_rerun_and_refuses_a_changed_config() -> TestResult {
    let dir = tempfile::tempdir()?;
    let c = ManualClock::new(t0());
    let before = {
        let mut t = AbTest::open_or_create(dir.path(), config(), Arc::new(c.clone()))?;
        assert_eq!(t.status(), TestStatus::Draft);
        t.start()?;
        fill(&mut t, (30, 50), (20, 50))?;
        t.save()?;
        t.analyze()?
    };
    let again = AbTest::open_or_create(dir.path(), config(), Arc::new(c.clone()))?;
    assert_eq!(again.status(), TestStatus::Running);
    assert_eq!(
        again.analyze()?,
        before,
        "the rerun sees the first run's outcomes"
    );

    let changed = AbTestConfig {
        traffic_split: 0.3,
        ..config()
    };
    let err = AbTest::open_or_create(dir.path(), changed, Arc::new(c.clone())).unwrap_err();
    assert!(
        matches!(&err, MonitorError::ExperimentChanged { name, .. } if name == "forest-v2-vs-v1"),
        "{err}"
    );
    assert!(err.to_string().contains("forest-v2-vs-v1.json"), "{err}");
    assert!(
        err.to_string()
            .contains("traffic_split: existing 0.5, asked 0.3"),
        "the error says what changed: {err}"
    );
    // The saved experiment is untouched by the refused call.
    let kept = AbTest::open(dir.path(), "forest-v2-vs-v1", Arc::new(c.clone()))?;
    assert_eq!(kept.config().traffic_split, 0.5);
    assert_eq!(kept.analyze()?, before);

    let bad_name = AbTestConfig::new("../escape", "1", "2");
    assert!(AbTest::open_or_create(dir.path(), bad_name, Arc::new(c)).is_err());
    Ok(())
}
