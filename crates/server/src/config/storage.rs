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
    /// How often each node checks every org's own bucket for drift (HeadBucket, a probe object's
    /// put/get/compare/delete, the CORS rule) and records it `ok` or `degraded`; `0s`: off on
    /// this node. At least 100 ms otherwise.
    #[serde(default = "default_probe_interval", with = "humantime_serde")]
    pub probe_interval: Duration,
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

fn default_probe_interval() -> Duration {
    Duration::from_secs(60)
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
            probe_interval: default_probe_interval(),
            migration_rate: 0,
            aws: AwsSettings::default(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail's closure signature, not ours
mod probe_interval_tests {
    use crate::config::{Config, Overrides};
    use std::path::Path;
    use std::time::Duration;

    fn load(toml: &str) -> Result<Config, String> {
        let mut out = Err(String::new());
        figment::Jail::expect_with(|jail| {
            jail.create_file("coffer.toml", toml)?;
            out = Config::load(Some(Path::new("coffer.toml")), Overrides::default())
                .map_err(|e| e.to_string());
            Ok(())
        });
        out
    }

    #[test]
    fn the_drift_check_interval_defaults_to_a_minute_and_may_be_off_but_not_a_busy_loop() {
        assert_eq!(
            load("").unwrap().storage.probe_interval,
            Duration::from_secs(60)
        );
        let off = load("[storage]\nprobe_interval = \"0s\"\n").unwrap();
        assert!(off.storage.probe_interval.is_zero());
        let fast = load("[storage]\nprobe_interval = \"250ms\"\n").unwrap();
        assert_eq!(fast.storage.probe_interval, Duration::from_millis(250));
        let err = load("[storage]\nprobe_interval = \"10ms\"\n").unwrap_err();
        assert!(err.contains("storage.probe_interval"), "{err}");
    }
}
