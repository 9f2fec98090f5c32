//! What the functions behind API Gateway HTTP APIs (payload format 2.0) share: the request's
//! path without the stage, its body decoded, a header, and a JSON response.

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body;
use base64::Engine;
use http::header::{ALLOW, CONTENT_TYPE, HeaderMap, HeaderValue};

/// The path as the client sent it. On a named stage (not `$default`) API Gateway's `rawPath`
/// starts with `/<stage>`, which is not part of the service's routes.
pub fn request_path(event: &ApiGatewayV2httpRequest) -> String {
    let raw = event
        .raw_path
        .as_deref()
        .or(event.request_context.http.path.as_deref())
        .unwrap_or("/");
    let stage = event
        .request_context
        .stage
        .as_deref()
        .filter(|s| !s.is_empty() && *s != "$default");
    if let Some(stage) = stage
        && let Some(rest) = raw.strip_prefix('/').and_then(|r| r.strip_prefix(stage))
        && (rest.is_empty() || rest.starts_with('/'))
    {
        return rest.to_owned();
    }
    raw.to_owned()
}

/// Why a request's body is refused before the service sees it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// Over the limit (checked before decoding).
    #[error("the request body is over the limit")]
    TooLarge,
    /// API Gateway marked it base64 but it does not decode.
    #[error(
        "the request body arrived base64-encoded but does not decode ({0}); send the JSON body with Content-Type: application/json"
    )]
    NotBase64(String),
}

/// The request body's bytes: decoded when API Gateway sent it base64-encoded (any body whose
/// content type is not text). A body over `limit` is refused before it is decoded.
pub fn request_body(event: &ApiGatewayV2httpRequest, limit: usize) -> Result<Vec<u8>, BodyError> {
    let Some(text) = event.body.as_deref() else {
        return Ok(Vec::new());
    };
    if !event.is_base64_encoded {
        // the service checks the size of a plain body with its own message
        return Ok(text.as_bytes().to_vec());
    }
    // base64 holds 3 bytes in every 4 characters; the decoded body is checked again by the
    // service, this only spares decoding a body certainly too large
    if text.len() / 4 * 3 > limit.saturating_add(3) {
        return Err(BodyError::TooLarge);
    }
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|e| BodyError::NotBase64(e.to_string()))
}

/// The value of header `name` (API Gateway lower-cases header names in 2.0 events).
pub fn header<'a>(event: &'a ApiGatewayV2httpRequest, name: &str) -> Option<&'a str> {
    event.headers.get(name).and_then(|v| v.to_str().ok())
}

/// A JSON response with `status`, and `Allow: <allow>` for a 405.
pub fn json_response(status: u16, body: Vec<u8>, allow: Option<&str>) -> ApiGatewayV2httpResponse {
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Some(allow) = allow.and_then(|a| HeaderValue::from_str(a).ok()) {
        headers.insert(ALLOW, allow);
    }
    // the event types are `#[non_exhaustive]`: filled in from the default
    let mut response = ApiGatewayV2httpResponse::default();
    response.status_code = i64::from(status);
    response.headers = headers;
    // every reply is JSON, so UTF-8; the lossy conversion only guards the impossible
    response.body = Some(Body::Text(match String::from_utf8(body) {
        Ok(text) => text,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }));
    response.is_base64_encoded = false;
    response
}
