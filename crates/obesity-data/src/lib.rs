//! # obesity-data
//!
//! The bottom layer of obesity-mlops: tables described by a schema, CSV loading that tells
//! you exactly what is wrong with a file, a validation report, content fingerprints for
//! lineage, and stratified splits — for any table of numeric, categorical (ordered or not)
//! and `yes`/`no` columns with a class target. The UCI obesity table ("Estimation of
//! obesity levels based on eating habits and physical condition", 2,111 rows, 16 features,
//! 7 classes) is the worked example: [`Schema::obesity`], typed [`ObesityRecord`]s, a seeded
//! synthetic generator. The crates above this one see numeric matrices and class indices.
//!
//! ## Key types
//!
//! * [`Schema`] and [`ColumnSpec`]: the schema as data, each column's type, unit, valid
//!   range, levels, ordinal order and whether it is the target. Build one with
//!   [`ColumnSpec::numeric`], [`ColumnSpec::binary`], [`ColumnSpec::categorical`],
//!   [`ColumnSpec::ordinal`], [`ColumnSpec::target`] and [`Schema::new`], which checks it
//!   ([`Schema::validate`], [`SchemaProblem`]). A schema can also be a file:
//!   [`Schema::from_path`] reads YAML or JSON (one entry per column: `name`, `type`,
//!   `unit`/`min`/`max` or `levels`, `target`), refusing unknown keys with the file's line
//!   ([`DataError::SchemaFile`]); [`Schema::to_yaml`] writes one.
//! * [`Table`]: the rows of any schema, column by column ([`ColumnData`]: numbers as `f64`,
//!   categorical and binary columns as level codes), the target as optional codes
//!   (`None` = unlabelled). [`Table::from_records`] / [`Table::to_obesity_records`] convert
//!   to and from the obesity records.
//! * [`load_table`] / [`load_table_bytes`] / [`load_table_reader`] with a `&Schema` and
//!   [`LoadOptions`] return a [`LoadedTable`]: the table, rejected rows (lenient mode),
//!   [`LoadWarning`]s and the [`Fingerprint`]. Columns are matched by header name in any
//!   order; CRLF, CR, a UTF-8 BOM, padded fields and `21` vs `21.0` are all accepted.
//! * [`load_csv`] / [`load_csv_bytes`] / [`load_csv_reader`]: the same loader with
//!   [`Schema::obesity`], converted to [`ObesityRecord`]s (enums for the categorical columns:
//!   [`Gender`], [`Frequency`], [`Transport`], and the optional target [`ObesityLevel`]) in a
//!   [`Loaded`]. [`write_csv`] writes records back in the UCI order so round trips are exact.
//!   [`feature_columns`] gives a column-wise view ([`NamedColumn`]) for generic consumers,
//!   as [`Table::named_columns`] does for any table.
//! * [`DataError`]: every error from a file names the file, the line (the header is line 1,
//!   as in an editor), the column, the value and what was expected.
//! * [`ValidationReport`] ([`from_table`](ValidationReport::from_table) for any schema,
//!   [`from_loaded`](ValidationReport::from_loaded) for obesity records): shape, missing
//!   values, exact duplicates, per-column statistics (mean, std, quartiles, IQR outliers,
//!   D'Agostino-Pearson K² normality p-value), range violations, class balance — as pandas
//!   and scipy would compute them. Serde + `Display`.
//! * [`Fingerprint`]: SHA-256 of the canonical content ([`Table::canonical_digest`]: same
//!   rows → same hash whatever the file's formatting) and of the raw bytes, as hex.
//! * [`synth::generate`]: `n` realistic obesity records from a seed (see [`synth`]).
//! * [`stratified_split`], [`StratifiedKFold`] and [`target_indices`]: scikit-learn's
//!   stratified splits over class indices, deterministic per seed.
//!
//! ## Rules worth knowing
//!
//! * **Line numbers** are an editor's: `\n`, `\r\n` and a lone `\r` each end a line (LF,
//!   CRLF, CR-only and mixed files alike), a record is on the line where it starts (a quoted
//!   field may span lines), and the header is line 1 unless blank lines come first; blank
//!   lines are skipped but still counted, so the number always points at the right line.
//! * **Long values**: a message quotes at most the first 64 characters of a value, then
//!   its length (`` `aaaa…`… (10485760 bytes) ``); the error's fields keep it whole.
//! * **Missing values**: an empty field or a pandas-style marker (`NA`, `N/A`, `NaN`,
//!   `NULL`, `None`, `?` ...) is an error in a feature column and means "unlabelled" in the
//!   target column (`NObeyesdad` for obesity). Either way it is counted in [`Loaded::missing_values`].
//! * **Separators**: comma by default; `LoadOptions::strict().delimiter(b';')` reads `;`- or
//!   tab-separated exports, and a header that is one field holding `;`, tab or `|` gets
//!   [`DataError::WrongDelimiter`] instead of sixteen "missing columns".
//! * **Strict vs lenient**: file-level problems (missing or duplicated columns, empty or
//!   header-only files, I/O) are errors in both modes; row-level ones are errors in strict
//!   mode and [`RejectedRow`]s in lenient mode.
//! * **Statistics** follow pandas (`std` with n − 1, linear-interpolation quartiles) and
//!   scipy (`scipy.stats.normaltest`); `scripts/obesity_data_reference.py` produced the
//!   values the tests compare against.
//! * **The synthetic fixture** `fixtures/obesity_synthetic.csv` is
//!   `synth::generate(2111, 42)` written by [`write_csv`]; a test keeps it byte-identical.
//!   After changing the generator on purpose, rewrite it with
//!   `cargo test -p obesity-data -- --ignored regenerate_synthetic_fixture`.
//! * **Speed**: `cargo bench -p obesity-data --bench load` times each stage on 2,111 rows,
//!   and crafted 2 MB worst cases next to the `csv` crate's own reading speed: loading is
//!   linear in the input, error paths included.
//!
//! ## Example: any table
//!
//! ```
//! use obesity_data::{ColumnSpec, LoadOptions, Schema, ValidationReport, load_table_bytes};
//!
//! let schema = Schema::new(vec![
//!     ColumnSpec::numeric("length", "cm", 0.0, 50.0),
//!     ColumnSpec::numeric("mass", "g", 0.0, 900.0),
//!     ColumnSpec::ordinal("size", ["S", "M", "L"]),
//!     ColumnSpec::binary("coated"),
//!     ColumnSpec::categorical("species", ["a", "b", "c"]).target(),
//! ])?;
//! let csv = "species,length,mass,size,coated\r\na,10,120,S,no\r\nc,31,540,L,yes\r\nb,75,300,M,no\r\n";
//! let loaded = load_table_bytes("fish.csv", csv.as_bytes(), &schema, &LoadOptions::lenient())?;
//! assert_eq!(loaded.table.n_rows(), 2);
//! assert_eq!(loaded.table.level("size", 1), Some("L"));
//! assert_eq!(loaded.rejected[0].error.to_string(),
//!     "fish.csv:4: column `length`: value `75` is out of range; expected 0 to 50 (cm)");
//! let report = ValidationReport::from_table(&loaded);
//! assert_eq!(report.class_balance.classes[2].count, 1);
//! println!("{report}\n{}", loaded.fingerprint.canonical);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Example: the obesity table
//!
//! ```
//! use obesity_data::{LoadOptions, StratifiedKFold, ValidationReport, load_csv_bytes, synth,
//!     stratified_split, target_indices, write_csv};
//!
//! // Write 200 synthetic records to CSV and load them back.
//! let records = synth::generate(200, 42);
//! let mut csv = Vec::new();
//! write_csv(&records, &mut csv)?;
//! let loaded = load_csv_bytes("synthetic.csv", &csv, &LoadOptions::strict())?;
//! assert_eq!(loaded.records, records);
//!
//! // Validate.
//! let report = ValidationReport::from_loaded(&loaded);
//! assert_eq!(report.shape.rows, 200);
//! println!("{report}");
//!
//! // Split, stratified by class.
//! let labels = target_indices(&loaded.records)?;
//! let (train, test) = stratified_split(&labels, 0.2, 7)?;
//! assert_eq!((train.len(), test.len()), (160, 40));
//! let folds = StratifiedKFold::new(5).shuffle(true).seed(7).split(&labels)?;
//! assert_eq!(folds.len(), 5);
//!
//! // A bad value is an error naming line, column, value and the valid range.
//! let bad = String::from_utf8(csv)?.replacen(",no,", ",maybe,", 1);
//! let err = load_csv_bytes("bad.csv", bad.as_bytes(), &LoadOptions::strict()).unwrap_err();
//! assert_eq!(err.line(), Some(2));
//! assert_eq!(err.value(), Some("maybe"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod columns;
mod error;
mod files;
mod fingerprint;
mod load;
mod obesity_table;
mod record;
mod schema;
mod schema_file;
mod split;
mod stats;
pub mod synth;
mod table;
mod uci_env;
mod validate;
mod write;

pub use columns::{ColumnValues, NamedColumn, feature_columns};
pub use error::{DataError, Result, SchemaFileProblem, SchemaProblem};
pub use files::{TEMP_PREFIX, check_file_name, write_atomic, write_atomic_with};
pub use fingerprint::{Digest, Fingerprint, canonical_digest};
pub use load::{
    ColumnCount, LoadMode, LoadOptions, LoadWarning, Loaded, LoadedTable, RejectedRow, load_csv,
    load_csv_bytes, load_csv_reader, load_table, load_table_bytes, load_table_reader,
};
pub use record::{Frequency, Gender, ObesityLevel, ObesityRecord, Transport};
pub use schema::{ColumnKind, ColumnSpec, EXPECTED_ROWS, Schema, TARGET_COLUMN};
pub use split::{StratifiedKFold, stratified_split, target_indices};
pub use stats::NormalityTest;
pub use table::{ColumnData, Table};
pub use uci_env::{REQUIRE_UCI_ENV, UCI_CSV_ENV, uci_csv_from_env};
pub use validate::{
    ClassBalance, ClassShare, DuplicatePair, Duplicates, NumericSummary, Outliers, RangeViolation,
    RejectedSummary, Shape, ValidationReport,
};
pub use write::write_csv;
