//! The embedded world's adapters, each tested against real files, a real SQLite database and
//! real child processes; every test works in its own temp dir.

mod batch;
mod example_process;
mod executions;
mod failing_db;
mod map_run;
mod pipeline;
mod progress;
mod runtime;
mod scanner;
mod schedule;
mod table;
