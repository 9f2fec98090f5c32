//! Concurrent ranged reads reassembled in order: the part logic of [`crate::S3Store`]'s `get`,
//! generic over how one part is fetched so tests can throttle and cut parts at will.
//!
//! A range is split into parts of `part_size`; each part is a task of its own, so parts download
//! while the reader parses. At most `concurrency` tasks exist at once, and a finished part waits
//! in its task until the reader reaches it: memory is bounded by (parts in flight + the part
//! being read) × part size. The window opens slowly — one part, then doubling per part read —
//! because the scorer often opens an object only to read its header line. Dropping the stream
//! aborts every task.

use std::collections::VecDeque;
use std::future::Future;
use std::ops::Range;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures::Stream;
use stepscore_core::ports::{ByteStream, StoreError};
use tokio::runtime::Handle;
use tokio::task::JoinHandle;
use tokio_util::io::StreamReader;

use crate::transfer::TransferSettings;

/// One part's bytes, as the connection delivered them (segments, not copied into one buffer).
pub type PartBytes = Vec<Bytes>;

/// Reads `range` of the object named `uri` (for messages) as parts fetched by `fetch`, in order,
/// with retries per part. `fetch` gets a non-empty range within `range` and returns its bytes;
/// a transient error, or fewer or more bytes than asked for, is retried with backoff up to
/// `settings.part_attempts` times; any other error ends the stream with that error (an
/// `io::Error` whose inner error is the [`StoreError`]). Must be called within a tokio runtime.
pub fn read_parts<F, Fut>(
    uri: String,
    range: Range<u64>,
    settings: &TransferSettings,
    fetch: F,
) -> ByteStream
where
    F: Fn(Range<u64>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<PartBytes, StoreError>> + Send + 'static,
{
    let parts = Parts {
        uri: Arc::from(uri),
        next: range.start,
        end: range.end,
        part_size: settings.part_size.max(1),
        concurrency: settings.concurrency.max(1),
        window: 1,
        attempts: settings.part_attempts.max(1),
        first_backoff: settings.first_backoff,
        fetch: Arc::new(fetch),
        in_flight: VecDeque::new(),
        current: VecDeque::new(),
        done: false,
        handle: Handle::current(),
    };
    Box::pin(StreamReader::new(parts))
}

/// The ordered stream of parts.
struct Parts<F> {
    uri: Arc<str>,
    next: u64,
    end: u64,
    part_size: u64,
    concurrency: usize,
    window: usize,
    attempts: u32,
    first_backoff: Duration,
    fetch: Arc<F>,
    in_flight: VecDeque<AbortOnDrop>,
    current: VecDeque<Bytes>,
    done: bool,
    handle: Handle,
}

type PartResult = Result<PartBytes, StoreError>;

/// A part's task, aborted when the stream is dropped (the reader gave up or failed).
struct AbortOnDrop(JoinHandle<PartResult>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl<F, Fut> Parts<F>
where
    F: Fn(Range<u64>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<PartBytes, StoreError>> + Send + 'static,
{
    fn top_up(&mut self) {
        while self.in_flight.len() < self.window && self.next < self.end {
            let part = self.next..self.end.min(self.next.saturating_add(self.part_size));
            self.next = part.end;
            let task = fetch_with_retry(
                self.fetch.clone(),
                self.uri.clone(),
                part,
                self.attempts,
                self.first_backoff,
            );
            self.in_flight
                .push_back(AbortOnDrop(self.handle.spawn(task)));
        }
    }

    fn fail(&mut self, e: std::io::Error) -> Poll<Option<std::io::Result<Bytes>>> {
        self.done = true;
        self.in_flight.clear();
        Poll::Ready(Some(Err(e)))
    }
}

impl<F, Fut> Stream for Parts<F>
where
    F: Fn(Range<u64>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<PartBytes, StoreError>> + Send + 'static,
{
    type Item = std::io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if let Some(bytes) = this.current.pop_front() {
                return Poll::Ready(Some(Ok(bytes)));
            }
            if this.done {
                return Poll::Ready(None);
            }
            this.top_up();
            let Some(front) = this.in_flight.front_mut() else {
                this.done = true;
                return Poll::Ready(None);
            };
            let result = match Pin::new(&mut front.0).poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(r) => r,
            };
            this.in_flight.pop_front();
            match result {
                Ok(Ok(segments)) => {
                    // the segments are handed on as they came: joining them would copy the part
                    this.current = segments.into();
                    this.window = (this.window * 2).min(this.concurrency);
                    this.top_up();
                }
                Ok(Err(e)) => return this.fail(std::io::Error::other(e)),
                Err(join) => {
                    return this.fail(std::io::Error::other(StoreError::Other {
                        uri: this.uri.to_string(),
                        message: format!("the task reading a part failed: {join}"),
                    }));
                }
            }
        }
    }
}

/// Fetches one part, retrying what may pass.
async fn fetch_with_retry<F, Fut>(
    fetch: Arc<F>,
    uri: Arc<str>,
    part: Range<u64>,
    attempts: u32,
    first_backoff: Duration,
) -> PartResult
where
    F: Fn(Range<u64>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<PartBytes, StoreError>> + Send + 'static,
{
    let expected = part.end - part.start;
    let mut attempt = 1;
    loop {
        let error = match (fetch.as_ref())(part.clone()).await {
            Ok(segments) => {
                let got: u64 = segments.iter().map(|b| b.len() as u64).sum();
                if got == expected {
                    return Ok(segments);
                }
                // a body cut short without an error, or an object shorter than its HEAD said
                StoreError::Transient {
                    uri: uri.to_string(),
                    message: format!("got {got} of the {expected} bytes asked for"),
                }
            }
            Err(e) => e,
        };
        if !error.is_transient() || attempt >= attempts {
            return Err(describe(error, &part, attempt));
        }
        let pause = backoff(first_backoff, attempt, part.start);
        tracing::debug!(%uri, start = part.start, end = part.end, attempt, ?pause, %error, "retrying a part");
        tokio::time::sleep(pause).await;
        attempt += 1;
    }
}

/// The error, naming the bytes it was reading and how often it tried.
fn describe(error: StoreError, part: &Range<u64>, attempts: u32) -> StoreError {
    let place = |message: String| {
        let tries = if attempts > 1 {
            format!(", {attempts} attempts")
        } else {
            String::new()
        };
        format!(
            "{message} (reading bytes {}-{}{tries})",
            part.start,
            part.end - 1
        )
    };
    match error {
        StoreError::Transient { uri, message } => StoreError::Transient {
            uri,
            message: place(message),
        },
        StoreError::Other { uri, message } => StoreError::Other {
            uri,
            message: place(message),
        },
        other => other,
    }
}

/// `first × 2^(attempt-1)`, capped at 10 s, scaled into [0.5, 1) by a jitter from the part's
/// offset and the clock, so parts throttled together do not retry together.
fn backoff(first: Duration, attempt: u32, salt: u64) -> Duration {
    let full = first
        .saturating_mul(1 << (attempt - 1).min(16))
        .min(Duration::from_secs(10));
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos() as u64);
    let mix = (salt ^ nanos).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 54; // 0..1024
    full.mul_f64(0.5 + mix as f64 / 2048.0)
}

#[cfg(test)]
mod tests;
