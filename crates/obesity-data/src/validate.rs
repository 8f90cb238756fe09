//! The validation report: what a data scientist checks before training (shape, missing
//! values, duplicates, distributions, outliers, normality, range violations, class balance),
//! computed once from a [`Loaded`] and serializable for run tracking.

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{DataError, shown};
use crate::fingerprint::{Fingerprint, RowEncoder};
use crate::load::{ColumnCount, LoadWarning, Loaded, LoadedTable, RejectedRow};
use crate::schema::{ColumnKind, Schema};
use crate::stats::{NormalityTest, dagostino_pearson, moments, quantile_sorted};
use crate::table::{ColumnData, Table};

/// How many example values or lines a report lists before it only counts.
const EXAMPLES: usize = 5;

/// The report of [`ValidationReport::from_loaded`]; JSON via serde, text via `Display`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidationReport {
    /// Report format version, bumped when fields change meaning.
    pub format_version: u32,
    /// Where the data came from.
    pub source: String,
    /// Shape against the UCI table.
    pub shape: Shape,
    /// Empty or missing-marker fields per column present in the file.
    pub missing_values: Vec<ColumnCount>,
    /// Exact duplicate rows (all 17 fields equal to an earlier row's).
    pub duplicates: Duplicates,
    /// Statistics of each numeric column, over the loaded records.
    pub numeric: Vec<NumericSummary>,
    /// Values outside the schema's range, from rows a lenient load rejected.
    pub range_violations: Vec<RangeViolation>,
    /// Every rejected row with its reason (lenient mode).
    pub rejected_rows: Vec<RejectedSummary>,
    /// Rows per class, when the file is labelled.
    pub class_balance: ClassBalance,
    /// Content hashes for lineage.
    pub fingerprint: Fingerprint,
    /// Load warnings (extra columns, no target).
    pub warnings: Vec<LoadWarning>,
}

/// Rows and columns against the expected ones (2,111 × 17 for the UCI table).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Shape {
    /// Records loaded.
    pub rows: usize,
    /// Columns in the file's header.
    pub columns: usize,
    /// Rows in the UCI file.
    pub expected_rows: usize,
    /// Columns in the UCI file.
    pub expected_columns: usize,
    /// Rows a lenient load rejected.
    pub rejected_rows: usize,
    /// Where the expected shape comes from: `UCI` for the obesity schema, else `schema`.
    /// Not serialized for obesity, so its reports' JSON is unchanged.
    #[serde(default = "uci", skip_serializing_if = "is_uci")]
    pub expected_from: String,
}

const UCI: &str = "UCI";

fn uci() -> String {
    UCI.to_owned()
}

fn is_uci(from: &str) -> bool {
    from == UCI
}

/// What a report is built from, for either kind of load.
struct Parts<'a> {
    source: &'a str,
    table: &'a Table,
    lines: &'a [u64],
    rejected: &'a [RejectedRow],
    header: &'a [String],
    missing_values: &'a [ColumnCount],
    fingerprint: Fingerprint,
    warnings: &'a [LoadWarning],
}

/// Exact duplicate rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Duplicates {
    /// Rows equal to an earlier row (pandas' `df.duplicated().sum()`).
    pub count: usize,
    /// `count / rows`.
    pub share: f64,
    /// The first few as (line, line of the earlier equal row).
    pub examples: Vec<DuplicatePair>,
}

/// One duplicate row and the row it repeats.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DuplicatePair {
    /// Line of the repeat (header = 1).
    pub line: u64,
    /// Line of the first occurrence.
    pub first_line: u64,
}

/// Statistics of one numeric column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NumericSummary {
    /// Column name.
    pub column: String,
    /// Unit from the schema.
    pub unit: String,
    /// Values (loaded records).
    pub count: usize,
    /// Arithmetic mean.
    pub mean: f64,
    /// Sample standard deviation (n − 1, as pandas).
    pub std: f64,
    /// Smallest value.
    pub min: f64,
    /// First quartile (linear interpolation, as numpy and pandas).
    pub q1: f64,
    /// Median.
    pub median: f64,
    /// Third quartile.
    pub q3: f64,
    /// Largest value.
    pub max: f64,
    /// Values beyond the 1.5 × IQR fences.
    pub iqr_outliers: Outliers,
    /// D'Agostino-Pearson K² test; `None` for fewer than 20 values or a constant column.
    pub normality: Option<NormalityTest>,
}

/// Tukey's IQR outliers of one column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outliers {
    /// `q1 − 1.5 × IQR`.
    pub lower_fence: f64,
    /// `q3 + 1.5 × IQR`.
    pub upper_fence: f64,
    /// Values outside the fences.
    pub count: usize,
    /// `count / values`.
    pub share: f64,
    /// The first few outliers in file order.
    pub first_values: Vec<f64>,
}

/// A value outside its column's valid range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RangeViolation {
    /// Line (header = 1).
    pub line: u64,
    /// Column name.
    pub column: String,
    /// The value as written.
    pub value: String,
    /// Smallest valid value.
    pub min: f64,
    /// Largest valid value.
    pub max: f64,
}

/// A rejected row, for the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RejectedSummary {
    /// Line (header = 1).
    pub line: u64,
    /// The column at fault, when one is.
    pub column: Option<String>,
    /// The full error message.
    pub message: String,
}

/// Rows per class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassBalance {
    /// Every class in schema order, with its count and share of labelled rows.
    pub classes: Vec<ClassShare>,
    /// Records without a label.
    pub unlabelled: usize,
    /// Largest class count over the smallest (∞ shown as `null` when a class is absent).
    pub imbalance_ratio: Option<f64>,
}

/// One class's count and share.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassShare {
    /// Class name as in the file.
    pub class: String,
    /// Rows.
    pub count: usize,
    /// `count / labelled rows`.
    pub share: f64,
}

impl ValidationReport {
    /// The current [`ValidationReport::format_version`].
    pub const FORMAT_VERSION: u32 = 1;

    /// Computes the report of an obesity load (the same report as [`Self::from_table`] on
    /// the same rows).
    pub fn from_loaded(loaded: &Loaded) -> Self {
        Self::build(Parts {
            source: &loaded.source,
            table: &Table::from_records(&loaded.records),
            lines: &loaded.lines,
            rejected: &loaded.rejected,
            header: &loaded.header,
            missing_values: &loaded.missing_values,
            fingerprint: loaded.fingerprint,
            warnings: &loaded.warnings,
        })
    }

    /// Computes the report of a table load, for any schema: numeric summaries for each
    /// numeric feature, class balance over the target's levels, duplicates over all columns.
    /// The expected shape is the schema's ([`Schema::expected_rows`], or the rows loaded
    /// when it has none, by the number of schema columns).
    ///
    /// # Examples
    ///
    /// ```
    /// use obesity_data::{ColumnSpec, LoadOptions, Schema, ValidationReport, load_table_bytes};
    ///
    /// let schema = Schema::new(vec![
    ///     ColumnSpec::numeric("x", "m", 0.0, 10.0),
    ///     ColumnSpec::categorical("class", ["a", "b"]).target(),
    /// ])?;
    /// let csv = b"x,class\n1,a\n2,b\n1,a\n";
    /// let loaded = load_table_bytes("t.csv", csv, &schema, &LoadOptions::strict())?;
    /// let report = ValidationReport::from_table(&loaded);
    /// assert_eq!(report.duplicates.count, 1);
    /// assert_eq!(report.numeric_column("x").map(|c| c.mean), Some(4.0 / 3.0));
    /// assert_eq!(report.class_balance.classes[0].count, 2);
    /// # Ok::<(), obesity_data::DataError>(())
    /// ```
    pub fn from_table(loaded: &LoadedTable) -> Self {
        Self::build(Parts {
            source: &loaded.source,
            table: &loaded.table,
            lines: &loaded.lines,
            rejected: &loaded.rejected,
            header: &loaded.header,
            missing_values: &loaded.missing_values,
            fingerprint: loaded.fingerprint,
            warnings: &loaded.warnings,
        })
    }

    fn build(parts: Parts<'_>) -> Self {
        let table = parts.table;
        let schema = table.schema();
        let numeric = table
            .columns()
            .filter_map(|(spec, data)| match (&spec.kind, data) {
                (ColumnKind::Numeric { unit, .. }, ColumnData::Numeric(values)) => {
                    summarize(&spec.name, unit.clone(), values)
                }
                _ => None,
            })
            .collect();

        let mut range_violations = Vec::new();
        let mut rejected_rows = Vec::new();
        for r in parts.rejected {
            if let DataError::OutOfRange {
                line,
                column,
                value,
                min,
                max,
                ..
            } = &r.error
            {
                range_violations.push(RangeViolation {
                    line: *line,
                    column: column.clone(),
                    value: value.clone(),
                    min: *min,
                    max: *max,
                });
            }
            rejected_rows.push(RejectedSummary {
                line: r.line,
                column: r.error.column().map(str::to_owned),
                message: r.error.to_string(),
            });
        }

        ValidationReport {
            format_version: Self::FORMAT_VERSION,
            source: parts.source.to_owned(),
            shape: Shape {
                rows: table.n_rows(),
                columns: parts.header.len(),
                expected_rows: schema.expected_rows.unwrap_or(table.n_rows()),
                expected_columns: schema.columns.len(),
                rejected_rows: parts.rejected.len(),
                // Kludge for format compatibility: the obesity report has always said "UCI".
                expected_from: if *schema == Schema::obesity() {
                    UCI.to_owned()
                } else {
                    "schema".to_owned()
                },
            },
            missing_values: parts.missing_values.to_vec(),
            duplicates: duplicates(table, parts.lines),
            numeric,
            range_violations,
            rejected_rows,
            class_balance: class_balance(table),
            fingerprint: parts.fingerprint,
            warnings: parts.warnings.to_vec(),
        }
    }

    /// Whether the shape is the expected one (the UCI table's 2,111 × 17 for obesity).
    pub fn shape_matches(&self) -> bool {
        self.shape.rows == self.shape.expected_rows
            && self.shape.columns == self.shape.expected_columns
    }

    /// The summary of numeric column `name`, if there is one.
    pub fn numeric_column(&self, name: &str) -> Option<&NumericSummary> {
        self.numeric.iter().find(|c| c.column == name)
    }
}

fn summarize(name: &str, unit: String, values: &[f64]) -> Option<NumericSummary> {
    if values.is_empty() {
        return None;
    }
    let n = values.len();
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let (mean, m2, _, _) = moments(values);
    let std = if n > 1 {
        (m2 * n as f64 / (n - 1) as f64).sqrt()
    } else {
        f64::NAN
    };
    let q1 = quantile_sorted(&sorted, 0.25);
    let q3 = quantile_sorted(&sorted, 0.75);
    let iqr = q3 - q1;
    let (lower_fence, upper_fence) = (q1 - 1.5 * iqr, q3 + 1.5 * iqr);
    let outside = |v: &&f64| **v < lower_fence || **v > upper_fence;
    let count = values.iter().filter(outside).count();
    Some(NumericSummary {
        column: name.to_owned(),
        unit,
        count: n,
        mean,
        std,
        min: sorted.first().copied().unwrap_or(f64::NAN),
        q1,
        median: quantile_sorted(&sorted, 0.5),
        q3,
        max: sorted.last().copied().unwrap_or(f64::NAN),
        iqr_outliers: Outliers {
            lower_fence,
            upper_fence,
            count,
            share: count as f64 / n as f64,
            first_values: values
                .iter()
                .filter(outside)
                .take(EXAMPLES)
                .copied()
                .collect(),
        },
        normality: dagostino_pearson(values),
    })
}

fn duplicates(table: &Table, lines: &[u64]) -> Duplicates {
    let rows = table.n_rows();
    let encoder = RowEncoder::new(table);
    let mut seen: HashMap<Vec<u8>, u64> = HashMap::with_capacity(rows);
    let mut count = 0;
    let mut examples = Vec::new();
    let mut key = Vec::new();
    for i in 0..rows {
        let line = lines.get(i).copied().unwrap_or(0);
        encoder.encode(i, &mut key);
        match seen.get(key.as_slice()) {
            Some(first) => {
                count += 1;
                if examples.len() < EXAMPLES {
                    examples.push(DuplicatePair {
                        line,
                        first_line: *first,
                    });
                }
            }
            None => {
                seen.insert(key.clone(), line);
            }
        }
    }
    let share = if rows == 0 {
        0.0
    } else {
        count as f64 / rows as f64
    };
    Duplicates {
        count,
        share,
        examples,
    }
}

fn class_balance(table: &Table) -> ClassBalance {
    let levels = table
        .schema()
        .target()
        .and_then(|t| t.levels())
        .unwrap_or_default();
    let mut counts = vec![0usize; levels.len()];
    let mut unlabelled = 0;
    for t in table.target() {
        match t {
            Some(t) => {
                if let Some(c) = counts.get_mut(*t as usize) {
                    *c += 1;
                }
            }
            None => unlabelled += 1,
        }
    }
    let labelled: usize = counts.iter().sum();
    let classes = levels
        .iter()
        .zip(&counts)
        .map(|(level, &count)| ClassShare {
            class: (*level).to_owned(),
            count,
            share: if labelled == 0 {
                0.0
            } else {
                count as f64 / labelled as f64
            },
        })
        .collect();
    let max = counts.iter().copied().max().unwrap_or(0);
    let min = counts.iter().copied().min().unwrap_or(0);
    let imbalance_ratio = (labelled > 0 && min > 0).then(|| max as f64 / min as f64);
    ClassBalance {
        classes,
        unlabelled,
        imbalance_ratio,
    }
}

impl fmt::Display for ValidationReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.shape;
        writeln!(f, "Validation report: {}", self.source)?;
        let mark = |ok: bool| if ok { "ok" } else { "differs" };
        writeln!(
            f,
            "  shape          {} rows x {} columns ({}: {} x {}) {}",
            s.rows,
            s.columns,
            s.expected_from,
            s.expected_rows,
            s.expected_columns,
            mark(self.shape_matches())
        )?;
        if s.rejected_rows > 0 {
            writeln!(f, "  rejected rows  {}", s.rejected_rows)?;
        }
        writeln!(
            f,
            "  fingerprint    canonical {}",
            self.fingerprint.canonical
        )?;
        writeln!(f, "                 raw       {}", self.fingerprint.raw)?;
        let missing: usize = self.missing_values.iter().map(|c| c.count).sum();
        if missing == 0 {
            writeln!(f, "  missing values none")?;
        } else {
            writeln!(f, "  missing values {missing}")?;
            for c in self.missing_values.iter().filter(|c| c.count > 0) {
                writeln!(f, "    {:<32} {}", c.column, c.count)?;
            }
        }
        let d = &self.duplicates;
        write!(f, "  duplicates     {} ({:.2}%)", d.count, 100.0 * d.share)?;
        for (i, p) in d.examples.iter().enumerate() {
            write!(
                f,
                "{} line {} = line {}",
                if i == 0 { ":" } else { "," },
                p.line,
                p.first_line
            )?;
        }
        writeln!(f)?;

        writeln!(f, "\n  Numeric columns")?;
        writeln!(
            f,
            "  {:<8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>13} {:>11}",
            "column",
            "mean",
            "std",
            "min",
            "q1",
            "median",
            "q3",
            "max",
            "IQR outliers",
            "K² p-value"
        )?;
        for c in &self.numeric {
            let p = c
                .normality
                .as_ref()
                .map_or("n/a".to_owned(), |t| format!("{:.3e}", t.p_value));
            writeln!(
                f,
                "  {:<8} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>6} {:>5.1}% {:>11}",
                c.column,
                c.mean,
                c.std,
                c.min,
                c.q1,
                c.median,
                c.q3,
                c.max,
                c.iqr_outliers.count,
                100.0 * c.iqr_outliers.share,
                p
            )?;
        }
        writeln!(
            f,
            "  (normality: D'Agostino-Pearson K², p < 0.05 rejects a normal distribution)"
        )?;

        let b = &self.class_balance;
        writeln!(f, "\n  Class balance")?;
        for c in &b.classes {
            writeln!(
                f,
                "    {:<22} {:>5} {:>6.2}%",
                c.class,
                c.count,
                100.0 * c.share
            )?;
        }
        if b.unlabelled > 0 {
            writeln!(f, "    {:<22} {:>5}", "(unlabelled)", b.unlabelled)?;
        }
        if let Some(r) = b.imbalance_ratio {
            writeln!(f, "    imbalance ratio (largest / smallest) {r:.2}")?;
        }

        if !self.range_violations.is_empty() {
            writeln!(f, "\n  Range violations ({})", self.range_violations.len())?;
            for v in &self.range_violations {
                writeln!(
                    f,
                    "    line {}: {} = {} (valid {} to {})",
                    v.line,
                    v.column,
                    shown(&v.value),
                    v.min,
                    v.max
                )?;
            }
        }
        if !self.rejected_rows.is_empty() {
            writeln!(f, "\n  Rejected rows ({})", self.rejected_rows.len())?;
            for r in &self.rejected_rows {
                writeln!(f, "    {}", r.message)?;
            }
        }
        if !self.warnings.is_empty() {
            writeln!(f, "\n  Warnings")?;
            for w in &self.warnings {
                writeln!(f, "    {w}")?;
            }
        }
        Ok(())
    }
}
