//! Hyper-parameter values, candidate sets and search spaces, as scikit-learn's
//! `ParameterGrid` / `ParameterSampler` inputs.

use std::collections::BTreeMap;
use std::fmt;

use rand::Rng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::{EvalError, Result};

/// One hyper-parameter value. `None` stands for Python's `None` (`max_depth=None`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ParamValue {
    /// No value (unbounded depth, ...).
    None,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string (`"sqrt"`).
    Str(String),
}

impl fmt::Display for ParamValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamValue::None => f.write_str("None"),
            ParamValue::Bool(b) => write!(f, "{b}"),
            ParamValue::Int(i) => write!(f, "{i}"),
            ParamValue::Float(x) => write!(f, "{x}"),
            ParamValue::Str(s) => f.write_str(s),
        }
    }
}

impl From<i64> for ParamValue {
    fn from(v: i64) -> Self {
        ParamValue::Int(v)
    }
}
impl From<i32> for ParamValue {
    fn from(v: i32) -> Self {
        ParamValue::Int(i64::from(v))
    }
}
impl From<usize> for ParamValue {
    fn from(v: usize) -> Self {
        ParamValue::Int(i64::try_from(v).unwrap_or(i64::MAX))
    }
}
impl From<f64> for ParamValue {
    fn from(v: f64) -> Self {
        ParamValue::Float(v)
    }
}
impl From<bool> for ParamValue {
    fn from(v: bool) -> Self {
        ParamValue::Bool(v)
    }
}
impl From<&str> for ParamValue {
    fn from(v: &str) -> Self {
        ParamValue::Str(v.to_string())
    }
}
impl<T: Into<ParamValue>> From<Option<T>> for ParamValue {
    fn from(v: Option<T>) -> Self {
        v.map_or(ParamValue::None, Into::into)
    }
}

/// One candidate: parameter name → value. Ordered by name, so printing and hashing are
/// stable.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ParamSet(pub BTreeMap<String, ParamValue>);

impl ParamSet {
    /// An empty set (every parameter at the factory's default).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces one value, builder style.
    pub fn with(mut self, name: &str, value: impl Into<ParamValue>) -> Self {
        self.0.insert(name.to_string(), value.into());
        self
    }

    /// The raw value of `name`, if set.
    pub fn get(&self, name: &str) -> Option<&ParamValue> {
        self.0.get(name)
    }

    /// Names of the parameters, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// `name` as a non-negative integer: `Ok(None)` when unset or `None`.
    ///
    /// # Errors
    /// [`EvalError::BadParam`] when it is another type or negative.
    pub fn get_usize(&self, name: &str) -> Result<Option<usize>> {
        match self.get(name) {
            None | Some(ParamValue::None) => Ok(None),
            Some(ParamValue::Int(i)) => {
                usize::try_from(*i)
                    .map(Some)
                    .map_err(|_| EvalError::BadParam {
                        name: name.to_string(),
                        reason: format!("{i} is negative"),
                    })
            }
            Some(other) => Err(bad_type(name, other, "a non-negative integer")),
        }
    }

    /// `name` as a float (integers widen): `Ok(None)` when unset or `None`.
    ///
    /// # Errors
    /// [`EvalError::BadParam`] when it is another type.
    pub fn get_f64(&self, name: &str) -> Result<Option<f64>> {
        match self.get(name) {
            None | Some(ParamValue::None) => Ok(None),
            Some(ParamValue::Int(i)) => Ok(Some(*i as f64)),
            Some(ParamValue::Float(x)) => Ok(Some(*x)),
            Some(other) => Err(bad_type(name, other, "a number")),
        }
    }

    /// `name` as a boolean: `Ok(None)` when unset.
    ///
    /// # Errors
    /// [`EvalError::BadParam`] when it is another type.
    pub fn get_bool(&self, name: &str) -> Result<Option<bool>> {
        match self.get(name) {
            None | Some(ParamValue::None) => Ok(None),
            Some(ParamValue::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(bad_type(name, other, "true or false")),
        }
    }

    /// Checks that every name is in `known`, so a typo (`max_deph`) is an error instead of
    /// a silently ignored setting.
    ///
    /// # Errors
    /// [`EvalError::BadParam`] naming the unknown parameter and the accepted ones.
    pub fn check_known(&self, known: &[&str]) -> Result<()> {
        match self.names().find(|n| !known.contains(n)) {
            Some(n) => Err(EvalError::BadParam {
                name: n.to_string(),
                reason: format!("unknown parameter; accepted: {}", known.join(", ")),
            }),
            None => Ok(()),
        }
    }
}

fn bad_type(name: &str, value: &ParamValue, expected: &str) -> EvalError {
    EvalError::BadParam {
        name: name.to_string(),
        reason: format!("got `{value}`, expected {expected}"),
    }
}

impl fmt::Display for ParamSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (k, v) in &self.0 {
            if !first {
                f.write_str(", ")?;
            }
            first = false;
            write!(f, "{k}={v}")?;
        }
        Ok(())
    }
}

/// A full grid: every combination of the listed values (scikit-learn's `ParameterGrid`,
/// same order: names sorted, the last name varying fastest).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ParamGrid {
    axes: BTreeMap<String, Vec<ParamValue>>,
}

impl ParamGrid {
    /// An empty grid.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one axis: parameter `name` takes each of `values`.
    pub fn add<V: Into<ParamValue>>(
        mut self,
        name: &str,
        values: impl IntoIterator<Item = V>,
    ) -> Self {
        self.axes.insert(
            name.to_string(),
            values.into_iter().map(Into::into).collect(),
        );
        self
    }

    /// Number of candidates (product of the axis lengths; 0 for an empty grid).
    pub fn len(&self) -> usize {
        if self.axes.is_empty() {
            0
        } else {
            self.axes.values().map(Vec::len).product()
        }
    }

    /// Whether the grid has no candidate.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every candidate, in scikit-learn's order.
    ///
    /// # Errors
    /// [`EvalError::EmptyGrid`] when there is no axis or an axis has no value.
    pub fn candidates(&self) -> Result<Vec<ParamSet>> {
        if self.axes.is_empty() {
            return Err(EvalError::EmptyGrid {
                reason: "the grid has no parameters".into(),
            });
        }
        if let Some((name, _)) = self.axes.iter().find(|(_, v)| v.is_empty()) {
            return Err(EvalError::EmptyGrid {
                reason: format!("parameter `{name}` has no values"),
            });
        }
        let mut out = vec![ParamSet::new()];
        for (name, values) in &self.axes {
            out = out
                .into_iter()
                .flat_map(|set| {
                    values
                        .iter()
                        .map(move |v| set.clone().with(name, v.clone()))
                })
                .collect();
        }
        Ok(out)
    }
}

/// Where a random search draws one parameter from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Distribution {
    /// One of these values, uniformly.
    Choice(Vec<ParamValue>),
    /// An integer uniformly in `low..=high` (scipy's `randint(low, high + 1)`).
    IntRange {
        /// Smallest value.
        low: i64,
        /// Largest value (inclusive).
        high: i64,
    },
    /// A float uniformly in `[low, high)`.
    Uniform {
        /// Lower bound.
        low: f64,
        /// Upper bound.
        high: f64,
    },
    /// A float whose logarithm is uniform in `[ln low, ln high)` (scipy's `loguniform`).
    LogUniform {
        /// Lower bound, > 0.
        low: f64,
        /// Upper bound.
        high: f64,
    },
}

impl Distribution {
    fn check(&self, name: &str) -> Result<()> {
        let bad = |reason: String| EvalError::EmptyGrid {
            reason: format!("parameter `{name}`: {reason}"),
        };
        match self {
            Distribution::Choice(v) if v.is_empty() => Err(bad("no values to choose from".into())),
            Distribution::IntRange { low, high } if low > high => {
                Err(bad(format!("empty range {low}..={high}")))
            }
            Distribution::Uniform { low, high } if low >= high || low.is_nan() || high.is_nan() => {
                Err(bad(format!("empty interval [{low}, {high})")))
            }
            Distribution::LogUniform { low, high }
                if low.is_nan() || high.is_nan() || *low <= 0.0 || low >= high =>
            {
                Err(bad(format!(
                    "log-uniform needs 0 < low < high, got [{low}, {high})"
                )))
            }
            _ => Ok(()),
        }
    }

    fn sample(&self, rng: &mut ChaCha8Rng) -> ParamValue {
        match self {
            Distribution::Choice(v) => v.choose(rng).cloned().unwrap_or(ParamValue::None),
            Distribution::IntRange { low, high } => ParamValue::Int(rng.gen_range(*low..=*high)),
            Distribution::Uniform { low, high } => ParamValue::Float(rng.gen_range(*low..*high)),
            Distribution::LogUniform { low, high } => {
                ParamValue::Float(rng.gen_range(low.ln()..high.ln()).exp())
            }
        }
    }
}

/// The space a [`RandomSearch`](crate::RandomSearch) samples from: one distribution per
/// parameter (scikit-learn's `param_distributions`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ParamSpace {
    dists: BTreeMap<String, Distribution>,
}

impl ParamSpace {
    /// An empty space.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a parameter drawn from `dist`.
    pub fn add(mut self, name: &str, dist: Distribution) -> Self {
        self.dists.insert(name.to_string(), dist);
        self
    }

    /// Adds a parameter drawn uniformly from `values`.
    pub fn choice<V: Into<ParamValue>>(
        self,
        name: &str,
        values: impl IntoIterator<Item = V>,
    ) -> Self {
        self.add(
            name,
            Distribution::Choice(values.into_iter().map(Into::into).collect()),
        )
    }

    /// Draws `n` candidates with a ChaCha8 generator seeded by `seed`: the same seed gives the
    /// same candidates on every machine. Parameters are drawn in name order.
    ///
    /// # Errors
    /// [`EvalError::EmptyGrid`] for an empty space, `n == 0`, or an empty distribution.
    pub fn sample(&self, n: usize, seed: u64) -> Result<Vec<ParamSet>> {
        if self.dists.is_empty() {
            return Err(EvalError::EmptyGrid {
                reason: "the search space has no parameters".into(),
            });
        }
        if n == 0 {
            return Err(EvalError::EmptyGrid {
                reason: "n_iter is 0".into(),
            });
        }
        for (name, d) in &self.dists {
            d.check(name)?;
        }
        let mut rng = <ChaCha8Rng as rand::SeedableRng>::seed_from_u64(seed);
        Ok((0..n)
            .map(|_| {
                ParamSet(
                    self.dists
                        .iter()
                        .map(|(k, d)| (k.clone(), d.sample(&mut rng)))
                        .collect(),
                )
            })
            .collect())
    }
}
