//! The pipeline's Lambda functions as deployed: the handlers over the AWS adapters against moto
//! server on 127.0.0.1 (one server per test binary, see `stepscore_aws::moto`; a distinct
//! bucket, table and state machine per test), and the binaries against their contract.

mod binary;
mod environment;
mod finalize;
mod front_door;
mod pipeline;
mod predict;

use stepscore_aws::SdkConfig;

pub use stepscore_aws::fixtures::unique;

/// The SDK config for the shared moto server of this test binary.
pub async fn moto() -> SdkConfig {
    stepscore_aws::moto::shared().sdk_config().await
}
