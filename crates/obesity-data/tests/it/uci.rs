//! Checks on the real UCI file, read from `OBESITY_UCI_CSV` (skipped when unset).

use obesity_data::{LoadOptions, ObesityRecord, ValidationReport, load_csv, write_csv};

use crate::common::uci_csv;

#[test]
fn uci_file_shape_duplicates_and_class_counts() {
    let Some(path) = uci_csv() else { return };
    let loaded = load_csv(&path, &LoadOptions::strict()).unwrap();
    assert_eq!(loaded.records.len(), 2_111);
    let report = ValidationReport::from_loaded(&loaded);
    assert!(report.shape_matches());
    assert_eq!(report.duplicates.count, 24);
    let count = |class: &str| {
        report
            .class_balance
            .classes
            .iter()
            .find(|c| c.class == class)
            .unwrap()
            .count
    };
    for (class, n) in [
        ("Obesity_Type_I", 351),
        ("Obesity_Type_III", 324),
        ("Obesity_Type_II", 297),
        ("Overweight_Level_I", 290),
        ("Overweight_Level_II", 290),
        ("Normal_Weight", 287),
        ("Insufficient_Weight", 272),
    ] {
        assert_eq!(count(class), n, "{class}");
    }
    assert!(loaded.warnings.is_empty());
    let reference = crate::report::reference();
    if reference.get("uci").is_some() {
        crate::report::assert_matches_reference(&report, &reference["uci"]);
    }
}

/// Writes `records` with reversed columns and LF endings, numbers as the UCI file spells them.
fn write_reordered(path: &std::path::Path, header: &[String], original: &[u8]) {
    // Reorder the original text field by field, so number spellings (`21` vs `21.0`) are kept.
    let text = std::str::from_utf8(original).unwrap();
    let mut out = String::new();
    let order: Vec<usize> = (0..header.len()).rev().collect();
    for line in text.lines() {
        let fields: Vec<&str> = line.split(',').collect();
        let reordered: Vec<&str> = order.iter().map(|&i| fields[i]).collect();
        out.push_str(&reordered.join(","));
        out.push('\n');
    }
    std::fs::write(path, out).unwrap();
}

#[test]
fn uci_canonical_fingerprint_ignores_column_order_and_line_endings() {
    let Some(path) = uci_csv() else { return };
    let original = std::fs::read(&path).unwrap();
    assert!(
        original.windows(2).any(|w| w == b"\r\n"),
        "the UCI file is expected to use CRLF"
    );
    let loaded = load_csv(&path, &LoadOptions::strict()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("reordered_lf.csv");
    write_reordered(&copy, &loaded.header, &original);
    let copy_loaded = load_csv(&copy, &LoadOptions::strict()).unwrap();
    assert_eq!(copy_loaded.records, loaded.records);
    assert_eq!(
        copy_loaded.fingerprint.canonical,
        loaded.fingerprint.canonical
    );
    assert_ne!(copy_loaded.fingerprint.raw, loaded.fingerprint.raw);

    // And our own writer's output has the same canonical hash too.
    let mut written = Vec::new();
    write_csv(&loaded.records, &mut written).unwrap();
    let rewritten =
        obesity_data::load_csv_bytes("rewritten", &written, &LoadOptions::strict()).unwrap();
    assert_eq!(
        rewritten.fingerprint.canonical,
        loaded.fingerprint.canonical
    );
    let bits = |r: &[ObesityRecord]| {
        r.iter()
            .map(|r| (r.age.to_bits(), r.height.to_bits(), r.weight.to_bits()))
            .collect::<Vec<_>>()
    };
    assert_eq!(bits(&rewritten.records), bits(&loaded.records));
}

#[test]
fn regression_uci_crlf_duplicate_and_record_lines() {
    // The UCI file is CRLF: every line used to be reported one too low.
    let Some(path) = uci_csv() else { return };
    let bytes = std::fs::read(&path).unwrap();
    let lines = crate::line_numbers::editor_lines(&bytes);
    // Each non-empty line after the header is a record, on the line an editor shows.
    let expected: Vec<u64> = (2..=lines.len() as u64)
        .filter(|&n| !lines[n as usize - 1].is_empty())
        .collect();
    let loaded = load_csv(&path, &LoadOptions::strict()).unwrap();
    assert_eq!(expected.len(), 2_111);
    assert_eq!(loaded.lines, expected);

    // The duplicates the report names are lines with the same text as the line they repeat
    // (the file spells equal rows identically), found here by comparing the text.
    let mut first_seen = std::collections::HashMap::new();
    let mut pairs = Vec::new();
    for &n in &expected {
        let text = lines[n as usize - 1];
        if let Some(&first) = first_seen.get(text) {
            pairs.push((n, first));
        } else {
            first_seen.insert(text, n);
        }
    }
    let report = ValidationReport::from_loaded(&loaded);
    assert_eq!(report.duplicates.count, pairs.len());
    let named: Vec<(u64, u64)> = report
        .duplicates
        .examples
        .iter()
        .map(|p| (p.line, p.first_line))
        .collect();
    assert_eq!(named, pairs[..named.len()]);
    assert_eq!(named.first(), Some(&(100, 99)));
}
