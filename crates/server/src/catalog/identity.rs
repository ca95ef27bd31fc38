//! The catalog's identity part: people, service accounts and the operator; memberships and the
//! roles in them; invitations; and credential resets.
//!
//! A supertrait of [`Catalog`](super::Catalog) like [`WebCatalog`](super::WebCatalog), each
//! backend in a file of its own (`sqlite/identity.rs`, `postgres/identity.rs`), one suite
//! (`conformance::identity`) for both.
//!
//! The rules the service relies on are kept *here*, inside each transaction, so that no
//! sequence of calls can break them (docs/threat-model.md, "Identity and tenancy"):
//! - the operator is never a member of an org, a service account is a member only of its own
//!   org and never an owner (both backends also refuse such a row with a trigger);
//! - an org never loses its last owner (`rules::owners_left_ok`);
//! - removing a member revokes their tokens and sessions in that org in the same transaction,
//!   so re-inviting them later cannot bring an old credential back;
//! - an invitation or a reset code is used at most once, and only before it expires;
//! - there is no method that creates a person except through an accepted invitation (or the
//!   first start), and none that sets someone's password except their own acceptance,
//!   redemption or password change.

use super::{MemberRecord, Result, TokenRecord, UserRecord};
use crate::audit::AuditDraft;
use crate::domain::{InvitationId, OrgId, OrgSlug, ResetId, Role, Timestamp, UserId, UserName};
use async_trait::async_trait;

/// An invitation to join an org with a role. Only the SHA-256 of its code is stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvitationRecord {
    /// Id.
    pub id: InvitationId,
    /// SHA-256 of the code.
    pub hash: [u8; 32],
    /// The org it admits to.
    pub org: OrgId,
    /// The person it is for: an existing person must accept it signed in as themselves; a new
    /// name becomes a person when it is accepted.
    pub name: UserName,
    /// The role it grants.
    pub role: Role,
    /// Who invited (audit name).
    pub created_by: String,
    /// Creation time.
    pub created_at: Timestamp,
    /// After this it cannot be accepted.
    pub expires_at: Timestamp,
    /// When it was accepted.
    pub accepted_at: Option<Timestamp>,
    /// When it was revoked (or replaced by a newer invitation to the same name).
    pub revoked_at: Option<Timestamp>,
}

impl InvitationRecord {
    /// Whether it can still be accepted at `now`.
    pub fn pending(&self, now: Timestamp) -> bool {
        super::rules::code_usable(self.accepted_at, self.revoked_at, self.expires_at, now)
    }
}

/// Who accepts an invitation.
#[derive(Clone, Debug)]
pub enum Invitee {
    /// An existing person (the service checked they are the caller).
    Existing(UserId),
    /// A new person, created by the acceptance; `AlreadyExists` if the name was taken meanwhile.
    New(UserRecord),
}

/// Everything an acceptance writes, in one transaction.
#[derive(Clone, Debug)]
pub struct Acceptance {
    /// The invitation (must be pending at `at`, else `Refused`).
    pub invitation: InvitationId,
    /// The person.
    pub invitee: Invitee,
    /// A password to set (an Argon2id PHC string), if given.
    pub password: Option<String>,
    /// The person's first token in the org, if they asked for one.
    pub token: Option<TokenRecord>,
    /// Time.
    pub at: Timestamp,
}

/// A one-time code the operator hands a person whose credentials it reset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResetRecord {
    /// Id.
    pub id: ResetId,
    /// SHA-256 of the code.
    pub hash: [u8; 32],
    /// The person.
    pub user: UserId,
    /// Creation time.
    pub created_at: Timestamp,
    /// After this it cannot be redeemed.
    pub expires_at: Timestamp,
    /// When it was redeemed.
    pub used_at: Option<Timestamp>,
}

/// What redeeming a reset code writes, in one transaction.
#[derive(Clone, Debug)]
pub struct Redemption {
    /// The reset (unused and unexpired at `at`, else `Refused`).
    pub reset: ResetId,
    /// The new password (Argon2id PHC string).
    pub password: String,
    /// A personal token to mint with it, if the person asked for one (its org must be one of
    /// theirs, else `Refused`).
    pub token: Option<TokenRecord>,
    /// Time.
    pub at: Timestamp,
}

/// One of a person's memberships.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MembershipRecord {
    /// The org.
    pub org: OrgId,
    /// Its slug.
    pub slug: OrgSlug,
    /// The role there.
    pub role: Role,
}

/// How long ended (accepted, revoked, expired) invitations stay in the org's list: 30 days.
pub const ENDED_INVITATIONS_LISTED_MS: i64 = 30 * 24 * 3600 * 1000;

/// Identities, memberships, invitations and resets. See each method for its contract;
/// `conformance::identity` checks them on every backend.
#[async_trait]
pub trait IdentityCatalog: Send + Sync + 'static {
    /// An identity by id.
    async fn user_by_id(&self, id: UserId) -> Result<UserRecord>;
    /// A person or the operator by name (service accounts are named per org:
    /// [`Self::service_account`]).
    async fn user_by_name(&self, name: &UserName) -> Result<UserRecord>;
    /// A service account of `org` by name.
    async fn service_account(&self, org: OrgId, name: &UserName) -> Result<UserRecord>;
    /// The orgs `user` is a member of, by slug.
    async fn memberships(&self, user: UserId) -> Result<Vec<MembershipRecord>>;

    /// Creates the operator `user` with `token`, if the deployment has no operator yet; or gives
    /// the operator `token` if it has never had one (a catalog migrated from the model where
    /// the first user was both operator and owner). Returns whether it wrote anything; safe to
    /// race (exactly one caller writes).
    async fn seat_operator(&self, user: UserRecord, token: TokenRecord) -> Result<bool>;

    /// Makes an existing person a member of `org` with `role`. `AlreadyExists` if they are;
    /// `NotFound` if the user or org does not exist; `Refused` if the identity cannot be a
    /// member there (the operator; another org's service account).
    async fn add_member(
        &self,
        org: OrgId,
        user: UserId,
        role: Role,
        audit: AuditDraft,
    ) -> Result<MemberRecord>;

    /// Changes a member's role. `NotFound` if not a member; `Refused` if it would leave the org
    /// without an owner, or give a service account the owner role.
    async fn change_role(
        &self,
        org: OrgId,
        user: UserId,
        role: Role,
        audit: AuditDraft,
    ) -> Result<MemberRecord>;

    /// Ends a membership and, in the same transaction, revokes every token and session of the
    /// identity in that org. `NotFound` if not a member; `Refused` if they are its last owner.
    async fn remove_member(
        &self,
        org: OrgId,
        user: UserId,
        at: Timestamp,
        audit: AuditDraft,
    ) -> Result<()>;

    /// Creates service account `user` (kind `Service`, its `org` set) as a member of its org
    /// with `role`. `AlreadyExists` if the org has one of that name; `Refused` for the owner
    /// role.
    async fn create_service_account(
        &self,
        user: UserRecord,
        role: Role,
        audit: AuditDraft,
    ) -> Result<MemberRecord>;

    /// Stores an invitation and revokes every other pending invitation of the same name to the
    /// same org (the newest one counts).
    async fn create_invitation(
        &self,
        invitation: InvitationRecord,
        audit: AuditDraft,
    ) -> Result<()>;
    /// The invitation with this code hash, in any state.
    async fn invitation(&self, hash: &[u8; 32]) -> Result<Option<InvitationRecord>>;
    /// The org's invitations, newest first, that are pending or ended in the last 30 days.
    async fn list_invitations(&self, org: OrgId, now: Timestamp) -> Result<Vec<InvitationRecord>>;
    /// Revokes a pending invitation of `org`. `NotFound` if there is none with that id there;
    /// `Refused` if it is no longer pending.
    async fn revoke_invitation(
        &self,
        org: OrgId,
        id: InvitationId,
        at: Timestamp,
        audit: AuditDraft,
    ) -> Result<InvitationRecord>;
    /// Accepts an invitation: marks it accepted (`Refused` unless pending at `a.at`), creates
    /// the person if new (`AlreadyExists` if the name was taken), adds the membership with the
    /// invitation's role (`AlreadyExists` if a member), sets the password if given (signing the
    /// person out everywhere), stores the token if any, and appends `audit`.
    async fn accept_invitation(
        &self,
        a: Acceptance,
        audit: Vec<AuditDraft>,
    ) -> Result<MemberRecord>;

    /// Resets a person's credentials: revokes every token and session of theirs, deletes their
    /// password and any earlier unused reset, stores `reset`, appends `audit` (one event per org
    /// they belong to). `NotFound` if the user is not a person.
    async fn reset_credentials(&self, reset: ResetRecord, audit: Vec<AuditDraft>) -> Result<()>;
    /// The reset with this code hash, in any state.
    async fn reset(&self, hash: &[u8; 32]) -> Result<Option<ResetRecord>>;
    /// Redeems a reset: marks it used (`Refused` unless unused and unexpired at `r.at`), sets
    /// the password, stores the token if any, appends `audit`.
    async fn redeem_reset(&self, r: Redemption, audit: Vec<AuditDraft>) -> Result<UserRecord>;
}
