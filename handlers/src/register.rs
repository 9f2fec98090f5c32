//! register: the state machine's first state. Finds (or, for a run started by hand with a config
//! as its input, creates) the job record and returns the job state the other tasks pass on.

use serde::Deserialize;
use serde_json::Value;
use stepscore_core::JobId;
use stepscore_core::config::JobConfig;
use stepscore_core::ports::{Clock, Created, JobTable};
use stepscore_core::record::JobRecord;

use crate::error::HandlerError;
use crate::state::{JobState, job_id_for_execution};

/// Register's task input (the state machine's Parameters).
#[derive(Debug, Clone, Deserialize)]
pub struct RegisterInput {
    /// The execution input: `{"job_id", "source"}` from admit, or a job config.
    pub input: Value,
    /// `$$.Execution.Name`.
    pub execution_name: String,
    /// `$$.Execution.Id` (the execution ARN).
    #[serde(default)]
    pub execution_arn: Option<String>,
}

/// Registers the execution's job.
#[tracing::instrument(skip_all, fields(execution = %input.execution_name))]
pub async fn register(table: &dyn JobTable, clock: &dyn Clock, input: RegisterInput) -> Result<JobState, HandlerError> {
    if let Some(id) = input.input.get("job_id").and_then(Value::as_str) {
        let id = JobId::parse(id).map_err(|e| HandlerError::BadConfig(e.to_string()))?;
        let record = table.get(&id).await?.ok_or_else(|| HandlerError::NotFound(format!("no job record '{id}': admit writes it before starting the execution; start runs by hand with a job config as input")))?;
        return state_of(record);
    }
    let config_name = input.input.get("name").and_then(Value::as_str);
    let id = job_id_for_execution(&input.execution_name, config_name);
    let source = format!("execution {}", input.execution_name);
    let config = JobConfig::from_value(&input.input, &source).map_err(|e| HandlerError::BadConfig(e.to_string()))?;
    let mut record = JobRecord::pending(id, "console", config.to_json(), clock.now());
    record.execution_arn = input.execution_arn;
    match table.create(&record).await? {
        Created::Created => state_of(record),
        Created::Exists(existing) => state_of(existing),
    }
}

fn state_of(record: JobRecord) -> Result<JobState, HandlerError> {
    if record.status.is_terminal() {
        return Err(HandlerError::BadConfig(format!(
            "job '{}' is already {}: {}",
            record.id,
            record.status,
            record.failure_reason.as_deref().unwrap_or("nothing more to do")
        )));
    }
    let config = JobConfig::from_value(&record.config, &format!("job record '{}'", record.id)).map_err(|e| HandlerError::BadConfig(e.to_string()))?;
    let mut state = JobState::new(record.id, config);
    state.attempt = record.attempt;
    Ok(state)
}
