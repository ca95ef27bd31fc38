//! Invitations: how a person joins an org. An admin (at most their own role) or the operator
//! invites a *name* with a role and gets a one-time code (`coffer_i_…`, shown once, stored as its
//! SHA-256, 7 days by default) to hand to that person. The person accepts it:
//!
//! - a new name becomes a person, who sets their own password with the acceptance (optional from
//!   the CLI) and receives their first token in the org; the request must not be signed in as
//!   someone else;
//! - a name that is already a person must accept signed in *as that person* (a token or session
//!   of any of their orgs) — so an admin of one org can never adopt someone from another org, or
//!   their credentials, by inviting their name;
//! - the operator's name is never invitable.
//!
//! The answer to creating an invitation is the same whether or not the name exists elsewhere in
//! the deployment, so invitations do not reveal who has an account.

use super::operator_is_never_a_member;
use crate::audit::AuditDraft;
use crate::catalog::{
    Acceptance, CatalogError, InvitationRecord, Invitee, MemberRecord, OrgRecord, TokenRecord,
    UserRecord,
};
use crate::domain::policy::{Action, Actor};
use crate::domain::{
    IdentityKind, InvitationId, Lifetime, OrgSlug, Role, Timestamp, TokenId, UserName,
};
use crate::service::web::guard::check_new_password;
use crate::service::{Coffer, Error, Result, event, tokens};
use std::time::Duration;
use zeroize::Zeroizing;

/// How long an invitation lasts unless the inviter says otherwise.
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);
/// The longest an invitation or a reset code may last.
pub const MAX_LIFETIME: Duration = Duration::from_secs(30 * 24 * 3600);

/// A new invitation and its code (shown once).
pub struct Invited {
    /// The stored record.
    pub invitation: InvitationRecord,
    /// The code to hand to the person.
    pub code: Zeroizing<String>,
}

/// An accepted invitation: the membership, its org, and the person's new token (shown once) if
/// they asked for one.
pub struct Accepted {
    /// The new membership.
    pub member: MemberRecord,
    /// The org joined.
    pub org: OrgRecord,
    /// The token's record and value.
    pub token: Option<(TokenRecord, Zeroizing<String>)>,
}

fn unknown_code() -> Error {
    Error::NotFound(
        "this invitation code is unknown; check it was copied whole, or ask for a new invitation"
            .into(),
    )
}

impl Coffer {
    /// Invites `name` to the org with `role`. Replaces any pending invitation of that name to
    /// the org.
    pub async fn invite(
        &self,
        actor: &Actor,
        slug: &OrgSlug,
        name: UserName,
        role: Role,
        lifetime: Option<Lifetime>,
    ) -> Result<Invited> {
        let org = self.org_for(actor, slug, Action::Invite(role)).await?;
        let lifetime = lifetime.map_or(DEFAULT_LIFETIME, Lifetime::duration);
        if lifetime > MAX_LIFETIME {
            return Err(Error::InvalidInput(format!(
                "an invitation lasts at most {} days; ask for a shorter expires_in_seconds",
                MAX_LIFETIME.as_secs() / 86_400
            )));
        }
        // The members are read whether or not the name is a person already, so the answer
        // takes the same work either way.
        let members = self
            .catalog
            .list_members(org.id)
            .await
            .map_err(|e| Error::catalog(e, || "members".into()))?;
        match self.catalog.user_by_name(&name).await {
            Ok(u) if u.kind == IdentityKind::Operator => {
                return Err(operator_is_never_a_member(&name));
            }
            Ok(u) if members.iter().any(|m| m.user.id == u.id) => {
                return Err(Error::AlreadyExists(format!(
                    "`{name}` is already a member of org `{slug}`; change their role with `coffer user role {name} ROLE --org {slug}`"
                )));
            }
            Ok(_) | Err(CatalogError::NotFound) => {}
            Err(e) => return Err(Error::catalog(e, || format!("user `{name}`"))),
        }
        let code = tokens::generate_with(tokens::INVITATION_PREFIX);
        let now = Timestamp::now();
        let invitation = InvitationRecord {
            id: InvitationId::new(),
            hash: tokens::hash(&code),
            org: org.id,
            name: name.clone(),
            role,
            created_by: actor.audit_name(),
            created_at: now,
            expires_at: now.plus(lifetime),
            accepted_at: None,
            revoked_at: None,
        };
        let details = serde_json::json!({
            "role": role,
            "invitation_id": invitation.id.to_string(),
            "expires_at": invitation.expires_at.to_string(),
        });
        let audit = event(actor, org.id, "member.invite", name.as_str(), details);
        self.catalog
            .create_invitation(invitation.clone(), audit)
            .await
            .map_err(|e| Error::catalog(e, || "invitation".into()))?;
        Ok(Invited { invitation, code })
    }

    /// The org's invitations: pending ones, and those that ended in the last 30 days.
    pub async fn invitations(
        &self,
        actor: &Actor,
        slug: &OrgSlug,
    ) -> Result<Vec<InvitationRecord>> {
        let org = self.org_for(actor, slug, Action::ListMembers).await?;
        self.catalog
            .list_invitations(org.id, Timestamp::now())
            .await
            .map_err(|e| Error::catalog(e, || "invitations".into()))
    }

    /// Revokes a pending invitation (needs the right to invite at its role).
    pub async fn revoke_invitation(
        &self,
        actor: &Actor,
        slug: &OrgSlug,
        id: InvitationId,
    ) -> Result<InvitationRecord> {
        let org = self.org_for(actor, slug, Action::ListMembers).await?;
        let not_found = || format!("no invitation {id} in org `{slug}`");
        let pending = self
            .catalog
            .list_invitations(org.id, Timestamp::now())
            .await
            .map_err(|e| Error::catalog(e, || "invitations".into()))?
            .into_iter()
            .find(|i| i.id == id)
            .ok_or_else(|| Error::NotFound(not_found()))?;
        self.org_for(actor, slug, Action::Invite(pending.role))
            .await?;
        let details = serde_json::json!({"invitation_id": id.to_string(), "role": pending.role});
        let audit = event(
            actor,
            org.id,
            "member.uninvite",
            pending.name.as_str(),
            details,
        );
        self.catalog
            .revoke_invitation(org.id, id, Timestamp::now(), audit)
            .await
            .map_err(|e| match e {
                CatalogError::Refused(_) => Error::Conflict {
                    code: "invitation_not_pending",
                    message: format!(
                        "the invitation for `{}` was already accepted, revoked or expired",
                        pending.name
                    ),
                },
                other => Error::catalog(other, not_found),
            })
    }

    /// Accepts an invitation with its `code`. `caller` is who the request is signed in as, if
    /// anyone: an invitation for an existing person needs that person; one for a new name makes
    /// the person, with `password` if given. Returns the membership and, with `mint_token`, a
    /// first token in the org.
    pub async fn accept_invitation(
        &self,
        caller: Option<&Actor>,
        code: &str,
        password: Option<Zeroizing<String>>,
        mint_token: bool,
    ) -> Result<Accepted> {
        if !tokens::well_formed_with(tokens::INVITATION_PREFIX, code) {
            return Err(unknown_code());
        }
        let inv = self
            .catalog
            .invitation(&tokens::hash(code))
            .await
            .map_err(|e| Error::catalog(e, || "invitation".into()))?
            .ok_or_else(unknown_code)?;
        let now = Timestamp::now();
        if !inv.pending(now) {
            return Err(Error::Gone(format!(
                "this invitation to `{}` was already used, revoked or has expired; ask for a new one",
                inv.name
            )));
        }
        let org = self
            .catalog
            .org_by_id(inv.org)
            .await
            .map_err(|e| Error::catalog(e, unknown_code_text))?;
        let name = inv.name.clone();
        let (invitee, person) = match self.catalog.user_by_name(&name).await {
            Ok(u) if u.kind == IdentityKind::Operator => {
                return Err(operator_is_never_a_member(&name));
            }
            Ok(u) => {
                match caller {
                    Some(a) if a.user == u.id => {}
                    Some(a) => {
                        return Err(Error::Forbidden(format!(
                            "this invitation is for `{name}`, and you are signed in as `{}`; `{name}` must accept it",
                            a.name
                        )));
                    }
                    None => {
                        return Err(Error::Unauthenticated(format!(
                            "`{name}` already has an account: accept this invitation signed in as `{name}` (run `coffer invite accept` with COFFER_TOKEN set to one of {name}'s tokens, or open the link while signed in)"
                        )));
                    }
                }
                if password.is_some() {
                    return Err(Error::InvalidInput(format!(
                        "`{name}` already has an account and keeps its password; accept without one (change it with `coffer passwd`)"
                    )));
                }
                (Invitee::Existing(u.id), u)
            }
            Err(CatalogError::NotFound) => {
                if let Some(a) = caller {
                    return Err(Error::Forbidden(format!(
                        "this invitation makes a new account `{name}`, and you are signed in as `{}`; accept it without signing in (no token, no session)",
                        a.name
                    )));
                }
                let u = UserRecord::person(name.clone(), now);
                (Invitee::New(u.clone()), u)
            }
            Err(e) => return Err(Error::catalog(e, || format!("user `{name}`"))),
        };
        let password = match password {
            Some(p) => {
                check_new_password(&p)?;
                Some(self.sign_in_guard.hash(p).await?)
            }
            None => None,
        };
        let token = mint_token.then(|| {
            let value = tokens::generate();
            let record = TokenRecord {
                id: TokenId::new(),
                hash: tokens::hash(&value),
                user: person.id,
                user_name: person.name.clone(),
                org: Some(org.id),
                name: "invitation".into(),
                created_at: now,
                expires_at: None,
                revoked_at: None,
            };
            (record, value)
        });
        let by = |action, details| {
            AuditDraft::new(
                org.id,
                Some(person.id),
                person.name.as_str(),
                action,
                person.name.as_str(),
                details,
            )
        };
        let mut audit = vec![by(
            "member.join",
            serde_json::json!({
                "role": inv.role,
                "invitation_id": inv.id.to_string(),
                "invited_by": inv.created_by,
                "new_person": matches!(invitee, Invitee::New(_)),
            }),
        )];
        if let Some((t, _)) = &token {
            audit.push(by(
                "token.create",
                serde_json::json!({"token_id": t.id.to_string(), "name": t.name}),
            ));
        }
        let acceptance = Acceptance {
            invitation: inv.id,
            invitee,
            password,
            token: token.as_ref().map(|(t, _)| t.clone()),
            at: now,
        };
        let member = self
            .catalog
            .accept_invitation(acceptance, audit)
            .await
            .map_err(|e| match e {
                CatalogError::Refused(_) => Error::Gone(format!(
                    "this invitation to `{name}` was already used, revoked or has expired; ask for a new one"
                )),
                CatalogError::AlreadyExists => Error::AlreadyExists(format!(
                    "`{name}` is already a member of org `{}`, or the name was just taken; ask for a new invitation",
                    org.slug
                )),
                other => Error::catalog(other, || "invitation".into()),
            })?;
        Ok(Accepted { member, org, token })
    }
}

fn unknown_code_text() -> String {
    "this invitation's org".into()
}
