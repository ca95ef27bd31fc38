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
//!   admins, who mint its tokens. It manages nothing about people, and neither sees nor sets
//!   where the org's events go (webhooks): a leaked CI token must not open a lasting channel out.
//! - The *operator* is a deployment role, never a member of any org. It creates orgs, seats
//!   members, resets credentials and revokes tokens, but never reads, writes or audits an org's
//!   secrets.
//!
//! Three rules shape every answer: a credential acts only inside the one org it is scoped to (an
//! object of another org is *not found*, never *forbidden*, so credentials cannot probe which
//! orgs exist); nobody grants, changes, invites, mints or revokes at a role above their own; and
//! memberships and credentials are people's business, so service accounts never manage either.

use super::{
    AccessLevel, GrantScope, GroupName, OrgId, Role, Scope, SecretId, TokenId, UserId, UserName,
};

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
    /// Take a backup of the whole deployment: the catalog, the envelopes and the master key
    /// (deployment-wide; whoever holds the archive and its passphrase holds every local org's
    /// keys, so it is the operator's alone, like access to the data directory).
    BackupDeployment,
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
    /// Take the org's recovery kit: every org-key version (or its KMS wraps), which opens the
    /// org's envelopes without Coffer — owners only, and never the operator.
    MakeRecoveryKit,
    /// See the org's storage settings and migration progress.
    ReadStorage,
    /// Point the org at another bucket (or back to the default store).
    ManageStorage,
    /// List the org's groups and their members.
    ListGroups,
    /// Create and delete groups, add and remove their members.
    ManageGroups,
    /// List every grant of the org.
    ListGrants,
    /// See the org's single sign-on settings.
    ReadSso,
    /// Set up or change the org's OpenID provider (who may sign in as the org's people: owners).
    ManageSso,
    /// Remove the org's OpenID provider: the owners', and the operator's break-glass when the
    /// provider is down or wrong and passwords are refused.
    DisableSso,
    /// List the org's SCIM tokens (metadata only).
    ReadScim,
    /// Create the org's SCIM tokens (whoever holds one provisions the org's people: owners).
    ManageScim,
    /// Revoke one of the org's SCIM tokens: owners, and the operator (a leaked token must be
    /// stoppable when no owner is at hand).
    RevokeScimToken,
    /// Make one-time links and "send me a secret" requests for people outside Coffer, and see
    /// and revoke one's own (which secrets: `authorize_secret`, as for reveals and writes).
    ShareOutside,
    /// See and revoke every member's one-time links and requests.
    ManageOutsideShares,
    /// List the org's webhooks and their deliveries (what its audit events tell a receiver).
    ReadWebhooks,
    /// Add, remove and re-key the org's webhooks and redeliver their deliveries: whoever does it
    /// chooses where the org's events go, so admins, like reading the audit trail in full.
    ManageWebhooks,
    /// See whether and how the org is linked to a Jira site, and one's own Jira account link.
    ReadJira,
    /// Link the org to a Jira site, change or remove the link (it decides who sees which
    /// issue's secrets: owners).
    ManageJira,
    /// Link or unlink one's own Jira account (a person's credential at Jira: people only).
    LinkJiraAccount,
    /// Look for secrets whose Jira issue no longer exists.
    ReconcileJira,
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

/// Whether the action manages people or credentials, or sees or sets where the org's events go
/// (webhooks) — never a service account's business.
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
            | ManageGroups
            | ReadSso
            | ManageSso
            | DisableSso
            | ReadScim
            | ManageScim
            | RevokeScimToken
            | ReadWebhooks
            | ManageWebhooks
            | ManageJira
            | LinkJiraAccount
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
            | DisableSso
            | ReadScim
            | RevokeScimToken
    )
}

/// May a member with `role` do `action` in their own org? (`AddMember` is the operator's.)
fn member_may(role: Role, action: Action) -> bool {
    use Action::*;
    let admin = role >= Role::Admin;
    match action {
        ReadOrg
        | CreateOwnToken
        | RevokeToken { own: true, .. }
        | ListGroups
        | ReadJira
        | LinkJiraAccount => true,
        ShareOutside => role >= Role::Member,
        ManageOutsideShares => admin,
        // Which secrets: `authorize_secret`, from roles, grants and shares.
        ReadSecretMetadata | RevealSecret | WriteSecret | DeleteSecret => true,
        ReadAudit => role != Role::Member,
        DestroySecret | ListMembers | ListTokens | ReadKeySettings | ReadStorage | ManageGroups
        | ListGrants | ReadSso | ReadScim | ReadWebhooks | ManageWebhooks | ReconcileJira => admin,
        Invite(r) | RemoveMember(r) | CreateServiceToken(r) => admin && r <= role,
        RevokeToken { own: false, holder } => admin && holder <= role,
        ChangeRole { from, to } => admin && from <= role && to <= role,
        CreateServiceAccount(r) => admin && r <= role && r <= MAX_SERVICE_ROLE,
        RotateOrgKey | ManageKeys | MakeRecoveryKit | ManageStorage | ManageSso | DisableSso
        | ManageScim | RevokeScimToken | ManageJira => role == Role::Owner,
        AddMember(_) | CreateOrg | ListAllOrgs | ResetCredentials | BackupDeployment => false,
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
                    Action::CreateOrg
                        | Action::ListAllOrgs
                        | Action::ResetCredentials
                        | Action::BackupDeployment
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

/// The role an org's SCIM token acts with: it provisions the org's people and groups as an admin
/// would, so it never touches an owner.
pub const SCIM_ROLE: Role = Role::Admin;

/// Something an org's SCIM token (RFC 7644 provisioning) wants to do in its org. A SCIM token is
/// no identity and holds no membership: it is a credential of the org itself, and acts only on
/// the org's people and groups.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScimAction {
    /// List and read the org's people and groups.
    Read,
    /// Create a new person as a member of the org with this role.
    CreatePerson(Role),
    /// Change, deactivate (end the membership of) or delete a person whose role in the org is
    /// this (`None`: no longer a member, deactivated by SCIM).
    ManagePerson(Option<Role>),
    /// Bring back a person SCIM deactivated, with this role.
    Reactivate(Role),
    /// Create, change and delete groups and their members.
    ManageGroups,
}

/// May the org's SCIM token do `action` in its org? Exactly what a member with [`SCIM_ROLE`] may
/// do about people and groups (`member_may`), so nobody provisions above an admin: creating,
/// changing, deactivating or deleting an owner is forbidden. Another org is never reachable: the
/// token names its org, and every object is looked up in it.
pub fn authorize_scim(action: ScimAction) -> Decision {
    use Action::*;
    let as_admin = |a: Action| member_may(SCIM_ROLE, a);
    let allowed = match action {
        ScimAction::Read => as_admin(ListMembers) && as_admin(ListGroups),
        ScimAction::CreatePerson(role) | ScimAction::Reactivate(role) => as_admin(Invite(role)),
        ScimAction::ManagePerson(None) => true,
        ScimAction::ManagePerson(Some(role)) => as_admin(RemoveMember(role)),
        ScimAction::ManageGroups => as_admin(ManageGroups),
    };
    if allowed {
        Decision::Allow
    } else {
        Decision::Forbidden
    }
}

/// What an actor may do with one secret, each right including the ones before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Right {
    /// See that it exists and read its metadata (auditors, by role).
    Metadata,
    /// Also reveal it.
    Read,
    /// Also write new versions, delete and restore it.
    Write,
    /// Also share it and grant access to it, up to this right.
    Manage,
}

impl From<AccessLevel> for Right {
    fn from(l: AccessLevel) -> Self {
        match l {
            AccessLevel::Read => Right::Read,
            AccessLevel::Write => Right::Write,
            AccessLevel::Manage => Right::Manage,
        }
    }
}

impl Right {
    /// The wire name (`metadata`, `read`, `write`, `manage`).
    pub fn as_str(self) -> &'static str {
        match self {
            Right::Metadata => "metadata",
            Right::Read => "read",
            Right::Write => "write",
            Right::Manage => "manage",
        }
    }
}

/// A grant that applies to an identity, directly or through one of its groups.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldGrant {
    /// Where it applies.
    pub scope: GrantScope,
    /// What it gives.
    pub level: AccessLevel,
    /// The group it comes through (`None`: granted to the identity itself).
    pub via: Option<GroupName>,
}

/// A share of one secret with an identity, directly or through one of its groups.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldShare {
    /// The secret.
    pub secret: SecretId,
    /// What it gives.
    pub level: AccessLevel,
    /// The group it comes through (`None`: shared with the identity itself).
    pub via: Option<GroupName>,
}

/// Every grant and share that applies to one identity in one org: what the catalog loads when
/// the role alone does not decide.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AccessSet {
    /// Grants to the identity or its groups.
    pub grants: Vec<HeldGrant>,
    /// Shares with the identity or its groups.
    pub shares: Vec<HeldShare>,
}

impl AccessSet {
    /// The highest level the grants give on secrets attached to `scope`.
    pub fn granted(&self, scope: &Scope) -> Option<AccessLevel> {
        self.grants
            .iter()
            .filter(|g| g.scope.covers(scope))
            .map(|g| g.level)
            .max()
    }

    /// The highest level the shares give on `secret`.
    pub fn shared(&self, secret: SecretId) -> Option<AccessLevel> {
        self.shares
            .iter()
            .filter(|s| s.secret == secret)
            .map(|s| s.level)
            .max()
    }

    /// The highest level the grants give over all of `target` (a grant of the org covers every
    /// scope, a project's covers its issues).
    pub fn granted_over(&self, target: &GrantScope) -> Option<AccessLevel> {
        self.grants
            .iter()
            .filter(|g| match (&g.scope, target) {
                (GrantScope::Org, _) => true,
                (GrantScope::Project(p), GrantScope::Project(t)) => p == t,
                (GrantScope::Project(p), GrantScope::Issue(t)) => t.project() == p,
                (GrantScope::Issue(i), GrantScope::Issue(t)) => i == t,
                _ => false,
            })
            .map(|g| g.level)
            .max()
    }
}

/// One secret, as the policy needs it.
#[derive(Clone, Copy, Debug)]
pub struct SecretFacts<'a> {
    /// Its id (shares name it).
    pub id: SecretId,
    /// Where it is attached (grants cover it).
    pub scope: &'a Scope,
    /// Whether only its shares give access to it.
    pub restricted: bool,
}

/// Whether the actor's role alone decides its right to a secret, so its grants and shares need
/// not be loaded: owners and admins manage every secret that is not restricted.
pub fn role_decides(actor: &Actor, restricted: bool) -> bool {
    !restricted && actor.role() >= Some(Role::Admin)
}

/// The actor's right to one secret, from three sources: its role (owners and admins manage,
/// auditors see the metadata of, every secret that is not restricted), the grants on the
/// secret's scope, and the secret's shares. A restricted secret is reachable through its shares
/// only. `access` may be empty when [`role_decides`].
pub fn secret_right(actor: &Actor, secret: SecretFacts<'_>, access: &AccessSet) -> Option<Right> {
    let role = actor.role()?;
    let shared = access.shared(secret.id).map(Right::from);
    if secret.restricted {
        return shared;
    }
    let by_role = match role {
        Role::Owner | Role::Admin => Some(Right::Manage),
        Role::Auditor => Some(Right::Metadata),
        Role::Member => None,
    };
    let granted = access.granted(secret.scope).map(Right::from);
    by_role.max(granted).max(shared)
}

/// The actor's right to create a secret on `scope`: its role or its grants (a new secret has
/// no shares).
pub fn scope_right(actor: &Actor, scope: &Scope, access: &AccessSet) -> Option<Right> {
    match actor.role()? {
        Role::Owner | Role::Admin => Some(Right::Manage),
        _ => access.granted(scope).map(Right::from),
    }
}

/// Something an actor wants to do with one secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecretAction {
    /// Know it exists, read its metadata and history.
    See,
    /// Reveal a value (or get an envelope URL).
    Reveal,
    /// Write a new version (or create it).
    Write,
    /// Delete or restore it.
    Delete,
    /// Destroy it for good (also an admin's, by role).
    Destroy,
    /// Share, unshare, restrict, and read who has access.
    ManageAccess,
}

/// May the actor, whose right to the secret is `right`, do `action`? Without any right the
/// secret does not exist for it (*not found*, so names do not leak); with too little, it is
/// *forbidden*. Owners and admins may manage the access of a restricted secret they cannot
/// see — share it, even with themselves — and every such change is an audit event: restriction
/// keeps a secret from admins' reveals, not from admins' decisions (docs/threat-model.md).
pub fn authorize_secret(
    actor: &Actor,
    action: SecretAction,
    right: Option<Right>,
    restricted: bool,
) -> Decision {
    let Some(role) = actor.role() else {
        return Decision::NotFound;
    };
    let admin = role >= Role::Admin;
    if action == SecretAction::ManageAccess && restricted && admin {
        return Decision::Allow;
    }
    let Some(right) = right else {
        return Decision::NotFound;
    };
    let need = match action {
        SecretAction::See => Right::Metadata,
        SecretAction::Reveal => Right::Read,
        SecretAction::Write | SecretAction::Delete => Right::Write,
        SecretAction::Destroy | SecretAction::ManageAccess => Right::Manage,
    };
    let role_ok = action != SecretAction::Destroy || admin;
    if right >= need && role_ok {
        Decision::Allow
    } else {
        Decision::Forbidden
    }
}

/// May the actor grant (or revoke a grant of) `level` on `scope`? Owners and admins may grant
/// anything; anyone else needs a grant of `manage` over the whole of `scope`, and gives at most
/// what it holds there — nobody grants above their own access.
pub fn may_grant(
    actor: &Actor,
    scope: &GrantScope,
    level: AccessLevel,
    access: &AccessSet,
) -> Decision {
    match actor.role() {
        None => Decision::NotFound,
        Some(role) if role >= Role::Admin => Decision::Allow,
        Some(_) => match access.granted_over(scope) {
            Some(held) if held == AccessLevel::Manage && level <= held => Decision::Allow,
            _ => Decision::Forbidden,
        },
    }
}

/// May the actor, whose right to the secret is `right`, share it at `level`? It must be allowed
/// to manage the secret's access, and gives at most its own right (an admin managing a
/// restricted secret it cannot see gives any level).
pub fn may_share(
    actor: &Actor,
    right: Option<Right>,
    restricted: bool,
    level: AccessLevel,
) -> Decision {
    match authorize_secret(actor, SecretAction::ManageAccess, right, restricted) {
        Decision::Allow if right.is_none_or(|r| Right::from(level) <= r) => Decision::Allow,
        Decision::Allow => Decision::Forbidden,
        other => other,
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
        // Secret actions pass the org's gate for every role; `authorize_secret` decides which
        // secrets (the secret table below).
        (ReadSecretMetadata, [A, A, A, A]),
        (RevealSecret, [A, A, A, A]),
        (WriteSecret, [A, A, A, A]),
        (DeleteSecret, [A, A, A, A]),
        (DestroySecret, [F, F, A, A]),
        (ListGroups, [A, A, A, A]),
        (ManageGroups, [F, F, A, A]),
        (ListGrants, [F, F, A, A]),
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
        (MakeRecoveryKit, [F, F, F, A]),
        (ReadStorage, [F, F, A, A]),
        (ManageStorage, [F, F, F, A]),
        (ReadSso, [F, F, A, A]),
        (ManageSso, [F, F, F, A]),
        (DisableSso, [F, F, F, A]),
        (ReadScim, [F, F, A, A]),
        (ManageScim, [F, F, F, A]),
        (RevokeScimToken, [F, F, F, A]),
        (ShareOutside, [F, A, A, A]),
        (ManageOutsideShares, [F, F, A, A]),
        (ReadWebhooks, [F, F, A, A]),
        (ManageWebhooks, [F, F, A, A]),
        (CreateOrg, [F, F, F, F]),
        (ListAllOrgs, [F, F, F, F]),
        (ResetCredentials, [F, F, F, F]),
        (BackupDeployment, [F, F, F, F]),
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
        for webhooks in [ReadWebhooks, ManageWebhooks] {
            assert_eq!(
                authorize(&sa, webhooks, Resource::Org(org(1))),
                F,
                "a leaked service token must not redirect the org's events: {webhooks:?}"
            );
            assert_eq!(
                authorize(&person(Admin), webhooks, Resource::Org(org(1))),
                A
            );
        }
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
            MakeRecoveryKit,
        ] {
            assert_eq!(authorize(&op, action, Resource::Org(org(1))), N);
        }
    }

    #[test]
    fn deployment_actions_are_the_operators_alone() {
        for action in [CreateOrg, ListAllOrgs, ResetCredentials, BackupDeployment] {
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

    #[test]
    fn scim_provisions_as_an_admin_and_never_touches_an_owner() {
        use ScimAction::*;
        for (action, want) in [
            (Read, A),
            (CreatePerson(Member), A),
            (CreatePerson(Admin), A),
            (CreatePerson(Owner), F),
            (ManagePerson(None), A),
            (ManagePerson(Some(Auditor)), A),
            (ManagePerson(Some(Member)), A),
            (ManagePerson(Some(Admin)), A),
            (ManagePerson(Some(Owner)), F),
            (Reactivate(Member), A),
            (Reactivate(Owner), F),
            (ManageGroups, A),
        ] {
            assert_eq!(authorize_scim(action), want, "{action:?}");
        }
        // Whatever SCIM may do to a person, an admin may do to them too.
        for role in ROLES {
            if authorize_scim(ManagePerson(Some(role))) == A {
                assert_eq!(
                    authorize(&person(Admin), RemoveMember(role), Resource::Org(org(1))),
                    A
                );
            }
        }
    }

    fn secret(restricted: bool) -> (SecretId, Scope, bool) {
        (SecretId::new(), Scope::parse("OPS-1").unwrap(), restricted)
    }

    fn grant(scope: &str, level: AccessLevel) -> HeldGrant {
        HeldGrant {
            scope: GrantScope::parse(scope).unwrap(),
            level,
            via: None,
        }
    }

    /// Each row: the access set, whether the secret is restricted, and for a person who is
    /// (auditor, member, admin, owner) the right it gets.
    #[test]
    fn secret_rights_table() {
        use AccessLevel::{Manage as LM, Read as LR, Write as LW};
        use Right::{Manage as M, Metadata as D, Read as R, Write as W};
        let (id, scope, _) = secret(false);
        let share = |level| HeldShare {
            secret: id,
            level,
            via: None,
        };
        let set = |grants: Vec<HeldGrant>, shares: Vec<HeldShare>| AccessSet { grants, shares };
        let rows: Vec<(AccessSet, bool, [Option<Right>; 4])> = vec![
            (
                set(vec![], vec![]),
                false,
                [Some(D), None, Some(M), Some(M)],
            ),
            (
                set(vec![grant("*", LR)], vec![]),
                false,
                [Some(R), Some(R), Some(M), Some(M)],
            ),
            (
                set(vec![grant("OPS", LW)], vec![]),
                false,
                [Some(W), Some(W), Some(M), Some(M)],
            ),
            (set(vec![grant("OPS-1", LM)], vec![]), false, [Some(M); 4]),
            (
                set(vec![grant("OPS-2", LM)], vec![]),
                false,
                [Some(D), None, Some(M), Some(M)],
            ),
            (
                set(vec![grant("OPSX", LM)], vec![]),
                false,
                [Some(D), None, Some(M), Some(M)],
            ),
            (
                set(vec![], vec![share(LR)]),
                false,
                [Some(R), Some(R), Some(M), Some(M)],
            ),
            // Restricted: only shares count, for every role.
            (set(vec![grant("*", LM)], vec![]), true, [None; 4]),
            (
                set(vec![grant("*", LM)], vec![share(LR)]),
                true,
                [Some(R); 4],
            ),
        ];
        for (i, (access, restricted, want)) in rows.into_iter().enumerate() {
            for (role, want) in [Auditor, Member, Admin, Owner].into_iter().zip(want) {
                let facts = SecretFacts {
                    id,
                    scope: &scope,
                    restricted,
                };
                let got = secret_right(&person(role), facts, &access);
                assert_eq!(got, want, "row {i}, {role:?}");
                if role_decides(&person(role), restricted) {
                    let alone = secret_right(&person(role), facts, &AccessSet::default());
                    assert_eq!(alone, got, "row {i}, {role:?}: the role decides alone");
                }
            }
        }
        assert_eq!(
            secret_right(
                &operator(),
                SecretFacts {
                    id,
                    scope: &scope,
                    restricted: false
                },
                &AccessSet::default()
            ),
            None
        );
    }

    #[test]
    fn secret_actions_need_their_right_and_unseen_secrets_are_not_found() {
        use Right::{Manage as M, Metadata as D, Read as R, Write as W};
        use SecretAction::*;
        let m = person(Member);
        let a = person(Admin);
        for (right, action, want) in [
            (None, See, N),
            (None, Reveal, N),
            (Some(D), See, A),
            (Some(D), Reveal, F),
            (Some(R), Reveal, A),
            (Some(R), Write, F),
            (Some(W), Write, A),
            (Some(W), Delete, A),
            (Some(W), ManageAccess, F),
            (Some(M), ManageAccess, A),
            (Some(M), Destroy, F),
        ] {
            assert_eq!(
                authorize_secret(&m, action, right, false),
                want,
                "{right:?} {action:?}"
            );
        }
        assert_eq!(authorize_secret(&a, Destroy, Some(M), false), A);
        // An admin manages a restricted secret's access without seeing it, and no more.
        assert_eq!(authorize_secret(&a, ManageAccess, None, true), A);
        assert_eq!(authorize_secret(&a, Reveal, None, true), N);
        assert_eq!(authorize_secret(&a, Destroy, None, true), N);
        assert_eq!(authorize_secret(&m, ManageAccess, None, true), N);
        assert_eq!(authorize_secret(&operator(), See, Some(M), false), N);
    }

    #[test]
    fn nobody_grants_or_shares_above_their_own_access() {
        use AccessLevel::{Manage as LM, Read as LR, Write as LW};
        let m = person(Member);
        let ops = GrantScope::parse("OPS").unwrap();
        let ops1 = GrantScope::parse("OPS-1").unwrap();
        let held = |g: Vec<HeldGrant>| AccessSet {
            grants: g,
            shares: vec![],
        };
        assert_eq!(
            may_grant(&person(Admin), &GrantScope::Org, LM, &AccessSet::default()),
            A
        );
        assert_eq!(may_grant(&m, &ops, LR, &AccessSet::default()), F);
        assert_eq!(may_grant(&m, &ops, LR, &held(vec![grant("OPS", LW)])), F);
        assert_eq!(may_grant(&m, &ops, LM, &held(vec![grant("OPS", LM)])), A);
        assert_eq!(may_grant(&m, &ops1, LW, &held(vec![grant("OPS", LM)])), A);
        assert_eq!(
            may_grant(&m, &ops, LR, &held(vec![grant("OPS-1", LM)])),
            F,
            "an issue's manager does not manage its project"
        );
        assert_eq!(
            may_grant(&m, &GrantScope::Org, LR, &held(vec![grant("OPS", LM)])),
            F
        );
        assert_eq!(may_share(&m, Some(Right::Manage), false, LM), A);
        assert_eq!(
            may_share(&m, Some(Right::Write), false, LR),
            F,
            "sharing needs manage"
        );
        assert_eq!(may_share(&person(Admin), None, true, LM), A);
        assert_eq!(may_share(&m, None, false, LR), N);
    }
}

/// What Jira answered about a person and an issue or project (docs/jira.md, "Who sees what").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JiraAnswer {
    /// The org is not linked to a Jira site: Coffer's own access decides alone.
    NotAsked,
    /// The caller is not a person (a service account has no Jira identity; its grants decide).
    NotAPerson,
    /// Jira says the person may browse it.
    Allowed,
    /// Jira says the person may not browse it, or that it does not exist.
    Denied,
    /// The person has not linked a Jira account in this org, or Jira refused its token.
    NoAccount,
    /// Jira could not be reached, answered with an error, or asked Coffer to slow down.
    Unreachable,
}

impl JiraAnswer {
    /// The name audit events record.
    pub fn as_str(self) -> &'static str {
        match self {
            JiraAnswer::NotAsked => "not_linked",
            JiraAnswer::NotAPerson => "service_account",
            JiraAnswer::Allowed => "allowed",
            JiraAnswer::Denied => "denied",
            JiraAnswer::NoAccount => "no_account",
            JiraAnswer::Unreachable => "unreachable",
        }
    }
}

/// Whether Jira is asked at all: only for a person in an org linked to a Jira site.
pub fn jira_asked(kind: IdentityKind, org_linked: bool) -> bool {
    org_linked && kind == IdentityKind::Person
}

/// The role that counts for an actor's secrets. Jira is not asked for service accounts (they have
/// no Jira identity), so in an org linked to Jira their role reaches no secret by itself: only
/// explicit grants and shares do. Otherwise an admin could step around Jira by minting an admin
/// service account.
pub fn secret_role(kind: IdentityKind, org_linked: bool, role: Role) -> Role {
    if org_linked && kind == IdentityKind::Service {
        Role::Member
    } else {
        role
    }
}

/// Whether Jira's answer lets Coffer's own decision stand. In an org linked to Jira a person's
/// access to an issue's (or project's) secrets is Coffer's access AND Jira's "may browse"; every
/// answer but a yes — no linked account, Jira unreachable, throttling, an error — is a no (fail
/// closed).
pub fn jira_admits(answer: JiraAnswer) -> bool {
    matches!(
        answer,
        JiraAnswer::NotAsked | JiraAnswer::NotAPerson | JiraAnswer::Allowed
    )
}

#[cfg(test)]
mod jira_tests {
    use super::*;

    #[test]
    fn jira_is_asked_for_people_of_linked_orgs_only() {
        assert!(jira_asked(IdentityKind::Person, true));
        assert!(!jira_asked(IdentityKind::Person, false));
        assert!(!jira_asked(IdentityKind::Service, true));
        assert!(!jira_asked(IdentityKind::Operator, true));
    }

    #[test]
    fn service_accounts_of_linked_orgs_reach_secrets_by_grants_only() {
        use IdentityKind::*;
        assert_eq!(secret_role(Service, true, Role::Admin), Role::Member);
        assert_eq!(secret_role(Service, false, Role::Admin), Role::Admin);
        assert_eq!(secret_role(Person, true, Role::Admin), Role::Admin);
        assert_eq!(secret_role(Person, true, Role::Owner), Role::Owner);
    }

    #[test]
    fn only_a_yes_admits_and_everything_else_fails_closed() {
        use JiraAnswer::*;
        let table = [
            (NotAsked, true),
            (NotAPerson, true),
            (Allowed, true),
            (Denied, false),
            (NoAccount, false),
            (Unreachable, false),
        ];
        for (answer, admits) in table {
            assert_eq!(jira_admits(answer), admits, "{answer:?}");
        }
    }
}
