//! The AWS call log: every SDK call the adapters make, as the IAM authorisations it needs.
//!
//! When `STEPSCORE_AWS_CALL_LOG=<file>` is set (or a test calls [`log_to`]), every client the
//! adapters build carries [`CallLog`], an SDK interceptor that appends one JSON line per IAM
//! authorisation of each call to the file: the principal (the SDK config's app name, which each
//! component sets, see [`crate::AwsSettings::component`]), the operation, the IAM action and the
//! resource ARN, plus the condition keys IAM sees (`s3:prefix` of ListBucket). The environment
//! variable reaches child processes (the scoring container run by the local Batch or a test), so
//! their calls land in the same file. Tests evaluate the log against `iam/policies.json`.
//!
//! The mapping from operations to actions follows AWS's Service Authorization Reference,
//! including its irregular entries: HeadObject is `s3:GetObject`, ListObjectsV2 is
//! `s3:ListBucket` on the bucket, the multipart calls are `s3:PutObject`, GetObject of a version
//! is `s3:GetObjectVersion`. Each service's mapping is a [`Mapping`] beside the SDK it reads:
//! S3's is [`s3`] here; DynamoDB's, Step Functions' and Batch's are in `stepscore-aws`, so this
//! crate (the scoring container's) links no SDK but S3. An operation missing from the mapping is
//! logged with no action, which the tests treat as a failure: a new call must be mapped before it
//! can be proven allowed.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, Input,
};
use aws_smithy_types::config_bag::ConfigBag;
use aws_types::app_name::AppName;
use aws_types::region::Region;
use serde::{Deserialize, Serialize};

/// The environment variable naming the log file.
pub const CALL_LOG_ENV: &str = "STEPSCORE_AWS_CALL_LOG";

/// The account written into ARNs the SDK call names only by name (tables, queues): taken from
/// `AWS_ACCOUNT_ID`, else moto's default account, the one the log is used against.
pub const DEFAULT_ACCOUNT: &str = "123456789012";

/// One IAM authorisation of one SDK call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggedCall {
    /// The component that made it (the SDK config's app name), `None` for unnamed configs.
    pub principal: Option<String>,
    /// `service.Operation`, e.g. `s3.HeadObject`.
    pub operation: String,
    /// The IAM action, e.g. `s3:GetObject`; `None` when the operation is not mapped.
    pub action: Option<String>,
    /// The resource ARN IAM authorises the action on (`*` for actions without resource-level
    /// permissions).
    pub resource: String,
    /// Condition keys of the request and their values (e.g. `s3:prefix`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub context: BTreeMap<String, String>,
}

static OVERRIDE: Mutex<Option<PathBuf>> = Mutex::new(None);

/// Logs this process's calls to `path` from now on (for tests that run components in process;
/// child processes need [`CALL_LOG_ENV`]).
pub fn log_to(path: &Path) {
    *OVERRIDE.lock().unwrap_or_else(|e| e.into_inner()) = Some(path.to_owned());
}

/// The operation name (`service.Operation`) and IAM authorisations of one SDK call, read from
/// its typed input; `None` when the input belongs to another service.
pub type Mapping = fn(&Scope<'_>, &Input) -> Option<(String, Vec<Authorisation>)>;

/// The interceptor for a client whose calls `mapping` maps, when a log file is set.
pub fn active(mapping: Mapping) -> Option<CallLog> {
    let path = OVERRIDE
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .or_else(|| std::env::var_os(CALL_LOG_ENV).map(PathBuf::from))?;
    let account = std::env::var("AWS_ACCOUNT_ID")
        .ok()
        .filter(|a| !a.is_empty())
        .unwrap_or_else(|| DEFAULT_ACCOUNT.into());
    Some(CallLog {
        path,
        account,
        mapping,
    })
}

/// Reads a log file back.
pub fn read(path: &Path) -> std::io::Result<Vec<LoggedCall>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l).map_err(|e| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{}: '{l}': {e}", path.display()),
                )
            })
        })
        .collect()
}

/// The interceptor appending to the call log.
#[derive(Debug, Clone)]
pub struct CallLog {
    path: PathBuf,
    account: String,
    mapping: Mapping,
}

impl Intercept for CallLog {
    fn name(&self) -> &'static str {
        "stepscore-call-log"
    }

    fn read_before_execution(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // Only named components are logged: unnamed configs are tests' own setup.
        let Some(principal) = cfg.load::<AppName>().map(|a| a.as_ref().to_owned()) else {
            return Ok(());
        };
        let region = cfg
            .load::<Region>()
            .map(|r| r.as_ref().to_owned())
            .unwrap_or_default();
        let scope = Scope {
            partition: partition(&region),
            region: &region,
            account: &self.account,
        };
        let input = context.input();
        let (operation, authorisations) =
            (self.mapping)(&scope, input).unwrap_or_else(|| unmapped(input));
        let mut lines = String::new();
        for (action, resource, ctx) in authorisations {
            let call = LoggedCall {
                principal: Some(principal.clone()),
                operation: operation.clone(),
                action,
                resource,
                context: ctx,
            };
            lines.push_str(&serde_json::to_string(&call)?);
            lines.push('\n');
        }
        // One write per call on an O_APPEND file: lines of concurrent writers (threads, the
        // scoring child processes) do not interleave.
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        file.write_all(lines.as_bytes())?;
        Ok(())
    }
}

/// The partition a region belongs to.
pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else if region.starts_with("us-iso-") {
        "aws-iso"
    } else if region.starts_with("us-isob-") {
        "aws-iso-b"
    } else {
        "aws"
    }
}

/// Where a call is made: what the ARNs of the resources it names are built from.
#[derive(Debug)]
pub struct Scope<'a> {
    /// The partition of the region (`aws`, `aws-cn`, ...).
    pub partition: &'static str,
    /// The client's region.
    pub region: &'a str,
    /// The account (`AWS_ACCOUNT_ID`, else [`DEFAULT_ACCOUNT`]).
    pub account: &'a str,
}

impl Scope<'_> {
    /// `arn:<partition>:<service>:<region>:<account>:<resource>`.
    pub fn arn(&self, service: &str, resource: &str) -> String {
        format!(
            "arn:{}:{service}:{}:{}:{resource}",
            self.partition, self.region, self.account
        )
    }

    /// A Batch queue or job definition named by name or ARN.
    pub fn batch(&self, kind: &str, name_or_arn: &str) -> String {
        if name_or_arn.starts_with("arn:") {
            name_or_arn.to_owned()
        } else {
            self.arn("batch", &format!("{kind}/{name_or_arn}"))
        }
    }
}

/// One IAM authorisation of a call: the action (`None` when the operation is not mapped), the
/// resource ARN and the condition keys IAM sees.
pub type Authorisation = (Option<String>, String, BTreeMap<String, String>);

/// The authorisation of `action` on `resource`, with no condition keys.
pub fn auth(action: &str, resource: String) -> Authorisation {
    (Some(action.to_owned()), resource, BTreeMap::new())
}

fn object(scope: &Scope<'_>, bucket: Option<&str>, key: Option<&str>) -> String {
    format!(
        "arn:{}:s3:::{}/{}",
        scope.partition,
        bucket.unwrap_or_default(),
        key.unwrap_or_default()
    )
}

fn bucket(scope: &Scope<'_>, bucket: Option<&str>) -> String {
    format!(
        "arn:{}:s3:::{}",
        scope.partition,
        bucket.unwrap_or_default()
    )
}

/// `aws_sdk_s3::operation::get_object::GetObjectInput` -> `s3.GetObject`.
pub fn operation_name(type_name: &str) -> String {
    let service = type_name
        .split("::")
        .next()
        .unwrap_or_default()
        .trim_start_matches("aws_sdk_");
    let input = type_name.rsplit("::").next().unwrap_or_default();
    format!("{service}.{}", input.trim_end_matches("Input"))
}

/// The [`Mapping`] of S3's calls (the S3 client's interceptor).
pub fn s3(scope: &Scope<'_>, input: &Input) -> Option<(String, Vec<Authorisation>)> {
    use aws_sdk_s3::operation as s3;

    macro_rules! on {
        ($ty:ty, |$i:ident| $body:expr) => {
            if let Some($i) = input.downcast_ref::<$ty>() {
                return Some((operation_name(std::any::type_name::<$ty>()), $body));
            }
        };
    }
    on!(s3::get_object::GetObjectInput, |i| vec![auth(
        if i.version_id().is_some() {
            "s3:GetObjectVersion"
        } else {
            "s3:GetObject"
        },
        object(scope, i.bucket(), i.key())
    )]);
    on!(s3::head_object::HeadObjectInput, |i| vec![auth(
        if i.version_id().is_some() {
            "s3:GetObjectVersion"
        } else {
            "s3:GetObject"
        },
        object(scope, i.bucket(), i.key())
    )]);
    on!(s3::list_objects_v2::ListObjectsV2Input, |i| {
        let mut context = BTreeMap::new();
        // IAM sees the prefix the request carries; none at all is the key missing.
        if let Some(prefix) = i.prefix() {
            context.insert("s3:prefix".to_owned(), prefix.to_owned());
        }
        vec![(
            Some("s3:ListBucket".into()),
            bucket(scope, i.bucket()),
            context,
        )]
    });
    on!(s3::put_object::PutObjectInput, |i| vec![auth(
        "s3:PutObject",
        object(scope, i.bucket(), i.key())
    )]);
    on!(
        s3::create_multipart_upload::CreateMultipartUploadInput,
        |i| vec![auth("s3:PutObject", object(scope, i.bucket(), i.key()))]
    );
    on!(s3::upload_part::UploadPartInput, |i| vec![auth(
        "s3:PutObject",
        object(scope, i.bucket(), i.key())
    )]);
    on!(
        s3::complete_multipart_upload::CompleteMultipartUploadInput,
        |i| vec![auth("s3:PutObject", object(scope, i.bucket(), i.key()))]
    );
    on!(
        s3::abort_multipart_upload::AbortMultipartUploadInput,
        |i| vec![auth(
            "s3:AbortMultipartUpload",
            object(scope, i.bucket(), i.key())
        )]
    );
    on!(s3::create_bucket::CreateBucketInput, |i| vec![auth(
        "s3:CreateBucket",
        bucket(scope, i.bucket())
    )]);
    None
}

/// A call its client's mapping does not know: named by its input's Debug form
/// (`FooInput { .. }`), logged with no action.
fn unmapped(input: &Input) -> (String, Vec<Authorisation>) {
    let debug = format!("{input:?}");
    let name = debug
        .split([' ', '{', '('])
        .find(|w| w.ends_with("Input"))
        .unwrap_or("unknown operation")
        .trim_end_matches("Input")
        .to_owned();
    (name.clone(), vec![(None, name, BTreeMap::new())])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_are_named_by_service_and_input_type() {
        assert_eq!(
            operation_name("aws_sdk_s3::operation::head_object::HeadObjectInput"),
            "s3.HeadObject"
        );
    }

    #[test]
    fn partitions_follow_the_region() {
        assert_eq!(partition("us-east-1"), "aws");
        assert_eq!(partition("cn-north-1"), "aws-cn");
        assert_eq!(partition("us-gov-west-1"), "aws-us-gov");
    }
}
