//! The guard, over real HTTP: foreign hosts, cross-origin and form posts are refused, no path
//! reaches a file, every error is JSON, every response carries the CSP.

use serde_json::{Value, json};

use crate::harness::Console;

async fn raw(
    c: &Console,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, Value, reqwest::header::HeaderMap) {
    let mut req = c
        .http
        .request(method.parse().unwrap(), format!("{}{path}", c.base));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = req.body(body.to_owned()).send().await.unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    (status, res.json().await.unwrap_or(Value::Null), headers)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_hosts_and_cross_origin_writes_are_refused_before_any_handler() {
    let c = Console::start().await;
    let config = json!({"config": "{}"}).to_string();
    let json_ct = ("content-type", "application/json");
    let own = format!("http://127.0.0.1:{}", c.port);
    let rebinding = format!("attacker.example:{}", c.port);

    // DNS rebinding: a page on another name that resolves to 127.0.0.1 reads nothing
    let (status, body, _) = raw(&c, "GET", "/api/overview", &[("host", &rebinding)], "").await;
    assert_eq!(status, 403, "{body}");
    assert!(body["message"].as_str().unwrap().contains("Host"), "{body}");
    let (status, _, _) = raw(&c, "GET", "/", &[("host", &rebinding)], "").await;
    assert_eq!(status, 403);
    // localhost is this console too
    let localhost = format!("localhost:{}", c.port);
    let (status, _, _) = raw(&c, "GET", "/api/overview", &[("host", &localhost)], "").await;
    assert_eq!(status, 200);

    // a page on another site cannot post, not even with a JSON body
    for origin in ["http://evil.example", "null", "http://127.0.0.1:1"] {
        let (status, body, _) = raw(
            &c,
            "POST",
            "/api/runs",
            &[json_ct, ("origin", origin)],
            &config,
        )
        .await;
        assert_eq!(status, 403, "{origin}: {body}");
        assert!(
            body["message"].as_str().unwrap().contains("cross-origin"),
            "{body}"
        );
    }
    let (status, _, _) = raw(
        &c,
        "POST",
        "/api/validate",
        &[json_ct, ("sec-fetch-site", "cross-site")],
        &config,
    )
    .await;
    assert_eq!(status, 403);
    // a plain form post (no preflight in a browser) is refused for its content type
    let (status, body, _) = raw(
        &c,
        "POST",
        "/api/validate",
        &[
            ("content-type", "application/x-www-form-urlencoded"),
            ("origin", &own),
        ],
        "config=x",
    )
    .await;
    assert_eq!(status, 403, "{body}");
    // the console's own page may
    let (status, body, _) = raw(
        &c,
        "POST",
        "/api/validate",
        &[json_ct, ("origin", &own)],
        &config,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["valid"], false);
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_request_reaches_a_file_and_every_error_is_json() {
    let c = Console::start().await;
    std::fs::write(c.state_dir().join("secret.txt"), "do not serve").unwrap();
    for path in [
        "/assets/../state.db",
        "/assets/%2e%2e/secret.txt",
        "/assets/js/../../../secret.txt",
        "/secret.txt",
        "/state.db",
    ] {
        let res = c
            .http
            .get(format!("{}{path}", c.base))
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        assert_eq!(status, 404, "{path}: {text}");
        assert!(
            !text.contains("do not serve") && !text.contains("SQLite"),
            "{path}"
        );
    }
    for (path, expected) in [
        (
            "jobs/..%2F..%2Fetc/logs?batch_job=x&attempt=1&stream=stdout",
            400,
        ),
        (
            "jobs/nope-1/logs?batch_job=..%2F..%2Fsecret.txt&attempt=1&stream=stdout",
            404,
        ),
        ("jobs/nope-1", 404),
        ("executions/..%2Fstate.db", 400),
        ("executions/no-such-execution", 404),
        ("executions?status=DONE", 400),
        ("executions?after=garbage", 400),
        ("executions?limit=many", 400),
        ("executions?search=%3Cimg%3E", 400),
        ("jobs?status=LOST", 400),
        ("no/such/route", 404),
    ] {
        let (status, body) = c.get(path).await;
        assert_eq!(status, expected, "{path}: {body}");
        assert!(body["message"].is_string(), "{path}: {body}");
    }
    let (status, body) = c.post("runs", &json!({"configuration": 1})).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("config"),
        "{body}"
    );
    let res = c
        .http
        .post(format!("{}/api/validate", c.base))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 400);

    // the page and its files carry the policy that allows only the console's own scripts
    for path in ["/", "/assets/js/app.js", "/api/overview"] {
        let res = c
            .http
            .get(format!("{}{path}", c.base))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 200, "{path}");
        let csp = res.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!(csp, stepscore_console::CONTENT_SECURITY_POLICY);
        assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"));
        assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    }
    c.shutdown().await;
}
