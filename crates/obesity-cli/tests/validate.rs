//! `obesity validate FILE --schema SCHEMA_FILE` (issue 16): any table described by a YAML or
//! JSON schema file, with the same report, `--json`, `--lenient` and exit codes as the UCI
//! validation; a bad schema file is exit 1 naming the file, the line and the key.

use std::path::{Path, PathBuf};

mod common;
use common::{failed, fixture, json, obesity_in, ok};

fn arg(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn fish_schema() -> PathBuf {
    fixture("fish/schema.yaml")
}

fn example_schema(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/schemas")
        .join(name)
}

fn close(a: &serde_json::Value, b: f64) -> bool {
    a.as_f64().is_some_and(|a| (a - b).abs() < 1e-9)
}

#[test]
fn a_valid_table_of_another_schema_gives_its_report() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = fixture("fish/fish.csv");
    let text = ok(&obesity_in(
        dir.path(),
        &["validate", arg(&data), "--schema", arg(&fish_schema())],
    ));
    assert!(
        text.contains("shape          7 rows x 6 columns (schema: 7 x 6) ok"),
        "{text}"
    );
    assert!(
        text.contains("duplicates     1 (14.29%): line 8 = line 2"),
        "{text}"
    );

    let doc = json(&ok(&obesity_in(
        dir.path(),
        &[
            "validate",
            arg(&data),
            "--schema",
            arg(&fish_schema()),
            "--json",
        ],
    )));
    assert_eq!(doc["shape"]["rows"], 7, "{doc}");
    assert_eq!(doc["shape"]["expected_columns"], 6, "{doc}");
    assert_eq!(doc["shape"]["expected_from"], "schema", "{doc}");
    assert_eq!(doc["duplicates"]["count"], 1, "{doc}");
    let classes: Vec<(String, u64)> = doc["class_balance"]["classes"]
        .as_array()
        .expect("classes")
        .iter()
        .map(|c| {
            (
                c["class"].as_str().unwrap().to_owned(),
                c["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        classes,
        [("perch".into(), 3), ("trout".into(), 2), ("pike".into(), 2)]
    );
    let numeric = doc["numeric"].as_array().expect("numeric");
    let names: Vec<&str> = numeric
        .iter()
        .map(|c| c["column"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["length", "mass"]);
    assert!(close(&numeric[0]["mean"], 190.5 / 7.0), "{}", numeric[0]);
    assert!(close(&numeric[1]["max"], 800.0), "{}", numeric[1]);
    assert_eq!(numeric[1]["unit"], "g");

    // The same schema as JSON (by the file's extension) gives the same report.
    let from_json = json(&ok(&obesity_in(
        dir.path(),
        &[
            "validate",
            arg(&data),
            "--schema",
            arg(&fixture("fish/schema.json")),
            "--json",
        ],
    )));
    assert_eq!(from_json, doc);
}

#[test]
fn the_shipped_obesity_schema_file_validates_like_the_built_in_schema() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = fixture("obesity_synthetic.csv");
    let built_in = ok(&obesity_in(dir.path(), &["validate", arg(&data), "--json"]));
    let from_file = ok(&obesity_in(
        dir.path(),
        &[
            "validate",
            arg(&data),
            "--schema",
            arg(&example_schema("obesity.yaml")),
            "--json",
        ],
    ));
    assert_eq!(json(&from_file), json(&built_in));
    assert_eq!(json(&from_file)["shape"]["rows"], 2111);
}

#[test]
fn a_bad_value_stops_with_file_line_column_value_and_what_was_expected() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = fixture("fish/bad_rows.csv");
    let o = obesity_in(
        dir.path(),
        &["validate", arg(&bad), "--schema", arg(&fish_schema())],
    );
    let err = failed(&o);
    assert!(o.stdout.is_empty(), "no report on a failed strict load");
    assert!(
        err.contains(&format!(
            "{}:3: column `mass`: value `4000` is out of range; expected 0 to 900 (g)",
            bad.display()
        )),
        "{err}"
    );
    // The same with --json: the error on stderr, nothing on stdout.
    let o = obesity_in(
        dir.path(),
        &[
            "validate",
            arg(&bad),
            "--schema",
            arg(&fish_schema()),
            "--json",
        ],
    );
    assert!(failed(&o).contains("bad_rows.csv:3:"));
    assert!(o.stdout.is_empty());
}

#[test]
fn lenient_reports_every_bad_row() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = fixture("fish/bad_rows.csv");
    let doc = json(&ok(&obesity_in(
        dir.path(),
        &[
            "validate",
            arg(&bad),
            "--schema",
            arg(&fish_schema()),
            "--lenient",
            "--json",
        ],
    )));
    assert_eq!(doc["shape"]["rows"], 3, "{doc}");
    assert_eq!(doc["shape"]["rejected_rows"], 3, "{doc}");
    let rejected: Vec<(u64, &str)> = doc["rejected_rows"]
        .as_array()
        .expect("rejected_rows")
        .iter()
        .map(|r| (r["line"].as_u64().unwrap(), r["column"].as_str().unwrap()))
        .collect();
    assert_eq!(rejected, [(3, "mass"), (4, "size"), (6, "length")]);
    let messages = doc["rejected_rows"].to_string();
    assert!(
        messages.contains("unknown value `XL`; expected one of `S`, `M`, `L`"),
        "{messages}"
    );
    assert!(
        messages.contains("value `twelve` is not a number"),
        "{messages}"
    );
    assert_eq!(doc["range_violations"][0]["value"], "4000", "{doc}");

    // The text report lists them too.
    let text = ok(&obesity_in(
        dir.path(),
        &[
            "validate",
            arg(&bad),
            "--schema",
            arg(&fish_schema()),
            "--lenient",
        ],
    ));
    assert!(text.contains("rejected rows  3"), "{text}");
}

#[test]
fn line_numbers_of_a_crlf_file_are_an_editors() {
    let dir = tempfile::tempdir().expect("tempdir");
    // CRLF throughout, a blank line (3) and a quoted field spanning lines 6-7: an editor
    // shows the bad `pi..ke` row on line 6 and the bad `zebra` row on line 8 (a reader that
    // counted `\r` and `\n` apart, or skipped the blank line, would say otherwise).
    let csv = "species,length,mass,size,coated,colour\r\n\
               perch,12.5,120,S,no,green\r\n\
               \r\n\
               \"trout\",30,400,M,no,red\r\n\
               pike,45,800,L,yes,\"blue\"\r\n\
               \"pi\r\nke\",41,700,L,no,blue\r\n\
               zebra,10,100,S,no,red\r\n\
               perch,12,110,S,no,green\r\n";
    let path = dir.path().join("crlf.csv");
    std::fs::write(&path, csv).expect("write");
    let err = refused(dir.path(), &path, &fish_schema());
    assert!(err.contains("crlf.csv:6: column `species`"), "{err}");
    let doc = json(&ok(&obesity_in(
        dir.path(),
        &[
            "validate",
            arg(&path),
            "--schema",
            arg(&fish_schema()),
            "--lenient",
            "--json",
        ],
    )));
    let lines: Vec<u64> = doc["rejected_rows"]
        .as_array()
        .expect("rejected_rows")
        .iter()
        .map(|r| r["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [6, 8], "{doc}");
    assert_eq!(doc["shape"]["rows"], 4, "{doc}");
}

/// Writes the fish schema with `from` replaced by `to` as `name` in `dir`.
/// Stderr of `obesity validate DATA --schema SCHEMA` run in `dir`, which must exit 1.
fn refused(dir: &Path, data: &Path, schema: &Path) -> String {
    failed(&obesity_in(
        dir,
        &["validate", arg(data), "--schema", arg(schema)],
    ))
}

fn edited_schema(dir: &Path, name: &str, from: &str, to: &str) -> PathBuf {
    let text = std::fs::read_to_string(fish_schema()).expect("schema");
    assert!(text.contains(from), "{from}");
    let path = dir.join(name);
    std::fs::write(&path, text.replace(from, to)).expect("write");
    path
}

#[test]
fn a_schema_file_with_an_unknown_key_names_the_key_file_and_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let schema = edited_schema(
        dir.path(),
        "typo.yaml",
        "    levels: [S, M, L]",
        "    lvls: [S, M, L]",
    );
    let line = std::fs::read_to_string(&schema)
        .unwrap()
        .lines()
        .position(|l| l.contains("lvls"))
        .unwrap()
        + 1;
    let o = obesity_in(
        dir.path(),
        &[
            "validate",
            arg(&fixture("fish/fish.csv")),
            "--schema",
            arg(&schema),
            "--json",
        ],
    );
    let err = failed(&o);
    assert!(o.stdout.is_empty());
    assert!(
        err.contains(&format!("{}:{line}:", schema.display())),
        "{err}"
    );
    assert!(err.contains("unknown field `lvls`"), "{err}");
    assert!(
        err.contains("expected one of") && err.contains("`levels`"),
        "{err}"
    );
}

#[test]
fn a_schema_the_checks_refuse_names_the_file_column_and_problem() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = fixture("fish/fish.csv");
    let range = edited_schema(
        dir.path(),
        "range.yaml",
        "    min: 0\n    max: 900",
        "    min: 900\n    max: 0",
    );
    let err = refused(dir.path(), &data, &range);
    assert!(
        err.contains(&format!(
            "{}: invalid schema: column `mass`: range 900 to 0 is invalid; expected min <= max",
            range.display()
        )),
        "{err}"
    );

    let no_levels = edited_schema(
        dir.path(),
        "levels.yaml",
        "    levels: [red, green, blue]\n",
        "",
    );
    let err = refused(dir.path(), &data, &no_levels);
    assert!(err.contains("levels.yaml:"), "{err}");
    assert!(
        err.contains("column `colour`: missing key `levels`"),
        "{err}"
    );

    let no_target = edited_schema(dir.path(), "target.yaml", "    target: true\n", "");
    let err = refused(dir.path(), &data, &no_target);
    assert!(
        err.contains("target.yaml: invalid schema: no column is the target"),
        "{err}"
    );
}

#[test]
fn a_missing_or_unreadable_schema_file_is_exit_1_naming_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = fixture("fish/fish.csv");
    let err = refused(dir.path(), &data, Path::new("no-such-schema.yaml"));
    assert!(err.contains("no-such-schema.yaml: cannot read"), "{err}");

    std::fs::write(dir.path().join("schema.txt"), "columns: []\n").expect("write");
    let err = refused(dir.path(), &data, Path::new("schema.txt"));
    assert!(
        err.contains("schema.txt") && err.contains("`.yaml`, `.yml` or `.json`"),
        "{err}"
    );

    // --schema without a value is bad usage.
    assert_eq!(
        obesity_in(dir.path(), &["validate", arg(&data), "--schema"])
            .status
            .code(),
        Some(2)
    );
}
