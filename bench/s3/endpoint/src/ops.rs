//! The S3 operations the scorer calls, path-style, and the request log.

use std::fs::{File, OpenOptions};
use std::io::{self, LineWriter, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};

use md5::{Digest, Md5};
use percent_encoding::percent_decode_str;
use serde_json::{Map, Value, json};
use tokio::net::TcpStream;

use crate::conn::{Conn, Head};
use crate::pace::TokenBucket;
use crate::store::{Store, part_name};

const S3_NS: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

/// What every connection shares.
#[derive(Debug)]
pub struct State {
    pub store: Store,
    pub log: Option<RequestLog>,
    /// Bytes per second per connection.
    pub rate: f64,
    pub burst: f64,
}

/// One JSON line per request: `op`, `bucket`, `key`, `status`, `sent`, `received`, `conn` and
/// what else the request named (`range`, `if_match`, `part`, `parts`).
#[derive(Debug)]
pub struct RequestLog(Mutex<LineWriter<File>>);

impl RequestLog {
    pub fn open(path: &Path) -> io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(RequestLog(Mutex::new(LineWriter::new(file))))
    }

    fn write(&self, entry: &Value) {
        let mut out = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = writeln!(out, "{entry}") {
            eprintln!("throttled-s3: writing the request log failed: {e}");
        }
    }
}

/// Serves the requests of one connection until the client closes it.
pub async fn serve(stream: TcpStream, id: u64, state: Arc<State>) -> io::Result<()> {
    let mut conn = Conn::new(stream, TokenBucket::new(state.rate, state.burst))?;
    while let Some(head) = conn.head().await? {
        let close = head
            .header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let mut request = Request {
            conn: &mut conn,
            state: &state,
            head: &head,
            log: Map::new(),
        };
        request.log.insert("conn".into(), json!(id));
        request.handle().await?;
        if close {
            break;
        }
    }
    Ok(())
}

/// A request being answered.
struct Request<'a> {
    conn: &'a mut Conn,
    state: &'a State,
    head: &'a Head,
    log: Map<String, Value>,
}

impl Request<'_> {
    async fn handle(&mut self) -> io::Result<()> {
        let (path, query) = self
            .head
            .target
            .split_once('?')
            .unwrap_or((&self.head.target, ""));
        let path = percent_decode_str(path).decode_utf8_lossy().into_owned();
        let query = parse_query(query);
        let (bucket, key) = path
            .trim_start_matches('/')
            .split_once('/')
            .unwrap_or((path.trim_start_matches('/'), ""));
        let (bucket, key) = (bucket.to_owned(), key.to_owned());
        self.log.insert("bucket".into(), json!(bucket));
        self.log.insert("key".into(), json!(key));
        let arg = |name: &str| {
            query
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
        };
        match (self.head.method.as_str(), arg("uploadId")) {
            ("HEAD", _) => self.get_or_head(&bucket, &key, true).await,
            ("GET", _) if key.is_empty() && arg("list-type").as_deref() == Some("2") => {
                self.list(&bucket, &arg("prefix").unwrap_or_default()).await
            }
            ("GET", _) => self.get_or_head(&bucket, &key, false).await,
            ("PUT", Some(upload)) => {
                let number = arg("partNumber").unwrap_or_default();
                self.upload_part(&key, &upload, &number).await
            }
            ("PUT", None) => self.put(&bucket, &key).await,
            ("POST", None) if arg("uploads").is_some() => self.create_upload(&bucket, &key).await,
            ("POST", Some(upload)) => self.complete_upload(&bucket, &key, &upload).await,
            ("DELETE", Some(upload)) => {
                if let Some(dir) = self.state.store.upload(&upload) {
                    std::fs::remove_dir_all(dir)?;
                }
                self.done("AbortMultipartUpload", 204);
                self.conn.reply(204, &[], b"").await
            }
            ("DELETE", None) => {
                if let Some(path) = self.state.store.path(&bucket, &key)
                    && path.is_file()
                {
                    std::fs::remove_file(path)?;
                }
                self.done("DeleteObject", 204);
                self.conn.reply(204, &[], b"").await
            }
            (method, _) => {
                self.conn.body(self.head, &mut io::sink()).await?;
                let message = format!("{method} {} is not served here", self.head.target);
                self.error("Unsupported", 501, "NotImplemented", &message)
                    .await
            }
        }
    }

    async fn get_or_head(&mut self, bucket: &str, key: &str, head: bool) -> io::Result<()> {
        let op = if head { "HeadObject" } else { "GetObject" };
        let if_match = self.head.header("if-match").map(str::to_owned);
        let wanted = self.head.header("range").map(str::to_owned);
        self.note("if_match", if_match.clone());
        self.note("range", wanted.clone());
        let store = &self.state.store;
        let opened = store
            .path(bucket, key)
            .and_then(|p| File::open(&p).ok().map(|f| (p, f)));
        let Some((path, file)) = opened.filter(|(_, f)| f.metadata().is_ok_and(|m| m.is_file()))
        else {
            let message = "The specified key does not exist.";
            return self.error(op, 404, "NoSuchKey", message).await;
        };
        let meta = file.metadata()?;
        let etag = store.etag(&path, &meta);
        if let Some(m) = &if_match
            && !matches!(m.trim().trim_matches('"'), t if t == etag || t == "*")
        {
            let message = "At least one of the pre-conditions you specified did not hold";
            return self.error(op, 412, "PreconditionFailed", message).await;
        }
        let size = meta.len();
        let (mut start, mut end, mut status) = (0, size, 200);
        let mut headers = vec![
            ("ETag", format!("\"{etag}\"")),
            ("Accept-Ranges", "bytes".to_owned()),
            ("Content-Type", "application/octet-stream".to_owned()),
        ];
        if let (Some(r), false) = (&wanted, head) {
            let Some((first, last)) = parse_range(r, size) else {
                let message = "The requested range is not satisfiable";
                return self.error(op, 416, "InvalidRange", message).await;
            };
            (start, end, status) = (first, last + 1, 206);
            headers.push(("Content-Range", format!("bytes {first}-{last}/{size}")));
        }
        self.conn
            .reply_head(status, &headers, &(end - start).to_string())
            .await?;
        if !head {
            self.conn.send_file(&file, start, end - start).await?;
            self.log.insert("sent".into(), json!(end - start));
        }
        self.done(op, status);
        Ok(())
    }

    async fn list(&mut self, bucket: &str, prefix: &str) -> io::Result<()> {
        self.log.insert("key".into(), json!(prefix));
        let Some(dir) = self.state.store.bucket(bucket) else {
            let message = "The specified bucket does not exist";
            return self
                .error("ListObjectsV2", 404, "NoSuchBucket", message)
                .await;
        };
        let found = self.state.store.list(&dir, prefix)?;
        let mut contents = String::new();
        for (key, path) in found.iter().take(1000) {
            let meta = std::fs::metadata(path)?;
            let etag = self.state.store.etag(path, &meta);
            contents.push_str(&format!(
                "<Contents><Key>{}</Key><LastModified>2026-01-01T00:00:00.000Z</LastModified>\
                 <ETag>&quot;{etag}&quot;</ETag><Size>{}</Size>\
                 <StorageClass>STANDARD</StorageClass></Contents>",
                esc(key),
                meta.len()
            ));
        }
        let body = xml(
            "ListBucketResult",
            &format!(
                "<Name>{}</Name><Prefix>{}</Prefix><KeyCount>{}</KeyCount><MaxKeys>1000</MaxKeys>\
                 <IsTruncated>{}</IsTruncated>{contents}",
                esc(bucket),
                esc(prefix),
                found.len().min(1000),
                found.len() > 1000
            ),
        );
        self.done("ListObjectsV2", 200);
        self.reply_xml(200, &body).await
    }

    async fn put(&mut self, bucket: &str, key: &str) -> io::Result<()> {
        let Some(path) = self.state.store.path(bucket, key) else {
            self.conn.body(self.head, &mut io::sink()).await?;
            return self
                .error("PutObject", 400, "InvalidArgument", "bad bucket or key")
                .await;
        };
        let (tmp, file) = self.state.store.temp_beside(&path)?;
        let mut out = Hashing {
            file,
            md5: Md5::new(),
        };
        let received = self.conn.body(self.head, &mut out).await?;
        let etag = hex::encode(out.md5.finalize());
        std::fs::rename(&tmp, &path)?;
        self.state.store.remember(&path, &etag)?;
        self.log.insert("received".into(), json!(received));
        self.done("PutObject", 200);
        self.conn
            .reply(200, &[("ETag", format!("\"{etag}\""))], b"")
            .await
    }

    async fn upload_part(&mut self, key: &str, upload: &str, number: &str) -> io::Result<()> {
        let number = number
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=10_000).contains(n));
        let (Some(dir), Some(number)) = (self.state.store.upload(upload), number) else {
            self.conn.body(self.head, &mut io::sink()).await?;
            let message = format!("no open upload {upload:?} with a part number 1-10000 for {key}");
            return self
                .error("UploadPart", 404, "NoSuchUpload", &message)
                .await;
        };
        let mut file = File::create(dir.join(part_name(number)))?;
        let received = self.conn.body(self.head, &mut file).await?;
        self.log.insert("received".into(), json!(received));
        self.log.insert("part".into(), json!(number));
        self.done("UploadPart", 200);
        let etag = format!("\"{}\"", uuid::Uuid::new_v4().simple());
        self.conn.reply(200, &[("ETag", etag)], b"").await
    }

    async fn create_upload(&mut self, bucket: &str, key: &str) -> io::Result<()> {
        self.conn.body(self.head, &mut io::sink()).await?;
        let id = self.state.store.create_upload()?;
        let body = xml(
            "InitiateMultipartUploadResult",
            &format!(
                "<Bucket>{}</Bucket><Key>{}</Key><UploadId>{id}</UploadId>",
                esc(bucket),
                esc(key)
            ),
        );
        self.done("CreateMultipartUpload", 200);
        self.reply_xml(200, &body).await
    }

    async fn complete_upload(&mut self, bucket: &str, key: &str, upload: &str) -> io::Result<()> {
        let mut body = Vec::new();
        self.conn.body(self.head, &mut body).await?;
        let (Some(dir), Some(path)) = (
            self.state.store.upload(upload),
            self.state.store.path(bucket, key),
        ) else {
            let message = format!("no open upload {upload:?} for {key}");
            return self
                .error("CompleteMultipartUpload", 404, "NoSuchUpload", &message)
                .await;
        };
        let numbers: Vec<u32> = String::from_utf8_lossy(&body)
            .split("<PartNumber>")
            .skip(1)
            .filter_map(|s| s.split("</PartNumber>").next()?.trim().parse().ok())
            .collect();
        self.state.store.complete_upload(&dir, &numbers, &path)?;
        let etag = format!("{}-{}", uuid::Uuid::new_v4().simple(), numbers.len());
        self.state.store.remember(&path, &etag)?;
        self.log.insert("parts".into(), json!(numbers.len()));
        self.done("CompleteMultipartUpload", 200);
        let body = xml(
            "CompleteMultipartUploadResult",
            &format!(
                "<Bucket>{}</Bucket><Key>{}</Key><ETag>&quot;{etag}&quot;</ETag>",
                esc(bucket),
                esc(key)
            ),
        );
        self.reply_xml(200, &body).await
    }

    /// An S3 error reply (no body to a HEAD), logged as `op`.
    async fn error(&mut self, op: &str, status: u16, code: &str, message: &str) -> io::Result<()> {
        self.done(op, status);
        let resource = format!(
            "/{}/{}",
            self.log["bucket"].as_str().unwrap_or_default(),
            self.log["key"].as_str().unwrap_or_default()
        );
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>\
             <Message>{}</Message><Resource>{}</Resource><RequestId>0</RequestId></Error>",
            esc(message),
            esc(&resource)
        );
        let headers = [
            ("Content-Type", "application/xml".to_owned()),
            ("x-amz-error-code", code.to_owned()),
        ];
        // a HEAD answer has no body
        let body = if self.head.method == "HEAD" {
            &b""[..]
        } else {
            body.as_bytes()
        };
        self.conn.reply(status, &headers, body).await
    }

    async fn reply_xml(&mut self, status: u16, body: &[u8]) -> io::Result<()> {
        let headers = [("Content-Type", "application/xml".to_owned())];
        self.conn.reply(status, &headers, body).await
    }

    fn note(&mut self, name: &str, value: Option<String>) {
        if let Some(v) = value {
            self.log.insert(name.into(), json!(v));
        }
    }

    /// Logs the request as `op` answered with `status`.
    fn done(&mut self, op: &str, status: u16) {
        let Some(log) = &self.state.log else { return };
        let mut entry = std::mem::take(&mut self.log);
        entry.insert("op".into(), json!(op));
        entry.insert("status".into(), json!(status));
        entry.entry("sent").or_insert(json!(0));
        entry.entry("received").or_insert(json!(0));
        log.write(&Value::Object(entry.clone()));
        self.log = entry;
    }
}

/// A file that hashes what is written to it.
struct Hashing {
    file: File,
    md5: Md5,
}

impl Write for Hashing {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.md5.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// The pairs of a query string, percent-decoded; a name without `=` has an empty value.
fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (n, v) = p.split_once('=').unwrap_or((p, ""));
            let decode = |s: &str| {
                percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (decode(n), decode(v))
        })
        .collect()
}

/// `(first, last)` of a `bytes=a-b`, `bytes=a-` or `bytes=-n` header within `size` bytes;
/// `None` when it is not satisfiable.
pub fn parse_range(header: &str, size: u64) -> Option<(u64, u64)> {
    let (unit, spec) = header.split_once('=')?;
    if unit.trim() != "bytes" || spec.contains(',') {
        return None;
    }
    let (a, b) = spec.trim().split_once('-')?;
    if a.is_empty() {
        let n: u64 = b.parse().ok()?;
        return (n > 0 && size > 0).then(|| (size.saturating_sub(n), size - 1));
    }
    let first: u64 = a.parse().ok()?;
    let last = if b.is_empty() {
        size.checked_sub(1)?
    } else {
        b.parse::<u64>().ok()?.min(size.checked_sub(1)?)
    };
    (first < size && first <= last).then_some((first, last))
}

fn xml(tag: &str, body: &str) -> Vec<u8> {
    format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{tag} xmlns=\"{S3_NS}\">{body}</{tag}>")
        .into_bytes()
}

fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_read_as_s3_reads_them() {
        let size = 1000;
        for (header, expected) in [
            ("bytes=0-99", Some((0, 99))),
            ("bytes=900-", Some((900, 999))),
            ("bytes=990-2000", Some((990, 999))),
            ("bytes=-10", Some((990, 999))),
            ("bytes=-5000", Some((0, 999))),
            ("bytes=1000-1001", None),
            ("bytes=50-10", None),
            ("bytes=0-1,5-6", None),
            ("items=0-1", None),
            ("bytes=-0", None),
        ] {
            assert_eq!(parse_range(header, size), expected, "{header}");
        }
        assert_eq!(
            parse_range("bytes=0-", 0),
            None,
            "an empty object has no bytes"
        );
    }

    #[test]
    fn a_query_is_split_into_decoded_pairs() {
        assert_eq!(
            parse_query("uploads&prefix=out%2Fa+b&partNumber=3"),
            [
                ("uploads".to_owned(), String::new()),
                ("prefix".to_owned(), "out/a b".to_owned()),
                ("partNumber".to_owned(), "3".to_owned()),
            ]
        );
    }
}
