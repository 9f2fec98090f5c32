//! The local HTTP server (`stepscore serve`): axum over hyper, every request passed to
//! [`PredictService::handle`].
//!
//! The server protects itself from its clients: a body is read only up to the byte limit (a
//! declared `Content-Length` over it is refused before anything is read) and within the body
//! timeout; headers must arrive within [`ServerConfig::header_timeout`]; at most
//! [`ServerConfig::max_connections`] connections are open at once, further ones wait in the
//! listen queue. It takes its listener and shutdown signal as arguments, so a test binds port 0.

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tracing::{debug, info, warn};

use crate::service::{PredictService, Reply};

/// How the server treats connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerConfig {
    /// How long a client may take to send a request's headers.
    pub header_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
    /// How long shutdown waits for requests in flight.
    pub drain_timeout: Duration,
}

impl Default for ServerConfig {
    /// 10 s for headers, 1,024 connections, 10 s to drain.
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            max_connections: 1024,
            drain_timeout: Duration::from_secs(10),
        }
    }
}

/// The axum application: every path goes to the service.
pub fn router(service: Arc<PredictService>) -> Router {
    Router::new().fallback(answer).with_state(service)
}

/// Serves `service` on `listener` until `shutdown` completes, then lets requests in flight
/// finish (up to `config.drain_timeout`).
pub async fn serve<F>(
    listener: TcpListener,
    service: Arc<PredictService>,
    config: ServerConfig,
    shutdown: F,
) -> io::Result<()>
where
    F: Future<Output = ()>,
{
    let app = router(service);
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(config.header_timeout);
    let permits = Arc::new(Semaphore::new(config.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => permit.map_err(io::Error::other)?,
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // out of file descriptors and the like: pause rather than spin
                    warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let builder = builder.clone();
        let watcher = graceful.watcher();
        let service = TowerToHyperService::new(app.clone());
        tokio::spawn(async move {
            let connection = builder.serve_connection(TokioIo::new(stream), service);
            if let Err(e) = watcher.watch(connection).await {
                debug!(%peer, error = %e, "connection ended with an error");
            }
            drop(permit);
        });
    }
    info!("shutting down: finishing requests in flight");
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(config.drain_timeout) => {
            warn!("requests still in flight after the drain timeout were dropped");
        }
    }
    Ok(())
}

async fn answer(State(service): State<Arc<PredictService>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let limits = service.limits();
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limits.max_body_bytes as u64) {
        return into_response(Reply::body_too_large(limits.max_body_bytes));
    }
    let bytes = match read_body(body, limits.max_body_bytes, limits.body_timeout).await {
        Ok(b) => b,
        Err(reply) => return into_response(reply),
    };
    into_response(
        service
            .handle(&parts.method, parts.uri.path(), &bytes)
            .await,
    )
}

/// Reads a body of at most `limit` bytes within `timeout`.
async fn read_body(body: Body, limit: usize, timeout: Duration) -> Result<bytes::Bytes, Reply> {
    match tokio::time::timeout(timeout, Limited::new(body, limit).collect()).await {
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => {
            Err(Reply::body_too_large(limit))
        }
        Ok(Err(e)) => Err(Reply::error(
            StatusCode::BAD_REQUEST,
            &format!("the request body could not be read: {e}"),
        )),
        Err(_) => Err(Reply::error(
            StatusCode::REQUEST_TIMEOUT,
            &format!(
                "the request body did not arrive within {} ms; send it at once",
                timeout.as_millis()
            ),
        )),
    }
}

fn into_response(reply: Reply) -> Response {
    let mut response = (reply.status, reply.body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Some(allow) = reply.allow
        && let Ok(v) = HeaderValue::from_str(allow.as_str())
    {
        headers.insert(header::ALLOW, v);
    }
    if reply.status == StatusCode::PAYLOAD_TOO_LARGE || reply.status == StatusCode::REQUEST_TIMEOUT
    {
        // the rest of the body is never read: the connection cannot carry another request
        headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}
