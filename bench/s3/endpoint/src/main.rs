//! `throttled-s3`: a small S3-compatible endpoint that paces every connection, for
//! `bench/s3/run.sh`. A bench harness, not a product part.
//!
//! One S3 connection delivers on the order of 100 MB/s; this server holds each TCP connection to
//! `--rate` bytes per second (a token bucket per connection, both directions), so one streaming
//! GET is as slow as it is on AWS and concurrent ranged GETs are as fast as they are there, on
//! one machine. It speaks only what the scorer asks of S3, path-style — HeadObject, GetObject
//! (Range, If-Match), PutObject, ListObjectsV2, the multipart upload calls and DeleteObject —
//! and logs each request as one JSON line (`--log`) so the bench can show what a run called.
//! Signatures are not checked.
//!
//! It shares the bench machine's two cores with the scorer it measures, which S3 does not, so it
//! spends as little CPU per byte as it can: object bytes go out by `sendfile` (the Python
//! endpoint it replaces spent about 1.4 s of CPU per 2 GB run, most of it in the interpreter),
//! and multipart parts are joined by `copy_file_range` (`std::io::copy` between files).
//!
//! Layout: [`pace`] the token bucket, [`conn`] one HTTP/1.1 connection (request heads, bodies
//! with or without `aws-chunked` framing, paced replies), [`store`] buckets as folders,
//! [`ops`] the S3 operations.

mod conn;
mod ops;
mod pace;
mod store;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use tokio::net::TcpListener;

/// The command line.
#[derive(Debug)]
struct Args {
    root: PathBuf,
    port: u16,
    rate: f64,
    burst: f64,
    log: Option<PathBuf>,
    port_file: Option<PathBuf>,
}

const USAGE: &str = "usage: throttled-s3 --root DIR [--port N] [--rate BYTES_PER_S] \
[--burst BYTES] [--log FILE] [--port-file FILE]";

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut parsed = Args {
        root: PathBuf::new(),
        port: 0,
        rate: 100e6,
        burst: pace::DEFAULT_BURST as f64,
        log: None,
        port_file: None,
    };
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| format!("{flag} needs a value; {USAGE}"))
        };
        let number = |v: String| {
            v.parse::<f64>()
                .ok()
                .filter(|n| *n > 0.0)
                .ok_or_else(|| format!("{flag} {v:?}: give a positive number"))
        };
        match flag.as_str() {
            "--root" => parsed.root = PathBuf::from(value()?),
            "--port" => {
                let v = value()?;
                parsed.port = v
                    .parse()
                    .map_err(|_| format!("--port {v:?}: give a port number, 0 for any free one"))?;
            }
            "--rate" => parsed.rate = number(value()?)?,
            "--burst" => parsed.burst = number(value()?)?,
            "--log" => parsed.log = Some(PathBuf::from(value()?)),
            "--port-file" => parsed.port_file = Some(PathBuf::from(value()?)),
            other => return Err(format!("unknown argument {other:?}; {USAGE}")),
        }
    }
    if parsed.root.as_os_str().is_empty() {
        return Err(format!("--root is required; {USAGE}"));
    }
    Ok(parsed)
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("throttled-s3: {e}");
            return ExitCode::from(2);
        }
    };
    // one worker thread: the endpoint must not take a core from the scorer it measures; its
    // work is waiting on token buckets and issuing sendfile
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("throttled-s3: starting the runtime failed: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("throttled-s3: {e}");
            ExitCode::from(1)
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    let store = store::Store::open(&args.root)
        .map_err(|e| format!("--root {}: {e}", args.root.display()))?;
    let log = match &args.log {
        Some(path) => Some(
            ops::RequestLog::open(path).map_err(|e| format!("--log {}: {e}", path.display()))?,
        ),
        None => None,
    };
    let listener = TcpListener::bind(("127.0.0.1", args.port))
        .await
        .map_err(|e| format!("listening on 127.0.0.1:{} failed: {e}", args.port))?;
    let port = listener
        .local_addr()
        .map_err(|e| format!("the bound address is unknown: {e}"))?
        .port();
    if let Some(path) = &args.port_file {
        // written whole, then renamed: run.sh polls for a non-empty file
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, port.to_string())
            .and_then(|()| std::fs::rename(&tmp, path))
            .map_err(|e| format!("--port-file {}: {e}", path.display()))?;
    }
    let state = Arc::new(ops::State {
        store,
        log,
        rate: args.rate,
        burst: args.burst,
    });
    let mut next_id = 0u64;
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                eprintln!("throttled-s3: accept failed: {e}");
                continue;
            }
        };
        next_id += 1;
        let (state, id) = (state.clone(), next_id);
        tokio::spawn(async move {
            if let Err(e) = ops::serve(stream, id, state).await {
                // a client that hangs up mid-reply is the client's business
                if !matches!(
                    e.kind(),
                    std::io::ErrorKind::BrokenPipe
                        | std::io::ErrorKind::ConnectionReset
                        | std::io::ErrorKind::UnexpectedEof
                ) {
                    eprintln!("throttled-s3: connection {id}: {e}");
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Result<Args, String> {
        parse_args(list.iter().map(|s| (*s).to_owned()))
    }

    #[test]
    fn the_command_line_sets_root_rate_and_files_and_refuses_what_it_cannot_use() {
        let a = args(&["--root", "/tmp/s3", "--rate", "5e7", "--port-file", "p"]).unwrap();
        assert_eq!((a.root, a.rate, a.port), (PathBuf::from("/tmp/s3"), 5e7, 0));
        assert_eq!(a.port_file, Some(PathBuf::from("p")));
        assert!(args(&[]).unwrap_err().starts_with("--root is required"));
        assert!(
            args(&["--root", "x", "--rate", "fast"])
                .unwrap_err()
                .starts_with("--rate \"fast\": give a positive number")
        );
        assert!(
            args(&["--root", "x", "--verbose"])
                .unwrap_err()
                .starts_with("unknown argument \"--verbose\"")
        );
    }
}
