//! [`S3Store`]: the object store port over Amazon S3.

use std::ops::Range;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::primitives::ByteStream as SdkByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use chrono::{DateTime, Utc};
use stepscore_core::ObjectUri;
use stepscore_core::ports::{
    ByteStream, ObjectMeta, ObjectStore, ObjectVersion, StoreError, unquoted,
};
use tokio::io::AsyncReadExt;

use crate::errors::{Failure, classify};

/// The size of the first parts of a multipart upload; bodies up to this size go up in one
/// PutObject. Memory used by a put is one part buffer.
pub const PART_SIZE: usize = 8 * 1024 * 1024;

/// S3 allows at most this many parts per upload.
const MAX_PARTS: i32 = 10_000;

/// The object store port over S3.
#[derive(Debug, Clone)]
pub struct S3Store {
    client: Client,
}

impl S3Store {
    /// A store from an SDK config; path-style addressing is used when the config sets an endpoint
    /// (moto, LocalStack and other S3-compatible servers do not serve virtual-host buckets).
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        let mut builder = crate::with_call_log!(
            aws_sdk_s3::config::Builder::from(config),
            crate::calllog::s3
        );
        if config.endpoint_url().is_some() {
            builder = builder.force_path_style(true);
        }
        S3Store {
            client: Client::from_conf(builder.build()),
        }
    }

    /// A store over an existing client.
    pub fn from_client(client: Client) -> Self {
        S3Store { client }
    }

    /// The underlying client (for administration, e.g. creating buckets in tests).
    pub fn client(&self) -> &Client {
        &self.client
    }

    async fn put_single(&self, uri: &ObjectUri, bytes: Vec<u8>) -> Result<ObjectMeta, StoreError> {
        let size = bytes.len() as u64;
        let out = self
            .client
            .put_object()
            .bucket(uri.bucket())
            .key(uri.key())
            .body(SdkByteStream::from(bytes))
            .send()
            .await
            .map_err(|e| store_error(uri, &e))?;
        Ok(ObjectMeta {
            uri: uri.clone(),
            size,
            etag: out.e_tag().map(str::to_owned),
            version_id: out.version_id().map(str::to_owned),
            last_modified: None,
        })
    }

    async fn put_multipart(
        &self,
        uri: &ObjectUri,
        first: Vec<u8>,
        body: &mut ByteStream,
    ) -> Result<ObjectMeta, StoreError> {
        let created = self
            .client
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
        match self.upload_parts(uri, upload_id, first, body).await {
            Ok(meta) => Ok(meta),
            Err(e) => {
                // An upload left open is billed and invisible; abort it so a failed put leaves
                // nothing behind.
                if let Err(abort) = self
                    .client
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

    async fn upload_parts(
        &self,
        uri: &ObjectUri,
        upload_id: &str,
        first: Vec<u8>,
        body: &mut ByteStream,
    ) -> Result<ObjectMeta, StoreError> {
        let mut parts = Vec::new();
        let mut size = 0u64;
        let mut chunk = first;
        let mut number = 1i32;
        loop {
            if number > MAX_PARTS {
                return Err(StoreError::TooLarge {
                    uri: uri.to_string(),
                    size,
                    limit: size,
                });
            }
            size += chunk.len() as u64;
            let out = self
                .client
                .upload_part()
                .bucket(uri.bucket())
                .key(uri.key())
                .upload_id(upload_id)
                .part_number(number)
                .body(SdkByteStream::from(chunk))
                .send()
                .await
                .map_err(|e| store_error(uri, &e))?;
            parts.push(
                CompletedPart::builder()
                    .part_number(number)
                    .set_e_tag(out.e_tag().map(str::to_owned))
                    .build(),
            );
            number += 1;
            chunk = read_chunk(uri, body, part_size(number)).await?;
            if chunk.is_empty() {
                break;
            }
        }
        let done = self
            .client
            .complete_multipart_upload()
            .bucket(uri.bucket())
            .key(uri.key())
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| store_error(uri, &e))?;
        Ok(ObjectMeta {
            uri: uri.clone(),
            size,
            etag: done.e_tag().map(str::to_owned),
            version_id: done.version_id().map(str::to_owned),
            last_modified: None,
        })
    }
}

#[async_trait]
impl ObjectStore for S3Store {
    #[tracing::instrument(level = "debug", skip(self), fields(uri = %uri))]
    async fn head(&self, uri: &ObjectUri) -> Result<ObjectMeta, StoreError> {
        let out = self
            .client
            .head_object()
            .bucket(uri.bucket())
            .key(uri.key())
            .send()
            .await
            .map_err(|e| store_error(uri, &e))?;
        Ok(ObjectMeta {
            uri: uri.clone(),
            size: out.content_length().unwrap_or(0).max(0) as u64,
            etag: out.e_tag().map(str::to_owned),
            version_id: out.version_id().map(str::to_owned),
            last_modified: out.last_modified().and_then(to_chrono),
        })
    }

    #[tracing::instrument(level = "debug", skip(self), fields(prefix = %prefix))]
    async fn list(&self, prefix: &ObjectUri) -> Result<Vec<ObjectMeta>, StoreError> {
        let mut found = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = self
                .client
                .list_objects_v2()
                .bucket(prefix.bucket())
                .prefix(prefix.key())
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| store_error(prefix, &e))?;
            for obj in out.contents() {
                let Some(key) = obj.key() else { continue };
                let uri =
                    ObjectUri::new(prefix.bucket(), key).map_err(|e| StoreError::InvalidKey {
                        key: key.to_owned(),
                        reason: e.to_string(),
                    })?;
                found.push(ObjectMeta {
                    uri,
                    size: obj.size().unwrap_or(0).max(0) as u64,
                    etag: obj.e_tag().map(str::to_owned),
                    version_id: None,
                    last_modified: obj.last_modified().and_then(to_chrono),
                });
            }
            match out.next_continuation_token() {
                Some(next) if out.is_truncated() == Some(true) => token = Some(next.to_owned()),
                _ => break,
            }
        }
        // S3 lists in UTF-8 byte order already; sorting keeps the port's promise for any server
        found.sort_by(|a, b| a.uri.key().cmp(b.uri.key()));
        Ok(found)
    }

    #[tracing::instrument(level = "debug", skip(self), fields(uri = %uri, ?range))]
    async fn get(
        &self,
        uri: &ObjectUri,
        range: Option<Range<u64>>,
    ) -> Result<ByteStream, StoreError> {
        let mut request = self.client.get_object().bucket(uri.bucket()).key(uri.key());
        if let Some(r) = &range {
            if r.start >= r.end {
                // HTTP cannot express an empty range; the answer is known without asking
                return Ok(Box::pin(tokio::io::empty()));
            }
            request = request.range(format!("bytes={}-{}", r.start, r.end - 1));
        }
        let out = request.send().await.map_err(|e| store_error(uri, &e))?;
        Ok(Box::pin(out.body.into_async_read()))
    }

    /// One GetObject instead of the port's HeadObject + GetObject: finalize reads up to 10,000
    /// manifests, and every request counts against its Lambda timeout.
    #[tracing::instrument(level = "debug", skip(self), fields(uri = %uri, limit))]
    async fn get_bytes(&self, uri: &ObjectUri, limit: u64) -> Result<Vec<u8>, StoreError> {
        let out = self
            .client
            .get_object()
            .bucket(uri.bucket())
            .key(uri.key())
            .send()
            .await
            .map_err(|e| store_error(uri, &e))?;
        read_small(uri, out, limit).await
    }

    /// GetObject with `VersionId` (IAM action `s3:GetObjectVersion`) or with `If-Match` (S3
    /// evaluates the ETag before it sends a byte, so a read never mixes two uploads).
    #[tracing::instrument(level = "debug", skip(self), fields(uri = %uri, %version, limit))]
    async fn get_bytes_at(
        &self,
        uri: &ObjectUri,
        version: &ObjectVersion,
        limit: u64,
    ) -> Result<Vec<u8>, StoreError> {
        let request = self.client.get_object().bucket(uri.bucket()).key(uri.key());
        let request = match version {
            ObjectVersion::Id(id) => request.version_id(id),
            // RFC 7232 quotes an entity tag; S3 answers If-Match with the quoted form
            ObjectVersion::ETag(etag) => request.if_match(format!("\"{}\"", unquoted(etag))),
        };
        let err = match request.send().await {
            Ok(out) => return read_small(uri, out, limit).await,
            Err(err) => err,
        };
        let failure = classify(&err);
        let changed = |current: Option<String>| StoreError::Changed {
            uri: uri.to_string(),
            expected: version.clone(),
            current,
        };
        match version {
            // 404 NoSuchVersion: deleted for good, or expired by a lifecycle rule
            ObjectVersion::Id(_) if failure.code.as_deref() == Some("NoSuchVersion") => {
                Err(changed(None))
            }
            // 412 PreconditionFailed. What replaced the object is worth naming: the newer
            // upload's own job is the one that runs its bytes. Best effort: it may be gone too.
            ObjectVersion::ETag(_)
                if failure.status == Some(412)
                    || failure.code.as_deref() == Some("PreconditionFailed") =>
            {
                let current = self.head(uri).await.ok().and_then(|m| m.etag);
                Err(changed(current.map(|e| unquoted(&e).to_owned())))
            }
            _ => Err(store_error(uri, &err)),
        }
    }

    #[tracing::instrument(level = "debug", skip(self, body), fields(uri = %uri))]
    async fn put(&self, uri: &ObjectUri, mut body: ByteStream) -> Result<ObjectMeta, StoreError> {
        if uri.is_prefix() {
            return Err(StoreError::InvalidKey {
                key: uri.key().to_owned(),
                reason: "an object key must not be empty or end in '/'".into(),
            });
        }
        // Read one byte past the first part: if the body ends within it, one PutObject suffices.
        let first = read_chunk(uri, &mut body, PART_SIZE + 1).await?;
        if first.len() <= PART_SIZE {
            return self.put_single(uri, first).await;
        }
        let mut first = first;
        let extra = first.split_off(PART_SIZE);
        let mut rest: ByteStream = Box::pin(std::io::Cursor::new(extra).chain(body));
        self.put_multipart(uri, first, &mut rest).await
    }
}

/// Reads a GetObject body of at most `limit` bytes into memory.
async fn read_small(
    uri: &ObjectUri,
    out: aws_sdk_s3::operation::get_object::GetObjectOutput,
    limit: u64,
) -> Result<Vec<u8>, StoreError> {
    let size = out.content_length().unwrap_or(0).max(0) as u64;
    let too_large = |size: u64| StoreError::TooLarge {
        uri: uri.to_string(),
        size,
        limit,
    };
    if size > limit {
        return Err(too_large(size));
    }
    let mut buf = Vec::with_capacity(size as usize);
    // take() guards against a body longer than its Content-Length said
    out.body
        .into_async_read()
        .take(limit + 1)
        .read_to_end(&mut buf)
        .await
        .map_err(|e| StoreError::Transient {
            uri: uri.to_string(),
            message: format!("reading the object failed: {e}"),
        })?;
    if buf.len() as u64 > limit {
        return Err(too_large(buf.len() as u64));
    }
    Ok(buf)
}

/// The size of part `number` (1-based): [`PART_SIZE`] for the first thousand parts, doubling for
/// every thousand after, so objects up to several TiB fit S3's 10,000-part limit while small
/// ones use little memory.
fn part_size(number: i32) -> usize {
    let doublings = ((number.max(1) - 1) / 1000).min(7) as u32;
    PART_SIZE << doublings
}

/// Reads up to `limit` bytes (fewer only at the end of the body).
async fn read_chunk(
    uri: &ObjectUri,
    body: &mut ByteStream,
    limit: usize,
) -> Result<Vec<u8>, StoreError> {
    let mut buf = Vec::with_capacity(limit.min(PART_SIZE + 1));
    body.take(limit as u64)
        .read_to_end(&mut buf)
        .await
        .map_err(|e| StoreError::Other {
            uri: uri.to_string(),
            message: format!("reading the body to upload failed: {e}"),
        })?;
    Ok(buf)
}

fn to_chrono(t: &aws_sdk_s3::primitives::DateTime) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(t.secs(), t.subsec_nanos())
}

fn store_error<E>(uri: &ObjectUri, err: &SdkError<E, HttpResponse>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let f: Failure = classify(err);
    let uri = uri.to_string();
    if f.is_not_found() {
        StoreError::NotFound { uri }
    } else if f.status == Some(403) || f.code.as_deref() == Some("AccessDenied") {
        StoreError::AccessDenied {
            uri,
            message: f.message,
        }
    } else if f.transient {
        StoreError::Transient {
            uri,
            message: f.message,
        }
    } else {
        StoreError::Other {
            uri,
            message: f.message,
        }
    }
}
