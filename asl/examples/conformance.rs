//! Runs a conformance corpus file and prints per-case results and the summary line.
//!
//! `cargo run -p stepscore-asl --example conformance -- asl/testdata/conformance/cases.jsonl`

use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: conformance <cases.jsonl>");
        return ExitCode::from(2);
    };
    match stepscore_asl::conformance::run_file(std::path::Path::new(&path)) {
        Ok(report) => {
            print!("{}", report.render());
            if report.failed() == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
