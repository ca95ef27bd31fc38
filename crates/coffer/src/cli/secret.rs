//! Arguments of `coffer secret …`. There is deliberately no way to pass a value on the command
//! line (it would land in shell history and `ps`): `put` reads stdin or `--file`.

use clap::{Args, Subcommand, ValueEnum};
use std::path::PathBuf;

/// `coffer secret …`.
#[derive(Subcommand)]
pub enum SecretCommand {
    /// Store a new version of a secret; the value is read from stdin (or --file), never argv.
    ///
    /// On a terminal the value is prompted for without echo. For kind `password` (the default
    /// for new secrets) one trailing newline is stripped, so `echo s3cret | coffer secret put …`
    /// stores `s3cret`.
    Put(PutArgs),
    /// Print a secret's value: exactly its bytes on stdout, or into --out (mode 0600).
    Get {
        #[command(flatten)]
        target: Target,
        /// Reveal this version instead of the current one.
        #[arg(long, value_name = "N")]
        version: Option<u32>,
        /// Write the value to this file (created with mode 0600) instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// List secrets (metadata only) of an issue (OPS-123), a project (OPS), or the whole org.
    List {
        /// Issue key (OPS-123) or project key (OPS) [default: every secret of the org].
        scope: Option<String>,
        /// Only names starting with this.
        #[arg(long, value_name = "P")]
        prefix: Option<String>,
        /// Include soft-deleted secrets.
        #[arg(long)]
        deleted: bool,
    },
    /// Show a secret's versions, newest first.
    History {
        #[command(flatten)]
        target: Target,
    },
    /// Soft-delete a secret (restorable with `coffer secret restore`).
    Rm {
        #[command(flatten)]
        target: Target,
    },
    /// Restore a soft-deleted secret.
    Restore {
        #[command(flatten)]
        target: Target,
    },
    /// Erase every version of a secret for good. Irreversible: requires --yes.
    Destroy {
        #[command(flatten)]
        target: Target,
        /// Confirm that the secret and all its versions are to be erased irreversibly.
        #[arg(long)]
        yes: bool,
    },
    /// Share a secret with a person, service account or group (again: a new level).
    Share {
        #[command(flatten)]
        target: Target,
        /// `user:NAME`, `svc:NAME` or `group:NAME`.
        #[arg(long, value_name = "PRINCIPAL")]
        with: String,
        /// What it gives.
        #[arg(long, value_enum)]
        level: crate::cli::LevelArg,
    },
    /// Stop sharing a secret with a person, service account or group.
    Unshare {
        #[command(flatten)]
        target: Target,
        /// `user:NAME`, `svc:NAME` or `group:NAME`.
        #[arg(long, value_name = "PRINCIPAL")]
        with: String,
    },
    /// Restrict a secret to its shares: project and issue grants and admins' roles no longer
    /// reach it. Someone must hold a `manage` share first.
    Restrict {
        #[command(flatten)]
        target: Target,
    },
    /// Lift a secret's restriction.
    Unrestrict {
        #[command(flatten)]
        target: Target,
    },
    /// Show who can see a secret, with what access, and why.
    Access {
        #[command(flatten)]
        target: Target,
    },
}

/// Which secret: scope plus name.
#[derive(Args)]
pub struct Target {
    /// Issue key (OPS-123) or project key (OPS) the secret is attached to.
    pub scope: String,
    /// Secret name, e.g. db-password.
    pub name: String,
}

impl Target {
    /// `OPS-123/db-password`, as messages show it.
    pub fn display(&self) -> String {
        format!("{}/{}", self.scope, self.name)
    }
}

/// `coffer secret put`.
#[derive(Args)]
pub struct PutArgs {
    #[command(flatten)]
    pub target: Target,
    /// Read the value from this file instead of stdin (kind defaults to `file`).
    #[arg(long, value_name = "PATH")]
    pub file: Option<PathBuf>,
    /// What the value is [default: the existing secret's kind; `password` for a new one].
    #[arg(long, value_enum)]
    pub kind: Option<KindArg>,
    /// Only write if the current version is N (0 = the secret must not exist yet).
    #[arg(long, value_name = "N")]
    pub expect_version: Option<u32>,
    /// Make the secret unavailable after this long, e.g. `7d`.
    #[arg(long, value_name = "DURATION", value_parser = crate::cli::parse_duration)]
    pub expires_in: Option<std::time::Duration>,
    /// Make the secret unavailable after this time (RFC 3339, e.g. 2030-01-31T00:00:00Z).
    #[arg(long, value_name = "TIME", conflicts_with = "expires_in", value_parser = parse_rfc3339)]
    pub expires_at: Option<time::OffsetDateTime>,
    /// Allow at most N reveals in total.
    #[arg(long, value_name = "N")]
    pub view_limit: Option<u32>,
    /// Create the secret restricted: only its shares give access to it, not project or issue
    /// grants and not admins' roles. You get `manage` on it; share it with
    /// `coffer secret share`.
    #[arg(long)]
    pub restricted: bool,
    /// Seal the value here (envelope format v1, with a one-time data key from the server) and
    /// upload only the envelope; the server verifies it before it becomes the new version.
    #[arg(long)]
    pub client_side: bool,
}

/// A secret kind as typed on the command line.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KindArg {
    /// One line of text (a trailing newline is stripped).
    Password,
    /// Free text.
    Note,
    /// A JSON object of string keys to string values.
    Kv,
    /// Arbitrary bytes.
    File,
}

fn parse_rfc3339(s: &str) -> Result<time::OffsetDateTime, String> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map_err(|e| format!("{e} (expected RFC 3339, e.g. 2030-01-31T00:00:00Z)"))
}
