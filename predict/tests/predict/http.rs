//! The local server with real connections: concurrent clients, bodies over the limit, clients
//! that stall, and a reload while requests are in flight.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use stepscore_batch::artifact::Algorithm;
use stepscore_predict::server::{ServerConfig, serve};
use stepscore_predict::{Limits, PredictService};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

use crate::fixtures;

const ROW: &str = r#"{"instances": [{"age": 45, "income": 3000, "tenure": 6}]}"#;

struct Server {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Server {
    async fn start(service: Arc<PredictService>, config: ServerConfig) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(listener, service, config, async {
            let _ = stopped.await;
        }));
        Self {
            addr,
            stop: Some(stop),
            task,
        }
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.await.unwrap().unwrap();
    }
}

/// A response as read off the wire.
#[derive(Debug)]
struct Answer {
    status: u16,
    head: String,
    body: Vec<u8>,
}

/// Sends `request` (raw bytes) and reads the answer until the server closes the connection.
async fn raw(addr: SocketAddr, request: &[u8]) -> Answer {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    read_answer(&mut stream).await
}

async fn read_answer(stream: &mut TcpStream) -> Answer {
    let mut bytes = Vec::new();
    let _ = stream.read_to_end(&mut bytes).await;
    let split = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no response head in {:?}", String::from_utf8_lossy(&bytes)));
    let head = String::from_utf8_lossy(&bytes[..split]).into_owned();
    let status = head[9..12].parse().unwrap();
    Answer {
        status,
        head,
        body: bytes[split + 4..].to_vec(),
    }
}

fn request(method: &str, path: &str, body: &str) -> Vec<u8> {
    format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

async fn churn_service(dir: &std::path::Path, limits: Limits) -> Arc<PredictService> {
    let path = fixtures::write(
        dir,
        "churn.json",
        &fixtures::artifact(Algorithm::LogisticRegression, 1),
    );
    fixtures::service(&path, Duration::from_secs(3600), limits).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_clients_all_get_their_answer() {
    let dir = tempfile::tempdir().unwrap();
    let service = churn_service(dir.path(), Limits::default()).await;
    let server = Server::start(service, ServerConfig::default()).await;
    let addr = server.addr;
    let clients: Vec<_> = (0..32)
        .map(|i| {
            tokio::spawn(async move {
                for j in 0..10 {
                    let tenure = (i * 10 + j) % 24;
                    let body = format!(r#"{{"instances": [[40, 2500, {tenure}]]}}"#);
                    let answer =
                        raw(addr, &request("POST", "/v1/models/churn:predict", &body)).await;
                    assert_eq!(answer.status, 200, "{answer:?}");
                    assert!(
                        answer.head.contains("content-type: application/json"),
                        "{}",
                        answer.head
                    );
                    let value = fixtures::json(&answer.body);
                    assert_eq!(value["predictions"].as_array().unwrap().len(), 1);
                }
            })
        })
        .collect();
    for c in clients {
        c.await.unwrap();
    }
    // and they were answered by the same model the service scores with
    let meta = raw(addr, &request("GET", "/v1/models/churn", "")).await;
    assert_eq!(meta.status, 200);
    assert_eq!(fixtures::json(&meta.body)["name"], "churn");
    server.stop().await;
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_before_it_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits {
        max_body_bytes: 1024,
        ..Limits::default()
    };
    let server = Server::start(
        churn_service(dir.path(), limits).await,
        ServerConfig::default(),
    )
    .await;
    // declared too long: answered from the headers alone, the body never sent
    let head =
        "POST /v1/models/churn:predict HTTP/1.1\r\nHost: x\r\nContent-Length: 50000000\r\n\r\n";
    let answer = raw(server.addr, head.as_bytes()).await;
    assert_eq!(answer.status, 413, "{answer:?}");
    assert!(String::from_utf8_lossy(&answer.body).contains("over 1024 bytes"));
    // chunked, no length declared: cut off at the limit
    let mut chunked = b"POST /v1/models/churn:predict HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n".to_vec();
    for _ in 0..4 {
        chunked.extend_from_slice(format!("400\r\n{}\r\n", "x".repeat(0x400)).as_bytes());
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let answer = raw(server.addr, &chunked).await;
    assert_eq!(answer.status, 413, "{answer:?}");
    // the server is still there for the next client
    let ok = raw(
        server.addr,
        &request("POST", "/v1/models/churn:predict", ROW),
    )
    .await;
    assert_eq!(ok.status, 200);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_client_times_out_without_holding_up_others() {
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits {
        body_timeout: Duration::from_millis(300),
        ..Limits::default()
    };
    let config = ServerConfig {
        header_timeout: Duration::from_millis(300),
        ..ServerConfig::default()
    };
    let server = Server::start(churn_service(dir.path(), limits).await, config).await;

    // half a body, then silence
    let mut slow_body = TcpStream::connect(server.addr).await.unwrap();
    slow_body
        .write_all(b"POST /v1/models/churn:predict HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"instances\": ")
        .await
        .unwrap();
    // half a request line, then silence
    let mut slow_head = TcpStream::connect(server.addr).await.unwrap();
    slow_head.write_all(b"POST /v1/mod").await.unwrap();

    let started = Instant::now();
    let ok = raw(
        server.addr,
        &request("POST", "/v1/models/churn:predict", ROW),
    )
    .await;
    assert_eq!(ok.status, 200);
    assert!(
        started.elapsed() < Duration::from_millis(250),
        "{:?}",
        started.elapsed()
    );

    let answer = tokio::time::timeout(Duration::from_secs(5), read_answer(&mut slow_body))
        .await
        .expect("the server ends a stalled body");
    assert_eq!(answer.status, 408, "{answer:?}");
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(5), slow_head.read_to_end(&mut rest))
        .await
        .expect("the server closes a connection whose headers stall");
    assert!(closed.is_ok() || rest.is_empty(), "{rest:?}");
    assert!(
        rest.is_empty() || String::from_utf8_lossy(&rest).starts_with("HTTP/1.1 408"),
        "{:?}",
        String::from_utf8_lossy(&rest)
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reload_during_requests_fails_none() {
    let dir = tempfile::tempdir().unwrap();
    let v1 = fixtures::artifact(Algorithm::RandomForestClassifier, 1);
    let v2 = fixtures::artifact(Algorithm::RandomForestClassifier, 2);
    let path = fixtures::write(dir.path(), "churn.json", &v1);
    let service = fixtures::service(&path, Duration::from_millis(10), Limits::default()).await;
    let server = Server::start(service, ServerConfig::default()).await;
    let addr = server.addr;
    let clients: Vec<_> = (0..8)
        .map(|_| {
            tokio::spawn(async move {
                let mut versions = Vec::new();
                for _ in 0..40 {
                    let answer = raw(addr, &request("POST", "/v1/models/churn:predict", ROW)).await;
                    assert_eq!(answer.status, 200, "{answer:?}");
                    versions.push(fixtures::json(&answer.body)["model_version"].clone());
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                versions
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(60)).await;
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, &v2).unwrap();
    std::fs::rename(&tmp, &path).unwrap();
    let mut seen = std::collections::BTreeSet::new();
    for c in clients {
        for v in c.await.unwrap() {
            seen.insert(v.as_str().unwrap().to_owned());
        }
    }
    let expected: std::collections::BTreeSet<String> =
        [fixtures::md5_hex(&v1), fixtures::md5_hex(&v2)].into();
    assert_eq!(seen, expected);
    server.stop().await;
}

#[tokio::test]
async fn errors_travel_as_json_with_their_status() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        churn_service(dir.path(), Limits::default()).await,
        ServerConfig::default(),
    )
    .await;
    let bad = raw(
        server.addr,
        &request(
            "POST",
            "/v1/models/churn:predict",
            r#"{"instances": [{"age": 1}]}"#,
        ),
    )
    .await;
    assert_eq!(bad.status, 422);
    let value = fixtures::json(&bad.body);
    assert_eq!(value["problems"][0]["feature"], "income");
    let wrong = raw(server.addr, &request("DELETE", "/v1/models/churn", "")).await;
    assert_eq!(wrong.status, 405);
    assert!(
        wrong.head.to_ascii_lowercase().contains("allow: get"),
        "{}",
        wrong.head
    );
    server.stop().await;
}
