//! Helpers shared by the test modules: JSON reference data and float comparison.

use serde_json::Value;

pub(crate) fn load_json(name: &str) -> Value {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {path}: {e}"))
}

/// A number from the reference JSON, where NaN and infinities are written as the strings
/// "nan", "inf" and "-inf".
pub(crate) fn num(v: &Value) -> f64 {
    match v {
        Value::String(s) if s == "nan" => f64::NAN,
        Value::String(s) if s == "inf" => f64::INFINITY,
        Value::String(s) if s == "-inf" => f64::NEG_INFINITY,
        other => other
            .as_f64()
            .unwrap_or_else(|| panic!("expected a number, got {other}")),
    }
}

pub(crate) fn nums(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap_or_else(|| panic!("expected an array, got {v}"))
        .iter()
        .map(num)
        .collect()
}

pub(crate) fn usizes(v: &Value) -> Vec<usize> {
    v.as_array()
        .unwrap_or_else(|| panic!("expected an array, got {v}"))
        .iter()
        .map(|x| x.as_u64().unwrap_or_else(|| panic!("not an integer: {x}")) as usize)
        .collect()
}

/// Equal to `tol`, NaN equal to NaN.
#[track_caller]
pub(crate) fn assert_close(got: f64, want: f64, tol: f64, what: &str) {
    if want.is_nan() {
        assert!(got.is_nan(), "{what}: expected NaN, got {got}");
    } else {
        assert!(
            (got - want).abs() <= tol,
            "{what}: got {got}, want {want} (diff {:e})",
            (got - want).abs()
        );
    }
}
