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
use crate::record::ObesityRecord;
use crate::schema::{ColumnKind, ColumnSpec, Schema, TARGET_COLUMN};
use crate::table::{Cell, Table};

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
    /// The obesity loader's form of [`LoadWarning::NoTarget`], kept so its reports and
    /// their JSON do not change.
    NoTargetColumn,
    /// The file has no column for the schema's target, so every row is unlabelled.
    NoTarget {
        /// The target column's name in the schema.
        column: String,
    },
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
            LoadWarning::NoTarget { column } => {
                write!(f, "no {} column: rows are unlabelled", quoted(column))
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

/// The result of an obesity load: the records and everything learnt while reading them.
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

/// The result of [`load_table`]: a [`Table`] of any schema and everything learnt while
/// reading it.
#[derive(Debug)]
pub struct LoadedTable {
    /// Where the data came from (the path, or the name given to [`load_table_bytes`]).
    pub source: String,
    /// The good rows, in file order.
    pub table: Table,
    /// The line where each row starts, as an editor numbers it (header = 1), parallel to
    /// the table's rows.
    pub lines: Vec<u64>,
    /// Rows a lenient load set aside (always empty in strict mode).
    pub rejected: Vec<RejectedRow>,
    /// Oddities that did not stop the load (extra columns, no target column).
    pub warnings: Vec<LoadWarning>,
    /// The header as read (trimmed, without the byte-order mark).
    pub header: Vec<String>,
    /// Empty or missing-marker fields per schema column present in the file, in schema
    /// order, counted over every row with the header's width (rejected rows included).
    pub missing_values: Vec<ColumnCount>,
    /// Content hashes of the loaded rows ([`Table::canonical_digest`]) and of the raw bytes.
    pub fingerprint: Fingerprint,
}

/// Loads the obesity CSV file at `path`.
///
/// Columns are found by header name in any order; the target `NObeyesdad` is optional.
/// CRLF or LF, a UTF-8 byte-order mark and whitespace around fields are accepted, and `21`
/// reads like `21.0`. See [`LoadMode`] for what happens to bad rows. This is
/// [`load_table`] with [`Schema::obesity`], converted to records.
pub fn load_csv(path: impl AsRef<Path>, options: &LoadOptions) -> Result<Loaded> {
    let (name, bytes) = read_path(path.as_ref())?;
    load_csv_bytes(name, &bytes, options)
}

/// Loads obesity CSV read from `reader`, naming it `source` in errors and reports.
pub fn load_csv_reader(
    source: impl Into<String>,
    reader: impl Read,
    options: &LoadOptions,
) -> Result<Loaded> {
    let (source, bytes) = read_all(source.into(), reader)?;
    load_csv_bytes(source, &bytes, options)
}

/// Loads obesity CSV held in memory, naming it `source` in errors and reports.
pub fn load_csv_bytes(
    source: impl Into<String>,
    bytes: &[u8],
    options: &LoadOptions,
) -> Result<Loaded> {
    let loaded = load_table_bytes(source, bytes, &Schema::obesity(), options)?;
    let records = loaded.table.to_obesity_records()?;
    let warnings = loaded
        .warnings
        .into_iter()
        .map(|w| match w {
            LoadWarning::NoTarget { column } if column == TARGET_COLUMN => {
                LoadWarning::NoTargetColumn
            }
            other => other,
        })
        .collect();
    Ok(Loaded {
        source: loaded.source,
        records,
        lines: loaded.lines,
        rejected: loaded.rejected,
        warnings,
        header: loaded.header,
        missing_values: loaded.missing_values,
        fingerprint: loaded.fingerprint,
    })
}

/// Loads the CSV file at `path` as a table of `schema`.
///
/// The same loader as [`load_csv`], for any schema: columns found by header name in any
/// order (the target is optional: without it every row is unlabelled), `\n`, `\r\n` and
/// `\r` line ends, a UTF-8 byte-order mark, whitespace around fields and pandas' missing
/// markers; every error names file, line, column, value and what was expected.
///
/// # Errors
/// [`DataError::InvalidSchema`] for a schema that fails [`Schema::validate`]; file-level
/// problems in both modes; the first bad row in [`LoadMode::Strict`].
///
/// # Examples
///
/// ```
/// use obesity_data::{ColumnSpec, LoadOptions, Schema, load_table_bytes};
///
/// let schema = Schema::new(vec![
///     ColumnSpec::numeric("length", "cm", 0.0, 50.0),
///     ColumnSpec::categorical("colour", ["red", "blue"]),
///     ColumnSpec::categorical("species", ["a", "b", "c"]).target(),
/// ])?;
/// let csv = b"colour,length,species\r\nred,4.5,a\r\nblue,70,b\r\n";
/// let err = load_table_bytes("fish.csv", csv, &schema, &LoadOptions::strict()).unwrap_err();
/// assert_eq!(err.to_string(),
///     "fish.csv:3: column `length`: value `70` is out of range; expected 0 to 50 (cm)");
///
/// let loaded = load_table_bytes("fish.csv", csv, &schema, &LoadOptions::lenient())?;
/// assert_eq!(loaded.table.n_rows(), 1);
/// assert_eq!(loaded.rejected[0].line, 3);
/// # Ok::<(), obesity_data::DataError>(())
/// ```
pub fn load_table(
    path: impl AsRef<Path>,
    schema: &Schema,
    options: &LoadOptions,
) -> Result<LoadedTable> {
    let (name, bytes) = read_path(path.as_ref())?;
    load_table_bytes(name, &bytes, schema, options)
}

/// Loads CSV read from `reader` as a table of `schema`, naming it `source` in errors and
/// reports. See [`load_table`].
pub fn load_table_reader(
    source: impl Into<String>,
    reader: impl Read,
    schema: &Schema,
    options: &LoadOptions,
) -> Result<LoadedTable> {
    let (source, bytes) = read_all(source.into(), reader)?;
    load_table_bytes(source, &bytes, schema, options)
}

fn read_path(path: &Path) -> Result<(String, Vec<u8>)> {
    let name = path.display().to_string();
    match std::fs::read(path) {
        Ok(bytes) => Ok((name, bytes)),
        Err(source) => Err(DataError::Io { file: name, source }),
    }
}

fn read_all(source: String, mut reader: impl Read) -> Result<(String, Vec<u8>)> {
    let mut bytes = Vec::new();
    match reader.read_to_end(&mut bytes) {
        Ok(_) => Ok((source, bytes)),
        Err(e) => Err(DataError::Io {
            file: source,
            source: e,
        }),
    }
}

/// Loads CSV held in memory as a table of `schema`, naming it `source` in errors and
/// reports. See [`load_table`]: this is the one loader every other load function calls.
pub fn load_table_bytes(
    source: impl Into<String>,
    bytes: &[u8],
    schema: &Schema,
    options: &LoadOptions,
) -> Result<LoadedTable> {
    schema.validate()?;
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
    let fields = bind_columns(&header, &file, header_line, schema).map_err(|e| {
        match (&e, header.as_slice()) {
            // One field holding another separator: say so rather than list every column.
            (DataError::MissingColumns { .. }, [only]) => [';', '\t', '|', ',']
                .into_iter()
                .find(|c| *c as u32 != u32::from(options.delimiter) && only.contains(*c))
                .map_or(e, |found| DataError::WrongDelimiter {
                    file: file.clone(),
                    line: header_line,
                    found,
                }),
            _ => e,
        }
    })?;

    let mut warnings = Vec::new();
    for (i, name) in header.iter().enumerate() {
        if schema.column(name).is_none() {
            warnings.push(LoadWarning::ExtraColumn {
                column: name.clone(),
                position: i + 1,
            });
        }
    }
    let parser = RowParser::new(
        &file,
        bytes,
        options.delimiter,
        schema,
        &fields,
        header.len(),
    );
    if let (Some(target), None) = (schema.target(), parser.target) {
        warnings.push(LoadWarning::NoTarget {
            column: target.name.clone(),
        });
    }

    let mut missing = vec![0usize; schema.columns.len()];
    // A row takes at least one byte per column (its separators), so this bounds the
    // reservation by the input's size whatever the schema's width.
    let rows_hint = bytes.len() / schema.columns.len().max(100);
    let mut table = Table::with_capacity(schema.clone(), rows_hint);
    let mut record_lines = Vec::with_capacity(rows_hint);
    let mut rejected = Vec::new();
    let mut data_rows = 0usize;
    let mut cells = Vec::with_capacity(schema.columns.len());

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
            for (slot, idx) in fields.iter().enumerate() {
                if let Some(field) = idx.and_then(|i| row.get(i))
                    && is_missing(field.trim_ascii())
                {
                    missing[slot] += 1;
                }
            }
        }
        match parser.parse(&row, line, &mut cells) {
            Ok(target) => {
                table.push_row(&cells, target);
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

    let missing_values = schema
        .columns
        .iter()
        .zip(&fields)
        .zip(missing)
        .filter(|((_, idx), _)| idx.is_some())
        .map(|((spec, _), count)| ColumnCount {
            column: spec.name.clone(),
            count,
        })
        .collect();
    let fingerprint = Fingerprint::of_table(&table, bytes);
    Ok(LoadedTable {
        source: file,
        table,
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
                    column: "<header>".to_owned(),
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

/// Where each schema column sits in the file's rows, in schema order: every feature is
/// required, the target is optional.
fn bind_columns(
    header: &[String],
    file: &str,
    line: u64,
    schema: &Schema,
) -> Result<Vec<Option<usize>>> {
    let find = |name: &str| -> Result<Option<usize>> {
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
                column: name.to_owned(),
                first: first + 1,
                second: second + 1,
            });
        }
        Ok(first)
    };
    let mut fields = Vec::with_capacity(schema.columns.len());
    let mut missing = Vec::new();
    for spec in &schema.columns {
        let at = find(&spec.name)?;
        if at.is_none() && !spec.is_target {
            missing.push(spec.name.clone());
        }
        fields.push(at);
    }
    if !missing.is_empty() {
        return Err(DataError::MissingColumns {
            file: file.to_owned(),
            line,
            missing,
            found: header.to_vec(),
            required: schema.features().count(),
        });
    }
    Ok(fields)
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

/// Parses one data row of a schema's table into cells.
struct RowParser<'a> {
    file: &'a str,
    input: &'a [u8],
    delimiter: u8,
    /// Re-reads a record to find a bad byte, built on the first one.
    core: RefCell<Option<csv_core::Reader>>,
    header_len: usize,
    /// Each feature column's spec and field index, in schema order.
    features: Vec<(&'a ColumnSpec, usize)>,
    /// The target's spec and field index, when the file has it.
    target: Option<(&'a ColumnSpec, usize)>,
}

impl<'a> RowParser<'a> {
    fn new(
        file: &'a str,
        input: &'a [u8],
        delimiter: u8,
        schema: &'a Schema,
        fields: &[Option<usize>],
        header_len: usize,
    ) -> Self {
        let mut features = Vec::with_capacity(fields.len());
        let mut target = None;
        for (spec, field) in schema.columns.iter().zip(fields) {
            match (spec.is_target, field) {
                (true, Some(i)) => target = Some((spec, *i)),
                (false, Some(i)) => features.push((spec, *i)),
                (_, None) => {}
            }
        }
        RowParser {
            file,
            input,
            delimiter,
            core: RefCell::new(None),
            header_len,
            features,
            target,
        }
    }

    /// Parses `row` into `cells` (one per feature, schema order) and returns the target code.
    /// The target is checked first, then the features in schema order: the error names the
    /// first bad field in that order.
    fn parse(
        &self,
        row: &csv::ByteRecord,
        line: u64,
        cells: &mut Vec<Cell>,
    ) -> Result<Option<u32>> {
        if row.len() != self.header_len {
            return Err(DataError::RaggedRow {
                file: self.file.to_owned(),
                line,
                expected: self.header_len,
                got: row.len(),
            });
        }
        let target = match self.target {
            None => None,
            Some((spec, i)) => {
                let text = self.text(row, i, line, spec)?;
                if is_missing(text.as_bytes()) {
                    None
                } else {
                    Some(self.level(text, line, spec)?)
                }
            }
        };
        cells.clear();
        for &(spec, i) in &self.features {
            let cell = match &spec.kind {
                ColumnKind::Numeric { min, max, unit } => {
                    Cell::Number(self.number(row, i, line, spec, (*min, *max, unit))?)
                }
                ColumnKind::Binary => Cell::Code(self.binary(row, i, line, spec)?),
                ColumnKind::Categorical { .. } => Cell::Code(self.category(row, i, line, spec)?),
            };
            cells.push(cell);
        }
        Ok(target)
    }

    /// The trimmed UTF-8 text of field `i`.
    fn text<'r>(
        &self,
        row: &'r csv::ByteRecord,
        i: usize,
        line: u64,
        spec: &ColumnSpec,
    ) -> Result<&'r str> {
        let field = row.get(i).unwrap_or_default();
        let raw = field.trim_ascii();
        std::str::from_utf8(raw).map_err(|e| DataError::NotUtf8 {
            file: self.file.to_owned(),
            line,
            column: spec.name.clone(),
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

    fn missing(&self, line: u64, spec: &ColumnSpec, value: &str, expected: String) -> DataError {
        DataError::MissingValue {
            file: self.file.to_owned(),
            line,
            column: spec.name.clone(),
            value: value.to_owned(),
            expected,
        }
    }

    /// Field `i` as a number within `range` (`min`, `max`, `unit`).
    fn number(
        &self,
        row: &csv::ByteRecord,
        i: usize,
        line: u64,
        spec: &ColumnSpec,
        range: (f64, f64, &str),
    ) -> Result<f64> {
        let (min, max, unit) = range;
        let text = self.text(row, i, line, spec)?;
        if is_missing(text.as_bytes()) {
            return Err(self.missing(
                line,
                spec,
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
                    column: spec.name.clone(),
                    value: text.to_owned(),
                    min,
                    max,
                    unit: unit.into(),
                });
            }
        };
        if !(min..=max).contains(&value) {
            return Err(DataError::OutOfRange {
                file: self.file.to_owned(),
                line,
                column: spec.name.clone(),
                value: text.to_owned(),
                min,
                max,
                unit: unit.into(),
            });
        }
        Ok(value)
    }

    fn binary(&self, row: &csv::ByteRecord, i: usize, line: u64, spec: &ColumnSpec) -> Result<u32> {
        let text = self.text(row, i, line, spec)?;
        match text {
            "yes" => Ok(1),
            "no" => Ok(0),
            _ if is_missing(text.as_bytes()) => {
                Err(self.missing(line, spec, text, "`yes` or `no`".to_owned()))
            }
            _ => Err(self.unknown(line, spec, text, &["yes", "no"])),
        }
    }

    fn category(
        &self,
        row: &csv::ByteRecord,
        i: usize,
        line: u64,
        spec: &ColumnSpec,
    ) -> Result<u32> {
        let text = self.text(row, i, line, spec)?;
        if is_missing(text.as_bytes()) {
            let levels: Vec<String> = spec
                .levels()
                .unwrap_or_default()
                .iter()
                .map(|l| format!("`{l}`"))
                .collect();
            return Err(self.missing(line, spec, text, format!("one of {}", levels.join(", "))));
        }
        self.level(text, line, spec)
    }

    /// The code of level `text` of a categorical or binary column.
    fn level(&self, text: &str, line: u64, spec: &ColumnSpec) -> Result<u32> {
        let found = match &spec.kind {
            ColumnKind::Categorical { levels, .. } => levels.iter().position(|l| l == text),
            ColumnKind::Binary => ["no", "yes"].iter().position(|l| *l == text),
            ColumnKind::Numeric { .. } => None,
        };
        match found.and_then(|code| u32::try_from(code).ok()) {
            Some(code) => Ok(code),
            None => Err(match &spec.kind {
                ColumnKind::Categorical { levels, .. } => {
                    let allowed: Vec<&str> = levels.iter().map(String::as_str).collect();
                    self.unknown(line, spec, text, &allowed)
                }
                _ => self.unknown(line, spec, text, &["yes", "no"]),
            }),
        }
    }

    fn unknown(&self, line: u64, spec: &ColumnSpec, value: &str, allowed: &[&str]) -> DataError {
        DataError::UnknownCategory {
            file: self.file.to_owned(),
            line,
            column: spec.name.clone(),
            value: value.to_owned(),
            allowed: allowed.iter().map(|s| (*s).to_owned()).collect(),
        }
    }
}
