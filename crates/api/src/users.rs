//! Users, their org roles, and API tokens.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

/// A user's role in one org.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads and verifies the audit trail and secret metadata; never values.
    Auditor,
    /// Reads and writes secrets.
    Member,
    /// Member rights plus users, tokens, destroy and org settings.
    Admin,
    /// Admin rights plus managing owners and rotating the org key.
    Owner,
}

/// `POST /api/v1/orgs/{org}/users`: create the user if new and give it a role in the org.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AddUserRequest {
    /// User name, e.g. `bob`.
    pub name: String,
    /// Role in the org.
    pub role: Role,
}

/// A user as seen from one org.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Member {
    /// User id.
    pub id: Uuid,
    /// User name.
    pub name: String,
    /// Role in this org.
    pub role: Role,
    /// Whether the user is the deployment's operator.
    pub operator: bool,
    /// When the user was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// `GET /api/v1/orgs/{org}/users`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MemberList {
    /// Members of the org.
    pub users: Vec<Member>,
}

/// `POST /api/v1/orgs/{org}/tokens`: a new API token for a member, scoped to this org.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CreateTokenRequest {
    /// User name the token acts as; defaults to the caller.
    #[serde(default)]
    pub user: Option<String>,
    /// Label shown in listings, e.g. `ci`.
    #[serde(default)]
    pub name: Option<String>,
    /// Lifetime in seconds; none means it never expires.
    #[serde(default)]
    pub expires_in_seconds: Option<u64>,
}

/// A token's metadata (never its value).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TokenInfo {
    /// Token id (used to revoke it).
    pub id: Uuid,
    /// User it acts as.
    pub user: String,
    /// Org it is scoped to.
    pub org: String,
    /// Label.
    pub name: String,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Expiry, if any.
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    /// Revocation time, if revoked.
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
}

/// Answer to token creation: the only time the token value is ever shown.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct CreatedToken {
    /// Metadata.
    pub info: TokenInfo,
    /// The bearer token. Store it now: Coffer keeps only its SHA-256.
    pub token: String,
}

impl std::fmt::Debug for CreatedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedToken")
            .field("info", &self.info)
            .field("token", &"[REDACTED]")
            .finish()
    }
}

/// `GET /api/v1/orgs/{org}/tokens`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TokenList {
    /// Tokens of the org.
    pub tokens: Vec<TokenInfo>,
}
