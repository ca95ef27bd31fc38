//! Test harness for the end-to-end CLI tests: starts the real `coffer serve` as a subprocess on
//! port 0 in its own temporary data directory, waits (at most 30 s) for its
//! `coffer: listening on http://ADDR` line (`https://` when the test gives it `[server.tls]`), reads the tokens the first start wrote
//! (`admin.token`: the first owner of org `default`; `operator.token`), and runs the `coffer`
//! binary against it. The server is killed when the [`Server`] drops, also
//! when a test panics.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_coffer");
const LISTEN_TIMEOUT: Duration = Duration::from_secs(30);
const LISTEN_PREFIX: &str = "coffer: listening on ";

/// A running `coffer serve` subprocess.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT` (`https://…` with `[server.tls]`).
    pub addr: String,
    /// The token of `admin`, the first owner of org `default`.
    pub token: String,
    /// The operator's token.
    pub operator: String,
    dir: tempfile::TempDir,
    /// What `coffer serve` wrote to stderr (its logs) so far.
    log: Arc<Mutex<String>>,
}

impl Server {
    /// Starts a server in a fresh data directory and waits until it listens.
    pub fn start() -> Server {
        Self::start_with_env(&[])
    }

    /// [`Server::start`] with extra environment for `coffer serve` (config overrides such as
    /// `COFFER_BYOK__PRINCIPAL_ARN`).
    pub fn start_with_env(env: &[(&str, &str)]) -> Server {
        Self::start_in(tempfile::tempdir().expect("temp dir"), "127.0.0.1:0", env)
    }

    /// [`Server::start_with_env`] listening on `port` of 127.0.0.1 (from [`free_port`]), for
    /// config that names the server's own address before it starts (`storage.public_origin`).
    pub fn start_on(port: u16, env: &[(&str, &str)]) -> Server {
        let listen = format!("127.0.0.1:{port}");
        Self::start_in(tempfile::tempdir().expect("temp dir"), &listen, env)
    }

    /// Starts a server on `dir/coffer-data`, which already holds a deployment (a restored
    /// backup) whose first owner's and operator's tokens are `token` and `operator`. They are
    /// written to the token files first, where the deployment's first start wrote them, so
    /// commands run in `dir` find them as they would on the original.
    pub fn start_existing(dir: tempfile::TempDir, token: &str, operator: &str) -> Server {
        use std::os::unix::fs::OpenOptionsExt;
        let data = dir.path().join("coffer-data");
        for (file, value) in [("admin.token", token), ("operator.token", operator)] {
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(data.join(file))
                .and_then(|mut f| f.write_all(format!("{value}\n").as_bytes()))
                .unwrap_or_else(|e| panic!("writing {file}: {e}"));
        }
        Self::start_in(dir, "127.0.0.1:0", &[])
    }

    /// Kills the server with SIGKILL (no shutdown of any kind) and starts a new one on the same
    /// data directory with `env`.
    pub fn kill_and_restart(mut self, env: &[(&str, &str)]) -> Server {
        self.child.kill().expect("SIGKILL"); // Child::kill sends SIGKILL on Unix
        let _ = self.child.wait();
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().expect("temp dir"));
        Self::start_in(dir, "127.0.0.1:0", env)
    }

    /// Kills the server with SIGKILL and keeps its data directory, for a test that reads what it
    /// left behind.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn start_in(dir: tempfile::TempDir, listen: &str, env: &[(&str, &str)]) -> Server {
        // Named like the default so that commands run in `dir` find `coffer-data/admin.token`.
        let data = dir.path().join("coffer-data");
        let mut child = Command::new(BIN)
            .arg("serve")
            .arg("--data-dir")
            .arg(&data)
            .args(["--listen", listen])
            .current_dir(dir.path())
            .env_remove("COFFER_TOKEN")
            .env_remove("COFFER_ADDR")
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawning coffer serve");

        // Drain stderr (logs) in the background so the pipe never fills; kept for diagnostics.
        let log = Arc::new(Mutex::new(String::new()));
        let mut stderr = child.stderr.take().unwrap();
        let sink = log.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        // Forward stdout lines; keep draining after the listen line.
        let (tx, rx) = mpsc::channel::<String>();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });

        let mut server = Server {
            child,
            addr: String::new(),
            token: String::new(),
            operator: String::new(),
            dir,
            log: log.clone(),
        };
        let deadline = Instant::now() + LISTEN_TIMEOUT;
        let mut printed = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(url) = line.strip_prefix(LISTEN_PREFIX) {
                        server.addr = url.trim().to_owned();
                        break;
                    }
                    printed.push(line);
                }
                Err(e) => panic!(
                    "coffer serve did not print `{LISTEN_PREFIX}…` within {LISTEN_TIMEOUT:?} ({e}); \
                     exit status {:?}; its stderr:\n{}",
                    server.child.try_wait(),
                    log.lock().unwrap()
                ),
            }
        }
        let read = |file: &str| {
            let path = data.join(file);
            let token = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
                .trim()
                .to_owned();
            assert!(!token.is_empty(), "{file} is empty");
            token
        };
        server.token = read("admin.token");
        server.operator = read("operator.token");
        // stdout is a pipe here, as under a service manager: it says where the tokens are and
        // never shows them.
        if !printed.is_empty() {
            let text = printed.join("\n");
            assert!(
                text.contains("admin.token") && text.contains("operator.token"),
                "{text}"
            );
            assert!(!text.contains("coffer_"), "a token reached stdout:\n{text}");
        }
        server
    }

    /// The process id of `coffer serve` (to send it signals).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything `coffer serve` logged so far (its stderr).
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// The server's data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("coffer-data")
    }

    /// A scratch directory for files a test writes (inside the server's temp dir).
    pub fn scratch(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A `coffer` command aimed at this server without any token in its environment, run in
    /// `cwd` (relative to the temp dir).
    pub fn cmd_without_token(&self, cwd: &str) -> Command {
        let mut cmd = self.cmd_with_token("");
        cmd.env_remove("COFFER_TOKEN")
            .current_dir(self.dir.path().join(cwd));
        cmd
    }

    /// A `coffer` command aimed at this server with the admin token, org `default`.
    pub fn cmd(&self) -> Command {
        self.cmd_with_token(&self.token)
    }

    /// A `coffer` command aimed at this server with `token`.
    pub fn cmd_with_token(&self, token: &str) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.current_dir(self.dir.path())
            .env("COFFER_ADDR", &self.addr)
            .env("COFFER_TOKEN", token)
            .env_remove("COFFER_ORG");
        cmd
    }

    /// Runs `coffer ARGS` with the admin token and empty stdin.
    pub fn run(&self, args: &[&str]) -> Run {
        run(self.cmd().args(args), b"")
    }

    /// Runs `coffer ARGS` with the admin token, feeding `stdin`.
    pub fn run_stdin(&self, args: &[&str], stdin: &[u8]) -> Run {
        run(self.cmd().args(args), stdin)
    }

    /// Runs `coffer ARGS` with the operator's token and empty stdin.
    pub fn run_as_operator(&self, args: &[&str]) -> Run {
        run(self.cmd_with_token(&self.operator).args(args), b"")
    }

    /// Invites the new person `name` to `org` with `role` using `inviter`'s token, and accepts
    /// as that person with `password` — both with the CLI, as people would. Returns their token.
    pub fn invite_and_accept(
        &self,
        inviter: &str,
        org: &str,
        name: &str,
        role: &str,
        password: &str,
    ) -> String {
        let code = run(
            self.cmd_with_token(inviter)
                .args(["--org", org, "user", "invite", name, "--role", role]),
            b"",
        )
        .ok()
        .stdout();
        let accepted = run(
            self.cmd_without_token(".")
                .args(["invite", "accept", code.trim()]),
            format!("{password}\n").as_bytes(),
        )
        .ok();
        accepted.stdout().trim().to_owned()
    }

    /// The operator creates `org` (with `extra` arguments, e.g. a location) and `name` joins as
    /// its owner; returns the owner's token.
    pub fn org_with_owner(&self, org: &str, extra: &[&str], name: &str) -> String {
        let mut args = vec!["org", "create", org, "--owner", name];
        args.extend_from_slice(extra);
        let code = self.run_as_operator(&args).ok().stdout();
        let accepted = run(
            self.cmd_without_token(".")
                .args(["invite", "accept", code.trim()]),
            b"a long enough passphrase\n",
        )
        .ok();
        accepted.stdout().trim().to_owned()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The outcome of one CLI run.
pub struct Run {
    /// Raw output.
    pub out: Output,
}

impl Run {
    /// Exit code (-1 if killed by a signal).
    pub fn code(&self) -> i32 {
        self.out.status.code().unwrap_or(-1)
    }
    /// Stdout as text.
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.out.stdout).into_owned()
    }
    /// Stderr as text.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.out.stderr).into_owned()
    }
    /// Panics with both streams unless the exit code is `code`.
    #[track_caller]
    pub fn expect_code(self, code: i32) -> Run {
        assert_eq!(
            self.code(),
            code,
            "unexpected exit code\n--- stdout:\n{}\n--- stderr:\n{}",
            self.stdout(),
            self.stderr()
        );
        self
    }
    /// Panics unless the command succeeded.
    #[track_caller]
    pub fn ok(self) -> Run {
        self.expect_code(0)
    }
}

/// Runs a prepared command, feeding `stdin`, with a generous timeout guard.
pub fn run(cmd: &mut Command, stdin: &[u8]) -> Run {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning coffer");
    let mut pipe = child.stdin.take().unwrap();
    let input = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = pipe.write_all(&input);
    });
    let out = child.wait_with_output().expect("waiting for coffer");
    writer.join().unwrap();
    Run { out }
}

/// A port of 127.0.0.1 that was free a moment ago (the OS picks it; the listener is closed again,
/// so another process could take it before the server binds it — unlikely in practice).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Asserts that `path` has mode 0600.
#[cfg(unix)]
pub fn assert_mode_0600(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{} has mode {mode:o}", path.display());
}
