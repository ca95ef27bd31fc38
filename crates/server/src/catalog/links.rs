//! The catalog's part for people outside Coffer (docs/links-and-requests.md): one-time links to a
//! copy of a secret, and "send me a secret" requests an outsider fulfils.
//!
//! A supertrait of [`Catalog`](super::Catalog) like the SSO part, each backend in a file of its
//! own (`sqlite/links.rs`, `postgres/links.rs`), one suite (`conformance::links`) for both. The
//! rules every sequence of calls keeps:
//! - a link's views are counted atomically with its audit event: `max_views` opens succeed, never
//!   one more, however many race; the opening that uses the last view also drops the stored copy,
//!   and so do revoking the link, [`LinkCatalog::purge_outside_shares`] after it expired, and
//!   destroying its secret (which deletes the link);
//! - a link opens only while it is active ([`link_state`]), its copy is there, and its secret is
//!   neither deleted nor expired;
//! - revoking a credential revokes the links and requests made with it, and revoking a person's
//!   credentials in an org (removal, reset, SSO unlinking, SCIM deactivation) revokes the links
//!   and requests they made there, in the same transaction; destroying a secret revokes the open
//!   requests for its name;
//! - a request is fulfilled at most once, and its secret version is written in the same
//!   transaction that marks it fulfilled, so an acknowledged upload is a version and a version
//!   written through a request is never written twice;
//! - lookups by an org are scoped by it (another org's link or request is not found); the
//!   anonymous lookups by id ([`LinkCatalog::link`], [`RequestCatalog::request`]) return the row's
//!   org so the service can check it.

use super::{NewVersion, Result, SecretRecord};
use crate::audit::AuditDraft;
use crate::domain::{
    LinkId, OrgId, RequestId, Scope, SecretId, SecretName, Timestamp, TokenId, UserId,
};
use async_trait::async_trait;

/// A one-time link (its sealed copy is not part of the record).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkRecord {
    /// Id: the unguessable part of the link's URL.
    pub id: LinkId,
    /// Org.
    pub org: OrgId,
    /// The secret it copies.
    pub secret: SecretId,
    /// The version it copies.
    pub version: u32,
    /// `OPS-123/db-password`, as it was when the link was made.
    pub target: String,
    /// SHA-256 of the proof an opener derives from the link key (the key itself is never sent).
    pub open_hash: [u8; 32],
    /// Who made it.
    pub created_by_id: Option<UserId>,
    /// Their name.
    pub created_by: String,
    /// The credential (token or session) it was made with.
    pub created_with: Option<TokenId>,
    /// When.
    pub created_at: Timestamp,
    /// When it stops opening.
    pub expires_at: Timestamp,
    /// How many times it may be opened.
    pub max_views: u32,
    /// How many times it was opened.
    pub views: u32,
    /// When it was revoked.
    pub revoked_at: Option<Timestamp>,
}

/// Where a link stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkState {
    /// It opens.
    Active,
    /// Every view is used.
    UsedUp,
    /// Its time is over.
    Expired,
    /// Its creator (or an admin) revoked it.
    Revoked,
}

impl LinkState {
    /// `active`, `used_up`, `expired`, `revoked`.
    pub fn as_str(self) -> &'static str {
        match self {
            LinkState::Active => "active",
            LinkState::UsedUp => "used_up",
            LinkState::Expired => "expired",
            LinkState::Revoked => "revoked",
        }
    }
}

/// The one rule for a link's state at `now`, which both backends and the service use: revoked
/// first, then used up, then expired.
pub fn link_state(link: &LinkRecord, now: Timestamp) -> LinkState {
    if link.revoked_at.is_some() {
        LinkState::Revoked
    } else if link.views >= link.max_views {
        LinkState::UsedUp
    } else if link.expires_at <= now {
        LinkState::Expired
    } else {
        LinkState::Active
    }
}

/// The outcome of an attempt to open a link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkOpen {
    /// Counted and audited: the link after the view, and its sealed copy.
    Opened {
        /// The link with this view counted.
        link: Box<LinkRecord>,
        /// The envelope its creator sealed.
        envelope: Vec<u8>,
    },
    /// Not opened (nothing changed): why.
    Refused(LinkRefusal),
}

/// Why a link did not open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkRefusal {
    /// Not active.
    Inactive(LinkState),
    /// Its secret is deleted (restoring the secret makes the link open again).
    SecretDeleted,
    /// Its secret has expired.
    SecretExpired,
}

/// What opening a link needs to know about its secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SecretFacts {
    /// Soft-deleted.
    pub deleted: bool,
    /// Its expiry.
    pub expires_at: Option<Timestamp>,
}

/// The one rule for whether a link opens at `now`, which both backends call inside the
/// transaction that counts the view: it must be [`LinkState::Active`] and still hold its copy (a
/// node whose clock runs ahead may have purged it: then it has expired), and its secret must be
/// neither deleted nor expired.
pub fn open_refusal(
    link: &LinkRecord,
    secret: &SecretFacts,
    has_copy: bool,
    now: Timestamp,
) -> Option<LinkRefusal> {
    match link_state(link, now) {
        LinkState::Active if !has_copy => Some(LinkRefusal::Inactive(LinkState::Expired)),
        LinkState::Active if secret.deleted => Some(LinkRefusal::SecretDeleted),
        LinkState::Active if secret.expires_at.is_some_and(|t| t <= now) => {
            Some(LinkRefusal::SecretExpired)
        }
        LinkState::Active => None,
        other => Some(LinkRefusal::Inactive(other)),
    }
}

/// A request an outsider fulfils: the ECDH key pair their browser seals to, and where the value
/// goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestRecord {
    /// Id: the unguessable part of the upload URL.
    pub id: RequestId,
    /// Org.
    pub org: OrgId,
    /// The issue or project the secret goes to.
    pub scope: Scope,
    /// The secret's name.
    pub name: SecretName,
    /// What the requester asks for, shown to the outsider.
    pub note: String,
    /// SHA-256 of the token in the request's URL (the token itself is never stored).
    pub token_hash: [u8; 32],
    /// Who asked.
    pub created_by_id: Option<UserId>,
    /// Their name.
    pub created_by: String,
    /// The credential (token or session) it was made with.
    pub created_with: Option<TokenId>,
    /// When.
    pub created_at: Timestamp,
    /// When it stops accepting a value.
    pub expires_at: Timestamp,
    /// The public key (SEC1 uncompressed P-256 point, 65 bytes).
    pub public_key: Vec<u8>,
    /// The org-key version that wraps the private key.
    pub key_version: u32,
    /// The private key, wrapped under that org key; empty once the request is used, revoked or
    /// purged after it expired.
    pub wrapped_key: Vec<u8>,
    /// When it was revoked.
    pub revoked_at: Option<Timestamp>,
    /// When a value arrived.
    pub fulfilled_at: Option<Timestamp>,
    /// The secret version that value became.
    pub fulfilled_version: Option<u32>,
}

/// Where a request stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestState {
    /// It accepts a value.
    Open,
    /// A value arrived.
    Fulfilled,
    /// Its time is over.
    Expired,
    /// Its requester (or an admin) revoked it.
    Revoked,
}

impl RequestState {
    /// `open`, `fulfilled`, `expired`, `revoked`.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestState::Open => "open",
            RequestState::Fulfilled => "fulfilled",
            RequestState::Expired => "expired",
            RequestState::Revoked => "revoked",
        }
    }
}

/// The one rule for a request's state at `now`: fulfilled first, then revoked, then expired.
pub fn request_state(r: &RequestRecord, now: Timestamp) -> RequestState {
    if r.fulfilled_at.is_some() {
        RequestState::Fulfilled
    } else if r.revoked_at.is_some() {
        RequestState::Revoked
    } else if r.expires_at <= now {
        RequestState::Expired
    } else {
        RequestState::Open
    }
}

/// One-time links. See the module docs.
#[async_trait]
pub trait LinkCatalog: Send + Sync {
    /// Records a link with its sealed copy and appends `audit`, atomically. `AlreadyExists` if
    /// the id is taken.
    async fn create_link(
        &self,
        link: LinkRecord,
        envelope: Vec<u8>,
        audit: AuditDraft,
    ) -> Result<()>;
    /// A link of any org, by id (`NotFound` if there is none).
    async fn link(&self, id: LinkId) -> Result<LinkRecord>;
    /// The links of `org` (made by `by`, if given), newest first, at most `limit`.
    async fn list_links(
        &self,
        org: OrgId,
        by: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<LinkRecord>>;
    /// Opens a link at `now`: if it is active, its copy is there and its secret is neither deleted
    /// nor expired, counts the view,
    /// appends `audit` and returns the copy (dropping it when this was the last view), all in one
    /// transaction; else changes nothing and says why. `NotFound` if there is no such link.
    async fn open_link(&self, id: LinkId, now: Timestamp, audit: AuditDraft) -> Result<LinkOpen>;
    /// Revokes a link of `org` at `at` (keeping an earlier revocation's time) and drops its copy,
    /// appending `audit`. `NotFound` if `org` has no such link.
    async fn revoke_link(
        &self,
        org: OrgId,
        id: LinkId,
        at: Timestamp,
        audit: AuditDraft,
    ) -> Result<LinkRecord>;
    /// Drops the copies of links that expired before `before`, and the wrapped keys of requests
    /// that were used, revoked, or expired before `before`, in every org; returns how many rows
    /// it emptied. (Callers pass a time some minutes ago, so a node whose clock runs ahead never
    /// empties a link another node still serves.)
    async fn purge_outside_shares(&self, before: Timestamp) -> Result<u64>;
}

/// "Send me a secret" requests. See the module docs.
#[async_trait]
pub trait RequestCatalog: Send + Sync {
    /// Records a request and appends `audit`, atomically. `AlreadyExists` if the id is taken.
    async fn create_request(&self, request: RequestRecord, audit: AuditDraft) -> Result<()>;
    /// A request of any org, by id (`NotFound` if there is none).
    async fn request(&self, id: RequestId) -> Result<RequestRecord>;
    /// The requests of `org` (made by `by`, if given), newest first, at most `limit`.
    async fn list_requests(
        &self,
        org: OrgId,
        by: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<RequestRecord>>;
    /// Revokes an unfulfilled request of `org` at `at` (keeping an earlier revocation's time),
    /// emptying its wrapped key, appending `audit`. `NotFound` if `org` has no such request; a fulfilled one is returned
    /// unchanged.
    async fn revoke_request(
        &self,
        org: OrgId,
        id: RequestId,
        at: Timestamp,
        audit: AuditDraft,
    ) -> Result<RequestRecord>;
    /// Fulfils request `id` with `version` in one transaction: if the request is
    /// [`RequestState::Open`] at `version.at`, writes the version as
    /// [`Catalog::put_version`](super::Catalog::put_version) does (its check-and-set and
    /// `put_audit`), marks the request fulfilled with that version, empties its wrapped key and
    /// appends `fulfil_audit`.
    /// `Refused` naming the state if it is not open; `NotFound` if there is no such request.
    async fn fulfil_request(
        &self,
        id: RequestId,
        version: NewVersion,
        put_audit: AuditDraft,
        fulfil_audit: AuditDraft,
    ) -> Result<SecretRecord>;
}
