//! Multipart uploads with parts in flight concurrently: the large-body half of
//! [`crate::S3Store`]'s `put`.
//!
//! The body is read one part at a time; each part goes up in a task of its own, at most
//! [`TransferSettings::upload_concurrency`] at once (what fits in the transfer's memory budget
//! beside the part being filled), so memory is bounded by (parts in flight + the part being
//! read) × part size: the budget, for the first thousand parts. An output is usually produced
//! slower than a few connections take it, so one or two parts are in flight at a time. The upload is completed only when every part is acknowledged; on any failure (a part,
//! the body, too many parts) the tasks in flight are stopped and waited for, and the upload is
//! aborted, so no orphaned parts stay billed. (The bucket's lifecycle rule aborts what an
//! attempt killed outright leaves behind, after a day.)

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream as SdkByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use bytes::Bytes;
use stepscore_core::ObjectUri;
use stepscore_core::ports::{ByteStream, ObjectMeta, StoreError};
use tokio::io::AsyncReadExt;
use tokio::task::JoinSet;

use crate::buffers::BufferPool;
use crate::errors::store_error;
use crate::transfer::TransferSettings;

/// S3 allows at most this many parts per upload.
const MAX_PARTS: i32 = 10_000;

/// Uploads `first` (a whole part) and the rest of `body` as a multipart upload of `uri`.
pub(crate) async fn put_multipart(
    client: &Client,
    transfer: &TransferSettings,
    uri: &ObjectUri,
    first: Vec<u8>,
    body: &mut ByteStream,
) -> Result<ObjectMeta, StoreError> {
    let created = client
        .create_multipart_upload()
        .bucket(uri.bucket())
        .key(uri.key())
        .send()
        .await
        .map_err(|e| store_error(uri, &e))?;
    let upload_id = created.upload_id().ok_or_else(|| StoreError::Other {
        uri: uri.to_string(),
        message: "CreateMultipartUpload returned no upload id".into(),
    })?;
    let upload = Upload {
        client,
        uri,
        upload_id,
        transfer,
        pool: BufferPool::new(transfer.upload_concurrency() + 1),
    };
    match upload.send_parts(first, body).await {
        Ok(meta) => Ok(meta),
        Err(e) => {
            // An upload left open is billed and invisible; abort it so a failed put leaves
            // nothing behind.
            if let Err(abort) = client
                .abort_multipart_upload()
                .bucket(uri.bucket())
                .key(uri.key())
                .upload_id(upload_id)
                .send()
                .await
            {
                tracing::warn!(%uri, upload_id, error = %store_error(uri, &abort), "aborting a failed multipart upload failed");
            }
            Err(e)
        }
    }
}

/// Reads up to `limit` bytes (fewer only at the end of the body).
pub(crate) async fn read_chunk(
    uri: &ObjectUri,
    body: &mut ByteStream,
    limit: usize,
) -> Result<Vec<u8>, StoreError> {
    read_chunk_into(uri, body, limit, Vec::with_capacity(limit.min(64 << 20))).await
}

/// Reads up to `limit` more bytes onto the end of `buf` (fewer only at the end of the body).
pub(crate) async fn read_chunk_into(
    uri: &ObjectUri,
    body: &mut ByteStream,
    limit: usize,
    mut buf: Vec<u8>,
) -> Result<Vec<u8>, StoreError> {
    body.take(limit as u64)
        .read_to_end(&mut buf)
        .await
        .map_err(|e| StoreError::Other {
            uri: uri.to_string(),
            message: format!("reading the body to upload failed: {e}"),
        })?;
    Ok(buf)
}

/// The size of part `number` (1-based): `base` for the first thousand parts, doubling for every
/// thousand after, so objects up to several TiB fit S3's 10,000-part limit while small ones use
/// little memory.
pub(crate) fn part_size(base: u64, number: i32) -> usize {
    let doublings = ((number.max(1) - 1) / 1000).min(7) as u32;
    (base << doublings) as usize
}

struct Upload<'a> {
    client: &'a Client,
    uri: &'a ObjectUri,
    upload_id: &'a str,
    transfer: &'a TransferSettings,
    pool: BufferPool,
}

impl Upload<'_> {
    async fn send_parts(
        &self,
        first: Vec<u8>,
        body: &mut ByteStream,
    ) -> Result<ObjectMeta, StoreError> {
        let mut tasks = JoinSet::new();
        let mut parts = Vec::new();
        let sent = self.spawn_parts(&mut tasks, &mut parts, first, body).await;
        let mut failed = sent.err();
        // every part is accounted for before the upload is completed or aborted: a part still
        // on the wire after AbortMultipartUpload could leave parts behind
        if failed.is_some() {
            tasks.shutdown().await;
        }
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(Ok(part)) => parts.push(part),
                Ok(Err(e)) => {
                    failed.get_or_insert(e);
                    tasks.shutdown().await;
                }
                Err(join) => {
                    failed.get_or_insert(self.task_failed(join));
                    tasks.shutdown().await;
                }
            }
        }
        if let Some(e) = failed {
            return Err(e);
        }
        let size = parts.iter().map(|(_, len)| len).sum();
        let mut parts: Vec<CompletedPart> = parts.into_iter().map(|(p, _)| p).collect();
        parts.sort_by_key(|p| p.part_number());
        let done = self
            .client
            .complete_multipart_upload()
            .bucket(self.uri.bucket())
            .key(self.uri.key())
            .upload_id(self.upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| store_error(self.uri, &e))?;
        Ok(ObjectMeta {
            uri: self.uri.clone(),
            size,
            etag: done.e_tag().map(str::to_owned),
            version_id: done.version_id().map(str::to_owned),
            last_modified: None,
        })
    }

    /// Reads the body part by part and starts each part's upload, waiting for a free slot when
    /// [`TransferSettings::upload_concurrency`] parts are in flight (the parts done meanwhile go
    /// to `finished`). Returns at the end of the body or at the first failure (of the body, or
    /// of a part that finished meanwhile).
    async fn spawn_parts(
        &self,
        tasks: &mut JoinSet<Result<(CompletedPart, u64), StoreError>>,
        finished: &mut Vec<(CompletedPart, u64)>,
        first: Vec<u8>,
        body: &mut ByteStream,
    ) -> Result<(), StoreError> {
        let mut chunk = first;
        let mut number = 1i32;
        let mut size = 0u64;
        loop {
            size += chunk.len() as u64;
            if number > MAX_PARTS {
                return Err(StoreError::TooLarge {
                    uri: self.uri.to_string(),
                    size,
                    limit: size - chunk.len() as u64,
                });
            }
            while tasks.len() >= self.transfer.upload_concurrency() {
                match tasks.join_next().await {
                    Some(Ok(Ok(part))) => finished.push(part),
                    Some(Ok(Err(e))) => return Err(e),
                    Some(Err(join)) => return Err(self.task_failed(join)),
                    None => break,
                }
            }
            tasks.spawn(upload_part(
                self.client.clone(),
                self.uri.clone(),
                self.upload_id.to_owned(),
                number,
                self.pool.bytes(chunk),
            ));
            number += 1;
            let limit = part_size(self.transfer.part_size, number);
            chunk = read_chunk_into(self.uri, body, limit, self.pool.take(limit)).await?;
            if chunk.is_empty() {
                break;
            }
        }
        Ok(())
    }

    fn task_failed(&self, join: tokio::task::JoinError) -> StoreError {
        StoreError::Other {
            uri: self.uri.to_string(),
            message: format!("the task uploading a part failed: {join}"),
        }
    }
}

/// Uploads one part; the error names the part.
async fn upload_part(
    client: Client,
    uri: ObjectUri,
    upload_id: String,
    number: i32,
    bytes: Bytes,
) -> Result<(CompletedPart, u64), StoreError> {
    let len = bytes.len() as u64;
    let out = client
        .upload_part()
        .bucket(uri.bucket())
        .key(uri.key())
        .upload_id(upload_id)
        .part_number(number)
        .body(SdkByteStream::from(bytes))
        // SigV4's SHA-256 of every part cost about 6% of the scorer's CPU on the 2 GB bench
        // (perf); the CRC32 checksum the SDK sends with each part still guards its bytes
        .customize()
        .disable_payload_signing()
        .send()
        .await
        .map_err(|e| match store_error(&uri, &e) {
            StoreError::Transient { uri, message } => StoreError::Transient {
                uri,
                message: format!("uploading part {number}: {message}"),
            },
            StoreError::Other { uri, message } => StoreError::Other {
                uri,
                message: format!("uploading part {number}: {message}"),
            },
            other => other,
        })?;
    let part = CompletedPart::builder()
        .part_number(number)
        .set_e_tag(out.e_tag().map(str::to_owned))
        .build();
    Ok((part, len))
}
