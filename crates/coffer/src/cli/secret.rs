//! Arguments of `coffer secret …`. There is deliberately no way to pass a value on the command
//! line (it would land in shell history and `ps`): `put` reads stdin or `--file`, or generates
//! the value itself (`--generate`).

use clap::{Args, Subcommand, ValueEnum};
use std::path::PathBuf;

/// `coffer secret …`.
#[derive(Subcommand)]
pub enum SecretCommand {
    /// Store a new version of a secret; the value is read from stdin (or --file), never argv,
    /// or generated (--generate).
    ///
    /// On a terminal the value is prompted for without echo. For kind `password` (the default
    /// for new secrets) one trailing newline is stripped, so `echo s3cret | coffer secret put …`
    /// stores `s3cret`. With --generate the value comes from the operating system's random
    /// number generator, each character drawn uniformly from the charset; stdin is not read, and
    /// the value is not printed unless --show is given.
    Put(PutArgs),
    /// Print a secret's value: exactly its bytes on stdout, or into --out (mode 0600), or onto
    /// the clipboard (--copy).
    ///
    /// With --copy the value goes to the clipboard instead of stdout, and coffer stays in the
    /// foreground: after 30 s, or at once on Ctrl-C, it clears the clipboard if it still holds
    /// the value (something copied meanwhile is left alone). On Linux this needs a graphical
    /// session (X11, or Wayland with the data-control protocol); without one coffer says so and
    /// reveals nothing.
    Get {
        #[command(flatten)]
        target: Target,
        /// Reveal this version instead of the current one.
        #[arg(long, value_name = "N")]
        version: Option<u32>,
        /// Write the value to this file (created with mode 0600) instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Put the value on the clipboard instead of stdout; cleared after 30 s or on Ctrl-C.
        #[arg(long, conflicts_with = "out")]
        copy: bool,
    },
    /// Make a one-time link to a secret for someone without a Coffer account.
    ///
    /// The value is revealed (audited), sealed here under a fresh key, and only the sealed copy
    /// is sent; the key goes into the link's `#` fragment, which browsers never send, so Coffer
    /// cannot open the copy. Prints the link; whoever opens it in a browser sees the value, at
    /// most --views times until --expires. Every opening is audited. Secrets with a view limit
    /// cannot be linked.
    Link(super::share::LinkArgs),
    /// Ask someone without a Coffer account for a secret: prints a one-time page to send them.
    ///
    /// Their browser encrypts the value to a key of this request before sending it, and it is
    /// stored as a new version of the secret (created if needed), written as you. You need the
    /// right to write the secret, then and when the value arrives.
    Request(super::share::RequestArgs),
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
    #[command(flatten)]
    pub generate: GenerateArgs,
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

/// `secret put --generate` and its options.
#[derive(Args)]
pub struct GenerateArgs {
    /// Generate a random value instead of reading stdin or --file (kind `password`, or the
    /// existing secret's).
    #[arg(long, conflicts_with = "file")]
    pub generate: bool,
    /// With --generate: the number of characters, 8 to 4096 [default: 32].
    #[arg(long, value_name = "N", requires = "generate")]
    pub length: Option<u32>,
    /// With --generate: the characters to draw from [default: alnum].
    #[arg(long, value_enum, value_name = "SET", requires = "generate")]
    pub charset: Option<Charset>,
    /// With --generate: draw from exactly these characters instead (at least 2 different ones;
    /// repeats are ignored), e.g. `--charset-chars 'abcdef0123456789'`.
    #[arg(
        long,
        value_name = "CHARS",
        requires = "generate",
        conflicts_with = "charset"
    )]
    pub charset_chars: Option<String>,
    /// With --generate: also print the generated value on stdout once it is stored.
    #[arg(long, requires = "generate")]
    pub show: bool,
}

/// A named character set of `--generate`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, ValueEnum)]
pub enum Charset {
    /// A-Z, a-z and 0-9 (62 characters, ~5.95 bits each).
    Alnum,
    /// alnum plus `!#%&()*+,-./:;<=>?@[]^_{|}~` (89 characters; no quotes, backslash, `$`, backtick
    /// or space, which break shell and .env quoting).
    AlnumSymbols,
    /// 0-9 and a-f.
    Hex,
    /// A-Z, a-z, 0-9, `-` and `_` (URL- and filename-safe).
    Base64url,
    /// 0-9.
    Digits,
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
