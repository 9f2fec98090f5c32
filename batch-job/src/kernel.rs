//! Scoring kernels: trained models flattened into contiguous arrays that score a block of rows
//! at a time.
//!
//! smartcore's predict walks one row at a time through generic matrix accessors and has no
//! probabilities for logistic regression; these kernels read the fitted parameters once (trees
//! through smartcore's serde form, whose node fields are private) and score with plain loops.
//! Their agreement with smartcore's own predict is what the crate's tests check.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::algorithm::{Algorithm, Task};

/// A flattened tree in struct-of-arrays form: node `i` is a leaf when `left[i] == 0` (the root
/// is never a child), else rows with `x[feature[i]] <= threshold[i]` go to `left[i]` and the
/// rest to `right[i]`. A leaf's `value` is its class index (classifiers) or its output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlatTree {
    /// Split feature of each node.
    pub feature: Vec<u32>,
    /// Split threshold of each node (NaN, written as null: every row goes right, as in
    /// smartcore).
    #[serde(with = "nan_as_null")]
    pub threshold: Vec<f64>,
    /// Left (`<=`) child of each node, 0 for a leaf.
    pub left: Vec<u32>,
    /// Right (`>`) child of each node, 0 for a leaf.
    pub right: Vec<u32>,
    /// Leaf value of each node (class index or output).
    pub value: Vec<f64>,
}

/// How a forest combines its trees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Combine {
    /// Each tree votes for a class; probabilities are vote shares, the prediction the first class
    /// with the most votes (smartcore's rule).
    Vote,
    /// The mean of the trees' outputs.
    Mean,
}

/// A model in the form the scorer runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Kernel {
    /// Logistic regression. Binary: one coefficient row, p(class 1) = σ(w·x + b). More classes:
    /// one row per class, probabilities by softmax.
    Logistic {
        /// One row of feature weights per score.
        coefficients: Vec<Vec<f64>>,
        /// One intercept per row.
        intercepts: Vec<f64>,
    },
    /// y = w·x + b.
    Linear {
        /// Feature weights.
        coefficients: Vec<f64>,
        /// Intercept.
        intercept: f64,
    },
    /// Trees (one tree is a forest of one).
    Forest {
        /// Vote (classifiers) or mean (regressors).
        combine: Combine,
        /// The trees.
        trees: Vec<FlatTree>,
    },
}

/// Predictions for a block of rows.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Predictions {
    /// Predicted class index per row (classifiers).
    pub class: Vec<u32>,
    /// Row-major class probabilities, `n_classes` per row (classifiers).
    pub proba: Vec<f64>,
    /// Predicted value per row (regressors).
    pub value: Vec<f64>,
}

impl Predictions {
    /// Empties the buffers, keeping their capacity.
    pub fn clear(&mut self) {
        self.class.clear();
        self.proba.clear();
        self.value.clear();
    }
}

impl Kernel {
    /// Checks that the kernel fits `n_features` inputs and `n_classes` classes and that every
    /// index stays in bounds, so scoring a corrupt artifact cannot panic or loop.
    pub fn validate(&self, n_features: usize, n_classes: usize, task: Task) -> Result<(), String> {
        match self {
            Kernel::Logistic {
                coefficients,
                intercepts,
            } => {
                if task != Task::Classification {
                    return Err("a logistic kernel in a regression artifact".into());
                }
                let rows = if n_classes == 2 { 1 } else { n_classes };
                if coefficients.len() != rows || intercepts.len() != rows {
                    return Err(format!(
                        "{} coefficient rows and {} intercepts for {n_classes} classes, expected {rows}",
                        coefficients.len(),
                        intercepts.len()
                    ));
                }
                if let Some(r) = coefficients.iter().find(|r| r.len() != n_features) {
                    return Err(format!(
                        "a coefficient row has {} weights for {n_features} features",
                        r.len()
                    ));
                }
                finite("coefficient", coefficients.iter().flatten())?;
                finite("intercept", intercepts.iter())
            }
            Kernel::Linear {
                coefficients,
                intercept,
            } => {
                if task != Task::Regression {
                    return Err("a linear kernel in a classification artifact".into());
                }
                if coefficients.len() != n_features {
                    return Err(format!(
                        "{} weights for {n_features} features",
                        coefficients.len()
                    ));
                }
                finite("coefficient", coefficients.iter())?;
                finite("intercept", std::iter::once(intercept))
            }
            Kernel::Forest { combine, trees } => {
                let expected = match task {
                    Task::Classification => Combine::Vote,
                    Task::Regression => Combine::Mean,
                };
                if *combine != expected {
                    return Err(format!("combine {combine:?} does not fit a {task:?} model"));
                }
                if trees.is_empty() {
                    return Err("the forest has no trees".into());
                }
                for (t, tree) in trees.iter().enumerate() {
                    validate_tree(tree, n_features, n_classes, task)
                        .map_err(|m| format!("tree {t}: {m}"))?;
                }
                Ok(())
            }
        }
    }
}

/// The deepest tree accepted. smartcore grows a tree at most as deep as its training rows allow;
/// a deeper one is a corrupt or hostile artifact whose walk per row would never end in practice.
pub const MAX_TREE_DEPTH: u32 = 10_000;

/// Checks that every value is finite, naming the first that is not.
fn finite<'a>(what: &str, values: impl Iterator<Item = &'a f64>) -> Result<(), String> {
    match values.enumerate().find(|(_, v)| !v.is_finite()) {
        Some((i, v)) => Err(format!("{what} {i} is {v}, not a finite number")),
        None => Ok(()),
    }
}

/// Checks a tree's structure in one pass over its nodes, without recursion: every child lies
/// after its parent (so every walk ends), every node but the root is the child of exactly one
/// node (a tree, not a graph whose shared children multiply the paths), depth is at most
/// [`MAX_TREE_DEPTH`], indices and features are in range and leaves hold valid values.
fn validate_tree(
    t: &FlatTree,
    n_features: usize,
    n_classes: usize,
    task: Task,
) -> Result<(), String> {
    let n = t.feature.len();
    if n == 0 {
        return Err("no nodes".into());
    }
    if [
        t.threshold.len(),
        t.left.len(),
        t.right.len(),
        t.value.len(),
    ]
    .iter()
    .any(|&l| l != n)
    {
        return Err("node arrays differ in length".into());
    }
    if n > u32::MAX as usize / 2 {
        return Err(format!("{n} nodes is too many"));
    }
    // the parent of each node (u32::MAX: none yet) and its depth; children come after their
    // parent, so both are known by the time a node's turn comes
    let mut parent = vec![u32::MAX; n];
    let mut depth = vec![0u32; n];
    for i in 0..n {
        if i > 0 && parent[i] == u32::MAX {
            return Err(format!("node {i} is not reached from the root"));
        }
        let (l, r) = (t.left[i] as usize, t.right[i] as usize);
        if l == 0 && r == 0 {
            let v = t.value[i];
            match task {
                Task::Classification
                    if !(v >= 0.0 && v.fract() == 0.0 && (v as usize) < n_classes) =>
                {
                    return Err(format!("leaf {i} has class {v}, not one of 0..{n_classes}"));
                }
                Task::Regression if !v.is_finite() => {
                    return Err(format!("leaf {i} has value {v}, not a finite number"));
                }
                _ => {}
            }
            continue;
        }
        // Children after their parent guarantee every walk ends at a leaf.
        if l <= i || r <= i || l >= n || r >= n {
            return Err(format!(
                "node {i} has children {l} and {r}, which must lie after it and before {n}"
            ));
        }
        if t.feature[i] as usize >= n_features {
            return Err(format!(
                "node {i} splits on feature {} of {n_features}",
                t.feature[i]
            ));
        }
        if t.threshold[i].is_infinite() {
            return Err(format!(
                "node {i} has threshold {}, not a finite number (or null)",
                t.threshold[i]
            ));
        }
        for c in [l, r] {
            if parent[c] != u32::MAX {
                return Err(format!(
                    "node {c} is a child of both node {} and node {i}: the nodes do not form a tree",
                    parent[c]
                ));
            }
            parent[c] = i as u32;
            depth[c] = depth[i] + 1;
            if depth[c] > MAX_TREE_DEPTH {
                return Err(format!(
                    "node {c} lies at depth {}, deeper than the {MAX_TREE_DEPTH} levels accepted",
                    depth[c]
                ));
            }
        }
    }
    Ok(())
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

/// A validated kernel compiled for scoring.
#[derive(Debug, Clone)]
pub struct CompiledKernel {
    n_features: usize,
    n_classes: usize,
    body: Body,
}

#[derive(Debug, Clone)]
enum Body {
    Logistic { w: Vec<f64>, b: Vec<f64> },
    Linear { w: Vec<f64>, b: f64 },
    Forest(Forest),
}

/// One node of the array-of-structs form: everything a step of the walk needs on one cache line.
#[derive(Debug, Clone, Copy)]
struct Node {
    /// Threshold of a split, value of a leaf.
    threshold: f64,
    feature: u32,
    /// Global index of the left child; 0 marks a leaf.
    left: u32,
    right: u32,
}

#[derive(Debug, Clone)]
struct Forest {
    combine: Combine,
    nodes: Vec<Node>,
    roots: Vec<u32>,
    /// The same trees as perfect binary trees of one depth, when every tree is shallow enough.
    perfect: Option<Perfect>,
}

/// Trees padded to perfect binary trees of depth `depth`: node i's children are 2i+1 and 2i+2,
/// so a walk is `depth` branch-free steps (no mispredicted branches). A leaf above the bottom
/// becomes a split with a NaN threshold (every row goes right, as in smartcore) whose right
/// subtree repeats the leaf.
///
/// The walk is latency-bound (load the split, load the row's feature, compare, step), so
/// [`LANES`] rows walk each tree level together: their chains are independent and overlap.
#[derive(Debug, Clone)]
struct Perfect {
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
const MAX_PERFECT_DEPTH: u32 = 12;

/// The most perfect-layout slots (splits and leaves) per node of the forest itself: a forest of
/// full trees needs about one, trees grown to a depth limit on enough rows a little more.
const MAX_PADDING: usize = 4;

/// Rows scored per tree pass: small enough that their features stay in L1/L2 while every tree
/// walks them.
const ROW_BLOCK: usize = 256;

/// Rows walking one tree in lock step (measured on the benchmark forest: 8 and 16 tie, 4 and 32
/// are slower).
const LANES: usize = 8;

impl CompiledKernel {
    /// Compiles a kernel already checked with [`Kernel::validate`].
    pub fn new(kernel: &Kernel, n_features: usize, n_classes: usize) -> Self {
        let body = match kernel {
            Kernel::Logistic {
                coefficients,
                intercepts,
            } => Body::Logistic {
                w: coefficients.iter().flatten().copied().collect(),
                b: intercepts.clone(),
            },
            Kernel::Linear {
                coefficients,
                intercept,
            } => Body::Linear {
                w: coefficients.clone(),
                b: *intercept,
            },
            Kernel::Forest { combine, trees } => {
                let mut nodes = Vec::new();
                let mut roots = Vec::with_capacity(trees.len());
                for t in trees {
                    let base = nodes.len() as u32;
                    roots.push(base);
                    for i in 0..t.feature.len() {
                        let leaf = t.left[i] == 0;
                        nodes.push(Node {
                            threshold: if leaf { t.value[i] } else { t.threshold[i] },
                            feature: t.feature[i],
                            left: if leaf { 0 } else { base + t.left[i] },
                            right: if leaf { 0 } else { base + t.right[i] },
                        });
                    }
                }
                let perfect = Perfect::build(trees, n_features, *combine);
                Body::Forest(Forest {
                    combine: *combine,
                    nodes,
                    roots,
                    perfect,
                })
            }
        };
        Self {
            n_features,
            n_classes,
            body,
        }
    }

    /// For a voting forest, its number of trees: every probability it gives is
    /// `votes as f64 * (1.0 / n_trees as f64)` for a vote count in `0..=n_trees`.
    pub fn vote_trees(&self) -> Option<usize> {
        match &self.body {
            Body::Forest(f) if f.combine == Combine::Vote => Some(f.roots.len()),
            _ => None,
        }
    }

    /// Scores `x` (row-major, `n_features` per row), appending to `out`.
    pub fn predict(&self, x: &[f64], out: &mut Predictions) {
        let nf = self.n_features;
        let n = x.len() / nf;
        match &self.body {
            Body::Logistic { w, b } => {
                if b.len() == 1 {
                    for row in x.chunks_exact(nf) {
                        let p1 = sigmoid(dot(w, row) + b[0]);
                        out.proba.push(1.0 - p1);
                        out.proba.push(p1);
                        // smartcore's rule: class 1 when σ > 0.5
                        out.class.push(u32::from(p1 > 0.5));
                    }
                } else {
                    let k = b.len();
                    for row in x.chunks_exact(nf) {
                        let start = out.proba.len();
                        let mut max = f64::NEG_INFINITY;
                        let mut arg = 0u32;
                        for c in 0..k {
                            let z = dot(&w[c * nf..(c + 1) * nf], row) + b[c];
                            if z > max {
                                max = z;
                                arg = c as u32;
                            }
                            out.proba.push(z);
                        }
                        let mut sum = 0.0;
                        for p in &mut out.proba[start..] {
                            *p = (*p - max).exp();
                            sum += *p;
                        }
                        for p in &mut out.proba[start..] {
                            *p /= sum;
                        }
                        out.class.push(arg);
                    }
                }
            }
            Body::Linear { w, b } => {
                out.value
                    .extend(x.chunks_exact(nf).map(|row| dot(w, row) + b));
            }
            Body::Forest(f) => f.predict(x, nf, n, self.n_classes, out),
        }
    }
}

impl Perfect {
    /// The perfect layout of `trees`, or `None` when a tree is too deep or a split names a
    /// feature outside the `n_features` a row has (the lock-step walk indexes rows unchecked,
    /// so it is only built when every index is known to be in bounds).
    fn build(trees: &[FlatTree], n_features: usize, combine: Combine) -> Option<Self> {
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
    fn vote(&self, n_trees: usize, xb: &[f64], nf: usize, k: usize, votes: &mut [u32]) {
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
    fn sum(&self, n_trees: usize, xb: &[f64], nf: usize, sum: &mut [f64]) {
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

impl Forest {
    fn predict(&self, x: &[f64], nf: usize, n: usize, k: usize, out: &mut Predictions) {
        let n_trees = self.roots.len();
        let inv = 1.0 / n_trees as f64;
        match self.combine {
            Combine::Vote => {
                let mut votes = vec![0u32; ROW_BLOCK * k.max(1)];
                for block_start in (0..n).step_by(ROW_BLOCK) {
                    let rows = ROW_BLOCK.min(n - block_start);
                    let xb = &x[block_start * nf..(block_start + rows) * nf];
                    let votes = &mut votes[..rows * k];
                    votes.fill(0);
                    match &self.perfect {
                        Some(p) => p.vote(n_trees, xb, nf, k, votes),
                        None => {
                            // tree-major order keeps one tree's nodes hot for the whole block
                            for &root in &self.roots {
                                for (r, row) in xb.chunks_exact(nf).enumerate() {
                                    votes[r * k + self.walk(root, row) as usize] += 1;
                                }
                            }
                        }
                    }
                    for v in votes.chunks_exact(k) {
                        let mut which = 0;
                        for c in 1..k {
                            if v[c] > v[which] {
                                which = c;
                            }
                        }
                        out.class.push(which as u32);
                        out.proba.extend(v.iter().map(|&c| f64::from(c) * inv));
                    }
                }
            }
            Combine::Mean => {
                let mut sum = vec![0.0f64; ROW_BLOCK];
                for block_start in (0..n).step_by(ROW_BLOCK) {
                    let rows = ROW_BLOCK.min(n - block_start);
                    let xb = &x[block_start * nf..(block_start + rows) * nf];
                    let sum = &mut sum[..rows];
                    sum.fill(0.0);
                    match &self.perfect {
                        Some(p) => p.sum(n_trees, xb, nf, sum),
                        None => {
                            for &root in &self.roots {
                                for (r, row) in xb.chunks_exact(nf).enumerate() {
                                    sum[r] += self.walk(root, row);
                                }
                            }
                        }
                    }
                    out.value.extend(sum.iter().map(|s| s / n_trees as f64));
                }
            }
        }
    }

    #[inline]
    fn walk(&self, root: u32, row: &[f64]) -> f64 {
        let mut node = self.nodes[root as usize];
        while node.left != 0 {
            let next = if row[node.feature as usize] <= node.threshold {
                node.left
            } else {
                node.right
            };
            node = self.nodes[next as usize];
        }
        node.threshold
    }
}

#[inline]
fn dot(w: &[f64], x: &[f64]) -> f64 {
    w.iter().zip(x).map(|(a, b)| a * b).sum()
}

/// The logistic function σ(z) = 1 / (1 + e^-z).
pub fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// Builds the tree/forest kernel from smartcore's serde form of a fitted model.
///
/// smartcore 0.7 keeps tree nodes private; their serde form is the supported way to read them.
/// `classes` maps smartcore's class values to label indices (classifiers only).
pub fn forest_from_smartcore(algorithm: Algorithm, model: &Value) -> Result<Kernel, String> {
    use Algorithm as A;
    #[derive(Deserialize)]
    struct ScNode {
        output: f64,
        split_feature: usize,
        split_value: Option<f64>,
        true_child: Option<usize>,
        false_child: Option<usize>,
    }
    #[derive(Deserialize)]
    struct ScClassTree {
        nodes: Vec<ScNode>,
        classes: Vec<i64>,
    }
    #[derive(Deserialize)]
    struct ScBaseTree {
        nodes: Vec<ScNode>,
    }
    #[derive(Deserialize)]
    struct ScForestClassifier {
        trees: Option<Vec<ScClassTree>>,
    }
    #[derive(Deserialize)]
    struct ScTreeRegressor {
        tree_regressor: Option<ScBaseTree>,
    }
    #[derive(Deserialize)]
    struct ScBaseForest {
        trees: Option<Vec<ScBaseTree>>,
    }
    #[derive(Deserialize)]
    struct ScForestRegressor {
        forest_regressor: Option<ScBaseForest>,
    }

    fn flatten(nodes: &[ScNode], classes: Option<&[i64]>) -> Result<FlatTree, String> {
        let mut t = FlatTree {
            feature: Vec::with_capacity(nodes.len()),
            threshold: Vec::with_capacity(nodes.len()),
            left: Vec::with_capacity(nodes.len()),
            right: Vec::with_capacity(nodes.len()),
            value: Vec::with_capacity(nodes.len()),
        };
        for (i, n) in nodes.iter().enumerate() {
            let value = match classes {
                // a classification leaf's output indexes the tree's classes, whose values are
                // label indices
                Some(c) => *c
                    .get(n.output as usize)
                    .ok_or_else(|| format!("node {i} outputs class {} of {}", n.output, c.len()))?
                    as f64,
                None => n.output,
            };
            let (l, r) = match (n.true_child, n.false_child) {
                (Some(l), Some(r)) => (l as u32, r as u32),
                (None, None) => (0, 0),
                _ => return Err(format!("node {i} has one child")),
            };
            t.feature.push(n.split_feature as u32);
            t.threshold.push(n.split_value.unwrap_or(f64::NAN));
            t.left.push(l);
            t.right.push(r);
            t.value.push(value);
        }
        Ok(t)
    }

    let bad = |e: serde_json::Error| format!("unexpected smartcore model shape: {e}");
    let (combine, trees) = match algorithm {
        A::DecisionTreeClassifier => {
            let t: ScClassTree = serde_json::from_value(model.clone()).map_err(bad)?;
            (Combine::Vote, vec![flatten(&t.nodes, Some(&t.classes))?])
        }
        A::RandomForestClassifier => {
            let f: ScForestClassifier = serde_json::from_value(model.clone()).map_err(bad)?;
            let trees = f.trees.ok_or("the forest is not fitted")?;
            let flat = trees
                .iter()
                .map(|t| flatten(&t.nodes, Some(&t.classes)))
                .collect::<Result<Vec<_>, _>>()?;
            (Combine::Vote, flat)
        }
        A::DecisionTreeRegressor => {
            let t: ScTreeRegressor = serde_json::from_value(model.clone()).map_err(bad)?;
            let t = t.tree_regressor.ok_or("the tree is not fitted")?;
            (Combine::Mean, vec![flatten(&t.nodes, None)?])
        }
        A::RandomForestRegressor => {
            let f: ScForestRegressor = serde_json::from_value(model.clone()).map_err(bad)?;
            let trees = f
                .forest_regressor
                .and_then(|f| f.trees)
                .ok_or("the forest is not fitted")?;
            let flat = trees
                .iter()
                .map(|t| flatten(&t.nodes, None))
                .collect::<Result<Vec<_>, _>>()?;
            (Combine::Mean, flat)
        }
        other => return Err(format!("{} is not a tree model", other.as_str())),
    };
    Ok(Kernel::Forest { combine, trees })
}

/// JSON has no NaN: serde_json writes it as null, so thresholds round-trip NaN through null.
mod nan_as_null {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(v: &[f64], s: S) -> Result<S::Ok, S::Error> {
        let opt: Vec<Option<f64>> = v.iter().map(|x| (!x.is_nan()).then_some(*x)).collect();
        opt.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
        let opt = Vec::<Option<f64>>::deserialize(d)?;
        Ok(opt.into_iter().map(|x| x.unwrap_or(f64::NAN)).collect())
    }
}

#[cfg(test)]
mod tests {
    //! The compiled forest (perfect lock-step layout and pointer walk alike) must predict exactly
    //! what walking the [`FlatTree`] definition predicts, bit for bit.
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::*;

    /// Walks `t` by its definition: `x[feature] <= threshold` goes left, anything else (NaN) right.
    fn reference_walk(t: &FlatTree, row: &[f64]) -> f64 {
        let mut i = 0;
        while t.left[i] != 0 {
            i = if row[t.feature[i] as usize] <= t.threshold[i] {
                t.left[i]
            } else {
                t.right[i]
            } as usize;
        }
        t.value[i]
    }

    /// A random tree up to `max_depth` deep whose thresholds come from `grid` (so rows hit them
    /// exactly) or are NaN; a node above `max_depth` splits with probability `split`.
    fn random_tree(
        rng: &mut StdRng,
        nf: usize,
        k: usize,
        max_depth: u32,
        split: f64,
        grid: &[f64],
    ) -> FlatTree {
        let mut t = FlatTree {
            feature: vec![0],
            threshold: vec![f64::NAN],
            left: vec![0],
            right: vec![0],
            value: vec![0.0],
        };
        // children are appended after their parent, as validation requires
        let mut open = vec![(0usize, 0u32)];
        while let Some((i, depth)) = open.pop() {
            let splits = depth == 0 || (depth < max_depth && rng.random_bool(split));
            if !splits {
                t.value[i] = if k > 0 {
                    rng.random_range(0..k) as f64
                } else {
                    rng.random_range(-5.0..5.0)
                };
                continue;
            }
            t.feature[i] = rng.random_range(0..nf) as u32;
            t.threshold[i] = if rng.random_bool(0.05) {
                f64::NAN
            } else {
                grid[rng.random_range(0..grid.len())]
            };
            for side in 0..2 {
                let child = t.feature.len();
                t.feature.push(0);
                t.threshold.push(f64::NAN);
                t.left.push(0);
                t.right.push(0);
                t.value.push(0.0);
                if side == 0 {
                    t.left[i] = child as u32;
                } else {
                    t.right[i] = child as u32;
                }
                open.push((child, depth + 1));
            }
        }
        t
    }

    /// Checks every row; returns whether the perfect layout was used.
    fn check(seed: u64, combine: Combine, max_depth: u32, n_trees: usize, n_rows: usize) -> bool {
        check_trees(seed, combine, max_depth, 0.95, n_trees, n_rows)
    }

    /// [`check`] with trees whose nodes split with probability `split`.
    fn check_trees(
        seed: u64,
        combine: Combine,
        max_depth: u32,
        split: f64,
        n_trees: usize,
        n_rows: usize,
    ) -> bool {
        let mut rng = StdRng::seed_from_u64(seed);
        let nf = 6;
        let k = if combine == Combine::Vote { 3 } else { 0 };
        let grid: Vec<f64> = (0..9).map(|i| f64::from(i) * 0.25 - 1.0).collect();
        let trees: Vec<FlatTree> = (0..n_trees)
            .map(|_| random_tree(&mut rng, nf, k, max_depth, split, &grid))
            .collect();
        let kernel = Kernel::Forest {
            combine,
            trees: trees.clone(),
        };
        let task = match combine {
            Combine::Vote => Task::Classification,
            Combine::Mean => Task::Regression,
        };
        kernel.validate(nf, k, task).unwrap();
        let x: Vec<f64> = (0..n_rows * nf)
            .map(|_| {
                if rng.random_bool(0.5) {
                    grid[rng.random_range(0..grid.len())]
                } else {
                    rng.random_range(-1.5..1.5)
                }
            })
            .collect();
        let compiled = CompiledKernel::new(&kernel, nf, k);
        let mut out = Predictions::default();
        compiled.predict(&x, &mut out);
        for (r, row) in x.chunks_exact(nf).enumerate() {
            let leaves: Vec<f64> = trees.iter().map(|t| reference_walk(t, row)).collect();
            match combine {
                Combine::Vote => {
                    let mut votes = vec![0.0f64; k];
                    for &c in &leaves {
                        votes[c as usize] += 1.0;
                    }
                    let best = (0..k).fold(0, |b, c| if votes[c] > votes[b] { c } else { b });
                    assert_eq!(out.class[r] as usize, best, "seed {seed} row {r}");
                    for (c, v) in votes.iter().enumerate() {
                        let want = v * (1.0 / n_trees as f64);
                        assert_eq!(
                            out.proba[r * k + c].to_bits(),
                            want.to_bits(),
                            "seed {seed} row {r}"
                        );
                    }
                }
                Combine::Mean => {
                    let want = leaves.iter().sum::<f64>() / n_trees as f64;
                    assert_eq!(
                        out.value[r].to_bits(),
                        want.to_bits(),
                        "seed {seed} row {r}"
                    );
                }
            }
        }
        matches!(&compiled.body, Body::Forest(f) if f.perfect.is_some())
    }

    #[test]
    fn perfect_layout_predicts_like_the_tree_definition() {
        // row counts around the lane width and the row block exercise the lock-step lanes, the
        // single-row tail and a partial block
        for (seed, rows) in [(1, 1), (2, 7), (3, 8), (4, 9), (5, 300), (6, 517)] {
            assert!(check(seed, Combine::Vote, 10, 5, rows));
            assert!(check(seed + 100, Combine::Mean, 10, 5, rows));
        }
    }

    #[test]
    fn trees_too_deep_for_the_perfect_layout_walk_pointers_alike() {
        for seed in 0..3 {
            let depth = MAX_PERFECT_DEPTH + 3;
            assert!(!check(seed, Combine::Vote, depth, 3, 300));
            assert!(!check(seed + 50, Combine::Mean, depth, 3, 300));
        }
    }

    /// Regression: every tree was padded to a perfect tree of the forest's depth, so sparse deep
    /// trees (a 2.8 MB artifact) took 600 MB; such forests now walk pointers, predicting alike.
    #[test]
    fn sparse_trees_are_not_padded_to_perfect_trees() {
        for seed in 0..3 {
            assert!(!check_trees(seed, Combine::Vote, 12, 0.55, 20, 300));
            assert!(!check_trees(seed + 50, Combine::Mean, 12, 0.55, 20, 300));
        }
        // a chain 12 deep: 25 nodes, which padding would turn into 8,191 slots
        let n = 25;
        let mut t = FlatTree {
            feature: vec![0; n],
            threshold: vec![0.5; n],
            left: vec![0; n],
            right: vec![0; n],
            value: vec![1.0; n],
        };
        for i in (0..n - 1).step_by(2) {
            t.left[i] = (i + 1) as u32;
            t.right[i] = (i + 2) as u32;
        }
        let kernel = Kernel::Forest {
            combine: Combine::Mean,
            trees: vec![t],
        };
        kernel.validate(1, 0, Task::Regression).unwrap();
        assert!(
            Perfect::build(
                std::slice::from_ref(match &kernel {
                    Kernel::Forest { trees, .. } => &trees[0],
                    _ => unreachable!(),
                }),
                1,
                Combine::Mean
            )
            .is_none()
        );
    }

    #[test]
    fn a_split_on_a_feature_beyond_the_row_never_builds_the_unchecked_layout() {
        let t = FlatTree {
            feature: vec![7, 0, 0],
            threshold: vec![0.5, f64::NAN, f64::NAN],
            left: vec![1, 0, 0],
            right: vec![2, 0, 0],
            value: vec![0.0, 0.0, 1.0],
        };
        assert!(Perfect::build(std::slice::from_ref(&t), 8, Combine::Vote).is_some());
        assert!(Perfect::build(std::slice::from_ref(&t), 7, Combine::Vote).is_none());
    }
}
