//! [`S3Store`]: the object store port over Amazon S3.

use std::ops::Range;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream as SdkByteStream;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use stepscore_core::ObjectUri;
use stepscore_core::ports::{
    ByteStream, ObjectMeta, ObjectStore, ObjectVersion, StoreError, unquoted,
};
use tokio::io::AsyncReadExt;

use crate::errors::{classify, store_error};
use crate::transfer::TransferSettings;
use crate::upload::{read_chunk, read_chunk_into};

/// The default size of ranged-read parts and of the first parts of a multipart upload
/// ([`TransferSettings::part_size`]); bodies up to a part go up in one PutObject.
pub const PART_SIZE: usize = crate::transfer::DEFAULT_PART_SIZE as usize;

/// The object store port over S3.
#[derive(Debug, Clone)]
pub struct S3Store {
    client: Client,
    transfer: TransferSettings,
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
            transfer: TransferSettings::default(),
        }
    }

    /// A store over an existing client.
    pub fn from_client(client: Client) -> Self {
        S3Store {
            client,
            transfer: TransferSettings::default(),
        }
    }

    /// This store with transfers split as `transfer` says (part size, parts in flight).
    pub fn with_transfer(mut self, transfer: TransferSettings) -> Self {
        self.transfer = transfer;
        self
    }

    /// How this store splits transfers.
    pub fn transfer(&self) -> &TransferSettings {
        &self.transfer
    }

    /// The underlying client (for administration, e.g. creating buckets in tests).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// One streaming GetObject (of `range`, when given and not empty), at `version` when given.
    async fn get_streaming(
        &self,
        uri: &ObjectUri,
        range: Option<Range<u64>>,
        version: Option<&ObjectVersion>,
    ) -> Result<ByteStream, StoreError> {
        let mut request = self.client.get_object().bucket(uri.bucket()).key(uri.key());
        if let Some(r) = &range {
            request = request.range(format!("bytes={}-{}", r.start, r.end - 1));
        }
        request = match version {
            Some(ObjectVersion::Id(id)) => request.version_id(id),
            Some(ObjectVersion::ETag(etag)) => request.if_match(quoted(etag)),
            None => request,
        };
        match request.send().await {
            Ok(out) => Ok(Box::pin(out.body.into_async_read())),
            Err(err) => Err(match version {
                Some(version) => refused_at(&self.client, uri, version, &err).await,
                None => store_error(uri, &err),
            }),
        }
    }

    /// HeadObject at `version`: its size, or [`StoreError::Changed`] when the object no longer
    /// holds it.
    async fn head_at(
        &self,
        uri: &ObjectUri,
        version: &ObjectVersion,
    ) -> Result<ObjectMeta, StoreError> {
        let request = self
            .client
            .head_object()
            .bucket(uri.bucket())
            .key(uri.key());
        let request = match version {
            ObjectVersion::Id(id) => request.version_id(id),
            ObjectVersion::ETag(etag) => request.if_match(quoted(etag)),
        };
        match request.send().await {
            Ok(out) => Ok(ObjectMeta {
                uri: uri.clone(),
                size: out.content_length().unwrap_or(0).max(0) as u64,
                etag: out.e_tag().map(str::to_owned),
                version_id: out.version_id().map(str::to_owned),
                last_modified: out.last_modified().and_then(to_chrono),
            }),
            Err(err) => Err(refused_at(&self.client, uri, version, &err).await),
        }
    }

    /// `range` of `uri` (all of it for `None`) at `version`, whose object is `size` bytes: one
    /// streaming GetObject when it is at most a part, else concurrent ranged GETs
    /// ([`crate::ranged`]), each pinned to `version`.
    fn get_parts(
        &self,
        uri: &ObjectUri,
        range: Option<Range<u64>>,
        version: ObjectVersion,
        size: u64,
    ) -> Option<ByteStream> {
        let wanted = range.unwrap_or(0..size);
        let within = wanted.start..wanted.end.min(size);
        // one part after all; a range starting past the end gets S3's own answer
        if within.end.saturating_sub(within.start) <= self.transfer.part_size {
            return None;
        }
        let client = self.client.clone();
        let target = uri.clone();
        Some(crate::ranged::read_parts(
            uri.to_string(),
            within,
            &self.transfer,
            move |part| {
                let (client, target, version) = (client.clone(), target.clone(), version.clone());
                async move { get_part(client, target, version, part).await }
            },
        ))
    }

    /// True when a read of `range` is one streaming GET: ranged reads are off, or the range
    /// is at most a part.
    fn one_stream(&self, range: Option<&Range<u64>>) -> bool {
        self.transfer.concurrency <= 1
            || range.is_some_and(|r| r.end - r.start <= self.transfer.part_size)
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

    /// A range of at most one part (or any read when `concurrency` is 1) is one streaming
    /// GetObject. Anything larger is read as concurrent ranged GETs with the ETag from a
    /// HeadObject pinned by `If-Match` ([`crate::ranged`]): an object replaced mid-read fails
    /// with [`StoreError::Changed`] instead of mixing two uploads' bytes. A reader that opens
    /// the object again pins the ETag it first saw with [`ObjectStore::get_at`].
    #[tracing::instrument(level = "debug", skip(self), fields(uri = %uri, ?range))]
    async fn get(
        &self,
        uri: &ObjectUri,
        range: Option<Range<u64>>,
    ) -> Result<ByteStream, StoreError> {
        if let Some(r) = &range
            && r.start >= r.end
        {
            // HTTP cannot express an empty range; the answer is known without asking
            return Ok(Box::pin(tokio::io::empty()));
        }
        if self.one_stream(range.as_ref()) {
            return self.get_streaming(uri, range, None).await;
        }
        let meta = self.head(uri).await?;
        let Some(etag) = meta.etag.as_deref().map(ObjectVersion::etag) else {
            // a server that gives no ETag to pin
            return self.get_streaming(uri, range, None).await;
        };
        match self.get_parts(uri, range.clone(), etag, meta.size) {
            Some(parts) => Ok(parts),
            None => self.get_streaming(uri, range, None).await,
        }
    }

    /// As `get`, with every request pinned to `version` (`If-Match` on the ETag, or the
    /// `VersionId`): the HeadObject that learns the size of a multi-part read too, so a
    /// replaced object fails before a byte is read.
    #[tracing::instrument(level = "debug", skip(self), fields(uri = %uri, %version, ?range))]
    async fn get_at(
        &self,
        uri: &ObjectUri,
        version: &ObjectVersion,
        range: Option<Range<u64>>,
    ) -> Result<ByteStream, StoreError> {
        if let Some(r) = &range
            && r.start >= r.end
        {
            return Ok(Box::pin(tokio::io::empty()));
        }
        if self.one_stream(range.as_ref()) {
            return self.get_streaming(uri, range, Some(version)).await;
        }
        let meta = self.head_at(uri, version).await?;
        match self.get_parts(uri, range.clone(), version.clone(), meta.size) {
            Some(parts) => Ok(parts),
            None => self.get_streaming(uri, range, Some(version)).await,
        }
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
            ObjectVersion::ETag(etag) => request.if_match(quoted(etag)),
        };
        match request.send().await {
            Ok(out) => read_small(uri, out, limit).await,
            Err(err) => Err(refused_at(&self.client, uri, version, &err).await),
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
        // Most puts are a few KiB (manifests, progress reports): a first look of 64 KiB keeps
        // them from reserving a whole part each.
        let part = self.transfer.part_size as usize;
        let look = (64 << 10).min(part + 1);
        let mut first = read_chunk(uri, &mut body, look).await?;
        if first.len() == look {
            first.reserve_exact(part + 1 - look);
            first = read_chunk_into(uri, &mut body, part + 1 - look, first).await?;
        }
        if first.len() <= part {
            return self.put_single(uri, first).await;
        }
        let extra = first.split_off(part);
        let mut rest: ByteStream = Box::pin(std::io::Cursor::new(extra).chain(body));
        crate::upload::put_multipart(&self.client, &self.transfer, uri, first, &mut rest).await
    }
}

/// One part of a ranged read: the body of `part` of `uri` at `version`, frame by frame. A
/// failed `If-Match` or a version gone is [`StoreError::Changed`]; an answer of another length
/// than asked for (a server ignoring `Range`) and a body cut off are transient (the part is
/// fetched again from where it stopped).
async fn get_part(
    client: Client,
    uri: ObjectUri,
    version: ObjectVersion,
    part: Range<u64>,
) -> Result<crate::ranged::PartBody, StoreError> {
    let request = client
        .get_object()
        .bucket(uri.bucket())
        .key(uri.key())
        .range(format!("bytes={}-{}", part.start, part.end - 1));
    let request = match &version {
        ObjectVersion::Id(id) => request.version_id(id),
        ObjectVersion::ETag(etag) => request.if_match(quoted(etag)),
    };
    let out = match request.send().await {
        Ok(out) => out,
        Err(err) => return Err(refused_at(&client, &uri, &version, &err).await),
    };
    let asked = part.end - part.start;
    if let Some(len) = out.content_length()
        && len as u64 != asked
    {
        return Err(StoreError::Transient {
            uri: uri.to_string(),
            message: format!("asked for {asked} bytes, the answer holds {len}"),
        });
    }
    // Frames are slices of hyper's read buffer, which each keeps alive: `ranged` copies them
    // into its own blocks as they arrive rather than holding them.
    let name = uri.to_string();
    let frames = futures::stream::unfold(out.body, |mut body| async move {
        let frame = body.next().await?;
        Some((frame, body))
    })
    .map(move |frame| {
        frame.map_err(|e| StoreError::Transient {
            uri: name.clone(),
            message: format!("the connection broke off mid-part: {e}"),
        })
    });
    Ok(Box::pin(frames))
}

/// RFC 7232 quotes an entity tag; S3 answers `If-Match` with the quoted form.
fn quoted(etag: &str) -> String {
    format!("\"{}\"", unquoted(etag))
}

/// The error of a request at `version` that failed: [`StoreError::Changed`] when S3 said the
/// object no longer holds it (412 PreconditionFailed for an ETag, NoSuchVersion for an id, or
/// a 404 to a HeadObject of a version while the key exists), else the request's own error.
/// What replaced the object is worth naming: the newer upload's own job is the one that runs
/// its bytes. Best effort: it may be gone too.
async fn refused_at<E>(
    client: &Client,
    uri: &ObjectUri,
    version: &ObjectVersion,
    err: &aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> StoreError
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let failure = classify(err);
    let changed = |current: Option<String>| StoreError::Changed {
        uri: uri.to_string(),
        expected: version.clone(),
        current,
    };
    let now = || async { S3Store::from_client(client.clone()).head(uri).await };
    match version {
        ObjectVersion::ETag(_)
            if failure.status == Some(412)
                || failure.code.as_deref() == Some("PreconditionFailed") =>
        {
            let current = now().await.ok().and_then(|m| m.etag);
            changed(current.map(|e| unquoted(&e).to_owned()))
        }
        ObjectVersion::Id(_) if failure.code.as_deref() == Some("NoSuchVersion") => changed(None),
        // a HeadObject's 404 has no body to tell a missing key from a missing version
        ObjectVersion::Id(_) if failure.is_not_found() => match now().await {
            Ok(_) => changed(None),
            Err(_) => store_error(uri, err),
        },
        _ => store_error(uri, err),
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
        .take(limit.saturating_add(1))
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

fn to_chrono(t: &aws_sdk_s3::primitives::DateTime) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(t.secs(), t.subsec_nanos())
}
