//! Models trained for the tests (smartcore, through the batch scorer's own training) and a
//! service over them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use stepscore_batch::artifact::Algorithm;
use stepscore_batch::train::{Dataset, HyperParams, train_dataset};
use stepscore_predict::{Limits, ModelSource, ModelUri, PredictService, ReloadingModel};

/// The classifier's features.
pub const FEATURES: [&str; 3] = ["age", "income", "tenure"];

/// An artifact over [`FEATURES`]: a churn classifier (`no`/`yes`) for `classifier`, else a
/// regressor. `seed` varies the data, so two seeds give two different models.
pub fn artifact(algorithm: Algorithm, seed: u64) -> Vec<u8> {
    static TRAINED: Mutex<BTreeMap<(&'static str, u64), Vec<u8>>> = Mutex::new(BTreeMap::new());
    let key = (algorithm.as_str(), seed);
    if let Some(bytes) = TRAINED.lock().unwrap().get(&key) {
        return bytes.clone();
    }
    let bytes = train(algorithm, seed);
    TRAINED.lock().unwrap().insert(key, bytes.clone());
    bytes
}

fn train(algorithm: Algorithm, seed: u64) -> Vec<u8> {
    let mut data = Dataset {
        features: FEATURES.iter().map(|f| f.to_string()).collect(),
        x: Vec::new(),
        target: Vec::new(),
    };
    let regression = algorithm.task() == stepscore_batch::algorithm::Task::Regression;
    for i in 0..120u64 {
        let age = 20.0 + ((i * 7 + seed * 13) % 50) as f64;
        let income = 1000.0 + ((i * 31 + seed) % 90) as f64 * 100.0;
        let tenure = ((i * 3 + seed * 5) % 24) as f64;
        data.x.extend([age, income, tenure]);
        let score = age * 0.05 - tenure * 0.2 + (seed as f64) * 0.3 - 1.0;
        data.target.push(if regression {
            format!("{}", age * 2.0 + tenure - income / 1000.0 + seed as f64)
        } else if score > 0.0 {
            "yes".into()
        } else {
            "no".into()
        });
    }
    let params = HyperParams {
        n_trees: 5,
        ..HyperParams::default()
    };
    let trained = train_dataset(&data, "train.csv", "churn", algorithm, 0.2, &params).unwrap();
    trained.artifact_json().unwrap()
}

/// Writes `bytes` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// A service named `churn` over the artifact at `path`, checked every `check_every`.
pub async fn service(path: &Path, check_every: Duration, limits: Limits) -> Arc<PredictService> {
    let source = ModelSource::new(ModelUri::parse(path.to_str().unwrap()).unwrap(), None).unwrap();
    let model = ReloadingModel::load(source, check_every).await.unwrap();
    Arc::new(PredictService::new("churn", model, limits))
}

/// The MD5 of `bytes` in hex: the version a local artifact is served as.
pub fn md5_hex(bytes: &[u8]) -> String {
    use md5::{Digest, Md5};
    Md5::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A JSON body's value.
pub fn json(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(body)))
}
