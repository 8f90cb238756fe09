//! The `/predict` and `/predict/batch` answers, written straight into the response buffer.
//!
//! The strings an answer repeats on every row (class names as values and as keys, the
//! version label) are escaped once, when a version is loaded ([`AnswerJson`]); a row is then
//! a few copies of those pieces, integers and floats. Numbers are written by serde_json's own
//! formatter, and a non-finite float as `null` as serde_json writes it, so the bytes are
//! exactly what serialising the answer structs with serde_json gives (the tests below check
//! that against the structs).

use serde_json::ser::{CompactFormatter, Formatter};

use crate::model::Prediction;
use crate::state::RequestId;

/// A model's answer strings, JSON-escaped once.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AnswerJson {
    /// Per class: `"name"`.
    names: Vec<Vec<u8>>,
    /// `"version"`.
    version: Vec<u8>,
}

/// `value` as a JSON string (quotes included).
pub(crate) fn quoted(value: &str) -> Vec<u8> {
    // A `&str` always serialises.
    serde_json::to_vec(value).unwrap_or_else(|_| b"\"\"".to_vec())
}

impl AnswerJson {
    pub(crate) fn new(classes: &[String], version_label: &str) -> Self {
        AnswerJson {
            names: classes.iter().map(|c| quoted(c)).collect(),
            version: quoted(version_label),
        }
    }

    /// Bytes a row of this model's answer takes, about (to size the buffer).
    pub(crate) fn row_len(&self) -> usize {
        160 + self.version.len() + self.names.iter().map(|n| 2 * n.len() + 14).sum::<usize>()
    }
}

/// A float as serde_json writes it: shortest round-trip digits, `null` when not finite.
/// Most of a forest's class probabilities are exactly 0 (and some exactly 1): those skip the
/// formatter (serde_json writes them `0.0` and `1.0`; `-0.0` takes the general path).
fn f32_into(buf: &mut Vec<u8>, v: f32) {
    if v.to_bits() == 0 {
        buf.extend_from_slice(b"0.0");
    } else if v == 1.0 {
        buf.extend_from_slice(b"1.0");
    } else if v.is_finite() {
        // Writing into a Vec cannot fail.
        let _ = CompactFormatter.write_f32(buf, v);
    } else {
        buf.extend_from_slice(b"null");
    }
}

pub(crate) fn f64_into(buf: &mut Vec<u8>, v: f64) {
    if v.is_finite() {
        let _ = CompactFormatter.write_f64(buf, v);
    } else {
        buf.extend_from_slice(b"null");
    }
}

pub(crate) fn u64_into(buf: &mut Vec<u8>, v: u64) {
    let _ = CompactFormatter.write_u64(buf, v);
}

/// One row's fields, `"prediction":...,"request_id":"..."` without braces: the prediction,
/// its index, the probabilities by class name, the confidence, the version, the variant
/// (`variant`: already a JSON string) and the request id.
pub(crate) fn row_fields_into(
    buf: &mut Vec<u8>,
    json: &AnswerJson,
    p: &Prediction,
    variant: &[u8],
    id: RequestId,
) {
    buf.extend_from_slice(b"\"prediction\":");
    buf.extend_from_slice(json.names.get(p.class).map_or(&b"\"\""[..], Vec::as_slice));
    buf.extend_from_slice(b",\"prediction_index\":");
    u64_into(buf, p.class as u64);
    buf.extend_from_slice(b",\"probabilities\":{");
    for (c, (name, &v)) in json.names.iter().zip(&p.proba).enumerate() {
        if c > 0 {
            buf.push(b',');
        }
        buf.extend_from_slice(name);
        buf.push(b':');
        f32_into(buf, v);
    }
    buf.extend_from_slice(b"},\"confidence\":");
    f32_into(buf, p.confidence);
    buf.extend_from_slice(b",\"model_version\":");
    buf.extend_from_slice(&json.version);
    buf.extend_from_slice(b",\"variant\":");
    buf.extend_from_slice(variant);
    buf.extend_from_slice(b",\"request_id\":\"");
    let (text, len) = id.to_bytes();
    buf.extend_from_slice(&text[..len]);
    buf.push(b'"');
}

/// The fields every answer ends with: `,"model_name":...,"latency_ms":...,"timestamp":...}`
/// (`model_name` already a JSON string).
pub(crate) fn tail_into(buf: &mut Vec<u8>, model_name: &[u8], latency_ms: f64, timestamp: &str) {
    buf.extend_from_slice(b",\"model_name\":");
    buf.extend_from_slice(model_name);
    buf.extend_from_slice(b",\"latency_ms\":");
    f64_into(buf, latency_ms);
    buf.extend_from_slice(b",\"timestamp\":");
    buf.extend_from_slice(&quoted(timestamp));
    buf.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::MAX_CLASSES;
    use serde::Serialize;
    use serde::ser::SerializeMap;

    // The answer structs the writer replaced, serialised by serde_json: the reference.
    struct ClassProbabilities<'a> {
        classes: &'a [String],
        proba: &'a [f32],
    }

    impl Serialize for ClassProbabilities<'_> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut map = s.serialize_map(Some(self.classes.len()))?;
            for (c, p) in self.classes.iter().zip(self.proba) {
                map.serialize_entry(c, p)?;
            }
            map.end()
        }
    }

    #[derive(Serialize)]
    struct RowAnswer<'a> {
        prediction: &'a str,
        prediction_index: usize,
        probabilities: ClassProbabilities<'a>,
        confidence: f32,
        model_version: &'a str,
        variant: &'a str,
        request_id: RequestId,
    }

    #[derive(Serialize)]
    struct BatchAnswer<'a> {
        predictions: Vec<RowAnswer<'a>>,
        batch_size: usize,
        model_name: &'a str,
        latency_ms: f64,
        timestamp: String,
    }

    #[derive(Serialize)]
    struct PredictAnswer<'a> {
        #[serde(flatten)]
        row: RowAnswer<'a>,
        model_name: &'a str,
        latency_ms: f64,
        timestamp: String,
    }

    fn prediction(seed: u32, k: usize) -> Prediction {
        let mut proba = [0.0f32; MAX_CLASSES];
        for (i, p) in proba[..k].iter_mut().enumerate() {
            let x = (seed as usize * 31 + i * 17) % 23;
            *p = match x {
                0 => 0.0,
                1 => 1.0,
                2 => f32::NAN,
                3 => 1e-7,
                4 => -0.0,
                _ => x as f32 / 23.0 * 0.999_999_9,
            };
        }
        Prediction {
            class: (seed as usize) % (k + 1),
            confidence: proba[0],
            proba,
        }
    }

    #[test]
    fn the_writer_writes_what_serde_json_writes() {
        let classes: Vec<String> = [
            "Insufficient_Weight",
            "Nor\"mal\\",
            "tab\there",
            "é ✓",
            "\u{1}x",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let k = classes.len();
        let json = AnswerJson::new(&classes, "12");
        let first = RequestId::for_tests(0x00ab_cdef, 0xfe);
        let preds: Vec<Prediction> = (0..40).map(|s| prediction(s, k)).collect();
        let variant = "champion";
        fn reference_row<'a>(
            classes: &'a [String],
            variant: &'a str,
            id: RequestId,
            p: &'a Prediction,
        ) -> RowAnswer<'a> {
            RowAnswer {
                prediction: classes.get(p.class).map_or("", String::as_str),
                prediction_index: p.class,
                probabilities: ClassProbabilities {
                    classes,
                    proba: &p.proba[..classes.len()],
                },
                confidence: p.confidence,
                model_version: "12",
                variant,
                request_id: id,
            }
        }
        let ts = "2026-12-05T23:45:34.320231Z";
        for latency in [0.046186, 12.0, f64::NAN] {
            let expected = serde_json::to_vec(&BatchAnswer {
                predictions: preds
                    .iter()
                    .enumerate()
                    .map(|(i, p)| reference_row(&classes, variant, first.offset(i), p))
                    .collect(),
                batch_size: preds.len(),
                model_name: "obesity-\"classifier\"",
                latency_ms: latency,
                timestamp: ts.to_owned(),
            })
            .unwrap();
            let mut got = Vec::new();
            got.extend_from_slice(b"{\"predictions\":[");
            for (i, p) in preds.iter().enumerate() {
                if i > 0 {
                    got.push(b',');
                }
                got.push(b'{');
                row_fields_into(&mut got, &json, p, &quoted(variant), first.offset(i));
                got.push(b'}');
            }
            got.extend_from_slice(b"],\"batch_size\":");
            u64_into(&mut got, preds.len() as u64);
            tail_into(&mut got, &quoted("obesity-\"classifier\""), latency, ts);
            assert_eq!(
                String::from_utf8(got).unwrap(),
                String::from_utf8(expected).unwrap()
            );

            let expected = serde_json::to_vec(&PredictAnswer {
                row: reference_row(&classes, variant, first.offset(3), &preds[3]),
                model_name: "m",
                latency_ms: latency,
                timestamp: ts.to_owned(),
            })
            .unwrap();
            let mut got = vec![b'{'];
            row_fields_into(
                &mut got,
                &json,
                &preds[3],
                &quoted(variant),
                first.offset(3),
            );
            tail_into(&mut got, &quoted("m"), latency, ts);
            assert_eq!(
                String::from_utf8(got).unwrap(),
                String::from_utf8(expected).unwrap()
            );
        }
    }
}
