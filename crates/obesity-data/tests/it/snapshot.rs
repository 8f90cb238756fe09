//! Pins every output of the obesity loader (records' fingerprints, lines, warnings, missing
//! counts, rejected rows, errors, the validation report as JSON and as text) for every
//! fixture and a set of crafted inputs, in strict and lenient mode, against a snapshot
//! written before the loader was made schema-driven (issue 13). Any change of output for
//! obesity data fails here.
//!
//! After an intended change of output, rewrite the snapshot with
//! `OBESITY_WRITE_SNAPSHOT=1 cargo test -p obesity-data snapshot`.

use std::fmt::Write as _;

use obesity_data::{LoadOptions, ValidationReport, load_csv_bytes, synth, write_csv};
use sha2::{Digest as _, Sha256};

use crate::common::{fixtures, uci_csv};

const SNAPSHOT: &str = "tests/reference/obesity_snapshot.txt";
const UCI_SNAPSHOT: &str = "tests/reference/obesity_snapshot_uci.sha256";

/// Inputs crafted to reach every error and the order in which a row's fields are checked.
fn crafted() -> Vec<(String, Vec<u8>)> {
    let mut good = Vec::new();
    write_csv(&synth::generate(30, 3), &mut good).unwrap_or_default();
    let text = String::from_utf8(good).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let header = lines[0];
    let row = lines[1];
    let mut out = vec![
        ("lf.csv".to_owned(), text.clone().into_bytes()),
        (
            "crlf.csv".to_owned(),
            text.replace('\n', "\r\n").into_bytes(),
        ),
        ("cr.csv".to_owned(), text.replace('\n', "\r").into_bytes()),
        (
            "blank_lines.csv".to_owned(),
            format!("\n\r\n{header}\n\n{row}\r\r\n{row}\n").into_bytes(),
        ),
    ];
    let fields: Vec<&str> = row.split(',').collect();
    // Every field replaced by a missing marker, a bad value and non-UTF-8, one at a time.
    for (i, _) in fields.iter().enumerate() {
        for (tag, bad) in [
            ("empty", &b""[..]),
            ("na", b"NA"),
            ("word", b"maybe"),
            ("big", b"1e9"),
            ("latin1", b"caf\xe9"),
            ("inf", b"inf"),
        ] {
            let mut bytes = format!("{header}\n{row}\n").into_bytes();
            for (j, f) in fields.iter().enumerate() {
                if j > 0 {
                    bytes.push(b',');
                }
                if i == j {
                    bytes.extend_from_slice(bad);
                } else {
                    bytes.extend_from_slice(f.as_bytes());
                }
            }
            bytes.extend_from_slice(format!("\n{row}\n").as_bytes());
            out.push((format!("field{i}_{tag}.csv"), bytes));
        }
    }
    // Two bad fields in one row: the error names the one checked first.
    let mut two = fields.clone();
    two[1] = "old";
    let last = two.len() - 1;
    two[last] = "Nope";
    out.push((
        "two_bad_fields.csv".to_owned(),
        format!("{header}\n{}\n", two.join(",")).into_bytes(),
    ));
    out.push((
        "ragged.csv".to_owned(),
        format!("{header}\n{row},1\n{row}\n").into_bytes(),
    ));
    out.push((
        "unquoted_quote.csv".to_owned(),
        format!("{header}\n{row}\n\"{row}\n").into_bytes(),
    ));
    out.push((
        "no_target.csv".to_owned(),
        format!(
            "{}\n{}\n",
            header.rsplit_once(',').map_or(header, |p| p.0),
            row.rsplit_once(',').map_or(row, |p| p.0)
        )
        .into_bytes(),
    ));
    out.push((
        "extra_and_duplicate.csv".to_owned(),
        format!("{header},Age\n{row},1\n").into_bytes(),
    ));
    out.push((
        "extra.csv".to_owned(),
        format!("{header},Note\n{row},x\n{row},y\n").into_bytes(),
    ));
    out.push((
        "tabs.csv".to_owned(),
        format!(
            "{}\n{}\n",
            header.replace(',', "\t"),
            row.replace(',', "\t")
        )
        .into_bytes(),
    ));
    out.push((
        "latin1_header.csv".to_owned(),
        [b"Gend\xe9r,".as_slice(), text.as_bytes()].concat(),
    ));
    out
}

fn inputs() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let synthetic = std::fs::read(fixtures().join("obesity_synthetic.csv")).unwrap_or_default();
    out.push(("obesity_synthetic.csv".to_owned(), synthetic));
    let mut bad: Vec<_> = std::fs::read_dir(fixtures().join("bad"))
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    bad.sort();
    for path in bad {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        out.push((
            name.unwrap_or_default(),
            std::fs::read(&path).unwrap_or_default(),
        ));
    }
    out.extend(crafted());
    out
}

/// Everything the obesity loader and report say about `bytes`, as text.
pub(crate) fn describe(name: &str, bytes: &[u8]) -> String {
    let mut s = String::new();
    for (mode, options) in [
        ("strict", LoadOptions::strict()),
        ("lenient", LoadOptions::lenient()),
    ] {
        let _ = writeln!(s, "== {name} ({mode})");
        match load_csv_bytes(name, bytes, &options) {
            Err(e) => {
                let _ = writeln!(s, "error: {e}");
                let _ = writeln!(s, "debug: {e:?}");
            }
            Ok(loaded) => {
                let _ = writeln!(s, "records: {}", loaded.records.len());
                let _ = writeln!(
                    s,
                    "records debug digest: {}",
                    digest(&format!("{:?}", loaded.records))
                );
                let _ = writeln!(s, "lines: {:?}", loaded.lines);
                let _ = writeln!(s, "header: {:?}", loaded.header);
                let _ = writeln!(s, "warnings: {:?}", loaded.warnings);
                for w in &loaded.warnings {
                    let _ = writeln!(s, "warning: {w}");
                }
                let _ = writeln!(s, "missing: {:?}", loaded.missing_values);
                let _ = writeln!(s, "fingerprint: {:?}", loaded.fingerprint);
                for r in &loaded.rejected {
                    let _ = writeln!(s, "rejected {}: {} | {:?}", r.line, r.error, r.error);
                }
                let report = ValidationReport::from_loaded(&loaded);
                let json = serde_json::to_string(&report).unwrap_or_default();
                let _ = writeln!(s, "report json: {json}");
                let _ = writeln!(s, "report text:\n{report}");
            }
        }
    }
    s
}

fn digest(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn check(path: &str, actual: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    if std::env::var_os("OBESITY_WRITE_SNAPSHOT").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap();
    if expected != actual {
        let first = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(0);
        panic!(
            "obesity outputs changed; first differing line {}:\nexpected: {}\nactual:   {}",
            first + 1,
            expected.lines().nth(first).unwrap_or(""),
            actual.lines().nth(first).unwrap_or("")
        );
    }
}

#[test]
fn obesity_loader_outputs_match_the_snapshot() {
    let mut all = String::new();
    for (name, bytes) in inputs() {
        all.push_str(&describe(&name, &bytes));
    }
    check(SNAPSHOT, &all);
}

#[test]
fn uci_loader_outputs_match_the_snapshot() {
    let Some(path) = uci_csv() else { return };
    let bytes = std::fs::read(&path).unwrap();
    let text = describe("uci.csv", &bytes);
    check(UCI_SNAPSHOT, &format!("{}\n", digest(&text)));
}
