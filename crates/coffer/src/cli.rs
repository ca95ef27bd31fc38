//! The command-line surface: clap derive structs for the global options and every subcommand.
//! Nothing here does I/O; `commands::*` act on the parsed values. Secret values never appear
//! here: they come from stdin or a file, never from argv.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use uuid::Uuid;

pub mod access;
pub mod backup;
pub mod jira;
pub mod keys;
pub mod recovery;
pub mod scim;
pub mod secret;
pub mod share;
pub mod sso;
pub mod storage;
pub mod transfer;
pub mod webhook;

use crate::client::ApiToken;
pub use access::{GrantCommand, GroupCommand, LevelArg};
pub use backup::{BackupArgs, RestoreArgs};
pub use jira::{JiraCommand, OrgJiraCommand};
pub use keys::{AdminCommand, OrgKeysCommand, SetupDocument};
pub use recovery::{RecoverArgs, RecoveryKitArgs};
pub use scim::{OrgScimCommand, OrgScimTokenCommand};
pub use secret::{KindArg, SecretCommand};
pub use share::{LinkCommand, RequestCommand};
pub use sso::{LoginArgs, OrgSsoCommand};
pub use storage::OrgStorageCommand;
pub use transfer::{ExportArgs, ExportFormat, ImportArgs};
pub use webhook::OrgWebhookCommand;

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
  coffer serve                                    # first start writes coffer-data/*.token
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

    /// API token. If neither this nor COFFER_TOKEN is set, the operator's commands (org create,
    /// user add, user reset, operator, admin) read ./coffer-data/operator.token, which `coffer
    /// serve` writes on first start; the others use the token of `coffer login` when it is for
    /// this --addr (and --org, if given) and has not expired, else ./coffer-data/admin.token.
    #[arg(long, global = true, env = "COFFER_TOKEN", hide_env_values = true)]
    pub token: Option<ApiToken>,

    /// Slug of the org to act in [default: the org of `coffer login` when its token is used,
    /// else `default`].
    #[arg(long, global = true, env = "COFFER_ORG", hide_env_values = true)]
    pub org: Option<String>,

    /// Print the server's raw JSON responses instead of human-readable tables.
    #[arg(long, global = true)]
    pub json: bool,

    /// PEM file of a CA certificate (or several) to trust besides the system's: for a server
    /// whose certificate a private CA signed.
    #[arg(
        long,
        global = true,
        env = "COFFER_CA_CERT",
        value_name = "FILE",
        hide_env_values = true
    )]
    pub ca_cert: Option<PathBuf>,
}

/// The subcommands.
#[derive(Subcommand)]
pub enum Command {
    /// Run the Coffer server in the foreground (until Ctrl-C / SIGTERM).
    Serve(ServeArgs),
    /// Manage organizations (tenants).
    #[command(subcommand)]
    Org(OrgCommand),
    /// Manage the members of an org: invitations, roles, removal.
    #[command(subcommand)]
    User(UserCommand),
    /// Accept an invitation to an org.
    #[command(subcommand)]
    Invite(InviteCommand),
    /// Manage the org's service accounts (non-human identities for automation).
    #[command(subcommand, name = "service-account")]
    ServiceAccount(ServiceAccountCommand),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Change your own password (prompts; never on the command line), or set a new one with a
    /// reset code from the operator.
    Passwd(PasswdArgs),
    /// Sign in with the org's single sign-on in a browser; later commands use its token.
    ///
    /// Opens (or prints, with --no-browser) a URL of the server at --addr for org --org [default:
    /// the org of the previous login to this server, else `default`]; after the sign-in at the
    /// org's OpenID provider the browser returns to a port on 127.0.0.1 this command listens on.
    /// The resulting 12-hour token is stored, readable by you only, in credentials.json in
    /// $COFFER_CONFIG_DIR, else $XDG_CONFIG_HOME/coffer, else ~/.config/coffer; it replaces any
    /// earlier login (whose token is revoked). It is never printed.
    Login(LoginArgs),
    /// Revoke the token of `coffer login` and remove it from this machine.
    Logout,
    /// The operator's own tokens (deployment-wide; operator only).
    #[command(subcommand)]
    Operator(OperatorCommand),
    /// Store, reveal and manage secrets.
    #[command(subcommand)]
    Secret(SecretCommand),
    /// Manage the org's groups of members.
    #[command(subcommand)]
    Group(GroupCommand),
    /// Grant access to every secret of a project, an issue or the org.
    #[command(subcommand)]
    Grant(GrantCommand),
    /// List and revoke one-time links to secrets (made with `coffer secret link`).
    #[command(subcommand)]
    Link(LinkCommand),
    /// List and withdraw requests for a secret (made with `coffer secret request`).
    #[command(subcommand)]
    Request(RequestCommand),
    /// Read and verify the org's hash-chained audit trail.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Your Jira account in an org linked to Jira: link it, see or remove the link, and ask
    /// what Jira says about you and an issue (docs/jira.md).
    #[command(subcommand)]
    Jira(JiraCommand),
    /// Run a command with an issue's secrets as environment variables (or in a file it reads).
    ///
    /// Each secret becomes a variable named after it, upper-cased, with every character outside
    /// `[A-Z0-9_]` turned into `_` (`db-password` → `DB_PASSWORD`); each key of a `kv` secret
    /// becomes its own variable (`smtp` with key `user` → `SMTP_USER`). View-limited, expired and
    /// binary secrets are skipped with a note on stderr. The command's exit code is coffer's.
    ///
    /// For a tool that reads its secrets from a file: with `--format dotenv|json --out FILE` the
    /// same variables are written to FILE instead of the environment. FILE is created with mode
    /// 0600 and must not exist yet; coffer waits for the command and deletes FILE when it exits,
    /// also after Ctrl-C (SIGTERM and SIGHUP are passed on to the command). To write a file and
    /// keep it, use `coffer export`.
    #[command(
        override_usage = "coffer run [OPTIONS] --issue <ISSUE> -- <CMD>...",
        after_help = RUN_EXAMPLES
    )]
    Run(RunArgs),
    /// Import secrets into an issue from a .env, JSON, Vault KV or Bitwarden export file.
    ///
    /// The whole file is checked first (syntax, names, duplicates, empty values); a bad file is
    /// refused naming the line or entry, and nothing is written. Source keys become secret names
    /// lower-cased, with `_` and spaces turned into `-` (`DB_PASSWORD` → `db-password`). Values
    /// are never printed. See docs/import-export.md.
    Import(ImportArgs),
    /// Write an issue's secrets to stdout as .env or JSON (each value is revealed, and audited).
    ///
    /// Names become keys upper-cased, with `-` and `.` turned into `_` (`db-password` →
    /// `DB_PASSWORD`). Refuses to write to a terminal without --force. File secrets and
    /// view-limited ones are skipped with a note on stderr. See docs/import-export.md.
    Export(ExportArgs),
    /// Show who the token belongs to.
    Whoami,
    /// Deployment-wide views (operator only).
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Write an encrypted backup of the whole deployment (operator only; embedded catalog).
    ///
    /// The server snapshots its SQLite catalog while it keeps serving and streams the snapshot,
    /// the master key and every envelope the snapshot references; this command encrypts the
    /// stream with age as it arrives, so nothing is written to disk in plaintext. Envelopes in an
    /// org's own bucket are not copied: the output names those orgs, whose bucket its owners back
    /// up. See docs/operations.md.
    Backup(BackupArgs),
    /// Restore a backup of `coffer backup` into a new data directory, offline, and verify it.
    Restore(RestoreArgs),
    /// Open one envelope from an org's bucket or blob directory with the org's recovery kit,
    /// offline (no server, no catalog).
    Recover(RecoverArgs),
    /// Print the shell completion script for coffer (bash, zsh, fish or PowerShell).
    #[command(after_help = COMPLETIONS_INSTALL)]
    Completions(CompletionsArgs),
}

const RUN_EXAMPLES: &str = "\
Examples:
  coffer run --issue OPS-123 -- ./deploy.sh
  coffer run --issue OPS-123 --format dotenv --out .env -- ./tool --env-file .env";

const COMPLETIONS_INSTALL: &str = "\
Install (once; open a new shell afterwards):
  bash:        coffer completions bash > ~/.local/share/bash-completion/completions/coffer
  zsh:         coffer completions zsh > ~/.zfunc/_coffer
               (and in ~/.zshrc, before compinit: fpath=(~/.zfunc $fpath))
  fish:        coffer completions fish > ~/.config/fish/completions/coffer.fish
  PowerShell:  coffer completions powershell >> $PROFILE";

/// `coffer completions`.
#[derive(Args)]
pub struct CompletionsArgs {
    /// The shell to print the script for.
    #[arg(value_enum)]
    pub shell: ShellArg,
}

/// A shell `coffer completions` writes a script for.
#[derive(Clone, Copy, PartialEq, Eq, Debug, ValueEnum)]
pub enum ShellArg {
    /// GNU Bash (with the bash-completion package).
    Bash,
    /// Z shell.
    Zsh,
    /// fish.
    Fish,
    /// PowerShell (Windows PowerShell 5.1 or PowerShell 7).
    Powershell,
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
        /// Invite this person as the org's first owner; prints the invitation code for them.
        #[arg(long, value_name = "USER")]
        owner: Option<String>,
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
    /// Write the org's recovery kit, encrypted with age: its org keys, id and storage, so its
    /// envelopes open from the bucket alone (owners only; asks for your password).
    RecoveryKit(RecoveryKitArgs),
    /// Who holds the org's root keys: BYOK setup, enable, status, probe.
    #[command(subcommand)]
    Keys(OrgKeysCommand),
    /// Where the org's encrypted secrets are stored: its own S3 bucket or the default store.
    #[command(subcommand)]
    Storage(OrgStorageCommand),
    /// Single sign-on through the org's OpenID provider: show, set up, disable.
    #[command(subcommand)]
    Sso(OrgSsoCommand),
    /// SCIM provisioning: the org's identity provider creates, updates and removes its people
    /// and groups at /scim/v2 with a SCIM token (docs/scim.md).
    #[command(subcommand)]
    Scim(OrgScimCommand),
    /// Webhooks: Coffer POSTs the org's events (secrets revealed or expiring, members added, the
    /// org suspended, …) to an HTTPS endpoint as signed JSON (docs/webhooks.md).
    #[command(subcommand)]
    Webhook(OrgWebhookCommand),
    /// Jira: link the org to a Jira site so that people see an issue's secrets only if Jira lets
    /// them browse the issue; check the link and find orphaned issues (docs/jira.md).
    #[command(subcommand)]
    Jira(OrgJiraCommand),
}

/// Parses a location name (`local`, `eu`, `us`, …).
pub fn parse_location(s: &str) -> Result<coffer_api::Location, String> {
    coffer_api::Location::parse(s)
}

/// `coffer user …`.
#[derive(Subcommand)]
pub enum UserCommand {
    /// Invite a person (new, or with an account elsewhere) to the org; prints the one-time code
    /// alone on stdout for them to accept with `coffer invite accept`.
    Invite {
        /// User name, e.g. `bob`.
        name: String,
        /// Role they get (at most your own).
        #[arg(long, value_enum)]
        role: RoleArg,
        /// How long the invitation lasts, e.g. `7d`, `12h` [default: 7 days; at most 30].
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        expires_in: Option<std::time::Duration>,
    },
    /// List the org's invitations (pending, and those that ended in the last 30 days).
    Invitations,
    /// Revoke a pending invitation by id.
    Uninvite {
        /// Invitation id (from `coffer user invitations`).
        id: Uuid,
    },
    /// Add an existing person to the org without an invitation (operator only).
    Add {
        /// User name, e.g. `bob`.
        name: String,
        /// Role in the org.
        #[arg(long, value_enum)]
        role: RoleArg,
    },
    /// List the org's members (people and service accounts).
    List,
    /// Change a member's role (never above your own).
    Role {
        /// User name.
        name: String,
        /// The new role.
        #[arg(value_enum)]
        role: RoleArg,
    },
    /// Remove a member: their tokens and sessions in this org stop working at once.
    Rm {
        /// User name.
        name: String,
    },
    /// Reset a person's credentials (operator only): revokes every token, session and the
    /// password, and prints a one-time code they redeem with `coffer passwd --reset-code`.
    Reset {
        /// User name.
        name: String,
        /// How long the code lasts, e.g. `24h` [default: 24h; at most 30 days].
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        expires_in: Option<std::time::Duration>,
    },
}

/// `coffer invite …`.
#[derive(Subcommand)]
pub enum InviteCommand {
    /// Accept an invitation. A new person sets their password here (prompted twice; on a pipe,
    /// one line of stdin); someone with an account accepts with their own token (COFFER_TOKEN).
    /// Prints the new token for the org alone on stdout.
    Accept {
        /// The code (`coffer_i_…`) from the person who invited you; it works once.
        code: String,
        /// Do not set a password (a new person then signs in with tokens only).
        #[arg(long)]
        no_password: bool,
    },
}

/// `coffer service-account …`.
#[derive(Subcommand)]
pub enum ServiceAccountCommand {
    /// Create a service account with a role (auditor, member or admin; at most your own).
    /// Mint its tokens with `coffer token create --service-account NAME`.
    Create {
        /// Name, unique in the org, e.g. `ci`.
        name: String,
        /// Its role.
        #[arg(long, value_enum)]
        role: RoleArg,
    },
    /// Change a service account's role.
    Role {
        /// Name.
        name: String,
        /// The new role.
        #[arg(value_enum)]
        role: RoleArg,
    },
    /// Remove a service account: its tokens stop working at once.
    Rm {
        /// Name.
        name: String,
    },
}

/// `coffer passwd`.
#[derive(Args)]
pub struct PasswdArgs {
    /// Redeem this reset code from the operator instead of signing in (sets a new password).
    #[arg(long, value_name = "CODE")]
    pub reset_code: Option<String>,
    /// With --reset-code: also print a new token for this org (one of yours).
    #[arg(long = "token-for", value_name = "ORG", requires = "reset_code")]
    pub token_for: Option<String>,
}

/// `coffer operator …`.
#[derive(Subcommand)]
pub enum OperatorCommand {
    /// The operator's own tokens.
    #[command(subcommand)]
    Token(OperatorTokenCommand),
}

/// `coffer operator token …`.
#[derive(Subcommand)]
pub enum OperatorTokenCommand {
    /// Create another operator token; its value is printed alone on stdout.
    Create {
        /// Label shown in listings.
        #[arg(long)]
        name: Option<String>,
        /// Lifetime, e.g. `30d` [default: never expires].
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        expires_in: Option<std::time::Duration>,
    },
    /// List the operator's tokens.
    List,
    /// Revoke an operator token by id.
    Revoke {
        /// Token id.
        id: Uuid,
    },
}

/// A role as typed on the command line.
#[derive(Clone, Copy, ValueEnum)]
pub enum RoleArg {
    /// Everything, including managing owners, keys and storage.
    Owner,
    /// Every unrestricted secret, members up to admin, groups, grants, service accounts, destroy
    /// and org settings.
    Admin,
    /// Only the secrets its grants and shares give (`coffer grant`, `coffer secret share`).
    Member,
    /// The audit trail and secret metadata; values only where granted.
    Auditor,
}

/// `coffer token …`.
#[derive(Subcommand)]
pub enum TokenCommand {
    /// Create an API token — your own, or a service account's — scoped to the org; its value
    /// is printed alone on stdout, details on stderr.
    Create {
        /// Mint it for this service account of the org (admins) instead of yourself.
        #[arg(long, value_name = "NAME")]
        service_account: Option<String>,
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
        /// Only events about this secret: who revealed, wrote, shared it.
        #[arg(long, value_name = "SCOPE/NAME")]
        secret: Option<String>,
    },
    /// Verify the hash chain and its signed checkpoints; exits 0 when intact, 1 otherwise.
    /// Prints the newest checkpoint: keep it, and pass it to --expect later to prove nothing
    /// before it was removed or rewritten.
    Verify {
        /// A checkpoint kept from an earlier verification, `N:HEAD`.
        #[arg(long, value_name = "N:HEAD")]
        expect: Option<String>,
        /// Also compare with the audit copy in the org's own bucket (locked under S3 Object
        /// Lock where the bucket has it) and name the first divergence.
        #[arg(long)]
        against_bucket: bool,
    },
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
    /// Write the variables to --out in this format instead of the command's environment.
    #[arg(long, value_enum, value_name = "FORMAT", requires = "out")]
    pub format: Option<ExportFormat>,
    /// With --format: the file to write (mode 0600; it must not exist yet). It is deleted when
    /// the command exits.
    #[arg(long, value_name = "FILE", requires = "format")]
    pub out: Option<PathBuf>,
    /// The command to run, after `--`.
    // Required, but checked by `coffer run` itself rather than clap, so that the refusal can
    // point at `coffer export` for writing a file without running anything.
    #[arg(last = true, value_name = "CMD")]
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
