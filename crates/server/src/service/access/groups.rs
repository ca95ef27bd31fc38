//! Groups of an org's members: create, delete, list, add and remove members. Owners and admins
//! manage them (`Action::ManageGroups`); every member may list them. A group gives nothing by
//! itself: grants and shares to it do.

use super::group_label;
use crate::catalog::{CatalogError, GroupRecord, OrgRecord};
use crate::domain::policy::{Action, Actor};
use crate::domain::{GroupId, GroupName, IdentityKind, OrgSlug, PrincipalName, Timestamp};
use crate::service::{Coffer, Error, Result, event};

impl Coffer {
    /// The org's groups.
    pub(in crate::service) async fn groups_of(&self, org: &OrgRecord) -> Result<Vec<GroupRecord>> {
        self.catalog
            .groups(org.id)
            .await
            .map_err(|e| Error::catalog(e, || "groups".into()))
    }

    /// The org's group `name`, or a 404 naming it.
    pub(in crate::service) async fn group_named(
        &self,
        org: &OrgRecord,
        name: &GroupName,
    ) -> Result<GroupRecord> {
        self.groups_of(org)
            .await?
            .into_iter()
            .find(|g| &g.name == name)
            .ok_or_else(|| {
                Error::NotFound(format!(
                    "org `{}` has no group `{name}`; list them with `coffer group list`",
                    org.slug
                ))
            })
    }

    /// Lists the org's groups, each with its members' names (`user:alice`, `svc:deploy`),
    /// sorted.
    pub async fn list_groups(
        &self,
        actor: &Actor,
        slug: &OrgSlug,
    ) -> Result<Vec<(GroupRecord, Vec<String>)>> {
        let org = self.org_for(actor, slug, Action::ListGroups).await?;
        let groups = self.groups_of(&org).await?;
        let names = self.principal_names(&org).await?;
        Ok(groups
            .into_iter()
            .map(|g| {
                let mut members: Vec<String> = g
                    .members
                    .iter()
                    .map(|u| names(crate::catalog::PrincipalId::User(*u)))
                    .collect();
                members.sort();
                (g, members)
            })
            .collect())
    }

    /// Creates an empty group.
    pub async fn create_group(
        &self,
        actor: &Actor,
        slug: &OrgSlug,
        name: GroupName,
    ) -> Result<GroupRecord> {
        let org = self.org_for(actor, slug, Action::ManageGroups).await?;
        let group = GroupRecord {
            id: GroupId::new(),
            org: org.id,
            name: name.clone(),
            created_at: Timestamp::now(),
            created_by: actor.audit_name(),
            members: vec![],
        };
        let audit = event(
            actor,
            org.id,
            "group.create",
            group_label(&name),
            serde_json::json!({}),
        );
        self.catalog
            .create_group(group.clone(), audit)
            .await
            .map_err(|e| match e {
                CatalogError::AlreadyExists => {
                    Error::AlreadyExists(format!("org `{slug}` already has a group `{name}`"))
                }
                other => Error::catalog(other, || group_label(&name)),
            })?;
        Ok(group)
    }

    /// Deletes a group with its grants and shares.
    pub async fn delete_group(
        &self,
        actor: &Actor,
        slug: &OrgSlug,
        name: &GroupName,
    ) -> Result<()> {
        let org = self.org_for(actor, slug, Action::ManageGroups).await?;
        let group = self.group_named(&org, name).await?;
        let audit = event(
            actor,
            org.id,
            "group.delete",
            group_label(name),
            serde_json::json!({}),
        );
        self.catalog
            .delete_group(org.id, group.id, audit)
            .await
            .map_err(|e| Error::catalog(e, || group_label(name)))
    }

    /// Adds `who` to the group (`member`) or removes them; answers whether anything changed.
    pub async fn set_group_member(
        &self,
        actor: &Actor,
        slug: &OrgSlug,
        name: &GroupName,
        who: &PrincipalName,
        member: bool,
    ) -> Result<bool> {
        let org = self.org_for(actor, slug, Action::ManageGroups).await?;
        let group = self.group_named(&org, name).await?;
        let user = match who {
            PrincipalName::Person(n) => self.member_id(&org, IdentityKind::Person, n).await?,
            PrincipalName::Service(n) => self.member_id(&org, IdentityKind::Service, n).await?,
            PrincipalName::Group(_) => {
                return Err(Error::InvalidInput(format!(
                    "groups hold people and service accounts, not groups: `{who}` cannot join `{}`",
                    group_label(name)
                )));
            }
        };
        let (action, details) = if member {
            (
                "group.member_add",
                serde_json::json!({"member": who.to_string()}),
            )
        } else {
            (
                "group.member_remove",
                serde_json::json!({"member": who.to_string()}),
            )
        };
        let audit = event(actor, org.id, action, group_label(name), details);
        self.catalog
            .set_group_member(org.id, group.id, user, member, audit)
            .await
            .map_err(|e| match e {
                CatalogError::Refused(_) => {
                    Error::NotFound(format!("`{who}` is not a member of org `{slug}`"))
                }
                other => Error::catalog(other, || group_label(name)),
            })
    }
}
