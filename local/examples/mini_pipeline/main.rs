//! Serves a small submit/poll pipeline on the local runtime until killed:
//! `mini_pipeline <state-dir> <time-scale>`. The runtime's restart tests SIGKILL it mid-run.

mod functions;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()))
        .init();
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(
        args.next()
            .ok_or("usage: mini_pipeline <state-dir> <time-scale>")?,
    );
    let scale: f64 = args
        .next()
        .ok_or("usage: mini_pipeline <state-dir> <time-scale>")?
        .parse()?;
    let container = functions::write_container(&dir);
    let rt = stepscore_local::LocalRuntime::open(functions::config(&dir, container, scale))?;
    functions::register(&rt);
    let _server = rt.serve()?;
    eprintln!("serving");
    std::future::pending::<()>().await;
    Ok(())
}
