//! Single sign-on through an org's OpenID provider (docs/sso.md): its settings, linking one's own
//! account, and the token exchange at the end of `coffer login`.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

/// `GET|PUT /api/v1/orgs/{org}/sso`: the org's provider (the client secret is never shown).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SsoSettings {
    /// The provider's issuer URL.
    pub issuer: String,
    /// Coffer's client id at the provider.
    pub client_id: String,
    /// Whether a client secret is stored (sealed under the org key).
    pub client_secret_set: bool,
    /// The ID-token claim whose names set the person's groups; absent: groups are not synced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups_claim: Option<String>,
    /// Whether a first sign-in by an unlinked provider account creates a person (a member).
    pub create_people: bool,
    /// Whether the org's people must sign in through the provider (passwords refused).
    pub require_sso: bool,
    /// The redirect URI to register at the provider.
    pub redirect_uri: String,
    /// Who changed the settings last.
    pub updated_by: String,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// `PUT /api/v1/orgs/{org}/sso`: set up or change the org's provider (owners). The issuer's
/// discovery document is fetched and checked before anything is stored.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetSsoRequest {
    /// The provider's issuer URL, exactly as its discovery document names it (https).
    pub issuer: String,
    /// Coffer's client id at the provider.
    pub client_id: String,
    /// The client secret: absent keeps the stored one, empty makes Coffer a public client
    /// (PKCE only). Never shown again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// The ID-token claim that lists the person's groups (e.g. `groups`); absent: no sync.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups_claim: Option<String>,
    /// Create a person (a member) on the first sign-in of an unlinked provider account.
    #[serde(default)]
    pub create_people: bool,
    /// Refuse passwords for the org's people (the operator keeps a break-glass path).
    #[serde(default)]
    pub require_sso: bool,
}

impl std::fmt::Debug for SetSsoRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SetSsoRequest")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "[REDACTED]"),
            )
            .field("groups_claim", &self.groups_claim)
            .field("create_people", &self.create_people)
            .field("require_sso", &self.require_sso)
            .finish()
    }
}

/// `POST /api/v1/orgs/{org}/sso/link`: where to confirm the link at the provider.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SsoLinkStarted {
    /// Open this URL in the browser (same browser session) within ten minutes.
    pub url: String,
}

/// `POST /api/v1/sso/token`: the end of `coffer login`.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CliTokenRequest {
    /// The one-time code Coffer sent to the CLI's loopback port.
    pub code: String,
    /// The verifier whose SHA-256 the CLI sent when it started.
    pub verifier: String,
}

impl std::fmt::Debug for CliTokenRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CliTokenRequest([REDACTED])")
    }
}

/// The answer to [`CliTokenRequest`]: a personal token in the org, shown once.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct CliToken {
    /// The token.
    pub token: String,
    /// Its id (to revoke it: `coffer logout`).
    pub token_id: uuid::Uuid,
    /// The org it acts in.
    pub org: String,
    /// Whose it is.
    pub user: String,
    /// When it stops working.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

impl std::fmt::Debug for CliToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CliToken")
            .field("token", &"[REDACTED]")
            .field("token_id", &self.token_id)
            .field("org", &self.org)
            .field("user", &self.user)
            .finish()
    }
}
