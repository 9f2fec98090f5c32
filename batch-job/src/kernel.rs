//! Scoring kernels: trained models flattened into contiguous arrays that score a block of rows
//! at a time.
//!
//! smartcore's predict walks one row at a time through generic matrix accessors and has no
//! probabilities for logistic regression; these kernels read the fitted parameters once (trees
//! through smartcore's serde form, whose node fields are private) and score with plain loops.
//! Their agreement with smartcore's own predict is what the crate's tests check.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::artifact::Task;

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
                Ok(())
            }
            Kernel::Linear { coefficients, .. } => {
                if task != Task::Regression {
                    return Err("a linear kernel in a classification artifact".into());
                }
                if coefficients.len() != n_features {
                    return Err(format!(
                        "{} weights for {n_features} features",
                        coefficients.len()
                    ));
                }
                Ok(())
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
    for i in 0..n {
        let (l, r) = (t.left[i] as usize, t.right[i] as usize);
        if l == 0 && r == 0 {
            let v = t.value[i];
            if task == Task::Classification
                && !(v >= 0.0 && v.fract() == 0.0 && (v as usize) < n_classes)
            {
                return Err(format!("leaf {i} has class {v}, not one of 0..{n_classes}"));
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
    }
    Ok(())
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
/// so a walk is `depth` branch-free steps (no mispredicted branches, and independent rows overlap
/// in the pipeline). A leaf above the bottom becomes a split with a NaN threshold (every row goes
/// right, as in smartcore) whose right subtree repeats the leaf.
#[derive(Debug, Clone)]
struct Perfect {
    depth: u32,
    /// Per tree, `2^depth - 1` split features.
    feature: Vec<u32>,
    /// Per tree, `2^depth - 1` thresholds.
    threshold: Vec<f64>,
    /// Per tree, `2^depth` leaf values.
    leaf: Vec<f64>,
}

/// Deepest tree padded to the perfect layout: 2^12 leaves per tree keep a 50-tree forest near 5 MB.
const MAX_PERFECT_DEPTH: u32 = 12;

/// Rows scored per tree pass: small enough that their features stay in L1/L2 while every tree
/// walks them.
const ROW_BLOCK: usize = 256;

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
                let perfect = Perfect::build(trees);
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
    fn build(trees: &[FlatTree]) -> Option<Self> {
        fn depth(t: &FlatTree, i: usize) -> u32 {
            if t.left[i] == 0 {
                0
            } else {
                1 + depth(t, t.left[i] as usize).max(depth(t, t.right[i] as usize))
            }
        }
        let d = trees.iter().map(|t| depth(t, 0)).max()?;
        if d > MAX_PERFECT_DEPTH {
            return None;
        }
        let inner = (1usize << d) - 1;
        let mut p = Perfect {
            depth: d,
            feature: vec![0; inner * trees.len()],
            threshold: vec![f64::NAN; inner * trees.len()],
            leaf: vec![0.0; (inner + 1) * trees.len()],
        };
        for (k, t) in trees.iter().enumerate() {
            p.fill(t, 0, 0, k, inner);
        }
        Some(p)
    }

    /// Places original node `node` at perfect position `pos` (0-based, level order).
    fn fill(&mut self, t: &FlatTree, node: usize, pos: usize, tree: usize, inner: usize) {
        if pos >= inner {
            self.leaf[tree * (inner + 1) + pos - inner] = t.value[node];
            return;
        }
        if t.left[node] == 0 {
            // a leaf above the bottom: NaN sends every row right, where the leaf repeats
            self.threshold[tree * inner + pos] = f64::NAN;
            self.fill(t, node, 2 * pos + 1, tree, inner);
            self.fill(t, node, 2 * pos + 2, tree, inner);
        } else {
            self.feature[tree * inner + pos] = t.feature[node];
            self.threshold[tree * inner + pos] = t.threshold[node];
            self.fill(t, t.left[node] as usize, 2 * pos + 1, tree, inner);
            self.fill(t, t.right[node] as usize, 2 * pos + 2, tree, inner);
        }
    }

    #[inline]
    fn walk(&self, tree: usize, row: &[f64]) -> f64 {
        let inner = (1usize << self.depth) - 1;
        let f = &self.feature[tree * inner..(tree + 1) * inner];
        let t = &self.threshold[tree * inner..(tree + 1) * inner];
        let mut i = 0usize;
        for _ in 0..self.depth {
            // `!(x <= t)`, not `x > t`: a NaN threshold must send the row right, as smartcore does
            let right = !(row[f[i] as usize] <= t[i]);
            i = 2 * i + 1 + usize::from(right);
        }
        self.leaf[tree * (inner + 1) + i - inner]
    }
}

impl Forest {
    #[inline]
    fn walk_tree(&self, tree: usize, row: &[f64]) -> f64 {
        match &self.perfect {
            Some(p) => p.walk(tree, row),
            None => self.walk(self.roots[tree], row),
        }
    }

    fn predict(&self, x: &[f64], nf: usize, n: usize, k: usize, out: &mut Predictions) {
        let inv = 1.0 / self.roots.len() as f64;
        let mut acc = vec![0.0f64; ROW_BLOCK * k.max(1)];
        for block_start in (0..n).step_by(ROW_BLOCK) {
            let rows = ROW_BLOCK.min(n - block_start);
            let xb = &x[block_start * nf..(block_start + rows) * nf];
            match self.combine {
                Combine::Vote => {
                    let acc = &mut acc[..rows * k];
                    acc.fill(0.0);
                    // tree-major order keeps one tree's nodes hot in cache for the whole block
                    for tree in 0..self.roots.len() {
                        for (r, row) in xb.chunks_exact(nf).enumerate() {
                            let class = self.walk_tree(tree, row) as usize;
                            acc[r * k + class] += 1.0;
                        }
                    }
                    for votes in acc.chunks_exact(k) {
                        let mut which = 0;
                        for c in 1..k {
                            if votes[c] > votes[which] {
                                which = c;
                            }
                        }
                        out.class.push(which as u32);
                        out.proba.extend(votes.iter().map(|v| v * inv));
                    }
                }
                Combine::Mean => {
                    let acc = &mut acc[..rows];
                    acc.fill(0.0);
                    for tree in 0..self.roots.len() {
                        for (r, row) in xb.chunks_exact(nf).enumerate() {
                            acc[r] += self.walk_tree(tree, row);
                        }
                    }
                    out.value
                        .extend(acc.iter().map(|s| s / self.roots.len() as f64));
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
pub fn forest_from_smartcore(
    algorithm: crate::artifact::Algorithm,
    model: &Value,
) -> Result<Kernel, String> {
    use crate::artifact::Algorithm as A;
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
