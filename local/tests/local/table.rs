//! SqliteTable: DynamoDB's conditional-write semantics on a SQLite file.

use chrono::{DateTime, TimeZone, Utc};
use serde_json::json;
use stepscore_core::JobId;
use stepscore_core::JobStatus::{self, *};
use stepscore_core::ports::{Created, JobTable, ListFilter, TableError, Updated};
use stepscore_core::record::{Attempt, JobRecord, JobUpdate, Metrics};
use stepscore_local::SqliteTable;

fn t(s: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_700_000_000 + s, 0).unwrap()
}

fn id(s: &str) -> JobId {
    JobId::parse(s).unwrap()
}

fn table() -> (tempfile::TempDir, SqliteTable) {
    let d = tempfile::tempdir().unwrap();
    let table = SqliteTable::open(d.path().join("state.db")).unwrap();
    (d, table)
}

fn pending(name: &str, at: i64) -> JobRecord {
    JobRecord::pending(
        id(name),
        "s3://data-1/jobs/x.json",
        json!({"name": name}),
        t(at),
    )
}

fn to(status: JobStatus, attempt: u32, at: i64) -> JobUpdate {
    JobUpdate::to(status, attempt, t(at))
}

#[tokio::test]
async fn create_writes_once_and_returns_the_existing_record_after() {
    let (_d, tb) = table();
    assert_eq!(
        tb.create(&pending("j-1", 0)).await.unwrap(),
        Created::Created
    );
    let mut other = pending("j-1", 5);
    other.source = "console".into();
    match tb.create(&other).await.unwrap() {
        Created::Exists(r) => assert_eq!(r, pending("j-1", 0)),
        c => panic!("expected Exists, got {c:?}"),
    }
    assert_eq!(tb.get(&id("j-1")).await.unwrap(), Some(pending("j-1", 0)));
    assert_eq!(tb.get(&id("j-2")).await.unwrap(), None);
}

#[tokio::test]
async fn updates_apply_exactly_as_the_record_rule_does() {
    let (_d, tb) = table();
    tb.create(&pending("j-1", 0)).await.unwrap();
    let mut expected = pending("j-1", 0);
    let mut submit = to(Submitted, 1, 1);
    submit.execution_arn = Some("arn:aws:states:local:000000000000:execution:m:j-1".into());
    submit.new_attempt = Some(Attempt {
        number: 1,
        batch_job_id: "b-1".into(),
        queue: "stepscore-spot".into(),
        submitted_at: t(1),
        fallback_reason: None,
    });
    let mut done = to(Succeeded, 1, 9);
    done.metrics = Some(Metrics {
        rows_read: 10,
        rows_scored: 9,
        rows_rejected: 1,
        parts: 1,
        duration_seconds: 1.5,
    });
    let mut resubmit = to(Submitted, 2, 5);
    resubmit.new_attempt = Some(Attempt {
        number: 2,
        batch_job_id: "b-2".into(),
        queue: "stepscore-on-demand".into(),
        submitted_at: t(5),
        fallback_reason: Some("Your Spot Task was interrupted.".into()),
    });
    for u in [
        submit,
        to(Running, 1, 3),
        to(Runnable, 1, 2),
        resubmit,
        to(Running, 1, 6),
        done,
        to(Failed, 2, 10),
    ] {
        let applied_in_memory = expected.apply(&u);
        let got = tb.update(&id("j-1"), &u).await.unwrap();
        match got {
            Updated::Applied(r) => {
                assert!(
                    applied_in_memory,
                    "table applied {u:?} that the rule refuses"
                );
                assert_eq!(r, expected);
            }
            Updated::Ignored(r) => {
                assert!(
                    !applied_in_memory,
                    "table ignored {u:?} that the rule applies"
                );
                assert_eq!(r, expected);
            }
        }
    }
    assert_eq!(expected.status, Succeeded);
    assert_eq!(expected.attempts.len(), 2);
    assert_eq!(tb.get(&id("j-1")).await.unwrap(), Some(expected));
}

#[tokio::test]
async fn updating_a_missing_record_is_not_found() {
    let (_d, tb) = table();
    let r = tb.update(&id("nope"), &to(Submitted, 1, 1)).await;
    assert!(matches!(r, Err(TableError::NotFound { id }) if id == "nope"));
}

#[tokio::test]
async fn a_rejected_record_is_terminal_from_the_start() {
    let (_d, tb) = table();
    let rec = JobRecord::rejected(
        id("bad-1"),
        "s3://data-1/jobs/bad.json",
        json!({"x": 1}),
        "job config has 1 problem; model: missing",
        t(0),
    );
    tb.create(&rec).await.unwrap();
    assert!(
        matches!(tb.update(&id("bad-1"), &to(Submitted, 1, 1)).await.unwrap(), Updated::Ignored(r) if r == rec)
    );
}

#[tokio::test]
async fn list_is_most_recent_first_and_filters_by_status() {
    let (_d, tb) = table();
    for (i, name) in ["a-1", "b-1", "c-1", "d-1"].iter().enumerate() {
        tb.create(&pending(name, i as i64)).await.unwrap();
    }
    tb.update(&id("a-1"), &to(Submitted, 1, 10)).await.unwrap();
    tb.update(&id("c-1"), &to(Failed, 0, 11)).await.unwrap();
    let all: Vec<_> = tb
        .list(&ListFilter {
            status: None,
            limit: 10,
        })
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id.to_string())
        .collect();
    assert_eq!(all, ["c-1", "a-1", "d-1", "b-1"]);
    let pend: Vec<_> = tb
        .list(&ListFilter {
            status: Some(Pending),
            limit: 10,
        })
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id.to_string())
        .collect();
    assert_eq!(pend, ["d-1", "b-1"]);
    assert_eq!(
        tb.list(&ListFilter {
            status: None,
            limit: 2
        })
        .await
        .unwrap()
        .len(),
        2
    );
}

#[tokio::test]
async fn records_survive_reopening_the_file() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("state.db");
    {
        let tb = SqliteTable::open(&path).unwrap();
        tb.create(&pending("j-1", 0)).await.unwrap();
        tb.update(&id("j-1"), &to(Running, 1, 3)).await.unwrap();
    }
    let tb = SqliteTable::open(&path).unwrap();
    assert_eq!(tb.get(&id("j-1")).await.unwrap().unwrap().status, Running);
}

#[tokio::test]
async fn a_record_from_a_newer_format_is_reported_not_misread() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("state.db");
    let tb = SqliteTable::open(&path).unwrap();
    tb.create(&pending("j-1", 0)).await.unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute(
        "UPDATE job_records SET record = json_set(record, '$.version', 99)",
        [],
    )
    .unwrap();
    let err = tb.get(&id("j-1")).await.unwrap_err();
    assert!(
        matches!(&err, TableError::Corrupt { id, message } if id == "j-1" && message.contains("newer")),
        "{err}"
    );
}

/// Many writers (separate connections, as separate processes have) race the same updates:
/// each forward step is applied exactly once and the record ends where the rule says.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_writers_apply_each_step_once() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("state.db");
    let first = SqliteTable::open(&path).unwrap();
    for i in 0..20 {
        first.create(&pending(&format!("j-{i}"), 0)).await.unwrap();
    }
    let steps = [
        to(Submitted, 1, 1),
        to(Runnable, 1, 2),
        to(Starting, 1, 3),
        to(Running, 1, 4),
        to(Succeeded, 1, 5),
    ];
    let mut writers = Vec::new();
    for _ in 0..6 {
        let tb = SqliteTable::open(&path).unwrap();
        let steps = steps.clone();
        writers.push(tokio::spawn(async move {
            let mut applied = Vec::new();
            for i in 0..20 {
                for (k, s) in steps.iter().enumerate() {
                    if let Updated::Applied(_) = tb.update(&id(&format!("j-{i}")), s).await.unwrap()
                    {
                        applied.push((i, k));
                    }
                }
            }
            applied
        }));
    }
    let mut all = Vec::new();
    for w in writers {
        all.extend(w.await.unwrap());
    }
    let n = all.len();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), n, "a step was applied by two writers");
    // every job's terminal step was applied by someone
    for i in 0..20 {
        assert!(
            all.contains(&(i, 4)),
            "j-{i} never reached SUCCEEDED by an applied update"
        );
    }
    for i in 0..20 {
        assert_eq!(
            first
                .get(&id(&format!("j-{i}")))
                .await
                .unwrap()
                .unwrap()
                .status,
            Succeeded
        );
    }
}

/// The shared job-table contract every adapter passes (DynamoDB's too).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_table_meets_the_job_table_contract() {
    let d = tempfile::tempdir().unwrap();
    let n = std::sync::atomic::AtomicUsize::new(0);
    let dir = d.path().to_path_buf();
    stepscore_core::table_contract::check_job_table(|| {
        let i = n.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let path = dir.join(format!("contract-{i}.db"));
        async move { SqliteTable::open(path).unwrap() }
    })
    .await;
}
