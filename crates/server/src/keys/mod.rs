//! The keys seam: who holds the root of the key hierarchy.
//!
//! ```text
//! root key (KeyProvider)  local: master key file | aws-kms: the org's own KMS keys (BYOK)
//!   wraps  org key        32 random bytes per org and version; stored only wrapped
//!   wraps  data key       fresh per secret version (coffer-envelope), generated locally
//! ```
//!
//! A [`KeyProvider`] only wraps and unwraps org keys, so it is called once per org-key version on
//! write (rotation, creation) and at most once per org per cache TTL on read: the [`Keyring`]
//! keeps unwrapped org keys in memory for `key_cache_ttl` with single-flight loading, which is
//! what keeps KMS off the hot path (0 provider calls per secret write). Which provider holds an
//! org's root key is per org (the deployment's for `local` orgs, the org's own KMS keys for BYOK
//! orgs): the keyring asks a [`ProviderRouter`] on cache misses only.

mod aws_kms;
mod keyring;
mod local;

pub use aws_kms::{
    AwsKmsProvider, ByokSettings, KeyHealth, KeyState, KmsCall, KmsObserver, key_region,
};
pub use keyring::{Keyring, KeyringError, ProviderRouter};
pub use local::LocalKeyProvider;

use crate::domain::OrgId;
use async_trait::async_trait;
use coffer_envelope::OrgKey;
use std::path::Path;
use std::sync::Arc;

/// What a wrap is bound to. Providers must bind all of it (AAD for local keys, the KMS
/// encryption context for `aws-kms`), so a wrapped key moved to another org or version fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyContext {
    /// The org the key belongs to.
    pub org: OrgId,
    /// The org-key version.
    pub key_version: u32,
}

impl KeyContext {
    /// Canonical bytes of the context, for AAD.
    pub fn aad(&self) -> Vec<u8> {
        let mut aad = b"coffer/v1/org-key".to_vec();
        aad.extend_from_slice(&self.org.to_bytes());
        aad.extend_from_slice(&self.key_version.to_be_bytes());
        aad
    }
}

/// One wrapped copy of an org key. BYOK keeps one per region so either region can unwrap.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrgKeyWrap {
    /// Provider that made it (`local`, `aws-kms`).
    pub provider: String,
    /// Which root key wrapped it (`master` for local; the key ARN for KMS).
    pub key_ref: String,
    /// The wrapped bytes (opaque to everyone but the provider).
    pub bytes: Vec<u8>,
}

/// Why a provider could not wrap or unwrap, by meaning.
#[derive(Clone, Debug, thiserror::Error)]
pub enum KeyError {
    /// The root key refused us for good: access denied, disabled, pending deletion, not found.
    /// The org must be suspended until access is restored.
    #[error("key {key_ref} refused access: {reason}")]
    Denied {
        /// Which root key.
        key_ref: String,
        /// What the provider said.
        reason: String,
    },
    /// A transient failure (timeout, throttling, 5xx). Retry later; never suspend for this.
    #[error("key provider unavailable: {0}")]
    Unavailable(String),
    /// The wrapped key did not authenticate: corrupted, or bound to another org or version.
    #[error("wrapped org key failed its integrity check")]
    Integrity,
    /// No wrap this provider can use.
    #[error("no usable wrapped copy of the org key: {0}")]
    NoUsableWrap(String),
}

/// Holds root keys and wraps org keys with them.
///
/// Contract:
/// - `wrap` returns at least one [`OrgKeyWrap`]; each must unwrap to the same key under the same
///   [`KeyContext`] and fail under any other context.
/// - `unwrap` tries the wraps it can use in order and returns the first success. It returns
///   [`KeyError::Denied`] only when the failure is permanent until an admin acts (so the caller
///   may suspend the org), and [`KeyError::Unavailable`] for anything retryable.
/// - Neither ever logs or returns key material in errors.
#[async_trait]
pub trait KeyProvider: Send + Sync + 'static {
    /// Provider name, e.g. `local`.
    fn name(&self) -> &'static str;
    /// Wraps `key` for `ctx`.
    async fn wrap(&self, ctx: KeyContext, key: &OrgKey) -> Result<Vec<OrgKeyWrap>, KeyError>;
    /// Recovers the org key from its wraps.
    async fn unwrap(&self, ctx: KeyContext, wraps: &[OrgKeyWrap]) -> Result<OrgKey, KeyError>;
}

/// The deployment's default key provider: `[keys] provider = "local"` in `coffer.toml`.
#[derive(Clone, Debug, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProviderSettings {
    /// A 32-byte master key in a file (mode 0600, created on first start): `DATA_DIR/master.key`
    /// unless `keys.master_key_file` names another, which every node of a deployment shares.
    #[default]
    Local,
}

/// Why the provider could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenKeyError {
    /// The master key file is readable or writable by group or others.
    #[error(
        "{path} is accessible by group or others (mode {mode:o}); run `chmod 600 {path}` and start again"
    )]
    LoosePermissions {
        /// The file.
        path: String,
        /// Its mode bits.
        mode: u32,
    },
    /// The master key file is not a Coffer master key.
    #[error("{path} is not a Coffer master key file ({reason}); restore it from backup")]
    Malformed {
        /// The file.
        path: String,
        /// What was wrong.
        reason: &'static str,
    },
    /// Reading or creating the file failed.
    #[error("cannot use master key {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
}

/// Builds the configured provider. `master_key` is the `local` provider's key file
/// ([`crate::config::Config::master_key_path`]).
pub fn open_key_provider(
    settings: &ProviderSettings,
    master_key: &Path,
) -> Result<Arc<dyn KeyProvider>, OpenKeyError> {
    match settings {
        ProviderSettings::Local => Ok(Arc::new(LocalKeyProvider::open(master_key)?)),
    }
}
