//! The checks a kernel passes before it is compiled: shapes fit the model's features and
//! classes, numbers are finite, trees are trees, so scoring a corrupt artifact cannot panic or
//! loop.

use super::{Combine, FlatTree, Kernel};
use crate::algorithm::Task;

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
