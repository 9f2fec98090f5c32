//! A small HTTP/1.1 load generator for `bench/predict`: `connections` clients post one body to
//! one path as fast as they are answered, for `seconds`, reusing each connection unless the
//! server closes it (gunicorn's sync workers do), and print the latency percentiles and the
//! throughput as JSON.
//!
//!   cargo run --release -p stepscore-predict --example http_load -- \
//!       ADDR PATH BODY_FILE CONNECTIONS SECONDS

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [addr, path, body_file, connections, seconds] = args.as_slice() else {
        return Err("usage: http_load ADDR PATH BODY_FILE CONNECTIONS SECONDS".into());
    };
    let body = std::fs::read(body_file)?;
    let connections: usize = connections.parse()?;
    let duration = Duration::from_secs_f64(seconds.parse()?);
    let request = [
        format!(
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes(),
        body,
    ]
    .concat();
    let end = Instant::now() + duration;
    let started = Instant::now();
    let local = tokio::task::LocalSet::new();
    let results = local
        .run_until(async {
            let tasks: Vec<_> = (0..connections)
                .map(|_| tokio::task::spawn_local(client(addr.clone(), request.clone(), end)))
                .collect();
            let mut all = Vec::new();
            let mut errors = 0usize;
            for t in tasks {
                let (latencies, errs) = t.await.unwrap_or_default();
                all.extend(latencies);
                errors += errs;
            }
            (all, errors)
        })
        .await;
    let elapsed = started.elapsed().as_secs_f64();
    let (mut latencies, errors) = results;
    latencies.sort_unstable();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .map_or(0.0, |d: &Duration| d.as_secs_f64() * 1e6)
    };
    println!(
        "{{\"requests\": {}, \"errors\": {errors}, \"seconds\": {elapsed:.3}, \"rps\": {:.1}, \"p50_us\": {:.1}, \"p99_us\": {:.1}}}",
        latencies.len(),
        latencies.len() as f64 / elapsed,
        pct(0.50),
        pct(0.99)
    );
    Ok(())
}

/// One client: requests until `end`; the latency of each answered request, and the failures.
async fn client(addr: String, request: Vec<u8>, end: Instant) -> (Vec<Duration>, usize) {
    let mut latencies = Vec::new();
    let mut errors = 0;
    let mut stream: Option<TcpStream> = None;
    let mut buf = Vec::with_capacity(16 * 1024);
    while Instant::now() < end {
        let t0 = Instant::now();
        if stream.is_none() {
            match TcpStream::connect(&addr).await {
                Ok(s) => {
                    let _ = s.set_nodelay(true);
                    stream = Some(s);
                }
                Err(_) => {
                    errors += 1;
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    continue;
                }
            }
        }
        let Some(s) = stream.as_mut() else { continue };
        match exchange(s, &request, &mut buf).await {
            Ok((status, keep_alive)) => {
                if status == 200 {
                    latencies.push(t0.elapsed());
                } else {
                    errors += 1;
                }
                if !keep_alive {
                    stream = None;
                }
            }
            Err(_) => {
                errors += 1;
                stream = None;
            }
        }
    }
    (latencies, errors)
}

/// Sends one request and reads its answer: the status, and whether the connection stays open.
async fn exchange(
    s: &mut TcpStream,
    request: &[u8],
    buf: &mut Vec<u8>,
) -> std::io::Result<(u16, bool)> {
    s.write_all(request).await?;
    buf.clear();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let status: u16 = head.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let keep_alive = !head.contains("connection: close") && head.starts_with("http/1.1");
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok((status, keep_alive))
}
