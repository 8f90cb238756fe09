//! Request rows: raw named fields checked against a version's signature and turned into the
//! typed record its feature pipeline reads.
//!
//! Every wire format (the `/predict` JSON object, MLflow's records, splits and CSV, the Open
//! Inference Protocol's tensors) ends in the same [`RowBuilder`], so a value is validated in
//! exactly one place and every format names the same field with the same error code.
//!
//! `/predict` and `/predict/batch` are the hot path, so their bodies are not parsed into a
//! `serde_json::Value` first: a [`serde::de::DeserializeSeed`] walks the JSON once and feeds
//! each `name: value` pair straight into the builder (keys and strings borrowed from the body,
//! nothing allocated per field). The other formats are rarer and take the `Value` route.

use std::borrow::Cow;
use std::cell::Cell;
use std::collections::BTreeMap;
use std::fmt;

use obesity_data::{Frequency, Gender, ObesityRecord, Transport};
use obesity_monitor::FeatureValue;
use obesity_registry::{FieldType, Signature};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// The record fields a signature input can fill. The served pipeline reads
/// [`ObesityRecord`]s, so these are its 16 fields under their schema names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Gender,
    Age,
    Height,
    Weight,
    FamilyHistory,
    Favc,
    Fcvc,
    Ncp,
    Caec,
    Smoke,
    Ch2o,
    Scc,
    Faf,
    Tue,
    Calc,
    Mtrans,
}

const N_SLOTS: usize = 16;

impl Slot {
    const ALL: [Slot; N_SLOTS] = [
        Slot::Gender,
        Slot::Age,
        Slot::Height,
        Slot::Weight,
        Slot::FamilyHistory,
        Slot::Favc,
        Slot::Fcvc,
        Slot::Ncp,
        Slot::Caec,
        Slot::Smoke,
        Slot::Ch2o,
        Slot::Scc,
        Slot::Faf,
        Slot::Tue,
        Slot::Calc,
        Slot::Mtrans,
    ];

    fn name(self) -> &'static str {
        match self {
            Slot::Gender => "Gender",
            Slot::Age => "Age",
            Slot::Height => "Height",
            Slot::Weight => "Weight",
            Slot::FamilyHistory => "family_history_with_overweight",
            Slot::Favc => "FAVC",
            Slot::Fcvc => "FCVC",
            Slot::Ncp => "NCP",
            Slot::Caec => "CAEC",
            Slot::Smoke => "SMOKE",
            Slot::Ch2o => "CH2O",
            Slot::Scc => "SCC",
            Slot::Faf => "FAF",
            Slot::Tue => "TUE",
            Slot::Calc => "CALC",
            Slot::Mtrans => "MTRANS",
        }
    }

    fn is_numeric(self) -> bool {
        matches!(
            self,
            Slot::Age
                | Slot::Height
                | Slot::Weight
                | Slot::Fcvc
                | Slot::Ncp
                | Slot::Ch2o
                | Slot::Faf
                | Slot::Tue
        )
    }

    /// The record's code of a categorical level spelling (the enum index; 1 for `yes`).
    fn code_of(self, level: &str) -> Option<u8> {
        let code = match self {
            Slot::Gender => Gender::parse(level)?.index(),
            Slot::Caec | Slot::Calc => Frequency::parse(level)?.index(),
            Slot::Mtrans => Transport::parse(level)?.index(),
            Slot::FamilyHistory | Slot::Favc | Slot::Smoke | Slot::Scc => match level {
                "yes" => 1,
                "no" => 0,
                _ => return None,
            },
            _ => return None,
        };
        u8::try_from(code).ok()
    }

    /// The value of this field in `record`: the number, or the level's code.
    fn read(self, r: &ObesityRecord) -> f64 {
        match self {
            Slot::Gender => r.gender.index() as f64,
            Slot::Age => r.age,
            Slot::Height => r.height,
            Slot::Weight => r.weight,
            Slot::FamilyHistory => f64::from(u8::from(r.family_history_with_overweight)),
            Slot::Favc => f64::from(u8::from(r.favc)),
            Slot::Fcvc => r.fcvc,
            Slot::Ncp => r.ncp,
            Slot::Caec => r.caec.index() as f64,
            Slot::Smoke => f64::from(u8::from(r.smoke)),
            Slot::Ch2o => r.ch2o,
            Slot::Scc => f64::from(u8::from(r.scc)),
            Slot::Faf => r.faf,
            Slot::Tue => r.tue,
            Slot::Calc => r.calc.index() as f64,
            Slot::Mtrans => r.mtrans.index() as f64,
        }
    }
}

/// The domain of one input field, from the signature.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum FieldKind {
    /// A finite number within the bounds given.
    Numeric { min: Option<f64>, max: Option<f64> },
    /// One of `levels`; `codes[i]` is the record's code of `levels[i]`.
    Categorical { levels: Vec<String>, codes: Vec<u8> },
}

/// One input field of the served signature.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Field {
    pub(crate) name: String,
    pub(crate) kind: FieldKind,
    slot: Slot,
}

impl Field {
    pub(crate) fn is_numeric(&self) -> bool {
        matches!(self.kind, FieldKind::Numeric { .. })
    }
}

/// A version's input fields, compiled from its signature for the request path.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RowSchema {
    fields: Vec<Field>,
    /// `by_slot[slot as usize]` = index into `fields`.
    by_slot: [usize; N_SLOTS],
}

impl RowSchema {
    /// Compiles a signature. Fails (with a reason for the operator) when an input is not a
    /// field of the record the pipeline reads, a record field has no input, a numeric field
    /// is categorical in the signature or the reverse, or a level has no record code.
    pub(crate) fn new(signature: &Signature) -> Result<Self, String> {
        let mut by_slot = [usize::MAX; N_SLOTS];
        let mut fields = Vec::with_capacity(signature.inputs.len());
        for (i, input) in signature.inputs.iter().enumerate() {
            let slot = Slot::ALL
                .into_iter()
                .find(|s| s.name() == input.name)
                .ok_or_else(|| {
                    format!(
                        "signature input {:?} is not a column the feature pipeline reads",
                        input.name
                    )
                })?;
            let kind = match (&input.field_type, slot.is_numeric()) {
                (FieldType::Numeric { min, max }, true) => FieldKind::Numeric {
                    min: *min,
                    max: *max,
                },
                (FieldType::Categorical { levels }, false) => {
                    let codes = levels
                        .iter()
                        .map(|l| {
                            slot.code_of(l).ok_or_else(|| {
                                format!(
                                    "level {l:?} of input {:?} is unknown to the pipeline",
                                    input.name
                                )
                            })
                        })
                        .collect::<Result<Vec<u8>, String>>()?;
                    FieldKind::Categorical {
                        levels: levels.clone(),
                        codes,
                    }
                }
                (_, numeric) => {
                    return Err(format!(
                        "signature input {:?} is {} but the pipeline reads it as {}",
                        input.name,
                        if numeric { "categorical" } else { "numeric" },
                        if numeric { "a number" } else { "a category" }
                    ));
                }
            };
            by_slot[slot as usize] = i;
            fields.push(Field {
                name: input.name.clone(),
                kind,
                slot,
            });
        }
        if let Some(missing) = Slot::ALL
            .iter()
            .find(|s| by_slot[**s as usize] == usize::MAX)
        {
            return Err(format!(
                "the signature has no input {:?}, which the feature pipeline needs",
                missing.name()
            ));
        }
        Ok(RowSchema { fields, by_slot })
    }

    /// The fields, in signature order.
    pub(crate) fn fields(&self) -> &[Field] {
        &self.fields
    }

    /// The index of the field called `name`.
    pub(crate) fn index_of(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|f| f.name == name)
    }

    /// A fresh builder for one row, guessing fields in signature order.
    pub(crate) fn builder(&self) -> RowBuilder<'_> {
        self.builder_with(KeyOrder::SIGNATURE)
    }

    /// A fresh builder for one row, guessing fields in the order `order` learned.
    fn builder_with(&self, order: KeyOrder) -> RowBuilder<'_> {
        RowBuilder {
            schema: self,
            values: [0.0; N_SLOTS],
            seen: 0,
            prev: 0,
            order,
        }
    }

    /// The index of the field whose name is the bytes `name`.
    fn index_of_bytes(&self, name: &[u8]) -> Option<usize> {
        self.fields.iter().position(|f| f.name.as_bytes() == name)
    }

    /// The raw named values of a record, as A/B segment rules read them.
    pub(crate) fn feature_values(&self, record: &ObesityRecord) -> BTreeMap<String, FeatureValue> {
        self.fields
            .iter()
            .map(|f| {
                let v = f.slot.read(record);
                let value = match &f.kind {
                    FieldKind::Numeric { .. } => FeatureValue::Number(v),
                    FieldKind::Categorical { levels, codes } => {
                        let at = codes.iter().position(|&c| f64::from(c) == v);
                        FeatureValue::Category(
                            at.and_then(|i| levels.get(i)).cloned().unwrap_or_default(),
                        )
                    }
                };
                (f.name.clone(), value)
            })
            .collect()
    }
}

/// A request value as the builder sees it, whatever the wire format.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Scalar<'a> {
    Num(f64),
    Str(&'a str),
    Bool(bool),
    Null,
    Array,
    Object,
}

impl Scalar<'_> {
    fn kind(&self) -> &'static str {
        match self {
            Scalar::Num(_) => "a number",
            Scalar::Str(_) => "a string",
            Scalar::Bool(_) => "a boolean",
            Scalar::Null => "null",
            Scalar::Array => "an array",
            Scalar::Object => "an object",
        }
    }

    pub(crate) fn from_json(v: &serde_json::Value) -> Scalar<'_> {
        match v {
            serde_json::Value::Null => Scalar::Null,
            serde_json::Value::Bool(b) => Scalar::Bool(*b),
            // Every JSON number fits an f64 (the large ones lose digits, then fail the range).
            serde_json::Value::Number(n) => Scalar::Num(n.as_f64().unwrap_or(f64::NAN)),
            serde_json::Value::String(s) => Scalar::Str(s),
            serde_json::Value::Array(_) => Scalar::Array,
            serde_json::Value::Object(_) => Scalar::Object,
        }
    }
}

/// The order a client sends fields in, learned as rows arrive: `next[p]` is the field that
/// followed field `p - 1` last time (`next[0]`: the first field). Clients send one order for
/// every row (the signature's, or sorted names, or their own), so after the first row of a
/// batch every name is found with one comparison instead of a search over the names.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeyOrder {
    next: [u8; N_SLOTS + 1],
}

impl KeyOrder {
    /// The signature's order: field `p` follows field `p - 1`.
    const SIGNATURE: KeyOrder = {
        let mut next = [0u8; N_SLOTS + 1];
        let mut p = 0;
        while p <= N_SLOTS {
            next[p] = p as u8;
            p += 1;
        }
        KeyOrder { next }
    };
}

/// Collects one row's fields, validating each as it arrives.
#[derive(Debug)]
pub(crate) struct RowBuilder<'s> {
    schema: &'s RowSchema,
    /// By field index: the number, or the level's record code.
    values: [f64; N_SLOTS],
    seen: u32,
    /// One more than the index of the last field set by name (0 before the first).
    prev: usize,
    /// The guess of which field comes next (see [`KeyOrder`]).
    order: KeyOrder,
}

impl RowBuilder<'_> {
    /// Sets the field called `name`.
    pub(crate) fn set(&mut self, name: &str, value: Scalar<'_>) -> Result<(), ApiError> {
        self.set_named(name.as_bytes(), value)
    }

    /// Sets the field whose name is the bytes `name` (a JSON key as the body spells it, not
    /// checked as UTF-8: it only has to equal a field name, which is).
    fn set_named(&mut self, name: &[u8], value: Scalar<'_>) -> Result<(), ApiError> {
        let guess = usize::from(self.order.next[self.prev]);
        let i = match self.schema.fields.get(guess) {
            Some(f) if f.name.as_bytes() == name => guess,
            _ => match self.schema.index_of_bytes(name) {
                Some(i) => {
                    self.order.next[self.prev] = i as u8;
                    i
                }
                None => return Err(unknown_feature(self.schema, name)),
            },
        };
        self.prev = i + 1;
        self.set_index(i, value)
    }

    /// Sets field `i` (signature order).
    pub(crate) fn set_index(&mut self, i: usize, value: Scalar<'_>) -> Result<(), ApiError> {
        let Some(field) = self.schema.fields.get(i) else {
            return Err(ApiError::internal(format!("field index {i} out of range")));
        };
        if self.seen & (1 << i) != 0 {
            return Err(ApiError::bad_request(
                "duplicate_feature",
                format!("feature {:?} is given twice", field.name),
            )
            .field(field.name.clone()));
        }
        let stored = match (&field.kind, value) {
            (FieldKind::Numeric { min, max }, Scalar::Num(x)) => {
                check_range(field, x, *min, *max)?;
                x
            }
            (FieldKind::Categorical { levels, codes }, Scalar::Str(s)) => {
                match levels.iter().position(|l| l == s) {
                    Some(at) => f64::from(codes[at]),
                    None => {
                        return Err(ApiError::invalid(
                            "unknown_category",
                            format!(
                                "{s:?} is not a level of {}; expected one of {}",
                                field.name,
                                levels.join(", ")
                            ),
                        )
                        .field(field.name.clone()));
                    }
                }
            }
            (FieldKind::Numeric { .. }, other) => return Err(wrong_type(field, "a number", other)),
            (FieldKind::Categorical { levels, .. }, other) => {
                return Err(wrong_type(
                    field,
                    &format!("a string, one of {}", levels.join(", ")),
                    other,
                ));
            }
        };
        self.values[i] = stored;
        self.seen |= 1 << i;
        Ok(())
    }

    /// Sets field `i` from text (a CSV cell): numbers are parsed, levels taken as they are.
    pub(crate) fn set_text(&mut self, i: usize, text: &str) -> Result<(), ApiError> {
        let numeric = self.schema.fields.get(i).is_some_and(Field::is_numeric);
        if numeric {
            match text.trim().parse::<f64>() {
                Ok(x) => self.set_index(i, Scalar::Num(x)),
                Err(_) => {
                    let name = self.schema.fields[i].name.clone();
                    Err(ApiError::invalid(
                        "wrong_type",
                        format!("{name} must be a number, got {text:?}"),
                    )
                    .field(name))
                }
            }
        } else {
            self.set_index(i, Scalar::Str(text))
        }
    }

    /// The order learned so far, for the next row's builder.
    fn order(&self) -> KeyOrder {
        self.order
    }

    /// The finished record; names the first missing field in signature order.
    pub(crate) fn finish(self) -> Result<ObesityRecord, ApiError> {
        let n = self.schema.fields.len();
        if let Some(missing) = (0..n).find(|&i| self.seen & (1 << i) == 0) {
            let name = &self.schema.fields[missing].name;
            return Err(ApiError::invalid(
                "missing_feature",
                format!("required feature {name:?} is missing"),
            )
            .field(name.clone()));
        }
        let get = |slot: Slot| self.values[self.schema.by_slot[slot as usize]];
        let code = |slot: Slot| get(slot) as usize;
        let flag = |slot: Slot| code(slot) == 1;
        let bad = |slot: Slot| ApiError::internal(format!("no record level for code of {slot:?}"));
        Ok(ObesityRecord {
            gender: Gender::from_index(code(Slot::Gender)).ok_or_else(|| bad(Slot::Gender))?,
            age: get(Slot::Age),
            height: get(Slot::Height),
            weight: get(Slot::Weight),
            family_history_with_overweight: flag(Slot::FamilyHistory),
            favc: flag(Slot::Favc),
            fcvc: get(Slot::Fcvc),
            ncp: get(Slot::Ncp),
            caec: Frequency::from_index(code(Slot::Caec)).ok_or_else(|| bad(Slot::Caec))?,
            smoke: flag(Slot::Smoke),
            ch2o: get(Slot::Ch2o),
            scc: flag(Slot::Scc),
            faf: get(Slot::Faf),
            tue: get(Slot::Tue),
            calc: Frequency::from_index(code(Slot::Calc)).ok_or_else(|| bad(Slot::Calc))?,
            mtrans: Transport::from_index(code(Slot::Mtrans)).ok_or_else(|| bad(Slot::Mtrans))?,
            target: None,
        })
    }
}

fn unknown_feature(schema: &RowSchema, name: &[u8]) -> ApiError {
    let name = String::from_utf8_lossy(name);
    ApiError::invalid(
        "unknown_feature",
        format!(
            "unknown feature {name:?}; the model takes {}",
            schema
                .fields
                .iter()
                .map(|f| f.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    )
    .field(name.into_owned())
}

fn check_range(field: &Field, x: f64, min: Option<f64>, max: Option<f64>) -> Result<(), ApiError> {
    let out =
        |message: String| ApiError::invalid("out_of_range", message).field(field.name.clone());
    if !x.is_finite() {
        return Err(out(format!("{} must be a finite number", field.name)));
    }
    if let Some(lo) = min
        && x < lo
    {
        return Err(out(format!(
            "{} = {x} is below the minimum {lo}",
            field.name
        )));
    }
    if let Some(hi) = max
        && x > hi
    {
        return Err(out(format!(
            "{} = {x} is above the maximum {hi}",
            field.name
        )));
    }
    Ok(())
}

fn wrong_type(field: &Field, expected: &str, got: Scalar<'_>) -> ApiError {
    ApiError::invalid(
        "wrong_type",
        format!("{} must be {expected}, got {}", field.name, got.kind()),
    )
    .field(field.name.clone())
}

// ------------------------------------------------------------------------------------------
// Streaming JSON for /predict and /predict/batch.

/// Where a seed leaves the first validation error, so the caller can answer with it instead
/// of serde's generic message. (serde's error type carries only a string.)
pub(crate) type Stash = Cell<Option<ApiError>>;

fn stash<E: de::Error>(stash: &Stash, error: ApiError) -> E {
    let message = error.message().to_owned();
    stash.set(Some(error));
    E::custom(message)
}

/// A map key, borrowed from the body unless it had escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// A feature name as the body spells it (escapes undone), borrowed unless it had escapes.
/// Read as bytes: serde_json then skips the UTF-8 check a `str` needs, and the name only
/// has to equal a field name.
struct FieldKey<'de>(Cow<'de, [u8]>);

impl<'de> Deserialize<'de> for FieldKey<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = FieldKey<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_borrowed_bytes<E: de::Error>(self, v: &'de [u8]) -> Result<FieldKey<'de>, E> {
                Ok(FieldKey(Cow::Borrowed(v)))
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<FieldKey<'de>, E> {
                Ok(FieldKey(Cow::Owned(v.to_vec())))
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<FieldKey<'de>, E> {
                Ok(FieldKey(Cow::Borrowed(v.as_bytes())))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<FieldKey<'de>, E> {
                Ok(FieldKey(Cow::Owned(v.as_bytes().to_vec())))
            }
        }
        d.deserialize_bytes(V)
    }
}

/// Any JSON value, kept only as far as a field needs it.
enum Raw<'de> {
    Num(f64),
    Str(Cow<'de, str>),
    Bool(bool),
    Null,
    Array,
    Object,
}

impl Raw<'_> {
    fn scalar(&self) -> Scalar<'_> {
        match self {
            Raw::Num(x) => Scalar::Num(*x),
            Raw::Str(s) => Scalar::Str(s),
            Raw::Bool(b) => Scalar::Bool(*b),
            Raw::Null => Scalar::Null,
            Raw::Array => Scalar::Array,
            Raw::Object => Scalar::Object,
        }
    }
}

impl<'de> Deserialize<'de> for Raw<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Raw<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Raw<'de>, E> {
                Ok(Raw::Bool(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Raw<'de>, E> {
                Ok(Raw::Num(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Raw<'de>, E> {
                Ok(Raw::Num(v as f64))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Raw<'de>, E> {
                Ok(Raw::Num(v))
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Raw<'de>, E> {
                Ok(Raw::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Raw<'de>, E> {
                Ok(Raw::Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Raw<'de>, E> {
                Ok(Raw::Str(Cow::Owned(v)))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Raw<'de>, E> {
                Ok(Raw::Null)
            }
            fn visit_none<E: de::Error>(self) -> Result<Raw<'de>, E> {
                Ok(Raw::Null)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Raw<'de>, D::Error> {
                Raw::deserialize(d)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Raw<'de>, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Raw::Array)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Raw<'de>, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Raw::Object)
            }
        }
        d.deserialize_any(V)
    }
}

/// Deserialises one `{"name": value, ...}` object into a record.
struct RowSeed<'a> {
    schema: &'a RowSchema,
    stash: &'a Stash,
    /// The key order learned from the rows before (updated by this one).
    order: &'a Cell<KeyOrder>,
}

impl<'de> DeserializeSeed<'de> for RowSeed<'_> {
    type Value = ObesityRecord;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<ObesityRecord, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RowSeed<'_> {
    type Value = ObesityRecord;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of named features")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ObesityRecord, A::Error> {
        let mut row = self.schema.builder_with(self.order.get());
        while let Some(FieldKey(name)) = map.next_key()? {
            let value: Raw<'de> = map.next_value()?;
            row.set_named(&name, value.scalar())
                .map_err(|e| stash(self.stash, e))?;
        }
        self.order.set(row.order());
        row.finish().map_err(|e| stash(self.stash, e))
    }
}

/// Deserialises `[{...}, {...}]` into records, at most `max_rows`.
struct RowsSeed<'a> {
    schema: &'a RowSchema,
    stash: &'a Stash,
    max_rows: usize,
    path: &'static str,
}

impl<'de> DeserializeSeed<'de> for RowsSeed<'_> {
    type Value = Vec<ObesityRecord>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for RowsSeed<'_> {
    type Value = Vec<ObesityRecord>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of feature objects")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut rows = Vec::with_capacity(seq.size_hint().unwrap_or(16).min(self.max_rows));
        let order = Cell::new(KeyOrder::SIGNATURE);
        loop {
            let i = rows.len();
            let seed = RowSeed {
                schema: self.schema,
                stash: self.stash,
                order: &order,
            };
            match seq.next_element_seed(seed) {
                Ok(Some(row)) => {
                    if rows.len() == self.max_rows {
                        return Err(stash(self.stash, too_many_rows(self.path, self.max_rows)));
                    }
                    rows.push(row);
                }
                Ok(None) => return Ok(rows),
                Err(e) => {
                    // Name the row; the error itself goes on unchanged, so a syntax error
                    // stays one (see `parse_with`).
                    let at = format!("{}[{i}]", self.path);
                    let api = match self.stash.take() {
                        Some(api) => api.within(&at),
                        None => ApiError::bad_request("wrong_type", e.to_string()).field(at),
                    };
                    self.stash.set(Some(api));
                    return Err(e);
                }
            }
        }
    }
}

pub(crate) fn too_many_rows(path: &str, max: usize) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::PAYLOAD_TOO_LARGE,
        "too_many_rows",
        format!("at most {max} rows per request"),
    )
    .field(path.to_owned())
}

/// A user id: a string, or a number taken as its decimal text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub(crate) struct UserId(pub(crate) String);

impl<'de> Deserialize<'de> for UserId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = UserId;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a user id (string or integer)")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<UserId, E> {
                Ok(UserId(v.to_owned()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<UserId, E> {
                Ok(UserId(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<UserId, E> {
                Ok(UserId(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// The body of `POST /predict`.
#[derive(Debug)]
pub(crate) struct PredictRequest {
    pub(crate) record: ObesityRecord,
    pub(crate) user_id: Option<String>,
    pub(crate) experiment: Option<String>,
}

/// The body of `POST /predict/batch`.
#[derive(Debug)]
pub(crate) struct BatchRequest {
    pub(crate) records: Vec<ObesityRecord>,
    pub(crate) user_ids: Option<Vec<Option<String>>>,
    pub(crate) experiment: Option<String>,
}

/// Reads one value of a top-level key, naming the key if its value has the wrong shape.
fn value_of<'de, A, T>(map: &mut A, stash_: &Stash, key: &str) -> Result<T, A::Error>
where
    A: MapAccess<'de>,
    T: Deserialize<'de>,
{
    map.next_value::<T>().map_err(|e| {
        if stash_.take().is_none() {
            stash_.set(Some(
                ApiError::bad_request("wrong_type", format!("{key}: {e}")).field(key.to_owned()),
            ));
        }
        e
    })
}

fn unknown_field(key: &str, expected: &str) -> ApiError {
    ApiError::bad_request(
        "unknown_field",
        format!("unknown field {key:?}; expected {expected}"),
    )
    .field(key.to_owned())
}

struct PredictSeed<'a> {
    schema: &'a RowSchema,
    stash: &'a Stash,
}

impl<'de> Visitor<'de> for PredictSeed<'_> {
    type Value = PredictRequest;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object {\"features\": {...}, \"user_id\": ..., \"experiment_name\": ...}")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<PredictRequest, A::Error> {
        let mut record = None;
        let mut user_id = None;
        let mut experiment = None;
        while let Some(Key(key)) = map.next_key()? {
            match &*key {
                "features" => {
                    let order = Cell::new(KeyOrder::SIGNATURE);
                    let seed = RowSeed {
                        schema: self.schema,
                        stash: self.stash,
                        order: &order,
                    };
                    match map.next_value_seed(seed) {
                        Ok(r) => record = Some(r),
                        Err(e) => {
                            let api = match self.stash.take() {
                                Some(api) => api.within("features"),
                                None => ApiError::bad_request("wrong_type", e.to_string())
                                    .field("features"),
                            };
                            self.stash.set(Some(api));
                            return Err(e);
                        }
                    }
                }
                "user_id" => {
                    user_id =
                        value_of::<_, Option<UserId>>(&mut map, self.stash, "user_id")?.map(|u| u.0)
                }
                "experiment_name" => {
                    experiment =
                        value_of::<_, Option<String>>(&mut map, self.stash, "experiment_name")?
                }
                other => {
                    return Err(stash(
                        self.stash,
                        unknown_field(other, "features, user_id, experiment_name"),
                    ));
                }
            }
        }
        let record = record.ok_or_else(|| {
            stash(
                self.stash,
                ApiError::bad_request("missing_field", "the body has no \"features\" object")
                    .field("features"),
            )
        })?;
        Ok(PredictRequest {
            record,
            user_id,
            experiment,
        })
    }
}

struct BatchSeed<'a> {
    schema: &'a RowSchema,
    stash: &'a Stash,
    max_rows: usize,
}

impl<'de> Visitor<'de> for BatchSeed<'_> {
    type Value = BatchRequest;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object {\"batch_features\": [...], \"user_ids\": [...]}")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<BatchRequest, A::Error> {
        let mut records = None;
        let mut user_ids = None;
        let mut experiment = None;
        while let Some(Key(key)) = map.next_key()? {
            match &*key {
                "batch_features" => {
                    let seed = RowsSeed {
                        schema: self.schema,
                        stash: self.stash,
                        max_rows: self.max_rows,
                        path: "batch_features",
                    };
                    match map.next_value_seed(seed) {
                        Ok(r) => records = Some(r),
                        Err(e) => {
                            let api = self.stash.take().unwrap_or_else(|| {
                                ApiError::bad_request("wrong_type", e.to_string())
                                    .field("batch_features")
                            });
                            self.stash.set(Some(api));
                            return Err(e);
                        }
                    }
                }
                "user_ids" => {
                    let ids: Option<Vec<Option<UserId>>> =
                        value_of(&mut map, self.stash, "user_ids")?;
                    user_ids = ids.map(|v| v.into_iter().map(|u| u.map(|u| u.0)).collect());
                }
                "experiment_name" => {
                    experiment =
                        value_of::<_, Option<String>>(&mut map, self.stash, "experiment_name")?
                }
                other => {
                    return Err(stash(
                        self.stash,
                        unknown_field(other, "batch_features, user_ids, experiment_name"),
                    ));
                }
            }
        }
        let records: Vec<ObesityRecord> = records.ok_or_else(|| {
            stash(
                self.stash,
                ApiError::bad_request("missing_field", "the body has no \"batch_features\" array")
                    .field("batch_features"),
            )
        })?;
        Ok(BatchRequest {
            records,
            user_ids,
            experiment,
        })
    }
}

/// Runs a top-level visitor over a body and turns every failure into an [`ApiError`].
fn parse_with<'de, V>(body: &'de [u8], stash_: &Stash, visitor: V) -> Result<V::Value, ApiError>
where
    V: Visitor<'de>,
{
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = de
        .deserialize_map(visitor)
        .and_then(|v| de.end().map(|()| v));
    value.map_err(|e| {
        // A syntax error is reported as one even when a visitor already named the field it
        // was reading: the body is not JSON, whatever it was meant to say.
        let stashed = stash_.take();
        match (e.classify(), stashed) {
            (serde_json::error::Category::Data, Some(api)) => api,
            _ => json_error(&e),
        }
    })
}

/// A serde_json error as a client error: a syntax error is `malformed_json`; valid JSON of
/// the wrong shape is `invalid_body`. Both 400.
pub(crate) fn json_error(e: &serde_json::Error) -> ApiError {
    use serde_json::error::Category;
    match e.classify() {
        Category::Syntax | Category::Eof | Category::Io => {
            ApiError::bad_request("malformed_json", format!("malformed JSON: {e}"))
        }
        Category::Data => ApiError::bad_request("invalid_body", format!("invalid body: {e}")),
    }
}

/// Parses a `/predict` body.
pub(crate) fn parse_predict(body: &[u8], schema: &RowSchema) -> Result<PredictRequest, ApiError> {
    let stash_ = Stash::new(None);
    parse_with(
        body,
        &stash_,
        PredictSeed {
            schema,
            stash: &stash_,
        },
    )
}

/// Parses a `/predict/batch` body, refusing more than `max_rows` rows, no rows, and a
/// `user_ids` list of another length.
pub(crate) fn parse_batch(
    body: &[u8],
    schema: &RowSchema,
    max_rows: usize,
) -> Result<BatchRequest, ApiError> {
    let stash_ = Stash::new(None);
    let batch = parse_with(
        body,
        &stash_,
        BatchSeed {
            schema,
            stash: &stash_,
            max_rows,
        },
    )?;
    if batch.records.is_empty() {
        return Err(
            ApiError::invalid("empty_batch", "batch_features has no rows").field("batch_features"),
        );
    }
    if let Some(ids) = &batch.user_ids
        && ids.len() != batch.records.len()
    {
        return Err(ApiError::invalid(
            "length_mismatch",
            format!(
                "user_ids has {} entries for {} rows",
                ids.len(),
                batch.records.len()
            ),
        )
        .field("user_ids"));
    }
    Ok(batch)
}

/// Builds a record from a JSON object (MLflow records, `instances`).
pub(crate) fn row_from_object(
    schema: &RowSchema,
    object: &serde_json::Map<String, serde_json::Value>,
) -> Result<ObesityRecord, ApiError> {
    let mut row = schema.builder();
    for (k, v) in object {
        row.set(k, Scalar::from_json(v))?;
    }
    row.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use obesity_data::Schema;

    fn schema() -> RowSchema {
        RowSchema::new(&Signature::from_schema(&Schema::obesity()).unwrap()).unwrap()
    }

    const ROW: &str = r#"{"Gender":"Male","Age":23,"Height":1.8,"Weight":77,
        "family_history_with_overweight":"yes","FAVC":"no","FCVC":2,"NCP":3,"CAEC":"Sometimes",
        "SMOKE":"no","CH2O":2,"SCC":"no","FAF":1,"TUE":1,"CALC":"no","MTRANS":"Walking"}"#;

    #[test]
    fn a_valid_row_becomes_the_record() {
        let body = format!(r#"{{"features": {ROW}, "user_id": 17}}"#);
        let req = parse_predict(body.as_bytes(), &schema()).unwrap();
        assert_eq!(req.record.gender, Gender::Male);
        assert_eq!(req.record.weight, 77.0);
        assert!(req.record.family_history_with_overweight && !req.record.favc);
        assert_eq!(req.record.mtrans, Transport::Walking);
        assert_eq!(req.user_id.as_deref(), Some("17"));
    }

    #[test]
    fn escaped_keys_and_values_are_read_too() {
        let body = format!(
            r#"{{"features": {}}}"#,
            ROW.replace("\"Age\"", "\"A\\u0067e\"")
        );
        let req = parse_predict(body.as_bytes(), &schema()).unwrap();
        assert_eq!(req.record.age, 23.0);
    }

    #[test]
    fn every_bad_value_names_its_field() {
        let cases = [
            (
                ROW.replace("\"Age\":23", "\"Age\":\"23\""),
                "wrong_type",
                "features.Age",
            ),
            (
                ROW.replace("\"Age\":23", "\"Age\":230"),
                "out_of_range",
                "features.Age",
            ),
            (
                ROW.replace("Walking", "Teleport"),
                "unknown_category",
                "features.MTRANS",
            ),
            (
                ROW.replace("\"Age\":23,", ""),
                "missing_feature",
                "features.Age",
            ),
            (
                ROW.replace("\"Age\":23", "\"Age\":23,\"Shoe\":4"),
                "unknown_feature",
                "features.Shoe",
            ),
            (
                ROW.replace("\"Age\":23", "\"Age\":23,\"Age\":24"),
                "duplicate_feature",
                "features.Age",
            ),
        ];
        for (row, code, field) in cases {
            let body = format!(r#"{{"features": {row}}}"#);
            let e = parse_predict(body.as_bytes(), &schema()).unwrap_err();
            assert_eq!((e.code(), e.field_name()), (code, Some(field)), "{row}");
        }
    }

    /// Rows whose keys come in another order than the signature's (sorted, as many clients
    /// write them), or in a different order on every row, read the same records.
    #[test]
    fn any_key_order_reads_the_same_rows() {
        let value: serde_json::Value = serde_json::from_str(ROW).unwrap();
        let sorted = serde_json::to_string(&value).unwrap(); // serde_json's map sorts keys
        let reversed = {
            let object = value.as_object().unwrap();
            let parts: Vec<String> = object
                .iter()
                .rev()
                .map(|(k, v)| format!("{}:{v}", serde_json::to_string(k).unwrap()))
                .collect();
            format!("{{{}}}", parts.join(","))
        };
        let body =
            format!(r#"{{"batch_features": [{ROW}, {sorted}, {sorted}, {reversed}, {ROW}]}}"#);
        let batch = parse_batch(body.as_bytes(), &schema(), 10).unwrap();
        let expected = parse_predict(format!(r#"{{"features": {ROW}}}"#).as_bytes(), &schema())
            .unwrap()
            .record;
        assert_eq!(batch.records.len(), 5);
        for r in &batch.records {
            assert_eq!(r, &expected);
        }
        let bad = sorted.replace("\"Age\":23", "\"Age\":23,\"Shoe\":4");
        let body = format!(r#"{{"batch_features": [{sorted}, {bad}]}}"#);
        let e = parse_batch(body.as_bytes(), &schema(), 10).unwrap_err();
        assert_eq!(
            (e.code(), e.field_name()),
            ("unknown_feature", Some("batch_features[1].Shoe"))
        );
    }

    #[test]
    fn batch_errors_name_the_row() {
        let bad = ROW.replace("\"FAF\":1", "\"FAF\":-1");
        let body = format!(r#"{{"batch_features": [{ROW}, {bad}]}}"#);
        let e = parse_batch(body.as_bytes(), &schema(), 10).unwrap_err();
        assert_eq!(e.field_name(), Some("batch_features[1].FAF"));
        let body = format!(r#"{{"batch_features": [{ROW}, {ROW}, {ROW}]}}"#);
        let e = parse_batch(body.as_bytes(), &schema(), 2).unwrap_err();
        assert_eq!(e.code(), "too_many_rows");
        let body = format!(r#"{{"batch_features": [{ROW}], "user_ids": ["a", "b"]}}"#);
        let e = parse_batch(body.as_bytes(), &schema(), 2).unwrap_err();
        assert_eq!(e.field_name(), Some("user_ids"));
    }

    #[test]
    fn malformed_and_misshapen_bodies_are_400() {
        let trailing = format!(r#"{{"features": {ROW}}} x"#);
        for body in ["", "{", "[1,2]", "{\"features\": 3}", &trailing, "null"] {
            let e = parse_predict(body.as_bytes(), &schema()).unwrap_err();
            assert_eq!(
                e.status(),
                axum::http::StatusCode::BAD_REQUEST,
                "{body}: {e}"
            );
        }
    }
}
