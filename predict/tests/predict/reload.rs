//! A new artifact is picked up without a restart, at most once per check interval, from a file
//! or from the object store; a broken one never replaces a working model; requests in flight
//! during a reload all succeed with a consistent version.

use std::sync::Arc;
use std::time::Duration;

use http::{Method, StatusCode};
use stepscore_batch::artifact::Algorithm;
use stepscore_core::ObjectUri;
use stepscore_core::ports::{ObjectStore, unquoted};
use stepscore_predict::{CheckOutcome, Limits, ModelSource, ModelUri, ReloadingModel};

use crate::fixtures;

const ROW: &[u8] = br#"{"instances": [[45, 3000, 6]]}"#;

#[tokio::test]
async fn a_changed_file_is_served_after_the_next_check() {
    let dir = tempfile::tempdir().unwrap();
    let (v1, v2) = (
        fixtures::artifact(Algorithm::LogisticRegression, 1),
        fixtures::artifact(Algorithm::LogisticRegression, 2),
    );
    let path = fixtures::write(dir.path(), "churn.json", &v1);
    let service = fixtures::service(&path, Duration::from_millis(300), Limits::default()).await;
    let version = |body: &[u8]| fixtures::json(body)["model_version"].clone();

    std::fs::write(&path, &v2).unwrap();
    // not yet due: the loaded version answers
    let before = service
        .handle(&Method::POST, "/v1/models/churn:predict", ROW)
        .await;
    assert_eq!(version(&before.body), fixtures::md5_hex(&v1));
    tokio::time::sleep(Duration::from_millis(350)).await;
    let after = service
        .handle(&Method::POST, "/v1/models/churn:predict", ROW)
        .await;
    assert_eq!(after.status, StatusCode::OK);
    assert_eq!(version(&after.body), fixtures::md5_hex(&v2));
    let meta = service.handle(&Method::GET, "/v1/models/churn", b"").await;
    assert_eq!(
        fixtures::json(&meta.body)["version"],
        fixtures::md5_hex(&v2)
    );
}

#[tokio::test]
async fn checks_are_at_most_one_per_interval() {
    let dir = tempfile::tempdir().unwrap();
    let path = fixtures::write(
        dir.path(),
        "churn.json",
        &fixtures::artifact(Algorithm::LogisticRegression, 1),
    );
    let source = ModelSource::new(ModelUri::parse(path.to_str().unwrap()).unwrap(), None).unwrap();
    let model = ReloadingModel::load(source, Duration::from_secs(3600))
        .await
        .unwrap();
    assert_eq!(model.check_if_due().await, CheckOutcome::NotDue);
    assert_eq!(model.check_now().await, CheckOutcome::Unchanged);
    let zero = ReloadingModel::load(model.source().clone(), Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(zero.check_if_due().await, CheckOutcome::Unchanged);
}

#[tokio::test]
async fn a_broken_artifact_leaves_the_working_model_serving() {
    let dir = tempfile::tempdir().unwrap();
    let v1 = fixtures::artifact(Algorithm::LogisticRegression, 1);
    let path = fixtures::write(dir.path(), "churn.json", &v1);
    let service = fixtures::service(&path, Duration::ZERO, Limits::default()).await;
    std::fs::write(&path, &v1[..v1.len() / 2]).unwrap();
    match service.model().check_now().await {
        CheckOutcome::Failed { message } => {
            assert!(message.contains("truncated"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    let reply = service
        .handle(&Method::POST, "/v1/models/churn:predict", ROW)
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        fixtures::json(&reply.body)["model_version"],
        fixtures::md5_hex(&v1)
    );
    std::fs::remove_file(&path).unwrap();
    assert!(matches!(
        service.model().check_now().await,
        CheckOutcome::Failed { .. }
    ));
    let reply = service
        .handle(&Method::POST, "/v1/models/churn:predict", ROW)
        .await;
    assert_eq!(reply.status, StatusCode::OK);
}

#[tokio::test]
async fn a_model_that_cannot_be_loaded_at_start_names_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("absent.json");
    let source =
        ModelSource::new(ModelUri::parse(missing.to_str().unwrap()).unwrap(), None).unwrap();
    let err = ReloadingModel::load(source, Duration::ZERO)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("absent.json"), "{err}");
    let path = fixtures::write(dir.path(), "notes.json", br#"{"hello": 1}"#);
    let source = ModelSource::new(ModelUri::parse(path.to_str().unwrap()).unwrap(), None).unwrap();
    let err = ReloadingModel::load(source, Duration::ZERO)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("not a stepscore model artifact"),
        "{err}"
    );
    let uri = ModelUri::parse("s3://bucket/model.json").unwrap();
    assert!(
        ModelSource::new(uri, None)
            .unwrap_err()
            .to_string()
            .contains("no object store")
    );
}

#[tokio::test]
async fn an_object_is_reloaded_when_its_etag_changes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("models")).unwrap();
    let store: Arc<dyn ObjectStore> =
        Arc::new(stepscore_dirstore::DirStore::open(dir.path()).unwrap());
    let uri = ObjectUri::parse("s3://models/churn/v.json").unwrap();
    let v1 = fixtures::artifact(Algorithm::DecisionTreeClassifier, 1);
    let v2 = fixtures::artifact(Algorithm::DecisionTreeClassifier, 2);
    let put1 = store.put_bytes(&uri, v1.clone()).await.unwrap();
    let source = ModelSource::new(ModelUri::Object(uri.clone()), Some(store.clone())).unwrap();
    assert_eq!(source.uri().stem(), "v");
    let model = ReloadingModel::load(source, Duration::ZERO).await.unwrap();
    assert_eq!(
        model.current().version,
        unquoted(put1.etag.as_deref().unwrap())
    );
    assert_eq!(model.check_if_due().await, CheckOutcome::Unchanged);
    let put2 = store.put_bytes(&uri, v2).await.unwrap();
    let version = unquoted(put2.etag.as_deref().unwrap()).to_owned();
    assert_eq!(
        model.check_if_due().await,
        CheckOutcome::Reloaded {
            version: version.clone()
        }
    );
    assert_eq!(model.current().version, version);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn requests_in_flight_during_reloads_all_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let artifacts = [
        fixtures::artifact(Algorithm::LogisticRegression, 1),
        fixtures::artifact(Algorithm::LogisticRegression, 2),
    ];
    let expected: Vec<(String, serde_json::Value)> = artifacts
        .iter()
        .map(|a| (fixtures::md5_hex(a), single_answer(a)))
        .collect();
    let path = fixtures::write(dir.path(), "churn.json", &artifacts[0]);
    let service = fixtures::service(&path, Duration::ZERO, Limits::default()).await;
    let writer = {
        let (path, artifacts) = (path.clone(), artifacts.clone());
        tokio::spawn(async move {
            for i in 0..40 {
                // replace by rename, as a deploy does: a reader sees one whole file or the other
                let tmp = path.with_extension("tmp");
                std::fs::write(&tmp, &artifacts[(i + 1) % 2]).unwrap();
                std::fs::rename(&tmp, &path).unwrap();
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    let clients: Vec<_> = (0..8)
        .map(|_| {
            let service = service.clone();
            tokio::spawn(async move {
                let mut seen = Vec::new();
                for _ in 0..60 {
                    let reply = service
                        .handle(&Method::POST, "/v1/models/churn:predict", ROW)
                        .await;
                    assert_eq!(
                        reply.status,
                        StatusCode::OK,
                        "{}",
                        String::from_utf8_lossy(&reply.body)
                    );
                    seen.push(fixtures::json(&reply.body));
                }
                seen
            })
        })
        .collect();
    writer.await.unwrap();
    let mut versions = std::collections::BTreeSet::new();
    for client in clients {
        for answer in client.await.unwrap() {
            let version = answer["model_version"].as_str().unwrap().to_owned();
            let (_, predictions) = expected
                .iter()
                .find(|(v, _)| *v == version)
                .unwrap_or_else(|| panic!("unknown version {version}"));
            // the predictions are those of the version the answer names
            assert_eq!(&answer["predictions"], predictions);
            versions.insert(version);
        }
    }
    assert_eq!(versions.len(), 2, "both versions served: {versions:?}");
}

/// The predictions of `artifact` for [`ROW`], from the batch scorer's model.
fn single_answer(artifact: &[u8]) -> serde_json::Value {
    let model = stepscore_batch::model::Model::from_slice(artifact, "a").unwrap();
    let mut out = stepscore_batch::kernel::Predictions::default();
    model.predict(&[45.0, 3000.0, 6.0], &mut out).unwrap();
    let labels = &model.header.class_labels;
    let probabilities: serde_json::Map<String, serde_json::Value> = labels
        .iter()
        .zip(&out.proba)
        .map(|(l, p)| (l.clone(), serde_json::json!(p)))
        .collect();
    serde_json::json!([{ "label": labels[out.class[0] as usize], "probabilities": probabilities }])
}
