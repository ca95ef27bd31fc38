//! Coffer under test: the real application (`RunningApp::start`, the path `coffer serve` takes)
//! on 127.0.0.1:0 with a data directory of its own, started and stopped on the server runtime,
//! plus bulk writes of real secrets through its HTTP API.

use crate::http::Api;
use crate::load::{self, MakeRequest, Stop};
use anyhow::{Context, Result, bail};
use coffer_server::config::{Config, Overrides};
use coffer_server::startup::RunningApp;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::runtime::Handle;

/// The embedded default (SQLite catalog, filesystem blobs, local key provider) in `data_dir`,
/// with the background jobs that write off — the orphan sweeper, audit checkpoints and their
/// bucket copies, bucket drift checks, webhook delivery (which records how far it has read the
/// audit trail) — so no background pass commits during a measurement: one landing in a read
/// scenario's window showed as catalog commits of that scenario.
pub fn config(data_dir: PathBuf) -> Result<Config> {
    let overrides = Overrides {
        data_dir: Some(data_dir),
        listen: Some("127.0.0.1:0".into()),
    };
    let mut config = Config::load(None, overrides)?;
    config.sweeper.interval = Duration::ZERO;
    config.audit.checkpoint_interval = Duration::ZERO;
    config.audit.bucket_copy_interval = Duration::ZERO;
    config.storage.probe_interval = Duration::ZERO;
    config.webhooks.interval = Duration::ZERO;
    Ok(config)
}

/// A running Coffer and the operator token of its org `default`.
pub struct App {
    running: RunningApp,
    /// Where it listens.
    pub addr: SocketAddr,
    /// The operator's bearer token.
    pub token: String,
    server: Handle,
}

impl App {
    /// Starts Coffer on the `server` runtime. `token` is the operator token of an earlier start
    /// on the same data directory (only a fresh one bootstraps and returns a new token).
    pub async fn start(server: &Handle, config: &Config, token: Option<String>) -> Result<App> {
        let config = config.clone();
        let running = server
            .spawn(async move { RunningApp::start(&config).await })
            .await?
            .context("starting coffer")?;
        let token = match (&running.admin_token, token) {
            (Some(fresh), _) => fresh.to_string(),
            (None, Some(earlier)) => earlier,
            (None, None) => {
                bail!("the data directory was not fresh and no operator token was given")
            }
        };
        Ok(App {
            addr: running.addr,
            running,
            token,
            server: server.clone(),
        })
    }

    /// Requests with the operator token.
    pub fn api(&self) -> Result<Api> {
        Api::new(&self.token)
    }

    /// Stops serving (every benchmark connection must be closed first) and waits for it.
    pub async fn stop(self) -> Result<()> {
        self.server.spawn(self.running.stop()).await?;
        Ok(())
    }
}

/// Writes one 1 KiB secret per name under `scope` over `connections` connections; any non-2xx
/// answer is an error.
pub async fn write_secrets(
    addr: SocketAddr,
    api: &Api,
    scope: &str,
    names: Vec<String>,
    connections: usize,
) -> Result<()> {
    let total = names.len() as u64;
    let next = Arc::new(AtomicU64::new(0));
    let (api, scope, names) = (api.clone(), scope.to_owned(), Arc::new(names));
    let make: MakeRequest = Arc::new(move |_, _| {
        let k = next.fetch_add(1, Ordering::Relaxed) as usize;
        api.put(&scope, &names[k])
    });
    let out = load::closed_loop(addr, connections, Stop::Count(total), make).await?;
    if out.errors > 0 || out.ok != total {
        bail!(
            "seeding wrote {} of {total} secrets: {}",
            out.ok,
            out.first_error.unwrap_or_default()
        );
    }
    Ok(())
}
