//! Web UI use cases: set a password, sign in (a session in one org, like a token), resolve a
//! session cookie to an [`Actor`], sign out.
//!
//! A session acts exactly like a token of its user in its org: the same policy, the same audit
//! trail (the session id stands where a token id would). Session values are `coffer_s_` + 43
//! base64url characters (256 random bits); only their SHA-256 is stored. The CSRF token is
//! derived from the session value (SHA-256 of a label and the value), so it is bound to the
//! session, needs no storage, and a page that cannot read the HttpOnly cookie learns it only
//! from the sign-in or `GET /api/v1/session` answer.

use super::web_guard::{SignInGuard, check_new_password};
use super::*;
use crate::catalog::{SessionRecord, UserRecord};
use base64::Engine;
use std::time::Duration;
use zeroize::Zeroizing;

/// Prefix of every session value.
pub const SESSION_PREFIX: &str = "coffer_s_";
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

fn well_formed_session(s: &str) -> bool {
    s.strip_prefix(SESSION_PREFIX).is_some_and(|rest| {
        rest.len() == 43
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

impl Coffer {
    /// Sets `user`'s password (the caller's own, or, for admins, a member's of their org) and
    /// signs the user out everywhere. Owners' passwords only owners may set.
    pub async fn set_password(
        &self,
        actor: &Actor,
        slug: &OrgSlug,
        user: &UserName,
        password: Zeroizing<String>,
        guard: &SignInGuard,
    ) -> Result<()> {
        let own = *user == actor.name;
        let org = self.org_for(actor, slug, Action::ReadOrg).await?;
        let members = self
            .catalog
            .list_members(org.id)
            .await
            .map_err(|e| Error::catalog(e, || "members".into()))?;
        let target = members
            .iter()
            .find(|m| m.user.name == *user)
            .ok_or_else(|| {
                Error::NotFound(format!("user `{user}` is not a member of org `{slug}`"))
            })?;
        if !own {
            self.org_for(actor, slug, Action::GrantRole(target.role))
                .await?;
        }
        check_new_password(&password)?;
        let phc = guard.hash(password).await?;
        let audit = event(
            actor,
            org.id,
            "user.passwd",
            user.as_str(),
            serde_json::json!({"own": own}),
        );
        self.catalog
            .set_password(target.user.id, phc, Timestamp::now(), audit)
            .await
            .map_err(|e| Error::catalog(e, || format!("user `{user}`")))
    }

    /// Checks a user's password for `slug` and starts a session there. Wrong user, org,
    /// password or membership all answer the same sentence (and cost the same time).
    pub async fn sign_in(
        &self,
        slug: &str,
        user: &str,
        password: Zeroizing<String>,
        source: &str,
        guard: &SignInGuard,
    ) -> std::result::Result<SignedIn, SignInError> {
        let account = format!("{slug}/{user}");
        if let Some(wait) = guard.blocked(&account, source) {
            return Err(SignInError::TooMany(wait));
        }
        let org = match OrgSlug::parse(slug) {
            Ok(s) => self.catalog.org_by_slug(&s).await.ok(),
            Err(_) => None,
        };
        let found: Option<UserRecord> = match UserName::parse(user) {
            Ok(n) => self.catalog.user_by_name(&n).await.ok(),
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
        let matches = guard.verify(phc, password).await?;
        let role = match (&org, &found) {
            (Some(o), Some(u)) if matches => self
                .catalog
                .list_members(o.id)
                .await
                .map_err(|e| Error::catalog(e, || "members".into()))?
                .into_iter()
                .find(|m| m.user.id == u.id)
                .map(|m| m.role),
            _ => None,
        };
        let (Some(org), Some(user), Some(_role)) = (org.clone(), found, role) else {
            guard.failed(&account, source);
            if let Some(o) = &org {
                let details =
                    serde_json::json!({"reason": "sign_in_failed", "user": user, "source": source});
                let draft =
                    AuditDraft::new(o.id, None, "anonymous", "auth.failed", "session", details);
                self.catalog
                    .append_audit(draft)
                    .await
                    .map_err(|e| Error::catalog(e, || "audit".into()))?;
            }
            return Err(Error::Unauthenticated(
                "wrong org, user name or password; check all three (passwords are set with `coffer user passwd`)".into(),
            )
            .into());
        };
        let value = Zeroizing::new(format!(
            "{SESSION_PREFIX}{}",
            &tokens::generate()[tokens::PREFIX.len()..]
        ));
        let now = Timestamp::now();
        let session = SessionRecord {
            id: TokenId::new(),
            hash: session_hash(&value),
            user: user.id,
            org: org.id,
            created_at: now,
            expires_at: now.plus(SESSION_LIFETIME),
            revoked_at: None,
        };
        let details = serde_json::json!({"session_id": session.id.to_string(), "source": source});
        let audit = AuditDraft::new(
            org.id,
            Some(user.id),
            user.name.as_str(),
            "session.create",
            "session",
            details,
        );
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
        if !well_formed_session(value) {
            return Err(ended());
        }
        let p = self
            .catalog
            .session(&session_hash(value))
            .await
            .map_err(|e| Error::catalog(e, || "session".into()))?
            .ok_or_else(ended)?;
        let live = p.session.revoked_at.is_none() && p.session.expires_at > Timestamp::now();
        match p.role {
            Some(role) if live => Ok(Actor {
                user: p.user.id,
                name: p.user.name,
                org: p.session.org,
                role,
                operator: p.user.operator,
                token: p.session.id,
            }),
            _ => Err(ended()),
        }
    }

    /// Ends the session with this cookie value (idempotent).
    pub async fn sign_out(&self, value: &str) -> Result<()> {
        let actor = match self.authenticate_session(value).await {
            Ok(a) => a,
            Err(_) => return Ok(()),
        };
        let details = serde_json::json!({"session_id": actor.token.to_string()});
        let audit = event(&actor, actor.org, "session.revoke", "session", details);
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
