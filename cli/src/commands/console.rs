//! `stepscore console`: serves the web console over the state directory (the crate
//! `stepscore-console`), on 127.0.0.1 unless `--bind` says otherwise.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use anyhow::anyhow;
use clap::Args;
use serde_json::Value;
use stepscore_console::{ConsoleConfig, Schedules};

use super::read_file;
use crate::Global;
use crate::exit::{Failure, env_fail, invalid};
use crate::pipeline::{self, PipelineOptions};

/// Arguments of `console`.
#[derive(Debug, Args)]
pub struct ConsoleArgs {
    /// The port to listen on (0 picks a free one)
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// The address to listen on; anything but a loopback address exposes the console (and
    /// starting and stopping runs) to the network
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    pub bind: IpAddr,
    /// Schedules to show with their next fire times (the file `stepscore schedule` runs)
    #[arg(long)]
    pub schedules: Option<PathBuf>,
}

/// `stepscore console`.
pub async fn run(args: &ConsoleArgs, g: &Global) -> Result<(), Failure> {
    let schedules = match &args.schedules {
        Some(path) => {
            let bytes = read_file(path)?;
            let document: Value = serde_json::from_slice(&bytes)
                .map_err(|e| invalid(format!("{} is not JSON: {e}", path.display())))?;
            let parsed =
                stepscore_local::schedule::schedules_from_json(&document, chrono::Utc::now())
                    .map_err(|e| invalid(format!("{}: {e}", path.display())))?;
            Schedules {
                source: Some(path.display().to_string()),
                document,
                parsed,
            }
        }
        None => Schedules::default(),
    };
    if !args.bind.is_loopback() {
        eprintln!(
            "warning: the console listens on {}: anyone who can reach this address can read the state directory and start or stop runs",
            args.bind
        );
    }
    let rt = pipeline::open(g, &PipelineOptions::default())?;
    let listener = tokio::net::TcpListener::bind(SocketAddr::new(args.bind, args.port))
        .await
        .map_err(|e| {
            Failure::Environment(anyhow!("cannot listen on {}:{}: {e}", args.bind, args.port))
        })?;
    let addr = listener.local_addr().map_err(env_fail)?;
    let shown = if args.bind.is_unspecified() {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), addr.port())
    } else {
        addr
    };
    // the first line is the address, so a script (or a test) can read it
    println!("console: http://{shown}/");
    eprintln!(
        "serving the console over {} (Ctrl-C to stop)",
        g.state_dir.display()
    );
    let config = ConsoleConfig {
        runtime: rt,
        bucket: g.bucket.clone(),
        schedules,
    };
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    stepscore_console::serve(listener, config, shutdown)
        .await
        .map_err(env_fail)
}
