mod batch;
mod dynamo;
mod finalize;
mod pipeline;
mod s3;
mod sfn;

use std::sync::atomic::{AtomicU32, Ordering};

use aws_config::SdkConfig;

/// The SDK config for the shared moto server of this test binary.
pub async fn moto() -> SdkConfig {
    stepscore_aws::moto::shared().sdk_config().await
}

/// A name no other test in this run uses, valid as a bucket or table name.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}
