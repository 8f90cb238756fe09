//! A table of any schema, column-major: numeric columns as `f64`, categorical and binary
//! columns as level codes, and the target as optional codes (`None` = unlabelled).

use crate::columns::{ColumnValues, NamedColumn};
use crate::error::{DataError, Result};
use crate::schema::{ColumnKind, ColumnSpec, Schema};

/// The values of one feature column of a [`Table`].
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnData {
    /// A numeric column's values, as read.
    Numeric(Vec<f64>),
    /// A categorical or binary column's level codes: positions in the schema's levels
    /// (`no` = 0, `yes` = 1 for binary columns).
    Codes(Vec<u32>),
}

impl ColumnData {
    /// Number of values.
    pub fn len(&self) -> usize {
        match self {
            ColumnData::Numeric(v) => v.len(),
            ColumnData::Codes(v) => v.len(),
        }
    }

    /// Whether there are no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The numbers, if this is a numeric column.
    pub fn as_numeric(&self) -> Option<&[f64]> {
        match self {
            ColumnData::Numeric(v) => Some(v),
            ColumnData::Codes(_) => None,
        }
    }

    /// The codes, if this is a categorical or binary column.
    pub fn as_codes(&self) -> Option<&[u32]> {
        match self {
            ColumnData::Codes(v) => Some(v),
            ColumnData::Numeric(_) => None,
        }
    }

    fn empty_for(spec: &ColumnSpec, capacity: usize) -> Self {
        if spec.is_numeric() {
            ColumnData::Numeric(Vec::with_capacity(capacity))
        } else {
            ColumnData::Codes(Vec::with_capacity(capacity))
        }
    }
}

/// A table of any [`Schema`], column by column: what [`load_table`](crate::load_table)
/// returns and what the validation report, the fingerprint and the feature pipeline read.
///
/// Feature columns are kept in schema order (the target excluded); the target is a code per
/// row, `None` when the row is unlabelled (or the file had no target column).
///
/// # Examples
///
/// ```
/// use obesity_data::{ColumnData, ColumnSpec, Schema, Table};
///
/// let schema = Schema::new(vec![
///     ColumnSpec::numeric("x", "m", 0.0, 10.0),
///     ColumnSpec::categorical("colour", ["red", "blue"]),
///     ColumnSpec::categorical("class", ["a", "b"]).target(),
/// ])?;
/// let table = Table::from_columns(
///     schema,
///     vec![ColumnData::Numeric(vec![1.0, 2.5]), ColumnData::Codes(vec![1, 0])],
///     vec![Some(0), None],
/// )?;
/// assert_eq!(table.n_rows(), 2);
/// assert_eq!(table.numeric("x"), Some(&[1.0, 2.5][..]));
/// assert_eq!(table.level("colour", 0), Some("blue"));
/// assert_eq!(table.target_level(1), None);
/// # Ok::<(), obesity_data::DataError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    schema: Schema,
    /// One per feature column of the schema, in schema order.
    columns: Vec<ColumnData>,
    target: Vec<Option<u32>>,
}

impl Table {
    /// An empty table of `schema` (assumed valid), with room for `rows` rows.
    pub(crate) fn with_capacity(schema: Schema, rows: usize) -> Self {
        let columns = schema
            .features()
            .map(|c| ColumnData::empty_for(c, rows))
            .collect();
        Table {
            schema,
            columns,
            target: Vec::with_capacity(rows),
        }
    }

    /// A table from its parts: one [`ColumnData`] per feature column of `schema` in schema
    /// order, and one target code per row.
    ///
    /// # Errors
    /// [`DataError::InvalidSchema`] for an invalid schema; [`DataError::InvalidTable`] when
    /// a column has the wrong kind or length, a code is not a level, or a number is outside
    /// the column's range or not finite.
    pub fn from_columns(
        schema: Schema,
        columns: Vec<ColumnData>,
        target: Vec<Option<u32>>,
    ) -> Result<Self> {
        schema.validate()?;
        let bad = |column: &str, problem: String| DataError::InvalidTable {
            column: column.to_owned(),
            problem,
        };
        let features: Vec<&ColumnSpec> = schema.features().collect();
        if features.len() != columns.len() {
            return Err(bad(
                "<all>",
                format!(
                    "{} columns given; expected {} (the schema's features)",
                    columns.len(),
                    features.len()
                ),
            ));
        }
        let rows = target.len();
        for (spec, data) in features.iter().zip(&columns) {
            if data.len() != rows {
                return Err(bad(
                    &spec.name,
                    format!("{} values; expected {rows} (one per target)", data.len()),
                ));
            }
            match (&spec.kind, data) {
                (ColumnKind::Numeric { min, max, .. }, ColumnData::Numeric(values)) => {
                    if let Some((row, v)) = values
                        .iter()
                        .enumerate()
                        .find(|(_, v)| !(min..=max).contains(v))
                    {
                        return Err(bad(
                            &spec.name,
                            format!("row {row}: {v} is outside {min} to {max}"),
                        ));
                    }
                }
                (ColumnKind::Numeric { .. }, ColumnData::Codes(_)) => {
                    return Err(bad(&spec.name, "codes given; expected numbers".to_owned()));
                }
                (_, ColumnData::Numeric(_)) => {
                    return Err(bad(&spec.name, "numbers given; expected codes".to_owned()));
                }
                (_, ColumnData::Codes(codes)) => {
                    check_codes(&spec.name, codes.iter().map(|c| Some(*c)), spec.n_levels())?;
                }
            }
        }
        if let Some(spec) = schema.target() {
            check_codes(&spec.name, target.iter().copied(), spec.n_levels())?;
        }
        Ok(Table {
            schema,
            columns,
            target,
        })
    }

    /// The schema.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.target.len()
    }

    /// The feature columns with their specs, in schema order (the target excluded).
    pub fn columns(&self) -> impl Iterator<Item = (&ColumnSpec, &ColumnData)> {
        self.schema.features().zip(&self.columns)
    }

    /// Feature column `name`, if the schema has it (the target is [`Table::target`]).
    pub fn column(&self, name: &str) -> Option<&ColumnData> {
        self.columns().find(|(c, _)| c.name == name).map(|(_, d)| d)
    }

    /// The values of numeric feature column `name`.
    pub fn numeric(&self, name: &str) -> Option<&[f64]> {
        self.column(name).and_then(ColumnData::as_numeric)
    }

    /// The level codes of categorical or binary feature column `name`.
    pub fn codes(&self, name: &str) -> Option<&[u32]> {
        self.column(name).and_then(ColumnData::as_codes)
    }

    /// The level of categorical or binary column `name` at `row`, as spelled in the schema.
    pub fn level(&self, name: &str, row: usize) -> Option<&str> {
        let spec = self.schema.features().find(|c| c.name == name)?;
        let code = *self.codes(name)?.get(row)?;
        level_name(spec, code)
    }

    /// The target code of each row (`None` = unlabelled).
    pub fn target(&self) -> &[Option<u32>] {
        &self.target
    }

    /// The target level of `row`, as spelled in the schema (`None` = unlabelled).
    pub fn target_level(&self, row: usize) -> Option<&str> {
        let code = (*self.target.get(row)?)?;
        level_name(self.schema.target()?, code)
    }

    /// The class index of every row (the target's code), for
    /// [`stratified_split`](crate::stratified_split), [`StratifiedKFold`](crate::StratifiedKFold)
    /// and training.
    ///
    /// # Errors
    /// [`DataError::UnlabelledRow`] naming the first row without a target.
    pub fn target_indices(&self) -> Result<Vec<usize>> {
        let column = || {
            self.schema
                .target()
                .map_or("", |t| t.name.as_str())
                .to_owned()
        };
        self.target
            .iter()
            .enumerate()
            .map(|(row, t)| {
                t.map(|c| c as usize)
                    .ok_or_else(|| DataError::UnlabelledRow {
                        row,
                        column: column(),
                    })
            })
            .collect()
    }

    /// The feature columns as [`NamedColumn`]s (numbers, or level spellings), the form drift
    /// detection and signatures work on.
    pub fn named_columns(&self) -> Vec<NamedColumn> {
        self.columns()
            .map(|(spec, data)| NamedColumn {
                name: spec.name.clone(),
                values: match data {
                    ColumnData::Numeric(v) => ColumnValues::Numeric(v.clone()),
                    ColumnData::Codes(codes) => ColumnValues::Categorical(
                        codes
                            .iter()
                            .map(|c| level_name(spec, *c).unwrap_or_default().to_owned())
                            .collect(),
                    ),
                },
            })
            .collect()
    }

    /// Appends one parsed row (cells in schema-feature order). The caller has checked it.
    pub(crate) fn push_row(&mut self, cells: &[Cell], target: Option<u32>) {
        for (column, cell) in self.columns.iter_mut().zip(cells) {
            match (column, *cell) {
                (ColumnData::Numeric(v), Cell::Number(x)) => v.push(x),
                (ColumnData::Codes(v), Cell::Code(c)) => v.push(c),
                // The parser builds cells from the same schema, so kinds always agree.
                (ColumnData::Numeric(v), Cell::Code(c)) => v.push(f64::from(c)),
                (ColumnData::Codes(v), Cell::Number(_)) => v.push(0),
            }
        }
        self.target.push(target);
    }
}

/// One parsed field of a feature column.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Cell {
    /// A numeric column's value.
    Number(f64),
    /// A categorical or binary column's code.
    Code(u32),
}

/// The spelling of `code` in `spec`'s levels.
pub(crate) fn level_name(spec: &ColumnSpec, code: u32) -> Option<&str> {
    match &spec.kind {
        ColumnKind::Numeric { .. } => None,
        ColumnKind::Binary => ["no", "yes"].get(code as usize).copied(),
        ColumnKind::Categorical { levels, .. } => levels.get(code as usize).map(String::as_str),
    }
}

fn check_codes(
    column: &str,
    codes: impl Iterator<Item = Option<u32>>,
    n_levels: usize,
) -> Result<()> {
    for (row, code) in codes.enumerate() {
        if let Some(code) = code
            && code as usize >= n_levels
        {
            return Err(DataError::InvalidTable {
                column: column.to_owned(),
                problem: format!("row {row}: code {code}; expected below {n_levels}"),
            });
        }
    }
    Ok(())
}
