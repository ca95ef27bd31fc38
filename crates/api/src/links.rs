//! Sharing with people outside Coffer (docs/links-and-requests.md): one-time links to a copy of a
//! secret that its creator's client sealed under a key kept in the link's URL fragment, and
//! "send me a secret" requests whose value an outsider's browser seals to the request's public
//! key. The `/api/v1/links/…` and `/api/v1/requests/…` endpoints take no credential: what the
//! link's URL fragment holds is the capability (the key a link's open proof is derived from; a
//! request's token, sent in the `X-Coffer-Request-Token` header).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

/// `POST /api/v1/orgs/{org}/secrets/{scope}/{name}/links`: a copy of one version, sealed by the
/// client.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateLinkRequest {
    /// The version copied (default: the current one).
    #[serde(default)]
    pub version: Option<u32>,
    /// The copy: an envelope v1 (base64) binding this org, secret and version with key version
    /// 1, whose data key is wrapped under the link key (32 random bytes the client keeps in the
    /// URL fragment and never sends).
    pub envelope: String,
    /// Lowercase hex SHA-256 of the open proof, HMAC-SHA256(link key, `coffer/v1/link-open`):
    /// openers must present the proof, so the id alone opens nothing.
    pub open_hash: String,
    /// Seconds the link opens: 60 to 2,592,000 (30 days); never past the secret's own expiry.
    pub expires_in_seconds: u64,
    /// How many times it opens: 1 to 100.
    pub max_views: u32,
}

/// `POST /api/v1/links/{id}/open`: the proof that the opener holds the link key.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenLinkRequest {
    /// Lowercase hex HMAC-SHA256(link key, `coffer/v1/link-open`).
    pub proof: String,
}

impl std::fmt::Debug for OpenLinkRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenLinkRequest")
            .field("proof", &"[REDACTED]")
            .finish()
    }
}

/// One link (never its copy).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LinkInfo {
    /// Id: the part of the URL after `/l/`.
    pub id: Uuid,
    /// The secret it copies, `OPS-123/db-password`.
    pub target: String,
    /// The version it copies.
    pub version: u32,
    /// Who made it.
    pub created_by: String,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it stops opening.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// How many times it opens.
    pub max_views: u32,
    /// How many times it was opened.
    pub views: u32,
    /// `active`, `used_up`, `expired` or `revoked`.
    pub state: String,
    /// The page to open it at, without the key: the client appends `#` and the key.
    pub url: String,
}

/// `GET /api/v1/orgs/{org}/links`: the caller's links (every member's, for admins), newest
/// first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LinkList {
    /// The links.
    pub links: Vec<LinkInfo>,
}

/// `GET /api/v1/links/{id}`: what the page shows before the link is opened.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LinkStatus {
    /// `active`, `used_up`, `expired` or `revoked`.
    pub state: String,
    /// When it stops opening.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// Opens left.
    pub views_left: u32,
}

/// `POST /api/v1/links/{id}/open`: the copy, once per view.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct OpenedLink {
    /// The secret, `OPS-123/db-password`.
    pub target: String,
    /// The org id the envelope binds.
    pub org_id: Uuid,
    /// The secret id it binds.
    pub secret_id: Uuid,
    /// The version it binds.
    pub version: u32,
    /// The envelope (base64); opens with the key in the link's fragment.
    pub envelope: String,
    /// Opens left after this one.
    pub views_left: u32,
    /// When it stops opening.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

impl std::fmt::Debug for OpenedLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenedLink")
            .field("target", &self.target)
            .field("version", &self.version)
            .field(
                "envelope",
                &format_args!("<{} base64 chars>", self.envelope.len()),
            )
            .field("views_left", &self.views_left)
            .finish()
    }
}

/// `POST /api/v1/orgs/{org}/secrets/{scope}/{name}/requests`: ask someone outside Coffer for
/// the value.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSecretRequest {
    /// What to send, shown to them (up to 500 characters).
    #[serde(default)]
    pub note: String,
    /// Seconds it accepts a value: 60 to 2,592,000 (30 days).
    pub expires_in_seconds: u64,
}

/// One request.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct SecretRequestInfo {
    /// Id: the part of the URL after `/r/`.
    pub id: Uuid,
    /// Where the value goes, `OPS-123/vendor-api-key`.
    pub target: String,
    /// The note shown to the outsider.
    pub note: String,
    /// Who asked.
    pub created_by: String,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it stops accepting a value.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// `open`, `fulfilled`, `expired` or `revoked`.
    pub state: String,
    /// The version the value became, once fulfilled.
    pub fulfilled_version: Option<u32>,
    /// When it was fulfilled.
    #[serde(with = "time::serde::rfc3339::option")]
    pub fulfilled_at: Option<OffsetDateTime>,
    /// The page the outsider sends the value from, with its token after `#`: only in the answer
    /// that creates the request (Coffer keeps only the token's SHA-256).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

impl std::fmt::Debug for SecretRequestInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretRequestInfo")
            .field("id", &self.id)
            .field("target", &self.target)
            .field("state", &self.state)
            .field("url", &self.url.as_ref().map(|_| "[REDACTED]"))
            .finish_non_exhaustive()
    }
}

/// `GET /api/v1/orgs/{org}/requests`: the caller's requests (every member's, for admins).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SecretRequestList {
    /// The requests.
    pub requests: Vec<SecretRequestInfo>,
}

/// `GET /api/v1/requests/{id}`: what the outsider's page needs to seal a value.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SecretRequestStatus {
    /// `open`, `fulfilled`, `expired` or `revoked`.
    pub state: String,
    /// The asking org's slug.
    pub org: String,
    /// Who asks.
    pub requested_by: String,
    /// Where the value goes, `OPS-123/vendor-api-key`.
    pub target: String,
    /// The requester's note.
    pub note: String,
    /// When it stops accepting a value.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// The request's public key: a P-256 point, SEC1 uncompressed (65 bytes), base64.
    pub public_key: String,
}

/// `POST /api/v1/requests/{id}/fulfil`: the value, sealed to the request's public key.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FulfilSecretRequest {
    /// Request sealing v1 (base64): `0x01` ‖ ephemeral P-256 public key (65) ‖ nonce (12) ‖
    /// AES-256-GCM ciphertext and tag.
    pub sealed: String,
}

impl std::fmt::Debug for FulfilSecretRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FulfilSecretRequest")
            .field(
                "sealed",
                &format_args!("<{} base64 chars>", self.sealed.len()),
            )
            .finish()
    }
}

/// Answer to a fulfilled request.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FulfilledSecretRequest {
    /// Where the value went.
    pub target: String,
    /// The version it became.
    pub version: u32,
}
