//! The schema-driven pipeline: settings, the unfitted factory and `fit`, for a table of any
//! schema. The obesity [`FeaturePipeline`](crate::FeaturePipeline) is the same transform
//! written against typed records; a test checks that both give the same matrix.

use obesity_data::{ColumnData, ColumnKind, ColumnSpec, Schema, Table};
use serde::{Deserialize, Serialize};

use crate::config::{BinaryEncoding, FeatureConfig, FrequencyEncoding, Scaling, UnseenCategory};
use crate::derived::Derived;
use crate::error::{FeatureError, Result};
use crate::pipeline::{fits_f32, standard_scaler};
use crate::table_fitted::FittedTablePipeline;

/// The settings of a [`TablePipeline`]: how each kind of column is encoded.
///
/// # Column order
///
/// 1. the numeric feature columns, in schema order;
/// 2. the derived columns, in the order they were added;
/// 3. the categorical and binary feature columns, in schema order: one-hot as
///    `COLUMN=level` for each level in the schema's order, an ordinal column as one column
///    `COLUMN` holding the level's code, a single binary column as `COLUMN=yes`.
///
/// For [`Schema::obesity`] with [`Derived::bmi`] this is the layout of
/// [`FeatureConfig`](crate::FeatureConfig)'s pipeline.
///
/// Scaling: [`Scaling::Standard`] is scikit-learn's `StandardScaler` (mean and population
/// standard deviation, ddof = 0, learnt in `fit`; a constant column gets scale 1 by
/// scikit-learn's bound). It is the crate's own, shared with the obesity pipeline, not
/// `linfa-preprocessing`'s `LinearScaler::standard()`: that one multiplies by `1 / std`
/// instead of dividing by `std`, computes the variance with ndarray's one-pass update
/// rather than scikit-learn's two passes, and calls a column constant only when its std is
/// within `f64::EPSILON` of zero, so its results differ from scikit-learn's in the last bits
/// and on nearly constant columns, and would change every saved obesity pipeline's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TableConfig {
    /// How ordered categorical columns are encoded. By default, this is
    /// [`FrequencyEncoding::Ordinal`]. Unordered ones are always one-hot.
    pub ordered: FrequencyEncoding,
    /// How binary (`yes`/`no`) columns are encoded. By default, this is
    /// [`BinaryEncoding::Single`].
    pub binary: BinaryEncoding,
    /// Whether numeric and derived columns are standardised. By default, this is
    /// [`Scaling::None`].
    pub scaling: Scaling,
    /// What to do with a level not seen in `fit`. By default, this is
    /// [`UnseenCategory::SchemaLevels`].
    pub unseen: UnseenCategory,
}

impl Default for TableConfig {
    fn default() -> Self {
        TableConfig::from(FeatureConfig::default())
    }
}

impl From<FeatureConfig> for TableConfig {
    /// The same encodings; `frequency` becomes `ordered` (CAEC and CALC are the obesity
    /// schema's ordered columns). `bmi` is a derived column: see [`TablePipeline::obesity`].
    fn from(c: FeatureConfig) -> Self {
        TableConfig {
            ordered: c.frequency,
            binary: c.binary,
            scaling: c.scaling,
            unseen: c.unseen,
        }
    }
}

/// A feature pipeline for a [`Table`] of any schema, not fitted yet: settings plus the
/// app's derived columns. [`fit`](Self::fit) returns a [`FittedTablePipeline`].
///
/// # Examples
///
/// ```
/// use obesity_data::{ColumnSpec, LoadOptions, Schema, load_table_bytes};
/// use obesity_features::{Derived, Scaling, TableConfig, TablePipeline};
///
/// let schema = Schema::new(vec![
///     ColumnSpec::numeric("length", "cm", 0.0, 50.0),
///     ColumnSpec::numeric("mass", "g", 0.0, 900.0),
///     ColumnSpec::categorical("colour", ["red", "blue"]),
///     ColumnSpec::categorical("species", ["a", "b", "c"]).target(),
/// ])?;
/// let csv = b"length,mass,colour,species\n10,100,red,a\n20,400,blue,c\n";
/// let table = load_table_bytes("fish.csv", csv, &schema, &LoadOptions::strict())?.table;
///
/// let config = TableConfig { scaling: Scaling::Standard, ..TableConfig::default() };
/// let pipeline = TablePipeline::new(config)
///     .derive(Derived::new("density", ["mass", "length"], |v| v[0] / v[1]));
/// let fitted = pipeline.fit(&table)?;
/// assert_eq!(fitted.feature_names(), ["length", "mass", "density", "colour=red", "colour=blue"]);
/// let data = fitted.dataset(&table)?;
/// assert_eq!(data.y.to_vec(), [0, 2]);
/// assert_eq!(data.x[[0, 0]], -1.0); // (10 - 15) / 5
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TablePipeline {
    config: TableConfig,
    derived: Vec<Derived>,
}

impl TablePipeline {
    /// A pipeline with these settings and no derived column.
    pub fn new(config: TableConfig) -> Self {
        TablePipeline {
            config,
            derived: Vec::new(),
        }
    }

    /// The obesity worked example: `config`'s encodings, plus [`Derived::bmi`] when
    /// `config.bmi`. On a table of [`Schema::obesity`] it gives the same matrix and names as
    /// `FeaturePipeline::new(config)` on the same records.
    pub fn obesity(config: FeatureConfig) -> Self {
        let pipeline = TablePipeline::new(TableConfig::from(config));
        if config.bmi {
            pipeline.derive(Derived::bmi())
        } else {
            pipeline
        }
    }

    /// Adds a derived numeric column, after the numeric columns and earlier derived ones.
    pub fn derive(mut self, derived: Derived) -> Self {
        self.derived.push(derived);
        self
    }

    /// The settings.
    pub fn config(&self) -> &TableConfig {
        &self.config
    }

    /// The derived columns, in order.
    pub fn derived(&self) -> &[Derived] {
        &self.derived
    }

    /// Learns the seen levels and (with [`Scaling::Standard`]) each numeric and derived
    /// column's mean and standard deviation from `table`. The target is not used.
    ///
    /// # Errors
    /// [`FeatureError::EmptyFit`] for no rows; [`FeatureError::Derivation`] for a derived
    /// column whose name is taken or whose inputs are not numeric columns of the schema;
    /// [`FeatureError::NonFinite`] naming the first row and column whose value (or derived
    /// value) is NaN, infinite or beyond `f32` range.
    pub fn fit(&self, table: &Table) -> Result<FittedTablePipeline> {
        if table.n_rows() == 0 {
            return Err(FeatureError::EmptyFit);
        }
        let schema = table.schema();
        let inputs = bind_derived(schema, &self.derived)?;
        let mut seen: Vec<Vec<bool>> = table
            .columns()
            .map(|(spec, _)| vec![false; spec.n_levels()])
            .collect();
        for ((_, data), seen) in table.columns().zip(&mut seen) {
            if let ColumnData::Codes(codes) = data {
                for &code in codes {
                    if let Some(flag) = seen.get_mut(code as usize) {
                        *flag = true;
                    }
                }
            }
        }
        let mut columns = layout(schema, &self.config, self.derived.len(), &seen);
        let reader = Reader::new(table, &self.derived, &inputs);
        let mut scratch = Vec::new();
        for row in 0..table.n_rows() {
            for column in &columns {
                if let OutputColumn::Numeric { input, .. } = *column {
                    let value = reader.value(input, row, &mut scratch);
                    if !fits_f32(value) {
                        return Err(FeatureError::NonFinite {
                            row,
                            column: input_name(schema, &self.derived, input).to_owned(),
                            value,
                        });
                    }
                }
            }
        }
        if self.config.scaling == Scaling::Standard {
            for column in &mut columns {
                if let OutputColumn::Numeric {
                    input,
                    center,
                    scale,
                } = column
                {
                    let values: Vec<f64> = (0..table.n_rows())
                        .map(|row| reader.value(*input, row, &mut scratch))
                        .collect();
                    (*center, *scale) = standard_scaler(values.iter().copied());
                }
            }
        }
        Ok(FittedTablePipeline::from_parts(
            self.config,
            schema.clone(),
            self.derived.clone(),
            inputs,
            columns,
            seen,
        ))
    }
}

/// Where a numeric output column's value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Input {
    /// Feature column at this position among the schema's features.
    Feature(usize),
    /// Derived column at this position.
    Derived(usize),
}

/// One output column of the table pipeline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum OutputColumn {
    /// `(value - center) / scale`; center 0 and scale 1 when not scaling.
    Numeric {
        input: Input,
        center: f64,
        scale: f64,
    },
    /// 1 when the feature's code is `level`.
    OneHot { feature: usize, level: u32 },
    /// The feature's code.
    Ordinal { feature: usize },
    /// 1 for `yes`, 0 for `no`.
    Flag { feature: usize },
}

/// The name of a numeric input.
pub(crate) fn input_name<'a>(schema: &'a Schema, derived: &'a [Derived], input: Input) -> &'a str {
    match input {
        Input::Feature(i) => schema.features().nth(i).map_or("?", |c| c.name.as_str()),
        Input::Derived(i) => derived.get(i).map_or("?", Derived::name),
    }
}

impl OutputColumn {
    /// The feature name (`length`, `BMI`, `colour=red`, `size`, `coated=yes`).
    pub(crate) fn name(&self, schema: &Schema, derived: &[Derived]) -> String {
        let feature = |i: usize| schema.features().nth(i);
        let level = |spec: Option<&ColumnSpec>, code: u32| {
            spec.and_then(|s| s.levels())
                .and_then(|l| l.get(code as usize).map(|s| (*s).to_owned()))
                .unwrap_or_else(|| "?".to_owned())
        };
        match *self {
            OutputColumn::Numeric { input, .. } => input_name(schema, derived, input).to_owned(),
            OutputColumn::OneHot {
                feature: i,
                level: l,
            } => {
                let spec = feature(i);
                format!(
                    "{}={}",
                    spec.map_or("?", |s| s.name.as_str()),
                    level(spec, l)
                )
            }
            OutputColumn::Ordinal { feature: i } => {
                feature(i).map_or("?", |s| s.name.as_str()).to_owned()
            }
            OutputColumn::Flag { feature: i } => {
                format!("{}=yes", feature(i).map_or("?", |s| s.name.as_str()))
            }
        }
    }
}

/// The output columns in the documented order, unscaled. Depends on the data only through
/// `seen`, and only when the unseen rule is not [`UnseenCategory::SchemaLevels`].
pub(crate) fn layout(
    schema: &Schema,
    config: &TableConfig,
    n_derived: usize,
    seen: &[Vec<bool>],
) -> Vec<OutputColumn> {
    let numeric = |input| OutputColumn::Numeric {
        input,
        center: 0.0,
        scale: 1.0,
    };
    let mut columns: Vec<OutputColumn> = schema
        .features()
        .enumerate()
        .filter(|(_, spec)| spec.is_numeric())
        .map(|(i, _)| numeric(Input::Feature(i)))
        .collect();
    columns.extend((0..n_derived).map(|i| numeric(Input::Derived(i))));
    for (feature, spec) in schema.features().enumerate() {
        let one_hot = match &spec.kind {
            ColumnKind::Numeric { .. } => continue,
            ColumnKind::Binary if config.binary == BinaryEncoding::Single => {
                columns.push(OutputColumn::Flag { feature });
                continue;
            }
            ColumnKind::Categorical { ordered: true, .. }
                if config.ordered == FrequencyEncoding::Ordinal =>
            {
                columns.push(OutputColumn::Ordinal { feature });
                continue;
            }
            _ => spec.n_levels(),
        };
        for level in 0..one_hot {
            let was_seen = seen
                .get(feature)
                .and_then(|s| s.get(level))
                .copied()
                .unwrap_or(false);
            if (config.unseen == UnseenCategory::SchemaLevels || was_seen)
                && let Ok(level) = u32::try_from(level)
            {
                columns.push(OutputColumn::OneHot { feature, level });
            }
        }
    }
    columns
}

/// Checks the derived columns against the schema; returns each one's input positions among
/// the schema's features.
pub(crate) fn bind_derived(schema: &Schema, derived: &[Derived]) -> Result<Vec<Vec<usize>>> {
    let problem = |d: &Derived, problem: String| FeatureError::Derivation {
        name: d.name().to_owned(),
        problem,
    };
    let mut out = Vec::with_capacity(derived.len());
    for (k, d) in derived.iter().enumerate() {
        if schema.column(d.name()).is_some() || derived[..k].iter().any(|e| e.name() == d.name()) {
            return Err(problem(
                d,
                "the name is already a column; expected a new name".to_owned(),
            ));
        }
        let mut positions = Vec::with_capacity(d.inputs().len());
        for input in d.inputs() {
            match schema
                .features()
                .position(|c| &c.name == input && c.is_numeric())
            {
                Some(i) => positions.push(i),
                None => {
                    return Err(problem(
                        d,
                        format!("input `{input}` is not a numeric feature column of the schema"),
                    ));
                }
            }
        }
        out.push(positions);
    }
    Ok(out)
}

/// Reads numeric inputs (feature or derived) of a table by row.
pub(crate) struct Reader<'a> {
    numeric: Vec<Option<&'a [f64]>>,
    derived: &'a [Derived],
    inputs: &'a [Vec<usize>],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(table: &'a Table, derived: &'a [Derived], inputs: &'a [Vec<usize>]) -> Self {
        Reader {
            numeric: table.columns().map(|(_, d)| d.as_numeric()).collect(),
            derived,
            inputs,
        }
    }

    fn feature(&self, i: usize, row: usize) -> f64 {
        self.numeric
            .get(i)
            .copied()
            .flatten()
            .and_then(|v| v.get(row))
            .copied()
            .unwrap_or(f64::NAN)
    }

    /// The raw value of `input` at `row`; `scratch` holds a derived column's inputs.
    pub(crate) fn value(&self, input: Input, row: usize, scratch: &mut Vec<f64>) -> f64 {
        match input {
            Input::Feature(i) => self.feature(i, row),
            Input::Derived(k) => {
                let (Some(d), Some(inputs)) = (self.derived.get(k), self.inputs.get(k)) else {
                    return f64::NAN;
                };
                scratch.clear();
                scratch.extend(inputs.iter().map(|&i| self.feature(i, row)));
                d.compute(scratch)
            }
        }
    }
}
