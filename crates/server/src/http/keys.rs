//! `/api/v1/orgs/{org}/keys…` and `/api/v1/admin/byok`: an org's key settings (BYOK). Thin like
//! every handler: parse, call one service method, convert the [`KeysView`] to the wire type.
//! Errors by meaning come from the service: 400 for a bad request or a failed validation step
//! (code names the step), 409 for what cannot be done (turning BYOK off, another location, an org
//! without regions), 503 when AWS cannot be reached (nothing changed), 404 for other orgs.

use super::AppState;
use super::error::ApiError;
use super::extract::{Body, Caller, Path};
use crate::catalog::ProbeResult;
use crate::domain::{OrgSlug, Timestamp};
use crate::service::{KeysView, SetKeys};
use axum::Json;
use axum::extract::State;
use coffer_api as api;
use std::sync::Arc;

type R<T> = Result<T, ApiError>;

fn probe(p: &ProbeResult) -> api::KeyProbe {
    api::KeyProbe {
        at: p.at.to_datetime(),
        state: p.state.clone(),
        ok: p.ok,
        problem: p.problem.clone(),
    }
}

/// The wire form of an org's key view.
pub fn view(v: &KeysView) -> api::OrgKeys {
    api::OrgKeys {
        org: v.org.slug.to_string(),
        org_id: v.org.id.as_uuid(),
        location: v.org.location.clone(),
        provider: v.settings.provider,
        external_id: v.settings.external_id.to_string(),
        role_arn: v.settings.role_arn.as_ref().map(|r| r.to_string()),
        byok_since: v.settings.byok_since.map(Timestamp::to_datetime),
        keys: v
            .settings
            .keys
            .iter()
            .map(|k| api::RegionKeyStatus {
                region: k.region.to_string(),
                key_arn: k.key_arn.to_string(),
                last_probe: k.last_probe.as_ref().map(probe),
            })
            .collect(),
        status: v.org.status,
        suspended_reason: v.org.suspended_reason.clone(),
        key_versions: v.org.key_version,
        kms_calls: v
            .kms_calls
            .iter()
            .map(|(operation, outcome, count)| api::KmsCallCount {
                operation: (*operation).into(),
                outcome: (*outcome).into(),
                count: *count,
            })
            .collect(),
    }
}

#[utoipa::path(get, path = "/api/v1/orgs/{org}/keys/setup", params(("org" = String, Path)),
    responses((status = 200, body = api::KeySetup), (status = 404, body = api::ErrorBody), (status = 409, body = api::ErrorBody)))]
pub async fn setup(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path(org): Path<String>,
) -> R<Json<api::KeySetup>> {
    let slug = OrgSlug::parse(&org)?;
    Ok(Json(s.coffer.key_setup(&actor, &slug).await?))
}

#[utoipa::path(get, path = "/api/v1/orgs/{org}/keys", params(("org" = String, Path)),
    responses((status = 200, body = api::OrgKeys), (status = 404, body = api::ErrorBody)))]
pub async fn show(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path(org): Path<String>,
) -> R<Json<api::OrgKeys>> {
    let slug = OrgSlug::parse(&org)?;
    Ok(Json(view(&s.coffer.org_keys(&actor, &slug).await?)))
}

#[utoipa::path(put, path = "/api/v1/orgs/{org}/keys", params(("org" = String, Path)), request_body = api::SetOrgKeysRequest,
    responses((status = 200, body = api::OrgKeys), (status = 400, body = api::ErrorBody), (status = 409, body = api::ErrorBody),
        (status = 503, body = api::ErrorBody)))]
pub async fn set(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path(org): Path<String>,
    Body(req): Body<api::SetOrgKeysRequest>,
) -> R<Json<api::OrgKeys>> {
    let slug = OrgSlug::parse(&org)?;
    let req = SetKeys {
        provider: req.provider,
        role_arn: req.role_arn,
        keys: req
            .keys
            .into_iter()
            .map(|k| (k.region, k.key_arn))
            .collect(),
    };
    Ok(Json(view(
        &s.coffer.set_org_keys(&actor, &slug, req).await?,
    )))
}

#[utoipa::path(delete, path = "/api/v1/orgs/{org}/keys", params(("org" = String, Path)),
    responses((status = 200, body = api::OrgKeys), (status = 409, body = api::ErrorBody)))]
pub async fn disable(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path(org): Path<String>,
) -> R<Json<api::OrgKeys>> {
    let slug = OrgSlug::parse(&org)?;
    Ok(Json(view(&s.coffer.keep_local(&actor, &slug).await?)))
}

#[utoipa::path(post, path = "/api/v1/orgs/{org}/keys/check", params(("org" = String, Path)),
    responses((status = 200, body = api::OrgKeys), (status = 404, body = api::ErrorBody), (status = 503, body = api::ErrorBody)))]
pub async fn check(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path(org): Path<String>,
) -> R<Json<api::OrgKeys>> {
    let slug = OrgSlug::parse(&org)?;
    Ok(Json(view(&s.coffer.check_org_keys(&actor, &slug).await?)))
}

#[utoipa::path(get, path = "/api/v1/admin/byok",
    responses((status = 200, body = api::ByokOrgList), (status = 403, body = api::ErrorBody)))]
pub async fn admin_list(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
) -> R<Json<api::ByokOrgList>> {
    let orgs = s.coffer.byok_orgs(&actor).await?;
    Ok(Json(api::ByokOrgList {
        orgs: orgs.iter().map(view).collect(),
    }))
}
