//! Where the adapters connect: region, an optional endpoint override (moto, LocalStack), and
//! which component is calling.

use aws_config::{AppName, BehaviorVersion, Region, SdkConfig};

/// Region and endpoint for every SDK client the adapters build.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AwsSettings {
    /// Send every request here instead of the AWS endpoint (e.g. `http://127.0.0.1:5000`).
    pub endpoint_url: Option<String>,
    /// The region; `None` takes the SDK's default chain (`AWS_REGION`, profile, IMDS).
    pub region: Option<String>,
    /// The calling component (e.g. `stepscore-admit`): the SDK's app name, sent in the user
    /// agent and naming the principal in the AWS call log (`crate::calllog`).
    pub component: Option<String>,
}

impl AwsSettings {
    /// Settings from `AWS_ENDPOINT_URL` and `AWS_REGION` (both optional).
    pub fn from_env() -> Self {
        let non_empty = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        AwsSettings {
            endpoint_url: non_empty("AWS_ENDPOINT_URL"),
            region: non_empty("AWS_REGION"),
            component: None,
        }
    }

    /// These settings for calls made by `component` (a name of letters, digits and `-`).
    pub fn component(mut self, component: &str) -> Self {
        self.component = Some(component.to_owned());
        self
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
        if let Some(name) = &self.component {
            match AppName::new(name.clone()) {
                Ok(app) => loader = loader.app_name(app),
                Err(e) => {
                    tracing::warn!(component = %name, error = %e, "the component name is not a valid SDK app name; calls go unnamed")
                }
            }
        }
        loader
    }
}

/// Adds the AWS call log interceptor, naming calls by `mapping` (the client's service's
/// [`crate::calllog::Mapping`]), to a client's config when a log is set (see
/// [`crate::calllog`]): every adapter, here and in `stepscore-aws`, builds its client through
/// this.
#[macro_export]
macro_rules! with_call_log {
    ($builder:expr, $mapping:expr) => {{
        let builder = $builder;
        match $crate::calllog::active($mapping) {
            Some(log) => builder.interceptor(log),
            None => builder,
        }
    }};
}
