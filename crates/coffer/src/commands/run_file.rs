//! `coffer run --issue OPS-123 --format dotenv|json --out FILE -- CMD ARGS…`: for tools that read
//! their secrets from a file rather than the environment. It owns that file's lifetime: the
//! variables `coffer run` would set (same names, same skips: [`run::collect`]) are written in
//! `coffer export`'s format ([`export::render`], one writer for both) to FILE, created with mode
//! 0600 and never over an existing file (which would then be deleted); the command runs as a
//! child (not `exec`, which would leave nobody to clean up), and FILE is deleted when it exits.
//!
//! While the child runs, coffer survives Ctrl-C (the terminal sends SIGINT to the child too, and
//! it decides) and passes SIGTERM and SIGHUP on to it, so the file is deleted in those cases as
//! well; only a SIGKILL of coffer itself leaves FILE behind. The exit code is the child's, or
//! 128 + the signal that ended it.

use super::Ctx;
use super::export::render;
use super::run::{self, Env};
use crate::cli::{ExportFormat, RunArgs};
use crate::error::{CliError, Result};
use anyhow::Context as _;
use std::ffi::OsString;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Runs `coffer run --format FORMAT --out PATH -- CMD…`.
pub async fn run(ctx: &Ctx, args: &RunArgs, format: ExportFormat, path: &Path) -> Result<i32> {
    // Checked before anything is revealed; `create_new` below is what makes it race-free.
    if std::fs::symlink_metadata(path).is_ok() {
        return Err(CliError::Usage(format!(
            "{} exists already: coffer run writes the secrets to a new file and deletes it when \
             the command exits, so it will not take over an existing one (choose another --out \
             path, or remove that file)",
            path.display()
        )));
    }
    let env = run::collect(ctx, args).await?;
    let signals = Signals::install()?;
    let content = render(format, text_entries(&env))?;
    drop(env);
    let file = SecretsFile::create(path, content.as_bytes())?;
    drop(content);
    eprintln!(
        "coffer run: wrote the variables to {} (mode 0600); it is deleted when the command exits",
        path.display()
    );
    let code = run_child(&args.command, signals).await;
    match file.remove() {
        Ok(()) => Ok(code),
        Err(e) => {
            eprintln!(
                "error: cannot delete {}, which holds secret values: {e}; delete it yourself",
                path.display()
            );
            Ok(if code == 0 { 1 } else { code })
        }
    }
}

/// The variables as text, in name order; values that are not UTF-8 (which neither a .env nor a
/// JSON file can hold) are skipped with a note.
fn text_entries(env: &Env) -> Vec<(&str, &str)> {
    env.iter()
        .filter_map(|(name, (value, source))| match std::str::from_utf8(value) {
            Ok(text) => Some((name.as_str(), text)),
            Err(_) => {
                eprintln!("coffer run: skipping {name} from {source}: the value is not UTF-8 text");
                None
            }
        })
        .collect()
}

/// The secrets file while it exists: removed when dropped (an early return or a panic), or
/// by [`SecretsFile::remove`], which reports a failure.
struct SecretsFile {
    path: PathBuf,
    armed: bool,
}

impl SecretsFile {
    /// Creates `path` (which must not exist), readable by the owner only, holding `content`.
    fn create(path: &Path, content: &[u8]) -> Result<SecretsFile> {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut handle = opts
            .open(path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        let file = SecretsFile {
            path: path.to_owned(),
            armed: true,
        };
        // A umask can only take bits away, but a file system may ignore the mode: refuse to
        // write secrets into a file that others can read.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = handle.metadata()?.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(CliError::Other(anyhow::anyhow!(
                    "{} got mode {mode:o} instead of 0600; not writing secrets to it",
                    path.display()
                )));
            }
        }
        handle
            .write_all(content)
            .and_then(|()| handle.flush())
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(file)
    }

    /// Deletes the file; one that is already gone (the command removed it) is fine.
    fn remove(mut self) -> std::io::Result<()> {
        self.armed = false;
        match std::fs::remove_file(&self.path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

impl Drop for SecretsFile {
    fn drop(&mut self) {
        if self.armed {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Runs the command with the inherited environment and stdio; returns its exit code (127 when
/// it was not found, 126 when it could not be started).
async fn run_child(command: &[OsString], mut signals: Signals) -> i32 {
    let (program, rest) = command
        .split_first()
        .expect("check_command requires a command");
    let mut child = match tokio::process::Command::new(program).args(rest).spawn() {
        Ok(child) => child,
        Err(err) => {
            eprintln!("error: cannot run {}: {err}", program.to_string_lossy());
            return if err.kind() == std::io::ErrorKind::NotFound {
                127
            } else {
                126
            };
        }
    };
    loop {
        tokio::select! {
            status = child.wait() => return match status {
                Ok(status) => exit_code(status),
                Err(err) => {
                    eprintln!("error: lost track of {}: {err}", program.to_string_lossy());
                    1
                }
            },
            signal = signals.next() => signals.forward(signal, child.id()),
        }
    }
}

/// The code a shell would report for `status`.
fn exit_code(status: std::process::ExitStatus) -> i32 {
    #[cfg(unix)]
    if let Some(signal) = std::os::unix::process::ExitStatusExt::signal(&status) {
        return 128 + signal;
    }
    status.code().unwrap_or(1)
}

/// The signals coffer handles while the child runs, so that they do not end coffer before it
/// deleted the file.
#[cfg(unix)]
struct Signals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl Signals {
    fn install() -> Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        let install = |kind| {
            signal(kind).map_err(|e| CliError::Other(anyhow::anyhow!("cannot handle signals: {e}")))
        };
        Ok(Signals {
            int: install(SignalKind::interrupt())?,
            term: install(SignalKind::terminate())?,
            hup: install(SignalKind::hangup())?,
        })
    }

    /// The next signal received.
    async fn next(&mut self) -> Option<rustix::process::Signal> {
        use rustix::process::Signal;
        tokio::select! {
            _ = self.int.recv() => None,
            _ = self.term.recv() => Some(Signal::TERM),
            _ = self.hup.recv() => Some(Signal::HUP),
        }
    }

    /// Passes SIGTERM and SIGHUP on to the child. SIGINT (`None`) is not: Ctrl-C on a terminal
    /// reaches the child directly, and a second one could make it quit without cleaning up.
    fn forward(&self, signal: Option<rustix::process::Signal>, child: Option<u32>) {
        let (Some(signal), Some(pid)) = (signal, child) else {
            return;
        };
        let pid = i32::try_from(pid)
            .ok()
            .and_then(rustix::process::Pid::from_raw);
        if let Some(pid) = pid {
            let _ = rustix::process::kill_process(pid, signal);
        }
    }
}

/// Ctrl-C, which coffer sits out while the child runs (the console sends it to the child too).
#[cfg(not(unix))]
struct Signals;

#[cfg(not(unix))]
impl Signals {
    fn install() -> Result<Signals> {
        Ok(Signals)
    }

    async fn next(&mut self) {
        let _ = tokio::signal::ctrl_c().await;
    }

    fn forward(&self, _: (), _: Option<u32>) {}
}
