//! The KServe v1 shapes a client may send, and the answer to each mistake: status, and a message
//! naming the row, the feature and the fix.

use std::time::Duration;

use http::{Method, StatusCode};
use serde_json::{Value, json};
use stepscore_batch::artifact::Algorithm;
use stepscore_batch::kernel::Predictions;
use stepscore_batch::model::Model;
use stepscore_predict::{Limits, PredictService};

use crate::fixtures::{self, FEATURES};

const HOUR: Duration = Duration::from_secs(3600);

struct Setup {
    _dir: tempfile::TempDir,
    service: std::sync::Arc<PredictService>,
    artifact: Vec<u8>,
}

async fn setup(algorithm: Algorithm, limits: Limits) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let artifact = fixtures::artifact(algorithm, 1);
    let path = fixtures::write(dir.path(), "churn.json", &artifact);
    let service = fixtures::service(&path, HOUR, limits).await;
    Setup {
        _dir: dir,
        service,
        artifact,
    }
}

async fn post(service: &PredictService, body: &str) -> (StatusCode, Value) {
    let reply = service
        .handle(&Method::POST, "/v1/models/churn:predict", body.as_bytes())
        .await;
    (reply.status, fixtures::json(&reply.body))
}

/// Posts `body` and checks the status and that the error message holds each of `expected`.
async fn check(body: &str, status: StatusCode, expected: &[&str]) -> Value {
    let s = setup(Algorithm::LogisticRegression, Limits::default()).await;
    let (got, answer) = post(&s.service, body).await;
    assert_eq!(got, status, "{body} → {answer}");
    let message = answer["error"].as_str().unwrap_or_default();
    for part in expected {
        assert!(message.contains(part), "{body}: '{message}' lacks '{part}'");
    }
    answer
}

#[tokio::test]
async fn objects_by_name_and_arrays_in_feature_order_score_alike() {
    let s = setup(Algorithm::LogisticRegression, Limits::default()).await;
    let (status, by_name) = post(
        &s.service,
        r#"{"instances": [{"tenure": 3, "age": 61, "income": 4200.5}, {"age": 22, "income": 900, "tenure": 20}]}"#,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{by_name}");
    let (_, by_position) = post(
        &s.service,
        r#"{"instances": [[61, 4200.5, 3], [22, 900, 20]]}"#,
    )
    .await;
    assert_eq!(by_name, by_position);
    assert_eq!(by_name["model_name"], "churn");
    assert_eq!(by_name["model_version"], fixtures::md5_hex(&s.artifact));

    // the same numbers as the batch scorer's model
    let model = Model::from_slice(&s.artifact, "churn.json").unwrap();
    let mut out = Predictions::default();
    model
        .predict(&[61.0, 4200.5, 3.0, 22.0, 900.0, 20.0], &mut out)
        .unwrap();
    let predictions = by_name["predictions"].as_array().unwrap();
    assert_eq!(predictions.len(), 2);
    for (row, p) in predictions.iter().enumerate() {
        let labels = &model.header.class_labels;
        assert_eq!(p["label"], labels[out.class[row] as usize].as_str(), "{p}");
        for (j, label) in labels.iter().enumerate() {
            assert_eq!(p["probabilities"][label], out.proba[row * 2 + j], "{p}");
        }
    }
}

#[tokio::test]
async fn a_regressor_predicts_one_number_per_row() {
    let s = setup(Algorithm::LinearRegression, Limits::default()).await;
    let (status, answer) = post(&s.service, r#"{"instances": [[30, 2000, 5]]}"#).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let model = Model::from_slice(&s.artifact, "churn.json").unwrap();
    let mut out = Predictions::default();
    model.predict(&[30.0, 2000.0, 5.0], &mut out).unwrap();
    assert_eq!(answer["predictions"], json!([out.value[0]]));
}

#[tokio::test]
async fn every_algorithm_serves() {
    for algorithm in [
        Algorithm::LogisticRegression,
        Algorithm::RandomForestClassifier,
        Algorithm::RandomForestRegressor,
        Algorithm::DecisionTreeClassifier,
        Algorithm::DecisionTreeRegressor,
        Algorithm::LinearRegression,
        Algorithm::RidgeRegression,
        Algorithm::KnnClassifier,
    ] {
        let s = setup(algorithm, Limits::default()).await;
        let (status, answer) = post(&s.service, r#"{"instances": [[40, 5000, 12]]}"#).await;
        assert_eq!(status, StatusCode::OK, "{algorithm:?}: {answer}");
        assert_eq!(answer["predictions"].as_array().unwrap().len(), 1);
    }
}

#[tokio::test]
async fn no_instances_is_no_predictions() {
    let s = setup(Algorithm::LogisticRegression, Limits::default()).await;
    let (status, answer) = post(&s.service, r#"{"instances": []}"#).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["predictions"], json!([]));
}

#[tokio::test]
async fn a_body_that_is_not_json_is_400() {
    check(
        r#"{"instances": [[1, 2, 3]"#,
        StatusCode::BAD_REQUEST,
        &["not valid JSON"],
    )
    .await;
    check("", StatusCode::BAD_REQUEST, &["not valid JSON"]).await;
    check(
        r#"{"instances": [[1, 2, 3]]} trailing"#,
        StatusCode::BAD_REQUEST,
        &["not valid JSON"],
    )
    .await;
    check(
        r#"{"instances": [[1e999, 2, 3]]}"#,
        StatusCode::BAD_REQUEST,
        &["not valid JSON"],
    )
    .await;
}

#[tokio::test]
async fn deep_nesting_is_skipped_without_recursion() {
    // serde_json skips a value it ignores with a loop, not a recursion: 100,000 levels are one
    // bad feature, not a stack overflow
    let deep = format!("[{}1{}]", "[".repeat(100_000), "]".repeat(100_000));
    check(
        &format!(r#"{{"instances": [[{deep}, 2, 3]]}}"#),
        StatusCode::UNPROCESSABLE_ENTITY,
        &["feature 'age' of row 0 is an array, not a number"],
    )
    .await;
    check(
        &format!(r#"{{"extra": {deep}, "instances": []}}"#),
        StatusCode::BAD_REQUEST,
        &["field \"extra\""],
    )
    .await;
}

#[tokio::test]
async fn json_that_is_not_the_envelope_is_400() {
    check(
        "[[1, 2, 3]]",
        StatusCode::BAD_REQUEST,
        &["not a predict request", "instances"],
    )
    .await;
    check("{}", StatusCode::BAD_REQUEST, &["no \"instances\" field"]).await;
    check(
        r#"{"instances": {"age": 1}}"#,
        StatusCode::BAD_REQUEST,
        &["array of rows"],
    )
    .await;
    check(
        r#"{"inputs": [[1, 2, 3]]}"#,
        StatusCode::BAD_REQUEST,
        &["field \"inputs\"", "{\"instances\": [...]}"],
    )
    .await;
    check(
        r#"{"instances": [[1, 2, 3]], "instances": [[1, 2, 3]]}"#,
        StatusCode::BAD_REQUEST,
        &["given twice"],
    )
    .await;
}

#[tokio::test]
async fn bad_rows_are_422_naming_row_and_feature() {
    let answer = check(
        r#"{"instances": [
            {"age": 30, "income": 1000, "tenure": 2},
            {"age": 30, "income": "lots", "tenure": 2},
            {"age": 30, "tenure": 2},
            {"age": 30, "incme": 1000, "tenure": 2},
            [30, 1000],
            {"age": null, "income": 1000, "tenure": 2, "age": 4},
            7
        ]}"#,
        StatusCode::UNPROCESSABLE_ENTITY,
        &[
            "feature 'income' of row 1 is the string \"lots\", not a number",
            "row 2 is missing feature 'income'",
            "row 3 has 'incme', which is not a feature of the model; did you mean 'income'?",
            "row 4 has 2 values but the model takes 3, in this order: age, income, tenure",
            "feature 'age' of row 5 is null",
            "row 5 gives feature 'age' twice",
            "row 6 is a number; send an object keyed by feature name or an array of 3 numbers",
        ],
    )
    .await;
    let problems = answer["problems"].as_array().unwrap();
    let rows_and_features: Vec<(u64, Option<&str>)> = problems
        .iter()
        .map(|p| (p["row"].as_u64().unwrap(), p["feature"].as_str()))
        .collect();
    assert_eq!(
        rows_and_features,
        [
            (1, Some("income")),
            (2, Some("income")),
            (3, Some("incme")),
            (3, Some("income")),
            (4, None),
            (5, Some("age")),
            (5, Some("age")),
            (6, None),
        ]
    );
    assert!(answer.get("more_problems").is_none(), "{answer}");
}

#[tokio::test]
async fn problems_past_the_first_twenty_are_counted() {
    let rows = vec![r#"{"age": "x", "income": 1, "tenure": 1}"#; 25].join(",");
    let answer = check(
        &format!(r#"{{"instances": [{rows}]}}"#),
        StatusCode::UNPROCESSABLE_ENTITY,
        &["row 19", "and 5 more problems"],
    )
    .await;
    assert_eq!(answer["problems"].as_array().unwrap().len(), 20);
    assert_eq!(answer["more_problems"], 5);
}

#[tokio::test]
async fn too_many_rows_or_bytes_is_413() {
    let limits = Limits {
        max_rows: 3,
        max_body_bytes: 200,
        ..Limits::default()
    };
    let s = setup(Algorithm::LogisticRegression, limits).await;
    let (status, _) = post(&s.service, r#"{"instances": [[1,2,3],[1,2,3],[1,2,3]]}"#).await;
    assert_eq!(status, StatusCode::OK);
    let (status, answer) = post(
        &s.service,
        r#"{"instances": [[1,2,3],[1,2,3],[1,2,3],[1,2,3]]}"#,
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("more than 3 instances"),
        "{answer}"
    );
    let big = format!(
        r#"{{"instances": [[1,2,3]], "pad": "{}"}}"#,
        "x".repeat(200)
    );
    let (status, answer) = post(&s.service, &big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        answer["error"].as_str().unwrap().contains("over 200 bytes"),
        "{answer}"
    );
}

#[tokio::test]
async fn routes_methods_and_model_names() {
    let s = setup(Algorithm::LogisticRegression, Limits::default()).await;
    let svc = &s.service;
    let body = br#"{"instances": [[1, 2, 3]]}"#;
    let other = svc
        .handle(&Method::POST, "/v1/models/other:predict", body)
        .await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
    assert!(
        String::from_utf8_lossy(&other.body)
            .contains("model 'other' is not served here; this server serves 'churn'")
    );
    let nowhere = svc.handle(&Method::GET, "/predict", b"").await;
    assert_eq!(nowhere.status, StatusCode::NOT_FOUND);
    let get_predict = svc
        .handle(&Method::GET, "/v1/models/churn:predict", b"")
        .await;
    assert_eq!(get_predict.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(get_predict.allow, Some(Method::POST));
    // API Gateway passes the path as sent: an encoded colon is the same route
    let encoded = svc
        .handle(&Method::POST, "/v1/models/churn%3Apredict", body)
        .await;
    assert_eq!(encoded.status, StatusCode::OK);
    let list = svc.handle(&Method::GET, "/v1/models", b"").await;
    assert_eq!(fixtures::json(&list.body), json!({"models": ["churn"]}));
}

#[tokio::test]
async fn metadata_describes_the_artifact_and_the_version_serving() {
    let s = setup(Algorithm::RandomForestClassifier, Limits::default()).await;
    let reply = s
        .service
        .handle(&Method::GET, "/v1/models/churn", b"")
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let meta = fixtures::json(&reply.body);
    let model = Model::from_slice(&s.artifact, "churn.json").unwrap();
    assert_eq!(meta["name"], "churn");
    assert_eq!(meta["ready"], true);
    assert_eq!(meta["version"], fixtures::md5_hex(&s.artifact));
    assert_eq!(meta["algorithm"], "random-forest-classifier");
    assert_eq!(meta["task"], "classification");
    assert_eq!(meta["features"], json!(FEATURES));
    assert_eq!(meta["class_labels"], json!(model.header.class_labels));
    assert_eq!(meta["trained_at"], json!(model.header.created_at));
    assert_eq!(meta["metrics"], json!(model.header.metrics));
    assert!(meta["metrics"]["accuracy"].is_number(), "{meta}");
    assert!(meta["source"].as_str().unwrap().ends_with("churn.json"));
}

/// Whatever the body, the answer is a JSON 200 or 4xx: never a 500 or a panic.
mod any_body {
    use proptest::prelude::*;

    use super::*;

    fn valid_bodies() -> impl Strategy<Value = Vec<u8>> {
        let value = prop_oneof![
            any::<f64>().prop_map(|v| json!(v)),
            any::<i64>().prop_map(|v| json!(v)),
            ".{0,8}".prop_map(|s| json!(s)),
            Just(Value::Null),
            any::<bool>().prop_map(|b| json!(b)),
        ];
        let name = prop_oneof![Just("age"), Just("income"), Just("tenure"), Just("x")];
        let row = prop_oneof![
            proptest::collection::vec(value.clone(), 0..5).prop_map(Value::from),
            proptest::collection::vec((name, value), 0..5).prop_map(|kv| {
                Value::Object(kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
            }),
        ];
        proptest::collection::vec(row, 0..6)
            .prop_map(|rows| serde_json::to_vec(&json!({ "instances": rows })).unwrap())
    }

    fn bodies() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            valid_bodies(),
            // a valid body cut short or with a byte changed
            (valid_bodies(), any::<prop::sample::Index>(), any::<u8>()).prop_map(
                |(mut b, i, byte)| {
                    let at = i.index(b.len().max(1));
                    if at < b.len() {
                        b[at] = byte;
                    }
                    b
                }
            ),
            (valid_bodies(), any::<prop::sample::Index>())
                .prop_map(|(b, i)| b[..i.index(b.len() + 1)].to_vec()),
            proptest::collection::vec(any::<u8>(), 0..64),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn never_a_server_error(body in bodies()) {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let reply = rt.block_on(async {
                let s = setup(Algorithm::LogisticRegression, Limits { max_rows: 4, ..Limits::default() }).await;
                s.service.handle(&Method::POST, "/v1/models/churn:predict", &body).await
            });
            prop_assert!(
                [StatusCode::OK, StatusCode::BAD_REQUEST, StatusCode::PAYLOAD_TOO_LARGE, StatusCode::UNPROCESSABLE_ENTITY].contains(&reply.status),
                "{} for {}", reply.status, String::from_utf8_lossy(&body)
            );
            let answer: Value = serde_json::from_slice(&reply.body).unwrap();
            prop_assert_eq!(reply.status == StatusCode::OK, answer.get("predictions").is_some());
        }
    }
}
