//! The validation report against pandas / scipy reference values, and its serde and Display.

use obesity_data::{LoadOptions, ValidationReport, load_csv};
use serde_json::Value;

use crate::common::{bad, synthetic};

/// The reference JSON written by `scripts/obesity_data_reference.py`.
pub(crate) fn reference() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/reference/data_reference.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * b.abs().max(1e-12)
}

/// Checks a report against one section of the reference JSON.
pub(crate) fn assert_matches_reference(report: &ValidationReport, reference: &Value) {
    assert_eq!(
        report.shape.rows as u64,
        reference["rows"].as_u64().unwrap()
    );
    assert_eq!(
        report.shape.columns as u64,
        reference["columns"].as_u64().unwrap()
    );
    assert_eq!(
        report.duplicates.count as u64,
        reference["duplicates"].as_u64().unwrap()
    );
    for (column, expected) in reference["numeric"].as_object().unwrap() {
        let got = report
            .numeric_column(column)
            .unwrap_or_else(|| panic!("no summary for {column}"));
        let f = |k: &str| expected[k].as_f64().unwrap();
        for (name, value, want) in [
            ("mean", got.mean, f("mean")),
            ("std", got.std, f("std")),
            ("min", got.min, f("min")),
            ("q1", got.q1, f("q1")),
            ("median", got.median, f("median")),
            ("q3", got.q3, f("q3")),
            ("max", got.max, f("max")),
        ] {
            assert!(
                close(value, want, 1e-12),
                "{column}.{name}: {value} vs pandas {want}"
            );
        }
        assert_eq!(
            got.iqr_outliers.count as u64,
            expected["outliers"].as_u64().unwrap(),
            "{column} outliers"
        );
        let test = got
            .normality
            .as_ref()
            .unwrap_or_else(|| panic!("{column}: no normality test"));
        assert!(
            close(test.statistic, f("k2"), 1e-9),
            "{column} K²: {} vs scipy {}",
            test.statistic,
            f("k2")
        );
        // p-values span hundreds of orders of magnitude; compare relatively where representable.
        let p = f("p_value");
        assert!(
            close(test.p_value, p, 1e-6) || (p < 1e-300 && test.p_value < 1e-300),
            "{column} p: {} vs scipy {p}",
            test.p_value
        );
        assert!(
            close(test.skewness, f("skewness"), 1e-9),
            "{column} skewness"
        );
        assert!(
            close(test.excess_kurtosis, f("excess_kurtosis"), 1e-9),
            "{column} kurtosis"
        );
    }
    for class in &report.class_balance.classes {
        assert_eq!(
            class.count as u64,
            reference["class_counts"][&class.class].as_u64().unwrap(),
            "{}",
            class.class
        );
    }
}

#[test]
fn synthetic_report_matches_pandas_and_scipy() {
    let loaded = load_csv(synthetic(), &LoadOptions::strict()).unwrap();
    let report = ValidationReport::from_loaded(&loaded);
    assert_matches_reference(&report, &reference()["synthetic"]);
    assert!(report.shape_matches());
    assert_eq!(
        report.numeric[0].normality.as_ref().unwrap().test,
        "D'Agostino-Pearson K²"
    );
}

#[test]
fn report_round_trips_through_json_with_hex_fingerprints() {
    let loaded = load_csv(synthetic(), &LoadOptions::strict()).unwrap();
    let report = ValidationReport::from_loaded(&loaded);
    let json = serde_json::to_value(&report).unwrap();
    let canonical = json["fingerprint"]["canonical"].as_str().unwrap();
    let raw = json["fingerprint"]["raw"].as_str().unwrap();
    assert_eq!(canonical.len(), 64);
    assert!(canonical.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(raw, loaded.fingerprint.raw.to_hex());
    // The raw hash is sha256sum of the file.
    let bytes = std::fs::read(synthetic()).unwrap();
    assert_eq!(
        loaded.fingerprint.raw,
        obesity_data::Digest::of_bytes(&bytes)
    );
    let back: ValidationReport = serde_json::from_value(json).unwrap();
    assert_eq!(back, report);
}

#[test]
fn lenient_report_lists_range_violations_and_rejections() {
    let loaded = load_csv(bad("out_of_range.csv"), &LoadOptions::lenient()).unwrap();
    let report = ValidationReport::from_loaded(&loaded);
    assert_eq!(report.shape.rows, 2);
    assert_eq!(report.shape.rejected_rows, 1);
    assert_eq!(report.range_violations.len(), 1);
    let v = &report.range_violations[0];
    assert_eq!(
        (v.line, v.column.as_str(), v.value.as_str(), v.min, v.max),
        (4, "Height", "180", 1.0, 2.5)
    );
    let text = report.to_string();
    assert!(text.contains("line 4: Height = 180"), "{text}");
    assert!(!report.shape_matches());
}

#[test]
fn report_counts_missing_values_duplicates_and_warnings() {
    let loaded = load_csv(bad("missing_value.csv"), &LoadOptions::lenient()).unwrap();
    let report = ValidationReport::from_loaded(&loaded);
    let weight = report
        .missing_values
        .iter()
        .find(|c| c.column == "Weight")
        .unwrap();
    assert_eq!(weight.count, 1);
    assert_eq!(
        report.missing_values.iter().map(|c| c.count).sum::<usize>(),
        1
    );

    // Three copies of the same row: two duplicates, pointing at the first.
    let text = std::fs::read_to_string(bad("ok.csv")).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    let first = lines[1];
    lines.push(first);
    lines.push(first);
    let loaded = obesity_data::load_csv_bytes(
        "dups.csv",
        lines.join("\n").as_bytes(),
        &LoadOptions::strict(),
    )
    .unwrap();
    let report = ValidationReport::from_loaded(&loaded);
    assert_eq!(report.duplicates.count, 2);
    assert!((report.duplicates.share - 0.4).abs() < 1e-12);
    assert_eq!(
        report.duplicates.examples[0],
        obesity_data::DuplicatePair {
            line: 5,
            first_line: 2
        }
    );

    let loaded = load_csv(bad("unlabelled.csv"), &LoadOptions::strict()).unwrap();
    let report = ValidationReport::from_loaded(&loaded);
    assert_eq!(report.class_balance.unlabelled, 3);
    assert_eq!(report.class_balance.imbalance_ratio, None);
    assert!(report.to_string().contains("no `NObeyesdad` column"));
    // Fewer than 20 rows: no normality test rather than a meaningless p-value.
    assert!(report.numeric.iter().all(|c| c.normality.is_none()));
}

#[test]
fn display_is_readable() {
    let loaded = load_csv(synthetic(), &LoadOptions::strict()).unwrap();
    let text = ValidationReport::from_loaded(&loaded).to_string();
    for needle in [
        "2111 rows x 17 columns",
        "Obesity_Type_I ",
        "K² p-value",
        "canonical",
        "duplicates",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
}

#[test]
fn lenient_load_with_every_row_bad_gives_an_empty_report_not_a_panic() {
    let text = std::fs::read_to_string(bad("ok.csv"))
        .unwrap()
        .replace(",1.8,", ",18,")
        .replace(",1.62,", ",16.2,");
    let loaded =
        obesity_data::load_csv_bytes("all_bad.csv", text.as_bytes(), &LoadOptions::lenient())
            .unwrap();
    assert!(loaded.records.is_empty());
    assert_eq!(
        loaded.rejected.iter().map(|r| r.line).collect::<Vec<_>>(),
        vec![2, 3, 4]
    );
    let report = ValidationReport::from_loaded(&loaded);
    assert_eq!((report.shape.rows, report.range_violations.len()), (0, 3));
    assert!(report.numeric.is_empty());
    assert_eq!(report.duplicates.share, 0.0);
    assert!(report.to_string().contains("Range violations (3)"));
}

#[test]
fn digests_parse_back_from_hex_and_reject_bad_hex() {
    let d = obesity_data::Digest::of_bytes(b"abc");
    // The SHA-256 test vector of "abc" (FIPS 180-2).
    assert_eq!(
        d.to_hex(),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_eq!(d.to_hex().parse::<obesity_data::Digest>().unwrap(), d);
    assert!("abc".parse::<obesity_data::Digest>().is_err());
    assert!(serde_json::from_str::<obesity_data::Digest>("\"zz\"").is_err());
}
