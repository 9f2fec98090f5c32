//! The job table contract: the one test suite every [`JobTable`] adapter must pass.
//!
//! An adapter's tests call [`check_job_table`] with a function that makes a fresh, empty table;
//! each case runs on its own table. A failing case panics naming itself and what it saw.
//!
//! ```text
//! #[tokio::test(flavor = "multi_thread")]
//! async fn sqlite_table_meets_the_contract() {
//!     stepscore_core::table_contract::check_job_table(|| async { SqliteTable::in_memory() }).await;
//! }
//! ```

use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::json;

use crate::id::JobId;
use crate::live::{LiveProgress, ShardProgress};
use crate::ports::{Created, JobTable, ListFilter, Updated};
use crate::record::{Attempt, JobRecord, JobUpdate, Metrics, Notification};
use crate::status::JobStatus;

/// How many writers race in the concurrency cases.
pub const RACERS: usize = 8;

/// Runs every case of the contract, each against a fresh table from `make`.
pub async fn check_job_table<T, F, Fut>(make: F)
where
    T: JobTable + 'static,
    F: Fn() -> Fut,
    Fut: Future<Output = T>,
{
    check_job_table_without_update_races(&make).await;
    concurrent_conflicting_updates_apply_once(Arc::new(make().await)).await;
    concurrent_marks_of_one_notification_apply_once(Arc::new(make().await)).await;
}

/// Every case but racing conflicting updates: for a table whose *server* does not serialize
/// conditional updates. moto server evaluates DynamoDB condition expressions without a lock
/// (two racing `progress < :new` updates can both pass), where real DynamoDB is atomic; the
/// adapter's condition is the same either way, and the other cases still check it.
pub async fn check_job_table_without_update_races<T, F, Fut>(make: F)
where
    T: JobTable + 'static,
    F: Fn() -> Fut,
    Fut: Future<Output = T>,
{
    create_then_exists(make().await).await;
    get_missing_is_none(make().await).await;
    forward_updates_apply(make().await).await;
    duplicates_and_out_of_order_updates_are_ignored(make().await).await;
    terminal_records_never_change(make().await).await;
    attempts_are_appended_in_order(make().await).await;
    updating_a_missing_record_is_not_found(make().await).await;
    list_by_status_newest_first(make().await).await;
    rejected_records_are_stored_failed(make().await).await;
    concurrent_creates_of_one_id_create_once(Arc::new(make().await)).await;
    live_progress_grows_within_an_attempt_and_restarts_with_the_next(make().await).await;
    an_ended_record_has_one_notification_to_send(make().await).await;
}

/// A fixed instant plus `s` seconds, so cases are reproducible.
fn t(s: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_750_000_000, 0).unwrap() + Duration::seconds(s)
}

fn id(name: &str) -> JobId {
    JobId::parse(name).unwrap()
}

fn pending(name: &str, at: i64) -> JobRecord {
    JobRecord::pending(
        id(name),
        format!("s3://bucket/jobs/{name}.json"),
        json!({"version": 1, "name": name, "shards": 2, "tags": {"team": "risk"}, "ratio": 0.25}),
        t(at),
    )
}

fn submitted(attempt: u32, at: i64, queue: &str) -> JobUpdate {
    JobUpdate {
        new_attempt: Some(Attempt {
            number: attempt,
            batch_job_id: format!("batch-{attempt}"),
            queue: queue.into(),
            submitted_at: t(at),
            // a resubmission carries why it left spot: every adapter must keep it
            fallback_reason: (attempt > 1).then(|| "Host EC2 (instance i-0abc) terminated.".into()),
        }),
        ..JobUpdate::to(JobStatus::Submitted, attempt, t(at))
    }
}

async fn create_then_exists<T: JobTable>(table: T) {
    let r = pending("create-1", 0);
    assert_eq!(
        table.create(&r).await.unwrap(),
        Created::Created,
        "create: first create writes"
    );
    let mut other = pending("create-1", 5);
    other.source = "console".into();
    match table.create(&other).await.unwrap() {
        Created::Exists(existing) => assert_eq!(
            existing, r,
            "create: a second create returns the first record unchanged"
        ),
        Created::Created => panic!("create: a second create of one id must report Exists"),
    }
    assert_eq!(
        table.get(&r.id).await.unwrap(),
        Some(r),
        "create: get returns the record as written (config included)"
    );
}

async fn get_missing_is_none<T: JobTable>(table: T) {
    assert_eq!(
        table.get(&id("nobody")).await.unwrap(),
        None,
        "get: a missing id is None, not an error"
    );
}

async fn forward_updates_apply<T: JobTable>(table: T) {
    let r = pending("fwd", 0);
    table.create(&r).await.unwrap();
    let mut expected = r.clone();
    let mut steps = vec![submitted(1, 1, "spot")];
    steps[0].execution_arn = Some("arn:aws:states:us-east-1:1:execution:sm:fwd".into());
    steps.push(JobUpdate::to(JobStatus::Runnable, 1, t(2)));
    steps.push(JobUpdate::to(JobStatus::Running, 1, t(4)));
    for step in &steps {
        assert!(expected.apply(step));
        match table.update(&r.id, step).await.unwrap() {
            Updated::Applied(after) => assert_eq!(
                after, expected,
                "update: Applied returns the record after the update ({})",
                step.status
            ),
            Updated::Ignored(now) => panic!(
                "update: forward move to {} was ignored; record is {now:?}",
                step.status
            ),
        }
    }
    assert_eq!(table.get(&r.id).await.unwrap(), Some(expected));
}

async fn duplicates_and_out_of_order_updates_are_ignored<T: JobTable>(table: T) {
    let r = pending("ooo", 0);
    table.create(&r).await.unwrap();
    table.update(&r.id, &submitted(1, 1, "spot")).await.unwrap();
    let running = table
        .update(&r.id, &JobUpdate::to(JobStatus::Running, 1, t(5)))
        .await
        .unwrap();
    let Updated::Applied(current) = running else {
        panic!("update: RUNNING after SUBMITTED must apply")
    };
    for (what, late) in [
        (
            "an out-of-order RUNNABLE",
            JobUpdate::to(JobStatus::Runnable, 1, t(3)),
        ),
        (
            "a duplicate RUNNING",
            JobUpdate::to(JobStatus::Running, 1, t(6)),
        ),
        ("a duplicate SUBMITTED", submitted(1, 7, "spot")),
        ("a PENDING", JobUpdate::to(JobStatus::Pending, 0, t(8))),
    ] {
        match table.update(&r.id, &late).await.unwrap() {
            Updated::Ignored(now) => {
                assert_eq!(now, current, "update: {what} leaves the record unchanged")
            }
            Updated::Applied(now) => {
                panic!("update: {what} must be ignored, but the record became {now:?}")
            }
        }
    }
    assert_eq!(
        table.get(&r.id).await.unwrap().unwrap().attempts.len(),
        1,
        "update: an ignored resubmission appends no attempt"
    );
}

async fn terminal_records_never_change<T: JobTable>(table: T) {
    let r = pending("term", 0);
    table.create(&r).await.unwrap();
    table
        .update(&r.id, &submitted(1, 1, "on-demand"))
        .await
        .unwrap();
    let mut done = JobUpdate::to(JobStatus::Succeeded, 1, t(9));
    done.metrics = Some(Metrics {
        rows_read: 10,
        rows_scored: 9,
        rows_rejected: 1,
        parts: 2,
        duration_seconds: 1.5,
    });
    let Updated::Applied(final_record) = table.update(&r.id, &done).await.unwrap() else {
        panic!("update: SUCCEEDED must apply")
    };
    assert_eq!(
        final_record.metrics, done.metrics,
        "update: metrics are stored with the terminal status"
    );
    let mut fail = JobUpdate::to(JobStatus::Failed, 1, t(10));
    fail.failure_reason = Some("late failure".into());
    for late in [
        fail,
        JobUpdate::to(JobStatus::Succeeded, 1, t(11)),
        submitted(2, 12, "on-demand"),
        JobUpdate::to(JobStatus::Running, 5, t(13)),
    ] {
        match table.update(&r.id, &late).await.unwrap() {
            Updated::Ignored(now) => assert_eq!(
                now, final_record,
                "update: a terminal record never changes ({})",
                late.status
            ),
            Updated::Applied(now) => panic!("update: a terminal record changed to {now:?}"),
        }
    }
}

async fn attempts_are_appended_in_order<T: JobTable>(table: T) {
    let r = pending("attempts", 0);
    table.create(&r).await.unwrap();
    table.update(&r.id, &submitted(1, 1, "spot")).await.unwrap();
    table
        .update(&r.id, &JobUpdate::to(JobStatus::Running, 1, t(2)))
        .await
        .unwrap();
    // a spot reclaim: attempt 2 on the on-demand queue comes after attempt 1's RUNNING
    let Updated::Applied(after) = table
        .update(&r.id, &submitted(2, 3, "on-demand"))
        .await
        .unwrap()
    else {
        panic!("update: a resubmission (attempt 2) after attempt 1 RUNNING must apply")
    };
    let queues: Vec<(u32, &str)> = after
        .attempts
        .iter()
        .map(|a| (a.number, a.queue.as_str()))
        .collect();
    assert_eq!(
        queues,
        [(1, "spot"), (2, "on-demand")],
        "update: attempts are appended, oldest first"
    );
    assert_eq!((after.status, after.attempt), (JobStatus::Submitted, 2));
}

async fn updating_a_missing_record_is_not_found<T: JobTable>(table: T) {
    let err = table
        .update(&id("ghost"), &JobUpdate::to(JobStatus::Running, 1, t(1)))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, crate::ports::TableError::NotFound { id } if id == "ghost"),
        "update: a missing record is NotFound naming it, got {err}"
    );
    assert_eq!(
        table.get(&id("ghost")).await.unwrap(),
        None,
        "update: a missing record is not created by an update"
    );
}

async fn list_by_status_newest_first<T: JobTable>(table: T) {
    for (name, at) in [("l-a", 10), ("l-b", 30), ("l-c", 20), ("l-d", 40)] {
        table.create(&pending(name, at)).await.unwrap();
    }
    table
        .update(&id("l-d"), &submitted(1, 50, "spot"))
        .await
        .unwrap();
    let names = |rs: Vec<JobRecord>| rs.into_iter().map(|r| r.id.to_string()).collect::<Vec<_>>();
    let pending_only = table
        .list(&ListFilter {
            status: Some(JobStatus::Pending),
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(
        names(pending_only),
        ["l-b", "l-c", "l-a"],
        "list: by status, most recently updated first"
    );
    let two = table
        .list(&ListFilter {
            status: Some(JobStatus::Pending),
            limit: 2,
        })
        .await
        .unwrap();
    assert_eq!(
        names(two),
        ["l-b", "l-c"],
        "list: the limit keeps the newest"
    );
    let all = table
        .list(&ListFilter {
            status: None,
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(
        names(all),
        ["l-d", "l-b", "l-c", "l-a"],
        "list: without a status, every record, newest first"
    );
    let none = table
        .list(&ListFilter {
            status: Some(JobStatus::Failed),
            limit: 10,
        })
        .await
        .unwrap();
    assert!(none.is_empty(), "list: a status nobody has lists nothing");
}

async fn rejected_records_are_stored_failed<T: JobTable>(table: T) {
    let r = JobRecord::rejected(
        id("bad"),
        "s3://b/jobs/bad.json",
        json!({"nmae": "x"}),
        "job config has 1 problem",
        t(0),
    );
    assert_eq!(table.create(&r).await.unwrap(), Created::Created);
    assert_eq!(table.get(&r.id).await.unwrap(), Some(r.clone()));
    let listed = table
        .list(&ListFilter {
            status: Some(JobStatus::Failed),
            limit: 5,
        })
        .await
        .unwrap();
    assert_eq!(
        listed,
        std::slice::from_ref(&r),
        "list: a rejected config is visible as FAILED"
    );
    let after = table.update(&r.id, &submitted(1, 1, "spot")).await.unwrap();
    assert_eq!(
        after,
        Updated::Ignored(r),
        "update: a rejected record is terminal"
    );
}

async fn concurrent_creates_of_one_id_create_once<T: JobTable + 'static>(table: Arc<T>) {
    let tasks: Vec<_> = (0..RACERS)
        .map(|i| {
            let table = Arc::clone(&table);
            tokio::spawn(async move {
                let mut r = pending("race-create", i as i64);
                r.source = format!("writer-{i}");
                (r.source.clone(), table.create(&r).await)
            })
        })
        .collect();
    let mut winners = Vec::new();
    let mut seen = Vec::new();
    for task in tasks {
        let (writer, result) = task.await.expect("create task panicked");
        match result.unwrap_or_else(|e| panic!("concurrent create by {writer} failed: {e}")) {
            Created::Created => winners.push(writer),
            Created::Exists(r) => seen.push(r.source),
        }
    }
    assert_eq!(
        winners.len(),
        1,
        "concurrent creates: exactly one Created, got {winners:?}"
    );
    let stored = table.get(&id("race-create")).await.unwrap().unwrap();
    assert_eq!(
        stored.source, winners[0],
        "concurrent creates: the stored record is the winner's"
    );
    assert!(
        seen.iter().all(|s| *s == winners[0]),
        "concurrent creates: every loser sees the winner's record"
    );
}

async fn concurrent_conflicting_updates_apply_once<T: JobTable + 'static>(table: Arc<T>) {
    table.create(&pending("race-update", 0)).await.unwrap();
    table
        .update(&id("race-update"), &submitted(1, 1, "spot"))
        .await
        .unwrap();
    // half the writers try to finish the job as SUCCEEDED, half as FAILED: one terminal wins
    let tasks: Vec<_> = (0..RACERS)
        .map(|i| {
            let table = Arc::clone(&table);
            tokio::spawn(async move {
                let mut u = if i % 2 == 0 {
                    JobUpdate::to(JobStatus::Succeeded, 1, t(10 + i as i64))
                } else {
                    JobUpdate::to(JobStatus::Failed, 1, t(10 + i as i64))
                };
                u.failure_reason = Some(format!("writer-{i}"));
                table.update(&id("race-update"), &u).await
            })
        })
        .collect();
    let mut applied = Vec::new();
    for task in tasks {
        match task
            .await
            .expect("update task panicked")
            .unwrap_or_else(|e| panic!("concurrent update failed: {e}"))
        {
            Updated::Applied(r) => applied.push(r),
            Updated::Ignored(r) => assert!(
                r.status.is_terminal(),
                "concurrent updates: an ignored update sees the terminal winner"
            ),
        }
    }
    assert_eq!(
        applied.len(),
        1,
        "concurrent updates: exactly one terminal update applies, got {}",
        applied.len()
    );
    let stored = table.get(&id("race-update")).await.unwrap().unwrap();
    assert_eq!(
        stored, applied[0],
        "concurrent updates: the stored record is the winner's"
    );
}

/// Figures of `attempt` that have got as far as `rows` rows (one shard, ten bytes a row).
fn live(attempt: u32, rows: u64, at: i64) -> LiveProgress {
    LiveProgress {
        attempt,
        sequence: rows * 11,
        rows_read: rows,
        rows_scored: rows - rows / 4,
        rows_rejected: rows / 4,
        bytes_read: rows * 10,
        bytes_total: 10_000,
        shard_count: 1,
        shards_reporting: 1,
        shards_done: 0,
        seconds: 0.5 + at as f64,
        shards: vec![ShardProgress {
            index: 0,
            rows_read: rows,
            rows_scored: rows - rows / 4,
            rows_rejected: rows / 4,
            bytes_read: rows * 10,
            bytes_total: 10_000,
            seconds: 0.5 + at as f64,
            done: false,
        }],
        updated_at: t(at),
    }
}

async fn live_progress_grows_within_an_attempt_and_restarts_with_the_next<T: JobTable>(table: T) {
    let r = pending("live", 0);
    table.create(&r).await.unwrap();
    table.update(&r.id, &submitted(1, 1, "spot")).await.unwrap();
    let Updated::Applied(running) = table
        .update(&r.id, &JobUpdate::to(JobStatus::Running, 1, t(2)))
        .await
        .unwrap()
    else {
        panic!("update: RUNNING after SUBMITTED must apply")
    };
    let mut expected = running.clone();
    let first = live(1, 100, 3);
    match table.record_live(&r.id, &first).await.unwrap() {
        Updated::Applied(after) => {
            assert!(expected.apply_live(&first));
            assert_eq!(
                after, expected,
                "record_live: an attempt's first figures are kept, status and updated_at unchanged"
            );
        }
        Updated::Ignored(now) => {
            panic!("record_live: first figures were ignored; record is {now:?}")
        }
    }
    for (what, stale) in [
        ("figures behind the kept ones", live(1, 50, 4)),
        ("the same figures again", live(1, 100, 5)),
        ("figures of an attempt not yet submitted", live(2, 500, 6)),
    ] {
        match table.record_live(&r.id, &stale).await.unwrap() {
            Updated::Ignored(now) => assert_eq!(
                now, expected,
                "record_live: {what} leave the record unchanged"
            ),
            Updated::Applied(now) => {
                panic!("record_live: {what} must be ignored, but the record became {now:?}")
            }
        }
    }
    let further = live(1, 400, 7);
    assert!(expected.apply_live(&further));
    assert_eq!(
        table.record_live(&r.id, &further).await.unwrap(),
        Updated::Applied(expected.clone()),
        "record_live: figures further on replace the kept ones"
    );
    // a status update keeps the figures
    let Updated::Applied(after_status) = table
        .update(&r.id, &submitted(2, 8, "on-demand"))
        .await
        .unwrap()
    else {
        panic!("update: a resubmission after RUNNING must apply")
    };
    assert_eq!(
        after_status.live,
        Some(further),
        "update: a status change keeps the progress figures"
    );
    // the on-demand attempt starts from nothing: smaller figures of attempt 2 are kept
    let restart = live(2, 10, 9);
    match table.record_live(&r.id, &restart).await.unwrap() {
        Updated::Applied(after) => assert_eq!(
            after.live,
            Some(restart.clone()),
            "record_live: a new attempt's figures replace the last attempt's, however small"
        ),
        Updated::Ignored(now) => {
            panic!("record_live: a new attempt's first figures were ignored; record is {now:?}")
        }
    }
    assert!(
        matches!(
            table.record_live(&r.id, &live(1, 900, 10)).await.unwrap(),
            Updated::Ignored(_)
        ),
        "record_live: figures of an earlier attempt are ignored"
    );
    let Updated::Applied(ended) = table
        .update(&r.id, &JobUpdate::to(JobStatus::Failed, 2, t(11)))
        .await
        .unwrap()
    else {
        panic!("update: FAILED must apply")
    };
    assert_eq!(
        table.record_live(&r.id, &live(2, 2_000, 12)).await.unwrap(),
        Updated::Ignored(ended),
        "record_live: an ended record keeps its last figures"
    );
    let err = table
        .record_live(&id("ghost-live"), &live(1, 1, 1))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, crate::ports::TableError::NotFound { id } if id == "ghost-live"),
        "record_live: a missing record is NotFound naming it, got {err}"
    );
}

async fn an_ended_record_has_one_notification_to_send<T: JobTable>(table: T) {
    let r = pending("notify", 0);
    table.create(&r).await.unwrap();
    table.update(&r.id, &submitted(1, 1, "spot")).await.unwrap();
    let Updated::Ignored(running) = table.mark_notified(&r.id).await.unwrap() else {
        panic!("mark_notified: a record that has not ended has nothing to send")
    };
    assert_eq!(
        running.notification, None,
        "a running record has no notification"
    );
    let Updated::Applied(ended) = table
        .update(&r.id, &JobUpdate::to(JobStatus::Succeeded, 1, t(5)))
        .await
        .unwrap()
    else {
        panic!("update: SUCCEEDED must apply")
    };
    assert_eq!(
        ended.notification,
        Some(Notification::Pending),
        "update: the write that ends a record leaves its notification pending"
    );
    let Updated::Applied(sent) = table.mark_notified(&r.id).await.unwrap() else {
        panic!("mark_notified: a pending notification must be marked sent")
    };
    let mut expected = ended.clone();
    expected.notification = Some(Notification::Sent);
    assert_eq!(
        sent, expected,
        "mark_notified: only the notification changes"
    );
    assert_eq!(
        table.mark_notified(&r.id).await.unwrap(),
        Updated::Ignored(expected.clone()),
        "mark_notified: a sent notification is not marked again"
    );
    assert_eq!(
        table
            .update(&r.id, &JobUpdate::to(JobStatus::Failed, 1, t(6)))
            .await
            .unwrap(),
        Updated::Ignored(expected),
        "update: a late terminal update does not make the notification pending again"
    );
    let rejected = JobRecord::rejected(
        id("notify-bad"),
        "s3://b/jobs/bad.json",
        json!({}),
        "bad",
        t(0),
    );
    table.create(&rejected).await.unwrap();
    assert_eq!(
        table.mark_notified(&rejected.id).await.unwrap(),
        Updated::Ignored(rejected),
        "mark_notified: a config refused at admission has nothing to send"
    );
    assert!(
        matches!(
            table.mark_notified(&id("ghost-notify")).await.unwrap_err(),
            crate::ports::TableError::NotFound { .. }
        ),
        "mark_notified: a missing record is NotFound"
    );
}

async fn concurrent_marks_of_one_notification_apply_once<T: JobTable + 'static>(table: Arc<T>) {
    let race = id("race-notify");
    table.create(&pending("race-notify", 0)).await.unwrap();
    table
        .update(&race, &JobUpdate::to(JobStatus::Failed, 0, t(1)))
        .await
        .unwrap();
    let tasks: Vec<_> = (0..RACERS)
        .map(|_| {
            let table = Arc::clone(&table);
            let race = race.clone();
            tokio::spawn(async move { table.mark_notified(&race).await })
        })
        .collect();
    let mut applied = 0;
    for task in tasks {
        if let Updated::Applied(_) = task
            .await
            .expect("mark task panicked")
            .unwrap_or_else(|e| panic!("concurrent mark_notified failed: {e}"))
        {
            applied += 1;
        }
    }
    assert_eq!(
        applied, 1,
        "concurrent marks: exactly one publisher marks a notification sent"
    );
}
