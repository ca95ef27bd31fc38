//! Memberships: who is in an org with which role. People join through invitations
//! ([`super::invitations`]) or, for people who already exist, by the operator's direct add;
//! service accounts are created here by the org's admins. Role changes and removals never go
//! above the actor's own role, and never take the org's last owner away. Removing someone ends
//! their credentials in that org in the same transaction.

use super::operator_is_never_a_member;
use crate::catalog::{CatalogError, LAST_OWNER, MemberRecord, UserRecord};
use crate::domain::policy::{Action, Actor, MAX_SERVICE_ROLE};
use crate::domain::{IdentityKind, OrgSlug, Role, Timestamp, UserName};
use crate::service::{Coffer, Error, Result, event};

/// A member named in a request: a person, or one of the org's service accounts.
#[derive(Clone, Debug)]
pub enum MemberRef {
    /// A person, by name.
    Person(UserName),
    /// A service account of the org, by name.
    Service(UserName),
}

impl MemberRef {
    fn name(&self) -> &UserName {
        match self {
            MemberRef::Person(n) | MemberRef::Service(n) => n,
        }
    }

    /// How the member is named in audit events (service accounts as `svc:NAME`).
    fn audit_name(&self) -> String {
        match self {
            MemberRef::Person(n) => n.to_string(),
            MemberRef::Service(n) => format!("svc:{n}"),
        }
    }
}

/// A service account asked for above [`MAX_SERVICE_ROLE`]: a rule of every org, so a conflict.
fn service_role_too_high() -> Error {
    Error::Conflict {
        code: "service_account_role",
        message: format!(
            "a service account's role is at most `{MAX_SERVICE_ROLE}`; owners are people"
        ),
    }
}

fn last_owner(e: CatalogError, what: impl FnOnce() -> String) -> Error {
    match e {
        CatalogError::Refused(m) if m == LAST_OWNER => Error::Conflict {
            code: "last_owner",
            message: format!(
                "{}: it is the org's last owner; make someone else an owner first",
                what()
            ),
        },
        other => Error::catalog(other, what),
    }
}

impl Coffer {
    /// Members of an org: people and service accounts, by name.
    pub async fn members(&self, actor: &Actor, slug: &OrgSlug) -> Result<Vec<MemberRecord>> {
        let org = self.org_for(actor, slug, Action::ListMembers).await?;
        self.catalog
            .list_members(org.id)
            .await
            .map_err(|e| Error::catalog(e, || "members".into()))
    }

    /// The operator adds an existing person to an org without an invitation.
    pub async fn add_member(
        &self,
        actor: &Actor,
        slug: &OrgSlug,
        name: UserName,
        role: Role,
    ) -> Result<MemberRecord> {
        let org = self.org_for(actor, slug, Action::AddMember(role)).await?;
        let user = match self.catalog.user_by_name(&name).await {
            Ok(u) if u.kind == IdentityKind::Operator => {
                return Err(operator_is_never_a_member(&name));
            }
            Ok(u) => u,
            Err(CatalogError::NotFound) => {
                return Err(Error::NotFound(format!(
                    "no person is named `{name}`; invite them instead: `coffer user invite {name} --org {slug} --role {role}`"
                )));
            }
            Err(e) => return Err(Error::catalog(e, || format!("user `{name}`"))),
        };
        let audit = event(
            actor,
            org.id,
            "member.add",
            name.as_str(),
            serde_json::json!({"role": role}),
        );
        self.catalog
            .add_member(org.id, user.id, role, audit)
            .await
            .map_err(|e| match e {
                CatalogError::AlreadyExists => Error::AlreadyExists(format!(
                    "`{name}` is already a member of org `{slug}`; change their role with `coffer user role {name} ROLE --org {slug}`"
                )),
                other => Error::catalog(other, || format!("user `{name}`")),
            })
    }

    /// Changes a member's role (never to or from a role above the actor's own).
    pub async fn change_role(
        &self,
        actor: &Actor,
        slug: &OrgSlug,
        who: MemberRef,
        role: Role,
    ) -> Result<MemberRecord> {
        let org = self.org_for(actor, slug, Action::ListMembers).await?;
        let target = self.member_named(&org, &who).await?;
        if target.user.kind == IdentityKind::Service && role > MAX_SERVICE_ROLE {
            return Err(service_role_too_high());
        }
        let action = Action::ChangeRole {
            from: target.role,
            to: role,
        };
        self.org_for(actor, slug, action).await?;
        let details = serde_json::json!({"from": target.role, "to": role});
        let audit = event(actor, org.id, "member.role", who.audit_name(), details);
        self.catalog
            .change_role(org.id, target.user.id, role, audit)
            .await
            .map_err(|e| last_owner(e, || format!("`{}` keeps the owner role", who.name())))
    }

    /// Removes a member (or deletes a service account's membership): their tokens and sessions
    /// in this org stop working at once; their audit history stays.
    pub async fn remove_member(&self, actor: &Actor, slug: &OrgSlug, who: MemberRef) -> Result<()> {
        let org = self.org_for(actor, slug, Action::ListMembers).await?;
        let target = self.member_named(&org, &who).await?;
        self.org_for(actor, slug, Action::RemoveMember(target.role))
            .await?;
        let details = serde_json::json!({"role": target.role});
        let audit = event(actor, org.id, "member.remove", who.audit_name(), details);
        self.catalog
            .remove_member(org.id, target.user.id, Timestamp::now(), audit)
            .await
            .map_err(|e| last_owner(e, || format!("`{}` stays a member", who.name())))
    }

    /// Creates a service account of the org with `role` (at most admin, and at most the
    /// actor's own role). Its tokens are minted with [`Coffer::create_token`].
    pub async fn create_service_account(
        &self,
        actor: &Actor,
        slug: &OrgSlug,
        name: UserName,
        role: Role,
    ) -> Result<MemberRecord> {
        if role > MAX_SERVICE_ROLE {
            return Err(service_role_too_high());
        }
        let org = self
            .org_for(actor, slug, Action::CreateServiceAccount(role))
            .await?;
        let user = UserRecord::service(org.id, name.clone(), Timestamp::now());
        let audit = event(
            actor,
            org.id,
            "service.create",
            format!("svc:{name}"),
            serde_json::json!({"role": role}),
        );
        self.catalog
            .create_service_account(user, role, audit)
            .await
            .map_err(|e| match e {
                CatalogError::AlreadyExists => Error::AlreadyExists(format!(
                    "org `{slug}` already has a service account `{name}`; pick another name"
                )),
                other => Error::catalog(other, || format!("service account `{name}`")),
            })
    }
}
