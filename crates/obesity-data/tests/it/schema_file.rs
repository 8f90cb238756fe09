//! Schema files (`Schema::from_path`): the shipped obesity schema file is `Schema::obesity()`,
//! YAML and JSON read alike, and every bad file is an error naming the file and, where the
//! parser knows it, the line and the key (issue 16).

use std::path::PathBuf;

use obesity_data::{ColumnSpec, DataError, Schema, SchemaFileProblem, SchemaProblem};

use crate::common::fixtures;

fn example(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/schemas")
        .join(name)
}

fn fish() -> Schema {
    Schema::new(vec![
        ColumnSpec::numeric("length", "cm", 0.0, 50.0).describe("body length"),
        ColumnSpec::numeric("mass", "g", 0.0, 900.0),
        ColumnSpec::ordinal("size", ["S", "M", "L"]),
        ColumnSpec::binary("coated").describe("sold breaded"),
        ColumnSpec::categorical("colour", ["red", "green", "blue"]),
        ColumnSpec::categorical("species", ["perch", "trout", "pike"]).target(),
    ])
    .unwrap()
}

/// Writes `text` to `name` in a fresh temp dir.
fn file(name: &str, text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

#[test]
fn the_shipped_obesity_schema_file_is_schema_obesity() {
    let schema = Schema::from_path(example("obesity.yaml")).unwrap();
    assert_eq!(schema, Schema::obesity());
}

#[test]
fn to_yaml_reads_back_equal() {
    for schema in [Schema::obesity(), fish()] {
        let yaml = schema.to_yaml().unwrap();
        assert_eq!(
            Schema::from_yaml_str("x.yaml", &yaml).unwrap(),
            schema,
            "{yaml}"
        );
    }
}

#[test]
fn yaml_and_json_fixtures_give_the_same_schema() {
    let yaml = Schema::from_path(fixtures().join("fish/schema.yaml")).unwrap();
    let json = Schema::from_path(fixtures().join("fish/schema.json")).unwrap();
    assert_eq!(yaml, fish());
    assert_eq!(json, fish());
}

#[test]
fn an_unknown_key_names_file_line_key_and_the_keys_expected() {
    let text = std::fs::read_to_string(fixtures().join("fish/schema.yaml"))
        .unwrap()
        .replace(
            "    levels: [S, M, L]",
            "    levels: [S, M, L]\n    order: ascending",
        );
    let (_dir, path) = file("fish.yaml", &text);
    let err = Schema::from_path(&path).unwrap_err();
    let line = text.lines().position(|l| l.contains("order:")).unwrap() as u64 + 1;
    assert_eq!(err.line(), Some(line), "{err}");
    assert_eq!(err.file(), Some(path.display().to_string().as_str()));
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!("{}:{line}:", path.display())),
        "{msg}"
    );
    assert!(msg.contains("unknown field `order`"), "{msg}");
    assert!(
        msg.contains("`levels`") && msg.contains("`target`"),
        "{msg}"
    );
}

#[test]
fn an_unknown_top_level_key_is_refused_too() {
    let err = Schema::from_yaml_str("s.yaml", "colums: []\n").unwrap_err();
    assert!(err.to_string().contains("unknown field `colums`"), "{err}");
    assert_eq!(err.line(), Some(1));
}

#[test]
fn a_key_that_does_not_fit_the_type_is_refused_with_its_line() {
    // `binary` with `levels`: serde alone would ignore them.
    let yaml = "columns:\n  - name: x\n    type: numeric\n    unit: m\n    min: 0\n    max: 1\n  - name: y\n    type: binary\n    levels: [a, b]\n    target: true\n";
    let err = Schema::from_yaml_str("s.yaml", yaml).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("column `y`: key `levels` does not apply to a binary column"),
        "{msg}"
    );
    // The entry's own line (where its mapping starts), not the list's.
    assert_eq!(err.line(), Some(7), "{msg}");
    assert!(
        msg.starts_with("s.yaml:7:5: columns[1]: column `y`"),
        "{msg}"
    );
}

#[test]
fn a_categorical_column_without_levels_is_a_missing_key() {
    let yaml = "columns:\n  - name: x\n    type: categorical\n  - name: y\n    type: binary\n    target: true\n";
    let msg = Schema::from_yaml_str("s.yaml", yaml)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("column `x`: missing key `levels`"), "{msg}");
}

#[test]
fn schema_checks_run_on_a_parsed_file_and_name_file_and_column() {
    let text = std::fs::read_to_string(fixtures().join("fish/schema.yaml"))
        .unwrap()
        .replace("    min: 0\n    max: 900", "    min: 900\n    max: 0");
    let (_dir, path) = file("fish.yaml", &text);
    let err = Schema::from_path(&path).unwrap_err();
    match &err {
        DataError::SchemaFile {
            file,
            problem:
                SchemaFileProblem::Invalid {
                    column: Some(column),
                    problem: SchemaProblem::BadRange { min, max },
                },
            ..
        } => {
            assert_eq!(file, &path.display().to_string());
            assert_eq!(column, "mass");
            assert_eq!((*min, *max), (900.0, 0.0));
        }
        other => panic!("expected an invalid range, got {other:?}"),
    }
    assert_eq!(err.column(), Some("mass"));

    // Empty levels and two targets are refused the same way.
    let empty = "columns:\n  - name: x\n    type: categorical\n    levels: []\n  - name: y\n    type: binary\n    target: true\n";
    let msg = Schema::from_yaml_str("s.yaml", empty)
        .unwrap_err()
        .to_string();
    assert_eq!(
        msg,
        "s.yaml: invalid schema: column `x`: no levels; expected at least one"
    );
    let two = "columns:\n  - {name: x, type: binary, target: true}\n  - {name: y, type: binary, target: true}\n";
    let msg = Schema::from_yaml_str("s.yaml", two)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("several targets (`x`, `y`)"), "{msg}");
}

#[test]
fn wrong_types_bad_syntax_empty_files_and_other_extensions_name_the_file() {
    let msg = Schema::from_yaml_str(
        "s.yaml",
        "columns:\n  - name: x\n    type: numeric\n    unit: m\n    min: zero\n    max: 1\n",
    )
    .unwrap_err()
    .to_string();
    assert!(msg.starts_with("s.yaml:5:"), "{msg}");
    assert!(msg.contains("min") && msg.contains("f64"), "{msg}");

    let msg = Schema::from_yaml_str("s.yaml", "columns:\n  - name: x\n    type: float\n")
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("unknown variant `float`") && msg.contains("`ordinal`"),
        "{msg}"
    );

    let err = Schema::from_json_str("s.json", "{\"columns\": [\n").unwrap_err();
    assert!(err.to_string().starts_with("s.json:2:"), "{err}");

    let err = Schema::from_yaml_str("s.yaml", "  \n").unwrap_err();
    assert!(
        matches!(
            &err,
            DataError::SchemaFile {
                problem: SchemaFileProblem::Empty,
                ..
            }
        ),
        "{err:?}"
    );

    let (_dir, path) = file("schema.toml", "columns = []\n");
    let msg = Schema::from_path(&path).unwrap_err().to_string();
    assert!(
        msg.contains("schema.toml") && msg.contains("extension `toml`"),
        "{msg}"
    );

    let err = Schema::from_path("no/such/schema.yaml").unwrap_err();
    assert!(matches!(err, DataError::Io { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("no/such/schema.yaml: cannot read"),
        "{err}"
    );
}
