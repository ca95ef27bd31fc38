//! `/api/v1/orgs/{org}/audit…`: list events and verify the chain.

use super::error::ApiError;
use super::extract::{Caller, Query};
use super::{AppState, convert};
use crate::catalog::AuditFilter;
use crate::domain::OrgSlug;
use axum::Json;
use axum::extract::{Path, State};
use coffer_api as api;
use std::sync::Arc;

/// Query of the audit list.
#[derive(serde::Deserialize, utoipa::IntoParams)]
pub struct AuditQuery {
    /// Only events after this sequence number.
    #[serde(default)]
    after: u64,
    /// At most this many (default 100).
    limit: Option<u32>,
    /// Only this action, e.g. `secret.reveal`.
    action: Option<String>,
    /// Only this actor name.
    actor: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/orgs/{org}/audit", params(("org" = String, Path), AuditQuery), responses((status = 200, body = api::AuditList)))]
pub async fn list(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path(org): Path<String>,
    Query(q): Query<AuditQuery>,
) -> Result<Json<api::AuditList>, ApiError> {
    let filter = AuditFilter {
        after_seq: q.after,
        limit: q.limit.unwrap_or(100),
        action: q.action,
        actor: q.actor,
    };
    let events = s
        .coffer
        .audit_events(&actor, &OrgSlug::parse(&org)?, filter)
        .await?;
    Ok(Json(api::AuditList {
        events: events.iter().map(convert::audit).collect(),
    }))
}

#[utoipa::path(get, path = "/api/v1/orgs/{org}/audit/verify", params(("org" = String, Path)), responses((status = 200, body = api::AuditVerification)))]
pub async fn verify(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path(org): Path<String>,
) -> Result<Json<api::AuditVerification>, ApiError> {
    let v = s
        .coffer
        .verify_audit(&actor, &OrgSlug::parse(&org)?)
        .await?;
    let message = match v.failure {
        None => format!("audit chain intact: {} events verified", v.events),
        Some((seq, why)) => format!(
            "audit chain broken at event {seq}: {why} ({} events before it verified)",
            v.events
        ),
    };
    Ok(Json(api::AuditVerification {
        ok: v.failure.is_none(),
        events: v.events,
        head: hex::encode(v.head),
        first_bad_seq: v.failure.map(|f| f.0),
        message,
    }))
}
