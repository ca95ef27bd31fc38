//! Arguments of `coffer org recovery-kit` and `coffer recover` (docs/operations.md "Recovery from
//! the bucket alone"). Like a backup, the kit's key is an age recipient or a passphrase, and a
//! passphrase or password is prompted for (or read from a file or stdin), never taken from argv.

use clap::{ArgGroup, Args};
use std::path::PathBuf;

/// `coffer org recovery-kit`.
#[derive(Args)]
#[command(
    group(ArgGroup::new("key").required(true).args(["recipients", "passphrase", "passphrase_file"])),
    after_help = KIT_EXAMPLES
)]
pub struct RecoveryKitArgs {
    /// Org slug [default: --org].
    pub slug: Option<String>,
    /// The kit to write: created with mode 0600, never over an existing file.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Encrypt to this age recipient (`age1pq1…` from `age-keygen -pq`, or a classic `age1…`);
    /// repeat for several.
    #[arg(long = "recipient", value_name = "RECIPIENT")]
    pub recipients: Vec<String>,
    /// Encrypt with a passphrase: prompted twice without echo on a terminal, else the first line
    /// of stdin (your current password is then the next line).
    #[arg(long)]
    pub passphrase: bool,
    /// Encrypt with the passphrase in FILE (its first line).
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
}

const KIT_EXAMPLES: &str = "\
Owners only. Asks for your current Coffer password (on a terminal without echo, else a line of
stdin). The kit holds every org-key version of the org (for a BYOK org: the keys wrapped by its
KMS keys): with the kit, the org's envelopes open without Coffer. Keep it like the master key.

Examples:
  coffer org recovery-kit --out acme-kit.age --recipient age1pq1…
  coffer org recovery-kit acme --out acme-kit.age --passphrase";

/// `coffer recover`.
#[derive(Args)]
#[command(
    group(ArgGroup::new("key").required(true).args(["identity", "passphrase", "passphrase_file"])),
    after_help = RECOVER_EXAMPLES
)]
pub struct RecoverArgs {
    /// The recovery kit `coffer org recovery-kit` wrote.
    #[arg(long, value_name = "FILE")]
    pub kit: PathBuf,
    /// An age identity file (`AGE-SECRET-KEY-…` lines, as `age-keygen` writes) holding the key of
    /// a recipient the kit was encrypted to.
    #[arg(long, value_name = "FILE")]
    pub identity: Option<PathBuf>,
    /// The kit is encrypted with a passphrase: prompt for it without echo on a terminal, else read
    /// the first line of stdin.
    #[arg(long)]
    pub passphrase: bool,
    /// Read the kit's passphrase from FILE (its first line).
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
    /// One envelope, as found in the org's bucket or the blob directory
    /// (`orgs/ORG/secrets/SECRET/vN-….cfr`).
    #[arg(long, value_name = "FILE")]
    pub object: PathBuf,
    /// Write the value to FILE (created with mode 0600, never over an existing file) instead of
    /// stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

const RECOVER_EXAMPLES: &str = "\
Works offline: no server, no catalog, no token. The envelope's header names its org, secret,
version and org-key version; the kit must be of that org. Names are not in the bucket: a value is
known by its object key's secret id and version. Kits of BYOK orgs are refused for now (their org
keys need the org's KMS keys: docs/operations.md).

Examples:
  coffer recover --kit acme-kit.age --identity kit-key.txt \\
      --object blobs/orgs/…/secrets/…/v1-….cfr --out value.bin
  coffer recover --kit acme-kit.age --passphrase --object v2-….cfr";
