//! The catalog's single sign-on part: an org's OpenID provider, the sign-ins in flight, and the
//! links from a provider's subject to a person (docs/sso.md).
//!
//! A supertrait of [`Catalog`](super::Catalog) like the access part, each backend in a file of
//! its own (`sqlite/sso.rs`, `postgres/sso.rs`), one suite (`conformance::sso`) for both. The
//! rules every sequence of calls keeps:
//! - a link is per org and one-to-one there: a subject names one person in an org and a person
//!   has one subject in an org; it only ever names a member of that org;
//! - pending sign-ins are one-time: [`SsoCatalog::take_sso_pending`] hands a row out once and
//!   never after its expiry;
//! - changing the provider's issuer, or removing the provider, forgets the org's links (a new
//!   provider's subjects mean nothing about the old one's) and revokes the tokens and sessions
//!   the linked people hold in that org (what proved who they were is gone) — all but those of
//!   whoever makes the change (the audit event's actor), who just proved who they are; removing
//!   a member forgets theirs;
//! - a person once linked stays marked as such ([`SsoCatalog::ever_linked`]) after the link is
//!   forgotten;
//! - every change writes its audit events in the same transaction.

use super::{MemberRecord, Result, UserRecord};
use crate::audit::AuditDraft;
use crate::domain::{OrgId, Role, SecretId, Timestamp, UserId};
use async_trait::async_trait;

/// A value sealed under the org key in envelope format v1 (the binding's secret id is `id`, its
/// version 1).
#[derive(Clone, PartialEq, Eq)]
pub struct SealedValue {
    /// The id the envelope is bound to.
    pub id: SecretId,
    /// The org key version it is sealed under.
    pub key_version: u32,
    /// The envelope.
    pub envelope: Vec<u8>,
}

impl std::fmt::Debug for SealedValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedValue")
            .field("id", &self.id)
            .field("key_version", &self.key_version)
            .finish_non_exhaustive()
    }
}

/// An org's OpenID provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SsoRecord {
    /// The org.
    pub org: OrgId,
    /// The provider's issuer URL, as its discovery document states it.
    pub issuer: String,
    /// Coffer's client id at the provider.
    pub client_id: String,
    /// The client secret (`None`: a public client, PKCE alone).
    pub client_secret: Option<SealedValue>,
    /// The ID-token claim that lists the person's groups (`None`: groups are not synced).
    pub groups_claim: Option<String>,
    /// Whether a first sign-in by an unlinked subject creates a person (a member).
    pub create_people: bool,
    /// Whether the org's people must sign in through the provider (passwords refused).
    pub require_sso: bool,
    /// Last change.
    pub updated_at: Timestamp,
    /// Who made it (audit name).
    pub updated_by: String,
}

/// What a pending row is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SsoPurpose {
    /// A browser sign-in to the org.
    SignIn,
    /// `user` links their account to the provider.
    Link(UserId),
    /// A CLI sign-in that ends on the CLI's loopback `port`; `challenge` is the SHA-256
    /// (base64url) of the verifier the CLI keeps.
    Cli {
        /// Loopback port.
        port: u16,
        /// The CLI's challenge.
        challenge: String,
    },
    /// A signed-in `user` the CLI may exchange for a token by presenting the verifier of
    /// `challenge` (the row's hash is the code's).
    CliExchange {
        /// The person.
        user: UserId,
        /// The CLI's challenge.
        challenge: String,
    },
}

/// A sign-in (or link, or CLI exchange) in flight.
#[derive(Clone, PartialEq, Eq)]
pub struct SsoPending {
    /// SHA-256 of the one-time value that finds it (OAuth `state`, or a CLI exchange code).
    pub hash: [u8; 32],
    /// The org.
    pub org: OrgId,
    /// What it is for.
    pub purpose: SsoPurpose,
    /// The OpenID nonce sent with the authorization request.
    pub nonce: String,
    /// The PKCE verifier.
    pub verifier: String,
    /// SHA-256 of the cookie that binds it to the browser that started it.
    pub browser: [u8; 32],
    /// After this it is gone.
    pub expires_at: Timestamp,
}

impl std::fmt::Debug for SsoPending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SsoPending")
            .field("org", &self.org)
            .field("purpose", &self.purpose)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// A provider's subject linked to a person in an org.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SsoLink {
    /// The org.
    pub org: OrgId,
    /// The issuer.
    pub issuer: String,
    /// The subject (`sub`).
    pub subject: String,
    /// The person.
    pub user: UserId,
    /// When it was made.
    pub created_at: Timestamp,
}

/// Providers, pending sign-ins and links. See the module docs for the rules.
#[async_trait]
pub trait SsoCatalog: Send + Sync {
    /// Stores the org's provider, replacing any; if the issuer changed, forgets the org's links
    /// and revokes the linked people's tokens and sessions in the org (at `sso.updated_at`; not
    /// `audit.actor_id`'s) in the same transaction. `NotFound` if the org does not exist.
    async fn put_sso(&self, sso: SsoRecord, audit: AuditDraft) -> Result<()>;

    /// The org's provider.
    async fn sso(&self, org: OrgId) -> Result<Option<SsoRecord>>;

    /// Removes the org's provider and its links, revoking the linked people's tokens and
    /// sessions in the org (at `audit.at`; not `audit.actor_id`'s); `Ok(false)` if it had none
    /// (nothing written).
    async fn delete_sso(&self, org: OrgId, audit: AuditDraft) -> Result<bool>;

    /// Stores a pending sign-in, deleting every row that expired before `now` on the way.
    /// `AlreadyExists` on a hash collision.
    async fn put_sso_pending(&self, pending: SsoPending, now: Timestamp) -> Result<()>;

    /// Deletes the pending row with this hash and returns it, if it had not expired at `now`
    /// (an expired row is deleted and `None` returned). At most one caller ever gets a row.
    async fn take_sso_pending(&self, hash: &[u8; 32], now: Timestamp)
    -> Result<Option<SsoPending>>;

    /// The person `subject` of `issuer` is linked to in `org`.
    async fn sso_user(&self, org: OrgId, issuer: &str, subject: &str) -> Result<Option<UserId>>;

    /// Whether the person was ever linked to a provider, in any org (also after the link was
    /// forgotten).
    async fn ever_linked(&self, user: UserId) -> Result<bool>;

    /// Links `link.subject` to `link.user` in `link.org` and appends `audit`. `Ok(false)` if
    /// exactly that link exists (nothing written); `AlreadyExists` if the subject is linked to
    /// someone else there or the person to another subject; `Refused` if the person is not a
    /// member of the org.
    async fn link_sso(&self, link: SsoLink, audit: AuditDraft) -> Result<bool>;

    /// Creates the person `user` as a member of `link.org` with `role`, linked to
    /// `link.subject`, and appends `audit`, all in one transaction. `AlreadyExists` if the name
    /// is taken or the subject is linked.
    async fn create_sso_person(
        &self,
        user: UserRecord,
        role: Role,
        link: SsoLink,
        audit: Vec<AuditDraft>,
    ) -> Result<MemberRecord>;
}
