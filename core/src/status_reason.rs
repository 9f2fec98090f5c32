//! The Batch `statusReason` texts the pipeline acts on, in one place, with AWS's documentation
//! for each, and what each means for a job that may move from spot to on-demand capacity.
//!
//! Batch reports why a job failed only in free text. The pipeline must tell a job that lost its
//! capacity (run it again on demand) from one that failed on its own (running it elsewhere
//! cannot help), so every text it matches is listed here and nowhere else.

/// What a failed job's statusReason says about running it again on the on-demand queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureCause {
    /// The spot capacity under the job was taken back (EC2 Spot reclaim, Fargate Spot
    /// interruption): the job itself was fine.
    SpotReclaimed,
    /// The queue never found capacity for the job and Batch cancelled it (a
    /// `jobStateTimeLimitActions` rule), or stepscore stopped waiting for spot capacity.
    NoCapacity,
    /// Anything else: the job's own failure.
    Other,
}

/// EC2 Spot reclaim: `Host EC2 (instance i-0abc…) terminated.` (AWS Batch User Guide, "Automated
/// job retries": match it with `onStatusReason: "Host EC2*"`).
pub const EC2_HOST_TERMINATED_PREFIX: &str = "Host EC2";

/// Fargate Spot interruption: the ECS task's stoppedReason (stopCode `SpotInterruption`), which
/// Batch reports as the job's statusReason (Amazon ECS Developer Guide, "Fargate Spot
/// termination notices").
pub const FARGATE_SPOT_INTERRUPTED: &str = "Your Spot Task was interrupted.";

/// A job a queue's `jobStateTimeLimitActions` cancelled after it waited RUNNABLE too long:
/// `Canceled by JobStateTimeLimit action due to reason: <reason>` (AWS Batch User Guide, "Jobs
/// stuck in RUNNABLE status").
pub const JOB_STATE_TIME_LIMIT_PREFIX: &str =
    "Canceled by JobStateTimeLimit action due to reason: ";

/// The `reason` codes of `jobStateTimeLimitActions` that mean the spot queue cannot place the job
/// but an on-demand queue (its own compute environments, instance types and limits) may. Each
/// with what AWS says it means.
pub const NO_CAPACITY_REASONS: &[(&str, &str)] = &[
    (
        "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY",
        "all connected compute environments have insufficient capacity errors",
    ),
    (
        "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE",
        "every compute environment's maxvCpus is smaller than the job needs",
    ),
    (
        "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT",
        "no compute environment has instances that meet the job's vCPU or memory requirement",
    ),
];

/// The statusReason stepscore gives a spot job it terminates because it did not start within
/// the config's `spot_wait_seconds`.
pub const SPOT_WAIT_PREFIX: &str = "stepscore: no spot capacity";

/// The statusReason of a spot job stepscore terminated after `waited` seconds RUNNABLE.
pub fn spot_wait_reason(waited_seconds: u64, limit_seconds: u64) -> String {
    format!(
        "{SPOT_WAIT_PREFIX}: the job waited {waited_seconds} s without starting (spot_wait_seconds = {limit_seconds})"
    )
}

/// What `status_reason` says about the failure.
pub fn classify(status_reason: Option<&str>) -> FailureCause {
    let Some(r) = status_reason else {
        return FailureCause::Other;
    };
    if r.starts_with(EC2_HOST_TERMINATED_PREFIX) || r.starts_with(FARGATE_SPOT_INTERRUPTED) {
        return FailureCause::SpotReclaimed;
    }
    if r.starts_with(SPOT_WAIT_PREFIX) {
        return FailureCause::NoCapacity;
    }
    if let Some(code) = r.strip_prefix(JOB_STATE_TIME_LIMIT_PREFIX) {
        let code = code.split_whitespace().next().unwrap_or("");
        if NO_CAPACITY_REASONS.iter().any(|(c, _)| *c == code) {
            return FailureCause::NoCapacity;
        }
    }
    FailureCause::Other
}

/// AWS's meaning of a `jobStateTimeLimitActions` cancellation, for a failure reason a user reads;
/// `None` for any other statusReason.
pub fn time_limit_meaning(status_reason: &str) -> Option<&'static str> {
    let code = status_reason.strip_prefix(JOB_STATE_TIME_LIMIT_PREFIX)?;
    let code = code.split_whitespace().next().unwrap_or("");
    NO_CAPACITY_REASONS
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, meaning)| *meaning)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spot_reclaims_on_ec2_and_fargate_are_recognised() {
        assert_eq!(
            classify(Some("Host EC2 (instance i-0abc1234) terminated.")),
            FailureCause::SpotReclaimed
        );
        assert_eq!(
            classify(Some("Your Spot Task was interrupted.")),
            FailureCause::SpotReclaimed
        );
    }

    #[test]
    fn a_time_limit_cancel_for_capacity_or_resources_is_a_capacity_failure() {
        for (code, _) in NO_CAPACITY_REASONS {
            let reason = format!("{JOB_STATE_TIME_LIMIT_PREFIX}{code}");
            assert_eq!(classify(Some(&reason)), FailureCause::NoCapacity, "{code}");
            assert!(time_limit_meaning(&reason).is_some());
        }
        assert_eq!(
            classify(Some(&spot_wait_reason(901, 900))),
            FailureCause::NoCapacity
        );
    }

    #[test]
    fn terraforms_queues_cancel_for_exactly_the_reasons_listed_here() {
        // the job queues' jobStateTimeLimitActions (terraform/locals.tf) produce the cancels
        // classify() reads: a reason added on one side only would fail jobs or strand them
        let locals = include_str!("../../terraform/locals.tf");
        let start = locals
            .find("runnable_cancel_reasons = [")
            .expect("terraform/locals.tf defines runnable_cancel_reasons");
        let block = &locals[start..];
        let block = &block[..block.find(']').expect("the list ends")];
        let in_terraform: Vec<&str> = block.split('"').skip(1).step_by(2).collect();
        let here: Vec<&str> = NO_CAPACITY_REASONS.iter().map(|(c, _)| *c).collect();
        assert_eq!(in_terraform, here);
    }

    #[test]
    fn other_reasons_are_the_jobs_own_failure() {
        for r in [
            "Essential container in task exited",
            "Job attempt duration exceeded timeout",
            // a permission problem is the same on every queue
            "Canceled by JobStateTimeLimit action due to reason: MISCONFIGURATION:SERVICE_ROLE_PERMISSIONS",
            "host EC2 lowercase is not AWS's text",
        ] {
            assert_eq!(classify(Some(r)), FailureCause::Other, "{r}");
        }
        assert_eq!(classify(None), FailureCause::Other);
    }
}
