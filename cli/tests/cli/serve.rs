//! `stepscore serve`: the predict service as a process, reached over real HTTP, stopped by
//! SIGTERM; a model it cannot load is the user's to fix, with the exit class saying which.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

use super::{stepscore, text};

/// Trains a logistic model on a small CSV with `stepscore train`; returns the artifact's path.
fn train(dir: &Path) -> std::path::PathBuf {
    let csv = dir.join("train.csv");
    let mut rows = String::from("id,age,tenure,label\n");
    for i in 0..200 {
        let (age, tenure) = (18 + i % 60, i % 24);
        let label = if age > 40 && tenure < 12 { "yes" } else { "no" };
        rows.push_str(&format!("{i},{age},{tenure},{label}\n"));
    }
    std::fs::write(&csv, rows).unwrap();
    let model = dir.join("churn.json");
    let out = stepscore(
        &dir.join("state"),
        &[
            "train",
            "--input",
            csv.to_str().unwrap(),
            "--output",
            model.to_str().unwrap(),
            "--target",
            "label",
            "--algorithm",
            "logistic-regression",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    model
}

/// One request with `Connection: close`; the status and the body.
fn http(addr: &str, method: &str, path: &str, body: &str) -> (u16, Value) {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    (
        head[9..12].parse().unwrap(),
        serde_json::from_str(body).unwrap(),
    )
}

#[test]
fn serve_answers_predictions_until_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let model = train(dir.path());
    let mut child = Command::new(env!("CARGO_BIN_EXE_stepscore"))
        .args(["serve", "--model", model.to_str().unwrap(), "--port", "0"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    // "serving model 'churn' (version …) on http://127.0.0.1:PORT: …"
    assert!(
        line.starts_with("serving model 'churn' (version "),
        "{line}"
    );
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split(':').take(2).collect::<Vec<_>>().join(":").into())
        .unwrap();

    let (status, answer) = http(
        &addr,
        "POST",
        "/v1/models/churn:predict",
        r#"{"instances": [{"age": 55, "tenure": 3}, [20, 20]]}"#,
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["model_name"], "churn");
    let predictions = answer["predictions"].as_array().unwrap();
    assert_eq!(predictions.len(), 2);
    assert!(
        predictions[0]["probabilities"]["yes"].is_number(),
        "{answer}"
    );
    let (status, meta) = http(&addr, "GET", "/v1/models/churn", "");
    assert_eq!(status, 200);
    assert_eq!(meta["features"], serde_json::json!(["age", "tenure"]));
    assert_eq!(meta["version"], answer["model_version"]);
    let (status, answer) = http(
        &addr,
        "POST",
        "/v1/models/churn:predict",
        r#"{"instances": [{"age": 1}]}"#,
    );
    assert_eq!(status, 422);
    assert_eq!(answer["problems"][0]["feature"], "tenure");

    terminate(child.id());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "{exit:?}");
}

fn terminate(pid: u32) {
    let status = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn a_model_serve_cannot_load_names_it_with_its_exit_class() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let missing = dir.path().join("absent.json");
    let out = stepscore(
        &state,
        &["serve", "--model", missing.to_str().unwrap(), "--port", "0"],
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(text(&out).contains("absent.json"), "{}", text(&out));
    let junk = dir.path().join("junk.json");
    std::fs::write(
        &junk,
        r#"{"format": "stepscore-model", "format_version": 1}"#,
    )
    .unwrap();
    let out = stepscore(
        &state,
        &["serve", "--model", junk.to_str().unwrap(), "--port", "0"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("junk.json"), "{}", text(&out));
    let out = stepscore(
        &state,
        &["serve", "--model", junk.to_str().unwrap(), "--name", "a/b"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("model name 'a/b'"), "{}", text(&out));
}
