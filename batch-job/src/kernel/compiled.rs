//! The compiled kernel: the form that scores blocks of rows, from contiguous arrays.

use super::perfect::Perfect;
use super::{Combine, Kernel, Predictions};

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
                        push_sigmoid(dot(w, row) + b[0], out);
                    }
                } else {
                    for row in x.chunks_exact(nf) {
                        push_softmax(
                            b.iter()
                                .enumerate()
                                .map(|(c, bc)| dot(&w[c * nf..(c + 1) * nf], row) + bc),
                            out,
                        );
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

    /// Whether [`predict_columns`](Self::predict_columns) scores this kernel: a linear or
    /// logistic model, whose sums over the features add up column by column.
    pub fn scores_columns(&self) -> bool {
        matches!(self.body, Body::Logistic { .. } | Body::Linear { .. })
    }

    /// Scores `n` rows given column by column (`columns[j]` holds feature j of each row, at
    /// least `n` values), appending to `out` bit for bit what [`predict`](Self::predict)
    /// appends for the same rows laid out row-major: each row's sum adds the same products in
    /// the same order. Columnar input (Parquet) is thus scored without being copied into rows.
    /// A forest walks rows, not columns: it returns false and appends nothing.
    pub fn predict_columns(&self, columns: &[&[f64]], n: usize, out: &mut Predictions) -> bool {
        let nf = self.n_features;
        if columns.len() != nf || columns.iter().any(|c| c.len() < n) {
            return false;
        }
        match &self.body {
            Body::Logistic { w, b } => {
                let k = b.len();
                let z: Vec<Vec<f64>> = (0..k)
                    .map(|c| column_dots(&w[c * nf..(c + 1) * nf], columns, n))
                    .collect();
                if k == 1 {
                    for &z in &z[0] {
                        push_sigmoid(z + b[0], out);
                    }
                } else {
                    for r in 0..n {
                        push_softmax(z.iter().zip(b).map(|(zc, bc)| zc[r] + bc), out);
                    }
                }
                true
            }
            Body::Linear { w, b } => {
                out.value
                    .extend(column_dots(w, columns, n).into_iter().map(|z| z + b));
                true
            }
            Body::Forest(_) => false,
        }
    }
}

/// Per row, the sum of `w[j] * columns[j][row]` over j in order, as [`dot`] sums a row.
fn column_dots(w: &[f64], columns: &[&[f64]], n: usize) -> Vec<f64> {
    // -0.0, where `Iterator::sum` over f64 starts, so a row of zero products sums alike
    let mut z = vec![-0.0; n];
    for (wj, col) in w.iter().zip(columns) {
        for (zr, x) in z.iter_mut().zip(&col[..n]) {
            *zr += wj * x;
        }
    }
    z
}

/// A binary logistic row from its score `z`: p(0), p(1), and the class.
#[inline]
fn push_sigmoid(z: f64, out: &mut Predictions) {
    let p1 = sigmoid(z);
    out.proba.push(1.0 - p1);
    out.proba.push(p1);
    // smartcore's rule: class 1 when σ > 0.5
    out.class.push(u32::from(p1 > 0.5));
}

/// A multinomial logistic row from its per-class scores: the softmax, and the first class of
/// the highest score.
#[inline]
fn push_softmax(z: impl Iterator<Item = f64>, out: &mut Predictions) {
    let start = out.proba.len();
    let mut max = f64::NEG_INFINITY;
    let mut arg = 0u32;
    for (c, z) in z.enumerate() {
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

#[cfg(test)]
mod tests {
    //! The compiled forest (perfect lock-step layout and pointer walk alike) must predict exactly
    //! what walking the [`FlatTree`] definition predicts, bit for bit; linear and logistic
    //! kernels score columns exactly as they score rows.
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::*;
    use crate::algorithm::Task;
    use crate::kernel::FlatTree;
    use crate::kernel::perfect::MAX_PERFECT_DEPTH;

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

    /// Bits of every prediction, to compare two scorings exactly (NaN included).
    fn bits(p: &Predictions) -> (Vec<u32>, Vec<u64>, Vec<u64>) {
        (
            p.class.clone(),
            p.proba.iter().map(|v| v.to_bits()).collect(),
            p.value.iter().map(|v| v.to_bits()).collect(),
        )
    }

    #[test]
    fn linear_and_logistic_kernels_score_columns_bit_for_bit_as_rows() {
        let mut rng = StdRng::seed_from_u64(14);
        let nf = 7;
        // signed zeros (a row of zero products must sum to the same zero), tiny and huge
        // values, NaN and infinities among ordinary ones
        let special = [0.0, -0.0, 1e-300, -1e300, f64::NAN, f64::INFINITY, 3.5];
        let n = 300;
        let columns: Vec<Vec<f64>> = (0..nf)
            .map(|_| {
                (0..n)
                    .map(|_| {
                        if rng.random_bool(0.2) {
                            special[rng.random_range(0..special.len())]
                        } else {
                            rng.random_range(-4.0..4.0)
                        }
                    })
                    .collect()
            })
            .collect();
        // the last row is all zeros
        let mut columns = columns;
        for c in &mut columns {
            c[n - 1] = -0.0;
        }
        let rows: Vec<f64> = (0..n)
            .flat_map(|r| columns.iter().map(move |c| c[r]))
            .collect();
        let slices: Vec<&[f64]> = columns.iter().map(Vec::as_slice).collect();
        let mut weights = || -> Vec<f64> { (0..nf).map(|_| rng.random_range(-2.0..2.0)).collect() };
        let kernels = [
            (
                Kernel::Logistic {
                    coefficients: vec![weights()],
                    intercepts: vec![0.25],
                },
                2,
            ),
            (
                Kernel::Logistic {
                    coefficients: vec![weights(), weights(), weights()],
                    intercepts: vec![0.1, -0.2, 0.0],
                },
                3,
            ),
            (
                Kernel::Linear {
                    coefficients: weights(),
                    intercept: -0.0,
                },
                0,
            ),
        ];
        for (kernel, k) in kernels {
            let compiled = CompiledKernel::new(&kernel, nf, k);
            assert!(compiled.scores_columns());
            let mut by_rows = Predictions::default();
            compiled.predict(&rows, &mut by_rows);
            let mut by_columns = Predictions::default();
            assert!(compiled.predict_columns(&slices, n, &mut by_columns));
            assert_eq!(bits(&by_columns), bits(&by_rows), "{kernel:?}");
            // too few columns, or too few values in one: not scored, nothing appended
            let mut none = Predictions::default();
            assert!(!compiled.predict_columns(&slices[1..], n, &mut none));
            assert!(!compiled.predict_columns(&slices, n + 1, &mut none));
            assert_eq!(bits(&none), bits(&Predictions::default()));
        }
    }
}
