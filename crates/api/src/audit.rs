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
    /// True when every event's hash and link checks out.
    pub ok: bool,
    /// Number of events checked.
    pub events: u64,
    /// Hash of the last event (the chain head).
    pub head: String,
    /// First sequence number that failed, when one did.
    pub first_bad_seq: Option<u64>,
    /// Sentence describing the result.
    pub message: String,
}
