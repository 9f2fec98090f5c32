//! The model artifact: a self-describing, versioned JSON document holding a trained model.
//!
//! An artifact carries what a scorer needs to use it safely (feature names in order, target,
//! class labels, algorithm, the smartcore version that fitted it), what a reader wants to know
//! (hyper-parameters, holdout metrics, created-at), and what scores: for trees, forests, logistic
//! and linear models the flattened [`Kernel`] the scorer runs, for k-NN smartcore's own serde form
//! of the model (its training rows, from which the search index is built again).
//!
//! Version 2 writes smartcore's form only for k-NN. Version 1 wrote it for every algorithm, though
//! nothing read it where a kernel scores: for a 50-tree forest it was 6.8 MB of a 7.7 MB artifact
//! that every load had to scan and every version check had to hash. Version 1 is still read (the
//! `model` field is skipped where a kernel scores, as it always was).
//!
//! Reading is strict: an artifact of another format, of an unknown or newer version, or a
//! truncated or corrupt document is refused with an [`ArtifactError`] that says which.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

pub use crate::algorithm::{Algorithm, Task};
use crate::kernel::Kernel;
use crate::knn::{KnnModel, KnnParts};

/// The `format` field every artifact carries.
pub const ARTIFACT_FORMAT: &str = "stepscore-model";
/// The artifact format version this build writes (and the newest it reads).
pub const ARTIFACT_VERSION: u32 = 2;
/// The oldest artifact format version this build reads.
pub const OLDEST_ARTIFACT_VERSION: u32 = 1;
/// The smartcore version this build fits models with.
pub const SMARTCORE_VERSION: &str = "0.7.0";

/// Holdout metrics measured at training time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Metrics {
    /// Rows in the holdout set (0 when training used every row).
    pub holdout_rows: usize,
    /// Fraction of holdout rows classified correctly.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub accuracy: Option<f64>,
    /// Area under the ROC curve (binary; macro one-vs-rest for more classes).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub roc_auc: Option<f64>,
    /// Root mean squared error.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub rmse: Option<f64>,
    /// Coefficient of determination.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub r2: Option<f64>,
}

/// How the training data was used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingInfo {
    /// Where the training data came from.
    pub source: String,
    /// Data rows read.
    pub rows: usize,
    /// Rows the model was fitted on.
    pub train_rows: usize,
    /// Fraction of rows held out for metrics.
    pub holdout_fraction: f64,
    /// Seed of the holdout shuffle and of the algorithm.
    pub seed: u64,
}

/// Everything in an artifact except the model itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArtifactHeader {
    /// Always [`ARTIFACT_FORMAT`].
    pub format: String,
    /// The format version the artifact was written in.
    pub format_version: u32,
    /// The algorithm.
    pub algorithm: Algorithm,
    /// Classification or regression.
    pub task: Task,
    /// The smartcore version that fitted the model.
    pub smartcore_version: String,
    /// When the artifact was written.
    pub created_at: DateTime<Utc>,
    /// Feature column names, in the order the model takes them.
    pub features: Vec<String>,
    /// The target column the model was trained on.
    pub target: String,
    /// Class labels in model order (empty for regression); smartcore's classes are indices here.
    pub class_labels: Vec<String>,
    /// The hyper-parameters as given.
    pub hyperparameters: Value,
    /// How the training data was split.
    pub training: TrainingInfo,
    /// Holdout metrics.
    pub metrics: Metrics,
}

/// Why an artifact cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    /// The document ends early.
    #[error(
        "model artifact {source_name} is truncated ({message}); re-upload it or train the model again"
    )]
    Truncated {
        source_name: String,
        message: String,
    },
    /// The document is not valid JSON, a field has the wrong shape, or the model's structure is
    /// unsound (where, in `message`).
    #[error(
        "corrupt model artifact: {message} (in {source_name}); train the model again or restore the artifact"
    )]
    Corrupt {
        source_name: String,
        message: String,
    },
    /// The document is JSON but not a stepscore model artifact.
    #[error(
        "{source_name} is not a stepscore model artifact (format is {found}, expected '{ARTIFACT_FORMAT}'); pass the JSON file `stepscore train` wrote"
    )]
    NotAnArtifact { source_name: String, found: String },
    /// The format version is newer than this build reads.
    #[error(
        "model artifact {source_name} has format version {found}, newer than the newest this build reads ({ARTIFACT_VERSION}); upgrade stepscore"
    )]
    NewerVersion { source_name: String, found: u32 },
    /// The format version is not one this build knows.
    #[error(
        "model artifact {source_name} has an unknown format version {found}; this build reads versions {OLDEST_ARTIFACT_VERSION} to {ARTIFACT_VERSION}"
    )]
    UnknownVersion { source_name: String, found: String },
    /// The algorithm is not one this build knows.
    #[error(
        "model artifact {source_name} names an unknown algorithm '{found}'; upgrade stepscore or retrain"
    )]
    UnknownAlgorithm { source_name: String, found: String },
}

/// A loaded artifact: the header and what scores.
#[derive(Debug)]
pub struct LoadedArtifact {
    /// Everything but the model.
    pub header: ArtifactHeader,
    /// The flattened kernel (trees, forests, logistic, linear).
    pub kernel: Option<Kernel>,
    /// The smartcore model, kept only where no kernel exists (k-NN).
    pub knn: Option<KnnModel>,
}

/// Writes an artifact as JSON: the header and what scores, the kernel or (where there is none,
/// k-NN) smartcore's serde form of the model.
pub fn to_json(
    header: &ArtifactHeader,
    smartcore_model: &Value,
    kernel: Option<&Kernel>,
) -> Result<Vec<u8>, serde_json::Error> {
    #[derive(Serialize)]
    struct Out<'a> {
        #[serde(flatten)]
        header: &'a ArtifactHeader,
        #[serde(skip_serializing_if = "Option::is_none")]
        model: Option<&'a Value>,
        kernel: Option<&'a Kernel>,
    }
    serde_json::to_vec(&Out {
        header,
        model: kernel.is_none().then_some(smartcore_model),
        kernel,
    })
}

/// Reads an artifact, checking format, version and shape; `source_name` names it in errors.
///
/// One scan of the document finds its top-level fields without interpreting them; the format,
/// version and algorithm are checked first (so an artifact of a newer version is refused as
/// such, not as a shape this build does not know), then the header's fields and the kernel are
/// read from their own text. smartcore's form of a tree or forest, which version 1 wrote, is
/// scanned but not read: a forest's tree of JSON values would cost many times the artifact's
/// size in memory, and the kernel is what scores.
pub fn from_slice(bytes: &[u8], source_name: &str) -> Result<LoadedArtifact, ArtifactError> {
    let fields: Fields = parse(bytes, source_name)?;
    // these three are small: read as JSON values, whatever their type, to say what they hold
    let value =
        |raw: Option<&RawValue>| raw.and_then(|r| serde_json::from_str::<Value>(r.get()).ok());
    match value(fields.format) {
        Some(Value::String(s)) if s == ARTIFACT_FORMAT => {}
        other => {
            return Err(ArtifactError::NotAnArtifact {
                source_name: source_name.to_owned(),
                found: other.map_or("missing".to_owned(), |v| format!("'{v}'")),
            });
        }
    }
    let version = value(fields.format_version);
    let format_version = match version.as_ref().and_then(Value::as_u64) {
        Some(v)
            if (u64::from(OLDEST_ARTIFACT_VERSION)..=u64::from(ARTIFACT_VERSION)).contains(&v) =>
        {
            v as u32
        }
        Some(v) if v > u64::from(ARTIFACT_VERSION) && v <= u64::from(u32::MAX) => {
            return Err(ArtifactError::NewerVersion {
                source_name: source_name.to_owned(),
                found: v as u32,
            });
        }
        _ => {
            return Err(ArtifactError::UnknownVersion {
                source_name: source_name.to_owned(),
                found: version.map_or("(missing)".to_owned(), |v| v.to_string()),
            });
        }
    };
    let algorithm = match fields
        .algorithm
        .map(|raw| serde_json::from_str::<Algorithm>(raw.get()))
    {
        Some(Ok(a)) => a,
        _ => {
            return Err(ArtifactError::UnknownAlgorithm {
                source_name: source_name.to_owned(),
                found: value(fields.algorithm).map_or("(missing)".to_owned(), |v| v.to_string()),
            });
        }
    };
    let read = Reader { source_name };
    let header = ArtifactHeader {
        format: ARTIFACT_FORMAT.to_owned(),
        format_version,
        algorithm,
        task: read.field("task", fields.task)?,
        smartcore_version: read.field("smartcore_version", fields.smartcore_version)?,
        created_at: read.field("created_at", fields.created_at)?,
        features: read.field("features", fields.features)?,
        target: read.field("target", fields.target)?,
        class_labels: read.field("class_labels", fields.class_labels)?,
        hyperparameters: read.field("hyperparameters", fields.hyperparameters)?,
        training: read.field("training", fields.training)?,
        metrics: read.field("metrics", fields.metrics)?,
    };
    // a missing kernel reads as null, as serde reads a missing `Option` field
    let kernel: Option<Kernel> = read.field("kernel", fields.kernel.or(Some(RawValue::NULL)))?;
    if algorithm == Algorithm::KnnClassifier {
        // smartcore's search index (a cover tree) is not checked node by node: the artifact's
        // training rows and labels are validated and the index is built again from them, so
        // nothing in it is taken on trust
        if kernel.is_some() {
            // the model scores with a kernel wherever one is present: one here would score in
            // place of the k-NN model the header names, and unchecked
            return Err(
                read.corrupt("a k-NN artifact has no kernel, but `kernel` is not null".into())
            );
        }
        let parts: KnnParts = read.field("model", fields.model)?;
        check_consistency(&header, None, source_name)?;
        let knn = parts
            .rebuild(header.features.len(), header.class_labels.len())
            .map_err(|message| read.corrupt(format!("k-NN model: {message}")))?;
        return Ok(LoadedArtifact {
            header,
            kernel: None,
            knn: Some(knn),
        });
    }
    check_consistency(&header, kernel.as_ref(), source_name)?;
    Ok(LoadedArtifact {
        header,
        kernel,
        knn: None,
    })
}

fn check_consistency(
    h: &ArtifactHeader,
    kernel: Option<&Kernel>,
    source_name: &str,
) -> Result<(), ArtifactError> {
    let corrupt = |message: String| ArtifactError::Corrupt {
        source_name: source_name.to_owned(),
        message,
    };
    if h.task != h.algorithm.task() {
        return Err(corrupt(format!(
            "task '{:?}' does not match algorithm {}",
            h.task,
            h.algorithm.as_str()
        )));
    }
    if h.features.is_empty() {
        return Err(corrupt("the feature list is empty".into()));
    }
    if h.task == Task::Classification && h.class_labels.len() < 2 {
        return Err(corrupt(format!(
            "a classifier needs at least 2 class labels, found {}",
            h.class_labels.len()
        )));
    }
    match kernel {
        Some(k) => k
            .validate(h.features.len(), h.class_labels.len(), h.task)
            .map_err(|m| corrupt(format!("kernel: {m}"))),
        None if h.algorithm == Algorithm::KnnClassifier => Ok(()),
        None => Err(corrupt(format!(
            "no kernel for algorithm {}",
            h.algorithm.as_str()
        ))),
    }
}

/// The artifact's top-level fields as they are written, not yet read; fields this build does
/// not know are skipped. `None` is a missing field; the format, version and algorithm also read
/// `null` as missing, the others hand it to their type, as a derived `Deserialize` would.
#[derive(Deserialize)]
struct Fields<'a> {
    #[serde(borrow)]
    format: Option<&'a RawValue>,
    #[serde(borrow)]
    format_version: Option<&'a RawValue>,
    #[serde(borrow)]
    algorithm: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    task: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    smartcore_version: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    created_at: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    features: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    target: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    class_labels: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    hyperparameters: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    training: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    metrics: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    model: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    kernel: Option<&'a RawValue>,
}

/// A field that is present, `null` included.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(d).map(Some)
}

/// Reads one top-level field from its text, naming it in errors.
struct Reader<'a> {
    source_name: &'a str,
}

impl Reader<'_> {
    fn field<'de, T: Deserialize<'de>>(
        &self,
        name: &str,
        raw: Option<&'de RawValue>,
    ) -> Result<T, ArtifactError> {
        let raw = raw.ok_or_else(|| self.corrupt(format!("missing field `{name}`")))?;
        serde_json::from_str(raw.get()).map_err(|e| self.corrupt(format!("field `{name}`: {e}")))
    }

    fn corrupt(&self, message: String) -> ArtifactError {
        ArtifactError::Corrupt {
            source_name: self.source_name.to_owned(),
            message,
        }
    }
}

fn parse<'a, T: Deserialize<'a>>(bytes: &'a [u8], source_name: &str) -> Result<T, ArtifactError> {
    serde_json::from_slice(bytes).map_err(|e| {
        if e.is_eof() {
            ArtifactError::Truncated {
                source_name: source_name.to_owned(),
                message: format!("the JSON ends at line {} column {}", e.line(), e.column()),
            }
        } else {
            ArtifactError::Corrupt {
                source_name: source_name.to_owned(),
                message: e.to_string(),
            }
        }
    })
}
