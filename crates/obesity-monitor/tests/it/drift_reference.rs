//! Agreement with scipy and Evidently on the seeded cases of
//! `scripts/drift_reference_values.py` (inputs and expected values in
//! `tests/data/drift_reference.json`): statistics to 1e-9, p-values to 1e-6.

use std::sync::OnceLock;

use obesity_data::{ColumnValues, NamedColumn};
use obesity_monitor::{
    ColumnSample, DriftDetector, DriftOptions, KsMethod, ReferenceProfile, StatTest,
    StatTestDetector, ks_2samp,
};
use serde_json::Value;

const STAT_TOL: f64 = 1e-9;
const P_TOL: f64 = 1e-6;

fn reference() -> &'static Value {
    static DATA: OnceLock<Value> = OnceLock::new();
    DATA.get_or_init(|| {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/drift_reference.json"
        );
        let text = std::fs::read_to_string(path).expect("reference JSON is committed");
        serde_json::from_str(&text).expect("reference JSON parses")
    })
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_str().expect("string").to_owned())
        .collect()
}

fn column(name: &str, numeric: bool, values: &Value) -> NamedColumn {
    NamedColumn {
        name: name.to_owned(),
        values: if numeric {
            ColumnValues::Numeric(floats(values))
        } else {
            ColumnValues::Categorical(strings(values))
        },
    }
}

/// A number of the JSON, where the script writes non-finite values as strings.
fn num(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) if s == "inf" => Some(f64::INFINITY),
        Value::String(s) if s == "-inf" => Some(f64::NEG_INFINITY),
        Value::String(s) if s == "nan" => Some(f64::NAN),
        _ => None,
    }
}

fn close(what: &str, got: f64, want: f64, tol: f64) {
    if want.is_infinite() {
        assert_eq!(got, want, "{what}");
        return;
    }
    assert!(
        (got - want).abs() <= tol,
        "{what}: got {got:e}, scipy/Evidently {want:e}, diff {:e} > {tol:e}",
        (got - want).abs()
    );
}

#[test]
fn ks_2samp_matches_scipy_statistic_and_p_value() {
    let cases = reference()["ks"].as_array().expect("ks cases");
    assert!(cases.len() >= 15);
    for case in cases {
        let name = case["name"].as_str().expect("name");
        let method = match case["method"].as_str().expect("method") {
            "auto" => KsMethod::Auto,
            "exact" => KsMethod::Exact,
            _ => KsMethod::Asymp,
        };
        let r = ks_2samp(&floats(&case["a"]), &floats(&case["b"]), method).expect("valid input");
        close(
            &format!("{name}: statistic"),
            r.statistic,
            case["statistic"].as_f64().unwrap(),
            STAT_TOL,
        );
        close(
            &format!("{name}: p-value"),
            r.p_value,
            case["p_value"].as_f64().unwrap(),
            P_TOL,
        );
        let want_p = case["p_value"].as_f64().unwrap();
        if want_p > 1e-300 {
            // Tiny p-values must also agree relatively, not just both be ~0.
            let rel = (r.p_value - want_p).abs() / want_p;
            assert!(rel < 1e-6, "{name}: relative p-value error {rel:e}");
        }
    }
}

#[test]
fn ks_auto_is_exact_up_to_10000_and_asymptotic_above() {
    let a: Vec<f64> = (0..10_000).map(|i| i as f64).collect();
    let b: Vec<f64> = (0..10_000).map(|i| i as f64 + 50.5).collect();
    assert_eq!(
        ks_2samp(&a, &b, KsMethod::Auto).unwrap().method,
        KsMethod::Exact
    );
    let c: Vec<f64> = (0..10_001).map(|i| i as f64).collect();
    assert_eq!(
        ks_2samp(&a, &c, KsMethod::Auto).unwrap().method,
        KsMethod::Asymp
    );
    // scipy's fallback: at D = 1/n the exact sum rounds outside [0, 1].
    let d: Vec<f64> = (0..2000).map(|i| i as f64).collect();
    let e: Vec<f64> = (0..2000).map(|i| i as f64 + 0.5).collect();
    assert_eq!(
        ks_2samp(&d, &e, KsMethod::Exact).unwrap().method,
        KsMethod::Asymp
    );
}

fn sample(case: &Value, side: &str) -> ColumnSample {
    let numeric = case["numeric"].as_bool().expect("numeric flag");
    ColumnSample::from_named(&column("x", numeric, &case[side])).expect("valid sample")
}

#[test]
fn evidently_stattests_match_on_every_case() {
    let cases = reference()["stattests"].as_array().expect("stattest cases");
    let mut checked = 0;
    for case in cases {
        let name = case["name"].as_str().expect("name");
        let (r, c) = (sample(case, "reference"), sample(case, "current"));
        for test in StatTest::ALL {
            let Some(want) = case.get(test.name()).and_then(Value::as_f64) else {
                continue;
            };
            let got = StatTestDetector::new(test)
                .detect(&r, &c)
                .expect("applicable test");
            let tol = if test.is_p_value() { P_TOL } else { STAT_TOL };
            close(&format!("{name}: {test}"), got.score, want, tol);
            let stat_key = format!("{}_statistic", test.name());
            if let Some(stat) = case.get(&stat_key).and_then(num) {
                close(
                    &format!("{name}: {test} statistic"),
                    got.statistic,
                    stat,
                    STAT_TOL,
                );
            }
            if let Some(ev) = case.get("evidently").and_then(|e| e.get(test.name())) {
                assert_eq!(
                    got.drifted,
                    ev["drifted"].as_bool().unwrap(),
                    "{name}: {test} verdict"
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 50, "only {checked} comparisons");
}

#[test]
fn data_drift_preset_matches_evidently_choice_scores_and_verdicts() {
    let cases = reference()["datasets"].as_array().expect("dataset cases");
    assert_eq!(
        cases.len(),
        4,
        "regenerate the JSON with Evidently installed"
    );
    for case in cases {
        let name = case["name"].as_str().expect("name");
        let cols = |side: &str| -> Vec<NamedColumn> {
            case[side]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| {
                    column(
                        c["name"].as_str().unwrap(),
                        c["numeric"].as_bool().unwrap(),
                        &c["values"],
                    )
                })
                .collect()
        };
        let profile = ReferenceProfile::from_columns(&cols("reference")).expect("profile");
        let report = profile
            .drift(&cols("current"), &DriftOptions::default())
            .expect("report");
        for (col, want) in case["columns"].as_object().unwrap() {
            let got = report
                .column(col)
                .unwrap_or_else(|| panic!("{name}: {col} missing"));
            assert_eq!(
                got.detector,
                want["stattest"].as_str().unwrap(),
                "{name}: {col} stattest"
            );
            close(
                &format!("{name}: {col} threshold"),
                got.threshold,
                want["threshold"].as_f64().unwrap(),
                0.0,
            );
            let tol = if got.stattest.expect("a built-in test").is_p_value() {
                P_TOL
            } else {
                STAT_TOL
            };
            close(
                &format!("{name}: {col} score"),
                got.score,
                want["score"].as_f64().unwrap(),
                tol,
            );
            assert_eq!(
                got.drifted,
                want["drifted"].as_bool().unwrap(),
                "{name}: {col} verdict"
            );
        }
        assert_eq!(
            report.number_of_drifted_columns as u64,
            case["number_of_drifted_columns"].as_u64().unwrap(),
            "{name}"
        );
        close(
            name,
            report.share_of_drifted_columns,
            case["share_of_drifted_columns"].as_f64().unwrap(),
            1e-15,
        );
        assert_eq!(
            report.dataset_drift,
            case["dataset_drift"].as_bool().unwrap(),
            "{name}"
        );
    }
}
