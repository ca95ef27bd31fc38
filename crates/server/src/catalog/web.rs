//! The catalog's web-UI part: user passwords (Argon2id PHC strings) and browser sessions.
//!
//! A supertrait of [`Catalog`](super::Catalog), like [`ByokCatalog`](super::ByokCatalog), so each
//! backend implements it in a file of its own (`sqlite/web.rs`, `postgres/web.rs`) and one suite
//! (`conformance::web`) holds both to the same contract. Sessions live
//! in the catalog, not in a node's memory, so any node of a deployment accepts a session another
//! node issued, and a revocation (sign-out, password change) takes effect everywhere at once.
//! Only the SHA-256 of a session's cookie value is stored, as for API tokens.

use super::{Result, UserRecord};
use crate::audit::AuditDraft;
use crate::domain::{OrgId, Role, Timestamp, TokenId, UserId};
use async_trait::async_trait;

/// A browser session: a user signed in to one org (like a token, a session acts in one org), or
/// the operator signed in to the deployment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRecord {
    /// Id (shown in audit events; never the cookie value).
    pub id: TokenId,
    /// SHA-256 of the cookie value.
    pub hash: [u8; 32],
    /// The user.
    pub user: UserId,
    /// The org the session acts in (`None`: the operator's session).
    pub org: Option<OrgId>,
    /// Sign-in time.
    pub created_at: Timestamp,
    /// After this the session is refused.
    pub expires_at: Timestamp,
    /// Sign-out (or password change) time.
    pub revoked_at: Option<Timestamp>,
}

/// What a session hash resolves to.
#[derive(Clone, Debug)]
pub struct SessionPrincipal {
    /// The session.
    pub session: SessionRecord,
    /// Its user.
    pub user: UserRecord,
    /// The user's current role in the session's org (none if no longer a member).
    pub role: Option<Role>,
}

/// Passwords and sessions. See each method for its contract; `conformance::web` checks them.
#[async_trait]
pub trait WebCatalog: Send + Sync + 'static {
    /// Sets (or replaces) `user`'s password hash and, in the same transaction, revokes every
    /// session of the user that is not yet revoked (a new password signs out everywhere), then
    /// appends `audit` (one event per org the user belongs to; none for the operator).
    /// `NotFound`: no such user.
    async fn set_password(
        &self,
        user: UserId,
        phc: String,
        at: Timestamp,
        audit: Vec<AuditDraft>,
    ) -> Result<()>;

    /// The user's password hash, if one was set (`None` also for an unknown user id).
    async fn password_hash(&self, user: UserId) -> Result<Option<String>>;

    /// Stores a new session and appends `audit` (the sign-in event; `None` for the operator,
    /// who has no org chain). Sessions of the same user that expired before
    /// `session.created_at` are deleted on the way. `AlreadyExists` on a hash or id collision;
    /// `NotFound` if the user or org does not exist; `Refused` if the session's scope does not
    /// fit its identity (as for tokens).
    async fn create_session(&self, session: SessionRecord, audit: Option<AuditDraft>)
    -> Result<()>;

    /// Resolves a session hash, whatever its expiry or revocation (the caller judges).
    async fn session(&self, hash: &[u8; 32]) -> Result<Option<SessionPrincipal>>;

    /// Revokes the session with this hash (sign-out) and appends `audit`, if it exists and is not
    /// revoked yet. Returns whether it changed anything; repeating it changes nothing and
    /// appends nothing.
    async fn revoke_session(
        &self,
        hash: &[u8; 32],
        at: Timestamp,
        audit: Option<AuditDraft>,
    ) -> Result<bool>;
}
