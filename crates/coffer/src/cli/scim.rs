//! Arguments of `coffer org scim token …`: the tokens an org's identity provider presents at
//! `/scim/v2` to provision the org's people and groups (docs/scim.md).

use clap::Subcommand;
use uuid::Uuid;

/// `coffer org scim …`.
#[derive(Subcommand)]
pub enum OrgScimCommand {
    /// The tokens the org's identity provider presents at /scim/v2: create, list, revoke.
    #[command(subcommand)]
    Token(OrgScimTokenCommand),
}

/// `coffer org scim token …`.
#[derive(Subcommand)]
pub enum OrgScimTokenCommand {
    /// Create a SCIM token for the org's identity provider (owners); its value is printed alone
    /// on stdout, details and the SCIM base URL on stderr.
    ///
    /// The value is shown only once (Coffer keeps only its SHA-256): give it to the identity
    /// provider as the bearer token, with the base URL <addr>/scim/v2, e.g.
    /// `TOKEN=$(coffer org scim token create okta)`.
    Create {
        /// Label shown in listings and the audit trail, e.g. `okta`.
        name: String,
        /// Org slug [default: --org].
        slug: Option<String>,
    },
    /// List the org's SCIM tokens (admins; never their values).
    List {
        /// Org slug [default: --org].
        slug: Option<String>,
    },
    /// Revoke a SCIM token by id (owners, or the operator when no owner is at hand); the next
    /// request with it is refused.
    Revoke {
        /// SCIM token id (from `coffer org scim token list`).
        id: Uuid,
        /// Org slug [default: --org].
        slug: Option<String>,
    },
}
