//! Secrets attached to issue keys (`OPS-123`) or project keys (`OPS`), and their versions.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

/// What a secret holds; decides how clients show it and how `coffer run` exports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SecretKind {
    /// A single-line text value.
    Password,
    /// Free text.
    Note,
    /// A JSON object of string keys to string values.
    Kv,
    /// Arbitrary bytes.
    File,
}

text_enum!(SecretKind {
    Password => "password",
    Note => "note",
    Kv => "kv",
    File => "file",
});

/// Lifecycle state of a secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SecretState {
    /// Readable.
    Active,
    /// Soft-deleted: restorable, not revealable.
    Deleted,
}

/// `PUT /api/v1/orgs/{org}/secrets/{scope}/{name}`: write a new version.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutSecretRequest {
    /// The value, base64 (standard alphabet, padded).
    pub value: String,
    /// Kind; defaults to the existing secret's kind, or `password` for a new one.
    #[serde(default)]
    pub kind: Option<SecretKind>,
    /// Check-and-set: the version the caller believes is current (0 = must not exist yet).
    #[serde(default, deserialize_with = "crate::whole::opt_u32")]
    pub expect_version: Option<u32>,
    /// After this time the secret is unavailable.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    /// How many reveals are allowed in total (counted across versions).
    #[serde(default, deserialize_with = "crate::whole::opt_u32")]
    pub view_limit: Option<u32>,
    /// Create the secret restricted to its shares (you get `manage` on it); an existing
    /// secret's restriction changes only through `PUT …/restricted`, so here it must match.
    #[serde(default)]
    pub restricted: Option<bool>,
}

impl std::fmt::Debug for PutSecretRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PutSecretRequest")
            .field("value", &"[REDACTED]")
            .field("kind", &self.kind)
            .field("expect_version", &self.expect_version)
            .field("expires_at", &self.expires_at)
            .field("view_limit", &self.view_limit)
            .field("restricted", &self.restricted)
            .finish()
    }
}

/// A secret's metadata. Never contains its value.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Secret {
    /// Id.
    pub id: Uuid,
    /// Issue key (`OPS-123`) or project key (`OPS`) it is attached to.
    pub scope: String,
    /// Name, unique within the scope.
    pub name: String,
    /// Kind.
    pub kind: SecretKind,
    /// Current version number.
    pub version: u32,
    /// Active or deleted.
    pub state: SecretState,
    /// Who created it.
    pub created_by: String,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Who wrote the current version.
    pub updated_by: String,
    /// When the current version was written.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// Expiry, if any.
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    /// Total reveals allowed, if limited.
    pub view_limit: Option<u32>,
    /// Reveals so far.
    pub views: u32,
    /// Why it cannot be revealed right now (deleted, expired, view limit reached), if so.
    pub unavailable: Option<String>,
    /// Whether only its shares give access to it (not grants, not roles).
    #[serde(default)]
    pub restricted: bool,
}

/// `GET /api/v1/orgs/{org}/secrets`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SecretList {
    /// Matching secrets, ordered by scope then name.
    pub secrets: Vec<Secret>,
    /// The deployment's expiry reminder window in days (`webhooks.expiry_reminder_days`): the web
    /// UI warns about secrets that expire within it.
    #[serde(default)]
    pub expiry_warning_days: u32,
}

/// `POST …/reveal`: the value of one version.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct RevealedSecret {
    /// Metadata after this reveal was counted.
    pub secret: Secret,
    /// The version revealed.
    pub version: u32,
    /// The value, base64.
    pub value: String,
}

impl std::fmt::Debug for RevealedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RevealedSecret")
            .field("secret", &self.secret)
            .field("version", &self.version)
            .field("value", &"[REDACTED]")
            .finish()
    }
}

/// One immutable version in a secret's history.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SecretVersion {
    /// Version number, from 1.
    pub version: u32,
    /// Who wrote it.
    pub created_by: String,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Org-key version its data key is wrapped under.
    pub key_version: u32,
    /// Plaintext size in bytes.
    pub size: u64,
}

/// `GET …/versions`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SecretHistory {
    /// The secret.
    pub secret: Secret,
    /// Versions, newest first.
    pub versions: Vec<SecretVersion>,
}
