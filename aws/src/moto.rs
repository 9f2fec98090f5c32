//! A moto server (the AWS wire-protocol peer of the integration tests) on 127.0.0.1.
//!
//! [`shared`] starts one `moto_server` per test process on a free port (or uses
//! `STEPSCORE_MOTO_ENDPOINT` when set) and waits until it answers. The server is killed when the
//! [`MotoServer`] is dropped, and — because a `static` is never dropped — also by a small shell
//! watchdog when the test process exits.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use aws_config::SdkConfig;

use crate::AwsSettings;

/// A running moto server (or an external one named by `STEPSCORE_MOTO_ENDPOINT`).
#[derive(Debug)]
pub struct MotoServer {
    endpoint: String,
    child: Option<Child>,
}

/// Why a moto server could not be used.
#[derive(Debug, thiserror::Error)]
pub enum MotoError {
    /// The binary is not installed.
    #[error(
        "moto server binary {0} does not exist: run scripts/venv to install moto[server] into .venv"
    )]
    Missing(PathBuf),
    /// It could not be started.
    #[error("could not start {path}: {message}")]
    Start { path: PathBuf, message: String },
    /// It did not answer in time.
    #[error(
        "moto server at {0} did not answer within 60 s: check that scripts/venv installed a working moto[server]"
    )]
    NoAnswer(String),
    /// A moto-api call failed.
    #[error("moto-api call {path} to {endpoint} failed: {message}")]
    Api {
        endpoint: String,
        path: String,
        message: String,
    },
}

/// The moto server of this test process, started on first use.
pub fn shared() -> &'static MotoServer {
    static SERVER: OnceLock<MotoServer> = OnceLock::new();
    SERVER.get_or_init(|| match MotoServer::start() {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    })
}

impl MotoServer {
    /// Starts a server on a free port, or connects to `STEPSCORE_MOTO_ENDPOINT`.
    pub fn start() -> Result<Self, MotoError> {
        if let Ok(endpoint) = std::env::var("STEPSCORE_MOTO_ENDPOINT") {
            let server = MotoServer {
                endpoint,
                child: None,
            };
            server.wait_until_up()?;
            return Ok(server);
        }
        Self::spawn(&[])
    }

    /// Starts a server of its own on a free port with extra environment variables (moto reads
    /// some behaviour only from its environment, e.g. `MOTO_SIMPLE_BATCH_FAIL_AFTER`).
    pub fn start_own(env: &[(&str, &str)]) -> Result<Self, MotoError> {
        Self::spawn(env)
    }

    fn spawn(env: &[(&str, &str)]) -> Result<Self, MotoError> {
        let path = std::env::var_os("STEPSCORE_MOTO_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/moto_server")
            });
        if !path.exists() {
            return Err(MotoError::Missing(path));
        }
        let port = free_port().map_err(|e| MotoError::Start {
            path: path.clone(),
            message: format!("no free port: {e}"),
        })?;
        // The watchdog loop ends when this process is gone and its trap kills moto, so a server
        // held in a static (never dropped) does not outlive the tests.
        let script = r#"log="$4"; "$0" -H 127.0.0.1 -p "$1" >"$log" 2>&1 & m=$!; trap 'kill $m 2>/dev/null' EXIT TERM; while kill -0 "$2" 2>/dev/null && kill -0 $m 2>/dev/null; do sleep "$3"; done"#;
        let log = std::env::temp_dir().join(format!("stepscore-moto-{port}.log"));
        let child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg(&path)
            .arg(port.to_string())
            .arg(std::process::id().to_string())
            .arg("1")
            .arg(&log)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .spawn()
            .map_err(|e| MotoError::Start {
                path: path.clone(),
                message: e.to_string(),
            })?;
        let server = MotoServer {
            endpoint: format!("http://127.0.0.1:{port}"),
            child: Some(child),
        };
        server.wait_until_up()?;
        Ok(server)
    }

    /// The server's URL, e.g. `http://127.0.0.1:43121`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Settings that point every client at this server (region us-east-1).
    pub fn settings(&self) -> AwsSettings {
        AwsSettings {
            endpoint_url: Some(self.endpoint.clone()),
            region: Some("us-east-1".into()),
            component: None,
        }
    }

    /// An SDK config for this server with fixed test credentials.
    pub async fn sdk_config(&self) -> SdkConfig {
        self.settings()
            .loader()
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                "testing", "testing", None, None, "moto",
            ))
            .load()
            .await
    }

    /// Changes moto's configuration through `POST /moto-api/config`, e.g.
    /// `{"batch": {"use_docker": false}}`.
    pub fn configure(&self, config: &serde_json::Value) -> Result<(), MotoError> {
        self.post("/moto-api/config", &config.to_string())
            .map(|_| ())
    }

    /// Creates an IAM role (moto's Batch checks that a compute environment's service role exists)
    /// and returns its ARN.
    pub fn create_role(&self, name: &str) -> Result<String, MotoError> {
        let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"batch.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
        let body = format!(
            "Action=CreateRole&Version=2010-05-08&RoleName={name}&AssumeRolePolicyDocument={}",
            form_encode(policy)
        );
        let response = self.request(
            "/",
            "application/x-www-form-urlencoded",
            // moto routes an unsigned request by the service named in the credential scope
            "Authorization: AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0\r\n",
            &body,
        )?;
        let arn = response
            .split("<Arn>")
            .nth(1)
            .and_then(|rest| rest.split("</Arn>").next())
            .ok_or_else(|| MotoError::Api {
                endpoint: self.endpoint.clone(),
                path: "/ (iam CreateRole)".into(),
                message: format!("no <Arn> in the answer: {response}"),
            })?;
        Ok(arn.to_owned())
    }

    /// Creates IAM user `name` holding exactly `policy` (an inline policy document) and returns
    /// its access key: the credentials of one component when moto enforces IAM (see
    /// [`MotoServer::enforce_iam`]). Call before enforcing, or moto asks these calls to be signed.
    pub fn create_user(
        &self,
        name: &str,
        policy: &serde_json::Value,
    ) -> Result<aws_sdk_s3::config::Credentials, MotoError> {
        self.iam_call(&format!(
            "Action=CreateUser&Version=2010-05-08&UserName={name}"
        ))?;
        self.iam_call(&format!(
            "Action=PutUserPolicy&Version=2010-05-08&UserName={name}&PolicyName={name}&PolicyDocument={}",
            form_encode(&policy.to_string())
        ))?;
        let response = self.iam_call(&format!(
            "Action=CreateAccessKey&Version=2010-05-08&UserName={name}"
        ))?;
        let field = |tag: &str| -> Result<String, MotoError> {
            response
                .split(&format!("<{tag}>"))
                .nth(1)
                .and_then(|rest| rest.split(&format!("</{tag}>")).next())
                .map(str::to_owned)
                .ok_or_else(|| MotoError::Api {
                    endpoint: self.endpoint.clone(),
                    path: "/ (iam CreateAccessKey)".into(),
                    message: format!("no <{tag}> in the answer: {response}"),
                })
        };
        Ok(aws_sdk_s3::config::Credentials::new(
            field("AccessKeyId")?,
            field("SecretAccessKey")?,
            None,
            None,
            "moto-iam-user",
        ))
    }

    /// `policy` as moto can enforce it: moto authorises S3 requests on the object or bucket ARN
    /// but every other service's request on the resource `*` (its `_determine_resource` exists
    /// for SQS, IAM and STS only), which a statement naming a table or state machine ARN never
    /// matches. So statements of other services get `Resource: "*"` here (and their actions also
    /// in moto's lower-case spelling): moto then checks their actions, and the call-log
    /// evaluation (`crate::policy::check_calls`) their resources.
    pub fn enforceable(policy: &serde_json::Value) -> serde_json::Value {
        let mut policy = policy.clone();
        if let Some(statements) = policy["Statement"].as_array_mut() {
            for statement in statements {
                let actions: Vec<String> = match &statement["Action"] {
                    serde_json::Value::String(a) => vec![a.clone()],
                    serde_json::Value::Array(a) => a
                        .iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect(),
                    _ => Vec::new(),
                };
                if !actions.iter().all(|a| a.starts_with("s3:")) {
                    statement["Resource"] = serde_json::json!("*");
                    // moto names REST-JSON actions after their URL in lower case
                    // (`batch:listjobs`) and compares case-sensitively; IAM action names are
                    // case-insensitive, so the lower-case spelling grants nothing more.
                    let mut spelled = actions.clone();
                    spelled.extend(actions.iter().map(|a| a.to_lowercase()));
                    spelled.dedup();
                    statement["Action"] = serde_json::json!(spelled);
                }
            }
        }
        policy
    }

    /// From now on every request must be signed by an IAM user's key and be allowed by its
    /// policies (moto's `INITIAL_NO_AUTH_ACTION_COUNT`, reset through `/moto-api/reset-auth`:
    /// the count of unauthenticated requests still allowed becomes 0). moto checks S3 requests
    /// against the object or bucket ARN and other services' requests at action level.
    pub fn enforce_iam(&self) -> Result<(), MotoError> {
        self.request("/moto-api/reset-auth", "text/plain", "", "0")
            .map(|_| ())
    }

    /// An SDK config for this server signing with `credentials`, named `component`.
    pub async fn sdk_config_as(
        &self,
        credentials: aws_sdk_s3::config::Credentials,
        component: Option<&str>,
    ) -> SdkConfig {
        let mut settings = self.settings();
        settings.component = component.map(str::to_owned);
        settings
            .loader()
            .credentials_provider(credentials)
            .load()
            .await
    }

    fn iam_call(&self, body: &str) -> Result<String, MotoError> {
        self.request(
            "/",
            "application/x-www-form-urlencoded",
            // moto routes an unsigned request by the service named in the credential scope
            "Authorization: AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0\r\n",
            body,
        )
    }

    fn addr(&self) -> Result<SocketAddr, MotoError> {
        let host = self
            .endpoint
            .trim_start_matches("http://")
            .trim_end_matches('/');
        host.parse().map_err(|e| MotoError::Api {
            endpoint: self.endpoint.clone(),
            path: String::new(),
            message: format!("'{host}' is not host:port: {e}"),
        })
    }

    /// One HTTP/1.1 request by hand: the moto-api is two plain JSON calls in tests, not worth an
    /// HTTP client dependency.
    fn post(&self, path: &str, body: &str) -> Result<String, MotoError> {
        self.request(path, "application/json", "", body)
    }

    fn request(
        &self,
        path: &str,
        content_type: &str,
        extra_headers: &str,
        body: &str,
    ) -> Result<String, MotoError> {
        let err = |message: String| MotoError::Api {
            endpoint: self.endpoint.clone(),
            path: path.into(),
            message,
        };
        let mut stream = TcpStream::connect_timeout(&self.addr()?, Duration::from_secs(5))
            .map_err(|e| err(e.to_string()))?;
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .map_err(|e| err(e.to_string()))?;
        write!(
            stream,
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n{extra_headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .map_err(|e| err(e.to_string()))?;
        let mut response = String::new();
        stream
            .read_to_string(&mut response)
            .map_err(|e| err(e.to_string()))?;
        let status_line = response.lines().next().unwrap_or_default();
        if !status_line
            .split_whitespace()
            .nth(1)
            .is_some_and(|code| code.starts_with('2'))
        {
            return Err(err(format!("answered '{status_line}'")));
        }
        Ok(response)
    }

    fn wait_until_up(&self) -> Result<(), MotoError> {
        let deadline = Instant::now() + Duration::from_secs(60);
        let addr = self.addr()?;
        while Instant::now() < deadline {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
                && self.post("/moto-api/config", "{}").is_ok()
            {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(MotoError::NoAnswer(self.endpoint.clone()))
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            // killing the shell fires its trap, which kills moto
            let _ = Command::new("kill").arg(child.id().to_string()).status();
            let _ = child.wait();
        }
    }
}

fn form_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}
