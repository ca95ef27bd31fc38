//! The web UI's endpoints: sign-in and the session it opens, setting a password, the search box
//! and the audit page's filters. Passwords travel only in request bodies, whose `Debug` hides them.

use crate::{AuditEvent, Role};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

/// `POST /api/v1/session`: sign in to one org with a user name and password (the operator: with
/// an empty org).
#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignInRequest {
    /// Org slug, e.g. `default`; empty for the operator.
    #[serde(default)]
    pub org: String,
    /// User name.
    pub user: String,
    /// Password (set when accepting an invitation, or with `coffer passwd`).
    pub password: String,
}

impl std::fmt::Debug for SignInRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignInRequest")
            .field("org", &self.org)
            .field("user", &self.user)
            .field("password", &"[REDACTED]")
            .finish()
    }
}

/// The signed-in session (answer to sign-in and to `GET /api/v1/session`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SessionInfo {
    /// User name.
    pub user: String,
    /// Org slug the session acts in (none for the operator).
    pub org: Option<String>,
    /// The user's role there (none for the operator).
    pub role: Option<Role>,
    /// Whether the user is the deployment's operator.
    pub operator: bool,
    /// Send this as `X-CSRF-Token` on every request that changes something.
    pub csrf_token: String,
    /// When the session ends.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// `PUT /api/v1/me/password`: change one's own password (and sign out everywhere).
#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPasswordRequest {
    /// The new password (at least 12 characters).
    pub password: String,
    /// The current password; required when one is set.
    #[serde(default)]
    pub current_password: Option<String>,
}

impl std::fmt::Debug for SetPasswordRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SetPasswordRequest { password: [REDACTED], current_password: [REDACTED] }")
    }
}

/// One issue or project that matched a search.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SearchHit {
    /// Issue key (`OPS-123`) or project key (`OPS`).
    pub scope: String,
    /// Its secrets whose names (or whose scope) matched.
    pub names: Vec<String>,
}

/// `GET /api/v1/orgs/{org}/search?q=…`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SearchResults {
    /// Matching issues and projects, by key.
    pub hits: Vec<SearchHit>,
}

/// `GET /api/v1/orgs/{org}/audit/search?…`: filtered events, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditSearchResults {
    /// Matching events, newest first.
    pub events: Vec<AuditEvent>,
    /// True when the scan stopped at its cap before the start of the chain.
    pub truncated: bool,
}
