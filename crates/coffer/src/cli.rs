//! The command-line surface: clap derive structs for the global options and every subcommand.
//! Nothing here does I/O; `commands::*` act on the parsed values. Secret values never appear
//! here: they come from stdin or a file, never from argv.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use uuid::Uuid;

pub mod keys;
pub mod secret;
pub mod storage;

use crate::client::ApiToken;
pub use keys::{AdminCommand, OrgKeysCommand, SetupDocument};
pub use secret::{KindArg, SecretCommand};
pub use storage::OrgStorageCommand;

/// Coffer: team secrets attached to issue keys (`OPS-123`), stored as ciphertext.
///
/// `coffer serve` runs the server; every other command talks to it over HTTP.
#[derive(Parser)]
#[command(
    name = "coffer",
    version,
    max_term_width = 100,
    after_help = EXAMPLES
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

const EXAMPLES: &str = "\
Examples:
  coffer serve                                    # first start writes ./coffer-data/admin.token
  printf %s 's3cret' | coffer secret put OPS-123 db-password
  coffer secret get OPS-123 db-password
  coffer run --issue OPS-123 -- ./deploy.sh       # secrets as env vars, e.g. DB_PASSWORD";

/// Options every client command understands.
#[derive(Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// Base URL of the Coffer server.
    #[arg(
        long,
        global = true,
        env = "COFFER_ADDR",
        default_value = "http://127.0.0.1:8420",
        hide_env_values = true
    )]
    pub addr: String,

    /// API token. If neither this nor COFFER_TOKEN is set, ./coffer-data/admin.token is read
    /// when it exists (the token `coffer serve` writes on first start).
    #[arg(long, global = true, env = "COFFER_TOKEN", hide_env_values = true)]
    pub token: Option<ApiToken>,

    /// Slug of the org to act in.
    #[arg(
        long,
        global = true,
        env = "COFFER_ORG",
        default_value = "default",
        hide_env_values = true
    )]
    pub org: String,

    /// Print the server's raw JSON responses instead of human-readable tables.
    #[arg(long, global = true)]
    pub json: bool,
}

/// The subcommands.
#[derive(Subcommand)]
pub enum Command {
    /// Run the Coffer server in the foreground (until Ctrl-C / SIGTERM).
    Serve(ServeArgs),
    /// Manage organizations (tenants).
    #[command(subcommand)]
    Org(OrgCommand),
    /// Manage the members of an org.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Store, reveal and manage secrets.
    #[command(subcommand)]
    Secret(SecretCommand),
    /// Read and verify the org's hash-chained audit trail.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Run a command with an issue's secrets as environment variables.
    Run(RunArgs),
    /// Show who the token belongs to.
    Whoami,
    /// Deployment-wide views (operator only).
    #[command(subcommand)]
    Admin(AdminCommand),
}

/// `coffer serve`.
#[derive(Args)]
pub struct ServeArgs {
    /// Config file [default: ./coffer.toml if it exists].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Directory for the database, blobs and admin.token (overrides the config file).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Address to listen on, e.g. 127.0.0.1:8420 (port 0 picks a free port).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
}

/// `coffer org …`.
#[derive(Subcommand)]
pub enum OrgCommand {
    /// Create an org (deployment operator only).
    Create {
        /// URL-safe identifier, e.g. `beta`.
        slug: String,
        /// Display name [default: the slug].
        #[arg(long)]
        name: Option<String>,
        /// Data-residency location, fixed for the org's lifetime: `local`, `eu`, `us`, or one
        /// the operator configured [default: local].
        #[arg(long, value_name = "LOCATION", value_parser = parse_location)]
        location: Option<coffer_api::Location>,
    },
    /// List the orgs visible to the token.
    List,
    /// Show one org [default: --org].
    Show {
        /// Org slug.
        slug: Option<String>,
    },
    /// Rotate the org key: new writes use a new key version, older versions still decrypt.
    RotateKey {
        /// Org slug [default: --org].
        slug: Option<String>,
    },
    /// Who holds the org's root keys: BYOK setup, enable, status, probe.
    #[command(subcommand)]
    Keys(OrgKeysCommand),
    /// Where the org's encrypted secrets are stored: its own S3 bucket or the default store.
    #[command(subcommand)]
    Storage(OrgStorageCommand),
}

/// Parses a location name (`local`, `eu`, `us`, …).
pub fn parse_location(s: &str) -> Result<coffer_api::Location, String> {
    coffer_api::Location::parse(s)
}

/// `coffer user …`.
#[derive(Subcommand)]
pub enum UserCommand {
    /// Add a user to the org (creating it if new) or change its role.
    Add {
        /// User name, e.g. `bob`.
        name: String,
        /// Role in the org.
        #[arg(long, value_enum)]
        role: RoleArg,
    },
    /// List the org's members.
    List,
    /// Set a user's web UI password (yours, or, as an admin, a member's). Prompts twice on a
    /// terminal, else reads one line from stdin; never from the command line.
    Passwd {
        /// User name, e.g. `bob`.
        name: String,
    },
}

/// A role as typed on the command line.
#[derive(Clone, Copy, ValueEnum)]
pub enum RoleArg {
    /// Everything, including managing owners and rotating the org key.
    Owner,
    /// Members, tokens, destroy and org settings, plus member rights.
    Admin,
    /// Reads and writes secrets.
    Member,
    /// Reads the audit trail and secret metadata, never values.
    Auditor,
}

/// `coffer token …`.
#[derive(Subcommand)]
pub enum TokenCommand {
    /// Create an API token; its value is printed alone on stdout, details on stderr.
    Create {
        /// User the token acts as [default: the caller].
        #[arg(long)]
        user: Option<String>,
        /// Label shown in listings, e.g. `ci`.
        #[arg(long)]
        name: Option<String>,
        /// Lifetime, e.g. `30d`, `12h` [default: never expires].
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        expires_in: Option<std::time::Duration>,
    },
    /// List the org's tokens (never their values).
    List,
    /// Revoke a token by id.
    Revoke {
        /// Token id (from `coffer token list`).
        id: Uuid,
    },
}

/// `coffer audit …`.
#[derive(Subcommand)]
pub enum AuditCommand {
    /// List audit events in chain order.
    List {
        /// Only events after this sequence number.
        #[arg(long, value_name = "SEQ")]
        after: Option<u64>,
        /// At most this many events.
        #[arg(long, value_name = "N")]
        limit: Option<u32>,
        /// Only this action, e.g. `secret.reveal`.
        #[arg(long, value_name = "ACTION")]
        action: Option<String>,
        /// Only events by this user.
        #[arg(long, value_name = "USER")]
        actor: Option<String>,
    },
    /// Verify the hash chain; exits 0 when intact, 1 otherwise.
    Verify,
}

/// `coffer run`.
#[derive(Args)]
pub struct RunArgs {
    /// Issue whose secrets to export, e.g. OPS-123.
    #[arg(long, value_name = "ISSUE")]
    pub issue: String,
    /// Also export the project's secrets (OPS for OPS-123); the issue's win on name clashes.
    #[arg(long)]
    pub project: bool,
    /// The command to run, after `--`.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<std::ffi::OsString>,
}

/// Parses `30d`, `12h`, `90s` (humantime syntax).
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("{e} (examples: 30d, 12h, 15m)"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn clap_definition_is_consistent() {
        <super::Cli as clap::CommandFactory>::command().debug_assert();
    }
}
