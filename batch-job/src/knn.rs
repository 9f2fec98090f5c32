//! k nearest neighbours: smartcore's classifier as `train` fits it, and its rebuilding from an
//! artifact.
//!
//! k-NN is the one algorithm scored by smartcore itself rather than by a flattened kernel, so an
//! artifact carries smartcore's serde form of it; that form is checked part by part and the model
//! fitted again from the checked parts, never deserialized whole.

use serde::Deserialize;
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::metrics::distance::euclidian::Euclidian;
use smartcore::neighbors::knn_classifier::KNNClassifier;

/// smartcore's k-NN classifier as trained here: f64 features, label indices as classes.
pub type KnnModel = KNNClassifier<f64, i64, DenseMatrix<f64>, Vec<i64>, Euclidian<f64>>;

/// The parts of smartcore's serde form of a k-NN classifier that define it: training rows, their
/// label indices, the label values, k and the weighting. smartcore's fields are private; their
/// serde names are the supported way to read them (as for trees in [`crate::kernel`]).
#[derive(Deserialize)]
pub(crate) struct KnnParts {
    classes: Option<Vec<i64>>,
    y: Option<Vec<usize>>,
    knn_algorithm: Option<KnnIndex>,
    weight: Option<smartcore::neighbors::KNNWeightFunction>,
    k: Option<usize>,
}

/// smartcore's search index: both kinds hold the training rows as `data`.
#[derive(Deserialize)]
enum KnnIndex {
    LinearSearch(KnnData),
    CoverTree(KnnData),
}

#[derive(Deserialize)]
struct KnnData {
    data: Vec<Vec<f64>>,
}

impl KnnParts {
    /// Checks every part (shapes, ranges, finiteness; one pass each) and fits smartcore's k-NN
    /// again on the checked rows, which builds its index the way training did.
    pub(crate) fn rebuild(self, n_features: usize, n_labels: usize) -> Result<KnnModel, String> {
        use smartcore::algorithm::neighbour::KNNAlgorithmName;
        use smartcore::linalg::basic::matrix::DenseMatrix;
        use smartcore::neighbors::knn_classifier::KNNClassifierParameters;

        let (Some(classes), Some(y), Some(index), Some(k)) =
            (self.classes, self.y, self.knn_algorithm, self.k)
        else {
            return Err("it is not fitted (classes, y, index or k missing)".into());
        };
        // The index is rebuilt as a linear search whatever training used: smartcore's cover tree
        // recurses once per scale level between the farthest and nearest points, and finite
        // values far apart (1e-300 beside 1e300) overflow the stack while building it (found by
        // artifact_mutations). A linear search has no recursion and finds the same neighbours.
        let rows = match index {
            KnnIndex::LinearSearch(d) | KnnIndex::CoverTree(d) => d.data,
        };
        let algorithm = KNNAlgorithmName::LinearSearch;
        if classes.is_empty() {
            return Err("the class list is empty".into());
        }
        if let Some((i, c)) = classes
            .iter()
            .enumerate()
            .find(|&(_, &c)| usize::try_from(c).map_or(true, |c| c >= n_labels))
        {
            return Err(format!(
                "class {i} is label {c}, not one of the {n_labels} class labels"
            ));
        }
        if rows.is_empty() {
            return Err("it holds no training rows".into());
        }
        if rows.len() != y.len() {
            return Err(format!(
                "{} training rows but {} labels",
                rows.len(),
                y.len()
            ));
        }
        if let Some((i, r)) = rows.iter().enumerate().find(|(_, r)| r.len() != n_features) {
            return Err(format!(
                "training row {i} has {} values for {n_features} features",
                r.len()
            ));
        }
        if let Some(i) = rows.iter().position(|r| r.iter().any(|v| !v.is_finite())) {
            return Err(format!("training row {i} holds a value that is not finite"));
        }
        if let Some((i, c)) = y.iter().enumerate().find(|&(_, &c)| c >= classes.len()) {
            return Err(format!(
                "training row {i} has class {c}, not one of 0..{}",
                classes.len()
            ));
        }
        if k == 0 || k > rows.len() {
            return Err(format!(
                "k is {k}, outside 1..={} (the training rows)",
                rows.len()
            ));
        }
        let n = rows.len();
        let x = DenseMatrix::new(n, n_features, rows.into_iter().flatten().collect(), false)
            .map_err(|e| format!("training rows: {e}"))?;
        let labels: Vec<i64> = y.iter().map(|&c| classes[c]).collect();
        let params = KNNClassifierParameters::default()
            .with_k(k)
            .with_algorithm(algorithm)
            .with_weight(self.weight.unwrap_or_default());
        KnnModel::fit(&x, &labels, params).map_err(|e| format!("rebuilding the index: {e}"))
    }
}
