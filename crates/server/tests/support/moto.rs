//! A real moto server (S3, KMS, STS, IAM APIs) for the AWS backends' tests.
//!
//! [`Moto::shared`] starts one server per test binary on a free port, shared by that binary's
//! tests (each uses its own buckets and keys, so they can run in parallel); [`Moto::start`] gives
//! a test its own server when it needs to stop it. The binary comes from `COFFER_MOTO_SERVER`,
//! else `.venv-test/bin/moto_server` (what `scripts/test.sh` installs), else `PATH`; without one
//! the tests fail, never skip. Nothing global is set: tests pass the endpoint and dummy static
//! credentials through [`AwsSettings`]. moto runs under a tiny `sh` guard that waits on a pipe
//! from this process, so the server dies with the test process even when no destructor runs
//! (a static) or the process is killed.

use coffer_server::aws::{AwsCredentials, AwsSettings, SecretString};
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The account moto puts everything in.
pub const ACCOUNT: &str = "123456789012";

/// A running moto server; stopped on drop.
pub struct Moto {
    endpoint: String,
    log: PathBuf,
    guard: Mutex<Option<(Child, ChildStdin)>>,
}

fn find_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("COFFER_MOTO_SERVER") {
        let p = PathBuf::from(p);
        assert!(
            p.is_file(),
            "COFFER_MOTO_SERVER={} is not a file",
            p.display()
        );
        return p;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let venv = root.join(".venv-test/bin/moto_server");
    if venv.is_file() {
        return venv;
    }
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|d| d.join("moto_server"))
            .find(|p| p.is_file())
    });
    on_path.unwrap_or_else(|| {
        panic!(
            "moto_server not found: run scripts/test.sh (it installs moto into .venv-test), \
             or `pip install 'moto[server]'`, or set COFFER_MOTO_SERVER to its path"
        )
    })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("binding a free port")
        .port()
}

impl Moto {
    /// A new server for this test alone.
    pub fn start() -> Moto {
        Self::start_with_env(&[])
    }

    /// A new server with extra environment, e.g. `INITIAL_NO_AUTH_ACTION_COUNT=N`: moto's
    /// auth mode, where after N unauthenticated requests it checks signatures, IAM policies and
    /// role trust policies (including `sts:ExternalId`).
    pub fn start_with_env(env: &[(&str, &str)]) -> Moto {
        let bin = find_binary();
        let port = free_port();
        let log = std::env::temp_dir().join(format!("coffer-moto-{port}.log"));
        // The watcher's `cat` returns when our end of the pipe closes (stop, drop or process
        // exit) and kills moto; the guard itself exits when moto does, so a moto that dies at
        // start is noticed at once. (fd 3: background jobs get /dev/null as stdin.)
        let script = r#"exec 3<&0
"$1" -H 127.0.0.1 -p "$2" </dev/null >"$3" 2>&1 & m=$!
(cat <&3 >/dev/null; kill $m 2>/dev/null) &
wait $m"#;
        let mut child = Command::new("sh")
            .args(["-c", script, "moto-guard"])
            .arg(&bin)
            .arg(port.to_string())
            .arg(&log)
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
        let stdin = child.stdin.take().expect("piped stdin");
        let moto = Moto {
            endpoint: format!("http://127.0.0.1:{port}"),
            log,
            guard: Mutex::new(Some((child, stdin))),
        };
        moto.wait_until_up(port, &bin);
        moto
    }

    /// The server shared by every test in this binary.
    pub fn shared() -> &'static Moto {
        static SHARED: OnceLock<Moto> = OnceLock::new();
        SHARED.get_or_init(Moto::start)
    }

    fn wait_until_up(&self, port: u16, bin: &Path) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut exited = None;
        while Instant::now() < deadline && exited.is_none() {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
            let mut guard = self.guard.lock().unwrap();
            exited = guard
                .as_mut()
                .and_then(|(child, _)| child.try_wait().ok().flatten());
        }
        let mut log = String::new();
        let _ = std::fs::File::open(&self.log).and_then(|mut f| f.read_to_string(&mut log));
        panic!(
            "{} did not answer on port {port} within 60 s (exit: {exited:?}); its output:\n{log}",
            bin.display()
        );
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Settings for a client of this server in `region`: dummy static keys, path-style, short
    /// timeouts and one retry so failure tests stay fast.
    pub fn settings(&self, region: &str) -> AwsSettings {
        AwsSettings {
            region: Some(region.into()),
            endpoint: Some(self.endpoint.clone()),
            force_path_style: true,
            credentials: AwsCredentials::Static {
                access_key_id: "test".into(),
                secret_access_key: SecretString::new("test"),
                session_token: None,
            },
            connect_timeout: Duration::from_secs(2),
            operation_timeout: Duration::from_secs(10),
            max_attempts: 2,
        }
    }

    /// Stops the server (idempotent); its port refuses connections afterwards.
    pub fn stop(&self) {
        let taken = self.guard.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some((mut child, stdin)) = taken {
            drop(stdin);
            let _ = child.wait();
        }
    }

    /// One KMS JSON-protocol call (moto does not check signatures by default; the credential
    /// scope routes it to KMS in `region`). Panics unless it succeeds.
    pub async fn kms(
        &self,
        region: &str,
        action: &str,
        body: serde_json::Value,
    ) -> serde_json::Value {
        let auth = format!(
            "AWS4-HMAC-SHA256 Credential=test/20260101/{region}/kms/aws4_request, SignedHeaders=host, Signature=00"
        );
        let resp = reqwest::Client::new()
            .post(format!("{}/", self.endpoint))
            .header("Authorization", auth)
            .header("X-Amz-Target", format!("TrentService.{action}"))
            .header("Content-Type", "application/x-amz-json-1.1")
            .body(body.to_string())
            .send()
            .await
            .expect("KMS request to moto");
        assert!(
            resp.status().is_success(),
            "KMS {action}: {}",
            resp.status()
        );
        resp.json().await.unwrap_or(serde_json::Value::Null)
    }

    /// Calls an IAM action with moto's query API. moto does not check signatures by default;
    /// the credential scope only routes the request to IAM.
    pub async fn iam(&self, params: &[(&str, &str)]) -> String {
        let auth = "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/iam/aws4_request, \
                    SignedHeaders=host, Signature=00";
        let mut form: Vec<(&str, &str)> = vec![("Version", "2010-05-08")];
        form.extend_from_slice(params);
        let body = form
            .iter()
            .map(|(k, v)| format!("{k}={}", urlencode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let resp = reqwest::Client::new()
            .post(format!("{}/", self.endpoint))
            .header("Authorization", auth)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .expect("IAM request to moto");
        let status = resp.status();
        let text = resp.text().await.expect("IAM response body");
        assert!(
            status.is_success(),
            "IAM {params:?} failed: {status} {text}"
        );
        text
    }

    /// Creates an IAM role and returns its ARN.
    pub async fn create_role(&self, name: &str, trust_policy: &str) -> String {
        self.iam(&[
            ("Action", "CreateRole"),
            ("RoleName", name),
            ("AssumeRolePolicyDocument", trust_policy),
        ])
        .await;
        format!("arn:aws:iam::{ACCOUNT}:role/{name}")
    }
}

/// The text of the first `<tag>` element in an XML answer.
pub fn xml_field(xml: &str, tag: &str) -> String {
    let open = format!("<{tag}>");
    let start = xml.find(&open).map(|i| i + open.len());
    let end = start.and_then(|s| xml[s..].find(&format!("</{tag}>")).map(|e| s + e));
    match (start, end) {
        (Some(s), Some(e)) => xml[s..e].to_owned(),
        _ => panic!("no <{tag}> in {xml}"),
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A fresh lowercase name for buckets, roles and keys, unique across parallel tests.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
        .chars()
        .take(63)
        .collect()
}
