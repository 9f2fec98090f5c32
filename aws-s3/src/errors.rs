//! The transient/permanent split of SDK errors, shared by every adapter (here and in
//! `stepscore-aws`).

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use stepscore_core::ObjectUri;
use stepscore_core::ports::StoreError;

/// Error codes AWS services use for throttling and brief unavailability.
const TRANSIENT_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "RequestThrottledException",
    "SlowDown",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestTimeout",
    "RequestTimeoutException",
    "InternalError",
    "InternalFailure",
    "InternalServerError",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "ServerException",
    "LimitExceededException",
];

/// How an SDK call failed, as the ports see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The service's error code, when it answered with one.
    pub code: Option<String>,
    /// The HTTP status, when a response arrived.
    pub status: Option<u16>,
    /// True when retrying may help.
    pub transient: bool,
    /// A one-line description naming the code and message.
    pub message: String,
}

impl Failure {
    /// True when the service said the thing does not exist (404 or a `NoSuch*`/`NotFound` code).
    pub fn is_not_found(&self) -> bool {
        self.status == Some(404)
            || self.code.as_deref().is_some_and(|c| {
                c.starts_with("NoSuch") || c == "NotFound" || c == "ResourceNotFoundException"
            })
    }
}

/// Classifies an SDK error: timeouts, dispatch (network) failures, unreadable responses, 5xx and
/// throttling codes are transient; the rest (4xx, validation, access) are permanent.
pub fn classify<E>(err: &SdkError<E, HttpResponse>) -> Failure
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match err {
        SdkError::TimeoutError(_) => Failure {
            code: None,
            status: None,
            transient: true,
            message: "request timed out".into(),
        },
        SdkError::DispatchFailure(d) => Failure {
            code: None,
            status: None,
            transient: true,
            message: format!(
                "request could not be sent: {}",
                chain(err, d.as_connector_error().map(|c| c.to_string()))
            ),
        },
        SdkError::ResponseError(r) => Failure {
            code: None,
            status: Some(r.raw().status().as_u16()),
            transient: true,
            message: format!("unreadable response (HTTP {})", r.raw().status().as_u16()),
        },
        SdkError::ServiceError(s) => {
            let status = s.raw().status().as_u16();
            let code = s.err().code().map(str::to_owned);
            let transient = status >= 500
                || status == 429
                || code
                    .as_deref()
                    .is_some_and(|c| TRANSIENT_CODES.contains(&c));
            let message = match (code.as_deref(), s.err().message()) {
                (Some(c), Some(m)) => format!("{c}: {m} (HTTP {status})"),
                (Some(c), None) => format!("{c} (HTTP {status})"),
                (None, Some(m)) => format!("{m} (HTTP {status})"),
                (None, None) => format!("HTTP {status}"),
            };
            Failure {
                code,
                status: Some(status),
                transient,
                message,
            }
        }
        _ => Failure {
            code: None,
            status: None,
            transient: false,
            message: chain(err, None),
        },
    }
}

fn chain(err: &dyn std::error::Error, extra: Option<String>) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    if let Some(e) = extra
        && !out.contains(&e)
    {
        out.push_str(": ");
        out.push_str(&e);
    }
    out
}

/// The port's error for a failed S3 call on `uri`: not found, access denied, transient (retried)
/// or other, each with S3's own message.
pub(crate) fn store_error<E>(uri: &ObjectUri, err: &SdkError<E, HttpResponse>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let f: Failure = classify(err);
    let uri = uri.to_string();
    if f.is_not_found() {
        StoreError::NotFound { uri }
    } else if f.status == Some(403) || f.code.as_deref() == Some("AccessDenied") {
        StoreError::AccessDenied {
            uri,
            message: f.message,
        }
    } else if f.transient {
        StoreError::Transient {
            uri,
            message: f.message,
        }
    } else {
        StoreError::Other {
            uri,
            message: f.message,
        }
    }
}
