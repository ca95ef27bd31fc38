//! Startup: check the data directory, load the TLS certificate (`[server.tls]`), open each seam
//! from config, bootstrap an empty deployment, bind, serve until SIGINT/SIGTERM (reloading the
//! certificate on SIGHUP). [`RunningApp::start`] is the same path the binary takes, exposed so
//! tests and the benchmark run the real app on port 0.

use crate::blob::{BlobError, HoldingBlobStore, MeteredBlobStore, open_blob_store};
use crate::catalog::{Catalog, CatalogError, open_catalog};
use crate::config::Config;
use crate::http::tls::{Tls, TlsError};
use crate::http::{AppState, router};
use crate::keys::{KeyContext, KeyError, KeyProvider, Keyring, OpenKeyError, open_key_provider};
use crate::metrics::Metrics;
use crate::service::OrgKeyProviders;
use crate::service::forge::ForgeParts;
use crate::service::jira::JiraSettings;
use crate::service::sso::SsoParts;
use crate::service::webhooks::WebhookSettings;
use crate::service::{BackupParts, ByokParts, Coffer, ServiceSettings, StorageSettings};
use std::io::Write;
use std::net::SocketAddr;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::sync::Arc;
use tokio::sync::oneshot;
use zeroize::Zeroizing;

/// Why the server could not start. Each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The data directory is unusable.
    #[error("data directory {path}: {message}")]
    DataDir {
        /// The directory.
        path: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// The key provider could not be opened.
    #[error(transparent)]
    Keys(#[from] OpenKeyError),
    /// The catalog could not be opened. (Not a `source`: the message already carries it, and
    /// `coffer serve` prints the whole chain.)
    #[error("cannot open the catalog: {0}")]
    Catalog(CatalogError),
    /// The blob store could not be opened.
    #[error("cannot open the blob store: {0}")]
    Blobs(BlobError),
    /// Bootstrapping an empty deployment failed.
    #[error("cannot create the default org: {0}")]
    Bootstrap(crate::service::Error),
    /// This node's root key is not the one the catalog's org keys were wrapped with.
    #[error(
        "the master key {path} cannot unwrap the key of org `{org}` in the catalog: every node of a deployment must use the same master key file; copy it from a running node (keys.master_key_file, docs/deployment.md)"
    )]
    ForeignRootKey {
        /// The master key file.
        path: String,
        /// The org whose key it failed to unwrap.
        org: String,
    },
    /// `[server.tls]`'s certificate or key cannot be used.
    #[error("cannot serve HTTPS: {0}")]
    Tls(#[from] TlsError),
    /// The listen address could not be bound.
    #[error(
        "cannot listen on {addr}: {source} (is another coffer running? pick another address with --listen)"
    )]
    Bind {
        /// The address.
        addr: String,
        /// The error.
        source: std::io::Error,
    },
}

impl From<CatalogError> for StartupError {
    fn from(e: CatalogError) -> Self {
        StartupError::Catalog(e)
    }
}

impl From<BlobError> for StartupError {
    fn from(e: BlobError) -> Self {
        StartupError::Blobs(e)
    }
}

fn check_data_dir(dir: &Path) -> Result<(), StartupError> {
    let err = |message: String| StartupError::DataDir {
        path: dir.display().to_string(),
        message,
    };
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| err(format!("cannot create it: {e}")))?;
    }
    let mode = std::fs::metadata(dir)
        .map_err(|e| err(e.to_string()))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(err(format!(
            "it is accessible by group or others (mode {:o}); run `chmod 700 {}` and start again",
            mode & 0o777,
            dir.display()
        )));
    }
    Ok(())
}

/// The file the first owner's token is written to (`admin`, owner of org `default`).
pub const OWNER_TOKEN_FILE: &str = "admin.token";
/// The file the operator's token is written to.
pub const OPERATOR_TOKEN_FILE: &str = "operator.token";

fn write_token_file(dir: &Path, file: &str, token: &str) -> std::io::Result<()> {
    let path = dir.join(file);
    let _ = std::fs::remove_file(&path);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)?;
    f.write_all(token.as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()
}

/// Refuses to serve with a root key that cannot unwrap the org keys already in the catalog —
/// on a deployment of several nodes, a node given its own master key instead of the shared one,
/// which would otherwise fail every read of data other nodes wrote. The first org with a wrap
/// from this provider decides; a provider that is merely unreachable does not block start-up.
async fn check_root_key(
    provider: &dyn KeyProvider,
    catalog: &dyn Catalog,
    key_file: &Path,
) -> Result<(), StartupError> {
    for org in catalog.list_orgs().await? {
        let wraps = catalog.org_key_wraps(org.id, org.key_version).await?;
        if !wraps.iter().any(|w| w.provider == provider.name()) {
            continue;
        }
        let ctx = KeyContext {
            org: org.id,
            key_version: org.key_version,
        };
        return match provider.unwrap(ctx, &wraps).await {
            Err(KeyError::Integrity) => Err(StartupError::ForeignRootKey {
                path: key_file.display().to_string(),
                org: org.slug.to_string(),
            }),
            Err(e) => {
                tracing::warn!(error = %e, "could not check the root key against the catalog");
                Ok(())
            }
            Ok(_) => Ok(()),
        };
    }
    Ok(())
}

/// A running server.
pub struct RunningApp {
    /// The bound address.
    pub addr: SocketAddr,
    /// The token of `admin`, the first owner of org `default`, if this start created it.
    pub admin_token: Option<Zeroizing<String>>,
    /// The operator's token, if this start seated the operator.
    pub operator_token: Option<Zeroizing<String>>,
    state: Arc<AppState>,
    tls: Option<Arc<Tls>>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl RunningApp {
    /// Opens everything from `config`, bootstraps if empty, binds and starts serving.
    pub async fn start(config: &Config) -> Result<Self, StartupError> {
        let dir = &config.data_dir;
        check_data_dir(dir)?;
        // Before anything is opened: a certificate that cannot be served fails start-up at once.
        let tls = config.tls_files().map(Tls::load).transpose()?.map(Arc::new);
        let metrics = Arc::new(Metrics::default());
        let key_file = config.master_key_path();
        let provider = open_key_provider(&config.keys.provider, &key_file)?;
        let catalog = open_catalog(&config.catalog, dir, metrics.clone()).await?;
        let blobs = Arc::new(MeteredBlobStore::new(
            open_blob_store(&config.blobs, dir).await?,
            metrics.clone(),
        ));
        // Deletions wait while `coffer backup` copies envelopes (blob::hold).
        let blobs = Arc::new(HoldingBlobStore::new(blobs));
        // Per-org root keys: the deployment's provider for local orgs, their own KMS keys for
        // BYOK orgs (AWS access only where BYOK is configured).
        let byok_aws = config
            .byok
            .principal_arn
            .as_ref()
            .map(|_| config.byok.aws.clone());
        let providers = Arc::new(OrgKeyProviders::new(
            provider.clone(),
            catalog.clone(),
            byok_aws,
            metrics.clone(),
        ));
        let keyring = Keyring::routed(
            providers.clone(),
            config.keys.key_cache_ttl,
            metrics.clone(),
        );
        let settings = ServiceSettings {
            max_secret_bytes: config.limits.max_secret_bytes,
            max_encryptions_per_key: config.keys.max_encryptions_per_key,
            envelope_cache_bytes: config.limits.envelope_cache_bytes,
        };
        let storage = StorageSettings {
            aws: config.storage.aws.clone(),
            allow_custom_endpoints: config.storage.allow_custom_endpoints,
            public_origin: config.public_origin(),
            presign_ttl: config.storage.presign_ttl,
            principal_arn: config.byok.principal_arn.clone(),
            locations: config.locations.clone(),
            audit_retention: config.audit.bucket_retention,
        };
        let backup = BackupParts {
            data_dir: dir.clone(),
            master_key_file: key_file.clone(),
            include_master_key: config.keys.master_key_in_backups,
            store: blobs.clone(),
        };
        let coffer = Coffer::new(catalog, blobs, keyring, metrics, settings)
            .with_backup(backup)
            .with_byok(ByokParts {
                providers,
                locations: config.locations.clone(),
                principal_arn: config.byok.principal_arn.clone(),
            })
            .with_storage(storage)
            .with_sso(SsoParts::new(
                &config.public_origin(),
                config.sso.allow_loopback_issuers,
            ))
            .with_webhooks(WebhookSettings::from_config(&config.webhooks))
            .with_jira(JiraSettings::from_config(
                &config.jira,
                &config.public_origin(),
            ))
            .with_forge(ForgeParts::new(&config.jira.forge));
        let boot = coffer.bootstrap().await.map_err(StartupError::Bootstrap)?;
        // After bootstrap: a node that lost the bootstrap race checks the winner's org key too.
        check_root_key(provider.as_ref(), coffer.catalog().as_ref(), &key_file).await?;
        for (file, token) in [
            (OWNER_TOKEN_FILE, &boot.owner_token),
            (OPERATOR_TOKEN_FILE, &boot.operator_token),
        ] {
            if let Some(token) = token {
                write_token_file(dir, file, token).map_err(|e| StartupError::DataDir {
                    path: dir.display().to_string(),
                    message: format!("cannot write {file}: {e}"),
                })?;
            }
        }
        let listener = tokio::net::TcpListener::bind(&config.listen)
            .await
            .map_err(|source| StartupError::Bind {
                addr: config.listen.clone(),
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| StartupError::Bind {
            addr: config.listen.clone(),
            source,
        })?;
        let coffer = Arc::new(coffer);
        crate::jobs::start_all(&coffer, config);
        let state = Arc::new(AppState {
            coffer,
            max_body_bytes: config.max_body_bytes(),
            server: config.server.clone(),
            public_origin: config.public_origin(),
            forge_ui_origins: config.jira.forge.ui_origins.clone(),
        });
        let app = router(state.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let header_read_timeout = config.server.header_read_timeout;
        let acceptor = tls.as_ref().map(|t| t.acceptor());
        let task = tokio::spawn(async move {
            let shutdown = async {
                let _ = stopped.await;
            };
            crate::http::serve::serve(listener, app, header_read_timeout, acceptor, shutdown).await;
        });
        Ok(Self {
            addr,
            admin_token: boot.owner_token,
            operator_token: boot.operator_token,
            state,
            tls,
            stop: Some(stop),
            task,
        })
    }

    /// The application (for tests that inspect state directly).
    pub fn coffer(&self) -> &Coffer {
        &self.state.coffer
    }

    /// The server's TLS, when it serves HTTPS itself (`[server.tls]`).
    pub fn tls(&self) -> Option<&Tls> {
        self.tls.as_deref()
    }

    /// Re-reads `[server.tls]`'s files, as SIGHUP does: new connections get the new certificate,
    /// open ones keep theirs; on failure the previous certificate stays (see [`Tls::reload`]).
    /// `None` when the server serves plain HTTP.
    pub fn reload_tls(&self) -> Option<Result<crate::http::tls::CertInfo, TlsError>> {
        self.tls.as_ref().map(|t| t.reload())
    }

    /// Stops accepting connections, finishes in-flight requests, writes the failed
    /// authentications counted since the last summary, and returns.
    pub async fn stop(mut self) {
        self.state.coffer.begin_shutdown();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
        self.state.coffer.flush_failed_auth().await;
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("installing the SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

/// `coffer serve`: starts, says where the tokens it created are, prints the address, serves
/// until SIGINT or SIGTERM. With `[server.tls]`, SIGHUP reloads the certificate and key (without
/// TLS, SIGHUP keeps its default effect of ending the process).
///
/// A token itself is printed only when standard output is a terminal: under a service manager
/// stdout goes to a log, and a token in a log is a leaked token. The files (mode 0600 in the data
/// directory) always hold them.
pub async fn serve(config: Config) -> Result<(), StartupError> {
    use std::io::IsTerminal;
    let app = RunningApp::start(&config).await?;
    let on_terminal = std::io::stdout().is_terminal();
    let created = [
        (
            &app.admin_token,
            OWNER_TOKEN_FILE,
            "created org `default` (location local) with its first owner `admin`; admin's token",
        ),
        (
            &app.operator_token,
            OPERATOR_TOKEN_FILE,
            "seated the deployment's operator (creates orgs, seats owners, resets credentials; never reads secrets); its token",
        ),
    ];
    for (token, file, what) in created {
        let Some(token) = token else { continue };
        let path = config.data_dir.join(file);
        if on_terminal {
            println!(
                "coffer: {what} (shown once; also in {}): {}",
                path.display(),
                token.as_str()
            );
        } else {
            println!("coffer: {what} is in {} (mode 0600)", path.display());
        }
    }
    // Installed before the address is printed: whoever waits for that line may send SIGHUP.
    let hangup = app.tls.clone().map(|tls| {
        use tokio::signal::unix::{SignalKind, signal};
        let signals = signal(SignalKind::hangup()).expect("installing the SIGHUP handler");
        (tls, signals)
    });
    println!("coffer: listening on {}://{}", config.scheme(), app.addr);
    let shutdown = shutdown_signal();
    match hangup {
        None => shutdown.await,
        Some((tls, mut hangup)) => {
            let mut shutdown = std::pin::pin!(shutdown);
            loop {
                tokio::select! {
                    () = &mut shutdown => break,
                    _ = hangup.recv() => {
                        tracing::info!("SIGHUP: reloading the TLS certificate");
                        // Logged either way; a failure keeps the certificate in use.
                        let _ = tls.reload();
                    }
                }
            }
        }
    }
    tracing::info!("shutting down");
    app.stop().await;
    Ok(())
}
