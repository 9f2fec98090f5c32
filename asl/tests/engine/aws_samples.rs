//! AWS's own public collection of Step Functions workflows (`asl/testdata/aws-samples/`, 170
//! definitions, 13 of them Distributed Maps): every definition AWS accepts validates here, and
//! the ones AWS refuses are refused, each for the reason written next to it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;
use stepscore_asl::model::{ValidationOptions, parse_definition};

/// Definitions AWS itself refuses, with the part of the message that says why.
const REFUSED_BY_AWS: &[(&str, &str)] = &[
    // `"Messages": "Messages.$": "$.Messages"`: not JSON
    (
        "sfn-iot-data-analytics-dataset/statemachine/statemachine.asl.json",
        "not JSON",
    ),
    // `QueryLanguage` written inside `States`, where it reads as a state named QueryLanguage
    (
        "shared-fallback-state-jsonata/statemachine/statemachine.asl.json",
        "Expected value of type: Object",
    ),
    // `?(@.Name==Receipt)`: an unquoted string in a JSONPath filter
    (
        "textract-analyze-expense-tf/statemachine/statemachine.asl.json",
        "must be a valid JSONPath",
    ),
];

fn samples() -> Vec<(String, Option<Value>)> {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/aws-samples/definitions.jsonl");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .map(|line| {
            let mut case: Value = serde_json::from_str(line).expect("a JSON line");
            let path = case["path"].as_str().expect("a path").to_string();
            (path, case.get_mut("definition").map(Value::take))
        })
        .collect()
}

/// The problems validation finds in one sample, as text (`not JSON` when it is not).
fn problems(definition: &Option<Value>) -> Vec<String> {
    let Some(definition) = definition else {
        return vec!["not JSON".to_string()];
    };
    match parse_definition(definition, ValidationOptions::default()) {
        Ok(_) => Vec::new(),
        Err(diags) => diags
            .iter()
            .map(|d| format!("{}: {}", d.code, d.message))
            .collect(),
    }
}

#[test]
fn every_definition_aws_accepts_validates_and_those_it_refuses_are_refused_for_their_reason() {
    let samples = samples();
    assert_eq!(samples.len(), 170, "the collection's 170 definitions");
    let mut wrong = BTreeMap::new();
    let (mut accepted, mut refused) = (0, 0);
    for (path, definition) in &samples {
        let found = problems(definition);
        let refused_by_aws = REFUSED_BY_AWS.iter().find(|(p, _)| p == path);
        match refused_by_aws {
            Some((_, reason)) => {
                refused += 1;
                if !found.iter().any(|f| f.contains(reason)) {
                    wrong.insert(
                        path.clone(),
                        format!("should be refused ({reason}), got {found:?}"),
                    );
                }
            }
            None => {
                accepted += 1;
                if !found.is_empty() {
                    wrong.insert(path.clone(), format!("valid on AWS, refused: {found:?}"));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
    assert_eq!((accepted, refused), (167, 3));
}
