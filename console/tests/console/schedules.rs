//! The schedules the embedded world loaded (`stepscore schedule`, i.e.
//! `LocalRuntime::run_schedules`), read over HTTP with no flag given to the console: each with
//! its definition, next fire times while loaded, and last fire.

use chrono::{DateTime, Duration, SubsecRound, Timelike, Utc};
use serde_json::{Value, json};
use stepscore_local::Scheduler;
use stepscore_local::schedule::{parse_time_zone, schedules_from_json};

use crate::harness::Console;

fn time(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap_or_else(|| panic!("a time: {v}")))
        .unwrap()
        .with_timezone(&Utc)
}

fn find<'a>(body: &'a Value, name: &str) -> &'a Value {
    body["schedules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("{name} in {body}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_schedules_the_runtime_loaded_are_shown_with_their_next_and_last_fires() {
    let c = Console::start().await;
    let (status, none) = c.get("schedules").await;
    assert_eq!(status, 200, "{none}");
    assert_eq!(none["schedules"], json!([]), "nothing loaded yet");

    let template = json!({
        "name": "scheduled",
        "model": "s3://stepscore/models/m.json",
        "input": "s3://stepscore/data/in.csv",
        "output": "s3://stepscore/outputs/scheduled/{{date}}/",
    });
    let doc = json!({
        "every-minute": {"expression": "rate(1 minute)", "template": template, "description": "a run a minute"},
        "nightly": {"expression": "cron(0 2 * * ? *)", "timezone": "Europe/Berlin", "template": template},
    });
    // whole seconds: the table keeps microseconds
    let from = Utc::now().trunc_subsecs(0);
    let scheduler = Scheduler::new(schedules_from_json(&doc, from).unwrap());
    // the harness runs time 100 times faster: 90 scheduled seconds are 0.9 s
    let rt = c.rt.clone();
    let run = tokio::spawn(async move {
        rt.run_schedules(&scheduler, from, Some(from + Duration::seconds(90)))
            .await
    });

    let loaded = c
        .wait_for("schedules", std::time::Duration::from_secs(5), |b| {
            b["schedules"].as_array().is_some_and(|a| a.len() == 2)
        })
        .await;
    let minute = find(&loaded, "every-minute");
    assert_eq!(minute["expression"], "rate(1 minute)");
    assert_eq!(minute["timezone"], "UTC");
    assert_eq!(minute["description"], "a run a minute");
    assert_eq!(minute["template"], template);
    let nightly = find(&loaded, "nightly");
    assert_eq!(nightly["loaded"], true);
    // 02:00 on Berlin's wall clock (read with chrono-tz's zone database), three nights running
    let berlin = parse_time_zone("Europe/Berlin").unwrap();
    let nights: Vec<DateTime<Utc>> = nightly["next"]
        .as_array()
        .unwrap()
        .iter()
        .map(time)
        .collect();
    assert_eq!(nights.len(), 3, "{nightly}");
    for n in &nights {
        let local = n.with_timezone(&berlin);
        assert_eq!((local.hour(), local.minute()), (2, 0), "{n}");
        assert!(*n > from);
    }
    assert!(nights[0] <= from + Duration::hours(25));
    assert_eq!(nightly["next_fire"], nightly["next"][0]);

    assert_eq!(run.await.unwrap(), 1, "one fire in 90 scheduled seconds");
    let (_, after) = c.get("schedules").await;
    let minute = find(&after, "every-minute");
    assert_eq!(time(&minute["last_fire"]), from + Duration::seconds(60));
    assert_eq!(minute["fires"], 1);
    assert_eq!(time(&minute["next_fire"]), from + Duration::seconds(120));
    // the run is over: nothing fires them any more
    assert_eq!(minute["loaded"], false);
    assert_eq!(minute["next"], json!([]));
    assert!(minute["unloaded_at"].is_string());
    let nightly = find(&after, "nightly");
    assert_eq!(nightly["last_fire"], Value::Null);
    assert_eq!(nightly["fires"], 0);
    assert_eq!(nightly["loaded"], false);
    c.shutdown().await;
}
