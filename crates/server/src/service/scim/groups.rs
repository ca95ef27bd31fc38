//! SCIM Groups: the org's groups (docs/access.md) as its identity provider sees them. A Group's
//! `id` is the group's id and its members are the org's people in it (by their User ids).
//!
//! A SCIM `displayName` is free text and a Coffer group name is not, so Coffer keeps both: the
//! group's name is the display name when that is a group name, else its slug
//! (`GroupName::from_display`), made unique in the org with a number (`-2`, `-3`, …). Renaming
//! a Group renames the group the same way. Members must be people who are members of the org;
//! anyone else (another org's person, someone deactivated, a service account) is refused with
//! nothing changed. Service accounts in a group are not Users: SCIM neither shows nor removes
//! them. Deleting a Group deletes the group with its grants and shares.

use super::{MAX_TEXT, ScimActor, text};
use crate::catalog::{CatalogError, GroupRecord, ScimGroupRecord};
use crate::domain::policy::ScimAction;
use crate::domain::{GroupId, GroupName, IdentityKind, Timestamp, UserId, UserName};
use crate::service::{Coffer, Error, Result};
use std::collections::{BTreeMap, BTreeSet};

/// Tries at a free name when others take names at the same time.
const NAME_ATTEMPTS: u32 = 3;

/// A group as SCIM sees it.
#[derive(Clone, Debug)]
pub struct ScimGroup {
    /// The group (its `members` are everyone in it, service accounts too).
    pub group: GroupRecord,
    /// Its SCIM record, if a client set one.
    pub record: Option<ScimGroupRecord>,
    /// The people in it, by id: its SCIM members.
    pub people: Vec<UserId>,
}

impl ScimGroup {
    /// Its `displayName`: the client's, else the group's name.
    pub fn display_name(&self) -> &str {
        self.record
            .as_ref()
            .map_or(self.group.name.as_str(), |r| r.display_name.as_str())
    }

    /// Its `externalId`.
    pub fn external_id(&self) -> Option<&str> {
        self.record.as_ref().and_then(|r| r.external_id.as_deref())
    }
}

/// What a client sends for a Group (a create, a replace, or a patch applied to the current
/// state).
#[derive(Clone, Debug, Default)]
pub struct ScimGroupInput {
    /// `displayName` (required).
    pub display_name: Option<String>,
    /// `externalId`.
    pub external_id: Option<String>,
    /// The `value`s of `members`: User ids.
    pub members: Vec<String>,
}

fn group_not_found(id: GroupId) -> Error {
    Error::NotFound(format!("no Group {id} in this org"))
}

fn invalid(message: String) -> Error {
    Error::Rejected {
        code: "invalidValue",
        message,
    }
}

/// Whether `name` is `base` or `base` numbered.
fn is_base_or_numbered(name: &GroupName, base: &GroupName) -> bool {
    name == base
        || name
            .as_str()
            .strip_prefix(base.as_str())
            .and_then(|rest| rest.strip_prefix('-'))
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// The first of `base`, `base-2`, `base-3`, … that no group in `taken` has.
fn free_name(base: &GroupName, taken: &BTreeSet<GroupName>) -> GroupName {
    if !taken.contains(base) {
        return base.clone();
    }
    (2..)
        .map(|n| base.numbered(n))
        .find(|n| !taken.contains(n))
        .expect("some number is free")
}

impl Coffer {
    /// The people of the actor's org, by id, with their names.
    async fn org_people(&self, actor: &ScimActor) -> Result<BTreeMap<UserId, UserName>> {
        Ok(self
            .catalog
            .list_members(actor.org.id)
            .await
            .map_err(|e| Error::catalog(e, || "members".into()))?
            .into_iter()
            .filter(|m| m.user.kind == IdentityKind::Person)
            .map(|m| (m.user.id, m.user.name))
            .collect())
    }

    /// Every Group of the actor's org, by id.
    pub async fn scim_groups(&self, actor: &ScimActor) -> Result<Vec<ScimGroup>> {
        actor.may(ScimAction::Read, "")?;
        let people = self.org_people(actor).await?;
        let mut records: BTreeMap<GroupId, ScimGroupRecord> = self
            .catalog
            .scim_groups(actor.org.id)
            .await
            .map_err(|e| Error::catalog(e, || "SCIM groups".into()))?
            .into_iter()
            .map(|r| (r.group, r))
            .collect();
        let mut groups: Vec<ScimGroup> = self
            .catalog
            .groups(actor.org.id)
            .await
            .map_err(|e| Error::catalog(e, || "groups".into()))?
            .into_iter()
            .map(|g| ScimGroup {
                record: records.remove(&g.id),
                people: g
                    .members
                    .iter()
                    .copied()
                    .filter(|u| people.contains_key(u))
                    .collect(),
                group: g,
            })
            .collect();
        groups.sort_by_key(|g| g.group.id);
        Ok(groups)
    }

    /// One Group of the actor's org; another org's group is *not found*.
    pub async fn scim_group(&self, actor: &ScimActor, id: GroupId) -> Result<ScimGroup> {
        self.scim_groups(actor)
            .await?
            .into_iter()
            .find(|g| g.group.id == id)
            .ok_or_else(|| group_not_found(id))
    }

    /// Checks a Group's input: its display name and external id, and its members — each the
    /// User id of a person who is a member of the org.
    async fn group_input(
        &self,
        actor: &ScimActor,
        input: ScimGroupInput,
    ) -> Result<(
        String,
        Option<String>,
        BTreeSet<UserId>,
        BTreeMap<UserId, UserName>,
    )> {
        let display = text("displayName", input.display_name, MAX_TEXT)?
            .ok_or_else(|| invalid("displayName is required".into()))?;
        let external = text("externalId", input.external_id, MAX_TEXT)?;
        let people = self.org_people(actor).await?;
        let mut members = BTreeSet::new();
        for raw in input.members {
            let id = uuid::Uuid::parse_str(&raw)
                .map(UserId::from_uuid)
                .ok()
                .filter(|id| people.contains_key(id))
                .ok_or_else(|| {
                    invalid(format!(
                        "member {raw:?} is not a User of this org who is active (a person who is a member of org `{}`); nothing was changed",
                        actor.org.slug
                    ))
                })?;
            members.insert(id);
        }
        Ok((display, external, members, people))
    }

    /// Creates a group of the actor's org named after `displayName`, with its members.
    pub async fn scim_create_group(
        &self,
        actor: &ScimActor,
        input: ScimGroupInput,
    ) -> Result<ScimGroup> {
        actor.may(ScimAction::ManageGroups, "")?;
        let (display, external, members, people) = self.group_input(actor, input).await?;
        let base = GroupName::from_display(&display);
        for attempt in 1..=NAME_ATTEMPTS {
            let taken: BTreeSet<GroupName> = self
                .catalog
                .groups(actor.org.id)
                .await
                .map_err(|e| Error::catalog(e, || "groups".into()))?
                .into_iter()
                .map(|g| g.name)
                .collect();
            let name = free_name(&base, &taken);
            let group = GroupRecord {
                id: GroupId::new(),
                org: actor.org.id,
                name: name.clone(),
                created_at: Timestamp::now(),
                created_by: actor.audit_name(),
                members: members.iter().copied().collect(),
            };
            let record = ScimGroupRecord {
                group: group.id,
                org: actor.org.id,
                display_name: display.clone(),
                external_id: external.clone(),
            };
            let target = format!("group:{name}");
            let mut audit = vec![actor.event(
                "group.create",
                target.clone(),
                serde_json::json!({"display_name": display}),
            )];
            audit.extend(members.iter().map(|u| {
                actor.event(
                    "group.member_add",
                    target.clone(),
                    serde_json::json!({"member": format!("user:{}", people[u])}),
                )
            }));
            match self
                .catalog
                .create_scim_group(group.clone(), record.clone(), audit)
                .await
            {
                Ok(()) => {
                    return Ok(ScimGroup {
                        people: group.members.clone(),
                        group,
                        record: Some(record),
                    });
                }
                Err(CatalogError::AlreadyExists) if attempt < NAME_ATTEMPTS => continue,
                Err(CatalogError::Refused(_)) => {
                    return Err(invalid(
                        "a member left the org meanwhile; nothing was changed".into(),
                    ));
                }
                Err(e) => return Err(Error::catalog(e, || format!("group `{name}`"))),
            }
        }
        unreachable!("the last attempt returns")
    }

    /// Makes a Group of the actor's org what `input` says: its display name (renaming the
    /// group if the name derived from it changes), external id and people. Service accounts in
    /// the group stay.
    pub async fn scim_replace_group(
        &self,
        actor: &ScimActor,
        id: GroupId,
        input: ScimGroupInput,
    ) -> Result<ScimGroup> {
        actor.may(ScimAction::ManageGroups, "")?;
        let now = self.scim_group(actor, id).await?;
        let (display, external, members, people) = self.group_input(actor, input).await?;
        let current: BTreeSet<UserId> = now.people.iter().copied().collect();
        let add: Vec<UserId> = members.difference(&current).copied().collect();
        let remove: Vec<UserId> = current.difference(&members).copied().collect();
        let base = GroupName::from_display(&display);
        let old_name = now.group.name.clone();
        let record = ScimGroupRecord {
            group: id,
            org: actor.org.id,
            display_name: display.clone(),
            external_id: external.clone(),
        };
        let record_changed = now.record.as_ref() != Some(&record);
        if add.is_empty() && remove.is_empty() && !record_changed {
            return Ok(now);
        }
        for attempt in 1..=NAME_ATTEMPTS {
            let name = if is_base_or_numbered(&old_name, &base) {
                old_name.clone()
            } else {
                let taken: BTreeSet<GroupName> = self
                    .catalog
                    .groups(actor.org.id)
                    .await
                    .map_err(|e| Error::catalog(e, || "groups".into()))?
                    .into_iter()
                    .filter(|g| g.id != id)
                    .map(|g| g.name)
                    .collect();
                free_name(&base, &taken)
            };
            let target = format!("group:{name}");
            let mut audit = vec![];
            if name != old_name {
                audit.push(actor.event(
                    "group.rename",
                    target.clone(),
                    serde_json::json!({"from": old_name, "to": name}),
                ));
            }
            if now.display_name() != display || now.external_id() != external.as_deref() {
                audit.push(actor.event(
                    "scim.group_update",
                    target.clone(),
                    serde_json::json!({"display_name": display, "external_id": external}),
                ));
            }
            for (list, action) in [(&add, "group.member_add"), (&remove, "group.member_remove")] {
                audit.extend(list.iter().map(|u| {
                    let who = people
                        .get(u)
                        .map_or_else(|| u.to_string(), |n| n.to_string());
                    actor.event(
                        action,
                        target.clone(),
                        serde_json::json!({"member": format!("user:{who}")}),
                    )
                }));
            }
            match self
                .catalog
                .put_scim_group(
                    record.clone(),
                    name.clone(),
                    add.clone(),
                    remove.clone(),
                    audit,
                )
                .await
            {
                Ok(()) => {
                    let mut group = now.group;
                    group.name = name;
                    return Ok(ScimGroup {
                        group,
                        record: Some(record),
                        people: members.into_iter().collect(),
                    });
                }
                Err(CatalogError::AlreadyExists) if attempt < NAME_ATTEMPTS => continue,
                Err(CatalogError::NotFound) => return Err(group_not_found(id)),
                Err(CatalogError::Refused(_)) => {
                    return Err(invalid(
                        "a member left the org meanwhile; nothing was changed".into(),
                    ));
                }
                Err(e) => return Err(Error::catalog(e, || format!("group `{name}`"))),
            }
        }
        unreachable!("the last attempt returns")
    }

    /// Deletes a Group of the actor's org, with its grants and shares.
    pub async fn scim_delete_group(&self, actor: &ScimActor, id: GroupId) -> Result<()> {
        actor.may(ScimAction::ManageGroups, "")?;
        let now = self.scim_group(actor, id).await?;
        let audit = actor.event(
            "group.delete",
            format!("group:{}", now.group.name),
            serde_json::json!({}),
        );
        self.catalog
            .delete_group(actor.org.id, id, audit)
            .await
            .map_err(|e| match e {
                CatalogError::NotFound => group_not_found(id),
                other => Error::catalog(other, || format!("group `{}`", now.group.name)),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> GroupName {
        GroupName::parse(s).unwrap()
    }

    #[test]
    fn names_stay_put_while_they_fit_and_are_numbered_when_taken() {
        assert!(is_base_or_numbered(&n("dba"), &n("dba")));
        assert!(is_base_or_numbered(&n("dba-2"), &n("dba")));
        assert!(!is_base_or_numbered(&n("dba-x"), &n("dba")));
        assert!(!is_base_or_numbered(&n("dba-"), &n("dba")));
        assert!(!is_base_or_numbered(&n("dbax"), &n("dba")));
        let taken: BTreeSet<GroupName> = [n("dba"), n("dba-2")].into();
        assert_eq!(free_name(&n("dba"), &taken), n("dba-3"));
        assert_eq!(free_name(&n("ops"), &taken), n("ops"));
    }
}
