//! The crate's one error type. Every variant that comes from a file names the file, the line
//! (as an editor numbers it: `\n`, `\r\n` and a lone `\r` each end a line, and a record
//! is on the line where it starts), the column, the value as written and what was expected,
//! so a user can open the file and fix it. Messages quote at most the first 64 characters
//! of a value (the fields keep it whole), so a hostile 10 MB field gives a short message.

use std::fmt;

/// Everything that can go wrong in this crate: reading, parsing, checking, writing, splitting.
///
/// Variants carry typed fields (not only a message) so callers can react to them, for
/// example count range violations per column; [`DataError::line`], [`DataError::column`]
/// and [`DataError::value`] give uniform access. `file` is the path as given to
/// [`load_csv`](crate::load_csv), or the source name given to
/// [`load_csv_bytes`](crate::load_csv_bytes).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// The header lacks one or more required columns (all of them are listed at once, so one
    /// fix is enough). The target column (`NObeyesdad` for obesity) is optional and never
    /// reported here.
    #[error(
        "{file}:{line}: missing column(s) {}; expected every one of the {required} feature columns (found: {})",
        list(missing),
        list(found)
    )]
    MissingColumns {
        /// Source file.
        file: String,
        /// Line of the header (1 unless blank lines come first).
        line: u64,
        /// The required columns the header does not have, in schema order.
        missing: Vec<String>,
        /// The header as read (trimmed, BOM removed).
        found: Vec<String>,
        /// How many feature columns the schema requires (16 for obesity).
        required: usize,
    },
    /// The header is a single field containing another separator: the file is most likely
    /// `;`- or tab-separated (a European-locale spreadsheet export).
    #[error("{file}:{line}: the header is one field containing `{found}`; expected comma-separated columns (load it with `LoadOptions::delimiter(b'{found}')`)", found = .found.escape_default())]
    WrongDelimiter {
        /// Source file.
        file: String,
        /// Line of the header (1 unless blank lines come first).
        line: u64,
        /// The separator the header seems to use.
        found: char,
    },
    /// The header names the same schema column twice, so which one to read is ambiguous.
    #[error(
        "{file}:{line}: column `{column}` appears twice in the header (fields {first} and {second}); expected each column once"
    )]
    DuplicateColumn {
        /// Source file.
        file: String,
        /// Line of the header (1 unless blank lines come first).
        line: u64,
        /// The repeated column name.
        column: String,
        /// 1-based position of the first occurrence.
        first: usize,
        /// 1-based position of the second occurrence.
        second: usize,
    },
    /// A numeric field that does not parse as a finite number.
    #[error(
        "{file}:{line}: column `{column}`: value {} is not a number; expected a number from {min} to {max} ({unit})",
        quoted(value)
    )]
    NotNumeric {
        /// Source file.
        file: String,
        /// Line of the row (header = 1).
        line: u64,
        /// Column name, as in the schema.
        column: String,
        /// The field as written (trimmed).
        value: String,
        /// Smallest valid value.
        min: f64,
        /// Largest valid value.
        max: f64,
        /// Unit of the column (boxed to keep the error small).
        unit: Box<str>,
    },
    /// A required field is empty or a missing-value marker (`NA`, `NaN`, `?` ...).
    #[error(
        "{file}:{line}: column `{column}`: value {} is missing; expected {expected}",
        quoted(value)
    )]
    MissingValue {
        /// Source file.
        file: String,
        /// Line of the row (header = 1).
        line: u64,
        /// Column name, as in the schema.
        column: String,
        /// The field as written (empty, or the marker used).
        value: String,
        /// What the column needs, in words.
        expected: String,
    },
    /// A categorical or `yes`/`no` field with a level the schema does not know.
    #[error(
        "{file}:{line}: column `{column}`: unknown value {}; expected one of {}",
        quoted(value),
        list(allowed)
    )]
    UnknownCategory {
        /// Source file.
        file: String,
        /// Line of the row (header = 1).
        line: u64,
        /// Column name, as in the schema.
        column: String,
        /// The field as written (trimmed).
        value: String,
        /// The allowed spellings (exact, case-sensitive).
        allowed: Vec<String>,
    },
    /// A number outside the schema's valid range (a typo, or the wrong unit: cm for m).
    #[error(
        "{file}:{line}: column `{column}`: value {} is out of range; expected {min} to {max} ({unit})",
        quoted(value)
    )]
    OutOfRange {
        /// Source file.
        file: String,
        /// Line of the row (header = 1).
        line: u64,
        /// Column name, as in the schema.
        column: String,
        /// The field as written (trimmed).
        value: String,
        /// Smallest valid value.
        min: f64,
        /// Largest valid value.
        max: f64,
        /// Unit of the column (boxed to keep the error small).
        unit: Box<str>,
    },
    /// A row whose number of fields differs from the header's.
    #[error("{file}:{line}: row has {got} field(s); expected {expected} (as many as the header)")]
    RaggedRow {
        /// Source file.
        file: String,
        /// Line of the row (header = 1).
        line: u64,
        /// Fields in the header.
        expected: usize,
        /// Fields in this row.
        got: usize,
    },
    /// The input has no bytes (or only a byte-order mark and whitespace).
    #[error(
        "{file}: the file is empty; expected a header line naming the UCI columns, then data rows"
    )]
    EmptyFile {
        /// Source file.
        file: String,
    },
    /// The input has a header line but no data rows.
    #[error(
        "{file}: the file has a header but no data rows; expected at least one row after line 1"
    )]
    HeaderOnly {
        /// Source file.
        file: String,
    },
    /// A field holds bytes that are not UTF-8 (often a Latin-1 export).
    #[error(
        "{file}:{line}: column `{column}`: value {} is not valid UTF-8 (first bad byte at file offset {byte_offset}); expected UTF-8 text",
        quoted(value)
    )]
    NotUtf8 {
        /// Source file.
        file: String,
        /// Line of the row (header = 1).
        line: u64,
        /// Column name (or `<header>` when the header itself is not UTF-8).
        column: String,
        /// The field with invalid bytes replaced by U+FFFD.
        value: String,
        /// Offset of the first invalid byte from the start of the input.
        byte_offset: u64,
    },
    /// The CSV reader could not parse the input (the message says why).
    #[error("{file}:{line}: malformed CSV: {detail}")]
    Malformed {
        /// Source file.
        file: String,
        /// Line where the reader stopped (header = 1).
        line: u64,
        /// The reader's explanation.
        detail: String,
    },
    /// The file could not be opened or read.
    #[error("{file}: cannot read: {source}")]
    Io {
        /// Source file.
        file: String,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// Records could not be written.
    #[error("cannot write CSV: {source}")]
    Write {
        /// The underlying error.
        source: std::io::Error,
    },
    /// `k` for k-fold cross-validation must be at least 2.
    #[error("k = {k} folds requested; expected at least 2")]
    InvalidFolds {
        /// The requested number of folds.
        k: usize,
    },
    /// The test fraction of a split must lie strictly between 0 and 1.
    #[error("test fraction {fraction} is invalid; expected a number strictly between 0 and 1")]
    InvalidFraction {
        /// The requested fraction.
        fraction: f64,
    },
    /// A user's name that becomes a file or folder name breaks the rule of
    /// [`check_file_name`](crate::check_file_name).
    #[error("invalid {what} name `{value}`: {reason}")]
    InvalidName {
        /// What the name is for ("registered model", "A/B test").
        what: &'static str,
        /// The rejected name.
        value: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// A split was asked for on no labels at all.
    #[error("cannot split an empty set of labels; expected at least one row")]
    EmptyLabels,
    /// A class has too few rows to appear in every part of a split.
    #[error(
        "class {} has {count} row(s); expected at least {needed} to stratify",
        class_label(*class, class_name.as_deref())
    )]
    ClassTooSmall {
        /// The class index.
        class: usize,
        /// The class's name, when the caller knows it (see [`DataError::with_class_names`]).
        class_name: Option<String>,
        /// Rows of that class.
        count: usize,
        /// Rows needed (k for k-fold, 2 for a train/test split).
        needed: usize,
    },
    /// The requested test fraction leaves the train or the test part empty.
    #[error(
        "a test fraction of {fraction} over {rows} row(s) gives {test_rows} test row(s); expected both parts to hold at least one row of each of the {classes} class(es)"
    )]
    EmptySplitPart {
        /// The requested fraction.
        fraction: f64,
        /// Rows to split.
        rows: usize,
        /// Rows the test part would get.
        test_rows: usize,
        /// Distinct classes, each of which needs a row in both parts.
        classes: usize,
    },
    /// A record without a target was given where labels are needed.
    #[error("record {index} (0-based) has no `NObeyesdad` label; expected every record labelled")]
    Unlabelled {
        /// Position of the record in the slice.
        index: usize,
    },
    /// A [`Schema`](crate::Schema) that cannot describe a table: duplicate or empty names,
    /// a categorical column without levels, a range with `min > max`, no target or several.
    #[error("invalid schema: {}{problem}", column.as_deref().map(|c| format!("column `{c}`: ")).unwrap_or_default())]
    InvalidSchema {
        /// The column at fault, when one is.
        column: Option<String>,
        /// What is wrong.
        problem: SchemaProblem,
    },
    /// A schema file ([`Schema::from_path`](crate::Schema::from_path)) that does not
    /// describe a schema: bad YAML or JSON, an unknown or missing key, a value of the wrong
    /// type, a key that does not fit the column's type, or a schema that
    /// [`Schema::validate`](crate::Schema::validate) refuses.
    #[error("{file}{}: {problem}", at(*line, *col))]
    SchemaFile {
        /// The schema file.
        file: String,
        /// The line (from 1), when the parser knows it.
        line: Option<u64>,
        /// The character within the line (from 1), when the parser knows it.
        col: Option<u64>,
        /// What is wrong.
        problem: SchemaFileProblem,
    },
    /// A [`Table`](crate::Table) built from parts whose shapes or codes do not fit its schema.
    #[error("table column `{column}`: {problem}")]
    InvalidTable {
        /// The column at fault.
        column: String,
        /// What is wrong, in words.
        problem: String,
    },
    /// A table row without a target was given where labels are needed.
    #[error("row {row} (0-based) has no `{column}` label; expected every row labelled")]
    UnlabelledRow {
        /// The row's index in the table.
        row: usize,
        /// The target column.
        column: String,
    },
    /// The real UCI file was required (`OBESITY_REQUIRE_UCI=1`) but cannot be used.
    #[error(
        "the UCI data set is required but {reason}; point OBESITY_UCI_CSV at ObesityDataSet_raw_and_data_sinthetic.csv"
    )]
    UciFileRequired {
        /// What is wrong with the variable.
        reason: String,
    },
}

/// What is wrong with a [`Schema`](crate::Schema), in [`DataError::InvalidSchema`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SchemaProblem {
    /// The schema has no columns.
    #[error("the schema has no columns; expected at least one feature and a target")]
    NoColumns,
    /// A column name is empty (after trimming).
    #[error("the name is empty; expected a header name")]
    EmptyName,
    /// Two columns have the same name.
    #[error("the name appears twice; expected each name once")]
    DuplicateName,
    /// A categorical column has no levels.
    #[error("no levels; expected at least one")]
    NoLevels,
    /// A categorical column lists a level twice, or an empty level.
    #[error("level `{level}` is empty or appears twice; expected distinct, non-empty levels")]
    BadLevel {
        /// The level.
        level: String,
    },
    /// More levels than a code can hold (the target keeps one code for "unlabelled").
    #[error("{levels} levels; expected at most {max}")]
    TooManyLevels {
        /// Levels given.
        levels: usize,
        /// The limit.
        max: usize,
    },
    /// A numeric range that is empty or not finite-ordered.
    #[error("range {min} to {max} is invalid; expected min <= max and neither NaN")]
    BadRange {
        /// Smallest valid value.
        min: f64,
        /// Largest valid value.
        max: f64,
    },
    /// No column is marked as the target.
    #[error("no column is the target; expected exactly one (ColumnSpec::target)")]
    NoTarget,
    /// Several columns are marked as the target.
    #[error("several targets ({}); expected exactly one", list(names))]
    SeveralTargets {
        /// The target columns.
        names: Vec<String>,
    },
    /// The target is numeric: this crate's tables are for classifiers.
    #[error("the target is numeric; expected a categorical or binary target (class labels)")]
    NumericTarget,
    /// The schema has no feature column.
    #[error("no feature column; expected at least one besides the target")]
    NoFeatures,
}

/// What is wrong with a schema file, in [`DataError::SchemaFile`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SchemaFileProblem {
    /// The parser refused the file: bad YAML or JSON, an unknown key (with the keys
    /// expected), a missing key, a value of the wrong type, or a key that does not fit the
    /// column's type. The parser's message, which names the key and what was expected.
    #[error("{detail}")]
    Syntax {
        /// The parser's message, without its location (that is in the error's fields).
        detail: String,
    },
    /// The file parsed but describes no valid schema ([`SchemaProblem`]).
    #[error("invalid schema: {}{problem}", column.as_deref().map(|c| format!("column `{c}`: ")).unwrap_or_default())]
    Invalid {
        /// The column at fault, when one is.
        column: Option<String>,
        /// What is wrong.
        problem: SchemaProblem,
    },
    /// The file is empty.
    #[error("the file is empty; expected a `columns` list with one entry per column")]
    Empty,
    /// The file's extension names no format the reader knows.
    #[error("unknown schema file extension `{extension}`; expected `.yaml`, `.yml` or `.json`")]
    Format {
        /// The extension (lowercase, empty when there is none).
        extension: String,
    },
    /// A YAML schema file, read by a build without obesity-data's `yaml` feature.
    #[error(
        "YAML schema files need obesity-data's `yaml` feature (on by default); write the schema as JSON or enable the feature"
    )]
    YamlFeatureOff,
}

/// `:line:col` or `:line` or nothing, for a message's location.
fn at(line: Option<u64>, col: Option<u64>) -> String {
    match (line, col) {
        (Some(l), Some(c)) => format!(":{l}:{c}"),
        (Some(l), None) => format!(":{l}"),
        _ => String::new(),
    }
}

/// The crate's result type.
pub type Result<T, E = DataError> = std::result::Result<T, E>;

impl DataError {
    /// The source file, when the error comes from an input.
    pub fn file(&self) -> Option<&str> {
        use DataError::*;
        match self {
            MissingColumns { file, .. }
            | WrongDelimiter { file, .. }
            | DuplicateColumn { file, .. }
            | NotNumeric { file, .. }
            | MissingValue { file, .. }
            | UnknownCategory { file, .. }
            | OutOfRange { file, .. }
            | RaggedRow { file, .. }
            | EmptyFile { file }
            | HeaderOnly { file }
            | NotUtf8 { file, .. }
            | Malformed { file, .. }
            | SchemaFile { file, .. }
            | Io { file, .. } => Some(file),
            _ => None,
        }
    }

    /// The line (header = 1), when the error points at one.
    pub fn line(&self) -> Option<u64> {
        use DataError::*;
        match self {
            MissingColumns { line, .. }
            | WrongDelimiter { line, .. }
            | DuplicateColumn { line, .. }
            | NotNumeric { line, .. }
            | MissingValue { line, .. }
            | UnknownCategory { line, .. }
            | OutOfRange { line, .. }
            | RaggedRow { line, .. }
            | NotUtf8 { line, .. }
            | Malformed { line, .. } => Some(*line),
            SchemaFile { line, .. } => *line,
            _ => None,
        }
    }

    /// The column, when the error concerns one field.
    pub fn column(&self) -> Option<&str> {
        use DataError::*;
        match self {
            DuplicateColumn { column, .. }
            | NotNumeric { column, .. }
            | MissingValue { column, .. }
            | UnknownCategory { column, .. }
            | OutOfRange { column, .. }
            | NotUtf8 { column, .. }
            | InvalidTable { column, .. } => Some(column),
            InvalidSchema { column, .. }
            | SchemaFile {
                problem: SchemaFileProblem::Invalid { column, .. },
                ..
            } => column.as_deref(),
            _ => None,
        }
    }

    /// The offending value as written, when the error concerns one field.
    pub fn value(&self) -> Option<&str> {
        use DataError::*;
        match self {
            NotNumeric { value, .. }
            | MissingValue { value, .. }
            | UnknownCategory { value, .. }
            | OutOfRange { value, .. }
            | NotUtf8 { value, .. } => Some(value),
            _ => None,
        }
    }
}

/// At most this many characters of a value are quoted in a message; a longer value is cut
/// there and its length in bytes given instead.
const QUOTED_CHARS: usize = 64;

/// At most this many names are listed in a message (a header can have millions of fields).
const LISTED_NAMES: usize = 40;

/// Quotes `value` for a message as `` `value` ``, or for a value of more than
/// [`QUOTED_CHARS`] characters as `` `first 64 characters`… (N bytes) ``.
pub(crate) fn quoted(value: &str) -> impl fmt::Display + '_ {
    Shown { value, tick: "`" }
}

/// `value` for a message as it is, or cut like [`quoted`] when it is long.
pub(crate) fn shown(value: &str) -> impl fmt::Display + '_ {
    Shown { value, tick: "" }
}

struct Shown<'a> {
    value: &'a str,
    tick: &'static str,
}

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Shown { value, tick } = self;
        match value.char_indices().nth(QUOTED_CHARS) {
            Some((cut, _)) => write!(
                f,
                "{tick}{}{tick}… ({} bytes)",
                value.get(..cut).unwrap_or_default(),
                value.len()
            ),
            None => write!(f, "{tick}{value}{tick}"),
        }
    }
}

/// Formats names as `` `a`, `b` `` for messages: each one [`quoted`], and at most
/// [`LISTED_NAMES`] of them.
fn list(names: &[String]) -> impl fmt::Display + '_ {
    struct List<'a>(&'a [String]);
    impl fmt::Display for List<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            for (i, n) in self.0.iter().take(LISTED_NAMES).enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{}", quoted(n))?;
            }
            if self.0.len() > LISTED_NAMES {
                write!(f, ", … ({} more)", self.0.len() - LISTED_NAMES)?;
            }
            Ok(())
        }
    }
    List(names)
}

/// `"Obesity_Type_III" (index 6)`, or `index 6` without a name.
fn class_label(class: usize, name: Option<&str>) -> String {
    match name {
        Some(n) => format!("{n:?} (index {class})"),
        None => format!("index {class}"),
    }
}

impl DataError {
    /// Names the class of a [`DataError::ClassTooSmall`] from the class names by index (the
    /// splits see only indices); any other error is returned as it is.
    pub fn with_class_names<S: AsRef<str>>(self, names: &[S]) -> Self {
        match self {
            DataError::ClassTooSmall {
                class,
                class_name: None,
                count,
                needed,
            } => DataError::ClassTooSmall {
                class,
                class_name: names.get(class).map(|n| n.as_ref().to_owned()),
                count,
                needed,
            },
            other => other,
        }
    }
}
