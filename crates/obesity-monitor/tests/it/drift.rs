//! Reference profiles, drift reports, overrides, prediction drift and the unhappy paths.

use obesity_data::{ColumnValues, NamedColumn};
use obesity_monitor::{
    ColumnSample, DriftDetector, DriftOptions, DriftReport, FeatureKind, KsMethod, MonitorError,
    ReferenceProfile, StatTest, StatTestDetector, ks_2samp, max_probability, prediction_columns,
};
use proptest::prelude::*;
use rand::{Rng, SeedableRng};

fn num(name: &str, v: Vec<f64>) -> NamedColumn {
    NamedColumn {
        name: name.to_owned(),
        values: ColumnValues::Numeric(v),
    }
}

fn cat(name: &str, v: &[&str]) -> NamedColumn {
    NamedColumn {
        name: name.to_owned(),
        values: ColumnValues::Categorical(v.iter().map(|s| (*s).to_owned()).collect()),
    }
}

fn normal(seed: u64, n: usize, mean: f64) -> Vec<f64> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            // Box-Muller: deterministic per seed.
            let (u1, u2): (f64, f64) = (rng.r#gen::<f64>().max(1e-12), rng.r#gen());
            mean + (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
        })
        .collect()
}

fn batch(seed: u64, n: usize, shift: f64) -> Vec<NamedColumn> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed + 1000);
    let transport = ["Public_Transportation", "Automobile", "Walking"];
    let mtrans: Vec<&str> = (0..n)
        .map(|_| {
            let u: f64 = rng.r#gen();
            if u < 0.7 - 0.4 * shift {
                transport[0]
            } else if u < 0.9 {
                transport[1]
            } else {
                transport[2]
            }
        })
        .collect();
    let smoke: Vec<&str> = (0..n)
        .map(|i| if i % 20 == 0 { "yes" } else { "no" })
        .collect();
    vec![
        num("Weight", normal(seed, n, 80.0 + 20.0 * shift)),
        num("Height", normal(seed + 7, n, 1.7)),
        cat("MTRANS", &mtrans),
        cat("SMOKE", &smoke),
    ]
}

#[test]
fn profile_records_kinds_and_survives_json() {
    let profile = ReferenceProfile::from_columns(&batch(1, 500, 0.0)).unwrap();
    assert_eq!(profile.rows, 500);
    assert_eq!(
        profile.column_order,
        ["Weight", "Height", "MTRANS", "SMOKE"]
    );
    assert_eq!(profile.column("Weight").unwrap().kind, FeatureKind::Numeric);
    assert_eq!(
        profile.column("MTRANS").unwrap().kind,
        FeatureKind::Categorical
    );
    assert_eq!(profile.column("SMOKE").unwrap().kind, FeatureKind::Binary);
    let json = profile.to_json().unwrap();
    let back = ReferenceProfile::from_json(&json).unwrap();
    assert_eq!(back, profile);
}

#[test]
fn profile_with_another_format_version_is_rejected() {
    let profile = ReferenceProfile::from_columns(&batch(1, 50, 0.0)).unwrap();
    let json = profile
        .to_json()
        .unwrap()
        .replace("\"format_version\":1", "\"format_version\":99");
    let err = ReferenceProfile::from_json(&json).unwrap_err();
    assert!(err.to_string().contains("format_version 99"), "{err}");
    assert!(matches!(
        ReferenceProfile::from_json("{"),
        Err(MonitorError::ProfileFormat { .. })
    ));
}

#[test]
fn tampered_profile_sample_is_rejected() {
    let profile = ReferenceProfile::from_columns(&[num("x", vec![3.0, 1.0, 2.0])]).unwrap();
    let json = profile
        .to_json()
        .unwrap()
        .replace("[1.0,2.0,3.0]", "[3.0,2.0,1.0]");
    let err = ReferenceProfile::from_json(&json).unwrap_err();
    assert!(err.to_string().contains("column `x`"), "{err}");
}

#[test]
fn no_drift_on_the_same_distribution_and_drift_on_a_shift() {
    let profile = ReferenceProfile::from_columns(&batch(1, 800, 0.0)).unwrap();
    let same = profile
        .drift(&batch(2, 600, 0.0), &DriftOptions::default())
        .unwrap();
    assert!(!same.dataset_drift, "{same}");
    let shifted = profile
        .drift(&batch(3, 600, 1.0), &DriftOptions::default())
        .unwrap();
    let weight = shifted.column("Weight").unwrap();
    assert_eq!(
        weight.stattest,
        Some(StatTest::Ks),
        "<= 1000 reference rows: KS"
    );
    assert!(weight.drifted && weight.p_value.unwrap() < 1e-10);
    assert!(shifted.column("MTRANS").unwrap().drifted);
    assert_eq!(
        shifted.column("MTRANS").unwrap().stattest,
        Some(StatTest::ChiSquare)
    );
    assert_eq!(shifted.column("SMOKE").unwrap().stattest, Some(StatTest::Z));
    assert!(!shifted.column("Height").unwrap().drifted);
    assert_eq!(shifted.number_of_drifted_columns, 2);
    assert_eq!(shifted.share_of_drifted_columns, 0.5);
    assert!(shifted.dataset_drift, "share 0.5 >= drift_share 0.5");
}

#[test]
fn large_reference_uses_wasserstein_and_jensen_shannon() {
    let profile = ReferenceProfile::from_columns(&batch(1, 1001, 0.0)).unwrap();
    let r = profile
        .drift(&batch(3, 300, 1.0), &DriftOptions::default())
        .unwrap();
    assert_eq!(
        r.column("Weight").unwrap().stattest,
        Some(StatTest::Wasserstein)
    );
    assert_eq!(r.column("Weight").unwrap().threshold, 0.1);
    assert_eq!(
        r.column("MTRANS").unwrap().stattest,
        Some(StatTest::JensenShannon)
    );
    assert_eq!(
        r.column("SMOKE").unwrap().stattest,
        Some(StatTest::JensenShannon)
    );
    // Wasserstein normed by the reference std (~1): the mean moved by 20.
    assert!(r.column("Weight").unwrap().score > 15.0);
}

#[test]
fn overrides_win_per_column_then_overall_then_default() {
    let profile = ReferenceProfile::from_columns(&batch(1, 400, 0.0)).unwrap();
    let options = DriftOptions::default()
        .stattest(StatTest::Psi)
        .threshold(0.25)
        .column("Weight", Some(StatTest::Wasserstein), None)
        .column("SMOKE", None, Some(0.5))
        .drift_share(0.75);
    let r = profile.drift(&batch(3, 300, 1.0), &options).unwrap();
    let w = r.column("Weight").unwrap();
    assert_eq!(
        (w.stattest, w.threshold),
        (Some(StatTest::Wasserstein), 0.25)
    );
    let s = r.column("SMOKE").unwrap();
    assert_eq!((s.stattest, s.threshold), (Some(StatTest::Psi), 0.5));
    let h = r.column("Height").unwrap();
    assert_eq!((h.stattest, h.threshold), (Some(StatTest::Psi), 0.25));
    assert_eq!(r.drift_share, 0.75);
    assert_eq!(r.dataset_drift, r.share_of_drifted_columns >= 0.75);
}

#[test]
fn report_json_round_trips_and_table_lists_every_column() {
    let profile = ReferenceProfile::from_columns(&batch(1, 300, 0.0)).unwrap();
    let r = profile
        .drift(&batch(3, 300, 1.0), &DriftOptions::default())
        .unwrap();
    let back: DriftReport = serde_json::from_str(&r.to_json().unwrap()).unwrap();
    assert_eq!(back, r);
    let table = r.to_string();
    for name in ["Weight", "Height", "MTRANS", "SMOKE"] {
        assert!(table.contains(name), "{table}");
    }
    assert!(
        table.contains("DRIFT") && table.contains("dataset drift DETECTED"),
        "{table}"
    );
}

#[test]
fn capped_profile_is_a_quantile_sketch_close_to_the_exact_result() {
    let cols = [num("x", normal(5, 20_000, 0.0))];
    let exact = ReferenceProfile::from_columns(&cols).unwrap();
    let capped = ReferenceProfile::from_columns_capped(&cols, 1_001).unwrap();
    let c = capped.column("x").unwrap();
    assert!(c.sketched && c.sample.rows == 20_000);
    assert_eq!(
        c.std,
        exact.column("x").unwrap().std,
        "std is of the full column"
    );
    let cur = [num("x", normal(6, 500, 0.3))];
    let options = DriftOptions::default().stattest(StatTest::Ks);
    let d_exact = exact.drift(&cur, &options).unwrap().columns[0].statistic;
    let d_sketch = capped.drift(&cur, &options).unwrap().columns[0].statistic;
    assert!(
        (d_exact - d_sketch).abs() <= 1.0 / 1000.0 + 1e-12,
        "{d_exact} vs {d_sketch}"
    );
    assert!(ReferenceProfile::from_columns_capped(&cols, 1).is_err());
}

#[test]
fn prediction_drift_on_classes_and_confidence() {
    let classes = ["Normal_Weight", "Obesity_Type_I", "Overweight_Level_I"];
    let reference_pred: Vec<String> = (0..600).map(|i| classes[i % 3].to_owned()).collect();
    let reference_conf: Vec<f64> = (0..600)
        .map(|i| 0.6 + 0.3 * ((i * 37 % 100) as f64 / 100.0))
        .collect();
    let profile = ReferenceProfile::from_columns(
        &prediction_columns(&reference_pred, &reference_conf).unwrap(),
    )
    .unwrap();
    // The model now predicts mostly one class, with less confidence.
    let current_pred: Vec<String> = (0..300)
        .map(|i| classes[if i % 5 == 0 { 1 } else { 0 }].to_owned())
        .collect();
    let current_conf: Vec<f64> = (0..300)
        .map(|i| 0.4 + 0.3 * ((i * 37 % 100) as f64 / 100.0))
        .collect();
    let r = profile
        .drift(
            &prediction_columns(&current_pred, &current_conf).unwrap(),
            &DriftOptions::default(),
        )
        .unwrap();
    assert_eq!(
        r.column("prediction").unwrap().stattest,
        Some(StatTest::ChiSquare)
    );
    assert!(r.column("prediction").unwrap().drifted);
    assert_eq!(
        r.column("prediction_confidence").unwrap().stattest,
        Some(StatTest::Ks)
    );
    assert!(r.column("prediction_confidence").unwrap().drifted);
    assert!(r.dataset_drift);
}

#[test]
fn max_probability_takes_each_rows_largest_and_rejects_ragged_input() {
    let conf = max_probability(&[0.2, 0.8, 0.6, 0.4, 0.5, 0.5], 2).unwrap();
    assert_eq!(conf.len(), 3);
    assert!((conf[0] - 0.8).abs() < 1e-7 && (conf[1] - 0.6).abs() < 1e-7);
    assert!(matches!(
        max_probability(&[0.1, 0.2, 0.7], 2),
        Err(MonitorError::LengthMismatch { .. })
    ));
    assert!(max_probability(&[], 0).is_err());
    assert!(prediction_columns(&["a".to_owned()], &[0.5, 0.6]).is_err());
}

// ---- unhappy paths ------------------------------------------------------------------------

#[test]
fn empty_samples_are_errors_naming_the_column() {
    let err = ReferenceProfile::from_columns(&[num("Age", vec![])]).unwrap_err();
    assert!(
        matches!(&err, MonitorError::EmptyColumn { column } if column == "Age"),
        "{err}"
    );
    let profile = ReferenceProfile::from_columns(&[num("Age", vec![1.0, 2.0])]).unwrap();
    let err = profile
        .drift(&[num("Age", vec![])], &DriftOptions::default())
        .unwrap_err();
    assert!(err.to_string().contains("`Age`"), "{err}");
    assert!(ks_2samp(&[], &[1.0], KsMethod::Auto).is_err());
    assert!(ks_2samp(&[1.0], &[], KsMethod::Auto).is_err());
}

#[test]
fn nan_in_a_numeric_column_is_an_error_naming_column_and_row() {
    let err = ReferenceProfile::from_columns(&[num("Weight", vec![70.0, f64::NAN])]).unwrap_err();
    assert!(
        matches!(&err, MonitorError::NonFiniteValue { column, row: 1, .. } if column == "Weight"),
        "{err}"
    );
    let profile = ReferenceProfile::from_columns(&[num("Weight", vec![70.0, 80.0])]).unwrap();
    let err = profile
        .drift(
            &[num("Weight", vec![f64::INFINITY, 1.0])],
            &DriftOptions::default(),
        )
        .unwrap_err();
    assert!(err.to_string().contains("`Weight`, row 0"), "{err}");
    assert!(ks_2samp(&[1.0, f64::NAN], &[1.0], KsMethod::Exact).is_err());
}

#[test]
fn kind_mismatch_between_profile_and_batch_is_an_error() {
    let profile = ReferenceProfile::from_columns(&[num("FCVC", vec![1.0, 2.0, 3.0])]).unwrap();
    let err = profile
        .drift(&[cat("FCVC", &["1", "2"])], &DriftOptions::default())
        .unwrap_err();
    match err {
        MonitorError::KindMismatch {
            column,
            expected,
            found,
        } => {
            assert_eq!(
                (column.as_str(), expected.as_str(), found.as_str()),
                ("FCVC", "numeric", "categorical")
            );
        }
        other => panic!("unexpected {other}"),
    }
    let r = ColumnSample::from_named(&num("a", vec![1.0])).unwrap();
    let c = ColumnSample::from_named(&cat("a", &["x"])).unwrap();
    assert!(StatTestDetector::new(StatTest::Psi).detect(&r, &c).is_err());
}

#[test]
fn missing_and_duplicate_columns_are_errors() {
    let profile = ReferenceProfile::from_columns(&batch(1, 50, 0.0)).unwrap();
    let mut current = batch(2, 50, 0.0);
    current.retain(|c| c.name != "MTRANS");
    let err = profile
        .drift(&current, &DriftOptions::default())
        .unwrap_err();
    assert!(
        matches!(&err, MonitorError::MissingColumn { column } if column == "MTRANS"),
        "{err}"
    );
    let dup = [num("a", vec![1.0]), num("a", vec![2.0])];
    assert!(matches!(
        ReferenceProfile::from_columns(&dup),
        Err(MonitorError::DuplicateColumn { .. })
    ));
}

#[test]
fn tests_that_do_not_apply_and_bad_options_are_errors() {
    let profile = ReferenceProfile::from_columns(&batch(1, 50, 0.0)).unwrap();
    let options = DriftOptions::default().column("MTRANS", Some(StatTest::Ks), None);
    let err = profile.drift(&batch(2, 50, 0.0), &options).unwrap_err();
    assert!(
        matches!(err, MonitorError::StatTestNotApplicable { .. }),
        "{err}"
    );
    for bad in [
        DriftOptions::default().drift_share(1.5),
        DriftOptions::default().threshold(f64::NAN),
        DriftOptions::default().column("Weight", None, Some(-0.1)),
    ] {
        let err = profile.drift(&batch(2, 50, 0.0), &bad).unwrap_err();
        assert!(
            matches!(err, MonitorError::InvalidDriftOption { .. }),
            "{err}"
        );
    }
    assert!(
        StatTestDetector::new(StatTest::Ks)
            .with_threshold(-1.0)
            .is_err()
    );
}

#[test]
fn stattest_names_are_evidentlys() {
    for t in StatTest::ALL {
        assert_eq!(StatTest::parse(t.name()), Some(t));
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            format!("\"{}\"", t.name())
        );
    }
    assert_eq!(StatTest::parse("kolmogorov"), None);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// KS is symmetric, in [0, 1], zero on identical samples, and its p-value in [0, 1].
    #[test]
    fn ks_properties(a in prop::collection::vec(-1e3f64..1e3, 1..60),
                     b in prop::collection::vec(-1e3f64..1e3, 1..60)) {
        let ab = ks_2samp(&a, &b, KsMethod::Auto).unwrap();
        let ba = ks_2samp(&b, &a, KsMethod::Auto).unwrap();
        prop_assert_eq!(ab.statistic, ba.statistic);
        prop_assert!((ab.p_value - ba.p_value).abs() < 1e-12);
        prop_assert!((0.0..=1.0).contains(&ab.statistic) && (0.0..=1.0).contains(&ab.p_value));
        let aa = ks_2samp(&a, &a, KsMethod::Asymp).unwrap();
        prop_assert_eq!(aa.statistic, 0.0);
        prop_assert_eq!(aa.p_value, 1.0);
    }

    /// Every distance is zero for a batch identical to the reference.
    #[test]
    fn distances_vanish_on_identical_batches(v in prop::collection::vec(-50f64..50.0, 2..80)) {
        let r = ColumnSample::from_named(&num("v", v.clone())).unwrap();
        for t in [StatTest::Psi, StatTest::JensenShannon, StatTest::Wasserstein] {
            let out = StatTestDetector::new(t).detect(&r, &r).unwrap();
            prop_assert!(out.statistic.abs() < 1e-12, "{} = {}", t, out.statistic);
            prop_assert!(!out.drifted);
        }
    }
}

/// On the real UCI file (when `OBESITY_UCI_CSV` is set): an even/odd row split does not
/// drift, and keeping only the heavier half of the odd rows drifts Weight.
#[test]
fn uci_split_has_no_drift_and_heavier_half_drifts_weight() {
    let Some(path) = obesity_data::uci_csv_from_env().unwrap() else {
        eprintln!("skipped: OBESITY_UCI_CSV is not set");
        return;
    };
    let loaded = obesity_data::load_csv(&path, &obesity_data::LoadOptions::strict()).unwrap();
    let (even, odd): (Vec<_>, Vec<_>) = loaded
        .records
        .iter()
        .cloned()
        .enumerate()
        .partition(|(i, _)| i % 2 == 0);
    let even: Vec<_> = even.into_iter().map(|(_, r)| r).collect();
    let odd: Vec<_> = odd.into_iter().map(|(_, r)| r).collect();
    let profile = ReferenceProfile::from_columns(&obesity_data::feature_columns(&even)).unwrap();
    let same = profile
        .drift(
            &obesity_data::feature_columns(&odd),
            &DriftOptions::default(),
        )
        .unwrap();
    assert_eq!(same.number_of_drifted_columns, 0, "{same}");
    let mut weights: Vec<f64> = odd.iter().map(|r| r.weight).collect();
    weights.sort_by(f64::total_cmp);
    let median = weights[weights.len() / 2];
    let heavy: Vec<_> = odd.into_iter().filter(|r| r.weight > median).collect();
    let shifted = profile
        .drift(
            &obesity_data::feature_columns(&heavy),
            &DriftOptions::default(),
        )
        .unwrap();
    let w = shifted.column("Weight").unwrap();
    assert_eq!(
        w.stattest,
        Some(StatTest::Wasserstein),
        "1,056 reference rows > 1,000"
    );
    assert!(w.drifted && w.score > 0.5, "{shifted}");
}

/// A category absent from the reference gives an infinite chi-square statistic (p = 0, as
/// scipy); the report must still survive a JSON round trip.
#[test]
fn infinite_chi_square_statistic_round_trips_through_json() {
    let profile =
        ReferenceProfile::from_columns(&[cat("MTRANS", &["Walking", "Bike", "Bike"])]).unwrap();
    let r = profile
        .drift(
            &[cat("MTRANS", &["Walking", "Bike", "Automobile"])],
            &DriftOptions::default(),
        )
        .unwrap();
    // Evidently counts distinct values over reference and current together: 3 -> chi-square.
    let chi = r;
    assert_eq!(chi.columns[0].stattest, Some(StatTest::ChiSquare));
    assert_eq!(chi.columns[0].statistic, f64::INFINITY);
    assert_eq!(chi.columns[0].p_value, Some(0.0));
    assert!(chi.columns[0].drifted);
    let json = chi.to_json().unwrap();
    assert!(json.contains("\"statistic\": \"inf\""), "{json}");
    let back: DriftReport = serde_json::from_str(&json).unwrap();
    assert_eq!(back, chi);
}

fn numeric_sample(name: &str, sorted: Vec<f64>) -> ColumnSample {
    ColumnSample {
        name: name.to_owned(),
        rows: sorted.len() as u64,
        values: obesity_monitor::SampleValues::Numeric { sorted },
    }
}

#[test]
fn hand_built_empty_samples_are_an_error_not_a_division_by_zero() {
    // Two empty numeric samples used to reach KS's gcd(0, 0) and panic.
    let empty = numeric_sample("x", Vec::new());
    for t in StatTest::ALL {
        let err = StatTestDetector::new(t).detect(&empty, &empty).unwrap_err();
        assert!(
            matches!(err, MonitorError::EmptyColumn { ref column } if column == "x"),
            "{t}: {err}"
        );
    }
}

#[test]
fn hand_built_unsorted_or_zero_count_samples_are_rejected() {
    let unsorted = numeric_sample("x", vec![3.0, 1.0, 2.0]);
    let sorted = numeric_sample("x", vec![1.0, 2.0, 3.0]);
    let err = StatTestDetector::new(StatTest::Ks)
        .detect(&sorted, &unsorted)
        .unwrap_err();
    assert!(err.to_string().contains("ascending"), "{err}");
    let zero = ColumnSample {
        name: "c".to_owned(),
        rows: 2,
        values: obesity_monitor::SampleValues::Categorical {
            counts: [("a".to_owned(), 2), ("b".to_owned(), 0)].into(),
        },
    };
    let ok =
        ColumnSample::from_values("c", &ColumnValues::Categorical(vec!["a".into(); 2])).unwrap();
    let err = StatTestDetector::new(StatTest::ChiSquare)
        .detect(&zero, &ok)
        .unwrap_err();
    assert!(err.to_string().contains("category `b` = 0"), "{err}");
}

/// The profile of `batch(1, 50, 0.0)` as a JSON value, edited by `edit`, read back.
fn read_edited(
    edit: impl FnOnce(&mut serde_json::Value),
) -> std::result::Result<ReferenceProfile, String> {
    let profile = ReferenceProfile::from_columns(&batch(1, 50, 0.0)).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&profile.to_json().unwrap()).unwrap();
    edit(&mut v);
    ReferenceProfile::from_json(&v.to_string()).map_err(|e| {
        assert!(matches!(e, MonitorError::ProfileFormat { .. }), "{e:?}");
        e.to_string()
    })
}

#[test]
fn edited_profile_json_is_checked_for_consistency() {
    assert!(read_edited(|_| {}).is_ok());
    // A repeated column would be tested and counted twice.
    let err =
        read_edited(|v| v["column_order"] = serde_json::json!(["Weight", "Weight"])).unwrap_err();
    assert!(err.contains("`Weight` is listed twice"), "{err}");
    // A profile nobody lists would silently never be tested.
    let err = read_edited(|v| v["column_order"] = serde_json::json!(["Weight", "Height", "SMOKE"]))
        .unwrap_err();
    assert!(
        err.contains("`MTRANS` has a profile but is not in column_order"),
        "{err}"
    );
    // `rows` drives the automatic test choice (<= 1,000 rows: KS; above: Wasserstein).
    let err = read_edited(|v| v["columns"]["Weight"]["sample"]["rows"] = 5000.into()).unwrap_err();
    assert!(err.contains("sample.rows = 5000"), "{err}");
    let err = read_edited(|v| v["columns"]["SMOKE"]["sample"]["rows"] = 49.into()).unwrap_err();
    assert!(err.contains("counts sum to 50"), "{err}");
    let err = read_edited(|v| v["rows"] = 7.into()).unwrap_err();
    assert!(err.contains("rows = 7"), "{err}");
    let err = read_edited(|v| v["columns"]["Weight"]["std"] = (-1.0).into()).unwrap_err();
    assert!(err.contains("std = -1"), "{err}");
    let err = read_edited(|v| v["columns"]["Weight"]["kind"] = "categorical".into()).unwrap_err();
    assert!(err.contains("sample is numeric"), "{err}");
    let err =
        read_edited(|v| v["columns"]["Weight"]["sample"]["name"] = "Height".into()).unwrap_err();
    assert!(err.contains("named `Height`"), "{err}");
}

#[test]
fn binning_a_range_wider_than_f64_is_an_error_not_zero_drift() {
    // 30 distinct values from -1e308 to 1e308: max - min overflows to infinity, so Sturges'
    // bins came out empty and PSI / Jensen-Shannon reported 0 (no drift) whatever the data.
    let wide: Vec<f64> = (0..30)
        .map(|i| 1e308 * (2.0 * f64::from(i) / 29.0 - 1.0))
        .collect();
    let reference = ColumnSample::from_values("w", &ColumnValues::Numeric(wide.clone())).unwrap();
    let current = ColumnSample::from_values(
        "w",
        &ColumnValues::Numeric(wide.iter().map(|x| x * 0.5).collect()),
    )
    .unwrap();
    for t in [StatTest::Psi, StatTest::JensenShannon] {
        let err = StatTestDetector::new(t)
            .detect(&reference, &current)
            .unwrap_err();
        assert!(err.to_string().contains("column `w`"), "{t}: {err}");
    }
}

/// A downstream app's own test (issue 13, item 1): drift when the mean of a numeric column
/// moved by more than `limit` reference standard deviations; categorical columns are refused.
struct MeanShift {
    limit: f64,
}

impl DriftDetector for MeanShift {
    fn name(&self) -> &str {
        "mean_shift"
    }

    fn detect(
        &self,
        reference: &ColumnSample,
        current: &ColumnSample,
    ) -> obesity_monitor::Result<obesity_monitor::DriftResult> {
        ColumnSample::check_pair(reference, current)?;
        let values = |s: &ColumnSample| match &s.values {
            obesity_monitor::SampleValues::Numeric { sorted } => Ok(sorted.clone()),
            obesity_monitor::SampleValues::Categorical { .. } => Err(MonitorError::InvalidInput {
                what: "mean_shift",
                value: format!("column `{}` is {}", s.name, s.kind_name()),
                expected: "a numeric column".to_owned(),
            }),
        };
        let (r, c) = (values(reference)?, values(current)?);
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let (mr, mc) = (mean(&r), mean(&c));
        let sd = (r.iter().map(|x| (x - mr).powi(2)).sum::<f64>() / r.len() as f64).sqrt();
        let shift = (mc - mr).abs() / sd.max(f64::MIN_POSITIVE);
        Ok(obesity_monitor::DriftResult {
            statistic: shift,
            p_value: None,
            score: shift,
            threshold: self.limit,
            drifted: shift > self.limit,
        })
    }
}

#[test]
fn a_custom_detector_runs_in_the_report_and_its_rows_carry_its_name() {
    use std::sync::Arc;
    let profile = ReferenceProfile::from_columns(&batch(1, 800, 0.0)).unwrap();
    let options = DriftOptions::default()
        .column_detector("Weight", Arc::new(MeanShift { limit: 0.5 }))
        .column_detector("Height", Arc::new(MeanShift { limit: 0.5 }));
    let shifted = profile.drift(&batch(3, 600, 1.0), &options).unwrap();
    let weight = shifted.column("Weight").unwrap();
    assert_eq!(
        (weight.detector.as_str(), weight.stattest),
        ("mean_shift", None)
    );
    assert!(weight.drifted && weight.score > 0.5, "{shifted}");
    let height = shifted.column("Height").unwrap();
    assert_eq!(height.detector, "mean_shift");
    assert!(!height.drifted, "{shifted}");
    // The other columns keep Evidently's automatic choice, named as Evidently names it.
    let mtrans = shifted.column("MTRANS").unwrap();
    assert_eq!(mtrans.stattest, Some(StatTest::ChiSquare));
    assert_eq!(mtrans.detector, StatTest::ChiSquare.name());
    // The text report and the JSON show the custom detector's name.
    assert!(shifted.to_string().contains("mean_shift"));
    let json: serde_json::Value = serde_json::from_str(&shifted.to_json().unwrap()).unwrap();
    assert_eq!(json["columns"][0]["detector"], "mean_shift");
    assert!(json["columns"][0]["stattest"].is_null());
}

#[test]
fn a_custom_detector_for_every_column_meets_the_public_kind_checks() {
    use std::sync::Arc;
    let profile = ReferenceProfile::from_columns(&batch(1, 800, 0.0)).unwrap();
    // One detector for all columns: it refuses the categorical ones, and the report says so.
    let options = DriftOptions::default().detector(Arc::new(MeanShift { limit: 0.5 }));
    let err = profile.drift(&batch(3, 600, 1.0), &options).unwrap_err();
    assert!(
        err.to_string().contains("MTRANS") && err.to_string().contains("numeric column"),
        "{err}"
    );
    // The kind check a detector needs is public and names the column and both kinds.
    let reference = ColumnSample::from_named(&num("Weight", vec![1.0, 2.0])).unwrap();
    let current = ColumnSample::from_named(&cat("Weight", &["a", "b"])).unwrap();
    match ColumnSample::check_pair(&reference, &current) {
        Err(MonitorError::KindMismatch {
            column,
            expected,
            found,
        }) => assert_eq!(
            (column.as_str(), expected.as_str(), found.as_str()),
            ("Weight", "numeric", "categorical")
        ),
        other => panic!("expected KindMismatch, got {other:?}"),
    }
    // Options with detectors stay comparable and printable; serializing skips the code.
    let a = DriftOptions::default().detector(Arc::new(MeanShift { limit: 0.5 }));
    assert_eq!(a.clone(), a);
    assert_ne!(a, DriftOptions::default());
    assert!(format!("{a:?}").contains("mean_shift"));
    let json = serde_json::to_string(&a).unwrap();
    assert!(!json.contains("mean_shift"), "{json}");
}

/// A detector written against `ColumnSample::pair` matches on the two values of one kind and
/// needs no arm of its own for mixed kinds (found by the facade's `custom_table` example).
#[test]
fn a_custom_detector_reads_both_samples_typed_by_their_kind() {
    use obesity_monitor::SamplePair;
    let numeric = ColumnSample::from_named(&num("Weight", vec![3.0, 1.0, 2.0])).unwrap();
    let shifted = ColumnSample::from_named(&num("Weight", vec![5.0, 4.0])).unwrap();
    let categorical = ColumnSample::from_named(&cat("Weight", &["a", "b", "a"])).unwrap();
    match ColumnSample::pair(&numeric, &shifted).unwrap() {
        SamplePair::Numeric { reference, current } => {
            assert_eq!(
                (reference, current),
                (&[1.0, 2.0, 3.0][..], &[4.0, 5.0][..])
            );
        }
        other => panic!("expected numeric, got {other:?}"),
    }
    match ColumnSample::pair(&categorical, &categorical).unwrap() {
        SamplePair::Categorical { reference, current } => {
            assert_eq!(reference, current);
            assert_eq!(reference.get("a"), Some(&2));
        }
        other => panic!("expected categorical, got {other:?}"),
    }
    let mixed = ColumnSample::pair(&numeric, &categorical).unwrap_err();
    assert!(
        matches!(mixed, MonitorError::KindMismatch { .. }),
        "{mixed}"
    );
    // The same checks as check_pair: an unsorted or non-finite sample is refused.
    let mut broken = numeric.clone();
    broken.values = obesity_monitor::SampleValues::Numeric {
        sorted: vec![2.0, 1.0],
    };
    assert!(ColumnSample::pair(&broken, &shifted).is_err());
    assert!(ColumnSample::check_pair(&broken, &shifted).is_err());
}
