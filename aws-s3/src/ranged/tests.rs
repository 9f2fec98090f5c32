//! The part logic with parts that finish out of order, are throttled, cut short or changed.

use std::ops::Range;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use stepscore_core::ports::{ObjectVersion, StoreError};
use tokio::io::AsyncReadExt;

use super::{BLOCK, MOST_READY_AHEAD, PartBody, read_parts};
use crate::transfer::TransferSettings;

const URI: &str = "s3://bucket/input.csv";

fn object(len: usize) -> Arc<Vec<u8>> {
    Arc::new((0..len).map(|i| (i * 7 % 251) as u8).collect())
}

fn settings(part_size: u64, concurrency: usize) -> TransferSettings {
    TransferSettings {
        part_size,
        concurrency,
        // no budget to speak of: these tests are about order, retries and windows
        memory: 64 << 20,
        part_attempts: 3,
        first_backoff: Duration::from_millis(1),
    }
}

/// The bytes of `r`, delivered as frames of at most 10 bytes, as a connection delivers them.
fn segments(data: &[u8], r: &Range<u64>) -> PartBody {
    frames(data, r, 10)
}

/// The bytes of `r` as a body of frames of at most `frame` bytes.
fn frames(data: &[u8], r: &Range<u64>, frame: usize) -> PartBody {
    let frames: Vec<Result<Bytes, StoreError>> = data[r.start as usize..r.end as usize]
        .chunks(frame)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    Box::pin(futures::stream::iter(frames))
}

/// Everything the stream gives, or the store error it ended with.
async fn read_all(
    uri: &str,
    range: Range<u64>,
    s: &TransferSettings,
    fetch: impl Fn(Range<u64>) -> futures::future::BoxFuture<'static, Result<PartBody, StoreError>>
    + Send
    + Sync
    + 'static,
) -> (Vec<u8>, Option<StoreError>) {
    let mut body = read_parts(uri.into(), range, s, fetch);
    let mut out = Vec::new();
    let mut buf = vec![0u8; 7];
    loop {
        match body.read(&mut buf).await {
            Ok(0) => return (out, None),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) => {
                let inner = e
                    .into_inner()
                    .expect("the stream's error carries the store error");
                let store = inner
                    .downcast::<StoreError>()
                    .expect("the inner error is a StoreError");
                return (out, Some(*store));
            }
        }
    }
}

/// Counts fetches in flight and remembers the most at once.
#[derive(Default)]
struct Gauge {
    now: AtomicUsize,
    most: AtomicUsize,
}

impl Gauge {
    fn enter(self: &Arc<Self>) -> GaugeGuard {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        GaugeGuard(self.clone())
    }
}

struct GaugeGuard(Arc<Gauge>);

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        self.0.now.fetch_sub(1, Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parts_finishing_out_of_order_are_read_in_order_with_bounded_parts_in_flight() {
    let data = object(1000);
    let gauge = Arc::new(Gauge::default());
    let (d, g) = (data.clone(), gauge.clone());
    let fetch = move |r: Range<u64>| {
        let (d, g) = (d.clone(), g.clone());
        Box::pin(async move {
            let _in_flight = g.enter();
            // later parts of each group of three finish first
            let delay = 3 - (r.start / 64) % 3;
            tokio::time::sleep(Duration::from_millis(delay * 5)).await;
            Ok(segments(&d, &r))
        }) as futures::future::BoxFuture<'static, _>
    };
    let (got, err) = read_all(URI, 0..1000, &settings(64, 4), fetch).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(got, *data);
    let most = gauge.most.load(Ordering::SeqCst);
    assert!(
        (2..=4).contains(&most),
        "parts in flight at once: {most}, expected concurrency up to 4"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_range_is_read_from_its_start_to_its_end_across_part_boundaries() {
    let data = object(1000);
    let asked = Arc::new(Mutex::new(Vec::new()));
    let (d, a) = (data.clone(), asked.clone());
    let fetch = move |r: Range<u64>| {
        a.lock().unwrap().push(r.clone());
        let d = d.clone();
        Box::pin(async move { Ok(segments(&d, &r)) }) as futures::future::BoxFuture<'static, _>
    };
    let (got, err) = read_all(URI, 130..470, &settings(100, 3), fetch).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(got, data[130..470]);
    let mut asked = asked.lock().unwrap().clone();
    asked.sort_by_key(|r| r.start);
    assert_eq!(asked, [130..230, 230..330, 330..430, 430..470]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_part_and_a_part_cut_short_are_retried() {
    let data = object(500);
    let calls = Arc::new(Mutex::new(Vec::<u64>::new()));
    let (d, c) = (data.clone(), calls.clone());
    let fetch = move |r: Range<u64>| {
        let n = {
            let mut c = c.lock().unwrap();
            c.push(r.start);
            c.iter().filter(|s| **s == r.start).count()
        };
        let d = d.clone();
        Box::pin(async move {
            match (r.start, n) {
                (100, 1 | 2) => Err(StoreError::Transient {
                    uri: URI.into(),
                    message: "SlowDown: Please reduce your request rate (HTTP 503)".into(),
                }),
                // the connection closed after 30 bytes without an error
                (300, 1) => Ok(segments(&d, &(300..330))),
                // the connection broke after 20 bytes
                (400, 1) => {
                    let mut cut: Vec<_> = d[400..420]
                        .chunks(10)
                        .map(|c| Ok(Bytes::copy_from_slice(c)))
                        .collect();
                    cut.push(Err(StoreError::Transient {
                        uri: URI.into(),
                        message: "the connection broke off mid-part: reset".into(),
                    }));
                    Ok(Box::pin(futures::stream::iter(cut)) as PartBody)
                }
                _ => Ok(segments(&d, &r)),
            }
        }) as futures::future::BoxFuture<'static, _>
    };
    let (got, err) = read_all(URI, 0..500, &settings(100, 2), fetch).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(got, *data);
    let calls = calls.lock().unwrap();
    let tries = |start: u64| calls.iter().filter(|s| **s == start).count();
    assert_eq!((tries(0), tries(100), tries(300), tries(400)), (1, 3, 1, 1));
    // a part cut short is asked again for the bytes it lacks, not from its start
    assert_eq!((tries(330), tries(420)), (1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_part_that_keeps_failing_ends_the_read_naming_its_bytes_and_attempts() {
    let data = object(300);
    let d = data.clone();
    let fetch = move |r: Range<u64>| {
        let d = d.clone();
        Box::pin(async move {
            if r.start == 100 {
                Err(StoreError::Transient {
                    uri: URI.into(),
                    message: "InternalError (HTTP 500)".into(),
                })
            } else {
                Ok(segments(&d, &r))
            }
        }) as futures::future::BoxFuture<'static, _>
    };
    let (got, err) = read_all(URI, 0..300, &settings(100, 2), fetch).await;
    assert_eq!(got, data[..100], "the parts before the failure are read");
    assert_eq!(
        err.map(|e| e.to_string()).as_deref(),
        Some(
            "transient failure on s3://bucket/input.csv: InternalError (HTTP 500) (reading bytes 100-199, 3 attempts)"
        )
    );
}

/// A part's task that panics mid-body (a bug in a body stream) must not read as a part that
/// ended: its reader gets an error, never a read short of the part's bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_part_whose_task_panics_ends_the_read_with_an_error_not_a_short_read() {
    let data = object(300);
    let d = data.clone();
    let fetch = move |r: Range<u64>| {
        let d = d.clone();
        Box::pin(async move {
            let body = segments(&d, &r);
            if r.start != 100 {
                return Ok(body);
            }
            let first = Bytes::copy_from_slice(&d[100..110]);
            let panicking = futures::stream::iter([Ok(first)]).chain(futures::stream::poll_fn(
                |_| -> std::task::Poll<Option<Result<Bytes, StoreError>>> {
                    panic!("a body stream with a bug")
                },
            ));
            Ok(Box::pin(panicking) as PartBody)
        }) as futures::future::BoxFuture<'static, _>
    };
    let (got, err) = read_all(URI, 0..300, &settings(100, 2), fetch).await;
    // the block the task was filling is lost with it; the parts before it are read whole
    assert_eq!(
        got,
        data[..100],
        "the parts before the panicking one are read"
    );
    assert_eq!(
        err.map(|e| e.to_string()).as_deref(),
        Some("s3://bucket/input.csv: the task reading a part stopped before its end")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_changed_mid_read_ends_the_read_as_changed_without_retrying() {
    let data = object(400);
    let calls = Arc::new(AtomicUsize::new(0));
    let (d, c) = (data.clone(), calls.clone());
    let fetch = move |r: Range<u64>| {
        let d = d.clone();
        let changed = r.start >= 200;
        if changed {
            c.fetch_add(1, Ordering::SeqCst);
        }
        Box::pin(async move {
            if changed {
                Err(StoreError::Changed {
                    uri: URI.into(),
                    expected: ObjectVersion::etag("\"abc\""),
                    current: Some("def".into()),
                })
            } else {
                Ok(segments(&d, &r))
            }
        }) as futures::future::BoxFuture<'static, _>
    };
    let (got, err) = read_all(URI, 0..400, &settings(100, 1), fetch).await;
    assert_eq!(got, data[..200]);
    assert!(
        matches!(&err, Some(StoreError::Changed { expected: ObjectVersion::ETag(e), .. }) if e == "abc"),
        "{err:?}"
    );
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "a changed object is not retried"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_only_the_start_fetches_one_part_and_dropping_the_reader_stops_the_rest() {
    let data = object(10_000);
    let gauge = Arc::new(Gauge::default());
    let calls = Arc::new(AtomicUsize::new(0));
    let (d, g, c) = (data.clone(), gauge.clone(), calls.clone());
    let fetch = move |r: Range<u64>| {
        c.fetch_add(1, Ordering::SeqCst);
        let (d, g) = (d.clone(), g.clone());
        Box::pin(async move {
            let _in_flight = g.enter();
            if r.start > 0 {
                // later parts hang until aborted
                std::future::pending::<()>().await;
            }
            Ok(segments(&d, &r))
        }) as futures::future::BoxFuture<'static, _>
    };
    let mut body = read_parts(URI.into(), 0..10_000, &settings(100, 8), fetch);
    let mut header = [0u8; 5];
    body.read_exact(&mut header).await.unwrap();
    assert_eq!(header, data[..5]);
    // the reader took one block and asked for nothing more: no other part was worth starting
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = calls.load(Ordering::SeqCst);
    assert_eq!(started, 1, "a reader of the first bytes fetches one part");
    drop(body);
    for _ in 0..100 {
        if gauge.now.load(Ordering::SeqCst) == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        gauge.now.load(Ordering::SeqCst),
        0,
        "every part task is aborted when the reader is dropped"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_slower_than_the_network_keeps_few_finished_parts_waiting() {
    let data = object(2000);
    let calls = Arc::new(AtomicUsize::new(0));
    let (d, c) = (data.clone(), calls.clone());
    // parts arrive at once: the network is never what the reader waits for
    let fetch = move |r: Range<u64>| {
        c.fetch_add(1, Ordering::SeqCst);
        let d = d.clone();
        Box::pin(async move { Ok(segments(&d, &r)) }) as futures::future::BoxFuture<'static, _>
    };
    let mut body = read_parts(URI.into(), 0..2000, &settings(100, 8), fetch);
    let mut got = Vec::new();
    let mut most_ahead = 0;
    let mut part = vec![0u8; 100];
    for read in 1..=20 {
        body.read_exact(&mut part).await.unwrap();
        got.extend_from_slice(&part);
        // a reader busy with what it read, long enough for every started part to finish
        tokio::time::sleep(Duration::from_millis(20)).await;
        most_ahead = most_ahead.max(calls.load(Ordering::SeqCst) - read);
    }
    assert_eq!(got, *data);
    assert!(
        most_ahead <= MOST_READY_AHEAD,
        "parts fetched ahead of the reader: {most_ahead}; a slow reader needs no more than \
         {MOST_READY_AHEAD} finished parts waiting, each holding a part of memory"
    );
}

/// Parts of four blocks, with a fetch that counts the bytes pulled from the "network" (a body
/// is pulled only as its part copies it into blocks).
fn counted_fetch(
    data: Arc<Vec<u8>>,
    pulled: Arc<AtomicUsize>,
    slow_start: Option<u64>,
) -> impl Fn(Range<u64>) -> futures::future::BoxFuture<'static, Result<PartBody, StoreError>>
+ Send
+ Sync
+ 'static {
    move |r: Range<u64>| {
        let (d, p) = (data.clone(), pulled.clone());
        Box::pin(async move {
            if slow_start == Some(r.start) {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let body = frames(&d, &r, 64 << 10).map(move |f| {
                if let Ok(b) = &f {
                    p.fetch_add(b.len(), Ordering::SeqCst);
                }
                f
            });
            Ok(Box::pin(body) as PartBody)
        }) as futures::future::BoxFuture<'static, _>
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parts_ahead_of_a_stopped_reader_hold_at_most_the_budget() {
    let part = 4 * BLOCK as u64;
    let data = object(8 * part as usize);
    let pulled = Arc::new(AtomicUsize::new(0));
    let mut s = settings(part, 8);
    s.memory = 2 * part; // one part ahead of the reader, beside the one it reads
    let fetch = counted_fetch(data.clone(), pulled.clone(), None);
    let mut body = read_parts(URI.into(), 0..data.len() as u64, &s, fetch);
    // enough blocks for the window to open to all eight parts
    let mut start = vec![0u8; 3 * BLOCK + 1];
    body.read_exact(&mut start).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let held = (pulled.load(Ordering::SeqCst) - start.len()) as u64;
    // the part being read, the budget, and a frame each part in flight pulled before it
    // waited for room
    let most = part + s.read_ahead() + 8 * (64 << 10);
    assert!(
        held <= most,
        "{held} bytes pulled ahead of the reader: more than the budget allows ({most})"
    );
    let mut rest = Vec::new();
    body.read_to_end(&mut rest).await.unwrap();
    assert_eq!([start, rest].concat(), *data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_part_the_reader_waits_for_goes_on_when_later_parts_took_the_budget() {
    let part = 4 * BLOCK as u64;
    let data = object(8 * part as usize);
    let mut s = settings(part, 8);
    s.memory = 2 * part;
    // part 1 starts late: parts 2 and on take the whole budget first, and part 1, once the
    // reader waits for it, has none left
    let fetch = counted_fetch(data.clone(), Arc::default(), Some(part));
    let read = async {
        let mut body = read_parts(URI.into(), 0..data.len() as u64, &s, fetch);
        let mut all = Vec::new();
        body.read_to_end(&mut all).await.map(|_| all)
    };
    let all = tokio::time::timeout(Duration::from_secs(20), read)
        .await
        .expect("the read stalled on its own budget")
        .unwrap();
    assert_eq!(all, *data);
}
