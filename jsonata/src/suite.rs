//! Runner for the JSONata reference implementation's language-neutral test suite
//! (`groups/<group>/*.json`, `datasets/*.json`; see the suite's TESTSUITE.md).
//!
//! Each case names an expression (`expr` or `expr-file`), an input (`data`, or `dataset` by name,
//! `null` meaning no input), `bindings`, optional `depth`/`timelimit`, and one expectation:
//! `result`, `undefinedResult` or an error `code` (also as `error.code`). Results compare as
//! JSON with object keys in any order. Cases listed in [`SKIPS`] are not run; each line there
//! gives the reason.

use std::fmt::Write as _;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value as Json;

use crate::{Expression, Limits};

/// Cases this implementation does not run, one per line: `<name> <reason>`.
pub const SKIPS: &str = include_str!("../testdata/jsonata-suite-skips.txt");

/// Result of one case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// As expected.
    Pass,
    /// Not as expected: expression, expected and actual.
    Fail(String),
    /// Not run, with the reason from the skip list.
    Skip(String),
}

/// One case's name (`group/file`, `#i` for the i-th case of a file holding several) and verdict.
#[derive(Debug, Clone)]
pub struct CaseResult {
    /// The case's name.
    pub name: String,
    /// What happened.
    pub verdict: Verdict,
}

/// Results of a whole suite.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Per-case results, groups and files in name order.
    pub cases: Vec<CaseResult>,
}

impl Report {
    /// Passing cases.
    pub fn passed(&self) -> usize {
        self.count(|v| matches!(v, Verdict::Pass))
    }

    /// Failing cases.
    pub fn failed(&self) -> usize {
        self.count(|v| matches!(v, Verdict::Fail(_)))
    }

    /// Skipped cases.
    pub fn skipped(&self) -> usize {
        self.count(|v| matches!(v, Verdict::Skip(_)))
    }

    fn count(&self, f: impl Fn(&Verdict) -> bool) -> usize {
        self.cases.iter().filter(|c| f(&c.verdict)).count()
    }

    /// `N passed, N failed` (`, N skipped` when any were skipped).
    pub fn summary(&self) -> String {
        let mut s = format!("{} passed, {} failed", self.passed(), self.failed());
        if self.skipped() > 0 {
            let _ = write!(s, ", {} skipped", self.skipped());
        }
        s
    }

    /// Each failure with its details, each skip with its reason, then the summary line.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for c in &self.cases {
            match &c.verdict {
                Verdict::Pass => {}
                Verdict::Fail(details) => {
                    let _ = writeln!(out, "FAIL {}", c.name);
                    for line in details.lines() {
                        let _ = writeln!(out, "     {line}");
                    }
                }
                Verdict::Skip(why) => {
                    let _ = writeln!(out, "skip {} ({why})", c.name);
                }
            }
        }
        out.push_str(&self.summary());
        out.push('\n');
        out
    }
}

/// Why the suite could not be run at all.
#[derive(Debug, thiserror::Error)]
pub enum SuiteError {
    /// A directory or file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// What was being read.
        path: String,
        /// The IO error.
        source: std::io::Error,
    },
    /// The directory has no `groups/` folder.
    #[error("{0} is not a JSONata test suite: it has no groups/ folder")]
    NotASuite(String),
}

fn read(path: &Path) -> Result<String, SuiteError> {
    std::fs::read_to_string(path).map_err(|source| SuiteError::Read {
        path: path.display().to_string(),
        source,
    })
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>, SuiteError> {
    let entries = std::fs::read_dir(dir).map_err(|source| SuiteError::Read {
        path: dir.display().to_string(),
        source,
    })?;
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    Ok(paths)
}

fn skip_reason(name: &str) -> Option<String> {
    SKIPS.lines().find_map(|line| {
        let (case, reason) = line.split_once(char::is_whitespace)?;
        (case == name).then(|| reason.trim().to_owned())
    })
}

/// Runs every case under `dir` (a suite root with `groups/` and `datasets/`).
///
/// The cases run on a thread of their own with a large stack: deep (but legal) recursion in a
/// case must not depend on the caller's stack size.
pub fn run_dir(dir: &Path) -> Result<Report, SuiteError> {
    if !dir.join("groups").is_dir() {
        return Err(SuiteError::NotASuite(dir.display().to_string()));
    }
    let dir = dir.to_path_buf();
    let worker = std::thread::Builder::new()
        .name("jsonata-suite".to_owned())
        .stack_size(256 << 20)
        .spawn(move || run_groups(&dir))
        .map_err(|source| SuiteError::Read {
            path: "suite worker thread".to_owned(),
            source,
        })?;
    worker.join().unwrap_or_else(|_| {
        Err(SuiteError::NotASuite(
            "the suite worker stopped unexpectedly".to_owned(),
        ))
    })
}

fn run_groups(dir: &Path) -> Result<Report, SuiteError> {
    let mut report = Report::default();
    for group in sorted_entries(&dir.join("groups"))? {
        if !group.is_dir() {
            continue;
        }
        let group_name = group
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        for file in sorted_entries(&group)? {
            if file.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let stem = file
                .file_stem()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let base = format!("{group_name}/{stem}");
            if let Some(reason) = skip_reason(&base) {
                report.cases.push(CaseResult {
                    name: base,
                    verdict: Verdict::Skip(reason),
                });
                continue;
            }
            let text = read(&file)?;
            let parsed: Json = match serde_json::from_str(&text) {
                Ok(v) => v,
                Err(e) => {
                    report.cases.push(CaseResult {
                        name: base,
                        verdict: Verdict::Fail(format!(
                            "the case file is not JSON this runner can read: {e}"
                        )),
                    });
                    continue;
                }
            };
            let cases = match parsed {
                Json::Array(list) => list
                    .into_iter()
                    .enumerate()
                    .map(|(i, c)| (format!("{base}#{i}"), c))
                    .collect(),
                single => vec![(base, single)],
            };
            for (name, case) in cases {
                let verdict = match skip_reason(&name) {
                    Some(reason) => Verdict::Skip(reason),
                    None => run_case(dir, &group, &case),
                };
                report.cases.push(CaseResult { name, verdict });
            }
        }
    }
    Ok(report)
}

/// Runs one case object; `group` is its folder (for `expr-file`).
pub fn run_case(dir: &Path, group: &Path, case: &Json) -> Verdict {
    let expr = match (case.get("expr"), case.get("expr-file")) {
        (Some(Json::String(e)), _) => e.clone(),
        (_, Some(Json::String(f))) => match read(&group.join(f)) {
            Ok(text) => text,
            Err(e) => return Verdict::Fail(e.to_string()),
        },
        _ => return Verdict::Fail("the case has no expr".to_owned()),
    };
    let input: Option<Json> = match (case.get("data"), case.get("dataset")) {
        (Some(d), _) => Some(d.clone()),
        (None, Some(Json::String(name))) => {
            let path = dir.join("datasets").join(format!("{name}.json"));
            match read(&path).map(|t| serde_json::from_str::<Json>(&t)) {
                Ok(Ok(v)) => Some(v),
                Ok(Err(e)) => return Verdict::Fail(format!("dataset {name}: {e}")),
                Err(e) => return Verdict::Fail(e.to_string()),
            }
        }
        _ => None,
    };
    let bindings = case
        .get("bindings")
        .and_then(Json::as_object)
        .cloned()
        .unwrap_or_default();
    // the runner's thread has a large stack (see `run_dir`): let cases use most of it
    let mut limits = Limits {
        max_stack: 128 << 20,
        ..Limits::default()
    };
    if let Some(depth) = case.get("depth").and_then(Json::as_u64) {
        limits.max_depth = depth as usize;
    }
    if let Some(ms) = case.get("timelimit").and_then(Json::as_u64) {
        limits.time_limit = Some(Duration::from_millis(ms));
    }
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        Expression::compile(&expr).and_then(|e| e.evaluate_with(input.as_ref(), &bindings, limits))
    }));
    let actual = match outcome {
        Ok(r) => r,
        Err(_) => return Verdict::Fail(format!("expression: {expr}\npanicked")),
    };
    let expected_code = case
        .get("code")
        .or_else(|| case.get("error").and_then(|e| e.get("code")))
        .and_then(Json::as_str);
    let describe = |expected: String| -> String {
        let got = match &actual {
            Ok(Some(v)) => v.to_string(),
            Ok(None) => "undefined".to_owned(),
            Err(e) => format!("error {e}"),
        };
        format!(
            "expression: {}\nexpected:   {expected}\nactual:     {got}",
            expr.trim()
        )
    };
    let expected_token = case
        .get("token")
        .or_else(|| case.get("error").and_then(|e| e.get("token")))
        .and_then(Json::as_str);
    if let Some(code) = expected_code {
        let token_ok =
            |e: &crate::Error| expected_token.is_none_or(|t| e.token.as_deref() == Some(t));
        return match &actual {
            Err(e) if e.code == code && token_ok(e) => Verdict::Pass,
            _ => Verdict::Fail(describe(match expected_token {
                Some(t) => format!("error {code} (token {t})"),
                None => format!("error {code}"),
            })),
        };
    }
    if case
        .get("undefinedResult")
        .is_some_and(|u| u == &Json::Bool(true))
    {
        return match &actual {
            Ok(None) => Verdict::Pass,
            _ => Verdict::Fail(describe("undefined".to_owned())),
        };
    }
    match case.get("result") {
        Some(expected) => match &actual {
            Ok(Some(v)) if json_equal(v, expected) => Verdict::Pass,
            _ => Verdict::Fail(describe(expected.to_string())),
        },
        None => Verdict::Fail(describe("(the case states no expectation)".to_owned())),
    }
}

/// JSON equality with numbers compared as numbers and object keys in any order.
pub fn json_equal(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Number(x), Json::Number(y)) => x.as_f64() == y.as_f64(),
        (Json::Array(x), Json::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_equal(a, b))
        }
        (Json::Object(x), Json::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w)))
        }
        _ => a == b,
    }
}
