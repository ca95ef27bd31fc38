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
    group(ArgGroup::new("source").required(true).args(["object", "bucket", "dir"])),
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
    /// Open one envelope, as found in the org's bucket or the blob directory
    /// (`orgs/ORG/secrets/SECRET/vN-….cfr`).
    #[arg(long, value_name = "FILE")]
    pub object: Option<PathBuf>,
    /// Rebuild every secret of the org from this S3 bucket (its envelopes and their manifests),
    /// with the AWS SDK's default credentials (environment, profile, instance role).
    #[arg(long, value_name = "BUCKET")]
    pub bucket: Option<String>,
    /// Rebuild every secret of the org from a directory holding `orgs/` (`DATA_DIR/blobs`, or a
    /// copy of the bucket made with `aws s3 sync`).
    #[arg(long, value_name = "DIR", conflicts_with_all = ["region", "endpoint", "prefix"])]
    pub dir: Option<PathBuf>,
    /// The bucket's region (default: the kit's, when it names this bucket; else the SDK's).
    #[arg(long, value_name = "REGION", requires = "bucket")]
    pub region: Option<String>,
    /// An S3-compatible endpoint for the bucket (default: the kit's, when it names this bucket).
    #[arg(long, value_name = "URL", requires = "bucket")]
    pub endpoint: Option<String>,
    /// The key prefix of Coffer's objects in the bucket (default: the kit's, when it names this
    /// bucket).
    #[arg(long, value_name = "PREFIX", requires = "bucket")]
    pub prefix: Option<String>,
    /// With --bucket or --dir: write every version, not only each secret's latest.
    #[arg(long, conflicts_with = "object")]
    pub all_versions: bool,
    /// BYOK kits: an endpoint for AWS KMS (a VPC endpoint, or a test server) instead of AWS's.
    #[arg(long, value_name = "URL")]
    pub kms_endpoint: Option<String>,
    /// With --object: write the value to FILE (created with mode 0600, never over an existing
    /// file) instead of stdout. With --bucket or --dir: the directory to rebuild the org's secrets
    /// in (created with mode 0700; it must not exist or be empty).
    #[arg(long, value_name = "PATH", required_unless_present = "object")]
    pub out: Option<PathBuf>,
}

const RECOVER_EXAMPLES: &str = "\
Needs no server, no catalog and no token. Each envelope's header names its org, secret, version
and org-key version; the kit must be of that org. With --bucket or --dir, each secret's latest
version is written to OUT/SCOPE/NAME, named by the sealed manifest beside its envelope (versions
without one go to OUT/_unnamed/SECRET-ID), and OUT/index.json lists every version found. A BYOK
kit's org keys are unwrapped with KMS Decrypt using your own AWS credentials, which must be
allowed to use the org's keys (docs/operations.md).

Examples:
  coffer recover --kit acme-kit.age --identity kit-key.txt --bucket acme-secrets --out acme/
  coffer recover --kit acme-kit.age --passphrase --dir /var/lib/coffer/blobs --out acme/
  coffer recover --kit acme-kit.age --identity kit-key.txt \\
      --object blobs/orgs/…/secrets/…/v1-….cfr --out value.bin";
