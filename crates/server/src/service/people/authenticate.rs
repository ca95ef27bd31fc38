//! Who is calling: a bearer token resolved to an [`Actor`]. The identity's kind decides the
//! actor's shape — the operator acts deployment-wide and never in an org; everyone else acts in
//! the one org the token is scoped to, with their role there now (a removed member's token is
//! refused). Failures are recorded without the token's value.

use crate::catalog::Principal;
use crate::domain::policy::{Actor, Membership};
use crate::domain::{IdentityKind, Timestamp};
use crate::service::{Coffer, Error, Result, tokens};

impl Coffer {
    /// Resolves a bearer token (if any) to an actor. Every failure is recorded: with a known
    /// token of an org member in the token's org (revoked, expired, no longer a member); without
    /// one (missing, malformed, unknown) against the org named by the request path (see
    /// [`Coffer::failed_auth`]). The raw token is never recorded.
    pub async fn authenticate(&self, token: Option<&str>, path_org: Option<&str>) -> Result<Actor> {
        let hash = self.presented(token, path_org)?;
        self.authenticate_hash(&hash, path_org).await
    }

    /// [`Coffer::authenticate`] of a well-formed token's hash ([`Coffer::presented`]).
    pub async fn authenticate_hash(
        &self,
        hash: &[u8; 32],
        path_org: Option<&str>,
    ) -> Result<Actor> {
        let principal = self
            .catalog
            .authenticate(hash)
            .await
            .map_err(|e| Error::catalog(e, || "token".into()))?;
        self.admit_principal(principal, path_org)
    }

    /// The hash of a bearer token that is there and has a Coffer API token's form; a missing,
    /// malformed or SCIM token is refused (and recorded) without a lookup.
    pub fn presented(&self, token: Option<&str>, path_org: Option<&str>) -> Result<[u8; 32]> {
        let refused = match token {
            None => (
                "missing_token",
                "missing `Authorization: Bearer <token>` header; set COFFER_TOKEN",
            ),
            Some(t) if tokens::well_formed_with(tokens::SCIM_PREFIX, t) => (
                "scim_token",
                "this is a SCIM token, which works only at /scim/v2 (for the org's identity provider); use an API token here",
            ),
            Some(t) if !tokens::well_formed(t) => (
                "malformed_token",
                "the token is malformed; Coffer tokens start with `coffer_`",
            ),
            Some(t) => return Ok(tokens::hash(t)),
        };
        let (reason, message) = refused;
        self.failed_auth(path_org, reason, None);
        Err(Error::Unauthenticated(message.into()))
    }

    /// The actor a looked-up token hash stands for, or the refusal (recorded) of an unknown,
    /// revoked or expired token or of one whose user is no longer a member of its org.
    pub(crate) fn admit_principal(
        &self,
        principal: Option<Principal>,
        path_org: Option<&str>,
    ) -> Result<Actor> {
        let Some(principal) = principal else {
            self.failed_auth(path_org, "unknown_token", None);
            return Err(Error::Unauthenticated(
                "unknown token; create one with `coffer token create`".into(),
            ));
        };
        let t = &principal.token;
        let user = &principal.user;
        let now = Timestamp::now();
        let actor = match (user.kind, t.org, principal.role) {
            (IdentityKind::Operator, None, _) => {
                Some(Actor::operator(user.id, user.name.clone(), t.id))
            }
            (_, Some(org), Some(role)) => Actor::member(
                user.id,
                user.name.clone(),
                user.kind,
                Membership { org, role },
                t.id,
            ),
            _ => None,
        };
        let refusal = if let Some(at) = t.revoked_at {
            Some(("revoked", format!("this token was revoked at {at}")))
        } else if let Some(at) = t.expires_at.filter(|at| *at <= now) {
            Some(("expired", format!("this token expired at {at}")))
        } else if actor.is_none() {
            Some((
                "not_a_member",
                "this token's user is no longer a member of its org".to_owned(),
            ))
        } else {
            None
        };
        if let Some((reason, message)) = refusal {
            match t.org {
                Some(org) => self.failed_auth_in(org, reason, Some(t.id)),
                None => tracing::info!(reason, token_id = %t.id, "refused an operator token"),
            }
            return Err(Error::Unauthenticated(format!(
                "{message}; create a new one with `coffer token create`"
            )));
        }
        Ok(actor.expect("checked above"))
    }

    /// The org record of the actor's credential (`NotFound` for the operator, who has none).
    pub async fn actor_org(&self, actor: &Actor) -> Result<crate::catalog::OrgRecord> {
        let Some(org) = actor.org() else {
            return Err(Error::NotFound(
                "the operator acts deployment-wide and belongs to no org".into(),
            ));
        };
        self.catalog
            .org_by_id(org)
            .await
            .map_err(|e| Error::catalog(e, || "org".into()))
    }
}
