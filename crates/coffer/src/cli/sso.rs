//! Arguments of `coffer login` (single sign-on in a browser, ending on a loopback port), and of
//! `coffer org sso …` (the org's OpenID provider). The provider's client secret is never an
//! argument: `--client-secret-stdin` reads it from stdin (or a no-echo prompt on a terminal).

use clap::{Args, Subcommand};
use std::time::Duration;

/// `coffer login`.
#[derive(Args)]
pub struct LoginArgs {
    /// Only print the URL to open; do not try to open a browser.
    #[arg(long)]
    pub no_browser: bool,
    /// How long to wait for the sign-in to come back from the browser, e.g. `10m`.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = crate::cli::parse_duration)]
    pub timeout: Duration,
}

/// `coffer org sso …`.
#[derive(Subcommand)]
pub enum OrgSsoCommand {
    /// Show the org's OpenID provider settings and the redirect URI to register there (admins).
    Show {
        /// Org slug [default: --org].
        slug: Option<String>,
    },
    /// Set up or change the org's OpenID provider (owners). Coffer fetches the issuer's
    /// discovery document first and changes nothing if the provider is unusable.
    ///
    /// Register the redirect URI that `coffer org sso show` prints at the provider. The client
    /// secret is read from stdin with --client-secret-stdin (never from the command line);
    /// without it or --public-client a change keeps the stored secret.
    Set {
        /// Org slug [default: --org].
        slug: Option<String>,
        /// The provider's issuer URL, exactly as its discovery document names it.
        #[arg(long, value_name = "URL")]
        issuer: String,
        /// Coffer's client id at the provider.
        #[arg(long, value_name = "ID")]
        client_id: String,
        /// Read the client secret from stdin (prompted without echo on a terminal).
        #[arg(long, conflicts_with = "public_client")]
        client_secret_stdin: bool,
        /// Coffer is a public client at the provider (PKCE only): forget any stored secret.
        #[arg(long)]
        public_client: bool,
        /// The ID-token claim that lists the person's groups, e.g. `groups` [default: groups are
        /// not synced].
        #[arg(long, value_name = "NAME")]
        groups_claim: Option<String>,
        /// A first sign-in by a provider account not linked to anyone creates a person (a
        /// member) named after it.
        #[arg(long)]
        create_people: bool,
        /// The org's people must sign in through the provider (passwords are refused).
        #[arg(long)]
        require_sso: bool,
    },
    /// Remove the org's provider and every link to it; people sign in with passwords again
    /// (owners, or the operator as a break-glass).
    Disable {
        /// Org slug [default: --org].
        slug: Option<String>,
    },
}
