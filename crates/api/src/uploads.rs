//! Client-side encryption: a client seals the envelope itself and Coffer only checks and files
//! it. `POST …/uploads` hands out a fresh data key (plain and wrapped) and, for orgs with their
//! own bucket, a presigned PUT; the client seals envelope v1 with that key, uploads it, and
//! `POST …/uploads/{id}/commit` makes it the secret's next version once Coffer has verified the
//! header, the wrapped key and the whole envelope.

use crate::SecretKind;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

/// `POST /api/v1/orgs/{org}/secrets/{scope}/{name}/uploads`: start a client-side write.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUploadRequest {
    /// Kind; defaults to the existing secret's kind, or `password`.
    #[serde(default)]
    pub kind: Option<SecretKind>,
    /// Check-and-set: the version the caller believes is current (0 = must not exist yet).
    #[serde(default, deserialize_with = "crate::whole::opt_u32")]
    pub expect_version: Option<u32>,
    /// Expiry of the new version.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    /// View limit.
    #[serde(default, deserialize_with = "crate::whole::opt_u32")]
    pub view_limit: Option<u32>,
    /// Plaintext size in bytes (checked against the limit now, and against the envelope at commit).
    #[serde(deserialize_with = "crate::whole::u64")]
    pub size: u64,
    /// Create the secret restricted to its shares (as in `PutSecretRequest`).
    #[serde(default)]
    pub restricted: Option<bool>,
}

/// The answer: everything needed to seal and upload the envelope.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct UploadGrant {
    /// Upload id, for commit.
    pub id: Uuid,
    /// What the envelope must bind (AAD): org id, secret id, version, key version.
    pub org_id: Uuid,
    /// Secret id (new or existing).
    pub secret_id: Uuid,
    /// The version this upload will become.
    pub version: u32,
    /// The org-key version that wrapped the data key.
    pub key_version: u32,
    /// The data key, base64 (32 bytes). Seal with it, then forget it.
    pub data_key: String,
    /// The wrapped data key, base64: goes into the envelope header as is.
    pub wrapped_key: String,
    /// Where to `PUT` the envelope (`Content-Type: application/octet-stream`): a presigned URL
    /// to the org's bucket, or Coffer's own `…/uploads/{id}/envelope` (with the usual auth).
    pub put_url: String,
    /// Whether `put_url` is presigned (send no Authorization header to it).
    pub presigned: bool,
    /// The grant (and the URL) expire at this time.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

impl std::fmt::Debug for UploadGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UploadGrant")
            .field("id", &self.id)
            .field("secret_id", &self.secret_id)
            .field("version", &self.version)
            .field("key_version", &self.key_version)
            .field("data_key", &"[REDACTED]")
            .field("presigned", &self.presigned)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// `POST …/uploads/{id}/commit`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommitUploadRequest {
    /// SHA-256 of the uploaded envelope, hex: Coffer refuses the commit if the stored object
    /// differs from what the client sealed.
    pub sha256: String,
}

/// `POST …/versions/{n}/envelope-url`: a short-lived presigned GET of one version's envelope
/// (ciphertext only: opening it still needs the org key). Audited; not a reveal.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EnvelopeUrl {
    /// The version.
    pub version: u32,
    /// Presigned GET URL.
    pub url: String,
    /// When it stops working.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}
