//! An adapter over linfa-trees' `DecisionTree`: shows that another library's model drops
//! into the same [`ModelStrategy`] / [`Classifier`] pipeline as
//! [`RandomForest`](crate::RandomForest).
//!
//! linfa-trees 0.8 predicts labels only, so [`LinfaTree::predict_proba`] is the one-hot
//! encoding of its prediction (probability 1 for the predicted class).

use std::collections::BTreeMap;

use linfa::DatasetBase;
use linfa::prelude::{Fit, Predict};
use linfa_trees::{DecisionTree, SplitQuality};
use ndarray::{Array2, ArrayView1, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::envelope::{open, seal};
use crate::error::{ModelError, Result};
use crate::model::{Classifier, ModelStrategy};
use crate::params::Criterion;
use crate::persist::LINFA_MAGIC;
use crate::validate::{self, MAX_LINFA_CLASSES, bad_field};

/// Validated hyper-parameters of a linfa-trees decision tree; the [`ModelStrategy`] that
/// trains a [`LinfaTree`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(try_from = "LinfaTreeSpec", into = "LinfaTreeSpec")]
pub struct LinfaTreeParams {
    spec: LinfaTreeSpec,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct LinfaTreeSpec {
    max_depth: Option<usize>,
    min_weight_split: f32,
    min_weight_leaf: f32,
    split_quality: Criterion,
}

impl Default for LinfaTreeSpec {
    fn default() -> Self {
        // linfa-trees' own defaults.
        LinfaTreeSpec {
            max_depth: None,
            min_weight_split: 2.0,
            min_weight_leaf: 1.0,
            split_quality: Criterion::Gini,
        }
    }
}

impl TryFrom<LinfaTreeSpec> for LinfaTreeParams {
    type Error = ModelError;
    fn try_from(s: LinfaTreeSpec) -> Result<Self> {
        let bad = |name, value: String, expected: &str| {
            Err(ModelError::InvalidParam {
                name,
                value,
                expected: expected.into(),
            })
        };
        if s.max_depth == Some(0) {
            return bad("max_depth", "0".into(), "at least 1, or None for unlimited");
        }
        if !(s.min_weight_split.is_finite() && s.min_weight_split >= 1.0) {
            return bad(
                "min_weight_split",
                s.min_weight_split.to_string(),
                "a finite value >= 1",
            );
        }
        if !(s.min_weight_leaf.is_finite() && s.min_weight_leaf >= 0.0) {
            return bad(
                "min_weight_leaf",
                s.min_weight_leaf.to_string(),
                "a finite value >= 0",
            );
        }
        Ok(LinfaTreeParams { spec: s })
    }
}

impl From<LinfaTreeParams> for LinfaTreeSpec {
    fn from(p: LinfaTreeParams) -> Self {
        p.spec
    }
}

impl LinfaTreeParams {
    /// Validates a set of parameters: `max_depth >= 1` or `None`, `min_weight_split >= 1`,
    /// `min_weight_leaf >= 0`. The defaults are linfa-trees' (unlimited depth, 2, 1, gini).
    pub fn new(
        max_depth: Option<usize>,
        min_weight_split: f32,
        min_weight_leaf: f32,
        split_quality: Criterion,
    ) -> Result<Self> {
        LinfaTreeParams::try_from(LinfaTreeSpec {
            max_depth,
            min_weight_split,
            min_weight_leaf,
            split_quality,
        })
    }

    fn linfa(&self) -> linfa_trees::DecisionTreeParams<f32, usize> {
        DecisionTree::params()
            .max_depth(self.spec.max_depth)
            .min_weight_split(self.spec.min_weight_split)
            .min_weight_leaf(self.spec.min_weight_leaf)
            .split_quality(match self.spec.split_quality {
                Criterion::Gini => SplitQuality::Gini,
                Criterion::Entropy => SplitQuality::Entropy,
            })
    }
}

impl ModelStrategy for LinfaTreeParams {
    fn name(&self) -> &str {
        "linfa_decision_tree"
    }

    fn params(&self) -> BTreeMap<String, String> {
        let s = &self.spec;
        BTreeMap::from([
            (
                "max_depth".into(),
                s.max_depth.map_or("None".into(), |d| d.to_string()),
            ),
            ("min_weight_split".into(), s.min_weight_split.to_string()),
            ("min_weight_leaf".into(), s.min_weight_leaf.to_string()),
            ("split_quality".into(), s.split_quality.to_string()),
        ])
    }

    fn fit(
        &self,
        x: ArrayView2<'_, f32>,
        y: ArrayView1<'_, usize>,
        n_classes: usize,
    ) -> Result<Box<dyn Classifier>> {
        Ok(Box::new(LinfaTree::fit(self, x, y, n_classes)?))
    }
}

/// A trained linfa-trees `DecisionTree` behind the [`Classifier`] trait.
///
/// Deserializing validates (see [`LinfaTree::from_bytes`]), whatever the format.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "LinfaTreeRaw")]
pub struct LinfaTree {
    params: LinfaTreeParams,
    n_features: usize,
    n_classes: usize,
    tree: DecisionTree<f32, usize>,
}

/// [`LinfaTree`] as read, before [`LinfaTreeRaw::check`]; the tree's `num_features`, which
/// linfa-trees keeps private, read beside it.
#[derive(Deserialize)]
struct LinfaTreeRaw {
    params: LinfaTreeParams,
    n_features: usize,
    n_classes: usize,
    #[serde(deserialize_with = "tree_and_width")]
    tree: (DecisionTree<f32, usize>, u64),
}

/// The tree and its `num_features`: linfa-trees has no getter for it, yet its
/// `feature_importance` allocates that many values and indexes them by every split's
/// feature, so a file could make it panic or allocate without bound.
fn tree_and_width<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<(DecisionTree<f32, usize>, u64), D::Error> {
    use serde::de::Error;
    let v = serde_json::Value::deserialize(d)?;
    let width = v
        .get("num_features")
        .and_then(serde_json::Value::as_u64)
        .ok_or_else(|| D::Error::custom("linfa tree without an unsigned `num_features`"))?;
    let tree = DecisionTree::deserialize(&v).map_err(D::Error::custom)?;
    Ok((tree, width))
}

impl LinfaTreeRaw {
    /// Everything linfa-trees' `predict` and node inspection index or unwrap, and what our
    /// `predict_proba` allocates: `n_features` in `1..=MAX_FEATURES` and equal to the tree's
    /// `num_features`; `n_classes` in `1..=MAX_LINFA_CLASSES`; on every node reachable by
    /// linfa's node iterator (which also descends below leaves), a split has both children,
    /// a feature `< n_features` and a threshold that is not NaN, and a leaf predicts a class
    /// `< n_classes`.
    fn check(self) -> Result<LinfaTree> {
        let (tree, width) = self.tree;
        validate::check_stored_width("n_features", self.n_features as u64)?;
        if self.n_classes == 0 || self.n_classes > MAX_LINFA_CLASSES {
            return Err(bad_field(
                "n_classes",
                self.n_classes,
                format!("1..={MAX_LINFA_CLASSES} classes"),
            ));
        }
        if width != self.n_features as u64 {
            return Err(bad_field(
                "tree.num_features",
                width,
                format!("{}, the model's n_features", self.n_features),
            ));
        }
        // Iterative: a recursive walk would put the nesting depth on the stack.
        let mut stack = vec![tree.root_node()];
        let mut id = 0usize;
        while let Some(node) = stack.pop() {
            let field = |what: &str| format!("{what} of node {id} (depth-first, root = 0)");
            if let Some(class) = node.prediction() {
                if class >= self.n_classes {
                    return Err(bad_field(
                        field("prediction"),
                        class,
                        format!("a class < n_classes = {}", self.n_classes),
                    ));
                }
            } else {
                let (feature, threshold, _) = node.split();
                if feature >= self.n_features {
                    return Err(bad_field(
                        field("split feature"),
                        feature,
                        format!("< n_features = {}", self.n_features),
                    ));
                }
                if threshold.is_nan() {
                    return Err(bad_field(field("split value"), threshold, "a number"));
                }
            }
            let children = node.children();
            for (side, child) in ["left child", "right child"].iter().zip(&children) {
                if child.is_none() && !node.is_leaf() {
                    return Err(bad_field(field(side), "none", "a node (this node splits)"));
                }
            }
            // Right pushed first: the left subtree is numbered first.
            stack.extend(children.into_iter().rev().filter_map(|c| c.as_deref()));
            id += 1;
        }
        Ok(LinfaTree {
            params: self.params,
            n_features: self.n_features,
            n_classes: self.n_classes,
            tree,
        })
    }
}

impl TryFrom<LinfaTreeRaw> for LinfaTree {
    type Error = ModelError;
    fn try_from(raw: LinfaTreeRaw) -> Result<Self> {
        raw.check()
    }
}

impl LinfaTree {
    /// Trains linfa's tree after the same input checks as the forest; also errors on more
    /// than 65,536 classes (the most a model file may declare).
    pub fn fit(
        params: &LinfaTreeParams,
        x: ArrayView2<'_, f32>,
        y: ArrayView1<'_, usize>,
        n_classes: usize,
    ) -> Result<Self> {
        validate::check_training(x, y, n_classes)?;
        if n_classes > MAX_LINFA_CLASSES {
            return Err(ModelError::InvalidParam {
                name: "n_classes",
                value: n_classes.to_string(),
                expected: format!(
                    "at most {MAX_LINFA_CLASSES} (more could not be read back from a file)"
                ),
            });
        }
        let data = DatasetBase::new(x.to_owned(), y.to_owned());
        let tree = params.linfa().fit(&data).map_err(|e| ModelError::Backend {
            library: "linfa-trees",
            message: e.to_string(),
        })?;
        Ok(LinfaTree {
            params: params.clone(),
            n_features: x.ncols(),
            n_classes,
            tree,
        })
    }

    /// The parameters it was trained with.
    pub fn params(&self) -> &LinfaTreeParams {
        &self.params
    }

    /// The wrapped linfa model, for linfa's own inspection methods.
    pub fn inner(&self) -> &DecisionTree<f32, usize> {
        &self.tree
    }

    /// Reads bytes written by [`Classifier::to_bytes`]: the shared envelope (magic
    /// `OBLINFDT`, version, CRC32) around serde JSON of the model.
    ///
    /// The checksum only catches accidents, so the tree is validated as well: widths and
    /// class counts in range, and every node linfa-trees would index or unwrap consistent
    /// with them (a split has both children and a feature `< n_features`, a leaf predicts a
    /// class `< n_classes`). A file that passes loads a tree whose `predict_proba` cannot
    /// panic; any other is [`ModelError::InvalidModelField`] naming the field, or
    /// [`ModelError::Corrupt`] for JSON that does not parse (including nesting deeper than
    /// `serde_json`'s limit of 128 levels, which bounds the tree's depth to about 125).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let payload = open(bytes, LINFA_MAGIC, "linfa_decision_tree")?;
        let raw: LinfaTreeRaw =
            serde_json::from_slice(payload).map_err(|e| ModelError::Corrupt {
                reason: format!("linfa tree: {e}"),
            })?;
        raw.check()
    }
}

impl Classifier for LinfaTree {
    fn name(&self) -> &str {
        "linfa_decision_tree"
    }

    fn n_features(&self) -> usize {
        self.n_features
    }

    fn n_classes(&self) -> usize {
        self.n_classes
    }

    /// One-hot of linfa's predicted label (linfa-trees gives no probabilities).
    fn predict_proba(&self, x: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
        validate::check_predict(x, self.n_features)?;
        let labels = self.tree.predict(&x);
        let mut out = Array2::zeros((x.nrows(), self.n_classes));
        for (r, &l) in labels.iter().enumerate() {
            if l >= self.n_classes {
                return Err(ModelError::Corrupt {
                    reason: format!("linfa tree predicted class {l} of {}", self.n_classes),
                });
            }
            out[[r, l]] = 1.0;
        }
        Ok(out)
    }

    fn to_bytes(&self) -> Result<Vec<u8>> {
        let json = serde_json::to_vec(self).map_err(|e| ModelError::Backend {
            library: "serde_json",
            message: e.to_string(),
        })?;
        Ok(seal(LINFA_MAGIC, &json))
    }
}
