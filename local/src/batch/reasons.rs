//! The statusReasons AWS Batch gives, as the local Batch writes them.

/// The statusReason AWS gives an attempt killed for running past its timeout.
pub const TIMEOUT_REASON: &str = "Job attempt duration exceeded timeout";
/// The statusReason AWS gives a container that ran (successfully or not).
pub const EXITED_REASON: &str = "Essential container in task exited";
/// The statusReason AWS gives a failed array parent.
pub const ARRAY_CHILD_FAILED_REASON: &str = "Array Child Job failed";

/// The statusReason of an attempt whose host went away (a spot reclaim, a lost executor).
pub(super) fn host_terminated_reason() -> String {
    let hex = uuid::Uuid::new_v4().simple().to_string();
    format!("Host EC2 (instance i-{}) terminated.", &hex[..17])
}
