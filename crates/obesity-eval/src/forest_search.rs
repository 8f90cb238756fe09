//! A ready [`StrategyFactory`](crate::StrategyFactory) for the random forest, and the grid
//! the project's seeds searched.

use obesity_forest::{Criterion, ForestParams, ForestParamsBuilder, MaxFeatures, ModelStrategy};

use crate::error::{EvalError, Result};
use crate::params::{ParamSet, ParamValue};

/// Parameter names [`forest_factory`] understands (scikit-learn's names).
pub const FOREST_PARAM_NAMES: &[&str] = &[
    "n_estimators",
    "max_depth",
    "min_samples_split",
    "min_samples_leaf",
    "max_features",
    "criterion",
    "bootstrap",
    "max_bins",
    "seed",
];

/// A factory that applies a candidate's parameters on top of `base` and builds (validates)
/// [`ForestParams`].
///
/// Accepted values: `max_depth` an integer or `None`; `max_features` `"sqrt"`, `"log2"`,
/// `"all"` (or `None`), a float fraction in (0, 1] or an integer count; `criterion` `"gini"`
/// or `"entropy"`; the rest integers (`bootstrap` a boolean). Anything else is an
/// [`EvalError::BadParam`] naming the parameter.
///
/// Inside a search, pass a `base` with `n_threads(Some(1))`: the search already runs
/// (candidate, fold) jobs in parallel, and one thread per forest avoids oversubscription.
pub fn forest_factory(
    base: ForestParamsBuilder,
) -> impl Fn(&ParamSet) -> Result<Box<dyn ModelStrategy>> + Sync {
    move |p: &ParamSet| {
        p.check_known(FOREST_PARAM_NAMES)?;
        let mut b = base.clone();
        if let Some(n) = p.get_usize("n_estimators")? {
            b = b.n_estimators(n);
        }
        if p.get("max_depth").is_some() {
            b = b.max_depth(p.get_usize("max_depth")?);
        }
        if let Some(n) = p.get_usize("min_samples_split")? {
            b = b.min_samples_split(n);
        }
        if let Some(n) = p.get_usize("min_samples_leaf")? {
            b = b.min_samples_leaf(n);
        }
        if let Some(v) = p.get("max_features") {
            b = b.max_features(max_features(v)?);
        }
        if let Some(v) = p.get("criterion") {
            b = b.criterion(match v {
                ParamValue::Str(s) if s == "gini" => Criterion::Gini,
                ParamValue::Str(s) if s == "entropy" || s == "log_loss" => Criterion::Entropy,
                other => {
                    return Err(EvalError::BadParam {
                        name: "criterion".into(),
                        reason: format!("got `{other}`, expected \"gini\" or \"entropy\""),
                    });
                }
            });
        }
        if let Some(v) = p.get_bool("bootstrap")? {
            b = b.bootstrap(v);
        }
        if let Some(n) = p.get_usize("max_bins")? {
            b = b.max_bins(n);
        }
        if let Some(n) = p.get_usize("seed")? {
            b = b.seed(n as u64);
        }
        let params: ForestParams = b.build()?;
        Ok(Box::new(params) as Box<dyn ModelStrategy>)
    }
}

fn max_features(v: &ParamValue) -> Result<MaxFeatures> {
    Ok(match v {
        ParamValue::Str(s) if s == "sqrt" => MaxFeatures::Sqrt,
        ParamValue::Str(s) if s == "log2" => MaxFeatures::Log2,
        ParamValue::Str(s) if s == "all" => MaxFeatures::All,
        ParamValue::None => MaxFeatures::All,
        ParamValue::Float(f) => MaxFeatures::Fraction(*f),
        ParamValue::Int(i) if *i > 0 => MaxFeatures::Count(*i as usize),
        other => {
            return Err(EvalError::BadParam {
                name: "max_features".into(),
                reason: format!(
                    "got `{other}`, expected \"sqrt\", \"log2\", \"all\", a fraction or a count"
                ),
            });
        }
    })
}
