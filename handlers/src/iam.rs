//! The IAM actions each handler's port calls need, from `stepscore_aws::iam` (the table the AWS
//! adapters are built to), so tests can check them against `lambda-functions.json`.

pub use stepscore_aws::iam::{PortCall, iam_actions};
