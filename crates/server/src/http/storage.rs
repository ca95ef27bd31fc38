//! `/api/v1/orgs/{org}/storage…`: where an org's envelopes are stored (the seed's custom S3
//! bucket). Thin like every handler. A save answers 200 with the seed's sentence, the warnings
//! and every validation step; a failed step is a 400 whose code names it
//! (`storage_residency`, `storage_bucket_missing`, `storage_wrong_region`, `storage_endpoint`,
//! `storage_probe_failed`) and whose message says the fix; nothing changes on any failure.
//! `GET` also shows the bucket's `health` as the background drift checks last recorded it.

use super::AppState;
use super::error::ApiError;
use super::extract::{Body, Caller, Path, Query};
use crate::catalog::{StorageHealth, StorageStatus};
use crate::domain::{AwsRegion, BucketName, KeyPrefix, OrgSlug};
use crate::service::{SetStorage, StorageState};
use axum::Json;
use axum::extract::State;
use coffer_api as api;
use std::sync::Arc;

type R<T> = Result<T, ApiError>;

/// The wire form of an org's storage.
pub fn view(s: &StorageState) -> api::StorageView {
    let p = &s.progress;
    let state = if !p.migrating && p.done == p.total {
        "idle"
    } else if s.last_error.is_some() {
        "failing"
    } else {
        "running"
    };
    let loc = s.location.as_ref();
    api::StorageView {
        org: s.org.slug.to_string(),
        kind: if loc.is_some() {
            api::StorageKind::Custom
        } else {
            api::StorageKind::Default
        },
        bucket: loc.map(|l| l.bucket.to_string()),
        region: loc.map(|l| l.region.to_string()),
        endpoint: loc.and_then(|l| l.endpoint.clone()),
        prefix: loc.and_then(|l| l.prefix.as_ref().map(|p| p.to_string())),
        saved_at: loc.map(|l| l.created_at.to_datetime()),
        saved_by: loc.map(|l| l.created_by.clone()),
        allowed_regions: s.allowed.iter().map(|r| r.to_string()).collect(),
        migration: api::MigrationProgress {
            state: state.into(),
            total: p.total,
            done: p.done,
            last_error: s.last_error.clone(),
        },
        health: loc.map(|_| health(s.health.as_ref())),
    }
}

/// The wire form of a bucket's recorded health (`None`: not checked yet).
fn health(h: Option<&StorageHealth>) -> api::StorageHealth {
    let Some(h) = h else {
        return api::StorageHealth {
            status: api::StorageHealthStatus::Unchecked,
            step: None,
            detail: None,
            since: None,
            checked_at: None,
            warnings: Vec::new(),
        };
    };
    api::StorageHealth {
        status: match h.status {
            StorageStatus::Ok => api::StorageHealthStatus::Ok,
            StorageStatus::Degraded => api::StorageHealthStatus::Degraded,
        },
        step: h.failure.as_ref().map(|f| f.step.clone()),
        detail: h.failure.as_ref().map(|f| f.detail.clone()),
        since: Some(h.since.to_datetime()),
        checked_at: Some(h.checked_at.to_datetime()),
        warnings: h
            .warnings
            .iter()
            .map(|w| api::StorageCheck {
                step: w.step.clone(),
                outcome: "warning".into(),
                detail: w.detail.clone(),
            })
            .collect(),
    }
}

#[utoipa::path(get, path = "/api/v1/orgs/{org}/storage", params(("org" = String, Path)),
    responses((status = 200, body = api::StorageView), (status = 404, body = api::ErrorBody)))]
pub async fn show(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path(org): Path<String>,
) -> R<Json<api::StorageView>> {
    let slug = OrgSlug::parse(&org)?;
    Ok(Json(view(&s.coffer.storage(&actor, &slug).await?)))
}

#[utoipa::path(put, path = "/api/v1/orgs/{org}/storage", params(("org" = String, Path)),
    request_body = api::SetStorageRequest,
    responses((status = 200, body = api::StorageSaved), (status = 400, body = api::ErrorBody),
        (status = 403, body = api::ErrorBody), (status = 503, body = api::ErrorBody)))]
pub async fn set(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path(org): Path<String>,
    Body(req): Body<api::SetStorageRequest>,
) -> R<Json<api::StorageSaved>> {
    let slug = OrgSlug::parse(&org)?;
    let endpoint = req
        .endpoint
        .map(|e| e.trim().to_owned())
        .filter(|e| !e.is_empty());
    let req = SetStorage {
        bucket: BucketName::parse(req.bucket.trim())?,
        region: AwsRegion::parse(req.region.trim())?,
        endpoint,
        prefix: match req.prefix {
            Some(p) => KeyPrefix::parse_optional(&p)?,
            None => None,
        },
    };
    let (checks, state) = s.coffer.set_storage(&actor, &slug, req).await?;
    Ok(Json(api::StorageSaved {
        message: api::STORAGE_SAVED.into(),
        warnings: checks
            .iter()
            .filter(|c| c.outcome == "warning")
            .map(|c| c.detail.clone())
            .collect(),
        checks,
        storage: view(&state),
    }))
}

#[utoipa::path(delete, path = "/api/v1/orgs/{org}/storage", params(("org" = String, Path)),
    responses((status = 200, body = api::StorageView), (status = 403, body = api::ErrorBody)))]
pub async fn reset(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path(org): Path<String>,
) -> R<Json<api::StorageView>> {
    let slug = OrgSlug::parse(&org)?;
    Ok(Json(view(&s.coffer.reset_storage(&actor, &slug).await?)))
}

/// Query of the setup endpoint.
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SetupQuery {
    /// The bucket to prepare.
    bucket: String,
    /// Its region (default: the first of the org's location).
    region: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/orgs/{org}/storage/setup", params(("org" = String, Path), SetupQuery),
    responses((status = 200, body = api::StorageSetup), (status = 400, body = api::ErrorBody),
        (status = 409, body = api::ErrorBody)))]
pub async fn setup(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path(org): Path<String>,
    Query(q): Query<SetupQuery>,
) -> R<Json<api::StorageSetup>> {
    let slug = OrgSlug::parse(&org)?;
    let bucket = BucketName::parse(q.bucket.trim())?;
    let region = q.region.as_deref().map(AwsRegion::parse).transpose()?;
    Ok(Json(
        s.coffer
            .storage_setup(&actor, &slug, &bucket, region.as_ref())
            .await?,
    ))
}
