//! Scoring kernels: trained models flattened into contiguous arrays that score a block of rows
//! at a time.
//!
//! smartcore's predict walks one row at a time through generic matrix accessors and has no
//! probabilities for logistic regression; these kernels read the fitted parameters once (trees
//! through smartcore's serde form, whose node fields are private) and score with plain loops.
//! Their agreement with smartcore's own predict is what the crate's tests check.
//!
//! # Layout
//! - this file: the kernel format an artifact carries ([`Kernel`], [`FlatTree`]) and
//!   [`Predictions`].
//! - `validate`: the checks a kernel passes before it is compiled (bounds, finiteness, trees
//!   that are trees).
//! - `compiled`: [`CompiledKernel`], the form that scores, and the pointer walk of trees.
//! - `perfect`: the padded lock-step layout of shallow forests.
//! - `from_smartcore`: trees and forests read from smartcore's serde form.
//! - `read`: [`Kernel`]'s `Deserialize`, which reads a forest straight into its arrays.

mod compiled;
mod from_smartcore;
mod perfect;
mod read;
mod validate;

use serde::{Deserialize, Serialize};

pub use compiled::{CompiledKernel, sigmoid};
pub use from_smartcore::forest_from_smartcore;
pub use validate::MAX_TREE_DEPTH;

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

/// A model in the form the scorer runs. Written as an object tagged by `kind`
/// (`"logistic"`, `"linear"`, `"forest"`); read by `read`'s hand-written `Deserialize`, which
/// accepts the same documents.
#[derive(Debug, Clone, PartialEq, Serialize)]
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

/// JSON has no NaN: serde_json writes it as null, so thresholds round-trip NaN through null.
mod nan_as_null {
    use std::fmt;

    use serde::de::{SeqAccess, Visitor};
    use serde::{Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(v: &[f64], s: S) -> Result<S::Ok, S::Error> {
        let opt: Vec<Option<f64>> = v.iter().map(|x| (!x.is_nan()).then_some(*x)).collect();
        opt.serialize(s)
    }

    /// Straight into the `Vec<f64>`, without a `Vec<Option<f64>>` between.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
        struct Numbers;
        impl<'de> Visitor<'de> for Numbers {
            type Value = Vec<f64>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array of numbers or nulls")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<f64>, A::Error> {
                // a hostile size hint must not reserve memory the array does not hold
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 16));
                while let Some(x) = seq.next_element::<Option<f64>>()? {
                    out.push(x.unwrap_or(f64::NAN));
                }
                Ok(out)
            }
        }
        d.deserialize_seq(Numbers)
    }
}
