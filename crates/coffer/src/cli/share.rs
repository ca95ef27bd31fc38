//! Arguments of sharing with people outside Coffer (docs/links-and-requests.md): `coffer secret
//! link` and `coffer secret request` make them, `coffer link …` and `coffer request …` list and
//! revoke them.

use super::secret::Target;
use clap::{Args, Subcommand};
use std::time::Duration;

/// A link's or request's lifetime: 1 minute to 30 days, checked before anything is revealed.
fn share_lifetime(s: &str) -> Result<Duration, String> {
    let d = super::parse_duration(s)?;
    if d < Duration::from_secs(60) || d > Duration::from_secs(30 * 24 * 3600) {
        return Err(format!("{s} is out of range: give 1m to 30d"));
    }
    Ok(d)
}

/// `coffer secret link OPS-123 db-password`.
#[derive(Args)]
pub struct LinkArgs {
    #[command(flatten)]
    pub target: Target,
    /// How long the link opens (1m to 30d; never past the secret's own expiry).
    #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = share_lifetime)]
    pub expires: Duration,
    /// How many times it opens (1 to 100).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub views: u32,
    /// Copy this version instead of the current one.
    #[arg(long, value_name = "N")]
    pub version: Option<u32>,
}

/// `coffer secret request OPS-123 vendor-api-key`.
#[derive(Args)]
pub struct RequestArgs {
    #[command(flatten)]
    pub target: Target,
    /// How long the request accepts a value (1m to 30d).
    #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = share_lifetime)]
    pub expires: Duration,
    /// What to send, shown to them on the page (up to 500 characters).
    #[arg(long, value_name = "TEXT", default_value = "")]
    pub note: String,
}

/// `coffer link …`.
#[derive(Subcommand)]
pub enum LinkCommand {
    /// List your one-time links (every member's, for admins and owners).
    List,
    /// Revoke a one-time link: it stops opening and its copy is deleted.
    Revoke {
        /// The link's id (the part of its URL after /l/).
        id: String,
    },
}

/// `coffer request …`.
#[derive(Subcommand)]
pub enum RequestCommand {
    /// List your requests for a secret (every member's, for admins and owners).
    List,
    /// Withdraw a request that has not been answered.
    Revoke {
        /// The request's id (the part of its URL after /r/).
        id: String,
    },
}
