//! Authorization: one pure function of (actor, action, resource), so the whole access model is a
//! table that unit tests read top to bottom. No I/O, no clock, no caches: the service layer
//! loads the facts (who the credential belongs to, and that identity's role in the credential's
//! org) and asks.
//!
//! The model separates **identities** from **memberships** (docs/threat-model.md, "Identity and
//! tenancy"):
//!
//! - A *person* is one identity across the deployment and may be a member of several orgs, with
//!   a role in each. Their credentials (password, personal tokens, sessions) are theirs: there is
//!   no action here by which anyone mints another person's token or sets their password. The
//!   operator may only *reset* them (revoke, and hand out a one-time code the person redeems).
//! - A *service account* belongs to one org, is never an owner, and is managed by that org's
//!   admins, who mint its tokens. It manages nothing about people.
//! - The *operator* is a deployment role, never a member of any org. It creates orgs, seats
//!   members, resets credentials and revokes tokens, but never reads, writes or audits an org's
//!   secrets.
//!
//! Three rules shape every answer: a credential acts only inside the one org it is scoped to (an
//! object of another org is *not found*, never *forbidden*, so credentials cannot probe which
//! orgs exist); nobody grants, changes, invites, mints or revokes at a role above their own; and
//! memberships and credentials are people's business, so service accounts never manage either.

use super::{OrgId, Role, TokenId, UserId, UserName};

/// What kind of identity a credential belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IdentityKind {
    /// A human, one identity across the deployment, a member of any number of orgs.
    Person,
    /// A non-human identity of one org, managed by that org's admins.
    Service,
    /// The deployment operator: no org, no role, no secrets.
    Operator,
}

impl IdentityKind {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            IdentityKind::Person => "person",
            IdentityKind::Service => "service",
            IdentityKind::Operator => "operator",
        }
    }
}

impl std::str::FromStr for IdentityKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "person" => Ok(IdentityKind::Person),
            "service" => Ok(IdentityKind::Service),
            "operator" => Ok(IdentityKind::Operator),
            other => Err(format!("unknown identity kind {other:?}")),
        }
    }
}

/// Where a credential acts: an org, with the identity's current role there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Membership {
    /// The org the credential is scoped to.
    pub org: OrgId,
    /// The identity's current role in it.
    pub role: Role,
}

/// An authenticated caller: a credential (token or session), the identity it belongs to, and
/// where it acts. Built only through [`Actor::member`] and [`Actor::operator`], so an operator
/// never carries a membership and a member always does.
#[derive(Clone, Debug)]
pub struct Actor {
    /// The identity.
    pub user: UserId,
    /// Its name (for audit events and messages).
    pub name: UserName,
    kind: IdentityKind,
    membership: Option<Membership>,
    /// The credential used (token or session id).
    pub token: TokenId,
}

impl Actor {
    /// A person or service account acting in `membership.org`. `None` for the operator kind,
    /// which has no memberships.
    pub fn member(
        user: UserId,
        name: UserName,
        kind: IdentityKind,
        membership: Membership,
        token: TokenId,
    ) -> Option<Self> {
        (kind != IdentityKind::Operator).then_some(Self {
            user,
            name,
            kind,
            membership: Some(membership),
            token,
        })
    }

    /// The operator, acting deployment-wide.
    pub fn operator(user: UserId, name: UserName, token: TokenId) -> Self {
        Self {
            user,
            name,
            kind: IdentityKind::Operator,
            membership: None,
            token,
        }
    }

    /// The kind of identity acting.
    pub fn kind(&self) -> IdentityKind {
        self.kind
    }

    /// Whether the operator acts.
    pub fn is_operator(&self) -> bool {
        self.kind == IdentityKind::Operator
    }

    /// Where the credential acts (`None`: the operator).
    pub fn membership(&self) -> Option<Membership> {
        self.membership
    }

    /// The org the credential is scoped to (`None`: the operator).
    pub fn org(&self) -> Option<OrgId> {
        self.membership.map(|m| m.org)
    }

    /// The role in that org (`None`: the operator).
    pub fn role(&self) -> Option<Role> {
        self.membership.map(|m| m.role)
    }

    /// How the actor is named in audit events: a service account as `svc:NAME`, so it is never
    /// mistaken for a person of the same name.
    pub fn audit_name(&self) -> String {
        match self.kind {
            IdentityKind::Service => format!("svc:{}", self.name),
            _ => self.name.to_string(),
        }
    }
}

/// Something an actor wants to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Create a new org (deployment-wide).
    CreateOrg,
    /// List every org (deployment-wide).
    ListAllOrgs,
    /// Reset a person's credentials: revoke their tokens, sessions and password, and hand out
    /// a one-time code they redeem to set a new password (deployment-wide).
    ResetCredentials,
    /// Read an org's settings and status.
    ReadOrg,
    /// Rotate the org key.
    RotateOrgKey,
    /// List the org's members, service accounts and pending invitations.
    ListMembers,
    /// Invite a person to the org with this role (they accept with their own credentials).
    Invite(Role),
    /// Add an existing person to the org directly, without an invitation.
    AddMember(Role),
    /// Change a member's role.
    ChangeRole {
        /// Their role now.
        from: Role,
        /// The role asked for.
        to: Role,
    },
    /// Remove a member (or a service account) whose role is this.
    RemoveMember(Role),
    /// Create a service account with this role.
    CreateServiceAccount(Role),
    /// Mint a token for a service account whose role is this.
    CreateServiceToken(Role),
    /// Mint a personal token for oneself in this org.
    CreateOwnToken,
    /// List the org's tokens (metadata only).
    ListTokens,
    /// Revoke a token.
    RevokeToken {
        /// Whether the token belongs to the caller.
        own: bool,
        /// The role of the token's identity in the org.
        holder: Role,
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

/// The highest role a service account may hold: owners manage keys, storage and other owners,
/// which stays with people.
pub const MAX_SERVICE_ROLE: Role = Role::Admin;

/// Whether the action manages people or credentials — never a service account's business.
fn manages_people(action: Action) -> bool {
    use Action::*;
    matches!(
        action,
        ListMembers
            | Invite(_)
            | AddMember(_)
            | ChangeRole { .. }
            | RemoveMember(_)
            | CreateServiceAccount(_)
            | CreateServiceToken(_)
            | CreateOwnToken
            | ListTokens
            | RevokeToken { own: false, .. }
    )
}

/// What the operator may do in an org: seat, change and remove members, list them and their
/// tokens, revoke tokens, and see the org's status. Never anything about secrets or the audit
/// trail, and never minting a credential for anyone.
fn operator_duty(action: Action) -> bool {
    use Action::*;
    matches!(
        action,
        ReadOrg
            | ListMembers
            | Invite(_)
            | AddMember(_)
            | ChangeRole { .. }
            | RemoveMember(_)
            | ListTokens
            | RevokeToken { own: false, .. }
    )
}

/// May a member with `role` do `action` in their own org? (`AddMember` is the operator's.)
fn member_may(role: Role, action: Action) -> bool {
    use Action::*;
    let admin = role >= Role::Admin;
    match action {
        ReadOrg | ReadSecretMetadata | CreateOwnToken | RevokeToken { own: true, .. } => true,
        RevealSecret | WriteSecret | DeleteSecret => role >= Role::Member,
        ReadAudit => role != Role::Member,
        DestroySecret | ListMembers | ListTokens | ReadKeySettings | ReadStorage => admin,
        Invite(r) | RemoveMember(r) | CreateServiceToken(r) => admin && r <= role,
        RevokeToken { own: false, holder } => admin && holder <= role,
        ChangeRole { from, to } => admin && from <= role && to <= role,
        CreateServiceAccount(r) => admin && r <= role && r <= MAX_SERVICE_ROLE,
        RotateOrgKey | ManageKeys | ManageStorage => role == Role::Owner,
        AddMember(_) | CreateOrg | ListAllOrgs | ResetCredentials => false,
    }
}

/// May `actor` do `action` to `resource`?
pub fn authorize(actor: &Actor, action: Action, resource: Resource) -> Decision {
    let allow = |yes: bool| {
        if yes {
            Decision::Allow
        } else {
            Decision::Forbidden
        }
    };
    match (resource, actor.membership) {
        (Resource::Deployment, _) => allow(
            actor.is_operator()
                && matches!(
                    action,
                    Action::CreateOrg | Action::ListAllOrgs | Action::ResetCredentials
                ),
        ),
        (Resource::Org(_), None) if operator_duty(action) => Decision::Allow,
        (Resource::Org(_), None) => Decision::NotFound,
        (Resource::Org(org), Some(m)) if org != m.org => Decision::NotFound,
        (Resource::Org(_), Some(m)) => {
            if actor.kind == IdentityKind::Service && manages_people(action) {
                return Decision::Forbidden;
            }
            allow(member_may(m.role, action))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Action::*;
    use Decision::{Allow as A, Forbidden as F, NotFound as N};
    use Role::{Admin, Auditor, Member, Owner};

    fn org(n: u128) -> OrgId {
        OrgId::from_uuid(uuid::Uuid::from_u128(n))
    }

    fn actor(kind: IdentityKind, role: Role) -> Actor {
        let m = Membership { org: org(1), role };
        Actor::member(
            UserId::new(),
            UserName::parse("u").unwrap(),
            kind,
            m,
            TokenId::new(),
        )
        .unwrap()
    }

    fn person(role: Role) -> Actor {
        actor(IdentityKind::Person, role)
    }

    fn operator() -> Actor {
        Actor::operator(
            UserId::new(),
            UserName::parse("operator").unwrap(),
            TokenId::new(),
        )
    }

    /// Every action, and the decision for a person who is (auditor, member, admin, owner) of the
    /// org the action is in.
    const OWN_ORG: &[(Action, [Decision; 4])] = &[
        (ReadOrg, [A, A, A, A]),
        (ReadSecretMetadata, [A, A, A, A]),
        (RevealSecret, [F, A, A, A]),
        (WriteSecret, [F, A, A, A]),
        (DeleteSecret, [F, A, A, A]),
        (DestroySecret, [F, F, A, A]),
        (ReadAudit, [A, F, A, A]),
        (ListMembers, [F, F, A, A]),
        (Invite(Member), [F, F, A, A]),
        (Invite(Admin), [F, F, A, A]),
        (Invite(Owner), [F, F, F, A]),
        (AddMember(Member), [F, F, F, F]),
        (AddMember(Owner), [F, F, F, F]),
        (
            ChangeRole {
                from: Member,
                to: Admin,
            },
            [F, F, A, A],
        ),
        (
            ChangeRole {
                from: Admin,
                to: Owner,
            },
            [F, F, F, A],
        ),
        (
            ChangeRole {
                from: Owner,
                to: Admin,
            },
            [F, F, F, A],
        ),
        (
            ChangeRole {
                from: Owner,
                to: Member,
            },
            [F, F, F, A],
        ),
        (RemoveMember(Member), [F, F, A, A]),
        (RemoveMember(Admin), [F, F, A, A]),
        (RemoveMember(Owner), [F, F, F, A]),
        (CreateServiceAccount(Member), [F, F, A, A]),
        (CreateServiceAccount(Admin), [F, F, A, A]),
        (CreateServiceAccount(Owner), [F, F, F, F]),
        (CreateServiceToken(Member), [F, F, A, A]),
        (CreateServiceToken(Admin), [F, F, A, A]),
        (CreateOwnToken, [A, A, A, A]),
        (ListTokens, [F, F, A, A]),
        (
            RevokeToken {
                own: true,
                holder: Owner,
            },
            [A, A, A, A],
        ),
        (
            RevokeToken {
                own: false,
                holder: Member,
            },
            [F, F, A, A],
        ),
        (
            RevokeToken {
                own: false,
                holder: Admin,
            },
            [F, F, A, A],
        ),
        (
            RevokeToken {
                own: false,
                holder: Owner,
            },
            [F, F, F, A],
        ),
        (RotateOrgKey, [F, F, F, A]),
        (ReadKeySettings, [F, F, A, A]),
        (ManageKeys, [F, F, F, A]),
        (ReadStorage, [F, F, A, A]),
        (ManageStorage, [F, F, F, A]),
        (CreateOrg, [F, F, F, F]),
        (ListAllOrgs, [F, F, F, F]),
        (ResetCredentials, [F, F, F, F]),
    ];

    const ROLES: [Role; 4] = [Auditor, Member, Admin, Owner];

    #[test]
    fn own_org_table() {
        for (action, expected) in OWN_ORG {
            for (role, want) in ROLES.iter().zip(expected) {
                let a = person(*role);
                assert_eq!(
                    authorize(&a, *action, Resource::Org(org(1))),
                    *want,
                    "{role:?} {action:?}"
                );
            }
        }
    }

    #[test]
    fn nobody_acts_above_their_own_role() {
        // Every role-carrying action, for every pair of (own role, target role): allowed only
        // if the target role is at most the actor's.
        for own in ROLES {
            for target in ROLES {
                for action in [
                    Invite(target),
                    RemoveMember(target),
                    CreateServiceToken(target),
                    RevokeToken {
                        own: false,
                        holder: target,
                    },
                    ChangeRole {
                        from: Member,
                        to: target,
                    },
                    ChangeRole {
                        from: target,
                        to: Member,
                    },
                ] {
                    if authorize(&person(own), action, Resource::Org(org(1))) == A {
                        assert!(target <= own, "{own:?} may {action:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn another_orgs_objects_are_not_found_for_every_member() {
        for (action, _) in OWN_ORG {
            for role in ROLES {
                for kind in [IdentityKind::Person, IdentityKind::Service] {
                    assert_eq!(
                        authorize(&actor(kind, role), *action, Resource::Org(org(2))),
                        N,
                        "{kind:?} {role:?} {action:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn service_accounts_never_manage_people_or_credentials() {
        let sa = actor(IdentityKind::Service, Admin);
        for (action, _) in OWN_ORG {
            let got = authorize(&sa, *action, Resource::Org(org(1)));
            if manages_people(*action) {
                assert_eq!(got, F, "{action:?}");
            } else {
                assert_eq!(
                    got,
                    authorize(&person(Admin), *action, Resource::Org(org(1))),
                    "{action:?}"
                );
            }
        }
        assert_eq!(
            authorize(
                &sa,
                RevokeToken {
                    own: true,
                    holder: Admin
                },
                Resource::Org(org(1))
            ),
            A,
            "a leaked service token can revoke itself"
        );
    }

    #[test]
    fn the_operator_manages_memberships_but_never_reads_secrets() {
        let op = operator();
        assert!(op.membership().is_none() && op.org().is_none() && op.role().is_none());
        for (action, _) in OWN_ORG {
            let want = if operator_duty(*action) { A } else { N };
            for o in [org(1), org(2)] {
                assert_eq!(
                    authorize(&op, *action, Resource::Org(o)),
                    want,
                    "{action:?}"
                );
            }
        }
        for action in [
            RevealSecret,
            ReadSecretMetadata,
            WriteSecret,
            ReadAudit,
            DestroySecret,
            CreateOwnToken,
            CreateServiceToken(Member),
            CreateServiceAccount(Member),
        ] {
            assert_eq!(authorize(&op, action, Resource::Org(org(1))), N);
        }
    }

    #[test]
    fn deployment_actions_are_the_operators_alone() {
        for action in [CreateOrg, ListAllOrgs, ResetCredentials] {
            assert_eq!(authorize(&operator(), action, Resource::Deployment), A);
            for role in ROLES {
                assert_eq!(authorize(&person(role), action, Resource::Deployment), F);
            }
        }
        assert_eq!(
            authorize(&operator(), RevealSecret, Resource::Deployment),
            F
        );
    }

    #[test]
    fn an_operator_identity_cannot_be_built_with_a_membership() {
        let m = Membership {
            org: org(1),
            role: Owner,
        };
        let name = UserName::parse("operator").unwrap();
        assert!(
            Actor::member(
                UserId::new(),
                name,
                IdentityKind::Operator,
                m,
                TokenId::new()
            )
            .is_none()
        );
    }
}
