mod batch;
mod dynamo;
mod events;
mod s3;
mod sfn;

use aws_config::SdkConfig;

/// The SDK config for the shared moto server of this test binary.
pub async fn moto() -> SdkConfig {
    stepscore_aws::moto::shared().sdk_config().await
}

pub use stepscore_aws::fixtures::unique;
