//! `coffer serve`: load the config (`--config`, else `./coffer.toml` if present, plus command-line
//! overrides) and run the server library on a multi-threaded tokio runtime until SIGINT/SIGTERM.
//! Logs go to stderr (filter with `RUST_LOG`, default `info`); stdout carries only the server's
//! bootstrap lines and `coffer: listening on http://ADDR` (`https://` with `[server.tls]`), which
//! scripts and tests wait for. With `[server.tls]`, SIGHUP reloads the certificate.

use crate::cli::ServeArgs;
use crate::error::Result;
use anyhow::Context as _;
use coffer_server::config::{Config, Overrides};
use std::path::{Path, PathBuf};

/// The config file used when `--config` is not given, if it exists in the cwd.
const DEFAULT_CONFIG: &str = "coffer.toml";

/// Runs the server; returns the exit code once it has shut down.
pub fn run(args: ServeArgs) -> Result<i32> {
    init_logging();
    let file: Option<PathBuf> = args.config.or_else(|| {
        Path::new(DEFAULT_CONFIG)
            .is_file()
            .then(|| PathBuf::from(DEFAULT_CONFIG))
    });
    let overrides = Overrides {
        data_dir: args.data_dir,
        listen: args.listen,
    };
    let config = Config::load(file.as_deref(), overrides).map_err(|e| match &file {
        Some(path) => anyhow::anyhow!("invalid configuration ({}): {e}", path.display()),
        None => anyhow::anyhow!("invalid configuration: {e}"),
    })?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("coffer-server")
        .build()
        .context("cannot start the tokio runtime")?;
    runtime
        .block_on(coffer_server::startup::serve(config))
        .context("the server stopped with an error")?;
    Ok(0)
}

fn init_logging() {
    use std::io::IsTerminal as _;
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // `try_init`: the server library may already have installed a subscriber.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}
