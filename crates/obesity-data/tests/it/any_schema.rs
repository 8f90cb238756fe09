//! A table that is not the obesity one (4 numeric columns, 1 categorical, a 3-class target)
//! goes through the same loader, report and fingerprint (issue 13, item 3).

use obesity_data::{
    ColumnData, ColumnSpec, DataError, LoadOptions, LoadWarning, Schema, SchemaProblem, Table,
    ValidationReport, load_table, load_table_bytes, load_table_reader,
};
use proptest::prelude::*;

fn schema() -> Schema {
    Schema::new(vec![
        ColumnSpec::numeric("sepal_length", "cm", 4.0, 8.0),
        ColumnSpec::numeric("sepal_width", "cm", 2.0, 4.5),
        ColumnSpec::numeric("petal_length", "cm", 1.0, 7.0),
        ColumnSpec::numeric("petal_width", "cm", 0.0, 2.6).describe("petal width"),
        ColumnSpec::categorical("soil", ["clay", "loam", "sand"]),
        ColumnSpec::categorical("species", ["setosa", "versicolor", "virginica"]).target(),
    ])
    .unwrap()
}

const HEADER: &str = "sepal_length,sepal_width,petal_length,petal_width,soil,species";

/// `n` valid rows, deterministic, every class and soil present.
fn rows(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let f = i as f64;
            format!(
                "{},{},{},{},{},{}",
                4.0 + (f * 0.37) % 4.0,
                2.0 + (f * 0.11) % 2.5,
                1.0 + (f * 0.53) % 6.0,
                (f * 0.07) % 2.6,
                ["clay", "loam", "sand"][i % 3],
                ["setosa", "versicolor", "virginica"][(i / 2) % 3],
            )
        })
        .collect()
}

fn csv(n: usize, end: &str) -> String {
    let mut s = format!("{HEADER}{end}");
    for r in rows(n) {
        s.push_str(&r);
        s.push_str(end);
    }
    s
}

fn strict(text: &str) -> Result<obesity_data::LoadedTable, DataError> {
    load_table_bytes(
        "iris.csv",
        text.as_bytes(),
        &schema(),
        &LoadOptions::strict(),
    )
}

#[test]
fn loads_with_lf_crlf_and_cr_to_the_same_table_and_lines() {
    let lf = strict(&csv(90, "\n")).unwrap();
    assert_eq!(lf.table.n_rows(), 90);
    assert_eq!(lf.lines.first(), Some(&2));
    assert_eq!(lf.lines.last(), Some(&91));
    assert!(lf.warnings.is_empty() && lf.rejected.is_empty());
    for end in ["\r\n", "\r"] {
        let other = strict(&csv(90, end)).unwrap();
        assert_eq!(other.table, lf.table, "{end:?}");
        assert_eq!(other.lines, lf.lines, "{end:?}");
        assert_eq!(other.fingerprint.canonical, lf.fingerprint.canonical);
        assert_ne!(other.fingerprint.raw, lf.fingerprint.raw);
    }
    let t = &lf.table;
    assert_eq!(t.numeric("sepal_length").map(<[f64]>::len), Some(90));
    assert_eq!(t.level("soil", 1), Some("loam"));
    assert_eq!(t.target_level(2), Some("versicolor"));
    assert_eq!(t.codes("soil").map(|c| c[2]), Some(2));
}

#[test]
fn columns_match_by_name_in_any_order_and_from_a_reader_or_a_file() {
    let reference = strict(&csv(20, "\n")).unwrap();
    // Move `species` first: the rows must follow.
    let moved: String = csv(20, "\n")
        .lines()
        .map(|l| {
            let (rest, last) = l.rsplit_once(',').unwrap();
            format!("{last},{rest}\n")
        })
        .collect();
    let reordered = load_table_reader(
        "moved.csv",
        moved.as_bytes(),
        &schema(),
        &LoadOptions::strict(),
    )
    .unwrap();
    assert_eq!(reordered.table, reference.table);
    assert_eq!(
        reordered.fingerprint.canonical,
        reference.fingerprint.canonical
    );

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("iris.csv");
    std::fs::write(&path, "\u{feff}".to_owned() + &csv(20, "\r\n")).unwrap();
    let from_file = load_table(&path, &schema(), &LoadOptions::strict()).unwrap();
    assert_eq!(from_file.table, reference.table);
    assert_eq!(from_file.header[0], "sepal_length");
}

#[test]
fn errors_name_file_line_column_value_and_expected() {
    let mut lines: Vec<String> = csv(5, "\n").lines().map(str::to_owned).collect();
    let bad = |lines: &mut Vec<String>, row: usize, field: usize, value: &str| {
        let mut fields: Vec<String> = lines[row].split(',').map(str::to_owned).collect();
        fields[field] = value.to_owned();
        lines[row] = fields.join(",");
    };
    let cases = [
        (
            0,
            "9.5",
            "iris.csv:4: column `sepal_length`: value `9.5` is out of range; expected 4 to 8 (cm)",
        ),
        (
            1,
            "wide",
            "iris.csv:4: column `sepal_width`: value `wide` is not a number; expected a number from 2 to 4.5 (cm)",
        ),
        (
            3,
            "NA",
            "iris.csv:4: column `petal_width`: value `NA` is missing; expected a number from 0 to 2.6 (cm)",
        ),
        (
            4,
            "peat",
            "iris.csv:4: column `soil`: unknown value `peat`; expected one of `clay`, `loam`, `sand`",
        ),
        (
            4,
            "",
            "iris.csv:4: column `soil`: value `` is missing; expected one of `clay`, `loam`, `sand`",
        ),
        (
            5,
            "rosea",
            "iris.csv:4: column `species`: unknown value `rosea`; expected one of `setosa`, `versicolor`, `virginica`",
        ),
    ];
    for (field, value, message) in cases {
        let mut l = lines.clone();
        bad(&mut l, 3, field, value);
        let text = l.join("\r");
        let err = strict(&text).unwrap_err();
        assert_eq!(err.to_string(), message);
        assert_eq!(err.file(), Some("iris.csv"));
        assert_eq!(err.line(), Some(4));
        assert_eq!(err.value(), Some(value));
    }
    // A missing label is "unlabelled", not an error.
    bad(&mut lines, 2, 5, "");
    let loaded = strict(&lines.join("\n")).unwrap();
    assert_eq!(loaded.table.target()[1], None);

    let err = strict("sepal_length,soil,species\n5,clay,setosa\n").unwrap_err();
    assert!(
        err.to_string()
            .starts_with("iris.csv:1: missing column(s) `sepal_width`, `petal_length`, `petal_width`; expected every one of the 5 feature columns"),
        "{err}"
    );
    let err = strict(&format!("{HEADER},soil\n")).unwrap_err();
    assert!(
        matches!(err, DataError::DuplicateColumn { ref column, first: 5, second: 7, .. } if column == "soil"),
        "{err:?}"
    );
    assert!(matches!(strict(""), Err(DataError::EmptyFile { .. })));
    assert!(matches!(strict(HEADER), Err(DataError::HeaderOnly { .. })));
    let err = strict(&csv(3, "\n").replace(',', ";")).unwrap_err();
    assert!(
        matches!(err, DataError::WrongDelimiter { found: ';', .. }),
        "{err:?}"
    );
}

#[test]
fn lenient_mode_rejects_bad_rows_and_the_report_lists_them() {
    let mut lines: Vec<String> = csv(60, "\n").lines().map(str::to_owned).collect();
    lines[10] = lines[10]
        .replacen("clay", "peat", 1)
        .replacen("loam", "peat", 1)
        .replacen("sand", "peat", 1);
    lines[20] = format!("9.9{}", &lines[20][lines[20].find(',').unwrap()..]);
    lines[30].push_str(",extra");
    lines.push(lines[5].clone()); // a duplicate row
    let text = lines.join("\n");
    let loaded = load_table_bytes(
        "iris.csv",
        text.as_bytes(),
        &schema(),
        &LoadOptions::lenient(),
    )
    .unwrap();
    assert_eq!(loaded.table.n_rows(), 58);
    let rejected: Vec<u64> = loaded.rejected.iter().map(|r| r.line).collect();
    assert_eq!(rejected, [11, 21, 31]);
    assert!(matches!(
        loaded.rejected[2].error,
        DataError::RaggedRow { .. }
    ));

    let report = ValidationReport::from_table(&loaded);
    assert_eq!(report.shape.rows, 58);
    assert_eq!(report.shape.columns, 6);
    assert_eq!(report.shape.expected_columns, 6);
    assert_eq!(report.shape.rejected_rows, 3);
    assert_eq!(report.shape.expected_from, "schema");
    assert_eq!(report.range_violations.len(), 1);
    assert_eq!(report.range_violations[0].column, "sepal_length");
    assert_eq!(report.range_violations[0].line, 21);
    assert_eq!(report.duplicates.count, 1);
    assert_eq!(report.duplicates.examples[0].line, 62);
    assert_eq!(report.duplicates.examples[0].first_line, 6);
    let names: Vec<&str> = report.numeric.iter().map(|c| c.column.as_str()).collect();
    assert_eq!(
        names,
        ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    );
    assert_eq!(report.numeric[0].unit, "cm");
    assert_eq!(report.numeric[0].count, 58);
    let classes: Vec<&str> = report
        .class_balance
        .classes
        .iter()
        .map(|c| c.class.as_str())
        .collect();
    assert_eq!(classes, ["setosa", "versicolor", "virginica"]);
    assert_eq!(
        report
            .class_balance
            .classes
            .iter()
            .map(|c| c.count)
            .sum::<usize>(),
        58
    );
    assert_eq!(report.fingerprint, loaded.fingerprint);
    let text = report.to_string();
    assert!(text.contains("(schema: 58 x 6)"), "{text}");
    assert!(text.contains("Rejected rows (3)"), "{text}");
    let json = serde_json::to_string(&report).unwrap();
    let back: ValidationReport = serde_json::from_str(&json).unwrap();
    assert_eq!(back, report);
}

#[test]
fn fingerprint_follows_the_rows_and_a_missing_target_column_is_a_warning() {
    let base = strict(&csv(30, "\n")).unwrap();
    let changed = strict(&csv(30, "\n").replacen("clay", "sand", 1)).unwrap();
    assert_ne!(changed.fingerprint.canonical, base.fingerprint.canonical);
    assert_eq!(base.fingerprint.canonical, base.table.canonical_digest());

    let unlabelled: String = csv(30, "\n")
        .lines()
        .map(|l| format!("{}\n", l.rsplit_once(',').unwrap().0))
        .collect();
    let loaded = strict(&unlabelled).unwrap();
    assert_eq!(
        loaded.warnings,
        [LoadWarning::NoTarget {
            column: "species".to_owned()
        }]
    );
    assert!(loaded.table.target().iter().all(Option::is_none));
    assert_eq!(
        loaded.table.target_indices().unwrap_err().to_string(),
        "row 0 (0-based) has no `species` label; expected every row labelled"
    );
    let labels = base.table.target_indices().unwrap();
    let (train, test) = obesity_data::stratified_split(&labels, 0.2, 7).unwrap();
    assert_eq!(train.len() + test.len(), 30);
    assert_ne!(loaded.fingerprint.canonical, base.fingerprint.canonical);
    assert_eq!(
        ValidationReport::from_table(&loaded)
            .class_balance
            .unlabelled,
        30
    );
}

#[test]
fn schema_is_checked() {
    let problem = |columns: Vec<ColumnSpec>| match Schema::new(columns) {
        Err(DataError::InvalidSchema { column, problem }) => (column, problem),
        other => panic!("{other:?}"),
    };
    let target = || ColumnSpec::categorical("y", ["a", "b"]).target();
    let x = || ColumnSpec::numeric("x", "m", 0.0, 1.0);
    assert_eq!(
        problem(vec![x(), x(), target()]),
        (Some("x".to_owned()), SchemaProblem::DuplicateName)
    );
    assert_eq!(
        problem(vec![
            ColumnSpec::categorical("c", Vec::<String>::new()),
            target()
        ]),
        (Some("c".to_owned()), SchemaProblem::NoLevels)
    );
    assert_eq!(
        problem(vec![ColumnSpec::categorical("c", ["a", "a"]), target()]).1,
        SchemaProblem::BadLevel {
            level: "a".to_owned()
        }
    );
    assert_eq!(
        problem(vec![ColumnSpec::numeric("x", "m", 2.0, 1.0), target()]).1,
        SchemaProblem::BadRange { min: 2.0, max: 1.0 }
    );
    assert_eq!(problem(vec![x()]).1, SchemaProblem::NoTarget);
    assert_eq!(
        problem(vec![x(), target(), ColumnSpec::binary("z").target()]).1,
        SchemaProblem::SeveralTargets {
            names: vec!["y".to_owned(), "z".to_owned()]
        }
    );
    assert_eq!(
        problem(vec![x(), ColumnSpec::numeric("t", "m", 0.0, 1.0).target()]).1,
        SchemaProblem::NumericTarget
    );
    assert_eq!(problem(vec![target()]).1, SchemaProblem::NoFeatures);
    let err = Schema::new(vec![x(), x(), target()]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid schema: column `x`: the name appears twice; expected each name once"
    );
    // The loader checks a schema built by hand too.
    let bad = Schema {
        columns: vec![x()],
        expected_rows: None,
    };
    assert!(matches!(
        load_table_bytes("t.csv", b"x\n1\n", &bad, &LoadOptions::strict()),
        Err(DataError::InvalidSchema { .. })
    ));
    Schema::obesity().validate().unwrap();
}

#[test]
fn tables_from_columns_are_checked() {
    let ok = Table::from_columns(
        schema(),
        vec![
            ColumnData::Numeric(vec![5.0]),
            ColumnData::Numeric(vec![3.0]),
            ColumnData::Numeric(vec![1.5]),
            ColumnData::Numeric(vec![0.2]),
            ColumnData::Codes(vec![1]),
        ],
        vec![Some(0)],
    )
    .unwrap();
    assert_eq!(ok.n_rows(), 1);
    assert_eq!(ok.named_columns().len(), 5);
    let bad_code = Table::from_columns(
        schema(),
        vec![
            ColumnData::Numeric(vec![5.0]),
            ColumnData::Numeric(vec![3.0]),
            ColumnData::Numeric(vec![1.5]),
            ColumnData::Numeric(vec![0.2]),
            ColumnData::Codes(vec![3]),
        ],
        vec![Some(0)],
    );
    assert!(
        matches!(bad_code, Err(DataError::InvalidTable { ref column, .. }) if column == "soil")
    );
    assert!(ok.to_obesity_records().is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn loader_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        for options in [LoadOptions::strict(), LoadOptions::lenient()] {
            let _ = load_table_bytes("p.csv", &bytes, &schema(), &options);
        }
    }

    #[test]
    fn loader_never_panics_on_a_damaged_valid_file(
        at in 0usize..2_000,
        junk in proptest::collection::vec(
            prop_oneof![Just(b','), Just(b'"'), Just(b'\r'), Just(b'\n'), Just(0xFFu8), any::<u8>()],
            0..12,
        ),
    ) {
        let mut bytes = csv(30, "\n").into_bytes();
        let at = at.min(bytes.len());
        bytes.splice(at..at, junk);
        for options in [LoadOptions::strict(), LoadOptions::lenient()] {
            if let Ok(loaded) = load_table_bytes("p.csv", &bytes, &schema(), &options) {
                prop_assert_eq!(loaded.lines.len(), loaded.table.n_rows());
                let _ = ValidationReport::from_table(&loaded).to_string();
            }
        }
    }
}

#[test]
fn feature_columns_of_records_are_the_tables_named_columns() {
    use obesity_data::{ColumnValues, feature_columns, synth};
    let records = synth::generate(300, 5);
    let columns = feature_columns(&records);
    let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
    let schema = Schema::obesity();
    let expected: Vec<&str> = schema.features().map(|c| c.name.as_str()).collect();
    assert_eq!(names, expected);
    let yes_no = |b: bool| if b { "yes" } else { "no" }.to_owned();
    let cat = |i: usize| match &columns[i].values {
        ColumnValues::Categorical(v) => v.clone(),
        other => panic!("{other:?}"),
    };
    let num = |i: usize| match &columns[i].values {
        ColumnValues::Numeric(v) => v.clone(),
        other => panic!("{other:?}"),
    };
    for (k, r) in records.iter().enumerate() {
        assert_eq!(cat(0)[k], r.gender.as_str());
        assert_eq!(num(2)[k].to_bits(), r.height.to_bits());
        assert_eq!(cat(4)[k], yes_no(r.family_history_with_overweight));
        assert_eq!(cat(8)[k], r.caec.as_str());
        assert_eq!(cat(9)[k], yes_no(r.smoke));
        assert_eq!(num(13)[k].to_bits(), r.tue.to_bits());
        assert_eq!(cat(15)[k], r.mtrans.as_str());
    }
}

#[test]
fn obesity_records_and_tables_convert_both_ways() {
    let mut records = obesity_data::synth::generate(500, 11);
    records[3].target = None;
    let table = Table::from_records(&records);
    assert_eq!(table.to_obesity_records().unwrap(), records);
    assert_eq!(
        table.canonical_digest(),
        obesity_data::canonical_digest(&records)
    );
    assert_eq!(table.target()[3], None);
    assert_eq!(table.target_level(0), records[0].target.map(|t| t.as_str()));
}
