//! A model ready to score: an artifact's header plus its compiled kernel (or, for k-NN, the
//! smartcore model itself).

use smartcore::linalg::basic::matrix::DenseMatrix;

use crate::algorithm::Task;
use crate::artifact::{self, ArtifactError, ArtifactHeader};
use crate::kernel::{CompiledKernel, Predictions};
pub use crate::knn::KnnModel;

/// A loaded, validated model.
#[derive(Debug)]
pub struct Model {
    /// The artifact's header (features, labels, metrics).
    pub header: ArtifactHeader,
    predictor: Predictor,
}

#[derive(Debug)]
enum Predictor {
    Kernel(CompiledKernel),
    Knn(Box<KnnModel>),
}

impl Model {
    /// Reads and validates an artifact; `source_name` names it in errors.
    pub fn from_slice(bytes: &[u8], source_name: &str) -> Result<Self, ArtifactError> {
        let loaded = artifact::from_slice(bytes, source_name)?;
        let h = loaded.header;
        let predictor = match (loaded.kernel, loaded.knn) {
            (Some(k), _) => Predictor::Kernel(CompiledKernel::new(
                &k,
                h.features.len(),
                h.class_labels.len(),
            )),
            (None, Some(knn)) => Predictor::Knn(Box::new(knn)),
            (None, None) => {
                return Err(ArtifactError::Corrupt {
                    source_name: source_name.to_owned(),
                    message: "it holds no model".into(),
                });
            }
        };
        Ok(Self {
            header: h,
            predictor,
        })
    }

    /// Builds a model from parts (training uses this to measure holdout metrics).
    pub fn from_parts(
        header: ArtifactHeader,
        kernel: Option<CompiledKernel>,
        knn: Option<KnnModel>,
    ) -> Option<Self> {
        let predictor = match (kernel, knn) {
            (Some(k), _) => Predictor::Kernel(k),
            (None, Some(k)) => Predictor::Knn(Box::new(k)),
            (None, None) => return None,
        };
        Some(Self { header, predictor })
    }

    /// Classification or regression.
    pub fn task(&self) -> Task {
        self.header.task
    }

    /// Number of features each row must supply.
    pub fn n_features(&self) -> usize {
        self.header.features.len()
    }

    /// For a voting forest or tree, its number of trees (see [`CompiledKernel::vote_trees`]).
    pub fn vote_trees(&self) -> Option<usize> {
        match &self.predictor {
            Predictor::Kernel(k) => k.vote_trees(),
            Predictor::Knn(_) => None,
        }
    }

    /// Whether [`predict_columns`](Self::predict_columns) scores this model: a linear or
    /// logistic kernel.
    pub fn scores_columns(&self) -> bool {
        match &self.predictor {
            Predictor::Kernel(k) => k.scores_columns(),
            Predictor::Knn(_) => false,
        }
    }

    /// Scores `n` rows given column by column, appending what [`predict`](Self::predict)
    /// appends for the same rows (see [`CompiledKernel::predict_columns`]); false when this
    /// model scores rows only, and then nothing is appended.
    pub fn predict_columns(&self, columns: &[&[f64]], n: usize, out: &mut Predictions) -> bool {
        match &self.predictor {
            Predictor::Kernel(k) => k.predict_columns(columns, n, out),
            Predictor::Knn(_) => false,
        }
    }

    /// Scores `x` (row-major, [`n_features`](Self::n_features) per row), appending to `out`.
    pub fn predict(&self, x: &[f64], out: &mut Predictions) -> Result<(), String> {
        match &self.predictor {
            Predictor::Kernel(k) => {
                k.predict(x, out);
                Ok(())
            }
            Predictor::Knn(knn) => {
                let nf = self.n_features();
                let n = x.len() / nf;
                if n == 0 {
                    return Ok(());
                }
                let k = self.header.class_labels.len();
                let m = DenseMatrix::new(n, nf, x.to_vec(), false)
                    .map_err(|e| format!("k-NN input matrix: {e}"))?;
                let y = knn.predict(&m).map_err(|e| format!("k-NN predict: {e}"))?;
                // smartcore's k-NN has no probabilities: the predicted class gets 1
                for c in y {
                    let c = usize::try_from(c)
                        .ok()
                        .filter(|&c| c < k)
                        .ok_or_else(|| format!("k-NN predicted unknown class {c}"))?;
                    out.class.push(c as u32);
                    out.proba
                        .extend((0..k).map(|j| if j == c { 1.0 } else { 0.0 }));
                }
                Ok(())
            }
        }
    }
}
