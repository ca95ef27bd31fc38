//! Credentials, which belong to their identity: a person mints their own tokens and sets their
//! own password; an org's admins mint tokens for the org's service accounts (never for people);
//! the operator mints its own deployment-wide tokens and may *reset* a person — revoking every
//! token, session and password of theirs and handing out a one-time code (`coffer_r_…`) with
//! which the person sets a new password. Nobody else's credential is ever created or set here.

use crate::audit::AuditDraft;
use crate::catalog::{CatalogError, Redemption, ResetRecord, TokenRecord, UserRecord};
use crate::domain::policy::{Action, Actor, Decision, Resource, authorize};
use crate::domain::{IdentityKind, Lifetime, OrgSlug, ResetId, Role, Timestamp, TokenId, UserName};
use crate::service::web::guard::check_new_password;
use crate::service::{Coffer, Error, Result, event, tokens};
use std::time::Duration;
use zeroize::Zeroizing;

/// How long a reset code lasts unless the operator says otherwise.
pub const RESET_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// Whose token to mint.
#[derive(Clone, Debug)]
pub enum TokenHolder {
    /// The caller's own (a person's personal token; the operator's own token).
    Caller,
    /// One of the org's service accounts.
    ServiceAccount(UserName),
}

fn check_label(name: &str) -> Result<()> {
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(Error::InvalidInput(
            "token name must be 1 to 100 printable characters".into(),
        ));
    }
    Ok(())
}

/// A new token record for `user` scoped to `org` (`None`: deployment-wide) and its value.
fn new_token(
    user: &UserRecord,
    org: Option<crate::domain::OrgId>,
    name: String,
    lifetime: Option<Lifetime>,
) -> (TokenRecord, Zeroizing<String>) {
    let value = tokens::generate();
    let now = Timestamp::now();
    let record = TokenRecord {
        id: TokenId::new(),
        hash: tokens::hash(&value),
        user: user.id,
        user_name: user.name.clone(),
        org,
        name,
        created_at: now,
        expires_at: lifetime.map(|l| now.plus(l.duration())),
        revoked_at: None,
    };
    (record, value)
}

fn token_details(t: &TokenRecord) -> serde_json::Value {
    serde_json::json!({
        "token_id": t.id.to_string(),
        "name": t.name,
        "expires_at": t.expires_at.map(|t| t.to_string()),
    })
}

fn operator_only(actor: &Actor) -> Result<()> {
    if authorize(actor, Action::ResetCredentials, Resource::Deployment) == Decision::Allow {
        Ok(())
    } else {
        Err(Error::Forbidden(
            "only the deployment's operator can do this".into(),
        ))
    }
}

impl Coffer {
    /// Mints a token scoped to the org: the caller's own personal token, or a service account's.
    /// Returns the record and the value, which is shown once and never stored.
    pub async fn create_token(
        &self,
        actor: &Actor,
        slug: &OrgSlug,
        holder: TokenHolder,
        name: Option<String>,
        lifetime: Option<Lifetime>,
    ) -> Result<(TokenRecord, Zeroizing<String>)> {
        let name = name.unwrap_or_else(|| "cli".into());
        check_label(&name)?;
        let org = self.org_for(actor, slug, Action::ReadOrg).await?;
        let (user, action, target) = match &holder {
            TokenHolder::Caller => {
                let me = self
                    .catalog
                    .user_by_id(actor.user)
                    .await
                    .map_err(|e| Error::catalog(e, || "user".into()))?;
                let target = actor.audit_name();
                (me, Action::CreateOwnToken, target)
            }
            TokenHolder::ServiceAccount(sa) => {
                self.org_for(actor, slug, Action::ListMembers).await?;
                let m = self
                    .member_named(&org, &super::MemberRef::Service(sa.clone()))
                    .await?;
                (
                    m.user,
                    Action::CreateServiceToken(m.role),
                    format!("svc:{sa}"),
                )
            }
        };
        if actor.is_operator() {
            return Err(Error::Forbidden(
                "the operator's tokens act deployment-wide and never in an org; an org's own people and service accounts hold its tokens".into(),
            ));
        }
        self.org_for(actor, slug, action).await?;
        let (record, value) = new_token(&user, Some(org.id), name, lifetime);
        let audit = event(
            actor,
            org.id,
            "token.create",
            format!("{target}/{}", record.name),
            token_details(&record),
        );
        self.catalog
            .create_token(record.clone(), Some(audit))
            .await
            .map_err(|e| Error::catalog(e, || "token".into()))?;
        Ok((record, value))
    }

    /// Tokens of an org (metadata only).
    pub async fn tokens(&self, actor: &Actor, slug: &OrgSlug) -> Result<Vec<TokenRecord>> {
        let org = self.org_for(actor, slug, Action::ListTokens).await?;
        self.catalog
            .list_tokens(Some(org.id))
            .await
            .map_err(|e| Error::catalog(e, || "tokens".into()))
    }

    /// Revokes a token of the org: anyone their own, admins those of identities at most their
    /// own role.
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
        let token = self
            .catalog
            .token(Some(org.id), id)
            .await
            .map_err(|e| Error::catalog(e, not_found))?;
        let own = token.user == actor.user;
        let holder = self
            .catalog
            .list_members(org.id)
            .await
            .map_err(|e| Error::catalog(e, || "members".into()))?
            .into_iter()
            .find(|m| m.user.id == token.user)
            .map_or(Role::Auditor, |m| m.role);
        let org = self
            .org_for(actor, slug, Action::RevokeToken { own, holder })
            .await?;
        let audit = event(
            actor,
            org.id,
            "token.revoke",
            format!("{}/{}", token.user_name, token.name),
            serde_json::json!({"token_id": id.to_string()}),
        );
        self.catalog
            .revoke_token(Some(org.id), id, Timestamp::now(), Some(audit))
            .await
            .map_err(|e| Error::catalog(e, not_found))
    }

    /// Mints another deployment-wide token for the operator (operator only).
    pub async fn create_operator_token(
        &self,
        actor: &Actor,
        name: Option<String>,
        lifetime: Option<Lifetime>,
    ) -> Result<(TokenRecord, Zeroizing<String>)> {
        operator_only(actor)?;
        let name = name.unwrap_or_else(|| "cli".into());
        check_label(&name)?;
        let me = self
            .catalog
            .user_by_id(actor.user)
            .await
            .map_err(|e| Error::catalog(e, || "operator".into()))?;
        let (record, value) = new_token(&me, None, name, lifetime);
        self.catalog
            .create_token(record.clone(), None)
            .await
            .map_err(|e| Error::catalog(e, || "token".into()))?;
        tracing::info!(token_id = %record.id, name = %record.name, "the operator minted a token");
        Ok((record, value))
    }

    /// The operator's tokens (operator only).
    pub async fn operator_tokens(&self, actor: &Actor) -> Result<Vec<TokenRecord>> {
        operator_only(actor)?;
        self.catalog
            .list_tokens(None)
            .await
            .map_err(|e| Error::catalog(e, || "tokens".into()))
    }

    /// Revokes one of the operator's tokens (operator only).
    pub async fn revoke_operator_token(&self, actor: &Actor, id: TokenId) -> Result<TokenRecord> {
        operator_only(actor)?;
        let t = self
            .catalog
            .revoke_token(None, id, Timestamp::now(), None)
            .await
            .map_err(|e| Error::catalog(e, || format!("operator token {id}")))?;
        tracing::info!(token_id = %id, "the operator revoked a token");
        Ok(t)
    }

    /// Audit drafts for something that happened to `user`'s credentials, one in each org they
    /// belong to (an org's members see their people's credential changes).
    async fn in_each_org(
        &self,
        user: &UserRecord,
        by: Option<&Actor>,
        action: &'static str,
        details: serde_json::Value,
    ) -> Result<Vec<AuditDraft>> {
        let orgs = self
            .catalog
            .memberships(user.id)
            .await
            .map_err(|e| Error::catalog(e, || "memberships".into()))?;
        Ok(orgs
            .iter()
            .map(|m| match by {
                Some(a) => event(a, m.org, action, user.name.as_str(), details.clone()),
                None => AuditDraft::new(
                    m.org,
                    Some(user.id),
                    user.name.as_str(),
                    action,
                    user.name.as_str(),
                    details.clone(),
                ),
            })
            .collect())
    }

    /// Sets the caller's own password (a person's, or the operator's) and signs them out
    /// everywhere. If they have one, `current` must match it.
    pub async fn set_own_password(
        &self,
        actor: &Actor,
        current: Option<Zeroizing<String>>,
        password: Zeroizing<String>,
    ) -> Result<()> {
        if actor.kind() == IdentityKind::Service {
            return Err(Error::Forbidden(
                "service accounts authenticate with tokens and have no password".into(),
            ));
        }
        check_new_password(&password)?;
        let me = self
            .catalog
            .user_by_id(actor.user)
            .await
            .map_err(|e| Error::catalog(e, || "user".into()))?;
        let stored = self
            .catalog
            .password_hash(me.id)
            .await
            .map_err(|e| Error::catalog(e, || "password".into()))?;
        if stored.is_none() && me.kind == IdentityKind::Person {
            // An org's provider may act as a person in that org only; a first password would
            // reach every org of theirs. So a person ever linked to a provider (the link may
            // since be forgotten) gets one only through the operator's reset (docs/sso.md).
            let linked = self
                .catalog
                .ever_linked(me.id)
                .await
                .map_err(|e| Error::catalog(e, || "single sign-on".into()))?;
            if linked {
                return Err(Error::Forbidden(
                    "you sign in through single sign-on and have no Coffer password; a first password comes from the operator's reset (`coffer user reset`), so an org's provider can never set one for you".into(),
                ));
            }
        }
        if stored.is_some() {
            let Some(current) = current else {
                return Err(Error::ProofRequired {
                    code: "current_password_required",
                    message: "give your current password too (current_password) to change it; if you lost it, ask the operator for a reset".into(),
                });
            };
            if !self.sign_in_guard.verify(stored, current).await? {
                return Err(Error::ProofRequired {
                    code: "current_password_wrong",
                    message: "the current password is wrong; nothing changed".into(),
                });
            }
        }
        let phc = self.sign_in_guard.hash(password).await?;
        let audit = self
            .in_each_org(
                &me,
                Some(actor),
                "user.passwd",
                serde_json::json!({"own": true}),
            )
            .await?;
        self.catalog
            .set_password(me.id, phc, Timestamp::now(), audit)
            .await
            .map_err(|e| Error::catalog(e, || format!("user `{}`", me.name)))?;
        if me.kind == IdentityKind::Operator {
            tracing::info!("the operator changed its password");
        }
        Ok(())
    }

    /// The operator resets a person's credentials: every token, session and the password are
    /// revoked at once, and a one-time code (shown once) lets the person set a new password.
    pub async fn reset_credentials(
        &self,
        actor: &Actor,
        name: &UserName,
        lifetime: Option<Lifetime>,
    ) -> Result<(ResetRecord, Zeroizing<String>)> {
        operator_only(actor)?;
        let not_person = || {
            Error::NotFound(format!(
                "no person is named `{name}` (only people have credentials to reset)"
            ))
        };
        let user = match self.catalog.user_by_name(name).await {
            Ok(u) if u.kind == IdentityKind::Person => u,
            Ok(_) | Err(CatalogError::NotFound) => return Err(not_person()),
            Err(e) => return Err(Error::catalog(e, || format!("user `{name}`"))),
        };
        let lifetime = lifetime.map_or(RESET_LIFETIME, Lifetime::duration);
        if lifetime > super::invitations::MAX_LIFETIME {
            return Err(Error::InvalidInput(
                "a reset code lasts at most 30 days; ask for a shorter expires_in_seconds".into(),
            ));
        }
        let code = tokens::generate_with(tokens::RESET_PREFIX);
        let now = Timestamp::now();
        let reset = ResetRecord {
            id: ResetId::new(),
            hash: tokens::hash(&code),
            user: user.id,
            created_at: now,
            expires_at: now.plus(lifetime),
            used_at: None,
        };
        let details = serde_json::json!({"reset_id": reset.id.to_string(), "expires_at": reset.expires_at.to_string()});
        let audit = self
            .in_each_org(&user, Some(actor), "user.reset", details)
            .await?;
        self.catalog
            .reset_credentials(reset.clone(), audit)
            .await
            .map_err(|e| match e {
                CatalogError::NotFound => not_person(),
                other => Error::catalog(other, || format!("user `{name}`")),
            })?;
        Ok((reset, code))
    }

    /// Redeems a reset code: sets the person's new password and, if `org` is given (one of
    /// theirs), mints them a personal token there.
    pub async fn redeem_reset(
        &self,
        code: &str,
        password: Zeroizing<String>,
        org: Option<&OrgSlug>,
    ) -> Result<(UserRecord, Option<(TokenRecord, Zeroizing<String>)>)> {
        let unknown = || {
            Error::NotFound(
                "this reset code is unknown; check it was copied whole, or ask the operator for a new one".into(),
            )
        };
        if !tokens::well_formed_with(tokens::RESET_PREFIX, code) {
            return Err(unknown());
        }
        let reset = self
            .catalog
            .reset(&tokens::hash(code))
            .await
            .map_err(|e| Error::catalog(e, || "reset".into()))?
            .ok_or_else(unknown)?;
        let now = Timestamp::now();
        if !crate::catalog::rules::code_usable(reset.used_at, None, reset.expires_at, now) {
            return Err(Error::Gone(
                "this reset code was already used or has expired; ask the operator for a new one"
                    .into(),
            ));
        }
        check_new_password(&password)?;
        let user = self
            .catalog
            .user_by_id(reset.user)
            .await
            .map_err(|e| Error::catalog(e, || "user".into()))?;
        let token = match org {
            None => None,
            Some(slug) => {
                let found = self
                    .catalog
                    .memberships(user.id)
                    .await
                    .map_err(|e| Error::catalog(e, || "memberships".into()))?
                    .into_iter()
                    .find(|m| m.slug == *slug)
                    .ok_or_else(|| {
                        Error::NotFound(format!("`{}` is not a member of org `{slug}`", user.name))
                    })?;
                Some(new_token(&user, Some(found.org), "reset".into(), None))
            }
        };
        let phc = self.sign_in_guard.hash(password).await?;
        let mut audit = self
            .in_each_org(
                &user,
                None,
                "user.redeem",
                serde_json::json!({"reset_id": reset.id.to_string()}),
            )
            .await?;
        if let Some((t, _)) = &token
            && let Some(org) = t.org
        {
            audit.push(AuditDraft::new(
                org,
                Some(user.id),
                user.name.as_str(),
                "token.create",
                format!("{}/{}", user.name, t.name),
                token_details(t),
            ));
        }
        let redemption = Redemption {
            reset: reset.id,
            password: phc,
            token: token.as_ref().map(|(t, _)| t.clone()),
            at: now,
        };
        let user = self
            .catalog
            .redeem_reset(redemption, audit)
            .await
            .map_err(|e| match e {
                CatalogError::Refused(_) => Error::Gone(
                    "this reset code was already used or has expired; ask the operator for a new one".into(),
                ),
                other => Error::catalog(other, || "reset".into()),
            })?;
        Ok((user, token))
    }
}
