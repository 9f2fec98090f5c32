//! Runs the committed JSONata test suite and fails if a case listed in
//! `testdata/jsonata-suite-passing.txt` fails. A case that newly passes is reported, so that
//! the list can grow: `UPDATE_EXPECT=1 cargo test -p stepscore-jsonata --test suite` rewrites it.

use std::collections::BTreeSet;
use std::path::PathBuf;

use stepscore_jsonata::suite::{self, Verdict};

fn testdata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata")
}

#[test]
fn no_passing_suite_case_regresses() {
    let report = suite::run_dir(&testdata().join("jsonata-suite")).expect("suite readable");
    eprintln!("jsonata suite: {}", report.summary());
    let passing: BTreeSet<&str> = report
        .cases
        .iter()
        .filter(|c| c.verdict == Verdict::Pass)
        .map(|c| c.name.as_str())
        .collect();
    let list_path = testdata().join("jsonata-suite-passing.txt");
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        let text: String = passing.iter().map(|n| format!("{n}\n")).collect();
        std::fs::write(&list_path, text).expect("write the passing list");
        return;
    }
    let listed_text = std::fs::read_to_string(&list_path)
        .expect("the passing list exists; create it with UPDATE_EXPECT=1");
    let listed: BTreeSet<&str> = listed_text.lines().filter(|l| !l.is_empty()).collect();
    let known: BTreeSet<&str> = report.cases.iter().map(|c| c.name.as_str()).collect();
    let missing: Vec<&&str> = listed.iter().filter(|n| !known.contains(**n)).collect();
    assert!(
        missing.is_empty(),
        "listed cases no longer in the suite: {missing:?}"
    );
    let newly: Vec<&&str> = passing.iter().filter(|n| !listed.contains(**n)).collect();
    if !newly.is_empty() {
        eprintln!(
            "{} case(s) pass that the list does not hold yet (UPDATE_EXPECT=1 adds them): {newly:?}",
            newly.len()
        );
    }
    let regressed: Vec<(&str, &str)> = report
        .cases
        .iter()
        .filter(|c| listed.contains(c.name.as_str()))
        .filter_map(|c| match &c.verdict {
            Verdict::Fail(details) => Some((c.name.as_str(), details.as_str())),
            _ => None,
        })
        .collect();
    for (name, details) in &regressed {
        eprintln!("REGRESSED {name}\n{details}\n");
    }
    assert!(
        regressed.is_empty(),
        "{} listed case(s) now fail",
        regressed.len()
    );
}

#[test]
fn every_skipped_case_has_a_reason_and_exists() {
    let report = suite::run_dir(&testdata().join("jsonata-suite")).expect("suite readable");
    for line in suite::SKIPS.lines().filter(|l| !l.trim().is_empty()) {
        let (name, reason) = line.split_once(' ').unwrap_or((line, ""));
        assert!(!reason.trim().is_empty(), "skip without a reason: {line}");
        assert!(
            report
                .cases
                .iter()
                .any(|c| c.name == name && matches!(c.verdict, Verdict::Skip(_))),
            "skipped case {name} is not in the suite"
        );
    }
}
