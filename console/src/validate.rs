//! Checking a job config pasted into the page, field by field: against
//! `schemas/job-config.schema.json` (what an editor shows) and by `stepscore-core`'s parser with
//! the admission rules (what `stepscore validate` and the pipeline apply, and the authority).
//! Each problem names its field, so the page shows it there.

use std::sync::OnceLock;

use jsonschema::error::ValidationErrorKind;
use serde::Serialize;
use serde_json::Value;
use stepscore_core::ObjectUri;
use stepscore_core::config::JobConfig;

/// The job config's JSON schema, as committed.
pub const JOB_CONFIG_SCHEMA: &str = include_str!("../../schemas/job-config.schema.json");

/// One problem of a config, at its field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The field (`model`, `tags.team`), or `(document)` for the whole.
    pub field: String,
    /// What is wrong and how to fix it.
    pub message: String,
    /// Which check found it: `schema` or `stepscore`.
    pub source: &'static str,
}

/// A checked config: its problems (none when valid) and the config when it parsed.
#[derive(Debug)]
pub struct Checked {
    /// Every problem, the parser's first, then the schema's on fields the parser had no
    /// problem with.
    pub problems: Vec<Problem>,
    /// The parsed config, when there is no problem.
    pub config: Option<JobConfig>,
}

/// Checks config `text` as the pipeline would admit it from `s3://<bucket>/jobs/`.
pub fn check(text: &str, bucket: &str) -> Checked {
    let problem = |field: &str, message: String, source| Problem {
        field: field.to_owned(),
        message,
        source,
    };
    let value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            return Checked {
                problems: vec![problem("(document)", format!("not JSON: {e}"), "stepscore")],
                config: None,
            };
        }
    };
    let mut problems: Vec<Problem> = Vec::new();
    let mut config = None;
    let source = "the pasted config";
    match JobConfig::from_slice(text.as_bytes(), source) {
        Ok(c) => {
            let jobs = ObjectUri::new(bucket, "jobs/");
            match jobs.map(|jobs| c.check_admission(&jobs, source)) {
                Ok(Ok(())) => config = Some(c),
                Ok(Err(e)) => problems.extend(
                    e.problems
                        .into_iter()
                        .map(|p| problem(&p.field, p.message, "stepscore")),
                ),
                Err(e) => problems.push(problem("(document)", e.to_string(), "stepscore")),
            }
        }
        Err(e) => problems.extend(
            e.problems
                .into_iter()
                .map(|p| problem(&p.field, p.message, "stepscore")),
        ),
    }
    for p in schema_problems(&value) {
        if !problems.iter().any(|q| q.field == p.field) {
            problems.push(p);
        }
    }
    if !problems.is_empty() {
        config = None;
    }
    Checked { problems, config }
}

fn schema_problems(value: &Value) -> Vec<Problem> {
    static VALIDATOR: OnceLock<Option<jsonschema::Validator>> = OnceLock::new();
    let validator = VALIDATOR.get_or_init(|| {
        let schema: Value = serde_json::from_str(JOB_CONFIG_SCHEMA).ok()?;
        jsonschema::draft202012::new(&schema).ok()
    });
    let Some(validator) = validator else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in validator.iter_errors(value) {
        let path = e
            .instance_path
            .as_str()
            .trim_start_matches('/')
            .replace('/', ".");
        let fields: Vec<String> = match &e.kind {
            ValidationErrorKind::Required { property } => {
                vec![property.as_str().unwrap_or("(document)").to_owned()]
            }
            ValidationErrorKind::AdditionalProperties { unexpected } => unexpected
                .iter()
                .map(|u| {
                    if path.is_empty() {
                        u.clone()
                    } else {
                        format!("{path}.{u}")
                    }
                })
                .collect(),
            _ if path.is_empty() => vec!["(document)".to_owned()],
            _ => vec![path.clone()],
        };
        for field in fields {
            out.push(Problem {
                field,
                message: e.to_string(),
                source: "schema",
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(text: &str) -> Vec<String> {
        check(text, "stepscore")
            .problems
            .into_iter()
            .map(|p| p.field)
            .collect()
    }

    #[test]
    fn every_problem_is_named_at_its_field() {
        let f = fields(
            r#"{"name": "bad name!", "model": "s3://stepscore/models/", "input": "s3://stepscore/in.csv", "output": "s3://stepscore/out/", "shard": 3}"#,
        );
        for field in ["name", "model", "shard"] {
            assert!(f.contains(&field.to_owned()), "{field} in {f:?}");
        }
        let missing = fields(r#"{"name": "x"}"#);
        for field in ["model", "input", "output"] {
            assert!(
                missing.contains(&field.to_owned()),
                "{field} in {missing:?}"
            );
        }
        assert_eq!(fields("{not json"), vec!["(document)"]);
    }

    #[test]
    fn a_valid_config_parses_and_the_admission_rules_apply() {
        let ok = check(
            r#"{"name": "daily", "model": "s3://stepscore/models/m.json", "input": "s3://stepscore/data/in.csv", "output": "s3://stepscore/out/daily/"}"#,
            "stepscore",
        );
        assert!(ok.problems.is_empty(), "{:?}", ok.problems);
        assert_eq!(ok.config.map(|c| c.name), Some("daily".into()));
        let overlapping = fields(
            r#"{"name": "daily", "model": "s3://stepscore/models/m.json", "input": "s3://stepscore/data/in.csv", "output": "s3://stepscore/jobs/out/"}"#,
        );
        assert_eq!(overlapping, vec!["output"]);
    }
}
