//! SCIM 2.0 provisioning per org (RFC 7643/7644, docs/scim.md): the org's SCIM tokens (here:
//! owners create, list and revoke them), who presents one ([`Coffer::authenticate_scim`]), and
//! the org's people ([`users`]) and groups ([`groups`]) as an identity provider sees them.
//!
//! A SCIM token is a credential of the *org*, not of an identity: it is good only at `/scim/v2`
//! (and no API token or session is good there), acts in its own org only, and with the power of
//! an admin (`domain::policy::authorize_scim`), so it never touches an owner. What it may do
//! keeps the tenancy invariant of docs/threat-model.md: it creates only *new* people (a name
//! taken by anyone, in any org, is a conflict, never an adoption), it ends and restores
//! memberships in its org only, and a person it did not create is never made a member by it —
//! except one it deactivated itself. Every change is an audit event of the org with
//! `"via": "scim"` and the token's id, by the actor `scim:NAME`.

pub mod groups;
pub mod users;

use crate::catalog::{CatalogError, OrgRecord, ScimTokenRecord};
use crate::domain::policy::{Action, Actor, Decision, ScimAction, authorize_scim};
use crate::domain::{OrgSlug, ScimTokenId, Timestamp};
use crate::service::{Coffer, Error, Result, event, tokens};
use zeroize::Zeroizing;

pub use groups::{ScimGroup, ScimGroupInput};
pub use users::{ScimPerson, ScimUserInput};

/// Longest `displayName` or `externalId` Coffer stores, in characters.
pub const MAX_TEXT: usize = 256;

/// The org's SCIM token, presented at `/scim/v2`.
#[derive(Clone, Debug)]
pub struct ScimActor {
    /// The org it provisions.
    pub org: OrgRecord,
    /// The token.
    pub token: ScimTokenId,
    /// The token's label.
    pub name: String,
}

impl ScimActor {
    /// How it is named in audit events.
    pub fn audit_name(&self) -> String {
        format!("scim:{}", self.name)
    }

    /// An audit event by this token in its org; `details` gain `"via": "scim"` and the token's
    /// id.
    fn event(
        &self,
        action: &'static str,
        target: impl Into<String>,
        mut details: serde_json::Value,
    ) -> crate::audit::AuditDraft {
        if let Some(d) = details.as_object_mut() {
            d.insert("via".into(), "scim".into());
            d.insert("scim_token".into(), self.token.to_string().into());
        }
        crate::audit::AuditDraft::new(
            self.org.id,
            None,
            self.audit_name(),
            action,
            target,
            details,
        )
    }

    /// Checks `action` against what a SCIM token may do (an admin's power over people and
    /// groups); `whom` names the person or group in the refusal.
    fn may(&self, action: ScimAction, whom: &str) -> Result<()> {
        match authorize_scim(action) {
            Decision::Allow => Ok(()),
            Decision::NotFound | Decision::Forbidden => Err(Error::Forbidden(format!(
                "the org's SCIM token acts with an admin's power, so it cannot change, deactivate or delete {whom}, who is an owner of org `{}`; owners manage owners in Coffer",
                self.org.slug
            ))),
        }
    }
}

/// A created SCIM token and its value (shown once).
pub struct CreatedScimToken {
    /// The record.
    pub record: ScimTokenRecord,
    /// The value: `coffer_scim_` + 43 base64url characters.
    pub value: Zeroizing<String>,
}

/// Checks free text the client sets (`displayName`, `externalId`, a token's label): `None` for
/// an empty one, else 1 to `max` characters, none a control character.
fn text(what: &str, v: Option<String>, max: usize) -> Result<Option<String>> {
    match v {
        None => Ok(None),
        Some(v) if v.is_empty() => Ok(None),
        Some(v) if v.chars().count() > max || v.chars().any(char::is_control) => {
            Err(Error::Rejected {
                code: "invalidValue",
                message: format!(
                    "{what} must be at most {max} characters, none of them a control character"
                ),
            })
        }
        Some(v) => Ok(Some(v)),
    }
}

fn token_not_found(slug: &OrgSlug, id: ScimTokenId) -> Error {
    Error::NotFound(format!("org `{slug}` has no SCIM token {id}"))
}

impl Coffer {
    /// Creates a SCIM token for the org (owners). Its value is returned once; only its SHA-256
    /// is stored.
    pub async fn create_scim_token(
        &self,
        actor: &Actor,
        slug: &OrgSlug,
        name: String,
    ) -> Result<CreatedScimToken> {
        let org = self.org_for(actor, slug, Action::ManageScim).await?;
        if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
            return Err(Error::InvalidInput(
                "name must be 1 to 100 characters, none of them a control character".into(),
            ));
        }
        let value = tokens::generate_with(tokens::SCIM_PREFIX);
        let record = ScimTokenRecord {
            id: ScimTokenId::new(),
            hash: tokens::hash(&value),
            org: org.id,
            name,
            created_at: Timestamp::now(),
            created_by: actor.audit_name(),
            revoked_at: None,
        };
        let audit = event(
            actor,
            org.id,
            "scim.token_create",
            format!("scim:{}", record.name),
            serde_json::json!({"scim_token": record.id.to_string(), "name": record.name}),
        );
        self.catalog
            .create_scim_token(record.clone(), audit)
            .await
            .map_err(|e| Error::catalog(e, || "SCIM token".into()))?;
        Ok(CreatedScimToken { record, value })
    }

    /// The org's SCIM tokens, newest first (admins and owners; metadata only).
    pub async fn scim_tokens(&self, actor: &Actor, slug: &OrgSlug) -> Result<Vec<ScimTokenRecord>> {
        let org = self.org_for(actor, slug, Action::ReadScim).await?;
        self.catalog
            .scim_tokens(org.id)
            .await
            .map_err(|e| Error::catalog(e, || "SCIM tokens".into()))
    }

    /// Revokes one of the org's SCIM tokens (owners): the next request with it is refused, on
    /// every node. Revoking again changes nothing.
    pub async fn revoke_scim_token(
        &self,
        actor: &Actor,
        slug: &OrgSlug,
        id: ScimTokenId,
    ) -> Result<ScimTokenRecord> {
        let org = self.org_for(actor, slug, Action::RevokeScimToken).await?;
        let audit = event(
            actor,
            org.id,
            "scim.token_revoke",
            format!("scim-token:{id}"),
            serde_json::json!({"scim_token": id.to_string()}),
        );
        self.catalog
            .revoke_scim_token(org.id, id, Timestamp::now(), audit)
            .await
            .map_err(|e| match e {
                CatalogError::NotFound => token_not_found(slug, id),
                other => Error::catalog(other, || "SCIM token".into()),
            })
    }

    /// Resolves the bearer token presented at `/scim/v2` to its org. Only a live SCIM token
    /// passes: an API token or a session is refused like a missing one, so a credential of a
    /// person never provisions, and a SCIM token never reads a secret.
    pub async fn authenticate_scim(&self, token: Option<&str>) -> Result<ScimActor> {
        let refuse = |m: &str| Err(Error::Unauthenticated(m.into()));
        let Some(token) = token else {
            return refuse(
                "missing `Authorization: Bearer <SCIM token>` header; an owner creates a SCIM token with POST /api/v1/orgs/{org}/scim/tokens",
            );
        };
        if !tokens::well_formed_with(tokens::SCIM_PREFIX, token) {
            self.failed_auth(None, "not_a_scim_token", None);
            return refuse(
                "/scim/v2 takes only a SCIM token (`coffer_scim_…`), which an owner creates with POST /api/v1/orgs/{org}/scim/tokens; API tokens and sessions are not accepted here",
            );
        }
        let found = self
            .catalog
            .scim_token(&tokens::hash(token))
            .await
            .map_err(|e| Error::catalog(e, || "SCIM token".into()))?;
        let Some(t) = found else {
            self.failed_auth(None, "unknown_scim_token", None);
            return refuse(
                "unknown SCIM token; an owner creates one with POST /api/v1/orgs/{org}/scim/tokens",
            );
        };
        if let Some(at) = t.revoked_at {
            self.failed_auth_in(t.org, "revoked_scim_token", None);
            return Err(Error::Unauthenticated(format!(
                "this SCIM token was revoked at {at}; an owner creates a new one"
            )));
        }
        let org = self
            .catalog
            .org_by_id(t.org)
            .await
            .map_err(|e| Error::catalog(e, || "org".into()))?;
        Ok(ScimActor {
            org,
            token: t.id,
            name: t.name,
        })
    }
}
