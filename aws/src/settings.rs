//! Where the adapters connect: region and an optional endpoint override (moto, LocalStack).

use aws_config::{BehaviorVersion, Region, SdkConfig};

/// Region and endpoint for every SDK client the adapters build.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AwsSettings {
    /// Send every request here instead of the AWS endpoint (e.g. `http://127.0.0.1:5000`).
    pub endpoint_url: Option<String>,
    /// The region; `None` takes the SDK's default chain (`AWS_REGION`, profile, IMDS).
    pub region: Option<String>,
}

impl AwsSettings {
    /// Settings from `AWS_ENDPOINT_URL` and `AWS_REGION` (both optional).
    pub fn from_env() -> Self {
        let non_empty = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        AwsSettings {
            endpoint_url: non_empty("AWS_ENDPOINT_URL"),
            region: non_empty("AWS_REGION"),
        }
    }

    /// The SDK config loaded through the default credential chain, with these settings applied.
    pub async fn load(&self) -> SdkConfig {
        self.loader().load().await
    }

    /// The config loader with these settings applied, for callers that add more (credentials).
    pub fn loader(&self) -> aws_config::ConfigLoader {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(url) = &self.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        if let Some(region) = &self.region {
            loader = loader.region(Region::new(region.clone()));
        }
        loader
    }
}
