//! `stepscore serve`: one model artifact over HTTP on 127.0.0.1 (KServe v1 predict), reloaded
//! when the artifact changes. The same service the `stepscore-predict` Lambda runs.

use std::sync::Arc;
use std::time::Duration;

use anyhow::anyhow;
use clap::Args;
use stepscore_core::ports::ObjectStore;
use stepscore_predict::server::{ServerConfig, serve};
use stepscore_predict::{Limits, LoadError, ModelSource, ModelUri, PredictService, ReloadingModel};

use crate::Global;
use crate::exit::{Failure, env_fail, invalid};

/// Arguments of `stepscore serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The model artifact: a local path, or s3://bucket/key (the state directory's buckets; S3
    /// with --aws)
    #[arg(long)]
    pub model: String,
    /// The name the model is served under (default: the artifact file's name without extension)
    #[arg(long)]
    pub name: Option<String>,
    /// The port to listen on, on 127.0.0.1 (0: any free port, printed at start)
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Seconds between checks for a new version of the artifact (0: before every request)
    #[arg(long, default_value_t = 30)]
    pub check_every: u64,
    /// The most instances one request may score
    #[arg(long, default_value_t = Limits::default().max_rows)]
    pub max_rows: usize,
    /// The largest request body, in bytes
    #[arg(long, default_value_t = Limits::default().max_body_bytes)]
    pub max_body_bytes: usize,
    /// Seconds a client may take to send a request's headers, and its body
    #[arg(long, default_value_t = 10)]
    pub client_timeout: u64,
}

/// Serves until Ctrl-C or SIGTERM.
pub fn run(args: &ServeArgs, g: &Global) -> Result<(), Failure> {
    let uri = ModelUri::parse(&args.model).map_err(invalid)?;
    let name = args.name.clone().unwrap_or_else(|| uri.stem());
    check_name(&name)?;
    if args.max_rows == 0 || args.max_body_bytes == 0 || args.client_timeout == 0 {
        return Err(invalid(
            "--max-rows, --max-body-bytes and --client-timeout must be above 0",
        ));
    }
    let runtime = crate::tokio_runtime()?;
    let store: Option<Arc<dyn ObjectStore>> = match &uri {
        ModelUri::Local(_) => None,
        ModelUri::Object(_) => Some(crate::scorer::object_store(&g.state_dir, g.aws, &runtime)?),
    };
    let source = ModelSource::new(uri, store).map_err(invalid)?;
    let client_timeout = Duration::from_secs(args.client_timeout);
    let limits = Limits {
        max_body_bytes: args.max_body_bytes,
        max_rows: args.max_rows,
        body_timeout: client_timeout,
    };
    let config = ServerConfig {
        header_timeout: client_timeout,
        ..ServerConfig::default()
    };
    let quiet = g.quiet;
    runtime.block_on(async move {
        // the port first: a busy port fails at once, not after the model loads, and a client
        // that connects during the load waits in the listen queue for its answer
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port))
            .await
            .map_err(|e| env_fail(format!("cannot listen on 127.0.0.1:{}: {e}", args.port)))?;
        let addr = listener.local_addr().map_err(env_fail)?;
        let model = ReloadingModel::load(source, Duration::from_secs(args.check_every))
            .await
            .map_err(load_failure)?;
        let version = model.current().version.clone();
        if !quiet {
            eprintln!(
                "serving model '{name}' (version {version}) on http://{addr}: POST /v1/models/{name}:predict, GET /v1/models/{name}"
            );
        }
        let service = Arc::new(PredictService::new(name, model, limits));
        serve(listener, service, config, shutdown_signal())
            .await
            .map_err(|e| env_fail(format!("the server stopped: {e}")))
    })
}

fn check_name(name: &str) -> Result<(), Failure> {
    if name.is_empty()
        || name.contains(['/', ':', '%', '?', '#'])
        || name.contains(char::is_whitespace)
    {
        return Err(Failure::Invalid(anyhow!(
            "model name '{name}' cannot be part of the path /v1/models/<name>:predict; give --name without '/', ':', '%', '?', '#' or spaces"
        )));
    }
    Ok(())
}

fn load_failure(e: LoadError) -> Failure {
    match &e {
        LoadError::Source(stepscore_predict::source::SourceError::Store(
            stepscore_core::ports::StoreError::NotFound { .. },
        )) => Failure::NotFound(e.into()),
        LoadError::Source(stepscore_predict::source::SourceError::File { .. }) => {
            Failure::NotFound(e.into())
        }
        LoadError::Artifact(_) => Failure::Invalid(e.into()),
        _ => Failure::Environment(e.into()),
    }
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
