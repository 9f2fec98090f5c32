//! [`BufferPool`]: buffers reused within one transfer — a read's blocks, an upload's parts.
//!
//! A transfer allocates a buffer per block or part: thousands of allocations a minute, made on
//! one thread and freed on another. glibc serves them from per-thread arenas that keep what is
//! freed, so a 2 GB read held about 70 MiB more than its live buffers (bench/s3: 190–220 MiB
//! peak RSS against a 124 MiB heap peak; forcing them onto mmap instead took it to 108 MiB but
//! tripled the system time in page faults). A pool allocates each buffer once per transfer and
//! hands it back when the last `Bytes` over it is dropped, wherever that is.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::OwnedSemaphorePermit;

/// Buffers for the parts of one transfer; clones share the pool.
#[derive(Debug, Clone)]
pub struct BufferPool {
    free: Arc<Mutex<Vec<Vec<u8>>>>,
    keep: usize,
}

impl BufferPool {
    /// A pool keeping at most `keep` free buffers (the parts one transfer has at once).
    pub fn new(keep: usize) -> Self {
        BufferPool {
            free: Arc::new(Mutex::new(Vec::with_capacity(keep))),
            keep,
        }
    }

    /// An empty buffer with room for `len` bytes: a returned one when there is one.
    pub fn take(&self, len: usize) -> Vec<u8> {
        let reused = self.free.lock().unwrap_or_else(|e| e.into_inner()).pop();
        match reused {
            Some(mut buf) => {
                buf.clear();
                buf.reserve(len);
                buf
            }
            None => Vec::with_capacity(len),
        }
    }

    /// `buf` as `Bytes` that give the buffer back to the pool when the last of them is dropped.
    pub fn bytes(&self, buf: Vec<u8>) -> Bytes {
        self.bytes_holding(buf, None)
    }

    /// As [`bytes`](Self::bytes), releasing `permit` (the buffer's share of a memory budget)
    /// with the buffer.
    pub fn bytes_holding(&self, buf: Vec<u8>, permit: Option<OwnedSemaphorePermit>) -> Bytes {
        Bytes::from_owner(Pooled {
            buf,
            pool: self.clone(),
            _permit: permit,
        })
    }

    fn give_back(&self, buf: Vec<u8>) {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        if free.len() < self.keep {
            free.push(buf);
        }
    }

    /// Free buffers held now (for tests).
    #[cfg(test)]
    fn free(&self) -> usize {
        self.free.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

/// A pooled buffer while `Bytes` own it.
struct Pooled {
    buf: Vec<u8>,
    pool: BufferPool,
    _permit: Option<OwnedSemaphorePermit>,
}

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        &self.buf
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        self.pool.give_back(std::mem::take(&mut self.buf));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_comes_back_when_its_last_bytes_are_dropped_and_is_reused() {
        let pool = BufferPool::new(2);
        let mut buf = pool.take(16);
        buf.extend_from_slice(b"part one");
        let first = buf.as_ptr();
        let bytes = pool.bytes(buf);
        let slice = bytes.slice(5..);
        drop(bytes);
        assert_eq!(pool.free(), 0, "a slice still reads the buffer");
        assert_eq!(&slice[..], b"one");
        drop(slice);
        assert_eq!(pool.free(), 1);
        let again = pool.take(16);
        assert!(again.is_empty(), "a reused buffer starts empty");
        assert_eq!(again.as_ptr(), first, "the same allocation, not a new one");
    }

    #[test]
    fn the_pool_keeps_at_most_its_size() {
        let pool = BufferPool::new(1);
        let (a, b) = (pool.bytes(pool.take(4)), pool.bytes(pool.take(4)));
        drop((a, b));
        assert_eq!(pool.free(), 1);
    }
}
