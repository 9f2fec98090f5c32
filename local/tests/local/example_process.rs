//! A `local` example binary run as a real child process over a state directory (its output in
//! `server.log` there), killed with SIGKILL when dropped: how the crash-safety tests stop a
//! serving runtime mid-work.

use std::path::Path;
use std::process::{Child, Command};

/// A child process, SIGKILLed and reaped when dropped.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the example `name` (built by `cargo test` beside this test binary) with the state
/// directory `dir` and then `args`.
pub fn spawn_example(name: &str, dir: &Path, args: &[&str]) -> Killed {
    let exe = std::env::current_exe().unwrap();
    let bin = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join(name);
    assert!(bin.exists(), "{} is built by cargo test", bin.display());
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("server.log"))
        .unwrap();
    Killed(
        Command::new(bin)
            .arg(dir)
            .args(args)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap(),
    )
}
