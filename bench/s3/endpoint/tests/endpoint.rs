//! The endpoint as the bench uses it: a real process on a free port, spoken to over HTTP/1.1
//! as the SDK speaks (path-style, ranges, If-Match, aws-chunked bodies, multipart uploads).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use md5::{Digest, Md5};

struct Endpoint {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The endpoint over a bucket `bench` holding `in/data.bin` (`data`), paced at `rate`.
fn start(data: &[u8], rate: &str) -> Endpoint {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("s3");
    std::fs::create_dir_all(root.join("bench/in")).unwrap();
    std::fs::write(root.join("bench/in/data.bin"), data).unwrap();
    let port_file = dir.path().join("port");
    let child = Command::new(env!("CARGO_BIN_EXE_throttled-s3"))
        .args(["--root", root.to_str().unwrap(), "--rate", rate])
        .args(["--log", dir.path().join("log.jsonl").to_str().unwrap()])
        .args(["--port-file", port_file.to_str().unwrap()])
        .spawn()
        .unwrap();
    let started = Instant::now();
    let port = loop {
        if let Ok(p) = std::fs::read_to_string(&port_file)
            && let Ok(p) = p.parse()
        {
            break p;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "no port file");
        std::thread::sleep(Duration::from_millis(10));
    };
    Endpoint {
        child,
        port,
        _dir: dir,
    }
}

struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One keep-alive connection.
struct Client(BufReader<TcpStream>);

impl Client {
    fn new(e: &Endpoint) -> Self {
        Client(BufReader::new(
            TcpStream::connect(("127.0.0.1", e.port)).unwrap(),
        ))
    }

    fn send(
        &mut self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        let mut req = format!("{method} {target} HTTP/1.1\r\nHost: localhost\r\n");
        for (n, v) in headers {
            req.push_str(&format!("{n}: {v}\r\n"));
        }
        req.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
        let stream = self.0.get_mut();
        stream.write_all(req.as_bytes()).unwrap();
        stream.write_all(body).unwrap();
        let mut line = String::new();
        self.0.read_line(&mut line).unwrap();
        let status = line.split(' ').nth(1).unwrap().parse().unwrap();
        let mut headers = Vec::new();
        loop {
            line.clear();
            self.0.read_line(&mut line).unwrap();
            let Some((n, v)) = line.trim_end().split_once(": ") else {
                break;
            };
            headers.push((n.to_ascii_lowercase(), v.to_owned()));
        }
        let len: usize = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .map_or(0, |(_, v)| v.parse().unwrap());
        let mut body = vec![0; if method == "HEAD" { 0 } else { len }];
        self.0.read_exact(&mut body).unwrap();
        Response {
            status,
            headers,
            body,
        }
    }
}

fn data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

/// `body` in the SDK's aws-chunked framing, in chunks of `chunk` bytes, with a checksum trailer.
fn aws_chunked(body: &[u8], chunk: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for piece in body.chunks(chunk) {
        out.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        out.extend_from_slice(piece);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n");
    out
}

#[test]
fn ranged_gets_are_pinned_by_etag_and_missing_keys_and_bad_ranges_are_refused() {
    let bytes = data(100_000);
    let e = start(&bytes, "1e9");
    let mut c = Client::new(&e);
    let head = c.send("HEAD", "/bench/in/data.bin", &[], b"");
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some("100000"));
    let etag = head.header("etag").unwrap().to_owned();
    let part = c.send(
        "GET",
        "/bench/in/data.bin",
        &[("Range", "bytes=1000-2999"), ("If-Match", &etag)],
        b"",
    );
    assert_eq!(part.status, 206);
    assert_eq!(part.body, bytes[1000..3000]);
    assert_eq!(part.header("content-range"), Some("bytes 1000-2999/100000"));
    let changed = c.send(
        "GET",
        "/bench/in/data.bin",
        &[("Range", "bytes=0-9"), ("If-Match", "\"other\"")],
        b"",
    );
    assert_eq!(changed.status, 412);
    assert!(changed.text().contains("<Code>PreconditionFailed</Code>"));
    let missing = c.send("GET", "/bench/in/none.bin", &[], b"");
    assert_eq!(missing.status, 404);
    assert!(missing.text().contains("<Code>NoSuchKey</Code>"));
    let past = c.send(
        "GET",
        "/bench/in/data.bin",
        &[("Range", "bytes=100000-")],
        b"",
    );
    assert_eq!(past.status, 416);
    // the connection still serves after errors
    let whole = c.send("GET", "/bench/in/data.bin", &[], b"");
    assert_eq!((whole.status, whole.body.len()), (200, bytes.len()));
}

#[test]
fn puts_and_multipart_uploads_store_the_bytes_without_their_framing() {
    let e = start(b"in", "1e9");
    let mut c = Client::new(&e);
    let small = b"id,score\n1,0.5\n";
    let chunked = [
        ("Content-Encoding", "aws-chunked"),
        ("x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"),
    ];
    let put = c.send("PUT", "/bench/out/m.json", &chunked, &aws_chunked(small, 4));
    assert_eq!(put.status, 200);
    // S3's ETag of a single-part object: the MD5 of its bytes
    let md5: String = Md5::digest(small)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(put.header("etag"), Some(format!("\"{md5}\"").as_str()));
    let got = c.send("GET", "/bench/out/m.json", &[], b"");
    assert_eq!(got.body, small);
    assert_eq!(got.header("etag"), put.header("etag"));

    let created = c.send("POST", "/bench/out/part-0.csv?uploads", &[], b"");
    let text = created.text();
    let id = text
        .split("<UploadId>")
        .nth(1)
        .and_then(|s| s.split("</UploadId>").next())
        .unwrap()
        .to_owned();
    let (one, two) = (data(3000), b"tail".to_vec());
    let target = |n: u32| format!("/bench/out/part-0.csv?partNumber={n}&uploadId={id}");
    // the second part arrives first, in aws-chunked framing; the first plain
    assert_eq!(
        c.send("PUT", &target(2), &chunked, &aws_chunked(&two, 3))
            .status,
        200
    );
    assert_eq!(c.send("PUT", &target(1), &[], &one).status, 200);
    let complete = "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>a</ETag></Part>\
         <Part><PartNumber>2</PartNumber><ETag>b</ETag></Part></CompleteMultipartUpload>";
    let done = c.send(
        "POST",
        &format!("/bench/out/part-0.csv?uploadId={id}"),
        &[],
        complete.as_bytes(),
    );
    assert_eq!(done.status, 200, "{}", done.text());
    let joined = c.send("GET", "/bench/out/part-0.csv", &[], b"");
    assert_eq!(joined.body, [one, two].concat());
    let listed = c
        .send("GET", "/bench?list-type=2&prefix=out%2F", &[], b"")
        .text();
    assert!(
        listed.contains("<Key>out/m.json</Key>") && listed.contains("<Key>out/part-0.csv</Key>")
    );
    assert!(!listed.contains(".tmp-"), "{listed}");
    let gone = c.send("PUT", &target(3), &[], b"late");
    assert_eq!(gone.status, 404, "a completed upload takes no more parts");
}

#[test]
fn each_connection_is_held_to_the_rate() {
    // 3 MiB at 10 MB/s: the 1 MiB burst at once, the other 2 MiB in about 0.2 s
    let bytes = data(3 << 20);
    let e = start(&bytes, "1e7");
    let mut c = Client::new(&e);
    let started = Instant::now();
    let got = c.send("GET", "/bench/in/data.bin", &[], b"");
    let took = started.elapsed();
    assert_eq!(got.body.len(), bytes.len());
    assert!(
        took >= Duration::from_millis(180),
        "3 MiB came in {took:?} from an endpoint holding a connection to 10 MB/s"
    );
}
