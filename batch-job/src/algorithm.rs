//! The learning algorithms `train` offers and what each predicts: the vocabulary the artifact,
//! the kernels and the scorer share, kept below all three so none of them depends on another for
//! it.

use serde::{Deserialize, Serialize};

/// The learning algorithms `train` offers (all from smartcore 0.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Algorithm {
    /// Logistic regression (binary: sigmoid; more classes: multinomial softmax).
    LogisticRegression,
    /// Random forest of classification trees.
    RandomForestClassifier,
    /// Random forest of regression trees.
    RandomForestRegressor,
    /// One classification tree.
    DecisionTreeClassifier,
    /// One regression tree.
    DecisionTreeRegressor,
    /// Ordinary least squares.
    LinearRegression,
    /// L2-regularised least squares.
    RidgeRegression,
    /// k nearest neighbours classifier (Euclidean distance).
    KnnClassifier,
}

impl Algorithm {
    /// The artifact spelling, e.g. `random-forest-classifier`.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::LogisticRegression => "logistic-regression",
            Algorithm::RandomForestClassifier => "random-forest-classifier",
            Algorithm::RandomForestRegressor => "random-forest-regressor",
            Algorithm::DecisionTreeClassifier => "decision-tree-classifier",
            Algorithm::DecisionTreeRegressor => "decision-tree-regressor",
            Algorithm::LinearRegression => "linear-regression",
            Algorithm::RidgeRegression => "ridge-regression",
            Algorithm::KnnClassifier => "knn-classifier",
        }
    }

    /// Whether the model predicts a class (else a number).
    pub fn task(self) -> Task {
        match self {
            Algorithm::LogisticRegression
            | Algorithm::RandomForestClassifier
            | Algorithm::DecisionTreeClassifier
            | Algorithm::KnnClassifier => Task::Classification,
            Algorithm::RandomForestRegressor
            | Algorithm::DecisionTreeRegressor
            | Algorithm::LinearRegression
            | Algorithm::RidgeRegression => Task::Regression,
        }
    }
}

/// What a model predicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Task {
    /// A class label, with one probability per class.
    Classification,
    /// A number.
    Regression,
}
