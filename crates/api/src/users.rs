//! Users, their org roles, and API tokens.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

/// A user's role in one org.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads and verifies the audit trail and the metadata of every unrestricted secret; reveals
    /// only what grants and shares give.
    Auditor,
    /// Sees, reveals and writes only the secrets its grants and shares give (docs/access.md).
    Member,
    /// Every unrestricted secret, plus users, groups, grants, tokens, destroy and org settings.
    Admin,
    /// Admin rights plus managing owners and rotating the org key.
    Owner,
}

text_enum!(Role {
    Auditor => "auditor",
    Member => "member",
    Admin => "admin",
    Owner => "owner",
});

/// What kind of identity: a person (one across the deployment), a service account (of one
/// org), or the deployment's operator (never a member of any org).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum IdentityKind {
    /// A human.
    Person,
    /// A non-human identity of one org; its tokens are minted by the org's admins.
    Service,
    /// The deployment's operator.
    Operator,
}

/// `POST /api/v1/orgs/{org}/users` (operator only): add an existing person without an
/// invitation.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddUserRequest {
    /// User name, e.g. `bob`.
    pub name: String,
    /// Role in the org.
    pub role: Role,
}

/// `PUT /api/v1/orgs/{org}/users/{name}` and `…/service-accounts/{name}`: change a member's role.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetRoleRequest {
    /// The new role (never above the caller's own).
    pub role: Role,
}

/// A member of one org: a person or one of the org's service accounts.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Member {
    /// User id.
    pub id: Uuid,
    /// User name (a service account's is unique within its org).
    pub name: String,
    /// Person or service account.
    pub kind: IdentityKind,
    /// Role in this org.
    pub role: Role,
    /// When the identity was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// `POST /api/v1/orgs/{org}/invitations`: invite a person (new or existing) with a role.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteRequest {
    /// The person's user name, e.g. `bob`.
    pub name: String,
    /// The role they get on accepting (never above the inviter's own).
    pub role: Role,
    /// Lifetime in seconds (default 7 days, at most 30).
    #[serde(default, deserialize_with = "crate::whole::opt_u64")]
    pub expires_in_seconds: Option<u64>,
}

/// Where an invitation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum InvitationState {
    /// Can be accepted.
    Pending,
    /// Was accepted.
    Accepted,
    /// Was revoked (or replaced by a newer invitation to the same name).
    Revoked,
    /// Ran out.
    Expired,
}

/// An invitation (never its code).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Invitation {
    /// Id (used to revoke it).
    pub id: Uuid,
    /// Org slug.
    pub org: String,
    /// The person it is for.
    pub name: String,
    /// The role it grants.
    pub role: Role,
    /// Who invited.
    pub created_by: String,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Expiry.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// Pending, accepted, revoked or expired.
    pub state: InvitationState,
}

/// Answer to creating an invitation: the only time its code is shown.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct CreatedInvitation {
    /// The invitation.
    pub info: Invitation,
    /// The one-time code (`coffer_i_…`) to hand to the person; they accept it with
    /// `coffer invite accept` or at `/invite#CODE`.
    pub code: String,
}

impl std::fmt::Debug for CreatedInvitation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedInvitation")
            .field("info", &self.info)
            .field("code", &"[REDACTED]")
            .finish()
    }
}

/// `GET /api/v1/orgs/{org}/invitations`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct InvitationList {
    /// Pending invitations, and those that ended in the last 30 days, newest first.
    pub invitations: Vec<Invitation>,
}

/// `POST /api/v1/invitations/accept`: accept an invitation. For a name that is already a person,
/// the request must be signed in as that person (and carries no password).
#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptInvitationRequest {
    /// The code (`coffer_i_…`).
    pub code: String,
    /// A new person's password (at least 12 characters), to sign in to the web UI.
    #[serde(default)]
    pub password: Option<String>,
    /// Whether to mint a first API token in the org (default true; the web UI asks for none).
    #[serde(default)]
    pub token: Option<bool>,
}

impl std::fmt::Debug for AcceptInvitationRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AcceptInvitationRequest { code: [REDACTED], password: [REDACTED] }")
    }
}

/// Answer to accepting an invitation: the membership and the person's first token in the org.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AcceptedInvitation {
    /// Org slug joined.
    pub org: String,
    /// The person's user name.
    pub user: String,
    /// Their role there.
    pub role: Role,
    /// Their new token, scoped to the org (shown once), unless they asked for none.
    pub token: Option<CreatedToken>,
}

/// `POST /api/v1/orgs/{org}/service-accounts`: a non-human identity of the org.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateServiceAccountRequest {
    /// Name, unique in the org, e.g. `ci`.
    pub name: String,
    /// Role: `auditor`, `member` or `admin` (never `owner`, never above the caller's own).
    pub role: Role,
}

/// `POST /api/v1/users/{name}/reset` (operator only).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    /// Lifetime of the reset code in seconds (default 1 day, at most 30 days).
    #[serde(default, deserialize_with = "crate::whole::opt_u64")]
    pub expires_in_seconds: Option<u64>,
}

/// Answer to a credential reset: every token, session and the password of the person are
/// revoked; the code (shown once) lets them set a new password.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct CreatedReset {
    /// The person.
    pub user: String,
    /// When the code expires.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// The one-time code (`coffer_r_…`); the person redeems it with `coffer passwd --reset-code`.
    pub code: String,
}

impl std::fmt::Debug for CreatedReset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedReset")
            .field("user", &self.user)
            .field("expires_at", &self.expires_at)
            .field("code", &"[REDACTED]")
            .finish()
    }
}

/// `POST /api/v1/credentials/redeem`: set a new password with a reset code.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RedeemResetRequest {
    /// The code (`coffer_r_…`).
    pub code: String,
    /// The new password (at least 12 characters).
    pub password: String,
    /// Also mint a personal token in this org (one of the person's).
    #[serde(default)]
    pub org: Option<String>,
}

impl std::fmt::Debug for RedeemResetRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedeemResetRequest")
            .field("code", &"[REDACTED]")
            .field("password", &"[REDACTED]")
            .field("org", &self.org)
            .finish()
    }
}

/// Answer to redeeming a reset code.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RedeemedReset {
    /// The person.
    pub user: String,
    /// The token asked for, if any (shown once).
    pub token: Option<CreatedToken>,
}

/// `GET /api/v1/orgs/{org}/users`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MemberList {
    /// Members of the org.
    pub users: Vec<Member>,
}

/// `POST /api/v1/orgs/{org}/tokens`: a new API token scoped to this org — the caller's own, or
/// one of the org's service accounts'. Nobody mints a token for another person.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTokenRequest {
    /// Must be the caller's own name if given (a person mints their own tokens).
    #[serde(default)]
    pub user: Option<String>,
    /// Mint a token for this service account of the org instead (admins).
    #[serde(default)]
    pub service_account: Option<String>,
    /// Label shown in listings, e.g. `ci`.
    #[serde(default)]
    pub name: Option<String>,
    /// Lifetime in seconds (1 to 315360000, i.e. 10 years); none means it never expires.
    #[serde(default, deserialize_with = "crate::whole::opt_u64")]
    pub expires_in_seconds: Option<u64>,
}

/// `POST /api/v1/operator/tokens`: another deployment-wide token of the operator's own.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOperatorTokenRequest {
    /// Label shown in listings.
    #[serde(default)]
    pub name: Option<String>,
    /// Lifetime in seconds (1 to 315360000, i.e. 10 years); none means it never expires.
    #[serde(default, deserialize_with = "crate::whole::opt_u64")]
    pub expires_in_seconds: Option<u64>,
}

/// A token's metadata (never its value).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TokenInfo {
    /// Token id (used to revoke it).
    pub id: Uuid,
    /// User it acts as.
    pub user: String,
    /// Org it is scoped to (none: an operator token, deployment-wide).
    pub org: Option<String>,
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
