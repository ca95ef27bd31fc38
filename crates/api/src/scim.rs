//! An org's SCIM tokens (docs/scim.md): the credential its identity provider presents at
//! `/scim/v2` to provision the org's people and groups. The SCIM protocol itself (RFC 7644) is
//! not part of this API; only managing the tokens is.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

/// `POST /api/v1/orgs/{org}/scim/tokens` (owners).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateScimTokenRequest {
    /// Label, e.g. `okta`: 1–100 printable characters.
    pub name: String,
}

/// One SCIM token (metadata only).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ScimTokenInfo {
    /// Token id (used to revoke it).
    pub id: Uuid,
    /// Label.
    pub name: String,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Who created it.
    pub created_by: String,
    /// Revocation time, if revoked.
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
}

/// Answer to creating a SCIM token: the only time its value is ever shown.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct CreatedScimToken {
    /// Token id.
    pub id: Uuid,
    /// Label.
    pub name: String,
    /// The bearer token for `/scim/v2` (`coffer_scim_…`). Store it in the identity provider
    /// now: Coffer keeps only its SHA-256.
    pub token: String,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl std::fmt::Debug for CreatedScimToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedScimToken")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("token", &"[REDACTED]")
            .field("created_at", &self.created_at)
            .finish()
    }
}

/// `GET /api/v1/orgs/{org}/scim/tokens` (admins and owners), newest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ScimTokenList {
    /// The org's SCIM tokens.
    pub tokens: Vec<ScimTokenInfo>,
}
