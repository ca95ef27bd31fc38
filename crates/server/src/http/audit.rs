//! `/api/v1/orgs/{org}/audit…`: list events and verify the chain (with `against_bucket`, also
//! against the copy in the org's own bucket).

use super::error::ApiError;
use super::extract::{Caller, Path, Query};
use super::{AppState, convert};
use crate::catalog::AuditFilter;
use crate::domain::OrgSlug;
use axum::Json;
use axum::extract::State;
use coffer_api as api;
use std::sync::Arc;

/// Query of the audit list.
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
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
    /// Only events about this target, e.g. a secret's `OPS-123/db-password` or a group's
    /// `group:dba`.
    target: Option<String>,
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
        target: q.target.filter(|t| !t.is_empty()),
    };
    let events = s
        .coffer
        .audit_events(&actor, &OrgSlug::parse(&org)?, filter)
        .await?;
    Ok(Json(api::AuditList {
        events: events.iter().map(convert::audit).collect(),
    }))
}

/// Query of the verification.
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VerifyQuery {
    /// A checkpoint kept from an earlier verification, as `N:HEAD` (its number and head hash in
    /// hex): the verification fails unless the catalog still has that checkpoint, and the chain
    /// still has that event with that hash.
    expect: Option<String>,
    /// Also compare the catalog with the audit copy in the org's own bucket (orgs with custom
    /// storage) and name the first divergence.
    #[serde(default)]
    against_bucket: bool,
}

#[utoipa::path(get, path = "/api/v1/orgs/{org}/audit/verify", params(("org" = String, Path), VerifyQuery),
    responses((status = 200, body = api::AuditVerification), (status = 400, body = api::ErrorBody), (status = 401, body = api::ErrorBody), (status = 403, body = api::ErrorBody), (status = 404, body = api::ErrorBody), (status = 409, body = api::ErrorBody, description = "`against_bucket` for an org without a bucket of its own"), (status = 503, body = api::ErrorBody, description = "the org's bucket or checkpoint key cannot be reached")))]
pub async fn verify(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path(org): Path<String>,
    Query(q): Query<VerifyQuery>,
) -> Result<Json<api::AuditVerification>, ApiError> {
    let expect = q.expect.as_deref().map(parse_expect).transpose()?;
    let mut v = s
        .coffer
        .verify_audit(&actor, &OrgSlug::parse(&org)?)
        .await?;
    if let Some((n, head)) = expect
        && v.checkpoint_failure.is_none()
    {
        let kept = v.latest.as_ref().map_or(0, |(c, _)| c.n);
        let found = s
            .coffer
            .audit_checkpoint(&actor, &OrgSlug::parse(&org)?, n)
            .await?;
        v.checkpoint_failure = match found {
            None => Some(format!(
                "the checkpoint {n} you kept is gone (the newest is {kept}): checkpoints and the events after it were removed"
            )),
            Some(c) if c.head != head => Some(format!(
                "checkpoint {n} no longer vouches for the head you kept: it was replaced"
            )),
            Some(_) => None,
        };
    }
    let bucket = if q.against_bucket {
        Some(
            s.coffer
                .verify_audit_bucket(&actor, &OrgSlug::parse(&org)?)
                .await?,
        )
    } else {
        None
    };
    let chain = &v.chain;
    let mut message = match (&chain.failure, &v.checkpoint_failure) {
        (Some((seq, why)), _) => format!(
            "audit chain broken at event {seq}: {why} ({} events before it verified)",
            chain.events
        ),
        (None, Some(why)) => format!("audit trail truncated or rewritten: {why}"),
        (None, None) => format!(
            "audit chain intact: {} events and {} signed checkpoints verified",
            chain.events, v.checkpoints
        ),
    };
    if let Some(b) = &bucket {
        message = match &b.problem {
            Some(p) => format!(
                "{message}; the bucket copy at {} diverges — {p}",
                b.location
            ),
            None => format!(
                "{message}; the bucket copy at {} ({}) matches: {} objects, {} events{}",
                b.location,
                if b.object_lock {
                    "Object Lock on"
                } else {
                    "no Object Lock"
                },
                b.objects,
                b.events,
                match b.catalog_checkpoints.saturating_sub(b.copied_through) {
                    0 => String::new(),
                    n => format!(" ({n} newer checkpoints not copied yet)"),
                }
            ),
        };
    }
    let bucket_ok = bucket.as_ref().is_none_or(|b| b.problem.is_none());
    Ok(Json(api::AuditVerification {
        ok: v.ok() && bucket_ok,
        events: chain.events,
        head: hex::encode(chain.head),
        first_bad_seq: chain.failure.map(|f| f.0),
        checkpoints_verified: v.checkpoints,
        checkpoint_problem: v.checkpoint_failure.clone(),
        checkpoint: v.latest.as_ref().map(|(c, key)| api::AuditCheckpoint {
            n: c.n,
            seq: c.seq,
            head: hex::encode(c.head),
            at: c.at.to_datetime(),
            key_version: c.key_version,
            prev: hex::encode(c.prev),
            signature: hex::encode(&c.signature),
            public_key: hex::encode(key),
        }),
        bucket: bucket.map(|b| api::AuditBucketCopy {
            ok: b.problem.is_none(),
            location: b.location,
            object_lock: b.object_lock,
            objects: b.objects,
            events: b.events,
            copied_through: b.copied_through,
            catalog_checkpoints: b.catalog_checkpoints,
            problem: b.problem,
        }),
        message,
    }))
}

fn parse_expect(s: &str) -> Result<(u64, [u8; 32]), ApiError> {
    let bad = || {
        ApiError(crate::service::Error::InvalidInput(
            "expect must be N:HEAD — a checkpoint's number and head hash (64 hex digits) from an earlier `audit verify`".into(),
        ))
    };
    let (n, head) = s.split_once(':').ok_or_else(bad)?;
    let n = n.parse().map_err(|_| bad())?;
    let head: [u8; 32] = hex::decode(head)
        .ok()
        .and_then(|h| h.try_into().ok())
        .ok_or_else(bad)?;
    Ok((n, head))
}
