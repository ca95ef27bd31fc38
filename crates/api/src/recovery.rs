//! The org recovery kit (`POST /api/v1/orgs/{org}/recovery-kit`, docs/formats.md "Recovery kit"):
//! what an owner takes away so that the org's envelopes can be opened from the bucket alone,
//! without the catalog. For an org on the deployment's master key it holds every org-key version
//! in the clear — the kit *is* the org's keys — so these types wipe the key text on drop and
//! never print it; the CLI encrypts the whole body with age before it touches a disk.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use zeroize::Zeroize as _;

/// The `format` of every kit.
pub const RECOVERY_KIT_FORMAT: &str = "coffer-recovery-kit";
/// The kit version this Coffer writes and reads.
pub const RECOVERY_KIT_VERSION: u32 = 1;

/// `POST /api/v1/orgs/{org}/recovery-kit`: the owner proves who they are again.
#[derive(Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecoveryKitRequest {
    /// The caller's current Coffer password (re-authentication; required).
    #[serde(default)]
    pub current_password: Option<String>,
}

impl Drop for RecoveryKitRequest {
    fn drop(&mut self) {
        if let Some(p) = self.current_password.as_mut() {
            p.zeroize();
        }
    }
}

impl std::fmt::Debug for RecoveryKitRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecoveryKitRequest { current_password: [REDACTED] }")
    }
}

/// The kit: the org, where its envelopes are, and every org-key version.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct RecoveryKit {
    /// Always `coffer-recovery-kit`.
    pub format: String,
    /// Always 1.
    pub version: u32,
    /// The org's id: every envelope of the org carries it (header bytes 6..22).
    pub org_id: uuid::Uuid,
    /// The org's slug when the kit was made.
    pub slug: String,
    /// The org's residency location.
    pub location: String,
    /// When the kit was made.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: time::OffsetDateTime,
    /// Who made it (the owner's name).
    pub created_by: String,
    /// Where the org writes its envelopes.
    pub storage: RecoveryStorage,
    /// Who holds the org's root keys: `local` (the deployment's master key; `org_keys[].key` is
    /// set) or `aws-kms` (BYOK; `org_keys[].wraps` is set).
    pub root_key: crate::KeyProviderKind,
    /// BYOK: the IAM role Coffer assumes to use the org's KMS keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    /// Every org-key version, oldest first.
    pub org_keys: Vec<RecoveryOrgKey>,
}

impl std::fmt::Debug for RecoveryKit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecoveryKit")
            .field("org_id", &self.org_id)
            .field("slug", &self.slug)
            .field("root_key", &self.root_key)
            .field("org_keys", &self.org_keys)
            .finish_non_exhaustive()
    }
}

/// Where the org's new envelopes go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RecoveryStorage {
    /// `default` (the deployment's blob store: `DATA_DIR/blobs` or `blobs.bucket`) or `bucket`
    /// (the org's own).
    pub kind: String,
    /// The org's bucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket: Option<String>,
    /// Its region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Its S3-compatible endpoint, if not AWS's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// The key prefix of every object in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
}

/// One org-key version.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct RecoveryOrgKey {
    /// The org-key version (envelope header bytes 42..46 name it).
    pub version: u32,
    /// Root key `local`: the 32-byte org key, base64 (standard, padded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Root key `aws-kms`: the org key wrapped by each region's KMS key, exactly as stored.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub wraps: Vec<RecoveryKeyWrap>,
}

impl Drop for RecoveryOrgKey {
    fn drop(&mut self) {
        if let Some(k) = self.key.as_mut() {
            k.zeroize();
        }
    }
}

impl std::fmt::Debug for RecoveryOrgKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecoveryOrgKey")
            .field("version", &self.version)
            .field("key", &self.key.as_ref().map(|_| "[REDACTED]"))
            .field("wraps", &self.wraps)
            .finish()
    }
}

/// One KMS-wrapped copy of an org key (BYOK).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RecoveryKeyWrap {
    /// `aws-kms`.
    pub provider: String,
    /// The KMS key's ARN.
    pub key_arn: String,
    /// The key's region.
    pub region: String,
    /// KMS `Encrypt`'s `CiphertextBlob`, base64 (standard, padded); decrypt it with the
    /// encryption context of docs/formats.md "Org keys under AWS KMS".
    pub wrapped: String,
}
