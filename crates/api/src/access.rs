//! Who may use which secrets: groups, grants on a project or an issue, shares of one secret, and
//! the answer to "who can reveal this, and why" (docs/access.md).
//!
//! A principal is written `user:NAME` (a person), `svc:NAME` (a service account of the org) or
//! `group:NAME`; a scope is `*` (the whole org), a project key (`OPS`) or an issue key
//! (`OPS-123`).

use crate::IdentityKind;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

/// What a grant or a share gives, each level including the ones before it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum AccessLevel {
    /// List the secrets, read their metadata and reveal their values.
    Read,
    /// Also write new versions, delete and restore.
    Write,
    /// Also share them and grant access to them, up to this level.
    Manage,
}

text_enum!(AccessLevel {
    Read => "read",
    Write => "write",
    Manage => "manage",
});

/// A group of the org's members.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Group {
    /// Name, unique in the org.
    pub name: String,
    /// Its members, as principals (`user:alice`, `svc:deploy`), sorted.
    pub members: Vec<String>,
    /// Who created it.
    pub created_by: String,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// `GET /api/v1/orgs/{org}/groups`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GroupList {
    /// The org's groups, by name.
    pub groups: Vec<Group>,
}

/// `POST /api/v1/orgs/{org}/groups`: create a group.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateGroupRequest {
    /// The group's name (lowercase letters, digits, `.`, `_`, `-`; starting with a letter).
    pub name: String,
}

/// A grant: a principal's access to every secret of a scope.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Grant {
    /// Id (to revoke it).
    pub id: Uuid,
    /// `*` (the whole org), a project key or an issue key.
    pub scope: String,
    /// Who it is for: `user:NAME`, `svc:NAME` or `group:NAME`.
    pub principal: String,
    /// What it gives.
    pub level: AccessLevel,
    /// Who granted it.
    pub created_by: String,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// `GET /api/v1/orgs/{org}/grants`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GrantList {
    /// The grants the caller may see, by scope then principal.
    pub grants: Vec<Grant>,
}

/// `POST /api/v1/orgs/{org}/grants`: grant a principal access to a scope.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateGrantRequest {
    /// `*` (the whole org), a project key (`OPS`) or an issue key (`OPS-123`).
    pub scope: String,
    /// `user:NAME`, `svc:NAME` or `group:NAME`.
    pub to: String,
    /// What it gives.
    pub level: AccessLevel,
}

/// A share: a principal's access to one secret.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Share {
    /// `user:NAME`, `svc:NAME` or `group:NAME`.
    pub principal: String,
    /// What it gives.
    pub level: AccessLevel,
    /// Who shared it.
    pub created_by: String,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// `PUT …/secrets/{scope}/{name}/shares`: share a secret (again, with another level).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShareRequest {
    /// `user:NAME`, `svc:NAME` or `group:NAME`.
    pub with: String,
    /// What it gives.
    pub level: AccessLevel,
}

/// `PUT …/secrets/{scope}/{name}/restricted`: restrict a secret to its shares, or lift that.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetRestrictedRequest {
    /// True: only the secret's shares give access to it (not grants, not roles).
    pub restricted: bool,
}

/// Why an identity has the access it has to one secret.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AccessEntry {
    /// `user:NAME` or `svc:NAME`.
    pub principal: String,
    /// What kind of identity.
    pub kind: IdentityKind,
    /// `metadata` (sees it, cannot reveal), `read`, `write` or `manage`.
    pub access: String,
    /// Each source of access: `role owner`, `grant OPS write`, `grant * read via group:dba`,
    /// `share read`, `share write via group:dba`.
    pub because: Vec<String>,
}

/// `GET …/secrets/{scope}/{name}/access`: who can see this secret and why.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SecretAccess {
    /// Whether only the secret's shares give access to it.
    pub restricted: bool,
    /// Everyone with any access, by principal.
    pub entries: Vec<AccessEntry>,
    /// The secret's shares.
    pub shares: Vec<Share>,
}
