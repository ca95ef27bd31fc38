//! Arguments of `coffer org storage …`: where an org's envelopes are stored (the seed's custom
//! S3 bucket) — the setup documents, saving a bucket (validated first), going back to the
//! default store, and watching existing secrets move.

use clap::Subcommand;

/// `coffer org storage …`.
#[derive(Subcommand)]
pub enum OrgStorageCommand {
    /// Print what to apply to the bucket first: the bucket policy for Coffer's principal, the
    /// CORS rule for Coffer's origin, and the `aws s3api` commands that do both.
    Setup {
        /// Org slug [default: --org].
        slug: Option<String>,
        /// The bucket to prepare.
        #[arg(long)]
        bucket: String,
        /// Its region [default: the first region of the org's location].
        #[arg(long)]
        region: Option<String>,
    },
    /// Store the org's secrets in this bucket. Coffer validates it first (region, residency,
    /// put/get/delete of a probe object) and changes nothing if a step fails; existing secrets
    /// then move in the background (shown as a progress bar unless --no-wait).
    Set {
        /// Org slug [default: --org].
        slug: Option<String>,
        /// Bucket name.
        #[arg(long)]
        bucket: String,
        /// The bucket's region, e.g. eu-central-1.
        #[arg(long)]
        region: String,
        /// Endpoint of an S3-compatible store (https://…), if not AWS.
        #[arg(long, value_name = "URL")]
        endpoint: Option<String>,
        /// Key prefix inside the bucket, e.g. coffer/prod.
        #[arg(long)]
        prefix: Option<String>,
        /// Return once saved, without waiting for existing secrets to move.
        #[arg(long)]
        no_wait: bool,
    },
    /// Store the org's secrets in the deployment's default store again (they move back).
    Reset {
        /// Org slug [default: --org].
        slug: Option<String>,
        /// Return at once, without waiting for existing secrets to move.
        #[arg(long)]
        no_wait: bool,
    },
    /// Show where the org's secrets are stored and how far a move has got.
    Show {
        /// Org slug [default: --org].
        slug: Option<String>,
        /// Follow a running move with a progress bar until it finishes.
        #[arg(long)]
        watch: bool,
    },
}
