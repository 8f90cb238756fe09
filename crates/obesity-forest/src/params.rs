//! Hyper-parameters of the random forest: [`ForestParams`], its builder and the small enums
//! that name scikit-learn's string options.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result};
use crate::isa::Isa;

/// How many features each split may look at (scikit-learn's `max_features`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaxFeatures {
    /// `max(1, floor(sqrt(n_features)))`, scikit-learn's default for classifiers.
    Sqrt,
    /// `max(1, floor(log2(n_features)))`.
    Log2,
    /// Every feature at every split (bagged trees rather than a random forest).
    All,
    /// `max(1, floor(fraction * n_features))`, fraction in `(0, 1]`.
    Fraction(f64),
    /// Exactly this many features; must not exceed the number of features at fit time.
    Count(usize),
}

impl MaxFeatures {
    /// The number of features drawn per split for a matrix of `n_features` columns.
    pub(crate) fn resolve(self, n_features: usize) -> Result<usize> {
        let n = match self {
            MaxFeatures::Sqrt => (n_features as f64).sqrt().floor() as usize,
            MaxFeatures::Log2 => (n_features as f64).log2().floor() as usize,
            MaxFeatures::All => n_features,
            MaxFeatures::Fraction(f) => (f * n_features as f64).floor() as usize,
            MaxFeatures::Count(c) => {
                if c > n_features {
                    return Err(ModelError::InvalidParam {
                        name: "max_features",
                        value: c.to_string(),
                        expected: format!("at most the {n_features} features of the input"),
                    });
                }
                c
            }
        };
        Ok(n.clamp(1, n_features.max(1)))
    }
}

impl fmt::Display for MaxFeatures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MaxFeatures::Sqrt => f.write_str("sqrt"),
            MaxFeatures::Log2 => f.write_str("log2"),
            MaxFeatures::All => f.write_str("all"),
            MaxFeatures::Fraction(x) => write!(f, "{x}"),
            MaxFeatures::Count(c) => write!(f, "{c}"),
        }
    }
}

/// Impurity measure used to rank splits (scikit-learn's `criterion`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Criterion {
    /// Gini impurity `1 - sum p_k^2`, scikit-learn's default.
    Gini,
    /// Shannon entropy `-sum p_k ln p_k` (scikit-learn's `entropy`/`log_loss`).
    Entropy,
}

impl fmt::Display for Criterion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Criterion::Gini => "gini",
            Criterion::Entropy => "entropy",
        })
    }
}

/// Per-class sample weights (scikit-learn's `class_weight`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClassWeight {
    /// Every sample weighs 1 (scikit-learn's `class_weight=None`).
    None,
    /// `n_samples / (n_classes_present * count(class))`, computed on the whole training set
    /// as scikit-learn's `"balanced"`.
    Balanced,
}

impl fmt::Display for ClassWeight {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ClassWeight::None => "None",
            ClassWeight::Balanced => "balanced",
        })
    }
}

/// Size of each bootstrap sample (scikit-learn's `max_samples`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaxSamples {
    /// Draw this many rows; must not exceed the rows at fit time.
    Count(usize),
    /// Draw `max(1, round(fraction * n_rows))` rows, fraction in `(0, 1]`.
    Fraction(f64),
}

impl MaxSamples {
    pub(crate) fn resolve(self, n_rows: usize) -> Result<usize> {
        match self {
            MaxSamples::Count(c) if c > n_rows => Err(ModelError::InvalidParam {
                name: "max_samples",
                value: c.to_string(),
                expected: format!("at most the {n_rows} rows of the input"),
            }),
            MaxSamples::Count(c) => Ok(c),
            MaxSamples::Fraction(f) => Ok(((f * n_rows as f64).round() as usize).max(1)),
        }
    }
}

impl fmt::Display for MaxSamples {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MaxSamples::Count(c) => write!(f, "{c}"),
            MaxSamples::Fraction(x) => write!(f, "{x}"),
        }
    }
}

/// The unchecked shape of [`ForestParams`]: what the builder fills in and what serde reads.
/// Converting it to [`ForestParams`] validates every field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct ForestParamsSpec {
    n_estimators: usize,
    max_depth: Option<usize>,
    min_samples_split: usize,
    min_samples_leaf: usize,
    max_features: MaxFeatures,
    criterion: Criterion,
    bootstrap: bool,
    oob_score: bool,
    max_samples: Option<MaxSamples>,
    class_weight: ClassWeight,
    max_bins: usize,
    seed: u64,
    n_threads: Option<usize>,
    /// How the model runs, not what it is (as `n_threads`): never serialized, so model files
    /// and run logs are the same whichever instruction set trained them.
    #[serde(skip)]
    isa: Option<Isa>,
}

impl Default for ForestParamsSpec {
    fn default() -> Self {
        ForestParamsSpec {
            n_estimators: 100,
            max_depth: None,
            min_samples_split: 2,
            min_samples_leaf: 1,
            max_features: MaxFeatures::Sqrt,
            criterion: Criterion::Gini,
            bootstrap: true,
            oob_score: false,
            max_samples: None,
            class_weight: ClassWeight::None,
            max_bins: 256,
            seed: 0,
            n_threads: None,
            isa: None,
        }
    }
}

fn invalid(name: &'static str, value: impl fmt::Display, expected: &str) -> ModelError {
    ModelError::InvalidParam {
        name,
        value: value.to_string(),
        expected: expected.to_string(),
    }
}

impl TryFrom<ForestParamsSpec> for ForestParams {
    type Error = ModelError;

    fn try_from(s: ForestParamsSpec) -> Result<Self> {
        if s.n_estimators == 0 {
            return Err(invalid("n_estimators", s.n_estimators, "at least 1"));
        }
        if s.max_depth == Some(0) {
            return Err(invalid("max_depth", 0, "at least 1, or None for unlimited"));
        }
        if s.min_samples_split < 2 {
            return Err(invalid(
                "min_samples_split",
                s.min_samples_split,
                "at least 2",
            ));
        }
        if s.min_samples_leaf == 0 {
            return Err(invalid("min_samples_leaf", 0, "at least 1"));
        }
        match s.max_features {
            MaxFeatures::Fraction(f) if !(f > 0.0 && f <= 1.0) => {
                return Err(invalid("max_features", f, "a fraction in (0, 1]"));
            }
            MaxFeatures::Count(0) => return Err(invalid("max_features", 0, "at least 1")),
            _ => {}
        }
        if s.oob_score && !s.bootstrap {
            return Err(invalid(
                "oob_score",
                true,
                "false when bootstrap is false (no row is ever out of bag)",
            ));
        }
        match s.max_samples {
            Some(_) if !s.bootstrap => {
                return Err(invalid(
                    "max_samples",
                    s.max_samples.map_or(String::new(), |m| m.to_string()),
                    "None when bootstrap is false (there is no bootstrap sample to size)",
                ));
            }
            Some(MaxSamples::Fraction(f)) if !(f > 0.0 && f <= 1.0) => {
                return Err(invalid("max_samples", f, "a fraction in (0, 1]"));
            }
            Some(MaxSamples::Count(0)) => return Err(invalid("max_samples", 0, "at least 1")),
            _ => {}
        }
        if !(2..=65_536).contains(&s.max_bins) {
            return Err(invalid("max_bins", s.max_bins, "2..=65536"));
        }
        if s.n_threads == Some(0) {
            return Err(invalid(
                "n_threads",
                0,
                "at least 1, or None for rayon's global pool",
            ));
        }
        if let Some(isa) = s.isa
            && !isa.is_supported()
        {
            return Err(ModelError::IsaUnavailable {
                requested: isa,
                detected: Isa::detected(),
            });
        }
        Ok(ForestParams { spec: s })
    }
}

impl From<ForestParams> for ForestParamsSpec {
    fn from(p: ForestParams) -> Self {
        p.spec
    }
}

/// Validated hyper-parameters of a [`RandomForest`](crate::RandomForest); the [`ModelStrategy`](crate::ModelStrategy) that trains it.
///
/// Built with [`ForestParams::builder`], which checks every value before any data is seen, so
/// a fit never fails half-way on a bad setting. `Default` is scikit-learn's
/// `RandomForestClassifier()`: 100 trees, unlimited depth, `min_samples_split=2`,
/// `min_samples_leaf=1`, `max_features="sqrt"`, gini, bootstrap without `max_samples`, no
/// out-of-bag score, no class weights; plus our own `max_bins = 256`, `seed = 0` (a fixed
/// seed, so two default fits give byte-identical models) and `n_threads = None` (rayon's
/// global pool).
///
/// Serde reads back through the same validation (`#[serde(try_from)]`), so parameters
/// loaded from a run store cannot smuggle in an invalid value.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(try_from = "ForestParamsSpec", into = "ForestParamsSpec")]
pub struct ForestParams {
    spec: ForestParamsSpec,
}

impl ForestParams {
    /// The hyper-parameters as strings, for run tracking (see [`crate::ModelStrategy::params`]).
    pub(crate) fn to_map(&self) -> BTreeMap<String, String> {
        let s = &self.spec;
        let opt = |o: Option<String>| o.unwrap_or_else(|| "None".to_string());
        [
            ("n_estimators", s.n_estimators.to_string()),
            ("max_depth", opt(s.max_depth.map(|d| d.to_string()))),
            ("min_samples_split", s.min_samples_split.to_string()),
            ("min_samples_leaf", s.min_samples_leaf.to_string()),
            ("max_features", s.max_features.to_string()),
            ("criterion", s.criterion.to_string()),
            ("bootstrap", s.bootstrap.to_string()),
            ("oob_score", s.oob_score.to_string()),
            ("max_samples", opt(s.max_samples.map(|m| m.to_string()))),
            ("class_weight", s.class_weight.to_string()),
            ("max_bins", s.max_bins.to_string()),
            ("seed", s.seed.to_string()),
            ("n_threads", opt(s.n_threads.map(|n| n.to_string()))),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// Starts a builder from the defaults.
    pub fn builder() -> ForestParamsBuilder {
        ForestParamsBuilder {
            spec: ForestParamsSpec::default(),
        }
    }

    /// Starts a builder from these parameters, to change a few of them.
    pub fn builder_from(params: &ForestParams) -> ForestParamsBuilder {
        ForestParamsBuilder {
            spec: params.spec.clone(),
        }
    }

    /// Number of trees.
    pub fn n_estimators(&self) -> usize {
        self.spec.n_estimators
    }
    /// Maximum depth of a tree (`None`: grow until leaves are pure or too small).
    pub fn max_depth(&self) -> Option<usize> {
        self.spec.max_depth
    }
    /// Minimum rows a node needs to be split.
    pub fn min_samples_split(&self) -> usize {
        self.spec.min_samples_split
    }
    /// Minimum rows each child of a split must keep.
    pub fn min_samples_leaf(&self) -> usize {
        self.spec.min_samples_leaf
    }
    /// Features drawn per split.
    pub fn max_features(&self) -> MaxFeatures {
        self.spec.max_features
    }
    /// Impurity measure.
    pub fn criterion(&self) -> Criterion {
        self.spec.criterion
    }
    /// Whether each tree sees a bootstrap sample.
    pub fn bootstrap(&self) -> bool {
        self.spec.bootstrap
    }
    /// Whether fitting computes the out-of-bag score ([`RandomForest::oob_score`](crate::RandomForest::oob_score)).
    pub fn oob_score(&self) -> bool {
        self.spec.oob_score
    }
    /// Bootstrap sample size (`None`: as many rows as the input).
    pub fn max_samples(&self) -> Option<MaxSamples> {
        self.spec.max_samples
    }
    /// Class weighting.
    pub fn class_weight(&self) -> ClassWeight {
        self.spec.class_weight
    }
    /// Maximum number of quantile bins per feature for the histogram split search.
    pub fn max_bins(&self) -> usize {
        self.spec.max_bins
    }
    /// Seed of every random draw (bootstrap and feature sampling).
    pub fn seed(&self) -> u64 {
        self.spec.seed
    }
    /// Worker threads (`None`: rayon's global pool).
    pub fn n_threads(&self) -> Option<usize> {
        self.spec.n_threads
    }
    /// The instruction set forced for training and prediction (`None`:
    /// [`Isa::process_default`]).
    pub fn isa(&self) -> Option<Isa> {
        self.spec.isa
    }
}

/// Builder for [`ForestParams`]; [`build`](ForestParamsBuilder::build) validates.
#[derive(Debug, Clone)]
pub struct ForestParamsBuilder {
    spec: ForestParamsSpec,
}

impl ForestParamsBuilder {
    /// Number of trees, at least 1. By default, this is 100.
    pub fn n_estimators(mut self, n: usize) -> Self {
        self.spec.n_estimators = n;
        self
    }
    /// Maximum tree depth, at least 1; `None` grows until leaves are pure. By default, this is
    /// `None`.
    pub fn max_depth(mut self, d: Option<usize>) -> Self {
        self.spec.max_depth = d;
        self
    }
    /// Minimum rows a node needs to be split, at least 2. By default, this is 2.
    pub fn min_samples_split(mut self, n: usize) -> Self {
        self.spec.min_samples_split = n;
        self
    }
    /// Minimum rows in each child, at least 1. By default, this is 1.
    pub fn min_samples_leaf(mut self, n: usize) -> Self {
        self.spec.min_samples_leaf = n;
        self
    }
    /// Features drawn per split. By default, this is [`MaxFeatures::Sqrt`].
    pub fn max_features(mut self, m: MaxFeatures) -> Self {
        self.spec.max_features = m;
        self
    }
    /// Impurity measure. By default, this is [`Criterion::Gini`].
    pub fn criterion(mut self, c: Criterion) -> Self {
        self.spec.criterion = c;
        self
    }
    /// Whether trees see bootstrap samples. By default, this is `true`.
    pub fn bootstrap(mut self, b: bool) -> Self {
        self.spec.bootstrap = b;
        self
    }
    /// Whether fitting also computes the out-of-bag accuracy (scikit-learn's `oob_score`),
    /// read back with [`RandomForest::oob_score`](crate::RandomForest::oob_score). It costs a pass of every training row
    /// through the trees that did not see it, so it is off unless asked for; needs
    /// `bootstrap(true)`. By default, this is `false`.
    pub fn oob_score(mut self, b: bool) -> Self {
        self.spec.oob_score = b;
        self
    }
    /// Bootstrap sample size; needs `bootstrap(true)`. By default, this is `None` (all rows).
    pub fn max_samples(mut self, m: Option<MaxSamples>) -> Self {
        self.spec.max_samples = m;
        self
    }
    /// Class weighting. By default, this is [`ClassWeight::None`].
    pub fn class_weight(mut self, c: ClassWeight) -> Self {
        self.spec.class_weight = c;
        self
    }
    /// Maximum quantile bins per feature, 2..=65536 (codes are one byte up to 256). Features
    /// with fewer distinct values than this are binned exactly. By default, this is 256.
    pub fn max_bins(mut self, n: usize) -> Self {
        self.spec.max_bins = n;
        self
    }
    /// Seed of all random draws. By default, this is 0.
    pub fn seed(mut self, s: u64) -> Self {
        self.spec.seed = s;
        self
    }
    /// Worker threads, at least 1; `None` uses rayon's global pool. The model does not depend
    /// on it. By default, this is `None`.
    pub fn n_threads(mut self, n: Option<usize>) -> Self {
        self.spec.n_threads = n;
        self
    }
    /// Forces the instruction set of the fit and of the model's predictions (see [`Isa`]);
    /// `None` uses [`Isa::process_default`] (the `OBESITY_FOREST_ISA` environment variable,
    /// else the widest the CPU runs). The model does not depend on it: every instruction set
    /// gives the same bytes and the same predictions, so it is not stored in model files nor
    /// listed by [`ModelStrategy::params`](crate::ModelStrategy::params). [`build`](Self::build) refuses one this CPU does
    /// not run ([`ModelError::IsaUnavailable`]). By default, this is `None`.
    ///
    /// ```
    /// use obesity_forest::{ForestParams, Isa};
    ///
    /// let params = ForestParams::builder().isa(Isa::Portable).build()?;
    /// assert_eq!(params.isa(), Some(Isa::Portable));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn isa(mut self, isa: impl Into<Option<Isa>>) -> Self {
        self.spec.isa = isa.into();
        self
    }
    /// Validates every setting.
    pub fn build(self) -> Result<ForestParams> {
        ForestParams::try_from(self.spec)
    }
}
