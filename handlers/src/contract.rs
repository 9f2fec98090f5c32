//! `lambda-functions.json`: the functions' binaries and environment, shared with Terraform and
//! its cross-check tests (their IAM permissions are `iam/policies.json`, see
//! `stepscore_aws::policy`).

use std::collections::BTreeMap;

use serde::Deserialize;

/// The file's text, part of this build.
pub const LAMBDA_FUNCTIONS_JSON: &str = include_str!("../lambda-functions.json");

/// The parsed contract.
#[derive(Debug, Clone, Deserialize)]
pub struct Contract {
    /// Function name -> its contract.
    pub functions: BTreeMap<String, Function>,
    /// Placeholder name -> what it holds.
    pub state_machine_placeholders: BTreeMap<String, String>,
}

/// One function's contract.
#[derive(Debug, Clone, Deserialize)]
pub struct Function {
    /// The binary's name.
    pub binary: String,
    /// The environment variables it reads.
    pub env: Vec<String>,
}

/// The contract of this build.
pub fn contract() -> Result<Contract, serde_json::Error> {
    serde_json::from_str(LAMBDA_FUNCTIONS_JSON)
}
