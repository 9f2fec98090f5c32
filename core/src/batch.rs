//! AWS Batch as the pipeline sees it: a submission and the state of a submitted job.
//!
//! Field names follow the Batch API (`evaluateOnExit`, `onStatusReason`, …) so these types
//! serialize to what SubmitJob and DescribeJobs speak, and Terraform's job definition can be
//! compared against them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::status_reason::{self, FailureCause};

/// A job to submit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubmitJobRequest {
    /// Batch job name (the job id plus the attempt).
    pub job_name: String,
    /// Queue name or ARN.
    pub job_queue: String,
    /// Job definition name or ARN.
    pub job_definition: String,
    /// Array size when the job is an array job (2..=10,000); `None` for a single job.
    pub array_size: Option<u32>,
    /// Environment passed to the container (overrides).
    pub environment: BTreeMap<String, String>,
    /// vCPUs (container override).
    pub vcpus: u32,
    /// Memory in MiB (container override).
    pub memory_mib: u32,
    /// Attempt timeout, seconds.
    pub timeout_seconds: u64,
    /// Retry strategy.
    pub retry_strategy: RetryStrategy,
    /// Tags for the job.
    pub tags: BTreeMap<String, String>,
}

/// Batch's retryStrategy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RetryStrategy {
    /// Total attempts (1-10).
    pub attempts: u32,
    /// Rules matched in order against each failed attempt.
    pub evaluate_on_exit: Vec<EvaluateOnExit>,
}

/// One retry rule; each `on*` field is a glob that may end in `*`. All given fields must match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EvaluateOnExit {
    /// Glob on the job's statusReason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_status_reason: Option<String>,
    /// Glob on the container's reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_reason: Option<String>,
    /// Glob on the decimal exit code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_exit_code: Option<String>,
    /// `RETRY` or `EXIT`.
    pub action: RetryAction,
}

/// What a matched retry rule does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RetryAction {
    /// Run another attempt (if any are left).
    Retry,
    /// Fail the job now.
    Exit,
}

/// The scoring job's retry strategy: the one Terraform's job definition also declares.
pub const SCORING_RETRY_STRATEGY_JSON: &str = include_str!("../../batch-job/retry-strategy.json");

impl RetryStrategy {
    /// The scoring job's retry strategy (from `batch-job/retry-strategy.json`).
    pub fn scoring() -> Self {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct File {
            attempts: u32,
            evaluate_on_exit: Vec<EvaluateOnExit>,
        }
        // The file is part of this build (include_str!) and a unit test parses it, so a bad edit
        // fails the tests rather than a deployed Lambda.
        let f: File = serde_json::from_str(SCORING_RETRY_STRATEGY_JSON)
            .expect("batch-job/retry-strategy.json is valid");
        RetryStrategy {
            attempts: f.attempts,
            evaluate_on_exit: f.evaluate_on_exit,
        }
    }

    /// What Batch does after a failed attempt: the action of the first rule that matches, or
    /// `RETRY` when none does (AWS's default), as long as attempts remain.
    pub fn decide(&self, status_reason: &str, reason: &str, exit_code: Option<i32>) -> RetryAction {
        let code = exit_code.map(|c| c.to_string());
        for rule in &self.evaluate_on_exit {
            let matches = rule
                .on_status_reason
                .as_deref()
                .is_none_or(|g| glob_match(g, status_reason))
                && rule
                    .on_reason
                    .as_deref()
                    .is_none_or(|g| glob_match(g, reason))
                && rule
                    .on_exit_code
                    .as_deref()
                    .is_none_or(|g| code.as_deref().is_some_and(|c| glob_match(g, c)));
            if matches {
                return rule.action;
            }
        }
        RetryAction::Retry
    }
}

/// Batch's glob: exact, or a prefix when the pattern ends in `*`.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => text.starts_with(prefix),
        None => pattern == text,
    }
}

/// A Batch job's status names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BatchStatus {
    Submitted,
    Pending,
    Runnable,
    Starting,
    Running,
    Succeeded,
    Failed,
}

impl BatchStatus {
    /// The AWS name.
    pub fn as_str(self) -> &'static str {
        match self {
            BatchStatus::Submitted => "SUBMITTED",
            BatchStatus::Pending => "PENDING",
            BatchStatus::Runnable => "RUNNABLE",
            BatchStatus::Starting => "STARTING",
            BatchStatus::Running => "RUNNING",
            BatchStatus::Succeeded => "SUCCEEDED",
            BatchStatus::Failed => "FAILED",
        }
    }

    /// Parses an AWS name.
    pub fn parse(s: &str) -> Option<Self> {
        [
            BatchStatus::Submitted,
            BatchStatus::Pending,
            BatchStatus::Runnable,
            BatchStatus::Starting,
            BatchStatus::Running,
            BatchStatus::Succeeded,
            BatchStatus::Failed,
        ]
        .into_iter()
        .find(|b| b.as_str() == s)
    }

    /// True once the job has ended.
    pub fn is_terminal(self) -> bool {
        matches!(self, BatchStatus::Succeeded | BatchStatus::Failed)
    }

    /// The job status a record takes while the Batch job is in this state (`PENDING` in Batch,
    /// waiting on dependencies, is still `SUBMITTED` for the pipeline).
    pub fn job_status(self) -> crate::JobStatus {
        use crate::JobStatus as J;
        match self {
            BatchStatus::Submitted | BatchStatus::Pending => J::Submitted,
            BatchStatus::Runnable => J::Runnable,
            BatchStatus::Starting => J::Starting,
            BatchStatus::Running => J::Running,
            BatchStatus::Succeeded => J::Succeeded,
            BatchStatus::Failed => J::Failed,
        }
    }
}

/// The state of a submitted job, as DescribeJobs reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchJobView {
    /// Batch job id.
    pub job_id: String,
    /// Queue it was submitted to.
    pub job_queue: String,
    /// Current status.
    pub status: BatchStatus,
    /// Batch's statusReason (e.g. `Host EC2 (instance i-0abc) terminated.`).
    pub status_reason: Option<String>,
    /// The last attempt's container exit code.
    pub exit_code: Option<i32>,
    /// The last attempt's container reason (e.g. `CannotPullContainerError: …`).
    pub container_reason: Option<String>,
    /// Attempts run so far.
    pub attempts: u32,
    /// For an array job: children per status.
    pub array_status_summary: Option<BTreeMap<String, u32>>,
    /// Array size, for an array job.
    pub array_size: Option<u32>,
    /// For a failed array job: its failed children, by index. The parent's own statusReason
    /// only says that a child failed, so why it failed (a reclaimed spot host, or bad input)
    /// is read from the children.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed_children: Vec<ArrayChildFailure>,
}

/// A failed child of an array job, as ListJobs (`arrayJobId`, `FAILED`) reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArrayChildFailure {
    /// The child's array index.
    pub index: u32,
    /// Its statusReason.
    pub status_reason: Option<String>,
    /// Its container's exit code, when the container ran.
    pub exit_code: Option<i32>,
    /// Its container's reason (e.g. `CannotPullContainerError: …`).
    pub container_reason: Option<String>,
}

impl ArrayChildFailure {
    /// What the child's statusReason says about its failure.
    pub fn cause(&self) -> FailureCause {
        status_reason::classify(self.status_reason.as_deref())
    }

    /// True when the child failed for want of capacity (spot reclaimed, never placed), not on
    /// its own.
    pub fn lost_capacity(&self) -> bool {
        self.cause() != FailureCause::Other
    }

    /// `child 3: <statusReason>` (its exit code and container reason are reported beside it).
    pub fn describe(&self) -> String {
        match &self.status_reason {
            Some(r) => format!("child {}: {r}", self.index),
            None => format!("child {}", self.index),
        }
    }
}

impl BatchJobView {
    /// Why a failed job lost its capacity, `None` when it failed on its own (or has not failed).
    /// An array job lost its capacity when every failed child did: a rerun elsewhere can then
    /// succeed, while one child that failed on its input would fail again on any queue. A
    /// reclaim outranks "never placed" when the children differ.
    pub fn capacity_failure(&self) -> Option<FailureCause> {
        if self.status != BatchStatus::Failed {
            return None;
        }
        let causes: Vec<FailureCause> = if self.failed_children.is_empty() {
            vec![status_reason::classify(self.status_reason.as_deref())]
        } else {
            self.failed_children
                .iter()
                .map(ArrayChildFailure::cause)
                .collect()
        };
        if causes.contains(&FailureCause::Other) {
            None
        } else if causes.contains(&FailureCause::SpotReclaimed) {
            Some(FailureCause::SpotReclaimed)
        } else {
            Some(FailureCause::NoCapacity)
        }
    }

    /// True once the job (or, for an array job, any child) has started on a host.
    pub fn has_started(&self) -> bool {
        let waiting = matches!(
            self.status,
            BatchStatus::Submitted | BatchStatus::Pending | BatchStatus::Runnable
        );
        let child_started = self.array_status_summary.as_ref().is_some_and(|s| {
            ["STARTING", "RUNNING", "SUCCEEDED", "FAILED"]
                .iter()
                .any(|k| s.get(*k).copied().unwrap_or(0) > 0)
        });
        !waiting || child_started
    }

    /// True when the job failed because its spot capacity was reclaimed.
    pub fn was_reclaimed(&self) -> bool {
        self.capacity_failure() == Some(FailureCause::SpotReclaimed)
    }

    /// The child that explains an array job's failure: the first that failed for a reason
    /// other than a reclaimed host, else the first failed child.
    pub fn decisive_child(&self) -> Option<&ArrayChildFailure> {
        self.failed_children
            .iter()
            .find(|c| !c.lost_capacity())
            .or_else(|| self.failed_children.first())
    }

    /// Why the job failed, in one line: the statusReason, and for an array job how many children
    /// failed and why the decisive one did.
    pub fn failure_reason(&self) -> Option<String> {
        let Some(child) = self.decisive_child() else {
            return self.status_reason.clone();
        };
        let of = self
            .array_size
            .map(|n| format!(" of {n}"))
            .unwrap_or_default();
        Some(format!(
            "{}: {}{of} array children failed; {}",
            self.status_reason
                .as_deref()
                .unwrap_or("Array Child Job failed"),
            self.failed_children.len(),
            child.describe()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_retry_strategy_parses() {
        let s = RetryStrategy::scoring();
        assert!((1..=10).contains(&s.attempts));
        assert!(!s.evaluate_on_exit.is_empty());
    }

    #[test]
    fn infrastructure_failures_retry_and_bad_input_exits() {
        let s = RetryStrategy::scoring();
        assert_eq!(
            s.decide("Host EC2 (instance i-0abc) terminated.", "", None),
            RetryAction::Retry
        );
        assert_eq!(
            s.decide(
                "Essential container in task exited",
                "CannotPullContainerError: pull access denied",
                None
            ),
            RetryAction::Retry
        );
        assert_eq!(
            s.decide("Essential container in task exited", "", Some(75)),
            RetryAction::Retry
        );
        assert_eq!(
            s.decide("Essential container in task exited", "", Some(65)),
            RetryAction::Exit
        );
        assert_eq!(
            s.decide("Essential container in task exited", "", Some(1)),
            RetryAction::Exit
        );
    }

    fn failed_array(children: &[(u32, &str, Option<i32>)]) -> BatchJobView {
        BatchJobView {
            job_id: "p".into(),
            job_queue: "spot".into(),
            status: BatchStatus::Failed,
            status_reason: Some("Array Child Job failed".into()),
            exit_code: None,
            container_reason: None,
            attempts: 0,
            array_status_summary: None,
            array_size: Some(4),
            failed_children: children
                .iter()
                .map(|(index, reason, exit_code)| ArrayChildFailure {
                    index: *index,
                    status_reason: Some((*reason).into()),
                    exit_code: *exit_code,
                    container_reason: None,
                })
                .collect(),
        }
    }

    #[test]
    fn an_array_job_is_reclaimed_when_every_failed_child_was() {
        let reclaimed = "Host EC2 (instance i-0abc) terminated.";
        let view = failed_array(&[(1, reclaimed, None), (3, reclaimed, None)]);
        assert!(view.was_reclaimed());
        assert_eq!(
            view.failure_reason().unwrap(),
            "Array Child Job failed: 2 of 4 array children failed; child 1: Host EC2 (instance i-0abc) terminated."
        );
    }

    #[test]
    fn one_child_failing_on_its_input_makes_the_array_job_a_real_failure() {
        let view = failed_array(&[
            (0, "Host EC2 (instance i-0abc) terminated.", None),
            (2, "Essential container in task exited", Some(65)),
        ]);
        assert!(!view.was_reclaimed());
        assert_eq!(view.decisive_child().unwrap().exit_code, Some(65));
        assert_eq!(
            view.failure_reason().unwrap(),
            "Array Child Job failed: 2 of 4 array children failed; child 2: Essential container in task exited"
        );
    }

    #[test]
    fn a_failed_array_job_without_child_details_is_not_taken_for_reclaimed() {
        let view = failed_array(&[]);
        assert!(!view.was_reclaimed());
        assert_eq!(
            view.failure_reason().as_deref(),
            Some("Array Child Job failed")
        );
    }

    #[test]
    fn globs_are_exact_or_prefix() {
        assert!(glob_match(
            "Host EC2*",
            "Host EC2 (instance i-1) terminated."
        ));
        assert!(glob_match("75", "75"));
        assert!(!glob_match("75", "750"));
        assert!(glob_match("*", ""));
    }
}
