//! Where a cold start's model load goes: each phase of loading an artifact timed on its own,
//! best of RUNS (default 10), in milliseconds. `bench/predict/run.sh` prints it beside the cold
//! start it explains.
//!
//!   cargo run --release -p stepscore-predict --example load_phases -- MODEL [RUNS]
//!
//! `stepscore serve` reads the file, then parses (JSON scan, kernel, checks, compile) on one
//! thread while a second hashes the bytes for the version (MD5 of a local file).

use std::time::Instant;

use md5::{Digest, Md5};
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::value::RawValue;
use stepscore_batch::kernel::Kernel;
use stepscore_batch::model::Model;

fn best<T>(runs: usize, mut f: impl FnMut() -> T) -> f64 {
    (0..runs)
        .map(|_| {
            let t0 = Instant::now();
            std::hint::black_box(f());
            t0.elapsed().as_secs_f64() * 1e3
        })
        .fold(f64::INFINITY, f64::min)
}

/// The artifact's kernel as written (absent for k-NN).
#[derive(Deserialize)]
struct KernelText<'a> {
    #[serde(borrow)]
    kernel: Option<&'a RawValue>,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = args.first().ok_or("usage: load_phases MODEL [RUNS]")?;
    let runs: usize = args.get(1).map_or(Ok(10), |r| r.parse())?;
    let bytes = std::fs::read(path)?;
    let kernel = serde_json::from_slice::<KernelText>(&bytes)?
        .kernel
        .map_or("null", RawValue::get);
    println!(
        "artifact {path}: {} bytes, its kernel {} bytes; best of {runs}, ms",
        bytes.len(),
        kernel.len()
    );
    let phases: [(&str, f64); 5] = [
        ("read the file", best(runs, || std::fs::read(path))),
        ("MD5 (the version)", best(runs, || Md5::digest(&bytes))),
        (
            "scan the JSON",
            best(runs, || serde_json::from_slice::<IgnoredAny>(&bytes)),
        ),
        (
            "read the kernel",
            best(runs, || serde_json::from_str::<Option<Kernel>>(kernel)),
        ),
        (
            "whole model: scan, read, check, compile",
            best(runs, || Model::from_slice(&bytes, path)),
        ),
    ];
    for (what, ms) in phases {
        println!("  {what:<40} {ms:7.2}");
    }
    Ok(())
}
