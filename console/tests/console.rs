//! The console's API over real HTTP, against a real state directory: the real pipeline (state
//! machine, handlers, local Batch) runs jobs with a shell script as the scoring container.

#[path = "console/harness.rs"]
mod harness;

#[path = "console/runs.rs"]
mod runs;

#[path = "console/security.rs"]
mod security;

#[path = "console/lists.rs"]
mod lists;
