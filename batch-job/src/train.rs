//! Training: read a CSV, hold out a seeded share of rows, fit a smartcore model, measure it on
//! the holdout, and write the artifact.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use serde_json::{Value, json};
use smartcore::ensemble::random_forest_classifier::{
    RandomForestClassifier, RandomForestClassifierParameters,
};
use smartcore::ensemble::random_forest_regressor::{
    RandomForestRegressor, RandomForestRegressorParameters,
};
use smartcore::linalg::basic::arrays::Array;
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::linear::linear_regression::{
    LinearRegression, LinearRegressionParameters, LinearRegressionSolverName,
};
use smartcore::linear::logistic_regression::{LogisticRegression, LogisticRegressionParameters};
use smartcore::linear::ridge_regression::{RidgeRegression, RidgeRegressionParameters};
use smartcore::neighbors::knn_classifier::{KNNClassifier, KNNClassifierParameters};
use smartcore::tree::decision_tree_classifier::{
    DecisionTreeClassifier, DecisionTreeClassifierParameters, SplitCriterion,
};
use smartcore::tree::decision_tree_regressor::{
    DecisionTreeRegressor, DecisionTreeRegressorParameters,
};

use crate::artifact::{
    self, ARTIFACT_FORMAT, ARTIFACT_VERSION, Algorithm, ArtifactHeader, Metrics, SMARTCORE_VERSION,
    Task, TrainingInfo,
};
use crate::csvread::{self, ColumnPlan};
use crate::error::{Error, RowPlace};
use crate::kernel::{self, CompiledKernel, Kernel, Predictions};
use crate::model::{KnnModel, Model};
use crate::storage::{Location, Storage};

/// Split criterion of classification trees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Criterion {
    /// Gini impurity.
    Gini,
    /// Information gain.
    Entropy,
    /// Misclassification rate.
    ClassificationError,
}

/// Least-squares solver of linear regression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Solver {
    /// QR decomposition.
    Qr,
    /// Singular value decomposition.
    Svd,
}

/// Hyper-parameters; each algorithm reads the ones it has, defaults fill the rest.
#[derive(Debug, Clone, PartialEq, clap::Args, serde::Serialize)]
pub struct HyperParams {
    /// Regularisation strength (logistic and ridge regression).
    #[arg(long, default_value_t = 0.0)]
    pub alpha: f64,
    /// Number of trees (random forests).
    #[arg(long, default_value_t = 100)]
    pub n_trees: u16,
    /// Maximum tree depth (trees, forests); unlimited when absent.
    #[arg(long)]
    pub max_depth: Option<u16>,
    /// Minimum samples in a leaf (trees, forests).
    #[arg(long, default_value_t = 1)]
    pub min_samples_leaf: usize,
    /// Minimum samples to split a node (trees, forests).
    #[arg(long, default_value_t = 2)]
    pub min_samples_split: usize,
    /// Features tried per split (forests); √features when absent.
    #[arg(long)]
    pub mtry: Option<usize>,
    /// Split criterion (classification trees and forests).
    #[arg(long, value_enum, default_value_t = Criterion::Gini)]
    pub criterion: Criterion,
    /// Neighbours (k-NN).
    #[arg(long, default_value_t = 5)]
    pub k: usize,
    /// Solver (linear regression).
    #[arg(long, value_enum, default_value_t = Solver::Svd)]
    pub solver: Solver,
    /// Seed of the holdout shuffle and of the algorithm's randomness.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

impl Default for HyperParams {
    fn default() -> Self {
        Self {
            alpha: 0.0,
            n_trees: 100,
            max_depth: None,
            min_samples_leaf: 1,
            min_samples_split: 2,
            mtry: None,
            criterion: Criterion::Gini,
            k: 5,
            solver: Solver::Svd,
            seed: 42,
        }
    }
}

/// `train`: fit a model on a CSV and write its artifact.
#[derive(Debug, Clone, clap::Args)]
pub struct TrainArgs {
    /// Training CSV: a local path or s3://bucket/key.
    #[arg(long)]
    pub input: String,
    /// Where to write the model artifact (JSON): a local path or s3://bucket/key.
    #[arg(long)]
    pub output: String,
    /// The target column.
    #[arg(long)]
    pub target: String,
    /// The algorithm.
    #[arg(long, value_enum)]
    pub algorithm: Algorithm,
    /// Feature columns, comma-separated; default: every column but the target and --exclude.
    #[arg(long, value_delimiter = ',')]
    pub features: Vec<String>,
    /// Columns that are never features (ids), comma-separated; absent ones are ignored.
    #[arg(long, value_delimiter = ',', default_value = "id")]
    pub exclude: Vec<String>,
    /// Fraction of rows held out (seeded shuffle) to measure the model; 0 uses every row.
    #[arg(long, default_value_t = 0.2)]
    pub holdout: f64,
    /// Hyper-parameters.
    #[command(flatten)]
    pub params: HyperParams,
}

/// Training data in memory.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// Feature names.
    pub features: Vec<String>,
    /// Row-major features.
    pub x: Vec<f64>,
    /// Raw target values.
    pub target: Vec<String>,
}

impl Dataset {
    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.target.len()
    }
}

/// A fitted smartcore model.
#[derive(Debug)]
pub enum Fitted {
    /// Logistic regression.
    Logistic(LogisticRegression<f64, i64, DenseMatrix<f64>, Vec<i64>>),
    /// Random forest classifier.
    ForestClassifier(RandomForestClassifier<f64, i64, DenseMatrix<f64>, Vec<i64>>),
    /// Random forest regressor.
    ForestRegressor(RandomForestRegressor<f64, f64, DenseMatrix<f64>, Vec<f64>>),
    /// Decision tree classifier.
    TreeClassifier(DecisionTreeClassifier<f64, i64, DenseMatrix<f64>, Vec<i64>>),
    /// Decision tree regressor.
    TreeRegressor(DecisionTreeRegressor<f64, f64, DenseMatrix<f64>, Vec<f64>>),
    /// Linear regression.
    Linear(LinearRegression<f64, f64, DenseMatrix<f64>, Vec<f64>>),
    /// Ridge regression.
    Ridge(RidgeRegression<f64, f64, DenseMatrix<f64>, Vec<f64>>),
    /// k nearest neighbours.
    Knn(KnnModel),
}

/// What to fit on: label indices for classifiers, values for regressors.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// Class indices into the label list.
    Classes(Vec<i64>),
    /// Numbers.
    Values(Vec<f64>),
}

/// Fits `algorithm` on row-major `x` (`n_features` per row).
pub fn fit(
    algorithm: Algorithm,
    params: &HyperParams,
    x: &[f64],
    n_features: usize,
    y: &Target,
) -> Result<Fitted, String> {
    let n = x.len() / n_features.max(1);
    let m = DenseMatrix::new(n, n_features, x.to_vec(), false).map_err(|e| e.to_string())?;
    let criterion = match params.criterion {
        Criterion::Gini => SplitCriterion::Gini,
        Criterion::Entropy => SplitCriterion::Entropy,
        Criterion::ClassificationError => SplitCriterion::ClassificationError,
    };
    let err = |e: smartcore::error::Failed| e.to_string();
    let classes = || match y {
        Target::Classes(c) => Ok(c.clone()),
        Target::Values(_) => Err(format!("{} needs class labels", algorithm.as_str())),
    };
    let values = || match y {
        Target::Values(v) => Ok(v.clone()),
        Target::Classes(_) => Err(format!("{} needs numeric targets", algorithm.as_str())),
    };
    Ok(match algorithm {
        Algorithm::LogisticRegression => Fitted::Logistic(
            LogisticRegression::fit(
                &m,
                &classes()?,
                LogisticRegressionParameters::default().with_alpha(params.alpha),
            )
            .map_err(err)?,
        ),
        Algorithm::RandomForestClassifier => {
            let mut p = RandomForestClassifierParameters::default()
                .with_criterion(criterion)
                .with_n_trees(params.n_trees)
                .with_min_samples_leaf(params.min_samples_leaf)
                .with_min_samples_split(params.min_samples_split)
                .with_seed(params.seed);
            p.max_depth = params.max_depth;
            p.m = params.mtry;
            Fitted::ForestClassifier(RandomForestClassifier::fit(&m, &classes()?, p).map_err(err)?)
        }
        Algorithm::RandomForestRegressor => {
            let mut p = RandomForestRegressorParameters::default()
                .with_n_trees(params.n_trees as usize)
                .with_min_samples_leaf(params.min_samples_leaf)
                .with_min_samples_split(params.min_samples_split)
                .with_seed(params.seed);
            p.max_depth = params.max_depth;
            p.m = params.mtry;
            Fitted::ForestRegressor(RandomForestRegressor::fit(&m, &values()?, p).map_err(err)?)
        }
        Algorithm::DecisionTreeClassifier => {
            let mut p = DecisionTreeClassifierParameters::default()
                .with_criterion(criterion)
                .with_min_samples_leaf(params.min_samples_leaf)
                .with_min_samples_split(params.min_samples_split);
            p.max_depth = params.max_depth;
            p.seed = Some(params.seed);
            Fitted::TreeClassifier(DecisionTreeClassifier::fit(&m, &classes()?, p).map_err(err)?)
        }
        Algorithm::DecisionTreeRegressor => {
            let mut p = DecisionTreeRegressorParameters::default()
                .with_min_samples_leaf(params.min_samples_leaf)
                .with_min_samples_split(params.min_samples_split);
            p.max_depth = params.max_depth;
            p.seed = Some(params.seed);
            Fitted::TreeRegressor(DecisionTreeRegressor::fit(&m, &values()?, p).map_err(err)?)
        }
        Algorithm::LinearRegression => {
            let solver = match params.solver {
                Solver::Qr => LinearRegressionSolverName::QR,
                Solver::Svd => LinearRegressionSolverName::SVD,
            };
            Fitted::Linear(
                LinearRegression::fit(
                    &m,
                    &values()?,
                    LinearRegressionParameters::default().with_solver(solver),
                )
                .map_err(err)?,
            )
        }
        Algorithm::RidgeRegression => Fitted::Ridge(
            RidgeRegression::fit(
                &m,
                &values()?,
                RidgeRegressionParameters::default().with_alpha(params.alpha),
            )
            .map_err(err)?,
        ),
        Algorithm::KnnClassifier => Fitted::Knn(
            KNNClassifier::fit(
                &m,
                &classes()?,
                KNNClassifierParameters::default().with_k(params.k),
            )
            .map_err(err)?,
        ),
    })
}

impl Fitted {
    /// smartcore's own predict (class index as f64, or value): the reference the kernels are
    /// tested against.
    pub fn smartcore_predict(&self, x: &[f64], n_features: usize) -> Result<Vec<f64>, String> {
        let n = x.len() / n_features;
        let m = DenseMatrix::new(n, n_features, x.to_vec(), false).map_err(|e| e.to_string())?;
        let classes = |v: Vec<i64>| v.into_iter().map(|c| c as f64).collect();
        let e = |e: smartcore::error::Failed| e.to_string();
        Ok(match self {
            Fitted::Logistic(f) => classes(f.predict(&m).map_err(e)?),
            Fitted::ForestClassifier(f) => classes(f.predict(&m).map_err(e)?),
            Fitted::TreeClassifier(f) => classes(f.predict(&m).map_err(e)?),
            Fitted::Knn(f) => classes(f.predict(&m).map_err(e)?),
            Fitted::ForestRegressor(f) => f.predict(&m).map_err(e)?,
            Fitted::TreeRegressor(f) => f.predict(&m).map_err(e)?,
            Fitted::Linear(f) => f.predict(&m).map_err(e)?,
            Fitted::Ridge(f) => f.predict(&m).map_err(e)?,
        })
    }

    /// smartcore's serde form of the model.
    pub fn to_json(&self) -> Result<Value, serde_json::Error> {
        match self {
            Fitted::Logistic(f) => serde_json::to_value(f),
            Fitted::ForestClassifier(f) => serde_json::to_value(f),
            Fitted::ForestRegressor(f) => serde_json::to_value(f),
            Fitted::TreeClassifier(f) => serde_json::to_value(f),
            Fitted::TreeRegressor(f) => serde_json::to_value(f),
            Fitted::Linear(f) => serde_json::to_value(f),
            Fitted::Ridge(f) => serde_json::to_value(f),
            Fitted::Knn(f) => serde_json::to_value(f),
        }
    }

    /// The scoring kernel (none for k-NN); `smartcore_json` is [`to_json`](Self::to_json)'s result.
    pub fn kernel(
        &self,
        algorithm: Algorithm,
        smartcore_json: &Value,
    ) -> Result<Option<Kernel>, String> {
        Ok(match self {
            Fitted::Logistic(f) => {
                let w = f.coefficients();
                let b = f.intercept();
                let (rows, cols) = w.shape();
                Some(Kernel::Logistic {
                    coefficients: (0..rows)
                        .map(|r| (0..cols).map(|c| *w.get((r, c))).collect())
                        .collect(),
                    intercepts: (0..rows).map(|r| *b.get((r, 0))).collect(),
                })
            }
            Fitted::Linear(f) => Some(Kernel::Linear {
                coefficients: column(f.coefficients()),
                intercept: *f.intercept(),
            }),
            Fitted::Ridge(f) => Some(Kernel::Linear {
                coefficients: column(f.coefficients()),
                intercept: *f.intercept(),
            }),
            Fitted::Knn(_) => None,
            _ => Some(kernel::forest_from_smartcore(algorithm, smartcore_json)?),
        })
    }
}

/// The weights of an (n×1) or (1×n) matrix.
fn column(m: &DenseMatrix<f64>) -> Vec<f64> {
    let (r, c) = m.shape();
    if c == 1 {
        (0..r).map(|i| *m.get((i, 0))).collect()
    } else {
        (0..c).map(|j| *m.get((0, j))).collect()
    }
}

/// What `train` produced.
#[derive(Debug)]
pub struct Trained {
    /// The artifact header (with metrics).
    pub header: ArtifactHeader,
    /// smartcore's serde form.
    pub smartcore: Value,
    /// The scoring kernel.
    pub kernel: Option<Kernel>,
    /// The fitted model.
    pub fitted: Fitted,
}

impl Trained {
    /// The artifact document.
    pub fn artifact_json(&self) -> Result<Vec<u8>, serde_json::Error> {
        artifact::to_json(&self.header, &self.smartcore, self.kernel.as_ref())
    }
}

/// Reads the training CSV at `loc`: the chosen features and the target column.
pub fn load_dataset(
    storage: &Storage,
    loc: &Location,
    target: &str,
    features: &[String],
    exclude: &[String],
) -> Result<Dataset, Error> {
    let name = loc.to_string();
    let bad = |message: String| Error::BadInput {
        source_name: name.clone(),
        message,
    };
    let io = |e: csvread::ChunkError| match e {
        csvread::ChunkError::Io(e) => Error::io(loc, e),
        csvread::ChunkError::RecordTooLong { offset } => Error::BadInput {
            source_name: loc.to_string(),
            message: format!("the record at byte offset {offset} is too long"),
        },
    };
    let opened = csvread::open_piece(
        |range| storage.open(loc, range),
        0,
        None,
        csvread::CHUNK_BYTES,
    )
    .map_err(|e| match e {
        csvread::OpenError::Open(e) => e,
        csvread::OpenError::Chunk(e) => io(e),
    })?
    .ok_or_else(|| bad("the file is empty; training needs a header and rows".into()))?;
    let mut chunker = opened.chunker;
    let header_line = opened.header.as_slice();
    let names = csvread::parse_header(header_line).map_err(bad)?;
    let features: Vec<String> = if features.is_empty() {
        names
            .iter()
            .filter(|n| *n != target && !exclude.contains(n))
            .cloned()
            .collect()
    } else {
        features.to_vec()
    };
    if features.is_empty() {
        return Err(bad(format!(
            "no feature columns: the header has only {}",
            names.join(", ")
        )));
    }
    let plan = ColumnPlan::new(&names, &features, &[target.to_owned()]).map_err(bad)?;
    let mut data = Dataset {
        features: features.clone(),
        x: Vec::new(),
        target: Vec::new(),
    };
    let mut feats = vec![0.0; features.len()];
    let mut line = opened.first_line.unwrap_or(2);
    while let Some(chunk) = chunker.next_chunk().map_err(io)? {
        let mut pos = 0;
        for seg in csvread::records(&chunk.data, chunk.shape) {
            let here = line;
            line += csvread::line_breaks(seg.raw);
            let offset = chunk.offset + pos as u64;
            pos += seg.raw.len();
            let r = seg.record;
            if r.is_empty() {
                continue;
            }
            let mut t = String::new();
            plan.parse_with(r, &mut feats, |ids| {
                t = String::from_utf8_lossy(ids[0]).trim().to_owned();
            })
            .map_err(|f| Error::BadRow {
                place: RowPlace {
                    source: name.clone(),
                    line: Some(here),
                    byte_offset: offset,
                    unit: "line",
                },
                reason: f.reason,
            })?;
            data.x.extend_from_slice(&feats);
            data.target.push(t);
        }
    }
    Ok(data)
}

/// Trains on `data` (read from `source_name`) and measures the holdout.
pub fn train_dataset(
    data: &Dataset,
    source_name: &str,
    target: &str,
    algorithm: Algorithm,
    holdout: f64,
    params: &HyperParams,
) -> Result<Trained, Error> {
    let fail = |message: String| Error::Training {
        source_name: source_name.to_owned(),
        message,
    };
    if !(0.0..1.0).contains(&holdout) {
        return Err(Error::usage(format!(
            "--holdout {holdout} must be at least 0 and below 1"
        )));
    }
    let n = data.rows();
    let nf = data.features.len();
    let mut order: Vec<usize> = (0..n).collect();
    let mut rng = rand::rngs::StdRng::seed_from_u64(params.seed);
    order.shuffle(&mut rng);
    let n_holdout = (n as f64 * holdout).round() as usize;
    let (test_idx, train_idx) = order.split_at(n_holdout);
    if train_idx.len() < 2 {
        return Err(fail(format!(
            "{} training row(s) after holding out {n_holdout} of {n}; add rows or lower --holdout",
            train_idx.len()
        )));
    }
    let gather_x = |idx: &[usize]| -> Vec<f64> {
        let mut x = Vec::with_capacity(idx.len() * nf);
        for &i in idx {
            x.extend_from_slice(&data.x[i * nf..(i + 1) * nf]);
        }
        x
    };
    let task = algorithm.task();
    let (labels, y_train, y_test): (Vec<String>, Target, Target) = match task {
        Task::Classification => {
            // labels seen in training, numerically ordered when they are all integers
            let mut labels: Vec<String> =
                train_idx.iter().map(|&i| data.target[i].clone()).collect();
            labels.sort();
            labels.dedup();
            if labels.iter().all(|l| l.parse::<i64>().is_ok()) {
                labels.sort_by_key(|l| l.parse::<i64>().unwrap_or(0));
            }
            if labels.len() < 2 {
                return Err(fail(format!(
                    "target '{target}' has {} distinct value(s) in the training rows; a classifier needs at least 2",
                    labels.len()
                )));
            }
            let index = |v: &str| labels.iter().position(|l| l == v).map_or(-1, |p| p as i64);
            let tr = train_idx.iter().map(|&i| index(&data.target[i])).collect();
            let te = test_idx.iter().map(|&i| index(&data.target[i])).collect();
            (labels, Target::Classes(tr), Target::Classes(te))
        }
        Task::Regression => {
            let parse = |idx: &[usize]| -> Result<Vec<f64>, Error> {
                idx.iter()
                    .map(|&i| {
                        let t = &data.target[i];
                        t.parse::<f64>().ok().filter(|v| v.is_finite()).ok_or_else(|| {
                            fail(format!(
                                "target '{target}' value '{t}' (data row {}) is not a finite number",
                                i + 1
                            ))
                        })
                    })
                    .collect()
            };
            (
                Vec::new(),
                Target::Values(parse(train_idx)?),
                Target::Values(parse(test_idx)?),
            )
        }
    };
    let x_train = gather_x(train_idx);
    tracing::info!(
        algorithm = algorithm.as_str(),
        train_rows = train_idx.len(),
        holdout_rows = test_idx.len(),
        features = nf,
        "fitting"
    );
    let fitted = fit(algorithm, params, &x_train, nf, &y_train).map_err(fail)?;
    drop(x_train);
    let smartcore = fitted.to_json().map_err(|e| Error::Internal {
        message: format!("smartcore model serialisation: {e}"),
    })?;
    let kernel = fitted
        .kernel(algorithm, &smartcore)
        .map_err(|e| Error::Internal {
            message: format!("kernel extraction: {e}"),
        })?;
    let mut header = ArtifactHeader {
        format: ARTIFACT_FORMAT.to_owned(),
        format_version: ARTIFACT_VERSION,
        algorithm,
        task,
        smartcore_version: SMARTCORE_VERSION.to_owned(),
        created_at: chrono::Utc::now(),
        features: data.features.clone(),
        target: target.to_owned(),
        class_labels: labels,
        hyperparameters: hyperparameters_json(algorithm, params),
        training: TrainingInfo {
            source: source_name.to_owned(),
            rows: n,
            train_rows: train_idx.len(),
            holdout_fraction: holdout,
            seed: params.seed,
        },
        metrics: Metrics::default(),
    };
    if let Some(k) = &kernel {
        k.validate(nf, header.class_labels.len(), task)
            .map_err(|m| Error::Internal {
                message: format!("the kernel built from the fitted model is invalid: {m}"),
            })?;
    }
    if !test_idx.is_empty() {
        let compiled = kernel
            .as_ref()
            .map(|k| CompiledKernel::new(k, nf, header.class_labels.len()));
        let knn = match &fitted {
            Fitted::Knn(_) => Some(
                serde_json::from_value::<KnnModel>(smartcore.clone()).map_err(|e| {
                    Error::Internal {
                        message: format!("k-NN model round trip: {e}"),
                    }
                })?,
            ),
            _ => None,
        };
        let model =
            Model::from_parts(header.clone(), compiled, knn).ok_or_else(|| Error::Internal {
                message: "no predictor for the holdout".into(),
            })?;
        let mut preds = Predictions::default();
        model
            .predict(&gather_x(test_idx), &mut preds)
            .map_err(|m| Error::Internal { message: m })?;
        header.metrics = measure(&y_test, &preds, header.class_labels.len());
    }
    Ok(Trained {
        header,
        smartcore,
        kernel,
        fitted,
    })
}

fn hyperparameters_json(algorithm: Algorithm, p: &HyperParams) -> Value {
    match algorithm {
        Algorithm::LogisticRegression | Algorithm::RidgeRegression => json!({"alpha": p.alpha}),
        Algorithm::RandomForestClassifier => json!({
            "n_trees": p.n_trees, "max_depth": p.max_depth, "min_samples_leaf": p.min_samples_leaf,
            "min_samples_split": p.min_samples_split, "mtry": p.mtry, "criterion": p.criterion, "seed": p.seed,
        }),
        Algorithm::RandomForestRegressor => json!({
            "n_trees": p.n_trees, "max_depth": p.max_depth, "min_samples_leaf": p.min_samples_leaf,
            "min_samples_split": p.min_samples_split, "mtry": p.mtry, "seed": p.seed,
        }),
        Algorithm::DecisionTreeClassifier => json!({
            "max_depth": p.max_depth, "min_samples_leaf": p.min_samples_leaf,
            "min_samples_split": p.min_samples_split, "criterion": p.criterion, "seed": p.seed,
        }),
        Algorithm::DecisionTreeRegressor => json!({
            "max_depth": p.max_depth, "min_samples_leaf": p.min_samples_leaf,
            "min_samples_split": p.min_samples_split, "seed": p.seed,
        }),
        Algorithm::LinearRegression => json!({"solver": p.solver}),
        Algorithm::KnnClassifier => json!({"k": p.k}),
    }
}

/// Holdout metrics of `preds` against `truth`.
pub fn measure(truth: &Target, preds: &Predictions, n_classes: usize) -> Metrics {
    match truth {
        Target::Classes(y) => {
            let n = y.len();
            let correct = y
                .iter()
                .zip(&preds.class)
                .filter(|(t, p)| **t == **p as i64)
                .count();
            // one-vs-rest per class, macro-averaged; the binary case is class 1 alone
            let classes: Vec<usize> = if n_classes == 2 {
                vec![1]
            } else {
                (0..n_classes).collect()
            };
            let aucs: Vec<f64> = classes
                .iter()
                .filter_map(|&c| {
                    let scores: Vec<f64> = (0..n).map(|r| preds.proba[r * n_classes + c]).collect();
                    let positive: Vec<bool> = y.iter().map(|&t| t == c as i64).collect();
                    roc_auc(&scores, &positive)
                })
                .collect();
            Metrics {
                holdout_rows: n,
                accuracy: Some(correct as f64 / n as f64),
                roc_auc: (!aucs.is_empty()).then(|| aucs.iter().sum::<f64>() / aucs.len() as f64),
                ..Metrics::default()
            }
        }
        Target::Values(y) => {
            let n = y.len() as f64;
            let mean = y.iter().sum::<f64>() / n;
            let ss_res: f64 = y
                .iter()
                .zip(&preds.value)
                .map(|(t, p)| (t - p).powi(2))
                .sum();
            let ss_tot: f64 = y.iter().map(|t| (t - mean).powi(2)).sum();
            Metrics {
                holdout_rows: y.len(),
                rmse: Some((ss_res / n).sqrt()),
                r2: (ss_tot > 0.0).then(|| 1.0 - ss_res / ss_tot),
                ..Metrics::default()
            }
        }
    }
}

/// Area under the ROC curve by the rank-sum (Mann-Whitney) formula, ties sharing ranks; `None`
/// when either class is absent.
pub fn roc_auc(scores: &[f64], positive: &[bool]) -> Option<f64> {
    let n_pos = positive.iter().filter(|p| **p).count();
    let n_neg = positive.len() - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return None;
    }
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && scores[idx[j + 1]] == scores[idx[i]] {
            j += 1;
        }
        let avg_rank = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += idx[i..=j].iter().filter(|&&k| positive[k]).count() as f64 * avg_rank;
        i = j + 1;
    }
    let np = n_pos as f64;
    Some((rank_sum - np * (np + 1.0) / 2.0) / (np * n_neg as f64))
}

/// Runs `train`: read, fit, measure, write the artifact; returns what was written.
pub fn train(args: &TrainArgs, storage: &Storage) -> Result<Trained, Error> {
    let input = Location::parse(&args.input)?;
    let output = Location::parse(&args.output)?;
    if args.features.iter().any(|f| f == &args.target) {
        return Err(Error::usage(format!(
            "the target '{}' is also listed in --features; remove it",
            args.target
        )));
    }
    let data = load_dataset(storage, &input, &args.target, &args.features, &args.exclude)?;
    let trained = train_dataset(
        &data,
        &input.to_string(),
        &args.target,
        args.algorithm,
        args.holdout,
        &args.params,
    )?;
    let bytes = trained.artifact_json().map_err(|e| Error::Internal {
        message: format!("artifact serialisation: {e}"),
    })?;
    storage.write_small(&output, &bytes)?;
    let m = &trained.header.metrics;
    tracing::info!(
        artifact = %output,
        algorithm = args.algorithm.as_str(),
        holdout_rows = m.holdout_rows,
        accuracy = m.accuracy,
        roc_auc = m.roc_auc,
        rmse = m.rmse,
        r2 = m.r2,
        "model written"
    );
    Ok(trained)
}
