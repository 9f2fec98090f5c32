//! Concurrent ranged reads reassembled in order: the part logic of [`crate::S3Store`]'s `get`,
//! generic over how one part is fetched so tests can throttle and cut parts at will.
//!
//! A range is split into parts of `part_size`; each part is a task of its own that copies its
//! body, as it arrives, into blocks of [`BLOCK`] bytes the reader takes in order, so the reader
//! parses a part while it is still downloading and hands each block back as soon as it has
//! read it. At most `concurrency` parts are in flight. What the parts ahead of the reader hold
//! is bounded by [`TransferSettings::read_ahead`] bytes: a part that would go
//! over waits (its connection pauses) until the reader frees blocks — except the part the reader
//! is waiting for, which always proceeds, so the read cannot stall on its own budget. Memory is
//! then at most `read_ahead` plus one part, whatever the number of parts in flight.
//!
//! The window opens slowly — one part, then doubling per block read — because the scorer often
//! opens an object only to read its header line; and no part is started while
//! [`MOST_READY_AHEAD`] finished ones wait, so a reader slower than the network keeps few
//! requests ahead of it. A part cut short is fetched again from the first byte it lacks, with
//! backoff. Dropping the stream aborts every task.

use std::collections::VecDeque;
use std::future::Future;
use std::ops::Range;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use stepscore_core::ports::{ByteStream, StoreError};
use tokio::runtime::Handle;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;
use tokio_util::io::StreamReader;

use crate::buffers::BufferPool;
use crate::transfer::TransferSettings;

/// The body of one ranged request: its bytes as they arrive, or the error that cut it.
pub type PartBody = Pin<Box<dyn Stream<Item = Result<Bytes, StoreError>> + Send>>;

/// The unit parts are buffered and handed to the reader in: small enough that a part holds
/// little more than what arrived and the reader frees memory as it goes, large enough that a
/// 2 GB read is a few thousand of them.
pub const BLOCK: usize = 256 << 10;

/// While the parts at the front of the queue are finished (the reader can take them without
/// waiting), new parts are started only up to this many ahead of it: a reader slower than the
/// network (parsing on busy cores) gains nothing from more parts downloaded ahead. While the
/// reader waits for the front part, the window opens to `concurrency`.
pub const MOST_READY_AHEAD: usize = 2;

/// Reads `range` of the object named `uri` (for messages) as parts fetched by `fetch`, in order,
/// with retries per part. `fetch` gets a non-empty range within `range` and returns its body; a
/// transient error, or a body that ends short, is retried with backoff from the first missing
/// byte, up to `settings.part_attempts` times per part; any other error ends the stream with
/// that error (an `io::Error` whose inner error is the [`StoreError`]). Must be called within a
/// tokio runtime.
pub fn read_parts<F, Fut>(
    uri: String,
    range: Range<u64>,
    settings: &TransferSettings,
    fetch: F,
) -> ByteStream
where
    F: Fn(Range<u64>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<PartBody, StoreError>> + Send + 'static,
{
    let part_size = settings.part_size.max(1);
    let concurrency = settings.concurrency.max(1);
    let budget_blocks = (settings.read_ahead() as usize).div_ceil(BLOCK).max(1);
    // what is ever held at once: the budget, the part the reader may take over it, and a block
    // being filled per part in flight
    let keep = budget_blocks + (part_size as usize).div_ceil(BLOCK) + concurrency;
    let parts = Parts {
        next: range.start,
        end: range.end,
        part_size,
        concurrency,
        window: 1,
        started: 0,
        in_flight: VecDeque::new(),
        done: false,
        handle: Handle::current(),
        job: Arc::new(Job {
            uri: Arc::from(uri),
            attempts: settings.part_attempts.max(1),
            first_backoff: settings.first_backoff,
            fetch,
            pool: BufferPool::new(keep),
            budget: Arc::new(Semaphore::new(budget_blocks)),
            front: AtomicU64::new(0),
            advanced: Notify::new(),
        }),
    };
    Box::pin(StreamReader::new(parts))
}

/// What every part task of one read shares.
struct Job<F> {
    uri: Arc<str>,
    attempts: u32,
    first_backoff: Duration,
    fetch: F,
    pool: BufferPool,
    /// One permit per block the parts ahead of the reader may hold.
    budget: Arc<Semaphore>,
    /// The number of the part the reader is reading (parts are numbered from 0).
    front: AtomicU64,
    /// Signalled when `front` moves on: a part waiting for budget may now be the front one.
    advanced: Notify,
}

/// The ordered stream of blocks.
struct Parts<F> {
    next: u64,
    end: u64,
    part_size: u64,
    concurrency: usize,
    window: usize,
    /// Parts started so far: the next part's number.
    started: u64,
    in_flight: VecDeque<InFlight>,
    done: bool,
    handle: Handle,
    job: Arc<Job<F>>,
}

/// A part being fetched: its blocks as they come, and its task, aborted when the stream is
/// dropped (the reader gave up or failed).
struct InFlight {
    slot: Arc<Slot>,
    task: JoinHandle<()>,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Where a part's task leaves its blocks for the reader.
#[derive(Default)]
struct Slot(Mutex<SlotState>);

#[derive(Default)]
struct SlotState {
    blocks: VecDeque<Bytes>,
    finished: bool,
    error: Option<StoreError>,
    reader: Option<Waker>,
}

impl Slot {
    fn lock(&self) -> MutexGuard<'_, SlotState> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a block, or the part's end (`Ok(())` when whole, else its error), waking the reader.
    fn deliver(&self, what: Delivery) {
        let waker = {
            let mut state = self.lock();
            match what {
                Delivery::Block(b) => state.blocks.push_back(b),
                Delivery::End(Ok(())) => state.finished = true,
                Delivery::End(Err(e)) => {
                    state.error.get_or_insert(e);
                }
            }
            state.reader.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    fn is_finished(&self) -> bool {
        let state = self.lock();
        state.finished || state.error.is_some()
    }
}

enum Delivery {
    Block(Bytes),
    End(Result<(), StoreError>),
}

impl<F, Fut> Parts<F>
where
    F: Fn(Range<u64>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<PartBody, StoreError>> + Send + 'static,
{
    fn top_up(&mut self) {
        // finished parts the reader can take without waiting: it is behind the network
        let ready = self
            .in_flight
            .iter()
            .take_while(|p| p.slot.is_finished())
            .count();
        let mut room = match ready {
            0 => usize::MAX,
            _ => MOST_READY_AHEAD.saturating_sub(ready),
        };
        while self.in_flight.len() < self.window && self.next < self.end && room > 0 {
            room -= 1;
            let part = self.next..self.end.min(self.next.saturating_add(self.part_size));
            self.next = part.end;
            let slot = Arc::new(Slot::default());
            let task = fetch_part(self.job.clone(), self.started, part, slot.clone());
            self.started += 1;
            self.in_flight.push_back(InFlight {
                slot,
                task: self.handle.spawn(task),
            });
        }
    }

    fn fail(&mut self, e: StoreError) -> Poll<Option<std::io::Result<Bytes>>> {
        self.done = true;
        self.in_flight.clear();
        Poll::Ready(Some(Err(std::io::Error::other(e))))
    }
}

impl<F, Fut> Stream for Parts<F>
where
    F: Fn(Range<u64>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<PartBody, StoreError>> + Send + 'static,
{
    type Item = std::io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if this.done {
                return Poll::Ready(None);
            }
            this.top_up();
            let Some(front) = this.in_flight.front() else {
                this.done = true;
                return Poll::Ready(None);
            };
            let mut state = front.slot.lock();
            if let Some(block) = state.blocks.pop_front() {
                drop(state);
                this.window = (this.window * 2).min(this.concurrency);
                return Poll::Ready(Some(Ok(block)));
            }
            if let Some(e) = state.error.take() {
                drop(state);
                return this.fail(e);
            }
            if state.finished {
                drop(state);
                this.in_flight.pop_front();
                this.job.front.fetch_add(1, Ordering::SeqCst);
                this.job.advanced.notify_waiters();
                continue;
            }
            state.reader = Some(cx.waker().clone());
            return Poll::Pending;
        }
    }
}

/// Fetches part `number` (`part`) into `slot` block by block, retrying what may pass from the
/// first byte it lacks; ends the slot with the part's outcome, whatever happens to the task
/// short of an abort.
async fn fetch_part<F, Fut>(job: Arc<Job<F>>, number: u64, part: Range<u64>, slot: Arc<Slot>)
where
    F: Fn(Range<u64>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<PartBody, StoreError>> + Send + 'static,
{
    let mut end = EndGuard {
        slot: &slot,
        uri: &job.uri,
        ended: false,
    };
    let mut filler = Filler {
        job: &*job,
        number,
        slot: &slot,
        block: None,
    };
    let outcome = filler.fetch(&part).await;
    filler.flush();
    slot.deliver(Delivery::End(outcome));
    end.ended = true;
}

/// Ends a part's slot with an error if its task stops before it could (a panic): the reader
/// waiting for the part would otherwise wait forever.
struct EndGuard<'a> {
    slot: &'a Slot,
    uri: &'a str,
    ended: bool,
}

impl Drop for EndGuard<'_> {
    fn drop(&mut self) {
        if !self.ended {
            self.slot.deliver(Delivery::End(Err(StoreError::Other {
                uri: self.uri.to_owned(),
                message: "the task reading a part stopped before its end".into(),
            })));
        }
    }
}

/// Copies one part's bytes into pooled blocks.
struct Filler<'a, F> {
    job: &'a Job<F>,
    number: u64,
    slot: &'a Slot,
    /// The block being filled, with its share of the budget (`None`: taken over it).
    block: Option<(Vec<u8>, Option<OwnedSemaphorePermit>)>,
}

impl<F, Fut> Filler<'_, F>
where
    F: Fn(Range<u64>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<PartBody, StoreError>> + Send + 'static,
{
    async fn fetch(&mut self, part: &Range<u64>) -> Result<(), StoreError> {
        let job = self.job;
        let expected = part.end - part.start;
        let mut got = 0u64;
        let mut attempt = 1;
        loop {
            let error = match self.attempt(part.start + got..part.end, &mut got).await {
                Ok(()) if got == expected => return Ok(()),
                // a body cut short without an error, or an object shorter than its HEAD said
                Ok(()) => StoreError::Transient {
                    uri: job.uri.to_string(),
                    message: format!("got {got} of the {expected} bytes asked for"),
                },
                Err(e) => e,
            };
            if !error.is_transient() || attempt >= job.attempts {
                return Err(describe(error, part, attempt));
            }
            let pause = backoff(job.first_backoff, attempt, part.start);
            tracing::debug!(uri = %job.uri, start = part.start, end = part.end, got, attempt, ?pause, %error, "retrying a part");
            tokio::time::sleep(pause).await;
            attempt += 1;
        }
    }

    /// One request for `rest`, counting what arrives into `got`.
    async fn attempt(&mut self, rest: Range<u64>, got: &mut u64) -> Result<(), StoreError> {
        let want = rest.end - rest.start;
        let mut body = (self.job.fetch)(rest).await?;
        let mut taken = 0u64;
        while let Some(frame) = body.next().await {
            let frame = frame?;
            if taken + frame.len() as u64 > want {
                return Err(StoreError::Other {
                    uri: self.job.uri.to_string(),
                    message: format!(
                        "the server sent more than the {want} bytes asked for: it does not honour Range"
                    ),
                });
            }
            let mut data = &frame[..];
            while !data.is_empty() {
                if self.block.is_none() {
                    let permit = self.permit().await;
                    self.block = Some((self.job.pool.take(BLOCK), permit));
                }
                let Some((block, _)) = &mut self.block else {
                    continue;
                };
                let n = (BLOCK - block.len()).min(data.len());
                block.extend_from_slice(&data[..n]);
                data = &data[n..];
                if block.len() == BLOCK {
                    self.flush();
                }
            }
            taken += frame.len() as u64;
            *got += frame.len() as u64;
        }
        Ok(())
    }

    /// Hands the block being filled to the reader.
    fn flush(&mut self) {
        if let Some((block, permit)) = self.block.take()
            && !block.is_empty()
        {
            let bytes = self.job.pool.bytes_holding(block, permit);
            self.slot.deliver(Delivery::Block(bytes));
        }
    }

    /// A block's share of the budget; none when this part is the one the reader waits for
    /// (it must go on, or the read would wait on itself).
    async fn permit(&self) -> Option<OwnedSemaphorePermit> {
        loop {
            let advanced = self.job.advanced.notified();
            tokio::pin!(advanced);
            // registered before the check, so a move of the front in between is not missed
            advanced.as_mut().enable();
            if let Ok(p) = self.job.budget.clone().try_acquire_owned() {
                return Some(p);
            }
            if self.job.front.load(Ordering::SeqCst) == self.number {
                return None;
            }
            tokio::select! {
                p = self.job.budget.clone().acquire_owned() => return p.ok(),
                () = &mut advanced => {}
            }
        }
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
