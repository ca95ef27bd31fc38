//! One real `coffer serve` process: spawned with `--config FILE`, its stdout lines (the
//! bootstrap token, `coffer: listening on http://ADDR`) and stderr (logs) captured, killed and
//! reaped when the [`Node`] drops — also when a test panics. The child's environment is cleaned
//! of `COFFER_*` variables (so only the config file counts) and given the dummy AWS keys moto
//! accepts through the SDK's default credential chain.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const LISTENING: &str = "coffer: listening on http://";
/// How a node says where it wrote a token it created (its stdout is not a terminal, so it does
/// not print the token itself).
const TOKEN_FILE_LINE: &str = " (mode 0600)";
/// How long a node may take to connect, migrate, bootstrap and bind on a loaded machine.
const START_LIMIT: Duration = Duration::from_secs(60);

/// A running (or exited) `coffer serve`.
pub struct Node {
    /// `n0`, `n1`, … for messages.
    pub name: String,
    /// `http://127.0.0.1:PORT` once listening.
    pub base: String,
    child: Child,
    lines: Receiver<String>,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<String>>,
}

impl Node {
    /// Starts `coffer serve --config CONFIG` in `cwd` without waiting for it.
    pub fn spawn(name: &str, config: &Path, cwd: &Path) -> Node {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_coffer"));
        cmd.arg("serve")
            .arg("--config")
            .arg(config)
            .current_dir(cwd);
        for (key, _) in std::env::vars_os() {
            let k = key.to_string_lossy();
            if k.starts_with("COFFER_") || k.starts_with("AWS_") || k.starts_with("PG") {
                cmd.env_remove(&key);
            }
        }
        let mut child = cmd
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("RUST_LOG", "info,sqlx=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawning coffer serve");
        let stderr = Arc::new(Mutex::new(String::new()));
        let (mut pipe, sink) = (child.stderr.take().unwrap(), stderr.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                sink.lock().unwrap().push_str(&text);
            }
        });
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let (tx, lines) = channel();
        let (pipe, sink) = (child.stdout.take().unwrap(), stdout.clone());
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line.clone());
                let _ = tx.send(line);
            }
        });
        Node {
            name: name.into(),
            base: String::new(),
            child,
            lines,
            stdout,
            stderr,
        }
    }

    /// Waits until the node prints its address; panics with its logs if it does not.
    pub fn wait_listening(&mut self) {
        let deadline = Instant::now() + START_LIMIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(addr) = line.strip_prefix(LISTENING) {
                        self.base = format!("http://{}", addr.trim());
                        return;
                    }
                }
                Err(e) => panic!(
                    "node {} did not print `{LISTENING}…` within {START_LIMIT:?} ({e}); exit {:?}; \
                     its stderr:\n{}",
                    self.name,
                    self.child.try_wait(),
                    self.stderr()
                ),
            }
        }
    }

    /// The token this node created at start-up and wrote to `file` (`admin.token`,
    /// `operator.token`), if it did: it prints where, and never the token itself to a pipe.
    pub fn written_token(&self, file: &str) -> Option<String> {
        let lines = self.stdout.lock().unwrap();
        let line = lines
            .iter()
            .find(|l| l.ends_with(&format!("/{file}{TOKEN_FILE_LINE}")))?;
        assert!(!line.contains("coffer_"), "a token reached stdout: {line}");
        let path = line
            .rsplit_once(" is in ")?
            .1
            .strip_suffix(TOKEN_FILE_LINE)?;
        Some(std::fs::read_to_string(path).ok()?.trim().to_owned())
    }

    /// Every line the node printed to stdout so far.
    pub fn stdout(&self) -> Vec<String> {
        self.stdout.lock().unwrap().clone()
    }

    /// Everything the node logged so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Kills the process at once (SIGKILL), as a crash or the OOM killer would.
    pub fn kill(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaping the killed node");
    }

    /// Waits (at most `limit`) for the process to exit.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                // Let the reader threads drain what the process wrote last.
                std::thread::sleep(Duration::from_millis(100));
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
