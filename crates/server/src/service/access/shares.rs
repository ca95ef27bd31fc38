//! One secret's access: share it with a person, service account or group (again: a new level),
//! unshare it, restrict it to its shares (or lift that), and answer who can see it and why.
//! Each takes `SecretAction::ManageAccess` on the secret — its `manage` right, or an owner's or
//! admin's role on a restricted secret they cannot see — and nobody shares above their own right
//! (`policy::may_share`).

use super::{facts, principal_text};
use crate::catalog::{CatalogError, OrgRecord, PrincipalId, SecretRecord, ShareRecord};
use crate::domain::policy::{
    AccessSet, Action, Actor, Decision, HeldGrant, HeldShare, Right, SecretAction, may_share,
    secret_right,
};
use crate::domain::{
    AccessLevel, GroupName, IdentityKind, OrgSlug, PrincipalName, Role, Scope, SecretName,
    Timestamp,
};
use crate::service::secrets::label;
use crate::service::{Coffer, Error, Result, event};

/// One identity's access to a secret, and where it comes from.
#[derive(Clone, Debug)]
pub struct AccessHolder {
    /// `user:NAME` or `svc:NAME`.
    pub principal: String,
    /// Person or service account.
    pub kind: IdentityKind,
    /// What it may do.
    pub right: Right,
    /// Each source: `role admin`, `grant OPS write via group:dba`, `share read`.
    pub because: Vec<String>,
}

/// Who can see a secret and why, and its shares.
#[derive(Clone, Debug)]
pub struct AccessReport {
    /// The secret.
    pub secret: SecretRecord,
    /// Everyone with any right, by principal.
    pub holders: Vec<AccessHolder>,
    /// Its shares, with their principal's name.
    pub shares: Vec<(String, ShareRecord)>,
}

impl Coffer {
    /// The org and the secret, once the actor may manage its access.
    async fn managed_secret(
        &self,
        actor: &Actor,
        slug: &OrgSlug,
        scope: &Scope,
        name: &SecretName,
    ) -> Result<(OrgRecord, SecretRecord, Option<Right>)> {
        let org = self.org_for(actor, slug, Action::ReadOrg).await?;
        let s = self
            .lookup(actor, &org, scope, name, SecretAction::ManageAccess)
            .await?;
        let right = self
            .check_secret(actor, &org, &s, SecretAction::ManageAccess)
            .await?;
        Ok((org, s, right))
    }

    /// Shares the secret with `with` at `level` (or changes that share's level).
    pub async fn share_secret(
        &self,
        actor: &Actor,
        slug: &OrgSlug,
        scope: &Scope,
        name: &SecretName,
        with: &PrincipalName,
        level: AccessLevel,
    ) -> Result<()> {
        let (org, s, right) = self.managed_secret(actor, slug, scope, name).await?;
        if may_share(actor, right, s.restricted, level) != Decision::Allow {
            return Err(Error::Forbidden(format!(
                "you cannot share `{}` at `{level}`: your own access to it is {}",
                label(scope, name),
                right.map_or("none", Right::as_str)
            )));
        }
        let principal = self.resolve_principal(&org, with).await?;
        let share = ShareRecord {
            secret: s.id,
            principal,
            level,
            created_at: Timestamp::now(),
            created_by: actor.audit_name(),
        };
        let details = serde_json::json!({"with": with.to_string(), "level": level});
        let audit = event(actor, org.id, "secret.share", label(scope, name), details);
        self.catalog
            .put_share(share, audit)
            .await
            .map_err(|e| match e {
                CatalogError::Refused(_) => {
                    Error::NotFound(format!("`{with}` is not in org `{slug}`"))
                }
                other => Error::catalog(other, || label(scope, name)),
            })
    }

    /// Removes the share of the secret with `with`; answers whether there was one.
    pub async fn unshare_secret(
        &self,
        actor: &Actor,
        slug: &OrgSlug,
        scope: &Scope,
        name: &SecretName,
        with: &PrincipalName,
    ) -> Result<bool> {
        let (org, s, _) = self.managed_secret(actor, slug, scope, name).await?;
        let principal = self.resolve_principal(&org, with).await?;
        let details = serde_json::json!({"with": with.to_string()});
        let audit = event(actor, org.id, "secret.unshare", label(scope, name), details);
        self.catalog
            .delete_share(s.id, principal, audit)
            .await
            .map_err(|e| Error::catalog(e, || label(scope, name)))
    }

    /// Restricts the secret to its shares, or lifts that; answers whether anything changed.
    /// Restricting a secret nobody can reach through a share is refused: give one first.
    pub async fn set_restricted(
        &self,
        actor: &Actor,
        slug: &OrgSlug,
        scope: &Scope,
        name: &SecretName,
        restricted: bool,
    ) -> Result<bool> {
        let (org, s, _) = self.managed_secret(actor, slug, scope, name).await?;
        if restricted {
            let shares = self.shares_of(&s).await?;
            if !shares.iter().any(|sh| sh.level == AccessLevel::Manage) {
                return Err(Error::Conflict {
                    code: "restricted_unmanaged",
                    message: format!(
                        "`{}` has no share at `manage`, so once restricted nobody could manage it; \
                         share it first (e.g. `coffer secret share {scope} {name} --with user:YOU --level manage`)",
                        label(scope, name)
                    ),
                });
            }
        }
        let action = if restricted {
            "secret.restrict"
        } else {
            "secret.unrestrict"
        };
        let audit = event(
            actor,
            org.id,
            action,
            label(scope, name),
            serde_json::json!({}),
        );
        self.catalog
            .set_restricted(s.id, restricted, audit)
            .await
            .map_err(|e| Error::catalog(e, || label(scope, name)))
    }

    async fn shares_of(&self, s: &SecretRecord) -> Result<Vec<ShareRecord>> {
        self.catalog
            .shares(s.id)
            .await
            .map_err(|e| Error::catalog(e, || label(&s.scope, &s.name)))
    }

    /// Who can see the secret, with what right, and why.
    pub async fn secret_access(
        &self,
        actor: &Actor,
        slug: &OrgSlug,
        scope: &Scope,
        name: &SecretName,
    ) -> Result<AccessReport> {
        let (org, s, _) = self.managed_secret(actor, slug, scope, name).await?;
        let members = self.members_of(&org).await?;
        let groups = self.groups_of(&org).await?;
        let grants = self
            .catalog
            .grants(org.id)
            .await
            .map_err(|e| Error::catalog(e, || "grants".into()))?;
        let shares = self.shares_of(&s).await?;
        let names = self.principal_names(&org).await?;
        let mut holders = Vec::new();
        for m in &members {
            let mine = |p: PrincipalId| match p {
                PrincipalId::User(u) => Some((u == m.user.id).then_some(None)?),
                PrincipalId::Group(g) => groups
                    .iter()
                    .find(|x| x.id == g && x.members.contains(&m.user.id))
                    .map(|x| Some(x.name.clone())),
            };
            let access = AccessSet {
                grants: grants
                    .iter()
                    .filter_map(|g| {
                        mine(g.principal).map(|via| HeldGrant {
                            scope: g.scope.clone(),
                            level: g.level,
                            via,
                        })
                    })
                    .collect(),
                shares: shares
                    .iter()
                    .filter_map(|sh| {
                        mine(sh.principal).map(|via| HeldShare {
                            secret: s.id,
                            level: sh.level,
                            via,
                        })
                    })
                    .collect(),
            };
            let as_actor = Actor::member(
                m.user.id,
                m.user.name.clone(),
                m.user.kind,
                crate::domain::policy::Membership {
                    org: org.id,
                    role: m.role,
                },
                crate::domain::TokenId::new(),
            );
            let Some(right) = as_actor.and_then(|a| secret_right(&a, facts(&s), &access)) else {
                continue;
            };
            let via = |v: &Option<GroupName>| {
                v.as_ref()
                    .map_or(String::new(), |g| format!(" via group:{g}"))
            };
            let mut because = Vec::new();
            if !s.restricted && m.role != Role::Member {
                because.push(format!("role {}", m.role));
            }
            if !s.restricted {
                for g in access.grants.iter().filter(|g| g.scope.covers(&s.scope)) {
                    because.push(format!("grant {} {}{}", g.scope, g.level, via(&g.via)));
                }
            }
            for sh in &access.shares {
                because.push(format!("share {}{}", sh.level, via(&sh.via)));
            }
            holders.push(AccessHolder {
                principal: principal_text(m.user.kind, m.user.name.as_str()),
                kind: m.user.kind,
                right,
                because,
            });
        }
        holders.sort_by(|a, b| a.principal.cmp(&b.principal));
        let shares = shares
            .into_iter()
            .map(|sh| (names(sh.principal), sh))
            .collect();
        Ok(AccessReport {
            secret: s,
            holders,
            shares,
        })
    }
}
