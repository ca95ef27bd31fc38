//! The catalog's access part: groups of an org's members, grants on a scope, shares of one
//! secret, and a secret's restriction to its shares (docs/access.md).
//!
//! A supertrait of [`Catalog`](super::Catalog) like the identity part, each backend in a file of
//! its own (`sqlite/access.rs`, `postgres/access.rs`), one suite (`conformance::access`) for
//! both. What the policy decides from these rows is `domain::policy`; the catalog keeps the
//! rules that must hold whatever the sequence of calls:
//! - one grant per scope and principal, and one share per secret and principal: granting or
//!   sharing again changes the level;
//! - deleting a group deletes its memberships, grants and shares with it;
//! - removing a member from an org (`IdentityCatalog::remove_member`) deletes their group
//!   memberships, grants and shares in that org in the same transaction, so re-inviting them
//!   later starts from nothing;
//! - every change writes its audit event in the same transaction, and a change that changes
//!   nothing writes nothing.

use super::Result;
use crate::audit::AuditDraft;
use crate::domain::policy::AccessSet;
use crate::domain::{
    AccessLevel, GrantId, GrantScope, GroupId, GroupName, OrgId, SecretId, Timestamp, UserId,
};
use async_trait::async_trait;

/// Whom a grant or share is for, by id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PrincipalId {
    /// A person or service account.
    User(UserId),
    /// A group of the org.
    Group(GroupId),
}

/// A group of an org's members.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupRecord {
    /// Id.
    pub id: GroupId,
    /// Org.
    pub org: OrgId,
    /// Name, unique in the org.
    pub name: GroupName,
    /// Creation time.
    pub created_at: Timestamp,
    /// Creator (audit name).
    pub created_by: String,
    /// Its members, sorted by id.
    pub members: Vec<UserId>,
}

/// A grant of a level on a scope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrantRecord {
    /// Id.
    pub id: GrantId,
    /// Org.
    pub org: OrgId,
    /// Where it applies.
    pub scope: GrantScope,
    /// For whom.
    pub principal: PrincipalId,
    /// What it gives.
    pub level: AccessLevel,
    /// When it was granted (or its level last changed).
    pub created_at: Timestamp,
    /// Who granted it (audit name).
    pub created_by: String,
}

/// A share of one secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShareRecord {
    /// The secret.
    pub secret: SecretId,
    /// With whom.
    pub principal: PrincipalId,
    /// What it gives.
    pub level: AccessLevel,
    /// When it was shared (or its level last changed).
    pub created_at: Timestamp,
    /// Who shared it (audit name).
    pub created_by: String,
}

/// Groups, grants, shares and restriction. See the module docs for the rules.
#[async_trait]
pub trait AccessCatalog: Send + Sync {
    /// Creates `group` (with no members); `AlreadyExists` if the org has a group of that name.
    async fn create_group(&self, group: GroupRecord, audit: AuditDraft) -> Result<()>;

    /// Deletes the org's group `id` with its memberships, grants and shares; `NotFound` if the
    /// org has no such group.
    async fn delete_group(&self, org: OrgId, id: GroupId, audit: AuditDraft) -> Result<()>;

    /// The org's groups with their members, by name.
    async fn groups(&self, org: OrgId) -> Result<Vec<GroupRecord>>;

    /// Adds `user` to the org's group `id` (`member`), or removes them. `Ok(false)` if that was
    /// already so, and then nothing is written; `NotFound` if the org has no such group, and
    /// `Refused` if `user` is not a member of the org.
    async fn set_group_member(
        &self,
        org: OrgId,
        id: GroupId,
        user: UserId,
        member: bool,
        audit: AuditDraft,
    ) -> Result<bool>;

    /// Stores `grant`, or changes the level of the existing grant to the same principal on the
    /// same scope (keeping its id). Returns what is stored. `Refused` if the principal is not a
    /// member or group of the org.
    async fn put_grant(&self, grant: GrantRecord, audit: AuditDraft) -> Result<GrantRecord>;

    /// Deletes the org's grant `id`, returning it; `NotFound` if the org has no such grant.
    async fn delete_grant(&self, org: OrgId, id: GrantId, audit: AuditDraft)
    -> Result<GrantRecord>;

    /// The org's grants, by scope.
    async fn grants(&self, org: OrgId) -> Result<Vec<GrantRecord>>;

    /// Stores `share`, or changes the level of the existing share with the same principal.
    /// `Refused` if the principal is not a member or group of the secret's org; `NotFound` if
    /// the secret does not exist (or is destroyed).
    async fn put_share(&self, share: ShareRecord, audit: AuditDraft) -> Result<()>;

    /// Deletes the share of `secret` with `principal`; `Ok(false)` if there was none (nothing
    /// written).
    async fn delete_share(
        &self,
        secret: SecretId,
        principal: PrincipalId,
        audit: AuditDraft,
    ) -> Result<bool>;

    /// The secret's shares, by principal.
    async fn shares(&self, secret: SecretId) -> Result<Vec<ShareRecord>>;

    /// Restricts the secret to its shares, or lifts that; `Ok(false)` if it already was so
    /// (nothing written), `NotFound` if it does not exist (or is destroyed).
    async fn set_restricted(
        &self,
        secret: SecretId,
        restricted: bool,
        audit: AuditDraft,
    ) -> Result<bool>;

    /// Every grant and share that applies to `user` in `org`, directly or through a group.
    async fn access_set(&self, org: OrgId, user: UserId) -> Result<AccessSet>;
}
