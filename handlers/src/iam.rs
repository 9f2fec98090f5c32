//! The IAM actions each port call a handler makes needs on AWS: the table `lambda-functions.json`
//! (and so Terraform's least-privilege roles) is checked against by this crate's tests.

pub use stepscore_aws::iam::PortCall;

/// The IAM actions a handler's role must grant for `call`.
///
/// This is `stepscore_aws::iam::iam_actions` less `states:DescribeExecution`: `SfnExecutions`
/// uses it only to tell a duplicate start from a name clash and, without it, takes the name as
/// this job's (names are job ids), so the pipeline's roles leave it out.
pub fn required_actions(call: PortCall) -> Vec<&'static str> {
    stepscore_aws::iam::iam_actions(call)
        .iter()
        .copied()
        .filter(|a| *a != "states:DescribeExecution")
        .collect()
}
