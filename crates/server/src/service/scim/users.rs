//! SCIM Users: the org's people as its identity provider sees them. A User's `id` is the
//! person's user id; the Users of an org are its person members (active) and the people its SCIM
//! deactivated (inactive). Service accounts and the operator are never Users.
//!
//! - Creating a User creates a *new* person, a member with role `member`, who has no password or
//!   token: they sign in through the org's single sign-on (docs/sso.md). A name taken by anyone
//!   is a conflict; nobody existing is ever adopted.
//! - `active: false` ends the membership exactly as removing a member does (tokens and sessions
//!   revoked at once, groups, grants, shares and SSO link forgotten); the person stays listed,
//!   inactive, and `active: true` brings them back as a `member` with none of the old
//!   credentials. Deleting a User ends the membership and forgets the SCIM record.
//! - `userName` is the person's Coffer name and never changes (people are named once, across
//!   every org).
//! - Owners are out of reach (the token acts as an admin).

use super::{MAX_TEXT, ScimActor, text};
use crate::catalog::{
    CatalogError, LAST_OWNER, MemberRecord, ScimMembership, ScimUserRecord, UserRecord,
};
use crate::domain::policy::ScimAction;
use crate::domain::{IdentityKind, Role, Timestamp, UserId, UserName};
use crate::service::{Coffer, Error, Result};
use std::collections::BTreeMap;

/// The role a person SCIM creates or brings back gets.
pub const PROVISIONED_ROLE: Role = Role::Member;

/// A person as SCIM sees them in one org.
#[derive(Clone, Debug)]
pub struct ScimPerson {
    /// The person.
    pub user: UserRecord,
    /// Their role in the org (`None`: SCIM deactivated them).
    pub role: Option<Role>,
    /// Their SCIM record in the org, if the client set anything.
    pub record: Option<ScimUserRecord>,
}

impl ScimPerson {
    /// `active` as SCIM shows it: `false` once SCIM deactivated them, left out where the client
    /// left it out (when creating, or by removing it since), else `true`.
    pub fn active(&self) -> Option<bool> {
        match (self.role, &self.record) {
            (None, _) => Some(false),
            (Some(_), Some(r)) if r.active.is_none() => None,
            (Some(_), _) => Some(true),
        }
    }

    /// The client's `externalId`.
    pub fn external_id(&self) -> Option<&str> {
        self.record.as_ref().and_then(|r| r.external_id.as_deref())
    }

    /// The client's `displayName`.
    pub fn display_name(&self) -> Option<&str> {
        self.record.as_ref().and_then(|r| r.display_name.as_deref())
    }
}

/// What a client sends for a User (a create, a replace, or a patch applied to the current
/// state).
#[derive(Clone, Debug, Default)]
pub struct ScimUserInput {
    /// `userName` (case-insensitive; Coffer stores it lowercased). Required to create; on a
    /// replace, if given, it must be the person's name.
    pub user_name: Option<String>,
    /// `displayName`.
    pub display_name: Option<String>,
    /// `externalId`.
    pub external_id: Option<String>,
    /// `active` (`None`: not set, which means active).
    pub active: Option<bool>,
}

fn user_not_found(id: UserId) -> Error {
    Error::NotFound(format!("no User {id} in this org"))
}

fn mutability(message: String) -> Error {
    Error::Rejected {
        code: "mutability",
        message,
    }
}

impl Coffer {
    /// Every User of the actor's org, by id.
    pub async fn scim_people(&self, actor: &ScimActor) -> Result<Vec<ScimPerson>> {
        actor.may(ScimAction::Read, "")?;
        let org = actor.org.id;
        let members = self
            .catalog
            .list_members(org)
            .await
            .map_err(|e| Error::catalog(e, || "members".into()))?;
        let mut records: BTreeMap<UserId, ScimUserRecord> = self
            .catalog
            .scim_users(org)
            .await
            .map_err(|e| Error::catalog(e, || "SCIM users".into()))?
            .into_iter()
            .map(|r| (r.user, r))
            .collect();
        let mut people: Vec<ScimPerson> = members
            .into_iter()
            .filter(|m| m.user.kind == IdentityKind::Person)
            .map(|MemberRecord { user, role }| ScimPerson {
                record: records.remove(&user.id),
                user,
                role: Some(role),
            })
            .collect();
        // The rest are people SCIM deactivated (a removal any other way forgets the record).
        for (id, record) in records {
            let user = self
                .catalog
                .user_by_id(id)
                .await
                .map_err(|e| Error::catalog(e, || "user".into()))?;
            people.push(ScimPerson {
                user,
                role: None,
                record: Some(record),
            });
        }
        people.sort_by_key(|p| p.user.id);
        Ok(people)
    }

    /// One User of the actor's org; another org's person, a service account or no one is *not
    /// found*.
    pub async fn scim_person(&self, actor: &ScimActor, id: UserId) -> Result<ScimPerson> {
        actor.may(ScimAction::Read, "")?;
        let org = actor.org.id;
        let user = match self.catalog.user_by_id(id).await {
            Ok(u) if u.kind == IdentityKind::Person => u,
            Ok(_) | Err(CatalogError::NotFound) => return Err(user_not_found(id)),
            Err(e) => return Err(Error::catalog(e, || "user".into())),
        };
        let role = self
            .catalog
            .memberships(id)
            .await
            .map_err(|e| Error::catalog(e, || "memberships".into()))?
            .into_iter()
            .find(|m| m.org == org)
            .map(|m| m.role);
        let record = self
            .catalog
            .scim_user(org, id)
            .await
            .map_err(|e| Error::catalog(e, || "SCIM user".into()))?;
        if role.is_none() && record.is_none() {
            return Err(user_not_found(id));
        }
        Ok(ScimPerson { user, role, record })
    }

    /// Creates a new person as a member of the actor's org (or deactivated, if `active` is
    /// false). A `userName` taken by anyone in the deployment is a conflict.
    pub async fn scim_create_person(
        &self,
        actor: &ScimActor,
        input: ScimUserInput,
    ) -> Result<ScimPerson> {
        actor.may(ScimAction::CreatePerson(PROVISIONED_ROLE), "")?;
        let raw = input.user_name.ok_or_else(|| Error::Rejected {
            code: "invalidValue",
            message: "userName is required".into(),
        })?;
        let name = UserName::parse(&raw.to_lowercase()).map_err(|e| Error::Rejected {
            code: "invalidValue",
            message: format!(
                "userName {raw:?} cannot be a Coffer user name: {}",
                e.message
            ),
        })?;
        let display_name = text("displayName", input.display_name, MAX_TEXT)?;
        let external_id = text("externalId", input.external_id, MAX_TEXT)?;
        let user = UserRecord::person(name.clone(), Timestamp::now());
        let record = ScimUserRecord {
            org: actor.org.id,
            user: user.id,
            external_id,
            display_name,
            active: input.active,
            provisioned: true,
        };
        let audit = if input.active == Some(false) {
            actor.event(
                "scim.user_create",
                name.as_str(),
                serde_json::json!({"active": false}),
            )
        } else {
            actor.event(
                "member.add",
                name.as_str(),
                serde_json::json!({"role": PROVISIONED_ROLE, "created": true}),
            )
        };
        self.catalog
            .provision_person(user.clone(), record.clone(), PROVISIONED_ROLE, vec![audit])
            .await
            .map_err(|e| match e {
                CatalogError::AlreadyExists => Error::AlreadyExists(format!(
                    "the user name `{name}` is already taken in this Coffer deployment; SCIM creates only new people and never takes over an existing one — provision them under another userName, or invite them in Coffer"
                )),
                other => Error::catalog(other, || format!("user `{name}`")),
            })?;
        let role = (input.active != Some(false)).then_some(PROVISIONED_ROLE);
        Ok(ScimPerson {
            user,
            role,
            record: Some(record),
        })
    }

    /// Makes a User of the actor's org what `input` says: its `displayName` and `externalId`,
    /// and its membership as `active` says (false ends it, absent or true brings back someone
    /// SCIM deactivated). `userName` cannot change; an owner cannot be touched.
    pub async fn scim_replace_person(
        &self,
        actor: &ScimActor,
        id: UserId,
        input: ScimUserInput,
    ) -> Result<ScimPerson> {
        let now = self.scim_person(actor, id).await?;
        let name = now.user.name.clone();
        actor.may(ScimAction::ManagePerson(now.role), &format!("`{name}`"))?;
        if let Some(asked) = &input.user_name
            && asked.to_lowercase() != name.as_str()
        {
            return Err(mutability(format!(
                "userName is immutable: `{name}` is this person's name in every org of this Coffer deployment, so it cannot become {asked:?}"
            )));
        }
        let display_name = text("displayName", input.display_name, MAX_TEXT)?;
        let external_id = text("externalId", input.external_id, MAX_TEXT)?;
        let mut audit = vec![];
        let membership = match (now.role, input.active) {
            (Some(role), Some(false)) => {
                audit.push(actor.event(
                    "member.remove",
                    name.as_str(),
                    serde_json::json!({"role": role, "deactivated": true}),
                ));
                ScimMembership::End
            }
            (None, Some(true) | None) => {
                actor.may(
                    ScimAction::Reactivate(PROVISIONED_ROLE),
                    &format!("`{name}`"),
                )?;
                audit.push(actor.event(
                    "member.add",
                    name.as_str(),
                    serde_json::json!({"role": PROVISIONED_ROLE, "reactivated": true}),
                ));
                ScimMembership::Restore(PROVISIONED_ROLE)
            }
            _ => ScimMembership::Keep,
        };
        let record = ScimUserRecord {
            org: actor.org.id,
            user: id,
            external_id,
            display_name,
            active: input.active,
            provisioned: now.record.as_ref().is_some_and(|r| r.provisioned),
        };
        // Every change of the record is an event, `active` too (a membership it ends or
        // restores has its own `member.*` event besides).
        if now.record.as_ref() != Some(&record) {
            audit.push(actor.event(
                "scim.user_update",
                name.as_str(),
                serde_json::json!({
                    "display_name": record.display_name,
                    "external_id": record.external_id,
                    "active": record.active,
                }),
            ));
        }
        if membership == ScimMembership::Keep && now.record.as_ref() == Some(&record) {
            return Ok(now);
        }
        self.catalog
            .put_scim_user(record.clone(), membership, Timestamp::now(), audit)
            .await
            .map_err(|e| match e {
                CatalogError::NotFound => user_not_found(id),
                CatalogError::Refused(m) if m == LAST_OWNER => Error::Conflict {
                    code: "last_owner",
                    message: format!("`{name}` is the org's last owner"),
                },
                CatalogError::Refused(_) => Error::Conflict {
                    code: "conflict",
                    message: format!(
                        "`{name}` changed in Coffer meanwhile (joined or left the org); read the User again"
                    ),
                },
                other => Error::catalog(other, || format!("user `{name}`")),
            })?;
        let role = match membership {
            ScimMembership::Keep => now.role,
            ScimMembership::End => None,
            ScimMembership::Restore(role) => Some(role),
        };
        Ok(ScimPerson {
            user: now.user,
            role,
            record: Some(record),
        })
    }

    /// Deletes a User of the actor's org: ends their membership (as removing a member does)
    /// and forgets the SCIM record, so they are no longer a User. Their audit history stays.
    pub async fn scim_delete_person(&self, actor: &ScimActor, id: UserId) -> Result<()> {
        let now = self.scim_person(actor, id).await?;
        let name = now.user.name.clone();
        actor.may(ScimAction::ManagePerson(now.role), &format!("`{name}`"))?;
        let audit = match now.role {
            Some(role) => actor.event(
                "member.remove",
                name.as_str(),
                serde_json::json!({"role": role, "deleted": true}),
            ),
            None => actor.event("scim.user_delete", name.as_str(), serde_json::json!({})),
        };
        self.catalog
            .delete_scim_user(actor.org.id, id, Timestamp::now(), vec![audit])
            .await
            .map_err(|e| match e {
                CatalogError::NotFound => user_not_found(id),
                CatalogError::Refused(m) if m == LAST_OWNER => Error::Conflict {
                    code: "last_owner",
                    message: format!("`{name}` is the org's last owner"),
                },
                other => Error::catalog(other, || format!("user `{name}`")),
            })
    }
}
