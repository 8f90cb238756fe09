//! Files that must load: formatting variants, extra columns, unlabelled files.

use obesity_data::{
    Fingerprint, Frequency, Gender, LoadOptions, LoadWarning, ObesityLevel, Transport, load_csv,
    load_csv_bytes, load_csv_reader,
};

use crate::common::bad;

fn ok(name: &str) -> obesity_data::Loaded {
    load_csv(bad(name), &LoadOptions::strict()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn reference_file_loads_typed_values() {
    let loaded = ok("ok.csv");
    assert_eq!(loaded.records.len(), 3);
    assert_eq!(loaded.lines, vec![2, 3, 4]);
    let r = &loaded.records[2];
    assert_eq!(
        (r.gender, r.age, r.height, r.weight),
        (Gender::Male, 27.0, 1.8, 87.0)
    );
    assert!(!r.family_history_with_overweight && !r.favc);
    assert_eq!(
        (r.caec, r.calc, r.mtrans),
        (
            Frequency::Sometimes,
            Frequency::Frequently,
            Transport::Walking
        )
    );
    assert_eq!(r.target, Some(ObesityLevel::OverweightLevelI));
    assert!(loaded.warnings.is_empty() && loaded.rejected.is_empty());
}

#[test]
fn bom_crlf_padding_and_number_spelling_do_not_change_the_records() {
    let reference = ok("ok.csv");
    let variant = ok("bom_crlf.csv");
    assert_eq!(variant.records, reference.records);
    assert_eq!(
        variant.header[0], "Gender",
        "the BOM must not stick to the first column name"
    );
    assert_eq!(
        variant.fingerprint.canonical,
        reference.fingerprint.canonical
    );
    assert_ne!(variant.fingerprint.raw, reference.fingerprint.raw);
}

#[test]
fn reordered_columns_load_by_name() {
    let reference = ok("ok.csv");
    let reordered = ok("reordered.csv");
    assert_eq!(reordered.records, reference.records);
    assert_eq!(
        reordered.fingerprint.canonical,
        reference.fingerprint.canonical
    );
    assert_ne!(reordered.fingerprint.raw, reference.fingerprint.raw);
}

#[test]
fn extra_column_is_a_warning() {
    let loaded = ok("extra_column.csv");
    assert_eq!(loaded.records, ok("ok.csv").records);
    assert_eq!(
        loaded.warnings,
        vec![LoadWarning::ExtraColumn {
            column: "id".into(),
            position: 1
        }]
    );
    assert!(loaded.warnings[0].to_string().contains("`id`"));
}

#[test]
fn unlabelled_file_loads_without_targets() {
    let loaded = ok("unlabelled.csv");
    assert_eq!(loaded.records.len(), 3);
    assert!(loaded.records.iter().all(|r| r.target.is_none()));
    assert_eq!(loaded.warnings, vec![LoadWarning::NoTargetColumn]);
    let labelled = ok("ok.csv");
    for (u, l) in loaded.records.iter().zip(&labelled.records) {
        assert_eq!(
            obesity_data::ObesityRecord {
                target: l.target,
                ..u.clone()
            },
            *l
        );
    }
}

#[test]
fn empty_target_cell_is_unlabelled_and_counted_missing() {
    let text =
        std::fs::read_to_string(bad("ok.csv"))
            .unwrap()
            .replacen(",Normal_Weight\n", ",\n", 1);
    let loaded = load_csv_bytes(
        "partly_labelled.csv",
        text.as_bytes(),
        &LoadOptions::strict(),
    )
    .unwrap();
    assert_eq!(loaded.records[0].target, None);
    assert_eq!(loaded.records[1].target, Some(ObesityLevel::NormalWeight));
    let target_missing = loaded
        .missing_values
        .iter()
        .find(|c| c.column == "NObeyesdad")
        .unwrap();
    assert_eq!(target_missing.count, 1);
}

#[test]
fn reader_variant_names_its_source() {
    let bytes = std::fs::read(bad("ok.csv")).unwrap();
    let loaded = load_csv_reader("stdin", bytes.as_slice(), &LoadOptions::strict()).unwrap();
    assert_eq!(loaded.source, "stdin");
    assert_eq!(
        loaded.fingerprint,
        Fingerprint::new(&loaded.records, &bytes)
    );
    let err = load_csv_reader(
        "stdin",
        &b"Gender,Age\nMale,x\n"[..],
        &LoadOptions::strict(),
    )
    .unwrap_err();
    assert!(err.to_string().starts_with("stdin:1:"), "{err}");
}

#[test]
fn blank_lines_are_skipped_and_line_numbers_stay_true() {
    let text = std::fs::read_to_string(bad("ok.csv")).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.insert(2, "   ");
    lines.insert(2, "");
    let bad_height = lines[4].replacen("1.8", "18", 1);
    lines[4] = &bad_height;
    let e = load_csv_bytes(
        "blank.csv",
        lines.join("\n").as_bytes(),
        &LoadOptions::strict(),
    )
    .unwrap_err();
    assert_eq!((e.line(), e.column()), (Some(5), Some("Height")), "{e}");
}

#[test]
fn non_finite_numbers_are_rejected() {
    let text = std::fs::read_to_string(bad("ok.csv")).unwrap();
    for spelling in ["inf", "NaN", "1e999"] {
        let t = text.replacen(",64,", &format!(",{spelling},"), 1);
        let e = load_csv_bytes("x.csv", t.as_bytes(), &LoadOptions::strict()).unwrap_err();
        assert_eq!(
            (e.line(), e.column(), e.value()),
            (Some(2), Some("Weight"), Some(spelling)),
            "{e}"
        );
    }
}

#[test]
fn canonical_digest_follows_the_documented_encoding() {
    use sha2::{Digest as _, Sha256};
    let loaded = ok("ok.csv");
    let first = &loaded.records[..1];
    // Female,21,1.62,64,yes,no,2,3,Sometimes,no,2,no,0,1,no,Public_Transportation,Normal_Weight
    let mut bytes = b"obesity-data/canonical/v1\n".to_vec();
    for x in [21.0f64, 1.62, 64.0, 2.0, 3.0, 2.0, 0.0, 1.0] {
        bytes.extend_from_slice(&x.to_bits().to_le_bytes());
    }
    bytes.extend_from_slice(&[0, 1, 0, 1, 0, 0, 0, 3, 1]);
    let expected: [u8; 32] = Sha256::digest(&bytes).into();
    assert_eq!(obesity_data::canonical_digest(first).0, expected);

    // Any change of value changes it; so does a missing label.
    let mut changed = first.to_vec();
    changed[0].weight = 64.1;
    assert_ne!(
        obesity_data::canonical_digest(&changed),
        obesity_data::canonical_digest(first)
    );
    changed[0].weight = 64.0;
    changed[0].target = None;
    assert_ne!(
        obesity_data::canonical_digest(&changed),
        obesity_data::canonical_digest(first)
    );
}
