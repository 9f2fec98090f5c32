//! Runs the committed conformance corpus and fails if any case listed in `passing.txt` fails.
//! `UPDATE_EXPECT=1 cargo test -p stepscore-asl` rewrites the list from today's results.

use std::collections::BTreeSet;
use std::path::PathBuf;

use stepscore_asl::conformance::{self, Verdict};

const FILES: [&str; 3] = [
    "cases.jsonl",
    "test_state_cases.jsonl",
    "validation_cases.jsonl",
];

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/conformance")
}

#[test]
fn no_passing_conformance_case_regresses() {
    let mut passing = BTreeSet::new();
    let mut failures = Vec::new();
    let mut total = (0, 0, 0);
    for file in FILES {
        let report = conformance::run_file(&dir().join(file)).unwrap_or_else(|e| panic!("{e}"));
        total.0 += report.passed();
        total.1 += report.failed();
        total.2 += report.skipped();
        for case in &report.cases {
            match &case.verdict {
                Verdict::Pass => {
                    passing.insert(case.name.clone());
                }
                Verdict::Fail(diff) => failures.push((case.name.clone(), diff.clone())),
                Verdict::Skip(_) => {}
            }
        }
    }
    eprintln!(
        "conformance: {} passed, {} failed, {} skipped",
        total.0, total.1, total.2
    );
    let list_path = dir().join("passing.txt");
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        let text: String = passing.iter().map(|n| format!("{n}\n")).collect();
        std::fs::write(&list_path, text).expect("write passing.txt");
        return;
    }
    let listed = std::fs::read_to_string(&list_path)
        .expect("passing.txt exists; create it with UPDATE_EXPECT=1");
    let regressed: Vec<&(String, String)> = failures
        .iter()
        .filter(|(name, _)| listed.lines().any(|l| l == name))
        .collect();
    let missing: Vec<&str> = listed
        .lines()
        .filter(|l| !l.is_empty() && !passing.contains(*l) && !failures.iter().any(|(n, _)| n == l))
        .collect();
    assert!(
        missing.is_empty(),
        "cases listed in passing.txt are no longer in the corpus: {missing:?}"
    );
    if !regressed.is_empty() {
        for (name, diff) in &regressed {
            eprintln!("REGRESSED {name}\n{diff}\n");
        }
        panic!(
            "{} conformance case(s) listed in passing.txt now fail",
            regressed.len()
        );
    }
}

#[test]
fn every_execution_case_passes_and_none_is_skipped() {
    let report = conformance::run_file(&dir().join("cases.jsonl")).expect("corpus readable");
    let failed: Vec<&str> = report
        .cases
        .iter()
        .filter(|c| matches!(c.verdict, Verdict::Fail(_)))
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(failed, Vec::<&str>::new());
    assert!(
        report
            .render()
            .ends_with(&format!("{}\n", report.summary()))
    );
    assert_eq!(report.skipped(), 0);
    assert_eq!(
        report.summary(),
        format!("{} passed, 0 failed", report.passed())
    );
}

#[test]
fn summary_line_omits_skipped_when_nothing_was_skipped() {
    let line = r#"{"name": "one", "definition": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}, "input": {"a": 1}, "expected": {"status": "SUCCEEDED", "output": {"a": 1}}}"#;
    let report = conformance::run_text(line, "inline").expect("valid line");
    assert_eq!(report.summary(), "1 passed, 0 failed");
}

#[test]
fn a_failing_case_reports_a_readable_diff() {
    let line = r#"{"name": "wrong", "definition": {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": 2, "End": true}}}, "input": {}, "expected": {"status": "SUCCEEDED", "output": 3}}"#;
    let report = conformance::run_text(line, "inline").expect("valid line");
    let text = report.render();
    assert!(text.contains("FAIL wrong"), "{text}");
    assert!(text.contains("at /output: expected 3, got 2"), "{text}");
    assert!(text.ends_with("0 passed, 1 failed\n"), "{text}");
}

#[test]
fn placeholders_in_expected_values_match_any_text() {
    let line = r#"{"name": "ctx", "placeholders": ["<ArnPart_0idx>"], "definition": {"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"id.$": "$$.StateMachine.Id", "t.$": "$$.Execution.StartTime"}, "End": true}}}, "input": {}, "expected": {"status": "SUCCEEDED", "output": {"id": "arn:aws:states:us-east-1:111111111111:stateMachine:<ArnPart_0idx>", "t": "date"}}}"#;
    let report = conformance::run_text(line, "inline").expect("valid line");
    assert_eq!(
        report.summary(),
        "1 passed, 0 failed",
        "{}",
        report.render()
    );
}
