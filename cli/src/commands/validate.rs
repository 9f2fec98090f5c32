//! `stepscore validate`: a job config or a state machine definition, told apart by content.

use std::path::PathBuf;

use anyhow::anyhow;
use clap::Args;
use serde_json::Value;
use stepscore_core::config::{JobConfig, OutputFormat, compression_by_name};

use super::read_file;
use crate::exit::Failure;

/// Arguments of `validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// A job config (.json) or a state machine definition (.asl.json, has "StartAt")
    pub file: PathBuf,
}

/// Validates the file; a definition with `${placeholders}` is checked with local values.
pub fn run(args: &ValidateArgs, g: &crate::Global) -> Result<(), Failure> {
    let path = &args.file;
    let bytes = read_file(path)?;
    let name = path.display().to_string();
    let looks_like_asl = serde_json::from_slice::<Value>(&bytes)
        .ok()
        .is_some_and(|v| v.get("StartAt").is_some());
    if looks_like_asl {
        let text = String::from_utf8_lossy(&bytes);
        let filled = stepscore_local::runtime::fill_placeholders(
            &text,
            &stepscore_local::runtime::local_placeholders(),
        )
        .map_err(|e| Failure::Invalid(anyhow!("{name}: {e}")))?;
        let diagnostics =
            stepscore_asl::validate_text(&filled, stepscore_asl::ValidationOptions::default());
        if g.json {
            let list: Vec<String> = diagnostics.iter().map(ToString::to_string).collect();
            println!(
                "{}",
                serde_json::json!({"file": name, "kind": "state-machine", "valid": diagnostics.is_empty(), "problems": list})
            );
        } else if diagnostics.is_empty() {
            println!("{name}: valid state machine");
        } else {
            for d in &diagnostics {
                println!("{name}: {d}");
            }
        }
        return if diagnostics.is_empty() {
            Ok(())
        } else {
            Err(Failure::Invalid(anyhow!(
                "{name} is not a valid state machine"
            )))
        };
    }
    match JobConfig::from_slice(&bytes, &name) {
        Ok(config) => {
            if g.json {
                println!(
                    "{}",
                    serde_json::json!({"file": name, "kind": "job-config", "valid": true, "config": config.to_json()})
                );
            } else {
                println!(
                    "{name}: valid job config '{}' ({} -> {})",
                    config.name, config.input, config.output
                );
                let output = match config.output_format {
                    OutputFormat::Parquet => format!(
                        "parquet ({}, {} rows per row group)",
                        config.parquet_compression.as_str(),
                        config.parquet_row_group_rows
                    ),
                    other => other.as_str().to_owned(),
                };
                println!(
                    "{name}: input format {}, output format {output}",
                    config.input_format.as_str()
                );
                if let Some(codec) = (!config.input.is_prefix())
                    .then(|| compression_by_name(config.input.key()))
                    .flatten()
                {
                    println!(
                        "{name}: note: {} is one {codec}-compressed file: it is scored by one shard (a compressed file cannot be split by byte range)",
                        config.input
                    );
                }
            }
            Ok(())
        }
        Err(e) => {
            if g.json {
                println!(
                    "{}",
                    serde_json::json!({"file": name, "kind": "job-config", "valid": false, "problems": e.problems})
                );
            } else {
                for p in &e.problems {
                    println!("{name}: {}: {}", p.field, p.message);
                }
            }
            Err(Failure::Invalid(anyhow!("{e}")))
        }
    }
}
