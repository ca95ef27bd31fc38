//! Web UI use cases: sign in (a session in one org, like a token; or the operator's, in none),
//! resolve a session cookie to an [`Actor`], sign out (here); password hashing and the sign-in
//! limiter ([`guard`]); the search box and the audit page's filters ([`search`]). (Setting one's
//! own password is in `people::credentials`: it is a credential like any other.)
//!
//! A session acts exactly like a token of its user in its org: the same policy, the same audit
//! trail (the session id stands where a token id would). Session values are `coffer_s_` + 43
//! base64url characters (256 random bits); only their SHA-256 is stored. The CSRF token is
//! derived from the session value (SHA-256 of a label and the value), so it is bound to the
//! session, needs no storage, and a page that cannot read the HttpOnly cookie learns it only
//! from the sign-in or `GET /api/v1/session` answer.

pub mod guard;
pub mod search;

use crate::audit::AuditDraft;
use crate::catalog::{CatalogError, SessionRecord};
use crate::domain::policy::{Actor, Membership};
use crate::domain::{IdentityKind, OrgSlug, Timestamp, TokenId, UserName};
use crate::service::audit_log::Failure;
use crate::service::{Coffer, Error, Result, event, tokens};
use base64::Engine;
use std::time::Duration;
use zeroize::Zeroizing;

/// How long a session lasts after sign-in.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(12 * 3600);

/// A new session: the record, the cookie value (never stored) and its CSRF token.
pub struct SignedIn {
    /// The stored record.
    pub session: SessionRecord,
    /// The cookie value.
    pub value: Zeroizing<String>,
    /// The CSRF token bound to it.
    pub csrf: String,
}

/// Why a sign-in was refused.
pub enum SignInError {
    /// Too many failures for the account or the source; retry after this long.
    TooMany(Duration),
    /// Anything else (wrong credentials are `Unauthenticated`).
    Other(Error),
}

impl From<Error> for SignInError {
    fn from(e: Error) -> Self {
        SignInError::Other(e)
    }
}

fn session_hash(value: &str) -> [u8; 32] {
    tokens::hash(value)
}

/// The CSRF token bound to a session value.
pub fn csrf_for(session_value: &str) -> String {
    let mut input = b"coffer-csrf-v1\0".to_vec();
    input.extend_from_slice(session_value.as_bytes());
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &input);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(d.as_ref())
}

/// Compares a presented CSRF token with the session's in constant time.
pub fn csrf_matches(session_value: &str, presented: &str) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(
        csrf_for(session_value).as_bytes(),
        presented.as_bytes(),
    )
    .is_ok()
}

impl Coffer {
    /// Checks a user's password and starts a session: in org `slug` for its members, or, with
    /// an empty `slug`, deployment-wide for the operator. Wrong user, org, password or
    /// membership all answer the same sentence (and cost the same time: one Argon2id hash,
    /// against a decoy when the user has no password). The attempt is reserved with the limiter
    /// before any of that, so concurrent guesses cannot outrun it.
    pub async fn sign_in(
        &self,
        slug: &str,
        user: &str,
        password: Zeroizing<String>,
        source: &str,
    ) -> std::result::Result<SignedIn, SignInError> {
        let account = format!(
            "{slug}/{}",
            crate::service::audit_log::failed_auth::cap(user)
        );
        let attempt = self
            .sign_in_guard
            .reserve(&account, source)
            .map_err(SignInError::TooMany)?;
        let org = match OrgSlug::parse(slug) {
            Ok(s) => self.catalog.org_by_slug(&s).await.ok(),
            Err(_) => None,
        };
        let found = match UserName::parse(user) {
            Ok(n) => match self.catalog.user_by_name(&n).await {
                Ok(u) => Some(u),
                Err(CatalogError::NotFound) => None,
                Err(e) => return Err(Error::catalog(e, || "user".into()).into()),
            },
            Err(_) => None,
        };
        let phc = match &found {
            Some(u) => self
                .catalog
                .password_hash(u.id)
                .await
                .map_err(|e| Error::catalog(e, || "password".into()))?,
            None => None,
        };
        let matches = self.sign_in_guard.verify(phc, password).await?;
        let scope = match (&org, &found) {
            (None, Some(u)) if matches && slug.is_empty() && u.kind == IdentityKind::Operator => {
                Some(None)
            }
            (Some(o), Some(u)) if matches && u.kind == IdentityKind::Person => self
                .catalog
                .list_members(o.id)
                .await
                .map_err(|e| Error::catalog(e, || "members".into()))?
                .into_iter()
                .find(|m| m.user.id == u.id)
                .map(|_| Some(o.id)),
            _ => None,
        };
        let (Some(org_id), Some(user)) = (scope, found) else {
            drop(attempt);
            let failure = Failure {
                source: Some(source),
                user: Some(user),
                token: None,
            };
            self.failed_auth(Some(slug), "sign_in_failed", Some(failure));
            return Err(Error::Unauthenticated(
                "wrong org, user name or password; check all three (the operator signs in with an empty org)".into(),
            )
            .into());
        };
        attempt.succeeded();
        if let Some(org) = org_id
            && user.kind == IdentityKind::Person
            && self.sso_required(org).await?
        {
            let failure = Failure {
                source: Some(source),
                user: Some(user.name.as_str()),
                token: None,
            };
            self.failed_auth(Some(slug), "sign_in_sso_required", Some(failure));
            return Err(Error::Forbidden(format!(
                "org `{slug}` signs its people in through single sign-on only; use \"Sign in with SSO\" (or `coffer login`)"
            ))
            .into());
        }
        let value = tokens::generate_with(tokens::SESSION_PREFIX);
        let now = Timestamp::now();
        let session = SessionRecord {
            id: TokenId::new(),
            hash: session_hash(&value),
            user: user.id,
            org: org_id,
            created_at: now,
            expires_at: now.plus(SESSION_LIFETIME),
            revoked_at: None,
        };
        let details = serde_json::json!({"session_id": session.id.to_string(), "source": source});
        let audit = org_id.map(|org| {
            AuditDraft::new(
                org,
                Some(user.id),
                user.name.as_str(),
                "session.create",
                "session",
                details,
            )
        });
        if org_id.is_none() {
            tracing::info!(session_id = %session.id, source, "the operator signed in");
        }
        self.catalog
            .create_session(session.clone(), audit)
            .await
            .map_err(|e| Error::catalog(e, || "session".into()))?;
        let csrf = csrf_for(&value);
        Ok(SignedIn {
            session,
            value,
            csrf,
        })
    }

    /// Resolves a session cookie value to the actor it stands for.
    pub async fn authenticate_session(&self, value: &str) -> Result<Actor> {
        let ended =
            || Error::Unauthenticated("your session has ended; sign in again at /login".into());
        if !tokens::well_formed_with(tokens::SESSION_PREFIX, value) {
            return Err(ended());
        }
        let p = self
            .catalog
            .session(&session_hash(value))
            .await
            .map_err(|e| Error::catalog(e, || "session".into()))?
            .ok_or_else(ended)?;
        let live = p.session.revoked_at.is_none() && p.session.expires_at > Timestamp::now();
        let actor = match (p.user.kind, p.session.org, p.role) {
            (IdentityKind::Operator, None, _) => {
                Some(Actor::operator(p.user.id, p.user.name, p.session.id))
            }
            (IdentityKind::Person, Some(org), Some(role)) => Actor::member(
                p.user.id,
                p.user.name,
                IdentityKind::Person,
                Membership { org, role },
                p.session.id,
            ),
            _ => None,
        };
        actor.filter(|_| live).ok_or_else(ended)
    }

    /// Ends the session with this cookie value (idempotent).
    pub async fn sign_out(&self, value: &str) -> Result<()> {
        let actor = match self.authenticate_session(value).await {
            Ok(a) => a,
            Err(_) => return Ok(()),
        };
        let details = serde_json::json!({"session_id": actor.token.to_string()});
        let audit = actor
            .org()
            .map(|org| event(&actor, org, "session.revoke", "session", details));
        self.catalog
            .revoke_session(&session_hash(value), Timestamp::now(), audit)
            .await
            .map(drop)
            .map_err(|e| Error::catalog(e, || "session".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csrf_tokens_are_bound_to_their_session() {
        let (a, b) = ("coffer_s_aaaa", "coffer_s_bbbb");
        assert_ne!(csrf_for(a), csrf_for(b));
        assert!(csrf_matches(a, &csrf_for(a)));
        assert!(!csrf_matches(a, &csrf_for(b)));
        assert!(!csrf_matches(a, ""));
    }
}
