//! Read access to a [`RandomForest`]'s tree arena.
//!
//! # TEMPORARY SHIM
//!
//! obesity-forest keeps its arena `pub(crate)`, and this crate may not change it. Until it
//! exposes a read-only view (the accessor requested is `RandomForest::arena(&self) ->
//! ForestArena<'_>`, with exactly the fields of [`ForestArena`] below), [`decode`] reads the
//! arena back from the forest's own model file, [`RandomForest::to_bytes`]: the `OBFOREST`
//! format, version 1, documented in obesity-forest's `src/persist.rs`. That format is
//! versioned, so a change of layout arrives as a new version number, which this shim refuses
//! with [`OnnxError::Arena`] instead of misreading; and every count it reads is cross-checked
//! against the forest's public accessors (`n_trees`, `n_nodes`, `n_features`, `n_classes`).
//! When the accessor lands, [`decode`] and [`OwnedArena`] go away and callers take
//! `forest.arena()` directly; nothing else in this crate changes.

use obesity_forest::{Classifier, RandomForest};

use crate::error::{OnnxError, Result};

/// A read-only view of every tree of a forest, in obesity-forest's struct-of-arrays layout.
///
/// Split node `i` tests `x[feature[i]] <= threshold[i]`: true goes to `left[i]`, false to
/// `right[i]`. A child `c >= 0` is split node `c`; `c < 0` is leaf `!c`, whose class
/// probabilities are `leaf_proba[leaf * n_classes..(leaf + 1) * n_classes]`. Indices are
/// global across trees; tree `t` owns split nodes `tree_nodes[t]..tree_nodes[t + 1]` and
/// leaves `tree_leaves[t]..tree_leaves[t + 1]`, and starts at `roots[t]` (a split node, or
/// `!leaf` for a tree that is a single leaf).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ForestArena<'a> {
    pub(crate) n_features: usize,
    pub(crate) n_classes: usize,
    pub(crate) roots: &'a [i32],
    pub(crate) tree_nodes: &'a [u32],
    pub(crate) tree_leaves: &'a [u32],
    pub(crate) feature: &'a [u32],
    pub(crate) threshold: &'a [f32],
    pub(crate) left: &'a [i32],
    pub(crate) right: &'a [i32],
    pub(crate) leaf_proba: &'a [f32],
}

impl ForestArena<'_> {
    /// Number of trees.
    pub(crate) fn n_trees(&self) -> usize {
        self.roots.len()
    }
}

/// The arena's arrays, owned (the shim decodes a copy). Part of the shim.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct OwnedArena {
    n_features: usize,
    n_classes: usize,
    roots: Vec<i32>,
    tree_nodes: Vec<u32>,
    tree_leaves: Vec<u32>,
    feature: Vec<u32>,
    threshold: Vec<f32>,
    left: Vec<i32>,
    right: Vec<i32>,
    leaf_proba: Vec<f32>,
}

impl OwnedArena {
    /// The borrowed view the exporter works on.
    pub(crate) fn view(&self) -> ForestArena<'_> {
        ForestArena {
            n_features: self.n_features,
            n_classes: self.n_classes,
            roots: &self.roots,
            tree_nodes: &self.tree_nodes,
            tree_leaves: &self.tree_leaves,
            feature: &self.feature,
            threshold: &self.threshold,
            left: &self.left,
            right: &self.right,
            leaf_proba: &self.leaf_proba,
        }
    }
}

fn bad(reason: impl Into<String>) -> OnnxError {
    OnnxError::Arena {
        reason: reason.into(),
    }
}

/// A bounds-checked little-endian cursor over the model file.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.buf.len())
            .ok_or_else(|| bad(format!("model file truncated in {what}")))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn fixed<const N: usize>(&mut self, what: &str) -> Result<[u8; N]> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N, what)?);
        Ok(a)
    }

    fn count(&mut self, what: &str) -> Result<usize> {
        let v = u64::from_le_bytes(self.fixed(what)?);
        usize::try_from(v).map_err(|_| bad(format!("{what} = {v} does not fit in memory")))
    }

    fn items<T, const N: usize>(
        &mut self,
        n: usize,
        what: &str,
        conv: fn([u8; N]) -> T,
    ) -> Result<Vec<T>> {
        let len = n
            .checked_mul(N)
            .ok_or_else(|| bad(format!("{what}: length overflows")))?;
        Ok(self
            .take(len, what)?
            .chunks_exact(N)
            .map(|c| {
                let mut a = [0u8; N];
                a.copy_from_slice(c);
                conv(a)
            })
            .collect())
    }
}

/// Reads `forest`'s arena back from its `OBFOREST` v1 bytes (the temporary shim; see the
/// module docs), then checks that it describes trees: see [`check`].
pub(crate) fn decode(forest: &RandomForest) -> Result<OwnedArena> {
    let bytes = forest.to_bytes()?;
    let mut r = Cursor {
        buf: &bytes,
        pos: 0,
    };
    if r.take(8, "magic")? != b"OBFOREST" {
        return Err(bad("the forest's model file does not start with OBFOREST"));
    }
    let version = u32::from_le_bytes(r.fixed("format version")?);
    if version != 1 {
        return Err(bad(format!(
            "the forest's model file is format version {version}; this exporter's temporary \
             reader knows version 1 only (obesity-forest needs a public arena accessor)"
        )));
    }
    let payload_len = r.count("payload length")?;
    let payload = r.take(payload_len, "payload")?;
    let mut r = Cursor {
        buf: payload,
        pos: 0,
    };
    let json_len = u32::from_le_bytes(r.fixed("parameter length")?) as usize;
    r.take(json_len, "parameters")?;
    let n_features = r.count("n_features")?;
    let n_classes = r.count("n_classes")?;
    let n_trees = r.count("n_trees")?;
    let n_nodes = r.count("n_nodes")?;
    let n_leaves = r.count("n_leaves")?;
    r.take(1 + 8, "out-of-bag score")?;
    let n_proba = n_leaves
        .checked_mul(n_classes)
        .ok_or_else(|| bad("n_leaves × n_classes overflows"))?;
    let per_tree = n_trees
        .checked_add(1)
        .ok_or_else(|| bad("n_trees overflows"))?;
    let roots = r.items(n_trees, "roots", i32::from_le_bytes)?;
    r.items(n_trees, "depths", u32::from_le_bytes)?;
    let arena = OwnedArena {
        n_features,
        n_classes,
        roots,
        tree_nodes: r.items(per_tree, "tree node offsets", u32::from_le_bytes)?,
        tree_leaves: r.items(per_tree, "tree leaf offsets", u32::from_le_bytes)?,
        feature: r.items(n_nodes, "feature", u32::from_le_bytes)?,
        threshold: r.items(n_nodes, "threshold", f32::from_le_bytes)?,
        left: r.items(n_nodes, "left", i32::from_le_bytes)?,
        right: r.items(n_nodes, "right", i32::from_le_bytes)?,
        leaf_proba: r.items(n_proba, "leaf probabilities", f32::from_le_bytes)?,
    };
    // The rest (training statistics) is not needed; what was read must agree with what the
    // forest says about itself, or the layout was misread.
    let said = (
        forest.n_trees(),
        forest.n_nodes(),
        Classifier::n_features(forest),
        Classifier::n_classes(forest),
    );
    let read = (n_trees, n_nodes + n_leaves, n_features, n_classes);
    if said != read {
        return Err(bad(format!(
            "read (trees, nodes, features, classes) = {read:?} from the model file, but the \
             forest reports {said:?}"
        )));
    }
    check(&arena.view())?;
    Ok(arena)
}

/// Checks what the exporter relies on, so that a bad arena is an error and never an
/// out-of-bounds index: array lengths agree, tree ranges cover the arrays in order, every
/// child lies inside its own tree, every feature is `< n_features`, probabilities are finite.
/// (That every tree is a tree — each node reached once — is checked while numbering nodes.)
pub(crate) fn check(a: &ForestArena<'_>) -> Result<()> {
    let t = a.n_trees();
    let nn = a.feature.len();
    let nl = a.tree_leaves.last().map_or(0, |&v| v as usize);
    if t == 0 || a.n_classes == 0 || a.n_features == 0 {
        return Err(bad("a forest needs at least one tree, class and feature"));
    }
    if a.tree_nodes.len() != t + 1 || a.tree_leaves.len() != t + 1 {
        return Err(bad("per-tree offsets disagree with the number of trees"));
    }
    if a.threshold.len() != nn || a.left.len() != nn || a.right.len() != nn {
        return Err(bad("split-node arrays have different lengths"));
    }
    if Some(a.leaf_proba.len()) != nl.checked_mul(a.n_classes) {
        return Err(bad("leaf probabilities disagree with the number of leaves"));
    }
    if a.tree_nodes.first() != Some(&0)
        || a.tree_leaves.first() != Some(&0)
        || a.tree_nodes.last().map(|&v| v as usize) != Some(nn)
    {
        return Err(bad("tree offsets do not cover the arena"));
    }
    for tr in 0..t {
        let (ns, ne) = (a.tree_nodes[tr] as i64, a.tree_nodes[tr + 1] as i64);
        let (ls, le) = (a.tree_leaves[tr] as i64, a.tree_leaves[tr + 1] as i64);
        if ns > ne || ls >= le {
            return Err(bad(format!("tree {tr} has an empty or reversed range")));
        }
        let inside = |c: i32| {
            if c >= 0 {
                (ns..ne).contains(&i64::from(c))
            } else {
                (ls..le).contains(&i64::from(!c))
            }
        };
        if !inside(a.roots[tr]) {
            return Err(bad(format!("tree {tr} has its root outside the tree")));
        }
        for i in ns as usize..ne as usize {
            if a.feature[i] as usize >= a.n_features {
                return Err(bad(format!(
                    "node {i} splits on feature {} of {}",
                    a.feature[i], a.n_features
                )));
            }
            if !inside(a.left[i]) || !inside(a.right[i]) {
                return Err(bad(format!("node {i} has a child outside its tree")));
            }
        }
    }
    if a.leaf_proba.iter().any(|p| !p.is_finite()) {
        return Err(bad("a leaf probability is not finite"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;
    use obesity_forest::ForestParams;

    fn forest() -> (RandomForest, Array2<f32>) {
        let x = Array2::from_shape_fn((60, 3), |(r, c)| ((r * 7 + c * 13) % 17) as f32);
        let y = ndarray::Array1::from_shape_fn(60, |r| (r * 5 % 11) % 3);
        let params = ForestParams::builder()
            .n_estimators(6)
            .seed(9)
            .build()
            .unwrap();
        (
            RandomForest::fit(&params, x.view(), y.view(), 3).unwrap(),
            x,
        )
    }

    /// Walking the decoded arena as its docs say gives the forest's own reference
    /// probabilities: the shim reads the layout right.
    #[test]
    fn the_decoded_arena_predicts_what_the_forest_predicts() {
        let (forest, x) = forest();
        let owned = decode(&forest).unwrap();
        let a = owned.view();
        assert_eq!(a.n_trees(), 6);
        let want = forest.predict_proba_reference(x.view()).unwrap();
        for (r, row) in x.rows().into_iter().enumerate() {
            let mut sum = [0.0f32; 3];
            for t in 0..a.n_trees() {
                let mut n = a.roots[t];
                while n >= 0 {
                    let i = n as usize;
                    n = if row[a.feature[i] as usize] <= a.threshold[i] {
                        a.left[i]
                    } else {
                        a.right[i]
                    };
                }
                let leaf = !n as usize;
                for (s, p) in sum.iter_mut().zip(&a.leaf_proba[leaf * 3..leaf * 3 + 3]) {
                    *s += p;
                }
            }
            for c in 0..3 {
                assert_eq!((sum[c] / 6.0).to_bits(), want[[r, c]].to_bits());
            }
        }
    }

    /// Each broken invariant is an error naming it, never a panic later.
    #[test]
    fn a_broken_arena_is_an_error() {
        let (forest, _) = forest();
        let good = decode(&forest).unwrap();
        assert!(check(&good.view()).is_ok());
        type Breaker = Box<dyn Fn(&mut OwnedArena)>;
        let cases: Vec<(&str, Breaker)> = vec![
            ("feature 3 of 3", Box::new(|a| a.feature[0] = 3)),
            ("child outside its tree", Box::new(|a| a.left[0] = i32::MAX)),
            (
                "child outside its tree",
                Box::new(|a| a.right[0] = !i32::MAX),
            ),
            ("root outside", Box::new(|a| a.roots[1] = 0)),
            ("not finite", Box::new(|a| a.leaf_proba[0] = f32::NAN)),
            (
                "different lengths",
                Box::new(|a| {
                    a.threshold.pop();
                }),
            ),
            (
                "number of leaves",
                Box::new(|a| {
                    a.leaf_proba.pop();
                }),
            ),
            (
                "number of trees",
                Box::new(|a| {
                    a.tree_nodes.pop();
                }),
            ),
            (
                "at least one tree",
                Box::new(|a| *a = OwnedArena::default()),
            ),
        ];
        for (want, break_it) in cases {
            let mut a = good.clone();
            break_it(&mut a);
            let err = check(&a.view()).unwrap_err().to_string();
            assert!(err.contains(want), "{want}: {err}");
        }
    }
}
