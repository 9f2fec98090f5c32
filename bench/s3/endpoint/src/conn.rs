//! [`Conn`]: one HTTP/1.1 connection, paced by its own [`TokenBucket`] in both directions.

use std::fs::File;
use std::io::{self, Write};

use tokio::io::{AsyncReadExt, AsyncWriteExt, Interest};
use tokio::net::TcpStream;

use crate::pace::TokenBucket;

/// Bytes read from the socket at once, and sent per `sendfile`: about 10 ms at 100 MB/s.
const CHUNK: usize = 1 << 20;

/// Request heads larger than this are refused (S3's own limit is 8 KiB of headers).
const MAX_HEAD: usize = 64 << 10;

/// A request line and headers.
#[derive(Debug)]
pub struct Head {
    pub method: String,
    /// The request target as sent: path and query, percent-encoded.
    pub target: String,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
}

impl Head {
    /// The first header named `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn content_length(&self) -> io::Result<u64> {
        match self.header("content-length") {
            None => Ok(0),
            Some(v) => v
                .trim()
                .parse()
                .map_err(|_| invalid(format!("Content-Length {v:?} is not a number"))),
        }
    }

    /// True when the body carries `aws-chunked` framing (the SDK's streaming checksums).
    fn aws_chunked(&self) -> bool {
        self.header("content-encoding")
            .is_some_and(|v| v.contains("aws-chunked"))
            || self
                .header("x-amz-content-sha256")
                .is_some_and(|v| v.starts_with("STREAMING-"))
    }
}

/// One client connection.
pub struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    /// `buf[at..end]` is read but not yet used.
    at: usize,
    end: usize,
    bucket: TokenBucket,
}

impl Conn {
    pub fn new(stream: TcpStream, bucket: TokenBucket) -> io::Result<Self> {
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            buf: vec![0; CHUNK],
            at: 0,
            end: 0,
            bucket,
        })
    }

    /// Reads more from the socket (paced); 0 at the end of the stream.
    async fn fill(&mut self) -> io::Result<usize> {
        if self.at == self.end {
            (self.at, self.end) = (0, 0);
        } else if self.end == self.buf.len() {
            self.buf.copy_within(self.at..self.end, 0);
            (self.at, self.end) = (0, self.end - self.at);
        }
        let n = self.stream.read(&mut self.buf[self.end..]).await?;
        self.bucket.take(n).await;
        self.end += n;
        Ok(n)
    }

    /// The next request's head; `None` when the client closed the connection between requests.
    pub async fn head(&mut self) -> io::Result<Option<Head>> {
        loop {
            let mut headers = [httparse::EMPTY_HEADER; 64];
            let mut request = httparse::Request::new(&mut headers);
            match request.parse(&self.buf[self.at..self.end]) {
                Ok(httparse::Status::Complete(used)) => {
                    let head = Head {
                        method: request.method.unwrap_or_default().to_owned(),
                        target: request.path.unwrap_or_default().to_owned(),
                        headers: request
                            .headers
                            .iter()
                            .map(|h| {
                                (
                                    h.name.to_ascii_lowercase(),
                                    String::from_utf8_lossy(h.value).into_owned(),
                                )
                            })
                            .collect(),
                    };
                    self.at += used;
                    return Ok(Some(head));
                }
                Ok(httparse::Status::Partial) => {}
                Err(e) => return Err(invalid(format!("a request head that is not HTTP: {e}"))),
            }
            if self.end - self.at >= MAX_HEAD {
                return Err(invalid(format!("a request head over {MAX_HEAD} bytes")));
            }
            if self.fill().await? == 0 {
                return if self.at == self.end {
                    Ok(None)
                } else {
                    Err(io::ErrorKind::UnexpectedEof.into())
                };
            }
        }
    }

    /// Writes the body of the request `head` to `out` without its `aws-chunked` framing, and
    /// answers `Expect: 100-continue` first. Returns the bytes the request sent.
    pub async fn body(&mut self, head: &Head, out: &mut impl Write) -> io::Result<u64> {
        if head
            .header("expect")
            .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
        {
            self.stream
                .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                .await?;
        }
        let length = head.content_length()?;
        let mut left = length;
        if !head.aws_chunked() {
            self.copy(&mut left, length, out).await?;
            return Ok(length);
        }
        // <hex size>[;extensions]\r\n<data>\r\n ... 0\r\n<trailers>\r\n
        loop {
            let line = self.line(&mut left).await?;
            let hex = line.split(|&b| b == b';').next().unwrap_or_default();
            let size = std::str::from_utf8(hex)
                .ok()
                .and_then(|h| u64::from_str_radix(h.trim(), 16).ok())
                .ok_or_else(|| {
                    invalid(format!(
                        "an aws-chunked size line {:?}",
                        String::from_utf8_lossy(&line)
                    ))
                })?;
            if size == 0 {
                break;
            }
            self.copy(&mut left, size, out).await?;
            self.line(&mut left).await?;
        }
        while left > 0 && !self.line(&mut left).await?.is_empty() {}
        Ok(length)
    }

    /// Copies `n` body bytes to `out`, counting them off `left`.
    async fn copy(&mut self, left: &mut u64, mut n: u64, out: &mut impl Write) -> io::Result<()> {
        if n > *left {
            return Err(invalid("a chunk runs past the Content-Length".into()));
        }
        while n > 0 {
            if self.at == self.end && self.fill().await? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            let take = (self.end - self.at).min(n as usize);
            out.write_all(&self.buf[self.at..self.at + take])?;
            self.at += take;
            n -= take as u64;
            *left -= take as u64;
        }
        Ok(())
    }

    /// One CRLF-ended line of the body, without its line end.
    async fn line(&mut self, left: &mut u64) -> io::Result<Vec<u8>> {
        loop {
            let window = &self.buf[self.at..self.end];
            let within = window.len().min(*left as usize);
            if let Some(i) = window[..within].iter().position(|&b| b == b'\n') {
                let mut line = window[..i].to_vec();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                self.at += i + 1;
                *left -= (i + 1) as u64;
                return Ok(line);
            }
            if within as u64 == *left || within >= 4096 {
                return Err(invalid("an aws-chunked line without an end".into()));
            }
            if self.fill().await? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
    }

    /// Sends a status line, headers and `body` (paced).
    pub async fn reply(
        &mut self,
        status: u16,
        headers: &[(&str, String)],
        body: &[u8],
    ) -> io::Result<()> {
        let length = body.len().to_string();
        self.reply_head(status, headers, &length).await?;
        if !body.is_empty() {
            for piece in body.chunks(CHUNK) {
                self.bucket.take(piece.len()).await;
                self.stream.write_all(piece).await?;
            }
        }
        Ok(())
    }

    /// Sends a status line and headers with `Content-Length: length`; the body follows.
    pub async fn reply_head(
        &mut self,
        status: u16,
        headers: &[(&str, String)],
        length: &str,
    ) -> io::Result<()> {
        let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str(&format!(
            "Content-Length: {length}\r\nServer: throttled-s3\r\n\r\n"
        ));
        self.stream.write_all(head.as_bytes()).await
    }

    /// Sends `count` bytes of `file` from `offset` by `sendfile`, paced.
    pub async fn send_file(&mut self, file: &File, mut offset: u64, count: u64) -> io::Result<()> {
        let end = offset + count;
        while offset < end {
            let n = (end - offset).min(CHUNK as u64) as usize;
            self.bucket.take(n).await;
            let piece_end = offset + n as u64;
            while offset < piece_end {
                self.stream.writable().await?;
                let want = (piece_end - offset) as usize;
                let sent = self.stream.try_io(Interest::WRITABLE, || {
                    rustix::fs::sendfile(&self.stream, file, Some(&mut offset), want)
                        .map_err(io::Error::from)
                });
                match sent {
                    Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        204 => "No Content",
        206 => "Partial Content",
        400 => "Bad Request",
        404 => "Not Found",
        412 => "Precondition Failed",
        416 => "Range Not Satisfiable",
        501 => "Not Implemented",
        _ => "Status",
    }
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}
