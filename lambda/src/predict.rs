//! The `stepscore-predict` function: one model artifact served behind an API Gateway HTTP API.
//!
//! API Gateway sends each request as a payload format 2.0 event; [`answer`] turns it into the
//! method, path and body [`PredictService::handle`] takes and its [`Reply`] into the 2.0
//! response. Nothing here fails: a client's mistake (a body that is not base64 though the event
//! says so, a bad path, bad JSON) is a 4xx reply, never a function error, which API Gateway would
//! turn into a bare 500.
//!
//! The settings come from the function's environment ([`PredictEnv`], read by the binary) and
//! are checked once at init ([`PredictSettings`]), so a misconfigured function fails to start
//! with a message naming the variable, instead of answering every request with an error.

use std::sync::Arc;
use std::time::Duration;

use crate::http_api::{BodyError, json_response, request_body, request_path};
use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use http::{Method, StatusCode};
use stepscore_core::ports::ObjectStore;
use stepscore_predict::source::SourceError;

use stepscore_predict::{
    Limits, LoadError, ModelSource, ModelUri, PredictService, ReloadingModel, Reply,
};

/// The function's environment as read (each `None` when unset); see
/// `handlers/lambda-functions.json`.
#[derive(Debug, Clone, Default)]
pub struct PredictEnv {
    /// `STEPSCORE_MODEL_URI`: the artifact, `s3://bucket/key`.
    pub model_uri: Option<String>,
    /// `STEPSCORE_MODEL_NAME`: the name served (default: the artifact's file stem).
    pub model_name: Option<String>,
    /// `STEPSCORE_MODEL_CHECK_SECONDS`: seconds between checks for a new artifact version.
    pub check_seconds: Option<String>,
    /// `STEPSCORE_MAX_BODY_BYTES`: the largest request body.
    pub max_body_bytes: Option<String>,
    /// `STEPSCORE_MAX_ROWS`: the most instances per request.
    pub max_rows: Option<String>,
}

/// Seconds between checks for a new artifact version when `STEPSCORE_MODEL_CHECK_SECONDS` is
/// unset: one HEAD per warm instance per half minute.
pub const DEFAULT_CHECK_SECONDS: u64 = 30;

/// The checked settings of the function.
#[derive(Debug, Clone, PartialEq)]
pub struct PredictSettings {
    /// Where the artifact is.
    pub uri: ModelUri,
    /// The name it is served under.
    pub name: String,
    /// How often the artifact's ETag is checked.
    pub check_every: Duration,
    /// What one request may hold.
    pub limits: Limits,
}

/// Why the function's settings are unusable.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// A required variable is unset or empty.
    #[error(
        "environment variable {name} is not set: {purpose} (see handlers/lambda-functions.json)"
    )]
    Missing {
        name: &'static str,
        purpose: &'static str,
    },
    /// A variable does not hold what it must.
    #[error("environment variable {name} is '{value}': {expected}")]
    Invalid {
        name: &'static str,
        value: String,
        expected: &'static str,
    },
    /// The model URI is not an S3 location.
    #[error(
        "environment variable STEPSCORE_MODEL_URI is '{0}': the function reads its artifact from S3; give s3://bucket/key"
    )]
    NotS3(String),
    /// The model URI does not parse.
    #[error("environment variable STEPSCORE_MODEL_URI: {0}")]
    Uri(#[from] SourceError),
}

impl PredictSettings {
    /// Checks the environment as read; the limits default to [`Limits::default`] (6 MiB, Lambda's
    /// synchronous payload limit, and 10,000 rows).
    pub fn from_env(env: PredictEnv) -> Result<Self, SettingsError> {
        let uri_text = env
            .model_uri
            .filter(|v| !v.is_empty())
            .ok_or(SettingsError::Missing {
                name: "STEPSCORE_MODEL_URI",
                purpose: "the model artifact the function serves, s3://bucket/key",
            })?;
        let uri = ModelUri::parse(&uri_text)?;
        if !matches!(uri, ModelUri::Object(_)) {
            return Err(SettingsError::NotS3(uri_text));
        }
        let name = match env.model_name.filter(|v| !v.is_empty()) {
            Some(name) if name.contains('/') || name.contains(':') => {
                return Err(SettingsError::Invalid {
                    name: "STEPSCORE_MODEL_NAME",
                    value: name,
                    expected: "a model name is one path segment: no '/' and no ':'",
                });
            }
            Some(name) => name,
            None => uri.stem(),
        };
        let defaults = Limits::default();
        let check_seconds = number(
            "STEPSCORE_MODEL_CHECK_SECONDS",
            env.check_seconds,
            DEFAULT_CHECK_SECONDS as usize,
            0,
        )?;
        Ok(Self {
            uri,
            name,
            check_every: Duration::from_secs(check_seconds as u64),
            limits: Limits {
                max_body_bytes: number(
                    "STEPSCORE_MAX_BODY_BYTES",
                    env.max_body_bytes,
                    defaults.max_body_bytes,
                    1,
                )?,
                max_rows: number("STEPSCORE_MAX_ROWS", env.max_rows, defaults.max_rows, 1)?,
                ..defaults
            },
        })
    }
}

fn number(
    name: &'static str,
    value: Option<String>,
    default: usize,
    least: usize,
) -> Result<usize, SettingsError> {
    match value.filter(|v| !v.is_empty()) {
        None => Ok(default),
        Some(v) => match v.trim().parse::<usize>() {
            Ok(n) if n >= least => Ok(n),
            _ => Err(SettingsError::Invalid {
                name,
                value: v,
                expected: if least == 0 {
                    "a whole number of 0 or more"
                } else {
                    "a whole number of 1 or more"
                },
            }),
        },
    }
}

/// The service the function runs: the artifact loaded through `store` (the S3 adapter on
/// Lambda), served as `settings.name`.
pub async fn service(
    settings: &PredictSettings,
    store: Arc<dyn ObjectStore>,
) -> Result<PredictService, LoadError> {
    let source = ModelSource::new(settings.uri.clone(), Some(store))?;
    let model = ReloadingModel::load(source, settings.check_every).await?;
    Ok(PredictService::new(
        settings.name.clone(),
        model,
        settings.limits,
    ))
}

/// Answers one API Gateway HTTP API request (payload format 2.0).
pub async fn answer(
    service: &PredictService,
    event: &ApiGatewayV2httpRequest,
) -> ApiGatewayV2httpResponse {
    let method = &event.request_context.http.method;
    let path = request_path(event);
    let reply = match body(event, service.limits().max_body_bytes) {
        Ok(body) => service.handle(method, &path, &body).await,
        Err(reply) => reply,
    };
    response(reply)
}

/// The request body, or the reply that refuses it.
fn body(event: &ApiGatewayV2httpRequest, limit: usize) -> Result<Vec<u8>, Reply> {
    request_body(event, limit).map_err(|e| match e {
        BodyError::TooLarge => Reply::body_too_large(limit),
        BodyError::NotBase64(_) => Reply::error(StatusCode::BAD_REQUEST, &e.to_string()),
    })
}

fn response(reply: Reply) -> ApiGatewayV2httpResponse {
    json_response(
        reply.status.as_u16(),
        reply.body,
        reply.allow.as_ref().map(Method::as_str),
    )
}

#[cfg(test)]
mod tests {
    //! The translation driven by API Gateway's own event shape (`tests/fixtures/apigw`, see its
    //! README for the source), over a real trained artifact.

    use std::path::Path;

    use serde_json::Value;

    use super::*;

    /// A churn classifier over age, income and tenure: `stepscore train` on
    /// `tests/fixtures/churn-train.csv` (see the fixtures' README).
    fn artifact() -> Vec<u8> {
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/churn.json"))
            .unwrap()
    }

    async fn service_with(limits: Limits) -> (PredictService, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("churn.json");
        std::fs::write(&path, artifact()).unwrap();
        let source = ModelSource::new(ModelUri::Local(path), None).unwrap();
        let model = ReloadingModel::load(source, Duration::from_secs(3600))
            .await
            .unwrap();
        (PredictService::new("churn", model, limits), dir)
    }

    fn event(name: &str) -> ApiGatewayV2httpRequest {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/apigw/{name}"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    /// Answers fixture `name` with a service within `limits`; the status, the headers and the
    /// JSON body of the response as Lambda hands it back to API Gateway.
    async fn check_with(name: &str, limits: Limits) -> (i64, Value, Value) {
        let (service, _dir) = service_with(limits).await;
        let response = answer(&service, &event(name)).await;
        // what API Gateway reads: the response serialized by the runtime
        let wire = serde_json::to_value(&response).unwrap();
        // the 2.0 response format API Gateway documents: statusCode, headers, body, isBase64Encoded
        assert_eq!(wire["statusCode"], response.status_code, "{name}");
        assert_eq!(wire["isBase64Encoded"], false, "{name}");
        assert_eq!(
            wire["headers"]["content-type"], "application/json",
            "{name}"
        );
        let body: Value = serde_json::from_str(wire["body"].as_str().unwrap())
            .unwrap_or_else(|e| panic!("{name}: the body is not JSON: {e}"));
        (response.status_code, wire["headers"].clone(), body)
    }

    async fn check(name: &str) -> (i64, Value, Value) {
        check_with(name, Limits::default()).await
    }

    #[tokio::test]
    async fn a_predict_request_scores_each_instance_and_names_the_version() {
        let (status, _, body) = check("predict-ok.json").await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["model_name"], "churn");
        assert_eq!(body["model_version"].as_str().unwrap().len(), 32, "{body}");
        let predictions = body["predictions"].as_array().unwrap();
        assert_eq!(predictions.len(), 2, "{body}");
        for p in predictions {
            assert!(["yes", "no"].contains(&p["label"].as_str().unwrap()), "{p}");
            let total: f64 = ["yes", "no"]
                .iter()
                .map(|l| p["probabilities"][l].as_f64().unwrap())
                .sum();
            assert!((total - 1.0).abs() < 1e-9, "{p}");
        }
    }

    #[tokio::test]
    async fn a_base64_encoded_body_is_decoded_and_scores_as_the_plain_one() {
        let (plain_status, _, plain) = check("predict-ok.json").await;
        let (status, _, decoded) = check("base64-body.json").await;
        assert_eq!((status, plain_status), (200, 200), "{decoded}");
        assert_eq!(decoded["predictions"], plain["predictions"]);
    }

    #[tokio::test]
    async fn a_body_that_is_not_the_base64_it_claims_is_400() {
        let (status, _, body) = check("bad-base64.json").await;
        assert_eq!(status, 400, "{body}");
        assert!(body["error"].as_str().unwrap().contains("base64"), "{body}");
    }

    #[tokio::test]
    async fn get_on_the_model_answers_its_metadata() {
        let (status, _, body) = check("metadata.json").await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["name"], "churn");
        assert_eq!(
            body["features"],
            serde_json::json!(["age", "income", "tenure"])
        );
        assert_eq!(body["class_labels"], serde_json::json!(["no", "yes"]));
    }

    #[tokio::test]
    async fn a_named_stage_in_front_of_the_path_is_not_part_of_the_route() {
        let (status, _, body) = check("named-stage.json").await;
        assert_eq!(
            (status, &body["name"]),
            (200, &Value::from("churn")),
            "{body}"
        );
    }

    #[tokio::test]
    async fn malformed_json_is_400() {
        let (status, _, body) = check("malformed-json.json").await;
        assert_eq!(status, 400, "{body}");
    }

    #[tokio::test]
    async fn a_non_numeric_feature_is_422_naming_row_and_feature() {
        let (status, _, body) = check("bad-feature.json").await;
        assert_eq!(status, 422, "{body}");
        let problems = body["problems"].as_array().unwrap();
        assert_eq!(problems.len(), 1, "{body}");
        assert_eq!(
            (&problems[0]["row"], &problems[0]["feature"]),
            (&Value::from(1), &Value::from("income")),
            "{body}"
        );
    }

    #[tokio::test]
    async fn a_body_over_the_configured_limit_is_413_in_either_encoding() {
        let limits = Limits {
            max_body_bytes: 1024,
            ..Limits::default()
        };
        let (status, _, body) = check_with("too-large.json", limits).await;
        assert_eq!(status, 413, "{body}");
        assert!(body["error"].as_str().unwrap().contains("1024"), "{body}");
        let (status, _, body) = check_with(
            "base64-body.json",
            Limits {
                max_body_bytes: 40,
                ..limits
            },
        )
        .await;
        assert_eq!(status, 413, "{body}");
        // within the limit the same request scores
        let (status, _, body) = check_with("too-large.json", Limits::default()).await;
        assert_eq!(
            (status, body["predictions"].as_array().map(Vec::len)),
            (200, Some(40))
        );
    }

    #[tokio::test]
    async fn too_many_rows_is_413() {
        let limits = Limits {
            max_rows: 10,
            ..Limits::default()
        };
        let (status, _, body) = check_with("too-large.json", limits).await;
        assert_eq!(status, 413, "{body}");
    }

    #[tokio::test]
    async fn an_unknown_path_is_404() {
        let (status, _, body) = check("unknown-route.json").await;
        assert_eq!(status, 404, "{body}");
        assert!(body["error"].as_str().unwrap().contains("churn"), "{body}");
    }

    #[tokio::test]
    async fn the_wrong_method_is_405_with_the_allowed_one() {
        let (status, headers, body) = check("wrong-method.json").await;
        assert_eq!(status, 405, "{body}");
        assert_eq!(headers["allow"], "POST");
    }

    #[tokio::test]
    async fn an_event_without_path_or_body_is_answered_not_failed() {
        // the least API Gateway can send: no rawPath, no body
        let mut e = event("metadata.json");
        e.raw_path = None;
        e.request_context.http.path = None;
        let (service, _dir) = service_with(Limits::default()).await;
        let response = answer(&service, &e).await;
        assert_eq!(response.status_code, 404);
    }

    fn env(uri: &str) -> PredictEnv {
        PredictEnv {
            model_uri: Some(uri.into()),
            ..PredictEnv::default()
        }
    }

    #[test]
    fn the_name_defaults_to_the_artifact_stem_and_limits_to_lambdas() {
        let s = PredictSettings::from_env(env("s3://models/prod/churn.json")).unwrap();
        assert_eq!(s.name, "churn");
        assert_eq!(s.check_every, Duration::from_secs(DEFAULT_CHECK_SECONDS));
        assert_eq!(s.limits, Limits::default());
        let s = PredictSettings::from_env(PredictEnv {
            model_name: Some("churn-v2".into()),
            check_seconds: Some("0".into()),
            max_body_bytes: Some("65536".into()),
            max_rows: Some("100".into()),
            ..env("s3://models/prod/churn.json")
        })
        .unwrap();
        assert_eq!(
            (
                s.name.as_str(),
                s.check_every,
                s.limits.max_body_bytes,
                s.limits.max_rows
            ),
            ("churn-v2", Duration::ZERO, 65536, 100)
        );
    }

    #[test]
    fn bad_settings_name_the_variable_and_the_fix() {
        let cases = [
            (
                PredictEnv::default(),
                "environment variable STEPSCORE_MODEL_URI is not set",
            ),
            (env("/opt/churn.json"), "give s3://bucket/key"),
            (
                PredictEnv {
                    max_rows: Some("0".into()),
                    ..env("s3://models/churn.json")
                },
                "STEPSCORE_MAX_ROWS is '0': a whole number of 1 or more",
            ),
            (
                PredictEnv {
                    check_seconds: Some("soon".into()),
                    ..env("s3://models/churn.json")
                },
                "STEPSCORE_MODEL_CHECK_SECONDS is 'soon'",
            ),
            (
                PredictEnv {
                    model_name: Some("a:predict".into()),
                    ..env("s3://models/churn.json")
                },
                "STEPSCORE_MODEL_NAME is 'a:predict'",
            ),
        ];
        for (e, expected) in cases {
            let message = PredictSettings::from_env(e).unwrap_err().to_string();
            assert!(message.contains(expected), "{message}");
        }
    }

    mod never_a_server_error {
        //! Whatever API Gateway hands over (any method, path, body, base64 flag), the client gets
        //! a JSON 2xx or 4xx and the function does not panic.

        use std::sync::LazyLock;

        use base64::Engine;
        use proptest::prelude::*;

        use super::*;

        static WORLD: LazyLock<(tokio::runtime::Runtime, PredictService, tempfile::TempDir)> =
            LazyLock::new(|| {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                let limits = Limits {
                    max_body_bytes: 2048,
                    max_rows: 8,
                    ..Limits::default()
                };
                let (service, dir) = rt.block_on(service_with(limits));
                (rt, service, dir)
            });

        fn methods() -> impl Strategy<Value = Method> {
            prop_oneof![
                Just(Method::GET),
                Just(Method::POST),
                Just(Method::PUT),
                Just(Method::DELETE),
                Just(Method::HEAD),
                Just(Method::OPTIONS),
            ]
        }

        fn paths() -> impl Strategy<Value = String> {
            let segment = prop_oneof![
                Just("v1".to_owned()),
                Just("models".to_owned()),
                Just("churn".to_owned()),
                Just("churn:predict".to_owned()),
                Just(":predict".to_owned()),
                Just("%3Apredict".to_owned()),
                Just("%ZZ".to_owned()),
                Just(String::new()),
                "[^/]{0,12}",
            ];
            proptest::collection::vec(segment, 0..6).prop_map(|s| format!("/{}", s.join("/")))
        }

        fn bodies() -> impl Strategy<Value = String> {
            let value = prop_oneof![
                Just("1".to_owned()),
                Just("-2.5e3".to_owned()),
                Just("\"x\"".to_owned()),
                Just("null".to_owned()),
                Just("true".to_owned()),
                Just("[]".to_owned()),
                Just("{}".to_owned()),
                Just("1e999".to_owned()),
            ];
            let row = prop_oneof![
                proptest::collection::vec(value.clone(), 0..5)
                    .prop_map(|v| format!("[{}]", v.join(","))),
                proptest::collection::vec(
                    (
                        prop_oneof![Just("age"), Just("income"), Just("tenure"), Just("tenur")],
                        value
                    ),
                    0..5
                )
                .prop_map(|kv| format!(
                    "{{{}}}",
                    kv.iter()
                        .map(|(k, v)| format!("\"{k}\":{v}"))
                        .collect::<Vec<_>>()
                        .join(",")
                )),
            ];
            prop_oneof![
                proptest::collection::vec(row, 0..12)
                    .prop_map(|rows| format!("{{\"instances\":[{}]}}", rows.join(","))),
                ".{0,64}",
                proptest::collection::vec(any::<u8>(), 0..64)
                    .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]
            #[test]
            fn any_request_is_answered_with_json_below_500(
                method in methods(),
                path in paths(),
                body in proptest::option::of(bodies()),
                encode in any::<bool>(),
                garble in any::<bool>(),
            ) {
                let (rt, service, _) = &*WORLD;
                let mut e = event("predict-ok.json");
                e.request_context.http.method = method;
                e.raw_path = Some(path);
                e.is_base64_encoded = encode;
                e.body = body.map(|b| match (encode, garble) {
                    (true, false) => base64::engine::general_purpose::STANDARD.encode(b),
                    _ => b,
                });
                let response = rt.block_on(answer(service, &e));
                prop_assert!((200..500).contains(&response.status_code), "{response:?}");
                let Some(aws_lambda_events::encodings::Body::Text(text)) = &response.body else {
                    return Err(TestCaseError::fail(format!("no text body: {response:?}")));
                };
                prop_assert!(serde_json::from_str::<Value>(text).is_ok(), "{text}");
            }
        }
    }
}
