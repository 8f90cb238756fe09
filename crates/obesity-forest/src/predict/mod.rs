//! Prediction kernels over a layout derived from the arena (built once per model, never
//! persisted): each tree's split nodes as 16-byte records `{feature, threshold, children}`
//! followed by its leaves as self-loops (`threshold = +inf`, both children pointing at
//! themselves), so a row that reaches a leaf can keep "walking" without moving.
//!
//! Four kernels, chosen by batch size and instruction set (measured crossovers in
//! docs/forest-kernels.md):
//! - row-major ([`Kernel::row`]): one row through all trees, for single rows and tiny
//!   batches; allocates nothing.
//! - lockstep ([`Kernel::block_lockstep`]): blocks of [`BLOCK`] rows walk one tree at a time,
//!   [`GROUP`] rows in lockstep with a branch-free child choice
//!   (`children[(x > threshold) as usize]`); the best for up to a few hundred rows.
//! - bitset ([`bits`], from [`bits_from`] rows: 512 with SSE2, AVX2 or AVX-512, 1,024
//!   portable): values become their ranks among the forest's thresholds ([`cuts`]),
//!   rows are ordered by the leaf they reach in the first tree, and each node splits its rows
//!   as 64-row bit words, a few vector compares (or, for one-bit codes, one AND) per word.
//!   About 4× faster than routing on the UCI batch with AVX2 or AVX-512.
//! - routing ([`Kernel::block_routed`]): from [`ROUTE_FROM`] rows when the bitset kernel
//!   declines (trees with more nodes than the batch has rows, or a feature with more than
//!   65,535 thresholds), each tree partitions the block's row indices node by node, as
//!   training partitions rows: every row costs its own depth, and the per-row work is a
//!   streaming gather-compare-split (AVX2, or a portable loop). Also the out-of-bag pass.
//!
//! The instruction set is the kernel's [`Supported`] level, which any forest can be forced to
//! (see [`crate::Isa`]); every level runs every kernel, each with its widest loops.
//!
//! All four add each tree's leaf into a row's output in tree order (or, for the bitset
//! kernel's vote counts, an equal sum), so a row's probabilities are bit-identical whichever
//! kernel, block size or thread count ran.

use std::sync::OnceLock;

use rayon::prelude::*;

use crate::flat::FlatForest;
use crate::isa::{Isa, Supported};
use cuts::Cuts;
use partition::{partition, partition_dense};

mod bits;
mod cuts;
mod partition;

/// Rows walked through a tree in lockstep.
pub(crate) const GROUP: usize = 8;
/// Widest row the single-row kernel walks several trees at a time for (a power of two).
pub(crate) const ROW_LANES: usize = 64;
/// Rows per block of the lockstep kernel.
pub(crate) const BLOCK: usize = 128;
/// Below this many rows the row-major kernel is used.
pub(crate) const ROW_MAJOR_BELOW: usize = 16;
/// From this many rows the routing kernel is used (below, lockstep is faster: routing pays a
/// column-major copy and a per-node cost that few rows do not amortise).
pub(crate) const ROUTE_FROM: usize = 512;
/// Largest block of the routing kernel (its row indices are `u32`, but bigger blocks only
/// cost cache).
pub(crate) const ROUTE_MAX: usize = 65_536;
/// Scratch budget of one routing block, in 4-byte words: it copies the block column-major
/// and keeps three index lists (`rows × (features + 3)` words). 64 MiB per thread.
pub(crate) const ROUTE_SCRATCH_WORDS: usize = 1 << 24;

/// Rows per routing block for `n_rows` rows of `n_features` on `threads` threads, for trees
/// of `nodes_per_tree` nodes (splits and leaves) on average: one block per thread (bounded
/// by [`ROUTE_MAX`] and the scratch budget), so the per-node cost and the parallel split are
/// as coarse as the batch allows. `None` when the lockstep kernel should run instead: fewer
/// than [`ROUTE_FROM`] rows, rows so wide that a block of [`ROUTE_FROM`] rows would exceed
/// the budget, or blocks with fewer than 1.5 rows per node, where visiting nodes that hold
/// one row or none costs more than the gathers save (measured: on the UCI forest, about 350
/// nodes per tree, the kernels break even at about 512 rows).
pub(crate) fn route_block(
    n_rows: usize,
    n_features: usize,
    threads: usize,
    nodes_per_tree: usize,
) -> Option<usize> {
    if n_rows < ROUTE_FROM {
        return None;
    }
    let block = block_within_budget(n_rows, n_features, threads, ROUTE_FROM);
    (block >= ROUTE_FROM && 2 * block >= 3 * nodes_per_tree).then_some(block)
}

/// One block of rows per thread, at least `min` (and 1) rows, at most [`ROUTE_MAX`] and what
/// the scratch budget allows for `n_features`-wide rows (the budget wins over `min`).
fn block_within_budget(n_rows: usize, n_features: usize, threads: usize, min: usize) -> usize {
    n_rows
        .div_ceil(threads.max(1))
        .clamp(min.max(1), ROUTE_MAX)
        .min(ROUTE_SCRATCH_WORDS / (n_features + 3))
        .max(1)
}

/// Fewest rows the bitset kernel takes with AVX-512 or AVX2 (measured on the UCI forest, 253
/// nodes per tree, predicting 21,150 rows in chunks with AVX-512: 256-row chunks 41.7 ms
/// against 34.3 ms for the other kernels, 512-row chunks 27.1 against 32.9 ms).
pub(crate) const BITS_FROM: usize = 512;

/// Fewest rows the bitset kernel takes on `isa`. The portable loops split a word at a
/// higher cost, which small blocks (few rows per word) pay more often: the UCI batch in
/// chunks took 28.7-29.2 ms in 512-row chunks and 18.1-18.6 ms in 1,024-row chunks against
/// 27.3 ms for the lockstep kernel; with SSE2, 24-25 ms in 512-row chunks already (see
/// docs/forest-kernels.md).
pub(crate) fn bits_from(isa: Supported) -> usize {
    match isa.get() {
        Isa::Portable => 2 * BITS_FROM,
        _ => BITS_FROM,
    }
}
/// Largest block of the bitset kernel (bigger blocks group rows better, fewer blocks pay the
/// per-node cost less often: the UCI batch as one block of 21,150 rows took 4.3 ms, as two of
/// 10,575 rows 4.8 ms, on one thread).
pub(crate) const BITS_MAX: usize = 65_536;
/// Scratch budget of one bitset block in bytes: codes (up to 2 per value), one sum or count
/// per class (up to 4 bytes) and 16 bytes of order and row-set entries per row. 64 MiB.
pub(crate) const BITS_SCRATCH_BYTES: usize = 1 << 26;

/// Which rows each tree of a routed block sees (see [`Kernel::add_oob`]).
#[derive(Clone, Copy)]
struct RowFilter<'a> {
    /// Per tree, one bit per row of the whole input.
    bits: &'a [Vec<u64>],
    /// Index in the whole input of the block's first row.
    first_row: usize,
}

/// Marks a leaf whose probabilities are not one-hot.
const IMPURE: u32 = u32::MAX;

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct WalkNode {
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
    /// Per tree: its first walk position (its split nodes run from there to `leaf_base`).
    tree_start: Vec<u32>,
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
    /// The instruction set of the SIMD loops (routing's partition, the bitset kernel's).
    isa: Supported,
    /// Mean nodes (splits and leaves) per tree: decides between routing and lockstep.
    nodes_per_tree: usize,
    /// The bitset kernel's cuts (`None` when a feature has too many for `u16` codes), built
    /// by the first batch that takes the kernel: a fit or a load that never predicts such a
    /// batch does not pay for them.
    cuts: OnceLock<Option<Cuts>>,
    /// Every leaf holds a single class (fully grown trees): the bitset kernel counts votes.
    all_pure: bool,
}

impl Kernel {
    /// Builds the layout from a validated arena, for the instruction set `isa`.
    pub(crate) fn new(f: &FlatForest, isa: Supported) -> Self {
        let n_trees = f.n_trees();
        let scale = 1.0 / n_trees as f32;
        let mut k = Kernel {
            n_features: f.n_features,
            n_classes: f.n_classes,
            nodes: Vec::with_capacity(f.feature.len() + f.leaf_samples.len()),
            proba: f.leaf_proba.iter().map(|p| p * scale).collect(),
            all_pure: true,
            ..Default::default()
        };
        for t in 0..n_trees {
            let (ns, ne) = (f.tree_nodes[t] as usize, f.tree_nodes[t + 1] as usize);
            let (ls, le) = (f.tree_leaves[t] as usize, f.tree_leaves[t + 1] as usize);
            let base = k.nodes.len() as u32;
            let leaf_base = base + (ne - ns) as u32;
            // Branch-free: whether a child is a leaf is a coin flip in fully grown trees.
            let map = |c: i32| -> u32 {
                std::hint::select_unpredictable(
                    c >= 0,
                    base.wrapping_add((c as u32).wrapping_sub(ns as u32)),
                    leaf_base.wrapping_add((!c as u32).wrapping_sub(ls as u32)),
                )
            };
            k.roots.push(map(f.roots[t]));
            k.tree_start.push(base);
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
                // Branch-free over the classes (which class a leaf holds is unpredictable).
                let (mut nonzero, mut class) = (0u32, IMPURE);
                for (c, &v) in p.iter().enumerate() {
                    nonzero += u32::from(v != 0.0);
                    class = std::hint::select_unpredictable(v == 1.0, c as u32, class);
                }
                // A leaf whose only non-zero probability is not exactly 1 (it cannot be, for
                // a leaf holding one class) counts as impure too.
                k.all_pure &= nonzero == 1 && class != IMPURE;
                k.nodes.push(WalkNode {
                    feature: std::hint::select_unpredictable(nonzero == 1, class, IMPURE),
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
        k.isa = isa;
        k.nodes_per_tree = (f.feature.len() + f.leaf_samples.len()) / n_trees.max(1);

        k
    }

    /// Rows per block of the bitset kernel for `n_rows` rows on `threads` threads: one block
    /// per thread, between [`bits_from`] and [`BITS_MAX`] rows and within the scratch budget.
    /// `None` when the other kernels should run: a feature with more than 65,535 thresholds,
    /// fewer than [`bits_from`] rows or fewer rows than a tree has nodes (a
    /// block then visits many nodes for few rows: on a forest of 9,000-node trees, 10,000
    /// rows took 31 ms against 42 ms for the lockstep kernel), or rows too wide for the
    /// budget.
    pub(crate) fn bits_block(&self, n_rows: usize, threads: usize) -> Option<usize> {
        let from = bits_from(self.isa);
        if n_rows < from.max(self.nodes_per_tree) || self.cuts().is_none() {
            return None;
        }
        let per_row = 2 * self.n_features + 4 * self.n_classes + 16;
        let block = n_rows
            .div_ceil(threads.max(1))
            .clamp(from, BITS_MAX)
            .min(BITS_SCRATCH_BYTES / per_row);
        (block >= from).then_some(block)
    }

    /// The bitset kernel's cuts, built on first use (see [`Kernel::cuts`]'s field).
    fn cuts(&self) -> Option<&Cuts> {
        self.cuts.get_or_init(|| self.build_cuts(false)).as_ref()
    }

    /// The cuts of this layout's split nodes (`wide`: two-byte codes for every feature).
    fn build_cuts(&self, wide: bool) -> Option<Cuts> {
        let mut split = vec![false; self.nodes.len()];
        for (&s, &e) in self.tree_start.iter().zip(&self.leaf_base) {
            split[s as usize..e as usize].fill(true);
        }
        Cuts::new(&self.nodes, |w| split[w], self.n_features, wide)
    }

    /// Number of classes of the forest.
    pub(crate) fn n_classes(&self) -> usize {
        self.n_classes
    }

    /// The instruction set the kernels run.
    pub(crate) fn isa(&self) -> Supported {
        self.isa
    }

    /// Runs the kernels on another instruction set (the layout does not depend on it).
    pub(crate) fn set_isa(&mut self, isa: Supported) {
        self.isa = isa;
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
    ///
    /// One tree's walk is a chain of dependent loads (node, then feature value, then child):
    /// walking [`GROUP`] trees in lockstep overlaps those chains. The row is copied into a
    /// stack buffer of [`ROW_LANES`] values so a leaf's (meaningless) feature index can be
    /// masked instead of checked; wider rows walk one tree at a time.
    #[inline]
    pub(crate) fn row(&self, row: &[f32], out: &mut [f32]) {
        if row.len() > ROW_LANES {
            return self.row_one_tree_at_a_time(row, out);
        }
        let mut buf = [0.0f32; ROW_LANES];
        buf[..row.len()].copy_from_slice(row);
        let mask = self.nodes.len() - 1;
        let nodes = &self.nodes[..=mask];
        let trees = self.roots.len();
        let mut t = 0;
        while t + GROUP <= trees {
            let lb: [u32; GROUP] = std::array::from_fn(|j| self.leaf_base[t + j]);
            let mut idx: [u32; GROUP] = std::array::from_fn(|j| self.roots[t + j]);
            loop {
                let mut done = true;
                for (w, &lb) in idx.iter_mut().zip(&lb) {
                    let nd = &nodes[*w as usize & mask];
                    let v = buf[nd.feature as usize & (ROW_LANES - 1)];
                    *w = nd.children[usize::from(v > nd.threshold)];
                    done &= *w >= lb;
                }
                if done {
                    break;
                }
            }
            for (j, &w) in idx.iter().enumerate() {
                self.add_leaf(w, self.leaf_delta[t + j], out);
            }
            t += GROUP;
        }
        for t in t..trees {
            let w = self.walk(t, &buf);
            self.add_leaf(w, self.leaf_delta[t], out);
        }
    }

    /// Walks tree `t` for `row` and returns the leaf's walk position.
    #[inline(always)]
    fn walk(&self, t: usize, row: &[f32]) -> u32 {
        let mask = self.nodes.len() - 1;
        let lb = self.leaf_base[t];
        let mut w = self.roots[t];
        while w < lb {
            let nd = &self.nodes[w as usize & mask];
            w = nd.children[usize::from(row[nd.feature as usize] > nd.threshold)];
        }
        w
    }

    fn row_one_tree_at_a_time(&self, row: &[f32], out: &mut [f32]) {
        for t in 0..self.roots.len() {
            let w = self.walk(t, row);
            self.add_leaf(w, self.leaf_delta[t], out);
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
        } else if let Some(block) = self.bits_block(n_rows, rayon::current_num_threads()) {
            x.par_chunks(block * f)
                .zip(out.par_chunks_mut(block * k))
                .for_each(|(xb, ob)| self.block_bits(xb, ob));
        } else if let Some(block) =
            route_block(n_rows, f, rayon::current_num_threads(), self.nodes_per_tree)
        {
            x.par_chunks(block * f)
                .zip(out.par_chunks_mut(block * k))
                .for_each(|(xb, ob)| self.block_routed(xb, ob));
        } else if n_rows < ROUTE_FROM {
            for (xb, ob) in x.chunks(BLOCK * f).zip(out.chunks_mut(BLOCK * k)) {
                self.block_lockstep::<GROUP>(xb, ob);
            }
        } else {
            // Rows too wide for the routing kernel's scratch: lockstep blocks in parallel.
            x.par_chunks(BLOCK * f)
                .zip(out.par_chunks_mut(BLOCK * k))
                .for_each(|(xb, ob)| self.block_lockstep::<GROUP>(xb, ob));
        }
    }

    /// Out-of-bag votes (scikit-learn's `oob_decision_function_` before normalising): for
    /// every row `r` of the row-major `x` and every tree `t` with bit `r` set in `oob[t]`, adds
    /// tree `t`'s leaf probabilities (divided by the number of trees) into row `r` of `out`
    /// (`n_rows × n_classes`, zeroed). Routed as batches are, each tree with only its own
    /// out-of-bag rows, in parallel blocks on rayon's current pool.
    pub(crate) fn add_oob(&self, x: &[f32], oob: &[Vec<u64>], out: &mut [f32]) {
        let n_rows = x.len() / self.n_features;
        // About a third of the rows are out of bag for each tree.
        let threads = rayon::current_num_threads();
        match route_block(n_rows / 3, self.n_features, threads, self.nodes_per_tree) {
            Some(_) => self.oob_routed(x, oob, out),
            None => self.oob_walked(x, oob, out),
        }
    }

    /// [`Kernel::add_oob`] by routing, each tree with its own out-of-bag rows.
    fn oob_routed(&self, x: &[f32], oob: &[Vec<u64>], out: &mut [f32]) {
        let (f, k) = (self.n_features, self.n_classes);
        let n_rows = x.len() / f;
        assert_eq!(oob.len(), self.roots.len(), "one out-of-bag mask per tree");
        let block = block_within_budget(n_rows, f, rayon::current_num_threads(), 1);
        x.par_chunks(block * f)
            .zip(out.par_chunks_mut(block * k))
            .enumerate()
            .for_each(|(b, (xb, ob))| {
                let filter = RowFilter {
                    bits: oob,
                    first_row: b * block,
                };
                self.block_routed_filtered(xb, ob, Some(filter));
            });
    }

    /// [`Kernel::add_oob`] one row at a time, through its out-of-bag trees: for big trees
    /// (many nodes per out-of-bag row), where routing would mostly visit near-empty nodes.
    fn oob_walked(&self, x: &[f32], oob: &[Vec<u64>], out: &mut [f32]) {
        let (f, k) = (self.n_features, self.n_classes);
        assert_eq!(oob.len(), self.roots.len(), "one out-of-bag mask per tree");
        x.par_chunks(f)
            .zip(out.par_chunks_mut(k))
            .enumerate()
            .for_each(|(r, (row, o))| {
                for (t, bits) in oob.iter().enumerate() {
                    if bits[r / 64] >> (r % 64) & 1 == 1 {
                        let w = self.walk(t, row);
                        self.add_leaf(w, self.leaf_delta[t], o);
                    }
                }
            });
    }

    /// Routes a block's rows down each tree by partitioning their indices at every node, as
    /// training partitions rows: each row costs its own depth (no lockstep waiting for the
    /// deepest row of a group), the node's feature and threshold are loaded once per node
    /// rather than once per row, and the per-row work is a streaming loop without a
    /// dependency chain from one level to the next.
    pub(crate) fn block_routed(&self, xb: &[f32], ob: &mut [f32]) {
        self.block_routed_filtered(xb, ob, None);
    }

    /// [`Kernel::block_routed`], where tree `t` sees only the rows of the block whose bit is
    /// set in `filter.bits[t]` (bit `filter.first_row + i` for row `i` of the block), or every
    /// row without a filter.
    fn block_routed_filtered(&self, xb: &[f32], ob: &mut [f32], filter: Option<RowFilter<'_>>) {
        let (f, k) = (self.n_features, self.n_classes);
        let n = xb.len() / f;
        // Column-major copy of the block, each column padded to a power of two so the
        // partition can mask row indices instead of checking bounds.
        let p = n.next_power_of_two();
        let mut cols = vec![0.0f32; f * p];
        for (r, row) in xb.chunks_exact(f).enumerate() {
            for (j, &v) in row.iter().enumerate() {
                cols[j * p + r] = v;
            }
        }
        // Two index buffers: a node at even depth reads `bufs[0]` and writes its children's
        // rows into `bufs[1]`, at odd depth the other way round; a node's rows occupy the
        // same range `start..end` in both, owned by its subtree.
        let mut bufs = [vec![0u32; n], vec![0u32; n]];
        let mut right = vec![0u32; n];
        let mut stack: Vec<(u32, u32, u32, bool)> = Vec::with_capacity(64);
        let mask = self.nodes.len() - 1;
        let trees = self.roots.iter().zip(&self.leaf_base).zip(&self.leaf_delta);
        for (t, ((&root, &lb), &delta)) in trees.enumerate() {
            // Every tree starts from its rows afresh: a leaf's range keeps whatever its
            // ancestors left in the buffer it does not write, so the previous tree's contents
            // are stale.
            let m = match filter {
                // All rows, in order: the root reads its column contiguously, no gather.
                None if root < lb => {
                    let nd = self.nodes[root as usize & mask];
                    let f0 = nd.feature as usize * p;
                    let dst = &mut bufs[1][..n];
                    let nl =
                        partition_dense(self.isa, &cols[f0..f0 + n], nd.threshold, dst, &mut right);
                    dst[nl..].copy_from_slice(&right[..n - nl]);
                    if nl < n {
                        stack.push((nd.children[1], nl as u32, n as u32, true));
                    }
                    if nl > 0 {
                        stack.push((nd.children[0], 0, nl as u32, true));
                    }
                    0
                }
                None => {
                    for (v, i) in bufs[0].iter_mut().zip(0..) {
                        *v = i;
                    }
                    n
                }
                Some(RowFilter { bits, first_row }) => {
                    let mut m = 0;
                    for i in 0..n {
                        let r = first_row + i;
                        bufs[0][m] = i as u32;
                        m += usize::from(
                            bits[t].get(r / 64).is_some_and(|w| w >> (r % 64) & 1 == 1),
                        );
                    }
                    m
                }
            };
            if m > 0 {
                stack.push((root, 0, m as u32, false));
            }
            while let Some((w, s, e, odd)) = stack.pop() {
                let (s, e) = (s as usize, e as usize);
                let [a, b] = &mut bufs;
                let (src, dst) = if odd { (&*b, a) } else { (&*a, b) };
                let nd = self.nodes[w as usize & mask];
                if w >= lb {
                    let class = nd.feature as usize;
                    if class < k {
                        for &i in &src[s..e] {
                            if let Some(o) = ob.get_mut(i as usize * k + class) {
                                *o += self.scale;
                            }
                        }
                    } else {
                        let leaf = (w - delta) as usize;
                        let pr = &self.proba[leaf * k..(leaf + 1) * k];
                        for &i in &src[s..e] {
                            let i = i as usize;
                            for (o, p) in ob[i * k..(i + 1) * k].iter_mut().zip(pr) {
                                *o += p;
                            }
                        }
                    }
                    continue;
                }
                let col = &cols[nd.feature as usize * p..(nd.feature as usize + 1) * p];
                let dst = &mut dst[s..e];
                let nl = partition(self.isa, &src[s..e], col, nd.threshold, dst, &mut right);
                dst[nl..].copy_from_slice(&right[..e - s - nl]);
                let mid = s + nl;
                if mid < e {
                    stack.push((nd.children[1], mid as u32, e as u32, !odd));
                }
                if mid > s {
                    stack.push((nd.children[0], s as u32, mid as u32, !odd));
                }
            }
        }
    }

    /// Tree-major walk of one block of rows, in lockstep groups of `G` rows.
    ///
    /// Measured alternatives (docs/benchmarks-history.md): a branchy per-row walk of the same block
    /// is about 3× slower (branch mispredictions), groups of 4 or 16 rows are slower than 8.
    pub(crate) fn block_lockstep<const G: usize>(&self, xb: &[f32], ob: &mut [f32]) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ForestParams, RandomForest};
    use ndarray::{Array1, Array2};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn data(n: usize, f: usize, seed: u64) -> (Array2<f32>, Array1<usize>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        // Some coarse values (ties, thresholds hit exactly), some continuous, some 0/1 (one
        // threshold: the bitset kernel's one-bit codes).
        let x = Array2::from_shape_fn((n, f), |(_, j)| match j % 4 {
            0 | 2 => f32::from(rng.gen_range(0u8..5)),
            3 => f32::from(rng.gen_range(0u8..2)),
            _ => rng.gen_range(-2.0f32..2.0),
        });
        let y = x
            .rows()
            .into_iter()
            .map(|r| (((r[0] + r[1] * 2.0).abs() as usize) + usize::from(r[f - 1] > 0.5)) % 4)
            .collect();
        (x, y)
    }

    /// Out-of-bag votes equal the plain walk over each row's out-of-bag trees.
    #[test]
    fn oob_votes_match_the_reference_walk() {
        let (x, y) = data(400, 6, 8);
        let params = ForestParams::builder()
            .n_estimators(13)
            .seed(4)
            .build()
            .unwrap();
        let model = RandomForest::fit(&params, x.view(), y.view(), 4).unwrap();
        let flat = &model.flat;
        let (xs, _) = data(1_500, 6, 9);
        let n = xs.nrows();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let oob: Vec<Vec<u64>> = (0..flat.n_trees())
            .map(|_| (0..n.div_ceil(64)).map(|_| rng.r#gen::<u64>()).collect())
            .collect();
        let mut votes = vec![0.0f32; n * 4];
        model
            .kernel
            .add_oob(xs.as_slice().unwrap(), &oob, &mut votes);
        for (r, row) in xs.rows().into_iter().enumerate() {
            let row = row.to_vec();
            let mut expected = [0.0f32; 4];
            for (t, bits) in oob.iter().enumerate() {
                if bits[r / 64] >> (r % 64) & 1 == 1 {
                    let leaf = flat.leaf_of(t, &row);
                    for (e, p) in expected.iter_mut().zip(&flat.leaf_proba[leaf * 4..]) {
                        *e += p / flat.n_trees() as f32;
                    }
                }
            }
            let got = &votes[r * 4..(r + 1) * 4];
            assert!(
                got.iter().zip(expected).all(|(a, b)| (a - b).abs() < 1e-6),
                "row {r}"
            );
        }
    }

    #[test]
    fn routing_blocks_follow_threads_and_budget() {
        assert_eq!(route_block(ROUTE_FROM - 1, 32, 2, 300), None);
        assert_eq!(route_block(21_150, 32, 1, 300), Some(21_150));
        assert_eq!(route_block(21_150, 32, 2, 300), Some(10_575));
        assert_eq!(route_block(600, 32, 2, 300), Some(ROUTE_FROM));
        assert_eq!(route_block(10_000_000, 32, 2, 300), Some(ROUTE_MAX));
        // Big trees need proportionally big blocks.
        assert_eq!(route_block(21_150, 32, 2, 7_050), Some(10_575));
        assert_eq!(route_block(21_150, 32, 2, 7_051), None);
        // Wide rows shrink the block to the budget, and below ROUTE_FROM rows give up.
        let wide = ROUTE_SCRATCH_WORDS / ROUTE_FROM - 3;
        assert_eq!(route_block(100_000, wide, 1, 300), Some(ROUTE_FROM));
        assert_eq!(route_block(100_000, wide + 1, 1, 300), None);
    }

    /// Rows wider than the single-row kernel's stack buffer take its one-tree-at-a-time path.
    #[test]
    fn wide_rows_match_the_reference_walk() {
        let f = ROW_LANES + 6;
        let (x, y) = data(300, f, 5);
        let params = ForestParams::builder()
            .n_estimators(11)
            .seed(2)
            .build()
            .unwrap();
        let model = RandomForest::fit(&params, x.view(), y.view(), 4).unwrap();
        let reference = model.predict_proba_reference(x.view()).unwrap();
        let mut out = vec![0.0f32; 4];
        for (r, expected) in x.rows().into_iter().zip(reference.rows()) {
            out.fill(0.0);
            model.kernel.row(r.as_slice().unwrap(), &mut out);
            assert!(out.iter().zip(expected).all(|(a, b)| (a - b).abs() < 1e-6));
        }
    }

    /// Every kernel adds the trees' leaves in the same order: outputs must be equal bit for
    /// bit, for the portable partition and for the one this CPU runs, whatever the block size.
    #[test]
    fn kernels_are_bit_identical() {
        let (x, y) = data(500, 7, 3);
        let params = ForestParams::builder()
            .n_estimators(15)
            .seed(9)
            .build()
            .unwrap();
        let model = RandomForest::fit(&params, x.view(), y.view(), 4).unwrap();
        let (xb, _) = data(2_345, 7, 4);
        let xs = xb.as_slice().unwrap();
        let k = 4;
        let mut by_row = vec![0.0f32; xb.nrows() * k];
        for (r, o) in xs.chunks_exact(7).zip(by_row.chunks_exact_mut(k)) {
            model.kernel.row(r, o);
        }
        let mut lockstep = vec![0.0f32; by_row.len()];
        for (xc, oc) in xs.chunks(BLOCK * 7).zip(lockstep.chunks_mut(BLOCK * k)) {
            model.kernel.block_lockstep::<GROUP>(xc, oc);
        }
        assert!(by_row == lockstep);
        for isa in Supported::all() {
            let mut kern = model.kernel.clone();
            kern.isa = isa;
            for block in [1, 7, 1000, xb.nrows()] {
                let mut routed = vec![0.0f32; by_row.len()];
                for (xc, oc) in xs.chunks(block * 7).zip(routed.chunks_mut(block * k)) {
                    kern.block_routed(xc, oc);
                }
                assert!(by_row == routed, "{isa:?}, blocks of {block}");
            }
        }
        for isa in Supported::all() {
            assert_bits_match(&model, &xb, &by_row, isa);
        }
    }

    /// The bitset kernel against the row-major one, bit for bit: for `isa`, one- and two-byte
    /// codes, vote counting (when every leaf is pure) and per-leaf sums, and several blocks.
    fn assert_bits_match(model: &RandomForest, x: &Array2<f32>, by_row: &[f32], isa: Supported) {
        let (xs, f, k) = (x.as_slice().unwrap(), x.ncols(), model.kernel.n_classes);
        let pure_options = if model.kernel.all_pure {
            vec![true, false]
        } else {
            vec![false]
        };
        for wide in [false, true] {
            for &all_pure in &pure_options {
                let mut kern = model.kernel.clone();
                kern.isa = isa;
                kern.all_pure = all_pure;
                kern.cuts = OnceLock::from(kern.build_cuts(wide));
                for block in [1, 7, 64, 65, 1000, x.nrows()] {
                    let mut bitset = vec![0.0f32; by_row.len()];
                    for (xc, oc) in xs.chunks(block * f).zip(bitset.chunks_mut(block * k)) {
                        kern.block_bits(xc, oc);
                    }
                    assert!(
                        by_row == bitset,
                        "bits {isa:?}, wide {wide}, pure {all_pure}, blocks of {block}"
                    );
                }
            }
        }
    }

    /// Forests whose leaves are all pure (fully grown; 9 trees count votes, 256 trees are
    /// too many for `u8` counters and take the per-leaf sums) and whose leaves are not
    /// (depth 3), on continuous values with many thresholds: every leaf path of the bitset
    /// kernel.
    #[test]
    fn bitset_kernel_matches_on_pure_and_impure_forests() {
        let (x, y) = data(800, 5, 11);
        // Every width of codes is in play: one bit (column 3), one byte, two bytes.
        let model = RandomForest::fit(&ForestParams::default(), x.view(), y.view(), 4).unwrap();
        let widths = &model.kernel.cuts().unwrap().width;
        for w in [cuts::Width::Bit, cuts::Width::Byte, cuts::Width::Two] {
            assert!(widths.contains(&w), "{w:?} in {widths:?}");
        }
        for (trees, depth, pure) in [(9, None, true), (256, None, true), (9, Some(3), false)] {
            let params = ForestParams::builder()
                .n_estimators(trees)
                .max_depth(depth)
                .seed(3)
                .build()
                .unwrap();
            let model = RandomForest::fit(&params, x.view(), y.view(), 4).unwrap();
            assert_eq!(model.kernel.all_pure, pure);
            let (xb, _) = data(700, 5, 12);
            let mut by_row = vec![0.0f32; xb.nrows() * 4];
            for (r, o) in xb
                .as_slice()
                .unwrap()
                .chunks_exact(5)
                .zip(by_row.chunks_exact_mut(4))
            {
                model.kernel.row(r, o);
            }
            for isa in Supported::all() {
                assert_bits_match(&model, &xb, &by_row, isa);
            }
        }
    }

    #[test]
    fn bitset_blocks_follow_threads_rows_and_budget() {
        let (x, y) = data(300, 6, 1);
        let model = RandomForest::fit(&ForestParams::default(), x.view(), y.view(), 4).unwrap();
        let mut kern = model.kernel.clone();
        kern.nodes_per_tree = 300;
        kern.isa = Supported::new(Isa::detected()).unwrap();
        if kern.isa.get() < Isa::Avx2 {
            return;
        }
        assert_eq!(kern.bits_block(BITS_FROM - 1, 1), None);
        assert_eq!(kern.bits_block(21_150, 1), Some(21_150));
        assert_eq!(kern.bits_block(21_150, 2), Some(10_575));
        assert_eq!(kern.bits_block(600, 2), Some(BITS_FROM));
        assert_eq!(kern.bits_block(1_000_000, 2), Some(BITS_MAX));
        // Trees bigger than the batch: the other kernels.
        kern.nodes_per_tree = 30_000;
        assert_eq!(kern.bits_block(21_150, 1), None);
        kern.nodes_per_tree = 300;
        // No cuts: the other kernels.
        kern.cuts = OnceLock::from(None);
        assert_eq!(kern.bits_block(21_150, 1), None);
    }
}
