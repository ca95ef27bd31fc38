//! The catalog's SCIM part (docs/scim.md): an org's SCIM tokens, the SCIM side of its people
//! (external id, display name, `active` as the client left it, whether SCIM created them) and of
//! its groups (display name, external id).
//!
//! A supertrait of [`Catalog`](super::Catalog) like the SSO part, each backend in a file of its
//! own (`sqlite/scim.rs`, `postgres/scim.rs`), one suite (`conformance::scim`) for both. The rules
//! every sequence of calls keeps:
//! - a SCIM token belongs to one org and is stored only as its SHA-256; a revocation keeps its
//!   first time;
//! - a person's SCIM record is per org and names a person (never a service account or the
//!   operator); a person SCIM did not create is never made a member by SCIM, except that one
//!   SCIM itself deactivated in the same org may be brought back;
//! - SCIM creates only *new* people ([`ScimCatalog::provision_person`] fails on a taken name), so
//!   an org's directory never becomes someone who also belongs elsewhere;
//! - deactivating ends the membership exactly as `IdentityCatalog::remove_member` does (tokens and
//!   sessions revoked, groups, grants, shares and SSO link forgotten, last owner kept) in the same
//!   transaction that records it, and never to an owner (refused inside that transaction);
//!   removing a member any other way forgets their SCIM record;
//! - group members are members of the group's org; deleting a group forgets its SCIM record;
//! - every change writes its audit events in the same transaction.

use super::{GroupRecord, Result, UserRecord};
use crate::audit::AuditDraft;
use crate::domain::{GroupId, GroupName, OrgId, Role, ScimTokenId, Timestamp, UserId};
use async_trait::async_trait;

/// An org's SCIM token: what an identity provider (Okta, Entra ID, …) presents at `/scim/v2`.
/// Only the SHA-256 of its value is stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScimTokenRecord {
    /// Id.
    pub id: ScimTokenId,
    /// SHA-256 of the value.
    pub hash: [u8; 32],
    /// The org it provisions.
    pub org: OrgId,
    /// Label.
    pub name: String,
    /// Creation time.
    pub created_at: Timestamp,
    /// Who created it (audit name).
    pub created_by: String,
    /// Revocation time.
    pub revoked_at: Option<Timestamp>,
}

/// The SCIM side of one person in one org.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScimUserRecord {
    /// The org.
    pub org: OrgId,
    /// The person.
    pub user: UserId,
    /// The client's id for them (`externalId`).
    pub external_id: Option<String>,
    /// Their `displayName` as the client set it.
    pub display_name: Option<String>,
    /// `active` as the client last set it: `Some(false)` once SCIM deactivated them, `None` if
    /// the client never set it or removed it (which means active).
    pub active: Option<bool>,
    /// Whether this org's SCIM created the person (then they are the org directory's own).
    pub provisioned: bool,
}

/// The SCIM side of one group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScimGroupRecord {
    /// The group.
    pub group: GroupId,
    /// Its org.
    pub org: OrgId,
    /// Its `displayName` as the client set it (free text; the group's name is derived from it).
    pub display_name: String,
    /// The client's id for it (`externalId`).
    pub external_id: Option<String>,
}

/// What becomes of a person's membership when their SCIM record is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScimMembership {
    /// Unchanged.
    Keep,
    /// Ended as `remove_member` ends it (the person must be a member).
    End,
    /// Given back with this role (the person must be one this org's SCIM deactivated).
    Restore(Role),
}

/// SCIM tokens and the SCIM records of people and groups. See the module docs for the rules.
#[async_trait]
pub trait ScimCatalog: Send + Sync {
    /// Stores a new SCIM token. `AlreadyExists` on a hash collision, `NotFound` if the org does
    /// not exist.
    async fn create_scim_token(&self, token: ScimTokenRecord, audit: AuditDraft) -> Result<()>;

    /// The SCIM token with this hash, whatever its state (the caller judges).
    async fn scim_token(&self, hash: &[u8; 32]) -> Result<Option<ScimTokenRecord>>;

    /// The org's SCIM tokens, newest first.
    async fn scim_tokens(&self, org: OrgId) -> Result<Vec<ScimTokenRecord>>;

    /// Revokes the org's SCIM token `id` at `at` (idempotent: keeps the first time; `audit` is
    /// written only by the first). `NotFound` if the org has no such token.
    async fn revoke_scim_token(
        &self,
        org: OrgId,
        id: ScimTokenId,
        at: Timestamp,
        audit: AuditDraft,
    ) -> Result<ScimTokenRecord>;

    /// The SCIM records of the org's people.
    async fn scim_users(&self, org: OrgId) -> Result<Vec<ScimUserRecord>>;

    /// The SCIM record of `user` in `org`.
    async fn scim_user(&self, org: OrgId, user: UserId) -> Result<Option<ScimUserRecord>>;

    /// Creates the new person `user` with `record` (for `user`, `provisioned`), a member of
    /// `record.org` with `role` unless `record.active` is `Some(false)`. `AlreadyExists` if the
    /// name is taken; `Refused` if `user` is not a person or `record` is not theirs.
    async fn provision_person(
        &self,
        user: UserRecord,
        record: ScimUserRecord,
        role: Role,
        audit: Vec<AuditDraft>,
    ) -> Result<()>;

    /// Stores `record` for a person who is a member of `record.org` or has a SCIM record there
    /// (`NotFound` otherwise), and changes their membership as `membership` says: `End` needs a
    /// member (`Refused` if not, or if they are the org's last owner); `Restore` needs a person
    /// this org's SCIM deactivated who is not a member again (`Refused` otherwise).
    async fn put_scim_user(
        &self,
        record: ScimUserRecord,
        membership: ScimMembership,
        at: Timestamp,
        audit: Vec<AuditDraft>,
    ) -> Result<()>;

    /// Ends `user`'s membership of `org` if any (as `remove_member`) and forgets their SCIM
    /// record. `NotFound` if they have neither; `Refused` if they are its last owner.
    async fn delete_scim_user(
        &self,
        org: OrgId,
        user: UserId,
        at: Timestamp,
        audit: Vec<AuditDraft>,
    ) -> Result<()>;

    /// The SCIM records of the org's groups.
    async fn scim_groups(&self, org: OrgId) -> Result<Vec<ScimGroupRecord>>;

    /// Creates `group` with `group.members` and `record`. `AlreadyExists` if the org has a group
    /// of that name; `Refused` if a member is not a member of the org or `record` is not the
    /// group's.
    async fn create_scim_group(
        &self,
        group: GroupRecord,
        record: ScimGroupRecord,
        audit: Vec<AuditDraft>,
    ) -> Result<()>;

    /// Stores `record` for the org's group `record.group`, names it `name`, adds the members
    /// `add` and removes `remove` (either already so is no error). `NotFound` if the org has no
    /// such group; `AlreadyExists` if another of its groups is named `name`; `Refused` if a user
    /// to add is not a member of the org.
    async fn put_scim_group(
        &self,
        record: ScimGroupRecord,
        name: GroupName,
        add: Vec<UserId>,
        remove: Vec<UserId>,
        audit: Vec<AuditDraft>,
    ) -> Result<()>;
}
