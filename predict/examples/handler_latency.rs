//! Latency of the predict handler itself, in process (no network): `bench/predict` runs it for
//! 1 row and 100 rows and prints p50/p99 as JSON.
//!
//!   cargo run --release -p stepscore-predict --example handler_latency -- MODEL BODY_FILE ITERATIONS

use std::time::{Duration, Instant};

use http::{Method, StatusCode};
use stepscore_predict::{Limits, ModelSource, ModelUri, PredictService, ReloadingModel};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [model, body_file, iterations] = args.as_slice() else {
        return Err("usage: handler_latency MODEL BODY_FILE ITERATIONS".into());
    };
    let body = std::fs::read(body_file)?;
    let iterations: usize = iterations.parse()?;
    let uri = ModelUri::parse(model)?;
    let name = uri.stem();
    let source = ModelSource::new(uri, None)?;
    // checks stay on as deployed (every 30 s): the timed loop pays for them when they fall due
    let loaded = ReloadingModel::load(source, Duration::from_secs(30)).await?;
    let service = PredictService::new(name.clone(), loaded, Limits::default());
    let path = format!("/v1/models/{name}:predict");
    let mut times = Vec::with_capacity(iterations);
    for i in 0..iterations + iterations / 10 {
        let t0 = Instant::now();
        let reply = service.handle(&Method::POST, &path, &body).await;
        let elapsed = t0.elapsed();
        if reply.status != StatusCode::OK {
            return Err(format!(
                "status {}: {}",
                reply.status,
                String::from_utf8_lossy(&reply.body)
            )
            .into());
        }
        // the first tenth warms the caches and is not counted
        if i >= iterations / 10 {
            times.push(elapsed);
        }
    }
    times.sort_unstable();
    let pct = |p: f64| {
        times[((times.len() as f64 * p) as usize).min(times.len() - 1)].as_secs_f64() * 1e6
    };
    println!(
        "{{\"iterations\": {}, \"p50_us\": {:.1}, \"p99_us\": {:.1}}}",
        times.len(),
        pct(0.50),
        pct(0.99)
    );
    Ok(())
}
