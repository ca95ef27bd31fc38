//! `[storage]`: how Coffer reaches the buckets org admins give it (per-org custom storage), and
//! the knobs of moving envelopes between stores. The deployment's own default store is
//! `[blobs]`; this section is only about the tenants' buckets.

use crate::aws::AwsSettings;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// `[storage]`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    /// Admit tenant endpoints that are not AWS's S3 endpoints (S3-compatible stores, and
    /// loopback in tests). Link-local and metadata addresses are refused even then.
    #[serde(default)]
    pub allow_custom_endpoints: bool,
    /// The origin browsers load Coffer from (`https://coffer.example.com`): the CORS rule in the
    /// generated bucket setup allows it, and saving checks the bucket has such a rule. Default:
    /// `http://` + `listen`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_origin: Option<String>,
    /// How long presigned URLs (browser uploads, envelope downloads) stay valid.
    #[serde(default = "default_presign_ttl", with = "humantime_serde")]
    pub presign_ttl: Duration,
    /// How often each node looks for orgs whose envelopes must move to new storage.
    #[serde(default = "default_migration_interval", with = "humantime_serde")]
    pub migration_interval: Duration,
    /// Envelopes per second one node moves (0: as fast as the stores allow). Bounds the load a
    /// migration puts on a customer's bucket.
    #[serde(default)]
    pub migration_rate: u32,
    /// How Coffer reaches tenant buckets: credentials (default chain), timeouts, retries, and an
    /// `endpoint` standing in for AWS (tests point it at moto). Region and endpoint are each
    /// bucket's own. Never serialized (it may hold keys).
    #[serde(default, skip_serializing)]
    pub aws: AwsSettings,
}

fn default_presign_ttl() -> Duration {
    Duration::from_secs(300)
}

fn default_migration_interval() -> Duration {
    Duration::from_secs(5)
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            allow_custom_endpoints: false,
            public_origin: None,
            presign_ttl: default_presign_ttl(),
            migration_interval: default_migration_interval(),
            migration_rate: 0,
            aws: AwsSettings::default(),
        }
    }
}
