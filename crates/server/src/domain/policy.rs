//! Authorization: one pure function of (actor, action, resource), so the whole access model is a
//! table that unit tests can read top to bottom. No I/O, no clock, no caches: the service layer
//! loads the facts (the token's org and the user's role there) and asks.
//!
//! Two rules shape every answer: a token only ever acts inside the one org it is scoped to, and
//! an object in another org is reported as *not found* (never *forbidden*) so tokens cannot probe
//! which orgs or secrets exist. The operator (the bootstrap `admin`) may create orgs and manage
//! other orgs' members and tokens, but never reads another org's secrets.

use super::{OrgId, Role, TokenId, UserId, UserName};

/// An authenticated caller: a token, the user it belongs to, and that user's role in the org
/// the token is scoped to.
#[derive(Clone, Debug)]
pub struct Actor {
    /// The user.
    pub user: UserId,
    /// The user's name (for audit events).
    pub name: UserName,
    /// The org the token is scoped to.
    pub org: OrgId,
    /// The user's current role in that org.
    pub role: Role,
    /// Whether the user is the deployment operator.
    pub operator: bool,
    /// The token used.
    pub token: TokenId,
}

/// Something an actor wants to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Create a new org (deployment-wide).
    CreateOrg,
    /// List every org (deployment-wide).
    ListAllOrgs,
    /// Read an org's settings and status.
    ReadOrg,
    /// Rotate the org key.
    RotateOrgKey,
    /// Add a user to the org, or change a member's role, to this role.
    GrantRole(Role),
    /// List the org's members.
    ListMembers,
    /// Create a token; `for_self` when the token acts as the caller.
    CreateToken {
        /// Whether the new token acts as the caller.
        for_self: bool,
    },
    /// List the org's tokens.
    ListTokens,
    /// Revoke a token; `own` when it belongs to the caller.
    RevokeToken {
        /// Whether the token belongs to the caller.
        own: bool,
    },
    /// List secrets and read their metadata (never values).
    ReadSecretMetadata,
    /// Reveal a secret's value.
    RevealSecret,
    /// Write a new version (or create a secret).
    WriteSecret,
    /// Soft-delete or restore a secret.
    DeleteSecret,
    /// Destroy a secret for good (crypto-shredding).
    DestroySecret,
    /// Read and verify the audit trail.
    ReadAudit,
    /// See the org's key settings and health, get the BYOK setup documents, probe the keys now.
    ReadKeySettings,
    /// Change who holds the org's root keys (enable BYOK: irreversible, so owners only).
    ManageKeys,
    /// See the org's storage settings and migration progress.
    ReadStorage,
    /// Point the org at another bucket (or back to the default store).
    ManageStorage,
}

/// What the action applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resource {
    /// The deployment as a whole.
    Deployment,
    /// One org and everything in it.
    Org(OrgId),
}

/// The answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Go ahead.
    Allow,
    /// Answer as if the resource did not exist (another org's object).
    NotFound,
    /// The actor may see the resource but lacks the role for this action.
    Forbidden,
}

/// The least role an org member needs for `action` in their own org.
fn required_role(action: Action) -> Option<Role> {
    use Action::*;
    Some(match action {
        ReadOrg | ReadSecretMetadata => Role::Auditor,
        CreateToken { for_self: true } | RevokeToken { own: true } => Role::Auditor,
        RevealSecret | WriteSecret | DeleteSecret => Role::Member,
        ReadAudit => return None, // auditors, admins and owners, but not members: see below
        DestroySecret | ListMembers | ListTokens | ReadKeySettings | ReadStorage => Role::Admin,
        CreateToken { for_self: false } | RevokeToken { own: false } => Role::Admin,
        GrantRole(Role::Owner) | RotateOrgKey | ManageKeys | ManageStorage => Role::Owner,
        GrantRole(_) => Role::Admin,
        CreateOrg | ListAllOrgs => return None,
    })
}

/// May `actor` do `action` to `resource`?
pub fn authorize(actor: &Actor, action: Action, resource: Resource) -> Decision {
    match resource {
        Resource::Deployment => match action {
            Action::CreateOrg | Action::ListAllOrgs if actor.operator => Decision::Allow,
            _ => Decision::Forbidden,
        },
        Resource::Org(org) if org != actor.org => {
            let operator_duty = matches!(
                action,
                Action::ReadOrg
                    | Action::GrantRole(_)
                    | Action::ListMembers
                    | Action::CreateToken { for_self: false }
                    | Action::ListTokens
                    | Action::RevokeToken { own: false }
            );
            if actor.operator && operator_duty {
                Decision::Allow
            } else {
                Decision::NotFound
            }
        }
        Resource::Org(_) => {
            let allowed = match (action, required_role(action)) {
                (Action::ReadAudit, _) => actor.role != Role::Member,
                (_, Some(min)) => actor.role >= min,
                (_, None) => false,
            };
            if allowed {
                Decision::Allow
            } else {
                Decision::Forbidden
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Action::*;
    use Decision::{Allow as A, Forbidden as F, NotFound as N};

    fn actor(role: Role, operator: bool) -> Actor {
        Actor {
            user: UserId::new(),
            name: UserName::parse("u").unwrap(),
            org: OrgId::from_uuid(uuid::Uuid::from_u128(1)),
            role,
            operator,
            token: TokenId::new(),
        }
    }

    /// Every action, and the decision for (auditor, member, admin, owner) in their own org.
    const OWN_ORG: &[(Action, [Decision; 4])] = &[
        (ReadOrg, [A, A, A, A]),
        (ReadSecretMetadata, [A, A, A, A]),
        (RevealSecret, [F, A, A, A]),
        (WriteSecret, [F, A, A, A]),
        (DeleteSecret, [F, A, A, A]),
        (DestroySecret, [F, F, A, A]),
        (ReadAudit, [A, F, A, A]),
        (ListMembers, [F, F, A, A]),
        (GrantRole(Role::Member), [F, F, A, A]),
        (GrantRole(Role::Admin), [F, F, A, A]),
        (GrantRole(Role::Owner), [F, F, F, A]),
        (CreateToken { for_self: true }, [A, A, A, A]),
        (CreateToken { for_self: false }, [F, F, A, A]),
        (ListTokens, [F, F, A, A]),
        (RevokeToken { own: true }, [A, A, A, A]),
        (RevokeToken { own: false }, [F, F, A, A]),
        (RotateOrgKey, [F, F, F, A]),
        (ReadKeySettings, [F, F, A, A]),
        (ManageKeys, [F, F, F, A]),
        (ReadStorage, [F, F, A, A]),
        (ManageStorage, [F, F, F, A]),
    ];

    const ROLES: [Role; 4] = [Role::Auditor, Role::Member, Role::Admin, Role::Owner];

    #[test]
    fn own_org_table() {
        for (action, expected) in OWN_ORG {
            for (role, want) in ROLES.iter().zip(expected) {
                let a = actor(*role, false);
                assert_eq!(
                    authorize(&a, *action, Resource::Org(a.org)),
                    *want,
                    "{role:?} {action:?}"
                );
            }
        }
    }

    #[test]
    fn another_orgs_objects_are_not_found_for_everyone_but_operator_duties() {
        let other = Resource::Org(OrgId::from_uuid(uuid::Uuid::from_u128(2)));
        for (action, _) in OWN_ORG {
            for role in ROLES {
                assert_eq!(
                    authorize(&actor(role, false), *action, other),
                    N,
                    "{role:?} {action:?}"
                );
            }
            let op = actor(Role::Owner, true);
            let duty = matches!(
                action,
                ReadOrg
                    | GrantRole(_)
                    | ListMembers
                    | CreateToken { for_self: false }
                    | ListTokens
                    | RevokeToken { own: false }
            );
            assert_eq!(
                authorize(&op, *action, other),
                if duty { A } else { N },
                "operator {action:?}"
            );
        }
    }

    #[test]
    fn operator_never_reads_another_orgs_secrets() {
        let op = actor(Role::Owner, true);
        let other = Resource::Org(OrgId::from_uuid(uuid::Uuid::from_u128(2)));
        for action in [
            RevealSecret,
            ReadSecretMetadata,
            WriteSecret,
            ReadAudit,
            DestroySecret,
        ] {
            assert_eq!(authorize(&op, action, other), N);
        }
    }

    #[test]
    fn deployment_actions_are_operator_only() {
        for action in [CreateOrg, ListAllOrgs] {
            assert_eq!(
                authorize(&actor(Role::Owner, true), action, Resource::Deployment),
                A
            );
            assert_eq!(
                authorize(&actor(Role::Owner, false), action, Resource::Deployment),
                F
            );
        }
        assert_eq!(
            authorize(
                &actor(Role::Owner, true),
                RevealSecret,
                Resource::Deployment
            ),
            F
        );
    }
}
