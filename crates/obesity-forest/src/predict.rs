//! Prediction kernels over a layout derived from the arena (built once per model, never
//! persisted): each tree's split nodes as 16-byte records `{feature, threshold, children}`
//! followed by its leaves as self-loops (`threshold = +inf`, both children pointing at
//! themselves). A row that reaches a leaf stays there, so several rows can walk a tree in
//! lockstep with a branch-free child choice (`children[(x > threshold) as usize]`) and the
//! loop only asks "has every row of the group arrived?".
//!
//! Two kernels, chosen by size (see docs/benchmarks.md):
//! - row-major ([`Kernel::row`]): one row through all trees, for single rows and tiny
//!   batches; allocates nothing.
//! - tree-major over blocks ([`Kernel::batch`]): a block of rows walks one tree at a time,
//!   in lockstep groups of [`GROUP`] rows, accumulating into the block's probability rows;
//!   blocks run in parallel with rayon on large inputs.

use rayon::prelude::*;

use crate::flat::FlatForest;

/// Rows walked through a tree in lockstep.
pub(crate) const GROUP: usize = 8;
/// Rows per block of the tree-major kernel.
pub(crate) const BLOCK: usize = 128;
/// Below this many rows the row-major kernel is used.
pub(crate) const ROW_MAJOR_BELOW: usize = 16;
/// From this many rows, blocks are spread over rayon's pool.
pub(crate) const PARALLEL_FROM: usize = 2048;

/// Marks a leaf whose probabilities are not one-hot.
const IMPURE: u32 = u32::MAX;

#[derive(Debug, Clone, Copy, PartialEq)]
struct WalkNode {
    feature: u32,
    threshold: f32,
    children: [u32; 2],
}

/// The prediction layout of a forest.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Kernel {
    n_features: usize,
    n_classes: usize,
    nodes: Vec<WalkNode>,
    roots: Vec<u32>,
    /// Per tree: first walk position that is a leaf.
    leaf_base: Vec<u32>,
    /// Per tree: walk position minus this is the global leaf index.
    leaf_delta: Vec<u32>,
    /// Leaf probabilities divided by the number of trees, so sums need no final scaling.
    proba: Vec<f32>,
    /// Row stride of the block buffer: `n_features` rounded up to a power of two, so the
    /// feature lookup is masked instead of bounds-checked.
    stride: usize,
    /// `1 / n_trees`.
    scale: f32,
}

impl Kernel {
    /// Builds the layout from a validated arena.
    pub(crate) fn new(f: &FlatForest) -> Self {
        let n_trees = f.n_trees();
        let scale = 1.0 / n_trees as f32;
        let mut k = Kernel {
            n_features: f.n_features,
            n_classes: f.n_classes,
            nodes: Vec::with_capacity(f.feature.len() + f.leaf_samples.len()),
            proba: f.leaf_proba.iter().map(|p| p * scale).collect(),
            ..Default::default()
        };
        for t in 0..n_trees {
            let (ns, ne) = (f.tree_nodes[t] as usize, f.tree_nodes[t + 1] as usize);
            let (ls, le) = (f.tree_leaves[t] as usize, f.tree_leaves[t + 1] as usize);
            let base = k.nodes.len() as u32;
            let leaf_base = base + (ne - ns) as u32;
            let map = |c: i32| -> u32 {
                if c >= 0 {
                    base + (c as u32 - ns as u32)
                } else {
                    leaf_base + (!c as u32 - ls as u32)
                }
            };
            k.roots.push(map(f.roots[t]));
            k.leaf_base.push(leaf_base);
            k.leaf_delta.push(leaf_base - ls as u32);
            for i in ns..ne {
                k.nodes.push(WalkNode {
                    feature: f.feature[i],
                    threshold: f.threshold[i],
                    children: [map(f.left[i]), map(f.right[i])],
                });
            }
            for l in 0..(le - ls) {
                let me = leaf_base + l as u32;
                let p = &f.leaf_proba[(ls + l) * f.n_classes..(ls + l + 1) * f.n_classes];
                // A leaf's `feature` (never read by the walk: the lookup is masked) carries
                // its class when the leaf is pure, which fully grown trees' leaves almost
                // always are: one add instead of `n_classes`.
                let pure = p.iter().filter(|&&v| v != 0.0).count() == 1;
                let class = p.iter().position(|&v| v == 1.0).filter(|_| pure);
                k.nodes.push(WalkNode {
                    feature: class.map_or(IMPURE, |c| c as u32),
                    threshold: f32::INFINITY,
                    children: [me, me],
                });
            }
        }
        // Pad to a power of two so `nodes[w & (len - 1)]` needs no bounds check (the mask
        // is the identity on valid indices).
        let len = k.nodes.len().next_power_of_two();
        k.nodes.resize(
            len,
            WalkNode {
                feature: 0,
                threshold: f32::INFINITY,
                children: [0, 0],
            },
        );
        k.stride = f.n_features.next_power_of_two();
        k.scale = scale;
        k
    }

    /// Adds leaf `w` (a walk position) of the tree with `delta` into `out`.
    #[inline(always)]
    fn add_leaf(&self, w: u32, delta: u32, out: &mut [f32]) {
        let class = self.nodes[w as usize & (self.nodes.len() - 1)].feature;
        if let Some(o) = out.get_mut(class as usize) {
            *o += self.scale;
        } else {
            let k = self.n_classes;
            let leaf = (w - delta) as usize;
            for (o, p) in out.iter_mut().zip(&self.proba[leaf * k..(leaf + 1) * k]) {
                *o += p;
            }
        }
    }

    /// Adds the forest's probabilities for one row into `out` (which the caller zeroed).
    /// Allocates nothing.
    #[inline]
    pub(crate) fn row(&self, row: &[f32], out: &mut [f32]) {
        let mask = self.nodes.len() - 1;
        for ((&root, &lb), &delta) in self.roots.iter().zip(&self.leaf_base).zip(&self.leaf_delta) {
            let mut w = root;
            while w < lb {
                let nd = &self.nodes[w as usize & mask];
                w = nd.children[usize::from(row[nd.feature as usize] > nd.threshold)];
            }
            self.add_leaf(w, delta, out);
        }
    }

    /// Probabilities of a row-major matrix `x` (`n_rows × n_features`) into `out`
    /// (`n_rows × n_classes`, zeroed).
    pub(crate) fn batch(&self, x: &[f32], out: &mut [f32]) {
        let (f, k) = (self.n_features, self.n_classes);
        let n_rows = x.len() / f;
        if n_rows < ROW_MAJOR_BELOW {
            for (r, o) in x.chunks_exact(f).zip(out.chunks_exact_mut(k)) {
                self.row(r, o);
            }
        } else if n_rows < PARALLEL_FROM {
            for (xb, ob) in x.chunks(BLOCK * f).zip(out.chunks_mut(BLOCK * k)) {
                self.block(xb, ob);
            }
        } else {
            x.par_chunks(BLOCK * f)
                .zip(out.par_chunks_mut(BLOCK * k))
                .for_each(|(xb, ob)| self.block(xb, ob));
        }
    }

    /// Tree-major walk of one block of rows, in lockstep groups of [`GROUP`] rows.
    ///
    /// Measured alternatives (docs/benchmarks.md): a branchy per-row walk of the same block
    /// is about 3× slower (branch mispredictions), groups of 4 or 16 rows are slower than 8.
    fn block(&self, xb: &[f32], ob: &mut [f32]) {
        self.block_lockstep::<GROUP>(xb, ob);
    }

    fn block_lockstep<const G: usize>(&self, xb: &[f32], ob: &mut [f32]) {
        let (f, k, stride) = (self.n_features, self.n_classes, self.stride);
        let n = xb.len() / f;
        // Copy the block into rows of a power-of-two stride (zero padded).
        let mut buf = vec![0.0f32; n.div_ceil(G) * G * stride];
        for (d, s) in buf.chunks_exact_mut(stride).zip(xb.chunks_exact(f)) {
            d[..f].copy_from_slice(s);
        }
        let mask = self.nodes.len() - 1;
        let nodes = &self.nodes[..=mask];
        for ((&root, &lb), &delta) in self.roots.iter().zip(&self.leaf_base).zip(&self.leaf_delta) {
            for (g, og) in buf.chunks_exact(G * stride).zip(ob.chunks_mut(G * k)) {
                // `g.len()` is a power of two: masked offsets need no bounds check.
                let gmask = g.len() - 1;
                let smask = stride - 1;
                let mut idx = [root; G];
                loop {
                    let mut done = true;
                    for (j, w) in idx.iter_mut().enumerate() {
                        let nd = &nodes[*w as usize & mask];
                        let v = g[(j * stride + (nd.feature as usize & smask)) & gmask];
                        *w = nd.children[usize::from(v > nd.threshold)];
                        done &= *w >= lb;
                    }
                    if done {
                        break;
                    }
                }
                // The last group may be partial: `og` then has fewer rows than `idx`.
                for (o, &w) in og.chunks_exact_mut(k).zip(&idx) {
                    self.add_leaf(w, delta, o);
                }
            }
        }
    }
}
