//! Derived numeric columns given by the app: a name, the numeric columns it reads, and the
//! function. Only the name and the inputs are saved; the app supplies the function again
//! when it loads a saved pipeline, so no code is ever read from a file.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// The function of a [`Derived`] column: the input values in the order of its inputs.
type DeriveFn = dyn Fn(&[f64]) -> f64 + Send + Sync;

/// A derived numeric column, computed per row from numeric columns of the table, such as
/// `BMI = Weight / Height²` ([`Derived::bmi`], the worked example).
///
/// The function receives a slice holding exactly the input values, in the order of
/// `inputs`. A non-finite result (say, a division by zero) is a
/// [`FeatureError::NonFinite`](crate::FeatureError::NonFinite) naming the row and the
/// derived column, never a panic of the pipeline's.
///
/// A saved pipeline records the name and inputs only; pass the same `Derived` values to
/// [`FittedTablePipeline::from_json`](crate::FittedTablePipeline::from_json) to load it.
///
/// # Examples
///
/// ```
/// use obesity_features::Derived;
///
/// let bmi = Derived::new("BMI", ["Weight", "Height"], |v| v[0] / (v[1] * v[1]));
/// assert_eq!(bmi.name(), "BMI");
/// assert_eq!(bmi.inputs(), ["Weight", "Height"]);
/// assert_eq!(bmi.compute(&[64.0, 1.6]), 64.0 / (1.6 * 1.6));
/// ```
#[derive(Clone)]
pub struct Derived {
    name: String,
    inputs: Vec<String>,
    function: Arc<DeriveFn>,
}

impl Derived {
    /// A derived column `name` computed by `function` from the numeric columns `inputs`.
    pub fn new<S: Into<String>>(
        name: impl Into<String>,
        inputs: impl IntoIterator<Item = S>,
        function: impl Fn(&[f64]) -> f64 + Send + Sync + 'static,
    ) -> Self {
        Derived {
            name: name.into(),
            inputs: inputs.into_iter().map(Into::into).collect(),
            function: Arc::new(function),
        }
    }

    /// The obesity example: `BMI = Weight / Height²`, as `ObesityRecord::bmi` computes it.
    pub fn bmi() -> Self {
        Derived::new("BMI", ["Weight", "Height"], |v| {
            match (v.first(), v.get(1)) {
                (Some(weight), Some(height)) => weight / (height * height),
                _ => f64::NAN,
            }
        })
    }

    /// The column's name in the output (`BMI`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The numeric columns the function reads, in the order it receives them.
    pub fn inputs(&self) -> &[String] {
        &self.inputs
    }

    /// The function applied to `values` (the inputs' values, in order).
    pub fn compute(&self, values: &[f64]) -> f64 {
        (self.function)(values)
    }

    /// The saved form: name and inputs.
    pub(crate) fn spec(&self) -> DerivedSpec {
        DerivedSpec {
            name: self.name.clone(),
            inputs: self.inputs.clone(),
        }
    }
}

impl fmt::Debug for Derived {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Derived")
            .field("name", &self.name)
            .field("inputs", &self.inputs)
            .finish_non_exhaustive()
    }
}

/// Two derivations are equal when their names and inputs are (functions cannot be compared).
impl PartialEq for Derived {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.inputs == other.inputs
    }
}

/// A [`Derived`] column as saved: its name and inputs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DerivedSpec {
    pub(crate) name: String,
    pub(crate) inputs: Vec<String>,
}
