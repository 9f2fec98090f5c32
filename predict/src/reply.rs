//! The JSON bodies the service answers with: predictions, model metadata and errors.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use stepscore_batch::algorithm::Task;
use stepscore_batch::artifact::{Algorithm, Metrics, TrainingInfo};
use stepscore_batch::kernel::Predictions;

use crate::instances::{Problem, Rows};
use crate::served::ServedModel;

/// Scores `rows` and writes `{"model_name", "model_version", "predictions": [...]}`: per row a
/// number (regressors), or `{"label", "probabilities": {label: p}}` (classifiers).
pub fn predictions(name: &str, served: &ServedModel, rows: &Rows) -> Result<Vec<u8>, String> {
    let mut out = Predictions::default();
    if rows.count > 0 {
        served.model.predict(&rows.values, &mut out)?;
    }
    let body = PredictBody {
        model_name: name,
        model_version: &served.version,
        predictions: PredictionList {
            served,
            out: &out,
            count: rows.count,
        },
    };
    serde_json::to_vec(&body).map_err(|e| format!("writing the predictions: {e}"))
}

/// `GET /v1/models/<name>`: what the artifact says about itself and which version serves.
pub fn metadata(name: &str, source: &str, served: &ServedModel) -> Vec<u8> {
    let h = &served.model.header;
    let body = MetadataBody {
        name,
        ready: true,
        version: &served.version,
        source,
        loaded_at: served.loaded_at,
        algorithm: h.algorithm,
        task: h.task,
        features: &h.features,
        target: &h.target,
        class_labels: &h.class_labels,
        trained_at: h.created_at,
        metrics: &h.metrics,
        training: &h.training,
        hyperparameters: &h.hyperparameters,
        artifact_format_version: h.format_version,
        smartcore_version: &h.smartcore_version,
    };
    serde_json::to_vec(&body).unwrap_or_else(|e| error(&format!("writing the metadata: {e}")))
}

/// `{"error": message}`.
pub fn error(message: &str) -> Vec<u8> {
    serde_json::to_vec(&ErrorBody {
        error: message,
        problems: None,
        more_problems: None,
    })
    .unwrap_or_else(|_| b"{\"error\":\"unprintable error\"}".to_vec())
}

/// `{"error": summary, "problems": [{row, feature, message}], "more_problems": n}`.
pub fn problems(message: &str, problems: &[Problem], more: usize) -> Vec<u8> {
    serde_json::to_vec(&ErrorBody {
        error: message,
        problems: Some(problems),
        more_problems: (more > 0).then_some(more),
    })
    .unwrap_or_else(|_| b"{\"error\":\"unprintable error\"}".to_vec())
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    problems: Option<&'a [Problem]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    more_problems: Option<usize>,
}

#[derive(Serialize)]
struct MetadataBody<'a> {
    name: &'a str,
    ready: bool,
    version: &'a str,
    source: &'a str,
    loaded_at: DateTime<Utc>,
    algorithm: Algorithm,
    task: Task,
    features: &'a [String],
    target: &'a str,
    class_labels: &'a [String],
    trained_at: DateTime<Utc>,
    metrics: &'a Metrics,
    training: &'a TrainingInfo,
    hyperparameters: &'a serde_json::Value,
    artifact_format_version: u32,
    smartcore_version: &'a str,
}

#[derive(Serialize)]
struct PredictBody<'a> {
    model_name: &'a str,
    model_version: &'a str,
    predictions: PredictionList<'a>,
}

struct PredictionList<'a> {
    served: &'a ServedModel,
    out: &'a Predictions,
    count: usize,
}

impl Serialize for PredictionList<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let header = &self.served.model.header;
        let mut seq = s.serialize_seq(Some(self.count))?;
        match header.task {
            Task::Regression => {
                for v in self.out.value.iter().take(self.count) {
                    seq.serialize_element(v)?;
                }
            }
            Task::Classification => {
                let labels = &header.class_labels;
                let k = labels.len();
                for (row, &class) in self.out.class.iter().take(self.count).enumerate() {
                    seq.serialize_element(&Classified {
                        label: labels.get(class as usize).map_or("", String::as_str),
                        labels,
                        proba: self.out.proba.get(row * k..(row + 1) * k).unwrap_or(&[]),
                    })?;
                }
            }
        }
        seq.end()
    }
}

struct Classified<'a> {
    label: &'a str,
    labels: &'a [String],
    proba: &'a [f64],
}

impl Serialize for Classified<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(2))?;
        map.serialize_entry("label", self.label)?;
        map.serialize_entry("probabilities", &Probabilities(self.labels, self.proba))?;
        map.end()
    }
}

struct Probabilities<'a>(&'a [String], &'a [f64]);

impl Serialize for Probabilities<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (label, p) in self.0.iter().zip(self.1) {
            map.serialize_entry(label, p)?;
        }
        map.end()
    }
}
