//! Who is calling and what they may manage: token authentication, members, and tokens.

use super::*;
use crate::catalog::{MemberRecord, NewUser, TokenRecord};
use zeroize::Zeroizing;

impl Coffer {
    /// Resolves a bearer token (if any) to an actor. Every failure is audited: with a known
    /// token in the token's org (revoked, expired, no longer a member); without one (missing,
    /// malformed, unknown) in the org named by the request path, if it exists. The raw token is
    /// never recorded.
    pub async fn authenticate(&self, token: Option<&str>, path_org: Option<&str>) -> Result<Actor> {
        let anonymous = match token {
            None => Some((
                "missing_token",
                "missing `Authorization: Bearer <token>` header; set COFFER_TOKEN",
            )),
            Some(t) if !tokens::well_formed(t) => Some((
                "malformed_token",
                "the token is malformed; Coffer tokens start with `coffer_`",
            )),
            Some(_) => None,
        };
        let principal = match (anonymous, token) {
            (None, Some(t)) => self
                .catalog
                .authenticate(&tokens::hash(t))
                .await
                .map_err(|e| Error::catalog(e, || "token".into()))?,
            _ => None,
        };
        let Some(principal) = principal else {
            let (reason, message) = anonymous.unwrap_or((
                "unknown_token",
                "unknown token; create one with `coffer token create`",
            ));
            self.audit_anonymous_failure(path_org, reason).await?;
            return Err(Error::Unauthenticated(message.into()));
        };
        let t = &principal.token;
        let now = Timestamp::now();
        let refusal = if let Some(at) = t.revoked_at {
            Some(("revoked", format!("this token was revoked at {at}")))
        } else if let Some(at) = t.expires_at.filter(|at| *at <= now) {
            Some(("expired", format!("this token expired at {at}")))
        } else if principal.role.is_none() {
            Some((
                "not_a_member",
                "this token's user is no longer a member of its org".to_owned(),
            ))
        } else {
            None
        };
        if let Some((reason, message)) = refusal {
            let details = serde_json::json!({"reason": reason, "token_id": t.id.to_string()});
            let draft = AuditDraft::new(
                t.org,
                Some(t.user),
                t.user_name.as_str(),
                "auth.failed",
                format!("token/{}", t.id),
                details,
            );
            self.catalog
                .append_audit(draft)
                .await
                .map_err(|e| Error::catalog(e, || "audit".into()))?;
            return Err(Error::Unauthenticated(format!(
                "{message}; create a new one with `coffer token create`"
            )));
        }
        Ok(Actor {
            user: principal.user.id,
            name: principal.user.name,
            org: t.org,
            role: principal.role.expect("checked above"),
            operator: principal.user.operator,
            token: t.id,
        })
    }

    /// Records a failed sign-in without a known token in the org the request was aimed at.
    async fn audit_anonymous_failure(&self, path_org: Option<&str>, reason: &str) -> Result<()> {
        let Some(slug) = path_org.and_then(|s| OrgSlug::parse(s).ok()) else {
            tracing::info!(reason, "rejected a request without a valid token");
            return Ok(());
        };
        let Ok(org) = self.catalog.org_by_slug(&slug).await else {
            tracing::info!(reason, "rejected a request without a valid token");
            return Ok(());
        };
        let details = serde_json::json!({"reason": reason});
        let draft = AuditDraft::new(org.id, None, "anonymous", "auth.failed", "token", details);
        self.catalog
            .append_audit(draft)
            .await
            .map_err(|e| Error::catalog(e, || "audit".into()))
    }

    /// The org slug of the actor's token.
    pub async fn actor_org(&self, actor: &Actor) -> Result<OrgRecord> {
        self.catalog
            .org_by_id(actor.org)
            .await
            .map_err(|e| Error::catalog(e, || "org".into()))
    }

    /// Adds a user to an org (creating the user if new) or changes their role.
    pub async fn add_member(
        &self,
        actor: &Actor,
        slug: &OrgSlug,
        name: UserName,
        role: Role,
    ) -> Result<MemberRecord> {
        let org = self.org_for(actor, slug, Action::GrantRole(role)).await?;
        let members = self
            .catalog
            .list_members(org.id)
            .await
            .map_err(|e| Error::catalog(e, || "members".into()))?;
        let demoting_owner = members
            .iter()
            .any(|m| m.user.name == name && m.role == Role::Owner && role != Role::Owner);
        if demoting_owner
            && authorize(actor, Action::GrantRole(Role::Owner), Resource::Org(org.id))
                != Decision::Allow
        {
            return Err(Error::Forbidden(format!(
                "`{name}` is an owner of `{slug}`; only an owner can change an owner's role"
            )));
        }
        let user = NewUser {
            id: UserId::new(),
            name: name.clone(),
            operator: false,
            created_at: Timestamp::now(),
        };
        let audit = event(
            actor,
            org.id,
            "user.add",
            name.as_str(),
            serde_json::json!({"role": role}),
        );
        self.catalog
            .upsert_member(org.id, user, role, audit)
            .await
            .map_err(|e| Error::catalog(e, || format!("user `{name}`")))
    }

    /// Members of an org.
    pub async fn members(&self, actor: &Actor, slug: &OrgSlug) -> Result<Vec<MemberRecord>> {
        let org = self.org_for(actor, slug, Action::ListMembers).await?;
        self.catalog
            .list_members(org.id)
            .await
            .map_err(|e| Error::catalog(e, || "members".into()))
    }

    /// Creates a token for `user` (default: the caller) scoped to the org. Returns the record
    /// and the token value, which is shown once and never stored.
    pub async fn create_token(
        &self,
        actor: &Actor,
        slug: &OrgSlug,
        user: Option<UserName>,
        name: Option<String>,
        lifetime: Option<std::time::Duration>,
    ) -> Result<(TokenRecord, Zeroizing<String>)> {
        let user = user.unwrap_or_else(|| actor.name.clone());
        let org_rec = self.catalog.org_by_slug(slug).await.ok();
        let for_self = user == actor.name && org_rec.as_ref().is_some_and(|o| o.id == actor.org);
        let org = self
            .org_for(actor, slug, Action::CreateToken { for_self })
            .await?;
        let name = name.unwrap_or_else(|| "cli".into());
        if name.is_empty() || name.len() > 100 || name.chars().any(char::is_control) {
            return Err(Error::InvalidInput(
                "token name must be 1 to 100 printable characters".into(),
            ));
        }
        let members = self
            .catalog
            .list_members(org.id)
            .await
            .map_err(|e| Error::catalog(e, || "members".into()))?;
        let member = members.into_iter().find(|m| m.user.name == user).ok_or_else(|| {
            Error::NotFound(format!("user `{user}` is not a member of org `{slug}`; add them with `coffer user add {user} --org {slug} --role member`"))
        })?;
        let value = tokens::generate();
        let now = Timestamp::now();
        let record = TokenRecord {
            id: TokenId::new(),
            hash: tokens::hash(&value),
            user: member.user.id,
            user_name: member.user.name.clone(),
            org: org.id,
            name,
            created_at: now,
            expires_at: lifetime.map(|d| now.plus(d)),
            revoked_at: None,
        };
        let details = serde_json::json!({"token_id": record.id.to_string(), "expires_at": record.expires_at.map(|t| t.to_string())});
        let audit = event(
            actor,
            org.id,
            "token.create",
            format!("{}/{}", user, record.name),
            details,
        );
        self.catalog
            .create_token(record.clone(), audit)
            .await
            .map_err(|e| Error::catalog(e, || "token".into()))?;
        Ok((record, value))
    }

    /// Tokens of an org.
    pub async fn tokens(&self, actor: &Actor, slug: &OrgSlug) -> Result<Vec<TokenRecord>> {
        let org = self.org_for(actor, slug, Action::ListTokens).await?;
        self.catalog
            .list_tokens(org.id)
            .await
            .map_err(|e| Error::catalog(e, || "tokens".into()))
    }

    /// Revokes a token of the org (anyone may revoke their own).
    pub async fn revoke_token(
        &self,
        actor: &Actor,
        slug: &OrgSlug,
        id: TokenId,
    ) -> Result<TokenRecord> {
        let not_found = || format!("no token {id} in org `{slug}`");
        let org = self
            .catalog
            .org_by_slug(slug)
            .await
            .map_err(|e| Error::catalog(e, not_found))?;
        let token = match self.catalog.token(org.id, id).await {
            Ok(t) => t,
            Err(e) => return Err(Error::catalog(e, not_found)),
        };
        let org = self
            .org_for(
                actor,
                slug,
                Action::RevokeToken {
                    own: token.user == actor.user,
                },
            )
            .await?;
        let audit = event(
            actor,
            org.id,
            "token.revoke",
            format!("{}/{}", token.user_name, token.name),
            serde_json::json!({"token_id": id.to_string()}),
        );
        self.catalog
            .revoke_token(org.id, id, Timestamp::now(), audit)
            .await
            .map_err(|e| Error::catalog(e, not_found))
    }
}
