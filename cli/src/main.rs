//! `stepscore` command line.
fn main() {}
