//! The `stepscore` command line, run as a user runs it: a real process on a real state directory.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn stepscore(state: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stepscore"))
        .arg("--state-dir")
        .arg(state)
        .args(args)
        .output()
        .expect("stepscore runs")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn demo_with_parquet_puts_parquet_scores_it_by_row_group_and_writes_parquet_predictions() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let out = stepscore(
        &state,
        &[
            "demo",
            "--format",
            "parquet",
            "--rows",
            "3000",
            "--time-scale",
            "200",
        ],
    );
    assert!(out.status.success(), "demo failed:\n{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let id = stdout.split_whitespace().nth(1).expect("job id").to_owned();
    let status = stepscore(&state, &["--json", "status", &id]);
    let record: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(record["status"], "SUCCEEDED", "{record}");
    assert_eq!(record["metrics"]["rows_scored"], 3000);
    assert_eq!(record["config"]["output_format"], "parquet");
    let output = record["config"]["output"].as_str().unwrap();
    let out_dir = state
        .join("buckets")
        .join(output.strip_prefix("s3://").unwrap());
    let mut shards_with_rows = 0;
    for shard in 0..2 {
        let part = std::fs::read(out_dir.join(format!("part-{shard}.parquet"))).unwrap();
        assert!(
            part.starts_with(b"PAR1") && part.ends_with(b"PAR1"),
            "part-{shard}"
        );
        let manifest: Value = serde_json::from_slice(
            &std::fs::read(out_dir.join(format!("manifest-{shard}.json"))).unwrap(),
        )
        .unwrap();
        assert!(
            manifest["output"]
                .as_str()
                .unwrap()
                .ends_with(&format!("part-{shard}.parquet"))
        );
        if manifest["rows_scored"].as_u64().unwrap() > 0 {
            shards_with_rows += 1;
        }
    }
    assert_eq!(
        shards_with_rows, 2,
        "3 row groups of 1,024 rows split over both shards"
    );
}

#[test]
fn demo_runs_the_pipeline_to_succeeded_and_the_record_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let out = stepscore(&state, &["demo", "--rows", "3000", "--time-scale", "200"]);
    assert!(out.status.success(), "demo failed:\n{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("SUCCEEDED"), "{stdout}");
    let id = stdout
        .split_whitespace()
        .nth(1)
        .expect("job id after 'job'")
        .to_owned();

    let status = stepscore(&state, &["--json", "status", &id]);
    assert!(status.status.success(), "{}", text(&status));
    let record: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(record["status"], "SUCCEEDED");
    assert_eq!(record["metrics"]["rows_scored"], 3000);
    assert_eq!(record["metrics"]["rows_read"], 3000);

    // the predictions are in the local bucket: a header and one row per input row, over the parts
    let output = record["config"]["output"]
        .as_str()
        .unwrap()
        .strip_prefix("s3://")
        .unwrap()
        .to_owned();
    let out_dir = state.join("buckets").join(output);
    let mut rows = 0;
    for entry in std::fs::read_dir(&out_dir).unwrap() {
        let p = entry.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if name.starts_with("part-") {
            let body = std::fs::read_to_string(&p).unwrap();
            assert!(
                body.starts_with("id,prediction,"),
                "{name}: {}",
                &body[..body.len().min(80)]
            );
            rows += body.lines().count() - 1;
        }
    }
    assert_eq!(rows, 3000);

    let history = stepscore(&state, &["history", &id]);
    assert!(history.status.success(), "{}", text(&history));
    let h = String::from_utf8_lossy(&history.stdout);
    assert!(
        h.contains("ExecutionStarted") && h.contains("ExecutionSucceeded"),
        "{h}"
    );

    let list = stepscore(&state, &["list", "--status", "SUCCEEDED"]);
    assert!(String::from_utf8_lossy(&list.stdout).contains(&id));
}

#[test]
fn a_bad_config_is_named_field_by_field_with_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.json");
    std::fs::write(&config, r#"{"name": "x", "model": "s3://bkt/models/", "input": "s3://bkt/in.csv", "output": "s3://bkt/out/", "shard": 3}"#).unwrap();
    let out = stepscore(
        &dir.path().join("state"),
        &["validate", config.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let t = text(&out);
    assert!(
        t.contains("model: 's3://bkt/models/' names a prefix"),
        "{t}"
    );
    assert!(
        t.contains("shard: unknown field: did you mean 'shards'?"),
        "{t}"
    );

    // the data format fields, each named
    std::fs::write(&config, r#"{"name": "x", "model": "s3://bkt/m.json", "input": "s3://bkt/in.csv.gz", "output": "s3://bkt/out/", "shards": 4, "input_format": "xlsx", "features": {"age": 3}}"#).unwrap();
    let out = stepscore(
        &dir.path().join("state"),
        &["validate", config.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let t = text(&out);
    for expected in [
        "shards: is 4, but the input 's3://bkt/in.csv.gz' is one gzip-compressed file",
        "input_format: 'xlsx' is not one of auto, csv, jsonl, parquet",
        "features.age: must be the name of an input column, found a number",
    ] {
        assert!(t.contains(expected), "{t}\nlacks: {expected}");
    }
    std::fs::write(&config, r#"{"name": "x", "model": "s3://bkt/m.json", "input": "s3://bkt/in.csv.gz", "output": "s3://bkt/out/", "input_format": "csv"}"#).unwrap();
    let out = stepscore(
        &dir.path().join("state"),
        &["validate", config.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", text(&out));
    let t = text(&out);
    assert!(
        t.contains("is one gzip-compressed file: it is scored by one shard"),
        "{t}"
    );
    assert!(t.contains("input format csv, output format csv"), "{t}");
    std::fs::write(&config, r#"{"name": "x", "model": "s3://bkt/m.json", "input": "s3://bkt/in/", "output": "s3://bkt/out/", "output_format": "parquet", "parquet_compression": "zstd"}"#).unwrap();
    let out = stepscore(
        &dir.path().join("state"),
        &["validate", config.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out)
            .contains("input format auto, output format parquet (zstd, 131072 rows per row group)"),
        "{}",
        text(&out)
    );
    std::fs::write(&config, r#"{"name": "x", "model": "s3://bkt/m.json", "input": "s3://bkt/in/", "output": "s3://bkt/out/", "output_format": "jsonl", "parquet_row_group_rows": 10}"#).unwrap();
    let out = stepscore(
        &dir.path().join("state"),
        &["validate", config.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("parquet_row_group_rows: applies only to output_format 'parquet'"),
        "{}",
        text(&out)
    );
}

#[test]
fn the_pipeline_state_machine_validates() {
    let dir = tempfile::tempdir().unwrap();
    let sm =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../state-machines/scoring-pipeline.asl.json");
    let out = stepscore(
        &dir.path().join("state"),
        &["validate", sm.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("valid state machine"));
}

#[test]
fn a_job_that_fails_to_score_is_failed_with_the_scorers_reason() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    // a model artifact that is not one: the scorer exits 65 and says why
    let junk = dir.path().join("model.json");
    std::fs::write(&junk, b"{\"format_version\": 1").unwrap();
    let data = dir.path().join("in.csv");
    std::fs::write(&data, "id,f0\n1,0.5\n").unwrap();
    assert!(
        stepscore(
            &state,
            &[
                "put",
                junk.to_str().unwrap(),
                "s3://stepscore/models/model.json"
            ]
        )
        .status
        .success()
    );
    assert!(
        stepscore(
            &state,
            &["put", data.to_str().unwrap(), "s3://stepscore/data/in.csv"]
        )
        .status
        .success()
    );
    let config = dir.path().join("broken.json");
    std::fs::write(&config, r#"{"name": "broken", "model": "s3://stepscore/models/model.json", "input": "s3://stepscore/data/in.csv", "output": "s3://stepscore/out/", "capacity": "on-demand", "poll_interval_seconds": 1}"#).unwrap();
    let out = stepscore(
        &state,
        &["--time-scale", "100", "run", config.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("FAILED"), "{t}");
    assert!(
        t.contains("65"),
        "the reason names the scorer's exit code: {t}"
    );
    // the record carries the scorer's own message (from its failure report), not only the code
    let list = stepscore(&state, &["--json", "list"]);
    assert!(list.status.success(), "{}", text(&list));
    // one record per line
    let stdout = String::from_utf8_lossy(&list.stdout);
    let record: Value = serde_json::from_str(stdout.lines().next().unwrap_or_default()).unwrap();
    let reason = record["failure_reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("exit code 65")
            && reason.contains("scorer (shard 0): ")
            && reason.contains("s3://stepscore/models/model.json"),
        "{reason}"
    );
}

#[test]
fn asl_run_ends_an_endless_loop_at_the_aws_history_limit() {
    let dir = tempfile::tempdir().unwrap();
    let definition = dir.path().join("spin.asl.json");
    std::fs::write(
        &definition,
        r#"{"StartAt": "Spin", "States": {"Spin": {"Type": "Pass", "Next": "Spin"}}}"#,
    )
    .unwrap();
    let stdout_path = dir.path().join("stdout.jsonl");
    let mut child = Command::new(env!("CARGO_BIN_EXE_stepscore"))
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .args(["asl", "run", definition.to_str().unwrap(), "--history"])
        .stdout(std::fs::File::create(&stdout_path).unwrap())
        .spawn()
        .expect("stepscore runs");
    // Without the limit the loop never ends: give it a minute, then fail instead of hanging.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            panic!("asl run of an endless Pass loop was still running after 60 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(1), "a failed execution exits 1");
    let stdout = std::fs::read_to_string(&stdout_path).unwrap();
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    // 25,000 history events, then the outcome.
    assert_eq!(lines.len(), 25_001);
    let failed = &lines[24_999];
    assert_eq!(failed["id"], 25_000);
    assert_eq!(failed["type"], "ExecutionFailed");
    assert_eq!(
        failed["executionFailedEventDetails"]["error"],
        "States.Runtime"
    );
    assert_eq!(
        lines[25_000],
        serde_json::json!({
            "status": "FAILED",
            "error": "States.Runtime",
            "cause": "The execution reached the maximum number of history events (25000)."
        })
    );
}

#[path = "cli/watch.rs"]
mod watch;

#[path = "cli/put.rs"]
mod put;

#[path = "cli/parquet_job.rs"]
mod parquet_job;

#[path = "cli/depgraph.rs"]
mod depgraph;

#[path = "cli/architecture.rs"]
mod architecture;

/// `--aws` commands against moto with the AWS call log on: every call they make is allowed by the
/// `cli` principal of iam/policies.json (the policy docs/deploy.md tells users to attach).
#[test]
fn the_aws_commands_make_only_calls_the_cli_policy_allows() {
    use std::collections::BTreeMap;
    let moto = stepscore_aws::moto::shared();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let table = format!("cli-jobs-{}", std::process::id());
    let machine = rt.block_on(async {
        let config = moto.sdk_config().await;
        stepscore_aws::DynamoTable::new(&config, &table)
            .create_table()
            .await
            .unwrap();
        let definition = r#"{"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}"#;
        let sfn = stepscore_aws::SfnExecutions::new(&config, "");
        sfn.client()
            .create_state_machine()
            .name(format!("cli-machine-{}", std::process::id()))
            .definition(definition)
            .role_arn("arn:aws:iam::123456789012:role/sfn")
            .send()
            .await
            .unwrap()
            .state_machine_arn()
            .to_owned()
    });
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("calls.jsonl");
    let config = dir.path().join("daily.json");
    std::fs::write(
        &config,
        r#"{"name": "daily", "model": "s3://acme-scoring/models/m.json", "input": "s3://acme-scoring/inputs/d.csv", "output": "s3://acme-scoring/outputs/daily/"}"#,
    )
    .unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_stepscore"))
            .args(args)
            .args(["--aws", "--table", &table, "--state-machine-arn", &machine])
            .env("AWS_ENDPOINT_URL", moto.endpoint())
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env(stepscore_aws::calllog::CALL_LOG_ENV, &log)
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {}", text(&out));
    };
    run(&["start", config.to_str().unwrap(), "--name", "daily-1"]);
    run(&["status"]);
    run(&["list"]);
    // the record register would write for that execution, then `stop` on it
    let id = stepscore_core::JobId::for_name("daily", "daily-1");
    rt.block_on(async {
        use stepscore_core::ports::{Executions, JobTable};
        let config = moto.sdk_config().await;
        let mut record = stepscore_core::record::JobRecord::pending(
            id.clone(),
            "console:daily-1",
            serde_json::json!({}),
            chrono::Utc::now(),
        );
        record.execution_arn =
            Some(stepscore_aws::SfnExecutions::new(&config, &machine).execution_arn("daily-1"));
        stepscore_aws::DynamoTable::new(&config, &table)
            .create(&record)
            .await
            .unwrap();
    });
    run(&["stop", id.as_str()]);

    let calls = stepscore_aws::calllog::read(&log).unwrap();
    let machine_name = machine.rsplit(':').next().unwrap().to_owned();
    let values: BTreeMap<String, String> = [
        ("partition", "aws".to_owned()),
        ("region", "us-east-1".into()),
        ("account_id", "123456789012".into()),
        ("bucket_arn", "arn:aws:s3:::acme-scoring".into()),
        ("models_prefix", "models/".into()),
        ("inputs_prefix", "inputs/".into()),
        ("outputs_prefix", "outputs/".into()),
        (
            "table_arn",
            format!("arn:aws:dynamodb:us-east-1:123456789012:table/{table}"),
        ),
        ("state_machine_arn", machine.clone()),
        ("state_machine_name", machine_name),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let file = stepscore_aws::policy::PolicyFile::bundled().unwrap();
    let (denials, allowed) = stepscore_aws::policy::check_calls(&file, &values, &calls).unwrap();
    assert!(
        denials.is_empty(),
        "calls of stepscore --aws the cli policy does not allow:\n{}",
        denials.join("\n")
    );
    let actions: std::collections::BTreeSet<&str> =
        allowed.iter().map(|(_, a, _)| a.as_str()).collect();
    assert!(
        actions.contains("states:StartExecution")
            && actions.contains("dynamodb:Query")
            && actions.contains("states:DescribeExecution"),
        "{allowed:?}"
    );
}

#[test]
fn stopping_a_job_that_does_not_exist_is_not_found_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = stepscore(
        &dir.path().join("state"),
        &["stop", "nope-0123456789abcdef"],
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        text(&out).contains("nope-0123456789abcdef"),
        "{}",
        text(&out)
    );
}

#[test]
fn asl_jsonata_suite_runs_the_committed_suite_and_ends_with_the_counts() {
    let dir = tempfile::tempdir().unwrap();
    let suite = Path::new(env!("CARGO_MANIFEST_DIR")).join("../jsonata/testdata/jsonata-suite");
    let out = stepscore(
        dir.path(),
        &["asl", "jsonata-suite", suite.to_str().unwrap()],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    assert!(
        last.starts_with(|c: char| c.is_ascii_digit()) && last.contains(" passed, "),
        "{}",
        text(&out)
    );
    // exit status says whether any case failed
    assert_eq!(
        out.status.success(),
        last.contains(" passed, 0 failed"),
        "{last}"
    );

    let not_a_suite = stepscore(
        dir.path(),
        &["asl", "jsonata-suite", dir.path().to_str().unwrap()],
    );
    assert!(!not_a_suite.status.success());
    assert!(
        text(&not_a_suite).contains("no groups/ folder"),
        "{}",
        text(&not_a_suite)
    );
}

#[path = "cli/progress.rs"]
mod progress;
#[path = "cli/serve.rs"]
mod serve;

#[test]
fn asl_run_with_a_store_runs_a_distributed_map_over_a_csv_and_writes_results() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("buckets");
    std::fs::create_dir_all(store.join("data")).unwrap();
    std::fs::write(store.join("data/rows.csv"), "id,v\n1,a\n2,b\n3,c\n").unwrap();
    let definition = dir.path().join("dmap.asl.json");
    std::fs::write(
        &definition,
        serde_json::json!({"StartAt": "M", "States": {"M": {
            "Type": "Map",
            "ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "CSV"}, "Parameters": {"Bucket": "data", "Key": "rows.csv"}},
            "ItemBatcher": {"MaxItemsPerBatch": 2},
            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
            "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "data", "Prefix": "out"}},
            "End": true}}})
        .to_string(),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_stepscore"))
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .args(["asl", "run", definition.to_str().unwrap(), "--store"])
        .arg(&store)
        .output()
        .expect("stepscore runs");
    assert!(out.status.success(), "{}", text(&out));
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    let key = result["ResultWriterDetails"]["Key"].as_str().unwrap();
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(store.join("data").join(key)).unwrap()).unwrap();
    let succeeded_key = manifest["ResultFiles"]["SUCCEEDED"][0]["Key"]
        .as_str()
        .unwrap();
    let succeeded: Value =
        serde_json::from_slice(&std::fs::read(store.join("data").join(succeeded_key)).unwrap())
            .unwrap();
    let outputs: Vec<Value> = succeeded
        .as_array()
        .unwrap()
        .iter()
        .map(|e| serde_json::from_str(e["Output"].as_str().unwrap()).unwrap())
        .collect();
    assert_eq!(
        outputs,
        [
            serde_json::json!({"Items": [{"id": "1", "v": "a"}, {"id": "2", "v": "b"}]}),
            serde_json::json!({"Items": [{"id": "3", "v": "c"}]})
        ]
    );
}

/// `asl run` records the definition and the execution with its history in the state directory
/// (for the console, `history` and `status`), a changed definition as a new version; with no
/// state directory it records nothing and creates none.
#[test]
fn asl_run_records_its_definition_and_execution_where_history_and_status_read_them() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let definition = dir.path().join("greet.asl.json");
    let v1 = serde_json::json!({"StartAt": "Hello", "States": {
        "Hello": {"Type": "Pass", "Result": "hi", "ResultPath": "$.greeting", "Next": "Done"},
        "Done": {"Type": "Succeed"}}});
    std::fs::write(&definition, v1.to_string()).unwrap();
    let def = definition.to_str().unwrap();
    let out = stepscore(
        &state,
        &[
            "asl",
            "run",
            def,
            "--input",
            r#"{"who": "ada"}"#,
            "--name",
            "first",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        serde_json::from_slice::<Value>(&out.stdout).unwrap(),
        serde_json::json!({"who": "ada", "greeting": "hi"}),
        "stdout is the output, as without recording"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("recorded as execution first of state machine greet (version 1)"),
        "{}",
        text(&out)
    );

    let history = stepscore(&state, &["--json", "history", "first"]);
    assert!(history.status.success(), "{}", text(&history));
    let h: Value = serde_json::from_slice(&history.stdout).unwrap();
    let types: Vec<&str> = h["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "ExecutionStarted",
            "PassStateEntered",
            "PassStateExited",
            "SucceedStateEntered",
            "SucceedStateExited",
            "ExecutionSucceeded"
        ]
    );
    let status = stepscore(&state, &["--json", "status", "first"]);
    assert!(status.status.success(), "{}", text(&status));
    let e: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(e["status"], "SUCCEEDED");
    assert_eq!(e["state_machine"], "greet");
    assert_eq!(e["state_machine_version"], 1);
    assert_eq!(
        e["execution_arn"],
        "arn:aws:states:local:000000000000:execution:greet:first"
    );

    // the same text again: the same version; a name already used is refused, naming the fix
    let again = stepscore(&state, &["asl", "run", def, "--name", "first"]);
    assert_eq!(again.status.code(), Some(2), "{}", text(&again));
    assert!(
        text(&again).contains("choose another --name"),
        "{}",
        text(&again)
    );
    let unnamed = stepscore(&state, &["asl", "run", def]);
    assert!(unnamed.status.success(), "{}", text(&unnamed));
    assert!(text(&unnamed).contains("(version 1)"), "{}", text(&unnamed));
    // a changed definition: version 2, and the executions keep theirs
    let mut v2 = v1.clone();
    v2["States"]["Hello"]["Result"] = serde_json::json!("hello");
    std::fs::write(&definition, v2.to_string()).unwrap();
    let second = stepscore(&state, &["asl", "run", def, "--name", "second"]);
    assert!(text(&second).contains("(version 2)"), "{}", text(&second));
    let first = stepscore(&state, &["--json", "status", "first"]);
    let first: Value = serde_json::from_slice(&first.stdout).unwrap();
    assert_eq!(first["state_machine_version"], 1);

    // no state directory (the default one absent): runs, records nothing, creates nothing
    let bare = Command::new(env!("CARGO_BIN_EXE_stepscore"))
        .current_dir(dir.path())
        .env_remove("STEPSCORE_STATE_DIR")
        .args(["asl", "run", def])
        .output()
        .unwrap();
    assert!(bare.status.success(), "{}", text(&bare));
    assert!(text(&bare).contains("not recorded: no state directory at .stepscore"));
    assert!(!dir.path().join(".stepscore").exists());
    // --no-record leaves a named state directory alone
    let fresh = dir.path().join("fresh");
    let none = stepscore(&fresh, &["asl", "run", def, "--no-record"]);
    assert!(none.status.success(), "{}", text(&none));
    assert!(!fresh.exists());
}
