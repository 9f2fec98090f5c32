//! A model as it is served: the scorer's [`Model`] with the version it was read at and the
//! lookup of its features by name.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use stepscore_batch::model::Model;

/// A loaded, validated model and where it came from.
#[derive(Debug)]
pub struct ServedModel {
    /// The model that scores.
    pub model: Model,
    /// The version responses name (S3's ETag, or the MD5 of a local file).
    pub version: String,
    /// When this process loaded it.
    pub loaded_at: DateTime<Utc>,
    feature_index: HashMap<String, usize>,
}

impl ServedModel {
    /// A model read at `version` (see [`Model::from_slice`] for the checks it passed).
    pub fn new(model: Model, version: String) -> Self {
        let feature_index = model
            .header
            .features
            .iter()
            .enumerate()
            .map(|(i, f)| (f.clone(), i))
            .collect();
        Self {
            model,
            version,
            loaded_at: Utc::now(),
            feature_index,
        }
    }

    /// The model's feature names, in the order it takes them.
    pub fn features(&self) -> &[String] {
        &self.model.header.features
    }

    /// The position of feature `name`, if the model has it.
    pub fn feature_position(&self, name: &str) -> Option<usize> {
        self.feature_index.get(name).copied()
    }
}
