//! Configuration: `coffer.toml` plus environment overrides named `COFFER_<SECTION>__<KEY>`
//! (e.g. `COFFER_KEYS__KEY_CACHE_TTL=60s`), then command-line flags. Every key is documented in
//! `docs/configuration.md`. The loaded [`Config`] is passed down explicitly; there is no global.

use crate::blob::BlobSettings;
use crate::catalog::CatalogSettings;
use crate::keys::ProviderSettings;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;

mod byok;
mod jira;
mod server;
mod storage;
mod webhooks;

pub use crate::domain::{Locations, default_locations};
pub use byok::ByokConfig;
pub use jira::{ForgeConfig, JiraConfig};
pub use server::{AuditConfig, MetricsToken, ProxyRange, ServerConfig, TlsConfig};
pub use storage::StorageConfig;
pub use webhooks::WebhooksConfig;

/// Everything `coffer serve` needs.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address to listen on.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// Directory for the catalog, blobs, master key and admin token.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// Size caps.
    #[serde(default)]
    pub limits: Limits,
    /// Key hierarchy settings.
    #[serde(default)]
    pub keys: KeysConfig,
    /// Blob store.
    #[serde(default)]
    pub blobs: BlobSettings,
    /// Catalog.
    #[serde(default)]
    pub catalog: CatalogSettings,
    /// Orphan sweeper.
    #[serde(default)]
    pub sweeper: SweeperConfig,
    /// Data-residency locations and their AWS regions (`eu`, `us`, and any the operator adds).
    #[serde(default = "default_locations")]
    pub locations: Locations,
    /// BYOK: Coffer's AWS principal and how it reaches AWS.
    #[serde(default)]
    pub byok: ByokConfig,
    /// Per-org buckets: how Coffer reaches them, and migrations between stores.
    #[serde(default)]
    pub storage: StorageConfig,
    /// The HTTP server: trusted proxies, the `/metrics` token, connection timeouts.
    #[serde(default)]
    pub server: ServerConfig,
    /// Audit checkpoints and failure summaries.
    #[serde(default)]
    pub audit: AuditConfig,
    /// Single sign-on (each org's provider is the org's own setting; docs/sso.md).
    #[serde(default)]
    pub sso: SsoConfig,
    /// Org webhooks and expiry reminders (docs/webhooks.md).
    #[serde(default)]
    pub webhooks: WebhooksConfig,
    /// How this deployment talks to the Jira sites orgs link (docs/jira.md).
    #[serde(default)]
    pub jira: JiraConfig,
}

/// `[sso]`: what the deployment allows of the OpenID providers orgs set up.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SsoConfig {
    /// Admit providers on this machine over plain http (`http://127.0.0.1:…`, `localhost`): for
    /// tests and local development only. Off, issuers must be https and not loopback.
    #[serde(default)]
    pub allow_loopback_issuers: bool,
}

/// Size caps, enforced before any work.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Largest secret value in bytes (default 1 MiB).
    #[serde(default = "default_max_secret")]
    pub max_secret_bytes: usize,
    /// Memory for envelopes kept in RAM so warm reveals skip the blob store (default 32 MiB;
    /// 0 turns the cache off). Ciphertext only; see `service::envelope_cache`.
    #[serde(default = "default_envelope_cache")]
    pub envelope_cache_bytes: u64,
}

/// Key settings.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KeysConfig {
    /// The root-key provider.
    #[serde(default)]
    pub provider: ProviderSettings,
    /// The `local` provider's master key file (default `DATA_DIR/master.key`; relative paths
    /// resolve against the data directory). Every node of a deployment must use the same key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub master_key_file: Option<PathBuf>,
    /// Whether `coffer backup` archives carry the master key file. Off by default: the archive
    /// is taken with the operator's token, and the operator must not be able to read secrets;
    /// whoever restores brings the key file from the host (`coffer restore --master-key`).
    #[serde(default)]
    pub master_key_in_backups: bool,
    /// How long an unwrapped org key stays in memory.
    #[serde(default = "default_ttl", with = "humantime_serde")]
    pub key_cache_ttl: Duration,
    /// Data keys one org-key version may wrap before Coffer rotates it (must stay below 2^32).
    #[serde(default = "default_max_encryptions")]
    pub max_encryptions_per_key: u64,
    /// How often BYOK orgs' keys are health-checked (0s: never).
    #[serde(default = "default_probe_interval", with = "humantime_serde")]
    pub probe_interval: Duration,
}

/// Orphan-blob sweeper settings.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SweeperConfig {
    /// How often it runs (0s disables it).
    #[serde(default = "default_sweep_interval", with = "humantime_serde")]
    pub interval: Duration,
    /// How old an unreferenced blob must be before it is removed (covers in-flight writes).
    #[serde(default = "default_sweep_grace", with = "humantime_serde")]
    pub grace: Duration,
}

fn default_listen() -> String {
    "127.0.0.1:8420".into()
}
fn default_data_dir() -> PathBuf {
    "coffer-data".into()
}
fn default_max_secret() -> usize {
    1 << 20
}
fn default_envelope_cache() -> u64 {
    32 << 20
}
fn default_ttl() -> Duration {
    Duration::from_secs(60)
}
fn default_probe_interval() -> Duration {
    Duration::from_secs(30)
}
/// 2^32 minus headroom for writes already in flight when the limit is reached.
fn default_max_encryptions() -> u64 {
    (1 << 32) - (1 << 20)
}
fn default_sweep_interval() -> Duration {
    Duration::from_secs(3600)
}
fn default_sweep_grace() -> Duration {
    Duration::from_secs(3600)
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_secret_bytes: default_max_secret(),
            envelope_cache_bytes: default_envelope_cache(),
        }
    }
}
impl Default for KeysConfig {
    fn default() -> Self {
        Self {
            provider: ProviderSettings::default(),
            master_key_file: None,
            master_key_in_backups: false,
            key_cache_ttl: default_ttl(),
            max_encryptions_per_key: default_max_encryptions(),
            probe_interval: default_probe_interval(),
        }
    }
}
impl Default for SweeperConfig {
    fn default() -> Self {
        Self {
            interval: default_sweep_interval(),
            grace: default_sweep_grace(),
        }
    }
}
impl Default for Config {
    fn default() -> Self {
        Self {
            listen: default_listen(),
            data_dir: default_data_dir(),
            limits: Limits::default(),
            keys: KeysConfig::default(),
            blobs: BlobSettings::default(),
            catalog: CatalogSettings::default(),
            sweeper: SweeperConfig::default(),
            locations: default_locations(),
            byok: ByokConfig::default(),
            storage: StorageConfig::default(),
            server: ServerConfig::default(),
            audit: AuditConfig::default(),
            sso: SsoConfig::default(),
            webhooks: WebhooksConfig::default(),
            jira: JiraConfig::default(),
        }
    }
}

/// The built-in defaults as figment's bottom layer, minus the tagged backend tables: under a
/// file's `kind = "s3"` / `"postgres"` the default backend's keys (`path`, `readers`) would
/// remain and be refused as unknown; serde's defaults apply when the file leaves them out.
fn defaults() -> figment::value::Value {
    let mut value =
        figment::value::Value::serialize(Config::default()).expect("the default config serializes");
    if let figment::value::Value::Dict(_, dict) = &mut value {
        dict.remove("blobs");
        dict.remove("catalog");
    }
    value
}

/// Command-line flags that override the file and environment.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    /// `--data-dir`.
    pub data_dir: Option<PathBuf>,
    /// `--listen`.
    pub listen: Option<String>,
}

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A value is missing, unknown or of the wrong type.
    #[error("invalid configuration: {0} (see docs/configuration.md)")]
    Invalid(String),
    /// A value is out of range.
    #[error("invalid configuration: {0}")]
    OutOfRange(String),
}

impl Config {
    /// Defaults, then `file` (if given), then `COFFER_*` environment variables, then `overrides`.
    pub fn load(file: Option<&Path>, overrides: Overrides) -> Result<Config, ConfigError> {
        let mut fig = Figment::from(Serialized::defaults(defaults()));
        if let Some(file) = file {
            if !file.exists() {
                return Err(ConfigError::Invalid(format!(
                    "config file {} does not exist",
                    file.display()
                )));
            }
            fig = fig.merge(Toml::file(file));
        }
        // Only config keys: `COFFER_LISTEN`, `COFFER_DATA_DIR` and `COFFER_<SECTION>__<KEY>`.
        // The CLI's own variables (COFFER_ADDR, COFFER_TOKEN, COFFER_ORG) are not config.
        let is_config = |k: &figment::value::UncasedStr| {
            let k = k.as_str().to_ascii_lowercase();
            k == "listen" || k == "data_dir" || k.contains("__")
        };
        fig = fig.merge(Env::prefixed("COFFER_").filter(is_config).split("__"));
        if let Some(d) = overrides.data_dir {
            fig = fig.merge(Serialized::default("data_dir", d));
        }
        if let Some(l) = overrides.listen {
            fig = fig.merge(Serialized::default("listen", l));
        }
        let config: Config = fig
            .extract()
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<(), ConfigError> {
        if self.keys.max_encryptions_per_key < 2 || self.keys.max_encryptions_per_key >= 1 << 32 {
            return Err(ConfigError::OutOfRange(
                "keys.max_encryptions_per_key must be between 2 (each version wraps two data keys: its value's and its manifest's) and 2^32 - 1".into(),
            ));
        }
        if self.limits.max_secret_bytes == 0 || self.limits.max_secret_bytes > 64 << 20 {
            return Err(ConfigError::OutOfRange(
                "limits.max_secret_bytes must be between 1 and 64 MiB".into(),
            ));
        }
        if self.limits.envelope_cache_bytes > 64 << 30 {
            return Err(ConfigError::OutOfRange(
                "limits.envelope_cache_bytes must be at most 64 GiB (0 turns the cache off)".into(),
            ));
        }
        if self.storage.presign_ttl < Duration::from_secs(10)
            || self.storage.presign_ttl > Duration::from_secs(3600)
        {
            return Err(ConfigError::OutOfRange(
                "storage.presign_ttl must be between 10s and 1h".into(),
            ));
        }
        let probe = self.storage.probe_interval;
        if !probe.is_zero() && probe < Duration::from_millis(100) {
            return Err(ConfigError::OutOfRange(
                "storage.probe_interval must be 0s (off) or at least 100ms".into(),
            ));
        }
        if let Some(origin) = &self.storage.public_origin {
            let ok = url::Url::parse(origin).is_ok_and(|u| {
                matches!(u.scheme(), "http" | "https") && u.path() == "/" && u.query().is_none()
            });
            if !ok {
                return Err(ConfigError::OutOfRange(format!(
                    "storage.public_origin {origin:?} must be an origin like https://coffer.example.com (scheme, host, optional port)"
                )));
            }
        }
        self.server.check().map_err(ConfigError::OutOfRange)?;
        self.audit.check().map_err(ConfigError::OutOfRange)?;
        self.webhooks.check().map_err(ConfigError::OutOfRange)?;
        self.jira.check().map_err(ConfigError::OutOfRange)?;
        byok::check(self)
    }

    /// The origin browsers load Coffer from (`storage.public_origin`, else `http://` + listen,
    /// `https://` when Coffer serves TLS itself).
    pub fn public_origin(&self) -> String {
        match &self.storage.public_origin {
            Some(o) => o.trim_end_matches('/').to_owned(),
            None => format!("{}://{}", self.scheme(), self.listen),
        }
    }

    /// `https` when `[server.tls]` is set, else `http`.
    pub fn scheme(&self) -> &'static str {
        if self.server.tls.enabled() {
            "https"
        } else {
            "http"
        }
    }

    /// `[server.tls]`'s files, relative paths resolved against the data directory; `None` when
    /// Coffer serves plain HTTP.
    pub fn tls_files(&self) -> Option<crate::http::tls::TlsFiles> {
        let tls = &self.server.tls;
        Some(crate::http::tls::TlsFiles {
            cert: self.data_dir.join(tls.cert_file.as_ref()?),
            key: self.data_dir.join(tls.key_file.as_ref()?),
        })
    }

    /// The `local` provider's master key file: `keys.master_key_file`, else
    /// `DATA_DIR/master.key`.
    pub fn master_key_path(&self) -> PathBuf {
        let file = self.keys.master_key_file.as_deref();
        self.data_dir
            .join(file.unwrap_or_else(|| Path::new("master.key")))
    }

    /// The largest request body accepted: a secret value in base64 plus JSON framing.
    pub fn max_body_bytes(&self) -> usize {
        self.limits.max_secret_bytes.div_ceil(3) * 4 + 16 * 1024
    }
}

#[cfg(test)]
mod scale_out_tests;

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail's closure signature, not ours
mod tests {
    use super::*;

    #[test]
    fn file_then_env_then_flags() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("coffer.toml", "listen = \"0.0.0.0:1\"\n[keys]\nkey_cache_ttl = \"5s\"\n[limits]\nmax_secret_bytes = 10\n")?;
            jail.set_env("COFFER_KEYS__KEY_CACHE_TTL", "7s");
            jail.set_env("COFFER_TOKEN", "ignored: the CLI's variable");
            let c = Config::load(
                Some(Path::new("coffer.toml")),
                Overrides {
                    listen: Some("127.0.0.1:9".into()),
                    data_dir: None,
                },
            )
            .unwrap();
            assert_eq!(c.keys.key_cache_ttl, Duration::from_secs(7));
            assert_eq!(c.listen, "127.0.0.1:9");
            assert_eq!(c.limits.max_secret_bytes, 10);
            Ok(())
        });
    }

    #[test]
    fn tls_needs_both_files_resolved_against_the_data_dir() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "coffer.toml",
                "data_dir = \"/var/lib/coffer\"\n[server.tls]\ncert_file = \"tls/cert.pem\"\n",
            )?;
            let err =
                Config::load(Some(Path::new("coffer.toml")), Overrides::default()).unwrap_err();
            assert!(
                err.to_string().contains("server.tls.key_file is not set"),
                "{err}"
            );
            jail.set_env("COFFER_SERVER__TLS__KEY_FILE", "/etc/coffer/key.pem");
            let c = Config::load(Some(Path::new("coffer.toml")), Overrides::default()).unwrap();
            let files = c.tls_files().unwrap();
            assert_eq!(files.cert, Path::new("/var/lib/coffer/tls/cert.pem"));
            assert_eq!(files.key, Path::new("/etc/coffer/key.pem"));
            assert_eq!(c.public_origin(), format!("https://{}", c.listen));
            jail.create_file("coffer.toml", "[server.tls]\nkey_file = \"k.pem\"\n")?;
            jail.clear_env();
            let err =
                Config::load(Some(Path::new("coffer.toml")), Overrides::default()).unwrap_err();
            assert!(
                err.to_string().contains("server.tls.cert_file is not set"),
                "{err}"
            );
            let plain = Config::load(None, Overrides::default()).unwrap();
            assert!(plain.tls_files().is_none());
            assert!(plain.public_origin().starts_with("http://"));
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_and_bad_values_are_named() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("coffer.toml", "[keys]\nkey_cache_tl = \"5s\"\n")?;
            let err =
                Config::load(Some(Path::new("coffer.toml")), Overrides::default()).unwrap_err();
            assert!(err.to_string().contains("key_cache_tl"), "{err}");
            jail.create_file("coffer.toml", "[keys]\nmax_encryptions_per_key = 0\n")?;
            let err =
                Config::load(Some(Path::new("coffer.toml")), Overrides::default()).unwrap_err();
            assert!(err.to_string().contains("max_encryptions_per_key"), "{err}");
            Ok(())
        });
    }
}
