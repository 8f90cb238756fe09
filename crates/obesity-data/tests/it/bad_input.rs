//! One fixture per kind of bad input: the error names the file, line, column and value.

use obesity_data::{DataError, LoadMode, LoadOptions, load_csv};

use crate::common::bad;

fn strict_error(name: &str) -> (DataError, String) {
    match load_csv(bad(name), &LoadOptions::strict()) {
        Ok(loaded) => panic!(
            "{name} loaded {} records; expected an error",
            loaded.records.len()
        ),
        Err(e) => {
            let msg = e.to_string();
            (e, msg)
        }
    }
}

#[test]
fn missing_columns_are_all_listed() {
    let (e, msg) = strict_error("missing_column.csv");
    match &e {
        DataError::MissingColumns { missing, .. } => assert_eq!(missing, &["FAVC", "CALC"]),
        other => panic!("unexpected error {other:?}"),
    }
    assert!(msg.contains("missing_column.csv:1"), "{msg}");
    assert!(msg.contains("`FAVC`") && msg.contains("`CALC`"), "{msg}");
}

#[test]
fn non_numeric_names_line_column_value_and_range() {
    let (e, msg) = strict_error("non_numeric.csv");
    assert!(matches!(e, DataError::NotNumeric { .. }), "{e:?}");
    assert_eq!(
        (e.line(), e.column(), e.value()),
        (Some(3), Some("Age"), Some("twenty-three"))
    );
    assert!(msg.contains("non_numeric.csv:3"), "{msg}");
    assert!(
        msg.contains("`Age`") && msg.contains("`twenty-three`") && msg.contains("10 to 100"),
        "{msg}"
    );
}

#[test]
fn unknown_category_lists_allowed_levels() {
    let (e, msg) = strict_error("unknown_category.csv");
    match &e {
        DataError::UnknownCategory { allowed, .. } => assert_eq!(allowed, &["Female", "Male"]),
        other => panic!("unexpected error {other:?}"),
    }
    assert_eq!(
        (e.line(), e.column(), e.value()),
        (Some(3), Some("Gender"), Some("M"))
    );
    assert!(
        msg.contains("unknown_category.csv:3") && msg.contains("`Female`, `Male`"),
        "{msg}"
    );
}

#[test]
fn out_of_range_gives_the_range() {
    let (e, msg) = strict_error("out_of_range.csv");
    match &e {
        DataError::OutOfRange { min, max, unit, .. } => {
            assert_eq!((*min, *max, &**unit), (1.0, 2.5, "m"))
        }
        other => panic!("unexpected error {other:?}"),
    }
    assert_eq!(
        (e.line(), e.column(), e.value()),
        (Some(4), Some("Height"), Some("180"))
    );
    assert!(
        msg.contains("out_of_range.csv:4") && msg.contains("1 to 2.5"),
        "{msg}"
    );
}

#[test]
fn missing_value_is_named() {
    let (e, msg) = strict_error("missing_value.csv");
    assert!(matches!(e, DataError::MissingValue { .. }), "{e:?}");
    assert_eq!(
        (e.line(), e.column(), e.value()),
        (Some(3), Some("Weight"), Some(""))
    );
    assert!(
        msg.contains("missing_value.csv:3") && msg.contains("`Weight`"),
        "{msg}"
    );
}

#[test]
fn ragged_row_gives_field_counts() {
    let (e, msg) = strict_error("ragged_row.csv");
    match &e {
        DataError::RaggedRow {
            line,
            expected,
            got,
            ..
        } => assert_eq!((*line, *expected, *got), (3, 17, 16)),
        other => panic!("unexpected error {other:?}"),
    }
    assert!(msg.contains("ragged_row.csv:3"), "{msg}");
}

#[test]
fn empty_file() {
    let (e, msg) = strict_error("empty.csv");
    assert!(matches!(e, DataError::EmptyFile { .. }), "{e:?}");
    assert!(msg.contains("empty.csv") && msg.contains("empty"), "{msg}");
}

#[test]
fn header_only_file() {
    let (e, msg) = strict_error("header_only.csv");
    assert!(matches!(e, DataError::HeaderOnly { .. }), "{e:?}");
    assert!(
        msg.contains("header_only.csv") && msg.contains("no data rows"),
        "{msg}"
    );
    // Lenient mode cannot invent rows either.
    assert!(matches!(
        load_csv(bad("header_only.csv"), &LoadOptions::lenient()),
        Err(DataError::HeaderOnly { .. })
    ));
}

#[test]
fn non_utf8_gives_line_column_and_byte_offset() {
    let (e, msg) = strict_error("non_utf8.csv");
    let bytes = std::fs::read(bad("non_utf8.csv")).unwrap();
    let expected_offset = bytes.iter().position(|&b| b == 0xF3).unwrap() as u64;
    match &e {
        DataError::NotUtf8 {
            line,
            column,
            byte_offset,
            value,
            ..
        } => {
            assert_eq!(
                (*line, column.as_str(), *byte_offset),
                (2, "MTRANS", expected_offset)
            );
            assert_eq!(value, "Autom\u{FFFD}vil");
        }
        other => panic!("unexpected error {other:?}"),
    }
    assert!(
        msg.contains("non_utf8.csv:2") && msg.contains("`MTRANS`"),
        "{msg}"
    );
}

#[test]
fn duplicate_column_is_an_error() {
    let (e, msg) = strict_error("duplicate_column.csv");
    match &e {
        DataError::DuplicateColumn {
            column,
            first,
            second,
            ..
        } => {
            assert_eq!((column.as_str(), *first, *second), ("Age", 2, 18))
        }
        other => panic!("unexpected error {other:?}"),
    }
    assert!(msg.contains("`Age`"), "{msg}");
}

#[test]
fn io_error_names_the_file() {
    let e = load_csv(bad("no_such_file.csv"), &LoadOptions::strict()).unwrap_err();
    assert!(matches!(e, DataError::Io { .. }), "{e:?}");
    assert!(e.to_string().contains("no_such_file.csv"));
}

#[test]
fn lenient_mode_keeps_good_rows_and_reports_each_bad_one() {
    for (name, line, column) in [
        ("non_numeric.csv", 3, "Age"),
        ("unknown_category.csv", 3, "Gender"),
        ("out_of_range.csv", 4, "Height"),
        ("non_utf8.csv", 2, "MTRANS"),
        ("missing_value.csv", 3, "Weight"),
    ] {
        let loaded = load_csv(bad(name), &LoadOptions::default().mode(LoadMode::Lenient)).unwrap();
        assert_eq!(loaded.records.len(), 2, "{name}");
        assert_eq!(loaded.rejected.len(), 1, "{name}");
        let r = &loaded.rejected[0];
        assert_eq!((r.line, r.error.column()), (line, Some(column)), "{name}");
        assert!(
            !loaded.lines.contains(&line),
            "{name}: the bad line must not be among the records"
        );
    }
    let ragged = load_csv(bad("ragged_row.csv"), &LoadOptions::lenient()).unwrap();
    assert_eq!(
        (
            ragged.records.len(),
            ragged.rejected.len(),
            ragged.lines.clone()
        ),
        (2, 1, vec![2, 4])
    );
}

#[test]
fn semicolon_file_names_its_separator_and_loads_with_the_option() {
    let (e, msg) = strict_error("semicolon.csv");
    assert!(
        matches!(e, DataError::WrongDelimiter { found: ';', .. }),
        "{e:?}"
    );
    assert!(
        msg.contains("semicolon.csv:1") && msg.contains("delimiter(b';')"),
        "{msg}"
    );
    let loaded = load_csv(bad("semicolon.csv"), &LoadOptions::strict().delimiter(b';')).unwrap();
    let reference = load_csv(bad("ok.csv"), &LoadOptions::strict()).unwrap();
    assert_eq!(loaded.records, reference.records);
    assert_eq!(
        loaded.fingerprint.canonical,
        reference.fingerprint.canonical
    );
}

#[test]
fn writing_a_non_finite_number_is_an_error_naming_the_record_and_column() {
    // A NaN used to be written as `NaN`, which loads back as a missing value (an error):
    // the file written could not be read.
    let mut records = obesity_data::synth::generate(3, 7);
    records[1].weight = f64::NAN;
    let mut out = Vec::new();
    let err = obesity_data::write_csv(&records, &mut out).unwrap_err();
    assert!(matches!(err, DataError::Write { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("record 1") && msg.contains("`Weight`") && msg.contains("NaN"),
        "{msg}"
    );
    records[1].weight = 70.0;
    records[2].tue = f64::INFINITY;
    let msg = obesity_data::write_csv(&records, Vec::new())
        .unwrap_err()
        .to_string();
    assert!(msg.contains("record 2") && msg.contains("`TUE`"), "{msg}");
}
