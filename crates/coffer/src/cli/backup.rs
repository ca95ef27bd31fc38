//! Arguments of `coffer backup` and `coffer restore` (docs/operations.md). The archive's key is
//! an age recipient or a passphrase; a passphrase is prompted for (or read from a file or
//! stdin), never taken from argv.

use clap::{ArgGroup, Args};
use std::path::PathBuf;

/// `coffer backup`.
#[derive(Args)]
#[command(
    group(ArgGroup::new("key").required(true).args(["recipients", "passphrase", "passphrase_file"])),
    after_help = BACKUP_EXAMPLES
)]
pub struct BackupArgs {
    /// The archive to write: created with mode 0600, never over an existing file.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Encrypt to this age recipient (`age1pq1…` from `age-keygen -pq`, or a classic `age1…`);
    /// repeat for several.
    #[arg(long = "recipient", value_name = "RECIPIENT")]
    pub recipients: Vec<String>,
    /// Encrypt with a passphrase: prompted twice without echo on a terminal, else the first line
    /// of stdin.
    #[arg(long)]
    pub passphrase: bool,
    /// Encrypt with the passphrase in FILE (its first line).
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
}

const BACKUP_EXAMPLES: &str = "\
Needs the operator's token (COFFER_TOKEN, --token, or ./coffer-data/operator.token) and a server
with the embedded SQLite catalog; on PostgreSQL use pg_dump (docs/operations.md). The archive
holds the master key only where the server's keys.master_key_in_backups is on; otherwise keep a
copy of the master key file apart from the archive (restore needs it with --master-key).

Examples:
  coffer backup --out coffer-$(date +%F).age --recipient age1pq1…
  coffer backup --out coffer.age --passphrase";

/// `coffer restore`.
#[derive(Args)]
#[command(
    group(ArgGroup::new("key").required(true).args(["identity", "passphrase", "passphrase_file"])),
    after_help = RESTORE_EXAMPLES
)]
pub struct RestoreArgs {
    /// The archive `coffer backup` wrote.
    #[arg(long, value_name = "FILE")]
    pub from: PathBuf,
    /// The data directory to restore into; must be missing or empty (created with mode 0700).
    #[arg(long, value_name = "DIR")]
    pub data_dir: PathBuf,
    /// An age identity file (`AGE-SECRET-KEY-…` lines, as `age-keygen` writes) holding the key of
    /// a recipient the archive was encrypted to.
    #[arg(long, value_name = "FILE")]
    pub identity: Option<PathBuf>,
    /// The archive is encrypted with a passphrase: prompt for it without echo on a terminal, else
    /// read the first line of stdin.
    #[arg(long)]
    pub passphrase: bool,
    /// Read the archive's passphrase from FILE (its first line).
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
    /// The server's master key file, for an archive that does not carry it (the default:
    /// keys.master_key_in_backups is off); the restore proves it opens every org key.
    #[arg(long, value_name = "FILE")]
    pub master_key: Option<PathBuf>,
}

const RESTORE_EXAMPLES: &str = "\
Works offline: no server is needed, and none may run on DIR. The archive is decrypted, unpacked
and verified (the catalog, every org's audit chain, every envelope's header) before the data is
moved into place; on any failure nothing is left in DIR. Then start `coffer serve --data-dir DIR`.

Examples:
  coffer restore --from coffer.age --data-dir /var/lib/coffer --identity backup-key.txt \
      --master-key /secure/master.key
  coffer restore --from coffer.age --data-dir ./coffer-data --passphrase";
