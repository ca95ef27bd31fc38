//! The audit trail: hash-chained events per org.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

/// One audit event. Never contains secret values or raw tokens.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditEvent {
    /// Position in the org's chain, from 1.
    pub seq: u64,
    /// When it happened.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Acting user id, if the actor was authenticated.
    pub actor_id: Option<Uuid>,
    /// Acting user name (or `anonymous`).
    pub actor: String,
    /// What happened, e.g. `secret.reveal`.
    pub action: String,
    /// What it happened to, e.g. `OPS-123/db-password`.
    pub target: String,
    /// Extra facts (version numbers, roles, reasons).
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    /// Hex SHA-256 of the previous event (zeros for the first).
    pub prev_hash: String,
    /// Hex SHA-256 of this event.
    pub hash: String,
}

/// `GET /api/v1/orgs/{org}/audit`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditList {
    /// Events in chain order.
    pub events: Vec<AuditEvent>,
}

/// `GET /api/v1/orgs/{org}/audit/verify`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditVerification {
    /// True when every event's hash and link checks out and every signed checkpoint matches.
    pub ok: bool,
    /// Number of events checked.
    pub events: u64,
    /// Hash of the last event (the chain head).
    pub head: String,
    /// First sequence number that failed, when one did.
    pub first_bad_seq: Option<u64>,
    /// Signed checkpoints verified.
    pub checkpoints_verified: u64,
    /// What is wrong with the checkpoints (missing events, a rewritten event, a missing or
    /// forged checkpoint), when something is.
    pub checkpoint_problem: Option<String>,
    /// The newest checkpoint, signed by this verification if the chain grew: keep it, and pass
    /// it back as `expect` later to prove nothing before it was removed or rewritten.
    pub checkpoint: Option<AuditCheckpoint>,
    /// The comparison with the copy in the org's own bucket (`against_bucket=true` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket: Option<AuditBucketCopy>,
    /// Sentence describing the result (naming the first divergence from the bucket copy, when
    /// one was compared and differs).
    pub message: String,
}

/// How the catalog compares with the audit copy in the org's own bucket (docs/formats.md,
/// "Audit copy").
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditBucketCopy {
    /// True when every copy object checks out on its own and the catalog holds exactly what
    /// they hold.
    pub ok: bool,
    /// Where the copy is, `s3://bucket[/prefix]`.
    pub location: String,
    /// Whether the bucket has S3 Object Lock on (the copies are locked, COMPLIANCE mode).
    pub object_lock: bool,
    /// Copy objects (one per checkpoint) checked.
    pub objects: u64,
    /// Events those objects hold.
    pub events: u64,
    /// The highest checkpoint the catalog records as copied to this bucket.
    pub copied_through: u64,
    /// The catalog's newest checkpoint (those after `copied_through` are not copied yet).
    pub catalog_checkpoints: u64,
    /// The first divergence (missing object, catalog truncated, event rewritten or deleted,
    /// checkpoint replaced, bucket object altered), when there is one.
    pub problem: Option<String>,
}

/// A signed statement that event `seq` of the org's chain had hash `head` (docs/formats.md).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditCheckpoint {
    /// Its number among the org's checkpoints, from 1.
    pub n: u64,
    /// The event it vouches for.
    pub seq: u64,
    /// That event's hash (hex).
    pub head: String,
    /// When it was signed.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The org-key version whose derived key signed it.
    pub key_version: u32,
    /// The previous checkpoint's digest (hex).
    pub prev: String,
    /// Ed25519 signature (hex).
    pub signature: String,
    /// The Ed25519 public key that verifies it (hex).
    pub public_key: String,
}
