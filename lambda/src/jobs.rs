//! The `stepscore-jobs` function: the HTTP front door for batch jobs behind an API Gateway HTTP
//! API. Each payload format 2.0 event becomes a [`JobsRequest`] for
//! [`stepscore_handlers::handle_jobs_request`], and its [`JobsReply`] the 2.0 response. As for
//! predict, nothing here fails: a client's mistake is a 4xx reply, never a function error
//! (which API Gateway would turn into a bare 500).

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use stepscore_core::config::MAX_CONFIG_BYTES;
use stepscore_handlers::{FrontDoorPorts, JobsReply, JobsRequest, handle_jobs_request};

use crate::http_api::{BodyError, header, json_response, request_body, request_path};

/// The header a client names a submission with, so a retried POST is the same job.
pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";

/// Answers one API Gateway HTTP API request (payload format 2.0).
pub async fn answer_jobs(
    ports: FrontDoorPorts<'_>,
    event: &ApiGatewayV2httpRequest,
) -> ApiGatewayV2httpResponse {
    let path = request_path(event);
    let reply = match request_body(event, MAX_CONFIG_BYTES) {
        Ok(body) => {
            let request = JobsRequest {
                method: event.request_context.http.method.as_str(),
                path: &path,
                body: &body,
                request_id: event.request_context.request_id.as_deref().unwrap_or("-"),
                idempotency_key: header(event, IDEMPOTENCY_KEY_HEADER),
            };
            handle_jobs_request(ports, request).await
        }
        Err(e @ BodyError::TooLarge) => JobsReply::error(
            413,
            format!(
                "{e}: a job config is at most {MAX_CONFIG_BYTES} bytes (64 KiB); pass data by URI, not inline"
            ),
        ),
        Err(e) => JobsReply::error(400, e.to_string()),
    };
    // a JSON value always serializes
    let body = serde_json::to_vec(&reply.body).unwrap_or_default();
    json_response(reply.status, body, reply.allow)
}
