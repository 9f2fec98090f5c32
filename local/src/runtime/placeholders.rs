//! The values the local world gives the state machine's `${placeholders}`, and the filling of a
//! definition template with them (what Terraform's `templatefile` does on AWS).

use std::collections::BTreeMap;

use super::RuntimeError;
use crate::names::function_arn;

/// The values the local world gives the state machine's `${placeholders}`.
pub fn local_placeholders() -> BTreeMap<String, String> {
    BTreeMap::from([
        // the embedded world's ARNs are in the commercial partition, like function_arn's
        ("partition".into(), "aws".into()),
        (
            "register_function_arn".into(),
            function_arn("stepscore-register"),
        ),
        (
            "submit_function_arn".into(),
            function_arn("stepscore-submit"),
        ),
        ("check_function_arn".into(), function_arn("stepscore-check")),
        (
            "finalize_function_arn".into(),
            function_arn("stepscore-finalize"),
        ),
        ("spot_job_queue".into(), crate::batch::SPOT_QUEUE.into()),
        (
            "on_demand_job_queue".into(),
            crate::batch::ON_DEMAND_QUEUE.into(),
        ),
        (
            "job_definition".into(),
            crate::batch::SCORING_JOB_DEFINITION.into(),
        ),
    ])
}

/// Fills `${name}` placeholders in a definition template; an unknown or unfilled one is an error.
pub fn fill_placeholders(
    template: &str,
    values: &BTreeMap<String, String>,
) -> Result<String, RuntimeError> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(i) = rest.find("${") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let Some(end) = after.find('}') else {
            return Err(RuntimeError::Definition(format!(
                "unterminated placeholder at '{}'",
                &rest[i..rest.len().min(i + 30)]
            )));
        };
        let name = &after[..end];
        let v = values.get(name).ok_or_else(|| {
            RuntimeError::Definition(format!(
                "placeholder '${{{name}}}' has no local value; known: {}",
                values.keys().cloned().collect::<Vec<_>>().join(", ")
            ))
        })?;
        // values land inside JSON strings
        let escaped = serde_json::to_string(v).unwrap_or_default();
        out.push_str(&escaped[1..escaped.len() - 1]);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}
