//! Binary model files: an envelope shared by every model of this crate, and the random
//! forest's payload.
//!
//! Envelope (all integers little-endian):
//!
//! | offset | bytes | content |
//! |---|---|---|
//! | 0 | 8 | magic: `OBFOREST` (random forest) or `OBLINFDT` (linfa decision tree) |
//! | 8 | 4 | format version (`u32`, currently 1) |
//! | 12 | 8 | payload length `n` (`u64`) |
//! | 20 | n | payload |
//! | 20 + n | 4 | CRC32 (IEEE, `crc32fast`) of bytes `0 .. 20 + n` |
//!
//! Forest payload: the parameters as JSON (`u32` length + UTF-8), `n_features`, `n_classes`,
//! `n_trees`, `n_nodes`, `n_leaves` (`u64` each), an OOB flag (`u8`) and score (`f64`), then
//! the arena's arrays in the order of [`FlatForest`]'s fields.
//!
//! The checksum only catches accidents: a file edited and resealed passes it. So nothing read
//! is trusted. The counts are checked on their own and against the payload (the arrays they
//! announce must fill exactly the bytes left) before anything is allocated, and the arena
//! against every invariant prediction relies on ([`FlatForest::validate`]): a file either
//! fails to load with an error naming the field, its value and what was expected, or loads a
//! forest whose every prediction is a probability distribution.
//!
//! This floor sits beside the arena: it turns parameters, arena and out-of-bag score into
//! bytes and back, and knows neither the model built on them nor training or prediction.

use crate::envelope::{Reader, describe_header, open, seal};
use crate::error::{ModelError, Result};
use crate::flat::{FlatForest, check_counts};
use crate::params::ForestParams;
use crate::validate::bad_field;

/// Header of a random forest file.
pub(crate) const FOREST_MAGIC: &[u8; 8] = b"OBFOREST";
/// Header of a linfa decision tree file.
pub(crate) const LINFA_MAGIC: &[u8; 8] = b"OBLINFDT";
fn put<T: Copy, const N: usize>(out: &mut Vec<u8>, v: &[T], to: fn(T) -> [u8; N]) {
    out.reserve(v.len() * N);
    for &x in v {
        out.extend_from_slice(&to(x));
    }
}

/// A forest's file: its parameters, arena and out-of-bag score, sealed.
pub(crate) fn forest_to_bytes(
    params: &ForestParams,
    f: &FlatForest,
    oob_score: Option<f64>,
) -> Result<Vec<u8>> {
    // `n_threads` is how the model was trained, not what it is: it is not stored, so the
    // same seed gives the same bytes whatever the thread count (and the instruction set is
    // never serialized at all).
    let stored = ForestParams::builder_from(params)
        .n_threads(None)
        .isa(None)
        .build()?;
    let json = serde_json::to_vec(&stored).map_err(|e| ModelError::Backend {
        library: "serde_json",
        message: e.to_string(),
    })?;
    let mut p = Vec::new();
    p.extend_from_slice(&(json.len() as u32).to_le_bytes());
    p.extend_from_slice(&json);
    for v in [
        f.n_features,
        f.n_classes,
        f.n_trees(),
        f.feature.len(),
        f.leaf_samples.len(),
    ] {
        p.extend_from_slice(&(v as u64).to_le_bytes());
    }
    p.push(u8::from(oob_score.is_some()));
    p.extend_from_slice(&oob_score.unwrap_or(0.0).to_le_bytes());
    put(&mut p, &f.roots, i32::to_le_bytes);
    put(&mut p, &f.depths, u32::to_le_bytes);
    put(&mut p, &f.tree_nodes, u32::to_le_bytes);
    put(&mut p, &f.tree_leaves, u32::to_le_bytes);
    put(&mut p, &f.feature, u32::to_le_bytes);
    put(&mut p, &f.threshold, f32::to_le_bytes);
    put(&mut p, &f.left, i32::to_le_bytes);
    put(&mut p, &f.right, i32::to_le_bytes);
    put(&mut p, &f.leaf_proba, f32::to_le_bytes);
    put(&mut p, &f.node_impurity, f64::to_le_bytes);
    put(&mut p, &f.node_weight, f64::to_le_bytes);
    put(&mut p, &f.node_samples, u32::to_le_bytes);
    put(&mut p, &f.leaf_impurity, f64::to_le_bytes);
    put(&mut p, &f.leaf_weight, f64::to_le_bytes);
    put(&mut p, &f.leaf_samples, u32::to_le_bytes);
    Ok(seal(FOREST_MAGIC, &p))
}

/// Bytes of the arrays after the header fields, for these counts (`u128`: no overflow for
/// any `u64` counts [`check_counts`] lets through).
fn arrays_len(n_trees: u64, n_nodes: u64, n_leaves: u64, n_classes: u64) -> u128 {
    let (t, nn, nl, k) = (
        u128::from(n_trees),
        u128::from(n_nodes),
        u128::from(n_leaves),
        u128::from(n_classes),
    );
    // roots, depths; node and leaf offsets; feature, threshold, left, right, impurity,
    // weight, samples; probabilities; leaf impurity, weight, samples.
    t * (4 + 4)
        + (t + 1) * (4 + 4)
        + nn * (4 + 4 + 4 + 4 + 8 + 8 + 4)
        + nl * k * 4
        + nl * (8 + 8 + 4)
}

/// Reads a forest's file back into its parameters, (validated) arena and out-of-bag score.
pub(crate) fn forest_from_bytes(bytes: &[u8]) -> Result<(ForestParams, FlatForest, Option<f64>)> {
    let payload = open(bytes, FOREST_MAGIC, "random_forest")?;
    let mut r = Reader {
        buf: payload,
        pos: 0,
    };
    let json_len = r.u32("parameter length")? as usize;
    let json = r.take(json_len, "parameters")?;
    let params: ForestParams = serde_json::from_slice(json).map_err(|e| ModelError::Corrupt {
        reason: format!("parameters: {e}"),
    })?;
    if let Some(n) = params.n_threads() {
        // Never written (see `forest_to_bytes`); a loaded model that later refits must not
        // start whatever number of threads a file says.
        return Err(bad_field(
            "parameter n_threads",
            n,
            "None (model files do not store it)",
        ));
    }
    let n_features = r.u64("n_features")?;
    let n_classes = r.u64("n_classes")?;
    let n_trees = r.u64("n_trees")?;
    let n_nodes = r.u64("n_nodes")?;
    let n_leaves = r.u64("n_leaves")?;
    let has_oob = r.array::<1>("oob flag")?[0];
    let oob = f64::from_le_bytes(r.array("oob score")?);
    // Every count is checked, and the arrays it sizes are checked to fill exactly the rest
    // of the payload, before anything is allocated: no count from the file can make the
    // reader (or the kernel built from the arena) allocate more than the file's size, bar
    // the per-feature tables `MAX_FEATURES` bounds.
    check_counts(n_features, n_classes, n_trees, n_nodes, n_leaves)?;
    if n_trees != params.n_estimators() as u64 {
        return Err(bad_field(
            "n_trees",
            n_trees,
            format!("{}, the parameters' n_estimators", params.n_estimators()),
        ));
    }
    let oob_score = match has_oob {
        0 if oob.to_bits() == 0 => None,
        0 => {
            return Err(bad_field(
                "oob score",
                oob,
                "0 (the flag says no score is stored)",
            ));
        }
        1 if !params.oob_score() => {
            return Err(bad_field(
                "oob flag",
                1,
                "0 (the parameters did not ask for an out-of-bag score)",
            ));
        }
        1 if (0.0..=1.0).contains(&oob) => Some(oob),
        1 => return Err(bad_field("oob score", oob, "an accuracy in [0, 1]")),
        v => return Err(bad_field("oob flag", v, "0 or 1")),
    };
    let need = arrays_len(n_trees, n_nodes, n_leaves, n_classes);
    let left = payload.len() - r.pos;
    if need != left as u128 {
        return Err(bad_field(
            "arrays' length",
            format!(
                "{need} bytes (n_trees = {n_trees}, n_nodes = {n_nodes}, n_leaves = \
                 {n_leaves}, n_classes = {n_classes})"
            ),
            format!("the {left} bytes left in the payload"),
        ));
    }
    // Each count is below 2^31 + 1 (`check_counts`) and the arrays fit the payload: the
    // conversions are exact and no read below can fail.
    let [n_features, n_classes, n_trees, n_nodes, n_leaves] =
        [n_features, n_classes, n_trees, n_nodes, n_leaves].map(|v| v as usize);
    let flat = FlatForest {
        n_features,
        n_classes,
        roots: r.items(n_trees, "roots", i32::from_le_bytes)?,
        depths: r.items(n_trees, "depths", u32::from_le_bytes)?,
        tree_nodes: r.items(n_trees + 1, "tree node offsets", u32::from_le_bytes)?,
        tree_leaves: r.items(n_trees + 1, "tree leaf offsets", u32::from_le_bytes)?,
        feature: r.items(n_nodes, "feature", u32::from_le_bytes)?,
        threshold: r.items(n_nodes, "threshold", f32::from_le_bytes)?,
        left: r.items(n_nodes, "left", i32::from_le_bytes)?,
        right: r.items(n_nodes, "right", i32::from_le_bytes)?,
        leaf_proba: r.items(
            n_leaves * n_classes,
            "leaf probabilities",
            f32::from_le_bytes,
        )?,
        node_impurity: r.items(n_nodes, "node impurity", f64::from_le_bytes)?,
        node_weight: r.items(n_nodes, "node weight", f64::from_le_bytes)?,
        node_samples: r.items(n_nodes, "node samples", u32::from_le_bytes)?,
        leaf_impurity: r.items(n_leaves, "leaf impurity", f64::from_le_bytes)?,
        leaf_weight: r.items(n_leaves, "leaf weight", f64::from_le_bytes)?,
        leaf_samples: r.items(n_leaves, "leaf samples", u32::from_le_bytes)?,
    };
    debug_assert_eq!(r.pos, payload.len());
    flat.validate()?;
    Ok((params, flat, oob_score))
}

/// The kinds of model file this crate writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ModelKind {
    /// `OBFOREST`: a random forest.
    Forest,
    /// `OBLINFDT`: a linfa decision tree.
    Linfa,
}

/// Which model a file holds, by its header (the rest is checked by that model's reader).
pub(crate) fn model_kind(bytes: &[u8]) -> Result<ModelKind> {
    match bytes.get(..8) {
        Some(m) if m == FOREST_MAGIC => Ok(ModelKind::Forest),
        Some(m) if m == LINFA_MAGIC => Ok(ModelKind::Linfa),
        Some(m) => Err(ModelError::UnknownFormat {
            found: describe_header(m),
            known: "OBFOREST, OBLINFDT".into(),
        }),
        None => Err(ModelError::Truncated {
            what: "magic",
            needed: 8,
            offset: 0,
            available: bytes.len(),
        }),
    }
}
