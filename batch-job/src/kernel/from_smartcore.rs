//! Trees and forests read from smartcore's serde form of a fitted model and flattened into a
//! [`Kernel`].

use serde::Deserialize;
use serde_json::Value;

use super::{Combine, FlatTree, Kernel};
use crate::algorithm::Algorithm;

/// Builds the tree/forest kernel from smartcore's serde form of a fitted model.
///
/// smartcore 0.7 keeps tree nodes private; their serde form is the supported way to read them.
/// `classes` maps smartcore's class values to label indices (classifiers only).
pub fn forest_from_smartcore(algorithm: Algorithm, model: &Value) -> Result<Kernel, String> {
    use Algorithm as A;
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

// smartcore's serde form of its trees and forests, as far as the kernel needs it

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

/// One smartcore tree as a [`FlatTree`]; `classes` maps its leaves' outputs to label indices.
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
