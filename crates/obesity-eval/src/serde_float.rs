//! JSON has no NaN or infinity (serde_json writes them as `null`, which does not read back
//! into an `f64`). Fields that may be non-finite use this module through
//! `#[serde(with = "crate::serde_float")]`: finite values stay numbers; NaN, `+∞` and `−∞`
//! are written as the strings `"NaN"`, `"inf"` and `"-inf"`; reading accepts those strings,
//! numbers, and `null` (as NaN).

use serde::{Deserialize, Deserializer, Serializer};

pub(crate) fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    if v.is_finite() {
        s.serialize_f64(*v)
    } else if v.is_nan() {
        s.serialize_str("NaN")
    } else if *v > 0.0 {
        s.serialize_str("inf")
    } else {
        s.serialize_str("-inf")
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Repr {
    Number(f64),
    Text(String),
}

pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    match Option::<Repr>::deserialize(d)? {
        None => Ok(f64::NAN),
        Some(Repr::Number(v)) => Ok(v),
        Some(Repr::Text(t)) => match t.to_ascii_lowercase().as_str() {
            "nan" => Ok(f64::NAN),
            "inf" | "+inf" | "infinity" => Ok(f64::INFINITY),
            "-inf" | "-infinity" => Ok(f64::NEG_INFINITY),
            _ => Err(serde::de::Error::custom(format!(
                "expected a number, \"NaN\", \"inf\" or \"-inf\", got {t:?}"
            ))),
        },
    }
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Serialize, Deserialize)]
    struct W(#[serde(with = "super")] f64);

    #[test]
    fn non_finite_values_round_trip_through_json() {
        for v in [1.5, -0.0, f64::INFINITY, f64::NEG_INFINITY] {
            let text = serde_json::to_string(&W(v)).unwrap_or_default();
            let back: Option<W> = serde_json::from_str(&text).ok();
            assert_eq!(back.map(|w| w.0), Some(v), "{text}");
        }
        let text = serde_json::to_string(&W(f64::NAN)).unwrap_or_default();
        assert_eq!(text, "\"NaN\"");
        let back: Option<W> = serde_json::from_str(&text).ok();
        assert!(back.is_some_and(|w| w.0.is_nan()));
        let null: Option<W> = serde_json::from_str("null").ok();
        assert!(null.is_some_and(|w| w.0.is_nan()));
        assert!(serde_json::from_str::<W>("\"many\"").is_err());
    }
}
