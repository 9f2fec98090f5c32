//! The object store as a directory tree: [`DirStore`] keeps `<root>/<bucket>/<key>` as plain
//! files with S3's semantics (atomic puts, MD5 ETags, a version id per put, listing in byte
//! order, the `ObjectCreated:Put` event of a config).
//!
//! Its own crate because two worlds share it: the embedded runtime (`stepscore-local`) stores
//! every object in it, and the scoring container (`stepscore-batch`) reads and writes the same
//! folders when `STEPSCORE_LOCAL_S3_ROOT` points at them. Kept out of `stepscore-local`, it
//! brings the container none of that crate's SQLite, interpreter or handlers.
//!
//! # Layout
//! - [`store`]: [`DirStore`], key-to-path mapping that cannot escape a bucket, sidecar metadata
//!   outside the bucket folders, and the S3 event JSON ([`store::s3_event`]).

pub mod store;

pub use store::{DirStore, EventSink, NotificationFilter};
