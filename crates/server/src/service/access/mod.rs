//! Who may use which secrets (docs/access.md): the check every secret use case makes
//! ([`Coffer::check_secret`], [`Coffer::check_new_secret`], [`Coffer::visible`]), and the use
//! cases that change access — groups ([`groups`]), grants ([`grants`]), and a secret's shares,
//! restriction and "who can see this" ([`shares`]).
//!
//! Every decision is `domain::policy` (`secret_right`, `authorize_secret`, `may_grant`,
//! `may_share`); this module only loads the facts. The role decides alone for owners and admins
//! on unrestricted secrets, so their requests load nothing more; anyone else's load the grants
//! and shares that apply to them (one catalog read) when they first need them.

mod grants;
mod groups;
mod shares;

pub use shares::{AccessHolder, AccessReport};

use crate::catalog::{MemberRecord, OrgRecord, PrincipalId, SecretRecord};
use crate::domain::policy::{
    AccessSet, Actor, Decision, Membership, Right, SecretAction, SecretFacts, authorize_secret,
    role_decides, scope_right, secret_right, secret_role,
};
use crate::domain::{GroupName, IdentityKind, PrincipalName, Scope, UserId, UserName};
use crate::service::secrets::{label, secret_not_found};
use crate::service::{Coffer, Error, Result};
use std::borrow::Cow;

/// What a secret action is called in messages.
fn verb(action: SecretAction) -> &'static str {
    match action {
        SecretAction::See => "see",
        SecretAction::Reveal => "reveal",
        SecretAction::Write => "write",
        SecretAction::Delete => "delete or restore",
        SecretAction::Destroy => "destroy",
        SecretAction::ManageAccess => "manage access to",
    }
}

/// The facts the policy needs about `s`.
fn facts(s: &SecretRecord) -> SecretFacts<'_> {
    SecretFacts {
        id: s.id,
        scope: &s.scope,
        restricted: s.restricted,
    }
}

/// A principal as written on the wire.
pub fn principal_text(kind: IdentityKind, name: &str) -> String {
    match kind {
        IdentityKind::Service => format!("svc:{name}"),
        _ => format!("user:{name}"),
    }
}

impl Coffer {
    /// The actor as its secrets see it: in an org linked to Jira, a service account with its
    /// role counted as a member's (`policy::secret_role`).
    pub(in crate::service) async fn secret_actor<'a>(
        &self,
        actor: &'a Actor,
        org: &OrgRecord,
    ) -> Result<Cow<'a, Actor>> {
        let (Some(role), IdentityKind::Service) = (actor.role(), actor.kind()) else {
            return Ok(Cow::Borrowed(actor));
        };
        let linked = self.jira_site_of(org.id).await?.is_some();
        let counted = secret_role(actor.kind(), linked, role);
        if counted == role {
            return Ok(Cow::Borrowed(actor));
        }
        Ok(Cow::Owned(
            Actor::member(
                actor.user,
                actor.name.clone(),
                actor.kind(),
                Membership {
                    org: org.id,
                    role: counted,
                },
                actor.token,
            )
            .expect("a service account is a member"),
        ))
    }

    /// The grants and shares that apply to the actor in `org`, unless its role decides alone
    /// for a secret with this restriction.
    pub(in crate::service) async fn access_for(
        &self,
        actor: &Actor,
        org: &OrgRecord,
        restricted: bool,
    ) -> Result<AccessSet> {
        if role_decides(actor, restricted) {
            return Ok(AccessSet::default());
        }
        self.catalog
            .access_set(org.id, actor.user)
            .await
            .map_err(|e| Error::catalog(e, || "access".into()))
    }

    /// The actor's right to the secret `s` of `org`.
    pub(in crate::service) async fn right_to(
        &self,
        actor: &Actor,
        org: &OrgRecord,
        s: &SecretRecord,
    ) -> Result<Option<Right>> {
        let actor = self.secret_actor(actor, org).await?;
        let access = self.access_for(&actor, org, s.restricted).await?;
        Ok(secret_right(&actor, facts(s), &access))
    }

    /// Checks that the actor may do `action` with the secret `s` of `org`: a secret it cannot
    /// see is *not found*, exactly as one that does not exist. Jira's part is asked before the
    /// secret is looked up (`lookup`, `next_version`), so its refusal never depends on the secret
    /// existing; callers that look secrets up themselves ask it first (`jira_admit`).
    pub(in crate::service) async fn check_secret(
        &self,
        actor: &Actor,
        org: &OrgRecord,
        s: &SecretRecord,
        action: SecretAction,
    ) -> Result<Option<Right>> {
        let right = self.right_to(actor, org, s).await?;
        match authorize_secret(actor, action, right, s.restricted) {
            Decision::Allow => Ok(right),
            Decision::NotFound => Err(Error::NotFound(secret_not_found(org, &s.scope, &s.name))),
            Decision::Forbidden => Err(Error::Forbidden(format!(
                "you cannot {} `{}`: your access to it is {}{}",
                verb(action),
                label(&s.scope, &s.name),
                right.map_or("none", Right::as_str),
                if action == SecretAction::Destroy {
                    " (destroying also takes an admin or owner)"
                } else {
                    ""
                }
            ))),
        }
    }

    /// Checks that the actor may create a secret on `scope` of `org` (its role, or a grant of
    /// `write` there); Jira is asked before, as for [`Coffer::check_secret`].
    pub(in crate::service) async fn check_new_secret(
        &self,
        actor: &Actor,
        org: &OrgRecord,
        scope: &Scope,
    ) -> Result<()> {
        let counted = self.secret_actor(actor, org).await?;
        let access = self.access_for(&counted, org, false).await?;
        match scope_right(&counted, scope, &access) {
            Some(r) if r >= Right::Write => Ok(()),
            held => Err(Error::Forbidden(format!(
                "you cannot create secrets on `{scope}` in org `{}`: your access there is {}; an \
                 owner, an admin or a manager of `{scope}` can grant you write",
                org.slug,
                held.map_or("none", Right::as_str),
            ))),
        }
    }

    /// Keeps the secrets the actor may see, each with its right.
    pub(in crate::service) async fn visible(
        &self,
        actor: &Actor,
        org: &OrgRecord,
        secrets: Vec<SecretRecord>,
    ) -> Result<Vec<(SecretRecord, Right)>> {
        let coffer_says = self.coffer_visible(actor, org, secrets).await?;
        self.jira_filter(actor, org, coffer_says).await
    }

    /// Keeps the secrets Coffer's own access lets the actor see (Jira not asked).
    pub(in crate::service) async fn coffer_visible(
        &self,
        actor: &Actor,
        org: &OrgRecord,
        secrets: Vec<SecretRecord>,
    ) -> Result<Vec<(SecretRecord, Right)>> {
        let actor = self.secret_actor(actor, org).await?;
        let needs = secrets.iter().any(|s| !role_decides(&actor, s.restricted));
        let access = if needs {
            self.access_for(&actor, org, true).await?
        } else {
            AccessSet::default()
        };
        Ok(secrets
            .into_iter()
            .filter_map(|s| secret_right(&actor, facts(&s), &access).map(|r| (s, r)))
            .collect())
    }

    /// Resolves a principal's name to its id in `org`: a person or service account must be a
    /// member, a group must be the org's.
    pub(in crate::service) async fn resolve_principal(
        &self,
        org: &OrgRecord,
        p: &PrincipalName,
    ) -> Result<PrincipalId> {
        Ok(match p {
            PrincipalName::Group(name) => PrincipalId::Group(self.group_named(org, name).await?.id),
            PrincipalName::Person(name) => {
                PrincipalId::User(self.member_id(org, IdentityKind::Person, name).await?)
            }
            PrincipalName::Service(name) => {
                PrincipalId::User(self.member_id(org, IdentityKind::Service, name).await?)
            }
        })
    }

    /// The id of the member of `org` of this kind and name, or a 404 naming them.
    pub(in crate::service) async fn member_id(
        &self,
        org: &OrgRecord,
        kind: IdentityKind,
        name: &UserName,
    ) -> Result<UserId> {
        self.members_of(org)
            .await?
            .into_iter()
            .find(|m| m.user.kind == kind && &m.user.name == name)
            .map(|m| m.user.id)
            .ok_or_else(|| {
                Error::NotFound(format!(
                    "`{}` is not a member of org `{}`; list them with `coffer user list`",
                    principal_text(kind, name.as_str()),
                    org.slug
                ))
            })
    }

    /// The org's members.
    pub(in crate::service) async fn members_of(
        &self,
        org: &OrgRecord,
    ) -> Result<Vec<MemberRecord>> {
        self.catalog
            .list_members(org.id)
            .await
            .map_err(|e| Error::catalog(e, || "members".into()))
    }

    /// Names each principal id of `org` for display (`user:alice`, `group:dba`); ids that are
    /// neither (a member removed meanwhile) show as `unknown`.
    pub async fn principal_names(
        &self,
        org: &OrgRecord,
    ) -> Result<impl Fn(PrincipalId) -> String + use<>> {
        let members = self.members_of(org).await?;
        let groups = self.groups_of(org).await?;
        Ok(move |p: PrincipalId| match p {
            PrincipalId::User(u) => members
                .iter()
                .find(|m| m.user.id == u)
                .map_or("unknown".into(), |m| {
                    principal_text(m.user.kind, m.user.name.as_str())
                }),
            PrincipalId::Group(g) => groups
                .iter()
                .find(|x| x.id == g)
                .map_or("unknown".into(), |x| format!("group:{}", x.name)),
        })
    }
}

/// A group's name in messages.
pub(in crate::service) fn group_label(name: &GroupName) -> String {
    format!("group:{name}")
}
