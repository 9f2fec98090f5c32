//! Serves a Distributed Map (`tests/fixtures/distributed-map.asl.json`) on the local runtime
//! until killed: `map_run_server <state-dir>`. Its function `slow` appends each batch's ids to
//! `<state-dir>/calls` and takes 100 ms. The Map Run restart test SIGKILLs it mid-run.

use std::io::Write;

use serde_json::{Value, json};
use stepscore_local::LambdaError;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()))
        .init();
    let dir = std::path::PathBuf::from(
        std::env::args()
            .nth(1)
            .ok_or("usage: map_run_server <state-dir>")?,
    );
    let rt = stepscore_local::LocalRuntime::open(config(&dir))?;
    let calls = dir.join("calls");
    rt.register_function(
        "slow",
        std::sync::Arc::new(move |batch: Value| {
            let calls = calls.clone();
            Box::pin(async move {
                let ids: Vec<Value> = batch["Items"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|i| i["id"].clone())
                    .collect();
                let mut f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&calls)
                    .map_err(|e| LambdaError {
                        error_type: "Io".into(),
                        error_message: e.to_string(),
                    })?;
                // one write per batch: children run concurrently, and `writeln!` writes the id
                // and the line end in two calls, which another child's write could split
                let lines: String = ids
                    .iter()
                    .map(|id| format!("{}\n", id.as_str().unwrap_or_default()))
                    .collect();
                f.write_all(lines.as_bytes()).ok();
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                Ok(json!({"ids": ids}))
            })
        }),
    );
    let _server = rt.serve()?;
    eprintln!("serving");
    std::future::pending::<()>().await;
    Ok(())
}

/// The runtime on `dir` running the Distributed Map fixture (no Batch jobs are submitted).
pub fn config(dir: &std::path::Path) -> stepscore_local::RuntimeConfig {
    let definition = include_str!("../../tests/fixtures/distributed-map.asl.json");
    stepscore_local::RuntimeConfig::new(dir, definition, "/bin/false".into())
}
