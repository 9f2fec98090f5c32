//! Distributed Map throughput in the embedded world: `dmap_bench <definition> <rows> [--no-journal]`
//! writes a `<rows>`-row CSV to `s3://bench/rows.csv` in a fresh directory store, runs the
//! definition over it with the local store port and (unless `--no-journal`) the Map Run journal
//! in a fresh `state.db`, and prints items/s and the process's peak RSS. `bench/dmap/run.sh`
//! runs it.

use std::io::Write;
use std::time::Instant;

use stepscore_asl::{ExecutionConfig, NoTasks, TaskDispatcher, ValidationOptions};
use stepscore_core::ObjectUri;
use stepscore_local::DirStore;
use stepscore_local::runtime::map_run::{DirItemStore, MapRunJournal};

struct Store(DirItemStore);

impl TaskDispatcher for Store {
    fn dispatch(
        &self,
        request: &stepscore_asl::TaskRequest<'_>,
        clock: &dyn stepscore_asl::Clock,
    ) -> stepscore_asl::TaskOutcome {
        NoTasks.dispatch(request, clock)
    }
    fn item_store(&self) -> Option<&dyn stepscore_asl::store::ItemStore> {
        Some(&self.0)
    }
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: dmap_bench <definition> <rows> [--no-journal]";
    let definition: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(args.first().ok_or(usage)?)?)?;
    let rows: u64 = args.get(1).ok_or(usage)?.parse()?;
    let journal = !args.iter().any(|a| a == "--no-journal");
    let dir = tempfile::tempdir()?;
    let store = DirStore::open(dir.path().join("buckets"))?;
    store.create_bucket("bench")?;
    let csv = store.path_of(&ObjectUri::new("bench", "rows.csv")?)?;
    let mut w = std::io::BufWriter::new(std::fs::File::create(&csv)?);
    writeln!(w, "id,name,score")?;
    for i in 0..rows {
        writeln!(w, "{i},name-{i},{}.5", i % 100)?;
    }
    w.flush()?;
    drop(w);
    let csv_bytes = std::fs::metadata(&csv)?.len();
    let rss_before = peak_rss_kib();
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let journal = if journal {
        Some(MapRunJournal::open(&dir.path().join("state.db"))?)
    } else {
        None
    };
    let items = DirItemStore::new(
        store,
        journal,
        tokio.handle().clone(),
        dir.path().join("tmp"),
    );
    let machine = stepscore_asl::parse_definition(&definition, ValidationOptions::default())
        .map_err(|d| format!("{d:?}"))?;
    let tasks = Store(items);
    let clock = stepscore_asl::SystemClock;
    let started = Instant::now();
    let mut exec = stepscore_asl::Execution::start(
        &machine,
        serde_json::json!({}),
        ExecutionConfig::default(),
        &clock,
    )?;
    let outcome = exec.run(&clock, &tasks);
    let secs = started.elapsed().as_secs_f64();
    if outcome.error.is_some() {
        return Err(format!("{:?}: {:?}", outcome.error, outcome.cause).into());
    }
    let results: u64 = walk_size(&dir.path().join("buckets/bench/results"));
    println!(
        "rows={rows} csv_bytes={csv_bytes} seconds={secs:.3} rate={:.0} peak_rss_kib={} rss_before_run_kib={rss_before} results_bytes={results} journal={}",
        rows as f64 / secs,
        peak_rss_kib(),
        tasks.0.journal_enabled()
    );
    Ok(())
}

fn walk_size(p: &std::path::Path) -> u64 {
    std::fs::read_dir(p)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| {
            let md = e
                .metadata()
                .map(|m| (m.is_dir(), m.len()))
                .unwrap_or((false, 0));
            if md.0 { walk_size(&e.path()) } else { md.1 }
        })
        .sum()
}
