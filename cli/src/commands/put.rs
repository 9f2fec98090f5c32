//! `stepscore put <file> <s3-uri>`: copies a local file into a local bucket, like `aws s3 cp`;
//! a put under `jobs/` starts a job, as on S3.

use std::path::{Path, PathBuf};

use anyhow::anyhow;
use clap::Args;
use serde_json::json;
use stepscore_core::ObjectUri;
use stepscore_core::ports::{ObjectMeta, ObjectStore, StoreError};
use stepscore_local::LocalRuntime;

use super::parse_uri;
use crate::Global;
use crate::exit::{Failure, env_fail, invalid};
use crate::pipeline::{self, PipelineOptions};

/// Arguments of `put`.
#[derive(Debug, Args)]
pub struct PutArgs {
    /// The local file
    pub file: PathBuf,
    /// Where to put it: s3://bucket/key (a key ending in `/` takes the file's name)
    pub uri: String,
}

/// `stepscore put <file> <s3-uri>`.
pub async fn run(args: &PutArgs, g: &Global) -> Result<(), Failure> {
    let mut uri = parse_uri(&args.uri)?;
    if uri.is_prefix() {
        let name = args
            .file
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| invalid(format!("{} has no file name", args.file.display())))?;
        uri = uri.join(name);
        // the file's name may take the key past S3's 1,024 bytes
        uri = ObjectUri::new(uri.bucket(), uri.key()).map_err(invalid)?;
    }
    let rt = pipeline::open(g, &PipelineOptions::default())?;
    let meta = put_file(&rt, &args.file, &uri).await?;
    if g.json {
        println!(
            "{}",
            json!({"uri": uri.to_string(), "size": meta.size, "etag": meta.etag, "version_id": meta.version_id})
        );
    } else {
        println!("{uri} ({} bytes)", meta.size);
    }
    Ok(())
}

/// Puts the file at `path` as object `uri` through the store (so a config put under `jobs/`
/// emits its event).
pub(super) async fn put_file(
    rt: &LocalRuntime,
    path: &Path,
    uri: &ObjectUri,
) -> Result<ObjectMeta, Failure> {
    let file = tokio::fs::File::open(path).await.map_err(|e| {
        let err = anyhow!("cannot read {}: {e}", path.display());
        if e.kind() == std::io::ErrorKind::NotFound {
            Failure::NotFound(err)
        } else {
            Failure::Environment(err)
        }
    })?;
    rt.store()
        .put(uri, Box::pin(file))
        .await
        .map_err(|e| match e {
            // the name the user gave cannot be an object: bad input, not a broken environment
            e @ StoreError::InvalidKey { .. } => invalid(e),
            e => env_fail(e),
        })
}
