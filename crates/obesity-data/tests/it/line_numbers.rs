//! Line numbers are an editor's whatever the line endings (issue 12, item 1).
//!
//! Every fixture under `fixtures/bad/` is rewritten here with LF, CRLF, CR-only, mixed
//! endings and blank lines, and the line each error, record and rejected row names is
//! checked against the line an editor shows, found in the test by splitting the bytes at
//! line breaks and looking for the offending row, independently of the loader.

use obesity_data::{DataError, LoadOptions, Loaded, load_csv_bytes};

use crate::common::{bad, fixtures};

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The lines of `bytes` as an editor shows them: `\n`, `\r\n` and a lone `\r` each end one
/// (so `n` line breaks make `n + 1` lines, the last maybe empty).
pub(crate) fn editor_lines(bytes: &[u8]) -> Vec<&[u8]> {
    let mut lines = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => {
                lines.push(&bytes[start..i]);
                start = i + 1;
            }
            b'\r' => {
                lines.push(&bytes[start..i]);
                if bytes.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    lines.push(&bytes[start..]);
    lines
}

/// The editor line (1-based) of byte `offset`: one plus the line breaks before it.
pub(crate) fn line_of_offset(bytes: &[u8], offset: usize) -> u64 {
    editor_lines(&bytes[..offset]).len() as u64
}

/// Line endings to rewrite a fixture with.
#[derive(Debug, Clone, Copy)]
enum Endings {
    Lf,
    Crlf,
    Cr,
    /// `\r\n`, `\r`, `\n` in turn.
    Mixed,
    /// Two blank lines before the header and one after every line, endings in turn.
    BlankLines,
}

/// `bytes` (a fixture, BOM kept in front) with its line breaks replaced.
fn rewrite(bytes: &[u8], endings: Endings) -> Vec<u8> {
    let (bom, body) = match bytes.strip_prefix(BOM) {
        Some(rest) => (BOM, rest),
        None => (&b""[..], bytes),
    };
    let mut lines = editor_lines(body);
    let ends_with_break = lines.last().is_some_and(|l| l.is_empty()) && lines.len() > 1;
    if ends_with_break {
        lines.pop();
    }
    let cycle: [&[u8]; 3] = [b"\r\n", b"\r", b"\n"];
    let mut out = bom.to_vec();
    if let Endings::BlankLines = endings {
        out.extend_from_slice(b"\r\n\n");
    }
    for (i, line) in lines.iter().enumerate() {
        out.extend_from_slice(line);
        if i + 1 == lines.len() && !ends_with_break {
            break;
        }
        match endings {
            Endings::Lf => out.push(b'\n'),
            Endings::Crlf => out.extend_from_slice(b"\r\n"),
            Endings::Cr => out.push(b'\r'),
            Endings::Mixed => out.extend_from_slice(cycle[i % 3]),
            Endings::BlankLines => {
                out.extend_from_slice(cycle[i % 3]);
                out.extend_from_slice(cycle[(i + 1) % 3]);
            }
        }
    }
    out
}

/// What the test knows about a file without the loader: its header and data rows by line.
struct Expected<'a> {
    /// Line of the header.
    header_line: u64,
    header: Vec<String>,
    /// `(line, fields)` of every non-blank line after the header.
    rows: Vec<(u64, Vec<&'a [u8]>)>,
}

impl<'a> Expected<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        let body = bytes.strip_prefix(BOM).unwrap_or(bytes);
        let lines = editor_lines(body);
        let mut numbered = lines
            .iter()
            .enumerate()
            .map(|(i, l)| (i as u64 + 1, *l))
            .filter(|(_, l)| !l.trim_ascii().is_empty());
        let (header_line, header) = numbered.next().unwrap_or((1, b""));
        let header = header
            .split(|&b| b == b',')
            .map(|f| String::from_utf8_lossy(f.trim_ascii()).into_owned())
            .collect();
        let rows = numbered
            .map(|(n, l)| (n, l.split(|&b| b == b',').collect()))
            .collect();
        Expected {
            header_line,
            header,
            rows,
        }
    }

    /// Every data row's line.
    fn data_lines(&self) -> Vec<u64> {
        self.rows.iter().map(|(n, _)| *n).collect()
    }

    /// The line of the first row whose `column` holds `value` (compared as the loader
    /// reports it: trimmed, invalid UTF-8 replaced).
    fn line_of_value(&self, column: &str, value: &str) -> Option<u64> {
        let index = self.header.iter().position(|h| h == column)?;
        self.rows
            .iter()
            .find(|(_, fields)| {
                fields
                    .get(index)
                    .is_some_and(|f| String::from_utf8_lossy(f.trim_ascii()) == value)
            })
            .map(|(n, _)| *n)
    }

    /// The line of the first row with another number of fields than the header.
    fn line_of_ragged_row(&self) -> Option<u64> {
        self.rows
            .iter()
            .find(|(_, fields)| fields.len() != self.header.len())
            .map(|(n, _)| *n)
    }

    /// The line an error should name, worked out from its kind and value.
    fn line_of_error(&self, e: &DataError) -> Option<u64> {
        match e {
            DataError::MissingColumns { .. }
            | DataError::DuplicateColumn { .. }
            | DataError::WrongDelimiter { .. } => Some(self.header_line),
            DataError::NotUtf8 { column, .. } if column == "<header>" => Some(self.header_line),
            DataError::RaggedRow { .. } => self.line_of_ragged_row(),
            _ => self.line_of_value(e.column()?, e.value()?),
        }
    }
}

/// Loads every fixture rewritten with `endings`, strictly and leniently, and checks every
/// line the loader names. Returns how many lines were checked.
fn check_fixtures(endings: Endings) -> usize {
    let mut names: Vec<_> = std::fs::read_dir(fixtures().join("bad"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".csv"))
        .collect();
    names.sort();
    assert!(names.len() >= 16, "fixtures/bad/ has only {names:?}");
    let mut checked = 0;
    for name in names {
        let original = std::fs::read(bad(&name)).unwrap();
        let bytes = rewrite(&original, endings);
        let expected = Expected::new(&bytes);
        let what = format!("{name} with {endings:?} endings");

        match load_csv_bytes(name.as_str(), &bytes, &LoadOptions::strict()) {
            Ok(loaded) => {
                assert_eq!(loaded.lines, expected.data_lines(), "{what}: Loaded::lines");
                checked += loaded.lines.len();
            }
            Err(e) => {
                let want = expected.line_of_error(&e);
                assert_eq!(e.line(), want, "{what}: {e}");
                if let Some(line) = want {
                    assert!(e.to_string().contains(&format!(":{line}:")), "{what}: {e}");
                    checked += 1;
                }
                if let DataError::NotUtf8 { byte_offset, .. } = e {
                    let bom = if bytes.starts_with(BOM) { BOM.len() } else { 0 };
                    let bad_byte = bom
                        + std::str::from_utf8(&bytes[bom..])
                            .unwrap_err()
                            .valid_up_to();
                    assert_eq!(byte_offset, bad_byte as u64, "{what}: byte offset");
                    assert_eq!(line_of_offset(&bytes, bad_byte), want.unwrap(), "{what}");
                }
            }
        }

        if let Ok(loaded) = load_csv_bytes(name.as_str(), &bytes, &LoadOptions::lenient()) {
            checked += check_lenient(&loaded, &expected, &what);
        }
    }
    checked
}

/// Every data row is either a record or rejected, each on its own line, and a rejected row
/// names the line that holds its bad value.
fn check_lenient(loaded: &Loaded, expected: &Expected<'_>, what: &str) -> usize {
    let mut all: Vec<u64> = loaded.lines.clone();
    for r in &loaded.rejected {
        assert_eq!(
            Some(r.line),
            expected.line_of_error(&r.error),
            "{what}: {}",
            r.error
        );
        all.push(r.line);
    }
    all.sort_unstable();
    assert_eq!(all, expected.data_lines(), "{what}: lenient lines");
    all.len()
}

#[test]
fn lf_line_numbers_in_every_fixture() {
    assert!(check_fixtures(Endings::Lf) > 40);
}

#[test]
fn regression_crlf_line_numbers() {
    assert!(check_fixtures(Endings::Crlf) > 40);
}

#[test]
fn regression_cr_only_line_numbers() {
    assert!(check_fixtures(Endings::Cr) > 40);
}

#[test]
fn regression_mixed_line_endings_line_numbers() {
    assert!(check_fixtures(Endings::Mixed) > 40);
}

#[test]
fn regression_blank_lines_before_a_record_line_numbers() {
    // The header moves to line 3 and every row has a blank line before it.
    assert!(check_fixtures(Endings::BlankLines) > 40);
    let bytes = rewrite(
        &std::fs::read(bad("missing_column.csv")).unwrap(),
        Endings::BlankLines,
    );
    let e = load_csv_bytes("m.csv", &bytes, &LoadOptions::strict()).unwrap_err();
    assert!(
        e.to_string().starts_with("m.csv:3: missing column(s)"),
        "{e}"
    );
}

#[test]
fn rewritten_fixtures_keep_their_content() {
    // The endings must not change what is loaded, only where.
    let reference = load_csv_bytes(
        "ok.csv",
        &std::fs::read(bad("ok.csv")).unwrap(),
        &LoadOptions::strict(),
    )
    .unwrap();
    for endings in [
        Endings::Lf,
        Endings::Crlf,
        Endings::Cr,
        Endings::Mixed,
        Endings::BlankLines,
    ] {
        let bytes = rewrite(&std::fs::read(bad("ok.csv")).unwrap(), endings);
        let loaded = load_csv_bytes("ok.csv", &bytes, &LoadOptions::strict()).unwrap();
        assert_eq!(loaded.records, reference.records, "{endings:?}");
        assert_eq!(
            loaded.fingerprint.canonical, reference.fingerprint.canonical,
            "{endings:?}"
        );
        let lines = editor_lines(&bytes);
        assert_eq!(
            loaded.lines.len() + 1,
            lines.iter().filter(|l| !l.is_empty()).count(),
            "{endings:?}"
        );
    }
}

#[test]
fn regression_quoted_newline_line_numbers() {
    // A quoted field spanning lines: the record is on the line where it starts, and the
    // records after it are on the lines an editor shows.
    let ok = String::from_utf8(std::fs::read(bad("ok.csv")).unwrap()).unwrap();
    let mut rows: Vec<String> = ok.lines().map(str::to_owned).collect();
    rows[0].push_str(",note");
    rows[1].push_str(",\"first\nsecond\r\nthird\rfourth\"");
    rows[2].push_str(",\"one\r\n\"\"two\"\"\"");
    rows[3] = rows[3].replacen(",1.8,", ",18,", 1) + ",plain";
    for ending in ["\n", "\r\n", "\r"] {
        let text = rows.join(ending) + ending;
        let bytes = text.as_bytes();
        let at = |needle: &str| line_of_offset(bytes, text.find(needle).unwrap());
        let (first, second, third) = (at("Female,21"), at("Male,23"), at("Male,27"));
        assert_eq!(
            (first, second, third),
            (2, 6, 8),
            "the test's own count, {ending:?}"
        );

        let e = load_csv_bytes("q.csv", bytes, &LoadOptions::strict()).unwrap_err();
        assert_eq!((e.line(), e.column()), (Some(third), Some("Height")), "{e}");
        let loaded = load_csv_bytes("q.csv", bytes, &LoadOptions::lenient()).unwrap();
        assert_eq!(loaded.lines, vec![first, second], "{ending:?}");
        assert_eq!(loaded.rejected[0].line, third);

        // An error inside the multi-line record names the line where the record starts.
        let bad_text = text.replacen("Female,21,1.62,64,yes", "Female,21,1.62,64,perhaps", 1);
        let e = load_csv_bytes("q.csv", bad_text.as_bytes(), &LoadOptions::strict()).unwrap_err();
        assert_eq!((e.line(), e.value()), (Some(first), Some("perhaps")), "{e}");
    }
}
