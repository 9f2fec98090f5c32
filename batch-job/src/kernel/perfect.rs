//! The perfect layout: a shallow forest's trees padded to perfect binary trees of one depth and
//! walked branch-free, [`LANES`] rows in lock step.

use super::{Combine, FlatTree};

/// Trees padded to perfect binary trees of depth `depth`: node i's children are 2i+1 and 2i+2,
/// so a walk is `depth` branch-free steps (no mispredicted branches). A leaf above the bottom
/// becomes a split with a NaN threshold (every row goes right, as in smartcore) whose right
/// subtree repeats the leaf.
///
/// The walk is latency-bound (load the split, load the row's feature, compare, step), so
/// [`LANES`] rows walk each tree level together: their chains are independent and overlap.
#[derive(Debug, Clone)]
pub(super) struct Perfect {
    depth: u32,
    /// Inner (split) nodes per tree, `2^depth - 1`.
    inner: usize,
    /// Per tree, `inner` splits in level order.
    splits: Vec<Split>,
    /// Per tree, `2^depth` leaf values.
    leaf: Vec<f64>,
    /// The leaf values as class indices (vote forests only; validated integers below the class
    /// count), so votes are counted without a float-to-int conversion per step.
    leaf_class: Vec<u32>,
}

/// A split of the perfect layout: threshold and feature on one 16-byte slot, so a step touches
/// one cache line.
#[derive(Debug, Clone, Copy)]
struct Split {
    threshold: f64,
    feature: u32,
}

/// Deepest tree padded to the perfect layout: 2^12 leaves per tree keep a 50-tree forest near 5 MB.
pub(super) const MAX_PERFECT_DEPTH: u32 = 12;

/// The most perfect-layout slots (splits and leaves) per node of the forest itself: a forest of
/// full trees needs about one, trees grown to a depth limit on enough rows a little more.
const MAX_PADDING: usize = 4;

/// Rows walking one tree in lock step (measured on the benchmark forest: 8 and 16 tie, 4 and 32
/// are slower).
const LANES: usize = 8;

impl Perfect {
    /// The perfect layout of `trees`, or `None` when a tree is too deep or a split names a
    /// feature outside the `n_features` a row has (the lock-step walk indexes rows unchecked,
    /// so it is only built when every index is known to be in bounds).
    pub(super) fn build(trees: &[FlatTree], n_features: usize, combine: Combine) -> Option<Self> {
        let d = trees.iter().map(tree_depth).max()?;
        if d > MAX_PERFECT_DEPTH {
            return None;
        }
        let inner = (1usize << d) - 1;
        // every tree is padded to the deepest one: a forest of sparse or uneven trees would
        // take many times its own size (a 2.8 MB artifact took 600 MB), so beyond
        // MAX_PADDING slots per real node the pointer walk scores it instead
        let nodes: usize = trees.iter().map(|t| t.feature.len()).sum();
        if (2 * inner + 1) * trees.len() > MAX_PADDING * nodes {
            return None;
        }
        let mut p = Perfect {
            depth: d,
            inner,
            splits: vec![
                Split {
                    threshold: f64::NAN,
                    feature: 0,
                };
                inner * trees.len()
            ],
            leaf: vec![0.0; (inner + 1) * trees.len()],
            leaf_class: Vec::new(),
        };
        for (k, t) in trees.iter().enumerate() {
            p.fill(t, 0, 0, k);
        }
        if p.splits.iter().any(|s| s.feature as usize >= n_features) {
            return None;
        }
        if combine == Combine::Vote {
            p.leaf_class = p.leaf.iter().map(|&v| v as u32).collect();
        }
        Some(p)
    }

    /// Places original node `node` at perfect position `pos` (0-based, level order).
    fn fill(&mut self, t: &FlatTree, node: usize, pos: usize, tree: usize) {
        let inner = self.inner;
        if pos >= inner {
            self.leaf[tree * (inner + 1) + pos - inner] = t.value[node];
            return;
        }
        if t.left[node] == 0 {
            // a leaf above the bottom: NaN sends every row right, where the leaf repeats
            self.fill(t, node, 2 * pos + 1, tree);
            self.fill(t, node, 2 * pos + 2, tree);
        } else {
            self.splits[tree * inner + pos] = Split {
                threshold: t.threshold[node],
                feature: t.feature[node],
            };
            self.fill(t, t.left[node] as usize, 2 * pos + 1, tree);
            self.fill(t, t.right[node] as usize, 2 * pos + 2, tree);
        }
    }

    /// Walks [`LANES`] consecutive rows of `rows` (`nf` features each) down `tree`; returns
    /// each row's leaf index within the tree.
    #[inline(always)]
    #[allow(unsafe_code)]
    #[allow(clippy::neg_cmp_op_on_partial_ord)] // NaN thresholds, see below
    fn walk_lanes(&self, tree: usize, rows: &[f64], nf: usize) -> [usize; LANES] {
        let splits = &self.splits[tree * self.inner..(tree + 1) * self.inner];
        let rows = &rows[..LANES * nf];
        let mut idx = [0usize; LANES];
        for _ in 0..self.depth {
            for (lane, i) in idx.iter_mut().enumerate() {
                // SAFETY: after s < depth steps `*i` lies in [2^s - 1, 2^(s+1) - 2], below
                // `inner` = 2^depth - 1 = splits.len(); `build` kept the layout only if every
                // feature is below `nf`, so `lane * nf + feature` < LANES * nf = rows.len().
                // Bounds checks here cost ~30% of the forest's walking time.
                let s = unsafe { *splits.get_unchecked(*i) };
                let x = unsafe { *rows.get_unchecked(lane * nf + s.feature as usize) };
                // `!(x <= t)`, not `x > t`: a NaN threshold must send the row right, as
                // smartcore does
                *i = 2 * *i + 1 + usize::from(!(x <= s.threshold));
            }
        }
        idx.map(|i| i - self.inner)
    }

    /// [`walk_lanes`](Self::walk_lanes) for a single row (a block's last few rows).
    #[inline]
    #[allow(clippy::neg_cmp_op_on_partial_ord)] // NaN thresholds go right, as in walk_lanes
    fn walk_one(&self, tree: usize, row: &[f64]) -> usize {
        let splits = &self.splits[tree * self.inner..(tree + 1) * self.inner];
        let mut i = 0usize;
        for _ in 0..self.depth {
            let s = splits[i];
            i = 2 * i + 1 + usize::from(!(row[s.feature as usize] <= s.threshold));
        }
        i - self.inner
    }

    /// Adds each row's vote from every tree to `votes` (`k` per row).
    pub(super) fn vote(&self, n_trees: usize, xb: &[f64], nf: usize, k: usize, votes: &mut [u32]) {
        let rows = xb.len() / nf;
        let full = rows / LANES * LANES;
        let leaves = self.inner + 1;
        for tree in 0..n_trees {
            let leaf = &self.leaf_class[tree * leaves..(tree + 1) * leaves];
            for g in (0..full).step_by(LANES) {
                let idx = self.walk_lanes(tree, &xb[g * nf..], nf);
                for (lane, &i) in idx.iter().enumerate() {
                    votes[(g + lane) * k + leaf[i] as usize] += 1;
                }
            }
            for r in full..rows {
                let i = self.walk_one(tree, &xb[r * nf..(r + 1) * nf]);
                votes[r * k + leaf[i] as usize] += 1;
            }
        }
    }

    /// Adds each tree's output to each row's `sum`, tree by tree (the pointer walk's order, so
    /// the sums are bit-identical).
    pub(super) fn sum(&self, n_trees: usize, xb: &[f64], nf: usize, sum: &mut [f64]) {
        let rows = xb.len() / nf;
        let full = rows / LANES * LANES;
        let leaves = self.inner + 1;
        for tree in 0..n_trees {
            let leaf = &self.leaf[tree * leaves..(tree + 1) * leaves];
            for g in (0..full).step_by(LANES) {
                let idx = self.walk_lanes(tree, &xb[g * nf..], nf);
                for (lane, &i) in idx.iter().enumerate() {
                    sum[g + lane] += leaf[i];
                }
            }
            for r in full..rows {
                sum[r] += leaf[self.walk_one(tree, &xb[r * nf..(r + 1) * nf])];
            }
        }
    }
}

/// The depth of a validated tree (a lone leaf is 0), in one pass without recursion.
fn tree_depth(t: &FlatTree) -> u32 {
    let mut depth = vec![0u32; t.feature.len()];
    let mut max = 0;
    for i in 0..depth.len() {
        max = max.max(depth[i]);
        if t.left[i] != 0 {
            depth[t.left[i] as usize] = depth[i] + 1;
            depth[t.right[i] as usize] = depth[i] + 1;
        }
    }
    max
}
