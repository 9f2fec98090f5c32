//! The deployed stack, for the `--aws` commands: the SDK configuration, and the job table and
//! state machine the global options name.

use anyhow::anyhow;
use stepscore_aws::{DynamoTable, SdkConfig};

use crate::Global;
use crate::exit::Failure;

/// The SDK configuration from the environment, its calls attributed to the CLI.
pub fn sdk_config(runtime: &tokio::runtime::Runtime) -> SdkConfig {
    runtime.block_on(
        stepscore_aws::AwsSettings::from_env()
            .component("stepscore-cli")
            .load(),
    )
}

/// The job table's name: `--table` or `STEPSCORE_TABLE`.
pub fn table_name(g: &Global) -> Result<String, Failure> {
    g.table.clone().ok_or_else(|| Failure::Invalid(anyhow!("--aws needs the job table: pass --table or set STEPSCORE_TABLE (Terraform output `table_name`)")))
}

/// The state machine's ARN: `--state-machine-arn` or `STEPSCORE_STATE_MACHINE_ARN`; `command`
/// names the command that needs it.
pub fn state_machine_arn(g: &Global, command: &str) -> Result<String, Failure> {
    g.state_machine_arn.clone().ok_or_else(|| Failure::Invalid(anyhow!("--aws {command} needs the state machine: pass --state-machine-arn or set STEPSCORE_STATE_MACHINE_ARN (Terraform output `state_machine_arn`)")))
}

/// The job table named by the global options.
pub fn table(g: &Global, runtime: &tokio::runtime::Runtime) -> Result<DynamoTable, Failure> {
    let name = table_name(g)?;
    Ok(DynamoTable::new(&sdk_config(runtime), name))
}
