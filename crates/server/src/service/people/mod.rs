//! People and what they may reach: who a bearer token belongs to ([`authenticate`]), who is a
//! member of an org and with which role ([`members`]), how someone joins ([`invitations`]), and
//! the credentials that belong to each identity ([`credentials`]: tokens, passwords, resets).
//!
//! The shape follows one invariant (docs/threat-model.md, "Identity and tenancy"): an org's
//! admins manage *memberships* in their org, never an identity's *credentials*. So there is no
//! use case here that takes another person's name and mints a token or sets a password: a
//! person's credentials come from their own acceptance of an invitation, their own password
//! change, their own token requests, or the operator's reset (which hands them a one-time code
//! and revokes everything else). Tokens an admin mints are for the org's service accounts. Each
//! use case asks [`crate::domain::policy::authorize`] before it acts; the catalog keeps the rules
//! that need a transaction (last owner, one use per code, no operator memberships).

mod authenticate;
mod credentials;
mod invitations;
mod members;

pub use credentials::TokenHolder;
pub use invitations::{Accepted, Invited, MAX_LIFETIME as MAX_CODE_LIFETIME};
pub use members::MemberRef;

use super::{Coffer, Error, Result};
use crate::catalog::{CatalogError, MemberRecord, OrgRecord};
use crate::domain::{IdentityKind, UserName};

impl Coffer {
    /// The member of `org` that `who` names: a person by name, or a service account of the org.
    /// Anything else (another org's people, the operator, no one) is *not a member*.
    async fn member_named(&self, org: &OrgRecord, who: &MemberRef) -> Result<MemberRecord> {
        let not_member = || match who {
            MemberRef::Person(name) => format!(
                "`{name}` is not a member of org `{}`; invite them with `coffer user invite {name} --org {}`",
                org.slug, org.slug
            ),
            MemberRef::Service(name) => format!(
                "org `{}` has no service account `{name}`; create it with `coffer service-account create {name} --org {}`",
                org.slug, org.slug
            ),
        };
        let user = match who {
            MemberRef::Person(name) => self.catalog.user_by_name(name).await,
            MemberRef::Service(name) => self.catalog.service_account(org.id, name).await,
        };
        let user = match user {
            Ok(u) if u.kind != IdentityKind::Operator => u,
            Ok(_) | Err(CatalogError::NotFound) => return Err(Error::NotFound(not_member())),
            Err(e) => return Err(Error::catalog(e, not_member)),
        };
        self.catalog
            .list_members(org.id)
            .await
            .map_err(|e| Error::catalog(e, || "members".into()))?
            .into_iter()
            .find(|m| m.user.id == user.id)
            .ok_or_else(|| Error::NotFound(not_member()))
    }
}

/// The sentence for a name that is the deployment's operator.
fn operator_is_never_a_member(name: &UserName) -> Error {
    Error::Conflict {
        code: "operator_not_a_member",
        message: format!(
            "`{name}` is the deployment's operator, which is never a member of an org; invite a person instead"
        ),
    }
}
