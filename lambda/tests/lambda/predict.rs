//! The predict function's init path as the binary runs it, over the S3 adapter against moto: the
//! artifact named by its settings is read from S3 at init, an API Gateway event is answered with
//! the version S3 holds, and a newly published artifact is picked up without a redeploy.

use std::sync::Arc;

use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use serde_json::Value;
use stepscore_aws::fixtures::store_with_bucket;
use stepscore_core::ObjectUri;
use stepscore_core::ports::{ObjectStore, unquoted};
use stepscore_lambda::predict::{PredictEnv, PredictSettings, answer, service};
use stepscore_predict::CheckOutcome;

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn event(name: &str) -> ApiGatewayV2httpRequest {
    serde_json::from_slice(&fixture(&format!("apigw/{name}"))).unwrap()
}

fn settings(uri: &str) -> PredictSettings {
    PredictSettings::from_env(PredictEnv {
        model_uri: Some(uri.to_owned()),
        // every request checks the ETag, so the reload below needs no waiting
        check_seconds: Some("0".into()),
        ..PredictEnv::default()
    })
    .unwrap()
}

#[tokio::test]
async fn the_function_loads_its_artifact_from_s3_and_answers_an_api_gateway_event() {
    let (store, bucket) = store_with_bucket().await;
    let uri = ObjectUri::new(&bucket, "models/churn.json").unwrap();
    let artifact = fixture("churn.json");
    let put = store.put_bytes(&uri, artifact.clone()).await.unwrap();
    let etag = unquoted(put.etag.as_deref().unwrap()).to_owned();
    let store: Arc<dyn ObjectStore> = Arc::new(store);

    let settings = settings(&format!("s3://{bucket}/models/churn.json"));
    assert_eq!(settings.name, "churn");
    let service = service(&settings, store.clone()).await.unwrap();

    let response = answer(&service, &event("predict-ok.json")).await;
    let wire = serde_json::to_value(&response).unwrap();
    let body: Value = serde_json::from_str(wire["body"].as_str().unwrap()).unwrap();
    assert_eq!(response.status_code, 200, "{body}");
    assert_eq!(wire["headers"]["content-type"], "application/json");
    assert_eq!(body["model_version"], Value::from(etag.as_str()), "{body}");
    assert_eq!(body["predictions"].as_array().unwrap().len(), 2, "{body}");

    // a new artifact published under the same key: the next request serves it
    let republished = String::from_utf8(artifact)
        .unwrap()
        .replace("\"seed\":42", "\"seed\":43")
        .into_bytes();
    let put = store.put_bytes(&uri, republished).await.unwrap();
    let new_etag = unquoted(put.etag.as_deref().unwrap()).to_owned();
    assert_ne!(new_etag, etag);
    let response = answer(&service, &event("predict-ok.json")).await;
    let body: Value = serde_json::from_str(&body_text(&response)).unwrap();
    assert_eq!(
        body["model_version"],
        Value::from(new_etag.as_str()),
        "{body}"
    );
    assert_eq!(
        service.model().check_now().await,
        CheckOutcome::Unchanged,
        "the reload happened in the request"
    );
}

#[tokio::test]
async fn an_artifact_missing_from_s3_fails_the_init_naming_it() {
    let (store, bucket) = store_with_bucket().await;
    let store: Arc<dyn ObjectStore> = Arc::new(store);
    let settings = settings(&format!("s3://{bucket}/models/absent.json"));
    let e = service(&settings, store).await.unwrap_err().to_string();
    assert!(
        e.contains(&format!("s3://{bucket}/models/absent.json")),
        "{e}"
    );
}

fn body_text(response: &aws_lambda_events::apigw::ApiGatewayV2httpResponse) -> String {
    match &response.body {
        Some(aws_lambda_events::encodings::Body::Text(t)) => t.clone(),
        other => panic!("not a text body: {other:?}"),
    }
}
