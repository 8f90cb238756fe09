//! Signature: built from the obesity schema, checked against requests.

use obesity_data::Schema;
use obesity_registry::{Error, FieldType, InputField, Signature};
use serde_json::{Map, Value, json};

fn valid_row() -> Map<String, Value> {
    let v = json!({
        "Gender": "Female", "Age": 21.0, "Height": 1.62, "Weight": 64.0,
        "family_history_with_overweight": "yes", "FAVC": "no", "FCVC": 2.0, "NCP": 3.0,
        "CAEC": "Sometimes", "SMOKE": "no", "CH2O": 2.0, "SCC": "no", "FAF": 0.0, "TUE": 1.0,
        "CALC": "no", "MTRANS": "Public_Transportation"
    });
    v.as_object().cloned().unwrap_or_default()
}

fn field_of(err: Error) -> String {
    match err {
        Error::Signature { field, .. } => field,
        other => panic!("expected a signature error, got {other}"),
    }
}

#[test]
fn the_obesity_signature_accepts_a_valid_row() {
    let sig = Signature::from_schema(&Schema::obesity()).expect("signature");
    assert_eq!(sig.inputs.len(), 16);
    assert_eq!(sig.classes.len(), 7);
    assert!(!sig.input_names().contains(&"NObeyesdad"));
    sig.check_row(&valid_row()).expect("valid row");
    let back = Signature::from_json(&sig.to_json().expect("json")).expect("parse");
    assert_eq!(back, sig);
}

#[test]
fn errors_name_the_offending_field() {
    let sig = Signature::from_schema(&Schema::obesity()).expect("signature");
    let mut row = valid_row();
    row.remove("Age");
    assert_eq!(field_of(sig.check_row(&row).unwrap_err()), "Age");

    let mut row = valid_row();
    row.insert("Salary".into(), json!(1));
    assert_eq!(field_of(sig.check_row(&row).unwrap_err()), "Salary");

    let mut row = valid_row();
    row.insert("Height".into(), json!("tall"));
    assert_eq!(field_of(sig.check_row(&row).unwrap_err()), "Height");

    let mut row = valid_row();
    row.insert("Age".into(), json!(500.0));
    let err = sig.check_row(&row).unwrap_err();
    assert!(err.to_string().contains("above the maximum"), "{err}");

    let mut row = valid_row();
    row.insert("MTRANS".into(), json!("Rocket"));
    let err = sig.check_row(&row).unwrap_err();
    assert!(
        err.to_string().contains("Rocket") && err.to_string().contains("MTRANS"),
        "{err}"
    );

    let mut row = valid_row();
    row.insert("SMOKE".into(), json!(1));
    assert_eq!(field_of(sig.check_row(&row).unwrap_err()), "SMOKE");

    assert_eq!(
        field_of(sig.check_columns(&["Age", "Age"]).unwrap_err()),
        "Age"
    );
}

#[test]
fn invalid_signatures_are_refused() {
    let num = |name: &str, min, max| InputField {
        name: name.into(),
        field_type: FieldType::Numeric { min, max },
    };
    assert!(
        Signature::new(
            vec![num("a", None, None), num("a", None, None)],
            vec!["x".into()]
        )
        .is_err()
    );
    assert!(Signature::new(vec![num("a", Some(2.0), Some(1.0))], vec!["x".into()]).is_err());
    assert!(Signature::new(vec![num("a", None, None)], vec![]).is_err());
    assert!(
        Signature::from_json("{\"format_version\": 9, \"inputs\": [], \"classes\": [\"x\"]}")
            .is_err()
    );
    assert!(Signature::from_json("not json").is_err());
}
