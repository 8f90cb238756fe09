//! CSV loading by header name, in strict or lenient mode.
//!
//! The whole input is held in memory (the raw fingerprint needs every byte anyway, and the
//! UCI file is 260 KB); rows are read into one reused `csv::ByteRecord` and parsed field by
//! field without allocating, except on the error path.
//!
//! Line numbers are an editor's, counted here from byte offsets rather than taken from the
//! `csv` crate (which counts `\n` bytes only, and counts the `\n` of a CRLF with the next
//! record): `\n`, `\r\n` and a lone `\r` each end a line, and a record is on the line of
//! its first byte. Every step is linear in the input, including the error paths: a bad
//! byte's offset is found by re-reading only its own record with `csv_core`.

use std::cell::RefCell;
use std::fmt;
use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result, quoted};
use crate::fingerprint::Fingerprint;
use crate::record::{Frequency, Gender, ObesityLevel, ObesityRecord, Transport};
use crate::schema::{ColumnKind, Schema, TARGET_COLUMN};
use crate::write::FEATURE_COLUMNS;

/// How a load treats a bad row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoadMode {
    /// The first bad row is an error: for training data that must be right.
    #[default]
    Strict,
    /// Good rows are kept and every bad row is reported in [`Loaded::rejected`]: for
    /// exploring a messy file or scoring what can be scored.
    Lenient,
}

/// Options for [`load_csv`]. `LoadOptions::default()` is strict and comma-separated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadOptions {
    mode: LoadMode,
    delimiter: u8,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            mode: LoadMode::Strict,
            delimiter: b',',
        }
    }
}

impl LoadOptions {
    /// Strict loading: the first bad row fails the load. This is the default.
    pub fn strict() -> Self {
        LoadOptions::default()
    }

    /// Lenient loading: bad rows are set aside with their error, good rows kept.
    pub fn lenient() -> Self {
        LoadOptions::default().mode(LoadMode::Lenient)
    }

    /// Sets the mode. By default, this is [`LoadMode::Strict`].
    pub fn mode(mut self, mode: LoadMode) -> Self {
        self.mode = mode;
        self
    }

    /// Sets the field separator, for `;`- or tab-separated exports. By default, this is `,`.
    pub fn delimiter(mut self, delimiter: u8) -> Self {
        self.delimiter = delimiter;
        self
    }

    /// The mode these options load in.
    pub fn load_mode(&self) -> LoadMode {
        self.mode
    }
}

/// A row a lenient load set aside, with the reason.
#[derive(Debug)]
pub struct RejectedRow {
    /// Line where the row starts, as an editor numbers it (header = 1).
    pub line: u64,
    /// Why it was rejected (names the column and value).
    pub error: DataError,
}

/// Something odd about the file that did not stop the load.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum LoadWarning {
    /// A header column the schema does not know; its values are ignored.
    ExtraColumn {
        /// The column's name as written.
        column: String,
        /// 1-based position in the header.
        position: usize,
    },
    /// The file has no `NObeyesdad` column, so every record is unlabelled (`target: None`).
    NoTargetColumn,
}

impl fmt::Display for LoadWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadWarning::ExtraColumn { column, position } => {
                write!(
                    f,
                    "extra column {} (field {position}) is not in the schema and was ignored",
                    quoted(column)
                )
            }
            LoadWarning::NoTargetColumn => {
                write!(f, "no `{TARGET_COLUMN}` column: records are unlabelled")
            }
        }
    }
}

/// A count for one column, in schema order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnCount {
    /// Column name.
    pub column: String,
    /// The count.
    pub count: usize,
}

/// The result of a load: the records and everything learnt while reading them.
#[derive(Debug)]
pub struct Loaded {
    /// Where the data came from (the path, or the name given to [`load_csv_bytes`]).
    pub source: String,
    /// The good rows, in file order.
    pub records: Vec<ObesityRecord>,
    /// The line where each record starts, as an editor numbers it (header = 1), parallel to
    /// `records`.
    pub lines: Vec<u64>,
    /// Rows a lenient load set aside (always empty in strict mode).
    pub rejected: Vec<RejectedRow>,
    /// Oddities that did not stop the load (extra columns, no target column).
    pub warnings: Vec<LoadWarning>,
    /// The header as read (trimmed, without the byte-order mark).
    pub header: Vec<String>,
    /// Empty or missing-marker fields per schema column present in the file, counted over
    /// every row with the header's width (rejected rows included).
    pub missing_values: Vec<ColumnCount>,
    /// Content hashes of the loaded records and of the raw bytes.
    pub fingerprint: Fingerprint,
}

/// Loads the CSV file at `path`.
///
/// Columns are found by header name in any order; the target `NObeyesdad` is optional.
/// CRLF or LF, a UTF-8 byte-order mark and whitespace around fields are accepted, and `21`
/// reads like `21.0`. See [`LoadMode`] for what happens to bad rows.
pub fn load_csv(path: impl AsRef<Path>, options: &LoadOptions) -> Result<Loaded> {
    let path = path.as_ref();
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| DataError::Io {
        file: name.clone(),
        source,
    })?;
    load_csv_bytes(name, &bytes, options)
}

/// Loads CSV read from `reader`, naming it `source` in errors and reports.
pub fn load_csv_reader(
    source: impl Into<String>,
    mut reader: impl Read,
    options: &LoadOptions,
) -> Result<Loaded> {
    let source = source.into();
    let mut bytes = Vec::new();
    reader.read_to_end(&mut bytes).map_err(|e| DataError::Io {
        file: source.clone(),
        source: e,
    })?;
    load_csv_bytes(source, &bytes, options)
}

/// Loads CSV held in memory, naming it `source` in errors and reports.
pub fn load_csv_bytes(
    source: impl Into<String>,
    bytes: &[u8],
    options: &LoadOptions,
) -> Result<Loaded> {
    let file = source.into();
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if body.trim_ascii().is_empty() {
        return Err(DataError::EmptyFile { file });
    }

    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .delimiter(options.delimiter)
        .flexible(true)
        .from_reader(bytes);
    let mut row = csv::ByteRecord::new();
    let header_read = reader
        .read_byte_record(&mut row)
        .map_err(|e| malformed(&file, &e, &mut LineCounter::new(bytes)))?;
    if !header_read {
        return Err(DataError::EmptyFile { file });
    }
    let mut lines = LineCounter::new(bytes);
    let header_line = lines.record_line(row.position());
    let header = read_header(&row, &file, bytes, header_line, options.delimiter)?;
    let columns =
        bind_columns(&header, &file, header_line).map_err(|e| match (&e, header.as_slice()) {
            // One field holding another separator: say so rather than list 16 missing columns.
            (DataError::MissingColumns { .. }, [only]) => [';', '\t', '|', ',']
                .into_iter()
                .find(|c| *c as u32 != u32::from(options.delimiter) && only.contains(*c))
                .map_or(e, |found| DataError::WrongDelimiter {
                    file: file.clone(),
                    line: header_line,
                    found,
                }),
            _ => e,
        })?;

    let mut warnings = Vec::new();
    for (i, name) in header.iter().enumerate() {
        if !FEATURE_COLUMNS.contains(&name.as_str()) && name != TARGET_COLUMN {
            warnings.push(LoadWarning::ExtraColumn {
                column: name.clone(),
                position: i + 1,
            });
        }
    }
    if columns.target.is_none() {
        warnings.push(LoadWarning::NoTargetColumn);
    }

    let mut missing = vec![0usize; 17];
    let mut records = Vec::with_capacity(bytes.len() / 100);
    let mut record_lines = Vec::with_capacity(bytes.len() / 100);
    let mut rejected = Vec::new();
    let mut data_rows = 0usize;
    let parser = RowParser {
        file: &file,
        input: bytes,
        delimiter: options.delimiter,
        core: RefCell::new(None),
        columns: &columns,
        header: &header,
        ranges: numeric_ranges(),
    };

    loop {
        match reader.read_byte_record(&mut row) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                let error = malformed(&file, &e, &mut lines);
                match options.mode {
                    LoadMode::Strict => return Err(error),
                    LoadMode::Lenient => {
                        rejected.push(RejectedRow {
                            line: error.line().unwrap_or(0),
                            error,
                        });
                        // The reader cannot resynchronise reliably after a parse error.
                        break;
                    }
                }
            }
        }
        let line = lines.record_line(row.position());
        // A whitespace-only line is a blank line, not a one-field row.
        if row.len() == 1 && row.get(0).is_some_and(|f| f.trim_ascii().is_empty()) {
            continue;
        }
        data_rows += 1;
        if row.len() == header.len() {
            for (slot, idx) in columns.all().enumerate() {
                if let Some(field) = idx.and_then(|i| row.get(i))
                    && is_missing(field.trim_ascii())
                {
                    missing[slot] += 1;
                }
            }
        }
        match parser.parse(&row, line) {
            Ok(record) => {
                records.push(record);
                record_lines.push(line);
            }
            Err(error) => match options.mode {
                LoadMode::Strict => return Err(error),
                LoadMode::Lenient => rejected.push(RejectedRow { line, error }),
            },
        }
    }
    if data_rows == 0 {
        return Err(DataError::HeaderOnly { file });
    }

    let missing_values = columns
        .all()
        .zip(
            FEATURE_COLUMNS
                .iter()
                .chain(std::iter::once(&TARGET_COLUMN)),
        )
        .zip(missing)
        .filter(|((idx, _), _)| idx.is_some())
        .map(|((_, name), count)| ColumnCount {
            column: (*name).to_owned(),
            count,
        })
        .collect();
    let fingerprint = Fingerprint::new(&records, bytes);
    Ok(Loaded {
        source: file,
        records,
        lines: record_lines,
        rejected,
        warnings,
        header,
        missing_values,
        fingerprint,
    })
}

/// Spellings read as "no value", as pandas' `read_csv` does by default.
fn is_missing(field: &[u8]) -> bool {
    matches!(
        field,
        b"" | b"NA"
            | b"N/A"
            | b"n/a"
            | b"NaN"
            | b"nan"
            | b"-NaN"
            | b"NULL"
            | b"null"
            | b"None"
            | b"<NA>"
            | b"#N/A"
            | b"?"
    )
}

fn malformed(file: &str, e: &csv::Error, lines: &mut LineCounter<'_>) -> DataError {
    DataError::Malformed {
        file: file.to_owned(),
        line: lines.line_at(e.position().map_or(0, |p| p.byte())),
        detail: e.to_string(),
    }
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Editor line numbers of byte offsets: `\n`, `\r\n` and a lone `\r` each end a line.
///
/// Offsets are asked for in increasing order, so a whole load counts each byte once.
struct LineCounter<'a> {
    input: &'a [u8],
    /// Bytes before `at` are counted...
    at: usize,
    /// ...and `at` is on this line.
    line: u64,
}

impl<'a> LineCounter<'a> {
    fn new(input: &'a [u8]) -> Self {
        LineCounter {
            input,
            at: 0,
            line: 1,
        }
    }

    /// The line of byte `offset` (clamped to the input).
    fn line_at(&mut self, offset: u64) -> u64 {
        let offset = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(self.input.len());
        if offset < self.at {
            // Not done by the loader (offsets only grow), but stay right if it ever is.
            *self = LineCounter::new(self.input);
        }
        let chunk = self.input.get(self.at..offset).unwrap_or_default();
        for i in memchr::memchr2_iter(b'\r', b'\n', chunk) {
            let at = self.at + i;
            let before = at.checked_sub(1).and_then(|j| self.input.get(j));
            // A `\n` right after a `\r` ends the line the `\r` already ended.
            if self.input.get(at) == Some(&b'\r') || before != Some(&b'\r') {
                self.line += 1;
            }
        }
        self.at = offset;
        self.line
    }

    /// The line where the record read from `position` starts (see [`record_start`]).
    fn record_line(&mut self, position: Option<&csv::Position>) -> u64 {
        let start = record_start(self.input, position.map_or(0, |p| p.byte()));
        self.line_at(start as u64)
    }
}

/// The offset of the first byte of the record the reader read from offset `position`: the
/// reader skips line breaks (blank lines, the `\n` of a CRLF) and, at the very start, a
/// byte-order mark first.
fn record_start(input: &[u8], position: u64) -> usize {
    let mut at = usize::try_from(position)
        .unwrap_or(usize::MAX)
        .min(input.len());
    if at == 0 && input.starts_with(BOM) {
        at = BOM.len();
    }
    while matches!(input.get(at), Some(b'\r' | b'\n')) {
        at += 1;
    }
    at
}

fn read_header(
    row: &csv::ByteRecord,
    file: &str,
    input: &[u8],
    line: u64,
    delimiter: u8,
) -> Result<Vec<String>> {
    let mut header = Vec::with_capacity(row.len());
    for (i, field) in row.iter().enumerate() {
        let trimmed = field.trim_ascii();
        match std::str::from_utf8(trimmed) {
            Ok(name) => header.push(name.to_owned()),
            Err(e) => {
                let lead = field.len() - field.trim_ascii_start().len();
                return Err(DataError::NotUtf8 {
                    file: file.to_owned(),
                    line,
                    column: "<header>",
                    value: String::from_utf8_lossy(trimmed).into_owned(),
                    byte_offset: field_byte_offset(
                        &mut core_reader(delimiter),
                        input,
                        row.position().map_or(0, |p| p.byte()),
                        i,
                        lead + e.valid_up_to(),
                    ),
                });
            }
        }
    }
    Ok(header)
}

/// Where each schema column sits in the file's rows.
struct Columns {
    features: [usize; 16],
    target: Option<usize>,
}

impl Columns {
    /// The 17 schema columns' positions, features then target.
    fn all(&self) -> impl Iterator<Item = Option<usize>> + '_ {
        self.features
            .iter()
            .map(|&i| Some(i))
            .chain(std::iter::once(self.target))
    }
}

fn bind_columns(header: &[String], file: &str, line: u64) -> Result<Columns> {
    let find = |name: &'static str| -> Result<Option<usize>> {
        let mut hits = header
            .iter()
            .enumerate()
            .filter(|(_, h)| *h == name)
            .map(|(i, _)| i);
        let first = hits.next();
        if let (Some(first), Some(second)) = (first, hits.next()) {
            return Err(DataError::DuplicateColumn {
                file: file.to_owned(),
                line,
                column: name,
                first: first + 1,
                second: second + 1,
            });
        }
        Ok(first)
    };
    let mut features = [0usize; 16];
    let mut missing = Vec::new();
    for (slot, name) in features.iter_mut().zip(FEATURE_COLUMNS) {
        match find(name)? {
            Some(i) => *slot = i,
            None => missing.push(name.to_owned()),
        }
    }
    let target = find(TARGET_COLUMN)?;
    if !missing.is_empty() {
        return Err(DataError::MissingColumns {
            file: file.to_owned(),
            line,
            missing,
            found: header.to_vec(),
        });
    }
    Ok(Columns { features, target })
}

/// Offset in `input` of the byte that became byte `at` of field `index` of the record the
/// reader read from offset `record`.
///
/// The field is not always verbatim in the input (quotes, `""` escapes), so the record is
/// read again with `core` (a `csv_core` reader, which the `csv` reader is built on, with the
/// same settings; see [`core_reader`]) up to that byte: the work is bounded by the record's
/// length, whatever follows it.
fn field_byte_offset(
    core: &mut csv_core::Reader,
    input: &[u8],
    record: u64,
    index: usize,
    at: usize,
) -> u64 {
    use csv_core::ReadFieldResult;
    let start = record_start(input, record);
    core.reset();
    if start > 0 {
        // A fresh reader would skip a byte-order mark here, but the `csv` reader only skips
        // the file's first: a read into no room marks this one as started and consumes
        // nothing.
        let _ = core.read_field(b",", &mut []);
    }
    let mut pos = start;
    let mut field = 0;
    let mut written = 0;
    let mut scratch = [0u8; 4096];
    loop {
        let room = if field == index {
            at.saturating_sub(written).min(scratch.len())
        } else {
            scratch.len()
        };
        if room == 0 {
            break;
        }
        let (result, read, wrote) =
            core.read_field(input.get(pos..).unwrap_or_default(), &mut scratch[..room]);
        pos += read;
        if field == index {
            written += wrote;
        }
        match result {
            ReadFieldResult::InputEmpty | ReadFieldResult::OutputFull => {}
            ReadFieldResult::Field { .. } if field < index => field += 1,
            ReadFieldResult::Field { .. } | ReadFieldResult::End => break,
        }
    }
    // Quotes write nothing, so some may come before the byte itself.
    while input.get(pos) == Some(&b'"') {
        pos += 1;
    }
    pos as u64
}

/// A `csv_core` reader that parses as the loader's `csv` reader does (building one builds
/// its state machine, so it is built once per load, when first needed).
fn core_reader(delimiter: u8) -> csv_core::Reader {
    csv_core::ReaderBuilder::new().delimiter(delimiter).build()
}

/// Parses one data row into a record.
struct RowParser<'a> {
    file: &'a str,
    input: &'a [u8],
    delimiter: u8,
    /// Re-reads a record to find a bad byte, built on the first one.
    core: RefCell<Option<csv_core::Reader>>,
    columns: &'a Columns,
    header: &'a [String],
    ranges: [(f64, f64, String); 16],
}

/// `(min, max, unit)` of each feature column, from the schema (so the rules live in one
/// place); non-numeric columns get an unbounded range that is never used.
fn numeric_ranges() -> [(f64, f64, String); 16] {
    let schema = Schema::obesity();
    FEATURE_COLUMNS.map(|name| match schema.column(name).map(|c| &c.kind) {
        Some(ColumnKind::Numeric { min, max, unit }) => (*min, *max, unit.clone()),
        _ => (f64::NEG_INFINITY, f64::INFINITY, String::new()),
    })
}

impl RowParser<'_> {
    fn parse(&self, row: &csv::ByteRecord, line: u64) -> Result<ObesityRecord> {
        if row.len() != self.header.len() {
            return Err(DataError::RaggedRow {
                file: self.file.to_owned(),
                line,
                expected: self.header.len(),
                got: row.len(),
            });
        }
        let f = &self.columns.features;
        let target = match self.columns.target {
            None => None,
            Some(i) => {
                let text = self.text(row, i, line, TARGET_COLUMN)?;
                if is_missing(text.as_bytes()) {
                    None
                } else {
                    Some(self.level(
                        text,
                        line,
                        TARGET_COLUMN,
                        ObesityLevel::parse,
                        ObesityLevel::ALL,
                    )?)
                }
            }
        };
        Ok(ObesityRecord {
            gender: self.category(row, f[0], line, 0, Gender::parse, Gender::ALL)?,
            age: self.number(row, f[1], line, 1)?,
            height: self.number(row, f[2], line, 2)?,
            weight: self.number(row, f[3], line, 3)?,
            family_history_with_overweight: self.binary(row, f[4], line, 4)?,
            favc: self.binary(row, f[5], line, 5)?,
            fcvc: self.number(row, f[6], line, 6)?,
            ncp: self.number(row, f[7], line, 7)?,
            caec: self.category(row, f[8], line, 8, Frequency::parse, Frequency::ALL)?,
            smoke: self.binary(row, f[9], line, 9)?,
            ch2o: self.number(row, f[10], line, 10)?,
            scc: self.binary(row, f[11], line, 11)?,
            faf: self.number(row, f[12], line, 12)?,
            tue: self.number(row, f[13], line, 13)?,
            calc: self.category(row, f[14], line, 14, Frequency::parse, Frequency::ALL)?,
            mtrans: self.category(row, f[15], line, 15, Transport::parse, Transport::ALL)?,
            target,
        })
    }

    /// The trimmed UTF-8 text of field `i`.
    fn text<'r>(
        &self,
        row: &'r csv::ByteRecord,
        i: usize,
        line: u64,
        column: &'static str,
    ) -> Result<&'r str> {
        let field = row.get(i).unwrap_or_default();
        let raw = field.trim_ascii();
        std::str::from_utf8(raw).map_err(|e| DataError::NotUtf8 {
            file: self.file.to_owned(),
            line,
            column,
            value: String::from_utf8_lossy(raw).into_owned(),
            byte_offset: field_byte_offset(
                self.core
                    .borrow_mut()
                    .get_or_insert_with(|| core_reader(self.delimiter)),
                self.input,
                row.position().map_or(0, |p| p.byte()),
                i,
                field.len() - field.trim_ascii_start().len() + e.valid_up_to(),
            ),
        })
    }

    fn missing(&self, line: u64, column: &'static str, value: &str, expected: String) -> DataError {
        DataError::MissingValue {
            file: self.file.to_owned(),
            line,
            column,
            value: value.to_owned(),
            expected,
        }
    }

    fn number(&self, row: &csv::ByteRecord, i: usize, line: u64, slot: usize) -> Result<f64> {
        let column = FEATURE_COLUMNS[slot];
        let (min, max, unit) = {
            let (min, max, unit) = &self.ranges[slot];
            (*min, *max, unit.as_str())
        };
        let text = self.text(row, i, line, column)?;
        if is_missing(text.as_bytes()) {
            return Err(self.missing(
                line,
                column,
                text,
                format!("a number from {min} to {max} ({unit})"),
            ));
        }
        let value = match text.parse::<f64>() {
            Ok(v) if v.is_finite() => v,
            _ => {
                return Err(DataError::NotNumeric {
                    file: self.file.to_owned(),
                    line,
                    column,
                    value: text.to_owned(),
                    min,
                    max,
                    unit: unit.to_owned(),
                });
            }
        };
        if !(min..=max).contains(&value) {
            return Err(DataError::OutOfRange {
                file: self.file.to_owned(),
                line,
                column,
                value: text.to_owned(),
                min,
                max,
                unit: unit.to_owned(),
            });
        }
        Ok(value)
    }

    fn binary(&self, row: &csv::ByteRecord, i: usize, line: u64, slot: usize) -> Result<bool> {
        let column = FEATURE_COLUMNS[slot];
        let text = self.text(row, i, line, column)?;
        match text {
            "yes" => Ok(true),
            "no" => Ok(false),
            _ if is_missing(text.as_bytes()) => {
                Err(self.missing(line, column, text, "`yes` or `no`".to_owned()))
            }
            _ => Err(self.unknown(line, column, text, &["yes", "no"])),
        }
    }

    fn category<T: Copy + fmt::Display>(
        &self,
        row: &csv::ByteRecord,
        i: usize,
        line: u64,
        slot: usize,
        parse: fn(&str) -> Option<T>,
        all: &[T],
    ) -> Result<T> {
        let column = FEATURE_COLUMNS[slot];
        let text = self.text(row, i, line, column)?;
        if is_missing(text.as_bytes()) {
            let levels: Vec<String> = all.iter().map(|l| format!("`{l}`")).collect();
            return Err(self.missing(line, column, text, format!("one of {}", levels.join(", "))));
        }
        self.level(text, line, column, parse, all)
    }

    fn level<T: Copy + fmt::Display>(
        &self,
        text: &str,
        line: u64,
        column: &'static str,
        parse: fn(&str) -> Option<T>,
        all: &[T],
    ) -> Result<T> {
        parse(text).ok_or_else(|| {
            let allowed: Vec<String> = all.iter().map(|l| l.to_string()).collect();
            let allowed: Vec<&str> = allowed.iter().map(String::as_str).collect();
            self.unknown(line, column, text, &allowed)
        })
    }

    fn unknown(&self, line: u64, column: &'static str, value: &str, allowed: &[&str]) -> DataError {
        DataError::UnknownCategory {
            file: self.file.to_owned(),
            line,
            column,
            value: value.to_owned(),
            allowed: allowed.iter().map(|s| (*s).to_owned()).collect(),
        }
    }
}
