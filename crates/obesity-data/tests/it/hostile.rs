//! Crafted worst cases from the fuzzing campaign (issue 12, item 2): loading stays linear
//! (these inputs once took minutes; their speed is in `benches/load.rs`), and messages quote
//! only a bounded prefix of a huge value while the error still names the right line, column
//! and byte.

use obesity_data::{DataError, LoadOptions, Loaded, ValidationReport, load_csv_bytes};
use proptest::prelude::*;
use proptest::sample::select;

use crate::line_numbers::{editor_lines, line_of_offset};

const HEADER: &str = "Gender,Age,Height,Weight,family_history_with_overweight,FAVC,FCVC,NCP,CAEC,SMOKE,CH2O,SCC,FAF,TUE,CALC,MTRANS,NObeyesdad";
/// A good row up to its `MTRANS` field, which follows.
const ROW_HEAD: &str = "Male,23,1.8,77,yes,no,2,3,Sometimes,no,2,no,2,1,Frequently,";
const ROW: &str = "Male,23,1.8,77,yes,no,2,3,Sometimes,no,2,no,2,1,Frequently,Public_Transportation,Normal_Weight";
const MB: usize = 1 << 20;
/// The most any message about one value may take (the value is cut to 64 characters).
const MAX_MESSAGE: usize = 600;

/// The editor lines of several offsets of `bytes` (ascending), in one pass.
fn lines_of_offsets(bytes: &[u8], offsets: &[usize]) -> Vec<u64> {
    let mut lines = Vec::with_capacity(offsets.len());
    let (mut line, mut at) = (1u64, 0usize);
    for &offset in offsets {
        // Count breaks in whole-line pieces between the previous offset and this one.
        let piece = &bytes[at..offset];
        let pieces = editor_lines(piece).len() as u64 - 1;
        // A `\r` ending the previous piece and a `\n` starting this one are one break.
        let joined = at > 0 && bytes[at - 1] == b'\r' && piece.first() == Some(&b'\n');
        line += pieces - u64::from(joined);
        lines.push(line);
        at = offset;
    }
    lines
}

fn strict_error(bytes: &[u8]) -> DataError {
    match load_csv_bytes("hostile.csv", bytes, &LoadOptions::strict()) {
        Ok(l) => panic!("loaded {} records; expected an error", l.records.len()),
        Err(e) => e,
    }
}

#[test]
fn lines_of_offsets_agrees_with_counting_from_the_start() {
    let bytes = b"a\r\nb\rc\n\r\nd\r";
    let offsets: Vec<usize> = (0..=bytes.len()).collect();
    let each: Vec<u64> = offsets.iter().map(|&o| line_of_offset(bytes, o)).collect();
    assert_eq!(lines_of_offsets(bytes, &offsets), each);
    assert_eq!(each[bytes.len()], 6);
}

#[test]
fn regression_quadratic_bad_byte_search_on_a_10mb_line() {
    // One 10 MB CRLF line: an extra column of 5 MB of `a`, then an MTRANS of 5 MB of `a`
    // ending in a byte that is not UTF-8. The old search compared the field at every offset.
    let half = 5 * MB;
    let mut bytes = format!("id,{HEADER}\r\n1,{ROW}\r\n").into_bytes();
    bytes.extend(std::iter::repeat_n(b'a', half));
    bytes.push(b',');
    bytes.extend_from_slice(ROW_HEAD.as_bytes());
    bytes.extend(std::iter::repeat_n(b'a', half));
    let bad_at = bytes.len();
    bytes.extend_from_slice(b"\xF3,Normal_Weight\r\n");

    let e = strict_error(&bytes);
    let msg = e.to_string();
    assert!(
        msg.len() <= MAX_MESSAGE,
        "{} bytes: {}",
        msg.len(),
        &msg[..200]
    );
    assert!(
        msg.starts_with("hostile.csv:3: column `MTRANS`: value `aaaa"),
        "{msg}"
    );
    assert!(msg.contains(&format!("… ({} bytes)", half + 3)), "{msg}");
    match &e {
        DataError::NotUtf8 {
            line,
            column,
            byte_offset,
            value,
            ..
        } => {
            assert_eq!(
                (*line, column.as_str()),
                (line_of_offset(&bytes, bad_at), "MTRANS")
            );
            assert_eq!(*byte_offset, bad_at as u64);
            // The error keeps the whole value; only the message is cut.
            assert_eq!(value.len(), half + "\u{FFFD}".len());
        }
        other => panic!("unexpected error {other:?}"),
    }

    let loaded = load_csv_bytes("hostile.csv", &bytes, &LoadOptions::lenient()).unwrap();
    assert_eq!((loaded.lines.clone(), loaded.rejected.len()), (vec![2], 1));
    assert_eq!(loaded.rejected[0].line, 3);
}

#[test]
fn regression_quadratic_search_for_quoted_escaped_fields() {
    // 2 MB of rows whose MTRANS is quoted with `""` escapes, so it is not verbatim in the
    // input, and holds a bad byte; CR-only endings. Lenient: each row is rejected naming its
    // own line and the exact offset of its bad byte.
    let shapes: [&[u8]; 5] = [
        b"\"Autom\xF3vil \"\"x\"\"\"",
        b"\"x\"\"\xF3\"",
        b"\"ab\"\xF3",
        b" \"\"\"\xF3\" ",
        b"\"\"\"\"\"\"\xF3",
    ];
    let mut bytes = HEADER.as_bytes().to_vec();
    let mut bad = Vec::new();
    let mut i = 0;
    while bytes.len() < 2 * MB {
        bytes.push(b'\r');
        bytes.extend_from_slice(ROW_HEAD.as_bytes());
        let shape = shapes[i % shapes.len()];
        bad.push(bytes.len() + shape.iter().position(|&b| b == 0xF3).unwrap());
        bytes.extend_from_slice(shape);
        bytes.extend_from_slice(b",Normal_Weight");
        i += 1;
    }
    let expected_lines = lines_of_offsets(&bytes, &bad);
    assert_eq!(expected_lines[..3], [2, 3, 4], "the test's own count");

    let loaded = load_csv_bytes("quoted.csv", &bytes, &LoadOptions::lenient()).unwrap();
    assert!(loaded.records.is_empty());
    assert_eq!(loaded.rejected.len(), bad.len());
    for ((r, &offset), &line) in loaded.rejected.iter().zip(&bad).zip(&expected_lines) {
        match &r.error {
            DataError::NotUtf8 {
                line: l,
                column,
                byte_offset,
                ..
            } => assert_eq!(
                (r.line, *l, column.as_str(), *byte_offset),
                (line, line, "MTRANS", offset as u64)
            ),
            other => panic!("unexpected error {other:?}"),
        }
        assert!(r.error.to_string().len() <= MAX_MESSAGE);
    }

    // Strict mode stops at the first, with the same answer.
    match strict_error(&bytes) {
        DataError::NotUtf8 {
            line, byte_offset, ..
        } => assert_eq!((line, byte_offset), (2, bad[0] as u64)),
        other => panic!("unexpected error {other:?}"),
    }
}

#[test]
fn regression_unbounded_messages_for_a_10mb_field() {
    let big = 10 * MB;
    let ones = "1".repeat(big);
    let tiny = format!("0.{}1", "0".repeat(big));
    let xs = "x".repeat(big);
    let accents = "é".repeat(big / 2);
    let quoted_ones = format!("\"{}\"\"\"", "1".repeat(big));
    // (column, position in ROW, field as written, value as reported, kind)
    let cases: [(&str, usize, &str, String, &str); 5] = [
        ("Age", 1, &ones, ones.clone(), "is not a number"),
        ("Height", 2, &tiny, tiny.clone(), "is out of range"),
        ("Gender", 0, &xs, xs.clone(), "unknown value"),
        ("MTRANS", 15, &accents, accents.clone(), "unknown value"),
        (
            "Age",
            1,
            &quoted_ones,
            format!("{}\"", "1".repeat(big)),
            "is not a number",
        ),
    ];
    for (column, index, field, value, kind) in cases {
        let mut fields: Vec<&str> = ROW.split(',').collect();
        fields[index] = field;
        let bad_row = fields.join(",");
        let text = format!("{HEADER}\r\n{ROW}\r\n\r\n{ROW}\r\n{bad_row}\r\n{ROW}\r\n");
        let line = line_of_offset(text.as_bytes(), text.find(&bad_row).unwrap());
        assert_eq!(line, 5, "the test's own count");

        let e = strict_error(text.as_bytes());
        let msg = e.to_string();
        assert!(msg.len() <= MAX_MESSAGE, "{column}: {} bytes", msg.len());
        assert!(
            msg.starts_with(&format!("hostile.csv:{line}: column `{column}`:")),
            "{msg}"
        );
        assert!(msg.contains(kind), "{msg}");
        assert!(msg.contains(&format!("… ({} bytes)", value.len())), "{msg}");
        let shown: String = value.chars().take(64).collect();
        assert!(msg.contains(&format!("`{shown}`…")), "{msg}");
        assert_eq!((e.line(), e.column()), (Some(line), Some(column)));
        assert_eq!(
            e.value().map(str::len),
            Some(value.len()),
            "the value is kept whole"
        );

        // The report of a lenient load stays small too.
        let loaded =
            load_csv_bytes("hostile.csv", text.as_bytes(), &LoadOptions::lenient()).unwrap();
        assert_eq!(loaded.lines, vec![2, 4, 6]);
        assert_eq!(loaded.rejected[0].line, line);
        let report = ValidationReport::from_loaded(&loaded);
        assert!(report.rejected_rows[0].message.len() <= MAX_MESSAGE);
        let shown_report = report.to_string();
        assert!(
            shown_report.len() < 10_000,
            "{column}: report of {} bytes",
            shown_report.len()
        );
    }
}

#[test]
fn regression_unbounded_messages_for_a_huge_header() {
    // One 10 MB header field: the missing columns are listed, the field cut.
    let mut bytes = "h".repeat(10 * MB).into_bytes();
    bytes.extend_from_slice(format!("\n{ROW}\n").as_bytes());
    let msg = strict_error(&bytes).to_string();
    assert!(msg.len() <= 2_000, "{} bytes", msg.len());
    assert!(
        msg.starts_with("hostile.csv:1: missing column(s) `Gender`"),
        "{msg}"
    );
    assert!(msg.contains(&format!("… ({} bytes)", 10 * MB)), "{msg}");

    // 200,000 header fields: at most 40 are listed.
    let names: Vec<String> = (0..200_000).map(|i| format!("c{i}")).collect();
    let bytes = format!("\r\n{}\r\n{ROW}\r\n", names.join(","));
    let msg = strict_error(bytes.as_bytes()).to_string();
    assert!(msg.len() <= 2_000, "{} bytes", msg.len());
    assert!(msg.starts_with("hostile.csv:2: missing column(s)"), "{msg}");
    assert!(msg.contains("`c39`, … (199960 more)"), "{msg}");

    // A 10 MB extra column name: the warning is cut.
    let extra = "e".repeat(10 * MB);
    let text = format!("{HEADER},{extra}\n{ROW},1\n");
    let loaded = load_csv_bytes("hostile.csv", text.as_bytes(), &LoadOptions::strict()).unwrap();
    let warning = loaded.warnings[0].to_string();
    assert!(warning.len() <= MAX_MESSAGE, "{} bytes", warning.len());
    assert!(warning.contains("(field 18)"), "{warning}");
}

#[test]
fn regression_bad_header_byte_offset_after_blank_lines() {
    // The header's bad byte is found in the header's own record, after a BOM and blank
    // lines, inside a quoted name with `""` escapes.
    let (before, after) = HEADER.split_once("FAVC").unwrap();
    let mut bytes = b"\xEF\xBB\xBF\r\n\r".to_vec();
    bytes.extend_from_slice(before.as_bytes());
    bytes.extend_from_slice(b"\"F\"\"A\xE9VC\"");
    bytes.extend_from_slice(after.as_bytes());
    bytes.extend_from_slice(format!("\r{ROW}\r").as_bytes());
    let bad_at = bytes.iter().position(|&b| b == 0xE9).unwrap();
    match strict_error(&bytes) {
        DataError::NotUtf8 {
            line,
            column,
            byte_offset,
            ..
        } => assert_eq!(
            (line, column.as_str(), byte_offset),
            (line_of_offset(&bytes, bad_at), "<header>", bad_at as u64)
        ),
        other => panic!("unexpected error {other:?}"),
    }
    assert_eq!(line_of_offset(&bytes, bad_at), 3);
}

#[test]
fn bad_byte_offset_in_a_row_that_starts_with_bom_bytes() {
    // Only the file's first bytes can be a byte-order mark; in a later row they are data.
    let mut bytes = format!("{HEADER}\n").into_bytes();
    bytes.extend_from_slice(b"\xEF\xBB\xBFMal\xF3");
    bytes.extend_from_slice(&ROW.as_bytes()["Male".len()..]);
    let bad_at = bytes.iter().position(|&b| b == 0xF3).unwrap();
    match strict_error(&bytes) {
        DataError::NotUtf8 {
            line,
            column,
            byte_offset,
            ..
        } => assert_eq!(
            (line, column.as_str(), byte_offset),
            (2, "Gender", bad_at as u64)
        ),
        other => panic!("unexpected error {other:?}"),
    }
}

/// Checks what a load of `bytes` gives: no panic (the caller got here), every line it names
/// within the file's editor lines, records in file order, every message bounded.
pub(crate) fn assert_sane(bytes: &[u8], result: Result<Loaded, DataError>) {
    let last_line = editor_lines(bytes).len() as u64;
    let within = |line: u64| (1..=last_line).contains(&line);
    // The longest message lists 16 missing and 40 found names of at most 64 characters.
    let bounded = |msg: &str| !msg.is_empty() && msg.len() <= 16_000;
    match result {
        Ok(loaded) => {
            assert!(
                loaded.lines.iter().all(|&l| within(l)),
                "{:?} > {last_line}",
                loaded.lines
            );
            assert!(
                loaded.lines.windows(2).all(|w| w[0] < w[1]),
                "{:?}",
                loaded.lines
            );
            for r in &loaded.rejected {
                assert!(within(r.line), "{} > {last_line}: {}", r.line, r.error);
                assert_eq!(r.error.line(), Some(r.line));
                assert!(bounded(&r.error.to_string()));
            }
        }
        Err(e) => {
            if let Some(line) = e.line() {
                assert!(within(line), "{line} > {last_line}: {e}");
            }
            assert!(bounded(&e.to_string()), "{e}");
        }
    }
}

/// Bytes that look like CSV often enough to reach every path of the loader: a header (or
/// not), then good rows, field values, quotes, separators, every kind of line break, bad
/// bytes and anything else.
fn csvish() -> impl Strategy<Value = Vec<u8>> {
    let prefix = select(vec![
        String::new(),
        format!("{HEADER}\n"),
        format!("\u{FEFF}{HEADER}\r\n"),
        format!("\r\n\r{HEADER}\r"),
        format!("id,{HEADER}\n1,"),
    ]);
    let token = prop_oneof![
        any::<u8>().prop_map(|b| vec![b]),
        select(vec![
            &b","[..],
            b"\"",
            b"\"\"",
            b"\r",
            b"\n",
            b"\r\n",
            b"\xF3",
            b"\xEF\xBB\xBF",
            b" ",
            b"NA",
            b"1.7",
            b"Male",
            b"yes",
        ])
        .prop_map(<[u8]>::to_vec),
        Just(format!("{ROW}\n").into_bytes()),
        Just(format!("{ROW}\r").into_bytes()),
        Just(ROW_HEAD.as_bytes().to_vec()),
    ];
    (prefix, proptest::collection::vec(token, 0..120)).prop_map(|(prefix, tokens)| {
        let mut bytes = prefix.into_bytes();
        for t in tokens {
            bytes.extend_from_slice(&t);
        }
        bytes
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn csvish_bytes_never_panic_and_lines_stay_in_the_file(bytes in csvish()) {
        for options in [LoadOptions::strict(), LoadOptions::lenient()] {
            assert_sane(&bytes, load_csv_bytes("fuzz.csv", &bytes, &options));
        }
    }
}
