//! Per-org storage (the seed's "custom S3 bucket"): the setup documents an admin applies to their
//! bucket, the request that points an org at it, the validation report that answers it, and the
//! progress of moving existing envelopes there. One module because these types are one flow:
//! setup → save (validate) → show / watch the migration.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

/// The sentence a successful save answers with (the seed's wording).
pub const STORAGE_SAVED: &str = "Your custom S3 settings have been saved and validated.";

/// `PUT /api/v1/orgs/{org}/storage`: store the org's envelopes in its own bucket.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetStorageRequest {
    /// Bucket name (3–63 characters: lowercase letters, digits, `-` and `.`).
    pub bucket: String,
    /// The bucket's AWS region; must belong to the org's location (`local` orgs: any region).
    pub region: String,
    /// Endpoint of an S3-compatible store (`https://…`). AWS's own endpoints are always allowed;
    /// others only when the operator sets `storage.allow_custom_endpoints = true`.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// Key prefix inside the bucket (e.g. `coffer/`); objects go under `PREFIX/orgs/…`.
    #[serde(default)]
    pub prefix: Option<String>,
}

/// Where an org's envelopes are written.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StorageView {
    /// Org slug.
    pub org: String,
    /// `default` (the deployment's store) or `custom` (the org's bucket).
    pub kind: StorageKind,
    /// The bucket, for `custom`.
    pub bucket: Option<String>,
    /// Its region, for `custom`.
    pub region: Option<String>,
    /// Custom endpoint, if any.
    pub endpoint: Option<String>,
    /// Key prefix, if any.
    pub prefix: Option<String>,
    /// When these settings were saved (validated).
    #[serde(with = "time::serde::rfc3339::option")]
    pub saved_at: Option<OffsetDateTime>,
    /// Who saved them.
    pub saved_by: Option<String>,
    /// Regions the org may store in (its location's), or empty for any (`local` orgs).
    pub allowed_regions: Vec<String>,
    /// Progress of moving existing envelopes into this storage.
    pub migration: MigrationProgress,
    /// For `custom`: what the background drift checks last saw of the bucket; `null` for
    /// `default`.
    #[serde(default)]
    pub health: Option<StorageHealth>,
}

/// What the background drift checks (every `storage.probe_interval`, on every node) last saw
/// of an org's bucket. A degraded bucket never suspends the org: writes keep trying it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StorageHealth {
    /// `ok`, `degraded` (a required step fails), or `unchecked` (not checked since it was
    /// saved, or the checks are off).
    pub status: StorageHealthStatus,
    /// While `degraded`: the failing step — `endpoint`, `bucket_exists`, `region`, `put`,
    /// `get`, `compare`, `delete` or `confirm_gone`.
    pub step: Option<String>,
    /// While `degraded`: what is wrong and what to do about it.
    pub detail: Option<String>,
    /// When the current status began.
    #[serde(with = "time::serde::rfc3339::option")]
    pub since: Option<OffsetDateTime>,
    /// When the bucket was last checked.
    #[serde(with = "time::serde::rfc3339::option")]
    pub checked_at: Option<OffsetDateTime>,
    /// What works but should be fixed (`cors`: no CORS rule for Coffer's origin;
    /// `object_lock`: Object Lock off, or a default retention rule), each with the fix; warnings
    /// never degrade the bucket.
    pub warnings: Vec<StorageCheck>,
}

/// The health of an org's bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum StorageHealthStatus {
    /// Every required step passed at the last check.
    Ok,
    /// A required step failed at the last check; see `step` and `detail`.
    Degraded,
    /// Not checked yet.
    Unchecked,
}

/// Kind of storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum StorageKind {
    /// The deployment's own blob store.
    Default,
    /// The org's own S3 bucket.
    Custom,
}

/// How far the org's existing envelopes are from all living in its current storage.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MigrationProgress {
    /// `idle` (everything is in place), `running`, or `failing` (retrying; see `last_error`).
    pub state: String,
    /// Secret versions of the org in total.
    pub total: u64,
    /// Of those, how many are already in the current storage.
    pub done: u64,
    /// The last failure while copying, with what to do about it.
    pub last_error: Option<String>,
}

/// `PUT …/storage` answer: the saved settings plus what the validation found.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StorageSaved {
    /// [`STORAGE_SAVED`].
    pub message: String,
    /// Things that work but should be fixed (no CORS rule for Coffer's origin, no default
    /// encryption, public access not blocked), each with the fix.
    pub warnings: Vec<String>,
    /// The probe's steps, in order, each `ok`.
    pub checks: Vec<StorageCheck>,
    /// The settings now in force.
    pub storage: StorageView,
}

/// One validation step and its outcome.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StorageCheck {
    /// Step name: `bucket_exists`, `region`, `residency`, `put`, `get`, `compare`, `delete`,
    /// `confirm_gone`, `cors`, `encryption`, `public_access`.
    pub step: String,
    /// `ok`, `warning` or `failed`.
    pub outcome: String,
    /// What was seen (and, unless `ok`, what to do).
    pub detail: String,
}

/// `GET /api/v1/orgs/{org}/storage/setup?bucket=B`: what to apply to the bucket first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StorageSetup {
    /// Org slug.
    pub org: String,
    /// The bucket the documents are for.
    pub bucket: String,
    /// Coffer's AWS principal that the bucket policy grants.
    pub coffer_principal: String,
    /// The origin browsers load Coffer from (the CORS rule allows it).
    pub public_origin: String,
    /// Regions the bucket may be in (empty: any).
    pub allowed_regions: Vec<String>,
    /// Bucket policy JSON: Get/Put/Delete on `arn:aws:s3:::B/*` for Coffer's principal.
    pub bucket_policy: serde_json::Value,
    /// CORS configuration JSON (as `aws s3api put-bucket-cors --cors-configuration` takes it).
    pub cors_configuration: serde_json::Value,
    /// The `aws s3api` commands that create and configure the bucket, in order.
    pub commands: Vec<String>,
    /// Each step in words.
    pub instructions: Vec<String>,
}
